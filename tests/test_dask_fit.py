"""LogisticRegression.fit on dask inputs: the same Newton loop over logreg._dask's oracle.

Runs on a real 2-process LocalCluster bound to 127.0.0.1 (the session fixture in conftest.py) and on
the synchronous scheduler.  The yardstick is the in-memory fit of the same data.
"""
import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import logreg
from logreg._exceptions import DataConversionWarning

from ._fits import make_classification
from .tolerances import (
    DASK_DEFAULT_TOL_FIT_RTOL,
    DASK_FIT_RTOL,
    DEFAULT_TOL_COEF_RTOL,
    assert_allclose_scaled,
)

TOL = 1e-10      # tight solver tolerance: both fits sit at the optimum, not near it


def _fit_on(scheduler, client, make_model, *args):
    """Fit with ``scheduler`` in {'sync', 'cluster'} as the default scheduler."""
    model = make_model()
    if scheduler == "sync":
        with dask.config.set(scheduler="sync"):
            return model.fit(*args)
    with client.as_current():
        return model.fit(*args)


def _problem(k=4, weighted=True, n=1500, d=5, chunks=(500, 13, 0, 600, 387), seed=3):
    X, y, w = make_classification(n=n, d=d, k=k, seed=seed, weighted=weighted)
    Xd = da.from_array(X, chunks=(chunks, d))
    yd = da.from_array(y, chunks=(chunks,))
    wd = None if w is None else da.from_array(w, chunks=(chunks,))
    return X, y, w, Xd, yd, wd


@pytest.mark.parametrize("k, penalty", [(4, "l2"), (4, None), (2, "l2"), (2, None)])
def test_dask_fit_equals_in_memory_fit_on_both_schedulers(k, penalty, client, monkeypatch):
    from logreg import _oracle

    X, y, w, Xd, yd, wd = _problem(k=k)
    make = lambda: logreg.LogisticRegression(penalty=penalty, tol=TOL)  # noqa: E731
    # the Dask oracle has no row subsample: the in-memory reference takes the
    # same exact steps (no subsampled Gram matrix or Hessians), so the two fits
    # differ by summation order only
    monkeypatch.setattr(_oracle, "SUBSAMPLE", 1)
    ref = make().fit(X, y, sample_weight=w)
    assert "subsample" not in [h["hessian"] for h in ref.history_]
    fits = {s: _fit_on(s, client, make, Xd, yd, wd) for s in ("sync", "cluster")}
    for name, m in fits.items():
        assert_allclose_scaled(m.coef_, ref.coef_, DASK_FIT_RTOL, err_msg=name)
        assert_allclose_scaled(m.intercept_, ref.intercept_, DASK_FIT_RTOL, err_msg=name)
        assert m.n_iter_ == ref.n_iter_
        np.testing.assert_array_equal(m.classes_, ref.classes_)
    # bit for bit across schedulers
    assert fits["sync"].coef_.tobytes() == fits["cluster"].coef_.tobytes()
    assert fits["sync"].intercept_.tobytes() == fits["cluster"].intercept_.tobytes()
    if penalty is None:   # the Hessian at the final coefficients, for inference
        assert_allclose_scaled(fits["cluster"].inference().cov, ref.inference().cov,
                               DASK_FIT_RTOL)


def test_deterministic_across_repeated_runs(client):
    *_, Xd, yd, wd = _problem(k=5, n=2000, chunks=(700, 700, 600))
    make = lambda: logreg.LogisticRegression(C=0.5, tol=TOL)  # noqa: E731
    runs = [_fit_on("cluster", client, make, Xd, yd, wd) for _ in range(2)]
    runs.append(_fit_on("sync", client, make, Xd, yd, wd))
    assert len({r.coef_.tobytes() + r.intercept_.tobytes() for r in runs}) == 1


def test_passes_per_iteration(client):
    *_, Xd, yd, wd = _problem(k=3, n=3000, chunks=(1000, 1000, 1000), seed=5)
    m = _fit_on("cluster", client, lambda: logreg.LogisticRegression(tol=TOL), Xd, yd, wd)
    passes = [h["passes"] for h in m.history_]
    assert sum(passes) == m.n_passes_
    # one statistics pass per Newton iteration (the full step held every time here);
    # a backtracking step costs 3 (trial, ladder, statistics), so <= 2 on average
    assert m.n_passes_ <= 2 * m.n_iter_ + 1, passes
    assert passes.count(1) >= len(passes) - 1, passes


