"""IK and ID per trial: simpipe's stage functions against OpenSim's tools.

Usage::

    python benchmarks/bench_ik_id.py [--repeats N] [--frames 720]

Two cases, each on the same model and trial for both routes:

- ``2d``: the built-in sagittal model (the example subject's true scaled
  model, 10 coordinates, 30 markers) and the example trial ``run_01``
  (181 frames at 200 Hz).
- ``3d``: the 3D benchmark model of ``benchmarks/model3d.py`` (21
  coordinates, 53 markers) and a synthetic 720-frame trial (6 s at 120 Hz,
  2 mm marker noise).

Routes, timed as medians of interleaved repeats in this process (one
worker, one thread); wall and CPU time are both printed, and the verdicts of
these single-process comparisons use CPU time, which other processes on a
shared machine hardly move:

- IK: ``read_trc`` + ``simpipe.stages.ik.inverse_kinematics`` vs
  ``InverseKinematicsTool`` loaded from a setup XML and run (it reads the
  .trc and writes the .mot and marker errors itself).
- ID: ``differentiate`` (15 Hz) + ``inverse_dynamics`` on simpipe's IK vs
  ``InverseDynamicsTool`` from a setup XML (15 Hz) on the IK tool's .mot.
- 3D only: the long trial's IK split into 2 frame chunks
  (``simpipe.stages.ik_parallel``) run as Dask tasks on 2 worker processes
  plus a join task, vs the IK tool on one core. The LocalCluster is started
  and its workers have imported OpenSim before timing (as after the first
  task of a study); its start time is printed separately. The verdict uses
  wall time; the CPU time of the critical path (slowest chunk task + join
  task) is printed beside it as what 2 free cores would give.

Printed per case: ratios simpipe / tool with targets, and the largest
differences of results (deg and mm for IK; N m and N for ID, all frames and
without the first and last 10 frames, where the tool's filter padding acts).
The chunked join is checked against the unchunked solve and against the
solver's own tolerance at accuracy 1e-6, measured as the largest change of
the unchunked solution when tightened to 1e-8.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import _common as C
import tools_route as T
from simpipe.io.trc import read_trc
from simpipe.stages.id import differentiate, inverse_dynamics
from simpipe.stages.ik import inverse_kinematics

CUTOFF_HZ = 15.0
ACCURACY = 1e-6
EDGE = 10


@dataclass
class Case:
    """One model + trial pair, and where the tools write."""

    name: str
    model: Path
    trc: Path
    grf: Path
    work: Path


def _rotational(coordinates: list[str]) -> np.ndarray:
    return np.array([not c.endswith(("_tx", "_ty", "_tz")) for c in coordinates])


def describe_q_diff(a: np.ndarray, b: np.ndarray, coordinates: list[str]) -> str:
    """Largest |a - b|: degrees for rotations, mm for translations."""
    rot = _rotational(coordinates)
    d = np.abs(a - b)
    return f"{np.degrees(d[:, rot].max()):.2g} deg, {1000 * d[:, ~rot].max():.2g} mm"


def describe_tau_diff(a: np.ndarray, b: np.ndarray, coordinates: list[str]) -> str:
    """Largest |a - b| in N m (rotations) and N (translations), all frames and interior."""
    rot = _rotational(coordinates)
    d = np.abs(a - b)
    inner = d[EDGE:-EDGE]
    return (f"all frames {d[:, rot].max():.3g} N m, {d[:, ~rot].max():.3g} N; "
            f"interior {inner[:, rot].max():.3g} N m, {inner[:, ~rot].max():.3g} N "
            f"(peak |tau| {np.abs(b[:, rot]).max():.0f} N m, {np.abs(b[:, ~rot]).max():.0f} N)")


def simpipe_ik(case: Case, accuracy: float = ACCURACY):
    return inverse_kinematics(case.model, read_trc(case.trc), accuracy=accuracy, source=case.trc)


def simpipe_id(case: Case, ik, cutoff_hz: float | None = CUTOFF_HZ):
    kin = differentiate(ik.time, ik.q, ik.coordinates, cutoff_hz)
    return inverse_dynamics(case.model, kin, case.grf, C.FEET)


def compare(case: Case, what: str, routes: dict, repeats: int) -> tuple[dict, dict]:
    """Time the 'tool' and 'simpipe' routes interleaved; print spreads and the ratio line.

    Returns
    -------
    seconds : dict
        Route -> (median wall s, median CPU s).
    values : dict
        Route -> value of its last call.
    """
    with C.quiet_stdout():
        wall, cpu, values = C.interleaved(routes, repeats)
    sec = {r: (C.median(wall[r]), C.median(cpu[r])) for r in routes}
    print(f"   {what} tool {C.spread(wall['tool'])}; simpipe {C.spread(wall['simpipe'])} (wall)")
    cpu_ratio = sec["simpipe"][1] / sec["tool"][1]
    print(C.ratio_line(f"{case.name} {what} simpipe/tool, 1 worker", sec["simpipe"][0], sec["tool"][0],
                       "<= 1.05 (CPU time)", cpu_ratio <= 1.05, cpu=(sec["simpipe"][1], sec["tool"][1])))
    return sec, values


def bench_ik(case: Case, repeats: int):
    """IK ratio and differences; returns (tool (wall, CPU) s, simpipe result, tool .mot)."""
    setup = T.write_ik_setup(case.model, case.trc, case.work / "ik", accuracy=ACCURACY)
    sec, values = compare(case, "IK", {"tool": lambda: T.run_ik(setup), "simpipe": lambda: simpipe_ik(case)},
                          repeats)
    ours, mot = values["simpipe"], values["tool"]
    _, q_tool = T.read_coordinates(mot, ours.coordinates)
    print(f"   IK: {len(ours.time)} frames, {len(ours.markers)} markers, {len(ours.coordinates)} coordinates; "
          f"largest difference simpipe vs tool {describe_q_diff(ours.q, q_tool, ours.coordinates)}; "
          f"marker RMS error {1000 * ours.rms_error.mean():.2f} mm (mean over frames)")
    return sec["tool"], ours, mot


def bench_id(case: Case, ik, mot: Path, repeats: int) -> None:
    """ID ratio and differences (filtered as configured, and unfiltered)."""
    exclude = T.excluded_forces(case.model)
    setup = T.write_id_setup(case.model, mot, case.grf, C.FEET, case.work / "id", CUTOFF_HZ, exclude)
    _, values = compare(case, "ID", {"tool": lambda: T.run_id(setup), "simpipe": lambda: simpipe_id(case, ik)},
                        repeats)
    tau_tool = T.read_generalized_forces(values["tool"], ik.coordinates, ik.time)
    print(f"   ID largest difference at {CUTOFF_HZ:g} Hz (Butterworth filtfilt vs the tool's IIR filter): "
          f"{describe_tau_diff(values['simpipe'].tau, tau_tool, ik.coordinates)}")
    raw = T.write_id_setup(case.model, mot, case.grf, C.FEET, case.work / "id_raw", None, exclude)
    with C.quiet_stdout():
        tau_raw = T.read_generalized_forces(T.run_id(raw), ik.coordinates, ik.time)
    ours_raw = simpipe_id(case, ik, None).tau
    print(f"   ID largest difference unfiltered (interpolating vs GCV quintic spline): "
          f"{describe_tau_diff(ours_raw, tau_raw, ik.coordinates)}")


def _cpu_timed(fn, *args, **kwargs) -> dict:
    """Run a task function on a worker; adds its CPU seconds, process id and start/end times."""
    import os
    import time

    start, wall0 = time.thread_time(), time.time()
    out = fn(*args, **kwargs)
    return dict(out, _cpu_s=time.thread_time() - start, _pid=os.getpid(), _span=(wall0, time.time()))


def chunked_on_cluster(client, case: Case, n_chunks: int) -> tuple[dict, float, str]:
    """Submit the chunk tasks and the join task.

    Returns
    -------
    joined : dict
        The join task's output.
    cpu_path : float
        CPU seconds along the critical path: the slowest chunk task plus the
        join task (what the run would take on free cores, less Dask's latency).
    placement : str
        Where and when the chunk tasks ran (distinct workers, overlap, CPU / wall).
    """
    from simpipe.stages.ik_parallel import ik_chunk_task, ik_join_task, plan_chunks

    n_frames = len(read_trc(case.trc).time)
    chunks = plan_chunks(n_frames, -(-n_frames // n_chunks))
    futures = {f"chunk_{c.index}": client.submit(_cpu_timed, ik_chunk_task, str(case.model), str(case.trc), {},
                                                 ACCURACY, None, None, c.index, c.start, c.stop, c.lead,
                                                 pure=False)
               for c in chunks}
    join = client.submit(_cpu_timed, ik_join_task, str(case.work / "ik_chunked"), pure=False, **futures).result()
    parts = client.gather(list(futures.values()))
    return join, max(p["_cpu_s"] for p in parts) + join["_cpu_s"], _placement(parts)


def _placement(parts: list[dict]) -> str:
    spans = [p["_span"] for p in parts]
    overlap = max(0.0, min(b for _, b in spans) - max(a for a, _ in spans))
    busy = ", ".join(f"{p['_cpu_s']:.2f}/{p['_span'][1] - p['_span'][0]:.2f}" for p in parts)
    return (f"{len(parts)} chunk tasks on {len({p['_pid'] for p in parts})} worker process(es), "
            f"running side by side for {overlap:.2f} s; CPU/wall s per task: {busy}")


def bench_chunked(case: Case, tool_s: tuple[float, float], unchunked, repeats: int) -> None:
    """IK of the long trial in 2 chunks on 2 workers vs the IK tool on one core."""
    from simpipe.config import ClusterSpec
    from simpipe.run.cluster import make_client

    cluster = make_client(ClusterSpec(kind="local", n_workers=2))
    start_s, client = C.timed(cluster.__enter__)
    try:
        warm_s = C.warm_cluster(client)
        runs = [C.timed(chunked_on_cluster, client, case, 2) for _ in range(repeats)]
    finally:
        cluster.__exit__(None, None, None)
    walls = [secs for secs, _ in runs]
    cpu_paths = [cpu for _, (_, cpu, _) in runs]
    ours_s = C.median(walls)
    print(f"   chunked IK, 2 chunks on 2 workers: {C.spread(walls)} wall "
          f"(cluster start {start_s:.1f} s and worker imports {warm_s:.1f} s not included)")
    print(C.ratio_line(f"{case.name} IK chunked simpipe (2 workers)/tool (1 core)", ours_s, tool_s[0],
                       "<= 0.55 (wall time)", ours_s / tool_s[0] <= 0.55, cpu=(C.median(cpu_paths), tool_s[1])))
    print("   (CPU time of the chunked route: slowest chunk task + join task, "
          "i.e. its critical path on free cores)")
    print(f"   last run: {runs[-1][1][2]} (a task's wall well above its CPU time: it waited for a core)")
    report_join(case, runs[-1][1][0], unchunked)


def report_join(case: Case, joined: dict, unchunked) -> None:
    """Chunked vs unchunked at the chunk boundary and everywhere, against the solver tolerance.

    The tolerance is how far the unchunked solution at ``ACCURACY`` lies from
    the same solve at ``ACCURACY / 100``.
    """
    from simpipe.stages.ik_parallel import plan_chunks

    n = len(unchunked.time)
    if not np.array_equal(joined["time"], unchunked.time):
        raise RuntimeError("chunked IK lost or repeated frames")
    bounds = [c.start for c in plan_chunks(n, -(-n // 2))][1:]
    around = sorted({k + d for k in bounds for d in (-1, 0, 1)})
    rot = _rotational(unchunked.coordinates)
    tight = simpipe_ik(case, accuracy=ACCURACY / 100)
    tol = np.degrees(np.abs(unchunked.q - tight.q)[:, rot].max())
    diff = np.degrees(np.abs(joined["q"] - unchunked.q)[:, rot])
    err = 1e6 * np.abs(joined["marker_error"] - unchunked.marker_error).max()
    rms = 1e6 * np.abs(np.sqrt(np.mean(joined["marker_error"] ** 2, axis=1)) - unchunked.rms_error).max()
    print(f"   join: frames {around} (chunk boundary) chunked - unchunked <= {diff[around].max():.2g} deg; "
          f"all frames <= {diff.max():.2g} deg; marker errors differ <= {err:.2g} um, "
          f"per-frame RMS <= {rms:.2g} um")
    ok = diff[around].max() <= tol
    print(f"JOIN {case.name}: boundary frames within the solver tolerance at accuracy {ACCURACY:g} "
          f"({tol:.2g} deg = largest change of the unchunked solution at accuracy {ACCURACY / 100:g}): "
          f"{'yes' if ok else 'NO'}; elsewhere the chunks' warm-start paths drift apart by at most "
          f"{diff.max():.2g} deg, {diff.max() / tol:.2f}x that tolerance")


def case_2d(scratch: Path) -> Case:
    ex = C.example_dir(scratch)
    return Case("2d", ex / "model_true.osim", ex / "run_01.trc", ex / "run_01_grf.mot", scratch / "2d")


def case_3d(scratch: Path, frames: int) -> Case:
    from model3d import synthesize_trial

    trial = synthesize_trial(scratch / "3d_data", n_frames=frames)
    return Case("3d", trial.model, trial.trc, trial.grf, scratch / "3d")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=720)
    args = parser.parse_args()
    C.header("IK and ID per trial: simpipe vs InverseKinematicsTool / InverseDynamicsTool")
    with C.scratch_dir("ikid") as tmp:
        scratch = Path(tmp)
        for case in (case_2d(scratch), case_3d(scratch, args.frames)):
            print(f"-- case {case.name}: {case.model.name}, {case.trc.name}", flush=True)
            reps = 5 * args.repeats if case.name == "2d" else args.repeats  # 2d runs take < 1 s
            tool_s, ik, mot = bench_ik(case, reps)
            bench_id(case, ik, mot, 3 * args.repeats)
            if case.name == "3d":
                bench_chunked(case, tool_s, ik, args.repeats)


if __name__ == "__main__":
    main()
