"""Figures of the report (matplotlib, no pyplot: every figure is a plain
:class:`matplotlib.figure.Figure`, saved with the Agg and SVG backends).

Colours: categories (joints, muscle groups, share kinds) use the Okabe & Ito
(2008) palette, readable by colour-blind readers; RF stiffness uses a
sequential scale (viridis without its palest end, so every line reads on
white paper and in greyscale). Share kinds also differ in marker and line
style, so the figures read in black-and-white print.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .curves import PERCENT, QUANTITIES, StanceCurves
from .data import TrialData, Variant

log = logging.getLogger(__name__)

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7"}
#: Category colours in order of use (yellow last: weak on white).
CATEGORY_COLOURS = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky_blue",
                                           "black", "yellow")]
#: Share kinds: (summary column, colour, marker, line style).
SHARE_STYLE = {"glute": ("glute_share", OKABE_ITO["vermillion"], "o", "-"),
               "plantarflexor": ("plantarflexor_share", OKABE_ITO["blue"], "s", "--")}
#: What each method's shares are shares of, and how its glute share is named.
METHOD_LABELS = {"joint_work": ("positive extensor work (propulsive phase)", "hip extensors (glute)",
                                "ankle plantar flexors"),
                 "muscle_iaa": ("positive propulsive impulse (muscles)", "gluteus maximus",
                                "plantar flexors (soleus + gastrocnemius)")}
SUBJECT_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
#: Matplotlib settings of every report figure (applied with rc_context).
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False,
         "axes.grid": True, "grid.alpha": 0.3, "lines.linewidth": 1.6, "savefig.dpi": 150,
         "svg.hashsalt": "simpipe", "svg.fonttype": "none"}
#: Most trials drawn in one per-trial figure.
MAX_PANELS = 12


def stiffness_cmap() -> ListedColormap:
    """Sequential colour map of RF stiffness: viridis up to 90 % (no pale yellow)."""
    return ListedColormap(matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, 256)), name="stiffness")


def stiffness_norm(values) -> Normalize:
    """Colour normalization over the finite stiffness values (a unit span if they are equal)."""
    finite = [v for v in values if np.isfinite(v)] or [1.0]
    lo, hi = min(finite), max(finite)
    return Normalize(lo, hi if hi > lo else lo + 1.0)


def stiffness_axis(variants: dict[str, Variant]) -> tuple[dict[str, float], str]:
    """X value per variant and the axis label: relative RF stiffness, else the swept value.

    Returns
    -------
    dict, str
    """
    if variants and all(np.isfinite(v.rf_stiffness) for v in variants.values()):
        return {n: v.rf_stiffness for n, v in variants.items()}, "RF passive stiffness (× default)"
    prop = next(iter(variants.values())).sweep_property if variants else "sweep value"
    return {n: v.sweep_value for n, v in variants.items()}, prop


def save_figure(fig: Figure, folder: Path, name: str) -> tuple[Path, Path]:
    """Write a figure as PNG and SVG.

    Parameters
    ----------
    fig : Figure
    folder : Path
    name : str
        File stem.

    Returns
    -------
    png, svg : Path
    """
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    fig.savefig(png, format="png", metadata={"Software": None})
    fig.set_layout_engine("none")  # keep the layout just computed: the SVG needs no second pass
    fig.savefig(svg, format="svg", metadata={"Date": None})
    log.debug("wrote %s and %s", png, svg)
    return png, svg


def panel_grid(n: int, ncols: int, width: float = 7.2, row_height: float = 2.4, sharex=True) -> tuple[Figure, list]:
    """A figure with ``n`` axes on a grid of ``ncols`` columns (spare cells hidden)."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(width, row_height * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    for ax in flat[max(0, n - ncols):n]:  # the last visible axes of each column show their x tick labels
        ax.xaxis.set_tick_params(labelbottom=True)
    return fig, flat[:n]


def _share_points(stats: list[dict], subject: str, method: str, xs: dict, kind: str):
    rows = sorted((r for r in stats if r["subject"] == subject and r["method"] == method and r["variant"] in xs),
                  key=lambda r: xs[r["variant"]])
    x = np.array([xs[r["variant"]] for r in rows])
    return x, np.array([r[f"{kind}_mean"] for r in rows]), np.array([r[f"{kind}_sd"] for r in rows])


