"""Inference (issue 5): covariances, tests, intervals and the summary table.

Layers:
* the math, on a stand-in fitted model built from an independent Newton fit
  (``fitted_model``) and ``logreg.hessian``: against statsmodels' MNLogit and
  Logit (nonrobust, HC0, HC1, cluster), against a direct NumPy sandwich, and
  against invariances (integer weights == repeated rows, change of reference);
* singular information, errors and warnings;
* the summary text / HTML.
"""
import types
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats import sandwich_covariance as sw

import logreg
from logreg import _inference
from logreg import InferenceWarning, SingularInformationWarning
from tests.tolerances import assert_allclose_scaled

# statsmodels agreement (the issue asks for 1e-6 relative); invariances are exact
# up to rounding.
SM_RTOL = 1e-6
EXACT_RTOL = 1e-9


# --------------------------------------------------------------------------
# An independent maximum-likelihood fit and a stand-in fitted model
# --------------------------------------------------------------------------


def _softmax(Z):
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def _design(X, fit_intercept):
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X


def newton_fit(X, yi, k, w=None, fit_intercept=True, max_iter=100, tol=1e-12):
    """Unpenalized MLE, class 0 as reference, by damped Newton; returns B (k, p) centred."""
    Xc = _design(X, fit_intercept)
    n, p = Xc.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    Y = np.eye(k)[yi]
    theta = np.zeros((k - 1) * p)

    def nll(t):
        B = np.vstack([np.zeros(p), t.reshape(k - 1, p)])
        Z = Xc @ B.T
        Z -= Z.max(axis=1, keepdims=True)
        return -np.sum(w * (np.sum(Y * Z, axis=1) - np.log(np.exp(Z).sum(axis=1))))

    for it in range(max_iter):
        B = np.vstack([np.zeros(p), theta.reshape(k - 1, p)])
        P = _softmax(Xc @ B.T)
        g = ((P - Y)[:, 1:] * w[:, None]).T @ Xc  # (k-1, p)
        g = g.ravel()
        if np.max(np.abs(g)) < tol * max(1.0, w.sum() / 100):
            break
        H = logreg.hessian(Xc, P, w)[p:, p:]
        step = np.linalg.solve(H, -g)
        if -g @ step < 1e-20:  # Newton decrement at rounding level
            break
        t, f0 = 1.0, nll(theta)
        # near the optimum the decrease is below the rounding of f: take full steps
        while -g @ step > 1e-8 and nll(theta + t * step) > f0 + 1e-4 * t * g @ step \
                and t > 1e-10:
            t /= 2
        theta = theta + t * step
    B = np.vstack([np.zeros(p), theta.reshape(k - 1, p)])
    return B - B.mean(axis=0), it


def loglike(Xc, yi, B, w):
    Z = Xc @ B.T
    Z -= Z.max(axis=1, keepdims=True)
    ll = Z[np.arange(len(yi)), yi] - np.log(np.exp(Z).sum(axis=1))
    return float(np.sum(w * ll))


def fitted_model(X, y, sample_weight=None, fit_intercept=True, max_iter=100, B=None):
    """A stand-in for a ``LogisticRegression(penalty=None)`` fit (its documented contract)."""
    feature_names = None
    if isinstance(X, pd.DataFrame):
        feature_names = np.asarray(X.columns, dtype=object)
    Xa = np.asarray(X, dtype=np.float64)
    classes, yi = np.unique(np.asarray(y), return_inverse=True)
    k = len(classes)
    n, d = Xa.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    n_iter = 0
    if B is None:
        B, n_iter = newton_fit(Xa, yi, k, w, fit_intercept, max_iter=max_iter)
    Xc = _design(Xa, fit_intercept)
    P = _softmax(Xc @ B.T)
    H = logreg.hessian(Xa, P, w, fit_intercept=fit_intercept)
    counts = np.bincount(yi, weights=w, minlength=k)
    pos = counts > 0
    ll_null = float(np.sum(counts[pos] * np.log(counts[pos] / counts.sum())))
    if k == 2:
        p = Xc.shape[1]
        beta = B[1] - B[0]
        coef, intercept = beta[None, :d], (beta[d:] if fit_intercept else np.zeros(1))
        H = H[p:, p:]  # binary model: sum w p(1-p) x x'
    else:
        coef, intercept = B[:, :d], (B[:, d] if fit_intercept else np.zeros(k))
    model = types.SimpleNamespace(
        classes_=classes, coef_=coef, intercept_=intercept, fit_intercept=fit_intercept,
        n_features_in_=d, n_iter_=np.array([n_iter]), penalty=None,
        _inference_state_=dict(
            hessian=H, loglike=loglike(Xc, yi, B, w), loglike_null=ll_null,
            nobs=float(w.sum()), n_iter=n_iter, converged=n_iter < max_iter - 1,
            fit_intercept=fit_intercept,
        ),
    )
    if feature_names is not None:
        model.feature_names_in_ = feature_names
    return model


