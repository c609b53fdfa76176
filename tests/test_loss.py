"""The loss module: layout, stable softmax, and derivatives.

Layers: values against the seed's NumPy formulas (logreg.reference), gradient
against central finite differences of the loss, Hessian against finite
differences of the gradient and against an independent einsum oracle.
"""
import numpy as np
import pytest

from logreg import _loss, reference

from .tolerances import FD_RTOL, KERNEL_RTOL, assert_allclose_scaled, rtol_for

FD_STEP = 1e-6


def make_problem(n=60, d=4, k=3, weighted=True, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, k, size=n)
    y[:k] = np.arange(k)
    w = rng.uniform(0.2, 3.0, size=n) if weighted else None
    return X, y, w


def loss_and_grad(binary):
    return _loss.binary_loss_gradient if binary else _loss.loss_gradient


def lgh(binary):
    return _loss.binary_loss_gradient_hessian if binary else _loss.loss_gradient_hessian


CASES = [  # (binary, k, fit_intercept, weighted)
    (False, 3, True, True),
    (False, 4, False, True),
    (False, 3, True, False),
    (True, 2, True, True),
    (True, 2, False, False),
]


def case_id(case):
    binary, k, fi, wt = case
    return f"{'binary' if binary else f'multi{k}'}-{'icpt' if fi else 'noicpt'}-{'w' if wt else 'unw'}"


@pytest.fixture(params=CASES, ids=case_id)
def case(request):
    binary, k, fit_intercept, weighted = request.param
    X, y, w = make_problem(k=k, weighted=weighted)
    rng = np.random.default_rng(1)
    rows = 1 if binary else k
    coef = rng.normal(scale=0.7, size=(rows, X.shape[1] + fit_intercept))
    return binary, X, y, w, coef, fit_intercept


def test_gradient_matches_finite_differences(case):
    binary, X, y, w, coef, fi = case
    f = loss_and_grad(binary)
    _, grad = f(X, y, w, coef, fi)
    fd = np.zeros_like(coef)
    for idx in np.ndindex(*coef.shape):
        e = np.zeros_like(coef)
        e[idx] = FD_STEP
        fd[idx] = (f(X, y, w, coef + e, fi)[0] - f(X, y, w, coef - e, fi)[0]) / (2 * FD_STEP)
    assert_allclose_scaled(grad, fd, FD_RTOL)


def test_hessian_matches_finite_differences_of_gradient(case):
    binary, X, y, w, coef, fi = case
    k, p = coef.shape
    _, _, pairs = lgh(binary)(X, y, w, coef, fi, 1)
    H = _loss.hessian_from_pairs(pairs, k, p, binary)
    f = loss_and_grad(binary)
    fd = np.zeros((k * p, k * p))
    for col, idx in enumerate(np.ndindex(k, p)):   # class-major: col = i * p + a
        e = np.zeros_like(coef)
        e[idx] = FD_STEP
        diff = f(X, y, w, coef + e, fi)[1] - f(X, y, w, coef - e, fi)[1]
        fd[:, col] = diff.ravel() / (2 * FD_STEP)
    assert_allclose_scaled(H, fd, FD_RTOL)
    np.testing.assert_array_equal(H, H.T)


