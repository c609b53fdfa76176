"""Preconditioners of Hessian-free Newton-CG, within a memory budget.

Conjugate gradients (``logreg._curvature.ConjugateGradient``) is
preconditioned by an approximation ``M`` of the shifted, penalized system
``scale H + l2 D + N diag(mu) N^T`` (``logreg._state`` explains the shift).
Three kinds, from the most to the least faithful:

* ``"dense"``: the whole ``(k p) x (k p)`` Hessian of a row subsample, one
  Cholesky.  Peak memory about ``DENSE_BYTES_PER_ENTRY (k p)^2`` bytes (the
  pair products, the float64 matrix, its float32 copy and factor).
* ``"block"``: the per-class diagonal blocks of that Hessian (block-Jacobi),
  ``X~^T diag(w p_i (1 - p_i)) X~`` plus ``mu_a / k`` on the free columns, one
  ``p x p`` Cholesky each.  About ``BLOCK_BYTES_PER_ENTRY k p^2`` bytes.
* ``"diagonal"``: the diagonal of that Hessian (Jacobi), ``k p`` numbers.

``choose_kind`` picks the first kind whose memory fits
``PRECONDITIONER_BUDGET_BYTES`` (so the extra memory of a Hessian-free fit is
bounded on every shape) and whose build is cheap against the CG work it saves.  The Kronecker-structured start (``logreg._kronecker``,
``k + 1`` matrices of ``p x p``) counts as a block preconditioner.
"""
import numpy as np

from . import _blocks, _kernel, _loss
from ._kronecker import cho_solve_vector

# Most bytes a preconditioner may take at its peak (documented in the README).
PRECONDITIONER_BUDGET_BYTES = 256 * 2**20
DENSE_BYTES_PER_ENTRY = 20      # of (k p)^2: pairs ~2, float64 8, float32 copy 4, factor 4
BLOCK_BYTES_PER_ENTRY = 8       # of (k + 2) p^2: packed blocks, one unpacked, factors
KINDS = ("dense", "block", "diagonal")
# A preconditioner is rebuilt every few Newton iterations: one that costs more
# than this many Hessian-vector products to build (n ~ p: the subsample is all
# of X, and (k p)^3 or k p^3 factoring flops dominate) saves less CG work than
# it costs, so the next kind is taken.
MAX_BUILD_PRODUCTS = 50
# Rows per kernel call when the class blocks are accumulated.
CHUNK_ROWS = 1 << 14


def nbytes(kind, k, p):
    """Peak bytes of a preconditioner of ``kind`` for ``k`` classes, ``p`` coefficients each."""
    if kind == "dense":
        return DENSE_BYTES_PER_ENTRY * (k * p) ** 2
    if kind == "block":
        return BLOCK_BYTES_PER_ENTRY * (k + 2) * p * p
    return 8 * 4 * k * p


def build_cost(kind, n, rows, k, p):
    """Flops to build (and factor) a preconditioner of ``kind`` from ``rows`` of the
    ``n`` rows, in Hessian-vector products (``4 n p k`` flops each)."""
    if kind == "dense":
        flops = rows * p * p * k * (k - 1) / 4 + (k * p) ** 3 / 3
    elif kind == "block":
        flops = rows * p * p * k / 2 + k * p**3 / 3
    else:
        flops = 4 * rows * p * k
    return flops / (4 * n * p * k)


def choose_kind(n, rows, k, p, budget=None):
    """The most faithful preconditioner kind whose peak memory fits ``budget``
    (default ``PRECONDITIONER_BUDGET_BYTES``, read at each call) and whose build
    costs at most ``MAX_BUILD_PRODUCTS`` Hessian-vector products (``n`` rows,
    ``rows`` of them in the subsample); the diagonal one is the last resort."""
    budget = PRECONDITIONER_BUDGET_BYTES if budget is None else budget
    for kind in KINDS[:-1]:
        if nbytes(kind, k, p) <= budget and build_cost(kind, n, rows, k, p) <= MAX_BUILD_PRODUCTS:
            return kind
    return KINDS[-1]


