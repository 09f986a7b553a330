"""Joint-level propulsion shares (method ``joint_work``).

For each complete stance, over its propulsive phase, the positive work of each
joint's *extensor* moment (hip extensors, knee extensors, ankle plantar
flexors) is

    W_j = integral of max(0, P_j) where the extensor moment M_ext,j > 0,
    P_j = M_j * qdot_j (joint power, W),

and the shares are W_hip / (W_hip + W_knee + W_ankle) ("glute" share: the hip
extensors) and W_ankle / (...) ("plantarflexor" share).

With the kinematics held fixed (IK + ID), these shares cannot change with
muscle properties: a model variant only changes how the same net moments are
shared among muscles. simpipe reports that as is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .phases import Stance, propulsive_mask


@dataclass
class JointWork:
    """Positive extensor work per joint over the propulsive phases (J)."""

    joints: list[str]
    work_j: np.ndarray
    n_stances: int

    def share(self, joint: str) -> float:
        """Fraction of the summed positive extensor work done at ``joint``."""
        total = float(np.sum(self.work_j))
        if total <= 0:
            return float("nan")
        return float(self.work_j[self.joints.index(joint)] / total)


def extensor_positive_work(time: np.ndarray, moment: np.ndarray, speed: np.ndarray,
                           extension_sign: float, mask: np.ndarray) -> float:
    """Positive work of an extensor moment over the masked samples.

    Parameters
    ----------
    time : ndarray, shape (n,)
    moment : ndarray, shape (n,)
        Net joint moment on the coordinate (N m).
    speed : ndarray, shape (n,)
        Coordinate speed (rad/s).
    extension_sign : float
        -1 when extension is the negative direction of the coordinate.
    mask : ndarray of bool, shape (n,)

    Returns
    -------
    float
        Joules (trapezoidal integration).
    """
    power = np.asarray(moment) * np.asarray(speed)
    extensor = extension_sign * np.asarray(moment) > 0
    integrand = np.where(mask & extensor & (power > 0), power, 0.0)
    return float(np.trapezoid(integrand, time))


def joint_work(time: np.ndarray, moments: dict[str, dict[str, np.ndarray]],
               speeds: dict[str, dict[str, np.ndarray]], extension_sign: dict[str, float],
               fore_aft_grf: dict[str, np.ndarray], stances: list[Stance],
               forward_sign: float = 1.0) -> JointWork:
    """Positive extensor work at each joint over all complete stances.

    Parameters
    ----------
    time : ndarray, shape (n,)
    moments, speeds : dict
        joint -> side -> array (n,), net moments (N m) and speeds (rad/s).
    extension_sign : dict
        joint -> sign of extension on its coordinate.
    fore_aft_grf : dict
        side -> fore-aft GRF (N) sampled at ``time``.
    stances : list of Stance
        Only complete ones are used.
    forward_sign : float
        Direction of progression along ground x.

    Returns
    -------
    JointWork
    """
    joints = list(moments)
    work = np.zeros(len(joints))
    used = [s for s in stances if s.complete]
    for stance in used:
        mask = propulsive_mask(time, fore_aft_grf[stance.side], stance, forward_sign)
        for i, joint in enumerate(joints):
            work[i] += extensor_positive_work(time, moments[joint][stance.side],
                                              speeds[joint][stance.side], extension_sign[joint], mask)
    return JointWork(joints, work, len(used))
