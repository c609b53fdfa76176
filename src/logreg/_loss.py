"""Loss, gradient and Hessian of multinomial and binary logistic regression.

Layout (every other module follows this docstring)
--------------------------------------------------
``X`` is ``(n, d)``, float32 or float64, any memory order; it is never copied
and never extended with a column of ones.  ``p = d + fit_intercept``.

``coef`` is a ``(k, p)`` float64 array: row ``i`` belongs to class ``i``,
column ``a < d`` to feature ``a`` and, when ``fit_intercept``, the last column
is the intercept.

* multinomial (``k >= 3`` classes in the estimator): ``eta_ni = x_n . coef_i``
  and ``P = softmax(eta)``.
* binary: ``k = 1``; the single row belongs to the positive class
  (``y = 1``) and ``P(y=1 | x) = expit(x . coef_0)``, scikit-learn's binary
  model.

``y`` holds integer class codes: ``0..k-1`` (multinomial) or ``0/1``
(binary).  ``w`` is None (unit weights) or a C-ordered float64 vector.

The data term is the *unpenalized, unnormalized* weighted cross-entropy
``L(coef) = sum_n w_n CE_n`` with ``CE_n = -log P(y_n | x_n)``.  Gradients
have the layout of ``coef``.  The Hessian is class-major, ``(k p, k p)``:
coordinate (class ``i``, column ``a``) sits at ``i * p + a`` (binary:
``(p, p)``).  It comes from the kernel's packed pair products ``pairs``,
``(K, p(p+1)/2)``: ``K = k(k-1)/2`` multinomial, ``K = 1`` binary with
``P = [1 - p, p]`` so that ``M_01 = X^T diag(w p (1-p)) X`` *is* the Hessian.

The L2 penalty is ``0.5 * ||coef[:, :d]||^2``: the intercept is never
penalized.  Combining data term and penalty (``C``, normalization) is the
solver's business (``logreg._newton``).

No ``n x d`` temporaries: float32 ``X`` enters matrix products in row chunks
converted to float64 (exact), so accumulation is float64 throughout.
"""
import functools

import numpy as np
from scipy.special import expit

from . import _hessian, _kernel

_FLOAT_MAX = np.finfo(np.float64).max

# Rows per chunk when a float32 X meets float64 operands: about 4 MiB of float64.
_CHUNK_BYTES = 1 << 22


