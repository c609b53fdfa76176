"""Numerical extremes: large C, huge logits, extreme tol / C / weights, warnings
that are true, separation that does not hinge on rounding.

Oracles: the unpenalized fit (the limit of large C), scikit-learn's objective,
the NumPy softmax formulas against the kernel, exact power-of-two rescalings
of the same problem, and the mathematics of strict separation.
"""
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import logreg
from logreg import _kernel, _loss, _newton

from ._fits import make_classification, objective
from .test_solver import full_coef, separable, sklearn_fit
from .tolerances import (
    FUSED_RTOL,
    INVARIANCE_RTOL,
    LARGE_C_COEF_RTOL,
    OBJECTIVE_SLACK,
    SKLEARN_COEF_RTOL,
    assert_allclose_scaled,
)


def fit_without_warnings(X, y, sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return logreg.LogisticRegression(**params).fit(X, y, sample_weight)


# ---------------------------------------------------------------------------
# Large C: the softmax's flat direction
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def large_c_problem():
    X, y, _ = make_classification(n=5000, d=10, k=4, seed=3)
    return X, y, logreg.LogisticRegression(penalty=None).fit(X, y)


@pytest.mark.parametrize("C", [1e10, 1e16, 1e30, 1e100, 1e300])
def test_large_c_multinomial_reaches_the_unpenalized_optimum(large_c_problem, C):
    """With L2 the same vector added to every class changes only the tiny penalty:
    the solve must stay centred instead of drifting along it."""
    X, y, unpenalized = large_c_problem
    clf = fit_without_warnings(X, y, C=C)
    assert clf.n_iter_ > 0
    assert_allclose_scaled(full_coef(clf), full_coef(unpenalized), LARGE_C_COEF_RTOL)
    np.testing.assert_allclose(clf.coef_.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X), unpenalized.predict_proba(X),
                               rtol=0, atol=LARGE_C_COEF_RTOL)


def test_large_c_hessian_free_reaches_the_unpenalized_optimum():
    """The conjugate-gradient route (many features and classes) too."""
    X, y, _ = make_classification(n=6000, d=60, k=7, seed=1)
    unpenalized = logreg.LogisticRegression(penalty=None).fit(X, y)
    clf = fit_without_warnings(X, y, C=1e10)
    assert "cg" in [h["hessian"] for h in clf.history_]
    assert_allclose_scaled(full_coef(clf), full_coef(unpenalized), LARGE_C_COEF_RTOL)


def test_large_c_multinomial_matches_sklearn(large_c_problem):
    X, y, _ = large_c_problem
    clf = fit_without_warnings(X, y, C=1e10)
    # newton-cg: scikit-learn's newton-cholesky itself stops 1e-4 off here (its
    # objective, 2.8e13, cannot resolve the difference)
    sk = SkLogisticRegression(C=1e10, solver="newton-cg", tol=1e-12, max_iter=10000).fit(X, y)
    assert_allclose_scaled(full_coef(clf), full_coef(sk), SKLEARN_COEF_RTOL)


@pytest.mark.parametrize("k", [3, 4])
def test_unscaled_column_under_l2_is_not_damped_and_reaches_sklearn(k):
    """A column around 2e4 makes the flat direction's curvature 1/(C S) look
    singular next to its data curvature; it is not collinearity."""
    X, y, _ = make_classification(n=20000, d=5, k=k, seed=0)
    X[:, 2] = 2e4 + 1e3 * X[:, 2]
    clf = fit_without_warnings(X, y, C=1.0)
    assert all(h["damping"] == 0 for h in clf.history_)
    sk = sklearn_fit(X, y, 1.0)
    assert_allclose_scaled(full_coef(clf), full_coef(sk), SKLEARN_COEF_RTOL)


# ---------------------------------------------------------------------------
# Softmax rows sum to 1 for any finite logits
# ---------------------------------------------------------------------------

