"""Full-information and first-order online convex optimization learners.

:class:`OGD` (Zinkevich 2003), :class:`OGDMemory` (OGD on the unary restriction of losses with
memory, Anava, Hazan & Mannor 2015) and :class:`AdaGrad` (Duchi, Hazan & Singer 2011) are chains of
the optimizer stack :mod:`olc.optim` (its start rule, finiteness check and projection);
:class:`FTRL` (L2 regulariser, exact argmin ``Π_K(x_0 − η_t Σ g_s)``), :class:`Hedge` (entropic FTRL
on the simplex) and :class:`AOFTRL` (adaptive optimistic FTRL with hints, eq. (5) of
``optimistic-meta-gradients``; :func:`aoftrl_regret_bound` is its bound eq. (6)) are lazy
(follow-the-leader) learners. Gradients are checked for shape and NaN/Inf; a learning rate
``<= 0`` is rejected when a learner is built.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, as_shape, no_start, positive, positive_int
from ..errors import InvalidArgumentError
from ..game import Learner
from ..optim import Chain, InverseSqrt, Scale, ScaleByAdaGrad, as_schedule, feedback_grad, initial_point
from ..sets import ConvexSet, check_set

__all__ = ["OGD", "FTRL", "Hedge", "AdaGrad", "AOFTRL", "OGDMemory", "aoftrl_regret_bound", "feedback_grad"]


def _default_lr(K, lr):
    """``lr`` as a schedule; default ``InverseSqrt(D/2)``, ``D`` the diameter of K (1 if unbounded)."""
    D = check_set(K).diameter
    return as_schedule(lr if lr is not None else InverseSqrt(D / 2 if np.isfinite(D) else 1.0))


class OGD(Chain):
    """Online projected gradient descent ``x_{t+1} = Π_K(x_t − η_t g_t)`` (Zinkevich 2003): the
    chain ``Scale(η)`` over the set ``K``. With ``η_t = D/(G√t)`` the regret is at most
    ``(3/2) D G √T`` (Zinkevich 2003, Thm. 1).

    Parameters
    ----------
    K : ConvexSet
    lr : float or schedule ``t -> η_t`` (``t`` from 1)
        Default ``InverseSqrt(D/2)``, ``D`` the diameter of ``K`` (``1/√t`` if unbounded).
    x0 : array, optional
        The first decision (projected; ``init``'s wins; default ``Π_K(0)``).

    Examples
    --------
    >>> import olc
    >>> game = olc.games.linear(np.tile([1.0, 0.0], (4, 1)))
    >>> olc.play(olc.learners.OGD(olc.sets.Ball(1.0), lr=0.5), game, seed=0).decisions
    array([[ 0. ,  0. ],
           [-0.5,  0. ],
           [-1. ,  0. ],
           [-1. ,  0. ]])
    """

    def __init__(self, K: ConvexSet, lr=None, x0=None):
        self.lr = _default_lr(K, lr)
        super().__init__(Scale(self.lr), K=K, x0=x0)


class FTRLState(NamedTuple):
    G: np.ndarray  # sum of past gradients
    t: int
    x0: np.ndarray  # centre of the regulariser


class FTRL(Learner):
    """Follow the regularised leader with the L2 regulariser ``||x - x_0||² / (2 η_t)``.

    ``x_t = argmin_{x∈K} <Σ_{s<t} g_s, x> + ||x - x_0||²/(2η_t) = Π_K(x_0 - η_t Σ_{s<t} g_s)``
    (exact for every set: completing the square turns the argmin into a Euclidean
    projection). Linearised losses: the learner uses the gradients it is given. With a
    constant ``η`` and ``||g_t|| <= G``, regret against ``u`` is at most
    ``||u - x_0||²/(2η) + η Σ||g_t||²/2`` — eq. (6) of ``optimistic-meta-gradients`` with no hints.

    Parameters
    ----------
    K : ConvexSet
    lr : float or schedule
        ``η_t``, non-increasing for the bound to hold (default as :class:`OGD`).
    x0 : array, optional
        The centre ``x_0`` (default 0, not projected; ``init``'s wins).
    """

    feedback = "gradient"

    def __init__(self, K: ConvexSet, lr=None, x0=None):
        self.K, self.lr = K, _default_lr(K, lr)
        self.x0 = None if x0 is None else as_array(x0, "x0", copy=True)

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        shape = self.K.check_shape(shape)
        x0 = initial_point("FTRL", shape, x0, self.x0)  # the regulariser's centre (default 0)
        return FTRLState(np.zeros(shape), 0, np.zeros(shape) if x0 is None else x0)

    def decide(self, state, obs=None, rng=None):
        return self.K.project(state.x0 - self.lr(state.t + 1) * state.G), state

    def update(self, state, feedback):
        g = feedback_grad(feedback, state.G.shape, "FTRL")
        return FTRLState(state.G + g, state.t + 1, state.x0)


class HedgeState(NamedTuple):
    G: np.ndarray  # cumulative losses of the n experts
    t: int
    horizon: int | None


class Hedge(Learner):
    """Exponential weights / entropic FTRL on the simplex: ``x_t ∝ exp(-η_t Σ_{s<t} g_s)``.

    Equivalent to FTRL with the negative-entropy regulariser ``(1/η) Σ x_i log x_i``. For loss
    vectors in ``[0, 1]^n`` and the horizon-tuned ``η = sqrt(8 ln n / T)`` (the default when the
    horizon is known), regret is at most ``sqrt(T ln n / 2)`` (Cesa-Bianchi & Lugosi 2006,
    Thm. 2.2). Without a horizon the default is the anytime ``η_t = sqrt(8 ln n / t)``, with
    regret at most ``2 sqrt((T/2) ln n) + sqrt(ln n / 8)`` (ibid., Thm. 2.3).

    Parameters
    ----------
    lr : float or schedule, optional
        Overrides both defaults.
    """

    feedback = "gradient"

    def __init__(self, lr=None):
        self.lr = None if lr is None else as_schedule(lr)

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        no_start(x0, "Hedge")
        shape = as_shape(shape)  # an int n or (n,); as_shape refuses n < 1
        if len(shape) != 1:
            raise InvalidArgumentError(f"shape: Hedge plays on the simplex of R^n, got decision shape {shape}")
        return HedgeState(np.zeros(shape), 0, horizon)

    def step_size(self, state) -> float:
        """``η_t`` for the next decision.

        Parameters
        ----------
        state : HedgeState
        """
        n = state.G.shape[0]
        if self.lr is not None:
            return self.lr(state.t + 1)
        logn = max(np.log(n), 1e-12)
        if state.horizon is not None:
            return float(np.sqrt(8 * logn / state.horizon))
        return float(np.sqrt(8 * logn / (state.t + 1)))

    def decide(self, state, obs=None, rng=None):
        z = -self.step_size(state) * state.G
        z -= z.max()
        w = np.exp(z)
        return w / w.sum(), state

    def update(self, state, feedback):
        g = feedback_grad(feedback, state.G.shape, "Hedge")
        return HedgeState(state.G + g, state.t + 1, state.horizon)


class AdaGrad(Chain):
    """Diagonal AdaGrad: ``x_{t+1} = Π^{S_t}_K(x_t − η g_t / S_t)`` (``η`` = ``lr``), ``S_t = √(eps + Σ_{s≤t} g_s²)``
    and ``Π^{S}`` the projection in the norm ``||x||_S² = Σ S_i x_i²`` (Duchi, Hazan & Singer 2011,
    Alg. 1 diagonal version): the chain ``ScaleByAdaGrad(eps, decay), Scale(η)`` with ``K``
    (:class:`olc.optim.Chain` projects in the metric ``S``). Exact weighted projections exist for
    :class:`~olc.sets.Box` (a clip), :class:`~olc.sets.Ball` (a 1-D root find) and
    :class:`~olc.sets.Reals`; other sets are rejected.

    Parameters
    ----------
    K : ConvexSet
    lr, eps : float
    x0 : array, optional
        The first decision (projected).
    decay : float in [0, 1]
        ``Σ ← (1 − decay)·Σ + g_t²`` (default 0: AdaGrad exactly, as its regret bound needs): the
        "decay rate" of ``optimistic-meta-gradients`` Table 2 (1: RMSProp up to rescaling ``η``, ``eps``).
    """

    def __init__(self, K: ConvexSet, lr: float = 1.0, eps: float = 1e-12, x0=None, *, decay: float = 0.0):
        self.lr, self.eps, self.decay = positive(lr, "lr"), eps, decay
        super().__init__(ScaleByAdaGrad(eps, decay), Scale(self.lr), K=check_set(K), x0=x0)


class AOFTRLState(NamedTuple):
    G: np.ndarray  # Σ_{s<t} α_s g_s
    t: int
    last_g: np.ndarray  # g_{t-1} (for the "previous gradient" hint)
    hint: np.ndarray  # the hint used for the current decision
    beta: float  # β_t used for the current decision
    err_sq: float  # Σ_{s<t} α_s² ||g_s - h_s||²
    bound_sum: float  # Σ_{s<t} ½ α_s² β_s ||g_s - h_s||²


class AOFTRL(Learner):
    """Adaptive optimistic FTRL with hints — eq. (5) of ``optimistic-meta-gradients``:

    ``u_t = argmin_{u∈K} α_t<h̃_t, u> + Σ_{s<t} α_s<g_s, u> + ||u||²/(2β_t)``
    ``= Π_K(-β_t (Σ_{s<t} α_s g_s + α_t h̃_t))``  (exact: the regulariser is L2).

    The adaptive ``β_t`` is non-increasing and chosen before ``g_t`` is seen, so eq. (6) holds with
    the β_t actually used: ``R(T) <= ||u||²/(2β_T) + ½ Σ_t α_t² β_t ||g_t - h̃_t||²``
    (:func:`aoftrl_regret_bound`, :meth:`regret_bound`).

    Parameters
    ----------
    K : ConvexSet
    lr : "adaptive", float or schedule ``β(t)``
        ``"adaptive"`` (default): ``β_t = scale / sqrt(eps + Σ_{s<t} α_s² ||g_s - h̃_s||²)``.
    hint : None, "previous" or callable ``hint(t, state) -> array``
        ``h̃_t``: None (plain FTRL), ``g_{t-1}`` (0 at the start) or the callable's (``t`` 0-based).
    scale, eps : float
        ``scale`` defaults to the set's radius (1 if unbounded).
    weights : callable ``t -> α_t``, optional
        Loss weights (``t`` 0-based; default 1).
    """

    feedback = "gradient"

    def __init__(self, K: ConvexSet, lr="adaptive", hint=None, scale: float | None = None, eps: float = 1.0,
                 weights=None):
        self.K = check_set(K)
        if isinstance(lr, str) and lr != "adaptive":
            raise InvalidArgumentError(f"lr: expected 'adaptive', a positive number or a schedule, got {lr!r}")
        self.lr = lr if isinstance(lr, str) else as_schedule(lr)
        if not (hint is None or hint == "previous" or callable(hint)):
            raise InvalidArgumentError(f"hint: expected None, 'previous' or a callable (t, state) -> array, got {hint!r}")
        self.hint = hint
        R = K.radius
        self.scale = positive(scale, "scale") if scale is not None else (R if np.isfinite(R) else 1.0)
        self.eps = positive(eps, "eps")
        if weights is not None and not callable(weights):
            raise InvalidArgumentError("weights: expected None or a callable t -> alpha_t > 0")
        self.weights = weights

    def _alpha(self, t):
        if self.weights is None:
            return 1.0
        return positive(self.weights(t), f"weights({t})")

    def _beta(self, t, err_sq):
        if self.lr == "adaptive":
            return self.scale / np.sqrt(self.eps + err_sq)
        return float(self.lr(t + 1))

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        no_start(x0, "AOFTRL")
        shape = self.K.check_shape(shape)
        z = np.zeros(shape)
        return AOFTRLState(z, 0, z, z, self._beta(0, 0.0), 0.0, 0.0)

    def _hint(self, state):
        if self.hint is None:
            return np.zeros_like(state.G)
        if self.hint == "previous":
            return state.last_g
        return as_array(self.hint(state.t, state), f"hint at round {state.t}", shape=state.G.shape)

    def decide(self, state, obs=None, rng=None):
        h = self._hint(state)
        beta = self._beta(state.t, state.err_sq)
        x = self.K.project(-beta * (state.G + self._alpha(state.t) * h))
        return x, state._replace(hint=h, beta=beta)

    def update(self, state, feedback):
        g = feedback_grad(feedback, state.G.shape, "AOFTRL")
        a = self._alpha(state.t)
        e = a * a * float(np.sum((g - state.hint) ** 2))
        return AOFTRLState(state.G + a * g, state.t + 1, g, state.hint, state.beta, state.err_sq + e,
                           state.bound_sum + 0.5 * state.beta * e)

    def regret_bound(self, state, u_norm: float) -> float:
        """Eq. (6) for the rounds played so far: ``u_norm²/(2β_T) + ½ Σ α_t² β_t ||g_t - h̃_t||²``.

        Parameters
        ----------
        state : AOFTRLState
        u_norm : float
        """
        return float(u_norm ** 2 / (2 * state.beta) + state.bound_sum)


def aoftrl_regret_bound(g, hints, betas, u, alphas=None) -> np.ndarray:
    """Eq. (6) of ``optimistic-meta-gradients`` as a curve over rounds.

    Returns ``B[t] = ||u||²/(2β_t) + ½ Σ_{s<=t} α_s² β_s ||g_s - h̃_s||²``.

    Parameters
    ----------
    g, hints : arrays (T, ...)
    betas, alphas : arrays (T,)
        The (non-increasing) learning rates used and the weights (default 1).
    u : array
        The comparator.
    """
    g = as_array(g, "g")
    hints = as_array(hints, "hints", shape=g.shape)
    T = g.shape[0]
    betas = as_array(betas, "betas", shape=(T,))
    if np.any(betas <= 0):
        raise InvalidArgumentError("betas: learning rates must be positive")
    alphas = np.ones(T) if alphas is None else as_array(alphas, "alphas", shape=(T,))
    err = np.sum((g - hints).reshape(T, -1) ** 2, axis=1)
    u_sq = float(np.sum(as_array(u, "u") ** 2))
    return u_sq / (2 * betas) + 0.5 * np.cumsum(alphas ** 2 * betas * err)


class OGDMemory(OGD):
    """OGD for losses with memory (Anava, Hazan & Mannor 2015): ``x_{t+1} = Π_K(x_t - η_t ∇f̃_t(x_t))``
    where ``f̃_t(x) = f_t(x, ..., x)`` is the unary restriction. In an :mod:`olc.games` memory
    game the gradient feedback already is ``∇f̃_t(x_t)``.

    Parameters
    ----------
    K, lr, x0
        As in :class:`OGD`.
    memory : int
        ``H``, recorded for reference (the policy regret is ``O(H^{3/2} √T)`` with ``η ~ 1/√(H T)``).
    """

    def __init__(self, K: ConvexSet, memory: int, lr=None, x0=None):
        self.memory = positive_int(memory, "memory")
        super().__init__(K, lr, x0)

