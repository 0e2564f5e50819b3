"""Disturbance sequences ``w_0..w_{T-1}`` for linear systems, and adaptive adversaries.

Non-stochastic control (the setting of ``nonconvex-meta-optimization`` §3 and of GPC) lets
the disturbance be any bounded sequence, possibly chosen by an adversary. This module gives

* oblivious sequences, each a function returning an array of shape (T, dim) drawn from a
  seeded generator: :func:`zero`, :func:`gaussian`, :func:`uniform`, :func:`sinusoidal`,
  :func:`random_walk` (and :func:`make_disturbance` to pick one by name, e.g. from a config);
* :class:`Adversarial`, an adaptive disturbance that looks at the states and controls played
  so far and returns ``w_t`` of bounded norm.

The generator functions are reached through the module (``olc.systems.disturbances.gaussian``); only
:func:`make_disturbance`, :class:`Adversarial` and :class:`DisturbanceHistory` are re-exported at ``olc.systems``
level (the short names ``zero``, ``gaussian`` ... would be too generic there).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, as_rng, check_alloc, check_choice, nonnegative, positive, positive_int
from ..errors import InvalidArgumentError, NonFiniteError, ShapeError
from ..game import Stateful

__all__ = ["make_disturbance", "Adversarial", "DisturbanceHistory", "DISTURBANCE_KINDS"]


def _dims(T, dim):
    """``T`` and ``dim`` as positive ints, after checking that a few (T, dim) float arrays fit in memory
    (the result plus the generator's draws and temporaries)."""
    T, dim = positive_int(T, "T"), positive_int(dim, "dim")
    check_alloc(2 * 8.0 * T * dim, f"T={T}, dim={dim}: a ({T}, {dim}) disturbance sequence",
                "use a shorter horizon or generate it in pieces")
    return T, dim


def zero(T: int, dim: int) -> np.ndarray:
    """All-zero disturbances, shape (T, dim)."""
    T, dim = _dims(T, dim)
    return np.zeros((T, dim))


def gaussian(T: int, dim: int, scale: float = 1.0, seed=0) -> np.ndarray:
    """I.i.d. ``N(0, scale^2 I)`` disturbances, shape (T, dim)."""
    T, dim = _dims(T, dim)
    scale = nonnegative(scale, "scale")
    return scale * as_rng(seed).standard_normal((T, dim))


def uniform(T: int, dim: int, bound: float = 1.0, seed=0) -> np.ndarray:
    """I.i.d. uniform on the box ``[-bound, bound]^dim``, shape (T, dim)."""
    T, dim = _dims(T, dim)
    bound = nonnegative(bound, "bound")
    return as_rng(seed).uniform(-bound, bound, size=(T, dim))


def sinusoidal(T: int, dim: int, amplitude: float = 1.0, period: float = 20.0, phase=None,
               seed=0) -> np.ndarray:
    """``w_{t,i} = amplitude * sin(2 pi t / period + phase_i)``, shape (T, dim).

    ``phase``: a number or an array (dim,); None (default) draws each ``phase_i`` uniformly in
    ``[0, 2 pi)`` from ``seed``. A deterministic, slowly varying, non-i.i.d. disturbance — the
    kind that separates non-stochastic controllers (GPC) from LQR.
    """
    T, dim = _dims(T, dim)
    amplitude = nonnegative(amplitude, "amplitude")
    period = positive(period, "period")
    if phase is None:
        phase = as_rng(seed).uniform(0.0, 2 * np.pi, size=dim)
    else:
        phase = as_array(phase, "phase", ndim=(0, 1))
        if phase.ndim == 1 and phase.shape != (dim,):
            raise ShapeError(f"phase: expected a number or shape ({dim},), got shape {phase.shape}")
    t = np.arange(T)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        w = amplitude * np.sin(2 * np.pi * t / period + phase)
    if not np.all(np.isfinite(w)):
        raise NonFiniteError(f"period: {period:g} is too small for T={T} steps (2 pi t / period overflows the "
                             "float range)")
    return w


def random_walk(T: int, dim: int, scale: float = 0.1, seed=0) -> np.ndarray:
    """Gaussian random walk ``w_t = w_{t-1} + scale * N(0, I)`` with ``w_{-1} = 0``, shape (T, dim).

    Unbounded in the long run (its norm grows like ``scale * sqrt(t)``): a drifting disturbance.
    """
    T, dim = _dims(T, dim)
    scale = nonnegative(scale, "scale")
    return np.cumsum(scale * as_rng(seed).standard_normal((T, dim)), axis=0)


DISTURBANCE_KINDS = {
    "zero": zero,
    "gaussian": gaussian,
    "uniform": uniform,
    "sinusoidal": sinusoidal,
    "random-walk": random_walk,
}


def make_disturbance(kind: str, T: int, dim: int, **kwargs) -> np.ndarray:
    """The oblivious disturbance named ``kind``, an array (T, dim).

    Parameters
    ----------
    kind : str
        A key of :data:`DISTURBANCE_KINDS`.
    T, dim : int
    **kwargs
        The generator's own parameters (``seed``, ``amplitude``, ...).

    Examples
    --------
    >>> from olc.systems.disturbances import make_disturbance, sinusoidal
    >>> W = make_disturbance("sinusoidal", 100, 2, amplitude=0.5, seed=1)
    >>> W.shape, bool((W == sinusoidal(100, 2, amplitude=0.5, seed=1)).all())
    ((100, 2), True)
    """
    check_choice(kind, "kind", list(DISTURBANCE_KINDS))
    fn = DISTURBANCE_KINDS[kind]
    try:
        return fn(T, dim, **kwargs)
    except TypeError as exc:
        raise InvalidArgumentError(f"make_disturbance({kind!r}): {exc}") from None


# --------------------------------------------------------------------------------------------
# adaptive adversary
# --------------------------------------------------------------------------------------------

class DisturbanceHistory(NamedTuple):
    """What an adaptive disturbance sees at round t.

    Parameters
    ----------
    states, controls : ndarray
        ``x_0..x_t`` (t+1, d) and ``u_0..u_t`` (t+1, m).
    """

    states: np.ndarray
    controls: np.ndarray


def _unpack_history(history):
    if isinstance(history, dict):
        return history["states"], history["controls"]
    if hasattr(history, "states") and hasattr(history, "controls"):
        return history.states, history.controls
    if isinstance(history, (tuple, list)) and len(history) == 2:
        return history[0], history[1]
    raise InvalidArgumentError("history: expected an object with .states and .controls, a dict with keys "
                               "'states'/'controls' or a pair (states, controls), "
                               f"got {type(history).__name__}")


class Adversarial(Stateful):
    """An adaptive disturbance of norm ``bound`` that reacts to the play so far.

    The control game calls it once per round, after the controller chose ``u_t`` and before the next state is
    computed: ``w_t = adv(t, history)`` where ``history`` holds the states ``x_0..x_t`` and controls ``u_0..u_t`` (a
    :class:`DisturbanceHistory`, any object with ``.states``/``.controls``, a dict with those keys, or a pair). Call
    ``reset(rng)`` before a new game.

    Kinds (``||w_t||_2 = bound`` always):

    ``"ascent"``
        Push the nominal next state ``v = A_t x_t + B_t u_t`` further out: ``w_t`` is along
        ``Q v`` (``Q`` = identity by default), the gradient in ``w`` of the next-state cost
        ``(v + w)^T Q (v + w)``; to first order the cost-increasing direction of norm
        ``bound``. Needs ``system`` (anything with ``A(t)``, ``B(t)``); without it ``v = x_t``.
    ``"oppose-control"``
        Cancel the control: ``w_t`` along ``-B_t u_t`` (along ``-u_t`` when no system is
        given, which needs ``dim`` equal to the control dimension).

    When the direction vector is zero (e.g. at ``x_t = 0``), a uniformly random unit direction
    is drawn from the generator given to :meth:`reset` (so the adversary is still seeded).

    Parameters
    ----------
    dim : int
    bound : float
    kind : {"ascent", "oppose-control"}
    system : LinearSystem, optional
    Q : array_like, optional
    """

    KINDS = ("ascent", "oppose-control")
    _state = ("_rng",)  # get_state()/set_state(): the generator, for checkpoints of the control game

    def __init__(self, dim: int, bound: float = 1.0, kind: str = "ascent", *, system=None, Q=None):
        self.dim = positive_int(dim, "dim")
        self.bound = nonnegative(bound, "bound")
        self.kind = check_choice(kind, "kind", self.KINDS)
        if system is not None:
            if not (hasattr(system, "A") and hasattr(system, "B")):
                raise InvalidArgumentError(f"system: expected an object with A(t) and B(t), got {system!r}")
            if getattr(system, "state_dim", self.dim) != self.dim:
                raise ShapeError(f"dim: the system has state_dim {system.state_dim}, got dim={self.dim}")
        self.system = system
        self.Q = None if Q is None else as_array(Q, "Q", shape=(self.dim, self.dim))
        self._rng = np.random.default_rng(0)

    def reset(self, rng=None) -> None:
        """Start a new game.

        Parameters
        ----------
        rng : int or numpy.random.Generator, optional
            Drives the tie-breaking directions.
        """
        self._rng = as_rng(rng)

    def __call__(self, t: int, history) -> np.ndarray:
        states, controls = _unpack_history(history)
        states = as_array(states, "history.states", ndim=2)
        controls = as_array(controls, "history.controls", ndim=2)
        if states.shape[0] == 0 or states.shape[1] != self.dim:
            raise ShapeError(f"history.states: expected shape (t+1, {self.dim}), got shape {states.shape}")
        x = states[-1]
        u = controls[-1] if controls.shape[0] else None
        sys = self.system
        if self.kind == "ascent":
            v = x if sys is None else sys.A(t) @ x + (sys.B(t) @ u if u is not None else 0.0)
            direction = v if self.Q is None else self.Q @ v
        else:  # oppose-control
            if u is None:
                direction = np.zeros(self.dim)
            elif sys is not None:
                direction = -(sys.B(t) @ u)
            else:
                if u.shape[0] != self.dim:
                    raise ShapeError(f"history.controls: 'oppose-control' without a system needs controls of "
                                     f"dimension dim={self.dim}, got shape {controls.shape}")
                direction = -u
        return self.bound * self._unit(direction)

    def _unit(self, v: np.ndarray) -> np.ndarray:
        n = np.linalg.norm(v)
        if not np.isfinite(n) or n <= 1e-300:
            v = self._rng.standard_normal(self.dim)
            n = np.linalg.norm(v)
        return v / n

    def __repr__(self) -> str:
        return f"Adversarial(dim={self.dim}, bound={self.bound}, kind={self.kind!r})"
