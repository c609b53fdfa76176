"""``logreg.LogisticRegression``: a scikit-learn compatible estimator.

It follows the scikit-learn estimator protocol (``get_params``/``set_params``,
parameters validated in ``fit``, fitted attributes ending in ``_``, tags)
without importing scikit-learn, except lazily inside ``__sklearn_tags__``,
which only scikit-learn calls.
"""
import inspect
import numbers
import sys
import warnings

import numpy as np
from scipy.special import expit

from . import _loss
from ._exceptions import NotFittedError, sklearn_compatible
from ._kernel import single_threaded_blas
from ._newton import NewtonSolver, gradient_descent, initial_coef, lipschitz_step
from ._oracle import InMemoryOracle
from ._sparse_oracle import sparse_oracle
from ._validation import (
    _is_sparse,
    check_class_weight,
    check_n_threads,
    check_sample_weight,
    check_X_estimator,
    check_y_labels,
)

DEFAULT_TOL = 1e-8


class LogisticRegression:
    """Multinomial (softmax) or binary logistic regression fitted by Newton's method.

    Minimizes scikit-learn's objective ``C * sum_i w_i CE_i + 0.5 * ||coef||^2``
    (the intercept is not penalized), so coefficients match scikit-learn's
    ``LogisticRegression`` with the same ``C``.  Two classes use the binary
    logistic model (``coef_`` of shape ``(1, n_features)``), three or more the
    multinomial model.  Coefficients use the symmetric parametrization:
    unpenalized multinomial coefficients, and L2 intercepts, are centred over
    the classes.

    Parameters
    ----------
    penalty : {"l2", None}, default="l2"
        None fits the unpenalized maximum-likelihood model (as does ``C=np.inf``).
    C : float, default=1.0
        Inverse penalty strength, > 0; ``np.inf`` means no penalty.
    fit_intercept : bool, default=True
        Fit one unpenalized intercept per class.
    solver : {"newton", "gd"}, default="newton"
        "newton": Newton's method with Cholesky solves and Armijo line search,
        quadratic convergence; typically 5-10 iterations.
        "gd": the seed's fixed-step gradient descent, from zero coefficients,
        kept as a slow baseline (see ``learning_rate``).
    tol : float, default=1e-8
        Stop when the gradient of the normalized objective
        ``(C * sum_i w_i CE_i + 0.5 ||coef||^2) / (C * sum_i w_i)`` satisfies
        ``max|g| <= tol`` and half the squared Newton decrement is ``<= tol**2``.
        The default gives coefficients at the optimum to about 1e-8 relative
        or better; there is no need to tune it for accuracy.  ("gd" checks
        ``max|g| <= tol`` only.)
    max_iter : int, default=100
        Maximum number of Newton (or gradient-descent) steps.
    class_weight : dict, "balanced" or None, default=None
        Multiplies each sample's weight by the weight of its class.
        "balanced" uses ``sum(w) / (n_classes * sum_{y_i = c} w_i)``.
    warm_start : bool, default=False
        Start from the previous fit's coefficients when classes and features match.
    n_threads : int or None, default=None
        Threads for the Hessian kernel; None uses all available cores.
    verbose : int, default=0
        > 0 prints one line of diagnostics per iteration.
    learning_rate : float or "auto", default="auto"
        "gd" only: the fixed step of ``coef <- coef - learning_rate * grad``,
        where ``grad`` is the gradient of the *unnormalized* objective above
        (``sum_i w_i CE_i`` without penalty), exactly as in
        ``logreg.reference.fit(method="gd", learning_rate=...)``.  For two
        classes the step acts on the binary model's coefficients, which are
        the difference of the seed's two class columns: the seed's rate ``r``
        corresponds to ``learning_rate = 2 r``.  "auto" takes ``1 / L`` with
        ``L`` a bound on the objective's curvature (always descends, slowly).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_classes, n_features), or (1, n_features) for two classes
    intercept_ : ndarray of shape (n_classes,) or (1,)
    n_iter_ : int
        Newton (or gradient-descent) steps taken; 0 when the start was optimal.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X was a DataFrame with string columns
    history_ : list of dict
        One entry per iterate: ``iteration``, ``objective`` (normalized, as for
        ``tol``), ``grad_max``, ``decrement`` (half the squared Newton
        decrement), ``step_size`` taken from it, ``damping`` of the Newton
        system (0 when none was needed), ``seconds`` since the start and
        ``passes`` over the data spent reaching this iterate (1 when the full
        Newton step held; 3 after a backtracking line search), and ``hessian``,
        where the step's curvature came from: ``"exact"``, ``"kronecker"``
        (exact, at the zero-slope start), ``"subsample"`` (a row subsample, far
        from the optimum) or ``"cg"`` (Hessian-free conjugate gradients); for
        sparse X also ``route``, ``"full"`` or ``"hessian-free"``
        (``logreg._sparse_oracle``).
    n_passes_ : int or None
        Passes over the data the Newton fit made in all (None for "gd").
    learning_rate_ : float, only for solver="gd"
    """

    def __init__(self, penalty="l2", C=1.0, fit_intercept=True, solver="newton",
                 tol=DEFAULT_TOL, max_iter=100, class_weight=None, warm_start=False,
                 n_threads=None, verbose=0, learning_rate="auto"):
        self.penalty = penalty
        self.C = C
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.verbose = verbose
        self.learning_rate = learning_rate

    # -- scikit-learn protocol ------------------------------------------------
    @classmethod
    def _get_param_names(cls):
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep=True):
        """Constructor parameters as a dict (``deep`` is accepted for compatibility)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters; validated at the next ``fit``."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {self!r}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = inspect.signature(type(self).__init__).parameters
        changed = []
        for name in self._get_param_names():
            value = getattr(self, name, None)
            default = defaults[name].default
            same = value is default or (type(value) is type(default) and value == default)
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(),
            input_tags=InputTags(sparse=True),
        )

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    # -- fit --------------------------------------------------------------------
    def _validated_params(self):
        """Check every parameter (in fit, as scikit-learn does); returns the effective C."""
        name = type(self).__name__

        def bad(param, expected):
            value = getattr(self, param)
            return ValueError(
                f"The {param!r} parameter of {name} must be {expected}; got {value!r}."
            )

        if self.penalty not in ("l2", None):
            raise bad("penalty", "'l2' or None")
        C = self.C
        if isinstance(C, bool) or not isinstance(C, numbers.Real) or not C > 0:
            raise bad("C", "a float > 0 (np.inf for no penalty)")
        for flag in ("fit_intercept", "warm_start"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise bad(flag, "a bool")
        if self.solver not in ("newton", "gd"):
            raise bad("solver", "'newton' or 'gd'")
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (
                0 <= tol < np.inf):
            raise bad("tol", "a finite float >= 0")
        for param in ("max_iter", "verbose"):
            value = getattr(self, param)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise bad(param, "an int >= 0")
        cw = self.class_weight
        if not (cw is None or cw == "balanced" or isinstance(cw, dict)):
            raise bad("class_weight", "None, 'balanced' or a dict {label: weight}")
        lr = self.learning_rate
        if not (isinstance(lr, str) and lr == "auto") and (
                isinstance(lr, bool) or not isinstance(lr, numbers.Real)
                or not 0 < lr < np.inf):
            raise bad("learning_rate", "'auto' or a finite float > 0")
        check_n_threads(self.n_threads)
        return np.inf if self.penalty is None else float(C)

    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` ``(n_samples, n_features)`` and labels ``y``.

        ``sample_weight`` (non-negative, optional) multiplies each sample's
        cross-entropy; ``class_weight`` multiplies on top.  Returns self.
        """
        C = self._validated_params()
        if any(_is_dask(a) for a in (X, y, sample_weight)):
            return self._fit_dask(X, y, sample_weight, C)
        feature_names = _feature_names(X)
        n_threads = check_n_threads(self.n_threads)
        X = check_X_estimator(X, n_threads=n_threads)
        n, d = X.shape
        classes, codes = check_y_labels(y, n)
        w = check_sample_weight(sample_weight, n, n_threads=n_threads)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, but the data "
                f"contain only one class: {classes[0]!r}."
            )
        w = _effective_weights(w, check_class_weight(self.class_weight, classes, codes, w),
                               codes)
        counts = np.bincount(codes, weights=w, minlength=len(classes))
        if counts.sum() <= 0:
            raise ValueError("sample_weight is zero for every sample: nothing to fit.")
        if np.count_nonzero(counts > 0) < 2:
            raise ValueError(
                "Only one class has positive total weight after applying sample_weight "
                f"and class_weight (class {classes[np.argmax(counts)]!r}); at least 2 "
                "classes are needed."
            )

        binary = len(classes) == 2
        k = 1 if binary else len(classes)
        p = d + bool(self.fit_intercept)
        coef0 = self._warm_start_coef(classes, k, d)
        if self.solver == "newton":
            if hasattr(self, "learning_rate_"):    # left from an earlier gd fit
                del self.learning_rate_
            if coef0 is None:
                coef0 = initial_coef(codes, w, k, p, binary=binary,
                                     fit_intercept=self.fit_intercept)
            make_oracle = sparse_oracle if _is_sparse(X) else InMemoryOracle
            oracle = make_oracle(X, codes, w, k=len(classes),
                                 fit_intercept=self.fit_intercept, n_threads=n_threads)
            solver = NewtonSolver(oracle, C=C, tol=self.tol, max_iter=self.max_iter,
                                  verbose=self.verbose)
            # BLAS on one thread for the whole solve: OpenBLAS's worker threads
            # spin after each call and slowed the kernel's next OpenMP pass 1.5-5x
            # (2 cores); the solver's own BLAS work (Cholesky) is small
            with single_threaded_blas():
                result = solver.solve(coef0)
            coef, n_iter, converged, history = (
                result.coef, result.n_iter, result.converged, result.history)
            if hasattr(oracle, "route"):       # sparse X: which curvature route it took
                for row in history:
                    row["route"] = oracle.route
            hessian, data_loss = result.data_hessian, result.data_loss
        else:
            if _is_sparse(X):
                raise TypeError("solver='gd' needs a dense X; use solver='newton' (the "
                                "default) for sparse X.")
            if coef0 is None:
                coef0 = np.zeros((k, p))
            lr = self.learning_rate
            if lr == "auto":
                lr = lipschitz_step(X, w, binary=binary, C=C)
            self.learning_rate_ = float(lr)
            coef, n_iter, converged, history = gradient_descent(
                X, codes, w, coef0, binary=binary, fit_intercept=self.fit_intercept, C=C,
                tol=self.tol, max_iter=self.max_iter, learning_rate=lr,
                verbose=self.verbose)
            hessian = data_loss = None

        self._set_fitted(classes, d, feature_names, coef, n_iter, history)
        self.n_passes_ = oracle.n_passes if self.solver == "newton" else None
        if not np.isfinite(C):
            self._inference_state_ = self._inference_state(
                X, codes, w, coef, binary, hessian, data_loss, counts, n_iter, converged)
        return self

    def _fit_dask(self, X, y, sample_weight, C):
        """``fit`` on dask arrays / DataFrames: the same Newton loop, on a
        ``logreg._dask.DaskNewtonOracle`` (statistics map-reduced over the
        blocks, the Newton step solved here, on the client)."""
        from . import _dask

        if self.solver != "newton":
            raise ValueError(f"solver={self.solver!r} does not support dask inputs; "
                             "use solver='newton' (the default).")
        feature_names = _feature_names(X)
        client = _dask._distributed_client(None)
        data = _dask.as_dask_data(X, y, sample_weight, class_weight=self.class_weight,
                                  persist=client is not None)
        classes, d = data.classes, data.n_features
        binary = len(classes) == 2
        k = 1 if binary else len(classes)
        p = d + bool(self.fit_intercept)
        oracle = _dask.DaskNewtonOracle(
            data, fit_intercept=self.fit_intercept, binary=binary,
            n_threads=self.n_threads, hessian_budget_bytes=_dask.HESSIAN_BUDGET_BYTES)
        if not oracle.hessian_fits:
            raise ValueError(
                f"The Newton system of this problem has k*p = {k}*{p} coordinates: its "
                f"Hessian needs {oracle.hessian_nbytes / 2**30:.2f} GiB on the client, above "
                f"logreg._dask.HESSIAN_BUDGET_BYTES = "
                f"{_dask.HESSIAN_BUDGET_BYTES / 2**30:.2f} GiB. Raise that budget if the "
                "client has the memory (the solver needs about 2x the Hessian), or reduce "
                "the number of features or classes (e.g. PCA, feature hashing with fewer "
                "buckets, merging rare classes).")
        counts = data.class_totals()
        if counts.sum() <= 0:
            raise ValueError("sample_weight is zero for every sample: nothing to fit.")
        if np.count_nonzero(counts > 0) < 2:
            raise ValueError(
                "Only one class has positive total weight after applying sample_weight "
                f"and class_weight (class {classes[np.argmax(counts)]!r}); at least 2 "
                "classes are needed.")
        coef0 = self._warm_start_coef(classes, k, d)
        if coef0 is None:
            coef0 = _start_from_totals(counts, k, p, binary=binary,
                                       fit_intercept=self.fit_intercept)
        if hasattr(self, "learning_rate_"):
            del self.learning_rate_
        result = NewtonSolver(oracle, C=C, tol=self.tol, max_iter=self.max_iter,
                              verbose=self.verbose).solve(coef0)
        self.n_passes_ = oracle.n_passes
        self._set_fitted(classes, d, feature_names, result.coef, result.n_iter,
                         result.history)
        if not np.isfinite(C):
            self._inference_state_ = self._inference_state(
                None, None, None, result.coef, binary, result.data_hessian,
                result.data_loss, counts, result.n_iter, result.converged)
        return self

    def _set_fitted(self, classes, d, feature_names, coef, n_iter, history):
        k = coef.shape[0]
        self.classes_ = classes
        self.n_features_in_ = d
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.coef_ = np.ascontiguousarray(coef[:, :d])
        self.intercept_ = coef[:, d].copy() if self.fit_intercept else np.zeros(k)
        self.n_iter_ = int(n_iter)
        self.history_ = history
        self._inference_state_ = None

    def _warm_start_coef(self, classes, k, d):
        """The previous coefficients ``(k, p)`` when warm-starting a compatible fit."""
        if not (self.warm_start and hasattr(self, "coef_")):
            return None
        if (self.coef_.shape != (k, d) or len(self.classes_) != len(classes)
                or np.any(self.classes_ != classes)):
            return None
        if self.fit_intercept:
            return np.column_stack([self.coef_, self.intercept_])
        return self.coef_.astype(np.float64, copy=True)

    def _inference_state(self, X, codes, w, coef, binary, hessian, data_loss, counts,
                         n_iter, converged):
        """What ``logreg._inference`` needs from an unpenalized fit."""
        if hessian is None:   # gradient descent: evaluate at the final coefficients
            data_term = (_loss.binary_loss_gradient_hessian if binary
                         else _loss.loss_gradient_hessian)
            k, p = coef.shape
            data_loss, _, pairs = data_term(X, codes, w, coef, self.fit_intercept,
                                            check_n_threads(self.n_threads))
            hessian = _loss.hessian_from_pairs(pairs, k, p, binary)
        total = counts.sum()
        present = counts > 0
        loglike_null = float(np.sum(counts[present] * np.log(counts[present] / total)))
        return dict(hessian=hessian, loglike=-float(data_loss), loglike_null=loglike_null,
                    nobs=float(total), n_iter=int(n_iter), converged=bool(converged),
                    fit_intercept=bool(self.fit_intercept))

    # -- predict ----------------------------------------------------------------
    def _validated_X(self, X):
        if not hasattr(self, "coef_"):
            raise sklearn_compatible(NotFittedError)(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        self._check_feature_names(X)
        X = check_X_estimator(X, n_threads=check_n_threads(self.n_threads))
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def _check_feature_names(self, X):
        fitted = getattr(self, "feature_names_in_", None)
        names = _feature_names(X)
        name = type(self).__name__
        if fitted is None and names is not None:
            warnings.warn(f"X has feature names, but {name} was fitted without feature names",
                          UserWarning, stacklevel=3)
        elif fitted is not None and names is None:
            warnings.warn(f"X does not have valid feature names, but {name} was fitted with "
                          "feature names", UserWarning, stacklevel=3)
        elif fitted is not None and (len(fitted) != len(names) or np.any(fitted != names)):
            raise ValueError(
                "The feature names should match those that were passed during fit: "
                f"fitted with {list(fitted)}, got {list(names)}."
            )

    def _dask_X(self, X):
        """A dask X for the lazy ``logreg._dask`` prediction helpers (checked), or None."""
        if not _is_dask(X):
            return None
        if not hasattr(self, "coef_"):
            self._validated_X(np.zeros((1, 1)))     # raises NotFittedError
        self._check_feature_names(X)
        return X

    def _logits(self, X):
        X = self._validated_X(X)
        eta = _loss.x_dot(X, np.ascontiguousarray(self.coef_.T, dtype=np.float64))
        return eta + self.intercept_

    def decision_function(self, X):
        """Logits: ``(n_samples,)`` for two classes (of ``classes_[1]``), else ``(n, n_classes)``."""
        if (Xd := self._dask_X(X)) is not None:
            from ._dask import dask_decision_function
            return dask_decision_function(Xd, self.coef_, self.intercept_)
        eta = self._logits(X)
        return eta[:, 0] if len(self.classes_) == 2 else eta

    def predict_log_proba(self, X):
        """Log class probabilities ``(n_samples, n_classes)``, computed stably."""
        if (Xd := self._dask_X(X)) is not None:
            from ._dask import dask_predict_log_proba
            return dask_predict_log_proba(Xd, self.coef_, self.intercept_)
        eta = self._logits(X)
        if len(self.classes_) == 2:
            z = eta[:, 0]
            return np.column_stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])
        return _loss.log_softmax(eta)

    def predict_proba(self, X):
        """Class probabilities ``(n_samples, n_classes)``; columns follow ``classes_``."""
        if (Xd := self._dask_X(X)) is not None:
            from ._dask import dask_predict_proba
            return dask_predict_proba(Xd, self.coef_, self.intercept_)
        eta = self._logits(X)
        if len(self.classes_) == 2:
            z = eta[:, 0]
            return np.column_stack([expit(-z), expit(z)])
        return _loss.softmax(eta)

    def predict(self, X):
        """Most probable class label for each sample."""
        if (Xd := self._dask_X(X)) is not None:
            from ._dask import dask_predict
            return dask_predict(Xd, self.coef_, self.intercept_, self.classes_)
        scores = self.decision_function(X)
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    def score(self, X, y, sample_weight=None):
        """Mean (weighted) accuracy of ``predict(X)`` against ``y``."""
        pred = self.predict(X)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.shape != pred.shape:
            raise ValueError(f"y has shape {y.shape}; expected {pred.shape}.")
        w = check_sample_weight(sample_weight, len(pred))
        return float(np.average(pred == y, weights=w))

    # -- statistical inference (logreg._inference) --------------------------------
    def inference(self, reference=None, cov_type="nonrobust", *, X=None, y=None,
                  sample_weight=None, groups=None):
        """Standard errors, tests and intervals for an unpenalized fit (``logreg._inference``)."""
        from ._inference import inference

        return inference(self, reference=reference, cov_type=cov_type, X=X, y=y,
                         sample_weight=sample_weight, groups=groups)

    def summary(self, reference=None, alpha=0.05, **kwargs):
        """A statsmodels-like summary table of an unpenalized fit (``logreg._inference``)."""
        from ._inference import summary

        return summary(self, reference=reference, alpha=alpha, **kwargs)


def _is_dask(obj):
    """A dask collection, detected without importing dask (an optional extra)."""
    return (m := sys.modules.get("dask")) is not None and m.is_dask_collection(obj)


def _start_from_totals(totals, k, p, *, binary, fit_intercept):
    """``initial_coef`` from per-class weight totals (no pass over the data)."""
    codes = np.arange(len(totals))
    return initial_coef(codes, np.asarray(totals, dtype=np.float64), k, p, binary=binary,
                        fit_intercept=fit_intercept)


def _effective_weights(w, class_weights, codes):
    """Sample weights times class weights, or None when all are one."""
    if np.all(class_weights == 1.0):
        return w
    cw = class_weights[codes]
    return cw if w is None else w * cw


def _feature_names(X):
    """String column names of a DataFrame-like ``X``, else None."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    names = np.asarray(columns, dtype=object)
    is_str = [isinstance(c, str) for c in names]
    if all(is_str) and len(names):
        return names
    if any(is_str):
        kinds = sorted({type(c).__name__ for c in names})
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but X has {kinds} as column name types. Convert them all to str, e.g. "
            "X.columns = X.columns.astype(str)."
        )
    return None
