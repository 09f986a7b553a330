"""Small labelled containers: numbers travel with their names and units.

Angles are in radians and lengths in metres inside simpipe; degrees and
millimetres only appear at the edges (files and figures).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Markers:
    """Marker trajectories.

    Attributes
    ----------
    time : ndarray, shape (n_frames,)
        Seconds.
    names : list of str
        Marker names, one per column of ``xyz``.
    xyz : ndarray, shape (n_frames, n_markers, 3)
        Positions in metres (NaN where a marker is missing).
    """

    time: np.ndarray
    names: list[str]
    xyz: np.ndarray

    @property
    def rate(self) -> float:
        """Sampling rate in Hz (from the median frame interval)."""
        return float(1.0 / np.median(np.diff(self.time)))

    def marker(self, name: str) -> np.ndarray:
        """Trajectory of one marker, shape (n_frames, 3)."""
        return self.xyz[:, self.names.index(name), :]


@dataclass
class Table:
    """A labelled time series (the in-memory form of a .mot/.sto file).

    Attributes
    ----------
    time : ndarray, shape (n_frames,)
        Seconds.
    labels : list of str
        Column names.
    values : ndarray, shape (n_frames, n_columns)
        Data; SI units, angles in radians unless ``in_degrees``.
    in_degrees : bool
        True when rotational columns are in degrees (as in OpenSim .mot files).
    meta : dict
        Free-form header metadata.
    """

    time: np.ndarray
    labels: list[str]
    values: np.ndarray
    in_degrees: bool = False
    meta: dict = field(default_factory=dict)

    def column(self, label: str) -> np.ndarray:
        """One column by name (raises KeyError naming the missing label)."""
        try:
            return self.values[:, self.labels.index(label)]
        except ValueError:
            raise KeyError(f"no column {label!r}; columns are {self.labels}") from None
