"""The whole sweep: simpipe against a plain serial script of OpenSim tools.

Usage::

    python benchmarks/bench_sweep.py [--variants 1 4 16] [--workers 1,2]

For K rectus femoris stiffness variants (1x to 2x the default passive
stiffness) of the example subject (two running trials):

- simpipe: ``run_study`` of a quickstart-like study (stages scale, ik, id,
  joint_work, passive) from an empty cache, on a LocalCluster of 1 and of 2
  worker processes (``--workers``: other counts, e.g. ``1,2,4,8``); wall time of the whole call (cluster start, every task,
  results.h5 and summary.csv included).
- the lab script: for each variant, in one process, one after the other: the
  generic model with the variant's RF passive strain written by the API,
  then ScaleTool, and per trial InverseKinematicsTool, InverseDynamicsTool
  (15 Hz) and AnalyzeTool with a MuscleAnalysis of the RF muscles (the
  passive fiber force), each from a setup XML (see ``tools_route.py``).

Printed: the ratios simpipe / script per K; the script's time per step and
simpipe's task time per stage per K (IK and ID must stay constant: they run
once per trial, whatever K); and the parallel efficiency of 2 workers on the
largest sweep, ``T(1 worker) / (n T(n workers))`` for each n > 1 (without a
1-worker run: relative to the fewest workers), from the wall times above
and again without starting and closing the cluster (timed alone in the same
run). With only 2 cores, any other busy process shows up directly in the
2-worker figures: read them with the load average printed in the header.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

import _common as C
import tools_route as T

TRIALS = ("run_01", "run_02")
DEFAULT_STRAIN = 0.6
RF_MUSCLES = ["rect_fem_r", "rect_fem_l"]


def quickstart_subject() -> dict:
    """Id, mass and height of the quickstart study's subject."""
    subj = yaml.safe_load((C.REPO / "configs" / "quickstart.yaml").read_text())["subjects"][0]
    return {key: subj[key] for key in ("id", "mass_kg", "height_m")}


SUBJECT = quickstart_subject()


def strains(k: int) -> list[float]:
    """K passive strains giving 1x to 2x the default passive stiffness."""
    rel = np.linspace(1.0, 2.0, k) if k > 1 else np.array([1.0])
    return [round(float(DEFAULT_STRAIN / r), 6) for r in rel]


def write_study(folder: Path, example: Path, k: int, **overrides) -> Path:
    """A quickstart-like study of K variants, with absolute paths (``overrides``: top-level keys)."""
    trials = [{"id": t, "markers": str(example / f"{t}.trc"), "grf": str(example / f"{t}_grf.mot")}
              for t in TRIALS]
    study = {"name": f"bench_k{k}", "model": {"builtin": "simpipe_run2d"},
             "subjects": [dict(SUBJECT, static=str(example / "static.trc"), trials=trials)],
             "sweep": {"muscles": ["rectus_femoris"], "property": "passive_fiber_strain_at_one_norm_force",
                       "values": strains(k)},
             "stages": ["scale", "ik", "id", "joint_work", "passive"],
             "filter": {"coordinates_hz": 15.0}, "output": str(folder / "out"),
             "cluster": {"kind": "local", "n_workers": 2}, **overrides}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def run_simpipe(folder: Path, example: Path, k: int, workers: int):
    """Wall time and StudyResult of one fresh run."""
    from simpipe.run.study import run_study

    path = write_study(folder, example, k)
    secs, res = C.timed(run_study, path, n_workers=workers)
    failed = res.outcome.failed
    if failed:
        raise RuntimeError(f"simpipe sweep K={k} had failed tasks: {failed}")
    return secs, res


def lab_variant(example: Path, strain: float, out: Path, exclude: list[str], steps: dict) -> None:
    """What a lab script does for one variant: variant model, scale, then IK, ID, passive per trial.

    ``steps`` collects the seconds of each step (setup files included).
    """
    from simpipe.config import BUILTIN_MEASUREMENTS

    def step(name, fn, *args):
        secs, value = C.timed(fn, *args)
        steps[name] = steps.get(name, 0.0) + secs
        return value

    meas = {k: [tuple(p) for p in v] for k, v in BUILTIN_MEASUREMENTS.items()}
    generic = step("variant", T.write_variant_model, C.MODEL_2D, RF_MUSCLES, strain, out / "generic_variant.osim")
    scaled = step("scale", lambda: T.run_scale(T.write_scale_setup(
        generic, example / "static.trc", SUBJECT["mass_kg"], SUBJECT["height_m"], meas, out / "scale")))
    for trial in TRIALS:
        mot = step("ik", lambda: T.run_ik(T.write_ik_setup(scaled, example / f"{trial}.trc", out / trial / "ik")))
        step("id", lambda: T.run_id(T.write_id_setup(scaled, mot, example / f"{trial}_grf.mot", C.FEET,
                                                      out / trial / "id", 15.0, exclude)))
        step("passive", lambda: T.run_analyze(T.write_analyze_setup(scaled, mot, RF_MUSCLES,
                                                                    out / trial / "passive")))


