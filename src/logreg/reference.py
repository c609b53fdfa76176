"""The seed algorithm in plain NumPy: the test oracle and the benchmark baseline.

This reproduces "Logistic Regression: the good parts" (``shared/seed/``):
a softmax forward pass, the cross-entropy and its gradient, a double loop
over class pairs that fills the Hessian, a Newton update through ``pinv``,
and plain gradient descent.  It is deliberately simple and slow; the fast
path never calls it.

Layouts
-------
The seed keeps the weights as ``W`` of shape ``(p, k)`` (features x classes)
and its Hessian *feature-major*: ``HT[a, i, c, j]`` reshaped to ``(p k, p k)``,
so coordinate ``(feature a, class i)`` sits at index ``a * k + i``.

``logreg.hessian`` is *class-major*: the same coordinate sits at
``i * p + a`` (one ``p x p`` block per class pair).  With
``perm = class_major_order(p, k)``::

    H_class_major = H_feature_major[np.ix_(perm, perm)]
    W.T.ravel()   = W.ravel()[perm]          # coefficient vectors likewise

When ``fit_intercept`` is true the seed's ``X`` carries a trailing column of
ones, so the intercept is feature ``p - 1`` of every class.
"""
import numpy as np
from numpy.linalg import pinv


def add_intercept(X):
    """X with a trailing column of ones (a copy: the seed's way)."""
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def class_major_order(p, k):
    """Index array ``perm`` with ``perm[i * p + a] = a * k + i``."""
    return (np.arange(p)[None, :] * k + np.arange(k)[:, None]).ravel()


def to_class_major(H_feature_major, p, k):
    """Permute a seed (feature-major) Hessian into logreg's class-major layout."""
    perm = class_major_order(p, k)
    return H_feature_major[np.ix_(perm, perm)]


def one_hot(y, k):
    """``(n, k)`` indicator matrix of integer labels ``0..k-1``."""
    Y = np.zeros((len(y), k))
    Y[np.arange(len(y)), np.asarray(y, dtype=np.intp)] = 1.0
    return Y


def softmax(Z):
    """Row-wise softmax, shifted by the row maximum so it never overflows."""
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def forward(X, W):
    """Class probabilities ``softmax(X W)`` (the seed's ``_forward``)."""
    return softmax(np.dot(X, W))


def cross_entropy(Y, P, sample_weight=None):
    """``-sum_n w_n sum_i y_ni log p_ni`` (not averaged)."""
    w = np.ones(len(Y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(Y > 0, Y * np.log(P), 0.0)
    return -float(np.dot(w, terms.sum(axis=1)))


def gradient(X, Y, P, sample_weight=None):
    """``X^T diag(w) (P - Y)``, shape ``(p, k)`` (the seed's ``G``)."""
    R = P - Y
    if sample_weight is not None:
        R = R * np.asarray(sample_weight, dtype=float)[:, None]
    return np.dot(X.T, R)


def hessian(X, P, sample_weight=None):
    """The seed's Hessian, feature-major ``(p k, p k)``: a double loop over class pairs.

    ``HT[:, i, :, j] = X^T diag(w p_i (delta_ij - p_j)) X``.
    """
    X = np.asarray(X, dtype=np.float64)
    n, p = X.shape
    k = P.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    HT = np.zeros((p, k, p, k))
    for i in range(k):
        for j in range(k):
            r = np.multiply(P[:, i], (i == j) - P[:, j]) * w  # r can be negative: no sqrt
            HT[:, i, :, j] = np.dot(np.multiply(X.T, r), X)
    return np.reshape(HT, (p * k, p * k))


def newton_step(X, Y, W, sample_weight=None):
    """One seed Newton update ``W - pinv(H) G`` (feature-major vectors)."""
    P = forward(X, W)
    H = hessian(X, P, sample_weight)
    G = gradient(X, Y, P, sample_weight)
    return (W.reshape(-1) - np.dot(pinv(H), G.reshape(-1))).reshape(W.shape)


def gd_step(X, Y, W, learning_rate, sample_weight=None):
    """One seed gradient-descent update ``W - lr G``."""
    P = forward(X, W)
    return W - learning_rate * gradient(X, Y, P, sample_weight)


def fit(X, y, n_classes=None, *, method="newton", iterations=10, learning_rate=0.01,
        sample_weight=None, fit_intercept=False):
    """The seed's training loop from ``W = 0``; returns ``W`` of shape ``(p, k)``.

    ``method`` is ``"newton"`` (pinv Newton) or ``"gd"`` (gradient descent with
    a fixed ``learning_rate``).  No penalty, no line search: the seed's
    algorithm as written.
    """
    X = add_intercept(X) if fit_intercept else np.asarray(X, dtype=np.float64)
    k = int(np.max(y)) + 1 if n_classes is None else n_classes
    Y = one_hot(y, k)
    W = np.zeros((X.shape[1], k))
    for _ in range(iterations):
        if method == "newton":
            W = newton_step(X, Y, W, sample_weight)
        elif method == "gd":
            W = gd_step(X, Y, W, learning_rate, sample_weight)
        else:
            raise ValueError(f"method must be 'newton' or 'gd'; got {method!r}.")
    return W
