"""Task functions: what one Dask worker process runs for one unit of work.

Every task takes plain, picklable inputs (paths, numbers, dicts of arrays from
the tasks it depends on), builds its own OpenSim objects, writes files only
into the task's own work folder, and returns a dict of plain data.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from pathlib import Path

import numpy as np

from .. import __version__
from ..analysis.phases import stance_phases
from ..analysis.work import joint_work
from ..baselines.family import baseline_task
from ..data import Table
from ..io.c3d import convert_c3d
from ..io.filtering import lowpass, resample
from ..io.grf import check_grf_covers, read_grf, resample_grf, write_grf
from ..io.sto import write_sto
from ..io.trc import read_trc
from ..stages.id import differentiate, inverse_dynamics
from ..stages.ik import inverse_kinematics
from ..stages.ik_parallel import ik_chunk_task, ik_join_task, load_trial_markers
from ..stages.passive import passive_fiber_forces
from ..stages.scale import scale_model
from .cache import TaskCache
from .muscle_tasks import TASKS as MUSCLE_TASKS
from .muscle_tasks import filtered_grf

log = logging.getLogger(__name__)


def _c3d_files(path: str, work: Path, c3d: dict, max_gap_frames: int, forces: bool,
               model_path: str | None = None, feet: dict | None = None):
    """Convert a .c3d trial into ``work/c3d`` (markers.trc, and grf.mot when ``forces``)."""
    feet_markers = c3d.get("foot_markers")
    if forces and not feet_markers:
        from ..stages.modelinfo import foot_marker_names

        feet_markers = foot_marker_names(model_path, feet)
    return convert_c3d(path, work / "c3d", c3d["lab_to_opensim"], feet_markers, c3d["force_threshold_n"],
                       max_gap_frames, c3d.get("time_range"), forces=forces)


def scale_task(generic_model: str, static_trc: str, mass_kg: float, height_m: float,
               measurements: dict, marker_weights: dict, work_dir: str, ik_weights: dict,
               c3d: dict | None = None, max_gap_frames: int = 10) -> dict:
    """Scale the generic model to one subject and check the static fit."""
    work = Path(work_dir)
    if c3d is not None:
        static_trc = str(_c3d_files(static_trc, work, c3d, max_gap_frames, forces=False).trc)
    static = read_trc(static_trc, max_gap_frames)
    result = scale_model(generic_model, static_trc, static, mass_kg, height_m, measurements,
                         work / "scaled.osim", work, marker_weights)
    fit = inverse_kinematics(result.model_path, static, ik_weights, source=static_trc)
    return {"model_path": str(result.model_path), "segments": result.segments,
            "factors": result.factors, "static_rms_m": float(np.mean(fit.rms_error)),
            "static_max_m": float(np.max(fit.max_error)), "markers": fit.markers}


def variant_task(model_path: str, muscles: list[str], prop: str, value: float, work_dir: str) -> dict:
    """Write one model variant with the swept property set on the muscles."""
    from ..model.variants import write_variant

    out = write_variant(model_path, Path(work_dir) / "variant.osim", muscles, prop, value)
    return {"model_path": str(out), "property": prop, "value": float(value), "muscles": list(muscles)}


def ik_task(model_path: str, trc: str, weights: dict, accuracy: float, markers_hz: float | None,
            time_range, work_dir: str, c3d: dict | None = None, max_gap_frames: int = 10,
            filter_order: int = 4) -> dict:
    """Inverse kinematics of one trial (a .trc, or a .c3d when ``c3d`` holds its options); writes ``ik.mot``."""
    if c3d is not None:
        trc = str(_c3d_files(trc, Path(work_dir), dict(c3d, time_range=time_range), max_gap_frames,
                             forces=False).trc)
    markers = load_trial_markers(trc, time_range, markers_hz, max_gap_frames, filter_order)
    res = inverse_kinematics(model_path, markers, weights, accuracy, source=trc)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    rotational = [not c.endswith(("_tx", "_ty", "_tz")) for c in res.coordinates]
    deg = np.where(rotational, np.degrees(res.q), res.q)
    write_sto(Table(res.time, res.coordinates, deg, in_degrees=True), work / "ik.mot", kind="mot")
    return {"time": res.time, "coordinates": res.coordinates, "q": res.q, "markers": res.markers,
            "marker_error": res.marker_error, "mot": str(work / "ik.mot"), "trc": str(trc)}


def ik_stage(join: bool = False, **kwargs) -> dict:
    """Stage ``ik`` of one trial: :func:`ik_task`, or with ``join`` the join of its chunks.

    A trial that the plan cut into frame chunks (``ik.chunk_frames``) has
    ``ik_chunk`` tasks (:func:`~simpipe.stages.ik_parallel.ik_chunk_task`)
    and one ``ik`` task that joins their outputs
    (:func:`~simpipe.stages.ik_parallel.ik_join_task`) into what
    :func:`ik_task` returns for the whole trial, so every later task, the
    summary and the results file read one ``ik`` output per trial either way.
    """
    return ik_join_task(**kwargs) if join else ik_task(**kwargs)


def _grf_at(grf: Table, time: np.ndarray, sides) -> dict:
    out = {}
    for side in sides:
        cols = [f"{side}_ground_force_v{a}" for a in "xyz"]
        vals = np.column_stack([grf.column(c) for c in cols])
        out[side] = resample(grf.time, vals, time)
    return out


def _uniform(grf: Table, path: str, sides) -> Table:
    """The GRF on a uniform grid over its whole time span (about its median step), if it is not on one."""
    steps = np.diff(grf.time)
    step = float(np.median(steps)) if len(steps) else 0.0
    if len(steps) == 0 or np.ptp(steps) <= 1e-3 * step:
        return grf
    n = int(np.ceil((grf.time[-1] - grf.time[0]) / step))
    time = np.linspace(grf.time[0], grf.time[-1], n + 1)
    log.info("%s: GRF sampled unevenly (steps %.4g-%.4g s); resampled at %.6g Hz before filtering",
             path, steps.min(), steps.max(), n / (grf.time[-1] - grf.time[0]))
    return resample_grf(grf, time, tuple(sides))


def id_task(model_path: str, ik: dict, grf_mot: str, feet: dict, coordinates_hz: float | None,
            grf_hz: float | None, work_dir: str, c3d: dict | None = None, filter_order: int = 4,
            max_gap_frames: int = 10, external_loads: str | None = None) -> dict:
    """Inverse dynamics of one trial with its measured GRF.

    The GRF is a .mot in simpipe's columns, a .mot read through the lab's
    ``external_loads`` XML, or a .c3d file when ``c3d`` holds its options.
    """
    from ..stages.modelinfo import root_coordinates
    from ..io.setup_xml import convert_external_loads

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    contacts = []
    if c3d is not None:
        conv = _c3d_files(grf_mot, work, c3d, max_gap_frames, True, model_path, feet)
        grf_mot = str(conv.grf)
        contacts = [[c.plate, c.side, c.start, c.end, c.distance_m] for c in conv.contacts]
    if external_loads is not None:
        grf_mot = str(convert_external_loads(external_loads, grf_mot, feet, work / "grf.mot"))
    grf = read_grf(grf_mot, sides=tuple(feet))
    time = ik["time"]
    check_grf_covers(grf, float(time[0]), float(time[-1]), grf_mot)
    grf_used = grf_mot
    if grf_hz is not None:
        grf = _uniform(grf, grf_mot, feet)
        # forces filtered inside contact only, CoP held (see filtered_grf)
        filtered = filtered_grf(grf, feet, grf_hz)
        grf_used = str(work / "grf_filtered.mot")
        write_grf(filtered, grf_used)
        grf = filtered
    q = ik["q"]
    if coordinates_hz is not None:
        q = lowpass(q, 1.0 / float(np.median(np.diff(time))), coordinates_hz, order=filter_order)
    kin = differentiate(time, q, ik["coordinates"], None)
    res = inverse_dynamics(model_path, kin, grf_used, feet)
    return {"time": time, "coordinates": res.coordinates, "q": kin.q, "u": kin.u, "udot": kin.udot,
            "tau": res.tau, "grf": _grf_at(grf, time, feet), "grf_mot": str(Path(grf_mot).absolute()),
            "grf_mot_used": str(grf_used),
            "residual_coordinates": root_coordinates(model_path), "contacts": contacts}


def joint_work_task(id_result: dict, joints: dict, threshold_n: float) -> dict:
    """Joint-level propulsion metrics (method ``joint_work``) of one trial."""
    time = id_result["time"]
    coords = id_result["coordinates"]
    grf = id_result["grf"]
    sides = list(grf)
    stances = [s for side in sides for s in stance_phases(time, grf[side][:, 1], side, threshold_n)]
    pelvis_speed = _progression_sign(id_result)
    moments = {j: {s: id_result["tau"][:, coords.index(spec[s])] for s in sides} for j, spec in joints.items()}
    speeds = {j: {s: id_result["u"][:, coords.index(spec[s])] for s in sides} for j, spec in joints.items()}
    signs = {j: spec["extension_sign"] for j, spec in joints.items()}
    fore_aft = {s: grf[s][:, 0] for s in sides}
    jw = joint_work(time, moments, speeds, signs, fore_aft, stances, pelvis_speed)
    return {"joints": jw.joints, "work_j": jw.work_j, "n_stances": jw.n_stances,
            "shares": {j: jw.share(j) for j in jw.joints},
            "stances": [(s.side, s.start, s.end, s.complete) for s in stances]}


def _progression_sign(id_result: dict) -> float:
    """+1 if the subject travels along +x (from the first translational x coordinate)."""
    coords = id_result["coordinates"]
    tx = [i for i, c in enumerate(coords) if c.endswith("_tx")]
    if not tx:
        return 1.0
    return 1.0 if np.mean(id_result["u"][:, tx[0]]) >= 0 else -1.0


def passive_task(model_path: str, ik: dict, muscles: list[str]) -> dict:
    """Passive fiber force of the swept muscles over the trial's kinematics."""
    forces = passive_fiber_forces(model_path, ik["coordinates"], ik["q"], muscles)
    return {"muscles": list(muscles), "time": ik["time"], "force_n": forces,
            "peak_n": forces.max(axis=0)}


