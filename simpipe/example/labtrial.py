"""Write a simulated motion as a lab would record it: TRC markers, GRF .mot, ExternalLoads.

A simulation (the example subject's, or a simulated baseline) knows its
coordinates and its contact forces; a lab knows markers and force plates.
These functions turn the first into the second, so that simulated trials go
through exactly the same IK -> ID -> muscle chain as measured ones:

- markers: the model's own markers posed at every frame (optionally with
  Gaussian noise), written in millimetres like a motion-capture export;
- ground reaction forces: force, centre of pressure and free moment per
  foot in simpipe's .mot convention (:mod:`simpipe.io.grf`), with the
  ExternalLoads XML that applies them to the feet;
- a static trial: the model's standing pose held for one second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import Markers, Table
from ..io.grf import grf_columns, write_external_loads_xml, write_grf
from ..io.trc import write_trc
from .generate import FEET, _Probe, static_markers


def model_markers(model_path: str | Path, time: np.ndarray, coordinates: list[str],
                  q: np.ndarray) -> Markers:
    """Positions (m) of the model's markers with the model posed at each frame.

    Parameters
    ----------
    model_path : str or Path
    time : ndarray, shape (n,)
    coordinates : list of str
        Names of the columns of ``q``; coordinates not named stay at their
        defaults.
    q : ndarray, shape (n, k)
        Coordinate values (rad, m).

    Returns
    -------
    Markers
    """
    probe = _Probe(Path(model_path))
    xyz = np.empty((len(time), len(probe.marker_names), 3))
    for k in range(len(time)):
        probe.pose(dict(zip(coordinates, q[k])))
        xyz[k] = probe.markers()
    return Markers(np.asarray(time, float).copy(), list(probe.marker_names), xyz)


def grf_table(time: np.ndarray, feet: dict[str, dict[str, np.ndarray]]) -> Table:
    """A GRF table in simpipe's .mot convention.

    Parameters
    ----------
    time : ndarray, shape (n,)
    feet : dict
        Side ('r', 'l') -> ``{'force': (n, 3) N, 'point': (n, 3) m,
        'torque': (n, 3) N m}`` in ground; the point of a foot without
        load may be anything finite (it is written as given).

    Returns
    -------
    Table
    """
    labels, cols = [], []
    for side, load in feet.items():
        labels += grf_columns(side)
        cols += [np.asarray(load[k], float) for k in ("force", "point", "torque")]
    values = np.column_stack(cols)
    if not np.all(np.isfinite(values)):
        raise ValueError("ground reaction forces contain NaN or inf")
    return Table(time=np.asarray(time, float).copy(), labels=labels, values=values, in_degrees=False)


def foot_loads(grf: dict, fill_points: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """Per-side loads for :func:`grf_table` from a simulation's contact forces.

    Parameters
    ----------
    grf : dict
        Side -> :class:`simpipe.example.simdata.FootGRF` (force, centre of
        pressure, free moment; NaN where the foot carries no load).
    fill_points : bool
        Give unloaded rows the nearest loaded row's centre of pressure
        (:func:`_fill_points`) instead of NaN.

    Returns
    -------
    dict
        Side -> ``force``, ``point``, ``torque`` (the free moment about the
        vertical, 0 where undefined).
    """
    out = {}
    for side, g in grf.items():
        free = np.nan_to_num(g.free_moment)
        zero = np.zeros(len(free))
        out[side] = {"force": g.force, "point": _fill_points(g.cop) if fill_points else g.cop,
                     "torque": np.column_stack([zero, free, zero])}
    return out


def _noisy(markers: Markers, noise_mm: float, seed: int) -> Markers:
    if noise_mm <= 0:
        return markers
    rng = np.random.default_rng(seed)
    return Markers(markers.time, markers.names, markers.xyz + rng.normal(0.0, noise_mm / 1000.0,
                                                                         markers.xyz.shape))


def write_running_trial(model_path: str | Path, out_dir: str | Path, trial_id: str, time: np.ndarray,
                        coordinates: list[str], q: np.ndarray, feet: dict[str, dict[str, np.ndarray]],
                        noise_mm: float = 0.0, seed: int = 0,
                        foot_bodies: dict[str, str] = FEET) -> dict[str, Path]:
    """Write one running trial: ``<id>.trc``, ``<id>_grf.mot``, ``<id>_external_loads.xml``.

    Parameters
    ----------
    model_path : str or Path
        The model whose markers are recorded (the simulated one).
    out_dir : str or Path
        Folder (created if needed).
    trial_id : str
    time, coordinates, q
        The motion (see :func:`model_markers`).
    feet : dict
        Contact loads per side (see :func:`grf_table`).
    noise_mm : float
        Standard deviation of marker noise per axis (mm); 0 writes exact positions.
    seed : int
        Seed of the noise.
    foot_bodies : dict
        Side -> body the ExternalLoads apply each side's force to.

    Returns
    -------
    dict
        ``markers``, ``grf``, ``external_loads``: absolute paths written.
    """
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    markers = _noisy(model_markers(model_path, time, coordinates, q), noise_mm, seed)
    trc = write_trc(markers, out / f"{trial_id}.trc", units="mm")
    grf = write_grf(grf_table(time, feet), out / f"{trial_id}_grf.mot", sides=tuple(feet))
    xml = write_external_loads_xml(out / f"{trial_id}_external_loads.xml", grf,
                                   {s: foot_bodies[s] for s in feet})
    return {"markers": Path(trc), "grf": Path(grf), "external_loads": Path(xml)}


def write_static_trial(model_path: str | Path, path: str | Path) -> Path:
    """Write the model's standing pose held for 1 s at 100 Hz as a .trc (mm)."""
    markers, _ = static_markers(_Probe(Path(model_path)))
    return Path(write_trc(markers, Path(path).resolve(), units="mm"))


