"""Environments of online convex optimization: oblivious sequences, bandit feedback, losses
with memory and adaptive adversaries. See :mod:`olc.game` for the round protocol."""

from __future__ import annotations

import copy
import math

import numpy as np

from .. import losses as L
from .._validate import as_array, as_rng, as_shape, check_alloc, check_choice, nonnegative, positive, positive_int
from ..errors import InvalidArgumentError, ShapeError
from ..game import FEEDBACK_KINDS, Environment, Feedback

__all__ = [
    "SequenceGame",
    "MemoryGame",
    "AdaptiveGame",
    "sequence",
    "linear",
    "quadratic",
    "logistic",
    "least_squares",
    "convex",
    "bandit",
    "with_memory",
    "adaptive",
    "adversarial_linear",
    "random_linear",
    "random_quadratic",
]


def _point_shape(seq: L.Loss) -> tuple[int, ...]:
    if isinstance(seq, L.Linear):
        return tuple(seq.point_shape)
    if isinstance(seq, (L.Quadratic, L.Logistic, L.LeastSquares)):
        return (seq.dim,)
    if isinstance(seq, L.WithMemory):
        return _point_shape(seq.base)
    if isinstance(seq, L.LossList):
        shapes = {_point_shape_or_none(f) for f in seq.losses} - {None}
        if len(shapes) == 1:
            return shapes.pop()
        if len(shapes) > 1:
            raise ShapeError(f"losses: the losses have different decision shapes {sorted(shapes)}")
    raise InvalidArgumentError(f"shape: cannot infer the decision shape of a sequence of {type(seq).__name__} "
                               "losses (a FunctionLoss has no parameters to read it from); pass shape=, e.g. "
                               "olc.games.convex(losses, shape=(d,))")


def _point_shape_or_none(f):
    try:
        return _point_shape(f)
    except InvalidArgumentError:
        return None


class SequenceGame(Environment):
    """An oblivious game: the loss sequence is fixed.

    Parameters
    ----------
    losses : batched olc.losses.Loss
    feedback, shape : str and tuple of int, optional
        As :func:`convex`.
    """

    def __init__(self, losses: L.Loss, feedback: str = "full", shape=None):
        if not isinstance(losses, L.Loss) or not losses.batched:
            raise InvalidArgumentError("losses: expected a loss sequence (a batched olc.losses.Loss, e.g. "
                                       "olc.losses.Linear(G, batched=True))")
        self.losses = losses
        self.feedback = check_choice(feedback, "feedback", FEEDBACK_KINDS)
        self.shape = as_shape(shape) if shape is not None else _point_shape(losses)
        self.horizon = len(losses)
        if self.horizon == 0:
            raise InvalidArgumentError("losses: a game needs at least one round, got an empty loss sequence")

    def step(self, t, x):
        """Charge round ``t`` for the decision ``x``.

        Parameters
        ----------
        t, x : int and ndarray
        """
        f = self.losses[t]
        value = f.value(x)
        grad = f.grad(x) if self.feedback != "bandit" else None
        return Feedback(t, self.feedback, value, grad, f if self.feedback == "full" else None)

    def realized(self):
        return self.losses


class MemoryGame(Environment):
    """Losses with memory: round ``t`` charges ``f_t(x_{t-H+1}, ..., x_t)`` (an
    :class:`olc.losses.WithMemory` sequence).

    Before round ``H-1`` the window is incomplete; it is padded with the first decision
    ``x_0`` (so the first rounds are charged ``f_t(x_0, ..., x_0, ..., x_t)``). Gradient feedback
    is ``∇f̃_t(x_t)``, the gradient of the unary restriction at the current decision (what OGD
    with memory uses; Anava, Hazan & Mannor 2015).

    Parameters
    ----------
    losses : olc.losses.WithMemory
    feedback, shape
        As :class:`SequenceGame`.
    """

    def __init__(self, losses: L.WithMemory, feedback: str = "full", shape=None):
        if not isinstance(losses, L.WithMemory) or not losses.batched:
            raise InvalidArgumentError("losses: expected a batched olc.losses.WithMemory sequence")
        self.losses = losses
        self.memory = losses.memory
        self.feedback = check_choice(feedback, "feedback", FEEDBACK_KINDS)
        self.shape = as_shape(shape) if shape is not None else _point_shape(losses)
        self.horizon = len(losses)
        self._window = None

    _state = ("_window",)  # the last H decisions (Environment.get_state, for checkpoints)

    def reset(self, rng):
        self._window = None

    def step(self, t, x):
        """Charge round ``t`` for the decision ``x``.

        Parameters
        ----------
        t, x : int and ndarray
        """
        if self._window is None:
            self._window = np.repeat(x[None], self.memory, axis=0)
        else:
            self._window = np.concatenate([self._window[1:], x[None]], axis=0)
        f = self.losses[t]
        value = f.value(self._window)
        grad = f.base.grad(x) if self.feedback != "bandit" else None
        return Feedback(t, self.feedback, value, grad, f if self.feedback == "full" else None,
                        info={"window": self._window})

    def realized(self):
        return self.losses