def test_loss_gradient_hessian_agrees_with_loss_gradient(case):
    binary, X, y, w, coef, fi = case
    L1, g1 = loss_and_grad(binary)(X, y, w, coef, fi)
    L2, g2, pairs = lgh(binary)(X, y, w, coef, fi, 2)
    assert L1 == L2
    np.testing.assert_array_equal(g1, g2)
    K = 1 if binary else coef.shape[0] * (coef.shape[0] - 1) // 2
    p = coef.shape[1]
    assert pairs.shape == (K, p * (p + 1) // 2)


def einsum_hessian(X, P, w, fit_intercept):
    """Independent oracle: H[i, a, j, c] = sum_n w p_i (delta_ij - p_j) x_a x_c."""
    Xt = reference.add_intercept(X) if fit_intercept else X
    k = P.shape[1]
    w = np.ones(len(X)) if w is None else w
    B = w[:, None, None] * P[:, :, None] * (np.eye(k)[None] - P[:, None, :])
    H = np.einsum("nij,na,nc->iajc", B, Xt, Xt)
    m = k * Xt.shape[1]
    return H.reshape(m, m)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_multinomial_hessian_matches_einsum_oracle(fit_intercept, dtype):
    X, y, w = make_problem(k=4, dtype=dtype)
    coef = np.random.default_rng(2).normal(size=(4, X.shape[1] + fit_intercept))
    _, _, pairs = _loss.loss_gradient_hessian(X, y, w, coef, fit_intercept, 2)
    H = _loss.hessian_from_pairs(pairs, 4, coef.shape[1], binary=False)
    P = _loss.softmax(_loss.linear_predictor(X, coef, fit_intercept))
    oracle = einsum_hessian(X.astype(np.float64), P, w, fit_intercept)
    assert_allclose_scaled(H, oracle, rtol_for(np.float64, KERNEL_RTOL))


def test_binary_hessian_is_x_t_diag_w_p_1mp_x():
    X, y, w = make_problem(k=2)
    coef = np.array([[0.3, -1.0, 0.5, 2.0, -0.2]])
    _, _, pairs = _loss.binary_loss_gradient_hessian(X, y, w, coef, True, 1)
    H = _loss.hessian_from_pairs(pairs, 1, 5, binary=True)
    Xt = reference.add_intercept(X)
    p = 1 / (1 + np.exp(-(Xt @ coef[0])))
    oracle = Xt.T @ (Xt * (w * p * (1 - p))[:, None])
    assert_allclose_scaled(H, oracle, rtol_for(np.float64, KERNEL_RTOL))


def test_binary_model_is_softmax_with_a_zero_class():
    """Binary layout: the one row belongs to class 1; class 0 has logit 0."""
    X, y, w = make_problem(k=2)
    coef = np.array([[0.3, -1.0, 0.5, 2.0, -0.2]])
    L, g = _loss.binary_loss_gradient(X, y, w, coef, True)
    both = np.vstack([np.zeros_like(coef), coef])
    L2, g2 = _loss.loss_gradient(X, y, w, both, True)
    np.testing.assert_allclose(L, L2, rtol=1e-13)
    np.testing.assert_allclose(g, g2[1:], rtol=1e-12, atol=1e-12)


def test_values_match_the_seed_formulas():
    """Loss and gradient equal the seed's, with coef = W.T and the intercept last."""
    X, y, w = make_problem(k=3)
    W = np.random.default_rng(3).normal(size=(X.shape[1] + 1, 3))    # seed layout (p, k)
    Xt = reference.add_intercept(X)
    P = reference.forward(Xt, W)
    Y = reference.one_hot(y, 3)
    L, G = _loss.loss_gradient(X, y, w, W.T.copy(), True)
    np.testing.assert_allclose(L, reference.cross_entropy(Y, P, w), rtol=1e-12)
    assert_allclose_scaled(G, reference.gradient(Xt, Y, P, w).T, 1e-12)


def test_layout_intercept_is_last_column():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    coef = np.array([[1.0, 10.0, 100.0], [0.0, 0.0, -5.0], [2.0, 0.0, 0.0]])
    eta = _loss.linear_predictor(X, coef, True)
    np.testing.assert_array_equal(eta, [[121.0, -5.0, 2.0], [143.0, -5.0, 6.0]])
    eta0 = _loss.linear_predictor(X, coef[:, :2], False)
    np.testing.assert_array_equal(eta0, [[21.0, 0.0, 2.0], [43.0, 0.0, 6.0]])


def test_l2_penalty_leaves_the_intercept_alone():
    coef = np.array([[1.0, 2.0, 50.0], [3.0, 0.0, -7.0]])
    assert _loss.l2_penalty(coef, True) == 0.5 * (1 + 4 + 9)
    assert _loss.l2_penalty(coef, False) == 0.5 * (1 + 4 + 2500 + 9 + 49)
    np.testing.assert_array_equal(_loss.penalty_mask(2, 3, True), [[1, 1, 0], [1, 1, 0]])


@pytest.mark.parametrize("scale", [1e2, 1e5, 1e300])
def test_log_sum_exp_never_overflows(scale):
    """Extreme logits: finite loss, probabilities that sum to one, no warnings."""
    eta = scale * np.array([[1.0, -1.0, 0.5], [-2.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    y = np.array([0, 0, 2])
    ce, P = _loss.multinomial_pointwise(eta, y)
    assert np.all(np.isfinite(ce)) and np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    right = np.log1p(np.exp(-0.5 * scale) + np.exp(-2 * scale))   # confident and right
    assert ce[0] == pytest.approx(right, rel=1e-12, abs=1e-300)
    assert ce[1] == pytest.approx(5 * scale, rel=1e-12)    # confident and wrong
    assert ce[2] == pytest.approx(np.log(3), rel=1e-15)
    logp = _loss.log_softmax(eta)
    assert np.all(np.isfinite(logp))
    eta_b = scale * np.array([1.0, -1.0, 1.0, -1.0])
    ce_b, p_b = _loss.binary_pointwise(eta_b, np.array([1, 0, 0, 1]))
    assert np.all(np.isfinite(ce_b)) and np.all((p_b >= 0) & (p_b <= 1))
    np.testing.assert_allclose(ce_b[2:], scale, rtol=1e-12)


def test_confident_predictions_keep_relative_accuracy():
    """CE = log1p(exp(-m)) for a margin m: accurate far below machine epsilon."""
    m = 40.0
    ce, _ = _loss.multinomial_pointwise(np.array([[m, 0.0]]), np.array([0]))
    np.testing.assert_allclose(ce[0], np.exp(-m), rtol=1e-14)
    ce_b, _ = _loss.binary_pointwise(np.array([m]), np.array([1]))
    np.testing.assert_allclose(ce_b[0], np.exp(-m), rtol=1e-14)
    X = np.array([[1.0]])
    _, g = _loss.binary_loss_gradient(X, np.array([1]), None, np.array([[m]]), False)
    np.testing.assert_allclose(g[0, 0], -np.exp(-m), rtol=1e-14)   # no p - 1 cancellation


def test_float32_X_gives_the_float64_answer_without_copying_X():
    X, y, w = make_problem(n=5000, d=7, k=3, dtype=np.float32)
    coef = np.random.default_rng(4).normal(size=(3, 8))
    L32, g32, pairs32 = _loss.loss_gradient_hessian(X, y, w, coef, True, 2)
    L64, g64, pairs64 = _loss.loss_gradient_hessian(X.astype(np.float64), y, w, coef, True, 2)
    np.testing.assert_allclose(L32, L64, rtol=1e-13)
    assert_allclose_scaled(g32, g64, 1e-13)
    assert_allclose_scaled(pairs32, pairs64, 1e-13)


def test_float32_chunked_products(monkeypatch):
    """The row-chunked float32 path (several chunks) equals the float64 product."""
    monkeypatch.setattr(_loss, "_CHUNK_BYTES", 8 * 3 * 256)
    X, _, _ = make_problem(n=1000, d=3, dtype=np.float32)
    B = np.random.default_rng(5).normal(size=(3, 2))
    R = np.random.default_rng(6).normal(size=(1000, 2))
    np.testing.assert_allclose(_loss.x_dot(X, B), X.astype(np.float64) @ B, rtol=1e-14)
    np.testing.assert_allclose(_loss.xt_dot(X, R), X.astype(np.float64).T @ R, rtol=1e-12)
