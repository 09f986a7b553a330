"""Dask clients for the study's cluster block (configuration is data)."""

from __future__ import annotations

import contextlib
import logging
import os

from ..config import ClusterSpec

log = logging.getLogger(__name__)


@contextlib.contextmanager
def make_client(spec: ClusterSpec):
    """A distributed Client for the cluster block, closed on exit.

    Parameters
    ----------
    spec : ClusterSpec
        ``local``: a LocalCluster of ``n_workers`` single-threaded worker
        processes (OpenSim holds the GIL and is not thread-safe).

    Yields
    ------
    distributed.Client
    """
    from distributed import Client, LocalCluster

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cluster = LocalCluster(n_workers=spec.n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit=spec.memory_limit,
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
