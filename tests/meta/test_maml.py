"""MAML family: exact gradients vs finite differences, FO-B-MAML bias rates, iMAML, outer loop."""

import numpy as np
import pytest
from _problems import NaNOracle

import olc
from olc.learners import ClippedGD, NormalizedGD
from olc.meta import (
    FOBMAML,
    FOMAML,
    IMAML,
    MAML,
    Reptile,
    bilevel_meta_gradient,
    bilevel_objective,
    meta_train,
    solve_inner,
)
from olc.tasks import Task, linear_regression, random_quadratics


def _central_fd(F, th, h=1e-5):
    return np.array([(F(th + h * e) - F(th - h * e)) / (2 * h) for e in np.eye(th.size)])


def test_contract():
    tasks = linear_regression(n_tasks=20, dim=5, seed=0)
    task, theta = tasks[0], np.zeros(5)
    for learner in (MAML(inner_lr=0.1, inner_steps=1), FOMAML(inner_lr=0.1, inner_steps=1),
                    Reptile(inner_lr=0.1, inner_steps=5),
                    IMAML(lam=1.0, cg_steps=10, inner_lr=0.05, inner_steps=500),
                    FOBMAML(lam=1.0, nu=1e-3, mode="symmetric", inner_lr=0.05, inner_steps=500)):
        g = learner.meta_gradient(task, theta)
        assert g.shape == (5,) and np.all(np.isfinite(g))


@pytest.mark.parametrize("steps,lam", [(1, None), (3, None), (4, 0.5)])
def test_maml_matches_central_fd_quadratic(steps, lam):
    task = linear_regression(3, 4, seed=1)[2]
    th = np.random.default_rng(0).standard_normal(4)
    for method in ("auto", "hvp"):
        m = MAML(0.1, steps, lam=lam, method=method)
        fd = _central_fd(lambda x, m=m: m.objective(task, x), th)
        assert np.max(np.abs(m.meta_gradient(task, th) - fd)) < 1e-7


def test_maml_matches_central_fd_logistic():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = (rng.random(30) < 0.5).astype(float)
    task = Task(olc.oracles.LogisticOracle(X[:15], y[:15], l2=0.1), olc.oracles.LogisticOracle(X[15:], y[15:]))
    th = rng.standard_normal(3)
    m = MAML(0.5, 3)
    fd = _central_fd(lambda x: m.objective(task, x), th)
    assert np.max(np.abs(m.meta_gradient(task, th) - fd)) < 1e-8
    # FO-MAML drops the Jacobian: it must differ from the exact gradient here
    assert np.max(np.abs(FOMAML(0.5, 3).meta_gradient(task, th) - fd)) > 1e-3


def test_maml_one_step_closed_form():
    """online-meta-learning-ftml App. A: ∇F = (I − αA)(A(w − αAw − αb) + b) when f = f̂."""
    (t,) = random_quadratics(1, dim=3, seed=4)
    A, b = t.quadratic[0].A, t.quadratic[0].b
    w, a = np.ones(3), 0.1
    I3 = np.eye(3)
    expected = (I3 - a * A) @ (A @ (w - a * A @ w - a * b) + b)
    assert np.allclose(MAML(a, 1).meta_gradient(t, w), expected, atol=1e-13)


def test_reptile_and_fomaml_definitions():
    (t,) = random_quadratics(1, dim=2, seed=0)
    th = np.array([1.0, -2.0])
    phi = MAML(0.2, 3).adapt(t, th)
    assert np.allclose(Reptile(0.2, 3).meta_gradient(t, th), (th - phi) / 0.6)
    assert np.allclose(FOMAML(0.2, 3).meta_gradient(t, th), t.test.grad(phi))


def test_bilevel_closed_form_matches_fd_of_objective():
    """App. B closed form of ∇F_i equals central FD of F_i(θ) = f_i(φ*(θ))."""
    (t,) = random_quadratics(1, dim=3, condition=10, seed=5, test_shift=0.5)
    th = np.random.default_rng(1).standard_normal(3)
    fd = _central_fd(lambda x: bilevel_objective(t, x, 2.0), th)
    assert np.max(np.abs(bilevel_meta_gradient(t, th, 2.0) - fd)) < 1e-8


def _bias_slope(mode, nus, solver_kw):
    tasks = random_quadratics(4, dim=4, condition=10.0, seed=0)
    th = np.random.default_rng(0).standard_normal(4)
    errs = [np.mean([np.linalg.norm(FOBMAML(1.0, nu, mode, **solver_kw).meta_gradient(t, th)
                                    - bilevel_meta_gradient(t, th, 1.0)) for t in tasks]) for nu in nus]
    return np.polyfit(np.log(nus), np.log(errs), 1)[0], errs


