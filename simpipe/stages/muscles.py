"""Muscle forces along a measured motion, with the model's passive fiber forces.

Two methods, both on the kinematics of inverse kinematics (filtered
coordinates) with the measured ground reaction forces applied to the feet:

``moco_inverse`` (default)
    OpenSim Moco's ``MocoInverse`` (Dembia et al. 2020, PLoS Comput Biol
    16:e1008493): the coordinates are prescribed, and the muscle excitations
    and reserve/residual actuator controls minimize the summed squared
    controls subject to the multibody dynamics, the muscles' activation
    dynamics and their force-length-velocity and passive force-length curves
    (DeGrooteFregly2016Muscle: De Groote et al. 2016, Ann Biomed Eng
    44:2922). A model variant's passive fiber force (e.g. a stiffer rectus
    femoris) is part of the muscle model, so it acts here.
``static_optimization``
    Frame by frame, the same cost without activation dynamics: with rigid
    tendons a muscle's tendon force is affine in its activation,
    ``F = F_passive(q, qdot) + a * F_active_max(q, qdot)``, both parts
    evaluated by OpenSim's muscle model, so the passive force is included
    (unlike OpenSim's StaticOptimization tool, opensim-core #439, #3910). Each
    frame is a bounded linear least-squares problem. Much faster.

Every coordinate gets an ideal actuator: reserves on the joint coordinates
(``reserve_<coordinate>``, penalized through a small optimal force) and
residuals on the coordinates of the root joint (``residual_<coordinate>``),
which no muscle spans. Contact forces of the model are removed: the measured
forces replace them.

Nothing is read from or written to the working directory: inputs for Moco
(kinematics table, external loads) go into the ``work_dir`` given, together
with the solver's log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time as _time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.optimize import lsq_linear

from ..data import Table
from ..errors import ModelError, StageError
from ..io.grf import write_external_loads_xml
from ..io.sto import write_sto
from .osimutil import coordinate_names, load_model, opensim, set_pose, speed_indices

log = logging.getLogger(__name__)

#: Methods of :func:`muscle_forces`.
METHODS = ("moco_inverse", "static_optimization")

#: Force classes treated as foot-ground contact and removed before solving.
CONTACT_FORCES = ("SmoothSphereHalfSpaceForce", "HuntCrossleyForce", "ElasticFoundationForce",
                  "MeyerFregly2016Force", "EspositoMiller2018Force",
                  "AckermannVanDenBogert2010Force")


@dataclass(frozen=True)
class MuscleOptions:
    """Settings of the muscle stage (the ``muscles:`` config block).

    Attributes
    ----------
    method : {'moco_inverse', 'static_optimization'}
    mesh_interval : float
        MocoInverse mesh interval (s); 0.02-0.05 is coarse (CI), 0.01 fine.
    reserve_optimal_force : float
        Optimal force (N m) of the joint reserves; a reserve torque ``r``
        costs ``(r / reserve_optimal_force)**2``, as much as one muscle at
        activation ``r / reserve_optimal_force``: small values keep the
        muscles doing the work. 10 N m costs as much as a fully active muscle
        per 10 N m (a muscle of 1000 N at 5 cm gives 50 N m). On the example
        1 N m gave the same reserves (within 0.1 N m) and muscle forces
        within 220 N, but poorer scaling: 214 instead of 48 IPOPT iterations.
    residual_optimal_force : float
        Optimal force (N, N m) of the root-joint residuals.
    tolerance : float
        IPOPT convergence and constraint tolerance (MocoInverse).
    max_iterations : int
        IPOPT iteration limit (MocoInverse).
    tendon_compliance : bool
        Keep compliant tendons (implicit tendon dynamics, slower); default
        rigid tendons. ``static_optimization`` requires rigid tendons.
        Without a guess, the rigid-tendon problem is solved first and the
        compliant one starts from it (:func:`compliant_guess`). The
        compliant problem is solved with dense Jacobian blocks (CasADi
        sparsity detection 'none'): Moco's sparsity detection ('random',
        MocoInverse's default, or 'initial-guess') samples one mesh point
        and misses couplings of the implicit tendon dynamics; with it IPOPT
        is lost (1000 iterations, reserves beyond the net moments, on the
        example's running trials), with dense blocks it converges
        (``SIMULATION_NOTES.md``). Each iteration costs several times more.
    finite_difference : {'forward', 'central'}
        Derivative scheme of the CasADi solver: forward is about twice as
        fast per iteration.
    time_range : tuple of float or None
        Solve over this part of the trial only (s); default the whole trial.
    """

    method: str = "moco_inverse"
    mesh_interval: float = 0.02
    reserve_optimal_force: float = 10.0
    residual_optimal_force: float = 100.0
    tolerance: float = 1e-3
    max_iterations: int = 1000
    tendon_compliance: bool = False
    finite_difference: str = "forward"
    time_range: tuple[float, float] | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"muscle method must be one of {METHODS}, got {self.method!r}")
        if self.method == "static_optimization" and self.tendon_compliance:
            raise ValueError("static_optimization needs rigid tendons (tendon_compliance: false)")
        for name in ("mesh_interval", "reserve_optimal_force", "residual_optimal_force", "tolerance"):
            if not getattr(self, name) > 0:
                raise ValueError(f"muscle option {name} must be > 0, got {getattr(self, name)}")


@dataclass
class MuscleSolution:
    """Muscle and actuator forces along a trial (one model variant).

    Attributes
    ----------
    time : ndarray, shape (n,)
        Solution times (s): the MocoInverse mesh, or the kinematics frames.
    muscles : list of str
    activation, tendon_force, passive_fiber_force, normalized_fiber_length : ndarray, shape (n, m)
        Activation (0-1); tendon force (N); passive fiber force (elastic
        plus damping) along the tendon (N), the part of the tendon force the
        fibers carry passively, as in the ``passive`` stage; fiber length /
        optimal fiber length.
    actuators, actuator_coordinates, actuator_kinds : list of str
        Reserve and residual actuators, the coordinate each drives, and
        ``'reserve'`` or ``'residual'``.
    actuator_force : ndarray, shape (n, k)
        Generalized force of each actuator (N m for rotations, N for translations).
    method : str
    success : bool
    status : str
    iterations : int
        Solver iterations (0 for static optimization).
    objective : float
    wall_s : float
        Wall time of the solve (s).
    """

    time: np.ndarray
    muscles: list[str]
    activation: np.ndarray
    tendon_force: np.ndarray
    passive_fiber_force: np.ndarray
    normalized_fiber_length: np.ndarray
    actuators: list[str]
    actuator_coordinates: list[str]
    actuator_kinds: list[str]
    actuator_force: np.ndarray
    method: str
    success: bool
    status: str
    iterations: int
    objective: float
    wall_s: float
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain dict of arrays, lists and numbers (picklable, HDF5-ready)."""
        return asdict(self)


# --- the model ---------------------------------------------------------------

def root_coordinates(model) -> list[str]:
    """Coordinates of the joints whose parent is ground (pelvis: residuals)."""
    joints = model.getJointSet()
    out = []
    for i in range(joints.getSize()):
        joint = joints.get(i)
        if joint.getParentFrame().findBaseFrame().getName() != "ground":
            continue
        out += [joint.get_coordinates(j).getName() for j in range(joint.numCoordinates())]
    return out


def remove_contact_forces(model) -> list[str]:
    """Remove foot-ground contact forces from the force set; returns their names."""
    fs = model.updForceSet()
    removed = []
    for i in range(fs.getSize() - 1, -1, -1):
        if fs.get(i).getConcreteClassName() in CONTACT_FORCES:
            removed.append(fs.get(i).getName())
            fs.remove(i)
    return removed[::-1]


def add_reserves(model, reserve_force: float, residual_force: float) -> list[tuple[str, str, str]]:
    """Add an ideal CoordinateActuator on every coordinate.

    Returns
    -------
    list of (name, coordinate, kind)
        ``kind`` is ``'residual'`` for the root joint's coordinates, else
        ``'reserve'``.
    """
    osim = opensim()
    roots = set(root_coordinates(model))
    out = []
    for name in coordinate_names(model):
        kind = "residual" if name in roots else "reserve"
        act = osim.CoordinateActuator(name)
        act.setName(f"{kind}_{name}")
        act.setOptimalForce(residual_force if kind == "residual" else reserve_force)
        act.setMinControl(-np.inf)
        act.setMaxControl(np.inf)
        model.addForce(act)
        out.append((f"{kind}_{name}", name, kind))
    return out


def prepare_model(model_path: str | Path, options: MuscleOptions):
    """Load a model for the muscle stage: no contact, rigid tendons, reserves.

    Returns
    -------
    model : opensim.Model
        Not yet initialized; keep a reference while using it.
    actuators : list of (name, coordinate, kind)
    """
    model = load_model(model_path)
    if model.getMuscles().getSize() == 0:
        raise ModelError(f"{model_path}: the model has no muscles")
    removed = remove_contact_forces(model)
    if removed:
        log.debug("%s: removed contact forces %s", model_path, removed)
    if not options.tendon_compliance:
        muscles = model.updMuscles()
        for i in range(muscles.getSize()):
            muscles.get(i).set_ignore_tendon_compliance(True)
    actuators = add_reserves(model, options.reserve_optimal_force, options.residual_optimal_force)
    model.finalizeConnections()
    return model, actuators


def muscle_names(model) -> list[str]:
    ms = model.getMuscles()
    return [ms.get(i).getName() for i in range(ms.getSize())]


# --- MocoInverse ---------------------------------------------------------------

@contextlib.contextmanager
def _stdout_to(path: Path):
    """Send the C++ side's stdout (IPOPT, Moco summaries) into a file."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(path, "ab") as fh:
        os.dup2(fh.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _window(time: np.ndarray, time_range) -> np.ndarray:
    if time_range is None:
        return np.ones(len(time), bool)
    keep = (time >= time_range[0] - 1e-9) & (time <= time_range[1] + 1e-9)
    if keep.sum() < 4:
        raise StageError(f"muscle time_range {list(time_range)} keeps {keep.sum()} frames of "
                         f"{time[0]:.3f}-{time[-1]:.3f} s")
    return keep


def non_dgf_muscles(model) -> dict[str, list[str]]:
    """Muscles that are not DeGrooteFregly2016Muscle, by class name."""
    ms = model.getMuscles()
    out: dict[str, list[str]] = {}
    for i in range(ms.getSize()):
        cls = ms.get(i).getConcreteClassName()
        if cls != "DeGrooteFregly2016Muscle":
            out.setdefault(cls, []).append(ms.get(i).getName())
    return out


def moco_model_processor(model, loads_xml: Path, options: MuscleOptions):
    """The ModelProcessor of the MocoInverse problem.

    Muscles of other classes (Millard2012, Thelen2003, ...) are converted to
    DeGrooteFregly2016Muscle, whose smooth curves Moco needs
    (DeGrooteFregly2016Muscle.replaceMuscles keeps the name, maximum force,
    optimal fiber length, tendon slack length and pennation of each muscle);
    :func:`solve_moco_inverse` logs and records the conversion.
    """
    osim = opensim()
    if non_dgf_muscles(model):
        # replaceMuscles leaves DeGrooteFregly muscles as they are when allowed to
        model = osim.Model(model)
        model.finalizeConnections()
        osim.DeGrooteFregly2016Muscle.replaceMuscles(model, True)
        model.finalizeConnections()
    processor = osim.ModelProcessor(model)
    processor.append(osim.ModOpAddExternalLoads(str(loads_xml)))
    if options.tendon_compliance:
        processor.append(osim.ModOpTendonComplianceDynamicsModeDGF("implicit"))
    else:
        processor.append(osim.ModOpIgnoreTendonCompliance())
    return processor


def _moco_inverse_study(model, kin_sto: Path, loads_xml: Path, t0: float, t1: float,
                        options: MuscleOptions):
    osim = opensim()
    processor = moco_model_processor(model, loads_xml, options)
    inverse = osim.MocoInverse()
    inverse.setModel(processor)
    table = osim.TableProcessor(str(kin_sto))
    table.append(osim.TabOpUseAbsoluteStateNames())
    inverse.setKinematics(table)
    inverse.set_initial_time(t0)
    inverse.set_final_time(t1)
    inverse.set_mesh_interval(options.mesh_interval)
    inverse.set_kinematics_allow_extra_columns(True)
    inverse.set_convergence_tolerance(options.tolerance)
    inverse.set_constraint_tolerance(options.tolerance)
    inverse.set_max_iterations(int(options.max_iterations))
    study = inverse.initialize()
    solver = osim.MocoCasADiSolver.safeDownCast(study.updSolver())
    solver.set_parallel(0)  # one thread: simpipe runs problems in parallel instead
    solver.set_optim_finite_difference_scheme(options.finite_difference)
    if options.tendon_compliance:
        # see MuscleOptions.tendon_compliance: detection at one mesh point
        # misses couplings of the implicit tendon dynamics
        solver.set_optim_sparsity_detection("none")
    solver.set_verbosity(0)
    return inverse, study


def _output_columns(table, names: list[str], output: str) -> np.ndarray:
    labels = list(table.getColumnLabels())
    mat = table.getMatrix().to_numpy()
    return np.column_stack([mat[:, labels.index(f"/forceset/{n}|{output}")] for n in names])


def _analyze(study, solution, muscles: list[str], actuators: list[str]) -> dict:
    """Muscle outputs along the solution, with the prescribed kinematics inserted."""
    osim = opensim()
    rep = study.getProblem().createRep()
    model = rep.getModelBase()  # owned by rep: keep rep alive below
    motion = None
    for comp in model.getComponentsList():
        if comp.getConcreteClassName() == "PositionMotion":
            motion = osim.PositionMotion.safeDownCast(comp)
    if motion is None:
        raise StageError("MocoInverse problem has no PositionMotion to export the kinematics from")
    times = solution.getTimeMat()
    # Plain Python sequences, not osim.StdVector*: once another SWIG module
    # (ezc3d) is loaded in the process, OpenSim's vector wrappers can be
    # rejected by its own methods; sequences are converted by SWIG itself.
    kin = motion.exportToTable([float(t) for t in times])
    solution.insertStatesTrajectory(kin, True)
    paths = [".*\\|tendon_force", ".*\\|passive_fiber_force_along_tendon", ".*\\|normalized_fiber_length",
             ".*\\|activation", ".*reserve_.*\\|actuation", ".*residual_.*\\|actuation"]
    table = study.analyze(solution, paths)
    out = {k: _output_columns(table, muscles, k) for k in
           ("tendon_force", "passive_fiber_force_along_tendon", "normalized_fiber_length", "activation")}
    out["actuator_force"] = _output_columns(table, actuators, "actuation")
    del rep
    return out


def _solve(study, guess):
    """``study.solve()``; a guess Moco rejects becomes a StageError naming it."""
    try:
        return study.solve()
    except RuntimeError as exc:
        text = str(exc)
        if guess is None or "not compatible" not in text:
            raise
        names = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("/")]
        raise StageError(f"MocoInverse rejected the initial guess {guess}: it is not a solution of "
                         f"this problem (variables {names[:3]}{' ...' if len(names) > 3 else ''} "
                         "differ)") from None


def compliant_guess(study, rigid: MuscleSolution, rigid_file: str | Path, out_path: str | Path) -> Path:
    """A guess for a compliant-tendon MocoInverse from the rigid-tendon solution of the same data.

    Activations, excitations and reserves are the rigid solution's; each
    tendon's normalized force is its rigid tendon force over the muscle's
    maximum isometric force (the tendon carries what the rigid solution's
    fibres did), its time derivative the slope of that: the guess starts
    near the dynamics' constraints instead of at the middle of the bounds
    (on the example's run_01, mesh 0.02 s, the compliant solve from it
    converged in 51 iterations; ``SIMULATION_NOTES.md``).

    Parameters
    ----------
    study : opensim.MocoStudy
        The compliant-tendon problem (``_moco_inverse_study``).
    rigid : MuscleSolution
    rigid_file : str or Path
        The rigid solve's ``moco_solution.sto`` (its excitations).
    out_path : str or Path

    Returns
    -------
    Path
        ``out_path``, a MocoTrajectory file on the study's mesh.
    """
    osim = opensim()
    solver = osim.MocoCasADiSolver.safeDownCast(study.updSolver())
    solver.resetProblem(study.getProblem())
    guess = solver.createGuess()
    time = np.asarray(guess.getTimeMat()).ravel()
    source = osim.MocoTrajectory(str(rigid_file))
    source_time = np.asarray(source.getTimeMat()).ravel()
    controls = set(source.getControlNames())
    rep = study.getProblem().createRep()
    muscles = rep.getModelBase().getMuscles()  # owned by rep, alive while it is
    max_force = {name: muscles.get(name).getMaxIsometricForce() for name in rigid.muscles}
    del muscles, rep
    for name in guess.getStateNames():
        if name.endswith("/activation"):
            guess.setState(name, np.interp(time, source_time, source.getStateMat(name).ravel()))
        elif name.endswith("/normalized_tendon_force"):
            muscle = name.split("/")[2]
            force = rigid.tendon_force[:, rigid.muscles.index(muscle)] / max_force[muscle]
            guess.setState(name, np.interp(time, rigid.time, force))
    for name in guess.getControlNames():
        if name in controls:
            guess.setControl(name, np.interp(time, source_time, source.getControlMat(name).ravel()))
    for name in guess.getDerivativeNames():
        if name.endswith("/implicitderiv_normalized_tendon_force"):
            state = name.replace("implicitderiv_", "")
            guess.setDerivative(name, np.gradient(guess.getStateMat(state).ravel(), time))
    guess.write(str(out_path))
    return Path(out_path)


def solve_moco_inverse(model_path: str | Path, time: np.ndarray, coordinates: list[str],
                       q: np.ndarray, grf_mot: str | Path, feet: dict[str, str],
                       work_dir: str | Path, options: MuscleOptions = MuscleOptions(),
                       guess: str | Path | None = None) -> MuscleSolution:
    """Muscle forces by MocoInverse (see the module notes).

    Parameters
    ----------
    model_path : str or Path
        The model variant (.osim).
    time : ndarray, shape (n,)
    coordinates : list of str
        Model coordinate names, the columns of ``q``.
    q : ndarray, shape (n, n_coordinates)
        Filtered coordinates (rad, m), e.g. ``id_task``'s ``q``.
    grf_mot : str or Path
        Ground reaction forces in simpipe's convention (the same file ID used).
    feet : dict
        Side -> foot body receiving that side's force.
    work_dir : str or Path
        Receives ``kinematics.sto``, ``external_loads.xml``, ``moco_inverse.log``
        and ``moco_solution.sto`` (the solution as Moco writes it, which a
        later solve can take as its ``guess``).
    options : MuscleOptions
    guess : str or Path, optional
        Initial guess: a MocoTrajectory file of a problem with the same
        variables, e.g. the ``moco_solution.sto`` of a neighbouring model
        variant on the same trial (Moco interpolates it onto this mesh).
        Default: Moco's guess from the variable bounds.

    Returns
    -------
    MuscleSolution
        On the MocoInverse mesh (Hermite-Simpson: interval ends and midpoints).
        ``success`` is False if IPOPT did not converge; the arrays then hold
        its last iterate. ``extra`` holds ``solution_file`` and ``guess_file``
        (None for a solve from the default guess).

    Raises
    ------
    StageError
        If Moco rejects the guess (it comes from a problem with other states
        or controls).

    Notes
    -----
    A warm start changes where IPOPT starts, not the problem: a warm and a
    cold solve end at the same optimum within the convergence tolerance,
    the warm one after fewer iterations when the guess is close (a variant
    differing in one muscle's passive stiffness). IPOPT's barrier parameter
    still starts from its default, as Moco gives no access to it, so a warm
    start saves the iterations spent far from the optimum, not those that
    drive the barrier down (``benchmarks/bench_muscles_warmstart.py``).
    """
    work = Path(work_dir)
    p = _inverse_inputs(model_path, time, coordinates, q, grf_mot, feet, work, options)
    rigid_start = None
    if options.tendon_compliance and guess is None:
        rigid_start = solve_moco_inverse(model_path, time, coordinates, q, grf_mot, feet, work / "rigid_start",
                                         replace(options, tendon_compliance=False))
    with _stdout_to(work / "moco_inverse.log"):
        inverse, study = _moco_inverse_study(p.model, p.kinematics, p.loads, p.t0, p.t1, options)
        if rigid_start is not None and rigid_start.success:
            guess = compliant_guess(study, rigid_start, rigid_start.extra["solution_file"],
                                    work / "rigid_start_guess.sto")
        if guess is not None:
            opensim().MocoCasADiSolver.safeDownCast(study.updSolver()).setGuessFile(str(guess))
        start = _time.perf_counter()
        solution = _solve(study, guess)
        wall = _time.perf_counter() - start
        success = bool(solution.success())
        solution.unseal()
        solution.write(str(work / "moco_solution.sto"))
        outs = _analyze(study, solution, p.muscles, [a[0] for a in p.actuators])
    status = str(solution.getStatus())
    if not success:
        log.warning("MocoInverse of %s did not converge: %s", model_path, status)
    return _muscle_solution(
        p, solution, outs, options, success=success, status=status,
        iterations=int(solution.getNumIterations()), objective=float(solution.getObjective()),
        wall_s=wall, solution_file=work / "moco_solution.sto",
        guess_file=None if guess is None else str(guess),
        rigid_start=None if rigid_start is None else {
            "success": rigid_start.success, "iterations": rigid_start.iterations,
            "wall_s": rigid_start.wall_s})


def analyze_moco_inverse(model_path: str | Path, time: np.ndarray, coordinates: list[str],
                         q: np.ndarray, grf_mot: str | Path, feet: dict[str, str],
                         work_dir: str | Path, options: MuscleOptions, solution_file: str | Path,
                         ) -> MuscleSolution:
    """The muscle outputs of a stored MocoInverse solution of this problem, without solving.

    Parameters are those of :func:`solve_moco_inverse` (the same data and
    options the solution was solved with), plus ``solution_file``, the
    ``moco_solution.sto`` it wrote.

    Returns
    -------
    MuscleSolution
        ``status`` 'stored', ``iterations`` 0, ``wall_s`` 0: the solve's own
        record is the caller's to keep.
    """
    osim = opensim()
    work = Path(work_dir)
    p = _inverse_inputs(model_path, time, coordinates, q, grf_mot, feet, work, options)
    with _stdout_to(work / "moco_inverse.log"):
        inverse, study = _moco_inverse_study(p.model, p.kinematics, p.loads, p.t0, p.t1, options)
        solution = osim.MocoTrajectory(str(solution_file))
        outs = _analyze(study, solution, p.muscles, [a[0] for a in p.actuators])
    return _muscle_solution(p, solution, outs, options, success=True, status="stored", iterations=0,
                            objective=float("nan"), wall_s=0.0, solution_file=Path(solution_file),
                            guess_file=None, rigid_start=None)


@dataclass
class _InverseInputs:
    model: object
    actuators: list
    muscles: list
    converted: dict
    kinematics: Path
    loads: Path
    t0: float
    t1: float


def _inverse_inputs(model_path, time, coordinates, q, grf_mot, feet, work: Path,
                    options: MuscleOptions) -> _InverseInputs:
    """The files and the model of a MocoInverse problem (``kinematics.sto``, ``external_loads.xml``)."""
    work.mkdir(parents=True, exist_ok=True)
    keep = _window(np.asarray(time), options.time_range)
    t = np.asarray(time)[keep]
    kin_sto = write_sto(Table(t, list(coordinates), np.asarray(q)[keep]), work / "kinematics.sto", kind="sto")
    loads = write_external_loads_xml(work / "external_loads.xml", Path(grf_mot).absolute(), feet)
    model, acts = prepare_model(model_path, options)
    if coordinate_names(model) != list(coordinates):
        raise ModelError(f"{model_path}: coordinates {list(coordinates)} do not match the model's")
    converted = non_dgf_muscles(model)
    if converted:
        log.warning("%s: MocoInverse converts %s to DeGrooteFregly2016Muscle (Moco needs smooth "
                    "muscle curves); the variant's property was set on the original class",
                    model_path, {k: len(v) for k, v in converted.items()})
    return _InverseInputs(model, acts, muscle_names(model), converted, Path(kin_sto), Path(loads),
                          float(t[0]), float(t[-1]))


def _muscle_solution(p: _InverseInputs, solution, outs: dict, options: MuscleOptions, *, success: bool,
                     status: str, iterations: int, objective: float, wall_s: float, solution_file: Path,
                     guess_file, rigid_start) -> MuscleSolution:
    acts = p.actuators
    return MuscleSolution(
        time=np.asarray(solution.getTimeMat()).ravel(), muscles=p.muscles,
        activation=outs["activation"], tendon_force=outs["tendon_force"],
        passive_fiber_force=outs["passive_fiber_force_along_tendon"],
        normalized_fiber_length=outs["normalized_fiber_length"],
        actuators=[a[0] for a in acts], actuator_coordinates=[a[1] for a in acts],
        actuator_kinds=[a[2] for a in acts], actuator_force=outs["actuator_force"],
        method="moco_inverse", success=success, status=status, iterations=iterations,
        objective=objective, wall_s=wall_s,
        extra={"mesh_interval": options.mesh_interval, "converted_to_dgf": p.converted,
               "solution_file": str(solution_file), "guess_file": guess_file,
               "rigid_start": rigid_start})


# --- static optimization with passive forces -----------------------------------

def path_generalized_forces(model, state, muscles: list[str], speed_idx: np.ndarray) -> np.ndarray:
    """Generalized force of each muscle per newton of tension along its path.

    Parameters
    ----------
    model : opensim.Model
    state : opensim.State
        Realized to Position at least.
    muscles : list of str
    speed_idx : ndarray of int
        Index in the state's U of each coordinate (see ``osimutil.speed_indices``).

    Returns
    -------
    ndarray, shape (n_coordinates, n_muscles)
        The moment arms (m) for rotational coordinates, dimensionless for
        translations: the path's equivalent body forces mapped through the
        system Jacobian transpose (exact, wrapping included).
    """
    osim = opensim()
    matter = model.getMatterSubsystem()
    n_u = state.getNU()
    n_bodies = model.getBodySet().getSize() + 1
    ms = model.getMuscles()
    out = np.empty((len(speed_idx), len(muscles)))
    zero = osim.SpatialVec(osim.Vec3(0.0), osim.Vec3(0.0))
    for j, name in enumerate(muscles):
        body_forces = osim.VectorOfSpatialVec(n_bodies, zero)
        mobility = osim.Vector(n_u, 0.0)
        ms.get(name).getGeometryPath().addInEquivalentForces(state, 1.0, body_forces, mobility)
        gen = osim.Vector()
        matter.multiplyBySystemJacobianTranspose(state, body_forces, gen)
        out[:, j] = [gen.get(int(i)) + mobility.get(int(i)) for i in speed_idx]
    return out


#: Reserve torques should stay below this fraction of the peak joint moment
#: (Hicks et al. 2015, ``shared/FACTS.md``).
RESERVE_LIMIT = 0.10


def reserve_fractions(model_path: str | Path, sol: MuscleSolution, id_result: dict,
                      statistic: str = "peak") -> dict[str, float]:
    """Reserve / peak |net moment| of each coordinate some muscle spans.

    Parameters
    ----------
    model_path : str or Path
    sol : MuscleSolution
    id_result : dict
        ``time``, ``coordinates``, ``q`` and ``tau`` (the net moments), e.g.
        ``id_task``'s output; the frames within the solution's time span count.
    statistic : {'peak', 'rms'}
        Of the reserve over the solution: its largest magnitude, or its RMS.

    Returns
    -------
    dict
        Reserve actuator name -> fraction. Coordinates no muscle spans (moment
        arm below 0.1 mm at the trial's mean pose, e.g. a lumbar joint without
        muscles) are left out: their reserve is their whole moment.
    """
    if statistic not in ("peak", "rms"):
        raise ValueError(f"statistic {statistic!r}: expected 'peak' or 'rms'")
    model = load_model(model_path)
    state = model.initSystem()
    coords = list(id_result["coordinates"])
    set_pose(model, state, np.mean(np.asarray(id_result["q"]), axis=0))
    model.realizePosition(state)
    arms = path_generalized_forces(model, state, list(sol.muscles), speed_indices(model, state))
    tau = np.asarray(id_result["tau"])
    time = np.asarray(id_result["time"])
    window = (time >= sol.time[0] - 1e-9) & (time <= sol.time[-1] + 1e-9)
    out = {}
    for j, (name, coordinate, kind) in enumerate(zip(sol.actuators, sol.actuator_coordinates, sol.actuator_kinds)):
        c = coords.index(coordinate)
        if kind != "reserve" or np.abs(arms[c]).max() < 1e-4:
            continue
        peak = float(np.abs(tau[window, c]).max())
        reserve = np.asarray(sol.actuator_force)[:, j]
        size = np.abs(reserve).max() if statistic == "peak" else np.sqrt(np.mean(reserve ** 2))
        out[name] = float(size) / max(peak, 1e-9)
    return out


def _muscle_readout(model, state, handles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    model.realizeDynamics(state)
    tendon = np.array([h.getTendonForce(state) for h in handles])
    passive = np.array([h.getPassiveFiberForceAlongTendon(state) for h in handles])
    length = np.array([h.getNormalizedFiberLength(state) for h in handles])
    return tendon, passive, length


def _so_frame(model, state, handles, r_unit: np.ndarray, tau: np.ndarray, weights: np.ndarray):
    """One frame: activations, tendon forces, passive forces, fiber lengths, reserves, cost."""
    for h in handles:
        h.setActivation(state, 0.0)
    f0, passive, length = _muscle_readout(model, state, handles)
    for h in handles:
        h.setActivation(state, 1.0)
    f1 = _muscle_readout(model, state, handles)[0]
    a_mat = r_unit * (f1 - f0)[None, :]
    rhs = tau - r_unit @ f0
    lsq = lsq_linear(np.vstack([np.eye(len(handles)), a_mat / weights[:, None]]),
                     np.concatenate([np.zeros(len(handles)), rhs / weights]), bounds=(0.0, 1.0))
    act = lsq.x
    reserve = rhs - a_mat @ act
    cost = float(act @ act + np.sum((reserve / weights) ** 2))
    return act, f0 + act * (f1 - f0), passive, length, reserve, cost


def solve_static_optimization(model_path: str | Path, time: np.ndarray, coordinates: list[str],
                              q: np.ndarray, u: np.ndarray, tau: np.ndarray,
                              options: MuscleOptions = MuscleOptions(method="static_optimization")
                              ) -> MuscleSolution:
    """Muscle forces by static optimization with passive fiber forces.

    Parameters
    ----------
    model_path : str or Path
        The model variant.
    time : ndarray, shape (n,)
    coordinates : list of str
        The model's coordinates, columns of ``q``, ``u`` and ``tau``.
    q, u : ndarray, shape (n, n_coordinates)
        Coordinates (rad, m) and speeds.
    tau : ndarray, shape (n, n_coordinates)
        Net generalized forces from inverse dynamics with the measured GRF.

    Returns
    -------
    MuscleSolution
        At the kinematics frames.

    Notes
    -----
    Per frame, minimize ``sum(a**2) + sum((r / F_opt)**2)`` over activations
    ``0 <= a <= 1`` and reserve/residual forces ``r`` subject to
    ``R (F_p + a F_a) + r = tau`` (``R``: moment arms; ``F_p``, ``F_a``:
    passive and maximal active tendon force at the frame's fiber length and
    velocity, rigid tendon). Eliminating ``r`` leaves a bounded linear least
    squares problem (``scipy.optimize.lsq_linear``). The cost is that of
    MocoInverse with activations in place of excitations.
    """
    from .osimutil import speed_indices

    model, acts = prepare_model(model_path, options)
    state = model.initSystem()
    if coordinate_names(model) != list(coordinates):
        raise ModelError(f"{model_path}: coordinates {list(coordinates)} do not match the model's")
    keep = _window(np.asarray(time), options.time_range)
    names = muscle_names(model)
    handles = [model.getMuscles().get(n) for n in names]
    weights = np.array([options.residual_optimal_force if k == "residual" else
                        options.reserve_optimal_force for _, _, k in acts])
    uidx = speed_indices(model, state)
    rows = []
    start = _time.perf_counter()
    for k in np.flatnonzero(keep):
        set_pose(model, state, q[k], u[k])
        model.realizeVelocity(state)
        r_unit = path_generalized_forces(model, state, names, uidx)
        rows.append(_so_frame(model, state, handles, r_unit, np.asarray(tau[k], float), weights))
    wall = _time.perf_counter() - start
    act, tendon, passive, length, reserve, cost = (np.array(x) for x in zip(*rows))
    order = [coordinates.index(c) for _, c, _ in acts]
    return MuscleSolution(
        time=np.asarray(time)[keep], muscles=names, activation=act, tendon_force=tendon,
        passive_fiber_force=passive, normalized_fiber_length=length,
        actuators=[a[0] for a in acts], actuator_coordinates=[a[1] for a in acts],
        actuator_kinds=[a[2] for a in acts], actuator_force=reserve[:, order],
        method="static_optimization", success=True, status="solved", iterations=0,
        objective=float(np.trapezoid(cost, np.asarray(time)[keep])), wall_s=wall)
