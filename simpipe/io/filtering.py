"""Signal conditioning for marker and force data: zero-lag low-pass, resampling.

These take arrays, not files, and raise ``ValueError`` for bad arguments; the
reader that produced the arrays is responsible for naming the file.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import butter, sosfiltfilt

_TIME_TOLERANCE = 1e-9


def double_pass_correction(order: int) -> float:
    """Factor by which a forward-backward pass lowers a Butterworth cutoff.

    Parameters
    ----------
    order : int
        Order of the single-pass filter.

    Returns
    -------
    float
        ``C = (2**(1/2) - 1) ** (1 / (2 * order))``; design the single-pass
        filter at ``cutoff / C`` so the -3 dB point of the two passes lands on
        ``cutoff``.

    Notes
    -----
    Robertson & Dowling (2003), J Electromyogr Kinesiol 13:569-573; for
    ``order=2`` this is Winter's 0.802 (Biomechanics and Motor Control of
    Human Movement, 4th ed., 2009, sec. 3.4.4).
    """
    return float((2.0 ** 0.5 - 1.0) ** (1.0 / (2 * order)))


def lowpass(values: np.ndarray, rate_hz: float, cutoff_hz: float, order: int = 4,
            axis: int = 0) -> np.ndarray:
    """Zero-lag Butterworth low-pass filter.

    Parameters
    ----------
    values : ndarray
        Samples, uniformly spaced along ``axis``. Must not contain NaN.
    rate_hz : float
        Sampling rate (Hz).
    cutoff_hz : float
        Cutoff (Hz) of the whole zero-lag filter: the frequency where its gain
        is 1/sqrt(2) (-3 dB).
    order : int
        Order of the single-pass filter; the forward-backward filter has
        order ``2 * order``.
    axis : int
        Time axis.

    Returns
    -------
    ndarray
        Filtered samples, same shape as ``values``.

    Raises
    ------
    ValueError
        If ``values`` contains NaN or infinity, if the cutoff is not positive
        or, after the double-pass correction, not below the Nyquist frequency,
        or if there are too few samples for the filter's edge padding.

    Notes
    -----
    The filter runs forward then backward (``scipy.signal.sosfiltfilt``, with
    odd extension at the edges), which cancels the phase lag and squares the
    gain. Its cutoff is therefore raised by :func:`double_pass_correction`
    so that the combined -3 dB point equals ``cutoff_hz`` (Robertson &
    Dowling 2003; Winter 2009).
    """
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("cannot filter data containing NaN or infinity; fill or "
                         "trim the gaps first")
    nyquist = 0.5 * rate_hz
    corrected = cutoff_hz / double_pass_correction(order)
    if cutoff_hz <= 0 or corrected >= nyquist:
        raise ValueError(f"cutoff {cutoff_hz:g} Hz ({corrected:.4g} Hz after the "
                         f"double-pass correction) must be above 0 and below the "
                         f"Nyquist frequency {nyquist:g} Hz of {rate_hz:g} Hz data")
    sos = butter(order, corrected, btype="low", fs=rate_hz, output="sos")
    padlen = 3 * (2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
    if values.shape[axis] <= padlen:
        raise ValueError(f"need more than {padlen} samples to filter with order "
                         f"{order}, got {values.shape[axis]}")
    return sosfiltfilt(sos, values, axis=axis)


def resample(time: np.ndarray, values: np.ndarray, new_time: np.ndarray) -> np.ndarray:
    """Resample along the first axis with a cubic spline.

    Parameters
    ----------
    time : ndarray, shape (n,)
        Strictly increasing sample times (s).
    values : ndarray, shape (n, ...)
        Samples at ``time``; must not contain NaN.
    new_time : ndarray, shape (m,)
        Times to evaluate; must lie within ``[time[0], time[-1]]`` (a 1 ns
        overshoot from floating-point arithmetic is clipped).

    Returns
    -------
    ndarray, shape (m, ...)
        Values at ``new_time``.

    Raises
    ------
    ValueError
        If ``new_time`` leaves the time range, ``time`` is not strictly
        increasing, shapes disagree, or the data contain NaN.

    Notes
    -----
    Not-a-knot cubic spline interpolation (``scipy.interpolate.CubicSpline``);
    no extrapolation.
    """
    time = np.asarray(time, dtype=float)
    values = np.asarray(values, dtype=float)
    new_time = np.asarray(new_time, dtype=float)
    if time.ndim != 1 or len(time) < 2 or values.shape[0] != len(time):
        raise ValueError(f"time must be 1-D with >= 2 samples matching values' first "
                         f"axis; got time {time.shape}, values {values.shape}")
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(time))):
        raise ValueError("cannot resample data containing NaN or infinity")
    if np.any(np.diff(time) <= 0):
        raise ValueError("time must be strictly increasing")
    lo, hi = new_time.min(initial=np.inf), new_time.max(initial=-np.inf)
    if new_time.size and (lo < time[0] - _TIME_TOLERANCE or hi > time[-1] + _TIME_TOLERANCE):
        raise ValueError(f"new_time {lo:g}-{hi:g} s lies outside the data's time "
                         f"range {time[0]:g}-{time[-1]:g} s; no extrapolation")
    spline = CubicSpline(time, values, axis=0)
    return spline(np.clip(new_time, time[0], time[-1]))