def test_fobmaml_forward_bias_is_order_nu():
    slope, errs = _bias_slope("forward", np.logspace(-1, -4, 7), {"solver": "exact"})
    assert 0.9 < slope < 1.1, slope
    assert errs[-1] < 1e-4


def test_fobmaml_symmetric_bias_is_order_nu_squared():
    slope, errs = _bias_slope("symmetric", np.logspace(-0.5, -2.5, 7), {"solver": "exact"})
    assert 1.85 < slope < 2.15, slope


def test_fobmaml_with_gd_inner_solver_converges_to_closed_form():
    slope, errs = _bias_slope("symmetric", np.logspace(-0.5, -2, 4),
                              {"inner_lr": 0.3, "inner_steps": 3000, "tol": 1e-13})
    assert 1.85 < slope < 2.15 and errs[-1] < 1e-4


def test_imaml_matches_closed_form_with_enough_cg_steps():
    tasks = linear_regression(3, 5, seed=3)
    th = np.zeros(5)
    for t in tasks:
        exact = bilevel_meta_gradient(t, th, 1.0)
        g = IMAML(1.0, 10, 0.05, 2000, tol=1e-12).meta_gradient(t, th)
        assert np.linalg.norm(g - exact) / np.linalg.norm(exact) < 1e-8
        rough = IMAML(1.0, 1, 0.05, 2000, tol=1e-12).meta_gradient(t, th)
        assert np.linalg.norm(rough - exact) > 1e-6


def test_solve_inner_gd_matches_exact():
    (t,) = random_quadratics(1, dim=3, seed=2, test_shift=1.0)
    th = np.ones(3)
    for nu in (0.0, 0.01, -0.01):
        a = solve_inner(t, th, 1.0, nu=nu, solver="exact")
        b = solve_inner(t, th, 1.0, nu=nu, lr=0.3, steps=5000, tol=1e-13)
        assert np.allclose(a, b, atol=1e-11)


def test_solver_callable_is_any_inner_solver():
    (t,) = random_quadratics(1, dim=3, seed=2)

    def heavy_ball(grad, x0):
        x, v = x0, np.zeros_like(x0)
        for _ in range(3000):
            v = 0.5 * v - 0.2 * grad(x)
            x = x + v
        return x

    g = FOBMAML(1.0, 1e-3, "symmetric", solver="exact").meta_gradient(t, np.ones(3))
    h = FOBMAML(1.0, 1e-3, "symmetric", solver=heavy_ball).meta_gradient(t, np.ones(3))
    assert np.allclose(g, h, atol=1e-8)


def test_explicit_signatures_reject_unused_or_bad_hyperparameters():
    with pytest.raises(TypeError):
        MAML(0.1, 1, cg_steps=3)
    with pytest.raises(TypeError):
        Reptile(0.1, 1, nu=0.1)
    with pytest.raises(olc.InvalidArgumentError):
        FOBMAML(1.0, 1e-3, mode="backward", inner_lr=0.1, inner_steps=5)
    with pytest.raises(olc.InvalidArgumentError):
        FOBMAML(1.0, 1e-3, solver="exact", inner_lr=0.1)
    with pytest.raises(olc.InvalidArgumentError):
        FOBMAML(1.0, 1e-3)  # gd solver without inner_lr / inner_steps
    with pytest.raises(olc.InvalidArgumentError):
        MAML(-0.1, 1)
    with pytest.raises(olc.InvalidArgumentError):
        IMAML(1.0, 0, 0.1, 5)


def test_nonfinite_task_loss_raises():
    (t,) = random_quadratics(1, dim=2, seed=0)
    bad = Task(t.train, NaNOracle(2))
    for learner in (MAML(0.1, 2), FOMAML(0.1, 1), IMAML(1.0, 3, 0.1, 5), FOBMAML(1.0, 0.01, "forward", 0.1, 5)):
        with pytest.raises(olc.NonFiniteError):
            learner.meta_gradient(bad, np.ones(2))
            learner.objective(bad, np.ones(2))
    with pytest.raises(olc.NonFiniteError):  # diverging inner steps on a quadratic (closed-form path)
        MAML(1e3, 60).meta_gradient(t, np.ones(2))
    with pytest.raises(olc.NonFiniteError):
        FOMAML(0.1, 1).meta_gradient(t, np.array([np.nan, 1.0]))


