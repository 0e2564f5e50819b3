"""Synthetic gradient oracles with closed-form values, gradients, Hessians and HVPs.

These are the test problems of the meta-optimization papers: quadratics (where the optimization LTV of
``nonconvex-meta-optimization`` App. B, eq. (1), has the exact matrix ``H_t = A``), least squares and logistic
regression on a dataset (finite sums ``f = (1/n) sum_j f_j`` with minibatches, Sec. 2), the l2-regularised objective
of Alg. 2, and an average of arbitrary component oracles.

Batches of the data oracles are sorted index arrays into the rows of ``X`` (drawn with
:func:`~olc.oracles.base.sample_indices`); ``batch=None`` means the whole dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validate import as_array, check_square, nonnegative, positive_int
from ..errors import InvalidArgumentError, ShapeError
from .base import GradientOracle, sample_indices

__all__ = ["QuadraticOracle", "LeastSquaresOracle", "LogisticOracle", "RegularizedOracle", "FiniteSumOracle"]


def _check_batch(batch, n: int, name: str):
    """Validate an index minibatch into ``range(n)``; ``None`` selects everything."""
    if batch is None:
        return slice(None)
    idx = np.asarray(batch)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise InvalidArgumentError(f"batch: {name} expects a non-empty 1-D integer index array or None, "
                                   f"got {type(batch).__name__} of shape {getattr(idx, 'shape', None)}")
    if idx.min() < 0 or idx.max() >= n:
        raise InvalidArgumentError(f"batch: indices must lie in [0, {n}), "
                                   f"got range [{idx.min()}, {idx.max()}]")
    return idx


def _batch_size(batch_size, n: int) -> int | None:
    return None if batch_size is None else positive_int(batch_size, "batch_size")


class QuadraticOracle(GradientOracle):
    """``f(x) = ½ xᵀAx + bᵀx + c`` (deterministic; exact gradient, HVP and Hessian).

    ``A`` need not be symmetric; the gradient is ``½(A + Aᵀ)x + b`` and the Hessian the symmetric part ``½(A + Aᵀ)``.
    On this oracle the mean-value matrix of ``nonconvex-meta-optimization`` App. B eq. (1) is exactly that Hessian.

    Parameters
    ----------
    A : array_like
        ``(dim, dim)``.
    b : array_like, optional
        Zero by default.
    c : float
    name : str, optional
        Shown in ``repr`` and error messages.
    """

    has_hvp = True
    hessian_is_constant = True

    def __init__(self, A, b=None, c: float = 0.0, *, name: str | None = None):
        A = check_square(A, "A")
        n = A.shape[0]
        super().__init__(n, name=name)
        self.A = A
        self.H = 0.5 * (A + A.T)
        self.b = np.zeros(n) if b is None else as_array(b, "b", shape=(n,))
        self.c = float(as_array(c, "c", shape=()))

    def _check_nobatch(self, batch):
        if batch is not None:
            raise InvalidArgumentError(f"batch: {self.name} is deterministic; pass batch=None, got {batch!r}")

    def _value(self, x, batch):
        self._check_nobatch(batch)
        return 0.5 * x @ (self.A @ x) + self.b @ x + self.c

    def _value_and_grad(self, x, batch):
        self._check_nobatch(batch)
        Hx = self.H @ x
        return 0.5 * x @ Hx + self.b @ x + self.c, Hx + self.b

    def _hvp(self, x, v, batch):
        self._check_nobatch(batch)
        return self.H @ v

    def _hessian(self, x, batch):
        self._check_nobatch(batch)
        return self.H.copy()

    def minimizer(self) -> np.ndarray:
        """``x* = -H⁻¹b`` (least-squares solution when ``H`` is singular)."""
        return np.linalg.lstsq(self.H, -self.b, rcond=None)[0]


class _DataOracle(GradientOracle):
    """Common part of oracles over a dataset ``(X, y)`` with index minibatches."""

    def __init__(self, X, y, batch_size, *, name=None):
        X = as_array(X, "X", ndim=2)
        y = as_array(y, "y", ndim=1)
        if y.shape[0] != X.shape[0]:
            raise ShapeError(f"y: expected shape ({X.shape[0]},) to match X's {X.shape[0]} rows, "
                             f"got {y.shape}")
        if X.shape[0] == 0:
            raise InvalidArgumentError("X: expected at least one row (sample)")
        super().__init__(X.shape[1], name=name)
        self.X, self.y = X, y
        self.n_samples = X.shape[0]
        self.batch_size = _batch_size(batch_size, self.n_samples)

    @property
    def stochastic(self) -> bool:
        return self.batch_size is not None and self.batch_size < self.n_samples

    def sample_batch(self, rng):
        """A sorted array of ``batch_size`` distinct row indices (``None`` when full-batch)."""
        return sample_indices(rng, self.n_samples, self.batch_size)

    def _rows(self, batch):
        idx = _check_batch(batch, self.n_samples, self.name)
        return self.X[idx], self.y[idx]


class LeastSquaresOracle(_DataOracle):
    """``f(x) = (1/2n) ‖Xx − y‖²`` over the rows of a minibatch (all rows when ``batch=None``).

    Parameters
    ----------
    X, y : array_like
        ``(n, dim)`` and ``(n,)``.
    batch_size : int, optional
        Rows per minibatch (None: deterministic, full batch).
    name : str, optional
        Shown in ``repr`` and error messages.
    """

    has_hvp = True
    hessian_is_constant = True

    def __init__(self, X, y, batch_size: int | None = None, *, name: str | None = None):
        super().__init__(X, y, batch_size, name=name)

    def _value(self, x, batch):
        Xb, yb = self._rows(batch)
        r = Xb @ x - yb
        return 0.5 * (r @ r) / len(yb)

    def _value_and_grad(self, x, batch):
        Xb, yb = self._rows(batch)
        r = Xb @ x - yb
        return 0.5 * (r @ r) / len(yb), Xb.T @ r / len(yb)

    def _hvp(self, x, v, batch):
        Xb, _ = self._rows(batch)
        return Xb.T @ (Xb @ v) / Xb.shape[0]

    def _hessian(self, x, batch):
        Xb, _ = self._rows(batch)
        return Xb.T @ Xb / Xb.shape[0]


def _log_sigmoid(m):
    """``log σ(m) = −log(1 + e^{−m})``, stable for large |m|."""
    return -np.logaddexp(0.0, -m)


def _sigmoid(m):
    from scipy.special import expit

    return expit(m)


class LogisticOracle(_DataOracle):
    """Logistic regression ``f(x) = (1/n) Σ log(1 + exp(−s_j x_jᵀx)) + (l2/2)‖x‖²``.

    Evaluation uses ``logaddexp``/``expit``, so it stays finite for any margin. Note the ½ on the
    ridge term (unlike :class:`RegularizedOracle`, which follows the paper's ``β‖x − x_k‖²``).

    Parameters
    ----------
    X : array_like
        ``(n, dim)``.
    y : array_like
        Labels in ``{0, 1}`` (then ``s = 2y − 1``; this is exactly PyTorch's ``BCEWithLogitsLoss`` on
        logits ``Xx``) or in ``{−1, +1}`` (``s = y``).
    l2 : float
    batch_size : int, optional
    name : str, optional
        Shown in ``repr`` and error messages.
    """

    has_hvp = True

    def __init__(self, X, y, l2: float = 0.0, batch_size: int | None = None, *, name: str | None = None):
        super().__init__(X, y, batch_size, name=name)
        labels = set(np.unique(self.y).tolist())
        if labels <= {0.0, 1.0}:
            self.s = 2.0 * self.y - 1.0
        elif labels <= {-1.0, 1.0}:
            self.s = self.y.copy()
        else:
            raise InvalidArgumentError(f"y: expected labels in {{0, 1}} or {{-1, +1}}, "
                                       f"got values {sorted(labels)[:6]}")
        self.l2 = nonnegative(l2, "l2")

    def _margins(self, x, batch):
        idx = _check_batch(batch, self.n_samples, self.name)
        Xb, sb = self.X[idx], self.s[idx]
        return Xb, sb, sb * (Xb @ x)

    def _value(self, x, batch):
        _, _, m = self._margins(x, batch)
        return -np.mean(_log_sigmoid(m)) + 0.5 * self.l2 * (x @ x)

    def _value_and_grad(self, x, batch):
        Xb, sb, m = self._margins(x, batch)
        val = -np.mean(_log_sigmoid(m)) + 0.5 * self.l2 * (x @ x)
        coef = -sb * _sigmoid(-m) / len(m)
        return val, Xb.T @ coef + self.l2 * x

    def _curvature(self, x, batch):
        Xb, _, m = self._margins(x, batch)
        p = _sigmoid(m)
        return Xb, p * (1.0 - p) / len(m)

    def _hvp(self, x, v, batch):
        Xb, d = self._curvature(x, batch)
        return Xb.T @ (d * (Xb @ v)) + self.l2 * v

    def _hessian(self, x, batch):
        Xb, d = self._curvature(x, batch)
        return (Xb.T * d) @ Xb + self.l2 * np.eye(self.dim)


class RegularizedOracle(GradientOracle):
    """``f(x) + β‖x − x_k‖²``: the regularised objective of ``nonconvex-meta-optimization`` Alg. 2.

    Following the paper (Alg. 2, App. B: ``H = (1/b)Σ∇²f_{i,j} + 2β``) there is **no ½** on
    the penalty: the gradient adds ``2β(x − x_k)`` and the Hessian ``2βI``. Minibatches are
    those of ``base``. :meth:`recentered` gives the objective of the next epoch ``k + 1``.

    Parameters
    ----------
    base : GradientOracle
    beta : float
    center : array_like
        ``x_k``.
    name : str, optional
        Shown in ``repr`` and error messages.
    """

    def __init__(self, base: GradientOracle, beta: float, center, *, name: str | None = None):
        if not isinstance(base, GradientOracle):
            raise InvalidArgumentError(f"base: expected a GradientOracle, got {type(base).__name__}")
        super().__init__(base.dim, name=name or f"Regularized({base.name})")
        self.base = base
        self.beta = nonnegative(beta, "beta")
        self.center = as_array(center, "center", shape=(base.dim,), copy=True)
        self.has_hvp = base.has_hvp
        self.hessian_is_constant = base.hessian_is_constant

    @property
    def stochastic(self) -> bool:
        return self.base.stochastic

    def sample_batch(self, rng):
        return self.base.sample_batch(rng)

    def recentered(self, center) -> RegularizedOracle:
        """The same objective regularised around a new ``center`` (Alg. 2's ``x_{i,k+1}``).

        Parameters
        ----------
        center : array_like
        """
        return RegularizedOracle(self.base, self.beta, center, name=self.name)

    def _value(self, x, batch):
        d = x - self.center
        return self.base._value(x, batch) + self.beta * (d @ d)

    def _value_and_grad(self, x, batch):
        d = x - self.center
        val, g = self.base._value_and_grad(x, batch)
        return val + self.beta * (d @ d), np.asarray(g, dtype=np.float64) + 2.0 * self.beta * d

    def _hvp(self, x, v, batch):
        return np.asarray(self.base._hvp(x, v, batch), dtype=np.float64) + 2.0 * self.beta * v

    def _hessian(self, x, batch):
        return np.asarray(self.base._hessian(x, batch), dtype=np.float64) + 2.0 * self.beta * np.eye(self.dim)


class FiniteSumOracle(GradientOracle):
    """``f(x) = (1/m) Σ_j f_j(x)`` over component oracles; a minibatch is a set of components.

    This is the finite-sum setting of ``nonconvex-meta-optimization`` Sec. 2:
    ``f_{i,t} = (1/b) Σ_{j ∈ B_{i,t}} f_{i,j}`` with ``b = batch_size`` components drawn
    without replacement. Components are evaluated on their full objective (``batch=None``).

    Parameters
    ----------
    oracles : sequence of GradientOracle
    batch_size : int, optional
    name : str, optional
        Shown in ``repr`` and error messages.
    """

    def __init__(self, oracles: Sequence[GradientOracle], batch_size: int | None = None, *,
                 name: str | None = None):
        oracles = list(oracles)
        if not oracles:
            raise InvalidArgumentError("oracles: expected a non-empty list of GradientOracle")
        for j, o in enumerate(oracles):
            if not isinstance(o, GradientOracle):
                raise InvalidArgumentError(f"oracles[{j}]: expected a GradientOracle, got {type(o).__name__}")
            if o.dim != oracles[0].dim:
                raise ShapeError(f"oracles[{j}]: dim {o.dim} differs from oracles[0].dim = {oracles[0].dim}")
        super().__init__(oracles[0].dim, name=name)
        self.oracles = oracles
        self.batch_size = _batch_size(batch_size, len(oracles))
        self.has_hvp = all(o.has_hvp for o in oracles)
        self.hessian_is_constant = all(o.hessian_is_constant for o in oracles)

    @property
    def stochastic(self) -> bool:
        return self.batch_size is not None and self.batch_size < len(self.oracles)

    def sample_batch(self, rng):
        """A sorted array of ``batch_size`` distinct component indices (``None`` when full).

        Parameters
        ----------
        rng : numpy.random.Generator
        """
        return sample_indices(rng, len(self.oracles), self.batch_size)

    def _components(self, batch):
        idx = _check_batch(batch, len(self.oracles), self.name)
        return self.oracles[idx] if isinstance(idx, slice) else [self.oracles[j] for j in idx]

    def _value(self, x, batch):
        comps = self._components(batch)
        return sum(o._value(x, None) for o in comps) / len(comps)

    def _value_and_grad(self, x, batch):
        comps = self._components(batch)
        val, g = 0.0, np.zeros(self.dim)
        for o in comps:
            v, gj = o._value_and_grad(x, None)
            val += v
            g += gj
        return val / len(comps), g / len(comps)

    def _hvp(self, x, v, batch):
        comps = self._components(batch)
        return sum(np.asarray(o._hvp(x, v, None), dtype=np.float64) for o in comps) / len(comps)

    def _hessian(self, x, batch):
        comps = self._components(batch)
        return sum(np.asarray(o._hessian(x, None), dtype=np.float64) for o in comps) / len(comps)
