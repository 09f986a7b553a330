"""Read C3D motion-capture files: markers and force plates -> simpipe's TRC and GRF .mot.

A C3D file (read with ezc3d) holds marker trajectories in the lab frame, in
the units of ``POINT:UNITS``, and the analog channels of the force plates
described by the ``FORCE_PLATFORM`` group. This module turns them into what
the rest of simpipe reads:

- markers in metres, in OpenSim's frame (y up), gaps checked and filled as
  for a .trc file (:func:`simpipe.io.trc.clean_markers`);
- per plate, the ground reaction force on the subject, its centre of
  pressure (CoP) on the plate surface and the free moment about the plate
  normal, in the lab frame;
- each loaded period of each plate given to the foot that stands on it, and
  the plates of each foot combined into simpipe's GRF columns
  ``{s}_ground_force_v[xyz]``, ``{s}_ground_force_p[xyz]``,
  ``{s}_ground_torque_[xyz]`` (see :mod:`simpipe.io.grf`).

Force plate conventions (C3D User Guide, C3D.org; the same as ezc3d's
``ForcePlatforms`` module and btk): the plate's axes come from its corners
(x from corner 2 to corner 1, y from corner 4 to corner 1, z = x cross y,
into the plate); ``ORIGIN`` is the sensor origin relative to the centre of
the plate surface, in the plate frame (its z, the depth of the sensor below
the surface, is stored with either sign by different vendors; simpipe takes
the sensor to lie below the surface); channels hold Fx, Fy, Fz, Mx, My, Mz
about the sensor origin (TYPE 2), or six signals that ``CAL_MATRIX`` turns
into them (TYPE 4). Whether a file stores the force on the plate or on the
subject also differs between systems: simpipe takes the sign that makes the
vertical force push the subject up, which holds for any foot on the ground.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Markers, Table
from ..errors import InputError
from .grf import grf_columns, write_grf
from .trc import UNIT_SCALE, clean_markers, write_trc

log = logging.getLogger(__name__)

#: Plate types simpipe reads (FORCE_PLATFORM:TYPE).
PLATE_TYPES = (2, 4)
#: Newtons per unit of a force channel, by its (lower-case) ANALOG:UNITS.
FORCE_UNITS = {"n": 1.0, "newton": 1.0, "newtons": 1.0, "kn": 1e3}
#: N m per unit of a moment channel, by its ANALOG:UNITS with spaces, dots and
#: asterisks removed (``N.mm`` -> ``nmm``).
TORQUE_UNITS = {"nmm": 1e-3, "nm": 1.0, "nmeters": 1.0, "nmetres": 1.0}
#: POINT groups whose labels are model outputs (angles, forces), not markers.
NON_MARKER_GROUPS = ("ANGLES", "FORCES", "MOMENTS", "POWERS", "SCALARS", "REACTIONS")
#: A loaded period goes to the foot with a marker within this horizontal distance of its CoP.
MAX_FOOT_DISTANCE_M = 0.3
#: Loaded periods shorter than this (s) are noise, not contacts.
MIN_CONTACT_S = 0.01
#: Zero offsets are measured only if the plate is unloaded for at least this fraction of the trial.
MIN_UNLOADED_FRACTION = 0.1
_AXES = {"x": 0, "y": 1, "z": 2}


@dataclass
class ForcePlate:
    """Geometry and channels of one force plate.

    Attributes
    ----------
    index : int
        1-based number of the plate in the file.
    kind : int
        ``FORCE_PLATFORM:TYPE``.
    corners : ndarray, shape (4, 3)
        Corners in the lab frame (m), in the file's order.
    origin : ndarray, shape (3,)
        From the centre of the surface to the sensor origin, plate frame (m);
        its z is >= 0 (the sensor lies below the surface).
    channels : list of int
        0-based analog channels of the six signals.
    cal_matrix : ndarray, shape (6, 6), or None
        Calibration matrix (TYPE 4): wrench = cal_matrix @ signals.
    """

    index: int
    kind: int
    corners: np.ndarray
    origin: np.ndarray
    channels: list[int]
    cal_matrix: np.ndarray | None = None

    @property
    def centre(self) -> np.ndarray:
        """Centre of the plate surface in the lab frame (m)."""
        return self.corners.mean(axis=0)

    @property
    def axes(self) -> np.ndarray:
        """Rotation from the plate frame to the lab frame (columns: plate x, y, z)."""
        x = self.corners[0] - self.corners[1]
        y = self.corners[0] - self.corners[3]
        z = np.cross(x, y)
        y = np.cross(z, x)
        return np.column_stack([v / np.linalg.norm(v) for v in (x, y, z)])


@dataclass
class PlateWrench:
    """What one plate measured, in one frame (lab, or OpenSim after :func:`to_opensim`).

    Attributes
    ----------
    plate : int
        1-based plate number.
    time : ndarray, shape (n,)
        Analog sample times (s).
    force : ndarray, shape (n, 3)
        Force (N).
    cop : ndarray, shape (n, 3)
        Centre of pressure on the plate surface (m); NaN where not loaded.
    free_moment : ndarray, shape (n, 3)
        Moment about the plate normal through the CoP (N m); 0 where not loaded.
    loaded : ndarray of bool, shape (n,)
        Normal force above the threshold.
    normal : ndarray, shape (3,)
        Unit normal of the plate surface (into the plate).
    """

    plate: int
    time: np.ndarray
    force: np.ndarray
    cop: np.ndarray
    free_moment: np.ndarray
    loaded: np.ndarray
    normal: np.ndarray


@dataclass
class C3DRecording:
    """Markers and force plate data of one C3D file, in the lab frame.

    Attributes
    ----------
    path : Path
    markers : Markers
        Metres, NaN where a marker was not seen.
    units : str
        ``POINT:UNITS`` as written in the file.
    plates : list of ForcePlate
    wrenches : list of PlateWrench
        One per plate, lab frame, signs as stored.
    """

    path: Path
    markers: Markers
    units: str
    plates: list[ForcePlate]
    wrenches: list[PlateWrench]


@dataclass
class Contact:
    """One loaded period of one plate and the foot it was given to."""

    plate: int
    side: str
    start: float
    end: float
    distance_m: float


@dataclass
class Conversion:
    """Files written by :func:`convert_c3d` and what was decided on the way."""

    trc: Path
    grf: Path | None
    contacts: list[Contact]
    markers: list[str]
    filled: dict
    dropped: list[str]


# --- axis rotation ----------------------------------------------------------

def parse_rotation(spec) -> np.ndarray:
    """The lab-to-OpenSim rotation matrix from its config form.

    Parameters
    ----------
    spec : str or sequence of 3 sequences of 3 float
        ``'x,z,-y'`` names, for OpenSim's x, y and z axes in turn, the lab
        axis (with an optional sign) it points along; or a 3x3 matrix ``R``
        with ``p_opensim = R @ p_lab``.

    Returns
    -------
    ndarray, shape (3, 3)
        A proper rotation (orthonormal, determinant +1).

    Raises
    ------
    ValueError
        A malformed spec, a repeated axis, or a matrix that is not a proper
        rotation (a mirror would swap left and right).
    """
    if isinstance(spec, str):
        parts = [p.strip().lower() for p in spec.split(",")]
        if len(parts) != 3 or not all(re.fullmatch(r"[+-]?[xyz]", p) for p in parts):
            raise ValueError(f"expected three lab axes such as 'x,z,-y', got {spec!r}")
        matrix = np.zeros((3, 3))
        for row, part in enumerate(parts):
            matrix[row, _AXES[part[-1]]] = -1.0 if part.startswith("-") else 1.0
    else:
        matrix = np.asarray(spec, dtype=float)
        if matrix.shape != (3, 3):
            raise ValueError(f"expected a 3x3 matrix, got shape {matrix.shape}")
    if not np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-6):
        raise ValueError(f"{_show(spec)} is not a rotation: its rows must be orthogonal unit vectors "
                         "(each lab axis used once)")
    if np.linalg.det(matrix) < 0:
        raise ValueError(f"{_show(spec)} is a mirror (determinant -1), which swaps left and right; "
                         "flip the sign of one axis")
    return matrix


def _show(spec) -> str:
    return repr(spec) if isinstance(spec, str) else "the matrix"


# --- reading ------------------------------------------------------------------

def read_c3d(path: str | Path, threshold_n: float = 20.0) -> C3DRecording:
    """Read markers and force plates of a C3D file (lab frame, SI units).

    Parameters
    ----------
    path : str or Path
    threshold_n : float
        A plate is loaded where its normal force exceeds this (N); its CoP is
        defined only there.

    Returns
    -------
    C3DRecording

    Raises
    ------
    InputError
        The file is not a readable C3D file; it has no markers; unknown
        ``POINT:UNITS``; duplicated marker labels; a force plate of an
        unsupported TYPE or with malformed CORNERS, ORIGIN, CHANNEL or
        CAL_MATRIX; unknown force or moment units; non-finite analog data.

    Notes
    -----
    Centre of pressure and free moment from the wrench about the surface
    centre ``M_c = M_o + d x F`` (``d`` from the surface centre to the sensor):
    ``CoP = (-M_cy / F_z, M_cx / F_z, 0)`` and
    ``T_z = M_cz - (CoP_x F_y - CoP_y F_x)`` in the plate frame (the usual
    AMTI/Bertec formulas; Winter 2009, Biomechanics and Motor Control of
    Human Movement, 4th ed., ch. 5).
    """
    path = Path(path)
    c3d = _open(path)
    markers, units = _read_markers(path, c3d)
    plates = _read_plates(path, c3d, units)
    wrenches = []
    if plates:
        time, analogs, analog_units = _read_analogs(path, c3d)
        wrenches = [_plate_wrench(path, p, time, analogs, analog_units, units, threshold_n) for p in plates]
    return C3DRecording(path, markers, units, plates, wrenches)


def _open(path: Path):
    import ezc3d

    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return ezc3d.c3d(str(path))
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(path, f"not a readable C3D file ({exc})") from None


def _param(c3d, group: str, name: str, default=None):
    params = c3d["parameters"]
    if group not in params or name not in params[group]:
        return default
    return params[group][name]["value"]


def _labels(c3d, group: str, n: int) -> list[str]:
    """LABELS, LABELS2, ... of a group (files with > 255 entries split them)."""
    labels = list(_param(c3d, group, "LABELS", []) or [])
    k = 2
    while _param(c3d, group, f"LABELS{k}") is not None:
        labels += list(_param(c3d, group, f"LABELS{k}"))
        k += 1
    return [str(x).strip() for x in labels[:n]]


def _read_markers(path: Path, c3d) -> tuple[Markers, str]:
    points = np.asarray(c3d["data"]["points"], dtype=float)
    header = c3d["header"]["points"]
    if points.ndim != 3 or points.shape[1] == 0 or points.shape[2] == 0:
        raise InputError(path, "has no marker data (POINT:USED is 0 or no frames)")
    units = _point_units(path, c3d)
    labels = _labels(c3d, "POINT", points.shape[1])
    if len(labels) != points.shape[1]:
        raise InputError(path, f"POINT:LABELS names {len(labels)} points but the file has {points.shape[1]}")
    keep = _marker_columns(path, c3d, labels)
    rate = float(header["frame_rate"])
    time = (header["first_frame"] + np.arange(points.shape[2])) / rate
    xyz = np.transpose(points[:3, keep, :], (2, 1, 0)) * UNIT_SCALE[units.lower()]
    return Markers(time, [labels[i] for i in keep], xyz), units


def _point_units(path: Path, c3d) -> str:
    units = _param(c3d, "POINT", "UNITS")
    if not units or not str(units[0]).strip():
        raise InputError(path, "POINT:UNITS is missing; cannot tell millimetres from metres")
    unit = str(units[0]).strip()
    if unit.lower() not in UNIT_SCALE:
        raise InputError(path, f"unknown POINT:UNITS {unit!r}; expected mm, cm or m")
    return unit


def _marker_columns(path: Path, c3d, labels: list[str]) -> list[int]:
    """Indices of the labelled markers (not model outputs, not unlabelled '*N' points)."""
    outputs = set()
    for group in NON_MARKER_GROUPS:
        outputs.update(str(x).strip() for x in (_param(c3d, "POINT", group) or []))
    keep = [i for i, name in enumerate(labels) if name and not name.startswith("*") and name not in outputs]
    names = [labels[i] for i in keep]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(path, f"duplicated marker label(s) {', '.join(dup)} in POINT:LABELS")
    bad = [n for n in names if re.search(r"\s", n)]
    if bad:
        raise InputError(path, f"marker label(s) {bad} contain white space, which a .trc file cannot hold")
    if not keep:
        raise InputError(path, "has no labelled markers")
    skipped = len(labels) - len(keep)
    if skipped:
        log.info("%s: skipped %d point(s) that are model outputs or unlabelled", path, skipped)
    return keep


def _read_plates(path: Path, c3d, units: str) -> list[ForcePlate]:
    used = _param(c3d, "FORCE_PLATFORM", "USED")
    n = int(np.asarray(used).ravel()[0]) if used is not None and np.asarray(used).size else 0
    if n == 0:
        return []
    scale = UNIT_SCALE[units.lower()]
    kinds = np.asarray(_param(c3d, "FORCE_PLATFORM", "TYPE", [])).ravel()
    corners = np.asarray(_param(c3d, "FORCE_PLATFORM", "CORNERS", []), dtype=float)
    origins = np.asarray(_param(c3d, "FORCE_PLATFORM", "ORIGIN", []), dtype=float)
    channels = np.asarray(_param(c3d, "FORCE_PLATFORM", "CHANNEL", []), dtype=int)
    cal = np.asarray(_param(c3d, "FORCE_PLATFORM", "CAL_MATRIX", []), dtype=float)
    _check_plate_shapes(path, n, kinds, corners, origins, channels)
    plates = []
    for p in range(n):
        kind = int(kinds[p])
        if kind not in PLATE_TYPES:
            raise InputError(path, f"force plate {p + 1} has FORCE_PLATFORM:TYPE {kind}; simpipe reads "
                                   f"TYPE {' and '.join(map(str, PLATE_TYPES))}")
        origin = origins[:, p] * scale
        plate = ForcePlate(p + 1, kind, corners[:, :, p].T * scale, origin if origin[2] >= 0 else -origin,
                           [int(c) - 1 for c in channels[:6, p]], _cal_matrix(path, p, kind, cal))
        _check_corners(path, plate)
        plates.append(plate)
    return plates


def _check_plate_shapes(path: Path, n, kinds, corners, origins, channels) -> None:
    problems = []
    if kinds.size < n:
        problems.append(f"TYPE has {kinds.size} entries")
    if corners.ndim != 3 or corners.shape[:2] != (3, 4) or corners.shape[2] < n:
        problems.append(f"CORNERS has shape {corners.shape}, expected (3, 4, {n})")
    if origins.ndim != 2 or origins.shape[0] != 3 or origins.shape[1] < n:
        problems.append(f"ORIGIN has shape {origins.shape}, expected (3, {n})")
    if channels.ndim != 2 or channels.shape[0] < 6 or channels.shape[1] < n:
        problems.append(f"CHANNEL has shape {channels.shape}, expected (6, {n})")
    if problems:
        raise InputError(path, f"FORCE_PLATFORM:USED is {n} but {'; '.join(problems)}")


def _cal_matrix(path: Path, p: int, kind: int, cal: np.ndarray) -> np.ndarray | None:
    if kind != 4:
        return None
    if cal.ndim != 3 or cal.shape[:2] != (6, 6) or cal.shape[2] <= p:
        raise InputError(path, f"force plate {p + 1} is TYPE 4 but FORCE_PLATFORM:CAL_MATRIX has shape "
                               f"{cal.shape}, expected (6, 6, n_plates)")
    return cal[:, :, p]


def _check_corners(path: Path, plate: ForcePlate) -> None:
    c = plate.corners
    area = np.linalg.norm(np.cross(c[0] - c[1], c[0] - c[3]))
    if not np.all(np.isfinite(c)) or area < 1e-4:
        raise InputError(path, f"force plate {plate.index} has degenerate FORCE_PLATFORM:CORNERS "
                               f"({np.round(c, 4).tolist()} m)")


def _read_analogs(path: Path, c3d) -> tuple[np.ndarray, np.ndarray, list[str]]:
    analogs = np.asarray(c3d["data"]["analogs"], dtype=float)
    header = c3d["header"]
    if analogs.ndim != 3 or analogs.shape[1] == 0 or analogs.shape[2] == 0:
        raise InputError(path, "FORCE_PLATFORM:USED is not 0 but the file has no analog data")
    values = analogs[0].T
    point_rate, rate = float(header["points"]["frame_rate"]), float(header["analogs"]["frame_rate"])
    ratio = rate / point_rate
    if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
        raise InputError(path, f"analog rate {rate:g} Hz is not a whole multiple of the marker rate "
                               f"{point_rate:g} Hz")
    time = header["points"]["first_frame"] / point_rate + np.arange(len(values)) / rate
    units = [str(u).strip() for u in (_param(c3d, "ANALOG", "UNITS") or [])]
    return time, values, units


def _channel_scale(path: Path, plate: ForcePlate, units: list[str], point_units: str) -> tuple[float, float]:
    """(N per force unit, N m per moment unit) of a plate's channels."""
    def unit(i: int) -> str:
        return units[plate.channels[i]] if plate.channels[i] < len(units) else ""

    force_unit = unit(0).lower()
    moment_unit = re.sub(r"[\s.*·]", "", unit(3).lower())
    if plate.kind == 4 or not force_unit:
        force = 1.0  # calibrated (TYPE 4) or unlabelled channels: N, as the C3D convention has it
    elif force_unit in FORCE_UNITS:
        force = FORCE_UNITS[force_unit]
    else:
        raise InputError(path, f"force plate {plate.index}: unknown force unit {unit(0)!r} in ANALOG:UNITS")
    if moment_unit in TORQUE_UNITS and plate.kind != 4:
        return force, TORQUE_UNITS[moment_unit]
    if plate.kind == 2 and moment_unit:
        raise InputError(path, f"force plate {plate.index}: unknown moment unit {unit(3)!r} in ANALOG:UNITS")
    return force, UNIT_SCALE[point_units.lower()]  # N x the POINT unit, as ezc3d and btk assume


