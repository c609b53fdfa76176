"""Whole fits to the same optimum: logreg against scikit-learn and statsmodels.

    python -m pytest bench/bench_fit.py --benchmark-group-by=group --benchmark-autosave
    python -m pytest bench/bench_fit.py --benchmark-compare          # against the last save

Every member of a group fits the same data to the same optimum (objective
within 1e-9 relative of a tol=1e-12 logreg fit: checked, not assumed), each at
the loosest tolerance of ``logreg._bench.TOL_LADDER`` that reaches it -- the
rule of ``python -m logreg bench`` -- so the times are comparable and no side
does needless work.  Threads: everything runs with the machine's default
(recorded in ``extra_info``).  With ``--benchmark-disable`` (the CI smoke
run) the shapes shrink so the file runs in seconds.
"""
import functools
import warnings

import numpy as np
import pytest

import logreg
from logreg import _bench
from logreg._validation import check_n_threads

SKLEARN_SOLVERS = ["newton-cholesky", "lbfgs", "newton-cg"]
# (n, d, k) of design §6 that a whole fit can run in a benchmark session
FIT_SHAPES = [(100_000, 20, 5), (50_000, 100, 10)]
OBJECTIVE_RTOL = _bench.OPTIMUM_RTOL


def _small(request):
    return request.config.getoption("benchmark_disable")


@functools.lru_cache(maxsize=4)
def make_data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = 0.5 * rng.standard_normal((d, k))
    y = np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)
    return X, y


def objective(coef, intercept, X, y, C):
    """scikit-learn's objective C * sum CE + 0.5 ||coef||^2 (multinomial, k > 2; C=inf: sum CE)."""
    Z = X @ coef.T + intercept
    Z -= Z.max(axis=1, keepdims=True)
    log_p = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    ce = -log_p[np.arange(len(y)), y].sum()
    if not np.isfinite(C):
        return ce
    return C * ce + 0.5 * np.sum(coef**2)


def make_model(who, C, tol):
    """An unfitted model of ``who`` ("logreg", "sklearn-<solver>", "statsmodels-MNLogit")."""
    if who == "logreg":
        return logreg.LogisticRegression(C=C, tol=tol)
    if who == "statsmodels-MNLogit":
        return MNLogitModel(tol)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(solver=who.split("-", 1)[1], C=C, tol=tol, max_iter=10_000)


class MNLogitModel:
    """statsmodels' unpenalized ``MNLogit`` (newton) behind ``fit``/``coef_``/``intercept_``."""

    def __init__(self, tol):
        self.tol = tol

    def fit(self, X, y):
        import statsmodels.api as sm

        Xc = sm.add_constant(X)
        params = np.asarray(sm.MNLogit(y, Xc).fit(method="newton", disp=0, tol=self.tol,
                                                  maxiter=100).params)
        # reference class 0: logits (0, Xc b_1, ..., Xc b_{k-1}); the constant comes first
        B = np.column_stack([np.zeros(Xc.shape[1]), params])
        self.coef_, self.intercept_ = B[1:].T, B[0]
        return self


@functools.lru_cache(maxsize=None)
def best_objective(n, d, k, C, seed):
    """The optimum's objective: a logreg fit at tol=1e-12 (as ``python -m logreg bench``)."""
    X, y = make_data(n, d, k, seed)
    m = logreg.LogisticRegression(C=C, tol=1e-12).fit(X, y)
    return objective(m.coef_, m.intercept_, X, y, C)


@functools.lru_cache(maxsize=None)
def tolerance(who, n, d, k, C, seed):
    """The loosest tol of ``TOL_LADDER`` at which ``who`` reaches the optimum
    (objective within ``OPTIMUM_RTOL``): the rule of ``python -m logreg bench``
    (``logreg._bench._at_the_optimum``), so no side is timed doing needless work.
    None when no tol reaches it."""
    X, y = make_data(n, d, k, seed)
    tol, _, _ = _bench._at_the_optimum(
        lambda tol: make_model(who, C, tol), lambda m: m.fit(X, y),
        lambda m: objective(m.coef_, m.intercept_, X, y, C), best_objective(n, d, k, C, seed))
    return tol


def fit_at_the_optimum(benchmark, request, who, n, d, k, C, seed=0):
    """Time ``who``'s fit at its ``tolerance``; check it reached the optimum."""
    X, y = make_data(n, d, k, seed)
    tol = tolerance(who, n, d, k, C, seed)
    benchmark.extra_info.update(threads=check_n_threads(None), n=n, d=d, k=k, tol=tol)
    if tol is None:
        pytest.skip(f"{who} reaches the optimum at no tol of {_bench.TOL_LADDER}")
    model = make_model(who, C, tol)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        return model.coef_, model.intercept_

    coef, intercept = benchmark.pedantic(fit, rounds=1 if _small(request) else 3, iterations=1)
    best = best_objective(n, d, k, C, seed)
    got = objective(coef, intercept, X, y, C)
    benchmark.extra_info["objective_rel_gap"] = (got - best) / abs(best)
    assert got <= best + OBJECTIVE_RTOL * abs(best), (who, got, best)


@pytest.mark.parametrize("shape", FIT_SHAPES, ids=lambda s: "n{}-d{}-k{}".format(*s))
@pytest.mark.parametrize("who", ["logreg"] + [f"sklearn-{s}" for s in SKLEARN_SOLVERS])
def bench_fit_l2(benchmark, request, shape, who):
    n, d, k = shape
    if _small(request):
        n = 2_000
    benchmark.group = f"fit C=1 n={n} d={d} k={k}"
    fit_at_the_optimum(benchmark, request, who, n, d, k, 1.0)


@pytest.mark.parametrize("who", ["logreg", "statsmodels-MNLogit"])
def bench_fit_unpenalized(benchmark, request, who):
    n, d, k = (20_000, 10, 4) if not _small(request) else (1_000, 5, 3)
    benchmark.group = f"fit unpenalized n={n} d={d} k={k}"
    fit_at_the_optimum(benchmark, request, who, n, d, k, np.inf, seed=1)
