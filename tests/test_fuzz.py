"""Property-based sweep of every input of ``fit``, ``predict_proba`` and ``hessian``.

The contract, for any input: a ``ValueError``/``TypeError`` that names the
problem, or finite coefficients and probability rows that sum to one; never
another exception, a non-finite result or a leaked warning (logreg's own
named warnings are part of the contract, NumPy's ``RuntimeWarning`` is not).
Derandomized with a bounded example count, so CI runs the same sweep in a
bounded time on every machine.
"""
import warnings

import numpy as np
import pytest
import scipy.special
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import logreg
from logreg import ConvergenceWarning, SingularHessianWarning

from .tolerances import PROBA_ROW_SUM_ATOL

SWEEP = settings(max_examples=1500, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# logreg's own warnings name a cause and a remedy: they are allowed
NAMED_WARNINGS = (ConvergenceWarning, SingularHessianWarning, logreg.InferenceWarning)

magnitudes = st.sampled_from([1e-300, 1e-12, 1.0, 1e6, 1e12, 1e18, 1e100, 1e300])
finite_values = st.floats(-1e6, 1e6, allow_nan=False, width=64)
special_values = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324])


@st.composite
def matrices(draw):
    n = draw(st.integers(1, 30))
    d = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
    X = draw(hnp.arrays(np.float64, (n, d), elements=finite_values))
    X = X * draw(magnitudes)
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
        X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = draw(special_values)
    with np.errstate(all="ignore"):
        X = X.astype(dtype) if dtype != np.int64 else np.clip(X, -2**62, 2**62).astype(dtype)
    if draw(st.booleans()):
        X = np.asfortranarray(X)
    return X


@st.composite
def labels(draw, n):
    kind = draw(st.sampled_from(["int", "str", "float", "bool", "continuous"]))
    k = draw(st.integers(1, 4))
    codes = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    if kind == "str":
        return np.array(["alpha", "beta", "gamma", "delta"])[codes]
    if kind == "float":
        return codes.astype(np.float64) * 2.0 - 1.0
    if kind == "bool":
        return codes % 2 == 1
    if kind == "continuous":
        return codes + 0.5
    return codes * 7 - 3


@st.composite
def weights(draw, n):
    kind = draw(st.sampled_from(["none", "ones", "random", "extreme", "bad"]))
    if kind == "none":
        return None
    if kind == "ones":
        return np.ones(n)
    w = np.array(draw(st.lists(st.floats(0, 10, allow_nan=False), min_size=n, max_size=n)))
    if kind == "extreme":
        w = w * draw(magnitudes)
    if kind == "bad":
        w[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-1.0, np.nan, np.inf]))
    return w


params = st.fixed_dictionaries({
    "C": st.sampled_from([1e-8, 1e-2, 1.0, 1e4, 1e12, 1e30, 1e300, np.inf]),
    "fit_intercept": st.booleans(),
    "tol": st.sampled_from([1e-12, 1e-8, 1e-4, 1.0, 1e300]),
    "max_iter": st.sampled_from([1, 3, 100]),
    "class_weight": st.sampled_from([None, "balanced"]),
})


def _check_probabilities(P):
    assert np.all(np.isfinite(P))
    assert np.all((P >= 0) & (P <= 1))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=PROBA_ROW_SUM_ATOL)


@pytest.mark.filterwarnings("error")
@SWEEP
@given(data=st.data())
def test_fit_and_predict_keep_the_contract(data):
    X = data.draw(matrices())
    n = X.shape[0]
    y = data.draw(labels(n))
    w = data.draw(weights(n))
    clf = logreg.LogisticRegression(**data.draw(params))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", NAMED_WARNINGS)
        try:
            clf.fit(X, y, sample_weight=w)
        except (ValueError, TypeError) as exc:
            assert str(exc), "an error must say what is wrong"
            event(f"fit: {type(exc).__name__}")
            return
        event("fit: fitted")
        assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
        _check_probabilities(clf.predict_proba(X))
        assert set(np.unique(clf.predict(X))) <= set(clf.classes_)


@pytest.mark.filterwarnings("error")
@SWEEP
@given(data=st.data())
def test_hessian_keeps_the_contract(data):
    X = data.draw(matrices())
    n = X.shape[0]
    k = data.draw(st.integers(2, 4))
    logits = data.draw(hnp.arrays(np.float64, (n, k), elements=finite_values))
    with np.errstate(over="ignore"):
        P = scipy.special.softmax(logits * data.draw(magnitudes), axis=1)
    if data.draw(st.integers(0, 4)) == 0:
        P = P + data.draw(st.sampled_from([1e-3, -1e-3, np.nan]))
    w = data.draw(weights(n))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            H = logreg.hessian(X, P, w, fit_intercept=data.draw(st.booleans()))
        except (ValueError, TypeError) as exc:
            assert str(exc)
            event(f"hessian: {type(exc).__name__}")
            return
        event("hessian: computed")
    assert np.all(np.isfinite(H))
    np.testing.assert_array_equal(H, H.T)
