"""``logreg.LogisticRegression``: a scikit-learn compatible estimator.

It follows the scikit-learn estimator protocol (``get_params``/``set_params``,
parameters validated in ``fit``, fitted attributes ending in ``_``, tags)
without importing scikit-learn, except lazily inside ``__sklearn_tags__``,
which only scikit-learn calls.
"""
from __future__ import annotations

import inspect
import numbers
import sys
import warnings

from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _loss
from ._exceptions import NotFittedError, PerfectSeparationWarning, sklearn_compatible
from ._memory import small_pages
from ._threads import single_threaded_blas
from ._gradient_descent import gradient_descent, lipschitz_step
from ._newton import NewtonSolver, initial_coef
from ._oracle import InMemoryOracle
from ._separation import separation_message
from ._sparse_oracle import sparse_oracle
from ._state import check_sum_weights
from ._validation import (
    _is_sparse,
    check_class_totals,
    check_class_weight,
    check_n_classes,
    check_n_threads,
    check_sample_weight,
    check_X_estimator,
    check_y_labels,
    effective_weights,
)

DEFAULT_TOL = 1e-8
SOLVERS = ("newton", "newton-cg", "gd")


def in_memory_oracle(X, codes, w, *, k, fit_intercept, n_threads):
    """The data oracle of a validated in-memory X: sparse or dense (``logreg._protocol``)."""
    make = sparse_oracle if _is_sparse(X) else InMemoryOracle
    return make(X, codes, w, k=k, fit_intercept=fit_intercept, n_threads=n_threads)


