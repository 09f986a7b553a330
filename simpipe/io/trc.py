"""Read and write OpenSim .trc marker files (pure Python, no OpenSim needed).

Layout of a .trc file (tab-separated)::

    PathFileType  4  (X/Y/Z)  name.trc
    DataRate  CameraRate  NumFrames  NumMarkers  Units  OrigDataRate  ...
    100       100         600        41          mm     100           ...
    Frame#  Time  RASI            LASI            ...
            X1    Y1    Z1    X2  Y2    Z2        ...
    1       0.00  12.1  950.2 ...

Blank coordinate cells (or NaN) mean the marker was not seen in that frame.
Inside simpipe positions are in metres; the header's Units says how to convert.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from simpipe.data import Markers
from simpipe.errors import InputError
from simpipe.io.hashing import read_text_lines, write_text_atomic

logger = logging.getLogger(__name__)

#: Metres per file unit, by the (lower-case) spelling in the Units field.
UNIT_SCALE = {
    "mm": 1e-3, "millimeters": 1e-3, "millimetres": 1e-3,
    "cm": 1e-2, "centimeters": 1e-2, "centimetres": 1e-2,
    "m": 1.0, "meters": 1.0, "metres": 1.0,
}

_HEADER_KEYS = ("DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units",
                "OrigDataRate", "OrigDataStartFrame", "OrigNumFrames")
_N_HEADER_LINES = 3
# Median distance of the markers from the origin, in metres, beyond which (or
# below which) the declared Units cannot be right for a human in a lab.
_TOO_FAR_M = 50.0
_TOO_NEAR_M = 0.005
_COORD_LABEL = re.compile(r"^[XYZ]\d+$", re.IGNORECASE)


@dataclass
class GapReport:
    """What :func:`read_trc_with_report` did to missing samples.

    Attributes
    ----------
    filled : dict of str to list of (float, float)
        Per marker, the time ranges (s, first and last missing frame) that were
        interpolated.
    dropped : list of str
        Markers dropped because they were missing in every frame.
    """

    filled: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def read_trc(path: str | Path, max_gap_frames: int = 10) -> Markers:
    """Read a .trc file into :class:`~simpipe.data.Markers` (metres).

    Parameters
    ----------
    path : str or Path
        The .trc file.
    max_gap_frames : int
        Longest run of missing frames, per marker, that is filled by
        interpolation; a longer gap is an error.

    Returns
    -------
    Markers
        Positions in metres, gaps filled, all-missing markers dropped.

    Raises
    ------
    InputError
        If the file is malformed or its data cannot be trusted (see
        :func:`read_trc_with_report`).

    Notes
    -----
    Filled gaps are logged at INFO level and dropped markers at WARNING level;
    use :func:`read_trc_with_report` to get them as data.
    """
    return read_trc_with_report(path, max_gap_frames)[0]


def read_trc_with_report(path: str | Path,
                         max_gap_frames: int = 10) -> tuple[Markers, GapReport]:
    """Read a .trc file and report which gaps were filled and markers dropped.

    Parameters
    ----------
    path : str or Path
        The .trc file.
    max_gap_frames : int
        Longest run of missing frames, per marker, that is filled.

    Returns
    -------
    markers : Markers
        Positions in metres.
    report : GapReport
        Filled time ranges per marker, and the dropped markers.

    Raises
    ------
    InputError
        For a malformed header; marker count inconsistent between the header,
        the name line and the data; unknown or implausible units; non-numeric
        cells; no frames; time not strictly increasing; duplicated marker
        names; a marker missing at the start or end of the trial; a gap longer
        than ``max_gap_frames``.

    Notes
    -----
    Interior gaps are filled per marker and coordinate with a cubic spline
    through all the marker's visible frames (linear interpolation when fewer
    than four frames are visible). This is the usual gap filling of motion
    capture software for short gaps; long gaps need the operator's judgement
    and are therefore rejected.
    """
    path = Path(path)
    lines = read_text_lines(path)
    header = _parse_header(path, lines)
    names, first_data = _parse_marker_names(path, lines, header["NumMarkers"])
    time, values = _parse_data(path, lines[first_data:], first_data, len(names))
    _check_frames(path, time, header)
    xyz = values.reshape(len(time), len(names), 3) * _unit_scale(path, header["Units"])
    _check_magnitude(path, xyz, header["Units"])
    markers = Markers(time=time, names=names, xyz=xyz)
    report = GapReport()
    markers = _drop_missing_markers(path, markers, report)
    _fill_gaps(path, markers, max_gap_frames, report)
    return markers, report


def write_trc(markers: Markers, path: str | Path, units: str = "mm") -> Path:
    """Write markers as a .trc file that OpenSim reads.

    Parameters
    ----------
    markers : Markers
        Positions in metres; NaN is written as a blank cell.
    path : str or Path
        Destination (written atomically; parent folders are created).
    units : {'mm', 'cm', 'm'}
        Units of the numbers in the file.

    Returns
    -------
    Path
        The absolute path written.
    """
    scale = UNIT_SCALE.get(units.lower())
    if scale is None:
        raise ValueError(f"units must be one of mm, cm, m; got {units!r}")
    path = Path(path).absolute()
    n_frames, n_markers = len(markers.time), len(markers.names)
    rate = _format(markers.rate) if n_frames > 1 else "0"
    head = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "\t".join(_HEADER_KEYS),
        "\t".join([rate, rate, str(n_frames), str(n_markers), units, rate, "1",
                   str(n_frames)]),
        "\t".join(["Frame#", "Time"] + [f"{n}\t\t" for n in markers.names]),
        "\t".join(["", ""] + [f"X{i}\tY{i}\tZ{i}" for i in range(1, n_markers + 1)]),
        "",
    ]
    flat = (markers.xyz / scale).reshape(n_frames, 3 * n_markers)
    rows = [
        "\t".join([str(i + 1), _format(t)] + [_format(v) for v in row])
        for i, (t, row) in enumerate(zip(markers.time, flat))
    ]
    return write_text_atomic(path, "\n".join(head + rows) + "\n")


def check_markers_present(markers: Markers, required: list[str],
                          path: str | Path) -> None:
    """Raise if any required marker is absent.

    Parameters
    ----------
    markers : Markers
        As read from ``path``.
    required : list of str
        Marker names the model or study needs.
    path : str or Path
        The file ``markers`` came from (named in the error).

    Raises
    ------
    InputError
        Listing every missing marker and the markers the file has.
    """
    missing = [name for name in required if name not in markers.names]
    if missing:
        raise InputError(path, f"missing marker(s) {', '.join(missing)} required by "
                               f"the model; the file has {', '.join(markers.names)}")


def clean_markers(markers: Markers, path: str | Path, units: str,
                  max_gap_frames: int = 10) -> tuple[Markers, GapReport]:
    """Apply the checks and gap filling of :func:`read_trc` to markers read elsewhere.

    Parameters
    ----------
    markers : Markers
        Positions in metres, NaN where a marker was not seen (e.g. from a C3D file).
    path : str or Path
        The file they came from (named in errors).
    units : str
        The units the file declares (mm, cm or m), for the plausibility check.
    max_gap_frames : int
        Longest run of missing frames, per marker, that is filled.

    Returns
    -------
    markers : Markers
        All-missing markers dropped, short interior gaps filled (in a copy).
    report : GapReport

    Raises
    ------
    InputError
        Implausible units, every marker missing, a gap at the start or end of
        the trial or one longer than ``max_gap_frames``.
    """
    path = Path(path)
    markers = Markers(np.asarray(markers.time, float), list(markers.names), np.array(markers.xyz, float))
    _check_magnitude(path, markers.xyz, units)
    report = GapReport()
    markers = _drop_missing_markers(path, markers, report)
    _fill_gaps(path, markers, max_gap_frames, report)
    return markers, report


# --- header -----------------------------------------------------------------

def _parse_header(path: Path, lines: list[str]) -> dict:
    """Key/value pairs of lines 2-3, with NumMarkers as int and Units checked."""
    if not lines or not lines[0].strip():
        raise InputError(path, "file is empty; expected a .trc file starting with "
                               "'PathFileType'")
    if not lines[0].lstrip().startswith("PathFileType"):
        raise InputError(path, "malformed header: the first line must start with "
                               "'PathFileType' (is this a .trc file?)")
    if len(lines) < _N_HEADER_LINES + 2:
        raise InputError(path, "malformed header: a .trc file needs 5 header lines "
                               f"but this one has {len(lines)} lines")
    keys = _cells(lines[1])
    values = _cells(lines[2])
    if len(keys) != len(values):
        raise InputError(path, f"malformed header: line 2 has {len(keys)} keys but "
                               f"line 3 has {len(values)} values")
    header = dict(zip(keys, values))
    for key in ("NumMarkers", "Units"):
        if key not in header:
            raise InputError(path, f"malformed header: no {key} entry on line 2 "
                                   f"(found {', '.join(keys) or 'nothing'})")
    try:
        header["NumMarkers"] = int(header["NumMarkers"])
    except ValueError:
        raise InputError(path, f"malformed header: NumMarkers is "
                               f"{header['NumMarkers']!r}, not a whole number") from None
    return header


def _unit_scale(path: Path, units: str) -> float:
    scale = UNIT_SCALE.get(units.strip().lower())
    if scale is None:
        raise InputError(path, f"unknown Units {units!r} in the header; "
                               "use mm, cm or m")
    return scale


def _parse_marker_names(path: Path, lines: list[str],
                        n_declared: int) -> tuple[list[str], int]:
    """Marker names from line 4; returns them and the index of the first data line."""
    cells = _cells(lines[3])
    if len(cells) < 2 or cells[0].lower() != "frame#" or cells[1].lower() != "time":
        raise InputError(path, "malformed header: line 4 must start with "
                               "'Frame#' and 'Time' followed by marker names")
    names = [c for c in cells[2:] if c]
    if len(names) != n_declared:
        raise InputError(path, f"header NumMarkers is {n_declared} but line 4 "
                               f"names {len(names)} markers; fix NumMarkers")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(path, f"duplicated marker name(s) {', '.join(duplicated)}; "
                               "rename them so each marker is unique")
    coord = [c for c in _cells(lines[4]) if c]
    if coord and all(_COORD_LABEL.match(c) for c in coord):
        if len(coord) != 3 * len(names):
            raise InputError(path, f"line 5 has {len(coord)} coordinate labels but "
                                   f"{len(names)} markers need {3 * len(names)}")
        return names, 5
    return names, 4


# --- data -------------------------------------------------------------------

def _parse_data(path: Path, lines: list[str], offset: int,
                n_markers: int) -> tuple[np.ndarray, np.ndarray]:
    """Time and a (n_frames, 3 * n_markers) array from the data lines."""
    n_cols = 2 + 3 * n_markers
    times, rows = [], []
    for index, line in enumerate(lines, start=offset + 1):
        if not line.strip():
            continue
        cells = _cells(line)
        if len(cells) > n_cols:
            raise InputError(path, f"line {index} has {len(cells) - 2} coordinate "
                                   f"values but the header lists {n_markers} markers "
                                   f"({3 * n_markers} values); fix NumMarkers and the "
                                   "marker names")
        cells += [""] * (n_cols - len(cells))
        times.append(_number(path, cells[1], index, "Time", allow_blank=False))
        rows.append([_number(path, c, index, "coordinate") for c in cells[2:]])
    if not rows:
        raise InputError(path, "has zero frames: no data lines follow the header")
    return np.asarray(times, dtype=float), np.asarray(rows, dtype=float)


def _number(path: Path, cell: str, line: int, what: str,
            allow_blank: bool = True) -> float:
    if not cell:
        if allow_blank:
            return np.nan
        raise InputError(path, f"line {line}: {what} is blank")
    try:
        return float(cell)
    except ValueError:
        raise InputError(path, f"line {line}: non-numeric {what} value "
                               f"{cell!r}") from None


def _check_frames(path: Path, time: np.ndarray, header: dict) -> None:
    """Time must be finite and strictly increasing; NumFrames must match."""
    if not np.all(np.isfinite(time)):
        raise InputError(path, "Time column has NaN or infinite values")
    steps = np.diff(time)
    if np.any(steps <= 0):
        k = int(np.argmax(steps <= 0))
        raise InputError(path, f"time is non-monotonic: frame {k + 2} "
                               f"(t={time[k + 1]:g} s) does not come after "
                               f"t={time[k]:g} s; times must strictly increase")
    declared = header.get("NumFrames", "")
    if declared.isdigit() and int(declared) != len(time):
        raise InputError(path, f"header NumFrames is {declared} but {len(time)} "
                               "data lines were found; the file may be truncated")
    rate = header.get("DataRate", "")
    if len(time) > 1 and _is_float(rate) and float(rate) > 0:
        actual = 1.0 / float(np.median(steps))
        if abs(actual - float(rate)) > 0.01 * float(rate):
            logger.warning("%s: header DataRate %s Hz but the Time column gives "
                           "%.6g Hz; using the Time column", path, rate, actual)


def _check_magnitude(path: Path, xyz: np.ndarray, units: str) -> None:
    """Catch files whose numbers are not in the units the header declares."""
    distance = np.linalg.norm(xyz, axis=2)
    if not np.any(np.isfinite(distance)):
        return
    median = float(np.nanmedian(distance))
    if median > _TOO_FAR_M:
        raise InputError(path, f"values look like millimetres but Units says {units} "
                               f"(median marker distance from the origin {median:.4g} "
                               "m); fix the Units field")
    if median < _TOO_NEAR_M and UNIT_SCALE[units.strip().lower()] < 1.0:
        raise InputError(path, f"values look like metres but Units says {units} "
                               f"(median marker distance from the origin {median:.3g} "
                               "m); fix the Units field")


# --- gaps -------------------------------------------------------------------

def _drop_missing_markers(path: Path, markers: Markers, report: GapReport) -> Markers:
    """Remove markers that are missing in every frame (with a warning)."""
    seen = np.any(np.all(np.isfinite(markers.xyz), axis=2), axis=0)
    report.dropped = [n for n, ok in zip(markers.names, seen) if not ok]
    if report.dropped:
        logger.warning("%s: dropped marker(s) missing in every frame: %s",
                       path, ", ".join(report.dropped))
    if seen.all():
        return markers
    if not seen.any():
        raise InputError(path, "every marker is missing in every frame")
    return Markers(time=markers.time, names=[n for n, ok in zip(markers.names, seen) if ok],
                   xyz=markers.xyz[:, seen, :])


def _fill_gaps(path: Path, markers: Markers, max_gap_frames: int,
               report: GapReport) -> None:
    """Interpolate short interior gaps in place; reject edge and long gaps."""
    problems = []
    for j, name in enumerate(markers.names):
        missing = ~np.all(np.isfinite(markers.xyz[:, j, :]), axis=1)
        runs = _runs(missing)
        found = [p for p in (_gap_problem(name, markers.time, a, b, len(missing),
                                          max_gap_frames) for a, b in runs) if p]
        problems += found
        if runs and not found:
            markers.xyz[:, j, :] = _interpolate(markers.time, markers.xyz[:, j, :], missing)
            report.filled[name] = [(float(markers.time[a]), float(markers.time[b - 1]))
                                   for a, b in runs]
            logger.info("%s: marker %s: filled %d gap(s), %d frames in all", path, name,
                        len(runs), int(missing.sum()))
    if problems:
        more = f" (and {len(problems) - 1} more gap problem(s))" if len(problems) > 1 else ""
        raise InputError(path, problems[0] + more)


def _runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, stop) index ranges of consecutive True values."""
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _gap_problem(name: str, time: np.ndarray, start: int, stop: int, n_frames: int,
                 max_gap_frames: int) -> str:
    """Text of what is wrong with one gap, or '' when it can be filled."""
    span = f"t={time[start]:.4g}-{time[stop - 1]:.4g} s"
    if start == 0:
        return (f"marker {name} is missing at the start of the trial ({span}); "
                "trim the trial or fill it in the capture software")
    if stop == n_frames:
        return (f"marker {name} is missing at the end of the trial ({span}); "
                "trim the trial or fill it in the capture software")
    if stop - start > max_gap_frames:
        return (f"marker {name} has a NaN gap of {stop - start} frames ({span}), "
                f"longer than max_gap_frames={max_gap_frames}; fill it in the "
                "capture software or raise max_gap_frames")
    return ""


def _interpolate(time: np.ndarray, xyz: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """One marker's (n_frames, 3) trajectory with the missing frames interpolated."""
    known = ~missing
    out = xyz.copy()
    if known.sum() >= 4:
        spline = CubicSpline(time[known], xyz[known], axis=0)
        out[missing] = spline(time[missing])
    else:
        for k in range(3):
            out[missing, k] = np.interp(time[missing], time[known], xyz[known, k])
    return out


# --- small helpers ----------------------------------------------------------

def _cells(line: str) -> list[str]:
    """Tab-separated cells, stripped, without trailing empty cells."""
    cells = [c.strip() for c in line.split("\t")] if "\t" in line else line.split()
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _format(value: float) -> str:
    """Number for a text file: '' for NaN, otherwise 10 significant digits."""
    return "" if np.isnan(value) else f"{value:.10g}"
