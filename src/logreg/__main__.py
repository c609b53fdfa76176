"""``python -m logreg``: a one-minute tour; ``python -m logreg bench``: the targets table."""
import argparse
import sys
import time

import numpy as np

from . import LogisticRegression, _hessian, hessian, reference
from ._validation import check_n_threads


def _best_time(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def kernel_demo(n=20_000, d=50, k=10, seed=0, out=sys.stdout):
    """Time logreg.hessian against the seed's NumPy Hessian on the same data."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    P = reference.softmax(rng.standard_normal((n, k)))
    threads = check_n_threads(None)
    t_kernel = _best_time(lambda: hessian(X, P), repeat=5)
    t_reference = _best_time(lambda: reference.hessian(X, P), repeat=2)
    useful = n * d * d * k * (k - 1) / 2  # flops of the pairwise form, one triangle
    diff = np.abs(hessian(X, P) - reference.to_class_major(reference.hessian(X, P), d, k)).max()
    print(f"Hessian of the multinomial cross-entropy, n={n}, d={d}, k={k} "
          f"({threads} threads, OpenMP {'on' if _hessian.openmp_enabled() else 'off'})", file=out)
    print(f"  logreg.hessian    {t_kernel * 1e3:9.1f} ms  {useful / t_kernel / 1e9:6.1f} useful GF/s",
          file=out)
    print(f"  NumPy reference   {t_reference * 1e3:9.1f} ms  (the seed's double loop)", file=out)
    print(f"  speedup           {t_reference / t_kernel:9.1f}x   max |difference| {diff:.1e}",
          file=out)


def fit_demo(n=100_000, d=20, k=5, seed=0, out=sys.stdout):
    """Fit a multinomial model with per-iteration progress, then report accuracy."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = 0.5 * rng.standard_normal((d, k))
    y = np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)
    train, test = slice(0, n * 4 // 5), slice(n * 4 // 5, n)
    print(f"\nLogisticRegression(C=1.0) on n={n * 4 // 5}, d={d}, k={k} (synthetic, "
          "multinomial with Gumbel noise)", file=out)
    start = time.perf_counter()
    model = LogisticRegression(C=1.0, verbose=1).fit(X[train], y[train])
    seconds = time.perf_counter() - start
    print(f"  {model.n_iter_} Newton iterations in {seconds:.3f} s; final objective "
          f"{model.history_[-1]['objective']:.12g} (normalized: mean cross-entropy + L2)",
          file=out)
    print(f"  accuracy: train {model.score(X[train], y[train]):.4f}, "
          f"test {model.score(X[test], y[test]):.4f}", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m logreg", description=__doc__)
    parser.add_argument("command", nargs="?", default="demo", choices=["demo", "bench"])
    args = parser.parse_args(argv)
    if args.command == "bench":
        from ._bench import main as bench_main

        return bench_main()
    kernel_demo()
    fit_demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
