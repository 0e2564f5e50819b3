"""Bad input at the boundary (issue 16): each reproducer of the audit, as a test.

Bad input gets an olc error naming the argument, the value received and what was expected;
valid input that used to fail gets the right answer; a call that would allocate more than the
machine has says so before allocating (``OLC_MEMORY_LIMIT`` caps "the machine" here).
"""

import numpy as np
import pytest

import olc
from olc import kernels as K
from olc.errors import DivergenceError, InvalidArgumentError, NonFiniteError, OlcError, ResourceError, ShapeError
from olc.game import Feedback
from olc.losses import FunctionLoss, LeastSquares, Linear, Logistic, Quadratic
from olc.sets import Ball, Box
from olc.systems import QuadraticCost

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------ complex numbers are not numbers
def test_complex_arrays_are_refused_not_truncated():
    with pytest.raises(InvalidArgumentError, match=r"x: .*complex numbers"):
        Ball(1.0, 3).project(np.array([3 + 4j, 0, 0]))        # was [1, 0, 0]: the 4j dropped
    with pytest.raises(InvalidArgumentError, match=r"Q: .*complex numbers"):
        QuadraticCost(np.eye(2) * (1 + 1j), np.eye(1))         # was a cost of 3.0
    with pytest.raises(InvalidArgumentError, match=r"G: .*complex"):
        olc.games.linear(np.ones((5, 2)) * 1j)
    with pytest.raises(InvalidArgumentError, match=r"W: .*complex"):
        K.rollout(np.eye(1), np.eye(1), np.ones((1, 3, 1), complex), backend="numpy")
    # the real part, passed explicitly, is fine
    np.testing.assert_allclose(Ball(1.0, 3).project(np.array([3 + 4j, 0, 0]).real), [1.0, 0, 0])


def test_booleans_objects_and_strings_are_not_numeric_arrays():
    with pytest.raises(InvalidArgumentError, match=r"g: .*booleans"):
        Linear(np.array([True, False]))
    with pytest.raises(InvalidArgumentError, match=r"x: .*None"):
        Ball(1.0).project([1.0, None])
    with pytest.raises(InvalidArgumentError, match=r"G: .*strings"):
        olc.games.linear(np.array([["1", "2"]]))
    # an object array of real numbers (e.g. Python ints beyond int64) is a numeric array
    np.testing.assert_array_equal(Ball(1e40).project(np.array([10 ** 30, 0], dtype=object)), [1e30, 0])


# ------------------------------------------------------------------ numeric strings are not numbers
@pytest.mark.parametrize("make, arg", [
    (lambda: Quadratic(np.eye(3), None, "0.5"), "c"),
    (lambda: LeastSquares(np.ones(3), "0.1"), "y"),
    (lambda: olc.learners.MetaGradient(olc.learners.meta_gradients.IdentityRule(), 0.1, w0="0.1"), "w0"),
    (lambda: Feedback(0, "bandit", "0.1"), "value"),
    (lambda: olc.learners.OGD(Ball(1.0), lr="0.1"), "lr"),
    (lambda: Ball("1.0"), "radius"),
])
def test_numeric_strings_are_refused(make, arg):
    with pytest.raises(InvalidArgumentError, match=rf"{arg}: .*'0?\.?[0-9.]+'"):
        make()


def _bandit_state(learner):
    state = learner.init((2,), np.random.default_rng(0), horizon=10)
    return learner.decide(state, None, np.random.default_rng(0))[1]


@pytest.mark.parametrize("value", ["0.1", None, 1 + 1j, [0.1], object()])
@pytest.mark.parametrize("make", [lambda: olc.learners.FKM(Ball(1.0), delta=0.1, lr=0.1),
                                  lambda: olc.learners.BCOMemory(Ball(1.0), memory=1, delta=0.1, lr=0.1)])
def test_bandit_feedback_value_must_be_a_number(make, value):
    learner = make()
    state = _bandit_state(learner)
    with pytest.raises(InvalidArgumentError, match=r"value: expected a real number"):
        learner.update(state, Feedback(0, "bandit", value))
    # a numpy scalar or a 0-d array is a number: same update as the float
    a = learner.update(state, Feedback(0, "bandit", np.float32(0.5)))
    b = learner.update(state, Feedback(0, "bandit", np.array(0.5)))
    np.testing.assert_array_equal(a.x, b.x)


