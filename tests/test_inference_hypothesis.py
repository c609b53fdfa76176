"""Wald, likelihood-ratio and score tests against statsmodels and a NumPy oracle.

statsmodels' robust score test (``score_test(cov_type="HC0")``) centres the
scores (``nobs * np.cov(score_obs.T)``); logreg's uses the uncentred meat of
its HC0 covariance, so the robust variants are checked against
:func:`oracle_score_test`: the full model's scores and information built here
explicitly, inverted densely.
"""
import warnings

import numpy as np
import pytest
import scipy.stats
import statsmodels.api as sm

import logreg
from logreg import InferenceWarning, _inference
from tests.test_inference import anes96, spector  # noqa: F401  (fixtures)
from tests.test_inference import _softmax, fitted_model, sm_logit, sm_mnlogit, synthetic
from tests.tolerances import INFERENCE_INVARIANCE_RTOL, STATSMODELS_INFERENCE_RTOL

RTOL = STATSMODELS_INFERENCE_RTOL


def relabelled(y, reference):
    """statsmodels takes the smallest label as its base: make ``reference`` the smallest."""
    return np.where(y == reference, -1, y)


# --------------------------------------------------------------------------
# Wald
# --------------------------------------------------------------------------


def selection(columns, k1, p):
    rows = [c * p + a for c in range(k1) for a in columns]
    return np.eye(k1 * p)[rows]


@pytest.mark.parametrize("cov_type, reference", [("nonrobust", None), ("HC0", 4)])
def test_wald_features_match_statsmodels(anes96, cov_type, reference):
    X, y = anes96
    extra = {} if cov_type == "nonrobust" else dict(X=X, y=y)
    res = _inference.inference(fitted_model(X, y), reference, cov_type, **extra)
    yr = y if reference is None else relabelled(y, reference)
    ref = sm_mnlogit(X, yr, cov_type=cov_type)
    got = res.wald_test(["age", "educ"])
    want = ref.wald_test(selection([2, 3], 6, 6), use_f=False, scalar=True)
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=RTOL)
    np.testing.assert_allclose(got.pvalue, want.pvalue, rtol=RTOL)
    assert got.df == 12 and got.test == "Wald"
    assert res.wald_test([2, 3]).statistic == got.statistic
    const = res.wald_test("const")
    np.testing.assert_allclose(
        const.statistic, ref.wald_test(selection([5], 6, 6), use_f=False,
                                       scalar=True).statistic, rtol=RTOL)
    assert "age = educ = 0 in every class" in got.line()


def test_wald_synthetic_cluster_robust_matches_statsmodels():
    X, y = synthetic(n=900, d=3, k=5, seed=27)
    groups = np.arange(len(y)) % 45
    res = _inference.inference(fitted_model(X, y), 2, "cluster", X=X, y=y, groups=groups)
    ref = sm_mnlogit(X, relabelled(y, 2), cov_type="cluster", cov_kwds=dict(groups=groups))
    got = res.wald_test(["x1", "x2"])
    want = ref.wald_test(selection([1, 2], 4, 4), use_f=False, scalar=True)
    np.testing.assert_allclose([got.statistic, got.pvalue], [want.statistic, want.pvalue],
                               rtol=RTOL)


def test_wald_r_q_matches_statsmodels(anes96):
    X, y = anes96
    res = _inference.inference(fitted_model(X, y))
    R = np.random.default_rng(0).standard_normal((3, 36))
    q = np.array([0.5, -1.0, 2.0])
    ref = sm_mnlogit(X, y).wald_test((R, q), use_f=False, scalar=True)
    got = res.wald_test(R, q=q)
    np.testing.assert_allclose([got.statistic, got.pvalue], [ref.statistic, ref.pvalue],
                               rtol=RTOL)
    assert got.df == 3
    assert res.wald_test(R=R, q=q).statistic == got.statistic
    zero = res.wald_test(R)
    np.testing.assert_allclose(
        zero.statistic, sm_mnlogit(X, y).wald_test(R, use_f=False, scalar=True).statistic,
        rtol=RTOL)


