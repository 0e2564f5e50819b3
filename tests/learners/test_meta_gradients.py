"""Meta-gradients (optimistic-meta-gradients): heavy ball / Nesterov as special cases, eq. (6)
regret bounds, O(1/T) vs O(1/T²) rates, BMG (eq. (15)) and error-corrected BMG (Cor. 3)."""

import warnings

import numpy as np
import pytest

from olc import DivergenceError, InvalidArgumentError, NonFiniteError
from olc.learners import AOFTRL, BMG, ErrorCorrectedBMG, MetaGradient, OptimisticMetaGradient
from olc.learners.meta_gradients import (
    IdentityRule,
    MetaAdaGradRule,
    MetaMomentumRule,
    bootstrap_target,
    heavy_ball_coefficients,
    nesterov_coefficients,
)
from olc.sets import Box, Reals


def _quad(seed=0, n=3):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    A = M @ M.T + 0.2 * np.eye(n)
    return A, float(np.linalg.eigvalsh(A).max())


def _f(A):
    return lambda x: (0.5 * float(x @ A @ x), A @ x)


def test_identity_rule_is_heavy_ball_linear_weights():
    # Sec. 3: α_t = t gives μ_t = (t-2)/(t+1); Alg. 2's g_t gives the step ρ_t α_{t-1} β = 2(t-1)β/(t+1)
    A, L = _quad()
    x0, beta, T = np.array([4.0, 4.0, -1.0]), 0.2 / L, 80
    run = MetaGradient(IdentityRule(), beta, x0=x0, averaging=True, weights="linear").run(A, T=T)
    xb = [x0, x0.copy()]  # x̄_0 and x̄_1 = w_1 = x0
    for t in range(2, T):
        mu, step = (t - 2) / (t + 1), 2 * (t - 1) * beta / (t + 1)
        xb.append(xb[-1] + mu * (xb[-1] - xb[-2]) - step * (A @ xb[-1]))
    assert np.max(np.abs(np.array(xb) - run.x)) < 1e-10
    mu, step = heavy_ball_coefficients(T, beta, "linear")
    t = np.arange(2, T + 1)
    assert np.allclose(mu[2:], (t - 2) / (t + 1)) and np.allclose(step[2:], 2 * (t - 1) * beta / (t + 1))


def test_identity_rule_is_heavy_ball_uniform_weights():
    A, L = _quad(1)
    x0, beta, T = np.array([1.0, -2.0, 0.5]), 1.0 / L, 60
    run = MetaGradient(IdentityRule(), beta, x0=x0, averaging=True).run(A, T=T)
    xb = [x0, x0.copy()]
    for t in range(2, T):  # ρ_t = 1/t: μ_t = (t-2)/t, step β/t
        xb.append(xb[-1] + (t - 2) / t * (xb[-1] - xb[-2]) - beta / t * (A @ xb[-1]))
    assert np.max(np.abs(np.array(xb) - run.x)) < 1e-10


def test_optimistic_identity_rule_is_nesterov():
    # Sec. 6 with α_t = 1: x_{t+1} = y_t - (β/t)∇f(y_t), y_{t+1} = x_{t+1} + (t-1)/(t+1) (x_{t+1} - x_t)
    A, L = _quad(2)
    x0, beta, T = np.array([4.0, 4.0, 4.0]), 0.5 / L, 80
    run = OptimisticMetaGradient(IdentityRule(), beta, x0=x0, averaging=True).run(A, T=T)
    ys, xs = [x0, x0.copy()], [None, x0.copy()]
    for t in range(1, T - 1):
        xn = ys[t] - beta / t * (A @ ys[t])
        ys.append(xn + (t - 1) / (t + 1) * (xn - xs[t]))
        xs.append(xn)
    assert np.max(np.abs(np.array(ys) - run.x)) < 1e-10


