"""Per-row-block data passes in NumPy.

The losses along a ladder of step sizes (line search), used by the in-memory
and the Dask oracles, and Hessian-vector products (Hessian-free Newton), used
by the Dask oracle and as the NumPy oracle of the kernel's
``_kernel.hessian_vector_product`` in the tests (the in-memory oracle calls
the kernel).  Both read X in cache-sized sub-blocks, class-major, so nothing
of size ``n x k`` or ``n x d`` is made.
"""
import numpy as np

from ._loss import log_softmax, softmax

# Elements of a sub-block temporary (rows x max(k, d)): 2 MiB of float64,
# small enough to stay in cache, large enough that each sub-block's fixed
# Python and NumPy call overhead stays small against its arithmetic (with much
# smaller sub-blocks the overhead becomes a sizeable share of a pass).
SUB_ELEMS = 1 << 18


def row_blocks(n, k, d):
    """Row slices small enough that a sub-block's ``k x rows`` temporaries (and
    a float32 sub-block converted to float64) stay in cache."""
    step = max(256, SUB_ELEMS // max(k, d))
    return [slice(s, min(s + step, n)) for s in range(0, n, step)]


def as_float64(Xs):
    """A float64 view of a sub-block (a sub-block-sized copy only for float32)."""
    return Xs if Xs.dtype == np.float64 else Xs.astype(np.float64)


def logits_t(Xs, coef, fit_intercept):
    """Class-major logits ``coef[:, :d] Xs^T (+ coef[:, d])``, shape ``(k, rows)``.

    Class-major so that the per-sample reductions over classes (max, sum) run
    along axis 0, vectorized over samples: a reduction along a short
    contiguous axis runs a short inner loop per sample, which NumPy does
    much more slowly.
    """
    d = Xs.shape[1]
    eta = coef[:, :d] @ Xs.T
    if fit_intercept:
        eta += coef[:, d:]
    return eta


def add_xt(out, Rt, Xs, fit_intercept):
    """``out += Rt [Xs, 1]``: a residual ``(k, rows)`` times a sub-block of X."""
    d = Xs.shape[1]
    out[:, :d] += Rt @ Xs
    if fit_intercept:
        out[:, d] += Rt.sum(axis=1)


def losses_along(X, y_codes, sample_weight, coef, direction, steps, fit_intercept):
    """Losses of one row block at ``coef + t * direction`` for every ``t`` in ``steps``.

    ``eta = X coef^T`` and ``deta = X direction^T`` come from one product
    (``X`` is read once); each step then costs ``O(n k)``: the log-sum-exp of
    ``eta + t deta``.
    """
    n, d = X.shape
    k = coef.shape[0]
    both = np.concatenate([coef, direction])
    losses = np.zeros(len(steps))
    for rows in row_blocks(n, k, d):
        E = logits_t(as_float64(X[rows]), both, fit_intercept)
        eta, deta = E[:k], E[k:]
        pick = y_codes[rows], np.arange(E.shape[1])
        w = None if sample_weight is None else sample_weight[rows]
        Z = np.empty_like(eta)
        for i, t in enumerate(steps):
            np.multiply(deta, t, out=Z)
            Z += eta
            terms = -log_softmax(Z, axis=0)[pick]
            losses[i] += terms.sum() if w is None else w @ terms
    return losses


def hessian_vector_product(X, sample_weight, coef, vector, fit_intercept):
    """``H v`` of one row block, ``(k, p)``, without forming ``H``.

    ``(H v)_i = sum_n w_n x_n p_ni (s_ni - sum_j p_nj s_nj)`` with
    ``s_n = V x_n`` (``V = vector`` in the ``coef`` layout).
    """
    n, d = X.shape
    k = coef.shape[0]
    both = np.concatenate([coef, vector])
    out = np.zeros_like(coef)
    for rows in row_blocks(n, k, d):
        Xs = as_float64(X[rows])
        E = logits_t(Xs, both, fit_intercept)
        P, Q = softmax(E[:k], axis=0), E[k:]
        Q *= P
        R = Q - P * Q.sum(axis=0)
        if sample_weight is not None:
            R *= sample_weight[rows]
        add_xt(out, R, Xs, fit_intercept)
    return out
