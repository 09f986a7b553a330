"""The study configuration: one YAML file, validated into typed models.

Every block forbids unknown keys, so a typo is an error instead of a silently
ignored setting (OpenSim's setup XML ignores unknown tags, opensim-core #3097).
Relative paths are resolved against the directory of the YAML file, never
against the working directory.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

#: Stages simpipe knows, in execution order.
KNOWN_STAGES = ("scale", "ik", "id", "joint_work", "passive", "muscles", "iaa", "baselines")
#: Stages a study runs when the config names none (the muscle level is opt-in).
DEFAULT_STAGES = ("scale", "ik", "id", "joint_work", "passive")
#: Muscle-group mapping of the built-in model (glob patterns).
BUILTIN_GROUPS = {
    "glute": ["glut_max_*"],
    "plantarflexors": ["soleus_*", "gastroc_*"],
    "rectus_femoris": ["rect_fem_*"],
    "quadriceps": ["rect_fem_*", "vasti_*"],
    "hamstrings": ["hamstrings_*", "bifemsh_*"],
    "hip_flexors": ["iliopsoas_*"],
    "dorsiflexors": ["tib_ant_*"],
}
#: Smallest ``ik.chunk_frames``: shorter chunks cost more in per-task overhead than they save.
MIN_CHUNK_FRAMES = 10
#: Scaling marker pairs of the built-in model: segment -> list of pairs.
BUILTIN_MEASUREMENTS = {
    "pelvis": [["RASI", "RPSI"], ["LASI", "LPSI"]],
    "torso": [["C7", "T10"]],
    "femur_r": [["RGTR", "RKNE"]],
    "femur_l": [["LGTR", "LKNE"]],
    "tibia_r": [["RFIB", "RANK"]],
    "tibia_l": [["LFIB", "LANK"]],
    "calcn_r": [["RHEE", "RTOE"]],
    "calcn_l": [["LHEE", "LTOE"]],
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """Which musculoskeletal model the study starts from.

    Exactly one of ``builtin`` (a model simpipe generates, e.g. ``simpipe_run2d``)
    or ``path`` (a user's .osim file).
    """

    builtin: Literal["simpipe_run2d"] | None = None
    path: Path | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.builtin is None) == (self.path is None):
            raise ValueError("give exactly one of 'builtin' or 'path'")
        return self


class TrialSpec(_Strict):
    """One measured trial: markers (.trc) and ground reaction forces (.mot), or one .c3d file.

    ``variants``: analyse the trial with these sweep variants only (names as
    in the results, e.g. ``x1.50``); a simulated baseline is analysed with the
    variant it was simulated with. Default: every variant.
    """

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    markers: Path | None = None
    grf: Path | None = None
    c3d: Path | None = None
    external_loads: Path | None = None
    time_range: tuple[float, float] | None = None
    variants: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self):
        if self.c3d is not None and (self.markers is not None or self.grf is not None):
            raise ValueError("give either 'c3d' or 'markers' and 'grf', not both")
        if self.c3d is not None and self.external_loads is not None:
            raise ValueError("'external_loads' describes a 'grf' .mot file; a 'c3d' trial has none")
        if self.c3d is None and (self.markers is None or self.grf is None):
            raise ValueError("give both 'markers' (.trc) and 'grf' (.mot), or one 'c3d' file")
        return self


class SubjectSpec(_Strict):
    """One subject: anthropometrics, static trial and running trials."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    mass_kg: float = Field(gt=0, le=400)
    height_m: float = Field(gt=0.5, le=2.6)
    static: Path
    trials: list[TrialSpec] = Field(min_length=1)

    @field_validator("trials")
    @classmethod
    def _unique_trials(cls, trials):
        ids = [t.id for t in trials]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"trial ids must be unique; repeated: {dup}")
        return trials


class SweepSpec(_Strict):
    """A grid over one muscle property: each value is a model variant.

    ``muscles`` names a muscle group of ``muscle_groups`` or glob patterns.
    ``property`` is a muscle property (e.g. ``passive_fiber_strain_at_one_norm_force``,
    lower = stiffer) or ``passive_stiffness_multiplier`` (1 = unchanged).
    """

    muscles: list[str] = Field(default_factory=lambda: ["rectus_femoris"], min_length=1)
    property: str = "passive_fiber_strain_at_one_norm_force"
    values: list[float] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _distinct(cls, values):
        if len(set(values)) != len(values):
            raise ValueError("sweep values must be distinct")
        return values


class JointSpec(_Strict):
    """A joint whose extensor work enters the ``joint_work`` shares."""

    r: str
    l: str
    extension_sign: Literal[-1, 1] = -1


