"""Athletes on the stiffness axis of a simulated baseline family.

A *baseline family* is a study output whose rows are simulated running
trials, one (or several) per rectus-femoris (RF) passive stiffness
``k_1 < ... < k_B``, processed by the same IK -> ID -> joint_work chain as lab
data. Its stiffness axis is the summary's ``rf_stiffness`` (stiffness relative
to the model's default, the mapping of :mod:`simpipe.run.variants`: default
strain / strain, or the multiplier), or the swept ``sweep_value`` when the
swept property is not a passive stiffness.

Method
------
Features. Only quantities that can be measured on an athlete enter the
comparison: stance kinematics (:data:`KINEMATIC_FEATURES`) and joint-level
work and shares (:data:`JOINT_FEATURES`). Model-only quantities (RF passive
force, muscle-level shares) are refused: for an athlete they would be the
model's, not the athlete's. The default set (:data:`DEFAULT_FEATURES`) leaves
out the works in J (they scale with body mass and speed) and the knee share
(one minus the other two).

Family curves. At each stiffness the family's rows are averaged; between the
grid points each feature ``m_f(k)`` is interpolated piecewise-linearly on a
fine grid (:data:`FINE_POINTS` points plus the grid points themselves).

Scale. Each feature is standardized by ``s_f``, the first of: the athlete's
trial-to-trial SD (ddof 1, two trials or more), the within-athlete SD pooled
over the athletes of the study that have several trials, the family's range
``max_k m_f - min_k m_f``. The source of every scale is reported.

Distance and estimate. For an athlete trial ``x``::

    D2(k) = sum_f ((x_f - m_f(k)) / s_f) ** 2

over the features finite in the trial; its stiffness is ``argmin_k D2``, and
its interval the lowest and highest ``k`` with ``D2 <= min D2 + DELTA``
(``DELTA = 1``: with ``s_f`` the trial-to-trial SD, the one-parameter 68 %
interval of a chi-square fit; Press et al. 2007, Numerical Recipes, 3rd ed.,
section 15.6). An interval that reaches a grid end is reported as open there.
Features are weighted equally and their correlation is ignored (diagonal
scale).

Outside the family (never clamped):

* ``below`` / ``above``: the minimum is at the lowest (highest) stiffness and
  the distance still falls outward: with the end segment of every feature
  extended linearly, the minimum of ``D2`` lies more than one fine-grid step
  beyond the end (where, is reported as ``extrapolated_stiffness``: a
  diagnostic, not an estimate);
* ``off``: the nearest family member is on average more than
  :data:`MAX_RMS_Z` scales away per feature, ``sqrt(min D2 / n_f)``: the family
  does not reproduce the trial at any stiffness (with family-range scales this
  test is lenient).

Such trials get ``stiffness`` NaN; ``nearest_stiffness`` is the grid member
closest to them. An athlete's stiffness is the mean +- SD (ddof 1) of the
estimates of its trials that are inside.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError, SimpipeError
from .kinematics import KINEMATIC_FEATURES, kinematic_features, kinematic_spec
from .phases import Stance

log = logging.getLogger(__name__)

#: Joint-level features of the ``joint_work`` rows (see :mod:`simpipe.analysis.work`).
JOINT_FEATURES = ("glute_share", "plantarflexor_share", "knee_share", "hip_work_j", "knee_work_j", "ankle_work_j")
#: Features used when none are asked for.
DEFAULT_FEATURES = (*KINEMATIC_FEATURES, "glute_share", "plantarflexor_share")
#: Summary columns that are the model's, not measurable on an athlete.
MODEL_ONLY = ("rf_passive_peak_n", "braking_quadriceps_share", "muscle_propulsive_ns", "superposition_error",
              "superposition_no_slip_error", "reserve_peak_fraction")
#: Fine-grid points between the family's lowest and highest stiffness.
FINE_POINTS = 1001
#: Interval: D2 <= min D2 + DELTA.
DELTA = 1.0
#: A trial whose nearest family member is further than this (RMS standardized units per feature) is "off".
MAX_RMS_Z = 3.0
#: Places of a trial.
PLACES = ("inside", "below", "above", "off")


def _nanmean(table: np.ndarray) -> np.ndarray:
    """Column means of the finite values (NaN for a column without any), quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.where(np.isfinite(table), table, np.nan), axis=0)


