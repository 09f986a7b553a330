"""Sections of the report, each built by one function from the study's data.

A section builder takes ``(data, sink)`` (:class:`~simpipe.report.data.StudyData`,
:class:`~simpipe.report.html.FigureSink`) and returns a
:class:`~simpipe.report.html.Section`, or None when its data are absent, so
a new figure plugs in as one function plus one entry in :data:`SECTIONS`.
"""

from __future__ import annotations

import html
import logging
import math

import numpy as np

from .curves import all_curves
from .data import StudyData, TrialData
from .figures import CATEGORY_COLOURS, METHOD_LABELS, passive_figure, shares_figure, stance_figure, \
    stiffness_axis, stiffness_cmap, stiffness_norm
from .html import FigureSink, Section, paragraph, preformatted, safe_name
from .optional import OPTIONAL_SECTIONS
from .tables import failures_table, inputs_table, provenance_table, quality_table, share_stats, shares_table, \
    static_fit_table, summary_table, table_html, timings_table

log = logging.getLogger(__name__)


def failure_alert(data: StudyData) -> str:
    """The banner shown at the top of the page when tasks failed (empty otherwise)."""
    if not data.failures:
        return ""
    names = ", ".join(html.escape(f["task"]) for f in data.failures[:5])
    more = f" and {len(data.failures) - 5} more" if len(data.failures) > 5 else ""
    return (f'<div class="alert" id="failure-alert"><strong>{len(data.failures)} task(s) failed:</strong> '
            f'{names}{more}. Their results are missing (NaN) below; see <a href="#failures">Failed tasks</a>.'
            "</div>")


def failures_section(data: StudyData, sink: FigureSink) -> Section | None:
    """Failed tasks with their messages (first section when any failed)."""
    if not data.failures:
        return None
    text = ("Each failed task is listed with the error it raised; tasks that depend on it were skipped. "
            "Fix the cause and run the study again: finished tasks come from the cache.")
    return Section("failures", "Failed tasks", paragraph(text) + table_html(failures_table(data)))


def _is_flat(data: StudyData, method: str) -> bool:
    """True when every trial's shares are identical across variants."""
    by_trial: dict[tuple, list] = {}
    for r in data.summary:
        if r["method"] == method:
            by_trial.setdefault((r["subject"], r["trial"]), []).append((r["glute_share"], r["plantarflexor_share"]))
    spans = [np.ptp(np.array(v, dtype=float), axis=0) for v in by_trial.values() if len(v) > 1]
    spans = [s for s in spans if np.all(np.isfinite(s))]
    return bool(spans) and all(np.all(s <= 1e-9) for s in spans)


def _trend(stats: list[dict], method: str, xs: dict) -> str:
    rows = [r for r in stats if r["method"] == method and r["variant"] in xs]
    if not rows:
        return ""
    lo, hi = min(xs[r["variant"]] for r in rows), max(xs[r["variant"]] for r in rows)

    def at(x, kind):
        vals = [r[f"{kind}_mean"] for r in rows if xs[r["variant"]] == x and np.isfinite(r[f"{kind}_mean"])]
        return float(np.mean(vals)) if vals else math.nan

    if all(math.isnan(at(x, k)) for x in (lo, hi) for k in ("glute", "plantarflexor")):
        return f"{method}: no shares (every trial failed or had no complete stance)."
    return (f"{method}: glute share {at(lo, 'glute'):.3f} → {at(hi, 'glute'):.3f}, plantar-flexor share "
            f"{at(lo, 'plantarflexor'):.3f} → {at(hi, 'plantarflexor'):.3f} from stiffness {lo:g} to {hi:g} "
            "(mean over subjects and trials).")


def _shares_caption(data: StudyData, methods: list[str]) -> str:
    parts = ["Propulsion shares against RF passive stiffness: mean ± SD across trials per subject "
             "(error bars; none with one trial)."]
    for method in methods:
        if method == "joint_work" and _is_flat(data, method):
            parts.append("joint_work is flat by construction: with the kinematics held fixed (IK + ID), "
                         "joint moments and powers do not depend on muscle properties, so the joint-level "
                         "shares cannot change with RF stiffness. A stiffer RF acts through muscle forces "
                         "(muscle-level methods) or through a motion that adapts (simulated baselines).")
        elif method in METHOD_LABELS:
            parts.append(f"{method}: shares of {METHOD_LABELS[method][0]}.")
    return " ".join(parts)


def shares_section(data: StudyData, sink: FigureSink) -> Section | None:
    """Glute and plantar-flexor shares against stiffness, per method, with their table."""
    if not data.summary:
        return None
    methods = data.methods
    stats = share_stats(data)
    xs, _ = stiffness_axis(data.variants)
    fig = shares_figure(stats, methods, data.variants)
    body = "".join(paragraph(_trend(stats, m, xs)) for m in methods)
    body += sink.add(fig, "shares_vs_stiffness", _shares_caption(data, methods))
    body += table_html(shares_table(data))
    return Section("shares", "Propulsion shares against RF stiffness", body)