class LogisticRegression:
    """Multinomial (softmax) or binary logistic regression fitted by Newton's method.

    Minimizes scikit-learn's objective ``C * sum_i w_i CE_i + 0.5 * ||coef||^2``
    (the intercept is not penalized), so coefficients match scikit-learn's
    ``LogisticRegression`` with the same ``C``.  Two classes use the binary
    logistic model (``coef_`` of shape ``(1, n_features)``), three or more the
    multinomial model.  Coefficients use the symmetric parametrization:
    multinomial coefficients are centred over the classes (every column sums
    to zero; with L2 that is where the optimum lies).

    Parameters
    ----------
    penalty : {"l2", None}, default="l2"
        None fits the unpenalized maximum-likelihood model (as does ``C=np.inf``).
    C : float, default=1.0
        Inverse penalty strength, > 0; ``np.inf`` means no penalty.
    fit_intercept : bool, default=True
        Fit one unpenalized intercept per class.
    solver : {"newton", "newton-cg", "gd"}, default="newton"
        "newton": Newton's method with Armijo line search, quadratic
        convergence, typically 5-10 iterations; Cholesky solves on the exact
        Hessian, or Hessian-free conjugate gradients where the Hessian is
        costly or over the memory budget (wide data, many classes, a Dask
        client's budget).
        "newton-cg": Hessian-free Newton-CG throughout: conjugate gradients on
        Hessian-vector products, preconditioned; the same optimum.
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
        Threads for the kernel.  None follows the OpenMP limit in force
        (``OMP_NUM_THREADS``, ``threadpoolctl.threadpool_limits``) within the
        available cores; -1 uses every available core, -2 all but one.
        Results are bit-for-bit the same for any thread count.
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
    l1_ratio : float, default=0.0
        Must be 0 (scikit-learn >= 1.8 spells the L2 penalty ``l1_ratio=0``);
        L1 and elastic-net penalties are not implemented.  None means 0.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_classes, n_features), or (1, n_features) for two classes
    intercept_ : ndarray of shape (n_classes,) or (1,)
    n_iter_ : int
        Newton (or gradient-descent) steps taken; 0 when the start was optimal.
    converged_ : bool
        The convergence test held at the returned coefficients: False after
        max_iter, a failed line search, or perfect separation (each with its
        warning).
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
                 n_threads=None, verbose=0, learning_rate="auto", l1_ratio=0.0):
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
        self.l1_ratio = l1_ratio

    # -- scikit-learn protocol ------------------------------------------------
    @classmethod
    def _get_param_names(cls):
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (the scikit-learn protocol).

        Parameters
        ----------
        deep : bool, default=True
            Accepted for compatibility; there are no nested estimators.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters (the scikit-learn protocol).

        Parameters
        ----------
        **params
            Constructor parameters by name; they are validated at the next ``fit``.

        Returns
        -------
        LogisticRegression
            This estimator.
        """
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
        if self.solver not in SOLVERS:
            raise bad("solver", "'newton', 'newton-cg' or 'gd'")
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
        from ._model_selection import check_l1_ratio   # that module imports this one
        check_l1_ratio(self.l1_ratio, "l1_ratio")
        return np.inf if self.penalty is None else float(C)

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> Self:
        """Fit the model to ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            NumPy array, DataFrame, scipy.sparse (CSR, CSC) or a Dask collection.
        y : array-like of shape (n_samples,)
            Class labels of any type (at least two classes).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights multiplying each sample's cross-entropy;
            ``class_weight`` multiplies on top.

        Returns
        -------
        LogisticRegression
            This estimator, fitted.
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
        check_n_classes(classes, owner=type(self).__name__)
        if self.class_weight is not None:
            w = effective_weights(w, check_class_weight(self.class_weight, classes, codes, w),
                                  codes)
        # unit weights: every class of y has positive weight, so the checks hold
        # and the counts are needed by unpenalized fits only
        counts = None
        if w is not None:
            counts = np.bincount(codes, weights=w, minlength=len(classes))
            check_class_totals(counts, classes)

        binary = len(classes) == 2
        k = 1 if binary else len(classes)
        p = d + bool(self.fit_intercept)
        coef0 = self._warm_start_coef(classes, k, d)
        if self.solver != "gd":
            if hasattr(self, "learning_rate_"):    # left from an earlier gd fit
                del self.learning_rate_
            w_unit, exponent, C_unit = _unit_weights(w, C)
            if coef0 is None:
                coef0 = initial_coef(codes, w_unit, k, p, binary=binary,
                                     fit_intercept=self.fit_intercept)
            oracle = in_memory_oracle(X, codes, w_unit, k=len(classes),
                                 fit_intercept=self.fit_intercept, n_threads=n_threads)
            solver = NewtonSolver(oracle, C=C_unit, tol=self.tol, max_iter=self.max_iter,
                                  verbose=self.verbose, curvature=self._curvature)
            # BLAS on one thread for the whole solve: OpenBLAS's worker threads
            # spin after each call and slow the kernel's next OpenMP pass on few
            # cores; the solver's own BLAS work (Cholesky) is small.  Small pages
            # for the solve's temporaries (logreg._memory).
            with single_threaded_blas(), small_pages():
                result = solver.solve(coef0)
            coef, n_iter, converged, history = (
                result.coef, result.n_iter, result.converged, result.history)
            if result.certificate is not None:
                names = feature_names if feature_names is not None else [
                    f"x{a}" for a in range(d)]
                warnings.warn(separation_message(result.certificate, classes, names, n_iter),
                              PerfectSeparationWarning, stacklevel=2)
            hessian, data_loss = result.data_hessian, result.data_loss
            if exponent:
                with np.errstate(over="ignore"):    # back to the caller's units
                    data_loss = float(np.ldexp(data_loss, exponent))
                    hessian = None if hessian is None else np.ldexp(hessian, exponent)
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
        self.converged_ = bool(converged)
        self.n_passes_ = oracle.n_passes if self.solver != "gd" else None
        if not np.isfinite(C):
            if counts is None:
                counts = np.bincount(codes, minlength=len(classes))
            self._inference_state_ = self._inference_state(
                X, codes, w, coef, binary, hessian, data_loss, counts, n_iter, converged)
        return self

    def _fit_dask(self, X, y, sample_weight, C):
        """``fit`` on dask arrays / DataFrames: the same Newton loop, on a
        ``logreg._dask.DaskNewtonOracle`` (statistics map-reduced over the
        blocks, the Newton step solved here, on the client)."""
        from . import _dask

        if self.solver == "gd":
            raise ValueError("solver='gd' does not support dask inputs; use solver='newton' "
                             "(the default) or 'newton-cg'.")
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
        counts = data.class_totals()
        check_class_totals(counts, classes)
        check_sum_weights(counts.sum())
        coef0 = self._warm_start_coef(classes, k, d)
        if coef0 is None:
            coef0 = _start_from_totals(counts, k, p, binary=binary,
                                       fit_intercept=self.fit_intercept)
        if hasattr(self, "learning_rate_"):
            del self.learning_rate_
        result = NewtonSolver(oracle, C=C, tol=self.tol, max_iter=self.max_iter,
                              verbose=self.verbose, curvature=self._curvature).solve(coef0)
        self.n_passes_ = oracle.n_passes
        self._set_fitted(classes, d, feature_names, result.coef, result.n_iter,
                         result.history)
        self.converged_ = bool(result.converged)
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

    @property
    def _curvature(self):
        """The Newton solver's curvature rule for ``solver`` (``logreg._policy``)."""
        return "newton-cg" if self.solver == "newton-cg" else "auto"

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
        if hessian is None and X is not None:   # gradient descent: evaluate at the final coefficients
            data_term = (_loss.binary_loss_gradient_hessian if binary
                         else _loss.loss_gradient_hessian)
            k, p = coef.shape
            data_loss, _, pairs = data_term(X, codes, w, coef, self.fit_intercept,
                                            check_n_threads(self.n_threads))
            hessian = _loss.hessian_from_pairs(pairs, k, p, binary)
        total = counts.sum()
        present = counts > 0
        with np.errstate(over="ignore", invalid="ignore"):   # weights summing past 1e308
            loglike_null = float(np.sum(counts[present] * np.log(counts[present] / total)))
        from ._inference import data_fingerprint  # lets lr_test check y and weights

        return dict(hessian=hessian, loglike=-float(data_loss), loglike_null=loglike_null,
                    nobs=float(total), n_iter=int(n_iter), converged=bool(converged),
                    fit_intercept=bool(self.fit_intercept),
                    data_fingerprint=None if codes is None else data_fingerprint(codes, w))

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
                          UserWarning, stacklevel=_caller_stacklevel())
        elif fitted is not None and names is None:
            warnings.warn(f"X does not have valid feature names, but {name} was fitted with "
                          "feature names", UserWarning, stacklevel=_caller_stacklevel())
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

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Logits of each sample.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The features, as in ``fit`` (a Dask collection gives a lazy result).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes the logit of ``classes_[1]``, else one column per class.
        """
        if (Xd := self._dask_X(X)) is not None:
            from ._dask import dask_decision_function
            return dask_decision_function(Xd, self.coef_, self.intercept_)
        eta = self._logits(X)
        return eta[:, 0] if len(self.classes_) == 2 else eta

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Log class probabilities, computed stably (no ``log(0)``).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The features, as in ``fit`` (a Dask collection gives a lazy result).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        if (Xd := self._dask_X(X)) is not None:
            from ._dask import dask_predict_log_proba
            return dask_predict_log_proba(Xd, self.coef_, self.intercept_)
        return _loss.class_log_proba(self._logits(X))

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class probabilities.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The features, as in ``fit`` (a Dask collection gives a lazy result).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to one.
        """
        if (Xd := self._dask_X(X)) is not None:
            from ._dask import dask_predict_proba
            return dask_predict_proba(Xd, self.coef_, self.intercept_)
        return _loss.class_proba(self._logits(X))

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Most probable class of each sample.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The features, as in ``fit`` (a Dask collection gives a lazy result).

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        if (Xd := self._dask_X(X)) is not None:
            from ._dask import dask_predict
            return dask_predict(Xd, self.coef_, self.intercept_, self.classes_)
        scores = self.decision_function(X)
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Mean (weighted) accuracy of ``predict(X)`` against ``y``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The features, as in ``fit`` (a Dask collection gives a lazy result).
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the average.

        Returns
        -------
        float
            The share of correctly predicted samples.
        """
        pred = self.predict(X)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.shape != pred.shape:
            raise ValueError(f"y has shape {y.shape}; expected {pred.shape}.")
        w = check_sample_weight(sample_weight, len(pred))
        return float(np.average(pred == y, weights=w))

    # -- statistical inference (logreg._inference) --------------------------------
    def inference(self, reference: Any = None, cov_type: str = "nonrobust", *,
                  X: ArrayLike | None = None, y: ArrayLike | None = None,
                  sample_weight: ArrayLike | None = None,
                  groups: ArrayLike | None = None) -> InferenceResult:
        """Standard errors, z-tests, p-values and confidence intervals of an unpenalized fit.

        The parameters are those of statsmodels' ``MNLogit`` / ``Logit``: each
        class's coefficients minus the reference class's.  Uses the Hessian the
        fit already has at the optimum (no refit); a robust ``cov_type`` makes
        one pass over the training data.

        Parameters
        ----------
        reference : label in ``classes_``, optional
            The reference (base) class; default ``classes_[0]``.
        cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
            "nonrobust": the inverse information matrix.  "HC0": the sandwich;
            "HC1": HC0 times ``N / (N - K)``; "cluster": statsmodels' CRV1
            (needs ``groups``).  The robust types need ``X`` and ``y``.
        X : array-like of shape (n_samples, n_features), optional
            The training features, for a robust ``cov_type``.
        y : array-like of shape (n_samples,), optional
            The training labels, for a robust ``cov_type``.
        sample_weight : array-like of shape (n_samples,), optional
            The fit's weights (frequency weights), for a robust ``cov_type``.
        groups : array-like of shape (n_samples,), optional
            Cluster labels, for ``cov_type="cluster"``.

        Returns
        -------
        InferenceResult
            ``params``, ``bse``, ``zvalues``, ``pvalues`` of shape
            ``(n_classes - 1, n_features + fit_intercept)``, ``cov``,
            ``conf_int(alpha)`` and ``summary()``.

        Raises
        ------
        ValueError
            For a penalized fit (shrunken estimates have no classical standard
            errors), an unknown ``reference`` or ``cov_type``, or data missing
            or mismatched for a robust covariance.

        Warns
        -----
        SingularInformationWarning
            The information matrix is singular (collinear columns, separation,
            an empty class): coefficients that are not identified get NaN
            standard errors.

        See Also
        --------
        summary : The same numbers as a text table.

        Examples
        --------
        >>> import numpy as np, logreg
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((200, 2))
        >>> y = (X[:, 0] + rng.logistic(size=200) > 0).astype(int)
        >>> res = logreg.LogisticRegression(penalty=None).fit(X, y).inference()
        >>> res.params.shape
        (1, 3)
        """
        from ._inference import inference

        return inference(self, reference=reference, cov_type=cov_type, X=X, y=y,
                         sample_weight=sample_weight, groups=groups)

    def summary(self, reference: Any = None, alpha: float = 0.05, **kwargs: Any) -> Any:
        """A statsmodels-like summary table of an unpenalized fit.

        Parameters
        ----------
        reference : label in ``classes_``, optional
            The reference class (default ``classes_[0]``).
        alpha : float, default=0.05
            Confidence intervals are at level ``1 - alpha``.
        **kwargs
            Passed to :meth:`inference` (``cov_type``, ``X``, ``y``, ...).

        Returns
        -------
        InferenceSummary
            Prints as text; ``as_html()`` gives an HTML table.
        """
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


def _unit_weights(w, C):
    """``(w', e, C')``: ``w' = w 2^-e`` with ``max w'`` in ``[1/2, 1)`` and ``C' = C 2^e``.

    ``C sum w CE`` is unchanged, so is the optimum, and the power of two keeps
    the arithmetic bit for bit that of ``w`` -- but weights near the ends of
    the float64 range (subnormal, or 1e300 whose sum overflows) no longer
    under- or overflow in the solver.  ``C'`` is capped at the largest float
    (it stays a penalty); the solver's data loss and Hessian come back
    multiplied by ``2^-e``.
    """
    if w is None:
        return None, 0, C
    exponent = int(np.frexp(w.max())[1])
    with np.errstate(over="ignore", under="ignore"):
        C_unit = float(np.ldexp(C, exponent))
        w_unit = np.ldexp(w, -exponent)
    if np.isfinite(C):
        C_unit = min(C_unit, float(np.finfo(np.float64).max))
    return w_unit, exponent, C_unit


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


def _caller_stacklevel():
    """``warnings.warn``'s ``stacklevel`` for the caller's frame that called warn:
    the first frame outside this package (the user's ``predict(X)`` line, however
    deep inside logreg the check runs)."""
    import os

    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == package:
        frame, level = frame.f_back, level + 1
    return level
