"""Kernel benchmarks over the shape grid of design section 6 (pytest-benchmark).

One group per shape ``(n, d, k)``; members:

* ``reference``   -- the NumPy reference Hessian (``logreg.reference.hessian``): the baseline
* ``logreg``      -- ``logreg.hessian`` with all threads; ``logreg_1thread`` with one
* ``logreg_fused``-- gradient + Hessian from the coefficients (``loss_gradient_pairs`` +
  ``hessian_from_pairs``): the same work as scikit-learn's route
* ``dsyrk``       -- ``scipy.linalg.blas.dsyrk`` on the n x d operand (one product)
* ``sklearn``     -- ``LinearModelLoss(HalfMultinomialLoss).gradient_hessian``

and one ``hvp`` group per shape of ``HVP_GRID``: the Hessian-vector product
kernel (all threads, one thread; with the float32 probability cache of
``_kernel.ProbaCache``, filling it and reading it) against the NumPy per-block
pass.

``extra_info`` records useful GF/s (``n p^2 K / t`` for logreg and the
reference, ``n p^2 / t`` for dsyrk), threads, the kernel's route and SIMD level.

Run::

    PYTHONPATH=src python -m pytest bench/bench_kernel.py --benchmark-autosave
    PYTHONPATH=src python -m pytest bench/bench_kernel.py --benchmark-compare
    PYTHONPATH=src python -m pytest bench/bench_kernel.py --benchmark-disable   # smoke, seconds
"""
import numpy as np
import pytest

import logreg
from logreg import _blocks, _hessian, _kernel, reference
from logreg._bench import GRID as DESIGN_GRID

# design section 6's grid, plus the narrow and the NumPy-reference shapes of the bench table
GRID = DESIGN_GRID + [(200_000, 16, 5), (20_000, 50, 10)]
SMOKE_N = 1500


def _id(shape):
    n, d, k = shape
    return f"n{n:.0e}-d{d}-k{k}".replace("e+0", "e")


_CACHE = {}


