"""Meta Mirror Descent (meta-mirror-descent): closed-form mirror step (eqs. 7-8) vs the
numerical argmin of eq. (1), forward-mode hypergradient (eq. 20) vs finite differences of
eq. (10), the convexity-limit warning, errors and reproducibility."""

import warnings

import numpy as np
import pytest
from _problems import central_differences
from scipy.optimize import minimize

from olc import DivergenceError, InvalidArgumentError, NonFiniteError
from olc.meta import MetaMD, ftml_step_limit
from olc.oracles import QuadraticOracle


def _task(seed=0):
    rng = np.random.default_rng(seed)
    C = np.tril(rng.normal(size=(2, 2))) + np.eye(2)
    return QuadraticOracle(2 * C @ C.T, -(rng.normal(size=2) + 1.0))


def _M(md):
    return md.init_params(2, 3) * np.array([[1.0], [1.3], [0.8]])


def test_closed_form_step_is_the_argmin_of_eq1():
    md = MetaMD(n_mix=3, eta=0.05)
    M = _M(md)
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(14):
        theta, g = rng.normal(size=2), rng.normal(size=2)
        if not md.step_is_exact(M, theta, g):
            continue
        nxt, j = md.mirror_step(M, theta, g)
        assert j == int(np.argmax((M ** 2) @ theta ** 2))  # eq. (8)
        res = minimize(lambda x: md.mirror_objective(M, theta, g, x), theta, method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000})
        assert np.max(np.abs(res.x - nxt)) < 1e-6
        assert md.mirror_objective(M, theta, g, nxt) <= res.fun + 1e-12
        checked += 1
    assert checked >= 6


def test_single_matrix_step_is_always_exact_and_gd_like():
    md = MetaMD(n_mix=1, eta=0.3)
    M = np.array([[0.7, 2.0]])
    theta, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    nxt, _ = md.mirror_step(M, theta, g)
    assert np.allclose(nxt, theta - 0.3 * g / M[0] ** 2)
    assert md.step_is_exact(M, theta, g)


def test_hypergradient_matches_central_differences():
    md = MetaMD(n_mix=3, eta=0.05, k=0.5, horizon=20)
    M = _M(md)
    tasks, t1 = [_task(1), _task(2)], [np.array([0.5, -1.0]), np.array([-1.0, 0.3])]
    E, dE = md.meta_objective(M, tasks, t1)
    fd = central_differences(lambda M: md.meta_objective(M, tasks, t1, grad=False)[0], M)
    assert np.max(np.abs(dE - fd)) < 1e-6 * max(1.0, np.max(np.abs(fd)))
    # eq. (10) by hand: Bregman term + k / min(m)
    thT, _ = md.unroll(M, tasks[0], t1[0], grad_mode=False)
    assert md.task_objective(M, tasks[0], t1[0], grad=False)[0] == pytest.approx(md.bregman(M, thT, t1[0]))