TASKS = {"scale": scale_task, "variant": variant_task, "ik": ik_stage, "ik_chunk": ik_chunk_task,
         "id": id_task, "joint_work": joint_work_task, "passive": passive_task, **MUSCLE_TASKS,
         "baseline": baseline_task}


def execute(stage: str, key: str, cache_root: str, label: str, kwargs: dict) -> dict:
    """Run one task on a worker and store its output in the cache.

    A finished task's output is in the cache before this returns, so a
    killed client loses nothing that finished. Its ``_meta`` records the
    task's wall seconds, its start and end as Unix times (``started_unix``,
    ``ended_unix``: comparable across the worker processes of one machine)
    and the id of the process that ran it (``pid``).
    A failure is recorded with its message and re-raised (Dask retries it or
    reports it).
    """
    cache = TaskCache(cache_root)
    if cache.has(stage, key):
        return cache.load(stage, key)
    started_unix, start = time.time(), time.perf_counter()
    try:
        value = TASKS[stage](**kwargs)
    except Exception as exc:
        cache.record_failure(stage, key, label, f"{type(exc).__name__}: {exc}")
        log.debug("task %s failed:\n%s", label, traceback.format_exc())
        raise
    seconds = time.perf_counter() - start
    value["_meta"] = {"stage": stage, "key": key, "label": label, "simpipe": __version__,
                      "seconds": seconds, "started_unix": started_unix, "ended_unix": started_unix + seconds,
                      "pid": os.getpid()}
    cache.save(stage, key, value)
    return value
