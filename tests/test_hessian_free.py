"""The Hessian-free Newton path (preconditioned CG on exact Hessian-vector
products) reaches the optimum of the exact-Hessian path."""
import numpy as np
import pytest

import logreg
from logreg import _oracle

from ._fits import make_classification
from .tolerances import DEFAULT_TOL_COEF_RTOL, assert_allclose_scaled


def _fit(monkeypatch, hessian_free, **params):
    """A fit by Newton-CG (``hessian_free``) or exact Newton, whatever the shape."""
    monkeypatch.setattr(_oracle, "HESSIAN_FREE_MIN_FLOPS", np.inf)   # "newton": exact
    X, y, w = make_classification(n=3000, d=8, k=4, seed=7, weighted=True)
    solver = "newton-cg" if hessian_free else "newton"
    return logreg.LogisticRegression(solver=solver, tol=1e-10, **params).fit(
        X, y, sample_weight=w)


@pytest.mark.parametrize("penalty", ["l2", None])
def test_hessian_free_reaches_the_exact_newton_optimum(monkeypatch, penalty):
    exact = _fit(monkeypatch, False, penalty=penalty)
    free = _fit(monkeypatch, True, penalty=penalty)
    assert free.n_passes_ > exact.n_passes_     # Hessian-vector passes were made
    assert_allclose_scaled(free.coef_, exact.coef_, 1e-8)
    assert_allclose_scaled(free.intercept_, exact.intercept_, 1e-8)
    assert free.history_[-1]["grad_max"] <= 1e-10
    if penalty is None:    # the exact Hessian at the final coefficients, for inference
        assert_allclose_scaled(free.inference().cov, exact.inference().cov, 1e-7)


@pytest.mark.parametrize("penalty", ["l2", None])
def test_hessian_free_at_the_default_tol_is_as_accurate_as_exact_newton(monkeypatch, penalty):
    """CG stops as soon as the next iterate should pass the convergence test
    (``ConjugateGradient._converged``); the test adds CG's error to the decrement, so loose
    late solves cannot stop the fit early."""
    tight = _fit(monkeypatch, False, penalty=penalty)      # exact Newton, tol=1e-10
    X, y, w = make_classification(n=3000, d=8, k=4, seed=7, weighted=True)
    free = logreg.LogisticRegression(solver="newton-cg", penalty=penalty).fit(
        X, y, sample_weight=w)
    assert free.n_passes_ > free.n_iter_ + 2     # Hessian-vector passes were made
    full = lambda m: np.column_stack([m.coef_, m.intercept_])  # noqa: E731
    assert_allclose_scaled(full(free), full(tight), DEFAULT_TOL_COEF_RTOL)


def test_preconditioner_is_factored_in_float32_only_where_that_is_sound():
    from logreg._curvature import preconditioner_cholesky

    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    for eigenvalues, dtype in [(np.linspace(1.0, 100.0, 30), np.float32),   # kappa 1e2
                               (np.geomspace(1e-9, 1.0, 30), np.float64),   # kappa 1e9
                               (np.linspace(1e39, 1e40, 30), np.float64)]:  # past float32
        H = (Q * eigenvalues) @ Q.T
        factor = preconditioner_cholesky(H)
        assert factor is not None and factor[0].dtype == dtype


def test_preconditioner_takes_float32_pairs_then_float64_if_they_do_not_factor(monkeypatch):
    from logreg import _curvature

    X, y, _ = make_classification(n=3000, d=8, k=4, seed=3)
    calls = []
    original = _oracle.InMemoryOracle.subsample_hessian

    def spy(self, coef, *, single_precision=False):
        calls.append(single_precision)
        return original(self, coef, single_precision=single_precision)

    monkeypatch.setattr(_oracle.InMemoryOracle, "subsample_hessian", spy)
    model = logreg.LogisticRegression(solver="newton-cg", tol=1e-10).fit(X, y)
    assert calls and all(calls)                 # the preconditioner took float32 pairs

    factor = _curvature.preconditioner_cholesky
    monkeypatch.setattr(_curvature, "preconditioner_cholesky",
                        lambda H: None if calls[-1] else factor(H))
    calls.clear()
    again = logreg.LogisticRegression(solver="newton-cg", tol=1e-10).fit(X, y)
    assert calls[:2] == [True, False]           # refactored from float64 pairs
    assert_allclose_scaled(again.coef_, model.coef_, DEFAULT_TOL_COEF_RTOL)


def test_the_kronecker_preconditioner_gives_way_sooner_than_a_subsampled_one(monkeypatch):
    from logreg import _curvature, _policy
    from logreg._kronecker import KroneckerNewtonSystem

    X, y, _ = make_classification(n=6000, d=12, k=5, seed=11)
    refreshes = []
    original = _curvature.ConjugateGradient.prepare

    def spy(self, iterate):
        outgoing, iters = self.preconditioner, self.cg_iters
        ready = original(self, iterate)
        if outgoing is not None and self.preconditioner is not outgoing:   # rebuilt
            refreshes.append((type(outgoing), iters))
        return ready

    monkeypatch.setattr(_curvature.ConjugateGradient, "prepare", spy)
    logreg.LogisticRegression(solver="newton-cg", tol=1e-10).fit(X, y)
    assert refreshes[0][0] is KroneckerNewtonSystem           # the start's, replaced
    assert refreshes[0][1] <= _policy.CG_REFRESH               # ... before a subsample's would be
    for kind, iters in refreshes:
        limit = (_policy.KRONECKER_CG_REFRESH if kind is KroneckerNewtonSystem
                 else _policy.CG_REFRESH)
        assert iters > limit, refreshes
