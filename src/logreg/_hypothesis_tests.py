"""Wald, likelihood-ratio and score (Lagrange-multiplier) tests of a fitted model.

All three are chi-squared tests on the reference-class parameters of an
:class:`~logreg._inference.InferenceResult` (``params`` flattened class-major,
as ``cov``).

* Wald: ``(R theta - q)' (R cov R')^-1 (R theta - q)`` with ``cov`` of any
  ``cov_type``; ``df`` = the rank of ``R`` (its rows when full rank).  A set
  of features builds ``R`` selecting those columns in every non-reference
  class: "the feature has no effect on any class".
* Likelihood ratio: ``2 (loglike - loglike_restricted)``, ``df`` = the
  difference in the number of parameters.  It is likelihood based: the
  covariance type plays no part (a warning says so when it is robust).
* Score test for adding the columns ``Z`` of ``X_extra``, at the fitted
  coefficients (the restricted estimate; the new coefficients are zero).
  With ``r_n = y_n - p_n`` on the non-reference classes, the new score is
  ``g = sum_n w_n r_n (x) z_n``, and the observed information of the larger
  model has the blocks ``H_tt`` (the fit's), ``H_tg = sum_n w_n D_n (x) x_n z_n'``
  and ``H_gg = sum_n w_n D_n (x) z_n z_n'`` with ``D = diag(p) - p p'``
  (logistic regression's observed and expected information coincide).
  ``"nonrobust"``: ``LM = g' S^-1 g``, ``S = H_gg - H_gt H_tt^-1 H_tg``.
  Robust types: ``LM = g' (M B M')^-1 g``, where ``M B M'`` is the sandwich
  meat of the effective scores ``u_n = r_n (x) z_n - H_gt H_tt^-1 (r_n (x) x_n)``
  (uncentred, with the small-sample factor of the result's ``cov_type``:
  HC1 ``N / (N - K)``, cluster ``G/(G-1) (N-1)/(N-K)``, ``K`` the fitted
  model's parameters).  ``joint=False`` tests each column on its own
  (``df = k - 1`` each) from the same passes over the data: the pieces of
  every column are matrix products with all of ``Z`` at once.
"""
import math
import warnings

import numpy as np
from scipy import linalg, special

from ._inference import (
    InferenceWarning,
    _fmt_p,
    _group_indices,
    _stacklevel,
    dense_rows,
    design_rows,
    row_block_size,
    softmax_derivative,
    training_rows,
)
from ._loss import softmax
from ._validation import check_n_threads, check_X

__all__ = ["TestResult", "ScoreTests", "lr_test", "score_test", "wald_test"]

# Relative tolerance of "the restricted fit is not better than the full one".
LOGLIKE_RTOL = 1e-8
# Eigenvalues of a test's middle matrix below this fraction of the largest are
# treated as zero (the hypothesis is then rank-deficient).
RANK_RTOL = 1e-12
# A candidate direction whose information left after projecting out X's
# (the Schur complement, relative to its own information) is below this is
# collinear with X: R^2 > 1 - 1e-10.
COLLINEAR_RTOL = 1e-10


class TestResult:
    """A chi-squared test: ``statistic``, ``df``, ``pvalue`` and what was tested.

    Attributes
    ----------
    test : str
        ``"Wald"``, ``"LR"`` or ``"score"``.
    hypothesis : str
        The null hypothesis, in words.
    statistic, df, pvalue : float
    """

    __test__ = False   # not a pytest test class

    def __init__(self, test, hypothesis, statistic, df, pvalue):
        self.test = test
        self.hypothesis = hypothesis
        self.statistic = float(statistic)
        self.df = df
        self.pvalue = float(pvalue)

    def line(self):
        """One line for a summary table."""
        return (f"{self.test} test, {self.hypothesis}: chi2({_fmt_df(self.df)}) = "
                f"{self.statistic:.4f}, p = {_fmt_p(self.pvalue, precise=True)}")

    def __repr__(self):
        return f"<TestResult: {self.line()}>"


