"""The optimization LTV (nonconvex-meta-optimization App. B, eqs. (1)-(3)) and Alg. 4 Rollout."""

import numpy as np
import pytest
from _problems import spd_quadratic

from olc.errors import DivergenceError, InvalidArgumentError, ShapeError
from olc.systems import OptimizationSystem, dfc_control, dfc_controls, dfc_policy, mean_value_hessian

N = 6


def gd(oracle, x0, lr, delta, T):
    xs = [x0]
    for _ in range(T):
        xs.append((1 - delta) * xs[-1] - lr * oracle.grad(xs[-1]))
    return np.array(xs)


def check_ltv_identity(sys, tol):
    """z_{t+1} = A_t z_t + B u_t + w_t along the recorded trajectory."""
    err = 0.0
    for t in range(sys.T):
        pred = sys.A(t) @ sys.state(t) + sys.B() @ sys.u(t) + sys.w(t)
        err = max(err, np.max(np.abs(pred - sys.state(t + 1))))
    assert err < tol
    return err


def test_contract_from_the_brief():
    import olc

    A, b = spd_quadratic(20)
    oracle = olc.oracles.QuadraticOracle(A, b)
    value, grad = oracle.value_and_grad(np.zeros(20))
    assert value == 0.0 and np.array_equal(grad, b)
    system = olc.systems.OptimizationSystem(oracle, lr=0.1, weight_decay=0.0)
    assert (system.state_dim, system.control_dim) == (60, 20)
    assert system.B().shape == (60, 20)


@pytest.mark.parametrize("delta", [0.0, 0.05])
def test_zero_control_is_gradient_descent(quad, delta):
    sys = OptimizationSystem(quad, lr=0.2, weight_decay=delta)
    x0 = np.ones(N)
    xs = sys.run(x0, 30)
    assert np.max(np.abs(xs - gd(quad, x0, 0.2, delta, 30))) < 1e-12
    # and the matrices of eqs. (2)-(3) reproduce the same iterates from z_0 alone
    z = sys.state(0)
    for t in range(30):
        z = sys.A(t) @ z + sys.w(t)
    assert np.max(np.abs(z[:N] - xs[-1])) < 1e-12
    np.testing.assert_array_equal(sys.H(5), quad.H)  # eq. (1) exact for quadratics


def test_ltv_identity_with_random_controls(quad, logistic):
    rng = np.random.default_rng(5)
    for form in ("gd", "delayed"):
        sys = OptimizationSystem(quad, lr=0.1, weight_decay=0.01, form=form)
        sys.reset(rng.standard_normal(N))
        for _ in range(10):
            sys.step(0.1 * rng.standard_normal(N))
        check_ltv_identity(sys, 1e-12)
        # nonquadratic, stochastic: mean-value Hessian + secant correction make eq. (1) exact
        sys = OptimizationSystem(logistic, lr=0.5, weight_decay=0.01, form=form, seed=3)
        sys.reset(rng.standard_normal(N))
        for _ in range(8):
            sys.step(0.1 * rng.standard_normal(N))
        check_ltv_identity(sys, 1e-12)


def test_mean_value_hessian_quadrature_is_accurate(logistic):
    rng = np.random.default_rng(2)
    x0, x1 = rng.standard_normal(N), rng.standard_normal(N)
    H = mean_value_hessian(logistic, x0, x1, nodes=4, secant=False)
    r = logistic.grad(x1) - logistic.grad(x0) - H @ (x1 - x0)
    dg = logistic.grad(x1) - logistic.grad(x0)
    assert np.max(np.abs(r)) < 1e-2 * np.max(np.abs(dg))  # quadrature only: eq. (1) up to a small residual
    np.testing.assert_allclose(H, H.T, atol=1e-14)
    H8 = mean_value_hessian(logistic, x0, x1, nodes=8, secant=False)
    r8 = logistic.grad(x1) - logistic.grad(x0) - H8 @ (x1 - x0)
    assert np.max(np.abs(r8)) < np.max(np.abs(r))
    Hs = mean_value_hessian(logistic, x0, x1, nodes=4)
    assert np.max(np.abs(logistic.grad(x1) - logistic.grad(x0) - Hs @ (x1 - x0))) < 1e-14


