"""Statistical inference for unpenalized fits: covariance, tests, intervals, summary.

Newton's method ends with the Hessian at the optimum, so classical inference
costs one Cholesky of a ``(k-1)p x (k-1)p`` matrix.  This module owns the
conventions below; ``LogisticRegression.inference`` and ``.summary`` are thin
wrappers around :func:`inference` and :func:`summary`.

Parametrisation
---------------
The estimator stores multinomial coefficients centred over classes (the
symmetric parametrisation); they are not identified on their own.  Inference
is reported in the *reference-class* parametrisation of statsmodels'
``MNLogit``: with ``beta_c`` the row of ``[coef_, intercept_]`` of class ``c``
and ``r`` the reference class, the parameters are ``theta_c = beta_c - beta_r``
for every ``c != r``, rows in ``classes_`` order.  For two classes the model is
the binary one (``coef_`` is ``classes_[1]`` against ``classes_[0]``);
``reference=classes_[1]`` flips the signs.

The information matrix in this parametrisation is the full class-major
Hessian restricted to the non-reference blocks (the likelihood does not change
when one vector is added to every ``beta_c``, so its Hessian with ``beta_r``
held fixed is that sub-matrix).  Changing the reference class therefore needs
no refit.  Flattened vectors and ``cov`` are class-major:
``cov[i * p + a, j * p + b]`` is the covariance of ``params[i, a]`` and
``params[j, b]``; column ``p - 1`` is the intercept when it was fitted.

Weights
-------
Sample weights are **frequency weights**: a row with integer weight ``m``
gives exactly the same inference as that row repeated ``m`` times (zero weight
= the row is absent).  The number of observations is ``N = sum(w)``, used in
BIC and in the HC1 and cluster small-sample corrections.  Weights with another
meaning (sampling/probability or precision weights) are not supported: read as
frequencies they misstate the uncertainty.  ``class_weight`` is different: it
reweights the likelihood (importance weights ``c``), so the inverse Hessian is
not the covariance of the estimates.  The robust types account for it (each
score enters the estimating equation as ``c_n s_n``, so the meat carries
``w_n c_n^2``); ``"nonrobust"`` warns.

Covariance types
----------------
``H`` is the information (the Hessian of the negative log-likelihood),
``s_n = (y_n - p_n) (x) x_n`` the per-sample score over the non-reference
classes, ``N = sum(w)`` and ``K = (k-1) p`` the number of parameters.

* ``"nonrobust"``: ``H^-1``.
* ``"HC0"``: ``H^-1 B H^-1`` with ``B = sum_n w_n s_n s_n^T`` (White/Huber).
* ``"HC1"``: HC0 times ``N / (N - K)``, the MacKinnon-White correction that
  statsmodels applies in linear models (``cov_white_simple(...,
  use_correction=True)``).  Note: statsmodels' discrete models (``Logit``,
  ``MNLogit``) silently return HC0 for every ``cov_type="HCx"``
  (statsmodels issues #7798, #2828); logreg does apply the correction.
* ``"cluster"``: ``H^-1 B_G H^-1 * G/(G-1) * (N-1)/(N-K)`` with
  ``B_G = sum_g u_g u_g^T``, ``u_g = sum_{n in g} w_n s_n`` and ``G`` the number
  of clusters with positive weight: statsmodels' CRV1 with its default
  ``use_correction=True``.

The robust types need the training data again (``X``, ``y``,
``sample_weight``; ``groups`` for clusters).  The meat is accumulated over row
blocks: each block's scores form a ``(b, K)`` matrix whose Gram matrix is one
SYRK (cluster sums are a scatter-add of the block's rows), so no Python loop
runs over samples and memory stays bounded.
"""
import hashlib
import math
import numbers
import os
import sys
import warnings

import numpy as np
from scipy import linalg, special  # not scipy.stats: it takes ~1 s to import
from scipy import sparse as sp
from scipy.linalg import lapack

from ._exceptions import NotFittedError, sklearn_compatible
from ._summary_tables import render_html, render_text
from ._validation import check_n_threads, check_sample_weight, check_X

