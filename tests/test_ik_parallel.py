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
