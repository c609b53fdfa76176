"""Every numerical tolerance the tests use, by dtype, in one visible place.

Relative tolerances are against the largest magnitude of the oracle
(``assert_allclose_scaled``), so tiny entries do not need their own atol.
"""
import numpy as np

# logreg.hessian vs the seed's NumPy Hessian (after the layout permutation)
KERNEL_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def rtol_for(dtype, table):
    return table[np.dtype(dtype)]


def assert_allclose_scaled(actual, desired, rtol, err_msg=""):
    """|actual - desired| <= rtol * max|desired| elementwise."""
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    scale = max(np.max(np.abs(desired)), np.finfo(float).tiny) if desired.size else 1.0
    np.testing.assert_allclose(actual, desired, rtol=0, atol=rtol * scale, err_msg=err_msg)


# ---- kernel routes and the fused kernel (issue 4, branch `kernel`) ----
# Every route (simd / gemm / syrk, every instruction set) against the seed's
# NumPy Hessian.  float32 X is widened exactly and accumulated in float64, so
# against the float32 values themselves the float64 tolerance applies; the
# float32 entry is against the float64 data the float32 copy was rounded from.
KERNEL_PATH_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
# loss_gradient_pairs (loss, gradient, pair products) against logreg.reference
FUSED_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
