"""Bandit convex optimization: learners that see only loss values.

* :class:`FKM` — one-point gradient estimates (Flaxman, Kalai & McMahan 2005).
* :class:`BCOMemory` — bandit convex optimization with memory, Algorithm 6 of
  ``nonconvex-meta-optimization`` (after Gradu, Hallman & Hazan 2020).

Both play inside the Minkowski shrink ``K_α = (1-α)K`` with ``α = δ / r`` where ``r`` is the
set's inradius (``rB ⊆ K``), so the perturbed point ``x + δu`` stays in ``K`` for every unit
``u`` (the paper's ``K_δ`` is the case ``r = 1``). The sphere is the unit sphere of all decision
entries (vectors or matrices), ``d`` the number of entries.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, positive, positive_int, real
from ..errors import InvalidArgumentError
from ..game import Learner
from ..optim import Power, as_schedule
from ..sets import ConvexSet, check_set

__all__ = ["FKM", "BCOMemory", "sphere_sample"]


def sphere_sample(rng: np.random.Generator, shape) -> np.ndarray:
    """A point uniform on the unit sphere of ``R^{prod(shape)}``, reshaped to ``shape``.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : tuple of int
    """
    v = rng.standard_normal(shape)
    n = np.linalg.norm(v)
    while n < 1e-12:  # pragma: no cover - probability zero
        v = rng.standard_normal(shape)
        n = np.linalg.norm(v)
    return v / n


def _shrink_for(K: ConvexSet, delta: float, who: str):
    r = K.inradius
    if not r > 0:
        raise InvalidArgumentError(f"K: {who} perturbs decisions by δ·u and needs a set containing a ball around 0; "
                                   f"{K!r} has inradius 0")
    alpha = delta / r if np.isfinite(r) else 0.0
    if alpha >= 1:
        raise InvalidArgumentError(f"delta: {delta} is not smaller than the set's inradius {r}")
    return K.shrink(alpha) if alpha > 0 else K


def _diameter(K, shape, who):
    """The diameter of ``K`` for decisions of ``shape``; the bandit analyses need it finite."""
    D = K.diameter_for(shape)
    if not np.isfinite(D):
        raise InvalidArgumentError(f"K: {who} needs a bounded set (its step sizes and the (d/δ)·f(y) estimator's "
                                   f"variance are set by the diameter), got {K!r} with diameter {D}")
    return D


def _default_delta(K, delta, horizon, who):
    if delta is not None:
        return delta
    if horizon is None:
        raise InvalidArgumentError(f"delta: pass delta to {who}, or play with a known horizon for the default "
                                   f"δ = (r/2)·T^(-1/4)")
    return 0.5 * min(K.inradius, 1.0) * horizon ** -0.25


def _start(ctor_x0, x0, shape):
    """The first iterate: ``init``'s ``x0``, else the constructor's, else 0 (checked against ``shape``)."""
    x0 = ctor_x0 if x0 is None else x0
    return np.zeros(shape) if x0 is None else as_array(x0, "x0", shape=shape)


def _step_sizes(learner, shape, scale_div):
    """The learner's ``lr``, or the default ``Power(D / scale_div, 3/4)`` (checks K is bounded)."""
    D = _diameter(learner.K, shape, type(learner).__name__)
    return learner.lr if learner.lr is not None else Power(D / scale_div, 0.75)


class FKMState(NamedTuple):
    x: np.ndarray  # the unperturbed iterate in K_α
    u: np.ndarray  # the perturbation of the current round
    t: int
    delta: float  # perturbation radius δ
    lr: object  # the step-size schedule (resolved at init)


class FKM(Learner):
    """One-point bandit gradient descent (Flaxman, Kalai & McMahan 2005).

    Round t: sample ``u`` uniform on the unit sphere, play ``y = x + δu``, observe ``f(y)``,
    estimate ``g = (d/δ) f(y) u`` (an unbiased gradient of the δ-smoothed loss) and step
    ``x ← Π_{K_α}(x - η_t g)``. Defaults follow the ``T^{3/4}`` analysis: ``δ = (min(r,1)/2) T^{-1/4}``
    (``r`` the inradius; needs the horizon) and ``η_t = (D/d) t^{-3/4}`` with ``D`` the diameter.

    Parameters
    ----------
    K : ConvexSet
        Bounded, containing a ball around 0.
    delta, lr : float (``lr`` also a schedule ``t -> η_t``), optional
        The perturbation radius δ and ``η_t`` (None: the defaults above).
    x0 : array, optional
        The first iterate, projected into ``K_α`` (default 0; ``init``'s wins).
    """

    feedback = "bandit"

    def __init__(self, K: ConvexSet, delta: float | None = None, lr=None, x0=None):
        self.K = check_set(K)
        self.delta = None if delta is None else positive(delta, "delta")
        self.lr = None if lr is None else as_schedule(lr)
        self.x0 = x0

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        shape = self.K.check_shape(shape)
        lr = _step_sizes(self, shape, int(np.prod(shape)))
        delta = _default_delta(self.K, self.delta, horizon, "FKM")
        x = _shrink_for(self.K, delta, "FKM").project(_start(self.x0, x0, shape))
        return FKMState(x, np.zeros(shape), 0, delta, lr)

    def decide(self, state, obs, rng):
        u = sphere_sample(rng, state.x.shape)
        return state.x + state.delta * u, state._replace(u=u)

    def update(self, state, feedback):
        f = real(feedback.value, f"FKM: loss value of round {feedback.t}")
        d = state.x.size
        g = (d / state.delta) * f * state.u
        t = state.t + 1
        x = _shrink_for(self.K, state.delta, "FKM").project(state.x - state.lr(t) * g)
        return state._replace(x=x, t=t)


