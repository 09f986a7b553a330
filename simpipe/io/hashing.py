"""Low-level file helpers: content hashes, object hashes, safe reads and writes.

The orchestrator keys its cache on these hashes, so they must be stable across
processes, machines and Python versions: objects are hashed through a
canonical JSON form (sorted keys, no whitespace), never through ``hash()`` or
``pickle``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from simpipe.errors import InputError

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes.

    Parameters
    ----------
    path : str or Path
        The file to hash (read in 1 MiB chunks, so large files are fine).

    Returns
    -------
    str
        64 lowercase hexadecimal characters.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_json(obj: Any) -> str:
    """The canonical JSON text that :func:`hash_object` hashes.

    Parameters
    ----------
    obj : object
        Nested dicts (string keys), lists, tuples, strings, numbers, booleans,
        None, paths, numpy scalars and arrays, dataclasses, or objects with a
        pydantic-style ``model_dump()``.

    Returns
    -------
    str
        JSON with sorted keys and no whitespace.

    Raises
    ------
    TypeError
        For an unsupported type or a non-string dict key.
    """
    return json.dumps(_normalise(obj), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=True)


def hash_object(obj: Any) -> str:
    """SHA-256 of an object's canonical JSON form.

    Parameters
    ----------
    obj : object
        See :func:`canonical_json` for the supported types.

    Returns
    -------
    str
        64 lowercase hexadecimal characters.

    Notes
    -----
    Dict order does not matter; list order does. ``1`` and ``1.0`` hash
    differently, as do ``True`` and ``1``. A path is hashed as its POSIX
    string, not its content: combine it with :func:`file_sha256` when the
    content is what matters.
    """
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def short_hash(s: str, n: int = 12) -> str:
    """The first ``n`` characters of a hexadecimal digest (as git shortens ids).

    Parameters
    ----------
    s : str
        A hexadecimal digest, e.g. from :func:`hash_object`.
    n : int
        How many characters to keep.

    Returns
    -------
    str
        The prefix; it identifies the full digest in folder and log names.

    Raises
    ------
    ValueError
        If ``s`` is not hexadecimal, or is shorter than ``n``.
    """
    if n < 1 or len(s) < n:
        raise ValueError(f"cannot take {n} characters of a {len(s)}-character hash")
    try:
        int(s, 16)
    except ValueError:
        raise ValueError(f"{s!r} is not a hexadecimal digest; hash it first "
                         "with hash_object()") from None
    return s[:n].lower()


def write_bytes_atomic(path: str | Path, payload: bytes) -> Path:
    """Write a file so that readers never see it half-written.

    Parameters
    ----------
    path : str or Path
        Destination; its parent folders are created.
    payload : bytes

    Returns
    -------
    Path
        The absolute destination path.

    Notes
    -----
    Writes a temporary file in the same folder, flushes it to disk, then
    renames it over the destination (``os.replace`` is atomic on POSIX), so a
    killed process leaves either the old file or the new one. The file gets
    the usual permissions (0666 minus the umask), not mkstemp's 0600.
    """
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a UTF-8 text file (``\\n`` line ends) atomically; see :func:`write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def read_json_record(path: str | Path) -> dict | None:
    """A cache record written as JSON; None if it is missing or unreadable (then solve again)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_text_lines(path: str | Path) -> list[str]:
    """Read a text file as lines, with an :class:`InputError` for any problem.

    Parameters
    ----------
    path : str or Path
        The file. UTF-8 is tried first, then Latin-1 (older lab exports).

    Returns
    -------
    list of str
        Lines without their line ends (``\\n``, ``\\r\\n`` or ``\\r``).

    Raises
    ------
    InputError
        If the file does not exist, is a folder, or cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found; check the path in the study config")
    if not path.is_file():
        raise InputError(path, "is not a regular file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror}); check its permissions") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.splitlines()


def _normalise(obj: Any) -> Any:
    """Turn ``obj`` into plain JSON types, recursively."""
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if isinstance(obj, np.generic):
        return _normalise(obj.item())
    if isinstance(obj, np.ndarray):
        return _normalise(obj.tolist())
    if isinstance(obj, dict):
        return {_key(k): _normalise(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_normalise(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(_normalise(v) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _normalise(dataclasses.asdict(obj))
    if hasattr(obj, "model_dump"):
        return _normalise(obj.model_dump(mode="json"))
    raise TypeError(f"cannot hash an object of type {type(obj).__name__}")


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"dict keys must be strings to hash, got {key!r}")
    return key