class ScoreTests:
    """One score test per column of ``X_extra`` (``score_test(..., joint=False)``).

    Attributes
    ----------
    statistic, pvalue : ndarray of shape (n_columns,)
    df : int
        Degrees of freedom of each test (``k - 1``).
    names : list of str
        Column names (DataFrame columns, else ``z0, z1, ...``).
    cov_type : str
    """

    __test__ = False

    def __init__(self, statistic, df, names, cov_type):
        self.statistic = statistic
        self.df = df
        self.pvalue = special.chdtrc(df, statistic)
        self.names = names
        self.cov_type = cov_type

    def line(self):
        """One line for a summary table: the number of tests and the smallest p-value."""
        best = int(np.nanargmin(self.pvalue)) if np.isfinite(self.pvalue).any() else 0
        return (f"score tests ({self.cov_type}), each of {len(self.names)} columns added on "
                f"its own: smallest p = {_fmt_p(self.pvalue[best], precise=True)} "
                f"({self.names[best]}, chi2({self.df}) = {self.statistic[best]:.4f})")

    def __repr__(self):
        return f"<ScoreTests: {self.line()}>"


# --------------------------------------------------------------------------
# Wald
# --------------------------------------------------------------------------


def wald_test(res, features=None, q=None, *, R=None):
    """Joint Wald test of linear hypotheses on ``res.params``.

    Parameters
    ----------
    res : InferenceResult
    features : int, str or a sequence of them; or a 2-D array (taken as ``R``)
        Columns of ``params`` (indices or ``feature_names``, the intercept
        included): the test that they are zero in every non-reference class.
    q : float or array-like, optional
        With ``R``: the hypothesis is ``R @ params.ravel() == q`` (default 0).
    R : array-like of shape (n_restrictions, params.size), optional
        Restrictions on the class-major flattened parameters.

    Returns
    -------
    TestResult
    """
    if R is None and features is not None and np.ndim(features) == 2:
        features, R = None, features
    theta = res.params.ravel()
    if R is not None:
        if features is not None:
            raise ValueError("pass either features or R, not both.")
        R = _check_restrictions(R, theta.size)
        q = np.zeros(R.shape[0]) if q is None else _check_q(q, R.shape[0])
        hypothesis = f"{R.shape[0]} linear restriction(s) R params = q"
    else:
        if q is not None:
            raise ValueError("q is only used with a restriction matrix R.")
        columns = _feature_columns(res, features)
        k1, p = res.params.shape
        rows = (np.arange(k1)[:, None] * p + columns[None, :]).ravel()
        R = np.zeros((rows.size, theta.size))
        R[np.arange(rows.size), rows] = 1.0
        q = np.zeros(rows.size)
        names = " = ".join(res.feature_names[a] for a in columns)
        hypothesis = f"{names} = 0 in every class"
    diff = R @ theta - q
    statistic, df = _quadratic_form(diff, R @ res.cov @ R.T, "R cov R'")
    return TestResult("Wald", hypothesis, statistic, df, special.chdtrc(df, statistic))


