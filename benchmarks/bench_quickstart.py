"""Wall time of the quickstart study, per stage, from an empty cache.

Usage::

    python benchmarks/bench_quickstart.py [--workers N]

Runs ``configs/quickstart.yaml`` (its subject files taken from the example
subject, see ``_common.example_dir``) into a temporary output folder. Prints
the study's wall time against the README's 5-minute budget, the task time per
stage (summed over tasks, so with 2 workers it can exceed the wall time), and
the share of each stage.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

import _common as C


def write_config(example: Path, out_dir: Path) -> Path:
    """The quickstart config with absolute paths into ``example`` and output in ``out_dir``."""
    cfg = yaml.safe_load((C.REPO / "configs" / "quickstart.yaml").read_text())
    for subj in cfg["subjects"]:
        subj["static"] = str(example / Path(subj["static"]).name)
        for trial in subj["trials"]:
            trial["markers"] = str(example / Path(trial["markers"]).name)
            trial["grf"] = str(example / Path(trial["grf"]).name)
    cfg["output"] = str(out_dir / "out")
    path = out_dir / "quickstart.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from simpipe.run.study import run_study

    C.header(f"Quickstart study from an empty cache, {args.workers} worker(s)")
    with C.scratch_dir("quickstart") as tmp:
        scratch = Path(tmp)
        path = write_config(C.example_dir(scratch), scratch)
        wall, res = C.timed(run_study, path, n_workers=args.workers)
    total = sum(res.seconds_by_stage.values())
    print(f"QUICKSTART {len(res.plan.tasks)} tasks, wall {wall:.1f} s "
          f"({wall / 300:.2f}x of the README's 300 s budget); failed tasks: {len(res.outcome.failed)}")
    for stage, secs in sorted(res.seconds_by_stage.items(), key=lambda kv: -kv[1]):
        n = len(res.plan.by_stage(stage))
        print(f"   {stage:<11} {secs:7.2f} s task time in {n:3d} task(s) ({secs / total:5.1%})")
    print(f"   task time / wall time = {total / wall:.2f} (parallel speed-up incl. overhead)")


if __name__ == "__main__":
    main()
