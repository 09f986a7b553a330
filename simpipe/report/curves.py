"""Curves over stance: joint angles, moments and powers on a 0-100 % stance axis.

Each complete stance is resampled (linear interpolation) to
:data:`N_POINTS` points from foot strike (0 %) to toe-off (100 %), using
the stance side's coordinate of each joint; a trial's curve is the mean of
its complete stances. Joint power is ``P = tau * qdot`` (W), the same
quantity the ``joint_work`` method integrates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.phases import Stance
from .data import Kinetics

#: Points of the % stance axis (0, 1, ..., 100 %).
N_POINTS = 101
#: The % stance axis.
PERCENT = np.linspace(0.0, 100.0, N_POINTS)

#: Quantities drawn over stance: name -> (axis label, unit, unit per kg).
QUANTITIES = {
    "angle": ("angle", "deg", "deg"),
    "moment": ("moment", "N m", "N m/kg"),
    "power": ("power", "W", "W"),
}


@dataclass
class StanceCurves:
    """Mean and SD over stances of one quantity per joint.

    Attributes
    ----------
    joints : list of str
    quantity : str
        One of :data:`QUANTITIES`.
    unit : str
    mean, sd : ndarray, shape (n_joints, N_POINTS)
    n_stances : int
    """

    joints: list[str]
    quantity: str
    unit: str
    mean: np.ndarray
    sd: np.ndarray
    n_stances: int

    def joint(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and SD curves of one joint."""
        i = self.joints.index(name)
        return self.mean[i], self.sd[i]


def normalize_stance(time: np.ndarray, values: np.ndarray, stance: Stance) -> np.ndarray:
    """Resample one stance of a signal to % stance.

    Parameters
    ----------
    time : ndarray, shape (n,)
    values : ndarray, shape (n,)
    stance : Stance

    Returns
    -------
    ndarray, shape (N_POINTS,)
    """
    t = stance.start + PERCENT / 100.0 * (stance.end - stance.start)
    return np.interp(t, time, values)


def _signal(kin: Kinetics, coordinate: str, quantity: str, mass_kg: float | None) -> np.ndarray:
    if quantity == "angle":
        return np.degrees(kin.q.column(coordinate))
    tau = kin.tau.column(coordinate)
    if quantity == "power":
        return tau * kin.u.column(coordinate)
    return tau / mass_kg if mass_kg else tau


def _usable(kin: Kinetics, stances: list[Stance]) -> list[Stance]:
    t = kin.q.time
    return [s for s in stances if s.complete and s.start >= t[0] and s.end <= t[-1] and s.end > s.start]


def stance_curves(pairs: list[tuple[Kinetics, list[Stance]]], joints: dict, quantity: str,
                  mass_kg: float | None = None) -> StanceCurves | None:
    """Mean +- SD of a joint quantity over complete stances.

    Parameters
    ----------
    pairs : list of (Kinetics, list of Stance)
        Trials (or one trial) with their stances; only complete stances
        within the kinematics' time range are used, all pooled.
    joints : dict
        Joint -> object with ``r`` and ``l`` coordinate names (the config's
        ``joints`` block).
    quantity : {'angle', 'moment', 'power'}
    mass_kg : float, optional
        Divide moments by the body mass (N m/kg); powers stay in W.

    Returns
    -------
    StanceCurves or None
        None when there is no usable complete stance.
    """
    used = [(kin, s) for kin, stances in pairs for s in _usable(kin, stances)]
    names = [j for j, spec in joints.items()
             if all(getattr(spec, s.side, None) in kin.coordinates for kin, s in used)]
    if not used or not names:
        return None
    stack = np.array([[normalize_stance(kin.q.time, _signal(kin, getattr(joints[j], s.side), quantity, mass_kg), s)
                       for j in names] for kin, s in used])
    _, unit, unit_kg = QUANTITIES[quantity]
    sd = stack.std(axis=0, ddof=1) if len(used) > 1 else np.zeros_like(stack[0])
    return StanceCurves(names, quantity, unit_kg if mass_kg else unit, stack.mean(axis=0), sd, len(used))


def all_curves(pairs: list[tuple[Kinetics, list[Stance]]], joints: dict,
               mass_kg: float | None = None) -> dict[str, StanceCurves]:
    """:func:`stance_curves` of every quantity in :data:`QUANTITIES` (those that exist)."""
    out = {q: stance_curves(pairs, joints, q, mass_kg) for q in QUANTITIES}
    return {q: c for q, c in out.items() if c is not None}
