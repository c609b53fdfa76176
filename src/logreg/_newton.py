"""Newton's method for (multinomial / binary) logistic regression, and the seed's
gradient descent as a baseline.

Objective, in the layout of ``logreg._loss``::

    F(coef) = (C * sum_n w_n CE_n + 0.5 * ||coef[:, :d]||^2) / (C * S),   S = sum_n w_n

i.e. scikit-learn's objective divided by ``C * S``: the mean weighted
cross-entropy plus ``||coef||^2 / (2 C S)``.  Same minimizer, and a gradient
whose size does not grow with ``n``, so ``tol`` means the same on any data.
Unpenalized (``C = inf``): the mean weighted cross-entropy.

The data enter only through an oracle (``logreg._oracle`` documents the
interface): ``InMemoryOracle`` streams over in-memory row blocks,
``logreg._dask.DaskNewtonOracle`` maps over a cluster.  One loop serves both;
nothing of size ``n`` is kept between passes.

The loop (``NewtonSolver.solve``), one fixed order of named steps:

1. ``evaluate``   loss, gradient and Hessian at ``coef`` (from one statistics pass);
2. ``solve_step`` Newton step by Cholesky, damped visibly if the Hessian is singular;
3. ``converged``  max|gradient| <= tol and half the squared Newton decrement <= tol**2;
4. ``line_search`` the full step, verified by the next statistics pass; else one
                  pass for a ladder of step sizes (Armijo);
5. ``finish``     symmetric parametrization, diagnostics, warnings.

Stopping happens in step 3, *before* moving: the loss, gradient and Hessian
kept for statistical inference are those at the returned coefficients.

Softmax over-parametrization: adding the same vector to every class's
coefficients leaves the probabilities unchanged, so the data Hessian is
singular along ``N = (1_k (x) I) / sqrt(k)``.  Unpenalized columns are flat
there; penalized ones only have the penalty's curvature ``1/(C S)``, which
at large ``C`` drowns in the rounding of the data Hessian.  Both have their
optimum on the centred subspace ``N^T coef = 0`` (by convention, and because
the penalty is least there while the data term does not change), so the
multinomial solve stays on it: it starts centred, and solves
``(H + N diag(mu) N^T) s = -g`` over every column.  ``H`` maps ``N`` and its
complement into themselves and ``g`` is orthogonal to ``N`` on that
subspace, so this is exactly the Newton step within it, from one Cholesky,
no class dropped and no ``pinv``, for any ``C``.  ``mu_a``, the mean
curvature of column ``a`` over the classes, keeps the conditioning of H
whatever the units of the features.
"""
import time
import warnings

import numpy as np
import scipy.linalg

from . import _loss, _preconditioner
from ._exceptions import ConvergenceWarning, PerfectSeparationWarning, SingularHessianWarning
from ._kronecker import KroneckerNewtonSystem, cho_solve_vector

EPS = np.finfo(np.float64).eps
_FLOAT_MAX = np.finfo(np.float64).max
# The largest tol that means something: its square is still a float64.
TOL_MAX = 1e150

# Armijo sufficient-decrease constant (a small fraction of the predicted decrease).
ARMIJO = 1e-4
# Step halvings before the line search gives up (t down to ~1e-12).
MAX_HALVINGS = 40
# A Cholesky pivot with pivot**2 / H_aa below this means coordinate a is, to
# working precision, a linear combination of the others: treat H as singular.
PIVOT_RTOL = 1e-11
# Relative loss changes below this are rounding noise (cf. scikit-learn's 16 eps).
LOSS_NOISE = 16 * EPS
# Unpenalized fits: a Newton step still this large (relative to the
# coefficients) at the end means the optimum lies at infinity (separation).
SEPARATION_STEP_RTOL = 1e-4
# Unpenalized fits ask the oracle for a linear-programming separation
# certificate (``logreg._separation``) once the Hessian has been damped this
# often, or after this many Newton steps (a finite optimum takes 5-10).
SEPARATION_CHECK_DAMPED = 2
SEPARATION_CHECK_ITER = 15
# ... and at least this fraction of the step before it (under separation Newton's
# steps keep a constant size; towards a finite optimum they shrink quadratically).
SEPARATION_STEP_RATIO = 0.25

# Far from the optimum (half the last Newton decrement above SUBSAMPLED_DECREMENT)
# the exact Hessian buys little: the step is damped or overshoots anyway.  There
# the pass at the next iterate skips the pair products and the step uses a
# Hessian from a 1/8 row subsample (oracles with ``subsample_hessian``; relative
# error ~ sqrt(k p / rows), 0.1 at (1e5, 20, 5)).  The last iterations, and
# the convergence test, always use the exact Hessian.
SUBSAMPLED_DECREMENT = 1e-2

