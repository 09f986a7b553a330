"""Task functions of the muscle-level stages (one trial x one model variant).

Written like :mod:`simpipe.run.tasks`: plain, picklable inputs (paths,
numbers, the dicts of arrays that ``ik_task``/``id_task`` return), OpenSim
objects built inside the task, files written only into the task's own work
folder, plain dicts returned.

- ``muscles_task``: muscle forces of the variant (MocoInverse or static
  optimization with passive forces), depends on ``id`` (and, with
  ``muscles.warm_start``, on the muscles task of a neighbouring variant).
- ``iaa_task``: induced accelerations, the superposition check (its figure in
  the work folder) and the ``muscle_iaa`` propulsion shares; depends on
  ``id`` and ``muscles`` of the same trial x variant.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from scipy.interpolate import make_interp_spline

from ..analysis.propulsion import muscle_iaa
from ..data import Table
from ..io.filtering import lowpass, resample
from ..io.grf import read_grf, write_grf
from ..model.groups import model_muscle_names, resolve_groups
from ..stages.muscles import (RESERVE_LIMIT, MuscleOptions, reserve_fractions, solve_moco_inverse,
                              solve_static_optimization)
from ..stages.induced import forces_at, induced_accelerations

log = logging.getLogger(__name__)


def _hold_outside(values: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Replace rows outside ``inside`` by the nearest inside row."""
    if not inside.any():
        return values
    idx = np.flatnonzero(inside)
    rows = np.arange(len(inside))
    pos = np.searchsorted(idx, rows)
    right = idx[np.minimum(pos, len(idx) - 1)]
    left = idx[np.maximum(pos - 1, 0)]
    return values[np.where(np.abs(rows - left) <= np.abs(right - rows), left, right)]


def filtered_grf(grf: Table, feet: dict, cutoff_hz: float | None) -> Table:
    """Low-pass the forces and torques of a GRF table inside each foot's contact.

    Parameters
    ----------
    grf : Table
        As read by :func:`~simpipe.io.grf.read_grf`.
    feet : dict
        Sides to process.
    cutoff_hz : float or None
        Zero-lag Butterworth cut-off; None returns ``grf`` unchanged.

    Returns
    -------
    Table

    Notes
    -----
    Filtering the kinematics but not the forces leaves an impact peak in the
    forces that the kinematics lack; filter both at one cut-off (Kristianslund,
    Krosshaug & van den Bogert 2012, J Biomech 45:666). Two precautions:
    the filter rings around the step of foot strike, putting forces of
    either sign on a foot in the air, so the filtered forces and torques are
    set to zero again wherever the unfiltered vertical force is below 1 N (the
    foot is off the ground); and the centre of pressure, undefined (written
    as 0) in the air, would be pulled toward the ground origin around foot
    strike and toe-off, so it is held at its nearest in-contact value before
    filtering.
    """
    if cutoff_hz is None:
        return grf
    rate = 1.0 / float(np.median(np.diff(grf.time)))
    values = np.array(grf.values, float)
    air = {}
    for side in feet:
        cop = [grf.labels.index(f"{side}_ground_force_p{a}") for a in "xyz"]
        # > 1 N, not > 0: resampled or exported files carry round-off on a foot in the air
        contact = np.abs(values[:, grf.labels.index(f"{side}_ground_force_vy")]) > 1.0
        values[:, cop] = _hold_outside(values[:, cop], contact)
        air[side] = ~contact
    values = lowpass(values, rate, cutoff_hz)
    for side, off in air.items():
        loads = [grf.labels.index(f"{side}_ground_{k}{a}") for k in ("force_v", "torque_") for a in "xyz"]
        values[np.ix_(off, loads)] = 0.0
    return Table(grf.time, list(grf.labels), values, meta=dict(grf.meta))


def _grf_table(grf_mot: str, feet: dict, grf_hz: float | None) -> Table:
    """The trial's GRF, low-passed by :func:`filtered_grf` when ``grf_hz`` is set."""
    return filtered_grf(read_grf(grf_mot, sides=tuple(feet)), feet, grf_hz)


def _grf_file(grf_mot: str, feet: dict, grf_hz: float | None, work: Path) -> str:
    if grf_hz is None:
        return str(Path(grf_mot).absolute())
    return str(write_grf(_grf_table(grf_mot, feet, grf_hz), work / "grf_filtered.mot",
                         sides=tuple(feet)))


