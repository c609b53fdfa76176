"""Input validation at the Python boundary: the kernel trusts what passes here.

Every function raises ``TypeError`` for the wrong kind of input and
``ValueError`` for the wrong shape or value, with a message naming the
argument.  Nothing here copies ``X`` when it is already float32/float64.
"""
import numbers

import numpy as np

from . import _hessian
from ._threads import effective_n_threads

# Rows of ``proba`` must sum to one within this tolerance, per input dtype.
PROBA_SUM_TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-8}


def _is_sparse(x):
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def _all_finite(a, n_threads=None):
    """NaN/inf check in one pass, without an n x d temporary (SIMD kernel for floats;
    ``n_threads`` None: all available cores)."""
    if a.size == 0:
        return True
    if a.dtype in (np.float64, np.float32) and a.ndim <= 2:
        if not a.flags.aligned:     # the SIMD kernel reads typed elements
            a = np.require(a, requirements="A")
        return _hessian.all_finite(a, effective_n_threads() if n_threads is None else n_threads)
    return bool(np.isfinite(a.min()) and np.isfinite(a.max()))


def check_X(X, *, name="X", dtypes=(np.float64, np.float32), n_threads=None,
            accept_sparse=False):
    """Return X as a 2-D float array; float32/float64 input is not copied.

    ``accept_sparse``: a scipy.sparse X is returned by ``check_X_sparse``.
    """
    if _is_sparse(X):
        if accept_sparse:
            return check_X_sparse(X, name=name, n_threads=n_threads)
        raise TypeError(f"{name} is a sparse matrix; this function needs a dense array.")
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
    if not arr.flags.aligned:
        # the kernel reads typed elements: one aligned copy here, not one per pass
        arr = np.require(arr, requirements="A")
    if not _all_finite(arr, n_threads):
        raise ValueError(f"{name} contains NaN or infinity.")
    return arr


def check_X_sparse(X, *, name="X", n_threads=None, estimator=False):
    """A scipy.sparse X -> canonical CSR (``csr_matrix`` or ``csr_array``, as given).

    The same rules as for dense X (2-D, samples and features, real numbers,
    finite values; ``estimator``: the wording of ``check_X_estimator``), and
    what the sparse kernel trusts: CSR with sorted indices and no duplicate
    entries, float32/float64 values, int32/int64 indices.  Copies (each
    O(nnz), never dense): CSC and the other formats (COO, LIL, DOK, BSR, DIA)
    are converted to CSR; integer or bool values to float64; unsorted indices
    or duplicates are summed into canonical form on a copy.  Explicit zeros
    and empty rows or columns are kept (they change nothing).
    """
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got a {X.ndim}-D "
                         f"sparse array with shape {X.shape}.")
    n, d = X.shape
    if n == 0 or d == 0:
        if estimator:
            what = "sample(s)" if n == 0 else "feature(s)"
            raise ValueError(f"{name} has 0 {what} (shape={X.shape}) while a minimum of 1 "
                             "is required.")
        raise ValueError(f"{name} is empty: it has 0 {'samples' if n == 0 else 'features'} "
                         f"(shape {X.shape}).")
    kind = X.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {X.dtype}.")
    if kind not in "biuf":
        raise TypeError(f"{name} must be numeric (real numbers); got a sparse matrix of "
                        f"dtype {X.dtype}.")
    if X.format != "csr":
        X = X.tocsr()
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.indptr.dtype != X.indices.dtype or X.indices.dtype not in (np.int32, np.int64):
        X = X.copy()
        X.indptr, X.indices = X.indptr.astype(np.int64), X.indices.astype(np.int64)
    try:
        X.check_format(full_check=True)
    except ValueError as exc:
        raise ValueError(f"{name} is not a valid sparse matrix: {exc}") from None
    if not _all_finite(X.data, n_threads):
        raise ValueError(f"{name} contains NaN or infinity.")
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def check_sample_weight(sample_weight, n_samples, *, name="sample_weight", n_threads=None):
    """None, or a C-ordered float64 vector of n non-negative finite weights."""
    if sample_weight is None:
        return None
    if _is_sparse(sample_weight):
        raise TypeError(f"{name} must be a dense 1-D array, not a sparse matrix.")
    w = np.asarray(sample_weight)
    check_weight_layout(w, n_samples, name=name)
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    w = np.require(w, np.float64, ("C", "A"))
    check_weight_values(w, name=name, n_threads=n_threads)
    return w


