"""The HDF5 results store: one file per study, written by the client only.

Layout::

    /                                   attrs: provenance (config, hashes, versions)
    /subjects/<subject>/scale           factors, segments, static fit
    /subjects/<subject>/trials/<trial>/ik          time, q, marker_error, ...
    /subjects/<subject>/trials/<trial>/id          tau, u, udot, grf
    /subjects/<subject>/trials/<trial>/joint_work  work per joint, shares
    /subjects/<subject>/trials/<trial>/variants/<variant>/passive
    /summary                            the rows of summary.csv
    /failures                           failed tasks and their messages

Every group carries the provenance attributes and the task's cache key. The
file is written to a temporary name and renamed over the old one, so a killed
run never leaves a corrupt results file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np


def _put(group: h5py.Group, name: str, value) -> None:
    if isinstance(value, dict):
        sub = group.require_group(name)
        for k, v in value.items():
            _put(sub, str(k), v)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        group.create_dataset(name, data=np.array(value, dtype=h5py.string_dtype()))
    elif isinstance(value, str):
        group.attrs[name] = value
    elif value is None:
        group.attrs[name] = "None"
    elif isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        group.attrs[name] = json.dumps(value)
    else:
        arr = np.asarray(value)
        if arr.ndim == 0:
            group.attrs[name] = arr
        else:
            group.create_dataset(name, data=arr, compression="gzip" if arr.size > 1000 else None)


def write_results(path: str | Path, provenance: dict, entries: list[tuple[str, dict, dict]],
                  summary_rows: list[dict], failures: list[dict]) -> Path:
    """Write the whole results file atomically.

    Parameters
    ----------
    path : str or Path
        ``<out>/results.h5``.
    provenance : dict
        Root attributes: config text and hash, versions, input hashes.
    entries : list of (group path, data dict, attrs dict)
        Task outputs to store.
    summary_rows : list of dict
    failures : list of dict

    Returns
    -------
    Path
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    stamp = {k: v for k, v in provenance.items() if k != "config_text" and k != "input_hashes"}
    with h5py.File(tmp, "w") as f:
        for k, v in provenance.items():
            f.attrs[k] = v if not isinstance(v, dict) else json.dumps(v, sort_keys=True)
        for group_path, data, attrs in entries:
            grp = f.require_group(group_path)
            for k, v in data.items():
                if not k.startswith("_"):
                    _put(grp, k, v)
            for k, v in {**stamp, **attrs}.items():
                grp.attrs[k] = v if not isinstance(v, dict) else json.dumps(v, sort_keys=True)
        _write_rows(f, "summary", summary_rows)
        _write_rows(f, "failures", failures)
        f.flush()
    os.replace(tmp, path)
    return path


def _write_rows(f: h5py.File, name: str, rows: list[dict]) -> None:
    grp = f.create_group(name)
    if not rows:
        return
    for col in rows[0]:
        vals = [r[col] for r in rows]
        if all(isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) for v in vals):
            grp.create_dataset(col, data=np.array(vals, dtype=float))
        else:
            grp.create_dataset(col, data=np.array([str(v) for v in vals], dtype=h5py.string_dtype()))


def read_summary(path: str | Path) -> list[dict]:
    """The summary rows stored in a results file."""
    with h5py.File(path, "r") as f:
        grp = f["summary"]
        cols = list(grp)
        if not cols:
            return []
        data = {c: grp[c][()] for c in cols}
        n = len(next(iter(data.values())))
        return [{c: (data[c][i].decode() if isinstance(data[c][i], bytes) else data[c][i].item())
                 for c in cols} for i in range(n)]
