"""The gradient-oracle protocol: the one interface every objective in olc is seen through.

An oracle is a (possibly stochastic, finite-sum) objective ``f: R^dim -> R``. It answers ``value``, ``grad`` and
``value_and_grad`` at a point ``x`` of shape ``(dim,)``, optionally for a *minibatch* ``batch`` (an opaque object
produced by :meth:`GradientOracle.sample_batch` from a seeded generator; ``None`` means the full objective). Where
second-order information exists it also answers Hessian-vector products (``hvp``, ``has_hvp``) and full Hessians.

This is the feedback model of ``nonconvex-meta-optimization`` (Sec. 2 and App. A): in episode ``i`` at step ``t`` the
optimizer receives a minibatch ``B_{i,t}`` and suffers ``f_{i,t}(x) = (1/b) sum_{j in B_{i,t}} f_{i,j}(x)``;
:meth:`GradientOracle.freeze` fixes one minibatch and gives the *deterministic* setting of the paper's experiments
(Sec. 5, App. E.1: "gradient descent on a fixed batch").

Subclasses implement ``_value_and_grad(x, batch)`` and, optionally, ``_value``, ``_hvp``, ``_hessian`` and
``sample_batch``; the public methods here do the checking (``x`` must be a finite ``(dim,)`` array; non-finite results
raise :class:`~olc.errors.NonFiniteError` naming the oracle and the evaluation number) and the counting (``count``:
function/gradient evaluations; ``hvp_count``: Hessian-vector products), which experiments use as a data-efficiency
measure.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, as_rng, check_alloc, number, positive_int
from ..errors import FeedbackError, InvalidArgumentError, NonFiniteError, ShapeError

__all__ = ["GradientOracle", "FrozenOracle", "FunctionOracle", "sample_indices"]


def sample_indices(rng, n: int, batch_size: int | None) -> np.ndarray | None:
    """Draw a minibatch of ``batch_size`` distinct indices out of ``range(n)`` (sorted).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
    batch_size : int or None
        None: no minibatch (returns None).
    """
    if batch_size is None or batch_size >= n:
        return None
    idx = as_rng(rng).choice(n, size=batch_size, replace=False)
    idx.sort()
    return idx


class GradientOracle:
    """Base class of gradient oracles (see the module docstring for the protocol).

    Parameters
    ----------
    dim : int
        Dimension ``n`` of the decision vector ``x``.
    name : str, optional
        Used in error messages (defaults to the class name).

    Subclasses set the class attributes ``has_hvp`` (Hessian-vector products available)
    and ``hessian_is_constant`` (the Hessian of each minibatch objective does not depend on
    ``x``: quadratics, least squares), which :class:`olc.systems.OptimizationSystem` uses to
    build the exact matrix ``H_t`` of its eq. (1).
    """

    has_hvp: bool = False
    hessian_is_constant: bool = False

    def __init__(self, dim: int, *, name: str | None = None):
        self._dim = positive_int(dim, "dim")
        self.name = name or type(self).__name__
        self.count = 0
        self.hvp_count = 0

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Dimension of the decision vector ``x``."""
        return self._dim

    @property
    def stochastic(self) -> bool:
        """True when :meth:`sample_batch` draws proper minibatches (not the full objective)."""
        return False

    def reset_count(self) -> None:
        """Set the evaluation counters ``count`` and ``hvp_count`` back to zero."""
        self.count = 0
        self.hvp_count = 0

    # ------------------------------------------------------------------ hooks for subclasses
    def _value_and_grad(self, x: np.ndarray, batch):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement _value_and_grad(x, batch)")

    def _value(self, x: np.ndarray, batch) -> float:
        return self._value_and_grad(x, batch)[0]

    def _hvp(self, x: np.ndarray, v: np.ndarray, batch) -> np.ndarray:
        raise FeedbackError(f"{self.name}: Hessian-vector products are not available (has_hvp is False)")

    def _hessian(self, x: np.ndarray, batch) -> np.ndarray:
        if not self.has_hvp:
            raise FeedbackError(f"{self.name}: Hessians are not available (has_hvp is False)")
        eye = np.eye(self.dim)
        cols = [np.asarray(self._hvp(x, eye[i], batch), dtype=np.float64) for i in range(self.dim)]
        self.hvp_count += self.dim
        return np.stack(cols, axis=1)

    def sample_batch(self, rng):
        """Draw a minibatch (``None`` for deterministic oracles).

        Parameters
        ----------
        rng : numpy.random.Generator
        """
        return None

    # ------------------------------------------------------------------ checks
    def _check_x(self, x, name: str = "x") -> np.ndarray:
        return as_array(x, name, shape=(self.dim,))

    def _check_value(self, value, what: str) -> float:
        try:
            v = number(value, f"{self.name}.{what}")
        except InvalidArgumentError:
            raise InvalidArgumentError(f"{self.name}.{what}: the objective returned {value!r:.60}, "
                                       "expected a real scalar") from None
        if not np.isfinite(v):
            raise NonFiniteError(f"{self.name}.{what}: non-finite objective value {v} at evaluation "
                                 f"#{self.count}")
        return v

    def _check_vector(self, g, what: str, counter: int) -> np.ndarray:
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        if g.shape != (self.dim,):
            raise InvalidArgumentError(f"{self.name}.{what}: returned shape {g.shape}, "
                                       f"expected ({self.dim},)")
        if not np.all(np.isfinite(g)):
            raise NonFiniteError(f"{self.name}.{what}: non-finite entries ({int(np.sum(~np.isfinite(g)))} of "
                                 f"{self.dim}) at evaluation #{counter}")
        return g

    # ------------------------------------------------------------------ public API
    def value(self, x, batch=None) -> float:
        """Objective value ``f(x)``.

        Parameters
        ----------
        x : array_like
            A point ``(dim,)``.
        batch : object, optional
            A minibatch from :meth:`sample_batch` (None: the full objective).

        Examples
        --------
        >>> import numpy as np
        >>> from olc.oracles import QuadraticOracle
        >>> f = QuadraticOracle(np.diag([2.0, 1.0]), np.array([1.0, 0.0]))
        >>> f.value(np.ones(2)), f.grad(np.ones(2)), f.hvp(np.ones(2), np.array([1.0, 1.0]))
        (2.5, array([3., 1.]), array([2., 1.]))
        """
        x = self._check_x(x)
        self.count += 1
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked just below
            val = self._value(x, batch)
        return self._check_value(val, "value")

    def value_and_grad(self, x, batch=None) -> tuple[float, np.ndarray]:
        """``(f(x), grad f(x))`` as ``(float, ndarray (dim,))``.

        Parameters
        ----------
        x : array_like
        batch : object, optional
        """
        x = self._check_x(x)
        self.count += 1
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked just below
            val, g = self._value_and_grad(x, batch)
        return self._check_value(val, "value_and_grad"), self._check_vector(g, "grad", self.count)

    def grad(self, x, batch=None) -> np.ndarray:
        """Gradient ``grad f(x)``, an ndarray of shape ``(dim,)``.

        Parameters
        ----------
        x : array_like
        batch : object, optional
        """
        return self.value_and_grad(x, batch)[1]

    def hvp(self, x, v, batch=None) -> np.ndarray:
        """Hessian-vector product ``grad^2 f(x) v`` (raises :class:`FeedbackError` without ``has_hvp``).

        Parameters
        ----------
        x, v : array_like
        batch : object, optional
        """
        x = self._check_x(x)
        v = as_array(v, "v", shape=(self.dim,))
        if not self.has_hvp:
            raise FeedbackError(f"{self.name}: Hessian-vector products are not available (has_hvp is False)")
        self.hvp_count += 1
        return self._check_vector(self._hvp(x, v, batch), "hvp", self.hvp_count)

    def hvp_batch(self, x, V, batch=None) -> np.ndarray:
        """Hessian-vector products of many vectors at once: row ``i`` is ``grad^2 f(x_i) V[i]``.

        Counts ``k`` products in ``hvp_count``. Subclasses may override ``_hvp_batch`` with a vectorised version
        (:class:`~olc.oracles.TorchOracle` uses ``torch.func.vmap``); the default loops over ``_hvp``. A non-finite
        product raises :class:`~olc.errors.NonFiniteError` naming the row.

        Parameters
        ----------
        x : array_like
            One point ``(dim,)`` shared by every row, or one point per row ``(k, dim)``.
        V : array_like
            ``(k, dim)``.
        batch : object, optional
        """
        V = as_array(V, "V", shape=(None, self.dim))
        x = as_array(x, "x", ndim=(1, 2))
        if x.shape != (self.dim,) and x.shape != V.shape:
            raise ShapeError(f"x: expected shape ({self.dim},) or {V.shape} (one point per row of V), "
                             f"got shape {x.shape}")
        if not self.has_hvp:
            raise FeedbackError(f"{self.name}: Hessian-vector products are not available (has_hvp is False)")
        return self._hvp_rows(V, lambda: self._hvp_batch(x, V, batch), "hvp_batch")

    def hvp_at(self, x, batch=None):
        """The Hessian ``grad^2 f(x)`` at one point as a reusable map.

        ``H = oracle.hvp_at(x)``, then ``H(V)`` equals ``oracle.hvp_batch(x, V)`` for every ``(k, dim)``
        block ``V``. Subclasses may do the work shared by all vectors once (:class:`~olc.oracles.TorchOracle`
        keeps the autograd graph of the gradient at ``x``: each product is then one backward pass,
        several times cheaper than a fresh product). Counting and checks as :meth:`hvp_batch`.

        Parameters
        ----------
        x : array_like
        batch : object, optional
        """
        x = self._check_x(x)
        if not self.has_hvp:
            raise FeedbackError(f"{self.name}: Hessian-vector products are not available (has_hvp is False)")
        fn = self._hvp_at(x, batch)

        def apply(V) -> np.ndarray:
            V = as_array(V, "V", shape=(None, self.dim))
            return self._hvp_rows(V, lambda: fn(V), "hvp_at")

        return apply

    def _hvp_rows(self, V, compute, what) -> np.ndarray:
        self.hvp_count += V.shape[0]
        if V.shape[0] == 0:
            return np.zeros((0, self.dim))
        out = np.asarray(compute(), dtype=np.float64)
        if out.shape != V.shape:
            raise InvalidArgumentError(f"{self.name}.{what}: returned shape {out.shape}, expected {V.shape}")
        if not np.all(np.isfinite(out)):
            row = int(np.argmax(~np.all(np.isfinite(out), axis=1)))
            raise NonFiniteError(f"{self.name}.{what}: non-finite Hessian-vector product in row {row} of "
                                 f"{V.shape[0]} (hvp evaluation #{self.hvp_count})")
        return out

    def _hvp_batch(self, x: np.ndarray, V: np.ndarray, batch) -> np.ndarray:
        xs = (x,) * V.shape[0] if x.ndim == 1 else x
        return np.stack([np.asarray(self._hvp(xi, v, batch), dtype=np.float64) for xi, v in zip(xs, V)])

    def _hvp_at(self, x: np.ndarray, batch):
        return lambda V: self._hvp_batch(x, V, batch)

    def hessian(self, x, batch=None) -> np.ndarray:
        """Full Hessian ``grad^2 f(x)`` as a ``(dim, dim)`` array (closed form or ``dim`` HVPs).

        Raises :class:`~olc.errors.ResourceError` before allocating when the ``dim × dim`` array
        (twice, while it is assembled) does not fit in memory.

        Parameters
        ----------
        x : array_like
        batch : object, optional
        """
        check_alloc(2 * 8.0 * self.dim ** 2, f"{self.name}.hessian (dim={self.dim}): the dense Hessian",
                    "use Hessian-vector products (hvp / hvp_batch) instead")
        x = self._check_x(x)
        H = np.asarray(self._hessian(x, batch), dtype=np.float64)
        if H.shape != (self.dim, self.dim):
            raise InvalidArgumentError(f"{self.name}.hessian: returned shape {H.shape}, "
                                       f"expected ({self.dim}, {self.dim})")
        if not np.all(np.isfinite(H)):
            raise NonFiniteError(f"{self.name}.hessian: non-finite entries")
        return H

    def __call__(self, x, batch=None) -> float:
        return self.value(x, batch)

    def freeze(self, rng_or_seed=None) -> GradientOracle:
        """An oracle with one minibatch drawn now and fixed forever.

        This is the deterministic setting of ``nonconvex-meta-optimization`` Sec. 5 / App. E.1
        (training "on a fixed batch"). A deterministic oracle is returned unchanged.

        Parameters
        ----------
        rng_or_seed : int or numpy.random.Generator, optional
        """
        batch = self.sample_batch(as_rng(rng_or_seed))
        if batch is None:
            return self
        return FrozenOracle(self, batch)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"


