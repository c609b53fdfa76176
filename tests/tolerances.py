"""Every numerical tolerance the tests use, by dtype, in one visible place.

Relative tolerances are against the largest magnitude of the oracle
(``assert_allclose_scaled``), so tiny entries do not need their own atol.
"""
import numpy as np

# logreg.hessian vs the seed's NumPy Hessian (after the layout permutation)
KERNEL_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


# Rows of predicted probabilities sum to one to rounding, for any finite input.
PROBA_ROW_SUM_ATOL = 1e-12


def rtol_for(dtype, table):
    return table[np.dtype(dtype)]


def assert_allclose_scaled(actual, desired, rtol, err_msg=""):
    """|actual - desired| <= rtol * max|desired| elementwise."""
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    scale = max(np.max(np.abs(desired)), np.finfo(float).tiny) if desired.size else 1.0
    np.testing.assert_allclose(actual, desired, rtol=0, atol=rtol * scale, err_msg=err_msg)


# ---------------------------------------------------------------------------
# Solver and estimator (issue 3).  Fits are compared at the coefficient level
# with assert_allclose_scaled (relative to the largest oracle coefficient).
# ---------------------------------------------------------------------------

# Central finite differences of the loss (gradient) and of the gradient
# (Hessian), step 1e-6 on O(1) coefficients: truncation ~1e-12, rounding ~1e-10.
FD_RTOL = 1e-6

# logreg vs scikit-learn newton-cholesky (tol=1e-12) at the same C: the bar.
SKLEARN_COEF_RTOL = 1e-6
# Our objective may exceed scikit-learn's by rounding only (relative).
OBJECTIVE_SLACK = 1e-12

# Unpenalized probabilities vs statsmodels MNLogit/Logit (its own tolerance ~1e-8).
STATSMODELS_PROBA_ATOL = 1e-6
STATSMODELS_COEF_RTOL = 1e-5

# Two logreg fits of mathematically identical problems (repeated rows vs integer
# weights, permuted classes, float32 vs float64 copy of the same values, threads).
INVARIANCE_RTOL = 1e-8

# Default-tol fit vs a fit at tol=1e-13: the "~1e-8 relative" promise.
DEFAULT_TOL_COEF_RTOL = 3e-8

# The first iteration's Kronecker-structured Hessian (a Gram matrix) vs the
# pair-product Hessian at the same zero-slope coefficients: summation order only.
KRONECKER_HESSIAN_RTOL = 1e-12
# ... and its block-by-block solve vs a dense solve (conditioning ~1e3 here)
KRONECKER_SOLVE_RTOL = 1e-9

# solver="gd" vs logreg.reference gradient descent: same arithmetic, different order.
GD_REFERENCE_RTOL = 1e-9

# Predictions with collinear columns (coefficients are not identifiable).
COLLINEAR_PROBA_ATOL = 1e-6

# ---- kernel routes and the fused kernel (issue 4, branch `kernel`) ----
# Every route (simd / gemm / syrk, every instruction set) against the seed's
# NumPy Hessian.  float32 X is widened exactly and accumulated in float64, so
# against the float32 values themselves the float64 tolerance applies; the
# float32 entry is against the float64 data the float32 copy was rounded from.
KERNEL_PATH_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
# loss_gradient_pairs (loss, gradient, pair products) against logreg.reference
FUSED_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}

# ---- Dask (issue 6) ----
# a Dask fit against the in-memory fit of the same data (different summation order)
DASK_FIT_RTOL = 1e-10
# ... at the default tol, without forcing the same steps: each fit is within
# DEFAULT_TOL_COEF_RTOL of the optimum, so the two within twice that
DASK_DEFAULT_TOL_FIT_RTOL = 2 * DEFAULT_TOL_COEF_RTOL

