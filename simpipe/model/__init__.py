"""The built-in model, its variants and muscle groups.

- :func:`build_model` writes ``simpipe_run2d.osim`` (sagittal-plane running
  model; parameters and sources in :mod:`simpipe.model.parameters`).
- :func:`write_variant` / :func:`passive_fiber_force`: property sweeps.
- :func:`model_muscle_names` / :func:`resolve_groups`: muscle groups.
"""

from .builder import build_model
from .groups import DEFAULT_GROUPS, model_muscle_names, resolve_groups
from .parameters import parameters_markdown
from .variants import passive_fiber_force, write_variant

__all__ = ["build_model", "write_variant", "passive_fiber_force", "model_muscle_names",
           "resolve_groups", "DEFAULT_GROUPS", "parameters_markdown"]