def _options(options: dict | None) -> MuscleOptions:
    from dataclasses import fields

    opts = dict(options or {})
    known = [f.name for f in fields(MuscleOptions)]
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise ValueError(f"unknown muscles option(s) {unknown}; known: {known}")
    if opts.get("time_range") is not None:
        opts["time_range"] = tuple(float(x) for x in opts["time_range"])
    return MuscleOptions(**opts)


def _guess_file(warm_from: dict | None, model_path: str) -> str | None:
    """The solution file of a neighbouring variant's muscles task, if it can start this solve."""
    if warm_from is None:
        return None
    path = (warm_from.get("extra") or {}).get("solution_file")
    if not warm_from.get("success") or path is None or not Path(path).is_file():
        why = ("its solve did not converge" if not warm_from.get("success") else
               "it has no solution file" if path is None else f"{path} is gone")
        log.warning("muscles %s: solved from Moco's default guess, not warm-started: %s", model_path, why)
        return None
    return path


def muscles_task(model_path: str, id_result: dict, grf_mot: str, feet: dict,
                 grf_hz: float | None, options: dict | None, work_dir: str,
                 warm_from: dict | None = None) -> dict:
    """Muscle forces of one trial for one model variant.

    Parameters
    ----------
    model_path : str
        The variant model.
    id_result : dict
        ``id_task``'s output (``time``, ``coordinates``, filtered ``q``, ``u``, ``tau``).
    grf_mot : str
        The trial's GRF file (the one given to ``id_task``).
    feet : dict
        Side -> foot body.
    grf_hz : float or None
        GRF low-pass cut-off, as for ``id_task``.
    options : dict or None
        Fields of :class:`~simpipe.stages.muscles.MuscleOptions` (the config's
        ``muscles:`` block).
    work_dir : str
        The task's folder (kinematics table, external loads, solver log).
    warm_from : dict, optional
        The output of this task for a neighbouring model variant on the same
        trial: its MocoInverse solution is the initial guess of this one
        (``muscles.warm_start``). Ignored, with a warning, when that solve
        did not converge or its solution file is gone; ignored by static
        optimization.

    Returns
    -------
    dict
        :class:`~simpipe.stages.muscles.MuscleSolution` as a dict.
    """
    opts = _options(options)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    if opts.method == "moco_inverse":
        grf_used = _grf_file(grf_mot, feet, grf_hz, work)
        sol = solve_moco_inverse(model_path, id_result["time"], id_result["coordinates"],
                                 id_result["q"], grf_used, feet, work, opts,
                                 guess=_guess_file(warm_from, model_path))
    else:
        sol = solve_static_optimization(model_path, id_result["time"], id_result["coordinates"],
                                        id_result["q"], id_result["u"], id_result["tau"], opts)
    log.info("muscles %s: %s in %.1f s (%s, %d iterations)", model_path, sol.method, sol.wall_s,
             sol.status, sol.iterations)
    out = sol.to_dict()
    out["reserve_fractions"] = reserve_fractions(model_path, sol, id_result)
    large = {k: round(v, 2) for k, v in out["reserve_fractions"].items() if v >= RESERVE_LIMIT}
    if large:
        log.warning("muscles %s: reserves reach %s of the peak net moment (limit %.0f %%, Hicks et al. "
                    "2015): the muscles cannot produce those moments; muscle-level results there are "
                    "the muscles' part only", model_path, large, 100 * RESERVE_LIMIT)
    return out


def _forward_sign(id_result: dict) -> float:
    """+1 if the subject travels along +x (mean speed of the first ``*_tx`` coordinate)."""
    tx = [i for i, c in enumerate(id_result["coordinates"]) if c.endswith("_tx")]
    if not tx:
        return 1.0
    return 1.0 if np.mean(id_result["u"][:, tx[0]]) >= 0 else -1.0


