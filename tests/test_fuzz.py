"""Fuzzing the public API with bad input (hypothesis).

Each probe calls one public constructor or call with one argument replaced by a value drawn
from a pool of bad (and some good) inputs: wrong shapes; int, bool, complex, object and string
dtypes; NaN/Inf; empty arrays; zero, negative and huge sizes and rates; non-square, non-PSD and
singular matrices; torch tensors (complex, boolean, NaN, 0-d) where torch is installed. A probe
passes when it raises an olc error (:class:`olc.errors.OlcError`) or returns a result without
NaN/Inf; anything else — a raw Python/numpy exception, a silent NaN/Inf, a probe running past
:data:`PROBE_SECONDS` — fails the test (the failures are listed at the end). The probes cover
the sets, losses, games, learners, systems, kernels, oracles and tasks, the nonlinear plants and
validity regions, checkpointed play, provenance, sweep planning and ``olc.torch``.

Profiles: the default (fast, deterministic, a few hundred probes, well under 30 s) runs in the
suite; ``OLC_FUZZ=long`` runs at least 5,000 probes with a random seed (``OLC_FUZZ_SEED`` fixes
it) and prints the counts. ``OLC_MEMORY_LIMIT`` is set to 1 GiB, so huge sizes hit the size
guards (:func:`olc._validate.check_alloc`) instead of the machine.
"""

from __future__ import annotations

import collections
import math
import os
import signal
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import olc  # noqa: E402
from olc import kernels as K  # noqa: E402
from olc import losses as L  # noqa: E402
from olc import sets as S  # noqa: E402
from olc.errors import OlcError  # noqa: E402

LONG = os.environ.get("OLC_FUZZ", "").lower() == "long"
N_PROBES = int(os.environ.get("OLC_FUZZ_PROBES", 6000 if LONG else 600))
PROBE_SECONDS = 20.0 if LONG else 10.0


# --------------------------------------------------------------------------- the input pool
class _Weird:
    def __repr__(self):
        return "<object>"


SCALARS = [None, "0.5", "abc", "", b"1", 1 + 1j, 0.5j, True, False, _Weird(), [], [[]], [1, [2, 3]], (1.0,),
           np.nan, np.inf, -np.inf, 0, -1, 1, 2, 3, -0.5, 0.5, 1e-320, 1e-300, 1e300, -1e300, 10 ** 9, 10 ** 12,
           2 ** 63, 10 ** 400, np.float32(0.25), np.int64(4), np.array(0.5), np.array([0.5]), np.bool_(True),
           np.complex128(1.0), float("nan")]

MATRICES = [np.zeros((0, 0)), np.zeros((2, 0)), np.ones((2, 3)), -np.eye(2), np.zeros((2, 2)),
            np.array([[1.0, 2.0], [0.0, 1.0]]), np.array([[1.0, 1.0], [1.0, 1.0]]), np.eye(2) * 1e200,
            np.eye(2) * 1e-300, np.eye(3), np.eye(2) * (1 + 1j), np.full((2, 2), np.nan), np.eye(2, dtype=int),
            np.eye(2, dtype=bool), np.array([["1", "0"], ["0", "1"]]), np.array([[1.0, None], [0.0, 1.0]], dtype=object),
            np.ones((3, 2, 2)), np.stack([np.eye(2), -np.eye(2)]), np.array([[[1.0]], [[1.0]]]), [[1.0, 2.0], [3.0]]]

try:  # tensors where olc takes them (olc.torch, TorchOracle); elsewhere they must be refused or understood
    import torch

    TENSORS = [torch.ones(2, dtype=torch.complex128), torch.ones(2, dtype=torch.bool), torch.tensor([1.0, np.nan]),
               torch.tensor(0.5), torch.ones(4, 2, dtype=torch.float64), torch.ones(2, 3, dtype=torch.float64),
               torch.ones(4, 1, dtype=torch.int64)]
except ImportError:
    TENSORS = []

_dtypes = st.sampled_from([np.float64, np.int64, np.bool_, np.complex128, np.float32, "<U3"])


@st.composite
def _arrays(draw):
    dtype = np.dtype(draw(_dtypes))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    if dtype.kind == "U":
        elements = st.sampled_from(["1", "0.5", "a", ""])
    elif dtype.kind == "f":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=dtype.itemsize * 8)
    else:
        elements = None
    return draw(hnp.arrays(dtype, shape, elements=elements))


# integers: small (zero, negative, a few) or huge (|n| >= 10^9) — the sizes the size guards are for;
# a valid mid-sized dimension (a 4000 x 4000 eigen-decomposition) only costs its honest O(d^3) time
INTEGERS = st.one_of(st.integers(-64, 64), st.integers(10 ** 9, 2 ** 70), st.integers(-(2 ** 70), -(10 ** 9)))
VALUES = st.one_of(st.sampled_from(SCALARS + TENSORS), st.sampled_from(MATRICES), _arrays(),
                   st.floats(allow_nan=True, allow_infinity=True), INTEGERS)


