"""Sparse X (scipy.sparse CSR/CSC): fits, predictions, inference and the Hessian
against the dense path on the same values, the two sparse routes against each
other, the kernel passes against NumPy oracles, and non-canonical input."""
import numpy as np
import pytest
import scipy.sparse as sp

import logreg
from logreg import _blocks, _sparse_kernel, _sparse_oracle
from logreg._validation import check_X_sparse

from .tolerances import (
    PRECONDITIONER_RTOL,
    SPARSE_DENSE_RTOL,
    SPARSE_KERNEL_RTOL,
    SPARSE_ROUTE_RTOL,
    assert_allclose_scaled,
)

FORMATS = [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array]


def sparse_problem(n=400, d=25, k=3, *, density=0.15, seed=0, weighted=True):
    """Sparse X with an empty column and an empty row, labels from a linear model."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=rng, format="csr",
                  data_rvs=lambda m: rng.normal(size=m))
    X = X.tolil()
    X[:, 3] = 0.0       # an empty column
    X[7, :] = 0.0       # an empty row
    X = X.tocsr()
    X.eliminate_zeros()
    W = rng.normal(scale=1.5, size=(d, k))
    y = np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)
    w = rng.uniform(0.2, 2.0, size=n) if weighted else None
    return X, y, w


def non_canonical(X, seed=0, exact=False):
    """The same matrix as CSR with shuffled, split (duplicate) entries and explicit
    zeros: unsorted indices, duplicates, stored zeros.  ``exact``: every entry split
    in halves (exact in any precision), else at random fractions."""
    rng = np.random.default_rng(seed)
    C = X.tocoo()
    rows, cols, vals = C.row, C.col, C.data
    split = np.full(vals.size, 0.5) if exact else rng.uniform(-1.0, 2.0, size=vals.size)
    rows = np.concatenate([rows, rows, rng.integers(0, X.shape[0], 30)])
    cols = np.concatenate([cols, cols, rng.integers(0, X.shape[1], 30)])
    vals = np.concatenate([vals * split, vals * (1 - split), np.zeros(30, dtype=vals.dtype)])
    order = rng.permutation(vals.size)
    rows, cols, vals = rows[order], cols[order], vals[order]
    # CSR arrays written directly: scipy would sum duplicates on the way
    counts = np.bincount(rows, minlength=X.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    by_row = np.argsort(rows, kind="stable")
    Y = sp.csr_matrix((vals[by_row], cols[by_row], indptr), shape=X.shape)
    assert not Y.has_sorted_indices or not Y.has_canonical_format
    return Y


def fit_pair(X, y, w=None, **params):
    sparse = logreg.LogisticRegression(tol=1e-10, **params).fit(X, y, sample_weight=w)
    dense = logreg.LogisticRegression(tol=1e-10, **params).fit(X.toarray(), y,
                                                                 sample_weight=w)
    return sparse, dense


def assert_same_fit(a, b, rtol=SPARSE_DENSE_RTOL):
    assert_allclose_scaled(a.coef_, b.coef_, rtol)
    assert_allclose_scaled(a.intercept_, b.intercept_, rtol)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_fit_equals_dense(fmt, k, fit_intercept, weighted):
    X, y, w = sparse_problem(k=k, weighted=weighted)
    a, b = fit_pair(fmt(X), y, w, fit_intercept=fit_intercept, C=2.0)
    assert_same_fit(a, b)
    assert a.history_[-1]["route"] == "full"


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_equal_dense_of_same_values(index_dtype, dtype):
    X, y, w = sparse_problem()
    X = X.astype(dtype)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    checked = check_X_sparse(X)
    assert checked.data.dtype == dtype and checked.indices.dtype == index_dtype
    a, b = fit_pair(X, y, w)
    assert_same_fit(a, b)


def test_non_canonical_input_gives_the_canonical_answer():
    X, y, w = sparse_problem(k=3)
    Y = non_canonical(X)
    np.testing.assert_allclose(Y.toarray(), X.toarray(), atol=1e-14)
    for fit_intercept in (True, False):
        params = dict(tol=1e-10, fit_intercept=fit_intercept)
        a = logreg.LogisticRegression(**params).fit(Y, y, sample_weight=w)
        b = logreg.LogisticRegression(**params).fit(X.toarray(), y, sample_weight=w)
        assert_same_fit(a, b)
    # the caller's matrix is not modified
    assert not Y.has_canonical_format


def test_unpenalized_and_inference_equal_dense():
    X, y, w = sparse_problem(n=600, d=8, density=0.5, k=3)
    X = X[:, [0, 1, 2, 4, 5, 6, 7]]        # no empty column: identifiable
    a, b = fit_pair(X, y, w, penalty=None)
    assert_same_fit(a, b)
    groups = np.arange(X.shape[0]) % 17
    for cov_type in ("nonrobust", "HC0", "HC1", "cluster"):
        kw = {} if cov_type == "nonrobust" else dict(X=X, y=y, sample_weight=w)
        if cov_type == "cluster":
            kw["groups"] = groups
        ra = a.inference(cov_type=cov_type, **kw)
        kw_dense = {**kw, "X": X.toarray()} if "X" in kw else kw
        rb = b.inference(cov_type=cov_type, **kw_dense)
        assert_allclose_scaled(ra.params, rb.params, SPARSE_DENSE_RTOL)
        assert_allclose_scaled(ra.bse, rb.bse, SPARSE_DENSE_RTOL)


@pytest.mark.parametrize("k", [2, 3])
def test_predictions_equal_dense(k):
    X, y, w = sparse_problem(k=k)
    a, b = fit_pair(X, y, w)
    Xd = X.toarray()
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        assert_allclose_scaled(getattr(a, method)(sp.csc_array(X)), getattr(b, method)(Xd),
                               SPARSE_DENSE_RTOL, err_msg=method)
    np.testing.assert_array_equal(a.predict(X), b.predict(Xd))
    assert a.score(X, y, sample_weight=w) == b.score(Xd, y, sample_weight=w)
    # a model fitted on dense data predicts on sparse data, and vice versa
    assert_allclose_scaled(b.predict_proba(X), a.predict_proba(Xd), SPARSE_DENSE_RTOL)


@pytest.mark.parametrize("k", [2, 5])
def test_hessian_free_route_reaches_the_same_optimum(monkeypatch, k):
    X, y, w = sparse_problem(n=500, d=40, k=k)
    full = logreg.LogisticRegression(C=3.0, tol=1e-10).fit(X, y, sample_weight=w)
    monkeypatch.setattr(_sparse_oracle, "HESSIAN_FREE_MIN_RATIO", 0.0)
    monkeypatch.setattr(_sparse_oracle, "HESSIAN_FREE_MIN_FLOPS", 0.0)
    if k == 2:      # the binary model always takes the full route unless it does not fit
        monkeypatch.setattr(_sparse_oracle, "HESSIAN_BUDGET_BYTES", 0)
    free = logreg.LogisticRegression(C=3.0, tol=1e-10).fit(X, y, sample_weight=w)
    assert full.history_[0]["route"] == "full"
    assert free.history_[0]["route"] == "hessian-free"
    assert {row["hessian"] for row in free.history_} == {"cg"}
    assert_same_fit(free, full, SPARSE_ROUTE_RTOL)


@pytest.mark.parametrize("k", [2, 5])
def test_newton_cg_on_the_full_route_reaches_the_same_optimum(k):
    X, y, w = sparse_problem(n=500, d=40, k=k)
    full = logreg.LogisticRegression(C=3.0, tol=1e-10).fit(X, y, sample_weight=w)
    free = logreg.LogisticRegression(solver="newton-cg", C=3.0, tol=1e-10).fit(
        X, y, sample_weight=w)
    assert {row["hessian"] for row in free.history_} <= {"cg", "kronecker"}
    assert "cg" in {row["hessian"] for row in free.history_}
    assert_same_fit(free, full, SPARSE_ROUTE_RTOL)


def test_route_choice_follows_the_shape():
    onehot = sp.csr_matrix((np.ones(2000 * 10), np.tile(np.arange(0, 50, 5), 2000),
                            np.arange(0, 2000 * 10 + 1, 10)), shape=(2000, 50))
    wide = sp.random(500, 20_000, density=0.003, random_state=0, format="csr")
    assert _sparse_oracle.choose_route(_sparse_oracle.SparseDesign(onehot), 5, True)[0] == "full"
    route, info = _sparse_oracle.choose_route(_sparse_oracle.SparseDesign(wide), 8, True)
    assert route == "hessian-free"
    assert info["hessian_bytes"] > _sparse_oracle.HESSIAN_BUDGET_BYTES


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hessian_equals_dense_kernel(fit_intercept, dtype):
    X, _, w = sparse_problem(k=4)
    X = X.astype(dtype)
    rng = np.random.default_rng(1)
    P = logreg.reference.softmax(rng.normal(size=(X.shape[0], 4)))
    H_dense = logreg.hessian(X.toarray(), P, w, fit_intercept=fit_intercept)
    rtol = SPARSE_KERNEL_RTOL[np.dtype(dtype)]
    for Y in (X, sp.csc_matrix(X), non_canonical(X, exact=True)):
        H = logreg.hessian(Y, P, w, fit_intercept=fit_intercept)
        assert_allclose_scaled(H, H_dense, rtol)
    H1 = logreg.hessian(X, P, w, fit_intercept=fit_intercept, n_threads=1)
    H2 = logreg.hessian(X, P, w, fit_intercept=fit_intercept, n_threads=2)
    np.testing.assert_array_equal(H1, H2)


def oracle_pair(X, y, w, k, fit_intercept=True):
    design = _sparse_oracle.SparseDesign(check_X_sparse(X))
    kw = dict(k=k, fit_intercept=fit_intercept, n_threads=2)
    return (_sparse_oracle.SparseOracle(design, y, w, **kw),
            _sparse_oracle.SparseHessianFreeOracle(design, y, w, **kw))


def force_phase(monkeypatch, by_columns):
    """Gradient-type products by the column phase (an (n, k) residual) or by
    per-segment buffers, whatever the shape would choose."""
    monkeypatch.setattr(_sparse_oracle._SparseOracleBase, "_by_columns",
                        lambda self, design: by_columns)


@pytest.mark.parametrize("by_columns", [True, False])
@pytest.mark.parametrize("k", [2, 4])
def test_oracle_passes_against_numpy(monkeypatch, k, by_columns):
    """Loss, gradient, step ladder and Hessian-vector products of the sparse kernel
    against the NumPy formulas (``logreg._loss``, ``logreg._blocks``) on dense X."""
    force_phase(monkeypatch, by_columns)
    X, y, w = sparse_problem(k=k)
    Xd = X.toarray()
    full, free = oracle_pair(X, y, w, k)
    rng = np.random.default_rng(2)
    coef = rng.normal(size=(full.k, full.p))
    direction = rng.normal(size=coef.shape)
    soft = lambda c: c if k > 2 else np.vstack([np.zeros((1, c.shape[1])), c])  # noqa: E731
    if k == 2:
        L, G = logreg._loss.binary_loss_gradient(Xd, y, w, coef, True)
    else:
        L, G = logreg._loss.loss_gradient(Xd, y, w, coef, True)
    loss, grad, pairs = full.stats(coef)
    rtol = SPARSE_KERNEL_RTOL[np.dtype(np.float64)]
    assert abs(loss - L) <= rtol * abs(L)
    assert_allclose_scaled(grad, G, rtol)
    steps = np.array([1.0, 0.5, 0.125])
    expected = _blocks.losses_along(Xd, y, w, soft(coef), soft(direction), steps, True)
    assert_allclose_scaled(full.losses_along(coef, direction, steps), expected, rtol)
    Hv = _blocks.hessian_vector_product(Xd, w, soft(coef), soft(direction), True)
    Hv = Hv[1:] if k == 2 else Hv
    for oracle in (full, free, free):       # the second product reads the cache
        assert_allclose_scaled(oracle.hessian_vector_product(coef, direction), Hv, rtol)
    H = full.hessian(pairs)
    assert_allclose_scaled(H @ direction.ravel(), Hv.ravel(), rtol)


def test_preconditioner_blocks_are_the_hessian_diagonal_blocks():
    """Unpenalized (every column flat along 1_k): each column's block is the data
    Hessian's (class x class) block of that column plus the solver's shift
    mu_a / k 1 1^T, mu_a the block's mean diagonal."""
    X, y, w = sparse_problem(k=4)
    full, free = oracle_pair(X, y, w, 4)
    k, p = 4, full.p
    coef = np.random.default_rng(3).normal(size=(k, p))
    H = full.hessian(full.stats(coef)[2])
    M = free.cg_preconditioner(coef, scale=1.0, l2=np.zeros((k, p)), free=list(range(p)))
    r = np.random.default_rng(4).normal(size=k * p)
    for a in (0, 5, p - 1):
        idx = np.arange(k) * p + a
        block = H[np.ix_(idx, idx)]
        mu = np.diag(block).mean()
        assert M.mu[a] == pytest.approx(mu, rel=1e-12)
        v = np.zeros(k * p)
        v[idx] = r[idx]
        got = M.solve(v)
        assert_allclose_scaled((block + mu / k) @ got[idx], r[idx], PRECONDITIONER_RTOL)
        assert np.count_nonzero(got) == k


