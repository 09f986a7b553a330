"""Tests of simpipe.io: round trips, OpenSim compatibility, and bad inputs.

Every fixture file is generated in ``tmp_path`` from a known smooth trajectory,
so values read back can be checked against the truth.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pytest

from simpipe.data import Markers, Table
from simpipe.errors import InputError
from simpipe.io import (
    check_grf_covers,
    check_markers_present,
    file_sha256,
    grf_columns,
    hash_object,
    lowpass,
    read_grf,
    read_sto,
    read_trc,
    read_trc_with_report,
    resample,
    short_hash,
    write_external_loads_xml,
    write_grf,
    write_sto,
    write_trc,
)
from simpipe.io.filtering import double_pass_correction

RATE = 100.0
N_FRAMES = 40
NAMES = ["RASI", "LASI", "RKNE"]


# --- fixtures ---------------------------------------------------------------

@pytest.fixture(scope="module")
def osim():
    """OpenSim, with its log kept out of the working directory (no opensim.log)."""
    opensim = pytest.importorskip("opensim")
    opensim.Logger.removeFileSink()
    opensim.Logger.setLevelString("warn")
    return opensim


def truth_markers(n_frames: int = N_FRAMES, names: list[str] = NAMES) -> Markers:
    """Smooth trajectories about 1 m from the origin (metres)."""
    time = np.arange(n_frames) / RATE
    xyz = np.empty((n_frames, len(names), 3))
    for j in range(len(names)):
        xyz[:, j, 0] = 1.0 + 0.1 * np.sin(2 * np.pi * time + j)
        xyz[:, j, 1] = 0.9 + 0.05 * np.cos(2 * np.pi * time + j)
        xyz[:, j, 2] = 0.2 + 0.01 * j + 0.02 * time
    return Markers(time=time, names=list(names), xyz=xyz)


def trc_lines(units: str = "mm", markers: Markers | None = None) -> list[str]:
    """Lines of a valid .trc file in ``units`` (scaled from metres)."""
    markers = markers if markers is not None else truth_markers()
    scale = {"mm": 1000.0, "cm": 100.0, "m": 1.0}.get(units, 1000.0)
    n = len(markers.names)
    lines = [
        "PathFileType\t4\t(X/Y/Z)\ttrial.trc",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t"
        "OrigDataStartFrame\tOrigNumFrames",
        f"100\t100\t{len(markers.time)}\t{n}\t{units}\t100\t1\t{len(markers.time)}",
        "Frame#\tTime\t" + "\t\t\t".join(markers.names) + "\t\t",
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, n + 1)),
        "",
    ]
    flat = markers.xyz.reshape(len(markers.time), -1) * scale
    for i, (t, row) in enumerate(zip(markers.time, flat)):
        cells = ["" if np.isnan(v) else f"{v:.9f}" for v in row]
        lines.append("\t".join([str(i + 1), f"{t:.4f}", *cells]))
    return lines


def blank_marker(lines: list[str], marker: int, frames: range) -> list[str]:
    """Blank the cells of one marker in the given frames (0-based)."""
    lines = list(lines)
    for f in frames:
        cells = lines[6 + f].split("\t")
        for k in range(3):
            cells[2 + 3 * marker + k] = ""
        lines[6 + f] = "\t".join(cells)
    return lines


def write(tmp_path: Path, name: str, lines: list[str] | str) -> Path:
    path = tmp_path / name
    text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
    path.write_text(text)
    return path


def grf_table(t0: float = 0.0, t1: float = 0.39, rate: float = 1000.0) -> Table:
    time = np.arange(round((t1 - t0) * rate) + 1) / rate + t0
    labels = grf_columns("r") + grf_columns("l")
    values = np.zeros((len(time), len(labels)))
    values[:, 0] = 10.0 * time          # r vx
    values[:, 1] = 700.0                 # r vy
    values[:, 2] = -4.0                  # r vz
    values[:, 3] = 1.2                   # r px
    values[:, 10] = 300.0                # l vy
    return Table(time=time, labels=labels, values=values)


def sto_lines(n_rows: int = 5, header: tuple[str, ...] | None = None) -> list[str]:
    if header is None:
        header = ("Coordinates", "version=1", f"nRows={n_rows}", "nColumns=3",
                  "inDegrees=yes", "endheader")
    rows = [f"{i / 100:.2f}\t{i * 1.5:.3f}\t{-i:.1f}" for i in range(n_rows)]
    return [*header, "time\thip_flexion_r\tknee_angle_r", *rows]


# --- TRC --------------------------------------------------------------------

@pytest.mark.parametrize("units", ["mm", "cm", "m"])
def test_trc_round_trip(tmp_path, units):
    truth = truth_markers()
    path = write_trc(truth, tmp_path / f"rt_{units}.trc", units=units)
    back = read_trc(path)
    assert back.names == truth.names
    np.testing.assert_allclose(back.time, truth.time, atol=1e-12)
    np.testing.assert_allclose(back.xyz, truth.xyz, atol=1e-9)
    assert back.rate == pytest.approx(RATE)


def test_trc_units_converted_to_metres(tmp_path):
    truth = truth_markers()
    for units in ("mm", "cm", "m"):
        markers = read_trc(write(tmp_path, f"u_{units}.trc", trc_lines(units)))
        np.testing.assert_allclose(markers.xyz, truth.xyz, atol=1e-8)


def test_trc_tolerates_blank_lines_and_trailing_tabs(tmp_path):
    lines = trc_lines()
    messy = lines[:6] + ["", ""] + [line + "\t\t" for line in lines[6:]] + ["", "\t"]
    markers = read_trc(write(tmp_path, "messy.trc", messy))
    np.testing.assert_allclose(markers.xyz, truth_markers().xyz, atol=1e-8)


def test_trc_short_gap_filled_with_spline(tmp_path):
    truth = truth_markers()
    lines = blank_marker(trc_lines(), marker=1, frames=range(10, 16))
    markers, report = read_trc_with_report(write(tmp_path, "gap.trc", lines),
                                           max_gap_frames=10)
    filled = markers.marker("LASI")[10:16]
    # Cubic spline error over a 6-frame gap of a 1 Hz sine is ~5 um; linear
    # interpolation would be off by ~0.2 mm.
    np.testing.assert_allclose(filled, truth.marker("LASI")[10:16], atol=2e-5)
    assert report.filled == {"LASI": [(0.10, 0.15)]}
    assert report.dropped == []


def test_trc_blank_trailing_marker_cells(tmp_path):
    """Rows whose last marker is blank may lose their trailing tabs."""
    lines = blank_marker(trc_lines(), marker=2, frames=range(20, 22))
    lines[26] = lines[26].rstrip("\t")
    lines[27] = lines[27].rstrip("\t")
    markers = read_trc(write(tmp_path, "trailing.trc", lines))
    np.testing.assert_allclose(markers.xyz, truth_markers().xyz, atol=2e-5)


def test_trc_all_missing_marker_dropped(tmp_path, caplog):
    lines = blank_marker(trc_lines(), marker=2, frames=range(N_FRAMES))
    with caplog.at_level(logging.WARNING, logger="simpipe.io.trc"):
        markers, report = read_trc_with_report(write(tmp_path, "drop.trc", lines))
    assert markers.names == ["RASI", "LASI"]
    assert markers.xyz.shape == (N_FRAMES, 2, 3)
    assert report.dropped == ["RKNE"]
    assert "RKNE" in caplog.text


def test_check_markers_present(tmp_path):
    markers = truth_markers()
    check_markers_present(markers, ["RASI", "LASI"], tmp_path / "t.trc")
    with pytest.raises(InputError, match=r"t\.trc.*missing marker.*RTOE, LHEE"):
        check_markers_present(markers, ["RASI", "RTOE", "LHEE"], tmp_path / "t.trc")


def test_write_trc_rejects_unknown_units(tmp_path):
    with pytest.raises(ValueError, match="units"):
        write_trc(truth_markers(), tmp_path / "x.trc", units="in")


# --- STO / MOT --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["mot", "sto"])
@pytest.mark.parametrize("in_degrees", [True, False])
def test_sto_round_trip(tmp_path, kind, in_degrees):
    time = np.arange(25) / 50.0
    values = np.column_stack([np.sin(time), np.cos(time) * 1e3, time ** 3 - 1e-7])
    table = Table(time=time, labels=["a", "b_r", "c"], values=values,
                  in_degrees=in_degrees, meta={"name": "trial", "source": "test"})
    back = read_sto(write_sto(table, tmp_path / f"rt.{kind}", kind=kind))
    assert back.labels == table.labels
    assert back.in_degrees is in_degrees
    assert back.meta["source"] == "test"
    np.testing.assert_allclose(back.time, time, rtol=1e-10)
    np.testing.assert_allclose(back.values, values, rtol=1e-9, atol=1e-15)


def test_read_classic_mot_with_comment_lines(tmp_path):
    header = ("Coordinates", "version=1", "nRows=5", "nColumns=3", "inDegrees=yes", "",
              "Units are S.I. units (second, meters, Newtons, ...)", "endheader")
    table = read_sto(write(tmp_path, "ik.mot", sto_lines(header=header)))
    assert table.in_degrees and table.meta["name"] == "Coordinates"
    np.testing.assert_allclose(table.column("hip_flexion_r"), np.arange(5) * 1.5)


def test_read_space_separated_sto(tmp_path):
    lines = [line.replace("\t", "   ") for line in sto_lines()]
    assert read_sto(write(tmp_path, "spaces.sto", lines)).labels == [
        "hip_flexion_r", "knee_angle_r"]


# --- GRF --------------------------------------------------------------------

def test_grf_round_trip_and_coverage(tmp_path):
    table = grf_table()
    back = read_grf(write_grf(table, tmp_path / "grf.mot"))
    np.testing.assert_allclose(back.values, table.values, atol=1e-9)
    assert not back.in_degrees
    check_grf_covers(back, 0.0, 0.39, tmp_path / "grf.mot")
    check_grf_covers(back, -0.0004, 0.3904, tmp_path / "grf.mot")  # within half a sample


def test_external_loads_xml_content(tmp_path):
    xml = write_external_loads_xml(tmp_path / "sub" / "loads.xml", tmp_path / "grf.mot",
                                   {"r": "calcn_r", "l": "calcn_l"})
    text = xml.read_text()
    assert xml.is_absolute()
    assert f"<datafile>{(tmp_path / 'grf.mot').absolute()}</datafile>" in text
    for tag in ("<applied_to_body>calcn_r<", "<force_identifier>l_ground_force_v<",
                "<point_identifier>r_ground_force_p<", "<torque_identifier>l_ground_torque_<",
                "<force_expressed_in_body>ground<", "<point_expressed_in_body>ground<"):
        assert tag in text


# --- OpenSim reads our files, we read OpenSim's -----------------------------

def test_opensim_reads_our_trc(tmp_path, osim):
    truth = truth_markers()
    truth.xyz[5, 0, :] = np.nan
    path = write_trc(truth, tmp_path / "ours.trc", units="mm")
    table = osim.TimeSeriesTableVec3(str(path))
    assert list(table.getColumnLabels()) == NAMES
    assert table.getNumRows() == N_FRAMES
    assert table.getTableMetaDataAsString("Units") == "mm"
    vec = table.getRowAtIndex(7)[2]
    np.testing.assert_allclose([vec[0], vec[1], vec[2]], truth.xyz[7, 2] * 1000, atol=1e-6)
    assert np.isnan(table.getRowAtIndex(5)[0][0])
    assert osim.MarkerData(str(path)).getNumFrames() == N_FRAMES


def test_we_read_opensim_trc(tmp_path, osim):
    table = osim.TimeSeriesTableVec3()
    table.setColumnLabels(["A", "B"])
    for i in range(4):
        table.appendRow(0.01 * i, osim.RowVectorVec3(
            [osim.Vec3(1000 + i, 900, 100), osim.Vec3(1100, 950 + i, 150)]))
    table.addTableMetaDataString("DataRate", "100")
    table.addTableMetaDataString("Units", "mm")
    osim.TRCFileAdapter().write(table, str(tmp_path / "theirs.trc"))
    markers = read_trc(tmp_path / "theirs.trc")
    assert markers.names == ["A", "B"]
    np.testing.assert_allclose(markers.marker("B")[3], [1.1, 0.953, 0.15])


@pytest.mark.parametrize("kind", ["mot", "sto"])
def test_opensim_reads_our_sto(tmp_path, osim, kind):
    time = np.arange(10) / 100.0
    table = Table(time=time, labels=["hip_flexion_r", "knee_angle_r"],
                  values=np.column_stack([time * 10, -time]), in_degrees=True)
    path = str(write_sto(table, tmp_path / f"ours.{kind}", kind=kind))
    ts = osim.TimeSeriesTable(path)
    assert list(ts.getColumnLabels()) == table.labels
    assert ts.getNumRows() == 10
    assert ts.getDependentColumn("hip_flexion_r")[4] == pytest.approx(0.4)
    storage = osim.Storage(path)
    assert storage.getSize() == 10 and storage.isInDegrees()


def test_we_read_opensim_sto(tmp_path, osim):
    ts = osim.TimeSeriesTable()
    ts.setColumnLabels(["a", "b"])
    for i in range(3):
        ts.appendRow(0.1 * i, osim.RowVector([i, 2.0 * i]))
    ts.addTableMetaDataString("inDegrees", "no")
    osim.STOFileAdapter().write(ts, str(tmp_path / "theirs.sto"))
    table = read_sto(tmp_path / "theirs.sto")
    assert table.labels == ["a", "b"] and not table.in_degrees
    np.testing.assert_allclose(table.column("b"), [0.0, 2.0, 4.0])


def test_opensim_applies_our_external_loads(tmp_path, osim):
    """A free 2 kg foot without gravity accelerates at F/m under our GRF."""
    mot = write_grf(grf_table(), tmp_path / "grf.mot")
    xml = write_external_loads_xml(tmp_path / "loads.xml", mot,
                                   {"r": "calcn_r", "l": "calcn_l"})
    loads = osim.ExternalLoads(str(xml), True)
    assert loads.getSize() == 2
    model = osim.Model()
    model.setGravity(osim.Vec3(0, 0, 0))
    for side in "rl":
        body = osim.Body(f"calcn_{side}", 2.0, osim.Vec3(0), osim.Inertia(0.1, 0.1, 0.1))
        model.addBody(body)
        model.addJoint(osim.FreeJoint(f"free_{side}", model.getGround(), body))
    model.addModelComponent(loads)
    state = model.initSystem()
    state.setTime(0.2)
    model.realizeAcceleration(state)
    bodies = model.getBodySet()
    acc_r = bodies.get("calcn_r").getLinearAccelerationInGround(state)
    acc_l = bodies.get("calcn_l").getLinearAccelerationInGround(state)
    np.testing.assert_allclose([acc_r[0], acc_r[1], acc_r[2]], [1.0, 350.0, -2.0], atol=1e-6)
    np.testing.assert_allclose([acc_l[0], acc_l[1], acc_l[2]], [0.0, 150.0, 0.0], atol=1e-6)


# --- bad-input corpus -------------------------------------------------------

def _replace(lines: list[str], index: int, old: str, new: str) -> list[str]:
    lines = list(lines)
    lines[index] = lines[index].replace(old, new)
    return lines


def _bad_trc_cases() -> list[tuple[str, list[str] | str, list[str]]]:
    good = trc_lines()
    metres = trc_lines("m")
    nonmono = list(good)
    nonmono[20], nonmono[21] = nonmono[21], nonmono[20]
    return [
        ("empty.trc", "", ["empty"]),
        ("noheader.trc", good[3:], ["malformed header", "PathFileType"]),
        ("short_header.trc", good[:3], ["malformed header"]),
        ("keys_values.trc", _replace(good, 2, "\t1\t40", ""), ["malformed header", "values"]),
        ("no_units.trc", _replace(_replace(good, 1, "\tUnits", ""), 2, "\tmm", ""),
         ["no Units"]),
        ("bad_units.trc", _replace(good, 2, "mm", "inches"), ["unknown Units", "inches"]),
        ("mm_as_m.trc", _replace(good, 2, "mm", "m"), ["look like millimetres", "Units says m"]),
        ("m_as_mm.trc", _replace(metres, 2, "\tm\t", "\tmm\t"), ["look like metres"]),
        ("long_gap.trc", blank_marker(good, 1, range(10, 22)),
         ["LASI", "gap of 12 frames", "t=0.1-0.21 s", "max_gap_frames=10"]),
        ("lead_gap.trc", blank_marker(good, 0, range(0, 3)), ["RASI", "start"]),
        ("tail_gap.trc", blank_marker(good, 2, range(37, 40)), ["RKNE", "end"]),
        ("missing_marker.trc", _replace(good, 3, "\tRKNE\t\t", ""),
         ["NumMarkers is 3", "names 2 markers"]),
        ("extra_column.trc", _replace(_replace(_replace(
            good, 2, "\t3\tmm", "\t2\tmm"), 3, "\tRKNE\t\t", ""), 4, "\tX3\tY3\tZ3", ""),
         ["line 7", "header lists 2 markers", "NumMarkers"]),
        ("coord_labels.trc", _replace(good, 4, "\tX3\tY3\tZ3", ""), ["coordinate labels"]),
        ("nonnumeric.trc", _replace(good, 12, good[12].split("\t")[3], "1O23.4"),
         ["line 13", "non-numeric", "1O23.4"]),
        ("nonmonotonic.trc", nonmono, ["non-monotonic"]),
        ("duplicated.trc", _replace(good, 3, "RKNE", "RASI"), ["duplicated", "RASI"]),
        ("zero_frames.trc", good[:6], ["zero frames"]),
        ("truncated.trc", good[:-3], ["NumFrames is 40", "37", "truncated"]),
        ("blank_time.trc", _replace(good, 9, "\t0.0300\t", "\t\t"), ["line 10", "Time", "blank"]),
        ("binary.trc", "\x00\x01C3D\xff\xfe", ["PathFileType"]),
    ]


@pytest.mark.parametrize("name,content,keywords", _bad_trc_cases(),
                         ids=[c[0] for c in _bad_trc_cases()])
def test_bad_trc(tmp_path, name, content, keywords):
    path = write(tmp_path, name, content)
    with pytest.raises(InputError) as info:
        read_trc(path, max_gap_frames=10)
    message = str(info.value)
    assert name in message
    assert info.value.path == path
    assert "\n" not in message
    for word in keywords:
        assert word.lower() in message.lower(), (word, message)


def _bad_sto_cases() -> list[tuple[str, list[str] | str, list[str]]]:
    good = sto_lines()
    return [
        ("empty.mot", "", ["empty"]),
        ("no_endheader.mot", [line for line in good if line != "endheader"], ["endheader"]),
        ("nrows.mot", _replace(good, 2, "nRows=5", "nRows=7"),
         ["nRows=7", "5 data rows", "truncated"]),
        ("ncolumns.mot", _replace(good, 3, "nColumns=3", "nColumns=4"), ["nColumns=4"]),
        ("not_time.mot", _replace(good, 6, "time", "frame"), ["first column", "time", "frame"]),
        ("short_row.mot", _replace(good, 9, "\t-2.0", ""), ["line 10", "2 values", "3 column"]),
        ("nonnumeric.sto", _replace(good, 8, "1.500", "n/a"), ["line 9", "non-numeric", "n/a"]),
        ("nonmonotonic.mot", _replace(good, 10, "0.03", "0.01"), ["non-monotonic"]),
        ("no_rows.mot", _replace(good[:7], 2, "nRows=5", "nRows=0"), ["zero rows"]),
        ("no_labels.sto", good[:6], ["no column labels"]),
        ("dup_labels.sto", _replace(good, 6, "knee_angle_r", "hip_flexion_r"),
         ["duplicated", "hip_flexion_r"]),
        ("degrees.mot", _replace(good, 4, "yes", "maybe"), ["inDegrees=maybe"]),
        ("vec3.sto", _replace(good, 1, "version=1", "DataType=Vec3"), ["DataType=Vec3"]),
    ]


@pytest.mark.parametrize("name,content,keywords", _bad_sto_cases(),
                         ids=[c[0] for c in _bad_sto_cases()])
def test_bad_sto(tmp_path, name, content, keywords):
    path = write(tmp_path, name, content)
    with pytest.raises(InputError) as info:
        read_sto(path)
    message = str(info.value)
    assert name in message and "\n" not in message
    for word in keywords:
        assert word.lower() in message.lower(), (word, message)


def test_missing_file(tmp_path):
    for reader in (read_trc, read_sto, read_grf):
        with pytest.raises(InputError, match=r"nothere\.x: file not found"):
            reader(tmp_path / "nothere.x")


def test_grf_missing_columns(tmp_path):
    table = grf_table()
    keep = [i for i, x in enumerate(table.labels)
            if x not in ("l_ground_force_vy", "r_ground_torque_z")]
    partial = Table(time=table.time, labels=[table.labels[i] for i in keep],
                    values=table.values[:, keep])
    path = write_sto(partial, tmp_path / "partial_grf.mot")
    with pytest.raises(InputError, match=r"partial_grf\.mot: GRF file is missing column\(s\) "
                                         r"r_ground_torque_z, l_ground_force_vy"):
        read_grf(path)
    assert read_grf(path, sides=()).labels == partial.labels


def test_grf_nan(tmp_path):
    table = grf_table()
    table.values[5, 4] = np.nan
    path = write_sto(table, tmp_path / "nan_grf.mot")
    with pytest.raises(InputError, match=r"nan_grf\.mot: GRF column\(s\) r_ground_force_py "
                                         "contain NaN"):
        read_grf(path)


def test_grf_not_covering_trial(tmp_path):
    path = tmp_path / "short_grf.mot"
    grf = read_grf(write_grf(grf_table(0.1, 0.3), path))
    with pytest.raises(InputError, match=r"short_grf\.mot: GRF time range 0\.1-0\.3 s does "
                                         r"not cover the trial 0-0\.39 s"):
        check_grf_covers(grf, 0.0, 0.39, path)
    with pytest.raises(InputError, match="does not cover"):
        check_grf_covers(grf, 0.1, 0.302, path)


# --- filtering --------------------------------------------------------------

def _gain(freq: float, cutoff: float, order: int = 4, rate: float = 1000.0) -> float:
    t = np.arange(4000) / rate
    out = lowpass(np.sin(2 * np.pi * freq * t), rate, cutoff, order=order)
    middle = slice(1000, 3000)
    return float(np.std(out[middle]) / np.std(np.sin(2 * np.pi * freq * t[middle])))


@pytest.mark.parametrize("order", [2, 4])
def test_lowpass_cutoff_is_minus_3db(order):
    assert _gain(12.0, 12.0, order) == pytest.approx(1 / np.sqrt(2), abs=0.01)
    assert _gain(1.0, 12.0, order) == pytest.approx(1.0, abs=0.01)
    assert _gain(60.0, 12.0, order) < 0.01


def test_lowpass_zero_lag_and_axis():
    rate = 200.0
    t = np.arange(400) / rate
    signal = np.column_stack([np.sin(2 * np.pi * 2 * t), np.cos(2 * np.pi * 3 * t)])
    noisy = signal + 0.05 * np.sin(2 * np.pi * 70 * t)[:, None]
    out = lowpass(noisy, rate, 10.0)
    np.testing.assert_allclose(out[50:-50], signal[50:-50], atol=5e-3)
    np.testing.assert_allclose(lowpass(noisy.T, rate, 10.0, axis=1), out.T, atol=1e-12)


def test_double_pass_correction_matches_winter():
    assert double_pass_correction(2) == pytest.approx(0.802, abs=1e-3)


def test_lowpass_errors():
    x = np.zeros(100)
    with pytest.raises(ValueError, match="Nyquist"):
        lowpass(x, 100.0, 50.0)
    with pytest.raises(ValueError, match="Nyquist"):
        lowpass(x, 100.0, 46.0)  # below 50 Hz but not after the correction
    with pytest.raises(ValueError, match="NaN"):
        lowpass(np.where(np.arange(100) == 3, np.nan, 0.0), 100.0, 6.0)
    with pytest.raises(ValueError, match="samples"):
        lowpass(np.zeros(10), 100.0, 6.0)


def test_resample_cubic_exact_and_range():
    time = np.linspace(0.0, 1.0, 11)
    values = np.column_stack([time ** 3 - 2 * time, 5 * time])
    new_time = np.linspace(0.0, 1.0, 37)
    np.testing.assert_allclose(resample(time, values, new_time),
                               np.column_stack([new_time ** 3 - 2 * new_time, 5 * new_time]),
                               atol=1e-12)
    resample(time, values, np.array([1.0 + 1e-12]))  # rounding overshoot is fine
    with pytest.raises(ValueError, match="outside"):
        resample(time, values, np.array([0.5, 1.01]))
    with pytest.raises(ValueError, match="NaN"):
        resample(time, np.where(time > 0.5, np.nan, time), new_time)


# --- hashing ----------------------------------------------------------------

def test_file_sha256(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"simpipe" * 1000)
    assert file_sha256(path) == hashlib.sha256(b"simpipe" * 1000).hexdigest()


def test_hash_object_canonical():
    a = {"b": [1, 2.5, "x"], "a": {"p": Path("/data/s1.trc"), "n": np.float64(0.6)}}
    b = {"a": {"n": 0.6, "p": "/data/s1.trc"}, "b": (1, 2.5, "x")}
    assert hash_object(a) == hash_object(b)
    assert len(hash_object(a)) == 64
    assert hash_object({"x": 1}) != hash_object({"x": 1.0})
    assert hash_object([1, 2]) != hash_object([2, 1])
    assert hash_object({"x": np.arange(3)}) == hash_object({"x": [0, 1, 2]})
    with pytest.raises(TypeError):
        hash_object({"x": object()})
    with pytest.raises(TypeError):
        hash_object({1: "x"})


def test_short_hash():
    digest = hash_object({"k": 1})
    assert short_hash(digest) == digest[:12]
    assert short_hash(digest, n=8) == digest[:8]
    with pytest.raises(ValueError):
        short_hash("not-hex")