# --------------------------------------------------------------------------- the probes
def _bases():
    """Valid objects the probes vary one argument of (built once)."""
    sys2 = olc.systems.double_integrator()
    cost = olc.systems.QuadraticCost(np.eye(2), np.eye(1))
    G = np.random.default_rng(0).uniform(-1, 1, (6, 2))
    return dict(sys2=sys2, cost=cost, G=G, game=olc.games.linear(G), w=np.full((6, 2), 0.1),
                tasks=olc.tasks.random_quadratics(3, dim=2, seed=0))


def _rows(v) -> int:
    """The leading length of ``v`` (1 for scalars and things without a shape), for building the other
    arguments of a probe; never raises (the probe must fail only inside olc)."""
    try:
        return int(np.shape(v)[0]) if np.ndim(v) >= 1 else 1
    except (TypeError, ValueError):
        return 1


def _grid_finite_part(res):
    """optimizer_grid's contract: NaN final iterates exactly on the diverged grid points."""
    assert np.array_equal(np.isnan(res.x_final).any(axis=1), res.diverged)
    return res.x_final[~res.diverged]


def _fkm_update(value):
    fkm = olc.learners.FKM(S.Ball(1.0), delta=0.1, lr=0.1)
    state = fkm.decide(fkm.init((2,), np.random.default_rng(0)), None, np.random.default_rng(0))[1]
    return fkm.update(state, olc.Feedback(0, "bandit", value)).x


