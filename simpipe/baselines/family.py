"""The baseline family: one Moco running simulation per stiffness and tracking weight.

Each point of the family is the built-in model with one swept muscle property
changed (:mod:`simpipe.model.variants`), simulated running with foot contact
by :func:`simpipe.example.simulate.simulate_running`: tracking the unimpaired
reference gait against an effort term, so that with a low tracking weight
the motion is free to adapt to the stiffer muscle. The choice and its limits
are documented in the README's "Simulated baselines" section.

Continuation. Within one tracking weight the points are solved in order of
increasing stiffness; each starts from the solution of its softer neighbour
(``warm_start``). That makes the points of one weight a chain of dependent
tasks; the weights are independent chains and run side by side on the
cluster.

Cache. A point's task key hashes the base model file, the swept property and
value, the solver settings and the key of the point it warm-starts from, so
a rerun, or a larger sweep that keeps the same first points, solves only what
is new (:class:`simpipe.run.cache.TaskCache`).

Each finished point also writes the simulation as a lab would record it
(:mod:`simpipe.example.labtrial`): markers, GRF and ExternalLoads, so it goes
through the same IK -> ID -> muscle chain as an athlete's trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..io.hashing import file_sha256, hash_object
from ..run.plan import Plan, Task
from ..run.variants import VariantPoint
from .spec import BaselinesSpec

#: Stage name of a baseline solve in the task cache.
STAGE = "baseline"

#: Version of the baseline problem's formulation, part of every key: a change of the
#: problem that the settings do not show (e.g. how passive muscles are bounded) must
#: not reuse solutions cached before it.
PROBLEM_VERSION = 2

#: Gait cycles written per simulated trial (two, so that each foot has a complete stance).
TRIAL_CYCLES = 2


@dataclass(frozen=True)
class BaselinePoint:
    """One simulation of the family.

    Attributes
    ----------
    variant : VariantPoint
        The swept property's value (name like ``x1.50``).
    tracking_weight : float
    """

    variant: VariantPoint
    tracking_weight: float

    @property
    def weight_id(self) -> str:
        """Subject-like id of the weight's chain, e.g. ``baseline_w20``."""
        return f"baseline_w{self.tracking_weight:g}".replace(".", "p")

    @property
    def trial_id(self) -> str:
        """Trial id of the point within its chain: the variant name."""
        return self.variant.name


def family_points(variants: list[VariantPoint], spec: BaselinesSpec) -> list[BaselinePoint]:
    """Points in solve order: per weight, variants by increasing stiffness.

    Parameters
    ----------
    variants : list of VariantPoint
    spec : BaselinesSpec

    Returns
    -------
    list of BaselinePoint
    """
    def stiffness(v: VariantPoint) -> float:
        return v.rf_stiffness if v.rf_stiffness == v.rf_stiffness else v.value

    ordered = sorted(variants, key=stiffness)
    return [BaselinePoint(v, w) for w in spec.tracking_weights for v in ordered]


def solver_settings(spec: BaselinesSpec, tracking_weight: float, muscles: list[str]) -> dict:
    """The :class:`simpipe.example.simulate.SimSettings` fields the spec sets.

    The rest are :data:`simpipe.example.simulate.COARSE`'s: torque-driven
    joints with the swept muscles kept as passive elements (their passive
    fiber force acts; the torques and the motion must deal with it).
    """
    return {"actuation": "torques", "passive_muscles": sorted(muscles),
            "mesh_intervals": spec.mesh_intervals, "tracking_weight": float(tracking_weight),
            "max_iterations": spec.max_iterations,
            "convergence_tolerance": spec.convergence_tolerance}


