"""FTML (Eq. 4, Alg. 1–2) and the Sec. 6 baselines: log regret, closed forms, protocol, errors."""

import numpy as np
import pytest
from _problems import NaNOracle, logistic_tasks

import olc
from olc.comparators import BestMetaLearner
from olc.games import MetaLearningGame
from olc.learners import FTML, FTLFineTune, TrainFromScratch, TrainOnEverything
from olc.learners.ftml import data_efficiency, fit_log_regret, online_meta_learning
from olc.tasks import Task, linear_regression, random_quadratics


def _regret(seed, T=300, **kw):
    tasks = random_quadratics(T, dim=3, condition=5.0, seed=seed, scale=2.0)
    trace = olc.play(FTML(inner_lr=0.1, **kw), MetaLearningGame(tasks, inner_lr=0.1), seed=seed)
    return trace.regret(BestMetaLearner(alpha=0.1))


def test_ftml_regret_grows_like_log_t():
    """online-meta-learning-ftml Cor. 2: FTML regret O(log T) on strongly convex (quadratic) tasks."""
    R = np.mean([_regret(s) for s in range(4)], axis=0)
    fit = fit_log_regret(R)
    assert fit["log_slope"] > 0 and fit["log_r2"] > 0.98, fit
    assert fit["log_r2"] > fit["sqrt_r2"], fit
    # doubling T adds a constant (b log 2), it does not multiply the regret by √2
    assert R[299] - R[149] < 0.6 * (R[149] - R[0]) + 2 * fit["log_slope"]


def test_ftml_first_rounds_follow_the_meta_leader():
    tasks = linear_regression(6, 3, seed=1)
    ftml = FTML(inner_lr=0.1)
    state = ftml.init((3,), np.random.default_rng(0))
    comp = BestMetaLearner(alpha=0.1)
    for t, task in enumerate(tasks):
        state = ftml.update(state, olc.Feedback(t, "full", 0.0, loss=task))
        assert np.allclose(state.w, comp.best_point(tasks[: t + 1]), atol=1e-10)


def test_ftml_general_tasks_use_numerical_leader():
    rng = np.random.default_rng(0)
    tasks = logistic_tasks(3, rng)
    ftml = FTML(inner_lr=0.5)
    state = ftml.init((2,), rng)
    for t, task in enumerate(tasks):
        state = ftml.update(state, olc.Feedback(t, "full", 0.0, loss=task))
    m = olc.meta.MAML(0.5, 1)
    g = np.sum([m.meta_gradient(t, state.w) for t in tasks], axis=0)
    assert np.linalg.norm(g) < 1e-6  # stationary point of Eq. 4


def test_practical_meta_update_approaches_exact_leader():
    tasks = linear_regression(5, 3, seed=2, n_train=20)
    exact = FTML(inner_lr=0.1)
    practical = FTML(inner_lr=0.1, meta_steps=400, meta_lr=0.1, meta_batch=5)
    s1 = exact.init((3,), np.random.default_rng(0))
    s2 = practical.init((3,), np.random.default_rng(0))
    for t, task in enumerate(tasks):
        fb = olc.Feedback(t, "full", 0.0, loss=task)
        s1, s2 = exact.update(s1, fb), practical.update(s2, fb)
    assert np.linalg.norm(s1.w - s2.w) < 0.05 * (1 + np.linalg.norm(s1.w))


def test_online_protocol_data_efficiency_and_reproducible():
    tasks = linear_regression(4, 3, seed=0, n_train=20, n_test=50, noise=0.05, spread=0.3)
    learners = {
        "ftml": lambda: FTML(0.1, meta_steps=5, meta_lr=0.2, batch_size=5, update_lr=0.3, update_steps=10),
        "toe": lambda: TrainOnEverything(0.2, 5, batch_size=5),
        "ftl": lambda: FTLFineTune(0.2, 5, 0.3, 10, batch_size=5),
        "scratch": lambda: TrainFromScratch(0.3, 10),
    }
    for make in learners.values():
        a = online_meta_learning(make(), tasks, n_per_step=5, threshold=0.5, seed=3, eval_at=(5,))
        b = online_meta_learning(make(), tasks, n_per_step=5, threshold=0.5, seed=3, eval_at=(5,))
        assert a == b
        assert len(a["efficiency"]) == 4 and len(a["curves"][0]) == 4 and len(a["at"]["5"]) == 4
        for eff, curve in zip(a["efficiency"], a["curves"]):
            hit = [n for n, v in curve if v <= 0.5]
            assert eff == (hit[0] if hit else None)


def test_data_efficiency():
    assert data_efficiency([10, 20, 30], [0.5, 0.8, 0.95], 0.9) == 30
    assert data_efficiency([10, 20], [0.5, 0.4], 0.45, higher_is_better=False) == 20
    assert data_efficiency([10, 20], [0.5, 0.6], 0.9) is None


