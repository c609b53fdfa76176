"""``python -m logreg bench``: logreg's speed, each figure next to a yardstick
measured in the same run (``python -m logreg bench --help``).

Every ratio compares two timings taken in this process, interleaved
(yardstick, logreg, yardstick, logreg, ...) and reduced to the best of
several repeats, so a busy machine slows both sides alike.  Peers that are
not installed are reported as such.  The default run is a quick subset (the
rows with ``quick=True`` in ``ROWS``, under a minute); ``--full`` runs every row.

Yardsticks
----------
* dsyrk: ``scipy.linalg.blas.dsyrk`` on the ``n x p`` operand (the faster of
  the two no-copy layouts), useful flops ``n p^2``; logreg's useful flops are
  ``n p^2 K``, ``K = k(k-1)/2``.
* scikit-learn: ``LinearModelLoss(HalfMultinomialLoss).gradient_hessian`` from
  the coefficients (gradient AND Hessian); logreg does the same work with
  ``loss_gradient_pairs`` + ``hessian_from_pairs`` (loss too).
* the NumPy reference: ``logreg.reference.hessian`` (a double loop over class pairs).
* whole fits: scikit-learn's solvers and statsmodels' ``MNLogit``, every
  solver (logreg's too) at the loosest tolerance of ``TOL_LADDER`` that
  reaches the optimum (``_at_the_optimum``; the pytest-benchmark suite in
  ``bench/`` uses the same rule).

Adding a row: write ``def row_name(run) -> list of _row(...) dicts`` (``run``
is a ``BenchRun``: threads, repeats, shape scale) and append
``(title, row_name, quick)`` to ``ROWS``.
"""
import argparse
import os
import platform
import sys
import time

import numpy as np

from . import _hessian, _kernel
from . import reference as _reference
from ._kernel import hessian as _hessian_public

# (n, d, k, target ratio) of the kernel rows; "threads": the target of 1 -> T scaling
TARGETS = {
    "compute": (50_000, 128, 10, 1.2),
    "narrow": (200_000, 16, 5, 4.0),
    "reference": (20_000, 50, 10, 15.0),
    "threads": 1.7,
}
# side of the square dgemm that measures the machine's peak BLAS rate
PEAK_DGEMM_SIZE = 2000
# design section 6: each shape at least as fast as one dsyrk per class pair
GRID = [
    (1_000_000, 8, 3),
    (200_000, 32, 5),
    (100_000, 20, 5),
    (50_000, 128, 10),
    (20_000, 512, 4),
    (20_000, 32, 50),
]


def _default_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _blas_limit(n):
    """Context pinning BLAS (yardsticks) to n threads; a no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def _best_interleaved(funcs, repeats):
    """Best wall time of each callable over ``repeats`` rounds.

    Rounds alternate between the callables (a busy machine slows both sides
    alike), but each callable runs twice in a row and only its second call
    is timed, after a pause: OpenBLAS's worker threads keep spinning for
    ~0.1 s after a call (measured: logreg.hessian at (2e4, 50, 10) takes
    31 ms alone, 41-47 ms right after the NumPy reference), so whoever runs
    right after the other side would pay for its spinning threads.
    """
    best = [np.inf] * len(funcs)
    for _ in range(repeats):
        for i, f in enumerate(funcs):
            time.sleep(0.25)
            f()
            t = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def _data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = 0.5 * rng.standard_normal((k, d + 1))
    eta = X @ coef[:, :d].T + coef[:, d]
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = rng.integers(0, k, n).astype(np.intp)
    return X, P, y, coef


def _dsyrk_call(X):
    """The faster of dsyrk's two no-copy layouts for X^T X (n x p, C-ordered X)."""
    from scipy.linalg.blas import dsyrk

    XF = np.asfortranarray(X)
    calls = [lambda: dsyrk(1.0, X.T, trans=0), lambda: dsyrk(1.0, XF, trans=1)]
    t = _best_interleaved(calls, 2)
    return calls[int(np.argmin(t))]


