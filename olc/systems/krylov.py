"""Krylov methods with bounds: the top singular value of a product operator, extreme eigenvalues.

Used by the matrix-free sequential-stability analysis (``nonconvex-meta-optimization`` Definition 3: ``‖A_s ⋯ A_r‖₂``
for every interval) where each operator application is a chain of Hessian-vector products. Both methods are written as
*jobs* that ask for one product at a time (``job.need`` is ``"fwd"``: ``P v``, ``"bwd"``: ``Pᵀ u`` or ``"apply"``;
``job.vec`` is the vector; ``job.give(result)`` continues), so that a driver can push the vectors of many jobs through
the same ``A_t`` in one batched call (:mod:`olc.systems.intervals`).

:class:`GKL` — Golub–Kahan–Lanczos bidiagonalisation (Golub & Kahan 1965; Golub & Van Loan, *Matrix Computations*,
§10.4) of ``P: R^m → R^p`` with **full reorthogonalisation** (classical Gram–Schmidt, twice) of both bases. Every
coefficient of the two Gram–Schmidt passes is kept, so with ``V_k``, ``U_k`` orthonormal (to rounding)

    ``P V_k = U_k R_k``  (``R_k`` k×k upper triangular, ≈ the bidiagonal ``B_k``),
    ``Pᵀ U_k = V_{k+1} S_k``  (``S_k`` (k+1)×k)

hold with no further truncation. With ``(θ, y)`` the top singular pair of ``R_k``:

* **lower bound** ``θ = ‖P v‖`` for the unit vector ``v = V_k y`` (attained by a vector; kept as
  :meth:`GKL.right_vector`) — certified: ``‖P‖ ≥ ‖P v‖``;
* **upper bound** ``sqrt(θ² + ρ)`` with ``ρ = ‖PᵀP v − θ² v‖ = ‖S_k R_k y − θ²[y; 0]‖`` the Lanczos residual of
  ``PᵀP``: some eigenvalue ``σ²`` of ``PᵀP`` lies within ``ρ`` of ``θ²`` (Bauer–Fike for symmetric matrices). It
  bounds the singular value that ``θ`` approximates: that this is the largest one is the standing assumption of every
  Krylov method — it fails when the Krylov space has too small a component along the top singular vector for the Ritz
  value to have found it yet. Every start here carries a seeded random component, and at least ``min_iter`` (default
  8) iterations are taken before the gap test: with ``min_iter = 2`` a 6×6 matrix once stopped at its second singular
  value (1.2099 vs 1.3613, found by the property test in tests/systems/test_intervals.py); an operator of dimension ≤
  ``min_iter`` is therefore always exhausted, i.e. exact. For larger operators the upper bound remains a Krylov
  estimate. When the Krylov space exhausts ``R^m`` the bounds coincide and are exact.

The job stops when ``upper ≤ (1 + rtol) · lower`` (after at least ``min_iter`` iterations), or after ``max_iter``.
Breakdowns (an exactly invariant subspace) continue with a random vector orthogonal to the basis. Unlike power
iteration, whose error decays like ``(σ₂/σ₁)^{2k}``, the Ritz value converges like a Chebyshev polynomial in the gap,
which matters where the top singular values cluster (the √2 floor of the optimization LTV).

:class:`Lanczos` — symmetric Lanczos with full reorthogonalisation for ``λ_max`` and ``λ_min``
of a symmetric operator (the mean-value Hessians ``H̄_t``): Rayleigh quotients (attained by
vectors) and residual bounds ``|λ − θ| ≤ ‖H v − θ v‖`` at both ends.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_rng, positive_int

__all__ = ["GKL", "Lanczos"]


class _Basis:
    """Orthonormal rows ``A[:k]`` of a growing basis in ``R^dim`` (capacity doubles as it grows)."""

    def __init__(self, dim: int, cap: int = 8):
        self.dim, self.k = dim, 0
        self.A = np.empty((min(cap, dim), dim))

    def append(self, v):
        if self.k == self.A.shape[0]:
            grown = np.empty((min(self.A.shape[0] * 3 // 2 + 1, self.dim), self.dim))
            grown[:self.k] = self.A[:self.k]
            self.A = grown
        self.A[self.k] = v
        self.k += 1

    @property
    def full(self) -> bool:
        return self.k >= self.dim

    def orthogonalize(self, x):
        """Classical Gram–Schmidt twice: ``x = B c + rem`` with ``rem ⟂ B``; returns ``(c, rem)``."""
        x = np.array(x, dtype=np.float64)
        if self.k == 0:
            return np.zeros(0), x
        B = self.A[:self.k]
        c = B @ x
        x -= c @ B
        c2 = B @ x
        x -= c2 @ B
        return c + c2, x

    def random_orthogonal(self, rng):
        """A random unit vector orthogonal to the basis (None when the basis spans ``R^dim``)."""
        for _ in range(3):
            if self.full:
                return None
            _, x = self.orthogonalize(rng.standard_normal(self.dim))
            nx = np.linalg.norm(x)
            if nx > 1e-8:
                return x / nx
        return None


def _start(dim, vec, rng, mix):
    """A unit start vector: ``vec`` (a warm start) plus a random component of relative size ``mix``, or a random vector."""
    g = rng.standard_normal(dim)
    g /= np.linalg.norm(g)
    if vec is None:
        return g
    v = np.asarray(vec, dtype=np.float64)
    nv = np.linalg.norm(v)
    if not np.isfinite(nv) or nv == 0.0:
        return g
    v = v / nv + mix * g
    return v / np.linalg.norm(v)


_TINY = 1e-13          # breakdown: a new direction below this fraction of the operator's scale


class GKL:
    """Top singular value of one square operator ``P`` on ``R^dim`` by Golub–Kahan–Lanczos with
    bounds (module docstring). Drive it by ``while job.need: job.give(P @ job.vec if job.need ==
    "fwd" else P.T @ job.vec)``, or batch many jobs (:mod:`olc.systems.intervals`).

    Parameters
    ----------
    dim : the dimension.
    start, left_start : optional warm start (a right vector); ``left_start``: a left vector ``u₀`` (the first
        product is then ``Pᵀ u₀``, whose direction starts the bidiagonalisation). A seeded random
        component of relative size ``mix`` is always added to a warm start.
    rtol : stop when ``upper <= (1 + rtol) lower``.
    max_iter, min_iter : iteration limits (one iteration = one ``P v`` and one ``Pᵀ u``).
    mix : relative size of the random component added to a warm start.
    seed : int or Generator for the random components.

    Attributes once ``need`` is ``None``: ``lower``, ``upper``, ``iterations``, ``converged`` (gap
    reached, or the space exhausted: then ``lower == upper`` exactly).
    """

    def __init__(self, dim: int, *, start=None, left_start=None, rtol: float = 1e-3, max_iter: int = 60,
                 min_iter: int = 8, mix: float = 0.1, seed=0):
        self.dim = positive_int(dim, "dim")
        self.rtol, self.max_iter, self.min_iter = float(rtol), positive_int(max_iter, "max_iter"), int(min_iter)
        self.rng = as_rng(seed)
        self.V, self.U = _Basis(self.dim), _Basis(self.dim)
        self.Rcols: list[np.ndarray] = []
        self.Scols: list[np.ndarray] = []
        self.lower, self.upper = 0.0, np.inf
        self.iterations, self.converged = 0, False
        self._scale = 0.0
        self._y = self._uy = None
        self._init_left = left_start is not None
        if self._init_left:
            self.need, self.vec = "bwd", _start(self.dim, left_start, self.rng, mix)
        else:
            v = _start(self.dim, start, self.rng, mix)
            self.V.append(v)
            self.need, self.vec = "fwd", v

    def give(self, y) -> None:
        """Continue with ``y = P @ vec`` (when ``need == "fwd"``) or ``Pᵀ @ vec`` (``"bwd"``).

        Parameters
        ----------
        y : ndarray
        """
        y = np.asarray(y, dtype=np.float64)
        self._scale = max(self._scale, float(np.linalg.norm(y)))
        if self.need == "fwd":
            self._forward(y)
        elif self.need == "bwd":
            self._backward(y)
        else:
            raise RuntimeError("GKL.give: the job has finished")

    def _new_direction(self, basis, rem):
        """``(norm, unit vector)`` of a Gram–Schmidt remainder; a random orthogonal direction with
        norm 0 on breakdown (an invariant subspace); ``(0, None)`` when the basis is complete."""
        if basis.full:
            return 0.0, None
        nrm = float(np.linalg.norm(rem))
        if nrm <= _TINY * max(self._scale, 1e-300):
            return 0.0, basis.random_orthogonal(self.rng)
        return nrm, rem / nrm

    def _forward(self, p):
        c, rem = self.U.orthogonalize(p)
        alpha, u = self._new_direction(self.U, rem)   # U has fewer vectors than V here: never complete
        self.U.append(u)
        self.Rcols.append(np.concatenate([c, [alpha]]))
        self.need, self.vec = "bwd", u

    def _backward(self, q):
        if self._init_left:                        # P^T u0: its direction starts the bidiagonalisation
            self._init_left = False
            nq = float(np.linalg.norm(q))
            v = q / nq if nq > 0 else _start(self.dim, None, self.rng, 0.0)
            self.V.append(v)
            self.need, self.vec = "fwd", v
            return
        c, rem = self.V.orthogonalize(q)
        beta, nxt = self._new_direction(self.V, rem)
        self.iterations += 1
        self.Scols.append(c if nxt is None else np.concatenate([c, [beta]]))
        self._bounds(exhausted=nxt is None)
        self.converged = nxt is None or (self.iterations >= self.min_iter
                                         and self.upper <= (1 + self.rtol) * self.lower)
        if self.converged or self.iterations >= self.max_iter:
            self.need, self.vec = None, None
            return
        self.V.append(nxt)
        self.need, self.vec = "fwd", nxt

    def _bounds(self, exhausted):
        k = len(self.Rcols)
        R = np.zeros((k, k))
        for j, col in enumerate(self.Rcols):
            R[: col.size, j] = col
        S = np.zeros((k + (not exhausted), k))
        for j, col in enumerate(self.Scols):
            S[: col.size, j] = col
        Ur, sv, Vt = np.linalg.svd(R)
        theta, y = float(sv[0]), Vt[0]
        Ry = R @ y
        res = S @ Ry
        res[:k] -= theta ** 2 * y
        # Krylov space = R^dim: P = U_k R_k V_k^T exactly, the bounds coincide
        rho = 0.0 if exhausted else float(np.linalg.norm(res))
        self.lower, self.upper = theta, float(np.sqrt(theta ** 2 + rho))
        self._y, self._uy = y, (Ry / theta if theta > 0 else Ur[:, 0])

    def right_vector(self) -> np.ndarray:
        """The unit vector ``v`` with ``‖P v‖ = lower`` (the Ritz vector)."""
        return self._y @ self.V.A[: self._y.size]

    def left_vector(self) -> np.ndarray:
        """The unit vector ``P v / ‖P v‖`` (the left Ritz vector; a warm start for nearby products)."""
        return self._uy @ self.U.A[: self._uy.size]


class Lanczos:
    """Extreme eigenvalues of a symmetric operator ``H`` on ``R^n``: symmetric Lanczos with full
    reorthogonalisation. Drive it with ``while job.need: job.give(H @ job.vec)``.

    ``H V_k = V_{k+1} C_k`` is kept with every Gram–Schmidt coefficient; the Ritz pairs of the symmetrised ``C_k[:k]``
    give Rayleigh quotients ``θ = vᵀHv`` (attained: ``λ_max ≥ θ_max``, ``λ_min ≤ θ_min``) and residuals
    ``ρ = ‖H v − θ v‖`` (an eigenvalue within ``ρ`` of each ``θ``). Results: ``lmax`` / ``lmax_upper``, ``lmin`` /
    ``lmin_lower``. Stops when both residuals are below ``rtol · max(|θ_max|, |θ_min|)`` or after ``max_iter`` products.

    Parameters
    ----------
    n : int
    rtol : float
    max_iter, min_iter : int
    seed : int or numpy.random.Generator
    start : array_like, optional
        A warm start vector.
    """

    def __init__(self, n: int, *, rtol: float = 1e-3, max_iter: int = 40, min_iter: int = 3, seed=0, start=None):
        self.n = positive_int(n, "n")
        self.rtol, self.max_iter, self.min_iter = float(rtol), positive_int(max_iter, "max_iter"), int(min_iter)
        self.rng = as_rng(seed)
        self.V = _Basis(self.n)
        self.cols: list[np.ndarray] = []
        v = _start(self.n, start, self.rng, 0.1)
        self.V.append(v)
        self.need, self.vec = "apply", v
        self.iterations, self.converged = 0, False
        self.lmax = self.lmin = 0.0
        self.lmax_upper, self.lmin_lower = np.inf, -np.inf
        self._scale = 0.0

    def give(self, y) -> None:
        """Continue with ``y = H @ vec``.

        Parameters
        ----------
        y : ndarray
        """
        y = np.asarray(y, dtype=np.float64)
        self._scale = max(self._scale, float(np.linalg.norm(y)))
        c, rem = self.V.orthogonalize(y)
        beta = float(np.linalg.norm(rem))
        self.iterations += 1
        nxt = None
        if not self.V.full:
            if beta <= _TINY * max(self._scale, 1e-300):
                beta, nxt = 0.0, self.V.random_orthogonal(self.rng)
            else:
                nxt = rem / beta
        self.cols.append(np.concatenate([c, [beta]]) if nxt is not None else c)
        k = len(self.cols)
        C = np.zeros((k + (nxt is not None), k))
        for j, col in enumerate(self.cols):
            C[: col.size, j] = col
        sym = 0.5 * (C[:k] + C[:k].T)
        w, Y = np.linalg.eigh(sym)
        res = C @ Y
        res[:k] -= Y * w
        rho = np.linalg.norm(res, axis=0)
        if nxt is None:
            rho[:] = 0.0                           # the whole space: exact
        self.lmax, self.lmin = float(w[-1]), float(w[0])
        self.lmax_upper, self.lmin_lower = float(w[-1] + rho[-1]), float(w[0] - rho[0])
        scale = max(abs(self.lmax), abs(self.lmin), 1e-300)
        done = nxt is None or (self.iterations >= self.min_iter and max(rho[-1], rho[0]) <= self.rtol * scale)
        self.converged = bool(done)
        if done or self.iterations >= self.max_iter:
            self.need, self.vec = None, None
            return
        self.V.append(nxt)
        self.vec = nxt
