"""Tables of the report: what they hold, and their HTML.

Every numeric cell carries its exact value in a ``data-value`` attribute
(Python ``repr`` of the float, so it round-trips) next to the rounded text a
reader sees; tests compare those values with ``summary.csv`` and
``results.h5``.

Quality thresholds are those of the OpenSim best-practice paper: Hicks,
Uchida, Seth, Rajagopal & Delp (2015), Is my model good enough? J Biomech
Eng 137:020905 (see ``shared/FACTS.md``).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np

from ..analysis import quality as Q
from .data import StudyData, TrialData

#: Static-trial (scaling) RMS marker error limit (mm) (Hicks et al. 2015).
STATIC_RMS_MM = 10.0
#: Longest per-row table shown in full (the CSV holds everything).
MAX_ROWS = 400


@dataclass
class Column:
    """A table column.

    Attributes
    ----------
    key : str
        Field of the row dicts; also the cell's ``data-col``.
    title : str
        Header text, with the unit.
    digits : int
        Decimals shown for floats.
    """

    key: str
    title: str
    digits: int = 3


@dataclass
class Table:
    """Rows of dicts with a column layout; rendered by :func:`table_html`."""

    id: str
    columns: list[Column]
    rows: list[dict]
    caption: str = ""
    note: str = ""
    status_keys: tuple = field(default_factory=tuple)


def _cell(value, col: Column, is_status: bool) -> str:
    key = html.escape(col.key)
    if isinstance(value, (float, np.floating)) or (isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
        v = float(value)
        text = "–" if math.isnan(v) else _number(v, col.digits)
        return f'<td class="num" data-col="{key}" data-value="{v!r}">{text}</td>'
    text = html.escape(str(value))
    cls = f' class="status {_status_class(str(value))}"' if is_status else ""
    return f'<td data-col="{key}"{cls}>{text}</td>'


def _number(v: float, digits: int) -> str:
    """``digits`` decimals, or two significant digits for small non-zero values that would read as 0."""
    if v != 0 and abs(v) < 0.5 * 10.0 ** -digits:
        return f"{v:.2g}" if abs(v) >= 1e-4 else f"{v:.1e}"
    return f"{v:.{digits}f}"


def _status_class(text: str) -> str:
    return "pass" if text.startswith("pass") else "flag" if text.startswith("flag") else "na"


def table_html(table: Table) -> str:
    """The table as an HTML ``<table>`` (plus its note, if any).

    Parameters
    ----------
    table : Table

    Returns
    -------
    str
    """
    head = "".join(f'<th data-col="{html.escape(c.key)}">{html.escape(c.title)}</th>' for c in table.columns)
    body = "\n".join("<tr>" + "".join(_cell(r.get(c.key, ""), c, c.key in table.status_keys)
                                      for c in table.columns) + "</tr>" for r in table.rows)
    cap = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return (f'<div class="table-wrap"><table id="{html.escape(table.id)}" class="data">{cap}'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>{note}")


def mean_sd(values) -> tuple[float, float, int]:
    """Mean, sample SD (ddof=1; NaN for one value) and count of the finite values."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return math.nan, math.nan, 0
    sd = float(np.std(arr, ddof=1)) if arr.size > 1 else math.nan
    return float(np.mean(arr)), sd, int(arr.size)


def share_stats(data: StudyData) -> list[dict]:
    """Mean +- SD across trials per (subject, method, variant).

    Returns
    -------
    list of dict
        ``subject, method, variant, rf_stiffness, n_trials, glute_mean,
        glute_sd, plantarflexor_mean, plantarflexor_sd, rf_passive_peak_mean``;
        statistics over the finite values only (failed trials are NaN in
        the summary and are left out, and ``n_trials`` says how many remain).
    """
    groups: dict[tuple, list[dict]] = {}
    for r in data.summary:
        groups.setdefault((r["subject"], r["method"], r["variant"]), []).append(r)
    out = []
    for (subject, method, variant), rows in groups.items():
        g_mean, g_sd, n = mean_sd(r["glute_share"] for r in rows)
        p_mean, p_sd, _ = mean_sd(r["plantarflexor_share"] for r in rows)
        peak, _, _ = mean_sd(r.get("rf_passive_peak_n") for r in rows)
        out.append({"subject": subject, "method": method, "variant": variant,
                    "rf_stiffness": float(rows[0]["rf_stiffness"]), "n_trials": n,
                    "glute_mean": g_mean, "glute_sd": g_sd, "plantarflexor_mean": p_mean,
                    "plantarflexor_sd": p_sd, "rf_passive_peak_mean": peak})
    return out


