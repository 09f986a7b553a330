"""The ``baselines`` block of a study file (defined with the rest of the config)."""

from ..config import BaselinesSpec

__all__ = ["BaselinesSpec"]
