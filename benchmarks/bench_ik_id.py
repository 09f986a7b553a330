"""IK and ID per trial: simpipe's stage functions against OpenSim's tools.

Usage::

    python benchmarks/bench_ik_id.py [--repeats N] [--frames 720] [--case 2d|3d] [--chunks 2]

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
- 3D only: the long trial's IK as a study plans it with ``ik.chunk_frames``
  (2 ``ik_chunk`` tasks and the ``ik`` task that joins them,
  ``simpipe.stages.ik_parallel``) run by ``run_plan`` on 2 worker processes
  (``--chunks N``: N chunks on N workers), vs the same trial as one ``ik``
  task (which uses one worker) and vs the IK tool on one core. Both plans
  start from an empty cache, so task outputs are written as in a study.
  The LocalCluster is started and its workers have imported OpenSim before
  timing (as after the first task of a study); its start time is printed
  separately. Verdicts use wall time, so they need free cores. ``CHUNK`` breaks down what a chunk task pays
  besides its own frames.

``--case 2d`` or ``--case 3d`` runs one case only (default: both).

Printed per case: ratios simpipe / tool with targets, and the largest
differences of results (deg and mm for IK; N m and N for ID, all frames and
without the first and last 10 frames, where the tool's filter padding acts).
The chunked join is checked against the unchunked solve and against the
solver's own tolerance at accuracy 1e-6, measured as the largest change of
the unchunked solution when tightened to 1e-8.
"""

from __future__ import annotations

import argparse
import contextlib
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