@pytest.mark.parametrize("by_columns", [True, False])
def test_bit_identical_for_any_thread_count(monkeypatch, by_columns):
    force_phase(monkeypatch, by_columns)
    X, y, w = sparse_problem(n=3000, d=60, k=4, density=0.1)
    a = logreg.LogisticRegression(n_threads=1).fit(X, y, sample_weight=w)
    b = logreg.LogisticRegression(n_threads=2).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    full1, free1 = oracle_pair(X, y, w, 4)
    coef = np.random.default_rng(5).normal(size=(4, full1.p))
    for threads in (1, 3):
        full1.n_threads = free1.n_threads = threads
        out = (full1.stats(coef), free1.hessian_vector_product(coef, coef))
        if threads == 1:
            first = out
        else:
            assert out[0][0] == first[0][0]
            np.testing.assert_array_equal(out[0][1], first[0][1])
            np.testing.assert_array_equal(out[0][2], first[0][2])
            np.testing.assert_array_equal(out[1], first[1])


def test_int64_csc_index_gives_the_same_bits(monkeypatch):
    """The CSC index is int32 while it fits and int64 beyond: both layouts of the
    column passes (pair products, X^T R, class blocks) give the same bits."""
    X, y, w = sparse_problem(n=600, d=40, k=4, density=0.2)
    coef = np.random.default_rng(6).normal(size=(4, 41))
    results = []
    for wide in (False, True):
        monkeypatch.setattr(_sparse_oracle.SparseDesign, "wide_index", wide)
        force_phase(monkeypatch, True)
        full, free = oracle_pair(X, y, w, 4)
        assert full.design.csc[1].dtype == (np.int64 if wide else np.int32)
        M = free.cg_preconditioner(coef, scale=0.5, l2=np.full((4, 41), 0.1), free=[40])
        results.append((full.stats(coef), free.hessian_vector_product(coef, coef),
                        M.inverse, full.gram()))
    (s32, h32, m32, g32), (s64, h64, m64, g64) = results
    assert s32[0] == s64[0]
    for a, b in [(s32[1], s64[1]), (s32[2], s64[2]), (h32, h64), (m32, m64), (g32, g64)]:
        np.testing.assert_array_equal(a, b)


