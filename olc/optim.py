"""The optimizer stack: small gradient transforms chained into one learner.

A :class:`Transform` rewrites the direction that reaches it and keeps a small state of its own — the design of optax's
gradient transformations (Babuschkin et al. 2020, "The DeepMind JAX Ecosystem"). :class:`Chain` is the one learner
that runs them: ``u ← g_t`` passes through the transforms in order and ``x_{t+1} = Π_K(x_t − u)``. Every first-order
method of :mod:`olc.learners` is a chain (its docstring names the transforms), so this module is the one place for
what they share: the start rule, the finiteness check, the (weighted) projection, the step counter ``t = 1, 2, ...``
and the learning-rate schedules (:class:`Constant`, :class:`Power`, :class:`InverseSqrt`, any callable ``t -> η_t``:
:func:`as_schedule`). A custom optimizer is a chain: ``Chain(ClipByNorm(1.0), ScaleByAdam(), Scale(1e-2), x0=x0)``.
"""

from __future__ import annotations

import inspect
import sys
from collections import namedtuple
from typing import NamedTuple

import numpy as np

from ._validate import as_array, as_shape, in_range, nonnegative, positive, positive_int
from .errors import FeedbackError, InvalidArgumentError, NonFiniteError, ShapeError
from .game import Learner
from .sets import Ball, Box, Reals, check_set

__all__ = ["Transform", "Chain", "ChainState", "Scale", "AddDecayedWeights", "Momentum", "ScaleByAdam",
           "ScaleByAdaGrad", "ClipByNorm", "Normalize", "ScaleByHypergradient", "ScaleByDoG", "ScaleByDAdaptAdam",
           "Mechanize", "Constant", "Power", "InverseSqrt", "as_schedule", "feedback_grad"]


def _repr(obj) -> str:
    """``Name(arg=value, ...)`` from the constructor's parameters stored as attributes."""
    parts = []
    for name, p in list(inspect.signature(type(obj).__init__).parameters.items())[1:]:
        if p.kind is p.VAR_POSITIONAL:
            parts += [repr(v) for v in getattr(obj, name, ())]
        elif hasattr(obj, name):
            parts.append(f"{name}={getattr(obj, name)!r}")
    return f"{type(obj).__name__}({', '.join(parts)})"


# ------------------------------------------------------------------------------------- schedules
class _Schedule:
    """Schedules compare by value: two ``Constant(0.1)`` are the same step size."""

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self).__name__, *vars(self).values()))

    def __repr__(self):
        return _repr(self)


class Constant(_Schedule):
    """``η(t) = value``.

    Parameters
    ----------
    value : float
    """

    def __init__(self, value: float):
        self.value = positive(value, "lr")

    def __call__(self, t: int) -> float:
        return self.value


class Power(_Schedule):
    """``η(t) = scale · t^(−exponent)`` (e.g. the ``t^{-3/4}`` of ``nonconvex-meta-optimization`` Thm. 5).

    Parameters
    ----------
    scale, exponent : float
    """

    def __init__(self, scale: float, exponent: float):
        self.scale = positive(scale, "scale")
        self.exponent = in_range(exponent, "exponent", 0.0, 10.0)

    def __call__(self, t: int) -> float:
        return self.scale * float(t) ** (-self.exponent)


class InverseSqrt(Power):
    """``η(t) = scale / √t`` — the anytime OGD step for convex Lipschitz losses (Zinkevich 2003).

    Parameters
    ----------
    scale : float
    """

    def __init__(self, scale: float = 1.0):
        super().__init__(scale, 0.5)


