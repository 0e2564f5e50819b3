"""OCO learners against the textbook bounds, regret exponents and eq. (6) of optimistic-meta-gradients."""

import numpy as np
import pytest

import olc
from olc.comparators import BestFixed
from olc.experiments.oco_regret import fit_slope
from olc.learners import AOFTRL, FTRL, OGD, AdaGrad, Hedge, OGDMemory
from olc.learners.oco import aoftrl_regret_bound
from olc.optim import Constant, InverseSqrt
from olc.sets import Ball, Box, Reals, Simplex

D_R = 1.0  # ball radius


def ftrl_regret_closed_form(G, lr):
    """FTRL with the L2 regulariser on the ball in closed form: x_t = Π(-η_t Σ_{s<t} g_s)."""
    T = G.shape[0]
    cum = np.vstack([np.zeros(G.shape[1]), np.cumsum(G, axis=0)[:-1]])
    eta = np.array([lr(t) for t in range(1, T + 1)])
    X = Ball(D_R).project(-eta[:, None] * cum)
    return np.cumsum(np.einsum("ti,ti->t", G, X)) + D_R * np.linalg.norm(np.cumsum(G, axis=0), axis=1)


def test_ftrl_equals_its_closed_form_and_obeys_eq6():
    rng = np.random.default_rng(0)
    G = rng.uniform(-1, 1, size=(3000, 5))
    lr = InverseSqrt(2 * D_R / np.sqrt(5))
    tr = olc.play(FTRL(Ball(D_R), lr=lr), olc.games.linear(G))
    R = tr.regret(BestFixed(Ball(D_R)))
    np.testing.assert_allclose(R, ftrl_regret_closed_form(G, lr), atol=1e-9)
    betas = np.array([lr(t) for t in range(1, 3001)])
    bound = aoftrl_regret_bound(G, np.zeros_like(G), betas, u=np.ones(1) * D_R)
    assert np.all(R <= bound + 1e-9)


def test_ftrl_regret_exponent_is_one_half():
    """Fitted log-log slope over T in [1e2, 1e5] (mean of 6 seeds, i.i.d. uniform linear losses)."""
    lr = InverseSqrt(2 * D_R / np.sqrt(5))
    curves = [ftrl_regret_closed_form(np.random.default_rng(s).uniform(-1, 1, size=(100_000, 5)), lr)
              for s in range(6)]
    slope = fit_slope(np.mean(curves, axis=0), t_min=100)
    assert 0.4 <= slope <= 0.6, slope


def test_ogd_regret_bound_and_exponent_against_adaptive_adversary():
    """Zinkevich's bound R_T <= (3/2) D G sqrt(T) with η_t = D/(G√t) at every t, and slope 0.5 ± 0.1."""
    T, d = 100_000, 3
    game = olc.games.adversarial_linear(T, d)
    D, G = 2 * D_R, 1.0
    tr = olc.play(OGD(Ball(D_R), lr=InverseSqrt(D / G)), game, seed=0)
    R = tr.regret(BestFixed(Ball(D_R)))
    t = np.arange(1, T + 1)
    assert np.all(R <= 1.5 * D * G * np.sqrt(t))
    slope = fit_slope(R, t_min=100)
    assert 0.4 <= slope <= 0.6, slope


def test_aoftrl_exact_hints_bounded_by_eq6_and_far_below_ftrl():
    rng = np.random.default_rng(1)
    T = 4000
    G = rng.uniform(-1, 1, size=(T, 4))
    exact = AOFTRL(Ball(D_R), hint=lambda t, s: G[t])
    tr = olc.play(exact, olc.games.linear(G))
    R = tr.regret(BestFixed(Ball(D_R)))
    bound = exact.regret_bound(tr.final_state, D_R)
    assert bound == pytest.approx(D_R ** 2 / (2 * D_R))  # no hint error: only ||u||²/(2β)
    assert R.max() <= bound + 1e-9
    ftrl = olc.play(FTRL(Ball(D_R), lr=InverseSqrt(2 * D_R / 2)), olc.games.linear(G)).regret(BestFixed(Ball(D_R)))
    assert R[-1] < 0.02 * ftrl[-1]