def _data(shape, smoke):
    n, d, k = shape
    if smoke:
        n = min(n, SMOKE_N)
    key = (n, d, k)
    if key not in _CACHE:
        _CACHE.clear()  # one shape at a time: the large ones are hundreds of MB
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, d))
        coef = 0.5 * rng.standard_normal((k, d + 1))
        eta = X @ coef[:, :d].T + coef[:, d]
        P = np.exp(eta - eta.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        y = rng.integers(0, k, n).astype(np.intp)
        _CACHE[key] = (X, P, y, coef)
    return key, _CACHE[key]


def _group(benchmark, shape):
    """The shape's group: must be set before the benchmark runs to take effect."""
    n, d, k = shape
    benchmark.group = f"kernel n={n} d={d} k={k}"


def _record(benchmark, shape, useful_flops, n_threads, **info):
    n, d, k = shape
    benchmark.extra_info.update(
        n=n, d=d, k=k, n_threads=n_threads, simd=_hessian.simd_level(),
        openmp=_hessian.openmp_enabled(), route=_hessian.PATHS[_hessian._plan(n, d, k)[0]],
        **info,
    )
    stats = getattr(benchmark, "stats", None)
    if stats is not None and useful_flops:
        benchmark.extra_info["useful_gflops"] = round(useful_flops / stats.stats.min / 1e9, 2)


def _useful(n, d, k):
    return n * d * d * k * (k - 1) // 2


@pytest.mark.parametrize("shape", GRID, ids=_id)
def test_reference(benchmark, shape, smoke, n_threads, blas_threads):
    (n, d, k), (X, P, _, _) = _data(shape, smoke)
    _group(benchmark, (n, d, k))
    # smoke: one BLAS thread (threaded BLAS on tiny products can take seconds on a busy machine)
    with blas_threads(1 if smoke else n_threads):
        benchmark.pedantic(reference.hessian, args=(X, P), rounds=1 if smoke else 3,
                           iterations=1)
    _record(benchmark, (n, d, k), _useful(n, d, k), n_threads, blas_threads=n_threads,
            baseline=True)


@pytest.mark.parametrize("shape", GRID, ids=_id)
def test_logreg(benchmark, shape, smoke, n_threads):
    (n, d, k), (X, P, _, _) = _data(shape, smoke)
    _group(benchmark, (n, d, k))
    out = np.empty((k * d, k * d))
    H = benchmark(logreg.hessian, X, P, out=out, n_threads=n_threads)
    assert np.isfinite(H[0, 0])
    _record(benchmark, (n, d, k), _useful(n, d, k), n_threads)


@pytest.mark.parametrize("shape", GRID, ids=_id)
def test_logreg_1thread(benchmark, shape, smoke):
    (n, d, k), (X, P, _, _) = _data(shape, smoke)
    _group(benchmark, (n, d, k))
    out = np.empty((k * d, k * d))
    benchmark(logreg.hessian, X, P, out=out, n_threads=1)
    _record(benchmark, (n, d, k), _useful(n, d, k), 1)


@pytest.mark.parametrize("shape", GRID, ids=_id)
def test_logreg_fused(benchmark, shape, smoke, n_threads):
    (n, d, k), (X, _, y, coef) = _data(shape, smoke)
    _group(benchmark, (n, d, k))
    p = d + 1
    out = np.empty((k * p, k * p))

    def grad_hess():
        loss, grad, pairs = _kernel.loss_gradient_pairs(X, y, None, coef, True, n_threads)
        _hessian.hessian_from_pairs(pairs, k, p, out)
        return grad

    benchmark(grad_hess)
    _record(benchmark, (n, d, k), n * p * p * k * (k - 1) // 2, n_threads, fit_intercept=True)


@pytest.mark.parametrize("shape", GRID, ids=_id)
def test_dsyrk(benchmark, shape, smoke, n_threads, blas_threads):
    from scipy.linalg.blas import dsyrk

    (n, d, k), (X, _, _, _) = _data(shape, smoke)
    _group(benchmark, (n, d, k))
    XF = np.asfortranarray(X)
    with blas_threads(n_threads):
        benchmark(dsyrk, 1.0, XF, trans=1)   # C = XF^T XF, no copy of the operand
    _record(benchmark, (n, d, k), n * d * d, n_threads, blas_threads=n_threads,
            note="one product: useful flops n d^2")


@pytest.mark.parametrize("shape", GRID, ids=_id)
def test_sklearn(benchmark, shape, smoke, n_threads, blas_threads):
    from sklearn._loss.loss import HalfMultinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    (n, d, k), (X, _, y, coef) = _data(shape, smoke)
    _group(benchmark, (n, d, k))
    lml = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=k), fit_intercept=True)
    y_sk = y.astype(np.float64)
    with blas_threads(1 if smoke else n_threads):
        benchmark.pedantic(lml.gradient_hessian, args=(coef, X, y_sk),
                           kwargs=dict(l2_reg_strength=0.0, n_threads=n_threads),
                           rounds=1 if smoke else 3, iterations=1)
    p = d + 1
    _record(benchmark, (n, d, k), n * p * p * k * (k - 1) // 2, n_threads,
            blas_threads=n_threads, fit_intercept=True)


# ---- Hessian-vector products (Hessian-free Newton-CG) ----
# One group per shape: the block kernel ``_kernel.hessian_vector_product`` with all
# threads and with one, against the NumPy per-block pass it replaced in the
# in-memory oracle (``_blocks.hessian_vector_product``, BLAS with the same threads).
HVP_GRID = [(50_000, 100, 10), (100_000, 20, 5), (20_000, 32, 50)]


