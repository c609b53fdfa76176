"""Newton statistics of the multinomial cross-entropy on Dask arrays (map-reduce).

Every quantity the Newton solver needs from the data is a sum over samples,
so a pass over the data is: one task per row block computing the block's
contribution, then a fixed-order tree reduction, then the result on the
client.  This module owns that layer; the Newton loop itself lives in
``logreg._newton`` and only sees ``DaskNewtonOracle``.

Layout (the kernel's, see ``logreg._hessian``): ``coef`` is ``(k, p)`` float64,
C-ordered, row = class, ``p = d + fit_intercept`` with the intercept as the
last column.  ``coef.ravel()`` is the class-major coordinate vector of
``logreg.hessian``.  ``pairs`` is ``(K, P2)``, ``K = k(k-1)/2`` class pairs
(0,1), (0,2), ..., ``P2 = p(p+1)/2`` the row-wise packed upper triangle of
``M_ij = sum_n w_n p_ni p_nj x_n x_n^T``; ``hessian_from_pairs`` assembles the
full Hessian.  ``loss`` is the weighted cross-entropy sum (not averaged, no
penalty: the solver adds ``C`` and the L2 term).

Use (what a Newton loop does with it)::

    data = as_dask_data(X, y, sample_weight, class_weight=None, persist=True)
    oracle = DaskNewtonOracle(data, fit_intercept=True, binary=data.n_classes == 2)
    loss, grad, pairs = oracle.stats(coef)                  # pass 1
    H = oracle.hessian(pairs)                               # client: solve for step
    losses = oracle.losses_along(coef, step, 0.5 ** np.arange(8))   # pass 2

Passes per Newton iteration
---------------------------
1. ``stats(coef)``: loss, gradient and pairs at the current coefficients.
2. ``losses_along(coef, direction, steps)``: the losses at a whole ladder of
   step sizes, from ``eta = X coef^T`` and ``deta = X direction^T``
   computed once per block.
Hessian-free Newton-CG adds one pass per ``hessian_vector_product``, and one
per ``class_curvature`` (its preconditioner's class blocks or diagonal).
``n_passes`` counts the passes (the label-encoding pass of ``as_dask_data``
is a setup pass, counted in ``DaskData.n_setup_passes``).

Determinism
-----------
Blocks are combined in a tree whose shape depends on the number of blocks
only (groups of ``split_every`` consecutive blocks, folded left to right), and
each block's contribution does not depend on the thread count, so results
are the same to the last bit across runs, thread budgets and schedulers
(synchronous, threaded, distributed), whatever the task timing.

Memory model
------------
* Per worker, per running task: one row block of ``X`` (``b x d``); in a
  statistics pass the ``b x k`` float64 probabilities the pair kernel reads;
  otherwise only sub-block temporaries of about 256 KiB (logits and residuals
  are computed on cache-sized sub-blocks of rows, class-major); and the pair
  buffer ``K * P2 * 8`` bytes (about ``(k p)^2 * 2`` bytes), plus one such
  buffer per partial sum held by the reduction.  A ``class_curvature`` pass
  holds the probabilities of at most ``_preconditioner.CHUNK_ROWS`` rows and
  ``k * P2 * 8`` bytes (about ``k p^2 * 4``) per partial sum instead.  No copy
  of ``X`` is made; float32 ``X`` is converted to float64 one sub-block at a time.
* Client: the assembled Hessian ``(k p)^2 * 8`` bytes, plus its Cholesky
  factor in the solver (up to about 2x that at the peak), and the gradient.
* Budget rule: when ``(k p)^2 * 8`` exceeds ``hessian_budget_bytes``
  (default ``HESSIAN_BUDGET_BYTES`` = 2 GiB) the oracle refuses to build the
  Hessian (``stats(coef)`` raises ``ValueError``); the caller must use
  Hessian-free Newton-CG: ``stats(coef, hessian=False)`` for loss and gradient
  (no pair buffers on the workers either) and ``hessian_vector_product`` (one
  distributed pass per product) inside conjugate gradients.

Threads inside tasks
--------------------
Each task gives the kernel the worker's thread budget: ``nthreads`` of the
worker divided by the tasks it has running or ready (1 on a 1-thread worker;
1 outside a distributed worker, where the local schedulers run one task per
core).  Dask's nanny starts workers with ``OPENBLAS_NUM_THREADS=1``, so the
NumPy products inside tasks do not start threads of their own either.
"""
import functools
from contextlib import nullcontext
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np