def _zero_offset(path: Path, plate: ForcePlate, f: np.ndarray, m: np.ndarray,
                 threshold_n: float) -> tuple[np.ndarray, np.ndarray]:
    """Remove the channels' offsets measured while the plate is unloaded.

    Unloaded samples are those with ``|Fz| < 2 * threshold_n``; the offset is
    their median, per channel. Nothing is removed when fewer than
    :data:`MIN_UNLOADED_FRACTION` of the samples are unloaded (a plate stood
    on for the whole trial).
    """
    idle = np.abs(f[:, 2]) < 2 * threshold_n
    if idle.mean() < MIN_UNLOADED_FRACTION:
        log.info("%s: force plate %d is rarely unloaded; no zero offset removed", path, plate.index)
        return f, m
    f0, m0 = np.median(f[idle], axis=0), np.median(m[idle], axis=0)
    log.info("%s: force plate %d: removed zero offsets F %s N, M %s N m (median while unloaded)", path,
             plate.index, np.round(f0, 2).tolist(), np.round(m0, 3).tolist())
    return f - f0, m - m0


def _loaded(path: Path, plate: ForcePlate, time: np.ndarray, fz: np.ndarray, threshold_n: float) -> np.ndarray:
    """Samples whose normal force exceeds the threshold, without blips shorter than :data:`MIN_CONTACT_S`."""
    loaded = np.abs(fz) > threshold_n
    rate = 1.0 / float(np.median(np.diff(time))) if len(time) > 1 else 1.0
    for a, b in _runs(loaded):
        if (b - a) / rate < MIN_CONTACT_S:
            loaded[a:b] = False
            log.info("%s: force plate %d: ignored a %.1f ms blip above %g N at %.3f s", path, plate.index,
                     1000 * (b - a) / rate, threshold_n, time[a])
    return loaded


