"""C3D reading: a real Vicon file, and files written from the example trial in another lab frame.

The real file (``tests/data/walking5_vicon_type2.c3d``, opensim-core, Apache
2.0; see ``tests/data/SOURCES.md``) checks the reading against the numbers a
lab's software and ezc3d give. The written files check the whole route:
IK and ID from a C3D file (lab z up, walking along lab y, mm, plates of
TYPE 2 and 4 in several orientations) must equal IK and ID from the
example's .trc and .mot.
"""

from pathlib import Path

import numpy as np
import pytest

from simpipe.data import Markers
from simpipe.io.c3d import assign_contacts, convert_c3d, grf_table, parse_rotation, read_c3d, to_opensim
from simpipe.io.grf import read_grf
from simpipe.io.trc import read_trc
from simpipe.run.tasks import id_task, ik_task
from simpipe.stages.modelinfo import foot_marker_names

from c3dfiles import PlateSpec, write_c3d
from conftest import EXAMPLE, MODEL

REAL = Path(__file__).parent / "data" / "walking5_vicon_type2.c3d"
REAL_ROTATION = "-x,z,y"  # walking along the lab's -x, z up
REAL_FEET = {"r": ["RCAL", "RMT1", "RMT2"], "l": ["LCAL", "LMT1", "LMT2"]}
LAB = "y,z,x"  # the written files: walking along lab +y, z up
FEET = {"r": "calcn_r", "l": "calcn_l"}
# one plate under each stance of the example's run_01 (centres of pressure at x 0.27-0.48,
# 1.50-1.70 and 2.72-2.86 m)
PLATES = [PlateSpec((0.38, 0.1), kind=2),
          PlateSpec((1.60, -0.1), size=(0.4, 0.6), yaw_deg=90, kind=4, origin_sign=-1, on_plate=False),
          PlateSpec((2.80, 0.1), yaw_deg=180, kind=2)]


# --- the real file ------------------------------------------------------------

@pytest.fixture(scope="module")
def real():
    return read_c3d(REAL)


def test_real_markers_in_metres(real):
    m = real.markers
    assert real.units == "mm" and len(m.names) == 40 and m.xyz.shape == (1103, 40, 3)
    assert m.rate == pytest.approx(250.0)
    asis = np.nanmedian(m.marker("RASI")[:, 2])
    assert 0.9 < asis < 1.1  # ASIS about 1 m above the lab floor (z up)


def test_real_plates_geometry(real):
    assert [p.kind for p in real.plates] == [2, 2]
    centres = [p.centre * 1000 for p in real.plates]
    np.testing.assert_allclose(centres[0], [918.6, 611.095, 0.0], atol=0.01)
    np.testing.assert_allclose(centres[1], [304.8, 609.6, 0.0], atol=0.01)
    for p in real.plates:
        np.testing.assert_allclose(p.axes[:, 2], [0, 0, -1], atol=1e-9)  # plate z points into the floor
        assert p.origin[2] > 0  # sensor below the surface
    assert real.plates[0].origin[2] == pytest.approx(0.03784, abs=1e-6)


def test_real_peak_forces_match_ezc3d_up_to_the_zero_offset(real):
    """ezc3d gives the raw peaks (775 N, 911 N); simpipe also removes each plate's unloaded offset."""
    import ezc3d

    ez = ezc3d.c3d(str(REAL), extract_forceplat_data=True)["data"]["platform"]
    for plate, w, raw_peak in zip(ez, real.wrenches, (774.86, 910.51)):
        raw = plate["force"].T
        assert raw[:, 2].max() == pytest.approx(raw_peak, abs=0.1)
        offset = raw[w.loaded] - w.force[w.loaded]
        assert np.ptp(offset, axis=0).max() < 1e-3  # one constant per axis
        assert 10 < -offset[0, 2] < 20  # the plate reads 14-18 N unloaded
        assert w.force[:, 2].max() == pytest.approx(raw_peak - offset[0, 2], abs=0.1)


