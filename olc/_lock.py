"""One olc process per output directory: ``olc run --out DIR`` and ``olc sweep --out DIR`` hold ``DIR/.olc.lock`` while
they write there, so a second run into the same directory is refused instead of mixing its files with the first one's.

The lock is an advisory ``flock`` on the lock file (POSIX): the kernel drops it when the holding process ends, however
it ends (SIGKILL, a crash, a reboot), so a lock left behind by a dead process is stale by construction and the next
run takes it. The file records who holds it (pid, host, start time, command) for the error message. Where ``fcntl`` is
missing (Windows) the lock is the file's existence (``O_EXCL``) and a lock whose pid no longer runs on this host is
taken over as stale; one from another host is reported with the path to delete.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import contextmanager

from .errors import BusyError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["dir_lock", "LOCK_NAME"]

LOCK_NAME = ".olc.lock"


def _holder(what: str) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(sys.argv)}


def _describe(info: dict, path: str) -> str:
    if not info:
        return f"another olc process holds {path}"
    return (f"another olc {info.get('what', 'process')} (pid {info.get('pid')} on {info.get('host')}, since "
            f"{info.get('since')}: {info.get('command', '')!s}) is writing there")


def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.loads(fh.read() or "{}")
    except (OSError, ValueError):
        return {}


def _busy(directory: str, info: dict, path: str) -> BusyError:
    return BusyError(f"{directory}: busy: {_describe(info, path)}; wait for it to finish or choose another "
                     "output directory")


@contextmanager
def dir_lock(directory, what: str = "run"):
    """Hold ``directory/.olc.lock`` for the ``with`` block.

    Parameters
    ----------
    directory : str or os.PathLike
        Must exist.
    what : str
        "run", "sweep": goes in the record.

    Raises
    ------
    BusyError
        Naming the holder, when another live process has the lock.
    """
    directory = os.fspath(directory)
    path = os.path.join(directory, LOCK_NAME)
    if fcntl is None:
        with _exclusive_file_lock(directory, path, what):
            yield path
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(directory, _read(path), path) from None
        try:  # the holder before us may have unlinked the file we opened: lock the current one
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_holder(what)).encode())
        yield path
    finally:
        _unlink(path)  # before closing: a waiter that opened this file sees it is gone and retries
        os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _alive(pid: int) -> bool:
    if os.name != "posix":  # pragma: no cover - no safe liveness probe (os.kill(pid, 0) terminates on Windows)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _exclusive_file_lock(directory: str, path: str, what: str):
    """The fallback without ``fcntl``: the lock is the file; stale when its pid is gone on this host."""
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            info = _read(path)
            if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int) \
                    and not _alive(info["pid"]):
                _unlink(path)  # stale: its process is gone
                continue
            err = _busy(directory, info, path)
            if info.get("host") != socket.gethostname():
                err = BusyError(f"{err} (the lock is from another host; if that process is gone, delete {path})")
            raise err from None
    else:  # pragma: no cover - lost a race twice
        raise _busy(directory, _read(path), path)
    try:
        os.write(fd, json.dumps(_holder(what)).encode())
        os.close(fd)
        yield path
    finally:
        _unlink(path)
