"""Small helpers shared by the stages to build and pose OpenSim models.

OpenSim objects are created here, inside the calling task's process, and
never returned across a process boundary.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import ModelError

log = logging.getLogger(__name__)


def opensim():
    """Import OpenSim quietly (its logger otherwise floods the terminal)."""
    import opensim as osim

    if not getattr(osim, "_simpipe_quiet", False):
        osim.Logger.setLevelString("warn")
        osim.Logger.removeFileSink()  # else OpenSim writes opensim.log into the working directory
        osim._simpipe_quiet = True
    return osim


def load_model(path: str | Path):
    """Load an .osim file, with an error naming it when OpenSim cannot.

    Parameters
    ----------
    path : str or Path
        The model file.

    Returns
    -------
    opensim.Model
        The model, not yet initialized.
    """
    osim = opensim()
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        return osim.Model(str(path))
    except Exception as exc:  # OpenSim raises RuntimeError with XML details
        raise ModelError(f"{path}: OpenSim could not load the model: {exc}") from None


def coordinate_names(model) -> list[str]:
    """Names of the model's coordinates, in the coordinate set's order."""
    cs = model.getCoordinateSet()
    return [cs.get(i).getName() for i in range(cs.getSize())]


def speed_indices(model, state) -> np.ndarray:
    """Index in the state's U vector of each coordinate's speed.

    Found by setting one coordinate speed at a time, which holds for any joint
    type without relying on mobilizer bookkeeping.
    """
    cs = model.getCoordinateSet()
    n_u = state.getNU()
    index = np.empty(cs.getSize(), dtype=int)
    for i in range(cs.getSize()):
        state.setU(_zeros_vector(n_u))
        cs.get(i).setSpeedValue(state, 1.0)
        u = np.array([state.getU().get(j) for j in range(n_u)])
        index[i] = int(np.argmax(np.abs(u)))
    state.setU(_zeros_vector(n_u))
    return index


def _zeros_vector(n: int):
    osim = opensim()
    return osim.Vector(n, 0.0)


def set_pose(model, state, q: np.ndarray, u: np.ndarray | None = None) -> None:
    """Set coordinate values (and speeds) in coordinate-set order.

    Constraints are not enforced (the values are taken as given).
    """
    cs = model.getCoordinateSet()
    for i in range(cs.getSize()):
        cs.get(i).setValue(state, float(q[i]), False)
        if u is not None:
            cs.get(i).setSpeedValue(state, float(u[i]))


def disable_actuation(model) -> list[str]:
    """Switch off every muscle, actuator and contact force of a model.

    Used where the net generalized forces are wanted (inverse dynamics), as
    OpenSim's InverseDynamicsTool does by excluding muscles by default.

    Returns
    -------
    list of str
        Names of the forces switched off.
    """
    fs = model.getForceSet()
    off = []
    for i in range(fs.getSize()):
        force = fs.get(i)
        if force.getConcreteClassName() in ("ExternalForce", "PrescribedForce"):
            continue
        force.set_appliesForce(False)
        off.append(force.getName())
    return off


def require_coordinates(model, names: list[str], model_path: str | Path) -> None:
    """Raise ModelError naming coordinates the model lacks."""
    have = set(coordinate_names(model))
    missing = [n for n in names if n not in have]
    if missing:
        raise ModelError(f"{model_path}: model has no coordinate(s) {missing}; "
                         f"it has {sorted(have)}")