def synthetic(n=600, d=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * [1.0, 3.0, 0.5][:d] + [0.0, 1.0, -2.0][:d]
    W = rng.standard_normal((k, d)) * 0.7
    b = rng.standard_normal(k) * 0.5
    P = _softmax(X @ W.T + b)
    y = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return X, y


@pytest.fixture(scope="module")
def anes96():
    data = sm.datasets.anes96.load_pandas()
    X = data.exog.copy()
    y = data.endog.astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="module")
def spector():
    data = sm.datasets.spector.load_pandas()
    return data.exog.copy(), data.endog.astype(int).to_numpy()


def sm_mnlogit(X, y, **fit_kwargs):
    Xs = sm.add_constant(np.asarray(X, dtype=float), prepend=False, has_constant="add")
    return sm.MNLogit(y, Xs).fit(disp=0, method="newton", maxiter=100, tol=1e-12,
                                 **fit_kwargs)


def sm_logit(X, y, **fit_kwargs):
    Xs = sm.add_constant(np.asarray(X, dtype=float), prepend=False, has_constant="add")
    return sm.Logit(y, Xs).fit(disp=0, method="newton", maxiter=100, tol=1e-12,
                               **fit_kwargs)


def assert_matches_statsmodels(res, ref_res, alpha=0.05, rtol=SM_RTOL):
    """params/bse/pvalues/conf_int/cov: statsmodels' (p, k-1) layout -> ours (k-1, p)."""
    params = np.asarray(ref_res.params).reshape(len(res.feature_names), -1).T
    bse = np.asarray(ref_res.bse).reshape(params.shape[::-1]).T
    pvalues = np.asarray(ref_res.pvalues).reshape(params.shape[::-1]).T
    # ndarray exog: MNLogit gives (k-1, p, 2), Logit (p, 2)
    ci = np.asarray(ref_res.conf_int(alpha)).reshape(params.shape + (2,))
    assert_allclose_scaled(res.params, params, rtol, "params")
    np.testing.assert_allclose(res.bse, bse, rtol=rtol, err_msg="bse")
    np.testing.assert_allclose(res.pvalues, pvalues, rtol=rtol, atol=1e-300, err_msg="pvalues")
    assert_allclose_scaled(res.conf_int(alpha), ci, rtol, "conf_int")
    assert_allclose_scaled(res.cov, np.asarray(ref_res.cov_params()), rtol, "cov")


# --------------------------------------------------------------------------
# Agreement with statsmodels: nonrobust
# --------------------------------------------------------------------------


def test_mnlogit_anes96_matches_statsmodels(anes96):
    X, y = anes96
    res = _inference.inference(fitted_model(X, y))
    ref = sm_mnlogit(X, y)
    assert res.params.shape == (6, 6)
    assert res.feature_names == list(X.columns) + ["const"]
    assert list(res.classes) == [1, 2, 3, 4, 5, 6] and res.reference == 0
    assert_matches_statsmodels(res, ref)
    assert_matches_statsmodels(res, ref, alpha=0.1)
    np.testing.assert_allclose(
        [res.loglike, res.loglike_null, res.prsquared, res.aic, res.bic, res.llr_pvalue,
         res.df_model, res.nobs],
        [ref.llf, ref.llnull, ref.prsquared, ref.aic, ref.bic, ref.llr_pvalue,
         ref.df_model, ref.nobs],
        rtol=SM_RTOL,
    )


@pytest.mark.parametrize("reference", [3, 6])
def test_non_default_reference_matches_relabelled_statsmodels(anes96, reference):
    X, y = anes96
    model = fitted_model(X, y)
    res = _inference.inference(model, reference=reference)
    assert res.reference == reference
    assert list(res.classes) == [c for c in range(7) if c != reference]
    # statsmodels takes the smallest label as its base: relabel the reference -1
    ref = sm_mnlogit(X, np.where(y == reference, -1, y))
    assert_matches_statsmodels(res, ref)


