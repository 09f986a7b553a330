"""Optional sections: drawn only when their data are in results.h5.

Each optional result has one reader (the HDF5 layout it expects, below), one
figure and one section builder. A stage that stores its output in another
layout needs only its reader changed.

Layouts (datasets unless marked attr; names are string datasets)::

    induced accelerations, per trial and variant (first of IAA_GROUPS found):
    /subjects/<s>/trials/<t>/variants/<v>/iaa
        time (n,) s;  forces (k,) names of the contributors (muscles, and
        e.g. gravity, velocity);  fore_aft (n, k) m/s^2 contribution of each
        to the fore-aft acceleration of the body mass centre;
        measured_fore_aft (n,) m/s^2, from the measured GRF / body mass
        (optional: the superposition check needs it)

    athlete vs baseline family, per athlete trial:
    /compare/<subject>/<trial>
        percent_stance (m,);  coordinates (k,);  athlete_deg (m, k);
        baseline_stiffness (B,);  baseline_deg (B, m, k);
        attrs rf_stiffness_estimate, rf_stiffness_sd, inside (bool)

    Thomas test of the baseline family:
    /baselines/thomas
        rf_stiffness (B,);  angle_knee_flexed_deg (B,);  angle_knee_extended_deg (B,)
        (hip extension angle at the clinical threshold, knee at 90 deg / straight);
        optional curves: hip_angle_deg (h,), rf_force_knee_flexed_n (B, h),
        rf_force_knee_extended_n (B, h);  attr threshold (text, with its source)

Muscle-level shares need nothing here: ``muscle_iaa`` rows of the summary get
their own panel in the shares figure.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import h5py
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

from .curves import PERCENT, normalize_stance
from .data import StudyData, TrialData, read_strings
from .figures import CATEGORY_COLOURS, MAX_PANELS, OKABE_ITO, panel_grid, stiffness_axis, stiffness_cmap, \
    stiffness_norm
from .html import FigureSink, Section, safe_name
from .tables import Column, Table, table_html

log = logging.getLogger(__name__)

#: Names of a variant's induced-acceleration group, in order of preference.
IAA_GROUPS = ("iaa", "induced_acceleration", "induced")
#: Superposition tolerance: RMS of (sum of contributions - measured) over stance, % of the measured peak.
SUPERPOSITION_TOL_PCT = 5.0


@dataclass
class Induced:
    """Fore-aft mass-centre acceleration contributions of one trial x variant (m/s^2)."""

    time: np.ndarray
    forces: list[str]
    fore_aft: np.ndarray
    measured: np.ndarray | None


def read_induced(data: StudyData, trial: TrialData, variant: str) -> Induced | None:
    """The induced-acceleration group of one trial x variant, or None."""
    vt = trial.variants.get(variant)
    if vt is None or not vt.group:
        return None
    group = data.h5[vt.group]
    for name in IAA_GROUPS:
        g = group.get(name)
        if g is not None and all(k in g for k in ("time", "sources", "com_acc")):
            # simpipe's iaa stage: com_acc (n, sources, [fore-aft, vertical])
            time = g["time"][()]
            measured = g.get("superposition/measured")
            measured = measured[()] if measured is not None else None
            if measured is not None:
                measured = measured[:, 0] if measured.ndim == 2 and len(measured) == len(time) else None
            return Induced(time, read_strings(g["sources"]), g["com_acc"][()][:, :, 0], measured)
        if g is not None and all(k in g for k in ("time", "forces", "fore_aft")):
            measured = g["measured_fore_aft"][()] if "measured_fore_aft" in g else None
            return Induced(g["time"][()], read_strings(g["forces"]), np.atleast_2d(g["fore_aft"][()]), measured)
    return None


def assign_groups(names: list[str], groups: dict[str, list[str]]) -> dict[str, list[int]]:
    """Contributors by muscle group: each name joins the first group whose patterns match it.

    Parameters
    ----------
    names : list of str
        Contributors (muscles, gravity, ...).
    groups : dict
        Group -> glob patterns, in priority order (the config's ``muscle_groups``).

    Returns
    -------
    dict
        Group (or the contributor's own name when no group matches) -> column indices.
    """
    out: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        group = next((g for g, pats in groups.items() if any(fnmatchcase(name, p) for p in pats)), name)
        out.setdefault(group, []).append(i)
    return out


def _stance_mean(time, values, stances) -> np.ndarray | None:
    used = [s for s in stances if s.complete and s.start >= time[0] and s.end <= time[-1]]
    if not used:
        return None
    return np.mean([normalize_stance(time, values, s) for s in used], axis=0)


def superposition_error(ind: Induced, stances) -> float:
    """RMS of (sum of all contributions - measured) over complete stances, % of the measured peak."""
    if ind.measured is None:
        return math.nan
    mask = np.zeros(ind.time.shape, bool)
    for s in stances:
        if s.complete:
            mask |= (ind.time >= s.start) & (ind.time <= s.end)
    if not mask.any():
        return math.nan
    err = ind.fore_aft.sum(axis=1)[mask] - ind.measured[mask]
    peak = np.max(np.abs(ind.measured[mask]))
    return float(np.sqrt(np.mean(err ** 2)) / peak * 100) if peak > 0 else math.nan


def _group_curves(ind: Induced, stances, groups: dict) -> dict[str, np.ndarray]:
    curves = {}
    for group, idx in assign_groups(ind.forces, groups).items():
        c = _stance_mean(ind.time, ind.fore_aft[:, idx].sum(axis=1), stances)
        if c is not None:
            curves[group] = c
    total = _stance_mean(ind.time, ind.fore_aft.sum(axis=1), stances)
    if total is not None:
        curves["sum of all"] = total
    if ind.measured is not None and (m := _stance_mean(ind.time, ind.measured, stances)) is not None:
        curves["measured (GRF/m − g)"] = m
    return curves


def induced_figure(panels: list[tuple[str, dict[str, np.ndarray]]], title: str) -> Figure:
    """Fore-aft acceleration contributions per group over stance, one panel per variant."""
    fig, axes = panel_grid(len(panels), 2, row_height=2.8)
    colours: dict[str, str] = {}
    for ax, (label, curves) in zip(axes, panels):
        for name, curve in curves.items():
            if name == "sum of all":
                ax.plot(PERCENT, curve, color=OKABE_ITO["black"], ls="--", lw=1.4, label=name)
            elif name.startswith("measured"):
                ax.plot(PERCENT, curve, color="0.55", lw=3, alpha=0.7, label=name, zorder=0)
            else:
                colour = colours.setdefault(name, CATEGORY_COLOURS[len(colours) % len(CATEGORY_COLOURS)])
                ax.plot(PERCENT, curve, color=colour, label=name)
        ax.axhline(0, color="0.4", lw=0.6)
        ax.set(title=label, xlabel="% stance", ylabel="fore-aft COM acceleration (m/s²)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, frameon=False)
    fig.suptitle(title)
    return fig


def induced_section(data: StudyData, sink: FigureSink) -> Section | None:
    """Induced fore-aft accelerations per muscle group, with the superposition check."""
    groups = data.study.groups if data.study is not None else {}
    xs, _ = stiffness_axis(data.variants)
    body, checks = "", []
    for subject, trials in data.by_subject().items():
        panels = []
        for trial in trials:
            for vname in data.variants:
                ind = read_induced(data, trial, vname)
                if ind is None:
                    continue
                checks.append({"subject": subject, "trial": trial.trial, "variant": vname,
                               "rf_stiffness": xs.get(vname, math.nan),
                               "error_pct": superposition_error(ind, trial.stances)})
                if trial is trials[0] and len(panels) < 6:
                    panels.append((f"{trial.trial}, {vname} ({xs.get(vname, math.nan):g}×)",
                                   _group_curves(ind, trial.stances, groups)))
        panels = [p for p in panels if p[1]]
        if panels:
            caption = (f"{subject}, {trials[0].trial}: contributions to the fore-aft acceleration of the body "
                       "mass centre per muscle group (each muscle in the first matching group of the config), "
                       "mean over complete stances; dashed: sum of all contributions; grey: measured.")
            body += sink.add(induced_figure(panels, subject), f"induced_{safe_name(subject)}", caption)
    if not checks:
        return None
    for c in checks:
        c["check"] = ("n/a" if math.isnan(c["error_pct"]) else
                      "pass" if c["error_pct"] < SUPERPOSITION_TOL_PCT else "flag: sum ≠ measured")
    cols = [Column("subject", "subject"), Column("trial", "trial"), Column("variant", "variant"),
            Column("rf_stiffness", "RF stiffness (× default)", 2),
            Column("error_pct", "RMS(sum − measured), % of peak", 2),
            Column("check", f"superposition (< {SUPERPOSITION_TOL_PCT:g} %)")]
    body += table_html(Table("superposition-table", cols, checks, caption="Superposition check",
                             status_keys=("check",)))
    return Section("induced", "Induced fore-aft accelerations", body)


def _compare_root(data: StudyData):
    """``/compare`` of results.h5, else of ``<out>/compare/compare.h5`` (what ``simpipe compare`` writes)."""
    root = data.h5.get("compare")
    if root is not None:
        return root
    path = Path(data.h5.filename).parent / "compare" / "compare.h5"
    if not path.is_file():
        return None
    extra = h5py.File(path, "r")
    data.extra_files.append(extra)  # closed with the study data
    return extra.get("compare")


def _compare_groups(data: StudyData):
    root = _compare_root(data)
    if root is None:
        return []
    need = ("percent_stance", "coordinates", "athlete_deg", "baseline_stiffness", "baseline_deg")
    return [(s, t, g) for s, sg in root.items() for t, g in sg.items() if all(k in g for k in need)]


def compare_figure(group, title: str) -> Figure:
    """An athlete's curves (black) over the baseline family (coloured by stiffness)."""
    coords = read_strings(group["coordinates"])
    pct, athlete = group["percent_stance"][()], group["athlete_deg"][()]
    stiff, base = group["baseline_stiffness"][()], group["baseline_deg"][()]
    norm, cmap = stiffness_norm(stiff), stiffness_cmap()
    fig, axes = panel_grid(len(coords), 2, row_height=2.4)
    for i, (ax, coord) in enumerate(zip(axes, coords)):
        for b, k in enumerate(stiff):
            ax.plot(pct, base[b, :, i], color=cmap(norm(k)), lw=1.2)
        ax.plot(pct, athlete[:, i], color=OKABE_ITO["black"], lw=2.6, label="athlete")
        ax.set(title=coord, xlabel="% stance", ylabel=f"{coord} (deg)")
    axes[0].legend(frameon=False)
    fig.colorbar(ScalarMappable(norm, cmap), ax=axes, label="baseline RF stiffness (× default)", shrink=0.8)
    fig.suptitle(title)
    return fig


def compare_section(data: StudyData, sink: FigureSink) -> Section | None:
    """Athlete trials over the simulated baseline family and their place on the stiffness axis."""
    found = _compare_groups(data)
    if not found:
        return None
    body, rows = "", []
    for i, (subject, trial, g) in enumerate(found):
        est, sd = float(g.attrs.get("rf_stiffness_estimate", math.nan)), float(g.attrs.get("rf_stiffness_sd", math.nan))
        inside = bool(g.attrs.get("inside", True))
        rows.append({"subject": subject, "trial": trial, "estimate": est, "sd": sd,
                     "place": "inside the family" if inside else "outside the family"})
        if i < MAX_PANELS:
            where = f"estimated RF stiffness {est:.2f} ± {sd:.2f}×" if inside else "outside the baseline family"
            body += sink.add(compare_figure(g, f"{subject}/{trial}"), f"compare_{safe_name(subject)}_{safe_name(trial)}",
                             f"{subject}/{trial} (black) over the simulated baselines (colour: RF stiffness); {where}.")
    cols = [Column("subject", "subject"), Column("trial", "trial"),
            Column("estimate", "RF stiffness estimate (× default)", 2), Column("sd", "± (trial spread)", 2),
            Column("place", "place")]
    body += table_html(Table("compare-table", cols, rows, caption="Athletes on the stiffness axis"))
    return Section("compare", "Athletes against the simulated baselines", body)


def thomas_figure(g) -> Figure:
    """Thomas-test angle against stiffness, and RF force against hip angle when stored."""
    stiff = g["rf_stiffness"][()]
    curves = all(k in g for k in ("hip_angle_deg", "rf_force_knee_flexed_n", "rf_force_knee_extended_n"))
    fig, axes = panel_grid(3 if curves else 1, 3 if curves else 1, row_height=2.8, sharex=False)
    ax = axes[0]
    for key, label, colour, ls in (("angle_knee_flexed_deg", "knee 90°", OKABE_ITO["vermillion"], "-"),
                                   ("angle_knee_extended_deg", "knee straight", OKABE_ITO["blue"], "--")):
        ax.plot(stiff, g[key][()], marker="o", color=colour, ls=ls, label=label)
    ax.set(xlabel="RF passive stiffness (× default)", ylabel="Thomas-test hip angle (deg)")
    ax.legend(frameon=False)
    if curves:
        norm, cmap = stiffness_norm(stiff), stiffness_cmap()
        hip = g["hip_angle_deg"][()]
        for ax, key, title in ((axes[1], "rf_force_knee_flexed_n", "knee 90°"),
                               (axes[2], "rf_force_knee_extended_n", "knee straight")):
            for b, k in enumerate(stiff):
                ax.plot(hip, g[key][()][b], color=cmap(norm(k)))
            ax.set(title=title, xlabel="hip angle (deg)", ylabel="RF passive force (N)")
        fig.colorbar(ScalarMappable(norm, cmap), ax=axes[1:], label="RF stiffness (× default)", shrink=0.8)
    return fig


def thomas_section(data: StudyData, sink: FigureSink) -> Section | None:
    """The modified Thomas test of each baseline stiffness."""
    g = data.h5.get("baselines/thomas")
    if g is None or not all(k in g for k in ("rf_stiffness", "angle_knee_flexed_deg", "angle_knee_extended_deg")):
        return None
    threshold = g.attrs.get("threshold", "")
    threshold = threshold.decode() if isinstance(threshold, bytes) else str(threshold)
    caption = ("Modified Thomas test: hip angle at which the passive hip flexion moment reaches the clinical "
               f"threshold{f' ({threshold})' if threshold else ''}, knee at 90° and straight, per RF stiffness.")
    body = sink.add(thomas_figure(g), "thomas_test", caption)
    rows = [{"rf_stiffness": float(k), "knee_flexed": float(a), "knee_extended": float(b)}
            for k, a, b in zip(g["rf_stiffness"][()], g["angle_knee_flexed_deg"][()], g["angle_knee_extended_deg"][()])]
    cols = [Column("rf_stiffness", "RF stiffness (× default)", 2), Column("knee_flexed", "hip angle, knee 90° (deg)", 1),
            Column("knee_extended", "hip angle, knee straight (deg)", 1)]
    body += table_html(Table("thomas-table", cols, rows, caption="Thomas-test angles"))
    return Section("thomas", "Thomas test", body)


#: Optional section builders, by where they go on the page.
OPTIONAL_SECTIONS = {"results": [induced_section], "baselines": [compare_section, thomas_section]}