class AdaptiveGame(Environment):
    """An adaptive adversary: ``make_loss(t, past, rng)`` returns round ``t``'s single loss,
    seeing the past decisions ``past`` (shape ``(t, *shape)``) but not the current one.

    Parameters
    ----------
    make_loss, T, shape, feedback : callable, int, tuple of int, str
    """

    def __init__(self, make_loss, T: int, shape, feedback: str = "full"):
        if not callable(make_loss):
            raise InvalidArgumentError("make_loss: expected a callable (t, past_decisions, rng) -> Loss")
        self.make_loss = make_loss
        self.horizon = positive_int(T, "T")
        self.shape = as_shape(shape)
        self.feedback = check_choice(feedback, "feedback", FEEDBACK_KINDS)
        check_alloc(8 * self.horizon * math.prod(self.shape), f"T={T}: the adaptive adversary "
                    f"keeps the {T} past decisions of shape {self.shape}", "use a shorter horizon")

    _state = ("_rng", "_past", "_losses")  # the position, for checkpoints (Environment.get_state)

    def reset(self, rng):
        self._rng = rng
        self._past = np.empty((self.horizon, *self.shape))
        self._losses = []

    def step(self, t, x):
        """Charge round ``t`` for the decision ``x``.

        Parameters
        ----------
        t, x : int and ndarray
        """
        f = self.make_loss(t, self._past[:t], self._rng)
        if not isinstance(f, L.Loss) or f.batched:
            raise InvalidArgumentError(f"make_loss: must return a single olc.losses.Loss, got {f!r} in round {t}")
        try:
            value = f.value(x)
            grad = f.grad(x) if self.feedback != "bandit" else None
        except ShapeError as exc:
            raise ShapeError(f"make_loss: the loss of round {t} does not fit decisions of shape {self.shape} "
                             f"({exc})") from exc
        self._past[t] = x
        self._losses.append(f)
        return Feedback(t, self.feedback, value, grad, f if self.feedback == "full" else None)

    def realized(self):
        return L.stack(self._losses) if self._losses else None


# ---------------------------------------------------------------------------------------------
# constructors


def sequence(losses: L.Loss, feedback: str = "full") -> Environment:
    """Oblivious game over a loss sequence (memory sequences give a :class:`MemoryGame`).

    Parameters
    ----------
    losses : olc.losses.Loss or list of them
    feedback : {"full", "gradient", "bandit"}
    """
    if isinstance(losses, L.WithMemory):
        return MemoryGame(losses, feedback)
    if isinstance(losses, (list, tuple)):
        losses = L.stack(losses)
    return SequenceGame(losses, feedback)


def linear(G, feedback: str = "full") -> Environment:
    """Linear losses ``f_t(x) = <G[t], x>``.

    Parameters
    ----------
    G : array (T, ...)
    feedback : {"full", "gradient", "bandit"}

    Examples
    --------
    FTRL with ``η = 1`` over the unit ball plays ``Π(−Σ_{s<t} g_s)``:

    >>> import olc
    >>> olc.play(olc.learners.FTRL(olc.sets.Ball(1.0), lr=1.0), olc.games.linear([[1.0, 0.0], [0.0, 1.0]])).decisions
    array([[ 0.,  0.],
           [-1.,  0.]])
    """
    G = as_array(G, "G")
    if G.ndim < 2:
        raise ShapeError(f"G: expected shape (T, *decision_shape), got shape {G.shape}")
    return SequenceGame(L.Linear(G, batched=True), feedback)


def quadratic(A, b, c=0.0, feedback: str = "full") -> Environment:
    """Quadratic losses ``½xᵀA_t x + b_tᵀx + c_t``.

    Parameters
    ----------
    A, b, c : arrays (d, d) shared or (T, d, d), (T, d), (T,) or float
    feedback : {"full", "gradient", "bandit"}
    """
    return SequenceGame(L.Quadratic(A, b, c, batched=True), feedback)


def logistic(a, y, feedback: str = "full") -> Environment:
    """Online logistic regression: ``log(1 + exp(-y_t a_tᵀx))``.

    Parameters
    ----------
    a, y : arrays (T, d) and (T,) of labels ±1
    feedback : {"full", "gradient", "bandit"}
    """
    return SequenceGame(L.Logistic(a, y, batched=True), feedback)


def least_squares(a, y, feedback: str = "full") -> Environment:
    """Online least squares: ``½(a_tᵀx - y_t)²``.

    Parameters
    ----------
    a, y : arrays (T, d) and (T,)
    feedback : {"full", "gradient", "bandit"}
    """
    return SequenceGame(L.LeastSquares(a, y, batched=True), feedback)


