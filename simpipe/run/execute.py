"""Run a plan's tasks on Dask, resuming from the cache.

Tasks whose output is already cached are not submitted. The rest are
submitted once every task they depend on has finished, and a worker reads
those inputs from the cache, not from the worker that computed them.
Why: OpenSim's Python bindings hold the GIL through a whole call, so a
worker inside a MocoInverse solve cannot serve its results to anyone
(measured: 27 of 137 worker-seconds idle on 2 workers when Dask moved the
inputs itself and queued dependents behind the solves on the worker that
held their inputs). Tasks that others wait for go first (Dask priority). A
failed task is recorded (stage, task, message) and its dependents are
reported as skipped; every other task still runs.
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
    """Worker entry point: read the inputs from the cache, pick their fields, run.

    ``deps`` maps an argument name to ``(stage, key, field)`` of the task
    whose output (or one field of it; None: all of it) the argument is.
    Returns nothing: the output is in the cache (``execute`` saved it), where
    the client reads it, so no result travels through Dask.
    """
    cache = TaskCache(cache_root)
    resolved = {}
    for name, (dep_stage, dep_key, field_name) in deps.items():
        out = cache.load(dep_stage, dep_key)
        resolved[name] = _owned(out if field_name is None else out[field_name])
    execute(stage, key, cache_root, label, dict(kwargs, **resolved))


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

    by_key = {task.key: task for task in plan.tasks}
    # inputs each task still waits for, and who waits for each task: a finished task then
    # releases its dependents without a scan over everything still waiting
    missing = {t.key: {k for k, _ in t.deps.values() if k not in outcome.values} for t in todo}
    dependents: dict[str, list[Task]] = {}
    for task in todo:
        for key in missing[task.key]:
            dependents.setdefault(key, []).append(task)
    with client_factory() as client:
        running, labels = as_completed(), {}

        def submit(task: Task) -> None:
            deps = {name: (by_key[key].stage, key, field_name)
                    for name, (key, field_name) in task.deps.items()}
            fut = client.submit(_run_with_deps, task.stage, task.key, str(cache.root), task.label,
                                task.kwargs, deps, key=f"{task.stage}-{task.key}", retries=retries,
                                pure=False, priority=1 if task.key in dependents else 0)
            labels[fut.key] = task
            running.add(fut)

        def skip_dependents(failed_key: str) -> None:
            stack = [failed_key]
            while stack:
                key = stack.pop()
                for task in dependents.get(key, ()):
                    if task.key not in outcome.failed:
                        outcome.failed[task.key] = (f"skipped: a task it depends on failed "
                                                    f"({by_key[key].label})")
                        stack.append(task.key)

        for task in todo:
            if not missing[task.key]:
                submit(task)
        for fut in running:
            task = labels[fut.key]
            done += 1
            if fut.status == "finished" and cache.has(task.stage, task.key):
                outcome.values[task.key] = cache.load(task.stage, task.key)
                outcome.computed.append(task.key)
                status = "done"
                for dependent in dependents.get(task.key, ()):
                    missing[dependent.key].discard(task.key)
                    if not missing[dependent.key] and dependent.key not in outcome.failed:
                        submit(dependent)
            else:
                exc = fut.exception() if fut.status != "finished" else RuntimeError(
                    f"the task finished but its output is not in the cache {cache.root}: "
                    "the workers must see the study's output folder")
                _record_lost(cache, task, fut.key, exc)
                outcome.failed[task.key] = f"{type(exc).__name__}: {exc}"
                status = "failed"
                skip_dependents(task.key)
            if progress:
                progress(done, total, task.label, status)
    return outcome
