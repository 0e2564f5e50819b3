"""Convex decision sets with exact Euclidean projections.

Every set offers

* ``project(x)`` — the exact Euclidean (Frobenius for matrices) projection; it accepts a
  leading batch of points (any number of leading axes) and projects each one;
* ``contains(x, tol)``;
* ``min_linear(G)`` — ``min_{x in K} <G, x>`` for a batch of linear costs ``G`` (the support
  function at ``-G``), used by the closed-form comparators, and ``argmin_linear(G)``;
* ``radius`` (``sup_{x in K} ||x||``), ``inradius`` (largest ``r`` with the ball ``rB``
  centred at 0 inside ``K``; 0 when ``K`` has no interior around 0) and ``diameter``;
* ``shrink(delta)`` — the Minkowski shrink ``K_delta = {x : x / (1 - delta) in K}`` used by the
  bandit learners (FKM; ``nonconvex-meta-optimization`` Alg. 6).

Projections are exact (closed form, or an exact finite algorithm: sort-based for the simplex, SVD for the
operator-norm ball), idempotent and non-expansive; the property tests in ``tests/test_sets.py`` check all three.
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import as_array, as_shape, check_alloc, in_range, positive, positive_int, scaled_norm
from .errors import InvalidArgumentError, ShapeError

__all__ = [
    "ConvexSet",
    "check_set",
    "Reals",
    "Ball",
    "Box",
    "Simplex",
    "FrobeniusBall",
    "OperatorBall",
    "Shrunk",
    "Product",
]


class ConvexSet:
    """Base class: a closed convex set of arrays whose trailing ``item_ndim`` axes are a point."""

    #: number of trailing axes that make up one point (1 for vectors, 2 for matrices)
    item_ndim: int = 1
    #: shape of one point, or None when any shape with ``item_ndim`` axes is accepted
    shape: tuple[int, ...] | None = None

    # --- to implement -------------------------------------------------------------------
    def project(self, x) -> np.ndarray:  # pragma: no cover - interface
        """The exact Euclidean (Frobenius) projection of ``x``, a point or a batch of points.

        Parameters
        ----------
        x : array_like
            Points in the trailing ``item_ndim`` axes, any leading batch axes.

        Examples
        --------
        >>> from olc.sets import Ball, Simplex
        >>> Ball(1.0).project([3.0, 4.0])
        array([0.6, 0.8])
        >>> Simplex(3).project([[1.0, 0.0, 0.0], [2.0, 1.0, 0.0]])
        array([[1., 0., 0.],
               [1., 0., 0.]])
        """
        raise NotImplementedError

    def min_linear(self, G) -> np.ndarray:  # pragma: no cover - interface
        """``min_{x in K} <G, x>`` (the support function at ``-G``) for each cost of a batch.

        Parameters
        ----------
        G : array_like
            Linear costs in the trailing ``item_ndim`` axes, any leading batch axes.
        """
        raise NotImplementedError

    def argmin_linear(self, G) -> np.ndarray:  # pragma: no cover - interface
        """A minimiser of ``<G, x>`` over the set for each cost of a batch.

        Parameters
        ----------
        G : array_like
        """
        raise NotImplementedError

    radius: float = np.inf
    inradius: float = 0.0

    # --- shared --------------------------------------------------------------------------
    @property
    def diameter(self) -> float:
        return 2.0 * self.radius

    def diameter_for(self, shape) -> float:
        """The diameter for decisions of ``shape`` (a tuple).

        Differs from :attr:`diameter` only for sets whose size grows with the dimension and that
        were built without one, e.g. ``Box(-1, 1)``.

        Parameters
        ----------
        shape : tuple of int
        """
        return self.diameter

    def _point(self, x, name: str = "x") -> np.ndarray:
        x = as_array(x, name)
        if x.ndim < self.item_ndim:
            raise ShapeError(f"{name}: {type(self).__name__} holds arrays with {self.item_ndim} axis/axes, "
                             f"got shape {x.shape}")
        if self.shape is not None and tuple(x.shape[x.ndim - self.item_ndim:]) != tuple(self.shape):
            raise ShapeError(f"{name}: {type(self).__name__} holds points of shape {self.shape}, got shape {x.shape}")
        return x

    def check_shape(self, shape) -> tuple[int, ...]:
        """Check a decision shape fits this set (and that a learner's few arrays of that shape fit in
        memory); return it as a tuple.

        Parameters
        ----------
        shape : int or tuple of int
        """
        shape = as_shape(shape)
        check_alloc(3 * 8 * math.prod(shape), f"shape: decisions of shape {shape} in "
                    f"{type(self).__name__} (a learner keeps the iterate, a gradient and a projection)")
        if len(shape) != self.item_ndim:
            raise ShapeError(f"shape: {type(self).__name__} holds points with {self.item_ndim} axis/axes, "
                             f"got decision shape {shape}")
        if self.shape is not None and shape != tuple(self.shape):
            raise ShapeError(f"shape: {type(self).__name__} holds points of shape {self.shape}, got {shape}")
        return shape

    def contains(self, x, tol: float = 1e-9) -> bool | np.ndarray:
        """Whether ``x`` lies in the set; batched over leading axes.

        Parameters
        ----------
        x : array_like
        tol : float
            Tolerance on the distance to the set.
        """
        x = self._point(x)
        axes = tuple(range(x.ndim - self.item_ndim, x.ndim))
        gap = np.sqrt(np.sum((self.project(x) - x) ** 2, axis=axes))
        return gap <= tol * max(1.0, self.radius if np.isfinite(self.radius) else 1.0)

    def center(self, shape) -> np.ndarray:
        """A point of the set used as default start: the projection of 0.

        Parameters
        ----------
        shape : tuple of int
        """
        return self.project(np.zeros(self.check_shape(shape)))

    def shrink(self, delta: float) -> Shrunk:
        """Minkowski shrink ``K_delta = {x : x/(1-delta) in K} = (1 - delta) K``.

        Parameters
        ----------
        delta : float
            In ``(0, 1)``.
        """
        return Shrunk(self, delta)

    def _sum_items(self, arr) -> np.ndarray:
        axes = tuple(range(arr.ndim - self.item_ndim, arr.ndim))
        return np.sum(arr, axis=axes)


def check_set(K, name: str = "K") -> ConvexSet:
    """``K`` if it is an olc set, else an :class:`InvalidArgumentError` naming ``name``.

    Parameters
    ----------
    K : ConvexSet
    name : str
    """
    if not isinstance(K, ConvexSet):
        raise InvalidArgumentError(f"{name}: expected an olc.sets set (Ball, Box, Simplex, ...), got {K!r:.80}")
    return K


class Reals(ConvexSet):
    """The whole space (no constraint). ``min_linear`` is ``-inf`` unless ``G == 0``.

    Parameters
    ----------
    item_ndim : int
        The number of trailing axes of one point.
    """

    def __init__(self, item_ndim: int = 1):
        self.item_ndim = positive_int(item_ndim, "item_ndim")

    radius = np.inf
    inradius = np.inf

    def project(self, x):
        return self._point(x).copy()

    def min_linear(self, G):
        G = self._point(G, "G")
        norm = np.sqrt(self._sum_items(G ** 2))
        return np.where(norm == 0, 0.0, -np.inf)

    def argmin_linear(self, G):
        raise InvalidArgumentError("G: a linear loss has no minimiser over the whole space (set Reals)")

    def __repr__(self):
        return "Reals()"


class Ball(ConvexSet):
    """Euclidean ball ``{x : ||x||_2 <= radius}`` centred at the origin.

    Projection = rescaling.

    Parameters
    ----------
    radius : float
    dim : int, optional
        The dimension of one point (any when None).
    item_ndim : int
        The number of trailing axes of one point (1: vectors; 2: matrices with the Frobenius norm,
        that is :class:`FrobeniusBall`).
    """

    def __init__(self, radius: float = 1.0, dim: int | None = None, *, item_ndim: int = 1):
        self.r = positive(radius, "radius")
        self.item_ndim = positive_int(item_ndim, "item_ndim")
        self.shape = None if dim is None else (positive_int(dim, "dim"),)

    @property
    def radius(self):
        return self.r

    @property
    def inradius(self):
        return self.r

    def _norm(self, x, keepdims=False):
        axes = tuple(range(-self.item_ndim, 0))
        with np.errstate(over="ignore"):
            n = np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdims))
        if np.all(np.isfinite(n)):
            return n
        return scaled_norm(x, axis=axes, keepdims=keepdims)  # x*x overflowed: the norm itself may be finite

    def project(self, x):
        x = self._point(x)
        return x * np.minimum(1.0, self.r / np.maximum(self._norm(x, keepdims=True), 1e-300))

    def min_linear(self, G):
        return -self.r * self._norm(self._point(G, "G"))

    def argmin_linear(self, G):
        G = self._point(G, "G")
        norm = self._norm(G, keepdims=True)
        return -self.r * G / np.where(norm > 0, norm, 1.0)

    def __repr__(self):
        return f"{type(self).__name__}(radius={self.r})"


class Box(ConvexSet):
    """Axis-aligned box ``{x : lo <= x <= hi}``.

    Parameters
    ----------
    lo, hi : float or array_like
        Bounds: scalars or arrays of the point shape.
    dim : int, optional
        The dimension of one point (any when None and the bounds are scalars).
    """

    def __init__(self, lo=-1.0, hi=1.0, dim: int | None = None):
        lo = as_array(lo, "lo", finite=False)
        hi = as_array(hi, "hi", finite=False)
        if np.any(np.isnan(lo)) or np.any(np.isnan(hi)):
            raise InvalidArgumentError("lo/hi: bounds must not be NaN")
        try:
            lo_b, hi_b = np.broadcast_arrays(lo, hi)
        except ValueError:
            raise ShapeError(f"lo, hi: shapes {lo.shape} and {hi.shape} do not broadcast") from None
        if np.any(lo_b > hi_b):
            i = np.argwhere(lo_b > hi_b)[0]
            raise InvalidArgumentError(f"lo, hi: the box is empty (lo > hi at index {tuple(int(k) for k in i)})")
        self.lo, self.hi = lo_b.copy(), hi_b.copy()
        if lo_b.ndim > 1:
            raise ShapeError(f"lo, hi: expected scalars or vectors, got shape {lo_b.shape}")
        if lo_b.ndim == 1:
            self.shape = (lo_b.shape[0],)
            if dim is not None and positive_int(dim, "dim") != lo_b.shape[0]:
                raise ShapeError(f"dim: {dim} does not match bounds of length {lo_b.shape[0]}")
        elif dim is not None:
            self.shape = (positive_int(dim, "dim"),)

    @property
    def radius(self):
        m = np.maximum(np.abs(self.lo), np.abs(self.hi))
        if self.shape is None:  # dimension unknown until a point is seen
            return np.inf
        return scaled_norm(np.broadcast_to(m, self.shape))

    @property
    def inradius(self):
        if np.any(self.lo > 0) or np.any(self.hi < 0):
            return 0.0
        return float(np.min(np.minimum(-self.lo, self.hi)))

    @property
    def diameter(self):
        return np.inf if self.shape is None else self.diameter_for(self.shape)

    def diameter_for(self, shape) -> float:
        with np.errstate(over="ignore"):  # hi - lo beyond the float range is an unbounded box here
            return scaled_norm(np.broadcast_to(self.hi - self.lo, tuple(shape)))

    def project(self, x):
        return np.clip(self._point(x), self.lo, self.hi)

    def min_linear(self, G):
        G = self._point(G, "G")
        with np.errstate(invalid="ignore"):
            per = np.minimum(G * self.lo, G * self.hi)
        per = np.where(G == 0, 0.0, per)
        return np.sum(per, axis=-1)

    def argmin_linear(self, G):
        G = self._point(G, "G")
        return np.where(G > 0, self.lo, np.where(G < 0, self.hi, np.clip(0.0, self.lo, self.hi)))

    def project_weighted(self, x, w):
        """Projection in the norm ``||x||_w^2 = sum w_i x_i^2`` (the box is separable: a clip).

        Parameters
        ----------
        x, w : array_like
            The point(s) and the positive weights.
        """
        return self.project(x)

    def __repr__(self):
        return f"Box(lo={self.lo}, hi={self.hi})"


class Simplex(ConvexSet):
    """Probability simplex ``{x in R^n : x >= 0, sum x = scale}``.

    Projection: the exact sort-based algorithm (Held, Wolfe & Crowder 1974; Duchi et al. 2008),
    O(n log n) per point, vectorised over a batch.

    Parameters
    ----------
    n : int
    scale : float
    """

    def __init__(self, n: int, scale: float = 1.0):
        self.n = positive_int(n, "n")
        self.scale = positive(scale, "scale")
        self.shape = (self.n,)

    @property
    def radius(self):
        return self.scale

    inradius = 0.0

    @property
    def diameter(self):
        return float(np.sqrt(2.0) * self.scale) if self.n > 1 else 0.0

    def project(self, x):
        x = self._point(x)
        u = -np.sort(-x, axis=-1)
        css = np.cumsum(u, axis=-1) - self.scale
        k = np.arange(1, self.n + 1)
        cond = u - css / k > 0
        rho = self.n - 1 - np.argmax(cond[..., ::-1], axis=-1)
        theta = np.take_along_axis(css, rho[..., None], axis=-1) / (rho[..., None] + 1.0)
        return np.maximum(x - theta, 0.0)

    def min_linear(self, G):
        return self.scale * np.min(self._point(G, "G"), axis=-1)

    def argmin_linear(self, G):
        G = self._point(G, "G")
        out = np.zeros_like(G)
        np.put_along_axis(out, np.argmin(G, axis=-1)[..., None], self.scale, axis=-1)
        return out

    def __repr__(self):
        return f"Simplex(n={self.n})"


def _matrix_shape(shape) -> tuple[int, int]:
    shape = as_shape(shape, "shape")
    if len(shape) != 2:
        raise ShapeError(f"shape: a matrix ball needs a (rows, cols) shape, got {shape}")
    return shape


class FrobeniusBall(Ball):
    """Matrices with Frobenius norm at most ``radius`` (a :class:`Ball` over matrices).

    Parameters
    ----------
    radius : float
    shape : tuple of int, optional
        ``(m, n)``; any matrix shape when None.
    """

    def __init__(self, radius: float = 1.0, shape: tuple[int, int] | None = None):
        super().__init__(radius, item_ndim=2)
        self.shape = None if shape is None else _matrix_shape(shape)


class OperatorBall(ConvexSet):
    """Matrices with spectral (operator 2-) norm at most ``radius``.

    The Frobenius projection clips the singular values at ``radius`` (exact, via an SVD).
    ``min_linear(G) = -radius * ||G||_nuclear`` (the dual norm).

    Parameters
    ----------
    radius : float
    shape : tuple of int, optional
        ``(m, n)``; any matrix shape when None.
    """

    item_ndim = 2

    def __init__(self, radius: float = 1.0, shape: tuple[int, int] | None = None):
        self.r = positive(radius, "radius")
        self.shape = None if shape is None else _matrix_shape(shape)

    @property
    def radius(self):  # sup of the Frobenius norm over the set
        if self.shape is None:
            return np.inf
        return self.r * np.sqrt(min(self.shape))

    @property
    def inradius(self):
        return self.r

    def project(self, x):
        x = self._point(x)
        U, s, Vt = np.linalg.svd(x, full_matrices=False)
        if np.all(s <= self.r):
            return x.copy()
        return (U * np.minimum(s, self.r)[..., None, :]) @ Vt

    def min_linear(self, G):
        G = self._point(G, "G")
        return -self.r * np.sum(np.linalg.svd(G, compute_uv=False), axis=-1)

    def argmin_linear(self, G):
        G = self._point(G, "G")
        U, _, Vt = np.linalg.svd(G, full_matrices=False)
        return -self.r * (U @ Vt)

    def __repr__(self):
        return f"OperatorBall(radius={self.r})"


class Shrunk(ConvexSet):
    """Minkowski shrink ``K_delta = {x : x / (1 - delta) in K} = (1 - delta) K`` of a set ``K``.

    Used by bandit learners: if ``rB ⊆ K`` then ``x + delta * r * u ∈ K`` for every ``x ∈ K_delta`` and unit ``u``
    (Flaxman, Kalai & McMahan 2005; ``nonconvex-meta-optimization`` Alg. 6). Projection:
    ``(1 - delta) * P_K(x / (1 - delta))`` — exact, since scaling a set scales its projection.

    Parameters
    ----------
    base : ConvexSet
    delta : float
        In ``(0, 1)``.
    """

    def __init__(self, base: ConvexSet, delta: float):
        self.base = check_set(base, "base")
        self.delta = in_range(delta, "delta", 0.0, 1.0, hi_open=True)
        self.item_ndim = base.item_ndim
        self.shape = base.shape

    @property
    def radius(self):
        return (1 - self.delta) * self.base.radius

    @property
    def inradius(self):
        return (1 - self.delta) * self.base.inradius

    @property
    def diameter(self):
        return (1 - self.delta) * self.base.diameter

    def diameter_for(self, shape) -> float:
        return (1 - self.delta) * self.base.diameter_for(shape)

    def project(self, x):
        s = 1.0 - self.delta
        return s * self.base.project(self._point(x) / s)

    def min_linear(self, G):
        return (1.0 - self.delta) * self.base.min_linear(G)

    def argmin_linear(self, G):
        return (1.0 - self.delta) * self.base.argmin_linear(G)

    def __repr__(self):
        return f"Shrunk({self.base!r}, delta={self.delta})"


class Product(ConvexSet):
    """Product of per-slice sets along the first point axis: ``x[i] ∈ sets[i]``.

    Used for GPC's disturbance-feedback matrices ``M = (M^{[1]}, ..., M^{[H]})`` with
    ``||M^{[i]}|| <= r_i`` (one ball per lag). Each slice uses its own set's projection.

    Parameters
    ----------
    sets : sequence of ConvexSet
    """

    def __init__(self, sets):
        try:
            sets = list(sets)
        except TypeError:
            raise InvalidArgumentError(f"sets: expected a list of olc.sets sets, got {sets!r:.60}") from None
        if not sets:
            raise InvalidArgumentError("sets: expected at least one set, got an empty list")
        for i, f in enumerate(sets):
            check_set(f, f"sets[{i}]")
        nd = {s.item_ndim for s in sets}
        if len(nd) != 1:
            raise InvalidArgumentError("sets: all factors must hold points with the same number of axes")
        self.sets = sets
        self.item_ndim = sets[0].item_ndim + 1
        inner = sets[0].shape
        self.shape = None if inner is None else (len(sets), *inner)
        # factors that are norm balls of one kind are projected together: P_{rB}(x) = r P_B(x/r)
        kinds = {type(s) for s in sets}
        self._radii = None
        if len(kinds) == 1 and kinds.pop() in (Ball, FrobeniusBall, OperatorBall):
            self._radii = np.array([s.r for s in sets])
            first = sets[0]
            self._unit = Ball(1.0, item_ndim=first.item_ndim) if type(first) is Ball else type(first)(1.0)

    @property
    def radius(self):
        return float(np.sqrt(sum(s.radius ** 2 for s in self.sets)))

    @property
    def inradius(self):
        return float(min(s.inradius for s in self.sets))

    def _check_len(self, x, name):
        x = self._point(x, name)
        if x.shape[x.ndim - self.item_ndim] != len(self.sets):
            raise ShapeError(f"{name}: expected {len(self.sets)} slices along axis {x.ndim - self.item_ndim}, "
                             f"got shape {x.shape}")
        return x

    def project(self, x):
        x = self._check_len(x, "x")
        k = x.ndim - self.item_ndim
        if self._radii is not None:
            r = self._radii.reshape((-1,) + (1,) * (self.item_ndim - 1))
            axes = tuple(range(-(self.item_ndim - 1), 0))
            fro2 = np.sum(x * x, axis=axes)  # the Frobenius norm bounds every norm ball used here
            if np.all(fro2 <= self._radii ** 2):
                return x.copy()
            return r * self._unit.project(x / r)
        out = np.empty_like(x)
        for i, s in enumerate(self.sets):
            idx = (slice(None),) * k + (i,)
            out[idx] = s.project(x[idx])
        return out

    def min_linear(self, G):
        G = self._check_len(G, "G")
        k = G.ndim - self.item_ndim
        return sum(s.min_linear(G[(slice(None),) * k + (i,)]) for i, s in enumerate(self.sets))

    def argmin_linear(self, G):
        G = self._check_len(G, "G")
        k = G.ndim - self.item_ndim
        return np.stack([s.argmin_linear(G[(slice(None),) * k + (i,)]) for i, s in enumerate(self.sets)], axis=k)

    def __repr__(self):
        return f"Product({self.sets!r})"
