"""The Newton solver through the estimator: optima, invariances, hard cases.

Oracles: scikit-learn's newton-cholesky at tol=1e-12 (same objective, same C),
statsmodels' MNLogit/Logit for unpenalized fits, logreg's own fits of
mathematically equivalent problems, and the seed's gradient descent.
"""
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn import datasets
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler

import logreg
from logreg import _loss, reference

from ._fits import make_classification, objective
from .tolerances import (
    CHO_SOLVE_RTOL,
    COLLINEAR_PROBA_ATOL,
    DEFAULT_TOL_COEF_RTOL,
    GD_REFERENCE_RTOL,
    INVARIANCE_RTOL,
    KRONECKER_HESSIAN_RTOL,
    KRONECKER_SOLVE_RTOL,
    OBJECTIVE_SLACK,
    SKLEARN_COEF_RTOL,
    STATSMODELS_COEF_RTOL,
    STATSMODELS_PROBA_ATOL,
    assert_allclose_scaled,
    rtol_for,
)


def full_coef(model):
    return np.column_stack([model.coef_, model.intercept_])


def sklearn_fit(X, y, C, fit_intercept=True, sample_weight=None, class_weight=None):
    sk = SkLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000,
                              fit_intercept=fit_intercept, class_weight=class_weight)
    return sk.fit(X, y, sample_weight=sample_weight)


def assert_same_optimum_as_sklearn(ours, sk, X, y, w):
    assert_allclose_scaled(full_coef(ours), full_coef(sk), SKLEARN_COEF_RTOL)
    f_ours, f_sk = objective(ours, X, y, w), objective(sk, X, y, w)
    assert f_ours <= f_sk * (1 + OBJECTIVE_SLACK), (f_ours, f_sk)


# ---------------------------------------------------------------------------
# Same optimum as scikit-learn
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_same_optimum_as_sklearn(C, fit_intercept, k, weighted):
    X, y, w = make_classification(n=300, d=5, k=k, seed=k, weighted=weighted)
    X[:, 0] += 2.0      # an off-centre feature makes the intercept matter
    ours = logreg.LogisticRegression(C=C, fit_intercept=fit_intercept).fit(X, y, w)
    sk = sklearn_fit(X, y, C, fit_intercept, w)
    assert ours.coef_.shape == sk.coef_.shape
    assert_same_optimum_as_sklearn(ours, sk, X, y, w)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 3.0, 2: 0.5}])
def test_same_optimum_as_sklearn_with_class_weight(class_weight):
    X, y, w = make_classification(n=300, d=4, k=3, seed=7, weighted=True)
    y[y == 1] = 0       # unbalanced classes
    y[:5] = 1
    ours = logreg.LogisticRegression(class_weight=class_weight).fit(X, y, w)
    sk = sklearn_fit(X, y, 1.0, sample_weight=w, class_weight=class_weight)
    assert_allclose_scaled(full_coef(ours), full_coef(sk), SKLEARN_COEF_RTOL)


@pytest.mark.parametrize("name,C", [("iris", 1.0), ("iris", 100.0), ("wine", 0.1),
                                    ("breast_cancer", 1.0), ("breast_cancer", 0.05),
                                    ("digits", 1.0)])
def test_same_optimum_as_sklearn_on_real_datasets(name, C):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = logreg.LogisticRegression(C=C).fit(X, y)
    sk = sklearn_fit(X, y, C)
    assert_same_optimum_as_sklearn(ours, sk, X, np.searchsorted(sk.classes_, y), None)
    assert ours.n_iter_ <= 15      # Newton: a handful of iterations


def test_unpenalized_same_optimum_as_sklearn_c_inf():
    X, y, _ = make_classification(n=400, d=4, k=3, seed=3)
    ours = logreg.LogisticRegression(penalty=None).fit(X, y)
    sk = sklearn_fit(X, y, np.inf)
    assert_allclose_scaled(full_coef(ours), full_coef(sk), SKLEARN_COEF_RTOL)
    same = logreg.LogisticRegression(C=np.inf).fit(X, y)
    np.testing.assert_array_equal(full_coef(same), full_coef(ours))