def shares_table(data: StudyData) -> Table:
    """Propulsion shares per subject, method and stiffness (mean +- SD across trials)."""
    cols = [Column("subject", "subject"), Column("method", "method"), Column("variant", "variant"),
            Column("rf_stiffness", "RF stiffness (× default)", 2), Column("n_trials", "trials", 0),
            Column("glute_mean", "glute share, mean"), Column("glute_sd", "glute share, SD"),
            Column("plantarflexor_mean", "plantar-flexor share, mean"),
            Column("plantarflexor_sd", "plantar-flexor share, SD"),
            Column("rf_passive_peak_mean", "RF passive peak (N), mean", 1)]
    return Table("shares-table", cols, share_stats(data),
                 caption="Propulsion shares across trials (SD over trials; – where undefined)")


#: Summary columns shown per row, with their headers and decimals.
SUMMARY_COLUMNS = [Column("subject", "subject"), Column("trial", "trial"), Column("variant", "variant"),
                   Column("rf_stiffness", "RF stiffness (× default)", 2),
                   Column("sweep_value", "sweep value", 3), Column("method", "method"),
                   Column("glute_share", "glute share"), Column("plantarflexor_share", "plantar-flexor share"),
                   Column("knee_share", "knee share"), Column("hip_work_j", "hip work (J)", 2),
                   Column("knee_work_j", "knee work (J)", 2), Column("ankle_work_j", "ankle work (J)", 2),
                   Column("n_stances", "stances", 0), Column("rf_passive_peak_n", "RF passive peak (N)", 1),
                   Column("marker_rms_mm", "marker RMS (mm)", 2), Column("marker_max_mm", "marker max (mm)", 2),
                   Column("reserve_peak_fraction", "largest reserve / peak moment", 2)]


def summary_table(data: StudyData) -> Table:
    """The rows of summary.csv (the first :data:`MAX_ROWS`)."""
    rows = data.summary[:MAX_ROWS]
    note = (f"First {MAX_ROWS} of {len(data.summary)} rows; summary.csv holds them all."
            if len(data.summary) > MAX_ROWS else "")
    cols = [c for c in SUMMARY_COLUMNS if not data.summary or c.key in data.summary[0]]
    return Table("summary-table", cols, rows, caption="summary.csv: one row per (subject, trial, variant, method)",
                 note=note)


def thresholds(data: StudyData) -> Q.Thresholds:
    """The study's quality limits: its config's ``qc`` block, else Hicks et al. (2015)."""
    qc = getattr(data.study, "qc", None) if data.study is not None else None
    return Q.Thresholds.from_config(qc)


def trial_metrics(data: StudyData, trial: TrialData, limits: Q.Thresholds) -> dict[str, float]:
    """Marker and residual metrics of one trial, as summary.csv holds them.

    The summary's quality columns (written by :mod:`simpipe.analysis.quality`
    during the run, from the model's own root joint) are used where they hold
    a number; the others (results of older runs) are measured here from the
    stored IK and ID with the same code.
    """
    keys = Q.MARKER_CHECKS + Q.RESIDUAL_CHECKS
    err = None if trial.marker_error is None else trial.marker_error.values
    metrics = Q.marker_metrics(err)
    id_result = None
    if trial.kinetics is not None:
        tau = trial.kinetics.tau
        id_result = {"time": tau.time, "coordinates": list(tau.names), "tau": tau.values}
    metrics.update(Q.residual_metrics(id_result, limits.edge_s))
    row = next((r for r in data.summary if (r["subject"], r["trial"]) == (trial.subject, trial.trial)), {})
    for k in keys:
        value = row.get(k)
        if value is not None and not math.isnan(float(value)):
            metrics[k] = float(value)
    return metrics


def _flag(ok: bool | None, why: str) -> str:
    if ok is None:
        return "n/a"
    return "pass" if ok else f"flag: {why}"


def _verdict(checks: list[Q.Check], names: tuple[str, ...]) -> str:
    state = Q.verdict(checks, names)
    failed = [c.describe() for c in checks if c.name in names and c.passed is False]
    return f"flag: {'; '.join(failed)}" if state == "flag" else state


def quality_rows(data: StudyData) -> list[dict]:
    """Per trial: marker errors and root residuals with a pass/flag verdict each."""
    limits = thresholds(data)
    rows = []
    for trial in data.trials:
        m = trial_metrics(data, trial, limits)
        checks = Q.trial_checks(m, limits)
        rows.append({"subject": trial.subject, "trial": trial.trial,
                     "marker_rms_mm": m["marker_rms_mm"], "marker_max_mm": m["marker_max_mm"],
                     "markers": _verdict(checks, Q.MARKER_CHECKS),
                     "force_rms_n": m["residual_force_rms_n"], "force_peak_n": m["residual_force_peak_n"],
                     "moment_rms_nm": m["residual_moment_rms_nm"],
                     "moment_peak_nm": m["residual_moment_peak_nm"],
                     "residuals": _verdict(checks, Q.RESIDUAL_CHECKS)})
    return rows