def _builtin_joints() -> dict[str, JointSpec]:
    return {
        "hip": JointSpec(r="hip_flexion_r", l="hip_flexion_l"),
        "knee": JointSpec(r="knee_angle_r", l="knee_angle_l"),
        "ankle": JointSpec(r="ankle_angle_r", l="ankle_angle_l"),
    }


class FeetSpec(_Strict):
    """Bodies that receive each side's ground reaction force."""

    r: str = "calcn_r"
    l: str = "calcn_l"


class FilterSpec(_Strict):
    """Zero-lag Butterworth low-pass cut-offs in Hz (``null`` = no filtering) and the filter order."""

    markers_hz: float | None = Field(default=None, gt=0)
    coordinates_hz: float | None = Field(default=15.0, gt=0)
    grf_hz: float | None = Field(default=None, gt=0)
    order: int = Field(default=4, ge=1, le=8)


class GapsSpec(_Strict):
    """Marker gaps: interior gaps up to ``max_frames`` frames are filled (cubic spline), longer ones are errors."""

    max_frames: int = Field(default=10, ge=0, le=1000)


class C3DSpec(_Strict):
    """How trials given as .c3d files are read.

    ``lab_to_opensim`` names, for OpenSim's x, y (up) and z axes, the lab axis
    each points along (``'x,z,-y'`` for a lab with z up), or is a 3x3 matrix
    R with p_opensim = R p_lab. Force plates are loaded above
    ``force_threshold_n``; each loaded period goes to the side whose
    ``foot_markers`` are nearest its centre of pressure (default: the model's
    markers on each foot body of ``feet``).
    """

    lab_to_opensim: str | list[list[float]] = "x,z,-y"
    force_threshold_n: float = Field(default=20.0, gt=0)
    foot_markers: dict[str, list[str]] | None = None

    @field_validator("lab_to_opensim")
    @classmethod
    def _rotation(cls, value):
        from .io.c3d import parse_rotation

        parse_rotation(value)
        return value

    @field_validator("foot_markers")
    @classmethod
    def _both_feet(cls, value):
        if value is not None and (set(value) != {"r", "l"} or not all(value.values())):
            raise ValueError("expected marker lists for both sides, e.g. {r: [RHEE, RTOE], l: [LHEE, LTOE]}")
        return value


class QCSpec(_Strict):
    """Quality thresholds per trial (Hicks et al. 2015, J Biomech Eng 137:020905).

    A trial is flagged when its IK marker RMS or max error, or the RMS or peak
    of its residual (root-joint) forces or moments, reaches the limit.
    Residuals leave out ``edge_s`` seconds at each end of the trial.
    """

    marker_rms_mm: float = Field(default=20.0, gt=0)
    marker_max_mm: float = Field(default=40.0, gt=0)
    residual_force_rms_n: float = Field(default=15.0, gt=0)
    residual_force_peak_n: float = Field(default=25.0, gt=0)
    residual_moment_rms_nm: float | None = Field(default=None, gt=0)
    residual_moment_peak_nm: float = Field(default=75.0, gt=0)
    edge_s: float = Field(default=0.05, ge=0)


class IKSpec(_Strict):
    """Inverse kinematics settings (``setup``: an OpenSim IK setup file whose marker weights to use).

    ``chunk_frames``: solve a trial of more frames than this as several tasks
    of about this many frames each (``ik_chunk``), joined into the trial's
    ``ik`` result, so that one long trial uses several workers; ``null`` (the
    default) solves every trial in one task. Each chunk first solves a few
    frames before its own and drops them, so the joined result equals the
    whole-trial solve within the solver's accuracy (see
    :mod:`simpipe.stages.ik_parallel`). Trials given as .c3d files are
    always solved whole.
    """

    marker_weights: dict[str, float] = Field(default_factory=dict)
    setup: Path | None = None
    accuracy: float = Field(default=1e-6, gt=0)
    chunk_frames: int | None = Field(default=None, ge=MIN_CHUNK_FRAMES)


class ScaleSpec(_Strict):
    """Scaling: segment -> marker pairs whose distance ratio gives the factor."""

    measurements: dict[str, list[tuple[str, str]]] | None = None
    marker_weights: dict[str, float] = Field(default_factory=dict)
    setup: Path | None = None


class AnalysisSpec(_Strict):
    """Event detection and propulsion metrics."""

    stance_threshold_n: float = Field(default=20.0, gt=0)


def _check_bytes(value: str) -> str:
    from dask.utils import parse_bytes

    try:
        parse_bytes(value)
    except (ValueError, TypeError):
        raise ValueError(f"expected an amount of memory such as '4GiB' or '500MB', got {value!r}") from None
    return value


