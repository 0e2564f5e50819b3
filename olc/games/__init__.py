"""Environments (games) for :func:`olc.play`.

Online convex optimization (:mod:`olc.games.oco`): ``linear``, ``quadratic``, ``logistic``,
``least_squares``, ``convex``, ``sequence``, ``bandit``, ``with_memory``, ``adaptive``,
``adversarial_linear``, ``random_linear``, ``random_quadratic``. Control of linear systems:
``control(system, w, cost)`` (:mod:`olc.games.control`). Training as a game:
``optimization(oracle, T, x0)`` (:mod:`olc.games.optimization`; decision = the iterate). Both
load on first use.
"""

from __future__ import annotations

import importlib

from .oco import *  # noqa: F401,F403
from .oco import __all__ as _oco_all

_LAZY = {"control": "control", "ControlGame": "control", "optimization": "optimization",
         "OptimizationGame": "optimization"}

__all__ = [*_oco_all, *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        # importing the submodule bound its *module* object to the package attribute of the same
        # name (olc.games.control); rebind the exported names so the function wins
        for exported, modname in _LAZY.items():
            if modname == _LAZY[name]:
                globals()[exported] = getattr(module, exported)
        return globals()[name]
    raise AttributeError(f"module 'olc.games' has no attribute {name!r}")
