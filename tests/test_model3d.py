"""Any OpenSim model: a 3D model with other names runs the whole study through the config's mapping.

The model (``tests/model3d.py``) has both legs, 3-DOF hips, 43 markers and
muscles of three classes; its subject has a static trial and a running
trial as C3D files and a standing trial as .trc + .mot. The study sweeps
``passive_stiffness_multiplier`` over DeGrooteFregly2016, Millard2012 and
Thelen2003 muscles at once.
"""

import math

import h5py
import numpy as np
import pytest

from simpipe.stages.osimutil import load_model

from model3d import MAPPING, TRUE_SCALE, study3d, true_coordinates


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return study3d(tmp_path_factory)


def _value(res, stage, **where):
    for task in res.plan.by_stage(stage):
        if all(task.where.get(k) == v for k, v in where.items()):
            return res.outcome.values[task.key]
    raise KeyError((stage, where))


def test_model_has_two_legs_3dof_hips_markers_and_three_muscle_classes(study):
    path, res = study
    model = load_model(res.study.model.path)
    model.initSystem()
    coords = [model.getCoordinateSet().get(i).getName() for i in range(model.getCoordinateSet().getSize())]
    for side in "rl":
        assert {f"hip_flex_{side}", f"hip_add_{side}", f"hip_rot_{side}"} <= set(coords)
    assert model.getMarkerSet().getSize() >= 40
    muscles = model.getMuscles()
    classes = {muscles.get(i).getConcreteClassName() for i in range(muscles.getSize())}
    assert classes == {"DeGrooteFregly2016Muscle", "Millard2012EquilibriumMuscle", "Thelen2003Muscle"}


def test_study_runs_every_stage_once_through_the_mapping(study):
    _, res = study
    assert not res.outcome.failed, res.outcome.failed
    counts = {}
    for task in res.plan.tasks:
        counts[task.stage] = counts.get(task.stage, 0) + 1
    assert counts == {"scale": 1, "variant": 2, "ik": 2, "id": 2, "joint_work": 2, "passive": 4}
    swept = {m.rsplit("_", 1)[0] for m in res.plan.sweep_muscles}
    assert swept == {"recfem", "glmax", "soleus", "gastroc"}  # groups rectus_femoris, glute, plantarflexors
    jw = _value(res, "joint_work", trial="run")
    assert jw["joints"] == list(MAPPING["joints"]) and jw["n_stances"] >= 1


def test_scaling_recovers_the_true_scale_from_a_c3d_static_trial(study):
    _, res = study
    scale = _value(res, "scale", subject="s3d")
    assert set(scale["segments"]) == set(MAPPING["scale"]["measurements"])
    np.testing.assert_allclose(scale["factors"], TRUE_SCALE, rtol=0.01)
    assert scale["static_rms_m"] < 0.003  # 1 mm marker noise


def test_ik_recovers_the_running_motion_from_the_c3d_trial(study):
    _, res = study
    ik = _value(res, "ik", trial="run")
    truth = true_coordinates(ik["time"], ik["coordinates"])
    rot = [i for i, c in enumerate(ik["coordinates"]) if not c.startswith("pelvis_t")]
    rms_deg = np.degrees(np.sqrt(np.mean((ik["q"][:, rot] - truth[:, rot]) ** 2, axis=0)))
    assert rms_deg.max() < 2.0, dict(zip([ik["coordinates"][i] for i in rot], rms_deg.round(2)))
    assert ik["trc"].endswith("markers.trc")  # converted from run.c3d in the task's folder


def test_grf_from_the_c3d_plates_goes_to_the_right_feet(study):
    _, res = study
    idr = _value(res, "id", trial="run")
    assert [c[:2] for c in idr["contacts"]] == [[1, "r"], [2, "l"]]
    assert idr["residual_coordinates"] == {"force": ["pelvis_tx", "pelvis_ty", "pelvis_tz"],
                                           "moment": ["pelvis_tilt", "pelvis_list", "pelvis_rotation"]}
    weight = res.study.subjects[0].mass_kg * 9.80665
    for side, window in (("r", idr["time"] < 0.25), ("l", idr["time"] > 0.4)):
        assert idr["grf"][side][window, 1].max() == pytest.approx(2.5 * weight, rel=0.02)


def test_passive_stiffness_sweep_works_for_all_three_muscle_classes(study):
    path, res = study
    with h5py.File(res.results_path, "r") as f:
        group = f["subjects/s3d/trials/run/variants"]
        names = [m.decode() for m in group["x1.00/passive/muscles"][()]]
        soft, stiff = group["x1.00/passive/force_n"][()], group["x2.00/passive/force_n"][()]
    model = load_model(res.study.model.path)
    classes = {n: model.getMuscles().get(n).getConcreteClassName() for n in names}
    seen = set()
    for j, name in enumerate(names):
        assert soft[:, j].max() > 5.0, name  # the calibrated paths stretch every swept muscle
        assert stiff[:, j].max() > 1.5 * soft[:, j].max(), name
        k = int(np.argmax(soft[:, j]))  # stretched past optimal length: the stiffer curve pulls harder
        assert stiff[k, j] > 1.5 * soft[k, j], name
        seen.add(classes[name])
    assert seen == {"DeGrooteFregly2016Muscle", "Millard2012EquilibriumMuscle", "Thelen2003Muscle"}


def test_quality_flags_the_running_trial_and_passes_standing(study):
    _, res = study
    rows = {r["trial"]: r for r in res.rows if r["variant"] == "x1.00"}
    assert rows["run"]["qc_markers"] == "pass" and rows["stand"]["qc_markers"] == "pass"
    assert rows["run"]["marker_rms_mm"] < 3.0 and rows["stand"]["marker_max_mm"] < 2.0
    assert rows["run"]["qc_residuals"] == "flag"  # placeholder GRF, not consistent with the motion
    assert "residual_force_peak_n" in rows["run"]["qc_failed"].split()
    assert rows["stand"]["qc_residuals"] == "pass" and rows["stand"]["qc_failed"] == ""
    assert rows["stand"]["residual_force_peak_n"] < 1.0 and rows["stand"]["residual_moment_peak_nm"] < 1.0
    assert not math.isnan(rows["run"]["residual_moment_rms_nm"])
