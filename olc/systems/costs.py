"""Stage costs ``c(x, u)`` for control problems.

* :class:`QuadraticCost` — ``c(x, u) = x^T Q x + u^T R u`` with **no 1/2 factor**, so ``grad = (2 Q x, 2 R u)`` and
  ``hessian = (2 Q, 2 R)``. This is the LQR / GPC cost of the non-stochastic control literature
  (``nonconvex-meta-optimization`` §3 uses convex costs of this kind on the optimization LTV).
* :class:`ConvexCost` — any convex ``value_fn(x, u)`` with ``grad_fn(x, u) -> (gx, gu)``.

Both evaluate a single pair (``x`` (d,), ``u`` (m,)) → float, or stacked trajectories
(``X`` (T, d), ``U`` (T, m)) → array (T,). Calling the object is the same as ``value``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._validate import as_array, check_psd, real
from ..errors import InvalidArgumentError, NonFiniteError, ShapeError

__all__ = ["QuadraticCost", "ConvexCost"]


def _pair(x, u, d: int | None, m: int | None):
    """Validate ``x``/``u`` as one pair (1-D) or stacked (2-D, same length)."""
    x = as_array(x, "x", ndim=(1, 2))
    u = as_array(u, "u", ndim=(1, 2))
    if x.ndim != u.ndim or (x.ndim == 2 and x.shape[0] != u.shape[0]):
        raise ShapeError(f"x, u: expected (d,), (m,) or stacked (T, d), (T, m); "
                         f"got shapes {x.shape}, {u.shape}")
    if d is not None and x.shape[-1] != d:
        raise ShapeError(f"x: expected last dimension {d} (state_dim), got shape {x.shape}")
    if m is not None and u.shape[-1] != m:
        raise ShapeError(f"u: expected last dimension {m} (control_dim), got shape {u.shape}")
    return x, u


def _check_overflow(v, who, x, u):
    """Finite ``x``, ``u`` (checked by :func:`_pair`) whose cost overflowed: report it, never return inf."""
    if not np.all(np.isfinite(v)):
        raise NonFiniteError(f"{who}: overflowed to inf at finite x, u (max |x| = {np.max(np.abs(x)):.3g}, "
                             f"max |u| = {np.max(np.abs(u)) if u.size else 0.0:.3g}); rescale the problem")


class QuadraticCost:
    """``c(x, u) = x^T Q x + u^T R u`` (no 1/2 factor).

    Parameters
    ----------
    Q, R : array_like
        (d, d) symmetric positive semidefinite and (m, m) symmetric positive definite (checked with
        :func:`olc._validate.check_psd`).
    """

    def __init__(self, Q, R):
        self.Q = check_psd(Q, "Q")
        self.R = check_psd(R, "R", strict=True)
        self.Q.setflags(write=False)
        self.R.setflags(write=False)
        self.state_dim = self.Q.shape[0]
        self.control_dim = self.R.shape[0]

    def value(self, x, u):
        """``x^T Q x + u^T R u``: a float for one pair, an array (T,) for stacked (T, d), (T, m).

        Parameters
        ----------
        x, u : array_like
        """
        x, u = _pair(x, u, self.state_dim, self.control_dim)
        with np.errstate(over="ignore", invalid="ignore"):
            val = np.einsum("...i,ij,...j->...", x, self.Q, x) + np.einsum("...i,ij,...j->...", u, self.R, u)
        _check_overflow(val, "QuadraticCost.value", x, u)
        return float(val) if x.ndim == 1 else val

    __call__ = value

    def grad(self, x, u):
        """``(2 Q x, 2 R u)`` (row-wise for stacked inputs).

        Parameters
        ----------
        x, u : array_like
        """
        x, u = _pair(x, u, self.state_dim, self.control_dim)
        with np.errstate(over="ignore", invalid="ignore"):
            gx, gu = 2.0 * x @ self.Q, 2.0 * u @ self.R       # Q, R symmetric: x Q = (Q x)^T
        _check_overflow(gx, "QuadraticCost.grad", x, u)
        _check_overflow(gu, "QuadraticCost.grad", x, u)
        return gx, gu

    def hessian(self):
        """``(2 Q, 2 R)``: the Hessian blocks in ``x`` and in ``u`` (the cross block is zero)."""
        return 2.0 * self.Q, 2.0 * self.R

    def __repr__(self) -> str:
        return f"QuadraticCost(state_dim={self.state_dim}, control_dim={self.control_dim})"


class ConvexCost:
    """A general convex stage cost from callables.

    Convexity is the caller's promise (it is what the GPC regret bounds need); outputs are checked
    to be finite and, for the gradient, to have the shapes of ``x`` and ``u``.

    Parameters
    ----------
    value_fn, grad_fn : callable
        ``(x, u) -> float`` and ``(x, u) -> (gx, gu)`` on one pair (``x`` (d,), ``u`` (m,));
        stacked inputs are evaluated row by row.
    state_dim, control_dim : int, optional
    """

    def __init__(self, value_fn: Callable, grad_fn: Callable, *, state_dim: int | None = None,
                 control_dim: int | None = None):
        if not callable(value_fn):
            raise InvalidArgumentError(f"value_fn: expected a callable (x, u) -> float, got {value_fn!r}")
        if not callable(grad_fn):
            raise InvalidArgumentError(f"grad_fn: expected a callable (x, u) -> (gx, gu), got {grad_fn!r}")
        self.value_fn, self.grad_fn = value_fn, grad_fn
        self.state_dim, self.control_dim = state_dim, control_dim

    def _value1(self, x, u) -> float:
        return real(self.value_fn(x, u), "value_fn(x, u)")

    def _grad1(self, x, u):
        out = self.grad_fn(x, u)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise InvalidArgumentError(f"grad_fn: expected a pair (gx, gu), returned {type(out).__name__}")
        gx = as_array(out[0], "grad_fn(...)[0] (gx)", shape=x.shape)
        gu = as_array(out[1], "grad_fn(...)[1] (gu)", shape=u.shape)
        return gx, gu

    def value(self, x, u):
        """``value_fn(x, u)``: a float for one pair, an array (T,) for stacked inputs.

        Parameters
        ----------
        x, u : array_like
        """
        x, u = _pair(x, u, self.state_dim, self.control_dim)
        if x.ndim == 1:
            return self._value1(x, u)
        return np.array([self._value1(xi, ui) for xi, ui in zip(x, u)])

    __call__ = value

    def grad(self, x, u):
        """``(gx, gu)``, stacked row-wise for stacked inputs.

        Parameters
        ----------
        x, u : array_like
        """
        x, u = _pair(x, u, self.state_dim, self.control_dim)
        if x.ndim == 1:
            return self._grad1(x, u)
        gs = [self._grad1(xi, ui) for xi, ui in zip(x, u)]
        return np.array([g[0] for g in gs]).reshape(x.shape), np.array([g[1] for g in gs]).reshape(u.shape)

    def __repr__(self) -> str:
        return f"ConvexCost({getattr(self.value_fn, '__name__', 'value_fn')})"
