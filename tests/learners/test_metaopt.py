"""Meta-optimization learners (nonconvex-meta-optimization Alg. 1, 2, 5, 7)."""

import numpy as np
import pytest
from _problems import central_differences, spd_quadratic

import olc
from olc.errors import FeedbackError, InvalidArgumentError, NonFiniteError, ShapeError
from olc.game import Feedback
from olc.learners.metaopt import (
    BanditMetaOpt,
    ConvexMetaOpt,
    MetaOpt,
    NonconvexMetaOpt,
    equivalent_M,
    metaopt_set,
    rollout_window,
    run_episodes,
)
from olc.oracles import LeastSquaresOracle, QuadraticOracle
from olc.sets import Reals
from olc.systems import OptimizationSystem

N = 6


def _quad(n=N, seed=0):
    return QuadraticOracle(*spd_quadratic(n, seed))


def _ogd(ndim, lr=1e-3):
    return olc.learners.OGD(Reals(item_ndim=ndim), lr=lr)


def _record(learner, oracle, T, x0, seed=0):
    """Drive the learner by hand; return iterates, gradients, loss functions and the states before
    each update."""
    rng = np.random.default_rng(seed)
    st = learner.init((oracle.dim,), rng, x0=x0)
    xs, gs, fs, before = [], [], [], []
    for t in range(T):
        x, st = learner.decide(st, None, rng)
        v, g = oracle.value_and_grad(x)
        xs.append(x), gs.append(g), fs.append(oracle), before.append(st)
        st = learner.update(st, Feedback(t, "full", v, g, oracle))
    return np.array(xs), np.array(gs), fs, before, st


def test_contract_from_the_brief():
    A, b = spd_quadratic(20)
    oracle = olc.oracles.QuadraticOracle(A, b)
    value, grad = oracle.value_and_grad(np.zeros(20))
    system = olc.systems.OptimizationSystem(oracle, lr=0.1, weight_decay=0.0)
    meta = olc.learners.Adam(lr=1e-3) if hasattr(olc.learners, "Adam") else _ogd(1)
    opt = olc.learners.MetaOpt(H=8, L=2, M="scalar", base_lr=0.1, weight_decay=0.0, meta_optimizer=meta)
    res = opt.run_episodes(oracle, N=2, T=30, x0=np.zeros(20))
    assert res.losses.shape == (2, 30) and res.Ms.shape == (3, 8)
    assert system.n == 20 and value == 0.0


# ------------------------------------------------------------------ index alignment of the window
@pytest.mark.parametrize("H,L", [(3, 2), (4, 1), (2, 3)])
def test_window_matches_hand_built_window_from_the_equations(H, L):
    """Before update(t): params = x_{t−L}..x_{t−1}, grads = g_{t−H−L}..g_{t−1}, and the rollout runs
    on f_{t−L}..f_t — Alg. 4's x_0, g_{−H}..g_{L−1}, f_0..f_L shifted by t−L (module docstring)."""
    oracle = _quad()
    learner = MetaOpt(H=H, L=L, M="scalar", base_lr=0.1, meta_optimizer=_ogd(1, 1e-2), warmup="early")
    T = 12
    xs, gs, fs, before, _ = _record(learner, oracle, T, np.ones(N))
    for t in range(L, T):
        st = before[t]
        hand = np.array([gs[tau] if tau >= 0 else np.zeros(N) for tau in range(t - H - L, t)])
        np.testing.assert_array_equal(st.grads, hand)
        np.testing.assert_array_equal(st.params[0], xs[t - L])
        win = rollout_window(t, L, H, xs, gs, fs)
        np.testing.assert_array_equal(win["disturbances"], st.grads)
        np.testing.assert_array_equal(win["x_start"], st.params[0])
        assert len(win["losses"]) == L + 1
    # the colleague's OptimizationSystem.window drops the never-used oldest gradient g_{t−L−H}
    sys = OptimizationSystem(oracle, lr=0.1)
    sys.reset(np.ones(N))
    for t in range(T):
        sys.observe()
        sys.step(xs[t + 1] - (xs[t] - 0.1 * gs[t]) if t + 1 < T else None)
    np.testing.assert_allclose(sys.xs[:T], xs, atol=1e-12)
    for t in range(L, T - 1):
        np.testing.assert_allclose(sys.window(t, L, H)["disturbances"], before[t].grads[1:], atol=1e-12)


