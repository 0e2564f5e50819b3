"""Provenance: what produced a result, recorded next to it (every ``results.json`` and sweep cell).

:func:`provenance` returns a JSON-serialisable dict: the olc version; the git commit of the olc checkout and whether
it had uncommitted changes (when olc runs from a git checkout; ``None`` from an installed wheel); the UTC time (ISO
8601); the versions of Python, numpy, scipy, numba and, when it is installed, torch (read from the package metadata:
nothing is imported for this); the platform, host name and CPU count; and the config and seed of the run.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import platform
import socket
import subprocess
import sys

import numpy as np

from .errors import InvalidArgumentError

__all__ = ["provenance", "git_info"]

_PACKAGES = ("numpy", "scipy", "numba", "torch")


def _version(dist: str):
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def git_info() -> dict | None:
    """``{"commit": sha, "dirty": bool}`` of the git checkout olc is imported from, else None."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def git(*args):
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=10, check=True,
                              stdin=subprocess.DEVNULL).stdout.strip()

    try:
        if os.path.realpath(git("rev-parse", "--show-toplevel")) != os.path.realpath(root):
            return None  # olc sits inside some other repository (e.g. a virtualenv in a project)
        return {"commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=1)
def _static() -> dict:
    from . import __version__

    return {
        "olc": __version__,
        "git": git_info(),
        "python": platform.python_version(),
        **{name: _version(name) for name in _PACKAGES},
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "executable": sys.executable,
    }


def provenance(config=None, seed=None) -> dict:
    """The provenance record of a run of ``config`` with ``seed``.

    The git lookup runs once per process (cached); the timestamp is taken at each call.

    Parameters
    ----------
    config : dataclass or dict, optional
    seed : int, optional
        Default: ``config.seed`` when the config has one.

    Examples
    --------
    >>> from olc.provenance import provenance
    >>> record = provenance({"T": 10}, seed=3)
    >>> record["seed"], record["config"]
    (3, {'T': 10})
    """
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    elif config is not None and not isinstance(config, dict):
        raise InvalidArgumentError(f"config: expected a dataclass instance, a dict or None, got {config!r:.60} "
                                   f"({type(config).__name__})")
    if seed is None and isinstance(config, dict):
        seed = config.get("seed")
    if seed is not None:
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise InvalidArgumentError(f"seed: expected an integer seed or None, got {seed!r:.60} "
                                       f"({type(seed).__name__})")
        seed = int(seed)
    now = datetime.datetime.now(datetime.timezone.utc)
    return {**_static(), "timestamp": now.isoformat(timespec="seconds"), "config": config, "seed": seed}
