"""Induced-acceleration analysis from the model's constrained equations of motion.

simpipe computes each force's contribution to the body mass-centre
acceleration itself rather than with OpenSim's InducedAccelerations analysis,
which takes muscle forces from muscle states (silently wrong when given a
controls file), cannot run with external loads (opensim-core #2689) and has
reported sign and timing problems (#3184, #3923); see FACTS.md.

Method (Zajac & Gordon 1989; Hamner, Seth & Delp 2010, J Biomech 43:2709).
At each frame, with the measured coordinates ``q`` and speeds ``u``, every
foot in stance (its vertical GRF above a threshold) is held to the ground at
the measured centre of pressure (CoP): the material point of the foot that
lies at the CoP may not accelerate in the sagittal plane (fore-aft and
vertical), ``P udot = -Pdot u``. This is the planar form of OpenSim's
rolling-on-surface contact used by Hamner et al. (no penetration and no
slip at the CoP, the foot free to roll about it); the foot's rotation is
left free unless ``foot_flat_rad_s`` is given, in which case a foot whose
angular speed is below it is also kept from rotating (foot flat). For each
force ``i`` separately the linear system

    M udot_i = f_i + P^T lambda_i,     P udot_i = b_i

is solved, where ``f_i`` is the generalized force of source ``i`` alone:
each muscle's tendon force applied along its path (moment arms times force),
each reserve or residual actuator, gravity, and the velocity-dependent
(Coriolis and centrifugal) forces, which also carry the constraint bias
``b = -Pdot u`` (``b_i = 0`` for every other source). The mass-centre
acceleration induced by source ``i`` is ``J_com udot_i`` (plus ``Jdot_com u``
for the velocity term) and ``lambda_i`` is its contribution to the ground
reaction force.

The held feet's motion. The no-slip constraint says that the material point
of the foot at the CoP does not accelerate; a real (or simulated) foot's
point there does: at impact the foot is still decelerating into the ground
(soft tissue, shoe, contact spheres), a smooth friction model lets it slide,
and a rolling foot's point under the CoP moves. One more source,
``contact_motion``, carries that: no force, ``b_i`` = the held points'
acceleration in the measured motion (``P udot_meas + Pdot u``). The system is
linear, so the sources still add up, now to the measured motion's own
acceleration, and each force's contribution is the no-slip one of Hamner et
al. ``contact_motion`` is zero for a foot that stays put; its size tells how
far the data are from the constraint.

Superposition check: the contributions of all sources add up to the
acceleration of the constrained system under all forces together, which
equals the mass-centre acceleration implied by the measured ground reaction
force, ``GRF / m + g``, when the forces reproduce inverse dynamics and the
kinematics and forces are one motion. :class:`SuperpositionCheck` reports
how close that is (it is what proves the analysis right, FACTS.md) and also
the error of the sum without ``contact_motion`` (the no-slip analysis alone).
On the simulated example that is 15-20 % of the peak, nearly all of it in the
first 30 ms after foot strike; with the term, 0.5-2 %.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..analysis.phases import stance_phases
from ..errors import ModelError
from .muscles import path_generalized_forces
from .osimutil import coordinate_names, load_model, opensim, set_pose, speed_indices

log = logging.getLogger(__name__)

#: Sources after the muscles and actuators, in this order (also their kinds).
EXTRA_SOURCES = ("gravity", "velocity", "contact_motion")
#: Their columns, counted from the end.
GRAVITY, VELOCITY, CONTACT_MOTION = -3, -2, -1


@dataclass
class AppliedForces:
    """Forces whose contributions are wanted, sampled at the kinematics frames.

    Attributes
    ----------
    muscles : list of str
    tendon_force : ndarray, shape (n, n_muscles)
        Tendon forces (N).
    actuators : list of str
        Ideal actuators (reserves, residuals).
    actuator_coordinates : list of str
        The coordinate each actuator drives.
    actuator_kinds : list of str
        ``'reserve'`` or ``'residual'``.
    actuator_force : ndarray, shape (n, n_actuators)
        Generalized forces (N m, N).
    """

    muscles: list[str]
    tendon_force: np.ndarray
    actuators: list[str]
    actuator_coordinates: list[str]
    actuator_kinds: list[str]
    actuator_force: np.ndarray


@dataclass
class SuperpositionCheck:
    """Sum of all contributions against the measured mass-centre acceleration.

    Attributes
    ----------
    measured : ndarray, shape (n, 2)
        ``GRF / m + g`` (fore-aft, vertical; m/s^2).
    total : ndarray, shape (n, 2)
        Sum of the contributions of all sources.
    kinematic : ndarray, shape (n, 2)
        The mass-centre acceleration of the kinematics (``J_com udot + Jdot_com u``).
    stance : ndarray of bool, shape (n,)
        Frames inside complete stances (where the check is scored).
    relative_rms : float
        RMS over stance frames of ``|total - measured|`` divided by the peak
        of ``|measured|`` there (the pass criterion: below 0.05).
    relative_rms_axes : ndarray, shape (2,)
        The same per axis, each over its own axis' peak.
    rms_error : float
        RMS of ``|total - measured|`` over stance frames (m/s^2).
    peak : float
        Peak of ``|measured|`` over stance frames (m/s^2).
    constraint_relative_rms : float
        RMS of the ``contact_motion`` contribution over the same peak: how
        far the held feet's measured motion is from the no-slip constraint
        (a foot that slides or sinks, a CoP point that rolls).
    data_relative_rms : float
        RMS of ``|kinematic - measured|`` over the same peak: the part of the
        error that the data carry (filtered kinematics against unfiltered
        forces, motion and forces not from one system), whatever the forces.
    generalized_force_rms : float
        RMS over stance frames and coordinates of the forces' mismatch with
        the equations of motion at the measured accelerations and GRF (N m,
        N): zero when the forces reproduce inverse dynamics.
    no_slip_relative_rms : float
        The error of the sum without ``contact_motion`` (the forces'
        contributions under the no-slip constraint alone, as in Hamner et
        al.), over the same peak.
    no_slip_total : ndarray, shape (n, 2)
        That sum.
    figure : str
        The PNG written ('' if none).
    """

    measured: np.ndarray
    total: np.ndarray
    kinematic: np.ndarray
    stance: np.ndarray
    relative_rms: float
    relative_rms_axes: np.ndarray
    rms_error: float
    peak: float
    constraint_relative_rms: float
    data_relative_rms: float
    generalized_force_rms: float
    no_slip_relative_rms: float = float("nan")
    no_slip_total: np.ndarray | None = None
    figure: str = ""

    def passed(self, tolerance: float = 0.05) -> bool:
        """True when ``relative_rms`` is within ``tolerance``."""
        return bool(self.relative_rms <= tolerance)


@dataclass
class InducedAccelerations:
    """Contribution of every force to the mass-centre acceleration.

    Attributes
    ----------
    time : ndarray, shape (n,)
    sources : list of str
        Muscles, then actuators, then ``'gravity'`` and ``'velocity'``.
    kinds : list of str
        ``'muscle'``, ``'reserve'``, ``'residual'``, ``'gravity'`` or ``'velocity'``.
    com_acc : ndarray, shape (n, n_sources, 2)
        Induced mass-centre acceleration, fore-aft (ground x) and vertical
        (ground y), m/s^2.
    ground_force : ndarray, shape (n, n_sources, 2)
        Induced ground reaction force (N), summed over constrained feet.
    constrained : dict
        Side -> bool array (n,): frames in which that foot was held.
    mass_kg : float
        Model mass.
    check : SuperpositionCheck
    """

    time: np.ndarray
    sources: list[str]
    kinds: list[str]
    com_acc: np.ndarray
    ground_force: np.ndarray
    constrained: dict
    mass_kg: float
    check: SuperpositionCheck

    def to_dict(self) -> dict:
        """Plain dict (arrays, lists, numbers) for a task's output."""
        return asdict(self)