def _strings(dataset) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[()]]


def _group_kinematics(group: h5py.Group):
    for name in ("ik", "id"):
        g = group.get(name)
        if g is not None and all(k in g for k in ("time", "coordinates", "q")):
            return g["time"][()], _strings(g["coordinates"]), g["q"][()]
    return None


def _group_stances(group: h5py.Group) -> list[Stance] | None:
    raw = group["joint_work"].attrs.get("stances") if "joint_work" in group else None
    if raw is None:
        return None
    items = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    return [Stance(str(side), float(a), float(b), bool(c)) for side, a, b, c in items]


def _stored_joints(f: h5py.File) -> dict | None:
    from ..config import parse_study

    text = f.attrs.get("config_text")
    if text is None:
        return None
    text = text.decode() if isinstance(text, bytes) else str(text)
    try:
        return parse_study(text, Path(str(f.attrs.get("config_path", "study.yaml"))), check_files=False).joints
    except SimpipeError as exc:
        log.warning("%s: stored config does not parse (%s); built-in hip coordinates used", f.filename, exc)
        return None


def read_kinematic_features(results_path: str | Path) -> dict[tuple[str, str, str], dict[str, float]]:
    """Kinematic features of every trial (and variant with its own motion) of a results file.

    Parameters
    ----------
    results_path : str or Path
        A study's ``results.h5``: IK (else ID) coordinates and the
        ``joint_work`` stances, per trial and, for simulated baselines, per
        variant (``variants/<v>/ik`` or ``variants/<v>/id``).

    Returns
    -------
    dict
        (subject, trial, variant) -> :func:`kinematic_features`; variant ``""``
        for the trial's own motion, shared by its variants.
    """
    out = {}
    with h5py.File(results_path, "r") as f:
        spec = kinematic_spec(_stored_joints(f))
        for subject, sgroup in f.get("subjects", {}).items():
            for trial, tgroup in sgroup.get("trials", {}).items():
                stances = _group_stances(tgroup) or []
                if (kin := _group_kinematics(tgroup)) is not None:
                    out[(subject, trial, "")] = kinematic_features(*kin, stances, spec)
                for variant, vgroup in tgroup.get("variants", {}).items():
                    if (kin := _group_kinematics(vgroup)) is not None:
                        vst = _group_stances(vgroup)
                        out[(subject, trial, variant)] = kinematic_features(*kin, stances if vst is None else vst,
                                                                            spec)
    return out


# --------------------------------------------------------------------------- summary rows


def number(value) -> float:
    """A summary cell as a float (NaN when empty or not a number)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_summary_csv(path: str | Path) -> list[dict]:
    """The rows of a ``summary.csv`` as written by simpipe (cells kept as text).

    Raises
    ------
    InputError
        If the file is missing, or lacks the ``subject`` and ``trial`` columns.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file; run the study first (`simpipe run STUDY.yaml`)")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        cols = reader.fieldnames or []
    missing = [c for c in ("subject", "trial") if c not in cols]
    if missing:
        raise InputError(path, f"not a simpipe summary: no column(s) {missing}")
    if not rows:
        raise InputError(path, "the summary has no rows")
    return rows


