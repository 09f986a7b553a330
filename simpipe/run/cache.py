"""A content-addressed cache of finished task outputs.

Each task's output is a pickle under ``<out>/cache/<stage>/<key>.pkl``, where
the key hashes the task's stage, parameters, input file hashes, the keys of the
tasks it depends on, and the simpipe version. Files are written to a temporary
name and renamed, so a killed process never leaves a half-written entry, and a
rerun finds every finished task and recomputes only what is missing or changed.
"""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

from ..io.hashing import write_bytes_atomic


class TaskCache:
    """Finished and failed task records of one study output folder.

    Parameters
    ----------
    root : Path
        ``<out>/cache``.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{key}.pkl"

    def failure_path(self, stage: str, key: str) -> Path:
        return self.root / "failed" / stage / f"{key}.json"

    def has(self, stage: str, key: str) -> bool:
        return self.path(stage, key).is_file()

    def load(self, stage: str, key: str):
        with open(self.path(stage, key), "rb") as fh:
            return pickle.load(fh)

    def save(self, stage: str, key: str, value) -> None:
        write_bytes_atomic(self.path(stage, key), pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        self.failure_path(stage, key).unlink(missing_ok=True)

    def record_failure(self, stage: str, key: str, label: str, error: str) -> None:
        record = {"stage": stage, "key": key, "task": label, "error": error, "time": time.time()}
        write_bytes_atomic(self.failure_path(stage, key), json.dumps(record, indent=1).encode())

    def failures(self) -> list[dict]:
        folder = self.root / "failed"
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*/*.json"))] if folder.is_dir() else []
