"""Marginal effects (``res.marginal_effects``) against statsmodels' ``get_margeff``
and against a complex-step delta method written here.

statsmodels 0.15's MNLogit ``get_margeff`` fails for ``"eyex"``/``"dyex"`` and for
``dummy=True``/``count=True`` (array broadcasting errors), so those cases are
checked against :func:`oracle_margins`: statsmodels' definitions in plain
NumPy, per-row formulas, the Jacobian by complex step.
"""
import numpy as np
import pytest
import statsmodels.api as sm

import logreg
from logreg import _inference, _margins
from tests.test_inference import anes96, spector  # noqa: F401  (fixtures)
from tests.test_inference import fitted_model, sm_logit, sm_mnlogit, synthetic
from tests.tolerances import (
    DELTA_METHOD_RTOL,
    INFERENCE_INVARIANCE_RTOL,
    STATSMODELS_INFERENCE_RTOL,
    assert_allclose_scaled,
)

AT = ["overall", "mean", "median", "zero"]
METHODS = ["dydx", "eyex", "dyex", "eydx"]


def with_discrete_columns(seed=3, k=4):
    """Synthetic multinomial data with a 0/1 column (x3) and a count column (x4)."""
    X, y = synthetic(n=800, d=3, k=k, seed=seed)
    rng = np.random.default_rng(seed + 1)
    X = np.column_stack([X, rng.integers(0, 2, len(y)), rng.integers(0, 5, len(y))])
    return X.astype(float), y


def assert_matches_margeff(me, ref, rows=None, rtol=STATSMODELS_INFERENCE_RTOL):
    """statsmodels' (d, k) MNLogit or (d,) Logit arrays against ours (k, d)."""
    pick = (lambda a: a.T) if rows is None else (lambda a: a[None, :])
    ours = (lambda a: a) if rows is None else (lambda a: a[[rows]])
    assert_allclose_scaled(ours(me.effects), pick(np.asarray(ref.margeff)), rtol, "effects")
    assert_allclose_scaled(ours(me.bse), pick(np.asarray(ref.margeff_se)), rtol, "bse")
    np.testing.assert_allclose(ours(me.pvalues), pick(np.asarray(ref.pvalues)), rtol=rtol,
                               atol=1e-12, err_msg="pvalues")
    ci = np.asarray(ref.conf_int(0.1))     # (d, 2, k) MNLogit, (d, 2) Logit
    ci = ci.transpose(2, 0, 1) if rows is None else ci[None]
    assert_allclose_scaled(ours(me.conf_int(0.1)), ci, rtol, "conf_int")


# --------------------------------------------------------------------------
# An independent delta method (the tests' oracle)
# --------------------------------------------------------------------------


def _effects_of(theta, others, k, X, at, method, dummy_cols, count_cols):
    """statsmodels' definitions, complex-safe: (k, d) effects at theta (k-1, p)."""
    n, d = X.shape
    B = np.zeros((k, d + 1), dtype=theta.dtype)
    B[others] = theta
    if at == "mean":
        X = X.mean(axis=0, keepdims=True)
    elif at == "median":
        X = np.median(X, axis=0, keepdims=True)
    elif at == "zero":
        X = np.zeros((1, d))

    def proba(Xr):
        E = np.exp(Xr @ B[:, :d].T + B[:, d])
        return E / E.sum(axis=1, keepdims=True)

    P = proba(X)
    out = P[:, :, None] * (B[None, :, :d] - (P @ B[:, :d])[:, None, :])  # dP_j / dx_a
    if method.startswith("ey"):
        out = out / P[:, :, None]
    if method.endswith("ex"):
        out = out * X[:, None, :]
    tr = np.log if method.startswith("ey") else (lambda v: v)
    for a in dummy_cols:
        X1, X0 = X.copy(), X.copy()
        X1[:, a], X0[:, a] = 1.0, 0.0
        out[:, :, a] = tr(proba(X1)) - tr(proba(X0))
    for a in count_cols:
        Xp, Xm = X.copy(), X.copy()
        Xp[:, a] += 1.0
        Xm[:, a] -= 1.0
        out[:, :, a] = (tr(proba(Xp)) - tr(proba(Xm))) / 2
    return out.mean(axis=0)


def oracle_margins(res, X, at="overall", method="dydx", dummy_cols=(), count_cols=()):
    """Effects (k, d) and their covariance J cov J' with J by complex step."""
    X = np.asarray(X, dtype=float)
    theta = res.params.astype(complex)
    others, k = res.other_indices, len(res.all_classes)
    args = (others, k, X, at, method, list(dummy_cols), list(count_cols))
    effects = _effects_of(theta, *args).real
    h = 1e-30
    J = np.empty((effects.size, theta.size))
    for i in range(theta.size):
        t = theta.ravel().copy()
        t[i] += 1j * h
        J[:, i] = _effects_of(t.reshape(theta.shape), *args).imag.ravel() / h
    return effects, J @ res.cov @ J.T