class BCOMState(NamedTuple):
    x: np.ndarray  # x_t (unperturbed iterate)
    us: np.ndarray  # (L, *shape): u_{t-L+1}, ..., u_t (oldest first)
    gs: np.ndarray  # (L, *shape): g_{t-L+1}, ..., g_t (the last L gradient estimates; 0 before round L)
    t: int  # 1-based index of the round about to be played (the paper's t)
    delta: float  # perturbation radius δ
    lr: object  # the step-size schedule (resolved at init)


class BCOMemory(Learner):
    """Bandit convex optimization with memory — Algorithm 6 of ``nonconvex-meta-optimization``.

    With memory ``L`` (the paper's history length) and the paper's 1-based rounds:
    initialise ``x_1 = ... = x_L ∈ K_δ`` and play ``y_i = x_i + δu_i``, ``g_i = 0`` for ``i < L``;
    for ``t = L, ..., T``: play ``y_t``, suffer ``f_t(y_{t-L+1:t})``, store
    ``g_t = (d/δ) f_t(y_{t-L+1:t}) Σ_{i=0}^{L-1} u_{t-i}``, update
    ``x_{t+1} = Π_{K_δ}[x_t - η_t g_{t-L+1}]`` (the *delayed* estimate), sample ``u_{t+1}`` and set
    ``y_{t+1} = x_{t+1} + δu_{t+1}``. Perturbations are played, never accumulated into ``x``.

    Defaults are the schedules of Thm. 5: ``η_t = c_η t^{-3/4}`` and ``δ = c_δ T^{-1/4}``
    (``c_δ = min(r, 1)/2`` with ``r`` the inradius; ``c_η = D/(d L³)`` with ``D`` the diameter —
    our choice of constant (the theorem fixes only the exponents): the estimator sums ``L``
    perturbations and is applied ``L-1`` rounds late, and ``L = 1`` gives FKM's default ``D/d``).
    The default δ needs the horizon. In an :mod:`olc.games` memory game the first ``L-1`` rounds are
    charged on a window padded with the first decision; Alg. 6 ignores their feedback, as does this class.

    Parameters
    ----------
    K, delta, lr, x0
        As in :class:`FKM`.
    memory : int
        ``L``, the length of the losses' memory.
    """

    feedback = "bandit"

    def __init__(self, K: ConvexSet, memory: int, delta: float | None = None, lr=None, x0=None):
        self.K = check_set(K)
        self.memory = positive_int(memory, "memory")
        self.delta = None if delta is None else positive(delta, "delta")
        self.lr = None if lr is None else as_schedule(lr)
        self.x0 = x0

    def init(self, shape, rng, horizon=None, *, x0=None):
        shape = self.K.check_shape(shape)
        L = self.memory
        lr = _step_sizes(self, shape, int(np.prod(shape)) * L ** 3)
        delta = _default_delta(self.K, self.delta, horizon, "BCOMemory")
        x = _shrink_for(self.K, delta, "BCOMemory").project(_start(self.x0, x0, shape))
        # u_1 .. u_L are sampled lazily, one per round, in decide (same distribution as Alg. 6)
        return BCOMState(x, np.zeros((L, *shape)), np.zeros((L, *shape)), 1, delta, lr)

    def decide(self, state, obs, rng):
        u = sphere_sample(rng, state.x.shape)
        us = np.concatenate([state.us[1:], u[None]], axis=0)
        return state.x + state.delta * u, state._replace(us=us)

    def update(self, state, feedback):
        L, t = self.memory, state.t
        if t < L:  # rounds 1..L-1: x_{t+1} = x_t, g_t = 0
            return state._replace(t=t + 1, gs=np.concatenate([state.gs[1:], np.zeros_like(state.x)[None]]))
        f = real(feedback.value, f"BCOMemory: loss value of round {feedback.t}")
        d = state.x.size
        g_t = (d / state.delta) * f * state.us.sum(axis=0)
        gs = np.concatenate([state.gs[1:], g_t[None]], axis=0)  # gs[0] is now g_{t-L+1}
        x = _shrink_for(self.K, state.delta, "BCOMemory").project(state.x - state.lr(t) * gs[0])
        return state._replace(x=x, gs=gs, t=t + 1)
