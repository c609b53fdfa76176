"""The fused Hessian-vector product kernel and the block loss + gradient pass.

``_kernel.hessian_vector_product`` is checked against the NumPy per-block
pass (``_blocks.hessian_vector_product``) and against the dense ``H @ v`` of
the pair-product Hessian; the block route of ``loss_gradient_pairs(...,
with_pairs=False)`` against the fused loops it replaced.  Every layout of X the
kernel reads differently (float64 C / F in place, float32, strided, reversed
rows) and bit-identity across thread counts.
"""
import numpy as np
import pytest

from logreg import _blocks, _hessian, _kernel, _loss, _oracle

from .tolerances import (
    HVP_PROBA32_RTOL,
    HVP_RTOL,
    LOSS_GRAD_ROUTE_RTOL,
    assert_allclose_scaled,
    rtol_for,
)

THREADS = (1, 2, 3, 8)


def _problem(n, d, k, seed=0, weights=False, fit_intercept=True, scale=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    p = d + fit_intercept
    coef = scale * rng.standard_normal((k, p))
    vector = rng.standard_normal((k, p))
    y = rng.integers(0, k, n).astype(np.intp)
    w = None
    if weights:
        w = rng.uniform(0.0, 2.0, n)
        w[::5] = 0.0
    return X, y, w, coef, vector


def _layouts(X):
    """Views of the same values the kernel reads in different ways."""
    n, d = X.shape
    wide = np.zeros((n, 2 * d))
    wide[:, ::2] = X
    ro = X.copy()
    ro.setflags(write=False)
    rev = np.ascontiguousarray(X[::-1])[::-1]              # negative row stride
    padded = np.zeros((n, d + 3))
    padded[:, :d] = X
    F_rows = np.asfortranarray(np.repeat(X, 2, axis=0))[::2]   # F order, row stride 16
    return {
        "C": X,
        "F": np.asfortranarray(X),
        "F_columns": np.asfortranarray(padded)[:, :d],      # F, columns in place
        "C_rows": padded[:, :d],                            # C, leading dimension d + 3
        "strided_columns": wide[:, ::2],
        "F_strided_rows": F_rows,
        "reversed": rev,
        "read_only": ro,
    }


def _dense_hv(X, w, coef, vector, fit_intercept):
    """H(coef) @ vector from the full pair-product Hessian (float64 X)."""
    k, p = coef.shape
    X = np.asarray(X, dtype=np.float64)
    P = _loss.softmax(_loss.linear_predictor(X, coef, fit_intercept))
    pairs = _kernel.pair_products(X, np.ascontiguousarray(P), w, fit_intercept, 2)
    H = _loss.hessian_from_pairs(pairs, k, p, False)
    return (H @ vector.ravel()).reshape(k, p)


def _hv(X, w, coef, vector, fit_intercept, n_threads=2, route=None):
    if route is None:
        return _kernel.hessian_vector_product(X, w, coef, vector, fit_intercept, n_threads)
    with _kernel.single_threaded_blas():
        return _hessian.hessian_vector_product(X, w, coef, vector, fit_intercept, n_threads,
                                               route=route)


@pytest.fixture(params=["default", "small_blocks"])
def blocks(request, monkeypatch):
    """The shape-derived blocks, or 64-row blocks (many blocks and segments for small n)."""
    if request.param == "small_blocks":
        monkeypatch.setitem(_hessian._BLOCK_PASS, "bytes", 0)
        assert _hessian._block_plan(1000, 5, 3, 6)[0] < 80
    return request.param


ROUTES = [None, "simd", "gemm"]     # the plan's choice; both products by loops / by dgemm


@pytest.mark.parametrize("n,d,k", [(1, 3, 3), (7, 4, 2), (300, 5, 3), (1003, 12, 4),
                                   (2500, 60, 10), (700, 6, 30)])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("route", ROUTES)
def test_hvp_matches_numpy_and_dense(blocks, n, d, k, fit_intercept, weights, route):
    X, _, w, coef, vector = _problem(n, d, k, seed=n + d + k, weights=weights,
                                     fit_intercept=fit_intercept)
    rtol = rtol_for(np.float64, HVP_RTOL)
    numpy_hv = _blocks.hessian_vector_product(X, w, coef, vector, fit_intercept)
    dense_hv = _dense_hv(X, w, coef, vector, fit_intercept)
    assert_allclose_scaled(numpy_hv, dense_hv, rtol, err_msg="the two oracles")
    for name, Xl in _layouts(X).items():
        got = _hv(Xl, w, coef, vector, fit_intercept, route=route)
        assert got.shape == (k, d + fit_intercept)
        assert_allclose_scaled(got, numpy_hv, rtol, err_msg=f"{name} vs _blocks")
        assert_allclose_scaled(got, dense_hv, rtol, err_msg=f"{name} vs dense")


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("route", ROUTES)
def test_hvp_float32(blocks, fit_intercept, route):
    X64, _, w, coef, vector = _problem(3000, 40, 6, seed=11, weights=True,
                                       fit_intercept=fit_intercept)
    X32 = X64.astype(np.float32)
    # against the float32 values themselves: float64 rounding only
    exact = _blocks.hessian_vector_product(X32.astype(np.float64), w, coef, vector,
                                           fit_intercept)
    # against the float64 data the float32 copy was rounded from
    dense64 = _dense_hv(X64, w, coef, vector, fit_intercept)
    for name, Xl in [("C", X32), ("F", np.asfortranarray(X32)),
                     ("strided", np.repeat(X32, 2, axis=1)[:, ::2])]:
        got = _hv(Xl, w, coef, vector, fit_intercept, route=route)
        assert_allclose_scaled(got, exact, rtol_for(np.float64, HVP_RTOL), err_msg=name)
        assert_allclose_scaled(got, dense64, rtol_for(np.float32, HVP_RTOL), err_msg=name)


def test_hvp_binary_rows():
    """Binary problems pass the two softmax rows [0, beta]: H v is the binary one in row 1."""
    rng = np.random.default_rng(5)
    n, d = 2000, 7
    X = rng.standard_normal((n, d))
    w = rng.uniform(0.0, 2.0, n)
    beta, u = rng.standard_normal(d + 1), rng.standard_normal(d + 1)
    coef = np.vstack([np.zeros(d + 1), beta])
    vector = np.vstack([np.zeros(d + 1), u])
    got = _hv(X, w, coef, vector, True)
    Xr = np.hstack([X, np.ones((n, 1))])
    p1 = 1.0 / (1.0 + np.exp(-Xr @ beta))
    binary = Xr.T @ (w * p1 * (1 - p1) * (Xr @ u))
    rtol = rtol_for(np.float64, HVP_RTOL)
    assert_allclose_scaled(got[1], binary, rtol)
    assert_allclose_scaled(got[0], -binary, rtol)        # rows sum to zero
    assert_allclose_scaled(got, _blocks.hessian_vector_product(X, w, coef, vector, True), rtol)


@pytest.mark.parametrize("route", ROUTES)
def test_hvp_zero_weights_and_extreme_logits(route):
    X, _, w, coef, vector = _problem(900, 5, 4, seed=2, weights=True)
    assert np.array_equal(_hv(X, np.zeros(900), coef, vector, True, route=route),
                          np.zeros((4, 6)))
    big = 400.0 * coef                      # saturated probabilities: finite, matches NumPy
    got = _hv(X, w, big, vector, True, route=route)
    assert np.all(np.isfinite(got))
    assert_allclose_scaled(got, _blocks.hessian_vector_product(X, w, big, vector, True),
                           rtol_for(np.float64, HVP_RTOL))


@pytest.mark.parametrize("layout", ["C", "F", "strided_columns", "float32"])
@pytest.mark.parametrize("route", ROUTES)
def test_hvp_bit_identical_across_threads(blocks, layout, route):
    X, _, w, coef, vector = _problem(9000, 20, 5, seed=3, weights=True)
    Xl = X.astype(np.float32) if layout == "float32" else _layouts(X)[layout]
    assert len(_hessian._block_plan(9000, 21, 5, 10)[3]) > 3     # several segments
    runs = [_hv(Xl, w, coef, vector, True, n_threads=t, route=route) for t in THREADS]
    for got in runs[1:]:
        assert np.array_equal(got, runs[0])


def _levels():
    best = _hessian._set_simd_level(None)
    order = ["baseline", "avx2", "avx512"]
    return order[: order.index(best) + 1] if best in order else [best]


@pytest.mark.parametrize("level", _levels())
@pytest.mark.parametrize("route", ROUTES)
def test_every_instruction_set(level, route):
    """The loops of every instruction set (and the plan each one makes)."""
    X, y, w, coef, vector = _problem(2100, 13, 6, seed=12, weights=True)
    X32 = X.astype(np.float32)
    expected = _blocks.hessian_vector_product(X, w, coef, vector, True)
    loss0, grad0 = _lg(X, y, w, coef, True, "simd")
    try:
        assert _hessian._set_simd_level(level) == level
        rtol = rtol_for(np.float64, HVP_RTOL)
        assert_allclose_scaled(_hv(X, w, coef, vector, True, route=route), expected, rtol)
        assert_allclose_scaled(_hv(X32, w, coef, vector, True, route=route),
                               _blocks.hessian_vector_product(X32, w, coef, vector, True), rtol)
        loss1, grad1 = _lg(X, y, w, coef, True, "gemm" if route == "gemm" else "blocks")
    finally:
        _hessian._set_simd_level(None)
    rtol = rtol_for(np.float64, LOSS_GRAD_ROUTE_RTOL)
    assert loss1 == pytest.approx(loss0, rel=rtol)
    assert_allclose_scaled(grad1, grad0, rtol)


def test_hvp_rejects_mismatched_shapes():
    X, _, _, coef, vector = _problem(10, 3, 3)
    with pytest.raises(ValueError):
        _hv(X, None, coef, vector[:, :-1], True)
    with pytest.raises(ValueError):
        _hv(X, None, coef, vector, False)


def test_oracle_uses_the_kernel(monkeypatch):
    X, y, w, coef, vector = _problem(1500, 6, 4, seed=9, weights=True)
    oracle = _oracle.InMemoryOracle(X, y, w, k=4, fit_intercept=True, n_threads=2)
    expected = _blocks.hessian_vector_product(X, w, coef, vector, True)
    calls = []
    real = _kernel.hessian_vector_product
    monkeypatch.setattr(_kernel, "hessian_vector_product",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    got = oracle.hessian_vector_product(coef, vector)
    assert calls and oracle.pass_log[-1] == "hvp"
    # the oracle's products use its float32 probability cache (this shape fits)
    assert oracle.proba_cache is not None
    assert_allclose_scaled(got, expected, rtol_for(np.float64, HVP_PROBA32_RTOL))
    # binary: one row in, one row out, the positive class's
    yb = (y % 2).astype(np.intp)
    ob = _oracle.InMemoryOracle(X, yb, w, k=2, fit_intercept=True, n_threads=2)
    hv = ob.hessian_vector_product(coef[1:2], vector[1:2])
    full = _blocks.hessian_vector_product(X, w, np.vstack([np.zeros(7), coef[1]]),
                                          np.vstack([np.zeros(7), vector[1]]), True)
    assert hv.shape == (1, 7)
    assert_allclose_scaled(hv, full[1:], rtol_for(np.float64, HVP_PROBA32_RTOL))


# ------------------------------------ products with the probability cache


def _hv_cached(X, w, coef, vector, fit_intercept, P, fill, n_threads=2, route=None):
    with _kernel.single_threaded_blas():
        return _hessian.hessian_vector_product(X, w, coef, vector, fit_intercept, n_threads,
                                               route=route, proba=P, fill=fill)


CACHE_LAYOUTS = ["C", "F", "strided_columns", "float32", "float32_F"]


def _cache_layout(X, name):
    if name.startswith("float32"):
        X32 = X.astype(np.float32)
        return np.asfortranarray(X32) if name == "float32_F" else X32
    return _layouts(X)[name]


@pytest.mark.parametrize("n,d,k", [(1, 3, 3), (300, 5, 3), (1003, 12, 4), (2500, 60, 10),
                                   (700, 6, 30), (500, 9, 2)])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("route", ROUTES)
def test_cached_hvp_matches_uncached(blocks, n, d, k, fit_intercept, weights, route):
    """Filling and reading the cache give the same bits, within float32-P of exact."""
    X, _, w, coef, vector = _problem(n, d, k, seed=n + d + k, weights=weights,
                                     fit_intercept=fit_intercept)
    proba = _loss.softmax(_loss.linear_predictor(X, coef, fit_intercept))
    dense = _dense_hv(X, w, coef, vector, fit_intercept)
    vector2 = vector[::-1].copy()
    for name in CACHE_LAYOUTS:
        Xl = _cache_layout(X, name)
        exact = _hv(Xl, w, coef, vector, fit_intercept, route=route)
        P = np.full((n, k), np.nan, dtype=np.float32)
        filled = _hv_cached(Xl, w, coef, vector, fit_intercept, P, True, route=route)
        # the cache holds the probabilities rounded to float32
        assert_allclose_scaled(P, proba, 1e-6, err_msg=name)
        read = _hv_cached(Xl, w, coef, vector, fit_intercept, P, False, route=route)
        assert np.array_equal(read, filled), name
        rtol = rtol_for(np.float64, HVP_PROBA32_RTOL)
        assert_allclose_scaled(read, exact, rtol, err_msg=name)
        assert_allclose_scaled(read, dense, rtol_for(Xl.dtype, HVP_PROBA32_RTOL), err_msg=name)
        # another direction at the same coef: read only
        assert_allclose_scaled(_hv_cached(Xl, w, coef, vector2, fit_intercept, P, False,
                                          route=route),
                               _hv(Xl, w, coef, vector2, fit_intercept, route=route), rtol,
                               err_msg=name)


def test_cached_hvp_is_symmetric_and_flat():
    """The cached operator is a Hessian: u^T H v = v^T H u, zero on constant columns."""
    X, _, w, coef, vector = _problem(3000, 8, 5, seed=21, weights=True)
    u = np.random.default_rng(3).standard_normal(vector.shape)
    P = np.empty((3000, 5), dtype=np.float32)
    Hv = _hv_cached(X, w, coef, vector, True, P, True)
    Hu = _hv_cached(X, w, coef, u, True, P, False)
    assert np.vdot(u, Hv) == pytest.approx(np.vdot(vector, Hu), rel=1e-13)
    ones = np.zeros_like(vector)
    ones[:, 2] = 1.0                      # the same coefficient added to every class
    assert np.max(np.abs(_hv_cached(X, w, coef, ones, True, P, False))) <= \
        1e-12 * np.max(np.abs(Hv))


@pytest.mark.parametrize("layout", ["C", "F", "float32"])
@pytest.mark.parametrize("route", ROUTES)
def test_cached_hvp_bit_identical_across_threads(blocks, layout, route):
    X, _, w, coef, vector = _problem(9000, 20, 5, seed=3, weights=True)
    Xl = _cache_layout(X, layout)
    runs = []
    for t in THREADS:
        P = np.empty((9000, 5), dtype=np.float32)
        filled = _hv_cached(Xl, w, coef, vector, True, P, True, n_threads=t, route=route)
        runs.append((P, filled, _hv_cached(Xl, w, coef, vector[::-1].copy(), True, P, False,
                                           n_threads=t, route=route)))
    for P, filled, read in runs[1:]:
        assert np.array_equal(P, runs[0][0])
        assert np.array_equal(filled, runs[0][1])
        assert np.array_equal(read, runs[0][2])


def test_cached_hvp_rejects_a_wrong_buffer():
    X, _, _, coef, vector = _problem(50, 3, 3)
    with pytest.raises(ValueError):
        _hv_cached(X, None, coef, vector, True, np.empty((50, 4), np.float32), True)
    with pytest.raises(ValueError):
        _kernel.hessian_vector_product(X, None, coef, vector, True, 2,
                                       cache=_kernel.ProbaCache(49, 3))


def test_proba_cache_follows_coef():
    """The cache refills exactly when coef changes (also in place), else is read."""
    X, _, w, coef, vector = _problem(2000, 10, 4, seed=5, weights=True)
    cache = _kernel.ProbaCache(2000, 4)
    assert not cache.holds(coef)
    rtol = rtol_for(np.float64, HVP_PROBA32_RTOL)

    def check(c):
        got = _kernel.hessian_vector_product(X, w, c, vector, True, 2, cache=cache)
        assert cache.holds(c)
        assert_allclose_scaled(got, _hv(X, w, c, vector, True), rtol)
        return got

    first = check(coef)
    assert cache.coef is not coef                  # a private copy
    snapshot = cache.proba.copy()
    assert np.array_equal(check(coef.copy()), first)
    assert np.array_equal(cache.proba, snapshot)   # read, not rewritten
    coef2 = coef.copy()
    coef2[1, 3] += 1e-9                            # any change refills
    assert not cache.holds(coef2)
    check(coef2)
    assert not np.array_equal(cache.proba, snapshot)
    coef2[:] = 2.0 * coef                          # modified in place: detected
    assert not cache.holds(coef2)
    check(coef2)
    check(coef)


def test_oracle_caches_between_products(monkeypatch):
    X, y, w, coef, vector = _problem(3000, 12, 5, seed=13, weights=True)
    oracle = _oracle.InMemoryOracle(X, y, w, k=5, fit_intercept=True, n_threads=2)
    assert oracle.caches_proba and oracle.proba_cache is None      # made on first use
    fills = []
    real = _hessian.hessian_vector_product
    monkeypatch.setattr(_hessian, "hessian_vector_product",
                        lambda *a, **kw: fills.append(kw.get("fill")) or real(*a, **kw))
    rtol = rtol_for(np.float64, HVP_PROBA32_RTOL)
    coef2 = coef + 0.1
    for c, v in [(coef, vector), (coef, 2 * vector), (coef2, vector), (coef2, vector),
                 (coef, vector)]:
        assert_allclose_scaled(oracle.hessian_vector_product(c, v),
                               _blocks.hessian_vector_product(X, w, c, v, True), rtol)
    assert fills == [True, False, True, False, True]
    assert oracle.proba_cache.proba.shape == (3000, 5)
    assert oracle.pass_log[-5:] == ["hvp"] * 5
    # binary: one row in and out; the cache holds both softmax columns
    yb = (y % 2).astype(np.intp)
    ob = _oracle.InMemoryOracle(X, yb, w, k=2, fit_intercept=True, n_threads=2)
    for _ in range(2):
        hv = ob.hessian_vector_product(coef[1:2], vector[1:2])
        full = _blocks.hessian_vector_product(X, w, np.vstack([np.zeros(13), coef[1]]),
                                              np.vstack([np.zeros(13), vector[1]]), True)
        assert hv.shape == (1, 13)
        assert_allclose_scaled(hv, full[1:], rtol)
    assert ob.proba_cache.proba.shape == (3000, 2) and fills[-2:] == [True, False]


@pytest.mark.parametrize("path", [None, "blocks", "gemm"])
@pytest.mark.parametrize("layout", CACHE_LAYOUTS)
def test_loss_gradient_fills_the_cache(path, layout):
    """The loss + gradient block pass leaves exactly the probabilities a filling
    product would; its loss and gradient are the same bits with or without."""
    n, d, k = 2100, 13, 6
    X, y, w, coef, vector = _problem(n, d, k, seed=17, weights=True)
    Xl = _cache_layout(X, layout)
    route = None if path in (None, "blocks") else path
    loss0, grad0 = _lg(Xl, y, w, coef, True, path)
    for t in THREADS:
        P = np.full((n, k), np.nan, dtype=np.float32)
        with _kernel.single_threaded_blas():
            loss1, grad1, pairs = _hessian.loss_gradient_pairs(
                Xl, y, w, coef, True, t, with_pairs=False, path=path, proba=P)
        assert pairs is None and loss1 == loss0 and np.array_equal(grad1, grad0)
        Pf = np.empty_like(P)
        filled = _hv_cached(Xl, w, coef, vector, True, Pf, True, route=route)
        assert np.array_equal(P, Pf)
        assert np.array_equal(_hv_cached(Xl, w, coef, vector, True, P, False, route=route),
                              filled)


def test_loss_gradient_cache_needs_the_block_pass():
    X, y, _, coef, _ = _problem(100, 4, 3)
    P = np.empty((100, 3), dtype=np.float32)
    for kw in [dict(with_pairs=True), dict(with_pairs=False, path="simd"),
               dict(with_pairs=False, proba=np.empty((100, 4), np.float32))]:
        with pytest.raises(ValueError):
            _hessian.loss_gradient_pairs(X, y, None, coef, True, 2, **dict(dict(proba=P), **kw))
    with pytest.raises(ValueError):
        _kernel.loss_gradient_pairs(X, y, None, coef, True, 2, with_pairs=False,
                                    cache=_kernel.ProbaCache(100, 4))


def test_oracle_stats_refill_the_cache(monkeypatch):
    X, y, w, coef, vector = _problem(3000, 12, 5, seed=14, weights=True)
    oracle = _oracle.InMemoryOracle(X, y, w, k=5, fit_intercept=True, n_threads=2)
    oracle.stats(coef, hessian=False)
    assert oracle.proba_cache is None          # no products yet: no cache
    fills = []
    real = _hessian.hessian_vector_product
    monkeypatch.setattr(_hessian, "hessian_vector_product",
                        lambda *a, **kw: fills.append(kw.get("fill")) or real(*a, **kw))
    oracle.hessian_vector_product(coef, vector)
    coef2 = coef + 0.2
    loss, grad, _ = oracle.stats(coef2, hessian=False)
    assert oracle.proba_cache.holds(oracle._softmax_coef(coef2))
    ref = _kernel.loss_gradient_pairs(X, y, w, coef2, True, 2, with_pairs=False)
    assert loss == ref[0] and np.array_equal(grad, ref[1])
    hv = oracle.hessian_vector_product(coef2, vector)
    assert fills == [True, False]
    assert_allclose_scaled(hv, _blocks.hessian_vector_product(X, w, coef2, vector, True),
                           rtol_for(np.float64, HVP_PROBA32_RTOL))
    oracle.stats(coef, hessian=True)           # the pair pass leaves the cache alone
    assert oracle.proba_cache.holds(oracle._softmax_coef(coef2))


@pytest.mark.parametrize("d,k,dtype,cached", [
    (12, 5, np.float64, True), (5, 5, np.float64, True), (4, 5, np.float64, False),
    (10, 5, np.float32, True), (9, 5, np.float32, False), (6, 30, np.float64, False),
    (1, 2, np.float64, False), (2, 2, np.float64, True)])
def test_oracle_cache_memory_rule(d, k, dtype, cached):
    """A cache only when 4 n k <= X.nbytes / 2 (k <= d float64, k <= d / 2 float32)."""
    X, y, w, coef, vector = _problem(800, d, k, seed=d + k, weights=True)
    X = X.astype(dtype)
    oracle = _oracle.InMemoryOracle(X, y, w, k=k, fit_intercept=True, n_threads=2)
    assert oracle.caches_proba == cached == _kernel.ProbaCache.fits(X, k)
    c, v = (coef[1:2], vector[1:2]) if k == 2 else (coef, vector)
    oracle.hessian_vector_product(c, v)
    oracle.hessian_vector_product(c, v)
    assert (oracle.proba_cache is not None) == cached
    if cached:
        assert oracle.proba_cache.nbytes <= X.nbytes / 2


# --------------------------------------------- loss + gradient, block pass

LG_PATHS = ["blocks", "gemm"]       # the block pass as planned; with both products by dgemm


def _lg(X, y, w, coef, fit_intercept, path, n_threads=2):
    loss, grad, pairs = _kernel.loss_gradient_pairs(X, y, w, coef, fit_intercept, n_threads,
                                                    with_pairs=False, path=path)
    assert pairs is None
    return loss, grad


@pytest.mark.parametrize("n,d,k", [(1, 3, 3), (300, 5, 3), (1003, 12, 4), (2500, 60, 10),
                                   (700, 6, 30), (500, 9, 2)])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_loss_gradient_blocks_match_fused_loops(blocks, n, d, k, fit_intercept, weights):
    X, y, w, coef, _ = _problem(n, d, k, seed=n + k, weights=weights,
                                fit_intercept=fit_intercept)
    layouts = dict(_layouts(X), float32=X.astype(np.float32),
                   float32_F=np.asfortranarray(X.astype(np.float32)))
    for name, Xl in layouts.items():
        rtol = rtol_for(Xl.dtype, LOSS_GRAD_ROUTE_RTOL)
        loss0, grad0 = _lg(Xl, y, w, coef, fit_intercept, "simd")      # the fused loops
        for path in LG_PATHS + [None]:
            loss1, grad1 = _lg(Xl, y, w, coef, fit_intercept, path)
            assert loss1 == pytest.approx(loss0, rel=rtol), (name, path)
            assert_allclose_scaled(grad1, grad0, rtol, err_msg=f"{name} {path}")


@pytest.mark.parametrize("path", LG_PATHS)
def test_loss_gradient_blocks_extreme_logits(path):
    X, y, w, coef, _ = _problem(800, 4, 3, seed=4, weights=True)
    big = 500.0 * coef
    loss0, grad0 = _lg(X, y, w, big, True, "simd")
    loss1, grad1 = _lg(X, y, w, big, True, path)
    rtol = rtol_for(np.float64, LOSS_GRAD_ROUTE_RTOL)
    assert np.isfinite(loss1) and loss1 == pytest.approx(loss0, rel=rtol)
    assert_allclose_scaled(grad1, grad0, rtol)


@pytest.mark.parametrize("layout", ["C", "F", "strided_columns", "float32"])
@pytest.mark.parametrize("path", LG_PATHS)
def test_loss_gradient_blocks_bit_identical_across_threads(blocks, layout, path):
    X, y, w, coef, _ = _problem(9000, 20, 5, seed=8, weights=True)
    Xl = X.astype(np.float32) if layout == "float32" else _layouts(X)[layout]
    runs = [_lg(Xl, y, w, coef, True, path, n_threads=t) for t in THREADS]
    for loss, grad in runs[1:]:
        assert loss == runs[0][0]
        assert np.array_equal(grad, runs[0][1])


def test_loss_gradient_route_rule():
    route = _hessian._loss_gradient_route
    for shape in [(50_000, 101, 10), (100_000, 21, 5), (1000, 6, 3), (20_000, 3, 2)]:
        assert route(*shape) == "blocks"
    assert route(50_000, 101, 10, "simd") == "fused"
    assert route(50_000, 101, 10, "gemm") == "gemm"
    assert route(100, 0, 3) == "fused"
