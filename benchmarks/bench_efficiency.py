"""Parallel efficiency of a sweep whose work is the muscle-level stage.

Usage::

    python benchmarks/bench_efficiency.py [--variants 4] [--mesh 0.04]

bench_sweep.py measures the joint-level sweep, whose tasks take tenths of a
second: there the cluster's start and the scheduler dominate, and 2 workers
on 2 cores cannot show much. A real study's time goes into the muscle stage
(MocoInverse per trial x variant, tens of seconds each). This script runs
the example study (two trials, K stiffness variants, stages up to
``muscles``) from an empty cache on a LocalCluster of 1 and then of 2
worker processes, MocoInverse cold (``warm_start: false``, so the variants
are independent tasks), and prints

- ``EFFICIENCY``: T(1 worker) / (2 T(2 workers)), whole ``run_study`` calls
  (cluster start, every task, results.h5 and summary.csv included);
- the muscle tasks' summed wall time in each run (equal work: if the
  2-worker run's is larger, the two processes fought for the cores).

Both runs are in one process, one after the other, on the same data.
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


def main() -> None:
    from simpipe.run.study import run_study

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--mesh", type=float, default=0.04, help="MocoInverse mesh interval (s)")
    args = parser.parse_args()
    C.header("Parallel efficiency: the example study with its muscle stage, 1 vs 2 workers")
    walls, tasks = {}, {}
    with C.scratch_dir("efficiency") as tmp:
        scratch = Path(tmp)
        example = C.example_dir(scratch)
        for workers in (1, 2):
            path = write_study(scratch / f"w{workers}", example, args.variants, args.mesh)
            secs, res = C.timed(run_study, path, n_workers=workers)
            if res.outcome.failed:
                raise RuntimeError(f"{workers} worker(s): failed tasks {res.outcome.failed}")
            walls[workers] = secs
            tasks[workers] = res.seconds_by_stage.get("muscles", 0.0)
            n = len(res.plan.by_stage("muscles"))
            print(f"-- {workers} worker(s): run_study {secs:.1f} s; {n} muscle tasks, "
                  f"{tasks[workers]:.1f} task-seconds ({tasks[workers] / n:.1f} s each)", flush=True)
    eff = walls[1] / (2 * walls[2])
    print(f"EFFICIENCY muscle-stage sweep (2 trials x {args.variants} variants, MocoInverse cold, mesh "
          f"{args.mesh:g} s), 1 -> 2 workers: {eff:.3f}  (T1 {walls[1]:.1f} s / (2 x T2 {walls[2]:.1f} s))  "
          f"target >= 0.9  [{'met' if eff >= 0.9 else 'NOT met'}]")
    print(f"   muscle task-seconds 2 workers / 1 worker: {tasks[2] / tasks[1]:.3f} "
          "(1.0: the two workers had a core each)")


if __name__ == "__main__":
    main()
