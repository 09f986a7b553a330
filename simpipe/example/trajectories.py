"""Joint-angle trajectories of running at about 3.5 m/s, as Fourier series.

The curves describe one gait cycle of the right leg as a function of the
gait-cycle phase ``phi`` in [0, 1), with ``phi = 0`` at right foot strike and
right toe-off at ``phi = STANCE_FRACTION`` (0.36). The left leg is the right
leg shifted by half a cycle. Each curve is a Fourier series, so values and
derivatives of any order are exact and the motion is smooth and periodic.

Where the curves come from
--------------------------
They are **not digitized** from any figure. They were shaped to pass through
key values (size and timing of the peaks, angles at foot strike and toe-off)
of published mean running kinematics, read from the text and figures of:

- Novacheck TF (1998). The biomechanics of running. Gait Posture 7:77-95
  (sagittal pelvis, hip, knee and ankle angles of running).
- Hamner SR, Delp SL (2013). Muscle contributions to fore-aft and vertical
  body mass center accelerations over a range of running speeds.
  J Biomech 46:780-787 (mean joint angles of 10 runners at 2-5 m/s; the 3
  and 4 m/s curves bracket 3.5 m/s).

Key values met (degrees; hip flexion +, knee flexion +, ankle dorsiflexion +,
pelvis tilt OpenSim sign, negative = anterior):

======================  ==========================================
hip                     32 at foot strike; peak extension -12 just
                        after toe-off (phase 0.40); peak flexion 43
                        late in swing (phase 0.84)
knee                    10 at foot strike; 46 at mid-stance; 14 at
                        toe-off; 106 in mid-swing (phase 0.64)
ankle                   4 at foot strike; 26 dorsiflexion at
                        mid-stance; -22 just after toe-off
pelvis tilt             -12 mean (anterior), +-2 twice per cycle,
                        most anterior at each toe-off
lumbar extension        5 mean, +-1.5 twice per cycle
======================  ==========================================

Stance lasts 36 % of the cycle, so each step has a flight phase of 14 % of
the cycle (about 100 ms at 0.7 s per cycle).

How the knots and coefficients were made
----------------------------------------
- Swing knots (``KNOTS_DEG`` after toe-off) were placed by hand on the key
  values above.
- Stance knots (every 0.02 of phase from foot strike to toe-off) come from a
  planted-foot design on the example subject's scaled model (thigh 0.463 m,
  shank 0.462 m, heel and forefoot contact spheres of the built-in foot): the
  hip path was prescribed (mean speed 3.5 m/s, cycle 0.705 s, 0.4 BW braking
  then propulsion, of which the leg sweeps 90 % under the body; a vertical dip
  from a vertical-force shape with an impact transient, see
  ``simpipe.example.generate.vertical_force_shape``), the foot
  rolled from a 14 deg heel strike to flat and then about the forefoot, and
  the knee and hip angles followed from two-link inverse kinematics, the
  ankle from the foot angle. The design's free parameters (foot-strike
  position, hip height, foot-roll timing) were chosen so that the stance
  angles meet the key values while the stance foot stays on the ground.
  Matching those key values with a toe-less rigid foot needs stance knee and
  ankle peaks (46 and 26 deg) at the upper end of the published range and a
  foot that still slides forward a little in stance (the README of the
  example reports by how much).
- A periodic cubic spline through the knots was sampled at 400 phases and a
  Fourier series fitted to it by least squares (:func:`fit_fourier`; 20
  harmonics for the leg joints, the 2nd and 4th for pelvis and trunk so both
  steps are alike). ``FOURIER_DEG`` holds the result rounded to 4 decimals;
  ``tests/test_example.py`` checks that refitting the knots reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

#: Fraction of the gait cycle the foot is on the ground (toe-off phase).
STANCE_FRACTION = 0.36

#: Phase of each foot's events within the cycle (right foot strike = 0).
EVENT_PHASES = {
    "r": {"foot_strike": 0.0, "toe_off": STANCE_FRACTION},
    "l": {"foot_strike": 0.5, "toe_off": 0.5 + STANCE_FRACTION},
}

#: Design knots (phase, degrees) on key values of Novacheck (1998) and Hamner &
#: Delp (2013), stance from the planted-foot design (module docstring); right
#: leg; hip flexion +, knee flexion +, ankle dorsiflexion +,
#: pelvis tilt OpenSim sign (negative = anterior), lumbar extension +.
KNOTS_DEG = {
    "hip_flexion": [
        (0.0, 31.7), (0.02, 35.4), (0.04, 36.0), (0.06, 35.7), (0.08, 34.5), (0.1, 32.8),
        (0.12, 30.9), (0.14, 28.7), (0.16, 26.4), (0.18, 24.0), (0.2, 21.4), (0.22, 18.7),
        (0.24, 15.8), (0.26, 12.8), (0.28, 9.6), (0.3, 6.2), (0.32, 2.5), (0.34, -1.5),
        (0.36, -6.2),  # toe-off; swing knots by hand below
        (0.4, -12), (0.46, -8), (0.55, 6), (0.65, 24), (0.75, 38), (0.84, 43), (0.92, 40)],
    "knee_angle": [
        (0.0, 9.9), (0.02, 22.7), (0.04, 29.2), (0.06, 35.1), (0.08, 39.1), (0.1, 41.9),
        (0.12, 43.9), (0.14, 45.1), (0.16, 45.7), (0.18, 45.6), (0.2, 44.8), (0.22, 43.3),
        (0.24, 41.2), (0.26, 38.5), (0.28, 35.1), (0.3, 31.1), (0.32, 26.4), (0.34, 20.8),
        (0.36, 13.6),
        (0.44, 40), (0.54, 85), (0.64, 106), (0.74, 84), (0.85, 40), (0.94, 12)],
    "ankle_angle": [
        (0.0, 4.3), (0.02, 7.2), (0.04, 4.8), (0.06, 10.1), (0.08, 15.0), (0.1, 19.1),
        (0.12, 22.3), (0.14, 24.5), (0.16, 25.7), (0.18, 26.0), (0.2, 25.2), (0.22, 23.3),
        (0.24, 20.5), (0.26, 16.6), (0.28, 11.6), (0.3, 5.5), (0.32, -1.7), (0.34, -10.2),
        (0.36, -20.2),
        (0.4, -22), (0.48, -12), (0.6, 2), (0.7, 8), (0.82, 5), (0.92, 3)],
    "pelvis_tilt": [(0.13, -10), (0.38, -14), (0.63, -10), (0.88, -14)],
    "lumbar_extension": [(0.13, 3.5), (0.38, 6.5), (0.63, 3.5), (0.88, 6.5)],
}

#: Harmonics fitted to each curve's knots.
HARMONICS = {
    "hip_flexion": tuple(range(1, 21)),
    "knee_angle": tuple(range(1, 21)),
    "ankle_angle": tuple(range(1, 21)),
    "pelvis_tilt": (2, 4),
    "lumbar_extension": (2, 4),
}

# Fourier coefficients in degrees: value(phi) = mean + sum_k (cos_k cos(2 pi k phi)
# + sin_k sin(2 pi k phi)) over HARMONICS[name]. Generated by
# fit_fourier(KNOTS_DEG[name], HARMONICS[name]); see the module docstring.
FOURIER_DEG = {
    # FOURIER_TABLE_START
    "hip_flexion": {
        "mean": 20.9819,
        "cos": (20.0370, -5.3775, -1.2755, -0.2505, -1.2991, -0.1593, -0.2984, -0.1854, 0.0337,
                -0.0808, -0.0187, -0.0065, -0.0399, -0.0238, -0.0135, -0.0355, -0.0253, -0.0238,
                -0.0380, -0.0296),
        "sin": (-12.8164, 4.1676, -0.8492, 1.4072, 0.6531, 0.4324, 0.7605, 0.2592, 0.3008,
                0.2252, 0.1094, 0.1225, 0.0874, 0.0503, 0.0583, 0.0476, 0.0281, 0.0408, 0.0325,
                0.0182),
    },
    "knee_angle": {
        "mean": 50.1560,
        "cos": (-21.9981, -9.2971, -4.1674, 0.7463, -2.8096, -0.4469, -0.2606, -0.8806, 0.1268,
                -0.2169, -0.2072, 0.0798, -0.1266, -0.0762, 0.0292, -0.0879, -0.0577, -0.0099,
                -0.1007, -0.0559),
        "sin": (-22.8907, 25.5653, -1.5656, 1.9979, 2.4923, -0.2304, 1.6377, 0.4898, 0.3368,
                0.6836, 0.1643, 0.2678, 0.3144, 0.0978, 0.1625, 0.1749, 0.0458, 0.1092, 0.0886,
                0.0163),
    },
    "ankle_angle": {
        "mean": 3.9060,
        "cos": (10.4090, -8.0685, -3.4177, 1.2984, -1.3082, -0.0079, 0.7012, -0.2266, 0.4771,
                0.3409, 0.0218, 0.3733, 0.1117, 0.0511, 0.1911, -0.0090, 0.0092, 0.0343,
                -0.0831, -0.0425),
        "sin": (1.9939, 10.2131, -3.5107, -0.4056, 0.6813, -0.9496, 0.3901, 0.0871, -0.2678,
                0.3587, 0.0018, 0.0586, 0.2948, 0.0387, 0.1631, 0.2168, 0.0822, 0.1706, 0.1374,
                0.0599),
    },
    "pelvis_tilt": {
        "mean": -12.0000,
        "cos": (-0.1238, 0.0000),
        "sin": (1.9672, 0.0000),
    },
    "lumbar_extension": {
        "mean": 5.0000,
        "cos": (0.0928, 0.0000),
        "sin": (-1.4754, 0.0000),
    },
    # FOURIER_TABLE_END
}


@dataclass(frozen=True)
class FourierSeries:
    """A real Fourier series in the gait-cycle phase.

    Attributes
    ----------
    mean : float
        Constant term.
    harmonics : tuple of int
        Harmonic numbers k (cycles per gait cycle).
    cos, sin : tuple of float
        Coefficients of cos(2 pi k phi) and sin(2 pi k phi), one per harmonic.
    """

    mean: float
    harmonics: tuple[int, ...]
    cos: tuple[float, ...]
    sin: tuple[float, ...]

    def __call__(self, phase, order: int = 0) -> np.ndarray:
        """Value or ``order``-th derivative with respect to phase.

        Parameters
        ----------
        phase : array_like
            Gait-cycle phase (any real number; the series is 1-periodic).
        order : int
            Derivative order (0 = value).

        Returns
        -------
        ndarray
            Same shape as ``phase``; units of the coefficients per phase**order.
        """
        phase = np.asarray(phase, dtype=float)
        out = np.full(phase.shape, self.mean if order == 0 else 0.0)
        for k, a, b in zip(self.harmonics, self.cos, self.sin):
            w = 2.0 * np.pi * k
            # d^n/dphi^n of cos(w phi) = w^n cos(w phi + n pi/2), same for sin
            shift = order * np.pi / 2.0
            out += w ** order * (a * np.cos(w * phase + shift) + b * np.sin(w * phase + shift))
        return out

    def scaled(self, factor: float) -> "FourierSeries":
        """The same series with every coefficient multiplied by ``factor``."""
        return FourierSeries(self.mean * factor, self.harmonics,
                             tuple(c * factor for c in self.cos),
                             tuple(s * factor for s in self.sin))


def fit_fourier(knots, harmonics, n_samples: int = 400) -> FourierSeries:
    """Fit a Fourier series to a periodic cubic spline through knots.

    Parameters
    ----------
    knots : sequence of (phase, value)
        Increasing phases in [0, 1); the spline closes the cycle at phase 1.
    harmonics : sequence of int
        Harmonic numbers to fit (the constant term is always fitted).
    n_samples : int
        Number of equally spaced phases at which the spline is sampled.

    Returns
    -------
    FourierSeries
        Coefficients rounded to 4 decimals (the precision stored in
        ``FOURIER_DEG``).
    """
    pts = np.asarray(knots, dtype=float)
    x = np.r_[pts[:, 0], pts[0, 0] + 1.0]
    y = np.r_[pts[:, 1], pts[0, 1]]
    spline = CubicSpline(x, y, bc_type="periodic")
    phase = np.arange(n_samples) / n_samples
    target = spline(np.mod(phase - x[0], 1.0) + x[0])
    cols = [np.ones_like(phase)]
    for k in harmonics:
        cols += [np.cos(2 * np.pi * k * phase), np.sin(2 * np.pi * k * phase)]
    coef = np.linalg.lstsq(np.column_stack(cols), target, rcond=None)[0]
    coef = np.round(coef, 4) + 0.0  # + 0.0 turns -0.0 into 0.0
    return FourierSeries(float(coef[0]), tuple(int(k) for k in harmonics),
                         tuple(float(c) for c in coef[1::2]),
                         tuple(float(c) for c in coef[2::2]))


def curves_deg() -> dict[str, FourierSeries]:
    """The stored series, in degrees, keyed by curve name (right leg)."""
    return {name: FourierSeries(c["mean"], HARMONICS[name], tuple(c["cos"]), tuple(c["sin"]))
            for name, c in FOURIER_DEG.items()}


def joint_coordinates() -> list[str]:
    """Model coordinates the trajectories drive (both legs, pelvis tilt, lumbar)."""
    legs = [f"{j}_{s}" for s in ("r", "l") for j in ("hip_flexion", "knee_angle", "ankle_angle")]
    return ["pelvis_tilt", "lumbar_extension", *legs]


def _curve_and_shift(coordinate: str) -> tuple[str, float]:
    """Curve name and phase shift of a model coordinate."""
    for side, shift in (("_r", 0.0), ("_l", 0.5)):
        if coordinate.endswith(side):
            return coordinate[: -len(side)], shift
    return coordinate, 0.0


def joint_angles(phase, coordinate: str, order: int = 0) -> np.ndarray:
    """Angle of one coordinate (rad) or its derivative (rad per phase**order).

    Parameters
    ----------
    phase : array_like
        Gait-cycle phase (0 = right foot strike).
    coordinate : str
        One of :func:`joint_coordinates`; ``_l`` coordinates are the right
        curve half a cycle later.
    order : int
        Derivative order with respect to phase.

    Returns
    -------
    ndarray
        Radians (per phase**order).
    """
    curve, shift = _curve_and_shift(coordinate)
    series = curves_deg()[curve].scaled(np.pi / 180.0)
    return series(np.asarray(phase, dtype=float) - shift, order)


def joint_kinematics(time, cycle_time: float, phase0: float = 0.0) -> dict[str, np.ndarray]:
    """Values, speeds and accelerations of the driven coordinates over time.

    Parameters
    ----------
    time : array_like, shape (n,)
        Seconds.
    cycle_time : float
        Duration of one gait cycle (s).
    phase0 : float
        Phase at ``time = 0``.

    Returns
    -------
    dict
        ``'q'``, ``'u'``, ``'udot'``: arrays of shape (n, m) in rad, rad/s,
        rad/s^2, columns in :func:`joint_coordinates` order; ``'names'``.
    """
    time = np.asarray(time, dtype=float)
    phase = phase0 + time / cycle_time
    names = joint_coordinates()
    out = {"names": names}
    for key, order in (("q", 0), ("u", 1), ("udot", 2)):
        out[key] = np.column_stack([joint_angles(phase, n, order) / cycle_time ** order
                                    for n in names])
    return out
