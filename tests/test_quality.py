"""Quality checks (Hicks et al. 2015): marker errors and residuals, in summary.csv, results.h5 and --strict."""

import csv
import math
import shutil

import h5py
import numpy as np
import pytest
import yaml

from simpipe.analysis.quality import Thresholds, failed_checks, marker_metrics, residual_metrics, summary_columns
from simpipe.cli import main
from simpipe.config import QCSpec
from simpipe.stages.modelinfo import root_coordinates

from conftest import MODEL
from model3d import study3d


def test_marker_metrics_rms_is_the_mean_of_per_frame_rms():
    err = np.array([[0.003, 0.004], [0.0, 0.0], [0.010, 0.050]])
    got = marker_metrics(err)
    per_frame = [math.sqrt((9 + 16) / 2), 0.0, math.sqrt((100 + 2500) / 2)]
    assert got["marker_rms_mm"] == pytest.approx(np.mean(per_frame))
    assert got["marker_max_mm"] == pytest.approx(50.0)
    assert all(math.isnan(v) for v in marker_metrics(None).values())


def _id_result(tau_cols: dict, time=np.linspace(0, 1, 101), root=None) -> dict:
    coords = list(tau_cols)
    out = {"time": time, "coordinates": coords, "tau": np.column_stack([tau_cols[c] for c in coords])}
    if root is not None:
        out["residual_coordinates"] = root
    return out


def test_residuals_use_the_root_coordinates_and_skip_the_edges():
    t = np.linspace(0, 1, 101)
    fx, fy = 3.0 * np.ones_like(t), 10.0 * np.sin(2 * np.pi * t)
    fx[:3] = 500.0  # filter edge spike, left out
    res = residual_metrics(_id_result({"root_x": fx, "root_y": fy, "spin": 40 * np.ones_like(t),
                                       "hip": 900 * np.ones_like(t)}, t,
                                      {"force": ["root_x", "root_y"], "moment": ["spin"]}), edge_s=0.05)
    keep = (t >= 0.05) & (t <= 0.95)
    assert res["residual_force_peak_n"] == pytest.approx(np.abs(fy[keep]).max())
    assert res["residual_force_rms_n"] == pytest.approx(np.sqrt(np.mean(fy[keep] ** 2)))
    assert res["residual_moment_peak_nm"] == pytest.approx(40.0) and res["residual_moment_rms_nm"] == pytest.approx(40)
    old = residual_metrics(_id_result({"pelvis_tx": fx, "pelvis_tilt": 80 * np.ones_like(t)}, t))
    assert old["residual_moment_peak_nm"] == pytest.approx(80.0)  # results cached before the root was stored


def test_summary_columns_pass_flag_and_na():
    err = np.full((10, 5), 0.005)
    small = _id_result({"pelvis_tx": np.ones(101), "pelvis_tilt": np.ones(101)})
    cols = summary_columns({"marker_error": err}, small, Thresholds())
    assert (cols["qc_markers"], cols["qc_residuals"], cols["qc_failed"]) == ("pass", "pass", "")
    big = _id_result({"pelvis_tx": 30 * np.ones(101), "pelvis_tilt": 80 * np.ones(101)})
    cols = summary_columns({"marker_error": err * 10}, big, Thresholds())
    assert (cols["qc_markers"], cols["qc_residuals"]) == ("flag", "flag")
    assert cols["qc_failed"].split() == ["marker_rms_mm", "marker_max_mm", "residual_force_rms_n",
                                         "residual_force_peak_n", "residual_moment_peak_nm"]
    cols = summary_columns(None, None, Thresholds())
    assert (cols["qc_markers"], cols["qc_residuals"]) == ("n/a", "n/a")


def test_thresholds_come_from_the_config_block():
    assert Thresholds.from_config(None) == Thresholds()
    qc = Thresholds.from_config(QCSpec(residual_force_peak_n=50.0, residual_moment_rms_nm=20.0))
    assert qc.residual_force_peak_n == 50.0 and qc.residual_moment_rms_nm == 20.0 and qc.marker_max_mm == 40.0
    rows = [{"subject": "s", "trial": "t", "marker_rms_mm": 5.0, "marker_max_mm": 12.0, "residual_force_rms_n": 9.0,
             "residual_force_peak_n": 30.0, "residual_moment_rms_nm": 25.0, "residual_moment_peak_nm": 10.0}]
    assert failed_checks(rows, Thresholds()) == ["s/t: residual_force_peak_n = 30 N (limit 25)"]
    assert failed_checks(rows, qc) == ["s/t: residual_moment_rms_nm = 25 N m (limit 20)"]


def test_root_coordinates_come_from_the_model():
    assert root_coordinates(MODEL) == {"force": ["pelvis_tx", "pelvis_ty"], "moment": ["pelvis_tilt"]}


@pytest.fixture(scope="module")
def copy3d(tmp_path_factory):
    """A copy of the finished 3D study (same cache), so its config can be changed freely."""
    path, res = study3d(tmp_path_factory)
    folder = tmp_path_factory.mktemp("quality3d")
    shutil.copytree(res.summary_path.parent / "cache", folder / "out" / "cache")
    cfg = yaml.safe_load(path.read_text())
    cfg["output"] = str(folder / "out")
    return folder, cfg


def _run_cli(folder, cfg, capsys, monkeypatch, *flags):
    """``simpipe run`` in this process; the HTML report (matplotlib, seconds) is not what is tested here."""
    monkeypatch.setattr("simpipe.report.write_report", lambda out: out)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    code = main(["run", str(path), *flags])
    return code, capsys.readouterr()


def test_summary_and_results_carry_the_checks(copy3d, capsys, monkeypatch):
    folder, cfg = copy3d
    code, _ = _run_cli(folder, cfg, capsys, monkeypatch)
    assert code == 0  # without --strict a flagged trial is reported, not an error
    with open(folder / "out" / "summary.csv", newline="") as fh:
        rows = {r["trial"]: r for r in csv.DictReader(fh)}
    assert rows["run"]["qc_residuals"] == "flag" and rows["stand"]["qc_residuals"] == "pass"
    assert float(rows["stand"]["residual_force_peak_n"]) < 1.0
    with h5py.File(folder / "out" / "results.h5", "r") as f:
        trials = [t.decode() for t in f["summary/trial"][()]]
        verdicts = [v.decode() for v in f["summary/qc_residuals"][()]]
        assert dict(zip(trials, verdicts)) == {"run": "flag", "stand": "pass"}
        assert f["summary/residual_force_peak_n"].dtype == np.float64


def test_strict_makes_a_failed_check_an_error_naming_trial_and_check(copy3d, capsys, monkeypatch):
    folder, cfg = copy3d
    code, out = _run_cli(folder, cfg, capsys, monkeypatch, "--strict")
    assert code == 1
    lines = [ln for ln in out.err.splitlines() if ln.startswith("simpipe: error:")]
    assert len(lines) == 1, out.err
    assert "s3d/run" in lines[0] and "residual_force_peak_n" in lines[0] and "(limit 25)" in lines[0]
    assert "s3d/stand" not in out.err
    assert (folder / "out" / "results.h5").is_file()  # the results are written all the same


def test_strict_passes_with_the_config_thresholds(copy3d, capsys, monkeypatch):
    folder, cfg = copy3d
    loose = dict(cfg, qc={"residual_force_rms_n": 5000.0, "residual_force_peak_n": 5000.0,
                          "residual_moment_peak_nm": 5000.0})
    code, out = _run_cli(folder, loose, capsys, monkeypatch, "--strict")
    assert code == 0, out.err
