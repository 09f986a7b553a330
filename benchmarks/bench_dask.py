"""Scheduler overhead per task and worker memory over many tasks.

Usage::

    python benchmarks/bench_dask.py [--tasks 2000] [--ik-tasks 500]

Both parts run on a distributed LocalCluster of 2 single-threaded worker
processes made by ``simpipe.run.cluster.make_client`` and submit through
``simpipe.run.execute.run_plan``, the path ``simpipe run`` takes (one
``client.submit`` per task, ``execute`` on the worker, the output pickled into
the task cache with fsync, results collected with ``as_completed``).

- Overhead: ``--tasks`` independent tasks of a stage that does nothing
  (registered on the workers for this benchmark only). Overhead per task =
  wall time / tasks (2 workers drain the queue together), and per task and
  worker = wall x 2 / tasks. For scale: the same number of no-op tasks by
  plain ``client.map``.
- Memory: ``--ik-tasks`` real IK tasks (``ik`` stage: read the example trial,
  load the model, solve 21 frames, write ik.mot) in 10 equal batches. After
  each batch every worker reports its resident set size (RSS) and its peak
  RSS (``ru_maxrss``). Growth = last batch / first batch - 1 (target < 10%).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

import _common as C

N_BATCHES = 10


def _noop_stage(**kwargs) -> dict:
    """The benchmark's trivial task: returns at once."""
    return {"ok": True}


def _register_noop() -> int:
    """Add the 'noop' stage to the worker's task table (benchmark only)."""
    from simpipe.run import tasks

    tasks.TASKS["noop"] = _noop_stage
    return os.getpid()


def _memory() -> dict:
    """This worker's current and peak resident set size (MiB)."""
    import resource

    import psutil

    rss = psutil.Process().memory_info().rss / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss": rss, "peak": peak}


def _noop(i):
    return i


def plan_of(tasks: list):
    from simpipe.run.plan import Plan

    return Plan(tasks, [], {}, [])


def bench_overhead(client, n_tasks: int, scratch: Path) -> None:
    """Per-task overhead of run_plan with trivial tasks, and of plain client.map."""
    from simpipe.run.cache import TaskCache
    from simpipe.run.execute import run_plan
    from simpipe.run.plan import Task

    client.run(_register_noop)
    tasks = [Task("noop", f"noop{i:06d}", f"noop:{i}", {"i": i}) for i in range(n_tasks)]
    cache = TaskCache(scratch / "overhead_cache")
    secs, outcome = C.timed(run_plan, plan_of(tasks), cache, lambda: contextlib.nullcontext(client), 0)
    assert len(outcome.computed) == n_tasks and not outcome.failed, outcome.failed
    raw, _ = C.timed(lambda: client.gather(client.map(_noop, range(n_tasks), pure=False)))
    per = 1000 * secs / n_tasks
    print(f"OVERHEAD {n_tasks} trivial tasks through run_plan on 2 workers: {secs:.2f} s wall -> "
          f"{per:.2f} ms per task ({2 * per:.2f} ms of worker time per task)")
    print(f"   plain client.map of {n_tasks} no-ops: {raw:.2f} s -> {1000 * raw / n_tasks:.2f} ms per task; "
          f"simpipe's additions (task records, cache pickles with fsync, per-task submit): "
          f"{1000 * (secs - raw) / n_tasks:.2f} ms per task")


def ik_tasks(example: Path, scratch: Path, start: int, n: int) -> list:
    """``n`` IK tasks on the first 0.1 s (21 frames) of the example trial."""
    from simpipe.run.plan import Task

    kwargs = {"model_path": str(example / "model_true.osim"), "trc": str(example / "run_01.trc"),
              "weights": {}, "accuracy": 1e-6, "markers_hz": None, "time_range": [0.0, 0.1]}
    return [Task("ik", f"ik{i:06d}", f"ik:{i}", dict(kwargs, work_dir=str(scratch / "ik" / f"{i:06d}")))
            for i in range(start, start + n)]


def bench_memory(client, n_tasks: int, example: Path, scratch: Path) -> None:
    """Worker RSS after each of 10 batches of IK tasks."""
    from simpipe.run.cache import TaskCache
    from simpipe.run.execute import run_plan

    cache = TaskCache(scratch / "memory_cache")
    per_batch = n_tasks // N_BATCHES
    history = []
    start = time.perf_counter()
    for b in range(N_BATCHES):
        out = run_plan(plan_of(ik_tasks(example, scratch, b * per_batch, per_batch)), cache,
                       lambda: contextlib.nullcontext(client), 0)
        assert not out.failed, out.failed
        history.append(client.run(_memory))
    wall = time.perf_counter() - start
    workers = sorted(history[0])
    print(f"   {per_batch * N_BATCHES} IK tasks in {wall:.1f} s; "
          f"RSS (MiB) per worker after each batch of {per_batch}:")
    for w in workers:
        rss = [h[w]["rss"] for h in history]
        print(f"   worker {workers.index(w)}: " + " ".join(f"{r:.0f}" for r in rss)
              + f"; peak {history[-1][w]['peak']:.0f}")
    for w in workers:
        first, last = history[0][w], history[-1][w]
        growth = last["rss"] / first["rss"] - 1
        peak_growth = last["peak"] / first["peak"] - 1
        print(f"MEMORY worker {workers.index(w)}: RSS {first['rss']:.0f} -> {last['rss']:.0f} MiB "
              f"({100 * growth:+.1f}%), peak {first['peak']:.0f} -> {last['peak']:.0f} MiB "
              f"({100 * peak_growth:+.1f}%) from batch 1 to {N_BATCHES}  target < +10%  "
              f"[{'met' if max(growth, peak_growth) < 0.10 else 'NOT met'}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--ik-tasks", type=int, default=500)
    args = parser.parse_args()
    from simpipe.config import ClusterSpec
    from simpipe.run.cluster import make_client

    C.header("Dask: scheduler overhead per task, worker memory over many IK tasks")
    with C.scratch_dir("dask") as tmp, make_client(ClusterSpec(kind="local", n_workers=2)) as client:
        scratch = Path(tmp)
        example = C.example_dir(scratch)
        C.warm_cluster(client)
        bench_overhead(client, args.tasks, scratch)
        bench_memory(client, args.ik_tasks, example, scratch)


if __name__ == "__main__":
    main()
