"""Exceptions that carry a one-line, user-facing message."""

from __future__ import annotations

from pathlib import Path


class SimpipeError(Exception):
    """Base class of every error simpipe reports to its users."""


class ConfigError(SimpipeError):
    """The study configuration is invalid (names the key, value and expectation)."""


class InputError(SimpipeError):
    """An input file is malformed or inconsistent.

    Parameters
    ----------
    path : str or Path
        The offending file.
    problem : str
        What is wrong with it and, where possible, what to do.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelError(SimpipeError):
    """A model lacks something the study needs (a muscle, a coordinate, a marker)."""


class StageError(SimpipeError):
    """An OpenSim stage failed to produce its result."""