from . import _blocks, _hessian, _kernel, _loss, _preconditioner
from ._protocol import OracleCapabilities
from ._threads import effective_n_threads
from ._validation import (
    check_label_values,
    check_n_classes,
    check_total_weight,
    check_weight_layout,
    check_weight_values,
    check_X,
    check_X_layout,
    check_y_given,
    check_y_layout,
    class_weights_from_totals,
    effective_weights,
)

#: Largest client-side Hessian, in bytes, that ``DaskNewtonOracle`` builds by default.
HESSIAN_BUDGET_BYTES = 2 * 1024**3


# ---------------------------------------------------------------------------
# Per-chunk kernels: statistics through the fused Cython kernel; the step
# ladder and Hessian-vector products from logreg._blocks.
# ---------------------------------------------------------------------------

def loss_gradient_pairs(X, y_codes, sample_weight, coef, fit_intercept, n_threads):
    """Loss, gradient and packed pair products of one row block (the fused kernel).

    Returns ``(loss, grad, pairs)``: ``loss`` the weighted cross-entropy sum
    (float), ``grad`` ``(k, p)``, ``pairs`` ``(K, P2)`` (see the module
    docstring).  Inputs are trusted: ``X`` ``(n, d)`` float32/64, ``y_codes``
    intp in ``0..k-1``, ``sample_weight`` None or float64 ``(n,)``, ``coef``
    ``(k, p)`` float64 C-ordered.
    """
    return _kernel.loss_gradient_pairs(X, y_codes, sample_weight, coef, fit_intercept,
                                       n_threads)


def loss_gradient(X, y_codes, sample_weight, coef, fit_intercept):
    """``(loss, grad)`` of one row block: ``loss_gradient_pairs`` without the pairs."""
    loss, grad, _ = _kernel.loss_gradient_pairs(X, y_codes, sample_weight, coef,
                                                fit_intercept, 1, with_pairs=False)
    return loss, grad


# ---------------------------------------------------------------------------
# Task wrappers: thread budget, a block's problem with X, fixed-order reduction
# ---------------------------------------------------------------------------