def test_change_of_reference_is_a_linear_map_without_refit():
    X, y = synthetic(k=4)
    model = fitted_model(X, y)
    r0 = _inference.inference(model)
    r2 = _inference.inference(model, reference=2)
    k1, p = r0.params.shape
    # theta2_c = theta0_c - theta0_2 (theta0 of class 0 is zero)
    T = np.zeros((k1, k1))
    for row, c in enumerate([0, 1, 3]):
        if c != 0:
            T[row, c - 1] = 1.0
        T[row, 2 - 1] -= 1.0
    Tfull = np.kron(T, np.eye(p))
    assert_allclose_scaled(r2.params, T @ r0.params, EXACT_RTOL)
    assert_allclose_scaled(r2.cov, Tfull @ r0.cov @ Tfull.T, 1e-8)


def test_synthetic_multinomial_matches_statsmodels_both_references():
    X, y = synthetic(n=800, d=3, k=5, seed=3)
    labels = np.array(["apple", "banana", "cherry", "date", "elder"])[y]
    model = fitted_model(X, labels)
    assert_matches_statsmodels(_inference.inference(model), sm_mnlogit(X, y))
    res = _inference.inference(model, reference="date")
    assert list(res.classes) == ["apple", "banana", "cherry", "elder"]
    assert_matches_statsmodels(res, sm_mnlogit(X, np.where(y == 3, -1, y)))


def test_no_intercept_matches_statsmodels():
    X, y = synthetic(n=500, d=3, k=3, seed=4)
    res = _inference.inference(fitted_model(X, y, fit_intercept=False))
    ref = sm.MNLogit(y, X).fit(disp=0, method="newton", tol=1e-12)
    assert res.feature_names == ["x0", "x1", "x2"]
    assert_allclose_scaled(res.params, np.asarray(ref.params).T, SM_RTOL)
    np.testing.assert_allclose(res.bse, np.asarray(ref.bse).T, rtol=SM_RTOL)


def test_binary_matches_statsmodels_logit(spector):
    X, y = spector
    model = fitted_model(X, y)
    res = _inference.inference(model)
    ref = sm_logit(X, y)
    assert res.params.shape == (1, 4)
    assert_matches_statsmodels(res, ref)
    np.testing.assert_allclose(
        [res.loglike, res.loglike_null, res.prsquared, res.aic, res.bic, res.llr_pvalue],
        [ref.llf, ref.llnull, ref.prsquared, ref.aic, ref.bic, ref.llr_pvalue],
        rtol=SM_RTOL,
    )
    flipped = _inference.inference(model, reference=1)
    assert list(flipped.classes) == [0] and flipped.reference == 1
    assert_allclose_scaled(flipped.params, -res.params, EXACT_RTOL)
    assert_allclose_scaled(flipped.cov, res.cov, EXACT_RTOL)
    np.testing.assert_allclose(flipped.pvalues, res.pvalues, rtol=1e-12)


# --------------------------------------------------------------------------
# Robust covariances
# --------------------------------------------------------------------------


def test_binary_robust_covariances_match_statsmodels(spector):
    X, y = spector
    model = fitted_model(X, y)
    n, K = len(y), 4
    groups = np.arange(n) % 7
    hc0 = _inference.inference(model, "HC0" and None, "HC0", X=X, y=y)
    ref0 = sm_logit(X, y, cov_type="HC0")
    assert_matches_statsmodels(hc0, ref0)
    # statsmodels' Logit returns HC0 for cov_type="HC1" (its issue #7798); the
    # HC1 correction n/(n-K) is that of its cov_white_simple(use_correction=True).
    hc1 = _inference.inference(model, cov_type="hc1", X=X, y=y)
    assert hc1.cov_type == "HC1"
    assert_allclose_scaled(hc1.cov, sw.cov_white_simple(ref0, use_correction=True), SM_RTOL)
    assert_allclose_scaled(hc1.cov, np.asarray(ref0.cov_params()) * n / (n - K), SM_RTOL)
    cl = _inference.inference(model, cov_type="cluster", X=X, y=y, groups=groups)
    refc = sm_logit(X, y, cov_type="cluster", cov_kwds=dict(groups=groups))
    assert_matches_statsmodels(cl, refc)
    # string cluster labels give the same answer
    cl_s = _inference.inference(model, cov_type="cluster", X=X, y=y,
                                groups=np.array(list("abcdefg"))[groups])
    assert_allclose_scaled(cl_s.cov, cl.cov, EXACT_RTOL)