def _probes(b):
    sys2, cost, G, w = b["sys2"], b["cost"], b["G"], b["w"]
    A1, B1, W1 = np.array([[0.5]]), np.array([[1.0]]), np.ones((2, 4, 1))
    qor = olc.oracles.QuadraticOracle(np.eye(2))
    return {
        # sets
        "Ball(radius)": lambda v: S.Ball(v).project(np.ones(3)),
        "Ball(dim)": lambda v: S.Ball(1.0, dim=v).center(v),
        "Ball.project": lambda v: S.Ball(1.0).project(v),
        "Box(lo)": lambda v: S.Box(v, 1.0, dim=2).project(np.zeros(2)),
        "Box(hi)": lambda v: S.Box(-1.0, v, dim=2).diameter,
        "Box.project": lambda v: S.Box(-1.0, 1.0).project(v),
        "Simplex(n)": lambda v: S.Simplex(v).center(v),
        "Simplex(scale)": lambda v: S.Simplex(3, v).project(np.ones(3)),
        "Simplex.project": lambda v: S.Simplex(3).project(v),
        "OperatorBall.project": lambda v: S.OperatorBall(1.0).project(v),
        "FrobeniusBall(shape)": lambda v: S.FrobeniusBall(1.0, shape=v).radius,
        "shrink(delta)": lambda v: S.Ball(1.0).shrink(v).project(np.ones(2)),
        "Product(sets)": lambda v: S.Product(v).radius,
        # losses
        "Linear(g)": lambda v: L.Linear(v).value(np.ones(np.shape(v))),
        "Linear(batched)": lambda v: L.Linear(v, batched=True).total(np.ones(np.shape(v)[1:])),
        "Linear.value(x)": lambda v: L.Linear(np.ones(2)).value(v),
        "Quadratic(A)": lambda v: L.Quadratic(v).value(np.ones(np.shape(v)[-1:])),
        "Quadratic(b)": lambda v: L.Quadratic(np.eye(2), v).grad(np.ones(2)),
        "Quadratic(c)": lambda v: L.Quadratic(np.eye(2), None, v).value(np.ones(2)),
        "Quadratic.value(x)": lambda v: L.Quadratic(np.eye(2)).value(v),
        "Logistic(a)": lambda v: L.Logistic(v, 1.0).value(np.zeros(np.shape(v))),
        "Logistic(y)": lambda v: L.Logistic(np.ones(2), v).grad(np.zeros(2)),
        "LeastSquares(y)": lambda v: L.LeastSquares(np.ones(2), v).value(np.ones(2)),
        "WithMemory(memory)": lambda v: L.WithMemory(L.Linear(G, batched=True), v).memory,
        "WithMemory(weights)": lambda v: L.WithMemory(L.Linear(G, batched=True), 2, v).weights,
        "FunctionLoss(fun returns v)": lambda v: L.FunctionLoss(lambda x: v, lambda x: x).value(np.ones(2)),
        "FunctionLoss(grad returns v)": lambda v: L.FunctionLoss(lambda x: 0.0, lambda x: v).grad(np.ones(2)),
        # games and play
        "games.linear(G)": lambda v: olc.play(olc.learners.OGD(S.Ball(1.0), lr=0.1), olc.games.linear(v)).losses,
        "games.quadratic(A)": lambda v: olc.games.quadratic(v, np.zeros((4, 2))).horizon,
        "games.random_linear(T)": lambda v: olc.games.random_linear(v, 2).horizon,
        "games.random_linear(dim)": lambda v: olc.games.random_linear(4, v).shape,
        "games.random_linear(bound)": lambda v: olc.games.random_linear(4, 2, bound=v).losses.g,
        "games.random_quadratic(curvature)": lambda v: olc.games.random_quadratic(4, 2, curvature=v).losses.A,
        "games.with_memory(memory)": lambda v: olc.games.with_memory(b["game"], v).memory,
        "games.adversarial_linear(T)": lambda v: olc.games.adversarial_linear(v, 2).horizon,
        "games.convex(shape)": lambda v: olc.games.convex([L.Linear(np.ones(2))] * 3, shape=v).shape,
        "play(T)": lambda v: olc.play(olc.learners.OGD(S.Ball(1.0), lr=0.1), b["game"], T=v).losses,
        "play(seed)": lambda v: olc.play(olc.learners.FKM(S.Ball(1.0), 0.1, 0.1), olc.games.bandit(b["game"]),
                                         seed=v).losses,
        "play(progress)": lambda v: olc.play(olc.learners.OGD(S.Ball(1.0), lr=0.1), b["game"], progress=v).losses,
        "FKM.update(Feedback(value))": lambda v: _fkm_update(v),
        # learners
        "OGD(lr)": lambda v: olc.play(olc.learners.OGD(S.Ball(1.0), lr=v), b["game"]).losses,
        "OGD.init(shape)": lambda v: olc.learners.OGD(S.Ball(1.0), lr=0.1).init(v, None).x,
        "FTRL(lr)": lambda v: olc.play(olc.learners.FTRL(S.Ball(1.0), lr=v), b["game"]).losses,
        "Hedge(lr)": lambda v: olc.play(olc.learners.Hedge(lr=v), olc.games.linear(np.abs(G))).losses,
        "Hedge.init(shape)": lambda v: olc.learners.Hedge().init(v, None)[0],
        "AdaGrad(lr)": lambda v: olc.play(olc.learners.AdaGrad(S.Box(-1, 1), lr=v), b["game"]).losses,
        "AOFTRL(lr)": lambda v: olc.play(olc.learners.AOFTRL(S.Ball(1.0), lr=v), b["game"]).losses,
        "FKM(delta)": lambda v: olc.play(olc.learners.FKM(S.Ball(1.0), delta=v, lr=0.1), b["game"]).losses,
        "BCOMemory(memory)": lambda v: olc.learners.BCOMemory(S.Ball(1.0), memory=v, delta=0.1).memory,
        "SGD(lr)": lambda v: olc.learners.optimizers.train(olc.learners.SGD(v), olc.oracles.QuadraticOracle(np.eye(2)), 5,
                                                np.ones(2)).losses,
        "Adam(lr)": lambda v: olc.learners.optimizers.train(olc.learners.Adam(v), olc.oracles.QuadraticOracle(np.eye(2)), 5,
                                                 np.ones(2)).losses,
        "HeavyBall(momentum)": lambda v: olc.learners.HeavyBall(0.1, v).momentum,
        "train(T)": lambda v: olc.learners.optimizers.train(olc.learners.SGD(0.1), qor, v, np.ones(2)).losses,
        "train(x0)": lambda v: olc.learners.optimizers.train(olc.learners.SGD(0.1), qor, 3, v).losses,
        "MAML(inner_lr)": lambda v: olc.meta.MAML(v).meta_gradient(b["tasks"][0], np.zeros(2)),
        "MAML(inner_steps)": lambda v: olc.meta.MAML(0.1, v).meta_gradient(b["tasks"][0], np.zeros(2)),
        "MAML.meta_gradient(theta)": lambda v: olc.meta.MAML(0.1).meta_gradient(b["tasks"][0], v),
        "FOBMAML(lam)": lambda v: olc.meta.FOBMAML(v, 1e-3, inner_lr=0.1, inner_steps=3).meta_gradient(
            b["tasks"][0], np.zeros(2)),
        "FOBMAML(inner_steps)": lambda v: olc.meta.FOBMAML(1.0, 1e-3, inner_lr=0.1, inner_steps=v).nu,
        "FTML(inner_lr)": lambda v: olc.play(olc.learners.FTML(v), olc.games.MetaLearningGame(b["tasks"], 0.1)
                                             ).losses,
        "MetaGradient(w0)": lambda v: olc.learners.MetaGradient(olc.learners.meta_gradients.IdentityRule(), 0.1, w0=v).w0,
        "MetaGradient(meta_lr)": lambda v: olc.learners.MetaGradient(olc.learners.meta_gradients.IdentityRule(),
                                                                     v).meta_lr(1),
        "meta_train(n_steps)": lambda v: olc.meta.meta_train(olc.meta.MAML(0.1), b["tasks"], np.zeros(2),
                                                                 outer_lr=0.1, n_steps=v).losses,
        # systems and control
        "LTISystem(A)": lambda v: olc.systems.LTISystem(v, np.ones((_rows(v), 1))).A(0),
        "LTISystem(B)": lambda v: olc.systems.LTISystem(np.eye(2), v).B(0),
        "QuadraticCost(Q)": lambda v: olc.systems.QuadraticCost(v, np.eye(1)).value(np.ones(_rows(v)), np.ones(1)),
        "QuadraticCost(R)": lambda v: olc.systems.QuadraticCost(np.eye(2), v).value(np.ones(2), np.ones(_rows(v))),
        "QuadraticCost.value(x)": lambda v: cost.value(v, np.ones(1)),
        "disturbances.gaussian(T)": lambda v: olc.systems.disturbances.gaussian(v, 2),
        "disturbances.gaussian(dim)": lambda v: olc.systems.disturbances.gaussian(5, v),
        "disturbances.gaussian(scale)": lambda v: olc.systems.disturbances.gaussian(5, 2, scale=v),
        "disturbances.sinusoidal(period)": lambda v: olc.systems.disturbances.sinusoidal(5, 2, period=v),
        "disturbances.sinusoidal(phase)": lambda v: olc.systems.disturbances.sinusoidal(5, 2, phase=v),
        "random_stable(d)": lambda v: olc.systems.random_stable(v, 1).A(0),
        "random_stable(spectral_radius)": lambda v: olc.systems.random_stable(2, 1, spectral_radius=v).A(0),
        "switching_system(T)": lambda v: olc.systems.switching_system(T=v).A(0),
        "inverted_pendulum(length)": lambda v: olc.systems.inverted_pendulum(length=v).A(0),
        "inverted_pendulum(dt)": lambda v: olc.systems.inverted_pendulum(dt=v).A(0),
        "double_integrator(dt)": lambda v: olc.systems.double_integrator(v).A(0),
        "Adversarial(bound)": lambda v: olc.systems.Adversarial(2, bound=v)(0, (np.ones((1, 2)), np.ones((1, 1)))),
        "games.control(w)": lambda v: olc.play(olc.learners.LQR(sys2, cost), olc.games.control(sys2, v, cost)).losses,
        "games.control(x0)": lambda v: olc.play(olc.learners.LQR(sys2, cost),
                                                olc.games.control(sys2, w, cost, x0=v)).losses,
        "games.control(max_state_norm)": lambda v: olc.play(olc.learners.LQR(sys2, cost),
                                                            olc.games.control(sys2, w, cost, max_state_norm=v)).losses,
        "GPC(H)": lambda v: olc.learners.GPC(sys2, cost, H=v).H,
        "GPC(lr)": lambda v: olc.play(olc.learners.GPC(sys2, cost, H=2, lr=v), olc.games.control(sys2, w, cost)).losses,
        "GPC(K)": lambda v: olc.learners.GPC(sys2, cost, H=2, K=v).K,
        "dfc_set(radius)": lambda v: olc.systems.dfc_set(3, 1, 2, radius=v).radii,
        "LQR(cost)": lambda v: olc.learners.LQR(sys2, v).K,
        "lqr_gain(Q)": lambda v: olc.systems.lqr_gain(sys2.A(0), sys2.B(0), v, np.eye(1))[0],
        "sequential_stability(As)": lambda v: olc.systems.sequential_stability(v).kappa,
        # kernels
        "kernels.rollout(A)": lambda v: K.rollout(v, B1, W1, backend="numpy").costs,
        "kernels.rollout(W)": lambda v: K.rollout(A1, B1, v, backend="numpy").costs,
        "kernels.rollout(K)": lambda v: K.rollout(A1, B1, W1, K=v, backend="numpy").costs,
        "kernels.rollout(Q)": lambda v: K.rollout(A1, B1, W1, Q=v, backend="numpy").costs,
        "kernels.gpc_rollout(lr)": lambda v: K.gpc_rollout(A1, B1, W1, np.zeros((1, 1)), H=2, lr=v,
                                                           backend="numpy").costs,
        "kernels.gpc_rollout(H)": lambda v: K.gpc_rollout(A1, B1, W1, np.zeros((1, 1)), H=v, lr=0.1,
                                                          backend="numpy").costs,
        "kernels.gpc_rollout(kappa)": lambda v: K.gpc_rollout(A1, B1, W1, np.zeros((1, 1)), H=2, lr=0.1, kappa=v,
                                                              backend="numpy").costs,
        "kernels.interval_norms(As)": lambda v: np.nan_to_num(K.interval_norms(v, backend="numpy"), nan=0.0),
        "kernels.optimizer_grid(A)": lambda v: _grid_finite_part(K.optimizer_grid(v, np.zeros(2), np.ones(2), [0.1],
                                                                                  [0.0], 3, backend="numpy")),
        "kernels.optimizer_grid(lrs)": lambda v: K.optimizer_grid(np.eye(2), np.zeros(2), np.ones(2), v, v, 3,
                                                                  backend="numpy").diverged,
        # oracles, tasks, comparators, helpers
        "QuadraticOracle(A)": lambda v: olc.oracles.QuadraticOracle(v).value(np.ones(_rows(v))),
        "QuadraticOracle.grad(x)": lambda v: qor.grad(v),
        "LeastSquaresOracle(X)": lambda v: olc.oracles.LeastSquaresOracle(v, np.ones(_rows(v))).value(
            np.ones(np.shape(v)[-1:])),
        "LeastSquaresOracle(y)": lambda v: olc.oracles.LeastSquaresOracle(np.ones((3, 2)), v).value(np.ones(2)),
        "LogisticOracle(l2)": lambda v: olc.oracles.LogisticOracle(np.ones((3, 2)), np.ones(3), l2=v).value(
            np.ones(2)),
        "tasks.linear_regression(n_tasks)": lambda v: len(olc.tasks.linear_regression(v, 2)),
        "tasks.linear_regression(dim)": lambda v: len(olc.tasks.linear_regression(2, v)),
        "tasks.random_quadratics(condition)": lambda v: len(olc.tasks.random_quadratics(2, 2, condition=v)),
        "tasks.sinusoid_regression(n_tasks)": lambda v: len(olc.tasks.sinusoid_regression(v)),
        "BestFixed(K)": lambda v: olc.play(olc.learners.OGD(S.Ball(1.0), lr=0.1), b["game"]).regret(
            olc.comparators.BestFixed(v)),
        "BestFixed(tol)": lambda v: olc.play(olc.learners.OGD(S.Ball(1.0), lr=0.1), b["game"]).regret(
            olc.comparators.BestFixed(S.Ball(1.0), tol=v)),
        "check_psd(x)": lambda v: olc._validate.check_psd(v, "x"),
        "as_rng(seed)": lambda v: olc._validate.as_rng(v).random(),
        "set_backend(name)": lambda v: olc.set_backend(v),
    }