def task_thread_budget():
    """Threads a kernel call inside the current task may use (never oversubscribes).

    On a distributed worker: its ``nthreads`` divided by the tasks it has
    running or ready to run; elsewhere 1 (the local schedulers already run
    one task per core).
    """
    try:
        from distributed import get_worker
        worker = get_worker()
    except (ImportError, ValueError):
        return 1
    state = getattr(worker, "state", None)
    nthreads = getattr(state, "nthreads", None) or getattr(worker, "nthreads", 1) or 1
    busy = len(getattr(state, "executing", ())) + len(getattr(state, "ready", ()))
    return max(1, int(nthreads) // max(1, busy))


def _x_problem(X):
    """The in-memory rule's message for a bad block of X, or None.

    Only called when a block's result came out non-finite (the error path), so
    X costs no validation pass of its own.  Weights need none here: the rule on
    their values runs on every block as it is read (``as_dask_data``).
    """
    try:
        check_X(X, n_threads=1)
    except ValueError as exc:
        return str(exc)
    return None


def _block_inputs(y_codes, w):
    """The kernel's dtypes for a block's codes and weights (no copy when they already are)."""
    y_codes = None if y_codes is None else np.ascontiguousarray(y_codes, dtype=np.intp)
    return y_codes, None if w is None else np.ascontiguousarray(w, dtype=np.float64)


def _quiet(task):
    """Non-finite values are reported as a block's problem (and a ValueError on
    the client), so the NumPy warnings they raise inside a block are noise."""
    @functools.wraps(task)
    def quiet_task(*args):
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return task(*args)
    return quiet_task


@_quiet
def _stats_task(X, y_codes, w, coef, fit_intercept, hessian, n_threads):
    """One block of a statistics pass: ``(loss, grad, pairs|None, sum_w, problem)``."""
    y_codes, w = _block_inputs(y_codes, w)
    if hessian:
        loss, grad, pairs = loss_gradient_pairs(X, y_codes, w, coef, fit_intercept,
                                                _task_threads(n_threads))
    else:
        (loss, grad), pairs = loss_gradient(X, y_codes, w, coef, fit_intercept), None
    problem = None
    if not (np.isfinite(loss) and np.isfinite(grad).all()):
        problem = _x_problem(X)
    sum_w = float(X.shape[0] if w is None else w.sum())
    return loss, grad, pairs, sum_w, problem


@_quiet
def _add_stats(a, b):
    if a[4] or b[4]:  # a block failed validation: only the first problem matters now
        return 0.0, None, None, 0.0, a[4] or b[4]
    pairs = None if a[2] is None else a[2] + b[2]
    return a[0] + b[0], a[1] + b[1], pairs, a[3] + b[3], None


@_quiet
def _ladder_task(X, y_codes, w, coef, direction, steps, fit_intercept):
    y_codes, w = _block_inputs(y_codes, w)
    losses = _blocks.losses_along(X, y_codes, w, coef, direction, steps, fit_intercept)
    return losses, None if np.isfinite(losses).all() else _x_problem(X)


@_quiet
def _hvp_task(X, w, coef, vector, fit_intercept):
    _, w = _block_inputs(None, w)
    hv = _blocks.hessian_vector_product(X, w, coef, vector, fit_intercept)
    return hv, None if np.isfinite(hv).all() else _x_problem(X)


@_quiet
def _curvature_task(X, w, coef, fit_intercept, diagonal_only, n_threads):
    _, w = _block_inputs(None, w)
    curvature = _preconditioner.class_curvature(X, w, coef, fit_intercept,
                                                _task_threads(n_threads),
                                                diagonal_only=diagonal_only)
    return curvature, None if np.isfinite(curvature).all() else _x_problem(X)


def _task_threads(n_threads):
    """Kernel threads of a task: ``n_threads``, or the worker's budget when None."""
    return effective_n_threads(task_thread_budget() if n_threads is None else n_threads)


def _add_pair(a, b):
    """Sum of two ``(array, problem)`` partial results."""
    if a[1] or b[1]:
        return None, a[1] or b[1]
    return a[0] + b[0], None


def _fold(combine, *parts):
    """``combine`` over ``parts`` left to right: the order inside a reduction group."""
    acc = parts[0]
    for part in parts[1:]:
        acc = combine(acc, part)
    return acc


def tree_reduce(parts, combine, split_every=8):
    """Delayed fixed-order tree reduction of the delayed ``parts``.

    Groups of ``split_every`` consecutive partial results are folded left to
    right, level after level: the tree depends on ``len(parts)`` only, so
    the floating-point sums are the same whatever the task timing.
    """
    if not parts:
        raise ValueError("nothing to reduce: the data has no row blocks.")
    # pure=False everywhere in a pass: fresh keys, so a pass never reuses (or
    # races with the release of) the results of an earlier pass at the same coef
    fold = dask.delayed(_fold, pure=False)
    while len(parts) > 1:
        parts = [fold(combine, *parts[i:i + split_every])
                 for i in range(0, len(parts), split_every)]
    return parts[0]


def _distributed_client(scheduler):
    """The ``distributed.Client`` a pass on ``scheduler`` would run on, or None."""
    if scheduler is None and dask.config.get("scheduler", None) is None:
        try:
            from distributed import default_client
            return default_client()
        except (ImportError, ValueError):
            return None
    if "Client" in type(scheduler).__name__ and hasattr(scheduler, "compute"):
        return scheduler
    return None


def _raise_for_problem(problem):
    if problem:
        raise ValueError(problem)


# ---------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------

@dataclass
class DaskData:
    """Validated, row-aligned dask inputs of a fit.

    ``X`` is ``(n, d)`` float32/float64 with one chunk along columns;
    ``y_codes`` (intp, ``0..k-1``, ``classes[y_codes]`` are the labels) and
    ``sample_weight`` (float64 or None, class weights folded in) have the
    row chunks of ``X``.
    """
    X: da.Array
    y_codes: da.Array
    sample_weight: object
    classes: np.ndarray
    class_counts: np.ndarray
    n_setup_passes: int = 0

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]

    @property
    def n_classes(self):
        return len(self.classes)

    def class_totals(self, scheduler=None):
        """Total sample weight per class, ``(k,)`` float64 (the solver's start and ``S``).

        Unweighted data: the counts of the label pass, no new pass.  Weighted:
        one pass over codes and weights (counted in ``n_setup_passes``).
        """
        if self.sample_weight is None and self.class_counts is not None:
            return self.class_counts.astype(np.float64)
        weights = self.sample_weight
        if weights is None:
            weights = da.ones(self.y_codes.shape, chunks=self.y_codes.chunks)
        self.n_setup_passes += 1
        (totals,) = dask.compute(
            da.bincount(self.y_codes, weights=weights, minlength=self.n_classes),
            scheduler=scheduler)
        return np.asarray(totals, dtype=np.float64)


