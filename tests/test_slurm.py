"""Scale-out on a real single-node SLURM (dask-jobqueue SLURMCluster).

The session fixture starts SLURM with ``.ci/slurm-setup.sh`` (Debian
slurm-wlm + munge) unless ``sinfo`` already shows an idle node, and skips the
SLURM tests, with the script's reason, only when SLURM cannot be started.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from _study import REPO, quickstart_copy, read_summary, reference_run, same_summary
from simpipe.config import ClusterSpec
from simpipe.run.cluster import make_client, slurm_cluster_kwargs

SETUP = REPO / ".ci" / "slurm-setup.sh"


def _node_idle() -> bool:
    if shutil.which("sinfo") is None:
        return False
    res = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    return res.returncode == 0 and any(s.strip("*~#") in ("idle", "mixed") for s in res.stdout.split())


@pytest.fixture(scope="session")
def slurm():
    """A running one-node SLURM, started here if needed."""
    if _node_idle():
        return
    try:
        res = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip("SLURM could not be started: .ci/slurm-setup.sh timed out")
    if res.returncode != 0:
        reason = (res.stderr.strip() or res.stdout.strip()).splitlines()[-1:] or ["no output"]
        pytest.skip(f"SLURM could not be started: {reason[0]}")


def _spec(**slurm) -> ClusterSpec:
    block = {"cores": 1, "memory": "2GiB", "walltime": "00:20:00", **slurm}
    return ClusterSpec.model_validate({"kind": "slurm", "n_workers": 2, "retries": 1, "slurm": block})


def test_job_script_has_one_thread_per_worker_and_the_resources(tmp_path):
    from dask_jobqueue import SLURMCluster

    spec = _spec(cores=4, processes=2, memory="8GiB", partition="debug", walltime="1-02:00:00",
                 job_extra_directives=["--exclusive"], job_script_prologue=["module load x"],
                 worker_lifetime="55m", local_directory="$TMPDIR")
    kwargs = slurm_cluster_kwargs(spec, tmp_path / "logs")
    with SLURMCluster(**kwargs) as cluster:
        script = cluster.job_script()
    for line in ("#SBATCH -p debug", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=8G",
                 "#SBATCH -t 1-02:00:00", "#SBATCH --exclusive", "export OMP_NUM_THREADS=1",
                 "module load x", f"#SBATCH -o {tmp_path / 'logs'}"):
        assert line in script, (line, script)
    for arg in ("--nthreads 1", "--nworkers 2", "--memory-limit 4.00GiB", "--lifetime 55m",
                "--local-directory $TMPDIR"):
        assert arg in script, (arg, script)


def _where_am_i(_):
    import threading as th

    return os.environ.get("SLURM_JOB_ID"), os.environ.get("OMP_NUM_THREADS"), os.getpid(), th.active_count()


def test_tasks_run_in_slurm_jobs(slurm, tmp_path):
    spec = _spec()
    with make_client(spec, tmp_path / "logs") as client:
        out = client.gather(client.map(_where_am_i, range(8)))
        nthreads = client.nthreads()
    assert all(job_id for job_id, *_ in out), out
    assert {omp for _, omp, *_ in out} == {"1"}
    assert set(nthreads.values()) == {1}
    assert list((tmp_path / "logs").glob("simpipe-worker-*.err"))


def test_adaptive_scales_jobs_up_from_zero(slurm, tmp_path):
    spec = _spec(adaptive={"min_jobs": 0, "max_jobs": 2})
    with make_client(spec, tmp_path / "logs") as client:
        out = client.gather(client.map(_where_am_i, range(4)))
    assert all(job_id for job_id, *_ in out)


def test_quickstart_on_slurm_equals_local(slurm, tmp_path, tmp_path_factory):
    from simpipe.run.study import run_study

    _, reference, _ = reference_run(tmp_path_factory)
    cfg = quickstart_copy(tmp_path, {"kind": "slurm", "n_workers": 2, "retries": 1,
                                     "slurm": {"cores": 1, "memory": "2GiB", "walltime": "00:30:00"}})
    res = run_study(cfg)
    assert not res.outcome.failed, res.outcome.failed
    assert same_summary(read_summary(res.summary_path), reference)
    assert list((tmp_path / "out" / "slurm").glob("simpipe-worker-*.err"))