def _plate_wrench(path: Path, plate: ForcePlate, time: np.ndarray, analogs: np.ndarray, units: list[str],
                  point_units: str, threshold_n: float) -> PlateWrench:
    """Force, CoP and free moment of one plate in the lab frame (see :func:`read_c3d`)."""
    if max(plate.channels) >= analogs.shape[1] or min(plate.channels) < 0:
        raise InputError(path, f"force plate {plate.index}: FORCE_PLATFORM:CHANNEL "
                               f"{[c + 1 for c in plate.channels]} names channels outside 1-{analogs.shape[1]}")
    raw = analogs[:, plate.channels]
    if not np.all(np.isfinite(raw)):
        raise InputError(path, f"force plate {plate.index}: analog channels contain NaN or infinite values")
    if plate.cal_matrix is not None:
        raw = raw @ plate.cal_matrix.T
    force_scale, moment_scale = _channel_scale(path, plate, units, point_units)
    f, m = _zero_offset(path, plate, raw[:, :3] * force_scale, raw[:, 3:] * moment_scale, threshold_n)
    m_c = m + np.cross(plate.origin, f)
    loaded = _loaded(path, plate, time, f[:, 2], threshold_n)
    fz = np.where(loaded, f[:, 2], 1.0)
    cop = np.column_stack([np.where(loaded, -m_c[:, 1] / fz, np.nan), np.where(loaded, m_c[:, 0] / fz, np.nan),
                           np.zeros(len(f))])
    tz = np.where(loaded, m_c[:, 2] - (cop[:, 0] * f[:, 1] - cop[:, 1] * f[:, 0]), 0.0)
    axes = plate.axes
    free = np.column_stack([np.zeros(len(f)), np.zeros(len(f)), tz])
    return PlateWrench(plate.index, time, f @ axes.T, plate.centre + cop @ axes.T, free @ axes.T, loaded,
                       axes[:, 2])


