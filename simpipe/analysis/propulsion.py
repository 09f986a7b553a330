"""Muscle-level propulsion shares (method ``muscle_iaa``).

From an induced-acceleration analysis (:mod:`simpipe.stages.induced`): the
fore-aft acceleration of the body mass centre induced by each muscle,
``a_i(t)``, times body mass ``m``, integrated over the propulsive phase of a
stance (fore-aft GRF in the direction of travel, see
:mod:`simpipe.analysis.phases`) is the muscle's propulsive impulse

    P_i = m * integral over propulsive phase of s * a_i dt      (N s, forward > 0)

and over the braking phase (fore-aft GRF backward) its braking impulse

    B_i = -m * integral over braking phase of s * a_i dt        (N s, braking > 0)

with ``s`` = +1 when travel is along +x (-1 along -x). Impulses are computed
per complete stance and summed per trial. A group's share is the sum of its
muscles' positive impulses over the sum of all muscles' positive impulses:

    share_g = sum_{i in g} max(P_i, 0) / sum_{all muscles i} max(P_i, 0)

(likewise for braking). So shares lie in [0, 1] and those of a partition of
the muscles add up to 1; a muscle that decelerates the body during the
propulsive phase adds nothing (its negative impulse is reported in
``propulsive_ns``). Hamner et al. (2010) found soleus and gastrocnemius the
largest contributors to propulsion in the second half of stance and the
quadriceps the largest contributors to braking in early stance; the first-
and second-half impulses here let a study check that ordering.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .phases import braking_mask, propulsive_mask, stance_phases


@dataclass
class MuscleIAA:
    """Propulsive and braking impulses per source and group shares of one trial.

    Attributes
    ----------
    sources : list of str
        Every force of the analysis (muscles, actuators, gravity, velocity).
    kinds : list of str
        ``'muscle'``, ``'reserve'``, ``'residual'``, ``'gravity'``, ``'velocity'``.
    propulsive_ns, braking_ns : ndarray, shape (n_sources,)
        Impulses (N s) summed over the complete stances (definitions above).
    first_half_ns, second_half_ns : ndarray, shape (n_sources,)
        Forward impulse ``m * integral of s * a_i`` over the first and the
        second half of stance (N s; negative = braking).
    groups : dict
        Group -> its muscles.
    shares, braking_shares : dict
        Group -> share of the muscles' positive propulsive (braking) impulse.
    muscle_propulsive_ns, muscle_braking_ns : float
        Sum over muscles of the positive propulsive (braking) impulses.
    grf_propulsive_ns, grf_braking_ns : float
        The measured fore-aft GRF impulse over the same phases (N s), for scale.
    n_stances : int
        Complete stances used.
    stances : list of tuple
        (side, start, end) of the stances used.
    """

    sources: list[str]
    kinds: list[str]
    propulsive_ns: np.ndarray
    braking_ns: np.ndarray
    first_half_ns: np.ndarray
    second_half_ns: np.ndarray
    groups: dict
    shares: dict
    braking_shares: dict
    muscle_propulsive_ns: float
    muscle_braking_ns: float
    grf_propulsive_ns: float
    grf_braking_ns: float
    n_stances: int
    stances: list = field(default_factory=list)

    def group_impulse(self, group: str, which: str = "second_half_ns") -> float:
        """Sum over a group's muscles of one impulse array (e.g. ``'first_half_ns'``)."""
        values = getattr(self, which)
        return float(sum(values[self.sources.index(m)] for m in self.groups[group]))

    def to_dict(self) -> dict:
        return asdict(self)


def _integral(time: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Trapezoidal integral of each column of ``values`` over the masked samples."""
    return np.trapezoid(np.where(mask[:, None], values, 0.0), time, axis=0)


def _shares(values: np.ndarray, muscle_idx: list[int], groups: dict, index: dict) -> tuple[dict, float]:
    positive = np.maximum(values, 0.0)
    total = float(positive[muscle_idx].sum())
    shares = {g: (float(sum(positive[index[m]] for m in ms)) / total if total > 0 else float("nan"))
              for g, ms in groups.items()}
    return shares, total


def muscle_iaa(time: np.ndarray, sources: list[str], kinds: list[str], fore_aft_acc: np.ndarray,
               mass_kg: float, grf: dict, groups: dict[str, list[str]], threshold_n: float = 20.0,
               forward_sign: float = 1.0) -> MuscleIAA:
    """Propulsive and braking impulses of each force and the groups' shares.

    Parameters
    ----------
    time : ndarray, shape (n,)
    sources, kinds : list of str
        As in :class:`~simpipe.stages.induced.InducedAccelerations`.
    fore_aft_acc : ndarray, shape (n, n_sources)
        Induced fore-aft mass-centre acceleration of each source (m/s^2, ground x).
    mass_kg : float
        Body mass.
    grf : dict
        Side -> ndarray (n, 3): measured GRF (N) at ``time``.
    groups : dict
        Group -> muscle names (resolved, e.g. by
        :func:`simpipe.model.groups.resolve_groups`).
    threshold_n : float
        Stance threshold on the vertical GRF.
    forward_sign : float
        +1 when travelling along +x, -1 along -x.

    Returns
    -------
    MuscleIAA
        Only complete stances (starting and ending inside ``time``) count.
    """
    time = np.asarray(time, float)
    forward = forward_sign * np.asarray(fore_aft_acc) * mass_kg  # N, forward positive
    stances = [s for side in grf for s in stance_phases(time, np.asarray(grf[side])[:, 1], side,
                                                        threshold_n) if s.complete]
    k = len(sources)
    prop, brake, first, second = (np.zeros(k) for _ in range(4))
    grf_prop = grf_brake = 0.0
    for st in stances:
        fx = np.asarray(grf[st.side])[:, 0]
        pmask = propulsive_mask(time, fx, st, forward_sign)
        bmask = braking_mask(time, fx, st, forward_sign)
        prop += _integral(time, forward, pmask)
        brake -= _integral(time, forward, bmask)
        mid = 0.5 * (st.start + st.end)
        first += _integral(time, forward, (time >= st.start) & (time <= mid))
        second += _integral(time, forward, (time >= mid) & (time <= st.end))
        grf_prop += float(_integral(time, forward_sign * fx[:, None], pmask)[0])
        grf_brake -= float(_integral(time, forward_sign * fx[:, None], bmask)[0])
    index = {s: i for i, s in enumerate(sources)}
    muscle_idx = [i for i, kd in enumerate(kinds) if kd == "muscle"]
    shares, total_p = _shares(prop, muscle_idx, groups, index)
    bshares, total_b = _shares(brake, muscle_idx, groups, index)
    return MuscleIAA(list(sources), list(kinds), prop, brake, first, second,
                     {g: list(m) for g, m in groups.items()}, shares, bshares, total_p, total_b,
                     grf_prop, grf_brake, len(stances),
                     [(s.side, s.start, s.end) for s in stances])