class AdaptiveSpec(_Strict):
    """Adaptive scaling: between ``min_jobs`` and ``max_jobs`` SLURM jobs, by load."""

    min_jobs: int = Field(default=0, ge=0, le=1000)
    max_jobs: int = Field(ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self):
        if self.min_jobs > self.max_jobs:
            raise ValueError(f"min_jobs ({self.min_jobs}) must not exceed max_jobs ({self.max_jobs})")
        return self


class SlurmSpec(_Strict):
    """One SLURM job of dask workers (dask-jobqueue ``SLURMCluster``).

    Each job books ``cores`` CPUs and ``memory`` for ``walltime`` in
    ``partition`` and runs ``processes`` single-threaded worker processes
    (default: one per core); each worker may use ``memory / processes``.
    """

    partition: str | None = None
    account: str | None = None
    cores: int = Field(default=1, ge=1, le=1024)
    processes: int | None = Field(default=None, ge=1, le=1024)
    memory: str = "4GiB"
    walltime: str = "01:00:00"
    job_extra_directives: list[str] = Field(default_factory=list)
    job_script_prologue: list[str] = Field(default_factory=list)
    adaptive: AdaptiveSpec | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    python: str | None = None
    interface: str | None = None
    worker_lifetime: str | None = None

    @field_validator("memory")
    @classmethod
    def _memory(cls, value):
        return _check_bytes(value)

    @field_validator("walltime", mode="before")
    @classmethod
    def _walltime_is_text(cls, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError("write the walltime in quotes, e.g. '12:00:00' (unquoted, YAML reads "
                             "12:00:00 as the number 43200)")
        return value

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, value):
        if not re.fullmatch(r"(\d+-)?\d+(:\d{1,2}){0,2}", value):
            raise ValueError(f"expected a SLURM time such as '02:00:00', '30:00' or '1-12:00:00', got {value!r}")
        return value

    @field_validator("worker_lifetime")
    @classmethod
    def _lifetime(cls, value):
        if value is not None and not re.fullmatch(r"\d+(\.\d+)?\s*(s|m|h)", value):
            raise ValueError(f"expected a duration such as '55m' or '3h', got {value!r}")
        return value

    @model_validator(mode="after")
    def _processes_fit(self):
        if self.processes is not None and self.processes > self.cores:
            raise ValueError(f"processes ({self.processes}) must not exceed cores ({self.cores}): "
                             "each worker process is single-threaded and needs its own core")
        if self.worker_lifetime is not None and self.adaptive is None:
            raise ValueError("worker_lifetime needs an 'adaptive' block: retired workers are "
                             "replaced only by adaptive scaling")
        return self

    @property
    def workers_per_job(self) -> int:
        """Single-threaded worker processes per job."""
        return self.processes or self.cores


class MusclesSpec(_Strict):
    """Muscle forces per trial x variant (stage ``muscles``) and the
    induced-acceleration analysis (stage ``iaa``).

    ``method``: ``moco_inverse`` (MocoInverse: DeGrooteFregly muscles with
    passive forces and activation dynamics, reserves on every coordinate) or
    ``static_optimization`` (per frame, passive forces included; faster).

    ``warm_start`` (``moco_inverse`` only): order each trial's variants along
    the sweep axis and start every MocoInverse solve but one from the
    solution of its neighbour on that axis, instead of from Moco's default
    guess. The solve of the middle variant starts cold and the others follow
    outward from it, so a trial's variants run as a tree of depth
    ``ceil((K + 1) / 2)`` instead of side by side; see
    :func:`simpipe.run.plan.warm_start_order` for the trade-off. Default
    true: on 2 workers the quickstart's muscle stage (2 trials x 4 variants)
    takes 0.81x the time of cold solves on the simulated example (0.78x on
    the earlier prescribed one; ``bench_muscles_warmstart.py``, RESULTS.md);
    a study with fewer trials than workers loses (1.2x for one trial on 2
    workers): set it false there.
    """

    method: Literal["moco_inverse", "static_optimization"] = "moco_inverse"
    mesh_interval: float = Field(default=0.02, gt=0)
    reserve_optimal_force: float = Field(default=10.0, gt=0)
    residual_optimal_force: float = Field(default=100.0, gt=0)
    tolerance: float = Field(default=1e-3, gt=0)
    max_iterations: int = Field(default=1000, ge=1)
    tendon_compliance: bool = False
    finite_difference: Literal["forward", "central"] = "forward"
    time_range: tuple[float, float] | None = None
    foot_flat_rad_s: float | None = Field(default=None, gt=0)
    warm_start: bool = True

    def solver_options(self) -> dict:
        """The options of :class:`simpipe.stages.muscles.MuscleOptions`."""
        return self.model_dump(exclude={"foot_flat_rad_s", "warm_start"})


