"""Model variants: copies of a model with one muscle property changed.

A variant is how simpipe represents a stiffer (or weaker, or slower) muscle:
``write_variant`` edits the named muscles of an .osim file and writes a new
one; ``passive_fiber_force`` reads the passive force of a muscle at a pose.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ModelError
from ..stages.osimutil import opensim as _opensim

osim = _opensim()  # quiet logger, no opensim.log in the working directory

log = logging.getLogger(__name__)

PASSIVE_STIFFNESS = "passive_stiffness_multiplier"
"""Generic stiffness property: ``k > 1`` makes the passive fiber force-length
curve stiffer by dividing its strain at one normalized force by ``k``."""

_STRAIN_PROPERTY = {
    # concrete class -> how its passive strain at one normalized force is stored
    "DeGrooteFregly2016Muscle": ("passive_fiber_strain_at_one_norm_force",),
    "Millard2012EquilibriumMuscle": ("FiberForceLengthCurve", "strain_at_one_norm_force"),
    "Millard2012AccelerationMuscle": ("FiberForceLengthCurve", "strain_at_one_norm_force"),
    "Thelen2003Muscle": ("FmaxMuscleStrain",),
}


def _load(model_path: str | Path) -> osim.Model:
    path = Path(model_path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    return osim.Model(str(path))


def _muscle(model: osim.Model, name: str, model_path) -> osim.Muscle:
    muscles = model.getMuscles()
    names = [muscles.get(i).getName() for i in range(muscles.getSize())]
    if name not in names:
        raise ModelError(f"{model_path}: no muscle {name!r}; muscles are {names}")
    return muscles.get(name)


def _property_names(obj: osim.Object) -> list[str]:
    return sorted(obj.getPropertyByIndex(i).getName() for i in range(obj.getNumProperties()))


def _find_property(obj: osim.Object, path: tuple[str, ...]) -> osim.AbstractProperty:
    """Property at ``path`` (nested object properties first, the value last)."""
    for name in path[:-1]:
        obj = obj.updPropertyByName(name).updValueAsObject()
    return obj.updPropertyByName(path[-1])


def _set_value(prop: osim.AbstractProperty, value, label: str) -> None:
    """Set a scalar property from a Python value, converting by its type."""
    kind = prop.getTypeName()
    try:
        if kind == "double":
            osim.PropertyHelper.setValueDouble(float(value), prop)
        elif kind == "bool":
            osim.PropertyHelper.setValueBool(_as_bool(value), prop)
        elif kind == "int":
            osim.PropertyHelper.setValueInt(int(value), prop)
        elif kind == "string":
            osim.PropertyHelper.setValueString(str(value), prop)
        else:
            raise ModelError(f"{label}: property of type {kind!r} cannot be set by "
                             "simpipe (supported: double, bool, int, string)")
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{label}: value {value!r} does not fit a {kind} property") from exc


def _as_bool(value) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(value)
    return bool(value)


def _scale_passive_stiffness(muscle: osim.Muscle, k: float, label: str) -> None:
    """Divide the muscle's passive strain at one normalized force by ``k``."""
    if not k > 0:
        raise ModelError(f"{label}: {PASSIVE_STIFFNESS} must be > 0, got {k}")
    cls = muscle.getConcreteClassName()
    if cls not in _STRAIN_PROPERTY:
        raise ModelError(f"{label}: {PASSIVE_STIFFNESS} is not defined for {cls}; "
                         f"supported: {sorted(_STRAIN_PROPERTY)}")
    prop = _find_property(muscle, _STRAIN_PROPERTY[cls])
    strain = osim.PropertyHelper.getValueDouble(prop)
    osim.PropertyHelper.setValueDouble(strain / k, prop)


