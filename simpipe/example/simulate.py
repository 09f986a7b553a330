"""A Moco simulation of running on simpipe's model: dynamically consistent example data.

:func:`simulate_running` solves a tracking problem (OpenSim Moco, CasADi +
IPOPT) over half a gait cycle of running, from right foot strike to left
foot strike, with left/right symmetry closing the cycle:

- tracked: the prescribed joint angles and pelvis motion of
  :mod:`simpipe.example.trajectories` (shaped on key values of Novacheck
  1998, Gait Posture 7:77-95, and Hamner & Delp 2013, J Biomech 46:780-787)
  and their speeds; the same motion is the initial guess;
- tracked: the ground reaction force that motion implies (Newton's second
  law on its mass centre, :func:`simpipe.example.generate.implied_grf`),
  vertical and fore-aft, against the summed contact-sphere forces of each
  foot (MocoContactTrackingGoal, as in Moco's example2DWalking);
- effort: the sum of squared controls (MocoControlGoal);
- MocoAverageSpeedGoal: the pelvis moves forward at the trial's mean speed;
- MocoPeriodicityGoal: the final state is the initial state with left and
  right swapped (as in Moco's example2DWalking), except ``pelvis_tx``;
- actuation (:attr:`SimSettings.actuation`): 'torques' (default), one
  coordinate actuator per joint; or 'muscles', the model's 18
  DeGrooteFregly2016Muscle with rigid tendons, a lumbar torque actuator and
  weak joint reserves. The pelvis is unactuated in both: the ground pushes
  on the body only through the four SmoothSphereHalfSpaceForce contacts
  (Falisse et al. 2019, PLoS One 14:e0217730).

The solution therefore has flight phases where the contact force is exactly
the contact model's (below 1 N), and ground reaction forces that balance
the motion. :func:`mirror_half_cycle` turns the half cycle into a full one;
:func:`simpipe.example.simdata.cycle_data` returns it as arrays (q, u,
udot, GRF per foot with centre of pressure, muscle states).

Status
------
Converges with ``actuation='torques'`` at 15 mesh intervals, one thread,
on a 2-core machine (two solves side by side), trial run_01 (3.4 m/s,
0.72 s cycles):

- :data:`COARSE` (forward differences, tolerances 1e-2 / 1e-3), from the
  reference guess: built-in model Solve_Succeeded after 417 iterations,
  159 s; the example subject's model_true.osim 708 iterations, 243 s;
- :data:`FULL` (central differences, 1e-3 / 1e-4) warm-started from the
  COARSE solution: 171 iterations, 162 s, same optimum (objective 0.649).

Result (built-in model): vertical GRF peak 2.50 body weights, stance 36 %
of the cycle per foot, two flight phases (29.5 % of the cycle) with
vertical force below 0.07 N, symmetry exact (a constraint), mean speed
3.400 m/s; model_true: 2.41 BW, stance 38 %, flight 26 %.

``actuation='muscles'`` (COARSE tolerances) converges when warm-started
from a torque-driven solution: built-in model 429 iterations, 951 s, peak
2.64 BW, stance 38 %, flight 26 % (< 0.33 N); model_true 280 iterations,
658 s, 2.51 BW. Joint reserves stay below 0.3 N m. At 2-3 s per
iteration it is for the example build, not CI. Muscle activations and
forces come from that solve (``CycleData.muscles`` is empty for a
torque-driven solution). Figures and history: ``SIMULATION_NOTES.md``
next to this module.

Why earlier attempts did not converge (kept here because the settings look
arbitrary without it): Moco detects the Jacobian sparsity ('random',
'initial-guess') from the *first mesh point* of one or three points, where
the feet are off the ground or barely touching, so every contact-only
dependency (friction on the pelvis fore-aft speed, contact forces in the
GRF tracking integrand) was declared structurally zero; IPOPT then worked
with wrong derivatives and wandered (constraint violation 1e1-1e3 for
hundreds of iterations, whatever the weights, mesh or guess).
``sparsity_detection='none'`` fixes it. Without GRF tracking (and with
that wrong sparsity) the coarse optimum was an impulsive hop, one contact
mesh point at 14.5 BW; implicit dynamics did not converge either.
The NaN Moco prints while detecting sparsity comes from
MocoAverageSpeedGoal evaluated with zero duration (its (0, j) entries) and
is harmless.

References
----------
Dembia CL, Bianco NA, Falisse A, Hicks JL, Delp SL (2020). OpenSim Moco:
Musculoskeletal optimal control. PLoS Comput Biol 16:e1008493.
"""

from __future__ import annotations

