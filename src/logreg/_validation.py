"""Input validation at the Python boundary: the kernel trusts what passes here.

Every function raises ``TypeError`` for the wrong kind of input and
``ValueError`` for the wrong shape or value, with a message naming the
argument.  Nothing here copies ``X`` when it is already float32/float64.
"""
import numbers
import os

import numpy as np

from . import _hessian

# Rows of ``proba`` must sum to one within this tolerance, per input dtype.
PROBA_SUM_TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-8}


def _is_sparse(x):
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def _default_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _all_finite(a):
    """NaN/inf check in one pass, without an n x d temporary (SIMD kernel for floats)."""
    if a.size == 0:
        return True
    if a.dtype in (np.float64, np.float32) and a.ndim <= 2:
        return _hessian.all_finite(a, _default_threads())
    return bool(np.isfinite(a.min()) and np.isfinite(a.max()))


def check_X(X, *, name="X", dtypes=(np.float64, np.float32)):
    """Return X as a 2-D float array; float32/float64 input is not copied."""
    if _is_sparse(X):
        raise TypeError(f"{name} is a sparse matrix; logreg needs a dense array.")
    arr = np.asarray(X)
    if arr.dtype.kind in "OUSVMm" or arr.dtype.kind == "c":
        raise TypeError(
            f"{name} must be numeric (real numbers); got an array of dtype {arr.dtype}."
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got {arr.ndim}-D with shape "
            f"{arr.shape}. Reshape 1-D data with X.reshape(-1, 1) for a single feature."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {arr.shape}).")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {arr.shape}).")
    if arr.dtype not in [np.dtype(d) for d in dtypes]:
        arr = arr.astype(np.float64)
    if not _all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinity.")
    return arr


def check_sample_weight(sample_weight, n_samples, *, name="sample_weight"):
    """None, or a C-ordered float64 vector of n non-negative finite weights."""
    if sample_weight is None:
        return None
    if _is_sparse(sample_weight):
        raise TypeError(f"{name} must be a dense 1-D array, not a sparse matrix.")
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric; got dtype {w.dtype}.")
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {w.shape}.")
    if w.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {w.shape[0]} entries but X has {n_samples} samples."
        )
    w = np.ascontiguousarray(w, dtype=np.float64)
    if not _all_finite(w):
        raise ValueError(f"{name} contains NaN or infinity.")
    if w.min() < 0:
        raise ValueError(f"{name} contains negative values; weights must be >= 0.")
    return w


def check_proba(proba, n_samples):
    """C-ordered float64 (n, k) probabilities in [0, 1] whose rows sum to one."""
    if _is_sparse(proba):
        raise TypeError("proba must be a dense array, not a sparse matrix.")
    P = np.asarray(proba)
    if P.dtype.kind not in "biuf":
        raise TypeError(f"proba must be numeric; got dtype {P.dtype}.")
    if P.ndim != 2:
        raise ValueError(f"proba must be 2-D (n_samples, n_classes); got shape {P.shape}.")
    if P.shape[0] != n_samples:
        raise ValueError(f"proba has {P.shape[0]} rows but X has {n_samples} samples.")
    if P.shape[1] < 2:
        raise ValueError(
            f"proba must have at least 2 columns (classes); got {P.shape[1]}."
        )
    tol = PROBA_SUM_TOL.get(P.dtype, PROBA_SUM_TOL[np.dtype(np.float64)])
    P = np.ascontiguousarray(P, dtype=np.float64)
    # one pass over P for all four checks (NumPy needs five and a temporary)
    finite, lo, hi, worst = _hessian.proba_stats(P, _default_threads())
    if not finite:
        raise ValueError("proba contains NaN or infinity.")
    if lo < 0 or hi > 1:
        raise ValueError("proba must lie in [0, 1].")
    if worst > tol:
        raise ValueError(
            f"rows of proba must sum to 1 (within {tol:g}); the worst row is off by {worst:.3g}."
        )
    return P


def check_n_threads(n_threads):
    """None (all available cores) or a positive int -> a positive int."""
    if n_threads is None:
        return _default_threads()
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be None or a positive int; got {n_threads!r}.")
    if n_threads < 1:
        raise ValueError(f"n_threads must be None or a positive int; got {n_threads}.")
    return int(n_threads)


def check_out(out, m):
    """A writable C-contiguous float64 (m, m) array, or a new one when None."""
    if out is None:
        return np.empty((m, m))
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray; got {type(out).__name__}.")
    if out.dtype != np.float64:
        raise TypeError(f"out must have dtype float64; got {out.dtype}.")
    if out.shape != (m, m):
        raise ValueError(f"out must have shape {(m, m)}; got {out.shape}.")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous.")
    if not out.flags.writeable:
        raise ValueError("out is read-only.")
    return out