def _gpc_args():
    return np.array([[0.9]]), np.array([[1.0]]), np.ones((1, 5, 1)), np.zeros((1, 1))


@pytest.mark.parametrize("kw, arg", [
    ({"lr": "0.1"}, "lr"), ({"lr": None}, "lr"), ({"lr": 0.1 + 1j}, "lr"), ({"lr": object()}, "lr"),
    ({"lr": 0.1, "kappa": "1"}, "kappa"), ({"lr": 0.1, "kappa": [1]}, "kappa"), ({"lr": 0.1, "kappa": None}, "kappa"),
])
def test_gpc_kernel_rates_are_numbers(kw, arg):
    with pytest.raises(InvalidArgumentError, match=rf"{arg}: expected a real number"):
        K.gpc_rollout(*_gpc_args(), H=2, backend="numpy", **kw)
    # kappa=inf (no projection) stays valid
    assert np.isfinite(K.gpc_rollout(*_gpc_args(), H=2, lr=0.1, kappa=np.inf, backend="numpy").costs).all()


# ------------------------------------------------------------------ raw errors → olc errors
def test_empty_matrices_and_ragged_lists():
    with pytest.raises(ShapeError, match=r"Q: expected a non-empty"):
        olc._validate.check_psd(np.zeros((0, 0)), "Q")
    with pytest.raises(ShapeError, match=r"A: expected a non-empty"):
        olc._validate.check_psd(np.zeros((3, 0, 0)), "A", stack=True)
    with pytest.raises(InvalidArgumentError, match=r"A: .*ragged"):
        K.rollout([[1.0], [1.0, 2.0]], np.eye(1), np.ones((1, 3, 1)), backend="numpy")
    with pytest.raises(InvalidArgumentError, match=r"As: .*ragged"):
        K.interval_norms([[[1.0]], [[1.0, 2.0]]], backend="numpy")


def test_quadratic_with_a_scalar_b():
    with pytest.raises(ShapeError, match=r"b: expected shape \(3,\), got shape \(\)"):
        Quadratic(np.eye(3), 1.0)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_huge_max_state_norm_is_a_valid_bound():
    cost = QuadraticCost(np.eye(2), np.eye(1))
    s = olc.systems.double_integrator()
    w = olc.systems.disturbances.gaussian(50, 2, seed=1)
    lqr = olc.learners.LQR(s, cost)
    a = olc.play(lqr, olc.games.control(s, w, cost, max_state_norm=1e300))   # was OverflowError
    b = olc.play(lqr, olc.games.control(s, w, cost))
    np.testing.assert_array_equal(a.losses, b.losses)
    # the bound is still exact above 1e154 (where ||x||² overflows: x_17 ~ 1e160 here) and inf still
    # counts as divergence
    big = olc.systems.LTISystem(np.array([[1e10]]), np.array([[1.0]]))
    c1 = QuadraticCost(np.eye(1), np.eye(1))
    with pytest.raises(DivergenceError, match=r"x_17 is above max_state_norm=1e\+155"):
        olc.play(olc.learners.ZeroController(), olc.games.control(big, np.ones((40, 1)), c1, max_state_norm=1e155))
    with pytest.raises(DivergenceError):
        olc.play(olc.learners.ZeroController(), olc.games.control(big, np.ones((40, 1)), c1, max_state_norm=np.inf))


def test_pendulum_with_a_degenerate_length():
    with pytest.raises(InvalidArgumentError, match=r"mass, length: .*1e-300"):
        olc.systems.inverted_pendulum(length=1e-300)      # was ZeroDivisionError
    with pytest.raises(NonFiniteError, match=r"zoh_discretize: .*overflows"):
        olc.systems.zoh_discretize(np.array([[1e300]]), np.array([[1.0]]), 10.0)


def test_numba_thread_count():
    pytest.importorskip("numba")
    from olc.kernels import numba_cpu

    for n in (0, -1, 1.5, "2", None):
        with pytest.raises(InvalidArgumentError, match=r"n: expected an integer"):
            numba_cpu.set_num_threads(n)
    prev = numba_cpu.set_num_threads(1)
    assert numba_cpu.get_num_threads() == 1
    numba_cpu.set_num_threads(prev)


