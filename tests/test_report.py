"""The study report: a page that opens, figures that exist, numbers that match.

Most tests build a results folder with the same writers ``run_study`` uses
(:func:`simpipe.io.store.write_results`, :func:`simpipe.run.summary.write_csv`)
from small generated data, so they check the report alone and fast; one
module fixture runs a real (small) quickstart study with one trial whose GRF
file is cut short, so that its ID task fails, and reports on it.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from simpipe.analysis.phases import Stance
from simpipe.errors import SimpipeError
from simpipe.io.store import read_summary, write_results
from simpipe.report import write_report
from simpipe.report.curves import PERCENT, normalize_stance
from simpipe.report.optional import assign_groups
from simpipe.analysis.quality import Thresholds

RESIDUAL_EDGE_S = Thresholds().edge_s
from simpipe.run.summary import COLUMNS, write_csv

from _study import quickstart_config
from conftest import EXAMPLE, MODEL, REPO

COORDS = ["pelvis_tilt", "pelvis_tx", "pelvis_ty", "lumbar_extension", "hip_flexion_r", "knee_angle_r",
          "ankle_angle_r", "hip_flexion_l", "knee_angle_l", "ankle_angle_l"]
VARIANTS = ((0.6, 1.0), (0.4, 1.5), (0.3, 2.0))
FAILED_ID = "StageError: inverse dynamics diverged at t=0.50 s"


# ---------------------------------------------------------------- fabricated results


def _trial_signals(rng, t, offset):
    q = np.column_stack([0.3 * np.sin(2 * np.pi * 1.4 * t + 0.4 * i) for i in range(len(COORDS))])
    tau = np.column_stack([(40 + 10 * i) * np.cos(2 * np.pi * 1.4 * t + i) for i in range(len(COORDS))])
    tau[:, 0], tau[:, 1], tau[:, 2] = 20.0 * np.sin(5 * t), 3.0 + offset, 30.0 * np.sin(8 * t)  # residuals
    return q, np.gradient(q, t, axis=0), tau


def _summary_row(trial, vname, val, k, err, work, force, ok):
    row = {c: math.nan for c in COLUMNS}
    row.update(subject="subject01", trial=trial, variant=vname, rf_stiffness=k, method="joint_work",
               sweep_property="passive_fiber_strain_at_one_norm_force", sweep_value=val,
               rf_passive_peak_n=float(force.max()), marker_max_mm=float(err.max() * 1000),
               marker_rms_mm=float(np.sqrt((err ** 2).mean(axis=1)).mean() * 1000))
    if ok:
        shares = work / work.sum()
        row.update(glute_share=float(shares[0]), knee_share=float(shares[1]), plantarflexor_share=float(shares[2]),
                   hip_work_j=float(work[0]), knee_work_j=float(work[1]), ankle_work_j=float(work[2]), n_stances=2)
    return row


def _trial_entries(rng, trial, ti, failed):
    base = f"subjects/subject01/trials/{trial}"
    t = np.arange(0.0, 1.0, 0.01)
    q, u, tau = _trial_signals(rng, t, ti)
    err = 0.004 + 0.004 * rng.random((t.size, 12))
    err[10, 3] = 0.045 if ti == 1 else 0.02  # the second trial's max error is above 40 mm
    entries = [(f"{base}/ik", {"time": t, "coordinates": COORDS, "q": q, "marker_error": err,
                               "markers": [f"m{i}" for i in range(12)]}, {"task_key": f"ik{ti}"})]
    work = np.array([30.0 + 5 * ti, 10.0 + rng.random(), 45.0])
    if not failed:
        entries.append((f"{base}/id", {"time": t, "coordinates": COORDS, "q": q, "u": u, "udot": u, "tau": tau,
                                       "grf": {"r": rng.random((t.size, 3)), "l": rng.random((t.size, 3))}}, {}))
        entries.append((f"{base}/joint_work", {
            "joints": ["hip", "knee", "ankle"], "work_j": work, "n_stances": 2,
            "shares": {j: float(w / work.sum()) for j, w in zip(["hip", "knee", "ankle"], work)},
            "stances": [("r", 0.10, 0.35, True), ("l", 0.45, 0.70, True), ("r", 0.90, 0.99, False)]}, {}))
    rows = []
    for val, k in VARIANTS:
        vname = f"x{k:.2f}"
        force = np.column_stack([k * 50 * (1 + np.sin(2 * np.pi * t)), k * 40 * (1 + np.cos(2 * np.pi * t))])
        entries.append((f"{base}/variants/{vname}/passive", {"muscles": ["rect_fem_r", "rect_fem_l"], "time": t,
                                                             "force_n": force, "peak_n": force.max(axis=0)}, {}))
        rows.append(_summary_row(trial, vname, val, k, err, work, force, not failed))
    return entries, rows


def fabricate(out: Path, fail: bool = False, trials=("run_01", "run_02")) -> Path:
    """A results folder in the layout of ``run_study``; with ``fail`` the last trial's ID failed."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    prov = {"config_text": (REPO / "configs" / "quickstart.yaml").read_text(), "config_hash": "ab12" * 16,
            "config_path": str(out / "study.yaml"), "simpipe_version": "0.1.0", "opensim_version": "4.6",
            "model_path": "/models/simpipe_run2d.osim", "created_unix": 1.7e9,
            "input_hashes": {"/data/static.trc": "1" * 64, "/data/run_01.trc": "2" * 64}}
    entries, rows = [], []
    for ti, trial in enumerate(trials):
        e, r = _trial_entries(rng, trial, ti, fail and ti == len(trials) - 1)
        entries += e
        rows += r
    entries.append(("subjects/subject01/scale", {"segments": ["pelvis"], "factors": np.ones((1, 3)),
                                                  "static_rms_m": 0.004, "static_max_m": 0.009}, {}))
    failures = []
    if fail:
        failures = [{"task": f"id:subject01/{trials[-1]}", "stage": "id", "error": FAILED_ID},
                    {"task": f"joint_work:subject01/{trials[-1]}", "stage": "joint_work",
                     "error": f"skipped: depends on failed id:subject01/{trials[-1]}"}]
    write_results(out / "results.h5", prov, entries, rows, failures)
    write_csv(rows, out / "summary.csv")
    return out


