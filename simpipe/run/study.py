"""Run a whole study: config -> plan -> Dask -> results.h5 + summary.csv."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..config import Study, config_hash, load_study
from ..io.store import write_results
from .cache import TaskCache
from .cluster import make_client
from .execute import Outcome, Progress, run_plan
from .plan import Plan, build_plan
from .status import write_plan_index
from .summary import summary_rows, write_csv

log = logging.getLogger(__name__)

#: Where the repository keeps the built-in models (absent in a plain wheel install).
REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


def builtin_model_path(name: str, out: Path) -> Path:
    """Path of a built-in model: the committed file, else built into ``out``."""
    committed = REPO_MODELS / f"{name}.osim"
    if committed.is_file():
        return committed
    from ..model.builder import build_model

    target = out / "work" / "model" / f"{name}.osim"
    if not target.is_file():
        build_model(target, name=name)
    return target


@dataclass
class StudyResult:
    """What ``run_study`` produced."""

    study: Study
    plan: Plan
    outcome: Outcome
    results_path: Path
    summary_path: Path
    rows: list[dict]
    seconds_by_stage: dict
    wall_s: float


def _group(task) -> str:
    w = task.where
    if task.stage == "scale":
        return f"subjects/{w['subject']}/scale"
    if task.stage == "variant":
        return f"subjects/{w['subject']}/variants/{w['variant']}"
    base = f"subjects/{w['subject']}/trials/{w['trial']}"
    if "variant" in w:
        return f"{base}/variants/{w['variant']}/{task.stage}"
    return f"{base}/{task.stage}"


#: Stages whose outputs are parts of another task's output (not stored twice in results.h5).
PARTIAL_STAGES = ("ik_chunk",)


def _entries(plan: Plan, outcome: Outcome) -> list:
    entries = []
    for task in plan.tasks:
        value = outcome.values.get(task.key)
        if value is None or task.stage in PARTIAL_STAGES:
            continue
        attrs = {"task_key": task.key, "task": task.label,
                 "input_files": {k: v for k, v in task.kwargs.items()
                                 if k in ("generic_model", "static_trc", "trc", "grf_mot")}}
        entries.append((_group(task), value, attrs))
    return entries


def _seconds_by_stage(plan: Plan, outcome: Outcome, keys) -> dict:
    """Task seconds summed per stage over the given task keys."""
    keys = set(keys)
    out: dict[str, float] = {}
    for task in plan.tasks:
        if task.key in keys and task.key in outcome.values:
            out[task.stage] = out.get(task.stage, 0.0) + outcome.values[task.key]["_meta"]["seconds"]
    return out


def run_study(config_path: str | Path, progress: Progress | None = None,
              n_workers: int | None = None) -> StudyResult:
    """Run (or resume) the study described by a YAML file.

    Parameters
    ----------
    config_path : str or Path
    progress : callable, optional
        Progress callback (see :mod:`simpipe.run.execute`).
    n_workers : int, optional
        Override the config's number of local workers.

    Returns
    -------
    StudyResult
    """
    start = time.perf_counter()
    study, text = load_study(config_path)
    out = Path(study.output)
    out.mkdir(parents=True, exist_ok=True)
    model_path = study.model.path or builtin_model_path(study.model.builtin, out)
    plan = build_plan(study, Path(model_path))
    write_plan_index(plan, out, config_path)
    cluster = study.cluster if n_workers is None else study.cluster.model_copy(update={"n_workers": n_workers})
    cache = TaskCache(out / "cache")
    client_factory = functools.partial(make_client, cluster, out / "slurm")
    outcome = run_plan(plan, cache, client_factory, cluster.retries, progress)
    subjects = {s.id: [t.id for t in s.trials] for s in study.subjects}
    rows = summary_rows(plan, outcome.values, subjects, study.qc, study.joints)
    failures = [{"task": t.label, "stage": t.stage, "error": outcome.failed[t.key]}
                for t in plan.tasks if t.key in outcome.failed]
    provenance = {"config_text": text, "config_hash": config_hash(text), "config_path": str(config_path),
                  "simpipe_version": __version__, "opensim_version": _opensim_version(),
                  "model_path": str(model_path), "input_hashes": plan.input_hashes,
                  "seconds_by_stage": _seconds_by_stage(plan, outcome, outcome.values),
                  "created_unix": time.time()}
    results = write_results(out / "results.h5", provenance, _entries(plan, outcome), rows, failures)
    summary = write_csv(rows, out / "summary.csv")
    return StudyResult(study, plan, outcome, results, summary, rows, _seconds_by_stage(plan, outcome, outcome.computed),
                       time.perf_counter() - start)


def _opensim_version() -> str:
    import opensim

    return str(opensim.__version__)