def test_oracle_effects_are_the_derivatives_of_the_probabilities():
    """The oracle's dP/dx formula against central differences of predict_proba."""
    X, y = synthetic(n=300, d=3, k=4, seed=5)
    res = _inference.inference(fitted_model(X, y))
    x = X[:1]
    got = _effects_of(res.params, res.other_indices, 4, x, "overall", "dydx", [], [])
    B = res.full_params()

    def proba(xr):
        E = np.exp(xr @ B[:, :3].T + B[:, 3])
        return (E / E.sum(axis=1, keepdims=True))[0]

    h = 1e-6
    fd = np.column_stack([(proba(x + h * e) - proba(x - h * e)) / (2 * h) for e in np.eye(3)])
    assert_allclose_scaled(got, fd, 1e-8)


# --------------------------------------------------------------------------
# Multinomial: statsmodels where it works, the oracle elsewhere
# --------------------------------------------------------------------------


@pytest.mark.parametrize("at", AT)
@pytest.mark.parametrize("method", ["dydx", "eydx"])
def test_mnlogit_anes96_matches_statsmodels(anes96, at, method):
    X, y = anes96
    res = _inference.inference(fitted_model(X, y))
    me = res.marginal_effects(X, at=at, method=method)
    ref = sm_mnlogit(X, y).get_margeff(at=at, method=method)
    assert me.effects.shape == (7, 5) and list(me.classes) == list(range(7))
    assert me.feature_names == list(X.columns)
    assert_matches_margeff(me, ref)
    assert_allclose_scaled(me.cov, ref.margeff_cov, STATSMODELS_INFERENCE_RTOL, "cov")


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_moment_route_equals_the_general_route_and_statsmodels(monkeypatch, fit_intercept):
    """Few classes, more features: dydx/eydx take the moment route (anes96 does not)."""
    X, y = synthetic(n=700, d=3, k=3, seed=4)
    X = np.column_stack([X, np.random.default_rng(0).standard_normal((700, 3))])
    res = _inference.inference(fitted_model(X, y, fit_intercept=fit_intercept), reference=1)
    Xs = sm.add_constant(X, prepend=False) if fit_intercept else X
    peer = sm.MNLogit(relabelled(y, 1), Xs).fit(disp=0, method="newton", tol=1e-12)
    for at in ("overall", "mean", "zero"):
        for method in ("dydx", "eydx"):
            assert _margins._moments_apply(3, 6, method, 0)
            moments = res.marginal_effects(X, at=at, method=method)
            ref = peer.get_margeff(at=at, method=method)
            # statsmodels' columns follow its relabelled classes: 1 (as -1), 0, 2
            order = np.argsort([1, 0, 2])
            assert_allclose_scaled(moments.effects, np.asarray(ref.margeff).T[order],
                                   STATSMODELS_INFERENCE_RTOL, f"{at} {method}")
            assert_allclose_scaled(moments.bse, np.asarray(ref.margeff_se).T[order],
                                   STATSMODELS_INFERENCE_RTOL, f"{at} {method}")
            with monkeypatch.context() as patch:
                patch.setattr(_margins, "_moments_apply", lambda *args: False)
                general = res.marginal_effects(X, at=at, method=method)
            assert_allclose_scaled(moments.effects, general.effects, INFERENCE_INVARIANCE_RTOL)
            assert_allclose_scaled(moments.cov, general.cov, INFERENCE_INVARIANCE_RTOL)


def relabelled(y, reference):
    return np.where(y == reference, -1, y)


@pytest.mark.parametrize("at", AT)
@pytest.mark.parametrize("method", ["eyex", "dyex"])
def test_mnlogit_elasticities_match_the_oracle(anes96, at, method):
    X, y = anes96
    res = _inference.inference(fitted_model(X, y), reference=2)
    me = res.marginal_effects(X, at=at, method=method)
    effects, cov = oracle_margins(res, X, at, method)
    assert_allclose_scaled(me.effects, effects, DELTA_METHOD_RTOL, "effects")
    assert_allclose_scaled(me.cov, cov, DELTA_METHOD_RTOL, "cov")


