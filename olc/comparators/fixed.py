"""Best fixed decision in hindsight, ``min_{x∈K} Σ_t f_t(x)``.

How :meth:`BestFixed.best_cumulative` computes the comparator curve (``anytime`` = the best in hindsight for
*every prefix*, otherwise the running loss of the single decision that is best for the *whole horizon*):

=====================  ==================================================================  =========
losses                 method                                                              anytime
=====================  ==================================================================  =========
linear                 closed form ``min_{x∈K}<Σg, x>`` (``K.min_linear``) on every        yes
                       prefix: ball ``-r||G||``, box, simplex ``min_i G_i``, matrix
                       balls (Frobenius / nuclear norm)
quadratic              closed form ``x* = -(ΣA)^{-1}Σb`` on every prefix when all          yes
                       minimisers lie in ``K`` (or ``K`` is the whole space); otherwise
                       the constrained solve below on the whole horizon                    no
other convex           scipy: L-BFGS-B (whole space, box), SLSQP (ball, simplex);          no
                       projected gradient with the set's own projection for other sets
=====================  ==================================================================  =========

Solver tolerance: the returned decision is feasible (it is projected onto ``K``) and its total loss is within
``tol`` (relative, default ``1e-9``) of the solver's optimum; the tests check it is never beaten by any of
thousands of random feasible points. Losses with memory are compared with ``f̃_t(x) = f_t(x, ..., x)`` (the
unary restriction), as in ``nonconvex-meta-optimization`` Thm. 5.
"""

from __future__ import annotations

import numpy as np

from .. import losses as L
from .. import sets as S
from .._validate import positive
from ..errors import InvalidArgumentError

__all__ = ["BestFixed", "minimize_over_set"]


class BestFixed:
    """Comparator class: every fixed decision of the set ``K``; after :meth:`best_cumulative`, ``self.point``
    holds the whole-horizon minimiser and ``self.was_anytime`` says which curve was returned.

    Parameters
    ----------
    K : olc.sets.ConvexSet
    tol : float
        Relative solver tolerance (module docstring).
    anytime : bool or None
        None: the prefix-wise closed form where one exists (module table); False: the whole-horizon optimum.

    Examples
    --------
    >>> import numpy as np, olc
    >>> G = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # linear losses <g_t, x> on the unit ball
    >>> trace = olc.play(olc.learners.OGD(olc.sets.Ball(1.0), lr=0.5), olc.games.linear(G))
    >>> best = BestFixed(olc.sets.Ball(1.0)).best_cumulative(trace)
    >>> bool(np.isclose(best[-1], -np.linalg.norm(G.sum(axis=0))))  # min over the ball: -||sum_t g_t||
    True
    >>> trace.regret(BestFixed(olc.sets.Ball(1.0)))
    array([1.    , 2.2361, 2.2639])
    """

    def __init__(self, K: S.ConvexSet, tol: float = 1e-9, anytime: bool | None = None):
        self.K = S.check_set(K)
        self.tol = positive(tol, "tol")
        if anytime not in (None, True, False):
            raise InvalidArgumentError(f"anytime: expected None, True or False, got {anytime!r}")
        self.anytime = anytime
        self.point = None
        self.was_anytime = None

    def _sequence(self, trace_or_losses):
        seq = getattr(trace_or_losses, "sequence", trace_or_losses)
        if seq is None:
            raise InvalidArgumentError("trace: it holds no loss sequence (the environment did not record one)")
        if isinstance(seq, L.WithMemory):
            seq = seq.unary()
        if not isinstance(seq, L.Loss) or not seq.batched:
            raise InvalidArgumentError(f"trace: expected a loss sequence, got {type(seq).__name__}")
        return seq

    def best_cumulative(self, trace) -> np.ndarray:
        """Comparator curve for :meth:`olc.Trace.regret` of ``trace`` (or of a loss sequence; module docstring).

        Parameters
        ----------
        trace : olc.Trace or olc.losses.Loss
        """
        seq = self._sequence(trace)
        allow = self.anytime is not False
        if isinstance(seq, L.Linear):
            cum = np.cumsum(seq.g, axis=0)
            self.point = self.K.argmin_linear(cum[-1]) if not isinstance(self.K, S.Reals) else None
            self.was_anytime = allow
            if allow:
                return self.K.min_linear(cum)
            return np.cumsum(seq.value(self.point))
        if isinstance(seq, L.Quadratic) and allow:
            out = self._quadratic_anytime(seq)
            if out is not None:
                self.was_anytime = True
                return out
        x = self.best_point(seq)
        self.was_anytime = False
        return np.cumsum(seq.value(x))

    def _quadratic_anytime(self, seq: L.Quadratic):
        cumA, cumb, cumc = seq.prefix_sums()
        try:
            xs = -np.linalg.solve(cumA, cumb[..., None])[..., 0]
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(xs)) or not np.all(self.K.contains(xs, tol=1e-12)):
            return None
        self.point = xs[-1]
        return 0.5 * np.einsum("ti,ti->t", cumb, xs) + cumc  # value at the minimiser: c - ½ bᵀA⁻¹b

    def best_point(self, trace_or_losses) -> np.ndarray:
        """The whole-horizon minimiser ``argmin_{x∈K} Σ_t f_t(x)`` of the losses of ``trace_or_losses``.

        Parameters
        ----------
        trace_or_losses : olc.Trace or olc.losses.Loss
        """
        seq = self._sequence(trace_or_losses)
        shape = _shape_of(seq)
        if isinstance(seq, L.Linear):
            return self.K.argmin_linear(np.sum(seq.g, axis=0))
        self.point = minimize_over_set(seq.total, seq.total_grad, self.K, shape, tol=self.tol)
        return self.point