def kinematics_at(id_result: dict, time: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates, speeds and accelerations of ``id_task``'s result at ``time``.

    The frames themselves where ``time`` falls on them (static optimization),
    else the quintic spline through the filtered coordinates that ``id_task``
    differentiated (the MocoInverse mesh).
    """
    t_id = np.asarray(id_result["time"], float)
    idx = np.clip(np.searchsorted(t_id, time - 1e-7), 0, len(t_id) - 1)
    if np.allclose(t_id[idx], time, rtol=0.0, atol=1e-7):
        return tuple(np.asarray(id_result[k])[idx] for k in ("q", "u", "udot"))
    spline = make_interp_spline(t_id, np.asarray(id_result["q"], float), k=5)
    return spline(time), spline.derivative(1)(time), spline.derivative(2)(time)


def _grf_at(grf: Table, time: np.ndarray, feet: dict, what: str) -> dict:
    return {s: resample(grf.time, np.column_stack([grf.column(f"{s}_ground_force_{what}{a}")
                                                   for a in "xyz"]), time) for s in feet}


def iaa_task(model_path: str, id_result: dict, muscles_result: dict, grf_mot: str, feet: dict,
             grf_hz: float | None, groups: dict, threshold_n: float, work_dir: str,
             foot_flat_rad_s: float | None = None, label: str = "") -> dict:
    """Induced accelerations and ``muscle_iaa`` propulsion of one trial x variant.

    The analysis runs at the muscle solution's own times (the MocoInverse
    mesh, where its forces satisfy the equations of motion, or the frames of
    static optimization); interpolating forces between mesh points would add
    an error of the mesh's size to the superposition check.

    Parameters
    ----------
    model_path : str
        The variant model (the one ``muscles_task`` used).
    id_result, muscles_result : dict
        Outputs of ``id_task`` and ``muscles_task``.
    grf_mot, feet, grf_hz
        As for ``id_task``. With ``grf_hz`` the forces are low-passed by
        :func:`filtered_grf` (the reference of the superposition check); foot
        contact and the stance, propulsive and braking phases always come
        from the unfiltered forces.
    groups : dict
        Muscle groups as glob patterns (the config's ``muscle_groups``, e.g.
        :data:`simpipe.config.BUILTIN_GROUPS`).
    threshold_n : float
        Stance threshold (``analysis.stance_threshold_n``).
    work_dir : str
        Receives ``superposition.png``.
    foot_flat_rad_s : float or None
        See :func:`~simpipe.stages.induced.induced_accelerations`.
    label : str
        Names the trial and variant in the figure.

    Returns
    -------
    dict
        ``time``, ``sources``, ``kinds``, ``com_acc`` (n, k, 2), ``ground_force``;
        ``superposition`` (the check's numbers and figure path); the
        :class:`~simpipe.analysis.propulsion.MuscleIAA` fields; and
        ``passive_peak_n`` (group -> peak passive fiber force along the
        tendon over the solution, N).
    """
    time = np.asarray(muscles_result["time"], float)
    q, u, udot = kinematics_at(id_result, time)
    raw = read_grf(grf_mot, sides=tuple(feet))
    grf = filtered_grf(raw, feet, grf_hz)
    force, cop = _grf_at(grf, time, feet, "v"), _grf_at(grf, time, feet, "p")
    contact = {s: f[:, 1] > threshold_n for s, f in _grf_at(raw, time, feet, "v").items()}
    res = induced_accelerations(
        model_path, time, id_result["coordinates"], q, u, udot, forces_at(time, muscles_result),
        force, cop, feet, threshold_n, foot_flat_rad_s, contact,
        figure=Path(work_dir) / "superposition.png", title=label)
    resolved = resolve_groups(model_muscle_names(model_path), groups)
    prop = muscle_iaa(time, res.sources, res.kinds, res.com_acc[:, :, 0], res.mass_kg,
                      _grf_at(raw, time, feet, "v"), resolved, threshold_n, _forward_sign(id_result))
    passive = np.asarray(muscles_result["passive_fiber_force"])
    names = list(muscles_result["muscles"])
    return {"time": time, "sources": res.sources, "kinds": res.kinds, "com_acc": res.com_acc,
            "ground_force": res.ground_force, "mass_kg": res.mass_kg,
            "superposition": _check_dict(res.check), **prop.to_dict(),
            "passive_peak_n": {g: float(passive[:, [names.index(m) for m in ms]].max(initial=0.0))
                               for g, ms in resolved.items() if all(m in names for m in ms)}}


def _check_dict(ck) -> dict:
    """The superposition check as plain numbers and arrays."""
    return {"relative_rms": ck.relative_rms, "fore_aft": float(ck.relative_rms_axes[0]),
            "vertical": float(ck.relative_rms_axes[1]), "rms_error": ck.rms_error, "peak": ck.peak,
            "constraint_relative_rms": ck.constraint_relative_rms,
            "data_relative_rms": ck.data_relative_rms,
            "no_slip_relative_rms": ck.no_slip_relative_rms,
            "generalized_force_rms": ck.generalized_force_rms, "measured": ck.measured,
            "total": ck.total, "kinematic": ck.kinematic, "stance": ck.stance, "figure": ck.figure}


TASKS = {"muscles": muscles_task, "iaa": iaa_task}