def _nonlinear_probes(b):
    """Nonlinear plants, validity regions, checkpointed play, provenance, sweeps' planning (branches
    merged after the audit of issue 16: they follow the same rules)."""
    P, cp, cost = olc.systems.Pendulum, olc.systems.CartPole(), b["cost"]
    pend = P()
    lin, w = pend.linearize(), np.full((6, 2), 0.01)
    game = olc.games.random_linear(6, 2)

    def ogd():
        return olc.learners.OGD(S.Ball(1.0), lr=0.1)

    return {
        "Pendulum(dt)": lambda v: P(dt=v).linearize().A(0),
        "Pendulum(length)": lambda v: P(length=v).linearize().A(0),
        "Pendulum(mass)": lambda v: P(mass=v).linearize().B(0),
        "Pendulum(damping)": lambda v: P(damping=v).linearize().A(0),
        "Pendulum(gravity)": lambda v: P(gravity=v).simulate([0.1, 0.0], T=5),
        "Pendulum(substeps)": lambda v: P(substeps=v).simulate([0.1, 0.0], T=3),
        "Pendulum(validity_tol)": lambda v: P(validity_tol=v).validity.bounds,
        "CartPole(half_length)": lambda v: olc.systems.CartPole(half_length=v).simulate(np.zeros(4), T=5),
        "CartPole(pole_mass)": lambda v: olc.systems.CartPole(pole_mass=v).linearize().A(0),
        "Pendulum.step(x)": lambda v: pend.step(v),
        "Pendulum.step(u)": lambda v: pend.step([0.1, 0.0], v),
        "Pendulum.step(w)": lambda v: pend.step([0.1, 0.0], None, v),
        "Pendulum.simulate(x0)": lambda v: pend.simulate(v, T=5),
        "Pendulum.simulate(U)": lambda v: pend.simulate([0.1, 0.0], v),
        "Pendulum.simulate(W)": lambda v: pend.simulate([0.1, 0.0], None, v),
        "Pendulum.simulate(T)": lambda v: pend.simulate([0.1, 0.0], T=v),
        "Pendulum.energy(x)": lambda v: pend.energy(v),
        "CartPole.energy(x)": lambda v: cp.energy(v),
        "ValidityRegion(bounds)": lambda v: olc.systems.ValidityRegion(v).bounds,
        "ValidityRegion(bound)": lambda v: olc.systems.ValidityRegion({0: v}).check(np.ones((3, 2))),
        "ValidityRegion.check(states)": lambda v: olc.systems.ValidityRegion({0: 1.0}).check(v),
        "small_angle_bound(tol)": lambda v: olc.systems.small_angle_bound(v),
        "zoh_discretize(A)": lambda v: olc.systems.zoh_discretize(v, np.ones((_rows(v), 1)), 0.1),
        "zoh_discretize(B)": lambda v: olc.systems.zoh_discretize(np.eye(2), v, 0.1),
        "zoh_discretize(dt)": lambda v: olc.systems.zoh_discretize(np.eye(2), np.ones((2, 1)), v),
        "nonlinear_control(w)": lambda v: olc.play(olc.learners.LQR(lin, cost),
                                                   olc.games.nonlinear_control(pend, v, cost)).losses,
        "nonlinear_control(x0)": lambda v: olc.play(olc.learners.LQR(lin, cost),
                                                    olc.games.nonlinear_control(pend, w, cost, x0=v)).losses,
        "nonlinear_control(max_state_norm)": lambda v: olc.play(
            olc.learners.LQR(lin, cost), olc.games.nonlinear_control(pend, w, cost, max_state_norm=v)).losses,
        "nonlinear_control(plant)": lambda v: olc.games.nonlinear_control(v, w, cost).horizon,
        "nonlinear_control(T)": lambda v: olc.games.nonlinear_control(pend, olc.systems.Adversarial(2, 0.1), cost,
                                                                      T=v).horizon,
        # checkpoint paths are relative to the test's temporary working directory
        "play(every)": lambda v: olc.play(ogd(), game, checkpoint="ck.pkl", every=v).losses,
        "play(checkpoint)": lambda v: olc.play(ogd(), game, checkpoint=v, every=2).losses,
        "play(resume)": lambda v: olc.play(ogd(), game, resume=v).losses,
        "provenance(config)": lambda v: olc.provenance.provenance(v)["seed"],
        "provenance(seed)": lambda v: olc.provenance.provenance({}, v)["seed"],
        "sweeps.parse_seeds(seeds)": lambda v: len(olc.sweeps.parse_seeds(v)),
        "sweeps.plan(grid)": lambda v: len(olc.sweeps.plan("oco-regret", {"T": v}, 1).cells),
        "sweeps.plan(base)": lambda v: len(olc.sweeps.plan("oco-regret", {}, 1, base={"T": v}).cells),
        "sweeps.plan(seeds)": lambda v: len(olc.sweeps.plan("oco-regret", {}, v).cells),
        "experiments.get(name)": lambda v: olc.experiments.get(v).NAME,
    }