import logging
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simpipe.stages.osimutil import load_model, opensim

log = logging.getLogger(__name__)

#: Coordinates whose value is not tracked and not periodic (forward progress).
FORWARD = "pelvis_tx"

#: Muscle activation and excitation of the initial guess.
GUESS_ACTIVATION = 0.1

#: Joint reserves: optimal force (N m per unit control) and control bound.
RESERVE_OPTIMAL_FORCE, RESERVE_BOUND = 1.0, 100.0

#: Lumbar torque actuator: optimal force (N m) and control bound.
LUMBAR_OPTIMAL_FORCE, LUMBAR_BOUND = 100.0, 3.0


@dataclass(frozen=True)
class SimSettings:
    """Problem weights and solver settings of :func:`simulate_running`.

    Attributes
    ----------
    actuation : str
        'torques': the joints are driven by coordinate actuators (optimal
        force ``torque_optimal_force``), no muscles; converges (see the
        module Status). 'muscles': the model's 18 muscles plus weak joint
        reserves; does not converge in a practical time yet.
    torque_optimal_force, torque_bound : float
        Joint torque actuators of the 'torques' actuation (N m per unit
        control; control bound).
    mesh_intervals : int
        Mesh intervals over the half cycle (Hermite-Simpson transcription).
        15 is the coarsest mesh that converged to a running gait (at 10,
        with GRF weight 0.01, IPOPT had not converged after 140 iterations,
        objective 8.5 against 0.8 at 15).
    tracking_weight : float
        Weight of the coordinate-value tracking term (per rad^2 s, m^2 s).
    speed_tracking_weight : float
        Weight of each coordinate-speed tracking term.
    pelvis_ty_weight : float
        Relative weight of the pelvis height in the value tracking.
    trunk_weight : float
        Relative weight of pelvis tilt and lumbar extension: the reference
        trunk motion is not dynamically consistent (no arms; angular
        momentum), so the trunk is left freer.
    grf_tracking_weight : float
        Weight of the ground reaction force tracking (MocoContactTrackingGoal,
        error divided by body weight): the GRF implied by the reference
        motion (:func:`simpipe.example.generate.implied_grf`). Without it the
        optimum has no sustained stance; at 0.01 the optimum depends on the
        model and the guess (stance 23-36 % of the cycle); 0.05 gave a
        36-38 % stance on both the built-in and the example subject's model.
    effort_weight : float
        Weight of the squared controls (MocoControlGoal).
    phase0 : float
        Gait-cycle phase at the start of the half cycle (0 = right foot strike).
    convergence_tolerance, constraint_tolerance : float
        IPOPT tolerances.
    max_iterations : int
    verbosity : int
        Moco solver verbosity (0 quiet, 2 prints IPOPT iterations).
    threads : int
        ``MocoCasADiSolver.set_parallel``: 0 one thread (the default: run
        several solves side by side instead), 1 all cores, N > 1 N threads.
    dynamics_mode : str
        'explicit' (converges here) or 'implicit' (did not: constraint
        violation stayed at 1e3).
    sparsity_detection : str
        'none' (dense Jacobian blocks). Moco's 'random' and 'initial-guess'
        detect the sparsity at the *first mesh point* of one or a few
        points, where the feet are off the ground or barely touching, so
        the contact terms (e.g. friction depending on the pelvis fore-aft
        speed) are missed and IPOPT gets wrong derivatives: it never
        converges with them.
    finite_difference : str
        'central' (needed for the last digits) or 'forward' (half the cost
        per iteration; enough for :data:`COARSE`'s looser tolerances).
    passive_muscles : tuple of str
        With 'torques': muscles kept in the model as passive elements (rigid
        tendon, no activation: control fixed at 0), so their passive fiber
        force acts on the skeleton and the torques and the motion must deal
        with it, e.g. the swept rectus femoris of a simulated baseline.
    mesh_points : tuple of float
        A non-uniform mesh: increasing points from 0 to 1 (fractions of the
        half cycle; ``MocoCasADiSolver.setMesh``), e.g. from
        :func:`refined_mesh`. Empty (default): ``mesh_intervals`` equal
        intervals.
    """

    actuation: str = "torques"
    torque_optimal_force: float = 150.0
    torque_bound: float = 5.0
    mesh_intervals: int = 15
    tracking_weight: float = 20.0
    speed_tracking_weight: float = 0.05
    pelvis_ty_weight: float = 10.0
    trunk_weight: float = 0.05
    grf_tracking_weight: float = 0.05
    effort_weight: float = 1.0
    phase0: float = 0.0
    convergence_tolerance: float = 1e-3
    constraint_tolerance: float = 1e-4
    max_iterations: int = 2000
    verbosity: int = 0
    threads: int = 0
    dynamics_mode: str = "explicit"
    sparsity_detection: str = "none"
    finite_difference: str = "central"
    passive_muscles: tuple[str, ...] = ()
    mesh_points: tuple[float, ...] = ()