def repeat_cycle(time: np.ndarray, q: np.ndarray, coordinates: list[str], feet: dict[str, dict[str, np.ndarray]],
                 n_cycles: int = 2, rate_hz: float = 200.0, forward: str = "pelvis_tx"
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Several consecutive gait cycles on a uniform time grid, from one periodic cycle.

    Parameters
    ----------
    time : ndarray, shape (n,)
        One cycle, first sample at the start and last at the end of the cycle
        (the end state equals the start state but for forward progress).
    q : ndarray, shape (n, k)
    coordinates : list of str
    feet : dict
        Side -> ``force``, ``point``, ``torque`` arrays (n, 3); NaN points
        (no load) are allowed and written as the foot's last known point.
    n_cycles : int
    rate_hz : float
        Sampling rate of the result.
    forward : str
        The coordinate that progresses (not periodic): each repetition is
        shifted by its change over the cycle.

    Returns
    -------
    time, q, feet
        On ``arange(0, n_cycles * period, 1 / rate_hz)``; coordinates by
        cubic splines (periodic), loads linearly.
    """
    from scipy.interpolate import CubicSpline

    time, q = np.asarray(time, float), np.asarray(q, float)
    period = time[-1] - time[0]
    t0 = time - time[0]
    step = np.zeros(q.shape[1])
    if forward in coordinates:
        j = coordinates.index(forward)
        step[j] = q[-1, j] - q[0, j]
    periodic = q - np.outer(t0 / period, step)
    periodic[-1] = periodic[0]
    spline = CubicSpline(t0, periodic, axis=0, bc_type="periodic")
    out_t = np.arange(int(round(n_cycles * period * rate_hz))) / rate_hz
    phase = np.mod(out_t, period)
    out_q = spline(phase) + np.outer(out_t / period, step)
    out_feet = {}
    for side, load in feet.items():
        out_feet[side] = {}
        for key in ("force", "point", "torque"):
            values = np.asarray(load[key], float).copy()
            if key == "point":
                values = _fill_points(values)
            cols = np.column_stack([np.interp(phase, t0, values[:, c]) for c in range(3)])
            if key == "point" and forward in coordinates:
                cols[:, 0] += np.floor(out_t / period) * step[coordinates.index(forward)]
            out_feet[side][key] = cols
    return out_t, out_q, out_feet


def _fill_points(points: np.ndarray) -> np.ndarray:
    """Centre-of-pressure rows without load (NaN) take the nearest loaded row's value (0 if none)."""
    points = points.copy()
    bad = ~np.all(np.isfinite(points), axis=1)
    if bad.all():
        return np.zeros_like(points)
    good = np.flatnonzero(~bad)
    for i in np.flatnonzero(bad):
        points[i] = points[good[np.argmin(np.abs(good - i))]]
    return points
