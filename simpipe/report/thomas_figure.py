"""Figure of the modified Thomas test of the model variants.

Columns: knee at 90 deg, knee straight (the knee angles of the curves).
Top row: rectus femoris passive force against the thigh angle to the table;
bottom row: passive hip flexion moment of each variant and the limb-weight
moment it must balance. A marker on each curve shows the variant's Thomas
angle (:func:`simpipe.analysis.thomas.thomas_test`); a variant whose limb
falls past the modelled range says so in the legend. The vertical axes
are cut at :data:`ZOOM` times the limb-weight moment and the largest RF
force at a Thomas angle, where the balance is decided. Variants are coloured
by RF stiffness with the report's sequential scale (viridis without its
palest end, readable by colour-blind readers and in greyscale) and also
differ in marker shape.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..analysis.thomas import FLAG_OK, ThomasCurves, ThomasResult
from .figures import OKABE_ITO, STYLE, SUBJECT_MARKERS, save_figure, stiffness_cmap, stiffness_norm

#: Clinical comparison drawn as a vertical line: (thigh angle to the table in deg, label).
HARVEY_1998 = (-11.9, "Harvey 1998, elite athletes, mean (knee hanging free)")
#: Vertical axes end at this multiple of the largest limb-weight moment (moments) and of the
#: largest RF force at a Thomas angle (forces): the curves of stiff variants leave the axes.
ZOOM = 2.5
_STIFFNESS_NAME = re.compile(r"^x(\d+(?:\.\d*)?)$")


def _stiffness(labels: list[str], stiffness: dict[str, float] | None) -> dict[str, float]:
    """Stiffness per label: given, else read from names like ``x1.50``, else the label's rank."""
    if stiffness is not None:
        return {lab: float(stiffness[lab]) for lab in labels}
    parsed = {lab: _STIFFNESS_NAME.match(lab) for lab in labels}
    if all(parsed.values()):
        return {lab: float(m.group(1)) for lab, m in parsed.items()}
    return {lab: float(i) for i, lab in enumerate(labels)}


def _knee_title(knee: float) -> str:
    return "knee straight" if abs(knee) < 1e-9 else f"knee {knee:g}° flexed"


def _knee_short(knee: float) -> str:
    return "straight" if abs(knee) < 1e-9 else f"{knee:g}°"


def _rest_text(result: ThomasResult | None) -> str:
    """The Thomas angle for the legend, or why there is none."""
    if result is None:
        return "n/a"
    if result.flag == FLAG_OK:
        return f"{result.thigh_angle_deg:+.1f}°"
    return result.flag.replace("_", " ")


def _draw_variant(axes, curves: ThomasCurves, result: ThomasResult | None, k: int, colour, marker) -> None:
    """One variant in one column: RF force (top) and passive moment (bottom), rest point marked."""
    top, bottom = axes
    x = curves.thigh_angle_deg
    top.plot(x, curves.rf_force_n[k], color=colour)
    bottom.plot(x, curves.passive_moment_nm[k], color=colour)
    if result is not None and result.flag == FLAG_OK:
        kw = dict(color=colour, marker=marker, ms=6, mfc="white", mew=1.5, zorder=4, ls="none")
        top.plot([result.thigh_angle_deg], [result.rf_force_n], **kw)
        bottom.plot([result.thigh_angle_deg], [result.passive_moment_nm], **kw)


def _limit_y(top, bottom, moments: list[np.ndarray], forces_at_rest: list[float]) -> None:
    """Keep the balance readable: stiff variants' passive curves rise far above it and leave the axes.

    ``moments``: the limb-weight moment first, then the passive moments drawn.
    """
    cap = ZOOM * float(np.nanmax(moments[0]))
    low = max(min(0.0, *(float(np.nanmin(m)) for m in moments)), -cap)
    high = min(max(float(np.nanmax(m)) for m in moments), cap)
    pad = 0.05 * (high - low)
    bottom.set_ylim(low - pad, high + pad)
    if forces_at_rest:
        high = min(top.get_ylim()[1], ZOOM * max(forces_at_rest))
        top.set_ylim(-0.05 * high, high)