def _inside(points, corners) -> np.ndarray:
    """Which points lie inside the convex quadrilateral (x, y only)."""
    c = corners[:, :2]
    edge = np.roll(c, -1, axis=0) - c
    rel = points[:, None, :2] - c[None]
    cross = edge[None, :, 0] * rel[:, :, 1] - edge[None, :, 1] * rel[:, :, 0]
    return np.all(cross >= 0, axis=1) | np.all(cross <= 0, axis=1)


def test_real_centre_of_pressure_inside_plate_and_free_moment_small(real):
    for p, w in zip(real.plates, real.wrenches):
        assert w.loaded.sum() / 2000 > 0.4  # a stance of walking: 0.5-0.6 s
        assert _inside(w.cop[w.loaded], p.corners).all()
        assert np.all(np.isnan(w.cop[~w.loaded, 0]))
        assert np.abs(w.free_moment[:, 2]).max() < 10.0  # N m, small against ~900 N x 0.25 m
        np.testing.assert_array_equal(w.free_moment[:, :2], 0.0)


def test_real_plates_assigned_to_the_foot_on_them(real):
    rec = to_opensim(real, parse_rotation(REAL_ROTATION))
    contacts = assign_contacts(rec, REAL_FEET)
    assert [(c.plate, c.side) for c in contacts] == [(1, "l"), (2, "r")]
    assert contacts[0].start == pytest.approx(1.96, abs=0.01) and contacts[1].end == pytest.approx(2.98, abs=0.01)
    assert all(c.distance_m < 0.06 for c in contacts)
    grf = grf_table(rec, contacts, ("r", "l"))
    for side, plate in (("r", 1), ("l", 0)):
        fy = grf.column(f"{side}_ground_force_vy")
        assert fy.max() == pytest.approx(real.wrenches[plate].force[:, 2].max(), rel=1e-9)  # z up -> y up
        assert np.all(fy >= 0)
        assert np.all(grf.column(f"{side}_ground_force_py") == 0)
        assert np.all(grf.column(f"{side}_ground_torque_x") == 0) and np.all(grf.column(f"{side}_ground_torque_z") == 0)
    for side in ("r", "l"):  # walking along OpenSim +x: braking, then propulsion; the CoP moves forward
        loaded = grf.column(f"{side}_ground_force_vy") > 100
        fx, px = grf.column(f"{side}_ground_force_vx")[loaded], grf.column(f"{side}_ground_force_px")[loaded]
        third = len(fx) // 3
        assert fx[:third].mean() < -20 and fx[-third:].mean() > 20 and px[-1] > px[0]


def test_real_file_converts_to_trc_and_mot_opensim_reads(tmp_path):
    from simpipe.stages.osimutil import opensim

    conv = convert_c3d(REAL, tmp_path, REAL_ROTATION, REAL_FEET, time_range=(2.0, 3.0))
    markers = read_trc(conv.trc)
    assert markers.time[0] == pytest.approx(2.0) and markers.time[-1] == pytest.approx(3.0)
    assert len(markers.names) == 40
    table = opensim().TimeSeriesTableVec3(str(conv.trc))
    assert table.getNumRows() == len(markers.time)
    grf = read_grf(conv.grf)
    assert grf.time[0] == pytest.approx(0.0) and grf.time[-1] == pytest.approx(4.4115, abs=1e-3)
    assert grf.column("l_ground_force_vy").max() == pytest.approx(789.1, abs=0.5)


# --- written files ---------------------------------------------------------------

