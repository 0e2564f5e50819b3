"""The optimizer stack (olc.optim): chains against hand-written loops and scipy, the one start rule,
the one finiteness check, the state type, and outer optimizers chosen by passing a learner."""

import pickle

import numpy as np
import pytest

import olc
from olc import optim as O
from olc.game import Feedback
from olc.learners import AOFTRL, FTRL, OGD, SGD, AdaGrad, Adam, Hedge, Mechanic
from olc.meta import MAML, meta_train, outer_optimizer
from olc.oracles import QuadraticOracle
from olc.sets import Ball, Box, Reals, Simplex

D = 5


@pytest.fixture(scope="module")
def quad():
    rng = np.random.default_rng(7)
    Q = rng.normal(size=(D, D))
    return QuadraticOracle(Q @ Q.T / D + 0.3 * np.eye(D), rng.normal(size=D)), rng.normal(size=D)


def test_custom_chain_matches_its_hand_written_recursion(quad):
    """clip → Adam scaling → decoupled decay → schedule, written out by hand."""
    oracle, x0 = quad
    opt = O.Chain(O.ClipByNorm(0.5), O.ScaleByAdam((0.8, 0.99), 1e-6), O.AddDecayedWeights(1e-2),
                  O.Scale(O.InverseSqrt(0.1)))
    tr = olc.learners.optimizers.train(opt, oracle, 60, x0)
    x, m, v, xs = x0.copy(), np.zeros(D), np.zeros(D), []
    for t in range(1, 61):
        xs.append(x.copy())
        g = oracle.grad(x)
        g = g * min(1.0, 0.5 / np.linalg.norm(g))
        m, v = 0.8 * m + 0.2 * g, 0.99 * v + 0.01 * g * g
        u = (m / (1 - 0.8 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-6)
        x = x - 0.1 / np.sqrt(t) * (u + 1e-2 * x)
    np.testing.assert_allclose(tr.decisions, xs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr.final_state.x, x, rtol=0, atol=1e-12)
    assert tr.losses[-1] < tr.losses[0]


def test_projected_heavy_ball_and_normalized_steps_stay_in_the_set(quad):
    oracle, x0 = quad
    K = Box(-0.2, 0.3, dim=D)
    tr = olc.learners.optimizers.train(O.Chain(O.Normalize(0.1), O.Momentum(0.5), O.Scale(0.05), K=K, x0=x0), oracle, 40)
    x, b = np.clip(x0, -0.2, 0.3), np.zeros(D)
    for t in range(40):
        np.testing.assert_allclose(tr.decisions[t], x, atol=1e-14)
        g = oracle.grad(x)
        b = 0.5 * b + g / (0.1 + np.linalg.norm(g))
        x = np.clip(x - 0.05 * b, -0.2, 0.3)
    assert np.all(K.contains(tr.decisions))


def test_adagrad_projects_in_its_own_norm_as_scipy_does():
    """The step of AdaGrad over a ball is argmin_{z∈K} Σ S_i (z_i − y_i)² (scipy SLSQP as the reference)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    learner = AdaGrad(Ball(1.0), lr=2.0, eps=1e-3)
    state = learner.init((3,))
    for t in range(6):
        g = rng.normal(size=3) * np.array([5.0, 1.0, 0.1])
        new = learner.update(state, Feedback(t, "gradient", 0.0, g))
        S = np.sqrt(1e-3 + new.sq)
        y = state.x - 2.0 * g / S
        ref = minimize(lambda z: np.sum(S * (z - y) ** 2), np.zeros(3), method="SLSQP",
                       constraints=[{"type": "ineq", "fun": lambda z: 1.0 - z @ z}], options={"ftol": 1e-15}).x
        np.testing.assert_allclose(new.x, ref, atol=1e-6)
        state = new


def test_start_rule_is_shared():
    K = Ball(1.0)
    # a set: the constructor's x0 projected, init's x0 wins, default the centre Π_K(0)
    np.testing.assert_allclose(OGD(K, x0=[3.0, 4.0]).init(2).x, [0.6, 0.8])
    np.testing.assert_allclose(OGD(K, x0=[0.1, 0.0]).init(2, x0=[0.0, 0.2]).x, [0.0, 0.2])
    np.testing.assert_array_equal(OGD(Box(1.0, 2.0, dim=2)).init(2).x, [1.0, 1.0])
    # unconstrained: a start is required; a constructor x0 of another shape is refused even when init's wins
    with pytest.raises(olc.InvalidArgumentError, match="x0: Chain needs a starting point"):
        O.Chain(O.Scale(0.1)).init(3)
    with pytest.raises(olc.ShapeError, match=r"x0: SGD was built with x0 of shape \(2,\)"):
        SGD(0.1, x0=np.zeros(2)).init(3, x0=np.zeros(3))
    # FTRL's regulariser centre follows the same rule (default 0, never projected)
    np.testing.assert_array_equal(FTRL(K, lr=0.1, x0=[3.0, 4.0]).init(2).x0, [3.0, 4.0])
    np.testing.assert_array_equal(FTRL(K, lr=0.1).init(2).x0, [0.0, 0.0])
    # learners whose first decision is fixed by their regulariser say so
    for learner in (Hedge(), AOFTRL(K)):
        with pytest.raises(olc.InvalidArgumentError, match="x0"):
            learner.init(2, x0=np.zeros(2))


def test_one_finiteness_check_and_divergence_in_play(quad):
    oracle, x0 = quad
    opt = O.Chain(O.ScaleByAdaGrad(), O.Scale(0.1), x0=x0)
    s = opt.init(D)
    with pytest.raises(olc.NonFiniteError, match="gradient of step 0"):
        opt.step(s, np.full(D, np.nan))
    with pytest.raises(olc.NonFiniteError, match="Chain: the iterate became non-finite at step 1"):
        O.Chain(O.Scale(1e308)).step(O.Chain(O.Scale(1e308)).init(D, x0=x0), np.full(D, 1e308))
    # a finite gradient that overflows the iterate in round k: DivergenceError with the k rounds before it
    seq = [olc.losses.Linear(np.ones(2))] * 6 + [olc.losses.FunctionLoss(lambda x: 0.0, lambda x: np.full(2, 1e308))]
    with pytest.raises(olc.DivergenceError, match="OGD: the iterate became non-finite at step 7") as err:
        olc.play(OGD(Reals(), lr=10.0), olc.games.adaptive(lambda t, p, r: seq[t], 7, (2,)))
    assert err.value.partial.T == 6


def test_state_type_fields_and_pickling(quad):
    oracle, x0 = quad
    tr = olc.learners.optimizers.train(Mechanic(Adam(0.01)), oracle, 20, x0)
    st = tr.final_state
    assert type(st).__name__ == "MechanicState" and isinstance(st, olc.optim.ChainState)
    assert st.t == 20 and st.s.shape == (6,) and st.base[1].m.shape == (D,)  # read-through, nested base state
    with pytest.raises(AttributeError, match="no field 'nope'"):
        _ = st.nope
    back = pickle.loads(pickle.dumps(st))
    assert type(back) is type(st)
    np.testing.assert_array_equal(back.delta, st.delta)
    opt = pickle.loads(pickle.dumps(SGD(0.1, weight_decay=1e-3)))
    np.testing.assert_array_equal(olc.learners.optimizers.train(opt, oracle, 5, x0).decisions,
                                  olc.learners.optimizers.train(SGD(0.1, weight_decay=1e-3), oracle, 5, x0).decisions)
    # each optimizer class has its own state type, so play refuses another optimizer's state
    adam_state = Adam(0.1).init(D, x0=x0)
    with pytest.raises(olc.InvalidArgumentError, match="SGDState.*AdamState"):
        olc.play(SGD(0.1), olc.games.optimization(oracle, 5, x0), state=adam_state)


def test_bad_stages_and_sets_are_named():
    with pytest.raises(olc.InvalidArgumentError, match=r"transforms\[1\]"):
        O.Chain(O.Scale(0.1), "adam")
    with pytest.raises(olc.InvalidArgumentError, match="K: a preconditioned projection"):
        O.Chain(O.ScaleByAdaGrad(), O.Scale(0.1), K=Simplex(3))
    with pytest.raises(olc.InvalidArgumentError, match="base"):
        O.Mechanize(OGD(Ball(1.0)))
    with pytest.raises(olc.InvalidArgumentError, match="clip"):
        O.ClipByNorm(0.0)
    with pytest.raises(olc.InvalidArgumentError, match="momentum"):
        O.Momentum(1.0)
    r = repr(O.Chain(O.ClipByNorm(1.0), O.Scale(0.1), K=Reals()))
    assert r == "Chain(ClipByNorm(clip=1.0), Scale(lr=Constant(value=0.1)), K=Reals(), x0=None)"
    assert repr(SGD(0.1, weight_decay=1e-3)) == "SGD(lr=Constant(value=0.1), weight_decay=0.001, x0=None)"


def test_outer_optimizer_is_any_learner():
    from olc.tasks import linear_regression

    tasks = linear_regression(8, 3, seed=1)
    m = MAML(0.1, 1)
    by_name = meta_train(m, tasks, np.zeros(3), outer_lr=0.3, n_steps=15, optimizer="gd")
    by_learner = meta_train(m, tasks, np.zeros(3), n_steps=15, optimizer=OGD(Reals(), lr=0.3))
    np.testing.assert_array_equal(by_name.thetas, by_learner.thetas)
    adam = meta_train(m, tasks, np.zeros(3), n_steps=40, optimizer=Adam(0.05))
    assert adam.losses[-1] < 0.5 * adam.losses[0]
    with pytest.raises(olc.InvalidArgumentError, match="carries its own hyperparameters"):
        outer_optimizer(Adam(0.05), 0.3)
    with pytest.raises(olc.InvalidArgumentError, match="outer_lr"):
        outer_optimizer("gd")
    with pytest.raises(olc.InvalidArgumentError, match="optimizer"):
        outer_optimizer("adam", 0.1)

