"""LogisticRegressionCV and regularization_path against scikit-learn and cold fits
(scikit-learn's common estimator checks run for both estimators in test_estimator.py)."""
import functools
import os
import sys
import warnings

import numpy as np
import pytest
from sklearn import datasets
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

import logreg
from logreg import _model_selection

from ._fits import make_classification
from .tolerances import (
    CV_COEF_RTOL,
    CV_SCORE_RTOL,
    INVARIANCE_RTOL,
    PATH_COEF_RTOL,
    assert_allclose_scaled,
)


@functools.lru_cache(maxsize=None)
def bundled(name):
    """A real data set bundled with scikit-learn (wine, breast_cancer standardized)."""
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    if name != "iris":
        X = StandardScaler().fit_transform(X)
    return X, y


def sklearn_cv(X, y, sample_weight=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # its line-search / lbfgs fall-back warnings
        return SkLogisticRegressionCV(solver="newton-cholesky", tol=1e-10,
                                      use_legacy_attributes=False, l1_ratios=(0,),
                                      **kw).fit(X, y, sample_weight=sample_weight)


def quiet_fit(model, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", logreg.ConvergenceWarning)   # large C, near separation
        return model.fit(X, y, sample_weight=sample_weight)


def sklearn_log_loss_scores(theirs, X, y, folds, sample_weight=None):
    """scikit-learn's neg_log_loss of scikit-learn's fold paths, from probabilities
    computed without cancellation: for two classes its own predict_proba forms
    ``1 - expit(z)``, which loses ~1e-16 absolute, i.e. relative accuracy, on
    confidently wrong test rows (1e-4 of the fold score of breast_cancer at C=1e4)."""
    from scipy.special import expit, softmax
    from sklearn.metrics import log_loss

    scores = np.empty(theirs.scores_.shape)
    for f, (_, test) in enumerate(folds):
        w = None if sample_weight is None else sample_weight[test]
        for j, coef in enumerate(theirs.coefs_paths_[f, 0]):
            z = X[test] @ coef[:, :-1].T + coef[:, -1]
            P = (np.column_stack([expit(-z[:, 0]), expit(z[:, 0])]) if z.shape[1] == 1
                 else softmax(z, axis=1))
            scores[f, 0, j] = -log_loss(y[test], P, labels=theirs.classes_, sample_weight=w)
    return scores


def coef_with_intercept(model):
    return np.column_stack([model.coef_, model.intercept_])


def centred(coef):
    """Intercepts centred over classes: the symmetric parametrization of L2 fits."""
    coef = np.array(coef, dtype=np.float64)
    if coef.shape[-2] > 1:
        coef[..., -1] -= coef[..., -1].mean(axis=-1, keepdims=True)
    return coef


# ---------------------------------------------------------------------------
# against scikit-learn's LogisticRegressionCV on real data
# ---------------------------------------------------------------------------

CASES = {
    "iris": dict(),
    "wine": dict(),
    "breast_cancer": dict(),
    "iris-accuracy": dict(scoring="accuracy"),
    "wine-balanced": dict(class_weight="balanced"),
    "breast_cancer-Cs7-cv3": dict(Cs=7, cv=3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_choice_scores_and_optimum_as_sklearn(case):
    X, y = bundled(case.split("-")[0])
    kw = {"scoring": "neg_log_loss", **CASES[case]}
    ours = quiet_fit(logreg.LogisticRegressionCV(**kw), X, y)
    theirs = sklearn_cv(X, y, **kw)
    assert ours.scores_.shape == theirs.scores_.shape
    assert ours.coefs_paths_.shape == theirs.coefs_paths_.shape
    assert ours.n_iter_.shape == theirs.n_iter_.shape
    np.testing.assert_array_equal(ours.Cs_, theirs.Cs_)
    if kw["scoring"] == "neg_log_loss" and len(theirs.classes_) == 2:
        folds = list(StratifiedKFold(kw.get("cv", 5)).split(X, y))
        np.testing.assert_allclose(ours.scores_, sklearn_log_loss_scores(theirs, X, y, folds),
                                   rtol=CV_SCORE_RTOL)
        np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=1e-3)
    else:
        np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=CV_SCORE_RTOL)
    assert_allclose_scaled(ours.coefs_paths_[..., :-1], theirs.coefs_paths_[..., :-1],
                           CV_COEF_RTOL)
    assert ours.C_ == theirs.C_
    assert isinstance(ours.C_, float) and ours.l1_ratio_ == theirs.l1_ratio_ == 0.0
    # coef_ is the optimum at C_: a cold, tight fit of ours and scikit-learn's
    cold = logreg.LogisticRegression(C=ours.C_, tol=1e-13, class_weight=kw.get("class_weight"))
    cold = quiet_fit(cold, X, y)
    assert_allclose_scaled(coef_with_intercept(ours), coef_with_intercept(cold), CV_COEF_RTOL)
    sk = SkLogisticRegression(solver="newton-cholesky", C=ours.C_, tol=1e-12, max_iter=1000,
                              class_weight=kw.get("class_weight")).fit(X, y)
    assert_allclose_scaled(ours.coef_, sk.coef_, CV_COEF_RTOL)
    assert_allclose_scaled(ours.predict_proba(X), sk.predict_proba(X), CV_COEF_RTOL)


def test_sample_weight_enters_training_and_scoring_as_in_sklearn():
    X, y = bundled("wine")
    w = np.random.default_rng(0).uniform(0.2, 3.0, size=len(y))
    ours = quiet_fit(logreg.LogisticRegressionCV(Cs=6), X, y, sample_weight=w)
    theirs = sklearn_cv(X, y, sample_weight=w, Cs=6, scoring="neg_log_loss")
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=CV_SCORE_RTOL)
    assert ours.C_ == theirs.C_
    unweighted = quiet_fit(logreg.LogisticRegressionCV(Cs=6), X, y)
    assert not np.allclose(unweighted.scores_, ours.scores_, rtol=1e-3)


def test_sklearn_scorer_names_and_callables():
    X, y = bundled("iris")
    by_name = quiet_fit(logreg.LogisticRegressionCV(Cs=5, scoring="neg_brier_score"), X, y)
    theirs = sklearn_cv(X, y, Cs=5, scoring="neg_brier_score")
    np.testing.assert_allclose(by_name.scores_, theirs.scores_, rtol=CV_SCORE_RTOL)
    # a callable scorer, and the built-in accuracy equal to scikit-learn's scorer
    builtin = quiet_fit(logreg.LogisticRegressionCV(Cs=5, scoring="accuracy"), X, y)
    callable_ = quiet_fit(logreg.LogisticRegressionCV(Cs=5, scoring=get_scorer("accuracy")),
                          X, y)
    np.testing.assert_array_equal(builtin.scores_, callable_.scores_)
    assert builtin.score(X, y) == pytest.approx(np.mean(builtin.predict(X) == y))
    assert callable_.score(X, y) == builtin.score(X, y)


def test_score_method_uses_scoring():
    X, y = bundled("breast_cancer")
    cv = quiet_fit(logreg.LogisticRegressionCV(Cs=4), X, y)
    assert cv.score(X, y) == pytest.approx(get_scorer("neg_log_loss")(cv, X, y), rel=1e-12)


def test_splitters_and_index_pairs_give_the_same_result():
    X, y = bundled("wine")
    folds = list(KFold(4, shuffle=True, random_state=0).split(X, y))
    a = quiet_fit(logreg.LogisticRegressionCV(Cs=5, cv=KFold(4, shuffle=True, random_state=0)),
                  X, y)
    b = quiet_fit(logreg.LogisticRegressionCV(Cs=5, cv=folds), X, y)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    theirs = sklearn_cv(X, y, Cs=5, cv=folds, scoring="neg_log_loss")
    np.testing.assert_allclose(a.scores_, theirs.scores_, rtol=CV_SCORE_RTOL)


@pytest.mark.parametrize("n_splits", [2, 3, 5, 7])
@pytest.mark.parametrize("labels", ["iris", "unbalanced", "strings"])
def test_stratified_folds_are_sklearns(labels, n_splits):
    rng = np.random.default_rng(n_splits)
    y = {"iris": bundled("iris")[1],
         "unbalanced": rng.choice(4, size=103, p=[0.5, 0.3, 0.15, 0.05]),
         "strings": rng.choice(np.array(["b", "a", "c"]), size=60)}[labels]
    classes, codes = np.unique(y, return_inverse=True)
    if n_splits > np.bincount(codes).min():
        with pytest.warns(UserWarning, match="least populated class"):
            ours = _model_selection.stratified_folds(codes, n_splits)
        with pytest.warns(UserWarning, match="least populated class"):
            theirs = list(StratifiedKFold(n_splits).split(np.zeros((len(y), 1)), y))
    else:
        ours = _model_selection.stratified_folds(codes, n_splits)
        theirs = list(StratifiedKFold(n_splits).split(np.zeros((len(y), 1)), y))
    assert len(ours) == len(theirs)
    for (tr, te), (tr_sk, te_sk) in zip(ours, theirs):
        np.testing.assert_array_equal(tr, tr_sk)
        np.testing.assert_array_equal(te, te_sk)


def test_refit_false_averages_the_folds_best():
    X, y = bundled("iris")
    cv = quiet_fit(logreg.LogisticRegressionCV(Cs=6, refit=False), X, y)
    best = cv.scores_[:, 0].argmax(axis=1)
    assert cv.C_ == pytest.approx(np.mean(cv.Cs_[best]))
    mean = cv.coefs_paths_[np.arange(len(best)), 0, best].mean(axis=0)
    np.testing.assert_array_equal(coef_with_intercept(cv), mean)
    theirs = sklearn_cv(X, y, Cs=6, refit=False, scoring="neg_log_loss")
    assert cv.C_ == pytest.approx(theirs.C_)


# ---------------------------------------------------------------------------
# folds without copies; the warm-started path
# ---------------------------------------------------------------------------

def test_X_is_validated_once_and_never_copied_for_training(monkeypatch):
    X, y, _ = make_classification(n=400, d=4, k=3)
    seen, checks = [], []
    real_oracle = _model_selection.in_memory_oracle
    real_check = _model_selection.check_X_estimator

    def recording_oracle(X_, *args, **kw):
        seen.append(X_)
        return real_oracle(X_, *args, **kw)

    def counting_check(*args, **kw):
        checks.append(1)
        return real_check(*args, **kw)

    monkeypatch.setattr(_model_selection, "in_memory_oracle", recording_oracle)
    monkeypatch.setattr(_model_selection, "check_X_estimator", counting_check)
    logreg.LogisticRegressionCV(Cs=4, cv=3).fit(X, y)
    assert len(checks) == 1
    assert len(seen) == 3 + 1      # one oracle per fold (all its Cs) and the refit
    assert all(s is X for s in seen)


def test_path_fits_are_the_cold_fits_in_the_order_given():
    X, y, w = make_classification(n=500, d=6, k=4, weighted=True)
    Cs = [1.0, 1e-3, np.inf, 0.05, 30.0]
    path = logreg.regularization_path(X, y, Cs, sample_weight=w, tol=1e-12)
    assert isinstance(path, logreg.RegularizationPath)
    assert path.coefs.shape == (5, 4, 7)
    np.testing.assert_array_equal(path.Cs, Cs)
    np.testing.assert_array_equal(path.classes, np.arange(4))
    for coef, C, n_iter in zip(path.coefs, Cs, path.n_iter):
        cold = logreg.LogisticRegression(C=C, tol=1e-12).fit(X, y, sample_weight=w)
        assert_allclose_scaled(coef, coef_with_intercept(cold), PATH_COEF_RTOL)
        assert n_iter <= cold.n_iter_


def test_warm_starts_save_newton_iterations():
    X, y, _ = make_classification(n=2000, d=8, k=3, seed=3)
    Cs = np.logspace(-4, 4, 10)
    path = logreg.regularization_path(X, y, Cs)
    cold = [logreg.LogisticRegression(C=C).fit(X, y).n_iter_ for C in Cs]
    assert path.n_iter[1:].max() < max(cold)
    assert path.n_iter.sum() < 0.6 * sum(cold)


def test_binary_path_and_cv_layout():
    X, y = bundled("breast_cancer")
    path = logreg.regularization_path(X[:, :5], y, 3, fit_intercept=False)
    assert path.coefs.shape == (3, 1, 5)
    np.testing.assert_allclose(path.Cs, np.logspace(-4, 4, 3))
    cv = quiet_fit(logreg.LogisticRegressionCV(Cs=3, cv=4, fit_intercept=False), X, y)
    assert cv.coefs_paths_.shape == (4, 1, 3, 1, X.shape[1])
    assert cv.n_iter_.dtype == np.int32 and cv.n_iter_.shape == (4, 1, 3)
    assert cv.coef_.shape == (1, X.shape[1]) and np.all(cv.intercept_ == 0)


# ---------------------------------------------------------------------------
# penalties, l1_ratio, inference
# ---------------------------------------------------------------------------

def test_unpenalized_cv_refits_with_inference():
    X, y, _ = make_classification(n=300, d=3, k=3)
    cv = logreg.LogisticRegressionCV(penalty=None).fit(X, y)
    np.testing.assert_array_equal(cv.Cs_, [np.inf])
    assert cv.C_ == np.inf and cv.scores_.shape == (5, 1, 1)
    mle = logreg.LogisticRegression(penalty=None, tol=1e-13).fit(X, y)
    assert_allclose_scaled(coef_with_intercept(cv), coef_with_intercept(mle), CV_COEF_RTOL)
    assert_allclose_scaled(cv.inference().bse, mle.inference().bse, CV_COEF_RTOL)
    assert "Log-Likelihood" in str(cv.summary())
    # np.inf in Cs means the same
    mixed = logreg.LogisticRegressionCV(Cs=[0.01, np.inf]).fit(X, y)
    assert mixed.Cs_[-1] == np.inf


def test_penalized_cv_has_no_inference():
    X, y, _ = make_classification(n=200, d=3, k=2)
    cv = logreg.LogisticRegressionCV(Cs=3).fit(X, y)
    with pytest.raises(ValueError, match="unpenalized"):
        cv.inference()


@pytest.mark.parametrize("value", [0, 0.0, None, np.float32(0)])
def test_l1_ratio_zero_is_l2(value):
    X, y, _ = make_classification(n=200, d=3, k=3)
    a = logreg.LogisticRegression(l1_ratio=value).fit(X, y)
    b = logreg.LogisticRegression().fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    ratios = None if value is None else (value,)
    cv = logreg.LogisticRegressionCV(Cs=2, l1_ratios=ratios).fit(X, y)
    assert cv.l1_ratio_ == 0.0
    np.testing.assert_array_equal(cv.l1_ratios_, [0.0])


@pytest.mark.parametrize("value", [0.5, 1, -0.1, "l1", True])
def test_other_l1_ratios_are_rejected_clearly(value):
    X, y, _ = make_classification(n=50, d=2, k=2)
    with pytest.raises(ValueError, match="L1 and elastic-net penalties .* not implemented"):
        logreg.LogisticRegression(l1_ratio=value).fit(X, y)
    with pytest.raises(ValueError, match="L1 and elastic-net penalties .* not implemented"):
        logreg.LogisticRegressionCV(l1_ratios=(0, value)).fit(X, y)


@pytest.mark.parametrize("params, match", [
    (dict(Cs=0), "Cs must be"),
    (dict(Cs=[1.0, -1.0]), "Cs must be"),
    (dict(Cs=[]), "Cs must be"),
    (dict(Cs="many"), "Cs must be"),
    (dict(cv=1), "cv must be"),
    (dict(cv="five"), "cv must be"),
    (dict(cv=[([0, 1], [2.5])]), "not a .train, test. pair"),
    (dict(scoring=42), "scoring must be"),
    (dict(l1_ratios=()), "l1_ratios must be"),
    (dict(penalty="l1"), "'penalty'"),
    (dict(refit="yes"), "'refit'"),
    (dict(tol=-1.0), "'tol'"),
    (dict(max_iter=2.5), "'max_iter'"),
    (dict(class_weight="auto"), "'class_weight'"),
])
def test_bad_parameters_are_named(params, match):
    X, y, _ = make_classification(n=60, d=2, k=2)
    with pytest.raises(ValueError, match=match):
        logreg.LogisticRegressionCV(**params).fit(X, y)


def test_a_fold_without_two_classes_is_named():
    X, y, _ = make_classification(n=60, d=2, k=2)
    y = np.sort(y)
    folds = [(np.flatnonzero(y == 0), np.flatnonzero(y == 1))]
    with pytest.raises(ValueError, match="training set of fold 0"):
        logreg.LogisticRegressionCV(cv=folds).fit(X, y)


def test_dask_input_is_refused_clearly():
    da = pytest.importorskip("dask.array")
    X, y, _ = make_classification(n=60, d=2, k=2)
    with pytest.raises(TypeError, match="in-memory"):
        logreg.LogisticRegressionCV().fit(da.from_array(X), y)


# ---------------------------------------------------------------------------
# the picture
# ---------------------------------------------------------------------------

def test_plot_draws_scores_choice_and_paths_headless():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = bundled("iris")
    cv = quiet_fit(logreg.LogisticRegressionCV(Cs=6), X, y)
    score_ax, path_ax = cv.plot()
    mean_line = score_ax.get_lines()[0]
    np.testing.assert_allclose(mean_line.get_xdata(), cv.Cs_)
    np.testing.assert_allclose(mean_line.get_ydata(), cv.scores_[:, 0].mean(axis=0))
    chosen = score_ax.get_lines()[1]
    assert chosen.get_xdata()[0] == cv.C_
    assert len(path_ax.get_lines()) == 3 * 4 + 1     # (class, feature) paths + C_
    np.testing.assert_allclose(path_ax.get_lines()[0].get_ydata(),
                               cv.coefs_paths_[:, 0, :, 0, 0].mean(axis=0))
    assert score_ax.get_xscale() == "log"
    plt.close("all")


def test_plot_without_matplotlib_says_how_to_install(monkeypatch):
    X, y = bundled("iris")
    cv = quiet_fit(logreg.LogisticRegressionCV(Cs=2), X, y)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"logreg\[plot\]"):
        cv.plot()


