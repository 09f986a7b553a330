"""The study's task graph: which tasks exist, what each depends on, its key.

IK and ID depend only on the (scaled) model and the trial, so they appear once
per trial however many model variants the sweep has; tasks that depend on the
muscle properties (``passive``) appear once per trial and variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..config import Study
from ..io.hashing import file_sha256, hash_object
from ..model.groups import model_muscle_names, resolve_groups
from .variants import VariantPoint, sweep_points


@dataclass
class Task:
    """One unit of work.

    Attributes
    ----------
    stage : str
    key : str
        Hash of everything the output depends on (cache key).
    label : str
        Human-readable ``stage:subject/trial[/variant]``.
    kwargs : dict
        Plain inputs of the task function.
    deps : dict
        Keyword -> (task key, field of that task's output or None for all of it).
    where : dict
        subject, trial, variant identifiers for storing the output.
    """

    stage: str
    key: str
    label: str
    kwargs: dict
    deps: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)


@dataclass
class Plan:
    """All tasks of a study in dependency order, plus what the store needs."""

    tasks: list[Task]
    variants: list[VariantPoint]
    input_hashes: dict[str, str]
    sweep_muscles: list[str]

    def by_stage(self, stage: str) -> list[Task]:
        return [t for t in self.tasks if t.stage == stage]


class _Builder:
    def __init__(self, study: Study, model_path: Path, out: Path):
        self.study, self.model_path, self.out = study, Path(model_path), Path(out)
        self.tasks: list[Task] = []
        self.hashes: dict[str, str] = {}

    def file_hash(self, path) -> str:
        path = str(path)
        if path not in self.hashes:
            self.hashes[path] = file_sha256(path)
        return self.hashes[path]

    def add(self, stage: str, label: str, kwargs: dict, files: dict, deps: dict, where: dict) -> Task:
        key = hash_object({"stage": stage, "simpipe": __version__, "kwargs": kwargs,
                           "files": {k: self.file_hash(v) for k, v in files.items()},
                           "deps": deps})[:24]
        kwargs = dict(kwargs, **{k: str(v) for k, v in files.items()})
        if stage in ("scale", "variant", "ik", "id", "muscles", "iaa"):
            kwargs["work_dir"] = str(self.out / "work" / stage / key)
        task = Task(stage, key, label, kwargs, deps, where)
        self.tasks.append(task)
        return task


def _muscles_of(study: Study, model_path: Path) -> list[str]:
    names = model_muscle_names(model_path)
    groups = study.groups
    resolved = resolve_groups(names, groups)
    selected: list[str] = []
    for item in study.sweep.muscles:
        pats = resolved[item] if item in groups else resolve_groups(names, {"sweep.muscles": [item]})["sweep.muscles"]
        selected += [m for m in pats if m not in selected]
    return selected


def _setups(study: Study) -> tuple[dict, dict, dict]:
    """IK weights, scale measurements and placement weights: the setup XML files' updated by the config's."""
    from ..io.setup_xml import read_ik_setup, read_scale_setup

    ik = dict(read_ik_setup(study.ik.setup)) if study.ik.setup else {}
    ik.update(study.ik.marker_weights)
    measurements, weights = read_scale_setup(study.scale.setup) if study.scale.setup else ({}, {})
    if study.scale.measurements is not None or not study.scale.setup:
        measurements = dict(measurements, **study.measurements)
    weights = dict(weights, **study.scale.marker_weights)
    return ik, {k: [tuple(p) for p in v] for k, v in measurements.items()}, weights


def _check_mapping(study: Study, model_path: Path, measurements: dict) -> None:
    """Every coordinate, body and marker the config names must exist in the model (one-line ConfigError)."""
    from ..errors import ConfigError
    from ..stages.osimutil import load_model

    model = load_model(model_path)
    sets = {"coordinate": model.getCoordinateSet(), "body": model.getBodySet(), "marker": model.getMarkerSet()}
    have = {k: [v.get(i).getName() for i in range(v.getSize())] for k, v in sets.items()}
    named = [(f"joints.{j}.{s}", "coordinate", getattr(spec, s)) for j, spec in study.joints.items() for s in "rl"]
    named += [(f"feet.{s}", "body", getattr(study.feet, s)) for s in "rl"]
    named += [(f"ik.marker_weights.{m}", "marker", m) for m in study.ik.marker_weights]
    named += [(f"scale.measurements.{b}", "body", b) for b in (measurements if "scale" in study.stages else {})]
    for key, kind, name in named:
        if name not in have[kind]:
            raise ConfigError(f"{model_path}: key '{key}' names {kind} {name!r}, which the model lacks; "
                              f"its {kind}s are {have[kind]}")


def _c3d_options(study: Study, path: Path, **extra) -> dict:
    """``{'c3d': options}`` for a .c3d input file, else nothing (the task reads a .trc/.mot)."""
    if Path(path).suffix.lower() != ".c3d":
        return {}
    return {"c3d": dict(study.c3d.model_dump(), **extra)}


def build_plan(study: Study, model_path: Path) -> Plan:
    """Turn a validated study into its task graph.

    Parameters
    ----------
    study : Study
    model_path : Path
        The generic model the study starts from.

    Returns
    -------
    Plan
    """
    b = _Builder(study, model_path, study.output)
    sweep_muscles = _muscles_of(study, model_path)
    ik_weights, measurements, scale_weights = _setups(study)
    _check_mapping(study, model_path, measurements)
    variants = sweep_points(study.sweep, model_path, sweep_muscles)
    joints = {j: {"r": s.r, "l": s.l, "extension_sign": s.extension_sign} for j, s in study.joints.items()}
    feet = {"r": study.feet.r, "l": study.feet.l}
    stages = study.stages
    for subj in study.subjects:
        if "scale" in stages:
            scale = b.add("scale", f"scale:{subj.id}",
                          {"mass_kg": subj.mass_kg, "height_m": subj.height_m,
                           "measurements": measurements, "marker_weights": scale_weights,
                           "ik_weights": ik_weights, "max_gap_frames": study.gaps.max_frames,
                           **_c3d_options(study, subj.static)},
                          {"generic_model": model_path, "static_trc": subj.static}, {},
                          {"subject": subj.id})
            model_dep = {"model_path": (scale.key, "model_path")}
            model_files = {}
        else:
            model_dep, model_files = {}, {"model_path": model_path}
        variant_deps = {}
        if "passive" in stages or "muscles" in stages:
            for v in variants:
                vt = b.add("variant", f"variant:{subj.id}/{v.name}",
                           {"muscles": sweep_muscles, "prop": v.property, "value": v.value},
                           model_files, model_dep, {"subject": subj.id, "variant": v.name})
                variant_deps[v.name] = {"model_path": (vt.key, "model_path")}
        for trial in subj.trials:
            where = {"subject": subj.id, "trial": trial.id}
            if "ik" not in stages:
                continue
            time_range = list(trial.time_range) if trial.time_range else None
            ik = b.add("ik", f"ik:{subj.id}/{trial.id}",
                       {"weights": ik_weights, "accuracy": study.ik.accuracy,
                        "markers_hz": study.filter.markers_hz, "time_range": time_range,
                        "max_gap_frames": study.gaps.max_frames, "filter_order": study.filter.order,
                        **_c3d_options(study, trial.c3d or trial.markers)},
                       dict(model_files, trc=trial.c3d or trial.markers), model_dep, where)
            if "id" in stages:
                idt = b.add("id", f"id:{subj.id}/{trial.id}",
                            {"feet": feet, "coordinates_hz": study.filter.coordinates_hz,
                             "grf_hz": study.filter.grf_hz, "filter_order": study.filter.order,
                             "max_gap_frames": study.gaps.max_frames,
                             **_c3d_options(study, trial.c3d or trial.grf, time_range=time_range)},
                            dict(model_files, grf_mot=trial.c3d or trial.grf,
                                 **({"external_loads": trial.external_loads} if trial.external_loads else {})),
                            dict(model_dep, ik=(ik.key, None)), where)
            if "joint_work" in stages:
                b.add("joint_work", f"joint_work:{subj.id}/{trial.id}",
                      {"joints": joints, "threshold_n": study.analysis.stance_threshold_n},
                      {}, {"id_result": (idt.key, None)}, where)
            for v in variants if "passive" in stages else []:
                b.add("passive", f"passive:{subj.id}/{trial.id}/{v.name}", {"muscles": sweep_muscles},
                      {}, dict(variant_deps[v.name], ik=(ik.key, None)), dict(where, variant=v.name))
            if "muscles" in stages:
                _add_muscle_tasks(b, study, where, variants, variant_deps, idt.key, feet)
    return Plan(b.tasks, variants, dict(b.hashes), sweep_muscles)


def _add_muscle_tasks(b: _Builder, study: Study, where: dict, variants, variant_deps: dict,
                      id_key: str, feet: dict) -> None:
    """Muscle forces and induced accelerations, once per trial x variant.

    Both read the GRF file the ID task used (``grf_mot`` of its output, which
    is the converted file for C3D trials).
    """
    grf = {"grf_mot": (id_key, "grf_mot")}
    for v in variants:
        at = dict(where, variant=v.name)
        name = f"{where['subject']}/{where['trial']}/{v.name}"
        mt = b.add("muscles", f"muscles:{name}",
                   {"feet": feet, "grf_hz": study.filter.grf_hz, "options": study.muscles.solver_options()},
                   {}, dict(variant_deps[v.name], id_result=(id_key, None), **grf), at)
        if "iaa" in study.stages:
            b.add("iaa", f"iaa:{name}",
                  {"feet": feet, "grf_hz": study.filter.grf_hz, "groups": study.groups,
                   "threshold_n": study.analysis.stance_threshold_n,
                   "foot_flat_rad_s": study.muscles.foot_flat_rad_s, "label": name},
                  {}, dict(variant_deps[v.name], id_result=(id_key, None), muscles_result=(mt.key, None),
                           **grf), at)
