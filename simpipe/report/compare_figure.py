"""Figures of ``simpipe compare``: athletes against a simulated baseline family.

* :func:`feature_figure`: each feature against stiffness (the family's grid
  points coloured by stiffness, its piecewise-linear curve in grey) with each
  athlete trial at its estimated stiffness (horizontal bar: its interval),
  trials outside the family as arrows at the end they fall beyond, and the
  standardized distance of every trial along the stiffness axis;
* :func:`curves_figure`: the athlete's angles and moments over stance (mean
  +- SD over its complete stances) over the family's curves coloured by
  stiffness, when both outputs hold kinematics and moments in ``results.h5``.

Colours: stiffness on the report's sequential colour map (viridis without its
palest end), athletes in the Okabe & Ito (2008) palette, each with its own
marker, so the figures read in greyscale.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import h5py
import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..analysis.compare import JOINT_FEATURES, Comparison, joint_rows, load_output, row_stiffness
from ..analysis.kinematics import LUMBAR_EXTENSION, PELVIS_TILT, default_joints
from .curves import N_POINTS, PERCENT, normalize_stance
from .data import Kinetics, StudyData, load_study_data
from .html import safe_name
from .figures import CATEGORY_COLOURS, OKABE_ITO, STYLE, SUBJECT_MARKERS, panel_grid, save_figure, stiffness_cmap, \
    stiffness_norm

log = logging.getLogger(__name__)

#: Panel title and y-axis label of each feature.
FEATURE_LABELS = {"peak_hip_extension_deg": ("peak hip extension, late stance", "angle (deg)"),
                  "peak_anterior_pelvic_tilt_deg": ("peak anterior pelvic tilt", "angle (deg)"),
                  "peak_lumbar_extension_deg": ("peak lumbar extension", "angle (deg)"),
                  "glute_share": ("hip extensor (glute) share", "share of positive work (−)"),
                  "plantarflexor_share": ("plantar-flexor share", "share of positive work (−)"),
                  "knee_share": ("knee extensor share", "share of positive work (−)"),
                  **{f: (f"{f.split('_')[0]} positive extensor work", "work (J)") for f in JOINT_FEATURES
                     if f.endswith("_j")}}
#: Places drawn outside the family: marker and legend text.
OUTSIDE_MARKERS = {"below": ("<", "outside, below the family"), "above": (">", "outside, above the family"),
                   "off": ("X", "off the family (min distance too large)")}


# --------------------------------------------------------------------------- features against stiffness


def _subject_styles(cmp: Comparison) -> dict[str, tuple[str, str]]:
    subjects = list(dict.fromkeys(p.subject for p in cmp.placements))
    return {s: (CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)], SUBJECT_MARKERS[i % len(SUBJECT_MARKERS)])
            for i, s in enumerate(subjects)}


def _draw_trials(ax, cmp: Comparison, i: int, styles: dict) -> None:
    fam = cmp.family
    for p, x in zip(cmp.placements, cmp.trials.values):
        colour, marker = styles[p.subject]
        if p.inside:
            ax.errorbar(p.stiffness, x[i], xerr=[[p.stiffness - p.lo], [p.hi - p.stiffness]], fmt=marker,
                        color=colour, mfc="white", ms=6, capsize=3, lw=1.0, zorder=4)
        elif p.place in OUTSIDE_MARKERS:
            k = {"below": fam.stiffness[0], "above": fam.stiffness[-1]}.get(p.place, p.nearest_stiffness)
            ax.plot(k, x[i], marker=OUTSIDE_MARKERS[p.place][0], color=colour, ms=8, ls="none", zorder=4)
    for a in cmp.athletes:
        if np.isfinite(a.mean) and np.isfinite(a.sd):
            ax.axvspan(a.mean - a.sd, a.mean + a.sd, color=styles[a.subject][0], alpha=0.12, lw=0, zorder=0)


def _legend_handles(cmp: Comparison, styles: dict) -> list:
    cmap = stiffness_cmap()
    handles = [Line2D([], [], color="0.35", lw=1.2, label="baseline family (piecewise linear)"),
               Line2D([], [], marker="o", ls="none", mfc=cmap(0.5), mec="black", label="simulated baseline")]
    handles += [Line2D([], [], marker=m, color=c, mfc="white", label=f"{s}: trial at its estimate ± interval")
                for s, (c, m) in styles.items()]
    places = {p.place for p in cmp.placements}
    handles += [Line2D([], [], marker=m, color="0.3", ls="none", ms=8, label=text)
                for place, (m, text) in OUTSIDE_MARKERS.items() if place in places]
    if any(np.isfinite(a.sd) for a in cmp.athletes):
        handles.append(Patch(color="0.5", alpha=0.25, label="athlete mean ± SD over trials"))
    return handles


def feature_figure(cmp: Comparison) -> Figure:
    """Features against stiffness with every athlete trial placed; last panel the distances.

    Parameters
    ----------
    cmp : Comparison

    Returns
    -------
    Figure
    """
    fam, styles = cmp.family, _subject_styles(cmp)
    norm, cmap = stiffness_norm(fam.stiffness), stiffness_cmap()
    grid = fam.fine_grid(cmp.settings.get("n_fine", 1001))
    curve = fam.curve(grid)
    fig, axes = panel_grid(len(fam.features) + 1, 3, width=9.0, row_height=2.7)
    for i, (ax, feature) in enumerate(zip(axes, fam.features)):
        ax.plot(grid, curve[:, i], color="0.35", lw=1.2, zorder=1)
        ax.scatter(fam.stiffness, fam.values[:, i], c=fam.stiffness, cmap=cmap, norm=norm, s=36,
                   edgecolors="black", linewidths=0.6, zorder=3)
        _draw_trials(ax, cmp, i, styles)
        title, ylabel = FEATURE_LABELS.get(feature, (feature, feature))
        ax.set(title=title, xlabel=fam.axis_label, ylabel=ylabel)
    ax = axes[-1]
    for p in cmp.placements:
        ax.plot(p.grid, p.distance, color=styles[p.subject][0], lw=0.9)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set(xlabel=fam.axis_label, ylabel="D² (−)",
           title=f"distance (interval: D² ≤ min + {cmp.settings.get('delta', 1):g})")
    fig.colorbar(ScalarMappable(norm, cmap), ax=axes, label=f"baseline: {fam.axis_label}", shrink=0.8)
    fig.legend(handles=_legend_handles(cmp, styles), loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle("Athlete trials on the stiffness axis of the baseline family")
    return fig


# --------------------------------------------------------------------------- curves over stance


@dataclass(frozen=True)
class StanceQuantity:
    """A quantity drawn over stance.

    Attributes
    ----------
    label : str
    coordinates : tuple of str
        Coordinate in a right and in a left stance.
    kind : str
        ``angle`` (deg, OpenSim sign) or ``moment`` (generalized force).
    """

    label: str
    coordinates: tuple[str, str]
    kind: str


def stance_quantities(joints: dict | None = None) -> list[StanceQuantity]:
    """Hip, pelvis tilt, lumbar and ankle angles; hip and ankle moments (stance side)."""
    j = joints or default_joints()
    hip = j.get("hip") or default_joints()["hip"]
    ankle = j.get("ankle") or default_joints()["ankle"]
    return [StanceQuantity("hip flexion angle", (hip.r, hip.l), "angle"),
            StanceQuantity("pelvis tilt (− = anterior)", (PELVIS_TILT, PELVIS_TILT), "angle"),
            StanceQuantity("lumbar extension", (LUMBAR_EXTENSION, LUMBAR_EXTENSION), "angle"),
            StanceQuantity("ankle angle (+ = dorsiflexion)", (ankle.r, ankle.l), "angle"),
            StanceQuantity("hip moment", (hip.r, hip.l), "moment"),
            StanceQuantity("ankle moment", (ankle.r, ankle.l), "moment")]


@dataclass
class CompareCurves:
    """Curves over stance of the athletes and of the family (N_POINTS per stance).

    Attributes
    ----------
    quantities : list of StanceQuantity
    units : list of str
    trials : dict
        (subject, trial) -> ndarray (n_stances, N_POINTS, k).
    stiffness : ndarray, shape (B,)
    family : ndarray, shape (B, N_POINTS, k)
        Mean over each stiffness's rows and stances (NaN where missing).
    """

    quantities: list[StanceQuantity]
    units: list[str]
    trials: dict[tuple[str, str], np.ndarray]
    stiffness: np.ndarray
    family: np.ndarray

    def subject(self, subject: str) -> np.ndarray:
        """All stances of one subject's trials, (n, N_POINTS, k)."""
        return np.concatenate([v for (s, _), v in self.trials.items() if s == subject and len(v)])


