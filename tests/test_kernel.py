"""logreg.hessian against independent oracles: the seed's double loop and einsum."""
import numpy as np
import pytest

import logreg
from logreg import _hessian, reference

from .tolerances import KERNEL_RTOL, assert_allclose_scaled


def make_problem(n, d, k, *, dtype=np.float64, order="C", weights=True, seed=0,
                 saturate=False):
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n, d)), dtype=dtype, order=order)
    Z = 3.0 * rng.standard_normal((n, k))
    if saturate:  # some rows with probabilities exactly 0 and 1
        Z[: n // 2] = 0.0
        Z[: n // 2, 0] = 800.0
    P = reference.softmax(Z)
    w = rng.random(n) * 3.0 if weights else None
    if weights and n > 2:
        w[::3] = 0.0  # zero weights are allowed
    return X, P, w


def seed_hessian(X, P, w, fit_intercept):
    """The seed's Hessian, permuted to class-major."""
    X64 = np.asarray(X, dtype=np.float64)
    Xr = reference.add_intercept(X64) if fit_intercept else X64
    return reference.to_class_major(reference.hessian(Xr, P, w), Xr.shape[1], P.shape[1])


def einsum_hessian(X, P, w, fit_intercept):
    """Independent oracle of the documented layout: H[i,a,j,c]."""
    X64 = np.asarray(X, dtype=np.float64)
    if fit_intercept:
        X64 = np.hstack([X64, np.ones((len(X64), 1))])
    w = np.ones(len(X64)) if w is None else w
    k, p = P.shape[1], X64.shape[1]
    D = np.einsum("ni,ij->nij", P, np.eye(k)) - np.einsum("ni,nj->nij", P, P)
    H = np.einsum("n,nij,na,nc->iajc", w, D, X64, X64)
    return H.reshape(k * p, k * p)


SHAPES = [  # (n, d, k): edge cases and both kernel paths (loops and dgemm panels)
    (1, 1, 2), (1, 4, 3), (7, 1, 2), (50, 3, 2), (200, 5, 4), (300, 2, 30),
    (129, 41, 6), (1000, 24, 7), (257, 70, 3),
]


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_matches_seed_float64(n, d, k, fit_intercept, weights):
    X, P, w = make_problem(n, d, k, weights=weights)
    H = logreg.hessian(X, P, w, fit_intercept=fit_intercept)
    assert H.dtype == np.float64 and H.shape == (k * (d + fit_intercept),) * 2
    assert_allclose_scaled(H, seed_hessian(X, P, w, fit_intercept),
                           KERNEL_RTOL[np.dtype(np.float64)])


@pytest.mark.parametrize("n,d,k", [(50, 3, 2), (129, 41, 6), (300, 2, 30)])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_matches_seed_float32(n, d, k, order, fit_intercept):
    X, P, w = make_problem(n, d, k, dtype=np.float32, order=order)
    H = logreg.hessian(X, P, w, fit_intercept=fit_intercept)
    assert_allclose_scaled(H, seed_hessian(X, P, w, fit_intercept),
                           KERNEL_RTOL[np.dtype(np.float32)])


@pytest.mark.parametrize("n,d,k", [(200, 5, 4), (129, 41, 6)])
def test_layout_pinned_by_einsum(n, d, k):
    X, P, w = make_problem(n, d, k)
    assert_allclose_scaled(logreg.hessian(X, P, w, fit_intercept=True),
                           einsum_hessian(X, P, w, True), 1e-12)


def test_layout_permutation_of_seed():
    """Feature-major index a*k+i <-> class-major index i*p+a, element by element."""
    X, P, w = make_problem(30, 3, 4)
    Hf = reference.hessian(X, P, w)
    Hc = logreg.hessian(X, P, w)
    p, k = 3, 4
    for i, a, j, c in [(0, 0, 0, 0), (1, 2, 3, 0), (3, 1, 2, 2), (2, 0, 2, 1)]:
        assert Hc[i * p + a, j * p + c] == pytest.approx(Hf[a * k + i, c * k + j], rel=1e-12)


@pytest.mark.parametrize("n,d,k", [(300, 4, 3), (200, 50, 5), (100, 8, 20)])
def test_symmetric_psd_and_null_space(n, d, k):
    X, P, w = make_problem(n, d, k, saturate=True)
    H = logreg.hessian(X, P, w, fit_intercept=True)
    np.testing.assert_array_equal(H, H.T)  # exactly symmetric
    eig = np.linalg.eigvalsh(H)
    assert eig.min() >= -1e-10 * eig.max()
    # over-parametrisation of the softmax: H (1_k kron v) = 0
    v = np.random.default_rng(1).standard_normal(d + 1)
    np.testing.assert_allclose(H @ np.tile(v, k), 0.0, atol=1e-10 * np.abs(H).max())


def test_probabilities_at_zero_and_one():
    X, P, w = make_problem(40, 3, 3, saturate=True)
    assert (P == 1.0).any() and (P == 0.0).any()
    assert_allclose_scaled(logreg.hessian(X, P, w), seed_hessian(X, P, w, False), 1e-10)


def test_all_weights_zero_gives_zero():
    X, P, _ = make_problem(20, 3, 3)
    H = logreg.hessian(X, P, np.zeros(20), fit_intercept=True)
    assert not H.any()


@pytest.mark.parametrize("shape", [(5000, 6, 4), (1500, 40, 6)])  # loops and dgemm panels
def test_identical_for_any_thread_count(shape):
    X, P, w = make_problem(*shape)
    results = [logreg.hessian(X, P, w, fit_intercept=True, n_threads=t) for t in (1, 2, 3, 8)]
    for H in results[1:]:
        np.testing.assert_array_equal(H, results[0])


def test_orders_and_readonly_inputs_give_identical_results(tmp_path):
    X, P, w = make_problem(400, 9, 4)
    H = logreg.hessian(X, P, w, fit_intercept=True)
    np.testing.assert_array_equal(logreg.hessian(np.asfortranarray(X), P, w, fit_intercept=True), H)
    path = tmp_path / "X.npy"
    np.save(path, X)
    Xmm = np.load(path, mmap_mode="r")  # read-only memmap
    assert not Xmm.flags.writeable
    np.testing.assert_array_equal(logreg.hessian(Xmm, P, w, fit_intercept=True), H)
    Xro = X.copy()
    Xro.flags.writeable = False
    np.testing.assert_array_equal(logreg.hessian(Xro, P, w, fit_intercept=True), H)


def test_strided_view_is_read_in_place():
    X, P, w = make_problem(200, 12, 3)
    view = X[::2, ::3]
    expected = logreg.hessian(np.ascontiguousarray(view), P[::2], w[::2])
    np.testing.assert_array_equal(logreg.hessian(view, P[::2], w[::2]), expected)


def test_out_is_filled_in_place():
    X, P, w = make_problem(100, 4, 3)
    out = np.full((15, 15), np.nan)
    H = logreg.hessian(X, P, w, fit_intercept=True, out=out)
    assert H is out
    np.testing.assert_array_equal(out, logreg.hessian(X, P, w, fit_intercept=True))


def test_integer_X_is_accepted():
    X, P, _ = make_problem(60, 3, 3)
    Xi = np.round(X * 3).astype(np.int64)
    assert_allclose_scaled(logreg.hessian(Xi, P), seed_hessian(Xi.astype(float), P, None, False),
                           1e-12)


def test_kernel_is_compiled():
    assert _hessian.__file__.endswith((".so", ".pyd"))


def test_segments_depend_on_n_only():
    for n in (1, 63, 64, 1000, 10**6 + 7):
        bounds = _hessian.segment_bounds(n)
        assert bounds[0] == 0 and bounds[-1] == n
        assert all(b > a for a, b in zip(bounds, bounds[1:]))


def test_concurrent_calls_restore_blas_threads():
    """The single-thread BLAS limit is shared: overlapping calls must not leave it set."""
    import threading

    from threadpoolctl import threadpool_info

    before = [info["num_threads"] for info in threadpool_info()]
    X, P, w = make_problem(4000, 40, 6)  # the dgemm route, which calls BLAS
    expected = logreg.hessian(X, P, w)
    results = []

    def work():
        for _ in range(4):
            results.append(logreg.hessian(X, P, w))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [info["num_threads"] for info in threadpool_info()] == before
    assert len(results) == 24
    for H in results:
        np.testing.assert_array_equal(H, expected)


def _misaligned(a):
    """A copy of ``a`` whose data start one byte past an aligned address."""
    raw = np.empty(a.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(raw[1:].data, dtype=a.dtype).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def test_misaligned_inputs_give_the_aligned_results():
    """Unpickled buffers (Dask transfers) can be misaligned: same bits as aligned."""
    from logreg import _kernel

    X, P, w = make_problem(500, 6, 4)
    expected = logreg.hessian(X, P, w, fit_intercept=True)
    np.testing.assert_array_equal(
        logreg.hessian(_misaligned(X), _misaligned(P), _misaligned(w), fit_intercept=True),
        expected)
    y = np.argmax(P, axis=1).astype(np.intp)
    coef = np.random.default_rng(1).standard_normal((4, 7))
    ref = _kernel.loss_gradient_pairs(X, y, w, coef, True, 2)
    got = _kernel.loss_gradient_pairs(_misaligned(X), _misaligned(y), _misaligned(w),
                                      _misaligned(coef), True, 2)
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)