def _chunks(n, d):
    step = max(256, _CHUNK_BYTES // (8 * max(d, 1)))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def x_dot(X, B):
    """``X @ B`` in float64, ``B`` of shape ``(d, m)``."""
    if X.dtype == np.float64:
        return X @ B
    out = np.empty((X.shape[0], B.shape[1]))
    for rows in _chunks(*X.shape):
        out[rows] = X[rows].astype(np.float64) @ B
    return out


def xt_dot(X, R):
    """``X^T @ R`` in float64, ``R`` of shape ``(n, m)``."""
    if X.dtype == np.float64:
        return X.T @ R
    out = np.zeros((X.shape[1], R.shape[1]))
    for rows in _chunks(*X.shape):
        out += X[rows].astype(np.float64).T @ R[rows]
    return out


def linear_predictor(X, coef, fit_intercept):
    """Logits ``eta``, shape ``(n, k)``: ``X @ coef[:, :d].T`` plus the intercepts."""
    d = X.shape[1]
    eta = x_dot(X, np.ascontiguousarray(coef[:, :d].T))
    if fit_intercept:
        eta += coef[:, d]
    return eta


# ---------------------------------------------------------------------------
# Pointwise pieces: log-sum-exp forms that never overflow and avoid cancellation
# ---------------------------------------------------------------------------

def _lse_parts(eta, axis=1):
    """Max ``m``, ``log1p(s)`` with ``s = sum_{j != argmax} exp(eta_j - m)``, along ``axis``.

    ``logsumexp(eta) = m + log1p(s)``: splitting off the largest term keeps
    the log accurate when one class dominates (``s`` tiny).
    """
    top = np.expand_dims(eta.argmax(axis=axis), axis)
    m = np.take_along_axis(eta, top, axis)
    with np.errstate(over="ignore"):    # eta - m below -FLOAT_MAX: exp gives 0 anyway
        E = np.exp(eta - m)
    np.put_along_axis(E, top, 0.0, axis)
    return m, np.log1p(E.sum(axis=axis, keepdims=True))


def log_softmax(eta, axis=1):
    """``log softmax(eta)`` along ``axis`` (the classes: row-wise by default, class-major
    blocks ``(k, rows)`` with ``axis=0``); finite (or -inf) for any non-NaN ``eta``.

    Formed as ``(eta - m) - log1p(s)``: ``eta - (m + log1p(s))`` would round
    ``log1p(s)`` away against a large ``m`` (two tied logits of 1e18 would
    each get probability 1).  ``eta - m`` is exact near the maximum, so rows
    of ``exp`` sum to 1 to rounding whatever the size of the logits.  Logits
    that overflowed to +-inf count as +-FLOAT_MAX (the limit of the softmax).
    """
    eta = np.clip(eta, -_FLOAT_MAX, _FLOAT_MAX)
    m, l1p = _lse_parts(eta, axis)
    with np.errstate(over="ignore"):
        return (eta - m) - l1p


def softmax(eta, axis=1):
    """``softmax(eta)`` along ``axis``; it sums to 1 to rounding (``log_softmax``)."""
    return np.exp(log_softmax(eta, axis))


def class_log_proba(eta):
    """Log class probabilities ``(n, max(2, k))`` from the estimator's logits
    ``(n, k)``: ``log_softmax``, or for one column (binary) the logistic model."""
    if eta.shape[1] == 1:
        z = eta[:, 0]
        return np.column_stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])
    return log_softmax(eta)


def class_proba(eta):
    """Class probabilities ``(n, max(2, k))`` from the estimator's logits (``class_log_proba``)."""
    if eta.shape[1] == 1:
        z = eta[:, 0]
        return np.column_stack([expit(-z), expit(z)])
    return softmax(eta)


def multinomial_pointwise(eta, y):
    """Per-sample cross-entropy ``CE_n`` and probabilities ``P`` (C-ordered)."""
    log_p = log_softmax(eta)
    return -log_p[np.arange(eta.shape[0]), y], np.exp(log_p)


def binary_pointwise(eta, y):
    """Per-sample cross-entropy and ``P(y=1)`` for logits ``eta`` (1-D).

    ``CE = log(1 + exp(-s eta))`` with ``s = +1`` for ``y = 1`` and ``-1`` for
    ``y = 0``: one ``logaddexp``, no cancellation for confident predictions.
    """
    sign = 1.0 - 2.0 * y          # -1 for y = 1, +1 for y = 0
    ce = np.logaddexp(0.0, sign * eta)
    return ce, expit(eta)


def _weighted_sum(values, w):
    return float(values.sum() if w is None else w @ values)


def multinomial_loss(eta, y, w):
    """``sum_n w_n CE_n`` from logits ``(n, k)``."""
    return _weighted_sum(multinomial_pointwise(eta, y)[0], w)


def binary_loss(eta, y, w):
    """``sum_n w_n CE_n`` from logits ``(n,)`` or ``(n, 1)``."""
    return _weighted_sum(binary_pointwise(eta.reshape(-1), y)[0], w)


def _residual_multinomial(P, y, w):
    """``w_n (p_ni - [i = y_n])``; the entry of the true class as ``-sum_{j != y} p_nj``."""
    n = P.shape[0]
    R = P.copy()
    R[np.arange(n), y] = 0.0
    R[np.arange(n), y] = -R.sum(axis=1)
    if w is not None:
        R *= w[:, None]
    return R


def _residual_binary(eta, y, w):
    """``w_n (p_n - y_n)``, as ``-expit(-eta)`` for y = 1 (no ``p - 1`` cancellation)."""
    sign = 1.0 - 2.0 * y
    r = sign * expit(sign * eta)
    if w is not None:
        r *= w
    return r[:, None]


