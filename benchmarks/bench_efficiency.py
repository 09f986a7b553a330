"""Parallel efficiency of a sweep whose work is the muscle-level stage.

Usage::

    python benchmarks/bench_efficiency.py [--variants 8] [--mesh 0.04] [--workers 1,2]

bench_sweep.py measures the joint-level sweep, whose tasks take tenths of a
second: there the cluster's start and the scheduler dominate, and 2 workers
on 2 cores cannot show much. A real study's time goes into the muscle stage
(MocoInverse per trial x variant, tens of seconds each). This script runs
the example study (two trials, K stiffness variants, stages up to
``muscles``) from an empty cache on a LocalCluster of 1 and then of 2
worker processes (``--workers``: other counts, e.g. ``1,2,4,8`` on a
many-core machine), MocoInverse cold (``warm_start: false``, so the
variants are independent tasks), and prints

- ``EFFICIENCY``: T(1 worker) / (n T(n workers)) for each n > 1, whole
  ``run_study`` calls (cluster start, every task, results.h5 and summary.csv
  included); without a 1-worker run, relative to the fewest workers m:
  m T(m) / (n T(n));
- the muscle tasks' summed wall time in each run (equal work: if the
  n-worker run's is larger, the processes fought for the cores);
- per run, where its wall time went, from the tasks' start and end stamps
  (``_meta["started_unix"]``, ``["ended_unix"]``): from the call to the
  first task's start (config, plan, cluster start), the serial head (first
  task start to the first muscle task's start: scale, then IK and ID), the
  workers' summed idle time between the first task's start and the last
  task's end, and the tail (last task end to the call's return: results.h5,
  summary.csv, cluster close); and, per n, how n T(n) - T(1) splits into
  these parts (``n T(n) = n start + task-seconds + idle + n tail``, exactly).

All runs are in one process, one after the other, on the same data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common as C
from bench_sweep import write_study as sweep_study


def write_study(folder: Path, example: Path, k: int, mesh: float) -> Path:
    """bench_sweep's study with the muscle stage (MocoInverse cold) instead of the joint-level ones."""
    return sweep_study(folder, example, k, name=f"efficiency_k{k}", stages=["scale", "ik", "id", "muscles"],
                       muscles={"method": "moco_inverse", "mesh_interval": mesh, "warm_start": False},
                       filter={"coordinates_hz": None})


