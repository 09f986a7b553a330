"""Build the example subject: synthetic running trials with a known truth.

The example subject ('subject01') is a scaled copy of the built-in model
running with the prescribed joint-angle curves of
:mod:`simpipe.example.trajectories`. Everything simpipe later estimates
(scale factors, joint angles, net joint moments) is known exactly and stored
in ``ground_truth.h5`` beside the input files, so every stage can be tested
against it.

Files written (see the README.md written beside them):

- ``static.trc``: the scaled model standing in its default pose.
- ``run_XX.trc``, ``run_XX_grf.mot``, ``run_XX_external_loads.xml``: two
  running trials (markers at 200 Hz in mm, forces at 1000 Hz).
- ``model_true.osim``: the scaled model that produced them.
- ``ground_truth.h5``: scale factors, mass, height, and per trial the exact
  coordinates, speeds, accelerations, marker positions, events and the net
  generalized forces from OpenSim's InverseDynamicsSolver.
- ``README.md``: this manifest.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from simpipe.data import Markers, Table
from simpipe.errors import ModelError, StageError
from simpipe.example import trajectories as traj
from simpipe.io.grf import grf_columns, write_external_loads_xml, write_grf
from simpipe.io.trc import write_trc
from simpipe.stages.id import Kinematics, inverse_dynamics
from simpipe.stages.osimutil import load_model, opensim

log = logging.getLogger(__name__)

#: Foot side -> body receiving that side's ground reaction force.
FEET = {"r": "calcn_r", "l": "calcn_l"}

#: Translations of the pelvis that the generator solves for (the joint angles
#: come from the trajectories module).
PELVIS_TX, PELVIS_TY = "pelvis_tx", "pelvis_ty"


def _default_scale_factors() -> dict[str, float]:
    per_segment = {"pelvis": 1.04, "torso": 1.02, "femur": 1.06, "tibia": 1.03, "calcn": 0.97}
    out = {}
    for name, factor in per_segment.items():
        sides = ("_r", "_l") if name in ("femur", "tibia", "calcn") else ("",)
        out.update({name + s: factor for s in sides})
    return out


@dataclass(frozen=True)
class Subject:
    """Anthropometry of the example subject.

    Attributes
    ----------
    name : str
        Folder name of the subject.
    mass_kg, height_m : float
        Body mass (the scaled model's total mass) and standing height.
    scale_factors : dict of str to float
        Uniform (x, y, z) scale factor of each body of the built-in model.
    """

    name: str = "subject01"
    mass_kg: float = 72.0
    height_m: float = 1.78
    scale_factors: dict = field(default_factory=_default_scale_factors)


@dataclass(frozen=True)
class Trial:
    """One running trial.

    Attributes
    ----------
    name : str
        File stem, e.g. 'run_01'.
    speed : float
        Mean forward speed of the pelvis (m/s).
    cycle_time : float
        Duration of one gait cycle (s); cadence = 120 / cycle_time steps/min.
    duration : float
        Length of the recording (s); longer than one cycle.
    phase0 : float
        Gait-cycle phase at time 0 (phase 0 = right foot strike).
    marker_rate, grf_rate : float
        Sampling rates (Hz) of the markers and of the forces.
    """

    name: str
    speed: float
    cycle_time: float
    duration: float = 0.9
    phase0: float = -0.1
    marker_rate: float = 200.0
    grf_rate: float = 1000.0

    def times(self, rate: float) -> np.ndarray:
        """Sample times from 0 to ``duration`` inclusive at ``rate``."""
        return np.arange(int(round(self.duration * rate)) + 1) / rate


SUBJECT = Subject()
TRIALS = (Trial("run_01", speed=3.4, cycle_time=0.72),
          Trial("run_02", speed=3.6, cycle_time=0.69))


# --- the model, posed frame by frame ----------------------------------------

class _Probe:
    """A model whose pose is set from coordinate values and speeds.

    Parameters
    ----------
    model_path : Path
        The model (the scaled, true model of the subject).
    feet : dict
        Side -> foot body; the contact spheres attached to each foot body
        define where the foot touches the ground.
    """

    def __init__(self, model_path: Path, feet: dict[str, str] = FEET):
        self.model = load_model(model_path)
        self.state = self.model.initSystem()
        cs = self.model.getCoordinateSet()
        self.coordinates = {cs.get(i).getName(): cs.get(i) for i in range(cs.getSize())}
        self.names = list(self.coordinates)
        self.defaults = {n: c.getDefaultValue() for n, c in self.coordinates.items()}
        ms = self.model.getMarkerSet()
        self.marker_names = [ms.get(i).getName() for i in range(ms.getSize())]
        self.spheres = _contact_spheres(self.model, feet)
        self.mass = float(self.model.getTotalMass(self.state))
        g = self.model.getGravity()
        self.gravity = np.array([g.get(0), g.get(1), g.get(2)])

    def pose(self, q: dict[str, float], u: dict[str, float] | None = None) -> None:
        """Set coordinates (missing ones at their defaults) and speeds (else 0)."""
        u = u or {}
        for name, coord in self.coordinates.items():
            coord.setValue(self.state, float(q.get(name, self.defaults[name])), False)
            coord.setSpeedValue(self.state, float(u.get(name, 0.0)))
        self.model.realizeVelocity(self.state)

    def lowest_points(self, side: str) -> np.ndarray:
        """Lowest point of each contact sphere of a foot in ground, shape (n, 3)."""
        return np.array([_vec(frame.findStationLocationInGround(self.state, loc))
                         - np.array([0.0, radius, 0.0])
                         for frame, loc, radius in self.spheres[side]])

    def contact_point_velocities(self, side: str) -> np.ndarray:
        """Velocity in ground of the foot's material point at each sphere's lowest point.

        Zero for a sphere that rolls without slipping; shape (n, 3).
        """
        osim = opensim()
        ground = self.model.getGround()
        out = []
        for (frame, _, _), point in zip(self.spheres[side], self.lowest_points(side)):
            station = ground.findStationLocationInAnotherFrame(self.state, osim.Vec3(*point), frame)
            out.append(_vec(frame.findStationVelocityInGround(self.state, station)))
        return np.array(out)

    def com(self) -> tuple[np.ndarray, np.ndarray]:
        """Whole-body mass-centre position and velocity in ground."""
        return (_vec(self.model.calcMassCenterPosition(self.state)),
                _vec(self.model.calcMassCenterVelocity(self.state)))

    def markers(self) -> np.ndarray:
        """Marker positions in ground (m), shape (n_markers, 3), MarkerSet order."""
        ms = self.model.getMarkerSet()
        return np.array([_vec(ms.get(i).getLocationInGround(self.state))
                         for i in range(ms.getSize())])


def _vec(v) -> np.ndarray:
    return np.array([v.get(0), v.get(1), v.get(2)])


def _contact_spheres(model, feet: dict[str, str]) -> dict[str, list]:
    """(frame, location, radius) of the contact spheres fixed to each foot body."""
    osim = opensim()
    found = {side: [] for side in feet}
    body_side = {body: side for side, body in feet.items()}
    geometry = model.getContactGeometrySet()
    for i in range(geometry.getSize()):
        sphere = osim.ContactSphere.safeDownCast(geometry.get(i))
        if sphere is None:
            continue
        base = sphere.getFrame().findBaseFrame().getName()
        if base in body_side:
            found[body_side[base]].append((sphere.getFrame(), sphere.get_location(),
                                           float(sphere.getRadius())))
    empty = [feet[s] for s, spheres in found.items() if not spheres]
    if empty:
        raise ModelError(f"no contact spheres on foot bodies {empty}; the example "
                         "needs them to place the feet on the ground")
    return found


# --- pelvis translations that keep the stance foot on the ground ------------

#: Harmonics (of the gait cycle) of the periodic pelvis translations.
_TRANSLATION_HARMONICS = tuple(range(1, 31))

#: Weights of the vertical fit, as 1 / tolerance: stance-foot height (m); mass-
#: centre acceleration (m/s^2) in flight, in mid-stance, and in the first and
#: last ``_EDGE`` of stance (where the force must fade to zero).
_W_HEIGHT, _W_FLIGHT, _W_STANCE_ACC, _W_EDGE, _EDGE = 1 / 0.0005, 1 / 0.2, 1 / 2.0, 1 / 1.0, 0.05

#: Size of the impact transient relative to the active peak's sine (see
#: :func:`vertical_force_shape`).
VERTICAL_IMPACT = 1.0

#: Peak fore-aft ground reaction force (body weights): braking in the first half
#: of stance, propulsion in the second (about 0.3-0.5 BW at 3-4 m/s: Munro,
#: Miller & Fuglevand 1987, J Biomech 20:147; Hamner & Delp 2013).
FORE_AFT_PEAK_BW = 0.4


@dataclass
class _CycleGeometry:
    """Whole-cycle quantities with both pelvis translations held at zero.

    Derivatives are per unit phase (divide by the cycle time squared for
    per-second values).

    Attributes
    ----------
    phase : ndarray, shape (n,)
    low_y : dict of side to ndarray (n,)
        Height of the foot's lowest contact-sphere point.
    com, com_dd : ndarray, shape (n, 3)
        Mass-centre position and its second derivative.
    """

    phase: np.ndarray
    low_y: dict
    com: np.ndarray
    com_dd: np.ndarray


def _joint_pose(phase) -> tuple[list[dict], list[dict]]:
    """Joint angles and their phase derivatives (pelvis at the origin), one dict per sample."""
    kin = traj.joint_kinematics(np.atleast_1d(phase), cycle_time=1.0)
    names, zero = kin["names"], {PELVIS_TX: 0.0, PELVIS_TY: 0.0}
    return ([dict(zip(names, row)) | zero for row in kin["q"]],
            [dict(zip(names, row)) | zero for row in kin["u"]])


def _sample_cycle(probe: _Probe, n: int = 400, h: float = 1e-4) -> _CycleGeometry:
    """Sample the feet and the mass centre over one cycle (pelvis at the origin).

    The mass-centre acceleration is the central difference of its exact
    velocity at phase +- h.
    """
    phase = np.arange(n) / n
    low_y = {s: np.empty(n) for s in probe.spheres}
    com, com_dd = np.empty((n, 3)), np.empty((n, 3))
    qs, us = _joint_pose(phase)
    q_plus, u_plus = _joint_pose(phase + h)
    q_minus, u_minus = _joint_pose(phase - h)
    for k in range(n):
        probe.pose(qs[k], us[k])
        com[k] = probe.com()[0]
        for s in probe.spheres:
            low_y[s][k] = probe.lowest_points(s)[:, 1].min()
        probe.pose(q_plus[k], u_plus[k])
        v_plus = probe.com()[1]
        probe.pose(q_minus[k], u_minus[k])
        com_dd[k] = (v_plus - probe.com()[1]) / (2 * h)
    return _CycleGeometry(phase, low_y, com, com_dd)


def stance_progress(phase, side: str) -> np.ndarray:
    """Fraction of ``side``'s stance elapsed (0 at foot strike, 1 at toe-off); NaN in swing."""
    ev = traj.EVENT_PHASES[side]
    duration = ev["toe_off"] - ev["foot_strike"]
    frac = np.mod(np.asarray(phase, float) - ev["foot_strike"], 1.0) / duration
    return np.where(frac <= 1.0 + 1e-9, np.minimum(frac, 1.0), np.nan)


def _in_stance(phase, side: str) -> np.ndarray:
    """True where ``side``'s foot is on the ground (foot strike <= phase <= toe-off)."""
    return ~np.isnan(stance_progress(phase, side))


def _basis(phase, harmonics, order: int, constant: bool) -> np.ndarray:
    """Columns: constant (optional), then cos and sin of each harmonic, differentiated."""
    phase = np.asarray(phase, float)
    cols = [np.full_like(phase, 1.0 if order == 0 else 0.0)] if constant else []
    for k in harmonics:
        w = 2 * np.pi * k
        shift = order * np.pi / 2
        cols += [w ** order * np.cos(w * phase + shift), w ** order * np.sin(w * phase + shift)]
    return np.column_stack(cols)


def _series(coef: np.ndarray, harmonics, constant: bool) -> traj.FourierSeries:
    mean, rest = (coef[0], coef[1:]) if constant else (0.0, coef)
    return traj.FourierSeries(float(mean), tuple(harmonics), tuple(rest[0::2]), tuple(rest[1::2]))


def _lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares through column-scaled normal equations (Cholesky).

    The Fourier columns are nearly orthogonal, so this is as accurate as an
    SVD here, and much faster than ``numpy.linalg.lstsq`` on machines where
    a multi-threaded LAPACK stalls on small problems.
    """
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    a = a / scale
    return cho_solve(cho_factor(a.T @ a), a.T @ b) / (scale if b.ndim == 1 else scale[:, None])


def _fourier_fit(phase, values, harmonics, constant: bool) -> np.ndarray:
    """Least-squares Fourier coefficients of samples (columns as in :func:`_basis`)."""
    return _lstsq(_basis(phase, harmonics, 0, constant), np.asarray(values, float))


def fore_aft_acceleration(phase, gravity: float) -> np.ndarray:
    """Prescribed fore-aft mass-centre acceleration (m/s^2) over the cycle.

    ``-FORE_AFT_PEAK_BW * g * sin(2 pi s)`` during each stance (s: fraction of
    stance elapsed), zero in flight; its integral over a cycle is zero, so the
    mean speed is kept.
    """
    acc = np.zeros(np.shape(phase))
    for side in traj.EVENT_PHASES:
        s = stance_progress(phase, side)
        on = ~np.isnan(s)
        acc[on] = -FORE_AFT_PEAK_BW * gravity * np.sin(2 * np.pi * s[on])
    return acc


def vertical_force_shape(s) -> np.ndarray:
    """Shape of the vertical GRF over stance (s = fraction of stance), unscaled.

    An active peak (half sine) plus an impact transient early in stance, as
    in rearfoot running (Cavanagh & Lafortune 1980, J Biomech 13:397; Munro
    et al. 1987): ``sin(pi s) + VERTICAL_IMPACT exp(-((s - 0.1) / 0.06)^2)
    sqrt(sin(pi s))``.
    """
    s = np.asarray(s, float)
    base = np.sin(np.pi * np.clip(s, 0.0, 1.0))
    return base + VERTICAL_IMPACT * np.exp(-((s - 0.1) / 0.06) ** 2) * np.sqrt(base)


def vertical_acceleration(phase, gravity: float) -> np.ndarray:
    """Target vertical mass-centre acceleration (m/s^2) over the cycle.

    ``g (A shape(s) - 1)`` in stance and ``-g`` in flight, with ``A`` chosen so
    that the vertical impulse of one stance equals body weight times half a
    cycle (no net vertical momentum change per step).
    """
    grid = np.linspace(0.0, 1.0, 2001)
    scale = (0.5 / traj.STANCE_FRACTION) / np.trapezoid(vertical_force_shape(grid), grid)
    acc = np.full(np.shape(phase), -gravity)
    for side in traj.EVENT_PHASES:
        s = stance_progress(phase, side)
        on = ~np.isnan(s)
        acc[on] = gravity * (scale * vertical_force_shape(s[on]) - 1.0)
    return acc


def _fit_dx(geom: _CycleGeometry, trial: Trial, gravity: float) -> traj.FourierSeries:
    """Periodic fore-aft pelvis motion giving the prescribed mass-centre acceleration."""
    hs = _TRANSLATION_HARMONICS
    acc = _fourier_fit(geom.phase, fore_aft_acceleration(geom.phase, gravity), hs, False)
    w2 = np.repeat((2 * np.pi * np.asarray(hs, float)) ** 2, 2)
    com_x = -acc * trial.cycle_time ** 2 / w2   # X'' (per phase^2) = a T^2
    return _series(com_x - _fourier_fit(geom.phase, geom.com[:, 0], hs, False), hs, False)


def _fit_ty(geom: _CycleGeometry, trial: Trial, gravity: float) -> traj.FourierSeries:
    """Periodic pelvis height: stance foot on the ground, target mass-centre acceleration."""
    t_c, ph, hs = trial.cycle_time, geom.phase, _TRANSLATION_HARMONICS
    stance = {s: _in_stance(ph, s) for s in geom.low_y}
    weight = np.full(len(ph), _W_FLIGHT)
    for side in stance:
        prog = stance_progress(ph, side)
        weight[prog >= 0] = _W_STANCE_ACC
        weight[(prog < _EDGE) | (prog > 1.0 - _EDGE)] = _W_EDGE
    target = vertical_acceleration(ph, gravity) - geom.com_dd[:, 1] / t_c ** 2
    rows = [weight[:, None] * _basis(ph, hs, 2, True) / t_c ** 2]
    rhs = [weight * target]
    for s, on in stance.items():
        rows.append(_W_HEIGHT * _basis(ph[on], hs, 0, True))
        rhs.append(-_W_HEIGHT * geom.low_y[s][on])
    coef = _lstsq(np.vstack(rows), np.concatenate(rhs))
    return _series(coef, hs, True)


@dataclass(frozen=True)
class PelvisTranslation:
    """Pelvis translations of a trial: tx = speed t + dx(phase) - dx(phase0), ty(phase).

    Attributes
    ----------
    speed, cycle_time, phase0 : float
        As in :class:`Trial`.
    dx, ty : FourierSeries
        Periodic parts (m) as functions of phase.
    """

    speed: float
    cycle_time: float
    phase0: float
    dx: traj.FourierSeries
    ty: traj.FourierSeries

    def kinematics(self, time) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Value, speed, acceleration of pelvis_tx and pelvis_ty at ``time`` (s)."""
        time = np.asarray(time, float)
        phase, t_c = self.phase0 + time / self.cycle_time, self.cycle_time
        tx = self.speed * time + self.dx(phase) - float(self.dx(self.phase0))
        return {PELVIS_TX: (tx, self.speed + self.dx(phase, 1) / t_c, self.dx(phase, 2) / t_c ** 2),
                PELVIS_TY: (self.ty(phase), self.ty(phase, 1) / t_c, self.ty(phase, 2) / t_c ** 2)}


def fit_pelvis_translation(geom: _CycleGeometry, trial: Trial,
                           gravity_y: float) -> PelvisTranslation:
    """Pelvis translations: stance foot on the ground, realistic mass-centre motion.

    Parameters
    ----------
    geom : _CycleGeometry
        The feet and the mass centre over a cycle, pelvis at the origin.
    trial : Trial
        Speed and cycle time.
    gravity_y : float
        Vertical gravity (m/s^2, negative).

    Returns
    -------
    PelvisTranslation

    Notes
    -----
    Both periodic parts are Fourier series (30 harmonics of the cycle).

    - Fore-aft: the mass centre moves at the trial's mean speed plus the
      double integral of :func:`fore_aft_acceleration` (braking then
      propulsion in stance, none in flight); ``dx`` is that minus the mass
      centre's own fore-aft motion relative to the pelvis. Exact.
    - Vertical: ``ty`` is fitted by weighted least squares to (a) the lowest
      contact-sphere point of the stance foot at y = 0 (tolerance 0.5 mm)
      and (b) the mass-centre acceleration of :func:`vertical_acceleration`
      (free fall in flight, tolerance 0.2 m/s^2; the target force shape in
      stance, tolerance 2 m/s^2, 1 m/s^2 in the first and last 5 % of stance).
      The joint-angle curves were designed so the two agree closely; what
      remains shows up as a few millimetres of foot height and a force that
      departs from the target shape (``trial_quality`` reports both).

    The stance foot is not constrained fore-aft: how far it slides follows
    from the joint-angle curves (also reported).
    """
    return PelvisTranslation(trial.speed, trial.cycle_time, trial.phase0,
                             dx=_fit_dx(geom, trial, -gravity_y),
                             ty=_fit_ty(geom, trial, -gravity_y))


# --- one trial: kinematics, markers, ground reaction forces -----------------

def trial_kinematics(probe: _Probe, trial: Trial, pelvis: PelvisTranslation, time) -> Kinematics:
    """Exact coordinates, speeds and accelerations of a trial, in model order.

    Coordinates the trajectories do not drive stay at their default values.
    """
    time = np.asarray(time, float)
    joint = traj.joint_kinematics(time, trial.cycle_time, trial.phase0)
    columns = {n: (joint["q"][:, i], joint["u"][:, i], joint["udot"][:, i])
               for i, n in enumerate(joint["names"])}
    columns.update(pelvis.kinematics(time))
    idle = [n for n in probe.names if n not in columns]
    if idle:
        log.info("coordinates held at their defaults: %s", ", ".join(idle))
    zero = np.zeros_like(time)
    q, u, udot = (np.column_stack([columns[n][j] if n in columns else
                                   (probe.defaults[n] + zero if j == 0 else zero)
                                   for n in probe.names]) for j in range(3))
    return Kinematics(time, list(probe.names), q, u, udot)


def _pose_row(probe: _Probe, kin: Kinematics, k: int) -> None:
    probe.pose(dict(zip(kin.coordinates, kin.q[k])), dict(zip(kin.coordinates, kin.u[k])))


def marker_positions(probe: _Probe, kin: Kinematics) -> Markers:
    """Model marker positions (m) at every frame of the kinematics."""
    xyz = np.empty((len(kin.time), len(probe.marker_names), 3))
    for k in range(len(kin.time)):
        _pose_row(probe, kin, k)
        xyz[k] = probe.markers()
    return Markers(kin.time.copy(), list(probe.marker_names), xyz)


def com_acceleration(probe: _Probe, trial: Trial, pelvis: PelvisTranslation, time,
                     h: float = 1e-5) -> np.ndarray:
    """Mass-centre acceleration (m/s^2), central differences of its exact velocity.

    The velocity comes from the model at the exact q(t +- h), u(t +- h), so
    the error is O(h^2) on smooth kinematics (about 1e-8 m/s^2 here).
    """
    time = np.asarray(time, float)
    vel = []
    for shift in (h, -h):
        kin = trial_kinematics(probe, trial, pelvis, time + shift)
        v = np.empty((len(time), 3))
        for k in range(len(time)):
            _pose_row(probe, kin, k)
            v[k] = probe.com()[1]
        vel.append(v)
    return (vel[0] - vel[1]) / (2 * h)


def _foot_markers(probe: _Probe, side: str) -> tuple[str, str]:
    """Heel and fifth-metatarsal marker names of a side (the centre-of-pressure path)."""
    names = (f"{side.upper()}HEE", f"{side.upper()}MT5")
    missing = [n for n in names if n not in probe.marker_names]
    if missing:
        raise ModelError(f"model lacks marker(s) {missing} used to place the centre of pressure")
    return names


def implied_grf(probe: _Probe, trial: Trial, pelvis: PelvisTranslation, time) -> Table:
    """Ground reaction forces implied by the motion (Newton's second law).

    Parameters
    ----------
    probe : _Probe
        The true model.
    trial, pelvis : Trial, PelvisTranslation
        The motion.
    time : ndarray
        Sample times (s), normally at the force-plate rate.

    Returns
    -------
    Table
        simpipe's GRF columns for both feet (N, m, N m).

    Notes
    -----
    The whole external force F = m (a_com - g) is given to the foot in stance
    (foot strike <= phase <= toe-off) and nothing is applied in flight. The
    centre of pressure lies on the ground (y = 0) and moves linearly with
    stance time from under the heel marker to under the fifth-metatarsal
    marker; the free moment is zero. Where the implied vertical force would
    be negative (the last milliseconds before toe-off, if at all) no force is
    applied. Consequences, documented in the README:
    the pelvis residual force is zero in stance and equals m (a_com - g) in
    flight (small: the flight phase is fitted to free fall), while the pelvis
    residual moment is not zero in stance, because this centre of pressure is
    not the one that would make the motion's angular momentum balance.
    """
    time = np.asarray(time, float)
    phase = trial.phase0 + time / trial.cycle_time
    force = probe.mass * (com_acceleration(probe, trial, pelvis, time) - probe.gravity)
    markers = marker_positions(probe, trial_kinematics(probe, trial, pelvis, time))
    labels, blocks = [], []
    for side in FEET:
        progress = stance_progress(phase, side)[:, None]
        on = ~np.isnan(progress[:, 0])
        heel, toe = (markers.marker(n) for n in _foot_markers(probe, side))
        cop = (1.0 - progress) * heel + progress * toe
        cop[:, 1] = 0.0
        on &= force[:, 1] > 0.0   # the ground cannot pull (see Notes)
        block = np.zeros((len(time), 9))
        block[on, 0:3] = force[on]
        block[on, 3:6] = cop[on]
        labels += grf_columns(side)
        blocks.append(block)
    return Table(time, labels, np.hstack(blocks), in_degrees=False,
                 meta={"name": f"{trial.name}_grf"})


def _relative_datafile(xml_path: Path) -> None:
    """Point an ExternalLoads XML at its .mot file by bare name.

    OpenSim resolves a relative ``datafile`` against the XML's own folder, so
    the example stays valid wherever the repository is checked out (the
    absolute path ``write_external_loads_xml`` stores would not).
    """
    text = Path(xml_path).read_text()
    fixed = re.sub(r"<datafile>([^<]*)</datafile>",
                   lambda m: f"<datafile>{Path(m.group(1)).name}</datafile>", text)
    Path(xml_path).write_text(fixed)


def event_times(trial: Trial) -> dict[str, np.ndarray]:
    """Foot-strike and toe-off times (s) of each side inside the recording."""
    out = {}
    for side, events in traj.EVENT_PHASES.items():
        for event, ev_phase in events.items():
            first = np.ceil(trial.phase0 - ev_phase)
            cycles = np.arange(first, first + trial.duration / trial.cycle_time + 1)
            t = (cycles + ev_phase - trial.phase0) * trial.cycle_time
            out[f"{event}_{side}"] = t[(t >= 0) & (t <= trial.duration + 1e-12)]
    return out


def static_pose(probe: _Probe) -> dict[str, float]:
    """Default pose with pelvis_tx = 0 and pelvis_ty putting the lowest contact point at y = 0."""
    q = dict(probe.defaults) | {PELVIS_TX: 0.0, PELVIS_TY: 0.0}
    probe.pose(q)
    lowest = min(float(probe.lowest_points(s)[:, 1].min()) for s in probe.spheres)
    q[PELVIS_TY] = -lowest
    return q


# --- the subject's true model ------------------------------------------------

def scale_model(model_path: Path, subject: Subject, out_path: Path) -> Path:
    """Write the subject's true model: the built-in model scaled per segment.

    Parameters
    ----------
    model_path : Path
        The generic model.
    subject : Subject
        Scale factors (uniform per body) and mass.
    out_path : Path
        Where to write the scaled model.

    Returns
    -------
    Path
        ``out_path``.

    Notes
    -----
    ``Model.scale`` with ``preserveMassDist=True`` scales each body's geometry,
    joint frames, markers and muscle paths, then scales all masses by one
    factor so the total equals the subject's mass (the mass distribution of
    the generic model is kept), as OpenSim's ScaleTool does.
    """
    osim = opensim()
    model = load_model(model_path)
    state = model.initSystem()
    bodies = {model.getBodySet().get(i).getName() for i in range(model.getBodySet().getSize())}
    unknown = sorted(set(subject.scale_factors) - bodies)
    if unknown:
        raise ModelError(f"{model_path}: no bodies {unknown} to scale")
    scale_set = osim.ScaleSet()
    for body, factor in sorted(subject.scale_factors.items()):
        scale = osim.Scale()
        scale.setName(body)
        scale.setSegmentName(body)
        scale.setScaleFactors(osim.Vec3(factor, factor, factor))
        scale.setApply(True)
        scale_set.cloneAndAppend(scale)
    if not model.scale(state, scale_set, True, subject.mass_kg):
        raise StageError(f"OpenSim could not scale {model_path}")
    model.setName(f"{model.getName()}_{subject.name}_true")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.printToXML(str(out_path))
    return out_path


# --- putting a trial together -----------------------------------------------

@dataclass
class TrialTruth:
    """Everything known exactly about one generated trial.

    Attributes
    ----------
    trial : Trial
    kinematics : Kinematics
        Exact q, u, udot at the marker frames, model coordinate order.
    markers : Markers
        Noise-free model marker positions (m) at the marker frames.
    generalized_forces : ndarray, shape (n_frames, n_coordinates)
        InverseDynamicsSolver output (N m or N) with the GRF applied.
    grf : Table
        The ground reaction forces written to the .mot file.
    events : dict of str to ndarray
        'foot_strike_r', 'toe_off_r', ... times (s).
    quality : dict of str to float
        Checks of the synthetic data (see :func:`trial_quality`).
    """

    trial: Trial
    kinematics: Kinematics
    markers: Markers
    generalized_forces: np.ndarray
    grf: Table
    events: dict
    quality: dict


def _foot_track(probe: _Probe, kin: Kinematics) -> tuple[dict, dict]:
    """Height (m) of each foot's lowest contact point and fore-aft speed (m/s) of
    the foot's material point there, at every frame."""
    height = {s: np.empty(len(kin.time)) for s in FEET}
    slip = {s: np.empty(len(kin.time)) for s in FEET}
    for k in range(len(kin.time)):
        _pose_row(probe, kin, k)
        for s in FEET:
            low = probe.lowest_points(s)[:, 1]
            height[s][k] = low.min()
            slip[s][k] = probe.contact_point_velocities(s)[int(np.argmin(low)), 0]
    return height, slip


def trial_quality(probe: _Probe, truth: TrialTruth) -> dict[str, float]:
    """Figures that show how physical the synthetic trial is.

    Returns
    -------
    dict
        ``peak_vertical_grf_bw``; ``max_stance_foot_height_mm`` (|height| of
        the stance foot's lowest contact point); ``min_swing_foot_height_mm``;
        ``mean_stance_foot_slip_m_s`` and ``max_stance_foot_slip_m_s``
        (fore-aft speed of the stance foot at its contact point, forward
        positive); ``max_flight_residual_force_n`` and
        ``max_stance_residual_force_n`` (pelvis translations);
        ``rms_residual_moment_nm`` and ``max_residual_moment_nm`` (pelvis_tilt).
    """
    kin, trial = truth.kinematics, truth.trial
    phase = trial.phase0 + kin.time / trial.cycle_time
    height, slip = _foot_track(probe, kin)
    stance = {s: _in_stance(phase, s) for s in FEET}
    flight = ~(stance["r"] | stance["l"])
    tau = dict(zip(kin.coordinates, truth.generalized_forces.T))
    res_f = np.hypot(tau[PELVIS_TX], tau[PELVIS_TY])
    weight = probe.mass * float(np.linalg.norm(probe.gravity))
    fy = truth.grf.column("r_ground_force_vy") + truth.grf.column("l_ground_force_vy")
    stance_slip = np.concatenate([slip[s][stance[s]] for s in FEET])
    stance_height = np.concatenate([height[s][stance[s]] for s in FEET])
    swing_height = np.concatenate([height[s][~stance[s]] for s in FEET])
    return {
        "peak_vertical_grf_bw": float(fy.max() / weight),
        "max_stance_foot_height_mm": 1e3 * float(np.abs(stance_height).max(initial=0.0)),
        "min_swing_foot_height_mm": 1e3 * float(swing_height.min(initial=np.inf)),
        "mean_stance_foot_slip_m_s": float(stance_slip.mean()) if stance_slip.size else 0.0,
        "max_stance_foot_slip_m_s": float(np.abs(stance_slip).max(initial=0.0)),
        "max_flight_residual_force_n": float(res_f[flight].max(initial=0.0)),
        "max_stance_residual_force_n": float(res_f[~flight].max(initial=0.0)),
        "rms_residual_moment_nm": float(np.sqrt(np.mean(tau["pelvis_tilt"] ** 2))),
        "max_residual_moment_nm": float(np.abs(tau["pelvis_tilt"]).max()),
    }


def make_trial(probe: _Probe, geom: _CycleGeometry, trial: Trial, model_path: Path,
               out_dir: Path) -> TrialTruth:
    """Generate one trial: fit the pelvis, write the GRF files, run ID.

    Parameters
    ----------
    probe : _Probe
        The true model.
    geom : _CycleGeometry
        :func:`_sample_cycle` of that model.
    trial : Trial
    model_path : Path
        The true model's file (for inverse dynamics).
    out_dir : Path
        Receives ``{trial}_grf.mot`` and ``{trial}_external_loads.xml``.

    Returns
    -------
    TrialTruth
        With noise-free markers (the caller writes the .trc).
    """
    pelvis = fit_pelvis_translation(geom, trial, float(probe.gravity[1]))
    kin = trial_kinematics(probe, trial, pelvis, trial.times(trial.marker_rate))
    markers = marker_positions(probe, kin)
    grf = implied_grf(probe, trial, pelvis, trial.times(trial.grf_rate))
    grf_path = write_grf(grf, out_dir / f"{trial.name}_grf.mot")
    xml = write_external_loads_xml(out_dir / f"{trial.name}_external_loads.xml", grf_path, FEET)
    _relative_datafile(xml)
    tau = inverse_dynamics(model_path, kin, grf_path, FEET).tau
    truth = TrialTruth(trial, kin, markers, tau, grf, event_times(trial), {})
    truth.quality.update(trial_quality(probe, truth))
    log.info("%s: %s", trial.name, ", ".join(f"{k}={v:.3g}" for k, v in truth.quality.items()))
    return truth


# --- files -------------------------------------------------------------------

def _strings(values) -> np.ndarray:
    return np.array([str(v).encode() for v in values], dtype="S")


def _put(group, name: str, data) -> None:
    group.create_dataset(name, data=data, track_times=False)


def write_truth(path: Path, subject: Subject, static: Markers, static_q: dict,
                truths: list[TrialTruth], attrs: dict) -> Path:
    """Write ground_truth.h5 (see the README for its layout).

    Parameters
    ----------
    path : Path
        Destination (written to a temporary name, then renamed).
    subject : Subject
    static : Markers
        Noise-free static-trial markers (m).
    static_q : dict
        Coordinate values of the static pose.
    truths : list of TrialTruth
    attrs : dict
        Extra root attributes (seed, noise, versions).

    Returns
    -------
    Path
    """
    import h5py

    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w", track_order=True) as f:
        f.attrs.update({"subject": subject.name, "mass_kg": subject.mass_kg,
                        "height_m": subject.height_m, **attrs})
        g = f.create_group("scale_factors")
        bodies = sorted(subject.scale_factors)
        _put(g, "bodies", _strings(bodies))
        _put(g, "factors", np.array([[subject.scale_factors[b]] * 3 for b in bodies]))
        g = f.create_group("static")
        _put(g, "coordinates", _strings(static_q))
        _put(g, "q", np.array(list(static_q.values())))
        _put(g, "marker_names", _strings(static.names))
        _put(g, "markers", static.xyz[0])
        for truth in truths:
            _write_trial(f.create_group(f"trials/{truth.trial.name}"), truth)
    tmp.replace(path)
    return path


def _write_trial(g, truth: TrialTruth) -> None:
    t, kin = truth.trial, truth.kinematics
    g.attrs.update({"speed_m_s": t.speed, "cycle_time_s": t.cycle_time, "phase0": t.phase0,
                    "stance_fraction": traj.STANCE_FRACTION,
                    **{f"quality_{k}": v for k, v in truth.quality.items()}})
    _put(g, "time", kin.time)
    _put(g, "coordinates", _strings(kin.coordinates))
    for name in ("q", "u", "udot"):
        _put(g, name, getattr(kin, name))
    _put(g, "generalized_forces", truth.generalized_forces)
    _put(g, "marker_names", _strings(truth.markers.names))
    _put(g, "markers", truth.markers.xyz)
    events = g.create_group("events")
    for name, times in truth.events.items():
        _put(events, name, times)


def _noisy(markers: Markers, rng: np.random.Generator, noise_mm: float) -> Markers:
    """Markers with seeded Gaussian noise (standard deviation noise_mm per axis)."""
    if noise_mm <= 0:
        return markers
    return Markers(markers.time, markers.names,
                   markers.xyz + rng.normal(0.0, noise_mm / 1000.0, markers.xyz.shape))


def static_markers(probe: _Probe, duration: float = 1.0, rate: float = 100.0
                   ) -> tuple[Markers, dict]:
    """Static trial: the standing pose held for ``duration`` at ``rate`` (100 frames)."""
    q = static_pose(probe)
    probe.pose(q)
    time = np.arange(int(round(duration * rate))) / rate
    xyz = np.repeat(probe.markers()[None], len(time), axis=0)
    return Markers(time, list(probe.marker_names), xyz), q


def default_model_path() -> Path:
    """The built-in model inside the source tree (models/simpipe_run2d.osim)."""
    return Path(__file__).resolve().parents[2] / "models" / "simpipe_run2d.osim"


def default_output_dir() -> Path:
    """Where the committed example lives (data/example/subject01 in the source tree)."""
    return Path(__file__).resolve().parents[2] / "data" / "example" / SUBJECT.name


def build_example(out_dir: str | Path, model_path: str | Path | None = None, seed: int = 0,
                  noise_mm: float = 0.0, subject: Subject = SUBJECT,
                  trials: tuple[Trial, ...] = TRIALS) -> dict:
    """Generate the example subject's files and their ground truth.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write (created if needed), e.g. ``data/example/subject01``.
    model_path : str or Path, optional
        The generic model to scale; default :func:`default_model_path`.
    seed : int
        Seed of the marker noise generator.
    noise_mm : float
        Standard deviation of Gaussian marker noise (mm per axis) added to the
        .trc files only; 0 (the committed files) writes exact positions.
    subject : Subject
    trials : tuple of Trial

    Returns
    -------
    dict
        ``out_dir``, ``files`` (names written), ``mass_kg`` and, per trial,
        the figures of :func:`trial_quality`.

    Notes
    -----
    Same inputs give byte-identical text files; ``ground_truth.h5`` holds the
    same numbers (HDF5 timestamps are not stored). See the README.md written
    into ``out_dir`` for the method and its limits.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = Path(model_path) if model_path is not None else default_model_path()
    true_model = scale_model(model_path, subject, out_dir / "model_true.osim")
    probe = _Probe(true_model)
    if abs(probe.mass - subject.mass_kg) > 1e-6 * subject.mass_kg:
        raise StageError(f"scaled model mass {probe.mass} kg != subject mass {subject.mass_kg} kg")
    rng = np.random.default_rng(seed)
    static, static_q = static_markers(probe)
    write_trc(_noisy(static, rng, noise_mm), out_dir / "static.trc")
    geom = _sample_cycle(probe)
    truths = []
    for trial in trials:
        truth = make_trial(probe, geom, trial, true_model, out_dir)
        write_trc(_noisy(truth.markers, rng, noise_mm), out_dir / f"{trial.name}.trc")
        truths.append(truth)
    import opensim as osim

    import simpipe

    attrs = {"seed": seed, "noise_mm": noise_mm, "simpipe_version": simpipe.__version__,
             "opensim_version": osim.__version__, "generic_model": model_path.name}
    write_truth(out_dir / "ground_truth.h5", subject, static, static_q, truths, attrs)
    (out_dir / "README.md").write_text(manifest(subject, truths, seed, noise_mm, model_path.name))
    files = sorted(p.name for p in out_dir.iterdir() if p.is_file())
    return {"out_dir": str(out_dir), "files": files, "mass_kg": probe.mass,
            "trials": {t.trial.name: dict(t.quality) for t in truths}}


_MANIFEST = """\
# Example subject `{name}` (synthetic running data with a known truth)

Generated by simpipe; do not edit by hand. To regenerate (identical files):

    simpipe example build
    # or, from Python:
    python -c "from simpipe.example.generate import build_example, default_output_dir; \\
build_example(default_output_dir(), seed={seed}, noise_mm={noise_mm:g})"

Generic model: `models/{model}` (built by `simpipe model build`). Marker noise
can be added with `build_example(..., noise_mm=2.0)` (seeded Gaussian).

## Subject

- Mass {mass:g} kg (the scaled model's total mass), height {height:g} m.
- True scale factors (uniform in x, y, z): {factors}.

## Files

| file | content |
|---|---|
| `static.trc` | standing in the model's default pose (pelvis raised so the feet touch y = 0), 1 s at 100 Hz, mm |
{trial_rows}| `model_true.osim` | the scaled model that produced every file (`Model.scale`, mass distribution preserved; contact spheres are not moved by `Model.scale`) |
| `ground_truth.h5` | the exact values (layout below) |

Markers are the model's own markers (`getLocationInGround`) at the true pose{noise}.

## How the motion was made

- Joint angles (pelvis tilt, lumbar extension, hip, knee, ankle) follow the
  Fourier series of `simpipe/example/trajectories.py`, shaped to match key
  values of published mean running kinematics (Novacheck 1998, Gait Posture
  7:77-95; Hamner & Delp 2013, J Biomech 46:780-787), not digitized; the
  stance part comes from a planted-foot design on this subject's model (see
  that module). Phase 0 is right foot strike; right toe-off at phase
  {stance:g}; the left leg is half a cycle later; each step has a flight phase.
- Pelvis fore-aft: `pelvis_tx = speed * t + dx(phase)`, where `dx` makes the
  mass centre move at the mean speed with a prescribed fore-aft force of
  {fore_aft:g} BW peak (braking in the first half of stance, propulsion in
  the second, zero in flight).
- Pelvis height: `pelvis_ty = ty(phase)`, a periodic Fourier series (30
  harmonics) fitted by least squares so that the stance foot's lowest
  contact-sphere point stays at y = 0, the mass centre falls freely in flight,
  and the vertical force in stance follows an impact-plus-active-peak shape.
- GRF (placeholder until a Moco simulation replaces it): the external force
  the motion implies, `F = m (a_com - g)` (`a_com` from the model: central
  differences of `calcMassCenterVelocity` at the exact kinematics), given to
  the stance foot between foot strike and toe-off, zero in flight and where
  it would pull. Centre of pressure on the ground, moving linearly from below
  the heel marker to below the fifth-metatarsal marker; free moment zero.
- Inverse dynamics truth: OpenSim's `InverseDynamicsSolver` at the exact q, u,
  udot with these forces applied (`simpipe.stages.id.inverse_dynamics`;
  muscles and contact forces off), at the marker frames.

## Limits (read before using these data as a benchmark)

- Pelvis residual force: zero in stance and in flight by construction except
  at the frames next to foot strike and toe-off, where the force starts or
  stops abruptly (or was cut where it would pull).
- Pelvis residual moment (`pelvis_tilt`): large (hundreds of N m). In
  flight it is the rate of change of the body's angular momentum under the
  prescribed joint angles, which real runners cancel with arm swing this 2D
  model lacks. In stance the centre of pressure is prescribed (heel to toe),
  not the point that would balance the angular momentum (that point wanders
  15-30 cm outside the foot). ID truths are still exact for the forces as
  written; muscle-driven analyses need the Moco-based GRF.
- The stance foot slides forward a little (it is not constrained fore-aft):
  a rigid toe-less foot cannot sweep as far under the body as a real one.
- The swing foot may dip up to about a millimetre below y = 0 next to foot
  strike and toe-off.

| trial | speed (m/s) | cycle (s) | peak Fy (BW) | stance foot height max (mm) \
| swing foot height min (mm) | stance foot slip mean / max (m/s) \
| residual force max (N), stance / flight | residual moment rms / max (N m) |
|---|---|---|---|---|---|---|---|---|
{quality_rows}
## ground_truth.h5

- root attributes: `subject`, `mass_kg`, `height_m`, `seed`, `noise_mm`,
  `simpipe_version`, `opensim_version`, `generic_model`.
- `scale_factors/bodies`, `scale_factors/factors` (n_bodies, 3).
- `static/coordinates`, `static/q`, `static/marker_names`, `static/markers` (m).
- `trials/<name>/`: `time` (s, marker frames), `coordinates`, `q` (rad, m),
  `u`, `udot`, `generalized_forces` (N m, N; InverseDynamicsSolver),
  `marker_names`, `markers` (n_frames, n_markers, 3; m, noise-free),
  `events/foot_strike_r|toe_off_r|foot_strike_l|toe_off_l` (s); attributes
  `speed_m_s`, `cycle_time_s`, `phase0`, `stance_fraction`, `quality_*`.
"""


def scale_factor_text(subject: Subject) -> str:
    """The subject's scale factors for a README: bodies grouped by factor."""
    groups = {}
    for body, factor in sorted(subject.scale_factors.items()):
        groups.setdefault(factor, []).append(body)
    return "; ".join(f"{', '.join(b)} {f:g}" for f, b in groups.items())


def manifest(subject: Subject, truths: list[TrialTruth], seed: int, noise_mm: float,
             model_name: str) -> str:
    """The README.md text describing the generated files (deterministic)."""
    factors = scale_factor_text(subject)
    trial_rows = "".join(
        f"| `{t.trial.name}.trc`, `{t.trial.name}_grf.mot`, `{t.trial.name}_external_loads.xml` "
        f"| running {t.trial.speed:g} m/s, cycle {t.trial.cycle_time:g} s "
        f"({120 / t.trial.cycle_time:.0f} steps/min), {t.trial.duration:g} s; markers "
        f"{t.trial.marker_rate:g} Hz in mm, GRF {t.trial.grf_rate:g} Hz |\n" for t in truths)
    quality_rows = "".join(
        f"| {t.trial.name} | {t.trial.speed:g} | {t.trial.cycle_time:g} "
        f"| {q['peak_vertical_grf_bw']:.2f} | {q['max_stance_foot_height_mm']:.1f} "
        f"| {q['min_swing_foot_height_mm']:.1f} "
        f"| {q['mean_stance_foot_slip_m_s']:.2f} / {q['max_stance_foot_slip_m_s']:.2f} "
        f"| {q['max_stance_residual_force_n']:.0f} / {q['max_flight_residual_force_n']:.0f} "
        f"| {q['rms_residual_moment_nm']:.0f} / {q['max_residual_moment_nm']:.0f} |\n"
        for t in truths for q in [t.quality])
    noise = (f", plus Gaussian noise of {noise_mm:g} mm per axis (seed {seed}; "
             "ground_truth.h5 keeps the noise-free positions)" if noise_mm > 0 else " (no noise)")
    return _MANIFEST.format(name=subject.name, seed=seed, noise_mm=noise_mm, model=model_name,
                            mass=subject.mass_kg, height=subject.height_m, factors=factors,
                            trial_rows=trial_rows, noise=noise, stance=traj.STANCE_FRACTION,
                            fore_aft=FORE_AFT_PEAK_BW, quality_rows=quality_rows)