def _is_dataframe(obj):
    return hasattr(obj, "to_dask_array") and dask.is_dask_collection(obj)


def _to_array(obj, name, row_chunks=None, scheduler=None):
    """A dask DataFrame/Series, dask array or array-like -> dask array.

    A DataFrame/Series costs one pass to learn its partition lengths (on
    ``scheduler``); positions, not index labels, align it with ``X``.
    """
    if _is_dataframe(obj):
        if name == "X" and obj.ndim == 2:
            bad = sorted({str(t) for t in obj.dtypes if getattr(t, "kind", "O") not in "biuf"})
            if bad:
                raise TypeError(f"X must have numeric columns only; got dtypes {bad}.")
        if obj.ndim == 1 and not isinstance(obj.dtype, np.dtype) and obj.dtype.kind == "O":
            obj = obj.astype(object)   # pandas string labels: dask would warn and do this
        with dask.config.set(scheduler=scheduler) if scheduler is not None else nullcontext():
            return obj.to_dask_array(lengths=True)
    if isinstance(obj, da.Array):
        return obj
    if dask.is_dask_collection(obj):
        raise TypeError(f"{name} must be a dask array or dask DataFrame/Series; "
                        f"got {type(obj).__name__}.")
    if row_chunks is None:
        raise TypeError(f"{name} must be a dask array or a dask DataFrame; "
                        f"got {type(obj).__name__} (use logreg's in-memory path).")
    arr = np.asarray(obj)
    if arr.ndim == 0 or arr.shape[0] != sum(row_chunks):
        return da.from_array(arr)   # the caller's shape rule names the mismatch
    return da.from_array(arr, chunks=(row_chunks,) + arr.shape[1:])


def _check_known_rows(arr, name):
    if arr.ndim and any(np.isnan(c) for c in arr.chunks[0]):
        raise ValueError(
            f"{name} has unknown chunk sizes along rows; call "
            f"{name}.compute_chunk_sizes() (or to_dask_array(lengths=True) on a "
            "dask DataFrame) first."
        )


def _encode_labels(y, classes):
    codes = np.searchsorted(classes, y)
    ok = codes < len(classes)
    ok[ok] = classes[codes[ok]] == y[ok]
    if not ok.all():
        raise ValueError(
            f"y contains labels that are not in classes: {np.unique(y[~ok])[:5].tolist()}."
        )
    return codes.astype(np.intp, copy=False)


