"""BestMetaLearner: the closed form w*_MAML = −A_†⁻¹b_† of online-meta-learning-ftml App. A vs scipy."""

import numpy as np
import pytest
from _problems import logistic_tasks
from scipy.optimize import minimize

import olc
from olc.comparators import BestMetaLearner
from olc.games import MetaLearningGame
from olc.learners import FTML
from olc.meta import MAML
from olc.tasks import linear_regression, random_quadratics


def test_paper_closed_form_when_train_equals_test():
    """App. A literally: A_† = mean (I − αA_i)²A_i, b_† = mean (I − αA_i)²b_i, w* = −A_†⁻¹b_†."""
    tasks = random_quadratics(8, dim=3, condition=4.0, seed=0)
    a = 0.1
    I3 = np.eye(3)
    A_dag = np.mean([(I3 - a * t.quadratic[0].A) @ (I3 - a * t.quadratic[0].A) @ t.quadratic[0].A for t in tasks], 0)
    b_dag = np.mean([(I3 - a * t.quadratic[0].A) @ (I3 - a * t.quadratic[0].A) @ t.quadratic[0].b for t in tasks], 0)
    w = BestMetaLearner(alpha=a).best_point(tasks)
    assert np.allclose(w, -np.linalg.solve(A_dag, b_dag), atol=1e-12)
    # and it differs from joint training w*_joint = −Ā⁻¹b̄ (App. A remark)
    A_bar = np.mean([t.quadratic[0].A for t in tasks], 0)
    b_bar = np.mean([t.quadratic[0].b for t in tasks], 0)
    assert np.linalg.norm(w + np.linalg.solve(A_bar, b_bar)) > 1e-3


@pytest.mark.parametrize("steps", [1, 3])
def test_closed_form_matches_scipy_on_linear_regression(steps):
    tasks = linear_regression(n_tasks=20, dim=5, seed=0)
    comp = BestMetaLearner(alpha=0.1, inner_steps=steps)
    w = comp.best_point(tasks)
    m = MAML(0.1, steps)
    res = minimize(lambda x: sum(m.objective(t, x) for t in tasks), np.zeros(5), method="BFGS",
                   options={"gtol": 1e-10})
    assert np.allclose(w, res.x, atol=1e-6)
    assert comp.value(tasks, w).sum() <= res.fun + 1e-10


def test_anytime_curve_is_prefix_optimum_and_beaten_by_nothing():
    tasks = linear_regression(10, 3, seed=4)
    comp = BestMetaLearner(alpha=0.1)
    curve = comp.best_cumulative(tasks)
    assert comp.was_anytime
    for T in (1, 4, 10):
        w = comp.best_point(tasks[:T])
        assert np.isclose(curve[T - 1], comp.value(tasks[:T], w).sum(), rtol=1e-10)
        rng = np.random.default_rng(T)
        for _ in range(200):
            assert comp.value(tasks[:T], w + 0.3 * rng.standard_normal(3)).sum() >= curve[T - 1] - 1e-12
    fixed = BestMetaLearner(alpha=0.1, anytime=False).best_cumulative(tasks)
    assert np.isclose(fixed[-1], curve[-1]) and np.all(fixed >= curve - 1e-12)


def test_numerical_comparator_for_general_tasks():
    rng = np.random.default_rng(0)
    tasks = logistic_tasks(4, rng)
    comp = BestMetaLearner(alpha=0.5)
    curve = comp.best_cumulative(tasks)
    assert not comp.was_anytime
    m = MAML(0.5, 1)
    res = minimize(lambda x: sum(m.objective(t, x) for t in tasks), np.zeros(2), method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12})
    assert curve[-1] <= res.fun + 1e-9


def test_regret_trace_integration_and_checks():
    tasks = random_quadratics(20, dim=2, seed=0)
    trace = olc.play(FTML(inner_lr=0.1), MetaLearningGame(tasks, inner_lr=0.1), seed=0)
    R = trace.regret(BestMetaLearner(alpha=0.1))
    assert R.shape == (20,) and R[-1] >= -1e-9
    with pytest.raises(olc.InvalidArgumentError, match="must match"):
        trace.regret(BestMetaLearner(alpha=0.2))
    with pytest.raises(olc.InvalidArgumentError):
        BestMetaLearner().best_point([])
    with pytest.raises(olc.InvalidArgumentError):
        BestMetaLearner(alpha=-1.0)