def test_optimistic_linear_weights_nesterov_with_correction():
    A, L = _quad(3)
    x0, beta, T = np.array([-3.0, 2.0, 1.0]), 0.25 / L, 80
    run = OptimisticMetaGradient(IdentityRule(), beta, x0=x0, averaging=True, weights="linear").run(A, T=T)
    mu, eta, nu = nesterov_coefficients(T, beta, "linear")
    t = np.arange(1, T)
    assert np.allclose(mu[2:], (t - 1) / (t + 2)) and np.allclose(eta[1:T], 2 * beta * (t + 1) / t)
    assert np.allclose(nu[2:], -(2 * t + 1) / ((t + 1) * (t + 2)))
    ys, xs = [x0, x0.copy()], [None, x0.copy()]
    for k in range(1, T - 1):
        xn = ys[k] - eta[k] * (A @ ys[k])
        ys.append(xn + mu[k + 1] * (xn - xs[k]) + nu[k + 1] * (xn - ys[k]))
        xs.append(xn)
    assert np.max(np.abs(np.array(ys) - run.x)) < 1e-10
    assert np.allclose(nesterov_coefficients(T, beta)[2][2:], 0.0, atol=1e-12)  # α ≡ 1: plain Nesterov


def test_meta_momentum_meta_gradient_is_app_c_formula():
    A, _ = _quad(4)
    lr = 0.1
    run = MetaGradient(MetaMomentumRule(lr), 0.05, x0=np.ones(3), w0=1.0).run(A, T=5)
    g = [A @ x for x in run.x]
    for s in range(1, 5):  # ∇h_s = -lr ∇f(x_{s-1}) ⊙ ∇f(x_s)
        assert np.allclose(run.meta_grads[s - 1], -lr * g[s - 1] * g[s])


@pytest.mark.parametrize("make", [
    lambda x0: MetaGradient(MetaMomentumRule(0.1), 0.05, x0=x0, w0=1.0),
    lambda x0: MetaGradient(MetaMomentumRule(0.1), 0.02, x0=x0, w0=0.5, averaging=True, weights="linear"),
    lambda x0: OptimisticMetaGradient(MetaMomentumRule(0.1), 0.05, hint="current", x0=x0, w0=1.0),
    lambda x0: OptimisticMetaGradient(MetaMomentumRule(0.1), "adaptive", hint="previous", x0=x0, w0=1.0),
    lambda x0: MetaGradient(MetaAdaGradRule(0.3), 0.05, x0=x0, w0=2.0),
])
def test_meta_regret_obeys_eq6(make):
    A, _ = _quad(5)
    learner = make(np.array([4.0, 4.0, -2.0]))
    run = learner.run(A, T=60)
    rng = np.random.default_rng(0)
    W = learner._set(3)
    for u in [run.w0, W.project(run.w0 + rng.normal(size=3)), W.project(run.w[-1]), W.project(5 * rng.random(3))]:
        R, B = run.regret(u), run.regret_bound(u)
        assert np.all(R <= B + 1e-9)
        # the learner's bound uses β of its next decision (≤ β_T for the adaptive rate): never smaller
        assert B[-1] * (1 - 1e-12) <= learner.regret_bound(run.state, u) <= B[-1] * (1 + 1e-6)
    if isinstance(learner, OptimisticMetaGradient):  # delegates to AOFTRL.regret_bound
        inner = learner._inner(run.w0)
        assert isinstance(inner, AOFTRL)


def test_rates_without_and_with_optimism():
    from olc.experiments.meta_momentum_quadratic import rates

    r = rates(dim=60, T=400)
    assert -1.15 < r["meta-gradient (alpha_t=1, beta=1/L)"]["slope"] < -0.85
    assert -2.2 < r["optimistic (alpha_t=t, beta=1/4L)"]["slope"] < -1.8


def _bmg_reference(A, rule, beta, x0, w0, T, lr_target, corrected):
    """Direct BMG loop, eq. (14)-(15) with μ = ½||·||² (and Cor. 3's correction)."""
    x, w, xs = x0.copy(), np.asarray(w0, float).copy(), [x0.copy()]
    prev_x, prev_g, prev_hint = None, None, np.zeros_like(w)
    for _ in range(T - 1):
        g = A @ x
        if prev_x is not None:
            x1 = x + rule.phi(x, w, g)
            z = x1 - lr_target * (A @ x1)
            d = rule.vjp(prev_x, w, prev_g, x - z)
            if corrected:
                hint = d - rule.vjp(prev_x, w, prev_g, g)  # α_{t+1}g̃_{t+1} = Dφᵀ(x - z) - α_t g_t
                w = w - beta * (d - prev_hint)
                prev_hint = hint
            else:
                w = w - beta * d
        prev_x, prev_g = x, g
        x = x + rule.phi(x, w, g)
        xs.append(x.copy())
    return np.array(xs)