def stance_stack(kin: Kinetics, stances: list, quantities: list[StanceQuantity], mass_kg: float | None) -> np.ndarray:
    """Quantities over each complete stance, shape (n_stances, N_POINTS, k); NaN for a missing coordinate."""
    t = kin.q.time
    used = [s for s in stances if s.complete and t[0] <= s.start < s.end <= t[-1]]
    out = np.full((len(used), N_POINTS, len(quantities)), np.nan)
    for a, s in enumerate(used):
        for b, qty in enumerate(quantities):
            name = qty.coordinates[0 if s.side == "r" else 1]
            if name not in kin.coordinates:
                continue
            signal = np.degrees(kin.q.column(name)) if qty.kind == "angle" else kin.tau.column(name)
            out[a, :, b] = normalize_stance(t, signal, s) / (mass_kg if qty.kind == "moment" and mass_kg else 1.0)
    return out


def _pairs(data: StudyData, keys: list[tuple[str, str, str]]):
    """(key, kinetics, stances, mass) of each (subject, trial, variant), variant motion first."""
    trials = {(t.subject, t.trial): t for t in data.trials}
    for key in keys:
        td = trials.get(key[:2])
        if td is None:
            continue
        vt = td.variants.get(key[2])
        kin = vt.kinetics if vt is not None and vt.kinetics is not None else td.kinetics
        stances = vt.stances if vt is not None and vt.kinetics is not None and vt.stances else td.stances
        if kin is not None:
            yield key, kin, stances, data.subject_mass(key[0])


