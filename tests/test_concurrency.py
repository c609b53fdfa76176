"""Threads, processes and thread limits: a fit behaves the same wherever it runs.

Scenarios that could hang (fork after the OpenMP pool started, fork while a
kernel thread runs) run in a child interpreter with a timeout, so that a
deadlock fails the test instead of stalling the suite.
"""
import os
import subprocess
import sys
import tempfile
import textwrap
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import logreg
from logreg import _threads
from logreg._validation import check_n_threads

TIMEOUT_S = 120


def _blas_thread_counts():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def _problem(seed=0, n=3000, d=40, k=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    return X, y


def _run_child(code, **env):
    """Run ``code`` as a script in a fresh interpreter (a file, so that spawn and
    forkserver workers can import its functions); fail on an error or a hang."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "child.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(code))
        try:
            proc = subprocess.run([sys.executable, script], capture_output=True, text=True,
                                  timeout=TIMEOUT_S, env={**os.environ, **env})
        except subprocess.TimeoutExpired:
            pytest.fail(f"the child process hung (no exit within {TIMEOUT_S} s)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_blas_is_single_threaded_inside_the_kernel_in_any_thread():
    """The limit holds in a worker thread after the main thread has used it."""
    with _threads.single_threaded_blas():
        assert set(_blas_thread_counts()) == {1}
    before = _blas_thread_counts()
    seen = []

    def work():
        with _threads.single_threaded_blas():
            seen.append(_blas_thread_counts())

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen and set(seen[0]) == {1}
    assert _blas_thread_counts() == before


def test_fits_in_worker_threads_equal_the_main_thread_fit():
    X, y = _problem()
    expected = logreg.LogisticRegression(n_threads=2).fit(X, y).coef_
    results = []

    def work():
        for _ in range(3):
            results.append(logreg.LogisticRegression(n_threads=2).fit(X, y).coef_)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 24
    for coef in results:
        np.testing.assert_array_equal(coef, expected)


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_fit_in_a_child_process_after_a_parallel_fit(method):
    out = _run_child(f"""
        import multiprocessing as mp
        import numpy as np
        import logreg

        def fit(seed):
            rng = np.random.default_rng(seed)
            X = rng.standard_normal((3000, 30))
            y = rng.integers(0, 4, 3000)
            return logreg.LogisticRegression(n_threads=2).fit(X, y).coef_

        if __name__ == "__main__":
            parent = [fit(s) for s in range(2)]      # starts the OpenMP pool
            with mp.get_context({method!r}).Pool(2) as pool:
                child = pool.map(fit, range(2))
            for a, b in zip(parent, child):
                np.testing.assert_array_equal(a, b)
            print("same")
    """)
    assert "same" in out


def test_fork_while_another_thread_is_in_the_kernel():
    out = _run_child("""
        import os, threading, time
        import numpy as np
        import logreg

        rng = np.random.default_rng(0)
        X = rng.standard_normal((20000, 60))
        P = logreg.reference.softmax(rng.standard_normal((20000, 6)))
        stop = threading.Event()

        def busy():
            while not stop.is_set():
                logreg.hessian(X, P, n_threads=2)

        t = threading.Thread(target=busy)
        t.start()
        time.sleep(0.2)
        y = rng.integers(0, 3, 2000)
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                logreg.LogisticRegression().fit(X[:2000, :5], y)
                logreg.hessian(X[:3000], P[:3000])
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
        stop.set()
        t.join()
        print("done")
    """)
    assert "done" in out


def test_n_threads_none_follows_omp_num_threads():
    out = _run_child("""
        from logreg._threads import available_cores
        from logreg._validation import check_n_threads
        print(check_n_threads(None), check_n_threads(-1) == available_cores())
    """, OMP_NUM_THREADS="1")
    assert out.split() == ["1", "True"]


def test_n_threads_none_follows_threadpoolctl_openmp_limit():
    with threadpool_limits(limits=1, user_api="openmp"):
        assert check_n_threads(None) == 1


def test_n_threads_minus_one_is_every_available_core():
    cores = _threads.available_cores()
    assert check_n_threads(-1) == cores
    assert check_n_threads(-cores - 5) == 1


@pytest.mark.parametrize("n_threads", [10**5, 2**31, 2**70])
def test_huge_n_threads_is_capped_not_fatal(n_threads):
    assert check_n_threads(n_threads) == _threads.MAX_THREADS_PER_CORE * _threads.available_cores()
    X, y = _problem(n=500, d=4, k=3)
    coef = logreg.LogisticRegression(n_threads=n_threads).fit(X, y).coef_
    np.testing.assert_array_equal(coef, logreg.LogisticRegression(n_threads=1).fit(X, y).coef_)
    P = logreg.reference.softmax(np.random.default_rng(1).standard_normal((500, 3)))
    np.testing.assert_array_equal(logreg.hessian(X, P, n_threads=n_threads),
                                  logreg.hessian(X, P, n_threads=1))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_forked_child_runs_serially_after_the_parent_used_threads():
    X, y = _problem(n=2000, d=8, k=3)
    logreg.LogisticRegression(n_threads=2).fit(X, y)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, str(check_n_threads(2)).encode())
        os._exit(0)
    os.close(write)
    value = os.read(read, 16)
    os.waitpid(pid, 0)
    expected = b"1" if logreg._hessian.openmp_enabled() else b"2"
    assert value == expected
