"""The round protocol: shapes, seeds, feedback restriction, divergence reporting, contract."""

import numpy as np
import pytest

import olc
from olc import losses as L
from olc.comparators import BestFixed
from olc.game import Feedback
from olc.learners import AOFTRL, FKM, FTRL, OGD, BCOMemory, Hedge
from olc.sets import Ball, Simplex


def test_issue_contract_runs_as_written():
    G = np.random.default_rng(0).uniform(-1, 1, size=(1000, 5))
    trace = olc.play(FTRL(Ball(1.0), lr=0.05), olc.games.linear(G), seed=0)
    assert trace.losses.shape == (1000,) and trace.decisions.shape == (1000, 5)
    R = trace.regret(BestFixed(Ball(1.0)))
    assert R.shape == (1000,)
    # regret is cumulative loss minus the prefix-best closed form -||Σ g||
    np.testing.assert_allclose(R, np.cumsum(np.einsum("ti,ti->t", G, trace.decisions))
                               + np.linalg.norm(np.cumsum(G, axis=0), axis=1))
    bandit = olc.play(FKM(Ball(1.0), delta=0.1, lr=0.01), olc.games.linear(G), seed=0)
    assert bandit.losses.shape == (1000,)
    BCOMemory(Ball(1.0), memory=3, delta=0.1, lr=0.01)
    np.testing.assert_allclose(Simplex(3).project(np.array([2.0, 0.0, 0.0])), [1.0, 0.0, 0.0])


class Spy:
    """A learner recording what feedback it receives."""

    def __init__(self, feedback):
        self.feedback = feedback
        self.seen = []

    def init(self, shape, rng, horizon=None):
        return np.zeros(shape)

    def decide(self, state, obs, rng):
        return state, state

    def update(self, state, fb):
        self.seen.append(fb)
        return state


@pytest.mark.parametrize("kind", ["bandit", "gradient", "full"])
def test_learner_sees_only_the_feedback_it_declares(kind):
    spy = Spy(kind)
    olc.play(spy, olc.games.linear(np.ones((3, 2))), seed=0)
    fb = spy.seen[0]
    assert fb.kind == kind and fb.value == 0.0
    assert (fb.grad is None) == (kind == "bandit")
    assert (fb.loss is None) == (kind != "full")


def test_gradient_learner_refuses_bandit_environment():
    with pytest.raises(olc.FeedbackError, match="needs 'gradient'"):
        olc.play(OGD(Ball(1.0)), olc.games.bandit(olc.games.linear(np.ones((3, 2)))))


@pytest.mark.parametrize("make", [
    lambda: FTRL(Ball(1.0), lr=0.1), lambda: OGD(Ball(1.0), lr=0.1), lambda: FKM(Ball(1.0), delta=0.1, lr=0.1),
    lambda: AOFTRL(Ball(1.0), hint="previous"), lambda: BCOMemory(Ball(1.0), memory=2, delta=0.2, lr=0.1),
])
def test_same_seed_same_trace(make):
    G = np.random.default_rng(1).normal(size=(200, 3))
    game = olc.games.with_memory(olc.games.linear(G), 2)
    a, b = olc.play(make(), game, seed=7), olc.play(make(), game, seed=7)
    np.testing.assert_array_equal(a.decisions, b.decisions)
    np.testing.assert_array_equal(a.losses, b.losses)
    if isinstance(make(), (FKM, BCOMemory)):
        c = olc.play(make(), game, seed=8)
        assert not np.array_equal(a.decisions, c.decisions)


def test_divergence_keeps_the_completed_rounds():
    def make(t, past, rng):
        return L.Linear(np.array([np.nan, 0.0]) if t == 5 else np.ones(2))

    game = olc.games.adaptive(make, T=10, shape=(2,))
    with pytest.raises(olc.DivergenceError) as info:
        olc.play(OGD(Ball(1.0), lr=0.1), game)
    err = info.value
    assert err.step == 5 and err.partial.losses.shape == (5,) and np.all(np.isfinite(err.partial.losses))


def test_nan_gradient_feedback_is_reported():
    class NaNGrad(olc.Environment):
        shape, horizon, feedback = (2,), 4, "gradient"

        def step(self, t, x):
            return Feedback(t, "gradient", 0.0, np.array([np.nan, 1.0]) if t == 2 else np.ones(2))

    with pytest.raises(olc.DivergenceError, match="gradient of round 2") as info:
        olc.play(OGD(Ball(1.0), lr=0.1), NaNGrad())
    assert info.value.partial.T == 2


def test_memory_game_charges_the_window_and_adaptive_game_records_losses():
    base = L.Linear(np.tile([1.0, 0.0], (4, 1)), batched=True)
    game = olc.games.with_memory(base, 2, weights=[0.5, 0.5])

    class Fixed(Spy):
        def decide(self, state, obs, rng):
            x = np.array([float(len(self.seen)), 0.0])
            return x, state

    tr = olc.play(Fixed("gradient"), game)
    # x_t = (t, 0): window average (t-1+t)/2 after the first round (padded with x_0)
    np.testing.assert_allclose(tr.losses, [0.0, 0.5, 1.5, 2.5])
    adv = olc.games.adversarial_linear(T=50, dim=3)
    tr = olc.play(OGD(Ball(1.0), lr=0.1), adv, seed=0)
    assert len(tr.sequence) == 50 and isinstance(tr.sequence, L.Linear)
    # each cost is aligned with the previous decision (x_0 = 0 gets a random unit cost)
    d = tr.decisions[1:-1] / np.linalg.norm(tr.decisions[1:-1], axis=1, keepdims=True)
    np.testing.assert_allclose(tr.sequence.g[2:], d, atol=1e-12)


