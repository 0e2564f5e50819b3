"""Every learner olc exports passes the conformance suite :mod:`olc.testing` (one test per learner
and check). A learner exported by :mod:`olc.learners` without a case in ``CASES`` fails
``test_every_learner_has_a_case``: add one (a factory, the game it plays, values it must refuse).
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest
from _problems import spd_quadratic

import olc
import olc.learners as L
from olc.sets import Ball
from olc.testing import CHECKS, ConformanceSkip, learner_checks

T = 8
P = functools.partial


def _quadratic(n=3, seed=0):
    return olc.oracles.QuadraticOracle(*spd_quadratic(n, seed, ridge=0.5))


def _optimization():
    return olc.games.optimization(_quadratic(), T, np.ones(3))


def _oco():
    return olc.games.random_quadratic(T, 3, seed=0)


def _memory():
    return olc.games.with_memory(olc.games.random_quadratic(T, 3, seed=0), 2)


_SYSTEM = olc.systems.double_integrator(0.5)
_COST = (np.eye(2), np.eye(1))


def _control():
    W = 0.1 * np.random.default_rng(0).standard_normal((T, 2))
    return olc.games.control(_SYSTEM, W, _COST, x0=np.array([1.0, 0.0]))


def _meta_learning():
    return olc.games.MetaLearningGame(olc.tasks.random_quadratics(T, dim=2, seed=0), inner_lr=0.1)


_RULE = L.meta_gradients.MetaMomentumRule(0.1)
_TARGET = L.meta_gradients.bootstrap_target(_quadratic().A, _RULE, 0.2)
_K = olc.systems.lqr_gain(_SYSTEM.A(0), _SYSTEM.B(0), *_COST)[0]

#: learner name -> (factory accepting keyword overrides, game factory, extra bad values {name: value})
CASES = {
    # online convex optimization (olc/learners/oco.py)
    "OGD": (P(L.OGD, K=Ball(1.0)), _oco, {"K": "ball"}),
    "FTRL": (P(L.FTRL, K=Ball(1.0)), _oco, {"K": 1.0}),
    "Hedge": (L.Hedge, _oco, {}),
    "AdaGrad": (P(L.AdaGrad, K=Ball(1.0)), _oco, {"decay": 2.0}),
    "AOFTRL": (P(L.AOFTRL, K=Ball(1.0)), _oco, {"hint": "next", "scale": -1.0}),
    "OGDMemory": (P(L.OGDMemory, K=Ball(1.0), memory=2), _memory, {}),
    # bandit convex optimization (olc/learners/bandit.py)
    "FKM": (P(L.FKM, K=Ball(1.0), delta=0.1), _oco, {}),
    "BCOMemory": (P(L.BCOMemory, K=Ball(1.0), memory=2), _memory, {}),
    # baseline optimizers (olc/learners/optimizers.py) and the meta-learning outer steps (maml.py)
    "SGD": (P(L.SGD, lr=0.1), _optimization, {"weight_decay": -1.0}),
    "HeavyBall": (P(L.HeavyBall, lr=0.1, momentum=0.5), _optimization, {"momentum": 1.5}),
    "Nesterov": (P(L.Nesterov, lr=0.1, momentum=0.5), _optimization, {"momentum": -0.5}),
    "AdaGradOpt": (P(L.AdaGradOpt, lr=0.1), _optimization, {}),
    "Adam": (P(L.Adam, lr=0.1), _optimization, {"betas": (0.9, 1.5)}),
    "AdamW": (P(L.AdamW, lr=0.1), _optimization, {"weight_decay": -1.0}),
    "HypergradientDescent": (P(L.HypergradientDescent, lr0=0.1, beta=1e-3), _optimization, {"lr0": -1.0}),
    "DoG": (L.DoG, _optimization, {"reps_rel": -1.0}),
    "DAdaptAdam": (L.DAdaptAdam, _optimization, {"d0": -1.0}),
    "Mechanic": (P(L.Mechanic, base=L.SGD(0.1)), _optimization, {"base": "sgd", "num_betas": 0}),
    "ClippedGD": (P(L.ClippedGD, lr=0.1, clip=1.0), _optimization, {}),
    "NormalizedGD": (P(L.NormalizedGD, lr=0.1, beta=0.5), _optimization, {"beta": -1.0}),
    # controllers (olc/learners/control.py)
    "ZeroController": (L.ZeroController, _control, {}),
    "LinearFeedback": (P(L.LinearFeedback, K=_K), _control, {"K": "gain"}),
    "LQR": (P(L.LQR, system=_SYSTEM, cost=_COST), _control, {"cost": "quadratic", "finite_horizon": "yes"}),
    "GPC": (P(L.GPC, system=_SYSTEM, cost=_COST, H=2), _control, {"learner": "aoftrl", "norm": "nuclear"}),
    "BanditGPC": (P(L.BanditGPC, system=_SYSTEM, cost=_COST, H=2), _control, {"norm": "nuclear"}),
    # meta-optimization (olc/learners/metaopt.py)
    "MetaOpt": (P(L.MetaOpt, H=3, L=2), _optimization, {"L": 0, "M": "dense", "base_lr": -1.0}),
    "ConvexMetaOpt": (P(L.ConvexMetaOpt, H=3, L=2), _optimization, {"radius": -1.0}),
    "BanditMetaOpt": (P(L.BanditMetaOpt, H=3, L=2, delta=0.1), _optimization, {"radius": -1.0}),
    "NonconvexMetaOpt": (P(L.NonconvexMetaOpt, inner=L.MetaOpt(H=2, L=1), S=2, beta=0.1), _optimization,
                         {"beta": -1.0}),
    # meta-gradients (olc/learners/meta_gradients.py)
    "MetaGradient": (P(L.MetaGradient, rule=_RULE, meta_lr=0.01), _optimization, {"rule": "momentum"}),
    "OptimisticMetaGradient": (P(L.OptimisticMetaGradient, rule=_RULE, meta_lr=0.01), _optimization, {"hint": "future"}),
    "BMG": (P(L.BMG, rule=_RULE, meta_lr=0.01, target=_TARGET), _optimization, {"rule": "momentum"}),
    "ErrorCorrectedBMG": (P(L.ErrorCorrectedBMG, rule=_RULE, meta_lr=0.01, target=_TARGET), _optimization,
                          {"rule": "momentum"}),
    # online meta-learning (olc/learners/ftml.py)
    "FTML": (P(L.FTML, inner_lr=0.1), _meta_learning, {"meta_batch": 0}),
    "TrainOnEverything": (P(L.TrainOnEverything, lr=0.1, steps=2), _meta_learning, {"batch_size": 0}),
    "TrainFromScratch": (P(L.TrainFromScratch, update_lr=0.1, update_steps=1), _meta_learning, {}),
    "FTLFineTune": (P(L.FTLFineTune, lr=0.1, steps=2, update_lr=0.1, update_steps=1), _meta_learning, {}),
}

#: (learner, check) pairs known to fail, with the reason (none since the optimizer stack, olc.optim,
#: gave the optimizers the one init signature and documented arguments: issue 15 part B)
KNOWN: dict = {}


def exported_learners() -> list[str]:
    """The classes olc.learners exports that follow the learner protocol (init / decide / update)."""
    return sorted(n for n in L.__all__ if inspect.isclass(getattr(L, n))
                  and all(callable(getattr(getattr(L, n), a, None)) for a in ("init", "decide", "update")))


def test_learners_exports_learners_only():
    """``olc.learners`` is the namespace of learners: every name it exports follows the protocol; states,
    results and helpers stay in their modules, the meta-gradient estimators live in ``olc.meta``."""
    assert sorted(L.__all__) == exported_learners()
    assert not hasattr(L, "MAML") and not hasattr(L, "InverseSqrt") and not hasattr(L, "MetaLearningGame")
    assert L.ftml.OnlineState is not None and olc.meta.MAML.__module__ == "olc.meta.maml"
    assert {"MAML", "FOBMAML", "IMAML", "MetaMD", "meta_train", "MetaTrainResult"} <= set(olc.meta.__all__)


def test_every_learner_has_a_case():
    names = exported_learners()
    assert len(names) >= 37
    missing = sorted(set(names) - set(CASES))
    assert not missing, f"learners without a conformance case in tests/test_common.py: {missing}"
    assert not set(CASES) - set(names), f"cases for learners olc.learners no longer exports: {set(CASES) - set(names)}"


@functools.cache
def _checks(name):
    factory, game, bad = CASES[name]
    return learner_checks(factory, game, T=T, bad=bad)


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_conformance(name, check):
    if (name, check) in KNOWN:
        pytest.xfail(KNOWN[name, check])
    try:
        _checks(name)[check]()
    except ConformanceSkip as exc:
        pytest.skip(str(exc))
