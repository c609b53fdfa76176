"""Each route of the pair-product kernel against the seed's NumPy Hessian.

Routes: ``simd`` (register-tiled loops), ``gemm`` (packed outer products and
dgemm), ``syrk`` (sqrt-scaled blocks and dsyrk); instruction sets: every one
this CPU has (the kernel is compiled for several and dispatches at import).
Also: bit-identical results for any thread count, inputs read in place.
"""
import numpy as np
import pytest

import logreg
from logreg import _hessian, _kernel, reference

from .tolerances import KERNEL_PATH_RTOL, PAIRS_F32_RTOL, assert_allclose_scaled, rtol_for

PATHS = ["simd", "gemm", "syrk"]


def _levels():
    best = _hessian._set_simd_level(None)
    order = ["baseline", "avx2", "avx512"]
    return order[: order.index(best) + 1] if best in order else [best]


LEVELS = _levels()


@pytest.fixture(params=LEVELS)
def simd_level(request):
    """Run the test with one instruction set, then restore the best one."""
    got = _hessian._set_simd_level(request.param)
    assert got == request.param
    yield got
    _hessian._set_simd_level(None)


def _problem(n, d, k, seed=0, weights=False, scale=2.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Z = scale * rng.standard_normal((n, k))
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    w = rng.uniform(0.0, 3.0, n) if weights else None
    if weights:
        w[::7] = 0.0
    return X, P, w


def _oracle(X, P, w, fit_intercept):
    Xr = reference.add_intercept(X) if fit_intercept else np.asarray(X, dtype=np.float64)
    return reference.to_class_major(reference.hessian(Xr, P, w), Xr.shape[1], P.shape[1])


def _hessian_via(path, X, P, w, fit_intercept, n_threads=2):
    pairs = _kernel.pair_products(X, P, w, fit_intercept, n_threads, path=path)
    k = P.shape[1]
    p = X.shape[1] + fit_intercept
    H = np.empty((k * p, k * p))
    _hessian.hessian_from_pairs(pairs, k, p, H)
    return H


# n not a multiple of 8 or of a block; d below, at and above the 8-wide transpose
SHAPES = [(1003, 5, 3), (530, 13, 4), (77, 9, 2), (300, 1, 5), (2100, 16, 6)]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_path_matches_reference(simd_level, path, n, d, k, fit_intercept, weights):
    X, P, w = _problem(n, d, k, seed=n + d + k, weights=weights)
    expected = _oracle(X, P, w, fit_intercept)
    for order in "CF":
        Xo = np.asarray(X, order=order)
        H = _hessian_via(path, Xo, P, w, fit_intercept)
        assert_allclose_scaled(H, expected, rtol_for(np.float64, KERNEL_PATH_RTOL),
                               err_msg=f"{path} {order}")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("order", ["C", "F"])
def test_path_float32(simd_level, path, order):
    X, P, w = _problem(611, 11, 4, seed=3, weights=True)
    X32 = np.asarray(X.astype(np.float32), order=order)
    expected = _oracle(X, P, w, True)
    H = _hessian_via(path, X32, P, w, True)
    assert_allclose_scaled(H, expected, rtol_for(np.float32, KERNEL_PATH_RTOL))
    # the float32 values themselves are used exactly: float64 accuracy against them
    exact = _oracle(X32.astype(np.float64), P, w, True)
    assert_allclose_scaled(H, exact, rtol_for(np.float64, KERNEL_PATH_RTOL))


@pytest.mark.parametrize("path", PATHS)
def test_strided_and_reversed_views(path):
    X, P, _ = _problem(400, 14, 3, seed=5)
    for view in (X[:, ::2], X[::-1, 1:8], X[::3], np.asfortranarray(X)[:, 2:9]):
        Pv = P[: view.shape[0]]
        Pv = Pv / Pv.sum(axis=1, keepdims=True)
        H = _hessian_via(path, view, np.ascontiguousarray(Pv), None, True)
        assert_allclose_scaled(H, _oracle(view, Pv, None, True),
                               rtol_for(np.float64, KERNEL_PATH_RTOL))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("n,d,k", [(5000, 7, 3), (3001, 24, 5)])
def test_bit_identical_across_threads(path, n, d, k):
    X, P, w = _problem(n, d, k, seed=11, weights=True)
    runs = [_hessian_via(path, X, P, w, True, n_threads=t) for t in (1, 2, 3)]
    for H in runs[1:]:
        assert np.array_equal(H, runs[0])


@pytest.mark.parametrize("path", PATHS)
def test_bit_identical_across_threads_big_segment_buffers(path):
    """Segments of the big-buffer rule (K p(p+1)/2 doubles past 256 KiB: fewer,
    longer segments, rows split evenly) reduce in the same order for any threads."""
    n, d, k = 5000, 60, 10
    bounds = _hessian._plan(n, d + 1, k, True, path)[3]
    assert len(bounds) - 1 == (2 if path == "syrk" else 4)   # syrk: 512-row blocks
    X, P, w = _problem(n, d, k, seed=12, weights=True)
    runs = [_hessian_via(path, X, P, w, True, n_threads=t) for t in (1, 2, 3)]
    for H in runs[1:]:
        assert np.array_equal(H, runs[0])


@pytest.mark.parametrize("n", [1, 7, 300, 511, 512, 1500, 2047, 3000, 6000, 8334, 12500,
                               20000, 50000, 10**6 + 7])
@pytest.mark.parametrize("p,k", [(101, 10), (61, 10), (33, 50), (513, 4), (21, 5), (7, 3)])
def test_segment_rule(n, p, k):
    """Segments cover the rows in order; with big buffers an even count (but for tiny n)
    of near-equal segments of at least 1024 rows (or two of at least 4 blocks)."""
    path, block, _, bounds = _hessian._plan(n, p, k)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == n and (sizes > 0).all()
    K, P2 = k * (k - 1) // 2, p * (p + 1) // 2
    if K * P2 * 8 > _hessian._SEGMENTS["big_bytes"]:
        if n >= 8 * block:
            assert len(sizes) % 2 == 0
            assert sizes.min() >= min(1024, 4 * block) - 8
            assert sizes.max() - sizes.min() <= 8 * len(sizes)
            assert (sizes[:-1] % 8 == 0).all()
        else:
            assert len(sizes) == 1
    else:
        assert (sizes[:-1] % block == 0).all() and len(sizes) <= 32
    assert len(sizes) <= 32


def test_default_route_bit_identical_public_api():
    X, P, w = _problem(20000, 10, 4, seed=2, weights=True)
    H1 = logreg.hessian(X, P, w, fit_intercept=True, n_threads=1)
    for t in (2, 3):
        assert np.array_equal(logreg.hessian(X, P, w, fit_intercept=True, n_threads=t), H1)


def test_readonly_memmap_is_read_in_place(tmp_path):
    X, P, w = _problem(900, 6, 3, seed=4, weights=True)
    path = tmp_path / "X.npy"
    np.save(path, X.astype(np.float32))
    Xm = np.load(path, mmap_mode="r")
    assert not Xm.flags.writeable
    for route in PATHS:
        H = _hessian_via(route, Xm, P, w, False)
        assert_allclose_scaled(H, _oracle(np.asarray(Xm), P, w, False),
                               rtol_for(np.float64, KERNEL_PATH_RTOL))


def test_tiny_inputs():
    for n in (1, 2, 7, 8, 9):
        X, P, w = _problem(n, 3, 3, seed=n, weights=True)
        for route in PATHS:
            H = _hessian_via(route, X, P, w, True)
            assert_allclose_scaled(H, _oracle(X, P, w, True),
                                   rtol_for(np.float64, KERNEL_PATH_RTOL))


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_gemm_pairs_in_float32_stay_close_and_thread_invariant(simd_level, fit_intercept):
    X, P, w = _problem(3001, 23, 9, seed=5, weights=True)
    exact = _hessian.pair_products(X, P, w, fit_intercept, 2, path="gemm")
    single = _hessian.pair_products(X, P, w, fit_intercept, 2, path="gemm", pairs_f32=True)
    assert single.dtype == np.float64 and not np.array_equal(single, exact)  # it did round
    assert_allclose_scaled(single, exact, PAIRS_F32_RTOL)
    one = _hessian.pair_products(X, P, w, fit_intercept, 1, path="gemm", pairs_f32=True)
    assert np.array_equal(one, single)


@pytest.mark.parametrize("path", ["simd", "syrk"])
def test_pairs_f32_only_changes_the_gemm_route(path):
    X, P, w = _problem(1500, 11, 4, seed=6, weights=True)
    assert np.array_equal(_hessian.pair_products(X, P, w, True, 2, path=path, pairs_f32=True),
                          _hessian.pair_products(X, P, w, True, 2, path=path))


def test_plan_depends_on_shape_only():
    assert _hessian._plan(10**6, 9, 3) == _hessian._plan(10**6, 9, 3)
    path, block, panel, bounds = _hessian._plan(123457, 21, 5)
    assert bounds[0] == 0 and bounds[-1] == 123457
    assert all(b1 > b0 for b0, b1 in zip(bounds, bounds[1:]))
    assert _hessian.PATHS[path] in PATHS
    assert block % 8 == 0


def test_simd_level_names():
    assert _hessian.simd_level() in ("avx512", "avx2", "baseline", "scalar")
    assert isinstance(_hessian.openmp_enabled(), bool)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_all_finite(dtype, order):
    rng = np.random.default_rng(0)
    X = np.asarray(rng.standard_normal((3000, 13)).astype(dtype), order=order)
    assert _hessian.all_finite(X, 2)
    assert _hessian.all_finite(X[:, ::3], 2)
    big = np.full((50, 9), np.finfo(dtype).max, dtype=dtype)
    assert _hessian.all_finite(big, 1)           # huge but finite: no overflow
    for bad in (np.nan, np.inf, -np.inf):
        Y = X.copy(order=order)
        Y[2999, 12] = bad
        assert not _hessian.all_finite(Y, 2)
        assert not _hessian.all_finite(Y[:, ::2], 1) or bad is None
        assert not _hessian.all_finite(Y[:, 12], 1)


def test_proba_stats():
    _, P, _ = _problem(5000, 2, 4, seed=1)
    finite, lo, hi, worst = _hessian.proba_stats(P, 2)
    assert finite and lo == P.min() and hi == P.max()
    assert worst == pytest.approx(np.abs(P.sum(axis=1) - 1).max(), abs=1e-18)
    Q = P.copy()
    Q[4321, 1] = np.nan
    assert not _hessian.proba_stats(Q, 2)[0]