__all__ = [
    "InferenceResult",
    "InferenceSummary",
    "InferenceWarning",
    "SingularInformationWarning",
    "inference",
    "summary",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")

# Reciprocal condition numbers (LAPACK 1-norm estimate) of the *equilibrated*
# information matrix D^-1/2 H D^-1/2.  Below SINGULAR_RCOND the matrix is
# treated as singular (the affected coefficients are reported as NaN); below
# ILL_CONDITIONED_RCOND the numbers are returned with a warning.
SINGULAR_RCOND = 1e-13
ILL_CONDITIONED_RCOND = 1e-10
# Relative information of a class below which it is reported as (nearly) empty.
EMPTY_CLASS_RATIO = 1e-8
# Newton decrement g' H^-1 g of the data passed for a robust covariance above
# which they do not look like the training data (the coefficients are then
# more than 0.1 standard error from that data's optimum in some direction).
SCORE_DECREMENT_TOL = 1e-2
# Scores are formed in row blocks of about this many float64 entries (16 MB).
_BLOCK_ENTRIES = 1 << 21


class InferenceWarning(UserWarning):
    """Inference was computed but may not be reliable (see the message)."""


class SingularInformationWarning(InferenceWarning):
    """The information matrix is singular or nearly so (see the message)."""


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


def inference(model, reference=None, cov_type="nonrobust", *, X=None, y=None,
              sample_weight=None, groups=None):
    """Standard errors, z-tests and confidence intervals of an unpenalized fit.

    Parameters
    ----------
    model : fitted ``LogisticRegression`` with ``penalty=None``
        Needs ``classes_``, ``coef_``, ``intercept_``, ``fit_intercept``,
        ``n_features_in_`` and ``_inference_state_`` (stored by ``fit``).
    reference : label in ``model.classes_``, optional
        The reference (base) class; default ``classes_[0]`` as in statsmodels'
        ``MNLogit``.  No refit is needed to change it.
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}
        See the module docstring.  The robust types need ``X`` and ``y`` (and
        ``sample_weight`` when the fit was weighted), ``"cluster"`` also
        ``groups``.
    X, y, sample_weight : the training data, for robust covariances.
        Sample weights are frequency weights.  Ignored for ``"nonrobust"``.
    groups : array-like of shape (n_samples,), for ``cov_type="cluster"``
        Cluster labels (any hashable values).

    Returns
    -------
    InferenceResult

    Raises
    ------
    ValueError
        For a penalized fit (the estimates are shrunk, so ``H^-1`` is not their
        covariance), an unknown ``reference`` or ``cov_type``, missing or
        mismatched data for a robust covariance.

    Warns
    -----
    SingularInformationWarning
        When the information matrix is singular (collinear columns,
        separation, an empty class): the coefficients that are not identified
        get NaN standard errors and the message names them and the likely
        cause.  When it is nearly singular, the numbers are returned and the
        warning says they are unreliable.
    InferenceWarning
        When the fit did not converge, or the data passed for a robust
        covariance do not look like the training data.
    """
    state = _inference_state(model)
    cov_type = _check_cov_type(cov_type)
    _check_robust_arguments(cov_type, X, y, groups)
    classes = np.asarray(model.classes_)
    k = len(classes)
    ref = _reference_index(classes, reference)
    fit_intercept = bool(state.get("fit_intercept", getattr(model, "fit_intercept", True)))
    B = _full_coefficients(model, k, fit_intercept)  # (k, p), binary: row 0 is zeros
    p = B.shape[1]
    others = np.array([c for c in range(k) if c != ref], dtype=np.intp)
    params = B[others] - B[ref]

    H_full = np.asarray(state["hessian"], dtype=np.float64)
    H = _reference_information(H_full, k, p, others)
    feature_names = _feature_names(model, fit_intercept)
    class_names = [_label(c) for c in classes]
    coef_names = [(class_names[c], f) for c in others for f in feature_names]

    if not state.get("converged", True):
        warnings.warn(
            f"the fit did not converge ({state.get('n_iter', '?')} iterations), or it "
            "stopped at a (quasi-)separation of the classes (see the warning raised by "
            "fit()): standard errors assume the coefficients are at a finite maximum of "
            "the likelihood, and may be meaningless here.",
            InferenceWarning, stacklevel=_stacklevel(),
        )

    if cov_type == "nonrobust" and getattr(model, "class_weight", None) is not None:
        warnings.warn(
            "the model was fitted with class_weight, which reweights the likelihood: the "
            "inverse Hessian (cov_type='nonrobust') is not the covariance of these "
            "estimates. Use cov_type='HC0' with X=..., y=... (and sample_weight=...) for a "
            "sandwich covariance that accounts for the class weights.",
            InferenceWarning, stacklevel=_stacklevel(),
        )
    nobs = float(state["nobs"])
    H_inv, unidentified = _invert_information(
        H, H_full=H_full, k=k, p=p, class_names=class_names, feature_names=feature_names,
        coef_names=coef_names, fit_intercept=fit_intercept, nobs=nobs,
    )

    n_params = params.size
    if cov_type == "nonrobust":
        cov = H_inv
    else:
        cov = _robust_covariance(
            model, cov_type, H_inv, B, others, fit_intercept, nobs, n_params,
            X=X, y=y, sample_weight=sample_weight, groups=groups, classes=classes,
        )
    cov = 0.5 * (cov + cov.T)
    if unidentified.any():
        cov[unidentified, :] = np.nan
        cov[:, unidentified] = np.nan

    return InferenceResult(
        params=params,
        cov=cov,
        cov_type=cov_type,
        classes=classes[others],
        reference=classes[ref],
        all_classes=classes,
        feature_names=feature_names,
        fit_intercept=fit_intercept,
        nobs=nobs,
        loglike=float(state["loglike"]),
        loglike_null=float(state["loglike_null"]),
        n_iter=state.get("n_iter", getattr(model, "n_iter_", None)),
        converged=bool(state.get("converged", True)),
        fit_info=FitInfo(model, state),
        information_inverse=H_inv,
    )


def summary(model, reference=None, alpha=0.05, tests=(), **kwargs):
    """Printable summary table of :func:`inference`; ``kwargs`` go to it.

    ``str(summary(...))`` is a text table (one block per non-reference class:
    coef, std err, z, P>|z| and the ``1 - alpha`` confidence interval) with
    the fit statistics; ``_repr_html_`` renders it in notebooks.  ``tests``
    (results of ``wald_test``, ``lr_test``, ``score_test``) add a line each.
    """
    return inference(model, reference=reference, **kwargs).summary(alpha=alpha, tests=tests)


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


class InferenceResult:
    """Inference for an unpenalized logistic regression, reference-class form.

    Attributes
    ----------
    params, bse, zvalues, pvalues : ndarray of shape (k - 1, p)
        Rows: the non-reference classes (``classes``) in ``classes_`` order;
        columns: features in X's order, then the intercept when fitted.
        ``pvalues`` are two-sided, from the normal distribution.
    cov : ndarray of shape ((k - 1) p, (k - 1) p)
        Class-major covariance of ``params.ravel()``.
    cov_type : str
    classes : ndarray
        The class of each row of ``params``.
    reference : the reference class label.
    feature_names : list of str
        Column names (DataFrame columns or ``x0..x{d-1}``, then ``"const"``).
    nobs : float
        Number of observations: the sum of the fit's weights, ``sum(sample_weight)``
        (frequency weights; times the class weights if ``class_weight`` was used).
    loglike, loglike_null : float
        Log-likelihood of the fit and of the intercept-only model.
    n_iter, converged
        From the fit.
    """

    def __init__(self, *, params, cov, cov_type, classes, reference, all_classes,
                 feature_names, fit_intercept, nobs, loglike, loglike_null, n_iter,
                 converged, fit_info=None, information_inverse=None):
        self.fit_info = fit_info
        # H^-1 whatever cov_type is: score tests need the information itself
        if information_inverse is None and cov_type == "nonrobust":
            information_inverse = cov
        self.information_inverse = information_inverse
        self.params = params
        self.cov = cov
        self.cov_type = cov_type
        self.classes = classes
        self.reference = reference
        self.all_classes = all_classes
        self.feature_names = list(feature_names)
        self.fit_intercept = fit_intercept
        self.nobs = nobs
        self.loglike = loglike
        self.loglike_null = loglike_null
        self.n_iter = n_iter
        self.converged = converged
        self.bse, self.zvalues, self.pvalues = z_statistics(
            params, np.diag(cov).reshape(params.shape))

    @property
    def class_names(self):
        """Display names of the rows of ``params``."""
        return [_label(c) for c in self.classes]

    @property
    def n_params(self):
        return self.params.size

    @property
    def df_model(self):
        """Parameters beyond the intercept-only (null) model."""
        return self.params.size - self.params.shape[0] * self.fit_intercept

    @property
    def df_resid(self):
        return self.nobs - self.n_params

    @property
    def prsquared(self):
        """McFadden's pseudo R-squared, ``1 - loglike / loglike_null``."""
        if self.loglike_null == 0:
            return np.nan
        return 1.0 - self.loglike / self.loglike_null

    @property
    def aic(self):
        return -2.0 * self.loglike + 2.0 * self.n_params

    @property
    def bic(self):
        return -2.0 * self.loglike + math.log(self.nobs) * self.n_params

    @property
    def llr(self):
        """Likelihood-ratio statistic against the null model."""
        return 2.0 * (self.loglike - self.loglike_null)

    @property
    def llr_pvalue(self):
        if self.df_model == 0:
            return np.nan
        return float(special.chdtrc(self.df_model, self.llr))

    def conf_int(self, alpha=0.05):
        """Wald confidence intervals of ``params``.

        Parameters
        ----------
        alpha : float, default=0.05
            The intervals' level is ``1 - alpha``.

        Returns
        -------
        ndarray of shape (k - 1, p, 2)
            Lower and upper bounds.
        """
        alpha = _check_alpha(alpha)
        q = special.ndtri(1.0 - alpha / 2.0)
        half = q * self.bse
        return np.stack([self.params - half, self.params + half], axis=-1)

    @property
    def reference_index(self):
        """Position of the reference class in ``all_classes``."""
        return _reference_index(self.all_classes, self.reference)

    @property
    def other_indices(self):
        """Positions in ``all_classes`` of the rows of ``params``."""
        ref = self.reference_index
        return np.array([c for c in range(len(self.all_classes)) if c != ref], dtype=np.intp)

    def full_params(self):
        """``(k, p)`` coefficients of every class, the reference row zero.

        Softmax probabilities do not change when one vector is added to every
        row, so these give the fitted probabilities; derivatives with respect
        to the rows of ``params`` are those with respect to the non-reference rows.

        Returns
        -------
        ndarray of shape (n_classes, n_params_per_class)
            ``params`` in the rows of the other classes, zeros in the reference's.
        """
        B = np.zeros((len(self.all_classes), self.params.shape[1]))
        B[self.other_indices] = self.params
        return B

    def summary(self, alpha=0.05, tests=()):
        """A statsmodels-like table of these numbers.

        Parameters
        ----------
        alpha : float, default=0.05
            Confidence intervals at level ``1 - alpha``.
        tests : sequence of test results, default=()
            Results of ``wald_test``, ``lr_test`` or ``score_test``: one line
            each under the table.

        Returns
        -------
        InferenceSummary
            Prints as text; ``as_html()`` gives an HTML table.
        """
        return InferenceSummary(self, alpha=alpha, tests=tests)

    # -- beyond standard errors (logreg._margins, _hypothesis_tests, ...) ------
    def marginal_effects(self, X, at="overall", method="dydx", dummy=False, count=False,
                         sample_weight=None):
        """Marginal effects on every class probability, with delta-method errors.

        statsmodels' ``get_margeff`` definitions, for every class (the
        reference included), computed over row blocks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to average over (``at="overall"``) or whose means or
            medians to take; usually the training data.
        at : {"overall", "mean", "median", "zero"}, default="overall"
            Where the effects are evaluated.
        method : {"dydx", "eyex", "dyex", "eydx"}, default="dydx"
            Derivative, elasticity or semi-elasticities.
        dummy : bool, default=False
            Treat 0/1 columns as discrete changes from 0 to 1.
        count : bool, default=False
            Treat columns of non-negative integers as unit changes.
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights of the rows (``at="overall"`` or ``"mean"``).

        Returns
        -------
        MarginalEffects
            ``effects``, ``bse``, ``zvalues``, ``pvalues`` of shape
            ``(n_classes, n_features)``, ``conf_int(alpha)`` and ``summary()``.
        """
        from ._margins import marginal_effects

        return marginal_effects(self, X, at=at, method=method, dummy=dummy, count=count,
                                sample_weight=sample_weight)

    def wald_test(self, features=None, q=None, *, R=None):
        """Joint Wald test of linear hypotheses on ``params``.

        Parameters
        ----------
        features : int, str or a sequence of them, optional
            Columns of ``params`` (indices or feature names, the intercept
            included): the test that they are zero in every class.
        q : float or array-like, optional
            With ``R``: the hypothesis ``R @ params.ravel() == q`` (default 0).
        R : array-like of shape (n_restrictions, params.size), optional
            Restrictions on the class-major flattened parameters.

        Returns
        -------
        TestResult
            ``statistic``, ``df`` and ``pvalue``.
        """
        from ._hypothesis_tests import wald_test

        return wald_test(self, features, q=q, R=R)

    def lr_test(self, restricted):
        """Likelihood-ratio test of this fit against a nested, restricted one.

        Parameters
        ----------
        restricted : InferenceResult
            The smaller model's result, fitted to the same ``y`` and
            ``sample_weight`` (checked), with fewer parameters.

        Returns
        -------
        TestResult
            ``statistic``, ``df`` and ``pvalue``.
        """
        from ._hypothesis_tests import lr_test

        return lr_test(self, restricted)

    def score_test(self, X_extra, *, X, y, sample_weight=None, groups=None, joint=True):
        """Score (Lagrange-multiplier) test for adding columns, without a refit.

        Parameters
        ----------
        X_extra : array-like of shape (n_samples, m)
            The candidate columns.
        X : array-like of shape (n_samples, n_features)
            The training data of the fit.
        y : array-like of shape (n_samples,)
            The training labels.
        sample_weight : array-like of shape (n_samples,), optional
            The training weights.
        groups : array-like of shape (n_samples,), optional
            Cluster labels, for a result with ``cov_type="cluster"``.
        joint : bool, default=True
            True: one test that all columns can be added; False: one test per
            column, all from the same passes over the data.

        Returns
        -------
        TestResult or ScoreTests
            One test (``joint=True``) or one per column.
        """
        from ._hypothesis_tests import score_test

        return score_test(self, X_extra, X=X, y=y, sample_weight=sample_weight,
                          groups=groups, joint=joint)

    def predict_proba_ci(self, X, alpha=0.05):
        """Confidence intervals of the predicted class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to predict.
        alpha : float, default=0.05
            The intervals have coverage ``1 - alpha``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes, 2)
            Lower and upper bounds; classes in ``classes_`` order.
        """
        from ._prediction_intervals import predict_proba_ci

        return predict_proba_ci(self, X, alpha=alpha)

    def plot(self, alpha=0.05, *, include_intercept=False, ax=None):
        """Forest plot of the coefficients with their intervals, a panel per class.

        Parameters
        ----------
        alpha : float, default=0.05
            Intervals at level ``1 - alpha``.
        include_intercept : bool, default=False
            Also show the intercept.
        ax : matplotlib Axes or a sequence of them, optional
            One per non-reference class; new ones when None.

        Returns
        -------
        ndarray of matplotlib Axes
            One per non-reference class.
        """
        from ._plotting import plot_coefficients

        return plot_coefficients(self, alpha=alpha, include_intercept=include_intercept, ax=ax)

    def to_frame(self, alpha=0.05):
        """The numbers as a pandas DataFrame indexed by (class, feature) (needs pandas).

        Parameters
        ----------
        alpha : float, default=0.05
            Confidence intervals at level ``1 - alpha``.

        Returns
        -------
        pandas.DataFrame
            Columns coef, std err, z, P>|z| and the interval bounds.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pandas is not a dependency of logreg
            raise ImportError("InferenceResult.to_frame() needs pandas.") from exc
        ci = self.conf_int(alpha)
        index = pd.MultiIndex.from_tuples(
            [(c, f) for c in self.class_names for f in self.feature_names],
            names=["class", "feature"],
        )
        lo, hi = _interval_labels(alpha)
        return pd.DataFrame(
            {
                "coef": self.params.ravel(),
                "std err": self.bse.ravel(),
                "z": self.zvalues.ravel(),
                "P>|z|": self.pvalues.ravel(),
                lo: ci[..., 0].ravel(),
                hi: ci[..., 1].ravel(),
            },
            index=index,
        )

    def __repr__(self):
        return (
            f"<InferenceResult: {self.params.shape[0]} x {self.params.shape[1]} params, "
            f"reference={_label(self.reference)!r}, cov_type={self.cov_type!r}>"
        )


class InferenceSummary:
    """Text and HTML tables of an :class:`InferenceResult`."""

    def __init__(self, result, alpha=0.05, tests=()):
        self.result = result
        self.alpha = _check_alpha(alpha)
        self.tests = _check_tests(tests)

    def _info(self):
        r = self.result
        binary = len(r.all_classes) == 2
        left = [
            ("Model:", "Logit" if binary else "MNLogit"),
            ("Classes:", _fmt_classes(r.all_classes)),
            ("Reference class:", _label(r.reference)),
            ("Covariance type:", r.cov_type),
            ("Converged:", str(bool(r.converged))),
            ("Iterations:", "" if r.n_iter is None else str(int(np.max(r.n_iter)))),
            ("No. Observations:", _fmt_count(r.nobs)),
            ("Df Residuals:", _fmt_count(r.df_resid)),
        ]
        right = [
            ("Df Model:", str(r.df_model)),
            ("Pseudo R-squ.:", _fmt_stat(r.prsquared)),
            ("Log-Likelihood:", _fmt_stat(r.loglike)),
            ("LL-Null:", _fmt_stat(r.loglike_null)),
            ("LLR p-value:", _fmt_p(r.llr_pvalue, precise=True)),
            ("AIC:", _fmt_stat(r.aic)),
            ("BIC:", _fmt_stat(r.bic)),
            ("", ""),
        ]
        return left, right

    def _rows(self):
        """Per class: (header, [(name, cells...)]) with formatted cells."""
        r = self.result
        ci = r.conf_int(self.alpha)
        blocks = []
        for i, cname in enumerate(r.class_names):
            rows = []
            for a, fname in enumerate(r.feature_names):
                rows.append([
                    fname,
                    _fmt_num(r.params[i, a]),
                    _fmt_num(r.bse[i, a]),
                    _fmt_z(r.zvalues[i, a]),
                    _fmt_p(r.pvalues[i, a]),
                    _fmt_num(ci[i, a, 0]),
                    _fmt_num(ci[i, a, 1]),
                ])
            blocks.append((f"{cname} vs {_label(r.reference)}", rows))
        return blocks

    def _headers(self):
        lo, hi = _interval_labels(self.alpha)
        return ["coef", "std err", "z", "P>|z|", lo, hi]

    def _notes(self):
        r = self.result
        notes = []
        if np.isnan(r.bse).any():
            notes.append(
                "NaN standard errors: those coefficients are not identified "
                "(singular information matrix; see the warning raised by inference())."
            )
        if not r.converged:
            notes.append("The fit did not converge: the numbers above may be unreliable.")
        if r.cov_type != "nonrobust":
            notes.append(f"Standard errors are robust ({r.cov_type}).")
        notes.extend(test.line() for test in self.tests)
        return notes

    def _title(self):
        return "Logistic Regression Results" if len(self.result.all_classes) == 2 \
            else "Multinomial Logistic Regression Results"

    def as_text(self):
        left, right = self._info()
        return render_text(self._title(), left, right, self._headers(), self._rows(),
                           self._notes())

    def as_html(self):
        left, right = self._info()
        return render_html(self._title(), left, right, self._headers(), self._rows(),
                           self._notes())

    def __str__(self):
        return self.as_text()

    def __repr__(self):
        return self.as_text()

    def _repr_html_(self):
        return self.as_html()


# --------------------------------------------------------------------------
# Helpers: model state, parametrisation, names
# --------------------------------------------------------------------------


def _stacklevel():
    """``stacklevel`` of the first frame outside logreg, for ``warnings.warn``.

    Must be called in the argument list of ``warnings.warn`` so that level 1
    is the function that warns; the warning then points at the user's line
    whether inference() was reached directly, via a model method or summary().
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) \
            == _PACKAGE_DIR:
        frame = frame.f_back
        level += 1
    return level