def numpy_sandwich(X, yi, B, H, ref, w=None, groups=None, fit_intercept=True):
    """Direct NumPy sandwich: per-sample scores, explicit inverse (test oracle only)."""
    Xc = _design(X, fit_intercept)
    n, p = Xc.shape
    k = B.shape[0]
    w = np.ones(n) if w is None else np.asarray(w, float)
    P = _softmax(Xc @ B.T)
    R = (np.eye(k)[yi] - P)[:, [c for c in range(k) if c != ref]]
    S = np.einsum("ni,na->nia", R, Xc).reshape(n, -1)
    if groups is None:
        meat = np.einsum("n,ni,nj->ij", w, S, S)
    else:
        labels = np.unique(groups)
        U = np.array([(w[groups == g, None] * S[groups == g]).sum(axis=0) for g in labels])
        meat = U.T @ U
    Hinv = np.linalg.inv(H)
    return Hinv @ meat @ Hinv


def _reference_hessian(model, ref):
    k, p = len(model.classes_), model.coef_.shape[1] + model.fit_intercept
    idx = np.concatenate([np.arange(c * p, (c + 1) * p) for c in range(k) if c != ref])
    return model._inference_state_["hessian"][np.ix_(idx, idx)]


def test_multinomial_robust_covariances_match_numpy_and_statsmodels(anes96):
    X, y = anes96
    model = fitted_model(X, y)
    B = np.hstack([model.coef_, model.intercept_[:, None]])
    n, K = len(y), 36
    groups = np.arange(n) % 40
    for ref in (0, 4):
        H = _reference_hessian(model, ref)
        hc0 = _inference.inference(model, ref, "HC0", X=X, y=y)
        oracle = numpy_sandwich(X, y, B, H, ref)
        assert_allclose_scaled(hc0.cov, oracle, 1e-8)
        hc1 = _inference.inference(model, ref, "HC1", X=X, y=y)
        assert_allclose_scaled(hc1.cov, oracle * n / (n - K), 1e-8)
        cl = _inference.inference(model, ref, "cluster", X=X, y=y, groups=groups)
        G = 40
        assert_allclose_scaled(
            cl.cov, numpy_sandwich(X, y, B, H, ref, groups=groups)
            * G / (G - 1) * (n - 1) / (n - K), 1e-8)
    hc0 = _inference.inference(model, cov_type="HC0", X=X, y=y)
    assert_matches_statsmodels(hc0, sm_mnlogit(X, y, cov_type="HC0"))
    cl = _inference.inference(model, cov_type="cluster", X=X, y=y, groups=groups)
    assert_matches_statsmodels(
        cl, sm_mnlogit(X, y, cov_type="cluster", cov_kwds=dict(groups=groups)))


def test_robust_weighted_matches_numpy_and_float32_and_small_blocks(monkeypatch):
    X, y = synthetic(n=700, d=3, k=3, seed=5)
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    model = fitted_model(X, y, sample_weight=w)
    B = np.hstack([model.coef_, model.intercept_[:, None]])
    groups = np.random.default_rng(2).integers(0, 25, len(y))
    H = _reference_hessian(model, 1)
    want = numpy_sandwich(X, y, B, H, 1, w=w, groups=groups)
    N, K, G = w.sum(), 8, 25
    want *= G / (G - 1) * (N - 1) / (N - K)
    got = _inference.inference(model, 1, "cluster", X=X, y=y, sample_weight=w, groups=groups)
    assert_allclose_scaled(got.cov, want, 1e-8)
    # row blocks of 64 and a Fortran-ordered float32 X: same answer (X rounded to float32)
    monkeypatch.setattr(_inference, "_BLOCK_ENTRIES", 64 * K)
    X32 = np.asfortranarray(X.astype(np.float32))
    got32 = _inference.inference(model, 1, "cluster", X=X32, y=y, sample_weight=w,
                                 groups=groups)
    assert_allclose_scaled(got32.cov, want, 1e-5)
    hc0 = _inference.inference(model, 1, "HC0", X=X, y=y, sample_weight=w)
    assert_allclose_scaled(hc0.cov, numpy_sandwich(X, y, B, H, 1, w=w), 1e-8)