def family_plan(points: list[BaselinePoint], spec: BaselinesSpec, model_path: Path, muscles: list[str],
                out: Path) -> Plan:
    """Tasks of the family, chained per weight when ``spec.warm_start``.

    Parameters
    ----------
    points : list of BaselinePoint
        From :func:`family_points`.
    spec : BaselinesSpec
    model_path : Path
        The base model (with foot contact).
    muscles : list of str
        The swept muscles (model names).
    out : Path
        The family's folder; each task works in ``out/work/baseline/<key>``.

    Returns
    -------
    Plan
    """
    model_hash = file_sha256(model_path)
    tasks, previous = [], {}
    for point in points:
        v = point.variant
        kwargs = {"model_path": str(model_path), "muscles": list(muscles), "prop": v.property,
                  "value": float(v.value), "speed": spec.speed_m_s, "cycle_time": spec.cycle_time_s,
                  "settings": solver_settings(spec, point.tracking_weight, muscles), "noise_mm": spec.noise_mm,
                  "trial_id": point.trial_id}
        deps = {}
        prev = previous.get(point.tracking_weight)
        if spec.warm_start and prev is not None:
            deps = {"warm_start": (prev.key, "solution_path")}
        key = hash_object({"stage": STAGE, "simpipe": __version__, "problem": PROBLEM_VERSION, "kwargs": kwargs,
                           "model": model_hash, "deps": deps})[:24]
        kwargs["work_dir"] = str(out / "work" / STAGE / key)
        task = Task(STAGE, key, f"{STAGE}:{point.weight_id}/{point.trial_id}", kwargs, deps,
                    {"subject": point.weight_id, "trial": point.trial_id, "variant": v.name})
        tasks.append(task)
        previous[point.tracking_weight] = task
    return Plan(tasks, [p.variant for p in points], {str(model_path): model_hash}, list(muscles))


def baseline_task(model_path: str, muscles: list[str], prop: str, value: float, speed: float,
                  cycle_time: float, settings: dict, noise_mm: float, trial_id: str, work_dir: str,
                  warm_start: str | None = None) -> dict:
    """Solve one point of the family and write it as a lab trial (runs on a worker).

    Parameters
    ----------
    model_path : str
        The base model.
    muscles, prop, value
        The swept muscles, property and this point's value.
    speed, cycle_time : float
    settings : dict
        :class:`~simpipe.example.simulate.SimSettings` fields.
    noise_mm : float
    trial_id : str
    work_dir : str
    warm_start : str, optional
        The neighbour's solution (.sto).

    Returns
    -------
    dict
        ``model_path`` (the variant), ``solution_path``, ``success``,
        ``status``, ``iterations``, ``objective``, ``wall_s``, ``warm``,
        ``markers``, ``grf``, ``external_loads``, ``static`` (paths) and the
        simulation's own ``time``, ``coordinates``, ``q`` and peak vertical
        GRF (body weights).
    """
    from dataclasses import replace

    from ..example import simulate as S
    from ..example.labtrial import foot_loads, repeat_cycle, write_running_trial, write_static_trial
    from ..example.simdata import cycle_data
    from ..model.variants import write_variant

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    variant = write_variant(model_path, work / "variant.osim", muscles, prop, value)
    sim_settings = replace(S.COARSE, **dict(settings, passive_muscles=tuple(settings["passive_muscles"])))
    result = S.simulate_running(variant, work / "solution.sto", speed=speed, cycle_time=cycle_time,
                                settings=sim_settings, warm_start=warm_start)
    cycle = cycle_data(variant, result.solution_path, sim_settings)
    feet = foot_loads(cycle.grf)
    time, q, feet = repeat_cycle(cycle.time, cycle.q, list(cycle.coordinates), feet, n_cycles=TRIAL_CYCLES)
    files = write_running_trial(variant, work / "trial", trial_id, time, list(cycle.coordinates), q, feet,
                                noise_mm=noise_mm)
    static = write_static_trial(variant, work / "trial" / "static.trc")
    weight = _body_weight(variant)
    peak_bw = max(float(np.max(g.force[:, 1])) for g in cycle.grf.values()) / weight
    return {"model_path": str(variant), "solution_path": str(result.solution_path),
            "success": bool(result.success), "status": str(result.status),
            "iterations": int(result.iterations), "objective": float(result.objective),
            "objective_terms": dict(result.objective_terms),
            "wall_s": float(result.wall_s), "warm": warm_start is not None,
            "static": str(static), **{k: str(p) for k, p in files.items()},
            "time": cycle.time, "coordinates": list(cycle.coordinates), "q": cycle.q,
            "activation": cycle.activation, "muscle_force": cycle.muscle_force, "muscles": list(cycle.muscles),
            "peak_vertical_grf_bw": peak_bw}


def _body_weight(model_path: Path) -> float:
    """Body weight (N) of a model: total mass times the magnitude of its gravity."""
    from ..stages.osimutil import load_model

    model = load_model(model_path)
    state = model.initSystem()
    g = model.getGravity()
    return float(model.getTotalMass(state)) * float(np.linalg.norm([g.get(0), g.get(1), g.get(2)]))
