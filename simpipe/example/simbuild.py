"""Build the example subject from Moco simulations of running (``simpipe example build``).

For each example trial (speed, cycle time) the subject's true model
(``model_true.osim``, the built-in model scaled by :mod:`.generate`) is
simulated running with foot-ground contact by
:func:`simpipe.example.simulate.simulate_running`, through a chain of solves
(:data:`FULL_CHAIN`): a coarse torque-driven solve from the reference motion,
then the same problem on finer meshes (40 and 80 intervals per half cycle),
each warm-started from the previous. The last solution is written as a lab
trial (:mod:`.labtrial`): markers (TRC, mm), GRF with centre of pressure and
free moment per foot (.mot at 1000 Hz, ExternalLoads XML), and the ground
truth (coordinates, speeds, accelerations, net joint moments, contact forces,
and muscle activations and forces where the solve is muscle-driven) in
``ground_truth.h5``.

Why a fine mesh: the written trial is sampled from the solution's
interpolant between collocation points, where the dynamics are not
enforced. Inverse dynamics of the written files (:func:`consistency`) leaves
a pelvis residual force of about 70 N RMS at 15 mesh intervals, 9 N at 40
and 4 N at 80 (torque-driven, run_01).

:data:`MUSCLE_CHAIN` (``--muscles``) ends in the muscle-driven problem on the
same fine mesh: its truth holds the 18 muscles' activations and forces, but
its foot strike cannot be followed at a lab's marker rate: 25 N RMS (run_01)
and 14 N (run_02) pelvis residual at 200 Hz markers, all of it in the 50 ms
after foot strike and at toe-off (below 1 N elsewhere), and hip and knee
moments off by 5-10 % of their peak there (up to 50 % for one frame). The
optimum switches the vasti on at impact (activation 0.01 -> 0.22 in 6 ms,
the 15 ms activation time constant allows it; effort favours no
pre-activation), so with rigid tendons the knee moment changes by 65 N m in
4 ms. A mesh three times finer over the impact does not help at 200 Hz (16 /
15 N) and only partly at 1000 Hz (3 N, knee moments still 24 % off for a
frame): see SIMULATION_NOTES.md. The default example is therefore the
torque-driven one (residual 4-6 N, joint moments within about 1 %).

Solutions are cached next to the data (``simulation/<trial>_<step>.sto`` and
``.json``), keyed by the problem's inputs (generic model file, subject,
trial, solver settings, the previous step's key); a build whose keys match
only rewrites the files (seconds), so a clean clone reproduces the committed
example without solving. ``resolve=True`` solves again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..data import Markers
from ..errors import StageError
from ..io.grf import write_external_loads_xml, write_grf
from ..io.hashing import file_sha256, hash_object, read_json_record, write_text_atomic
from ..io.trc import write_trc
from ..stages.id import Kinematics, differentiate, inverse_dynamics
from ..stages.muscles import MuscleOptions, reserve_fractions
from . import generate as gen
from . import simulate as sim
from .labtrial import foot_loads, grf_table, model_markers
from .musclereference import REFERENCE_OPTIONS, MuscleReference, muscle_reference

log = logging.getLogger(__name__)

#: Bumped when the problem or the way a solution becomes a trial changes.
BUILD_VERSION = 1

#: Mesh intervals per half cycle of the final solves (see the module notes).
FINE_MESH = 80


@dataclass(frozen=True)
class SolveStep:
    """One solve of the build chain.

    Attributes
    ----------
    name : str
        File stem suffix of the solution, e.g. ``'torques_coarse'``.
    settings : simpipe.example.simulate.SimSettings
    """

    name: str
    settings: sim.SimSettings


#: The committed example: torque-driven, the mesh refined twice, each solve
#: warm-started from the previous one.
FULL_CHAIN = (SolveStep("torques_coarse", sim.COARSE),
              SolveStep("torques_mid", replace(sim.COARSE, mesh_intervals=40)),
              SolveStep("torques", replace(sim.COARSE, mesh_intervals=FINE_MESH)))

#: The muscle-driven example (``simpipe example build --muscles``): coarse
#: torques -> coarse muscles -> fine muscles (the muscle-driven problem
#: converges only from a torque-driven guess). Its ground truth holds muscle
#: activations and forces, but its trials are less consistent at foot strike
#: (see the module notes), so it is not the default.
MUSCLE_CHAIN = (SolveStep("torques_coarse", sim.COARSE),
                SolveStep("muscles_coarse", replace(sim.COARSE, actuation="muscles")),
                SolveStep("muscles", replace(sim.COARSE, mesh_intervals=FINE_MESH, actuation="muscles")))

#: The fast build (CI): one coarse torque-driven solve, a few minutes on one core.
FAST_CHAIN = (SolveStep("torques_coarse", sim.COARSE),)

#: Vertical force (N) above which a foot counts as in contact (events).
CONTACT_THRESHOLD_N = 20.0

#: Flight, for the quality figures: both feet below the threshold and at
#: least this far (s) from any contact frame: the smooth contact model lets
#: the force rise over a few milliseconds before the threshold. At toe-off its
#: damping pulls the rising foot with up to about 5 N for 12-20 ms (the
#: spheres still penetrate while they leave the ground): that counts as
#: contact (:func:`flight_frames`).
FLIGHT_MARGIN_S = 0.015


# --- solving, with a cache ---------------------------------------------------

def step_key(generic_sha: str, subject: gen.Subject, trial: gen.Trial, step: SolveStep,
             previous_key: str | None) -> str:
    """Hash of everything that defines a solve of the chain."""
    return hash_object({"version": BUILD_VERSION, "generic_model": generic_sha,
                        "subject": asdict(subject), "speed": trial.speed,
                        "cycle_time": trial.cycle_time, "step": step.name,
                        "settings": settings_record(step.settings), "previous": previous_key})


def settings_record(settings: sim.SimSettings) -> dict:
    """The settings as a dict, without fields left at an empty default.

    Fields added to :class:`SimSettings` later (e.g. ``mesh_points``) then
    keep the keys of the solutions solved before them.
    """
    return {k: v for k, v in asdict(settings).items() if not (k == "mesh_points" and not v)}


def solve_chain(model_path: Path, trial: gen.Trial, folder: Path, chain: tuple[SolveStep, ...],
                keys: list[str], resolve: bool = False, progress=None,
                guesses: list[Path | None] | None = None) -> list[dict]:
    """Solve (or reuse) each step of ``chain`` for one trial.

    Parameters
    ----------
    model_path : Path
        The subject's true model.
    trial : Trial
    folder : Path
        Where ``<trial>_<step>.sto`` and ``.json`` live.
    chain : tuple of SolveStep
    keys : list of str
        :func:`step_key` of each step.
    resolve : bool
        Solve even where a solution with the same key exists.
    progress : callable, optional
        Called with a one-line message before each solve.
    guesses : list of Path or None, optional
        Warm start of each step: a solution, or None for the previous step's
        solution (the first step: the reference motion). Default all None.

    Returns
    -------
    list of dict
        Per step: the JSON record (``key``, ``solution``, ``status``,
        ``success``, ``iterations``, ``objective``, ``objective_terms``,
        ``wall_s``, ``settings``).

    Raises
    ------
    StageError
        If a solve does not converge (the solution is kept for inspection).
    """
    folder.mkdir(parents=True, exist_ok=True)
    records, warm = [], None
    guesses = guesses if guesses is not None else [None] * len(chain)
    for step, key, guess in zip(chain, keys, guesses):
        warm = guess if guess is not None else warm
        sto = folder / f"{trial.name}_{step.name}.sto"
        record_path = sto.with_suffix(".json")
        record = read_json_record(record_path)
        if resolve or record is None or record.get("key") != key or not sto.is_file():
            if progress is not None:
                progress(f"{trial.name}: solving {step.name} ({step.settings.actuation}, "
                         f"{step.settings.mesh_intervals} mesh intervals)")
            result = sim.simulate_running(model_path, sto, speed=trial.speed,
                                          cycle_time=trial.cycle_time, settings=step.settings,
                                          warm_start=warm)
            record = {"key": key, "solution": sto.name, "status": result.status,
                      "success": result.success, "iterations": result.iterations,
                      "objective": result.objective, "objective_terms": result.objective_terms,
                      "wall_s": round(result.wall_s, 1), "settings": settings_record(step.settings)}
            write_text_atomic(record_path, json.dumps(record, indent=1, sort_keys=True) + "\n")
        if not record["success"]:
            raise StageError(f"{trial.name}: the {step.name} solve did not converge "
                             f"({record['status']} after {record['iterations']} iterations); "
                             f"solution kept in {sto}; rerun with --resolve or change the settings")
        records.append(record)
        warm = sto
    return records


# --- from a solution to a trial ------------------------------------------------

@dataclass
class SimulatedTrial:
    """A trial written from a simulation, with its ground truth.

    Attributes
    ----------
    truth : simpipe.example.generate.TrialTruth
        Kinematics (q, u and the model's udot at the marker frames), noise-free
        markers, net generalized forces, the GRF written, events, quality.
    contact : dict
        Side -> ``force`` (n, 3), ``cop`` (n, 3), ``free_moment`` (n,) at the
        GRF frames (``grf_time``), from the contact spheres.
    grf_time : ndarray
    muscles : list of str
    activation, muscle_force : ndarray, shape (n_frames, n_muscles)
        At the marker frames (empty for a torque-driven solution).
    solve : dict
        The final solve's record (:func:`solve_chain`).
    fine : Kinematics or None
        The exact states at the GRF frames (what the muscle reference is
        solved on).
    reference : MuscleReference or None
        The trial's muscle reference (:mod:`.musclereference`), where built.
    """

    truth: gen.TrialTruth
    contact: dict
    grf_time: np.ndarray
    muscles: list
    activation: np.ndarray
    muscle_force: np.ndarray
    solve: dict
    fine: Kinematics | None = None
    reference: MuscleReference | None = None


def _full_cycle(solution_path: Path) -> sim.Cycle:
    full = sim.mirror_half_cycle(sim.read_solution(solution_path))
    full.time = full.time - full.time[0]
    return full


def _events(time: np.ndarray, fy: np.ndarray, threshold: float = CONTACT_THRESHOLD_N) -> dict:
    """Foot-strike (rising) and toe-off (falling) times of a vertical force, interpolated."""
    on = fy >= threshold
    out = {}
    for name, edges in (("foot_strike", np.flatnonzero(~on[:-1] & on[1:])),
                        ("toe_off", np.flatnonzero(on[:-1] & ~on[1:]))):
        frac = (threshold - fy[edges]) / (fy[edges + 1] - fy[edges])
        out[name] = time[edges] + frac * (time[edges + 1] - time[edges])
    return out


def simulated_trial(model_path: Path, solution_path: Path, settings: sim.SimSettings,
                    trial: gen.Trial, out_dir: Path, record: dict) -> SimulatedTrial:
    """Write ``<trial>_grf.mot`` and its ExternalLoads XML; return the trial and its truth.

    Parameters
    ----------
    model_path : Path
        The true model (the one the solution was solved on).
    solution_path : Path
        The half-cycle solution.
    settings : SimSettings
        Its settings (they define the actuators).
    trial : Trial
        Recording window (``phase0``, ``duration``) and rates.
    out_dir : Path
    record : dict
        The solve's record, kept in the truth.

    Returns
    -------
    SimulatedTrial
        The caller writes the markers (with optional noise).

    Notes
    -----
    The cycle is the half-cycle solution mirrored left/right and repeated;
    states between mesh points are cubic Hermite interpolants (values with
    the speeds as slopes), controls cubic splines
    (:func:`simpipe.example.simulate.sample_cycle`). The GRF at every force
    frame is the contact spheres' force at that interpolated state, so force
    and motion belong to the same state; accelerations in the truth are the
    model's forward dynamics there.
    """
    from .simdata import evaluate_cycle

    model = sim.simulation_model(model_path, settings)
    full = _full_cycle(solution_path)
    offset = trial.phase0 * trial.cycle_time
    frames = evaluate_cycle(model, sim.sample_cycle(full, trial.times(trial.marker_rate), offset), gen.FEET)
    grf_time = trial.times(trial.grf_rate)
    forces = evaluate_cycle(model, sim.sample_cycle(full, grf_time, offset), gen.FEET)
    feet = foot_loads(forces.grf, fill_points=True)
    contact = {side: {"force": g.force, "cop": g.cop, "free_moment": g.free_moment}
               for side, g in forces.grf.items()}
    table = grf_table(grf_time, feet)
    grf_path = write_grf(table, out_dir / f"{trial.name}_grf.mot", sides=tuple(feet))
    xml = write_external_loads_xml(out_dir / f"{trial.name}_external_loads.xml", grf_path, gen.FEET)
    gen._relative_datafile(xml)
    kin = Kinematics(frames.time, list(frames.coordinates), frames.q, frames.u, frames.udot)
    tau = inverse_dynamics(model_path, kin, grf_path, gen.FEET).tau
    markers = model_markers(model_path, frames.time, list(frames.coordinates), frames.q)
    events = {}
    for side in gen.FEET:
        for name, times in _events(grf_time, contact[side]["force"][:, 1]).items():
            events[f"{name}_{side}"] = times
    truth = gen.TrialTruth(trial, kin, markers, tau, table, events, {})
    truth.quality.update(_quality(model_path, truth, contact, grf_path, record))
    fine = Kinematics(forces.time, list(forces.coordinates), forces.q, forces.u, forces.udot)
    return SimulatedTrial(truth, contact, grf_time, list(frames.muscles), frames.activation,
                          frames.muscle_force, record, fine)


def consistency(model_path: Path, kinematics: Kinematics, grf_path: Path) -> dict[str, float]:
    """Inverse dynamics of the written data as an analysis would run it (no filter).

    Accelerations come from a quintic spline of the coordinates at the marker
    frames (:func:`simpipe.stages.id.differentiate`), as in simpipe's ID
    stage; for dynamically consistent data the pelvis residuals are near zero.

    Returns
    -------
    dict
        ``pelvis_residual_force_rms_n`` (resultant of pelvis_tx and
        pelvis_ty), ``pelvis_residual_moment_rms_nm``, over the frames
        without the five at each end (spline end effects).
    """
    kin = differentiate(kinematics.time, kinematics.q, kinematics.coordinates)
    tau = inverse_dynamics(model_path, kin, grf_path, gen.FEET).tau
    names = list(kinematics.coordinates)
    inner = slice(5, -5)
    force = np.hypot(tau[inner, names.index("pelvis_tx")], tau[inner, names.index("pelvis_ty")])
    moment = tau[inner, names.index("pelvis_tilt")]
    return {"pelvis_residual_force_rms_n": float(np.sqrt(np.mean(force ** 2))),
            "pelvis_residual_moment_rms_nm": float(np.sqrt(np.mean(moment ** 2)))}


def _away_from(mask: np.ndarray, margin: int) -> np.ndarray:
    """Frames farther than ``margin`` frames from every True frame of ``mask``."""
    near = np.convolve(mask.astype(float), np.ones(2 * margin + 1), mode="same") > 0
    return ~near


def flight_frames(total_fy: np.ndarray, rate: float) -> np.ndarray:
    """Frames of flight: no foot in contact, with :data:`FLIGHT_MARGIN_S` around every contact.

    A foot is in contact where its vertical force is at least
    :data:`CONTACT_THRESHOLD_N`, or pulls (below -1 N: only a sphere still in
    the ground can pull; the contact model's damping does so after toe-off).
    """
    contact = (total_fy >= CONTACT_THRESHOLD_N) | (total_fy <= -1.0)
    return _away_from(contact, int(round(FLIGHT_MARGIN_S * rate)))


def _quality(model_path: Path, truth: gen.TrialTruth, contact: dict, grf_path: Path,
             record: dict) -> dict[str, float]:
    probe = gen._Probe(model_path)
    weight = probe.mass * float(np.linalg.norm(probe.gravity))
    fy = {s: c["force"][:, 1] for s, c in contact.items()}
    total = sum(fy.values())
    stance = {s: f >= CONTACT_THRESHOLD_N for s, f in fy.items()}
    flight = flight_frames(total, truth.trial.grf_rate)
    q = dict(zip(truth.kinematics.coordinates, truth.kinematics.q.T))
    t = truth.kinematics.time
    out = {
        "peak_vertical_grf_bw": float(total.max() / weight),
        "flight_fraction": float(np.mean(~(stance["r"] | stance["l"]))),
        "stance_fraction": float(np.mean([s.mean() for s in stance.values()])),
        "max_flight_vertical_grf_n": float(np.abs(total[flight]).max(initial=0.0)),
        "mean_speed_m_s": float((q["pelvis_tx"][-1] - q["pelvis_tx"][0]) / (t[-1] - t[0])),
        "truth_pelvis_residual_max_n": float(np.abs(truth.generalized_forces[:, [
            truth.kinematics.coordinates.index(c) for c in ("pelvis_tx", "pelvis_ty")]]).max()),
    }
    out.update(consistency(model_path, truth.kinematics, grf_path))
    return out


# --- the example ---------------------------------------------------------------

def default_simulation_dir(out_dir: Path) -> Path:
    """Where a build keeps its solutions: ``<out_dir>/simulation``."""
    return Path(out_dir) / "simulation"


def build_simulated_example(out_dir: str | Path, model_path: str | Path | None = None,
                            seed: int = 0, noise_mm: float = 0.0, chain: tuple = FULL_CHAIN,
                            subject: gen.Subject = gen.SUBJECT,
                            trials: tuple = gen.TRIALS, resolve: bool = False,
                            progress=None, solutions_dir: str | Path | None = None,
                            reference: MuscleOptions | None = REFERENCE_OPTIONS) -> dict:
    """Generate the example subject from Moco simulations of running.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write, e.g. ``data/example/subject01``.
    model_path : str or Path, optional
        The generic model; default the built-in one.
    seed : int
        Seed of the marker noise.
    noise_mm : float
        Marker noise (mm per axis) added to the .trc files only.
    chain : tuple of SolveStep
        :data:`FULL_CHAIN` (the committed example) or :data:`FAST_CHAIN`.
    subject : Subject
    trials : tuple of Trial
    resolve : bool
        Solve again even where cached solutions match.
    progress : callable, optional
        Receives one-line messages.
    solutions_dir : str or Path, optional
        Where the solutions are cached; default ``<out_dir>/simulation``.
    reference : MuscleOptions or None
        Options of each trial's muscle reference (:mod:`.musclereference`),
        solved or reused from the cache next to the solutions; None: none
        (the fast build, and the muscle-driven chain, whose truth has its
        own muscle states).

    Returns
    -------
    dict
        ``out_dir``, ``files``, ``mass_kg``, per trial its quality figures
        and solve records.
    """
    import opensim as osim

    import simpipe

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = Path(model_path) if model_path is not None else gen.default_model_path()
    true_model = gen.scale_model(model_path, subject, out_dir / "model_true.osim")
    probe = gen._Probe(true_model)
    rng = np.random.default_rng(seed)
    static, static_q = gen.static_markers(probe)
    write_trc(gen._noisy(static, rng, noise_mm), out_dir / "static.trc")
    generic_sha = file_sha256(model_path)
    folder = Path(solutions_dir).resolve() if solutions_dir is not None else default_simulation_dir(out_dir)
    results, sims, first = {}, [], None
    for trial in trials:
        if first is None:  # each step from the previous one (the first from the reference)
            keys, previous = [], None
            for step in chain:
                previous = step_key(generic_sha, subject, trial, step, previous)
                keys.append(previous)
            guesses = None
        else:  # continuation in speed (see the module notes)
            keys, guesses = [], []
            for j, step in enumerate(chain):
                refine = j > 0 and step.settings.actuation == chain[j - 1].settings.actuation
                keys.append(step_key(generic_sha, subject, trial, step, keys[-1] if refine else first[0][j]))
                guesses.append(None if refine else first[1][j])
        records = solve_chain(true_model, trial, folder, chain, keys, resolve=resolve,
                              progress=progress, guesses=guesses)
        if first is None:
            first = (keys, [folder / r["solution"] for r in records])
        last = chain[-1]
        simulated = simulated_trial(true_model, folder / records[-1]["solution"],
                                    last.settings, trial, out_dir, records[-1])
        write_trc(gen._noisy(simulated.truth.markers, rng, noise_mm), out_dir / f"{trial.name}.trc")
        if reference is not None:
            ref = muscle_reference(true_model, simulated.fine, out_dir / f"{trial.name}_grf.mot", gen.FEET,
                                   folder, trial.name, records[-1]["key"], reference, resolve, progress)
            simulated = replace(simulated, reference=ref)
        sims.append(simulated)
        results[trial.name] = {"quality": dict(simulated.truth.quality), "solves": records}
        if progress is not None:
            progress(f"{trial.name}: " + ", ".join(f"{k} {v:.3g}" for k, v in simulated.truth.quality.items()))
    attrs = {"seed": seed, "noise_mm": noise_mm, "simpipe_version": simpipe.__version__,
             "opensim_version": osim.__version__, "generic_model": model_path.name,
             "source": "moco_simulation", "build_version": BUILD_VERSION}
    write_simulated_truth(out_dir / "ground_truth.h5", subject, static, static_q, sims, chain, attrs)
    (out_dir / "README.md").write_text(simulated_manifest(subject, sims, chain, seed, noise_mm,
                                                          model_path.name, true_model))
    files = sorted(p.name for p in out_dir.iterdir() if p.is_file())
    return {"out_dir": str(out_dir), "files": files, "mass_kg": probe.mass, "trials": results}


def write_simulated_truth(path: Path, subject: gen.Subject, static: Markers, static_q: dict,
                          sims: list[SimulatedTrial], chain: tuple, attrs: dict) -> Path:
    """``ground_truth.h5``: :func:`simpipe.example.generate.write_truth`'s layout plus the simulation.

    Per trial, besides ``time``, ``q``, ``u``, ``udot``, ``generalized_forces``,
    ``markers`` and ``events``: ``grf_time`` and ``contact/<side>/force``,
    ``cop``, ``free_moment`` (the contact spheres' load per foot), ``muscles``,
    ``activation`` and ``muscle_force`` (N, tendon force) at the marker frames,
    the final solve's record in the attribute ``solve`` (JSON), and where
    built the muscle reference (:mod:`.musclereference`) in
    ``muscle_reference/``: ``time`` (its mesh), ``muscles``, ``activation``,
    ``tendon_force``, ``passive_fiber_force``, ``normalized_fiber_length``,
    ``actuators``, ``actuator_coordinates``, ``actuator_force`` (reserves,
    N m, and root residuals, N), its record in the attribute ``solve``.
    """
    import h5py

    gen.write_truth(path, subject, static, static_q, [s.truth for s in sims], attrs)
    with h5py.File(path, "a", track_order=True) as f:
        f.attrs["chain"] = json.dumps([{"name": s.name, **settings_record(s.settings)} for s in chain],
                                      sort_keys=True)
        for s in sims:
            g = f["trials"][s.truth.trial.name]
            del g.attrs["stance_fraction"]
            g.attrs["solve"] = json.dumps(s.solve, sort_keys=True)
            gen._put(g, "grf_time", s.grf_time)
            for side, c in s.contact.items():
                for k, v in c.items():
                    gen._put(g, f"contact/{side}/{k}", v)
            gen._put(g, "muscles", gen._strings(s.muscles))
            gen._put(g, "activation", s.activation)
            gen._put(g, "muscle_force", s.muscle_force)
            if s.reference is not None:
                _put_reference(g, s.reference)
    return path


def _put_reference(group, reference: MuscleReference) -> None:
    """``muscle_reference/`` of one trial (see :func:`write_simulated_truth`)."""
    sol = reference.solution
    r = group.create_group("muscle_reference", track_order=True)
    r.attrs["solve"] = json.dumps(reference.record, sort_keys=True)
    gen._put(r, "time", sol.time)
    gen._put(r, "muscles", gen._strings(sol.muscles))
    gen._put(r, "activation", sol.activation)
    gen._put(r, "tendon_force", sol.tendon_force)
    gen._put(r, "passive_fiber_force", sol.passive_fiber_force)
    gen._put(r, "normalized_fiber_length", sol.normalized_fiber_length)
    gen._put(r, "actuators", gen._strings(sol.actuators))
    gen._put(r, "actuator_coordinates", gen._strings(sol.actuator_coordinates))
    gen._put(r, "actuator_force", sol.actuator_force)


_SIM_MANIFEST = """\
# Example subject `{name}` (running simulated with OpenSim Moco, with its ground truth)

Generated by simpipe; do not edit by hand. To regenerate:

    simpipe example build            # reuses simulation/*.sto when their keys match (seconds)
    simpipe example build --resolve  # solves every simulation again (see the times below)

Generic model: `models/{model}`; the subject's model is it scaled per segment
(`model_true.osim`, mass {mass:g} kg, height {height:g} m; factors {factors}).

## How the motion was made

Each trial is a Moco optimal-control simulation of running
(`simpipe/example/simulate.py`): half a gait cycle with left/right symmetry,
the mean speed imposed, four SmoothSphereHalfSpaceForce contact spheres per
foot (Falisse et al. 2019), the pelvis unactuated (the ground pushes on the
body only through the contacts). The objective tracks a reference running
pattern (joint angles shaped on Novacheck 1998 and Hamner & Delp 2013, and
the ground reaction force that pattern implies) against effort (squared
controls). Chain of solves per trial, each warm-started from the previous:

{chain_rows}
Trials after the first start each new problem from the first trial's
solution of that step (continuation in speed); mesh refinements start from
the trial's own previous solve.

The written files sample the last solution (mirrored into a full cycle and
repeated) at the marker and force rates; the GRF at each force frame is the
contact spheres' force at that state, so motion and force are one
simulation. Markers are the model's own markers{noise}.

## Files

| file | content |
|---|---|
| `static.trc` | standing in the model's default pose, 1 s at 100 Hz, mm |
{trial_rows}| `model_true.osim` | the scaled model the simulations ran on |
| `simulation/<trial>_<step>.sto`, `.json` | each solve's MocoTrajectory and its record (key, status, iterations, objective terms, wall time, settings) |
| `ground_truth.h5` | the exact values (layout below) |

## Quality of the data

| trial | speed (m/s) | cycle (s) | solve | peak vertical GRF (BW) | stance / flight (fraction of cycle) | max vertical GRF in flight (N) | pelvis residual of ID on these files, force RMS (N) / moment RMS (N m) |
|---|---|---|---|---|---|---|---|
{quality_rows}
The last column is inverse dynamics of the written data as simpipe runs it
(quintic spline of the exact coordinates at the marker frames, no filter):
it measures how dynamically consistent the files are.
{reference}
## ground_truth.h5

- root attributes: `subject`, `mass_kg`, `height_m`, `seed`, `noise_mm`,
  `simpipe_version`, `opensim_version`, `generic_model`, `source`,
  `build_version`, `chain` (JSON of the solves' settings).
- `scale_factors/bodies`, `scale_factors/factors`; `static/coordinates`,
  `static/q`, `static/marker_names`, `static/markers` (m).
- `trials/<name>/`: `time` (marker frames), `coordinates`, `q`, `u`, `udot`
  (the model's forward dynamics at each state), `generalized_forces` (net
  joint moments and pelvis residuals: InverseDynamicsSolver at the exact
  state with the written GRF), `marker_names`, `markers` (noise-free, m),
  `events/foot_strike_r|toe_off_r|foot_strike_l|toe_off_l` (vertical contact
  force crossing {threshold:g} N), `grf_time`, `contact/<side>/force|cop|free_moment`,
  `muscles`, `activation`, `muscle_force` (tendon force, N; empty for
  torque-driven solves); attributes `speed_m_s`, `cycle_time_s`, `phase0`,
  `solve` (JSON record), `quality_*`.
- `trials/<name>/muscle_reference/` (where built): `time` (the MocoInverse
  mesh), `muscles`, `activation`, `tendon_force` (N), `passive_fiber_force`
  (N, along the tendon), `normalized_fiber_length`, `actuators`,
  `actuator_coordinates`, `actuator_force` (reserves N m, pelvis residuals N);
  attribute `solve` (JSON record with the options).
"""


def simulated_manifest(subject: gen.Subject, sims: list[SimulatedTrial], chain: tuple, seed: int,
                       noise_mm: float, model_name: str, true_model: Path) -> str:
    """The README.md text of a simulated example (deterministic: no wall times).

    ``true_model`` is the subject's model (the muscle references' reserves
    are measured against its moment arms).
    """
    factors = gen.scale_factor_text(subject)
    chain_rows = "".join(
        f"{i + 1}. `{s.name}`: {s.settings.actuation}, {s.settings.mesh_intervals} mesh intervals, "
        f"{s.settings.finite_difference} differences, tolerances {s.settings.convergence_tolerance:g} / "
        f"{s.settings.constraint_tolerance:g}\n" for i, s in enumerate(chain))
    trial_rows = "".join(
        f"| `{t.name}.trc`, `{t.name}_grf.mot`, `{t.name}_external_loads.xml` | running "
        f"{t.speed:g} m/s, cycle {t.cycle_time:g} s, {t.duration:g} s; markers {t.marker_rate:g} Hz "
        f"in mm, GRF {t.grf_rate:g} Hz |\n" for t in (s.truth.trial for s in sims))
    quality_rows = "".join(
        f"| {s.truth.trial.name} | {s.truth.trial.speed:g} | {s.truth.trial.cycle_time:g} "
        f"| {s.solve['status']}, {s.solve['iterations']} iterations "
        f"| {q['peak_vertical_grf_bw']:.2f} | {q['stance_fraction']:.2f} / {q['flight_fraction']:.2f} "
        f"| {q['max_flight_vertical_grf_n']:.2f} "
        f"| {q['pelvis_residual_force_rms_n']:.1f} / {q['pelvis_residual_moment_rms_nm']:.1f} |\n"
        for s in sims for q in [s.truth.quality])
    reference = _reference_section(sims, true_model)
    noise = (f", plus Gaussian noise of {noise_mm:g} mm per axis (seed {seed}; "
             "ground_truth.h5 keeps the noise-free positions)" if noise_mm > 0 else " (no noise)")
    return _SIM_MANIFEST.format(name=subject.name, model=model_name, mass=subject.mass_kg,
                                height=subject.height_m, factors=factors, chain_rows=chain_rows,
                                noise=noise, trial_rows=trial_rows, quality_rows=quality_rows,
                                threshold=CONTACT_THRESHOLD_N, reference=reference)


_REFERENCE_SECTION = """
## Muscle reference

The simulation is torque-driven; each trial's muscle forces come from
MocoInverse on its exact states (1000 Hz) and contact forces, on the true
model with {tendons} tendons (`simpipe/example/musclereference.py`): muscle
forces plus reserve torques reproduce the net joint moments, at least
effort. Cached as `simulation/<trial>_muscle_reference.sto` and `.json`.

Reserves (a reserve torque r costs (r / 10 N m)^2 in the objective, a muscle
excitation e costs e^2) relative to each joint's peak net moment (lumbar: no
muscle crosses it, its reserve is its moment). The peaks are 20-30 ms spikes
at foot strike and early swing, where the torque-driven simulation's
moments change faster than activation dynamics (15 ms up, 60 ms down) let
any muscle follow; over the trial the muscles carry the joints (RMS).

| trial | solve | reserve RMS / peak net moment: hip, knee, ankle | largest reserve / peak net moment: hip, knee, ankle |
|---|---|---|---|
{rows}"""


def _reference_section(sims: list[SimulatedTrial], true_model: Path) -> str:
    """The README's muscle-reference section (empty where no trial has one)."""
    rows = []
    for s in sims:
        if s.reference is None:
            continue
        kin = s.truth.kinematics
        net_moments = {"time": kin.time, "coordinates": kin.coordinates, "q": kin.q,
                       "tau": s.truth.generalized_forces}
        columns = []
        for statistic in ("rms", "peak"):
            fractions = reserve_fractions(true_model, s.reference.solution, net_moments, statistic)
            columns.append(", ".join(f"{100 * max(v for k, v in fractions.items() if joint in k):.1f} %"
                                     for joint in ("hip", "knee", "ankle")))
        rec = s.reference.record
        rows.append(f"| {s.truth.trial.name} | {rec['status']}, {rec['iterations']} iterations, mesh "
                    f"{rec['options']['mesh_interval']:g} s | {columns[0]} | {columns[1]} |\n")
    if not rows:
        return ""
    compliant = {s.reference.record["options"]["tendon_compliance"] for s in sims if s.reference is not None}
    tendons = " and ".join(sorted("compliant" if c else "rigid" for c in compliant))
    return _REFERENCE_SECTION.format(rows="".join(rows), tendons=tendons)