#: The fast path (CI): forward differences, tolerances 1e-2 (dual) and 1e-3
#: (constraints); same mesh. Its optimum differs from the full one by 0.02 %
#: in objective.
COARSE = SimSettings(finite_difference="forward", convergence_tolerance=1e-2,
                     constraint_tolerance=1e-3, max_iterations=1000)

#: The full build: central differences, tolerances 1e-3 and 1e-4.
FULL = SimSettings()


@dataclass
class SimResult:
    """What :func:`simulate_running` returns (plain data, picklable).

    Attributes
    ----------
    solution_path : Path
        The MocoTrajectory (.sto) written, usable as a warm start.
    success : bool
        IPOPT converged.
    status : str
        Solver status.
    iterations : int
    objective : float
    wall_s : float
        Solve wall time (s).
    duration : float
        Half-cycle duration (s).
    settings : SimSettings
    objective_terms : dict
        Goal name (tracking, effort, grf_tracking, ...) -> its weighted value.
    """

    solution_path: Path
    success: bool
    status: str
    iterations: int
    objective: float
    wall_s: float
    duration: float
    settings: SimSettings = field(default_factory=SimSettings)
    objective_terms: dict = field(default_factory=dict)


# --- the model --------------------------------------------------------------

def _coordinates(model) -> dict[str, str]:
    """Coordinate name -> absolute path of the coordinate, model order."""
    cs = model.getCoordinateSet()
    return {cs.get(i).getName(): cs.get(i).getAbsolutePathString() for i in range(cs.getSize())}


def _add_torque(model, coordinate: str, optimal_force: float, bound: float, name: str) -> None:
    osim = opensim()
    act = osim.CoordinateActuator(coordinate)
    act.setName(name)
    act.setOptimalForce(optimal_force)
    act.setMinControl(-bound)
    act.setMaxControl(bound)
    model.addForce(act)


def simulation_model(model_path: str | Path, settings: SimSettings | None = None):
    """The model Moco solves, with the actuators of ``settings.actuation``.

    Parameters
    ----------
    model_path : str or Path
        A simpipe model (built-in or scaled) with its contact forces.
    settings : SimSettings, optional
        Default ``SimSettings()``.

    Returns
    -------
    opensim.Model
        'torques': muscles removed, one coordinate actuator per joint
        coordinate (``torque_<coordinate>``). 'muscles': the muscles with
        rigid tendons (``ModOpIgnoreTendonCompliance``), a lumbar torque
        actuator and weak joint reserves (``reserve_<coordinate>``). The
        pelvis coordinates are never actuated. Initialized.
    """
    osim = opensim()
    settings = settings if settings is not None else SimSettings()
    model = load_model(model_path)
    if settings.actuation == "torques":
        _remove_muscles(model, keep=settings.passive_muscles)
    elif settings.actuation != "muscles":
        raise ValueError(f"actuation {settings.actuation!r}: expected 'torques' or 'muscles'")
    for name in _coordinates(model):
        if name.startswith("pelvis"):
            continue
        if settings.actuation == "torques":
            _add_torque(model, name, settings.torque_optimal_force, settings.torque_bound,
                        f"torque_{name}")
        elif name.startswith("lumbar"):
            _add_torque(model, name, LUMBAR_OPTIMAL_FORCE, LUMBAR_BOUND, f"torque_{name}")
        else:
            _add_torque(model, name, RESERVE_OPTIMAL_FORCE, RESERVE_BOUND, f"reserve_{name}")
    processor = osim.ModelProcessor(model)
    if settings.actuation == "muscles":
        processor.append(osim.ModOpIgnoreTendonCompliance())
    out = processor.process()
    out.initSystem()
    return out


def _remove_muscles(model, keep: tuple[str, ...] = ()) -> None:
    """Remove the muscles, except ``keep``, which become passive (activation fixed at 0)."""
    muscles = model.getMuscles()
    names = [muscles.get(i).getName() for i in range(muscles.getSize())]
    unknown = sorted(set(keep) - set(names))
    if unknown:
        raise ValueError(f"passive_muscles {unknown}: not muscles of the model")
    for name in keep:
        muscle = opensim().DeGrooteFregly2016Muscle.safeDownCast(muscles.get(name))
        if muscle is None:
            raise ValueError(f"passive muscle {name!r} is not a DeGrooteFregly2016Muscle")
        muscle.set_ignore_activation_dynamics(True)
        muscle.set_ignore_tendon_compliance(True)
        muscle.setMinControl(0.0)
        muscle.setMaxControl(0.0)
    forces = model.updForceSet()
    for name in names:
        if name not in keep:
            forces.remove(forces.getIndex(name))
    model.finalizeConnections()


