"""Durable file writes: nothing olc computed is lost to a crash, a kill or a full disk.

``atomic_write_text`` writes to a temporary file in the same directory, flushes and fsyncs it and
renames it over the target with ``os.replace`` (atomic on POSIX and Windows): a reader sees the
old file or the new one, never a truncated one, and a failed write leaves the old file intact.
"""

from __future__ import annotations

import fnmatch
import json
import os
import tempfile

__all__ = ["atomic_write_text", "atomic_write_bytes", "atomic_write_json", "json_default", "remove_partial_writes"]


def json_default(obj):
    """``json.dumps(default=...)`` for numpy arrays and scalars.

    Parameters
    ----------
    obj : object
    """
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_text(path, text: str) -> str:
    """Write ``text`` to ``path`` atomically (temp file + fsync + ``os.replace``); return ``path``.

    On any error (disk full, permissions, an interrupt) the temporary file is removed and the
    previous content of ``path``, if any, is untouched.

    Parameters
    ----------
    path : str or os.PathLike
    text : str
    """
    return _atomic_write(path, text, "w")


def atomic_write_bytes(path, data: bytes) -> str:
    """:func:`atomic_write_text` for bytes (e.g. a pickled checkpoint, a Parquet table).

    Parameters
    ----------
    path : str or os.PathLike
    data : bytes
    """
    return _atomic_write(path, data, "wb")


def _atomic_write(path, data, mode: str) -> str:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_json(path, obj, *, indent: int | None = 2) -> str:
    """``atomic_write_text(path, json.dumps(obj))`` with numpy arrays/scalars as lists/numbers.

    Parameters
    ----------
    path : str or os.PathLike
    obj : object
    indent : int, optional
    """
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=json_default, allow_nan=True))


def remove_partial_writes(directory, names=None) -> list[str]:
    """Delete the temporary files that interrupted atomic writes left; return the names removed.

    Call it only while no other process writes there (hold its lock).

    Parameters
    ----------
    directory : str or os.PathLike
    names : iterable of str, optional
        Of these files only (default any).
    """
    directory = os.fspath(directory)
    patterns = [f".{n}.*.tmp" for n in names] if names is not None else [".*.tmp"]
    removed = []
    for entry in os.listdir(directory):
        if any(fnmatch.fnmatchcase(entry, p) for p in patterns):
            try:
                os.unlink(os.path.join(directory, entry))
                removed.append(entry)
            except OSError:
                pass
    return removed