def test_backtracking_costs_one_ladder_pass():
    # heavy-tailed features: one full Newton step overshoots (found by search)
    rng = np.random.default_rng(8)
    X = rng.standard_cauchy((400, 3))
    y = (rng.logistic(size=400) < 2 * np.tanh(X[:, 0])).astype(int) + (X[:, 2] > 1)
    Xd, yd = da.from_array(X, chunks=150), da.from_array(y, chunks=150)
    with dask.config.set(scheduler="sync"):
        m = logreg.LogisticRegression(C=1e3, tol=TOL).fit(Xd, yd)
    ref = logreg.LogisticRegression(C=1e3, tol=TOL).fit(X, y)
    # Cauchy features make the problem ill-conditioned (|x| up to ~1e4): rounding
    # differences in the block sums move the optimum by ~1e-9 relative
    assert_allclose_scaled(m.coef_, ref.coef_, 1e-8)
    passes = [h["passes"] for h in m.history_]
    assert 3 in passes and max(passes) == 3, passes   # trial, ladder, statistics
    assert [h["step_size"] for h in m.history_][passes.index(3) - 1] < 1.0
    assert m.n_passes_ == sum(passes)       # every pass is accounted for in history_


def test_dataframe_inputs_and_feature_names(client):
    X, y, w, *_ = _problem(k=3, chunks=(750, 750))
    cols = [f"f{i}" for i in range(X.shape[1])]
    pdf = pd.DataFrame(X, columns=cols)
    ddf = dd.from_pandas(pdf, npartitions=3)
    ys = dd.from_pandas(pd.Series(np.array(["a", "b", "c"])[y]), npartitions=3)
    m = _fit_on("cluster", client, lambda: logreg.LogisticRegression(tol=TOL), ddf, ys)
    ref = logreg.LogisticRegression(tol=TOL).fit(pdf, np.array(["a", "b", "c"])[y])
    assert_allclose_scaled(m.coef_, ref.coef_, DASK_FIT_RTOL)
    np.testing.assert_array_equal(m.classes_, ref.classes_)
    np.testing.assert_array_equal(m.feature_names_in_, cols)


@pytest.mark.parametrize("k", [2, 4])
def test_predict_on_dask_arrays_is_lazy_and_equal(k, client):
    X, y, w, Xd, yd, wd = _problem(k=k)
    m = logreg.LogisticRegression(tol=TOL).fit(X, y, sample_weight=w)
    with client.as_current():
        for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
            lazy = getattr(m, method)(Xd)
            assert isinstance(lazy, da.Array), method
            got = lazy.compute()
            want = getattr(m, method)(X)
            if method == "predict":
                np.testing.assert_array_equal(got, want)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=method)


@pytest.mark.parametrize("penalty", ["l2", None])
@pytest.mark.parametrize("k", [2, 3])
def test_newton_cg_on_dask_equals_newton_in_memory(k, penalty, monkeypatch):
    from logreg import _dask

    built = []
    curvature = _dask.DaskNewtonOracle.class_curvature
    monkeypatch.setattr(_dask.DaskNewtonOracle, "class_curvature",
                        lambda self, coef, *, diagonal_only: built.append(diagonal_only)
                        or curvature(self, coef, diagonal_only=diagonal_only))
    X, y, w, Xd, yd, wd = _problem(k=k)
    ref = logreg.LogisticRegression(penalty=penalty, tol=1e-10).fit(X, y, sample_weight=w)
    with dask.config.set(scheduler="sync"):
        m = logreg.LogisticRegression(solver="newton-cg", penalty=penalty, tol=1e-10).fit(
            Xd, yd, sample_weight=wd)
    assert {h["hessian"] for h in m.history_} == {"cg"}
    assert built and not any(built)     # preconditioned by the class blocks of all rows
    full = lambda m: np.column_stack([m.coef_, m.intercept_])  # noqa: E731
    assert_allclose_scaled(full(m), full(ref), 1e-6)