# --- to OpenSim ---------------------------------------------------------------

def to_opensim(recording: C3DRecording, rotation: np.ndarray) -> C3DRecording:
    """Express a recording in OpenSim's frame, forces as the reaction on the subject.

    Parameters
    ----------
    recording : C3DRecording
        As read (lab frame).
    rotation : ndarray, shape (3, 3)
        ``p_opensim = rotation @ p_lab`` (see :func:`parse_rotation`).

    Returns
    -------
    C3DRecording
        Markers and wrenches rotated; each plate's force and free moment
        negated where needed so that its vertical (OpenSim y) force is upward
        while loaded.

    Raises
    ------
    InputError
        A plate's surface is not horizontal in OpenSim's frame (the rotation
        does not put the lab's vertical on OpenSim's y axis).
    """
    rot = np.asarray(rotation, float)
    markers = recording.markers
    moved = Markers(markers.time, list(markers.names), markers.xyz @ rot.T)
    wrenches = []
    for w in recording.wrenches:
        normal = rot @ w.normal
        if abs(normal[1]) < 0.95:
            axis = "xyz"[int(np.argmax(np.abs(normal)))]
            raise InputError(recording.path, f"force plate {w.plate}: the lab-to-OpenSim rotation puts the "
                                             f"plate's normal along OpenSim {axis}, not y (up); check "
                                             "c3d.lab_to_opensim in the config")
        force, free = w.force @ rot.T, w.free_moment @ rot.T
        if w.loaded.any() and np.median(force[w.loaded, 1]) < 0:
            force, free = -force, -free
        wrenches.append(PlateWrench(w.plate, w.time, force, w.cop @ rot.T, free, w.loaded, normal))
    return C3DRecording(recording.path, moved, recording.units, recording.plates, wrenches)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _foot_distance(cop: np.ndarray, markers: Markers, names: list[str]) -> float:
    """Median over frames of the horizontal distance from the CoP to the nearest of the markers."""
    feet = np.stack([markers.marker(n) for n in names], axis=1)
    d = np.linalg.norm((feet - cop[:, None, :])[:, :, [0, 2]], axis=2)
    with np.errstate(all="ignore"):
        per_frame = np.nanmin(np.where(np.isnan(d), np.inf, d), axis=1)
    finite = per_frame[np.isfinite(per_frame)]
    return float(np.median(finite)) if finite.size else np.inf