def test_delayed_form_is_literal_eq2(quad):
    sys = OptimizationSystem(quad, lr=0.1, form="delayed")
    x0 = np.ones(N)
    xs = sys.run(x0, 15)
    ref = [x0, x0.copy()]  # z_0 = [x0; x0; 0]: first step has no gradient
    for _ in range(14):
        ref.append(ref[-1] - 0.1 * quad.grad(ref[-2]))
    assert np.max(np.abs(xs - np.array(ref))) < 1e-12
    A = sys.A(3)
    np.testing.assert_array_equal(A[:N, 2 * N:], -0.1 * np.eye(N))
    np.testing.assert_array_equal(A[2 * N:, :N], quad.H)
    np.testing.assert_array_equal(sys.w(3)[:2 * N], 0)


@pytest.mark.parametrize("delta", [0.0, 0.02])
def test_heavy_ball_is_a_dfc(quad, delta):
    """Alg. 1: x_{t+1} = (1-δ)x_t - ηg_t - Σ_h M^(h) g_{t+1-h} (M^(1) multiplies g_t).

    Momentum m_t = μ m_{t-1} + g_t, x_{t+1} = (1-δ)x_t - η m_t unrolls to
    -η g_t - Σ_{k>=1} ημ^k g_{t-k}, i.e. M^(1) = 0 and M^(h) = η μ^(h-1) I for h >= 2.
    """
    lr, mu, T = 0.1, 0.8, 25
    x0 = np.linspace(-1, 1, N)
    m, x, ref = np.zeros(N), x0.copy(), [x0]
    for _ in range(T):
        m = mu * m + quad.grad(x)
        x = (1 - delta) * x - lr * m
        ref.append(x)
    ref = np.array(ref)
    if delta == 0:  # classical heavy ball x_{t+1} = x_t - ηg_t + μ(x_t - x_{t-1})
        hb = [x0, x0 - lr * quad.grad(x0)]
        for _ in range(T - 1):
            hb.append(hb[-1] - lr * quad.grad(hb[-1]) + mu * (hb[-1] - hb[-2]))
        assert np.max(np.abs(ref - np.array(hb))) < 1e-12
    M = np.array([0.0] + [lr * mu ** (h - 1) for h in range(2, T + 1)])  # H = T >= steps: exact
    sys = OptimizationSystem(quad, lr=lr, weight_decay=delta)
    for M_form in (M, M[:, None] * np.ones(N), M[:, None, None] * np.eye(N)):
        xs = sys.run(x0, T, policy=dfc_policy(M_form))
        assert np.max(np.abs(xs - ref)) < 1e-12
    check_ltv_identity(sys, 1e-12)


def test_preconditioned_gd_is_a_dfc(quad):
    lr = 0.1
    P = np.diag(np.linspace(0.05, 0.3, N))
    M = np.zeros((3, N, N))
    M[0] = P - lr * np.eye(N)  # x_{t+1} = x_t - ηg_t - (P - ηI) g_t = x_t - P g_t
    sys = OptimizationSystem(quad, lr=lr)
    xs = sys.run(np.ones(N), 20, policy=dfc_policy(M))
    ref = [np.ones(N)]
    for _ in range(20):
        ref.append(ref[-1] - P @ quad.grad(ref[-1]))
    assert np.max(np.abs(xs - np.array(ref))) < 1e-12


def test_dfc_control_indexing():
    g = np.array([[1.0, 0], [0, 1.0], [2.0, 2.0]])  # g_0, g_1, g_2 (most recent last)
    np.testing.assert_array_equal(dfc_control([1.0, 10.0, 100.0, 1000.0], g), -np.array([102.0, 12.0]))
    U = dfc_controls([1.0, 10.0], g, L=2)  # buffer ends with g_{L-1}: g_{-1}, g_0, g_1 in local time
    np.testing.assert_array_equal(U, -np.array([[10.0, 1.0], [2.0, 12.0]]))  # u_0 = -(g_0 + 10 g_-1), ...
    with pytest.raises(ShapeError, match="M:"):
        dfc_control(np.zeros((2, 3)), g)
    with pytest.raises(ShapeError, match="disturbances"):
        dfc_controls([1.0], g, L=4)