class _Mechanics:
    """The model's mass matrix, Jacobians and force mappings at one frame."""

    def __init__(self, model_path: str | Path, coordinates: list[str]):
        self.osim = opensim()
        self.model = load_model(model_path)  # keep a reference: everything below belongs to it
        self.state = self.model.initSystem()
        if coordinate_names(self.model) != list(coordinates):
            raise ModelError(f"{model_path}: coordinates {list(coordinates)} do not match "
                             f"the model's {coordinate_names(self.model)}")
        self.matter = self.model.getMatterSubsystem()
        self.uidx = speed_indices(self.model, self.state)
        self.n_u = self.state.getNU()
        bodies = self.model.getBodySet()
        self.bodies = [bodies.get(i) for i in range(bodies.getSize())]
        self.masses = np.array([b.getMass() for b in self.bodies])
        self.mass = float(self.masses.sum())
        self.gravity = self.model.getGravity().to_numpy()

    def pose(self, q: np.ndarray, u: np.ndarray) -> None:
        set_pose(self.model, self.state, q, u)
        self.model.realizeVelocity(self.state)

    def station(self, body, point) -> tuple[np.ndarray, np.ndarray]:
        """Station Jacobian (3, n_u) and bias ``Jdot u`` (3,) of a body-fixed point."""
        jac = self.osim.Matrix()
        mbi = body.getMobilizedBodyIndex()
        vec = self.osim.Vec3(*map(float, point))
        self.matter.calcStationJacobian(self.state, mbi, vec, jac)
        bias = self.matter.calcBiasForStationJacobian(self.state, mbi, vec)
        return jac.to_numpy(), bias.to_numpy()

    def angular(self, body) -> tuple[np.ndarray, float, float]:
        """Row of the body's z angular velocity (1, n_u), its bias, and the speed."""
        jac = self.osim.Matrix()
        mbi = body.getMobilizedBodyIndex()
        origin = self.osim.Vec3(0.0)
        self.matter.calcFrameJacobian(self.state, mbi, origin, jac)
        bias = self.matter.calcBiasForFrameJacobian(self.state, mbi, origin).get(0).get(2)
        omega = body.getAngularVelocityInGround(self.state).get(2)
        return jac.to_numpy()[2:3], float(bias), float(omega)

    def mass_matrix(self) -> np.ndarray:
        mat = self.osim.Matrix()
        self.matter.calcM(self.state, mat)
        return mat.to_numpy()

    def bias_forces(self) -> np.ndarray:
        """Coriolis and centrifugal generalized forces ``C(q, u)`` (U order)."""
        osim = self.osim
        res = osim.Vector()
        self.matter.calcResidualForceIgnoringConstraints(
            self.state, osim.Vector(0, 0.0), osim.VectorOfSpatialVec(0, osim.SpatialVec()),
            osim.Vector(0, 0.0), res)
        return res.to_numpy()

    def com_and_gravity(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mass-centre Jacobian (3, n_u), its bias (3,), gravity's generalized force (n_u,)."""
        jac = np.zeros((3, self.n_u))
        bias = np.zeros(3)
        grav = np.zeros(self.n_u)
        for body, m in zip(self.bodies, self.masses):
            j, b = self.station(body, body.getMassCenter().to_numpy())
            jac += m * j
            bias += m * b
            grav += j.T @ (m * self.gravity)
        return jac / self.mass, bias / self.mass, grav

    def cop_in_body(self, body, cop: np.ndarray) -> np.ndarray:
        """The measured CoP (ground) expressed in the foot body's frame."""
        ground = self.model.getGround()
        loc = ground.findStationLocationInAnotherFrame(self.state, self.osim.Vec3(*map(float, cop)), body)
        return loc.to_numpy()


def _constraints(mech: _Mechanics, feet: dict, on: dict, cop: dict, k: int,
                 foot_flat_rad_s: float | None):
    """Constraint rows P, bias rhs b, and per side the rows of its forces."""
    rows, rhs, blocks = [], [], {}
    for side, body_name in feet.items():
        if not on[side][k]:
            continue
        body = mech.model.getBodySet().get(body_name)
        jac, bias = mech.station(body, mech.cop_in_body(body, cop[side][k]))
        start = len(rows)
        rows += [jac[0], jac[1]]
        rhs += [-bias[0], -bias[1]]
        if foot_flat_rad_s is not None:
            row, b_ang, omega = mech.angular(body)
            if abs(omega) < foot_flat_rad_s:
                rows.append(row[0])
                rhs.append(-b_ang)
        blocks[side] = (start, start + 2)
    return np.array(rows).reshape(-1, mech.n_u), np.array(rhs), blocks


def _solve_frame(mech: _Mechanics, forces: np.ndarray, P: np.ndarray,
                 constraint_rhs: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Accelerations (n_u, k) and multipliers (n_c, k) of each source column.

    ``forces`` holds each source's generalized force (columns);
    ``constraint_rhs`` maps a column to the right-hand side of ``P udot`` it
    carries (zero for the others).
    """
    M = mech.mass_matrix()
    n, nc = M.shape[0], P.shape[0]
    kkt = np.zeros((n + nc, n + nc))
    kkt[:n, :n] = M
    kkt[:n, n:] = -P.T
    kkt[n:, :n] = P
    rhs = np.zeros((n + nc, forces.shape[1]))
    rhs[:n] = forces
    for col, values in constraint_rhs.items():
        rhs[n:, col] = values
    sol = np.linalg.solve(kkt, rhs)
    return sol[:n], sol[n:]


def _force_columns(mech: _Mechanics, forces: AppliedForces, k: int, coordinates: list[str]):
    """Generalized force of every source at frame ``k``, U order, shape (n_u, n_sources)."""
    n_src = len(forces.muscles) + len(forces.actuators) + len(EXTRA_SOURCES)
    cols = np.zeros((mech.n_u, n_src))
    unit = path_generalized_forces(mech.model, mech.state, forces.muscles, mech.uidx)
    cols[mech.uidx, :len(forces.muscles)] = unit * forces.tendon_force[k][None, :]
    base = len(forces.muscles)
    for j, coord in enumerate(forces.actuator_coordinates):
        cols[mech.uidx[coordinates.index(coord)], base + j] = forces.actuator_force[k, j]
    jac_com, bias_com, gravity = mech.com_and_gravity()
    cols[:, GRAVITY] = gravity
    cols[:, VELOCITY] = -mech.bias_forces()  # CONTACT_MOTION: no force, only its constraint term
    return cols, jac_com, bias_com


def _frame(mech, forces, coordinates, feet, on, cop, grf, kin_udot, k, foot_flat_rad_s):
    """Induced accelerations and ground forces of one frame, plus check terms."""
    cols, jac_com, bias_com = _force_columns(mech, forces, k, coordinates)
    P, b, blocks = _constraints(mech, feet, on, cop, k, foot_flat_rad_s)
    udot_meas = np.zeros(mech.n_u)
    udot_meas[mech.uidx] = kin_udot[k]
    n_src = cols.shape[1]
    # the held points' acceleration in the measured motion (P udot + Pdot u; b = -Pdot u)
    held_acc = P @ udot_meas - b
    udot, lam = _solve_frame(mech, cols, P, {n_src + VELOCITY: b, n_src + CONTACT_MOTION: held_acc})
    acc = (jac_com @ udot)[:2].T
    acc[n_src + VELOCITY] += bias_com[:2]
    ground = np.zeros((n_src, 2))
    for lo, hi in blocks.values():
        ground += lam[lo:hi].T
    kinematic = (jac_com @ udot_meas + bias_com)[:2]
    # mismatch of the forces with the equations of motion at the measured motion and GRF
    applied = cols.sum(axis=1)
    for side, body_name in feet.items():
        if on[side][k]:
            body = mech.model.getBodySet().get(body_name)
            jac, _ = mech.station(body, mech.cop_in_body(body, cop[side][k]))
            applied += jac.T @ grf[side][k]
    mismatch = mech.mass_matrix() @ udot_meas - applied
    return acc, ground, kinematic, mismatch[mech.uidx]


def induced_accelerations(model_path: str | Path, time: np.ndarray, coordinates: list[str],
                          q: np.ndarray, u: np.ndarray, udot: np.ndarray, forces: AppliedForces,
                          grf: dict, cop: dict, feet: dict, threshold_n: float = 20.0,
                          foot_flat_rad_s: float | None = None, contact: dict | None = None,
                          figure: str | Path | None = None, title: str = "") -> InducedAccelerations:
    """Each force's contribution to the mass-centre acceleration (see module notes).

    Parameters
    ----------
    model_path : str or Path
        The model variant whose muscles' paths apply the tendon forces.
    time : ndarray, shape (n,)
    coordinates : list of str
        The model's coordinates, columns of ``q``, ``u``, ``udot``.
    q, u, udot : ndarray, shape (n, n_coordinates)
        Filtered kinematics and derivatives (from inverse dynamics).
    forces : AppliedForces
        Muscle and actuator forces at ``time``.
    grf, cop : dict
        Side -> ndarray (n, 3): measured ground reaction force (N) and centre
        of pressure (m), ground frame, at ``time``.
    feet : dict
        Side -> foot body.
    threshold_n : float
        A foot is held to the ground while its vertical GRF exceeds this.
    foot_flat_rad_s : float or None
        Also keep a held foot from rotating while its angular speed is below
        this (rad/s); None (default) never.
    contact : dict, optional
        Side -> bool array (n,): frames in which the foot is held. Default:
        ``grf`` vertical above ``threshold_n``. Pass the contact of the
        unfiltered force when ``grf`` is low-passed: filtering spreads the
        force onto frames where the foot is still swinging.
    figure : str or Path, optional
        Write the superposition check's figure (PNG) here.
    title : str
        Figure title.

    Returns
    -------
    InducedAccelerations
    """
    mech = _Mechanics(model_path, coordinates)
    on = contact if contact is not None else {s: np.asarray(grf[s])[:, 1] > threshold_n for s in feet}
    n, n_src = len(time), len(forces.muscles) + len(forces.actuators) + len(EXTRA_SOURCES)
    acc, ground = np.zeros((n, n_src, 2)), np.zeros((n, n_src, 2))
    kinematic, mismatch = np.zeros((n, 2)), np.zeros((n, len(coordinates)))
    for k in range(n):
        mech.pose(q[k], u[k])
        acc[k], ground[k], kinematic[k], mismatch[k] = _frame(
            mech, forces, list(coordinates), feet, on, cop, grf, udot, k, foot_flat_rad_s)
    measured = sum(np.asarray(grf[s])[:, :2] for s in feet) / mech.mass + mech.gravity[:2]
    stance = complete_stance_frames(np.asarray(time), on, feet)
    check = superposition_check(measured, acc.sum(axis=1), kinematic, stance, mismatch,
                                acc[:, CONTACT_MOTION])
    if figure is not None:
        check.figure = str(plot_superposition(np.asarray(time), check, figure, title))
    sources = list(forces.muscles) + list(forces.actuators) + list(EXTRA_SOURCES)
    kinds = ["muscle"] * len(forces.muscles) + list(forces.actuator_kinds) + list(EXTRA_SOURCES)
    log.info("induced accelerations %s: superposition error %.2f%% of peak", title,
             100 * check.relative_rms)
    return InducedAccelerations(np.asarray(time, float), sources, kinds, acc, ground, on,
                                mech.mass, check)


def complete_stance_frames(time: np.ndarray, contact: dict, feet: dict) -> np.ndarray:
    """Frames inside a complete stance of any foot (the frames the check scores).

    Stances cut by the start or end of the record are left out, as in the
    propulsion metrics: there the filtered kinematics carry edge effects.
    """
    mask = np.zeros(len(time), bool)
    for side in feet:
        for st in stance_phases(time, np.asarray(contact[side], float), side, 0.5):
            if st.complete:
                mask |= (time >= st.start) & (time <= st.end)
    return mask


def superposition_check(measured: np.ndarray, total: np.ndarray, kinematic: np.ndarray,
                        stance: np.ndarray, mismatch: np.ndarray,
                        contact_motion: np.ndarray | None = None) -> SuperpositionCheck:
    """Score the summed contributions against ``GRF / m + g`` over stance frames.

    ``contact_motion`` (n, 2) is the contribution of the held feet's measured
    motion (included in ``total``); zero if not given.
    """
    contact_motion = np.zeros_like(total) if contact_motion is None else contact_motion
    if not stance.any():
        nan = float("nan")
        return SuperpositionCheck(measured, total, kinematic, stance, nan, np.full(2, nan), nan,
                                  nan, nan, nan, nan, nan, total - contact_motion)

    def rms(x):
        return float(np.sqrt(np.mean(np.sum(x[stance] ** 2, axis=1))))

    err = (total - measured)[stance]
    peak = float(np.linalg.norm(measured[stance], axis=1).max())
    axes = np.sqrt(np.mean(err ** 2, axis=0)) / np.abs(measured[stance]).max(axis=0)
    gen = float(np.sqrt(np.mean(mismatch[stance] ** 2)))
    no_slip = total - contact_motion
    rms_error = rms(total - measured)
    return SuperpositionCheck(measured, total, kinematic, stance, rms_error / peak, axes,
                              rms_error, peak, rms(contact_motion) / peak,
                              rms(kinematic - measured) / peak, gen,
                              rms(no_slip - measured) / peak, no_slip)


def plot_superposition(time: np.ndarray, check: SuperpositionCheck, path: str | Path,
                       title: str = "") -> Path:
    """Figure of the check: measured, summed and kinematic mass-centre accelerations."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    for i, (ax, label) in enumerate(zip(axes, ("fore-aft", "vertical"))):
        ax.fill_between(time, 0, 1, where=check.stance, color="0.92",
                        transform=ax.get_xaxis_transform(), label="complete stance (scored)")
        ax.plot(time, check.measured[:, i], "k-", lw=2, label="GRF/m + g (measured)")
        ax.plot(time, check.total[:, i], "r--", lw=1.5, label="sum of contributions")
        ax.plot(time, check.kinematic[:, i], ":", color="tab:blue", label="from kinematics")
        if check.no_slip_total is not None:
            ax.plot(time, check.no_slip_total[:, i], "-", color="tab:orange", lw=0.8, alpha=0.8,
                    label="sum without the feet's motion (no-slip only)")
        ax.set_ylabel(f"{label} a_com (m/s$^2$)")
    axes[1].set_xlabel("time (s)")
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(f"{title} superposition error {100 * check.relative_rms:.2f}% of peak "
                 f"(fore-aft {100 * check.relative_rms_axes[0]:.1f}%, vertical "
                 f"{100 * check.relative_rms_axes[1]:.1f}% of their peaks)\nheld feet's motion "
                 f"{100 * check.constraint_relative_rms:.1f}%, without it "
                 f"{100 * check.no_slip_relative_rms:.1f}%", fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def forces_at(time: np.ndarray, solution: dict) -> AppliedForces:
    """Interpolate a muscle solution (``MuscleSolution.to_dict()``) onto ``time``.

    Linear interpolation; ``time`` must lie inside the solution's time range.
    """
    st = np.asarray(solution["time"])
    if time[0] < st[0] - 1e-9 or time[-1] > st[-1] + 1e-9:
        raise ValueError(f"times {time[0]:.4f}-{time[-1]:.4f} s outside the muscle solution's "
                         f"{st[0]:.4f}-{st[-1]:.4f} s")

    def interp(values):
        values = np.asarray(values, float).reshape(len(st), -1)
        out = np.empty((len(time), values.shape[1]))
        for j in range(values.shape[1]):
            out[:, j] = np.interp(time, st, values[:, j])
        return out

    return AppliedForces(list(solution["muscles"]), interp(solution["tendon_force"]),
                         list(solution["actuators"]), list(solution["actuator_coordinates"]),
                         list(solution["actuator_kinds"]), interp(solution["actuator_force"]))
