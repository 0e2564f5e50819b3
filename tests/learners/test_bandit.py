"""Bandit learners: FKM and BCO with memory (nonconvex-meta-optimization Alg. 6)."""

import numpy as np
import pytest

import olc
from olc import losses as L
from olc.comparators import BestFixed
from olc.learners import FKM, BCOMemory
from olc.learners.bandit import sphere_sample
from olc.optim import Constant
from olc.sets import Ball, Box, Reals, Simplex


def _regret_slope(make, memory, Ts=(1000, 3000, 9000), seeds=2):
    finals = []
    for T in Ts:
        rs = []
        for s in range(seeds):
            game = olc.games.random_quadratic(T, 3, seed=100 + s)
            if memory > 1:
                game = olc.games.with_memory(game, memory)
            rs.append(olc.play(make(), game, seed=s).regret(BestFixed(Ball(1.0)))[-1])
        finals.append(np.mean(rs))
    assert min(finals) > 0
    return np.polyfit(np.log(Ts), np.log(finals), 1)[0], finals


def test_fkm_regret_exponent_on_smooth_convex_losses():
    slope, finals = _regret_slope(lambda: FKM(Ball(1.0)), memory=1)
    assert slope <= 0.85, (slope, finals)


def test_bco_memory_regret_exponent_on_smooth_convex_losses():
    slope, finals = _regret_slope(lambda: BCOMemory(Ball(1.0), memory=3), memory=3)
    assert slope <= 0.85, (slope, finals)


def test_bco_memory_follows_algorithm_6_line_by_line():
    """An independent transcription of Alg. 6 (1-based, as printed) with the same noise."""
    L_mem, T, d, delta = 3, 40, 2, 0.2
    eta = lambda t: 0.3 * t ** -0.75  # noqa: E731
    K = Ball(1.0)
    Kd = K.shrink(delta)
    rng_c = np.random.default_rng(0)
    c = rng_c.normal(size=(T + 1, d)) * 0.5
    f = lambda t, window: 0.5 * np.sum((window.mean(axis=0) - c[t]) ** 2)  # noqa: E731  f_t(y_{t-L+1:t})

    # --- reference (paper indices 1..T) -------------------------------------------------
    rng = np.random.default_rng(42)
    x = {i: Kd.project(np.zeros(d)) for i in range(1, L_mem + 1)}
    u, y, g = {}, {}, {i: np.zeros(d) for i in range(1, L_mem)}
    for i in range(1, L_mem):
        u[i] = sphere_sample(rng, (d,))
        y[i] = x[i] + delta * u[i]
    u[L_mem] = sphere_sample(rng, (d,))
    y[L_mem] = x[L_mem] + delta * u[L_mem]
    for t in range(L_mem, T + 1):
        window = np.stack([y[t - L_mem + 1 + j] for j in range(L_mem)])
        g[t] = (d / delta) * f(t, window) * sum(u[t - i] for i in range(L_mem))
        x[t + 1] = Kd.project(x[t] - eta(t) * g[t - L_mem + 1])
        u[t + 1] = sphere_sample(rng, (d,))
        y[t + 1] = x[t + 1] + delta * u[t + 1]

    # --- olc's learner, driven by hand with the same noise stream -----------------------
    learner = BCOMemory(K, memory=L_mem, delta=delta, lr=eta)
    state = learner.init((d,), rng=None)
    rng = np.random.default_rng(42)
    played = []
    for t in range(1, T + 1):
        yt, state = learner.decide(state, None, rng)
        played.append(yt)
        np.testing.assert_allclose(yt, y[t], atol=1e-12, err_msg=f"y_{t}")
        window = np.stack([played[max(0, s)] for s in range(t - L_mem, t)])
        if t >= L_mem:
            np.testing.assert_allclose(window, np.stack([y[t - L_mem + 1 + j] for j in range(L_mem)]))
        val = f(t, window) if t >= L_mem else 123.0  # feedback before round L is ignored by Alg. 6
        state = learner.update(state, olc.Feedback(t - 1, "bandit", val))
        np.testing.assert_allclose(state.x, x[t + 1] if t >= L_mem else x[1], atol=1e-12, err_msg=f"x_{t + 1}")


def test_fkm_estimator_is_unbiased_for_linear_losses_and_stays_feasible():
    g = np.array([0.5, -1.0, 2.0])
    rng = np.random.default_rng(3)
    delta, d, n = 0.1, 3, 200_000
    U = rng.standard_normal((n, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    x = np.array([0.1, 0.2, -0.3])
    est = (d / delta) * ((x + delta * U) @ g)[:, None] * U
    np.testing.assert_allclose(est.mean(axis=0), g, atol=0.15)
    tr = olc.play(FKM(Ball(2.0), delta=0.5, lr=Constant(0.5)), olc.games.linear(np.tile(g, (500, 1))), seed=0)
    assert np.all(Ball(2.0).contains(tr.decisions))
    m = tr.decisions[-100:].mean(axis=0)
    assert -m @ g / (np.linalg.norm(m) * np.linalg.norm(g)) > 0.9  # moved towards the minimiser -g/||g||


def test_bandit_learners_only_get_values():
    assert FKM.feedback == "bandit" and BCOMemory.feedback == "bandit"
    tr = olc.play(FKM(Box(-1.0, 1.0), delta=0.2, lr=0.05), olc.games.bandit(olc.games.random_linear(50, 2)), seed=0)
    assert tr.losses.shape == (50,)


def test_bandit_bad_input():
    with pytest.raises(olc.InvalidArgumentError, match="inradius"):
        olc.play(FKM(Simplex(3), delta=0.1, lr=0.1), olc.games.linear(np.ones((3, 3))))
    with pytest.raises(olc.InvalidArgumentError, match="delta"):
        olc.play(FKM(Ball(0.5), delta=0.6, lr=0.1), olc.games.linear(np.ones((3, 2))))
    with pytest.raises(olc.InvalidArgumentError, match="delta"):
        BCOMemory(Ball(1.0), memory=2).init((2,), None, horizon=None)
    with pytest.raises(olc.OlcError, match="memory"):
        BCOMemory(Ball(1.0), memory=0)
    with pytest.raises(olc.OlcError, match="delta"):
        FKM(Ball(1.0), delta=-0.1)
    for learner in (FKM(Reals(), delta=0.1), BCOMemory(Reals(), memory=2, delta=0.1)):
        with pytest.raises(olc.InvalidArgumentError, match="needs a bounded set"):
            learner.init((2,), np.random.default_rng(0), horizon=10)
    # a shape-less box is bounded once the decision shape is known: D = 2·sqrt(d)
    from olc.learners.bandit import _diameter

    assert _diameter(Box(-1.0, 1.0), (4,), "FKM") == pytest.approx(4.0)
    learner = FKM(Ball(1.0), delta=0.1, lr=0.1)
    state = learner.init((2,))
    with pytest.raises(olc.NonFiniteError, match="FKM"):
        learner.update(state, olc.Feedback(0, "bandit", float("nan")))
    _ = L  # module used in other tests
