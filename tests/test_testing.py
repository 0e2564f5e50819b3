"""olc.testing catches each protocol violation it claims to (one broken learner per check), passes a
correct learner, and play's protocol errors say what is wrong (issue 15, item 6)."""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import pytest

import olc
from olc.errors import FeedbackError, InvalidArgumentError, NonFiniteError
from olc.sets import Ball
from olc.testing import CHECKS, ConformanceError, check_learner, learner_checks

_BALL = Ball(1.0)


class _State(NamedTuple):
    x: np.ndarray
    t: int


class Good(olc.game.Learner):
    """Projected gradient descent with a constant step (Zinkevich 2003, eq. (1)).

    Parameters: ``K`` (the set), ``lr`` (the step).
    """

    feedback = "gradient"

    def __init__(self, K=_BALL, lr=0.1):
        if not (isinstance(lr, float) and lr > 0):
            raise InvalidArgumentError(f"lr: expected a positive float, got {lr!r}")
        self.K, self.lr = K, lr

    def init(self, shape, rng, horizon=None, *, x0=None):
        return _State(self.K.center(shape) if x0 is None else self.K.project(np.asarray(x0, float)), 0)

    def decide(self, state, obs, rng):
        return state.x, state

    def update(self, state, feedback):
        g = np.asarray(feedback.grad, dtype=float)
        if not np.all(np.isfinite(g)):
            raise NonFiniteError(f"Good: non-finite gradient in round {feedback.t}")
        return _State(self.K.project(state.x - self.lr * g), state.t + 1)


class OldSignature(Good):
    """As Good (Zinkevich 2003); ``K``, ``lr``."""

    def init(self, shape, rng=None, horizon=None):
        return super().init(shape, rng, horizon)


class WritesSelf(Good):
    """As Good (Zinkevich 2003); ``K``, ``lr``."""

    def init(self, shape, rng, horizon=None, *, x0=None):
        self.horizon = horizon
        return super().init(shape, rng, horizon, x0=x0)


class ChangesStateType(Good):
    """As Good (Zinkevich 2003); ``K``, ``lr``."""

    def update(self, state, feedback):
        return tuple(super().update(state, feedback))


class GlobalRandom(Good):
    """As Good plus noise from numpy's global generator (Zinkevich 2003); ``K``, ``lr``."""

    def decide(self, state, obs, rng):
        return self.K.project(state.x + 0.1 * np.random.standard_normal(state.x.shape)), state


class DrawsButIgnores(Good):
    """Draws from its generator and then ignores the draw (Zinkevich 2003); ``K``, ``lr``."""

    def decide(self, state, obs, rng):
        rng.standard_normal()
        return state.x, state


class SwallowsNaN(Good):
    """Replaces a NaN gradient by zero — silently (Zinkevich 2003); ``K``, ``lr``."""

    def update(self, state, feedback):
        g = np.nan_to_num(np.asarray(feedback.grad, dtype=float), nan=0.0)
        return _State(self.K.project(state.x - self.lr * g), state.t + 1)


class CarriesNaN(Good):
    """Steps with whatever gradient it gets (Zinkevich 2003); ``K``, ``lr``."""

    def update(self, state, feedback):
        return _State(state.x - self.lr * np.asarray(feedback.grad), state.t + 1)


class Unpicklable(Good):
    """Keeps a lambda (Zinkevich 2003); ``K``, ``lr``."""

    def __init__(self, K=_BALL, lr=0.1):
        super().__init__(K, lr)
        self.schedule = lambda t: lr


class AcceptsAnything(Good):
    """No validation (Zinkevich 2003); ``K``, ``lr``."""

    def __init__(self, K=_BALL, lr=0.1):
        self.K, self.lr = K, lr


class Undocumented(Good):
    """Gradient descent."""


class PlainRepr(Good):
    """As Good (Zinkevich 2003); ``K``, ``lr``."""

    __repr__ = object.__repr__


def _failed(cls, **kw):
    return {k for k, v in check_learner(cls, raise_on_failure=False, **kw).results.items() if v.startswith("FAILED")}


def test_a_correct_learner_passes_every_check():
    report = check_learner(Good, bad={"lr": 0.0})
    assert report.passed and set(report.results) == set(CHECKS)
    assert all(v == "ok" for v in report.results.values()), report


@pytest.mark.parametrize("cls, check", [
    (OldSignature, "signature"), (WritesSelf, "no_mutation"), (ChangesStateType, "state_type"),
    (GlobalRandom, "deterministic"), (DrawsButIgnores, "deterministic"), (SwallowsNaN, "divergence"),
    (CarriesNaN, "divergence"), (Unpicklable, "pickle"), (AcceptsAnything, "bad_hyperparameters"),
    (Undocumented, "docstring"), (PlainRepr, "repr")])
def test_each_violation_is_caught_by_its_check(cls, check):
    assert check in _failed(cls)


def test_carried_nan_is_caught_one_round_late_and_says_so():
    report = check_learner(CarriesNaN, raise_on_failure=False)
    assert "partial has 5 rounds, expected 4" in report.results["divergence"]


def test_check_learner_raises_with_the_report_and_learner_checks_names_them():
    with pytest.raises(ConformanceError) as err:
        check_learner(WritesSelf)
    assert isinstance(err.value, AssertionError) and "no_mutation: FAILED" in str(err.value)
    assert err.value.report.failures.keys() == {"no_mutation"}
    checks = learner_checks(Good())  # an instance: copied per game; no factory for bad values
    assert list(checks) == list(CHECKS)
    with pytest.raises(olc.testing.ConformanceSkip):
        checks["bad_hyperparameters"]()
    checks["continuation"]()


def test_a_learner_in_its_own_game():
    game = olc.games.random_linear(6, 2, seed=1)
    assert check_learner(functools.partial(Good, K=Ball(2.0)), game, T=6).passed
    with pytest.raises(InvalidArgumentError, match="T:"):
        check_learner(Good, T=1)
    with pytest.raises(InvalidArgumentError, match="learner:"):
        check_learner(3)


# ------------------------------------------------------------------ play's protocol errors (item 6)
def test_play_says_decide_returns_decision_and_state():
    class Bare(Good):
        def decide(self, state, obs, rng):
            return state.x

    with pytest.raises(InvalidArgumentError, match=r"must return the pair \(decision, state\)") as err:
        olc.play(Bare(), olc.games.random_quadratic(4, 3))
    assert err.value.partial.T == 0  # raised in round 0, with the (empty) partial trace


def test_play_needs_a_declared_feedback_kind():
    class NoFeedback:
        def init(self, shape, rng, horizon=None):
            return np.zeros(shape)

        def decide(self, state, obs, rng):
            return state, state

        def update(self, state, feedback):
            return state

    with pytest.raises(FeedbackError, match="declares no feedback kind"):
        olc.play(NoFeedback(), olc.games.random_quadratic(4, 3))


def test_classes_instead_of_instances_are_named_as_such():
    game = olc.games.random_quadratic(4, 3)
    with pytest.raises(InvalidArgumentError, match="got the class Good itself"):
        olc.play(Good, game)
    with pytest.raises(InvalidArgumentError, match="env: .*got the class SequenceGame itself"):
        olc.play(Good(), olc.games.SequenceGame)
    trace = olc.play(Good(), game)
    with pytest.raises(InvalidArgumentError, match="comparator: .*got the class BestFixed itself"):
        trace.regret(olc.comparators.BestFixed)
    assert trace.regret(olc.comparators.BestFixed(Ball(1.0))).shape == (4,)
