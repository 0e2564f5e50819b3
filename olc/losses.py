"""Loss families with value, gradient and (where cheap) Hessian.

A loss object is either a *single* loss ``f(x)`` or a *sequence* ``f_1, ..., f_T`` stored as
one object with a leading round axis on its parameters (``batched=True``). Sequences are
what environments reveal and what comparators minimise, so they support

* ``len(seq)``, ``seq[t]`` (the single loss of round ``t``, 0-based),
* ``seq.value(x)`` / ``seq.grad(x)`` — each round's value / gradient at one point ``x``,
* ``seq.total(x, upto)`` / ``seq.total_grad(x, upto)`` — the sum over rounds ``0..upto-1``.

Families: :class:`Linear` ``<g, x>``, :class:`Quadratic` ``½xᵀAx + bᵀx + c``, :class:`Logistic`
``log(1 + exp(-y aᵀx))``, :class:`LeastSquares` ``½(aᵀx - y)²``, :class:`FunctionLoss` (any convex callable with its
gradient) and :class:`LossList` (a sequence of arbitrary single losses). :class:`WithMemory` turns a sequence into
losses with memory ``f_t(x_{t-H+1}, ..., x_t) = base_t(Σ_i c_i x_{t-i})`` (a convex combination), whose unary
restriction ``f̃_t(x) = f_t(x, ..., x)`` is ``base_t``.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_array, check_alloc, check_psd, real
from .errors import InvalidArgumentError, NonFiniteError, ShapeError

__all__ = [
    "Loss",
    "Linear",
    "Quadratic",
    "Logistic",
    "LeastSquares",
    "FunctionLoss",
    "LossList",
    "WithMemory",
    "stack",
]


class Loss:
    """Base class of loss families (see the module docstring)."""

    batched: bool = False
    #: number of axes of one decision (1 for vectors)
    point_ndim: int = 1

    @property
    def point_shape(self) -> tuple:
        """Shape of one decision (``(dim,)`` unless a family says otherwise)."""
        return (self.dim,)

    def _check(self, x):
        x = as_array(x, "x")  # NaN/Inf decisions are reported, not evaluated
        if x.shape != self.point_shape:
            raise ShapeError(f"x: expected shape {self.point_shape}, got shape {x.shape}")
        return x

    # -- sequence protocol ------------------------------------------------------------------
    def __len__(self) -> int:
        if not self.batched:
            raise TypeError(f"a single {type(self).__name__} loss has no length")
        return self._len()

    def __getitem__(self, t):
        if not self.batched:
            raise TypeError(f"a single {type(self).__name__} loss cannot be indexed")
        T = len(self)
        if isinstance(t, slice):
            return self._slice(t)
        if not -T <= t < T:
            raise IndexError(f"round {t} out of range for a sequence of {T} losses")
        return self._item(int(t) % T)

    def __iter__(self):
        for t in range(len(self)):
            yield self[t]

    # -- sums over rounds --------------------------------------------------------------------
    def total(self, x, upto: int | None = None) -> float:
        """Sum of the values of rounds ``0..upto-1`` at ``x``.

        Parameters
        ----------
        x : array_like
            One decision.
        upto : int, optional
            The number of rounds summed (all by default).
        """
        return float(np.sum(self[:upto].value(x)) if upto is not None else np.sum(self.value(x)))

    def total_grad(self, x, upto: int | None = None) -> np.ndarray:
        """Gradient of :meth:`total`.

        Parameters
        ----------
        x : array_like
        upto : int, optional
        """
        seq = self if upto is None else self[:upto]
        return np.sum(seq.grad(x), axis=0)

    # -- to implement ------------------------------------------------------------------------
    def value(self, x):  # pragma: no cover - interface
        """The value at ``x``: a float for a single loss, one per round ``(T,)`` for a sequence.

        Parameters
        ----------
        x : array_like
            One decision.

        Examples
        --------
        >>> from olc.losses import Quadratic
        >>> f = Quadratic([[2.0, 0.0], [0.0, 1.0]], [1.0, 0.0])
        >>> f.value([1.0, 2.0]), f.grad([1.0, 2.0])
        (4.0, array([3., 2.]))
        """
        raise NotImplementedError

    def grad(self, x):  # pragma: no cover - interface
        """The gradient at ``x``: shape of ``x``, with a leading round axis for a sequence.

        Parameters
        ----------
        x : array_like
        """
        raise NotImplementedError

    def _point(self, x, name="x"):
        x = as_array(x, name)
        return x


def _batched_param(p, name, batched, item_ndim, empty_ok=False):
    p = as_array(p, name)
    want = item_ndim + (1 if batched else 0)
    if p.ndim != want:
        raise ShapeError(f"{name}: expected {want} axis/axes ({'rounds, ' if batched else ''}point axes), "
                         f"got shape {p.shape}")
    if not empty_ok:
        _nonempty(p, name, batched)
    return p


def _nonempty(p, name, batched):
    """A loss needs at least one round (batched) and decisions with at least one entry."""
    if p.size == 0:
        what = "a sequence needs at least one round and " if batched else ""
        raise ShapeError(f"{name}: {what}a decision needs at least one coordinate; got shape {p.shape}")


def _finite(v, who: str, x):
    """``v`` (a value or gradient computed from finite parameters at a finite ``x``) if it is finite;
    else the overflow is reported instead of returned as inf."""
    if np.all(np.isfinite(v)):
        return v
    raise NonFiniteError(f"{who}: overflowed to a non-finite result at a finite x (max |x| = "
                         f"{np.max(np.abs(x)):.3g}); rescale the problem")


class Linear(Loss):
    """Linear loss ``f(x) = <g, x>`` (``g`` may be a vector or a matrix; sum over all point axes).

    Parameters
    ----------
    g : array_like
        The cost; with ``batched=True`` the sequence with ``g[t]`` the cost of round ``t``.
    batched : bool
    point_ndim : int, optional
        The number of axes of one decision (default: all axes of ``g``, less the round axis).
    """

    def __init__(self, g, batched: bool = False, point_ndim: int | None = None):
        g = as_array(g, "g")
        self.batched = bool(batched)
        self.point_ndim = point_ndim if point_ndim is not None else g.ndim - (1 if batched else 0)
        if self.point_ndim < 1:
            raise ShapeError(f"g: expected at least {1 + self.batched} axis/axes, got shape {g.shape}")
        _nonempty(g, "g", self.batched)
        self.g = g

    @property
    def point_shape(self):
        return self.g.shape[1:] if self.batched else self.g.shape

    def _len(self):
        return self.g.shape[0]

    def _item(self, t):
        out = object.__new__(Linear)  # the parameters were validated when the sequence was built
        out.g, out.batched, out.point_ndim = self.g[t], False, self.point_ndim
        return out

    def _slice(self, s):  # may be empty (a prefix of 0 rounds); the parameters were validated
        out = object.__new__(Linear)
        out.g, out.batched, out.point_ndim = self.g[s], True, self.point_ndim
        return out

    def value(self, x):
        x = self._check(x)
        if self.batched:
            return _finite(self.g.reshape(len(self), -1) @ x.ravel(), "Linear.value", x)
        return float(_finite(np.sum(self.g * x), "Linear.value", x))

    def grad(self, x):
        self._check(x)
        return self.g.copy()

    def hessian(self, x):
        """The Hessian (zero), ``(n, n)`` with ``n`` the decision's size.

        Parameters
        ----------
        x : array_like
        """
        n = int(np.prod(self.point_shape))
        return np.zeros((n, n))

    def total(self, x, upto=None):
        x = self._check(x)
        return float(_finite(np.sum(self.g[:upto] * x), "Linear.total", x)) if self.batched else self.value(x)

    def total_grad(self, x, upto=None):
        self._check(x)
        return np.sum(self.g[:upto], axis=0) if self.batched else self.g.copy()


class Quadratic(Loss):
    """Quadratic loss ``f(x) = ½ xᵀ A x + bᵀ x + c`` over vectors (``A`` symmetric PSD for convexity).

    ``A`` is checked to be symmetric PSD (every round's): the learners' bounds and the comparators'
    closed forms assume convex losses.

    Parameters
    ----------
    A, b, c : array_like, array_like or None, float or array_like
        Shapes (d, d), (d,) and scalar; batched: ``A`` (T, d, d) or a shared (d, d), ``b`` (T, d),
        ``c`` (T,) or a scalar. ``b`` is zero when None.
    batched : bool
        A sequence of T rounds.
    """

    def __init__(self, A, b=None, c=0.0, batched: bool = False, _checked: bool = False):
        self.batched = bool(batched)
        A = as_array(A, "A")
        if A.ndim not in ((2, 3) if batched else (2,)) or A.shape[-1] != A.shape[-2]:
            raise ShapeError(f"A: expected a square matrix{' or a (T, d, d) stack' if batched else ''}, "
                             f"got shape {A.shape}")
        if not _checked:  # convex losses only (the bounds and the comparators' closed forms need it)
            check_psd(A, "A", stack=True)
        d = A.shape[-1]
        if b is None:
            b = np.zeros((d,) if not batched or A.ndim == 2 else (A.shape[0], d))
        b = as_array(b, "b")
        if b.ndim != (2 if batched else 1) or b.shape[-1] != d:
            raise ShapeError(f"b: expected shape {'(T, ' + str(d) + ')' if batched else (d,)}, got shape {b.shape}")
        if batched and A.ndim == 3 and A.shape[0] != b.shape[0]:
            raise ShapeError(f"A, b: {A.shape[0]} and {b.shape[0]} rounds do not match")
        if not _checked:
            _nonempty(b, "b", self.batched)
        c = as_array(c, "c")
        if batched:
            c = np.broadcast_to(c, (b.shape[0],)).copy()
        elif c.ndim != 0:
            raise ShapeError(f"c: expected a scalar, got shape {c.shape}")
        self.A, self.b, self.c = A, b, c

    @property
    def dim(self):
        return self.A.shape[-1]

    def _len(self):
        return self.b.shape[0]

    def _A(self, t):
        return self.A if self.A.ndim == 2 else self.A[t]

    def _item(self, t):
        return Quadratic(self._A(t), self.b[t], float(self.c[t]), _checked=True)

    def _slice(self, s):
        A = self.A if self.A.ndim == 2 else self.A[s]
        return Quadratic(A, self.b[s], self.c[s], batched=True, _checked=True)

    def value(self, x):
        x = self._check(x)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.batched:
                Ax = self.A @ x  # (d,) or (T, d)
                return _finite(0.5 * (Ax @ x) + self.b @ x + self.c, "Quadratic.value", x)
            return float(_finite(0.5 * x @ self.A @ x + self.b @ x + self.c, "Quadratic.value", x))

    def grad(self, x):
        x = self._check(x)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.batched:
                Ax = self.A @ x
                return _finite(np.broadcast_to(Ax, self.b.shape) + self.b, "Quadratic.grad", x)
            return _finite(self.A @ x + self.b, "Quadratic.grad", x)

    def hessian(self, x=None):
        """``A`` (of a single loss).

        Parameters
        ----------
        x : array_like, optional
        """
        if self.batched:
            raise TypeError("hessian: take one round first (seq[t].hessian())")
        return self.A.copy()

    def summed(self, upto: int | None = None) -> Quadratic:
        """The single quadratic ``Σ_{t<upto} f_t`` (closed form: sums of A, b, c).

        Parameters
        ----------
        upto : int, optional
            All rounds by default.
        """
        n = len(self) if upto is None else upto
        A = self.A * n if self.A.ndim == 2 else np.sum(self.A[:n], axis=0)
        return Quadratic(A, np.sum(self.b[:n], axis=0), float(np.sum(self.c[:n])))

    def prefix_sums(self):
        """Running sums ``(ΣA, Σb, Σc)`` over every prefix (used for anytime comparators)."""
        T = len(self)
        cumA = np.arange(1, T + 1)[:, None, None] * self.A if self.A.ndim == 2 else np.cumsum(self.A, axis=0)
        return cumA, np.cumsum(self.b, axis=0), np.cumsum(self.c)

    def total(self, x, upto=None):
        return self.summed(upto).value(x) if self.batched else self.value(x)

    def total_grad(self, x, upto=None):
        return self.summed(upto).grad(x) if self.batched else self.grad(x)


class _RowLoss(Loss):
    """Shared machinery of losses of the form ``φ(aᵀx, y)`` (one data row per round)."""

    def __init__(self, a, y, batched: bool = False, _checked: bool = False):
        self.batched = bool(batched)
        self.a = _batched_param(a, "a", batched, 1, empty_ok=_checked)
        y = as_array(y, "y")
        if batched:
            if y.shape != (self.a.shape[0],):
                raise ShapeError(f"y: expected shape ({self.a.shape[0]},), got shape {y.shape}")
        elif y.ndim != 0:
            raise ShapeError(f"y: expected a scalar, got shape {y.shape}")
        self.y = y
        self._validate_y()

    def _validate_y(self):
        pass

    @property
    def dim(self):
        return self.a.shape[-1]

    def _len(self):
        return self.a.shape[0]

    def _item(self, t):
        return type(self)(self.a[t], self.y[t])

    def _slice(self, s):
        return type(self)(self.a[s], self.y[s], batched=True, _checked=True)

    def value(self, x):
        x = self._check(x)
        with np.errstate(over="ignore", invalid="ignore"):
            v = _finite(self._phi(self.a @ x), f"{type(self).__name__}.value", x)
        return v if self.batched else float(v)

    def grad(self, x):
        x = self._check(x)
        with np.errstate(over="ignore", invalid="ignore"):
            d = self._dphi(self.a @ x)
            return _finite(d[..., None] * self.a if self.batched else d * self.a, f"{type(self).__name__}.grad", x)

    def hessian(self, x):
        if self.batched:
            raise TypeError("hessian: take one round first (seq[t].hessian(x))")
        return self._d2phi(self.a @ self._check(x)) * np.outer(self.a, self.a)


class Logistic(_RowLoss):
    """Logistic loss ``f(x) = log(1 + exp(-y aᵀx))`` with label ``y ∈ {-1, +1}`` (stable form).

    Parameters
    ----------
    a, y : array_like
        The data row (d,) and the label; batched: (T, d) and (T,).
    batched : bool
    """

    def _validate_y(self):
        if not np.all(np.isin(self.y, (-1.0, 1.0))):
            raise InvalidArgumentError("y: logistic labels must be -1 or +1")

    def _phi(self, z):
        return np.logaddexp(0.0, -self.y * z)

    def _dphi(self, z):
        return -self.y * _sigmoid(-self.y * z)

    def _d2phi(self, z):
        s = _sigmoid(self.y * z)
        return s * (1 - s)


class LeastSquares(_RowLoss):
    """Least-squares loss ``f(x) = ½ (aᵀx - y)²``.

    Parameters
    ----------
    a, y : array_like
        The data row (d,) and the target; batched: (T, d) and (T,).
    batched : bool
    """

    def _phi(self, z):
        return 0.5 * (z - self.y) ** 2

    def _dphi(self, z):
        return z - self.y

    def _d2phi(self, z):
        return 1.0


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


class FunctionLoss(Loss):
    """Any convex loss given as callables ``fun(x) -> float`` and ``grad(x) -> array``.

    Values and gradients are checked for NaN/Inf (an :class:`olc.NonFiniteError` names the loss).

    Parameters
    ----------
    fun, grad, hessian : callable
        ``x -> float``, ``x -> array`` and (optional) ``x -> (n, n) array``.
    name : str
        Names the loss in error messages.
    """

    def __init__(self, fun, grad, hessian=None, name: str = "FunctionLoss"):
        if not callable(fun) or not callable(grad):
            raise InvalidArgumentError("fun, grad: expected callables")
        self.fun, self._grad, self._hess, self.name = fun, grad, hessian, name

    def value(self, x):
        return real(self.fun(as_array(x, "x")), f"{self.name} value (fun(x))")

    def grad(self, x):
        x = as_array(x, "x")
        g = self._grad(x)
        if g is None:
            raise InvalidArgumentError(f"{self.name} gradient: grad returned None, expected an array of shape {x.shape}")
        g = as_array(g, f"{self.name} gradient")
        if g.shape != x.shape:
            raise ShapeError(f"{self.name} gradient: expected shape {x.shape}, got shape {g.shape}")
        return g

    def hessian(self, x):
        """``hessian(x)``, if a Hessian callable was given.

        Parameters
        ----------
        x : array_like
        """
        if self._hess is None:
            raise TypeError(f"{self.name}: no Hessian was given")
        return as_array(self._hess(as_array(x, "x")), f"{self.name} Hessian")


class LossList(Loss):
    """A sequence of arbitrary single losses (possibly of different families).

    Parameters
    ----------
    losses : sequence of Loss
    """

    batched = True

    def __init__(self, losses):
        self.losses = list(losses)
        if not self.losses:
            raise InvalidArgumentError("losses: a loss sequence needs at least one round, got an empty list")
        for i, f in enumerate(self.losses):
            if not isinstance(f, Loss) or f.batched:
                raise InvalidArgumentError(f"losses[{i}]: expected a single olc.losses.Loss, got {f!r}")

    def _len(self):
        return len(self.losses)

    def _item(self, t):
        return self.losses[t]

    def _slice(self, s):
        out = object.__new__(LossList)  # may be empty (a prefix of 0 rounds)
        out.losses = self.losses[s]
        return out

    def value(self, x):
        return np.array([f.value(x) for f in self.losses])

    def grad(self, x):
        return np.stack([f.grad(x) for f in self.losses])


class WithMemory(Loss):
    """Losses with memory ``f_t(x_{t-H+1}, ..., x_t) = base_t(Σ_{i=0}^{H-1} c_i x_{t-i})``.

    ``weights`` ``c_0..c_{H-1}`` (weight of the newest decision first) are non-negative and normalised to sum to 1, so
    ``f_t`` is convex and its unary restriction ``f̃_t(x) = f_t(x, ..., x)`` equals ``base_t`` — the comparator of OCO
    with memory (``nonconvex-meta-optimization`` Thm. 5). A *window* is an array of shape ``(H, *point)`` ordered
    oldest to newest: ``window[-1] = x_t``.

    Parameters
    ----------
    base : Loss
    memory : int
        ``H``.
    weights : array_like, optional
        ``c_0..c_{H-1}`` (uniform by default).
    """

    def __init__(self, base: Loss, memory: int, weights=None):
        if not isinstance(base, Loss):
            raise InvalidArgumentError(f"base: expected an olc.losses.Loss, got {type(base).__name__}")
        from ._validate import positive_int

        self.memory = positive_int(memory, "memory")
        check_alloc(2 * 8.0 * self.memory, f"memory={self.memory}: the weights of a window of {self.memory} decisions",
                    "use a shorter memory")
        if weights is None:
            weights = np.full(self.memory, 1.0 / self.memory)
        w = as_array(weights, "weights", shape=(self.memory,))
        if np.any(w < 0) or w.sum() <= 0:
            raise InvalidArgumentError(f"weights: expected non-negative weights with a positive sum, got {w}")
        self.weights = w / w.sum()
        self.base = base
        self.batched = base.batched

    def _len(self):
        return len(self.base)

    def _item(self, t):
        return WithMemory(self.base[t], self.memory, self.weights)

    def _slice(self, s):
        return WithMemory(self.base[s], self.memory, self.weights)

    def unary(self) -> Loss:
        """The unary restriction ``f̃(x) = f(x, ..., x)`` (the base loss or sequence)."""
        return self.base

    def combine(self, window) -> np.ndarray:
        """``z = Σ_i c_i x_{t-i}``.

        Parameters
        ----------
        window : array_like
            Shape ``(H, *point)``, ordered oldest to newest.
        """
        window = as_array(window, "window")
        if window.shape[0] != self.memory:
            raise ShapeError(f"window: expected {self.memory} decisions along axis 0, got shape {window.shape}")
        return np.tensordot(self.weights[::-1], window, axes=1)

    def value(self, window):
        """``base(combine(window))`` (one round at a time).

        Parameters
        ----------
        window : array_like
        """
        if self.batched:
            raise TypeError("value: a sequence with memory is evaluated one round at a time (seq[t].value(window))")
        return self.base.value(self.combine(window))

    def grad(self, window):
        """Gradient with respect to each decision of the window, shape ``(H, *point)``.

        Parameters
        ----------
        window : array_like
        """
        if self.batched:
            raise TypeError("grad: evaluate one round at a time (seq[t].grad(window))")
        g = self.base.grad(self.combine(window))
        return self.weights[::-1].reshape((-1,) + (1,) * g.ndim) * g

    def total(self, x, upto=None):
        return self.base.total(x, upto)

    def total_grad(self, x, upto=None):
        return self.base.total_grad(x, upto)


def _same_dims(losses, shape_of):
    shapes = [shape_of(f) for f in losses]
    for i, sh in enumerate(shapes):
        if sh != shapes[0]:
            raise ShapeError(f"losses[{i}]: parameters of shape {sh}, but losses[0] has {shapes[0]}: "
                             "a loss sequence needs one decision dimension")


def stack(losses) -> Loss:
    """Stack single losses into one sequence (same family → batched parameters, else :class:`LossList`).

    Parameters
    ----------
    losses : iterable of Loss
    """
    losses = list(losses)
    if not losses:
        raise InvalidArgumentError("losses: cannot stack an empty list")
    kinds = {type(f) for f in losses}
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind is Linear:
            _same_dims(losses, lambda f: f.g.shape)
            return Linear(np.stack([f.g for f in losses]), batched=True)
        if kind is Quadratic:
            _same_dims(losses, lambda f: f.A.shape)
            return Quadratic(np.stack([f.A for f in losses]), np.stack([f.b for f in losses]),
                             np.array([float(f.c) for f in losses]), batched=True, _checked=True)
        if kind in (Logistic, LeastSquares):
            _same_dims(losses, lambda f: f.a.shape)
            return kind(np.stack([f.a for f in losses]), np.array([float(f.y) for f in losses]), batched=True)
        if kind is WithMemory:
            m = {(f.memory, tuple(f.weights)) for f in losses}
            if len(m) == 1:
                return WithMemory(stack([f.base for f in losses]), losses[0].memory, losses[0].weights)
    return LossList(losses)

