"""Curvature sources: the ways a Newton iteration solves for its step.

Every source has one interface: ``prepare(iterate)`` builds what it needs at
that point (a factorization, a preconditioner) and returns False when it
cannot; ``solve(iterate)`` returns a ``logreg._state.Step`` (direction,
decrement, damping), or None when the solve failed and another source must
take over.  ``logreg._policy.CurvaturePolicy`` picks the source each
iteration; the sources themselves hold no switching rules.

* ``ExactHessian``       Cholesky of the Hessian from the iterate's pair products,
                         Levenberg-Marquardt damped when it is singular;
* ``SubsampledHessian``  the same on a Hessian from a row subsample (far from
                         the optimum, where an exact Hessian buys little);
* ``KroneckerStart``     the exact Hessian at zero slopes, ``A (x) B``, solved
                         through its structure (``logreg._kronecker``);
* ``ConjugateGradient``  Hessian-free: preconditioned CG on Hessian-vector
                         products (``logreg._preconditioner``'s kinds, the
                         oracle's own, or the Kronecker start's system).
"""
import numpy as np
import scipy.linalg

from . import _loss, _preconditioner
from ._kronecker import KroneckerNewtonSystem, cho_solve_vector
from ._state import Step

# A Cholesky pivot with pivot**2 / H_aa below this means coordinate a is, to
# working precision, a linear combination of the others: treat H as singular.
PIVOT_RTOL = 1e-11
# The float32 factor of a preconditioner is used unless a pivot**2 falls below
# this times its diagonal (then float64): conditioning up to ~1e5 there.
PRECONDITIONER_F32_PIVOT_RTOL = 1e-5
# CG stops at relative residual min(CG_RTOL_MAX, sqrt(max|g|)) (superlinear
# Newton, clipped below at CG_RTOL_MIN) and after CG_MAX_ITER products.
CG_RTOL_MAX = 0.1
CG_RTOL_MIN = 1e-12
CG_MAX_ITER = 50

_POTRF = {np.dtype(np.float64): scipy.linalg.lapack.dpotrf,
          np.dtype(np.float32): scipy.linalg.lapack.spotrf}


def cholesky(H, pivot_rtol=PIVOT_RTOL):
    """Cholesky factor ``(R, False)`` of H (``scipy.linalg.cho_factor``'s layout), or
    None when H is (numerically) singular."""
    # LAPACK's potrf directly: cho_factor's argument handling costs more than
    # factoring a small Newton system
    c, info = _POTRF[H.dtype](H, lower=0, clean=0)
    if info != 0:
        return None
    if not (c.diagonal() ** 2 > pivot_rtol * H.diagonal()).all():
        return None
    return c, False


def preconditioner_cholesky(H):
    """Cholesky factor of a preconditioner: float32 where it represents and factors
    H well (half the memory traffic of each CG solve, which streams the factor;
    precise enough to steer CG), else float64."""
    with np.errstate(over="ignore"):
        H32 = H.astype(np.float32)
    factor = (cholesky(H32, PRECONDITIONER_F32_PIVOT_RTOL)
              if np.all(np.isfinite(H32)) else None)
    return factor if factor is not None else cholesky(H)


def damped_cholesky(H):
    """``(factor, damping)``: the Cholesky factor of H, or of ``H + delta diag(H)``
    with the smallest ``delta = 10^j`` that factors soundly (Levenberg-Marquardt,
    scale-free); ``damping`` is that ``delta`` (0: none needed)."""
    factor = cholesky(H)
    if factor is not None:
        return factor, 0.0
    diag = np.diag(H).copy()
    diag = np.maximum(diag, 1e-12 * max(diag.max(), np.finfo(float).tiny))
    delta = 1e-10
    while factor is None and delta < 1e12:
        delta *= 10.0
        factor = cholesky(H + np.diag(delta * diag))
    if factor is None:      # delta * diag dominates a finite H, unless it overflows
        raise ValueError(
            "The Newton system could not be factorized even with damping: its "
            f"diagonal reaches {diag.max():.3g}, too close to float64's limit (or "
            "not finite). Rescale the features or sample_weight, e.g. with "
            "sklearn.preprocessing.StandardScaler.")
    return factor, delta


def check_finite_hessian(a):
    """``a`` (Hessian pairs or Gram matrix), or a ValueError naming the overflow."""
    if not np.isfinite(a).all():
        raise ValueError(
            "The Hessian overflowed: X (or sample_weight) has entries so large that "
            "w * x**2 is not representable in float64 (|x| around 1e150 or more). "
            "Rescale the features, e.g. with sklearn.preprocessing.StandardScaler.")
    return a


