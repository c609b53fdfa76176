"""The in-memory data oracle: what the Newton loop needs from the data, in bounded memory.

``InMemoryOracle`` implements the protocol of ``logreg._protocol`` for a dense
in-memory ``X``, with every optional capability: the zero-slope Gram matrix,
Hessians and class curvature from a row subsample, and separation
certificates.

Memory: nothing of size ``n x d`` is ever made but the copy of every m-th row
behind the approximations (``_subsample_rows``: 1/8 of X, made once), and the
only thing of size ``n x k`` kept between passes is the probability cache of
the Hessian-vector products: float32 ``(n, k)`` (``_kernel.ProbaCache``), made at the first
product and only when it takes at most half of X's bytes (``4 n k <= 0.5
X.nbytes``: ``k <= d`` for float64 X, ``k <= d / 2`` for float32); otherwise
every product recomputes the probabilities.  Once it exists, ``stats(coef,
hessian=False)`` refills it on its way (the next products at that ``coef`` only
read it).  ``stats`` is one call of the fused
kernel (per-thread row-block buffers only), and so is
``hessian_vector_product`` (the block pass of ``_kernel``); ``losses_along``
(``logreg._blocks``) works on cache-sized sub-blocks; ``gram`` is the kernel
over chunks of ``GRAM_CHUNK_ROWS`` rows.
"""
import numpy as np

from . import _blocks, _kernel, _loss, _preconditioner, _separation
from ._protocol import OracleCapabilities

# Rows per call of the kernel in ``gram`` (its buffer of ones is rows x 2).
GRAM_CHUNK_ROWS = 1 << 16
# Hessian-free Newton (``capabilities.prefers_hessian_free``) pays when a full Hessian,
# n p^2 k(k-1)/2 flops, costs many Hessian-vector products (4 n p k flops
# each): a Newton-CG iteration costs about six products plus a gradient,
# and a Newton-CG fit takes a few times more iterations, so the crossover of
# whole fits sits where a statistics pass with pair products costs some 40
# products (bench/MEASUREMENTS.md has the fits behind it).
HESSIAN_FREE_MIN_RATIO = 40.0       # p (k - 1) / 8: full Hessian / one product
HESSIAN_FREE_MIN_FLOPS = 1e8
# Rows of the subsampled Hessian that preconditions conjugate gradients:
# a 1/SUBSAMPLE share of the rows, but at least SUBSAMPLE_MIN_PER_COORD * k p.
SUBSAMPLE = 8
SUBSAMPLE_MIN_PER_COORD = 8
# Below this many flops (n p^2 k(k-1)/2) a statistics pass with the pair
# products costs less than the Python around one Newton iteration: no Hessian
# approximations there (no zero-slope Kronecker start, no row subsample): they
# save no time and cost iterations.
SMALL_PASS_FLOPS = 1e6