class FrozenOracle(GradientOracle):
    """``base`` restricted to one fixed minibatch ``batch`` (see :meth:`GradientOracle.freeze`).

    The frozen oracle is deterministic: ``sample_batch`` returns ``None`` and passing any
    other ``batch`` than ``None`` raises :class:`~olc.errors.InvalidArgumentError`.

    Parameters
    ----------
    base : GradientOracle
    batch : object
    """

    def __init__(self, base: GradientOracle, batch):
        if not isinstance(base, GradientOracle):
            raise InvalidArgumentError(f"base: expected a GradientOracle, got {type(base).__name__}")
        super().__init__(base.dim, name=f"{base.name}[frozen]")
        self.base = base
        self.batch = batch
        self.has_hvp = base.has_hvp
        self.hessian_is_constant = base.hessian_is_constant

    def _fixed(self, batch):
        if batch is not None:
            raise InvalidArgumentError(f"batch: {self.name} has a fixed minibatch; pass batch=None, "
                                       f"got {batch!r}")
        return self.batch

    def _value(self, x, batch):
        return self.base._value(x, self._fixed(batch))

    def _value_and_grad(self, x, batch):
        return self.base._value_and_grad(x, self._fixed(batch))

    def _hvp(self, x, v, batch):
        return self.base._hvp(x, v, self._fixed(batch))

    def _hvp_batch(self, x, V, batch):
        return self.base._hvp_batch(x, V, self._fixed(batch))

    def _hvp_at(self, x, batch):
        return self.base._hvp_at(x, self._fixed(batch))

    def _hessian(self, x, batch):
        return self.base._hessian(x, self._fixed(batch))