def add_optional(out: Path) -> None:
    """Induced accelerations, athlete comparison and Thomas test (layouts of simpipe.report.optional)."""
    forces = ["glut_max_r", "soleus_r", "gastroc_r", "vasti_r", "rect_fem_r", "gravity", "velocity"]
    with h5py.File(out / "results.h5", "a") as f:
        for trial in f["subjects/subject01/trials"].values():
            t = trial["ik/time"][()]
            contrib = np.column_stack([np.sin(2 * np.pi * (t + 0.1 * i)) for i in range(len(forces))])
            for v in trial["variants"].values():
                g = v.create_group("iaa")
                g["time"], g["fore_aft"] = t, contrib
                g["forces"] = np.array(forces, dtype=h5py.string_dtype())
                g["measured_fore_aft"] = contrib.sum(axis=1) * 1.01
        c = f.create_group("compare/subject01/run_01")
        c["percent_stance"] = PERCENT
        c["coordinates"] = np.array(["hip_flexion_r", "pelvis_tilt"], dtype=h5py.string_dtype())
        c["athlete_deg"] = np.column_stack([np.sin(PERCENT / 30), np.cos(PERCENT / 30)])
        c["baseline_stiffness"] = np.array([1.0, 1.5, 2.0])
        c["baseline_deg"] = np.stack([c["athlete_deg"][()] * s for s in (0.9, 1.0, 1.1)])
        c.attrs.update(rf_stiffness_estimate=1.4, rf_stiffness_sd=0.2, inside=True)
        th = f.create_group("baselines/thomas")
        th["rf_stiffness"] = np.array([1.0, 1.5, 2.0])
        th["angle_knee_flexed_deg"] = np.array([10.0, 6.0, 2.0])
        th["angle_knee_extended_deg"] = np.array([15.0, 12.0, 9.0])
        th.attrs["threshold"] = "test threshold"


