"""MocoInverse over the RF sweep: every variant solved cold vs warm-started from its neighbour.

Usage::

    python benchmarks/bench_muscles_warmstart.py [--mesh 0.02] [--trial run_01] [--no-tight]
                                                 [--study]

The quickstart's trial (``run_01`` of the example subject, scaled as the
quickstart scales it, coordinates and forces unfiltered as the quickstart
has them) and its RF stiffness grid (1x, 1.2x, 1.5x, 2x). The variants are
solved in the order of ``simpipe.run.plan.warm_start_order``, which is what
a study with ``muscles.warm_start: true`` runs: the middle variant from
Moco's default guess, the others each from the solution of its neighbour
nearer the middle. Every variant is also solved cold (Moco's default
guess), interleaved with its warm solve; one solver thread each, as the
study runs them.

Printed:

- per variant, IPOPT iterations, wall and CPU seconds of the cold and the
  warm solve, and the largest differences of their solutions (tendon force
  in N, reserve and residual forces in N m / N);
- ``WARMSTART`` lines: the route's ratio warm / cold (the middle variant's
  cold solve plus the warm solves, against every variant cold) in iterations,
  CPU and wall time; the same for the warm solves alone; the iterations of a
  solve started from its own solution (what no guess can beat: IPOPT's
  barrier parameter starts from its default, which Moco does not expose);
  whether warm and cold solves reach one optimum: the variant whose warm
  and cold solutions differ most is solved both ways again at 1/100 of the
  tolerance, where the difference must shrink (``--no-tight`` skips these
  two solves); and the quickstart's muscles stage (2
  trials x 4 variants) scheduled on 2 workers with the measured CPU times
  (both trials assumed to cost what this one does), cold vs warm;
- ``--study``: also runs the quickstart with the muscle stage on 2 workers
  with ``muscles.warm_start`` false and true (several minutes each) and
  prints the wall time of its muscles tasks.

No timed assertion anywhere; iterations do not depend on the machine's load,
times do (the CPU time of a single-threaded solve much less than its wall).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import _common as C

QUICKSTART = C.REPO / "configs" / "quickstart.yaml"
RF = ["rect_fem_r", "rect_fem_l"]


@dataclass
class Solve:
    """One MocoInverse solve: its output dict, wall and CPU seconds."""

    out: dict
    wall: float
    cpu: float

    @property
    def iterations(self) -> int:
        return int(self.out["iterations"])


def quickstart():
    from simpipe.config import load_study

    return load_study(QUICKSTART, check_files=False)[0]


def prepare(example: Path, work: Path, trial: str, study) -> tuple[list, dict, dict]:
    """Variant models of the quickstart grid and the trial's ID output (as the quickstart has them).

    Returns
    -------
    points : list of VariantPoint
    models : dict
        Variant name -> model path.
    data : dict
        ``id`` (the ID task's output) and ``grf`` (the GRF file).
    """
    from simpipe.model.variants import write_variant
    from simpipe.run.tasks import id_task, ik_task, scale_task
    from simpipe.run.variants import sweep_points

    subj = study.subjects[0]
    scaled = scale_task(str(C.MODEL_2D), str(example / "static.trc"), subj.mass_kg, subj.height_m,
                        study.measurements, {}, str(work / "scale"), {})
    points = sweep_points(study.sweep, C.MODEL_2D, RF)
    models = {p.name: str(write_variant(scaled["model_path"], work / f"{p.name}.osim", RF, p.property,
                                        p.value)) for p in points}
    grf = example / f"{trial}_grf.mot"
    ik = ik_task(scaled["model_path"], str(example / f"{trial}.trc"), {}, study.ik.accuracy,
                 study.filter.markers_hz, None, str(work / "ik"))
    idr = id_task(scaled["model_path"], ik, str(grf), C.FEET, study.filter.coordinates_hz,
                  study.filter.grf_hz, str(work / "id"))
    return points, models, {"id": idr, "grf": str(grf)}


def run_solve(model: str, data: dict, options: dict, work: Path, warm_from: dict | None = None) -> Solve:
    from simpipe.run.muscle_tasks import muscles_task

    c0, w0 = time.process_time(), time.perf_counter()
    out = muscles_task(model, data["id"], data["grf"], C.FEET, None, options, str(work), warm_from=warm_from)
    return Solve(out, time.perf_counter() - w0, time.process_time() - c0)


def differences(a: dict, b: dict) -> tuple[float, float, float]:
    """Largest |a - b| of tendon forces (N), of reserve/residual forces, and the peak tendon force."""
    force = np.abs(np.asarray(a["tendon_force"]) - np.asarray(b["tendon_force"])).max()
    acts = np.abs(np.asarray(a["actuator_force"]) - np.asarray(b["actuator_force"])).max()
    return float(force), float(acts), float(np.abs(np.asarray(b["tendon_force"])).max())


def describe(name: str, source: str | None, cold: Solve, warm: Solve | None) -> str:
    text = f"   {name:6s} cold {cold.iterations:3d} it {cold.wall:6.1f} s (CPU {cold.cpu:6.1f} s)"
    if warm is None:
        return text + "; solved cold in both routes (the middle of the sweep)"
    force, acts, peak = differences(warm.out, cold.out)
    ok = "" if warm.out["success"] and cold.out["success"] else " NOT CONVERGED"
    return (text + f"; warm from {source}: {warm.iterations:3d} it {warm.wall:6.1f} s (CPU {warm.cpu:6.1f} s), "
            f"iterations x{warm.iterations / cold.iterations:.2f}; largest difference tendon force "
            f"{force:.3g} N (peak {peak:.0f} N), reserves/residuals {acts:.3g}{ok}")


def schedule(tasks: list[tuple[str, float, list[str]]], workers: int) -> float:
    """Makespan of tasks (name, seconds, dependencies) run in list order on ``workers`` workers.

    A free worker takes the first task in the list whose dependencies have
    finished, as Dask does with tasks submitted in plan order.
    """
    done_at: dict[str, float] = {}
    free = [0.0] * workers
    pending = list(tasks)
    while pending:
        w = min(range(workers), key=free.__getitem__)
        now = free[w]
        ready = [t for t in pending if all(done_at.get(d, np.inf) <= now for d in t[2])]
        if not ready:  # wait for the next running task to finish
            free[w] = min(done_at[d] for t in pending for d in t[2] if now < done_at.get(d, np.inf) < np.inf)
            continue
        name, secs, _ = ready[0]
        pending.remove(ready[0])
        done_at[name] = free[w] = now + secs
    return max(done_at.values())


def quickstart_schedules(order, cold: dict, warm: dict, trials: int, workers: int) -> tuple[float, float]:
    """Cold and warm makespans of ``trials`` copies of the measured trial (CPU seconds per task)."""
    cold_tasks, warm_tasks = [], []
    for k in range(trials):
        for v, source in order:
            cold_tasks.append((f"{k}{v.name}", cold[v.name].cpu, []))
            secs = cold[v.name].cpu if source is None else warm[v.name].cpu
            warm_tasks.append((f"{k}{v.name}", secs, [] if source is None else [f"{k}{source.name}"]))
    return schedule(cold_tasks, workers), schedule(warm_tasks, workers)


def measure(order, models: dict, data: dict, options: dict, work: Path) -> tuple[dict, dict]:
    """Cold solve of every variant and warm solve of all but the middle one, interleaved."""
    cold, warm = {}, {}
    for v, source in order:
        cold[v.name] = run_solve(models[v.name], data, options, work / f"{v.name}_cold")
        if source is not None:
            guess = (warm.get(source.name) or cold[source.name]).out
            warm[v.name] = run_solve(models[v.name], data, options, work / f"{v.name}_warm", guess)
        print(describe(v.name, None if source is None else source.name, cold[v.name], warm.get(v.name)),
              flush=True)
    return cold, warm


def report(order, cold: dict, warm: dict) -> None:
    """The WARMSTART ratio lines."""
    root = order[0][0].name
    warm_route = [cold[root]] + list(warm.values())
    cold_route = list(cold.values())

    def total(solves, attr):
        return sum(getattr(s, attr) for s in solves)

    it_w, it_c = total(warm_route, "iterations"), total(cold_route, "iterations")
    cpu_w, cpu_c = total(warm_route, "cpu"), total(cold_route, "cpu")
    wall_w, wall_c = total(warm_route, "wall"), total(cold_route, "wall")
    print(f"WARMSTART route over {len(order)} variants (middle {root} cold, {len(warm)} warm) / all cold: "
          f"iterations {it_w / it_c:.3f} ({it_w} / {it_c}); CPU {cpu_w / cpu_c:.3f} ({cpu_w:.1f} s / "
          f"{cpu_c:.1f} s); wall {wall_w / wall_c:.3f} ({wall_w:.1f} s / {wall_c:.1f} s)  target <= 0.5 "
          f"(wall) [{'met' if wall_w / wall_c <= 0.5 else 'NOT met'}]")
    names = list(warm)
    it_w, it_c = total(warm.values(), "iterations"), sum(cold[n].iterations for n in names)
    cpu_w, cpu_c = total(warm.values(), "cpu"), sum(cold[n].cpu for n in names)
    print(f"WARMSTART warm solves alone ({', '.join(names)}) / their cold solves: iterations "
          f"{it_w / it_c:.3f} ({it_w} / {it_c}); CPU {cpu_w / cpu_c:.3f} ({cpu_w:.1f} s / {cpu_c:.1f} s)")


def report_floor(order, models: dict, data: dict, options: dict, cold: dict, work: Path) -> None:
    """A solve started from its own solution: the fewest iterations a guess can give."""
    root = order[0][0].name
    own = run_solve(models[root], data, options, work / f"{root}_own", cold[root].out)
    force, acts, peak = differences(own.out, cold[root].out)
    print(f"WARMSTART floor: {root} started from its own solution takes {own.iterations} iterations "
          f"(cold {cold[root].iterations}: x{own.iterations / cold[root].iterations:.2f}; CPU "
          f"{own.cpu:.1f} s vs {cold[root].cpu:.1f} s); it moves by {force:.3g} N tendon force, "
          f"{acts:.3g} reserves", flush=True)


def report_tolerance(order, models: dict, data: dict, options: dict, cold: dict, warm: dict,
                     work: Path) -> None:
    """Whether warm and cold solves find one optimum: their difference as the tolerance tightens.

    The variant whose warm and cold solutions differ most is solved again,
    cold and warm (from the same guess), at 1/100 of the tolerance. If both
    starts lead to one optimum, the difference shrinks with the tolerance;
    what remains at the study's tolerance is where IPOPT stopped inside its
    termination test, not another solution.
    """
    name = max(warm, key=lambda n: differences(warm[n].out, cold[n].out)[0])
    source = dict((v.name, s) for v, s in order)[name]
    guess = (warm.get(source.name) or cold[source.name]).out
    tight_opts = dict(options, tolerance=options["tolerance"] / 100)
    tight_cold = run_solve(models[name], data, tight_opts, work / f"{name}_tight_cold")
    tight_warm = run_solve(models[name], data, tight_opts, work / f"{name}_tight_warm", guess)
    loose = differences(warm[name].out, cold[name].out)
    tight = differences(tight_warm.out, tight_cold.out)
    drift = differences(cold[name].out, tight_cold.out)
    ok = tight[0] <= 0.5 * loose[0] or tight[0] < 1.0
    print(f"WARMSTART same solution: largest warm - cold difference over the sweep {loose[0]:.3g} N tendon force "
          f"({100 * loose[0] / loose[2]:.2g}% of peak {loose[2]:.0f} N), {loose[1]:.3g} reserves/residuals "
          f"({name}, tolerance {options['tolerance']:g}); at tolerance {tight_opts['tolerance']:g} "
          f"{tight[0]:.3g} N, {tight[1]:.3g} (cold {tight_cold.iterations}, warm {tight_warm.iterations} "
          f"iterations; the cold solution itself moves {drift[0]:.3g} N): one optimum within the tolerance "
          f"{'yes' if ok else 'NO'}", flush=True)


def report_schedule(order, cold: dict, warm: dict) -> None:
    for trials in (2, 1):
        t_cold, t_warm = quickstart_schedules(order, cold, warm, trials, 2)
        print(f"WARMSTART schedule {trials} trial(s) x {len(order)} variants on 2 workers (measured CPU s per "
              f"solve): warm {t_warm:.1f} s / cold {t_cold:.1f} s = {t_warm / t_cold:.3f}")


def run_studies(tmp: Path) -> None:
    """The quickstart with the muscle stage on 2 workers, warm_start false and true."""
    import yaml

    from simpipe.run.study import run_study

    raw = yaml.safe_load(QUICKSTART.read_text())
    for subj in raw["subjects"]:
        subj["static"] = str(C.example_dir(tmp) / "static.trc")
        for t in subj["trials"]:
            t["markers"] = str(C.example_dir(tmp) / f"{t['id']}.trc")
            t["grf"] = str(C.example_dir(tmp) / f"{t['id']}_grf.mot")
    raw["stages"] = ["scale", "ik", "id", "muscles"]
    walls = {}
    for warm in (False, True):
        raw["muscles"] = {"warm_start": warm}
        raw["output"] = str(tmp / f"study_{warm}")
        path = tmp / f"study_{warm}.yaml"
        path.write_text(yaml.safe_dump(raw))
        with C.quiet_stdout():
            res = run_study(path, n_workers=2)
        muscles = [t for t in res.plan.tasks if t.stage == "muscles"]
        its = sum(int(res.outcome.values[t.key]["iterations"]) for t in muscles)
        walls[warm] = res.wall_s
        print(f"   study warm_start={warm}: {len(muscles)} muscles tasks, {its} iterations, "
              f"{res.seconds_by_stage.get('muscles', 0):.0f} task s, study wall {res.wall_s:.0f} s; "
              f"failed {len(res.outcome.failed)}", flush=True)
    print(f"WARMSTART quickstart study with the muscle stage, 2 workers: wall warm / cold "
          f"{walls[True] / walls[False]:.3f} ({walls[True]:.0f} s / {walls[False]:.0f} s)")


def main() -> None:
    from simpipe.run.plan import warm_start_order

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mesh", type=float, default=None, help="mesh interval (default: the stage's)")
    parser.add_argument("--trial", default="run_01")
    parser.add_argument("--no-tight", action="store_true", help="skip the two solves at a tighter tolerance")
    parser.add_argument("--study", action="store_true", help="also run the quickstart study cold and warm")
    args = parser.parse_args()
    C.header("muscle stage: MocoInverse per RF variant, cold vs warm-started from the neighbouring variant")
    study = quickstart()
    options = study.muscles.solver_options()
    if args.mesh is not None:
        options["mesh_interval"] = args.mesh
    with C.scratch_dir("warmstart") as tmp:
        work = Path(tmp)
        points, models, data = prepare(C.example_dir(work), work, args.trial, study)
        order = warm_start_order(points)
        print(f"   {args.trial}, {len(data['id']['time'])} frames; mesh {options['mesh_interval']} s, tolerance "
              f"{options['tolerance']:g}, one solver thread; order {[v.name for v, _ in order]}", flush=True)
        cold, warm = measure(order, models, data, options, work)
        report(order, cold, warm)
        report_floor(order, models, data, options, cold, work)
        if not args.no_tight:
            report_tolerance(order, models, data, options, cold, warm, work)
        report_schedule(order, cold, warm)
        if args.study:
            run_studies(work)


if __name__ == "__main__":
    main()
