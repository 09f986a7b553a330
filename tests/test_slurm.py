"""Scale-out on a real single-node SLURM (dask-jobqueue SLURMCluster).

The session fixture starts SLURM with ``.ci/slurm-setup.sh`` (Debian
slurm-wlm + munge) unless ``sinfo`` already shows the node up, and skips the
SLURM tests, with the script's reason, only when SLURM cannot be started.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _study import REPO, need_example, quickstart_copy, read_summary, reference_run, same_summary
from simpipe.config import ClusterSpec
from simpipe.run.cluster import make_client, slurm_cluster_kwargs
from simpipe.run.status import study_status

SETUP = REPO / ".ci" / "slurm-setup.sh"
#: Lets the worker processes import this module's probe function.
ON_PATH = f"export PYTHONPATH={Path(__file__).parent}"


def _node_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        res = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return False
    states = {s.strip("*~#") for s in res.stdout.split()}
    return res.returncode == 0 and bool(states & {"idle", "mixed", "allocated", "completing"})


@pytest.fixture(scope="session")
def slurm():
    """A running one-node SLURM, started here if needed."""
    if _node_up():
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


STUDY = """
name: t
model: {builtin: simpipe_run2d}
subjects:
  - {id: s1, mass_kg: 70, height_m: 1.75, static: s.trc, trials: [{id: r1, markers: r.trc, grf: r.mot}]}
sweep: {values: [0.6]}
output: out
cluster:
"""


@pytest.mark.parametrize("block, words", [
    ("{kind: slurm, slurm: {partition: short, cores: 8, memory: 16GiB, walltime: '04:00:00', "
     "adaptive: {max_jobs: 10}}}", None),
    ("{kind: slurm}", None),
    ("{kind: local, slurm: {cores: 2}}", ["'cluster'", "kind is 'local'"]),
    ("{kind: slurm, slurm: {queue: short}}", ["unknown key 'cluster.slurm.queue'"]),
    ("{kind: slurm, slurm: {memory: lots}}", ["cluster.slurm.memory", "'lots'", "4GiB"]),
    ("{kind: slurm, slurm: {walltime: 2h}}", ["cluster.slurm.walltime", "'2h'", "02:00:00"]),
    ("{kind: slurm, slurm: {walltime: 12:00:00}}", ["cluster.slurm.walltime", "43200", "in quotes"]),
    ("{kind: slurm, slurm: {cores: 2, processes: 4}}", ["cluster.slurm", "processes (4)", "cores (2)"]),
    ("{kind: slurm, slurm: {adaptive: {min_jobs: 5, max_jobs: 2}}}", ["cluster.slurm.adaptive", "min_jobs"]),
    ("{kind: slurm, slurm: {worker_lifetime: 50m}}", ["cluster.slurm", "worker_lifetime", "adaptive"]),
    ("{kind: pbs}", ["cluster.kind", "'pbs'"]),
])
def test_cluster_block_is_validated(tmp_path, block, words):
    from simpipe.config import parse_study
    from simpipe.errors import ConfigError

    text = STUDY.replace("cluster:", f"cluster: {block}")
    if words is None:
        study = parse_study(text, tmp_path / "study.yaml", check_files=False)
        assert study.cluster.kind == "slurm" and study.cluster.slurm_spec.workers_per_job >= 1
        return
    with pytest.raises(ConfigError) as err:
        parse_study(text, tmp_path / "study.yaml", check_files=False)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_hpc_example_study_is_valid():
    from simpipe.config import load_study

    study, _ = load_study(REPO / "hpc" / "slurm_example.yaml", check_files=False)
    assert study.cluster.kind == "slurm" and study.cluster.slurm_spec.adaptive.max_jobs == 4
    assert study.cluster.slurm_spec.walltime == "01:00:00"


def test_job_script_has_one_thread_per_worker_and_the_resources(tmp_path):
    from dask_jobqueue import SLURMCluster

    spec = _spec(cores=4, processes=2, memory="8GiB", partition="debug", walltime="1-02:00:00",
                 job_extra_directives=["--exclusive"], job_script_prologue=["module load x"],
                 worker_lifetime="55m", adaptive={"max_jobs": 3}, local_directory="$TMPDIR")
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


def test_arrays_from_another_worker_reach_tasks_aligned():
    """Arrays a task gets from another worker are views into the message:
    misaligned and rejected by SciPy's splines until the runner copies them."""
    import operator

    import numpy as np
    from distributed import Client, LocalCluster

    from simpipe.run.execute import _owned

    aligned = operator.attrgetter("flags.aligned")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as lc, Client(lc) as c:
        w0, w1 = list(c.scheduler_info()["workers"])
        [out] = c.scatter([{"time": np.arange(181.0), "coordinates": ["a"]}], workers=[w0])
        owned = c.submit(_owned, out, workers=[w1], pure=False)
        time = c.submit(operator.itemgetter("time"), owned, workers=[w1], pure=False)
        assert c.submit(aligned, time, workers=[w1], pure=False).result()