# --- the reference ----------------------------------------------------------

def reference_states(model_path: str | Path, speed: float, cycle_time: float,
                     n: int = 101, phase0: float = 0.0):
    """Prescribed half cycle (right foot strike to left foot strike) as a Moco states table.

    Parameters
    ----------
    model_path : str or Path
        The model the trajectories are posed on (the subject's true model).
    speed, cycle_time : float
        Mean speed (m/s) and gait-cycle duration (s).
    n : int
        Rows over the half cycle.

    Returns
    -------
    opensim.TimeSeriesTable
        Columns ``<coordinate path>/value`` and ``/speed``, time 0 to
        ``cycle_time / 2``.
    """
    from simpipe.example import generate as gen

    osim = opensim()
    probe = gen._Probe(Path(model_path))
    trial = gen.Trial("reference", speed=speed, cycle_time=cycle_time, phase0=phase0)
    pelvis = gen.fit_pelvis_translation(gen._sample_cycle(probe), trial, float(probe.gravity[1]))
    time = np.linspace(0.0, cycle_time / 2, n)
    kin = gen.trial_kinematics(probe, trial, pelvis, time)
    _sink_stance_foot(kin, probe.mass, -float(probe.gravity[1]), trial)
    paths = _coordinates(probe.model)
    labels, data = [], []
    for j, name in enumerate(kin.coordinates):
        labels += [f"{paths[name]}/value", f"{paths[name]}/speed"]
        data += [kin.q[:, j], kin.u[:, j]]
    table = osim.TimeSeriesTable(list(time), osim.Matrix.createFromMat(np.column_stack(data)),
                                 labels)
    table.addTableMetaDataString("inDegrees", "no")
    return table


def reference_grf(model_path: str | Path, speed: float, cycle_time: float, folder: Path,
                  n: int = 181, phase0: float = 0.0) -> Path:
    """Write the GRF implied by the reference half cycle and its ExternalLoads XML.

    Parameters
    ----------
    model_path : str or Path
        The model the trajectories are posed on.
    speed, cycle_time, phase0 : float
        As in :func:`reference_states`.
    folder : Path
        Where ``reference_grf.mot`` and ``reference_grf.xml`` are written
        (a temporary folder of the solve).
    n : int
        Rows over the half cycle.

    Returns
    -------
    Path
        The ExternalLoads XML (forces ``grf_r``, ``grf_l`` on the feet).

    Notes
    -----
    Newton's second law on the reference's mass centre, the whole force on
    the stance foot (:func:`simpipe.example.generate.implied_grf`): vertical
    force with an impact transient and an active peak, braking then
    propulsion, zero in flight.
    """
    from simpipe.example import generate as gen
    from simpipe.io.grf import write_external_loads_xml, write_grf

    probe = gen._Probe(Path(model_path))
    trial = gen.Trial("reference", speed=speed, cycle_time=cycle_time, phase0=phase0)
    pelvis = gen.fit_pelvis_translation(gen._sample_cycle(probe), trial, float(probe.gravity[1]))
    table = gen.implied_grf(probe, trial, pelvis, np.linspace(0.0, cycle_time / 2, n))
    mot = write_grf(table, Path(folder) / "reference_grf.mot")
    return write_external_loads_xml(Path(folder) / "reference_grf.xml", mot, gen.FEET)


def contact_depth(force: np.ndarray) -> np.ndarray:
    """Depth (m) a single contact sphere must sink to carry a vertical ``force`` (N).

    Hertz contact of a sphere on a plane, as in SmoothSphereHalfSpaceForce
    without damping: ``F = 4/3 sqrt(r) E d^1.5`` (Falisse et al. 2019).
    """
    from simpipe.model.parameters import CONTACT

    k = 4.0 / 3.0 * np.sqrt(CONTACT.radius) * CONTACT.stiffness
    return (np.clip(force, 0.0, None) / k) ** (2.0 / 3.0)


