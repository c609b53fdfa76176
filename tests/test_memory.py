"""A fit turns NumPy's huge-page madvise off while it runs and restores it after,
shared between threads like the BLAS limit (``logreg._memory``)."""
import threading

import numpy as np
import pytest
import scipy.sparse as sp

import logreg
from logreg import _memory, _sparse_oracle

from ._fits import make_classification

madvise = pytest.importorskip("numpy._core.multiarray")


def _setting():
    return madvise._get_madvise_hugepage()


@pytest.fixture(autouse=True)
def huge_pages_on():
    before = madvise._set_madvise_hugepage(True)
    yield
    madvise._set_madvise_hugepage(before)


def test_a_fit_runs_on_small_pages_and_restores_the_setting(monkeypatch):
    X, y, _ = make_classification(n=500, d=6, k=3, seed=1)
    seen = []
    stats = _sparse_oracle.SparseOracle.stats
    monkeypatch.setattr(_sparse_oracle.SparseOracle, "stats",
                        lambda self, coef, **kw: seen.append(_setting()) or stats(self, coef, **kw))
    logreg.LogisticRegression().fit(sp.csr_matrix(X), y)
    assert seen and not any(seen)
    assert _setting() is True
    logreg.LogisticRegressionCV(Cs=3, cv=3).fit(sp.csr_matrix(X), y)
    assert _setting() is True


def test_the_setting_comes_back_after_an_error_and_nested_use():
    with pytest.raises(RuntimeError):
        with _memory.small_pages():
            with _memory.small_pages():
                assert _setting() is False
            assert _setting() is False      # the outer one still holds it
            raise RuntimeError
    assert _setting() is True


def test_the_last_thread_out_restores_the_setting():
    inside, release = threading.Barrier(3), threading.Event()

    def hold():
        with _memory.small_pages():
            inside.wait()
            release.wait()

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    assert _setting() is False
    release.set()
    for t in threads:
        t.join()
    assert _setting() is True
