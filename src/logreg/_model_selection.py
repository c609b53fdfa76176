"""Model selection and many fits: the warm-started regularization path and
``LogisticRegressionCV``.

The path.  Along ``C`` from the strongest penalty (smallest ``C``) to the
weakest, each fit starts at the previous optimum; the optimum moves little
between neighbouring ``C`` on a log grid, so Newton's method, quadratically
convergent near the optimum, needs a few iterations per ``C`` (fewer the
looser ``tol``), and the first statistics pass of each is the previous
fit's last one (``_PathOracle``).  Every fit of a path shares one data oracle
(``logreg._oracle``).

Memory model of the cross-validation.  ``X`` is validated once and never
copied for training: the training set of a fold is a weight vector,
``sample_weight * class_weight`` inside the fold and zero outside, so each
fold's Newton passes read all of ``X`` (rows of weight zero contribute
nothing but their share of the pass's cost).  Extra memory per fold: that
``(n,)`` weight vector, the oracle's row subsample when an early,
far-from-optimum step uses it (1/8 of ``X``, made at most once per fold,
freed with the fold), and the coefficient path ``n_Cs x k x p``.  Folds run one after the other: at any time one fold's
buffers exist.  Scoring the built-in ``"neg_log_loss"`` and ``"accuracy"``
reads the test rows in chunks of ``SCORE_CHUNK_ROWS`` (a bounded copy);
any other scorer is called, as in scikit-learn, on ``X[test]`` (a copy of
the fold's test rows, one fold at a time).

Folds are fitted one by one rather than all together in one pass per
Newton iteration: each fold has its own coefficients, so a joint pass
shares only the reading of ``X``, while the statistics pass is bound by
each fold's own arithmetic (the pair products, ``n p^2 k(k-1)/2`` flops per
fold), not by reading ``X``.
"""
import inspect
import numbers
from typing import NamedTuple

import numpy as np

from ._kernel import single_threaded_blas
from ._memory import small_pages
from ._loss import x_dot
from ._model import DEFAULT_TOL, LogisticRegression, _feature_names, _is_dask, in_memory_oracle
from ._newton import NewtonSolver, initial_coef
from ._validation import (
    _is_sparse,
    check_class_weight,
    check_n_classes,
    check_n_threads,
    check_sample_weight,
    check_X_estimator,
    check_y_labels,
    effective_weights,
)

# The grid of ``Cs=<int>``: scikit-learn's, log-spaced over [1e-4, 1e4].
CS_RANGE = (-4.0, 4.0)
DEFAULT_FOLDS = 5
# Test rows per chunk when a built-in scorer computes the logits of a fold.
SCORE_CHUNK_ROWS = 4096
# scikit-learn's log_loss clips probabilities to [eps, 1 - eps] (float64):
# the built-in "neg_log_loss" clips the cross-entropy to the same range.
_EPS = np.finfo(np.float64).eps
_CE_RANGE = (-np.log1p(-_EPS), -np.log(_EPS))
BUILTIN_SCORERS = ("neg_log_loss", "accuracy")
# Coefficients this many units in the last place apart give the same statistics
# pass to working precision (``_PathOracle``).
ROUNDING_ULPS = 64


class RegularizationPath(NamedTuple):
    """What ``regularization_path`` returns (a named tuple: unpack or use the names)."""

    coefs: np.ndarray
    """``(n_Cs, n_classes, n_features + fit_intercept)`` (``n_classes`` is 1 for two
    classes); the last column is the intercept when ``fit_intercept``."""
    Cs: np.ndarray
    """``(n_Cs,)`` the C of each row of ``coefs``, in the order given."""
    n_iter: np.ndarray
    """``(n_Cs,)`` Newton iterations of each fit (warm-started ones need few)."""
    classes: np.ndarray
    """``(n_classes,)`` the sorted class labels."""