def _torch_probes():
    """olc.torch optimizers and meta-learners, TorchOracle (only where torch is installed)."""
    try:
        import torch
    except ImportError:
        return {}
    X, y = torch.ones(4, 2, dtype=torch.float64), torch.ones(4, 1, dtype=torch.float64)
    net = torch.nn.Linear(2, 1).double()
    mse = torch.nn.functional.mse_loss
    task = (X, y, X, y)
    T = olc.torch

    def run(make, steps=4):
        """A few steps of a torch optimizer on a least-squares problem; the final parameters."""
        m = torch.nn.Linear(2, 1).double()
        opt = make(m.parameters())

        def closure():
            opt.zero_grad()
            loss = mse(m(X), 3 * y)
            loss.backward()
            return loss

        for _ in range(steps):
            opt.step(closure)
        return [p.detach().numpy() for p in m.parameters()]

    def metamd(v=None, **kw):
        mmd = T.MetaMD(net, mse, horizon=3, **kw)
        return mmd, mmd.init_params(0), torch.zeros(3, dtype=torch.float64)

    def meta_objective(M=None, data=None, theta1=None, **kw):
        mmd, M0, th0 = metamd(**kw)
        E, dE = mmd.meta_objective(M0 if M is None else M, [(X, y) if data is None else (data, y)],
                                   [th0 if theta1 is None else theta1])
        return float(E), dE.numpy()

    return {
        "TorchOracle(X)": lambda v: olc.oracles.TorchOracle(net, mse, v, np.ones((_rows(v), 1))).value(np.zeros(3)),
        "TorchOracle(y)": lambda v: olc.oracles.TorchOracle(net, mse, np.ones((_rows(v), 2)), v).value(np.zeros(3)),
        "MetaGradientSGD(lr)": lambda v: run(lambda p: T.MetaGradientSGD(p, lr=v)),
        "MetaGradientSGD(meta_lr)": lambda v: run(lambda p: T.MetaGradientSGD(p, meta_lr=v)),
        "MetaGradientSGD(w0)": lambda v: run(lambda p: T.MetaGradientSGD(p, w0=v)),
        "MetaGradientSGD(w_min)": lambda v: run(lambda p: T.MetaGradientSGD(p, w_min=v)),
        "OptimisticMetaGradientSGD(hint)": lambda v: run(lambda p: T.OptimisticMetaGradientSGD(p, hint=v)),
        "BMGSGD(target_lr)": lambda v: run(lambda p: T.BMGSGD(p, target_lr=v)),
        "MetaOptOptimizer(lr)": lambda v: run(lambda p: T.MetaOptOptimizer(p, lr=v)),
        "MetaOptOptimizer(H)": lambda v: run(lambda p: T.MetaOptOptimizer(p, H=v)),
        "MetaOptOptimizer(L)": lambda v: run(lambda p: T.MetaOptOptimizer(p, L=v)),
        "MetaOptOptimizer(weight_decay)": lambda v: run(lambda p: T.MetaOptOptimizer(p, weight_decay=v)),
        "MetaOptOptimizer(betas)": lambda v: run(lambda p: T.MetaOptOptimizer(p, betas=v)),
        "MetaOptOptimizer(meta_lr)": lambda v: run(lambda p: T.MetaOptOptimizer(p, meta_lr=v, warmup="early")),
        "MetaOptOptimizer.set_M(M)": lambda v: run(lambda p: _set_M(T.MetaOptOptimizer(p, H=2), v)),
        "MetaMDOptimizer(M)": lambda v: run(lambda p: T.MetaMDOptimizer(p, v)),
        "MetaMDOptimizer(eta)": lambda v: run(lambda p: T.MetaMDOptimizer(p, np.ones((2, 3)), eta=v)),
        "torch.MAML(inner_lr)": lambda v: T.MAML(net, mse, v).meta_gradient(task),
        "torch.MAML(inner_steps)": lambda v: T.MAML(net, mse, 0.1, v).meta_gradient(task),
        "torch.MAML.meta_gradient(X_train)": lambda v: T.MAML(net, mse, 0.1).meta_gradient((v, y, X, y)),
        "torch.MAML.meta_gradient(y_test)": lambda v: T.MAML(net, mse, 0.1).meta_gradient((X, y, X, v)),
        "torch.MAML.meta_gradient(task)": lambda v: T.MAML(net, mse, 0.1).meta_gradient(v),
        "torch.MAML(loss_fn returns v)": lambda v: T.MAML(net, lambda o, t: v, 0.1).meta_gradient(task),
        "torch.IMAML(lam)": lambda v: T.IMAML(net, mse, v, 3, 0.1, 2).meta_gradient(task),
        "torch.FOBMAML(nu)": lambda v: T.FOBMAML(net, mse, 1.0, v, inner_lr=0.1, inner_steps=2).meta_gradient(task),
        "torch.MetaMD(eta)": lambda v: meta_objective(eta=v),
        "torch.MetaMD.meta_objective(M)": lambda v: meta_objective(M=v),
        "torch.MetaMD.meta_objective(X)": lambda v: meta_objective(data=v),
        "torch.MetaMD.meta_objective(theta1)": lambda v: meta_objective(theta1=v),
    }


