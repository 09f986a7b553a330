"""Dask clients for the study's cluster block (configuration is data).

Stages never know where they run: the ``cluster`` block of the study picks a
distributed ``LocalCluster`` of worker processes (``kind: local``) or SLURM
jobs of worker processes started by dask-jobqueue (``kind: slurm``). Either
way every worker process is single-threaded (OpenSim holds the GIL and is not
thread-safe) and runs with ``OMP_NUM_THREADS=1``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path

from ..config import ClusterSpec

log = logging.getLogger(__name__)

#: Environment every worker process gets (one thread per process).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _local_cluster(spec: ClusterSpec):
    from distributed import LocalCluster

    return LocalCluster(n_workers=spec.n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, memory_limit=spec.memory_limit,
                        silence_logs=logging.ERROR)


def slurm_cluster_kwargs(spec: ClusterSpec, log_directory: str | Path | None = None) -> dict:
    """Keyword arguments of ``dask_jobqueue.SLURMCluster`` for a cluster block.

    Parameters
    ----------
    spec : ClusterSpec
        A block with ``kind: slurm``.
    log_directory : str or Path, optional
        Where SLURM writes the jobs' output when the block names no
        ``slurm.log_directory`` (``run_study`` passes ``<out>/slurm``).

    Returns
    -------
    dict

    Notes
    -----
    A job books ``slurm.cores`` CPUs (``--cpus-per-task``) and ``slurm.memory``
    (``--mem``) and starts ``slurm.processes`` worker processes with one thread
    each, so each worker may use ``memory / processes``. Keys left ``null``
    fall back to the user's dask-jobqueue configuration
    (``~/.config/dask/jobqueue.yaml``), as in dask-jobqueue itself.
    """
    s = spec.slurm_spec
    n = s.workers_per_job
    prologue = [f"export {k}={v}" for k, v in WORKER_ENV.items()] + list(s.job_script_prologue)
    extra_args = ["--lifetime", s.worker_lifetime, "--lifetime-stagger", "2m"] if s.worker_lifetime else []
    logs = s.log_directory if s.log_directory is not None else log_directory
    return {
        "name": "simpipe", "job_name": "simpipe-worker",
        "queue": s.partition, "account": s.account, "walltime": s.walltime,
        "cores": n, "processes": n, "job_cpu": s.cores, "memory": s.memory,
        "job_extra_directives": list(s.job_extra_directives), "job_script_prologue": prologue,
        "local_directory": s.local_directory, "log_directory": str(logs) if logs else None,
        "python": s.python or sys.executable, "interface": s.interface,
        "worker_extra_args": extra_args, "scheduler_options": {"dashboard_address": ":0"},
        "silence_logs": "error",
    }


def _import_slurm_cluster():
    """``dask_jobqueue.SLURMCluster``, keeping this process's SIGINT handler.

    Notes
    -----
    dask-jobqueue 0.9.0 replaces the SIGINT handler with ``sys.exit()`` when
    it is imported (dask/dask-jobqueue#696, fixed by #697), which turns
    Ctrl-C (and the interrupt ``hpc/run_study.sbatch`` sends before the
    walltime) into a silent exit with status 0. The handler is restored.
    """
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    from dask_jobqueue import SLURMCluster

    if main and handler is not None:
        signal.signal(signal.SIGINT, handler)
    return SLURMCluster


def _slurm_cluster(spec: ClusterSpec, log_directory: str | Path | None):
    SLURMCluster = _import_slurm_cluster()
    kwargs = slurm_cluster_kwargs(spec, log_directory)
    if kwargs["log_directory"]:
        Path(kwargs["log_directory"]).mkdir(parents=True, exist_ok=True)
    cluster = SLURMCluster(**kwargs)
    log.debug("SLURM job script:\n%s", cluster.job_script())
    s = spec.slurm_spec
    if s.adaptive is not None:
        cluster.adapt(minimum_jobs=s.adaptive.min_jobs, maximum_jobs=s.adaptive.max_jobs)
        log.info("SLURM: adaptive, %d to %d job(s) of %d worker(s)", s.adaptive.min_jobs,
                 s.adaptive.max_jobs, s.workers_per_job)
    else:
        jobs = math.ceil(spec.n_workers / s.workers_per_job)
        cluster.scale(jobs=jobs)
        log.info("SLURM: %d job(s) of %d worker(s) submitted", jobs, s.workers_per_job)
    log.info("dashboard: %s", cluster.dashboard_link)
    return cluster


@contextlib.contextmanager
def make_client(spec: ClusterSpec, log_directory: str | Path | None = None):
    """A distributed Client for the cluster block, closed on exit.

    Parameters
    ----------
    spec : ClusterSpec
        ``local``: a LocalCluster of ``n_workers`` single-threaded worker
        processes. ``slurm``: a dask-jobqueue SLURMCluster (see
        :func:`slurm_cluster_kwargs`), scaled to ``n_workers`` workers or
        adaptive between ``slurm.adaptive.min_jobs`` and ``max_jobs`` jobs.
    log_directory : str or Path, optional
        Default folder of the SLURM jobs' output files.

    Yields
    ------
    distributed.Client

    Notes
    -----
    Closing the client also closes the cluster, which cancels its SLURM jobs.
    Tasks wait in the scheduler until workers connect, so a study submitted
    to a busy partition simply starts later.
    """
    from distributed import Client

    for key, value in WORKER_ENV.items():
        os.environ.setdefault(key, value)
    cluster = _local_cluster(spec) if spec.kind == "local" else _slurm_cluster(spec, log_directory)
    try:
        client = Client(cluster)
    except BaseException:
        cluster.close()
        raise
    try:
        yield client
    finally:
        client.close()
        cluster.close()