@pytest.mark.parametrize("hint", ["previous", "adversarial", "none"])
def test_aoftrl_never_exceeds_eq6(hint):
    rng = np.random.default_rng(2)
    T = 3000
    G = rng.uniform(-1, 1, size=(T, 4)) + np.array([0.3, 0, 0, 0])
    h = {"previous": "previous", "adversarial": lambda t, s: -3 * G[t], "none": None}[hint]
    learner = AOFTRL(Ball(D_R), hint=h, eps=1.0)
    tr = olc.play(learner, olc.games.linear(G))
    R = tr.regret(BestFixed(Ball(D_R)))
    # rebuild the hints and the adaptive β_t independently of the learner
    H = {"previous": np.vstack([np.zeros(4), G[:-1]]), "adversarial": -3 * G, "none": np.zeros_like(G)}[hint]
    err = np.sum((G - H) ** 2, axis=1)
    betas = D_R / np.sqrt(1.0 + np.concatenate([[0.0], np.cumsum(err)[:-1]]))
    B = aoftrl_regret_bound(G, H, betas, u=np.array([D_R]))
    assert np.all(R <= B + 1e-9)
    assert learner.regret_bound(tr.final_state, D_R) == pytest.approx(B[-1])


def test_aoftrl_decision_is_eq5_argmin():
    """u_t = argmin α<h,u> + <Σg,u> + ||u||²/(2β) over the box, checked with scipy."""
    from scipy.optimize import minimize

    K = Box(-0.3, 0.5, dim=3)
    G = np.random.default_rng(3).normal(size=(5, 3))
    learner = AOFTRL(K, lr=0.7, hint="previous")
    state = learner.init((3,))
    for t in range(5):
        x, state = learner.decide(state, None, None)
        h = state.hint
        obj = lambda u: (h + state.G) @ u + u @ u / (2 * 0.7)  # noqa: E731
        ref = minimize(obj, np.zeros(3), bounds=[(-0.3, 0.5)] * 3, method="L-BFGS-B",
                       options={"ftol": 1e-15, "gtol": 1e-12}).x
        np.testing.assert_allclose(x, ref, atol=1e-7)
        state = learner.update(state, olc.Feedback(t, "gradient", 0.0, G[t]))