def test_meta_train_outer_optimizers_decrease_loss_and_reproduce():
    tasks = linear_regression(10, 4, seed=0)
    m = MAML(0.1, 1)
    runs = {}
    for opt, kw in (("gd", {}), ("clipped", {"clip": 1.0}), ("normalized", {"beta": 1.0})):
        r = meta_train(m, tasks, np.zeros(4), outer_lr=0.3, n_steps=30, optimizer=opt, **kw)
        assert r.losses[-1] < r.losses[0] and r.thetas.shape == (31, 4)
        runs[opt] = r
    r2 = meta_train(m, tasks, np.zeros(4), outer_lr=0.3, n_steps=5, tasks_per_step=3, seed=4)
    r3 = meta_train(m, tasks, np.zeros(4), outer_lr=0.3, n_steps=5, tasks_per_step=3, seed=4)
    assert np.array_equal(r2.thetas, r3.thetas)
    with pytest.raises(olc.InvalidArgumentError):
        meta_train(m, tasks, np.zeros(4), outer_lr=0.3, n_steps=5, optimizer="clipped")
    with pytest.raises(olc.InvalidArgumentError):
        meta_train(m, [], np.zeros(4), outer_lr=0.3, n_steps=5)


def test_meta_train_divergence_keeps_partial():
    tasks = random_quadratics(3, dim=2, seed=0, scale=10.0)
    with pytest.raises(olc.DivergenceError) as info:
        meta_train(MAML(0.01, 1), tasks, np.ones(2), outer_lr=1e3, n_steps=500)
    assert info.value.partial.thetas.shape[0] >= 2


def test_clipped_and_normalized_steps():
    fb = olc.Feedback(0, "gradient", 0.0, np.array([3.0, 4.0]))
    c = ClippedGD(0.1, clip=1.0)
    s = c.update(c.init((2,)), fb)
    assert np.allclose(s.x, -0.1 * np.array([0.6, 0.8]))
    n = NormalizedGD(0.1, beta=5.0)
    s = n.update(n.init((2,)), fb)
    assert np.allclose(s.x, -0.1 * np.array([3.0, 4.0]) / 10.0)


# ---------------------------------------------------------------------------- input checks (audit)
def test_conjugate_gradient_rejects_nonfinite_and_bad_matvec():
    from olc.errors import NonFiniteError, ShapeError
    from olc.meta import conjugate_gradient

    with pytest.raises(NonFiniteError, match="b"):
        conjugate_gradient(lambda v: v, np.full(3, np.nan), 5)
    with pytest.raises(NonFiniteError, match="matvec"):
        conjugate_gradient(lambda v: v * np.nan, np.ones(3), 5)
    with pytest.raises(ShapeError, match=r"matvec.*\(3,\).*\(4,\)"):
        conjugate_gradient(lambda v: np.ones(4), np.ones(3), 5)
    with pytest.raises(ShapeError, match="x0"):
        conjugate_gradient(lambda v: v, np.ones(3), 5, x0=np.zeros(2))
    with pytest.raises(olc.errors.InvalidArgumentError, match="matvec"):
        conjugate_gradient(3, np.ones(3), 5)
    np.testing.assert_allclose(conjugate_gradient(lambda v: 2 * v, np.ones(3), 5), 0.5 * np.ones(3))


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"inner_lr": -1.0}, olc.errors.InvalidArgumentError, "inner_lr"),
    ({"inner_lr": np.nan}, olc.errors.NonFiniteError, "inner_lr"),
    ({"inner_lr": 0.1, "inner_steps": 0}, olc.errors.InvalidArgumentError, "inner_steps"),
    ({"inner_lr": 0.1, "x0": np.zeros(5)}, olc.errors.ShapeError, "x0"),
    ({"inner_lr": 0.1, "tol": -1.0}, olc.errors.InvalidArgumentError, "tol"),
    ({"inner_lr": 0.1, "max_iter": 0}, olc.errors.InvalidArgumentError, "max_iter"),
])
def test_fit_maml_validates_on_the_quadratic_path(kwargs, exc, match):
    from olc.meta import fit_maml

    tasks = linear_regression(3, 3, seed=0)
    assert all(t.quadratic is not None for t in tasks)
    with pytest.raises(exc, match=match):
        fit_maml(tasks, **kwargs)


def test_fit_maml_divergent_inner_steps_raise():
    from olc.meta import fit_maml

    with pytest.raises(olc.errors.NonFiniteError, match="inner_lr"):
        fit_maml(linear_regression(3, 3, seed=0), 1e6, 200)