def _sink_stance_foot(kin, mass: float, gravity: float, trial) -> None:
    """Lower the pelvis in stance so the contact model carries the target force.

    The prescribed motion keeps the stance foot's lowest point at y = 0, where
    the contact force is zero; the reference (and guess) sinks the body by
    :func:`contact_depth` of the target vertical force (from
    :func:`simpipe.example.generate.vertical_acceleration`), so the guess
    already stands on the ground.
    """
    from simpipe.example import generate as gen

    phase = trial.phase0 + kin.time / trial.cycle_time
    force = mass * (gen.vertical_acceleration(phase, gravity) + gravity)
    depth = contact_depth(force)
    j = kin.coordinates.index("pelvis_ty")
    kin.q[:, j] -= depth
    kin.u[:, j] -= np.gradient(depth, kin.time)


# --- the problem --------------------------------------------------------------

def mirror_name(path: str) -> str:
    """Swap the side suffix of every path element: ``hip_r/hip_flexion_r`` -> ``hip_l/hip_flexion_l``.

    Parameters
    ----------
    path : str
        A component, state or control path (or a column label).

    Returns
    -------
    str
    """
    parts = []
    for part in path.split("/"):
        if part.endswith("_r"):
            part = part[:-2] + "_l"
        elif part.endswith("_l"):
            part = part[:-2] + "_r"
        parts.append(part)
    return "/".join(parts)


def _tracking_goal(model, settings: SimSettings, table):
    """State tracking of coordinate values and speeds (not pelvis_tx's value)."""
    osim = opensim()
    goal = osim.MocoStateTrackingGoal("tracking", 1.0)
    goal.setReference(osim.TableProcessor(table))
    goal.setAllowUnusedReferences(True)
    weights = osim.MocoWeightSet()
    for name, path in _coordinates(model).items():
        relative = {"pelvis_ty": settings.pelvis_ty_weight, "pelvis_tilt": settings.trunk_weight,
                    "lumbar_extension": settings.trunk_weight}.get(name, 1.0)
        value = 0.0 if name == FORWARD else settings.tracking_weight * relative
        weights.cloneAndAppend(osim.MocoWeight(f"{path}/value", value))
        weights.cloneAndAppend(osim.MocoWeight(f"{path}/speed", settings.speed_tracking_weight))
    goal.setWeightSet(weights)
    return goal


def _symmetry_goal(model):
    """Final state and controls = initial ones with left and right swapped."""
    osim = opensim()
    goal = osim.MocoPeriodicityGoal("symmetry")
    names = model.getStateVariableNames()
    for i in range(names.getSize()):
        path = names.get(i)
        if path.endswith(f"/{FORWARD}/value"):
            continue
        goal.addStatePair(osim.MocoPeriodicityGoalPair(path, mirror_name(path)))
    for path in _control_paths(model):
        goal.addControlPair(osim.MocoPeriodicityGoalPair(path, mirror_name(path)))
    return goal


def _control_paths(model) -> list[str]:
    acts = model.getActuators()
    return [acts.get(i).getAbsolutePathString() for i in range(acts.getSize())]


def build_study(model, table, speed: float, duration: float, settings: SimSettings,
                external_loads: Path | None = None):
    """The MocoStudy of a symmetric half cycle of running.

    Parameters
    ----------
    model : opensim.Model
        From :func:`simulation_model`.
    table : opensim.TimeSeriesTable
        From :func:`reference_states`.
    speed : float
        Average forward speed of the pelvis (m/s).
    duration : float
        Half-cycle duration (s), fixed.
    settings : SimSettings
    external_loads : Path, optional
        ExternalLoads XML of the GRF to track (:func:`reference_grf`); it
        must exist until the study is solved (Moco reads it then).

    Returns
    -------
    opensim.MocoStudy
    """
    osim = opensim()
    study = osim.MocoStudy()
    study.setName("simpipe_running")
    problem = study.updProblem()
    problem.setModelAsCopy(model)
    problem.setTimeBounds(0.0, duration)
    problem.setStateInfoPattern("/forceset/.*/activation", [0.01, 1.0], [], [])
    problem.setControlInfoPattern("/forceset/(?!reserve|torque).*", [0.01, 1.0], [], [])
    for name in settings.passive_muscles:  # passive elements: no activation at all
        problem.setControlInfo(f"/forceset/{name}", [0.0, 0.0])
    paths = _coordinates(model)
    problem.setStateInfo(f"{paths[FORWARD]}/value", [-1.0, 3.0], 0.0)
    problem.setStateInfo(f"{paths['pelvis_ty']}/value", [0.6, 1.3])
    problem.addGoal(_tracking_goal(model, settings, table))
    problem.addGoal(osim.MocoControlGoal("effort", settings.effort_weight))
    problem.addGoal(_symmetry_goal(model))
    speed_goal = osim.MocoAverageSpeedGoal("speed")
    speed_goal.set_desired_average_speed(speed)
    problem.addGoal(speed_goal)
    if external_loads is not None and settings.grf_tracking_weight > 0:
        problem.addGoal(_grf_tracking_goal(model, external_loads, settings.grf_tracking_weight))
    return study