# Hessian-free Newton (oracles with ``prefers_hessian_free``): conjugate
# gradients on exact Hessian-vector products, preconditioned by the Cholesky
# factor of a cheap Hessian approximation (the exact Kronecker-structured
# Hessian at the start, later a row-subsampled Hessian whose pair products are
# float32 on the kernel's dgemm route: (8334, 100, 10) 48 -> 32 ms, the same CG
# iterations at (5e4, 100, 10)), refreshed when CG
# needed more than CG_REFRESH iterations -- KRONECKER_CG_REFRESH for the
# Kronecker one: exact only at zero slopes, it degrades fast once CG needs
# more than a couple of iterations (2, 3, then 7 products at (5e4, 100, 10)).
# Fits, passes and ms, KRONECKER_CG_REFRESH 6 / 2 / 1: (5e4, 100, 10) C=1
# 34 / 30 / 28, 208 / 190 / 182; C=0.05 198 / 183 / 175; unpenalized 591 /
# 557 / 603; (2e4, 200, 5) 306 / 288 / 287; (3e4, 60, 20) 172 / 160 / 171.
# CG stops at relative residual min(CG_RTOL_MAX, sqrt(max|g|)) (superlinear
# Newton) and after CG_MAX_ITER.
CG_REFRESH = 6
KRONECKER_CG_REFRESH = 2
CG_RTOL_MAX = 0.1
CG_RTOL_MIN = 1e-12
CG_MAX_ITER = 50
# The subsampled preconditioner is factored in float32 unless a pivot**2 falls
# below this times its diagonal (then float64): conditioning up to ~1e5 there.
# Measured at (5e4, 100, 10): fit 0.233 -> 0.223 s, the same 35 passes.
PRECONDITIONER_F32_PIVOT_RTOL = 1e-5

_POTRF = {np.dtype(np.float64): scipy.linalg.lapack.dpotrf,
          np.dtype(np.float32): scipy.linalg.lapack.spotrf}

HISTORY_FIELDS = ("iteration", "objective", "grad_max", "decrement", "step_size",
                  "damping", "seconds", "passes", "hessian")