def test_softmax_of_tied_huge_logits():
    eta = np.array([[1e18, 1e18, 0.0], [-1e300, 1e300, 1e300], [5.0, 5.0, 5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = _loss.softmax(eta)
        logP = _loss.log_softmax(eta)
    np.testing.assert_allclose(P, [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [1 / 3] * 3], rtol=1e-15)
    np.testing.assert_allclose(logP[0, :2], -np.log(2.0), rtol=1e-15)


@pytest.mark.parametrize("magnitude", [1.0, 1e12, 1e18, 1e300])
def test_softmax_rows_sum_to_one_at_any_magnitude(magnitude):
    rng = np.random.default_rng(0)
    eta = rng.integers(-3, 4, size=(2000, 5)) * magnitude      # many ties
    eta[:10, 0] = np.inf                                        # overflowed logits
    eta[10:20, 1] = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = _loss.softmax(eta)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=8 * np.finfo(float).eps)


def test_kernel_softmax_agrees_with_numpy_at_tied_huge_logits():
    """The fused kernel's loss and gradient (its softmax) against the NumPy formulas."""
    rng = np.random.default_rng(1)
    n, k = 999, 3
    X = rng.integers(0, 2, size=(n, 2)).astype(np.float64)
    coef = np.array([[1e18, 0.0, 0.0], [1e18, 0.0, 0.0], [0.0, 1e18, 0.0]])   # eta ties at 1e18
    y = rng.integers(0, k, size=n).astype(np.intp)
    w = rng.uniform(0.5, 2.0, size=n)
    loss, grad, _ = _kernel.loss_gradient_pairs(X, y, w, coef, True, 1)
    loss_np, grad_np = _loss.loss_gradient(X, y, w, coef, True)
    assert_allclose_scaled(grad, grad_np, FUSED_RTOL[np.dtype(np.float64)])
    np.testing.assert_allclose(loss, loss_np, rtol=FUSED_RTOL[np.dtype(np.float64)])
    # the intercept column of the gradient is sum_n w_n (p_n - onehot): rows of P sum to 1
    np.testing.assert_allclose(grad[:, -1].sum(), 0.0, atol=1e-12 * w.sum())


@pytest.mark.parametrize("k", [2, 3, 4])
def test_hugely_scaled_features_reach_sklearns_objective(k):
    X, y, _ = make_classification(n=500, d=4, k=k, seed=5)
    X = X * 1e12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = logreg.LogisticRegression(C=1.0).fit(X, y)
    sk = SkLogisticRegression(C=1.0, solver="lbfgs", tol=1e-12, max_iter=10000).fit(X, y)
    assert objective(clf, X, y) <= objective(sk, X, y) * (1 + OBJECTIVE_SLACK)
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=8 * np.finfo(float).eps)


def test_dask_predictions_use_the_same_softmax():
    da = pytest.importorskip("dask.array")
    X, y, _ = make_classification(n=300, d=3, k=3, seed=6)
    clf = logreg.LogisticRegression().fit(X, y)
    clf.coef_ = clf.coef_ * 1e17          # logits of 1e17: tied and huge
    Xd = da.from_array(X, chunks=(100, 3))
    P = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(Xd).compute(scheduler="sync"), P)
    np.testing.assert_array_equal(clf.predict_log_proba(Xd).compute(scheduler="sync"),
                                  clf.predict_log_proba(X))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=8 * np.finfo(float).eps)