# ---------------------------------------------------------------------------
# statsmodels: unpenalized maximum likelihood
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("k,fit_intercept", [(3, True), (5, True), (4, False)])
def test_unpenalized_matches_statsmodels_mnlogit(k, fit_intercept):
    X, y, _ = make_classification(n=500, d=4, k=k, seed=11)
    X[:, 1] += 1.0
    ours = logreg.LogisticRegression(penalty=None, fit_intercept=fit_intercept).fit(X, y)
    exog = sm.add_constant(X, prepend=False) if fit_intercept else X  # constant last, like ours
    res = sm.MNLogit(y, exog).fit(method="newton", maxiter=100, disp=0)
    np.testing.assert_allclose(ours.predict_proba(X), res.predict(exog),
                               rtol=0, atol=STATSMODELS_PROBA_ATOL)
    # statsmodels uses class 0 as the reference: its params are coef_i - coef_0
    coef = full_coef(ours) if fit_intercept else ours.coef_
    assert_allclose_scaled((coef[1:] - coef[0]).T, res.params, STATSMODELS_COEF_RTOL)
    state = ours._inference_state_
    np.testing.assert_allclose(state["loglike"], res.llf, rtol=1e-10)
    if fit_intercept:   # statsmodels' llnull is the intercept-only model, as ours
        np.testing.assert_allclose(state["loglike_null"], res.llnull, rtol=1e-10)


def test_unpenalized_binary_matches_statsmodels_logit():
    X, y, _ = make_classification(n=500, d=4, k=2, seed=12)
    ours = logreg.LogisticRegression(penalty=None).fit(X, y)
    exog = sm.add_constant(X, prepend=False)
    res = sm.Logit(y, exog).fit(method="newton", maxiter=100, disp=0)
    np.testing.assert_allclose(ours.predict_proba(X)[:, 1], res.predict(exog),
                               rtol=0, atol=STATSMODELS_PROBA_ATOL)
    assert_allclose_scaled(full_coef(ours)[0], res.params, STATSMODELS_COEF_RTOL)
    # the Hessian kept for inference is the observed information, statsmodels' -hessian
    H = ours._inference_state_["hessian"]
    assert_allclose_scaled(H, -res.model.hessian(res.params), 1e-8)


# ---------------------------------------------------------------------------
# Parametrization, accuracy, diagnostics
# ---------------------------------------------------------------------------

def test_symmetric_parametrization():
    X, y, _ = make_classification(n=300, d=3, k=4, seed=5)
    free = logreg.LogisticRegression(penalty=None).fit(X, y)
    np.testing.assert_allclose(full_coef(free).sum(axis=0), 0.0, atol=1e-12)
    l2 = logreg.LogisticRegression(C=1.0).fit(X, y)
    np.testing.assert_allclose(l2.intercept_.sum(), 0.0, atol=1e-12)


@pytest.mark.parametrize("name", ["iris", "breast_cancer", "wine"])
def test_default_tol_reaches_the_optimum_to_about_1e_8(name):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for C in (1.0, 100.0):
        default = logreg.LogisticRegression(C=C).fit(X, y)
        tight = logreg.LogisticRegression(C=C, tol=1e-13).fit(X, y)
        assert_allclose_scaled(full_coef(default), full_coef(tight), DEFAULT_TOL_COEF_RTOL)


def test_history_records_each_iterate_and_quadratic_convergence():
    X, y, _ = make_classification(n=400, d=5, k=3, seed=2)
    clf = logreg.LogisticRegression(C=10.0).fit(X, y)
    hist = clf.history_
    assert len(hist) == clf.n_iter_ + 1
    assert [h["iteration"] for h in hist] == list(range(clf.n_iter_ + 1))
    assert set(hist[0]) == {"iteration", "objective", "grad_max", "decrement", "step_size",
                            "damping", "seconds", "passes", "hessian"}
    objective_values = [h["objective"] for h in hist]
    assert all(b <= a + 1e-15 for a, b in zip(objective_values, objective_values[1:]))
    assert hist[-1]["grad_max"] <= clf.tol and hist[-1]["step_size"] == 0.0
    grads = [h["grad_max"] for h in hist]
    # quadratic convergence: the last decade-drops accelerate
    assert grads[-1] < 1e-3 * grads[-2] or grads[-1] < 1e-14
    assert all(h["seconds"] >= 0 for h in hist)