def test_empty_buffer_and_bad_feedback_errors():
    ftml = FTML(inner_lr=0.1, meta_steps=2, meta_lr=0.1)
    state = ftml.init((3,), np.random.default_rng(0))
    with pytest.raises(olc.InvalidArgumentError, match="buffer is empty"):
        ftml.observe(state, None)
    with pytest.raises(olc.InvalidArgumentError, match="buffer"):
        ftml.meta_update(state)
    with pytest.raises(olc.InvalidArgumentError, match="buffer"):
        FTML(inner_lr=0.1).follow_the_meta_leader(state)
    with pytest.raises(olc.FeedbackError):
        ftml.update(state, olc.Feedback(0, "full", 0.0, loss=None))


def test_unused_hyperparameters_rejected():
    with pytest.raises(olc.InvalidArgumentError):
        FTML(inner_lr=0.1, meta_lr=0.1)  # meta_lr without the practical Meta-Update
    with pytest.raises(olc.InvalidArgumentError):
        FTML(inner_lr=0.1, meta_steps=3)  # Meta-Update without a step size
    with pytest.raises(TypeError):
        TrainFromScratch(0.1, 3, meta_lr=0.1)


def test_nonfinite_task_loss_in_game():
    (t,) = random_quadratics(1, dim=2, seed=0)
    bad = Task(t.train, NaNOracle(2))
    with pytest.raises(olc.NonFiniteError):
        olc.play(FTML(inner_lr=0.1), MetaLearningGame([t, bad], inner_lr=0.1), seed=0)


def test_fit_log_regret_and_protocol_input_checks():
    from olc.errors import NonFiniteError

    with pytest.raises(olc.errors.InvalidArgumentError, match="regret"):
        fit_log_regret([])
    with pytest.raises(olc.errors.InvalidArgumentError, match="regret"):
        fit_log_regret([1.0])
    with pytest.raises(NonFiniteError, match="regret"):
        fit_log_regret(np.full(10, np.nan))
    tasks = linear_regression(2, 3, seed=0)
    with pytest.raises(olc.errors.InvalidArgumentError, match="learner"):
        online_meta_learning(1, tasks, n_per_step=2, threshold=0.5)
    with pytest.raises(NonFiniteError, match="threshold"):
        online_meta_learning(TrainFromScratch(0.1, 2), tasks, n_per_step=2, threshold=np.nan)


def test_data_efficiency_checks_its_inputs():
    from olc.errors import NonFiniteError, ShapeError

    with pytest.raises(ShapeError, match=r"values.*3.*2"):
        data_efficiency([1, 2, 3], [0.1, 0.2], 0.5)
    with pytest.raises(NonFiniteError, match="values"):
        data_efficiency([1, 2, 3], [np.nan] * 3, 0.5)


def test_protocol_reports_a_nonfinite_metric():
    from olc.errors import NonFiniteError

    tasks = [Task(t.train, t.test, name=t.name, metrics={"acc": lambda w: float("nan")})
             for t in linear_regression(2, 3, seed=0)]
    with pytest.raises(NonFiniteError, match=r"acc.*linreg\[0\].*5 datapoints"):
        online_meta_learning(TrainFromScratch(0.1, 2), tasks, n_per_step=5, threshold=0.5, metric="acc")


def test_meta_update_optimizer_is_any_learner():
    """``optimizer=``: the default is plain GD with step ``meta_lr`` (the Eq. 5 recursion by hand, bit for bit);
    any olc learner takes the steps instead (Adam, as in the paper); the options are checked."""
    from olc.learners import OGD, Adam
    from olc.meta import MAML
    from olc.sets import Reals

    task = linear_regression(1, 3, seed=5, n_train=20)[0]
    fb = olc.Feedback(0, "full", 0.0, loss=task)
    w = np.zeros(3)
    for _ in range(7):  # Alg. 2 Meta-Update on a one-task buffer: w <- w - η ∇f(U(w))
        w = w - 0.05 * MAML(0.1).meta_gradient(task, w)
    default = FTML(0.1, meta_steps=7, meta_lr=0.05)
    given = FTML(0.1, meta_steps=7, optimizer=OGD(Reals(), 0.05))
    for learner in (default, given):
        np.testing.assert_array_equal(learner.update(learner.init((3,), 0), fb).w, w)
    adam = FTML(0.1, meta_steps=200, optimizer=Adam(0.05))
    s = adam.update(adam.init((3,), 0), fb)
    assert type(s.opt).__name__ == "AdamState" and s.opt.t == 200
    best = FTML(0.1).update(FTML(0.1).init((3,), 0), fb).w  # the exact leader (Eq. 4)
    assert np.linalg.norm(s.w - best) < 0.1 * np.linalg.norm(best)
    for kw in ({"meta_steps": 3, "meta_lr": 0.1, "optimizer": Adam(0.1)}, {"optimizer": Adam(0.1)},
               {"meta_steps": 3, "optimizer": Adam}):
        with pytest.raises(olc.InvalidArgumentError, match="optimizer"):
            FTML(0.1, **kw)