def test_wald_binary_matches_statsmodels(spector):
    X, y = spector
    res = _inference.inference(fitted_model(X, y), cov_type="HC0", X=X, y=y)
    ref = sm_logit(X, y, cov_type="HC0").wald_test(np.eye(4)[[0, 2]], use_f=False,
                                                   scalar=True)
    got = res.wald_test(["GPA", "PSI"])
    np.testing.assert_allclose([got.statistic, got.pvalue], [ref.statistic, ref.pvalue],
                               rtol=RTOL)


def test_wald_dependent_restrictions_warn_and_use_the_rank(anes96):
    X, y = anes96
    res = _inference.inference(fitted_model(X, y))
    R = selection([2], 6, 6)
    with pytest.warns(InferenceWarning, match="singular.*rank 6 of 7"):
        got = res.wald_test(np.vstack([R, R[:1]]))
    assert got.df == 6
    np.testing.assert_allclose(got.statistic, res.wald_test("age").statistic, rtol=1e-8)


def test_wald_errors(anes96):
    X, y = anes96
    res = _inference.inference(fitted_model(X, y))
    with pytest.raises(ValueError, match="'height' is not one of"):
        res.wald_test("height")
    with pytest.raises(ValueError, match="index 6 is out of range"):
        res.wald_test([6])
    with pytest.raises(ValueError, match="twice"):
        res.wald_test(["age", 2])
    with pytest.raises(TypeError, match="indices or names"):
        res.wald_test([1.5])
    with pytest.raises(ValueError, match="q is only used"):
        res.wald_test("age", q=1.0)
    with pytest.raises(ValueError, match=r"shape \(n_restrictions, 36\)"):
        res.wald_test(np.ones((2, 35)))
    with pytest.raises(ValueError, match="q must be a scalar or have 2"):
        res.wald_test(np.ones((2, 36)), q=[1, 2, 3])
    with pytest.raises(ValueError, match=r"needs features \(indices or names\) or a matrix R"):
        res.wald_test()


# --------------------------------------------------------------------------
# Likelihood ratio
# --------------------------------------------------------------------------


def test_lr_binary_matches_statsmodels(spector):
    X, y = spector
    full = _inference.inference(fitted_model(X, y))
    small = _inference.inference(fitted_model(X[["GPA", "PSI"]], y))
    got = full.lr_test(small)
    a, b = sm_logit(X, y), sm_logit(X[["GPA", "PSI"]], y)
    lr = 2 * (a.llf - b.llf)
    np.testing.assert_allclose([got.statistic, got.pvalue],
                               [lr, scipy.stats.chi2.sf(lr, a.df_model - b.df_model)],
                               rtol=RTOL)
    assert got.df == a.df_model - b.df_model == 1


def test_lr_multinomial_matches_statsmodels_loglike_difference(anes96):
    X, y = anes96
    small_cols = ["logpopul", "selfLR", "age"]
    full = _inference.inference(fitted_model(X, y), reference=3)
    small = _inference.inference(fitted_model(X[small_cols], y))   # reference irrelevant
    got = full.lr_test(small)
    want = 2 * (sm_mnlogit(X, y).llf - sm_mnlogit(X[small_cols], y).llf)
    np.testing.assert_allclose(got.statistic, want, rtol=RTOL)
    assert got.df == 12


