"""``olc.play(..., checkpoint=PATH, every=K)`` / ``resume=PATH``: an interrupted game resumed from its
last checkpoint gives the trace of an uninterrupted play, bitwise (learner state, both random
generators, the environment's position)."""

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import olc
from olc.errors import InvalidArgumentError
from olc.games import adversarial_linear, control, optimization, random_linear, random_quadratic, with_memory
from olc.learners import FKM, GPC, OGD, Adam, BCOMemory
from olc.oracles import LeastSquaresOracle
from olc.sets import Ball
from olc.systems import Adversarial, QuadraticCost, library


def _least_squares():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    return LeastSquaresOracle(X, X @ rng.normal(size=4) + 0.1 * rng.normal(size=200), batch_size=16)


_DI = library.double_integrator()
_COST = QuadraticCost(np.eye(2), np.eye(1))
_LS = _least_squares()

#: (learner, environment) factories: each call builds a fresh pair, as a resuming process would
GAMES = {
    "deterministic OGD, oblivious linear": (lambda: OGD(Ball(1.0), lr=0.1), lambda: random_linear(120, 3, seed=1)),
    "bandit FKM, adaptive adversary": (lambda: FKM(Ball(1.0)), lambda: adversarial_linear(120, 3)),
    "bandit BCO with memory": (lambda: BCOMemory(Ball(1.0), memory=3),
                               lambda: with_memory(random_quadratic(120, 3, seed=2), 3)),
    "GPC, adversarial disturbance": (lambda: GPC(_DI, _COST, H=5),
                                     lambda: control(_DI, Adversarial(2, 1.0, system=_DI), _COST, T=120)),
    "Adam, minibatch optimization": (lambda: Adam(lr=0.05), lambda: optimization(_LS, 120, np.zeros(4))),
}