def check_weight_layout(w, n_samples, *, name="sample_weight"):
    """The rules on a weight array's dtype and shape (a scalar passes): they read
    metadata only, so a Dask array is checked without computing it."""
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric; got dtype {w.dtype}.")
    if w.ndim == 0:
        return
    if w.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {w.shape}.")
    if w.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {w.shape[0]} entries but X has {n_samples} samples."
        )


def check_weight_values(w, *, name="sample_weight", n_threads=None):
    """The rules on weight values: finite and >= 0 (Dask applies them per block)."""
    if not _all_finite(w, n_threads):
        raise ValueError(f"{name} contains NaN or infinity.")
    if w.size and w.min() < 0:
        raise ValueError(f"{name} contains negative values; weights must be >= 0.")
    return w


def check_proba(proba, n_samples, *, n_threads=None):
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
    P = np.require(P, np.float64, ("C", "A"))
    # one pass over P for all four checks (NumPy needs five and a temporary)
    finite, lo, hi, worst = _hessian.proba_stats(
        P, effective_n_threads() if n_threads is None else n_threads)
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
    """None, a positive count or a negative one (-1: all cores) -> the kernel's
    thread count (``_threads.effective_n_threads`` has the rules)."""
    if n_threads is not None and (isinstance(n_threads, bool)
                                  or not isinstance(n_threads, numbers.Integral)):
        raise TypeError(
            f"n_threads must be None or a nonzero int (-1: all cores); got {n_threads!r}.")
    if n_threads is not None and n_threads == 0:
        raise ValueError("n_threads must be None or a nonzero int (-1: all cores); got 0.")
    return effective_n_threads(n_threads)


def check_finite_result(result, what, *, n_threads=None):
    """A ValueError when finite, validated inputs gave a non-finite ``result``:
    their magnitudes overflow float64 (e.g. x**2 * w beyond 1.8e308)."""
    if not _all_finite(result, n_threads):
        raise ValueError(
            f"{what} overflows float64: X, sample_weight or proba hold values too large "
            "in magnitude for the products it sums. Rescale X (e.g. StandardScaler) "
            "or the weights."
        )


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


# ---------------------------------------------------------------------------
# Estimator inputs (LogisticRegression): X with scikit-learn's error wording,
# labels, class weights.  Owned by the solver/estimator work.
# ---------------------------------------------------------------------------

def check_X_estimator(X, *, name="X", n_threads=None):
    """``check_X`` plus what an estimator meets: object arrays, complex, lists, 1-D;
    scipy.sparse X goes to ``check_X_sparse``.

    Messages contain the phrases scikit-learn's common checks look for.
    """
    if _is_sparse(X):
        return check_X_sparse(X, name=name, n_threads=n_threads, estimator=True)
    try:
        arr = np.asarray(X)
    except ValueError as exc:   # ragged nested lists
        raise ValueError(f"{name} could not be read as a 2-D numeric array: {exc}") from None
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except TypeError as exc:   # e.g. a dict in a cell: keep Python's wording
            raise TypeError(f"{name} must be numeric: {exc}") from None
        except ValueError as exc:  # e.g. a string that is not a number
            raise TypeError(f"{name} must be numeric (real numbers): {exc}") from None
    check_X_layout(arr, name=name)
    return check_X(arr, name=name, n_threads=n_threads)


