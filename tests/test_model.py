"""The built-in model simpipe_run2d: contract names, anatomy, variants, groups."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simpipe.errors import ConfigError, ModelError
from simpipe.model import builder, parameters
from simpipe.model.groups import DEFAULT_GROUPS, model_muscle_names, resolve_groups
from simpipe.model.variants import passive_fiber_force, write_variant
from simpipe.stages.osimutil import opensim

osim = opensim()
REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "simpipe_run2d.osim"
DEG = math.pi / 180.0
MUSCLES = ["glut_max", "hamstrings", "bifemsh", "iliopsoas", "rect_fem", "vasti",
           "gastroc", "soleus", "tib_ant"]
ELY_POSE = {"hip_flexion_r": -20 * DEG, "knee_angle_r": 90 * DEG}


@pytest.fixture(scope="module")
def model():
    m = osim.Model(str(MODEL))
    m.initSystem()
    return m


@pytest.fixture
def state(model):
    return model.initializeState()


def _pose(model, state, values: dict[str, float]) -> None:
    coords = model.getCoordinateSet()
    for name, value in values.items():
        coords.get(name).setValue(state, value, False)
    model.realizePosition(state)


def _names(obj_set) -> list[str]:
    return [obj_set.get(i).getName() for i in range(obj_set.getSize())]


# --- the committed files are the generated ones ------------------------------

def test_regenerated_model_is_identical(tmp_path):
    out = builder.build_model(tmp_path / "m.osim")
    assert out.read_bytes() == MODEL.read_bytes(), \
        "models/simpipe_run2d.osim is stale: run `simpipe model build`"


def test_parameters_markdown_is_current():
    assert (REPO / "models" / "PARAMETERS.md").read_text() == parameters.parameters_markdown()


def test_tendon_slack_lengths_follow_documented_rule():
    calibrated = builder.calibrate_tendon_slack_lengths(MODEL)
    for name, lts in parameters.TENDON_SLACK_LENGTHS.items():
        assert calibrated[name] == pytest.approx(lts, abs=1.5e-3), name


# --- names contract ------------------------------------------------------------

def test_contract_names(model):
    bodies = {"pelvis", "torso"} | {f"{b}_{s}" for b in ("femur", "tibia", "calcn")
                                    for s in "rl"}
    assert set(_names(model.getBodySet())) == bodies
    coords = {"pelvis_tilt", "pelvis_tx", "pelvis_ty", "lumbar_extension"} | {
        f"{c}_{s}" for c in ("hip_flexion", "knee_angle", "ankle_angle") for s in "rl"}
    assert set(_names(model.getCoordinateSet())) == coords
    joints = {"ground_pelvis", "back"} | {f"{j}_{s}" for j in ("hip", "knee", "ankle")
                                          for s in "rl"}
    assert set(_names(model.getJointSet())) == joints
    muscles = model.getMuscles()
    assert set(_names(muscles)) == {f"{m}_{s}" for m in MUSCLES for s in "rl"}
    assert {muscles.get(i).getConcreteClassName() for i in range(muscles.getSize())} \
        == {"DeGrooteFregly2016Muscle"}
    forces = model.getForceSet()
    for name in ("contact_heel_r", "contact_front_r", "contact_heel_l", "contact_front_l"):
        assert forces.getIndex(name) >= 0, name
        assert forces.get(name).getConcreteClassName() == "SmoothSphereHalfSpaceForce"
    assert model.getContactGeometrySet().contains("floor")


def test_markers_and_scaling_pairs(model, state):
    markers = model.getMarkerSet()
    names = set(_names(markers))
    for side in "RL":
        for m in ("ASI", "PSI", "GTR", "THI", "KNE", "FIB", "TIB", "ANK", "HEE", "TOE", "MT5"):
            assert f"{side}{m}" in names
    assert {"C7", "T10", "CLAV", "STRN", "RSHO", "LSHO"} <= names
    model.realizePosition(state)
    pairs = {"pelvis": ("RASI", "RPSI"), "femur_r": ("RGTR", "RKNE"),
             "tibia_r": ("RFIB", "RANK"), "calcn_r": ("RHEE", "RTOE"),
             "torso": ("C7", "T10"), "femur_l": ("LGTR", "LKNE")}
    for body, (a, b) in pairs.items():
        ma, mb = markers.get(a), markers.get(b)
        assert ma.getParentFrameName().endswith(body) and mb.getParentFrameName().endswith(body)
        pa, pb = ma.getLocationInGround(state), mb.getLocationInGround(state)
        d = np.array([pa[i] - pb[i] for i in range(3)])
        assert np.linalg.norm(d) > 0.1, (a, b)
    # lateral markers sit laterally: right at +Z, left at -Z
    assert markers.get("RKNE").get_location()[2] > 0.03
    assert markers.get("LKNE").get_location()[2] < -0.03


# --- anatomy -------------------------------------------------------------------

def test_total_mass(model, state):
    assert model.getTotalMass(state) == pytest.approx(75.0, abs=1e-6)


def test_default_pose_feet_on_ground(model, state):
    assert model.getCoordinateSet().get("pelvis_ty").getDefaultValue() \
        == pytest.approx(parameters.default_pelvis_height())
    model.realizePosition(state)
    geoms = model.getContactGeometrySet()
    for side in "rl":
        for part in ("heel", "front"):
            sphere = osim.ContactSphere.safeDownCast(geoms.get(f"{part}_sphere_{side}"))
            centre = sphere.getFrame().findStationLocationInGround(state,
                                                                   sphere.get_location())
            assert centre[1] - sphere.getRadius() == pytest.approx(0.0, abs=5e-3)


def test_joint_conventions(model, state):
    markers = model.getMarkerSet()

    def x_of(marker, pose):
        _pose(model, state, pose)
        return markers.get(marker).getLocationInGround(state)

    assert x_of("RKNE", {"hip_flexion_r": 0.5})[0] > x_of("RKNE", {"hip_flexion_r": 0})[0]
    assert x_of("RANK", {"knee_angle_r": 0.5})[0] < x_of("RANK", {"knee_angle_r": 0})[0]
    assert x_of("RTOE", {"ankle_angle_r": 0.3})[1] > x_of("RTOE", {"ankle_angle_r": 0})[1]
    assert x_of("C7", {"lumbar_extension": 0.3})[0] < x_of("C7", {"lumbar_extension": 0})[0]


MOMENT_ARM_SIGNS = [
    # muscle, coordinate, sign (+: flexion / dorsiflexion, -: extension / plantar flexion)
    ("glut_max_r", "hip_flexion_r", -1), ("iliopsoas_r", "hip_flexion_r", 1),
    ("rect_fem_r", "hip_flexion_r", 1), ("rect_fem_r", "knee_angle_r", -1),
    ("vasti_r", "knee_angle_r", -1), ("hamstrings_r", "hip_flexion_r", -1),
    ("hamstrings_r", "knee_angle_r", 1), ("bifemsh_r", "knee_angle_r", 1),
    ("gastroc_r", "ankle_angle_r", -1), ("gastroc_r", "knee_angle_r", 1),
    ("soleus_r", "ankle_angle_r", -1), ("tib_ant_r", "ankle_angle_r", 1),
    ("soleus_l", "ankle_angle_l", -1), ("rect_fem_l", "knee_angle_l", -1),
]


@pytest.mark.parametrize("muscle, coordinate, sign", MOMENT_ARM_SIGNS)
def test_moment_arm_signs(model, state, muscle, coordinate, sign):
    side = muscle[-1]
    coord = model.getCoordinateSet().get(coordinate)
    for hip, knee, ankle in [(-30, 10, 0), (0, 0, 0), (30, 60, 20), (70, 110, -35)]:
        _pose(model, state, {f"hip_flexion_{side}": hip * DEG,
                             f"knee_angle_{side}": knee * DEG,
                             f"ankle_angle_{side}": ankle * DEG})
        arm = model.getMuscles().get(muscle).computeMomentArm(state, coord)
        assert sign * arm > 0.002, (muscle, coordinate, hip, knee, ankle, arm)
        assert abs(arm) < 0.09, (muscle, coordinate, hip, knee, ankle, arm)


def test_fiber_lengths_in_range_over_running(model, state):
    """Passive fibers stay below 1.3 optimal lengths over the reference running
    cycle, and in stance (where force is needed) no fiber is shorter than 0.5."""
    from simpipe.example.trajectories import STANCE_FRACTION

    muscles = model.getMuscles()
    for i in range(muscles.getSize()):
        muscles.get(i).setActivation(state, 0.01)
    poses = builder.reference_cycle_poses("r", samples=100)
    lengths = {m: [] for m in MUSCLES}
    for pose in poses:
        _pose(model, state, pose)
        model.equilibrateMuscles(state)
        model.realizeDynamics(state)
        for m in MUSCLES:
            lengths[m].append(muscles.get(f"{m}_r").getNormalizedFiberLength(state))
    stance = slice(0, int(STANCE_FRACTION * len(poses)) + 1)
    for m, values in lengths.items():
        assert max(values) <= parameters.FIBER_LENGTH_UPPER + 0.01, (m, max(values))
        assert min(values[stance]) >= 0.5, (m, min(values[stance]))


def test_left_mirrors_right(model, state):
    pose = {"hip_flexion_r": 0.4, "knee_angle_r": 1.0, "ankle_angle_r": -0.2,
            "hip_flexion_l": 0.4, "knee_angle_l": 1.0, "ankle_angle_l": -0.2}
    _pose(model, state, pose)
    muscles = model.getMuscles()
    for m in MUSCLES:
        assert muscles.get(f"{m}_l").getLength(state) \
            == pytest.approx(muscles.get(f"{m}_r").getLength(state), abs=1e-9)


# --- variants ------------------------------------------------------------------

def test_rectus_femoris_passive_force_rises_with_stiffness(tmp_path):
    forces = []
    for e0 in (0.6, 0.5, 0.4, 0.3):
        path = write_variant(MODEL, tmp_path / f"v{e0}.osim", ["rect_fem_r"],
                             "passive_fiber_strain_at_one_norm_force", e0)
        forces.append(passive_fiber_force(path, "rect_fem_r", ELY_POSE))
    assert forces[0] > 0
    assert all(b > a for a, b in zip(forces, forces[1:])), forces
    k2 = write_variant(MODEL, tmp_path / "k2.osim", ["rect_fem_r"],
                       "passive_stiffness_multiplier", 2.0)
    assert passive_fiber_force(k2, "rect_fem_r", ELY_POSE) == pytest.approx(forces[3])
    off = write_variant(MODEL, tmp_path / "off.osim", ["rect_fem_r"],
                        "ignore_passive_fiber_force", True)
    assert passive_fiber_force(off, "rect_fem_r", ELY_POSE) == 0.0
    # the other side is untouched
    assert passive_fiber_force(off, "rect_fem_l", {"hip_flexion_l": -20 * DEG,
                                                   "knee_angle_l": 90 * DEG}) \
        == pytest.approx(forces[0])


def test_variant_generic_property(tmp_path):
    path = write_variant(MODEL, tmp_path / "f.osim", ["soleus_r", "soleus_l"],
                         "max_isometric_force", 5000)
    variant = osim.Model(str(path))
    muscles = variant.getMuscles()
    assert muscles.get("soleus_l").getMaxIsometricForce() == 5000.0
    assert muscles.get("gastroc_r").getMaxIsometricForce() != 5000.0


@pytest.mark.parametrize("muscles, prop, value, words", [
    (["rect_fem_x"], "max_isometric_force", 1.0, ["rect_fem_x", "rect_fem_r"]),
    (["rect_fem_r"], "stiffness", 1.0, ["stiffness", "passive_fiber_strain_at_one_norm_force"]),
    (["rect_fem_r"], "ignore_passive_fiber_force", "maybe", ["maybe", "bool"]),
    (["rect_fem_r"], "passive_stiffness_multiplier", 0.0, ["> 0"]),
])
def test_variant_errors(tmp_path, muscles, prop, value, words):
    with pytest.raises(ModelError) as err:
        write_variant(MODEL, tmp_path / "x.osim", muscles, prop, value)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("cls, tag, expected", [
    ("Millard2012EquilibriumMuscle", "strain_at_one_norm_force", 0.35),
    ("Thelen2003Muscle", "FmaxMuscleStrain", 0.3),
])
def test_passive_stiffness_multiplier_other_classes(tmp_path, cls, tag, expected):
    model = osim.Model()
    body = osim.Body("b", 1.0, osim.Vec3(0), osim.Inertia(1, 1, 1))
    model.addBody(body)
    model.addJoint(osim.SliderJoint("j", model.getGround(), body))
    mus = getattr(osim, cls)("m", 100.0, 0.1, 0.2, 0.0)
    mus.addNewPathPoint("o", model.getGround(), osim.Vec3(0))
    mus.addNewPathPoint("i", body, osim.Vec3(0.3, 0, 0))
    model.addForce(mus)
    model.finalizeConnections()
    model.printToXML(str(tmp_path / "one.osim"))
    out = write_variant(tmp_path / "one.osim", tmp_path / "two.osim", ["m"],
                        "passive_stiffness_multiplier", 2.0)
    text = out.read_text()
    value = float(text.split(f"<{tag}>")[1].split("<")[0])
    assert value == pytest.approx(expected)


# --- groups --------------------------------------------------------------------

def test_default_groups_resolve():
    names = model_muscle_names(MODEL)
    groups = resolve_groups(names, DEFAULT_GROUPS)
    assert groups["plantarflexors"] == ["gastroc_r", "soleus_r", "gastroc_l", "soleus_l"]
    assert groups["rectus_femoris"] == ["rect_fem_r", "rect_fem_l"]
    assert set(groups["quadriceps"]) == {"rect_fem_r", "rect_fem_l", "vasti_r", "vasti_l"}
    assert all(groups.values())


def test_group_pattern_without_match_is_an_error():
    names = model_muscle_names(MODEL)
    with pytest.raises(ConfigError) as err:
        resolve_groups(names, {"glute": ["glut_max_*"], "calf": ["med_gas*"]})
    msg = str(err.value)
    assert "calf" in msg and "med_gas*" in msg and "soleus_r" in msg


def test_model_muscle_names_missing_file(tmp_path):
    with pytest.raises(ModelError):
        model_muscle_names(tmp_path / "none.osim")


def test_parameters_cite_sources():
    for spec in parameters.muscle_specs():
        assert "Delp" in spec.source
    for body in parameters.body_specs().values():
        assert "de Leva" in body.source
    assert np.isclose(sum(s.mass_percent for s in parameters.DE_LEVA_MALE.values())
                      + sum(parameters.DE_LEVA_MALE[k].mass_percent
                            for k in ("upper_arm", "forearm", "hand", "thigh", "shank",
                                      "foot")), 100.0, atol=0.05)
