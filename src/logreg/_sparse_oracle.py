"""The data oracle of a scipy.sparse X: the Newton loop's passes on CSR data.

``sparse_oracle`` returns an oracle of the protocol of ``logreg._protocol``
for a canonical CSR matrix (``logreg._validation.check_X_sparse``), on one of two routes:

* ``SparseOracle`` -- the full block Hessian.  Its pair products come from
  each row's sparse outer product (``_sparse_kernel.pair_products``):
  ``sum_n r_n (r_n + 1) / 2 * K`` multiply-adds, ``r_n`` the non-zeros of row
  ``n`` (plus one for the intercept), instead of ``n p^2 K / 2``.  It also
  offers the zero-slope Gram matrix and row-subsampled Hessians, so the
  solver runs exactly as on dense data (Kronecker start, subsampled steps
  far from the optimum, Cholesky solves).
* ``SparseHessianFreeOracle`` -- Newton-CG on sparse Hessian-vector products
  (``prefers_hessian_free``), with its own CG preconditioner
  (``cg_preconditioner``): the ``k x k`` class blocks of the Hessian's
  diagonal, one per column -- one pass, ``nnz k^2``, ``p k^2`` memory.

``choose_route`` picks the full Hessian when it fits ``HESSIAN_BUDGET_BYTES``
and a statistics pass with pair products plus the Cholesky costs less than
``HESSIAN_FREE_MIN_RATIO`` Hessian-vector products.

Memory model (besides X itself): the CSC index of X (``cindptr``, ``crows``,
``cpos``: ``8 nnz + 8 d`` bytes while n and nnz fit int32, else ``16 nnz + 8 d``;
built once per fit; the column passes of wide X also keep X's values in that
order, ``nnz`` values more), per pass an ``(n, k)`` residual and, on the full route, ``(n, K)`` pair weights; on the full route
the pair products ``K p (p + 1) / 2`` and the solver's ``(k p)^2`` Hessian;
on the Hessian-free route an ``(n, k)`` probability cache and the
preconditioner's ``p k^2``.  So ``O(nnz + (k p)^2)`` and ``O(nnz + n k)``;
X is never densified and never centred (the intercept is a virtual column
of ones).
"""
import numpy as np
import scipy.sparse as sp

from . import _loss, _sparse_kernel
from ._oracle import smallest_positive_weight
from ._protocol import OracleCapabilities

# The full-Hessian route needs the (k p)^2 float64 Hessian (and the solver
# about as much again for its factor); above this it is Hessian-free.
HESSIAN_BUDGET_BYTES = 1 << 29
# Hessian-free once a statistics pass with pair products plus the Cholesky
# costs this many Hessian-vector products: a Newton-CG fit spends a few dozen
# products where an exact Newton fit spends 5-10 such passes.
HESSIAN_FREE_MIN_RATIO = 40.0
# ... and only when that pass costs at least this many flops (small problems:
# a full Newton step is cheap whatever the ratio)
HESSIAN_FREE_MIN_FLOPS = 1e8
# Row subsample of the approximate Hessians (as logreg._oracle).
SUBSAMPLE = 8
SUBSAMPLE_MIN_PER_COORD = 8


class SparseDesign:
    """A canonical CSR X and, built at the first column pass, its CSC index.

    ``cindptr`` (d + 1, intp), ``crows`` and ``cpos`` (nnz, int32 when they
    fit): for column ``a`` the rows of its non-zeros and their positions in the CSR arrays, in row
    order -- what the column passes of the kernel read; ``column_values``
    copies X's values into that order on first use.
    """

    def __init__(self, X):
        self.shape = X.shape
        self.nnz = int(X.nnz)
        self.indptr, self.indices, self.data = X.indptr, X.indices, X.data
        self.dtype = X.data.dtype
        self._csc = None
        self._column_values = None

    # int64 CSC index whatever the size (tests: the layout of the largest X)
    wide_index = False

    @property
    def csc(self):
        if self._csc is None:
            self._csc = _sparse_kernel.csc_index(self.indptr, self.indices, self.shape[1],
                                                 self.wide_index)
        return self._csc

    @property
    def column_values(self):
        """X's values in the order of the CSC index (a copy, made once): the column
        passes then read them in sequence."""
        if self._column_values is None:
            self._column_values = self.data[self.csc[2]]
        return self._column_values

    def row_lengths(self):
        return np.diff(self.indptr)

    def every(self, m):
        """The design of every m-th row (a CSR copy of 1/m of X)."""
        X = sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)[::m]
        X.sort_indices()
        return SparseDesign(X)


