"""Environments (games) for :func:`olc.play`.

Online convex optimization (:mod:`olc.games.oco`): ``linear``, ``quadratic``, ``logistic``,
``least_squares``, ``convex``, ``sequence``, ``bandit``, ``with_memory``, ``adaptive``,
``adversarial_linear``, ``random_linear``, ``random_quadratic``. Control of linear systems:
``control(system, w, cost)`` (:mod:`olc.games.control`). Training as a game:
``optimization(oracle, T, x0)`` (:mod:`olc.games.optimization`; decision = the iterate).
Control of a nonlinear plant with controllers designed on its linearisation:
``nonlinear_control(plant, w, cost)`` (:mod:`olc.games.nonlinear`). Meta-learning
(:mod:`olc.games.meta`): ``meta_training`` (decision = the meta-parameters), ``MetaLearningGame``,
``DataEfficiencyGame``.
"""

from __future__ import annotations

from .control import ControlGame, control
from .meta import DataArrival, DataEfficiencyGame, MetaLearningGame, meta_training
from .nonlinear import NonlinearControlGame, nonlinear_control
from .oco import *  # noqa: F401,F403
from .oco import __all__ as _oco_all
from .optimization import OptimizationGame, optimization

# the functions control() and optimization() share their modules' names; importing them here,
# after their submodules, keeps the package attributes bound to the functions
__all__ = [*_oco_all, "control", "ControlGame", "optimization", "OptimizationGame", "nonlinear_control",
           "NonlinearControlGame", "meta_training", "MetaLearningGame", "DataEfficiencyGame", "DataArrival"]