def check_X_layout(X, *, name="X"):
    """The estimator's rules on X's dtype and shape, in its order of precedence.

    They read metadata only, so a Dask array is checked without computing it.
    """
    if X.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {X.dtype}.")
    if X.ndim == 1:
        raise ValueError(
            f"Expected a 2-D {name}, got a 1-D array of shape {X.shape} instead. Reshape "
            "your data either using X.reshape(-1, 1) if it has a single feature or "
            "X.reshape(1, -1) if it contains a single sample."
        )
    if X.ndim == 2 and X.shape[1] == 0:
        raise ValueError(
            f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if X.ndim == 2 and X.shape[0] == 0:
        raise ValueError(
            f"{name} has 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if X.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be numeric (real numbers); got an array of dtype {X.dtype}."
        )
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got {X.ndim}-D with shape "
            f"{X.shape}. Reshape 1-D data with X.reshape(-1, 1) for a single feature."
        )


def check_y_labels(y, n_samples):
    """Class labels of any type -> ``(classes, codes)``; ``codes`` index ``classes``.

    A column vector ``(n, 1)`` is raveled with a ``DataConversionWarning``.
    """
    check_y_given(y)
    try:
        arr = np.asarray(y)
    except ValueError as exc:
        raise ValueError(f"y could not be read as a 1-D array of labels: {exc}") from None
    arr = check_y_layout(arr, n_samples, stacklevel=4)
    if arr.dtype.kind in "US" and not isinstance(y, np.ndarray):
        # NumPy turns a list such as ['a', 1] into strings: check the originals
        check_label_values(np.asarray(y, dtype=object))
    check_label_values(arr)
    if arr.dtype.kind in "iub" and arr.size:
        encoded = _encode_small_integers(arr)
        if encoded is not None:
            return encoded
    try:
        classes, codes = np.unique(arr, return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"y labels cannot be sorted: {exc}") from None
    return classes, codes.reshape(-1).astype(np.intp)


def check_y_given(y):
    """y is there and is not a sparse matrix (before any conversion of it)."""
    if y is None:
        raise ValueError(
            "This classifier requires y to be passed, but the target y is None."
        )
    if _is_sparse(y):
        raise TypeError("y is a sparse matrix; pass the labels as a dense 1-D array.")


def check_y_layout(y, n_samples, *, stacklevel=3):
    """The rules on y's shape: 1-D with one label per sample; a column vector
    ``(n, 1)`` is raveled with a ``DataConversionWarning`` (at ``stacklevel``).

    They read metadata only, so a Dask array is checked (and raveled) lazily.
    """
    import warnings  # imported here: this section stays self-contained for merges

    from ._exceptions import DataConversionWarning, sklearn_compatible

    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it was raveled.",
            sklearn_compatible(DataConversionWarning), stacklevel=stacklevel,
        )
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    if y.shape[0] != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: X has {n_samples}, "
            f"y has {y.shape[0]}."
        )
    return y


def check_n_classes(classes, *, owner="LogisticRegression"):
    """At least two distinct labels in y."""
    if len(classes) < 2:
        raise ValueError(
            f"{owner} needs samples of at least 2 classes, but the data "
            f"contain only one class: {classes[0]!r}."
        )


def check_label_values(labels):
    """The rules for class labels, applied to all of y or to its distinct values
    (every data source calls this: in memory on y, on Dask on the classes)."""
    labels = np.asarray(labels)
    if labels.dtype.kind == "c":
        raise ValueError("Complex data not supported: y has complex labels.")
    if labels.dtype.kind == "f":
        if not _all_finite(labels):
            raise ValueError("Input y contains NaN or infinity.")
        if np.any(labels != np.round(labels)):
            raise ValueError(
                "Unknown label type: continuous. y holds non-integer floats, which look "
                "like a regression target; logistic regression needs class labels."
            )
    if labels.dtype.kind == "O":
        kinds = {type(v) for v in labels}
        if any(isinstance(v, float) and not np.isfinite(v) for v in labels):
            raise ValueError("Input y contains NaN or infinity.")
        if len(kinds) > 1 and not all(issubclass(t, numbers.Number) for t in kinds):
            raise TypeError(
                "y mixes label types " + ", ".join(sorted(t.__name__ for t in kinds))
                + "; use labels of one type (all strings or all numbers)."
            )