def test_block_inverses_and_solve_against_numpy():
    """invert_blocks: (M_a + shift_a 1 1^T)^-1 per column (float32), the inverse
    of the diagonal for a block that is not positive definite; block_solve
    applies them in the (k, p) layout."""
    rng = np.random.default_rng(7)
    p, k = 50, 5
    A = rng.normal(size=(p, k, k))
    M = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(k)
    M[3] = -np.eye(k) + 0.01        # indefinite: falls back to its diagonal
    M[3, 0, 0] = 2.0
    shift = rng.uniform(0.0, 1.0, size=p)
    shift[3] = 0.0
    inverse, failed = _sparse_kernel.invert_blocks(M, shift, 2)
    assert failed == 1 and inverse.dtype == np.float32
    expected = np.linalg.inv(M + shift[:, None, None])
    expected[3] = np.diag(np.where(np.diag(M[3]) > 0, 1.0 / np.diag(M[3]), 0.0))
    np.testing.assert_allclose(inverse, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    r = rng.normal(size=k * p)
    got = _sparse_kernel.block_solve(inverse, r, 2)
    want = np.einsum("aij,ja->ia", inverse.astype(np.float64), r.reshape(k, p)).ravel()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_other_formats_are_converted():
    X, y, w = sparse_problem()
    ref = logreg.LogisticRegression().fit(X, y, sample_weight=w)
    for Y in (X.tocoo(), X.todok(), X.tolil(), X.tobsr(), sp.coo_array(X),
              X.astype(np.int64) if False else X):
        got = logreg.LogisticRegression().fit(Y, y, sample_weight=w)
        assert_same_fit(got, ref, 1e-12)
    Xi = sp.csr_matrix((np.arange(1, 11), (np.arange(10), np.arange(10) % 3)), shape=(10, 3))
    assert check_X_sparse(Xi).dtype == np.float64


def test_wide_hessian_free_fit_stays_far_below_dense_memory():
    import tracemalloc

    rng = np.random.default_rng(0)
    n, d, k = 4000, 50_000, 6          # a dense copy of X: 1.6 GB
    X = sp.random(n, d, density=0.001, random_state=rng, format="csr")
    y = rng.integers(0, k, n)
    tracemalloc.start()
    try:
        model = logreg.LogisticRegression(C=10.0).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model.history_[0]["route"] == "hessian-free"
    # the preconditioner's p k^2 and a dozen (k, p) vectors of the solver dominate
    assert peak < 0.05 * n * d * 8, peak


def test_bad_sparse_input_is_named():
    X, y, _ = sparse_problem()
    model = logreg.LogisticRegression()
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        model.fit(bad, y)
    bad.data[3] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(X[:-1], y)
    with pytest.raises(ValueError, match="0 sample"):
        model.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="Complex data not supported"):
        model.fit(X.astype(np.complex128), y)
    broken = X.copy()
    broken.indices[0] = X.shape[1] + 5
    with pytest.raises(ValueError, match="X is not a valid sparse matrix"):
        model.fit(broken, y)
    with pytest.raises(ValueError, match="2-D"):
        logreg.hessian(sp.coo_array(np.ones(5)), np.full((5, 2), 0.5))
    model.fit(X, y)
    with pytest.raises(ValueError, match=f"X has {X.shape[1] - 1} features"):
        model.predict(X[:, 1:])
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        model.predict_proba(bad)
    with pytest.raises(TypeError, match="solver='gd' needs a dense X"):
        logreg.LogisticRegression(solver="gd").fit(X, y)


