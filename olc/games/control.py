"""Control of a linear dynamical system as an online game (non-stochastic control).

Round ``t = 0..T-1`` of :func:`control` (``x_0`` given, default 0):

1. the game shows the state ``x_t`` (``observe(t)``);
2. the controller plays ``u_t`` (shape ``(m,)``);
3. the game charges ``c_t(x_t, u_t)`` and moves to ``x_{t+1} = A_t x_t + B_t u_t + w_t``;
   the feedback carries the cost (``value``/``loss``), ``∂c_t/∂u_t`` (``grad``) and the next
   state (``obs``), from which the controller recovers ``w_t = x_{t+1} − A_t x_t − B_t u_t``.

The disturbance is either a fixed array ``(T, d)`` (an oblivious adversary) or an *adaptive*
disturbance object (e.g. :class:`olc.systems.Adversarial`) called as ``w(t, history)`` once
``u_t`` is known, ``history`` holding ``x_0..x_t`` and ``u_0..u_t``. ``report()`` gives the
realised ``states`` (T+1, d), ``controls`` (T, m) and ``disturbances`` (T, d) — kept in
``trace.info`` — which the comparators of :mod:`olc.comparators.control` replay. A system that
carries a :class:`~olc.systems.ValidityRegion` in ``system.info["validity"]`` (a linearised plant,
e.g. :func:`olc.systems.inverted_pendulum`) has the trajectory checked against it:
``trace.info["validity"]`` says whether, when and how far the run left it, and a
:class:`~olc.systems.LinearizationWarning` is issued once per game when it did.

This is the setting of GPC (Agarwal et al. 2019) and of ``nonconvex-meta-optimization`` §3 /
App. B (optimization as control of an LTV system).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, check_alloc, positive, positive_int, scaled_norm
from ..errors import DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError
from ..game import Environment, Feedback

__all__ = ["ControlGame", "control"]


class ControlGame(Environment):
    """The control game of :func:`control` (see the module docstring).

    Attributes ``initial_state`` (``x_0``), ``shape = (m,)``, ``horizon = T``, ``adaptive`` (whether the
    disturbance reacts to the play).

    Parameters
    ----------
    system, w, cost, x0, T, max_state_norm
        As :func:`control` (a state with Euclidean norm above ``max_state_norm`` counts as divergence).
    """

    feedback = "full"
    memory = 1

    def __init__(self, system, w, cost, x0=None, T: int | None = None, max_state_norm: float = 1e12):
        from ..systems.control import check_system
        from ..systems.costs import ConvexCost, QuadraticCost

        self.system = check_system(system)
        d, m = system.state_dim, system.control_dim
        if isinstance(cost, (tuple, list)) and len(cost) == 2:
            cost = QuadraticCost(*cost)
        if not isinstance(cost, (QuadraticCost, ConvexCost)):
            raise InvalidArgumentError(f"cost: expected an olc.systems.QuadraticCost or ConvexCost, "
                                       f"got {type(cost).__name__}")
        if isinstance(cost, QuadraticCost) and (cost.state_dim, cost.control_dim) != (d, m):
            raise ShapeError(f"cost: Q is {cost.Q.shape} and R is {cost.R.shape}, but the system has state_dim {d} "
                             f"and control_dim {m}")
        self.cost = cost
        self._quad = isinstance(cost, QuadraticCost)
        if callable(w) and not isinstance(w, np.ndarray):
            self.adaptive = True
            self.w = w
            T = T if T is not None else system.horizon
            if T is None:
                raise InvalidArgumentError("T: an adaptive disturbance needs the number of rounds T (or a system "
                                           "with a finite horizon)")
            T = positive_int(T, "T")
        else:
            self.adaptive = False
            self.w = as_array(w, "w", shape=(None, d))   # NaN/Inf -> NonFiniteError naming w
            if self.w.shape[0] == 0:
                raise ShapeError("w: expected at least one disturbance, got shape (0, d)")
            if T is None:
                T = self.w.shape[0]
            T = positive_int(T, "T")
            if T > self.w.shape[0]:
                raise ShapeError(f"T: the disturbance array has {self.w.shape[0]} rows, T={T} was asked for")
            self.w = self.w[:T]
        if system.horizon is not None and T > system.horizon:
            raise ShapeError(f"T: the system is defined for {system.horizon} steps, the game asks for {T}")
        self.horizon = T
        self.shape = (m,)
        self.initial_state = np.zeros(d) if x0 is None else as_array(x0, "x0", shape=(d,))
        self.max_state_norm = positive(max_state_norm, "max_state_norm", finite=False)
        # the squared bound, kept finite so that an infinite x @ x never passes the test below
        self._max2 = min(self.max_state_norm, 1e154) ** 2
        # the trajectory record (states, controls, costs; disturbances when adaptive), before allocating it
        check_alloc(8.0 * T * (2 * d + m + 1) + 8.0 * d, f"{type(self).__name__}(T={T}): the record of {T} rounds "
                    f"(states of dimension {d}, controls of dimension {m})", "play a shorter game")
        A, B = system.matrices(T)
        self._A, self._B = np.asarray(A), np.asarray(B)
        self._Q = cost.Q if self._quad else None
        self._R = cost.R if self._quad else None
        self.reset(None)

    # ------------------------------------------------------------------ protocol
    _state = ("_X", "_U", "_W", "_C", "_n")  # the position (checkpoints: Environment.get_state)

    def get_state(self) -> dict:
        """The position (states, controls, disturbances, costs so far) and, for an adaptive
        disturbance, its own state (its random generator: ``w.get_state()``)."""
        state = super().get_state()
        if self.adaptive:
            if callable(getattr(self.w, "get_state", None)):
                state["w"] = self.w.get_state()
            elif hasattr(self.w, "reset"):  # it keeps a state we cannot see
                raise InvalidArgumentError(f"w: the adaptive disturbance {type(self.w).__name__} has reset() but no "
                                           "get_state()/set_state(), so the game cannot be checkpointed")
        return state

    def set_state(self, state: dict) -> None:
        state = dict(state)
        w = state.pop("w", None)
        super().set_state(state)
        if w is not None:
            self.w.set_state(w)

    def reset(self, rng) -> None:
        T, d, m = self.horizon, self.system.state_dim, self.system.control_dim
        self._X = np.zeros((T + 1, d))
        self._X[0] = self.initial_state
        self._U = np.zeros((T, m))
        self._W = np.zeros((T, d)) if self.adaptive else self.w
        self._C = np.zeros(T)
        self._n = 0  # rounds completed
        self._warned = False  # the validity warning is issued once per game
        if self.adaptive and hasattr(self.w, "reset"):
            self.w.reset(rng if rng is not None else np.random.default_rng(0))

    def observe(self, t: int):
        return self._X[t]

    def _disturbance(self, t):
        if not self.adaptive:
            return self._W[t]
        from ..systems.disturbances import DisturbanceHistory

        w = self.w(t, DisturbanceHistory(self._X[: t + 1], self._U[: t + 1]))
        try:
            w = np.asarray(w, dtype=float)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"w: the adaptive disturbance returned {type(w).__name__} in round {t}, "
                                       f"expected an array of shape ({self.system.state_dim},)") from None
        if w.shape != (self.system.state_dim,):
            raise ShapeError(f"w: the adaptive disturbance returned shape {w.shape} in round {t}, expected "
                             f"({self.system.state_dim},)")
        if not np.all(np.isfinite(w)):
            raise NonFiniteError(f"w: the adaptive disturbance returned a non-finite w_{t} = {w}")
        self._W[t] = w
        return w

    def step(self, t: int, u) -> Feedback:
        """Apply the control ``u`` in round ``t``.

        Parameters
        ----------
        t, u : int and ndarray (m,)
        """
        if t != self._n:
            raise InvalidArgumentError(f"t: rounds must be played in order; expected round {self._n}, got {t}")
        x = self._X[t]
        u = np.asarray(u, dtype=float)
        if u.shape != self.shape:
            raise ShapeError(f"u: expected a control of shape {self.shape}, got shape {u.shape}")
        if self._quad:
            Ru = self._R @ u
            value = float(x @ (self._Q @ x) + u @ Ru)
            grad = 2.0 * Ru
        else:
            value = float(self.cost.value(x, u))
            grad = np.asarray(self.cost.grad(x, u)[1], dtype=float)
        self._U[t] = u
        self._C[t] = value
        w = self._disturbance(t)
        x_next = self._next_state(t, x, u, w)
        if not x_next @ x_next <= self._max2 and not self._within_bound(x_next):  # NaN, Inf or too large
            what = ("non-finite" if not np.all(np.isfinite(x_next))
                    else f"above max_state_norm={self.max_state_norm:g} in norm")
            raise DivergenceError(
                f"control: the state x_{t + 1} is {what} (||x_{t}|| = {np.linalg.norm(x):.3g}); the controller "
                f"does not stabilise the system. err.partial holds the states x_0..x_{t}",
                step=t, partial=self.report())
        self._X[t + 1] = x_next
        self._n = t + 1
        return Feedback(t, "full", value, grad, self.cost, x_next, {"w": w})

    def _within_bound(self, x) -> bool:
        """The exact test ``||x|| <= max_state_norm`` for finite states whose squared norm overflows."""
        return bool(np.all(np.isfinite(x))) and scaled_norm(x) <= self.max_state_norm

    def _next_state(self, t, x, u, w):
        """The dynamics: ``A_t x + B_t u + w`` (a nonlinear plant's game overrides it)."""
        return self._A[t] @ x + self._B[t] @ u + w

    def report(self) -> dict:
        n = self._n
        out = {"states": self._X[: n + 1].copy(), "controls": self._U[:n].copy(),
               "disturbances": self._W[:n].copy(), "costs": self._C[:n].copy(), "x0": self.initial_state.copy()}
        region = getattr(self.system, "info", {}).get("validity")
        if region is not None:  # a linearised model: say whether the run stayed where it is accurate
            out["validity"] = region.check(out["states"])
            if not self._warned:
                self._warned = True
                region.warn(out["validity"], f"{type(self).__name__}: the state", stacklevel=4)
        return out

    def __repr__(self):
        kind = "adaptive" if self.adaptive else "oblivious"
        return f"ControlGame({self.system!r}, T={self.horizon}, {kind} disturbance)"


def control(system, w, cost, x0=None, T: int | None = None, max_state_norm: float = 1e12) -> ControlGame:
    """The control game ``x_{t+1} = A_t x_t + B_t u_t + w_t`` with stage cost ``cost`` (see the module).

    Parameters
    ----------
    system : olc.systems.LTISystem or LTVSystem
    w : array (T, d) of disturbances, or an adaptive disturbance (``w(t, history) -> (d,)``,
        optionally with ``reset(rng)``; e.g. :class:`olc.systems.Adversarial`) — then ``T`` is needed
        unless the system has a finite horizon
    cost : olc.systems.QuadraticCost (or a pair ``(Q, R)``) or ConvexCost
    x0 : initial state (default 0)
    T : number of rounds (default ``len(w)``)
    max_state_norm : a state with ``||x||_2`` above this raises :class:`olc.DivergenceError`
    """
    return ControlGame(system, w, cost, x0=x0, T=T, max_state_norm=max_state_norm)
