"""``olc.play(..., record=)`` (per-round values stacked into Trace.info) and the environment early stop
(``Environment.done``): checked against hand-computed OGD iterates, the partial trace of an error and
a checkpoint/resume round trip."""

import numpy as np
import pytest

import olc
from olc.errors import DivergenceError, InvalidArgumentError
from olc.games import optimization
from olc.learners import OGD
from olc.oracles import FunctionOracle, QuadraticOracle
from olc.sets import Reals

Q = np.diag([1.0, 4.0])


def _ogd_iterates(x0, lr, T):
    xs = [np.asarray(x0, float)]
    for _ in range(T - 1):
        xs.append(xs[-1] - lr * Q @ xs[-1])
    return np.array(xs)


def test_record_stacks_values_per_round():
    env = optimization(QuadraticOracle(Q, np.zeros(2)), 6, np.ones(2))
    tr = olc.play(OGD(Reals(), 0.1), env, record=lambda t, x, fb, s: {"t": t, "next": s.x, "g": fb.grad, "tag": None})
    xs = _ogd_iterates(np.ones(2), 0.1, 7)
    np.testing.assert_array_equal(tr.info["t"], np.arange(6))
    np.testing.assert_allclose(tr.info["next"], xs[1:], rtol=1e-15)  # the state after each update
    np.testing.assert_allclose(tr.info["g"], xs[:6] @ Q, rtol=1e-15)
    assert tr.info["tag"] == [None] * 6  # values that do not stack stay a list
    assert tr.info["iterates"].shape == (6, 2)  # the environment's report is still there


def test_record_errors_and_partial():
    env = optimization(QuadraticOracle(Q, np.zeros(2)), 5, np.ones(2))
    with pytest.raises(InvalidArgumentError, match="record: expected a dict"):
        olc.play(OGD(Reals(), 0.1), env, record=lambda *a: 1.0)
    with pytest.raises(InvalidArgumentError, match="same keys"):
        olc.play(OGD(Reals(), 0.1), env, record=lambda t, *a: {"a": 1} if t < 2 else {"b": 1})
    # a learner that diverges: the partial trace keeps the records of the completed rounds
    with pytest.raises(DivergenceError) as info:
        olc.play(OGD(Reals(), 1e200), env, record=lambda t, x, fb, s: {"x": x})
    p = info.value.partial
    assert p.T == info.value.step and p.info["x"].shape == (p.T, 2)
    np.testing.assert_array_equal(p.info["x"], p.decisions)


def test_early_stop_by_gradient_tolerance():
    lr, tol = 0.2, 1e-3
    tr = olc.play(OGD(Reals(), lr), optimization(QuadraticOracle(Q, np.zeros(2)), 500, np.ones(2), tol=tol))
    xs = _ogd_iterates(np.ones(2), lr, 500)
    norms = np.linalg.norm(xs @ Q, axis=1)
    k = int(np.argmax(norms <= tol))  # the first round whose gradient is small enough
    assert 0 < k < 499 and tr.T == k + 1
    np.testing.assert_allclose(tr.decisions, xs[:k + 1], rtol=1e-14)
    assert tr.info["grad_norms"][-1] <= tol < tr.info["grad_norms"][-2]
    with pytest.raises(InvalidArgumentError, match="tol"):
        optimization(QuadraticOracle(Q, np.zeros(2)), 5, np.ones(2), tol=-1.0)


def test_early_stop_and_records_survive_checkpoint_resume(tmp_path):
    path = tmp_path / "ckpt.pkl"

    def game():
        return optimization(FunctionOracle(2, lambda x: (float(x @ Q @ x) / 2, Q @ x)), 300, np.ones(2), tol=1e-2)

    def rec(t, x, fb, s):
        return {"v": fb.value}

    full = olc.play(OGD(Reals(), 0.2), game(), record=rec)

    class Stop(Exception):
        pass

    def interrupting(t, x, fb, s):
        if t == 7:
            raise Stop
        return rec(t, x, fb, s)

    with pytest.raises(Stop):
        olc.play(OGD(Reals(), 0.2), game(), record=interrupting, checkpoint=path, every=3)
    resumed = olc.play(OGD(Reals(), 0.2), game(), record=rec, resume=path)
    assert resumed.T == full.T < 300
    np.testing.assert_array_equal(resumed.decisions, full.decisions)
    np.testing.assert_array_equal(resumed.info["v"], full.losses)
    # a checkpoint written at the early stop resumes to the finished game
    olc.play(OGD(Reals(), 0.2), game(), record=rec, checkpoint=path, every=1000)
    again = olc.play(OGD(Reals(), 0.2), game(), record=rec, resume=path)
    np.testing.assert_array_equal(again.decisions, full.decisions)
    # a checkpoint written without the hook cannot be resumed with it (its rows would be missing)
    calls = []

    def failing(x):
        calls.append(1)
        if len(calls) == 8:
            raise Stop
        return float(x @ Q @ x) / 2, Q @ x

    with pytest.raises(Stop):
        olc.play(OGD(Reals(), 0.2), optimization(FunctionOracle(2, failing), 300, np.ones(2), tol=1e-2),
                 checkpoint=path, every=3)
    with pytest.raises(InvalidArgumentError, match="no records"):
        olc.play(OGD(Reals(), 0.2), game(), record=rec, resume=path)