def _grf_tracking_goal(model, external_loads: Path, weight: float):
    """Track each foot's summed contact force (x, y) against ``grf_<side>`` of the XML."""
    from simpipe.example.generate import FEET
    from simpipe.example.simdata import foot_contacts

    osim = opensim()
    goal = osim.MocoContactTrackingGoal("grf_tracking", weight)
    goal.setExternalLoadsFile(str(external_loads))
    for side, paths in foot_contacts(model, FEET).items():
        goal.addContactGroup(list(paths), f"grf_{side}")  # a plain list: see FACTS quirks (StdVector after ezc3d)
    goal.setProjection("plane")
    goal.setProjectionVector(osim.Vec3(0, 0, 1))
    return goal


def _configure_solver(study, settings: SimSettings):
    solver = study.initCasADiSolver()
    if settings.mesh_points:
        solver.setMesh([float(p) for p in settings.mesh_points])
    else:
        solver.set_num_mesh_intervals(settings.mesh_intervals)
    solver.set_verbosity(settings.verbosity)
    solver.set_optim_solver("ipopt")
    solver.set_optim_convergence_tolerance(settings.convergence_tolerance)
    solver.set_optim_constraint_tolerance(settings.constraint_tolerance)
    solver.set_optim_max_iterations(settings.max_iterations)
    solver.set_parallel(settings.threads)
    solver.set_multibody_dynamics_mode(settings.dynamics_mode)
    solver.set_optim_sparsity_detection(settings.sparsity_detection)
    solver.set_optim_finite_difference_scheme(settings.finite_difference)
    return solver


def refined_mesh(base_intervals: int, windows: tuple[tuple[float, float, int], ...]) -> tuple[float, ...]:
    """Mesh points on [0, 1]: ``base_intervals`` equal intervals, finer inside windows.

    Parameters
    ----------
    base_intervals : int
        Intervals of the uniform mesh outside the windows.
    windows : tuple of (start, end, factor)
        Fractions of the problem's time span (0 <= start < end <= 1), each
        meshed ``factor`` times finer than the base mesh. Windows must not
        overlap.

    Returns
    -------
    tuple of float
        Strictly increasing points from 0.0 to 1.0, rounded to 1e-9 (they
        enter the solve's cache key).
    """
    base = 1.0 / base_intervals
    edges = [0.0]
    for start, end, factor in sorted(windows):
        if not 0.0 <= start < end <= 1.0 or start < edges[-1] - 1e-12 or factor < 1:
            raise ValueError(f"mesh window ({start}, {end}, {factor}) is not inside [0, 1], "
                             f"overlaps another or has factor < 1")
        if start > edges[-1]:
            n = max(1, round((start - edges[-1]) / base))
            edges += list(np.linspace(edges[-1], start, n + 1)[1:])
        n = max(1, round((end - start) * factor / base))
        edges += list(np.linspace(start, end, n + 1)[1:])
    if edges[-1] < 1.0:
        n = max(1, round((1.0 - edges[-1]) / base))
        edges += list(np.linspace(edges[-1], 1.0, n + 1)[1:])
    return tuple(round(float(e), 9) for e in edges)


def _guess_from_table(solver, table, passive: tuple[str, ...] = ()):
    """Bounds-midpoint guess with the reference states inserted (and resampled)."""
    osim = opensim()
    guess = solver.createGuess()
    guess.insertStatesTrajectory(table, True)
    n = guess.getNumTimes()
    low = osim.Vector(n, GUESS_ACTIVATION)
    for name in guess.getStateNames():
        if name.endswith("/activation"):
            guess.setState(name, low)
    zero = osim.Vector(n, 0.0)
    for name in guess.getControlNames():
        if name.split("/")[-1].startswith(("reserve", "torque")):
            continue
        guess.setControl(name, zero if name.split("/")[-1] in passive else low)
    return guess