def thomas_figure(curves: dict[str, ThomasCurves], results: dict[str, dict[float, ThomasResult]] | None = None,
                  stiffness: dict[str, float] | None = None,
                  reference: tuple[float, str] | None = HARVEY_1998) -> Figure:
    """RF passive force and hip moments against the thigh angle, per variant.

    Parameters
    ----------
    curves : dict
        Variant label (e.g. ``x1.50``) -> :class:`ThomasCurves`; every
        variant must have the knee angles of the first.
    results : dict, optional
        Variant label -> :func:`thomas_test` result (knee deg -> ThomasResult),
        to mark the Thomas angles.
    stiffness : dict, optional
        Variant label -> relative RF stiffness for the colours; by default
        read from labels like ``x1.50``.
    reference : (float, str) or None
        A clinical thigh angle (deg) and its label, drawn as a vertical line.

    Returns
    -------
    Figure
    """
    labels = list(curves)
    if not labels:
        raise ValueError("no variants to draw")
    knees = list(np.asarray(curves[labels[0]].knee_deg, float))
    values = _stiffness(labels, stiffness)
    norm, cmap = stiffness_norm(values.values()), stiffness_cmap()
    fig = Figure(figsize=(3.6 * len(knees), 5.6), layout="constrained")
    grid = fig.subplots(2, len(knees), squeeze=False, sharex="col")
    handles = []
    for v, lab in enumerate(sorted(labels, key=values.get)):
        colour, marker = cmap(norm(values[lab])), SUBJECT_MARKERS[v % len(SUBJECT_MARKERS)]
        per_knee = (results or {}).get(lab, {})
        for col, knee in enumerate(knees):
            k = int(np.flatnonzero(np.isclose(curves[lab].knee_deg, knee))[0])
            _draw_variant(grid[:, col], curves[lab], per_knee.get(knee), k, colour, marker)
        name = f"{lab}: {' / '.join(_rest_text(per_knee.get(kn)) for kn in knees)}" if per_knee else lab
        handles.append(Line2D([], [], color=colour, marker=marker, mfc="white", label=name))
    first = curves[labels[0]]
    for col, knee in enumerate(knees):
        top, bottom = grid[:, col]
        k = int(np.flatnonzero(np.isclose(first.knee_deg, knee))[0])
        bottom.plot(first.thigh_angle_deg, first.limb_moment_nm[k], color=OKABE_ITO["black"], ls="--", lw=1.2)
        rests = [r.get(knee) for r in (results or {}).values()]
        passive = [c.passive_moment_nm[int(np.flatnonzero(np.isclose(c.knee_deg, knee))[0])] for c in curves.values()]
        _limit_y(top, bottom, [first.limb_moment_nm[k], *passive],
                 [r.rf_force_n for r in rests if r is not None and r.flag == FLAG_OK])
        top.set(title=_knee_title(knee), ylabel="RF passive force (N)")
        bottom.set(xlabel="thigh angle to the table (deg, − below)", ylabel="hip flexion moment (N m)")
        for ax in (top, bottom):
            ax.axvline(0.0, color="0.5", lw=0.6)
            if reference is not None:
                ax.axvline(reference[0], color=OKABE_ITO["vermillion"], ls=":", lw=1.2)
    handles.append(Line2D([], [], color=OKABE_ITO["black"], ls="--", label="limb-weight moment"))
    handles.append(Line2D([], [], color="0.3", lw=1.6, label="passive moment (colour: variant)"))
    if reference is not None:
        handles.append(Line2D([], [], color=OKABE_ITO["vermillion"], ls=":", label=reference[1]))
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False,
               title=f"RF stiffness: Thomas angle, knee {' / '.join(_knee_short(k) for k in knees)} (markers)")
    fig.suptitle(f"Modified Thomas test (pelvis tilt {first.pelvis_tilt_deg:+g}° posterior)")
    return fig


def write_thomas_figure(curves: dict[str, ThomasCurves], folder: str | Path,
                        results: dict[str, dict[float, ThomasResult]] | None = None, name: str = "thomas_test",
                        **kwargs) -> tuple[Path, Path]:
    """Draw :func:`thomas_figure` in the report style and write it as PNG and SVG.

    Parameters
    ----------
    curves, results
        As in :func:`thomas_figure`.
    folder : str or Path
        Output folder (created).
    name : str
        File stem.
    **kwargs
        ``stiffness``, ``reference`` of :func:`thomas_figure`.

    Returns
    -------
    png, svg : Path
    """
    with matplotlib.rc_context(STYLE):
        fig = thomas_figure(curves, results, **kwargs)
        return save_figure(fig, Path(folder), name)