def _inference_state(model):
    if not hasattr(model, "classes_") or not hasattr(model, "coef_"):
        raise sklearn_compatible(NotFittedError)(
            "this model is not fitted yet: call fit(X, y) with penalty=None before inference()."
        )
    state = getattr(model, "_inference_state_", None)
    if state is None:
        penalty = getattr(model, "penalty", "a")
        C = getattr(model, "C", None)
        raise ValueError(
            f"inference() needs an unpenalized fit, but this model was fitted with "
            f"penalty={penalty!r}" + (f" (C={C})" if C is not None else "") + ". "
            "A penalty shrinks the coefficients towards zero: the estimates are biased "
            "and the inverse Hessian is not their sampling covariance, so standard "
            "errors, z-tests and confidence intervals would be wrong. Refit with "
            "penalty=None (or C=np.inf) for classical inference, or bootstrap the "
            "penalized fit."
        )
    missing = [key for key in ("hessian", "loglike", "loglike_null", "nobs") if key not in state]
    if missing:
        raise ValueError(f"the model's _inference_state_ lacks {missing}; refit the model.")
    if state["hessian"] is None:
        raise ValueError(
            "inference() needs the data Hessian at the optimum, which this Dask fit did not "
            "form: its (k p)^2 entries exceed logreg._dask.HESSIAN_BUDGET_BYTES, so the fit "
            "ran Hessian-free. Raise that budget if the client has the memory, or fit "
            "fewer features or classes.")
    return state