@pytest.mark.parametrize("kind", ["scalar", "diagonal", "full"])
def test_rollout_with_played_M_reproduces_the_trajectory_and_the_jax_shift_does_not(kind):
    """With M fixed, Rollout(M, x_{t−L}, f_{t−L..t}, g_{t−L−H..t−1}) = f_t(x_t) exactly: step s of the
    rollout uses the gradients the played update used. Shifting the gradient window one step older
    (the slice of the authors' JAX code) breaks that identity."""
    oracle, H, L = _quad(), 4, 2
    rng = np.random.default_rng(1)
    M = 0.02 * rng.standard_normal({"scalar": (H,), "diagonal": (H, N), "full": (H, N, N)}[kind])
    learner = MetaOpt(H=H, L=L, M=kind, base_lr=0.1, M0=M, frozen=True)
    xs, gs, fs, _, _ = _record(learner, oracle, 15, np.ones(N))
    sys = OptimizationSystem(oracle, lr=0.1)
    for t in range(H + L - 1, 15):
        win = rollout_window(t, L, H, xs, gs, fs)
        assert sys.rollout(controls=M, **win) == pytest.approx(oracle.value(xs[t]), rel=1e-12, abs=1e-12)
        shifted = dict(win, disturbances=np.concatenate([np.zeros((1, N)), win["disturbances"][:-1]]))
        assert abs(sys.rollout(controls=M, **shifted) - oracle.value(xs[t])) > 1e-8


