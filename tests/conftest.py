"""Fixtures shared by several test modules."""
import pytest


@pytest.fixture(scope="session")
def client():
    """One real 2-process Dask cluster on loopback for the whole session, torn down at the end."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        with Client(cluster, set_as_default=False) as c:
            c.wait_for_workers(2, timeout=60)
            yield c
