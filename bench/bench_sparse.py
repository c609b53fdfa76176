"""Sparse X (CSR): whole fits against scikit-learn, and the sparse Hessian.

    python -m pytest bench/bench_sparse.py --benchmark-group-by=group --benchmark-autosave

Groups:

* ``sparse fit <problem>``: logreg and scikit-learn's newton-cg and lbfgs on
  the one-hot (C=1) and TF-IDF-like (C=10) problems of
  ``logreg._bench_sparse``, each at tol=1e-6; every member's objective is
  recorded against the best one (``extra_info``), and logreg's and
  newton-cg's must reach it within 1e-6 relative (lbfgs may stop short).
* ``sparse hessian n=... d=... k=...``: ``logreg.hessian`` on one-hot CSR,
  the dense kernel on its dense copy, and the NumPy reference (seed
  algorithm) on that copy.
* ``sparse hessian-free parts ...``: on the TF-IDF-like problem, what one
  Newton-CG iteration repeats (a Hessian-vector product, a preconditioner
  solve) and what it refreshes (building the block-diagonal preconditioner).

With ``--benchmark-disable`` (CI smoke) n shrinks tenfold.
"""
import functools
import warnings

import numpy as np
import pytest

import logreg
from logreg import _bench_sparse as problems
from logreg._validation import check_n_threads

OBJECTIVE_RTOL = problems.OPTIMUM_RTOL


def _small(request):
    return request.config.getoption("benchmark_disable")


@functools.lru_cache(maxsize=None)
def problem(name, small):
    if name == "onehot":
        n, f, levels, k = problems.ONEHOT_SHAPE
        X, y = problems.onehot_data(n // 10 if small else n, f, levels, k)
        return X, y, problems.ONEHOT_C
    n, vocabulary, per_row, k = problems.TFIDF_SHAPE
    X, y = problems.tfidf_data(n // 10 if small else n, vocabulary, per_row, k)
    return X, y, problems.TFIDF_C


@functools.lru_cache(maxsize=None)
def best_objective(name, small):
    X, y, C = problem(name, small)
    m = logreg.LogisticRegression(C=C, tol=1e-10).fit(X, y)
    return problems.objective(m.coef_, m.intercept_, X, y, C)


def fit_with(who, X, y, C):
    if who == "logreg":
        return logreg.LogisticRegression(C=C, tol=1e-6).fit(X, y)
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(solver=who.split("-", 1)[1], C=C, tol=1e-6,
                                  max_iter=10_000).fit(X, y)


@pytest.mark.parametrize("name", ["onehot", "tfidf"])
@pytest.mark.parametrize("who", ["logreg", "sklearn-newton-cg", "sklearn-lbfgs"])
def bench_sparse_fit(benchmark, request, name, who):
    if who.startswith("sklearn"):
        pytest.importorskip("sklearn")
    X, y, C = problem(name, _small(request))
    benchmark.group = f"sparse fit {name} n={X.shape[0]} d={X.shape[1]} C={C:g}"
    benchmark.extra_info.update(threads=check_n_threads(None), nnz=int(X.nnz))
    model = benchmark.pedantic(lambda: fit_with(who, X, y, C),
                               rounds=1 if _small(request) else 3, iterations=1)
    best = best_objective(name, _small(request))
    gap = (problems.objective(model.coef_, model.intercept_, X, y, C) - best) / abs(best)
    benchmark.extra_info["objective_rel_gap"] = gap
    if who == "logreg":
        benchmark.extra_info["route"] = model.history_[0]["route"]
    if who != "sklearn-lbfgs":
        assert gap <= OBJECTIVE_RTOL, (who, gap)


@pytest.mark.parametrize("who", ["sparse", "dense-kernel", "numpy-reference"])
def bench_sparse_hessian(benchmark, request, who):
    n = problems.HESSIAN_ROWS // (10 if _small(request) else 1)
    _, f, levels, k = problems.ONEHOT_SHAPE
    X, _ = problems.onehot_data(n, f, levels, k)
    P = logreg.reference.softmax(np.random.default_rng(0).standard_normal((n, k)))
    benchmark.group = f"sparse hessian n={n} d={X.shape[1]} k={k}"
    benchmark.extra_info.update(threads=check_n_threads(None), nnz=int(X.nnz))
    if who == "sparse":
        run = lambda: logreg.hessian(X, P, fit_intercept=True)  # noqa: E731
    elif who == "dense-kernel":
        Xd = X.toarray()
        run = lambda: logreg.hessian(Xd, P, fit_intercept=True)  # noqa: E731
    else:
        Xd1 = np.column_stack([X.toarray(), np.ones(n)])
        run = lambda: logreg.reference.hessian(Xd1, P)  # noqa: E731
    H = benchmark.pedantic(run, rounds=1 if _small(request) else 3, iterations=1)
    assert np.all(np.isfinite(H))


@pytest.mark.parametrize("part", ["hessian-vector product", "preconditioner solve",
                                  "preconditioner build"])
def bench_sparse_hessian_free_parts(benchmark, request, part):
    from logreg import _sparse_oracle
    from logreg._validation import check_X_sparse

    X, y, C = problem("tfidf", _small(request))
    k = int(y.max()) + 1
    oracle = _sparse_oracle.SparseHessianFreeOracle(
        _sparse_oracle.SparseDesign(check_X_sparse(X)), y, None, k=k, fit_intercept=True,
        n_threads=check_n_threads(None))
    p = oracle.p
    rng = np.random.default_rng(0)
    coef, vector = 0.1 * rng.standard_normal((2, k, p))
    n = X.shape[0]
    kw = dict(scale=1.0 / n, l2=np.full((k, p), 1.0 / (C * n)), free=list(range(p)))
    oracle.hessian_vector_product(coef, vector)     # probabilities and CSC index cached
    M = oracle.cg_preconditioner(coef, **kw)
    benchmark.group = f"sparse hessian-free parts n={n} d={X.shape[1]} k={k}"
    benchmark.extra_info.update(threads=check_n_threads(None), nnz=int(X.nnz))
    run = {"hessian-vector product": lambda: oracle.hessian_vector_product(coef, vector),
           "preconditioner solve": lambda: M.solve(vector.ravel()),
           "preconditioner build": lambda: oracle.cg_preconditioner(coef, **kw)}[part]
    out = benchmark.pedantic(run, rounds=3 if _small(request) else 20, iterations=1)
    assert out is not None