def _check_cov_type(cov_type):
    if isinstance(cov_type, str):
        for name in COV_TYPES:
            if cov_type.lower() == name.lower():
                return name
    raise ValueError(f"cov_type must be one of {list(COV_TYPES)}; got {cov_type!r}.")


def _check_robust_arguments(cov_type, X, y, groups):
    """Fail fast (before any numerical work) on missing data for a robust cov_type."""
    if cov_type == "nonrobust":
        return
    if X is None or y is None:
        raise ValueError(
            f"cov_type={cov_type!r} needs the training data: pass X=..., y=... "
            "(and sample_weight=... if the fit was weighted"
            + (", groups=..." if cov_type == "cluster" else "") + ") to inference()."
        )
    if cov_type == "cluster" and groups is None:
        raise ValueError("cov_type='cluster' needs groups=... (one cluster label per sample).")
    if cov_type != "cluster" and groups is not None:
        raise ValueError(f"groups is only used with cov_type='cluster', not {cov_type!r}.")


def _check_tests(tests):
    tests = [tests] if hasattr(tests, "line") else list(tests)
    for test in tests:
        if not callable(getattr(test, "line", None)):
            raise TypeError(
                "tests must hold results of wald_test, lr_test or score_test; got "
                f"{type(test).__name__}."
            )
    return tests


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number strictly between 0 and 1; got {alpha!r}.")
    return float(alpha)