def newton_step(problem, gradient, solution, kind, **kw):
    """The ``Step`` from the solution ``H^-1 (-g)`` (flat), kept on the centred subspace."""
    direction = problem.centre(solution.reshape(problem.k, problem.p))
    return Step(direction, -float(gradient.ravel() @ direction.ravel()), kind, **kw)


class CholeskySystem:
    """``H^-1 r`` from a Cholesky factor of ``H``; ``mu`` the shift it includes."""

    def __init__(self, factor, mu):
        self.factor, self.mu = factor, mu

    def solve(self, r):
        return cho_solve_vector(self.factor, r).astype(np.float64, copy=False)


class ExactHessian:
    """Newton's step on the exact Hessian from the iterate's pair products."""

    kind = "exact"
    certifies = True        # its decrement may end the solve

    def __init__(self, oracle, problem):
        self.oracle, self.problem = oracle, problem
        self.factor, self.damping = None, 0.0

    def data_hessian(self, iterate):
        return self.oracle.hessian(check_finite_hessian(iterate.pairs))

    def prepare(self, iterate):
        H = self.problem.newton_matrix(self.data_hessian(iterate))
        H, _ = self.problem.shift_free(H)
        self.factor, self.damping = damped_cholesky(H)
        return True

    def solve(self, iterate):
        solution = cho_solve_vector(self.factor, -iterate.gradient.ravel())
        return newton_step(self.problem, iterate.gradient, solution, self.kind,
                           damping=self.damping, certifies=self.certifies)


class SubsampledHessian(ExactHessian):
    """Newton's step on the Hessian of a row subsample (``subsample_hessian``): it
    cannot certify convergence, the next exact iteration does."""

    kind = "subsample"
    certifies = False

    def data_hessian(self, iterate):
        return check_finite_hessian(self.oracle.subsample_hessian(iterate.coef))


class KroneckerStart:
    """The exact Newton step at zero slopes through the Kronecker structure
    ``A (x) B`` (``logreg._kronecker``); singular blocks: the dense ``A (x) B``, damped.

    ``from_subsample``: the Gram matrix ``B`` from the oracle's row subsample
    when it only makes this first step (later ones use the subsample too);
    from all rows when the system also preconditions CG, or when the
    subsample's is singular.
    """

    kind = "kronecker"

    def __init__(self, oracle, problem, *, from_subsample):
        self.oracle, self.problem = oracle, problem
        self.from_subsample = from_subsample
        self.system = self.factor = None
        self.damping = 0.0

    def _factors(self, coef, subsample):
        """``(A, B)``: the softmax curvature ``diag(pi) - pi pi^T`` shared by every row,
        and the Gram matrix ``X~^T W X~``."""
        problem = self.problem
        c = coef[:, -1] if problem.fit_intercept else np.zeros(problem.k)
        if problem.binary:     # the two-class softmax [0, c]
            pi = _loss.softmax(np.array([[0.0, c[0]]]))[0, 1]
            A = np.array([[pi * (1.0 - pi)]])
        else:
            pi = _loss.softmax(c[None, :])[0]
            A = np.diag(pi) - np.outer(pi, pi)
        return A, check_finite_hessian(self.oracle.gram(subsample=subsample))

    def prepare(self, iterate):
        problem = self.problem
        for subsample in (True, False) if self.from_subsample else (False,):
            A, B = self._factors(iterate.coef, subsample)
            try:
                self.system = KroneckerNewtonSystem(
                    A, B, scale=problem.scale, l2=problem.l2, penalized_columns=problem.mask[0],
                    free=problem.free.tolist(), pivot_rtol=PIVOT_RTOL)
                return True
            except np.linalg.LinAlgError:
                continue
        H, _ = problem.shift_free(problem.newton_matrix(np.kron(A, B)))
        self.factor, self.damping = damped_cholesky(H)
        return True

    def solve(self, iterate):
        b = -iterate.gradient.ravel()
        if self.system is None:
            return newton_step(self.problem, iterate.gradient, cho_solve_vector(self.factor, b),
                               self.kind, damping=self.damping)
        return newton_step(self.problem, iterate.gradient, self.system.solve(b), self.kind)


