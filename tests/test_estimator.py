"""logreg.LogisticRegression as a scikit-learn estimator: protocol and behaviour."""
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError as SkNotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import logreg

from ._fits import make_classification
from .tolerances import INVARIANCE_RTOL, assert_allclose_scaled

# the directory holding the logreg this test imported (installed or in-place build)
SRC = os.path.dirname(os.path.dirname(os.path.abspath(logreg.__file__)))


# ---------------------------------------------------------------------------
# scikit-learn's common estimator checks: every one must pass
# ---------------------------------------------------------------------------

# scikit-learn warns (at collection) that the estimator does not inherit from
# BaseEstimator: deliberate, since scikit-learn is not a runtime dependency.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Estimator LogisticRegression(CV)? does not inherit")
    SKLEARN_CHECKS = parametrize_with_checks([logreg.LogisticRegression(),
                                              logreg.LogisticRegressionCV()])


@SKLEARN_CHECKS
def test_sklearn_estimator_checks(estimator, check):
    name = getattr(check, "func", check).__name__
    if name == "check_array_api_input" and not os.environ.get("SCIPY_ARRAY_API"):
        # This check needs SCIPY_ARRAY_API=1 before scipy is imported (it would
        # skip here): run it in a fresh interpreter instead of skipping it.
        run_array_api_check_in_subprocess(check.keywords, type(estimator).__name__)
        return
    check(estimator)


def run_array_api_check_in_subprocess(keywords, name="LogisticRegression"):
    code = (
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        "import logreg\n"
        f"check_array_api_input({name!r}, logreg.{name}(), **{keywords!r})\n"
        "print('passed')\n"
    )
    env = dict(os.environ, SCIPY_ARRAY_API="1", PYTHONPATH=SRC)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and "passed" in result.stdout, result.stderr[-3000:]


def test_is_a_classifier_and_works_in_sklearn_tools():
    X, y, _ = make_classification(n=200, d=4, k=3)
    clf = logreg.LogisticRegression()
    assert is_classifier(clf)
    pipe = make_pipeline(StandardScaler(), logreg.LogisticRegression(C=0.5))
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.5
    grid = GridSearchCV(logreg.LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
    assert grid.best_params_["C"] in (0.1, 1.0)
    assert clone(clf).get_params() == clf.get_params()


def test_logreg_does_not_import_sklearn_at_runtime():
    code = (
        "import sys, numpy as np, logreg\n"
        "X = np.random.default_rng(0).normal(size=(50, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "clf = logreg.LogisticRegression().fit(X, y); clf.predict_proba(X)\n"
        "assert not any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=SRC),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


# ---------------------------------------------------------------------------
# Parameters and attributes
# ---------------------------------------------------------------------------

def test_defaults_and_params_round_trip():
    clf = logreg.LogisticRegression()
    params = clf.get_params()
    assert params == dict(penalty="l2", C=1.0, fit_intercept=True, solver="newton", tol=1e-8,
                          max_iter=100, class_weight=None, warm_start=False, n_threads=None,
                          verbose=0, learning_rate="auto", l1_ratio=0.0)
    assert clf.set_params(C=3.0, penalty=None) is clf
    assert clf.get_params()["C"] == 3.0 and clf.penalty is None
    assert repr(clf) == "LogisticRegression(penalty=None, C=3.0)"
    with pytest.raises(ValueError, match="Invalid parameter 'alpha'"):
        clf.set_params(alpha=1.0)


@pytest.mark.parametrize("k", [2, 3])
def test_fitted_attributes_have_sklearn_shapes(k):
    X, y, _ = make_classification(n=150, d=4, k=k)
    clf = logreg.LogisticRegression().fit(X, y)
    rows = 1 if k == 2 else k
    assert clf.coef_.shape == (rows, 4) and clf.intercept_.shape == (rows,)
    np.testing.assert_array_equal(clf.classes_, np.arange(k))
    assert clf.n_features_in_ == 4 and isinstance(clf.n_iter_, int)
    assert not hasattr(clf, "feature_names_in_")
    df = clf.decision_function(X)
    assert df.shape == ((150,) if k == 2 else (150, k))
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), P, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[P.argmax(axis=1)])
    if k == 2:
        np.testing.assert_allclose(P[:, 1], 1 / (1 + np.exp(-df)), rtol=1e-12)
    no_icpt = logreg.LogisticRegression(fit_intercept=False).fit(X, y)
    np.testing.assert_array_equal(no_icpt.intercept_, np.zeros(rows))