def test_meta_gradient_matches_finite_differences():
    oracle, H, L = _quad(), 3, 2
    learner = MetaOpt(H=H, L=L, M="diagonal", base_lr=0.1, weight_decay=0.01,
                      M0=0.01 * np.ones((H, N)), frozen=True)
    xs, gs, fs, before, _ = _record(learner, oracle, 10, np.ones(N))
    st = before[8]
    losses = (*st.losses[1:], oracle)
    v, dM = learner.meta_gradient(st, losses)
    sys = OptimizationSystem(oracle, lr=0.1, weight_decay=0.01)
    fd = central_differences(lambda M: sys.rollout(st.params[0], M, list(losses), disturbances=st.grads), st.M)
    np.testing.assert_allclose(dM, fd, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------ classical methods as frozen M
def _loop(oracle, x0, T, step):
    xs, prev = [x0], x0
    for _ in range(T - 1):
        x = xs[-1]
        nxt = step(x, prev, oracle.grad(x))
        prev = x
        xs.append(nxt)
    return np.array(xs)


def test_frozen_M_reproduces_gd_heavy_ball_and_preconditioned_gd():
    oracle, T, eta, x0 = _quad(), 20, 0.1, np.ones(N)
    cases = {
        "gd": (equivalent_M("gd", 4, eta, lr=0.3), "scalar", lambda x, p, g: x - 0.3 * g),
        "heavy_ball": (equivalent_M("heavy_ball", T, eta, momentum=0.9), "scalar",
                       lambda x, p, g: x - eta * g + 0.9 * (x - p)),
        "diag-precond": (equivalent_M("preconditioner", 2, eta, P=np.linspace(0.05, 0.3, N)), "diagonal",
                         lambda x, p, g: x - np.linspace(0.05, 0.3, N) * g),
    }
    P = np.diag(np.linspace(0.1, 0.3, N)) + 0.01
    cases["full-precond"] = (equivalent_M("preconditioner", 2, eta, P=P), "full", lambda x, p, g: x - P @ g)
    for name, (M, kind, step) in cases.items():
        H = M.shape[0]
        learner = MetaOpt(H=H, L=2, M=kind, base_lr=eta, M0=M, frozen=True)
        res = run_episodes(learner, oracle, 1, T, x0)
        ref = np.array([oracle.value(x) for x in _loop(oracle, x0, T, step)])
        np.testing.assert_allclose(res.losses[0], ref, rtol=1e-10, err_msg=name)
    # heavy ball truncated at H < T: error O(μ^H), small but nonzero
    learner = MetaOpt(H=8, L=2, base_lr=eta, M0=equivalent_M("heavy_ball", 8, eta, momentum=0.5), frozen=True)
    ref = np.array([oracle.value(x) for x in _loop(oracle, x0, T, lambda x, p, g: x - eta * g + 0.5 * (x - p))])
    err = np.max(np.abs(run_episodes(learner, oracle, 1, T, x0).losses[0] - ref))
    assert 0 < err < 1e-2


# ------------------------------------------------------------------ learning
def test_metaopt_improves_over_episodes_and_freeze_deploys():
    oracle = _quad(12, seed=3)
    learner = MetaOpt(H=6, L=2, base_lr=0.1, meta_optimizer=_ogd(1, 1e-3))
    res = learner.run_episodes(oracle, N=8, T=60, x0=np.zeros(12))
    ep = res.losses.sum(axis=1)
    assert np.all(np.diff(ep) < 0)  # monotone across deterministic episodes (Sec. 5)
    assert ep[-1] < 0.8 * ep[0]
    # meta-steps at rounds t >= H+L-1 = 7 (0-based, warmup="paper") of each 60-round episode: 53 per episode
    assert learner.start == 7
    np.testing.assert_array_equal(res.meta_steps, 53 * np.arange(1, 9))
    frozen = learner.freeze(res.final_state)
    again = frozen.run_episodes(oracle, N=2, T=60, x0=np.zeros(12))
    np.testing.assert_allclose(again.Ms[0], res.Ms[-1])
    np.testing.assert_allclose(again.Ms[-1], res.Ms[-1])  # frozen: M never changes


def test_convex_metaopt_projects_and_learns():
    oracle = _quad()
    learner = ConvexMetaOpt(H=3, L=2, base_lr=0.1, meta_lr=0.05, radius=0.05)
    res = learner.run_episodes(oracle, N=6, T=40, x0=np.zeros(N))
    K = metaopt_set("full", 3, N, 0.05)
    assert res.Ms.shape == (7, 3, N, N)
    assert all(K.contains(M, tol=1e-9) for M in res.Ms)
    ep = res.losses.sum(axis=1)
    assert ep[-1] < ep[0]


def test_bandit_metaopt_sees_no_meta_gradient_and_stays_in_the_set():
    oracle = LeastSquaresOracle(np.random.default_rng(0).standard_normal((30, N)), np.ones(30))
    learner = BanditMetaOpt(H=3, L=2, base_lr=0.1, delta=0.01, meta_lr=1e-4, radius=0.05)
    assert learner.feedback == "gradient"
    r1 = learner.run_episodes(oracle, N=3, T=30, x0=np.zeros(N), seed=5)
    r2 = learner.run_episodes(oracle, N=3, T=30, x0=np.zeros(N), seed=5)
    np.testing.assert_array_equal(r1.losses, r2.losses)  # seeded
    assert np.all(np.abs(r1.Ms) <= 0.05 + 1e-12)
    assert not np.allclose(r1.Ms[0], r1.Ms[-1])


def test_nonconvex_wrapper_regularises_and_averages():
    oracle = _quad()
    inner = MetaOpt(H=2, L=1, base_lr=0.1, M0=np.zeros(2), frozen=True)
    # beta = 0 and S = T: exactly the inner learner
    a = run_episodes(NonconvexMetaOpt(inner, S=10, beta=0.0), oracle, 1, 10, np.ones(N))
    b = run_episodes(inner, oracle, 1, 10, np.ones(N))
    np.testing.assert_allclose(a.losses, b.losses)
    # beta > 0: epoch k is GD on f + β‖x − x_k‖² from x_k, then x_{k+1} = mean of the S iterates
    beta, S, eta = 0.5, 4, 0.1
    wrapped = NonconvexMetaOpt(inner, S=S, beta=beta, K=3)
    res = wrapped.run_episodes(oracle, N=1, x0=np.ones(N))
    c, xs = np.ones(N), []
    for _k in range(3):
        x, its = c.copy(), []
        for _s in range(S):
            its.append(x)
            x = x - eta * (oracle.grad(x) + 2 * beta * (x - c))
        xs += its
        c = np.mean(its, axis=0)
    np.testing.assert_allclose(res.losses[0], [oracle.value(x) for x in xs], rtol=1e-12)
    np.testing.assert_allclose(res.final_state.centers[-1], c)
    # a learning inner meta-optimizer gets RegularizedOracle loss functions and runs
    learn = NonconvexMetaOpt(MetaOpt(H=2, L=1, base_lr=0.1, meta_optimizer=_ogd(1), warmup="early"), S=5, beta=0.1)
    out = learn.run_episodes(oracle, N=2, T=20, x0=np.ones(N))
    assert np.all(np.isfinite(out.losses)) and out.Ms.shape == (3, 2)


def test_nonconvex_short_epochs_still_learn_M_or_are_refused():
    """S <= H + L − 1 (the paper warm-up never completes inside one epoch): A's state carries across epochs
    (Alg. 5), so M is learned; every epoch starts at its centre; S <= L (no rollout fits in an epoch) raises."""
    oracle = _quad()
    H, L, S = 4, 2, 5  # S = H + L − 1
    inner = MetaOpt(H=H, L=L, base_lr=0.1, meta_optimizer=olc.learners.OGD(Reals(), lr=1e-3))
    wrapped = NonconvexMetaOpt(inner, S=S, beta=0.1, K=6)
    res = wrapped.run_episodes(oracle, N=2, x0=np.ones(N))
    assert not np.allclose(res.Ms[0], res.Ms[-1])                 # M moved away from 0
    # meta-steps: from round H + L − 1 = 5 on (the first epoch has none), and only at s >= L within an epoch
    per_episode = np.diff(res.meta_steps, prepend=0)
    assert per_episode.tolist() == [(6 - 1) * (S - L)] * 2
    centers = res.final_state.centers
    assert len(centers) == 7 and np.all(np.isfinite(res.losses))
    # the iterate of each epoch's first step is that epoch's centre
    tr = olc.play(wrapped, olc.games.optimization(oracle, 30, np.ones(N)))
    for k, c in enumerate(tr.final_state.centers[:-1]):
        np.testing.assert_allclose(tr.decisions[k * S], c)
    # a frozen inner learner may use any S (nothing to learn); a learning one with S <= L is refused
    NonconvexMetaOpt(MetaOpt(H=H, L=L, M0=np.zeros(H), frozen=True), S=1, beta=0.1)
    with pytest.raises(olc.InvalidArgumentError, match=r"^S: .*rollout length L = 2.*got S = 2"):
        NonconvexMetaOpt(inner, S=2, beta=0.1)


def test_plays_in_the_optimization_game():
    """olc.play on olc.games.optimization: the game reveals f_t (full feedback) for Alg. 4's
    rollout; with rollout_oracle the learner needs only gradients. Both equal run_episodes."""
    from olc.games.optimization import optimization

    oracle = _quad()
    game = optimization(oracle, 30, np.ones(N))
    ref = run_episodes(MetaOpt(H=3, L=2, base_lr=0.1, meta_optimizer=_ogd(1)), oracle, 1, 30, np.ones(N))
    trace = olc.play(MetaOpt(H=3, L=2, base_lr=0.1, meta_optimizer=_ogd(1)), game)
    np.testing.assert_allclose(trace.losses, ref.losses[0], rtol=1e-10)
    learner = MetaOpt(H=3, L=2, base_lr=0.1, meta_optimizer=_ogd(1), rollout_oracle=oracle)
    trace = olc.play(learner, game)
    np.testing.assert_allclose(trace.losses, ref.losses[0], rtol=1e-10)
    with pytest.raises(FeedbackError):  # a game without f_t in its feedback cannot feed the rollout
        olc.play(MetaOpt(H=3, L=2, base_lr=0.1, meta_optimizer=_ogd(1)),
                 olc.games.quadratic(oracle.A, np.tile(oracle.b, (30, 1))))
    assert not np.allclose(trace.final_state.M, 0)
    frozen = olc.play(learner.freeze(trace.final_state), optimization(oracle, 30, np.ones(N)))
    assert frozen.losses.sum() < trace.losses.sum()


def test_run_episodes_is_seeded_on_stochastic_problems():
    """Batches come from a per-episode game generator, the learner from a per-episode play stream:
    the same seed gives the same run, another seed other batches."""
    rng = np.random.default_rng(1)
    oracle = LeastSquaresOracle(rng.standard_normal((40, N)), rng.standard_normal(40), batch_size=8)
    make = lambda: MetaOpt(H=3, L=2, base_lr=0.1, meta_optimizer=_ogd(1, 1e-2))  # noqa: E731
    a = run_episodes(make(), oracle, 3, 20, np.zeros(N), seed=4)
    b = run_episodes(make(), oracle, 3, 20, np.zeros(N), seed=4)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.grads, b.grads)
    np.testing.assert_array_equal(a.Ms, b.Ms)
    assert not np.array_equal(a.losses, run_episodes(make(), oracle, 3, 20, np.zeros(N), seed=5).losses)
    # each episode is one play of the optimization game: losses and grads are the game's, final_x the last iterate
    assert a.grads.shape == (3, 20, N) and a.final_x.shape == (3, N)
    np.testing.assert_array_equal(a.meta_steps, (20 - 4) * np.arange(1, 4))  # t >= H+L-1 = 4