class FunctionOracle(GradientOracle):
    """An objective given as a callable.

    The checks and counts of :class:`GradientOracle` apply, so ``olc.games.optimization(FunctionOracle(...),
    T, x0)`` plays any such objective: a fixed function, or a meta-objective whose "gradient" is an
    averaged meta-gradient (:func:`olc.games.meta_training`, ``MetaMD.meta_train``).

    Parameters
    ----------
    dim : int
    fun : callable
        ``fun(x) -> (value, grad)``, or ``fun(x, batch)`` with a sampler.
    sample : callable, optional
        ``sample(rng) -> batch`` draws the minibatch of a round from the game's generator — any
        object, e.g. the tasks a meta-training step averages over — and makes the oracle stochastic.
    name : str, optional
    """

    def __init__(self, dim: int, fun, sample=None, *, name: str | None = None):
        if not callable(fun):
            raise InvalidArgumentError(f"fun: expected a callable x -> (value, grad), got {fun!r}")
        if sample is not None and not callable(sample):
            raise InvalidArgumentError(f"sample: expected None or a callable rng -> batch, got {sample!r}")
        super().__init__(dim, name=name)
        self.fun, self.sample = fun, sample

    @property
    def stochastic(self) -> bool:
        return self.sample is not None

    def sample_batch(self, rng):
        return None if self.sample is None else self.sample(rng)

    def _value_and_grad(self, x, batch):
        out = self.fun(x) if self.sample is None else self.fun(x, batch)
        try:
            value, grad = out
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"{self.name}: fun must return a pair (value, grad)") from None
        return value, grad
