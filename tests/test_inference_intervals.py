"""Probability intervals (``res.predict_proba_ci``) and the coefficient plot.

Binary intervals against statsmodels' GLM ``get_prediction``; multinomial ones
against a delta method written here (complex-step Jacobian of the softmax, row
by row).  The plot is drawn headless (Agg).
"""
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
import statsmodels.api as sm

import logreg
from logreg import _inference
from tests.test_inference import anes96, spector  # noqa: F401  (fixtures)
from tests.test_inference import fitted_model, synthetic
from tests.tolerances import (
    DELTA_METHOD_RTOL,
    INFERENCE_INVARIANCE_RTOL,
    STATSMODELS_INFERENCE_RTOL,
    assert_allclose_scaled,
)

matplotlib.use("Agg")


# --------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
@pytest.mark.parametrize("reference", [0, 1])
def test_binary_intervals_match_statsmodels_glm(spector, cov_type, reference):
    X, y = spector
    extra = {} if cov_type == "nonrobust" else dict(X=X, y=y)
    res = _inference.inference(fitted_model(X, y), reference, cov_type, **extra)
    Xs = sm.add_constant(np.asarray(X, float), prepend=False)
    glm = sm.GLM(y, Xs, family=sm.families.Binomial()).fit(cov_type=cov_type, tol=1e-12)
    want = glm.get_prediction(Xs).conf_int(alpha=0.1)          # (n, 2) for P(y = 1)
    got = res.predict_proba_ci(X, alpha=0.1)
    assert got.shape == (32, 2, 2)
    assert_allclose_scaled(got[:, 1], want, STATSMODELS_INFERENCE_RTOL)
    assert_allclose_scaled(got[:, 0], 1.0 - want[:, ::-1], STATSMODELS_INFERENCE_RTOL)


def oracle_intervals(res, X, alpha):
    """Delta method row by row: complex-step Jacobian of the softmax in params."""
    from scipy.special import ndtri

    X = np.asarray(X, float)
    others, k = res.other_indices, len(res.all_classes)
    z = ndtri(1 - alpha / 2)
    out = np.empty((len(X), k, 2))
    h = 1e-30
    for i, x in enumerate(np.column_stack([X, np.ones(len(X))])):
        def proba(theta):
            B = np.zeros((k, len(x)), dtype=theta.dtype)
            B[others] = theta.reshape(len(others), -1)
            e = np.exp(B @ x)
            return e / e.sum()

        theta = res.params.ravel()
        J = np.empty((k, theta.size))
        for j in range(theta.size):
            t = theta.astype(complex)
            t[j] += 1j * h
            J[:, j] = proba(t).imag / h
        p = proba(theta)
        se = np.sqrt(np.einsum("ja,ab,jb->j", J, res.cov, J))
        out[i] = np.column_stack([np.clip(p - z * se, 0, 1), np.clip(p + z * se, 0, 1)])
    return out


@pytest.mark.parametrize("cov_type, reference", [("nonrobust", 0), ("HC1", 3),
                                                 ("cluster", 6)])
def test_multinomial_intervals_match_an_independent_delta_method(anes96, cov_type, reference):
    X, y = anes96
    extra = {"nonrobust": {}, "HC1": dict(X=X, y=y),
             "cluster": dict(X=X, y=y, groups=np.arange(len(y)) % 30)}[cov_type]
    res = _inference.inference(fitted_model(X, y), reference, cov_type, **extra)
    got = res.predict_proba_ci(X, alpha=0.05)
    assert got.shape == (len(y), 7, 2)
    want = oracle_intervals(res, X.iloc[:60], 0.05)
    assert_allclose_scaled(got[:60], want, DELTA_METHOD_RTOL)
    assert (got >= 0).all() and (got <= 1).all() and (got[..., 0] <= got[..., 1]).all()


def test_multinomial_intervals_do_not_depend_on_the_reference_and_clip(monkeypatch):
    X, y = synthetic(n=300, d=3, k=4, seed=31)
    model = fitted_model(X, y)
    a = _inference.inference(model).predict_proba_ci(X)
    b = _inference.inference(model, reference=2).predict_proba_ci(X)
    assert_allclose_scaled(b, a, 1e-7)
    monkeypatch.setattr(_inference, "_BLOCK_ENTRIES", 64 * 40)
    blocked = _inference.inference(model).predict_proba_ci(np.asfortranarray(X))
    assert_allclose_scaled(blocked, a, INFERENCE_INVARIANCE_RTOL)
    # far from the data the probabilities are near 0 or 1: the bounds stay in [0, 1]
    far = _inference.inference(model).predict_proba_ci(X * 40, alpha=0.01)
    assert (far >= 0).all() and (far <= 1).all()
    assert (far[..., 0] == 0).any() or (far[..., 1] == 1).any()


def test_intervals_through_the_estimator_and_errors(spector):
    X, y = spector
    clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    res = clf.inference()
    ci = res.predict_proba_ci(X)
    p = clf.predict_proba(X)
    assert ((ci[..., 0] <= p) & (p <= ci[..., 1])).all()
    with pytest.raises(ValueError, match="alpha"):
        res.predict_proba_ci(X, alpha=1.0)
    with pytest.raises(ValueError, match="2 features but the model was fitted with 3"):
        res.predict_proba_ci(np.ones((3, 2)))
    with pytest.raises(TypeError, match="numeric"):
        res.predict_proba_ci(np.array([["a", "b", "c"]]))


# --------------------------------------------------------------------------
# The forest plot
# --------------------------------------------------------------------------


def test_plot_draws_one_panel_per_class_with_the_intervals(anes96):
    import matplotlib.pyplot as plt

    X, y = anes96
    res = _inference.inference(fitted_model(X, y), reference=6, cov_type="HC0", X=X, y=y)
    axes = res.plot(alpha=0.1)
    try:
        assert len(axes) == 6
        assert [ax.get_title() for ax in axes] == [f"{c} vs 6" for c in range(6)]
        labels = [t.get_text() for t in axes[0].get_yticklabels()]
        assert labels == list(X.columns)                     # no intercept by default
        ci = res.conf_int(0.1)
        for i, ax in enumerate(axes):
            points = ax.lines[0]                            # the estimates
            np.testing.assert_allclose(points.get_xdata(), res.params[i, :5])
            segments = ax.collections[0].get_segments()     # the interval bars
            np.testing.assert_allclose([s[:, 0] for s in segments], ci[i, :5], rtol=1e-12)
        assert axes[0].yaxis_inverted()
        with_const = res.plot(include_intercept=True)
        assert [t.get_text() for t in with_const[0].get_yticklabels()][-1] == "const"
    finally:
        plt.close("all")


def test_plot_into_given_axes_and_errors(spector):
    import matplotlib.pyplot as plt

    X, y = spector
    res = logreg.LogisticRegression(penalty=None).fit(X, y).inference()
    fig, ax = plt.subplots()
    try:
        axes = res.plot(ax=ax)
        assert axes[0] is ax and ax.get_title() == "1 vs 0"
        _, two = plt.subplots(1, 2)
        with pytest.raises(ValueError, match="ax must hold 1 Axes"):
            res.plot(ax=two)
        with pytest.raises(ValueError, match="alpha"):
            res.plot(alpha=2)
    finally:
        plt.close("all")


def test_plot_without_matplotlib_says_how_to_install_it(spector, monkeypatch):
    X, y = spector
    res = _inference.inference(fitted_model(X, y))
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"logreg\[plot\]"):
        res.plot()


def test_import_logreg_does_not_import_matplotlib():
    code = "import sys, logreg; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
