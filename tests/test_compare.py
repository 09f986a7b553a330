"""Athletes against a baseline family (simpipe.analysis.compare, ``simpipe compare``): fast, synthetic data."""

from __future__ import annotations

import csv
import json
import math

import h5py
import numpy as np
import pytest

from simpipe.analysis import compare as C
from simpipe.analysis.phases import Stance
from simpipe.cli import main
from simpipe.errors import SimpipeError
from simpipe.io.store import write_results
from simpipe.run.summary import COLUMNS, write_csv

GRID = [0.8, 1.0, 1.2, 1.5, 2.0]
SPACING = min(np.diff(GRID))
KIN = list(C.KINEMATIC_FEATURES)


def smooth(k: float) -> dict:
    """Features of a family: monotone, and not monotone, in stiffness."""
    return {"peak_hip_extension_deg": 20.0 - 6.0 * (k - 1.0),
            "peak_anterior_pelvic_tilt_deg": 12.0 + 3.0 * (k - 1.0) + 4.0 * (k - 1.4) ** 2,
            "peak_lumbar_extension_deg": 5.0 + 2.0 * math.sin(2.0 * k),
            "glute_share": 0.20 - 0.04 * (k - 1.0),
            "plantarflexor_share": 0.45 + 0.05 * (k - 1.2) ** 2}


def row(subject: str, trial: str, k: float, feats: dict, method: str = "joint_work") -> dict:
    """A summary row as simpipe writes it (strain sweep, rf_stiffness = 0.6 / strain)."""
    r = {c: math.nan for c in COLUMNS}
    r.update(subject=subject, trial=trial, variant=f"x{k:.2f}", rf_stiffness=float(k),
             sweep_property="passive_fiber_strain_at_one_norm_force", sweep_value=0.6 / k, method=method,
             rf_passive_peak_n=200.0 * k, n_stances=2)
    r.update(feats)
    return r


def family_rows(features=smooth, grid=GRID) -> list[dict]:
    rows = [row("sim", "run", k, features(k)) for k in grid]
    return rows + [row("sim", "run", k, {"glute_share": 0.9}, "muscle_iaa") for k in grid]  # must be ignored


def athlete_rows(ks: dict[str, list[float]], noise: float = 0.0, seed: int = 0) -> list[dict]:
    """Trials at the given stiffness, each repeated over two variants of the athlete's own sweep.

    ``noise``: SD of the trial-to-trial noise, as a fraction of each feature's range over the family.
    """
    rng = np.random.default_rng(seed)
    span = {f: np.ptp([smooth(k)[f] for k in GRID]) for f in smooth(1.0)}
    rows = []
    for subject, values in ks.items():
        for i, k in enumerate(values):
            feats = {f: v + noise * span[f] * rng.standard_normal() for f, v in smooth(k).items()}
            rows += [row(subject, f"run_{i:02d}", v, feats) for v in (1.0, 1.5)]
    return rows


