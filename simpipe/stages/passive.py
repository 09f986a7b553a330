"""Passive fiber forces of muscles along a measured motion.

The rectus femoris stiffness acts here first: with the kinematics of a trial
fixed, a stiffer passive force-length curve gives a larger passive force at
the same hip extension and knee flexion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from .osimutil import coordinate_names, load_model, set_pose


def passive_fiber_forces(model_path: str | Path, coordinates: list[str], q: np.ndarray,
                         muscles: list[str]) -> np.ndarray:
    """Passive fiber force (N) of each muscle at each pose.

    Parameters
    ----------
    model_path : str or Path
    coordinates : list of str
        Names of the columns of ``q`` (must equal the model's coordinate order).
    q : ndarray, shape (n, n_coordinates)
    muscles : list of str

    Returns
    -------
    ndarray, shape (n, n_muscles)

    Notes
    -----
    Each pose is held still, activations are set to the muscles' minimum and
    the muscles are equilibrated (fiber and tendon forces balanced), then the
    passive fiber force is read along the tendon.
    """
    model = load_model(model_path)
    ms = model.getMuscles()
    have = [ms.get(i).getName() for i in range(ms.getSize())]
    missing = [m for m in muscles if m not in have]
    if missing:
        raise ModelError(f"{model_path}: no muscle(s) {missing}; muscles are {have}")
    state = model.initSystem()
    if coordinate_names(model) != list(coordinates):
        raise ModelError(f"{model_path}: coordinates {coordinates} do not match the model's")
    handles = [ms.get(m) for m in muscles]
    for mus in handles:
        # 0.01, not 0: OpenSim's equilibrium gives NaN passive force at zero activation
        mus.setActivation(state, max(mus.getMinControl(), 0.01))
    out = np.empty((len(q), len(muscles)))
    for k in range(len(q)):
        set_pose(model, state, q[k], np.zeros(len(coordinates)))
        for mus in handles:  # only the muscles asked for: the others need no equilibrium
            mus.computeEquilibrium(state)
        model.realizeDynamics(state)
        out[k] = [h.getPassiveFiberForceAlongTendon(state) for h in handles]
    return out