def _warm_guess(solver, path, duration: float, passive: tuple[str, ...] = ()):
    """A previous solution as the guess, its time rescaled to ``duration``.

    A solution of the same problem (same states and controls) is used as it
    is; one of another actuation (e.g. the torque-driven solution as the
    guess of the muscle-driven problem) gives its coordinate values and
    speeds, the rest as in :func:`_guess_from_table`.
    """
    osim = opensim()
    previous = osim.MocoTrajectory(str(Path(path).resolve()))
    t = np.asarray(previous.getTimeMat()).ravel()
    previous.setTime(osim.Vector.createFromMat(t * duration / t[-1]))
    template = solver.createGuess()
    if (sorted(previous.getStateNames()) == sorted(template.getStateNames())
            and sorted(previous.getControlNames()) == sorted(template.getControlNames())):
        return previous
    names = [n for n in previous.getStateNames() if n.startswith("/jointset/")]
    values = np.column_stack([np.asarray(previous.getStateMat(n)).ravel() for n in names])
    table = osim.TimeSeriesTable(list(t * duration / t[-1]), osim.Matrix.createFromMat(values),
                                 names)
    table.addTableMetaDataString("inDegrees", "no")
    return _guess_from_table(solver, table, passive)


def simulate_running(model_path: str | Path, solution_path: str | Path, speed: float = 3.5,
                     cycle_time: float = 0.705, settings: SimSettings = COARSE,
                     warm_start: str | Path | None = None) -> SimResult:
    """Solve a symmetric half cycle of running with foot contact (Moco tracking).

    Parameters
    ----------
    model_path : str or Path
        The model (the built-in one or the example subject's scaled model).
    solution_path : str or Path
        Where the solution (.sto MocoTrajectory) is written.
    speed : float
        Average forward speed (m/s).
    cycle_time : float
        Gait-cycle duration (s); the problem spans half of it.
    settings : SimSettings
        :data:`COARSE` (default) or :data:`FULL` (then warm-start from the
        COARSE solution).
    warm_start : str or Path, optional
        A previous solution used as the initial guess (time rescaled to
        this duration; see :func:`_warm_guess`): the :data:`COARSE`
        solution for :data:`FULL` (from the reference guess FULL found a
        worse local optimum), the torque-driven solution for
        ``actuation='muscles'``. Default the reference motion.

    Returns
    -------
    SimResult

    Notes
    -----
    CasADi with IPOPT (Dembia et al. 2020), Hermite-Simpson transcription,
    explicit dynamics, one thread (``set_parallel(0)``). The GRF reference
    is written to a temporary folder that is removed afterwards; Moco's
    ``delete_this_to_stop_optimization*`` files are not written
    (``verbosity`` < 2) or go to the current directory (verbosity 2: run
    from a scratch folder). The solution is written even when IPOPT did
    not converge (the result says so).
    """
    import tempfile

    solution_path = Path(solution_path).resolve()
    duration = cycle_time / 2
    model = simulation_model(model_path, settings)
    table = reference_states(model_path, speed, cycle_time, phase0=settings.phase0)
    with tempfile.TemporaryDirectory(prefix="simpipe_grf_") as folder:
        loads = reference_grf(model_path, speed, cycle_time, Path(folder), phase0=settings.phase0)
        study = build_study(model, table, speed, duration, settings, external_loads=loads)
        solver = _configure_solver(study, settings)
        passive = tuple(settings.passive_muscles)
        solver.setGuess(_warm_guess(solver, warm_start, duration, passive) if warm_start is not None
                        else _guess_from_table(solver, table, passive))
        start = _time.perf_counter()
        solution = study.solve()
        wall = _time.perf_counter() - start
    success = bool(solution.success())
    if not success:
        solution.unseal()
    solution_path.parent.mkdir(parents=True, exist_ok=True)
    solution.write(str(solution_path))
    terms = {str(n): float(solution.getObjectiveTerm(n)) for n in solution.getObjectiveTermNames()}
    result = SimResult(solution_path, success, solution.getStatus(),
                       int(solution.getNumIterations()), float(solution.getObjective()),
                       wall, duration, settings, terms)
    log.info("running simulation %.2f m/s: %s after %d iterations in %.0f s (objective %.4g)",
             speed, result.status, result.iterations, wall, result.objective)
    return result


# --- from the half cycle to a trial ------------------------------------------

@dataclass
class Cycle:
    """States and controls of a solution over time (plain arrays).

    Attributes
    ----------
    time : ndarray, shape (n,)
    state_names, control_names : list of str
    states : ndarray, shape (n, n_states)
    controls : ndarray, shape (n, n_controls)
    """

    time: np.ndarray
    state_names: list
    states: np.ndarray
    control_names: list
    controls: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """A state or control column by path."""
        if name in self.state_names:
            return self.states[:, self.state_names.index(name)]
        return self.controls[:, self.control_names.index(name)]