def _joints(data: StudyData) -> dict:
    if data.study is not None:
        return data.study.joints
    from ..config import Study

    return Study.model_fields["joints"].default_factory()


def _variant_lines(data: StudyData, trials: list[TrialData], joints: dict, mass) -> list[dict]:
    xs, _ = stiffness_axis(data.variants)
    norm, cmap = stiffness_norm(xs.values()), stiffness_cmap()
    lines = []
    for vname in data.variants:
        pairs = [(t.variants[vname].kinetics, t.variants[vname].stances or t.stances) for t in trials
                 if vname in t.variants and t.variants[vname].kinetics is not None]
        curves = all_curves(pairs, joints, mass) if pairs else {}
        if curves:
            lines.append({"label": f"{vname} ({xs[vname]:g})", "colour": cmap(norm(xs[vname])), "curves": curves})
    return lines


def _trial_lines(trials: list[TrialData], joints: dict, mass) -> list[dict]:
    lines = []
    for i, t in enumerate(trials):
        curves = all_curves([(t.kinetics, t.stances)], joints, mass) if t.kinetics is not None else {}
        if curves:
            lines.append({"label": f"{t.trial} ({curves['angle'].n_stances if 'angle' in curves else 0} stances)",
                          "colour": CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)],
                          "style": ["-", "--", ":", "-."][(i // len(CATEGORY_COLOURS)) % 4], "curves": curves})
    return lines


def stance_section(data: StudyData, sink: FigureSink) -> Section | None:
    """Joint angles, moments and powers over stance, per subject."""
    joints = _joints(data)
    body = ""
    for subject, trials in data.by_subject().items():
        mass = data.subject_mass(subject)
        per_variant = any(v.kinetics is not None for t in trials for v in t.variants.values())
        lines = _variant_lines(data, trials, joints, mass) if per_variant else _trial_lines(trials, joints, mass)
        if not lines:
            continue
        names = list(lines[0]["curves"]["angle"].joints) if "angle" in lines[0]["curves"] else list(joints)
        what = "one line per variant (colour: RF stiffness)" if per_variant else (
            "one line per trial (IK + ID do not depend on the variant: every variant shares them)")
        caption = (f"{subject}: joint angles (deg), net joint moments ({'N m/kg' if mass else 'N m'}) and "
                   f"joint powers (W) over stance, mean over complete stances (band: ± SD), {what}. "
                   "Signs follow the model's coordinates (" + ", ".join(
                       f"{j}: {getattr(joints[j], 'r')}/{getattr(joints[j], 'l')}" for j in names) + ").")
        body += sink.add(stance_figure(lines, names, subject), f"stance_{safe_name(subject)}", caption)
    if not body:
        return None
    return Section("stance", "Joint angles, moments and powers over stance", body)


def passive_section(data: StudyData, sink: FigureSink) -> Section | None:
    """RF passive force over each trial, one line per variant."""
    body = ""
    for subject, trials in data.by_subject().items():
        fig = passive_figure(trials, data.variants, subject)
        if fig is None:
            continue
        n = sum(1 for t in trials if any(v.passive is not None for v in t.variants.values()))
        shown = f" (first {min(n, 12)} of {n} trials)" if n > 12 else ""
        caption = (f"{subject}: passive fiber force of the swept muscles along each trial's measured motion"
                   f"{shown}, one line per variant coloured by RF stiffness; grey spans: stances.")
        body += sink.add(fig, f"passive_{safe_name(subject)}", caption)
    if not body:
        return None
    return Section("passive", "RF passive force", body)


def quality_section(data: StudyData, sink: FigureSink) -> Section | None:
    """Quality table (markers, residuals) and the static fit."""
    if not data.trials:
        return None
    body = table_html(quality_table(data))
    static = static_fit_table(data)
    if static is not None:
        body += table_html(static)
    return Section("quality", "Quality checks (Hicks et al. 2015)", body)


def summary_section(data: StudyData, sink: FigureSink) -> Section | None:
    """Every row of summary.csv, folded."""
    if not data.summary:
        return None
    return Section("summary", "All results (summary.csv)",
                   f"<details><summary>{len(data.summary)} rows</summary>{table_html(summary_table(data))}"
                   "</details>")


def provenance_section(data: StudyData, sink: FigureSink) -> Section:
    """Configuration, versions, hashes, timings and failures."""
    body = table_html(provenance_table(data))
    if not data.failures:
        body += paragraph("No task failed.", "ok")
    else:
        body += paragraph(f"{len(data.failures)} task(s) failed: see Failed tasks at the top.")
    for table in (timings_table(data), inputs_table(data)):
        if table is not None:
            body += table_html(table)
    if not data.timings:
        body += paragraph("Timings per stage: not recorded.")
    text = data.provenance.get("config_text")
    if text:
        body += "<h3>Configuration</h3>" + preformatted(str(text), "config-text")
    return Section("provenance", "Provenance", body)


#: Section builders in page order.
SECTIONS = [failures_section, shares_section, *OPTIONAL_SECTIONS["results"], stance_section, passive_section,
            *OPTIONAL_SECTIONS["baselines"], quality_section, summary_section, provenance_section]
