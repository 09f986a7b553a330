"""Modified Thomas test of a model: where the hanging thigh comes to rest.

The test (as in Harvey 1998): the subject lies supine at the end of the
table, holds the other knee to the chest (which flattens the lumbar spine
and tilts the pelvis posteriorly) and lets the tested limb hang relaxed
over the edge. The examiner reads the angle of the thigh to the
horizontal table: negative = thigh below the table = hip
extension. With the knee flexed the two-joint rectus femoris (RF) is
stretched and limits hip extension; with the knee straight it is slack and
the one-joint flexors (iliopsoas, capsule) limit it, which is how the test
tells RF tightness from iliopsoas tightness.

Physics
-------
The pelvis is held still; the tested limb (thigh, shank, foot) rotates about
the hip with the knee held at ``knee_deg`` and the ankle at ``ankle_deg``.
The thigh settles where the passive hip flexion moment equals the
gravitational moment of the limb::

    P(q) = W(q)

* ``P(q)``: passive hip flexion moment of all muscles at zero activation,
  sum over muscles of (passive fiber force along the tendon) x (hip moment
  arm, ``Muscle.computeMomentArm``), plus the hip generalized force of any
  other passive structure the model has (coordinate limit forces, springs,
  ligaments; found by OpenSim inverse dynamics with only that force on).
  Tendons are rigid by default, as in simpipe's muscle stage (the passive
  fiber force then depends on the pose alone); with
  ``tendon_compliance=True`` each muscle is equilibrated at activation 0.01
  instead (OpenSim's equilibrium is undefined at zero activation).
* ``W(q)``: the limb-weight moment, the hip flexion moment needed to hold
  the limb still against gravity, from OpenSim's ``InverseDynamicsSolver``
  with zero speeds and accelerations and every force off. It is the
  threshold of the test and a function of the hip angle: it uses the
  model's own segment masses and centres of mass (simpipe_run2d: de Leva
  1996). With the knee at 90 deg the shank hangs roughly vertically below
  the knee, so ``W`` is the thigh's moment plus the shank-and-foot weight
  times the thigh's horizontal projection, and it falls as the thigh drops
  below the table; with the knee straight the whole limb extends and ``W``
  is larger.

The limb is lowered from ``start_deg`` of thigh elevation (45 deg above
the table by default; a hip flexion contracture beyond it is flagged) and
comes to rest at the first angle on the way down where ``P``
reaches ``W``: the largest hip angle where ``P - W`` changes sign from
negative (above) to positive (below), a stable equilibrium. It is found on a
1-degree scan and refined with Brent's method (``scipy.optimize.brentq``).
Where ``P`` never reaches ``W`` before the coordinate's lower limit, the
limb would fall out of the modelled range: the angle is NaN and the flag
says so (nothing is clamped to the limit).

Angles
------
``thigh_angle_deg``: the line hip centre -> knee centre against the
horizontal, negative below the table (clinicians' convention, from the
model's geometry). ``hip_flexion_deg``: the model's hip coordinate. With
simpipe's models (rotations about +Z) they differ by the pelvis tilt:
``thigh = hip_flexion + pelvis_tilt_deg``.

``pelvis_tilt_deg`` is the pelvis orientation, positive = posterior tilt,
relative to the model's pelvis frame lying flat (its long axis, hip centres
to lumbar joint, parallel to the table). The default 0 approximates the
pelvis position Harvey (1998) standardized, as we read it in a copy of the
paper's methods: posterior tilt with the lumbar spine on the table, the
iliac crest and the greater trochanter (trochanterion) aligned
horizontally. At a given hip angle the thigh angle moves one to one with
the pelvis tilt, and pelvic tilt explained nearly all the difference
between the test's thigh angle and true hip extension (r = 0.98) in
Vigotsky et al. (2016): vary ``pelvis_tilt_deg`` to see its effect.

The held contralateral limb enters only through the pelvis tilt: no muscle
of the built-in model crosses both hips and the pelvis is fixed.

Reference values
----------------
Harvey (1998), 117 elite athletes (tennis, basketball, rowing, running):
grand mean hip angle -11.9 deg (thigh below the table) and mean knee angle
52.5 deg (the quadriceps measure), in Harvey's procedure with the knee
hanging freely, not held at 90 deg; compare the model's knee-90 and
knee-straight angles with that in mind. Harvey's standard deviations are
not quoted here (not verified).

References
----------
Harvey D (1998). Assessment of the flexibility of elite athletes using the
modified Thomas test. Br J Sports Med 32:68-70.
Vigotsky AD et al. (2016). The modified Thomas test is not a valid measure
of hip extension unless pelvic tilt is controlled. PeerJ 4:e2325.
De Groote F et al. (2016). Evaluation of direct collocation optimal control
problem formulations for solving the muscle redundancy problem. Ann Biomed
Eng 44:2922-2936 (passive fiber force-length curve).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from ..errors import ModelError
from ..model.groups import DEFAULT_GROUPS, resolve_groups
from ..stages.osimutil import coordinate_names, load_model, opensim, speed_indices

log = logging.getLogger(__name__)

#: Coordinates the test poses; ``{side}`` is replaced by the tested side.
COORDINATES = {"pelvis_tilt": "pelvis_tilt", "hip": "hip_flexion_{side}",
               "knee": "knee_angle_{side}", "ankle": "ankle_angle_{side}"}
#: The limb came to rest within the coordinate range.
FLAG_OK = "ok"
#: The passive moment never reaches the limb-weight moment: the limb falls past the range.
FLAG_FALLS = "falls_past_range"
#: The passive moment already exceeds the limb-weight moment at the start: the limb never descends.
FLAG_HELD = "held_at_start"
#: Forces that are not passive structures of the limb (contact, prescribed loads).
_NOT_PASSIVE = ("SmoothSphereHalfSpaceForce", "HuntCrossleyForce", "ElasticFoundationForce",
                "ExternalForce", "PrescribedForce")
_SCAN_STEP = math.radians(1.0)
_MIN_MOMENT_ARM = 1e-6  # m: a muscle with a smaller hip moment arm at the neutral pose does not cross the hip


@dataclass(frozen=True)
class ThomasResult:
    """Rest angle of the hanging limb at one knee angle.

    Attributes
    ----------
    knee_deg, ankle_deg, pelvis_tilt_deg : float
        The held pose (deg; pelvis tilt positive posterior).
    thigh_angle_deg : float
        Thigh against the table (deg), negative below it; NaN when no rest
        angle exists in range (see ``flag``).
    hip_flexion_deg : float
        The model's hip coordinate at rest (deg); NaN with the above.
    passive_moment_nm, limb_moment_nm : float
        Passive hip flexion moment and limb-weight moment (N m) at rest; at
        the coordinate's lower limit when the limb falls past it.
    rf_force_n : float
        Passive fiber force along the tendon of the rectus femoris (N; sum
        over the group's muscles crossing the tested hip), same pose.
    contributions_nm : dict
        Muscle or force name -> its passive hip flexion moment (N m), same pose.
    flag : str
        :data:`FLAG_OK`, :data:`FLAG_FALLS` or :data:`FLAG_HELD`.
    """

    knee_deg: float
    ankle_deg: float
    pelvis_tilt_deg: float
    thigh_angle_deg: float
    hip_flexion_deg: float
    passive_moment_nm: float
    limb_moment_nm: float
    rf_force_n: float
    contributions_nm: dict[str, float] = field(default_factory=dict)
    flag: str = FLAG_OK

    @property
    def residual_nm(self) -> float:
        """Passive minus limb-weight moment (N m): about 0 at a rest angle."""
        return self.passive_moment_nm - self.limb_moment_nm


@dataclass(frozen=True)
class ThomasCurves:
    """Passive and limb-weight hip moments over a range of hip angles.

    Attributes
    ----------
    knee_deg : ndarray, shape (k,)
    hip_flexion_deg, thigh_angle_deg : ndarray, shape (h,)
        Hip coordinate and thigh angle against the table (deg).
    passive_moment_nm, limb_moment_nm, rf_force_n : ndarray, shape (k, h)
    contributors : tuple of str
        Muscles crossing the hip, then the other passive forces.
    contribution_nm : ndarray, shape (k, h, len(contributors))
    pelvis_tilt_deg, ankle_deg : float
    """

    knee_deg: np.ndarray
    hip_flexion_deg: np.ndarray
    thigh_angle_deg: np.ndarray
    passive_moment_nm: np.ndarray
    limb_moment_nm: np.ndarray
    rf_force_n: np.ndarray
    contributors: tuple[str, ...]
    contribution_nm: np.ndarray
    pelvis_tilt_deg: float
    ankle_deg: float


class _Limb:
    """The model posed for the test; OpenSim objects live only in here."""

    def __init__(self, model_path, side, pelvis_tilt_deg, ankle_deg, tendon_compliance, groups, rf_group):
        osim = opensim()
        self.model = model = load_model(model_path)
        self.compliant = bool(tendon_compliance)
        muscles = model.getMuscles()
        for i in range(muscles.getSize()):
            muscles.get(i).set_ignore_tendon_compliance(not self.compliant)
        self.state = state = model.initSystem()
        _check_gravity(model, model_path)
        names = {k: v.format(side=side) for k, v in COORDINATES.items()}
        coords = self._coordinates(names, model_path)
        self.hip, self.knee = coords["hip"], coords["knee"]
        coords["pelvis_tilt"].setValue(state, math.radians(90.0 + pelvis_tilt_deg), False)  # supine
        coords["ankle"].setValue(state, math.radians(ankle_deg), False)
        self.hip_index = int(speed_indices(model, state)[coordinate_names(model).index(names["hip"])])
        self.solver = osim.InverseDynamicsSolver(model)
        self.forces = [model.getForceSet().get(i) for i in range(model.getForceSet().getSize())]
        for force in self.forces:
            force.setAppliesForce(state, False)
        for i in range(muscles.getSize()):
            mus = muscles.get(i)
            mus.setActivation(state, max(mus.getMinControl(), 0.01) if self.compliant else 0.0)
        self.hip.setValue(state, 0.0, False)
        self.muscles = self._crossing_muscles()
        self.others = [f for f in self.forces
                       if f.getConcreteClassName() not in _NOT_PASSIVE and osim.Actuator.safeDownCast(f) is None]
        self.rf = self._rf_muscles(groups, rf_group, model_path)
        self.contributors = tuple(m.getName() for m in self.muscles) + tuple(f.getName() for f in self.others)
        self.range = (self.hip.getRangeMin(), self.hip.getRangeMax())

    def _coordinates(self, names, model_path):
        cs = self.model.getCoordinateSet()
        missing = [n for n in names.values() if not cs.contains(n)]
        if missing:
            raise ModelError(f"{model_path}: the Thomas test needs coordinate(s) {missing}; the model has "
                             f"{coordinate_names(self.model)}")
        return {k: cs.get(n) for k, n in names.items()}

    def _crossing_muscles(self) -> list:
        self.model.realizePosition(self.state)
        muscles = self.model.getMuscles()
        return [muscles.get(i) for i in range(muscles.getSize())
                if abs(muscles.get(i).computeMomentArm(self.state, self.hip)) > _MIN_MOMENT_ARM]

    def _rf_muscles(self, groups, rf_group, model_path) -> list:
        names = [m.getName() for m in self.muscles]
        all_names = [self.model.getMuscles().get(i).getName() for i in range(self.model.getMuscles().getSize())]
        if rf_group not in groups:
            raise ModelError(f"{model_path}: no muscle group {rf_group!r}; groups are {sorted(groups)}")
        members = resolve_groups(all_names, {rf_group: groups[rf_group]})[rf_group]
        rf = [self.muscles[names.index(m)] for m in members if m in names]
        if not rf:
            raise ModelError(f"{model_path}: no muscle of group {rf_group!r} ({members}) crosses "
                             f"{self.hip.getName()}")
        return rf

    def set_knee(self, knee_rad: float) -> None:
        self.knee.setValue(self.state, knee_rad, False)

    def thigh_angle(self, hip_rad: float) -> float:
        """Thigh (hip centre -> knee centre) against the horizontal, rad, negative below."""
        self.hip.setValue(self.state, hip_rad, False)
        self.model.realizePosition(self.state)
        hip = _vec(self.hip.getJoint().getChildFrame().getPositionInGround(self.state))
        knee = _vec(self.knee.getJoint().getParentFrame().getPositionInGround(self.state))
        d = knee - hip
        return math.atan2(d[1], d[0])  # up = +Y (gravity checked); supine with the head to -X, the limb hangs to +X

    def balance(self, hip_rad: float) -> tuple[float, float, np.ndarray, float]:
        """Passive moment, limb-weight moment, contributions (N m) and RF force (N) at a hip angle."""
        state = self.state
        self.hip.setValue(state, hip_rad, False)
        limb = self._inverse_dynamics(None)
        self.model.realizeVelocity(state)
        if self.compliant:
            for mus in self.muscles:
                mus.computeEquilibrium(state)
        self.model.realizeDynamics(state)
        force = {m.getName(): m.getPassiveFiberForceAlongTendon(state) for m in self.muscles}
        parts = [force[m.getName()] * m.computeMomentArm(state, self.hip) for m in self.muscles]
        parts += [limb - self._inverse_dynamics(f) for f in self.others]
        rf = sum(force[m.getName()] for m in self.rf)
        return float(sum(parts)), limb, np.array(parts, float), float(rf)

    def _inverse_dynamics(self, on) -> float:
        """Hip generalized force (N m) holding the limb still, with only force ``on`` applied."""
        osim = opensim()
        if on is not None:
            on.setAppliesForce(self.state, True)
        self.model.realizeVelocity(self.state)
        tau = self.solver.solve(self.state, osim.Vector(self.state.getNU(), 0.0)).get(self.hip_index)
        if on is not None:
            on.setAppliesForce(self.state, False)
        return float(tau)


def _vec(v) -> np.ndarray:
    return np.array([v.get(i) for i in range(3)])


def _check_gravity(model, model_path) -> None:
    g = _vec(model.getGravity())
    if not (g[1] < 0 and abs(g[0]) < 1e-9 * abs(g[1]) and abs(g[2]) < 1e-9 * abs(g[1])):
        raise ModelError(f"{model_path}: the Thomas test assumes gravity along -Y (OpenSim's convention); "
                         f"the model's gravity is {g.tolist()}")


def _limb(model_path, side, pelvis_tilt_deg, ankle_deg, tendon_compliance, groups, rf_group) -> _Limb:
    if side not in ("r", "l"):
        raise ValueError(f"side must be 'r' or 'l', got {side!r}")
    return _Limb(Path(model_path), side, float(pelvis_tilt_deg), float(ankle_deg), tendon_compliance,
                 DEFAULT_GROUPS if groups is None else groups, rf_group)


def _rest_angle(limb: _Limb, start: float) -> tuple[float, str]:
    """Hip coordinate (rad) where the lowered limb comes to rest, and the flag."""
    lo = limb.range[0]
    grid = np.append(np.arange(start, lo, -_SCAN_STEP), lo)

    def excess(q):
        passive, weight, _, _ = limb.balance(q)
        return passive - weight

    prev_q, prev = grid[0], excess(grid[0])
    if prev >= 0:
        return math.nan, FLAG_HELD
    for q in grid[1:]:
        cur = excess(q)
        if cur >= 0:
            root = q if cur == 0 else brentq(excess, q, prev_q, xtol=1e-10, rtol=1e-12)
            return float(root), FLAG_OK
        prev_q, prev = q, cur
    return math.nan, FLAG_FALLS


def thomas_test(model_path: str | Path, side: str = "r", knee_deg=(90.0, 0.0), pelvis_tilt_deg: float = 0.0,
                ankle_deg: float = 0.0, start_deg: float = 45.0, tendon_compliance: bool = False,
                groups: dict[str, list[str]] | None = None,
                rf_group: str = "rectus_femoris") -> dict[float, ThomasResult]:
    """Hip angle of a modified Thomas test of a model, at each knee angle.

    Parameters
    ----------
    model_path : str or Path
        The .osim model (loaded by path; not modified).
    side : {'r', 'l'}
        The tested (hanging) limb.
    knee_deg : sequence of float
        Knee coordinate values held during the test (deg; flexion positive).
    pelvis_tilt_deg : float
        Pelvis tilt, positive posterior, relative to the pelvis frame lying
        flat on the table (see the module notes).
    ankle_deg : float
        Ankle coordinate held (deg).
    start_deg : float
        Thigh angle against the table (deg) from which the limb is lowered;
        limited to the coordinate range. Where the passive moment already
        exceeds the limb-weight moment there, the flag is :data:`FLAG_HELD`.
    tendon_compliance : bool
        False (default): rigid tendons. True: the model's tendons, muscles
        equilibrated at activation 0.01.
    groups : dict, optional
        Muscle groups (fnmatch patterns); simpipe's built-in groups by default.
    rf_group : str
        The group whose passive force is reported as ``rf_force_n``.

    Returns
    -------
    dict
        Knee angle (deg, float) -> :class:`ThomasResult`.

    Raises
    ------
    ModelError
        A coordinate or group is missing, or gravity is not along -Y.

    Notes
    -----
    Rest angle where the passive hip flexion moment of the muscles (zero
    activation) and the model's other passive forces equals the limb-weight
    moment, searched from ``start_deg`` down to the hip coordinate's lower
    limit (Harvey 1998 for the test; see the module docstring). No rest
    angle in range gives NaN angles with ``flag`` set, never a clamped value.
    """
    limb = _limb(model_path, side, pelvis_tilt_deg, ankle_deg, tendon_compliance, groups, rf_group)
    out = {}
    for knee in knee_deg:
        limb.set_knee(math.radians(knee))
        start = min(limb.range[1], math.radians(start_deg - pelvis_tilt_deg))
        q, flag = _rest_angle(limb, start)
        at = q if flag == FLAG_OK else (limb.range[0] if flag == FLAG_FALLS else start)
        passive, weight, parts, rf = limb.balance(at)
        thigh = math.degrees(limb.thigh_angle(q)) if flag == FLAG_OK else math.nan
        out[float(knee)] = ThomasResult(
            knee_deg=float(knee), ankle_deg=float(ankle_deg), pelvis_tilt_deg=float(pelvis_tilt_deg),
            thigh_angle_deg=thigh, hip_flexion_deg=math.degrees(q), passive_moment_nm=passive,
            limb_moment_nm=weight, rf_force_n=rf, contributions_nm=dict(zip(limb.contributors, parts.tolist())),
            flag=flag)
        log.info("Thomas test %s, knee %g deg: thigh %.2f deg (%s)", model_path, knee, thigh, flag)
    return out


def thomas_curves(model_path: str | Path, side: str = "r", knee_deg=(90.0, 0.0), pelvis_tilt_deg: float = 0.0,
                  ankle_deg: float = 0.0, hip_deg=None, tendon_compliance: bool = False,
                  groups: dict[str, list[str]] | None = None, rf_group: str = "rectus_femoris") -> ThomasCurves:
    """Passive hip flexion moment, limb-weight moment and RF force against hip angle.

    Parameters
    ----------
    model_path, side, knee_deg, pelvis_tilt_deg, ankle_deg, tendon_compliance, groups, rf_group
        As in :func:`thomas_test`.
    hip_deg : array_like, optional
        Hip coordinate values (deg); default every degree from the
        coordinate's lower limit to 30 deg of thigh elevation above the table.

    Returns
    -------
    ThomasCurves

    Notes
    -----
    Same model, pose and moments as :func:`thomas_test`; the rest angle is
    where ``passive_moment_nm`` crosses ``limb_moment_nm`` from below as the
    hip angle falls.
    """
    limb = _limb(model_path, side, pelvis_tilt_deg, ankle_deg, tendon_compliance, groups, rf_group)
    if hip_deg is None:
        lo = math.degrees(limb.range[0])
        hip_deg = np.arange(math.ceil(lo), 30.0 - pelvis_tilt_deg + 0.5, 1.0)
    hip = np.radians(np.asarray(hip_deg, float))
    knees = np.asarray(knee_deg, float)
    shape = (len(knees), len(hip))
    passive, weight, rf = np.empty(shape), np.empty(shape), np.empty(shape)
    parts = np.empty(shape + (len(limb.contributors),))
    for k, knee in enumerate(knees):
        limb.set_knee(math.radians(knee))
        for j, q in enumerate(hip):
            passive[k, j], weight[k, j], parts[k, j], rf[k, j] = limb.balance(q)
    thigh = np.degrees([limb.thigh_angle(q) for q in hip])
    return ThomasCurves(knees, np.degrees(hip), thigh, passive, weight, rf, limb.contributors, parts,
                        float(pelvis_tilt_deg), float(ankle_deg))