class ClusterSpec(_Strict):
    """Where tasks run.

    ``local``: a distributed LocalCluster of ``n_workers`` processes.
    ``slurm``: dask-jobqueue SLURM jobs described by the ``slurm`` block,
    ``n_workers`` worker processes in all (rounded up to whole jobs) unless
    ``slurm.adaptive`` scales the number of jobs with the load.
    """

    kind: Literal["local", "slurm"] = "local"
    n_workers: int = Field(default=2, ge=1, le=4096)
    retries: int = Field(default=1, ge=0, le=10)
    memory_limit: str = "auto"
    slurm: SlurmSpec | None = None

    @field_validator("memory_limit")
    @classmethod
    def _memory_limit(cls, value):
        return value if value == "auto" else _check_bytes(value)

    @model_validator(mode="after")
    def _block_matches_kind(self):
        if self.kind != "slurm" and self.slurm is not None:
            raise ValueError(f"a 'slurm' block is given but kind is {self.kind!r}; set kind: slurm")
        return self

    @property
    def slurm_spec(self) -> SlurmSpec:
        """The SLURM block (its defaults when the config gives none)."""
        return self.slurm if self.slurm is not None else SlurmSpec()


class BaselinesSpec(_Strict):
    """Moco simulations of running, one per swept stiffness, in which the motion adapts.

    Attributes
    ----------
    speed_m_s : float
        Average forward speed of the simulations.
    cycle_time_s : float
        Gait-cycle duration (the problem spans half of it, with left/right symmetry).
    tracking_weights : list of float
        Weight of tracking the unimpaired reference gait against effort: the
        family is solved once per weight (a high weight keeps the motion close
        to the reference, a low one lets the optimizer trade tracking for
        effort), to show how much the answer depends on it.
    mesh_intervals : int
        Mesh intervals over the half cycle (15: the coarsest that gives a
        sustained stance; see simpipe/example/SIMULATION_NOTES.md).
    max_iterations : int
        IPOPT iteration limit per solve.
    convergence_tolerance : float
        IPOPT tolerance (that of :data:`simpipe.example.simulate.COARSE`).
    warm_start : bool
        Each point starts from its neighbour's solution along the stiffness
        axis (continuation); False solves every point from the reference.
    noise_mm : float
        Marker noise (mm, per axis) of the written trials; 0 = exact.
    output : Path, optional
        Folder of the family; default ``<study output>/baselines``.
    """

    speed_m_s: float = Field(3.5, gt=0.5, le=8.0)
    cycle_time_s: float = Field(0.705, gt=0.3, le=1.5)
    tracking_weights: list[float] = Field(default_factory=lambda: [20.0, 2.0], min_length=1)
    mesh_intervals: int = Field(15, ge=5, le=200)
    max_iterations: int = Field(1000, ge=1)
    convergence_tolerance: float = Field(1e-2, gt=0)
    warm_start: bool = True
    noise_mm: float = Field(0.0, ge=0)
    output: Path | None = None

    @field_validator("tracking_weights")
    @classmethod
    def _positive_unique(cls, weights):
        if any(w <= 0 for w in weights):
            raise ValueError(f"tracking weights must be > 0, got {weights}")
        if len(set(weights)) != len(weights):
            raise ValueError(f"tracking weights must be distinct, got {weights}")
        return weights