def test_play_argument_errors():
    game = olc.games.linear(np.ones((3, 2)))
    with pytest.raises(olc.InvalidArgumentError, match="T"):
        olc.play(OGD(Ball(1.0)), game, T=4)
    with pytest.raises(olc.InvalidArgumentError, match="seed"):
        olc.play(OGD(Ball(1.0)), game, seed="abc")
    with pytest.raises(olc.InvalidArgumentError, match="seed: expected a non-negative int .*got -1"):
        olc.play(OGD(Ball(1.0)), game, seed=-1)
    with pytest.raises(olc.ShapeError, match="shape"):
        olc.play(OGD(Simplex(3)), game)
    with pytest.raises(olc.InvalidArgumentError, match="T"):
        olc.play(Hedge(), olc.games.adaptive(lambda t, p, r: L.Linear(np.ones(2)), 3, (2,)), T=0)


@pytest.mark.parametrize("make", [lambda: OGD(Ball(1.0)), lambda: FTRL(Ball(1.0)),
                                  lambda: AOFTRL(Ball(1.0), hint="previous")])
def test_play_continues_from_a_learner_state(make):
    """T1 rounds, then T2 more from state=trace.final_state on the rest of the (oblivious) sequence:
    the same decisions as one play of T1 + T2 rounds (the schedules run on the state's round counter)."""
    rng = np.random.default_rng(3)
    T1, T2, n = 7, 9, 3
    A = np.diag(rng.uniform(0.5, 2.0, n))
    b = rng.normal(size=(T1 + T2, n))
    whole = olc.play(make(), olc.games.quadratic(A, b), seed=0)
    first = olc.play(make(), olc.games.quadratic(A, b[:T1]), seed=0)
    rest = olc.play(make(), olc.games.quadratic(A, b[T1:]), seed=0, state=first.final_state)
    np.testing.assert_array_equal(np.concatenate([first.decisions, rest.decisions]), whole.decisions)
    np.testing.assert_array_equal(np.concatenate([first.losses, rest.losses]), whole.losses)
    assert rest.final_state.t == whole.final_state.t == T1 + T2
    # without state the second game starts afresh (round counter 0, x_0 again)
    fresh = olc.play(make(), olc.games.quadratic(A, b[T1:]), seed=0)
    assert not np.allclose(fresh.decisions, rest.decisions)


def test_any_error_in_a_round_keeps_the_completed_rounds():
    # an adaptive adversary that fails in round 40: the 40 completed rounds ride on the error
    def make(t, past, rng):
        if t == 40:
            raise RuntimeError("adversary broke")
        return L.Linear(np.ones(2))

    with pytest.raises(RuntimeError, match="adversary broke") as ei:
        olc.play(OGD(Ball(1.0), lr=0.1), olc.games.adaptive(make, 50, (2,)))
    part = ei.value.partial
    assert part.T == 40 and part.decisions.shape == (40, 2) and part.final_state.t == 40
    assert any(".partial" in n for n in ei.value.__notes__)
    # an olc error raised by a loss (wrong gradient shape in round 30) keeps them too
    G = np.ones((50, 2))
    bad = L.FunctionLoss(lambda x: 0.0, lambda x: np.ones(3))
    seq = [L.Linear(g) for g in G[:30]] + [bad] * 20
    with pytest.raises(olc.ShapeError) as ei:
        olc.play(OGD(Ball(1.0), lr=0.1), olc.games.adaptive(lambda t, p, r: seq[t], 50, (2,)))
    assert ei.value.partial.T == 30


def test_play_names_wrong_objects_and_states():
    game = olc.games.linear(np.ones((3, 2)))
    with pytest.raises(olc.InvalidArgumentError, match="learner: expected a learner"):
        olc.play(1, game)
    with pytest.raises(olc.InvalidArgumentError, match="env: expected an environment"):
        olc.play(OGD(Ball(1.0)), np.ones((3, 2)))
    with pytest.raises(olc.InvalidArgumentError, match="state: OGD needs a OGDState"):
        olc.play(OGD(Ball(1.0)), game, state="x")
    ftrl_state = olc.play(FTRL(Ball(1.0)), game).final_state
    with pytest.raises(olc.InvalidArgumentError, match="got FTRLState"):
        olc.play(OGD(Ball(1.0)), game, state=ftrl_state)
    with pytest.raises(olc.InvalidArgumentError, match="comparator"):
        olc.play(OGD(Ball(1.0)), game).regret("best")
    # a learner tuned for memory 5 on losses with memory 2
    mem = olc.games.with_memory(olc.games.linear(np.ones((10, 2))), 2)
    with pytest.raises(olc.InvalidArgumentError, match="memory=5"):
        olc.play(BCOMemory(Ball(1.0), memory=5, delta=0.1, lr=0.01), mem)