def set_muscle_property(muscle: osim.Muscle, prop: str, value, label: str = "") -> None:
    """Change one property of a muscle in place.

    Parameters
    ----------
    muscle : opensim.Muscle
    prop : str
        ``passive_stiffness_multiplier`` (see :data:`PASSIVE_STIFFNESS`) or the
        name of a scalar property of the muscle's class, e.g.
        ``passive_fiber_strain_at_one_norm_force`` or
        ``ignore_passive_fiber_force``.
    value : float, bool, int or str
    label : str
        Prefix for error messages (e.g. the model file).

    Raises
    ------
    ModelError
        The property does not exist on this muscle or the value does not fit.
    """
    label = f"{label}: muscle {muscle.getName()!r}" if label else f"muscle {muscle.getName()!r}"
    if prop == PASSIVE_STIFFNESS:
        _scale_passive_stiffness(muscle, float(value), label)
        return
    if not muscle.hasProperty(prop):
        raise ModelError(f"{label} ({muscle.getConcreteClassName()}) has no property "
                         f"{prop!r}; choose from {[PASSIVE_STIFFNESS] + _property_names(muscle)}")
    _set_value(muscle.updPropertyByName(prop), value, f"{label}, property {prop!r}")


def write_variant(model_path: str | Path, out_path: str | Path, muscles: list[str],
                  property: str, value) -> Path:  # noqa: A002 (name fixed by the API)
    """Write a copy of a model with one property changed on some muscles.

    Parameters
    ----------
    model_path : str or Path
        The .osim model to copy.
    out_path : str or Path
        Where to write the variant (its folder is created).
    muscles : list of str
        Muscle names (exact, as in the model).
    property : str
        ``passive_fiber_strain_at_one_norm_force`` (DeGrooteFregly2016Muscle;
        lower is stiffer), ``passive_stiffness_multiplier`` (any supported
        muscle class; larger is stiffer), ``ignore_passive_fiber_force``, or
        any other scalar property of the muscles by name.
    value : float, bool, int or str

    Returns
    -------
    Path
        ``out_path``, resolved.

    Raises
    ------
    ModelError
        An unknown muscle or property (the message lists the valid ones), or
        a value that does not fit the property.

    Notes
    -----
    ``passive_stiffness_multiplier`` k maps to the strain at which the passive
    fiber force reaches one normalized force: DeGrooteFregly2016Muscle
    ``passive_fiber_strain_at_one_norm_force`` / k (De Groote et al. 2016),
    Millard2012EquilibriumMuscle ``FiberForceLengthCurve/strain_at_one_norm_force``
    / k (Millard et al. 2013), Thelen2003Muscle ``FmaxMuscleStrain`` / k
    (Thelen 2003).
    """
    if not muscles:
        raise ModelError(f"{model_path}: no muscles given for the variant")
    model = _load(model_path)
    for name in muscles:
        set_muscle_property(_muscle(model, name, model_path), property, value, str(model_path))
    model.finalizeFromProperties()
    out = Path(out_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    model.printToXML(str(out))
    log.info("variant %s: %s = %r on %s", out, property, value, muscles)
    return out


def passive_fiber_force(model_path: str | Path, muscle: str,
                        coordinate_values: dict[str, float],
                        activation: float = 0.01) -> float:
    """Passive fiber force (N) of a muscle with the model held at a pose.

    Parameters
    ----------
    model_path : str or Path
    muscle : str
    coordinate_values : dict
        Coordinate name -> value (rad or m); the others keep their defaults.
    activation : float
        Activation given to every muscle (the minimum, not zero: the
        De Groote-Fregly equilibrium is undefined at zero activation).

    Returns
    -------
    float
        The passive fiber force along the fiber, after the muscles are
        equilibrated (fiber and tendon forces balanced) at zero speed.

    Raises
    ------
    ModelError
        Unknown muscle or coordinate.
    """
    model = _load(model_path)
    target = _muscle(model, muscle, model_path)
    state = model.initSystem()
    coords = model.getCoordinateSet()
    for name, value in coordinate_values.items():
        if not coords.contains(name):
            have = [coords.get(i).getName() for i in range(coords.getSize())]
            raise ModelError(f"{model_path}: no coordinate {name!r}; coordinates are {have}")
        coords.get(name).setValue(state, float(value), False)
    model.realizePosition(state)
    muscles = model.getMuscles()
    for i in range(muscles.getSize()):
        muscles.get(i).setActivation(state, activation)
    model.equilibrateMuscles(state)
    model.realizeDynamics(state)
    return float(target.getPassiveFiberForce(state))