def shares_figure(stats: list[dict], methods: list[str], variants: dict[str, Variant]) -> Figure:
    """Glute and plantar-flexor shares against RF stiffness, one panel per method.

    Parameters
    ----------
    stats : list of dict
        :func:`simpipe.report.tables.share_stats` rows (mean and SD across trials).
    methods : list of str
    variants : dict

    Returns
    -------
    Figure
        Per subject: mean +- SD across trials (error bars); with several
        subjects, a thick line for the mean over subjects.
    """
    xs, xlabel = stiffness_axis(variants)
    subjects = list(dict.fromkeys(r["subject"] for r in stats))
    fig, axes = panel_grid(len(methods), 2, row_height=3.0, sharex=False)
    for ax, method in zip(axes, methods):
        what, glute_label, pf_label = METHOD_LABELS.get(method, ("propulsion", "glute", "plantar flexors"))
        for kind, label in (("glute", glute_label), ("plantarflexor", pf_label)):
            _, colour, marker, ls = SHARE_STYLE[kind]
            for i, subject in enumerate(subjects):
                x, mean, sd = _share_points(stats, subject, method, xs, kind)
                mk = marker if len(subjects) == 1 else SUBJECT_MARKERS[i % len(SUBJECT_MARKERS)]
                ax.errorbar(x, mean, yerr=np.nan_to_num(sd), color=colour, marker=mk, ls=ls, capsize=3,
                            lw=1.0 if len(subjects) > 1 else 1.6, ms=5, mfc="white",
                            label=label if len(subjects) == 1 else f"{label}, {subject}")
            if len(subjects) > 1:
                _subject_mean_line(ax, stats, subjects, method, xs, kind, colour, label)
        ax.set(title=method, xlabel=xlabel, ylabel=f"share of {what}", ylim=(0, 1))
        ax.legend(loc="best", frameon=False)
    return fig


def _subject_mean_line(ax, stats, subjects, method, xs, kind, colour, label) -> None:
    per = [_share_points(stats, s, method, xs, kind) for s in subjects]
    x = per[0][0]
    if not all(len(p[0]) == len(x) and np.allclose(p[0], x) for p in per):
        return
    means = np.array([p[1] for p in per])
    ax.plot(x, np.nanmean(means, axis=0), color=colour, lw=3, alpha=0.6, label=f"{label}, mean of subjects")


def stance_figure(lines: list[dict], joints: list[str], title: str) -> Figure:
    """Joint angles, moments and powers over stance: rows quantities, columns joints.

    Parameters
    ----------
    lines : list of dict
        Each ``label``, ``colour``, ``curves`` (quantity -> StanceCurves) and
        optionally ``style`` (line style).
    joints : list of str
    title : str

    Returns
    -------
    Figure
        Mean over complete stances; the SD band is drawn when at most four
        lines share the panels.
    """
    fig = Figure(figsize=(7.2, 6.6), layout="constrained")
    axes = fig.subplots(3, len(joints), squeeze=False, sharex=True)
    band = len(lines) <= 4
    for row, quantity in enumerate(QUANTITIES):
        for col, joint in enumerate(joints):
            ax = axes[row, col]
            unit = ""
            for line in lines:
                curves: StanceCurves | None = line["curves"].get(quantity)
                if curves is None or joint not in curves.joints:
                    continue
                mean, sd = curves.joint(joint)
                unit = curves.unit
                ax.plot(PERCENT, mean, color=line["colour"], ls=line.get("style", "-"), label=line["label"])
                if band and curves.n_stances > 1:
                    ax.fill_between(PERCENT, mean - sd, mean + sd, color=line["colour"], alpha=0.15, lw=0)
            if quantity != "angle":
                ax.axhline(0.0, color="0.4", lw=0.6)
            ax.set_ylabel(f"{joint} {QUANTITIES[quantity][0]} ({unit})")
            if row == 0:
                ax.set_title(joint)
            if row == 2:
                ax.set_xlabel("% stance")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(handles)), frameon=False)
    fig.suptitle(title)
    return fig


def _shade_stances(ax, trial: TrialData) -> None:
    for stance in trial.stances:
        ax.axvspan(stance.start, stance.end, color="0.88", lw=0, zorder=0)
        ax.text((stance.start + stance.end) / 2, 0.98, stance.side, transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=7, color="0.35")


def passive_figure(trials: list[TrialData], variants: dict[str, Variant], title: str) -> Figure | None:
    """RF passive fiber force over each trial, one line per variant coloured by stiffness.

    Parameters
    ----------
    trials : list of TrialData
        One subject's trials (the first :data:`MAX_PANELS` with passive data are drawn).
    variants : dict
    title : str

    Returns
    -------
    Figure or None
        None when no trial has passive forces. Muscles differ in line style
        (first solid, then dashed, ...); grey spans mark stances.
    """
    drawn = [t for t in trials if any(v.passive is not None for v in t.variants.values())][:MAX_PANELS]
    if not drawn:
        return None
    xs, xlabel = stiffness_axis(variants)
    norm, cmap = stiffness_norm(xs.values()), stiffness_cmap()
    fig, axes = panel_grid(len(drawn), 2, row_height=2.6)
    styles = ["-", "--", ":", "-."]
    for ax, trial in zip(axes, drawn):
        _shade_stances(ax, trial)
        muscles: list[str] = []
        for vname, vt in trial.variants.items():
            if vt.passive is None:
                continue
            colour = cmap(norm(xs.get(vname, np.nan)))
            for i, muscle in enumerate(vt.passive.names):
                ax.plot(vt.passive.time, vt.passive.values[:, i], color=colour, ls=styles[i % len(styles)])
            muscles = muscles or list(vt.passive.names)
        ax.set(title=trial.label, xlabel="time (s)", ylabel="passive fiber force (N)")
    handles = [Line2D([], [], color="0.3", ls=styles[i % len(styles)], label=m) for i, m in enumerate(muscles)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)) or 1, frameon=False)
    fig.colorbar(ScalarMappable(norm, cmap), ax=axes, label=xlabel, shrink=0.8)
    fig.suptitle(title)
    return fig
