"""Bad inputs at the level of a study: each one is one line naming the file (or key) and the problem.

The readers' own bad inputs are in ``tests/test_io.py`` (21 malformed .trc
files, 13 malformed .mot/.sto files, a missing file, GRF columns missing,
NaN in GRF, GRF not covering the trial: 37 cases). This file adds the
pipeline-level ones: config keys, the model mapping, C3D files (no plates,
plates never loaded, unsupported plate types, units, gaps, frames that do
not line up), task inputs (unknown markers, missing static markers, GRF
shorter than the trial) and a lab's setup files; and two messy inputs that
must work (GRF sampled unevenly or at another rate). The last tests check
that a rerun with a broken extra trial, or with a broken config, keeps
every finished result.
"""

import hashlib
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from simpipe.cli import main
from simpipe.config import parse_study
from simpipe.data import Markers, Table
from simpipe.errors import ConfigError, InputError, ModelError, SimpipeError
from simpipe.io.c3d import convert_c3d, parse_rotation
from simpipe.io.grf import read_grf, write_grf
from simpipe.io.trc import read_trc, write_trc
from simpipe.run.plan import build_plan
from simpipe.run.tasks import id_task, ik_task, scale_task, variant_task

from c3dfiles import PlateSpec, write_c3d
from conftest import EXAMPLE, MODEL
from model3d import study3d

LAB = "y,z,x"
FEET = {"r": ["RHEE", "RTOE", "RMT5"], "l": ["LHEE", "LTOE", "LMT5"]}
PLATES = [PlateSpec((0.6, 0.1)), PlateSpec((1.8, -0.1)), PlateSpec((2.95, 0.1))]


def one_line(exc: BaseException, *words: str) -> str:
    """The message of ``exc``, checked to be one line holding every word (case-insensitive)."""
    msg = str(exc)
    assert "\n" not in msg, msg
    for w in words:
        assert w.lower() in msg.lower(), (w, msg)
    return msg


# --- config keys ------------------------------------------------------------------

@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad_config")
    for name in ("static.trc", "run_01.trc", "run_01_grf.mot"):
        shutil.copy(EXAMPLE / name, tmp / name)
    (tmp / "run.c3d").write_bytes(b"placeholder")
    return tmp


GOOD = """
name: t
model: {builtin: simpipe_run2d}
subjects:
  - id: s1
    mass_kg: 72
    height_m: 1.78
    static: static.trc
    trials:
      - {id: r1, markers: run_01.trc, grf: run_01_grf.mot}
sweep: {values: [0.6, 0.3]}
output: out
"""