def test_convexity_limit_warning():
    task = _task(0)
    beta = float(np.linalg.eigvalsh(task.hessian(np.zeros(2))).max())
    M = np.ones((3, 2))
    with pytest.warns(UserWarning, match=r"1/\(2β\)"):
        MetaMD(eta=1.01 / (2 * beta)).deploy(M, task, np.zeros(2), max_steps=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MetaMD(eta=0.99 / (2 * beta)).deploy(M, task, np.zeros(2), max_steps=5)
    assert ftml_step_limit(2.0) == 0.25
    assert ftml_step_limit(2.0, strong_convexity=1.0, hessian_lipschitz=1.0, grad_bound=10.0) == pytest.approx(1 / 80)


def test_nonfinite_raises():
    md = MetaMD(eta=100.0, horizon=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(NonFiniteError):
            md.unroll(np.ones((3, 2)), _task(0), np.ones(2))
        with pytest.raises(NonFiniteError):
            md.deploy(np.ones((3, 2)), _task(0), np.ones(2), max_steps=5000)
    with pytest.raises(NonFiniteError):
        MetaMD().meta_objective(np.ones((3, 2)), [_task(0)], [np.array([np.nan, 0.0])])
    with pytest.raises(InvalidArgumentError):
        MetaMD(m_min=1.0, m_max=0.5)
    with pytest.raises(InvalidArgumentError):
        MetaMD().deploy(-np.ones((3, 2)), _task(0), np.ones(2))


def test_meta_train_reproducible_and_deploys():
    md = MetaMD(n_mix=2, eta=0.1, k=0.1, horizon=15, meta_lr=0.002, m_init=1.0)

    def sampler(rng):
        return _task(int(rng.integers(100)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        M1, h1 = md.meta_train(sampler, np.array([-2.0, 2.0]), 2, meta_steps=5, tasks_per_step=2, seed=4)
        M2, h2 = md.meta_train(sampler, np.array([-2.0, 2.0]), 2, meta_steps=5, tasks_per_step=2, seed=4)
        assert np.array_equal(M1, M2) and h1.objective == h2.objective
        assert np.all((M1 >= md.m_min) & (M1 <= md.m_max))
        run = md.deploy(M1, _task(7), np.array([-2.0, 2.0]), tol=1e-6, max_steps=50_000)
    assert run.converged and run.grad_norms[-1] <= 1e-6
    assert run.iterations == len(run.active) == run.thetas.shape[0] - 1


def test_batched_quadratic_unroll_matches_per_task_loop():
    # meta_objective vectorises constant-Hessian tasks; it must equal the per-task eq. (10)
    for tol in (None, 1e-3):
        md = MetaMD(n_mix=3, eta=0.05, k=0.5, horizon=300, unroll_tol=tol)
        M = _M(md)
        tasks, t1 = [_task(1), _task(2), _task(3)], [np.array([0.5, -1.0]), np.array([-1.0, 0.3]), np.ones(2)]
        E, dE = md.meta_objective(M, tasks, t1)
        parts = [md.task_objective(M, t, x) for t, x in zip(tasks, t1)]
        assert E == pytest.approx(np.mean([p[0] for p in parts]) + 0.5 / M.min(), rel=1e-12)
        loop = np.mean([p[1] for p in parts], axis=0)
        loop[np.unravel_index(np.argmin(M), M.shape)] -= 0.5 / M.min() ** 2
        assert np.allclose(dE, loop, rtol=1e-10, atol=1e-12)


def test_unroll_tol_stops_at_the_optimum_and_equals_a_fixed_horizon():
    md = MetaMD(n_mix=3, eta=0.05, horizon=5000, unroll_tol=1e-6)
    M, task, t1 = _M(md), _task(1), np.array([0.5, -1.0])
    thT, J = md.unroll(M, task, t1)
    assert np.linalg.norm(task.value_and_grad(thT)[1]) <= 1e-6  # θ_T ≈ θ_* (App. C)
    steps = md.deploy(M, task, t1, tol=1e-6, max_steps=5000).iterations  # same stopping rule
    assert 0 < steps < 5000
    fixed = MetaMD(n_mix=3, eta=0.05, horizon=steps)
    thF, JF = fixed.unroll(M, task, t1)
    assert np.array_equal(thF, thT) and np.allclose(JF, J)


def test_meta_clip_bounds_the_relative_step():
    md = MetaMD(n_mix=2, eta=0.1, k=0.1, horizon=50, meta_lr=10.0, m_init=1.0, meta_clip=0.05, m_min=1e-3, m_max=1e3)
    M0 = md.init_params(2, np.random.default_rng(4))  # meta_train draws M from its seeded rng first
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        M1, _ = md.meta_train(lambda rng: _task(1), np.array([-2.0, 2.0]), 2, meta_steps=1, tasks_per_step=1, seed=4)
    assert np.all(np.abs(M1 - M0) <= 0.05 * M0 + 1e-12)
    assert np.any(np.abs(M1 - M0) > 0.04 * M0)  # the (huge) plain step was clipped, not skipped


def test_meta_train_divergence_keeps_the_history():
    # eta = 0.1 with m = 1: stable on a task of curvature 2 (step·β = 0.2), divergent on curvature 100
    # (step·β = 10 > 2). The sampler gives the stiff task from the third meta-step on.
    calls = []

    def sampler(rng):
        calls.append(1)
        Q = np.diag([2.0, 2.0]) if len(calls) <= 2 else np.diag([100.0, 2.0])
        return QuadraticOracle(Q, np.ones(2))

    md = MetaMD(eta=0.1, horizon=400, meta_lr=1e-4)  # 9^400 overflows float64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DivergenceError) as info:
            md.meta_train(sampler, np.ones(2), 2, meta_steps=5, tasks_per_step=1, seed=0)
    err = info.value
    assert err.step == 2 and len(err.partial.objective) == 2
    assert np.all(np.isfinite(err.partial.objective)) and err.partial.M.shape == (3, 2)


def test_meta_train_optimizer_is_any_learner():
    """``optimizer=``: the default is OGD with step ``meta_lr`` on the box ``[m_min, m_max]`` (the same bits
    when given explicitly); another learner (Adam steps projected on the box) takes Alg. 1's steps instead."""
    from olc.learners import OGD
    from olc.optim import Chain, Scale, ScaleByAdam
    from olc.sets import Box

    kw = dict(n_mix=2, eta=0.1, k=0.1, horizon=15, m_init=1.0)
    box = Box(1e-3, 1e3, dim=4)

    def train(md):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return md.meta_train(lambda rng: _task(int(rng.integers(100))), np.array([-2.0, 2.0]), 2, meta_steps=5,
                                 tasks_per_step=2, seed=4)

    M0, h0 = train(MetaMD(meta_lr=0.002, **kw))
    M1, h1 = train(MetaMD(meta_lr=0.002, optimizer=OGD(box, lr=0.002), **kw))
    np.testing.assert_array_equal(M0, M1)
    assert h0.objective == h1.objective
    M2, h2 = train(MetaMD(optimizer=Chain(ScaleByAdam(), Scale(0.01), K=box), **kw))
    assert not np.array_equal(M2, M0) and np.all((M2 >= 1e-3) & (M2 <= 1e3)) and len(h2.objective) == 5
    with pytest.raises(InvalidArgumentError, match="optimizer"):
        MetaMD(optimizer=OGD)