class ConjugateGradient:
    """Hessian-free Newton step: preconditioned CG on exact Hessian-vector products.

    The preconditioner approximates the shifted, penalized Newton matrix; it is
    rebuilt when the last solve needed more than ``refresh`` CG iterations
    (``kronecker_refresh`` while it is the Kronecker start's system, exact only
    at zero slopes).  ``preconditioner_kind``: ``"own"`` (the oracle's
    ``cg_preconditioner``) or one of ``logreg._preconditioner.KINDS``.
    """

    kind = "cg"

    def __init__(self, oracle, problem, *, preconditioner_kind, refresh, kronecker_refresh):
        self.oracle, self.problem = oracle, problem
        self.preconditioner_kind = preconditioner_kind
        self.refresh, self.kronecker_refresh = refresh, kronecker_refresh
        self.preconditioner = None
        self.cg_iters = 0

    def use_preconditioner(self, system):
        """Precondition with ``system`` (``solve(r)`` and ``mu``) until it is stale."""
        self.preconditioner = system
        # the shift as (columns, mu): the operator applies it in one vectorized step
        mu = system.mu
        self.mu_free = (np.fromiter(mu.keys(), dtype=np.intp, count=len(mu)),
                        np.fromiter(mu.values(), dtype=np.float64, count=len(mu)))
        self.cg_iters = 0

    def prepare(self, iterate):
        limit = (self.kronecker_refresh if isinstance(self.preconditioner, KroneckerNewtonSystem)
                 else self.refresh)
        if self.preconditioner is not None and self.cg_iters <= limit:
            return True
        self.preconditioner = None      # its memory is free before the next one is built
        system = self._build_preconditioner(iterate.coef)
        if system is None:
            return False
        self.use_preconditioner(system)
        return True

    def _build_preconditioner(self, coef):
        problem, oracle, kind = self.problem, self.oracle, self.preconditioner_kind
        if kind == "own":
            return oracle.cg_preconditioner(coef, scale=problem.scale,
                                            l2=problem.l2 * problem.mask,
                                            free=problem.free.tolist())
        if kind == "dense":
            # pair products in float32 first (a preconditioner only steers CG);
            # only if that approximation does not factor, again in float64
            for single_precision in (True, False):
                H = oracle.subsample_hessian(coef, single_precision=single_precision)
                H, mu = problem.shift_free(problem.newton_matrix(H))
                factor = preconditioner_cholesky(H)
                if factor is not None:
                    return CholeskySystem(factor, dict(zip(problem.free.tolist(), mu.tolist())))
            return None
        for kind in (kind, "diagonal") if kind == "block" else (kind,):
            curvature = oracle.class_curvature(coef, diagonal_only=kind == "diagonal")
            system = _preconditioner.class_diagonal_system(
                curvature, scale=problem.scale, l2=problem.l2, mask=problem.mask,
                free=problem.free.tolist(), factor=preconditioner_cholesky)
            if system is not None:
                return system
        return None

    def _operator(self, coef, v):
        """``(scale H_data + l2 mask + N diag(mu) N^T) v`` from one Hessian-vector pass."""
        problem = self.problem
        V = v.reshape(problem.k, problem.p)
        out = problem.scale * self.oracle.hessian_vector_product(coef, V)
        out += problem.l2 * problem.mask * V
        columns, mu = self.mu_free
        if columns.size:
            out[:, columns] += mu / problem.k * V[:, columns].sum(axis=0)
        return out.ravel()

    def _converged(self, r, rz, rtol, b_norm):
        """CG may stop: the superlinear forcing term ``|r| <= rtol |b|`` holds, or the
        step already carries the next iterate through the convergence test.

        After the step the gradient is about ``-r`` and the decrement about
        ``r^T H^-1 r ~ r^T M^-1 r = rz``; solving further would be wasted products.
        """
        if np.linalg.norm(r) <= rtol * b_norm:
            return True
        tol = self.problem.tol
        return np.max(np.abs(r)) <= 0.5 * tol and 0.5 * rz <= 0.25 * tol**2

    def solve(self, iterate):
        b = -iterate.gradient.ravel()
        precondition = self.preconditioner.solve
        rtol = min(CG_RTOL_MAX, max(CG_RTOL_MIN, np.sqrt(iterate.grad_max)))
        b_norm = np.linalg.norm(b)
        x = np.zeros_like(b)
        r = b.copy()
        z = precondition(r)
        direction = z.copy()
        rz = r @ z
        for it in range(1, CG_MAX_ITER + 1):
            Ad = self._operator(iterate.coef, direction)
            curvature = direction @ Ad
            if not curvature > 0:
                return None
            alpha = rz / curvature
            x += alpha * direction
            r -= alpha * Ad
            z = precondition(r)
            rz, rz_old = r @ z, rz
            if self._converged(r, rz, rtol, b_norm):
                break
            direction = z + (rz / rz_old) * direction
        self.cg_iters = it
        step = newton_step(self.problem, iterate.gradient, x, self.kind,
                           # CG's decrement b.x falls short of g^T H^-1 g by
                           # r^T H^-1 r ~ r^T M^-1 r: the convergence test adds
                           # it, so a loose solve cannot stop too early
                           decrement_error=float(rz))
        if not step.decrement > 0 and iterate.grad_max > 0:
            return None
        return step