def test_hessian_over_budget_falls_back_to_newton_cg(monkeypatch):
    from logreg import _dask

    X, y, w, Xd, yd, wd = _problem(k=3)
    monkeypatch.setattr(_dask, "HESSIAN_BUDGET_BYTES", 100)
    asked = []
    stats = _dask.DaskNewtonOracle.stats
    monkeypatch.setattr(_dask.DaskNewtonOracle, "stats", lambda self, coef, *, hessian=True:
                        asked.append(hessian) or stats(self, coef, hessian=hessian))
    ref = logreg.LogisticRegression(tol=1e-10).fit(X, y, sample_weight=w)
    with dask.config.set(scheduler="sync"):
        m = logreg.LogisticRegression(tol=1e-10).fit(Xd, yd, sample_weight=wd)
    assert {h["hessian"] for h in m.history_} == {"cg"}
    assert asked and not any(asked)         # no pair products were asked for
    full = lambda m: np.column_stack([m.coef_, m.intercept_])  # noqa: E731
    assert_allclose_scaled(full(m), full(ref), 1e-6)


def test_inference_after_a_hessian_free_dask_fit_names_the_budget(monkeypatch):
    from logreg import _dask

    *_, Xd, yd, wd = _problem(k=3)
    monkeypatch.setattr(_dask, "HESSIAN_BUDGET_BYTES", 100)
    with dask.config.set(scheduler="sync"):
        m = logreg.LogisticRegression(penalty=None, tol=1e-10).fit(Xd, yd, sample_weight=wd)
    assert m.converged_
    with pytest.raises(ValueError, match="HESSIAN_BUDGET_BYTES"):
        m.inference()


def test_dask_is_not_imported_by_in_memory_fits():
    import subprocess
    import sys

    code = ("import sys, numpy as np, logreg; X = np.random.default_rng(0).normal(size=(50, 3));"
            "m = logreg.LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)); m.predict(X);"
            "print('dask' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ,
                                          "PYTHONPATH": __import__("os").pathsep.join(
                                              p for p in sys.path if p)})
    assert out.stdout.strip() == "False"


def test_gd_solver_rejects_dask_input():
    *_, Xd, yd, _w = _problem(k=3)
    with pytest.raises(ValueError, match="solver='gd' does not support dask"):
        logreg.LogisticRegression(solver="gd").fit(Xd, yd)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("class_weight", [None, {0: 3.0, 1: 0.5}, "balanced"])
def test_dask_class_and_sample_weights_follow_the_in_memory_rules(
        class_weight, weighted, fit_intercept, k, monkeypatch):
    from logreg import _oracle

    X, y, w, Xd, yd, wd = _problem(k=k, weighted=weighted, n=600, chunks=(200, 13, 0, 387))
    monkeypatch.setattr(_oracle, "SUBSAMPLE", 1)     # the same exact steps (see above)
    make = lambda: logreg.LogisticRegression(  # noqa: E731
        C=0.7, class_weight=class_weight, fit_intercept=fit_intercept, tol=TOL)
    ref = make().fit(X, y, sample_weight=w)
    with dask.config.set(scheduler="sync"):
        fit = make().fit(Xd, yd, sample_weight=wd)
    assert_allclose_scaled(fit.coef_, ref.coef_, DASK_FIT_RTOL)
    assert_allclose_scaled(fit.intercept_, ref.intercept_, DASK_FIT_RTOL)