def run_lab(folder: Path, example: Path, k: int) -> tuple[float, dict]:
    """Wall time of the serial tool script over K variants, and seconds per step."""
    exclude = T.excluded_forces(C.MODEL_2D)
    steps: dict[str, float] = {}

    def script():
        for i, strain in enumerate(strains(k)):
            lab_variant(example, strain, folder / f"v{i:02d}", exclude, steps)

    with C.quiet_stdout():
        secs, _ = C.timed(script)
    return secs, steps


def cluster_overhead_seconds(workers: int) -> float:
    """Seconds to start simpipe's LocalCluster of ``workers`` processes and close it again."""
    from simpipe.config import ClusterSpec
    from simpipe.run.cluster import make_client

    def start_stop():
        with make_client(ClusterSpec(kind="local", n_workers=workers)) as client:
            client.wait_for_workers(workers)

    return C.timed(start_stop)[0]


def stage_line(res) -> str:
    """Task seconds per stage of one simpipe run."""
    order = ["scale", "ik", "id", "joint_work", "variant", "passive"]
    parts = [f"{s} {res.seconds_by_stage.get(s, 0.0):.2f}" for s in order]
    return "task s per stage: " + ", ".join(parts)


def report_reuse(results: dict, workers: int = 1) -> None:
    """IK and ID task time per K (constant when reused) and where the growth with K comes from."""
    ks = sorted(results)
    reused = {k: sum(results[k].seconds_by_stage.get(s, 0.0) for s in ("ik", "id")) for k in ks}
    per_variant = {k: sum(results[k].seconds_by_stage.get(s, 0.0) for s in ("variant", "passive")) for k in ks}
    n_ik = {k: len(results[k].plan.by_stage("ik")) + len(results[k].plan.by_stage("id")) for k in ks}
    print("REUSE IK+ID: " + ", ".join(f"K={k}: {n_ik[k]} tasks {reused[k]:.2f} s" for k in ks)
          + "; variant+passive: " + ", ".join(f"K={k}: {per_variant[k]:.2f} s" for k in ks)
          + f" ({workers}-worker task seconds)")


def report_efficiency(walls: dict) -> None:
    """Parallel efficiency of the largest sweep, with and without starting and closing the cluster.

    ``walls``: K -> {worker count: wall seconds}; each count above the
    fewest is compared with it.
    """
    k = max(walls)
    counts = sorted(walls[k])
    base = counts[0]
    over = {n: cluster_overhead_seconds(n) for n in counts}
    t_b = walls[k][base]
    for n in counts[1:]:
        t_n = walls[k][n]
        eff = base * t_b / (n * t_n)
        eff_run = base * (t_b - over[base]) / (n * (t_n - over[n]))
        ref = f"T1 {t_b:.2f} s" if base == 1 else f"{base} x T{base} {base * t_b:.2f} s"
        print(f"EFFICIENCY sweep K={k}, {base} -> {n} workers: {eff:.3f}  ({ref} / ({n} x T{n} {t_n:.2f} s))  "
              f"target >= 0.9  [{'met' if eff >= 0.9 else 'NOT met'}]")
        print(f"EFFICIENCY sweep K={k}{'' if n == 2 and base == 1 else f', {base} -> {n} workers,'} without "
              f"starting and closing the cluster (timed alone: {over[base]:.2f} s for {_workers(base)}, "
              f"{over[n]:.2f} s for {n}): {eff_run:.3f}")


def _workers(n: int) -> str:
    return f"{n} worker{'s' if n > 1 else ''}"


def run_k(scratch: Path, example: Path, k: int, counts=(1, 2)) -> tuple[dict, object]:
    """Lab script and simpipe (on each worker count) for K variants; prints their lines.

    Returns
    -------
    walls : dict
        Worker count -> wall seconds of its simpipe run.
    result : StudyResult
        The run on the fewest workers.
    """
    lab, steps = run_lab(scratch / f"lab_k{k}", example, k)
    walls, results = {}, {}
    for n in counts:
        walls[n], results[n] = run_simpipe(scratch / f"sp{n}_k{k}", example, k, n)
    print(f"-- K={k}: {len(results[counts[-1]].plan.tasks)} simpipe tasks; lab script {lab:.2f} s; simpipe "
          + ", ".join(f"{_workers(n)} {walls[n]:.2f} s" for n in counts), flush=True)
    print("   lab script s per step: " + ", ".join(f"{n} {v:.2f}" for n, v in steps.items()))
    for n in counts:
        print(f"   simpipe {_workers(n):9s} {stage_line(results[n])}")
    for n in counts:
        print(C.ratio_line(f"sweep K={k} simpipe ({_workers(n)})/serial script", walls[n], lab))
    return walls, results[counts[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--workers", type=C.parse_workers, default=[1, 2],
                        help="comma-separated worker counts (default 1,2)")
    args = parser.parse_args()
    C.header("Whole sweep: simpipe run_study vs a serial script of OpenSim tools per variant")
    walls, results = {}, {}
    with C.scratch_dir("sweep") as tmp:
        scratch = Path(tmp)
        example = C.example_dir(scratch)
        for k in args.variants:
            walls[k], results[k] = run_k(scratch, example, k, args.workers)
    report_reuse(results, args.workers[0])
    report_efficiency(walls)


if __name__ == "__main__":
    main()
