"""Inverse kinematics of one long trial in frame chunks, solved as separate tasks.

OpenSim's IK is sequential only through its warm start: each frame starts from
the previous frame's solution. A trial can therefore be cut into chunks of
consecutive frames, each solved by its own task; a chunk that does not start
the trial first solves a few *lead* frames before its first kept frame (and
drops them), so that its first kept frame is warm-started just as in the
unchunked solve. The joined result equals the unchunked one within the
solver's tolerance (checked by ``tests/test_ik_parallel.py`` and reported by
``benchmarks/bench_ik_id.py``).

The functions ending in ``_task`` take and return plain data (paths, numbers,
dicts of arrays), like those of :mod:`simpipe.run.tasks`, so a Dask worker can
run them and the cache can store their outputs. A study runs them when its
config sets ``ik.chunk_frames`` (:mod:`simpipe.run.plan`): one ``ik_chunk``
task per chunk and the trial's ``ik`` task joining them.

What a chunk task pays besides its own frames (``benchmarks/bench_ik_id.py``,
``CHUNK``, 3D model of 21 coordinates and 53 markers, 720 frames): reading
and filtering the whole trial (~0.07-0.1 s; kept per worker process for the
next chunk of the same trial, see :func:`cached_trial_markers`), loading the
model and initializing its system (~0.02 s) and the lead frames (~0.04 s).
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Markers, Table
from ..errors import InputError, StageError
from ..io.filtering import lowpass
from ..io.hashing import file_sha256
from ..io.sto import write_sto
from ..io.trc import read_trc
from .ik import IKResult, inverse_kinematics

log = logging.getLogger(__name__)

#: Frames solved and dropped before a chunk's first kept frame (warm start).
DEFAULT_LEAD_FRAMES = 5


@dataclass(frozen=True)
class Chunk:
    """Frames ``[start, stop)`` of a trial, solved after ``lead`` warm-up frames.

    Attributes
    ----------
    index : int
        Position of the chunk in the trial (0 first).
    start, stop : int
        First kept frame and one past the last kept frame.
    lead : int
        Frames before ``start`` that are solved first and then dropped.
    """

    index: int
    start: int
    stop: int
    lead: int

    @property
    def first(self) -> int:
        """First frame solved (``start - lead``)."""
        return self.start - self.lead


def plan_chunks(n_frames: int, chunk_frames: int | None, lead: int = DEFAULT_LEAD_FRAMES) -> list[Chunk]:
    """Cut ``n_frames`` frames into ``ceil(n_frames / chunk_frames)`` chunks.

    Parameters
    ----------
    n_frames : int
        Frames in the trial.
    chunk_frames : int or None
        Frames per chunk (the first chunk keeps up to ``lead`` more, see
        Returns); None or ``>= n_frames`` gives one chunk (the unchunked solve).
    lead : int
        Warm-up frames before every chunk but the first.

    Returns
    -------
    list of Chunk
        Consecutive, non-overlapping kept ranges covering every frame once.
        Chunks are balanced on the frames each one *solves* (kept + lead), so
        that tasks running side by side finish together: the first chunk,
        which has no lead, keeps ``lead`` frames more than the others.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be positive, got {n_frames}")
    if lead < 0:
        raise ValueError(f"lead must be >= 0, got {lead}")
    if chunk_frames is not None and chunk_frames < 1:
        raise ValueError(f"chunk_frames must be positive, got {chunk_frames}")
    n_chunks = 1 if chunk_frames is None else math.ceil(n_frames / chunk_frames)
    lead = min(lead, n_frames // (2 * n_chunks))  # a lead never dominates a chunk
    solved = (n_frames + (n_chunks - 1) * lead) / n_chunks
    edges = [0] + [min(n_frames, round(i * solved - (i - 1) * lead)) for i in range(1, n_chunks)] + [n_frames]
    return [Chunk(i, a, b, min(lead, a)) for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]


def _frames(markers: Markers, first: int, stop: int) -> Markers:
    return Markers(markers.time[first:stop], markers.names, markers.xyz[first:stop])


def solve_chunk(model_path: str | Path, markers: Markers, chunk: Chunk, weights: dict[str, float] | None = None,
                accuracy: float = 1e-6, source: str | Path = "<markers>") -> IKResult:
    """Inverse kinematics of one chunk of a trial.

    Parameters
    ----------
    model_path : str or Path
    markers : Markers
        The whole trial (already cut to its time range and filtered).
    chunk : Chunk
    weights, accuracy, source
        As in :func:`simpipe.stages.ik.inverse_kinematics`.

    Returns
    -------
    IKResult
        The kept frames ``[chunk.start, chunk.stop)`` only.
    """
    if chunk.stop > len(markers.time):
        raise StageError(f"{source}: chunk {chunk.index} ends at frame {chunk.stop} "
                         f"but the trial has {len(markers.time)} frames")
    res = inverse_kinematics(model_path, _frames(markers, chunk.first, chunk.stop), weights, accuracy, source)
    keep = slice(chunk.lead, None)
    return IKResult(res.time[keep], res.coordinates, res.q[keep], res.markers, res.marker_error[keep])


def join_chunks(parts: list[IKResult]) -> IKResult:
    """Concatenate chunk results in time order, checking that they fit.

    Parameters
    ----------
    parts : list of IKResult
        One per chunk, in any order.

    Returns
    -------
    IKResult

    Raises
    ------
    StageError
        If the chunks solve different coordinates or markers, or overlap.
    """
    if not parts:
        raise StageError("no IK chunks to join")
    parts = sorted(parts, key=lambda p: float(p.time[0]))
    head = parts[0]
    for prev, part in zip(parts[:-1], parts[1:]):
        if part.coordinates != head.coordinates or part.markers != head.markers:
            raise StageError("IK chunks differ in their coordinates or markers; they come from different setups")
        if part.time[0] <= prev.time[-1]:
            raise StageError(f"IK chunks overlap: one ends at {prev.time[-1]:.6g} s, "
                             f"the next starts at {part.time[0]:.6g} s")
    return IKResult(np.concatenate([p.time for p in parts]), list(head.coordinates),
                    np.concatenate([p.q for p in parts]), list(head.markers),
                    np.concatenate([p.marker_error for p in parts]))


def inverse_kinematics_chunked(model_path: str | Path, markers: Markers, chunk_frames: int | None,
                               weights: dict[str, float] | None = None, accuracy: float = 1e-6,
                               lead: int = DEFAULT_LEAD_FRAMES, source: str | Path = "<markers>") -> IKResult:
    """Chunked inverse kinematics, chunks solved one after the other here.

    The in-process reference of the chunked route (tests use it); the
    orchestrator instead runs :func:`ik_chunk_task` per chunk in parallel and
    :func:`ik_join_task` on their outputs.

    Parameters
    ----------
    model_path, markers, weights, accuracy, source
        As in :func:`simpipe.stages.ik.inverse_kinematics`.
    chunk_frames : int or None
        See :func:`plan_chunks`.
    lead : int
        Warm-up frames per chunk.

    Returns
    -------
    IKResult
    """
    chunks = plan_chunks(len(markers.time), chunk_frames, lead)
    return join_chunks([solve_chunk(model_path, markers, c, weights, accuracy, source) for c in chunks])


def load_trial_markers(trc: str | Path, time_range=None, markers_hz: float | None = None,
                       max_gap_frames: int = 10, filter_order: int = 4) -> Markers:
    """Read a trial, keep its time range and low-pass its markers.

    Filtering is applied to the whole (cut) trial before it is split, so every
    chunk sees exactly the samples the unchunked solve sees.

    Parameters
    ----------
    trc : str or Path
    time_range : (float, float) or None
    markers_hz : float or None
        Zero-lag Butterworth cut-off of the markers.
    max_gap_frames : int
        Longest NaN gap that :func:`~simpipe.io.trc.read_trc` interpolates.
    filter_order : int
        Butterworth order.

    Returns
    -------
    Markers
    """
    markers = read_trc(trc, max_gap_frames)
    if time_range is not None:
        keep = (markers.time >= time_range[0]) & (markers.time <= time_range[1])
        if keep.sum() < 10:
            raise InputError(trc, f"time_range {list(time_range)} keeps {keep.sum()} frames "
                                  f"of {markers.time[0]:.3f}-{markers.time[-1]:.3f} s")
        markers = Markers(markers.time[keep], markers.names, markers.xyz[keep])
    if markers_hz is None:
        return markers
    n, m, _ = markers.xyz.shape
    flat = lowpass(markers.xyz.reshape(n, m * 3), markers.rate, markers_hz, order=filter_order)
    return Markers(markers.time, markers.names, flat.reshape(n, m, 3))


def count_frames(trc: str | Path, time_range=None, max_gap_frames: int = 10) -> int:
    """Frames of a trial within its time range: what the planner cuts into chunks."""
    return len(load_trial_markers(trc, time_range, None, max_gap_frames).time)


#: Trials kept per worker process by :func:`cached_trial_markers`.
MARKER_CACHE_SIZE = 4


@functools.lru_cache(maxsize=MARKER_CACHE_SIZE)
def _cached_markers(trc: str, sha256: str, time_range, markers_hz, max_gap_frames: int,
                    filter_order: int) -> Markers:
    markers = load_trial_markers(trc, time_range, markers_hz, max_gap_frames, filter_order)
    for arr in (markers.time, markers.xyz):
        arr.flags.writeable = False  # shared by the tasks of this process: never modified
    return markers


def cached_trial_markers(trc: str | Path, time_range=None, markers_hz: float | None = None,
                         max_gap_frames: int = 10, filter_order: int = 4) -> Markers:
    """:func:`load_trial_markers`, kept per process for the next chunk of the same trial.

    A worker that solves several chunks of one trial reads and filters the
    file once. Entries are keyed by the file's path and SHA-256 (a changed
    file is read again) and the reading options; at most
    :data:`MARKER_CACHE_SIZE` trials are kept. The arrays returned are
    read-only.

    Returns
    -------
    Markers
    """
    window = None if time_range is None else tuple(float(x) for x in time_range)
    return _cached_markers(str(trc), file_sha256(trc), window, markers_hz, int(max_gap_frames),
                           int(filter_order))


def _as_dict(res: IKResult) -> dict:
    return {"time": res.time, "coordinates": list(res.coordinates), "q": res.q,
            "markers": list(res.markers), "marker_error": res.marker_error}


def _from_dict(out: dict) -> IKResult:
    return IKResult(np.asarray(out["time"]), list(out["coordinates"]), np.asarray(out["q"]),
                    list(out["markers"]), np.asarray(out["marker_error"]))


def ik_chunk_task(model_path: str, trc: str, weights: dict, accuracy: float, markers_hz: float | None,
                  time_range, index: int, start: int, stop: int, lead: int, max_gap_frames: int = 10,
                  filter_order: int = 4) -> dict:
    """Task: IK of frames ``[start, stop)`` of one trial (after ``lead`` warm-up frames).

    Parameters
    ----------
    model_path, trc, weights, accuracy, markers_hz, time_range, max_gap_frames, filter_order
        As for the whole trial's IK task (:func:`simpipe.run.tasks.ik_task`):
        the whole trial is read and filtered the same way, then cut.
    index, start, stop, lead
        The :class:`Chunk`.

    Returns
    -------
    dict
        ``time``, ``coordinates``, ``q``, ``markers``, ``marker_error`` of the
        kept frames, and ``chunk`` (index, start, stop, lead).
    """
    markers = cached_trial_markers(trc, time_range, markers_hz, max_gap_frames, filter_order)
    chunk = Chunk(int(index), int(start), int(stop), int(lead))
    out = _as_dict(solve_chunk(model_path, markers, chunk, weights, accuracy, source=trc))
    out["chunk"] = {"index": chunk.index, "start": chunk.start, "stop": chunk.stop, "lead": chunk.lead}
    return out


def ik_join_task(work_dir: str, trc: str | None = None, **chunks: dict) -> dict:
    """Task: join the outputs of :func:`ik_chunk_task` into one trial's IK output.

    Parameters
    ----------
    work_dir : str
        Gets ``ik.mot`` (degrees), as the unchunked IK task writes it.
    trc : str, optional
        The trial's marker file, returned as the unchunked IK task returns it.
    **chunks : dict
        The chunk outputs (any keyword names, e.g. ``chunk_0``, ``chunk_1``).

    Returns
    -------
    dict
        The same keys as the unchunked IK task: ``time``, ``coordinates``,
        ``q``, ``markers``, ``marker_error``, ``mot`` (and ``trc`` when
        given); plus ``chunks``, the number of chunks joined.
    """
    frames = sorted((c["chunk"]["start"], c["chunk"]["stop"]) for c in chunks.values())
    gaps = [(a, b) for (_, a), (b, _) in zip(frames[:-1], frames[1:]) if a != b]
    if not frames or frames[0][0] != 0 or gaps:
        raise StageError(f"IK chunks do not cover the trial without gaps: frame ranges {frames}")
    res = join_chunks([_from_dict(c) for c in chunks.values()])
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    rotational = [not c.endswith(("_tx", "_ty", "_tz")) for c in res.coordinates]
    deg = np.where(rotational, np.degrees(res.q), res.q)
    write_sto(Table(res.time, res.coordinates, deg, in_degrees=True), work / "ik.mot", kind="mot")
    out = dict(_as_dict(res), mot=str(work / "ik.mot"), chunks=len(frames))
    if trc is not None:
        out["trc"] = str(trc)
    return out
