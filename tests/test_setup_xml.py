"""A lab's own OpenSim setup files: IK and Scale marker weights and pairs, ExternalLoads column names.

The setup files are written by OpenSim itself (``printToXML``), as a lab's
GUI session would leave them.
"""

import numpy as np
import pytest

from simpipe.config import parse_study
from simpipe.data import Table
from simpipe.io.grf import read_grf
from simpipe.io.setup_xml import read_external_loads, read_ik_setup, read_scale_setup
from simpipe.io.sto import write_sto
from simpipe.run.plan import build_plan
from simpipe.run.tasks import id_task, ik_task
from simpipe.stages.osimutil import opensim

from conftest import EXAMPLE, MODEL

FEET = {"r": "calcn_r", "l": "calcn_l"}


def _tasks(names_weights):
    osim = opensim()
    tasks = osim.IKTaskSet()
    for name, weight, apply in names_weights:
        task = osim.IKMarkerTask()
        task.setName(name)
        task.setWeight(weight)
        task.setApply(apply)
        tasks.cloneAndAppend(task)
    return tasks


def write_ik_setup(path, weights):
    tool = opensim().InverseKinematicsTool()
    tool.set_IKTaskSet(_tasks(weights))
    tool.printToXML(str(path))
    return path


def write_scale_setup(path, measurements, placer_weights):
    osim = opensim()
    tool = osim.ScaleTool()
    for name, (pairs, bodies, apply) in measurements.items():
        meas = osim.Measurement()
        meas.setName(name)
        meas.setApply(apply)
        for a, b in pairs:
            meas.getMarkerPairSet().cloneAndAppend(osim.MarkerPair(a, b))
        for body in bodies:
            scale = osim.BodyScale()
            scale.setName(body)
            meas.getBodyScaleSet().cloneAndAppend(scale)
        tool.getModelScaler().addMeasurement(meas)
    tasks = _tasks(placer_weights)
    for i in range(tasks.getSize()):
        tool.getMarkerPlacer().getIKTaskSet().cloneAndAppend(tasks.get(i))
    tool.printToXML(str(path))
    return path


def write_external_loads(path, forces):
    """forces: name -> (body, force id, point id, torque id)."""
    osim = opensim()
    loads = osim.ExternalLoads()
    for name, (body, force, point, torque) in forces.items():
        f = osim.ExternalForce()
        f.setName(name)
        f.set_applied_to_body(body)
        f.set_force_expressed_in_body("ground")
        f.set_point_expressed_in_body("ground")
        f.set_force_identifier(force)
        f.set_point_identifier(point)
        f.set_torque_identifier(torque)
        loads.cloneAndAppend(f)
    loads.setDataFileName("unused.mot")
    loads.printToXML(str(path))
    return path


#: OpenSim's gait examples name the right foot's columns ground_*, the left foot's 1_ground_*.
LAB_NAMES = {"r": "", "l": "1_"}
LAB_LOADS = {"right": ("calcn_r", "ground_force_v", "ground_force_p", "ground_torque_"),
             "left": ("calcn_l", "1_ground_force_v", "1_ground_force_p", "1_ground_torque_")}


def lab_grf(path):
    """The example's GRF with the column names of OpenSim's gait examples."""
    grf = read_grf(EXAMPLE / "run_01_grf.mot")
    labels = [LAB_NAMES[c[0]] + c[2:] for c in grf.labels]
    return write_sto(Table(grf.time, labels, grf.values), path, kind="mot")


def test_read_ik_setup(tmp_path):
    path = write_ik_setup(tmp_path / "ik.xml", [("RASI", 10.0, True), ("LASI", 5.0, True), ("C7", 1.0, False)])
    assert read_ik_setup(path) == {"RASI": 10.0, "LASI": 5.0, "C7": 0.0}


def test_read_scale_setup(tmp_path):
    path = write_scale_setup(tmp_path / "scale.xml",
                             {"thigh": ([("RGTR", "RKNE"), ("LGTR", "LKNE")], ["femur_r", "femur_l"], True),
                              "feet": ([("RHEE", "RTOE")], ["calcn_r"], False)},
                             [("RASI", 3.0, True), ("RTOE", 1.0, False)])
    measurements, weights = read_scale_setup(path)
    pairs = [("RGTR", "RKNE"), ("LGTR", "LKNE")]
    assert measurements == {"femur_r": pairs, "femur_l": pairs}  # 'feet' is not applied
    assert weights == {"RASI": 3.0, "RTOE": 0.0}


def test_read_external_loads(tmp_path):
    path = write_external_loads(tmp_path / "loads.xml", LAB_LOADS)
    forces = read_external_loads(path)
    assert [(f["name"], f["body"], f["force"]) for f in forces] == [("right", "calcn_r", "ground_force_v"),
                                                                    ("left", "calcn_l", "1_ground_force_v")]


def test_plan_takes_weights_and_pairs_from_setup_files_and_config_overrides(tmp_path):
    write_ik_setup(tmp_path / "ik.xml", [("RASI", 10.0, True), ("C7", 1.0, False)])
    write_scale_setup(tmp_path / "scale.xml", {"thigh": ([("RGTR", "RKNE")], ["femur_r"], True)},
                      [("RASI", 3.0, True)])
    text = f"""
name: t
model: {{builtin: simpipe_run2d}}
subjects:
  - {{id: s1, mass_kg: 72, height_m: 1.78, static: {EXAMPLE / 'static.trc'},
      trials: [{{id: r1, markers: {EXAMPLE / 'run_01.trc'}, grf: {EXAMPLE / 'run_01_grf.mot'}}}]}}
sweep: {{values: [0.6]}}
ik: {{setup: ik.xml, marker_weights: {{RASI: 2.0}}}}
scale: {{setup: scale.xml}}
output: out
"""
    plan = build_plan(parse_study(text, tmp_path / "study.yaml"), MODEL)
    scale, ik = plan.by_stage("scale")[0], plan.by_stage("ik")[0]
    assert ik.kwargs["weights"] == {"RASI": 2.0, "C7": 0.0}  # the config wins over the setup file
    assert scale.kwargs["measurements"] == {"femur_r": [("RGTR", "RKNE")]}
    assert scale.kwargs["marker_weights"] == {"RASI": 3.0}


@pytest.fixture(scope="module")
def ik(tmp_path_factory):
    return ik_task(str(EXAMPLE / "model_true.osim"), str(EXAMPLE / "run_01.trc"), {}, 1e-6, None, None,
                   str(tmp_path_factory.mktemp("ik")))


def test_id_through_external_loads_equals_simpipe_columns(tmp_path, ik):
    model = str(EXAMPLE / "model_true.osim")
    loads = write_external_loads(tmp_path / "loads.xml", LAB_LOADS)
    mot = lab_grf(tmp_path / "lab_grf.mot")
    got = id_task(model, ik, str(mot), FEET, None, None, str(tmp_path / "lab"), external_loads=str(loads))
    want = id_task(model, ik, str(EXAMPLE / "run_01_grf.mot"), FEET, None, None, str(tmp_path / "ref"))
    np.testing.assert_allclose(got["tau"], want["tau"], atol=1e-9)
    for side in FEET:
        np.testing.assert_allclose(got["grf"][side], want["grf"][side], atol=1e-12)
    assert read_grf(got["grf_mot"]).labels == read_grf(EXAMPLE / "run_01_grf.mot").labels