def assign_contacts(recording: C3DRecording, foot_markers: dict[str, list[str]]) -> list[Contact]:
    """Give each loaded period of each plate to the foot that stands on it.

    Parameters
    ----------
    recording : C3DRecording
        In OpenSim's frame (:func:`to_opensim`).
    foot_markers : dict
        Side -> marker names on that foot (heel, toe, metatarsals).

    Returns
    -------
    list of Contact
        In order of plate and time.

    Raises
    ------
    InputError
        A foot marker is not in the file, no plate is ever loaded, or a
        loaded period has no foot marker within :data:`MAX_FOOT_DISTANCE_M`
        of its CoP.

    Notes
    -----
    A loaded period goes to the side whose nearest foot marker is closest,
    horizontally, to the CoP (median over the marker frames of the period).
    """
    path, markers = recording.path, recording.markers
    missing = [n for names in foot_markers.values() for n in names if n not in markers.names]
    if missing:
        raise InputError(path, f"foot marker(s) {', '.join(missing)} are not in the file; set "
                               "c3d.foot_markers in the config (side -> heel/toe markers)")
    if not any(w.loaded.any() for w in recording.wrenches):
        raise InputError(path, f"no force plate is ever loaded (plates "
                               f"{', '.join(str(w.plate) for w in recording.wrenches)}); check the "
                               "FORCE_PLATFORM channels or give the GRF as a .mot file")
    contacts = []
    for w in recording.wrenches:
        if not w.loaded.any():
            log.warning("%s: force plate %d is never loaded", path, w.plate)
        for a, b in _runs(w.loaded):
            contacts.append(_contact(path, w, a, b, markers, foot_markers))
    return contacts