# --------------------------------------------------------------------------
# Frequency weights
# --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4])
def test_integer_weights_equal_repeated_rows(k):
    X, y = synthetic(n=300, d=3, k=k, seed=6)
    rng = np.random.default_rng(7)
    w = rng.integers(0, 4, len(y))  # zeros: rows that are absent
    groups = rng.integers(0, 12, len(y))
    w[groups == 11] = 0  # a cluster with no observations: not counted in G
    Xr, yr, gr = np.repeat(X, w, axis=0), np.repeat(y, w), np.repeat(groups, w)
    mw = fitted_model(X, y, sample_weight=w)
    mr = fitted_model(Xr, yr)
    for cov_type, extra_w, extra_r in [
        ("nonrobust", {}, {}),
        ("HC0", dict(X=X, y=y, sample_weight=w), dict(X=Xr, y=yr)),
        ("HC1", dict(X=X, y=y, sample_weight=w), dict(X=Xr, y=yr)),
        ("cluster", dict(X=X, y=y, sample_weight=w, groups=groups),
         dict(X=Xr, y=yr, groups=gr)),
    ]:
        a = _inference.inference(mw, 1, cov_type, **extra_w)
        b = _inference.inference(mr, 1, cov_type, **extra_r)
        assert a.nobs == b.nobs == w.sum()
        assert_allclose_scaled(a.params, b.params, 1e-8, cov_type)
        assert_allclose_scaled(a.cov, b.cov, 1e-8, cov_type)
        np.testing.assert_allclose(a.bse, b.bse, rtol=1e-7, err_msg=cov_type)
        np.testing.assert_allclose([a.loglike, a.aic, a.bic], [b.loglike, b.aic, b.bic],
                                   rtol=1e-9)


# --------------------------------------------------------------------------
# Singular information, errors, warnings
# --------------------------------------------------------------------------


def test_collinear_columns_warn_and_name_the_columns():
    X, y = synthetic(n=400, d=3, k=3, seed=8)
    X = np.column_stack([X, X[:, 0] - 2 * X[:, 1]])  # x3 = x0 - 2 x1
    # The MLE is not unique; any optimum will do: fit without x3 and pad a zero.
    base = fitted_model(X[:, :3], y)
    B = np.hstack([base.coef_, np.zeros((3, 1)), base.intercept_[:, None]])
    model = fitted_model(X, y, B=B)
    with pytest.warns(SingularInformationWarning, match="collinear") as rec:
        res = _inference.inference(model)
    msg = str(rec[0].message)
    assert "x0" in msg and "x1" in msg and "x3" in msg and "x2, " not in msg
    # x0, x1, x3 are not identified; x2 and the intercepts are, and equal the fit without x3
    assert np.isnan(res.bse[:, [0, 1, 3]]).all()
    ok = _inference.inference(base)
    np.testing.assert_allclose(res.bse[:, [2, 4]], ok.bse[:, [2, 3]], rtol=1e-6)
    assert np.isnan(res.pvalues[:, 0]).all() and np.isfinite(res.pvalues[:, 2]).all()
    assert "NaN standard errors" in str(_summary_quiet(res))


def _summary_quiet(res):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return res.summary()


def test_constant_column_with_intercept_is_collinear():
    X, y = synthetic(n=300, d=2, k=2, seed=9)
    X = np.column_stack([X, np.full(len(y), 3.0)])
    base = fitted_model(X[:, :2], y)
    B = np.zeros((2, 4))
    B[1, [0, 1, 3]] = np.r_[base.coef_[0], base.intercept_]
    with pytest.warns(SingularInformationWarning, match="collinear.*x2.*const"):
        res = _inference.inference(fitted_model(X, y, B=B))
    assert np.isnan(res.bse[0, [2, 3]]).all() and np.isfinite(res.bse[0, :2]).all()


def test_separation_warns():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((200, 2))
    y = (X[:, 0] > 0).astype(int)  # x0 separates the classes perfectly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fitted_model(X, y, max_iter=40)
    with pytest.warns(SingularInformationWarning, match="separation"):
        res = _inference.inference(model)
    assert not np.isfinite(res.bse).all() or res.bse.max() > 1e3


