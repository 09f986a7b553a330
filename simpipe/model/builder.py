"""Build the built-in sagittal-plane running model ``simpipe_run2d``.

The model is generated from the tables in :mod:`simpipe.model.parameters`
with the OpenSim API; building it twice gives byte-identical files.

Conventions (OpenSim): X forward, Y up, Z to the right. All coordinates zero
is upright standing with the feet flat on the ground (``pelvis_ty`` defaults
to :func:`simpipe.model.parameters.default_pelvis_height`). Rotations:
``pelvis_tilt``, ``lumbar_extension`` (extension positive), ``hip_flexion_*``
(flexion positive) and ``ankle_angle_*`` (dorsiflexion positive) turn about
+Z; ``knee_angle_*`` turns about -Z so that flexion is positive (as in
Rajagopal et al. 2016).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from pathlib import Path

from ..stages.osimutil import opensim as _opensim
from . import parameters as P

osim = _opensim()  # quiet logger, no opensim.log in the working directory

log = logging.getLogger(__name__)

SIDES = ("r", "l")
LEG_BODIES = ("femur", "tibia", "calcn")


def _vec(v) -> osim.Vec3:
    return osim.Vec3(float(v[0]), float(v[1]), float(v[2]))


def _sign(side: str) -> float:
    return 1.0 if side == "r" else -1.0


def locate(body: str, side: str, location) -> tuple[str, tuple[float, float, float]]:
    """Resolve a table location into (model body name, location in its frame).

    Parameters
    ----------
    body : str
        ``pelvis``, ``torso``, a leg body (``femur``, ``tibia``, ``calcn``), or
        an anchored one: ``pelvis_hip`` (relative to that side's hip centre),
        ``pelvis_asis`` (relative to that side's ASIS), ``femur_distal`` (relative
        to the knee centre), ``tibia_distal`` (relative to the ankle centre).
    side : {'r', 'l'}
    location : sequence of 3 float
        Right-side location; Z is mirrored for the left side.

    Returns
    -------
    (str, tuple of float)
    """
    L = P.segment_lengths()
    x, y, z = (float(c) for c in location)
    anchors = {
        "pelvis": ("pelvis", (0.0, 0.0, 0.0)),
        "torso": ("torso", (0.0, 0.0, 0.0)),
        "pelvis_hip": ("pelvis", (0.0, 0.0, P.hip_joint_centre()[2])),
        "pelvis_asis": ("pelvis", _asis_in_pelvis()),
        "femur": ("femur", (0.0, 0.0, 0.0)),
        "femur_distal": ("femur", (0.0, -L["thigh"], 0.0)),
        "tibia": ("tibia", (0.0, 0.0, 0.0)),
        "tibia_distal": ("tibia", (0.0, -L["shank"], 0.0)),
        "calcn": ("calcn", (0.0, 0.0, 0.0)),
    }
    if body not in anchors:
        raise KeyError(f"unknown body anchor {body!r}; choose from {sorted(anchors)}")
    base, (ax, ay, az) = anchors[body]
    name = base if base in ("pelvis", "torso") else f"{base}_{side}"
    if base == "torso":
        return name, (x, y, z)
    s = _sign(side)
    return name, (round(ax + x, 6), round(ay + y, 6), round(s * (az + z), 6))


def _asis_in_pelvis() -> tuple[float, float, float]:
    """Right ASIS in the pelvis frame (origin at the hip-centre midpoint)."""
    hx, hy, _ = P.hip_joint_centre()
    return (-hx, -hy, P.GEOMETRY["pelvis_width"].value / 2.0)


def _add_bodies(model: osim.Model) -> dict[str, osim.Body]:
    specs = P.body_specs()
    bodies = {}
    names = ["pelvis", "torso"] + [f"{b}_{s}" for s in SIDES for b in LEG_BODIES]
    for name in names:
        spec = specs[name.split("_")[0]]  # femur_r -> femur; pelvis -> pelvis
        ixx, iyy, izz = spec.inertia
        body = osim.Body(name, spec.mass, _vec(spec.com), osim.Inertia(ixx, iyy, izz))
        model.addBody(body)
        bodies[name] = body
    return bodies


def _set_coordinate(coord: osim.Coordinate, name: str, lo: float, hi: float,
                    default: float = 0.0) -> None:
    coord.setName(name)
    coord.setRangeMin(lo)
    coord.setRangeMax(hi)
    coord.setDefaultValue(default)
    coord.setDefaultClamped(False)


def _rot_range(base: str) -> tuple[float, float]:
    lo, hi = P.COORDINATE_RANGES_DEG[base]
    return lo * P.DEG, hi * P.DEG


def _knee_joint(side: str, femur: osim.Body, tibia: osim.Body) -> osim.CustomJoint:
    """Knee hinge about -Z (flexion positive), built as a CustomJoint."""
    st = osim.SpatialTransform()
    axes = [(0, 0, -1), (1, 0, 0), (0, 1, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
    for i, axis in enumerate(axes):
        ta = st.updTransformAxis(i)
        ta.setAxis(_vec(axis))
        if i == 0:
            names = osim.ArrayStr()
            names.append(f"knee_angle_{side}")
            ta.setCoordinateNames(names)
            ta.set_function(osim.LinearFunction(1.0, 0.0))
        else:
            ta.set_function(osim.Constant(0.0))
    L = P.segment_lengths()
    joint = osim.CustomJoint(f"knee_{side}", femur, osim.Vec3(0, -L["thigh"], 0),
                             osim.Vec3(0), tibia, osim.Vec3(0), osim.Vec3(0), st)
    joint.finalizeFromProperties()  # creates the coordinate from the transform
    return joint


def _add_joints(model: osim.Model, bodies: dict[str, osim.Body]) -> None:
    L = P.segment_lengths()
    zero = osim.Vec3(0)
    pelvis = osim.PlanarJoint("ground_pelvis", model.getGround(), zero, zero,
                              bodies["pelvis"], zero, zero)
    _set_coordinate(pelvis.upd_coordinates(0), "pelvis_tilt", *_rot_range("pelvis_tilt"))
    _set_coordinate(pelvis.upd_coordinates(1), "pelvis_tx",
                    *P.PELVIS_TRANSLATION_RANGES["pelvis_tx"])
    _set_coordinate(pelvis.upd_coordinates(2), "pelvis_ty",
                    *P.PELVIS_TRANSLATION_RANGES["pelvis_ty"], P.default_pelvis_height())
    model.addJoint(pelvis)
    back = osim.PinJoint("back", bodies["pelvis"], osim.Vec3(0, L["hip_to_lumbar"], 0),
                         zero, bodies["torso"], zero, zero)
    _set_coordinate(back.upd_coordinates(0), "lumbar_extension",
                    *_rot_range("lumbar_extension"))
    model.addJoint(back)
    hz = P.hip_joint_centre()[2]
    for side in SIDES:
        hip = osim.PinJoint(f"hip_{side}", bodies["pelvis"], osim.Vec3(0, 0, _sign(side) * hz),
                            zero, bodies[f"femur_{side}"], zero, zero)
        _set_coordinate(hip.upd_coordinates(0), f"hip_flexion_{side}",
                        *_rot_range("hip_flexion"))
        knee = _knee_joint(side, bodies[f"femur_{side}"], bodies[f"tibia_{side}"])
        _set_coordinate(knee.upd_coordinates(0), f"knee_angle_{side}",
                        *_rot_range("knee_angle"))
        ankle = osim.PinJoint(f"ankle_{side}", bodies[f"tibia_{side}"],
                              osim.Vec3(0, -L["shank"], 0), zero,
                              bodies[f"calcn_{side}"], zero, zero)
        _set_coordinate(ankle.upd_coordinates(0), f"ankle_angle_{side}",
                        *_rot_range("ankle_angle"))
        for joint in (hip, knee, ankle):
            model.addJoint(joint)


def _add_wraps(bodies: dict[str, osim.Body]) -> dict[tuple[str, str], osim.WrapCylinder]:
    wraps = {}
    for side in SIDES:
        for spec in P.WRAP_CYLINDERS.values():
            body, loc = locate(spec.body, side, spec.translation)
            cyl = osim.WrapCylinder()
            cyl.setName(f"{spec.name}_{side}")
            cyl.set_radius(spec.radius)
            cyl.set_length(spec.length)
            cyl.set_quadrant(spec.quadrant)
            cyl.set_translation(_vec(loc))
            bodies[body].addWrapObject(cyl)
            wraps[(spec.name, side)] = cyl
    return wraps


def _add_muscles(model: osim.Model, bodies: dict[str, osim.Body],
                 wraps: dict[tuple[str, str], osim.WrapCylinder]) -> None:
    for side in SIDES:
        for spec in P.muscle_specs():
            mus = osim.DeGrooteFregly2016Muscle()
            mus.setName(f"{spec.name}_{side}")
            mus.set_max_isometric_force(spec.max_isometric_force)
            mus.set_optimal_fiber_length(spec.optimal_fiber_length)
            mus.set_tendon_slack_length(spec.tendon_slack_length)
            mus.set_pennation_angle_at_optimal(spec.pennation_angle)
            for i, point in enumerate(spec.path):
                body, loc = locate(point.body, side, point.location)
                mus.addNewPathPoint(f"{spec.name}_{side}-P{i + 1}", bodies[body], _vec(loc))
            for wrap in spec.wraps:
                mus.updGeometryPath().addPathWrap(wraps[(wrap, side)])
            model.addForce(mus)


def _add_markers(model: osim.Model, bodies: dict[str, osim.Body]) -> None:
    for side in SIDES:
        for spec in P.LEG_MARKERS:
            body, loc = locate(spec.body, side, spec.location)
            model.addMarker(osim.Marker(f"{side.upper()}{spec.name}", bodies[body], _vec(loc)))
    for spec in P.torso_markers():
        model.addMarker(osim.Marker(spec.name, bodies["torso"], _vec(spec.location)))


def contact_sphere_centres() -> dict[str, tuple[float, float, float]]:
    """Right-foot contact sphere centres in the calcn frame (m).

    The sphere bottoms lie at the sole (``-ankle_height``), so they touch y=0
    in the default pose.
    """
    c = P.CONTACT
    y = round(-P.segment_lengths()["ankle_height"] + c.radius, 6)
    return {"heel": (c.heel_x, y, 0.0), "front": (c.front_x, y, 0.0)}


def _add_contact(model: osim.Model, bodies: dict[str, osim.Body]) -> None:
    c = P.CONTACT
    floor = osim.ContactHalfSpace(osim.Vec3(0), osim.Vec3(0, 0, -math.pi / 2),
                                  model.getGround(), "floor")
    model.addContactGeometry(floor)
    for side in SIDES:
        for part, loc in contact_sphere_centres().items():
            body, loc = locate("calcn", side, loc)
            sphere = osim.ContactSphere(c.radius, _vec(loc), bodies[body],
                                        f"{part}_sphere_{side}")
            model.addContactGeometry(sphere)
            force = osim.SmoothSphereHalfSpaceForce(f"contact_{part}_{side}", sphere, floor)
            for prop in ("stiffness", "dissipation", "static_friction", "dynamic_friction",
                         "viscous_friction", "transition_velocity", "hertz_smoothing",
                         "hunt_crossley_smoothing"):
                getattr(force, f"set_{prop}")(getattr(c, prop))
            model.addForce(force)


def build_model(out_path: str | Path, name: str = "simpipe_run2d") -> Path:
    """Build the sagittal-plane running model and write it as .osim.

    Parameters
    ----------
    out_path : str or Path
        File to write (its folder is created).
    name : str
        Model name.

    Returns
    -------
    Path
        ``out_path``, resolved.

    Notes
    -----
    8 bodies (pelvis, torso, and femur/tibia/calcn per side), 9 coordinates,
    18 DeGrooteFregly2016Muscle (9 per leg), lab markers, and four
    SmoothSphereHalfSpaceForce foot contacts in the force set. Parameters and
    their sources are in :mod:`simpipe.model.parameters` and PARAMETERS.md.
    The output is deterministic: the same code gives the same bytes.
    """
    out = Path(out_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    model = osim.Model()
    model.setName(name)
    model.set_credits("simpipe (generated by simpipe.model.builder.build_model)")
    model.set_publications("See PARAMETERS.md: de Leva 1996; Delp et al. 1990; "
                           "Harrington et al. 2007; Falisse et al. 2019")
    bodies = _add_bodies(model)
    _add_joints(model, bodies)
    wraps = _add_wraps(bodies)
    _add_muscles(model, bodies, wraps)
    _add_markers(model, bodies)
    _add_contact(model, bodies)
    model.finalizeConnections()
    model.initSystem()
    model.printToXML(str(out))
    log.info("wrote %s", out)
    return out


RUNNING_ENVELOPE = (
    "grid hip -30..70, knee 0..120, ankle -40..30 deg, keeping the hip-knee-ankle "
    "combinations that occur in running (sagittal kinematics as reviewed by "
    "Novacheck 1998, Gait Posture 7:77): knee <= 40 + 2 (hip + 20) (the knee "
    "flexes far only once the hip swings forward), knee >= hip - 20 (the hip "
    "flexes far only with the knee bent), ankle <= 10 + knee / 2 (dorsiflexion "
    "with a bent knee in stance) and ankle >= -40 + knee / 4 (no full plantar "
    "flexion in swing)")


def running_poses(side: str = "r") -> list[dict[str, float]]:
    """Poses (rad) of one leg that span running, for fiber-length checks.

    Parameters
    ----------
    side : {'r', 'l'}

    Returns
    -------
    list of dict
        ``{'hip_flexion_<side>': ..., 'knee_angle_<side>': ..., 'ankle_angle_<side>': ...}``.

    Notes
    -----
    See :data:`RUNNING_ENVELOPE` for the grid and the rules.
    """
    poses = []
    for hip in (-30, -20, -10, 0, 15, 30, 50, 70):
        for knee in (0, 20, 40, 60, 80, 100, 120):
            for ankle in (-40, -25, -10, 0, 15, 30):
                if knee > 40 + 2 * (hip + 20) or knee < hip - 20:
                    continue
                if ankle > 10 + knee / 2 or ankle < -40 + knee / 4:
                    continue
                poses.append({f"hip_flexion_{side}": hip * P.DEG,
                              f"knee_angle_{side}": knee * P.DEG,
                              f"ankle_angle_{side}": ankle * P.DEG})
    return poses


def musculotendon_lengths(model_path: str | Path, poses: list[dict[str, float]],
                          muscles: list[str]) -> dict[str, list[float]]:
    """Musculotendon path lengths (m) of muscles at each pose.

    Parameters
    ----------
    model_path : str or Path
    poses : list of dict
        Coordinate name -> value (rad or m); others stay at their defaults.
    muscles : list of str

    Returns
    -------
    dict
        Muscle name -> one length per pose.
    """
    model = osim.Model(str(model_path))
    state = model.initSystem()
    coords = model.getCoordinateSet()
    out: dict[str, list[float]] = {m: [] for m in muscles}
    for pose in poses:
        for name, value in pose.items():
            coords.get(name).setValue(state, value, False)
        model.realizePosition(state)
        for m in muscles:
            out[m].append(model.getMuscles().get(m).getLength(state))
    return out


def reference_cycle_poses(side: str = "r", samples: int = 100) -> list[dict[str, float]]:
    """Poses (rad) of one leg over the reference running gait cycle.

    Parameters
    ----------
    side : {'r', 'l'}
    samples : int
        Evenly spaced phases over one cycle (0 = that leg's foot strike).

    Returns
    -------
    list of dict
        ``{'hip_flexion_<side>': ..., 'knee_angle_<side>': ..., 'ankle_angle_<side>': ...}``.

    Notes
    -----
    The cycle is :mod:`simpipe.example.trajectories` (running at about
    3.5 m/s shaped on Novacheck 1998 and Hamner & Delp 2013), the motion
    this model is built to simulate.
    """
    from simpipe.example import trajectories

    shift = 0.0 if side == "r" else 0.5
    phases = shift + np.arange(samples) / samples
    return [{f"{joint}_{side}": float(trajectories.joint_angles(phase, f"{joint}_{side}"))
             for joint in ("hip_flexion", "knee_angle", "ankle_angle")} for phase in phases]


def calibrate_tendon_slack_lengths(model_path: str | Path, side: str = "r",
                                   upper: float = P.FIBER_LENGTH_UPPER) -> dict[str, float]:
    """Tendon slack lengths that keep passive fibers in range over running.

    Parameters
    ----------
    model_path : str or Path
        A model built from :mod:`simpipe.model.parameters` (any slack lengths).
    side : {'r', 'l'}
    upper : float
        Largest normalized fiber length wanted over the reference running
        cycle (:func:`reference_cycle_poses`, rigid tendon).

    Returns
    -------
    dict
        Base muscle name -> tendon slack length (m), rounded to the millimetre.

    Notes
    -----
    With a rigid tendon and constant fiber thickness (as in the De Groote et
    al. 2016 model), the fiber length is ``sqrt((lmt - lts)^2 + (lopt sin a0)^2)``.
    The slack length centres the normalized fiber-length range over the
    reference cycle on 1.0, or, where the range is wider than
    ``2 (upper - 1)``, puts its top at ``upper``: passive force stays below
    about 12 % of the peak isometric force in running (a rigid tendon has no
    stretch to take up), at the price of short fibers (little active force)
    at the other end of the range, which for the biarticular muscles falls
    in swing.
    """
    specs = P.muscle_specs()
    names = [f"{s.name}_{side}" for s in specs]
    lengths = musculotendon_lengths(model_path, reference_cycle_poses(side), names)
    out = {}
    for spec, name in zip(specs, names):
        lmt = lengths[name]
        lo_, hi_ = min(lmt), max(lmt)
        h = spec.optimal_fiber_length * math.sin(spec.pennation_angle)
        span = (hi_ - lo_) / spec.optimal_fiber_length
        top = min(1.0 + span / 2.0, upper)
        along = math.sqrt(max((top * spec.optimal_fiber_length) ** 2 - h ** 2, 0.0))
        out[spec.name] = round(hi_ - along, 3)
    return out
