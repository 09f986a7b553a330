"""Faults: a broken input, a killed worker, a killed run; and ``simpipe status``.

A study must finish whatever does not depend on a failed task, say what
failed and why, survive a worker process that dies mid-task, and resume
after the ``simpipe run`` process itself is SIGKILLed, ending with the same
summary as an undisturbed run and a results file that opens cleanly.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import psutil
import pytest

from _study import EXAMPLE, quickstart_copy, read_summary, reference_run, same_summary
from simpipe.cli import main
from simpipe.io.store import read_summary as read_h5_summary
from simpipe.run.cache import TaskCache
from simpipe.run.plan import Plan, Task
from simpipe.run.status import study_status, write_plan_index

LOCAL = {"kind": "local", "n_workers": 2, "retries": 1}


# ---------------------------------------------------------------- status (no OpenSim)

def _toy_plan() -> Plan:
    t = [Task("scale", "k_scale", "scale:s1", {}),
         Task("ik", "k_ik1", "ik:s1/r1", {}, {"model_path": ("k_scale", "model_path")}),
         Task("ik", "k_ik2", "ik:s1/r2", {}, {"model_path": ("k_scale", "model_path")}),
         Task("id", "k_id1", "id:s1/r1", {}, {"ik": ("k_ik1", None)}),
         Task("id", "k_id2", "id:s1/r2", {}, {"ik": ("k_ik2", None)}),
         Task("joint_work", "k_jw2", "joint_work:s1/r2", {}, {"id_result": ("k_id2", None)})]
    return Plan(t, [], {}, [])


def test_status_counts_done_failed_skipped_pending(tmp_path, capsys):
    out = tmp_path / "out"
    write_plan_index(_toy_plan(), out, tmp_path / "study.yaml")
    cache = TaskCache(out / "cache")
    for stage, key in [("scale", "k_scale"), ("ik", "k_ik1"), ("ik", "k_ik2")]:
        cache.save(stage, key, {"x": 1})
    cache.record_failure("id", "k_id2", "id:s1/r2", "InputError: r2_grf.mot: covers 0.0-0.4 s only")
    cache.record_failure("id", "k_gone", "id:s1/old", "from an older config")  # not in the plan

    status = study_status(out)
    assert status.stages["ik"] == {"done": 2, "failed": 0, "skipped": 0, "pending": 0}
    assert status.stages["id"] == {"done": 0, "failed": 1, "skipped": 0, "pending": 1}
    assert status.stages["joint_work"]["skipped"] == 1
    assert status.states["id:s1/r1"] == "pending"
    assert [f["task"] for f in status.failures] == ["id:s1/r2"]

    assert main(["status", str(out)]) == 1
    shown = capsys.readouterr().out
    assert "FAILED id:s1/r2: InputError: r2_grf.mot: covers 0.0-0.4 s only" in shown
    assert "older config" not in shown


def test_status_exit_codes_pending_then_done(tmp_path, capsys):
    out = tmp_path / "out"
    plan = _toy_plan()
    write_plan_index(plan, out, tmp_path / "study.yaml")
    assert main(["status", str(out)]) == 3
    cache = TaskCache(out / "cache")
    cache.record_failure("id", "k_id2", "id:s1/r2", "boom")
    for task in plan.tasks:  # a later retry succeeded: the failure record goes away
        cache.save(task.stage, task.key, {})
    assert main(["status", str(out)]) == 0
    assert study_status(out).complete


def test_status_of_a_folder_without_a_plan_is_a_one_line_error(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "plan.json" in err and str(tmp_path) in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- faults (real studies)

def _broken_grf(folder: Path) -> Path:
    """run_02's GRF cut to its first third: it no longer covers the trial."""
    src = EXAMPLE / "run_02_grf.mot"
    lines = src.read_text().splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader")
    data = lines[end + 2:]
    broken = folder / "run_02_grf.mot"
    folder.mkdir(parents=True, exist_ok=True)
    broken.write_text("\n".join(lines[:end + 2] + data[:len(data) // 3]) + "\n")
    return broken


def test_broken_trial_fails_alone_and_is_reported(tmp_path, tmp_path_factory, capsys):
    from simpipe.run.study import run_study

    _, reference, _ = reference_run(tmp_path_factory)
    broken = _broken_grf(tmp_path / "inputs")
    cfg = quickstart_copy(tmp_path, dict(LOCAL, retries=0), {EXAMPLE / "run_02_grf.mot": broken})
    res = run_study(cfg)

    failed = {t.label: res.outcome.failed[t.key] for t in res.plan.tasks if t.key in res.outcome.failed}
    assert set(failed) == {"id:subject01/run_02", "joint_work:subject01/run_02"}
    assert "run_02_grf.mot" in failed["id:subject01/run_02"]
    assert failed["joint_work:subject01/run_02"].startswith("skipped")
    rows = read_summary(res.summary_path)
    run_01 = [r for r in rows if r["trial"] == "run_01"]
    assert same_summary(run_01, [r for r in reference if r["trial"] == "run_01"])
    run_02 = [r for r in rows if r["trial"] == "run_02"]
    assert len(run_02) == 4 and all(math.isnan(r["glute_share"]) for r in run_02)
    assert all(r["rf_passive_peak_n"] > 0 for r in run_02)  # passive needs IK only

    with h5py.File(res.results_path, "r") as h5:
        tasks = [t.decode() for t in h5["failures"]["task"][()]]
        assert set(tasks) == set(failed)
    assert len(read_h5_summary(res.results_path)) == len(rows)

    assert main(["status", str(tmp_path / "out")]) == 1
    shown = capsys.readouterr().out
    assert "FAILED id:subject01/run_02: InputError" in shown and "run_02_grf.mot" in shown


def _kill_a_busy_worker(client, cache_root: Path, min_done: int, killed: list) -> None:
    """SIGKILL one worker process while it runs a task, after ``min_done`` tasks finished."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not killed:
        done = len(list(cache_root.glob("*/*.pkl")))
        busy = {w: tasks for w, tasks in client.processing().items() if tasks}
        if done >= min_done and busy:
            addr, tasks = next(iter(busy.items()))
            pid = client.run(os.getpid, workers=[addr])[addr]
            os.kill(pid, signal.SIGKILL)
            killed.append({"pid": pid, "tasks": list(tasks), "done_before": done})
            return
        time.sleep(0.1)


def _kill_a_worker_during_runs(monkeypatch, study_mod, cache_root) -> list:
    """Make every study run start a thread that SIGKILLs a busy worker; returns its record."""
    killed: list = []
    real_make_client = study_mod.make_client

    @contextlib.contextmanager
    def make_client_with_a_killer(spec, *args):
        with real_make_client(spec, *args) as client:
            threading.Thread(target=_kill_a_busy_worker, daemon=True,
                             args=(client, cache_root, 3, killed)).start()
            yield client

    monkeypatch.setattr(study_mod, "make_client", make_client_with_a_killer)
    return killed


def test_killed_worker_the_study_still_completes_identically(tmp_path, tmp_path_factory, monkeypatch):
    import simpipe.run.study as study_mod

    _, reference, _ = reference_run(tmp_path_factory)
    cfg = quickstart_copy(tmp_path, LOCAL)
    killed = _kill_a_worker_during_runs(monkeypatch, study_mod, tmp_path / "out" / "cache")
    res = study_mod.run_study(cfg)
    assert killed, "no worker was killed: the study ended first"
    assert not res.outcome.failed, res.outcome.failed
    assert len(res.outcome.computed) == len(res.plan.tasks)
    assert same_summary(read_summary(res.summary_path), reference)


def _sigkill_when(proc: subprocess.Popen, cache_root: Path, min_done: int, timeout: float = 300) -> int:
    """SIGKILL ``proc`` once ``min_done`` tasks are cached; returns how many were."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"simpipe run ended (rc {proc.returncode}) before it could be killed")
        done = len(list(cache_root.glob("*/*.pkl")))
        if done >= min_done:
            children = psutil.Process(proc.pid).children(recursive=True)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            _, alive = psutil.wait_procs(children, timeout=30)
            for child in alive:  # orphaned workers should exit by themselves
                child.kill()
            assert not alive, f"worker processes outlived the killed run: {alive}"
            return done
        time.sleep(0.1)
    proc.kill()
    pytest.fail("simpipe run did not cache enough tasks in time")


def test_sigkilled_run_resumes_with_the_same_summary(tmp_path, tmp_path_factory, capsys):
    from simpipe.run.study import run_study

    _, reference, _ = reference_run(tmp_path_factory)
    cfg = quickstart_copy(tmp_path, LOCAL)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "simpipe.cli", "run", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done_at_kill = _sigkill_when(proc, out / "cache", min_done=6)

    assert main(["status", str(out)]) == 3  # pending work left, nothing failed
    assert study_status(out).count("done") >= done_at_kill
    capsys.readouterr()

    res = run_study(cfg)
    total = len(res.plan.tasks)
    assert not res.outcome.failed, res.outcome.failed
    assert len(res.outcome.cached) >= done_at_kill
    assert 0 < len(res.outcome.computed) < total
    assert same_summary(read_summary(res.summary_path), reference)
    assert len(read_h5_summary(res.results_path)) == len(reference)  # opens cleanly, complete
    assert main(["status", str(out)]) == 0


def test_sigterm_takes_the_workers_along_and_keeps_the_cache(tmp_path):
    """SIGTERM (``kill``, ``scancel``) while workers are busy in long solves.

    The run exits at once with status 143 and closes its cluster, so no
    worker goes on with a solve nobody will collect (a compliant-tendon
    MocoInverse of a whole trial takes minutes); the tasks finished before
    stay cached and ``simpipe status`` reports the rest pending.
    """
    import yaml

    cfg = quickstart_copy(tmp_path, LOCAL)
    raw = yaml.safe_load(cfg.read_text())
    raw["stages"] = ["scale", "ik", "id", "muscles"]
    raw["sweep"]["values"] = [0.6]
    raw["muscles"] = {"method": "moco_inverse", "tendon_compliance": True, "warm_start": False}
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "simpipe.cli", "run", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    busy = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
                   if "spawn_main" in " ".join(c.cmdline())]
        # scale, ik x2, id x2 (+ the variant) done: both workers are in a muscles solve
        if len(list((out / "cache").glob("*/*.pkl"))) >= 5 and workers:
            time.sleep(3.0)
            busy = [w for w in workers if w.cpu_percent(interval=0.5) > 50]
            break
        time.sleep(0.2)
    assert proc.poll() is None and busy, "the study never had a worker busy in a muscles solve"
    children = psutil.Process(proc.pid).children(recursive=True)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, alive = psutil.wait_procs(children, timeout=15)
    for child in alive:
        child.kill()
    print(f"SIGTERM -> exit {rc} in {time.monotonic() - start:.1f} s; processes left: {alive}")
    assert rc == 128 + signal.SIGTERM
    assert "terminated; finished tasks are cached" in proc.stderr.read()
    assert not alive, f"worker processes outlived the terminated run: {alive}"
    assert main(["status", str(out)]) == 3  # muscles tasks pending, nothing failed


@pytest.mark.slow
def test_task_whose_workers_keep_dying_is_reported_and_a_rerun_completes(tmp_path, tmp_path_factory,
                                                                          monkeypatch, capsys):
    """With no worker deaths allowed, the killed worker's tasks end as
    KilledWorker: recorded, shown by ``simpipe status``, and rerun next time."""
    import dask

    import simpipe.run.study as study_mod

    _, reference, _ = reference_run(tmp_path_factory)
    cfg = quickstart_copy(tmp_path, LOCAL)
    real_make_client = study_mod.make_client
    killed = _kill_a_worker_during_runs(monkeypatch, study_mod, tmp_path / "out" / "cache")
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        first = study_mod.run_study(cfg)
    assert killed
    lost = [t.label for t in first.plan.tasks if first.outcome.failed.get(t.key, "").startswith("KilledWorker")]
    assert lost, first.outcome.failed
    assert main(["status", str(tmp_path / "out")]) == 1
    assert f"FAILED {lost[0]}: KilledWorker" in capsys.readouterr().out

    monkeypatch.setattr(study_mod, "make_client", real_make_client)
    second = study_mod.run_study(cfg)
    assert not second.outcome.failed
    assert len(second.outcome.computed) < len(second.plan.tasks)
    assert same_summary(read_summary(second.summary_path), reference)
    assert main(["status", str(tmp_path / "out")]) == 0