def test_lr_through_the_estimator_checks_data_and_nesting(anes96):
    X, y = anes96
    fit = lambda X_, y_, **kw: logreg.LogisticRegression(penalty=None).fit(X_, y_, **kw)  # noqa: E731
    full = fit(X, y).inference()
    small = fit(X[["logpopul", "selfLR"]], y).inference()
    assert full.lr_test(small).df == 18
    with pytest.raises(ValueError, match="larger model first"):
        small.lr_test(full)
    # the same class totals, another order of the labels: the fingerprint tells
    rng = np.random.default_rng(0)
    shuffled = fit(X[["logpopul", "selfLR"]], rng.permutation(y)).inference()
    with pytest.raises(ValueError, match="same y and sample_weight"):
        full.lr_test(shuffled)
    w = np.ones(len(y))
    w[:2], w[2:4] = 2.0, 0.0        # same total weight
    with pytest.raises(ValueError, match="same y and sample_weight"):
        full.lr_test(fit(X[["logpopul", "selfLR"]], y, sample_weight=w).inference())
    with pytest.raises(ValueError, match="not nested.*'educ'"):
        fit(X[["logpopul", "selfLR", "age"]], y).inference().lr_test(
            fit(X[["educ"]], y).inference())
    with pytest.raises(ValueError, match="different classes"):
        full.lr_test(fit(X[["educ"]], np.minimum(y, 5)).inference())
    with pytest.warns(InferenceWarning, match="ignores the covariance type"):
        fit(X, y).inference(cov_type="HC0", X=X, y=y).lr_test(small)
    with pytest.raises(TypeError, match="inference\\(\\) result"):
        full.lr_test(0.5)


# --------------------------------------------------------------------------
# Score tests
# --------------------------------------------------------------------------


def test_score_binary_matches_statsmodels(spector):
    X, y = spector
    base = X[["GPA", "TUCE"]]
    Z = np.column_stack([X["PSI"], np.random.default_rng(1).standard_normal(len(y))])
    res = _inference.inference(fitted_model(base, y))
    ref = sm_logit(base, y)
    got = res.score_test(Z, X=base, y=y)
    want = ref.score_test(exog_extra=Z)
    np.testing.assert_allclose([got.statistic, got.pvalue],
                               [want.statistic.item(), want.pvalue.item()], rtol=RTOL)
    assert got.df == 2 and got.test == "score"
    each = res.score_test(Z, X=base, y=y, joint=False)
    want_each = [ref.score_test(exog_extra=Z[:, [j]]).statistic.item() for j in range(2)]
    np.testing.assert_allclose(each.statistic, want_each, rtol=RTOL)
    assert each.df == 1 and each.names == ["z0", "z1"]


@pytest.mark.parametrize("reference", [None, 3])
def test_score_multinomial_matches_statsmodels(anes96, reference):
    X, y = anes96
    base, extra = X[["logpopul", "selfLR", "age"]], X[["educ", "income"]]
    res = _inference.inference(fitted_model(base, y), reference=reference)
    ref = sm_mnlogit(base, y)           # the statistic does not depend on the reference
    got = res.score_test(extra, X=base, y=y)
    want = ref.score_test(exog_extra=np.asarray(extra))
    np.testing.assert_allclose([got.statistic, got.pvalue],
                               [want.statistic.item(), want.pvalue.item()], rtol=RTOL)
    assert got.df == 12
    each = res.score_test(extra, X=base, y=y, joint=False)
    want_each = [ref.score_test(exog_extra=np.asarray(extra)[:, [j]]).statistic.item()
                 for j in range(2)]
    np.testing.assert_allclose(each.statistic, want_each, rtol=RTOL)
    assert each.names == ["educ", "income"] and each.df == 6