class Study(_Strict):
    """A whole study, as read from its YAML file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    model: ModelSpec
    muscle_groups: dict[str, list[str]] | None = None
    joints: dict[str, JointSpec] = Field(default_factory=_builtin_joints)
    feet: FeetSpec = FeetSpec()
    subjects: list[SubjectSpec] = Field(min_length=1)
    sweep: SweepSpec
    stages: list[str] = Field(default_factory=lambda: list(DEFAULT_STAGES))
    filter: FilterSpec = FilterSpec()
    ik: IKSpec = IKSpec()
    scale: ScaleSpec = ScaleSpec()
    analysis: AnalysisSpec = AnalysisSpec()
    muscles: MusclesSpec = MusclesSpec()
    gaps: GapsSpec = GapsSpec()
    c3d: C3DSpec = C3DSpec()
    qc: QCSpec = QCSpec()
    output: Path
    cluster: ClusterSpec = ClusterSpec()
    baselines: BaselinesSpec | None = None

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, stages):
        unknown = [s for s in stages if s not in KNOWN_STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; known stages: {list(KNOWN_STAGES)}")
        needs = {"id": ["ik"], "joint_work": ["ik", "id"], "passive": ["ik"],
                 "muscles": ["ik", "id"], "iaa": ["ik", "id", "muscles"]}
        for stage in stages:
            missing = [n for n in needs.get(stage, []) if n not in stages]
            if missing:
                raise ValueError(f"stage {stage!r} needs stage(s) {missing}")
        return [s for s in KNOWN_STAGES if s in stages]

    @field_validator("subjects")
    @classmethod
    def _unique_subjects(cls, subjects):
        ids = [s.id for s in subjects]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"subject ids must be unique; repeated: {dup}")
        return subjects

    @property
    def groups(self) -> dict[str, list[str]]:
        """Muscle groups (the built-in mapping unless the config gives one)."""
        return dict(self.muscle_groups) if self.muscle_groups is not None else dict(BUILTIN_GROUPS)

    @property
    def measurements(self) -> dict[str, list[tuple[str, str]]]:
        """Scaling marker pairs (built-in ones unless the config gives them)."""
        if self.scale.measurements is not None:
            return {k: [tuple(p) for p in v] for k, v in self.scale.measurements.items()}
        return {k: [tuple(p) for p in v] for k, v in BUILTIN_MEASUREMENTS.items()}


def _format_error(err: dict) -> str:
    loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return f"unknown key '{loc}' (check its spelling; see README 'Study config')"
    if err["type"] == "missing":
        return f"missing required key '{loc}'"
    value = err.get("input")
    shown = repr(value) if not isinstance(value, dict) else "{...}"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"key '{loc}' = {shown}: {msg}"


def _resolve_paths(study: Study, base: Path) -> Study:
    def absolute(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = Path(p).expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    subjects = []
    for subj in study.subjects:
        trials = [t.model_copy(update={"markers": absolute(t.markers), "grf": absolute(t.grf),
                                       "c3d": absolute(t.c3d), "external_loads": absolute(t.external_loads)})
                  for t in subj.trials]
        subjects.append(subj.model_copy(update={"static": absolute(subj.static), "trials": trials}))
    model = study.model.model_copy(update={"path": absolute(study.model.path)})
    ik = study.ik.model_copy(update={"setup": absolute(study.ik.setup)})
    scale = study.scale.model_copy(update={"setup": absolute(study.scale.setup)})
    return study.model_copy(update={"subjects": subjects, "model": model, "ik": ik, "scale": scale,
                                    "output": absolute(study.output)})


def _check_files(study: Study, config_path: Path) -> None:
    files = [(k, p) for k, p in (("model.path", study.model.path), ("ik.setup", study.ik.setup),
                                 ("scale.setup", study.scale.setup)) if p]
    for i, subj in enumerate(study.subjects):
        files.append((f"subjects.{i}.static", subj.static))
        for j, trial in enumerate(subj.trials):
            files += [(f"subjects.{i}.trials.{j}.{k}", getattr(trial, k))
                      for k in ("markers", "grf", "c3d", "external_loads") if getattr(trial, k) is not None]
    for key, path in files:
        if not Path(path).is_file():
            raise ConfigError(f"{config_path}: key '{key}': file not found: {path}")


def parse_study(text: str, config_path: Path, check_files: bool = True) -> Study:
    """Validate YAML text into a :class:`Study`.

    Parameters
    ----------
    text : str
        The YAML document.
    config_path : Path
        Where it came from: names the file in errors and anchors relative paths.
    check_files : bool
        Also check that every input file exists.

    Returns
    -------
    Study
        The validated study, with absolute paths.

    Raises
    ------
    ConfigError
        One line naming the file, the key, the value and what was expected.
    """
    config_path = Path(config_path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: not valid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: expected a mapping of keys at the top level")
    try:
        study = Study.model_validate(raw)
    except ValidationError as exc:
        first = _format_error(exc.errors()[0])
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{config_path}: {first}{suffix}") from None
    study = _resolve_paths(study, config_path.resolve().parent)
    if check_files:
        _check_files(study, config_path)
    return study


def load_study(path: str | Path, check_files: bool = True) -> tuple[Study, str]:
    """Read and validate a study YAML file.

    Returns
    -------
    study : Study
    text : str
        The file's text, stored verbatim in the results for provenance.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: study file not found")
    text = path.read_text()
    return parse_study(text, path, check_files=check_files), text


def config_hash(text: str) -> str:
    """SHA-256 of the configuration text (its provenance fingerprint)."""
    return hashlib.sha256(text.encode()).hexdigest()