def test_integers_beyond_int64_and_the_float_range():
    for call in (lambda: Ball(1.0, dim=10 ** 400), lambda: olc.tasks.sinusoid_regression(10 ** 400),
                 lambda: olc.systems.disturbances.gaussian(2 ** 63, 1), lambda: Ball(10 ** 400)):
        with pytest.raises(InvalidArgumentError, match=r"digits"):
            call()


def test_maml_with_a_huge_number_of_inner_steps():
    """On a quadratic task φ_K → the minimiser x* as K → ∞, so the meta-gradient → 0; K = 10^18 is
    taken in O(log K) products (was an endless loop), K = 5000 agrees with the unrolled recursion."""
    from olc.meta import MAML
    from olc.meta import maml as mm

    task = olc.tasks.random_quadratics(1, dim=3, seed=2)[0]
    theta = RNG.normal(size=3)
    np.testing.assert_allclose(MAML(0.1, 10 ** 18).meta_gradient(task, theta), 0.0, atol=1e-12)
    fast = MAML(0.1, 5000).meta_gradient(task, theta)
    unroll, mm._UNROLL_MAX = mm._UNROLL_MAX, 10 ** 9
    try:
        slow = MAML(0.1, 5000).meta_gradient(task, theta)
    finally:
        mm._UNROLL_MAX = unroll
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-14)


def test_ftml_at_the_singular_point_finds_a_meta_minimiser():
    """inner_lr = 1 on tasks with Hessian I makes I − αA = 0: the meta-objective is flat in w (every
    w is a minimiser); with an eigenvalue 1 among others it loses rank. Was LinAlgError."""
    from olc.games import MetaLearningGame
    from olc.learners import FTML
    from olc.meta import MAML

    tasks = olc.tasks.random_quadratics(3, dim=1, seed=0)
    tr = olc.play(FTML(inner_lr=1.0), MetaLearningGame(tasks, inner_lr=1.0))
    np.testing.assert_allclose(tr.losses, 0.0, atol=1e-12)       # φ = x* whatever w is: zero loss
    tasks = olc.tasks.random_quadratics(4, dim=3, condition=4.0, seed=1)   # eigenvalues 1/4 .. 1
    ftml = FTML(inner_lr=1.0)
    tr = olc.play(ftml, MetaLearningGame(tasks, inner_lr=1.0))
    w = tr.final_state.w
    g = MAML(1.0).meta_gradients(tasks, w)                        # the FTL leader is stationary
    assert np.all(np.isfinite(tr.losses)) and np.linalg.norm(g) < 1e-8
    R = tr.regret(olc.comparators.BestMetaLearner(alpha=1.0))
    assert np.all(np.isfinite(R)) and R[-1] >= -1e-9


# ------------------------------------------------------------------ valid input gets the right answer
def test_regret_of_a_shorter_play_is_over_the_rounds_played():
    G = RNG.uniform(-1, 1, (20, 3))
    K_ = Ball(1.0)
    short = olc.play(olc.learners.OGD(K_, lr=0.1), olc.games.linear(G), T=10)
    ref = olc.play(olc.learners.OGD(K_, lr=0.1), olc.games.linear(G[:10]))
    assert len(short.sequence) == 10
    np.testing.assert_allclose(short.regret(olc.comparators.BestFixed(K_)),
                               ref.regret(olc.comparators.BestFixed(K_)), rtol=0, atol=1e-12)


def test_hedge_takes_an_int_shape_like_ogd_and_ftrl():
    hedge = olc.learners.Hedge(lr=0.5)
    a, b = hedge.init(3, np.random.default_rng(0)), hedge.init((3,), np.random.default_rng(0))
    np.testing.assert_array_equal(a[0], b[0])
    for learner in (olc.learners.OGD(Ball(1.0), lr=0.1), olc.learners.FTRL(Ball(1.0), lr=0.1)):
        learner.init(3, np.random.default_rng(0))
    olc.learners.SGD(0.1).init(3, np.random.default_rng(0), x0=np.zeros(3))
    with pytest.raises(InvalidArgumentError, match="shape: expected a tuple of positive ints"):
        hedge.init(0, np.random.default_rng(0))