def _contact(path: Path, w: PlateWrench, a: int, b: int, markers: Markers, foot_markers: dict) -> Contact:
    t0, t1 = float(w.time[a]), float(w.time[b - 1])
    frames = np.flatnonzero((markers.time >= t0) & (markers.time <= t1))
    if frames.size == 0:
        frames = np.array([int(np.argmin(np.abs(markers.time - 0.5 * (t0 + t1))))])
    samples = np.clip(np.searchsorted(w.time, markers.time[frames]), a, b - 1)
    sub = Markers(markers.time[frames], markers.names, markers.xyz[frames])
    dist = {side: _foot_distance(w.cop[samples], sub, names) for side, names in foot_markers.items()}
    side = min(dist, key=dist.get)
    if not dist[side] <= MAX_FOOT_DISTANCE_M:
        shown = ", ".join(f"{s} {d:.2f} m" for s, d in dist.items())
        raise InputError(path, f"force plate {w.plate} is loaded at {t0:.3f}-{t1:.3f} s but no foot marker "
                               f"is within {MAX_FOOT_DISTANCE_M} m of its centre of pressure (nearest: "
                               f"{shown}); is something else on the plate?")
    return Contact(w.plate, side, t0, t1, dist[side])


def grf_table(recording: C3DRecording, contacts: list[Contact], sides: tuple[str, ...]) -> Table:
    """Combine the plates of each foot into simpipe's GRF columns.

    Parameters
    ----------
    recording : C3DRecording
        In OpenSim's frame, forces on the subject (:func:`to_opensim`).
    contacts : list of Contact
        From :func:`assign_contacts`.
    sides : tuple of str
        Sides to write (every side gets its nine columns, zero where unloaded).

    Returns
    -------
    Table
        Time of the analog samples; force (N), CoP (m) and free moment (N m)
        per side, all in OpenSim's ground frame.

    Notes
    -----
    Where a foot stands on several plates at once, their forces add up and
    the combined CoP is the point on the (force-weighted) plate surface
    height about which the summed moment has no horizontal component.
    """
    wrench = {w.plate: w for w in recording.wrenches}
    time = recording.wrenches[0].time
    cols, labels = [], []
    for side in sides:
        force, moment = np.zeros((len(time), 3)), np.zeros((len(time), 3))
        weight, height = np.zeros(len(time)), np.zeros(len(time))
        for c in (c for c in contacts if c.side == side):
            w = wrench[c.plate]
            on = w.loaded & (w.time >= c.start) & (w.time <= c.end)
            cop = np.nan_to_num(w.cop)
            force[on] += w.force[on]
            moment[on] += np.cross(cop[on], w.force[on]) + w.free_moment[on]
            weight[on] += w.force[on, 1]
            height[on] += w.force[on, 1] * cop[on, 1]
        cols.append(_side_columns(force, moment, weight, height))
        labels += grf_columns(side)
    return Table(time, labels, np.column_stack(cols))


