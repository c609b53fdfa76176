"""Model selection and small fits: logreg against scikit-learn.

    python -m pytest bench/bench_model_selection.py --benchmark-group-by=group --benchmark-autosave

Groups (each solver at a fixed tol that reaches the optimum on all four problems):

* ``cv n=.. d=.. k=..``: choosing C by 5-fold cross-validation over 10 Cs in
  [1e-4, 1e4] (neg_log_loss): ``logreg.LogisticRegressionCV`` (warm-started
  paths, folds as weight vectors) against scikit-learn's
  ``LogisticRegressionCV`` with lbfgs and newton-cholesky at their default
  tol; every member must choose the C of a tol=1e-12 logreg run.
* ``small fit <data>``: one fit at C=1 on iris, wine, breast_cancer
  (standardized) and a (1000, 10, 3) problem, logreg against scikit-learn's
  lbfgs, newton-cholesky and newton-cg, each at the same optimum (objective
  within 1e-9 relative of a tol=1e-13 logreg fit, checked).

With ``--benchmark-disable`` (the CI smoke run) the cross-validation shape
shrinks so the file runs in seconds.
"""
import functools
import warnings

import numpy as np
import pytest

import logreg
from logreg._bench_model_selection import CV_CS, CV_FOLDS, CV_SHAPE, penalized_objective, \
    small_fit_problems
from logreg._validation import check_n_threads

OBJECTIVE_RTOL = 1e-9
SMALL_FIT_TOL = {"logreg": 1e-6, "lbfgs": 1e-8, "newton-cholesky": 1e-8, "newton-cg": 1e-6}


def _quiet(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit()


@functools.lru_cache(maxsize=None)
def cv_data(n, d, k):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    W = 0.5 * rng.standard_normal((d, k))
    return X, np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)


@functools.lru_cache(maxsize=None)
def best_C(n, d, k):
    X, y = cv_data(n, d, k)
    return _quiet(lambda: logreg.LogisticRegressionCV(Cs=CV_CS, cv=CV_FOLDS, tol=1e-12)
                  .fit(X, y)).C_


@pytest.mark.parametrize("who", ["logreg", "sklearn-lbfgs", "sklearn-newton-cholesky"])
def bench_cv(benchmark, smoke, who):
    n, d, k = CV_SHAPE if not smoke else (2_000, 10, 3)
    X, y = cv_data(n, d, k)
    benchmark.group = f"cv n={n} d={d} k={k} folds={CV_FOLDS} Cs={CV_CS}"
    benchmark.extra_info.update(threads=check_n_threads(None), n=n, d=d, k=k)
    if who == "logreg":
        model = logreg.LogisticRegressionCV(Cs=CV_CS, cv=CV_FOLDS)
    else:
        from sklearn.linear_model import LogisticRegressionCV

        model = LogisticRegressionCV(Cs=CV_CS, cv=CV_FOLDS, solver=who.split("-", 1)[1],
                                     scoring="neg_log_loss", use_legacy_attributes=False,
                                     l1_ratios=(0,))
    fitted = benchmark.pedantic(lambda: _quiet(lambda: model.fit(X, y)), rounds=3 if not smoke
                                else 1, iterations=1)
    assert fitted.C_ == best_C(n, d, k)


def _small_fit_model(who, tol):
    if who == "logreg":
        return logreg.LogisticRegression(tol=tol)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(solver=who, tol=tol, max_iter=10_000)


@pytest.mark.parametrize("who", list(SMALL_FIT_TOL))
@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer", "synthetic"])
def bench_small_fit(benchmark, data, who):
    X, y = small_fit_problems()[data]
    benchmark.group = f"small fit {data} {X.shape}"
    benchmark.extra_info.update(threads=check_n_threads(None), tol=SMALL_FIT_TOL[who])
    model = _small_fit_model(who, SMALL_FIT_TOL[who])
    fitted = benchmark(lambda: _quiet(lambda: model.fit(X, y)))
    best = penalized_objective(logreg.LogisticRegression(tol=1e-13).fit(X, y), X, y)
    gap = (penalized_objective(fitted, X, y) - best) / abs(best)
    benchmark.extra_info["objective_rel_gap"] = gap
    assert gap <= OBJECTIVE_RTOL, (who, gap)