def _label(c):
    return str(c.item() if isinstance(c, np.generic) else c)


def _reference_index(classes, reference):
    if reference is None:
        return 0
    for i, c in enumerate(classes):
        try:
            if bool(c == reference):
                return i
        except (TypeError, ValueError):
            continue
    raise ValueError(
        f"reference={reference!r} is not one of the classes {[_label(c) for c in classes]}."
    )


def _full_coefficients(model, k, fit_intercept):
    """``(k, p)`` rows ``[coef_c, intercept_c]``; for a binary fit row 0 is zero."""
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.ravel(np.asarray(getattr(model, "intercept_", 0.0), dtype=np.float64))
    if fit_intercept:
        if intercept.size != coef.shape[0]:
            intercept = np.broadcast_to(intercept, (coef.shape[0],))
        W = np.hstack([coef, intercept[:, None]])
    else:
        W = coef
    if k == 2 and W.shape[0] == 1:
        return np.vstack([np.zeros_like(W), W])
    if W.shape[0] != k:
        raise ValueError(f"coef_ has {W.shape[0]} rows for {k} classes.")
    return W


def _reference_information(H_full, k, p, others):
    """Information matrix of ``theta``: non-reference blocks of the full Hessian."""
    if k == 2 and H_full.shape == (p, p):  # binary model: already theta's Hessian
        return H_full.copy()
    if H_full.shape != (k * p, k * p):
        raise ValueError(
            f"the stored Hessian has shape {H_full.shape}; expected {(k * p, k * p)}."
        )
    idx = (others[:, None] * p + np.arange(p)[None, :]).ravel()
    return H_full[np.ix_(idx, idx)]


def _feature_names(model, fit_intercept):
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = [f"x{j}" for j in range(int(model.n_features_in_))]
    names = [str(n) for n in names]
    if fit_intercept:
        for const in ("const", "intercept", "_intercept"):
            if const not in names:
                names.append(const)
                break
        else:
            names.append("_const")
    return names


def _interval_labels(alpha):
    return f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"


# --------------------------------------------------------------------------
# Helpers: the information matrix and its inverse
# --------------------------------------------------------------------------


