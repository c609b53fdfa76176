"""Small pages for a fit's own temporaries.

NumPy asks the kernel for transparent huge pages on every large array
(``madvise``).  Where the kernel compacts memory when such a page is first
touched (``defrag = madvise``, a common default), a fresh temporary can stall
on that compaction once other work has fragmented memory: a sparse fit right
after another library's fit ran up to twice as long as the same fit again
(bench/MEASUREMENTS.md).  A fit streams its temporaries once or twice, where
huge pages save little, so while a fit runs NumPy's ``madvise`` is off.

The setting is process-wide, so it is shared like ``logreg._threads``' BLAS
limit: the first fit in turns it off, the last one out restores it, from any
thread; a forked child starts with the parent's setting restored.  On a NumPy
without the switch this does nothing.
"""
import os
import threading

import numpy as np

try:
    _multiarray = np._core.multiarray
except AttributeError:      # NumPy 1.x
    _multiarray = np.core.multiarray
_set_madvise = getattr(_multiarray, "_set_madvise_hugepage", None)

_lock = threading.Lock()
_depth = 0
_saved = None


class small_pages:
    """Context manager: NumPy's huge-page ``madvise`` off while any fit runs."""

    def __enter__(self):
        global _depth, _saved
        if _set_madvise is not None:
            with _lock:
                if _depth == 0:
                    _saved = _set_madvise(False)
                _depth += 1
        return self

    def __exit__(self, *exc):
        global _depth
        if _set_madvise is not None:
            with _lock:
                _depth -= 1
                if _depth == 0:
                    _set_madvise(_saved)
        return False


def _restore_in_child():
    """A child forked while another thread was inside a fit: that thread does not
    exist here, so restore the setting it had turned off."""
    global _lock, _depth
    _lock = threading.Lock()
    if _depth and _set_madvise is not None:
        _set_madvise(_saved)
    _depth = 0


os.register_at_fork(after_in_child=_restore_in_child)