def oracle_score_test(X, yi, Z, res, w=None, cov_type="nonrobust", groups=None, w_meat=None,
                      nobs=None):
    """The full model's scores and information, densely (test oracle only).

    ``w`` weights the scores and the information, ``w_meat`` (default ``w``)
    the meat of a sandwich: they differ for class weights (``w c`` and ``w c^2``);
    ``nobs`` (default ``sum(w)``) is the N of the small-sample factors.
    """
    n = len(yi)
    w = np.ones(n) if w is None else w
    w_meat = w if w_meat is None else w_meat
    Xe = np.column_stack([X, np.ones(n), Z])
    B = res.full_params()
    Be = np.hstack([B, np.zeros((B.shape[0], Z.shape[1]))])
    P = _softmax(Xe @ Be.T)
    o = res.other_indices
    r = (np.eye(B.shape[0])[yi] - P)[:, o]
    S = np.einsum("nc,na->nca", r, Xe).reshape(n, -1)
    Po = P[:, o]
    D = np.einsum("nc,ce->nce", Po, np.eye(len(o))) - np.einsum("nc,ne->nce", Po, Po)
    A = np.einsum("n,nce,na,nb->cae b".replace(" ", ""), w, D, Xe, Xe).reshape(S.shape[1], -1)
    s = w @ S
    pe = Xe.shape[1]
    sel = [c * pe + a for c in range(len(o)) for a in range(pe - Z.shape[1], pe)]
    Ainv = np.linalg.inv(A)
    if cov_type == "nonrobust":
        return float(s @ Ainv @ s)
    if groups is None:
        meat = np.einsum("n,ni,nj->ij", w_meat, S, S)
    else:
        U = np.array([(w[groups == g, None] * S[groups == g]).sum(axis=0)
                      for g in np.unique(groups)])
        meat = U.T @ U
    N, K = (w.sum() if nobs is None else nobs), res.params.size
    factor = {"HC0": 1.0, "HC1": N / (N - K)}.get(cov_type)
    if cov_type == "cluster":
        G = len(np.unique(groups))
        factor = G / (G - 1) * (N - 1) / (N - K)
    ws = (Ainv @ s)[sel]
    inner = (Ainv @ meat @ Ainv)[np.ix_(sel, sel)] * factor
    return float(ws @ np.linalg.solve(inner, ws))


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "cluster"])
def test_score_robust_weighted_matches_the_oracle(cov_type):
    X, y = synthetic(n=600, d=3, k=3, seed=21)
    rng = np.random.default_rng(22)
    w = rng.integers(1, 4, len(y)).astype(float)
    groups = rng.integers(0, 30, len(y))
    Z = np.column_stack([rng.standard_normal(len(y)), X[:, 0] ** 2, rng.integers(0, 2, len(y))])
    model = fitted_model(X, y, sample_weight=w)
    extra = dict(X=X, y=y, sample_weight=w) | (
        dict(groups=groups) if cov_type == "cluster" else {})
    res = _inference.inference(model, 1, cov_type, **({} if cov_type == "nonrobust"
                                                      else extra))
    data = dict(X=X, y=y, sample_weight=w, groups=groups if cov_type == "cluster" else None)
    got = res.score_test(Z, **data)
    want = oracle_score_test(X, y, Z, res, w, cov_type, data["groups"])
    np.testing.assert_allclose(got.statistic, want, rtol=1e-8)
    each = res.score_test(Z, joint=False, **data)
    want_each = [oracle_score_test(X, y, Z[:, [j]], res, w, cov_type, data["groups"])
                 for j in range(3)]
    np.testing.assert_allclose(each.statistic, want_each, rtol=1e-8)
    assert each.cov_type == cov_type


def test_score_with_class_weights_through_the_estimator_matches_the_oracle():
    X, y = synthetic(n=500, d=3, k=3, seed=28)
    Z = np.random.default_rng(29).standard_normal((500, 2))
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    clf = logreg.LogisticRegression(penalty=None, tol=1e-10, class_weight=cw).fit(X, y)
    c = np.array([cw[v] for v in y])
    res = clf.inference(cov_type="HC1", X=X, y=y)
    got = res.score_test(Z, X=X, y=y)
    # HC1's N counts observations (500), not the class-weighted total
    want = oracle_score_test(X, y, Z, res, w=c, cov_type="HC1", w_meat=c * c, nobs=500)
    np.testing.assert_allclose(got.statistic, want, rtol=1e-7)