def convex(losses, feedback: str = "full", shape=None) -> Environment:
    """A game over any list of single convex losses (e.g. :class:`olc.losses.FunctionLoss`).

    Parameters
    ----------
    losses : list of olc.losses.Loss or a batched Loss
    feedback : {"full", "gradient", "bandit"}
    shape : tuple of int, optional
        The decision shape, when it cannot be read off the losses (a FunctionLoss has no parameters).
    """
    return SequenceGame(L.LossList(losses) if isinstance(losses, (list, tuple)) else losses, feedback, shape)


def bandit(game: Environment) -> Environment:
    """The same game revealing only loss values.

    Parameters
    ----------
    game : Environment
    """
    g = copy.copy(game)
    g.feedback = "bandit"
    return g


def with_memory(game_or_losses, memory: int, weights=None, feedback: str | None = None) -> Environment:
    """Losses with memory ``f_t(x_{t-H+1..t}) = base_t(Σ c_i x_{t-i})`` built from a sequence game.

    Parameters
    ----------
    game_or_losses : SequenceGame or olc.losses.Loss
    memory, weights : int ``H`` and array (H,) ``c`` (default: ``olc.losses.WithMemory``'s)
    feedback : str, optional
        Default: the game's.
    """
    if isinstance(game_or_losses, SequenceGame):
        base, fb = game_or_losses.losses, game_or_losses.feedback
    elif isinstance(game_or_losses, L.Loss):
        base, fb = game_or_losses, "full"
    else:
        raise InvalidArgumentError("game_or_losses: expected a SequenceGame or a loss sequence")
    if len(base) < positive_int(memory, "memory"):
        raise InvalidArgumentError(f"memory: {memory} is longer than the {len(base)} rounds of the game")
    return MemoryGame(L.WithMemory(base, memory, weights), feedback or fb)


def adaptive(make_loss, T: int, shape, feedback: str = "full") -> Environment:
    """An adaptive adversary.

    Parameters
    ----------
    make_loss, T, shape, feedback
        As :class:`AdaptiveGame`.
    """
    return AdaptiveGame(make_loss, T, shape, feedback)


def adversarial_linear(T: int, dim: int, scale: float = 1.0, feedback: str = "full") -> Environment:
    """Adaptive linear adversary: ``g_t = scale * x_{t-1}/||x_{t-1}||`` — the cost that would have
    hurt the previous decision most (a random unit vector when the previous decision is 0).

    Parameters
    ----------
    T, dim, scale, feedback : int, int, float, str
    """
    dim = positive_int(dim, "dim")
    scale = positive(scale, "scale")

    def make(t, past, rng):
        last = past[-1] if t > 0 else np.zeros(dim)
        n = np.linalg.norm(last)
        if n < 1e-12:
            v = rng.standard_normal(dim)
            return L.Linear(scale * v / np.linalg.norm(v))
        return L.Linear(scale * last / n)

    return AdaptiveGame(make, T, (dim,), feedback)


def random_linear(T: int, dim: int, bound: float = 1.0, seed=0, feedback: str = "full") -> Environment:
    """Oblivious linear losses with i.i.d. uniform coordinates in ``[-bound, bound]``.

    Parameters
    ----------
    T, dim, bound, seed, feedback : int, int, float, int or Generator, str
    """
    rng = as_rng(seed)
    bound = positive(bound, "bound")
    T, dim = positive_int(T, "T"), positive_int(dim, "dim")
    _check_game_size(2.0 * T * dim, T, dim, "random_linear")
    G = rng.uniform(-bound, bound, size=(T, dim))
    return linear(G, feedback)


def _check_game_size(n_values, T, dim, who):
    check_alloc(8.0 * n_values, f"{who}(T={T}, dim={dim}): the parameters of {T} rounds in dimension {dim}",
                "use a shorter horizon or an adaptive game (olc.games.adaptive) that builds each round's loss")


def random_quadratic(T: int, dim: int, seed=0, curvature: float = 1.0, spread: float = 0.5,
                     feedback: str = "full") -> Environment:
    """Smooth strongly convex losses ``f_t(x) = (curvature/2)(||x - c_t||² - ||c_t||²)`` with centres
    ``c_t ~ N(0, spread² I)`` clipped to the unit ball (a standard smooth test sequence).

    The constant ``-||c_t||²`` changes no minimiser or regret; it keeps loss values near 0,
    which is what one-point bandit estimators ``(d/δ) f(y) u`` need for low variance.

    Parameters
    ----------
    T, dim, seed, curvature, spread, feedback : int, int, int or Generator, float, float, str
    """
    rng = as_rng(seed)
    T, dim = positive_int(T, "T"), positive_int(dim, "dim")
    curvature, spread = positive(curvature, "curvature"), nonnegative(spread, "spread")
    _check_game_size(3.0 * T * dim + 2.0 * dim * dim, T, dim, "random_quadratic")
    c = rng.normal(0.0, spread, size=(T, dim))
    c /= np.maximum(1.0, np.linalg.norm(c, axis=1, keepdims=True))
    A = curvature * np.eye(dim)
    b = -curvature * c
    return quadratic(A, b, 0.0, feedback)