# ---------------------------------------------------------------------------
# Extreme tol, C and sample weights: a named ValueError or a correct fit, no
# leaked warning
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("tol", [1e151, 1e300])
def test_huge_tol_stops_at_the_start(k, tol):
    X, y, _ = make_classification(n=200, d=3, k=k, seed=7)
    clf = fit_without_warnings(X, y, tol=tol)
    start = logreg.LogisticRegression(max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", logreg.ConvergenceWarning)
        start.fit(X, y)
    assert clf.n_iter_ == 0
    np.testing.assert_array_equal(full_coef(clf), full_coef(start))


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("exponent", [-1070, -700, 700, 1020])
def test_weights_scaled_by_a_power_of_two_give_the_same_fit(k, exponent):
    """``C sum w CE``: scaling w by 2^e and C by 2^-e is the same problem; near the
    ends of the float64 range (subnormal weights, sums past 1e308) too."""
    X, y, w = make_classification(n=300, d=4, k=k, seed=8, weighted=True)
    w = np.round(w * 8) / 8              # exact at 2^-1070 too (multiples of 2^-3 <= 24)
    for penalty, C in ((None, 1.0), ("l2", 1.0)):
        ref = fit_without_warnings(X, y, w, penalty=penalty, C=C)
        with np.errstate(over="ignore"):
            C_scaled = np.ldexp(C, -exponent)
        if not np.isfinite(C_scaled):
            continue                     # C 2^1070 is no float: not the same problem
        clf = fit_without_warnings(X, y, np.ldexp(w, exponent), penalty=penalty, C=C_scaled)
        assert_allclose_scaled(full_coef(clf), full_coef(ref), INVARIANCE_RTOL)


@pytest.mark.parametrize("k", [2, 3])
def test_inference_state_is_in_the_callers_weight_units(k):
    X, y, w = make_classification(n=300, d=4, k=k, seed=15, weighted=True)
    ref = fit_without_warnings(X, y, w, penalty=None)._inference_state_
    big = fit_without_warnings(X, y, np.ldexp(w, 600), penalty=None)._inference_state_
    np.testing.assert_allclose(big["hessian"], np.ldexp(ref["hessian"], 600), rtol=1e-12)
    np.testing.assert_allclose(big["loglike"], np.ldexp(ref["loglike"], 600), rtol=1e-12)
    np.testing.assert_allclose(big["nobs"], np.ldexp(ref["nobs"], 600), rtol=1e-12)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("C, weight", [(1.0, 5e-322), (5e-324, 1.0), (1e-300, 1e-300)])
def test_penalty_beyond_float64_range_is_a_value_error(k, C, weight):
    X, y, _ = make_classification(n=300, d=4, k=k, seed=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"C \* sum\(sample_weight\) = .* too small"):
            logreg.LogisticRegression(C=C).fit(X, y, np.full(len(y), weight))


@pytest.mark.parametrize("k", [2, 3])
def test_weights_spanning_400_decades_fit_without_numpy_warnings(k):
    X, y, _ = make_classification(n=300, d=4, k=k, seed=10)
    w = 10.0 ** np.random.default_rng(0).uniform(-200, 200, size=len(y))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        clf = logreg.LogisticRegression().fit(X, y, w)
    assert not [r for r in rec if issubclass(r.category, RuntimeWarning)], rec
    assert np.all(np.isfinite(full_coef(clf)))
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


@pytest.mark.parametrize("k", [2, 3])
def test_c_1e300_is_the_unpenalized_fit_without_warnings(k):
    X, y, _ = make_classification(n=300, d=4, k=k, seed=11)
    clf = fit_without_warnings(X, y, C=1e300)
    ref = fit_without_warnings(X, y, penalty=None)
    assert_allclose_scaled(full_coef(clf), full_coef(ref), LARGE_C_COEF_RTOL)


# ---------------------------------------------------------------------------
# Warnings: true, naming the criterion, with a remedy that helps
# ---------------------------------------------------------------------------

def test_singular_hessian_under_l2_blames_the_weak_penalty_not_a_missing_one():
    X, y, _ = make_classification(n=300, d=3, k=3, seed=31)
    Xc = np.column_stack([X, X[:, 0] - 2.0 * X[:, 1]])      # exactly collinear
    with pytest.warns(logreg.SingularHessianWarning) as rec:
        logreg.LogisticRegression(C=1e12).fit(Xc, y)
    message = str(rec[0].message)
    assert "L2 penalty at C * sum(sample_weight) = 3e+14" in message
    assert "smaller C" in message and "use an L2 penalty" not in message


def test_convergence_warning_states_each_criterion():
    X, y, _ = make_classification(n=300, d=5, k=3, scale=3.0)
    with pytest.warns(logreg.ConvergenceWarning) as rec:
        logreg.LogisticRegression(C=100.0, max_iter=1).fit(X, y)
    message = str(rec[0].message)
    assert "max|gradient| = " in message and "> tol = 1e-08 (NOT met)" in message
    assert "half the squared Newton decrement = " in message
    assert "tol**2 = 1e-16 (NOT met)" in message
    assert "Remedy: increase max_iter" in message


def test_criteria_name_the_one_that_failed():
    """The case the user met: gradient below tol, decrement not."""
    from types import SimpleNamespace

    problem, iterate = SimpleNamespace(tol=1e-8), SimpleNamespace(grad_max=5.6e-13)
    step = SimpleNamespace(decrement=4e-14, decrement_error=0.0)
    text = _newton._criteria(problem, iterate, step)
    assert "max|gradient| = 5.6e-13 <= tol = 1e-08 (met)" in text
    assert "decrement = 2e-14 > tol**2 = 1e-16 (NOT met)" in text


@pytest.mark.parametrize("C", [1e-4, 1.0, 1e4, 1e12, 1e30])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_no_warning_on_well_posed_fits(C, k):
    X, y, w = make_classification(n=1000, d=6, k=k, seed=12, weighted=True)
    X[:, 0] *= 1e3                      # units differ: still well posed
    fit_without_warnings(X, y, w, C=C)


# ---------------------------------------------------------------------------
# Separation: proved by the loss, not by the last bits of the last step
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("k", [2, 3])
def test_strict_separation_is_detected_without_the_step_heuristic(k, monkeypatch):
    """The step test reads the last Newton step, which rounding blurs at the
    loss's noise floor (a -O0 build missed separation); the loss certificate
    alone must find it."""
    monkeypatch.setattr(_newton, "SEPARATION_STEP_RATIO", np.inf)    # never fires
    X, y = separable(k)
    with pytest.warns(logreg.PerfectSeparationWarning):
        clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    assert clf.converged_ is False


@pytest.mark.parametrize("weighted", [False, True])
def test_dask_fits_detect_strict_separation_without_the_step_heuristic(weighted, monkeypatch):
    dask = pytest.importorskip("dask")
    import dask.array as da

    monkeypatch.setattr(_newton, "SEPARATION_STEP_RATIO", np.inf)    # never fires
    X, y = separable(3)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(y)) if weighted else None
    wd = None if w is None else da.from_array(w, chunks=50)
    with dask.config.set(scheduler="sync"), pytest.warns(logreg.PerfectSeparationWarning):
        logreg.LogisticRegression(penalty=None).fit(da.from_array(X, chunks=(50, 3)),
                                                    da.from_array(y, chunks=50), wd)