def as_schedule(lr, name: str = "lr"):
    """A step size as a schedule (a callable ``t -> η``).

    Parameters
    ----------
    lr : float, callable or schedule
        A positive number, a callable ``t -> η`` (checked at ``t = 1``) or a schedule.
    name : str
        Names the argument in errors.
    """
    if isinstance(lr, (Constant, Power)):
        return lr
    if isinstance(lr, bool):
        raise InvalidArgumentError(f"{name}: expected a positive number or a schedule, got {lr!r}")
    if isinstance(lr, (int, float, np.floating, np.integer)):
        return Constant(positive(lr, name))
    if callable(lr):
        positive(lr(1), f"{name}: the schedule's step at t=1")
        return lr
    raise InvalidArgumentError(f"{name}: expected a positive number, a callable t -> step or a schedule, got {lr!r}")


def _betas(betas, name="betas"):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name}: expected a pair (beta1, beta2), got {betas!r}") from None
    return (in_range(b1, f"{name}[0]", 0.0, 1.0, hi_open=True), in_range(b2, f"{name}[1]", 0.0, 1.0, hi_open=True))


def feedback_grad(feedback, shape, who: str) -> np.ndarray:
    """The gradient carried by ``feedback``, validated (shape, finiteness).

    Parameters
    ----------
    feedback : olc.Feedback
    shape : tuple of int
    who : str
        Names the learner in errors.
    """
    if feedback.grad is None:
        raise FeedbackError(f"{who}: the feedback of round {feedback.t} carries no gradient")
    return as_array(feedback.grad, f"{who}: gradient of round {feedback.t}", shape=shape)


# ------------------------------------------------------------------------------------ transforms
class Transform:
    """One stage of a :class:`Chain`: ``update(u, state, x, t) -> (u', state')``.

    ``u`` is the direction that reaches this stage (the gradient for the first one), ``x`` the current iterate, ``t``
    the 1-based step. ``init(x0)`` returns the stage's state (a ``NamedTuple`` of arrays; ``()`` when it has none).
    Hyperparameters live on the object and are validated when it is built; an instance holds no state, so one can
    serve many chains. A stage that preconditions defines ``metric(state)``, the diagonal ``S`` of the chain's
    projection ``argmin_{z∈K} Σ S_i (z_i − y_i)²`` (None: Euclidean)."""

    metric = None

    def init(self, x0):
        """The stage's state for the start ``x0`` (an array).

        Parameters
        ----------
        x0 : ndarray
        """
        return ()

    def update(self, u, state, x, t):  # pragma: no cover - interface
        """Return ``(u', state')``.

        Parameters
        ----------
        u : ndarray
            The direction reaching this stage.
        state : tuple
        x : ndarray
            The current iterate.
        t : int
            The 1-based step.
        """
        raise NotImplementedError

    def __repr__(self):
        return _repr(self)


class Scale(Transform):
    """``u ← η_t u``: the learning rate.

    Parameters
    ----------
    lr : float or callable
        A positive number or a schedule ``t -> η_t``.
    """

    def __init__(self, lr):
        self.lr = as_schedule(lr)

    def update(self, u, state, x, t):
        return self.lr(t) * u, state


class AddDecayedWeights(Transform):
    """``u ← u + δ x``: L2 weight decay. Before a rescaling stage it is *coupled* (``torch.optim.SGD``
    / ``Adam(weight_decay=δ)``), after one and before :class:`Scale` it is *decoupled* (AdamW,
    Loshchilov & Hutter 2019, Alg. 2: ``x ← x − η(û + δx)``).

    Parameters
    ----------
    weight_decay : float
        ``δ``.
    """

    def __init__(self, weight_decay: float):
        self.weight_decay = nonnegative(weight_decay, "weight_decay")

    def update(self, u, state, x, t):
        return (u + self.weight_decay * x if self.weight_decay else u), state


MomentumState = namedtuple("MomentumState", "buf")