def as_dask_data(X, y, sample_weight=None, *, class_weight=None, classes=None,
                 scheduler=None, persist=False):
    """Validate and align dask inputs; encode labels with one distributed pass.

    Parameters
    ----------
    X : dask array or dask DataFrame, shape (n, d)
        Real numbers; float32 stays float32, other dtypes become float64
        (lazily).  Rechunked to a single chunk along columns if needed.
    y : dask array / Series, or array-like, shape (n,)
        Labels of any sortable dtype; rechunked to ``X``'s row chunks.
    sample_weight : None, scalar, dask array / Series, or array-like
        Non-negative; NaN/inf/negative values are detected by the first
        pass that reads the weights (no extra pass) and raise the in-memory
        ``ValueError``.
    class_weight : None, "balanced" or dict {label: weight}
        Multiplies each sample's weight by its class's weight.
    classes : array-like, optional
        The sorted labels, when known: skips the label pass.  (Each dask
        DataFrame/Series input costs one more setup pass, for its partition
        lengths; ``DaskData.n_setup_passes`` counts them all.)
    scheduler : optional
        Passed to ``dask.compute`` (None: the active Client or dask.config).
    persist : bool
        Persist ``X``, codes and weights (on the cluster when a distributed
        scheduler is active) so that passes do not recompute them.
    """
    setup_passes = sum(_is_dataframe(a) for a in (X, y, sample_weight))
    # the in-memory rules (logreg._validation), on metadata here and per block below
    X = _to_array(X, "X", scheduler=scheduler)
    _check_known_rows(X, "X")
    check_X_layout(X)
    n = X.shape[0]
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    rows = X.chunks[0]

    check_y_given(y)
    y = _to_array(y, "y", rows, scheduler)
    _check_known_rows(y, "y")
    # stacklevel: the user's fit -> _fit_dask -> as_dask_data -> check_y_layout
    y = check_y_layout(y, n, stacklevel=5)
    if y.chunks[0] != rows:
        y = y.rechunk((rows,))

    w = None
    if sample_weight is not None:
        w = _to_array(sample_weight, "sample_weight", rows, scheduler)
        _check_known_rows(w, "sample_weight")
        check_weight_layout(w, n)
        w = w.astype(np.float64)
        w = (da.broadcast_to(w, (n,), chunks=(rows,)) if w.ndim == 0
             else w.rechunk((rows,)))
        # the value rule runs on each block as a pass reads it: no pass of its own
        w = w.map_blocks(check_weight_values, n_threads=1, dtype=np.float64)

    if classes is None:
        classes, counts = dask.compute(*da.unique(y, return_counts=True),
                                       scheduler=scheduler)
        setup_passes += 1
    else:
        classes, counts = np.asarray(classes), None
        if np.any(classes[1:] <= classes[:-1]):
            raise ValueError("classes must be sorted and unique.")
    check_label_values(classes)
    check_n_classes(classes)
    codes = y.map_blocks(_encode_labels, classes, dtype=np.intp)
    totals = None
    if isinstance(class_weight, str) and class_weight == "balanced":
        # the weighted class counts, as in memory (one pass when weighted)
        unweighted = DaskData(X, codes, w, classes, counts)
        totals = unweighted.class_totals(scheduler)
        setup_passes += unweighted.n_setup_passes
    class_w = class_weights_from_totals(class_weight, classes, totals)
    if not np.all(class_w == 1.0):   # else effective_weights hands back w unchanged
        w = da.map_blocks(effective_weights, w, class_w, codes, dtype=np.float64)
    if persist:
        X, codes, w = dask.persist(X, codes, w, scheduler=scheduler)
    return DaskData(X, codes, w, classes, counts, setup_passes)


# ---------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------