def _equal(a, b):
    """Bitwise equality of nested states (arrays, tuples, dataclasses, generators)."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (int, float, str, type(None))):
        return a == b or (isinstance(a, float) and np.isnan(a) and np.isnan(b))
    return type(a) is type(b) and pickle.dumps(a) == pickle.dumps(b)  # e.g. a step-size schedule


def _assert_same_trace(ref, tr):
    assert np.array_equal(ref.decisions, tr.decisions) and np.array_equal(ref.losses, tr.losses)
    assert ref.info.keys() == tr.info.keys()
    for k in ref.info:
        assert _equal(ref.info[k], tr.info[k]), k
    assert _equal(ref.final_state, tr.final_state)


class _Stop(KeyboardInterrupt):
    """Ctrl-C in the middle of a round."""


def _interrupted(env, at):
    step = env.step

    def interrupting(t, x):
        if t == at:
            raise _Stop()
        return step(t, x)

    env.step = interrupting
    return env


@pytest.mark.parametrize("name", list(GAMES))
@pytest.mark.parametrize("every, stop", [(10, 57), (7, 7), (1, 119)])
def test_resume_after_an_interrupt_is_bitwise_identical(tmp_path, name, every, stop):
    make_learner, make_env = GAMES[name]
    ref = olc.play(make_learner(), make_env(), seed=3)
    path = tmp_path / "game.ckpt"
    with pytest.raises(_Stop) as info:
        olc.play(make_learner(), _interrupted(make_env(), stop), seed=3, checkpoint=path, every=every)
    assert info.value.partial.T == stop  # play kept the completed rounds as usual
    resumed = olc.play(make_learner(), make_env(), seed=3, resume=path, checkpoint=path, every=every)
    _assert_same_trace(ref, resumed)
    # the checkpoint after the last round resumes to the finished game without playing a round
    again = olc.play(make_learner(), _interrupted(make_env(), 0), seed=3, resume=path)
    _assert_same_trace(ref, again)


def test_snapshots_restore_the_position_of_each_environment():
    env = GAMES["GPC, adversarial disturbance"][1]()
    olc.play(GPC(_DI, _COST, H=5), env, T=30, seed=0)
    snap = env.get_state()
    assert set(snap) == {"_X", "_U", "_W", "_C", "_n", "w"} and snap["_n"] == 30
    draws = env.w._rng.standard_normal(3)
    env.set_state(snap)
    assert np.array_equal(env.w._rng.standard_normal(3), draws)  # the disturbance's generator came back
    with pytest.raises(InvalidArgumentError, match="no saved attributes"):
        env.set_state({"_bogus": 1})


def test_checkpoint_and_resume_argument_errors(tmp_path):
    make_learner, make_env = GAMES["deterministic OGD, oblivious linear"]
    path = tmp_path / "g.ckpt"
    with pytest.raises(InvalidArgumentError, match="every: pass the number"):
        olc.play(make_learner(), make_env(), checkpoint=path)
    with pytest.raises(InvalidArgumentError, match="every: given without"):
        olc.play(make_learner(), make_env(), every=5)
    with pytest.raises(InvalidArgumentError, match="every: expected an integer"):
        olc.play(make_learner(), make_env(), checkpoint=path, every=0)
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        olc.play(make_learner(), make_env(), checkpoint=tmp_path / "no" / "g.ckpt", every=5)
    with pytest.raises(InvalidArgumentError, match="resume: no checkpoint"):
        olc.play(make_learner(), make_env(), resume=path)
    olc.play(make_learner(), make_env(), seed=1, T=50, checkpoint=path, every=10)
    with pytest.raises(InvalidArgumentError, match="seed=1; this play has seed=2"):
        olc.play(make_learner(), make_env(), seed=2, T=50, resume=path)
    with pytest.raises(InvalidArgumentError, match="T=50; this play has T=60"):
        olc.play(make_learner(), make_env(), seed=1, T=60, resume=path)
    with pytest.raises(InvalidArgumentError, match="learner='OGD'; this play has learner='FKM'"):
        olc.play(FKM(Ball(1.0)), make_env(), seed=1, T=50, resume=path)
    with pytest.raises(InvalidArgumentError, match="either state= or resume="):
        olc.play(make_learner(), make_env(), seed=1, T=50, resume=path, state=object())
    (tmp_path / "junk").write_bytes(b"not a pickle")
    with pytest.raises(InvalidArgumentError, match="not a readable olc.play checkpoint"):
        olc.play(make_learner(), make_env(), resume=tmp_path / "junk")


class _DuckEnv:
    """An environment that follows the protocol without subclassing Environment (no snapshots)."""

    shape, horizon, feedback, memory = (2,), 5, "full", 1

    def reset(self, rng):
        pass

    def observe(self, t):
        return None

    def step(self, t, x):
        return olc.Feedback(t, "gradient", float(x.sum()), np.ones(2))

    def realized(self):
        return None

    def report(self):
        return {}


class _LambdaStateOGD(OGD):
    def init(self, *args, **kwargs):
        return (super().init(*args, **kwargs), lambda: 0)

    def decide(self, state, obs, rng):
        x, s = super().decide(state[0], obs, rng)
        return x, (s, state[1])

    def update(self, state, feedback):
        return (super().update(state[0], feedback), state[1])


def test_what_cannot_be_checkpointed_is_named(tmp_path):
    with pytest.raises(InvalidArgumentError, match="_DuckEnv has no get_state"):
        olc.play(OGD(Ball(1.0), lr=0.1), _DuckEnv(), checkpoint=tmp_path / "c", every=2)
    with pytest.raises(InvalidArgumentError, match="cannot be pickled") as info:
        olc.play(_LambdaStateOGD(Ball(1.0), lr=0.1), random_linear(10, 2), checkpoint=tmp_path / "c", every=2)
    assert info.value.partial.T == 1  # the round was played; its checkpoint failed


_SLOW_PLAY = """
import sys, time, numpy as np, olc
from olc.games import random_linear
from olc.learners import FKM
from olc.sets import Ball
env = random_linear(400, 3, seed=1)
step = env.step
def slow(t, x):
    if t == 200:
        print("checkpointed", flush=True)
        time.sleep(60)
    return step(t, x)
env.step = slow
olc.play(FKM(Ball(1.0)), env, seed=5, checkpoint=sys.argv[1], every=25)
"""


def test_sigkill_mid_game_resumes_from_the_last_checkpoint(tmp_path):
    path = tmp_path / "g.ckpt"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_SLOW_PLAY), str(path)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout.readline().strip() == "checkpointed"
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert sorted(os.listdir(tmp_path)) == ["g.ckpt"]  # no temporary file left half-written
    ref = olc.play(FKM(Ball(1.0)), random_linear(400, 3, seed=1), seed=5)
    resumed = olc.play(FKM(Ball(1.0)), random_linear(400, 3, seed=1), seed=5, resume=path)
    _assert_same_trace(ref, resumed)