CONFIG_CASES = {
    "c3d_and_markers": (lambda t: t.replace("grf: run_01_grf.mot}", "grf: run_01_grf.mot, c3d: run.c3d}"),
                        ["subjects.0.trials.0", "not both"]),
    "markers_without_grf": (lambda t: t.replace(", grf: run_01_grf.mot", ""), ["give both 'markers'", "'grf'"]),
    "rotation_two_axes": (lambda t: t + "c3d: {lab_to_opensim: 'x,z'}\n", ["c3d.lab_to_opensim", "three lab axes"]),
    "rotation_mirror": (lambda t: t + "c3d: {lab_to_opensim: 'x,y,-z'}\n", ["c3d.lab_to_opensim", "mirror"]),
    "rotation_not_orthogonal": (lambda t: t + "c3d: {lab_to_opensim: [[1, 0, 0], [0, 1, 0], [0, 1, 1]]}\n",
                                ["c3d.lab_to_opensim", "not a rotation"]),
    "foot_markers_one_side": (lambda t: t + "c3d: {foot_markers: {r: [RHEE]}}\n", ["c3d.foot_markers", "both sides"]),
    "qc_misspelled": (lambda t: t + "qc: {marker_rms: 20}\n", ["unknown key 'qc.marker_rms'"]),
    "qc_negative": (lambda t: t + "qc: {residual_force_peak_n: -5}\n", ["qc.residual_force_peak_n", "-5"]),
    "gaps_negative": (lambda t: t + "gaps: {max_frames: -1}\n", ["gaps.max_frames"]),
    "filter_order_zero": (lambda t: t + "filter: {order: 0}\n", ["filter.order"]),
    "rotation_at_top_level": (lambda t: t + "lab_to_opensim: 'x,z,-y'\n", ["unknown key 'lab_to_opensim'"]),
    "external_loads_with_c3d": (lambda t: t.replace("{id: r1, markers: run_01.trc, grf: run_01_grf.mot}",
                                                    "{id: r1, c3d: run.c3d, external_loads: loads.xml}"),
                                ["'external_loads'", "a 'c3d' trial has none"]),
    "c3d_file_missing": (lambda t: t.replace("{id: r1, markers: run_01.trc, grf: run_01_grf.mot}",
                                             "{id: r1, c3d: nothere.c3d}"),
                         ["subjects.0.trials.0.c3d", "file not found", "nothere.c3d"]),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_config(folder, case):
    edit, words = CONFIG_CASES[case]
    with pytest.raises(ConfigError) as err:
        parse_study(edit(GOOD), folder / "study.yaml")
    one_line(err.value, "study.yaml", *words)


# --- the model mapping (checked before anything runs) ----------------------------------

MAPPING_CASES = {
    "unknown_muscle_in_sweep": ("sweep: {values: [0.6, 0.3], muscles: ['rect_femoris_*']}",
                                ["'rect_femoris_*'", "matches no muscle"]),
    "unknown_group_muscle": ("muscle_groups: {rectus_femoris: [rect_fem_*], glute: [gluteus_*]}",
                             ["glute", "'gluteus_*'", "matches no muscle"]),
    "unknown_marker_in_weights": ("ik: {marker_weights: {RASIS: 10}}", ["ik.marker_weights.RASIS", "marker"]),
    "unknown_coordinate_in_joints": ("joints: {hip: {r: hip_flex_r, l: hip_flexion_l}}",
                                     ["joints.hip.r", "'hip_flex_r'", "coordinate"]),
    "unknown_foot_body": ("feet: {r: foot_r}", ["feet.r", "'foot_r'", "body"]),
    "unknown_scale_body": ("scale: {measurements: {thigh_r: [[RGTR, RKNE]]}}",
                           ["scale.measurements.thigh_r", "body"]),
}


@pytest.mark.parametrize("case", sorted(MAPPING_CASES))
def test_bad_mapping_fails_before_any_task(folder, case):
    extra, words = MAPPING_CASES[case]
    text = GOOD.replace("sweep: {values: [0.6, 0.3]}\n", "") if extra.startswith("sweep") else GOOD
    study = parse_study(text + extra + "\n", folder / "study.yaml")
    with pytest.raises(ConfigError) as err:
        build_plan(study, MODEL)
    one_line(err.value, *words)


def test_cli_reports_a_bad_input_in_one_line_and_exits_2(folder, capsys):
    path = folder / "cli.yaml"
    path.write_text(GOOD + "ik: {marker_weights: {RASIS: 10}}\n")
    assert main(["run", str(path)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("simpipe: error:") and "RASIS" in err[0]
    assert not (folder / "out" / "results.h5").exists()


# --- C3D files ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def example():
    return read_trc(EXAMPLE / "run_01.trc"), read_grf(EXAMPLE / "run_01_grf.mot")


def _edited(src: Path, dst: Path, edit) -> Path:
    import ezc3d

    c = ezc3d.c3d(str(src))
    edit(c)
    c.write(str(dst))
    return dst


def _set(group, name, value):
    def edit(c):
        c["parameters"][group][name]["value"] = value
    return edit


def _with_gap(markers: Markers, name: str, frames: range) -> Markers:
    xyz = markers.xyz.copy()
    xyz[list(frames), markers.names.index(name)] = np.nan
    return Markers(markers.time, markers.names, xyz)


def _nan_analog(c):
    analogs = c["data"]["analogs"]
    analogs[0, 2, 100:110] = np.nan
    c["data"]["analogs"] = analogs


@pytest.fixture(scope="module")
def c3ds(tmp_path_factory, example):
    """Good and bad C3D files made from the example trial."""
    markers, grf = example
    rot = parse_rotation(LAB)
    d = tmp_path_factory.mktemp("bad_c3d")
    good = write_c3d(d / "good.c3d", markers, grf, rot, PLATES)
    zero = Table(grf.time, grf.labels, np.zeros_like(grf.values))
    late = Table(grf.time + 0.35, grf.labels, grf.values)
    dup = Markers(markers.time, markers.names[:-1] + ["RHEE"], markers.xyz)
    (d / "text.c3d").write_text("PathFileType\t4\t(X/Y/Z)\tnot a c3d\n")
    return {
        "good": good,
        "no_plates": write_c3d(d / "no_plates.c3d", markers, None, rot),
        "never_loaded": write_c3d(d / "never_loaded.c3d", markers, zero, rot, PLATES),
        "not_synchronised": write_c3d(d / "not_synchronised.c3d", markers, late, rot, PLATES),
        "long_gap": write_c3d(d / "long_gap.c3d", _with_gap(markers, "RKNE", range(50, 70)), grf, rot, PLATES),
        "edge_gap": write_c3d(d / "edge_gap.c3d", _with_gap(markers, "LTOE", range(0, 4)), grf, rot, PLATES),
        "duplicated": write_c3d(d / "duplicated.c3d", dup, grf, rot, PLATES),
        "text": d / "text.c3d",
        "mm_as_m": _edited(good, d / "mm_as_m.c3d", _set("POINT", "UNITS", ["m"])),
        "inches": _edited(good, d / "inches.c3d", _set("POINT", "UNITS", ["in"])),
        "no_units": _edited(good, d / "no_units.c3d", _set("POINT", "UNITS", [""])),
        "type3": _edited(good, d / "type3.c3d", _set("FORCE_PLATFORM", "TYPE", [3, 2, 2])),
        "type4_no_cal": _edited(good, d / "type4_no_cal.c3d", _set("FORCE_PLATFORM", "TYPE", [2, 4, 2])),
        "bad_channel": _edited(good, d / "bad_channel.c3d", _set(
            "FORCE_PLATFORM", "CHANNEL", np.array([[1.0, 7, 13], [2, 8, 14], [3, 9, 15], [4, 10, 16], [5, 11, 17],
                                                   [6, 12, 40]]))),
        "flat_corners": _edited(good, d / "flat_corners.c3d", _set("FORCE_PLATFORM", "CORNERS", np.zeros((3, 4, 3)))),
        "nan_analog": _edited(good, d / "nan_analog.c3d", _nan_analog),
    }


C3D_CASES = {
    # name: (file, convert_c3d keyword changes, words in the message)
    "no_force_plates": ("no_plates", {}, ["has no force plates", "'markers'"]),
    "plate_never_loaded": ("never_loaded", {}, ["no force plate is ever loaded", "plates 1, 2, 3"]),
    "grf_not_synchronised": ("not_synchronised", {}, ["force plate 1 is loaded", "no foot marker is within 0.3 m"]),
    "nan_gap_too_long": ("long_gap", {}, ["RKNE", "gap of 20 frames", "max_gap_frames=10"]),
    "gap_at_the_start": ("edge_gap", {}, ["LTOE", "missing at the start"]),
    "duplicated_label": ("duplicated", {}, ["duplicated marker label", "RHEE"]),
    "not_a_c3d_file": ("text", {}, ["not a readable C3D file"]),
    "mm_declared_as_m": ("mm_as_m", {}, ["look like millimetres", "Units says m"]),
    "unknown_point_units": ("inches", {}, ["unknown POINT:UNITS 'in'"]),
    "no_point_units": ("no_units", {}, ["POINT:UNITS is missing"]),
    "plate_type_3": ("type3", {}, ["force plate 1", "TYPE 3", "TYPE 2 and 4"]),
    "type4_without_cal_matrix": ("type4_no_cal", {}, ["force plate 2 is TYPE 4", "CAL_MATRIX"]),
    "channel_out_of_range": ("bad_channel", {}, ["force plate 3", "CHANNEL", "outside 1-18"]),
    "degenerate_corners": ("flat_corners", {}, ["force plate 1", "degenerate", "CORNERS"]),
    "nan_in_analog": ("nan_analog", {}, ["force plate 1", "NaN"]),
    "rotation_puts_floor_upright": ("good", {"rotation": "y,x,-z"}, ["force plate 1", "along OpenSim z, not y"]),
    "foot_marker_not_in_file": ("good", {"foot_markers": {"r": ["RHEEL"], "l": ["LHEE"]}},
                                ["foot marker(s) RHEEL", "c3d.foot_markers"]),
    "time_range_outside_trial": ("good", {"time_range": (5.0, 6.0)}, ["time_range [5.0, 6.0] keeps 0 frame(s)"]),
}


@pytest.mark.parametrize("case", sorted(C3D_CASES))
def test_bad_c3d(c3ds, tmp_path, case):
    name, changes, words = C3D_CASES[case]
    kwargs = dict(rotation=LAB, foot_markers=FEET, threshold_n=20.0)
    kwargs.update(changes)
    with pytest.raises(InputError) as err:
        convert_c3d(c3ds[name], tmp_path, **kwargs)
    assert err.value.path == c3ds[name]
    one_line(err.value, c3ds[name].name, *words)
    assert not (tmp_path / "grf.mot").exists()


# --- task inputs ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("bad_tasks")


@pytest.fixture(scope="module")
def ik_result(work):
    return ik_task(str(EXAMPLE / "model_true.osim"), str(EXAMPLE / "run_01.trc"), {}, 1e-6, None, None,
                   str(work / "ik"))


def test_marker_weighted_but_not_in_the_trial(work, example):
    markers, _ = example
    keep = [i for i, n in enumerate(markers.names) if n != "RASI"]
    trc = write_trc(Markers(markers.time, [markers.names[i] for i in keep], markers.xyz[:, keep]),
                    work / "no_rasi.trc")
    with pytest.raises(InputError) as err:
        ik_task(str(MODEL), str(trc), {"RASI": 10.0}, 1e-6, None, None, str(work / "ik_no_rasi"))
    one_line(err.value, "no_rasi.trc", "RASI", "IK weights", "not in the file")


def test_static_trial_without_a_scaling_marker(work):
    static = read_trc(EXAMPLE / "static.trc")
    keep = [i for i, n in enumerate(static.names) if n != "RKNE"]
    trc = write_trc(Markers(static.time, [static.names[i] for i in keep], static.xyz[:, keep]), work / "static.trc")
    meas = {"femur_r": [("RGTR", "RKNE")]}
    with pytest.raises(InputError) as err:
        scale_task(str(MODEL), str(trc), 72.0, 1.78, meas, {}, str(work / "scale"), {})
    one_line(err.value, "static.trc", "RKNE", "scale.measurements")


def test_static_c3d_with_a_long_gap(work, c3ds):
    opts = {"lab_to_opensim": LAB, "force_threshold_n": 20.0, "foot_markers": None}
    with pytest.raises(InputError) as err:
        scale_task(str(MODEL), str(c3ds["long_gap"]), 72.0, 1.78, {}, {}, str(work / "scale_c3d"), {}, c3d=opts)
    one_line(err.value, "long_gap.c3d", "RKNE", "gap")


def test_grf_shorter_than_the_trial(work, ik_result):
    grf = read_grf(EXAMPLE / "run_01_grf.mot")
    keep = grf.time <= 0.6
    short = write_grf(Table(grf.time[keep], grf.labels, grf.values[keep]), work / "short_grf.mot")
    with pytest.raises(InputError) as err:
        id_task(str(EXAMPLE / "model_true.osim"), ik_result, str(short), {"r": "calcn_r", "l": "calcn_l"}, None,
                None, str(work / "id_short"))
    one_line(err.value, "short_grf.mot", "0-0.6 s", "does not cover the trial 0-0.9 s")


def test_c3d_trial_without_plates_fails_at_id_not_ik(work, c3ds, ik_result):
    opts = {"lab_to_opensim": LAB, "force_threshold_n": 20.0, "foot_markers": None}
    model = str(EXAMPLE / "model_true.osim")
    ik = ik_task(model, str(c3ds["no_plates"]), {}, 1e-6, None, None, str(work / "ik_np"), c3d=opts)
    assert ik["q"].shape[0] == 181
    with pytest.raises(InputError) as err:
        id_task(model, ik, str(c3ds["no_plates"]), {"r": "calcn_r", "l": "calcn_l"}, None, None,
                str(work / "id_np"), c3d=opts)
    one_line(err.value, "no_plates.c3d", "no force plates")


def test_unknown_property_for_the_sweep(work):
    with pytest.raises(ModelError) as err:
        variant_task(str(MODEL), ["rect_fem_r"], "passive_fibre_strain", 0.3, str(work / "variant"))
    one_line(err.value, "simpipe_run2d.osim", "rect_fem_r", "'passive_fibre_strain'", "choose from")


# --- messy but usable: GRF sampled unlike the markers -------------------------------------------

def _resampled_grf(path: Path, time: np.ndarray) -> Path:
    grf = read_grf(EXAMPLE / "run_01_grf.mot")
    values = np.column_stack([np.interp(time, grf.time, col) for col in grf.values.T])
    return write_grf(Table(time, grf.labels, values), path)


def test_grf_at_another_rate_or_uneven_is_resampled(work, ik_result, caplog):
    import logging

    model, feet = str(EXAMPLE / "model_true.osim"), {"r": "calcn_r", "l": "calcn_l"}
    ref = id_task(model, ik_result, str(EXAMPLE / "run_01_grf.mot"), feet, 15.0, 40.0, str(work / "id_ref"))
    grid = np.delete(np.arange(901) / 1000.0, np.arange(5, 900, 7))  # dropped samples
    grid[1:-1] += np.random.default_rng(3).uniform(-1e-4, 1e-4, len(grid) - 2)  # and clock jitter
    uneven = _resampled_grf(work / "uneven_grf.mot", grid)
    with caplog.at_level(logging.INFO, logger="simpipe.run.tasks"):
        got = id_task(model, ik_result, str(uneven), feet, 15.0, 40.0, str(work / "id_uneven"))
    assert "sampled unevenly" in caplog.text
    # Away from foot strike and toe-off (where the 40 Hz filter rings on the force steps in either case)
    # the resampled GRF gives the same joint moments.
    grf, time = read_grf(EXAMPLE / "run_01_grf.mot"), ik_result["time"]
    steps = [grf.time[i] for s in feet for i in np.flatnonzero(np.diff(grf.column(f"{s}_ground_force_vy") > 20.0))]
    calm = np.all(np.abs(time[:, None] - np.array(steps)[None]) > 0.04, axis=1)
    # joint moments against their peak; the pelvis coordinates carry residuals (zero in the
    # simulated example), held to body weight (N, and N m per metre) as in test_pipeline
    scale = np.abs(ref["tau"]).max(axis=0)
    scale[[ref["coordinates"].index(c) for c in ("pelvis_tilt", "pelvis_tx", "pelvis_ty")]] = 72.0 * 9.81
    assert (np.abs(got["tau"] - ref["tau"])[calm].max(axis=0) / scale).max() < 0.01
    slow = _resampled_grf(work / "grf_500hz.mot", np.arange(0, 0.9001, 0.002))
    got = id_task(model, ik_result, str(slow), feet, 15.0, 40.0, str(work / "id_500hz"))
    assert (np.abs(got["tau"] - ref["tau"])[calm].max(axis=0) / scale).max() < 0.02


def test_resampled_centre_of_pressure_stays_under_the_foot():
    from simpipe.io.grf import grf_columns, resample_grf

    time = np.array([0.0, 0.001, 0.002])
    values = np.zeros((3, 18))
    values[:, 1] = [0.0, 100.0, 100.0]  # r_ground_force_vy: foot strike between the first two samples
    values[:, 3] = [0.0, 1.5, 1.6]  # r_ground_force_px: 0 while unloaded
    out = resample_grf(Table(time, grf_columns("r") + grf_columns("l"), values), np.array([0.0005, 0.0015]))
    np.testing.assert_allclose(out.column("r_ground_force_vy"), [50.0, 100.0])
    np.testing.assert_allclose(out.column("r_ground_force_px"), [1.5, 1.55])  # not 0.75 m behind the foot
    np.testing.assert_array_equal(out.column("l_ground_force_px"), 0.0)


def test_butterworth_order_is_configurable(work, ik_result):
    model, feet = str(EXAMPLE / "model_true.osim"), {"r": "calcn_r", "l": "calcn_l"}
    grf = str(EXAMPLE / "run_01_grf.mot")
    second = id_task(model, ik_result, grf, feet, 10.0, None, str(work / "o2"), filter_order=2)
    fourth = id_task(model, ik_result, grf, feet, 10.0, None, str(work / "o4"), filter_order=4)
    assert not np.allclose(second["q"], fourth["q"])
    edge = 20
    assert np.abs(second["q"] - fourth["q"])[edge:-edge].max() < np.radians(2)


# --- a lab's setup files -----------------------------------------------------------------

def _setup_case(tmp, case):
    from simpipe.io.setup_xml import convert_external_loads, read_ik_setup, read_scale_setup

    from test_setup_xml import LAB_LOADS, lab_grf, write_external_loads, write_ik_setup

    mot = lab_grf(tmp / "lab_grf.mot")
    feet = {"r": "calcn_r", "l": "calcn_l"}
    if case == "force_on_a_body_that_is_no_foot":
        loads = dict(LAB_LOADS, left=("pelvis",) + LAB_LOADS["left"][1:])
        return lambda: convert_external_loads(write_external_loads(tmp / "loads.xml", loads), mot, feet, tmp / "o.mot")
    if case == "foot_without_external_force":
        loads = {"right": LAB_LOADS["right"]}
        return lambda: convert_external_loads(write_external_loads(tmp / "loads.xml", loads), mot, feet, tmp / "o.mot")
    if case == "identifier_names_no_column":
        loads = dict(LAB_LOADS, left=("calcn_l", "2_ground_force_v", "2_ground_force_p", ""))
        return lambda: convert_external_loads(write_external_loads(tmp / "loads.xml", loads), mot, feet, tmp / "o.mot")
    if case == "setup_not_xml":
        (tmp / "ik.xml").write_text("<InverseKinematicsTool><IKTaskSet>")
        return lambda: read_ik_setup(tmp / "ik.xml")
    if case == "ik_file_given_as_scale_setup":
        return lambda: read_scale_setup(write_ik_setup(tmp / "ik.xml", [("RASI", 1.0, True)]))
    raise KeyError(case)


SETUP_CASES = {
    "force_on_a_body_that_is_no_foot": ("loads.xml", ["ExternalForce 'left'", "'pelvis'", "not a foot"]),
    "foot_without_external_force": ("loads.xml", ["no ExternalForce", "side(s) l (calcn_l)"]),
    "identifier_names_no_column": ("lab_grf.mot", ["2_ground_force_vx", "ExternalForce 'left' of loads.xml"]),
    "setup_not_xml": ("ik.xml", ["not valid XML"]),
    "ik_file_given_as_scale_setup": ("ik.xml", ["has no <ScaleTool>"]),
}


@pytest.mark.parametrize("case", sorted(SETUP_CASES))
def test_bad_setup_files(tmp_path, case):
    name, words = SETUP_CASES[case]
    with pytest.raises(InputError) as err:
        _setup_case(tmp_path, case)()
    assert err.value.path.name == name
    one_line(err.value, name, *words)


# --- finished results survive bad inputs -----------------------------------------------------

def _h5_digest(path: Path, groups: list[str]) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        for g in groups:
            for name, ds in f[g].items():
                if isinstance(ds, h5py.Dataset):
                    value = np.asarray(ds[()])
                    data = repr(value.tolist()).encode() if value.dtype.kind == "O" else value.tobytes()
                    out[f"{g}/{name}"] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture(scope="module")
def rerun(tmp_path_factory):
    """The finished 3D study, rerun in a copy with one extra trial whose C3D file has no force plates."""
    from simpipe.run.study import run_study

    path, first = study3d(tmp_path_factory)
    folder = tmp_path_factory.mktemp("rerun3d")
    shutil.copytree(first.summary_path.parent, folder / "out")
    cfg = yaml.safe_load(path.read_text())
    cfg["output"] = str(folder / "out")
    subject = cfg["subjects"][0]
    run = read_trc(first.outcome.values[first.plan.by_stage("ik")[0].key]["trc"])
    broken = write_c3d(folder / "broken.c3d", run, None, parse_rotation(cfg["c3d"]["lab_to_opensim"]))
    subject["trials"].append({"id": "broken", "c3d": str(broken)})
    (folder / "study.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    groups = [f"subjects/s3d/trials/{t}/{s}" for t in ("run", "stand") for s in ("ik", "id")]
    before = _h5_digest(folder / "out" / "results.h5", groups)
    return folder, first, run_study(folder / "study.yaml"), groups, before


def test_rerun_with_a_broken_trial_keeps_every_finished_result(rerun):
    folder, first, again, groups, before = rerun
    failed = {t.label: again.outcome.failed[t.key] for t in again.plan.tasks if t.key in again.outcome.failed}
    assert set(failed) == {"id:s3d/broken", "joint_work:s3d/broken"}
    assert "broken.c3d: has no force plates" in failed["id:s3d/broken"]
    assert failed["joint_work:s3d/broken"].startswith("skipped")
    assert set(again.outcome.cached) == {t.key for t in first.plan.tasks}  # nothing finished was recomputed
    assert _h5_digest(again.results_path, groups) == before
    with h5py.File(again.results_path, "r") as f:
        assert "ik" in f["subjects/s3d/trials/broken"]  # the broken trial's IK ran
        assert [x.decode() for x in f["failures/task"][()]] == ["id:s3d/broken", "joint_work:s3d/broken"]
    rows = {(r["trial"], r["variant"]): r for r in again.rows}
    for row in first.rows:
        same = rows[(row["trial"], row["variant"])]
        assert all(same[k] == v or (v != v and same[k] != same[k]) for k, v in row.items()), row  # NaN == NaN
    assert rows[("broken", "x1.00")]["qc_residuals"] == "n/a"


def test_broken_config_leaves_the_results_untouched(rerun, capsys):
    folder, *_ = rerun
    results = folder / "out" / "results.h5"
    digest, mtime = hashlib.sha256(results.read_bytes()).hexdigest(), results.stat().st_mtime_ns
    cfg = yaml.safe_load((folder / "study.yaml").read_text())
    cfg["c3d"]["lab_to_opensim"] = "x,y,-z"
    (folder / "broken.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["run", str(folder / "broken.yaml")]) == 2
    assert "mirror" in capsys.readouterr().err
    assert hashlib.sha256(results.read_bytes()).hexdigest() == digest and results.stat().st_mtime_ns == mtime


def test_every_error_is_a_simpipe_error():
    assert issubclass(InputError, SimpipeError) and issubclass(ConfigError, SimpipeError)
