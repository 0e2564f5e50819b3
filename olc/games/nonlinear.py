"""Control of a *nonlinear* plant as an online game: controllers designed on the linearisation.

:func:`nonlinear_control` is the game of :func:`olc.games.control` with the true dynamics replaced
by a nonlinear plant (:class:`olc.systems.Pendulum`, :class:`olc.systems.CartPole`, or any
:class:`olc.systems.NonlinearPlant`):

    x_{t+1} = F(x_t, u_t) + w_t,

``F`` one RK4-integrated sampling interval with ``u_t`` held. Everything else is the linear game:
the cost ``c_t(x_t, u_t)``, the feedback (cost, ``∂c/∂u``, ``x_{t+1}``), ``trace.info``.
``game.system`` is the plant's linearisation (:meth:`~olc.systems.NonlinearPlant.linearize`), the
model that LQR, GPC and the comparators are built on: ``LQR(game.system, cost)``,
``GPC(game.system, cost, H)``. A controller that recovers ``w_t = x_{t+1} − A x_t − B u_t`` from
its linear model then sees the true disturbance plus the linearisation error
``F(x_t, u_t) − A x_t − B u_t`` — which is how GPC absorbs model mismatch (it is a disturbance
like any other) and why it can beat LQR on the nonlinear plant.

``trace.info["validity"]`` records whether the run left the linear model's validity region
(small angles) and a :class:`~olc.systems.LinearizationWarning` is issued when it did: there the
controllers' model, not the plant, is wrong. Regret against :class:`~olc.comparators.BestDFC`
replays the realised disturbances on the *linear* model, so on a nonlinear plant it measures
regret against the linear-model benchmark (an approximation; say so when reporting it).
"""

from __future__ import annotations

from ..errors import InvalidArgumentError
from .control import ControlGame

__all__ = ["NonlinearControlGame", "nonlinear_control"]


class NonlinearControlGame(ControlGame):
    """The game of :func:`nonlinear_control`; ``system`` is the plant's linearisation.

    Parameters
    ----------
    plant, w, cost, x0, T, max_state_norm
        As :func:`nonlinear_control`.
    """

    def __init__(self, plant, w, cost, x0=None, T: int | None = None, max_state_norm: float = 1e12):
        if not all(hasattr(plant, a) for a in ("linearize", "state_dim", "control_dim", "dt")) or \
                not callable(getattr(plant, "_step", None)):
            raise InvalidArgumentError(f"plant: expected an olc nonlinear plant (olc.systems.Pendulum, CartPole or a "
                                       f"NonlinearPlant), got {type(plant).__name__}")
        self.plant = plant
        super().__init__(plant.linearize(), w, cost, x0=x0, T=T, max_state_norm=max_state_norm)

    def _next_state(self, t, x, u, w):
        return self.plant._step(x, u) + w

    def __repr__(self):
        kind = "adaptive" if self.adaptive else "oblivious"
        return f"NonlinearControlGame({self.plant!r}, T={self.horizon}, {kind} disturbance)"


def nonlinear_control(plant, w, cost, x0=None, T: int | None = None,
                      max_state_norm: float = 1e12) -> NonlinearControlGame:
    """The control game on a nonlinear ``plant`` (see the module docstring).

    Parameters
    ----------
    plant : olc.systems.Pendulum, olc.systems.CartPole or another olc.systems.NonlinearPlant
    w : array (T, d) of disturbances (added after each integrated interval), or an adaptive
        disturbance ``w(t, history)`` (e.g. :class:`olc.systems.Adversarial` built with
        ``system=plant.linearize()``); ``T`` is then needed.
    cost : olc.systems.QuadraticCost (or a pair ``(Q, R)``) or ConvexCost
    x0 : initial state (default: the equilibrium, 0)
    T : number of rounds (default ``len(w)``)
    max_state_norm : a state with ``||x||_2`` above this raises :class:`olc.DivergenceError`

    Examples
    --------
    >>> import numpy as np, olc
    >>> plant = olc.systems.Pendulum()
    >>> cost = olc.systems.QuadraticCost(np.eye(2), np.eye(1))
    >>> game = olc.games.nonlinear_control(plant, np.zeros((200, 2)), cost, x0=[0.3, 0.0])
    >>> trace = olc.play(olc.learners.LQR(game.system, cost), game)
    >>> bool(abs(trace.info["states"][-1, 0]) < 1e-3)
    True
    """
    return NonlinearControlGame(plant, w, cost, x0=x0, T=T, max_state_norm=max_state_norm)
