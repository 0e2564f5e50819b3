"""Comparator classes for control games: the best controller of a class in hindsight.

Both comparators replay the *realised* disturbances of a trace (``trace.info["disturbances"]``, reported by
:mod:`olc.games.control`) on the real system, from the trace's initial state, as if the comparator controller
had been played from the start (for an adaptive adversary the disturbances are held fixed at what was realised
— the usual policy-regret convention of non-stochastic control).

* :class:`BestDFC` — the best disturbance-feedback controller ``u_t = −K x_t + Σ_i M^{[i]} w_{t−i}``
  with the same ``K``, ``H`` and set ``||M^{[i]}|| <= r_i`` as GPC (Agarwal et al. 2019, §4; the benchmark
  class Π of ``nonconvex-meta-optimization`` App. B). States and controls are affine in ``M``, so the total
  cost is a convex quadratic ``J(p) = pᵀPp + 2qᵀp + c`` of ``p = vec(M)``: it is built exactly (forward
  sensitivity recursion) and minimised exactly — a Cholesky (least-squares) solve when the unconstrained
  minimiser lies in the set, otherwise the accelerated projected gradient of
  :func:`olc.comparators.fixed.minimize_over_set` with the set's own projection, stopped at relative objective
  change ``tol`` (default ``1e-12``) and a step below ``1e-10``; ``.method`` says which was used.
* :class:`BestLinearFeedback` — the best static gain ``u = −K x`` (a nonconvex problem): the LQR gain (the optimum for
  i.i.d. noise) is the start, then L-BFGS on the realised (finite-horizon) cost with an exact adjoint gradient; every
  evaluated ``K`` that does not stabilise the system (spectral radius of ``A − BK`` ≥ 1 for LTI, a growing closed-loop
  product for LTV) is rejected as a candidate, and the best stabilising ``K`` evaluated is kept, so it is never worse
  than LQR. A local search: the result is the best found, not a certified global optimum.

``best_cumulative(trace)`` returns the running cost of the single comparator that is best for the *whole*
horizon (``anytime = False``): ``R[t]`` of :meth:`olc.Trace.regret` before ``T`` is therefore not the
prefix-optimal regret (use ``trace.truncated(t)`` for that).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, positive, positive_int
from ..errors import InvalidArgumentError, ShapeError
from ..systems.control import _ltv_contracts, as_quadratic_cost, check_system, dfc_set, lqr_gain, resolve_gain

__all__ = ["BestDFC", "BestLinearFeedback", "dfc_controls"]


def _realised(trace, d: int, x0_default):
    info = getattr(trace, "info", None)
    if not isinstance(info, dict) or "disturbances" not in info:
        raise InvalidArgumentError("trace: it holds no realised disturbances (trace.info['disturbances']); "
                                   "play the controller in olc.games.control")
    T = trace.T
    W = as_array(info["disturbances"], "trace.info['disturbances']", shape=(None, d))
    if W.shape[0] < T:
        raise ShapeError(f"trace.info['disturbances']: {W.shape[0]} rows for a trace of {T} rounds")
    W = W[:T]
    if x0_default is not None:
        x0 = x0_default
    elif "x0" in info:
        x0 = as_array(info["x0"], "trace.info['x0']", shape=(d,))
    elif "states" in info and len(info["states"]):
        x0 = as_array(info["states"][0], "trace.info['states'][0]", shape=(d,))
    else:
        x0 = np.zeros(d)
    return W, x0


def dfc_controls(M, W) -> np.ndarray:
    """The DFC term ``U_t = Σ_{i=1}^{H} M^{[i]} w_{t−i}`` (``w_s = 0`` for ``s < 0``) for all ``t``, ``(T, m)``.

    Playing a fixed ``M`` is the rollout with open-loop controls ``U`` under the feedback ``K``
    (``system.simulate(x0, U=U, W=W, K=K)``). Shapes and finiteness are checked (``ShapeError`` / ``NonFiniteError``).

    Parameters
    ----------
    M, W : array_like
        ``(H, m, d)`` DFC matrices, ``(T, d)`` disturbances.
    """
    M = as_array(M, "M", ndim=3)
    H, m, d = M.shape
    W = as_array(W, "W", shape=(None, d))
    T = W.shape[0]
    U = np.zeros((T, m))
    for i in range(1, H + 1):
        if i < T:
            U[i:] += W[: T - i] @ M[i - 1].T
    return U


class BestDFC:
    """The best disturbance-feedback controller in hindsight (see the module docstring).

    After :meth:`best_cumulative` (or :meth:`fit`): ``.M`` (H, m, d) the minimiser, ``.total`` its total cost,
    ``.method`` (``"unconstrained"`` or ``"constrained"``), ``.P``, ``.q``, ``.c`` the exact quadratic
    ``J(vec M) = pᵀPp + 2qᵀp + c``.

    Parameters
    ----------
    system, cost, H, K, kappa_M, gamma, radius, norm
        As :class:`olc.learners.GPC`, same defaults (``K``: the LQR gain for LTI, 0 for stable LTV).
    x0 : array_like, optional
        Initial state (default: the trace's).
    tol : float
    """

    anytime = False

    def __init__(self, system, cost, H: int = 10, K=None, kappa_M: float | None = None, gamma: float | None = None,
                 radius=None, norm: str = "op", x0=None, tol: float = 1e-12):
        self.system = check_system(system)
        self.cost = as_quadratic_cost(cost, system)
        self.H = positive_int(H, "H")
        self.d, self.m = system.state_dim, system.control_dim
        self._K_arg = K
        self.K = resolve_gain(system, self.cost, K) if (not system.is_time_varying or system.horizon) else None
        self.Mset = dfc_set(self.H, self.m, self.d, kappa_M=kappa_M, gamma=gamma, radius=radius, norm=norm)
        self.x0 = None if x0 is None else as_array(x0, "x0", shape=(self.d,))
        self.tol = positive(tol, "tol")
        self.M = self.total = self.method = self.P = self.q = self.c = self.gap = None

    # -------------------------------------------------------------- the exact quadratic
    def quadratic(self, W, x0=None):
        """``(P, q, c)`` with ``J(p) = pᵀPp + 2qᵀp + c`` the total cost of playing ``M = p.reshape(H, m, d)``
        from the start against the disturbances ``W`` (T, d), from ``x0``.

        Forward sensitivities: ``x_t = x⁰_t + G_t p``, ``u_t = u⁰_t + J_t p`` with
        ``G_{t+1} = (A_t − B_t K) G_t + B_t D_t``, ``J_t = −K G_t + D_t`` and ``D_t p = Σ_i M^{[i]} w_{t−i}``.

        Parameters
        ----------
        W, x0 : numpy.ndarray
            Disturbances ``(T, d)``; initial state ``(d,)`` (default: the constructor's, else zero).
        """
        W = as_array(W, "W", shape=(None, self.d))
        T = W.shape[0]
        H, m, d = self.H, self.m, self.d
        n = H * m * d
        K = self._gain(T)
        x0 = np.zeros(d) if x0 is None else as_array(x0, "x0", shape=(d,))
        A_seq, B_seq = self.system.matrices(T)
        X0, U0 = self.system.simulate(x0, W=W, K=K, return_controls=True)
        Q, R = self.cost.Q, self.cost.R
        Wp = np.concatenate([np.zeros((H, d)), W])  # w_s at Wp[s + H]
        lagidx = np.arange(H)  # lag i = 1..H -> w_{t-i} = Wp[t - i + H] = Wp[t + H - 1 - lagidx]
        P = np.zeros((n, n))
        q = np.zeros(n)
        G = np.zeros((d, n))
        eye_m = np.eye(m)
        chunk = max(1, min(T, 2_000_000 // max(1, (d + m) * n)))
        Gs = np.empty((chunk, d, n))
        Js = np.empty((chunk, m, n))
        start = 0
        for t in range(T):
            k = t - start
            win = Wp[t + H - 1 - lagidx]  # (H, d): w_{t-1}, ..., w_{t-H}
            D = np.einsum("ab,ie->aibe", eye_m, win).reshape(m, n)  # D[a, (i, a', e)] = δ_aa' w_{t-1-i}[e]
            J = D - K @ G
            Gs[k], Js[k] = G, J
            G = A_seq[t] @ G + B_seq[t] @ J
            if k == chunk - 1 or t == T - 1:
                sl = slice(start, t + 1)
                Gc, Jc = Gs[: k + 1], Js[: k + 1]
                P += np.einsum("tdn,de,tek->nk", Gc, Q, Gc, optimize=True)
                P += np.einsum("tan,ab,tbk->nk", Jc, R, Jc, optimize=True)
                q += np.einsum("tdn,de,te->n", Gc, Q, X0[:-1][sl], optimize=True)
                q += np.einsum("tan,ab,tb->n", Jc, R, U0[sl], optimize=True)
                start = t + 1
        c = float(np.einsum("ti,ij,tj->", X0[:-1], Q, X0[:-1]) + np.einsum("ti,ij,tj->", U0, R, U0))
        return (P + P.T) / 2, q, c

    def _gain(self, T):
        if self.K is None:
            self.K = resolve_gain(self.system, self.cost, self._K_arg, horizon=T)
        return self.K

    def fit(self, W, x0=None) -> np.ndarray:
        """The minimiser ``M`` over the set for the disturbances ``W`` from ``x0``.

        Parameters
        ----------
        W, x0 : numpy.ndarray
        """
        P, q, c = self.quadratic(W, x0)
        self.P, self.q, self.c = P, q, c
        shape = (self.H, self.m, self.d)
        scale = max(float(np.max(np.abs(np.diag(P)))), 1e-300)
        Ps, qs = P / scale, q / scale
        p = -_solve(Ps, qs)
        M = p.reshape(shape)
        self.gap = 0.0
        if np.all(np.isfinite(M)) and np.all(self.Mset.contains(M, tol=1e-12)):
            self.method = "unconstrained"
        elif self.Mset.norm == "fro" or min(self.m, self.d) == 1:
            # per-lag Euclidean balls (the operator norm of a rank-1 lag is its Frobenius norm)
            M, dual = _ball_qp(Ps, qs, self.Mset.radii, shape)
            M = self.Mset.project(M)
            self.method = "constrained (dual: L-BFGS-B + Newton on the per-lag multipliers)"
            self.gap = max(0.0, float(M.ravel() @ Ps @ M.ravel() + 2 * qs @ M.ravel()) - dual) * scale
        else:
            from .fixed import minimize_over_set

            M0, _ = _ball_qp(Ps, qs, self.Mset.radii, shape)  # Frobenius-ball solution: a feasible start
            lam = max(float(np.linalg.eigvalsh(Ps)[-1]), 1e-300)
            f = lambda z: float(z.ravel() @ (Ps @ z.ravel()) + 2 * qs @ z.ravel()) / lam  # noqa: E731
            g = lambda z: (2 * (Ps @ z.ravel()) + 2 * qs) / lam  # noqa: E731
            M = minimize_over_set(f, g, self.Mset, shape, tol=self.tol, x0=self.Mset.project(M0))
            self.method = "constrained (accelerated projected gradient, minimize_over_set)"
            self.gap = None
        self.M = M
        self.total = self.objective(M)
        return M

    def objective(self, M) -> float:
        """``J(vec M)`` of ``M`` ``(H, m, d)`` from the quadratic of the last :meth:`fit` (exact, without a rollout).

        Parameters
        ----------
        M : array_like
        """
        if self.P is None:
            raise InvalidArgumentError("objective: call fit(W) or best_cumulative(trace) first")
        p = np.asarray(M, float).ravel()
        return float(p @ self.P @ p + 2 * self.q @ p + self.c)

    def evaluate(self, M, W, x0=None) -> np.ndarray:
        """Per-round costs (T,) of playing the fixed ``M`` from the start on ``W`` from ``x0``.

        Parameters
        ----------
        M, W, x0 : numpy.ndarray
            ``(H, m, d)``; as in :meth:`fit`.
        """
        M = as_array(M, "M", shape=(self.H, self.m, self.d))
        W = as_array(W, "W", shape=(None, self.d))
        T = W.shape[0]
        x0 = np.zeros(self.d) if x0 is None else as_array(x0, "x0", shape=(self.d,))
        X, U = self.system.simulate(x0, U=dfc_controls(M, W), W=W, K=self._gain(T), return_controls=True)
        return self.cost.value(X[:-1], U)

    def best_cumulative(self, trace) -> np.ndarray:
        """Running cost ``Σ_{s<=t} c_s`` of the best ``M`` for the whole horizon on the realised disturbances of
        ``trace`` (not anytime).

        Parameters
        ----------
        trace : olc.Trace
        """
        W, x0 = _realised(trace, self.d, self.x0)
        self.fit(W, x0)
        return np.cumsum(self.evaluate(self.M, W, x0))


def _solve(P, q):
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    try:
        return cho_solve(cho_factor(P), q)
    except LinAlgError:
        return np.linalg.lstsq(P, q, rcond=None)[0]


def _ball_qp(P, q, radii, shape):
    """``min pᵀPp + 2qᵀp`` s.t. ``||p_i||_2 <= r_i`` per lag block, through its concave dual
    ``max_{λ>=0} −qᵀ(P+Λ)⁻¹q − Σ λ_i r_i²`` (``Λ`` = λ_i on lag i's block), solved with L-BFGS-B
    on the H multipliers (gradient ``r_i² − ||p_i(λ)||²``). Returns ``(M, dual value)``; the dual
    value lower-bounds the optimum, so ``J(M) − dual`` certifies the accuracy."""
    from scipy.optimize import minimize

    H = len(radii)
    blk = int(np.prod(shape[1:]))
    r2 = np.asarray(radii, float) ** 2
    eye = np.eye(P.shape[0])

    def pvec(lam):
        return -_solve(P + np.repeat(lam, blk) * eye, q)

    def phi(lam):  # negated dual
        p = pvec(lam)
        val = float(-q @ p + lam @ r2)  # qᵀ(P+Λ)⁻¹q = −qᵀp
        grad = r2 - np.sum(p.reshape(H, blk) ** 2, axis=1)
        return val, grad

    lam0 = np.full(H, 1e-3)
    res = minimize(phi, lam0, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * H,
                   options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-13})
    lam_bfgs = np.maximum(res.x, 0.0)
    lam = lam_bfgs.copy()
    # Newton polish on the active multipliers: solve ||p_i(λ)||² = r_i² for the lags with λ_i > 0
    pn2 = np.sum(pvec(lam).reshape(H, blk) ** 2, axis=1)
    act = np.flatnonzero((lam > 1e-12 * max(1.0, float(np.max(lam)))) & (pn2 >= (1 - 1e-4) * r2))
    lam[np.setdiff1d(np.arange(H), act)] = 0.0
    for _ in range(20):
        if act.size == 0:
            break
        S = np.linalg.inv(P + np.repeat(lam, blk) * eye)
        pb = (-S @ q).reshape(H, blk)
        F = np.sum(pb[act] ** 2, axis=1) - r2[act]
        if np.max(np.abs(F)) <= 1e-15 * max(1.0, float(np.max(r2))):
            break
        Sb = S.reshape(H, blk, H, blk)[act][:, :, act]
        J = -2 * np.einsum("ia,iajb,jb->ij", pb[act], Sb, pb[act])
        try:
            new = lam.copy()
            new[act] = lam[act] - np.linalg.solve(J, F)
        except np.linalg.LinAlgError:
            break
        if np.any(new < 0) or not np.all(np.isfinite(new)):
            break
        lam = new

    def gap(lv):
        pv = pvec(lv)
        norms = np.sqrt(np.sum(pv.reshape(H, blk) ** 2, axis=1))
        pv = (pv.reshape(H, blk) * np.minimum(1.0, np.sqrt(r2) / np.maximum(norms, 1e-300))[:, None]).ravel()
        return float(pv @ P @ pv + 2 * q @ pv) + phi(lv)[0]

    lam = min((lam_bfgs, lam), key=gap)
    return pvec(lam).reshape(shape), -phi(lam)[0]


class BestLinearFeedback:
    """The best static state feedback ``u_t = −K x_t`` in hindsight on the realised disturbances (module
    docstring: the search); ``.K`` the result, ``.K_lqr`` the start, ``.total`` its total cost, ``.improved``
    whether the search beat the LQR start.

    Parameters
    ----------
    system, cost, x0
        As :class:`BestDFC`.
    K0 : array_like, optional
        Start (default: the LQR gain; for LTV systems the gain of the average dynamics, or zero if that fails).
    maxiter : int
        Bound on the L-BFGS iterations.
    """

    anytime = False

    def __init__(self, system, cost, K0=None, x0=None, maxiter: int = 200):
        self.system = check_system(system)
        self.cost = as_quadratic_cost(cost, system)
        self.d, self.m = system.state_dim, system.control_dim
        self.x0 = None if x0 is None else as_array(x0, "x0", shape=(self.d,))
        self.maxiter = positive_int(maxiter, "maxiter")
        self._K0 = None if K0 is None else as_array(K0, "K0", shape=(self.m, self.d))
        self.K = self.K_lqr = self.total = self.improved = None

    def _start(self, A_seq, B_seq):
        if self._K0 is not None:
            return self._K0
        if not self.system.is_time_varying:
            return lqr_gain(A_seq[0], B_seq[0], self.cost.Q, self.cost.R)[0]
        try:
            return lqr_gain(A_seq.mean(axis=0), B_seq.mean(axis=0), self.cost.Q, self.cost.R)[0]
        except InvalidArgumentError:
            return np.zeros((self.m, self.d))

    def _stabilises(self, K, A_seq, B_seq) -> bool:
        if not self.system.is_time_varying:
            return bool(np.max(np.abs(np.linalg.eigvals(A_seq[0] - B_seq[0] @ K))) < 1)
        return _ltv_contracts(np.asarray(A_seq - B_seq @ K), "K")[0]

    def cost_and_grad(self, K, W, x0, A_seq, B_seq):
        """Total realised cost of ``u = −K x`` and its exact gradient in ``K`` (adjoint method).

        Parameters
        ----------
        K, W, x0, A_seq, B_seq : numpy.ndarray
            Gain ``(m, d)``, disturbances ``(T, d)``, initial state, dynamics ``(T, d, d)`` and ``(T, d, m)``.
        """
        Q, R = self.cost.Q, self.cost.R
        T = W.shape[0]
        Acl = A_seq - B_seq @ K
        X = np.empty((T + 1, self.d))
        X[0] = x0
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(T):
                X[t + 1] = Acl[t] @ X[t] + W[t]
            Xs = X[:-1]
            S = Q + K.T @ R @ K
            J = float(np.einsum("ti,ij,tj->", Xs, S, Xs))
            if not np.isfinite(J):
                return np.inf, np.zeros_like(K)
            lam = np.zeros(self.d)  # λ_{t+1} = ∂J/∂x_{t+1}
            gK = np.zeros_like(K)
            S2 = S + S.T
            for t in range(T - 1, -1, -1):
                gK -= np.outer(B_seq[t].T @ lam, Xs[t])
                lam = S2 @ Xs[t] + Acl[t].T @ lam
            gK += 2 * R @ K @ (Xs.T @ Xs)
        return J, gK

    def fit(self, W, x0=None) -> np.ndarray:
        """The best stabilising ``K`` found for the disturbances ``W`` from ``x0``.

        Parameters
        ----------
        W, x0 : numpy.ndarray
        """
        from scipy.optimize import minimize

        W = as_array(W, "W", shape=(None, self.d))
        T = W.shape[0]
        x0 = np.zeros(self.d) if x0 is None else as_array(x0, "x0", shape=(self.d,))
        A_seq, B_seq = (np.asarray(a) for a in self.system.matrices(T))
        K0 = self._start(A_seq, B_seq)
        self.K_lqr = K0
        shape = K0.shape
        J0, _ = self.cost_and_grad(K0, W, x0, A_seq, B_seq)
        best = {"J": J0 if self._stabilises(K0, A_seq, B_seq) else np.inf, "K": K0}
        scale = max(abs(J0), 1e-300) if np.isfinite(J0) else 1.0

        def fun(k):
            K = k.reshape(shape)
            J, g = self.cost_and_grad(K, W, x0, A_seq, B_seq)
            if not np.isfinite(J):  # overflow: a huge finite value makes the line search back off
                return 1e30, np.zeros_like(k)
            if J < best["J"] and self._stabilises(K, A_seq, B_seq):  # only stabilising gains count
                best["J"], best["K"] = J, K.copy()
            return J / scale, g.ravel() / scale

        try:
            minimize(fun, K0.ravel(), jac=True, method="L-BFGS-B",
                     options={"maxiter": self.maxiter, "ftol": 1e-13, "gtol": 1e-10})
        except (ValueError, FloatingPointError):  # pragma: no cover - the best K so far is kept
            pass
        if not np.isfinite(best["J"]):
            raise InvalidArgumentError("K0: the starting gain does not stabilise the system and the search found "
                                       "no stabilising gain; pass a stabilising K0")
        self.K, self.total = best["K"], float(best["J"])
        self.improved = bool(self.total < J0)
        return self.K

    def evaluate(self, K, W, x0=None) -> np.ndarray:
        """Per-round costs (T,) of ``u = −K x`` on ``W`` from ``x0`` (as in :meth:`fit`).

        Parameters
        ----------
        K, W, x0 : numpy.ndarray
        """
        K = as_array(K, "K", shape=(self.m, self.d))
        W = as_array(W, "W", shape=(None, self.d))
        x0 = np.zeros(self.d) if x0 is None else as_array(x0, "x0", shape=(self.d,))
        X, U = self.system.simulate(x0, W=W, K=K, return_controls=True)
        return self.cost.value(X[:-1], U)

    def best_cumulative(self, trace) -> np.ndarray:
        """Running cost of the best ``K`` for the whole horizon on the realised disturbances of ``trace``.

        Parameters
        ----------
        trace : olc.Trace
        """
        W, x0 = _realised(trace, self.d, self.x0)
        self.fit(W, x0)
        return np.cumsum(self.evaluate(self.K, W, x0))