def check_l1_ratio(value, name):
    """``value`` must spell the L2 penalty (0, or None for scikit-learn's old default):
    L1 and elastic-net penalties are not implemented."""
    if value is None:
        return 0.0
    if (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and float(value) == 0.0):
        return 0.0
    raise ValueError(
        f"{name}={value!r} is not supported: logreg fits the L2 penalty only, which "
        f"scikit-learn spells l1_ratio=0 (l1_ratios=(0,)). L1 and elastic-net "
        "penalties (l1_ratio > 0) are not implemented.")


def check_cs(Cs):
    """``Cs``: an int >= 1 (that many values log-spaced over [1e-4, 1e4]) or a
    non-empty sequence of floats > 0 (``np.inf``: unpenalized) -> float array."""
    if isinstance(Cs, numbers.Integral) and not isinstance(Cs, bool):
        if Cs < 1:
            raise ValueError(f"Cs must be an int >= 1 or a list of floats > 0; got {Cs!r}.")
        return np.logspace(*CS_RANGE, int(Cs))
    try:
        values = np.asarray(Cs, dtype=np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1 or values.size == 0 or np.any(np.isnan(values)) \
            or not np.all(values > 0):
        raise ValueError(f"Cs must be an int >= 1 or a non-empty list of floats > 0 "
                         f"(np.inf for no penalty); got {Cs!r}.")
    return values


class _Data:
    """Training data validated once: ``X`` (float, not copied), ``classes``,
    ``codes``, ``sample_weight`` (None or float64), ``weights`` (sample times
    class weights, None when all are one), ``feature_names``, ``n_threads``."""

    def __init__(self, owner, X, y, sample_weight, class_weight, n_threads):
        if any(_is_dask(a) for a in (X, y, sample_weight)):
            raise TypeError(f"{owner} needs in-memory data (NumPy arrays or DataFrames); "
                            "compute the dask collections first, or fit "
                            "logreg.LogisticRegression on them for one C.")
        self.feature_names = _feature_names(X)
        self.n_threads = check_n_threads(n_threads)
        self.X = check_X_estimator(X, n_threads=self.n_threads)
        n = self.X.shape[0]
        self.classes, self.codes = check_y_labels(y, n)
        self.sample_weight = check_sample_weight(sample_weight, n, n_threads=self.n_threads)
        check_n_classes(self.classes, owner=owner)
        class_weights = check_class_weight(class_weight, self.classes, self.codes,
                                           self.sample_weight)
        self.weights = effective_weights(self.sample_weight, class_weights, self.codes)
        self.class_totals = check_class_totals(self.codes, self.weights, self.classes, "the data")

    @property
    def binary(self):
        return len(self.classes) == 2


def check_class_totals(codes, weights, classes, where):
    """Per-class weight totals; a ValueError when fewer than 2 classes have weight."""
    totals = np.bincount(codes, weights=weights, minlength=len(classes))
    if not totals.sum() > 0:
        raise ValueError(f"sample_weight is zero for every sample of {where}: nothing to fit.")
    if np.count_nonzero(totals > 0) < 2:
        raise ValueError(
            f"Fewer than 2 classes have positive total weight in {where} after applying "
            "sample_weight and class_weight; at least 2 classes are needed.")
    return totals


class _PathOracle:
    """An oracle that hands back its last statistics pass when asked again at the
    same coefficients (up to the flat intercept direction and rounding).

    Along a warm path the first pass of the fit at the next C is at the optimum
    of the previous fit, where the previous fit's last pass already was: the
    data statistics do not depend on C, so that pass is reused, one saved per C.
    Everything else is the wrapped oracle's (``n_passes`` counts real passes).
    """

    def __init__(self, oracle, centred_column):
        self._oracle = oracle
        self._centred_column = centred_column      # the intercepts of a multinomial fit
        self._last = None                          # (centred coef, stats with pairs)

    def __getattr__(self, name):
        return getattr(self._oracle, name)

    def _key(self, coef):
        key = np.array(coef, dtype=np.float64)
        if self._centred_column is not None:
            key[:, self._centred_column] -= key[:, self._centred_column].mean()
        return key

    def stats(self, coef, *, hessian=True):
        if hessian and self._last is not None:
            key, stats = self._last
            if np.allclose(self._key(coef), key, rtol=0,
                           atol=ROUNDING_ULPS * np.finfo(float).eps * np.abs(key).max()):
                return stats
        stats = self._oracle.stats(coef, hessian=hessian)
        if hessian:
            self._last = (self._key(coef), stats)
        return stats


def _path(data, weights, Cs, *, fit_intercept, tol, max_iter, coef0=None, verbose=0):
    """Fit every C of ``Cs`` (ascending: strongest penalty first), each from the previous
    optimum, on one oracle: ``(coefs (n_Cs, k, p), n_iter (n_Cs,), last NewtonResult,
    oracle)``."""
    X, codes = data.X, data.codes
    n_classes = len(data.classes)
    k = 1 if data.binary else n_classes
    p = X.shape[1] + bool(fit_intercept)
    oracle = _PathOracle(
        in_memory_oracle(X, codes, weights, k=n_classes, fit_intercept=fit_intercept,
                         n_threads=data.n_threads),
        centred_column=p - 1 if fit_intercept and not data.binary else None)
    coef = coef0 if coef0 is not None else initial_coef(
        codes, weights, k, p, binary=data.binary, fit_intercept=fit_intercept)
    coefs = np.empty((len(Cs), k, p))
    n_iter = np.empty(len(Cs), dtype=np.int32)
    # BLAS on one thread for the whole path (see LogisticRegression.fit)
    with single_threaded_blas(), small_pages():
        for i, C in enumerate(Cs):
            result = NewtonSolver(oracle, C=float(C), tol=tol, max_iter=max_iter,
                                  verbose=verbose).solve(coef)
            coef = coefs[i] = result.coef
            n_iter[i] = result.n_iter
    return coefs, n_iter, result, oracle


def regularization_path(X, y, Cs=10, sample_weight=None, *, fit_intercept=True,
                        class_weight=None, tol=DEFAULT_TOL, max_iter=100, n_threads=None):
    """L2-penalized fits for every ``C`` of ``Cs``, warm-started along the path.

    The fits run from the strongest penalty (smallest ``C``) to the weakest,
    each starting at the previous optimum, so all but the first need only a
    few Newton iterations.  Each fit is the one
    ``logreg.LogisticRegression(C=C, ...)`` would find (same objective, same
    ``tol``).  ``X`` is validated once.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Class labels (at least two classes).
    Cs : int or sequence of float, default=10
        Inverse penalty strengths, > 0 (``np.inf``: unpenalized); an int ``m``
        takes ``m`` values log-spaced from 1e-4 to 1e4, as scikit-learn.
    sample_weight : array-like of shape (n_samples,), default=None
    fit_intercept : bool, default=True
    class_weight : dict, "balanced" or None, default=None
    tol : float, default=1e-8
        As ``LogisticRegression``'s, for every fit.
    max_iter : int, default=100
        Newton iterations per fit.
    n_threads : int or None, default=None
        Threads of the kernel; None uses all available cores.

    Returns
    -------
    RegularizationPath
        ``(coefs, Cs, n_iter, classes)``; ``coefs[i]`` is
        ``(n_classes or 1, n_features + fit_intercept)``, intercept last.
    """
    Cs = check_cs(Cs)
    _check_fit_params("regularization_path", fit_intercept=fit_intercept, tol=tol,
                      max_iter=max_iter)
    data = _Data("regularization_path", X, y, sample_weight, class_weight, n_threads)
    order = np.argsort(Cs, kind="stable")
    coefs, n_iter, _, _ = _path(data, data.weights, Cs[order], fit_intercept=fit_intercept,
                                tol=tol, max_iter=max_iter)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return RegularizationPath(coefs[inverse], Cs, n_iter[inverse], data.classes)


def _check_fit_params(owner, *, fit_intercept, tol, max_iter, verbose=0):
    def bad(param, value, expected):
        return ValueError(f"The {param!r} parameter of {owner} must be {expected}; "
                          f"got {value!r}.")

    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise bad("fit_intercept", fit_intercept, "a bool")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0 <= tol < np.inf:
        raise bad("tol", tol, "a finite float >= 0")
    for param, value in (("max_iter", max_iter), ("verbose", verbose)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise bad(param, value, "an int >= 0")


# ---------------------------------------------------------------------------
# folds and scores
# ---------------------------------------------------------------------------

def stratified_folds(codes, n_splits):
    """``[(train, test), ...]``: exactly scikit-learn's ``StratifiedKFold(n_splits)``
    (no shuffling) on the class codes ``codes``.

    Classes are taken in order of first appearance; the sorted labels are
    dealt round-robin to the folds to fix how many of each class each fold
    gets, and each class's samples then fill the folds in order.
    """
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    encoded = np.argsort(np.argsort(first))[inverse.reshape(-1)]
    counts = np.bincount(encoded)
    if np.all(n_splits > counts):
        raise ValueError(f"cv={n_splits} folds cannot be greater than the number of members "
                         "in each class.")
    if n_splits > counts.min():
        import warnings

        warnings.warn(f"The least populated class in y has only {counts.min()} members, "
                      f"which is less than cv={n_splits} folds.", UserWarning, stacklevel=4)
    order = np.sort(encoded)
    allocation = np.array([np.bincount(order[i::n_splits], minlength=len(counts))
                           for i in range(n_splits)])
    test_fold = np.empty(len(codes), dtype=np.intp)
    for c in range(len(counts)):
        test_fold[encoded == c] = np.arange(n_splits).repeat(allocation[:, c])
    return [(np.flatnonzero(test_fold != i), np.flatnonzero(test_fold == i))
            for i in range(n_splits)]


def _folds(cv, data, y):
    """The ``(train, test)`` index pairs of ``cv``: None or an int (stratified folds),
    a splitter with ``split(X, y)``, or an iterable of pairs."""
    if cv is None:
        cv = DEFAULT_FOLDS
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be an int >= 2, a splitter or an iterable of "
                             f"(train, test) index pairs; got cv={cv!r}.")
        return stratified_folds(data.codes, int(cv))
    try:
        if isinstance(cv, (str, bytes)):
            raise TypeError
        pairs = list(cv.split(data.X, y) if hasattr(cv, "split") else cv)
    except TypeError:
        raise ValueError(f"cv must be None, an int >= 2, a splitter (with split(X, y)) or "
                         f"an iterable of (train, test) index pairs; got {cv!r}.") from None
    n = data.X.shape[0]
    folds = []
    for pair in pairs:
        try:
            train, test = (_as_indices(part, n) for part in pair)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cv yielded {pair!r}, not a (train, test) pair of index "
                             f"arrays: {exc}") from None
        folds.append((train, test))
    if not folds:
        raise ValueError("cv yielded no (train, test) pairs.")
    return folds