def _read_both(athlete: StudyData, family: StudyData, cmp: Comparison, fam_rows: list[dict]) -> CompareCurves | None:
    a_keys = [(s, t, "") for s, t in zip(cmp.trials.subjects, cmp.trials.trials)]
    stiff, _ = row_stiffness(fam_rows)
    a_pairs, f_pairs = list(_pairs(athlete, a_keys)), list(_pairs(family, list(stiff)))
    if not a_pairs or not f_pairs:
        return None
    per_kg = all(m for *_, m in a_pairs + f_pairs)
    quantities = stance_quantities(athlete.study.joints if athlete.study is not None else None)
    units = ["deg" if q.kind == "angle" else ("N m/kg" if per_kg else "N m") for q in quantities]
    trials = {k[:2]: stance_stack(kin, st, quantities, m if per_kg else None) for k, kin, st, m in a_pairs}
    fam = np.full((len(cmp.family.stiffness), N_POINTS, len(quantities)), np.nan)
    for b, k in enumerate(cmp.family.stiffness):
        stacks = [stance_stack(kin, st, quantities, m if per_kg else None)
                  for key, kin, st, m in f_pairs if np.isclose(stiff[key], k, rtol=1e-9, atol=1e-12)]
        stacks = [s for s in stacks if len(s)]
        if stacks:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fam[b] = np.nanmean(np.concatenate(stacks), axis=0)
    if not any(len(v) for v in trials.values()) or np.isnan(fam).all():
        return None
    return CompareCurves(quantities, units, trials, cmp.family.stiffness, fam)


def read_compare_curves(athlete_out: str | Path, baselines_out: str | Path, cmp: Comparison) -> CompareCurves | None:
    """Curves over stance of both outputs, or None when either lacks kinematics and moments.

    Parameters
    ----------
    athlete_out, baselines_out : str or Path
        Study output folders; their ``results.h5`` must hold ID groups
        (``id``: time, coordinates, q, u, tau) and ``joint_work`` stances.
    cmp : Comparison

    Returns
    -------
    CompareCurves or None
        Moments per kg of body mass when every subject's mass is in its
        stored config, else in N m.
    """
    paths = [Path(athlete_out) / "results.h5", Path(baselines_out) / "results.h5"]
    if not all(p.is_file() for p in paths):
        log.info("no results.h5 in %s: no curves over stance", " or ".join(str(p.parent) for p in paths))
        return None
    athlete, family = load_study_data(athlete_out), load_study_data(baselines_out)
    try:
        return _read_both(athlete, family, cmp, joint_rows(load_output(baselines_out)))
    finally:
        athlete.close()
        family.close()