def quality_table(data: StudyData) -> Table:
    """The quality table (see :func:`quality_rows`)."""
    t = thresholds(data)
    moment_rms = f", RMS < {t.residual_moment_rms_nm:g} N m" if t.residual_moment_rms_nm else ""
    cols = [Column("subject", "subject"), Column("trial", "trial"),
            Column("marker_rms_mm", "marker RMS (mm)", 1), Column("marker_max_mm", "marker max (mm)", 1),
            Column("markers", f"markers (RMS < {t.marker_rms_mm:g}, max < {t.marker_max_mm:g} mm)"),
            Column("force_rms_n", "residual force RMS (N)", 1),
            Column("force_peak_n", "residual force peak (N)", 1),
            Column("moment_rms_nm", "residual moment RMS (N m)", 1),
            Column("moment_peak_nm", "residual moment peak (N m)", 1),
            Column("residuals", f"residuals (force peak < {t.residual_force_peak_n:g} N, RMS < "
                                f"{t.residual_force_rms_n:g} N; moment peak < "
                                f"{t.residual_moment_peak_nm:g} N m{moment_rms})")]
    note = ("Marker errors: IK over the whole trial (RMS: mean over frames of the RMS over markers). "
            "Residuals: the ID generalized forces of the model's root joint (translations: forces, "
            "rotations: moments), largest over its axes, over the trial without its first and last "
            f"{t.edge_s:g} s (filter edge effects). Limits: the study's qc block; by default the upper "
            "bounds of Hicks et al. (2015), J Biomech Eng 137:020905 (residual force peak 10-25 N, "
            "RMS 5-15 N; the lower bounds suit smaller subjects). The same numbers are summary.csv's "
            "marker_* and residual_* columns.")
    return Table("quality-table", cols, quality_rows(data), caption="Quality per trial",
                 note=note, status_keys=("markers", "residuals"))


def static_fit_table(data: StudyData) -> Table | None:
    """Static-trial marker fit of each scaled model, against the 10 mm RMS limit."""
    if not data.static_fit:
        return None
    rows = [{"subject": s, "static_rms_mm": rms * 1000, "static_max_mm": mx * 1000,
             "static": _flag(rms * 1000 < STATIC_RMS_MM, f"RMS ≥ {STATIC_RMS_MM:g} mm")}
            for s, (rms, mx) in data.static_fit.items()]
    cols = [Column("subject", "subject"), Column("static_rms_mm", "static RMS (mm)", 2),
            Column("static_max_mm", "static max (mm)", 2), Column("static", f"static (RMS < {STATIC_RMS_MM:g} mm)")]
    return Table("static-table", cols, rows, caption="Scaling: static trial marker fit", status_keys=("static",))


def failures_table(data: StudyData) -> Table:
    """Failed (and skipped) tasks with their messages."""
    cols = [Column("task", "task"), Column("stage", "stage"), Column("error", "error")]
    return Table("failures-table", cols, data.failures, caption=f"{len(data.failures)} failed task(s)")


def timings_table(data: StudyData) -> Table | None:
    """Summed task time per stage (None when unknown)."""
    if not data.timings:
        return None
    rows = [{"stage": s, "seconds": float(v)} for s, v in data.timings.items()]
    rows.append({"stage": "all stages", "seconds": float(sum(data.timings.values()))})
    return Table("timings-table", [Column("stage", "stage"), Column("seconds", "task time (s)", 1)], rows,
                 caption="Task time per stage (summed over tasks, whenever computed)")


def inputs_table(data: StudyData) -> Table | None:
    """SHA-256 of every input file (None when not recorded)."""
    hashes = data.provenance.get("input_hashes")
    if not isinstance(hashes, dict) or not hashes:
        return None
    rows = [{"file": k, "sha256": v} for k, v in sorted(hashes.items())]
    return Table("inputs-table", [Column("file", "input file"), Column("sha256", "SHA-256")], rows,
                 caption="Input files")


#: Provenance attributes shown, in order, with their labels.
PROVENANCE_KEYS = [("config_hash", "config hash (SHA-256)"), ("simpipe_version", "simpipe version"),
                   ("opensim_version", "OpenSim version"), ("model_path", "model"),
                   ("config_path", "config file"), ("created_unix", "results written")]


def provenance_table(data: StudyData) -> Table:
    """Versions, hashes and paths from the root of results.h5."""
    import datetime

    rows = []
    for key, label in PROVENANCE_KEYS:
        if key not in data.provenance:
            continue
        value = data.provenance[key]
        if key == "created_unix":
            value = datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S UTC")
        rows.append({"key": key, "item": label, "value": str(value)})
    return Table("provenance-table", [Column("item", "item"), Column("value", "value")], rows,
                 caption="Provenance (root attributes of results.h5)")
