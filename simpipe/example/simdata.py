"""Plain arrays from a Moco running solution: kinematics, contact GRF, muscles.

:func:`cycle_data` turns the half-cycle solution of
:func:`simpipe.example.simulate.simulate_running` into one full gait cycle
(:func:`simpipe.example.simulate.mirror_half_cycle`) and evaluates the
simulation model along it: coordinate values, speeds and accelerations,
the ground reaction force of each foot computed from its
SmoothSphereHalfSpaceForce contacts, and muscle activations and forces.
Everything returned is a numpy array with its labels next to it, ready for
the example generator's writers (TRC, .mot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simpipe.stages.osimutil import opensim

#: Vertical force (N) below which a foot's centre of pressure is undefined (NaN).
COP_MIN_FORCE = 1.0


@dataclass
class FootGRF:
    """Ground reaction force on one foot, ground frame (OpenSim axes, y up).

    Attributes
    ----------
    force : ndarray, shape (n, 3)
        Force of the ground on the foot (N).
    cop : ndarray, shape (n, 3)
        Centre of pressure on the ground plane y = 0 (m); NaN where the
        vertical force is below :data:`COP_MIN_FORCE`.
    free_moment : ndarray, shape (n,)
        Moment about the vertical axis through the centre of pressure (N m);
        zero (to rounding) for a sagittal model; NaN where ``cop`` is.
    contacts : list of str
        Paths of the contact forces summed.
    """

    force: np.ndarray
    cop: np.ndarray
    free_moment: np.ndarray
    contacts: list


@dataclass
class CycleData:
    """One full gait cycle of a simulation, as labelled arrays (SI units, radians).

    Attributes
    ----------
    time : ndarray, shape (n,)
        Seconds from the start of the cycle.
    coordinates : list of str
        Coordinate names, model order.
    q, u, udot : ndarray, shape (n, n_coordinates)
        Values (rad or m), speeds and accelerations (from the model's
        equations of motion at the solution's states and controls).
    grf : dict of str to FootGRF
        Per foot side ('r', 'l').
    muscles : list of str
        Muscle names.
    activation, muscle_force : ndarray, shape (n, n_muscles)
        Activation (0-1) and tendon force (N).
    """

    time: np.ndarray
    coordinates: list
    q: np.ndarray
    u: np.ndarray
    udot: np.ndarray
    grf: dict = field(default_factory=dict)
    muscles: list = field(default_factory=list)
    activation: np.ndarray = None
    muscle_force: np.ndarray = None

    def coordinate(self, name: str) -> np.ndarray:
        """Values of one coordinate by name."""
        return self.q[:, self.coordinates.index(name)]


def foot_contacts(model, feet: dict[str, str]) -> dict[str, list[str]]:
    """Paths of the SmoothSphereHalfSpaceForce components whose sphere is on each foot body.

    Parameters
    ----------
    model : opensim.Model
    feet : dict of str to str
        Side -> foot body name, e.g. ``{'r': 'calcn_r', 'l': 'calcn_l'}``.

    Returns
    -------
    dict of str to list of str
    """
    osim = opensim()
    side_of = {body: side for side, body in feet.items()}
    out = {side: [] for side in feet}
    for force in model.getComponentsList():
        contact = osim.SmoothSphereHalfSpaceForce.safeDownCast(force)
        if contact is None:
            continue
        sphere = contact.getConnectee("sphere")
        body = osim.ContactGeometry.safeDownCast(sphere).getFrame().findBaseFrame().getName()
        if body in side_of:
            out[side_of[body]].append(contact.getAbsolutePathString())
    return out


def _record(contact, state) -> np.ndarray:
    values = contact.getRecordValues(state)
    return np.array([values.get(i) for i in range(values.size())])


def foot_grf_row(model, state, contacts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Force on the foot and its moment about the ground origin, summed over contacts.

    SmoothSphereHalfSpaceForce records the force on the sphere (entries 0-2)
    and the torque on the half space about the ground origin (entries 9-11);
    the moment of the ground's force on the foot is minus the latter.
    """
    osim = opensim()
    force, moment = np.zeros(3), np.zeros(3)
    for path in contacts:
        rec = _record(osim.SmoothSphereHalfSpaceForce.safeDownCast(model.getComponent(path)), state)
        force += rec[0:3]
        moment -= rec[9:12]
    return force, moment


def centre_of_pressure(force: np.ndarray, moment: np.ndarray,
                       min_force: float = COP_MIN_FORCE) -> tuple[np.ndarray, np.ndarray]:
    """Centre of pressure on y = 0 and free moment from force and moment about the origin.

    Parameters
    ----------
    force, moment : ndarray, shape (n, 3)
        Force on the foot and its moment about the ground origin.
    min_force : float
        Vertical force (N) below which the result is NaN.

    Returns
    -------
    cop : ndarray, shape (n, 3)
    free_moment : ndarray, shape (n,)

    Notes
    -----
    With the point on the plane (y = 0) and only a vertical free moment
    ``T``: ``M = p x F + T e_y``, so ``p_x = M_z / F_y``, ``p_z = -M_x / F_y``
    and ``T = M_y - (p_z F_x - p_x F_z)``.
    """
    fy = force[:, 1]
    on = fy >= min_force
    cop = np.full(force.shape, np.nan)
    free = np.full(len(force), np.nan)
    cop[on, 0] = moment[on, 2] / fy[on]
    cop[on, 1] = 0.0
    cop[on, 2] = -moment[on, 0] / fy[on]
    free[on] = moment[on, 1] - (cop[on, 2] * force[on, 0] - cop[on, 0] * force[on, 2])
    return cop, free


def _set_row(model, state, names: list, values: np.ndarray) -> None:
    for name, value in zip(names, values):
        model.setStateVariableValue(state, name, float(value))


def _controls_vector(model, control_names: list, values: np.ndarray):
    """The model's control vector (actuator order) from named control values."""
    osim = opensim()
    acts = model.getActuators()
    index = {acts.get(i).getAbsolutePathString(): i for i in range(acts.getSize())}
    vec = osim.Vector(model.getNumControls(), 0.0)
    for name, value in zip(control_names, values):
        vec.set(index[name], float(value))
    return vec


def evaluate_cycle(model, cycle, feet: dict[str, str]) -> CycleData:
    """Evaluate a simulation model along a cycle of states and controls.

    Parameters
    ----------
    model : opensim.Model
        The model the solution was computed with (same actuators).
    cycle : simpipe.example.simulate.Cycle
        States and controls over time (e.g. from ``mirror_half_cycle``).
    feet : dict of str to str
        Side -> foot body name.

    Returns
    -------
    CycleData
    """
    state = model.initSystem()
    coords = model.getCoordinateSet()
    names = [coords.get(i).getName() for i in range(coords.getSize())]
    muscles = model.getMuscles()
    mnames = [muscles.get(i).getName() for i in range(muscles.getSize())]
    contacts = foot_contacts(model, feet)
    n, m, k = len(cycle.time), len(names), len(mnames)
    q, u, udot = np.empty((n, m)), np.empty((n, m)), np.empty((n, m))
    act, frc = np.empty((n, k)), np.empty((n, k))
    force = {s: np.empty((n, 3)) for s in contacts}
    moment = {s: np.empty((n, 3)) for s in contacts}
    for row in range(n):
        state.setTime(float(cycle.time[row]))
        _set_row(model, state, cycle.state_names, cycle.states[row])
        model.realizeVelocity(state)
        model.setControls(state, _controls_vector(model, cycle.control_names, cycle.controls[row]))
        model.realizeAcceleration(state)
        for j in range(m):
            c = coords.get(j)
            q[row, j], u[row, j] = c.getValue(state), c.getSpeedValue(state)
            udot[row, j] = c.getAccelerationValue(state)
        for j in range(k):
            act[row, j] = muscles.get(j).getActivation(state)
            frc[row, j] = muscles.get(j).getTendonForce(state)
        for side, paths in contacts.items():
            force[side][row], moment[side][row] = foot_grf_row(model, state, paths)
    grf = {}
    for side in contacts:
        cop, free = centre_of_pressure(force[side], moment[side])
        grf[side] = FootGRF(force[side], cop, free, contacts[side])
    return CycleData(np.asarray(cycle.time, float), names, q, u, udot, grf, mnames, act, frc)


def cycle_data(model_path: str | Path, solution_path: str | Path, settings=None,
               feet: dict[str, str] | None = None) -> CycleData:
    """Full-cycle arrays from a half-cycle solution of :func:`~simpipe.example.simulate.simulate_running`.

    Parameters
    ----------
    model_path : str or Path
        The model the solution was solved on (the same file).
    solution_path : str or Path
        The MocoTrajectory (.sto) of the half cycle.
    settings : simpipe.example.simulate.SimSettings, optional
        The settings of the solve (they define the actuators added to the
        model); default ``SimSettings()``.
    feet : dict of str to str, optional
        Side -> foot body; default ``{'r': 'calcn_r', 'l': 'calcn_l'}``.

    Returns
    -------
    CycleData
        Time from 0 to one cycle, the half cycle mirrored left/right
        (:func:`~simpipe.example.simulate.mirror_half_cycle`).

    Notes
    -----
    Accelerations are the model's forward dynamics at the solution's states
    and controls (what the explicit-dynamics solver enforced at its mesh
    points). The GRF of each foot sums its contact spheres' forces; the
    centre of pressure follows from their moment (see
    :func:`centre_of_pressure`).
    """
    from simpipe.example import simulate as sim

    settings = settings if settings is not None else sim.SimSettings()
    feet = feet or {"r": "calcn_r", "l": "calcn_l"}
    model = sim.simulation_model(model_path, settings)
    half = sim.read_solution(solution_path)
    full = sim.mirror_half_cycle(half)
    full.time = full.time - full.time[0]
    return evaluate_cycle(model, full, feet)