def _where_am_i(_):
    return os.environ.get("SLURM_JOB_ID"), os.environ.get("OMP_NUM_THREADS"), os.getpid()


def _run_probes(client, n: int, timeout: float = 120) -> list:
    from distributed import wait

    futures = client.map(_where_am_i, range(n))
    wait(futures, timeout=timeout)
    return client.gather(futures)


def test_tasks_run_in_slurm_jobs(slurm, tmp_path):
    spec = _spec(job_script_prologue=[ON_PATH])
    with make_client(spec, tmp_path / "logs") as client:
        out = _run_probes(client, 8)
        nthreads = client.nthreads()
    assert all(job_id for job_id, *_ in out), out
    assert {omp for _, omp, *_ in out} == {"1"}
    assert set(nthreads.values()) == {1}
    assert list((tmp_path / "logs").glob("simpipe-worker-*.err"))


def test_adaptive_scales_jobs_up_from_zero(slurm, tmp_path):
    spec = _spec(adaptive={"min_jobs": 0, "max_jobs": 2}, job_script_prologue=[ON_PATH])
    with make_client(spec, tmp_path / "logs") as client:
        out = _run_probes(client, 4)
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


def _squeue(name: str) -> list[str]:
    res = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i %T"], capture_output=True, text=True,
                         timeout=20)
    return res.stdout.split("\n") if res.stdout.strip() else []


def _slurm_quickstart(folder: Path) -> Path:
    return quickstart_copy(folder, {"kind": "slurm", "n_workers": 2, "retries": 1,
                                    "slurm": {"cores": 1, "memory": "2GiB", "walltime": "00:30:00"}})


def test_interrupted_run_exits_130_and_cancels_its_worker_jobs(slurm, tmp_path):
    """Ctrl-C (SIGINT) stops ``simpipe run`` cleanly even though dask-jobqueue
    0.9 replaces the SIGINT handler on import (dask/dask-jobqueue#696)."""
    need_example()
    cfg = _slurm_quickstart(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "simpipe.cli", "run", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not any("RUNNING" in j for j in _squeue("simpipe-worker")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0][-2000:]
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-2000:]
    assert "interrupted; finished tasks are cached" in out
    deadline = time.monotonic() + 30
    while _squeue("simpipe-worker") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _squeue("simpipe-worker")


@pytest.mark.slow
def test_sbatch_script_resubmits_itself_at_the_walltime_and_finishes(slurm, tmp_path, tmp_path_factory):
    """hpc/run_study.sbatch: interrupted 10 s into a 2 min walltime, it resubmits
    itself; the second round resumes from the cache and completes the study."""
    _, reference, _ = reference_run(tmp_path_factory)
    cfg = _slurm_quickstart(tmp_path)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    subprocess.run(["sbatch", "--time=2", "--signal=B:USR1@110", f"--output={tmp_path}/simpipe-%j.log",
                    str(REPO / "hpc" / "run_study.sbatch"), str(cfg)], check=True, env=env, cwd=tmp_path)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        time.sleep(2)
        logs = sorted(tmp_path.glob("simpipe-*.log"))
        if not _squeue("simpipe") and logs and "exit status" in logs[-1].read_text():
            break
    logs = [p.read_text() for p in sorted(tmp_path.glob("simpipe-*.log"))]
    assert len(logs) == 2, logs
    assert "resubmitted as job" in logs[0] and "exit status 130" in logs[0]
    assert "exit status 0" in logs[1]
    assert study_status(tmp_path / "out").complete
    assert same_summary(read_summary(tmp_path / "out" / "summary.csv"), reference)
