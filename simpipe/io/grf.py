"""Ground reaction forces: simpipe's .mot convention and OpenSim ExternalLoads.

One .mot file holds, for each foot side ``s`` in ('r', 'l')::

    {s}_ground_force_vx  {s}_ground_force_vy  {s}_ground_force_vz   force, N
    {s}_ground_force_px  {s}_ground_force_py  {s}_ground_force_pz   point, m
    {s}_ground_torque_x  {s}_ground_torque_y  {s}_ground_torque_z   torque, N m

all expressed in the ground frame (OpenSim: y up). The ExternalLoads XML built
by :func:`write_external_loads_xml` applies each side's force to a foot body.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from simpipe.data import Table
from simpipe.errors import InputError
from simpipe.io.hashing import write_text_atomic
from simpipe.io.sto import read_sto, write_sto

_FORCE = "{s}_ground_force_v"
_POINT = "{s}_ground_force_p"
_TORQUE = "{s}_ground_torque_"


def grf_columns(side: str) -> list[str]:
    """The nine column labels of one foot side, in file order.

    Parameters
    ----------
    side : str
        Side prefix, e.g. 'r' or 'l'.

    Returns
    -------
    list of str
        Force (vx, vy, vz), point (px, py, pz), torque (x, y, z) labels.
    """
    return ([_FORCE.format(s=side) + a for a in "xyz"]
            + [_POINT.format(s=side) + a for a in "xyz"]
            + [_TORQUE.format(s=side) + a for a in "xyz"])


def read_grf(path: str | Path, sides: tuple[str, ...] = ("r", "l")) -> Table:
    """Read a GRF .mot file and check it has every column simpipe needs.

    Parameters
    ----------
    path : str or Path
        The .mot file.
    sides : tuple of str
        Foot sides whose nine columns must be present.

    Returns
    -------
    Table
        All columns of the file (forces N, points m, torques N m).

    Raises
    ------
    InputError
        If the file is malformed (see :func:`~simpipe.io.sto.read_sto`), a
        required column is missing (all are listed), or a force is not finite.
    """
    table = read_sto(path)
    required = [c for s in sides for c in grf_columns(s)]
    missing = [c for c in required if c not in table.labels]
    if missing:
        raise InputError(path, f"GRF file is missing column(s) {', '.join(missing)}; "
                               "expected {s}_ground_force_v[xyz], "
                               "{s}_ground_force_p[xyz], {s}_ground_torque_[xyz] "
                               f"for sides {', '.join(sides)}")
    bad = [c for c in required if not np.all(np.isfinite(table.column(c)))]
    if bad:
        raise InputError(path, f"GRF column(s) {', '.join(bad)} contain NaN or "
                               "infinite values; set the centre of pressure and "
                               "forces to 0 outside stance")
    return table


def check_grf_covers(grf: Table, t0: float, t1: float, path: str | Path) -> None:
    """Raise if the GRF time range does not cover the trial [t0, t1].

    Parameters
    ----------
    grf : Table
        As read by :func:`read_grf`.
    t0, t1 : float
        First and last time of the trial (s).
    path : str or Path
        The GRF file (named in the error).

    Raises
    ------
    InputError
        Giving both time ranges, when the GRF starts later than ``t0`` or ends
        earlier than ``t1`` by more than half a GRF sample interval.
    """
    time = np.asarray(grf.time)
    half = 0.5 * float(np.median(np.diff(time))) if len(time) > 1 else 0.0
    if time[0] > t0 + half or time[-1] < t1 - half:
        raise InputError(path, f"GRF time range {time[0]:.4g}-{time[-1]:.4g} s does "
                               f"not cover the trial {t0:.4g}-{t1:.4g} s; export the "
                               "forces for the whole trial or trim the trial")


def write_grf(table: Table, path: str | Path, sides: tuple[str, ...] = ("r", "l")) -> Path:
    """Write GRF as a .mot file (Storage format, inDegrees=no).

    Parameters
    ----------
    table : Table
        Must contain the nine columns of each side in ``sides``.
    path : str or Path
        Destination (written atomically).
    sides : tuple of str
        Sides whose columns are required.

    Returns
    -------
    Path
        The absolute path written.
    """
    missing = [c for s in sides for c in grf_columns(s) if c not in table.labels]
    if missing:
        raise ValueError(f"GRF table lacks column(s) {', '.join(missing)}")
    out = Table(time=table.time, labels=list(table.labels), values=table.values,
                in_degrees=False, meta=dict(table.meta))
    return write_sto(out, path, kind="mot")


def write_external_loads_xml(xml_path: str | Path, grf_mot_path: str | Path,
                             feet: dict[str, str]) -> Path:
    """Write an OpenSim ExternalLoads XML that applies the GRF to the feet.

    Parameters
    ----------
    xml_path : str or Path
        Destination XML (written atomically).
    grf_mot_path : str or Path
        GRF .mot file in simpipe's convention; stored as an absolute path so
        the XML works from any working directory.
    feet : dict of str to str
        Side prefix to the model body the force acts on, e.g.
        ``{'r': 'calcn_r', 'l': 'calcn_l'}``.

    Returns
    -------
    Path
        The absolute path of the XML.

    Notes
    -----
    One ExternalForce per side, named ``grf_{side}``; force, point and torque
    are expressed in ground. OpenSim appends x, y, z to each identifier.
    """
    root = ET.Element("OpenSimDocument", Version="40000")
    loads = ET.SubElement(root, "ExternalLoads", name="externalloads")
    objects = ET.SubElement(loads, "objects")
    for side, body in feet.items():
        force = ET.SubElement(objects, "ExternalForce", name=f"grf_{side}")
        for tag, text in (("applied_to_body", body),
                          ("force_expressed_in_body", "ground"),
                          ("point_expressed_in_body", "ground"),
                          ("force_identifier", _FORCE.format(s=side)),
                          ("point_identifier", _POINT.format(s=side)),
                          ("torque_identifier", _TORQUE.format(s=side)),
                          ("data_source_name", "")):
            ET.SubElement(force, tag).text = text
    ET.SubElement(loads, "groups")
    ET.SubElement(loads, "datafile").text = str(Path(grf_mot_path).absolute())
    ET.indent(root, space="\t")
    text = '<?xml version="1.0" encoding="UTF-8" ?>\n' + ET.tostring(root, encoding="unicode")
    return write_text_atomic(xml_path, text + "\n")


def resample_grf(table: Table, time: np.ndarray, sides: tuple[str, ...] = ("r", "l")) -> Table:
    """GRF at other times: forces and torques linearly, each CoP weighted by its vertical force.

    Parameters
    ----------
    table : Table
        simpipe GRF columns (other columns are interpolated linearly too).
    time : ndarray
        New sample times, inside the table's time range.
    sides : tuple of str

    Returns
    -------
    Table

    Notes
    -----
    Interpolating a centre of pressure directly between an unloaded sample
    (CoP written as 0) and a loaded one would put the force metres away from
    the foot. Interpolating ``F_y * p`` and ``F_y`` and dividing keeps the CoP
    where the foot is; where the interpolated ``F_y`` is zero the CoP is 0.
    """
    time = np.asarray(time, float)
    values = np.column_stack([np.interp(time, table.time, col) for col in table.values.T])
    for side in sides:
        fy = np.interp(time, table.time, table.column(_FORCE.format(s=side) + "y"))
        for axis in "xyz":
            label = _POINT.format(s=side) + axis
            weighted = np.interp(time, table.time, table.column(label) * table.column(_FORCE.format(s=side) + "y"))
            with np.errstate(divide="ignore", invalid="ignore"):
                values[:, table.labels.index(label)] = np.where(fy != 0, weighted / np.where(fy != 0, fy, 1), 0.0)
    return Table(time, list(table.labels), values, meta=dict(table.meta))
