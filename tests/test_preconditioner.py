"""The Hessian-free path's preconditioner stays within its memory budget
(``logreg._preconditioner``): past the budget the per-class block-diagonal or
the diagonal preconditioner is taken, and the fit reaches the same optimum."""
import tracemalloc

import numpy as np
import pytest

import logreg
from logreg import _blocks, _curvature, _oracle, _preconditioner

from ._fits import make_classification
from .tolerances import (DEFAULT_TOL_COEF_RTOL, PRECONDITIONER_CURVATURE_RTOL,
                         PRECONDITIONER_PEAK_SLACK_BYTES, assert_allclose_scaled)

SYSTEMS = {"block": _preconditioner.BlockDiagonalSystem,
           "diagonal": _preconditioner.DiagonalSystem}


def test_choose_kind_steps_down_as_the_budget_shrinks():
    n, k, p = 100_000, 10, 101         # a subsample of 1/8 of the rows: cheap to build
    rows = n // 8
    dense, block = (_preconditioner.nbytes(kind, k, p) for kind in ("dense", "block"))
    assert block < dense
    assert _preconditioner.choose_kind(n, rows, k, p, budget=dense) == "dense"
    assert _preconditioner.choose_kind(n, rows, k, p, budget=dense - 1) == "block"
    assert _preconditioner.choose_kind(n, rows, k, p, budget=block - 1) == "diagonal"


def test_choose_kind_skips_preconditioners_that_cost_more_than_they_save():
    # n ~ 2 d: the subsample is all of X and factoring dominates (hundreds of products)
    n, k, p = 4000, 5, 2001
    assert _preconditioner.build_cost("block", n, n, k, p) > _preconditioner.MAX_BUILD_PRODUCTS
    assert _preconditioner.choose_kind(n, n, k, p, budget=np.inf) == "diagonal"


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_class_curvature_matches_an_einsum_of_the_probabilities(fit_intercept):
    X, _, w = make_classification(n=700, d=6, k=4, seed=2, weighted=True)
    coef = np.random.default_rng(3).standard_normal((4, 6 + fit_intercept))
    Xt = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    P = logreg.reference.softmax(Xt @ coef.T)
    expected = np.einsum("n,ni,na,nb->iab", w, P * (1 - P), Xt, Xt)
    packed = _preconditioner.class_curvature(X, w, coef, fit_intercept, 2, diagonal_only=False)
    upper = np.triu_indices(Xt.shape[1])
    assert_allclose_scaled(packed, expected[:, upper[0], upper[1]], PRECONDITIONER_CURVATURE_RTOL)
    diagonal = _preconditioner.class_curvature(X, w, coef, fit_intercept, 2, diagonal_only=True)
    assert_allclose_scaled(diagonal, np.einsum("iaa->ia", expected), PRECONDITIONER_CURVATURE_RTOL)


def _budget_between(kind, k, p):
    """A budget that makes ``kind`` the preconditioner of a (k, p) problem."""
    return {"block": _preconditioner.nbytes("dense", k, p) - 1,
            "diagonal": _preconditioner.nbytes("block", k, p) - 1}[kind]


@pytest.mark.parametrize("penalty", ["l2", None])
@pytest.mark.parametrize("kind", ["block", "diagonal"])
def test_fit_past_the_budget_takes_the_cheaper_preconditioner_and_the_same_optimum(
        monkeypatch, kind, penalty):
    X, y, w = make_classification(n=3000, d=80, k=5, seed=5, weighted=True, scale=0.3)
    k, p = 5, 81
    exact = logreg.LogisticRegression(penalty=penalty, tol=1e-10).fit(X, y, sample_weight=w)
    monkeypatch.setattr(_preconditioner, "PRECONDITIONER_BUDGET_BYTES", _budget_between(kind, k, p))
    # small row chunks and sub-blocks, so their temporaries do not hide the bound
    monkeypatch.setattr(_preconditioner, "CHUNK_ROWS", 1024)
    monkeypatch.setattr(_blocks, "SUB_ELEMS", 1 << 14)
    built, peaks = [], []
    build = _curvature.ConjugateGradient._build_preconditioner

    def traced(self, coef):
        tracemalloc.start()
        try:
            system = build(self, coef)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        built.append(type(system))
        return system

    monkeypatch.setattr(_curvature.ConjugateGradient, "_build_preconditioner", traced)
    free = logreg.LogisticRegression(solver="newton-cg", penalty=penalty, tol=1e-10).fit(
        X, y, sample_weight=w)
    assert built and set(built) == {SYSTEMS[kind]}, built
    bound = _preconditioner.nbytes(kind, k, p) + PRECONDITIONER_PEAK_SLACK_BYTES
    assert max(peaks) <= bound, (peaks, bound)
    full = lambda m: np.column_stack([m.coef_, m.intercept_])  # noqa: E731
    assert_allclose_scaled(full(free), full(exact), DEFAULT_TOL_COEF_RTOL)
    assert free.history_[-1]["grad_max"] <= 1e-10


def test_without_room_for_blocks_the_fit_skips_the_kronecker_start(monkeypatch):
    """The zero-slope Kronecker system holds k + 1 matrices of p x p: past the
    budget of a block preconditioner the first step is a CG step too."""
    X, y, _ = make_classification(n=2000, d=20, k=4, seed=8)
    monkeypatch.setattr(_preconditioner, "PRECONDITIONER_BUDGET_BYTES",
                        _budget_between("diagonal", 4, 21))
    model = logreg.LogisticRegression(solver="newton-cg", tol=1e-10).fit(X, y)
    kinds = [row["hessian"] for row in model.history_]
    assert "kronecker" not in kinds and kinds[0] == "cg", kinds
    assert model.history_[-1]["grad_max"] <= 1e-10


@pytest.mark.parametrize("penalty", ["l2", None])
def test_binary_fit_past_the_budget_is_hessian_free_and_smaller(monkeypatch, penalty):
    """Two classes: past the budget, exact Newton's p x p Hessian, pairs and
    factor give way to Hessian-free Newton with the diagonal preconditioner:
    the same optimum, a smaller peak."""
    X, y, w = make_classification(n=8000, d=200, k=2, seed=6, weighted=True, scale=0.3)
    p = 201

    def fit():
        tracemalloc.start()
        try:
            model = logreg.LogisticRegression(penalty=penalty, tol=1e-10).fit(
                X, y, sample_weight=w)
            return model, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    exact, exact_peak = fit()
    assert "cg" not in {row["hessian"] for row in exact.history_}
    monkeypatch.setattr(_preconditioner, "PRECONDITIONER_BUDGET_BYTES",
                        _preconditioner.nbytes("dense", 1, p) - 1)
    free, free_peak = fit()
    assert "cg" in {row["hessian"] for row in free.history_}
    if penalty is not None:        # unpenalized fits form the Hessian for inference at the end
        assert free_peak < exact_peak - 8 * p * p, (free_peak, exact_peak)
    full = lambda m: np.column_stack([m.coef_, m.intercept_])  # noqa: E731
    assert_allclose_scaled(full(free), full(exact), DEFAULT_TOL_COEF_RTOL)