def choose_route(design, n_classes, fit_intercept):
    """``"full"`` or ``"hessian-free"`` (module docstring), with the estimates."""
    k = 1 if n_classes == 2 else n_classes
    K = max(1, n_classes * (n_classes - 1) // 2)
    p = design.shape[1] + bool(fit_intercept)
    r = design.row_lengths().astype(np.float64) + bool(fit_intercept)
    pair_flops = 2.0 * K * float(np.sum(r * (r + 1) / 2))
    cholesky_flops = (k * p) ** 3 / 3.0
    hvp_flops = 4.0 * float(r.sum()) * n_classes
    hessian_bytes = 8.0 * (k * p) ** 2
    ratio = (pair_flops + cholesky_flops) / max(hvp_flops, 1.0)
    fits = hessian_bytes <= HESSIAN_BUDGET_BYTES
    cheap = (k == 1 or ratio < HESSIAN_FREE_MIN_RATIO
             or pair_flops + cholesky_flops < HESSIAN_FREE_MIN_FLOPS)
    route = "full" if fits and cheap else "hessian-free"
    return route, dict(hessian_bytes=hessian_bytes, cost_ratio=ratio)


def sparse_oracle(X, y, w, *, k, fit_intercept, n_threads):
    """The oracle for a canonical CSR ``X`` on the route ``choose_route`` picks."""
    design = SparseDesign(X)
    route, _ = choose_route(design, k, fit_intercept)
    cls = SparseOracle if route == "full" else SparseHessianFreeOracle
    return cls(design, y, w, k=k, fit_intercept=fit_intercept, n_threads=n_threads)


def pair_products(design, V, fit_intercept, n_threads):
    """Packed ``[X, 1]^T diag(V[:, q]) [X, 1]``, ``(K, p(p+1)/2)`` (the dense kernel's layout)."""
    cindptr, crows, cpos = design.csc
    out = _sparse_kernel.pair_products(design.indptr, design.indices, design.data, cindptr,
                                       crows, cpos, np.ascontiguousarray(V), fit_intercept,
                                       n_threads)
    return np.ascontiguousarray(out.T)


def pair_weights(P, w):
    """``w_n p_ni p_nj`` for ``i < j``, ``(n, K)``, from probabilities ``(n, k)``."""
    i, j = np.triu_indices(P.shape[1], 1)
    V = P[:, i] * P[:, j]
    if w is not None:
        V *= w[:, None]
    return V


def hessian_pairs(X, P, w, fit_intercept, n_threads):
    """``logreg.hessian``'s pair products for a canonical CSR ``X``."""
    return pair_products(SparseDesign(X), pair_weights(P, w), fit_intercept, n_threads)


class _SparseOracleBase:
    """What both routes share: loss/gradient(/pairs) passes, the step ladder and
    Hessian-vector products (``logreg._oracle`` documents the interface)."""

    def __init__(self, design, y, w, *, k, fit_intercept, n_threads):
        self.design = design
        self.y = np.ascontiguousarray(y, dtype=np.intp)
        self.w = w
        self.n_classes = int(k)
        self.binary = self.n_classes == 2
        self.k = 1 if self.binary else self.n_classes
        self.fit_intercept = bool(fit_intercept)
        self.p = design.shape[1] + self.fit_intercept
        self.n_threads = n_threads
        self.n_passes = 0
        self.pass_log = []
        self.sum_weights = float(design.shape[0] if w is None else w.sum())
        self.hessian_fits = 8.0 * (self.k * self.p) ** 2 <= HESSIAN_BUDGET_BYTES
        self._proba = None          # (coef, P) of the last pass that kept them
        self._coef_t = None         # (coef, its (p, k) softmax transpose) last made

    @property
    def min_positive_weight(self):
        """The smallest positive sample weight (``logreg._protocol``)."""
        return smallest_positive_weight(self.w)

    def _by_columns(self, design):
        """Whether ``design``'s gradient-type products go through an ``(n, k)``
        residual and the column phase (``_sparse_kernel.xt_product``) rather than
        per-segment ``p x k`` buffers: when those buffers would outweigh it (wide X)."""
        n, d = design.shape
        segments = len(_sparse_kernel.segment_bounds(n, design.nnz, self.p, self.n_classes)) - 1
        return segments * self.p > n

    def _count(self, kind):
        self.n_passes += 1
        self.pass_log.append(kind)

    def _softmax_coef_t(self, coef):
        """``(p, k)`` transpose of the softmax rows (binary: ``[0, coef_0]``)."""
        coef = np.asarray(coef, dtype=np.float64)
        if self.binary:
            coef = np.concatenate([np.zeros((1, self.p)), coef])
        return np.ascontiguousarray(coef.T)

    def _coef_t_kept(self, coef):
        """``_softmax_coef_t(coef)``, kept for the next call at the same ``coef``
        (CG's products all are)."""
        if self._coef_t is None or not np.array_equal(self._coef_t[0], coef):
            self._coef_t = (np.array(coef, dtype=np.float64), self._softmax_coef_t(coef))
        return self._coef_t[1]

    def _rows(self, design):
        return design.indptr, design.indices, design.data

    def _statistics(self, design, y, w, coef, *, hessian, keep_proba=False):
        """``(loss, grad (k, p), pairs or None)`` of ``design`` at ``coef``."""
        n = design.shape[0]
        k = self.n_classes
        V = np.empty((n, k * (k - 1) // 2)) if hessian else None
        P = np.empty((n, k)) if keep_proba else None
        R = np.empty((n, k)) if self._by_columns(design) else None
        loss, grad = _sparse_kernel.loss_gradient(*self._rows(design), y, w,
                                                  self._softmax_coef_t(coef),
                                                  self.fit_intercept, V, P, R, self.n_threads)
        if R is not None:
            grad = _sparse_kernel.xt_product(design.csc[0], design.csc[1], design.column_values,
                                             R, self.fit_intercept, self.n_threads)
        if keep_proba:
            self._proba = (np.array(coef, dtype=np.float64), P)
        pairs = None if V is None else pair_products(design, V, self.fit_intercept,
                                                     self.n_threads)
        return float(loss), self._from_transposed(grad), pairs

    def _from_transposed(self, out_t):
        """``(k, p)`` (binary: the positive class's row) from a kernel's ``(p, k)``."""
        return out_t.T[1:].copy() if self.binary else np.ascontiguousarray(out_t.T)

    def stats(self, coef, *, hessian=True):
        """One pass: ``(loss, grad (k, p), pairs (K, p(p+1)/2) or None)`` at ``coef``."""
        if hessian and not self.hessian_fits:
            raise ValueError(
                f"The full Hessian of this problem ((k p)^2 with k*p = {self.k}*{self.p}) "
                f"needs {8 * (self.k * self.p) ** 2 / 2**30:.1f} GiB, above "
                f"logreg._sparse_oracle.HESSIAN_BUDGET_BYTES = "
                f"{HESSIAN_BUDGET_BYTES / 2**30:.2f} GiB. Unpenalized fits need it for the "
                "inference at the optimum: use an L2 penalty (finite C), or fewer features.")
        self._count("stats" if hessian else "loss_gradient")
        return self._statistics(self.design, self.y, self.w, coef, hessian=hessian,
                                keep_proba=not hessian and self.prefers_hessian_free)

    def losses_along(self, coef, direction, steps):
        """One pass: ``sum_n w_n CE_n`` at ``coef + t * direction`` for each ``t``."""
        self._count("ladder")
        steps = np.ascontiguousarray(steps, dtype=np.float64).ravel()
        return _sparse_kernel.losses_along(*self._rows(self.design), self.y, self.w,
                                           self._softmax_coef_t(coef),
                                           self._softmax_coef_t(direction), steps,
                                           self.fit_intercept, self.n_threads)

    def _probabilities(self, coef):
        """``(P, fill)``: the cached probabilities when they are at exactly ``coef``,
        else a buffer the next row pass fills."""
        coef = np.asarray(coef, dtype=np.float64)
        if self._proba is not None and np.array_equal(self._proba[0], coef):
            return self._proba[1], False
        P = self._proba[1] if self._proba is not None else np.empty(
            (self.design.shape[0], self.n_classes))
        self._proba = (coef.copy(), P)
        return P, True

    def hessian_vector_product(self, coef, vector):
        """One pass: ``H(coef) @ vector`` ``(k, p)``; the probabilities at ``coef``
        are kept (``n x k``) for the next products at the same ``coef`` (CG)."""
        self._count("hvp")
        P, fill = self._probabilities(coef)
        R = np.empty_like(P) if self._by_columns(self.design) else None
        out = _sparse_kernel.hessian_vector_product(
            *self._rows(self.design), self.w, self._coef_t_kept(coef),
            self._softmax_coef_t(vector), self.fit_intercept, P, fill, R, self.n_threads)
        if R is not None:
            out = _sparse_kernel.xt_product(self.design.csc[0], self.design.csc[1],
                                            self.design.column_values, R,
                                            self.fit_intercept, self.n_threads)
        return self._from_transposed(out)

    def hessian(self, pairs):
        """Full data Hessian ``(k p, k p)`` class-major (binary ``(p, p)``) from ``pairs``."""
        return _loss.hessian_from_pairs(pairs, self.k, self.p, self.binary)


class SparseOracle(_SparseOracleBase):
    """The full-Hessian route (module docstring)."""

    prefers_hessian_free = False
    route = "full"

    def __init__(self, design, y, w, **kw):
        super().__init__(design, y, w, **kw)
        self._subsample = None
        self.capabilities = OracleCapabilities(
            n_rows=design.shape[0], exact_hessian=self.hessian_fits, approximations=True,
            zero_slope_gram=True, subsample_hessian=True,
            subsample_stride=self.subsample_stride, route=self.route)

    def gram(self, *, subsample=False):
        """``X~^T W X~`` ``(p, p)``: the Hessian's Kronecker factor at zero slopes
        (``subsample``: from the rows of ``subsample_hessian``, scaled to the whole
        sum of weights)."""
        design, _, w, S = self._subsample_rows() if subsample else (
            self.design, None, self.w, self.sum_weights)
        V = np.ones((design.shape[0], 1)) if w is None else w[:, None]
        total = pair_products(design, V, self.fit_intercept, self.n_threads)
        if subsample and S > 0:
            total *= self.sum_weights / S
        return _loss.hessian_from_pairs(total, 1, self.p, True)

    @property
    def subsample_stride(self):
        """m of ``subsample_hessian`` (as ``InMemoryOracle.subsample_stride``)."""
        n = self.design.shape[0]
        return max(1, min(SUBSAMPLE, n // max(1, SUBSAMPLE_MIN_PER_COORD * self.k * self.p)))

    def _subsample_rows(self):
        if self._subsample is None:
            m = self.subsample_stride
            if m == 1:
                design, y, w = self.design, self.y, self.w
            else:
                design = self.design.every(m)
                y = np.ascontiguousarray(self.y[::m])
                w = None if self.w is None else np.ascontiguousarray(self.w[::m])
            self._subsample = design, y, w, float(design.shape[0] if w is None else w.sum())
        return self._subsample

    def subsample_hessian(self, coef, *, single_precision=False):
        """Data Hessian from every m-th row, scaled to the whole sum of weights
        (``single_precision`` is accepted for the interface; the sparse pair
        products are always float64)."""
        design, y, w, S = self._subsample_rows()
        _, _, pairs = self._statistics(design, y, w, coef, hessian=True)
        if S > 0:
            pairs *= self.sum_weights / S
        return self.hessian(pairs)


class SparseHessianFreeOracle(_SparseOracleBase):
    """The Hessian-free route (module docstring): no ``gram``, no subsampled
    Hessians; the solver asks ``cg_preconditioner`` instead."""

    prefers_hessian_free = True
    route = "hessian-free"

    def __init__(self, design, y, w, **kw):
        super().__init__(design, y, w, **kw)
        self.capabilities = OracleCapabilities(
            n_rows=design.shape[0], exact_hessian=self.hessian_fits,
            prefers_hessian_free=True, own_preconditioner=True, route=self.route)

    def cg_preconditioner(self, coef, *, scale, l2, free):
        """Block-diagonal approximation of the solver's shifted, penalized Newton
        matrix ``scale H + diag(l2) + N diag(mu) N^T``: one ``k x k`` block per
        column ``a`` (the class couplings of that column), exact on the
        intercept column.  One pass (``_sparse_kernel.class_blocks``).

        ``l2`` is the ``(k, p)`` penalty diagonal, ``free`` the columns of the
        flat directions; returns an object with ``solve(r)`` and ``mu`` (the
        shift per free column, the solver's definition: the mean diagonal of
        ``scale H + diag(l2)`` over the classes).
        """
        self._count("preconditioner")
        P, fill = self._probabilities(coef)
        if fill:
            _sparse_kernel.loss_gradient(*self._rows(self.design), self.y, self.w,
                                         self._softmax_coef_t(coef), self.fit_intercept,
                                         None, P, np.empty_like(P), self.n_threads)
        blocks = _sparse_kernel.class_blocks(self.design.csc[0], self.design.csc[1],
                                             self.design.column_values, P, self.w,
                                             self.fit_intercept, self.n_threads)
        if self.binary:
            blocks = blocks[:, 1:, 1:]
        return BlockDiagonalPreconditioner(blocks, scale=scale, l2=l2, free=free,
                                           n_threads=self.n_threads)


class BlockDiagonalPreconditioner:
    """``M^-1 r`` for ``M = blockdiag_a(scale B_a + diag(l2[:, a]) + mu_a/k 1 1^T)``.

    Built and applied by the kernel (``invert_blocks``, ``block_solve``): one
    ``k x k`` Cholesky inverse per column, kept in float32 (each solve streams
    ``p k^2`` values, and a preconditioner only steers CG, as the solver's
    float32 Cholesky preconditioners), applied in the solver's ``(k, p)``
    layout without transposes.
    """

    def __init__(self, blocks, *, scale, l2, free, n_threads=1):
        p, k, _ = blocks.shape
        M = np.ascontiguousarray(blocks)    # in place: p k^2 is the largest array of the route
        M *= scale
        idx = np.arange(k)
        M[:, idx, idx] += np.asarray(l2).T
        diag = M[:, idx, idx]
        free = np.asarray(free, dtype=np.intp)
        mu = diag[free].mean(axis=1)
        self.mu = dict(zip(free.tolist(), mu.tolist()))
        shift = np.zeros(p)
        shift[free] = mu / k
        # a column without curvature (an empty column, unpenalized): its residual
        # is zero, any SPD block will do
        scale_ref = max(float(np.max(diag)), np.finfo(float).tiny) if diag.size else 1.0
        dead = np.max(np.abs(diag), axis=1) <= 1e-14 * scale_ref
        M[dead] = np.eye(k) * scale_ref
        shift[dead] = 0.0
        # tiny relative ridge so every block factors (class blocks of a column
        # whose rows all sit in one class are singular)
        M[:, idx, idx] += 1e-10 * np.maximum(diag, 1e-14 * scale_ref)
        self.k, self.p = k, p
        self.n_threads = n_threads
        self.inverse, _ = _sparse_kernel.invert_blocks(M, shift, n_threads)

    def solve(self, r):
        return _sparse_kernel.block_solve(self.inverse, np.ascontiguousarray(r, dtype=np.float64),
                                          self.n_threads)