def _plot_probes(b):
    """olc.plot and the sweep tables (only where matplotlib / pandas are installed); figures are closed."""
    import importlib.util

    out = {}
    if importlib.util.find_spec("matplotlib") is not None:
        import matplotlib.pyplot as plt

        sysl, cost = olc.systems.inverted_pendulum(), b["cost"]
        tr = olc.play(olc.learners.LQR(sysl, cost), olc.games.control(sysl, np.full((8, 2), 0.01), cost))
        tro = olc.play(olc.learners.OGD(S.Ball(1.0), lr=0.1), b["game"])

        def closed(fig):
            plt.close("all")
            return None

        out.update({
            "plot.costs(traces)": lambda v: closed(olc.plot.costs(v)),
            "plot.states(traces)": lambda v: closed(olc.plot.states(v)),
            "plot.states(names)": lambda v: closed(olc.plot.states(tr, names=v)),
            "plot.costs(logy)": lambda v: closed(olc.plot.costs(tr, logy=v)),
            "plot.regret(comparator)": lambda v: closed(olc.plot.regret({"a": tro}, v)),
            "plot.animate(source)": lambda v: olc.plot.animate(v, "a.gif", kind="pendulum", stride=4),
            "plot.animate(fps)": lambda v: olc.plot.animate(tr, "a.gif", kind="pendulum", stride=4, fps=v),
            "plot.animate(path)": lambda v: olc.plot.animate(tr, v, kind="pendulum", stride=4),
            "plot.save(path)": lambda v: olc.plot.save(plt.figure(), v) and plt.close("all"),
        })
    if importlib.util.find_spec("pandas") is not None:
        def table():
            import pandas as pd

            return pd.DataFrame({"a": [1.0, 2.0], "seed": [0, 1], "status": ["ok", "ok"]})

        out.update({
            "sweeps.aggregate(table)": lambda v: olc.sweeps.aggregate(v),
            "sweeps.aggregate(ci)": lambda v: olc.sweeps.aggregate(table(), ["a"], ci=v).to_numpy(),
            "sweeps.aggregate(n_boot)": lambda v: olc.sweeps.aggregate(table(), ["a"], n_boot=min(v, 50) if
                                                                       isinstance(v, int) else v).to_numpy(),
            "sweeps.load_sweep(out)": lambda v: olc.sweeps.load_sweep(v),
        })
    return out