def test_empty_class_warns():
    X, y = synthetic(n=400, d=2, k=4, seed=11)
    w = np.where(y == 2, 0.0, 1.0)  # class 2 has no observations with weight
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fitted_model(X, y, sample_weight=w, max_iter=60)
    with pytest.warns(SingularInformationWarning, match="class\\(es\\) 2"):
        res = _inference.inference(model)
    assert np.isnan(res.bse[1]).any() or res.bse[1].max() > 1e3  # row of class 2


def test_penalized_fit_raises():
    X, y = synthetic(n=200, k=3)
    model = fitted_model(X, y)
    model._inference_state_, model.penalty, model.C = None, "l2", 1.0
    with pytest.raises(ValueError, match="unpenalized.*penalty='l2'.*biased.*penalty=None"):
        _inference.inference(model)
    with pytest.raises(ValueError, match="penalty=None"):
        _inference.summary(model)


def test_robust_errors_and_argument_checks():
    X, y = synthetic(n=200, k=3)
    model = fitted_model(X, y)
    for cov_type in ("HC0", "HC1", "cluster"):
        with pytest.raises(ValueError, match="needs the training data: pass X"):
            _inference.inference(model, cov_type=cov_type)
        with pytest.raises(ValueError, match="needs the training data"):
            _inference.inference(model, cov_type=cov_type, X=X)
    with pytest.raises(ValueError, match="groups"):
        _inference.inference(model, cov_type="cluster", X=X, y=y)
    with pytest.raises(ValueError, match="only used with cov_type='cluster'"):
        _inference.inference(model, cov_type="HC0", X=X, y=y, groups=np.zeros(200))
    with pytest.raises(ValueError, match="at least 2 clusters"):
        _inference.inference(model, cov_type="cluster", X=X, y=y, groups=np.zeros(200))
    with pytest.raises(ValueError, match="cov_type must be one of"):
        _inference.inference(model, cov_type="HC3")
    with pytest.raises(ValueError, match="reference=7 is not one of"):
        _inference.inference(model, reference=7)
    with pytest.raises(ValueError, match="total weight"):
        _inference.inference(model, cov_type="HC0", X=X, y=y, sample_weight=np.full(200, 2.0))
    with pytest.raises(ValueError, match="3 features"):
        _inference.inference(model, cov_type="HC0", X=X[:, :2], y=y)
    with pytest.raises(ValueError, match="not in classes_"):
        _inference.inference(model, cov_type="HC0", X=X, y=np.where(y == 1, 9, y))
    with pytest.raises(ValueError, match="alpha"):
        _inference.inference(model).conf_int(alpha=1.5)
    with pytest.raises(ValueError, match="not fitted"):
        _inference.inference(types.SimpleNamespace())


def test_wrong_data_and_nonconverged_fit_warn():
    X, y = synthetic(n=300, k=3, seed=12)
    model = fitted_model(X, y)
    X2, y2 = synthetic(n=300, k=3, seed=13)
    with pytest.warns(InferenceWarning, match="not the training data"):
        _inference.inference(model, cov_type="HC0", X=X2, y=y2)
    model._inference_state_["converged"] = False
    with pytest.warns(InferenceWarning, match="did not converge"):
        _inference.inference(model)


def test_robust_checks_dataframe_columns(anes96):
    X, y = anes96
    model = fitted_model(X, y)
    with pytest.raises(ValueError, match="columns"):
        _inference.inference(model, cov_type="HC0", X=X[X.columns[::-1]], y=y)


def test_well_conditioned_fit_does_not_warn(anes96):
    X, y = anes96
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _inference.inference(fitted_model(X, y), cov_type="HC0", X=X, y=y)


# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------


def test_summary_dataframe_input(anes96):
    X, y = anes96
    s = _inference.summary(fitted_model(X, y), reference=6, alpha=0.1)
    text = str(s)
    for piece in ["Multinomial Logistic Regression Results", "Reference class:", "6",
                  "Log-Likelihood:", "LL-Null:", "Pseudo R-squ.:", "AIC:", "BIC:",
                  "No. Observations:", "944", "Converged:", "Iterations:",
                  "selfLR", "const", "0 vs 6", "5 vs 6", "[0.05", "0.95]", "P>|z|"]:
        assert piece in text, piece
    assert len({len(line) for line in text.splitlines() if set(line) == {"="}}) == 1
    html = s._repr_html_()
    assert html.count("<table>") >= 1 and "selfLR" in html and "0 vs 6" in html