class Momentum(Transform):
    """Heavy-ball momentum (Polyak 1964) in the buffer form of ``torch.optim.SGD``: ``b ← μb + u``,
    ``u ← b``; with ``nesterov=True`` ``u ← u + μb`` (Nesterov 1983 in the form of Sutskever et al.
    2013, ``torch.optim.SGD(nesterov=True)``). State: the buffer ``buf``.

    Parameters
    ----------
    momentum : float
        ``μ`` in ``[0, 1)``.
    nesterov : bool
    """

    def __init__(self, momentum: float, nesterov: bool = False):
        self.momentum, self.nesterov = in_range(momentum, "momentum", 0.0, 1.0, hi_open=True), bool(nesterov)

    def init(self, x0):
        return MomentumState(np.zeros_like(x0))

    def update(self, u, state, x, t):
        buf = self.momentum * state.buf + u
        return (u + self.momentum * buf if self.nesterov else buf), MomentumState(buf)


ScaleByAdamState = namedtuple("ScaleByAdamState", "m v")


class ScaleByAdam(Transform):
    """Adam's scaling (Kingma & Ba 2015, Alg. 1): ``m ← β1 m + (1−β1)u``, ``v ← β2 v + (1−β2)u²``,
    ``u ← m̂/(√v̂ + ε)`` with the bias corrections ``m̂ = m/(1−β1^t)``, ``v̂ = v/(1−β2^t)`` (ε added
    after the square root, as ``torch.optim.Adam``). State: the moments ``m``, ``v``.

    Parameters
    ----------
    betas : tuple of float
    eps : float
    """

    def __init__(self, betas=(0.9, 0.999), eps: float = 1e-8):
        self.betas, self.eps = _betas(betas), nonnegative(eps, "eps")

    def init(self, x0):
        return ScaleByAdamState(np.zeros_like(x0), np.zeros_like(x0))

    def update(self, u, state, x, t):
        b1, b2 = self.betas
        m = b1 * state.m + (1.0 - b1) * u
        v = b2 * state.v + (1.0 - b2) * u * u
        return (m / (1.0 - b1 ** t)) / (np.sqrt(v) / np.sqrt(1.0 - b2 ** t) + self.eps), ScaleByAdamState(m, v)


ScaleByAdaGradState = namedtuple("ScaleByAdaGradState", "sq")


class ScaleByAdaGrad(Transform):
    """Diagonal AdaGrad's scaling (Duchi, Hazan & Singer 2011, Alg. 1, diagonal):
    ``Σ ← (1 − decay)Σ + u²``, ``u ← u / S`` with ``S = √(ε + Σ)`` (ε *inside* the root; decay 0 is
    AdaGrad, decay > 0 the "decay rate" of ``optimistic-meta-gradients`` Table 2, RMSProp up to a
    rescaling). ``S`` is also the projection metric (AdaGrad projects in ``||·||_S``). State: ``sq`` = Σ.

    Parameters
    ----------
    eps, decay : float
    """

    def __init__(self, eps: float = 1e-12, decay: float = 0.0):
        self.eps, self.decay = positive(eps, "eps"), in_range(decay, "decay", 0.0, 1.0)

    def init(self, x0):
        return ScaleByAdaGradState(np.zeros_like(x0))

    def update(self, u, state, x, t):
        sq = (state.sq if self.decay == 0 else (1.0 - self.decay) * state.sq) + u * u
        return u / np.sqrt(self.eps + sq), ScaleByAdaGradState(sq)

    def metric(self, state):
        """The diagonal ``S`` of the projection metric.

        Parameters
        ----------
        state : ScaleByAdaGradState
        """
        return np.sqrt(self.eps + state.sq)


class ClipByNorm(Transform):
    """``u ← min(1, c/‖u‖) u``: clipping to norm ``clip`` (ClippedGD, ``first-order-bilevel-maml`` Sec. 4.3).

    Parameters
    ----------
    clip : float
        ``c``.
    """

    def __init__(self, clip: float):
        self.clip = positive(clip, "clip")

    def update(self, u, state, x, t):
        n = np.linalg.norm(u)
        return (u * min(1.0, self.clip / n) if n > 0 else u), state


class Normalize(Transform):
    """``u ← u/(β + ‖u‖)``: normalisation (NormalizedGD, ``first-order-bilevel-maml`` Sec. 4.3, Thm. 1).

    Parameters
    ----------
    beta : float
    """

    def __init__(self, beta: float):
        self.beta = positive(beta, "beta")

    def update(self, u, state, x, t):
        return u / (self.beta + np.linalg.norm(u)), state