class DaskNewtonOracle:
    """Distributed loss, gradient, Hessian pairs, step ladder, Hessian-vector products
    and the class curvature that preconditions them.

    Parameters
    ----------
    data : DaskData
        From ``as_dask_data``.
    fit_intercept : bool
        ``p = n_features + fit_intercept``; the intercept is the last
        column of ``coef``.
    binary : bool
        scikit-learn's binary model (two classes only): ``coef`` is
        ``(1, p)``, ``P(classes[1] | x) = expit(x . coef_0)``; ``grad`` is
        ``(1, p)``, ``pairs`` ``(1, P2)`` is the packed ``p x p`` Hessian
        ``X^T diag(w p (1-p)) X`` and ``hessian`` returns it ``(p, p)``.
        Computed as the two-class softmax with coefficients ``[0, coef_0]``.
    scheduler : optional
        Passed to ``dask.compute``; None uses the active ``distributed.Client``
        or ``dask.config`` (the default scheduler).
    n_threads : int, optional
        Kernel threads per task; None uses the worker's thread budget
        (``task_thread_budget``).
    hessian_budget_bytes : int
        Largest ``(k p)^2 * 8`` the oracle builds pairs for.
    split_every : int
        Fan-in of the reduction tree.
    timeout : float, optional
        Seconds a pass may take on a distributed cluster before it is
        cancelled and ``TimeoutError`` is raised (a safety net against a
        cluster that lost its workers for good).  Local schedulers ignore it.

    Attributes
    ----------
    n_passes : int
        Passes over the data so far (every ``stats``, ``losses_along``,
        ``hessian_vector_product`` and ``class_curvature`` call is one).
    pass_log : list of str
        The kind of every pass, in order.
    sum_weights : float or None
        Total sample weight, known after the first ``stats`` pass.
    """

    def __init__(self, data, *, fit_intercept=True, binary=False, scheduler=None,
                 n_threads=None,
                 hessian_budget_bytes=HESSIAN_BUDGET_BYTES, split_every=8, timeout=None):
        if not isinstance(data, DaskData):
            raise TypeError("data must come from logreg._dask.as_dask_data.")
        if split_every < 2:
            raise ValueError(f"split_every must be >= 2; got {split_every}.")
        self.data = data
        self.fit_intercept = bool(fit_intercept)
        self.scheduler = scheduler
        self.n_threads = n_threads
        self.hessian_budget_bytes = hessian_budget_bytes
        self.split_every = int(split_every)
        self.timeout = timeout
        self.binary = bool(binary)
        if self.binary and data.n_classes != 2:
            raise ValueError(f"binary=True needs exactly 2 classes; y has {data.n_classes}.")
        self.k = 1 if self.binary else data.n_classes     # rows of coef
        self.p = data.n_features + self.fit_intercept
        self.n_passes = 0
        self.pass_log = []
        self.sum_weights = None
        self._validated = False
        # one delayed object per row block, built once
        self._X = list(data.X.to_delayed().ravel())
        self._y = list(data.y_codes.to_delayed().ravel())
        self._w = ([None] * len(self._X) if data.sample_weight is None
                   else list(data.sample_weight.to_delayed().ravel()))
        if not len(self._X) == len(self._y) == len(self._w):
            raise ValueError("X, y and sample_weight must have the same row blocks.")
        self.capabilities = OracleCapabilities(
            n_rows=data.n_samples, exact_hessian=self.hessian_fits,
            prefers_hessian_free=not self.hessian_fits, class_curvature=True)

    @property
    def min_positive_weight(self):
        """The smallest positive sample weight (1.0 for unit weights): the solver's
        certificate of strict separation, asked for at the end of unpenalized fits.
        A reduction over the weights alone, not counted in ``n_passes`` (passes over X)."""
        w = self.data.sample_weight
        if w is None:
            return 1.0
        (smallest,) = dask.compute(da.where(w > 0, w, np.inf).min(), scheduler=self.scheduler)
        return float(smallest) if np.isfinite(smallest) else 0.0

    # -- sizes and the budget ------------------------------------------------
    @property
    def n_blocks(self):
        return len(self._X)

    @property
    def hessian_nbytes(self):
        """Bytes of the assembled ``(k p) x (k p)`` float64 Hessian."""
        return (self.k * self.p) ** 2 * 8

    @property
    def hessian_fits(self):
        """False when the solver must use Hessian-free Newton-CG."""
        return self.hessian_nbytes <= self.hessian_budget_bytes

    def _check_budget(self):
        if not self.hessian_fits:
            raise ValueError(
                f"The Hessian of this problem (k*p = {self.k}*{self.p}) needs "
                f"{self.hessian_nbytes / 2**30:.2f} GiB, above hessian_budget_bytes="
                f"{self.hessian_budget_bytes / 2**30:.2f} GiB. Use Hessian-free Newton-CG "
                "(stats(coef, hessian=False) and hessian_vector_product), or raise "
                "hessian_budget_bytes if the client has the memory."
            )

    def _coef(self, coef, name="coef"):
        """Validated C-ordered float64 ``coef``; binary: the softmax rows ``[0, coef_0]``."""
        coef = np.ascontiguousarray(coef, dtype=np.float64)
        if coef.shape != (self.k, self.p):
            raise ValueError(f"{name} must have shape {(self.k, self.p)}; got {coef.shape}.")
        if self.binary:
            coef = np.concatenate([np.zeros((1, self.p)), coef])
        return coef

    def _rows(self, result):
        """Binary: the positive class's row of a two-class softmax result."""
        return result[1:] if self.binary else result

    def _compute(self, kind, result):
        self.n_passes += 1
        self.pass_log.append(kind)
        client = None if self.timeout is None else _distributed_client(self.scheduler)
        if client is None:
            (out,) = dask.compute(result, scheduler=self.scheduler)
            return out
        future = client.compute(result)
        try:
            return future.result(timeout=self.timeout)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(
                f"The {kind} pass did not finish within {self.timeout} s on the cluster "
                f"{client.scheduler.address}; check that it still has workers."
            ) from None

    # -- passes ----------------------------------------------------------------
    def stats(self, coef, *, hessian=True):
        """One pass: ``(loss, grad, pairs)`` at ``coef``.

        ``grad`` is ``(k, p)``, ``pairs`` ``(K, P2)`` (None when
        ``hessian=False``, the Newton-CG path).  Raises ``ValueError`` naming
        the problem when a block has NaN/inf in ``X`` or bad weights.
        """
        if hessian:
            self._check_budget()
        coef = dask.delayed(self._coef(coef), pure=False)
        task = dask.delayed(_stats_task, pure=False)
        parts = [task(x, y, w, coef, self.fit_intercept, hessian, self.n_threads)
                 for x, y, w in zip(self._X, self._y, self._w)]
        total = tree_reduce(parts, _add_stats, self.split_every)
        loss, grad, pairs, sum_w, problem = self._compute(
            "stats" if hessian else "loss_gradient", total)
        _raise_for_problem(problem)
        if not self._validated:
            check_total_weight(sum_w)
            self._validated = True
        self.sum_weights = sum_w
        return loss, self._rows(grad), pairs

    def losses_along(self, coef, direction, steps):
        """One pass: the losses at ``coef + t * direction`` for each ``t`` in ``steps``."""
        steps = np.asarray(steps, dtype=np.float64).ravel()
        coef_d = dask.delayed(self._coef(coef), pure=False)
        dir_d = dask.delayed(self._coef(direction, "direction"), pure=False)
        steps_d = dask.delayed(steps, pure=False)
        task = dask.delayed(_ladder_task, pure=False)
        parts = [task(x, y, w, coef_d, dir_d, steps_d, self.fit_intercept)
                 for x, y, w in zip(self._X, self._y, self._w)]
        losses, problem = self._compute("ladder", tree_reduce(parts, _add_pair, self.split_every))
        _raise_for_problem(problem)
        return losses

    def class_curvature(self, coef, *, diagonal_only):
        """One pass: the per-class diagonal blocks (packed) or the diagonal of the data
        Hessian at ``coef``, from all rows: the preconditioners of Hessian-free
        Newton-CG (``logreg._preconditioner``).

        Each block runs ``_preconditioner.class_curvature``, the function the
        in-memory oracle runs on its row subsample, and the blocks' sums add up.
        Returns ``(k, p(p+1)/2)`` row-wise packed upper triangles, or ``(k, p)``
        with ``diagonal_only``; binary: the positive class's row only, ``(1, .)``.
        """
        coef_d = dask.delayed(self._coef(coef), pure=False)
        task = dask.delayed(_curvature_task, pure=False)
        parts = [task(x, w, coef_d, self.fit_intercept, diagonal_only, self.n_threads)
                 for x, w in zip(self._X, self._w)]
        curvature, problem = self._compute(
            "curvature", tree_reduce(parts, _add_pair, self.split_every))
        _raise_for_problem(problem)
        return self._rows(curvature)

    def hessian_vector_product(self, coef, vector):
        """One pass: ``H(coef) @ vector`` in the ``(k, p)`` coef layout (no Hessian formed)."""
        coef_d = dask.delayed(self._coef(coef), pure=False)
        vec_d = dask.delayed(self._coef(vector, "vector"), pure=False)
        task = dask.delayed(_hvp_task, pure=False)
        parts = [task(x, w, coef_d, vec_d, self.fit_intercept)
                 for x, w in zip(self._X, self._w)]
        hv, problem = self._compute("hvp", tree_reduce(parts, _add_pair, self.split_every))
        _raise_for_problem(problem)
        return self._rows(hv)

    # -- client side -----------------------------------------------------------
    def hessian(self, pairs, out=None):
        """The full class-major ``(k p, k p)`` Hessian from ``pairs`` (client memory).

        Binary: the ``(p, p)`` Hessian (``pairs[0]`` unpacked).
        """
        self._check_budget()
        m = self.k * self.p
        if out is None:
            out = np.empty((m, m))
        pairs = np.ascontiguousarray(pairs, dtype=np.float64)
        if self.binary:
            upper = np.triu_indices(self.p)      # the kernel's row-wise packed order
            out[upper] = pairs[0]
            out[upper[::-1]] = pairs[0]
        else:
            _hessian.hessian_from_pairs(pairs, self.k, self.p, out)
        return out