def read_solution(path: str | Path) -> Cycle:
    """Read a MocoTrajectory (.sto) into a :class:`Cycle`."""
    osim = opensim()
    traj = osim.MocoTrajectory(str(Path(path).resolve()))
    return Cycle(np.asarray(traj.getTimeMat()).ravel(), list(traj.getStateNames()),
                 np.asarray(traj.getStatesTrajectoryMat()), list(traj.getControlNames()),
                 np.asarray(traj.getControlsTrajectoryMat()))


def _forward_column(names: list) -> int:
    return next(i for i, n in enumerate(names) if n.endswith(f"/{FORWARD}/value"))


def mirror_half_cycle(half: Cycle) -> Cycle:
    """A full gait cycle from a symmetric half cycle.

    The second half is the first with left and right swapped
    (:func:`mirror_name`) and the forward position advanced by the distance
    of the first half; its first row (the mirror of the initial state, equal
    to the final state within the periodicity tolerance) is dropped.
    """
    s_perm = [half.state_names.index(mirror_name(n)) for n in half.state_names]
    c_perm = [half.control_names.index(mirror_name(n)) for n in half.control_names]
    second = half.states[1:, s_perm].copy()
    ix = _forward_column(half.state_names)
    second[:, ix] += half.states[-1, ix] - half.states[0, ix]
    t_half = half.time[-1] - half.time[0]
    return Cycle(np.r_[half.time, half.time[1:] + t_half], half.state_names,
                 np.vstack([half.states, second]), half.control_names,
                 np.vstack([half.controls, half.controls[1:, c_perm]]))


def sample_cycle(cycle: Cycle, time: np.ndarray, time_offset: float = 0.0) -> Cycle:
    """Repeat a full cycle periodically and sample it at ``time``.

    Parameters
    ----------
    cycle : Cycle
        One full gait cycle (from :func:`mirror_half_cycle`), time from 0.
    time : ndarray
        Sample times (s).
    time_offset : float
        Cycle time at ``time = 0`` (e.g. ``phase0 * cycle_time``).

    Returns
    -------
    Cycle
        Coordinate values by cubic Hermite interpolation with the speeds as
        slopes (so value and speed agree), every other column by a cubic
        spline; the forward position advances by one cycle's distance per
        repetition.
    """
    from scipy.interpolate import CubicHermiteSpline, CubicSpline

    period = cycle.time[-1] - cycle.time[0]
    ix = _forward_column(cycle.state_names)
    stride = cycle.states[-1, ix] - cycle.states[0, ix]
    reps = range(int(np.floor((time.min() + time_offset) / period)) - 1,
                 int(np.ceil((time.max() + time_offset) / period)) + 1)
    t_all, s_all, c_all = [], [], []
    for k in reps:
        rows = slice(0, -1)
        states = cycle.states[rows].copy()
        states[:, ix] += k * stride
        t_all.append(cycle.time[rows] + k * period)
        s_all.append(states)
        c_all.append(cycle.controls[rows])
    t_all, s_all, c_all = np.concatenate(t_all), np.vstack(s_all), np.vstack(c_all)
    tq = np.asarray(time, float) + time_offset
    states = CubicSpline(t_all, s_all)(tq)
    for j, name in enumerate(cycle.state_names):
        if name.endswith("/value"):
            jd = cycle.state_names.index(name[: -len("value")] + "speed")
            states[:, j] = CubicHermiteSpline(t_all, s_all[:, j], s_all[:, jd])(tq)
    return Cycle(np.asarray(time, float), cycle.state_names, states, cycle.control_names,
                 CubicSpline(t_all, c_all)(tq))


def _table(osim, time, names, values):
    table = osim.TimeSeriesTable(list(map(float, time)),
                                 osim.Matrix.createFromMat(np.ascontiguousarray(values)),
                                 list(names))
    table.addTableMetaDataString("inDegrees", "no")
    return table


def analyze_outputs(model, samples: Cycle, outputs: list[str]) -> dict[str, np.ndarray]:
    """Model outputs (e.g. ``'.*|acceleration'``) along sampled states and controls.

    Thin wrapper of ``opensim.analyze`` (Moco), which realizes the model at
    each row with the controls prescribed.
    """
    osim = opensim()
    out = osim.analyze(model, _table(osim, samples.time, samples.state_names, samples.states),
                       _table(osim, samples.time, samples.control_names, samples.controls),
                       outputs)
    labels = list(out.getColumnLabels())
    mat = out.getMatrix().to_numpy()
    return {label: mat[:, i] for i, label in enumerate(labels)}