def curves_figure(curves: CompareCurves, subject: str, axis_label: str) -> Figure:
    """One athlete's quantities over stance (black, SD band) over the family (colour: stiffness)."""
    stack = curves.subject(subject)
    with warnings.catch_warnings():  # a coordinate the model lacks is NaN throughout
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
        sd = np.nanstd(stack, axis=0, ddof=1) if len(stack) > 1 else np.zeros_like(mean)
    norm, cmap = stiffness_norm(curves.stiffness), stiffness_cmap()
    fig, axes = panel_grid(len(curves.quantities), 2, row_height=2.3)
    for i, (ax, qty, unit) in enumerate(zip(axes, curves.quantities, curves.units)):
        for b, k in enumerate(curves.stiffness):
            ax.plot(PERCENT, curves.family[b, :, i], color=cmap(norm(k)), lw=1.2)
        ax.fill_between(PERCENT, mean[:, i] - sd[:, i], mean[:, i] + sd[:, i], color="0.6", alpha=0.35, lw=0)
        ax.plot(PERCENT, mean[:, i], color=OKABE_ITO["black"], lw=2.4)
        ax.set(title=qty.label, xlabel="% stance", ylabel=f"{qty.kind} ({unit})")
    handles = [Line2D([], [], color=OKABE_ITO["black"], lw=2.4, label=f"{subject}: mean over {len(stack)} stance(s)"),
               Patch(color="0.6", alpha=0.35, label="± SD over stances"),
               Line2D([], [], color=cmap(0.5), lw=1.2, label="simulated baseline (colour: stiffness)")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    fig.colorbar(ScalarMappable(norm, cmap), ax=axes, label=f"baseline: {axis_label}", shrink=0.8)
    fig.suptitle(f"{subject} over the baseline family (stance side)")
    return fig


def write_compare_h5(curves: CompareCurves, cmp: Comparison, path: str | Path) -> Path:
    """The angles in the report's layout ``/compare/<subject>/<trial>`` (see :mod:`simpipe.report.optional`)."""
    path = Path(path)
    angles = [i for i, q in enumerate(curves.quantities) if q.kind == "angle"]
    sd = {a.subject: a.sd for a in cmp.athletes}
    with h5py.File(path, "w") as f:
        for p in cmp.placements:
            stack = curves.trials.get((p.subject, p.trial))
            if stack is None or not len(stack):
                continue
            g = f.create_group(f"compare/{p.subject}/{p.trial}")
            g["percent_stance"] = PERCENT
            g["coordinates"] = np.array([curves.quantities[i].label for i in angles], dtype=h5py.string_dtype())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                g["athlete_deg"] = np.nanmean(stack, axis=0)[:, angles]
            g["baseline_stiffness"] = curves.stiffness
            g["baseline_deg"] = curves.family[:, :, angles]
            g.attrs.update(rf_stiffness_estimate=p.stiffness, rf_stiffness_sd=sd[p.subject], inside=p.inside,
                           place=p.place)
    return path


def write_compare_figures(cmp: Comparison, athlete_out: str | Path, baselines_out: str | Path,
                          folder: str | Path) -> list[Path]:
    """Write the feature figure, and the stance curves (with ``compare.h5``) when available.

    Returns
    -------
    list of Path
        Files written (PNG and SVG of each figure, ``compare.h5``).
    """
    folder = Path(folder)
    written = []
    with matplotlib.rc_context(STYLE):
        written += save_figure(feature_figure(cmp), folder, "compare_features")
        curves = read_compare_curves(athlete_out, baselines_out, cmp)
        if curves is not None:
            for subject in dict.fromkeys(s for s, _ in curves.trials):
                if any(len(v) for (s, _), v in curves.trials.items() if s == subject):
                    fig = curves_figure(curves, subject, cmp.family.axis_label)
                    written += save_figure(fig, folder, f"compare_curves_{safe_name(subject)}")
            written.append(write_compare_h5(curves, cmp, folder / "compare.h5"))
    return written