ScaleByHypergradientState = namedtuple("ScaleByHypergradientState", "lr g_prev")


class ScaleByHypergradient(Transform):
    """Hypergradient descent on the step size, SGD-HD (Baydin et al. 2018): ``α_t = α_{t−1} + β ⟨u_t, u_{t−1}⟩``
    (``α_0 = lr0``, ``u_{−1} = 0``), ``u ← α_t u``. State: ``lr`` = α_t, ``g_prev`` = u_{t−1}.

    Parameters
    ----------
    lr0, beta : float
    """

    def __init__(self, lr0: float, beta: float):
        self.lr0, self.beta = positive(lr0, "lr0"), nonnegative(beta, "beta")

    def init(self, x0):
        return ScaleByHypergradientState(self.lr0, np.zeros_like(x0))

    def update(self, u, state, x, t):
        lr = state.lr + self.beta * float(np.vdot(u, state.g_prev))
        return lr * u, ScaleByHypergradientState(lr, u)


ScaleByDoGState = namedtuple("ScaleByDoGState", "x_init rbar G")


class ScaleByDoG(Transform):
    """Distance over Gradients (Ivgi, Hinder & Carmon 2023, Alg. 1): ``u ← r̄_t/√(G_t + ε) · u`` with
    ``r̄_t = max(r_ε, max_{i≤t} ||x_i − x_0||)``, ``G_t = Σ_{i≤t} ||u_i||²``, ``r_ε = reps_rel (1 + ||x_0||)``
    unless ``r_eps`` is given. State: ``x_init`` = x_0, ``rbar``, ``G``.

    Parameters
    ----------
    reps_rel, eps : float
    r_eps : float, optional
    """

    def __init__(self, reps_rel: float = 1e-6, r_eps: float | None = None, eps: float = 1e-8):
        self.reps_rel, self.eps = positive(reps_rel, "reps_rel"), nonnegative(eps, "eps")
        self.r_eps = None if r_eps is None else positive(r_eps, "r_eps")

    def init(self, x0):
        r = self.r_eps if self.r_eps is not None else self.reps_rel * (1.0 + float(np.linalg.norm(x0)))
        return ScaleByDoGState(x0.copy(), r, 0.0)

    def update(self, u, state, x, t):
        rbar = max(state.rbar, float(np.linalg.norm(x - state.x_init)))
        G = state.G + float(np.vdot(u, u))
        den = np.sqrt(G + self.eps)
        return (rbar / den if den > 0 else 0.0) * u, ScaleByDoGState(state.x_init, rbar, G)


ScaleByDAdaptAdamState = namedtuple("ScaleByDAdaptAdamState", "m v s d numerator")