@pytest.mark.parametrize("episodic", [False, True])
def test_run_episodes_divergence_keeps_the_completed_episodes(episodic):
    """GD with lr 1 is stable on the first two quadratics (curvature 0.5) and diverges on the third
    (curvature 1000: |1 − 1000| per step): the error carries the two completed episodes."""
    b = np.ones(N)
    problems = [QuadraticOracle(0.5 * np.eye(N), b), QuadraticOracle(0.5 * np.eye(N), -b),
                QuadraticOracle(1e3 * np.eye(N), b), QuadraticOracle(0.5 * np.eye(N), b)]
    make = (lambda: MetaOpt(H=2, L=1, base_lr=1.0, M0=np.zeros(2), frozen=True)) if episodic else \
        (lambda: olc.learners.SGD(1.0))
    with pytest.raises(olc.DivergenceError, match="episode 2") as info:
        run_episodes(make(), problems, 4, 200, np.ones(N), seed=0)
    err = info.value
    part = err.partial
    ok = run_episodes(make(), problems[:2], 2, 200, np.ones(N), seed=0)
    assert part.losses.shape == (2, 200) and part.grads.shape == (2, 200, N) and part.final_x.shape == (2, N)
    np.testing.assert_array_equal(part.losses, ok.losses)
    np.testing.assert_array_equal(part.grads, ok.grads)
    np.testing.assert_array_equal(part.final_x, ok.final_x)
    np.testing.assert_array_equal(part.meta_steps, [0, 0])
    if episodic:
        assert part.Ms.shape == (3, 2) and part.final_state.episode == 1
    else:
        assert part.Ms is None
    # the diverging episode's own rounds are in the cause (play's DivergenceError)
    inner = err.__cause__
    assert isinstance(inner, olc.DivergenceError) and 0 < inner.partial.T < 200
    assert err.step == 2 * 200 + inner.step


