"""Summary rows: one per (subject, trial, variant, method)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..analysis.kinematics import KINEMATIC_FEATURES, kinematic_features, kinematic_spec
from ..analysis.phases import Stance
from ..analysis.quality import Thresholds, summary_columns
from .plan import Plan

#: Columns of summary.csv, in order.
COLUMNS = ["subject", "trial", "variant", "rf_stiffness", "sweep_property", "sweep_value", "method",
           "glute_share", "plantarflexor_share", "knee_share", "hip_work_j", "knee_work_j",
           "ankle_work_j", "n_stances", "rf_passive_peak_n", *KINEMATIC_FEATURES, "marker_rms_mm", "marker_max_mm",
           "residual_force_rms_n", "residual_force_peak_n", "residual_moment_rms_nm", "residual_moment_peak_nm",
           "qc_markers", "qc_residuals", "qc_failed",
           "braking_quadriceps_share", "superposition_error", "superposition_no_slip_error",
           "muscle_propulsive_ns", "grf_propulsive_ns",
           "solver_success", "solver_iterations", "reserve_peak_fraction"]


def _find(plan: Plan, values: dict, stage: str, **where):
    for task in plan.by_stage(stage):
        if all(task.where.get(k) == v for k, v in where.items()) and task.key in values:
            return values[task.key]
    return None


def _nan_row(**fixed) -> dict:
    row = {c: math.nan for c in COLUMNS}
    row.update(fixed)
    return row


def summary_rows(plan: Plan, values: dict, subjects: dict[str, list[str]], qc=None,
                 joints: dict | None = None) -> list[dict]:
    """Build the summary table from finished task outputs.

    Parameters
    ----------
    plan : Plan
    values : dict
        Task key -> output.
    subjects : dict
        Subject id -> trial ids, in config order.
    qc : QCSpec, optional
        Quality thresholds (Hicks et al. 2015 defaults); see :mod:`simpipe.analysis.quality`.
    joints : dict, optional
        The config's ``joints`` block, for the stance kinematics
        (:mod:`simpipe.analysis.kinematics`); the built-in model's by default.

    Returns
    -------
    list of dict
        Missing results (failed tasks) appear as NaN, never as invented values.
    """
    rows = []
    thresholds = Thresholds.from_config(qc)
    for subj, trials in subjects.items():
        for trial in trials:
            ik = _find(plan, values, "ik", subject=subj, trial=trial)
            quality = summary_columns(ik, _find(plan, values, "id", subject=subj, trial=trial), thresholds)
            jw = _find(plan, values, "joint_work", subject=subj, trial=trial)
            quality.update(_kinematics(ik, jw, joints))
            for v in plan.variants_of(subj, trial):
                passive = _find(plan, values, "passive", subject=subj, trial=trial, variant=v.name)
                row = _nan_row(subject=subj, trial=trial, variant=v.name, rf_stiffness=v.rf_stiffness,
                               sweep_property=v.property, sweep_value=v.value, method="joint_work")
                row.update(quality)
                if jw is not None:
                    work = dict(zip(jw["joints"], jw["work_j"]))
                    row.update(glute_share=jw["shares"].get("hip", math.nan),
                               plantarflexor_share=jw["shares"].get("ankle", math.nan),
                               knee_share=jw["shares"].get("knee", math.nan),
                               hip_work_j=float(work.get("hip", math.nan)),
                               knee_work_j=float(work.get("knee", math.nan)),
                               ankle_work_j=float(work.get("ankle", math.nan)),
                               n_stances=int(jw["n_stances"]))
                if passive is not None:
                    row["rf_passive_peak_n"] = float(passive["peak_n"].max())
                rows.append(row)
                iaa = _find(plan, values, "iaa", subject=subj, trial=trial, variant=v.name)
                if any(t.stage == "iaa" for t in plan.tasks):
                    muscles = _find(plan, values, "muscles", subject=subj, trial=trial, variant=v.name)
                    rows.append(_iaa_row(row, iaa, muscles, plan.sweep_muscles))
    return rows


def _kinematics(ik: dict | None, jw: dict | None, joints: dict | None) -> dict[str, float]:
    """Stance kinematic features of one trial (NaN without IK or stances)."""
    if ik is None or jw is None or "stances" not in jw:
        return dict.fromkeys(KINEMATIC_FEATURES, math.nan)
    stances = [Stance(str(side), float(a), float(b), bool(c)) for side, a, b, c in jw["stances"]]
    return kinematic_features(ik["time"], list(ik["coordinates"]), ik["q"], stances, kinematic_spec(joints))


def _iaa_row(joint_row: dict, iaa: dict | None, muscles: dict | None, swept: list[str]) -> dict:
    """The ``muscle_iaa`` row of one trial x variant (NaN where a task failed)."""
    row = {c: joint_row[c] for c in COLUMNS[:7]}
    row = _nan_row(**row)
    row.update({c: joint_row[c] for c in COLUMNS if c.startswith(("marker_", "residual_", "qc_"))
                or c in KINEMATIC_FEATURES})
    row["method"] = "muscle_iaa"
    if muscles is not None:
        names = list(muscles["muscles"])
        cols = [names.index(m) for m in swept if m in names]
        if cols:
            row["rf_passive_peak_n"] = float(muscles["passive_fiber_force"][:, cols].max())
        row["solver_success"] = bool(muscles["success"])
        row["solver_iterations"] = int(muscles["iterations"])
        fractions = muscles.get("reserve_fractions") or {}
        row["reserve_peak_fraction"] = max(fractions.values()) if fractions else math.nan
    if iaa is not None:
        row.update(glute_share=iaa["shares"].get("glute", math.nan),
                   plantarflexor_share=iaa["shares"].get("plantarflexors", math.nan),
                   braking_quadriceps_share=iaa["braking_shares"].get("quadriceps", math.nan),
                   superposition_error=float(iaa["superposition"]["relative_rms"]),
                   superposition_no_slip_error=float(iaa["superposition"].get("no_slip_relative_rms",
                                                                                math.nan)),
                   muscle_propulsive_ns=float(iaa["muscle_propulsive_ns"]),
                   grf_propulsive_ns=float(iaa["grf_propulsive_ns"]), n_stances=int(iaa["n_stances"]))
    return row


def write_csv(rows: list[dict], path: str | Path, columns: list[str] | None = None) -> Path:
    """Write the rows with a fixed column order (:data:`COLUMNS` by default), replaced atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS if columns is None else columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    tmp.replace(path)
    return path


def format_table(rows: list[dict]) -> str:
    """A plain-text table of the key columns, for the terminal."""
    cols = ["subject", "trial", "variant", "rf_stiffness", "method", "glute_share",
            "plantarflexor_share", "rf_passive_peak_n", "marker_rms_mm"]
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)
    cells = [[fmt(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) if cells else len(c) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    body = ["  ".join(x.ljust(w) for x, w in zip(r, widths)) for r in cells]
    return "\n".join([line, "-" * len(line), *body])
