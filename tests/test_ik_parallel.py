"""Chunked IK: chunks cover every frame once and join into the unchunked solution.

The trial is generated here from the built-in model at known poses (markers
are the model's own markers), so the test needs no example data.
"""

import math

import numpy as np
import pytest

from simpipe.data import Markers
from simpipe.errors import StageError
from simpipe.io.trc import write_trc
from simpipe.stages.ik import inverse_kinematics
from simpipe.stages.ik_parallel import (Chunk, count_frames, ik_chunk_task, ik_join_task,
                                        inverse_kinematics_chunked, join_chunks, plan_chunks, solve_chunk)
from simpipe.stages.osimutil import coordinate_names, load_model, set_pose

from conftest import MODEL

N_FRAMES, RATE = 90, 100.0


def _poses(time, names):
    """Running-like swings of every joint and a pelvis moving forward (rad, m)."""
    phase = 2 * math.pi * time / 0.7
    q = np.zeros((len(time), len(names)))
    for j, name in enumerate(names):
        if name == "pelvis_tx":
            q[:, j] = 3.5 * time
        elif name == "pelvis_ty":
            q[:, j] = 0.95 + 0.03 * np.cos(2 * phase)
        else:
            shift = math.pi if name.endswith("_l") else 0.0
            sign = -1.0 if name.startswith("knee") else 1.0
            q[:, j] = np.radians(10 + 25 * np.sin(phase + shift + 0.3 * j)) * sign
    return q


@pytest.fixture(scope="module")
def trial():
    model = load_model(MODEL)
    state = model.initSystem()
    names = coordinate_names(model)
    time = np.arange(N_FRAMES) / RATE
    q = _poses(time, names)
    ms = model.getMarkerSet()
    labels = [ms.get(i).getName() for i in range(ms.getSize())]
    xyz = np.empty((N_FRAMES, len(labels), 3))
    for k in range(N_FRAMES):
        set_pose(model, state, q[k])
        model.realizePosition(state)
        for j in range(len(labels)):
            p = ms.get(j).getLocationInGround(state)
            xyz[k, j] = (p.get(0), p.get(1), p.get(2))
    return Markers(time, labels, xyz)


@pytest.fixture(scope="module")
def unchunked(trial):
    return inverse_kinematics(MODEL, trial, accuracy=1e-8)