class ScaleByDAdaptAdam(Transform):
    """Adam with D-Adaptation (Defazio & Mishchenko 2023, Alg. 5); the recursion is in
    :class:`olc.learners.DAdaptAdam`. State: ``m`` (EMA of ``λ_k g_k``), ``v`` (EMA of ``g_k²``), ``s``,
    ``d`` (the distance estimate ``d_k``), ``numerator`` (``r_k``). Its decoupled weight decay
    ``δ λ_k x`` uses the step ``λ_k`` it estimates itself, so it is no separate :class:`AddDecayedWeights`.

    Parameters
    ----------
    lr : float or callable
    betas : tuple of float
    eps, d0, weight_decay : float
    bias_correction : bool
    """

    def __init__(self, lr=1.0, betas=(0.9, 0.999), eps: float = 1e-8, d0: float = 1e-6, weight_decay: float = 0.0,
                 bias_correction: bool = True):
        self.lr, self.betas, self.eps, self.d0 = as_schedule(lr), _betas(betas), positive(eps, "eps"), positive(d0, "d0")
        self.weight_decay, self.bias_correction = nonnegative(weight_decay, "weight_decay"), bool(bias_correction)

    def init(self, x0):
        z = np.zeros_like(x0)
        return ScaleByDAdaptAdamState(z, z.copy(), z.copy(), self.d0, 0.0)

    def update(self, g, state, x, t):
        """``(u, state')`` from the gradient ``g``, the iterate ``x`` and the step ``t``.

        Parameters
        ----------
        g, state, x, t : ndarray, ScaleByDAdaptAdamState, ndarray, int
        """
        b1, b2 = self.betas
        sb2 = np.sqrt(b2)
        bc = np.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t) if self.bias_correction else 1.0
        lam = state.d * self.lr(t) * bc
        acc = float(np.vdot(g, state.s / (np.sqrt(state.v) + self.eps)))
        m = b1 * state.m + (1.0 - b1) * lam * g
        v = b2 * state.v + (1.0 - b2) * g * g
        s = sb2 * state.s + (1.0 - sb2) * lam * g
        num = sb2 * state.numerator + (1.0 - sb2) * lam * acc
        l1 = float(np.sum(np.abs(s)))
        d = max(state.d, num / ((1.0 - sb2) * l1)) if l1 > 0 else state.d
        u = m / (np.sqrt(v) + self.eps)
        return (u + self.weight_decay * lam * x if self.weight_decay else u), ScaleByDAdaptAdamState(m, v, s, d, num)


MechanizeState = namedtuple("MechanizeState", "x_ref delta base s r m v")


class Mechanize(Transform):
    """Mechanic's learned scale (Cutkosky, Defazio & Mehta 2023, Alg. 1) on the updates of a base chain (``base``: an
    unconstrained :class:`Chain`, e.g. ``olc.learners.AdamW(1e-3)``); the recursion is in :class:`olc.learners.Mechanic`.
    It moves the iterate to ``x_ref + (Σs)Δ``. State: ``x_ref``, ``delta`` (Δ, the sum of the base's updates), ``base``
    (its states), ``s`` (scale per β), ``r`` (wealth, unclipped), ``m`` (running max of ``|h|``), ``v`` (EMA of ``h²``).

    Parameters
    ----------
    base : Chain
    s_init, weight_decay, eps : float
    num_betas : int
    """

    def __init__(self, base, s_init: float = 1e-6, weight_decay: float = 1e-2, eps: float = 1e-8,
                 num_betas: int = 6):
        if not isinstance(base, Chain) or base.K is not None:
            raise InvalidArgumentError(f"base: expected an unconstrained olc optimizer (SGD, Adam, AdamW, ... or "
                                       f"an olc.optim.Chain without K), got {base!r}")
        self.base, self.s_init, self.eps = base, positive(s_init, "s_init"), positive(eps, "eps")
        self.weight_decay, self.num_betas = nonnegative(weight_decay, "weight_decay"), positive_int(num_betas, "num_betas")
        self.betas = 1.0 - 0.1 ** np.arange(1, self.num_betas + 1)

    def init(self, x0):
        z = np.zeros(self.num_betas)
        return MechanizeState(x0.copy(), np.zeros_like(x0), tuple(tr.init(x0) for tr in self.base.transforms),
                              np.full(self.num_betas, self.s_init), z, z.copy(), z.copy())

    def update(self, g, state, x, t):
        """``(u, state')`` from the gradient ``g``, the iterate ``x`` and the step ``t``.

        Parameters
        ----------
        g, state, x, t : ndarray, MechanizeState, ndarray, int
        """
        u, base, _ = _apply(self.base.transforms, state.base, g, x, t)
        s_sum = float(state.s.sum())
        gt = g + (self.weight_decay * s_sum * float(np.linalg.norm(g)) / (float(np.linalg.norm(x)) + self.eps)) * x
        h = float(np.vdot(gt, state.delta))
        b = self.betas
        m = np.maximum(b * state.m, abs(h) + self.eps)
        v = b * b * state.v + h * h
        r = b * state.r - state.s * h
        s = (self.s_init / b.size * m + np.maximum(0.0, r)) / (np.sqrt(v) + self.eps)
        delta = state.delta - u
        return x - (state.x_ref + float(s.sum()) * delta), MechanizeState(state.x_ref, delta, base, s, r, m, v)