def test_labels_of_any_type():
    X, y, _ = make_classification(n=150, d=3, k=3, seed=3)
    base = logreg.LogisticRegression().fit(X, y)
    for labels in (np.array(["cat", "dog", "emu"]), np.array([-5, 10, 7]),
                   np.array([1.0, 2.0, 3.0]), np.array(["a", "b", "c"], dtype=object)):
        clf = logreg.LogisticRegression().fit(X, labels[y])
        np.testing.assert_array_equal(clf.classes_, np.sort(labels))
        order = np.argsort(labels)            # classes_ are sorted labels
        assert_allclose_scaled(clf.coef_, base.coef_[order], INVARIANCE_RTOL)
        np.testing.assert_array_equal(clf.predict(X), labels[base.predict(X)])
    binary = logreg.LogisticRegression().fit(X, np.where(y == 0, "no", "yes"))
    assert set(binary.predict(X)) <= {"no", "yes"}
    boolean = logreg.LogisticRegression().fit(X, y == 0)
    np.testing.assert_array_equal(boolean.classes_, [False, True])


def test_float32_X_stays_float32_and_is_not_copied(monkeypatch):
    X, y, _ = make_classification(n=300, d=4, k=3, dtype=np.float32)
    seen = []
    from logreg import _kernel
    original = _kernel.loss_gradient_pairs

    def spy(Xk, *args, **kwargs):
        seen.append(Xk)
        return original(Xk, *args, **kwargs)

    monkeypatch.setattr(_kernel, "loss_gradient_pairs", spy)
    logreg.LogisticRegression().fit(X, y)
    # every pass over all rows reads the caller's array; the subsampled Hessians
    # (far from the optimum) read float32 copies of every m-th row
    assert any(s is X for s in seen)
    assert all(s is X for s in seen if s.shape[0] == X.shape[0])
    assert all(s.dtype == np.float32 for s in seen)


def test_pickle_round_trip():
    X, y, _ = make_classification(n=200, d=3, k=3)
    clf = logreg.LogisticRegression(C=0.3, class_weight="balanced").fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.get_params() == clf.get_params()
    assert again.history_ == clf.history_


def test_dataframe_feature_names():
    X, y, _ = make_classification(n=100, d=3, k=2)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    clf = logreg.LogisticRegression().fit(df, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(clf.predict(df), logreg.LogisticRegression().fit(X, y).predict(X))
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df[["b", "a", "c"]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X)
    plain = logreg.LogisticRegression().fit(X, y)
    with pytest.warns(UserWarning, match="fitted without feature names"):
        plain.predict(df)
    refit = clf.fit(X, y)
    assert not hasattr(refit, "feature_names_in_")


def test_class_weight_equals_sample_weight():
    X, y, _ = make_classification(n=200, d=3, k=3, seed=8)
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    by_class = logreg.LogisticRegression(class_weight=cw).fit(X, y)
    by_sample = logreg.LogisticRegression().fit(X, y, sample_weight=np.array([2.0, 0.5, 1.0])[y])
    assert_allclose_scaled(by_class.coef_, by_sample.coef_, INVARIANCE_RTOL)
    counts = np.bincount(y)
    balanced = logreg.LogisticRegression(class_weight="balanced").fit(X, y)
    manual = logreg.LogisticRegression(
        class_weight={c: len(y) / (3 * counts[c]) for c in range(3)}).fit(X, y)
    assert_allclose_scaled(balanced.coef_, manual.coef_, INVARIANCE_RTOL)


def test_score_is_weighted_accuracy():
    X, y, _ = make_classification(n=200, d=3, k=3)
    clf = logreg.LogisticRegression().fit(X, y)
    right = clf.predict(X) == y
    assert clf.score(X, y) == pytest.approx(right.mean())
    w = np.random.default_rng(0).uniform(size=200)
    assert clf.score(X, y, sample_weight=w) == pytest.approx(np.average(right, weights=w))


def test_not_fitted_error_is_catchable_as_sklearns_and_ours():
    clf = logreg.LogisticRegression()
    X = np.zeros((2, 3))
    for method in (clf.predict, clf.predict_proba, clf.predict_log_proba,
                   clf.decision_function):
        with pytest.raises(SkNotFittedError, match="not fitted yet"):
            method(X)
        with pytest.raises(logreg.NotFittedError):
            method(X)


def test_warm_start_ignored_when_the_problem_changes():
    X, y, _ = make_classification(n=200, d=3, k=3)
    clf = logreg.LogisticRegression(warm_start=True).fit(X, y)
    clf.fit(X[:, :2], y)                   # other features: a cold start, no error
    fresh = logreg.LogisticRegression().fit(X[:, :2], y)
    assert_allclose_scaled(clf.coef_, fresh.coef_, INVARIANCE_RTOL)
    clf.fit(X[:, :2], np.minimum(y, 1))     # other classes
    assert clf.coef_.shape == (1, 2)


def test_readonly_memmap_input(tmp_path):
    X, y, _ = make_classification(n=200, d=3, k=3)
    path = tmp_path / "X.npy"
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    clf = logreg.LogisticRegression().fit(Xm, y)
    assert_allclose_scaled(clf.coef_, logreg.LogisticRegression().fit(X, y).coef_, 0.0)


def test_no_warnings_on_an_ordinary_fit():
    X, y, _ = make_classification(n=300, d=4, k=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logreg.LogisticRegression().fit(X, y).predict_proba(X)
        logreg.LogisticRegression(penalty=None).fit(X, y)
