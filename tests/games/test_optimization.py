"""The optimization game: olc.play as the training loop (iterates, values, minibatches, divergence)."""

import numpy as np
import pytest

import olc
from olc.errors import DivergenceError, InvalidArgumentError, ShapeError
from olc.games.optimization import OptimizationGame, optimization
from olc.learners import SGD, Adam, HeavyBall
from olc.learners.optimizers import train
from olc.oracles import GradientOracle, LeastSquaresOracle, QuadraticOracle


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=40)
    return X, y


def test_deterministic_game_charges_the_objective(data):
    X, y = data
    oracle = LeastSquaresOracle(X, y)
    x0 = np.ones(5)
    env = optimization(oracle, 30, x0)
    assert env.shape == (5,) and env.horizon == 30 and env.feedback == "full" and not env.stochastic
    tr = olc.play(SGD(0.1), env)  # no x0 on the optimizer: play passes env.x0 to init
    np.testing.assert_array_equal(tr.decisions[0], x0)
    for t in (0, 7, 29):
        assert tr.losses[t] == pytest.approx(oracle.value(tr.decisions[t]), rel=1e-14)
    # the iterates are GD's: x_{t+1} = x_t − η ∇f(x_t)
    np.testing.assert_allclose(tr.decisions[1:], tr.decisions[:-1] - 0.1 * np.array(
        [oracle.grad(x) for x in tr.decisions[:-1]]), atol=1e-14)
    info = tr.info
    np.testing.assert_array_equal(info["iterates"], tr.decisions)
    np.testing.assert_array_equal(info["values"], tr.losses)
    assert info["grad_norms"].shape == (30,) and all(b is None for b in info["batches"])
    np.testing.assert_allclose(info["grad_norms"][3], np.linalg.norm(oracle.grad(tr.decisions[3])), rtol=1e-14)
    # the revealed gradients (the disturbances of the optimization LTV), one row per round
    assert info["grads"].shape == (30, 5)
    np.testing.assert_array_equal(info["grads"], [oracle.grad(x) for x in tr.decisions])
    np.testing.assert_allclose(np.linalg.norm(info["grads"], axis=1), info["grad_norms"], rtol=1e-14)


def test_stochastic_batches_are_shared_and_reproducible(data):
    X, y = data
    oracle = LeastSquaresOracle(X, y, batch_size=8)
    x0 = np.zeros(5)
    a = train(SGD(0.05), oracle, 25, x0, seed=3)
    b = train(Adam(0.05), oracle, 25, x0, seed=3)  # another optimizer, same seed: same batches
    assert all(np.array_equal(u, v) for u, v in zip(a.info["batches"], b.info["batches"]))
    assert all(len(bt) == 8 for bt in a.info["batches"])
    np.testing.assert_array_equal(a.decisions, train(SGD(0.05), oracle, 25, x0, seed=3).decisions)
    c = train(SGD(0.05), oracle, 25, x0, seed=4)
    assert not np.array_equal(a.losses, c.losses)
    # each loss is the minibatch objective at the iterate
    t = 11
    assert a.losses[t] == pytest.approx(oracle.value(a.decisions[t], a.info["batches"][t]), rel=1e-14)
    # and each reported gradient is the minibatch gradient at the iterate
    assert a.info["grads"].shape == (25, 5)
    for t in (0, 11, 24):
        np.testing.assert_array_equal(a.info["grads"][t], oracle.grad(a.decisions[t], a.info["batches"][t]))
    # a fixed game seed fixes the stream whatever the play seed
    e1 = olc.play(SGD(0.05), optimization(oracle, 10, x0, seed=9), seed=1)
    e2 = olc.play(SGD(0.05), optimization(oracle, 10, x0, seed=9), seed=2)
    np.testing.assert_array_equal(e1.losses, e2.losses)
    # replaying recorded batches reproduces the trace with any play seed
    r = olc.play(SGD(0.05), optimization(oracle, 25, x0, batches=a.info["batches"]), seed=123)
    np.testing.assert_array_equal(r.losses, a.losses)
    # stochastic=False charges the full objective
    full = train(SGD(0.05), oracle, 5, x0, stochastic=False)
    assert full.losses[0] == pytest.approx(oracle.value(x0))


def test_divergence_keeps_the_partial_trace():
    oracle = QuadraticOracle(np.diag([1.0, 100.0]))
    with pytest.raises(DivergenceError) as err:
        train(HeavyBall(0.5, 0.9), oracle, 1000, np.ones(2))
    part = err.value.partial
    assert 0 < part.T < 1000 and np.all(np.isfinite(part.losses))
    assert part.losses[-1] > 1e100  # it was blowing up
    assert part.info["values"].shape[0] >= part.T
    assert part.info["grads"].shape == (part.info["values"].shape[0], 2)


class _WithStart(GradientOracle):
    def __init__(self):
        super().__init__(3)

    def x0(self):
        return np.array([1.0, 2.0, 3.0])

    def _value_and_grad(self, x, batch):
        return 0.5 * x @ x, x


def test_x0_from_the_oracle_and_bad_input(data):
    tr = train(SGD(0.5), _WithStart(), 3)
    np.testing.assert_array_equal(tr.decisions[0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(tr.decisions[1], [0.5, 1.0, 1.5])
    X, y = data
    oracle = LeastSquaresOracle(X, y)
    with pytest.raises(InvalidArgumentError, match="x0"):
        optimization(oracle, 5)
    with pytest.raises(ShapeError):
        optimization(oracle, 5, np.zeros(4))
    with pytest.raises(InvalidArgumentError, match="oracle"):
        optimization(lambda x: x @ x, 5, np.zeros(5))
    with pytest.raises(InvalidArgumentError, match="stochastic"):
        optimization(oracle, 5, np.zeros(5), stochastic=True)
    with pytest.raises(InvalidArgumentError, match="T"):
        optimization(oracle, 0, np.zeros(5))
    with pytest.raises(InvalidArgumentError, match="batches"):
        optimization(LeastSquaresOracle(X, y, batch_size=4), 5, np.zeros(5), batches=[None])
    with pytest.raises(InvalidArgumentError):
        olc.play(SGD(0.1), OptimizationGame(oracle, 5, np.zeros(5)), T=6)