def test_convex_game_of_function_losses_with_a_shape():
    A = np.diag([1.0, 2.0])
    fs = [FunctionLoss(lambda x, b=b: 0.5 * x @ A @ x + b @ x, lambda x, b=b: A @ x + b) for b in RNG.normal(size=(6, 2))]
    with pytest.raises(InvalidArgumentError, match=r"shape: .*pass shape="):
        olc.games.convex(fs)
    game = olc.games.convex(fs, shape=(2,))
    ref = olc.games.quadratic(A, np.stack([f.fun(np.zeros(2)) * 0 + f.grad(np.zeros(2)) for f in fs]))
    a = olc.play(olc.learners.OGD(Ball(1.0), lr=0.1), game)
    b = olc.play(olc.learners.OGD(Ball(1.0), lr=0.1), ref)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-12)
    with pytest.raises(InvalidArgumentError, match="shape: expected a tuple of positive ints"):
        olc.games.convex(fs, shape=(0,))


# ------------------------------------------------------------------ silently accepted → refused
def test_fobmaml_steps_and_rate_must_be_positive():
    with pytest.raises(InvalidArgumentError, match=r"inner_steps: expected an integer >= 1, got 0"):
        olc.meta.FOBMAML(1.0, 1e-3, inner_lr=0.1, inner_steps=0)
    with pytest.raises(InvalidArgumentError, match=r"inner_lr: expected a positive number, got 0"):
        olc.meta.FOBMAML(1.0, 1e-3, inner_lr=0, inner_steps=3)


def test_empty_loss_sequences():
    with pytest.raises(ShapeError, match=r"g: a sequence needs at least one round"):
        Linear(np.zeros((0, 3)), batched=True)
    with pytest.raises(ShapeError, match=r"b: a sequence needs at least one round"):
        Quadratic(np.eye(2), np.zeros((0, 2)), batched=True)
    with pytest.raises(ShapeError, match=r"a: a sequence needs at least one round"):
        LeastSquares(np.zeros((0, 2)), np.zeros(0), batched=True)
    with pytest.raises(InvalidArgumentError, match=r"losses: .*at least one round"):
        olc.games.convex([])
    # an empty prefix of a sequence is still fine (a sum over no rounds)
    assert Linear(np.ones((3, 2)), batched=True).total(np.ones(2), upto=0) == 0.0