@pytest.mark.parametrize("n, size", [(1, None), (10, 3), (90, 30), (91, 30), (100, 7), (5, 100), (720, 360)])
def test_chunks_cover_every_frame_once(n, size):
    chunks = plan_chunks(n, size, lead=4)
    kept = np.concatenate([np.arange(c.start, c.stop) for c in chunks])
    assert kept.tolist() == list(range(n))
    assert len(chunks) == (1 if size is None else -(-n // size))
    solved = [c.stop - c.first for c in chunks]
    assert max(solved) - min(solved) <= 1  # balanced on the frames each task solves
    assert all(c.stop - c.start <= (size or n) + 4 for c in chunks)
    assert chunks[0].lead == 0 and all(0 < c.lead <= 4 for c in chunks[1:])
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_plan_rejects_bad_sizes():
    for args in [(0, 5), (10, 0), (10, -1)]:
        with pytest.raises(ValueError):
            plan_chunks(*args)
    with pytest.raises(ValueError):
        plan_chunks(10, 5, lead=-1)


def test_joined_chunks_equal_the_unchunked_solve(trial, unchunked):
    joined = inverse_kinematics_chunked(MODEL, trial, chunk_frames=25, accuracy=1e-8, lead=5)
    np.testing.assert_array_equal(joined.time, unchunked.time)
    assert joined.coordinates == unchunked.coordinates and joined.markers == unchunked.markers
    boundaries = [c.start for c in plan_chunks(N_FRAMES, 25)][1:]
    around = sorted({k + d for k in boundaries for d in (-1, 0, 1)})
    dq = np.abs(joined.q - unchunked.q)
    assert np.degrees(dq[around].max()) < 1e-4
    assert np.degrees(dq.max()) < 1e-4
    np.testing.assert_allclose(joined.marker_error, unchunked.marker_error, atol=1e-7)
    assert unchunked.rms_error.max() < 1e-4  # noise-free markers: the solve is exact


def test_chunk_keeps_only_its_frames(trial):
    part = solve_chunk(MODEL, trial, Chunk(2, 40, 60, 6), accuracy=1e-8)
    np.testing.assert_array_equal(part.time, trial.time[40:60])
    assert part.q.shape == (20, 10) and part.marker_error.shape == (20, len(part.markers))


def test_join_rejects_overlap_and_mixed_setups(trial):
    a = solve_chunk(MODEL, trial, Chunk(0, 0, 12, 0))
    b = solve_chunk(MODEL, trial, Chunk(1, 10, 20, 2))
    with pytest.raises(StageError, match="overlap"):
        join_chunks([a, b])
    c = solve_chunk(MODEL, trial, Chunk(1, 12, 20, 2))
    c.markers = list(reversed(c.markers))
    with pytest.raises(StageError, match="differ"):
        join_chunks([a, c])
    with pytest.raises(StageError):
        join_chunks([])


def test_tasks_join_into_the_ik_task_output(trial, unchunked, tmp_path):
    trc = write_trc(trial, tmp_path / "trial.trc")
    assert count_frames(trc) == N_FRAMES and count_frames(trc, (0.1, 0.5)) == 41
    outs = {f"chunk_{c.index}": ik_chunk_task(str(MODEL), str(trc), {}, 1e-8, None, None,
                                              c.index, c.start, c.stop, c.lead)
            for c in plan_chunks(N_FRAMES, 45, lead=5)}
    with pytest.raises(StageError, match="gaps"):
        ik_join_task(str(tmp_path / "bad"), chunk_1=outs["chunk_1"])
    out = ik_join_task(str(tmp_path / "work"), **outs)
    assert out["chunks"] == 2 and (tmp_path / "work" / "ik.mot").is_file()
    assert set(out) >= {"time", "coordinates", "q", "markers", "marker_error", "mot"}
    assert np.degrees(np.abs(out["q"] - unchunked.q).max()) < 1e-4


# --- chunked IK in a study ----------------------------------------------------

def _study_yaml(folder, chunk_frames=None, values=(0.6, 0.3)):
    import yaml

    from _study import quickstart_config

    cfg = quickstart_config()
    cfg["sweep"]["values"] = list(values)
    cfg["stages"] = ["scale", "ik", "id", "joint_work"]
    cfg["output"] = str(folder / "out")
    cfg["cluster"] = {"kind": "local", "n_workers": 2}
    if chunk_frames is not None:
        cfg["ik"] = {"chunk_frames": chunk_frames}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_plan_cuts_long_trials_into_chunks_joined_by_the_ik_task(tmp_path):
    from _study import need_example
    from simpipe.config import load_study
    from simpipe.run.plan import build_plan

    need_example()
    whole = build_plan(load_study(_study_yaml(tmp_path / "a"))[0], MODEL)
    study = load_study(_study_yaml(tmp_path / "b", chunk_frames=60))[0]
    chunked = build_plan(study, MODEL)
    frames = count_frames(study.subjects[0].trials[0].markers)
    n_chunks = math.ceil(frames / 60)
    assert len(chunked.by_stage("ik_chunk")) == 2 * n_chunks and not whole.by_stage("ik_chunk")
    assert len(chunked.by_stage("ik")) == len(whole.by_stage("ik")) == 2
    keys = {t.key: t for t in chunked.tasks}
    order = {t.key: i for i, t in enumerate(chunked.tasks)}
    for ik in chunked.by_stage("ik"):
        parts = [keys[k] for k, _ in ik.deps.values()]
        assert sorted(p.kwargs["index"] for p in parts) == list(range(n_chunks))
        assert all(p.stage == "ik_chunk" and p.where["trial"] == ik.where["trial"] for p in parts)
        assert all(order[p.key] < order[ik.key] for p in parts)  # submitted before their join
        assert ik.kwargs["join"] is True and ik.kwargs["trc"].endswith(f"{ik.where['trial']}.trc")
    for idt in chunked.by_stage("id"):  # later tasks depend on the join, as on the whole-trial task
        assert keys[idt.deps["ik"][0]].stage == "ik"
    # untouched stages keep their cache keys; the IK and what reads it do not
    same = {t.label: t.key for t in whole.tasks}
    assert all(same[t.label] == t.key for t in chunked.tasks if t.stage == "scale")
    assert all(same[t.label] != t.key for t in chunked.tasks if t.stage in ("ik", "id"))


def test_chunk_size_above_the_trial_length_plans_the_whole_trial_task(tmp_path):
    from _study import need_example
    from simpipe.config import load_study
    from simpipe.run.plan import build_plan

    need_example()
    whole = build_plan(load_study(_study_yaml(tmp_path / "a"))[0], MODEL)
    long = build_plan(load_study(_study_yaml(tmp_path / "b", chunk_frames=100_000))[0], MODEL)
    assert [t.key for t in long.tasks] == [t.key for t in whole.tasks]  # same cache keys


@pytest.mark.parametrize("size", [0, 9, -5])
def test_config_rejects_tiny_chunks(tmp_path, size):
    from simpipe.config import parse_study
    from simpipe.errors import ConfigError

    with pytest.raises(ConfigError, match="ik.chunk_frames"):
        parse_study(_study_yaml(tmp_path, chunk_frames=size).read_text(), tmp_path / "study.yaml",
                    check_files=False)


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory):
    """The quickstart up to joint work (2 variants) run whole and with IK in 60-frame chunks."""
    from _study import need_example
    from simpipe.run.study import run_study

    need_example()
    tmp = tmp_path_factory.mktemp("chunked_study")
    whole = run_study(_study_yaml(tmp / "whole"))
    chunked = run_study(_study_yaml(tmp / "chunked", chunk_frames=60))
    assert not whole.outcome.failed and not chunked.outcome.failed, (whole.outcome.failed,
                                                                     chunked.outcome.failed)
    return whole, chunked


def test_chunked_study_gives_the_summary_and_ik_of_the_whole_one(two_studies):
    import h5py

    from _study import read_summary

    whole, chunked = two_studies
    a, b = read_summary(whole.summary_path), read_summary(chunked.summary_path)
    assert len(a) == len(b) == 4  # 2 trials x 2 variants: the chunks add no rows
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for k, x in ra.items():
            if isinstance(x, str):
                assert x == rb[k], k
            elif math.isnan(x):
                assert math.isnan(rb[k]), k
            else:  # equal within the IK solver's accuracy, carried through ID and joint work
                assert rb[k] == pytest.approx(x, rel=1e-4, abs=1e-6), (k, x, rb[k])
    with h5py.File(whole.results_path) as fa, h5py.File(chunked.results_path) as fb:
        for trial in ("run_01", "run_02"):
            ga, gb = fa[f"subjects/subject01/trials/{trial}/ik"], fb[f"subjects/subject01/trials/{trial}/ik"]
            np.testing.assert_array_equal(ga["time"][()], gb["time"][()])
            assert np.degrees(np.abs(ga["q"][()] - gb["q"][()]).max()) < 1e-3
            assert set(ga) == set(gb) - {"chunks"}
            assert "ik_chunk" not in fb[f"subjects/subject01/trials/{trial}"]  # stored once, joined


def test_status_counts_chunks_apart_from_the_trials_ik(two_studies):
    from simpipe.run.status import study_status

    _, chunked = two_studies
    status = study_status(chunked.summary_path.parent)
    assert status.complete
    assert status.stages["ik"] == {"done": 2, "failed": 0, "skipped": 0, "pending": 0}
    assert status.stages["ik_chunk"]["done"] == len(chunked.plan.by_stage("ik_chunk")) >= 4
    assert status.stages["id"]["done"] == 2
    assert set(chunked.seconds_by_stage) >= {"ik", "ik_chunk"}