def test_parse_rotation():
    np.testing.assert_array_equal(parse_rotation("x,z,-y"), [[1, 0, 0], [0, 0, 1], [0, -1, 0]])
    np.testing.assert_array_equal(parse_rotation(" Y, z ,x"), [[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(parse_rotation([[0, 1, 0], [0, 0, 1], [1, 0, 0]]), parse_rotation("y,z,x"))
    for bad, words in [("x,z", "three lab axes"), ("x,x,z", "not a rotation"), ("x,y,-z", "mirror"),
                       ([[1, 0], [0, 1]], "3x3"), ("a,b,c", "three lab axes")]:
        with pytest.raises(ValueError, match=words):
            parse_rotation(bad)


@pytest.fixture(scope="module")
def example():
    return read_trc(EXAMPLE / "run_01.trc"), read_grf(EXAMPLE / "run_01_grf.mot")


@pytest.fixture(scope="module")
def written(tmp_path_factory, example):
    markers, grf = example
    return write_c3d(tmp_path_factory.mktemp("c3d") / "run_01.c3d", markers, grf, parse_rotation(LAB), PLATES)


def _grf_error(got, want, threshold_n: float = 0.1):
    """Largest difference per column, on the samples of ``want`` (1 kHz in both).

    Per foot, only where it loads the plate above the reader's threshold: below it
    a plate reader zeroes the load (and the centre of pressure means nothing),
    which is right for lab data. The simulated example's flight forces are below
    0.2 N, and its contact damping pulls (vertical force < 0) just after toe-off.
    """
    out = {}
    for lab in want.labels:
        loaded = want.column(f"{lab[0]}_ground_force_vy") >= threshold_n
        diff = np.abs(np.interp(want.time, got.time, got.column(lab)) - want.column(lab))
        out[lab] = float(diff[loaded].max())
        if "_force_v" in lab:  # unloaded: whatever the reader zeroed was below 0.2 N or a pull
            pull = want.column(f"{lab[0]}_ground_force_vy") < 0
            assert diff[~loaded & ~pull].max(initial=0.0) < 0.2, lab
    return out


def test_written_file_gives_back_markers_and_grf(written, example, tmp_path):
    markers, grf = example
    feet = foot_marker_names(MODEL, FEET)
    assert feet == {"r": ["RHEE", "RTOE", "RMT5"], "l": ["LHEE", "LTOE", "LMT5"]}
    conv = convert_c3d(written, tmp_path, LAB, feet, threshold_n=0.1)
    assert [(c.plate, c.side) for c in conv.contacts] == [(1, "r"), (2, "l"), (3, "r")]
    back = read_trc(conv.trc)
    assert back.names == markers.names
    assert np.abs(back.xyz - markers.xyz).max() < 1e-6  # float32 mm in the C3D
    err = _grf_error(read_grf(conv.grf), grf)
    assert max(err.values()) < 2e-3, err


@pytest.mark.parametrize("units,moment_unit", [("m", "Nm"), ("mm", "N.m")])
def test_units_and_matrix_rotation_give_the_same_grf(tmp_path, example, units, moment_unit):
    markers, grf = example
    rot = parse_rotation(LAB)
    path = write_c3d(tmp_path / "run.c3d", markers, grf, rot, PLATES, units=units, moment_unit=moment_unit)
    conv = convert_c3d(path, tmp_path / "out", rot.tolist(), foot_marker_names(MODEL, FEET), threshold_n=0.1)
    assert np.abs(read_trc(conv.trc).xyz - markers.xyz).max() < 1e-6
    assert max(_grf_error(read_grf(conv.grf), grf).values()) < 2e-3


def test_zero_offsets_are_removed(tmp_path, example):
    import ezc3d

    markers, grf = example
    path = write_c3d(tmp_path / "run.c3d", markers, grf, parse_rotation(LAB), PLATES)
    c = ezc3d.c3d(str(path))
    analogs = c["data"]["analogs"]
    analogs[0, [0, 1, 2, 12, 13, 14]] += np.array([3.0, -2.0, 15.0, 2.0, 1.0, -12.0])[:, None]
    analogs[0, [3, 4, 5]] += np.array([900.0, -400.0, 300.0])[:, None]  # N mm
    c["data"]["analogs"] = analogs
    c.write(str(tmp_path / "offset.c3d"))
    conv = convert_c3d(tmp_path / "offset.c3d", tmp_path / "out", LAB, foot_marker_names(MODEL, FEET), threshold_n=20)
    got = read_grf(conv.grf)
    for side in ("r", "l"):
        fy = grf.column(f"{side}_ground_force_vy")
        for lab in [x for x in grf.labels if x.startswith(side)]:
            back = np.interp(grf.time, got.time, got.column(lab))
            assert np.abs(back - grf.column(lab))[fy > 25].max() < 2e-3, lab  # offsets gone where loaded
            assert np.all(back[fy < 15] == 0.0), lab  # below the threshold: nothing


def test_non_marker_points_and_unlabelled_points_are_skipped(tmp_path, example):
    markers, grf = example
    extra = np.concatenate([markers.xyz, markers.xyz[:, :2] + 0.01], axis=1)
    both = Markers(markers.time, markers.names + ["LKneeAngles", "*31"], extra)
    path = write_c3d(tmp_path / "vicon.c3d", both, None, parse_rotation(LAB),
                     extra_points={"ANGLES": ["LKneeAngles"]})
    rec = read_c3d(path)
    assert rec.markers.names == markers.names


@pytest.fixture(scope="module")
def routes(written, tmp_path_factory):
    """IK and ID of run_01 on the example's true model, from the .trc/.mot and from the C3D file."""
    work = tmp_path_factory.mktemp("routes")
    model = str(EXAMPLE / "model_true.osim")
    opts = {"lab_to_opensim": LAB, "force_threshold_n": 0.1, "foot_markers": None}
    ik_trc = ik_task(model, str(EXAMPLE / "run_01.trc"), {}, 1e-6, None, None, str(work / "trc"))
    ik_c3d = ik_task(model, str(written), {}, 1e-6, None, None, str(work / "c3d"), c3d=opts)
    return model, work, opts, ik_trc, ik_c3d


def test_ik_through_c3d_equals_ik_through_trc(routes):
    *_, ik_trc, ik_c3d = routes
    assert ik_c3d["coordinates"] == ik_trc["coordinates"] and ik_c3d["markers"] == ik_trc["markers"]
    np.testing.assert_allclose(ik_c3d["time"], ik_trc["time"], atol=1e-12)
    assert np.abs(ik_c3d["q"] - ik_trc["q"]).max() < 5e-5  # rad; float32 marker storage
    assert np.abs(ik_c3d["marker_error"] - ik_trc["marker_error"]).max() < 1e-5


def test_id_through_c3d_equals_id_through_mot(routes, written):
    model, work, opts, ik_trc, ik_c3d = routes
    same = id_task(model, ik_trc, str(written), FEET, None, None, str(work / "id_c3d"), c3d=opts)
    ref = id_task(model, ik_trc, str(EXAMPLE / "run_01_grf.mot"), FEET, None, None, str(work / "id_trc"))
    # the plates do not record the contact model's pull just after toe-off (vertical force < 0,
    # zeroed below the reader's threshold as lab data should be): compare away from it
    grf = read_grf(EXAMPLE / "run_01_grf.mot")
    pulls = grf.time[(grf.column("r_ground_force_vy") < -0.1) | (grf.column("l_ground_force_vy") < -0.1)]
    far = np.all(np.abs(ref["time"][:, None] - pulls[None, :]) > 0.005, axis=1)
    calm = np.all(np.abs(ref["time"][:, None] - pulls[None, :]) > 0.1, axis=1)
    assert far.sum() > 100 and calm.sum() > 60
    # the same GRF, to 0.1 N and N m (flight forces of the contact model, < 0.2 N, are zeroed too)
    assert np.abs(same["tau"] - ref["tau"])[far].max() < 0.1
    assert [c[:2] for c in same["contacts"]] == [[1, "r"], [2, "l"], [3, "r"]]
    own = id_task(model, ik_c3d, str(written), FEET, 15.0, None, str(work / "id_c3d15"), c3d=opts)
    ref15 = id_task(model, ik_trc, str(EXAMPLE / "run_01_grf.mot"), FEET, 15.0, None, str(work / "id_trc15"))
    scale = np.abs(ref15["tau"]).max(axis=0)
    assert (np.abs(own["tau"] - ref15["tau"])[calm].max(axis=0) / scale).max() < 1e-3
