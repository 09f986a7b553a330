"""The muscle reference of a simulated example trial: its net joint moments shared among the muscles.

The default example is a torque-driven simulation (see :mod:`.simbuild`):
its motion and contact forces are one consistent simulation, but its joints
are driven by torques, so it has no muscle forces of its own. The muscle
reference supplies them: MocoInverse (Dembia et al. 2020) on the trial's
exact states (sampled from the solution at the force plates' 1000 Hz) and
the contact forces written to its GRF file, on the true model with its
tendons compliant (Moco's implicit tendon dynamics, De Groote et al. 2016),
minimising squared excitations plus squared reserve torques. Its muscle
forces plus its reserves reproduce the simulation's net joint moments (the
dynamics are MocoInverse's constraints). It is what simpipe's ``muscles``
stage would find with perfect data and compliant tendons, and the truth that
stage's output on the measured-looking files is compared with.

Why compliant tendons: with rigid tendons the plantar flexors' fibres take
the whole muscle-tendon shortening of push-off, their force-velocity
relation caps their force, and half of the ankle moment lands in the reserve
(97 of 178 N m at run_01's push-off; soleus at activation 0.96 gives 1100
N). The Achilles tendon's stretch is what lets the fibres work near
isometrically in running (Lai et al. 2014; Hamner et al. 2010 used
compliant tendons for the same reason).

Solved once per trial and cached next to the simulations
(``simulation/<trial>_muscle_reference.sto`` and ``.json``), keyed by the
final solve's key and the options: a build whose keys match only analyses
the stored solution (seconds).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import StageError
from ..io.hashing import hash_object, read_json_record, write_text_atomic
from ..stages.id import Kinematics
from ..stages.muscles import MuscleOptions, MuscleSolution, analyze_moco_inverse, solve_moco_inverse

#: Options of the reference solves: compliant tendons, mesh 0.02 s (45
#: intervals over a 0.9 s trial), IPOPT tolerance 1e-3.
REFERENCE_OPTIONS = MuscleOptions(mesh_interval=0.02, tendon_compliance=True)

#: Bumped when the reference problem changes in a way its options do not show.
REFERENCE_VERSION = 1


@dataclass(frozen=True)
class MuscleReference:
    """A trial's muscle reference.

    Attributes
    ----------
    solution : MuscleSolution
        On the MocoInverse mesh (interval ends and midpoints).
    record : dict
        ``key``, ``solution`` (file name), ``success``, ``status``,
        ``iterations``, ``objective``, ``wall_s``, ``options``.
    """

    solution: MuscleSolution
    record: dict


def reference_key(solve_key: str, options: MuscleOptions) -> str:
    """Cache key of a trial's reference: the simulation it analyses and how."""
    return hash_object({"solve": solve_key, "options": asdict(options), "version": REFERENCE_VERSION})


def _solve(model_path: Path, kinematics: Kinematics, grf_path: Path, feet: dict, work: Path,
           options: MuscleOptions) -> MuscleSolution:
    """The MocoInverse solve (a function of its own so that tests can refuse it)."""
    return solve_moco_inverse(model_path, kinematics.time, list(kinematics.coordinates), kinematics.q,
                              grf_path, feet, work, options)


def muscle_reference(model_path: Path, kinematics: Kinematics, grf_path: Path, feet: dict,
                     folder: Path, trial_name: str, solve_key: str,
                     options: MuscleOptions = REFERENCE_OPTIONS, resolve: bool = False,
                     progress=None) -> MuscleReference:
    """Solve (or reuse) the muscle reference of one trial.

    Parameters
    ----------
    model_path : Path
        The true model.
    kinematics : Kinematics
        The trial's exact coordinates (at the force frames).
    grf_path : Path
        The trial's GRF file (the contact forces).
    feet : dict
        Side -> foot body.
    folder : Path
        Where ``<trial>_muscle_reference.sto`` and ``.json`` live.
    trial_name : str
    solve_key : str
        Key of the simulation the trial was written from.
    options : MuscleOptions
    resolve : bool
        Solve even if a reference with the same key is stored.
    progress : callable, optional
        Called with a one-line message before a solve.

    Returns
    -------
    MuscleReference

    Raises
    ------
    StageError
        If the solve does not converge (its solution is kept for inspection).
    """
    folder.mkdir(parents=True, exist_ok=True)
    sto = folder / f"{trial_name}_muscle_reference.sto"
    record_path = sto.with_suffix(".json")
    key = reference_key(solve_key, options)
    record = read_json_record(record_path)
    with tempfile.TemporaryDirectory(prefix="simpipe_reference_") as tmp:
        if not resolve and record is not None and record.get("key") == key and sto.is_file():
            solution = analyze_moco_inverse(model_path, kinematics.time, list(kinematics.coordinates),
                                            kinematics.q, grf_path, feet, Path(tmp), options, sto)
        else:
            if progress is not None:
                progress(f"{trial_name}: solving the muscle reference (MocoInverse, "
                         f"{'compliant' if options.tendon_compliance else 'rigid'} tendons, "
                         f"mesh {options.mesh_interval:g} s)")
            solution = _solve(model_path, kinematics, grf_path, feet, Path(tmp), options)
            write_text_atomic(sto, (Path(tmp) / "moco_solution.sto").read_text())
            record = {"key": key, "solution": sto.name, "success": solution.success,
                      "status": solution.status, "iterations": solution.iterations,
                      "objective": solution.objective, "wall_s": round(solution.wall_s, 1),
                      "options": asdict(options)}
            write_text_atomic(record_path, json.dumps(record, indent=1, sort_keys=True) + "\n")
    if not record["success"]:  # a stored failure too, as solve_chain does for the simulations
        raise StageError(f"{trial_name}: the muscle reference did not converge ({record['status']} after "
                         f"{record['iterations']} iterations); solution kept in {sto}; rerun with --resolve")
    return MuscleReference(solution, record)
