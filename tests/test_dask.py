"""The Dask layer (logreg._dask) on a real 2-process LocalCluster and the synchronous scheduler.

Oracles are independent of the code under test: ``logreg.reference`` (the
seed's NumPy loss, gradient and double-loop Hessian) on the whole in-memory
data.  The cluster is started by this module, bound to 127.0.0.1.
"""
import concurrent.futures
import os
import signal
import time

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from distributed import get_task_stream

import logreg
from logreg import _blocks, _dask, _hessian, _preconditioner, reference

from .tolerances import KERNEL_RTOL, assert_allclose_scaled

RTOL = KERNEL_RTOL[np.dtype(np.float64)]  # 1e-10, the target
PASS_TIMEOUT = 120  # seconds: no test may hang on a broken cluster


# ---------------------------------------------------------------------------
# fixtures: one cluster for the module, torn down at the end
# ---------------------------------------------------------------------------

@pytest.fixture(params=["sync", "cluster"])
def scheduler(request):
    if request.param == "sync":
        return "sync"
    return request.getfixturevalue("client")


# ---------------------------------------------------------------------------
# problems and the in-memory oracle
# ---------------------------------------------------------------------------

CASES = {
    # name: (n, d, k, row chunks)
    "uneven": (1900, 5, 4, (700, 13, 0, 600, 587)),     # a 13-row and an empty block
    "one_chunk": (800, 6, 3, (800,)),
    "zero_weight_chunk": (1200, 4, 3, (400, 400, 400)),
    "missing_class_chunk": (1500, 3, 5, (500, 500, 500)),
}


def make_case(name, *, dtype=np.float64, seed=0):
    n, d, k, chunks = CASES[name]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, k, n)
    w = rng.random(n) * 2.0
    if name == "zero_weight_chunk":
        w[400:800] = 0.0
    if name == "missing_class_chunk":
        y = np.sort(y)  # the first and last chunks see only some classes
        assert len(np.unique(y[:500])) < k
    return X, y, w, chunks


def dask_inputs(X, y, w, chunks):
    return (da.from_array(X, chunks=(chunks, X.shape[1])),
            da.from_array(y, chunks=(chunks,)),
            None if w is None else da.from_array(w, chunks=(chunks,)))


class NumpyOracle:
    """In-memory statistics from the seed's NumPy code: the oracle of every test."""

    def __init__(self, X, y, w, k, fit_intercept):
        X = np.asarray(X, dtype=np.float64)
        self.X = reference.add_intercept(X) if fit_intercept else X
        self.Y = reference.one_hot(y, k)
        self.w, self.k, self.p = w, k, self.X.shape[1]
        self.n_passes = 0

    def stats(self, coef):
        self.n_passes += 1
        P = reference.forward(self.X, coef.T)
        loss = reference.cross_entropy(self.Y, P, self.w)
        grad = reference.gradient(self.X, self.Y, P, self.w).T
        H = reference.to_class_major(reference.hessian(self.X, P, self.w), self.p, self.k)
        return loss, grad, H

    def losses_along(self, coef, direction, steps):
        self.n_passes += 1
        return np.array([
            reference.cross_entropy(self.Y, reference.forward(self.X, (coef + t * direction).T),
                                    self.w)
            for t in steps])

    def hessian(self, H):
        return H


def random_coef(k, p, seed=1, scale=0.5):
    return np.random.default_rng(seed).standard_normal((k, p)) * scale


def build(X, y, w, chunks, *, scheduler, fit_intercept=True, **kw):
    data = _dask.as_dask_data(*dask_inputs(X, y, w, chunks), scheduler=scheduler)
    return _dask.DaskNewtonOracle(data, fit_intercept=fit_intercept, scheduler=scheduler, **kw)


