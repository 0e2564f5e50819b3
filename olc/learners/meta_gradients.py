"""Meta-gradients as online learning over the meta-parameters ``w`` of an update rule ``φ(x, w)``.

Spec: ``optimistic-meta-gradients`` (Flennerhag et al.), Sec. 2–6, Alg. 1–5, App. C and E.
The learner updates ``x`` with a parameterised rule and *learns the rule online*: the
meta-learner faces the losses ``h_t(w) = f(x_{t-1} + φ(x_{t-1}, w))`` and is one of olc's own
OCO learners over ``w`` (DESIGN.md: "meta-gradients contain an FTRL learner"):

====================================  ==========================  ==============================
class                                 paper                       learner over ``w``
====================================  ==========================  ==============================
:class:`MetaGradient`                 Alg. 1 / Alg. 2, eq.(3)     :class:`~olc.learners.FTRL`
:class:`OptimisticMetaGradient`       Alg. 4, eq. (10)            :class:`~olc.learners.AOFTRL`
:class:`BMG`                          Alg. 3 / 5, eq. (14)        AOFTRL, Thm. 5 hints
:class:`ErrorCorrectedBMG`            Cor. 3                      AOFTRL, target hints
====================================  ==========================  ==============================

Every class is an olc :class:`~olc.game.Learner` that *plays the iterate* ``x`` and takes
gradient feedback ``∇f(x)``; internally it drives the inner learner's ``init / decide /
update`` with :class:`~olc.game.Feedback` objects carrying the (weighted) meta-gradient
``g_t = Dφ(x_{t-1}, w_t)ᵀ ∇f(x_t)``. One gradient of ``f`` per round (BMG's bootstrapped
target costs one more, inside the target oracle). :meth:`run` plays a fixed objective and
returns a :class:`MetaRun` with everything needed for eq. (6) (``regret`` / ``regret_bound``).

Update rules (Fig. 2, Sec. 3): :class:`IdentityRule` ``φ(x, w) = w``;
:class:`MetaMomentumRule` ``φ(x, w) = -lr·w ⊙ ∇f(x)``; :class:`MetaAdaGradRule`
``φ(x, w) = -lr·∇f(x)/√w``. The paper writes the last two without the minus sign and
without ``lr`` (App. C clips ``w`` at 0 "to avoid negative learning rates", i.e. ``w`` is a
step size of a *descent* step); we make the descent sign explicit and add the base learning
rate ``lr`` that App. B / Table 2 tunes.

Two iterate schemes (``averaging``):

* ``averaging=False`` — Alg. 1 (and Alg. 3/5): ``x_t = x_{t-1} + φ(x_{t-1}, w_t)``; the
  meta-gradient is ``∇h_t(w_t) = Dφ(x_{t-1}, w_t)ᵀ∇f(x_t)``; weights ``α_t = 1``.
* ``averaging=True`` — Alg. 2 (and Alg. 4): ``x_t = φ(x̄_{t-1}, w_t)`` for the *absolute*
  rule ``φ(x, w) = w`` and ``x_t = x̄_{t-1} + φ(x̄_{t-1}, w_t)`` for the update-type rules
  (so that "``φ = ∇f`` reduces Alg. 2 to gradient descent with averaging", Sec. 3); then
  ``x̄_t = (1-ρ_t) x̄_{t-1} + ρ_t x_t`` with ``ρ_t = α_t/α_{1:t}`` (eq. (2)) and
  ``g_t = Dφ(x̄_{t-1}, w_t)ᵀ ∇f(x̄_t)`` exactly as written in Alg. 2/4 (no ``ρ_t`` factor).
  The played point (and the returned iterate) is ``x̄_t``.

Indexing of learning rates: ``meta_lr`` is ``β`` or a schedule ``t -> β_t`` where ``β_t`` is
the rate used to *choose* ``w_t`` (eq. (5) indexing, olc's convention); Alg. 2/4 call that
rate ``β_{t-1}``. The regulariser is centred at the initial meta-parameters ``w_1`` (the
paper's ``||w||²`` is centred at 0; we shift coordinates ``u = w - w_1``, which leaves the
linear losses, the iterates for ``w_1 = 0`` and eq. (6) with ``||u - w_1||`` unchanged).
Deviation: with a constrained ``W`` (e.g. ``w >= 0``) FTRL projects lazily
``w_{t+1} = Π_W(w_1 - β Σ α_s g_s)`` (eq. (3) exactly) rather than App. C's greedy
``max{w_t - β g_t, 0}``; unconstrained, the two coincide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .._validate import as_array, as_shape, positive, positive_int, real
from ..errors import DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError
from ..game import Feedback, Learner, play
from ..games.optimization import optimization
from ..optim import as_schedule
from ..oracles.base import FunctionOracle
from ..sets import Box, ConvexSet, Reals
from .oco import AOFTRL, FTRL, aoftrl_regret_bound, feedback_grad

__all__ = [
    "UpdateRule", "IdentityRule", "MetaMomentumRule", "MetaAdaGradRule",
    "MetaGradient", "OptimisticMetaGradient", "BMG", "ErrorCorrectedBMG", "MetaRun",
    "bootstrap_target", "heavy_ball_coefficients", "nesterov_coefficients", "as_value_and_grad",
    "meta_momentum_phi", "meta_momentum_vjp", "meta_adagrad_phi", "meta_adagrad_vjp", "bmg_hint",
    "error_corrected_hint",
]


# ----------------------------------------------------------------------------- objectives
def as_value_and_grad(f):
    """``f`` as a function ``x -> (value, grad)`` with NaN/Inf checks.

    Accepts a gradient oracle (anything with ``value_and_grad``, e.g.
    :class:`olc.oracles.QuadraticOracle`), a square matrix ``A`` (``f(x) = ½ xᵀAx``) or a
    callable returning ``(value, grad)``. Non-finite values raise :class:`olc.NonFiniteError`.

    Parameters
    ----------
    f : oracle, square array or callable
    """
    if hasattr(f, "value_and_grad"):
        fun = f.value_and_grad
    elif isinstance(f, np.ndarray) or (isinstance(f, (list, tuple)) and np.ndim(f) == 2):
        A = as_array(f, "objective", ndim=2)
        if A.shape[0] != A.shape[1]:
            raise ShapeError(f"objective: a matrix objective must be square, got shape {A.shape}")
        fun = _HalfQuadratic(0.5 * (A + A.T))
    elif callable(f):
        fun = f
    else:
        raise InvalidArgumentError(f"objective: expected a gradient oracle, a square matrix or a callable "
                                   f"x -> (value, grad), got {type(f).__name__}")

    return _Checked(fun)


class _HalfQuadratic:
    """``x -> (½ xᵀHx, Hx)`` (a class, not a closure, so learners holding it pickle)."""

    def __init__(self, H):
        self.H = H

    def __call__(self, x):
        Hx = self.H @ x
        return 0.5 * float(x @ Hx), Hx


class _Checked:
    """``fun`` with its ``(value, grad)`` checked (see :func:`as_value_and_grad`)."""

    def __init__(self, fun):
        self.fun = fun

    def __call__(self, x):
        out = self.fun(x)
        try:
            value, grad = out
        except (TypeError, ValueError):
            raise InvalidArgumentError("objective: must return a pair (value, grad)") from None
        value = real(value, "objective value")
        return value, as_array(grad, "objective gradient", shape=np.shape(x))


# ----------------------------------------------------------------------------- rule math
# The element-wise formulas below are written with arithmetic operators only, so the same code runs on
# numpy arrays (the learners of this module) and on torch tensors of any device and dtype (the
# ``olc.torch`` meta-gradient optimizers call them with each parameter group's ``lr``).
def meta_momentum_phi(lr, w, grad):
    """Meta-Momentum step ``φ(x, w) = -lr · w ⊙ ∇f(x)`` (Fig. 2, App. C).

    Parameters
    ----------
    lr, w, grad : float and arrays (``grad = ∇f(x)``)
    """
    return -lr * w * grad


def meta_momentum_vjp(lr, grad, v):
    """``Dφ(x, w)ᵀ v = -lr · ∇f(x) ⊙ v`` for Meta-Momentum (App. C's meta-gradient for ``v = ∇f(x')``).

    Parameters
    ----------
    lr, grad, v : float and arrays
    """
    return -lr * grad * v


def meta_adagrad_phi(lr, w, grad):
    """Meta-AdaGrad step ``φ(x, w) = -lr · ∇f(x) / √w`` (Fig. 2).

    Parameters
    ----------
    lr, w, grad : float and arrays
    """
    return -lr * grad / w ** 0.5


def meta_adagrad_vjp(lr, w, grad, v):
    """``Dφ(x, w)ᵀ v = ½ lr ∇f(x) ⊙ v / w^{3/2}`` for Meta-AdaGrad.

    Parameters
    ----------
    lr, w, grad, v : float and arrays
    """
    return 0.5 * lr * grad * v / (w * w ** 0.5)


def bmg_hint(d, g, hint, a=1.0, a_next=1.0):
    """Eq. (16) (Thm. 5, BMG → AO-FTRL): ``g̃_{t+1} = (∇d_t(w_t) - α_t g_t + α_t g̃_t) / α_{t+1}``, so that
    ``Σ_{s<=t} α_s g_s + α_{t+1} g̃_{t+1} = Σ_{s<=t} ∇d_s(w_s)``.

    Parameters
    ----------
    d, g, hint : arrays ``∇d_t(w_t)``, ``g_t``, ``g̃_t``
    a, a_next : float ``α_t``, ``α_{t+1}``
    """
    return (d - a * g + a * hint) / a_next


def error_corrected_hint(d, g, a=1.0, a_next=1.0):
    """Cor. 3: ``α_{t+1} g̃_{t+1} = ∇d_t(w_t) - α_t g_t`` (the target-induced hint without the carried one).

    Parameters
    ----------
    d, g, a, a_next
        As :func:`bmg_hint`.
    """
    return (d - a * g) / a_next


# ----------------------------------------------------------------------------- update rules
class UpdateRule:
    """An update rule ``φ(x, w)`` with its vector-Jacobian product ``Dφ(x, w)ᵀ v``.

    ``grad`` is always ``∇f(x)`` at the base point ``x``. ``absolute`` says whether Alg. 2
    plays ``x_t = φ(x̄_{t-1}, w_t)`` (True) or ``x̄_{t-1} + φ(x̄_{t-1}, w_t)`` (False);
    ``affine`` whether ``φ`` is affine in ``w`` (the convexity assumption of Sec. 2).
    """

    absolute: bool = False
    affine: bool = True

    def meta_dim(self, n: int) -> int:
        """Dimension ``m`` of ``w`` for iterates in ``R^n``.

        Parameters
        ----------
        n : int
        """
        return n

    def default_set(self, m: int) -> ConvexSet:
        """The meta-parameter set ``W`` used when none is given.

        Parameters
        ----------
        m : int
        """
        return Reals()

    def phi(self, x, w, grad) -> np.ndarray:  # pragma: no cover - interface
        """The step ``φ(x, w)`` (``grad = ∇f(x)``).

        Parameters
        ----------
        x, w, grad : arrays
        """
        raise NotImplementedError

    def vjp(self, x, w, grad, v) -> np.ndarray:  # pragma: no cover - interface
        """``Dφ(x, w)ᵀ v`` (``grad = ∇f(x)``).

        Parameters
        ----------
        x, w, grad, v : arrays
        """
        raise NotImplementedError


class IdentityRule(UpdateRule):
    """``φ(x, w) = w`` (Sec. 3 and 6): the meta-learner chooses the iterate itself.

    ``Dφ = I``. In Alg. 2 (``averaging=True``) this is an *absolute* rule, ``x_t = w_t``, and
    :class:`MetaGradient` reproduces heavy ball (:func:`heavy_ball_coefficients`) while
    :class:`OptimisticMetaGradient` with ``hint="previous"`` reproduces Nesterov's method
    (:func:`nesterov_coefficients`). In Alg. 1 it is the increment ``x_t = x_{t-1} + w_t``.
    """

    absolute = True

    def phi(self, x, w, grad):
        """The step ``φ(x, w)`` (``grad = ∇f(x)``).

        Parameters
        ----------
        x, w, grad : arrays
        """
        return np.array(w, dtype=float, copy=True)

    def vjp(self, x, w, grad, v):
        """``Dφ(x, w)ᵀ v`` (``grad = ∇f(x)``).

        Parameters
        ----------
        x, w, grad, v : arrays
        """
        return np.array(v, dtype=float, copy=True)

    def __repr__(self):
        return "IdentityRule()"


class MetaMomentumRule(UpdateRule):
    """Meta-Momentum (Fig. 2, App. C): ``φ(x, w) = -lr · w ⊙ ∇f(x)`` — a meta-learned
    per-coordinate step size; ``Dφᵀv = -lr · ∇f(x) ⊙ v``, so the meta-gradient is
    ``-lr ∇f(x_{t-1}) ⊙ ∇f(x_t)`` (App. C). Default ``W = {w >= 0}``.
    Deviation: explicit descent sign and base rate ``lr`` (see the module docstring).

    Parameters
    ----------
    lr : float
    """

    def __init__(self, lr: float = 1.0):
        self.lr = positive(lr, "lr")

    def default_set(self, m):
        """The meta-parameter set ``W`` used when none is given.

        Parameters
        ----------
        m : int
        """
        return Box(0.0, np.inf, dim=m)

    def phi(self, x, w, grad):
        """The step ``φ(x, w)`` (``grad = ∇f(x)``).

        Parameters
        ----------
        x, w, grad : arrays
        """
        return meta_momentum_phi(self.lr, w, grad)

    def vjp(self, x, w, grad, v):
        """``Dφ(x, w)ᵀ v`` (``grad = ∇f(x)``).

        Parameters
        ----------
        x, w, grad, v : arrays
        """
        return meta_momentum_vjp(self.lr, grad, v)

    def __repr__(self):
        return f"MetaMomentumRule(lr={self.lr})"


class MetaAdaGradRule(UpdateRule):
    """Meta-AdaGrad (Fig. 2): ``φ(x, w) = -lr · ∇f(x) / √w`` (element-wise) — AdaGrad's
    accumulator ``w`` is meta-learned instead of summed. ``Dφᵀv = ½ lr ∇f(x) ⊙ v / w^{3/2}``.
    Not affine in ``w``: the convex theory (Thm. 3/4) does not cover it (as in the paper).
    Default ``W = {w >= w_min}`` keeps ``√w`` away from 0. Deviation: explicit sign and ``lr``.

    Parameters
    ----------
    lr, w_min : float
    """

    affine = False

    def __init__(self, lr: float = 1.0, w_min: float = 1e-8):
        self.lr = positive(lr, "lr")
        self.w_min = positive(w_min, "w_min")

    def default_set(self, m):
        """The meta-parameter set ``W`` used when none is given.

        Parameters
        ----------
        m : int
        """
        return Box(self.w_min, np.inf, dim=m)

    def _w(self, w):
        w = np.asarray(w, dtype=float)
        if np.any(w <= 0):
            raise InvalidArgumentError(f"w: MetaAdaGradRule needs w > 0 (use W = Box(w_min, inf)), "
                                       f"got min {w.min()}")
        return w

    def phi(self, x, w, grad):
        """The step ``φ(x, w)`` (``grad = ∇f(x)``).

        Parameters
        ----------
        x, w, grad : arrays
        """
        return meta_adagrad_phi(self.lr, self._w(w), grad)

    def vjp(self, x, w, grad, v):
        """``Dφ(x, w)ᵀ v`` (``grad = ∇f(x)``).

        Parameters
        ----------
        x, w, grad, v : arrays
        """
        return meta_adagrad_vjp(self.lr, self._w(w), grad, v)

    def __repr__(self):
        return f"MetaAdaGradRule(lr={self.lr}, w_min={self.w_min})"


def _check_rule(rule):
    if not isinstance(rule, UpdateRule):
        raise InvalidArgumentError(f"rule: expected an olc UpdateRule (IdentityRule, MetaMomentumRule, "
                                   f"MetaAdaGradRule, ...), got {rule!r}")
    return rule


# ----------------------------------------------------------------------------- weights
def _as_weights(weights):
    """``None`` -> α_t = 1; ``"linear"`` -> α_t = t; a callable ``t -> α_t`` (1-based)."""
    if weights is None:
        return None
    msg = f"weights: expected None, 'linear' or a callable t -> alpha_t, got {weights!r}"
    if isinstance(weights, str):
        if weights != "linear":
            raise InvalidArgumentError(msg)
        return lambda t: float(t)
    if not callable(weights):
        raise InvalidArgumentError(msg)
    return weights


def _alpha(weights, t: int) -> float:
    return 1.0 if weights is None else positive(weights(t), f"weights({t})")


# ----------------------------------------------------------------------------- state / run
class MetaState(NamedTuple):
    """State of a meta-gradient learner (explicit data; see DESIGN.md).

    ``x``: the point played this round (``x_t``, or ``x̄_t`` with averaging); ``base`` and
    ``base_grad``: the point the last step was taken from and ``∇f`` there (``None`` before
    the first step); ``w``: ``w_t``, the meta-parameters of that step; ``w0``: ``w_1``, the
    regulariser centre; ``inner``: the FTRL/AOFTRL state over ``u = w - w_1``; ``t``: rounds
    completed; ``alpha_sum``: ``α_{1:t}``. The last meta-round is recorded in ``g`` (``g_t``,
    unweighted), ``g_w`` (``w_t``), ``g_hint`` (``g̃_t``) and ``g_beta`` (``β_t``), ``None``
    before the first one; ``bound_sum`` is ``½ Σ α_s² β_s ||g_s - g̃_s||²`` (eq. (6)).
    """

    x: np.ndarray
    base: np.ndarray | None
    base_grad: np.ndarray | None
    w: np.ndarray
    w0: np.ndarray
    inner: Any
    t: int
    alpha_sum: float
    g: np.ndarray | None = None
    g_w: np.ndarray | None = None
    g_hint: np.ndarray | None = None
    g_beta: float | None = None
    g_alpha: float | None = None
    bound_sum: float = 0.0


@dataclass
class MetaRun:
    """Record of :meth:`MetaGradient.run` on a fixed objective.

    Attributes
    ----------
    x, values, w : arrays (T, n), (T,), (T, m)
        The played points (``x̄_t`` with averaging), ``f`` there, the meta-parameters of the step
        that produced ``x[t]`` (row 0 is ``w_1``).
    meta_w, meta_grads, hints, betas, alphas : per meta-round ``s = 1..T-1``
        ``w_s``, ``g_s`` (unweighted), ``g̃_s``, ``β_s``, ``α_s``.
    w0, state : the regulariser centre ``w_1`` and the final learner state
    """

    x: np.ndarray
    values: np.ndarray
    w: np.ndarray
    meta_w: np.ndarray
    meta_grads: np.ndarray
    hints: np.ndarray
    betas: np.ndarray
    alphas: np.ndarray
    w0: np.ndarray
    state: Any = None

    def regret(self, u) -> np.ndarray:
        """Linearised meta-regret ``R(t) = Σ_{s<=t} α_s <g_s, w_s - u>`` (left side of eq. (6)).

        Parameters
        ----------
        u : array
        """
        u = as_array(u, "u", shape=self.w0.shape)
        return np.cumsum(self.alphas * np.einsum("ti,ti->t", self.meta_grads, self.meta_w - u))

    def regret_bound(self, u) -> np.ndarray:
        """Eq. (6) for a comparator ``u ∈ W`` (regulariser centred at ``w0``), as a curve:
        ``||u - w0||²/(2β_t) + ½ Σ_{s<=t} α_s² β_s ||g_s - g̃_s||²``
        (:func:`olc.learners.aoftrl_regret_bound`).

        Parameters
        ----------
        u : array
        """
        u = as_array(u, "u", shape=self.w0.shape)
        return aoftrl_regret_bound(self.meta_grads, self.hints, self.betas, u - self.w0, self.alphas)


# ----------------------------------------------------------------------------- base learner
class _MetaLearner(Learner):
    """Shared loop of the meta-gradient learners (see the module docstring)."""

    feedback = "gradient"

    def __init__(self, rule, meta_lr, *, x0, w0, W, averaging, weights):
        self.rule = _check_rule(rule)
        if isinstance(meta_lr, str):
            raise InvalidArgumentError(f"meta_lr: expected a positive number or a schedule t -> beta_t, "
                                       f"got {meta_lr!r}")
        self.meta_lr = as_schedule(meta_lr, "meta_lr")
        if W is not None and not isinstance(W, (Reals, Box)):
            raise InvalidArgumentError(f"W: supported meta-parameter sets are Reals and Box (the regulariser "
                                       f"is centred at w0, which needs a translated set), got {W!r}")
        self.W = W
        self.x0 = None if x0 is None else as_array(x0, "x0", ndim=1).copy()
        self.w0 = None if w0 is None else as_array(w0, "w0", ndim=(0, 1)).copy()
        self.averaging = bool(averaging)
        if not self.averaging and weights is not None:
            raise InvalidArgumentError("weights: Alg. 1/3/5 (averaging=False) use α_t = 1; pass "
                                       "averaging=True (Alg. 2/4) to weight rounds, or leave weights=None")
        self.weights = _as_weights(weights)

    # --- pieces --------------------------------------------------------------------------
    def _set(self, m):
        W = self.W if self.W is not None else self.rule.default_set(m)
        if isinstance(W, Box) and W.shape is not None and W.shape != (m,):
            raise ShapeError(f"W: a box of shape {W.shape} for meta-parameters of shape ({m},)")
        return W

    @staticmethod
    def _shifted(W, w0):
        """``W - w0`` (the set of ``u = w - w0``)."""
        if isinstance(W, Reals):
            return Reals()
        return Box(W.lo - w0, W.hi - w0, dim=w0.shape[0])

    def _inner(self, w0):
        return self._make_inner(self._shifted(self._set(w0.shape[0]), w0))

    def _make_inner(self, K):  # pragma: no cover - overridden
        raise NotImplementedError

    def _alpha(self, t):
        return _alpha(self.weights, t) if self.averaging else 1.0

    def _initial_w(self, m, W, x0):
        if self.w0 is None:
            if self.rule.absolute and self.averaging:
                w0 = x0.copy()  # φ(x, w) = w in Alg. 2: start the meta-learner at the initial point
            else:
                w0 = W.project(np.zeros(m)) if isinstance(W, Box) else np.zeros(m)
        else:
            if self.w0.ndim == 1 and self.w0.shape != (m,):
                raise ShapeError(f"w0: expected shape ({m},) or a scalar, got shape {self.w0.shape}")
            w0 = np.broadcast_to(self.w0, (m,)).astype(float).copy()
        if not W.contains(w0):
            raise InvalidArgumentError(f"w0: the initial meta-parameters {w0} are outside W = {W!r}")
        return w0

    def _hint(self, state, istate, g, grad):
        """Hint ``g̃_{t+1}`` to inject before choosing ``w_{t+1}`` (None: the inner learner's own)."""
        return None

    def _beta_of(self, istate) -> float:
        """``β`` the inner learner used for its current decision."""
        return float(self.meta_lr(istate.t + 1))

    def _hint_of(self, istate, w):
        return np.zeros_like(w)

    # --- learner protocol ----------------------------------------------------------------
    def init(self, shape, rng=None, horizon=None, *, x0=None):
        shape = as_shape(shape)
        if len(shape) != 1:
            raise ShapeError(f"shape: meta-gradient learners play vectors, got decision shape {shape}")
        n = shape[0]
        if self.x0 is not None and self.x0.shape != (n,):
            raise ShapeError(f"x0: expected shape ({n},), got shape {self.x0.shape}")
        x0 = as_array(x0, "x0", shape=(n,), copy=True) if x0 is not None else \
            np.zeros(n) if self.x0 is None else self.x0.copy()
        m = self.rule.meta_dim(n)
        w0 = self._initial_w(m, self._set(m), x0)
        inner = self._inner(w0)
        istate = inner.init((m,), rng, horizon)
        u, istate = inner.decide(istate, None, rng)
        return MetaState(x0, None, None, w0 + u, w0, istate, 0, 0.0)

    def decide(self, state, obs=None, rng=None):
        return state.x, state

    def update(self, state, feedback):
        # overflow shows up as a non-finite iterate, reported below as an olc error (no numpy warnings)
        with np.errstate(over="ignore", invalid="ignore"):
            return self._update(state, feedback)

    def _update(self, state, feedback):
        name = type(self).__name__
        grad = feedback_grad(feedback, state.x.shape, name)
        w, istate = state.w, state.inner
        rec = {}
        if state.base is not None:
            inner = self._inner(state.w0)
            # meta-gradient of round t: g_t = Dφ(base, w_t)ᵀ ∇f(x_t)  (Alg. 1; Alg. 2/4 with base = x̄_{t-1})
            g = as_array(self.rule.vjp(state.base, w, state.base_grad, grad), f"{name}: meta-gradient",
                         shape=w.shape)
            a = self._alpha(state.t)
            beta, hint = self._beta_of(istate), self._hint_of(istate, w)
            rec = dict(g=g, g_w=w, g_hint=hint, g_beta=beta, g_alpha=a,
                       bound_sum=state.bound_sum + 0.5 * a * a * beta * float(np.sum((g - hint) ** 2)))
            istate = inner.update(istate, self._meta_feedback(state.t, a, g, w - state.w0))
            h = self._hint(state, istate, g, grad)
            if h is not None:
                istate = istate._replace(hint=as_array(h, f"{name}: hint", shape=w.shape))
            u, istate = inner.decide(istate, None, None)
            w = state.w0 + u
        t = state.t + 1  # index of the iterate produced now
        step = as_array(self.rule.phi(state.x, w, grad), f"{name}: update φ(x, w)", shape=state.x.shape)
        if self.averaging:  # Alg. 2/4, eq. (2)
            a = self._alpha(t)
            asum = state.alpha_sum + a
            x_t = step if self.rule.absolute else state.x + step
            x_new = (1.0 - a / asum) * state.x + (a / asum) * x_t
        else:  # Alg. 1/3/5
            asum = state.alpha_sum + 1.0
            x_new = state.x + step
        if not np.all(np.isfinite(x_new)):
            raise NonFiniteError(f"{name}: the iterate became non-finite at round {t}")
        return state._replace(x=x_new, base=state.x, base_grad=grad, w=w, inner=istate, t=t, alpha_sum=asum,
                              **rec)

    def _meta_feedback(self, t, a, g, u):
        """Feedback of meta-round ``t`` for the inner learner (FTRL takes ``α_t g_t``)."""
        return Feedback(t=t - 1, kind="gradient", value=float(a * g @ u), grad=a * g)

    def regret_bound(self, state, u) -> float:
        """Eq. (6) after the meta-rounds played, for a comparator ``u ∈ W``:
        ``||u - w_1||²/(2β_t) + ½ Σ α_s² β_s ||g_s - g̃_s||²`` with the ``β_t`` of the current decision.

        Parameters
        ----------
        state, u : learner state and array
        """
        u = as_array(u, "u", shape=state.w0.shape)
        return float(np.sum((u - state.w0) ** 2) / (2 * self._beta_of(state.inner)) + state.bound_sum)

    # --- convenience ---------------------------------------------------------------------
    def run(self, objective, T: int = 100, seed=0, progress=None) -> MetaRun:
        """Play ``T`` rounds (``T`` gradients of ``f``) on a fixed objective from ``x0``.

        ``objective``: a gradient oracle, a square matrix or a callable ``x -> (value, grad)``
        (:func:`as_value_and_grad`). This is :func:`olc.play` in ``olc.games.optimization`` on it, with a
        record hook keeping the meta-rounds. Returns a :class:`MetaRun`; a NaN/Inf raises
        :class:`olc.DivergenceError` with the :class:`MetaRun` of the rounds before it in ``.partial``.
        """
        if self.x0 is None:
            raise InvalidArgumentError(f"x0: {type(self).__name__}.run needs the starting point; pass x0=")
        name = type(self).__name__
        game = optimization(FunctionOracle(self.x0.shape[0], as_value_and_grad(objective), name=f"{name}.run"),
                            T, self.x0)
        try:
            return self._record(play(self, game, seed=seed, progress=progress, record=_meta_record))
        except DivergenceError as exc:  # keep the rounds played before it
            partial = self._record(exc.partial) if exc.partial.T else None
            raise DivergenceError(f"{name}.run: {exc}", step=exc.step, partial=partial) from exc

    @staticmethod
    def _record(trace) -> MetaRun:
        rec, state = trace.info, trace.final_state
        m = state.w0.shape[0]

        def col(k, shape=(-1, m)):  # meta-round s = 1..t-1 was recorded after the update of round s
            return np.array(rec[k][1:], dtype=float).reshape(shape)

        w = rec["w"]  # after round t: the w of the step that produced x[t + 1] (round 0 keeps w_1)
        return MetaRun(trace.decisions, trace.losses, np.concatenate([w[:1], w[:-1]]), col("g_w"), col("g"),
                       col("g_hint"), col("g_beta", -1), col("g_alpha", -1), state.w0, state)


def _meta_record(t, x, feedback, state):
    """``play``'s record hook for :meth:`_MetaLearner.run`: the meta-round of the update just made."""
    return {"w": state.w, "g_w": state.g_w, "g": state.g, "g_hint": state.g_hint, "g_beta": state.g_beta,
            "g_alpha": state.g_alpha}


# ----------------------------------------------------------------------------- the learners
class MetaGradient(_MetaLearner):
    """Meta-gradients: FTRL over the meta-parameters ``w`` — ``optimistic-meta-gradients``
    Alg. 1 (``averaging=False``) and Alg. 2 (``averaging=True``), meta-update eq. (3).

    ``w_{t+1} = argmin_{w∈W} Σ_{s<=t} α_s <g_s, w> + ||w - w_1||²/(2β) = Π_W(w_1 - β Σ α_s g_s)``
    with ``g_s = Dφ(x_{s-1}, w_s)ᵀ∇f(x_s)``, realised by an olc :class:`~olc.learners.FTRL`
    learner over ``u = w - w_1`` that receives the weighted meta-gradients ``α_s g_s`` as
    feedback. Unconstrained and with a constant ``β`` this is Alg. 1's
    ``w_{t+1} = w_t - β ∇h_t(w_t)`` exactly. The meta-regret obeys eq. (6) with no hints
    (:meth:`regret_bound`, :meth:`MetaRun.regret_bound`); Thm. 3 turns it into
    ``f(x̄_T) - f* = O(λ L diam(W) / T)`` for affine, regret-preserving rules.

    Heavy ball (Sec. 3): with :class:`IdentityRule`, ``averaging=True``, constant ``β`` and
    ``W = R^n`` the averaged iterates satisfy *exactly*
    ``x̄_{t+1} = x̄_t + μ_{t+1}(x̄_t - x̄_{t-1}) - s_{t+1} ∇f(x̄_t)`` (``t >= 1``, ``x̄_1 = w_1``)
    with ``μ_{t+1} = ρ_{t+1}(1-ρ_t)/ρ_t`` and ``s_{t+1} = ρ_{t+1} α_t β``
    (:func:`heavy_ball_coefficients`; ``α_t = t`` gives the paper's ``μ_t = (t-2)/(t+1)``).
    Deviation: the paper's Sec. 3 puts ``ρ_t`` into the meta-gradient (``∇h_t``) and states
    ``β̃_t = t/(4(t+1)L)``; we follow Alg. 2's ``g_t`` (no ``ρ_t``), for which the exact step is
    ``s_{t+1} = ρ_{t+1} α_t β`` (``= 2tβ/(t+2)`` for ``α_t = t``).

    Parameters
    ----------
    rule, meta_lr, x0 : UpdateRule, float or schedule ``t -> β_t`` (the rate choosing ``w_t``), array
    w0 : array, optional
        ``w_1``; default ``x0`` for ``IdentityRule`` with averaging, else the projection of 0 onto ``W``.
    W, averaging : Reals or Box (default ``rule.default_set``) and bool
    weights : None, "linear" or callable
        ``α_t = 1``, ``α_t = t`` or a callable of the 1-based ``t`` (averaging only).
    """

    def __init__(self, rule: UpdateRule, meta_lr, *, x0=None, w0=None, W: ConvexSet | None = None,
                 averaging: bool = False, weights=None):
        super().__init__(rule, meta_lr, x0=x0, w0=w0, W=W, averaging=averaging, weights=weights)

    def _make_inner(self, K):
        return FTRL(K, lr=self.meta_lr)


class _AOFTRLMeta(_MetaLearner):
    """Meta-learners whose inner learner is AO-FTRL (eq. (5)) with injected hints."""

    def _aoftrl_weights(self):
        if not self.averaging or self.weights is None:
            return None
        return lambda i: _alpha(self.weights, i + 1)  # inner round i decides w_{i+1}

    def _make_inner(self, K):
        return AOFTRL(K, lr=self.meta_lr, hint=_injected_hint, weights=self._aoftrl_weights())

    def _beta_of(self, istate):
        return float(istate.beta)

    def _hint_of(self, istate, w):
        return np.asarray(istate.hint, dtype=float)

    def _meta_feedback(self, t, a, g, u):
        # AOFTRL weights its losses itself (weights=α): pass the raw meta-gradient
        return Feedback(t=t - 1, kind="gradient", value=float(a * g @ u), grad=g)

    def regret_bound(self, state, u) -> float:
        """Eq. (6) from the inner learner: :meth:`olc.learners.AOFTRL.regret_bound` at ``||u - w_1||``.

        Parameters
        ----------
        state, u : learner state and array
        """
        u = as_array(u, "u", shape=state.w0.shape)
        return self._inner(state.w0).regret_bound(state.inner, float(np.linalg.norm(u - state.w0)))


def _injected_hint(t, istate):
    """AOFTRL hint callable: the hint the meta-learner stored in the inner state before ``decide``."""
    return istate.hint


class OptimisticMetaGradient(_AOFTRLMeta):
    """Optimistic meta-gradients: AO-FTRL over ``w`` — ``optimistic-meta-gradients`` Alg. 4,
    eq. (10) (with ``averaging=True``; ``averaging=False`` is the practical Alg. 1 analogue).

    ``w_{t+1} = Π_W(w_1 - β_{t+1}(Σ_{s<=t} α_s g_s + α_{t+1} g̃_{t+1}))`` by an olc
    :class:`~olc.learners.AOFTRL` learner over ``u = w - w_1``. Hints ``g̃_{t+1}``:

    * ``"previous"`` — Cor. 1: ``g̃_{t+1} = Dφ(x̄_{t-1}, w_t)ᵀ ∇f(x̄_t) = g_t``;
    * ``"current"`` — Cor. 2 with ``ỹ_{t+1} = ∇f(x̄_t)`` and the newest Jacobian:
      ``g̃_{t+1} = Dφ(x̄_t, w_t)ᵀ ∇f(x̄_t)`` (App. C's prediction ``∇f(x_{t+1}) ⊙ ∇f(x_{t+1})``
      for Meta-Momentum); equal to ``"previous"`` for :class:`IdentityRule`.

    The meta-regret obeys eq. (6) with these hints (:meth:`regret_bound` delegates to
    :meth:`olc.learners.AOFTRL.regret_bound`); Thm. 4 / Cor. 1 give ``O(1/T²)`` with
    ``α_t = t``. ``meta_lr`` may also be ``"adaptive"`` (AOFTRL's ``β_t ∝ 1/√(Σ α²||g - g̃||²)``).

    Nesterov (Sec. 6): with :class:`IdentityRule`, ``averaging=True``, ``hint="previous"``,
    constant ``β`` and ``W = R^n``, the averaged iterates are *exactly* Nesterov's
    ``x_{t+1} = y_t - η_t ∇f(y_t)``, ``y_{t+1} = x_{t+1} + μ_{t+1}(x_{t+1} - x_t) + ν_{t+1}(x_{t+1} - y_t)``
    with ``y_t = x̄_t`` (``t >= 1``, ``x_1 = y_1 = w_1``) and the coefficients of
    :func:`nesterov_coefficients`: ``μ_{t+1} = ρ_{t+1}(1-ρ_t)/ρ_t``, ``η_t = β α_{t+1}²/α_{1:t}``,
    ``ν_{t+1} = ρ_{t+1} β (α_t + α_{t+1})/η_t - 1 - μ_{t+1}``. For uniform weights ``α_t = 1``
    the correction vanishes, ``ν ≡ 0``: plain Nesterov with ``μ_{t+1} = (t-1)/(t+1)`` and
    ``η_t = β/t``. For ``α_t = t`` (Cor. 1) ``μ_{t+1} = (t-1)/(t+2)``, ``η_t = 2β(t+1)/t`` and a
    small correction ``ν_{t+1} = -(2t+1)/((t+1)(t+2))``.

    Parameters
    ----------
    hint : {"previous", "current"}
        Cor. 1 or Cor. 2.
    rule, meta_lr, x0, w0, W, averaging, weights
        As in :class:`MetaGradient`.
    """

    def __init__(self, rule: UpdateRule, meta_lr, *, hint: str = "previous", x0=None, w0=None,
                 W: ConvexSet | None = None, averaging: bool = False, weights=None):
        if not (isinstance(hint, str) and hint in ("previous", "current")):
            raise InvalidArgumentError(f"hint: expected 'previous' (Cor. 1) or 'current' (Cor. 2), "
                                       f"got {hint!r}")
        self.hint = hint
        adaptive = isinstance(meta_lr, str) and meta_lr == "adaptive"
        super().__init__(rule, 1.0 if adaptive else meta_lr, x0=x0, w0=w0, W=W, averaging=averaging,
                         weights=weights)
        if adaptive:
            self.meta_lr = "adaptive"

    def _hint(self, state, istate, g, grad):
        if self.hint == "previous":
            return g
        return self.rule.vjp(state.x, state.w, grad, grad)


class BMG(_AOFTRLMeta):
    """Bootstrapped meta-gradients — ``optimistic-meta-gradients`` Alg. 3 / Alg. 5, eq. (14)–(15),
    realised as AO-FTRL with the target-induced hints of Thm. 5 (BMG → AO-FTRL).

    BMG: ``x_t = x_{t-1} + φ(x_{t-1}, w_t)``, a target ``z_t`` from the target oracle, the matching
    loss ``d_t(w) = B^μ_{z_t}(x_{t-1} + φ(x_{t-1}, w))`` and ``w_{t+1} = w_t - β ∇d_t(w_t)`` with
    ``∇d_t(w_t) = Dφ(x_{t-1}, w_t)ᵀ(∇μ(x_t) - ∇μ(z_t))`` (eq. (15)). Here the olc AOFTRL learner
    sees the *true* meta-losses ``g_t = Dφᵀ∇f(x_t)`` and the hints of eq. (16),
    ``α_{t+1} g̃_{t+1} = Dφ(x_{t-1}, w_t)ᵀ(∇μ(x_t) - ∇μ(z_t) - α_t ∇f(x_t)) + α_t g̃_t``, so that
    ``Σ_{s<=t} α_s g_s + α_{t+1} g̃_{t+1} = Σ_{s<=t} ∇d_s(w_s)`` and AO-FTRL's iterate is BMG's
    (exactly, for constant ``β`` and ``W = R^m``; Thm. 5 adds the decay ``β_t/β_{t-1}`` otherwise,
    and a constrained ``W`` projects lazily). Its meta-regret on the true losses then obeys
    eq. (6) with these hints (:meth:`regret_bound`).

    ``averaging=True`` uses ``x̄_t`` in place of ``x_t`` (Thm. 5 with Alg. 4).

    Parameters
    ----------
    target : callable ``(x_t, w_t, grad_t) -> z_t``
        The target oracle (e.g. :func:`bootstrap_target`).
    mu_grad : callable, optional
        ``∇μ`` of the matching function (default ``μ = ½||·||²``; the objective's gradient: ``μ = f``, App. E).
    rule, meta_lr, x0, w0, W, averaging, weights
        As in :class:`MetaGradient`.
    """

    def __init__(self, rule: UpdateRule, meta_lr, target, *, mu_grad=None, x0=None, w0=None,
                 W: ConvexSet | None = None, averaging: bool = False, weights=None):
        if not callable(target):
            raise InvalidArgumentError(f"target: expected a callable (x, w, grad) -> z (the target oracle), "
                                       f"got {target!r}")
        if mu_grad is not None and not callable(mu_grad):
            raise InvalidArgumentError(f"mu_grad: expected None (μ = ½||·||²) or a callable x -> ∇μ(x), "
                                       f"got {mu_grad!r}")
        self.target = target
        self.mu_grad = mu_grad
        super().__init__(rule, meta_lr, x0=x0, w0=w0, W=W, averaging=averaging, weights=weights)

    def _grad_mu(self, x):
        return x if self.mu_grad is None else as_array(self.mu_grad(x), "mu_grad(x)", shape=x.shape)

    def _matching_vjp(self, state, grad):
        """``Dφ(base, w_t)ᵀ(∇μ(x_t) - ∇μ(z_t))`` = ``∇d_t(w_t)`` (eq. (15))."""
        z = as_array(self.target(state.x, state.w, grad), "target z_t", shape=state.x.shape)
        return self.rule.vjp(state.base, state.w, state.base_grad, self._grad_mu(state.x) - self._grad_mu(z))

    def _hint(self, state, istate, g, grad):
        a, a_next = self._alpha(state.t), self._alpha(state.t + 1)
        return bmg_hint(self._matching_vjp(state, grad), g, np.asarray(istate.hint), a, a_next)  # eq. (16)


class ErrorCorrectedBMG(BMG):
    """Error-corrected BMG — ``optimistic-meta-gradients`` Cor. 3 (Lemma 2, App. E).

    AO-FTRL over ``w`` with hints ``g̃_{t+1} = Dφ(x_{t-1}, w_t)ᵀ ỹ_{t+1}`` where the target
    oracle's ``z_t`` defines the predicted gradient through Thm. 5 (AO-FTRL → BMG):
    ``α_{t+1} ỹ_{t+1} = ∇μ(x_t) - ∇μ(z_t) - α_t ∇f(x_t)``. The resulting update is Cor. 3's
    ``w_{t+1} = w_t - β Dφ(x_{t-1}, w_t)ᵀ(α_{t+1} ỹ_{t+1} + α_t ∇f(x_t)) + β α_t Dφ(x_{t-2}, w_{t-1})ᵀ ỹ_t``
    = the BMG step of eq. (15) plus the FTRL error correction ``ξ_t = β α_t g̃_t`` (constant ``β``,
    ``W = R^m``; the decay ``β_t/β_{t-1}`` of Lemma 2 otherwise).

    Parameters
    ----------
    rule, meta_lr, target, mu_grad, x0, w0, W, averaging, weights
        As :class:`BMG`.
    """

    def _hint(self, state, istate, g, grad):
        a, a_next = self._alpha(state.t), self._alpha(state.t + 1)
        return error_corrected_hint(self._matching_vjp(state, grad), g, a, a_next)


def bootstrap_target(objective, rule: UpdateRule, lr: float = 1.0):
    """The bootstrapped target of BMG (App. E; Flennerhag et al. 2022 with one bootstrap step):
    ``z_t = x_t + y_t`` with ``y_t = φ(x_t, w_t) - lr ∇f(x_t + φ(x_t, w_t))`` — one more rule
    step, then a gradient step; one extra gradient evaluation per round. Returns a callable
    ``(x, w, grad) -> z`` for :class:`BMG` / :class:`ErrorCorrectedBMG`.

    Parameters
    ----------
    objective, rule, lr : as :func:`as_value_and_grad`'s ``f``, UpdateRule, float
    """
    return _BootstrapTarget(as_value_and_grad(objective), _check_rule(rule), positive(lr, "lr"))


class _BootstrapTarget:
    """The callable :func:`bootstrap_target` returns (a class, so BMG learners pickle)."""

    def __init__(self, fun, rule, lr):
        self.fun, self.rule, self.lr = fun, rule, lr

    def __call__(self, x, w, grad):
        x1 = x + self.rule.phi(x, w, grad)
        return x1 - self.lr * self.fun(x1)[1]


# ----------------------------------------------------------------------------- correspondences
def _weights_array(T, weights):
    wf = _as_weights(weights)
    return np.array([_alpha(wf, t) for t in range(1, T + 2)])  # α_1..α_{T+1}


def heavy_ball_coefficients(T: int, meta_lr: float, weights=None):
    """Heavy-ball form of :class:`MetaGradient` with :class:`IdentityRule` and averaging (Sec. 3).

    Returns ``(mu, step)``, arrays of length ``T + 1`` with, for ``t = 2..T``,
    ``x̄_t = x̄_{t-1} + mu[t] (x̄_{t-1} - x̄_{t-2}) - step[t] ∇f(x̄_{t-1})``:
    ``mu[t] = ρ_t (1 - ρ_{t-1})/ρ_{t-1}`` and ``step[t] = ρ_t α_{t-1} β`` (``ρ_t = α_t/α_{1:t}``);
    entries 0 and 1 are NaN (no such step). Constant ``β`` only.

    Parameters
    ----------
    T, meta_lr, weights : int >= 2, float ``β``, as :class:`MetaGradient`
    """
    T = positive_int(T, "T", minimum=2)  # the recursion starts at t = 2
    beta = positive(meta_lr, "meta_lr")
    a = _weights_array(T, weights)
    A = np.cumsum(a)
    rho = a / A  # rho[k] = ρ_{k+1}
    mu, step = np.full(T + 1, np.nan), np.full(T + 1, np.nan)
    for t in range(2, T + 1):
        mu[t] = rho[t - 1] * (1 - rho[t - 2]) / rho[t - 2]
        step[t] = rho[t - 1] * a[t - 2] * beta
    return mu, step


def nesterov_coefficients(T: int, meta_lr: float, weights=None):
    """Nesterov form of :class:`OptimisticMetaGradient` with :class:`IdentityRule`, averaging and
    ``hint="previous"`` (Sec. 6); see that class for the recursion.

    Returns ``(mu, eta, nu)``, arrays of length ``T + 1``: ``mu[t]``, ``nu[t]`` for ``t = 2..T``
    (used to form ``y_t``) and ``eta[t]`` for ``t = 1..T`` (the gradient step from ``y_t``):
    ``mu[t] = ρ_t(1-ρ_{t-1})/ρ_{t-1}``, ``eta[t] = β α_{t+1}²/α_{1:t}``,
    ``nu[t] = ρ_t β (α_{t-1} + α_t)/eta[t-1] - 1 - mu[t]`` (0 for ``α ≡ 1``). Constant ``β`` only.

    Parameters
    ----------
    T, meta_lr, weights
        As :func:`heavy_ball_coefficients`.
    """
    T = positive_int(T, "T")
    beta = positive(meta_lr, "meta_lr")
    a = _weights_array(T + 1, weights)
    A = np.cumsum(a)
    rho = a / A
    mu, eta, nu = (np.full(T + 1, np.nan) for _ in range(3))
    for t in range(1, T + 1):
        eta[t] = beta * a[t] ** 2 / A[t - 1]
    for t in range(2, T + 1):
        mu[t] = rho[t - 1] * (1 - rho[t - 2]) / rho[t - 2]
        nu[t] = rho[t - 1] * beta * (a[t - 2] + a[t - 1]) / eta[t - 1] - 1 - mu[t]
    return mu, eta, nu