def _as_indices(part, n):
    a = np.asarray(part)
    if a.dtype == bool:
        if a.shape != (n,):
            raise ValueError(f"a boolean mask must have shape ({n},)")
        return np.flatnonzero(a)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise ValueError("indices must be a 1-D integer array")
    if a.size == 0:
        raise ValueError("empty index array")
    if a.min() < -n or a.max() >= n:
        raise ValueError(f"indices out of range for {n} samples")
    return a.astype(np.intp, copy=False) % n


def _scorer(scoring):
    """``scoring`` as a built-in name, or a callable ``(estimator, X, y, **kw)``."""
    if scoring is None:
        return "accuracy"
    if isinstance(scoring, str):
        if scoring in BUILTIN_SCORERS:
            return scoring
        try:
            from sklearn.metrics import get_scorer
        except ImportError:
            raise ValueError(f"scoring={scoring!r} needs scikit-learn (pip install "
                             f"scikit-learn); without it only {BUILTIN_SCORERS} and "
                             "callables are available.") from None
        return get_scorer(scoring)
    if callable(scoring):
        return scoring
    raise ValueError(f"scoring must be None, a scorer name or a callable "
                     f"(estimator, X, y) -> float; got {scoring!r}.")


def _with_labels(scorer, classes):
    """scikit-learn's scorers that take ``labels`` get all classes (a test fold may
    lack some), as scikit-learn's own cross-validation does."""
    func = getattr(scorer, "_score_func", None)
    if func is None or "labels" not in inspect.signature(func).parameters:
        return scorer
    from sklearn.metrics import make_scorer

    extra = dict(getattr(scorer, "_kwargs", {}))
    if len(classes) == 2 and "pos_label" in inspect.signature(func).parameters:
        extra.setdefault("pos_label", classes[-1])
    return make_scorer(func, greater_is_better=scorer._sign == 1,
                       response_method=scorer._response_method, labels=classes, **extra)


