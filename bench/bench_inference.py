"""Inference against statsmodels, same data, same run: fit + standard errors
(MNLogit), marginal effects (get_margeff), single-column score tests (refits + LR).

    python -m pytest bench/bench_inference.py --benchmark-group-by=group
    python bench/bench_inference.py            # plain timings and ratios, no plugin

Both sides fit the unpenalized model to its optimum and produce the standard
errors of every coefficient (statsmodels: ``MNLogit.fit`` then ``.bse``;
logreg: ``LogisticRegression(penalty=None).fit`` then ``.inference().bse``).
The standard errors are checked to agree (after the parametrizations are
aligned), so the times compare the same work.  With ``--benchmark-disable``
the shapes shrink so the file runs in seconds.
"""
import time
import warnings

import numpy as np
import pytest

import logreg
from logreg._validation import check_n_threads

# (n, d, k): small and moderate problems where statsmodels is practical
SHAPES = [(20_000, 10, 4), (100_000, 20, 5), (20_000, 32, 10)]
BSE_RTOL = 1e-5


def make_data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = 0.5 * rng.standard_normal((d, k))
    y = np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)
    return X, y


def logreg_bse(X, y):
    clf = logreg.LogisticRegression(penalty=None).fit(X, y)
    return clf.inference().bse


def statsmodels_bse(X, y):
    import statsmodels.api as sm

    Xc = sm.add_constant(X, prepend=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.MNLogit(y, Xc).fit(method="newton", disp=0, tol=1e-10, maxiter=100)
    return np.asarray(res.bse).T  # (p, k-1) -> (k-1, p), as logreg


def _small(request):
    return request.config.getoption("benchmark_disable")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "n{}-d{}-k{}".format(*s))
@pytest.mark.parametrize("who", ["logreg", "statsmodels-MNLogit"])
def bench_fit_inference(benchmark, request, shape, who):
    n, d, k = shape
    if _small(request):
        n = 1_000
    X, y = make_data(n, d, k)
    benchmark.group = f"fit + bse n={n} d={d} k={k}"
    benchmark.extra_info.update(threads=check_n_threads(None), n=n, d=d, k=k)
    run = logreg_bse if who == "logreg" else statsmodels_bse
    bse = benchmark.pedantic(lambda: run(X, y), rounds=1 if _small(request) else 3,
                             iterations=1)
    other = statsmodels_bse(X, y) if who == "logreg" else logreg_bse(X, y)
    np.testing.assert_allclose(bse, other, rtol=BSE_RTOL)


# ---- beyond standard errors: marginal effects and score tests ----------------
MARGINS_SHAPE = (100_000, 20, 5)
SCORE_SHAPE, SCORE_COLUMNS = (20_000, 10, 3), 1000


@pytest.mark.parametrize("who", ["logreg", "statsmodels-get_margeff"])
def bench_marginal_effects(benchmark, request, who):
    """get_margeff(at="overall", method="dydx") with delta-method errors.

    statsmodels keeps an n x (k p) x ((k-1) p) complex Jacobian (14 GB at the
    full shape), so both sides run on ``PEER_ROWS`` rows here: the group compares
    like with like.  ``python -m logreg bench`` times logreg at the full n.
    """
    import statsmodels.api as sm

    n, d, k = MARGINS_SHAPE
    n = 1_000 if _small(request) else 5_000
    X, y = make_data(n, d, k, seed=1)
    benchmark.group = f"marginal effects n={n} d={d} k={k}"
    benchmark.extra_info.update(threads=check_n_threads(None), n=n, d=d, k=k)
    ours = logreg.LogisticRegression(penalty=None, tol=1e-10).fit(X, y).inference()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(
            disp=0, method="newton", tol=1e-10)
    run = (lambda: ours.marginal_effects(X).effects) if who == "logreg" else (
        lambda: peer.get_margeff().margeff.T)
    effects = benchmark.pedantic(run, rounds=1 if _small(request) else 3, iterations=1)
    other = peer.get_margeff().margeff.T if who == "logreg" else ours.marginal_effects(X).effects
    np.testing.assert_allclose(effects, other, rtol=BSE_RTOL, atol=1e-10)


@pytest.mark.parametrize("who", ["logreg", "statsmodels-refit-LR"])
def bench_score_tests(benchmark, request, who):
    """Single-column tests of candidate columns: logreg's score tests (all columns,
    one call) against statsmodels refits + LR tests on ``columns`` of them; the
    per-column time is in ``extra_info`` (``seconds_per_column``)."""
    import statsmodels.api as sm

    n, d, k = SCORE_SHAPE
    m = SCORE_COLUMNS
    if _small(request):
        n, m = 1_000, 20
    X, y = make_data(n, d, k, seed=2)
    Z = np.random.default_rng(3).standard_normal((n, m))
    benchmark.group = f"single-column tests n={n} d={d} k={k}"
    res = logreg.LogisticRegression(penalty=None).fit(X, y).inference()
    Xc = sm.add_constant(X, prepend=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        llf0 = sm.MNLogit(y, Xc).fit(disp=0, method="newton", tol=1e-8).llf

    def refits(columns):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.array([2 * (sm.MNLogit(y, np.column_stack([Xc, Z[:, j]])).fit(
                disp=0, method="newton", tol=1e-8).llf - llf0) for j in columns])

    columns = m if who == "logreg" else min(10, m)
    benchmark.extra_info.update(threads=check_n_threads(None), n=n, d=d, k=k,
                                columns=columns)
    if who == "logreg":
        run = lambda: res.score_test(Z, X=X, y=y, joint=False).statistic  # noqa: E731
    else:
        run = lambda: refits(range(columns))  # noqa: E731
    stats = benchmark.pedantic(run, rounds=1 if _small(request) else 3, iterations=1)
    if benchmark.stats is not None:
        benchmark.extra_info["seconds_per_column"] = benchmark.stats.stats.median / columns
    # the score and LR statistics agree to O(1/n) under the null: same columns, same verdicts
    lr = refits(range(3)) if who == "logreg" else stats[:3]
    score = stats[:3] if who == "logreg" else res.score_test(Z[:, :3], X=X, y=y,
                                                             joint=False).statistic
    np.testing.assert_allclose(score, lr, rtol=0.05, atol=0.05)


def main(shapes=SHAPES, repeats=3):
    print(f"threads={check_n_threads(None)}")
    print(f"{'n':>8} {'d':>4} {'k':>4} {'logreg s':>10} {'statsmodels s':>14} {'ratio':>7}")
    for n, d, k in shapes:
        X, y = make_data(n, d, k)
        times = {}
        for name, run in [("logreg", logreg_bse), ("statsmodels", statsmodels_bse)]:
            best = np.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                bse = run(X, y)
                best = min(best, time.perf_counter() - t0)
            times[name] = (best, bse)
        np.testing.assert_allclose(times["logreg"][1], times["statsmodels"][1], rtol=BSE_RTOL)
        t_l, t_s = times["logreg"][0], times["statsmodels"][0]
        print(f"{n:8d} {d:4d} {k:4d} {t_l:10.3f} {t_s:14.3f} {t_s / t_l:6.1f}x")


if __name__ == "__main__":
    main()
