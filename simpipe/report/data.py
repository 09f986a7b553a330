"""Read what a report needs from a study's output folder.

Sources, all inside ``<out>``:

* ``results.h5`` (see the README, *Results*): provenance attributes, the
  summary rows, failures, and per trial the IK marker errors, the ID
  kinematics and generalized forces, the stances and the passive forces of
  each variant;
* ``plan.json`` and ``cache/`` for timings per stage and for failures
  recorded after ``results.h5`` was written (``simpipe status`` reads the
  same files).

Core data are read eagerly into small labelled dataclasses. Optional
sections (muscle forces, induced accelerations, baselines) read their own
groups from the open file, :attr:`StudyData.h5`, through the readers in
:mod:`simpipe.report.optional`.
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..analysis.phases import Stance
from ..errors import SimpipeError
from ..io.store import read_summary

log = logging.getLogger(__name__)


@dataclass
class Series:
    """Labelled time series: ``values[:, i]`` is the column ``names[i]``.

    Attributes
    ----------
    time : ndarray, shape (n,)
        Seconds.
    names : list of str
    values : ndarray, shape (n, k)
    unit : str
    """

    time: np.ndarray
    names: list[str]
    values: np.ndarray
    unit: str = ""

    def column(self, name: str) -> np.ndarray:
        """The column called ``name`` (KeyError if absent)."""
        if name not in self.names:
            raise KeyError(f"{name!r} not among {self.names}")
        return self.values[:, self.names.index(name)]


@dataclass
class Kinetics:
    """Inverse-dynamics inputs and outputs of one trial (SI units, radians).

    Attributes
    ----------
    q, u, tau : Series
        Coordinates (rad, m), speeds (rad/s, m/s) and generalized forces
        (N m, N), all on the same time and coordinate names.
    """

    q: Series
    u: Series
    tau: Series

    @property
    def coordinates(self) -> list[str]:
        return self.q.names


@dataclass
class VariantTrial:
    """Per (trial, variant) results.

    Attributes
    ----------
    variant : str
    passive : Series or None
        Passive fiber force of the swept muscles (N).
    kinetics : Kinetics or None
        Per-variant kinematics and moments (simulated baselines); None when
        the kinematics are the trial's own (IK + ID, shared by every variant).
    stances : list of Stance
        Stances of the per-variant motion (its own ``joint_work`` group).
    group : str
        HDF5 path of the variant's group, for optional readers.
    """

    variant: str
    passive: Series | None = None
    kinetics: Kinetics | None = None
    stances: list[Stance] = field(default_factory=list)
    group: str = ""


@dataclass
class TrialData:
    """What the report draws for one trial."""

    subject: str
    trial: str
    marker_error: Series | None = None
    kinetics: Kinetics | None = None
    stances: list[Stance] = field(default_factory=list)
    variants: dict[str, VariantTrial] = field(default_factory=dict)
    group: str = ""

    @property
    def label(self) -> str:
        return f"{self.subject}/{self.trial}"

    @property
    def complete_stances(self) -> list[Stance]:
        return [s for s in self.stances if s.complete]


@dataclass
class Variant:
    """One sweep point, as the summary describes it."""

    name: str
    rf_stiffness: float
    sweep_property: str
    sweep_value: float


@dataclass
class StudyData:
    """Everything a report is built from.

    Attributes
    ----------
    out : Path
        The study's output folder.
    h5 : h5py.File
        ``results.h5``, open for reading while the report is written.
    provenance : dict
        Root attributes (``input_hashes`` decoded from JSON).
    study : simpipe.config.Study or None
        The configuration parsed from the stored text (None if it no longer
        parses with this version of simpipe).
    summary : list of dict
        Rows of ``/summary`` (full precision; summary.csv rounds to 6 digits).
    variants : dict
        Variant name -> :class:`Variant`, in sweep order.
    trials : list of TrialData
    failures : list of dict
        ``task``, ``stage``, ``error`` of every failed or skipped task.
    timings : dict
        Stage -> seconds of task time (empty when unknown).
    static_fit : dict
        Subject -> (static RMS m, static max m) of the scaled model's fit.
    """

    out: Path
    h5: h5py.File
    provenance: dict
    study: object | None
    summary: list[dict]
    variants: dict[str, Variant]
    trials: list[TrialData]
    failures: list[dict]
    timings: dict[str, float]
    static_fit: dict[str, tuple[float, float]]
    extra_files: list = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.study is not None:
            return self.study.name
        return self.out.name

    @property
    def methods(self) -> list[str]:
        """Methods present in the summary, in order of appearance."""
        return list(dict.fromkeys(r["method"] for r in self.summary))

    def by_subject(self) -> dict[str, list[TrialData]]:
        """Trials grouped by subject, in file order."""
        out: dict[str, list[TrialData]] = {}
        for t in self.trials:
            out.setdefault(t.subject, []).append(t)
        return out

    def subject_mass(self, subject: str) -> float | None:
        """Body mass (kg) from the configuration, None when unknown."""
        if self.study is None:
            return None
        for s in self.study.subjects:
            if s.id == subject:
                return float(s.mass_kg)
        return None

    def close(self) -> None:
        for f in self.extra_files:
            f.close()
        self.h5.close()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_strings(dataset) -> list[str]:
    """A string dataset as a list of str."""
    return [_text(v) for v in dataset[()]]


def read_provenance(f: h5py.File) -> dict:
    """Root attributes of a results file, JSON attributes decoded.

    Parameters
    ----------
    f : h5py.File

    Returns
    -------
    dict
    """
    prov = {}
    for key, value in f.attrs.items():
        if isinstance(value, (bytes, str)):
            value = _text(value)
        elif isinstance(value, (np.ndarray, np.generic)):
            value = value.item() if value.size == 1 else value.tolist()
        if key in ("input_hashes", "seconds_by_stage") and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                log.warning("root attribute %s is not JSON; shown as text", key)
        prov[key] = value
    return prov


def _parse_study(prov: dict, out: Path):
    from ..config import parse_study

    text = prov.get("config_text")
    if not text:
        return None
    try:
        return parse_study(text, Path(prov.get("config_path") or out / "study.yaml"), check_files=False)
    except SimpipeError as exc:
        log.warning("stored configuration does not parse with this simpipe (%s); "
                    "using built-in joint definitions", exc)
        return None


def read_stances(group: h5py.Group) -> list[Stance]:
    """Stances stored by the ``joint_work`` stage (JSON list of [side, start, end, complete])."""
    raw = group.attrs.get("stances")
    if raw is None:
        return []
    try:
        items = json.loads(_text(raw))
    except ValueError:
        log.warning("%s: stances attribute is not JSON; ignored", group.name)
        return []
    return [Stance(str(side), float(start), float(end), bool(complete)) for side, start, end, complete in items]


def read_kinetics(group: h5py.Group) -> Kinetics:
    """An ID-style group (time, coordinates, q, u, tau) as :class:`Kinetics`."""
    time = group["time"][()]
    names = read_strings(group["coordinates"])
    return Kinetics(Series(time, names, group["q"][()], "rad or m"),
                    Series(time, names, group["u"][()], "rad/s or m/s"),
                    Series(time, names, group["tau"][()], "N m or N"))


def _read_passive(group: h5py.Group) -> Series:
    force = np.atleast_2d(group["force_n"][()])
    return Series(group["time"][()], read_strings(group["muscles"]), force, "N")


def _has(group: h5py.Group, *names: str) -> bool:
    return all(n in group for n in names)


def _read_variant(group: h5py.Group, name: str) -> VariantTrial:
    vt = VariantTrial(name, group=group.name)
    if "passive" in group and _has(group["passive"], "time", "force_n", "muscles"):
        vt.passive = _read_passive(group["passive"])
    if "id" in group and _has(group["id"], "time", "coordinates", "q", "u", "tau"):
        vt.kinetics = read_kinetics(group["id"])
    if "joint_work" in group:
        vt.stances = read_stances(group["joint_work"])
    return vt


def _read_trial(subject: str, trial: str, group: h5py.Group) -> TrialData:
    td = TrialData(subject, trial, group=group.name)
    if "ik" in group and _has(group["ik"], "time", "marker_error"):
        ik = group["ik"]
        names = read_strings(ik["markers"]) if "markers" in ik else []
        td.marker_error = Series(ik["time"][()], names, ik["marker_error"][()], "m")
    if "id" in group and _has(group["id"], "time", "coordinates", "q", "u", "tau"):
        td.kinetics = read_kinetics(group["id"])
    if "joint_work" in group:
        td.stances = read_stances(group["joint_work"])
    for vname, vgroup in group.get("variants", {}).items():
        td.variants[vname] = _read_variant(vgroup, vname)
    return td


def read_trials(f: h5py.File) -> list[TrialData]:
    """Every trial stored under ``/subjects``, in file order."""
    trials = []
    for subject, sgroup in f.get("subjects", {}).items():
        for trial, tgroup in sgroup.get("trials", {}).items():
            trials.append(_read_trial(subject, trial, tgroup))
    return trials


def _read_static_fit(f: h5py.File) -> dict[str, tuple[float, float]]:
    fits = {}
    for subject, sgroup in f.get("subjects", {}).items():
        scale = sgroup.get("scale")
        if scale is not None and "static_rms_m" in scale.attrs and "static_max_m" in scale.attrs:
            fits[subject] = (float(scale.attrs["static_rms_m"]), float(scale.attrs["static_max_m"]))
    return fits


def _variants(rows: list[dict]) -> dict[str, Variant]:
    out: dict[str, Variant] = {}
    for r in rows:
        if r["variant"] not in out:
            out[r["variant"]] = Variant(r["variant"], float(r["rf_stiffness"]), str(r["sweep_property"]),
                                        float(r["sweep_value"]))
    return out


def read_failures(f: h5py.File) -> list[dict]:
    """Rows of ``/failures`` (task, stage, error)."""
    grp = f.get("failures")
    if grp is None or not len(grp):
        return []
    cols = {c: read_strings(grp[c]) for c in grp}
    n = len(next(iter(cols.values())))
    return [{c: cols[c][i] for c in cols} for i in range(n)]


def _cache_failures(out: Path) -> list[dict]:
    """Failures recorded in the cache for tasks of the current plan."""
    if not (out / "plan.json").is_file():
        return []
    from ..run.status import study_status

    try:
        return [{"task": f["task"], "stage": f["stage"], "error": f["error"]}
                for f in study_status(out).failures]
    except (SimpipeError, OSError, ValueError) as exc:
        log.warning("cannot read the task states in %s: %s", out, exc)
        return []


def merge_failures(stored: list[dict], cached: list[dict]) -> list[dict]:
    """Failures from results.h5 plus those recorded later in the cache (by task label)."""
    seen = {f.get("task") for f in stored}
    return list(stored) + [f for f in cached if f["task"] not in seen]


def read_timings(out: Path, prov: dict) -> dict[str, float]:
    """Task seconds per stage.

    Parameters
    ----------
    out : Path
        The study's output folder.
    prov : dict
        Root attributes; ``seconds_by_stage`` (JSON) is used when present.

    Returns
    -------
    dict
        Stage -> summed task time in seconds, over every finished task of
        the plan, whenever it was computed (read from the cached outputs'
        metadata when the results file does not carry the timings).
    """
    stored = prov.get("seconds_by_stage")
    if isinstance(stored, dict):
        return {str(k): float(v) for k, v in stored.items()}
    index = out / "plan.json"
    if not index.is_file():
        return {}
    try:
        tasks = json.loads(index.read_text())["tasks"]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s: cannot read the plan index (%s); no timings", index, exc)
        return {}
    seconds: dict[str, float] = {}
    for task in tasks:
        sec = _cached_seconds(out / "cache" / task["stage"] / f"{task['key']}.pkl")
        if sec is not None:
            seconds[task["stage"]] = seconds.get(task["stage"], 0.0) + sec
    return seconds


def _cached_seconds(path: Path) -> float | None:
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            meta = pickle.load(fh).get("_meta", {})
        return float(meta["seconds"])
    except Exception as exc:  # a damaged or foreign cache entry only loses its timing
        log.debug("no timing in %s: %s", path, exc)
        return None


def load_study_data(out_dir: str | Path) -> StudyData:
    """Open a study's output folder for reporting.

    Parameters
    ----------
    out_dir : str or Path
        The folder holding ``results.h5`` (the config's ``output``).

    Returns
    -------
    StudyData
        Keeps ``results.h5`` open; call :meth:`StudyData.close` when done.

    Raises
    ------
    SimpipeError
        If the folder holds no readable ``results.h5``.
    """
    out = Path(out_dir)
    path = out / "results.h5"
    if not path.is_file():
        raise SimpipeError(f"{out}: no results.h5 here; run the study first (`simpipe run STUDY.yaml`)")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SimpipeError(f"{path}: cannot open the results file ({exc})") from None
    prov = read_provenance(f)
    summary = read_summary(path) if "summary" in f else []
    data = StudyData(out=out, h5=f, provenance=prov, study=_parse_study(prov, out), summary=summary,
                     variants=_variants(summary), trials=read_trials(f),
                     failures=merge_failures(read_failures(f), _cache_failures(out)),
                     timings=read_timings(out, prov), static_fit=_read_static_fit(f))
    log.info("report data: %d trial(s), %d summary row(s), %d failure(s)",
             len(data.trials), len(summary), len(data.failures))
    return data

