"""Baseline optimizers: torch.optim agreement, closed-form rates, algorithm-box transcriptions, bad input."""

import numpy as np
import pytest

import olc
from olc.errors import DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError
from olc.game import Feedback
from olc.learners import (
    SGD,
    AdaGradOpt,
    Adam,
    AdamW,
    DAdaptAdam,
    DoG,
    HeavyBall,
    HypergradientDescent,
    Mechanic,
    Nesterov,
)
from olc.learners.optimizers import train
from olc.oracles import QuadraticOracle


@pytest.fixture
def torch():
    """PyTorch for the torch.optim agreement tests (skipped without it; the rest of the file runs)."""
    return pytest.importorskip("torch")


D = 6
T = 40


@pytest.fixture(scope="module")
def quad():
    rng = np.random.default_rng(1)
    Q = rng.normal(size=(D, D))
    A = Q @ Q.T / D + 0.2 * np.eye(D)
    b = rng.normal(size=D)
    return QuadraticOracle(A, b), rng.normal(size=D)


def torch_iterates(torch, make, A, b, x0, T):
    """Iterates x_0..x_{T-1} of a torch.optim optimizer on f(x) = ½xᵀAx + bᵀx (float64)."""
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = make(torch, [p])
    At, bt = torch.tensor(A), torch.tensor(b)
    xs = []
    for _ in range(T):
        xs.append(p.detach().numpy().copy())
        opt.zero_grad()
        (0.5 * p @ At @ p + bt @ p).backward()
        opt.step()
    return np.array(xs), p.detach().numpy().copy()