# ---------------------------------------------------------------- reading the page


class Page(HTMLParser):
    """Tables (by id: rows of {data-col: (text, data-value)}), file references, images, texts by id."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, list[dict]] = {}
        self.files: list[str] = []
        self.images: list[str] = []
        self.texts: dict[str, str] = {}
        self._table = self._cell = None
        self._row: dict | None = None
        self._text_ids: list[list] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-file" in a:
            self.files.append(a["data-file"])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = {}
        elif tag == "td" and self._row is not None:
            self._cell = [a.get("data-col"), "", a.get("data-value")]
        if "id" in a and tag in ("div", "pre", "section"):
            self._text_ids.append([a["id"], tag, ""])

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row[self._cell[0]] = (self._cell[1].strip(), self._cell[2])
            self._cell = None
        elif tag == "tr" and self._row:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        if self._text_ids and self._text_ids[-1][1] == tag:
            ident, _, text = self._text_ids.pop()
            self.texts[ident] = text

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data
        for item in self._text_ids:
            item[2] += data


def read_page(out: Path) -> Page:
    return Page((out / "report" / "report.html").read_text(encoding="utf-8"))


def value(cell) -> float:
    return float(cell[1])


def shown_as(cell) -> None:
    """The text of a numeric cell is its value rounded (fixed decimals or two significant digits)."""
    text, got = cell[0], float(cell[1])
    if "e" in text:
        assert float(text) == pytest.approx(got, rel=0.051)
        return
    digits = len(text.split(".")[1]) if "." in text else 0
    assert float(text) == pytest.approx(got, abs=0.51 * 10 ** -digits, rel=0.051)


def csv_rows(out: Path) -> list[dict]:
    with open(out / "summary.csv") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------- checks shared by both kinds of study


def check_figures(out: Path, page: Page) -> None:
    """Every referenced file exists and is non-empty; every embedded PNG decodes to a PNG."""
    assert page.files and page.images
    for ref in page.files:
        path = out / "report" / ref
        assert path.is_file() and path.stat().st_size > 1000, ref
    for stem in {Path(r).stem for r in page.files}:
        for ext in (".png", ".svg"):
            assert (out / "report" / "figures" / f"{stem}{ext}").stat().st_size > 1000
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def check_rounding(page: Page) -> None:
    """Every numeric cell of every table shows its exact value rounded."""
    for rows in page.tables.values():
        for cells in rows:
            for cell in cells.values():
                if cell[1] is not None and not math.isnan(float(cell[1])):
                    shown_as(cell)


def check_summary_numbers(out: Path, page: Page) -> None:
    """The summary table equals /summary exactly and summary.csv to its 6 significant digits."""
    h5_rows, csv_rs = read_summary(out / "results.h5"), csv_rows(out)
    shown = page.tables["summary-table"]
    assert len(shown) == len(h5_rows) == len(csv_rs)
    for cells, h5r, cr in zip(shown, h5_rows, csv_rs):
        for col, cell in cells.items():
            if cell[1] is None:
                assert cell[0] == str(h5r[col]) == cr[col]
                continue
            got = value(cell)
            assert (math.isnan(got) and math.isnan(h5r[col])) or got == h5r[col], col
            assert (math.isnan(got) and cr[col] == "nan") or got == pytest.approx(float(cr[col]), rel=1e-5), col
            if not math.isnan(got):
                shown_as(cell)


def check_share_stats(out: Path, page: Page) -> None:
    """Mean and SD in the shares table recomputed from summary.csv."""
    rows = csv_rs = csv_rows(out)
    for cells in page.tables["shares-table"]:
        key = (cells["subject"][0], cells["method"][0], cells["variant"][0])
        group = [r for r in csv_rs if (r["subject"], r["method"], r["variant"]) == key]
        assert group, key
        for col, stat in (("glute_share", "glute"), ("plantarflexor_share", "plantarflexor")):
            vals = np.array([float(r[col]) for r in group])
            vals = vals[np.isfinite(vals)]
            assert value(cells["n_trials"]) == vals.size
            if vals.size:
                assert value(cells[f"{stat}_mean"]) == pytest.approx(vals.mean(), rel=1e-5)
            if vals.size > 1:
                assert value(cells[f"{stat}_sd"]) == pytest.approx(vals.std(ddof=1), rel=1e-4, abs=1e-7)
    assert len(page.tables["shares-table"]) == len({(r["subject"], r["method"], r["variant"]) for r in rows})


def check_quality(out: Path, page: Page) -> None:
    """Marker errors equal the summary; residuals equal RMS and peak of the pelvis ID forces."""
    csv_rs = csv_rows(out)
    with h5py.File(out / "results.h5", "r") as f:
        for cells in page.tables["quality-table"]:
            subject, trial = cells["subject"][0], cells["trial"][0]
            first = next(r for r in csv_rs if (r["subject"], r["trial"]) == (subject, trial))
            assert value(cells["marker_rms_mm"]) == pytest.approx(float(first["marker_rms_mm"]), rel=1e-5)
            assert value(cells["marker_max_mm"]) == pytest.approx(float(first["marker_max_mm"]), rel=1e-5)
            ok = float(first["marker_rms_mm"]) < 20 and float(first["marker_max_mm"]) < 40
            assert cells["markers"][0].startswith("pass" if ok else "flag")
            idg = f.get(f"subjects/{subject}/trials/{trial}/id")
            if idg is None:
                assert math.isnan(value(cells["force_peak_n"])) and cells["residuals"][0] == "n/a"
                continue
            names = [c.decode() for c in idg["coordinates"][()]]
            t = idg["time"][()]
            tau = idg["tau"][()][(t >= t[0] + RESIDUAL_EDGE_S) & (t <= t[-1] - RESIDUAL_EDGE_S)]
            forces = [tau[:, names.index(c)] for c in ("pelvis_tx", "pelvis_ty") if c in names]
            moment = tau[:, names.index("pelvis_tilt")]
            assert value(cells["force_peak_n"]) == max(np.abs(c).max() for c in forces)
            assert value(cells["force_rms_n"]) == pytest.approx(max(np.sqrt(np.mean(c ** 2)) for c in forces))
            assert value(cells["moment_peak_nm"]) == np.abs(moment).max()


def check_provenance(out: Path, page: Page) -> None:
    with h5py.File(out / "results.h5", "r") as f:
        prov = {r["item"][0]: r["value"][0] for r in page.tables["provenance-table"]}
        assert prov["config hash (SHA-256)"] == f.attrs["config_hash"]
        assert prov["OpenSim version"] == f.attrs["opensim_version"]
        assert prov["simpipe version"] == f.attrs["simpipe_version"]
        assert page.texts["config-text"] == f.attrs["config_text"]
        hashes = json.loads(f.attrs["input_hashes"])
        assert {r["file"][0]: r["sha256"][0] for r in page.tables["inputs-table"]} == hashes


def check_failures(out: Path, page: Page) -> None:
    with h5py.File(out / "results.h5", "r") as f:
        stored = [{k: f["failures"][k][i].decode() for k in ("task", "stage", "error")}
                  for i in range(len(f["failures/task"]))]
    assert stored
    shown = [{k: c[0] for k, c in r.items()} for r in page.tables["failures-table"]]
    assert shown[:len(stored)] == stored
    alert = page.texts["failure-alert"]
    assert f"{len(shown)} task(s) failed" in alert and stored[0]["task"] in alert


# ---------------------------------------------------------------- headless Chromium


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium; .ci/run installs it)")


def open_in_chromium(html_file: Path, tmp: Path) -> tuple[np.ndarray, list[str]]:
    """Screenshot (RGB array) and console lines of the page in headless Chromium."""
    shot = tmp / "screenshot.png"
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
           "--enable-logging=stderr", "--v=0", html_file.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert shot.is_file(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    import matplotlib.image

    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    return matplotlib.image.imread(shot)[..., :3], console


def check_in_chromium(out: Path, tmp: Path) -> None:
    pixels, console = open_in_chromium(out / "report" / "report.html", tmp)
    assert not console, console  # the page has no scripts: any console message is an error
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 0.05  # not blank
    assert np.mean(pixels.min(axis=2) < 0.9) > 0.02  # ink on at least 2 % of the page


# ---------------------------------------------------------------- tests on fabricated results


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """Fabricated study with a failed ID task and every optional section's data."""
    out = fabricate(tmp_path_factory.mktemp("full") / "out", fail=True)
    add_optional(out)
    write_report(out)
    return out, read_page(out)