def _busy(spans: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Summed time of the spans inside [lo, hi]."""
    return sum(max(0.0, min(end, hi) - max(start, lo)) for start, end in spans)


def _waits(plan, meta: dict) -> dict:
    """Task label -> seconds from the end of its last input to its start (tasks with inputs)."""
    waits = {}
    for task in plan.tasks:
        inputs = [meta[key]["ended_unix"] for key, _ in task.deps.values() if key in meta]
        if task.key in meta and inputs:
            waits[task.label] = meta[task.key]["started_unix"] - max(inputs)
    return waits


def timeline(res, called: float, returned: float, workers: int) -> dict:
    """Where one ``run_study`` call's wall time went, from its tasks' start and end stamps.

    Parameters
    ----------
    res : StudyResult
        A run from an empty cache (every task computed in it).
    called, returned : float
        Unix times just before the call and just after it returned.
    workers : int
        Worker processes (one task at a time each).

    Returns
    -------
    dict
        Seconds: ``start`` (call -> first task start), ``head`` (first task
        start -> first muscle task start), ``span`` (first task start -> last
        task end), ``busy`` (task seconds summed), ``idle`` (``workers * span -
        busy``), ``idle_head`` (its part before the first muscle task),
        ``tail`` (last task end -> return), ``wait`` (summed over tasks: the
        last input's end -> the task's start) and ``wait_max`` with its task
        ``wait_label``; ``per_worker``: busy seconds per worker process.
    """
    meta = {k: res.outcome.values[k]["_meta"] for k in res.outcome.computed}
    spans = [(m["started_unix"], m["ended_unix"]) for m in meta.values()]
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    muscle = min((m["started_unix"] for m in meta.values() if m["stage"] == "muscles"), default=last)
    busy = sum(e - s for s, e in spans)
    waits = _waits(res.plan, meta)
    wait_label = max(waits, key=waits.get, default="-")
    per_worker: dict = {}
    for m in meta.values():
        per_worker[m.get("pid")] = per_worker.get(m.get("pid"), 0.0) + m["seconds"]
    return {"start": first - called, "head": muscle - first, "span": last - first, "busy": busy,
            "idle": workers * (last - first) - busy,
            "idle_head": workers * (muscle - first) - _busy(spans, first, muscle), "tail": returned - last,
            "wait": sum(waits.values()), "wait_max": waits.get(wait_label, 0.0), "wait_label": wait_label,
            "per_worker": sorted(per_worker.values(), reverse=True)}


def timeline_line(t: dict, workers: int) -> str:
    return (f"   timeline: run_study start -> first task start {t['start']:.1f} s (config, plan, cluster start); "
            f"serial head {t['head']:.1f} s (scale -> ik -> id, first task start -> first muscle task start); "
            f"workers idle {t['idle']:.1f} s summed over {workers} worker(s) between first task start and last "
            f"task end ({t['idle_head']:.1f} s of it during the head); tail {t['tail']:.1f} s (last task end -> "
            f"run_study return); task-seconds {t['busy']:.1f}, per worker "
            f"{'/'.join(f'{x:.1f}' for x in t['per_worker'])}; tasks waited {t['wait']:.1f} s in all from their "
            f"last input's end to their start (longest {t['wait_max']:.1f} s: {t['wait_label']})")


def loss_line(n: int, t_n: dict, base: int, t_b: dict, wall_n: float, wall_b: float) -> str:
    """How n T(n) - base T(base) splits into start, task-seconds, idle and tail."""
    def part(key: str, scale: bool) -> float:
        return (n * t_n[key] - base * t_b[key]) if scale else (t_n[key] - t_b[key])

    return (f"   {n} x T{n} - {base} x T{base} = {n * wall_n - base * wall_b:.1f} worker-s: start "
            f"{part('start', True):+.1f}, task-seconds {part('busy', False):+.1f}, idle {part('idle', False):+.1f} "
            f"(head {part('idle_head', False):+.1f}), tail {part('tail', True):+.1f}")


def report(n: int, base: int, runs: dict, variants: int, mesh: float) -> None:
    """EFFICIENCY of n workers against ``base`` workers, task-seconds ratio, and the split of the loss.

    ``runs``: worker count -> (wall s, muscle task-seconds, timeline dict).
    """
    (wall_b, tasks_b, line_b), (wall_n, tasks_n, line_n) = runs[base], runs[n]
    eff = base * wall_b / (n * wall_n)
    ref = f"T1 {wall_b:.1f} s" if base == 1 else f"{base} x T{base} {base * wall_b:.1f} s"
    print(f"EFFICIENCY muscle-stage sweep (2 trials x {variants} variants, MocoInverse cold, mesh "
          f"{mesh:g} s), {base} -> {n} workers: {eff:.3f}  ({ref} / ({n} x T{n} {wall_n:.1f} s))  "
          f"target >= 0.9  [{'met' if eff >= 0.9 else 'NOT met'}]")
    print(f"   muscle task-seconds {n} workers / {base} worker{'s' if base > 1 else ''}: "
          f"{tasks_n / tasks_b:.3f} (1.0: the {'two ' if n == 2 else ''}workers had a core each)")
    print(loss_line(n, line_n, base, line_b, wall_n, wall_b), flush=True)


def main() -> None:
    import time

    from simpipe.run.study import run_study

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=8,
                        help="RF variants per trial (default 8: 16 muscle tasks, 8 per worker on 2)")
    parser.add_argument("--mesh", type=float, default=0.04, help="MocoInverse mesh interval (s)")
    parser.add_argument("--workers", type=C.parse_workers, default=[1, 2],
                        help="comma-separated worker counts (default 1,2)")
    args = parser.parse_args()
    counts = args.workers
    C.header("Parallel efficiency: the example study with its muscle stage, "
             f"{' vs '.join(str(n) for n in counts)} workers")
    runs = {}
    with C.scratch_dir("efficiency") as tmp:
        scratch = Path(tmp)
        example = C.example_dir(scratch)
        for workers in counts:
            path = write_study(scratch / f"w{workers}", example, args.variants, args.mesh)
            called = time.time()
            secs, res = C.timed(run_study, path, n_workers=workers)
            returned = time.time()
            if res.outcome.failed:
                raise RuntimeError(f"{workers} worker(s): failed tasks {res.outcome.failed}")
            tasks = res.seconds_by_stage.get("muscles", 0.0)
            runs[workers] = (secs, tasks, timeline(res, called, returned, workers))
            n = len(res.plan.by_stage("muscles"))
            print(f"-- {workers} worker(s): run_study {secs:.1f} s; {n} muscle tasks, "
                  f"{tasks:.1f} task-seconds ({tasks / n:.1f} s each)", flush=True)
            print(timeline_line(runs[workers][2], workers), flush=True)
            if workers != counts[0]:
                report(workers, counts[0], runs, args.variants, args.mesh)

if __name__ == "__main__":
    main()