def _invert_information(H, *, H_full, k, p, class_names, feature_names, coef_names,
                        fit_intercept, nobs):
    """``H^-1`` by Cholesky of the equilibrated matrix, and the unidentified mask.

    Equilibration (``D^-1/2 H D^-1/2``, ``D = diag(H)``) makes the condition
    estimate independent of the units of the features.  When the matrix is
    singular, the coefficients that remain identified (orthogonal to the null
    space) get their entries of the pseudo-inverse and the others NaN.  A
    SingularInformationWarning names the likely cause when the matrix is
    singular or nearly so, or when a class carries no information.
    """
    m = H.shape[0]
    diag = np.diag(H).copy()
    positive = np.isfinite(diag) & (diag > 0)
    s = np.ones(m)
    s[positive] = 1.0 / np.sqrt(diag[positive])
    Hs = H * s[:, None] * s[None, :]
    rcond = 0.0
    if positive.all() and np.isfinite(Hs).all():
        try:
            c, lower = linalg.cho_factor(Hs, lower=False, check_finite=False)
        except linalg.LinAlgError:
            c = None
        if c is not None:
            anorm = np.abs(Hs).sum(axis=0).max()
            rcond, info = lapack.dpocon(c, anorm, uplo="U")
            rcond = float(rcond) if info == 0 else 0.0

    # Equilibration hides information that vanishes along a whole block, as
    # for an empty or separated class; the intercept entries show it.
    faint = _faint_classes(H_full, k, p, fit_intercept, nobs)
    singular = rcond < SINGULAR_RCOND
    if singular:  # eigen-decomposition (rare path) to find what is not identified
        Hs = np.where(np.isfinite(Hs), Hs, 0.0)
        lam, V = linalg.eigh(Hs)
        top = max(lam[-1], np.finfo(float).tiny)
        null = lam <= SINGULAR_RCOND * top * m
        null[0] = True
        unidentified = (np.abs(V[:, null]) > 1e-6).any(axis=1) | ~positive
        keep = ~null
        Hs_inv = (V[:, keep] / lam[keep]) @ V[:, keep].T
    else:
        unidentified = np.zeros(m, dtype=bool)
        Hs_inv = _cholesky_inverse(c)

    if singular or rcond < ILL_CONDITIONED_RCOND or faint:
        if singular:
            names = [f"{a}:{b}" for (a, b), u in zip(coef_names, unidentified) if u]
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            head = (f"the information matrix is singular: {len(names)} coefficient(s) are "
                    f"not identified and get NaN standard errors ({shown}).")
        elif rcond < ILL_CONDITIONED_RCOND:
            head = (f"the information matrix is nearly singular (reciprocal condition "
                    f"number {rcond:.2g}): standard errors are unreliable and may be "
                    "hugely inflated.")
        else:
            head = ("the information about some coefficients has (almost) vanished: their "
                    "standard errors are unreliable and may be hugely inflated.")
        cause = _likely_cause(H_full, k, p, faint, class_names, feature_names)
        warnings.warn(f"{head} {cause}", SingularInformationWarning,
                      stacklevel=_stacklevel())
    return Hs_inv * s[:, None] * s[None, :], unidentified


def _cholesky_inverse(c):
    """``A^-1`` from the upper Cholesky factor of ``A`` (LAPACK potri: a third of
    the flops of solving against the identity), both triangles filled."""
    inv, info = lapack.dpotri(c, lower=0)
    if info != 0:  # cannot happen after a successful factorization
        raise linalg.LinAlgError(f"dpotri failed with info={info}")
    upper = np.triu(inv)
    return upper + np.triu(upper, 1).T


def _class_blocks(H_full, k, p):
    if k == 2 and H_full.shape == (p, p):  # binary model
        return [H_full]
    return [H_full[c * p:(c + 1) * p, c * p:(c + 1) * p] for c in range(k)]


def _faint_classes(H_full, k, p, fit_intercept, nobs):
    """Classes whose information (nearly) vanished: fitted probabilities all 0 or 1.

    With an intercept, entry ``sum_n w_n p_c (1 - p_c)`` of class ``c``'s block
    is at most ``nobs / 4``; without one, the block's trace is compared with
    the largest.  Binary: ``[0]`` flags the whole model.
    """
    blocks = _class_blocks(H_full, k, p)
    if fit_intercept:
        mass = np.array([b[p - 1, p - 1] for b in blocks]) / (0.25 * max(nobs, 1e-300))
    else:
        mass = np.array([np.trace(b) for b in blocks])
        mass = mass / max(mass.max(), np.finfo(float).tiny)
    return [c for c in range(len(blocks)) if not mass[c] > EMPTY_CLASS_RATIO]


def _smallest_eig(A):
    """Smallest eigenvalue ratio and eigenvector of the equilibrated PSD matrix ``A``."""
    d = np.diag(A).copy()
    d[~(d > 0)] = 1.0
    s = 1.0 / np.sqrt(d)
    lam, V = linalg.eigh(A * s[:, None] * s[None, :])
    return lam[0] / max(lam[-1], np.finfo(float).tiny), V[:, 0]


def _likely_cause(H_full, k, p, faint, class_names, feature_names):
    """One sentence naming the likely cause of vanishing information, and the remedy."""
    blocks = _class_blocks(H_full, k, p)
    binary = len(blocks) == 1
    separation = ("Likely cause: perfect or quasi-complete separation - some combination "
                  "of features predicts the class (almost) exactly, so the maximum-likelihood "
                  "estimates do not exist (the coefficients diverge). Remove or merge the "
                  "separating features or classes; a penalized fit gives finite estimates "
                  "but no classical inference.")
    if binary and faint:
        return separation.replace("Likely cause: perfect", "Likely cause: the fitted "
                                  "probabilities are numerically 0 or 1: perfect")
    if faint and len(faint) < len(blocks):
        names = ", ".join(class_names[c] for c in faint)
        return (f"Likely cause: class(es) {names} carry (almost) no information - no "
                "observations with positive weight, or perfectly separated from the other "
                "classes. Remove or merge the class (and choose another reference class if "
                "it is the reference).")
    if faint:
        return separation
    # Collinear columns make every class block X' diag(w p(1-p)) X singular,
    # hence their sum, whose weights are positive wherever the fit is uncertain.
    ratio, v = _smallest_eig(sum(blocks))
    if ratio < 1e3 * SINGULAR_RCOND:
        cols = [feature_names[j] for j in np.flatnonzero(np.abs(v) > 0.05 * np.abs(v).max())]
        return (f"Likely cause: collinear columns - {', '.join(cols)} are linearly "
                "dependent (or a column is constant while an intercept is fitted). "
                "Drop or combine these columns and refit.")
    return separation


# --------------------------------------------------------------------------
# Data passes after the fit: every inference computation that reads X, y
# again (robust covariances, marginal effects, score tests, probability
# intervals) goes through these functions.
# --------------------------------------------------------------------------


