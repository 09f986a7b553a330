"""Wall time of the quickstart study, per stage, from an empty cache.

Usage::

    python benchmarks/bench_quickstart.py [--workers N]

Prints the study's wall time, the task time per stage (summed over tasks,
so with 2 workers it can exceed the wall time), and the share of each stage.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from simpipe.run.study import run_study

    cfg = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())
    base = REPO / "configs"
    with tempfile.TemporaryDirectory() as tmp:
        for subj in cfg["subjects"]:
            subj["static"] = str((base / subj["static"]).resolve())
            for trial in subj["trials"]:
                trial["markers"] = str((base / trial["markers"]).resolve())
                trial["grf"] = str((base / trial["grf"]).resolve())
        cfg["output"] = str(Path(tmp) / "out")
        path = Path(tmp) / "quickstart.yaml"
        path.write_text(yaml.safe_dump(cfg))
        start = time.perf_counter()
        res = run_study(path, n_workers=args.workers)
        wall = time.perf_counter() - start
        shutil.rmtree(Path(tmp) / "out", ignore_errors=True)
    total = sum(res.seconds_by_stage.values())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"workers: {args.workers}")
    print(f"quickstart: {len(res.plan.tasks)} tasks, wall {wall:.1f} s (target < 300 s: "
          f"{wall / 300:.2f}x of the budget)")
    for stage, secs in sorted(res.seconds_by_stage.items(), key=lambda kv: -kv[1]):
        n = len(res.plan.by_stage(stage))
        print(f"  {stage:<11} {secs:7.2f} s task time in {n:3d} task(s) ({secs / total:5.1%})")
    print(f"  task time / wall time = {total / wall:.2f} (parallel speed-up incl. overhead)")


if __name__ == "__main__":
    main()