class InMemoryOracle:
    """Loss, gradient, Hessian pairs, step ladder and Hessian-vector products of
    in-memory data, streamed over row blocks (module docstring).

    Parameters
    ----------
    X : (n, d) float32/float64, any order, never copied
    y : (n,) intp class codes (binary: 0/1)
    w : None or (n,) float64 weights
    k : number of classes (>= 2)
    fit_intercept, n_threads : as the estimator's
    """

    def __init__(self, X, y, w, *, k, fit_intercept, n_threads):
        self.X, self.y, self.w = X, np.ascontiguousarray(y, dtype=np.intp), w
        self.n_classes = int(k)
        self.binary = self.n_classes == 2
        self.k = 1 if self.binary else self.n_classes
        self.fit_intercept = bool(fit_intercept)
        self.p = X.shape[1] + self.fit_intercept
        self.n_threads = n_threads
        self.n_passes = 0
        self.pass_log = []
        self.sum_weights = float(X.shape[0] if w is None else w.sum())
        # probabilities at the coef of the last Hessian-vector product (module
        # docstring): made at the first product when the memory rule allows
        self.caches_proba = _kernel.ProbaCache.fits(X, self.n_classes)
        self.proba_cache = None
        self._subsample = None      # (X, y, w, sum of w) of every m-th row, made once
        n, p, k = X.shape[0], self.p, self.n_classes
        full_flops = n * p * p * k * (k - 1) / 2
        # multinomial: when the pair products cost more than CG's products; any
        # model: when exact Newton's Hessian, pairs and factor would not fit in
        # the preconditioners' memory budget (binary fits reach it from p ~ 3700)
        costly = (not self.binary and p * (k - 1) / 8 >= HESSIAN_FREE_MIN_RATIO
                  and full_flops >= HESSIAN_FREE_MIN_FLOPS)
        too_big = (_preconditioner.nbytes("dense", self.k, p)
                   > _preconditioner.PRECONDITIONER_BUDGET_BYTES)
        self.exact_only = n * p * p * max(1, k * (k - 1) // 2) < SMALL_PASS_FLOPS
        self.capabilities = OracleCapabilities(
            n_rows=n, prefers_hessian_free=costly or too_big,
            approximations=not self.exact_only, zero_slope_gram=True, subsample_hessian=True,
            class_curvature=True, separation_certificate=True,
            subsample_stride=self.subsample_stride)

    def _count(self, kind):
        self.n_passes += 1
        self.pass_log.append(kind)

    def _softmax_coef(self, coef):
        """Binary: the two-class softmax rows ``[0, coef_0]``; else ``coef``."""
        coef = np.ascontiguousarray(coef, dtype=np.float64)
        if self.binary:
            coef = np.concatenate([np.zeros((1, self.p)), coef])
        return coef

    # -- passes ----------------------------------------------------------------
    def stats(self, coef, *, hessian=True):
        """One pass: ``(loss, grad (k, p), pairs (K, p(p+1)/2) or None)`` at ``coef``."""
        self._count("stats" if hessian else "loss_gradient")
        # one fused pass over X: logits, softmax, loss, gradient and pair products;
        # without pairs (Hessian-free Newton) it also refills the probability
        # cache of the Hessian-vector products, once they have made one
        cache = None if hessian else self.proba_cache
        loss, grad, pairs = _kernel.loss_gradient_pairs(
            self.X, self.y, self.w, self._softmax_coef(coef), self.fit_intercept,
            self.n_threads, with_pairs=hessian, cache=cache)
        return float(loss), (grad[1:] if self.binary else grad), pairs

    def gram(self, *, subsample=False):
        """``X~^T W X~`` ``(p, p)``, ``X~ = [X, 1]``: the Hessian's Kronecker factor at
        coefficients with zero slopes (every row has the same probabilities).
        ``subsample``: from the rows of ``subsample_hessian``, scaled to the whole
        sum of weights (an approximation, no pass over all of X).

        The kernel's pair product with probabilities (1, 1): one threaded pass,
        2x faster than NumPy's ``X.T @ X`` by segments at (1e5, 20), over row
        chunks that share one small buffer of ones.
        """
        X, _, w_all, S = self._subsample_rows() if subsample else (self.X, None, self.w, None)
        n = X.shape[0]
        ones = np.ones((min(n, GRAM_CHUNK_ROWS), 2))
        total = np.zeros((1, self.p * (self.p + 1) // 2))
        with np.errstate(over="ignore", invalid="ignore"):   # the solver reports inf
            for start in range(0, n, GRAM_CHUNK_ROWS):
                rows = slice(start, min(start + GRAM_CHUNK_ROWS, n))
                w = None if w_all is None else w_all[rows]
                total += _kernel.pair_products(X[rows], ones[:rows.stop - start], w,
                                               self.fit_intercept, self.n_threads)
            if subsample and S > 0:
                total *= self.sum_weights / S
        return _loss.hessian_from_pairs(total, 1, self.p, True)

    def find_separation(self):
        """A ``logreg._separation.SeparationCertificate`` of these data, or None."""
        return _separation.find_separation(self.X, self.y, self.w, n_classes=self.n_classes,
                                           fit_intercept=self.fit_intercept)

    @property
    def min_positive_weight(self):
        """The smallest positive sample weight (1.0 for unit weights): the solver's
        certificate of strict separation (``NewtonSolver._strictly_separated``)."""
        return smallest_positive_weight(self.w)

    @property
    def subsample_stride(self):
        """m of ``subsample_hessian``: 1/SUBSAMPLE of the rows, but at least
        SUBSAMPLE_MIN_PER_COORD rows per coefficient (m = 1: no subsample)."""
        n = self.X.shape[0]
        if self.exact_only:
            return 1
        return max(1, min(SUBSAMPLE, n // max(1, SUBSAMPLE_MIN_PER_COORD * self.k * self.p)))

    def subsample_hessian(self, coef, *, single_precision=False):
        """Data Hessian from every m-th row, scaled to the whole sum of weights:
        a cheap approximation for far-from-optimum steps and for preconditioning
        (no pass over all of X).  ``single_precision``: the pair products in
        float32 where the kernel takes its dgemm route (about 1.5x faster at
        (8333, 100, 10); relative error ~1e-7, far below the subsample's own)."""

        # the fused kernel makes the probabilities and the pair products in one go
        Xs, ys, w, S_sub = self._subsample_rows()
        _, _, pairs = _kernel.loss_gradient_pairs(Xs, ys, w, self._softmax_coef(coef),
                                                  self.fit_intercept, self.n_threads,
                                                  pairs_f32=single_precision)
        if S_sub > 0:
            pairs *= self.sum_weights / S_sub
        return self.hessian(pairs)

    def class_curvature(self, coef, *, diagonal_only):
        """The per-class diagonal blocks (packed) or the diagonal of the data Hessian
        from every m-th row, scaled to the whole sum of weights: the cheaper
        preconditioners of ``logreg._preconditioner`` (``class_curvature``)."""
        Xs, _, w, S_sub = self._subsample_rows()
        curvature = _preconditioner.class_curvature(
            Xs, w, self._softmax_coef(coef), self.fit_intercept, self.n_threads,
            diagonal_only=diagonal_only)
        if S_sub > 0:
            curvature *= self.sum_weights / S_sub
        return curvature[1:] if self.binary else curvature

    def _subsample_rows(self):
        """``(X, y, w, sum of w)`` of every m-th row (``subsample_stride``): copied
        once, at the first use (the kernel reads strided row views slowly), and
        kept -- 1/m of X's bytes, the only copy of rows a fit makes."""
        if self._subsample is None:
            m = self.subsample_stride
            if m == 1:
                X, y, w = self.X, self.y, self.w
            else:
                X = np.ascontiguousarray(self.X[::m])
                y = np.ascontiguousarray(self.y[::m])
                w = None if self.w is None else np.ascontiguousarray(self.w[::m])
            self._subsample = X, y, w, float(X.shape[0] if w is None else w.sum())
        return self._subsample

    def losses_along(self, coef, direction, steps):
        """One pass: ``sum_n w_n CE_n`` at ``coef + t * direction`` for each ``t`` in ``steps``.

        ``eta = X coef^T`` and ``deta = X direction^T`` come from one product
        per sub-block; each step then costs a log-sum-exp of ``eta + t deta``.
        """
        self._count("ladder")
        steps = np.asarray(steps, dtype=np.float64).ravel()
        return _blocks.losses_along(self.X, self.y, self.w, self._softmax_coef(coef),
                                    self._softmax_coef(direction), steps, self.fit_intercept)

    def hessian_vector_product(self, coef, vector):
        """One pass: ``H(coef) @ vector`` in the ``(k, p)`` layout, no Hessian formed.

        ``(H v)_i = sum_n w_n x_n p_ni (s_ni - sum_j p_nj s_nj)``, ``s_n = V x_n``.
        Consecutive products at the same ``coef`` (CG) share the float32
        probabilities of the cache when it fits (module docstring); a new
        ``coef`` (compared exactly) refills it, unless ``stats(coef,
        hessian=False)`` already left them there.
        """
        self._count("hvp")
        if self.caches_proba and self.proba_cache is None:
            self.proba_cache = _kernel.ProbaCache(self.X.shape[0], self.n_classes)
        # one pass of the block kernel (per-thread row blocks)
        out = _kernel.hessian_vector_product(self.X, self.w, self._softmax_coef(coef),
                                             self._softmax_coef(vector), self.fit_intercept,
                                             self.n_threads, cache=self.proba_cache)
        return out[1:] if self.binary else out

    # -- client side -------------------------------------------------------------
    def hessian(self, pairs):
        """Full data Hessian ``(k p, k p)`` class-major (binary ``(p, p)``) from ``pairs``."""
        return _loss.hessian_from_pairs(pairs, self.k, self.p, self.binary)


def smallest_positive_weight(w):
    """The smallest positive entry of the weights ``w`` (None: unit weights, 1.0);
    0.0 when none is positive."""
    if w is None:
        return 1.0
    positive = w[w > 0]
    return float(positive.min()) if positive.size else 0.0
