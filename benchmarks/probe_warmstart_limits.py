"""Why a warm-started muscle solve is not 2x faster: what IPOPT spends its iterations on.

Usage::

    python benchmarks/probe_warmstart_limits.py [--trial run_01]

``bench_muscles_warmstart.py`` measures the route a study runs (warm/cold
0.81 in time on the quickstart grid, target 0.5). This probe asks where the
remaining iterations go, on one neighbour pair of that grid (x1.50 started
from the solution of x1.20, the quickstart's trial and settings), by
changing what the study cannot change:

- IPOPT's own options. Moco sets tolerances, iteration limit, print level
  and the Hessian approximation (limited-memory) through CasADi, and no
  barrier or initialisation option. IPOPT still reads an options file
  ``ipopt.opt`` from the process's current folder; the probe writes one in
  a scratch folder and solves from there (a benchmark may; simpipe does not
  depend on the current folder). "warm options": ``mu_init 1e-5``,
  ``bound_push``/``bound_frac 1e-8`` (start inside the bounds where the
  guess is), ``bound_mult_init_method mu-based`` (bound multipliers from
  the barrier parameter); "monotone": the same with ``mu_strategy
  monotone``.
- The guess. Moco interpolates the neighbour's solution, which violates
  the new variant's dynamics: its muscles' generalized forces differ (the
  RF's passive force changed). "feasible guess": the neighbour's solution
  with each reserve/residual control shifted by the change of the muscles'
  generalized forces along it (``MocoStudy.calcGeneralizedForces`` with
  both models), so that the guess satisfies the new dynamics; IPOPT's
  initial primal infeasibility (printed) shows it.

Printed per solve: IPOPT iterations, CPU seconds, objective, the initial
primal infeasibility (``inf_pr`` at iteration 0), and the largest tendon
force difference from the cold solve of the same variant. ``WARMLIMIT``
lines sum it up. No timed assertion; iterations do not depend on the
machine's load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import time
from pathlib import Path

import numpy as np

import _common as C
import bench_muscles_warmstart as W

WARM_OPTIONS = "mu_init 1e-5\nbound_push 1e-8\nbound_frac 1e-8\nbound_mult_init_method mu-based\n"
MONOTONE = "mu_strategy monotone\n" + WARM_OPTIONS


@contextlib.contextmanager
def ipopt_options(folder: Path, text: str):
    """Solve from ``folder`` with ``ipopt.opt`` = ``text`` (plus an iteration log to ``ipopt.out``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ipopt.opt").write_text("output_file ipopt.out\nfile_print_level 5\n" + text)
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield folder / "ipopt.out"
    finally:
        os.chdir(before)


def initial_infeasibility(log: Path) -> float:
    """``inf_pr`` of IPOPT's iteration 0 in its output file."""
    for line in log.read_text().splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[0] == "0" and re.match(r"^-?\d", fields[1]):
            return float(fields[2])
    return float("nan")


def feasible_guess(models: dict, source: str, target: str, data: dict, options: dict, guess: Path,
                   work: Path, out: Path) -> Path:
    """The ``source`` variant's solution with reserves shifted to satisfy ``target``'s dynamics."""
    import opensim as osim

    from simpipe.stages import muscles as M

    opts = M.MuscleOptions(**{k: v for k, v in options.items() if k in M.MuscleOptions.__dataclass_fields__})
    kin, loads = work / "kinematics.sto", work / "external_loads.xml"
    time_ = np.asarray(osim.TimeSeriesTable(str(kin)).getIndependentColumn())

    def muscle_generalized_forces(model_path: str):
        model, actuators = M.prepare_model(model_path, opts)
        _, study = M._moco_inverse_study(model, kin, loads, float(time_[0]), float(time_[-1]), opts)
        rep = study.getProblem().createRep()
        motion = [osim.PositionMotion.safeDownCast(c) for c in rep.getModelBase().getComponentsList()
                  if c.getConcreteClassName() == "PositionMotion"][0]
        traj = osim.MocoTrajectory(str(guess))
        traj.insertStatesTrajectory(motion.exportToTable([float(t) for t in traj.getTimeMat()]), True)
        table = study.calcGeneralizedForces(traj, [f"/forceset/{m}" for m in M.muscle_names(model)])
        return list(table.getColumnLabels()), table.getMatrix().to_numpy(), actuators

    labels, before, actuators = muscle_generalized_forces(models[source])
    _, after, _ = muscle_generalized_forces(models[target])
    traj = osim.MocoTrajectory(str(guess))
    for j, label in enumerate(labels):  # e.g. hip_flexion_r_moment, pelvis_tx_force
        name, coordinate, kind = next(a for a in actuators if label.rsplit("_", 1)[0] == a[1])
        optimal = options["reserve_optimal_force"] if kind == "reserve" else options["residual_optimal_force"]
        control = np.asarray(traj.getControl(f"/forceset/{name}").to_numpy()).ravel()
        # calcGeneralizedForces reports them with the sign of inverse dynamics'
        # residuals: adding the change cancels it (inf_pr at iteration 0 shows it)
        traj.setControl(f"/forceset/{name}", control + (after[:, j] - before[:, j]) / optimal)
    traj.write(str(out))
    return out


def solve(models: dict, name: str, data: dict, options: dict, folder: Path, ipopt: str,
          guess: Path | None) -> dict:
    """One MocoInverse solve from ``folder`` with those IPOPT options; its figures."""
    with ipopt_options(folder, ipopt) as log:
        warm_from = None if guess is None else {"success": True, "extra": {"solution_file": str(guess)}}
        res = W.run_solve(models[name], data, options, folder / "solve", warm_from)
        return {"out": res.out, "iterations": res.iterations, "cpu": res.cpu,
                "objective": float(res.out["objective"]), "inf_pr": initial_infeasibility(log)}


def line(label: str, s: dict, cold: dict) -> str:
    force = np.abs(np.asarray(s["out"]["tendon_force"]) - np.asarray(cold["out"]["tendon_force"])).max()
    return (f"   {label:58s} {s['iterations']:3d} it {s['cpu']:6.1f} s CPU  objective {s['objective']:.4f}  "
            f"initial inf_pr {s['inf_pr']:.2g}  tendon force vs cold <= {force:.3g} N")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trial", default="run_01")
    args = parser.parse_args()
    C.header("muscle stage warm start: where the iterations of a warm-started MocoInverse go")
    study = W.quickstart()
    options = study.muscles.solver_options()
    with C.scratch_dir("warmlimits") as tmp:
        work = Path(tmp)
        _, models, data = W.prepare(C.example_dir(work), work, args.trial, study)
        source, target = "x1.20", "x1.50"
        cold_src = solve(models, source, data, options, work / "cold_src", "", None)
        own_guess = Path(cold_src["out"]["extra"]["solution_file"])
        cold = solve(models, target, data, options, work / "cold", "", None)
        print(line(f"{target} cold (Moco's defaults)", cold, cold), flush=True)
        own = {k: solve(models, source, data, options, work / f"own_{k}", text, own_guess)
               for k, text in (("default", ""), ("warm", WARM_OPTIONS))}
        for k, s in own.items():
            print(line(f"{source} from its own solution, {k} options", s, cold_src), flush=True)
        feasible = feasible_guess(models, source, target, data, options, own_guess,
                                  own_guess.parent, work / "feasible_guess.sto")
        runs = {}
        for label, guess, text in (("neighbour's solution, default options", own_guess, ""),
                                   ("neighbour's solution, warm options", own_guess, WARM_OPTIONS),
                                   ("feasible guess, default options", feasible, ""),
                                   ("feasible guess, warm options", feasible, WARM_OPTIONS),
                                   ("feasible guess, warm options, monotone barrier", feasible, MONOTONE)):
            runs[label] = solve(models, target, data, options, work / label.replace(" ", "_").replace(",", ""),
                                text, guess)
            print(line(f"{target} from {label}", runs[label], cold), flush=True)
        best = min(runs, key=lambda k: runs[k]["iterations"])
        print(f"WARMLIMIT own solution: {own['default']['iterations']} iterations with Moco's defaults, "
              f"{own['warm']['iterations']} with warm IPOPT options (cold {cold_src['iterations']}): the "
              f"barrier start costs {own['default']['iterations'] - own['warm']['iterations']} iterations")
        plain = runs["neighbour's solution, default options"]
        print(f"WARMLIMIT neighbour {source} -> {target}: plain warm start {plain['iterations']} iterations "
              f"(x{plain['iterations'] / cold['iterations']:.2f} cold); fewest {runs[best]['iterations']} "
              f"(x{runs[best]['iterations'] / cold['iterations']:.2f}, CPU x{runs[best]['cpu'] / cold['cpu']:.2f}) "
              f"with {best}, objective {runs[best]['objective']:.4f} vs cold {cold['objective']:.4f} "
              f"({100 * (runs[best]['objective'] / cold['objective'] - 1):+.2f} %)")
        print("WARMLIMIT what is left is the dual side: Moco hands IPOPT no multipliers and its "
              "limited-memory Hessian starts empty, so even a guess that satisfies the dynamics "
              "(initial inf_pr above) needs the iterations that rebuild them")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"   probe: {time.perf_counter() - start:.0f} s")
