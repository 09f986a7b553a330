"""Task time stamps: every computed task records when it started and ended, and where.

A small real study (the quickstart with two variants) runs on a LocalCluster
of 2 workers; the stamps of its tasks must lie within the ``run_study`` call,
agree with the task's seconds, and order every task after the tasks it
depends on.
"""

import os
import time

import pytest
import yaml

from _study import need_example, quickstart_copy


@pytest.fixture(scope="module")
def timed_study(tmp_path_factory):
    need_example()
    from simpipe.run.study import run_study

    cfg = quickstart_copy(tmp_path_factory.mktemp("timing"), {"kind": "local", "n_workers": 2})
    raw = yaml.safe_load(cfg.read_text())
    raw["sweep"]["values"] = raw["sweep"]["values"][:2]
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    before = time.time()
    res = run_study(cfg)
    after = time.time()
    assert not res.outcome.failed, res.outcome.failed
    return cfg, res, before, after


def _stamps(res) -> dict:
    """Task key -> (started_unix, ended_unix, seconds)."""
    return {key: (m["started_unix"], m["ended_unix"], m["seconds"])
            for key, m in ((k, v["_meta"]) for k, v in res.outcome.values.items())}


def test_every_task_stamped_within_the_run(timed_study):
    _, res, before, after = timed_study
    stamps = _stamps(res)
    assert set(stamps) == set(res.outcome.computed) == {t.key for t in res.plan.tasks}
    for key, (start, end, seconds) in stamps.items():
        assert before <= start <= end <= after, key
        assert end - start == pytest.approx(seconds, abs=1e-6), key
    pids = {v["_meta"]["pid"] for v in res.outcome.values.values()}
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids  # the workers ran them, not this process


def test_dependent_tasks_start_after_their_inputs_end(timed_study):
    _, res, _, _ = timed_study
    stamps = _stamps(res)
    checked = 0
    for task in res.plan.tasks:
        for dep_key, _field in task.deps.values():
            assert stamps[dep_key][1] <= stamps[task.key][0], (task.label, dep_key)
            checked += 1
    assert checked >= len(res.plan.tasks) - 1  # only the scale task has no inputs


def test_cached_tasks_keep_their_stamps(timed_study):
    from simpipe.run.study import run_study

    cfg, first, _, _ = timed_study
    again = run_study(cfg)
    assert again.outcome.computed == []
    assert _stamps(again) == _stamps(first)
