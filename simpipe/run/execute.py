"""Run a plan's tasks on Dask, resuming from the cache.

Tasks whose output is already cached are not submitted; the rest are
submitted in dependency order as futures, and their results arrive as they
finish. A failed task is recorded (stage, task, message) and its dependents
are reported as skipped; every other task still runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .cache import TaskCache
from .plan import Plan, Task
from .tasks import execute

log = logging.getLogger(__name__)

#: Callback signature: (n_done, n_total, task label, status).
Progress = Callable[[int, int, str, str], None]


@dataclass
class Outcome:
    """What running a plan gave.

    Attributes
    ----------
    values : dict
        Task key -> output dict, for every finished task.
    computed, cached : list of str
        Keys run now and keys taken from the cache.
    failed : dict
        Task key -> error message (including skipped dependents).
    """

    values: dict = field(default_factory=dict)
    computed: list = field(default_factory=list)
    cached: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)


def _resolve_deps(task: Task, values: dict, futures: dict):
    """Dependency arguments as (cached value or future, field) pairs."""
    deps = {}
    for name, (key, field_name) in task.deps.items():
        if key in values:
            deps[name] = (values[key], field_name)
        elif key in futures:
            deps[name] = (futures[key], field_name)
        else:
            return None
    return deps


def _owned(value):
    """``value`` with every array an aligned, writeable copy if it is not one.

    Arrays that arrive from another worker are views into the received
    message: read-only and possibly misaligned, which compiled code (SciPy's
    splines, OpenSim) rejects.
    """
    if isinstance(value, np.ndarray):
        ok = value.flags.aligned and value.flags.writeable
        return value if ok else np.array(value, copy=True, order="K")
    if isinstance(value, dict):
        return {k: _owned(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_owned(v) for v in value)
    return value


def _run_with_deps(stage, key, cache_root, label, kwargs, deps):
    """Worker entry point: pick fields out of dependency outputs, then run."""
    resolved = {name: _owned(out if field_name is None else out[field_name])
                for name, (out, field_name) in deps.items()}
    return execute(stage, key, cache_root, label, dict(kwargs, **resolved))


def _record_lost(cache: TaskCache, task: Task, key, exc) -> None:
    """Record a task given up after its workers died (no worker could record it)."""
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker) and exc.task == key:
        cache.record_failure(task.stage, task.key, task.label, f"KilledWorker: {exc}")


def run_plan(plan: Plan, cache: TaskCache, client_factory, retries: int = 1,
             progress: Progress | None = None) -> Outcome:
    """Execute every task of a plan that is not cached yet.

    Parameters
    ----------
    plan : Plan
    cache : TaskCache
    client_factory : callable
        Context manager returning a distributed Client; only entered when
        something must be computed.
    retries : int
        Dask retries per task (a task also retries when its worker dies).
    progress : callable, optional
        Called after each task ends.

    Returns
    -------
    Outcome
    """
    outcome = Outcome()
    todo = []
    for task in plan.tasks:
        if cache.has(task.stage, task.key):
            outcome.values[task.key] = cache.load(task.stage, task.key)
            outcome.cached.append(task.key)
        else:
            todo.append(task)
    total, done = len(plan.tasks), len(outcome.cached)
    if progress:
        progress(done, total, "cached", "cached")
    if not todo:
        return outcome
    from distributed import as_completed

    with client_factory() as client:
        futures, labels = {}, {}
        for task in todo:
            deps = _resolve_deps(task, outcome.values, futures)
            if deps is None:
                outcome.failed[task.key] = "skipped: a task it depends on failed"
                continue
            fut = client.submit(_run_with_deps, task.stage, task.key, str(cache.root), task.label,
                                task.kwargs, deps, key=f"{task.stage}-{task.key}", retries=retries,
                                pure=False)
            futures[task.key], labels[fut.key] = fut, task
        for fut in as_completed(list(futures.values())):
            task = labels[fut.key]
            done += 1
            if fut.status == "finished":
                outcome.values[task.key] = fut.result()
                outcome.computed.append(task.key)
                status = "done"
            else:
                exc = fut.exception()
                _record_lost(cache, task, fut.key, exc)
                own = any(f["key"] == task.key for f in cache.failures())
                outcome.failed[task.key] = (f"{type(exc).__name__}: {exc}" if own
                                            else f"skipped: a task it depends on failed ({exc})")
                status = "failed"
            if progress:
                progress(done, total, task.label, status)
    return outcome
