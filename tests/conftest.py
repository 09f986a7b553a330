"""Shared fixtures: quiet OpenSim, paths of the committed example data."""

from pathlib import Path

import pytest

from simpipe.stages.osimutil import opensim

REPO = Path(__file__).resolve().parents[1]
import os

EXAMPLE = Path(os.environ.get("SIMPIPE_EXAMPLE_DIR", REPO / "data" / "example" / "subject01"))
MODEL = REPO / "models" / "simpipe_run2d.osim"

opensim()  # warn level, no opensim.log in the working directory


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