TORCH_CASES = {
    "sgd": (lambda: SGD(0.1, weight_decay=1e-3), lambda torch, ps: torch.optim.SGD(ps, lr=0.1, weight_decay=1e-3)),
    "heavyball": (lambda: HeavyBall(0.1, 0.9, weight_decay=1e-3),
                  lambda torch, ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3)),
    "nesterov": (lambda: Nesterov(0.1, 0.9, weight_decay=1e-3),
                 lambda torch, ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    "adam": (lambda: Adam(0.05, (0.9, 0.99), 1e-8, weight_decay=1e-3),
             lambda torch, ps: torch.optim.Adam(ps, lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=1e-3)),
    "adamw": (lambda: AdamW(0.05, (0.8, 0.999), 1e-8, weight_decay=1e-2),
              lambda torch, ps: torch.optim.AdamW(ps, lr=0.05, betas=(0.8, 0.999), eps=1e-8, weight_decay=1e-2)),
    # olc's AdaGrad puts eps inside the square root; with eps -> 0 both are sqrt(sum g^2)
    "adagrad": (lambda: AdaGradOpt(0.5, eps=1e-300), lambda torch, ps: torch.optim.Adagrad(ps, lr=0.5, eps=0.0)),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_agrees_with_torch_optim(quad, name, torch):
    oracle, x0 = quad
    ours, theirs = TORCH_CASES[name]
    tr = train(ours(), oracle, T, x0)
    ref, ref_last = torch_iterates(torch, theirs, oracle.H, oracle.b, x0, T)
    assert np.max(np.abs(tr.decisions - ref)) <= 1e-12  # the iterates are pinned (measured: <= 2e-15)
    assert np.max(np.abs(tr.final_state.x - ref_last)) <= 1e-12
    assert tr.losses[-1] < tr.losses[0]  # it optimises


def test_adam_on_gpc_matrices_as_meta_optimizer(torch):
    """MetaOpt drives Adam(lr=1e-3) over M of shape (H, m, d) with Feedback carrying meta-gradients."""
    rng = np.random.default_rng(2)
    shape = (3, 2, 4)
    grads = rng.normal(size=(25, *shape))
    opt = Adam(lr=1e-3)
    state = opt.init(shape, rng, x0=np.zeros(shape))
    p = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adam([p], lr=1e-3)
    for t, g in enumerate(grads):
        M, state = opt.decide(state, None, rng)
        assert M.shape == shape
        np.testing.assert_allclose(M, p.detach().numpy(), rtol=0, atol=1e-12)
        state = opt.update(state, Feedback(t, "gradient", 0.0, g))
        p.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(state.x, p.detach().numpy(), rtol=0, atol=1e-12)
    assert state.t == len(grads)
    # the raw-gradient entry point gives the same step
    s0 = opt.init(shape, x0=np.ones(shape))
    np.testing.assert_array_equal(opt.step(s0, grads[0]).x, opt.update(s0, Feedback(0, "gradient", 0.0, grads[0])).x)
    with pytest.raises(ShapeError):
        opt.update(state, Feedback(0, "gradient", 0.0, np.zeros((3, 2))))


def test_gd_linear_rate_on_a_quadratic():
    """GD with η = 2/(μ+L): x_t − x* = (I − ηA)^t (x_0 − x*), contraction (κ−1)/(κ+1) per step."""
    lam = np.linspace(0.5, 5.0, D)
    V = np.linalg.qr(np.random.default_rng(3).normal(size=(D, D)))[0]
    A = V @ np.diag(lam) @ V.T
    b = np.arange(D, dtype=float)
    oracle = QuadraticOracle(A, b)
    xstar = oracle.minimizer()
    x0 = np.ones(D)
    eta = 2 / (lam[0] + lam[-1])
    tr = train(SGD(eta), oracle, 60, x0)
    E = tr.decisions - xstar
    P = np.linalg.matrix_power
    M = np.eye(D) - eta * A
    for t in (1, 10, 59):
        np.testing.assert_allclose(E[t], P(M, t) @ E[0], atol=1e-12)
    rate = (lam[-1] / lam[0] - 1) / (lam[-1] / lam[0] + 1)
    norms = np.linalg.norm(E, axis=1)
    assert np.all(norms[1:] <= rate * norms[:-1] * (1 + 1e-9))
    # the extreme eigen-directions contract at exactly `rate`, so the bound is tight
    measured = (norms[-1] / norms[0]) ** (1 / 59)
    assert abs(measured - rate) < 1e-2


def test_heavy_ball_accelerated_rate():
    """Polyak's tuned heavy ball contracts at (√κ−1)/(√κ+1) asymptotically (Polyak 1964)."""
    mu, L = 0.1, 10.0
    A = np.diag(np.linspace(mu, L, D))
    oracle = QuadraticOracle(A)
    lr = 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2
    mom = ((np.sqrt(L) - np.sqrt(mu)) / (np.sqrt(L) + np.sqrt(mu))) ** 2
    tr = train(HeavyBall(lr, mom), oracle, 400, np.ones(D))
    norms = np.linalg.norm(tr.decisions, axis=1)
    rho = (np.sqrt(L / mu) - 1) / (np.sqrt(L / mu) + 1)
    measured = (norms[399] / norms[199]) ** (1 / 200)
    assert measured <= rho * 1.03  # (a Jordan block adds a polynomial factor t)
    gd = train(SGD(2 / (mu + L)), oracle, 400, np.ones(D))
    assert norms[-1] < 1e-6 * np.linalg.norm(gd.decisions[-1])


def _loop(grad, x0, T, step):
    xs, x, st = [], x0.copy(), None
    for _ in range(T):
        xs.append(x.copy())
        x, st = step(x, grad(x), st)
    return np.array(xs), x


def test_hypergradient_descent_transcribes_baydin_sgd_hd(quad):
    oracle, x0 = quad
    lr0, beta = 0.05, 1e-3

    def sgd_hd(theta, g, st):  # Baydin et al. 2018, SGD-HD box: h = g_t·(−g_{t−1}); α ← α − βh; θ ← θ − α g
        alpha, u_grad = st if st is not None else (lr0, np.zeros_like(theta))
        h = g @ u_grad
        alpha = alpha - beta * h
        return theta - alpha * g, (alpha, -g)

    ref, last = _loop(oracle.grad, x0, T, sgd_hd)
    tr = train(HypergradientDescent(lr0, beta), oracle, T, x0)
    np.testing.assert_allclose(tr.decisions, ref, atol=1e-12)
    assert tr.final_state.lr > lr0  # a too-small step is adapted upwards (consecutive gradients agree)
    sgd = train(SGD(lr0), oracle, T, x0)
    np.testing.assert_allclose(train(HypergradientDescent(lr0, 0.0), oracle, T, x0).decisions, sgd.decisions,
                               atol=1e-15)


def test_dog_transcription_first_step_and_scale_invariance(quad):
    oracle, x0 = quad
    reps = 1e-4

    def dog(x, g, st):  # Ivgi et al. 2023, Alg. 1
        if st is None:
            st = (x.copy(), reps * (1 + np.linalg.norm(x)), 0.0)
        xi, rbar, G = st
        rbar = max(rbar, np.linalg.norm(x - xi))
        G += g @ g
        return x - rbar / np.sqrt(G) * g, (xi, rbar, G)

    ref, _ = _loop(oracle.grad, x0, T, dog)
    tr = train(DoG(reps_rel=reps, eps=0.0), oracle, T, x0)
    np.testing.assert_allclose(tr.decisions, ref, rtol=1e-12, atol=1e-12)
    # the first step has length exactly r_eps
    assert np.isclose(np.linalg.norm(tr.decisions[1] - x0), reps * (1 + np.linalg.norm(x0)), rtol=1e-12)
    # DoG is invariant to rescaling the objective
    scaled = QuadraticOracle(100 * oracle.A, 100 * oracle.b)
    np.testing.assert_allclose(train(DoG(reps_rel=reps, eps=0.0), scaled, T, x0).decisions, tr.decisions,
                               rtol=1e-9, atol=1e-12)
    assert train(DoG(), oracle, 400, x0).losses[-1] < tr.losses[0] - 1.0


@pytest.mark.parametrize("bias_correction", [True, False])
def test_dadapt_adam_transcription(quad, bias_correction):
    oracle, x0 = quad
    b1, b2, eps, d0 = 0.9, 0.999, 1e-8, 1e-6

    def dadapt(x, g, st):  # Defazio & Mishchenko 2023, Adam with D-Adaptation (authors' DAdaptAdam step)
        k, m, v, s, num, d = st if st is not None else (0, 0 * x, 0 * x, 0 * x, 0.0, d0)
        bias = np.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1)) if bias_correction else 1.0
        dlr = d * bias
        acc = dlr * np.dot(g, s / (np.sqrt(v) + eps))
        m = b1 * m + dlr * (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        s = np.sqrt(b2) * s + dlr * (1 - np.sqrt(b2)) * g
        num = np.sqrt(b2) * num + (1 - np.sqrt(b2)) * acc
        d = max(d, num / ((1 - np.sqrt(b2)) * np.abs(s).sum()))
        return x - m / (np.sqrt(v) + eps), (k + 1, m, v, s, num, d)

    ref, _ = _loop(oracle.grad, x0, 300, dadapt)
    tr = train(DAdaptAdam(bias_correction=bias_correction), oracle, 300, x0)
    np.testing.assert_allclose(tr.decisions, ref, rtol=1e-9, atol=1e-12)
    assert tr.final_state.d > 100 * d0  # the distance estimate grows from d0
    assert tr.losses[-1] < tr.losses[0]


def test_mechanic_transcription_and_ray_structure(quad):
    oracle, x0 = quad
    lr, lam, s_init, eps, n = 0.01, 1e-2, 1e-6, 1e-8, 6

    def mechanic(x, g, st):  # Cutkosky, Defazio & Mehta 2023, Alg. 1, BASE = SGD(lr)
        if st is None:
            st = (x.copy(), np.zeros_like(x), [s_init] * n, [0.0] * n, [0.0] * n, [0.0] * n)
        xref, delta, s, r, m, v = st
        u = -lr * g
        gt = g + lam * sum(s) * np.linalg.norm(g) / (np.linalg.norm(x) + eps) * x
        h = gt @ delta
        s2, r2, m2, v2 = [], [], [], []
        for i in range(n):
            beta = 1 - 10.0 ** (-(i + 1))
            m2.append(max(beta * m[i], abs(h) + eps))
            v2.append(beta ** 2 * v[i] + h * h)
            r2.append(beta * r[i] - s[i] * h)
            wealth = s_init / n * m2[i] + max(0.0, r2[i])
            s2.append(wealth / (np.sqrt(v2[i]) + eps))
        delta = delta + u
        return xref + sum(s2) * delta, (xref, delta, s2, r2, m2, v2)

    ref, _ = _loop(oracle.grad, x0, 200, mechanic)
    tr = train(Mechanic(SGD(lr)), oracle, 200, x0)
    # Mechanic's scale feedback amplifies rounding (summation order) after ~80 steps on this
    # problem, so the step-by-step comparison stops at 60 steps
    np.testing.assert_allclose(tr.decisions[:60], ref[:60], rtol=1e-9, atol=1e-12)
    st = tr.final_state
    # x_T lies on the ray x_ref + c Δ with Δ = −lr Σ g (the SGD base's accumulated update)
    G = np.array([oracle.grad(x) for x in tr.decisions]).sum(axis=0)
    np.testing.assert_allclose(st.delta, -lr * G, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(st.x, x0 + st.s.sum() * st.delta, rtol=1e-12)
    assert st.s.sum() > 10 * n * s_init  # the scale is learned upwards
    assert tr.losses[-1] < tr.losses[0]
    # wrapping AdamW works and its decay sees the real iterate
    assert train(Mechanic(AdamW(0.01)), oracle, 100, x0).losses[-1] < tr.losses[0]


def test_reproducible_and_constructor_x0(quad):
    oracle, x0 = quad
    a = train(DAdaptAdam(), oracle, 30, x0, seed=5)
    b = train(DAdaptAdam(), oracle, 30, x0, seed=5)
    np.testing.assert_array_equal(a.decisions, b.decisions)
    opt = SGD(0.1, x0=x0)
    s = opt.init((D,))
    np.testing.assert_array_equal(s.x, x0)
    assert s.x is not opt.x0  # state owns its arrays
    np.testing.assert_array_equal(opt.init((D,), x0=np.zeros(D)).x, np.zeros(D))  # init's x0 wins


@pytest.mark.parametrize("make, exc", [
    (lambda: SGD(0.0), InvalidArgumentError),
    (lambda: SGD(-1), InvalidArgumentError),
    (lambda: SGD(0.1, weight_decay=-1), InvalidArgumentError),
    (lambda: HeavyBall(0.1, 1.0), InvalidArgumentError),
    (lambda: Nesterov(0.1, -0.1), InvalidArgumentError),
    (lambda: Adam(betas=(0.9, 1.0)), InvalidArgumentError),
    (lambda: Adam(betas=(0.9,)), InvalidArgumentError),
    (lambda: AdamW(eps=-1e-8), InvalidArgumentError),
    (lambda: Adam(lr=float("nan")), NonFiniteError),
    (lambda: AdaGradOpt(0.0), InvalidArgumentError),
    (lambda: HypergradientDescent(0.1, -1.0), InvalidArgumentError),
    (lambda: DoG(reps_rel=0), InvalidArgumentError),
    (lambda: DAdaptAdam(d0=0), InvalidArgumentError),
    (lambda: Mechanic("adamw"), InvalidArgumentError),
    (lambda: Mechanic(Adam(), num_betas=0), InvalidArgumentError),
])
def test_bad_hyperparameters(make, exc):
    with pytest.raises(exc):
        make()


def test_bad_state_inputs(quad):
    oracle, x0 = quad
    with pytest.raises(InvalidArgumentError, match="x0"):
        Adam().init((D,))
    with pytest.raises(ShapeError):
        Adam().init((D + 1,), x0=x0)
    opt = HeavyBall(0.1, 0.5)
    s = opt.init((D,), x0=x0)
    g = np.ones(D)
    g[2] = np.nan
    with pytest.raises(NonFiniteError):
        opt.update(s, Feedback(0, "gradient", 1.0, g))
    with pytest.raises(NonFiniteError):
        opt.step(s, g)
    with pytest.raises(olc.errors.FeedbackError):
        opt.update(s, Feedback(0, "gradient", 1.0, None))
    # a diverging step size: play stops with the rounds before it
    with pytest.raises(DivergenceError) as err:
        train(SGD(1e3), oracle, 500, x0)
    assert 0 < err.value.step < 500
    assert err.value.partial.T == err.value.step


def test_constructor_x0_must_match_the_game(quad):
    oracle, x0 = quad
    opt = SGD(0.1, x0=np.zeros(D + 1))
    with pytest.raises(ShapeError, match=rf"x0.*\({D},\)"):
        olc.play(opt, olc.games.optimization(oracle, 5, x0))
    with pytest.raises(ShapeError, match="x0"):
        opt.init((D,))
    # init's (the game's) x0 wins over the constructor's when both are given and fit
    np.testing.assert_array_equal(SGD(0.1, x0=np.ones(D)).init((D,), x0=x0).x, x0)
    # train() falls back on the optimizer's own x0
    tr = train(SGD(0.1, x0=x0), oracle, 3)
    np.testing.assert_array_equal(tr.decisions[0], x0)


def test_train_rejects_a_non_learner(quad):
    oracle, x0 = quad
    with pytest.raises(InvalidArgumentError, match="optimizer.*'sgd'"):
        train("sgd", oracle, 10, x0)
