"""The control game: dynamics, feedback, adaptive disturbances, reports, divergence, the contract."""

import numpy as np
import pytest

import olc
from olc.errors import DivergenceError, InvalidArgumentError, ShapeError
from olc.systems import disturbances as D
from olc.systems import library as lib


def test_contract():
    A = np.array([[1.0, 1.0], [0.0, 1.0]])
    B = np.array([[0.0], [1.0]])
    system = olc.systems.LTISystem(A, B)
    w = olc.systems.disturbances.sinusoidal(T=1000, dim=2, seed=0)
    cost = olc.systems.QuadraticCost(Q=np.eye(2), R=np.eye(1))
    X = system.simulate(np.zeros(2), U=np.zeros((1000, 1)), W=w)
    assert X.shape == (1001, 2)
    game = olc.games.control(system, w, cost)
    trace = olc.play(olc.learners.GPC(system, cost, H=10), game, seed=0)
    assert trace.losses.shape == (1000,)
    regret = trace.regret(olc.comparators.BestDFC(system, cost, H=10))[-1]
    lqr = olc.play(olc.learners.LQR(system, cost), game, seed=0).losses.sum()
    assert np.isfinite(regret) and trace.losses.sum() < lqr
    res = olc.systems.sequential_stability(np.stack([0.9 * np.eye(3)] * 50))
    assert res.holds(res.kappa, res.gamma)
    assert olc.games.control(system, w, cost).horizon == 1000  # callable twice (module shadowing)


def test_game_dynamics_feedback_and_report():
    s = lib.random_stable(3, 2, 0.9, seed=3)
    cost = olc.systems.QuadraticCost(np.diag([1.0, 2.0, 3.0]), np.eye(2) * 0.5)
    W = D.gaussian(30, 3, seed=1)
    x0 = np.array([1.0, 0.0, -1.0])
    game = olc.games.control(s, W, cost, x0=x0)
    game.reset(np.random.default_rng(0))
    rng = np.random.default_rng(2)
    for t in range(30):
        x = game.observe(t)
        u = rng.standard_normal(2)
        fb = game.step(t, u)
        assert fb.kind == "full" and fb.value == pytest.approx(cost.value(x, u))
        np.testing.assert_allclose(fb.grad, cost.grad(x, u)[1])
        np.testing.assert_allclose(fb.obs, s.A(0) @ x + s.B(0) @ u + W[t])
    rep = game.report()
    assert rep["states"].shape == (31, 3) and rep["controls"].shape == (30, 2)
    np.testing.assert_array_equal(rep["disturbances"], W)
    np.testing.assert_allclose(rep["states"], s.simulate(x0, U=rep["controls"], W=W), rtol=1e-12)


def test_adaptive_disturbance_and_errors():
    s = lib.double_integrator()
    cost = olc.systems.QuadraticCost(np.eye(2), np.eye(1))
    adv = olc.systems.Adversarial(2, bound=0.5, system=s)
    tr = olc.play(olc.learners.LQR(s, cost), olc.games.control(s, adv, cost, T=100))
    np.testing.assert_allclose(np.linalg.norm(tr.info["disturbances"], axis=1), 0.5)
    with pytest.raises(InvalidArgumentError, match="T"):
        olc.games.control(s, adv, cost)
    with pytest.raises(ShapeError, match="w"):
        olc.games.control(s, np.zeros((10, 3)), cost)
    with pytest.raises(ShapeError, match="T"):
        olc.games.control(s, np.zeros((10, 2)), cost, T=11)
    with pytest.raises(ShapeError, match="cost"):
        olc.games.control(s, np.zeros((10, 2)), olc.systems.QuadraticCost(np.eye(3), np.eye(1)))


def test_divergence_keeps_partial_data():
    s = lib.inverted_pendulum()
    cost = olc.systems.QuadraticCost(np.eye(2), np.eye(1))
    game = olc.games.control(s, D.gaussian(3000, 2, seed=0), cost, max_state_norm=1e6)
    with pytest.raises(DivergenceError) as err:
        olc.play(olc.learners.ZeroController(), game)
    part = err.value.partial
    assert 0 < part.T < 3000
    assert part.info["states"].shape[1] == 2 and np.all(np.isfinite(part.info["states"]))