def test_plot_before_fit_raises_not_fitted():
    with pytest.raises(logreg.NotFittedError):
        logreg.LogisticRegressionCV().plot()


def test_importing_logreg_does_not_import_matplotlib():
    import subprocess

    code = ("import sys, logreg\n"
            "assert 'matplotlib' not in sys.modules\nprint('ok')\n")
    src = os.path.dirname(os.path.dirname(os.path.abspath(logreg.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=src), timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_verbose_prints_folds_then_the_refit_iterations(capsys):
    X, y, _ = make_classification(n=200, d=3, k=3)
    logreg.LogisticRegressionCV(Cs=3, cv=3, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["fold 0", "fold 1", "fold 2"]
    refit = logreg.LogisticRegressionCV(Cs=3, cv=3, verbose=2).fit(X, y)
    out = capsys.readouterr().out
    assert "max|grad|" in out and len(out.splitlines()) == 3 + 1 + len(refit.history_)


def test_cv_results_do_not_depend_on_threads():
    X, y, _ = make_classification(n=3000, d=5, k=3)
    one = logreg.LogisticRegressionCV(Cs=4, n_threads=1).fit(X, y)
    two = logreg.LogisticRegressionCV(Cs=4, n_threads=2).fit(X, y)
    assert_allclose_scaled(one.scores_, two.scores_, INVARIANCE_RTOL)
    assert one.C_ == two.C_