def class_curvature(X, w, coef, fit_intercept, n_threads, *, diagonal_only):
    """Per-class curvature ``X~^T diag(w p_i (1 - p_i)) X~`` of the softmax rows ``coef``.

    Returns the packed upper triangles ``(k, p(p+1)/2)`` (row-wise, as the
    kernel's pair products), or with ``diagonal_only`` their diagonals
    ``(k, p)``.  Streams over row chunks: besides the result, only a chunk's
    ``rows x k`` probabilities and cache-sized sub-blocks are made.
    """
    n, d = X.shape
    k, p = coef.shape
    out = np.zeros((k, p) if diagonal_only else (k, p * (p + 1) // 2))
    for start in range(0, n, CHUNK_ROWS):
        rows = slice(start, min(start + CHUNK_ROWS, n))
        Xc = X[rows]
        wc = None if w is None else w[rows]
        # (rows, k) probabilities, sub-block by sub-block (no float64 copy of the chunk)
        P = np.empty((Xc.shape[0], k))
        for sub in _blocks.row_blocks(Xc.shape[0], k, d):
            E = _blocks.logits_t(_blocks.as_float64(Xc[sub]), coef, fit_intercept)
            P[sub] = _loss.softmax(E, axis=0).T
        if diagonal_only:
            curvature = P * (1.0 - P)
            if wc is not None:
                curvature *= wc[:, None]
            for sub in _blocks.row_blocks(Xc.shape[0], k, d):
                Xs = _blocks.as_float64(Xc[sub])
                out[:, :d] += curvature[sub].T @ (Xs * Xs)
            if fit_intercept:
                out[:, d] += curvature.sum(axis=0)
            continue
        # block i: the kernel's one pair product of the two "classes" p_i, 1 - p_i
        pair = np.empty((Xc.shape[0], 2))
        for i in range(k):
            pair[:, 0] = P[:, i]
            pair[:, 1] = 1.0 - P[:, i]
            out[i] += _kernel.pair_products(Xc, pair, wc, fit_intercept, n_threads)[0]
    return out


class BlockDiagonalSystem:
    """``M^-1 r`` for a block-diagonal ``M``: one Cholesky factor per class block;
    ``mu`` the shift of the flat directions it includes."""

    def __init__(self, factors, mu):
        self.factors, self.mu = factors, mu

    def solve(self, r):
        R = r.reshape(len(self.factors), -1)
        return np.concatenate([cho_solve_vector(f, ri).astype(np.float64, copy=False)
                               for f, ri in zip(self.factors, R)])


class DiagonalSystem:
    """``M^-1 r`` for a diagonal ``M`` (Jacobi); ``mu`` as ``BlockDiagonalSystem``'s."""

    def __init__(self, diagonal, mu):
        self.diagonal, self.mu = diagonal, mu

    def solve(self, r):
        return r / self.diagonal


def class_diagonal_system(curvature, *, scale, l2, mask, free, factor):
    """The block-Jacobi (packed ``curvature``) or Jacobi (``(k, p)`` curvature) part of
    the shifted, penalized system; returns the system (with its ``mu``) or None
    when a block does not factor.

    ``mu`` maps each free column ``a`` to the shift of the flat directions, the
    mean over the classes of the system's diagonal there (as the dense route's
    ``logreg._state.Problem.shift_free``); the diagonal blocks of ``N diag(mu) N^T``
    add ``mu_a / k`` at ``(a, a)``.  ``factor(M)`` returns a Cholesky factor of
    ``M`` or None (``logreg._curvature.preconditioner_cholesky``).
    """
    k, p = mask.shape
    if curvature.shape == (k, p):
        diagonal = scale * curvature + l2 * mask
        mu = {a: float(diagonal[:, a].mean()) for a in free}
        for a, m in mu.items():
            diagonal[:, a] += m / k
        if not np.all(diagonal > 0):
            return None
        return DiagonalSystem(diagonal.ravel(), mu)
    diagonal = scale * curvature[:, _packed_diagonal(p)] + l2 * mask
    mu = {a: float(diagonal[:, a].mean()) for a in free}
    factors = []
    for i in range(k):
        block = _loss.hessian_from_pairs(curvature[i:i + 1], 1, p, True)
        block *= scale
        block[np.diag_indices(p)] += l2 * mask[i]
        for a, m in mu.items():
            block[a, a] += m / k
        f = factor(block)
        if f is None:
            return None
        factors.append(f)
        del block
    return BlockDiagonalSystem(factors, mu)


def _packed_diagonal(p):
    """Positions of the diagonal in a row-wise packed upper triangle of ``p x p``."""
    i = np.arange(p)
    return i * p - i * (i - 1) // 2
