"""Sparse problems of the benchmarks (``python -m logreg bench``, ``bench/bench_sparse.py``).

* one-hot: ``n_features`` categorical features of ``levels`` levels each,
  one-hot encoded (CSR, one non-zero per feature and row), as
  ``OneHotEncoder`` hands them to a classifier.
* TF-IDF-like: documents of ~``nnz_per_row`` distinct terms drawn from a
  power-law (Zipf) vocabulary, term counts times idf, rows L2-normalized, as
  ``TfidfVectorizer`` makes them.

Labels come from a multinomial model on the same features.
"""
import sys
import time

import numpy as np
import scipy.sparse as sp

# the shapes: (n, categorical features, levels, k) and (n, vocabulary, nnz/row, k)
ONEHOT_SHAPE = (200_000, 25, 12, 5)
TFIDF_SHAPE = (20_000, 20_000, 60, 8)
ONEHOT_C, TFIDF_C = 1.0, 10.0
ONEHOT_TARGET, TFIDF_TARGET = 5.0, 1.0
# sparse fits meet the bar: objective within 1e-6 relative of the best
OPTIMUM_RTOL = 1e-6
SKLEARN_SOLVERS = ("newton-cg", "lbfgs", "newton-cholesky")
TOL_LADDER = (1e-4, 1e-5, 1e-6, 1e-8)


def onehot_data(n, n_features, levels, k, seed=0):
    """``(X csr float64 (n, n_features * levels), y)``; level frequencies are skewed."""
    rng = np.random.default_rng(seed)
    freq = 1.0 / np.arange(1, levels + 1)
    codes = rng.choice(levels, size=(n, n_features), p=freq / freq.sum())
    indices = (codes + levels * np.arange(n_features)).ravel()
    indptr = np.arange(0, n * n_features + 1, n_features)
    X = sp.csr_matrix((np.ones(n * n_features), indices, indptr),
                      shape=(n, n_features * levels))
    W = 0.5 * rng.standard_normal((n_features * levels, k))
    y = np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)
    return X, y


def tfidf_data(n, vocabulary, nnz_per_row, k, seed=0):
    """``(X csr float64 (n, vocabulary), y)``: Zipf term frequencies, tf-idf, unit rows."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / (np.arange(vocabulary) + 10.0) ** 1.1
    zipf /= zipf.sum()
    terms = rng.choice(vocabulary, size=n * nnz_per_row, p=zipf)
    rows = np.repeat(np.arange(n), nnz_per_row)
    counts = sp.csr_matrix((np.ones(n * nnz_per_row), (rows, terms)), shape=(n, vocabulary))
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=vocabulary)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    X = counts.multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.diags(1.0 / np.maximum(norms, 1e-300)) @ X
    X = sp.csr_matrix(X)
    X.sort_indices()
    W = 3.0 * rng.standard_normal((vocabulary, k))
    y = np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)
    return X, y


def objective(coef, intercept, X, y, C):
    """scikit-learn's objective ``C sum CE + 0.5 ||coef||^2`` (multinomial), X sparse."""
    Z = np.asarray(X @ coef.T) + intercept
    Z -= Z.max(axis=1, keepdims=True)
    ce = -(Z[np.arange(len(y)), y] - np.log(np.exp(Z).sum(axis=1))).sum()
    return C * ce + 0.5 * float(np.sum(coef**2))


def _peak_traced(fn):
    """Peak bytes allocated (``tracemalloc``: NumPy's buffers included) while
    ``fn()`` runs, above what was allocated before."""
    import tracemalloc

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _fit_quietly(model, X, y):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def _median_range(times):
    return float(np.median(times)), float(min(times)), float(max(times))


def _loosest_tol(make, X, y, f_obj, f_best):
    """``(tol, seconds, model)`` of the loosest ``TOL_LADDER`` tol whose fit reaches
    the optimum (objective within ``OPTIMUM_RTOL`` of ``f_best``), else None."""
    for tol in TOL_LADDER:
        model = make(tol)
        t = time.perf_counter()
        _fit_quietly(model, X, y)
        t = time.perf_counter() - t
        if (f_obj(model) - f_best) / abs(f_best) <= OPTIMUM_RTOL:
            return tol, t, model
    return None