class FitInfo:
    """What later data passes need from the fitted model.

    A snapshot rather than the model itself (the model may be refitted while a
    result is alive); its attribute names are the model's, so every function
    that takes ``model`` here accepts a ``FitInfo`` too.
    """

    def __init__(self, model, state):
        self.n_features_in_ = int(model.n_features_in_)
        self.feature_names_in_ = getattr(model, "feature_names_in_", None)
        self.n_threads = getattr(model, "n_threads", None)
        self.class_weight = getattr(model, "class_weight", None)
        self.data_fingerprint = state.get("data_fingerprint")


def checked_X(model, X, name="X"):
    """``X`` validated for a data pass of ``model``: values, columns, feature count."""
    fitted_names = getattr(model, "feature_names_in_", None)
    columns = getattr(X, "columns", None)
    if fitted_names is not None and columns is not None and (
            len(columns) != len(fitted_names)
            or any(str(a) != str(b) for a, b in zip(columns, fitted_names))):
        raise ValueError(
            f"{name} has columns {[str(c) for c in columns]} but the model was fitted "
            f"with {[str(c) for c in fitted_names]}: pass data with the fitted columns."
        )
    X = check_X(X, name=name, n_threads=check_n_threads(getattr(model, "n_threads", None)),
                accept_sparse=True)
    if X.shape[1] != int(model.n_features_in_):
        raise ValueError(
            f"{name} has {X.shape[1]} features but the model was fitted with "
            f"{model.n_features_in_} features."
        )
    return X


def training_rows(model, X, y, sample_weight, classes, nobs, caller="inference()"):
    """The training data again, checked: ``(X, yi, w, w_score, w_meat)``.

    ``yi`` are class indices, ``w`` the sample weights (None: all one).
    class_weight (importance weights) multiplies each row's score: the
    estimating equation is ``sum_n w_n c_n s_n = 0``, so ``w_score = w c``
    and the meat of a sandwich carries ``w_meat = w c^2``, while sample
    weights (frequencies) enter once.  The total score weight must be the
    fit's ``nobs``.
    """
    X = checked_X(model, X)
    n = X.shape[0]
    yi = _class_indices(y, classes, n)
    w = check_sample_weight(sample_weight, n,
                            n_threads=check_n_threads(getattr(model, "n_threads", None)))
    cw = _class_weights(model, classes, yi, w)
    w_score = w if cw is None else (cw if w is None else w * cw)
    w_meat = w if cw is None else (cw * cw if w is None else w * cw * cw)
    total = float(n) if w_score is None else float(w_score.sum())
    if not math.isclose(total, nobs, rel_tol=1e-9, abs_tol=1e-9):
        raise ValueError(
            f"the data passed to {caller} have total weight {total:g}, but the fit had "
            f"{nobs:g}: pass the same X, y and sample_weight as to fit()."
        )
    return X, yi, w, w_score, w_meat


def dense_rows(X, start, stop):
    """Rows ``start:stop`` of a checked ``X`` as a dense float64 block (sparse X is
    densified one row block at a time, no larger than the block's own scores)."""
    block = X[start:stop]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=np.float64)


def design_rows(X, start, stop, fit_intercept):
    """``dense_rows`` with the trailing column of ones when the intercept is fitted."""
    Xb = dense_rows(X, start, stop)
    return np.hstack([Xb, np.ones((stop - start, 1))]) if fit_intercept else Xb


def softmax_derivative(P, columns):
    """``D[n, j, c] = dP_j / d eta_c = P_j ([j = c] - P_c)`` for every class ``j``
    and the classes ``c`` in ``columns``."""
    columns = np.asarray(columns, dtype=np.intp)
    D = -P[:, :, None] * P[:, None, columns]
    D[:, columns, np.arange(len(columns))] += P[:, columns]
    return D