def test_report_opens_in_headless_chromium(full, tmp_path):
    out, _ = full
    check_in_chromium(out, tmp_path)


def test_every_figure_exists_and_is_embedded(full):
    out, page = full
    check_figures(out, page)
    stems = {Path(r).stem for r in page.files}
    assert {"shares_vs_stiffness", "stance_subject01", "passive_subject01", "induced_subject01",
            "compare_subject01_run_01", "thomas_test"} <= stems


def test_table_numbers_equal_summary_csv_and_results_h5(full):
    out, page = full
    check_summary_numbers(out, page)
    check_share_stats(out, page)
    check_quality(out, page)
    check_provenance(out, page)
    check_rounding(page)


def test_quality_flags_against_hicks_thresholds(full):
    _, page = full
    verdicts = {r["trial"][0]: r["markers"][0] for r in page.tables["quality-table"]}
    assert verdicts["run_01"] == "pass" and verdicts["run_02"].startswith("flag")  # max 45 mm > 40 mm
    residuals = {r["trial"][0]: r["residuals"][0] for r in page.tables["quality-table"]}
    assert residuals["run_01"].startswith("flag")  # pelvis_ty peak 30 N > 25 N
    assert residuals["run_02"] == "n/a"  # its ID failed
    assert page.tables["static-table"][0]["static"][0] == "pass"


