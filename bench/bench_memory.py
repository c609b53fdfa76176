"""Peak memory of a fit against the size of X (logreg: at most 0.5x on tall data).

    python -m pytest bench/bench_memory.py --benchmark-group-by=group --benchmark-autosave
    python -m pytest bench/bench_memory.py --benchmark-disable      # CI smoke: small n

Each fit runs in a fresh subprocess (this file run as a script), which builds
X and y in row chunks (so that making the data leaves no peak of its own),
imports everything, and reads the peak resident set size
(``getrusage(RUSAGE_SELF).ru_maxrss``) once after loading X and once after
the fit.  Their difference is the fit's extra peak memory; the ratio to
``X.nbytes`` is recorded in ``extra_info`` and, in full runs, checked
against ``MAX_RATIO`` for logreg.  scikit-learn's solvers are measured the
same way for comparison (about 2.2x for newton-cholesky and 0.8x for lbfgs
on the tall shape); their iterations are capped there, which does not change
the per-iteration memory.

The wide shape (n ~ 2 d, Hessian-free Newton with a preconditioner within
``logreg._preconditioner.PRECONDITIONER_BUDGET_BYTES``) runs every fit to
convergence, so ``fit_seconds`` compares too.
"""
import json
import os
import resource
import subprocess
import sys
import time

import pytest

FULL_SHAPE = (2_000_000, 16, 5)     # X = 256 MB of float64
SMALL_SHAPE = (20_000, 16, 5)
MAX_RATIO = 0.5
WHO = ["logreg", "sklearn-newton-cholesky", "sklearn-lbfgs"]
WIDE_SHAPE = (4_000, 2_000, 5)      # X = 64 MB; the dense (k p)^2 preconditioner would be 800 MB
SMALL_WIDE_SHAPE = (400, 200, 5)
WIDE_MAX_RATIO = 1.0
WIDE_WHO = ["logreg", "sklearn-lbfgs"]


def _peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux: KiB


def _make_data(n, d, k, seed=0):
    import numpy as np

    rows = max(256, 2**19 // d)     # chunks of 4 MiB: small against any fit's peak
    rng = np.random.default_rng(seed)
    W = 0.5 * rng.standard_normal((d, k))
    X = np.empty((n, d))
    y = np.empty(n, dtype=np.intp)
    for s in range(0, n, rows):
        e = min(s + rows, n)
        X[s:e] = rng.standard_normal((e - s, d))
        y[s:e] = np.argmax(X[s:e] @ W + rng.gumbel(size=(e - s, k)), axis=1)
    return X, y


def measure(who, n, d, k):
    """In this process: (extra peak bytes of the fit, X.nbytes, seconds)."""
    import warnings

    import numpy as np  # noqa: F401

    import logreg
    if who.startswith("sklearn"):
        from sklearn.linear_model import LogisticRegression as SkLR
    X, y = _make_data(n, d, k)
    if who == "logreg":
        model = logreg.LogisticRegression(C=1.0)
    else:
        solver = who.split("-", 1)[1]
        tall = n > 100 * d
        model = SkLR(solver=solver, C=1.0, tol=1e-8,
                     max_iter=30 if solver == "lbfgs" and tall else 10_000)
    base = _peak_bytes()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    seconds = time.perf_counter() - start
    return _peak_bytes() - base, X.nbytes, seconds


def run_in_subprocess(who, n, d, k):
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    # the same logreg as the caller's (installed, or src/ via PYTHONPATH)
    import logreg
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(logreg.__file__))), src,
         env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, os.path.abspath(__file__), who, str(n), str(d),
                          str(k)], capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"memory measurement of {who} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


CASES = ([("tall", who) for who in WHO] + [("wide", who) for who in WIDE_WHO])
SHAPES = {"tall": (SMALL_SHAPE, FULL_SHAPE, MAX_RATIO),
          "wide": (SMALL_WIDE_SHAPE, WIDE_SHAPE, WIDE_MAX_RATIO)}


@pytest.mark.parametrize("data, who", CASES, ids=[f"{d}-{w}" for d, w in CASES])
def bench_fit_memory(benchmark, request, data, who):
    small = request.config.getoption("benchmark_disable")
    small_shape, full_shape, max_ratio = SHAPES[data]
    n, d, k = small_shape if small else full_shape
    benchmark.group = f"fit memory n={n} d={d} k={k}"
    result = benchmark.pedantic(run_in_subprocess, args=(who, n, d, k), rounds=1,
                                iterations=1)
    ratio = result["extra_bytes"] / result["x_bytes"]
    benchmark.extra_info.update(n=n, d=d, k=k, extra_mb=result["extra_bytes"] / 2**20,
                                x_mb=result["x_bytes"] / 2**20, ratio=ratio,
                                fit_seconds=result["seconds"])
    print(f"\n{who}: extra peak {result['extra_bytes'] / 2**20:.1f} MiB = {ratio:.3f} x X "
          f"({result['x_bytes'] / 2**20:.0f} MiB), fit {result['seconds']:.2f} s")
    if who == "logreg" and not small:
        assert ratio <= max_ratio, ratio


if __name__ == "__main__":
    who, n, d, k = sys.argv[1], *map(int, sys.argv[2:5])
    extra, x_bytes, seconds = measure(who, n, d, k)
    print(json.dumps(dict(extra_bytes=extra, x_bytes=x_bytes, seconds=seconds)))
