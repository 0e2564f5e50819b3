"""Nonlinear control games and the linear model's validity flag."""

import warnings

import numpy as np
import pytest

import olc
from olc.errors import InvalidArgumentError
from olc.systems import (
    Adversarial,
    CartPole,
    LinearizationWarning,
    Pendulum,
    QuadraticCost,
    ValidityRegion,
    inverted_pendulum,
)


def _cost(d):
    return QuadraticCost(np.eye(d), np.eye(1))


def test_the_issue_run_is_flagged():
    """Unit adversarial disturbances drive the *linear* pendulum to |θ| of several rad: warn and record it."""
    sys_ = inverted_pendulum()
    adv = Adversarial(2, bound=1.0, kind="ascent", system=sys_)
    with pytest.warns(LinearizationWarning, match=r"theta.*bound 0.552"):
        tr = olc.play(olc.learners.LQR(sys_, _cost(2)), olc.games.control(sys_, adv, _cost(2), T=500), seed=0)
    v = tr.info["validity"]
    assert not v["inside"] and v["max_abs"]["theta"] > 1.0
    first = v["first_exit"]
    theta = tr.info["states"][:, 0]
    assert abs(theta[first]) > v["bounds"]["theta"] >= np.abs(theta[:first]).max()
    assert v["steps_outside"] == int(np.sum(np.abs(theta) > v["bounds"]["theta"]))


def test_no_flag_inside_the_region():
    sys_ = inverted_pendulum()
    w = olc.systems.disturbances.gaussian(500, 2, scale=0.01, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LinearizationWarning)
        tr = olc.play(olc.learners.LQR(sys_, _cost(2)), olc.games.control(sys_, w, _cost(2)), seed=0)
    assert tr.info["validity"]["inside"] and tr.info["validity"]["first_exit"] is None
    # a plain LTI system carries no region: nothing is reported
    tr = olc.play(olc.learners.LQR(olc.systems.double_integrator(), _cost(2)),
                  olc.games.control(olc.systems.double_integrator(), w, _cost(2)), seed=0)
    assert "validity" not in tr.info


def test_nonlinear_game_follows_the_plant():
    """With given controls, the game's states are the plant's RK4 rollout plus the disturbances."""
    plant = Pendulum()
    T = 100
    w = olc.systems.disturbances.gaussian(T, 2, scale=0.01, seed=1)
    K = np.array([[20.0, 6.0]])
    game = olc.games.nonlinear_control(plant, w, _cost(2), x0=[0.2, 0.0])
    tr = olc.play(olc.learners.LinearFeedback(K), game, seed=0)
    X, U = tr.info["states"], tr.info["controls"]
    np.testing.assert_allclose(U[:, 0], -(X[:-1] @ K[0]), atol=1e-12)
    np.testing.assert_allclose(X, plant.simulate([0.2, 0.0], U=U, W=w), atol=1e-12)
    assert game.system.info["plant"] is plant
    # GPC, designed on the linear model, recovers w plus the linearisation error
    A, B = game.system.A(), game.system.B()
    gpc = olc.learners.GPC(game.system, _cost(2), H=5)
    tr = olc.play(gpc, game, seed=0)
    X, U = tr.info["states"], tr.info["controls"]
    recovered = X[1:] - X[:-1] @ A.T - U @ B.T
    model_error = np.array([plant.step(X[t], U[t]) for t in range(T)]) - X[:-1] @ A.T - U @ B.T
    np.testing.assert_allclose(recovered, w + model_error, atol=1e-12)


@pytest.mark.parametrize("Plant, x0, idx", [(Pendulum, [0.3, 0.0], 0), (CartPole, [0.0, 0.0, 0.2, 0.0], 2)])
def test_lqr_on_the_linearisation_stabilises_the_plant_inside_the_region(Plant, x0, idx):
    plant = Plant()
    d = plant.state_dim
    game = olc.games.nonlinear_control(plant, np.zeros((400, d)), _cost(d), x0=x0)
    tr = olc.play(olc.learners.LQR(game.system, _cost(d)), game, seed=0)
    assert np.abs(tr.info["states"][-1]).max() < 1e-3
    assert tr.info["validity"]["inside"]


def test_cartpole_outside_the_region_warns():
    """LQR from θ₀ = 0.6 rad (outside the cart-pole's 0.318 rad): flagged on the nonlinear plant too."""
    plant = CartPole()
    game = olc.games.nonlinear_control(plant, np.zeros((200, 4)), _cost(4), x0=[0.0, 0.0, 0.6, 0.0])
    with pytest.warns(LinearizationWarning, match="NonlinearControlGame"):
        tr = olc.play(olc.learners.LQR(game.system, _cost(4)), game, seed=0)
    assert tr.info["validity"]["first_exit"] == 0


def test_validity_region_checks_its_input():
    r = ValidityRegion({1: 0.5}, {1: "v"}, "test")
    res = r.check(np.array([[0.0, 0.1], [0.0, 0.7], [0.0, -0.6], [0.0, 0.2]]))
    assert res == {"inside": False, "first_exit": 1, "steps_outside": 2, "max_abs": {"v": 0.7},
                   "bounds": {"v": 0.5}, "reason": "test"}
    with pytest.raises(olc.ShapeError, match="states"):
        r.check(np.zeros((3, 1)))
    with pytest.raises(InvalidArgumentError, match="bounds"):
        ValidityRegion({})
    with pytest.raises(InvalidArgumentError, match="bounds"):
        ValidityRegion({0: -1.0})
    with pytest.raises(InvalidArgumentError, match="plant"):
        olc.games.nonlinear_control(inverted_pendulum(), np.zeros((5, 2)), _cost(2))