def test_failed_task_is_named_at_the_top(full):
    out, page = full
    check_failures(out, page)
    text = (out / "report" / "report.html").read_text()
    assert text.index('id="failure-alert"') < text.index('id="shares"')
    assert FAILED_ID in text


def test_optional_sections_appear_with_their_data(full):
    _, page = full
    check = page.tables["superposition-table"]
    assert len(check) == 2 * len(VARIANTS)
    run_01 = [r for r in check if r["trial"][0] == "run_01"]
    assert all(r["check"][0] == "pass" and 0.5 < value(r["error_pct"]) < 1.5 for r in run_01)  # measured = 1.01 sum
    assert all(r["check"][0] == "n/a" for r in check if r["trial"][0] == "run_02")  # no stances: its ID failed
    assert value(page.tables["compare-table"][0]["estimate"]) == 1.4
    assert [value(r["knee_flexed"]) for r in page.tables["thomas-table"]] == [10.0, 6.0, 2.0]


def test_plain_study_report_replaces_the_old_one(tmp_path):
    out = fabricate(tmp_path / "out")
    (out / "report" / "figures").mkdir(parents=True)
    (out / "report" / "figures" / "stale.png").write_bytes(b"old")
    text = write_report(out).read_text()
    for ident in ("induced", "compare", "thomas", "failures", "failure-alert"):  # optional: no data, no section
        assert f'id="{ident}"' not in text
    assert "No task failed." in text and "joint_work is flat by construction" in text
    assert sorted(p.name for p in (out / "report" / "figures").iterdir()) == sorted(
        f"{s}.{e}" for s in ("passive_subject01", "shares_vs_stiffness", "stance_subject01") for e in ("png", "svg"))
    assert not list(out.glob(".report*"))


