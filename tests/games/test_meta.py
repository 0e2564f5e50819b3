"""Meta-learning games (olc.games.meta) and the callable oracle they run on: meta-training as
olc.play against a hand-written Alg. 1 loop, the data-efficiency game's rounds, MetaMD's learner."""

import numpy as np
import pytest

import olc
from olc.errors import InvalidArgumentError
from olc.games import DataArrival, DataEfficiencyGame, MetaLearningGame, meta_training, optimization
from olc.learners import FTML, OGD, TrainFromScratch
from olc.meta import MAML, MetaMD, maml_quadratic, meta_train
from olc.oracles import FunctionOracle, QuadraticOracle
from olc.sets import Reals
from olc.tasks import linear_regression, random_quadratics


def test_meta_training_game_is_alg1_gd_on_the_maml_objective():
    tasks = random_quadratics(4, dim=3, seed=1)
    m, lr, T = MAML(0.1, 2), 0.2, 12
    tr = olc.play(OGD(Reals(), lr), meta_training(m, tasks, T, np.ones(3)))
    # independent reference: the MAML objective of quadratic tasks is quadratic, ∇F = Pθ + q (closed form)
    forms = [maml_quadratic(t, 0.1, 2) for t in tasks]
    P, q = np.mean([f.A for f in forms], axis=0), np.mean([f.b for f in forms], axis=0)
    th = np.ones(3)
    for t in range(T):
        np.testing.assert_allclose(tr.decisions[t], th, rtol=1e-12, atol=1e-14)
        assert tr.losses[t] == pytest.approx(np.mean([m.objective(k, th) for k in tasks]), rel=1e-12)
        th = th - lr * (P @ th + q)
    # meta_train is this play (same numbers, bitwise)
    r = meta_train(m, tasks, np.ones(3), outer_lr=lr, n_steps=T)
    np.testing.assert_array_equal(r.thetas[:-1], tr.decisions)
    np.testing.assert_array_equal(r.grad_norms, tr.info["grad_norms"])


def test_meta_training_draws_distinct_tasks_from_its_seed():
    tasks = random_quadratics(5, dim=2, seed=0)
    env = meta_training(MAML(0.1), tasks, 4, np.zeros(2), tasks_per_step=2, seed=7)
    assert env.stochastic
    olc.play(OGD(Reals(), 0.1), env)
    rng = np.random.default_rng(7)
    for batch in env.report()["batches"]:
        assert batch == [tasks[j] for j in rng.choice(5, 2, replace=False)]
    with pytest.raises(InvalidArgumentError, match="tasks_per_step"):
        meta_training(MAML(0.1), tasks, 4, np.zeros(2), tasks_per_step=6)
    with pytest.raises(InvalidArgumentError, match="learner"):
        meta_training(object(), tasks, 4, np.zeros(2))


def test_data_efficiency_game_rounds_and_observations():
    tasks = linear_regression(3, 2, seed=0, n_train=12)
    env = DataEfficiencyGame(tasks, 5)
    assert env.horizon == 9  # 5, 10, 12 points per task
    env.reset(np.random.default_rng(0))
    obs = [env.observe(t) for t in range(env.horizon)]
    assert [o.n for o in obs] == [5, 10, 12] * 3 and [o.new for o in obs] == [True, False, False] * 3
    assert all(isinstance(o, DataArrival) for o in obs) and obs[3].task is tasks[1]
    tr = olc.play(TrainFromScratch(0.3, 4), env)
    w = tasks[2].adapt(np.zeros(2), 0.3, 4, 10)  # round 7: task 2 with 10 points, trained from scratch
    assert tr.losses[7] == pytest.approx(tasks[2].evaluate(w)["loss"], rel=1e-14)
    np.testing.assert_array_equal(tr.info["task"], np.repeat([0, 1, 2], 3))
    with pytest.raises(InvalidArgumentError, match="metric"):
        DataEfficiencyGame(tasks, 5, metric="accuracy")


def test_meta_learning_game_moved_with_a_compatibility_import():
    from olc.games import MetaLearningGame as Old

    assert Old is MetaLearningGame
    tasks = random_quadratics(3, dim=2, seed=0)
    assert olc.play(FTML(0.1), MetaLearningGame(tasks, 0.1)).T == 3


def test_metamd_learner_plays_the_deployment_game():
    md = MetaMD(n_mix=2, eta=0.1)
    M = np.array([[1.5, 2.0], [2.0, 1.5]])
    task = QuadraticOracle(np.diag([1.0, 3.0]), np.ones(2))
    run = md.deploy(M, task, np.ones(2), tol=1e-4, max_steps=1000)
    th = np.ones(2)
    for t in range(3):  # eqs. (7)-(8) by hand
        np.testing.assert_array_equal(run.thetas[t], th)
        j = int(np.argmax((M * M) @ (th * th)))
        assert run.active[t] == j
        th = th - 0.1 * task.grad(th) / M[j] ** 2
    tr = olc.play(md.learner(M), optimization(task, 1001, np.ones(2), tol=1e-4))
    np.testing.assert_array_equal(tr.decisions, run.thetas)
    assert run.converged and run.iterations == tr.T - 1


def test_function_oracle():
    f = FunctionOracle(2, lambda x: (float(x @ x), 2 * x))
    assert f.value_and_grad(np.ones(2))[0] == 2.0 and not f.stochastic
    s = FunctionOracle(2, lambda x, b: (b, x), sample=lambda rng: 3.0)
    assert s.stochastic and s.value_and_grad(np.ones(2), s.sample_batch(None))[0] == 3.0
    with pytest.raises(InvalidArgumentError, match="pair"):
        FunctionOracle(2, lambda x: 1.0).value_and_grad(np.ones(2))
    with pytest.raises(InvalidArgumentError, match="fun"):
        FunctionOracle(2, 3)
    with pytest.raises(olc.NonFiniteError):
        FunctionOracle(2, lambda x: (np.nan, x)).value_and_grad(np.ones(2))


def test_meta_training_resumes_from_a_checkpoint_bitwise(tmp_path):
    tasks = linear_regression(6, 3, seed=0)
    m = MAML(0.1)
    calls = []

    def flaky_loss(theta):  # the outer loss fails in round 9 (a stand-in for a killed run)
        calls.append(1)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return float(np.mean([m.objective(t, theta) for t in tasks]))

    def game(loss=None):
        return meta_training(m, tasks, 20, np.zeros(3), tasks_per_step=2, loss=loss, seed=5)

    full = olc.play(OGD(Reals(), 0.3), game())
    path = tmp_path / "meta.ckpt"
    with pytest.raises(KeyboardInterrupt):
        olc.play(OGD(Reals(), 0.3), game(flaky_loss), checkpoint=path, every=4)
    resumed = olc.play(OGD(Reals(), 0.3), game(), resume=path)
    np.testing.assert_array_equal(resumed.decisions, full.decisions)
    np.testing.assert_array_equal(resumed.losses, full.losses)
