"""Parameter tables of the built-in model ``simpipe_run2d``, with their sources.

Everything the builder needs is plain data here (numbers with a ``source``
field); :mod:`simpipe.model.builder` only turns it into OpenSim objects.
Lengths are in metres, masses in kilograms, angles in radians unless a name
says otherwise. Locations are given for the right side (+Z is right); the
left side mirrors Z.

Notes
-----
Sources used:

- de Leva P (1996). Adjustments to Zatsiorsky-Seluyanov's segment inertia
  parameters. J Biomech 29:1223-1230. Table 4 (males): mass fractions,
  segment lengths, centre-of-mass positions and radii of gyration.
- Winter DA (2009). Biomechanics and Motor Control of Human Movement, 4th ed.,
  Fig. 4.1 (segment lengths as fractions of height; ankle height 0.039 H).
- Harrington ME et al. (2007). Prediction of the hip joint centre in adults,
  children, and patients with cerebral palsy based on magnetic resonance
  imaging. J Biomech 40:595-602 (hip joint centre regressions on pelvis
  width and depth).
- Delp SL et al. (1990). An interactive graphics-based model of the lower
  extremity to study orthopaedic surgical procedures. IEEE Trans Biomed Eng
  37:757-767. Table I: peak isometric force, optimal fiber length,
  pennation angle of each muscle.
- Falisse A et al. (2019). Algorithmic differentiation improves the
  computational efficiency of OpenSim-based trajectory optimization of human
  movement. PLoS One 14:e0217730 (smooth sphere-half-space contact
  parameters of its 2D gait model, also OpenSim Moco's 2D walking example).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEG = math.pi / 180.0

# ---------------------------------------------------------------------------
# Subject
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """Body size the generic model represents."""

    mass: float
    height: float
    source: str


SUBJECT = Subject(mass=75.0, height=1.80,
                  source="generic adult male (de Leva 1996 reference body, scaled)")

# ---------------------------------------------------------------------------
# Anthropometry (de Leva 1996, Table 4, males)
# ---------------------------------------------------------------------------

DE_LEVA_STATURE = 1.741
"""Stature (m) of de Leva's male reference population; segment lengths scale by
``SUBJECT.height / DE_LEVA_STATURE``."""

DE_LEVA_SOURCE = "de Leva 1996, J Biomech 29:1223, Table 4 (males)"


@dataclass(frozen=True)
class DeLevaSegment:
    """One row of de Leva's Table 4 (males).

    Attributes
    ----------
    mass_percent : float
        Segment mass, percent of body mass.
    length : float
        Segment length (m) in the reference population.
    com_percent : float
        Centre of mass, percent of ``length`` from ``origin``.
    r_sagittal, r_transverse, r_longitudinal : float
        Radii of gyration, percent of ``length``, about the sagittal
        (antero-posterior, X), transverse (medio-lateral, Z) and longitudinal
        (Y) axes through the centre of mass.
    origin, end : str
        Landmarks that bound the segment (de Leva's abbreviations).
    source : str
    """

    mass_percent: float
    length: float
    com_percent: float
    r_sagittal: float
    r_transverse: float
    r_longitudinal: float
    origin: str
    end: str
    source: str = DE_LEVA_SOURCE


DE_LEVA_MALE: dict[str, DeLevaSegment] = {
    "head": DeLevaSegment(6.94, 0.2429, 59.76, 36.2, 37.6, 31.2, "VERT", "CERV"),
    "upper_trunk": DeLevaSegment(15.96, 0.1707, 29.99, 71.6, 45.4, 65.9, "SUPR", "XYPH"),
    "middle_trunk": DeLevaSegment(16.33, 0.2155, 45.02, 48.2, 38.3, 46.8, "XYPH", "OMPH"),
    "lower_trunk": DeLevaSegment(11.17, 0.1457, 61.15, 61.5, 55.1, 58.7, "OMPH", "MIDH"),
    "upper_arm": DeLevaSegment(2.71, 0.2817, 57.72, 28.5, 26.9, 15.8, "SJC", "EJC"),
    "forearm": DeLevaSegment(1.62, 0.2689, 45.74, 27.6, 26.5, 12.1, "EJC", "WJC"),
    "hand": DeLevaSegment(0.61, 0.0862, 79.00, 62.8, 51.3, 40.1, "WJC", "MET3"),
    "thigh": DeLevaSegment(14.16, 0.4222, 40.95, 32.9, 32.9, 14.9, "HJC", "KJC"),
    "shank": DeLevaSegment(4.33, 0.4340, 44.59, 25.5, 24.9, 10.3, "KJC", "LMAL"),
    "foot": DeLevaSegment(1.37, 0.2581, 44.15, 25.7, 24.5, 12.4, "HEEL", "TTIP"),
}


@dataclass(frozen=True)
class Geometry:
    """Skeletal dimensions not in de Leva's table, with their sources."""

    value: float
    source: str


GEOMETRY: dict[str, Geometry] = {
    "ankle_height_per_height": Geometry(
        0.039, "Winter 2009, Fig. 4.1: ankle joint height 0.039 H"),
    "heel_to_ankle": Geometry(
        0.055, "assumed: posterior heel 5.5 cm behind the ankle joint centre"),
    "cervicale_above_suprasternale": Geometry(
        0.0714, "assumed: C7 spinous process about 7 cm above the jugular notch "
                "(de Leva's reference stature; scaled with height)"),
    "pelvis_width": Geometry(
        0.25, "assumed inter-ASIS distance of an adult male (m)"),
    "pelvis_depth": Geometry(
        0.165, "assumed distance between ASIS and PSIS midpoints (m)"),
    "shoulder_half_width": Geometry(
        0.18, "assumed: shoulder joint centres 18 cm lateral of the midline"),
}

# Harrington et al. 2007 regressions (mm, relative to the ASIS midpoint, pelvis
# axes): x = -0.24 PD - 9.9, y = -0.30 PW - 10.9, z = 0.33 PW + 7.3.
HARRINGTON_2007 = {
    "x": (-0.24, "pelvis_depth", -0.0099),
    "y": (-0.30, "pelvis_width", -0.0109),
    "z": (0.33, "pelvis_width", 0.0073),
    "source": "Harrington et al. 2007, J Biomech 40:595",
}

# ---------------------------------------------------------------------------
# Muscles
# ---------------------------------------------------------------------------

DELP_SOURCE = "Delp et al. 1990, IEEE TBME 37:757, Table I"

DELP_1990: dict[str, tuple[float, float, float]] = {
    # name: (peak isometric force N, optimal fiber length m, pennation deg)
    "glut_max1": (382.0, 0.142, 5.0),
    "glut_max2": (546.0, 0.147, 0.0),
    "glut_max3": (368.0, 0.144, 5.0),
    "iliacus": (429.0, 0.100, 7.0),
    "psoas": (371.0, 0.104, 8.0),
    "semimem": (1030.0, 0.080, 15.0),
    "semiten": (328.0, 0.201, 5.0),
    "bifemlh": (717.0, 0.109, 0.0),
    "bifemsh": (402.0, 0.173, 23.0),
    "rect_fem": (779.0, 0.084, 5.0),
    "vas_med": (1294.0, 0.089, 5.0),
    "vas_int": (1365.0, 0.087, 3.0),
    "vas_lat": (1871.0, 0.084, 5.0),
    "med_gas": (1113.0, 0.045, 17.0),
    "lat_gas": (488.0, 0.064, 8.0),
    "soleus": (2839.0, 0.030, 25.0),
    "tib_ant": (603.0, 0.098, 5.0),
}
"""Delp et al. (1990) Table I values of the muscles lumped into this model."""

LUMPING: dict[str, tuple[str, ...]] = {
    "glut_max": ("glut_max1", "glut_max2", "glut_max3"),
    "hamstrings": ("semimem", "semiten", "bifemlh"),
    "bifemsh": ("bifemsh",),
    "iliopsoas": ("iliacus", "psoas"),
    "rect_fem": ("rect_fem",),
    "vasti": ("vas_med", "vas_int", "vas_lat"),
    "gastroc": ("med_gas", "lat_gas"),
    "soleus": ("soleus",),
    "tib_ant": ("tib_ant",),
}
"""Which of Delp's muscles each lumped muscle stands for (as in the 2D
gait10dof18musc model distributed with OpenSim)."""

FORCE_SCALE = 1.5
"""Factor applied to Delp's peak isometric forces. OpenSim's gait2392 and
gait10dof18musc models use the same factor (e.g. rect_fem 779 N -> 1169 N,
glut_max 1296 N -> 1944 N) to represent young, healthy adults."""

SOLEUS_OPTIMAL_FIBER_LENGTH = Geometry(
    0.050, "OpenSim gait2392 model (Delp's 3.0 cm cannot span the ankle's "
           "running range of motion within 0.5-1.6 optimal lengths)")

FIBER_LENGTH_UPPER = 1.3
"""Largest normalized fiber length over the reference running cycle (rigid
tendons): the DeGroote-Fregly passive force there is about 12 % of the peak
isometric force (strain 0.6 at one normalized force)."""

TENDON_SLACK_LENGTH_RULE = (
    "calibrated for this model's paths: with a rigid tendon, the normalized fiber "
    "length over the reference running cycle (simpipe.model.builder."
    "reference_cycle_poses(), from simpipe.example.trajectories) is centred on 1.0, "
    f"or where that range is wider than {2 * (FIBER_LENGTH_UPPER - 1):.1f}, its top is "
    f"put at {FIBER_LENGTH_UPPER} (simpipe.model.builder.calibrate_tendon_slack_lengths)")


@dataclass(frozen=True)
class PathPointSpec:
    """A path point on a body (``femur`` means femur_r / femur_l)."""

    body: str
    location: tuple[float, float, float]


@dataclass(frozen=True)
class WrapCylinderSpec:
    """A wrapping cylinder (axis along the body's Z) on a body."""

    name: str
    body: str
    translation: tuple[float, float, float]
    radius: float
    length: float
    quadrant: str
    source: str


@dataclass(frozen=True)
class MuscleSpec:
    """One lumped muscle of the right leg (the left one mirrors it).

    Attributes
    ----------
    name : str
        Base name; the model's muscles are ``name + '_r'`` and ``name + '_l'``.
    max_isometric_force : float
        N.
    optimal_fiber_length : float
        m.
    tendon_slack_length : float
        m.
    pennation_angle : float
        rad, at optimal fiber length.
    path : tuple of PathPointSpec
        Origin first, insertion last.
    wraps : tuple of str
        Names of :data:`WRAP_CYLINDERS` the path wraps over.
    source : str
    """

    name: str
    max_isometric_force: float
    optimal_fiber_length: float
    tendon_slack_length: float
    pennation_angle: float
    path: tuple[PathPointSpec, ...]
    wraps: tuple[str, ...] = ()
    source: str = ""


def lumped_delp(name: str) -> tuple[float, float, float]:
    """Lumped (force, optimal fiber length, pennation) of one muscle.

    Parameters
    ----------
    name : str
        A key of :data:`LUMPING`.

    Returns
    -------
    tuple of float
        Summed peak isometric force times :data:`FORCE_SCALE` (N), and the
        force-weighted mean optimal fiber length (m) and pennation (rad).
    """
    parts = [DELP_1990[p] for p in LUMPING[name]]
    total = sum(f for f, _, _ in parts)
    lopt = sum(f * lo for f, lo, _ in parts) / total
    penn = sum(f * a for f, _, a in parts) / total
    if name == "soleus":
        lopt = SOLEUS_OPTIMAL_FIBER_LENGTH.value
    return round(total * FORCE_SCALE, 1), round(lopt, 4), round(penn * DEG, 4)


KNEE_WRAP_SOURCE = ("this model: centred 0.5 cm anterior and 1.5 cm proximal of the "
                    "knee axis so the extensor moment arm falls from ~4.5 cm at full "
                    "extension to ~2.5 cm at 90 deg flexion")

WRAP_CYLINDERS: dict[str, WrapCylinderSpec] = {
    "knee_extensors": WrapCylinderSpec(
        "knee_extensors", "femur_distal", (0.005, 0.015, 0.0), 0.04, 0.12, "+x",
        KNEE_WRAP_SOURCE),
    "glut_max_hip": WrapCylinderSpec(
        "glut_max_hip", "pelvis_hip", (0.0, 0.0, 0.0), 0.06, 0.12, "-x",
        "this model: keeps gluteus maximus behind the hip in hip flexion"),
    "gastroc_knee": WrapCylinderSpec(
        "gastroc_knee", "femur_distal", (0.0, 0.0, 0.0), 0.025, 0.12, "-x",
        "this model: keeps gastrocnemius behind the femoral condyles"),
}
"""Wrap cylinders. Bodies: ``pelvis_hip`` is the pelvis with locations
relative to that side's hip joint centre, ``femur_distal`` / ``tibia_distal``
the femur / tibia with locations relative to the knee / ankle joint centre."""


def _p(body: str, x: float, y: float, z: float) -> PathPointSpec:
    return PathPointSpec(body, (x, y, z))


# Muscle paths: this model's own, placed at the usual bony landmarks relative
# to the joint centres (see PARAMETERS.md); checked by tests/test_model.py.
MUSCLE_PATHS: dict[str, tuple[tuple[PathPointSpec, ...], tuple[str, ...]]] = {
    "glut_max": ((_p("pelvis_hip", -0.085, 0.075, -0.030),
                  _p("femur", -0.020, -0.100, 0.045)), ("glut_max_hip",)),
    "hamstrings": ((_p("pelvis_hip", -0.060, -0.050, -0.020),
                    _p("tibia", -0.025, -0.045, 0.000)), ()),
    "bifemsh": ((_p("femur", -0.020, -0.220, 0.020),
                 _p("tibia", -0.030, -0.060, 0.035)), ()),
    "iliopsoas": ((_p("pelvis_hip", -0.020, 0.110, -0.030),
                   _p("pelvis_hip", 0.040, -0.005, -0.015),
                   _p("femur", -0.005, -0.055, -0.010)), ()),
    "rect_fem": ((_p("pelvis_hip", 0.040, 0.035, 0.005),
                  _p("tibia", 0.040, -0.070, 0.000)), ("knee_extensors",)),
    "vasti": ((_p("femur", 0.030, -0.200, 0.020),
               _p("tibia", 0.040, -0.070, 0.000)), ("knee_extensors",)),
    "gastroc": ((_p("femur_distal", -0.020, 0.020, 0.000),
                 _p("tibia_distal", -0.038, 0.100, 0.000),
                 _p("calcn", -0.048, -0.020, 0.000)), ("gastroc_knee",)),
    "soleus": ((_p("tibia", -0.020, -0.150, 0.010),
                _p("tibia_distal", -0.038, 0.100, 0.000),
                _p("calcn", -0.048, -0.020, 0.000)), ()),
    "tib_ant": ((_p("tibia", 0.020, -0.160, 0.020),
                 _p("tibia_distal", 0.035, 0.030, -0.010),
                 _p("calcn", 0.090, -0.030, -0.015)), ()),
}
"""Path points (origin first). Bodies as in :data:`WRAP_CYLINDERS`."""

TENDON_SLACK_LENGTHS: dict[str, float] = {
    "glut_max": 0.073,
    "hamstrings": 0.333,
    "bifemsh": 0.062,
    "iliopsoas": 0.086,
    "rect_fem": 0.482,
    "vasti": 0.259,
    "gastroc": 0.425,
    "soleus": 0.277,
    "tib_ant": 0.244,
}
"""Tendon slack lengths (m); see :data:`TENDON_SLACK_LENGTH_RULE`."""

MUSCLE_NAMES: tuple[str, ...] = ("glut_max", "hamstrings", "bifemsh", "iliopsoas",
                                 "rect_fem", "vasti", "gastroc", "soleus", "tib_ant")


def muscle_specs() -> list[MuscleSpec]:
    """The nine lumped muscles of one leg (right side), in model order.

    Returns
    -------
    list of MuscleSpec
    """
    specs = []
    for name in MUSCLE_NAMES:
        force, lopt, penn = lumped_delp(name)
        path, wraps = MUSCLE_PATHS[name]
        source = (f"F, lopt, pennation: {DELP_SOURCE} ({' + '.join(LUMPING[name])}; "
                  f"F x {FORCE_SCALE}); lts: {TENDON_SLACK_LENGTH_RULE.split(':')[0]}")
        if name == "soleus":
            source += f"; lopt: {SOLEUS_OPTIMAL_FIBER_LENGTH.source.split(' (')[0]}"
        specs.append(MuscleSpec(name, force, lopt, TENDON_SLACK_LENGTHS[name], penn,
                                path, wraps, source))
    return specs


# ---------------------------------------------------------------------------
# Derived skeleton: lengths, bodies
# ---------------------------------------------------------------------------


def length_scale() -> float:
    """Ratio of the subject's height to de Leva's reference stature."""
    return SUBJECT.height / DE_LEVA_STATURE


def segment_lengths() -> dict[str, float]:
    """Segment lengths (m) of the model, de Leva's scaled to ``SUBJECT.height``.

    Returns
    -------
    dict
        The de Leva segments by name plus ``ankle_height`` (Winter 2009) and
        ``hip_to_lumbar`` (= lower trunk, OMPH-MIDH).
    """
    s = length_scale()
    out = {name: round(seg.length * s, 4) for name, seg in DE_LEVA_MALE.items()}
    out["ankle_height"] = round(GEOMETRY["ankle_height_per_height"].value
                                * SUBJECT.height, 4)
    out["hip_to_lumbar"] = out["lower_trunk"]
    return out


@dataclass(frozen=True)
class BodySpec:
    """Mass properties of one body.

    Attributes
    ----------
    name : str
    mass : float
        kg.
    com : tuple of float
        Centre of mass in the body frame (m).
    inertia : tuple of float
        Principal moments (Ixx, Iyy, Izz) about the centre of mass (kg m^2).
    source : str
    """

    name: str
    mass: float
    com: tuple[float, float, float]
    inertia: tuple[float, float, float]
    source: str


def _segment_inertia(seg: str, mass: float) -> tuple[float, float, float]:
    """Principal moments (Ixx, Iyy, Izz) from de Leva's radii of gyration."""
    row = DE_LEVA_MALE[seg]
    length = segment_lengths()[seg]
    rx, ry, rz = (row.r_sagittal, row.r_longitudinal, row.r_transverse)
    return tuple(mass * (r / 100.0 * length) ** 2 for r in (rx, ry, rz))


def _segment_mass(seg: str) -> float:
    return DE_LEVA_MALE[seg].mass_percent / 100.0 * SUBJECT.mass


def torso_landmarks() -> dict[str, float]:
    """Heights (m) of trunk landmarks above the lumbar joint (OMPH level)."""
    L = segment_lengths()
    xyph = L["middle_trunk"]
    supr = xyph + L["upper_trunk"]
    cerv = supr + round(GEOMETRY["cervicale_above_suprasternale"].value
                        * length_scale(), 4)
    return {"XYPH": xyph, "SUPR": supr, "CERV": cerv, "SJC": supr}


def _torso_parts() -> list[tuple[str, float, float]]:
    """(de Leva segment, COM height above the lumbar joint, z) of torso parts.

    Head, upper and middle trunk on the midline; both arms hanging straight
    from shoulder joint centres at the height of the suprasternale.
    """
    L = segment_lengths()
    lm = torso_landmarks()
    com = {k: DE_LEVA_MALE[k].com_percent / 100.0 for k in DE_LEVA_MALE}
    parts = [
        ("middle_trunk", L["middle_trunk"] * (1.0 - com["middle_trunk"]), 0.0),
        ("upper_trunk", lm["XYPH"] + L["upper_trunk"] * (1.0 - com["upper_trunk"]), 0.0),
        ("head", lm["CERV"] + L["head"] * (1.0 - com["head"]), 0.0),
    ]
    zs = GEOMETRY["shoulder_half_width"].value
    elbow = lm["SJC"] - L["upper_arm"]
    wrist = elbow - L["forearm"]
    for z in (zs, -zs):
        parts += [("upper_arm", lm["SJC"] - L["upper_arm"] * com["upper_arm"], z),
                  ("forearm", elbow - L["forearm"] * com["forearm"], z),
                  ("hand", wrist - L["hand"] * com["hand"], z)]
    return parts


def _torso_body() -> BodySpec:
    """Composite of head, arms, upper and middle trunk (parallel-axis theorem)."""
    parts = _torso_parts()
    masses = [_segment_mass(seg) for seg, _, _ in parts]
    total = sum(masses)
    ycom = sum(m * y for m, (_, y, _) in zip(masses, parts)) / total
    ixx = iyy = izz = 0.0
    for m, (seg, y, z) in zip(masses, parts):
        jx, jy, jz = _segment_inertia(seg, m)
        dy = y - ycom
        ixx += jx + m * (dy ** 2 + z ** 2)
        iyy += jy + m * z ** 2
        izz += jz + m * dy ** 2
    return BodySpec("torso", round(total, 4), (0.0, round(ycom, 4), 0.0),
                    (round(ixx, 5), round(iyy, 5), round(izz, 5)),
                    f"{DE_LEVA_SOURCE}: head + upper trunk + middle trunk + both arms "
                    "(hanging), combined with the parallel-axis theorem")


def _limb_body(name: str, seg: str, com: tuple[float, float, float]) -> BodySpec:
    mass = _segment_mass(seg)
    inertia = tuple(round(v, 5) for v in _segment_inertia(seg, mass))
    return BodySpec(name, round(mass, 4), com, inertia, f"{DE_LEVA_SOURCE}: {seg}")


def body_specs() -> dict[str, BodySpec]:
    """Mass properties of the five body types (legs: one side).

    Returns
    -------
    dict
        Keys ``pelvis``, ``torso``, ``femur``, ``tibia``, ``calcn``. Frames:
        pelvis origin at the midpoint of the hip joint centres (MIDH), torso
        origin at the lumbar joint, femur / tibia / calcn origins at the hip /
        knee / ankle joint centres; Y along the segment, up in the default pose.
    """
    L = segment_lengths()
    com = {k: DE_LEVA_MALE[k].com_percent / 100.0 for k in DE_LEVA_MALE}
    heel = GEOMETRY["heel_to_ankle"].value
    foot_com = (round(-heel + com["foot"] * L["foot"], 4),
                round(-L["ankle_height"] / 2.0, 4), 0.0)
    pelvis = _limb_body("pelvis", "lower_trunk",
                        (0.0, round(L["lower_trunk"] * (1.0 - com["lower_trunk"]), 4),
                         0.0))
    return {
        "pelvis": pelvis,
        "torso": _torso_body(),
        "femur": _limb_body("femur", "thigh", (0.0, round(-com["thigh"] * L["thigh"], 4),
                                               0.0)),
        "tibia": _limb_body("tibia", "shank", (0.0, round(-com["shank"] * L["shank"], 4),
                                               0.0)),
        "calcn": _limb_body("calcn", "foot", foot_com),
    }


def hip_joint_centre() -> tuple[float, float, float]:
    """Right hip joint centre relative to the ASIS midpoint (m), Harrington 2007."""
    out = []
    for axis in ("x", "y", "z"):
        slope, dim, offset = HARRINGTON_2007[axis]
        out.append(round(slope * GEOMETRY[dim].value + offset, 4))
    return (out[0], out[1], out[2])


def default_pelvis_height() -> float:
    """Height (m) of the pelvis origin (MIDH) when standing upright, feet flat."""
    L = segment_lengths()
    return round(L["ankle_height"] + L["shank"] + L["thigh"], 4)


# ---------------------------------------------------------------------------
# Markers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkerSpec:
    """A marker on a body.

    ``body`` is a body of the model, or a per-side one (``femur``,
    ``femur_distal``, ...; see :data:`WRAP_CYLINDERS`) for leg markers whose
    name gets an ``R``/``L`` prefix and whose Z is mirrored on the left.
    """

    name: str
    body: str
    location: tuple[float, float, float]
    landmark: str


MARKER_SOURCE = ("Placed at the named landmarks relative to this model's joint "
                 "centres; ASIS from the Harrington et al. 2007 hip-centre "
                 "regression inverted")

LEG_MARKERS: tuple[MarkerSpec, ...] = (
    MarkerSpec("ASI", "pelvis_asis", (0.0, 0.0, 0.0), "anterior superior iliac spine"),
    MarkerSpec("PSI", "pelvis_asis", (-0.165, 0.020, -0.080),
               "posterior superior iliac spine (pelvis depth 16.5 cm; 2 cm above "
               "ASIS: standing anterior pelvic tilt)"),
    MarkerSpec("GTR", "femur", (-0.010, -0.020, 0.080), "greater trochanter"),
    MarkerSpec("THI", "femur", (0.020, -0.220, 0.080), "lateral thigh"),
    MarkerSpec("KNE", "femur_distal", (0.000, 0.010, 0.050), "lateral femoral epicondyle"),
    MarkerSpec("KNM", "femur_distal", (0.000, 0.010, -0.050),
               "medial femoral epicondyle"),
    MarkerSpec("FIB", "tibia", (-0.015, -0.060, 0.050), "head of fibula"),
    MarkerSpec("TIB", "tibia", (0.020, -0.220, 0.055), "lateral shank"),
    MarkerSpec("ANK", "tibia_distal", (0.000, 0.000, 0.045), "lateral malleolus"),
    MarkerSpec("HEE", "calcn", (-0.065, -0.035, 0.000), "posterior calcaneus"),
    MarkerSpec("TOE", "calcn", (0.170, -0.040, 0.000), "second metatarsal head"),
    MarkerSpec("MT5", "calcn", (0.130, -0.050, 0.045), "fifth metatarsal head"),
)
"""Per-side markers (right-side Z). ``pelvis_asis`` locations are relative to
that side's ASIS."""


def torso_markers() -> list[MarkerSpec]:
    """Trunk markers, heights from :func:`torso_landmarks`."""
    lm = torso_landmarks()
    zs = GEOMETRY["shoulder_half_width"].value
    return [
        MarkerSpec("C7", "torso", (-0.070, lm["CERV"], 0.0),
                   "7th cervical spinous process (cervicale)"),
        MarkerSpec("T10", "torso", (-0.100, lm["XYPH"], 0.0),
                   "10th thoracic spinous process (xiphoid level)"),
        MarkerSpec("CLAV", "torso", (0.070, lm["SUPR"], 0.0), "jugular notch"),
        MarkerSpec("STRN", "torso", (0.100, lm["XYPH"], 0.0), "xiphoid process"),
        MarkerSpec("RSHO", "torso", (-0.010, round(lm["SJC"] + 0.03, 4), zs),
                   "right acromion (3 cm above the shoulder centre)"),
        MarkerSpec("LSHO", "torso", (-0.010, round(lm["SJC"] + 0.03, 4), -zs),
                   "left acromion"),
    ]


# ---------------------------------------------------------------------------
# Contact and coordinates
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactSpec:
    """Smooth sphere-half-space contact parameters (Falisse et al. 2019)."""

    radius: float = 0.032
    stiffness: float = 3067776.0
    dissipation: float = 2.0
    static_friction: float = 0.8
    dynamic_friction: float = 0.8
    viscous_friction: float = 0.5
    transition_velocity: float = 0.2
    hertz_smoothing: float = 300.0
    hunt_crossley_smoothing: float = 50.0
    heel_x: float = -0.025
    front_x: float = 0.150
    source: str = ("Falisse et al. 2019, PLoS One 14:e0217730 (values of its 2D gait "
                   "model, also OpenSim Moco's 2D walking example); sphere radius and "
                   "centres this model's (3.2 cm, under the calcaneus and the "
                   "metatarsal heads)")


CONTACT = ContactSpec()

COORDINATE_RANGES_DEG: dict[str, tuple[float, float]] = {
    "pelvis_tilt": (-90.0, 90.0),
    "lumbar_extension": (-90.0, 90.0),
    "hip_flexion": (-40.0, 120.0),
    "knee_angle": (0.0, 140.0),
    "ankle_angle": (-50.0, 40.0),
}
PELVIS_TRANSLATION_RANGES: dict[str, tuple[float, float]] = {
    "pelvis_tx": (-50.0, 50.0),
    "pelvis_ty": (-1.0, 2.0),
}


# ---------------------------------------------------------------------------
# Human-readable table (models/PARAMETERS.md is generated from this)
# ---------------------------------------------------------------------------

_ANCHORS = ("Locations are in metres in the body frame, right side (+Z right; the "
            "left side mirrors Z). Anchors: `pelvis_hip` = relative to that side's "
            "hip joint centre, `pelvis_asis` = relative to that side's ASIS, "
            "`femur_distal` / `tibia_distal` = relative to the knee / ankle joint "
            "centre; `pelvis`, `femur`, `tibia`, `calcn`, `torso` = body origin.")


def _fmt(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _md_bodies() -> list[str]:
    lines = ["## Bodies", "",
             "Frames: pelvis origin at the midpoint of the hip joint centres (MIDH); "
             "torso origin at the lumbar joint (OMPH level); femur, tibia, calcn "
             "origins at the hip, knee, ankle joint centres. Y along the segment.", "",
             "| body | mass (kg) | COM (m) | Ixx, Iyy, Izz (kg m^2) | source |",
             "|---|---|---|---|---|"]
    for b in body_specs().values():
        lines.append(f"| {b.name} | {b.mass:.4f} | {_fmt(b.com)} | {_fmt(b.inertia)} "
                     f"| {b.source} |")
    total = sum(b.mass * (2 if b.name in ('femur', 'tibia', 'calcn') else 1)
                for b in body_specs().values())
    lines += ["", f"Total mass: {total:.3f} kg (legs counted twice).", "",
              "| segment length | m |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in segment_lengths().items()]
    lines += ["", "| geometry | value | source |", "|---|---|---|"]
    lines += [f"| {k} | {g.value} | {g.source} |" for k, g in GEOMETRY.items()]
    hjc = hip_joint_centre()
    lines += ["", f"Hip joint centre relative to the ASIS midpoint: {_fmt(hjc)} m "
              f"({HARRINGTON_2007['source']}). Default pelvis_ty (standing, feet flat): "
              f"{default_pelvis_height():.4f} m.", ""]
    return lines


def _md_muscles() -> list[str]:
    lines = ["## Muscles (DeGrooteFregly2016Muscle, per leg)", "",
             f"Peak isometric force, optimal fiber length and pennation: {DELP_SOURCE}, "
             "lumped (forces summed; fiber length and pennation force-weighted), forces "
             f"x {FORCE_SCALE}. Soleus optimal fiber length: "
             f"{SOLEUS_OPTIMAL_FIBER_LENGTH.source}. Tendon slack length: "
             f"{TENDON_SLACK_LENGTH_RULE}. Passive fiber strain at one normalized "
             "force: 0.6 (OpenSim default).", "",
             "| muscle | Delp 1990 parts | Fmax (N) | lopt (m) | lts (m) | pennation (deg) |",
             "|---|---|---|---|---|---|"]
    for m in muscle_specs():
        lines.append(f"| {m.name} | {', '.join(LUMPING[m.name])} | {m.max_isometric_force:.1f} "
                     f"| {m.optimal_fiber_length:.4f} | {m.tendon_slack_length:.3f} "
                     f"| {m.pennation_angle / DEG:.2f} |")
    lines += ["", "### Paths", "", _ANCHORS, "",
              "| muscle | path points (anchor: location) | wraps |", "|---|---|---|"]
    for m in muscle_specs():
        pts = "; ".join(f"{p.body}: {_fmt(p.location)}" for p in m.path)
        lines.append(f"| {m.name} | {pts} | {', '.join(m.wraps) or '-'} |")
    lines += ["", "| wrap cylinder (axis Z) | anchor | translation | radius | length "
              "| quadrant | source |", "|---|---|---|---|---|---|---|"]
    for w in WRAP_CYLINDERS.values():
        lines.append(f"| {w.name} | {w.body} | {_fmt(w.translation)} | {w.radius} "
                     f"| {w.length} | {w.quadrant} | {w.source} |")
    return lines + [""]


def _md_markers_contact() -> list[str]:
    lines = ["## Markers", "", MARKER_SOURCE + ". " + _ANCHORS, "",
             "| marker | anchor | location | landmark |", "|---|---|---|---|"]
    for m in LEG_MARKERS:
        lines.append(f"| R{m.name} / L{m.name} | {m.body} | {_fmt(m.location)} "
                     f"| {m.landmark} |")
    for m in torso_markers():
        lines.append(f"| {m.name} | {m.body} | {_fmt(m.location)} | {m.landmark} |")
    c = CONTACT
    lines += ["", "## Foot contact", "",
              "SmoothSphereHalfSpaceForce contact_heel_r/l and contact_front_r/l "
              "between spheres on calcn_r/l and the half space `floor` (ground, y=0), "
              "in the model's force set.", "", "| parameter | value |", "|---|---|"]
    for k in ("radius", "stiffness", "dissipation", "static_friction", "dynamic_friction",
              "viscous_friction", "transition_velocity", "hertz_smoothing",
              "hunt_crossley_smoothing", "heel_x", "front_x"):
        lines.append(f"| {k} | {getattr(c, k)} |")
    lines += ["", f"Source: {c.source}.", ""]
    return lines


def _md_coordinates() -> list[str]:
    lines = ["## Coordinates", "",
             "OpenSim axes: X forward, Y up, Z right. All zero = upright standing. "
             "pelvis_tilt, lumbar_extension (extension +), hip_flexion (flexion +) and "
             "ankle_angle (dorsiflexion +) rotate about +Z; knee_angle rotates about -Z "
             "so that flexion is positive (Rajagopal et al. 2016 convention).", "",
             "| coordinate | range |", "|---|---|"]
    for k, (lo, hi) in COORDINATE_RANGES_DEG.items():
        lines.append(f"| {k} | {lo:g} .. {hi:g} deg |")
    for k, (lo, hi) in PELVIS_TRANSLATION_RANGES.items():
        lines.append(f"| {k} | {lo:g} .. {hi:g} m |")
    return lines + [""]


def parameters_markdown() -> str:
    """The parameter tables as Markdown (the content of models/PARAMETERS.md).

    Returns
    -------
    str
    """
    head = ["# simpipe_run2d: parameters and sources", "",
            "Generated by `simpipe.model.parameters.parameters_markdown()`; do not edit "
            "by hand. The model (`simpipe_run2d.osim`) is generated by "
            "`simpipe.model.builder.build_model`.", "",
            f"Subject: {SUBJECT.mass:g} kg, {SUBJECT.height:g} m ({SUBJECT.source}). "
            "The torso body includes head and arms.", "",
            "## Sources", ""]
    head += [f"- {line.strip()[2:]}" for line in __doc__.split("Sources used:")[1]
             .split("\n- ")[1:] for line in [" - " + " ".join(line.split())]]
    head.append("")
    return "\n".join(head + _md_bodies() + _md_coordinates() + _md_muscles()
                     + _md_markers_contact())
