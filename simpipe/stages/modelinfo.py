"""What simpipe reads from a model to interpret data for it: foot markers, root coordinates.

Both come from the model itself, not from names, so any OpenSim model works
with only the config's mapping (``feet``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from .osimutil import load_model


def foot_marker_names(model_path: str | Path, feet: dict[str, str]) -> dict[str, list[str]]:
    """The model's markers on each foot body and the bodies distal to it (toes).

    Parameters
    ----------
    model_path : str or Path
    feet : dict
        Side -> foot body (the ``feet`` block of the config).

    Returns
    -------
    dict
        Side -> marker names, in model order.

    Raises
    ------
    ModelError
        A side has no marker on its foot (then give ``c3d.foot_markers``).
    """
    model = load_model(model_path)
    model.initSystem()
    parent = {}
    joints = model.getJointSet()
    for i in range(joints.getSize()):
        j = joints.get(i)
        parent[j.getChildFrame().findBaseFrame().getName()] = j.getParentFrame().findBaseFrame().getName()
    markers = model.getMarkerSet()
    out = {}
    for side, body in feet.items():
        names = []
        for i in range(markers.getSize()):
            frame = markers.get(i).getParentFrame().findBaseFrame().getName()
            while frame not in (body, "ground") and frame in parent:
                frame = parent[frame]
            if frame == body:
                names.append(markers.get(i).getName())
        if not names:
            raise ModelError(f"{model_path}: no marker on foot body {body!r} (side {side}) or distal to it; "
                             "name the foot markers in c3d.foot_markers")
        out[side] = names
    return out


def root_coordinates(model_path: str | Path) -> dict[str, list[str]]:
    """Coordinates of the joints between ground and the model, split into forces and moments.

    Parameters
    ----------
    model_path : str or Path

    Returns
    -------
    dict
        ``force``: translational coordinates, ``moment``: rotational ones
        (coupled coordinates are left out).
    """
    model = load_model(model_path)
    model.initSystem()
    out: dict[str, list[str]] = {"force": [], "moment": []}
    joints = model.getJointSet()
    for i in range(joints.getSize()):
        joint = joints.get(i)
        if joint.getParentFrame().findBaseFrame().getName() != model.getGround().getName():
            continue
        for k in range(joint.numCoordinates()):
            coord = joint.get_coordinates(k)
            kind = {1: "moment", 2: "force"}.get(int(coord.getMotionType()))
            if kind:
                out[kind].append(coord.getName())
    return out
