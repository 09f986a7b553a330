"""Wall time of the muscle-level stages per trial x RF variant, with their results.

Usage::

    python benchmarks/bench_muscles.py [--mesh 0.02] [--trials run_01 run_02]
                                       [--no-moco] [--first-stance]
    python benchmarks/bench_muscles.py --study [--workers 2]

For every trial of the example subject and every RF variant (passive fiber
strain 0.6 = default, 0.45, 0.3; and RF passive force switched off), times
``muscles_task`` (MocoInverse at ``--mesh``, and static optimization with
passive forces) and ``iaa_task``, and prints the superposition error, the RF
passive peak and the ``muscle_iaa`` shares. The forces are low-passed at the
kinematics' cut-off (15 Hz) as the tests do. One solve per task, one thread
per solve (simpipe runs problems in parallel, not the solver).

``--study`` instead runs configs/muscles.yaml (the quickstart study plus
the muscle-level stages, 2 trials x 4 RF variants) from an empty cache and
prints each stage's task time, its share of the study's task time and the
time per trial x variant of ``muscles`` and ``iaa`` (``SHARE`` line).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import numpy as np

from _common import FEET, MODEL_2D, example_dir, header, quiet_stdout, scratch_dir

VARIANTS = {"0.6": ("passive_fiber_strain_at_one_norm_force", 0.6),
            "0.45": ("passive_fiber_strain_at_one_norm_force", 0.45),
            "0.3": ("passive_fiber_strain_at_one_norm_force", 0.3),
            "rf_off": ("ignore_passive_fiber_force", True)}
RF = ["rect_fem_r", "rect_fem_l"]


def prepare(example: Path, work: Path, trials: list[str]) -> tuple[dict, dict]:
    """Scaled model, variants, and per trial IK + ID on GRF low-passed at 15 Hz."""
    from simpipe.config import BUILTIN_MEASUREMENTS
    from simpipe.io.grf import read_grf, write_grf
    from simpipe.model.variants import write_variant
    from simpipe.run.muscle_tasks import filtered_grf
    from simpipe.run.tasks import id_task, ik_task, scale_task

    with h5py.File(example / "ground_truth.h5") as f:
        mass, height = float(f.attrs["mass_kg"]), float(f.attrs["height_m"])
    meas = {k: [tuple(p) for p in v] for k, v in BUILTIN_MEASUREMENTS.items()}
    scaled = scale_task(str(MODEL_2D), str(example / "static.trc"), mass, height, meas, {},
                        str(work / "scale"), {})
    models = {name: str(write_variant(scaled["model_path"], work / f"{name}.osim", RF, prop, value))
              for name, (prop, value) in VARIANTS.items()}
    data = {}
    for trial in trials:
        grf = write_grf(filtered_grf(read_grf(example / f"{trial}_grf.mot"), FEET, 15.0),
                        work / f"{trial}_grf.mot")
        ik = ik_task(scaled["model_path"], str(example / f"{trial}.trc"), {}, 1e-6, None, None,
                     str(work / trial / "ik"))
        idr = id_task(scaled["model_path"], ik, str(grf), FEET, 15.0, None, str(work / trial / "id"))
        data[trial] = {"id": idr, "grf": str(grf)}
    return models, data


def first_stance(idr: dict, example: Path, trial: str) -> tuple[float, float]:
    from simpipe.io.grf import read_grf

    raw = read_grf(example / f"{trial}_grf.mot")
    on = np.interp(idr["time"], raw.time, raw.column("r_ground_force_vy")) > 20.0
    idx = np.flatnonzero(on & ~np.r_[False, on[:-1]])  # stance starts
    start = idx[idx > 0][0]
    end = start + np.argmax(~on[start:])
    return float(idr["time"][start] - 0.03), float(idr["time"][end] + 0.03)


def one(model: str, entry: dict, method: str, mesh: float, window, work: Path) -> dict:
    from simpipe.config import BUILTIN_GROUPS
    from simpipe.run.muscle_tasks import iaa_task, muscles_task

    opts = {"method": method, "mesh_interval": mesh, "time_range": window}
    start = time.perf_counter()
    mus = muscles_task(model, entry["id"], entry["grf"], FEET, None, opts, str(work))
    t_mus = time.perf_counter() - start
    start = time.perf_counter()
    iaa = iaa_task(model, entry["id"], mus, entry["grf"], FEET, None, BUILTIN_GROUPS, 20.0, str(work))
    return {"mus": mus, "iaa": iaa, "t_mus": t_mus, "t_iaa": time.perf_counter() - start}


def opensim_static_optimization(model: str, entry: dict, work: Path) -> tuple[float, dict]:
    """OpenSim's own route: AnalyzeTool + StaticOptimization from a setup XML.

    Same model variant, reserves, kinematics (filtered coordinates, degrees)
    and GRF as simpipe's ``static_optimization``; activation exponent 2.
    Returns the tool's wall time and its muscle forces (N) by name.
    """
    from simpipe.data import Table
    from simpipe.io.grf import write_external_loads_xml
    from simpipe.io.sto import read_sto, write_sto
    from simpipe.stages.muscles import MuscleOptions, prepare_model
    from simpipe.stages.osimutil import opensim

    osim = opensim()
    work.mkdir(parents=True, exist_ok=True)
    prepared, acts = prepare_model(model, MuscleOptions(method="static_optimization"))
    for name, _, _ in acts:  # the tool needs finite control bounds
        act = osim.CoordinateActuator.safeDownCast(prepared.updForceSet().get(name))
        act.setMinControl(-1e4)
        act.setMaxControl(1e4)
    prepared.printToXML(str(work / "model.osim"))
    idr = entry["id"]
    rot = np.array([not c.endswith(("_tx", "_ty", "_tz")) for c in idr["coordinates"]])
    q = np.where(rot, np.degrees(idr["q"]), idr["q"])
    write_sto(Table(idr["time"], idr["coordinates"], q, in_degrees=True), work / "q.mot", kind="mot")
    loads = write_external_loads_xml(work / "loads.xml", entry["grf"], FEET)
    t0, t1 = float(idr["time"][0]), float(idr["time"][-1])
    tool = osim.AnalyzeTool()
    tool.setName("so")
    tool.setModelFilename(str(work / "model.osim"))
    tool.setCoordinatesFileName(str(work / "q.mot"))
    tool.setExternalLoadsFileName(str(loads))
    tool.setLowpassCutoffFrequency(-1.0)
    tool.setInitialTime(t0)
    tool.setFinalTime(t1)
    tool.setResultsDir(str(work))
    so = osim.StaticOptimization()
    so.setStartTime(t0)
    so.setEndTime(t1)
    so.setUseModelForceSet(True)
    so.setActivationExponent(2.0)
    tool.getAnalysisSet().cloneAndAppend(so)
    tool.printToXML(str(work / "setup.xml"))
    start = time.perf_counter()
    with quiet_stdout():
        ok = osim.AnalyzeTool(str(work / "setup.xml")).run()
    secs = time.perf_counter() - start
    if not ok:
        raise RuntimeError(f"OpenSim StaticOptimization failed in {work}")
    table = read_sto(work / "so_StaticOptimization_force.sto")
    return secs, {name: table.column(name) for name in table.labels}


def line(trial: str, variant: str, method: str, r: dict) -> str:
    mus, iaa = r["mus"], r["iaa"]
    s, b, sp = iaa["shares"], iaa["braking_shares"], iaa["superposition"]
    return (f"{trial:7s} {variant:6s} {method:19s} {r['t_mus']:7.1f} {r['t_iaa']:5.1f} "
            f"{str(mus['success'])[0]} {mus['iterations']:4d} {100 * sp['relative_rms']:6.2f} "
            f"{iaa['passive_peak_n']['rectus_femoris']:7.0f} {s['glute']:6.3f} {s['plantarflexors']:6.3f} "
            f"{b['quadriceps']:6.3f} {b['glute']:6.3f} {b['plantarflexors']:6.3f} {iaa['n_stances']:2d}")


def compare_opensim(model: str, entry: dict, ours: dict, work: Path) -> None:
    """Time OpenSim's StaticOptimization on the same problem; compare RF and soleus forces."""
    secs, theirs = opensim_static_optimization(model, entry, work)
    names = ours["muscles"]
    parts = []
    for m in ("rect_fem_r", "soleus_r"):
        mine = np.asarray(ours["tendon_force"])[:, names.index(m)]
        passive = np.asarray(ours["passive_fiber_force"])[:, names.index(m)]
        parts.append(f"{m} peak {mine.max():.0f} N (passive {passive.max():.0f}) vs OpenSim "
                     f"{theirs[m].max():.0f} N")
    print(f"        OpenSim StaticOptimization {secs:.1f} s vs simpipe {ours['wall_s']:.1f} s "
          f"(ratio {ours['wall_s'] / secs:.2f}); " + "; ".join(parts), flush=True)


