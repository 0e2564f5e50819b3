"""Baseline optimizers as olc learners: the decision is the iterate, the feedback its gradient.

These are the tuned baselines of ``nonconvex-meta-optimization`` Sec. 4 and App. E.2 (SGD,
momentum, AdamW, hypergradient descent, DoG, D-Adaptation, Mechanic) plus Nesterov, Adam and
AdaGrad. Each is a learner of the :mod:`olc.game` protocol over unconstrained arrays of *any*
shape (vectors for training, the ``(H, m, d)`` disturbance-feedback matrices ``M`` of GPC /
meta-optimization, ...):

* ``init(shape, rng=None, horizon=None, x0=None) -> state`` — the starting point is required,
  from ``init`` (``olc.play`` passes ``x0=env.x0`` in an optimization game) or from the
  constructor's ``x0``. When both are given, ``init``'s (the game's) wins; a constructor ``x0``
  whose shape is not the decision shape raises :class:`olc.ShapeError` (it is never dropped
  silently). :func:`train` without ``x0`` starts from the constructor's ``x0``;
* ``decide(state, obs=None, rng=None) -> (state.x, state)`` — the current iterate;
* ``update(state, feedback) -> state`` — one optimizer step with ``feedback.grad``;
* ``step(state, grad) -> state`` — the same step from a raw gradient (what a meta-optimizer
  or :class:`Mechanic` calls).

State is an explicit ``NamedTuple`` whose first field ``x`` is the iterate and whose field
``t`` counts the steps taken. Learning rates of SGD, HeavyBall, Nesterov, Adam and AdamW may
be schedules ``t -> η_t`` (:mod:`olc.learners.schedules`; ``t = 1, 2, ...`` is the step
number). A gradient with NaN/Inf, or an iterate that becomes non-finite, raises
:class:`olc.NonFiniteError` (``olc.play`` turns it into :class:`olc.DivergenceError`).
Hyperparameters are validated when the optimizer is built.

:func:`train` runs an optimizer on a gradient oracle: ``olc.play`` on
:func:`olc.games.optimization.optimization` (the one training loop for baselines).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, as_shape, in_range, nonnegative, positive, positive_int, require
from ..errors import InvalidArgumentError, NonFiniteError, ShapeError
from ..game import Learner
from ..sets import Reals
from .oco import AdaGrad, AdaGradState, feedback_grad
from .schedules import as_schedule

__all__ = ["SGD", "HeavyBall", "Nesterov", "AdaGradOpt", "Adam", "AdamW", "HypergradientDescent", "DoG",
           "DAdaptAdam", "Mechanic", "train"]


def _betas(betas, name="betas"):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name}: expected a pair (beta1, beta2), got {betas!r}") from None
    return (in_range(b1, f"{name}[0]", 0.0, 1.0, hi_open=True), in_range(b2, f"{name}[1]", 0.0, 1.0, hi_open=True))


class _Optimizer(Learner):
    """Shared protocol plumbing: starting point, ``decide``, gradient checks, finiteness.

    Subclasses implement ``_init_state(x0) -> state`` and ``_step(state, g) -> state``.
    """

    feedback = "gradient"

    def __init__(self, x0=None):
        self.x0 = None if x0 is None else as_array(x0, "x0", copy=True)

    @property
    def _name(self):
        return type(self).__name__

    def _start(self, shape, x0):
        if shape is not None:
            shape = as_shape(shape)
        if self.x0 is not None:
            # init's x0 (the game's) wins, but a constructor x0 that cannot be the starting point of
            # this problem is a mistake, not something to drop silently
            want = shape if shape is not None else (None if x0 is None else np.shape(x0))
            if want is not None and self.x0.shape != tuple(want):
                raise ShapeError(f"x0: {self._name} was built with x0 of shape {self.x0.shape} but plays decisions "
                                 f"of shape {tuple(want)} (expected shape {tuple(want)}; the game's / init's x0 "
                                 "is the starting point when both are given)")
        x0 = self.x0 if x0 is None else x0
        if x0 is None:
            raise InvalidArgumentError(f"x0: {self._name} needs a starting point; pass x0= to the constructor or "
                                       "to init (olc.play passes the optimization game's x0; for GPC matrices "
                                       "use x0=np.zeros(shape))")
        if shape is None:
            return as_array(x0, "x0", copy=True)
        return as_array(x0, "x0", shape=shape, copy=True)

    def init(self, shape=None, rng=None, horizon=None, x0=None):
        """Initial state at ``x0`` (from this call, else the constructor) of shape ``shape``."""
        return self._init_state(self._start(shape, x0))

    def decide(self, state, obs=None, rng=None):
        return state.x, state

    def update(self, state, feedback):
        """One step with the gradient carried by ``feedback`` (validated: shape, NaN/Inf)."""
        g = feedback_grad(feedback, state.x.shape, self._name)
        with np.errstate(over="ignore", invalid="ignore"):  # checked by _finish
            return self._finish(self._step(state, g))

    def step(self, state, grad):
        """One step with the raw gradient ``grad`` (same checks as :meth:`update`)."""
        g = as_array(grad, f"{self._name}: gradient of step {state.t}", shape=state.x.shape)
        with np.errstate(over="ignore", invalid="ignore"):  # checked by _finish
            return self._finish(self._step(state, g))

    def _finish(self, state):
        if not np.all(np.isfinite(state.x)):
            raise NonFiniteError(f"{self._name}: the iterate became non-finite at step {state.t} "
                                 "(diverged; lower the learning rate)")
        return state

    def _init_state(self, x0):  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, state, g):  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# plain, momentum and adaptive methods


class SGDState(NamedTuple):
    x: np.ndarray
    t: int


class SGD(_Optimizer):
    """(Stochastic) gradient descent with coupled weight decay (Robbins & Monro 1951):
    ``x_{t+1} = x_t − η_t (g_t + δ x_t)`` — the ``SGD`` baseline of ``nonconvex-meta-optimization``
    App. E.2 (grid ``η ∈ {0.001, 0.01, 0.1, 0.2, 0.4, 1}``, ``δ ∈ {0, 1e-5, 1e-4, 1e-3}``).

    With ``δ = 0`` this is :class:`olc.learners.OGD` on the whole space; it is a separate class
    because optimizers take a starting point and arrays of any shape. Same iterates as
    ``torch.optim.SGD(lr, weight_decay=δ)``.
    """

    def __init__(self, lr, weight_decay: float = 0.0, x0=None):
        super().__init__(x0)
        self.lr = as_schedule(lr)
        self.weight_decay = nonnegative(weight_decay, "weight_decay")

    def _init_state(self, x0):
        return SGDState(x0, 0)

    def _step(self, state, g):
        if self.weight_decay:
            g = g + self.weight_decay * state.x
        return SGDState(state.x - self.lr(state.t + 1) * g, state.t + 1)


class MomentumState(NamedTuple):
    x: np.ndarray
    buf: np.ndarray  # momentum buffer b_t
    t: int


class HeavyBall(_Optimizer):
    """Polyak's heavy-ball momentum (Polyak 1964), the ``MOMENTUM`` baseline of
    ``nonconvex-meta-optimization`` App. E.2 (grid ``η`` as SGD, ``μ ∈ {0.9, 0.95, 0.99}``, ``δ``).

    Implemented in the buffer form of ``torch.optim.SGD`` / ``optax.sgd(momentum=μ)``:
    ``b_t = μ b_{t−1} + g_t + δ x_t`` (``b_{−1} = 0``), ``x_{t+1} = x_t − η_t b_t``; with a
    constant ``η`` this is exactly Polyak's ``x_{t+1} = x_t − η ∇f(x_t) + μ (x_t − x_{t−1})``
    (``x_{−1} = x_0``), the recursion of :func:`olc.kernels.optimizer_grid`.
    """

    def __init__(self, lr, momentum: float, weight_decay: float = 0.0, x0=None):
        super().__init__(x0)
        self.lr = as_schedule(lr)
        self.momentum = in_range(momentum, "momentum", 0.0, 1.0, hi_open=True)
        self.weight_decay = nonnegative(weight_decay, "weight_decay")

    def _init_state(self, x0):
        return MomentumState(x0, np.zeros_like(x0), 0)

    def _direction(self, state, g):
        if self.weight_decay:
            g = g + self.weight_decay * state.x
        return g, self.momentum * state.buf + g

    def _step(self, state, g):
        g, buf = self._direction(state, g)
        return MomentumState(state.x - self.lr(state.t + 1) * buf, buf, state.t + 1)


class Nesterov(HeavyBall):
    """Nesterov's accelerated gradient (Nesterov 1983) in the form of Sutskever et al. (2013) as
    implemented by ``torch.optim.SGD(nesterov=True)``:
    ``b_t = μ b_{t−1} + g_t + δ x_t``, ``x_{t+1} = x_t − η_t (g_t + δ x_t + μ b_t)``.

    The iterate ``x_t`` here (where the gradient is taken) is the look-ahead point
    ``y_t = z_t + μ (z_t − z_{t−1})`` of the classical two-sequence form
    ``z_{t+1} = y_t − η ∇f(y_t)``; losses of this learner are therefore those at ``y_t``.
    """

    def _step(self, state, g):
        g, buf = self._direction(state, g)
        return MomentumState(state.x - self.lr(state.t + 1) * (g + self.momentum * buf), buf, state.t + 1)


class AdaGradOpt(AdaGrad, _Optimizer):
    """Diagonal AdaGrad (Duchi, Hazan & Singer 2011) as an optimizer over arrays of any shape.

    The update is :class:`olc.learners.AdaGrad`'s, on the whole space:
    ``x_{t+1} = x_t − η g_t / sqrt(ε + Σ_{s≤t} g_s²)``. Deviation from ``torch.optim.Adagrad``:
    the ``ε`` sits *inside* the square root (olc's AdaGrad) instead of being added to it;
    the two agree for ``ε → 0``.
    """

    def __init__(self, lr: float = 1e-2, eps: float = 1e-10, x0=None):
        AdaGrad.__init__(self, Reals(), lr=lr, eps=eps)
        _Optimizer.__init__(self, x0)

    def init(self, shape=None, rng=None, horizon=None, x0=None):
        x = self._start(shape, x0)
        return AdaGradState(x, np.zeros_like(x), 0)

    def update(self, state, feedback):
        with np.errstate(over="ignore", invalid="ignore"):  # checked by _finish
            return self._finish(AdaGrad.update(self, state, feedback))

    def _step(self, state, g):
        from ..game import Feedback

        return AdaGrad.update(self, state, Feedback(state.t, "gradient", 0.0, g))


class AdamState(NamedTuple):
    x: np.ndarray
    m: np.ndarray  # first moment (EMA of gradients)
    v: np.ndarray  # second moment (EMA of squared gradients)
    t: int


class Adam(_Optimizer):
    """Adam (Kingma & Ba 2015, Alg. 1) with optional *coupled* L2 weight decay ``δ`` (as
    ``torch.optim.Adam(weight_decay=δ)``: ``g_t ← g_t + δ x_t``):

    ``m_t = β1 m_{t−1} + (1−β1) g_t``, ``v_t = β2 v_{t−1} + (1−β2) g_t²``,
    ``x_{t+1} = x_t − η_t m̂_t / (sqrt(v̂_t) + ε)`` with ``m̂_t = m_t/(1−β1^t)``, ``v̂_t = v_t/(1−β2^t)``.

    Works on arrays of any shape — e.g. the meta-optimizer over the ``(H, m, d)`` matrices ``M``
    of ``nonconvex-meta-optimization`` App. E.1 (the paper runs Adam instead of GD on ``M``).
    """

    decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0, x0=None):
        super().__init__(x0)
        self.lr = as_schedule(lr)
        self.betas = _betas(betas)
        self.eps = nonnegative(eps, "eps")
        self.weight_decay = nonnegative(weight_decay, "weight_decay")

    def _init_state(self, x0):
        return AdamState(x0, np.zeros_like(x0), np.zeros_like(x0), 0)

    def _step(self, state, g):
        b1, b2 = self.betas
        t = state.t + 1
        lr = self.lr(t)
        x = state.x
        if self.weight_decay:
            if self.decoupled:
                x = x * (1.0 - lr * self.weight_decay)
            else:
                g = g + self.weight_decay * x
        m = b1 * state.m + (1.0 - b1) * g
        v = b2 * state.v + (1.0 - b2) * g * g
        denom = np.sqrt(v) / np.sqrt(1.0 - b2 ** t) + self.eps
        return AdamState(x - (lr / (1.0 - b1 ** t)) * m / denom, m, v, t)


class AdamW(Adam):
    """AdamW — Adam with decoupled weight decay (Loshchilov & Hutter 2019, Alg. 2, with the
    schedule multiplier folded into ``η_t``): ``x_{t+1} = x_t (1 − η_t δ) − η_t m̂_t/(sqrt(v̂_t)+ε)``,
    as ``torch.optim.AdamW``. The ``ADAMW`` baseline of ``nonconvex-meta-optimization`` App. E.2
    (grid ``η ∈ {1e-4, 4e-4, 1e-3}``, ``β1 ∈ {0.9, 0.99}``, ``β2 ∈ {0.9, 0.99, 0.999}``,
    ``δ ∈ {0, 1e-5, 1e-4, 1e-3}``)."""

    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2, x0=None):
        super().__init__(lr, betas, eps, weight_decay, x0)


# --------------------------------------------------------------------------------------------
# self-tuning methods


class HGDState(NamedTuple):
    x: np.ndarray
    lr: float  # α_{t}: the step used last
    g_prev: np.ndarray  # g_{t−1} (0 before the first step)
    t: int


class HypergradientDescent(_Optimizer):
    """Hypergradient descent on plain SGD, SGD-HD (Baydin et al. 2018, the SGD-HD algorithm box;
    cited as "Algorithm 4" of [3] in ``nonconvex-meta-optimization`` App. E.2, ``HGD``):

    ``h_t = ∇_α f(x_t) = −g_tᵀ g_{t−1}``, ``α_t = α_{t−1} − β h_t = α_{t−1} + β g_tᵀ g_{t−1}``,
    ``x_{t+1} = x_t − α_t g_t``, with ``α_0 = lr0`` and ``g_{−1} = 0`` (the first step uses ``lr0``).

    App. E.2 starts from the tuned SGD rate and sweeps ``β ∈ {1e-5, 1e-4, 1e-3, 1e-2}``. The
    adapted ``α_t`` is not constrained to stay positive (as in the paper).
    """

    def __init__(self, lr0: float, beta: float, x0=None):
        super().__init__(x0)
        self.lr0 = positive(lr0, "lr0")
        self.beta = nonnegative(beta, "beta")

    def _init_state(self, x0):
        return HGDState(x0, self.lr0, np.zeros_like(x0), 0)

    def _step(self, state, g):
        lr = state.lr + self.beta * float(np.vdot(g, state.g_prev))
        return HGDState(state.x - lr * g, lr, g, state.t + 1)


class DoGState(NamedTuple):
    x: np.ndarray
    x_init: np.ndarray
    rbar: float  # r̄_t = max(r_ε, max_{i≤t} ||x_i − x_0||)
    G: float  # Σ_{i≤t} ||g_i||²
    t: int


class DoG(_Optimizer):
    """Distance over Gradients (Ivgi, Hinder & Carmon 2023, Alg. 1, "DoG"), the ``DOG`` baseline of
    ``nonconvex-meta-optimization`` App. E.2 (self-tuning, run with its defaults):

    ``r̄_t = max(r_ε, max_{i≤t} ||x_i − x_0||)``, ``G_t = Σ_{i≤t} ||g_i||²``,
    ``η_t = r̄_t / sqrt(G_t + ε)``, ``x_{t+1} = x_t − η_t g_t``,

    with ``r_ε = reps_rel (1 + ||x_0||)`` (the paper's and ``optax.contrib.dog``'s heuristic) unless
    ``r_eps`` is given. ``ε`` (default ``1e-8`` as in the reference implementations; the paper
    has none) only guards ``G_t = 0``. Norms are over the whole array (global DoG, not L-DoG);
    no iterate averaging (the paper recommends it for evaluation; it does not change the iterates).
    """

    def __init__(self, reps_rel: float = 1e-6, r_eps: float | None = None, eps: float = 1e-8, x0=None):
        super().__init__(x0)
        self.reps_rel = positive(reps_rel, "reps_rel")
        self.r_eps = None if r_eps is None else positive(r_eps, "r_eps")
        self.eps = nonnegative(eps, "eps")

    def _init_state(self, x0):
        r = self.r_eps if self.r_eps is not None else self.reps_rel * (1.0 + float(np.linalg.norm(x0)))
        return DoGState(x0, x0.copy(), r, 0.0, 0)

    def _step(self, state, g):
        rbar = max(state.rbar, float(np.linalg.norm(state.x - state.x_init)))
        G = state.G + float(np.vdot(g, g))
        den = np.sqrt(G + self.eps)
        eta = rbar / den if den > 0 else 0.0
        return DoGState(state.x - eta * g, state.x_init, rbar, G, state.t + 1)


class DAdaptState(NamedTuple):
    x: np.ndarray
    m: np.ndarray  # EMA of d_k γ_k g_k (Adam's first moment, scaled)
    v: np.ndarray  # EMA of g_k² (Adam's second moment)
    s: np.ndarray  # EMA of d_k γ_k g_k for the D estimate
    d: float  # current estimate d_k of the distance to the solution
    numerator: float  # r_k: EMA of d_k γ_k <g_k, s_k>_{A_k^{-1}}
    t: int


class DAdaptAdam(_Optimizer):
    """Adam with D-Adaptation (Defazio & Mishchenko 2023, Alg. 5 as cited by
    ``nonconvex-meta-optimization`` App. E.2, ``D-ADAPTATION``; self-tuning, run with its
    defaults). With ``λ_k = d_k γ_k c_k`` (``γ_k`` the schedule, ``c_k`` the bias correction
    ``sqrt(1−β2^{k+1})/(1−β1^{k+1})`` if ``bias_correction`` else 1), ``A_k = diag(sqrt(v_k) + ε)``
    and ``β̃ = sqrt(β2)``::

        r_{k+1} = β̃ r_k + (1−β̃) λ_k <g_k, A_k^{-1} s_k>        (A_k with the *old* v_k)
        m_{k+1} = β1 m_k + (1−β1) λ_k g_k,   v_{k+1} = β2 v_k + (1−β2) g_k²
        s_{k+1} = β̃ s_k + (1−β̃) λ_k g_k
        d_{k+1} = max(d_k, r_{k+1} / ((1−β̃) ||s_{k+1}||_1))
        x_{k+1} = x_k − A_{k+1}^{-1} m_{k+1} − δ λ_k x_k               (decoupled decay δ)

    This is the recursion of ``optax.contrib.dadapt_adamw`` (the implementation App. E.2 used;
    ``bias_correction=True``, its behaviour) and of the authors' ``DAdaptAdam`` (their default
    is ``bias_correction=False``). Deviation: while ``||s_{k+1}||_1 = 0`` (zero gradients) ``d``
    is kept instead of dividing by zero; no ``growth_rate`` cap.
    """

    def __init__(self, lr=1.0, betas=(0.9, 0.999), eps: float = 1e-8, d0: float = 1e-6,
                 weight_decay: float = 0.0, bias_correction: bool = True, x0=None):
        super().__init__(x0)
        self.lr = as_schedule(lr)
        self.betas = _betas(betas)
        self.eps = positive(eps, "eps")
        self.d0 = positive(d0, "d0")
        self.weight_decay = nonnegative(weight_decay, "weight_decay")
        self.bias_correction = bool(bias_correction)

    def _init_state(self, x0):
        z = np.zeros_like(x0)
        return DAdaptState(x0, z, z.copy(), z.copy(), self.d0, 0.0, 0)

    def _step(self, state, g):
        b1, b2 = self.betas
        sb2 = np.sqrt(b2)
        k1 = state.t + 1
        bc = np.sqrt(1.0 - b2 ** k1) / (1.0 - b1 ** k1) if self.bias_correction else 1.0
        dlr = state.d * self.lr(k1) * bc
        acc = float(np.vdot(g, state.s / (np.sqrt(state.v) + self.eps)))
        m = b1 * state.m + (1.0 - b1) * dlr * g
        v = b2 * state.v + (1.0 - b2) * g * g
        s = sb2 * state.s + (1.0 - sb2) * dlr * g
        num = sb2 * state.numerator + (1.0 - sb2) * dlr * acc
        l1 = float(np.sum(np.abs(s)))
        d = max(state.d, num / ((1.0 - sb2) * l1)) if l1 > 0 else state.d
        x = state.x - m / (np.sqrt(v) + self.eps) - self.weight_decay * dlr * state.x
        return DAdaptState(x, m, v, s, d, num, k1)


class MechanicState(NamedTuple):
    x: np.ndarray
    x_ref: np.ndarray
    delta: np.ndarray  # Δ_t: the sum of the base optimizer's updates
    base: tuple  # the base optimizer's state
    s: np.ndarray  # scale per β (n,)
    r: np.ndarray  # wealth accumulators (unclipped)
    m: np.ndarray  # running max of |h|
    v: np.ndarray  # EMA of h²
    t: int


class Mechanic(_Optimizer):
    """Mechanic learning-rate tuner (Cutkosky, Defazio & Mehta 2023, Alg. 1) wrapped around a base
    optimizer of this module — the ``MECHANIC`` baseline of ``nonconvex-meta-optimization``
    App. E.2 (on AdamW, tuned with the AdamW grid).

    The base optimizer produces updates ``u_t`` from the gradients (it is stepped with its
    iterate set to the current ``x_t``, so its weight decay sees the true parameters, as in
    ``optax.contrib.mechanize``); Mechanic learns the scale ``Σ_i s_i`` of their sum::

        g̃_t = g_t + λ (Σ s_t) ||g_t|| / ||x_t|| · x_t              (Mechanic's own weight decay)
        h_t = <g̃_t, Δ_t>
        m_t = max(β m_{t−1}, |h_t| + ε),   v_t = β² v_{t−1} + h_t²
        r_t = β r_{t−1} − s_t h_t,   W_t = (s_init/n) m_t + max(0, r_t)
        s_{t+1} = W_t / (sqrt(v_t) + ε)
        Δ_{t+1} = Δ_t + u_t,   x_{t+1} = x_ref + (Σ s_{t+1}) Δ_{t+1}

    elementwise over ``β_i = 1 − 10^{−i}``, ``i = 1..n`` (default ``n = 6``), ``s_1 = s_init``,
    ``Δ_1 = 0``, ``x_ref = x_1``. Defaults follow ``optax.contrib.mechanize`` (``λ = 1e-2``,
    ``s_init = 1e-6``, ``ε = 1e-8``). Deviations from optax: ``Δ_t`` is stored (the paper's form)
    rather than recomputed as ``(x_t − x_ref)/(Σ s_t + ε)``, and the later clipping of ``h_t``
    to ``[−m_{t−1}, m_{t−1}]`` in optax's wealth update is not applied (not in the paper).
    """

    def __init__(self, base, s_init: float = 1e-6, weight_decay: float = 1e-2, eps: float = 1e-8,
                 num_betas: int = 6, x0=None):
        super().__init__(x0)
        if not isinstance(base, _Optimizer):
            raise InvalidArgumentError(f"base: expected an optimizer of olc.learners.optimizers (SGD, Adam, "
                                       f"AdamW, ...), got {base!r}")
        self.base = base
        self.s_init = positive(s_init, "s_init")
        self.weight_decay = nonnegative(weight_decay, "weight_decay")
        self.eps = positive(eps, "eps")
        n = positive_int(num_betas, "num_betas")
        self.betas = 1.0 - 0.1 ** np.arange(1, n + 1)

    def _init_state(self, x0):
        n = self.betas.size
        z = np.zeros(n)
        return MechanicState(x0, x0.copy(), np.zeros_like(x0), self.base.init(x0.shape, x0=x0),
                             np.full(n, self.s_init), z, z.copy(), z.copy(), 0)

    def _step(self, state, g):
        x = state.x
        base = self.base.step(state.base._replace(x=x), g)
        u = base.x - x
        s_sum = float(state.s.sum())
        xn = float(np.linalg.norm(x))
        gt = g + (self.weight_decay * s_sum * float(np.linalg.norm(g)) / (xn + self.eps)) * x
        h = float(np.vdot(gt, state.delta))
        b = self.betas
        m = np.maximum(b * state.m, abs(h) + self.eps)
        v = b * b * state.v + h * h
        r = b * state.r - state.s * h
        W = (self.s_init / b.size) * m + np.maximum(0.0, r)
        s = W / (np.sqrt(v) + self.eps)
        delta = state.delta + u
        return MechanicState(state.x_ref + float(s.sum()) * delta, state.x_ref, delta, base, s, r, m, v,
                             state.t + 1)


# --------------------------------------------------------------------------------------------


def train(optimizer, oracle, T: int, x0=None, seed=0, stochastic: bool | None = None,
          progress: bool | None = None):
    """Run ``optimizer`` for ``T`` steps on ``oracle`` from ``x0``: ``olc.play`` on
    :func:`olc.games.optimization.optimization` (see there for ``x0=None`` and ``stochastic``).
    ``x0=None`` uses the optimizer's constructor ``x0`` when it has one.

    Returns the :class:`olc.Trace` (``decisions`` are the iterates ``x_0..x_{T−1}``, ``losses``
    the values ``f(x_t; batch_t)``, ``final_state.x`` the last iterate ``x_T``). A non-finite
    value or iterate raises :class:`olc.DivergenceError` carrying the partial trace.
    """
    from ..game import play
    from ..games.optimization import optimization

    require(optimizer, "optimizer", "an olc learner instance (e.g. olc.learners.SGD(0.1))", ("init", "decide", "update"))
    if x0 is None:
        x0 = getattr(optimizer, "x0", None)  # the optimizer's own starting point (None: the oracle's x0())
        x0 = None if callable(x0) else x0
    return play(optimizer, optimization(oracle, T, x0, stochastic=stochastic), T, seed=seed, progress=progress)
