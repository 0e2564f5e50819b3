"""olc — online learning & control.

Optimization and learning as online games: a learner commits a decision, the world reveals
feedback, and regret is measured against the best member of a comparator class in
hindsight. Optimization itself is modelled as a time-varying linear dynamical system.

The light core (``play``, ``Trace``, ``sets``, ``losses``, ``games``, errors) is imported eagerly; the subpackages
``systems``, ``learners``, ``comparators``, ``oracles``, ``tasks``, ``meta``, ``kernels``, ``experiments``, ``backend``
and ``plot`` load on first attribute access, so ``import olc`` stays fast (numba, scipy and torch load only when used).
"""

from __future__ import annotations

import importlib

from . import losses, sets
from .errors import (
    BackendUnavailableError,
    DivergenceError,
    FeedbackError,
    InvalidArgumentError,
    NonFiniteError,
    OlcError,
    ShapeError,
)
from .game import Environment, Feedback, Learner, Trace, play

__version__ = "0.1.0"

_LAZY = {"systems", "learners", "comparators", "oracles", "tasks", "kernels", "experiments", "backend",
         "games", "meta", "torch", "bench", "sweeps", "provenance", "plot", "testing", "optim"}

__all__ = [
    "play", "Trace", "Feedback", "Learner", "Environment", "sets", "losses",
    "OlcError", "ShapeError", "InvalidArgumentError", "NonFiniteError", "DivergenceError",
    "FeedbackError", "BackendUnavailableError", "set_backend", "sweep", "load_sweep", *sorted(_LAZY),
]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in ("set_backend", "get_backend"):
        return getattr(importlib.import_module(".backend", __name__), name)
    if name in ("sweep", "load_sweep"):  # olc.sweeps: campaigns over grids and seeds
        return getattr(importlib.import_module(".sweeps", __name__), name)
    raise AttributeError(f"module 'olc' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY)