def test_summary_array_input_string_labels_and_robust():
    X, y = synthetic(n=300, d=2, k=3, seed=14)
    labels = np.array(["no", "maybe", "yes & <sure>"])[y]
    model = fitted_model(X, labels)
    s = _inference.summary(model, cov_type="HC1", X=X, y=labels)
    text = str(s)
    assert "x0" in text and "x1" in text and "const" in text
    assert "yes & <sure> vs maybe" in text and "robust (HC1)" in text
    assert "yes &amp; &lt;sure&gt;" in s._repr_html_()
    binary = _inference.summary(fitted_model(X, labels == "yes & <sure>"))
    assert "Logistic Regression Results" in str(binary) and "True vs False" in str(binary)
    frame = _inference.inference(model).to_frame()
    assert frame.shape == (6, 6) and frame.index.names == ["class", "feature"]


# --------------------------------------------------------------------------
# Through the estimator: LogisticRegression(penalty=None).inference() / .summary()
# --------------------------------------------------------------------------


def test_estimator_multinomial_matches_statsmodels(anes96):
    X, y = anes96
    clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    ref = sm_mnlogit(X, y)
    res = clf.inference()
    assert res.feature_names == list(X.columns) + ["const"]
    assert_matches_statsmodels(res, ref)
    assert_matches_statsmodels(clf.inference(reference=5),
                               sm_mnlogit(X, np.where(y == 5, -1, y)), alpha=0.01)
    np.testing.assert_allclose([res.loglike, res.loglike_null, res.aic, res.bic],
                               [ref.llf, ref.llnull, ref.aic, ref.bic], rtol=SM_RTOL)
    hc0 = clf.inference(cov_type="HC0", X=X, y=y)
    assert_matches_statsmodels(hc0, sm_mnlogit(X, y, cov_type="HC0"))
    text = str(clf.summary(reference=5))
    assert "selfLR" in text and "0 vs 5" in text and "Converged:" in text


def test_estimator_binary_robust_matches_statsmodels(spector):
    X, y = spector
    clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    groups = np.arange(len(y)) % 5
    assert_matches_statsmodels(clf.inference(), sm_logit(X, y))
    assert_matches_statsmodels(clf.inference(cov_type="HC0", X=X, y=y),
                               sm_logit(X, y, cov_type="HC0"))
    assert_matches_statsmodels(
        clf.inference(cov_type="cluster", X=X, y=y, groups=groups),
        sm_logit(X, y, cov_type="cluster", cov_kwds=dict(groups=groups)))
    hc1 = clf.inference(cov_type="HC1", X=X, y=y)
    assert_allclose_scaled(hc1.cov, sw.cov_white_simple(sm_logit(X, y, cov_type="HC0"),
                                                        use_correction=True), SM_RTOL)


def test_estimator_frequency_and_class_weights_match_statsmodels_glm(spector):
    """sample_weight = GLM freq_weights; class_weight = GLM var_weights (importance)."""
    X, y = spector
    w = np.random.default_rng(15).integers(1, 4, len(y)).astype(float)
    Xs = sm.add_constant(np.asarray(X, float), prepend=False)
    clf = logreg.LogisticRegression(penalty=None).fit(X, y, sample_weight=w)
    glm = sm.GLM(y, Xs, family=sm.families.Binomial(), freq_weights=w)
    for cov_type in ("nonrobust", "HC0"):
        extra = {} if cov_type == "nonrobust" else dict(X=X, y=y, sample_weight=w)
        ours = clf.inference(cov_type=cov_type, **extra)
        theirs = glm.fit(cov_type=cov_type, tol=1e-12)
        assert_allclose_scaled(ours.params[0], np.asarray(theirs.params), SM_RTOL)
        np.testing.assert_allclose(ours.bse[0], np.asarray(theirs.bse), rtol=SM_RTOL)
    cw = {0: 2.0, 1: 0.5}
    clf_cw = logreg.LogisticRegression(penalty=None, class_weight=cw).fit(X, y, sample_weight=w)
    with pytest.warns(InferenceWarning, match="class_weight"):
        clf_cw.inference()
    ours = clf_cw.inference(cov_type="HC0", X=X, y=y, sample_weight=w)
    theirs = sm.GLM(y, Xs, family=sm.families.Binomial(), freq_weights=w,
                    var_weights=np.where(y == 1, 0.5, 2.0)).fit(cov_type="HC0", tol=1e-12)
    assert_allclose_scaled(ours.params[0], np.asarray(theirs.params), SM_RTOL)
    np.testing.assert_allclose(ours.bse[0], np.asarray(theirs.bse), rtol=SM_RTOL)
    # N in the HC1 correction counts observations (sum w), not sum(w * class weight)
    hc1 = clf_cw.inference(cov_type="HC1", X=X, y=y, sample_weight=w)
    assert_allclose_scaled(hc1.cov, ours.cov * w.sum() / (w.sum() - 4), 1e-10)
    balanced = logreg.LogisticRegression(penalty=None, class_weight="balanced").fit(X, y)
    res = balanced.inference(cov_type="HC1", X=X, y=y)  # rebuilds "balanced" from y
    assert np.isfinite(res.bse).all()