def test_logistic_regression_cv_on_sparse_x_equals_dense():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X[np.abs(X) < 0.5] = 0.0                      # a sparse pattern worth the name
    dense = logreg.LogisticRegressionCV(Cs=5, cv=3).fit(X, y)
    sparse = logreg.LogisticRegressionCV(Cs=5, cv=3).fit(sp.csr_matrix(X), y)
    assert sparse.C_ == dense.C_
    np.testing.assert_allclose(sparse.scores_, dense.scores_, rtol=1e-8)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=1e-8 * np.abs(dense.coef_).max())


def test_inference_toolkit_on_sparse_x_equals_dense():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 4))
    X[np.abs(X) < 0.6] = 0.0
    y = rng.integers(0, 3, 500)
    Z = rng.standard_normal((500, 2))
    Xs = sp.csr_matrix(X)
    # both fits at the optimum to rounding: the toolkit's numbers are then compared
    dense = logreg.LogisticRegression(penalty=None, tol=1e-12).fit(X, y).inference()
    sparse = logreg.LogisticRegression(penalty=None, tol=1e-12).fit(Xs, y).inference()
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=0,  # noqa: E731
                                                    atol=1e-8 * max(np.abs(b).max(), 1.0))
    for at in ("overall", "mean"):
        a, b = sparse.marginal_effects(Xs, at=at), dense.marginal_effects(X, at=at)
        close(a.effects, b.effects)
        close(a.bse, b.bse)
    close(sparse.predict_proba_ci(Xs), dense.predict_proba_ci(X))
    close(sparse.score_test(Z, X=Xs, y=y).statistic, dense.score_test(Z, X=X, y=y).statistic)
