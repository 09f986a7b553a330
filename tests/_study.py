"""Helpers of the scale-out and fault tests: quickstart copies and a reference run.

The reference run (the quickstart on a LocalCluster, undisturbed) is computed
once per test session and shared by ``test_slurm.py`` and ``test_faults.py``.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "configs" / "quickstart.yaml"
COMMITTED_EXAMPLE = REPO / "data" / "example" / "subject01"
#: The example subject (another copy can be named by SIMPIPE_EXAMPLE_DIR, as in conftest.py).
EXAMPLE = Path(os.environ.get("SIMPIPE_EXAMPLE_DIR", COMMITTED_EXAMPLE))
MODEL = REPO / "models" / "simpipe_run2d.osim"

_REFERENCE: dict = {}


def need_example():
    """Skip unless the example subject and the built-in model exist."""
    missing = [p for p in (EXAMPLE / "run_01.trc", EXAMPLE / "run_02_grf.mot", MODEL) if not p.is_file()]
    if missing:
        pytest.skip(f"example data not built yet: {', '.join(str(p) for p in missing)}")


def quickstart_config(replace: dict | None = None) -> dict:
    """The quickstart config as a dict, its input paths absolute (into :data:`EXAMPLE`).

    Parameters
    ----------
    replace : dict, optional
        Input path (as in the quickstart, absolute) -> path to use instead.
    """
    raw = yaml.safe_load(QUICKSTART.read_text())
    base = QUICKSTART.parent
    replace = {str(k): str(v) for k, v in (replace or {}).items()}

    def absolute(p: str) -> str:
        full = (base / p).resolve()
        if full.parent == COMMITTED_EXAMPLE:
            full = EXAMPLE / full.name
        return replace.get(str(full), str(full))

    for subj in raw["subjects"]:
        subj["static"] = absolute(subj["static"])
        for trial in subj["trials"]:
            trial["markers"], trial["grf"] = absolute(trial["markers"]), absolute(trial["grf"])
    return raw


def quickstart_copy(folder: Path, cluster: dict | None = None, replace: dict | None = None) -> Path:
    """Write the quickstart config into ``folder`` with absolute paths.

    Parameters
    ----------
    folder : Path
        Gets ``study.yaml``; the study's output is ``folder / "out"``.
    cluster : dict, optional
        Replaces the ``cluster`` block.
    replace : dict, optional
        See :func:`quickstart_config`.

    Returns
    -------
    Path
        The new study YAML.
    """
    raw = quickstart_config(replace)
    raw["output"] = str(folder / "out")
    if cluster is not None:
        raw["cluster"] = cluster
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def read_summary(path: Path) -> list[dict]:
    """The rows of a summary.csv, numbers as floats (NaN kept)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        parsed = {}
        for k, v in row.items():
            try:
                parsed[k] = float(v)
            except ValueError:
                parsed[k] = v
        out.append(parsed)
    return out


def same_summary(a: list[dict], b: list[dict]) -> bool:
    """Equal rows, NaN equal to NaN, numbers to 1e-9 relative."""
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        if ra.keys() != rb.keys():
            return False
        for k in ra:
            x, y = ra[k], rb[k]
            if isinstance(x, float) and isinstance(y, float):
                if not (math.isnan(x) and math.isnan(y)) and not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True


def reference_run(tmp_path_factory) -> tuple[Path, list[dict], float]:
    """The undisturbed quickstart on a LocalCluster of 2 workers (once per session).

    Returns
    -------
    out : Path
        Its output folder.
    rows : list of dict
        Its summary rows.
    wall_s : float
        Its wall time.
    """
    if "run" not in _REFERENCE:
        need_example()
        from simpipe.run.study import run_study

        cfg = quickstart_copy(tmp_path_factory.mktemp("reference"),
                              {"kind": "local", "n_workers": 2, "retries": 1})
        res = run_study(cfg)
        assert not res.outcome.failed, res.outcome.failed
        _REFERENCE["run"] = (res.summary_path.parent, read_summary(res.summary_path), res.wall_s)
    return _REFERENCE["run"]