def _bad_inputs():
    """``(case, X, y, sample_weight, class_weight)``: each breaks one rule."""
    X, y, w = make_classification(n=60, d=3, k=3, seed=4, weighted=True)
    with_w = lambda i, v: np.where(np.arange(len(w)) == i, v, w)  # noqa: E731
    X_nan = X.copy()
    X_nan[50, 1] = np.nan                      # in the last block only
    return [
        ("negative weight", X, y, with_w(45, -1.0), None),
        ("negative weight, balanced", X, y, with_w(45, -1.0), "balanced"),
        ("NaN weight", X, y, with_w(45, np.nan), None),
        ("NaN weight, balanced", X, y, with_w(45, np.nan), "balanced"),
        ("inf weight", X, y, with_w(5, np.inf), None),
        ("short weights", X, y, w[:-1], None),
        ("2-D weights", X, y, w[:, None], None),
        ("string weights", X, y, w.astype(str), None),
        ("zero weights", X, y, np.zeros_like(w), None),
        ("one class with weight", X, y, np.where(y == 1, w, 0.0), None),
        ("one class with weight by class_weight", X, y, w, {0: 0.0, 2: 0.0}),
        ("unknown class in class_weight", X, y, w, {0: 2.0, 7: 1.0}),
        ("negative class weight", X, y, w, {1: -2.0}),
        ("bad class_weight string", X, y, w, "balance"),
        ("one class only", X, np.zeros_like(y), w, None),
        ("continuous labels", X, y + 0.5, w, None),
        ("NaN label", X, np.where(y == 1, np.nan, y), w, None),
        ("short y", X, y[:-1], w, None),
        ("2-D y", X, np.column_stack([y, y]), w, None),
        ("NaN in X", X_nan, y, w, None),
        ("1-D X", X[:, 0], y, w, None),
        ("complex X", X.astype(complex), y, w, None),
        ("no features", X[:, :0], y, w, None),
    ]


def _dask_collections(X, y, w, chunks=(25, 0, 35)):
    """The in-memory inputs as dask arrays with the same row blocks."""
    def to_dask(a):
        a = np.asarray(a)
        return da.from_array(a, chunks=(chunks,) + a.shape[1:]) if (
            a.ndim and a.shape[0] == sum(chunks)) else da.from_array(a)
    return to_dask(X), to_dask(y), to_dask(w)


@pytest.mark.parametrize("case, X, y, w, class_weight", _bad_inputs(),
                         ids=[c[0] for c in _bad_inputs()])
def test_dask_rejects_bad_inputs_with_the_in_memory_error(case, X, y, w, class_weight):
    make = lambda: logreg.LogisticRegression(class_weight=class_weight)  # noqa: E731
    with pytest.raises((ValueError, TypeError)) as in_memory:
        make().fit(X, y, sample_weight=w)
    with dask.config.set(scheduler="sync"), pytest.raises(in_memory.type) as on_dask:
        make().fit(*_dask_collections(X, y, w))
    assert str(on_dask.value) == str(in_memory.value)


def test_dask_ravels_a_column_y_with_the_in_memory_warning():
    X, y, _ = make_classification(n=60, d=3, k=3, seed=4)
    with pytest.warns(DataConversionWarning, match="column-vector y") as in_memory:
        ref = logreg.LogisticRegression(tol=TOL).fit(X, y[:, None])
    Xd, yd, _ = _dask_collections(X, y[:, None], y)
    with dask.config.set(scheduler="sync"), pytest.warns(DataConversionWarning) as on_dask:
        fit = logreg.LogisticRegression(tol=TOL).fit(Xd, yd)
    assert [str(r.message) for r in on_dask] == [str(r.message) for r in in_memory]
    assert on_dask[0].filename == __file__            # points at the caller's fit
    assert_allclose_scaled(fit.coef_, ref.coef_, DASK_FIT_RTOL)


@pytest.mark.parametrize("shape, seed",
                         [((3000, 5, 3), 2), ((4000, 12, 5), 0), ((3000, 20, 3), 1)])
def test_dask_fit_at_the_default_tol_agrees_with_in_memory_to_the_tol_accuracy(shape, seed):
    """At the default tol the two fits take different steps far from the optimum
    (subsampled Hessians in memory, exact ones on Dask) and stop at different
    iterates, each within DEFAULT_TOL_COEF_RTOL of the optimum -- the README's bound."""
    n, d, k = shape
    X, y, _ = make_classification(n=n, d=d, k=k, seed=seed)
    ref = logreg.LogisticRegression().fit(X, y)
    optimum = logreg.LogisticRegression(tol=1e-13).fit(X, y)
    with dask.config.set(scheduler="sync"):
        m = logreg.LogisticRegression().fit(da.from_array(X, chunks=(n // 3, d)),
                                            da.from_array(y, chunks=(n // 3,)))
    full = lambda c: np.column_stack([c.coef_, c.intercept_])  # noqa: E731
    assert_allclose_scaled(full(m), full(optimum), DEFAULT_TOL_COEF_RTOL)
    assert_allclose_scaled(full(m), full(ref), DASK_DEFAULT_TOL_FIT_RTOL)
