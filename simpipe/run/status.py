"""Where a study stands: done, failed, skipped and pending tasks per stage.

``run_study`` writes ``<out>/plan.json`` (every task's stage, key, label and
the keys it depends on) before it computes anything. The cache records each
finished task as ``<out>/cache/<stage>/<key>.pkl`` and each failure as
``<out>/cache/failed/<stage>/<key>.json``. Together they tell, at any moment
and from any machine that sees the output folder (a login node while SLURM
jobs run, or after a run was killed), what is done and what is left.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import SimpipeError
from ..io.hashing import write_bytes_atomic as _atomic_write
from .cache import TaskCache
from .plan import Plan

#: Name of the plan index in the output folder.
PLAN_FILE = "plan.json"
#: Task states, in the order they are shown.
STATES = ("done", "failed", "skipped", "pending")


def write_plan_index(plan: Plan, out: str | Path, config_path: str | Path) -> Path:
    """Write ``<out>/plan.json``: the tasks of a plan and their dependencies.

    Parameters
    ----------
    plan : Plan
    out : str or Path
        The study's output folder.
    config_path : str or Path
        The study YAML, recorded for the reader.

    Returns
    -------
    Path
    """
    tasks = [{"stage": t.stage, "key": t.key, "label": t.label,
              "deps": sorted({key for key, _ in t.deps.values()})} for t in plan.tasks]
    index = {"config_path": str(Path(config_path).resolve()), "simpipe_version": __version__,
             "written_unix": time.time(), "tasks": tasks}
    path = Path(out) / PLAN_FILE
    _atomic_write(path, json.dumps(index, indent=1).encode())
    return path


@dataclass
class StudyStatus:
    """State of every task of a study's plan.

    Attributes
    ----------
    out : Path
    stages : dict
        Stage -> {state -> count}, stages in plan order.
    states : dict
        Task label -> state (one of :data:`STATES`).
    failures : list of dict
        Tasks that failed themselves: ``task``, ``stage``, ``error``, ``time``.
    """

    out: Path
    stages: dict = field(default_factory=dict)
    states: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    def count(self, state: str) -> int:
        """Number of tasks in a state."""
        return sum(c[state] for c in self.stages.values())

    @property
    def total(self) -> int:
        return len(self.states)

    @property
    def complete(self) -> bool:
        return self.count("done") == self.total


def _read_index(out: Path) -> dict:
    path = out / PLAN_FILE
    if not path.is_file():
        raise SimpipeError(f"{out}: no {PLAN_FILE} here; is this the output folder of a study "
                           "started with `simpipe run`?")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SimpipeError(f"{path}: cannot read the plan index ({exc})") from None


def _task_state(task: dict, cache: TaskCache, failed: dict, states: dict) -> str:
    if cache.has(task["stage"], task["key"]):
        return "done"
    if task["key"] in failed:
        return "failed"
    if any(states.get(dep) in ("failed", "skipped") for dep in task["deps"]):
        return "skipped"
    return "pending"


def study_status(out: str | Path) -> StudyStatus:
    """Read the state of a study from its output folder.

    Parameters
    ----------
    out : str or Path
        The study's output folder (``output`` of its config).

    Returns
    -------
    StudyStatus

    Raises
    ------
    SimpipeError
        If the folder holds no plan index.

    Notes
    -----
    A failure record of a task that has since finished (a retry or a rerun
    succeeded) is removed by the cache, so ``failed`` means the last attempt
    failed. Records of tasks that are no longer in the plan (an edited
    config) are ignored.
    """
    out = Path(out)
    index = _read_index(out)
    cache = TaskCache(out / "cache")
    failed = {f["key"]: f for f in cache.failures()}
    status = StudyStatus(out)
    by_key: dict[str, str] = {}
    for task in index["tasks"]:
        state = _task_state(task, cache, failed, by_key)
        by_key[task["key"]] = state
        status.states[task["label"]] = state
        counts = status.stages.setdefault(task["stage"], dict.fromkeys(STATES, 0))
        counts[state] += 1
        if state == "failed":
            record = failed[task["key"]]
            status.failures.append({"task": task["label"], "stage": task["stage"],
                                    "error": record.get("error", ""), "time": record.get("time")})
    return status


def format_status(status: StudyStatus) -> str:
    """A table of states per stage, then one line per failed task."""
    lines = [f"{'stage':<11}" + "".join(f"{s:>9}" for s in STATES) + f"{'total':>9}"]
    for stage, counts in status.stages.items():
        lines.append(f"{stage:<11}" + "".join(f"{counts[s]:>9}" for s in STATES)
                     + f"{sum(counts.values()):>9}")
    lines.append(f"{'all':<11}" + "".join(f"{status.count(s):>9}" for s in STATES) + f"{status.total:>9}")
    for f in status.failures:
        lines.append(f"FAILED {f['task']}: {f['error']}")
    return "\n".join(lines)
