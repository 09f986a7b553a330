"""Read what a lab's own OpenSim setup files say: marker weights, scaling pairs, external loads.

Many labs already have a ScaleTool and an InverseKinematicsTool setup file
and an ExternalLoads file for their model. simpipe reads from them only what
its own config would otherwise hold, and never their paths to other files
or output settings (simpipe writes into the task's own folder):

- IK setup: the ``IKMarkerTask`` weights (``apply`` false = weight 0);
- Scale setup: the ``Measurement`` marker pairs and the bodies each one
  scales, and the marker placer's ``IKMarkerTask`` weights;
- ExternalLoads: which data columns each ``ExternalForce`` reads and the
  body it acts on, to turn a GRF file with other column names into
  simpipe's (:mod:`simpipe.io.grf`).

Sets given by reference (``<IKTaskSet file="tasks.xml"/>``) are followed,
relative to the file that refers to them. Unlike OpenSim, which ignores
unknown tags silently (opensim-core #3097), elements simpipe needs but does
not find are errors.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..data import Table
from ..errors import InputError
from .grf import grf_columns, write_grf
from .sto import read_sto

log = logging.getLogger(__name__)


def _parse(path: Path) -> ET.Element:
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(path, f"not valid XML ({exc})") from None


def _text(elem: ET.Element, tag: str, default: str = "") -> str:
    child = elem.find(tag)
    return child.text.strip() if child is not None and child.text else default


def _sets(root: ET.Element, path: Path, tag: str) -> list[tuple[ET.Element, Path]]:
    """Every ``tag`` element, with the file it came from (following ``file=`` references)."""
    out = []
    for elem in root.iter(tag):
        ref = elem.get("file")
        if ref and ref.strip() and ref.strip() != "Unassigned":
            target = (path.parent / ref.strip()).resolve()
            out.append((_parse(target), target))
        else:
            out.append((elem, path))
    return out


def _marker_weights(root: ET.Element, path: Path) -> dict[str, float]:
    weights = {}
    for elem, _ in _sets(root, path, "IKTaskSet"):
        for task in elem.iter("IKMarkerTask"):
            apply = _text(task, "apply", "true").lower() == "true"
            try:
                weights[task.get("name")] = float(_text(task, "weight", "1")) if apply else 0.0
            except ValueError:
                raise InputError(path, f"IKMarkerTask {task.get('name')!r} has a weight that is not a "
                                       "number") from None
    return weights


def read_ik_setup(path: str | Path) -> dict[str, float]:
    """Marker weights of an InverseKinematicsTool setup file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        Marker name -> weight (0 for tasks with ``apply`` false).

    Raises
    ------
    InputError
        Not XML, no ``InverseKinematicsTool``, no marker task, or a weight that
        is not a number.
    """
    path = Path(path)
    root = _parse(path)
    if root.tag != "InverseKinematicsTool" and root.find(".//InverseKinematicsTool") is None:
        raise InputError(path, "has no <InverseKinematicsTool>; is this an IK setup file?")
    weights = _marker_weights(root, path)
    if not weights:
        raise InputError(path, "has no <IKMarkerTask> in its <IKTaskSet>")
    return weights


def read_scale_setup(path: str | Path) -> tuple[dict[str, list[tuple[str, str]]], dict[str, float]]:
    """Scaling marker pairs and marker-placement weights of a ScaleTool setup file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    measurements : dict
        Body -> marker pairs (a measurement that scales several bodies gives
        its pairs to each); measurements with ``apply`` false are left out.
    weights : dict
        Marker name -> weight of the marker placer's tasks.

    Raises
    ------
    InputError
        Not XML, no ``ScaleTool``, a marker pair without two markers, or no
        measurement at all.
    """
    path = Path(path)
    root = _parse(path)
    tool = root if root.tag == "ScaleTool" else root.find(".//ScaleTool")
    if tool is None:
        raise InputError(path, "has no <ScaleTool>; is this a scale setup file?")
    measurements: dict[str, list[tuple[str, str]]] = {}
    for elem, origin in _sets(tool, path, "MeasurementSet"):
        for meas in elem.iter("Measurement"):
            if _text(meas, "apply", "true").lower() != "true":
                continue
            pairs = [_pair(origin, meas, p) for p in meas.iter("MarkerPair")]
            for body in meas.iter("BodyScale"):
                measurements.setdefault(body.get("name"), []).extend(pairs)
    if not measurements:
        raise InputError(path, "has no applied <Measurement> with marker pairs and body scales")
    placer = tool.find(".//MarkerPlacer")
    weights = _marker_weights(placer, path) if placer is not None else {}
    return measurements, weights


def _pair(path: Path, meas: ET.Element, pair: ET.Element) -> tuple[str, str]:
    names = _text(pair, "markers").split()
    if len(names) != 2:
        raise InputError(path, f"Measurement {meas.get('name')!r} has a MarkerPair with {len(names)} "
                               "marker(s); expected two")
    return names[0], names[1]


def read_external_loads(path: str | Path) -> list[dict[str, str]]:
    """The ExternalForce entries of an ExternalLoads file.

    Returns
    -------
    list of dict
        ``name``, ``body``, ``force``, ``point``, ``torque`` (column
        prefixes; OpenSim appends x, y, z), ``force_in``, ``point_in``.

    Raises
    ------
    InputError
        Not XML, no ``ExternalLoads`` or no ``ExternalForce``.
    """
    path = Path(path)
    root = _parse(path)
    loads = root if root.tag == "ExternalLoads" else root.find(".//ExternalLoads")
    if loads is None:
        raise InputError(path, "has no <ExternalLoads>; is this an external loads file?")
    forces = [{"name": f.get("name", ""), "body": _text(f, "applied_to_body"),
               "force": _text(f, "force_identifier"), "point": _text(f, "point_identifier"),
               "torque": _text(f, "torque_identifier"),
               "force_in": _text(f, "force_expressed_in_body", "ground"),
               "point_in": _text(f, "point_expressed_in_body", "ground")} for f in loads.iter("ExternalForce")]
    if not forces:
        raise InputError(path, "has no <ExternalForce>")
    return forces


def convert_external_loads(xml_path: str | Path, grf_path: str | Path, feet: dict[str, str],
                           out_path: str | Path) -> Path:
    """Write a GRF file in simpipe's columns from a lab's GRF file and its ExternalLoads.

    Parameters
    ----------
    xml_path : str or Path
        The ExternalLoads file (its ``datafile`` is not used: the GRF file
        comes from the study config).
    grf_path : str or Path
        The .mot file the ExternalForce identifiers refer to.
    feet : dict
        Side -> foot body (the config's ``feet``).
    out_path : str or Path
        Where to write the converted .mot.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        An ExternalForce on a body that is not a foot, a foot with no
        ExternalForce, forces or points not expressed in ground, or columns
        the identifiers name but the GRF file lacks.
    """
    xml_path, grf_path = Path(xml_path), Path(grf_path)
    forces = read_external_loads(xml_path)
    side_of = {body: side for side, body in feet.items()}
    for f in forces:
        if f["body"] not in side_of:
            raise InputError(xml_path, f"ExternalForce {f['name']!r} acts on body {f['body']!r}, which is not a "
                                       f"foot in 'feet' ({', '.join(feet.values())})")
        if f["force_in"] != "ground" or f["point_in"] != "ground":
            raise InputError(xml_path, f"ExternalForce {f['name']!r}: simpipe needs force and point expressed "
                                       f"in ground, not {f['force_in']!r}/{f['point_in']!r}")
    by_side = {side_of[f["body"]]: f for f in forces}
    missing = [f"{s} ({b})" for s, b in feet.items() if s not in by_side]
    if missing:
        raise InputError(xml_path, f"no ExternalForce is applied to the foot of side(s) {', '.join(missing)}")
    table = read_sto(grf_path)
    cols = [_columns(xml_path, grf_path, table, by_side[s]) for s in feet]
    out = Table(table.time, [c for s in feet for c in grf_columns(s)], np.column_stack(cols))
    return write_grf(out, out_path, sides=tuple(feet))


def _columns(xml_path: Path, grf_path: Path, table: Table, force: dict) -> np.ndarray:
    names = [force["force"] + a for a in "xyz"] + [force["point"] + a for a in "xyz"]
    torque = [force["torque"] + a for a in "xyz"] if force["torque"] else []
    missing = [n for n in names + torque if n not in table.labels]
    if missing:
        raise InputError(grf_path, f"has no column(s) {', '.join(missing)}, which ExternalForce "
                                   f"{force['name']!r} of {xml_path.name} reads")
    values = [table.column(n) for n in names] + ([table.column(n) for n in torque] or [np.zeros(len(table.time))] * 3)
    return np.column_stack(values)