# ---------------------------------------------------------------------------
# per-chunk functions against the seed
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_chunk_functions_match_seed(dtype, fit_intercept):
    X, y, w, _ = make_case("uneven", dtype=dtype)
    k, p = 4, X.shape[1] + fit_intercept
    coef, direction = random_coef(k, p), random_coef(k, p, seed=2)
    ref = NumpyOracle(X, y, w, k, fit_intercept)
    loss, grad, pairs = _dask.loss_gradient_pairs(X, y, w, coef, fit_intercept, 1)
    ref_loss, ref_grad, ref_H = ref.stats(coef)
    H = np.empty_like(ref_H)
    _hessian.hessian_from_pairs(pairs, k, p, H)
    assert pairs.shape == (k * (k - 1) // 2, p * (p + 1) // 2)
    assert_allclose_scaled(loss, ref_loss, RTOL)
    assert_allclose_scaled(grad, ref_grad, RTOL)
    assert_allclose_scaled(H, ref_H, RTOL)
    steps = np.array([2.0, 1.0, 0.25, 0.0, -0.5])
    assert_allclose_scaled(
        _blocks.losses_along(X, y, w, coef, direction, steps, fit_intercept),
        ref.losses_along(coef, direction, steps), RTOL)
    assert_allclose_scaled(
        _blocks.hessian_vector_product(X, w, coef, direction, fit_intercept).ravel(),
        ref_H @ direction.ravel(), RTOL)


def test_chunk_losses_do_not_overflow():
    X, y, w, _ = make_case("one_chunk")
    coef = random_coef(3, 7) * 1e4  # logits ~ 1e4: exp would overflow without log-sum-exp
    losses = _blocks.losses_along(X, y, w, coef, coef, [0.0, 10.0], True)
    assert np.isfinite(losses).all()


# ---------------------------------------------------------------------------
# distributed statistics == in-memory NumPy
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_passes_match_numpy(case, scheduler):
    X, y, w, chunks = make_case(case)
    k, p = CASES[case][2], X.shape[1] + 1
    oracle = build(X, y, w, chunks, scheduler=scheduler)
    ref = NumpyOracle(X, y, w, k, True)
    coef, direction = random_coef(k, p), random_coef(k, p, seed=2)

    loss, grad, pairs = oracle.stats(coef)
    ref_loss, ref_grad, ref_H = ref.stats(coef)
    assert_allclose_scaled(loss, ref_loss, RTOL)
    assert_allclose_scaled(grad, ref_grad, RTOL)
    assert_allclose_scaled(oracle.hessian(pairs), ref_H, RTOL)
    assert oracle.sum_weights == pytest.approx(w.sum(), rel=1e-12)

    steps = 0.5 ** np.arange(8)
    assert_allclose_scaled(oracle.losses_along(coef, direction, steps),
                           ref.losses_along(coef, direction, steps), RTOL)
    assert_allclose_scaled(oracle.hessian_vector_product(coef, direction).ravel(),
                           ref_H @ direction.ravel(), RTOL)
    assert oracle.n_passes == 3 and oracle.pass_log == ["stats", "ladder", "hvp"]


def test_no_intercept_float32_and_unweighted(scheduler):
    X, y, _, chunks = make_case("uneven", dtype=np.float32)
    oracle = build(X, y, None, chunks, scheduler=scheduler, fit_intercept=False)
    coef = random_coef(4, X.shape[1])
    loss, grad, pairs = oracle.stats(coef)
    ref_loss, ref_grad, ref_H = NumpyOracle(X, y, None, 4, False).stats(coef)
    for got, want in [(loss, ref_loss), (grad, ref_grad), (oracle.hessian(pairs), ref_H)]:
        assert_allclose_scaled(got, want, RTOL)


def test_hessian_vector_product_is_hessian_times_vector(scheduler):
    X, y, w, chunks = make_case("uneven")
    oracle = build(X, y, w, chunks, scheduler=scheduler)
    coef = random_coef(oracle.k, oracle.p)
    H = oracle.hessian(oracle.stats(coef)[2])
    for seed in range(3):
        v = random_coef(oracle.k, oracle.p, seed=10 + seed)
        assert_allclose_scaled(oracle.hessian_vector_product(coef, v).ravel(),
                               H @ v.ravel(), RTOL)


@pytest.mark.parametrize("diagonal_only", [False, True])
@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("fit_intercept, weighted", [(True, True), (False, False)])
def test_class_curvature_sums_the_in_memory_function_over_all_rows(
        diagonal_only, binary, fit_intercept, weighted, scheduler):
    X, y, w, chunks = make_case("uneven")           # a 13-row and an empty block
    y = (y >= 2).astype(np.intp) if binary else y
    w = w if weighted else None
    oracle = build(X, y, w, chunks, scheduler=scheduler, fit_intercept=fit_intercept,
                   binary=binary)
    coef = random_coef(oracle.k, oracle.p)
    got = oracle.class_curvature(coef, diagonal_only=diagonal_only)
    assert oracle.pass_log == ["curvature"]
    # the in-memory oracle's layout: softmax rows, binary the positive class's row only
    softmax = np.vstack([np.zeros((1, oracle.p)), coef]) if binary else coef
    want = _preconditioner.class_curvature(X, w, softmax, fit_intercept, 1,
                                           diagonal_only=diagonal_only)
    assert_allclose_scaled(got, want[1:] if binary else want, RTOL)
    # and independently: the diagonal blocks of the Hessian from the stats pass
    H = oracle.hessian(oracle.stats(coef)[2])
    p = oracle.p
    blocks = [H[i * p:(i + 1) * p, i * p:(i + 1) * p] for i in range(oracle.k)]
    expected = [np.diag(b) if diagonal_only else b[np.triu_indices(p)] for b in blocks]
    assert_allclose_scaled(got, np.array(expected), RTOL)


def test_class_curvature_names_bad_X():
    X, y, w, chunks = make_case("uneven")
    X[1500, 2] = np.nan
    oracle = build(X, y, w, chunks, scheduler="sync")
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        oracle.class_curvature(random_coef(4, 6), diagonal_only=True)
    assert oracle.n_passes == 1


def test_default_scheduler_is_the_active_client(client):
    X, y, w, chunks = make_case("uneven")
    coef = random_coef(4, 6)
    with client.as_current(), get_task_stream(client) as stream:
        oracle = build(X, y, w, chunks, scheduler=None)
        loss, _, _ = oracle.stats(coef)
    assert len(stream.data) > 0, "the pass did not run on the cluster"
    assert_allclose_scaled(loss, NumpyOracle(X, y, w, 4, True).stats(coef)[0], RTOL)


def test_binary_model(scheduler):
    """scikit-learn's binary model, coef (1, p), as the solver fits two classes."""
    X, y, w, chunks = make_case("uneven")
    y01 = (y >= 2).astype(np.intp)
    data = _dask.as_dask_data(*dask_inputs(X, np.array(["no", "yes"])[y01], w, chunks),
                              scheduler=scheduler)
    oracle = _dask.DaskNewtonOracle(data, binary=True, scheduler=scheduler)
    beta, direction = random_coef(1, 6), random_coef(1, 6, seed=2)
    Xi = reference.add_intercept(X)

    def loss(b):   # sum w (log(1 + e^eta) - y eta), independently of the softmax route
        eta = Xi @ b[0]
        return float(w @ (np.logaddexp(0.0, eta) - y01 * eta))

    p1 = 1.0 / (1.0 + np.exp(-(Xi @ beta[0])))
    H = Xi.T @ ((w * p1 * (1 - p1))[:, None] * Xi)
    got_loss, grad, pairs = oracle.stats(beta)
    assert grad.shape == (1, 6) and pairs.shape == (1, 21)
    assert_allclose_scaled(got_loss, loss(beta), RTOL)
    assert_allclose_scaled(grad[0], Xi.T @ (w * (p1 - y01)), RTOL)
    assert_allclose_scaled(oracle.hessian(pairs), H, RTOL)
    assert_allclose_scaled(oracle.hessian_vector_product(beta, direction)[0],
                           H @ direction[0], RTOL)
    steps = np.array([1.0, 0.5, 0.0])
    assert_allclose_scaled(oracle.losses_along(beta, direction, steps),
                           [loss(beta + t * direction) for t in steps], RTOL)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        build(X, y, w, chunks, scheduler="sync", binary=True)


def test_class_totals():
    X, y, w, chunks = make_case("uneven")
    data = _dask.as_dask_data(*dask_inputs(X, y, None, chunks), scheduler="sync")
    assert data.class_totals().tolist() == np.bincount(y).tolist()
    assert data.n_setup_passes == 1                     # the label pass had the counts
    data = _dask.as_dask_data(*dask_inputs(X, y, w, chunks), scheduler="sync")
    assert_allclose_scaled(data.class_totals(scheduler="sync"), np.bincount(y, w), 1e-14)
    assert data.n_setup_passes == 2


# ---------------------------------------------------------------------------
# determinism: the same bits across runs, schedulers and thread budgets
# ---------------------------------------------------------------------------

def _bits(result):
    loss, grad, pairs = result
    return np.float64(loss).tobytes() + grad.tobytes() + pairs.tobytes()


def test_bit_identical_across_runs_schedulers_and_threads(client):
    X, y, w, _ = make_case("uneven")
    chunks = (300,) * 6 + (100,)   # 7 blocks: an uneven reduction tree
    coef, direction = random_coef(4, 6), random_coef(4, 6, seed=2)
    steps = 0.5 ** np.arange(6)
    runs = []
    for sched, n_threads in [("sync", None), ("sync", 2), ("threads", None),
                             (client, None), (client, None), (client, 2)]:
        oracle = build(X, y, w, chunks, scheduler=sched, n_threads=n_threads, split_every=2)
        first = _bits(oracle.stats(coef))
        runs.append((_bits(oracle.stats(coef)),             # the same coef twice: 2 passes
                     oracle.losses_along(coef, direction, steps).tobytes(),
                     oracle.hessian_vector_product(coef, direction).tobytes()))
        assert runs[-1][0] == first and oracle.n_passes == 4
    assert all(r == runs[0] for r in runs[1:])


def test_pass_timeout_on_the_cluster(client):
    X, y = slow_problem()                          # a pass of ~2 s
    oracle = _dask.DaskNewtonOracle(
        _dask.as_dask_data(X, y, classes=[0, 1, 2], scheduler=client), scheduler=client,
        timeout=0.3)
    with pytest.raises(TimeoutError, match="did not finish within 0.3 s"):
        oracle.stats(random_coef(3, SLOW_D + 1))


def test_thread_budget(client, monkeypatch):
    assert _dask.task_thread_budget() == 1                     # not on a worker
    assert client.submit(_dask.task_thread_budget, pure=False).result(timeout=30) == 1

    import distributed

    class FakeWorker:      # the rule on a 4-thread worker: nthreads / (running + ready)
        class state:
            nthreads, executing, ready = 4, {"a"}, set()

    monkeypatch.setattr(distributed, "get_worker", lambda: FakeWorker)
    assert _dask.task_thread_budget() == 4                     # alone: all 4 threads
    FakeWorker.state.executing, FakeWorker.state.ready = {"a", "b"}, {"c"}
    assert _dask.task_thread_budget() == 1                     # 3 tasks: never 3 x 2
    FakeWorker.state.executing, FakeWorker.state.ready = {"a", "b"}, set()
    assert _dask.task_thread_budget() == 2


# ---------------------------------------------------------------------------
# a reference Newton loop (tests only): same optimum as in memory, <= 2 passes
# ---------------------------------------------------------------------------

def newton(oracle, k, p, *, C=1.0, alpha=1e-2, max_iter=30):
    """Minimal damped Newton on ``C * loss + alpha/2 ||coef||^2`` (all coordinates).

    Returns the coefficients and the number of passes each iteration made.
    """
    coef = np.zeros((k, p))
    passes = []
    steps = 0.5 ** np.arange(30)
    for _ in range(max_iter):
        before = oracle.n_passes
        loss, grad, pairs = oracle.stats(coef)
        f = C * loss + 0.5 * alpha * np.sum(coef**2)
        g = (C * grad + alpha * coef).ravel()
        H = C * oracle.hessian(pairs) + alpha * np.eye(k * p)
        step = -scipy.linalg.cho_solve(scipy.linalg.cho_factor(H), g).reshape(k, p)
        slope = g @ step.ravel()
        if -slope <= 1e-28 * abs(f):   # Newton decrement below rounding: converged
            passes.append(oracle.n_passes - before)
            break
        fs = C * oracle.losses_along(coef, step, steps) + 0.5 * alpha * np.array(
            [np.sum((coef + t * step) ** 2) for t in steps])
        ok = fs <= f + 1e-4 * steps * slope
        # near the optimum the decrease drops below rounding: take the full step
        t = steps[np.argmax(ok)] if ok.any() and -slope > 1e-12 * abs(f) else 1.0
        coef = coef + t * step
        passes.append(oracle.n_passes - before)
    else:
        raise AssertionError("the reference Newton loop did not converge")
    return coef, passes


@pytest.mark.parametrize("case", ["uneven", "missing_class_chunk"])
def test_newton_reaches_the_in_memory_optimum(case, client):
    X, y, w, chunks = make_case(case)
    k, p = CASES[case][2], X.shape[1] + 1
    ref = NumpyOracle(X, y, w, k, True)
    coef_ref, _ = newton(ref, k, p)
    results = {}
    for name, sched in [("sync", "sync"), ("cluster", client)]:
        oracle = build(X, y, w, chunks, scheduler=sched)
        coef, passes = newton(oracle, k, p)
        assert max(passes) <= 2 and len(passes) >= 3, passes
        assert_allclose_scaled(coef, coef_ref, RTOL)
        results[name] = coef
    assert results["sync"].tobytes() == results["cluster"].tobytes()


# ---------------------------------------------------------------------------
# the Hessian budget and the Hessian-free path
# ---------------------------------------------------------------------------

def test_hessian_budget_switches_to_hessian_free():
    X, y, w, chunks = make_case("uneven")
    oracle = build(X, y, w, chunks, scheduler="sync", hessian_budget_bytes=1000)
    assert oracle.hessian_nbytes == (4 * 6) ** 2 * 8 and not oracle.hessian_fits
    coef = random_coef(4, 6)
    with pytest.raises(ValueError, match="Hessian-free Newton-CG"):
        oracle.stats(coef)
    loss, grad, pairs = oracle.stats(coef, hessian=False)
    assert pairs is None and oracle.pass_log == ["loss_gradient"]
    ref_loss, ref_grad, ref_H = NumpyOracle(X, y, w, 4, True).stats(coef)
    assert_allclose_scaled(loss, ref_loss, RTOL)
    assert_allclose_scaled(grad, ref_grad, RTOL)
    v = random_coef(4, 6, seed=3)
    assert_allclose_scaled(oracle.hessian_vector_product(coef, v).ravel(),
                           ref_H @ v.ravel(), RTOL)


# ---------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------

def test_dask_dataframe_input(scheduler):
    X, y, w, _ = make_case("uneven")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df["label"] = np.array(["ant", "bee", "cat", "dog"])[y]
    df["weight"] = w
    ddf = dd.from_pandas(df, npartitions=3)
    data = _dask.as_dask_data(ddf[[f"f{i}" for i in range(X.shape[1])]], ddf["label"],
                              ddf["weight"], scheduler=scheduler)
    assert data.classes.tolist() == ["ant", "bee", "cat", "dog"]
    assert data.n_setup_passes == 4       # partition lengths of X, y, w; the labels
    assert data.X.chunks[0] == data.y_codes.chunks[0] == data.sample_weight.chunks[0]
    oracle = _dask.DaskNewtonOracle(data, scheduler=scheduler)
    coef = random_coef(4, 6)
    loss, grad, pairs = oracle.stats(coef)
    ref_loss, ref_grad, ref_H = NumpyOracle(X, y, w, 4, True).stats(coef)
    assert_allclose_scaled(loss, ref_loss, RTOL)
    assert_allclose_scaled(grad, ref_grad, RTOL)
    assert_allclose_scaled(oracle.hessian(pairs), ref_H, RTOL)


def test_alignment_rechunks_y_weights_and_columns():
    X, y, w, _ = make_case("uneven")
    Xd = da.from_array(X, chunks=(500, 2))                      # columns split too
    data = _dask.as_dask_data(Xd, da.from_array(y, chunks=333), w, scheduler="sync")
    assert len(data.X.chunks[1]) == 1
    assert data.y_codes.chunks[0] == data.sample_weight.chunks[0] == data.X.chunks[0]
    assert data.n_setup_passes == 1
    coef = random_coef(4, 6)
    oracle = _dask.DaskNewtonOracle(data, scheduler="sync")
    assert_allclose_scaled(oracle.stats(coef)[0],
                           NumpyOracle(X, y, w, 4, True).stats(coef)[0], RTOL)


@pytest.mark.parametrize("labels, error, match", [
    (np.array([0.0, 0.5, 1.0]), ValueError, "Unknown label type: continuous"),
    (np.array([0.0, np.nan, 1.0]), ValueError, "y contains NaN"),
])
def test_dask_labels_follow_the_in_memory_rules(labels, error, match):
    X, y, w, chunks = make_case("uneven")
    y3 = labels[y % 3]
    with pytest.raises(error, match=match):
        logreg.LogisticRegression().fit(X, y3)
    with pytest.raises(error, match=match):
        _dask.as_dask_data(*dask_inputs(X, y3, None, chunks), scheduler="sync")


def test_labels_class_weight_and_scalar_weight():
    X, y, w, chunks = make_case("uneven")
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    coef = random_coef(4, 6)
    cw = {"ant": 2.0, "cat": 0.5}
    data = _dask.as_dask_data(*dask_inputs(X, labels, w, chunks), class_weight=cw,
                              scheduler="sync")
    assert data.classes.tolist() == ["ant", "bee", "cat", "dog"]
    w_eff = w * np.array([2.0, 1.0, 0.5, 1.0])[y]
    loss = _dask.DaskNewtonOracle(data, scheduler="sync").stats(coef)[0]
    assert_allclose_scaled(loss, NumpyOracle(X, y, w_eff, 4, True).stats(coef)[0], RTOL)

    data = _dask.as_dask_data(*dask_inputs(X, y, None, chunks), class_weight="balanced",
                              scheduler="sync")
    counts = np.bincount(y)
    w_bal = (len(y) / (4 * counts))[y]
    loss = _dask.DaskNewtonOracle(data, scheduler="sync").stats(coef)[0]
    assert_allclose_scaled(loss, NumpyOracle(X, y, w_bal, 4, True).stats(coef)[0], RTOL)

    Xd, yd, _ = dask_inputs(X, y, None, chunks)
    data = _dask.as_dask_data(Xd, yd, 3.0, scheduler="sync")             # a scalar weight
    loss = _dask.DaskNewtonOracle(data, scheduler="sync").stats(coef)[0]
    assert_allclose_scaled(loss, NumpyOracle(X, y, np.full(len(y), 3.0), 4, True)
                           .stats(coef)[0], RTOL)


@pytest.mark.parametrize("what,value,message", [
    ("X", np.nan, "X contains NaN or infinity"),
    ("X", -np.inf, "X contains NaN or infinity"),
    ("w", np.nan, "sample_weight contains NaN or infinity"),
    ("w", -1.0, "sample_weight contains negative values"),
])
def test_bad_values_are_caught_in_the_first_pass(what, value, message, scheduler):
    X, y, w, chunks = make_case("uneven")
    (X if what == "X" else w)[1500] = value            # in the last block only
    oracle = build(X, y, w, chunks, scheduler=scheduler)
    with pytest.raises(ValueError, match=message):
        oracle.stats(random_coef(4, 6))
    assert oracle.n_passes == 1                      # detected without an extra pass


def test_all_zero_weights():
    X, y, _, chunks = make_case("uneven")
    oracle = build(X, y, np.zeros(len(y)), chunks, scheduler="sync")
    with pytest.raises(ValueError, match="zero for every sample"):
        oracle.stats(random_coef(4, 6))


@pytest.mark.parametrize("make_inputs,error,message", [
    (lambda X, y: (X, y), TypeError, "dask array or a dask DataFrame"),
    (lambda X, y: (da.from_array(X[:, 0]), y), ValueError, "2-D"),
    (lambda X, y: (da.from_array(X), y[:-1]), ValueError, "inconsistent numbers"),
    (lambda X, y: (da.from_array(X), np.where(y == 0, np.nan, y)), ValueError, "y contains NaN"),
    (lambda X, y: (da.from_array(X), np.zeros_like(y)), ValueError, "only one class"),
    (lambda X, y: (da.from_array(X.astype(str)), y), TypeError, "numeric"),
    (lambda X, y: (da.from_array(X)[da.from_array(y) > 0], y), ValueError,
     "unknown chunk sizes"),
])
def test_bad_inputs_raise_clear_errors(make_inputs, error, message):
    X, y, _, _ = make_case("uneven")
    with pytest.raises(error, match=message):
        _dask.as_dask_data(*make_inputs(X, y), scheduler="sync")


def test_labels_outside_given_classes():
    X, y, _, chunks = make_case("uneven")
    data = _dask.as_dask_data(*dask_inputs(X, y, None, chunks), classes=[0, 1, 2, 4],
                              scheduler="sync")
    assert data.n_setup_passes == 0
    with pytest.raises(ValueError, match="not in classes"):
        _dask.DaskNewtonOracle(data, scheduler="sync").stats(random_coef(4, 6))


# ---------------------------------------------------------------------------
# prediction on dask arrays: lazy and correct
# ---------------------------------------------------------------------------

def _no_compute(*args, **kwargs):
    raise AssertionError("computed eagerly")


@pytest.mark.parametrize("k", [2, 4, 1])   # k = 1: a binary (1, d) coef, scikit-learn style
def test_predict_helpers_are_lazy_and_correct(k, client):
    X, _, _, chunks = make_case("uneven")
    coef = random_coef(max(k, 1), X.shape[1], seed=4)
    b = random_coef(1, max(k, 1), seed=5).ravel()
    Xd = da.from_array(X, chunks=(chunks, 5))
    ddf = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    with dask.config.set(scheduler=_no_compute):
        outs = [_dask.dask_decision_function(Xd, coef, b), _dask.dask_predict_proba(Xd, coef, b),
                _dask.dask_predict_log_proba(Xd, coef, b),
                _dask.dask_predict(Xd, coef, b, classes=np.arange(max(k, 2)) * 10),
                _dask.dask_predict_proba(ddf, coef, b)]
    assert all(isinstance(o, da.Array) for o in outs)
    dec, proba, log_proba, labels, proba_df = client.compute(outs, sync=True)
    eta = X @ coef.T + b
    if k == 1:
        assert dec.shape == (len(X),)
        assert_allclose_scaled(dec, eta[:, 0], 1e-12)
        p1 = 1.0 / (1.0 + np.exp(-eta[:, 0]))
        ref = np.column_stack([1 - p1, p1])
    else:
        assert_allclose_scaled(dec, eta, 1e-12)
        ref = reference.softmax(eta)
    assert_allclose_scaled(proba, ref, 1e-12)
    assert_allclose_scaled(proba_df, ref, 1e-12)
    assert_allclose_scaled(np.exp(log_proba), ref, 1e-12)
    assert np.array_equal(labels, np.argmax(ref, axis=1) * 10)


# ---------------------------------------------------------------------------
# a worker killed mid-pass (last: it disturbs the cluster)
# ---------------------------------------------------------------------------

N_SLOW_BLOCKS, SLOW_ROWS, SLOW_D = 16, 500, 4


def _slow_block(block_id=None):
    """A deterministic block of X that takes a while to produce: a long pass."""
    time.sleep(0.25)
    return np.random.default_rng(block_id[0]).standard_normal((SLOW_ROWS, SLOW_D))


def slow_problem():
    rows = (SLOW_ROWS,) * N_SLOW_BLOCKS
    X = da.map_blocks(_slow_block, chunks=(rows, (SLOW_D,)), dtype=np.float64)
    y = np.arange(SLOW_ROWS * N_SLOW_BLOCKS) % 3
    return X, da.from_array(y, chunks=(rows,))


def test_worker_killed_mid_pass(client):
    X, y = slow_problem()
    coef = random_coef(3, SLOW_D + 1)
    expected = _dask.DaskNewtonOracle(
        _dask.as_dask_data(X, y, classes=[0, 1, 2], scheduler="sync"), scheduler="sync"
    ).stats(coef)

    oracle = _dask.DaskNewtonOracle(
        _dask.as_dask_data(X, y, classes=[0, 1, 2], scheduler=client), scheduler=client,
        timeout=PASS_TIMEOUT)
    victim = sorted(client.scheduler_info()["workers"])[0]
    pid = client.run(os.getpid, workers=[victim])[victim]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(oracle.stats, coef)
        time.sleep(1.0)                             # the pass is under way (~2 s of work)
        assert not running.done()
        os.kill(pid, signal.SIGKILL)
        try:
            result = running.result(timeout=PASS_TIMEOUT)
        except Exception as exc:                    # allowed: a clear error, not a hang
            assert "Killed" in type(exc).__name__ or "worker" in str(exc).lower(), exc
        else:                                       # dask rescheduled the lost tasks
            assert _bits(result) == _bits(expected)
    client.wait_for_workers(2, timeout=60)          # the nanny restarted the worker