@pytest.mark.parametrize("at", ["overall", "mean"])
@pytest.mark.parametrize("method", ["dydx", "eydx"])
def test_mnlogit_dummy_and_count_match_the_oracle(at, method):
    X, y = with_discrete_columns()
    res = _inference.inference(fitted_model(X, y), cov_type="HC0", X=X, y=y)
    me = res.marginal_effects(X, at=at, method=method, dummy=True, count=True)
    assert list(me.dummy_columns) == [3] and list(me.count_columns) == [4]
    effects, cov = oracle_margins(res, X, at, method, [3], [4])
    assert_allclose_scaled(me.effects, effects, DELTA_METHOD_RTOL, "effects")
    assert_allclose_scaled(me.cov, cov, DELTA_METHOD_RTOL, "cov")
    # without the flags the same columns are treated as continuous
    plain = res.marginal_effects(X, at=at, method=method)
    assert_allclose_scaled(plain.effects, oracle_margins(res, X, at, method)[0],
                           DELTA_METHOD_RTOL)
    assert not np.allclose(plain.effects[:, 3], me.effects[:, 3])


@pytest.mark.parametrize("cov_type", ["HC0", "cluster"])
def test_mnlogit_robust_covariances_flow_through(anes96, cov_type):
    X, y = anes96
    groups = np.arange(len(y)) % 40
    extra = dict(X=X, y=y) | (dict(groups=groups) if cov_type == "cluster" else {})
    res = _inference.inference(fitted_model(X, y), cov_type=cov_type, **extra)
    sm_kw = dict(cov_type=cov_type) | (
        dict(cov_kwds=dict(groups=groups)) if cov_type == "cluster" else {})
    ref = sm_mnlogit(X, y, **sm_kw).get_margeff()
    me = res.marginal_effects(X)
    assert me.cov_type == cov_type
    assert_matches_margeff(me, ref)


def test_effects_do_not_depend_on_the_reference_class(anes96):
    """Probabilities do not change with the parametrization: nor do their derivatives."""
    X, y = anes96
    model = fitted_model(X, y)
    a = _inference.inference(model).marginal_effects(X, method="eydx")
    b = _inference.inference(model, reference=5).marginal_effects(X, method="eydx")
    assert_allclose_scaled(b.effects, a.effects, INFERENCE_INVARIANCE_RTOL)
    assert_allclose_scaled(b.cov, a.cov, 1e-7)   # cov through a change of basis


def test_row_blocks_and_float32_give_the_same_effects(monkeypatch):
    X, y = with_discrete_columns(seed=7, k=3)
    res = _inference.inference(fitted_model(X, y))
    want = res.marginal_effects(X, dummy=True, count=True)
    monkeypatch.setattr(_inference, "_BLOCK_ENTRIES", 64 * 3 * 3 * 5)   # 64-row blocks
    got = res.marginal_effects(np.asfortranarray(X), dummy=True, count=True)
    assert_allclose_scaled(got.effects, want.effects, INFERENCE_INVARIANCE_RTOL)
    assert_allclose_scaled(got.cov, want.cov, INFERENCE_INVARIANCE_RTOL)
    got32 = res.marginal_effects(X.astype(np.float32), dummy=True, count=True)
    assert_allclose_scaled(got32.effects, want.effects, 1e-6)


# --------------------------------------------------------------------------
# Binary: statsmodels' Logit works for every option
# --------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning:statsmodels")  # its 0/0 z
@pytest.mark.parametrize("at", AT)
@pytest.mark.parametrize("method", METHODS)
def test_logit_spector_matches_statsmodels(spector, at, method):
    X, y = spector
    res = _inference.inference(fitted_model(X, y))
    me = res.marginal_effects(X, at=at, method=method)
    ref = sm_logit(X, y).get_margeff(at=at, method=method)
    assert me.effects.shape == (2, 3)
    if at == "zero" and method.endswith("ex"):     # x = 0: every elasticity is 0
        assert np.all(me.effects == 0) and np.all(np.asarray(ref.margeff) == 0)
        return
    assert_matches_margeff(me, ref, rows=1)
    if method == "dydx":     # the reference class's probability moves the other way
        assert_allclose_scaled(me.effects[0], -me.effects[1], INFERENCE_INVARIANCE_RTOL)


@pytest.mark.parametrize("at", ["overall", "mean"])
@pytest.mark.parametrize("method", ["dydx", "eydx"])
@pytest.mark.parametrize("dummy, count", [(True, False), (False, True), (True, True)])
def test_logit_dummy_and_count_match_statsmodels(spector, at, method, dummy, count):
    X, y = spector
    res = _inference.inference(fitted_model(X, y), cov_type="HC0", X=X, y=y)
    me = res.marginal_effects(X, at=at, method=method, dummy=dummy, count=count)
    assert list(me.dummy_columns) == ([2] if dummy else [])     # PSI
    assert list(me.count_columns) == ([1] if count else [])     # TUCE
    ref = sm_logit(X, y, cov_type="HC0").get_margeff(at=at, method=method, dummy=dummy,
                                                      count=count)
    assert_matches_margeff(me, ref, rows=1)