def _apply(transforms, states, u, x, t):
    """Run ``transforms`` on ``u``: ``(u', new states, projection metric or None)``."""
    new, metric = [], None
    for tr, st in zip(transforms, states):
        u, st = tr.update(u, st, x, t)
        new.append(st)
        metric = tr.metric(st) if tr.metric is not None else metric
    return u, tuple(new), metric


def _project_weighted(K, y, w):
    """``argmin_{z∈K} Σ w_i (z_i − y_i)²`` for Box (clip), Ball (root find on the multiplier), Reals."""
    if not isinstance(K, Ball):
        return K.project(y)
    from scipy.optimize import brentq

    r, n = K.radius, np.linalg.norm(y)  # z_i = w_i y_i / (w_i + λ) with λ >= 0 such that ||z|| = r
    if n <= r:
        return y.copy()
    hi = float(np.max(w)) * n / r  # ||z(hi)|| < r
    lam = brentq(lambda lam: np.linalg.norm(w * y / (w + lam)) - r, 0.0, hi, xtol=1e-15 * max(1.0, hi))
    return K.project(w * y / (w + lam))


# -------------------------------------------------------------------------------------- the learner
def initial_point(who: str, shape: tuple, x0=None, ctor_x0=None):
    """The start rule: ``init``'s ``x0``, else the constructor's (a copy, of the decision ``shape``), else None;
    a constructor ``x0`` of another shape is a :class:`olc.ShapeError` even when ``init``'s wins."""
    if ctor_x0 is not None and ctor_x0.shape != shape:
        raise ShapeError(f"x0: {who} was built with x0 of shape {ctor_x0.shape} but plays decisions of shape "
                         f"{shape} (expected shape {shape}; the game's / init's x0 is the starting point when both "
                         "are given)")
    if x0 is None:
        return None if ctor_x0 is None else ctor_x0.copy()
    return as_array(x0, "x0", shape=shape, copy=True)


class ChainState(NamedTuple):
    """State of a :class:`Chain`: iterate ``x``, step count ``t``, one state per transform (``inner``),
    whose fields read through: ``state.m`` is Adam's first moment, ``state.d`` D-Adaptation's estimate.

    Parameters
    ----------
    x : ndarray
    t : int
    inner : tuple
    """

    x: np.ndarray
    t: int
    inner: tuple

    def __getattr__(self, name):
        if not name.startswith("_"):
            for st in self.inner:
                if name in getattr(st, "_fields", ()):
                    return getattr(st, name)
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")