def _shape_of(seq):
    if isinstance(seq, L.Linear):
        return tuple(seq.point_shape)
    if hasattr(seq, "dim"):
        return (seq.dim,)
    first = seq[0]
    if hasattr(first, "dim"):
        return (first.dim,)
    raise InvalidArgumentError("losses: cannot infer the decision shape; use a family with known dimension")


def minimize_over_set(fun, grad, K: S.ConvexSet, shape, tol: float = 1e-9, x0=None) -> np.ndarray:
    """Minimise a smooth convex ``fun`` (gradient ``grad``) over ``K`` from ``x0`` (module docstring: solvers).

    Parameters
    ----------
    fun, grad : callable
    K : olc.sets.ConvexSet
    shape : tuple of int
    tol : float
    x0 : array_like, optional
        Start (default ``K.center``).
    """
    from scipy import optimize

    shape = tuple(shape)
    n = int(np.prod(shape))
    start = K.center(shape) if x0 is None else K.project(np.asarray(x0, float).reshape(shape))
    f = lambda z: float(fun(z.reshape(shape)))  # noqa: E731
    g = lambda z: np.asarray(grad(z.reshape(shape)), float).ravel()  # noqa: E731
    opts = {"maxiter": 10_000}
    if isinstance(K, S.Reals) or (isinstance(K, S.Box) and K.item_ndim == 1):
        bounds = None
        if isinstance(K, S.Box):
            lo, hi = np.broadcast_to(K.lo, shape).ravel(), np.broadcast_to(K.hi, shape).ravel()
            bounds = list(zip(lo, hi))
        res = optimize.minimize(f, start.ravel(), jac=g, method="L-BFGS-B", bounds=bounds,
                                options={**opts, "ftol": 1e-15, "gtol": 1e-12})
        x = res.x
    elif isinstance(K, (S.Ball, S.Simplex)):
        if isinstance(K, S.Ball):
            cons = [{"type": "ineq", "fun": lambda z: K.radius ** 2 - z @ z, "jac": lambda z: -2 * z}]
            bounds = None
        else:
            cons = [{"type": "eq", "fun": lambda z: z.sum() - K.scale, "jac": lambda z: np.ones_like(z)}]
            bounds = [(0.0, None)] * n
        res = optimize.minimize(f, start.ravel(), jac=g, method="SLSQP", constraints=cons, bounds=bounds,
                                options={**opts, "ftol": 1e-14})
        x = res.x
    else:
        x = _projected_gradient(f, g, lambda z: K.project(z.reshape(shape)).ravel(), start.ravel(), tol)
    x = K.project(np.asarray(x).reshape(shape))
    # polish with a few projected-gradient steps (keeps feasibility, never increases the loss much)
    x = _projected_gradient(f, g, lambda z: K.project(z.reshape(shape)).ravel(), x.ravel(), tol,
                            max_iter=200).reshape(shape)
    return x


def _projected_gradient(f, g, proj, x, tol, max_iter=20_000):
    """Accelerated projected gradient (FISTA) with backtracking; stops on relative decrease < tol."""
    y, x_prev, tk, Lk = x.copy(), x.copy(), 1.0, 1.0
    fx = f(x)
    for _ in range(max_iter):
        gy, fy = g(y), f(y)
        while True:
            z = proj(y - gy / Lk)
            diff = z - y
            if f(z) <= fy + gy @ diff + 0.5 * Lk * diff @ diff + 1e-15 * abs(fy):
                break
            Lk *= 2.0
        fz = f(z)
        if fz > fx:  # restart momentum on non-monotone steps
            tk, y = 1.0, x.copy()
            continue
        t_next = 0.5 * (1 + np.sqrt(1 + 4 * tk * tk))
        y = z + ((tk - 1) / t_next) * (z - x_prev)
        done = abs(fx - fz) <= tol * max(1.0, abs(fz)) and np.linalg.norm(z - x_prev) <= 1e-10 * max(1.0, np.linalg.norm(z))
        x_prev, x, fx, tk = z, z, fz, t_next
        if done:
            break
    return x
