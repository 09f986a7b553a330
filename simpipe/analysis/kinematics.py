"""Stance kinematics that a lab measures and a simulation can be compared on.

Peaks of one coordinate over a window of each complete stance, averaged over
the stances of a trial: peak hip extension in late stance, peak anterior
pelvic tilt and peak lumbar extension (the compensations coaches ascribe to
a stiff rectus femoris). Coordinates and signs follow the study's ``joints``
block (simpipe's built-in model by default; OpenSim gait-model names: pelvis
tilt negative = anterior). Used by :mod:`simpipe.run.summary` (columns of
summary.csv) and :mod:`simpipe.analysis.compare`. Needs no OpenSim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .phases import Stance

#: Kinematic features: name -> description (degrees, OpenSim coordinates at the edges).
KINEMATIC_FEATURES = {
    "peak_hip_extension_deg": "peak hip extension, late stance (50-100 %), stance side",
    "peak_anterior_pelvic_tilt_deg": "peak anterior pelvic tilt over stance",
    "peak_lumbar_extension_deg": "peak lumbar extension over stance",
}
#: Pelvis and trunk coordinates of simpipe's built-in model (OpenSim gait-model names and signs).
PELVIS_TILT, LUMBAR_EXTENSION = "pelvis_tilt", "lumbar_extension"
#: OpenSim sign of pelvis_tilt: negative = anterior.
ANTERIOR_TILT_SIGN = -1.0
#: Late stance, % of stance.
LATE_STANCE = (50.0, 100.0)

@dataclass(frozen=True)
class KinematicFeature:
    """A peak of one coordinate over a window of each stance.

    Attributes
    ----------
    name : str
        Feature (summary column) name, in degrees.
    coordinates : tuple of str
        Coordinate used in a right and in a left stance (the same name for
        pelvis and trunk).
    sign : float
        Multiplies the coordinate so that the named direction is positive.
    window : tuple of float
        Part of the stance searched, % of stance.
    """

    name: str
    coordinates: tuple[str, str]
    sign: float
    window: tuple[float, float] = (0.0, 100.0)


def default_joints() -> dict:
    """The config's default ``joints`` block (simpipe's built-in model)."""
    from ..config import Study

    return Study.model_fields["joints"].default_factory()


def kinematic_spec(joints: dict | None = None) -> tuple[KinematicFeature, ...]:
    """The kinematic features of :data:`KINEMATIC_FEATURES` for a study's joints.

    Parameters
    ----------
    joints : dict, optional
        The config's ``joints`` block (``hip`` with ``r``, ``l`` and
        ``extension_sign``); the config's default (simpipe's built-in model)
        when absent.

    Returns
    -------
    tuple of KinematicFeature
    """
    hip = (joints or {}).get("hip") or default_joints()["hip"]
    return (KinematicFeature("peak_hip_extension_deg", (hip.r, hip.l), float(hip.extension_sign), LATE_STANCE),
            KinematicFeature("peak_anterior_pelvic_tilt_deg", (PELVIS_TILT, PELVIS_TILT), ANTERIOR_TILT_SIGN),
            KinematicFeature("peak_lumbar_extension_deg", (LUMBAR_EXTENSION, LUMBAR_EXTENSION), 1.0))


def kinematic_features(time: np.ndarray, coordinates: list[str], q: np.ndarray, stances: list[Stance],
                       spec: tuple[KinematicFeature, ...] | None = None) -> dict[str, float]:
    """Peak angles per stance window, averaged over complete stances.

    Parameters
    ----------
    time : ndarray, shape (n,)
        Seconds.
    coordinates : list of str
        Names of the columns of ``q``.
    q : ndarray, shape (n, k)
        Generalized coordinates (rad for rotations), e.g. the IK result.
    stances : list of Stance
        Only complete stances inside ``time`` are used.
    spec : tuple of KinematicFeature, optional
        Default :func:`kinematic_spec` ``()``.

    Returns
    -------
    dict
        Feature name -> degrees; NaN when no stance is usable or the model
        lacks the coordinate.

    Notes
    -----
    Each window is resampled to 51 points (linear interpolation) before its
    maximum is taken, so the value does not depend on the sampling rate.
    """
    time, q = np.asarray(time, float), np.asarray(q, float)
    used = [s for s in stances if s.complete and time[0] <= s.start < s.end <= time[-1]]
    out = {}
    for feat in spec or kinematic_spec():
        peaks = []
        for s in used:
            name = feat.coordinates[0 if s.side == "r" else 1]
            if name not in coordinates:
                continue
            t = s.start + np.linspace(*feat.window, 51) / 100.0 * s.duration
            angle = feat.sign * np.interp(t, time, q[:, list(coordinates).index(name)])
            peaks.append(float(np.degrees(angle).max()))
        out[feat.name] = float(np.mean(peaks)) if peaks else math.nan
    return out
