"""The kernel's performance targets (issue 4), each next to its yardstick measured in the same run.

``python -m logreg bench`` calls :func:`run_kernel_table`.  Every figure is a
ratio of two timings taken in this process, interleaved (yardstick, ours,
yardstick, ours, ...) and reduced to the best of several repeats, so a busy
machine slows both sides alike.  Peers that are not installed are reported as
such.

Yardsticks
----------
* dsyrk: ``scipy.linalg.blas.dsyrk`` on the ``n x p`` operand (the faster of
  the two no-copy layouts), useful flops ``n p^2``; logreg's useful flops are
  ``n p^2 K``, ``K = k(k-1)/2``.
* scikit-learn: ``LinearModelLoss(HalfMultinomialLoss).gradient_hessian`` from
  the coefficients (gradient AND Hessian); logreg does the same work with
  ``loss_gradient_pairs`` + ``hessian_from_pairs`` (loss too).
* the seed: ``logreg.reference.hessian`` (NumPy double loop over class pairs).
"""
import os
import sys
import time

import numpy as np

from . import _hessian, _kernel
from . import reference as _reference
from ._kernel import hessian as _hessian_public

# (name, shape (n, d, k), target): the rows of issue 4's table for the kernel
TARGETS = {
    "compute": (50_000, 128, 10, 1.2),
    "narrow": (200_000, 16, 5, 4.0),
    "seed": (20_000, 50, 10, 15.0),
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


def kernel_table(*, quick=False, repeats=None, n_threads=None, grid=True):
    """Measure the kernel targets; returns a list of row dicts.

    Each row: ``what``, ``shape`` (n, d, k), ``figure`` and ``yardstick``
    (strings with units), ``ratio`` (float or None), ``target``, ``met``
    (True/False, None when not measured), ``note``.  ``quick`` divides n by 10
    (a smoke run: the ratios are then not the targets' figures).
    """
    T = _default_threads() if n_threads is None else int(n_threads)
    repeats = (3 if quick else 5) if repeats is None else int(repeats)
    scale = 10 if quick else 1
    rows = []

    def shape_of(n, d, k):
        return (max(n // scale, 1000), d, k)

    # 1. compute-bound: useful GF/s against dsyrk's rate, same threads
    n, d, k, target = TARGETS["compute"]
    n, d, k = shape_of(n, d, k)
    X, P, _, _ = _data(n, d, k)
    K = k * (k - 1) // 2
    H = np.empty((k * d, k * d))
    with _blas_limit(T):
        syrk = _dsyrk_call(X)
        t_syrk, t_ours = _best_interleaved(
            [syrk, lambda: _hessian_public(X, P, out=H, n_threads=T)], repeats
        )
    gf_ours = n * d * d * K / t_ours / 1e9
    gf_syrk = n * d * d / t_syrk / 1e9
    rows.append(_row("Hessian kernel, compute-bound: useful GF/s vs dsyrk GF/s", (n, d, k),
                     f"{gf_ours:.1f} GF/s", f"{gf_syrk:.1f} GF/s", gf_ours / gf_syrk, target))

    # 2. narrow: gradient + Hessian from the coefficients, against scikit-learn's route
    n, d, k, target = TARGETS["narrow"]
    n, d, k = shape_of(n, d, k)
    X, P, y, coef = _data(n, d, k, seed=1)
    sk = _sklearn_gradient_hessian(k, True)
    what = "Hessian kernel, narrow: gradient+Hessian vs scikit-learn gradient_hessian"
    p = d + 1
    H = np.empty((k * p, k * p))

    def ours():
        _, _, pairs = _kernel.loss_gradient_pairs(X, y, None, coef, True, T)
        _hessian.hessian_from_pairs(pairs, k, p, H)

    if sk is None:
        (t_ours,) = _best_interleaved([ours], repeats)
        rows.append(_row(what, (n, d, k), f"{t_ours * 1e3:.1f} ms", "not installed", None, target,
                         "scikit-learn is not installed"))
    else:
        y_sk = y.astype(np.float64)
        t_sk, t_ours = _best_interleaved([lambda: sk(coef, X, y_sk, T), ours], repeats)
        rows.append(_row(what, (n, d, k), f"{t_ours * 1e3:.1f} ms", f"{t_sk * 1e3:.1f} ms",
                         t_sk / t_ours, target, "fit_intercept=True, same threads"))

    # 3. against the seed's NumPy Hessian
    n, d, k, target = TARGETS["seed"]
    n, d, k = shape_of(n, d, k)
    X, P, _, _ = _data(n, d, k, seed=2)
    H = np.empty((k * d, k * d))
    with _blas_limit(T):
        t_ref, t_ours = _best_interleaved(
            [lambda: _reference.hessian(X, P), lambda: _hessian_public(X, P, out=H, n_threads=T)],
            max(2, repeats // 2),
        )
    rows.append(_row("Hessian kernel vs the seed's NumPy Hessian (logreg.reference)", (n, d, k),
                     f"{t_ours * 1e3:.2f} ms", f"{t_ref * 1e3:.1f} ms", t_ref / t_ours, target))
    # ... and how close that run is to the machine's limit: the useful rate next to
    # a large square dgemm (the best rate BLAS reaches here, same threads)
    K = k * (k - 1) // 2
    A = np.random.default_rng(5).standard_normal((PEAK_DGEMM_SIZE, PEAK_DGEMM_SIZE))
    with _blas_limit(T):
        (t_gemm,) = _best_interleaved([lambda: A @ A], max(2, repeats // 2))
    gf_seed_shape = n * d * d * K / t_ours / 1e9
    gf_peak = 2 * PEAK_DGEMM_SIZE**3 / t_gemm / 1e9
    rows.append(_row("  same shape: useful GF/s vs a large square dgemm (machine peak)",
                     (n, d, k), f"{gf_seed_shape:.1f} GF/s", f"{gf_peak:.1f} GF/s",
                     gf_seed_shape / gf_peak, None,
                     f"15x the seed needs {15 * gf_seed_shape * t_ours / t_ref:.0f} GF/s"))
    # ... and next to BLAS on the minimal product itself: the packed outer products
    # U (p(p+1)/2 x n, given for free) times the pair weights (n x K), one dgemm
    P2 = d * (d + 1) // 2
    U = np.full((P2, n), 0.5)
    V = np.full((n, K), 0.25)
    with _blas_limit(T):
        (t_uv,) = _best_interleaved([lambda: U @ V], max(2, repeats // 2))
    U = V = None        # 200 MB at the full shape: released before the next rows
    rows.append(_row("  same shape: useful GF/s vs one dgemm U^T V (outer products given)",
                     (n, d, k), f"{gf_seed_shape:.1f} GF/s",
                     f"{n * d * d * K / t_uv / 1e9:.1f} GF/s", t_uv / t_ours, None,
                     "the minimal flops as one BLAS product"))

    # 4. thread scaling 1 -> T of logreg.hessian, on the compute-bound and the narrow shape
    target = TARGETS["threads"]
    for key in ("compute", "narrow"):
        n, d, k, _ = TARGETS[key]
        n, d, k = shape_of(n, d, k)
        X, P, _, _ = _data(n, d, k, seed=3)
        H = np.empty((k * d, k * d))
        t1, tT = _best_interleaved(
            [lambda: _hessian_public(X, P, out=H, n_threads=1),
             lambda: _hessian_public(X, P, out=H, n_threads=T)], repeats
        )
        note = "" if T > 1 else "one core available: scaling not measurable"
        rows.append(_row(f"Hessian kernel thread scaling 1 -> {T} threads ({key})", (n, d, k),
                         f"{tT * 1e3:.2f} ms ({T} thr)", f"{t1 * 1e3:.2f} ms (1 thr)",
                         t1 / tT if T > 1 else None, target, note))

    # 5. the design grid: logreg.hessian against K calls of dsyrk (what per-pair dsyrk would cost)
    if grid:
        for n, d, k in GRID:
            n, d, k = shape_of(n, d, k)
            X, P, _, _ = _data(n, d, k, seed=4)
            K = k * (k - 1) // 2
            H = np.empty((k * d, k * d))
            with _blas_limit(T):
                syrk = _dsyrk_call(X)
                t_syrk, t_ours = _best_interleaved(
                    [syrk, lambda: _hessian_public(X, P, out=H, n_threads=T)], repeats
                )
            path = _hessian.PATHS[_hessian._plan(n, d, k)[0]]
            rows.append(_row("grid: logreg.hessian vs one dsyrk per pair", (n, d, k),
                             f"{n * d * d * K / t_ours / 1e9:.1f} GF/s",
                             f"{n * d * d / t_syrk / 1e9:.1f} GF/s", K * t_syrk / t_ours, 1.0,
                             f"route {path}"))
    return rows


def format_kernel_table(rows):
    """The rows as a fixed-width text table."""
    head = ("what", "n, d, k", "logreg", "yardstick", "ratio", "target", "met", "note")
    lines = []
    body = []
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        target = "-" if r["target"] is None else f">= {r['target']:g}x"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        n, d, k = r["shape"]
        body.append((r["what"], f"{n:.0e}, {d}, {k}".replace("e+0", "e"), r["figure"],
                     r["yardstick"], ratio, target, met, r["note"]))
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines.append(fmt.format(*head))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt.format(*row) for row in body)
    return "\n".join(lines)


def run_kernel_table(file=sys.stdout, *, quick=False, repeats=None, n_threads=None, grid=True):
    """Measure and print the kernel table (``python -m logreg bench``); returns the rows."""
    T = _default_threads() if n_threads is None else n_threads
    print(f"logreg kernel: SIMD {_hessian.simd_level()}, OpenMP "
          f"{'on' if _hessian.openmp_enabled() else 'off'}, {T} threads"
          + (" (quick: n / 10, not the targets' shapes)" if quick else ""), file=file)
    rows = kernel_table(quick=quick, repeats=repeats, n_threads=n_threads, grid=grid)
    print(format_kernel_table(rows), file=file)
    return rows


# ------------------------------------------------------------------ whole fits

# (shape (n, d, k), target ratio to the fastest scikit-learn solver), issue 4
FIT_TARGETS = [((100_000, 20, 5), 6.0), ((50_000, 100, 10), 3.0)]
# unpenalized fit against statsmodels MNLogit (issue 4: >= 30x)
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


def fit_table(*, repeats=2):
    """Whole fits at C=1 against scikit-learn's solvers, and an unpenalized fit against
    statsmodels MNLogit.  Each solver (ours too) runs at the loosest tol of
    ``TOL_LADDER`` that reaches the optimum (objective within 1e-9 relative of
    a tol=1e-12 logreg fit); peers whose untimed fit is over twice the best one
    are not timed again.  Returns row dicts like ``kernel_table``."""
    from ._model import LogisticRegression

    rows = []
    try:
        from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    except ImportError:
        SkLogisticRegression = None
    fit = lambda model: model.fit(X, y)  # noqa: E731
    for (n, d, k), target in FIT_TARGETS:
        X, y = _fit_data(n, d, k)
        objective = lambda m: _objective(m.coef_, m.intercept_, X, y, 1.0)  # noqa: E731
        f_best = objective(LogisticRegression(C=1.0, tol=1e-12).fit(X, y))
        ours = lambda tol: LogisticRegression(C=1.0, tol=tol)  # noqa: E731
        tol_ours, _, model = _at_the_optimum(ours, fit, objective, f_best)
        t_ours = _timed(ours, fit, tol_ours, repeats)
        what = "Whole fit, C=1, vs the fastest scikit-learn solver at the same optimum"
        figure = f"{t_ours:.3f} s ({model.n_iter_} it)"
        if SkLogisticRegression is None:
            rows.append(_row(what, (n, d, k), figure, "scikit-learn not installed",
                             None, target))
            continue
        found = {}
        for solver in SKLEARN_SOLVERS:
            peer = lambda tol, solver=solver: SkLogisticRegression(  # noqa: E731
                solver=solver, C=1.0, tol=tol, max_iter=10_000)
            tol, t_first, _ = _at_the_optimum(peer, fit, objective, f_best)
            if tol is not None:
                found[solver] = (peer, tol, t_first)
        if not found:
            rows.append(_row(what, (n, d, k), figure, "no peer reached the optimum", None,
                             target))
            continue
        fastest_first = min(t for _, _, t in found.values())
        best_name, best_t, best_tol = None, np.inf, None
        for solver, (peer, tol, t_first) in found.items():
            if t_first > 2 * fastest_first:
                continue
            t = _timed(peer, fit, tol, repeats)
            if t < best_t:
                best_name, best_t, best_tol = solver, t, tol
        rows.append(_row(what, (n, d, k), figure, f"{best_t:.3f} s {best_name}",
                         best_t / t_ours, target,
                         f"tol: logreg {tol_ours:g}, {best_name} {best_tol:g}"))
    (n, d, k), target = MNLOGIT_TARGET
    X, y = _fit_data(n, d, k, seed=1)
    what = "Whole fit, unpenalized, vs statsmodels MNLogit (newton)"

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
        rows.append(_row(what, (n, d, k), f"{t_ours:.3f} s", "statsmodels not installed",
                         None, target))
        return rows
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
        rows.append(_row(what, (n, d, k), f"{t_ours:.3f} s", "MNLogit missed the optimum",
                         None, target))
        return rows
    t_sm = _timed(MNLogitFit, fit, tol_sm, repeats)
    rows.append(_row(what, (n, d, k), f"{t_ours:.3f} s", f"{t_sm:.3f} s", t_sm / t_ours,
                     target, f"tol: logreg {tol_ours:g}, MNLogit {tol_sm:g}"))
    return rows


def main(file=sys.stdout):
    """``python -m logreg bench``: the kernel table, then whole fits."""
    run_kernel_table(file=file)
    print("\nWhole fits (same process, default threads)", file=file)
    print(format_kernel_table(fit_table()), file=file)
    from ._bench_sparse import sparse_fit_rows, sparse_hessian_row

    print("\nSparse X (CSR), same process", file=file)
    print(format_kernel_table([sparse_hessian_row()] + sparse_fit_rows()), file=file)
    return 0


if __name__ == "__main__":
    run_kernel_table(quick="--quick" in sys.argv)