class NewtonResult:
    """What a solve returns; see ``NewtonSolver.solve``."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class NewtonSolver:
    """Minimize ``F`` (module docstring) from ``coef0`` by damped Newton iterations.

    Parameters
    ----------
    oracle : the data (``logreg._oracle`` describes the interface): an
        ``InMemoryOracle`` or a ``logreg._dask.DaskNewtonOracle``.
    C : inverse penalty strength; ``np.inf`` for no penalty.
    tol : gradient tolerance on ``F``; the Newton decrement must reach ``tol**2``.
    max_iter : maximum number of Newton steps.
    verbose : print one line of diagnostics per iteration when > 0.
    """

    def __init__(self, oracle, *, C, tol, max_iter, verbose=0):
        self.oracle = oracle
        self.binary = oracle.binary
        self.fit_intercept = bool(oracle.fit_intercept)
        # tol**2 (the decrement's threshold) must stay finite; past TOL_MAX any
        # tol stops at the start alike
        self.C, self.tol, self.max_iter = C, min(tol, TOL_MAX), max_iter
        self.verbose = verbose

    # -- 0. set up ---------------------------------------------------------
    def setup(self, coef0):
        """Sets ``coef``, ``k``, ``p``, ``mask``, ``free``, and the first ``stats``
        (one pass), then ``scale`` (1/S) and ``l2`` (1/(C S))."""
        self.coef = np.array(coef0, dtype=np.float64)
        self.k, self.p = self.coef.shape
        if (self.k, self.p) != (self.oracle.k, self.oracle.p):
            raise ValueError(f"coef0 has shape {self.coef.shape}; the data need "
                             f"{(self.oracle.k, self.oracle.p)}.")
        self.penalized = np.isfinite(self.C)
        self.mask = _loss.penalty_mask(self.k, self.p, self.fit_intercept)
        # Columns along which the multinomial objective is flat, or nearly so (see
        # module docstring): all of them, the penalized ones too.
        self.free = [] if self.binary else list(range(self.p))
        if self.free:   # the optimum is centred: start there (the data term is unchanged)
            self.coef -= self.coef.mean(axis=0)
        self.history = []
        self.damped = []            # iterations at which the Hessian was damped
        self.line_search_failed = False
        self.t_start = time.perf_counter()
        self.passes_seen = self.oracle.n_passes
        self.hessian_free = bool(getattr(self.oracle, "prefers_hessian_free", False))
        self.preconditioner = None
        self.cg_iters = 0
        # zero slopes: every row has the same probabilities, and the Hessian is
        # exactly Kronecker-structured -- no pair products needed (``gram``)
        d = self.p - self.fit_intercept
        self.kronecker_start = (hasattr(self.oracle, "gram") and not np.any(self.coef[:, :d])
                                and not getattr(self.oracle, "exact_only", False)
                                and not (self.hessian_free
                                         and self._preconditioner_kind() == "diagonal"))
        self.gram = None
        self.gram_subsampled = False
        self.subsampled = False     # this iterate's Hessian comes from a row subsample
        self.stats = self.oracle.stats(
            self.coef, hessian=not (self.hessian_free or self.kronecker_start))
        S = check_sum_weights(self.oracle.sum_weights)
        self.sum_weights = S
        self.scale = 1.0 / S
        with np.errstate(over="ignore"):    # C S past FLOAT_MAX: l2 = 0, no penalty to speak of
            CS = self.C * S
        if self.penalized and not CS > 1.0 / _FLOAT_MAX:     # else 1 / (C S) overflows
            raise ValueError(
                f"C * sum(sample_weight) = {CS:.3g} is too small: the penalty outweighs "
                "the data by more than float64 can represent (every slope is 0 to working "
                "precision). Use a larger C, or larger sample weights.")
        self.l2 = 1.0 / CS if self.penalized else 0.0

    def _objective(self, data_loss, coef):
        return self.scale * data_loss + self.l2 * _loss.l2_penalty(coef, self.fit_intercept)

    # -- 1. loss, gradient, Hessian at coef ----------------------------------
    def evaluate(self):
        """From ``stats`` (the pass at ``coef``): sets ``data_loss_value``, ``pairs``,
        ``objective``, ``gradient``, ``hessian``."""
        L, G, self.pairs = self.stats
        self.data_loss_value = L
        self.objective = self._objective(L, self.coef)
        self.gradient = self.scale * G + self.l2 * self.mask * self.coef
        self.kronecker = None
        if self.pairs is None and self.kronecker_start:
            self.kronecker_start = False
            self.hessian_kind = "kronecker"
            self.kronecker = self._kronecker_system()
            if self.kronecker is not None:   # solve_step uses its structure
                self.hessian = None
                return
            H = self._kronecker_hessian()   # singular blocks: dense and damped
        elif self.pairs is None and self.subsampled:
            self.hessian_kind = "subsample"
            H = _check_finite_hessian(self.oracle.subsample_hessian(self.coef))
        elif self.pairs is None:        # Hessian-free iteration: see solve_step_cg
            self.hessian_kind, self.hessian = "cg", None
            return
        else:
            self.hessian_kind, H = "exact", self._data_hessian()
        H *= self.scale
        H.flat[::H.shape[0] + 1] += self.l2 * self.mask.ravel()    # the diagonal, no index arrays
        self.hessian = H

    def _data_hessian(self):
        """The data-term Hessian from this iterate's ``pairs``."""
        _check_finite_hessian(self.pairs)
        return self.oracle.hessian(self.pairs)

    def _kronecker_factors(self, subsample=False):
        """``(A, B)`` of the data-term Hessian at zero slopes, ``A (x) B``: ``A`` the
        softmax curvature ``diag(pi) - pi pi^T`` shared by every row, ``B`` the Gram
        matrix ``X~^T W X~`` (computed once; ``subsample``: from the oracle's row
        subsample, then recomputed from all rows when asked without)."""
        c = self.coef[:, -1] if self.fit_intercept else np.zeros(self.k)
        if self.binary:
            pi = 1.0 / (1.0 + np.exp(-c[0]))
            A = np.array([[pi * (1.0 - pi)]])
        else:
            pi = np.exp(c - c.max())
            pi /= pi.sum()
            A = np.diag(pi) - np.outer(pi, pi)
        if self.gram is None or self.gram_subsampled and not subsample:
            self.gram = _check_finite_hessian(self.oracle.gram(subsample=subsample))
            self.gram_subsampled = subsample
        return A, self.gram

    def _kronecker_hessian(self):
        """The dense data-term Hessian at zero slopes (``_kronecker_factors``)."""
        return np.kron(*self._kronecker_factors())

    def _kronecker_system(self):
        """The shifted, penalized Newton system at zero slopes, factorized through its
        Kronecker structure; None when a block is singular.

        When it only makes the first step, the Gram matrix comes from the row
        subsample (like the next, subsampled steps: (1e5, 20, 5) 2.0 -> 0.3 ms);
        from all rows when it also preconditions CG (measured with a subsampled
        one: 2 more CG products at (5e4, 100, 10) before KRONECKER_CG_REFRESH,
        mixed timings after) or when the subsample's is singular.
        """
        subsample = (not self.hessian_free
                     and getattr(self.oracle, "subsample_stride", 1) > 1)
        for from_subsample in (True, False) if subsample else (False,):
            A, B = self._kronecker_factors(from_subsample)
            try:
                return KroneckerNewtonSystem(A, B, scale=self.scale, l2=self.l2,
                                             penalized_columns=self.mask[0], free=self.free,
                                             pivot_rtol=PIVOT_RTOL)
            except np.linalg.LinAlgError:
                continue
        return None

    # -- 2. Newton step ------------------------------------------------------
    def _factor(self, H, pivot_rtol=PIVOT_RTOL):
        """Cholesky factor ``(R, False)`` of H (``scipy.linalg.cho_factor``'s layout), or
        None when H is (numerically) singular."""
        # LAPACK's potrf directly: cho_factor's argument handling costs more than
        # factoring a small Newton system
        c, info = _POTRF[H.dtype](H, lower=0, clean=0)
        if info != 0:
            return None
        factor = (c, False)
        pivots = np.diag(c)
        if not np.all(pivots**2 > pivot_rtol * np.diag(H)):
            return None
        return factor

    def _preconditioner_factor(self, H):
        """Cholesky factor of a preconditioner: float32 where it represents and
        factors H well (half the memory traffic of each CG solve, which streams the
        factor; precise enough to steer CG), else float64."""
        with np.errstate(over="ignore"):
            H32 = H.astype(np.float32)
        factor = (self._factor(H32, PRECONDITIONER_F32_PIVOT_RTOL)
                  if np.all(np.isfinite(H32)) else None)
        return factor if factor is not None else self._factor(H)

    def _shift_free(self, H):
        """``H + N diag(mu) N^T`` over the flat directions (module docstring), in place."""
        self.shift_mu = {}
        if not self.free:
            return H
        if len(self.free) == 1:
            # one flat column (the intercepts of an L2 fit): its coordinates
            # i * p + a are a strided view, no fancy indexing (small fits)
            a = self.free[0]
            mu = float(H.diagonal()[a::self.p].sum()) / self.k
            self.shift_mu = {a: mu}
            H[a::self.p, a::self.p] += mu / self.k
            return H
        free = np.asarray(self.free)
        # mu_a: the mean curvature of column a over the classes, so the shift
        # is as scale-free as H itself (features of any units).
        mu = np.diag(H).reshape(self.k, self.p)[:, free].mean(axis=0)
        self.shift_mu = dict(zip(self.free, mu.tolist()))
        # H[(i, a), (j, a)] += mu_a / k for all classes i, j and free columns a
        # (every H here is a fresh C-contiguous array: the reshape is a view)
        H.reshape(self.k, self.p, self.k, self.p)[:, free, :, free] += (mu / self.k)[:, None, None]
        return H

    def solve_step(self):
        """Sets ``step`` (layout of coef), ``decrement`` (= -g.step) and ``damping``."""
        if self.kronecker is not None:
            self.damping = self.decrement_error = 0.0
            if self.hessian_free:       # it preconditions the next CG solves too
                self._set_preconditioner(self.kronecker, self.kronecker.mu)
            self._set_step(-self.kronecker.solve(self.gradient.ravel()))
            return
        if self.hessian is None and self.solve_step_cg():
            return
        if self.hessian is None:        # CG failed: back to exact Newton for good
            self.hessian_free = False
            self.stats = self.oracle.stats(self.coef)
            self.evaluate()
        H = self._shift_free(self.hessian.copy())
        factor = self._factor(H)
        self.damping = 0.0
        self.decrement_error = 0.0
        if factor is None:
            # Levenberg-Marquardt damping on the diagonal (scale-free), growing until
            # the factorization is sound.  The warning is issued once, in finish().
            diag = np.diag(H).copy()
            diag = np.maximum(diag, 1e-12 * max(diag.max(), np.finfo(float).tiny))
            delta = 1e-10
            while factor is None and delta < 1e12:
                delta *= 10.0
                factor = self._factor(H + np.diag(delta * diag))
            if factor is None:      # delta * diag dominates a finite H, unless it overflows
                raise ValueError(
                    "The Newton system could not be factorized even with damping: its "
                    f"diagonal reaches {diag.max():.3g}, too close to float64's limit (or "
                    "not finite). Rescale the features or sample_weight, e.g. with "
                    "sklearn.preprocessing.StandardScaler.")
            self.damping = delta
            self.damped.append(len(self.history))
        self._set_step(-cho_solve_vector(factor, self.gradient.ravel()))

    def _set_step(self, step):
        """Sets ``step`` (from the flat solution vector) and ``decrement``."""
        step = step.reshape(self.k, self.p)
        if len(self.free) == 1:     # remove rounding drift along the flat directions
            column = step[:, self.free[0]]
            column -= column.sum() / self.k
        elif self.free:
            step[:, self.free] -= step[:, self.free].mean(axis=0)
        self.step = step
        self.decrement = -float(self.gradient.ravel() @ step.ravel())

    def _approximate_hessian(self, single_precision):
        """A cheap SPD approximation of the penalized, shifted Hessian at ``coef`` (at
        zero slopes the Kronecker start already set an exact preconditioner)."""
        H = self.oracle.subsample_hessian(self.coef, single_precision=single_precision)
        H *= self.scale
        H[np.diag_indices_from(H)] += self.l2 * self.mask.ravel()
        return self._shift_free(H)

    def _refresh_preconditioner(self):
        if hasattr(self.oracle, "cg_preconditioner"):
            # an oracle whose Hessian is too large to form (wide sparse data)
            # supplies its own approximation, with the shift mu it used
            system = self.oracle.cg_preconditioner(self.coef, scale=self.scale,
                                                   l2=self.l2 * self.mask, free=self.free)
            self._set_preconditioner(system, system.mu)
            return True
        self.preconditioner = None      # its memory is free before the next one is built
        # past the memory budget (or when too costly): class-diagonal blocks, or the diagonal
        kind = self._preconditioner_kind()
        if kind != "dense":
            for kind in (kind, "diagonal"):
                curvature = self.oracle.subsample_class_curvature(
                    self.coef, diagonal_only=kind == "diagonal")
                built = _preconditioner.class_diagonal_system(
                    curvature, scale=self.scale, l2=self.l2, mask=self.mask, free=self.free,
                    factor=self._preconditioner_factor)
                if built is not None:
                    self._set_preconditioner(*built)
                    return True
            return False
        # pair products in float32 first (a preconditioner only steers CG); only
        # if that approximation does not factor, again in float64
        for single_precision in (True, False):
            factor = self._preconditioner_factor(self._approximate_hessian(single_precision))
            if factor is not None:
                break
        self._set_preconditioner(None if factor is None else _CholeskySolve(factor),
                                 self.shift_mu)
        return self.preconditioner is not None

    def _preconditioner_kind(self):
        """``logreg._preconditioner.choose_kind`` for this problem and its subsample."""
        n = self.oracle.X.shape[0]
        rows = -(-n // getattr(self.oracle, "subsample_stride", 1))
        return _preconditioner.choose_kind(n, rows, self.k, self.p)

    def _set_preconditioner(self, system, mu):
        """CG's preconditioner: ``system.solve(r)`` applies the inverse of an
        approximation shifted by ``mu`` along the flat directions -- the shift
        the operator uses too."""
        self.preconditioner = system
        # the shift as (columns, mu): the operator applies it in one vectorized step
        self.mu_free = (np.fromiter(mu.keys(), dtype=np.intp, count=len(mu)),
                        np.fromiter(mu.values(), dtype=np.float64, count=len(mu)))
        self.cg_iters = 0

    def _operator(self, v):
        """``(scale H_data + l2 mask + N diag(mu) N^T) v`` from one Hessian-vector pass."""
        V = v.reshape(self.k, self.p)
        out = self.scale * self.oracle.hessian_vector_product(self.coef, V)
        out += self.l2 * self.mask * V
        columns, mu = self.mu_free
        if columns.size:
            out[:, columns] += mu / self.k * V[:, columns].sum(axis=0)
        return out.ravel()

    def _cg_converged(self, r, rz, rtol, b_norm):
        """CG may stop: the superlinear forcing term ``|r| <= rtol |b|`` holds, or the
        step already carries the next iterate through the convergence test.

        After the step the gradient is about ``-r`` and the decrement about
        ``r^T H^-1 r ~ r^T M^-1 r = rz``; solving further would be wasted products.
        """
        if np.linalg.norm(r) <= rtol * b_norm:
            return True
        return np.max(np.abs(r)) <= 0.5 * self.tol and 0.5 * rz <= 0.25 * self.tol**2

    def solve_step_cg(self):
        """Hessian-free Newton step by preconditioned CG; sets ``step``, ``decrement``,
        ``damping``; returns False when it cannot (the caller falls back to Cholesky)."""
        refresh = (KRONECKER_CG_REFRESH if isinstance(self.preconditioner, KroneckerNewtonSystem)
                   else CG_REFRESH)
        if (self.preconditioner is None or self.cg_iters > refresh) and \
                not self._refresh_preconditioner():
            return False
        b = -self.gradient.ravel()
        solve = self.preconditioner.solve
        rtol = min(CG_RTOL_MAX, max(CG_RTOL_MIN, np.sqrt(self.grad_max)))
        b_norm = np.linalg.norm(b)
        x = np.zeros_like(b)
        r = b.copy()
        z = solve(r)
        direction = z.copy()
        rz = r @ z
        for it in range(1, CG_MAX_ITER + 1):
            Ad = self._operator(direction)
            curvature = direction @ Ad
            if not curvature > 0:
                return False
            alpha = rz / curvature
            x += alpha * direction
            r -= alpha * Ad
            z = solve(r)
            rz, rz_old = r @ z, rz
            if self._cg_converged(r, rz, rtol, b_norm):
                break
            direction = z + (rz / rz_old) * direction
        self.cg_iters = it
        step = x.reshape(self.k, self.p)
        if self.free:
            step[:, self.free] -= step[:, self.free].mean(axis=0)
        decrement = float(b @ step.ravel())
        if not decrement > 0 and self.grad_max > 0:
            return False
        # CG's decrement b.x falls short of g^T H^-1 g by r^T H^-1 r ~ r^T M^-1 r:
        # the convergence test adds it, so a loose solve cannot stop too early.
        self.decrement_error = float(rz)
        self.step, self.decrement, self.damping = step, decrement, 0.0
        return True

    # -- 3. convergence --------------------------------------------------------
    def converged(self):
        """max|g| <= tol and half the squared Newton decrement <= tol**2.

        The decrement ``g^T H^-1 g`` is affine invariant: it certifies accuracy
        in the coefficients where the gradient alone does not (badly scaled
        features, nearly flat directions).
        """
        if self.subsampled:
            return False
        decrement = self.decrement + self.decrement_error
        return (self.grad_max <= self.tol) and (0.5 * decrement <= self.tol**2)

    # -- 4. line search --------------------------------------------------------
    def _acceptable(self, f_t, t):
        """Armijo, or a change within rounding noise (the quadratic model is then excellent)."""
        change = f_t - self.objective
        noise = LOSS_NOISE * abs(self.objective)
        return np.isfinite(f_t) & ((change <= ARMIJO * t * -self.decrement)
                                   | (np.abs(change) <= noise))

    def _move(self, t, coef_t, f_t, stats):
        """Take the accepted step, or report that rounding limits the solve."""
        if f_t >= self.objective and 0.5 * self.decrement <= self.tol**2:
            self.step_size = 0.0          # rounding-limited: the optimum is reached
            return False
        self.step_size = t
        self.coef = coef_t
        if stats is None:           # after a ladder: the exact Hessian
            self.subsampled = False
            stats = self.oracle.stats(coef_t, hessian=not self.hessian_free)
        self.stats = stats
        return True

    def _subsample_next(self):
        """Whether the next iterate's Hessian comes from a row subsample
        (see SUBSAMPLED_DECREMENT)."""
        return (not self.hessian_free and 0.5 * self.decrement > SUBSAMPLED_DECREMENT
                and getattr(self.oracle, "subsample_stride", 1) > 1)

    def line_search(self):
        """Sets ``step_size``, ``coef``, ``stats``; returns False when rounding-limited.

        The full step is tried first and verified with the statistics pass at
        ``coef + step`` -- the next iteration's pass, whose loss comes with
        it -- so a typical iteration makes ONE pass over the data.  When
        Armijo fails there, one ``losses_along`` pass from ``coef`` evaluates
        the ladder ``t = 1/2 .. 1/256`` and the statistics pass is redone at
        the largest acceptable ``t`` (3 passes for that step; a second ladder
        down to ``2**-MAX_HALVINGS`` only when the first finds nothing).
        Near the optimum the loss changes by less than its rounding error:
        such a step is accepted, and if it does not decrease the loss while
        the decrement is already tiny, the solve is finished.
        """
        trial = self.coef + self.step
        self.subsampled = self._subsample_next()
        stats = self.oracle.stats(trial, hessian=not (self.hessian_free or self.subsampled))
        f_1 = self._objective(stats[0], trial)
        if self._acceptable(f_1, 1.0):
            return self._move(1.0, trial, f_1, stats)
        for ladder in (0.5 ** np.arange(1, 9), 0.5 ** np.arange(9, MAX_HALVINGS + 1)):
            losses = self.oracle.losses_along(self.coef, self.step, ladder)
            f = np.array([self._objective(L, self.coef + t * self.step)
                          for L, t in zip(losses, ladder)])
            ok = self._acceptable(f, ladder)
            if ok.any():
                i = int(np.argmax(ok))
                return self._move(float(ladder[i]), self.coef + ladder[i] * self.step, f[i],
                                  None)
        self.line_search_failed = True
        self.step_size = 0.0
        return False

    # -- the loop --------------------------------------------------------------
    def solve(self, coef0):
        """Run the loop from ``coef0`` ``(k, p)``; returns a ``NewtonResult`` with

        coef, n_iter (Newton steps taken), converged, history (list of dicts
        with ``HISTORY_FIELDS``), data_hessian (unpenalized fits: the unscaled
        data-term Hessian at ``coef``; else None), data_loss (``sum w CE`` at ``coef``), sum_weights,
        separation (bool), certificate (a ``logreg._separation.SeparationCertificate``
        when the LP check proved separation, else None), damped (iterations with
        a damped Hessian).
        """
        self.setup(coef0)
        is_converged = False
        self.certificate = None         # set once, by the separation check
        self.separation_checked = False
        for iteration in range(self.max_iter + 1):
            self.evaluate()
            self.grad_max = float(np.max(np.abs(self.gradient)))
            # passes spent reaching this iterate's statistics (1 when the full step held)
            self.iter_passes = self.oracle.n_passes - self.passes_seen
            self.passes_seen = self.oracle.n_passes
            self.previous_step_size = np.max(np.abs(self.step)) if iteration else 0.0
            self.solve_step()
            if self._separation_suspected(iteration):
                self.certificate = self.oracle.find_separation()
                if self.certificate is not None:
                    is_converged = False
                    self._record(iteration, step_size=0.0)
                    break
            is_converged = self.converged()
            stop = is_converged or iteration == self.max_iter
            if not stop:
                moved = self.line_search()
                stop = not moved
                is_converged = not moved and not self.line_search_failed
            self._record(iteration, step_size=0.0 if stop else self.step_size)
            if stop:
                break
        return self.finish(iteration, is_converged)

    def _separation_suspected(self, iteration):
        """Whether to ask the oracle for a separation certificate, once per fit:
        unpenalized, and the Hessian keeps being damped or Newton has taken far
        more steps than a finite optimum needs (the signs of diverging
        coefficients).  A certificate is a property of the data, so one look
        settles it."""
        if self.penalized or self.separation_checked or not hasattr(self.oracle,
                                                                   "find_separation"):
            return False
        if len(self.damped) >= SEPARATION_CHECK_DAMPED or iteration >= SEPARATION_CHECK_ITER:
            self.separation_checked = True
            return True
        return False

    def _record(self, iteration, step_size):
        row = dict(iteration=iteration, objective=self.objective, grad_max=self.grad_max,
                   decrement=0.5 * self.decrement, step_size=step_size,
                   damping=self.damping, seconds=time.perf_counter() - self.t_start,
                   passes=self.iter_passes, hessian=self.hessian_kind)
        self.history.append(row)
        if self.verbose:
            if iteration == 0:
                print(f"{'iter':>4} {'objective':>22} {'max|grad|':>10} {'decrement':>10} "
                      f"{'step':>8} {'damping':>8} {'seconds':>8} {'hessian':>9}")
            print(f"{iteration:4d} {self.objective:22.15e} {self.grad_max:10.3e} "
                  f"{0.5 * self.decrement:10.3e} {step_size:8.2g} {self.damping:8.1g} "
                  f"{row['seconds']:8.3f} {self.hessian_kind:>9}", flush=True)

    # -- 5. finish ---------------------------------------------------------------
    def finish(self, n_iter, is_converged):
        """Symmetric parametrization, separation check, warnings; returns the result."""
        coef = self.coef.copy()
        if self.free:
            coef[:, self.free] -= coef[:, self.free].mean(axis=0)
        # Converged in gradient and decrement, yet Newton still wants a sizeable step,
        # and no smaller than the last one: the objective is flat towards infinity
        # (at a finite optimum the steps shrink quadratically, however loose tol is).
        # That heuristic reads the last step, which rounding blurs at the loss's
        # noise floor; strict separation is also proved by the loss itself.
        step_size = np.max(np.abs(self.step))
        separation = not self.penalized and (
            self.certificate is not None or self._strictly_separated() or is_converged and (
            step_size > SEPARATION_STEP_RTOL * max(1.0, np.max(np.abs(coef)))
            and step_size > SEPARATION_STEP_RATIO * self.previous_step_size))
        if self.damped:
            warnings.warn(self._singular_message(n_iter), SingularHessianWarning, stacklevel=4)
        if separation:
            if self.certificate is None:    # else the caller names its classes
                warnings.warn(
                    "The classes are (quasi-)perfectly separable by the features: the unpenalized "
                    "maximum-likelihood coefficients are infinite. logreg stopped with large but "
                    f"finite coefficients after {n_iter} Newton iterations; predicted "
                    "probabilities are (nearly) 0 or 1 and the coefficients, and any inference "
                    "on them, are meaningless. Remedy: use an L2 penalty (penalty='l2', finite C) "
                    "or remove the separating features.",
                    PerfectSeparationWarning, stacklevel=4)
        elif self.line_search_failed:
            warnings.warn(
                f"The Newton line search could not decrease the objective at iteration "
                f"{n_iter}, before the convergence test held: {self._criteria()}. The "
                "objective's rounding error exceeds the decrease left, which points to badly "
                "scaled features. Remedy: standardize the features (e.g. "
                "sklearn.preprocessing.StandardScaler), or accept this precision with a "
                "larger tol.",
                ConvergenceWarning, stacklevel=4)
        elif not is_converged:
            warnings.warn(
                f"Newton's method did not converge in max_iter={self.max_iter} iterations: "
                f"{self._criteria()}. Remedy: increase max_iter"
                + ("" if self.max_iter < 20 else
                   "; Newton's method usually needs 5-10, so many more point to badly scaled "
                   "features: standardize them (e.g. sklearn.preprocessing.StandardScaler)")
                + ".", ConvergenceWarning, stacklevel=4)
        return NewtonResult(
            coef=coef, n_iter=n_iter, converged=bool(is_converged and not separation),
            history=self.history, data_loss=self.data_loss_value,
            data_hessian=None if self.penalized else self.hessian_data(),
            sum_weights=self.sum_weights,
            separation=bool(separation), certificate=self.certificate,
            damped=list(self.damped))

    def _strictly_separated(self):
        """Whether the loss proves that ``coef`` classifies every sample correctly.

        A sample whose true class does not have probability above 1/2 costs
        ``CE >= log 2``, so ``sum w CE < log(2) min w`` (over positive weights)
        means every true class wins, with a positive margin: the data are
        strictly separable and the unpenalized optimum lies at infinity.  The
        margin is a full ``log 2`` per sample, far beyond rounding.  Oracles
        without ``min_positive_weight`` rely on the step test alone.
        """
        w_min = getattr(self.oracle, "min_positive_weight", None)
        return w_min is not None and self.data_loss_value < np.log(2.0) * w_min

    def _criteria(self):
        """The convergence test at the last iterate, criterion by criterion."""
        half = 0.5 * (self.decrement + self.decrement_error)
        tol2 = self.tol**2
        return (f"max|gradient| = {self.grad_max:.3g} "
                f"{'<=' if self.grad_max <= self.tol else '>'} tol = {self.tol:g} "
                f"({'met' if self.grad_max <= self.tol else 'NOT met'}), half the squared "
                f"Newton decrement = {half:.3g} {'<=' if half <= tol2 else '>'} tol**2 = "
                f"{tol2:g} ({'met' if half <= tol2 else 'NOT met'})")

    def _singular_message(self, n_iter):
        """SingularHessianWarning's text: the cause that fits the penalty, and its remedy."""
        where = (f"The Hessian was singular or nearly singular at {len(self.damped)} of "
                 f"{n_iter + 1} Newton iterations (first at iteration {self.damped[0]}), "
                 "so the Newton system was damped (Levenberg-Marquardt) to go on. ")
        if not self.penalized:
            return where + (
                "X has collinear or constant columns, or the classes are (quasi-)separable; "
                "coefficients along collinear directions are not identifiable. Remedy: remove "
                "collinear columns, or use an L2 penalty (penalty='l2', finite C).")
        with np.errstate(over="ignore"):
            CS = self.C * self.sum_weights
        return where + (
            f"With the L2 penalty at C * sum(sample_weight) = {CS:.3g}, some direction's "
            "curvature is below the rounding error of the data Hessian: X has (nearly) "
            "collinear columns or features of very different scales, or the classes are "
            "(nearly) separable, and the penalty is too weak to make up for it: along "
            "that direction the objective is nearly flat and the coefficients are poorly "
            "determined. Remedy: standardize the features (e.g. "
            "sklearn.preprocessing.StandardScaler), remove collinear columns, or use a "
            "smaller C.")

    def hessian_data(self):
        """Unscaled, unpenalized data-term Hessian at the final coefficients (one
        more statistics pass after a Hessian-free solve)."""
        if self.pairs is None:
            self.pairs = self.oracle.stats(self.coef)[2]
        return self.oracle.hessian(self.pairs)


class _CholeskySolve:
    """``H^-1 r`` from a Cholesky factor of ``H`` (a preconditioner, like
    ``KroneckerNewtonSystem``)."""

    def __init__(self, factor):
        self.factor = factor

    def solve(self, r):
        return cho_solve_vector(self.factor, r).astype(np.float64, copy=False)


def _check_finite_hessian(a):
    """``a`` (Hessian pairs or Gram matrix), or a ValueError naming the overflow."""
    if not np.all(np.isfinite(a)):
        raise ValueError(
            "The Hessian overflowed: X (or sample_weight) has entries so large that "
            "w * x**2 is not representable in float64 (|x| around 1e150 or more). "
            "Rescale the features, e.g. with sklearn.preprocessing.StandardScaler.")
    return a


def check_sum_weights(S):
    """``S = sum(sample_weight)`` as a float, or a ValueError when the objective cannot
    be normalized by it (the estimator's in-memory unit weights never get here)."""
    S = float(S)
    if not (np.isfinite(S) and S > 0 and 1.0 / S < _FLOAT_MAX):
        raise ValueError(
            f"sum(sample_weight) = {S:.3g} is outside float64's usable range: the "
            "objective cannot be normalized. Only the ratios of the weights matter: "
            "rescale sample_weight (and divide C by the same factor).")
    return S


def initial_coef(y, w, k, p, *, binary, fit_intercept):
    """Cheap good start: zero slopes, intercepts at the weighted log class frequencies.

    That is the optimum of the intercept-only model, so the first Newton step
    starts from the right base rates.
    """
    coef = np.zeros((k, p))
    if not fit_intercept:
        return coef
    counts = np.bincount(y, weights=w, minlength=2 if binary else k)
    logf = np.log(np.maximum(counts / counts.sum(), 1e-12))
    if binary:
        coef[0, -1] = logf[1] - logf[0]
    else:
        coef[:, -1] = logf - logf.mean()
    return coef


# ---------------------------------------------------------------------------
# Gradient descent: the seed's baseline
# ---------------------------------------------------------------------------

def gradient_descent(X, y, w, coef0, *, binary, fit_intercept, C, tol, max_iter,
                     learning_rate, verbose=0):
    """The seed's gradient descent: ``coef <- coef - learning_rate * grad``.

    ``grad`` is the gradient of the *unnormalized* objective
    ``C * sum_n w_n CE_n + 0.5 ||coef[:, :d]||^2`` (``sum_n w_n CE_n`` without
    penalty): with ``C = inf`` this is exactly ``logreg.reference.fit(method="gd")``.
    Runs ``max_iter`` steps unless max|grad F| <= tol first (``F`` the
    normalized objective of the module docstring).  Returns (coef, n_iter,
    converged, history).
    """
    coef = np.array(coef0, dtype=np.float64)
    k, p = coef.shape
    penalized = np.isfinite(C)
    mask = _loss.penalty_mask(k, p, fit_intercept)
    S = float(X.shape[0] if w is None else w.sum())
    # sklearn's objective is C * sum w CE + pen; F = that / (C S); unpenalized F = L / S.
    to_normalized = 1.0 / (C * S) if penalized else 1.0 / S
    data_term = _loss.binary_loss_gradient if binary else _loss.loss_gradient
    t_start = time.perf_counter()
    history, converged = [], False
    for iteration in range(max_iter + 1):
        L, G = data_term(X, y, w, coef, fit_intercept)
        if penalized:
            objective = C * L + _loss.l2_penalty(coef, fit_intercept)
            grad = C * G + mask * coef
        else:
            objective, grad = L, G
        grad_max = float(np.max(np.abs(grad))) * to_normalized
        converged = grad_max <= tol
        stop = converged or iteration == max_iter
        history.append(dict(iteration=iteration, objective=objective * to_normalized,
                            grad_max=grad_max, decrement=np.nan,
                            step_size=0.0 if stop else learning_rate, damping=0.0,
                            seconds=time.perf_counter() - t_start))
        if verbose:
            if iteration == 0:
                print(f"{'iter':>4} {'objective':>22} {'max|grad|':>10}")
            print(f"{iteration:4d} {objective * to_normalized:22.15e} {grad_max:10.3e}",
                  flush=True)
        if stop:
            break
        coef = coef - learning_rate * grad
        if not np.all(np.isfinite(coef)):
            raise FloatingPointError(
                f"gradient descent diverged at iteration {iteration} (learning_rate="
                f"{learning_rate:g} is too large); use solver='newton' or a smaller "
                "learning_rate.")
    if not converged:
        warnings.warn(
            f"Gradient descent did not converge in max_iter={max_iter} iterations "
            f"(max|gradient| = {grad_max:.3g}, tol = {tol:g}); it is a slow baseline: "
            "use solver='newton'.", ConvergenceWarning, stacklevel=3)
    return coef, iteration, converged, history


def lipschitz_step(X, w, *, binary, C):
    """``1 / L`` with ``L`` an upper bound on the curvature of the unnormalized objective.

    The softmax Hessian ``diag(p) - p p^T`` has eigenvalues <= 1/2 (binary
    ``p(1-p) <= 1/4``), and ``||X~^T W X~||_2 <= trace = sum_n w_n (|x_n|^2 + 1)``.
    A safe, if conservative, fixed step.
    """
    sq = np.zeros(X.shape[0])
    for rows in _loss._chunks(*X.shape):
        xr = X[rows].astype(np.float64, copy=False)
        sq[rows] = np.einsum("ij,ij->i", xr, xr)
    trace = float((sq + 1.0).sum() if w is None else w @ (sq + 1.0))
    curvature = (0.25 if binary else 0.5) * trace
    if np.isfinite(C):
        curvature = C * curvature + 1.0
    return 1.0 / curvature