def test_score_per_column_equals_single_column_joint_tests_and_row_blocks(monkeypatch):
    X, y = synthetic(n=500, d=3, k=4, seed=23)
    Z = np.random.default_rng(24).standard_normal((500, 40))
    clf = logreg.LogisticRegression(penalty=None, tol=1e-10).fit(X, y)
    res = clf.inference(reference=2)
    each = res.score_test(Z, X=X, y=y, joint=False)
    singles = [res.score_test(Z[:, [j]], X=X, y=y).statistic for j in range(40)]
    np.testing.assert_allclose(each.statistic, singles, rtol=INFERENCE_INVARIANCE_RTOL)
    np.testing.assert_allclose(each.pvalue, [res.score_test(Z[:, [j]], X=X, y=y).pvalue
                                             for j in range(3)] + list(each.pvalue[3:]),
                               rtol=1e-9)
    monkeypatch.setattr(_inference, "_BLOCK_ENTRIES", 64 * 200)
    blocked = res.score_test(np.asfortranarray(Z), X=X, y=y, joint=False)
    np.testing.assert_allclose(blocked.statistic, each.statistic, rtol=INFERENCE_INVARIANCE_RTOL)
    assert "40 columns" in each.line()


def test_score_collinear_column_is_nan_with_a_warning():
    X, y = synthetic(n=400, d=3, k=3, seed=25)
    res = _inference.inference(fitted_model(X, y))
    Z = np.column_stack([X[:, 0] + 2 * X[:, 1], np.random.default_rng(2).standard_normal(400)])
    with pytest.warns(InferenceWarning, match="1 column\\(s\\) of X_extra carry no information.*z0"):
        each = res.score_test(Z, X=X, y=y, joint=False)
    assert np.isnan(each.statistic[0]) and np.isfinite(each.statistic[1])
    # jointly, the collinear direction is dropped: the test of the other column remains
    with pytest.warns(InferenceWarning, match="carry no information beyond X.*z0"):
        joint = res.score_test(Z, X=X, y=y)
    assert joint.df == 2
    np.testing.assert_allclose(joint.statistic, each.statistic[1], rtol=1e-6)


def test_score_errors():
    X, y = synthetic(n=300, d=3, k=3, seed=26)
    res = _inference.inference(fitted_model(X, y))
    Z = np.ones((300, 1)) * np.arange(300)[:, None]
    with pytest.raises(ValueError, match="X_extra has 299 rows but X has 300"):
        res.score_test(Z[:-1], X=X, y=y)
    with pytest.raises(ValueError, match="groups is only used"):
        res.score_test(Z, X=X, y=y, groups=np.zeros(300))
    with pytest.raises(ValueError, match="total weight"):
        res.score_test(Z, X=X, y=y, sample_weight=np.full(300, 2.0))
    with pytest.raises(ValueError, match="not in classes_"):
        res.score_test(Z, X=X, y=np.where(y == 1, 7, y))
    with pytest.raises(ValueError, match="X_extra contains NaN"):
        res.score_test(np.full((300, 1), np.nan), X=X, y=y)
    with pytest.raises(TypeError, match="joint must be True or False"):
        res.score_test(Z, X=X, y=y, joint="yes")
    cl = _inference.inference(fitted_model(X, y), cov_type="cluster", X=X, y=y,
                              groups=np.arange(300) % 5)
    with pytest.raises(ValueError, match="pass groups"):
        cl.score_test(Z, X=X, y=y)


# --------------------------------------------------------------------------
# The tests' lines in summary()
# --------------------------------------------------------------------------


def test_summary_shows_the_tests_asked_for(anes96):
    X, y = anes96
    clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    res = clf.inference()
    small = logreg.LogisticRegression(penalty=None).fit(X[["selfLR"]], y).inference()
    tests = [res.wald_test("age"), res.lr_test(small),
             small.score_test(X[["age", "educ"]], X=X[["selfLR"]], y=y, joint=False)]
    text = str(res.summary(tests=tests))
    assert "Wald test, age = 0 in every class: chi2(6) = " in text
    assert "LR test, the 24 extra parameter(s) are zero: chi2(24) = " in text
    assert "each of 2 columns added on its own: smallest p = " in text
    assert "LR test" in res.summary(tests=tests[1])._repr_html_()
    assert "Wald test" not in str(res.summary())
    assert "Wald test, age = 0" in str(clf.summary(tests=tests[:1]))
    with pytest.raises(TypeError, match="tests must hold results"):
        res.summary(tests=["age"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        str(res.summary(tests=tests))