@pytest.mark.parametrize("k", [2, 3])
def test_separation_is_reported_when_max_iter_ends_the_fit(k):
    X, y = separable(k)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        logreg.LogisticRegression(penalty=None, max_iter=12).fit(X, y)
    assert [r.category for r in rec] == [logreg.PerfectSeparationWarning]


def test_separation_certificate_uses_the_smallest_weight():
    """One misclassified sample of weight 1e-3 costs >= 1e-3 log 2: the loss
    cannot certify strict separation then, and must not."""
    X, y, _ = make_classification(n=300, d=3, k=3, seed=13)
    w = np.full(len(y), 1e-3)
    clf = fit_without_warnings(X, y, w, penalty=None)
    assert clf.converged_ is True


@pytest.mark.parametrize("level", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_separation_is_detected_with_every_instruction_set(level, k):
    """The kernel's rounding differs by instruction set (and by -O0 / -O2): the
    step test alone missed k=3 and k=4 on the baseline loops."""
    from logreg import _hessian

    try:
        _hessian._set_simd_level(level)
        for seed in range(4):
            X, y = separable(k, seed=seed)
            with pytest.warns(logreg.PerfectSeparationWarning):
                logreg.LogisticRegression(penalty=None).fit(X, y)
    finally:
        _hessian._set_simd_level(None)


@pytest.mark.parametrize("weight", [5e-322, 1e307])
def test_dask_weights_whose_sum_leaves_float64_are_a_value_error(weight):
    """The Dask path does not rescale the weights (that would be one more pass):
    a named ValueError, no leaked NumPy warning."""
    dask = pytest.importorskip("dask")
    import dask.array as da

    X, y, _ = make_classification(n=300, d=4, k=3, seed=14)
    w = np.full(len(y), weight)
    with dask.config.set(scheduler="sync"), warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"sum\(sample_weight\) = .* outside float64"):
            logreg.LogisticRegression(penalty=None).fit(
                da.from_array(X, chunks=(100, 4)), da.from_array(y, chunks=100),
                da.from_array(w, chunks=100))