def sparse_fit_rows(*, repeats=3, quick=False):
    """The two sparse targets: logreg against the fastest scikit-learn solver that
    reaches the optimum (objective within ``OPTIMUM_RTOL`` of a tol=1e-10 logreg
    fit), each (logreg too) at the loosest tol of ``TOL_LADDER`` that reaches
    it; fits interleaved, medians with ranges; the route logreg took and the
    peak memory its fit allocates (an untimed fit under ``tracemalloc``)
    against X's dense size.  newton-cholesky is tried only where its dense
    Hessian is cheap (``n (k p)^2 <= 1e10`` flops an iteration);
    sag/saga are not tried (they need scaled features and many epochs).
    ``quick`` divides n by 10 (a smoke run).  Returns row dicts like
    ``logreg._bench.kernel_table``."""
    from ._bench import _row
    from ._model import LogisticRegression

    try:
        from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    except ImportError:
        SkLogisticRegression = None
    rows = []
    problems = [("one-hot", onehot_data(*ONEHOT_SHAPE), ONEHOT_C, ONEHOT_TARGET),
                ("TF-IDF-like", tfidf_data(*TFIDF_SHAPE), TFIDF_C, TFIDF_TARGET)]
    if quick:
        problems = [(name, (X[: X.shape[0] // 10], y[: X.shape[0] // 10]), C, target)
                    for name, (X, y), C, target in problems]
    for name, (X, y), C, target in problems:
        what = f"Sparse fit, {name}, C={C:g}, vs the fastest scikit-learn solver"
        k = int(y.max()) + 1
        shape = (X.shape[0], X.shape[1], k)
        f_obj = lambda m: objective(m.coef_, m.intercept_, X, y, C)  # noqa: E731
        f_best = f_obj(_fit_quietly(LogisticRegression(C=C, tol=1e-10), X, y))
        tol_ours, _, ours = _loosest_tol(lambda tol: LogisticRegression(C=C, tol=tol),
                                         X, y, f_obj, f_best)
        peak = _peak_traced(lambda: _fit_quietly(ours, X, y))
        figure = (f"{{time}} ({ours.n_iter_} it, {ours.history_[0]['route']}; peak "
                  f"+{peak / 2**20:.1f} MiB, dense X {X.shape[0] * X.shape[1] * 8 / 2**20:.0f}"
                  " MiB)")
        if SkLogisticRegression is None:
            rows.append(_row(what, shape, figure.format(time="-"),
                             "scikit-learn not installed", None, target))
            continue
        peers = {}
        for solver in SKLEARN_SOLVERS:
            if solver == "newton-cholesky" and X.shape[0] * (k * X.shape[1]) ** 2 > 1e10:
                continue        # its dense (k p)^2 Hessian: minutes per iteration
            found = _loosest_tol(lambda tol, solver=solver: SkLogisticRegression(
                solver=solver, C=C, tol=tol, max_iter=10_000), X, y, f_obj, f_best)
            if found is not None:
                peers[solver] = found
        if not peers:
            rows.append(_row(what, shape, figure.format(time="-"),
                             "no peer reached the optimum", None, target))
            continue
        solver, (tol, _, peer) = min(peers.items(), key=lambda item: item[1][1])
        ours_t, peer_t = [], []
        for _ in range(repeats):        # interleaved
            for model, times in ((peer, peer_t), (ours, ours_t)):
                t = time.perf_counter()
                _fit_quietly(model, X, y)
                times.append(time.perf_counter() - t)
        mo, lo_o, hi_o = _median_range(ours_t)
        mp, lo_p, hi_p = _median_range(peer_t)
        rows.append(_row(what, shape, figure.format(time=f"{mo:.2f} s [{lo_o:.2f}-{hi_o:.2f}]"),
                         f"{mp:.2f} s [{lo_p:.2f}-{hi_p:.2f}] {solver}", mp / mo, target,
                         f"ratio range {lo_p / hi_o:.1f}-{hi_p / lo_o:.1f}; tol: logreg "
                         f"{tol_ours:g}, {solver} {tol:g}; optimum within {OPTIMUM_RTOL:g}"))
    return rows


HESSIAN_ROWS = 50_000      # the one-hot Hessian row: its dense copy is 120 MB


def sparse_hessian_row(*, repeats=5, quick=False):
    """``logreg.hessian`` on one-hot CSR against the dense kernel on the dense copy
    of the same X (both k = 5, with intercept), interleaved; the ratio is dense
    time over sparse time (the sparse kernel's cost follows nnz per row)."""
    from ._bench import _best_interleaved, _row
    from ._kernel import hessian
    from .reference import softmax

    n = HESSIAN_ROWS // (10 if quick else 1)
    X, _ = onehot_data(n, *ONEHOT_SHAPE[1:])
    k = ONEHOT_SHAPE[3]
    P = softmax(np.random.default_rng(0).standard_normal((n, k)))
    Xd = X.toarray()
    t_sparse, t_dense = _best_interleaved(
        [lambda: hessian(X, P, fit_intercept=True), lambda: hessian(Xd, P, fit_intercept=True)],
        repeats)
    return _row("Sparse Hessian (one-hot CSR) vs the dense kernel on its dense copy",
                (n, X.shape[1], k), f"{t_sparse * 1e3:.1f} ms", f"{t_dense * 1e3:.1f} ms dense",
                t_dense / t_sparse, None, f"{X.nnz // n} non-zeros a row; best of {repeats}")


if __name__ == "__main__":
    from ._bench import format_kernel_table

    quick = "--quick" in sys.argv
    print(format_kernel_table([sparse_hessian_row(quick=quick)] + sparse_fit_rows(quick=quick)))
