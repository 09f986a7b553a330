"""Inverse kinematics: marker trajectories -> generalized coordinates.

Uses OpenSim's ``InverseKinematicsSolver`` directly (the engine inside
``InverseKinematicsTool``), fed from memory, so nothing is written to disk and
per-frame marker errors come back as arrays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Markers
from ..errors import InputError
from .osimutil import coordinate_names, load_model, opensim

log = logging.getLogger(__name__)


@dataclass
class IKResult:
    """Result of inverse kinematics.

    Attributes
    ----------
    time : ndarray, shape (n_frames,)
    coordinates : list of str
    q : ndarray, shape (n_frames, n_coordinates)
        Radians for rotations, metres for translations.
    markers : list of str
        Markers that were tracked.
    marker_error : ndarray, shape (n_frames, n_markers)
        Distance between experimental and model markers, metres.
    """

    time: np.ndarray
    coordinates: list[str]
    q: np.ndarray
    markers: list[str]
    marker_error: np.ndarray

    @property
    def rms_error(self) -> np.ndarray:
        """Per-frame RMS marker error (m)."""
        return np.sqrt(np.mean(self.marker_error**2, axis=1))

    @property
    def max_error(self) -> np.ndarray:
        """Per-frame largest marker error (m)."""
        return self.marker_error.max(axis=1)


def _marker_table(markers: Markers, names: list[str]):
    """The named markers as an OpenSim TimeSeriesTableVec3 (built in one call)."""
    osim = opensim()
    cols = [markers.names.index(n) for n in names]
    flat = np.ascontiguousarray(markers.xyz[:, cols, :], dtype=float).reshape(len(markers.time), 3 * len(cols))
    labels = [f"{n}_{axis}" for n in names for axis in "123"]
    table = osim.TimeSeriesTable([float(t) for t in markers.time], osim.Matrix.createFromMat(flat), labels)
    packed = table.packVec3()
    packed.addTableMetaDataString("Units", "m")
    return packed


def tracked_markers(model_markers: list[str], markers: Markers, weights: dict[str, float],
                    source: str | Path) -> list[str]:
    """Markers present in both the model and the data, with nonzero weight.

    Raises
    ------
    InputError
        If a marker given a weight is absent from the data, or fewer than three
        markers remain.
    """
    absent = [n for n, w in weights.items() if w > 0 and n not in markers.names]
    if absent:
        raise InputError(source, f"marker(s) {absent} have IK weights but are not in the file")
    names = [n for n in model_markers if n in markers.names and weights.get(n, 1.0) > 0]
    if len(names) < 3:
        raise InputError(source, f"only {len(names)} of the model's markers are in the file "
                                 f"(model markers: {model_markers}); check the marker names")
    return names


def inverse_kinematics(model_path: str | Path, markers: Markers, weights: dict[str, float] | None = None,
                       accuracy: float = 1e-6, source: str | Path = "<markers>") -> IKResult:
    """Solve inverse kinematics frame by frame.

    Parameters
    ----------
    model_path : str or Path
        The (scaled) model.
    markers : Markers
        Experimental markers in metres, in the model's ground frame.
    weights : dict, optional
        Marker name -> weight (default 1 for every tracked marker).
    accuracy : float
        Solver accuracy (as in OpenSim's IK setup).
    source : str or Path
        Names the marker file in errors.

    Returns
    -------
    IKResult

    Notes
    -----
    Weighted least squares of marker distances per frame (Lu & O'Connor 1999),
    each frame warm-started from the previous one, as OpenSim's tool does.
    """
    osim = opensim()
    weights = dict(weights or {})
    model = load_model(model_path)
    state = model.initSystem()
    ms = model.getMarkerSet()
    model_markers = [ms.get(i).getName() for i in range(ms.getSize())]
    names = tracked_markers(model_markers, markers, weights, source)
    wset = osim.SetMarkerWeights()
    for n in names:
        wset.cloneAndAppend(osim.MarkerWeight(n, float(weights.get(n, 1.0))))
    mref = osim.MarkersReference(_marker_table(markers, names), wset)
    solver = osim.InverseKinematicsSolver(model, mref, osim.SimTKArrayCoordinateReference())
    solver.setAccuracy(accuracy)
    coords = coordinate_names(model)
    cs = model.getCoordinateSet()
    n = len(markers.time)
    q = np.empty((n, len(coords)))
    err = np.empty((n, len(names)))
    order = None
    errors = osim.SimTKArrayDouble()
    for k, t in enumerate(markers.time):
        state.setTime(float(t))
        if k == 0:
            solver.assemble(state)
        else:
            solver.track(state)
        q[k] = [cs.get(i).getValue(state) for i in range(len(coords))]
        if order is None:
            order = [solver.getMarkerNameForIndex(i) for i in range(solver.getNumMarkersInUse())]
            perm = [order.index(m) for m in names]
        solver.computeCurrentMarkerErrors(errors)
        err[k] = np.array([errors.getElt(i) for i in range(errors.size())])[perm]
    return IKResult(np.asarray(markers.time, float), coords, q, names, err)