def test_state_size_is_h_plus_2l_times_n():
    learner = MetaOpt(H=8, L=2, base_lr=0.1, meta_optimizer=_ogd(1))
    st = learner.init((50,), np.random.default_rng(0), x0=np.zeros(50))
    size = learner.state_floats(st)
    assert size["grads"] + size["params"] == (8 + 2 * 2) * 50


# ------------------------------------------------------------------ bad input
def test_bad_input_raises_clear_errors():
    oracle = _quad()
    for kw in ({"H": 0}, {"L": 0}, {"M": "dense"}, {"base_lr": -1.0}, {"weight_decay": 2.0}):
        with pytest.raises(InvalidArgumentError):
            MetaOpt(**kw)
    learner = MetaOpt(H=2, L=1, base_lr=0.1, meta_optimizer=_ogd(1))
    with pytest.raises(ShapeError):
        learner.init((N, 2), None)
    with pytest.raises(ShapeError):
        learner.init((N,), None, x0=np.ones(N + 1))
    with pytest.raises(ShapeError):
        MetaOpt(H=2, M0=np.zeros(3)).init((N,), None)
    st = learner.init((N,), np.random.default_rng(0), x0=np.ones(N))
    x, st = learner.decide(st, None, None)
    with pytest.raises(ShapeError):
        learner.update(st, Feedback(0, "full", 1.0, np.ones(N + 1), oracle))
    with pytest.raises(NonFiniteError):
        learner.update(st, Feedback(0, "full", float("nan"), np.ones(N), oracle))
    with pytest.raises(NonFiniteError):
        learner.update(st, Feedback(0, "full", 1.0, np.full(N, np.inf), oracle))
    with pytest.raises(FeedbackError):
        learner.update(st, Feedback(0, "gradient", 1.0, np.ones(N)))
    with pytest.raises(InvalidArgumentError):
        run_episodes(learner, "not an oracle", 1, 5)
    with pytest.raises(InvalidArgumentError):
        rollout_window(0, 2, 2, np.zeros((3, N)), np.zeros((3, N)), [oracle] * 3)