def _feature_columns(res, features):
    if features is None:
        raise ValueError("wald_test needs features (indices or names) or a matrix R.")
    items = [features] if isinstance(features, (str, int, np.integer)) else list(features)
    if not items:
        raise ValueError("features is empty: name at least one feature.")
    p = len(res.feature_names)
    columns = []
    for item in items:
        if isinstance(item, str):
            if item not in res.feature_names:
                raise ValueError(f"feature {item!r} is not one of {res.feature_names}.")
            columns.append(res.feature_names.index(item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= item < p:
                raise ValueError(f"feature index {item} is out of range: there are {p} "
                                 f"columns ({res.feature_names}).")
            columns.append(int(item))
        else:
            raise TypeError(f"features must be column indices or names; got {item!r} "
                            "(a restriction matrix R must be 2-D).")
    if len(set(columns)) != len(columns):
        raise ValueError(f"features names a column twice: {items}.")
    return np.array(columns, dtype=np.intp)


def _check_restrictions(R, m):
    R = np.asarray(R)
    if R.dtype.kind not in "biuf":
        raise TypeError(f"R must be numeric; got dtype {R.dtype}.")
    R = R.astype(np.float64)
    if R.ndim != 2 or R.shape[1] != m or R.shape[0] == 0:
        raise ValueError(f"R must have shape (n_restrictions, {m}) (one column per "
                         f"parameter, class-major); got {R.shape}.")
    if not np.isfinite(R).all():
        raise ValueError("R contains NaN or infinity.")
    return R


def _check_q(q, r):
    q = np.asarray(q, dtype=np.float64)
    if q.ndim == 0:
        q = np.full(r, float(q))
    if q.shape != (r,):
        raise ValueError(f"q must be a scalar or have {r} entries (one per row of R); "
                         f"got shape {q.shape}.")
    if not np.isfinite(q).all():
        raise ValueError("q contains NaN or infinity.")
    return q


def _quadratic_form(g, M, what):
    """``g' M^-1 g`` and the rank of ``M`` (Cholesky; the pseudo-inverse with a
    warning when ``M`` is singular)."""
    try:
        c = linalg.cho_factor(M, check_finite=True)
        return float(g @ linalg.cho_solve(c, g)), M.shape[0]
    except (linalg.LinAlgError, ValueError):
        pass
    if not (np.isfinite(M).all() and np.isfinite(g).all()):
        return np.nan, M.shape[0]
    lam, V = linalg.eigh(M)
    keep = lam > RANK_RTOL * max(lam[-1], 0.0)
    rank = int(keep.sum())
    warnings.warn(
        f"{what} is singular (rank {rank} of {M.shape[0]}): the restrictions are linearly "
        f"dependent, or involve coefficients that are not identified. The test uses its "
        f"pseudo-inverse with df = {rank}.", InferenceWarning, stacklevel=_stacklevel())
    h = V[:, keep].T @ g
    return float(h @ (h / lam[keep])), rank


def _fmt_df(df):
    return str(int(df)) if float(df).is_integer() else f"{df:g}"


# --------------------------------------------------------------------------
# Likelihood ratio
# --------------------------------------------------------------------------


def lr_test(res, restricted):
    """Likelihood-ratio test of ``res`` against a nested, restricted fit.

    Parameters
    ----------
    res : InferenceResult
        The larger model.
    restricted : InferenceResult
        The smaller model, fitted to the same ``y`` and ``sample_weight``
        (checked: class totals, number of observations, and a fingerprint of
        ``y`` and the weights stored at fit time), with fewer parameters; its
        features must be among those of ``res`` when both have named features.

    Returns
    -------
    TestResult
    """
    if not all(hasattr(restricted, a) for a in ("loglike", "n_params", "all_classes")):
        raise TypeError("restricted must be the inference() result of the smaller fit; got "
                        f"{type(restricted).__name__}.")
    if (len(res.all_classes) != len(restricted.all_classes)
            or np.any(np.asarray(res.all_classes) != np.asarray(restricted.all_classes))):
        raise ValueError(f"the two fits have different classes ({list(res.all_classes)} vs "
                         f"{list(restricted.all_classes)}): fit both to the same y.")
    same = (math.isclose(res.nobs, restricted.nobs, rel_tol=1e-12)
            and math.isclose(res.loglike_null, restricted.loglike_null, rel_tol=1e-10,
                             abs_tol=1e-10))
    prints = [getattr(r.fit_info, "data_fingerprint", None) for r in (res, restricted)]
    if None not in prints:
        same = same and prints[0] == prints[1]
    if not same:
        raise ValueError(
            "the two fits were not made on the same y and sample_weight (their numbers of "
            f"observations {res.nobs:g} vs {restricted.nobs:g}, class totals or labels "
            "differ): a likelihood-ratio test compares two models of the same data.")
    df = res.n_params - restricted.n_params
    if df <= 0:
        raise ValueError(
            f"the restricted model has {restricted.n_params} parameters, the full one "
            f"{res.n_params}: call full.lr_test(restricted) with the larger model first.")
    named = [getattr(r.fit_info, "feature_names_in_", None) is not None
             for r in (res, restricted)]
    if all(named) and not set(restricted.feature_names) <= set(res.feature_names):
        extra = sorted(set(restricted.feature_names) - set(res.feature_names))
        raise ValueError(f"the models are not nested: the restricted one has features "
                         f"{extra} that the full one lacks.")
    statistic = 2.0 * (res.loglike - restricted.loglike)
    if statistic < -LOGLIKE_RTOL * max(abs(res.loglike), 1.0):
        raise ValueError(
            f"the restricted model fits better (log-likelihood {restricted.loglike:.6g} vs "
            f"{res.loglike:.6g}): the models are not nested, or a fit did not converge.")
    statistic = max(statistic, 0.0)
    if res.cov_type != "nonrobust" or restricted.cov_type != "nonrobust":
        warnings.warn(
            f"the likelihood-ratio test ignores the covariance type ({res.cov_type}): it "
            "assumes a correctly specified model. Under misspecification use a robust "
            "wald_test or score_test instead.", InferenceWarning, stacklevel=_stacklevel())
    return TestResult("LR", f"the {df} extra parameter(s) are zero", statistic, df,
                      special.chdtrc(df, statistic))


# --------------------------------------------------------------------------
# Score (Lagrange multiplier)
# --------------------------------------------------------------------------


def score_test(res, X_extra, *, X, y, sample_weight=None, groups=None, joint=True):
    """Score test for adding the columns of ``X_extra`` to the fitted model (no refit).

    Parameters
    ----------
    res : InferenceResult
        Its ``cov_type`` chooses the test's variance (see the module docstring).
    X_extra : array-like of shape (n_samples, m)
        Candidate columns.
    X, y, sample_weight : the training data (checked against the fit).
    groups : array-like, for ``cov_type="cluster"``
        The cluster labels of the covariance.
    joint : bool
        True: one test that all columns can be added with zero coefficients
        (``df = (k - 1) m``); False: one test per column (``df = k - 1``).

    Returns
    -------
    TestResult (joint) or ScoreTests (per column)
    """
    info = res.fit_info
    if info is None or res.information_inverse is None:
        raise ValueError("score_test needs a result of inference() on a fitted model.")
    if not isinstance(joint, (bool, np.bool_)):
        raise TypeError(f"joint must be True or False; got {joint!r}.")
    cov_type = res.cov_type
    if cov_type == "cluster" and groups is None:
        raise ValueError("this result has cov_type='cluster': pass groups=... as to inference().")
    if cov_type != "cluster" and groups is not None:
        raise ValueError(f"groups is only used with cov_type='cluster', not {cov_type!r}.")
    X, yi, w, w_score, w_meat = training_rows(info, X, y, sample_weight, res.all_classes,
                                              res.nobs, "score_test()")
    n = X.shape[0]
    names = [str(c) for c in getattr(X_extra, "columns", [])]
    Z = check_X(X_extra, name="X_extra", n_threads=check_n_threads(info.n_threads))
    if Z.shape[0] != n:
        raise ValueError(f"X_extra has {Z.shape[0]} rows but X has {n}.")
    m = Z.shape[1]
    if len(names) != m:
        names = [f"z{j}" for j in range(m)]
    gi = _group_indices(groups, n) if cov_type == "cluster" else None

    pieces = _ScorePieces(res, X, yi, Z, w_score, joint)
    g, S = pieces.score_and_schur()
    if cov_type == "nonrobust":
        middle = S
    else:
        nobs = float(n) if w is None else float(w.sum())
        middle = pieces.robust_meat(w_score, w_meat, gi) * _small_sample_factor(
            cov_type, nobs, res.n_params, pieces.n_groups)
    k1 = res.params.shape[0]
    if joint:
        statistic, df = _joint_statistic(g.ravel(), S, middle, pieces.H_gg_diag, names)
        return TestResult("score", f"the {m} column(s) of X_extra have no effect ({cov_type})",
                          statistic, df, special.chdtrc(df, statistic))
    statistic = _batched_quadratic_forms(g, S, middle, pieces.H_gg_diag, names)
    return ScoreTests(statistic, k1, names, cov_type)


class _ScorePieces:
    """The score of the new coefficients and the information blocks, over row blocks."""

    def __init__(self, res, X, yi, Z, w_score, joint):
        self.res, self.X, self.yi, self.Z, self.joint = res, X, yi, Z, joint
        self.B = res.full_params()
        self.others = res.other_indices
        self.fit_intercept = res.fit_intercept
        self.k1 = len(self.others)
        self.p = self.B.shape[1]
        self.m = Z.shape[1]
        self.w = w_score
        self.n_groups = None
        n = X.shape[0]
        width = self.m * (self.k1 + 2) + self.k1 * self.k1 * self.p
        self.step = row_block_size(n, width)

    def _blocks(self):
        """Per row block: slice, design rows [x, 1], residuals r (b, k1), weights w D."""
        n = self.X.shape[0]
        for start in range(0, n, self.step):
            stop = min(start + self.step, n)
            Xc = design_rows(self.X, start, stop, self.fit_intercept)
            P = softmax(Xc @ self.B.T)
            Y = np.zeros_like(P)
            Y[np.arange(stop - start), self.yi[start:stop]] = 1.0
            r = (Y - P)[:, self.others]
            D = softmax_derivative(P, self.others)[:, self.others]
            wb = np.ones(stop - start) if self.w is None else self.w[start:stop]
            yield slice(start, stop), Xc, r, D * wb[:, None, None], wb

    def score_and_schur(self):
        """``g`` (k1, m) and ``S = H_gg - H_gt H_tt^-1 H_tg``: (k1 m, k1 m) joint,
        else (m, k1, k1) per column."""
        k1, p, m = self.k1, self.p, self.m
        g = np.zeros((k1, m))
        H_tg = np.zeros((k1 * p * k1, m))        # rows (c, a, c'), columns z
        H_gg = np.zeros((k1, m, k1, m)) if self.joint else np.zeros((k1 * k1, m))
        for rows, Xc, r, WD, wb in self._blocks():
            Zb = dense_rows(self.Z, rows.start, rows.stop)
            g += (r * wb[:, None]).T @ Zb
            A = (WD[:, :, None, :] * Xc[:, None, :, None]).reshape(len(Xc), -1)
            H_tg += A.T @ Zb
            if self.joint:
                for c in range(k1):
                    for e in range(c, k1):
                        block = Zb.T @ (WD[:, c, e, None] * Zb)
                        H_gg[c, :, e, :] += block
                        if e != c:
                            H_gg[e, :, c, :] += block.T
            else:
                H_gg += WD.reshape(len(Xc), -1).T @ (Zb * Zb)
        # the candidates' own information, (c, z) order: the scale of S
        self.H_gg_diag = (np.einsum("czcz->cz", H_gg) if self.joint
                          else np.einsum("ccz->cz", H_gg.reshape(k1, k1, m)))
        # C = H_tt^-1 H_tg, rows (c, a), columns (c', z)
        H_tg = H_tg.reshape(k1 * p, k1 * m)
        self.C = self.res.information_inverse @ H_tg
        if self.joint:
            S = H_gg.reshape(k1 * m, k1 * m) - H_tg.T @ self.C
            S = 0.5 * (S + S.T)
        else:
            Ht = H_tg.reshape(k1 * p, k1, m)
            Ct = self.C.reshape(k1 * p, k1, m)
            S = H_gg.reshape(k1, k1, m).transpose(2, 0, 1) - np.einsum("Kcz,Kez->zce", Ht, Ct)
        return g, S

    def robust_meat(self, w_score, w_meat, gi):
        """Meat of the effective scores ``u_n = r_n z_n - C' (r_n (x) x_n)``:
        (k1 m, k1 m) joint, else (m, k1, k1)."""
        k1, m = self.k1, self.m
        K = k1 * self.p
        if gi is not None:
            n_all = int(gi.max()) + 1
            sums = np.zeros((n_all, k1 * m))
            gweight = np.bincount(gi, weights=np.ones(len(gi)) if w_score is None
                                  else w_score, minlength=n_all)
            self.n_groups = int(np.count_nonzero(gweight > 0))
        meat = np.zeros((k1 * m, k1 * m)) if self.joint else np.zeros((m, k1, k1))
        for rows, Xc, r, _, _ in self._blocks():
            Zb = dense_rows(self.Z, rows.start, rows.stop)
            s = (r[:, :, None] * Xc[:, None, :]).reshape(len(Xc), K)
            u = (r[:, :, None] * Zb[:, None, :]).reshape(len(Xc), k1 * m) - s @ self.C
            if gi is not None:
                ws = u if w_score is None else u * w_score[rows, None]
                np.add.at(sums, gi[rows], ws)
                continue
            wm = np.ones(len(Xc)) if w_meat is None else w_meat[rows]
            if self.joint:
                A = u * np.sqrt(wm)[:, None]
                meat += A.T @ A
            else:
                u3 = u.reshape(-1, k1, m)
                meat += np.einsum("n,ncz,nez->zce", wm, u3, u3)
        if gi is None:
            return meat
        if self.joint:
            return sums.T @ sums
        s3 = sums.reshape(-1, k1, m)
        return np.einsum("gcz,gez->zce", s3, s3)


def _small_sample_factor(cov_type, nobs, n_params, n_groups):
    """The factor the result's covariance carries (HC1, cluster), 1 for HC0."""
    if cov_type == "HC1":
        return nobs / (nobs - n_params)
    if cov_type == "cluster":
        if n_groups < 2:
            raise ValueError("cov_type='cluster' needs at least 2 clusters with positive "
                             f"weight; got {n_groups}.")
        return n_groups / (n_groups - 1.0) * (nobs - 1.0) / (nobs - n_params)
    return 1.0


def _collinear_warning(names):
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    warnings.warn(
        f"{len(names)} column(s) of X_extra carry no information beyond X (collinear with "
        f"its columns or with each other, or constant): {shown}.",
        InferenceWarning, stacklevel=_stacklevel())


def _joint_statistic(g, S, middle, h_diag, names):
    """``g' middle^-1 g`` on the directions that ``S`` identifies, and their number.

    ``S`` equilibrated by the candidates' own information has eigenvalues in
    [0, 1]; those below ``COLLINEAR_RTOL`` are directions of ``X_extra`` that
    ``X`` (or other candidates) already span: they are dropped, with a warning.
    """
    s = 1.0 / np.sqrt(np.maximum(h_diag.ravel(), np.finfo(float).tiny))
    lam, V = linalg.eigh(S * s[:, None] * s[None, :])
    keep = lam > COLLINEAR_RTOL
    if not keep.all():
        k1 = h_diag.shape[0]
        weak = np.abs(V[:, ~keep]).max(axis=1).reshape(k1, -1).max(axis=0) > 1e-3
        _collinear_warning([names[j] for j in np.flatnonzero(weak)])
    T = V[:, keep] * s[:, None]
    statistic, df = _quadratic_form(T.T @ g, T.T @ middle @ T, "the score's variance")
    return statistic, df


def _batched_quadratic_forms(g, S, middle, h_diag, names):
    """``g_z' middle_z^-1 g_z`` for every column ``z``; NaN (with a warning) for a
    column collinear with X (``S_z``, equilibrated, has an eigenvalue below
    ``COLLINEAR_RTOL``)."""
    k1, m = g.shape
    s = 1.0 / np.sqrt(np.maximum(h_diag.T, np.finfo(float).tiny))      # (m, k1)
    eig = np.linalg.eigvalsh(S * s[:, :, None] * s[:, None, :])
    ok = np.isfinite(eig).all(axis=1) & (eig[:, 0] > COLLINEAR_RTOL)
    statistic = np.full(m, np.nan)
    if ok.any():
        sol = np.linalg.solve(middle[ok], g.T[ok][:, :, None])
        statistic[ok] = np.einsum("zc,zc->z", g.T[ok], sol[:, :, 0])
    if not ok.all():
        _collinear_warning([names[j] for j in np.flatnonzero(~ok)])
    return statistic