@pytest.mark.parametrize("loss", [Linear(np.ones(2)), Quadratic(np.eye(2)), LeastSquares(np.ones(2), 1.0),
                                  Logistic(np.ones(2), 1.0),
                                  FunctionLoss(lambda x: float(x @ x), lambda x: 2 * x)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_losses_refuse_non_finite_points(loss, bad):
    x = np.array([bad, 0.0])
    with pytest.raises(NonFiniteError, match=r"x: contains NaN or Inf"):
        loss.value(x)
    with pytest.raises(NonFiniteError, match=r"x: contains NaN or Inf"):
        loss.grad(x)


def test_overflowing_results_are_reported_or_computed_without_overflow():
    with pytest.raises(NonFiniteError, match=r"QuadraticCost.value: overflowed .*1e\+200"):
        QuadraticCost(np.eye(2), np.eye(1)).value(np.full(2, 1e200), np.ones(1))
    with pytest.raises(NonFiniteError, match=r"Quadratic.value: overflowed"):
        Quadratic(np.eye(2)).value(np.full(2, 1e200))
    with pytest.raises(DivergenceError, match=r"cost of system 0 overflowed to inf at step 1") as err:
        K.rollout(np.eye(2), np.eye(2), np.full((2, 5, 2), 1e200), return_states=True, backend="numpy")
    assert np.isfinite(err.value.partial.states).all()          # the states stayed finite; kept
    # scaled norms: exact where the naive sqrt(sum x²) overflows
    assert Box(-1, 1e200, dim=3).diameter == pytest.approx(np.sqrt(3) * 1e200, rel=1e-12)
    assert Box(-1, 1e200, dim=3).radius == pytest.approx(np.sqrt(3) * 1e200, rel=1e-12)
    np.testing.assert_allclose(Ball(1.0).project(np.array([1e200, 1e200])), [2 ** -0.5] * 2, rtol=1e-12)


# ------------------------------------------------------------------ size guards
@pytest.fixture
def one_gib(monkeypatch):
    monkeypatch.setenv("OLC_MEMORY_LIMIT", str(2 ** 30))


@pytest.mark.parametrize("call, names", [
    (lambda: olc.learners.GPC(olc.systems.double_integrator(), QuadraticCost(np.eye(2), np.eye(1)), H=10 ** 6),
     r"GPC\(H=1000000\)"),                                                          # was 7.28 TiB
    (lambda: olc.systems.disturbances.gaussian(10 ** 9, 10), r"T=1000000000, dim=10"),
    (lambda: olc.systems.disturbances.sinusoidal(10 ** 9, 10), r"T=1000000000"),
    (lambda: olc.systems.make_disturbance("uniform", 10 ** 9, 3), r"T=1000000000"),
    (lambda: olc.games.random_linear(10 ** 9, 10), r"random_linear\(T=1000000000"),
    (lambda: olc.games.random_quadratic(10, 10 ** 6), r"random_quadratic\(T=10, dim=1000000\)"),
    (lambda: olc.games.adversarial_linear(10 ** 9, 10), r"T=1000000000"),
    (lambda: olc.tasks.linear_regression(10 ** 9, 5), r"linear_regression\(n_tasks=1000000000\)"),
    (lambda: olc.tasks.random_quadratics(10 ** 7, 100), r"random_quadratics\(n_tasks=10000000\)"),
    (lambda: olc.tasks.sinusoid_regression(10 ** 9), r"sinusoid_regression\(n_tasks=1000000000\)"),
    (lambda: olc.systems.random_stable(10 ** 6, 1), r"random_stable\(d=1000000"),
    (lambda: olc.systems.switching_system(T=10 ** 9), r"switching_system\(T=1000000000\)"),
    (lambda: olc.learners.OGD(Ball(1.0, dim=10 ** 9), lr=0.1).init(10 ** 9, None), r"shape: .*shape \(1000000000,\)"),
    (lambda: olc.learners.Hedge().init(10 ** 9, None), r"shape: one float64 array of shape \(1000000000,\)"),
    (lambda: olc.systems.dfc_set(10 ** 9, 1, 1), r"dfc_set\(H=1000000000\)"),
    (lambda: Ball(1.0, dim=10 ** 9).center(10 ** 9), r"shape: one float64 array of shape \(1000000000,\)"),
], ids=["GPC-H", "gaussian-T", "sinusoidal-T", "make_disturbance-T", "random_linear-T", "random_quadratic-dim",
        "adversarial_linear-T", "linear_regression-n", "random_quadratics-n", "sinusoid_regression-n",
        "random_stable-d", "switching_system-T", "OGD-Ball-dim", "Hedge-n", "dfc_set-H", "Ball-center"])
def test_size_guards_raise_before_allocating(one_gib, call, names):
    with pytest.raises(ResourceError, match=names + r".*needs about .* but only 1 GiB is available"):
        call()


def test_play_guards_the_trace_it_allocates(one_gib):
    def make(t, past, rng):
        return Linear(np.ones(4))
    game = olc.games.adaptive(make, T=10 ** 6, shape=(4,))     # the adversary's history: 32 MB, fine
    game.horizon = 10 ** 8                                     # a horizon whose trace would need 3.7 GiB
    with pytest.raises(ResourceError, match=r"play\(T=100000000\): the trace"):
        olc.play(olc.learners.OGD(Ball(1.0), lr=0.1), game)
    assert issubclass(ResourceError, (OlcError, MemoryError))


# ------------------------------------------------------------------ progress bars
def test_progress_bars_respect_the_setting(capsys):
    G = RNG.uniform(-1, 1, (50, 2))
    olc.play(olc.learners.OGD(Ball(1.0), lr=0.1), olc.games.linear(G), progress=True)
    assert "OGD" in capsys.readouterr().err
    for quiet in (False, None):          # None: a bar only once a game has run for a few seconds
        olc.play(olc.learners.OGD(Ball(1.0), lr=0.1), olc.games.linear(G), progress=quiet)
        assert capsys.readouterr().err == ""
    with pytest.raises(InvalidArgumentError, match=r"progress: expected True, False or None"):
        olc.play(olc.learners.OGD(Ball(1.0), lr=0.1), olc.games.linear(G), progress="yes")


# ------------------------------------------------------------------ TorchOracle
@pytest.mark.parametrize("X, y, arg", [
    (None, np.ones(4), "X"), (np.ones((4, 3)), None, "y"), ("abc", np.ones(4), "X"), (np.ones((4, 3)), "y", "y"),
    ([[1, 2, 3], [1, 2]], np.ones(2), "X"), (1.0, 1.0, "X"), (np.ones((4, 3)) * 1j, np.ones((4, 1)), "X"),
    (np.array([[object()] * 3] * 4), np.ones((4, 1)), "X"),
])
def test_torch_oracle_data_must_be_real_arrays(X, y, arg):
    torch = pytest.importorskip("torch")
    from olc.oracles import TorchOracle

    with pytest.raises(InvalidArgumentError, match=rf"{arg}: expected"):
        TorchOracle(torch.nn.Linear(3, 1).double(), torch.nn.MSELoss(), X, y)


def test_torch_oracle_loss_must_be_a_tensor():
    torch = pytest.importorskip("torch")
    from olc.oracles import TorchOracle

    with pytest.raises(InvalidArgumentError, match=r"loss_fn: must return a scalar torch tensor .*float"):
        TorchOracle(torch.nn.Linear(3, 1).double(), lambda out, t: 1.0, np.ones((4, 3)), np.ones((4, 1)))
    o = TorchOracle(torch.nn.Linear(3, 1).double(), torch.nn.MSELoss(), np.ones((4, 3), dtype=object), np.ones((4, 1)))
    assert np.isfinite(o.value(o.x0()))


# ------------------------------------------------------------------ code merged after the audit, same rules
# (nonlinear plants, checkpointed play, provenance, sweeps, olc.plot, olc.torch; found by tests/test_fuzz.py)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_nonlinear_plants_refuse_degenerate_parameters():
    P = olc.systems.Pendulum
    with pytest.raises(InvalidArgumentError, match=r"mass, length: .*1e\+300"):
        P(length=1e300)                                     # was OverflowError from length ** 2
    with pytest.raises(InvalidArgumentError, match=r"mass, length: "):
        P(mass=1e-320)                                      # 1/(m l²) overflows (was NonFiniteError on "Bc")
    with pytest.raises(InvalidArgumentError, match=r"damping: b / \(m l\^2\)"):
        P(damping=1e300, mass=1e-10)                        # was NonFiniteError on "Ac"
    with pytest.raises(InvalidArgumentError, match=r"substeps: expected at most 100,000 .*1,000,000,000"):
        P(substeps=10 ** 9)                                 # was an endless RK4 loop
    with pytest.raises(NonFiniteError, match=r"energy: .*overflows"):
        P().energy(np.array([0.0, 1e200]))                  # was a silent inf
    assert P(length=2.0).energy([0.0, 0.0]) == pytest.approx(9.81 * 2.0)   # m g l cos 0


def test_nonlinear_games_and_rollouts_guard_their_memory(one_gib):
    plant, cost = olc.systems.Pendulum(), QuadraticCost(np.eye(2), np.eye(1))
    with pytest.raises(ResourceError, match=r"simulate\(T=1000000000\)"):
        plant.simulate([0.1, 0.0], T=10 ** 9)               # was numpy's MemoryError
    adversary = olc.systems.Adversarial(2, 0.1)
    with pytest.raises(ResourceError, match=r"NonlinearControlGame\(T=1000000000\): the record"):
        olc.games.nonlinear_control(plant, adversary, cost, T=10 ** 9)
    with pytest.raises(ResourceError, match=r"ControlGame\(T=1000000000\): the record"):
        olc.games.control(plant.linearize(), adversary, cost, T=10 ** 9)


def test_nonlinear_control_takes_w_like_the_linear_game():
    plant, cost = olc.systems.Pendulum(), QuadraticCost(np.eye(2), np.eye(1))
    with pytest.raises(InvalidArgumentError, match=r"w: .*ragged"):
        olc.games.nonlinear_control(plant, [[0.1, 0.0], [0.1]], cost)     # was numpy's ValueError
    w = [[0.01, 0.0]] * 6
    lqr = olc.learners.LQR(plant.linearize(), cost)
    a = olc.play(lqr, olc.games.nonlinear_control(plant, w, cost))
    b = olc.play(lqr, olc.games.nonlinear_control(plant, np.array(w), cost))
    np.testing.assert_array_equal(a.losses, b.losses)


@pytest.mark.parametrize("path", ["", b"ck.pkl", 1 + 1j, 3])
def test_checkpoint_paths_must_be_paths(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    game = olc.games.random_linear(6, 2)
    for kw in ({"checkpoint": path, "every": 2}, {"resume": path}):
        with pytest.raises(InvalidArgumentError, match=rf"{next(iter(kw))}: expected a path"):
            olc.play(olc.learners.OGD(Ball(1.0), lr=0.1), game, **kw)
    assert not list(tmp_path.iterdir())                                  # nothing was written


def test_provenance_seed_and_config():
    from olc.provenance import provenance

    for seed in (np.nan, 0.5, "3", True):
        with pytest.raises(InvalidArgumentError, match=r"seed: expected an integer seed or None"):
            provenance({}, seed)
    with pytest.raises(InvalidArgumentError, match=r"config: expected a dataclass instance, a dict or None"):
        provenance("T=3")
    assert provenance({"seed": np.int64(4)})["seed"] == 4 and type(provenance({}, np.int64(4))["seed"]) is int


def test_sweep_seeds_and_grids(one_gib):
    from olc import sweeps

    for seeds in (10 ** 9, "1000000000", "0:1000000000000", 2 ** 63):
        with pytest.raises(ResourceError, match=r"seeds: \d+ seeds"):
            sweeps.parse_seeds(seeds)                                    # was MemoryError / OverflowError
    a = sweeps.plan("oco-regret", {"T": np.array(50)}, 2)                # a 0-d array is one value
    b = sweeps.plan("oco-regret", {"T": 50}, 2)
    assert [c["key"] for c in a.cells] == [c["key"] for c in b.cells]
    with pytest.raises(InvalidArgumentError, match=r"experiment: expected a name \(str\), got None"):
        olc.experiments.get(None)


def test_sweep_tables_and_folders(tmp_path):
    pd = pytest.importorskip("pandas")
    from olc import sweeps

    with pytest.raises(InvalidArgumentError, match=r"table: expected the pandas DataFrame"):
        sweeps.aggregate(None)
    with pytest.raises(InvalidArgumentError, match=r"no column\(s\) \['status'\]"):
        sweeps.aggregate(pd.DataFrame({"a": [1.0, 2.0], "seed": [0, 1]}), ["a"])   # was KeyError
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidArgumentError, match=r"no sweep manifest"):
        sweeps.load_sweep(tmp_path / "file")                             # was NotADirectoryError
    with pytest.raises(InvalidArgumentError, match=r"out: expected a path"):
        sweeps.load_sweep(None)


def test_plot_arguments(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    s, cost = olc.systems.inverted_pendulum(), QuadraticCost(np.eye(2), np.eye(1))
    tr = olc.play(olc.learners.LQR(s, cost), olc.games.control(s, np.full((8, 2), 0.01), cost))
    try:
        with pytest.raises(InvalidArgumentError, match=r"logy: expected True or False"):
            olc.plot.costs(tr, logy=np.ones(2))                          # was numpy's truth-value error
        with pytest.raises(InvalidArgumentError, match=r"names: expected a list of 2"):
            olc.plot.states(tr, names=3)                                 # was TypeError
        with pytest.raises(InvalidArgumentError, match=r"comparator: .*no 'a'"):
            olc.plot.regret({"a": tr}, {})                               # was KeyError
        with pytest.raises(InvalidArgumentError, match=r"path: .*'\.5', not a figure format"):
            olc.plot.save(plt.figure(), str(tmp_path / "fig.0.5"))        # was matplotlib's ValueError
        with pytest.raises(InvalidArgumentError, match=r"source: expected a numeric array"):
            olc.plot.animate("abc", tmp_path / "a.gif", kind="pendulum")  # was float()'s ValueError
        with pytest.raises(InvalidArgumentError, match=r"path: expected a path"):
            olc.plot.animate(tr, None, kind="pendulum")
        with pytest.raises(InvalidArgumentError, match=r"fps: expected a number in \[0.001, 1000.0\], got 1e-38"):
            olc.plot.animate(tr, tmp_path / "a.gif", kind="pendulum", fps=1e-38)  # was OverflowError (long fuzz)
    finally:
        plt.close("all")


def test_torch_meta_learners_take_real_arrays():
    torch = pytest.importorskip("torch")
    T = olc.torch
    net, mse = torch.nn.Linear(2, 1).double(), torch.nn.functional.mse_loss
    X = np.random.default_rng(0).normal(size=(6, 2))
    y = X @ np.array([[1.0], [-2.0]])
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    maml = T.MAML(net, mse, 0.1, 2)
    ref = maml.meta_gradient((Xt, yt, Xt, yt))
    for a, b in zip(maml.meta_gradient((X, y, X, y)), ref):               # numpy data: was AttributeError
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    ints = maml.meta_gradient((X.round().astype(int), y, X.round(), y))   # integer inputs become float64
    assert all(bool(torch.isfinite(g).all()) for g in ints)
    for bad, match in ((None, r"task\.X_train: expected"), (X * 1j, r"task\.X_train: .*complex"),
                       (np.ones((5, 2)), r"task\.X_train: expected inputs and targets with the same")):
        with pytest.raises(InvalidArgumentError if "expected inputs" not in match else ShapeError, match=match):
            maml.meta_gradient((bad, y, X, y))
    with pytest.raises(ShapeError, match=r"X: the module Linear and loss_fn cannot be evaluated on X of shape "
                                         r"\(6, 3\)"):
        maml.meta_gradient((np.ones((6, 3)), y, X, y))                   # was torch's RuntimeError
    with pytest.raises(InvalidArgumentError, match=r"loss_fn: must return a scalar torch tensor"):
        T.MAML(net, lambda out, t: 1.0, 0.1).meta_gradient((X, y, X, y))  # was AttributeError
    # a loss that does not depend on the parameters has zero meta-gradient, looped (autograd) or batched
    # (vmap) alike (autograd raised "does not require grad")
    const = T.MAML(net, lambda out, t: torch.tensor(0.5, dtype=torch.float64), 0.1)
    for g in const.meta_gradients([(X, y, X, y)] * 2, vmap=False) + const.meta_gradients([(X, y, X, y)] * 2):
        assert float(g.abs().max()) == 0.0
    mmd = T.MetaMD(net, mse, horizon=3)
    with pytest.raises(InvalidArgumentError, match=r"M: .*complex"):
        mmd.meta_objective(mmd.init_params(0).numpy() * 1j, [(X, y)], [np.zeros(3)])
    with pytest.raises(InvalidArgumentError, match=r"M: .*strings"):
        T.MetaMDOptimizer(net.parameters(), np.array([["1", "1", "1"]]))   # was torch's TypeError


def test_torch_optimizers_guard_state_and_steps(one_gib):
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(2, 1).double()
    X, y = torch.ones(4, 2, dtype=torch.float64), torch.full((4, 1), 3.0, dtype=torch.float64)

    def closure(opt):
        def f():
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(X), y)
            loss.backward()
            return loss
        return f

    opt = olc.torch.MetaOptOptimizer(net.parameters(), H=10 ** 9)
    with pytest.raises(ResourceError, match=r"MetaOptOptimizer\(H=1000000000, L=2, M='scalar'\)"):
        opt.step(closure(opt))                                           # was torch's allocator RuntimeError
    before = [p.detach().clone() for p in net.parameters()]
    opt = olc.torch.MetaGradientSGD(net.parameters(), lr=1e308)
    with pytest.raises(NonFiniteError, match=r"MetaGradientSGD: non-finite step"):
        opt.step(closure(opt))                                           # was parameters silently at inf
    for p, q in zip(net.parameters(), before):                           # the parameters are untouched
        torch.testing.assert_close(p.detach(), q, rtol=0, atol=0)
