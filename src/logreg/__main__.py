"""``python -m logreg``: a short demo (the same fit as scikit-learn, side by side).

``python -m logreg bench``: the benchmark tables (``python -m logreg bench --help``).
"""
import argparse
import sys
import time
import warnings

import numpy as np

from . import LogisticRegression, _bench
from ._validation import check_n_threads

DEMO_SHAPE = (50_000, 20, 5)
SKLEARN_SOLVERS = ("lbfgs", "newton-cholesky")


def _best_seconds(fit, repeat=3):
    best = np.inf
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            fit()
            best = min(best, time.perf_counter() - start)
    return best


def demo(n=DEMO_SHAPE[0], d=DEMO_SHAPE[1], k=DEMO_SHAPE[2], C=1.0, out=sys.stdout):
    """Fit one data set with logreg and with scikit-learn; print time, optimum, accuracy.

    logreg runs with its defaults; each scikit-learn solver at the loosest
    tolerance that reaches the optimum (``logreg._bench._at_the_optimum``, the
    benchmarks' rule), so it is not timed doing needless work.  Returns the
    rows as dicts.
    """
    X, y = _bench._fit_data(n, d, k)
    train, test = slice(0, n * 4 // 5), slice(n * 4 // 5, n)
    Xt, yt = X[train], y[train]
    objective = lambda m: _bench._objective(m.coef_, m.intercept_, Xt, yt, C)  # noqa: E731
    best = objective(LogisticRegression(C=C, tol=1e-12).fit(Xt, yt))
    fit = lambda model: model.fit(Xt, yt)  # noqa: E731
    peers = [("logreg", lambda tol: LogisticRegression(C=C) if tol is None
              else LogisticRegression(C=C, tol=tol))]
    try:
        from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    except ImportError:
        SkLogisticRegression = None
    else:
        peers += [(f"scikit-learn {solver}", lambda tol, solver=solver: SkLogisticRegression(
            C=C, solver=solver, tol=tol, max_iter=10_000)) for solver in SKLEARN_SOLVERS]
    print(f"Multinomial logistic regression, C={C:g}: {len(yt):,} samples x {d} features, "
          f"{k} classes (synthetic), {check_n_threads(None)} threads\n", file=out)
    rows = []
    for name, make in peers:
        if name == "logreg":        # what a user gets: the default tol
            tol, model = None, fit(LogisticRegression(C=C))
        else:
            tol, _, model = _bench._at_the_optimum(make, fit, objective, best)
        if model is None:
            rows.append(dict(name=name, seconds=np.inf, model=None))
            continue
        seconds = _best_seconds(lambda: fit(make(tol)))
        rows.append(dict(name=name, seconds=seconds, model=model, tol=tol,
                         objective=objective(model), accuracy=model.score(X[test], y[test])))
    head = f"  {'':30}{'time':>10}{'objective':>20}{'test accuracy':>15}"
    print(head, file=out)
    for r in rows:
        if r["model"] is None:
            print(f"  {r['name']:30}{'did not reach the optimum':>45}", file=out)
            continue
        print(f"  {r['name']:30}{r['seconds']:9.3f}s{r['objective']:20.10f}"
              f"{r['accuracy']:15.4f}", file=out)
    ours = rows[0]
    others = [r for r in rows[1:] if r["model"] is not None]
    print("", file=out)
    if SkLogisticRegression is None:
        print("scikit-learn is not installed: only logreg is shown "
              "(pip install scikit-learn to compare).", file=out)
        return rows
    if not others:
        print("No scikit-learn solver reached the optimum.", file=out)
        return rows
    coef = lambda m: np.column_stack([m.coef_, m.intercept_])  # noqa: E731
    gap = max(abs(r["objective"] - ours["objective"]) / abs(ours["objective"]) for r in others)
    scale = np.max(np.abs(coef(ours["model"])))
    diff = max(np.max(np.abs(coef(r["model"]) - coef(ours["model"]))) for r in others) / scale
    fastest = min(others, key=lambda r: r["seconds"])
    print(f"Same optimum: the objectives agree to {gap:.0e} (relative), the coefficients "
          f"to {diff:.0e} (relative to the largest).", file=out)
    print(f"logreg is {fastest['seconds'] / ours['seconds']:.1f}x faster than scikit-learn's "
          f"fastest solver here ({fastest['name'].split()[-1]}).", file=out)
    print("logreg ran with its defaults, scikit-learn at the loosest tolerance that reaches "
          "the same optimum; times are the best of 3.", file=out)
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:       # its own options and --help
        return _bench.main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m logreg",
        description="A short demo of logreg next to scikit-learn; 'bench' for the benchmarks.")
    parser.add_argument("command", nargs="?", default="demo", choices=["demo", "bench"],
                        help="demo (default) or bench (python -m logreg bench --help)")
    parser.parse_args(argv)
    demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