def test_verbose_prints_one_line_per_iteration(capsys):
    X, y, _ = make_classification(n=100, d=3, k=3)
    clf = logreg.LogisticRegression(verbose=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert "objective" in lines[0] and "max|grad|" in lines[0]
    assert len(lines) == clf.n_iter_ + 2


def test_max_iter_reached_warns_and_returns_finite_coefficients():
    X, y, _ = make_classification(n=300, d=5, k=3, scale=3.0)
    with pytest.warns(logreg.ConvergenceWarning, match="did not converge in max_iter=1"):
        clf = logreg.LogisticRegression(C=100.0, max_iter=1).fit(X, y)
    assert clf.n_iter_ == 1 and np.all(np.isfinite(clf.coef_))
    assert clf._inference_state_ is None


# ---------------------------------------------------------------------------
# Invariances
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("k", [2, 3])
def test_integer_weights_equal_repeated_rows(k):
    X, y, _ = make_classification(n=120, d=4, k=k, seed=21)
    reps = np.random.default_rng(0).integers(0, 4, size=len(y))
    reps[:k] = 1
    weighted = logreg.LogisticRegression(C=0.5).fit(X, y, sample_weight=reps)
    repeated = logreg.LogisticRegression(C=0.5).fit(np.repeat(X, reps, axis=0),
                                                    np.repeat(y, reps))
    assert_allclose_scaled(full_coef(weighted), full_coef(repeated), INVARIANCE_RTOL)


@pytest.mark.parametrize("penalty", ["l2", None])
def test_zero_weight_equals_row_removed(penalty):
    X, y, _ = make_classification(n=150, d=4, k=3, seed=22)
    w = np.ones(len(y))
    w[::7] = 0.0
    zero = logreg.LogisticRegression(penalty=penalty).fit(X, y, sample_weight=w)
    removed = logreg.LogisticRegression(penalty=penalty).fit(X[w > 0], y[w > 0])
    assert_allclose_scaled(full_coef(zero), full_coef(removed), INVARIANCE_RTOL)


def test_permuting_class_labels_permutes_coef():
    X, y, _ = make_classification(n=200, d=3, k=4, seed=23)
    perm = np.array([2, 0, 3, 1])
    base = logreg.LogisticRegression().fit(X, y)
    permuted = logreg.LogisticRegression().fit(X, perm[y])
    # class i of base is class perm[i] of permuted
    assert_allclose_scaled(full_coef(permuted)[perm], full_coef(base), INVARIANCE_RTOL)


def test_binary_label_swap_negates_coef():
    X, y, _ = make_classification(n=200, d=3, k=2, seed=24)
    base = logreg.LogisticRegression().fit(X, y)
    swapped = logreg.LogisticRegression().fit(X, 1 - y)
    assert_allclose_scaled(full_coef(swapped), -full_coef(base), INVARIANCE_RTOL)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("penalty", ["l2", None])
def test_warm_start_from_the_optimum_takes_at_most_one_iteration(k, penalty):
    X, y, _ = make_classification(n=300, d=4, k=k, seed=25)
    clf = logreg.LogisticRegression(penalty=penalty, warm_start=True).fit(X, y)
    first = full_coef(clf)
    assert clf.n_iter_ >= 2
    clf.fit(X, y)
    assert clf.n_iter_ <= 1
    assert_allclose_scaled(full_coef(clf), first, INVARIANCE_RTOL)


def test_float32_input_reaches_the_float64_optimum():
    X, y, _ = make_classification(n=300, d=4, k=3, seed=26, dtype=np.float32)
    f32 = logreg.LogisticRegression().fit(X, y)
    f64 = logreg.LogisticRegression().fit(X.astype(np.float64), y)
    assert_allclose_scaled(full_coef(f32), full_coef(f64), INVARIANCE_RTOL)


def test_fortran_ordered_X_gives_the_same_fit():
    X, y, _ = make_classification(n=300, d=4, k=3, seed=27)
    c = logreg.LogisticRegression().fit(X, y)
    f = logreg.LogisticRegression().fit(np.asfortranarray(X), y)
    assert_allclose_scaled(full_coef(f), full_coef(c), INVARIANCE_RTOL)


def test_n_threads_does_not_change_the_fit():
    X, y, _ = make_classification(n=3000, d=6, k=4, seed=28)
    one = logreg.LogisticRegression(n_threads=1).fit(X, y)
    two = logreg.LogisticRegression(n_threads=2).fit(X, y)
    assert_allclose_scaled(full_coef(two), full_coef(one), INVARIANCE_RTOL)


def test_concurrent_fits_in_threads_are_correct():
    problems = [make_classification(n=800, d=5, k=k, seed=s, weighted=True)
                for s, k in enumerate([2, 3, 4, 3, 2, 5])]

    def fit(problem):
        X, y, w = problem
        return full_coef(logreg.LogisticRegression(C=2.0, n_threads=2).fit(X, y, w))

    expected = [fit(p) for p in problems]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(fit, problems * 2))
    for got, want in zip(results, expected * 2):
        assert_allclose_scaled(got, want, INVARIANCE_RTOL)