def study_share(workers: int) -> None:
    """configs/muscles.yaml from an empty cache: the muscle-level stages' share of the study."""
    from simpipe.run.study import run_study

    header(f"muscle-level stages' share of a study: configs/muscles.yaml on {workers} worker(s)")
    repo = Path(__file__).resolve().parents[1]
    with scratch_dir("muscles_study") as tmp:
        work = Path(tmp)
        example = example_dir(work)
        text = (repo / "configs" / "muscles.yaml").read_text()
        text = text.replace("../data/example/subject01", str(example))
        text = text.replace("output: ../results/muscles", f"output: {work / 'out'}")
        config = work / "muscles.yaml"
        config.write_text(text)
        start = time.perf_counter()
        with quiet_stdout():
            res = run_study(config, n_workers=workers)
        wall = time.perf_counter() - start
    if res.outcome.failed:
        raise RuntimeError(f"failed tasks: {res.outcome.failed}")
    by_stage = res.seconds_by_stage
    total = sum(by_stage.values())
    for stage, secs in by_stage.items():
        n = len(res.plan.by_stage(stage))
        print(f"   {stage:<11} {n:3d} tasks {secs:8.1f} s task time ({100 * secs / total:5.1f} %)"
              f"  {secs / max(n, 1):6.2f} s per task")
    muscle_level = by_stage.get("muscles", 0.0) + by_stage.get("iaa", 0.0)
    n_units = len(res.plan.by_stage("muscles"))
    print(f"SHARE muscle-level stages (muscles + iaa): {muscle_level:.1f} s of {total:.1f} s task time "
          f"({100 * muscle_level / total:.1f} %); {muscle_level / n_units:.1f} s per trial x variant "
          f"({n_units}); study wall time {wall:.1f} s on {workers} worker(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mesh", type=float, default=0.02, help="MocoInverse mesh interval (s)")
    parser.add_argument("--trials", nargs="+", default=["run_01", "run_02"])
    parser.add_argument("--no-moco", action="store_true", help="static optimization only")
    parser.add_argument("--first-stance", action="store_true", help="solve the first right stance only")
    parser.add_argument("--no-opensim", action="store_true", help="skip OpenSim's StaticOptimization route")
    parser.add_argument("--study", action="store_true",
                        help="run configs/muscles.yaml and print the muscle-level stages' share")
    parser.add_argument("--workers", type=int, default=2, help="workers of --study")
    args = parser.parse_args()
    if args.study:
        study_share(args.workers)
        return
    header("muscle stage: MocoInverse / static optimization + induced accelerations, per trial x variant")
    methods = ["static_optimization"] + ([] if args.no_moco else ["moco_inverse"])
    with scratch_dir("muscles") as tmp:
        work = Path(tmp)
        example = example_dir(work)
        models, data = prepare(example, work, args.trials)
        print(f"   mesh {args.mesh} s; GRF low-passed at 15 Hz; one solver thread", flush=True)
        print("trial   variant method              muscles_s iaa_s ok iter sup_% rf_pass_N glute  PF    "
              "brk_quad brk_glute brk_PF n_st", flush=True)
        times = {m: [] for m in methods}
        for trial, entry in data.items():
            window = first_stance(entry["id"], example, trial) if args.first_stance else None
            for variant, model in models.items():
                for method in methods:
                    r = one(model, entry, method, args.mesh, window, work / trial / variant / method)
                    times[method].append(r["t_mus"] + r["t_iaa"])
                    print(line(trial, variant, method, r), flush=True)
                    if method == "static_optimization" and not args.no_opensim and window is None:
                        compare_opensim(model, entry, r["mus"], work / trial / variant / "opensim_so")
    for method, secs in times.items():
        print(f"{method}: {np.median(secs):.1f} s per trial x variant (median of {len(secs)}; "
              f"min {min(secs):.1f}, max {max(secs):.1f}), muscles + iaa")


if __name__ == "__main__":
    main()