# ---- the block passes: Hessian-vector product, loss + gradient ----
# _kernel.hessian_vector_product against the NumPy _blocks.hessian_vector_product
# and against the dense H @ v (pair products -> hessian_from_pairs), relative to
# max |H v|.  float32 X is widened exactly, so against the float32 values the
# float64 entry applies; the float32 entry is against the float64 data the
# float32 copy was rounded from (X rounding ~6e-8, amplified by the logits).
HVP_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
# products with the float32 probability cache (_kernel.ProbaCache) against the
# exact float64 products, relative to max |H v|: probabilities rounded to float32
# (relative 6e-8; the errors average over rows: 3e-9 seen at (5000, 30, 7)).  The
# float64 entry is against the same X, the float32 one against the float64 data
# the float32 copy was rounded from (X rounding dominates, as in HVP_RTOL).
HVP_PROBA32_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-7}
# loss + gradient through the block pass against the fused loops, same X
# (both read float32 X exactly: only float64 summation order differs)
LOSS_GRAD_ROUTE_RTOL = {np.dtype(np.float32): 1e-12, np.dtype(np.float64): 1e-12}
# pair products with pairs_f32 (gemm route: float32 outer products, weights and
# segment sums) against the float64 ones, relative to the largest entry: float32
# rounding (6e-8) accumulated over ~1000-row segments
PAIRS_F32_RTOL = 1e-5
# _kronecker.cho_solve_vector (two trsv) against scipy.linalg.cho_solve (potrs),
# same factor: only the order of the triangular sweeps' rounding differs
CHO_SOLVE_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

# ---- numerical extremes (tests/test_numerics.py) ----
# A default-tol fit at C >= 1e10 against the unpenalized fit: each is within
# DEFAULT_TOL_COEF_RTOL of its optimum, and the two optima differ by ~1/(C S)
LARGE_C_COEF_RTOL = DEFAULT_TOL_COEF_RTOL

# The class blocks / diagonal of a preconditioner against an einsum of the same
# probabilities (float64 sums in a different order).
PRECONDITIONER_CURVATURE_RTOL = 1e-12
# A preconditioner's traced peak may exceed its documented estimate by the
# kernel's per-call buffers and the NumPy temporaries of one row chunk (the
# test makes chunks small).
PRECONDITIONER_PEAK_SLACK_BYTES = 2**20

# ---- inference beyond standard errors: marginal effects, tests, intervals ----
# statsmodels' get_margeff / wald_test / score_test / GLM get_prediction (it
# differentiates by complex step, exact to rounding): the 1e-6 bar.
STATSMODELS_INFERENCE_RTOL = 1e-6
# against the tests' own complex-step delta method, same coefficients: rounding only
DELTA_METHOD_RTOL = 1e-9
# the same quantity two ways in logreg (row blocks, reference class, joint vs one
# column): summation order only
INFERENCE_INVARIANCE_RTOL = 1e-9

# ---------------------------------------------------------------------------
# Model selection (LogisticRegressionCV, regularization_path)
# ---------------------------------------------------------------------------

# Fold scores vs scikit-learn's LogisticRegressionCV(newton-cholesky, tol=1e-10),
# same folds and scoring (relative).
CV_SCORE_RTOL = 1e-6
# The refit coef_ vs the optimum at C_ (a cold tol=1e-13 fit; scikit-learn's).
CV_COEF_RTOL = 1e-5
# A warm-started path fit vs a cold fit at the same C, both at tol=1e-12.
PATH_COEF_RTOL = 1e-8

# ---- sparse X (CSR/CSC) ----
# sparse fits, predictions and inference against the dense fit of the same
# values (float64; the same optimum, other summation order): the bar
SPARSE_DENSE_RTOL = 1e-8
# logreg.hessian / oracle passes on sparse X against the dense kernel, same
# values (summation order only)
SPARSE_KERNEL_RTOL = {np.dtype(np.float32): 1e-10, np.dtype(np.float64): 1e-10}
# the Hessian-free route (Newton-CG) against the full-Hessian route: both
# converge to tol=1e-10, whose coefficients agree to about that
SPARSE_ROUTE_RTOL = 1e-7
# the sklearn pipeline under cross_val_score against newton-cholesky (tol=1e-12)
SPARSE_PIPELINE_SCORE_RTOL = 1e-7
# the Hessian-free route's block-diagonal preconditioner keeps its inverse in
# float32 (it only steers CG): its solves against the float64 blocks
PRECONDITIONER_RTOL = 1e-5
