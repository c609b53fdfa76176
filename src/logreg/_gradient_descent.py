"""The seed's gradient descent: a slow baseline next to Newton's method.

Same objective and normalization as the Newton solver (``logreg._state``).
"""
import time
import warnings

import numpy as np

from . import _loss
from ._exceptions import ConvergenceWarning



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
