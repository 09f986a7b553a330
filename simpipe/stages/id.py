"""Inverse dynamics: kinematics + external loads -> net generalized forces.

Runs OpenSim's ``InverseDynamicsSolver`` frame by frame on the model with its
muscles, actuators and contact forces switched off and the measured ground
reaction forces applied as ``ExternalForce`` components.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import make_interp_spline

from ..io.filtering import lowpass
from .osimutil import coordinate_names, disable_actuation, load_model, opensim, set_pose, speed_indices

log = logging.getLogger(__name__)


@dataclass
class Kinematics:
    """Coordinates with their first and second time derivatives.

    Attributes
    ----------
    time : ndarray, shape (n,)
    coordinates : list of str
    q, u, udot : ndarray, shape (n, n_coordinates)
        Values (rad or m), speeds (per s) and accelerations (per s^2).
    """

    time: np.ndarray
    coordinates: list[str]
    q: np.ndarray
    u: np.ndarray
    udot: np.ndarray


def differentiate(time: np.ndarray, q: np.ndarray, coordinates: list[str],
                  cutoff_hz: float | None = None) -> Kinematics:
    """Low-pass filter coordinates and differentiate them twice.

    Parameters
    ----------
    time : ndarray, shape (n,)
    q : ndarray, shape (n, m)
    coordinates : list of str
    cutoff_hz : float or None
        Zero-lag Butterworth cut-off applied before differentiation.

    Returns
    -------
    Kinematics

    Notes
    -----
    Derivatives of a quintic interpolating spline (Woltring 1986): smooth
    second derivatives without the noise amplification of finite differences.
    """
    q = np.asarray(q, float)
    if cutoff_hz is not None:
        rate = 1.0 / float(np.median(np.diff(time)))
        q = lowpass(q, rate, cutoff_hz)
    spline = make_interp_spline(time, q, k=5)
    return Kinematics(np.asarray(time, float), list(coordinates), q,
                      spline.derivative(1)(time), spline.derivative(2)(time))


@dataclass
class IDResult:
    """Net generalized forces (N m for rotations, N for translations)."""

    time: np.ndarray
    coordinates: list[str]
    tau: np.ndarray


def _add_external_loads(model, grf_mot: Path, feet: dict[str, str]):
    """Add one ExternalForce per side, reading the simpipe GRF columns."""
    osim = opensim()
    storage = osim.Storage(str(grf_mot))
    for side, body in feet.items():
        force = osim.ExternalForce(storage, f"{side}_ground_force_v", f"{side}_ground_force_p",
                                   f"{side}_ground_torque_", body, "ground", "ground")
        force.setName(f"grf_{side}")
        model.addForce(force)
    return storage


def inverse_dynamics(model_path: str | Path, kinematics: Kinematics, grf_mot: str | Path,
                     feet: dict[str, str]) -> IDResult:
    """Net generalized forces that reproduce the kinematics under the GRF.

    Parameters
    ----------
    model_path : str or Path
        The (scaled) model.
    kinematics : Kinematics
        Coordinates, speeds and accelerations in the model's coordinate order.
    grf_mot : str or Path
        Ground reaction forces in simpipe's column convention
        (``{side}_ground_force_v[xyz]``, ``_p[xyz]``, ``{side}_ground_torque_[xyz]``).
    feet : dict
        Side ('r', 'l') -> body that receives that side's force.

    Returns
    -------
    IDResult
    """
    osim = opensim()
    model = load_model(model_path)
    disable_actuation(model)
    storage = _add_external_loads(model, Path(grf_mot), feet)  # noqa: F841 (kept alive)
    state = model.initSystem()
    names = coordinate_names(model)
    if names != list(kinematics.coordinates):
        raise ValueError(f"kinematics coordinates {kinematics.coordinates} do not match "
                         f"the model's {names}")
    uidx = speed_indices(model, state)
    solver = osim.InverseDynamicsSolver(model)
    n_u = state.getNU()
    tau = np.empty_like(kinematics.q)
    for k, t in enumerate(kinematics.time):
        state.setTime(float(t))
        set_pose(model, state, kinematics.q[k], kinematics.u[k])
        model.realizeVelocity(state)
        udot = np.zeros(n_u)
        udot[uidx] = kinematics.udot[k]
        gen = solver.solve(state, osim.Vector.createFromMat(udot))
        tau[k] = np.array([gen.get(int(j)) for j in uidx])
    return IDResult(kinematics.time, names, tau)