def _encode_small_integers(arr):
    """``np.unique(arr, return_inverse=True)`` for integer labels in a narrow range,
    by counting instead of sorting (O(n): 0.3 ms instead of 1.6 ms at n=1e5);
    None when the range is too wide for a table."""
    wide = arr.astype(np.int64 if arr.dtype.kind == "i" else np.uint64, copy=False)
    lo, hi = int(wide.min()), int(wide.max())
    if hi - lo > max(1024, arr.size):
        return None
    # exact in 64 bits: every difference lies within [0, hi - lo]
    base = wide.dtype.type(lo)
    shifted = (wide - base).astype(np.intp, copy=False)
    present = np.bincount(shifted, minlength=hi - lo + 1) > 0
    if present.all():
        # every label of the range occurs (labels 0..k-1 mostly): the shifted
        # labels are the codes
        return np.arange(lo, hi + 1, dtype=wide.dtype).astype(arr.dtype), shifted
    lookup = np.cumsum(present, dtype=np.intp) - 1
    classes = (np.flatnonzero(present).astype(wide.dtype) + base).astype(arr.dtype)
    return classes, lookup[shifted]


def check_class_weight(class_weight, classes, codes, sample_weight):
    """Per-class weights ``(k,)`` float64 for None, ``"balanced"`` or a dict.

    ``"balanced"``: ``S / (k * S_c)`` with ``S_c`` the weighted count of class
    ``c`` (scikit-learn's rule).  A dict maps labels to weights; classes it
    does not name get weight 1.
    """
    totals = None
    if isinstance(class_weight, str) and class_weight == "balanced":
        totals = np.bincount(codes, weights=sample_weight, minlength=len(classes))
    return class_weights_from_totals(class_weight, classes, totals)


def class_weights_from_totals(class_weight, classes, class_totals):
    """``check_class_weight`` for any data source: ``class_totals`` are the
    weighted class counts (needed for ``"balanced"`` only, else may be None)."""
    k = len(classes)
    if class_weight is None:
        return np.ones(k)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict; got {class_weight!r}."
            )
        counts = np.asarray(class_totals, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            weights = np.where(counts > 0, counts.sum() / (k * counts), 0.0)  # empty: 0
        if not np.all(np.isfinite(weights)):
            worst = int(np.argmax(~np.isfinite(weights)))
            raise ValueError(
                f"class_weight='balanced' gives class {classes[worst]!r} a weight beyond "
                f"float64: its total sample weight {counts[worst]:.3g} is too small against "
                f"the others' {counts.sum():.3g}. Rescale sample_weight or pass explicit "
                "class weights.")
        return weights
    if not isinstance(class_weight, dict):
        raise TypeError(
            "class_weight must be None, 'balanced' or a dict {label: weight}; got "
            f"{type(class_weight).__name__}."
        )
    weights = np.ones(k)
    index = {c: i for i, c in enumerate(classes.tolist())}
    unknown = [label for label in class_weight if label not in index]
    if unknown:
        raise ValueError(
            f"class_weight names labels {unknown} that are not classes of y "
            f"(classes: {classes.tolist()})."
        )
    for label, value in class_weight.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"class_weight[{label!r}] must be a number; got {value!r}.")
        if not np.isfinite(value) or value < 0:
            raise ValueError(
                f"class_weight[{label!r}] must be finite and >= 0; got {value!r}."
            )
        weights[index[label]] = float(value)
    return weights


def check_class_totals(class_totals, classes):
    """The weighted class counts (sample and class weights applied) leave
    something to fit: a positive total, in at least two classes."""
    check_total_weight(class_totals.sum())
    if np.count_nonzero(class_totals > 0) < 2:
        raise ValueError(
            "Only one class has positive total weight after applying sample_weight "
            f"and class_weight (class {classes[np.argmax(class_totals)]!r}); at least 2 "
            "classes are needed."
        )


def check_total_weight(total):
    """The weights sum to more than zero."""
    if total <= 0:
        raise ValueError("sample_weight is zero for every sample: nothing to fit.")


def effective_weights(w, class_weights, codes):
    """Sample weights times class weights, or ``w`` itself when every class weight
    is one (None stays None: unit weights).  Dask applies it per row block."""
    if np.all(class_weights == 1.0):
        return w
    cw = class_weights[codes]
    return cw if w is None else w * cw