def test_logit_through_the_estimator_with_flipped_reference(spector):
    X, y = spector
    clf = logreg.LogisticRegression(penalty=None, tol=1e-10).fit(X, y)
    ref = sm_logit(X, y).get_margeff(dummy=True)
    me = clf.inference(reference=1).marginal_effects(X, dummy=True)
    assert_matches_margeff(me, ref, rows=1)
    text = str(me.summary())
    for piece in ["Logit Marginal Effects", "dy/dx", "P(y = 1)", "P(y = 0)", "GPA", "PSI",
                  "overall", "Dummy columns:"]:
        assert piece in text, piece
    assert "<table>" in me.summary()._repr_html_()


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_bad_options_and_data_raise(spector):
    X, y = spector
    res = _inference.inference(fitted_model(X, y))
    with pytest.raises(ValueError, match="at must be one of"):
        res.marginal_effects(X, at="all")
    with pytest.raises(ValueError, match="method must be one of"):
        res.marginal_effects(X, method="dy/dx")
    with pytest.raises(ValueError, match="'eyex' is not defined for discrete"):
        res.marginal_effects(X, method="eyex", dummy=True)
    with pytest.raises(ValueError, match="'median' is not allowed with count=True"):
        res.marginal_effects(X, at="median", count=True)
    with pytest.raises(TypeError, match="dummy must be True or False"):
        res.marginal_effects(X, dummy="yes")
    with pytest.raises(ValueError, match="2 features but the model was fitted with 3"):
        res.marginal_effects(np.asarray(X)[:, :2])
    with pytest.raises(ValueError, match="columns"):
        res.marginal_effects(X[X.columns[::-1]])
    bad = np.asarray(X, dtype=float).copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        res.marginal_effects(bad)
    with pytest.raises(ValueError, match="alpha"):
        res.marginal_effects(X).conf_int(alpha=0)


@pytest.mark.parametrize("method", ["eyex", "dydx"])     # the general and the moment route
def test_memory_is_bounded_by_the_row_blocks_not_n(monkeypatch, method):
    """No per-row Jacobian: the peak is a few row blocks, far below n (k d)(k p) floats."""
    import tracemalloc

    rng = np.random.default_rng(8)
    n, d, k = 40_000, 6, 3
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    res = _inference.inference(fitted_model(X[:2000], y[:2000]))
    monkeypatch.setattr(_inference, "_BLOCK_ENTRIES", 1 << 14)      # 128 KB temporaries
    tracemalloc.start()
    try:
        res.marginal_effects(X, method=method)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    full_jacobian = n * (k * d) * (k * (d + 1)) * 8          # 120 MB
    assert peak < 4e6, peak
    assert peak < full_jacobian / 30


@pytest.mark.parametrize("method", ["dydx", "eyex"])     # the moment and the general route
@pytest.mark.parametrize("at", ["overall", "mean", "zero"])
def test_integer_weights_equal_repeated_rows(method, at):
    X, y = with_discrete_columns(seed=9, k=3)
    w = np.random.default_rng(10).integers(0, 4, len(y))
    res = _inference.inference(fitted_model(X, y, sample_weight=w))
    weighted = res.marginal_effects(X, at=at, method=method, sample_weight=w)
    repeated = res.marginal_effects(np.repeat(X, w, axis=0), at=at, method=method)
    assert_allclose_scaled(weighted.effects, repeated.effects, INFERENCE_INVARIANCE_RTOL)
    assert_allclose_scaled(weighted.cov, repeated.cov, INFERENCE_INVARIANCE_RTOL)
    if method == "dydx":
        d = res.marginal_effects(X, at=at if at != "zero" else "mean", dummy=True,
                                 sample_weight=w)
        r = res.marginal_effects(np.repeat(X, w, axis=0), at=at if at != "zero" else "mean",
                                 dummy=True)
        assert_allclose_scaled(d.effects, r.effects, INFERENCE_INVARIANCE_RTOL)


def test_sample_weight_errors():
    X, y = synthetic(n=200, d=3, k=3, seed=11)
    res = _inference.inference(fitted_model(X, y))
    with pytest.raises(ValueError, match="'median' does not take sample_weight"):
        res.marginal_effects(X, at="median", sample_weight=np.ones(200))
    with pytest.raises(ValueError, match="sample_weight has 199 entries"):
        res.marginal_effects(X, sample_weight=np.ones(199))
    with pytest.raises(ValueError, match="negative"):
        res.marginal_effects(X, sample_weight=-np.ones(200))
    with pytest.raises(ValueError, match="zero for every row"):
        res.marginal_effects(X, sample_weight=np.zeros(200))
