"""The public face of the Cython kernel: validation, threads, layout."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _hessian
from ._threads import single_threaded_blas
from ._validation import (
    _is_sparse,
    check_n_threads,
    check_out,
    check_proba,
    check_sample_weight,
    check_finite_result,
    check_X,
)

def _aligned(*arrays):
    """The arrays, each aligned to its item size: the kernel's C reads them as
    typed elements.  NumPy makes aligned arrays; unpickled buffers (Dask
    transfers) and odd-offset memmaps may not be, and only those are copied."""
    return [a if a is None or a.flags.aligned else np.require(a, requirements="A")
            for a in arrays]


def pair_products(X, proba, sample_weight, fit_intercept, n_threads, path=None):
    """Packed ``M_ij`` (i < j) from validated inputs: see ``_hessian.pair_products``."""
    X, proba, sample_weight = _aligned(X, proba, sample_weight)
    with single_threaded_blas():
        return _hessian.pair_products(
            X, proba, sample_weight, bool(fit_intercept), n_threads, path=path
        )


def loss_gradient_pairs(X, y_codes, sample_weight, coef, fit_intercept, n_threads,
                        with_pairs=True, path=None, cache=None, pairs_f32=False):
    """Loss, gradient and packed pair products in one pass over X, from validated inputs.

    See ``_hessian.loss_gradient_pairs`` for the contract (``X`` float32/float64
    in any order, ``y_codes`` intp, ``coef`` (k, p) C-ordered float64); this
    wrapper keeps BLAS single-threaded inside the kernel's threads.

    ``cache``: None, or a ``ProbaCache`` for this X, with ``with_pairs=False``
    only: the pass also leaves the probabilities at ``coef`` in it, exactly as
    the first Hessian-vector product at ``coef`` would (the products at this
    ``coef`` then all read it).  Loss and gradient are the same bits either way.

    ``pairs_f32``: the pair products in float32 on the kernel's gemm route
    (approximate Hessians only; see ``_hessian.pair_products``).
    """
    X, y_codes, sample_weight, coef = _aligned(X, y_codes, sample_weight, coef)
    proba = None
    if cache is not None:
        cache.check_shape(X.shape[0], coef.shape[0])
        cache.invalidate()      # stays invalid if the pass fails half-way
        proba = cache.proba
    with single_threaded_blas():
        out = _hessian.loss_gradient_pairs(
            X, y_codes, sample_weight, coef, bool(fit_intercept), n_threads,
            with_pairs=with_pairs, path=path, proba=proba, pairs_f32=pairs_f32,
        )
    if cache is not None:
        cache.coef = np.array(coef, dtype=np.float64)
    return out


class ProbaCache:
    """The class probabilities at one ``coef``, kept for Hessian-vector products.

    Conjugate gradients multiplies by the Hessian at the same ``coef`` many
    times; with a cache the first product at a ``coef`` writes the softmax
    probabilities (n, k) as float32 and the next ones read them instead of
    computing the logits of ``coef`` and the softmax (a third of the flops).
    float32 is enough: the products only steer CG (the gradient stays exact),
    and every product, filling or reading, is computed from the rounded
    probabilities renormalised in float64, i.e. it is exactly the Hessian at
    probabilities within float32 rounding of the true ones (symmetric PSD, the
    same operator for every product at that ``coef``).

    A cache belongs to one X (and ``fit_intercept``): its owner (the in-memory
    oracle) makes it for its data.  ``holds(coef)`` compares ``coef`` exactly
    with a private copy of the one the probabilities belong to.
    """

    # the buffer may take at most this share of X's bytes (see ``fits``)
    MAX_SHARE_OF_X = 0.5

    def __init__(self, n, k):
        self.proba = np.empty((n, k), dtype=np.float32)
        self.coef = None

    @classmethod
    def fits(cls, X, k):
        """True when an (n, k) float32 cache takes at most half of X's bytes
        (``4 n k <= 0.5 X.nbytes``: k <= d for float64 X, k <= d / 2 for float32)."""
        n = X.shape[0]
        return n > 0 and 4 * n * k <= cls.MAX_SHARE_OF_X * X.nbytes

    def holds(self, coef):
        """True when ``proba`` holds the probabilities at exactly this ``coef``."""
        return (self.coef is not None and self.coef.shape == coef.shape
                and np.array_equal(self.coef, coef))

    def invalidate(self):
        self.coef = None

    def check_shape(self, n, k):
        """A ValueError unless this cache is for n samples and k classes."""
        if self.proba.shape != (n, k):
            raise ValueError(f"the cache has shape {self.proba.shape}, the problem ({n}, {k}).")

    @property
    def nbytes(self):
        return self.proba.nbytes


def hessian_vector_product(X, sample_weight, coef, vector, fit_intercept, n_threads,
                           cache=None):
    """``H(coef) @ vector`` ``(k, p)`` in one pass over X, from validated inputs.

    The contract of ``logreg._blocks.hessian_vector_product`` plus ``n_threads``
    (see ``_hessian.hessian_vector_product``): ``X`` float32/float64 in any
    order (never copied), ``sample_weight`` None or C-ordered float64,
    ``coef`` and ``vector`` (k, p) float64 softmax rows (binary: ``[0, beta]``).
    Bit-for-bit the same for any ``n_threads``.

    ``cache``: None, or a ``ProbaCache`` of shape (n, k) for this X: filled when
    it does not hold ``coef`` (then it does), read otherwise.  Products with a
    cache use float32-rounded probabilities (``ProbaCache``); filling and
    reading give bit-identical products.
    """
    coef = np.ascontiguousarray(coef, dtype=np.float64)
    vector = np.ascontiguousarray(vector, dtype=np.float64)
    X, sample_weight, coef, vector = _aligned(X, sample_weight, coef, vector)
    if cache is None:
        with single_threaded_blas():
            return _hessian.hessian_vector_product(
                X, sample_weight, coef, vector, bool(fit_intercept), n_threads
            )
    cache.check_shape(X.shape[0], coef.shape[0])
    fill = not cache.holds(coef)
    if fill:
        cache.invalidate()      # stays invalid if the product fails half-way
    with single_threaded_blas():
        out = _hessian.hessian_vector_product(
            X, sample_weight, coef, vector, bool(fit_intercept), n_threads,
            proba=cache.proba, fill=fill,
        )
    if fill:
        cache.coef = coef.copy()
    return out


def hessian(X: ArrayLike, proba: ArrayLike, sample_weight: ArrayLike | None = None, *,
            fit_intercept: bool = False, out: NDArray[np.float64] | None = None,
            n_threads: int | None = None) -> NDArray[np.float64]:
    """Block Hessian of the weighted multinomial cross-entropy.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        float32 or float64, C- or F-ordered, read-only allowed; never copied.
        Other real dtypes are converted to float64.  Sparse X (CSR, CSC, or
        another format converted to CSR) is never densified: its pair
        products come from each row's sparse outer product.
    proba : array-like of shape (n_samples, n_classes)
        Class probabilities; each row sums to 1.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights (zeros allowed).
    fit_intercept : bool
        Append a constant 1 to each row: the intercept is the last
        coordinate of each class block.
    out : ndarray of shape (m, m), float64, C-contiguous, optional
        Written in place and returned.
    n_threads : int, optional
        Threads for the kernel: None follows the OpenMP limit in force
        (``OMP_NUM_THREADS``, threadpoolctl) within the available cores, -1
        uses every available core.  The result is bit-for-bit identical for
        any thread count.

    Returns
    -------
    H : ndarray of shape (m, m), float64, ``m = n_classes * p``,
        ``p = n_features + fit_intercept``.  Class-major blocks: block ``(i, j)``
        is ``sum_n w_n p_ni (delta_ij - p_nj) x_n x_n^T``.  Full (both
        triangles), symmetric, positive semi-definite.
    """
    n_threads = check_n_threads(n_threads)     # the validation passes use them too
    X = check_X(X, n_threads=n_threads, accept_sparse=True)
    n, d = X.shape
    P = check_proba(proba, n, n_threads=n_threads)
    w = check_sample_weight(sample_weight, n, n_threads=n_threads)
    k = P.shape[1]
    p = d + bool(fit_intercept)
    out = check_out(out, k * p)
    if _is_sparse(X):
        from ._sparse_oracle import hessian_pairs
        pairs = hessian_pairs(X, P, w, fit_intercept, n_threads)
    else:
        pairs = pair_products(X, P, w, fit_intercept, n_threads)
    _hessian.hessian_from_pairs(pairs, k, p, out)
    check_finite_result(out, "the Hessian", n_threads=n_threads)
    return out
