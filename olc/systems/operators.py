"""Linear time-varying systems as operators: ``A_t v`` and ``A_tᵀ v`` per step, never the matrices.

An LTV ``z_{t+1} = A_t z_t + ...`` on ``R^d`` is, for every analysis of its products (sequential stability,
``nonconvex-meta-optimization`` Definition 3), a sequence of linear maps. A dense ``(T, d, d)`` stack is one way to
hold it; for the optimization LTV of a real network (App. B, eq. (2), ``d = 3n`` with ``n`` parameters) the stack
costs ``T·9n²·8`` bytes — 6.9 GB for one ``A_t`` at ``n = 10^4`` — while ``A_t v`` costs a few Hessian-vector
products. This module is the operator form:

* :class:`LTVOperator` — the interface: ``T``, ``dim``, ``shape = (T, d, d)``, ``dtype``,
  ``apply(t, V)`` (rows of ``V`` mapped by ``A_t``: ``V @ A_tᵀ``), ``apply_T(t, V)`` (by
  ``A_tᵀ``), ``matvec(t, v)`` / ``rmatvec(t, v)`` for one vector, ``dense(t)`` (small ``d``);
* :class:`DenseLTV` — a ``(T, d, d)`` stack (or any :class:`~olc.systems.LinearSystem`);
* :class:`FunctionLTV` — two user callables ``matvec(t, v)``, ``rmatvec(t, v)``;
* :class:`OptimizationLTV` — :class:`~olc.systems.OptimizationSystem` along its recorded trajectory, from
  Hessian-vector products of its oracle (any oracle with ``hvp``, :class:`~olc.oracles.TorchOracle` included);
* :func:`as_ltv_operator` — any of these (or a stack / system) into an :class:`LTVOperator`.

Every ``apply`` checks its input (``V`` of shape ``(k, d)``), the output shape (a callable returning the wrong shape
is a :class:`~olc.errors.ShapeError` naming it and the step) and finiteness (:class:`~olc.errors.NonFiniteError`
naming the step), and counts the vectors applied in ``applications``.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, check_alloc, positive_int
from ..errors import InvalidArgumentError, NonFiniteError, ShapeError

__all__ = ["LTVOperator", "DenseLTV", "FunctionLTV", "OptimizationLTV", "as_ltv_operator"]


class LTVOperator:
    """A sequence ``A_0..A_{T−1}`` of linear maps on ``R^dim`` (subclass and implement ``_apply`` and
    ``_apply_T`` on row blocks ``(k, dim) -> (k, dim)``).

    ``block`` (optional) names a coordinate block of interest (a ``slice``), e.g. the parameter block ``x_t`` of the
    optimization LTV; the stability analysis reports the norms restricted to it beside the full ones.

    Parameters
    ----------
    T, dim : int
    name : str, optional
    """

    block: slice | None = None

    def __init__(self, T: int, dim: int, *, name: str | None = None):
        self.T = positive_int(T, "T")
        self.dim = positive_int(dim, "dim")
        self.dtype = np.dtype(np.float64)
        self.name = name or type(self).__name__
        self.applications = 0

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.T, self.dim, self.dim)

    def __repr__(self) -> str:
        return f"{self.name}(T={self.T}, dim={self.dim})"

    # ------------------------------------------------------------------ to implement
    def _apply(self, t: int, V: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply_T(self, t: int, V: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ public
    def _check_t(self, t) -> int:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < self.T:
            raise InvalidArgumentError(f"t: expected a step in [0, {self.T}), got {t!r}")
        return int(t)

    def _run(self, t, V, fn, what):
        t = self._check_t(t)
        V = as_array(V, "V", shape=(None, self.dim))
        out = fn(t, V)
        out = np.asarray(out, dtype=np.float64)
        if out.shape != V.shape:
            raise ShapeError(f"{what}: at step t={t} returned shape {out.shape} for input of shape {V.shape} "
                             f"(the operator has dim={self.dim})")
        if not np.all(np.isfinite(out)):
            raise NonFiniteError(f"{self.name}: {what} at step t={t} returned NaN or Inf")
        self.applications += V.shape[0]
        return out

    def apply(self, t: int, V) -> np.ndarray:
        """``A_t`` applied to each row of ``V``: returns ``V @ A_tᵀ``.

        Parameters
        ----------
        t : int
        V : array_like
            Row block ``(k, dim)``.
        """
        return self._run(t, V, self._apply, "matvec")

    def apply_T(self, t: int, V) -> np.ndarray:
        """``A_tᵀ`` applied to each row of ``V``: returns ``V @ A_t``.

        Parameters
        ----------
        t, V
            As in :meth:`apply`.
        """
        return self._run(t, V, self._apply_T, "rmatvec")

    def matvec(self, t: int, v) -> np.ndarray:
        """``A_t v`` for one vector.

        Parameters
        ----------
        t : int
        v : array_like
            Shape ``(dim,)``.
        """
        return self.apply(t, as_array(v, "v", shape=(self.dim,))[None])[0]

    def rmatvec(self, t: int, v) -> np.ndarray:
        """``A_tᵀ v`` for one vector.

        Parameters
        ----------
        t : int
        v : array_like
        """
        return self.apply_T(t, as_array(v, "v", shape=(self.dim,))[None])[0]

    def dense(self, t: int) -> np.ndarray:
        """``A_t`` as a dense ``(dim, dim)`` array (``dim`` applications; for small ``dim``).

        Parameters
        ----------
        t : int
        """
        check_alloc(3 * 8.0 * self.dim ** 2, f"{self.name}.dense(t) (dim={self.dim}): a dense A_t")
        return self.apply(t, np.eye(self.dim)).T.copy()

    def to_stack(self) -> np.ndarray:
        """All ``A_t`` as a dense ``(T, dim, dim)`` stack (for small problems and tests)."""
        check_alloc(8.0 * self.T * self.dim ** 2, f"{self.name}.to_stack() (T={self.T}, dim={self.dim})",
                    "keep the operator form: sequential_stability(op) works on it directly")
        return np.stack([self.dense(t) for t in range(self.T)])


class DenseLTV(LTVOperator):
    """An LTV held as a dense ``(T, d, d)`` stack (``As[t] = A_t``); adapts any stack or
    :class:`~olc.systems.LinearSystem` (``as_ltv_operator``) to the operator interface.

    Parameters
    ----------
    As : array_like
        ``(T, d, d)``.
    name : str, optional
    """

    def __init__(self, As, *, name: str | None = None):
        As = as_array(As, "As", ndim=3)
        if As.shape[1] != As.shape[2]:
            raise ShapeError(f"As: expected a stack of square matrices (T, d, d), got shape {As.shape}")
        if As.shape[0] == 0:
            raise ShapeError("As: expected at least one matrix, got an empty stack")
        super().__init__(As.shape[0], As.shape[1], name=name)
        self.As = np.ascontiguousarray(As)

    def _apply(self, t, V):
        return V @ self.As[t].T

    def _apply_T(self, t, V):
        return V @ self.As[t]

    def dense(self, t):
        return self.As[self._check_t(t)].copy()

    def to_stack(self):
        return self.As.copy()


class FunctionLTV(LTVOperator):
    """An LTV given by two callables: ``matvec(t, v) -> A_t v`` and ``rmatvec(t, v) -> A_tᵀ v``
    (``v`` of shape ``(dim,)``; with ``batched=True`` they take and return ``(k, dim)`` row blocks).

    Both are needed: the Krylov norms use ``A_t`` and ``A_tᵀ``. A callable returning the wrong
    shape raises :class:`~olc.errors.ShapeError` naming ``matvec``/``rmatvec`` and the step.

    Parameters
    ----------
    matvec, rmatvec : callable
    dim, T : int
    batched : bool
    block : slice, optional
        A coordinate block of interest (see :class:`LTVOperator`).
    name : str, optional
    """

    def __init__(self, matvec, rmatvec, dim: int, T: int, *, batched: bool = False, block: slice | None = None,
                 name: str | None = None):
        for nm, f in (("matvec", matvec), ("rmatvec", rmatvec)):
            if not callable(f):
                raise InvalidArgumentError(f"{nm}: expected a callable (t, v) -> vector, got {f!r}")
        super().__init__(T, dim, name=name)
        self._mv, self._rmv, self.batched = matvec, rmatvec, bool(batched)
        self.block = _as_block(block, self.dim)

    def _call(self, f, what, t, V):
        if self.batched:
            return f(t, V)
        rows = []
        for v in V:
            out = np.asarray(f(t, v), dtype=np.float64)
            if out.shape != (self.dim,):
                raise ShapeError(f"{what}: at step t={t} returned shape {out.shape}, expected ({self.dim},)")
            rows.append(out)
        return np.stack(rows) if rows else np.zeros((0, self.dim))

    def _apply(self, t, V):
        return self._call(self._mv, "matvec", t, V)

    def _apply_T(self, t, V):
        return self._call(self._rmv, "rmatvec", t, V)


class _Prefix(LTVOperator):
    """The first ``T`` steps of another operator."""

    def __init__(self, op: LTVOperator, T: int):
        super().__init__(T, op.dim, name=op.name)
        self.op, self.block = op, op.block

    def _apply(self, t, V):
        return self.op._apply(t, V)

    def _apply_T(self, t, V):
        return self.op._apply_T(t, V)

    def __getattr__(self, name):            # lr, weight_decay, hessian_apply, ... of the wrapped operator
        if name == "op":
            raise AttributeError(name)
        return getattr(self.op, name)


def _as_block(block, dim):
    if block is None:
        return None
    if not isinstance(block, slice):
        raise InvalidArgumentError(f"block: expected a slice of the state coordinates (or None), got {block!r}")
    idx = range(dim)[block]
    if len(idx) == 0 or idx.step != 1:
        raise InvalidArgumentError(f"block: expected a non-empty contiguous slice of range({dim}), got {block!r}")
    return slice(idx.start, idx.stop)


class OptimizationLTV(LTVOperator):
    """The optimization LTV of :class:`~olc.systems.OptimizationSystem` (``nonconvex-meta-optimization``
    App. B, eqs. (1)–(3)) as an operator, from Hessian-vector products along the recorded trajectory.

    ``A_t`` is the same matrix as the dense ``system.A(t)`` — both ``form="gd"`` and ``"delayed"``,
    any weight decay ``δ`` — with ``H_t`` the same mean-value Hessian of eq. (1): ``hessian_nodes``-point
    Gauss–Legendre quadrature ``H̄_t = Σ_k (w_k/2) ∇²f_t(x_{t−1} + τ_k s_t)``, ``s_t = x_t − x_{t−1}``,
    plus (``secant=True``) the rank-one correction ``H_t = H̄_t + r_t s_tᵀ/(s_tᵀs_t)``,
    ``r_t = g_t − ŵ_t − H̄_t s_t``, which makes eq. (1) exact. ``H_t`` is not symmetric then, so
    ``H_tᵀ v = H̄_t v + s_t (r_tᵀv)/(s_tᵀs_t)``. With ``z = [a; b; c]`` (blocks of ``n``)::

        gd:       A z  = [(1−δ)a − ηH(a−b) ; a ; H(a−b)]
                  Aᵀz  = [(1−δ)a + b + Hᵀ(c − ηa) ; −Hᵀ(c − ηa) ; 0]
        delayed:  A z  = [(1−δ)a − ηc ; a ; H(a−b)]
                  Aᵀz  = [(1−δ)a + b + Hᵀc ; −Hᵀc ; −ηa]

    so one application costs ``hessian_nodes`` batched HVPs (one where the Hessian is constant or the step is zero).
    Nothing ``n × n`` is formed: the operator keeps ``r_t`` (``T·n`` floats) beside the system's iterates and
    gradients, and ``ŵ_t`` costs one extra gradient per step (computed once, lazily).

    Parameters
    ----------
    system : OptimizationSystem with at least one recorded step.
    oracle : optional twin of ``system.oracle`` used for the HVPs (e.g.
        ``TorchOracle.to(float32, "cuda")``): float32 products, the bounds still computed in float64 (the A_t are then
        those of the float32 Hessians, accurate to about 1e-6 relative).
    hvp_cache : how many (step, quadrature node) Hessians to keep as reusable maps
        (:meth:`~olc.oracles.GradientOracle.hvp_at`; for a torch model the gradient's autograd graph
        at that point, so that each product is one backward pass). The sweeps visit the steps in
        order, so keep it ``>= T · hessian_nodes`` where memory allows; 0 recomputes every time.

    ``block`` is the parameter block ``slice(0, n)`` (``x_t``); ``hessian_apply(t, W)`` applies
    the symmetric ``H̄_t`` (for its extreme eigenvalues: edge of stability ``η λ_max < 2``).
    """

    def __init__(self, system, *, oracle=None, hvp_cache: int = 64):
        from .optimization import OptimizationSystem

        if not isinstance(system, OptimizationSystem):
            raise InvalidArgumentError(f"system: expected an OptimizationSystem, got {type(system).__name__}")
        if system.T == 0:
            raise InvalidArgumentError("system: the trajectory is empty (no step recorded); call "
                                       "system.run(x0, T) or step() before asking for its operators")
        oracle = system.oracle if oracle is None else oracle
        if getattr(oracle, "dim", None) != system.n:
            raise ShapeError(f"oracle: expected an oracle of dim {system.n} (the system's n), got "
                             f"{getattr(oracle, 'dim', None)!r}")
        if not getattr(oracle, "has_hvp", False):
            raise InvalidArgumentError(f"oracle: {getattr(oracle, 'name', oracle)!r} has no Hessian-vector "
                                       "products (has_hvp is False)")
        super().__init__(system.T, 3 * system.n, name="OptimizationLTV")
        self.system, self.oracle = system, oracle
        self.n, self.lr, self.weight_decay = system.n, system.lr, system.weight_decay
        self.form, self.secant = system.form, system.secant
        self.block = slice(0, self.n)
        xi, w = np.polynomial.legendre.leggauss(system.hessian_nodes)
        self._taus, self._wts = 0.5 * (xi + 1.0), 0.5 * w
        self._xs = system.xs                       # (T+1, n): the recorded iterates
        self._r: dict[int, np.ndarray | None] = {}
        self._hv_cache: dict = {}
        self.hvp_cache = positive_int(hvp_cache, "hvp_cache", minimum=0)

    # ------------------------------------------------------------------ H_t
    def _segment(self, t):
        x = self._xs[t]
        x_prev = self._xs[t - 1] if t > 0 else self._xs[0]
        s = x - x_prev
        return x_prev, x, s, float(s @ s), self.system._steps[t].batch

    def _exact(self, ss):
        return self.oracle.hessian_is_constant or ss == 0.0

    def _hv(self, t, node, point, W, batch):
        """``∇²f_t(point) W`` through the oracle's reusable Hessian at ``point`` (:meth:`~olc.oracles.
        GradientOracle.hvp_at`; kept for the last ``hvp_cache`` (step, node) pairs: the sweeps revisit
        every step many times)."""
        key = (t, node)
        hv = self._hv_cache.pop(key, None)
        try:
            if hv is None:
                hv = self.oracle.hvp_at(point, batch)
            self._hv_cache[key] = hv                              # most recently used last
            while len(self._hv_cache) > max(0, int(self.hvp_cache)):
                del self._hv_cache[next(iter(self._hv_cache))]
            return hv(W)
        except NonFiniteError as exc:
            raise NonFiniteError(f"A_{t}: non-finite Hessian-vector product at step t={t} of the trajectory "
                                 f"({exc})") from None

    def hessian_apply(self, t: int, W) -> np.ndarray:
        """``H̄_t`` (the symmetric quadrature mean-value Hessian of step ``t``) applied to the rows of ``W``.

        Parameters
        ----------
        t : int
        W : array_like
        """
        t = self._check_t(t)
        W = as_array(W, "W", shape=(None, self.n))
        x_prev, x, s, ss, batch = self._segment(t)
        if self._exact(ss):
            return self._hv(t, 0, x, W, batch)
        out = np.zeros_like(W)
        for k, (tau, w) in enumerate(zip(self._taus, self._wts)):
            out += w * self._hv(t, k, x_prev + tau * s, W, batch)
        return out

    def _hessian_rows(self, ts, W):
        """Row ``i``: ``H̄_{ts[i]} W[i]`` (the rows of one step in one call)."""
        ts = np.asarray(ts)
        out = np.zeros_like(W)
        for t in np.unique(ts):
            rows = np.flatnonzero(ts == t)
            out[rows] = self.hessian_apply(int(t), W[rows])
        return out

    def secant_residual(self, t: int) -> np.ndarray | None:
        """``r_t = g_t − ŵ_t − H̄_t s_t`` of the rank-one correction (None where none is applied).

        Parameters
        ----------
        t : int
        """
        t = self._check_t(t)
        if t not in self._r:
            x_prev, x, s, ss, batch = self._segment(t)
            if not self.secant or self._exact(ss):
                self._r[t] = None
            else:
                g, what = self.system._steps[t].grad, self.system.gradient_disturbance(t)
                self._r[t] = (g - what) - self.hessian_apply(t, s[None])[0]
        return self._r[t]

    def H_apply(self, t: int, W, *, transpose: bool = False) -> np.ndarray:
        """``H_t`` (or ``H_tᵀ``) of eq. (1) applied to the rows of ``W`` (``(k, n)``).

        Parameters
        ----------
        t : int
        W : array_like
        transpose : bool
        """
        t = self._check_t(t)
        out = self.hessian_apply(t, W)
        r = self.secant_residual(t)
        if r is not None:
            _, _, s, ss, _ = self._segment(t)
            W = np.asarray(W, dtype=np.float64)
            if transpose:
                out += np.outer(W @ r / ss, s)
            else:
                out += np.outer(W @ s / ss, r)
        return out

    def hessian_spectra(self, *, rtol: float = 1e-3, max_iter: int = 40, seed=0) -> dict:
        """Per step ``t``: the extreme eigenvalues of ``H̄_t`` by Lanczos (:class:`~olc.systems.krylov.Lanczos`),
        against the edge of stability ``2/η`` (gradient descent on a quadratic with Hessian ``H`` is
        stable iff ``η λ_max(H) < 2``).

        Returns a dict of ``(T,)`` arrays — ``lmax`` (a Rayleigh quotient: certified lower bound),
        ``lmax_upper`` (residual bound), ``lmin``, ``lmin_lower``, ``edge_ratio = η·lmax/2`` (≥ 1: at or
        beyond the edge), ``secant_norm`` (``‖r_t‖/‖s_t‖``, the norm of the rank-one correction; 0
        where none) — plus ``lr`` and ``edge = 2/η``. Costs about ``T · iterations · hessian_nodes`` HVPs.

        Parameters
        ----------
        rtol : float
        max_iter : int
            Lanczos iterations per step.
        seed : int or numpy.random.Generator
        """
        from .krylov import Lanczos

        jobs = [Lanczos(self.n, rtol=rtol, max_iter=max_iter, seed=seed + 7919 * t) for t in range(self.T)]
        active = list(range(self.T))
        while active:
            for t, y in zip(active, self._hessian_rows(active, np.stack([jobs[t].vec for t in active]))):
                jobs[t].give(y)
            active = [t for t in active if jobs[t].need is not None]
        out = {k: np.array([getattr(j, k) for j in jobs]) for k in ("lmax", "lmax_upper", "lmin", "lmin_lower")}
        out["converged"] = np.array([j.converged for j in jobs])
        sec = []
        for t in range(self.T):
            r = self.secant_residual(t)
            s = self._segment(t)[2]
            sec.append(0.0 if r is None else float(np.linalg.norm(r) / np.linalg.norm(s)))
        out["secant_norm"] = np.array(sec)
        out["edge_ratio"] = self.lr * out["lmax"] / 2.0
        out["lr"], out["edge"] = self.lr, 2.0 / self.lr
        return out

    # ------------------------------------------------------------------ A_t
    def _apply(self, t, Z):
        n, eta, dec = self.n, self.lr, self.weight_decay
        a, b, c = Z[:, :n], Z[:, n:2 * n], Z[:, 2 * n:]
        Hd = self.H_apply(t, a - b)
        top = (1.0 - dec) * a - eta * (Hd if self.form == "gd" else c)
        return np.concatenate([top, a, Hd], axis=1)

    def _apply_T(self, t, Z):
        n, eta, dec = self.n, self.lr, self.weight_decay
        p, q, r = Z[:, :n], Z[:, n:2 * n], Z[:, 2 * n:]
        m = self.H_apply(t, r - eta * p if self.form == "gd" else r, transpose=True)
        last = np.zeros_like(p) if self.form == "gd" else -eta * p
        return np.concatenate([(1.0 - dec) * p + q + m, -m, last], axis=1)


def as_ltv_operator(As, T: int | None = None) -> LTVOperator:
    """Adapt ``As`` to an :class:`LTVOperator`.

    Parameters
    ----------
    As : LTVOperator, OptimizationSystem, array_like or LinearSystem
        An operator, an :class:`~olc.systems.OptimizationSystem` (:class:`OptimizationLTV`), a dense
        ``(T, d, d)`` stack or a system with ``A(t)`` (:class:`DenseLTV`).
    T : int, optional
        Only the first ``T`` steps.

    Examples
    --------
    >>> import numpy as np
    >>> from olc.systems.operators import as_ltv_operator
    >>> op = as_ltv_operator(np.stack([np.diag([0.5, 2.0])] * 4))
    >>> op.T, op.matvec(0, np.ones(2))
    (4, array([0.5, 2. ]))
    """
    from .optimization import OptimizationSystem

    if isinstance(As, OptimizationSystem):
        As = OptimizationLTV(As)
    if isinstance(As, LTVOperator):
        if T is None or positive_int(T, "T") == As.T:
            return As
        if T > As.T:
            raise ShapeError(f"T: the operator has {As.T} steps, got T={T}")
        return _Prefix(As, T)
    from .stability import _as_matrix_stack

    return DenseLTV(_as_matrix_stack(As, T))
