"""Sweep points: one model variant per value of the swept muscle property."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import SweepSpec
from ..errors import ConfigError
from ..stages.osimutil import load_model

#: Properties whose value is a strain: relative stiffness = default / value.
STRAIN_PROPERTIES = {"passive_fiber_strain_at_one_norm_force", "FmaxMuscleStrain"}


@dataclass(frozen=True)
class VariantPoint:
    """One point of the sweep.

    Attributes
    ----------
    name : str
        Identifier used in results (e.g. ``x1.50``: 1.5 times the default
        passive stiffness).
    property : str
    value : float
    rf_stiffness : float
        Passive stiffness relative to the model's default (1 = unchanged);
        NaN for properties that are not a passive stiffness.
    """

    name: str
    property: str
    value: float
    rf_stiffness: float


def _default_value(model_path: Path, muscle: str, prop: str) -> float | None:
    model = load_model(model_path)
    muscles = model.getMuscles()
    if not muscles.contains(muscle):
        return None
    obj = muscles.get(muscle)
    if not obj.hasProperty(prop):
        return None
    return float(obj.getPropertyByName(prop).toString())


def sweep_points(sweep: SweepSpec, model_path: Path, muscles: list[str]) -> list[VariantPoint]:
    """The sweep's variants, with their relative stiffness.

    Parameters
    ----------
    sweep : SweepSpec
    model_path : Path
        The generic model (its muscle defaults define stiffness 1).
    muscles : list of str
        Resolved muscles of the sweep.

    Returns
    -------
    list of VariantPoint
    """
    prop = sweep.property
    points = []
    default = _default_value(model_path, muscles[0], prop) if prop in STRAIN_PROPERTIES else None
    if prop in STRAIN_PROPERTIES and default is None:
        raise ConfigError(f"sweep.property {prop!r}: muscle {muscles[0]!r} of the model has no such property")
    for value in sweep.values:
        if prop in STRAIN_PROPERTIES:
            if value <= 0:
                raise ConfigError(f"sweep.values: {value} is not a valid strain (must be > 0)")
            rel = default / value
        elif prop == "passive_stiffness_multiplier":
            if value <= 0:
                raise ConfigError(f"sweep.values: {value} is not a valid multiplier (must be > 0)")
            rel = value
        else:
            rel = float("nan")
        name = f"x{rel:.2f}" if rel == rel else f"{prop}={value:g}"
        points.append(VariantPoint(name, prop, float(value), float(rel)))
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        raise ConfigError(f"sweep.values give variants with equal names {names}; space them further apart")
    return points