# ---------------------------------------------------------------------------
# Hard cases: separation, collinearity, extreme scales
# ---------------------------------------------------------------------------

def separable(k, n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    if k == 2:
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    else:
        y = np.argmax(X[:, :k] if k <= 3 else X @ rng.normal(size=(3, k)), axis=1)
    return X, y


@pytest.mark.parametrize("k", [2, 3])
def test_perfect_separation_warns_and_stays_finite_in_bounded_time(k):
    X, y = separable(k)
    start = time.perf_counter()
    with pytest.warns(logreg.PerfectSeparationWarning, match="separable.*Remedy"):
        clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    assert time.perf_counter() - start < 10.0
    assert clf.n_iter_ < clf.max_iter
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    assert clf.score(X, y) == 1.0
    assert clf.converged_ is False


def test_quasi_separation_warns():
    """One feature separates a subset of the data perfectly (quasi-complete separation)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    X[:, 2] = np.where(y == 1, np.abs(X[:, 2]), -np.abs(X[:, 2]))
    X[:60, 2] = 0.0
    with pytest.warns(logreg.PerfectSeparationWarning):
        clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    assert np.all(np.isfinite(clf.coef_))


@pytest.mark.parametrize("k", [2, 3])
def test_separable_data_with_a_penalty_is_a_normal_fit(k):
    X, y = separable(k)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = logreg.LogisticRegression(C=1.0).fit(X, y)
    sk = sklearn_fit(X, y, 1.0)
    assert_allclose_scaled(full_coef(clf), full_coef(sk), SKLEARN_COEF_RTOL)


@pytest.mark.parametrize("k", [2, 3])
def test_collinear_columns_warn_and_still_fit_sensibly(k):
    X, y, _ = make_classification(n=300, d=3, k=k, seed=31)
    Xc = np.column_stack([X, X[:, 0] - 2.0 * X[:, 1]])      # exactly collinear
    with pytest.warns(logreg.SingularHessianWarning, match="collinear.*Remedy"):
        clf = logreg.LogisticRegression(penalty=None).fit(Xc, y)
    assert np.all(np.isfinite(clf.coef_))
    # The probabilities are identifiable: the same as without the redundant column...
    reduced = logreg.LogisticRegression(penalty=None).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(Xc), reduced.predict_proba(X),
                               rtol=0, atol=COLLINEAR_PROBA_ATOL)
    # ...and as scikit-learn's (lbfgs: newton-cholesky itself falls back on such data).
    sk = SkLogisticRegression(C=np.inf, solver="lbfgs", tol=1e-12, max_iter=10000).fit(Xc, y)
    np.testing.assert_array_equal(clf.predict(Xc), sk.predict(Xc))
    np.testing.assert_allclose(clf.predict_proba(Xc), sk.predict_proba(Xc), rtol=0, atol=1e-4)
    # Damping is visible in the diagnostics.
    assert any(h["damping"] > 0 for h in clf.history_)


def test_constant_column_without_penalty_is_damped_not_crashed():
    X, y, _ = make_classification(n=200, d=3, k=3, seed=32)
    X[:, 1] = 0.0
    with pytest.warns(logreg.SingularHessianWarning):
        clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    assert np.all(np.isfinite(clf.coef_))
    np.testing.assert_allclose(clf.coef_[:, 1], 0.0, atol=1e-8)


def test_badly_scaled_features_converge():
    X, y, _ = make_classification(n=400, d=3, k=3, seed=33)
    scales = np.array([1e-4, 1.0, 1e4])
    # tol well below the 1e-9 compared: Newton is affine invariant, but the two
    # fits stop at different iterates (the gradient is not scale-free)
    clf = logreg.LogisticRegression(C=np.inf, tol=1e-11).fit(X * scales, y)
    base = logreg.LogisticRegression(C=np.inf, tol=1e-11).fit(X, y)
    np.testing.assert_allclose(clf.coef_ * scales, base.coef_, rtol=1e-7)
    np.testing.assert_allclose(clf.predict_proba(X * scales), base.predict_proba(X),
                               rtol=0, atol=1e-9)


def test_extreme_feature_values_do_not_overflow():
    X, y, _ = make_classification(n=200, d=3, k=3, seed=34)
    X[0] = [1e150, -1e150, 1e150]
    # One row dominates the Hessian by 1e300: numerically singular, visibly damped.
    with pytest.warns(logreg.SingularHessianWarning):
        clf = logreg.LogisticRegression(C=1.0).fit(X, y)
    assert np.all(np.isfinite(clf.coef_))
    P = clf.predict_proba(X)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


# ---------------------------------------------------------------------------
# Statistical-inference state
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("k", [2, 3])
def test_inference_state_holds_the_hessian_at_the_final_coefficients(k):
    X, y, w = make_classification(n=300, d=3, k=k, seed=41, weighted=True)
    clf = logreg.LogisticRegression(penalty=None).fit(X, y, w)
    state = clf._inference_state_
    assert set(state) == {"hessian", "loglike", "loglike_null", "nobs", "n_iter",
                          "converged", "fit_intercept", "data_fingerprint"}
    coef = full_coef(clf)
    binary = k == 2
    lgh = _loss.binary_loss_gradient_hessian if binary else _loss.loss_gradient_hessian
    L, _, pairs = lgh(X, y, w, coef, True, 1)
    H = _loss.hessian_from_pairs(pairs, coef.shape[0], coef.shape[1], binary)
    m = coef.size
    assert state["hessian"].shape == (m, m) and state["hessian"].dtype == np.float64
    assert_allclose_scaled(state["hessian"], H, 1e-10)
    np.testing.assert_allclose(state["loglike"], -L, rtol=1e-12)
    counts = np.bincount(y, weights=w)
    np.testing.assert_allclose(state["loglike_null"],
                               np.sum(counts * np.log(counts / counts.sum())), rtol=1e-12)
    assert state["nobs"] == pytest.approx(w.sum())
    assert state["n_iter"] == clf.n_iter_ and state["converged"] is True
    assert state["fit_intercept"] is True


def test_penalized_fits_have_no_inference_state():
    X, y, _ = make_classification(n=100, d=3, k=3)
    assert logreg.LogisticRegression(C=1.0).fit(X, y)._inference_state_ is None


# ---------------------------------------------------------------------------
# solver="gd": the seed's gradient descent
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gd_agrees_with_reference_gradient_descent(fit_intercept):
    X, y, w = make_classification(n=100, d=3, k=3, seed=51, weighted=True)
    lr, steps = 2e-3, 40
    with pytest.warns(logreg.ConvergenceWarning, match="Gradient descent"):
        clf = logreg.LogisticRegression(penalty=None, solver="gd", learning_rate=lr,
                                        max_iter=steps, fit_intercept=fit_intercept,
                                        ).fit(X, y, w)
    W = reference.fit(X, y, method="gd", iterations=steps, learning_rate=lr,
                      sample_weight=w, fit_intercept=fit_intercept)
    ours = full_coef(clf) if fit_intercept else clf.coef_
    assert clf.n_iter_ == steps
    assert_allclose_scaled(ours, W.T, GD_REFERENCE_RTOL)


def test_gd_binary_is_the_seeds_two_column_descent_at_twice_the_rate():
    X, y, w = make_classification(n=100, d=3, k=2, seed=52, weighted=True)
    lr, steps = 1e-3, 30
    with pytest.warns(logreg.ConvergenceWarning):
        clf = logreg.LogisticRegression(penalty=None, solver="gd", learning_rate=2 * lr,
                                        max_iter=steps).fit(X, y, w)
    W = reference.fit(X, y, method="gd", iterations=steps, learning_rate=lr,
                      sample_weight=w, fit_intercept=True)
    assert_allclose_scaled(full_coef(clf)[0], W[:, 1] - W[:, 0], GD_REFERENCE_RTOL)


def test_gd_auto_step_descends_towards_the_newton_optimum():
    X, y, _ = make_classification(n=200, d=3, k=3, seed=53)
    with pytest.warns(logreg.ConvergenceWarning, match="max_iter=20"):
        gd = logreg.LogisticRegression(solver="gd", max_iter=20).fit(X, y)
    newton = logreg.LogisticRegression().fit(X, y)
    f = [h["objective"] for h in gd.history_]
    assert all(b < a for a, b in zip(f, f[1:]))                # 1/L step: monotone
    assert gd.learning_rate_ > 0 and gd.n_iter_ == 20
    assert newton.history_[-1]["objective"] < f[-1] < f[0]
    long = logreg.LogisticRegression(solver="gd", max_iter=5000, tol=1e-6).fit(X, y)
    assert long.n_iter_ < 5000
    np.testing.assert_allclose(long.coef_, newton.coef_, atol=1e-4)


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [2.0, np.inf])
def test_first_iteration_solves_the_exact_system_through_its_kronecker_structure(
        k, fit_intercept, C, monkeypatch):
    """At zero slopes every row has the same probabilities: the Hessian is
    ``A (x) X~^T W X~``, and the shifted, penalized Newton system solved block by
    block (``KroneckerNewtonSystem``) must be the dense system from pair products."""
    from logreg import _oracle
    from logreg._curvature import KroneckerStart

    monkeypatch.setattr(_oracle, "SUBSAMPLE", 1)   # the Gram matrix of all rows: exact
    monkeypatch.setattr(_oracle, "SMALL_PASS_FLOPS", 0)    # approximations at any size
    X, y, w = make_classification(n=500, d=6, k=k, seed=3, weighted=True)
    oracle, problem, iterate = _start(X, y, w, k=k, C=C, fit_intercept=fit_intercept)
    assert oracle.pass_log == ["loss_gradient"]          # no pair products were made
    start = KroneckerStart(oracle, problem, from_subsample=False)
    assert start.prepare(iterate)
    system = start.system
    H = problem.newton_matrix(oracle.hessian(oracle.stats(iterate.coef)[2]))
    H, mu = problem.shift_free(H)
    assert list(system.mu.keys()) == problem.free.tolist()
    assert_allclose_scaled(np.array(list(system.mu.values())), mu, KRONECKER_HESSIAN_RTOL)
    r = np.random.default_rng(0).standard_normal(H.shape[0])
    assert_allclose_scaled(system.solve(r), np.linalg.solve(H, r), KRONECKER_SOLVE_RTOL)


def _start(X, y, w, *, k, C, fit_intercept=True):
    """``(oracle, problem, iterate)`` of a solve at its zero-slope start, after the
    first pass (without pair products)."""
    from logreg._newton import initial_coef
    from logreg._oracle import InMemoryOracle
    from logreg._state import Iterate, Problem

    oracle = InMemoryOracle(X, y, w, k=k, fit_intercept=fit_intercept, n_threads=1)
    coef0 = initial_coef(y, w, oracle.k, oracle.p, binary=oracle.binary,
                         fit_intercept=fit_intercept)
    stats = oracle.stats(coef0, hessian=False)
    problem = Problem(k=oracle.k, p=oracle.p, binary=oracle.binary,
                      fit_intercept=fit_intercept, C=C, tol=1e-8,
                      sum_weights=oracle.sum_weights)
    return oracle, problem, Iterate(problem, coef0, stats)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lower", [False, True])
def test_cho_solve_vector_matches_scipy_and_leaves_its_input(dtype, lower):
    import scipy.linalg

    from logreg._kronecker import cho_solve_vector

    rng = np.random.default_rng(1)
    A = rng.standard_normal((40, 60))
    H = (A @ A.T).astype(dtype)
    factor = scipy.linalg.cho_factor(H, lower=lower)
    r = rng.standard_normal(40).astype(dtype)
    kept = r.copy()
    x = cho_solve_vector(factor, r)
    assert x.dtype == dtype and np.array_equal(r, kept)
    expected = scipy.linalg.cho_solve(factor, r)
    assert_allclose_scaled(x, expected, rtol_for(dtype, CHO_SOLVE_RTOL))


def test_first_step_takes_the_subsample_gram_unless_it_preconditions_cg_or_is_singular(
        monkeypatch):
    from logreg import _oracle, _policy

    def first_step(X, y, curvature="auto"):
        """The Gram matrices asked for by the policy's first (Kronecker) step."""
        oracle, problem, iterate = _start(X, y, None, k=4, C=np.inf)   # no L2 to mask it
        policy = _policy.CurvaturePolicy(oracle, iterate.coef, curvature)
        policy.attach(problem)
        asked = []
        gram = oracle.gram
        oracle.gram = lambda *, subsample=False: asked.append(subsample) or gram(
            subsample=subsample)
        source = policy.source(iterate)
        assert source.kind == "kronecker" and source.system is not None
        return oracle, asked

    monkeypatch.setattr(_oracle, "SMALL_PASS_FLOPS", 0)    # approximations at any size
    X, y, _ = make_classification(n=20_000, d=5, k=4, seed=2)
    oracle, asked = first_step(X, y)
    assert oracle.subsample_stride > 1 and asked == [True]
    # a column that is zero on every subsampled row: that Gram matrix is singular
    Z = X.copy()
    Z[::oracle.subsample_stride, 2] = 0.0
    oracle, asked = first_step(Z, y)
    assert asked == [True, False]
    # Hessian-free: the Gram matrix also preconditions CG, so all rows
    oracle, asked = first_step(X, y, "newton-cg")
    assert asked == [False]


def test_collinear_columns_at_the_start_take_the_dense_damped_route():
    from logreg._curvature import KroneckerStart

    X, y, _ = make_classification(n=400, d=3, k=3, seed=5)
    X = np.column_stack([X, X[:, 0]])               # a duplicated column: B is singular
    oracle, problem, iterate = _start(X, y, None, k=3, C=np.inf)
    start = KroneckerStart(oracle, problem, from_subsample=False)
    assert start.prepare(iterate) and start.system is None
    step = start.solve(iterate)
    assert step.kind == "kronecker" and step.damping > 0
    assert np.all(np.isfinite(step.direction))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
def test_oracle_gram_is_the_weighted_gram_matrix_over_chunks(monkeypatch, dtype, order,
                                                             weighted):
    from logreg import _oracle

    monkeypatch.setattr(_oracle, "GRAM_CHUNK_ROWS", 1000)     # several chunks, one partial
    X, y, w = make_classification(n=2500, d=6, k=3, seed=4, weighted=weighted, dtype=dtype)
    X = np.asarray(X, order=order)
    oracle = _oracle.InMemoryOracle(X, y, w, k=3, fit_intercept=True, n_threads=2)
    Xt = np.column_stack([X.astype(np.float64), np.ones(len(X))])
    expected = Xt.T @ (Xt * (1.0 if w is None else w[:, None]))
    assert_allclose_scaled(oracle.gram(), expected, KRONECKER_HESSIAN_RTOL)


@pytest.mark.parametrize("k, penalty", [(4, "l2"), (4, None), (2, "l2")])
def test_far_from_the_optimum_steps_use_a_subsampled_hessian_and_finish_exact(
        monkeypatch, k, penalty):
    from logreg import _oracle, _policy

    monkeypatch.setattr(_oracle, "SMALL_PASS_FLOPS", 0)    # approximations at any size
    X, y, w = make_classification(n=20_000, d=5, k=k, seed=9, weighted=True)
    clf = logreg.LogisticRegression(penalty=penalty).fit(X, y, sample_weight=w)
    kinds = [h["hessian"] for h in clf.history_]
    assert kinds[0] == "kronecker" and "subsample" in kinds, kinds
    assert kinds[-1] == "exact" and kinds[-2] == "exact", kinds   # quadratic finish
    objective_values = [h["objective"] for h in clf.history_]
    assert all(b <= a for a, b in zip(objective_values, objective_values[1:]))
    monkeypatch.setattr(_policy, "SUBSAMPLED_DECREMENT", np.inf)      # exact throughout
    exact = logreg.LogisticRegression(penalty=penalty, tol=1e-12).fit(X, y, sample_weight=w)
    assert "subsample" not in [h["hessian"] for h in exact.history_]
    full = lambda m: np.column_stack([m.coef_, m.intercept_])  # noqa: E731
    assert_allclose_scaled(full(clf), full(exact), DEFAULT_TOL_COEF_RTOL)


def test_a_loose_tol_on_a_finite_optimum_is_not_taken_for_separation():
    """At tol=1e-4 the last Newton step can exceed 1e-4 of the coefficients; what
    tells separation apart is that its steps do not shrink."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 32))
    y = np.argmax(X @ (0.5 * rng.standard_normal((32, 5))) + rng.gumbel(size=(200_000, 5)),
                  axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = logreg.LogisticRegression(penalty=None, tol=1e-4).fit(X, y)
    assert clf._inference_state_["converged"] is True
