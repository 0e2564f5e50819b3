"""Controllers: LQR against Riccati / python-control, GPC against the kernel reference and
finite differences, GPC vs LQR on the three disturbance kinds, regret slopes, bad inputs."""

import re

import numpy as np
import pytest
from _problems import central_differences

import olc
from olc.errors import DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError
from olc.optim import InverseSqrt, Power
from olc.systems import disturbances as D
from olc.systems import library as lib


def _di():
    s = lib.double_integrator()
    return s, olc.systems.QuadraticCost(np.eye(2), np.eye(1))


def _slope(Ts, values):
    return float(np.polyfit(np.log(Ts), np.log(values), 1)[0])


# ----------------------------------------------------------------------------------------- LQR

def test_lqr_matches_riccati_and_python_control():
    control = pytest.importorskip("control")
    for s in (lib.double_integrator(), lib.inverted_pendulum(), lib.random_stable(3, 2, 0.9, seed=1)):
        d, m = s.state_dim, s.control_dim
        rng = np.random.default_rng(d)
        G = rng.standard_normal((d, d))
        Q, R = G @ G.T + 0.1 * np.eye(d), np.diag(rng.uniform(0.5, 2.0, m))
        lqr = olc.learners.LQR(s, olc.systems.QuadraticCost(Q, R))
        K_ref, P_ref, _ = control.dlqr(s.A(0), s.B(0), Q, R)
        np.testing.assert_allclose(lqr.K, K_ref, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(lqr.P, P_ref, rtol=1e-8, atol=1e-10)
        A, B, P = s.A(0), s.B(0), lqr.P  # the DARE residual
        res = A.T @ P @ A - P - A.T @ P @ B @ np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A) + Q
        assert np.max(np.abs(res)) < 1e-8 * max(1.0, np.max(np.abs(P)))
        # no 1/2 in the cost: scaling Q and R together leaves K unchanged
        K2 = olc.systems.lqr_gain(A, B, 7 * Q, 7 * R)[0]
        np.testing.assert_allclose(K2, lqr.K, rtol=1e-8, atol=1e-12)


def test_finite_horizon_lqr_is_optimal_and_converges():
    s, cost = _di()
    T = 60
    A_seq, B_seq = s.matrices(T)
    Ks, Ps = olc.systems.lqr_gains(A_seq, B_seq, cost.Q, cost.R)
    # without disturbances the optimal cost from x0 is x0ᵀ P_0 x0
    x0 = np.array([1.0, -2.0])
    game = olc.games.control(olc.systems.LTVSystem(np.array(A_seq), np.array(B_seq)), np.zeros((T, 2)), cost, x0=x0)
    tr = olc.play(olc.learners.LQR(game.system, cost), game)
    assert tr.losses.sum() == pytest.approx(x0 @ Ps[0] @ x0, rel=1e-10)
    # any perturbed gain sequence does worse
    for k in range(5):
        Kp = Ks + 0.05 * np.random.default_rng(k).standard_normal(Ks.shape)
        tr2 = olc.play(olc.learners.LinearFeedback(Kp), game)
        assert tr2.losses.sum() > tr.losses.sum()
    # far from the end the gains approach the infinite-horizon gain
    np.testing.assert_allclose(Ks[0], olc.learners.LQR(s, cost).K, atol=1e-8)


# ----------------------------------------------------------------------------------------- GPC