def test_rollout_window_and_radius_input_checks():
    q = QuadraticOracle(np.diag([1.0, 10.0]), np.ones(2))
    with pytest.raises(InvalidArgumentError, match=r"t: .*10.*5"):
        rollout_window(10, 2, 3, np.zeros((5, 2)), np.zeros((5, 2)), [q] * 5)
    with pytest.raises(InvalidArgumentError, match="t"):
        rollout_window(2.5, 2, 3, np.zeros((5, 2)), np.zeros((5, 2)), [q] * 5)
    with pytest.raises(ShapeError, match="grads"):
        rollout_window(3, 2, 3, np.zeros((5, 2)), np.zeros(5), [q] * 5)
    ok = rollout_window(4, 2, 3, np.zeros((5, 2)), np.ones((5, 2)), [q] * 5)
    assert ok["disturbances"].shape == (5, 2) and len(ok["losses"]) == 3
    for make in (lambda r: ConvexMetaOpt(H=2, radius=r), lambda r: BanditMetaOpt(H=2, radius=r),
                 lambda r: metaopt_set("full", 2, 3, r)):
        with pytest.raises(InvalidArgumentError, match="radius.*'big'"):
            make("big")
        with pytest.raises(InvalidArgumentError, match="radius"):
            make(-1.0)
        with pytest.raises(NonFiniteError, match="radius"):
            make(np.nan)
        with pytest.raises(ShapeError, match="radius"):
            make(np.ones(5))