def test_missing_results_is_a_one_line_error(tmp_path):
    with pytest.raises(SimpipeError, match="no results.h5"):
        write_report(tmp_path / "empty")


def test_stance_normalization_and_group_assignment():
    t = np.linspace(0.0, 1.0, 1001)
    curve = normalize_stance(t, 3.0 * t, Stance("r", 0.2, 0.6, True))
    assert curve.shape == PERCENT.shape
    assert curve[0] == pytest.approx(0.6) and curve[-1] == pytest.approx(1.8) and curve[50] == pytest.approx(1.2)
    groups = {"glute": ["glut_max_*"], "rectus_femoris": ["rect_fem_*"], "quadriceps": ["rect_fem_*", "vasti_*"]}
    got = assign_groups(["glut_max_r", "rect_fem_r", "vasti_l", "gravity"], groups)
    assert got == {"glute": [0], "rectus_femoris": [1], "quadriceps": [2], "gravity": [3]}


# ---------------------------------------------------------------- a real study


def _need_example():
    missing = [p for p in (EXAMPLE / "run_01.trc", EXAMPLE / "run_02_grf.mot", MODEL) if not p.is_file()]
    if missing:
        pytest.skip(f"example data not built yet: {', '.join(str(p) for p in missing)}")


def _short_grf(src: Path, dst: Path, keep: float = 0.3) -> Path:
    """A copy of a GRF .mot that covers only the first part of the trial (its ID task fails)."""
    lines = src.read_text().splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.strip().lower() == "endheader")
    body = lines[end + 2:]
    kept = body[:max(3, int(len(body) * keep))]
    header = [f"{ln.split('=')[0]}={len(kept)}" if ln.lower().startswith("nrows=") else
              f"datarows {len(kept)}" if ln.lower().startswith("datarows") else ln for ln in lines[:end + 2]]
    dst.write_text("\n".join(header + kept) + "\n")
    return dst


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The quickstart with 2 stiffness values on the first 0.5 s of each trial (one complete stance);
    run_02's GRF file is cut short, so its ID fails."""
    _need_example()
    from simpipe.run.study import run_study

    tmp = tmp_path_factory.mktemp("real")
    cfg = quickstart_config()
    for subj in cfg["subjects"]:
        for t in subj["trials"]:
            t["time_range"] = [0.0, 0.5]
        subj["trials"][-1]["grf"] = str(_short_grf(EXAMPLE / "run_02_grf.mot", tmp / "run_02_short_grf.mot"))
    cfg["sweep"]["values"] = [0.6, 0.3]
    cfg["output"] = str(tmp / "out")
    cfg["cluster"] = {"kind": "local", "n_workers": 1}  # one worker process: cheapest to start
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = run_study(path)
    assert res.outcome.failed, "the cut GRF file should make run_02's ID fail"
    write_report(res.results_path.parent)
    return res.results_path.parent, read_page(res.results_path.parent)


def test_real_study_report_numbers_and_figures(real):
    out, page = real
    check_figures(out, page)
    check_summary_numbers(out, page)
    check_share_stats(out, page)
    check_quality(out, page)
    check_provenance(out, page)
    check_rounding(page)
    assert {Path(r).stem for r in page.files} >= {"shares_vs_stiffness", "stance_subject01", "passive_subject01"}


def test_real_study_failure_is_named(real):
    out, page = real
    check_failures(out, page)
    assert any(r["task"][0].startswith("id:") and "run_02" in r["task"][0] for r in page.tables["failures-table"])


def test_real_study_report_opens_in_headless_chromium(real, tmp_path):
    out, _ = real
    check_in_chromium(out, tmp_path)