def load_output(out_dir: str | Path) -> list[dict]:
    """Summary rows of a study output, kinematic features filled in from ``results.h5``.

    Parameters
    ----------
    out_dir : str or Path
        The study's output folder (``summary.csv``; ``results.h5`` optional).

    Returns
    -------
    list of dict
        Rows of ``summary.csv``; kinematic features that the summary lacks
        (or holds as NaN) are computed with :func:`read_kinematic_features`
        when ``results.h5`` is there.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(out, "no such output folder")
    rows = read_summary_csv(out / "summary.csv")
    need = any(not math.isfinite(number(r.get(f))) for r in rows for f in KINEMATIC_FEATURES)
    if need and (out / "results.h5").is_file():
        computed = read_kinematic_features(out / "results.h5")
        for r in rows:
            found = computed.get((r["subject"], r["trial"], r.get("variant", ""))) or \
                computed.get((r["subject"], r["trial"], ""), {})
            for f, v in found.items():
                if not math.isfinite(number(r.get(f))):
                    r[f] = v
    return rows


def joint_rows(rows: list[dict]) -> list[dict]:
    """Rows of the ``joint_work`` method (all rows when the summary has no method column)."""
    return [r for r in rows if r.get("method", "joint_work") in ("joint_work", "", None)]


def row_stiffness(rows: list[dict]) -> tuple[dict[tuple[str, str, str], float], str]:
    """Stiffness of every (subject, trial, variant) of a family, and the axis label.

    ``rf_stiffness`` (relative to the model's default) when every row has
    one, else ``sweep_value`` labelled with the swept property.
    """
    rows = joint_rows(rows)
    rel = [number(r.get("rf_stiffness")) for r in rows]
    if rows and all(math.isfinite(v) for v in rel):
        values, label = rel, "RF passive stiffness (× default)"
    else:
        values = [number(r.get("sweep_value")) for r in rows]
        label = str(rows[0].get("sweep_property") or "sweep value") if rows else "sweep value"
    keys = [(r["subject"], r["trial"], r.get("variant", "")) for r in rows]
    return {k: v for k, v in zip(keys, values) if math.isfinite(v)}, label


# --------------------------------------------------------------------------- family and trials


@dataclass
class Family:
    """Feature values of the baseline family at its stiffness grid.

    Attributes
    ----------
    stiffness : ndarray, shape (B,)
        Increasing.
    features : list of str
    values : ndarray, shape (B, F)
        Mean over the family's rows at each stiffness.
    axis_label : str
    n_rows : ndarray, shape (B,)
        Rows averaged at each point.
    """

    stiffness: np.ndarray
    features: list[str]
    values: np.ndarray
    axis_label: str
    n_rows: np.ndarray

    def fine_grid(self, n: int = FINE_POINTS) -> np.ndarray:
        """``n`` evenly spaced points from the lowest to the highest stiffness, plus the grid points."""
        return np.union1d(np.linspace(self.stiffness[0], self.stiffness[-1], n), self.stiffness)

    def curve(self, grid: np.ndarray) -> np.ndarray:
        """Features on ``grid`` (piecewise-linear interpolation), shape (len(grid), F)."""
        return np.column_stack([np.interp(grid, self.stiffness, self.values[:, i])
                                for i in range(len(self.features))])

    def column(self, feature: str) -> np.ndarray:
        return self.values[:, self.features.index(feature)]


def family_from_rows(rows: list[dict], features: list[str], source: str | Path = "baselines") -> Family:
    """The family's features averaged per stiffness.

    Parameters
    ----------
    rows : list of dict
        The family's summary rows (``joint_work`` method used).
    features : list of str
    source : str or Path
        Named in errors (the family's summary file).

    Raises
    ------
    InputError
        If the family has fewer than 2 distinct stiffness values.
    """
    stiff, label = row_stiffness(rows)
    by_key = {(r["subject"], r["trial"], r.get("variant", "")): r for r in joint_rows(rows)}
    rounded = dict(zip(stiff, np.round(list(stiff.values()), 9)))
    grid = np.unique(list(rounded.values()))
    if len(grid) < 2:
        raise InputError(source, f"the baseline family has {len(grid)} stiffness point(s) "
                                 f"{[float(g) for g in grid]}; need at least 2")
    values = np.full((len(grid), len(features)), math.nan)
    n_rows = np.zeros(len(grid), int)
    for i, k in enumerate(grid):
        members = [by_key[key] for key, v in rounded.items() if v == k]
        n_rows[i] = len(members)
        values[i] = _nanmean(np.array([[number(r.get(f)) for f in features] for r in members]))
    return Family(grid, list(features), values, label, n_rows)


@dataclass
class Trials:
    """Athlete trials: one row per (subject, trial), variants averaged.

    Attributes
    ----------
    subjects, trials : list of str
    features : list of str
    values : ndarray, shape (n, F)
    """

    subjects: list[str]
    trials: list[str]
    features: list[str]
    values: np.ndarray

    def of(self, subject: str) -> np.ndarray:
        """Rows of one subject."""
        return self.values[[s == subject for s in self.subjects]]


def trials_from_rows(rows: list[dict], features: list[str]) -> Trials:
    """Athlete trials from summary rows.

    With the motion measured (IK + ID), a trial's ``joint_work`` rows share
    their features across variants; their mean is taken (a difference is logged).
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in joint_rows(rows):
        groups.setdefault((r["subject"], r["trial"]), []).append(r)
    values = []
    for (subject, trial), members in groups.items():
        table = np.array([[number(r.get(f)) for f in features] for r in members])
        if np.nan_to_num(np.ptp(table, axis=0)).max(initial=0.0) > 1e-6:
            log.info("%s/%s: features differ between variants; their mean is used", subject, trial)
        values.append(_nanmean(table))
    subj = [k[0] for k in groups]
    return Trials(subj, [k[1] for k in groups], list(features), np.array(values).reshape(len(groups), len(features)))


# --------------------------------------------------------------------------- features and scales


def check_features(requested: list[str] | None) -> list[str]:
    """The features to try: the requested ones (validated) or :data:`DEFAULT_FEATURES`.

    Raises
    ------
    SimpipeError
        If a requested feature cannot be measured on an athlete.
    """
    if not requested:
        return list(DEFAULT_FEATURES)
    allowed = [*KINEMATIC_FEATURES, *JOINT_FEATURES]
    for f in requested:
        if f in MODEL_ONLY:
            raise SimpipeError(f"feature {f!r} is the model's, not measurable on an athlete; choose from {allowed}")
        if f not in allowed and not f.endswith("_deg"):
            raise SimpipeError(f"unknown feature {f!r}; choose from {allowed} (or a kinematic column *_deg)")
    return list(dict.fromkeys(requested))


def usable_features(trials: Trials, family: Family) -> tuple[list[str], dict[str, str]]:
    """Features measured in some athlete trial and at every stiffness of the family, where they vary.

    Returns
    -------
    list of str, dict
        The usable features, and feature -> why it was left out.
    """
    keep, dropped = [], {}
    for i, f in enumerate(family.features):
        if not np.isfinite(trials.values[:, i]).any():
            dropped[f] = "not in the athlete's summary (or NaN in every trial)"
        elif not np.isfinite(family.values[:, i]).all():
            missing = [float(k) for k, v in zip(family.stiffness, family.values[:, i]) if not np.isfinite(v)]
            dropped[f] = f"missing in the baseline family at stiffness {missing}"
        elif np.ptp(family.values[:, i]) <= 1e-9 * np.abs(family.values[:, i]).max():
            dropped[f] = "the same at every stiffness of the family (motions held fixed, not simulated?)"
        else:
            keep.append(f)
    return keep, dropped


@dataclass
class Scales:
    """Per athlete, the scale of each feature and where it comes from.

    Attributes
    ----------
    features : list of str
    values : dict
        Subject -> ndarray (F,) in feature units.
    sources : dict
        Subject -> per feature ``athlete_sd``, ``pooled_sd`` or ``family_range``.
    """

    features: list[str]
    values: dict[str, np.ndarray]
    sources: dict[str, list[str]]


def _sd(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column SD (ddof 1) and degrees of freedom, finite values only."""
    finite = np.isfinite(table)
    n = finite.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(np.where(finite, table, np.nan), axis=0, ddof=1)
    return np.where(n >= 2, sd, np.nan), np.maximum(n - 1, 0)


def feature_scales(trials: Trials, family: Family) -> Scales:
    """Scale of each feature per athlete: own SD, else pooled SD, else the family's range.

    Parameters
    ----------
    trials : Trials
    family : Family
        Same features as ``trials``.

    Returns
    -------
    Scales
    """
    subjects = list(dict.fromkeys(trials.subjects))
    per = {s: _sd(trials.of(s)) for s in subjects}
    dof = sum(d for _, d in per.values())
    var = sum(np.nan_to_num(sd ** 2) * d for sd, d in per.values())
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.sqrt(np.where(dof > 0, var / np.maximum(dof, 1), np.nan))
    span = np.ptp(family.values, axis=0)
    values, sources = {}, {}
    for s in subjects:
        own, cand = per[s][0], []
        for i in range(len(trials.features)):
            for name, v in (("athlete_sd", own[i]), ("pooled_sd", pooled[i]), ("family_range", span[i])):
                if np.isfinite(v) and v > 0:
                    cand.append((name, float(v)))
                    break
            else:
                cand.append(("none", math.nan))
        sources[s], values[s] = [c[0] for c in cand], np.array([c[1] for c in cand])
    return Scales(list(trials.features), values, sources)


# --------------------------------------------------------------------------- placement


@dataclass
class Placement:
    """One athlete trial on the stiffness axis.

    Attributes
    ----------
    subject, trial : str
    place : str
        One of :data:`PLACES`.
    stiffness : float
        The estimate (argmin of the distance); NaN unless ``place`` is inside.
    lo, hi : float
        Lowest and highest stiffness with ``D2 <= min D2 + DELTA``.
    interval_open : str
        ``below``, ``above`` or ``both`` when the interval reaches a grid end.
    nearest_stiffness : float
        Argmin of the distance on the family's range, whatever the place.
    extrapolated_stiffness : float
        For ``below``/``above``: where the minimum lies with the end segment
        extended linearly (a diagnostic, not an estimate).
    min_distance : float
        Min of ``D2``.
    rms_z : float
        ``sqrt(min D2 / n_features)``.
    n_features : int
    grid, distance : ndarray
        The fine grid and ``D2`` on it.
    """

    subject: str
    trial: str
    place: str
    stiffness: float
    lo: float
    hi: float
    interval_open: str
    nearest_stiffness: float
    extrapolated_stiffness: float
    min_distance: float
    rms_z: float
    n_features: int
    grid: np.ndarray = field(repr=False)
    distance: np.ndarray = field(repr=False)

    @property
    def inside(self) -> bool:
        return self.place == "inside"


def distance_curve(x: np.ndarray, scale: np.ndarray, family: Family, grid: np.ndarray) -> tuple[np.ndarray, int]:
    """Standardized squared distance ``D2`` of a trial to the family along ``grid``.

    Returns
    -------
    ndarray, int
        ``D2`` on the grid, and the number of features used (finite in the
        trial, with a finite positive scale).
    """
    use = np.isfinite(x) & np.isfinite(scale) & (scale > 0)
    z = (x[use] - family.curve(grid)[:, use]) / scale[use]
    return np.sum(z ** 2, axis=1), int(use.sum())


def extrapolated_minimum(x: np.ndarray, scale: np.ndarray, family: Family, end: str) -> float:
    """Where ``D2`` is least with the family's end segment extended linearly.

    Parameters
    ----------
    end : {'below', 'above'}

    Returns
    -------
    float
        NaN when no feature changes along the end segment.
    """
    i0, i1 = (0, 1) if end == "below" else (-1, -2)
    k0, k1 = family.stiffness[i0], family.stiffness[i1]
    use = np.isfinite(x) & np.isfinite(scale) & (scale > 0)
    slope = (family.values[i1, use] - family.values[i0, use]) / (k1 - k0)
    w = 1.0 / scale[use] ** 2
    den = float(np.sum(w * slope ** 2))
    if den <= 0:
        return math.nan
    return float(k0 + np.sum(w * (x[use] - family.values[i0, use]) * slope) / den)


def _outside(x, scale, family, grid, i_min) -> tuple[str, float]:
    step = (grid[-1] - grid[0]) / (len(grid) - 1)
    for end, index, beyond in (("below", 0, lambda k: k < grid[0] - step),
                               ("above", len(grid) - 1, lambda k: k > grid[-1] + step)):
        if i_min == index:
            k = extrapolated_minimum(x, scale, family, end)
            if math.isfinite(k) and beyond(k):
                return end, k
    return "", math.nan


def place_trial(x: np.ndarray, scale: np.ndarray, family: Family, subject: str = "", trial: str = "", *,
                n_fine: int = FINE_POINTS, delta: float = DELTA, max_rms_z: float = MAX_RMS_Z) -> Placement:
    """Place one trial on the family's stiffness axis (see the module notes).

    Parameters
    ----------
    x : ndarray, shape (F,)
        The trial's features (NaN: not used).
    scale : ndarray, shape (F,)
    family : Family
    subject, trial : str
    n_fine : int
    delta : float
        Interval: ``D2 <= min D2 + delta``.
    max_rms_z : float
        Threshold of the ``off`` place.

    Returns
    -------
    Placement
    """
    grid = family.fine_grid(n_fine)
    d2, n = distance_curve(np.asarray(x, float), np.asarray(scale, float), family, grid)
    if n == 0:
        nan = math.nan
        return Placement(subject, trial, "off", nan, nan, nan, "", nan, nan, nan, nan, 0, grid, d2)
    i = int(np.argmin(d2))
    inside = grid[d2 <= d2[i] + delta]
    lo, hi = float(inside.min()), float(inside.max())
    opened = [e for e, at in (("below", lo == grid[0]), ("above", hi == grid[-1])) if at]
    rms = math.sqrt(d2[i] / n)
    place, extrapolated = _outside(x, scale, family, grid, i)
    if not place:
        place = "inside" if rms <= max_rms_z else "off"
    est = float(grid[i]) if place == "inside" else math.nan
    return Placement(subject, trial, place, est, lo, hi, "both" if len(opened) == 2 else "".join(opened),
                     float(grid[i]), extrapolated, float(d2[i]), rms, n, grid, d2)


@dataclass
class AthleteStiffness:
    """An athlete's stiffness: mean +- SD over the trials placed inside."""

    subject: str
    mean: float
    sd: float
    n_inside: int
    n_trials: int
    places: dict[str, int]


def athlete_stiffness(placements: list[Placement]) -> list[AthleteStiffness]:
    """Mean and SD (ddof 1) of each athlete's inside estimates; places counted."""
    out = []
    for subject in dict.fromkeys(p.subject for p in placements):
        mine = [p for p in placements if p.subject == subject]
        est = np.array([p.stiffness for p in mine if p.inside])
        places = {k: sum(p.place == k for p in mine) for k in PLACES if any(p.place == k for p in mine)}
        out.append(AthleteStiffness(subject, float(est.mean()) if est.size else math.nan,
                                    float(est.std(ddof=1)) if est.size > 1 else math.nan,
                                    int(est.size), len(mine), places))
    return out


# --------------------------------------------------------------------------- the comparison


@dataclass
class Comparison:
    """Everything ``simpipe compare`` reports.

    Attributes
    ----------
    family : Family
    trials : Trials
    scales : Scales
    placements : list of Placement
    athletes : list of AthleteStiffness
    dropped : dict
        Feature -> why it was left out.
    settings : dict
        ``delta``, ``max_rms_z``, ``n_fine``, ``athlete``, ``baselines``.
    """

    family: Family
    trials: Trials
    scales: Scales
    placements: list[Placement]
    athletes: list[AthleteStiffness]
    dropped: dict[str, str]
    settings: dict


def compare_rows(athlete_rows: list[dict], family_rows: list[dict], features: list[str] | None = None, *,
                 delta: float = DELTA, max_rms_z: float = MAX_RMS_Z, n_fine: int = FINE_POINTS,
                 sources: tuple[str, str] = ("athlete", "baselines")) -> Comparison:
    """Place every athlete trial on the stiffness axis of a baseline family.

    Parameters
    ----------
    athlete_rows, family_rows : list of dict
        Summary rows (see :func:`load_output`).
    features : list of str, optional
        Default :data:`DEFAULT_FEATURES` (those missing on either side are
        dropped and reported); asked-for features must all be usable.
    delta, max_rms_z, n_fine :
        See :func:`place_trial`.
    sources : tuple of str
        The athlete's and the family's summary files, named in errors.

    Returns
    -------
    Comparison

    Raises
    ------
    SimpipeError
        Unusable features, no feature in common, a family of < 2 stiffness points.
    """
    candidates = check_features(features)
    family = family_from_rows(family_rows, candidates, sources[1])
    trials = trials_from_rows(athlete_rows, candidates)
    if not trials.subjects:
        raise InputError(sources[0], "no joint_work rows: nothing to compare")
    keep, dropped = usable_features(trials, family)
    if features and dropped:
        f, why = next(iter(dropped.items()))
        raise SimpipeError(f"feature {f!r} cannot be used: {why} ({sources[0]} vs {sources[1]})")
    if not keep:
        reasons: dict[str, list[str]] = {}
        for f, reason in dropped.items():
            reasons.setdefault(reason, []).append(f)
        why = "; ".join(f"{', '.join(fs)}: {reason}" for reason, fs in reasons.items())
        raise SimpipeError(f"{sources[0]} and {sources[1]} share no usable feature ({why})")
    idx = [candidates.index(f) for f in keep]
    family = Family(family.stiffness, keep, family.values[:, idx], family.axis_label, family.n_rows)
    trials = Trials(trials.subjects, trials.trials, keep, trials.values[:, idx])
    scales = feature_scales(trials, family)
    placements = [place_trial(x, scales.values[s], family, s, t, n_fine=n_fine, delta=delta, max_rms_z=max_rms_z)
                  for s, t, x in zip(trials.subjects, trials.trials, trials.values)]
    settings = {"delta": delta, "max_rms_z": max_rms_z, "n_fine": n_fine,
                "athlete": str(sources[0]), "baselines": str(sources[1])}
    return Comparison(family, trials, scales, placements, athlete_stiffness(placements), dropped, settings)


def compare_outputs(athlete_out: str | Path, baselines_out: str | Path, features: list[str] | None = None,
                    **kwargs) -> Comparison:
    """:func:`compare_rows` on two study output folders (see :func:`load_output`)."""
    a, b = Path(athlete_out), Path(baselines_out)
    return compare_rows(load_output(a), load_output(b), features,
                        sources=(str(a / "summary.csv"), str(b / "summary.csv")), **kwargs)


# --------------------------------------------------------------------------- output


#: Columns of compare.csv, in order.
CSV_COLUMNS = ["subject", "trial", "place", "stiffness", "stiffness_lo", "stiffness_hi", "interval_open",
               "nearest_stiffness", "extrapolated_stiffness", "min_distance", "rms_z", "n_features",
               "athlete_stiffness_mean", "athlete_stiffness_sd", "athlete_n_inside", "athlete_n_trials"]


def result_rows(cmp: Comparison) -> list[dict]:
    """One row per athlete trial, columns :data:`CSV_COLUMNS`, then the features and their scales."""
    by_subject = {a.subject: a for a in cmp.athletes}
    rows = []
    for p, x in zip(cmp.placements, cmp.trials.values):
        a = by_subject[p.subject]
        row = {"subject": p.subject, "trial": p.trial, "place": p.place, "stiffness": p.stiffness,
               "stiffness_lo": p.lo, "stiffness_hi": p.hi, "interval_open": p.interval_open,
               "nearest_stiffness": p.nearest_stiffness, "extrapolated_stiffness": p.extrapolated_stiffness,
               "min_distance": p.min_distance, "rms_z": p.rms_z, "n_features": p.n_features,
               "athlete_stiffness_mean": a.mean, "athlete_stiffness_sd": a.sd,
               "athlete_n_inside": a.n_inside, "athlete_n_trials": a.n_trials}
        for f, v, s, src in zip(cmp.trials.features, x, cmp.scales.values[p.subject], cmp.scales.sources[p.subject]):
            row.update({f: float(v), f"scale_{f}": float(s), f"scale_source_{f}": src})
        rows.append(row)
    return rows


def write_compare_csv(cmp: Comparison, path: str | Path) -> Path:
    """Write :func:`result_rows` (floats to 6 significant digits, NaN as ``nan``)."""
    path = Path(path)
    rows = result_rows(cmp)
    cols = list(rows[0]) if rows else CSV_COLUMNS
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return path


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def comparison_dict(cmp: Comparison) -> dict:
    """The comparison as plain data (the JSON output; NaN as null)."""
    fam = cmp.family
    return _json_safe({
        "method": {"distance": "D2(k) = sum_f ((x_f - m_f(k)) / s_f)^2, m_f piecewise-linear in k",
                   "interval": f"D2 <= min D2 + {cmp.settings['delta']}",
                   "scale": "athlete trial-to-trial SD, else pooled SD over athletes, else family range",
                   "outside": f"below/above: minimum beyond a grid end; off: sqrt(min D2 / n_f) > "
                              f"{cmp.settings['max_rms_z']}", **cmp.settings},
        "features": fam.features, "dropped_features": cmp.dropped,
        "family": {"axis": fam.axis_label, "stiffness": fam.stiffness, "n_rows": fam.n_rows,
                   "values": {f: fam.column(f) for f in fam.features}},
        "scales": {s: {"values": dict(zip(cmp.scales.features, v)), "sources": dict(zip(cmp.scales.features,
                                                                                        cmp.scales.sources[s]))}
                   for s, v in cmp.scales.values.items()},
        "trials": result_rows(cmp),
        "athletes": [vars(a) for a in cmp.athletes],
    })


def write_compare_json(cmp: Comparison, path: str | Path) -> Path:
    """Write :func:`comparison_dict` as indented JSON."""
    path = Path(path)
    path.write_text(json.dumps(comparison_dict(cmp), indent=2, allow_nan=False) + "\n")
    return path


def _fmt(v: float) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.2f}"


def format_comparison(cmp: Comparison) -> str:
    """A plain-text table for the terminal: one line per trial, then one per athlete."""
    head = ["subject", "trial", "place", "stiffness", "interval", "rms_z", "n_f"]
    cells = [[p.subject, p.trial, p.place, _fmt(p.stiffness),
              f"[{_fmt(p.lo)}, {_fmt(p.hi)}]" + (f" open {p.interval_open}" if p.interval_open else ""),
              _fmt(p.rms_z), str(p.n_features)] for p in cmp.placements]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["-" * len(lines[0]), *("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells), ""]
    for a in cmp.athletes:
        others = ", ".join(f"{n} {k}" for k, n in a.places.items() if k != "inside")
        lines.append(f"{a.subject}: {cmp.family.axis_label} {_fmt(a.mean)} ± {_fmt(a.sd)}; "
                     f"{a.n_inside} of {a.n_trials} trial(s) inside the family" + (f"; {others}" if others else ""))
    lines.append(f"features: {', '.join(cmp.family.features)}; family "
                 f"{', '.join(f'{k:g}' for k in cmp.family.stiffness)}")
    if cmp.dropped:
        lines.append("left out: " + "; ".join(f"{f} ({why})" for f, why in cmp.dropped.items()))
    return "\n".join(lines)
