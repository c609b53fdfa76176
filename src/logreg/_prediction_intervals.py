"""Confidence intervals of predicted class probabilities.

* Two classes: the Wald interval of the logit ``eta = x theta``,
  ``eta +- z se``, ``se^2 = x' cov x``, mapped through the sigmoid (as
  statsmodels' GLM ``get_prediction``); the reference class gets the
  complementary interval.  Always inside (0, 1), asymmetric near the ends.
* Three or more classes: the delta method on the probability scale,
  ``var p_j = sum_{c, e} D_jc D_je x' cov_ce x`` with ``D_jc = dp_j / d eta_c
  = p_j ([j = c] - p_c)`` over the non-reference classes ``c, e``, and
  ``p_j +- z se_j`` clipped to [0, 1].

``cov`` is that of the result (any ``cov_type``).  Rows are processed in
blocks: the per-row quadratic forms ``x' cov_ce x`` are one matrix product
per block.
"""
import numpy as np
from scipy import special

from ._inference import (
    _check_alpha,
    checked_X,
    design_rows,
    row_block_size,
    softmax_derivative,
)
from ._loss import softmax

__all__ = ["predict_proba_ci"]


def predict_proba_ci(res, X, alpha=0.05):
    """``(n, k, 2)`` lower and upper bounds of every class probability.

    Parameters
    ----------
    res : InferenceResult
    X : array-like of shape (n_samples, n_features)
    alpha : float
        The intervals have coverage ``1 - alpha``.

    Returns
    -------
    ndarray of shape (n_samples, n_classes, 2)
        Classes in ``res.all_classes`` order (``classes_``).
    """
    q = special.ndtri(1.0 - _check_alpha(alpha) / 2.0)
    X = checked_X(res.fit_info, X)
    n = X.shape[0]
    B = res.full_params()
    k, p = B.shape
    others = res.other_indices
    k1 = len(others)
    # cov as (p, k1 * k1 * p): column (c, e, b) holds cov[(c, .), (e, b)]
    cov = res.cov.reshape(k1, p, k1, p).transpose(1, 0, 2, 3).reshape(p, k1 * k1 * p)
    out = np.empty((n, k, 2))
    step = row_block_size(n, k1 * k1 * p + 2 * k)
    for start in range(0, n, step):
        stop = min(start + step, n)
        Xc = design_rows(X, start, stop, res.fit_intercept)
        # quad[n, c, e] = x_n' cov_ce x_n
        quad = np.einsum("ncea,na->nce", (Xc @ cov).reshape(-1, k1, k1, p), Xc)
        eta = Xc @ B.T
        if k == 2:
            out[start:stop] = _binary_intervals(eta, quad[:, 0, 0], others[0], q)
        else:
            out[start:stop] = _multinomial_intervals(eta, quad, others, q)
    return out


def _binary_intervals(eta, var, modelled, q):
    logit = eta[:, modelled] - eta[:, 1 - modelled]
    half = q * np.sqrt(np.maximum(var, 0.0))
    lo, hi = special.expit(logit - half), special.expit(logit + half)
    out = np.empty((len(eta), 2, 2))
    out[:, modelled] = np.column_stack([lo, hi])
    out[:, 1 - modelled] = np.column_stack([1.0 - hi, 1.0 - lo])
    return out


def _multinomial_intervals(eta, quad, others, q):
    P = softmax(eta)
    D = softmax_derivative(P, others)     # dp_j / d eta_c, non-reference c
    var = np.einsum("njc,nce,nje->nj", D, quad, D)
    half = q * np.sqrt(np.maximum(var, 0.0))
    return np.stack([np.clip(P - half, 0.0, 1.0), np.clip(P + half, 0.0, 1.0)], axis=-1)
