"""Scaling: a generic model + a static trial -> a subject-specific model.

Drives OpenSim's ``ScaleTool`` (measurement-based scaling, then marker
placement on the static pose) entirely from Python objects with absolute
paths, so nothing depends on the working directory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Markers
from ..errors import InputError, StageError
from .osimutil import load_model, opensim

log = logging.getLogger(__name__)


@dataclass
class ScaleResult:
    """What scaling produced.

    Attributes
    ----------
    model_path : Path
        The scaled model (markers placed on the static pose).
    segments : list of str
    factors : ndarray, shape (n_segments, 3)
        Scale factors applied per segment (x, y, z).
    """

    model_path: Path
    segments: list[str]
    factors: np.ndarray


def _measurement(name: str, pairs: list[tuple[str, str]]):
    osim = opensim()
    meas = osim.Measurement()
    meas.setName(name)
    for a, b in pairs:
        meas.getMarkerPairSet().cloneAndAppend(osim.MarkerPair(a, b))
    body_scale = osim.BodyScale()
    body_scale.setName(name)
    axes = osim.ArrayStr()
    for axis in ("X", "Y", "Z"):
        axes.append(axis)
    body_scale.setAxisNames(axes)
    meas.getBodyScaleSet().cloneAndAppend(body_scale)
    return meas


def check_static_markers(static: Markers, measurements: dict[str, list[tuple[str, str]]],
                         source: str | Path) -> None:
    """Every marker of every scaling pair must be in the static trial."""
    needed = sorted({m for pairs in measurements.values() for pair in pairs for m in pair})
    missing = [m for m in needed if m not in static.names]
    if missing:
        raise InputError(source, f"static trial lacks scaling marker(s) {missing}; "
                                 "add them or change 'scale.measurements' in the config")


def _time_range(static: Markers):
    osim = opensim()
    rng = osim.ArrayDouble()
    rng.append(float(static.time[0]))
    rng.append(float(static.time[-1]))
    return rng


def _configure_tool(generic: Path, static_trc: Path, static: Markers, mass_kg: float, height_m: float,
                    measurements: dict, weights: dict[str, float], out_model: Path, work: Path):
    osim = opensim()
    tool = osim.ScaleTool()
    tool.setName(out_model.stem)
    tool.setSubjectMass(float(mass_kg))
    tool.setSubjectHeight(float(height_m) * 1000.0)
    tool.getGenericModelMaker().setModelFileName(str(generic))
    scaler = tool.getModelScaler()
    scaler.setApply(True)
    order = osim.ArrayStr()
    order.append("measurements")
    scaler.setScalingOrder(order)
    for name, pairs in measurements.items():
        scaler.addMeasurement(_measurement(name, pairs))
    scaler.setMarkerFileName(str(static_trc))
    scaler.setTimeRange(_time_range(static))
    scaler.setPreserveMassDist(True)
    scaler.setOutputModelFileName(str(work / "scaled_only.osim"))
    scaler.setOutputScaleFileName(str(work / "scale_factors.xml"))
    placer = tool.getMarkerPlacer()
    placer.setApply(True)
    placer.setStaticPoseFileName(str(static_trc))
    placer.setTimeRange(_time_range(static))
    placer.setOutputModelFileName(str(out_model))
    placer.setMoveModelMarkers(True)
    tasks = placer.getIKTaskSet()
    for name in static.names:
        task = osim.IKMarkerTask()
        task.setName(name)
        task.setWeight(float(weights.get(name, 1.0)))
        task.setApply(weights.get(name, 1.0) > 0)
        tasks.cloneAndAppend(task)
    return tool


def read_scale_factors(path: Path) -> tuple[list[str], np.ndarray]:
    """Segment names and (x, y, z) factors from an OpenSim ScaleSet file."""
    osim = opensim()
    sset = osim.ScaleSet(str(path))
    names, factors = [], []
    for i in range(sset.getSize()):
        sc = sset.get(i)
        names.append(sc.getSegmentName())
        f = sc.getScaleFactors()
        factors.append([f.get(0), f.get(1), f.get(2)])
    return names, np.array(factors)


def scale_model(generic_model: str | Path, static_trc: str | Path, static: Markers, mass_kg: float,
                height_m: float, measurements: dict[str, list[tuple[str, str]]],
                out_model: str | Path, work_dir: str | Path,
                marker_weights: dict[str, float] | None = None) -> ScaleResult:
    """Scale a generic model to a subject with OpenSim's ScaleTool.

    Parameters
    ----------
    generic_model : str or Path
        The unscaled model.
    static_trc : str or Path
        Static trial, read by OpenSim (it must be a valid .trc in the model's frame).
    static : Markers
        The same trial as read and checked by simpipe.
    mass_kg, height_m : float
        Subject anthropometrics; segment masses are scaled to ``mass_kg``
        preserving the generic mass distribution.
    measurements : dict
        Segment (body) name -> marker pairs; the factor is the mean ratio of
        experimental to model pair distances over the static trial.
    out_model : str or Path
        Where to write the scaled model.
    work_dir : str or Path
        Folder for the tool's intermediate files (scale factors).
    marker_weights : dict, optional
        Marker weights for marker placement (default 1).

    Returns
    -------
    ScaleResult
    """
    generic, out_model, work = Path(generic_model), Path(out_model), Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    out_model.parent.mkdir(parents=True, exist_ok=True)
    check_static_markers(static, measurements, static_trc)
    model = load_model(generic)
    bodies = model.getBodySet()
    unknown = [m for m in measurements if not bodies.contains(m)]
    if unknown:
        raise StageError(f"{generic}: scale measurement(s) name bodies the model lacks: {unknown}")
    tool = _configure_tool(generic, Path(static_trc), static, mass_kg, height_m, measurements,
                           dict(marker_weights or {}), out_model, work)
    ok = tool.run()
    if not ok or not out_model.is_file():
        raise StageError(f"ScaleTool failed for {static_trc} (model {generic})")
    segments, factors = read_scale_factors(work / "scale_factors.xml")
    keep = [i for i, s in enumerate(segments) if s in measurements]
    return ScaleResult(out_model, [segments[i] for i in keep], factors[keep])