def test_estimator_integer_weights_equal_repeated_rows():
    X, y = synthetic(n=400, d=3, k=3, seed=16)
    rng = np.random.default_rng(17)
    w = rng.integers(0, 3, len(y)).astype(float)
    groups = rng.integers(0, 9, len(y))
    Xr, yr, gr = np.repeat(X, w.astype(int), axis=0), np.repeat(y, w.astype(int)), \
        np.repeat(groups, w.astype(int))
    cw = logreg.LogisticRegression(penalty=None, tol=1e-10).fit(X, y, sample_weight=w)
    cr = logreg.LogisticRegression(penalty=None, tol=1e-10).fit(Xr, yr)
    for cov_type, kw_w, kw_r in [
        ("nonrobust", {}, {}),
        ("HC1", dict(X=X, y=y, sample_weight=w), dict(X=Xr, y=yr)),
        ("cluster", dict(X=X, y=y, sample_weight=w, groups=groups),
         dict(X=Xr, y=yr, groups=gr)),
    ]:
        a, b = cw.inference(2, cov_type, **kw_w), cr.inference(2, cov_type, **kw_r)
        assert_allclose_scaled(a.params, b.params, 1e-7, cov_type)
        np.testing.assert_allclose(a.bse, b.bse, rtol=1e-6, err_msg=cov_type)
        assert a.nobs == b.nobs == w.sum()


def test_estimator_string_labels_array_input_summary():
    X, y = synthetic(n=300, d=2, k=3, seed=18)
    labels = np.array(["low", "mid", "high"])[y]
    clf = logreg.LogisticRegression(penalty=None).fit(X, labels)
    s = clf.summary(reference="mid", alpha=0.1, cov_type="HC0", X=X, y=labels)
    text = str(s)
    assert "high vs mid" in text and "low vs mid" in text and "x1" in text
    assert "[0.05" in text and "HC0" in text
    assert "<table>" in s._repr_html_()
    res = clf.inference(reference="mid")
    assert list(res.classes) == ["high", "low"] and res.reference == "mid"


def test_estimator_penalized_and_unfitted_raise():
    X, y = synthetic(n=200, d=2, k=3, seed=19)
    clf = logreg.LogisticRegression(C=1.0).fit(X, y)
    with pytest.raises(ValueError, match="unpenalized.*penalty='l2'.*biased"):
        clf.inference()
    with pytest.raises(ValueError, match="penalty=None"):
        clf.summary()
    assert logreg.LogisticRegression(C=np.inf).fit(X, y).inference().bse.shape == (2, 3)
    with pytest.raises(logreg.NotFittedError, match="not fitted"):
        logreg.LogisticRegression(penalty=None).inference()


def test_estimator_collinear_columns_warn():
    X, y = synthetic(n=300, d=2, k=3, seed=20)
    X = np.column_stack([X, 2.0 * X[:, 0] + X[:, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the solver's own SingularHessianWarning
        clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    with pytest.warns(SingularInformationWarning, match="collinear.*x0, x1, x2"):
        res = clf.inference()
    assert np.isnan(res.bse[:, :3]).all() and np.isfinite(res.bse[:, 3]).all()


def test_estimator_separation_warns():
    rng = np.random.default_rng(21)
    X = rng.standard_normal((100, 2))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the solver's PerfectSeparationWarning
        clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    with pytest.warns(UserWarning) as record:
        clf.inference()
    # the fit stops at the separation certificate: inference says why its numbers are void
    assert any("separation" in str(r.message) and "did not converge" in str(r.message)
               for r in record)