def test_hedge_regret_bound():
    rng = np.random.default_rng(4)
    n, T = 8, 5000
    losses = {"iid": rng.uniform(0, 1, size=(T, n)),
              "switching": np.where((np.arange(T)[:, None] // 50 + np.arange(n)) % n == 0, 0.0, 1.0),
              "one-good": np.clip(rng.uniform(0, 1, size=(T, n)) + np.eye(n)[0] * -0.3, 0, 1)}
    for name, Lm in losses.items():
        tr = olc.play(Hedge(), olc.games.linear(Lm))
        R = tr.regret(BestFixed(Simplex(n)))
        assert R[-1] <= np.sqrt(T * np.log(n) / 2), name
        assert np.allclose(tr.decisions.sum(axis=1), 1.0)
    anytime = olc.play(Hedge(), olc.games.linear(losses["iid"]), T=T)
    assert anytime.regret(BestFixed(Simplex(n)))[-1] <= 2 * np.sqrt(T / 2 * np.log(n)) + np.sqrt(np.log(n) / 8)


def test_adagrad_box_and_ball():
    rng = np.random.default_rng(5)
    T = 4000
    # one coordinate with large gradients, the others small: AdaGrad's per-coordinate steps
    G = rng.uniform(-1, 1, size=(T, 4)) * np.array([5.0, 0.1, 0.1, 0.1]) + np.array([0, 0.05, 0.05, 0.05])
    for K in (Box(-1.0, 1.0, dim=4), Ball(1.0)):
        tr = olc.play(AdaGrad(K, lr=1.0), olc.games.linear(G))
        assert np.all(K.contains(tr.decisions))
        R = tr.regret(BestFixed(K))
        # AdaGrad bound (Duchi et al. 2011, Thm. 5 diagonal): D_inf * sqrt(2) * Σ_i ||g_{1:T,i}||_2
        D_inf = 2.0
        assert R[-1] <= np.sqrt(2) * D_inf * np.sum(np.linalg.norm(G, axis=0))
    with pytest.raises(olc.InvalidArgumentError, match="K"):
        AdaGrad(Simplex(3))


def test_adagrad_decay_leaks_the_accumulator():
    """decay = d: Σ ← (1 − d)Σ + g² (Table 2's decay rate of optimistic-meta-gradients), by hand."""
    G = np.random.default_rng(1).standard_normal((6, 2))
    for d in (0.0, 0.3, 1.0):
        tr = olc.play(AdaGrad(Reals(), lr=0.5, eps=2.0, decay=d, x0=np.ones(2)), olc.games.linear(G))
        x, sq = np.ones(2), np.zeros(2)
        for t in range(len(G) - 1):
            sq = (1 - d) * sq + G[t] ** 2
            x = x - 0.5 * G[t] / np.sqrt(2.0 + sq)
            np.testing.assert_allclose(tr.decisions[t + 1], x, rtol=1e-13)
    with pytest.raises(olc.InvalidArgumentError, match="decay"):
        AdaGrad(Reals(), decay=1.5)


def test_ogd_memory_on_losses_with_memory():
    game = olc.games.with_memory(olc.games.random_quadratic(3000, 3, seed=0), 4)
    tr = olc.play(OGDMemory(Ball(1.0), memory=4, lr=InverseSqrt(0.5)), game)
    R = tr.regret(BestFixed(Ball(1.0)))
    assert R[-1] < 0.05 * 3000  # sublinear: small average regret
    assert fit_slope(R, t_min=30) < 0.8


@pytest.mark.parametrize("make, arg", [
    (lambda: OGD(Ball(1.0), lr=0.0), "lr"), (lambda: OGD(Ball(1.0), lr=-1.0), "lr"),
    (lambda: FTRL(Ball(1.0), lr=lambda t: -1.0), "lr"), (lambda: FTRL("ball"), "K"),
    (lambda: AOFTRL(Ball(1.0), lr="fast"), "lr"), (lambda: AOFTRL(Ball(1.0), hint=3), "hint"),
    (lambda: AOFTRL(Ball(1.0), eps=0.0), "eps"), (lambda: Hedge(lr=float("nan")), "lr"),
    (lambda: OGDMemory(Ball(1.0), memory=0), "memory"), (lambda: Constant(0), "lr"),
])
def test_bad_hyperparameters(make, arg):
    with pytest.raises(olc.OlcError, match=arg):
        make()


def test_bad_feedback_is_named():
    learner = OGD(Ball(1.0), lr=0.1)
    state = learner.init((2,))
    with pytest.raises(olc.ShapeError, match="OGD: gradient of round 0"):
        learner.update(state, olc.Feedback(0, "gradient", 0.0, np.ones(3)))
    with pytest.raises(olc.NonFiniteError, match="OGD"):
        learner.update(state, olc.Feedback(0, "gradient", 0.0, np.array([np.inf, 0.0])))
    with pytest.raises(olc.FeedbackError):
        learner.update(state, olc.Feedback(0, "bandit", 0.0))


@pytest.mark.parametrize("cls", [OGD, FTRL])
def test_init_x0_overrides_the_constructor_start(cls):
    # first decision: Π_K(x0) for OGD; FTRL regularises towards x0, so x_1 = Π_K(x0) too
    lr = Constant(0.1)
    K = Ball(1.0)
    learner = cls(K, lr=lr, x0=np.array([0.2, 0.0]))
    x_ctor, _ = learner.decide(learner.init((2,)))
    x_init, _ = learner.decide(learner.init((2,), x0=np.array([3.0, 4.0])))
    np.testing.assert_allclose(x_ctor, [0.2, 0.0])
    np.testing.assert_allclose(x_init, [0.6, 0.8])
    with pytest.raises(olc.errors.ShapeError, match="x0"):
        learner.init((2,), x0=np.ones(3))
    # a constructor x0 of the wrong shape is reported even when init's x0 overrides it
    with pytest.raises(olc.errors.ShapeError, match="x0"):
        cls(K, lr=lr, x0=np.ones(3)).init((2,), x0=np.zeros(2))
