"""Muscle groups: names of functional groups mapped to the model's muscles.

Groups are glob patterns (``fnmatch``) over muscle names, so one mapping
serves the built-in model and user models with other naming schemes.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from ..config import BUILTIN_GROUPS
from ..errors import ConfigError, ModelError
from ..stages.osimutil import opensim as _opensim

osim = _opensim()  # quiet logger, no opensim.log in the working directory

#: Groups of the built-in model ``simpipe_run2d`` (one table, kept in the config module).
DEFAULT_GROUPS: dict[str, list[str]] = BUILTIN_GROUPS


def model_muscle_names(model_path: str | Path) -> list[str]:
    """Names of the muscles of a model, in model order.

    Parameters
    ----------
    model_path : str or Path

    Returns
    -------
    list of str

    Raises
    ------
    ModelError
        The file does not exist.
    """
    path = Path(model_path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    model = osim.Model(str(path))  # keep a reference: the set below belongs to it
    muscles = model.getMuscles()
    return [muscles.get(i).getName() for i in range(muscles.getSize())]


def resolve_groups(muscle_names: list[str],
                   groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """Expand each group's glob patterns into the muscles they match.

    Parameters
    ----------
    muscle_names : list of str
        The model's muscles (see :func:`model_muscle_names`).
    groups : dict
        Group name -> list of ``fnmatch`` patterns (case-sensitive).

    Returns
    -------
    dict
        Group name -> matching muscle names, in model order, without
        duplicates.

    Raises
    ------
    ConfigError
        A pattern matches no muscle (the message names the group, the
        pattern and the model's muscles), or a group has no patterns.
    """
    out: dict[str, list[str]] = {}
    for group, patterns in groups.items():
        if isinstance(patterns, str):
            patterns = [patterns]
        if not patterns:
            raise ConfigError(f"muscle group {group!r} has no patterns")
        for pattern in patterns:
            if not any(fnmatchcase(m, pattern) for m in muscle_names):
                raise ConfigError(f"muscle group {group!r}: pattern {pattern!r} matches "
                                  f"no muscle; the model's muscles are {list(muscle_names)}")
        out[group] = [m for m in muscle_names
                      if any(fnmatchcase(m, p) for p in patterns)]
    return out
