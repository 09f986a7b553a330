"""Quality checks of a trial: IK marker errors and inverse-dynamics residuals.

Thresholds follow the OpenSim best-practice paper: Hicks, Uchida, Seth,
Rajagopal & Delp (2015), Is my model good enough? Best practices for
verification and validation of musculoskeletal models and simulations of
movement. J Biomech Eng 137:020905 (see ``shared/FACTS.md``): IK marker
RMS < 2 cm and max < 4 cm; residual forces RMS < 5-15 N and peak < 10-25 N;
residual moments peak < 75 N m. simpipe flags at the upper bounds unless the
config's ``qc`` block sets others.

Residuals are the generalized forces of the model's root joint (the joint
between ground and the first body, usually the pelvis): its translations
give residual forces, its rotations residual moments. The ``id`` task takes
them from the model (:func:`simpipe.stages.modelinfo.root_coordinates`), not
from coordinate names, so any OpenSim model works. This module needs no OpenSim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Names of the checks, in the order they are reported.
MARKER_CHECKS = ("marker_rms_mm", "marker_max_mm")
RESIDUAL_CHECKS = ("residual_force_rms_n", "residual_force_peak_n", "residual_moment_rms_nm",
                   "residual_moment_peak_nm")
#: Root coordinates assumed when an ID result does not name them (results cached by older versions).
FALLBACK_ROOT = {"force": ["pelvis_tx", "pelvis_ty", "pelvis_tz"],
                 "moment": ["pelvis_tilt", "pelvis_list", "pelvis_rotation"]}
_UNITS = {"mm": "mm", "n": "N", "nm": "N m"}


@dataclass(frozen=True)
class Thresholds:
    """Limits of the quality checks; a value at or above its limit is flagged.

    Attributes
    ----------
    marker_rms_mm, marker_max_mm : float
        IK marker error: mean over frames of the per-frame RMS over markers,
        and the largest single error (mm).
    residual_force_rms_n, residual_force_peak_n : float
        Root-joint translational generalized forces (N), largest over axes.
    residual_moment_rms_nm : float or None
        Root-joint rotational generalized forces, RMS (N m); None = not checked
        (Hicks et al. give a peak limit only).
    residual_moment_peak_nm : float
    edge_s : float
        Seconds left out at each end of a trial for the residuals (filter and
        spline edge effects; see ``shared/FACTS.md``, quirks).
    """

    marker_rms_mm: float = 20.0
    marker_max_mm: float = 40.0
    residual_force_rms_n: float = 15.0
    residual_force_peak_n: float = 25.0
    residual_moment_rms_nm: float | None = None
    residual_moment_peak_nm: float = 75.0
    edge_s: float = 0.05

    @classmethod
    def from_config(cls, qc=None) -> "Thresholds":
        """From the config's ``qc`` block (a pydantic model or dict; None = defaults)."""
        if qc is None:
            return cls()
        return cls(**(qc.model_dump() if hasattr(qc, "model_dump") else dict(qc)))

    def limit(self, check: str) -> float | None:
        return getattr(self, check)


@dataclass
class Check:
    """One quality check of one trial."""

    name: str
    value: float
    limit: float | None

    @property
    def passed(self) -> bool | None:
        """True/False, or None when the value or the limit is missing."""
        if self.limit is None or self.value is None or math.isnan(self.value):
            return None
        return self.value < self.limit

    def describe(self) -> str:
        unit = _UNITS[self.name.rsplit("_", 1)[1]]
        return f"{self.name} = {self.value:.4g} {unit} (limit {self.limit:g})"


def marker_metrics(marker_error: np.ndarray | None) -> dict[str, float]:
    """IK marker RMS and max error (mm) of a trial.

    Parameters
    ----------
    marker_error : ndarray, shape (n_frames, n_markers), or None
        Distances (m) between experimental and model markers.

    Returns
    -------
    dict
        ``marker_rms_mm`` (mean over frames of the RMS over markers) and
        ``marker_max_mm``; NaN without IK.
    """
    if marker_error is None:
        return dict.fromkeys(MARKER_CHECKS, math.nan)
    err = np.asarray(marker_error, float)
    rms = np.sqrt(np.mean(err ** 2, axis=1))
    return {"marker_rms_mm": float(rms.mean() * 1000), "marker_max_mm": float(err.max() * 1000)}