def _sklearn_gradient_hessian(k, fit_intercept):
    """A callable (coef, X, y, n_threads) -> (grad, hess), or None when scikit-learn is missing."""
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:
        return None
    lml = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=k), fit_intercept=fit_intercept)

    def run(coef, X, y, n_threads):
        return lml.gradient_hessian(coef, X, y, l2_reg_strength=0.0, n_threads=n_threads)

    return run


def _row(what, shape, figure, yardstick, ratio, target, note=""):
    met = None if (ratio is None or target is None) else bool(ratio >= target)
    return {
        "what": what,
        "shape": shape,
        "figure": figure,
        "yardstick": yardstick,
        "ratio": ratio,
        "target": target,
        "met": met,
        "note": note,
    }



class BenchRun:
    """What every row function gets: ``threads`` (logreg and BLAS yardsticks),
    ``repeats`` (timed rounds), ``scale`` (n is divided by it: 1 for the
    real shapes, 10 for a smoke run whose ratios are not the targets')."""

    def __init__(self, *, threads=None, repeats=5, scale=1):
        self.threads = _default_threads() if threads is None else int(threads)
        self.repeats = int(repeats)
        self.scale = int(scale)

    def shape(self, n, d, k):
        return (max(n // self.scale, 1000), d, k)


def _kernel_and_dsyrk(X, P, run):
    """Best times of dsyrk on X and of logreg.hessian(X, P), interleaved, same threads."""
    k, d = P.shape[1], X.shape[1]
    H = np.empty((k * d, k * d))
    with _blas_limit(run.threads):
        syrk = _dsyrk_call(X)
        return _best_interleaved(
            [syrk, lambda: _hessian_public(X, P, out=H, n_threads=run.threads)], run.repeats)


def row_kernel_compute(run):
    """Compute-bound shape: useful GF/s against dsyrk's rate, same threads."""
    T = run.threads
    n, d, k = run.shape(*TARGETS["compute"][:3])
    X, P, _, _ = _data(n, d, k)
    K = k * (k - 1) // 2
    t_syrk, t_ours = _kernel_and_dsyrk(X, P, run)
    gf_ours = n * d * d * K / t_ours / 1e9
    gf_syrk = n * d * d / t_syrk / 1e9
    return [_row("kernel, compute-bound: GF/s vs dsyrk", (n, d, k), f"{gf_ours:.1f} GF/s",
                 f"{gf_syrk:.1f} GF/s", gf_ours / gf_syrk, TARGETS["compute"][3])]


def row_kernel_narrow(run):
    """Narrow shape: gradient + Hessian from the coefficients, against scikit-learn's route."""
    T = run.threads
    n, d, k = run.shape(*TARGETS["narrow"][:3])
    X, P, y, coef = _data(n, d, k, seed=1)
    sk = _sklearn_gradient_hessian(k, True)
    what = "kernel, narrow: grad+Hessian vs scikit-learn"
    p = d + 1
    H = np.empty((k * p, k * p))

    def ours():
        _, _, pairs = _kernel.loss_gradient_pairs(X, y, None, coef, True, T)
        _hessian.hessian_from_pairs(pairs, k, p, H)

    target = TARGETS["narrow"][3]
    if sk is None:
        (t_ours,) = _best_interleaved([ours], run.repeats)
        return [_row(what, (n, d, k), f"{t_ours * 1e3:.1f} ms", "not installed", None, target,
                     "scikit-learn is not installed")]
    y_sk = y.astype(np.float64)
    t_sk, t_ours = _best_interleaved([lambda: sk(coef, X, y_sk, T), ours], run.repeats)
    return [_row(what, (n, d, k), f"{t_ours * 1e3:.1f} ms", f"{t_sk * 1e3:.1f} ms",
                 t_sk / t_ours, target, "with intercept, same threads")]


def row_kernel_reference(run):
    """The kernel against the NumPy reference Hessian (``logreg.reference``)."""
    T = run.threads
    n, d, k = run.shape(*TARGETS["reference"][:3])
    X, P, _, _ = _data(n, d, k, seed=2)
    H = np.empty((k * d, k * d))
    with _blas_limit(T):
        t_ref, t_ours = _best_interleaved(
            [lambda: _reference.hessian(X, P), lambda: _hessian_public(X, P, out=H, n_threads=T)],
            max(2, run.repeats // 2))
    return [_row("kernel vs NumPy reference Hessian", (n, d, k), f"{t_ours * 1e3:.2f} ms",
                 f"{t_ref * 1e3:.1f} ms", t_ref / t_ours, TARGETS["reference"][3])]


def row_machine_limit(run):
    """On the reference row's shape, how close the kernel is to the machine's limit:
    its useful rate next to a large square dgemm (the best rate BLAS reaches
    here), and next to one dgemm of the minimal product itself (the packed outer
    products ``U``, given for free, times the pair weights ``V``)."""
    T = run.threads
    n, d, k = run.shape(*TARGETS["reference"][:3])
    X, P, _, _ = _data(n, d, k, seed=2)
    K = k * (k - 1) // 2
    H = np.empty((k * d, k * d))
    reps = max(2, run.repeats // 2)
    A = np.random.default_rng(5).standard_normal((PEAK_DGEMM_SIZE, PEAK_DGEMM_SIZE))
    with _blas_limit(T):
        t_ours, t_gemm = _best_interleaved(
            [lambda: _hessian_public(X, P, out=H, n_threads=T), lambda: A @ A], reps)
    gf_ours = n * d * d * K / t_ours / 1e9
    gf_peak = 2 * PEAK_DGEMM_SIZE**3 / t_gemm / 1e9
    rows = [_row("  same shape: GF/s vs square dgemm (peak)", (n, d, k), f"{gf_ours:.1f} GF/s",
                 f"{gf_peak:.1f} GF/s", gf_ours / gf_peak, None)]
    U = np.full((d * (d + 1) // 2, n), 0.5)
    V = np.full((n, K), 0.25)
    with _blas_limit(T):
        (t_uv,) = _best_interleaved([lambda: U @ V], reps)
    del U, V            # 200 MB at the full shape: released before the next rows
    rows.append(_row("  same shape: GF/s vs one dgemm U^T V", (n, d, k), f"{gf_ours:.1f} GF/s",
                     f"{n * d * d * K / t_uv / 1e9:.1f} GF/s", t_uv / t_ours, None,
                     "the minimal flops as one BLAS product (outer products given)"))
    return rows


def row_thread_scaling(run):
    """1 -> T threads of logreg.hessian, on the compute-bound and the narrow shape."""
    T = run.threads
    rows = []
    for key in ("compute", "narrow"):
        n, d, k = run.shape(*TARGETS[key][:3])
        X, P, _, _ = _data(n, d, k, seed=3)
        H = np.empty((k * d, k * d))
        t1, tT = _best_interleaved(
            [lambda: _hessian_public(X, P, out=H, n_threads=1),
             lambda: _hessian_public(X, P, out=H, n_threads=T)], run.repeats)
        note = "" if T > 1 else "one core available: scaling not measurable"
        rows.append(_row(f"kernel threads 1 -> {T} ({key})", (n, d, k),
                         f"{tT * 1e3:.2f} ms", f"{t1 * 1e3:.2f} ms",
                         t1 / tT if T > 1 else None, TARGETS["threads"], note))
    return rows


def row_grid(run):
    """The design grid: logreg.hessian against K calls of dsyrk (per-pair dsyrk's cost)."""
    T = run.threads
    rows = []
    for shape in GRID:
        n, d, k = run.shape(*shape)
        X, P, _, _ = _data(n, d, k, seed=4)
        K = k * (k - 1) // 2
        t_syrk, t_ours = _kernel_and_dsyrk(X, P, run)
        path = _hessian.PATHS[_hessian._plan(n, d, k)[0]]
        rows.append(_row("grid: kernel vs dsyrk per pair", (n, d, k),
                         f"{n * d * d * K / t_ours / 1e9:.1f} GF/s",
                         f"{n * d * d / t_syrk / 1e9:.1f} GF/s", K * t_syrk / t_ours, 1.0,
                         f"route {path}"))
    return rows


def row_fit_small(run):
    """Whole fit at C=1, (1e5, 20, 5), against the fastest scikit-learn solver."""
    return [_fit_l2_row(run, *FIT_TARGETS[0])]


def row_fit_wide(run):
    """Whole fit at C=1, (5e4, 100, 10) (Hessian-free Newton), against scikit-learn."""
    return [_fit_l2_row(run, *FIT_TARGETS[1])]


def row_cross_validation(run):
    """LogisticRegressionCV against scikit-learn's (``_bench_model_selection``)."""
    from ._bench_model_selection import cv_rows
    return cv_rows(rounds=min(run.repeats, 3))


def row_small_fits(run):
    """Small fits on bundled data sets against scikit-learn's fastest solver."""
    from ._bench_model_selection import small_fit_rows
    return small_fit_rows(rounds=3 * run.repeats)


def row_sparse(run):
    """The sparse kernel against the dense one, sparse fits against scikit-learn."""
    from ._bench_sparse import sparse_fit_rows, sparse_hessian_row
    return [sparse_hessian_row()] + sparse_fit_rows()


def row_inference(run):
    """Marginal effects and score tests against statsmodels (``inference_table``)."""
    return inference_table(repeats=min(run.repeats, 3))


def row_fit_mnlogit(run):
    """Unpenalized fit against statsmodels' MNLogit."""
    return [_mnlogit_row(run)]


# (title, function, in the quick default run): the table's rows in order
ROWS = [
    ("kernel, compute-bound", row_kernel_compute, True),
    ("kernel, narrow", row_kernel_narrow, True),
    ("kernel vs NumPy reference", row_kernel_reference, True),
    ("machine limits", row_machine_limit, False),
    ("thread scaling", row_thread_scaling, False),
    ("design grid", row_grid, False),
    ("fit (1e5, 20, 5)", row_fit_small, True),
    ("fit (5e4, 100, 10)", row_fit_wide, False),
    ("fit vs MNLogit", row_fit_mnlogit, False),
    ("inference vs statsmodels", row_inference, False),
    ("cross-validation vs scikit-learn", row_cross_validation, False),
    ("small fits vs scikit-learn", row_small_fits, False),
    ("sparse Hessian and sparse fits", row_sparse, False),
]


def run_rows(entries, run, progress=None):
    """Call each ``(title, function, quick)`` of ``entries``; a progress line per
    entry to ``progress`` (a file, or None).  Returns the rows."""
    rows = []
    for i, (title, function, _) in enumerate(entries, 1):
        if progress is not None:
            print(f"[{i}/{len(entries)}] {title} ...", end="", file=progress, flush=True)
        start = time.perf_counter()
        rows.extend(function(run))
        if progress is not None:
            print(f" {time.perf_counter() - start:.1f} s", file=progress, flush=True)
    return rows


def kernel_table(*, quick=False, repeats=None, n_threads=None, grid=True):
    """The kernel rows (every one, ``grid``: with the design grid) as row dicts.

    Each row: ``what``, ``shape`` (n, d, k), ``figure`` and ``yardstick``
    (strings with units), ``ratio`` (float or None), ``target``, ``met``
    (True/False, None when not measured), ``note``.  ``quick`` divides n by 10
    (a smoke run: the ratios are then not the targets' figures).
    """
    run = BenchRun(threads=n_threads, repeats=(3 if quick else 5) if repeats is None else repeats,
                   scale=10 if quick else 1)
    kernel = [e for e in ROWS if e[1].__name__.startswith(("row_kernel", "row_machine",
                                                           "row_thread"))]
    if grid:
        kernel.append(next(e for e in ROWS if e[1] is row_grid))
    return run_rows(kernel, run)


def environment_lines():
    """The machine and library versions, printed with every table."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for name in ("logreg", "numpy", "scipy", "sklearn", "statsmodels", "threadpoolctl"):
        try:
            module = __import__(name)
            versions.append(f"{'scikit-learn' if name == 'sklearn' else name} "
                            f"{getattr(module, '__version__', '?')}")
        except ImportError:
            versions.append(f"{name} not installed")
    return [f"machine: {cpu}; {_default_threads()} cores available; {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}",
            f"kernel: SIMD {_hessian.simd_level()}, OpenMP "
            f"{'on' if _hessian.openmp_enabled() else 'off'}",
            "versions: " + ", ".join(versions)]


def format_kernel_table(rows):
    """The rows as a fixed-width text table; notes become numbered footnotes."""
    head = ("what", "n, d, k", "logreg", "yardstick", "ratio", "target", "met")
    body, notes = [], []
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        target = "-" if r["target"] is None else f">={r['target']:g}x"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        what = r["what"]
        if r["note"]:
            notes.append(r["note"])
            what += f" [{len(notes)}]"
        n, d, k = r["shape"]
        body.append((what, f"{n:.0e}, {d}, {k}".replace("e+0", "e"), r["figure"],
                     r["yardstick"], ratio, target, met))
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head).rstrip(), "  ".join("-" * w for w in widths)]
    lines.extend(fmt.format(*row).rstrip() for row in body)
    lines.extend(f"[{i}] {note}" for i, note in enumerate(notes, 1))
    return "\n".join(lines)


def run_kernel_table(file=sys.stdout, *, quick=False, repeats=None, n_threads=None, grid=True):
    """Measure and print the kernel rows; returns them."""
    rows = kernel_table(quick=quick, repeats=repeats, n_threads=n_threads, grid=grid)
    print(format_kernel_table(rows), file=file)
    return rows


# ------------------------------------------------------------------ whole fits

# (shape (n, d, k), target ratio to the fastest scikit-learn solver)
FIT_TARGETS = [((100_000, 20, 5), 6.0), ((50_000, 100, 10), 3.0)]
# unpenalized fit against statsmodels MNLogit (target >= 30x)
MNLOGIT_TARGET = ((100_000, 20, 5), 30.0)
SKLEARN_SOLVERS = ("newton-cholesky", "lbfgs", "newton-cg")


def _fit_data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = 0.5 * rng.standard_normal((d, k))
    return X, np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)


def _objective(coef, intercept, X, y, C):
    """scikit-learn's objective ``C sum CE + 0.5 ||coef||^2`` (multinomial)."""
    Z = X @ coef.T + intercept
    Z -= Z.max(axis=1, keepdims=True)
    ce = -(Z[np.arange(len(y)), y] - np.log(np.exp(Z).sum(axis=1))).sum()
    return C * ce + 0.5 * float(np.sum(coef**2))


# Every solver, ours included, runs at the loosest of these tolerances whose fit
# reaches the optimum (objective within OPTIMUM_RTOL of the best one found):
# a peer held to a needlessly strict tol would flatter the ratio.
TOL_LADDER = (1e-4, 1e-6, 1e-8, 1e-10)
OPTIMUM_RTOL = 1e-9


def _at_the_optimum(make, fit, objective, f_best):
    """The loosest tol of TOL_LADDER at which ``fit(make(tol))`` reaches ``f_best``:
    ``(tol, seconds of that untimed fit, model)``, or ``(None, inf, None)``."""
    import warnings

    for tol in TOL_LADDER:
        model = make(tol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            fit(model)
            t = time.perf_counter() - t
        if (objective(model) - f_best) / abs(f_best) <= OPTIMUM_RTOL:
            return tol, t, model
    return None, np.inf, None


def _timed(make, fit, tol, repeats):
    import warnings

    model = make(tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _best_interleaved([lambda: fit(model)], repeats)[0]


def _fit_l2_row(run, shape, target, repeats=None):
    """A fit at C=1 against the fastest of scikit-learn's solvers, each (ours too)
    at the loosest tol of ``TOL_LADDER`` that reaches the optimum (objective
    within 1e-9 relative of a tol=1e-12 logreg fit); peers whose untimed fit is
    over twice the best one are not timed again."""
    from ._model import LogisticRegression

    repeats = 2 if repeats is None else repeats
    try:
        from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    except ImportError:
        SkLogisticRegression = None
    n, d, k = run.shape(*shape)
    X, y = _fit_data(n, d, k)
    fit = lambda model: model.fit(X, y)  # noqa: E731
    objective = lambda m: _objective(m.coef_, m.intercept_, X, y, 1.0)  # noqa: E731
    f_best = objective(LogisticRegression(C=1.0, tol=1e-12).fit(X, y))
    ours = lambda tol: LogisticRegression(C=1.0, tol=tol)  # noqa: E731
    tol_ours, _, model = _at_the_optimum(ours, fit, objective, f_best)
    t_ours = _timed(ours, fit, tol_ours, repeats)
    what = "fit C=1 vs fastest scikit-learn"
    figure = f"{t_ours:.3f} s ({model.n_iter_} it)"
    if SkLogisticRegression is None:
        return _row(what, (n, d, k), figure, "not installed", None, target,
                    "scikit-learn is not installed")
    found = {}
    for solver in SKLEARN_SOLVERS:
        peer = lambda tol, solver=solver: SkLogisticRegression(  # noqa: E731
            solver=solver, C=1.0, tol=tol, max_iter=10_000)
        tol, t_first, _ = _at_the_optimum(peer, fit, objective, f_best)
        if tol is not None:
            found[solver] = (peer, tol, t_first)
    if not found:
        return _row(what, (n, d, k), figure, "no peer reached the optimum", None, target)
    fastest_first = min(t for _, _, t in found.values())
    best_name, best_t, best_tol = None, np.inf, None
    for solver, (peer, tol, t_first) in found.items():
        if t_first > 2 * fastest_first:
            continue
        t = _timed(peer, fit, tol, repeats)
        if t < best_t:
            best_name, best_t, best_tol = solver, t, tol
    return _row(what, (n, d, k), figure, f"{best_t:.3f} s {best_name}", best_t / t_ours, target,
                f"tol: logreg {tol_ours:g}, {best_name} {best_tol:g}")


def _mnlogit_row(run, repeats=None):
    """An unpenalized fit against statsmodels' MNLogit (newton), the same tolerance rule."""
    from ._model import LogisticRegression

    repeats = 2 if repeats is None else repeats
    (n, d, k), target = MNLOGIT_TARGET
    n, d, k = run.shape(n, d, k)
    X, y = _fit_data(n, d, k, seed=1)
    fit = lambda model: model.fit(X, y)  # noqa: E731
    what = "fit unpenalized vs statsmodels MNLogit"

    def loss(coef, intercept):
        return _objective(coef, intercept, X, y, 1.0) - 0.5 * float(np.sum(coef**2))

    objective = lambda m: loss(m.coef_, m.intercept_)  # noqa: E731
    f_best = objective(LogisticRegression(penalty=None, tol=1e-12).fit(X, y))
    ours = lambda tol: LogisticRegression(penalty=None, tol=tol)  # noqa: E731
    tol_ours, _, _ = _at_the_optimum(ours, fit, objective, f_best)
    t_ours = _timed(ours, fit, tol_ours, repeats)
    try:
        import statsmodels.api as sm
    except ImportError:
        return _row(what, (n, d, k), f"{t_ours:.3f} s", "not installed", None, target,
                    "statsmodels is not installed")
    Xc = sm.add_constant(X)

    class MNLogitFit:
        """statsmodels' MNLogit behind the make/fit/objective protocol above."""

        def __init__(self, tol):
            self.tol = tol

        def fit(self, X_, y_):
            params = sm.MNLogit(y, Xc).fit(method="newton", disp=0, tol=self.tol,
                                           maxiter=100).params
            # reference class 0: logits (0, X b_1, ..., X b_{k-1})
            B = np.column_stack([np.zeros(Xc.shape[1]), np.asarray(params)])
            self.coef_, self.intercept_ = B[1:].T, B[0]
            return self

    tol_sm, _, _ = _at_the_optimum(MNLogitFit, fit, objective, f_best)
    if tol_sm is None:
        return _row(what, (n, d, k), f"{t_ours:.3f} s", "MNLogit missed the optimum", None,
                    target)
    t_sm = _timed(MNLogitFit, fit, tol_sm, repeats)
    return _row(what, (n, d, k), f"{t_ours:.3f} s", f"{t_sm:.3f} s", t_sm / t_ours, target,
                f"tol: logreg {tol_ours:g}, MNLogit {tol_sm:g}")


def fit_table(*, repeats=2):
    """Every whole-fit row (``FIT_TARGETS``, then ``MNLOGIT_TARGET``) as row dicts
    like ``kernel_table``'s."""
    run = BenchRun(repeats=repeats)
    rows = [_fit_l2_row(run, shape, target, repeats) for shape, target in FIT_TARGETS]
    return rows + [_mnlogit_row(run, repeats)]


# ------------------------------------------------------ inference beyond bse

# (shape, target): marginal effects against statsmodels' get_margeff (at="overall",
# dydx), and single-column score tests against statsmodels refits + LR tests
MARGINS_TARGET = ((100_000, 20, 5), 20.0)
SCORE_TESTS_TARGET = ((20_000, 10, 3), 1000, 50.0)
# statsmodels' get_margeff holds n x (k p) x ((k-1) p) complex Jacobians (14 GB at
# (1e5, 20, 5)): it is timed on this many rows and scaled linearly in n
MARGINS_PEER_ROWS = 5_000
# statsmodels refits + LR tests are timed on this many of the candidate columns
SCORE_PEER_COLUMNS = 10


def _median_interleaved(funcs, repeats):
    """Median and (min, max) wall time of each callable, rounds interleaved."""
    times = [[] for _ in funcs]
    for _ in range(repeats):
        for i, f in enumerate(funcs):
            t = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t)
    return [(float(np.median(t)), min(t), max(t)) for t in times]


def _spread(t, scale=1.0):
    median, lo, hi = (v * scale for v in t)
    return f"{median:.3g} s ({lo:.3g}-{hi:.3g})"


def inference_table(*, repeats=3, shapes=None):
    """Marginal effects and score tests against statsmodels, same run, interleaved.

    Each side's median over ``repeats`` interleaved rounds, with its range; the
    statsmodels side is timed on a part of the work (rows of ``X`` for
    ``get_margeff``, candidate columns for the refits) and scaled linearly,
    which the note says.  Returns row dicts like ``kernel_table``;
    ``shapes`` overrides ``((n, d, k), (n, d, k, m))`` for smoke runs.
    """
    import warnings

    from ._model import LogisticRegression

    from scipy import special

    (shape_me, target_me), (shape_st, m, target_st) = MARGINS_TARGET, SCORE_TESTS_TARGET
    if shapes is not None:
        shape_me, (*shape_st, m) = shapes
        shape_st = tuple(shape_st)
    rows = []
    try:
        import statsmodels.api as sm
    except ImportError:
        sm = None

    n, d, k = shape_me
    X, y = _fit_data(n, d, k, seed=2)
    res = LogisticRegression(penalty=None).fit(X, y).inference()
    what = "Marginal effects (overall, dy/dx, delta-method bse) vs statsmodels get_margeff"
    if sm is None:
        (t_ours,) = _median_interleaved([lambda: res.marginal_effects(X)], repeats)
        rows.append(_row(what, shape_me, _spread(t_ours), "statsmodels not installed", None,
                         target_me))
    else:
        sub = min(MARGINS_PEER_ROWS, n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peer = sm.MNLogit(y[:sub], sm.add_constant(X[:sub], prepend=False)).fit(
                disp=0, method="newton", tol=1e-10)
        t_ours, t_sm = _median_interleaved(
            [lambda: res.marginal_effects(X), lambda: peer.get_margeff()], repeats)
        scale = n / sub
        rows.append(_row(what, shape_me, _spread(t_ours), _spread(t_sm, scale),
                         t_sm[0] * scale / t_ours[0], target_me,
                         f"statsmodels on {sub} of {n} rows, times x{scale:g} (its Jacobian "
                         "would need ~14 GB at full n)"))

    n, d, k = shape_st
    X, y = _fit_data(n, d, k, seed=3)
    Z = np.random.default_rng(4).standard_normal((n, m))
    res = LogisticRegression(penalty=None).fit(X, y).inference()
    what = f"{m} single-column score tests vs statsmodels MNLogit refits + LR tests"

    def ours():
        return res.score_test(Z, X=X, y=y, joint=False)

    if sm is None:
        (t_ours,) = _median_interleaved([ours], repeats)
        rows.append(_row(what, shape_st, _spread(t_ours), "statsmodels not installed", None,
                         target_st))
        return rows
    Xc = sm.add_constant(X, prepend=False)
    cols = min(SCORE_PEER_COLUMNS, m)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        llf0 = sm.MNLogit(y, Xc).fit(disp=0, method="newton", tol=1e-8).llf  # once, as ours

    def refits():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for j in range(cols):
                llf1 = sm.MNLogit(y, np.column_stack([Xc, Z[:, j]])).fit(
                    disp=0, method="newton", tol=1e-8).llf
                special.chdtrc(k - 1, 2 * (llf1 - llf0))

    t_ours, t_sm = _median_interleaved([ours, refits], repeats)
    scale = m / cols
    rows.append(_row(what, shape_st, _spread(t_ours), _spread(t_sm, scale),
                     t_sm[0] * scale / t_ours[0], target_st,
                     f"statsmodels: {cols} of {m} refits timed, x{scale:g}"))
    return rows




def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m logreg bench",
        description="Time logreg against its yardsticks (dsyrk, the NumPy reference,\n"
                    "scikit-learn, statsmodels) in one run, as ratios. The default is a\n"
                    "quick subset (under a minute); --full runs every row (15 minutes or more).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="rows:\n" + "\n".join(f"  {title}{'' if quick else '  (--full only)'}"
                                      for title, _, quick in ROWS))
    parser.add_argument("--full", action="store_true", help="run every row, not the quick subset")
    parser.add_argument("--repeats", type=int, default=5, metavar="N",
                        help="timed rounds per kernel measurement (default 5)")
    parser.add_argument("--threads", type=int, default=None, metavar="T",
                        help="threads for logreg and the BLAS yardsticks (default: all cores)")
    return parser


def main(argv=None, file=None):
    """``python -m logreg bench [--full] [--repeats N] [--threads T]``."""
    args = _parser().parse_args(argv)
    file = sys.stdout if file is None else file
    run = BenchRun(threads=args.threads, repeats=args.repeats)
    entries = ROWS if args.full else [e for e in ROWS if e[2]]
    for line in environment_lines():
        print(line, file=file)
    print(f"{run.threads} threads; {'every row' if args.full else 'quick subset (--full for every row)'}"
          "; ratio = yardstick time / logreg time (higher is better for logreg)\n", file=file,
          flush=True)
    rows = run_rows(entries, run, progress=sys.stderr)
    print(format_kernel_table(rows), file=file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
