"""Shared helpers for the solver and estimator tests: problems and the objective."""
import numpy as np

from logreg import _loss


def make_classification(n=300, d=5, k=3, *, seed=0, weighted=False, scale=1.0, dtype=np.float64):
    """Overlapping Gaussian classes (a finite optimum): X, y, sample_weight."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(scale=scale, size=(d, k))
    logits = X @ W + rng.gumbel(size=(n, k))
    y = logits.argmax(axis=1)
    w = rng.uniform(0.1, 3.0, size=n) if weighted else None
    return X.astype(dtype), y, w


def objective(model, X, y, sample_weight=None):
    """scikit-learn's objective ``C * sum w CE + 0.5 ||coef||^2`` at a fitted model's
    coefficients (the sum of w CE alone when unpenalized); ``y`` are class codes."""
    coef = np.column_stack([model.coef_, model.intercept_])
    X = np.asarray(X, dtype=np.float64)
    eta = _loss.linear_predictor(X, coef, True)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if coef.shape[0] == 1:
        L = _loss.binary_loss(eta, y, w)
    else:
        L = _loss.multinomial_loss(eta, y, w)
    C = getattr(model, "C", 1.0)
    if getattr(model, "penalty", "l2") is None or not np.isfinite(C):
        return L
    return C * L + 0.5 * float(np.sum(model.coef_**2))