def _hvp_record(benchmark, shape, n_threads, **info):
    n, d, k = shape
    p = d + 1
    block, loop_logits, loop_acc, _ = _hessian._block_plan(n, p, k, 2 * k)
    benchmark.extra_info.update(
        n=n, d=d, k=k, n_threads=n_threads, simd=_hessian.simd_level(), block=block,
        logits="loops" if loop_logits else "dgemm", rtx="loops" if loop_acc else "dgemm",
        **info,
    )
    stats = getattr(benchmark, "stats", None)
    if stats is not None:       # logits of [coef; vector] (2k rows) + R^T X: 6 n p k flops
        # (reading the probability cache: the logits of the vector only, 4 n p k)
        flops = (4 if info.get("proba_cache") == "read" else 6) * n * p * k
        benchmark.extra_info["gflops"] = round(flops / stats.stats.min / 1e9, 2)


def _hvp_args(benchmark, shape, smoke):
    (n, d, k), (X, _, _, coef) = _data(shape, smoke)
    vector = np.random.default_rng(1).standard_normal(coef.shape)
    # the group must be set before the benchmark runs to take effect
    benchmark.group = f"hvp n={n} d={d} k={k}"
    return (n, d, k), X, coef, vector


@pytest.mark.parametrize("shape", HVP_GRID, ids=_id)
def test_hvp_kernel(benchmark, shape, smoke, n_threads):
    shape, X, coef, vector = _hvp_args(benchmark, shape, smoke)
    hv = benchmark(_kernel.hessian_vector_product, X, None, coef, vector, True, n_threads)
    assert np.all(np.isfinite(hv))
    _hvp_record(benchmark, shape, n_threads)


@pytest.mark.parametrize("shape", HVP_GRID, ids=_id)
def test_hvp_kernel_1thread(benchmark, shape, smoke):
    shape, X, coef, vector = _hvp_args(benchmark, shape, smoke)
    benchmark(_kernel.hessian_vector_product, X, None, coef, vector, True, 1)
    _hvp_record(benchmark, shape, 1)


@pytest.mark.parametrize("shape", HVP_GRID, ids=_id)
def test_hvp_kernel_cache_read(benchmark, shape, smoke, n_threads):
    """CG's products after the first at a coef: the probabilities read from the cache."""
    shape, X, coef, vector = _hvp_args(benchmark, shape, smoke)
    cache = _kernel.ProbaCache(X.shape[0], coef.shape[0])
    first = _kernel.hessian_vector_product(X, None, coef, vector, True, n_threads, cache=cache)
    assert cache.holds(coef)
    hv = benchmark(_kernel.hessian_vector_product, X, None, coef, vector, True, n_threads,
                   cache=cache)
    assert np.array_equal(hv, first)
    _hvp_record(benchmark, shape, n_threads, proba_cache="read",
                cache_fits=_kernel.ProbaCache.fits(X, coef.shape[0]))


@pytest.mark.parametrize("shape", HVP_GRID, ids=_id)
def test_hvp_kernel_cache_fill(benchmark, shape, smoke, n_threads):
    """The first product at a coef: computes the probabilities and fills the cache."""
    shape, X, coef, vector = _hvp_args(benchmark, shape, smoke)
    cache = _kernel.ProbaCache(X.shape[0], coef.shape[0])

    def fill():
        cache.invalidate()
        return _kernel.hessian_vector_product(X, None, coef, vector, True, n_threads,
                                              cache=cache)

    hv = benchmark(fill)
    assert np.all(np.isfinite(hv)) and cache.holds(coef)
    _hvp_record(benchmark, shape, n_threads, proba_cache="fill",
                cache_fits=_kernel.ProbaCache.fits(X, coef.shape[0]))


@pytest.mark.parametrize("shape", HVP_GRID, ids=_id)
def test_hvp_numpy(benchmark, shape, smoke, n_threads, blas_threads):
    shape, X, coef, vector = _hvp_args(benchmark, shape, smoke)
    with blas_threads(n_threads):
        hv = benchmark(_blocks.hessian_vector_product, X, None, coef, vector, True)
    assert np.all(np.isfinite(hv))
    _hvp_record(benchmark, shape, n_threads, blas_threads=n_threads, baseline=True)
