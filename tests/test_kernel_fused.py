"""The fused per-chunk kernel ``loss_gradient_pairs`` against NumPy (``logreg.reference``).

One pass over X gives the weighted cross-entropy, its gradient and the pair
products of the Hessian; each is checked against the seed's NumPy algorithm,
on every route and instruction set, and for bit-identity across threads.
"""
import numpy as np
import pytest

from logreg import _hessian, _kernel, reference

from .tolerances import FUSED_RTOL, assert_allclose_scaled, rtol_for

PATHS = ["simd", "gemm", "syrk"]


def _levels():
    best = _hessian._set_simd_level(None)
    order = ["baseline", "avx2", "avx512"]
    return order[: order.index(best) + 1] if best in order else [best]


@pytest.fixture(params=_levels())
def simd_level(request):
    got = _hessian._set_simd_level(request.param)
    assert got == request.param
    yield got
    _hessian._set_simd_level(None)


def _problem(n, d, k, seed=0, weights=False, coef_scale=0.7, fit_intercept=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n).astype(np.intp)
    coef = coef_scale * rng.standard_normal((k, d + fit_intercept))
    w = rng.uniform(0.0, 2.0, n) if weights else None
    if weights:
        w[::5] = 0.0
    return X, y, coef, w


def _oracle(X, y, coef, w, fit_intercept):
    """loss, grad (k, p), class-major Hessian, all from logreg.reference."""
    Xr = reference.add_intercept(X) if fit_intercept else np.asarray(X, dtype=np.float64)
    k = coef.shape[0]
    P = reference.forward(Xr, coef.T)
    Y = reference.one_hot(y, k)
    loss = reference.cross_entropy(Y, P, w)
    grad = reference.gradient(Xr, Y, P, w).T
    H = reference.to_class_major(reference.hessian(Xr, P, w), Xr.shape[1], k)
    return loss, grad, H


def _fused(X, y, coef, w, fit_intercept, n_threads=2, path=None):
    loss, grad, pairs = _kernel.loss_gradient_pairs(
        X, y, w, coef, fit_intercept, n_threads, path=path
    )
    k, p = coef.shape
    H = np.empty((k * p, k * p))
    _hessian.hessian_from_pairs(pairs, k, p, H)
    return loss, grad, H


def _check(got, expected, dtype=np.float64):
    rtol = rtol_for(dtype, FUSED_RTOL)
    assert got[0] == pytest.approx(expected[0], rel=rtol)
    assert_allclose_scaled(got[1], expected[1], rtol, err_msg="gradient")
    assert_allclose_scaled(got[2], expected[2], rtol, err_msg="Hessian")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("n,d,k", [(1003, 5, 3), (517, 12, 4), (64, 9, 2), (300, 3, 7)])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_fused_matches_reference(simd_level, path, n, d, k, fit_intercept, weights):
    X, y, coef, w = _problem(n, d, k, seed=n + k, weights=weights, fit_intercept=fit_intercept)
    expected = _oracle(X, y, coef, w, fit_intercept)
    for order in "CF":
        _check(_fused(np.asarray(X, order=order), y, coef, w, fit_intercept, path=path),
               expected)


@pytest.mark.parametrize("order", ["C", "F"])
def test_fused_float32(order):
    X, y, coef, w = _problem(700, 10, 5, seed=9, weights=True)
    X32 = np.asarray(X.astype(np.float32), order=order)
    _check(_fused(X32, y, coef, w, True), _oracle(X, y, coef, w, True), np.float32)
    _check(_fused(X32, y, coef, w, True), _oracle(X32.astype(np.float64), y, coef, w, True))


def test_extreme_logits_never_overflow():
    X, y, coef, w = _problem(500, 4, 3, seed=1, coef_scale=800.0)
    loss, grad, H = _fused(X, y, coef, w, True)
    assert np.isfinite(loss) and np.all(np.isfinite(grad)) and np.all(np.isfinite(H))
    # large but representable logits: the reference (max-shifted softmax) agrees
    X, y, coef, w = _problem(500, 4, 3, seed=1, coef_scale=40.0)
    _check(_fused(X, y, coef, w, True), _oracle(X, y, coef, w, True))


def test_loss_is_exact_for_a_confident_wrong_label():
    # logit gap 1000 against the label: loss = 1000 exactly, no inf / nan
    X = np.ones((1, 1))
    coef = np.array([[1000.0], [0.0]])
    loss, grad, pairs = _kernel.loss_gradient_pairs(X, np.array([1], dtype=np.intp), None,
                                                    coef, False, 1)
    assert loss == pytest.approx(1000.0, rel=1e-15)
    assert np.allclose(grad, [[1.0], [-1.0]])


@pytest.mark.parametrize("path", PATHS)
def test_fused_bit_identical_across_threads(path):
    X, y, coef, w = _problem(6000, 11, 4, seed=3, weights=True)
    runs = [_kernel.loss_gradient_pairs(X, y, w, coef, True, t, path=path) for t in (1, 2, 3)]
    for loss, grad, pairs in runs[1:]:
        assert loss == runs[0][0]
        assert np.array_equal(grad, runs[0][1])
        assert np.array_equal(pairs, runs[0][2])


def test_without_pairs():
    X, y, coef, w = _problem(400, 6, 3, seed=2, weights=True)
    loss, grad, pairs = _kernel.loss_gradient_pairs(X, y, w, coef, True, 2, with_pairs=False)
    assert pairs is None
    exp_loss, exp_grad, _ = _oracle(X, y, coef, w, True)
    assert loss == pytest.approx(exp_loss, rel=rtol_for(np.float64, FUSED_RTOL))
    assert_allclose_scaled(grad, exp_grad, rtol_for(np.float64, FUSED_RTOL))


def test_binary_is_k2_with_zero_first_row():
    """Binary logistic regression maps to k = 2 with coef = [0, beta]."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((800, 5))
    beta = rng.standard_normal(6)
    y = rng.integers(0, 2, 800).astype(np.intp)
    w = rng.uniform(0, 2, 800)
    coef = np.vstack([np.zeros(6), beta])
    loss, grad, pairs = _kernel.loss_gradient_pairs(X, y, w, coef, True, 2)
    Xr = reference.add_intercept(X)
    eta = Xr @ beta
    p1 = 1.0 / (1.0 + np.exp(-eta))
    exp_loss = np.sum(w * (np.logaddexp(0.0, eta) - y * eta))
    exp_grad = Xr.T @ (w * (p1 - y))
    exp_hess = (Xr * (w * p1 * (1 - p1))[:, None]).T @ Xr
    rtol = rtol_for(np.float64, FUSED_RTOL)
    assert loss == pytest.approx(exp_loss, rel=rtol)
    assert_allclose_scaled(grad[1], exp_grad, rtol)
    iu = np.triu_indices(6)
    assert_allclose_scaled(pairs[0], exp_hess[iu], rtol)


def test_argument_errors():
    X, y, coef, w = _problem(50, 3, 3, seed=0)
    with pytest.raises(ValueError, match="coef must have shape"):
        _hessian.loss_gradient_pairs(X, y, w, np.ascontiguousarray(coef[:, :2]), True, 1)
    with pytest.raises(ValueError, match="y_codes has"):
        _hessian.loss_gradient_pairs(X, y[:10], w, coef, True, 1)