@pytest.mark.parametrize("cls,corrected", [(BMG, False), (ErrorCorrectedBMG, True)])
def test_bmg_matches_eq15_and_cor3(cls, corrected):
    A, L = _quad(6)
    rule = MetaMomentumRule(0.5 / L)
    x0, T, beta = np.array([2.0, -1.0, 1.0]), 25, 0.002
    target = bootstrap_target(A, rule, lr=0.1)
    run = cls(rule, beta, target, x0=x0, w0=1.0, W=Reals()).run(A, T=T)
    ref = _bmg_reference(A, rule, beta, x0, np.ones(3), T, 0.1, corrected)
    assert np.max(np.abs(ref - run.x)) < 1e-10
    u = run.w[-1]
    assert np.all(run.regret(u) <= run.regret_bound(u) + 1e-9)  # eq. (6) on the true meta-losses


def test_nonfinite_and_divergence_raise():
    bad = MetaGradient(MetaMomentumRule(1.0), 0.1, x0=np.ones(2), w0=1.0)
    with pytest.raises(NonFiniteError):
        bad.run(lambda x: (float("nan"), x), T=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow is reported as an olc error, not as numpy warnings
        with pytest.raises(DivergenceError) as info:
            MetaGradient(MetaMomentumRule(1e3), 1.0, x0=np.ones(2), w0=10.0).run(np.diag([1e3, 1.0]), T=400)
    part = info.value.partial  # the rounds played before the iterate overflowed are kept
    n = len(part.x)
    assert 0 < n < 400 and info.value.step == n and part.values.shape == (n,)  # round n failed
    assert len(part.meta_grads) == n - 1 and np.all(np.isfinite(part.x))
    replay = MetaGradient(MetaMomentumRule(1e3), 1.0, x0=np.ones(2), w0=10.0).run(np.diag([1e3, 1.0]), T=n)
    assert np.array_equal(replay.x, part.x) and np.array_equal(replay.w, part.w)


def test_reproducible_and_validated():
    A, _ = _quad(7)
    mk = lambda: OptimisticMetaGradient(MetaMomentumRule(0.1), 0.05, x0=np.ones(3), w0=1.0)  # noqa: E731
    r1, r2 = mk().run(A, T=30, seed=3), mk().run(A, T=30, seed=3)
    assert np.array_equal(r1.x, r2.x) and np.array_equal(r1.w, r2.w)
    with pytest.raises(InvalidArgumentError):
        MetaGradient(MetaMomentumRule(), 0.1, weights="linear")  # Alg. 1 has no weights
    with pytest.raises(InvalidArgumentError):
        OptimisticMetaGradient(MetaMomentumRule(), 0.1, hint="next")
    with pytest.raises(InvalidArgumentError):
        MetaGradient(MetaMomentumRule(), 0.1, x0=np.ones(2), w0=-1.0).init((2,))  # w0 outside W = {w >= 0}
    with pytest.raises(InvalidArgumentError):
        MetaGradient("momentum", 0.1)
    w = MetaGradient(MetaMomentumRule(1.0), 10.0, x0=np.ones(2), w0=0.1, W=Box(0.0, 0.2)).run(np.eye(2), T=20).w
    assert np.all((w >= 0) & (w <= 0.2 + 1e-12))


def test_heavy_ball_coefficients_validate_T():
    with pytest.raises(InvalidArgumentError, match="T"):
        heavy_ball_coefficients(0, 0.1)
    with pytest.raises(InvalidArgumentError, match="T"):
        heavy_ball_coefficients(2.5, 0.1)
    with pytest.raises(InvalidArgumentError, match="T"):
        nesterov_coefficients(0, 0.1)
    mu, step = heavy_ball_coefficients(2, 0.1)
    assert mu.shape == step.shape == (3,) and np.isfinite(mu[2]) and np.isfinite(step[2])