def _set_M(opt, M):
    opt.set_M(M)
    return opt


# --------------------------------------------------------------------------- the checker
class _Slow(Exception):
    pass


def _on_alarm(signum, frame):
    from tqdm.std import tqdm

    # a long loop that shows a progress bar is fine (it says how far it is): stop it, count it apart
    raise _Slow("with a progress bar" if len(getattr(tqdm, "_instances", ())) else "")


def _non_finite(x, depth=0) -> bool:
    """Whether a result holds NaN/Inf (numbers, arrays, tensors, tuples/lists/dicts of them, NamedTuples)."""
    if depth > 4 or x is None or isinstance(x, (str, bytes, bool, np.bool_)):
        return False
    if type(x).__module__ == "torch" and hasattr(x, "detach"):  # a tensor
        x = x.detach().cpu().numpy()
    if isinstance(x, (float, np.floating)):
        return not math.isfinite(x)
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "fc" and not bool(np.isfinite(x).all())
    if isinstance(x, dict):
        return any(_non_finite(v, depth + 1) for v in x.values())
    if isinstance(x, (tuple, list)):
        return any(_non_finite(v, depth + 1) for v in x)
    return False


def _short(v) -> str:
    if isinstance(v, np.ndarray):
        return f"array(dtype={v.dtype}, shape={v.shape})"
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def run_probe(fn, value):
    """``(outcome, detail)``: outcome is ``"olc-error"``, ``"ok"``, ``"raw-error"``, ``"non-finite"``, ``"slow"``
    (no progress bar) or ``"long-with-progress"``."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, PROBE_SECONDS)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = fn(value)
    except _Slow as exc:
        if str(exc):
            return "long-with-progress", f"ran past {PROBE_SECONDS:g} s {exc}"
        return "slow", f"ran past {PROBE_SECONDS:g} s with no progress bar"
    except OlcError as exc:
        return "olc-error", type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
        return "raw-error", f"{type(exc).__name__}: {str(exc)[:160]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if _non_finite(out):
        return "non-finite", f"returned non-finite {_short(out)}"
    return "ok", ""


# --------------------------------------------------------------------------- the test
@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_fuzz_public_api(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OLC_MEMORY_LIMIT", str(2 ** 30))
    monkeypatch.chdir(tmp_path)  # probes of checkpoint paths write there
    bases = _bases()
    probes = {**_probes(bases), **_nonlinear_probes(bases), **_torch_probes(), **_plot_probes(bases)}
    names = sorted(probes)
    counts = collections.Counter()
    failures: dict = {}

    @settings(max_examples=N_PROBES, deadline=None, database=None, derandomize=not LONG,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(name=st.sampled_from(names), value=VALUES)
    def probe(name, value):
        outcome, detail = run_probe(probes[name], value)
        counts[outcome] += 1
        counts["probes"] += 1
        if outcome not in ("ok", "olc-error", "long-with-progress"):
            failures.setdefault((name, outcome, detail.split(":")[0]), f"{name}({_short(value)}) -> {detail}")

    if LONG and os.environ.get("OLC_FUZZ_SEED"):
        probe = hypothesis.seed(int(os.environ["OLC_FUZZ_SEED"]))(probe)
    before = olc.get_backend()
    try:
        probe()
    finally:
        olc.set_backend(before)
    summary = (f"fuzz: {counts['probes']} probes over {len(names)} calls: {counts['olc-error']} olc errors, "
               f"{counts['ok']} finite results, {counts['raw-error']} raw errors, {counts['non-finite']} silent "
               f"NaN/Inf, {counts['slow']} slow without a progress bar, {counts['long-with-progress']} long with one")
    with capsys.disabled():
        if LONG:
            print("\n" + summary)
    assert counts["probes"] >= (5000 if LONG else 100)
    assert not failures, summary + "\n" + "\n".join(sorted(failures.values()))