def builtin_scores(kind, X, rows, codes, weights, coefs, fit_intercept):
    """``kind`` ("neg_log_loss" or "accuracy") of each coefficient set ``coefs``
    ``(m, k, p)`` on ``X[rows]``: ``(m,)``, weighted means as scikit-learn's metrics
    (log-loss clipped like scikit-learn's)."""
    m, k, p = coefs.shape
    d = X.shape[1]
    # logits class-major, (k, m, rows): the class reductions run over contiguous slabs
    slopes = np.ascontiguousarray(coefs[:, :, :d].transpose(1, 0, 2).reshape(k * m, d))
    intercepts = (coefs[:, :, d].T.reshape(k * m, 1) if fit_intercept else 0.0)
    sparse = _is_sparse(X)
    totals = np.zeros(m)
    for start in range(0, len(rows), SCORE_CHUNK_ROWS):
        chunk = rows[start:start + SCORE_CHUNK_ROWS]
        b = len(chunk)
        if sparse:
            eta = x_dot(X[chunk], slopes.T).T + intercepts
        else:
            # the product in the class-major layout: transposing (rows, k m)
            # logits afterwards is a strided copy costlier than all the rest
            eta = slopes @ X[chunk].T
            eta += intercepts
        eta = eta.reshape(k, m, b)
        if k == 1:      # binary: logits (0, eta) of the two classes
            eta = np.concatenate([np.zeros_like(eta), eta])
        y = codes[chunk]
        w = np.ones(b) if weights is None else weights[chunk]
        if kind == "accuracy":      # argmax: the first of tied classes, as predict's
            values = (eta.argmax(axis=0) == y).astype(np.float64)         # (m, b)
        else:
            # log-sum-exp over the classes in place on the contiguous (k, m, b)
            # block, without a temporary per class
            eta_y = eta[y, :, np.arange(b)].T                             # (m, b)
            top = eta.max(axis=0)
            eta -= top
            np.exp(eta, out=eta)
            values = np.log(eta.sum(axis=0))
            values += top
            values -= eta_y
            np.clip(values, *_CE_RANGE, out=values)
        totals += values @ w
    total_weight = len(rows) if weights is None else float(weights[rows].sum())
    if not total_weight > 0:
        raise ValueError("the scored samples have zero total sample_weight.")
    means = totals / total_weight
    return -means if kind == "neg_log_loss" else means