class Chain(Learner):
    """An optimizer: gradient transforms chained into one learner of the :mod:`olc.game` protocol.

    Each round ``u ← g_t``, then the ``transforms`` in order (``u, s_i ← T_i(u, s_i, x_t, t)``), then
    ``x_{t+1} = Π_K(x_t − u)`` (Zinkevich 2003's projected step; the Euclidean projection, or the one in the metric of
    the last transform that defines one, e.g. AdaGrad's). The gradient is checked (shape, NaN/Inf) when it arrives, a
    non-finite iterate raises :class:`olc.NonFiniteError` (``olc.play``: :class:`olc.DivergenceError`).

    Parameters
    ----------
    *transforms : Transform
    K : olc.sets.ConvexSet, optional
        The decision set (default start ``Π_K(0)``), or None: arrays of any shape, a start required.
    x0 : array_like, optional
        The start (``init``'s, the game's, wins).

    Examples
    --------
    >>> import numpy as np
    >>> from olc.optim import Chain, ClipByNorm, Scale
    >>> opt = Chain(ClipByNorm(1.0), Scale(0.5), x0=np.zeros(2))
    >>> state = opt.init((2,))
    >>> opt.step(state, np.array([3.0, 4.0])).x  # clipped to norm 1, then halved
    array([-0.3, -0.4])
    """

    feedback = "gradient"
    State = ChainState

    def __init_subclass__(cls, **kwargs):
        """Each optimizer class gets its own state type ``<Name>State`` (a :class:`ChainState` with the
        same fields, defined in the class's module), so ``olc.play(..., state=)`` tells them apart."""
        super().__init_subclass__(**kwargs)
        module, name = sys.modules[cls.__module__], f"{cls.__name__}State"
        if not (isinstance(getattr(module, name, None), type) and issubclass(getattr(module, name), ChainState)):
            setattr(module, name, type(name, (ChainState,), {"__slots__": (), "__module__": cls.__module__,
                                                             "__doc__": f"State of {cls.__name__} (a ChainState)."}))
        cls.State = getattr(module, name)

    def __init__(self, *transforms, K=None, x0=None):
        for i, tr in enumerate(transforms):
            if not isinstance(tr, Transform):
                raise InvalidArgumentError(f"transforms[{i}]: expected an olc.optim transform (Scale, ScaleByAdam, "
                                           f"...), got {tr!r}")
        self.transforms = tuple(transforms)
        self.K = None if K is None else check_set(K)
        if self.K is not None and not isinstance(K, (Box, Ball, Reals)) and any(tr.metric for tr in self.transforms):
            raise InvalidArgumentError(f"K: a preconditioned projection (AdaGrad's) exists for Box, Ball and Reals; "
                                       f"got {K!r}")
        self.x0 = None if x0 is None else as_array(x0, "x0", copy=True)

    def __repr__(self):  # Learner's repr for the named optimizers; the bare Chain also shows its transforms
        return _repr(self) if type(self) is Chain else super().__repr__()

    @property
    def _name(self):
        return type(self).__name__

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        """The state at the start, projected onto ``K``.

        Parameters
        ----------
        shape : tuple of int
        rng, horizon : unused
        x0 : array_like, optional
            The start (:func:`initial_point`), else the constructor's, else ``Π_K(0)``; without ``K``
            and without a start: :class:`InvalidArgumentError`.
        """
        shape = as_shape(shape) if self.K is None else self.K.check_shape(shape)
        x0 = initial_point(self._name, shape, x0, self.x0)
        if x0 is None and self.K is None:
            raise InvalidArgumentError(f"x0: {self._name} needs a starting point; pass x0= to the constructor or "
                                       "to init (olc.play passes the optimization game's x0; for GPC matrices "
                                       "use x0=np.zeros(shape))")
        x = self.K.center(shape) if x0 is None else (x0 if self.K is None else self.K.project(x0))
        return self.State(x, 0, tuple(tr.init(x) for tr in self.transforms))

    def decide(self, state, obs=None, rng=None):
        return state.x, state

    def update(self, state, feedback):
        """One step with the gradient carried by ``feedback`` (validated: shape, NaN/Inf).

        Parameters
        ----------
        state : ChainState
        feedback : olc.Feedback
        """
        return self._step(state, feedback_grad(feedback, state.x.shape, self._name))

    def step(self, state, grad):
        """One step with the raw gradient ``grad`` (same checks as :meth:`update`).

        Parameters
        ----------
        state : ChainState
        grad : array_like
        """
        return self._step(state, as_array(grad, f"{self._name}: gradient of step {state.t}", shape=state.x.shape))

    def _step(self, state, g):
        t = state.t + 1
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked below
            u, inner, metric = _apply(self.transforms, state.inner, g, state.x, t)
            x = state.x - u
        if not np.all(np.isfinite(x)):
            raise NonFiniteError(f"{self._name}: the iterate became non-finite at step {t} "
                                 "(diverged; lower the learning rate)")
        if self.K is not None:
            x = self.K.project(x) if metric is None else _project_weighted(self.K, x, metric)
        return self.State(x, t, inner)
