"""The original algorithm in plain NumPy: the test oracle and the benchmark baseline.

This reproduces "Logistic Regression: the good parts", the project's seed:
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
    """``X`` with a trailing column of ones (a copy, as the original algorithm makes).

    Parameters
    ----------
    X : array-like of shape (n, d)

    Returns
    -------
    ndarray of shape (n, d + 1)
    """
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def class_major_order(p, k):
    """The permutation from the feature-major to the class-major layout.

    Parameters
    ----------
    p : int
        Coefficients per class (features, plus one with an intercept).
    k : int
        Number of classes.

    Returns
    -------
    ndarray of shape (p * k,)
        ``perm`` with ``perm[i * p + a] = a * k + i``.
    """
    return (np.arange(p)[None, :] * k + np.arange(k)[:, None]).ravel()


def to_class_major(H_feature_major, p, k):
    """Permute a feature-major Hessian (``hessian``) into logreg's class-major layout.

    Parameters
    ----------
    H_feature_major : ndarray of shape (p * k, p * k)
    p : int
        Coefficients per class.
    k : int
        Number of classes.

    Returns
    -------
    ndarray of shape (p * k, p * k)
        The layout of ``logreg.hessian``.
    """
    perm = class_major_order(p, k)
    return H_feature_major[np.ix_(perm, perm)]


def one_hot(y, k):
    """Indicator matrix of integer labels.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels ``0 .. k-1``.
    k : int
        Number of classes.

    Returns
    -------
    ndarray of shape (n, k)
    """
    Y = np.zeros((len(y), k))
    Y[np.arange(len(y)), np.asarray(y, dtype=np.intp)] = 1.0
    return Y


def softmax(Z):
    """Row-wise softmax, shifted by the row maximum so it never overflows.

    Parameters
    ----------
    Z : ndarray of shape (n, k)
        Logits.

    Returns
    -------
    ndarray of shape (n, k)
        Probabilities; each row sums to one.
    """
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def forward(X, W):
    """Class probabilities ``softmax(X W)``.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    W : ndarray of shape (p, k)

    Returns
    -------
    ndarray of shape (n, k)
    """
    return softmax(np.dot(X, W))


def cross_entropy(Y, P, sample_weight=None):
    """The weighted cross-entropy ``-sum_n w_n sum_i y_ni log p_ni`` (not averaged).

    Parameters
    ----------
    Y : ndarray of shape (n, k)
        One-hot labels (``one_hot``).
    P : ndarray of shape (n, k)
        Probabilities.
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    float
    """
    w = np.ones(len(Y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(Y > 0, Y * np.log(P), 0.0)
    return -float(np.dot(w, terms.sum(axis=1)))


def gradient(X, Y, P, sample_weight=None):
    """The gradient of ``cross_entropy`` in ``W``: ``X^T diag(w) (P - Y)``.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    Y : ndarray of shape (n, k)
        One-hot labels.
    P : ndarray of shape (n, k)
        Probabilities at ``W``.
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    ndarray of shape (p, k)
    """
    R = P - Y
    if sample_weight is not None:
        R = R * np.asarray(sample_weight, dtype=float)[:, None]
    return np.dot(X.T, R)


def hessian(X, P, sample_weight=None):
    """The Hessian of ``cross_entropy``, feature-major: a double loop over class pairs.

    ``HT[:, i, :, j] = X^T diag(w p_i (delta_ij - p_j)) X``.

    Parameters
    ----------
    X : array-like of shape (n, p)
    P : ndarray of shape (n, k)
        Probabilities.
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    ndarray of shape (p * k, p * k)
        Coordinate ``(feature a, class i)`` at ``a * k + i`` (``to_class_major``
        gives logreg's layout).
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
    """One Newton update ``W - pinv(H) G`` (feature-major vectors).

    Parameters
    ----------
    X : ndarray of shape (n, p)
    Y : ndarray of shape (n, k)
        One-hot labels.
    W : ndarray of shape (p, k)
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    ndarray of shape (p, k)
    """
    P = forward(X, W)
    H = hessian(X, P, sample_weight)
    G = gradient(X, Y, P, sample_weight)
    return (W.reshape(-1) - np.dot(pinv(H), G.reshape(-1))).reshape(W.shape)


def gd_step(X, Y, W, learning_rate, sample_weight=None):
    """One gradient-descent update ``W - learning_rate * G``.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    Y : ndarray of shape (n, k)
        One-hot labels.
    W : ndarray of shape (p, k)
    learning_rate : float
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    ndarray of shape (p, k)
    """
    P = forward(X, W)
    return W - learning_rate * gradient(X, Y, P, sample_weight)


def fit(X, y, n_classes=None, *, method="newton", iterations=10, learning_rate=0.01,
        sample_weight=None, fit_intercept=False):
    """The original training loop from ``W = 0``: no penalty, no line search.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
        Integer labels ``0 .. k-1``.
    n_classes : int, optional
        ``k``; default ``max(y) + 1``.
    method : {"newton", "gd"}, default="newton"
        Newton's method through ``pinv``, or gradient descent.
    iterations : int, default=10
        Updates to make.
    learning_rate : float, default=0.01
        The fixed step of ``"gd"``.
    sample_weight : array-like of shape (n,), optional
    fit_intercept : bool, default=False
        Append a column of ones to ``X`` (the intercept is its last feature).

    Returns
    -------
    ndarray of shape (p, k)
        ``p = d + fit_intercept``.
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
