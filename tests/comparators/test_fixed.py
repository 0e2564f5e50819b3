"""Best fixed decision in hindsight: closed forms vs scipy / brute force."""

import numpy as np
import pytest

import olc
from olc import losses as L
from olc.comparators import BestFixed
from olc.sets import Ball, Box, OperatorBall, Reals, Simplex


def _trace_for(game, T=None):
    class Still:
        feedback = "bandit"

        def init(self, shape, rng, horizon=None):
            return np.zeros(shape)

        def decide(self, s, obs, rng):
            return s, s

        def update(self, s, fb):
            return s

    return olc.play(Still(), game, T=T)


@pytest.mark.parametrize("K", [Ball(1.5), Box(-1.0, 0.5, dim=3), Simplex(3)], ids=repr)
def test_linear_anytime_closed_form_vs_brute_force(K):
    rng = np.random.default_rng(0)
    G = rng.normal(size=(40, 3))
    comp = BestFixed(K)
    best = comp.best_cumulative(_trace_for(olc.games.linear(G)))
    pts = K.project(rng.normal(size=(20000, 3)) * 2)
    brute = (np.cumsum(G, axis=0) @ pts.T).min(axis=1)
    assert np.all(best <= brute + 1e-12) and np.all(brute - best < 0.05 * (1 + np.abs(best)))
    assert comp.was_anytime


def test_matrix_linear_comparator_uses_nuclear_norm():
    G = np.random.default_rng(1).normal(size=(10, 2, 3))
    best = BestFixed(OperatorBall(2.0)).best_cumulative(_trace_for(olc.games.linear(G)))
    assert best[-1] == pytest.approx(-2.0 * np.linalg.norm(G.sum(axis=0), "nuc"))


def test_quadratic_closed_form_matches_scipy_and_whole_horizon_mode():
    from scipy.optimize import minimize

    game = olc.games.random_quadratic(200, 3, seed=2)
    trace = _trace_for(game)
    comp = BestFixed(Ball(1.0))
    best = comp.best_cumulative(trace)
    assert comp.was_anytime
    seq = trace.sequence
    for t in (9, 99, 199):
        ref = minimize(lambda x: seq.total(x, t + 1), np.zeros(3), jac=lambda x: seq.total_grad(x, t + 1)).fun
        assert best[t] == pytest.approx(ref, abs=1e-8)
    whole = BestFixed(Ball(1.0), anytime=False).best_cumulative(trace)
    assert whole[-1] == pytest.approx(best[-1], abs=1e-8)
    assert np.all(whole >= best - 1e-9)  # a fixed point is never better than the prefix-best


@pytest.mark.parametrize("K", [Ball(0.3), Box(-0.2, 0.1, dim=3), Simplex(3), Reals()], ids=repr)
def test_general_convex_solver_is_never_beaten(K):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(60, 3))
    y = np.sign(rng.normal(size=60))
    y[y == 0] = 1
    seq = L.Logistic(a, y, batched=True) if not isinstance(K, Reals) else L.LeastSquares(a, rng.normal(size=60),
                                                                                         batched=True)
    trace = _trace_for(olc.games.sequence(seq))
    comp = BestFixed(K)
    best = comp.best_cumulative(trace)
    x = comp.point
    assert bool(K.contains(x, tol=1e-9))
    pts = K.project(rng.normal(size=(3000, 3)) * (1 if not isinstance(K, Reals) else 3))
    brute = min(seq.total(p) for p in pts)
    assert best[-1] <= brute + 1e-9
    # first-order optimality: no feasible descent direction (projected gradient step is a fixed point)
    g = seq.total_grad(x)
    np.testing.assert_allclose(K.project(x - 1e-3 * g), x, atol=1e-6)


def test_memory_comparator_uses_unary_restriction():
    game = olc.games.with_memory(olc.games.random_quadratic(100, 2, seed=4), 3)
    trace = _trace_for(game)
    plain = BestFixed(Ball(1.0)).best_cumulative(_trace_for(olc.games.random_quadratic(100, 2, seed=4)))
    np.testing.assert_allclose(BestFixed(Ball(1.0)).best_cumulative(trace), plain)


def test_comparator_errors():
    with pytest.raises(olc.InvalidArgumentError, match="K"):
        BestFixed("ball")
    with pytest.raises(olc.OlcError, match="tol"):
        BestFixed(Ball(1.0), tol=0)
    with pytest.raises(olc.InvalidArgumentError, match="sequence"):
        BestFixed(Ball(1.0)).best_cumulative(olc.Trace(np.zeros((2, 2)), np.zeros(2)))
