"""Shared fixtures of the benchmark suites (pytest-benchmark).

* Thread counts are pinned: logreg gets ``n_threads`` explicitly (all cores
  by default, ``--bench-threads`` to change), BLAS yardsticks are limited to
  the same count with threadpoolctl; both are recorded in ``extra_info``.
* With ``--benchmark-disable`` (CI smoke) every shape runs with a small n, so
  the suite checks that the benchmarks work without spending minutes.
"""
import os

import pytest


def pytest_report_header(config):
    """The machine and library versions, as ``python -m logreg bench`` prints them."""
    from logreg._bench import environment_lines

    return environment_lines()


def pytest_addoption(parser):
    group = parser.getgroup("logreg benchmarks")
    group.addoption("--bench-threads", type=int, default=None,
                    help="threads for logreg and BLAS (default: all available cores)")


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@pytest.fixture(scope="session")
def n_threads(request):
    return request.config.getoption("bench_threads") or _cores()


@pytest.fixture(scope="session")
def smoke(request):
    """True when benchmarks are disabled: run each body once on a small problem."""
    return bool(request.config.getoption("benchmark_disable", default=False))


@pytest.fixture(scope="session")
def blas_threads():
    """A function returning a context that pins BLAS to n threads (no-op without threadpoolctl)."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return lambda n: contextlib.nullcontext()
    return lambda n: threadpool_limits(limits=n, user_api="blas")