def _gradient(X, R, fit_intercept):
    """``(k, p)`` gradient from weighted residuals ``R`` ``(n, k)``."""
    d = X.shape[1]
    grad = np.empty((R.shape[1], d + bool(fit_intercept)))
    grad[:, :d] = xt_dot(X, R).T
    if fit_intercept:
        grad[:, d] = R.sum(axis=0)
    return grad


# ---------------------------------------------------------------------------
# The data term behind one function each: a fused kernel may replace the bodies
# ---------------------------------------------------------------------------

def loss_gradient(X, y, w, coef, fit_intercept):
    """Multinomial ``(L, grad)`` (no Hessian)."""
    eta = linear_predictor(X, coef, fit_intercept)
    ce, P = multinomial_pointwise(eta, y)
    return _weighted_sum(ce, w), _gradient(X, _residual_multinomial(P, y, w), fit_intercept)


def binary_loss_gradient(X, y, w, coef, fit_intercept):
    """Binary ``(L, grad)`` (no Hessian); ``coef`` is ``(1, p)``."""
    eta = linear_predictor(X, coef, fit_intercept)[:, 0]
    ce, _ = binary_pointwise(eta, y)
    return _weighted_sum(ce, w), _gradient(X, _residual_binary(eta, y, w), fit_intercept)


def loss_gradient_hessian(X, y, w, coef, fit_intercept, n_threads):
    """Multinomial data term at ``coef``: ``(L, grad (k, p), pairs (K, p(p+1)/2))``."""
    eta = linear_predictor(X, coef, fit_intercept)
    ce, P = multinomial_pointwise(eta, y)
    grad = _gradient(X, _residual_multinomial(P, y, w), fit_intercept)
    pairs = _kernel.pair_products(X, P, w, fit_intercept, n_threads)
    return _weighted_sum(ce, w), grad, pairs


def binary_loss_gradient_hessian(X, y, w, coef, fit_intercept, n_threads):
    """Binary data term at ``coef`` ``(1, p)``: ``(L, grad (1, p), pairs (1, p(p+1)/2))``."""
    eta = linear_predictor(X, coef, fit_intercept)[:, 0]
    ce, _ = binary_pointwise(eta, y)
    grad = _gradient(X, _residual_binary(eta, y, w), fit_intercept)
    P = np.empty((eta.shape[0], 2))
    P[:, 0] = expit(-eta)   # both computed directly: p (1 - p) without cancellation
    P[:, 1] = expit(eta)
    pairs = _kernel.pair_products(X, P, w, fit_intercept, n_threads)
    return _weighted_sum(ce, w), grad, pairs


@functools.lru_cache(maxsize=64)
def _upper_indices(p):
    """``np.triu_indices(p)``, made once per p (it costs more than a small binary
    Newton iteration's arithmetic)."""
    upper = np.triu_indices(p)
    for index in upper:
        index.flags.writeable = False
    return upper


def hessian_from_pairs(pairs, k, p, binary):
    """Full symmetric data Hessian: ``(k p, k p)`` class-major, or ``(p, p)`` binary."""
    if binary:
        H = np.empty((p, p))
        upper = _upper_indices(p)       # row-wise packed order, as the kernel's
        H[upper] = pairs[0]
        H[upper[::-1]] = pairs[0]
        return H
    H = np.empty((k * p, k * p))
    _hessian.hessian_from_pairs(np.ascontiguousarray(pairs), k, p, H)
    return H


# ---------------------------------------------------------------------------
# L2 penalty: 0.5 ||coef[:, :d]||^2, intercept unpenalized
# ---------------------------------------------------------------------------

def penalty_mask(k, p, fit_intercept):
    """``(k, p)`` array: 1.0 on penalized coordinates, 0.0 on the intercepts."""
    mask = np.ones((k, p))
    if fit_intercept:
        mask[:, -1] = 0.0
    return mask


def l2_penalty(coef, fit_intercept):
    """``0.5 ||coef[:, :d]||^2``."""
    W = coef[:, :-1] if fit_intercept else coef
    return 0.5 * float(np.einsum("ij,ij->", W, W))     # no temporary
