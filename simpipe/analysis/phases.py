"""Gait events from ground reaction forces: stance and propulsive phases.

Definitions (documented in the README):

* stance of a foot: its vertical GRF above a threshold (default 20 N);
* propulsive phase: the part of a stance where the fore-aft GRF points in
  the direction of progression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Stance:
    """One stance phase of one foot (times in s)."""

    side: str
    start: float
    end: float
    complete: bool

    @property
    def duration(self) -> float:
        return self.end - self.start


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start and end (inclusive) indices of runs of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist()))


def stance_phases(time: np.ndarray, vertical_grf: np.ndarray, side: str,
                  threshold_n: float = 20.0, min_duration_s: float = 0.05) -> list[Stance]:
    """Stance phases from one foot's vertical GRF.

    Parameters
    ----------
    time : ndarray, shape (n,)
    vertical_grf : ndarray, shape (n,)
        Newtons, upward positive.
    side : str
    threshold_n : float
        Contact threshold.
    min_duration_s : float
        Shorter supra-threshold runs are treated as noise and ignored.

    Returns
    -------
    list of Stance
        A stance is ``complete`` when it starts and ends inside the record.
    """
    mask = np.asarray(vertical_grf) > threshold_n
    out = []
    for i0, i1 in _runs(mask):
        if time[i1] - time[i0] < min_duration_s:
            continue
        complete = i0 > 0 and i1 < len(time) - 1
        out.append(Stance(side, float(time[i0]), float(time[i1]), complete))
    return out


def propulsive_mask(time: np.ndarray, fore_aft_grf: np.ndarray, stance: Stance,
                    forward_sign: float = 1.0) -> np.ndarray:
    """Samples of a stance in which the fore-aft GRF points forward.

    Parameters
    ----------
    time : ndarray, shape (n,)
    fore_aft_grf : ndarray, shape (n,)
        Newtons along the ground x axis.
    stance : Stance
    forward_sign : float
        +1 when the subject progresses along +x, -1 along -x.
    """
    in_stance = (time >= stance.start) & (time <= stance.end)
    return in_stance & (forward_sign * np.asarray(fore_aft_grf) > 0)


def braking_mask(time: np.ndarray, fore_aft_grf: np.ndarray, stance: Stance,
                 forward_sign: float = 1.0) -> np.ndarray:
    """Samples of a stance in which the fore-aft GRF points backward."""
    in_stance = (time >= stance.start) & (time <= stance.end)
    return in_stance & (forward_sign * np.asarray(fore_aft_grf) < 0)