def ik_plans(case: Case, n_chunks: int) -> dict:
    """The trial's IK as a study plans it: one ``ik`` task, and ``ik_chunk`` tasks joined by ``ik``.

    Built with the IK part of ``build_plan`` (the 3D benchmark model has no
    muscles, which ``build_plan``'s sweep needs), from a study config whose
    ``ik.chunk_frames`` is unset and ``ceil(frames / n_chunks)``.

    Returns
    -------
    dict
        ``'whole'`` and ``'chunked'`` -> Plan.
    """
    import yaml

    from simpipe.config import parse_study
    from simpipe.run.plan import Plan, _add_ik, _Builder

    n_frames = len(read_trc(case.trc).time)
    plans = {}
    for name, size in (("whole", None), ("chunked", -(-n_frames // n_chunks))):
        raw = {"name": name, "model": {"path": str(case.model)}, "output": str(case.work / name),
               "subjects": [{"id": "s", "mass_kg": 75, "height_m": 1.8, "static": str(case.trc),
                             "trials": [{"id": "t", "markers": str(case.trc), "grf": str(case.grf)}]}],
               "sweep": {"values": [0.6]}, "stages": ["ik"],
               "ik": {"accuracy": ACCURACY, "chunk_frames": size}}
        study = parse_study(yaml.safe_dump(raw), case.work / f"{name}.yaml")
        builder = _Builder(study, case.model, study.output)
        _add_ik(builder, study, study.subjects[0].trials[0], {}, None, {"model_path": case.model}, {},
                {"subject": "s", "trial": "t"})
        plans[name] = Plan(builder.tasks, [], dict(builder.hashes), [])
    return plans


def run_ik_plan(client, plan, cache_root: Path) -> dict:
    """``run_plan`` on the warm cluster, from an empty cache; returns the outputs by stage."""
    from simpipe.run.cache import TaskCache
    from simpipe.run.execute import run_plan

    outcome = run_plan(plan, TaskCache(cache_root), lambda: contextlib.nullcontext(client), retries=0)
    if outcome.failed:
        raise RuntimeError(f"IK plan failed: {outcome.failed}")
    out: dict = {}
    for task in plan.tasks:
        out.setdefault(task.stage, []).append(outcome.values[task.key])
    return out


def chunk_costs(case: Case) -> str:
    """What one chunk task pays besides its own frames (in this process, CPU seconds)."""
    import time

    from simpipe.stages.ik_parallel import DEFAULT_LEAD_FRAMES, cached_trial_markers, load_trial_markers
    from simpipe.stages.osimutil import load_model

    def cpu(fn):
        start = time.process_time()
        value = fn()
        return time.process_time() - start, value

    read_s, markers = cpu(lambda: load_trial_markers(case.trc))
    cpu(lambda: cached_trial_markers(case.trc))
    cached_s, _ = cpu(lambda: cached_trial_markers(case.trc))
    model_s, _ = cpu(lambda: load_model(case.model).initSystem())
    n = 60
    frame_s = cpu(lambda: inverse_kinematics(case.model, _first(markers, n), accuracy=ACCURACY))[0] / n
    return (f"read + filter the trial {read_s:.3f} s (a second chunk on the same worker: {cached_s:.4f} s), "
            f"model load + initSystem {model_s:.3f} s, {DEFAULT_LEAD_FRAMES} lead frames "
            f"{DEFAULT_LEAD_FRAMES * frame_s:.3f} s (one frame {1000 * frame_s:.1f} ms)")


def _first(markers, n: int):
    from simpipe.data import Markers

    return Markers(markers.time[:n], markers.names, markers.xyz[:n])


def _whole_trial_ik(model: str, trc: str) -> float:
    """IK of a whole trial on a worker; returns its wall seconds there."""
    import time

    from simpipe.stages.ik_parallel import load_trial_markers

    start = time.perf_counter()
    inverse_kinematics(model, load_trial_markers(trc), accuracy=ACCURACY)
    return time.perf_counter() - start


def capacity(client, case: Case, n: int = 2) -> float:
    """Wall of ``n`` whole-trial IKs side by side on the ``n`` workers over the wall of one alone.

    1.0 when the machine gives the workers ``n`` free cores; ``n`` when they
    share one. The chunked route cannot beat ``capacity / n`` plus its fixed
    costs, whatever simpipe does.
    """
    import time

    def wall(n: int) -> float:
        start = time.perf_counter()
        client.gather([client.submit(_whole_trial_ik, str(case.model), str(case.trc), pure=False)
                       for _ in range(n)])
        return time.perf_counter() - start

    one, many = wall(1), wall(n)
    return many / one


def bench_chunked(case: Case, tool_s: tuple[float, float], unchunked, repeats: int, n: int = 2) -> None:
    """IK of the long trial through the study plan: ``n`` chunks on ``n`` workers vs one task on one worker."""
    from simpipe.config import ClusterSpec
    from simpipe.run.cluster import make_client

    plans = ik_plans(case, n)
    word = {2: "two"}.get(n, str(n))
    cluster = make_client(ClusterSpec(kind="local", n_workers=n))
    start_s, client = C.timed(cluster.__enter__)
    walls: dict = {"whole": [], "chunked": []}
    last: dict = {}
    try:
        warm_s = C.warm_cluster(client)
        shared = [capacity(client, case, n)]
        for rep in range(repeats):
            for name, plan in plans.items():
                secs, outs = C.timed(run_ik_plan, client, plan, case.work / f"cache_{name}_{rep}")
                walls[name].append(secs)
                if name == "chunked":
                    last = outs
        shared.append(capacity(client, case, n))
    finally:
        cluster.__exit__(None, None, None)
    whole_s, ours_s = C.median(walls["whole"]), C.median(walls["chunked"])
    task_s = [o["_meta"]["seconds"] for o in last["ik_chunk"]]
    join_s = last["ik"][0]["_meta"]["seconds"]
    print(f"   IK through the study plan (run_plan from an empty cache, {n} warm workers): whole trial as one "
          f"ik task {C.spread(walls['whole'])}; {n} ik_chunk tasks + the joining ik task {C.spread(walls['chunked'])} "
          f"(cluster start {start_s:.1f} s and worker imports {warm_s:.1f} s not included)")
    print(f"CHUNK {case.name} cores: {word} whole-trial IKs side by side on the {n} workers take {shared[0]:.2f}x "
          f"(before) and {shared[1]:.2f}x (after) the wall time of one alone (1.00: {word} free cores, "
          f"{n}.00: one); the chunked ratio cannot beat {'half' if n == 2 else f'1/{n}'} of that plus its fixed "
          "costs")
    print(f"   last chunked run: chunk tasks {', '.join(f'{x:.2f}' for x in task_s)} s, join task {join_s:.3f} s "
          f"(wall inside the tasks); Dask, cache writes and waiting for a core: "
          f"{walls['chunked'][-1] - max(task_s) - join_s:.2f} s")
    target = 1.1 / n  # 0.55 for 2 chunks: half the time, 10 % for the join and the chunks' fixed costs
    print(C.ratio_line(f"{case.name} IK chunked plan ({n} workers)/whole-trial task (1 worker)", ours_s, whole_s,
                       f"<= {target:.2g} (wall time)", ours_s / whole_s <= target))
    print(C.ratio_line(f"{case.name} IK chunked plan ({n} workers)/tool (1 core)", ours_s, tool_s[0],
                       f"<= {target:.2g} (wall time)", ours_s / tool_s[0] <= target))
    print(f"CHUNK {case.name} fixed cost of a chunk task besides its frames (CPU, in-process): {chunk_costs(case)}")
    report_join(case, last["ik"][0], unchunked, n)


def report_join(case: Case, joined: dict, unchunked, n_chunks: int = 2) -> None:
    """Chunked vs unchunked at the chunk boundary and everywhere, against the solver tolerance.

    The tolerance is how far the unchunked solution at ``ACCURACY`` lies from
    the same solve at ``ACCURACY / 100``.
    """
    from simpipe.stages.ik_parallel import plan_chunks

    n = len(unchunked.time)
    if not np.array_equal(joined["time"], unchunked.time):
        raise RuntimeError("chunked IK lost or repeated frames")
    bounds = [c.start for c in plan_chunks(n, -(-n // n_chunks))][1:]
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
    parser.add_argument("--case", choices=["2d", "3d"], help="run one case only (default: both)")
    parser.add_argument("--chunks", type=int, default=2, help="3d: IK chunks, run on as many workers (default 2)")
    args = parser.parse_args()
    C.header("IK and ID per trial: simpipe vs InverseKinematicsTool / InverseDynamicsTool")
    with C.scratch_dir("ikid") as tmp:
        scratch = Path(tmp)
        cases = {"2d": lambda: case_2d(scratch), "3d": lambda: case_3d(scratch, args.frames)}
        for case in (make() for name, make in cases.items() if args.case in (None, name)):
            print(f"-- case {case.name}: {case.model.name}, {case.trc.name}", flush=True)
            reps = 5 * args.repeats if case.name == "2d" else args.repeats  # 2d runs take < 1 s
            tool_s, ik, mot = bench_ik(case, reps)
            bench_id(case, ik, mot, 3 * args.repeats)
            if case.name == "3d":
                bench_chunked(case, tool_s, ik, args.repeats, args.chunks)


if __name__ == "__main__":
    main()
