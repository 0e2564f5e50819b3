"""BestFixedM: the exact best fixed meta-optimization policy M in hindsight on quadratics."""

import numpy as np
import pytest

import olc
from olc.comparators import BestFixedM
from olc.learners import SGD, MetaOpt
from olc.learners.metaopt import run_episodes

N_DIM = 6


def _problems(k, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        Q = rng.normal(size=(N_DIM, N_DIM))
        out.append(olc.oracles.QuadraticOracle(Q @ Q.T / N_DIM + 0.2 * np.eye(N_DIM), rng.normal(size=N_DIM)))
    return out


@pytest.mark.parametrize("kind", ["scalar", "diagonal", "full"])
def test_affine_rollout_equals_alg4_rollout(kind):
    """x_t(M) of the comparator equals OptimizationSystem.rollout (Alg. 4) with the same M and disturbances."""
    oracle = _problems(1)[0]
    rng = np.random.default_rng(1)
    T, H = 12, 3
    G = rng.normal(size=(T, N_DIM))
    M = {"scalar": rng.normal(size=H) * 0.05, "diagonal": rng.normal(size=(H, N_DIM)) * 0.05,
         "full": rng.normal(size=(H, N_DIM, N_DIM)) * 0.02}[kind]
    comp = BestFixedM(H, kind, base_lr=0.1, weight_decay=0.01).fit([oracle], [np.ones(N_DIM)], [G])
    curve = comp.curves_for(M)[0]
    system = olc.systems.OptimizationSystem(oracle, lr=0.1, weight_decay=0.01)
    for L in (1, 5, T - 1):  # f_L(x_L) of a rollout from x_0 over L steps, disturbances g_0..g_{L-1}
        ref = system.rollout(np.ones(N_DIM), M, [oracle] * (L + 1), disturbances=G[:L])
        assert curve[L] == pytest.approx(ref, rel=1e-10)


def test_fixed_M_reproduces_a_frozen_metaopt_run_and_is_optimal():
    problems = _problems(4)
    x0 = np.zeros(N_DIM)
    learner = MetaOpt(H=3, L=2, M="scalar", base_lr=0.1, meta_optimizer=olc.learners.Adam(lr=1e-2))
    res = run_episodes(learner, problems, N=4, T=30, x0=x0, seed=0)
    comp = BestFixedM(3, "scalar", base_lr=0.1).fit(problems, [x0] * 4, res.grads)
    # optimality: never beaten by the learner's M's, random M's, GD (M = 0)
    best = comp.cost(comp.M)
    for M in [np.zeros(3), res.Ms[-1], *np.random.default_rng(2).normal(size=(20, 3)) * 0.05]:
        assert best <= comp.cost(M) + 1e-9
    # the anytime prefix optimum is the closed form of each prefix, and the last equals the full fit
    assert comp.prefix_best[-1] == pytest.approx(best, rel=1e-9)
    sub = BestFixedM(3, "scalar", base_lr=0.1).fit(problems[:2], [x0] * 2, res.grads[:2])
    assert comp.prefix_best[1] == pytest.approx(sub.cost(sub.M), rel=1e-9)
    # a frozen M played from the start sees its own gradients: the comparator reproduces the trace exactly
    M0 = np.array([0.02, 0.01, -0.005])
    frozen = MetaOpt(H=3, L=2, M="scalar", base_lr=0.1, M0=M0, frozen=True)
    fr = run_episodes(frozen, problems, N=4, T=30, x0=x0, seed=0)
    comp2 = BestFixedM(3, "scalar", base_lr=0.1).fit(problems, [x0] * 4, fr.grads)
    np.testing.assert_allclose(comp2.curves_for(M0), fr.losses, rtol=1e-10)


def test_best_cumulative_on_an_optimization_game_trace():
    oracle = _problems(1)[0]
    tr = olc.play(SGD(0.1), olc.games.optimization(oracle, 40, np.zeros(N_DIM)))
    comp = BestFixedM(2, "diagonal", base_lr=0.1)
    best = comp.best_cumulative(tr)
    assert best.shape == (40,)
    # SGD is the M = 0 member of the class: the best fixed M is at least as good
    assert best[-1] <= tr.losses.sum() + 1e-9
    np.testing.assert_allclose(comp.curves_for(np.zeros((2, N_DIM)))[0], tr.losses, rtol=1e-10)


def test_bad_input():
    with pytest.raises(olc.OlcError, match="H"):
        BestFixedM(0)
    with pytest.raises(olc.InvalidArgumentError, match="M"):
        BestFixedM(2, "tensor")
    comp = BestFixedM(2)
    with pytest.raises(olc.InvalidArgumentError, match="problems"):
        comp.fit(_problems(2), [np.zeros(N_DIM)] * 2, [np.zeros((5, N_DIM))])
    with pytest.raises(olc.ShapeError, match="grads"):
        comp.fit(_problems(1), [np.zeros(N_DIM)], [np.zeros((5, 3))])
