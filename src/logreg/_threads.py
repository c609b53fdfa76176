"""Thread policy: how many threads the kernel runs, BLAS at one thread inside
them, and what a forked child may do.

* ``effective_n_threads``: scikit-learn's rules.  ``None`` follows the caller's
  OpenMP limit (``OMP_NUM_THREADS``, ``threadpoolctl.threadpool_limits``,
  joblib's per-worker caps all set it) within the available cores; ``-1`` is
  every available core, ``-2`` all but one, ...; a positive count is used as
  given up to ``MAX_THREADS_PER_CORE`` per core (past that threads only cost
  start-up time, and tens of thousands of them exhaust the stack).
* ``single_threaded_blas``: scipy's OpenBLAS would start its own threads
  inside each of the kernel's.  OpenBLAS built on pthreads has one
  process-wide thread count, so the limit is shared: the first caller in sets
  it to 1 and the last one out restores it, whichever threads those are.  The
  count is set through OpenBLAS's own ``openblas_set_num_threads`` (found with
  ``threadpoolctl.threadpool_info``), not through ``threadpoolctl``'s limiters:
  threadpoolctl >= 3.8 lets only one thread at a time change OpenBLAS's count
  and would silently ignore the others.
* Fork: GNU libgomp's thread pool does not survive ``fork()``; a child that
  starts a parallel region after its parent ran one waits forever.  A forked
  child of a process that has run OpenMP threads therefore runs the kernel on
  one thread, and starts with a fresh BLAS-limit state.
"""
import ctypes
import itertools
import os
import threading

from . import _hessian

MAX_THREADS_PER_CORE = 4


def available_cores():
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _ForkState:
    # True once this process may have started an OpenMP thread team
    team_started = False
    # True in a forked child of such a process: OpenMP must stay serial
    serial_after_fork = False


def effective_n_threads(n_threads=None):
    """The kernel's thread count for a validated ``n_threads`` (None or a nonzero int)."""
    cores = available_cores()
    if n_threads is None:
        n = min(_hessian.openmp_max_threads(), cores)
    elif n_threads < 0:
        n = cores + 1 + n_threads
    else:
        n = min(n_threads, MAX_THREADS_PER_CORE * cores)
    n = max(1, int(n))
    if _ForkState.serial_after_fork:
        return 1
    if n > 1 and _hessian.openmp_enabled():
        _ForkState.team_started = True
    return n


class _OpenBLASThreads:
    """``openblas_get/set_num_threads`` of one loaded OpenBLAS, by ctypes."""

    def __init__(self, filepath):
        lib = ctypes.CDLL(filepath)
        for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
            getter = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            setter = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if getter is not None and setter is not None:
                getter.restype = ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                self._get, self._set = getter, setter
                return
        raise OSError(f"no openblas_set_num_threads in {filepath}")

    def get(self):
        return int(self._get())

    def set(self, n):
        self._set(int(n))


class _ThreadpoolctlThreads:
    """Any other BLAS (MKL, BLIS, ...) through threadpoolctl, which lets any
    thread set those."""

    def __init__(self, info):
        from threadpoolctl import ThreadpoolController
        self._controller = ThreadpoolController().select(filepath=info["filepath"])
        self._limiter = None

    def get(self):
        return None

    def set(self, n):
        if n is None:
            if self._limiter is not None:
                self._limiter.restore_original_limits()
                self._limiter = None
        else:
            self._limiter = self._controller.limit(limits=n)


def _blas_controls():
    """One control per loaded BLAS whose threads would run inside ours."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    controls = []
    for info in threadpool_info():
        if info.get("user_api") != "blas":
            continue
        try:
            if info.get("internal_api") == "openblas":
                # OpenBLAS on OpenMP runs serially inside our parallel regions
                if info.get("threading_layer") != "openmp":
                    controls.append(_OpenBLASThreads(info["filepath"]))
            else:
                controls.append(_ThreadpoolctlThreads(info))
        except (OSError, ValueError, KeyError):
            continue   # a library we cannot steer runs with its own threads
    return controls


class _BlasLimit:
    lock = threading.Lock()
    controls = None       # found at first use: scipy's BLAS is loaded by then
    users = 0
    saved = None


class _SingleThreadedBlas:
    """The context manager of ``single_threaded_blas`` (a class, not a generator:
    every kernel call enters one, and a small fit makes a dozen of them)."""

    __slots__ = ()

    def __enter__(self):
        state = _BlasLimit
        with state.lock:
            if state.users == 0:
                if state.controls is None:
                    state.controls = _blas_controls()
                state.saved = [c.get() for c in state.controls]
                for c, n in zip(state.controls, state.saved):
                    if n != 1:      # the set call is the cost; 1 needs none
                        c.set(1)
            state.users += 1
        return None

    def __exit__(self, *exc):
        state = _BlasLimit
        with state.lock:
            state.users -= 1
            if state.users == 0:
                for c, n in zip(state.controls, state.saved):
                    if n != 1:
                        c.set(n)
                state.saved = None
        return False


_SINGLE_THREADED_BLAS = _SingleThreadedBlas()


def single_threaded_blas():
    """Keep every loaded BLAS at one thread while the kernel runs its own threads.

    Shared by concurrent callers (first in sets, last out restores the thread
    counts it found); results never depend on it, only speed does.
    """
    return _SINGLE_THREADED_BLAS


def _after_fork_in_child():
    # The parent's other threads do not exist here: their lock and their
    # share of the BLAS limit go with them.
    state = _BlasLimit
    state.lock = threading.Lock()
    if state.users and state.saved is not None:
        for c, n in zip(state.controls, state.saved):
            c.set(n)
    state.users, state.saved = 0, None
    if _ForkState.team_started:
        _ForkState.serial_after_fork = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