def z_statistics(estimates, variances):
    """Standard errors, z-values and two-sided normal p-values of ``estimates``."""
    # A sandwich is PSD: a negative variance is rounding around zero.  NaN
    # (unidentified, already warned about) propagates through maximum.
    bse = np.sqrt(np.maximum(variances, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimates / bse
    return bse, z, 2.0 * special.ndtr(-np.abs(z))


def row_block_size(n, entries_per_row):
    """Rows per block so that a block's temporaries hold about ``_BLOCK_ENTRIES`` floats."""
    return max(64, min(n, _BLOCK_ENTRIES // max(int(entries_per_row), 1)))


def data_fingerprint(codes, w):
    """A digest that changes when the labels, the weights or their order change.

    Stored by ``fit`` so that a likelihood-ratio test can check that two fits
    saw the same ``y`` and ``sample_weight`` (X differs between nested fits).
    A hash of the bytes: exact, and safe for weights of any magnitude.
    """
    digest = hashlib.blake2b(np.ascontiguousarray(codes, dtype=np.intp).tobytes(),
                             digest_size=16)
    if w is not None:
        digest.update(np.ascontiguousarray(w, dtype=np.float64).tobytes())
    return digest.hexdigest()



# --------------------------------------------------------------------------
# Helpers: robust (sandwich) covariances
# --------------------------------------------------------------------------


def _class_indices(y, classes, n):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D; got shape {y.shape}.")
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} entries but X has {n} samples.")
    try:
        idx = np.searchsorted(classes, y)
        idx = np.clip(idx, 0, len(classes) - 1)
        ok = classes[idx] == y
    except (TypeError, ValueError):
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        idx = np.array([lookup.get(v, -1) for v in y.tolist()], dtype=np.intp)
        ok = idx >= 0
    ok = np.asarray(ok, dtype=bool)
    if not ok.all():
        unknown = np.unique(y[~ok])[:5]
        raise ValueError(
            f"y contains labels that are not in classes_ ({[_label(c) for c in classes]}): "
            f"{[_label(u) for u in unknown]}. Pass the y used for fitting."
        )
    return idx.astype(np.intp, copy=False)


def _class_weights(model, classes, yi, w):
    """Per-row class weights as the estimator applied them, or None when all are one."""
    class_weight = getattr(model, "class_weight", None)
    if class_weight is None:
        return None
    from ._validation import check_class_weight  # the estimator's own rule

    per_class = check_class_weight(class_weight, classes, yi, w)
    if np.all(per_class == 1.0):
        return None
    return per_class[yi]


def _group_indices(groups, n):
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ValueError(f"groups must be 1-D; got shape {g.shape}.")
    if g.shape[0] != n:
        raise ValueError(f"groups has {g.shape[0]} entries but X has {n} samples.")
    if g.dtype.kind == "f" and not np.isfinite(g).all():
        raise ValueError("groups contains NaN or infinity.")
    try:
        _, inv = np.unique(g, return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"groups must hold comparable labels: {exc}") from None
    return inv.reshape(-1).astype(np.intp, copy=False)


def _robust_covariance(model, cov_type, H_inv, B, others, fit_intercept, nobs, n_params, *,
                       X, y, sample_weight, groups, classes):
    X, yi, w, w_score, w_meat = training_rows(model, X, y, sample_weight, classes, nobs)
    n = X.shape[0]
    nobs = float(n) if w is None else float(w.sum())
    gi = _group_indices(groups, n) if cov_type == "cluster" else None

    meat, grad, n_groups = _score_products(X, yi, w_score, w_meat, gi, B, others,
                                           fit_intercept)

    decrement = float(grad @ H_inv @ grad) if np.isfinite(H_inv).all() else 0.0
    if decrement > SCORE_DECREMENT_TOL:
        warnings.warn(
            f"the score of the data passed to inference() is not zero at the fitted "
            f"coefficients (Newton decrement {decrement:.3g}): they are not the training "
            "data, or the fit stopped short of the optimum (lower tol). The robust "
            "covariance assumes both.",
            InferenceWarning, stacklevel=_stacklevel(),
        )

    cov = H_inv @ meat @ H_inv
    if cov_type == "HC1":
        if nobs <= n_params:
            raise ValueError(
                f"HC1 needs more observations ({nobs:g}) than parameters ({n_params})."
            )
        cov *= nobs / (nobs - n_params)
    elif cov_type == "cluster":
        if n_groups < 2:
            raise ValueError(
                f"cov_type='cluster' needs at least 2 clusters with positive weight; "
                f"got {n_groups}."
            )
        if nobs <= n_params:
            raise ValueError(
                f"the cluster correction needs more observations ({nobs:g}) than "
                f"parameters ({n_params})."
            )
        cov *= n_groups / (n_groups - 1.0) * (nobs - 1.0) / (nobs - n_params)
    return cov


def _score_products(X, yi, w_score, w_meat, gi, B, others, fit_intercept):
    """Meat, gradient ``sum w_score s`` and the number of clusters.

    Meat: ``sum w_meat s s'``, or with clusters ``sum_g u_g u_g'``,
    ``u_g = sum_{n in g} w_score s_n``.  Scores
    ``s_n = (y_n - p_n)[others] (x) [x_n, 1]`` are formed one row block at a
    time as a ``(b, K)`` matrix; its weighted Gram matrix is a SYRK
    (``A.T @ A``), and cluster sums are a scatter-add of its rows.
    """
    n, d = X.shape
    k, p = B.shape
    k1 = len(others)
    K = k1 * p
    coef_t = np.ascontiguousarray(B[:, :d].T)
    intercept = B[:, d] if fit_intercept else None
    b = row_block_size(n, K)
    meat = np.zeros((K, K))
    grad = np.zeros(K)
    if gi is not None:
        n_all = int(gi.max()) + 1
        sums = np.zeros((n_all, K))
        gweight = np.bincount(gi, weights=w_score, minlength=n_all)
    rows = np.arange(b)
    for start in range(0, n, b):
        stop = min(start + b, n)
        Xb = dense_rows(X, start, stop)
        m = stop - start
        eta = Xb @ coef_t
        if intercept is not None:
            eta += intercept
        eta -= eta.max(axis=1, keepdims=True)
        np.exp(eta, out=eta)
        eta /= eta.sum(axis=1, keepdims=True)
        R = -eta[:, others]  # y - p on the non-reference classes
        hit = np.searchsorted(others, yi[start:stop])
        hit_ok = (hit < k1) & (others[np.minimum(hit, k1 - 1)] == yi[start:stop])
        R[rows[:m][hit_ok], hit[hit_ok]] += 1.0
        S = np.empty((m, k1, p))
        np.multiply(R[:, :, None], Xb[:, None, :], out=S[:, :, :d])
        if fit_intercept:
            S[:, :, d] = R
        S = S.reshape(m, K)
        ws = None if w_score is None else w_score[start:stop]
        if gi is None:
            wm = None if w_meat is None else w_meat[start:stop]
            A = S if wm is None else S * np.sqrt(wm)[:, None]
            meat += A.T @ A  # SYRK
            grad += S.sum(axis=0) if ws is None else ws @ S
        else:
            WS = S if ws is None else S * ws[:, None]
            np.add.at(sums, gi[start:stop], WS)
            grad += WS.sum(axis=0)
    if gi is not None:
        meat = sums.T @ sums
        n_groups = int(np.count_nonzero(gweight > 0))
    else:
        n_groups = None
    return meat, grad, n_groups


# --------------------------------------------------------------------------
# Helpers: number formatting for the summary
# --------------------------------------------------------------------------


def _fmt_classes(classes, width=30):
    text = ", ".join(_label(c) for c in classes)
    if len(text) <= width:
        return text
    return f"{len(classes)} ({_label(classes[0])}, ..., {_label(classes[-1])})"


def _fmt_num(x):
    if not np.isfinite(x):
        return str(x)
    a = abs(x)
    if x == 0 or 1e-4 <= a < 1e6:
        return f"{x:.4f}"
    return f"{x:.3e}"


def _fmt_z(x):
    if not np.isfinite(x):
        return str(x)
    return f"{x:.3f}" if abs(x) < 1e6 else f"{x:.3e}"


def _fmt_p(x, precise=False):
    if not np.isfinite(x):
        return str(x)
    return f"{x:.4g}" if precise else f"{x:.3f}"


def _fmt_stat(x):
    if not np.isfinite(x):
        return str(x)
    return f"{x:.4f}" if abs(x) < 1e9 else f"{x:.4e}"


def _fmt_count(x):
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:.6g}"
