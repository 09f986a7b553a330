"""Read and write OpenSim .mot and .sto tables (pure Python, no OpenSim needed).

Both formats are a header of ``key=value`` lines (an optional name line
first) closed by ``endheader``, then a line of column labels whose first is
``time``, then whitespace-separated numbers::

    Coordinates
    version=1
    nRows=600
    nColumns=24
    inDegrees=yes
    endheader
    time    pelvis_tilt    ...
    0.00    -3.1           ...

``nColumns`` counts the time column. Version 3 files (written by OpenSim 4's
``STOFileAdapter``) have no name line, no nRows/nColumns, and
``DataType=double``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from simpipe.data import Table
from simpipe.errors import InputError
from simpipe.io.hashing import read_text_lines, write_text_atomic

logger = logging.getLogger(__name__)

_ROW_KEYS = ("nRows", "datarows")
_COLUMN_KEYS = ("nColumns", "datacolumns")
#: Header keys that write_sto produces itself (never copied from Table.meta).
_RESERVED = {"name", "version", "nrows", "ncolumns", "datarows", "datacolumns",
             "indegrees", "datatype", "opensimversion", "endheader"}
_META_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def read_sto(path: str | Path) -> Table:
    """Read an OpenSim .mot or .sto file.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    Table
        ``time`` from the first column, the other columns as ``labels`` and
        ``values`` (numbers as in the file: degrees when ``in_degrees``),
        ``in_degrees`` from the ``inDegrees`` header key (False if absent), and
        every ``key=value`` header line (plus the name line as ``'name'``) in
        ``meta`` as strings.

    Raises
    ------
    InputError
        For no ``endheader`` line, no label line, a first column other than
        ``time``, duplicated labels, a row whose length differs from the labels,
        a non-numeric cell, zero rows, nRows/nColumns that disagree with the
        data, time not strictly increasing, or a non-double ``DataType``.
    """
    path = Path(path)
    lines = read_text_lines(path)
    meta, label_index = _parse_header(path, lines)
    labels = _parse_labels(path, lines, label_index)
    data = _parse_rows(path, lines, label_index + 1, len(labels))
    _check_counts(path, meta, data.shape)
    time = data[:, 0]
    _check_time(path, time)
    return Table(time=time, labels=labels[1:], values=data[:, 1:],
                 in_degrees=_in_degrees(path, meta), meta=meta)


def write_sto(table: Table, path: str | Path, kind: str = "mot") -> Path:
    """Write a table as a .mot or .sto file that OpenSim reads.

    Parameters
    ----------
    table : Table
        The data; ``table.in_degrees`` becomes ``inDegrees``. Simple
        ``table.meta`` entries (identifier keys, one-line values) are written
        as extra ``key=value`` header lines; ``meta['name']`` names the table.
    path : str or Path
        Destination (written atomically; parent folders are created).
    kind : {'mot', 'sto'}
        'mot': the classic header (name line, version=1, nRows, nColumns),
        read by both ``Storage`` and ``TimeSeriesTable``. 'sto': the OpenSim 4
        header (version=3, DataType=double).

    Returns
    -------
    Path
        The absolute path written.
    """
    if kind not in ("mot", "sto"):
        raise ValueError(f"kind must be 'mot' or 'sto', got {kind!r}")
    _check_table(table)
    path = Path(path).absolute()
    header = _header_lines(table, path, kind)
    labels = "\t".join(["time", *table.labels])
    rows = ["\t".join(f"{v:.10g}" for v in row)
            for row in np.column_stack([table.time, table.values])]
    return write_text_atomic(path, "\n".join([*header, "endheader", labels, *rows]) + "\n")


# --- reading ----------------------------------------------------------------

def _parse_header(path: Path, lines: list[str]) -> tuple[dict, int]:
    """Header entries and the index of the label line (after 'endheader')."""
    if not any(line.strip() for line in lines):
        raise InputError(path, "file is empty; expected an OpenSim .mot/.sto table")
    meta: dict[str, str] = {}
    for index, line in enumerate(lines):
        text = line.strip()
        if text.lower() == "endheader":
            return meta, _next_nonblank(path, lines, index + 1)
        if "=" in text:
            key, value = text.split("=", 1)
            meta[key.strip()] = value.strip()
        elif index == 0 and text:
            meta["name"] = text
    raise InputError(path, "missing 'endheader' line: an OpenSim .mot/.sto header "
                           "must end with a line reading endheader")


def _next_nonblank(path: Path, lines: list[str], start: int) -> int:
    for index in range(start, len(lines)):
        if lines[index].strip():
            return index
    raise InputError(path, "no column labels after 'endheader'; the table is empty")


def _parse_labels(path: Path, lines: list[str], index: int) -> list[str]:
    line = lines[index]
    labels = [c.strip() for c in line.split("\t")] if "\t" in line else line.split()
    while labels and not labels[-1]:
        labels.pop()
    if not labels or labels[0].lower() != "time":
        raise InputError(path, f"line {index + 1}: the first column label must be "
                               f"'time', found {labels[0] if labels else 'nothing'!r}")
    if "" in labels:
        raise InputError(path, f"line {index + 1}: blank column label in position "
                               f"{labels.index('') + 1}")
    duplicated = sorted({x for x in labels if labels.count(x) > 1})
    if duplicated:
        raise InputError(path, f"duplicated column label(s) {', '.join(duplicated)}")
    return labels


def _parse_rows(path: Path, lines: list[str], start: int, n_cols: int) -> np.ndarray:
    rows = []
    for index in range(start, len(lines)):
        cells = lines[index].split()
        if not cells:
            continue
        if len(cells) != n_cols:
            raise InputError(path, f"line {index + 1} has {len(cells)} values but "
                                   f"there are {n_cols} column labels")
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            bad = next(c for c in cells if not _is_float(c))
            raise InputError(path, f"line {index + 1}: non-numeric value "
                                   f"{bad!r}") from None
    if not rows:
        raise InputError(path, "has zero rows: no data follow the column labels")
    return np.asarray(rows, dtype=float)


def _check_counts(path: Path, meta: dict, shape: tuple[int, int]) -> None:
    """nRows/nColumns (or datarows/datacolumns), when present, must match."""
    if meta.get("DataType", "double") != "double":
        raise InputError(path, f"DataType={meta['DataType']} is not supported; "
                               "only tables of plain numbers (double)")
    for keys, actual, what in ((_ROW_KEYS, shape[0], "data rows"),
                               (_COLUMN_KEYS, shape[1], "columns (time included)")):
        for key in keys:
            if key not in meta:
                continue
            try:
                declared = int(meta[key])
            except ValueError:
                raise InputError(path, f"header {key}={meta[key]} is not a whole "
                                       "number") from None
            if declared != actual:
                raise InputError(path, f"header {key}={declared} but the file has "
                                       f"{actual} {what}; the file may be truncated")


def _check_time(path: Path, time: np.ndarray) -> None:
    if not np.all(np.isfinite(time)):
        raise InputError(path, "time column has NaN or infinite values")
    steps = np.diff(time)
    if np.any(steps <= 0):
        k = int(np.argmax(steps <= 0))
        raise InputError(path, f"time is non-monotonic: row {k + 2} (t={time[k + 1]:g} "
                               f"s) does not come after t={time[k]:g} s")


def _in_degrees(path: Path, meta: dict) -> bool:
    value = meta.get("inDegrees")
    if value is None:
        return False
    if value.lower() in ("yes", "true"):
        return True
    if value.lower() in ("no", "false"):
        return False
    raise InputError(path, f"header inDegrees={value}; expected yes or no")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- writing ----------------------------------------------------------------

def _check_table(table: Table) -> None:
    time = np.asarray(table.time)
    values = np.asarray(table.values)
    if values.ndim != 2 or values.shape != (len(time), len(table.labels)):
        raise ValueError(f"values must have shape (n_frames, n_labels) = "
                         f"({len(time)}, {len(table.labels)}), got {values.shape}")
    bad = [x for x in table.labels if not x or any(ch.isspace() for ch in x)]
    if bad:
        raise ValueError(f"column labels must be non-empty without whitespace: {bad}")


def _header_lines(table: Table, path: Path, kind: str) -> list[str]:
    degrees = "yes" if table.in_degrees else "no"
    extra = [f"{k}={v}" for k, v in table.meta.items()
             if k.lower() not in _RESERVED and _META_KEY.match(k)
             and isinstance(v, (str, int, float, bool)) and "\n" not in str(v)]
    if kind == "mot":
        name = str(table.meta.get("name") or path.stem).splitlines()[0]
        return [name, "version=1", f"nRows={len(table.time)}",
                f"nColumns={len(table.labels) + 1}", f"inDegrees={degrees}", *extra]
    return [f"inDegrees={degrees}", "DataType=double", "version=3", *extra]