def test_rollout_reproduces_the_actual_trajectory(logistic):
    """With the M used online, Alg. 4's counterfactual equals the recorded path (Alg. 1's call)."""
    H, L, T = 3, 4, 12
    M = np.array([0.05, 0.03, 0.01])
    sys = OptimizationSystem(logistic, lr=0.3, weight_decay=0.01, seed=0)
    sys.run(np.zeros(N), T, policy=dfc_policy(M))
    sys.observe()  # f_T revealed
    for t in (L, 7, T):
        kw = sys.window(t, L, H)
        res = sys.rollout(kw["x_start"], M, kw["losses"], disturbances=kw["disturbances"], return_path=True)
        assert abs(res.value - sys.losses[t]) < 1e-12
        assert np.max(np.abs(res.xs - sys.xs[t - L:t + 1])) < 1e-12
    # zero controls: plain GD on the stored losses
    x0 = np.ones(N)
    res = sys.rollout(x0, None, [None] * 6, return_path=True)
    assert np.max(np.abs(res.xs - gd(logistic, x0, 0.3, 0.01, 5))) < 1e-12
    # a closed-loop policy on counterfactual gradients equals the DFC run above
    r2 = sys.rollout(np.zeros(N), dfc_policy(M), sys.batches, return_path=True)
    assert np.max(np.abs(r2.xs - sys.xs)) < 1e-12 and abs(r2.value - sys.losses[T]) < 1e-12


@pytest.mark.parametrize("shape", ["scalar", "diag", "full", "controls"])
def test_rollout_grad_matches_finite_differences(logistic, shape):
    rng = np.random.default_rng(4)
    H, L = 3, 5
    sys = OptimizationSystem(logistic, lr=0.3, weight_decay=0.01)
    batches = [logistic.sample_batch(rng) for _ in range(L + 1)]
    G = rng.standard_normal((H + L - 1, N))
    x0 = rng.standard_normal(N)
    P = {"scalar": rng.standard_normal(H) * 0.05, "diag": rng.standard_normal((H, N)) * 0.05,
         "full": rng.standard_normal((H, N, N)) * 0.05, "controls": rng.standard_normal((L, N)) * 0.1}[shape]
    dist = None if shape == "controls" else G
    val, grad = sys.rollout_grad(x0, P, batches, disturbances=dist)
    assert grad.shape == P.shape and val == sys.rollout(x0, P, batches, disturbances=dist)
    eps, fd = 1e-6, np.zeros(P.size)
    for i in range(P.size):
        e = np.zeros(P.size)
        e[i] = eps
        fd[i] = (sys.rollout(x0, P + e.reshape(P.shape), batches, disturbances=dist)
                 - sys.rollout(x0, P - e.reshape(P.shape), batches, disturbances=dist)) / (2 * eps)
    assert np.max(np.abs(grad.ravel() - fd)) < 1e-8


def test_seeded_stochastic_trajectories_repeat(logistic):
    a = OptimizationSystem(logistic, lr=0.3, seed=9).run(np.zeros(N), 10)
    b = OptimizationSystem(logistic, lr=0.3, seed=9).run(np.zeros(N), 10)
    c = OptimizationSystem(logistic, lr=0.3, seed=10).run(np.zeros(N), 10)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_errors_and_divergence(quad):
    with pytest.raises(InvalidArgumentError, match="oracle"):
        OptimizationSystem(lambda x: x, lr=0.1)
    with pytest.raises(InvalidArgumentError, match="lr"):
        OptimizationSystem(quad, lr=-1.0)
    with pytest.raises(InvalidArgumentError, match="weight_decay"):
        OptimizationSystem(quad, lr=0.1, weight_decay=2.0)
    with pytest.raises(InvalidArgumentError, match="form"):
        OptimizationSystem(quad, lr=0.1, form="nesterov")
    sys = OptimizationSystem(quad, lr=0.1)
    with pytest.raises(ShapeError, match="x0"):
        sys.reset(np.ones(N + 1))
    sys.run(np.ones(N), 3)
    with pytest.raises(InvalidArgumentError, match="t:"):
        sys.A(3)
    with pytest.raises(ShapeError, match="u:"):
        sys.step(np.ones(2))
    with pytest.raises(ShapeError, match="controls"):
        sys.rollout(np.ones(N), np.ones((2, N)), [None] * 4)
    with pytest.raises(DivergenceError) as info:
        OptimizationSystem(quad, lr=1e3).run(np.ones(N), 500)
    assert info.value.partial is not None and info.value.partial.shape[1] == N