def _side_columns(force, moment, weight, height) -> np.ndarray:
    on = weight > 0
    fy = np.where(on, force[:, 1], 1.0)
    h = np.where(on, height / np.where(on, weight, 1.0), 0.0)
    px = np.where(on, (moment[:, 2] + h * force[:, 0]) / fy, 0.0)
    pz = np.where(on, (h * force[:, 2] - moment[:, 0]) / fy, 0.0)
    ty = np.where(on, moment[:, 1] - (pz * force[:, 0] - px * force[:, 2]), 0.0)
    zeros = np.zeros(len(force))
    return np.column_stack([force, px, h, pz, zeros, ty, zeros])


# --- the whole conversion -------------------------------------------------------

def convert_c3d(path: str | Path, out_dir: str | Path, rotation, foot_markers: dict[str, list[str]] | None,
                threshold_n: float = 20.0, max_gap_frames: int = 10, time_range=None,
                forces: bool = True) -> Conversion:
    """Write a C3D trial as ``markers.trc`` (and ``grf.mot``) in OpenSim's frame.

    Parameters
    ----------
    path : str or Path
        The C3D file.
    out_dir : str or Path
        Folder for the files (created).
    rotation : str or array-like
        Lab-to-OpenSim rotation (see :func:`parse_rotation`).
    foot_markers : dict or None
        Side -> foot marker names; needed when ``forces``.
    threshold_n : float
        Normal force (N) above which a plate is loaded; below it force, CoP
        and free moment are written as zero.
    max_gap_frames : int
        Longest marker gap that is filled (see :func:`simpipe.io.trc.read_trc`).
    time_range : (float, float) or None
        Keep the markers of this time span only (the forces are kept whole).
    forces : bool
        Convert the force plates too (False for a static trial).

    Returns
    -------
    Conversion

    Raises
    ------
    InputError
        Everything :func:`read_c3d`, :func:`to_opensim` and
        :func:`assign_contacts` reject; no force plates when ``forces``; a
        ``time_range`` that keeps fewer than 2 frames; marker gaps as in a
        .trc file.
    """
    path, out = Path(path), Path(out_dir)
    rec = to_opensim(read_c3d(path, threshold_n), parse_rotation(rotation))
    if forces and not rec.wrenches:
        raise InputError(path, "has no force plates (FORCE_PLATFORM:USED is 0 or missing); give the "
                               "trial as 'markers' (.trc) and 'grf' (.mot) instead")
    markers = _trimmed(path, rec.markers, time_range)
    markers, report = clean_markers(markers, path, rec.units, max_gap_frames)
    out.mkdir(parents=True, exist_ok=True)
    trc = write_trc(markers, out / "markers.trc", units="mm")
    contacts, grf = [], None
    if forces:
        contacts = assign_contacts(rec, foot_markers or {})
        grf = write_grf(grf_table(rec, contacts, tuple(foot_markers)), out / "grf.mot", sides=tuple(foot_markers))
        for c in contacts:
            log.info("%s: plate %d loaded %.3f-%.3f s: side %s (foot %.3f m from the CoP)", path, c.plate,
                     c.start, c.end, c.side, c.distance_m)
    return Conversion(Path(trc), Path(grf) if grf else None, contacts, list(markers.names), report.filled,
                      report.dropped)


def _trimmed(path: Path, markers: Markers, time_range) -> Markers:
    if time_range is None:
        return markers
    t0, t1 = time_range
    keep = (markers.time >= t0 - 1e-9) & (markers.time <= t1 + 1e-9)
    if keep.sum() < 2:
        raise InputError(path, f"time_range {list(time_range)} keeps {int(keep.sum())} frame(s) of "
                               f"{markers.time[0]:.3f}-{markers.time[-1]:.3f} s")
    return Markers(markers.time[keep], list(markers.names), markers.xyz[keep])
