"""Training as an online game: the decision is the iterate, the feedback its gradient.

``olc.play(optimizer, optimization(oracle, T, x0))`` is *the* training loop of olc's baselines
(``DESIGN.md``: one training loop for baselines). Round ``t``:

1. the optimizer commits its iterate ``x_t`` (``x_0`` is the game's ``x0``, which
   :func:`olc.play` hands to ``optimizer.init(..., x0=env.initial_decision)``);
2. the game draws a minibatch ``B_t`` from its own seeded generator (``None`` — the full
   objective — for deterministic oracles or ``stochastic=False``) and charges
   ``f(x_t; B_t)``, the per-round loss of ``nonconvex-meta-optimization`` Sec. 2
   (``f_{i,t}(x) = (1/b) Σ_{j∈B_{i,t}} f_{i,j}(x)``);
3. it reveals ``Feedback(kind="gradient", value=f(x_t; B_t), grad=∇f(x_t; B_t))``.

The minibatch stream depends only on the game's generator, never on the iterates, so every
optimizer played with the same ``seed`` sees the same batches (the comparison of App. E.2).
A non-finite value or gradient raises :class:`olc.NonFiniteError` in the oracle, which
:func:`olc.play` turns into :class:`olc.DivergenceError` with the partial trace.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, as_rng, nonnegative, positive_int
from ..errors import InvalidArgumentError
from ..game import Environment, Feedback
from ..oracles.base import FrozenOracle

__all__ = ["OptimizationGame", "optimization"]


class OptimizationGame(Environment):
    """The optimization game on a :class:`olc.oracles.GradientOracle` (see the module docstring).

    :meth:`report` gives ``iterates`` ``(T, dim)``, ``grads`` ``(T, dim)`` (the gradients revealed: the
    disturbances of the optimization LTV), ``values`` ``(T,)``, ``grad_norms`` ``(T,)`` and ``batches``.

    Parameters
    ----------
    oracle, T, x0 : GradientOracle, int, array (dim,)
    stochastic : bool
        Whether minibatches are drawn.
    seed : int or Generator, optional
        A batch stream fixed independently of the play seed (None: :func:`olc.play`'s generator).
    batches : list, optional
        At least ``T`` minibatches to replay instead of drawing them (e.g. ``trace.info["batches"]``).
    tol : float, optional
        Stop (:meth:`done`) after the first round whose gradient norm is ``<= tol``.
    """

    feedback = "full"

    def __init__(self, oracle, T: int, x0=None, stochastic: bool | None = None, seed=None, batches=None,
                 tol: float | None = None):
        from ..oracles.base import GradientOracle

        if not isinstance(oracle, GradientOracle):
            raise InvalidArgumentError(f"oracle: expected an olc.oracles.GradientOracle, got {type(oracle).__name__}")
        self.oracle = oracle
        self.horizon = positive_int(T, "T")
        self.shape = (oracle.dim,)
        if x0 is None:
            start = getattr(oracle, "x0", None)
            if not callable(start):
                raise InvalidArgumentError(f"x0: pass a starting point of shape ({oracle.dim},); the oracle "
                                           f"{oracle.name} has no x0() to take it from")
            x0 = start()
        self.x0 = as_array(x0, "x0", shape=(oracle.dim,), copy=True)
        self.initial_decision = self.x0  # play() passes it to the optimizer's init as x0
        if stochastic is None:
            stochastic = bool(oracle.stochastic)
        elif stochastic and not oracle.stochastic:
            raise InvalidArgumentError(f"stochastic: the oracle {oracle.name} is deterministic (no minibatches); "
                                       "pass stochastic=None or False")
        self.stochastic = bool(stochastic)
        self.seed = seed
        if seed is not None:
            as_rng(seed)  # validate now
        if batches is not None:
            batches = list(batches)
            if len(batches) < self.horizon:
                raise InvalidArgumentError(f"batches: expected at least T = {self.horizon} minibatches to replay, "
                                           f"got {len(batches)}")
            if not self.stochastic and any(bt is not None for bt in batches):
                raise InvalidArgumentError("batches: the game is deterministic (stochastic=False); the minibatches "
                                           "to replay must all be None")
        self.batches = batches
        self.tol = None if tol is None else nonnegative(tol, "tol")
        self._rng = None

    #: the position (for checkpoints, Environment.get_state): the batch generator and the rounds so far
    _state = ("_rng", "_iterates", "_grads", "_values", "_gnorms", "_batches", "_n")

    def reset(self, rng):
        # an int seed restarts the same batch stream on every reset; a Generator is consumed
        self._rng = as_rng(self.seed) if self.seed is not None else rng
        T = self.horizon
        self._iterates = np.empty((T, self.oracle.dim))
        self._grads = np.empty((T, self.oracle.dim))
        self._values = np.empty(T)
        self._gnorms = np.empty(T)
        self._batches = []
        self._n = 0

    def batch(self, t: int):
        """The minibatch of round ``t``: replayed, drawn, or ``None`` when not stochastic.

        Parameters
        ----------
        t : int
        """
        if self.batches is not None:
            return self.batches[t]
        return self.oracle.sample_batch(self._rng) if self.stochastic else None

    def step(self, t, x):
        """Charge round ``t`` at the iterate ``x``.

        Parameters
        ----------
        t, x : int and ndarray
        """
        batch = self.batch(t)
        value, grad = self.oracle.value_and_grad(x, batch)
        self._iterates[t] = x
        self._grads[t] = grad
        self._values[t] = value
        with np.errstate(over="ignore"):  # a huge but finite gradient has norm inf
            self._gnorms[t] = float(np.linalg.norm(grad))
        self._batches.append(batch)
        self._n = t + 1
        # full feedback: the round's loss function f_t = f(.; B_t) (what Alg. 4's rollout re-evaluates);
        # play() strips it for learners that declare gradient feedback
        f_t = self.oracle if batch is None else FrozenOracle(self.oracle, batch)
        return Feedback(t, "full", value, grad, f_t)

    def done(self, t):
        return self.tol is not None and self._gnorms[t] <= self.tol

    def report(self):
        n = self._n
        return {"iterates": self._iterates[:n], "grads": self._grads[:n], "values": self._values[:n],
                "grad_norms": self._gnorms[:n], "batches": list(self._batches[:n])}


def optimization(oracle, T: int, x0=None, stochastic: bool | None = None, seed=None,
                 batches=None, tol: float | None = None) -> OptimizationGame:
    """The optimization game: ``T`` rounds of ``f(x_t; B_t)`` with gradient feedback on ``oracle``.

    ``x0`` defaults to ``oracle.x0()`` where the oracle has one (torch oracles); ``stochastic=None``
    draws minibatches iff the oracle is stochastic (``False``: the full objective every round).

    Parameters
    ----------
    oracle, T, x0, stochastic, seed, batches, tol
        As :class:`OptimizationGame`.
    """
    return OptimizationGame(oracle, T, x0, stochastic=stochastic, seed=seed, batches=batches, tol=tol)