def residual_window(time: np.ndarray, edge_s: float) -> np.ndarray:
    """Frames used for residuals: all but ``edge_s`` at each end (all of a short trial)."""
    time = np.asarray(time, float)
    keep = (time >= time[0] + edge_s) & (time <= time[-1] - edge_s)
    return keep if keep.sum() >= max(3, time.size // 2) else np.ones(time.shape, bool)


def residual_metrics(id_result: dict | None, edge_s: float = 0.05) -> dict[str, float]:
    """RMS and peak of the root-joint residual forces and moments of a trial.

    Parameters
    ----------
    id_result : dict or None
        Output of the ``id`` task: ``time``, ``coordinates``, ``tau`` and,
        from simpipe 0.x on, ``residual_coordinates`` (``force``/``moment``
        lists; :data:`FALLBACK_ROOT` otherwise).
    edge_s : float
        Seconds left out at each end.

    Returns
    -------
    dict
        The four :data:`RESIDUAL_CHECKS`, each the largest over the axes; NaN
        without ID or without such coordinates.
    """
    out = dict.fromkeys(RESIDUAL_CHECKS, math.nan)
    if id_result is None:
        return out
    root = id_result.get("residual_coordinates") or FALLBACK_ROOT
    keep = residual_window(id_result["time"], edge_s)
    tau, coords = np.asarray(id_result["tau"], float), list(id_result["coordinates"])
    for kind, unit in (("force", "n"), ("moment", "nm")):
        cols = [tau[keep, coords.index(c)] for c in root.get(kind, []) if c in coords]
        if cols:
            out[f"residual_{kind}_rms_{unit}"] = float(max(np.sqrt(np.mean(c ** 2)) for c in cols))
            out[f"residual_{kind}_peak_{unit}"] = float(max(np.max(np.abs(c)) for c in cols))
    return out


def trial_checks(metrics: dict[str, float], thresholds: Thresholds) -> list[Check]:
    """Every check of one trial from its metrics (see :func:`marker_metrics`, :func:`residual_metrics`)."""
    return [Check(name, float(metrics.get(name, math.nan)), thresholds.limit(name))
            for name in MARKER_CHECKS + RESIDUAL_CHECKS]


def verdict(checks: list[Check], names: tuple[str, ...]) -> str:
    """'pass', 'flag' (a named check failed) or 'n/a' (none of them could be made)."""
    states = [c.passed for c in checks if c.name in names]
    if any(s is False for s in states):
        return "flag"
    return "pass" if any(s is True for s in states) else "n/a"


def summary_columns(ik: dict | None, id_result: dict | None, thresholds: Thresholds) -> dict:
    """The quality columns of one trial's summary rows.

    Returns
    -------
    dict
        ``marker_rms_mm``, ``marker_max_mm``, the four residual metrics,
        ``qc_markers`` and ``qc_residuals`` ('pass', 'flag' or 'n/a') and
        ``qc_failed`` (the failed checks' names, space-separated).
    """
    metrics = marker_metrics(None if ik is None else ik["marker_error"])
    metrics.update(residual_metrics(id_result, thresholds.edge_s))
    checks = trial_checks(metrics, thresholds)
    return dict(metrics, qc_markers=verdict(checks, MARKER_CHECKS),
                qc_residuals=verdict(checks, RESIDUAL_CHECKS),
                qc_failed=" ".join(c.name for c in checks if c.passed is False))


def failed_checks(rows: list[dict], thresholds: Thresholds) -> list[str]:
    """One line per trial that failed a check, naming the trial and the checks.

    Parameters
    ----------
    rows : list of dict
        Summary rows (several per trial: one per variant and method).
    thresholds : Thresholds

    Returns
    -------
    list of str
        E.g. ``'subject01/run_01: residual_moment_peak_nm = 433 N m (limit 75)'``.
    """
    lines, seen = [], set()
    for row in rows:
        trial = (row["subject"], row["trial"])
        if trial in seen:
            continue
        seen.add(trial)
        checks = trial_checks(row, thresholds)
        failed = [c.describe() for c in checks if c.passed is False]
        if failed:
            lines.append(f"{trial[0]}/{trial[1]}: {'; '.join(failed)}")
    return lines