@pytest.mark.parametrize("case", ["lti-op", "lti-fro", "ltv"])
def test_gpc_equals_kernel_reference(case):
    """Single-system GPC via olc.play == the batched numpy reference of olc.kernels (1e-10)."""
    kernels = pytest.importorskip("olc.kernels")
    T, H = 250, 5
    if case == "ltv":
        s = lib.switching_system(T=T, d=3, m=2, spectral_radius=0.6, seed=1)
    else:
        s = lib.random_stable(3, 2, 0.95, seed=2)
    norm = "fro" if case == "lti-fro" else "op"
    cost = olc.systems.QuadraticCost(np.eye(3), 0.5 * np.eye(2))
    W = D.sinusoidal(T, 3, seed=3) + 0.3 * np.random.default_rng(1).standard_normal((T, 3))
    kappa = 0.3
    gpc = olc.learners.GPC(s, cost, H=H, lr=InverseSqrt(0.2), kappa_M=kappa, gamma=0.1, norm=norm)
    tr = olc.play(gpc, olc.games.control(s, W, cost), seed=0)
    A, B = (np.asarray(a) for a in s.matrices(T))
    lrs = np.array([gpc.lr(t + 1) for t in range(T)])
    ltv = case == "ltv"
    res = kernels.gpc_rollout(A if ltv else A[0], B if ltv else B[0], W[None], gpc.K, H=H, lr=lrs, kappa=kappa,
                              gamma=0.1, norm=norm, Q=cost.Q, R=cost.R, return_controls=True,
                              time_varying=True if ltv else None, backend="numpy")
    M_final = gpc.current_M(tr.final_state)
    np.testing.assert_allclose(tr.losses, res.costs[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(tr.decisions, res.controls[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(M_final, res.M[0], rtol=1e-10, atol=1e-10)
    lag_norms = np.linalg.norm(M_final, ord=2 if norm == "op" else "fro", axis=(1, 2))
    if not ltv:
        assert np.any(np.isclose(lag_norms, kappa * 0.9 ** np.arange(1, H + 1)))  # the projection was active


def _loop_counterfactual(gpc, M, wbuf, t, A_seq, B_seq):
    """docs/gpc-semantics.md step 4 written literally (newest-first buffer)."""
    H = gpc.H
    w = lambda s: wbuf[t - 1 - s] if 0 <= t - 1 - s < 2 * H and s >= 0 else np.zeros(gpc.d)  # noqa: E731
    dfc = lambda s, Mm: sum(Mm[i - 1] @ w(s - i) for i in range(1, H + 1))  # noqa: E731

    def loss(Mm):
        y = np.zeros(gpc.d)
        for s in range(t - H, t):
            k = max(s, 0)
            v = -gpc.K @ y + dfc(s, Mm)
            y = A_seq[k] @ y + B_seq[k] @ v + w(s)
        v = -gpc.K @ y + dfc(t, Mm)
        return y @ gpc.cost.Q @ y + v @ gpc.cost.R @ v

    return loss(M), loss


@pytest.mark.parametrize("ltv", [False, True])
def test_counterfactual_loss_and_gradient(ltv):
    T, H = 40, 4
    s = lib.switching_system(T=T, d=3, m=2, spectral_radius=0.6, seed=4) if ltv else lib.random_stable(3, 2, 0.8)
    cost = olc.systems.QuadraticCost(np.diag([1.0, 2.0, 0.5]), np.array([[1.0, 0.2], [0.2, 0.7]]))
    gpc = olc.learners.GPC(s, cost, H=H)
    gpc.init((2,), np.random.default_rng(0), horizon=T)
    rng = np.random.default_rng(5)
    A_seq, B_seq = (np.asarray(a) for a in s.matrices(T))
    for t in (2, 7, 20):
        M = rng.standard_normal((H, 2, 3))
        wbuf = rng.standard_normal((2 * H, 3))
        wbuf[t:] = 0.0  # w_s = 0 for s < 0
        loss, grad = gpc.counterfactual(M, wbuf, t, A_seq if ltv else None, B_seq if ltv else None)
        ref, f = _loop_counterfactual(gpc, M, wbuf, t, A_seq, B_seq)
        assert loss == pytest.approx(ref, rel=1e-12)
        fd = central_differences(f, M)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)


def test_gpc_close_to_lqr_on_gaussian_noise():
    s, cost = _di()
    T = 10_000
    game = olc.games.control(s, D.gaussian(T, 2, seed=0), cost)
    gpc = olc.play(olc.learners.GPC(s, cost, H=10), game).losses.mean()
    lqr = olc.play(olc.learners.LQR(s, cost), game).losses.mean()
    print(f"gaussian: GPC {gpc:.4f}, LQR {lqr:.4f} ({100 * (gpc / lqr - 1):.2f}%)")
    assert abs(gpc / lqr - 1) < 0.03


@pytest.mark.parametrize("kind", ["sinusoidal", "adversarial"])
def test_gpc_beats_lqr(kind):
    s, cost = _di()
    T = 3000
    w = D.sinusoidal(T, 2, seed=0) if kind == "sinusoidal" else olc.systems.Adversarial(2, 1.0, system=s)
    game = olc.games.control(s, w, cost, T=T)
    gpc = olc.play(olc.learners.GPC(s, cost, H=10), game).losses.mean()
    lqr = olc.play(olc.learners.LQR(s, cost), game).losses.mean()
    aoftrl = olc.learners.AOFTRL(olc.systems.dfc_set(10, 1, 2), hint="previous", scale=0.05)
    aof = olc.play(olc.learners.GPC(s, cost, H=10, learner=aoftrl), game).losses.mean()
    print(f"{kind}: GPC {gpc:.4f} (AO-FTRL inner: {aof:.4f}), LQR {lqr:.4f}")
    assert gpc < 0.8 * lqr
    assert aof < lqr


def test_gpc_regret_is_sublinear():
    s, cost = _di()
    Ts = [1000, 2000, 4000, 10_000]
    regrets = []
    for T in Ts:
        game = olc.games.control(s, D.gaussian(T, 2, seed=0), cost)
        tr = olc.play(olc.learners.GPC(s, cost, H=10), game)
        regrets.append(tr.regret(olc.comparators.BestDFC(s, cost, H=10))[-1])
    slope = _slope(Ts, regrets)
    print(f"GPC regret {np.round(regrets, 1)}, log-log slope {slope:.3f}")
    assert np.all(np.asarray(regrets) > 0)
    assert slope < 0.75


def test_bandit_gpc_regret_is_sublinear():
    """Small scalar system, sinusoidal disturbance, averaged over 3 seeds (Gradu et al.: T^{3/4})."""
    s = olc.systems.LTISystem(np.array([[0.9]]), np.array([[1.0]]))
    cost = olc.systems.QuadraticCost(np.eye(1), 0.1 * np.eye(1))
    Ts = [1000, 2000, 4000, 8000]
    regrets = []
    for T in Ts:
        game = olc.games.control(s, D.sinusoidal(T, 1, seed=0), cost)
        comp = olc.comparators.BestDFC(s, cost, H=3, kappa_M=2.5)
        r = [olc.play(olc.learners.BanditGPC(s, cost, H=3, kappa_M=2.5, lr=Power(0.03, 0.75),
                                             delta=1.5 * T ** -0.25), game, seed=seed).regret(comp)[-1]
             for seed in range(3)]
        regrets.append(np.mean(r))
    slope = _slope(Ts, regrets)
    lqr_regret = olc.play(olc.learners.LQR(s, cost), game).losses.sum() - comp.total
    print(f"bandit GPC regret {np.round(regrets, 1)}, slope {slope:.3f}; LQR regret at T={Ts[-1]}: {lqr_regret:.1f}")
    assert slope < 0.85
    assert regrets[-1] < 0.5 * lqr_regret


def test_bandit_gpc_sees_only_costs_and_is_reproducible():
    s, cost = _di()
    game = olc.games.control(s, D.sinusoidal(300, 2, seed=1), cost)
    b = olc.learners.BanditGPC(s, cost, H=4)
    assert b.feedback == "bandit"
    t1, t2, t3 = (olc.play(b, game, seed=k) for k in (3, 3, 4))
    np.testing.assert_array_equal(t1.decisions, t2.decisions)
    np.testing.assert_array_equal(t1.losses, t2.losses)
    assert not np.array_equal(t1.decisions, t3.decisions)
    M = b.current_M(t1.final_state)
    assert np.all(b.Mset.contains(M))


def test_gpc_reproducible():
    s, cost = _di()
    w = olc.systems.Adversarial(2, 1.0, system=s)
    game = olc.games.control(s, w, cost, T=400)
    t1 = olc.play(olc.learners.GPC(s, cost, H=5), game, seed=7)
    t2 = olc.play(olc.learners.GPC(s, cost, H=5), game, seed=7)
    np.testing.assert_array_equal(t1.decisions, t2.decisions)
    np.testing.assert_array_equal(t1.info["disturbances"], t2.info["disturbances"])


def test_ltv_gpc_runs_with_zero_gain_on_stable_switching_system():
    T = 300
    s = lib.switching_system(T=T, d=3, m=1, spectral_radius=0.5, seed=2)
    cost = olc.systems.QuadraticCost(np.eye(3), np.eye(1))
    gpc = olc.learners.GPC(s, cost, H=5, lr=0.05)
    assert np.all(gpc.K == 0)
    tr = olc.play(gpc, olc.games.control(s, D.sinusoidal(T, 3, seed=0), cost))
    lqr = olc.play(olc.learners.LQR(s, cost), olc.games.control(s, D.sinusoidal(T, 3, seed=0), cost))
    assert tr.losses.mean() < olc.play(olc.learners.ZeroController(),
                                       olc.games.control(s, D.sinusoidal(T, 3, seed=0), cost)).losses.mean()
    assert np.isfinite(lqr.losses.sum())


# ------------------------------------------------------------------------------------ bad inputs

def test_bad_inputs_raise_clear_errors():
    s, cost = _di()
    with pytest.raises(ShapeError, match="A"):
        olc.systems.LTISystem(np.ones((2, 3)), np.ones((2, 1)))
    with pytest.raises(ShapeError, match="B"):
        olc.systems.LTISystem(np.eye(2), np.ones((3, 1)))
    with pytest.raises(InvalidArgumentError, match="Q"):
        olc.systems.QuadraticCost(-np.eye(2), np.eye(1))
    with pytest.raises(InvalidArgumentError, match="Q"):
        olc.learners.GPC(s, (np.array([[1.0, 0.0], [0.0, -1.0]]), np.eye(1)))
    with pytest.raises(ShapeError, match="cost"):
        olc.learners.GPC(s, olc.systems.QuadraticCost(np.eye(3), np.eye(1)))
    with pytest.raises(InvalidArgumentError, match=r"K.*spectral radius"):
        olc.learners.GPC(s, cost, K=np.zeros((1, 2)))
    with pytest.raises(InvalidArgumentError, match=r"K.*spectral radius"):
        olc.comparators.BestDFC(s, cost, K=np.array([[-1.0, -1.0]]))
    with pytest.raises(ShapeError, match="K"):
        olc.learners.GPC(s, cost, K=np.zeros((2, 2)))
    with pytest.raises(InvalidArgumentError, match="system"):
        olc.learners.GPC("not a system", cost)
    with pytest.raises(InvalidArgumentError, match="learner"):
        olc.learners.GPC(s, cost, learner="adam")
    with pytest.raises(InvalidArgumentError, match="norm"):
        olc.learners.GPC(s, cost, norm="nuclear")
    with pytest.raises(InvalidArgumentError, match="lr"):
        olc.learners.GPC(s, cost, lr=-1.0)
    with pytest.raises(NonFiniteError, match="w"):
        w = D.gaussian(50, 2)
        w[10, 1] = np.nan
        olc.games.control(s, w, cost)
    unstable = lib.switching_system(T=50, d=3, m=1, spectral_radius=1.3, seed=0)
    with pytest.raises(InvalidArgumentError, match="K"):
        olc.learners.GPC(unstable, olc.systems.QuadraticCost(np.eye(3), np.eye(1)))


def test_adaptive_nan_disturbance_and_divergence():
    s, cost = _di()

    def bad(t, history):
        return np.array([np.nan, 0.0]) if t == 5 else np.zeros(2)

    with pytest.raises(DivergenceError) as err:
        olc.play(olc.learners.GPC(s, cost, H=3), olc.games.control(s, bad, cost, T=20))
    assert err.value.partial.T == 5
    with pytest.raises(DivergenceError):  # open-loop pendulum blows up
        olc.play(olc.learners.ZeroController(), olc.games.control(lib.inverted_pendulum(), D.gaussian(2000, 2), cost))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("norm", ["op", "fro"])
def test_run_batch_equals_play_per_system(backend, norm):
    """GPC.run_batch (one kernel call for B systems) reproduces olc.play of each system."""
    sys_ = olc.systems.random_stable(3, 2, spectral_radius=0.9, seed=3)
    cost = olc.systems.QuadraticCost(np.eye(3), np.eye(2))
    W = np.random.default_rng(4).normal(size=(3, 60, 3))
    gpc = olc.learners.GPC(sys_, cost, H=4, kappa_M=2.0, gamma=0.1, norm=norm)
    res = gpc.run_batch(W, backend=backend)
    for b in range(3):
        tr = olc.play(gpc, olc.games.control(sys_, W[b], cost), seed=0)
        np.testing.assert_allclose(res.costs[b], tr.losses, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res.M[b], gpc.current_M(tr.final_state), rtol=1e-9, atol=1e-12)


def _project_lags(M, radii):
    """Per-lag operator-norm projection written directly (singular values clipped at r_i)."""
    out = np.empty_like(M)
    for i, r in enumerate(radii):
        U, sv, Vt = np.linalg.svd(M[i], full_matrices=False)
        out[i] = (U * np.minimum(sv, r)) @ Vt
    return out


@pytest.mark.parametrize("ltv", [False, True])
def test_gpc_with_aoftrl_learner_equals_the_written_out_recursion(ltv):
    """GPC(learner=AOFTRL(dfc_set, hint="previous")) == eq. (5) of optimistic-meta-gradients written
    out by hand around GPC's counterfactual gradient (itself checked against finite differences)."""
    T, H = 80, 3
    s = lib.switching_system(T=T, d=3, m=1, spectral_radius=0.5, seed=2) if ltv else lib.double_integrator()
    d, m = s.state_dim, s.control_dim
    cost = olc.systems.QuadraticCost(np.eye(d), np.eye(m))
    W = D.sinusoidal(T, d, seed=0)
    Mset = olc.systems.dfc_set(H, m, d, kappa_M=2.0, gamma=0.1)
    gpc = olc.learners.GPC(s, cost, H=H, learner=olc.learners.AOFTRL(Mset, hint="previous", scale=0.05))
    tr = olc.play(gpc, olc.games.control(s, W, cost), seed=0)
    A_seq, B_seq = (np.asarray(a) for a in s.matrices(T))
    x, wbuf, G, g_prev, err = np.zeros(d), np.zeros((2 * H, d)), np.zeros((H, m, d)), np.zeros((H, m, d)), 0.0
    for t in range(T):
        M = _project_lags(-0.05 / np.sqrt(1.0 + err) * (G + g_prev), Mset.radii)
        u = -gpc.K @ x + sum(M[i] @ wbuf[i] for i in range(H))
        np.testing.assert_allclose(tr.decisions[t], u, rtol=1e-12, atol=1e-12)
        _, g = gpc.counterfactual(M, wbuf, t, A_seq if ltv else None, B_seq if ltv else None)
        G, err, g_prev = G + g, err + float(np.sum((g - g_prev) ** 2)), g
        x = A_seq[t] @ x + B_seq[t] @ u + W[t]
        wbuf = np.concatenate([W[t][None], wbuf[:-1]])


def test_gpc_default_learner_is_projected_ogd_and_run_batch_needs_it():
    s, cost = _di()
    W = D.sinusoidal(200, 2, seed=0)
    game = olc.games.control(s, W, cost)
    Mset = olc.systems.dfc_set(4, 1, 2, kappa_M=2.0, gamma=0.1)
    default = olc.learners.GPC(s, cost, H=4, kappa_M=2.0, gamma=0.1, lr=0.02)
    explicit = olc.learners.GPC(s, cost, H=4, learner=olc.learners.OGD(Mset, lr=0.02))
    np.testing.assert_array_equal(olc.play(default, game).decisions, olc.play(explicit, game).decisions)
    np.testing.assert_array_equal(default.run_batch(W).costs, explicit.run_batch(W).costs)
    aoftrl = olc.learners.GPC(s, cost, H=4, learner=olc.learners.AOFTRL(Mset, hint="previous"))
    with pytest.raises(InvalidArgumentError, match=r"learner: run_batch plays an OGD inner learner over a DFCSet"):
        aoftrl.run_batch(W)


@pytest.mark.parametrize("learner", ["ogd", "aoftrl", olc.learners.OGD, 0.1])
def test_gpc_learner_must_be_an_olc_learner_object(learner):
    s, cost = _di()
    with pytest.raises(InvalidArgumentError, match=r"learner: expected an olc learner \(init/decide/update\), "
                                                   r"e.g. OGD\(...\) or AOFTRL\(...\).*got " + re.escape(repr(learner))):
        olc.learners.GPC(s, cost, learner=learner)
    with pytest.raises(InvalidArgumentError, match="lr: got lr=0.1 and a learner"):
        olc.learners.GPC(s, cost, lr=0.1, learner=olc.learners.OGD(olc.systems.dfc_set(10, 1, 2)))


def test_gpc_on_unbounded_ltv_checks_the_closed_loop_over_each_games_horizon():
    # A_t = 0.5 I for t < 100, then 1.5 I: sequentially stable over 60 steps, not over 400.
    # A first init over the short horizon must not exempt a later, longer game from the check.
    sys_ = olc.systems.LTVSystem(lambda t: (0.5 if t < 100 else 1.5) * np.eye(2), lambda t: np.eye(2))
    gpc = olc.learners.GPC(sys_, olc.systems.QuadraticCost(np.eye(2), np.eye(2)), H=3)
    gpc.init((2,), np.random.default_rng(0), horizon=60)
    with pytest.raises(InvalidArgumentError, match="not sequentially stable"):
        gpc.init((2,), np.random.default_rng(0), horizon=400)


# ----------------------------------------------------------------- LQR helpers: input validation (audit)

_A2 = np.array([[1.0, 1.0], [0.0, 1.0]])
_B2 = np.array([[0.0], [1.0]])


@pytest.mark.parametrize("args, err, match", [
    ((_A2, np.ones((3, 1)), np.eye(2), np.eye(1)), ShapeError, r"B: expected shape \(2, \*\), got shape \(3, 1\)"),
    ((np.ones((2, 3)), _B2, np.eye(2), np.eye(1)), ShapeError, r"A: expected a square matrix, got shape \(2, 3\)"),
    ((_A2, _B2, np.eye(3), np.eye(1)), ShapeError, r"Q: expected shape \(2, 2\), got shape \(3, 3\)"),
    ((_A2, _B2, np.eye(2), np.eye(2)), ShapeError, r"R: expected shape \(1, 1\), got shape \(2, 2\)"),
    ((_A2, _B2, -np.eye(2), np.eye(1)), InvalidArgumentError, "Q: expected a positive semidefinite matrix"),
    ((_A2, _B2, np.eye(2), np.zeros((1, 1))), InvalidArgumentError, "R: expected a positive definite matrix"),
    ((_A2, _B2, np.full((2, 2), np.nan), np.eye(1)), NonFiniteError, "Q"),
])
def test_lqr_gain_validates_before_riccati(args, err, match):
    with pytest.raises(err, match=match) as info:
        olc.systems.lqr_gain(*args)
    assert "Riccati" not in str(info.value)


def test_lqr_gain_still_reports_unstabilisable_systems():
    with pytest.raises(InvalidArgumentError, match="stabilis"):
        olc.systems.lqr_gain(2 * np.eye(2), np.zeros((2, 1)), np.eye(2), np.eye(1))


@pytest.mark.parametrize("args, err, match", [
    ((np.stack([_A2] * 5), np.stack([_B2] * 4), np.eye(2), np.eye(1)), ShapeError,
     r"B_seq: expected shape \(5, 2, \*\), got shape \(4, 2, 1\)"),
    ((np.stack([_A2] * 5), np.stack([np.ones((3, 1))] * 5), np.eye(2), np.eye(1)), ShapeError,
     r"B_seq: expected shape \(5, 2, \*\), got shape \(5, 3, 1\)"),
    ((_A2, _B2, np.eye(2), np.eye(1)), ShapeError, r"A_seq: expected .*3 dimension"),
    ((np.stack([_A2] * 5), np.stack([_B2] * 5), np.eye(2), np.zeros((1, 1))), InvalidArgumentError,
     "R: expected a positive definite"),
])
def test_lqr_gains_validates(args, err, match):
    with pytest.raises(err, match=match):
        olc.systems.lqr_gains(*args)
    with pytest.raises(ShapeError, match=r"P_final: expected shape \(2, 2\)"):
        olc.systems.lqr_gains(np.stack([_A2] * 5), np.stack([_B2] * 5), np.eye(2), np.eye(1), P_final=np.eye(3))


def test_lqr_gains_overflow_is_divergence():
    """An unstabilisable (B = 0) unstable LTV over a long horizon: the Riccati cost-to-go overflows."""
    A = np.stack([1e3 * np.eye(2)] * 200)
    with pytest.raises(DivergenceError, match="Riccati") as info:
        olc.systems.lqr_gains(A, np.zeros((200, 2, 1)), np.eye(2), np.eye(1))
    assert info.value.step is not None and np.all(np.isfinite(info.value.partial[1][info.value.step + 1:]))


@pytest.mark.parametrize("flag", ["yes", 1, 0.0])
def test_lqr_finite_horizon_must_be_bool(flag):
    s = olc.systems.LTISystem(_A2, _B2)
    with pytest.raises(InvalidArgumentError, match=rf"finite_horizon: expected True, False or None, got {flag!r}"):
        olc.learners.LQR(s, olc.systems.QuadraticCost(np.eye(2), np.eye(1)), finite_horizon=flag)
    assert olc.learners.LQR(s, olc.systems.QuadraticCost(np.eye(2), np.eye(1)), finite_horizon=np.bool_(True)).finite_horizon