# ---------------------------------------------------------------------------
# Prediction on dask arrays (lazy)
# ---------------------------------------------------------------------------

def _prediction_input(X, coef):
    if _is_dataframe(X):
        X = X.to_dask_array()          # lengths stay unknown: no computation
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask array or dask DataFrame; got {type(X).__name__}.")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D; got shape {X.shape}.")
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    if X.shape[1] != coef.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features, but the model has {coef.shape[1]}.")
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    return X, coef


def _intercept(intercept, k):
    return np.zeros(k) if intercept is None else np.broadcast_to(
        np.asarray(intercept, dtype=np.float64), (k,)).copy()


def _block_logits(Xb, coef_full):
    """``(rows, k)`` logits of a block of X, in cache-sized sub-blocks."""
    n, d = Xb.shape
    out = np.empty((n, coef_full.shape[0]))
    for rows in _blocks.row_blocks(n, coef_full.shape[0], d):
        out[rows] = _blocks.logits_t(_blocks.as_float64(Xb[rows]), coef_full, True).T
    return out


def _decision_block(Xb, coef, intercept):
    eta = _block_logits(Xb, np.concatenate([coef, intercept[:, None]], axis=1))
    return eta[:, 0] if coef.shape[0] == 1 else eta


def _proba_block(Xb, coef, intercept, log):
    # the in-memory estimator's own formulas (binary: p_1 = expit(eta))
    eta = _block_logits(Xb, np.concatenate([coef, intercept[:, None]], axis=1))
    return _loss.class_log_proba(eta) if log else _loss.class_proba(eta)


