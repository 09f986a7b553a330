"""Write C3D files from simpipe markers and GRF (test helper, ezc3d).

The inverse of :mod:`simpipe.io.c3d`: markers and per-side GRF in OpenSim's
frame go into a lab frame (``p_lab = R.T @ p_opensim``) and, per plate, into
the six channels a TYPE 2 plate (force and moment about its sensor) or a
TYPE 4 plate (uncalibrated signals and a calibration matrix) records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simpipe.data import Markers, Table

UNITS = {"mm": 1e3, "m": 1.0}


@dataclass
class PlateSpec:
    """One plate: where it is (OpenSim frame, m), how it is built and how it records.

    Attributes
    ----------
    centre : (x, z) in OpenSim's ground (the surface is at y = 0)
    size : (along plate x, along plate y) in m
    yaw_deg : rotation of the plate axes about the vertical
    kind : 2 or 4
    depth : sensor depth below the surface (m), and its (x, y) offsets
    origin_sign : +1 writes ORIGIN z positive (AMTI style), -1 negative
    on_plate : True records the force on the plate (minus the GRF), False the GRF
    """

    centre: tuple[float, float]
    size: tuple[float, float] = (0.6, 0.4)
    yaw_deg: float = 0.0
    kind: int = 2
    depth: tuple[float, float, float] = (0.002, -0.001, 0.04)
    origin_sign: int = 1
    on_plate: bool = True


def plate_axes(spec: PlateSpec, rot: np.ndarray) -> np.ndarray:
    """Lab-frame columns x, y, z of the plate (z down)."""
    th = math.radians(spec.yaw_deg)
    up = rot.T @ np.array([0.0, 1.0, 0.0])
    fwd = rot.T @ np.array([math.cos(th), 0.0, math.sin(th)])
    x = fwd
    z = -up
    y = np.cross(z, x)
    return np.column_stack([x, y, z])


def plate_corners(spec: PlateSpec, rot: np.ndarray) -> np.ndarray:
    """(4, 3) lab corners in C3D order (quadrants +x+y, -x+y, -x-y, +x-y)."""
    axes = plate_axes(spec, rot)
    centre = rot.T @ np.array([spec.centre[0], 0.0, spec.centre[1]])
    a, b = spec.size[0] / 2, spec.size[1] / 2
    return np.array([centre + axes @ np.array([sx * a, sy * b, 0.0])
                     for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))])


def _side_wrench(grf: Table, side: str):
    f = np.column_stack([grf.column(f"{side}_ground_force_v{a}") for a in "xyz"])
    p = np.column_stack([grf.column(f"{side}_ground_force_p{a}") for a in "xyz"])
    t = np.column_stack([grf.column(f"{side}_ground_torque_{a}") for a in "xyz"])
    return f, p, t


def plate_channels(grf: Table, spec: PlateSpec, rot: np.ndarray, moment_scale: float,
                   cal: np.ndarray | None) -> np.ndarray:
    """(n, 6) channel values of one plate: the loads of whichever foot stands inside it."""
    axes = plate_axes(spec, rot)
    corners = plate_corners(spec, rot)
    centre = corners.mean(axis=0)
    d = np.asarray(spec.depth)
    out = np.zeros((len(grf.time), 6))
    for side in ("r", "l"):
        f_os, p_os, t_os = _side_wrench(grf, side)
        p_lab = p_os @ rot
        c = (p_lab - centre) @ axes
        inside = (np.abs(c[:, 0]) <= spec.size[0] / 2) & (np.abs(c[:, 1]) <= spec.size[1] / 2) & (f_os[:, 1] > 0)
        sign = -1.0 if spec.on_plate else 1.0
        f = sign * (f_os @ rot) @ axes
        t = sign * (t_os @ rot) @ axes
        m_c = np.cross(c, f) + t
        m_o = m_c - np.cross(d, f)
        out[inside] += np.column_stack([f, m_o * moment_scale])[inside]
    if cal is not None:
        out = out @ np.linalg.inv(cal).T
    return out


def _analog_grid(grf: Table, time: np.ndarray, ratio: int) -> Table:
    """GRF at the analog samples of the marker frames (held at the ends)."""
    rate = ratio / float(np.median(np.diff(time)))
    t = time[0] + np.arange(len(time) * ratio) / rate
    values = np.column_stack([np.interp(t, grf.time, col) for col in grf.values.T])
    return Table(t, list(grf.labels), values)


def write_c3d(path: str | Path, markers: Markers, grf: Table | None, rot: np.ndarray,
              plates: list[PlateSpec] = (), units: str = "mm", ratio: int = 5,
              moment_unit: str = "Nmm", seed: int = 0, extra_points: dict | None = None) -> Path:
    """Write a C3D file with these markers (and plates recording this GRF).

    Parameters
    ----------
    path : str or Path
    markers : Markers
        OpenSim frame, metres.
    grf : Table or None
        simpipe GRF columns (OpenSim frame); None writes no plates.
    rot : ndarray (3, 3)
        Lab-to-OpenSim rotation (p_os = rot @ p_lab).
    plates : list of PlateSpec
    units : {'mm', 'm'}
        POINT:UNITS (also the unit of CORNERS and ORIGIN).
    ratio : int
        Analog samples per marker frame.
    moment_unit : str
        ANALOG:UNITS of TYPE 2 moment channels ('Nmm' or 'Nm').
    extra_points : dict, optional
        POINT group parameters to add (e.g. ``{'ANGLES': ['LKneeAngles']}``).
    """
    import ezc3d

    scale = UNITS[units]
    c = ezc3d.c3d()
    rate = 1.0 / float(np.median(np.diff(markers.time)))
    c["parameters"]["POINT"]["RATE"]["value"] = [rate]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(markers.names)
    c["parameters"]["POINT"]["UNITS"]["value"] = [units]
    for key, value in (extra_points or {}).items():
        c.add_parameter("POINT", key, value)
    lab = markers.xyz @ rot * scale
    pts = np.ones((4, len(markers.names), len(markers.time)))
    pts[:3] = np.transpose(lab, (2, 1, 0))
    c["data"]["points"] = pts
    if grf is not None and plates:
        _add_plates(c, markers, grf, rot, plates, scale, ratio, moment_unit, seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c.write(str(path))
    return path


def _add_plates(c, markers, grf, rot, plates, scale, ratio, moment_unit, seed) -> None:
    on_grid = _analog_grid(grf, markers.time, ratio)
    rng = np.random.default_rng(seed)
    chans, labels, units, cals = [], [], [], []
    for k, spec in enumerate(plates):
        cal = None
        if spec.kind == 4:
            cal = np.diag([500.0, 500.0, 1000.0, 800.0, 700.0, 400.0]) * (1 + 0.05 * rng.standard_normal((6, 6)))
        m_scale = scale if spec.kind == 4 else (1e3 if moment_unit == "Nmm" else 1.0)
        chans.append(plate_channels(on_grid, spec, rot, m_scale, cal))
        labels += [f"{n}{k + 1}" for n in ("Fx", "Fy", "Fz", "Mx", "My", "Mz")]
        units += ["V"] * 6 if spec.kind == 4 else ["N"] * 3 + [moment_unit] * 3
        cals.append(cal if cal is not None else np.eye(6))
    analogs = np.column_stack(chans)
    c["parameters"]["ANALOG"]["RATE"]["value"] = [rate_of(markers) * ratio]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(labels)
    c["parameters"]["ANALOG"]["UNITS"]["value"] = tuple(units)
    c["data"]["analogs"] = analogs.T[None, :, :]
    n = len(plates)
    corners = np.stack([plate_corners(s, rot).T * scale for s in plates], axis=2)
    origins = np.stack([np.asarray(s.depth) * s.origin_sign * scale for s in plates], axis=1)
    c.add_parameter("FORCE_PLATFORM", "USED", [n])
    c.add_parameter("FORCE_PLATFORM", "TYPE", [s.kind for s in plates])
    c.add_parameter("FORCE_PLATFORM", "ZERO", [1, 0])
    c.add_parameter("FORCE_PLATFORM", "CORNERS", corners)
    c.add_parameter("FORCE_PLATFORM", "ORIGIN", origins)
    c.add_parameter("FORCE_PLATFORM", "CHANNEL", np.arange(1.0, 6 * n + 1).reshape(n, 6).T)
    if any(s.kind == 4 for s in plates):
        c.add_parameter("FORCE_PLATFORM", "CAL_MATRIX", np.stack(cals, axis=2))


def rate_of(markers: Markers) -> float:
    return 1.0 / float(np.median(np.diff(markers.time)))