def write_summary(folder, rows):
    """summary.csv as simpipe writes it; kinematic columns appended when the rows have them."""
    folder.mkdir(parents=True, exist_ok=True)
    extra = [c for c in KIN if any(c in r for r in rows)]
    if not extra:
        return write_csv(rows, folder / "summary.csv")
    with open(folder / "summary.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS + extra)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return folder / "summary.csv"


def as_text(rows):
    """Rows as read back from summary.csv (strings)."""
    return [{k: (f"{v:.6g}" if isinstance(v, float) else str(v)) for k, v in r.items()} for r in rows]


# ------------------------------------------------------------------------------ kinematic features


def _motion(k: float, n: int = 201):
    """A synthetic motion whose peaks are known: hip, pelvis tilt and lumbar change with ``k``."""
    t = np.linspace(0.0, 1.0, n)
    bump = np.sin(np.pi * t) ** 2
    names = ["pelvis_tilt", "pelvis_tx", "lumbar_extension", "hip_flexion_r", "ankle_angle_r",
             "hip_flexion_l", "ankle_angle_l"]
    q = np.column_stack([np.radians(-(10 + 3 * k) * bump), 3.5 * t, np.radians((4 + 2 * k) * bump),
                         np.radians(30 - (20 - 6 * k) * 2 * t), np.radians(10 * np.sin(2 * np.pi * t)),
                         np.radians(30 - (20 - 6 * k) * 2 * t), np.radians(10 * np.cos(2 * np.pi * t))])
    tau = np.column_stack([np.zeros(n), np.zeros(n), np.zeros(n), 80 * np.sin(np.pi * t) * k,
                           -120 * bump, 80 * np.sin(np.pi * t), -100 * bump])
    return t, names, q, tau


STANCES = [Stance("r", 0.2, 0.5, True), Stance("l", 0.6, 0.9, True), Stance("r", 0.95, 1.2, False)]


def test_kinematic_features_are_peaks_over_the_stance_windows():
    t, names, q, _ = _motion(1.0)
    got = C.kinematic_features(t, names, q, STANCES)
    # hip extension = -(30 - 28 t) deg, largest at the end of each stance; late stance = 50-100 %
    assert got["peak_hip_extension_deg"] == pytest.approx(np.mean([-(30 - 28 * 0.5), -(30 - 28 * 0.9)]), abs=1e-6)
    bump = lambda a, b: np.sin(np.pi * np.linspace(a, b, 10001)) ** 2  # noqa: E731
    assert got["peak_anterior_pelvic_tilt_deg"] == pytest.approx(13 * np.mean([bump(.2, .5).max(), bump(.6, .9).max()]),
                                                                 rel=1e-4)
    assert got["peak_lumbar_extension_deg"] == pytest.approx(6 * np.mean([bump(.2, .5).max(), bump(.6, .9).max()]),
                                                             rel=1e-4)
    missing = C.kinematic_features(t, names[:2], q[:, :2], STANCES)
    assert math.isnan(missing["peak_hip_extension_deg"]) and math.isnan(missing["peak_lumbar_extension_deg"])
    none = C.kinematic_features(t, names, q, [Stance("r", 0.95, 1.2, False)])
    assert all(math.isnan(v) for v in none.values())


# ------------------------------------------------------------------------------ placing trials


def _nonmonotone(k):
    return {"peak_anterior_pelvic_tilt_deg": smooth(k)["peak_anterior_pelvic_tilt_deg"],
            "peak_lumbar_extension_deg": smooth(k)["peak_lumbar_extension_deg"]}


@pytest.mark.parametrize("features", [smooth, _nonmonotone], ids=["mixed", "non-monotone"])
def test_each_baseline_is_placed_at_its_own_stiffness(features):
    fam = family_rows(features)
    own = [dict(r, subject=f"b{i}", trial="own") for i, r in enumerate(fam) if r["method"] == "joint_work"]
    cmp = C.compare_rows(as_text(own), as_text(fam))
    assert cmp.family.stiffness.tolist() == GRID
    for p, k in zip(cmp.placements, GRID):
        assert p.place == "inside", (k, p)
        assert abs(p.stiffness - k) < SPACING
        assert p.lo <= p.stiffness <= p.hi
    assert set(cmp.scales.sources["b0"]) == {"family_range"}  # one trial per athlete: no trial spread
    assert cmp.placements[0].interval_open == "below" and cmp.placements[-1].interval_open == "above"


def _linear(k):
    return {"peak_hip_extension_deg": 20.0 - 6.0 * (k - 1.0), "glute_share": 0.2 - 0.04 * (k - 1.0),
            "peak_lumbar_extension_deg": 5.0 + 1.5 * k}


@pytest.mark.parametrize("k, place", [(0.5, "below"), (2.6, "above")])
def test_a_trial_beyond_the_family_is_outside_not_clamped(k, place):
    trial = row("ath", "run_01", 1.0, _linear(k))
    cmp = C.compare_rows(as_text([trial]), as_text(family_rows(_linear)))
    p = cmp.placements[0]
    assert p.place == place and not p.inside
    assert math.isnan(p.stiffness)
    assert p.nearest_stiffness == (GRID[0] if place == "below" else GRID[-1])
    assert p.extrapolated_stiffness == pytest.approx(k, abs=1e-3)
    assert math.isnan(cmp.athletes[0].mean) and cmp.athletes[0].places == {place: 1}
    out = C.result_rows(cmp)[0]
    assert out["place"] == place and math.isnan(out["stiffness"])


def test_a_trial_unlike_any_baseline_is_off_the_family():
    # 5 family ranges away in a direction orthogonal to the family (in standardized units): no stiffness comes close
    near = _linear(1.3)
    feats = dict(near, peak_hip_extension_deg=near["peak_hip_extension_deg"] + 5 * 7.2,
                 glute_share=near["glute_share"] - 5 * 0.048)
    cmp = C.compare_rows(as_text([row("ath", "run_01", 1.0, feats)]), as_text(family_rows(_linear)))
    p = cmp.placements[0]
    assert p.place == "off" and math.isnan(p.stiffness) and p.rms_z > C.MAX_RMS_Z
    assert GRID[0] < p.nearest_stiffness < GRID[-1]


def test_trial_to_trial_spread_gives_an_uncertainty():
    rows = athlete_rows({"ath1": [1.25, 1.3, 1.35, 1.4], "ath2": [1.6]}, noise=0.05)
    cmp = C.compare_rows(as_text(rows), as_text(family_rows()))
    a1, a2 = cmp.athletes
    assert a1.n_trials == 4 and a1.n_inside == 4
    assert a1.mean == pytest.approx(1.325, abs=0.1)
    assert a1.sd > 0.01
    assert all(p.hi - p.lo > 0 for p in cmp.placements)
    assert set(cmp.scales.sources["ath1"]) == {"athlete_sd"}
    assert set(cmp.scales.sources["ath2"]) == {"pooled_sd"}  # one trial: the spread of the other athletes
    assert a2.n_inside == 1 and math.isnan(a2.sd)
    assert a2.mean == pytest.approx(1.6, abs=0.15)


def test_a_family_of_one_stiffness_is_an_error():
    with pytest.raises(SimpipeError, match="1 stiffness point"):
        C.compare_rows(as_text(athlete_rows({"a": [1.0]})), as_text(family_rows(grid=[1.2])))


@pytest.mark.parametrize("features, match", [(["rf_passive_peak_n"], "not measurable"),
                                             (["no_such_column"], "unknown feature"),
                                             (["knee_share"], "missing in the baseline family")])
def test_features_that_cannot_be_used_are_refused(features, match):
    ath = [dict(r, knee_share=0.3) for r in athlete_rows({"a": [1.0, 1.1]})]  # the family has no knee share
    with pytest.raises(SimpipeError, match=match):
        C.compare_rows(as_text(ath), as_text(family_rows()), features)


def test_default_features_missing_on_one_side_are_left_out_and_named():
    ath = [{k: v for k, v in r.items() if k not in KIN} for r in athlete_rows({"a": [1.1, 1.2]})]
    cmp = C.compare_rows(as_text(ath), as_text(family_rows()))
    assert cmp.family.features == ["glute_share", "plantarflexor_share"]
    assert set(cmp.dropped) == set(KIN)
    assert "left out" in C.format_comparison(cmp)


# ------------------------------------------------------------------------------ the command


def _outputs(tmp_path, athlete=None, family=None):
    a, b = tmp_path / "athlete", tmp_path / "baselines"
    write_summary(a, athlete if athlete is not None else athlete_rows({"ath": [1.2, 1.3, 1.4]}, noise=0.05))
    write_summary(b, family if family is not None else family_rows())
    return a, b


def test_cli_compare_writes_table_json_and_figure(tmp_path, capsys):
    a, b = _outputs(tmp_path)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 0
    out = tmp_path / "cmp"
    with open(out / "compare.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["trial"] for r in rows] == ["run_00", "run_01", "run_02"]
    assert {"place", "stiffness", "stiffness_lo", "stiffness_hi", "athlete_stiffness_sd"} <= set(rows[0])
    assert all(r["place"] == "inside" and 1.0 < float(r["stiffness"]) < 1.6 for r in rows)
    doc = json.loads((out / "compare.json").read_text())
    assert doc["features"] == list(C.DEFAULT_FEATURES) and doc["athletes"][0]["n_inside"] == 3
    for ext in ("png", "svg"):
        assert (out / f"compare_features.{ext}").stat().st_size > 1000
    text = capsys.readouterr().out
    assert "ath: RF passive stiffness (× default) 1." in text and "3 of 3 trial(s) inside" in text


def _h5_entries(subject, trial, k, variant=None):
    """ik, id and joint_work groups of one motion (per variant for a simulated baseline)."""
    t, names, q, tau = _motion(k)
    base = f"subjects/{subject}/trials/{trial}" + (f"/variants/{variant}" if variant else "")
    stances = [[s.side, s.start, s.end, s.complete] for s in STANCES]
    return [(f"{base}/ik", {"time": t, "coordinates": names, "q": q}, {}),
            (f"{base}/id", {"time": t, "coordinates": names, "q": q, "u": np.gradient(q, t, axis=0), "tau": tau}, {}),
            (f"{base}/joint_work", {"stances": stances, "n_stances": 2}, {})]


def test_cli_compare_reads_kinematics_and_curves_from_results_h5(tmp_path, capsys):
    """Summaries without kinematic columns: the features come from the IK in results.h5."""
    a, b = tmp_path / "athlete", tmp_path / "baselines"
    ath = [{k: v for k, v in r.items() if k not in KIN} for r in athlete_rows({"ath": [1.2, 1.4]})]
    fam = [{k: v for k, v in r.items() if k not in KIN} for r in family_rows()]
    a.mkdir()
    b.mkdir()
    trials = [e for i, k in enumerate([1.2, 1.4]) for e in _h5_entries("ath", f"run_{i:02d}", k)]
    write_results(a / "results.h5", {}, trials, ath, [])
    write_results(b / "results.h5", {}, [e for k in GRID for e in _h5_entries("sim", "run", k, f"x{k:.2f}")], fam, [])
    write_csv(ath, a / "summary.csv")
    write_csv(fam, b / "summary.csv")
    computed = C.read_kinematic_features(b / "results.h5")
    assert computed[("sim", "run", "x1.50")]["peak_hip_extension_deg"] > computed[("sim", "run", "x2.00")][
        "peak_hip_extension_deg"]
    assert main(["compare", str(a), str(b)]) == 0
    out = a / "compare"
    doc = json.loads((out / "compare.json").read_text())
    assert set(KIN) <= set(doc["features"])
    assert [t["place"] for t in doc["trials"]] == ["inside", "inside"]
    assert (out / "compare_curves_ath.png").is_file() and (out / "compare_curves_ath.svg").is_file()
    with h5py.File(out / "compare.h5", "r") as f:  # the layout the report's compare section reads
        g = f["compare/ath/run_00"]
        assert g["baseline_deg"].shape == (len(GRID), 101, 4) and g["athlete_deg"].shape == (101, 4)
        assert bool(g.attrs["inside"])
    from simpipe.report import write_report

    page = write_report(a).read_text()  # the athlete's report gains the comparison
    assert 'id="compare-table"' in page and "Athletes against the simulated baselines" in page


@pytest.mark.parametrize("case", ["missing athlete", "missing summary", "one stiffness", "no common feature",
                                  "model-only feature"])
def test_cli_compare_bad_inputs_fail_in_one_line(tmp_path, capsys, case):
    extra = []
    if case == "missing athlete":
        a, b = tmp_path / "nowhere", _outputs(tmp_path)[1]
        where = "nowhere"
    elif case == "missing summary":
        a, b = _outputs(tmp_path)
        (b / "summary.csv").unlink()
        where = "baselines/summary.csv"
    elif case == "one stiffness":
        a, b = _outputs(tmp_path, family=family_rows(grid=[1.2]))
        where = "baselines/summary.csv"
    elif case == "no common feature":
        ath = [{k: v for k, v in r.items() if k not in KIN} | {"glute_share": math.nan, "plantarflexor_share": math.nan}
               for r in athlete_rows({"ath": [1.2]})]
        a, b = _outputs(tmp_path, athlete=ath)
        where = "athlete/summary.csv"
    else:
        a, b = _outputs(tmp_path)
        extra, where = ["--features", "glute_share,rf_passive_peak_n"], "rf_passive_peak_n"
    assert main(["compare", str(a), str(b), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("simpipe: error:") and where in err, err
