"""``simpipe baselines <study.yaml>``: solve the family, then analyse it like lab data.

1. The family (:mod:`simpipe.baselines.family`) runs on the study's cluster,
   one Dask task per point, cached in ``<baselines>/cache``.
2. Every point's written trial goes through the study's own stages (scale,
   IK, ID, joint work, passive, and muscles / iaa when the study asks for
   them): a derived study file ``<baselines>/analysis.yaml`` lists one subject
   per tracking weight and one trial per stiffness, each analysed with its
   own model variant only (``variants:`` of the trial), and runs like any
   study (``<baselines>/analysis/``: results.h5, summary.csv, report).
3. The solver's status, iterations, objective and time per point, and the
   Thomas test of every stiffness (:mod:`simpipe.analysis.thomas`), are
   added to that results.h5 (``/baselines``) and to ``baselines.csv``.

The summary rows of the analysis are the family that ``simpipe compare``
places athletes against.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import yaml

from ..config import load_study
from ..errors import ConfigError
from ..run.cache import TaskCache
from ..run.cluster import make_client
from ..run.execute import Outcome, Progress, run_plan
from ..run.plan import Plan, _muscles_of
from ..run.study import StudyResult, builtin_model_path, run_study
from ..run.summary import write_csv
from ..run.variants import sweep_points
from .family import STAGE, family_plan, family_points
from .spec import BaselinesSpec

log = logging.getLogger(__name__)

#: Columns of baselines.csv.
CSV_COLUMNS = ["subject", "trial", "tracking_weight", "variant", "rf_stiffness", "success", "status",
               "iterations", "objective", "objective_terms", "wall_s", "warm", "peak_vertical_grf_bw",
               "thomas_knee90_deg", "thomas_knee0_deg"]


@dataclass
class BaselinesResult:
    """What :func:`run_baselines` returns."""

    folder: Path
    plan: Plan
    outcome: Outcome
    analysis: StudyResult | None
    rows: list[dict]
    wall_s: float


def baselines_folder(study) -> Path:
    """The family's folder: the spec's ``output`` or ``<study output>/baselines``."""
    spec = study.baselines or BaselinesSpec()
    return Path(spec.output) if spec.output is not None else Path(study.output) / "baselines"


def analysis_config(study, plan: Plan, outcome: Outcome, folder: Path, mass_kg: float,
                    height_m: float) -> dict:
    """The derived study (dict) that analyses every solved point like a lab trial.

    Parameters
    ----------
    study : simpipe.config.Study
        The original study (its stages, filters, sweep, cluster are kept).
    plan, outcome
        The family's plan and its results.
    folder : Path
    mass_kg, height_m : float
        The simulated model's mass and stature.

    Returns
    -------
    dict
        A study file's content (absolute paths).
    """
    subjects: dict[str, dict] = {}
    for task in plan.tasks:
        value = outcome.values.get(task.key)
        if value is None:
            continue
        subj = subjects.setdefault(task.where["subject"], {
            "id": task.where["subject"], "mass_kg": mass_kg, "height_m": height_m,
            "static": value["static"], "trials": []})
        subj["trials"].append({"id": task.where["trial"], "markers": value["markers"], "grf": value["grf"],
                               "variants": [task.where["variant"]]})
    if not subjects:
        raise ConfigError("no baseline simulation finished; nothing to analyse (see the failures above)")
    data = study.model_dump(mode="json", exclude_none=True)
    data.pop("baselines", None)
    data["name"] = f"{study.name}_baselines"
    data["subjects"] = list(subjects.values())
    data["stages"] = [s for s in study.stages if s != "baselines"]
    data["output"] = str(folder / "analysis")
    return data


def _stiffness(task, plan: Plan) -> float:
    for v in plan.variants:
        if v.name == task.where["variant"]:
            return float(v.rf_stiffness)
    return math.nan


def thomas_by_variant(plan: Plan, outcome: Outcome) -> dict[str, dict]:
    """Thomas test (knee 90 deg and straight) of each solved variant model, by variant name."""
    from ..analysis.thomas import thomas_curves, thomas_test

    out = {}
    for task in plan.tasks:
        value = outcome.values.get(task.key)
        name = task.where["variant"]
        if value is None or name in out:
            continue
        out[name] = {"result": thomas_test(value["model_path"]), "curves": thomas_curves(value["model_path"]),
                     "rf_stiffness": _stiffness(task, plan)}
    return out


def family_rows(plan: Plan, outcome: Outcome, thomas: dict[str, dict]) -> list[dict]:
    """One row per point: solver status and the Thomas-test angles of its variant."""
    rows = []
    for task in plan.tasks:
        value = outcome.values.get(task.key, {})
        name = task.where["variant"]
        t = thomas.get(name, {}).get("result", {})
        rows.append({"subject": task.where["subject"], "trial": task.where["trial"],
                     "tracking_weight": task.kwargs["settings"]["tracking_weight"], "variant": name,
                     "rf_stiffness": _stiffness(task, plan),
                     "success": value.get("success", False),
                     "status": value.get("status", outcome.failed.get(task.key, "not run")),
                     "iterations": value.get("iterations", math.nan),
                     "objective": value.get("objective", math.nan),
                     "objective_terms": " ".join(f"{k}={v:.6g}" for k, v in
                                                 value.get("objective_terms", {}).items()),
                     "wall_s": value.get("wall_s", math.nan),
                     "warm": value.get("warm", False),
                     "peak_vertical_grf_bw": value.get("peak_vertical_grf_bw", math.nan),
                     "thomas_knee90_deg": t[90.0].thigh_angle_deg if 90.0 in t else math.nan,
                     "thomas_knee0_deg": t[0.0].thigh_angle_deg if 0.0 in t else math.nan})
    return rows


def store_family(results_h5: Path, rows: list[dict], thomas: dict[str, dict]) -> None:
    """Add ``/baselines/solves`` and ``/baselines/thomas`` to the analysis results.h5."""
    names = sorted(thomas, key=lambda n: thomas[n]["rf_stiffness"])
    with h5py.File(results_h5, "a") as f:
        if "baselines" in f:
            del f["baselines"]
        g = f.create_group("baselines")
        solves = g.create_group("solves")
        for key in CSV_COLUMNS:
            values = [r[key] for r in rows]
            if all(isinstance(v, (bool, np.bool_)) for v in values):
                solves[key] = np.array(values, bool)
            elif all(isinstance(v, (int, float, np.floating, np.integer)) for v in values):
                solves[key] = np.array(values, float)
            else:
                solves[key] = np.array([str(v) for v in values], dtype=h5py.string_dtype())
        if not names:
            return
        th = g.create_group("thomas")
        th["variant"] = np.array(names, dtype=h5py.string_dtype())
        th["rf_stiffness"] = np.array([thomas[n]["rf_stiffness"] for n in names])
        th["angle_knee_flexed_deg"] = np.array([thomas[n]["result"][90.0].thigh_angle_deg for n in names])
        th["angle_knee_extended_deg"] = np.array([thomas[n]["result"][0.0].thigh_angle_deg for n in names])
        curves = [thomas[n]["curves"] for n in names]
        th["hip_angle_deg"] = curves[0].thigh_angle_deg
        th["rf_force_knee_flexed_n"] = np.array([c.rf_force_n[list(c.knee_deg).index(90.0)] for c in curves])
        th["rf_force_knee_extended_n"] = np.array([c.rf_force_n[list(c.knee_deg).index(0.0)] for c in curves])
        th.attrs["threshold"] = ("passive hip flexion moment equal to the hanging limb's weight moment "
                                 "(modified Thomas test; simpipe.analysis.thomas)")


def _model_size(model_path: Path) -> tuple[float, float]:
    from ..model import parameters as P
    from ..stages.osimutil import load_model

    model = load_model(model_path)
    state = model.initSystem()
    return float(model.getTotalMass(state)), float(P.SUBJECT.height)


def run_baselines(config_path: str | Path, progress: Progress | None = None,
                  n_workers: int | None = None, analyse: bool = True) -> BaselinesResult:
    """Solve (or resume) the baseline family of a study and analyse it.

    Parameters
    ----------
    config_path : str or Path
        The study file; its ``baselines`` block (defaults when absent), its
        ``sweep``, ``stages`` and ``cluster``.
    progress : callable, optional
    n_workers : int, optional
        Override the config's number of local workers.
    analyse : bool
        Also run the derived analysis study (step 2 of the module notes).

    Returns
    -------
    BaselinesResult
    """
    start = time.perf_counter()
    study, _ = load_study(config_path)
    spec = study.baselines or BaselinesSpec()
    if study.model.path is not None:
        raise ConfigError("baselines: simulated baselines need simpipe's built-in model (model.builtin); "
                          f"{study.model.path} has no foot-ground contact model simpipe knows")
    model_path = builtin_model_path(study.model.builtin, Path(study.output))
    folder = baselines_folder(study)
    folder.mkdir(parents=True, exist_ok=True)
    muscles = _muscles_of(study, model_path)
    variants = sweep_points(study.sweep, model_path, muscles)
    plan = family_plan(family_points(variants, spec), spec, model_path, muscles, folder)
    cluster = study.cluster if n_workers is None else study.cluster.model_copy(update={"n_workers": n_workers})
    client_factory = functools.partial(make_client, cluster, folder / "slurm")
    outcome = run_plan(plan, TaskCache(folder / "cache"), client_factory, cluster.retries, progress)
    thomas = thomas_by_variant(plan, outcome)
    rows = family_rows(plan, outcome, thomas)
    write_csv(rows, folder / "baselines.csv", CSV_COLUMNS)
    analysis = None
    if analyse and outcome.values:
        mass, height = _model_size(model_path)
        config = analysis_config(study, plan, outcome, folder, mass, height)
        derived = folder / "analysis.yaml"
        derived.write_text(yaml.safe_dump(config, sort_keys=False))
        analysis = run_study(derived, progress, n_workers)
        store_family(analysis.results_path, rows, thomas)
    log.info("baselines: %d solved now, %d cached, %d failed", len(outcome.computed), len(outcome.cached),
             len(outcome.failed))
    return BaselinesResult(folder, plan, outcome, analysis, rows, time.perf_counter() - start)


__all__ = ["run_baselines", "BaselinesResult", "analysis_config", "family_rows", "STAGE"]
