"""Full-information and first-order online convex optimization learners.

* :class:`OGD` — online (projected) gradient descent (Zinkevich 2003).
* :class:`FTRL` — follow the regularised leader with the L2 regulariser ``||x - x_0||²/(2η_t)``
  over any :mod:`olc.sets` set; the argmin is exact: ``x_t = Π_K(x_0 - η_t Σ_{s<t} g_s)``.
* :class:`Hedge` — entropic FTRL on the probability simplex (exponential weights).
* :class:`AdaGrad` — diagonal AdaGrad (Duchi, Hazan & Singer 2011; McMahan & Streeter 2010).
* :class:`AOFTRL` — adaptive optimistic FTRL with hints, eq. (5) of
  ``optimistic-meta-gradients``; :func:`aoftrl_regret_bound` is its regret bound eq. (6).
* :class:`OGDMemory` — OGD on the unary restriction of losses with memory (Anava, Hazan &
  Mannor 2015), for the full-information memory setting.

Every learner follows the protocol of :mod:`olc.game`: hyperparameters on the object, state
as a ``NamedTuple`` returned by ``init``/``update``. Gradients from the feedback are checked
for shape and NaN/Inf; a learning rate ``<= 0`` is rejected when the learner is built.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, as_shape, in_range, positive
from ..errors import FeedbackError, InvalidArgumentError
from ..game import Learner
from ..sets import Ball, Box, ConvexSet, Reals
from .schedules import InverseSqrt, as_schedule

__all__ = ["OGD", "FTRL", "Hedge", "AdaGrad", "AOFTRL", "OGDMemory", "aoftrl_regret_bound", "feedback_grad"]


def _check_set(K, name="K"):
    if not isinstance(K, ConvexSet):
        raise InvalidArgumentError(f"{name}: expected an olc.sets set (Ball, Box, Simplex, ...), got {K!r}")
    return K


def feedback_grad(feedback, shape, who: str) -> np.ndarray:
    """The gradient carried by ``feedback``, validated (shape, finiteness)."""
    if feedback.grad is None:
        raise FeedbackError(f"{who}: the feedback of round {feedback.t} carries no gradient")
    return as_array(feedback.grad, f"{who}: gradient of round {feedback.t}", shape=shape)


def _set_and_lr(K, lr):
    """``(K, lr schedule)``; default ``InverseSqrt(D/2)``, ``D`` the diameter of K (1 if unbounded)."""
    K = _check_set(K)
    D = K.diameter
    return K, as_schedule(lr if lr is not None else InverseSqrt(D / 2 if np.isfinite(D) else 1.0))


def _pick_x0(ctor_x0, x0, shape):
    """``init``'s x0 wins over the constructor's; a constructor x0 of the wrong shape is an error
    even then (never dropped silently)."""
    if ctor_x0 is not None:
        ctor_x0 = as_array(ctor_x0, "x0", shape=shape)
    return ctor_x0 if x0 is None else x0


def _start(K: ConvexSet, shape, x0):
    if x0 is None:
        return K.center(shape)
    x0 = as_array(x0, "x0", shape=shape)
    return K.project(x0)


class OGDState(NamedTuple):
    x: np.ndarray
    t: int


class OGD(Learner):
    """Online projected gradient descent ``x_{t+1} = Π_K(x_t - η_t g_t)`` (Zinkevich 2003).

    ``lr`` is a positive float (constant step) or a schedule ``t -> η_t`` (``t`` from 1);
    default ``InverseSqrt(D/2)`` with ``D`` the set's diameter (``1/sqrt(t)`` if unbounded).
    With ``η_t = D/(G√t)`` the regret is at most ``(3/2) D G √T`` (Zinkevich 2003, Thm. 1).
    """

    feedback = "gradient"

    def __init__(self, K: ConvexSet, lr=None, x0=None):
        self.K, self.lr = _set_and_lr(K, lr)
        self.x0 = x0

    def init(self, shape, rng=None, horizon=None, x0=None):
        shape = self.K.check_shape(shape)
        return OGDState(_start(self.K, shape, _pick_x0(self.x0, x0, shape)), 0)

    def decide(self, state, obs=None, rng=None):
        return state.x, state

    def update(self, state, feedback):
        g = feedback_grad(feedback, state.x.shape, "OGD")
        t = state.t + 1
        return OGDState(self.K.project(state.x - self.lr(t) * g), t)


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
    ``lr`` is non-increasing (constant or a decreasing schedule) for that bound to hold.
    """

    feedback = "gradient"

    def __init__(self, K: ConvexSet, lr=None, x0=None):
        self.K, self.lr = _set_and_lr(K, lr)
        self.x0 = x0

    def init(self, shape, rng=None, horizon=None, x0=None):
        shape = self.K.check_shape(shape)
        x0 = _pick_x0(self.x0, x0, shape)
        x0 = np.zeros(shape) if x0 is None else as_array(x0, "x0", shape=shape)
        return FTRLState(np.zeros(shape), 0, x0)

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
    """

    feedback = "gradient"

    def __init__(self, lr=None):
        self.lr = None if lr is None else as_schedule(lr)

    def init(self, shape, rng=None, horizon=None):
        shape = as_shape(shape)  # an int n or (n,); as_shape refuses n < 1
        if len(shape) != 1:
            raise InvalidArgumentError(f"shape: Hedge plays on the simplex of R^n, got decision shape {shape}")
        return HedgeState(np.zeros(shape), 0, horizon)

    def step_size(self, state) -> float:
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


class AdaGradState(NamedTuple):
    x: np.ndarray
    sq: np.ndarray  # sum of squared gradients per coordinate
    t: int


class AdaGrad(Learner):
    """Diagonal AdaGrad: ``x_{t+1} = Π^{S_t}_K(x_t - η g_t / S_t)`` with
    ``S_t = sqrt(eps + Σ_{s<=t} g_s²)`` and ``Π^{S}`` the projection in the norm ``||x||_S² = Σ S_i x_i²``
    (Duchi, Hazan & Singer 2011, Alg. 1 diagonal version). Exact weighted projections exist for
    :class:`~olc.sets.Box` (a clip), :class:`~olc.sets.Ball` (a 1-D root find) and
    :class:`~olc.sets.Reals`; other sets are rejected.

    ``decay`` (default 0: AdaGrad exactly) leaks the accumulator, ``Σ ← (1 − decay)·Σ + g_t²``: the
    baselines' "decay rate" of ``optimistic-meta-gradients`` Table 2 (decay 1 keeps only ``g_t²``;
    RMSProp up to a rescaling of ``η`` and ``eps``). AdaGrad's regret bound holds for ``decay = 0`` only.
    """

    feedback = "gradient"

    def __init__(self, K: ConvexSet, lr: float = 1.0, eps: float = 1e-12, x0=None, *, decay: float = 0.0):
        self.K = _check_set(K)
        if not isinstance(K, (Box, Ball, Reals)):
            raise InvalidArgumentError(f"K: AdaGrad needs a weighted projection, available for Box, Ball and "
                                       f"Reals; got {K!r}")
        self.lr = positive(lr, "lr")
        self.eps = positive(eps, "eps")
        self.decay = in_range(decay, "decay", 0.0, 1.0)
        self.x0 = x0

    def init(self, shape, rng=None, horizon=None):
        shape = self.K.check_shape(shape)
        return AdaGradState(_start(self.K, shape, self.x0), np.zeros(shape), 0)

    def decide(self, state, obs=None, rng=None):
        return state.x, state

    def update(self, state, feedback):
        g = feedback_grad(feedback, state.x.shape, "AdaGrad")
        sq = (state.sq if self.decay == 0 else (1.0 - self.decay) * state.sq) + g * g
        S = np.sqrt(self.eps + sq)
        y = state.x - self.lr * g / S
        return AdaGradState(_project_weighted(self.K, y, S), sq, state.t + 1)


def _project_weighted(K, y, w):
    """``argmin_{z∈K} Σ w_i (z_i - y_i)²`` for Box (clip), Ball (root find on the multiplier), Reals."""
    if isinstance(K, Reals):
        return y.copy()
    if isinstance(K, Box):
        return K.project(y)
    # Ball: z_i = w_i y_i / (w_i + λ) with λ >= 0 such that ||z|| = r (if ||y|| > r)
    r = K.radius
    if np.linalg.norm(y) <= r:
        return y.copy()
    lo, hi = 0.0, float(np.max(w)) * (np.linalg.norm(y) / r)
    for _ in range(200):
        lam = 0.5 * (lo + hi)
        if np.linalg.norm(w * y / (w + lam)) > r:
            lo = lam
        else:
            hi = lam
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
    z = w * y / (w + hi)
    return K.project(z)


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

    Hints ``h̃_t``: ``None`` (plain FTRL), ``"previous"`` (``h̃_t = g_{t-1}``, 0 at the start) or a
    callable ``hint(t, state) -> array`` (``t`` 0-based). Learning rates: a positive float or a
    schedule ``β(t)``, or ``"adaptive"`` (default):
    ``β_t = scale / sqrt(eps + Σ_{s<t} α_s² ||g_s - h̃_s||²)`` — non-increasing and chosen
    before ``g_t`` is seen, so eq. (6) holds with the β_t actually used:
    ``R(T) <= ||u||²/(2β_T) + ½ Σ_t α_t² β_t ||g_t - h̃_t||²`` (see :func:`aoftrl_regret_bound`
    and :meth:`regret_bound`). ``scale`` defaults to the set's radius (1 if unbounded).
    ``weights`` ``α_t`` (a callable of the 0-based ``t`` or None for 1) weight the losses.
    """

    feedback = "gradient"

    def __init__(self, K: ConvexSet, lr="adaptive", hint=None, scale: float | None = None, eps: float = 1.0,
                 weights=None):
        self.K = _check_set(K)
        if isinstance(lr, str):
            if lr != "adaptive":
                raise InvalidArgumentError(f"lr: expected 'adaptive', a positive number or a schedule, got {lr!r}")
            self.lr = "adaptive"
        else:
            self.lr = as_schedule(lr)
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

    def init(self, shape, rng=None, horizon=None):
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
        """Eq. (6) for the rounds played so far: ``u_norm²/(2β_T) + ½ Σ α_t² β_t ||g_t - h̃_t||²``."""
        return float(u_norm ** 2 / (2 * state.beta) + state.bound_sum)


def aoftrl_regret_bound(g, hints, betas, u, alphas=None) -> np.ndarray:
    """Eq. (6) of ``optimistic-meta-gradients`` as a curve over rounds.

    ``g``, ``hints``: arrays ``(T, *shape)`` of gradients and hints; ``betas``: ``(T,)`` learning
    rates used (non-increasing); ``u``: the comparator; ``alphas``: ``(T,)`` weights (default 1).
    Returns ``B[t] = ||u||²/(2β_t) + ½ Σ_{s<=t} α_s² β_s ||g_s - h̃_s||²``.
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
    game the gradient feedback already is ``∇f̃_t(x_t)``. ``memory`` is recorded for reference
    (the policy regret bound scales with it: ``O(H^{3/2} √T)`` with ``η ~ 1/√(H T)``)."""

    def __init__(self, K: ConvexSet, memory: int, lr=None, x0=None):
        from .._validate import positive_int

        self.memory = positive_int(memory, "memory")
        super().__init__(K, lr, x0)