def dask_decision_function(X, coef, intercept=None):
    """Lazy ``X coef^T + intercept``: ``(n, k)``, or ``(n,)`` for a binary ``(1, d)`` coef."""
    X, coef = _prediction_input(X, coef)
    b = _intercept(intercept, coef.shape[0])
    if coef.shape[0] == 1:
        return X.map_blocks(_decision_block, coef, b, dtype=np.float64, drop_axis=1)
    return X.map_blocks(_decision_block, coef, b, dtype=np.float64,
                        chunks=(X.chunks[0], (coef.shape[0],)))


def dask_predict_proba(X, coef, intercept=None):
    """Lazy class probabilities ``(n, k)`` (``k = 2`` for a binary ``(1, d)`` coef)."""
    X, coef = _prediction_input(X, coef)
    k = max(2, coef.shape[0])
    return X.map_blocks(_proba_block, coef, _intercept(intercept, coef.shape[0]), False,
                        dtype=np.float64, chunks=(X.chunks[0], (k,)))


def dask_predict_log_proba(X, coef, intercept=None):
    """Lazy log class probabilities ``(n, k)``."""
    X, coef = _prediction_input(X, coef)
    k = max(2, coef.shape[0])
    return X.map_blocks(_proba_block, coef, _intercept(intercept, coef.shape[0]), True,
                        dtype=np.float64, chunks=(X.chunks[0], (k,)))


def dask_predict(X, coef, intercept=None, classes=None):
    """Lazy predicted labels ``(n,)``: ``classes[argmax]`` (codes when ``classes`` is None)."""
    dec = dask_decision_function(X, coef, intercept)
    codes = (dec > 0).astype(np.intp) if dec.ndim == 1 else dec.argmax(axis=1)
    if classes is None:
        return codes
    classes = np.asarray(classes)
    return codes.map_blocks(_take, classes, dtype=classes.dtype)


def _take(codes, classes):
    return classes[codes]
