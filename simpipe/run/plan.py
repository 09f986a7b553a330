"""The study's task graph: which tasks exist, what each depends on, its key.

IK and ID depend only on the (scaled) model and the trial, so they appear once
per trial however many model variants the sweep has; tasks that depend on the
muscle properties (``passive``) appear once per trial and variant.

Two options change the shape of the graph, not its results: ``ik.chunk_frames``
cuts a long trial's IK into ``ik_chunk`` tasks joined by its ``ik`` task, and
``muscles.warm_start`` makes each MocoInverse solve but one per trial depend
on a neighbouring variant's solution (:func:`warm_start_order`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..config import Study
from ..errors import ConfigError, InputError
from ..io.hashing import file_sha256, hash_object
from ..model.groups import model_muscle_names, resolve_groups
from ..stages.ik_parallel import count_frames, plan_chunks
from .variants import VariantPoint, sweep_points

log = logging.getLogger(__name__)


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
    trial_variants: dict = field(default_factory=dict)

    def by_stage(self, stage: str) -> list[Task]:
        return [t for t in self.tasks if t.stage == stage]

    def variants_of(self, subject: str, trial: str) -> list[VariantPoint]:
        """The variants a trial is analysed with (all, unless its config restricts them)."""
        names = self.trial_variants.get((subject, trial))
        return list(self.variants) if names is None else [v for v in self.variants if v.name in names]


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
    restricted: dict[tuple[str, str], list[str]] = {}
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
            ik = _add_ik(b, study, trial, ik_weights, time_range, model_files, model_dep, where)
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
            trial_variants = _trial_variants(trial, variants, subj.id)
            restricted[(subj.id, trial.id)] = [v.name for v in trial_variants]
            for v in trial_variants if "passive" in stages else []:
                b.add("passive", f"passive:{subj.id}/{trial.id}/{v.name}", {"muscles": sweep_muscles},
                      {}, dict(variant_deps[v.name], ik=(ik.key, None)), dict(where, variant=v.name))
            if "muscles" in stages:
                _add_muscle_tasks(b, study, where, trial_variants, variant_deps, idt.key, feet)
    return Plan(b.tasks, variants, dict(b.hashes), sweep_muscles, restricted)


def _trial_variants(trial, variants: list[VariantPoint], subject: str) -> list[VariantPoint]:
    """The variants a trial is analysed with: its ``variants`` list, or all."""
    if trial.variants is None:
        return list(variants)
    names = [v.name for v in variants]
    unknown = [n for n in trial.variants if n not in names]
    if unknown:
        raise ConfigError(f"subjects.{subject}.trials.{trial.id}.variants: unknown variant(s) {unknown}; "
                          f"the sweep gives {names}")
    return [v for v in variants if v.name in trial.variants]


def _ik_chunks(study: Study, trial, time_range) -> list:
    """The frame chunks of a trial's IK, or ``[]`` to solve it in one task.

    One task when ``ik.chunk_frames`` is unset, the trial is a .c3d file
    (its markers exist only once a task has converted it), it has no more
    frames than a chunk, or it cannot be read here (its IK task then fails
    with the reader's message, as without chunking).
    """
    size = study.ik.chunk_frames
    if size is None or trial.c3d is not None:
        return []
    try:
        n_frames = count_frames(trial.markers, time_range, study.gaps.max_frames)
    except InputError as exc:
        log.info("IK of %s in one task: %s", trial.markers, exc)
        return []
    chunks = plan_chunks(n_frames, size)
    return chunks if len(chunks) > 1 else []


def _add_ik(b: _Builder, study: Study, trial, weights: dict, time_range, model_files: dict,
            model_dep: dict, where: dict) -> Task:
    """The trial's ``ik`` task: one solve, or the join of ``ik_chunk`` tasks.

    Either way the task of stage ``ik`` is the one later tasks depend on, and
    the one the summary, the status and the results file count once per
    trial; chunk tasks are stage ``ik_chunk``.
    """
    source = trial.c3d or trial.markers
    kwargs = {"weights": weights, "accuracy": study.ik.accuracy, "markers_hz": study.filter.markers_hz,
              "time_range": time_range, "max_gap_frames": study.gaps.max_frames,
              "filter_order": study.filter.order}
    label = f"{where['subject']}/{where['trial']}"
    chunks = _ik_chunks(study, trial, time_range)
    if not chunks:
        return b.add("ik", f"ik:{label}", dict(kwargs, **_c3d_options(study, source)),
                     dict(model_files, trc=source), model_dep, where)
    parts = {}
    for c in chunks:
        part = b.add("ik_chunk", f"ik_chunk:{label}/{c.index}",
                     dict(kwargs, index=c.index, start=c.start, stop=c.stop, lead=c.lead),
                     dict(model_files, trc=source), model_dep, dict(where, chunk=c.index))
        parts[f"chunk_{c.index}"] = (part.key, None)
    return b.add("ik", f"ik:{label}", {"join": True}, {"trc": source}, parts, where)


def warm_start_order(variants: list[VariantPoint]) -> list[tuple[VariantPoint, VariantPoint | None]]:
    """The order of a trial's MocoInverse solves when each starts from a neighbour's solution.

    Parameters
    ----------
    variants : list of VariantPoint

    Returns
    -------
    list of (VariantPoint, VariantPoint or None)
        Every variant once, each with the variant whose solution is its
        initial guess (None: Moco's default guess), every guess source
        listed before the variants that start from it.

    Notes
    -----
    The variants are ordered along the sweep axis (relative stiffness, or
    the swept value where that is not a stiffness). The middle one is solved
    from Moco's default guess; the others follow outward from it, each from
    its neighbour nearer the middle, so that every warm start comes from the
    closest solution there is. A trial's K solves then form two chains of
    about K/2 that run one after the other, against K side by side without
    warm starts: with fewer trials than workers the chains can take longer
    in wall time than the cold solves, with as many trials as workers or
    more they take less (the workers are busy either way and warm solves
    need fewer iterations). ``benchmarks/bench_muscles_warmstart.py``
    measures both: on the quickstart's trial and RF grid (simulated example)
    the warm solves took 0.83x the iterations of cold ones (a solve started
    from its own solution still takes 0.59x: IPOPT's barrier parameter
    restarts from its default); the quickstart's muscle stage on 2 workers
    takes about 0.81x the time (RESULTS.md).

    A warm-started task depends on its guess's task: if that task fails
    (raises), the variants after it on the chain are skipped, not solved
    cold. A guess that did not converge is not used (the task solves cold).
    """
    def axis(v: VariantPoint) -> float:
        return v.rf_stiffness if not math.isnan(v.rf_stiffness) else v.value

    ordered = sorted(variants, key=axis)
    root = (len(ordered) - 1) // 2
    out = [(ordered[root], None)]
    for step in range(1, len(ordered)):
        # the longer branch first: tasks start in plan order, and it is the critical path
        for i, source in ((root + step, root + step - 1), (root - step, root - step + 1)):
            if 0 <= i < len(ordered):
                out.append((ordered[i], ordered[source]))
    return out


def _add_muscle_tasks(b: _Builder, study: Study, where: dict, variants, variant_deps: dict,
                      id_key: str, feet: dict) -> None:
    """Muscle forces and induced accelerations, once per trial x variant.

    Both read the GRF file the ID task used (``grf_mot`` of its output, which
    is the converted file for C3D trials). With ``muscles.warm_start`` (and
    MocoInverse) a muscles task also depends on the muscles task whose
    solution is its initial guess (``warm_from``, see :func:`warm_start_order`).
    """
    grf = {"grf_mot": (id_key, "grf_mot")}
    warm = study.muscles.warm_start and study.muscles.method == "moco_inverse"
    order = warm_start_order(variants) if warm else [(v, None) for v in variants]
    solved: dict[str, str] = {}
    for v, source in order:
        at = dict(where, variant=v.name)
        name = f"{where['subject']}/{where['trial']}/{v.name}"
        guess = {} if source is None else {"warm_from": (solved[source.name], None)}
        mt = b.add("muscles", f"muscles:{name}",
                   {"feet": feet, "grf_hz": study.filter.grf_hz, "options": study.muscles.solver_options()},
                   {}, dict(variant_deps[v.name], id_result=(id_key, None), **grf, **guess), at)
        solved[v.name] = mt.key
        if "iaa" in study.stages:
            b.add("iaa", f"iaa:{name}",
                  {"feet": feet, "grf_hz": study.filter.grf_hz, "groups": study.groups,
                   "threshold_n": study.analysis.stance_threshold_n,
                   "foot_flat_rad_s": study.muscles.foot_flat_rad_s, "label": name},
                  {}, dict(variant_deps[v.name], id_result=(id_key, None), muscles_result=(mt.key, None),
                           **grf), at)