def _fitted_shell(data, coef, fit_intercept):
    """A fitted ``LogisticRegression`` with coefficients ``coef`` ``(k, p)`` (for scorers)."""
    model = LogisticRegression(fit_intercept=fit_intercept, n_threads=data.n_threads)
    model._set_fitted(data.classes, data.X.shape[1], None, coef, 0, [])
    return model


def _fold_scores(scorer, data, test, coefs, fit_intercept):
    """Scores ``(n_Cs,)`` of a fold's coefficient path on its test rows."""
    sw = data.sample_weight
    if isinstance(scorer, str):
        return builtin_scores(scorer, data.X, test, data.codes, sw, coefs, fit_intercept)
    X_test, y_test = data.X[test], data.classes[data.codes[test]]
    kw = {} if sw is None else {"sample_weight": sw[test]}
    return np.array([float(scorer(_fitted_shell(data, coef, fit_intercept), X_test, y_test,
                                  **kw)) for coef in coefs])


# ---------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------

class LogisticRegressionCV(LogisticRegression):
    """Logistic regression with ``C`` chosen by cross-validation, on warm-started paths.

    scikit-learn's ``LogisticRegressionCV`` interface, with its attribute
    layout of ``use_legacy_attributes=False`` (scikit-learn >= 1.8).  Each
    fold fits the whole grid ``Cs`` along a warm-started regularization path
    (``logreg.regularization_path``), on a weight vector that is zero outside
    the fold's training rows: ``X`` is validated once and never copied for
    training (module ``logreg._model_selection`` documents the memory model).
    The best ``C`` maximizes the score summed over the folds; with ``refit``
    the model is then fitted on all the data at that ``C``, warm-started from
    the folds' mean coefficients, and predicts, scores and (for ``C_ = inf``)
    offers ``inference()``/``summary()`` like ``LogisticRegression``.

    Parameters
    ----------
    Cs : int or list of float, default=10
        An int ``m``: ``m`` values log-spaced from 1e-4 to 1e4; or the values,
        > 0 (``np.inf``: unpenalized).
    l1_ratios : tuple of float, default=(0.0,)
        Must be ``(0,)`` (L2, scikit-learn's spelling); L1 and elastic-net
        penalties are not implemented.  None is accepted as L2.
    fit_intercept : bool, default=True
    cv : int, splitter or iterable, default=None
        None: 5 stratified folds; an int: that many stratified folds (exactly
        scikit-learn's ``StratifiedKFold``, no shuffling); a splitter with
        ``split(X, y)``; or an iterable of ``(train, test)`` index arrays.
    penalty : {"l2", None}, default="l2"
        None fits every fold unpenalized (``Cs_`` is then ``[inf]``).
    scoring : str, callable or None, default="neg_log_loss"
        "neg_log_loss" and "accuracy" (also ``None``) are built in; any other
        scikit-learn scorer name (needs scikit-learn) or a callable
        ``scorer(estimator, X, y, sample_weight=...)``.
    tol : float, default=1e-8
        Of every Newton fit, as ``LogisticRegression``'s.
    max_iter : int, default=100
        Newton iterations per fit.
    class_weight : dict, "balanced" or None, default=None
        "balanced" weights are computed once, on all the data.
    n_threads : int or None, default=None
        Threads of the kernel; None uses all available cores.
    verbose : int, default=0
        > 0 prints one line per fold; > 1 also the Newton diagnostics of the refit.
    refit : bool, default=True
        Refit on all the data at the best C.  False: ``C_`` is the mean of
        the folds' best Cs and the coefficients the mean of the folds' best.

    Attributes
    ----------
    C_ : float
    l1_ratio_ : float
        Always 0.0.
    Cs_ : ndarray of shape (n_Cs,)
    l1_ratios_ : ndarray of shape (1,)
    scores_ : ndarray of shape (n_folds, 1, n_Cs)
        The score of each fold (on its test rows, weighted by ``sample_weight``)
        at each C.
    coefs_paths_ : ndarray of shape (n_folds, 1, n_Cs, n_classes, n_features + fit_intercept)
        Each fold's coefficients at each C (``n_classes`` is 1 for two classes),
        intercept last.
    n_iter_ : ndarray of shape (n_folds, 1, n_Cs)
        Newton iterations of each fold's fit at each C.
    classes_, coef_, intercept_, n_features_in_, feature_names_in_
        As ``LogisticRegression``'s (of the refit, or the fold average).
    history_, n_passes_
        Of the refit (empty / None with ``refit=False``).
    """

    def __init__(self, Cs=10, l1_ratios=(0.0,), fit_intercept=True, cv=None, penalty="l2",
                 scoring="neg_log_loss", tol=DEFAULT_TOL, max_iter=100, class_weight=None,
                 n_threads=None, verbose=0, refit=True):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.penalty = penalty
        self.scoring = scoring
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_threads = n_threads
        self.verbose = verbose
        self.refit = refit

    def _validated_params(self):
        """Check every parameter; returns the grid of Cs."""
        name = type(self).__name__
        if self.penalty not in ("l2", None):
            raise ValueError(f"The 'penalty' parameter of {name} must be 'l2' or None; "
                             f"got {self.penalty!r}.")
        l1 = self.l1_ratios
        if l1 is not None:
            if isinstance(l1, (str, bytes)) or not hasattr(l1, "__len__") or len(l1) == 0:
                raise ValueError(f"l1_ratios must be a sequence like (0,); got {l1!r}.")
            for value in l1:
                check_l1_ratio(value, "l1_ratios")
        _check_fit_params(name, fit_intercept=self.fit_intercept, tol=self.tol,
                          max_iter=self.max_iter, verbose=self.verbose)
        if not isinstance(self.refit, (bool, np.bool_)):
            raise ValueError(f"The 'refit' parameter of {name} must be a bool; "
                             f"got {self.refit!r}.")
        cw = self.class_weight
        if not (cw is None or cw == "balanced" or isinstance(cw, dict)):
            raise ValueError(f"The 'class_weight' parameter of {name} must be None, "
                             f"'balanced' or a dict {{label: weight}}; got {cw!r}.")
        check_n_threads(self.n_threads)
        Cs = check_cs(self.Cs)
        return np.array([np.inf]) if self.penalty is None else Cs

    def fit(self, X, y, sample_weight=None):
        """Cross-validate every C of ``Cs``, then (``refit``) fit all data at the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The features; validated once, never copied for the folds.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), optional
            Weights each fold's training fits (with ``class_weight``) and its
            test scores (without, as scikit-learn's).

        Returns
        -------
        LogisticRegressionCV
            self, fitted.
        """
        Cs = self._validated_params()
        scorer = _scorer(self.scoring)
        data = _Data(type(self).__name__, X, y, sample_weight, self.class_weight,
                     self.n_threads)
        if not isinstance(scorer, str):
            scorer = _with_labels(scorer, data.classes)
        folds = _folds(self.cv, data, data.classes[data.codes])
        order = np.argsort(Cs, kind="stable")
        Cs = Cs[order]
        n, d = data.X.shape
        k = 1 if data.binary else len(data.classes)
        p = d + bool(self.fit_intercept)
        paths = np.empty((len(folds), len(Cs), k, p))
        scores = np.empty((len(folds), len(Cs)))
        n_iter = np.empty((len(folds), len(Cs)), dtype=np.int32)
        base = np.ones(n) if data.weights is None else data.weights
        # BLAS on one thread from the first fold to the refit, scoring included:
        # the scores' products on OpenBLAS's threads left them spinning into the
        # next fold's kernel passes (see LogisticRegression.fit)
        with single_threaded_blas(), small_pages():
            for f, (train, test) in enumerate(folds):
                weights = np.zeros(n)
                weights[train] = base[train]
                check_class_totals(data.codes, weights, data.classes,
                                   f"the training set of fold {f}")
                paths[f], n_iter[f], _, _ = _path(data, weights, Cs,
                                                  fit_intercept=self.fit_intercept,
                                                  tol=self.tol, max_iter=self.max_iter)
                scores[f] = _fold_scores(scorer, data, test, paths[f], self.fit_intercept)
                if self.verbose:
                    print(f"fold {f}: best C {Cs[np.argmax(scores[f])]:.4g}, score "
                          f"{scores[f].max():.6g}, Newton iterations {n_iter[f].tolist()}",
                          flush=True)
            self._set_cv_results(data, Cs, paths, scores, n_iter)
        return self

    def _set_cv_results(self, data, Cs, paths, scores, n_iter):
        d = data.X.shape[1]
        if self.refit:
            best = int(np.argmax(scores.sum(axis=0)))
            self.C_ = float(Cs[best])
            coefs, fit_iter, result, oracle = _path(
                data, data.weights, Cs[best:best + 1], fit_intercept=self.fit_intercept,
                tol=self.tol, max_iter=self.max_iter, coef0=paths[:, best].mean(axis=0),
                verbose=max(0, self.verbose - 1))
            coef = coefs[0]
            self._set_fitted(data.classes, d, data.feature_names, coef, fit_iter[0],
                             result.history)
            self.n_passes_ = oracle.n_passes
            if not np.isfinite(self.C_):
                self._inference_state_ = self._inference_state(
                    data.X, data.codes, data.weights, coef, data.binary, result.data_hessian,
                    result.data_loss, data.class_totals, result.n_iter, result.converged)
        else:
            best = np.argmax(scores, axis=1)
            self.C_ = float(np.mean(Cs[best]))
            coef = paths[np.arange(len(best)), best].mean(axis=0)
            self._set_fitted(data.classes, d, data.feature_names, coef, 0, [])
            self.n_passes_ = None
        self.Cs_ = Cs
        self.l1_ratio_ = 0.0
        self.l1_ratios_ = np.array([0.0])
        self.scores_ = scores[:, None, :]
        self.coefs_paths_ = paths[:, None]
        self.n_iter_ = n_iter[:, None, :]

    def score(self, X, y, sample_weight=None):
        """The ``scoring`` of the fitted model on ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The features.
        y : array-like of shape (n_samples,)
            The true labels.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the samples in the score.

        Returns
        -------
        float
            The score (greater is better, as scikit-learn's scorers).
        """
        scorer = _scorer(self.scoring)
        Xv = self._validated_X(X)
        if not isinstance(scorer, str):
            return float(_with_labels(scorer, self.classes_)(
                self, X, y, **({} if sample_weight is None else
                               {"sample_weight": sample_weight})))
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.shape != (Xv.shape[0],):
            raise ValueError(f"y has shape {y.shape}; expected ({Xv.shape[0]},).")
        codes = np.searchsorted(self.classes_, y)
        codes = np.minimum(codes, len(self.classes_) - 1)
        if np.any(self.classes_[codes] != y):
            unknown = np.unique(y[self.classes_[codes] != y])[:5].tolist()
            raise ValueError(f"y contains labels the model was not fitted on: {unknown}.")
        w = check_sample_weight(sample_weight, Xv.shape[0])
        coef = np.column_stack([self.coef_, self.intercept_])
        return float(builtin_scores(scorer, Xv, np.arange(Xv.shape[0]), codes, w,
                                    coef[None], True)[0])

    def plot(self, ax=None):
        """Mean CV score with its fold range against C (the chosen C marked), and the
        folds' mean coefficient paths; needs matplotlib (the ``plot`` extra).

        Parameters
        ----------
        ax : sequence of two matplotlib Axes, optional
            Where to draw; a new figure when None.

        Returns
        -------
        tuple of two matplotlib Axes
            The score panel and the coefficient-path panel.
        """
        from ._model_selection_plot import plot_cv

        return plot_cv(self, ax=ax)
