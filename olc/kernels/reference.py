"""NumPy reference kernels: the semantics every other backend must reproduce.

These functions are written for clarity (vectorised over the batch with ``matmul``/``einsum``,
one Python iteration per time step); :mod:`olc.kernels.numba_cpu` and
:mod:`olc.kernels.cupy_gpu` implement the same maths and are tested against them.

They take the already-validated, normalised problems of :mod:`olc.kernels._prep` (call the
public entry points in :mod:`olc.kernels`, not these) and return raw arrays; the public layer
turns divergence markers into :class:`olc.errors.DivergenceError`.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_alloc
from ._prep import GPCProblem, RolloutProblem

__all__ = ["rollout", "gpc_rollout", "interval_norms", "optimizer_grid", "project_lags"]


def _at(X, t):
    """Slice time step ``t`` out of a normalised (BX, TX, r, c) dynamics array → (BX, r, c)."""
    return X[:, t if X.shape[1] > 1 else 0]


def _mv(Mat, v):
    """Batched matrix-vector product with broadcasting: (BX, r, c) @ (B, c) → (B, r)."""
    return (Mat @ v[:, :, None])[:, :, 0]


def _vm(v, Mat):
    """Batched vector-matrix product vᵀ Mat: (B, r) , (BX, r, c) → (B, c)."""
    return (v[:, None, :] @ Mat)[:, 0, :]


def _quad(v, Q):
    """Row-wise quadratic form vᵀ Q v for v (B, n), Q (n, n)."""
    return np.sum((v @ Q) * v, axis=1)


def rollout(p: RolloutProblem, return_states: bool = False, return_controls: bool = False):
    """Batched LTV/LTI rollout under ``u_t = −K x_t + U_t + Σ_{i=1}^{H} M^{[i]} w_{t−i}``.

    ``x_{t+1} = A_t x_t + B_t u_t + w_t``; cost ``c_t = x_tᵀQx_t + u_tᵀRu_t``. Returns
    ``(costs (B, T), states (B, T+1, d) | None, controls (B, T, m) | None, first_bad (B,))``
    where ``first_bad[b]`` is the first step s ≥ 1 with a non-finite ``x_s`` (−1: none); from
    that step on the system's costs, states and controls are NaN.

    Parameters
    ----------
    p : olc.kernels._prep.RolloutProblem
        Validated inputs (:func:`olc.kernels._prep.prep_rollout`).
    return_states, return_controls : bool
    """
    B, T, d, m = p.B, p.T, p.d, p.m
    dt = p.W.dtype
    x = p.x0.copy()
    costs = np.empty((B, T), dt)
    states = np.empty((B, T + 1, d), dt) if return_states else None
    controls = np.empty((B, T, m), dt) if return_controls else None
    if states is not None:
        states[:, 0] = x
    first_bad = np.full(B, -1, dtype=np.int64)
    H = p.M.shape[1]
    with np.errstate(all="ignore"):
        for t in range(T):
            u = -_mv(p.K, x)
            if p.has_U:
                u = u + p.U[:, t]
            if p.has_M:
                for i in range(1, min(H, t) + 1):
                    u = u + _mv(p.M[:, i - 1], p.W[:, t - i])
            costs[:, t] = _quad(x, p.Q) + _quad(u, p.R)
            if controls is not None:
                controls[:, t] = u
            x = _mv(_at(p.A, t), x) + _mv(_at(p.Bm, t), u) + p.W[:, t]
            if states is not None:
                states[:, t + 1] = x
            bad = (~np.all(np.isfinite(x), axis=1)) & (first_bad < 0)
            first_bad[bad] = t + 1
    for b in np.flatnonzero(first_bad >= 0):
        s = first_bad[b]
        costs[b, s:] = np.nan
        if states is not None:
            states[b, s:] = np.nan
        if controls is not None:
            controls[b, s:] = np.nan
    return costs, states, controls, first_bad


def project_lags(M, radii, op: bool):
    """Per-lag projection Π of docs/gpc-semantics.md step 5, in place on M (B, H, m, d).

    ``op=False``: Frobenius ball ‖M^{[i]}‖_F ≤ r_i (rescaling); ``op=True``: operator-norm ball
    (singular values clipped at r_i). Lags already inside their ball are left untouched; with
    ``op=True`` a lag holding NaN/Inf becomes all NaN (as in the kernels).

    Parameters
    ----------
    M, radii : numpy.ndarray
        ``(B, H, m, d)``; ``(H,)``.
    op : bool
    """
    if not np.any(np.isfinite(radii)):
        return M
    r = radii[None, :]
    if not op:
        nrm = np.sqrt(np.einsum("bimd,bimd->bi", M, M))
        scale = np.where(nrm > r, r / np.where(nrm > 0, nrm, 1.0), 1.0)
        M *= scale[:, :, None, None]
        return M
    bad = ~np.all(np.isfinite(M), axis=(2, 3))     # a NaN/Inf lag becomes NaN (the state diverges next)
    M[bad] = np.nan
    U, s, Vt = np.linalg.svd(np.where(bad[..., None, None], 0.0, M), full_matrices=False)
    outside = (s[..., 0] > r) & ~bad
    if np.any(outside):
        sc = np.minimum(s, r[..., None])
        M[outside] = ((U * sc[..., None, :]) @ Vt)[outside]
    return M


def gpc_rollout(p: GPCProblem, return_controls: bool = False):
    """Batched GPC game, exactly docs/gpc-semantics.md (one learner per system).

    Returns ``(costs (B, T), controls (B, T, m) | None, M (B, H, m, d), first_bad (B,))``; a diverged system's ``M``
    is the one in play at its divergence step. The kernel knows the true disturbance ``w_t`` (it simulates the system)
    and uses it where the semantics recover ``w_t = x_{t+1} − A_t x_t − B_t u_t``; the two agree up to rounding.

    Parameters
    ----------
    p : olc.kernels._prep.GPCProblem
        Validated inputs (:func:`olc.kernels._prep.prep_gpc`).
    return_controls : bool
    """
    B, T, d, m, H = p.B, p.T, p.d, p.m, p.H
    dt = p.W.dtype
    check_alloc(8.0 * B * (H + 1) * H * (d + m + 1) * 2, f"H={H}: the numpy reference's (B, H+1, H, d) windows of "
                f"past disturbances for B={B}, d={d}", "use a smaller H or backend='numba'")
    M = p.M0.copy()
    x = p.x0.copy()
    # w_s lives at Wp[:, s + 2H]; w_s = 0 for s < 0
    Wp = np.concatenate([np.zeros((B, 2 * H, d), dt), p.W], axis=1)
    costs = np.empty((B, T), dt)
    controls = np.empty((B, T, m), dt) if return_controls else None
    first_bad = np.full(B, -1, dtype=np.int64)
    Qs = p.Q + p.Q.T
    Rs = p.R + p.R.T
    lag = np.arange(1, H + 1)
    with np.errstate(all="ignore"):
        for t in range(T):
            # 1-2. play and pay
            win = Wp[:, t - lag + 2 * H]                              # (B, H, d): w_{t-1..t-H}
            u = -_mv(p.K, x) + np.einsum("bimd,bid->bm", M, win)
            costs[:, t] = _quad(x, p.Q) + _quad(u, p.R)
            if controls is not None:
                controls[:, t] = u
            # 3. next state (w_t known to the simulator)
            x = _mv(_at(p.A, t), x) + _mv(_at(p.Bm, t), u) + p.W[:, t]
            bad = (~np.all(np.isfinite(x), axis=1)) & (first_bad < 0)
            first_bad[bad] = t + 1
            # 4. counterfactual loss over s = t-H .. t, window Ω[j, i-1] = w_{s_j - i}
            s = t - H + np.arange(H + 1)
            Om = Wp[:, s[:, None] - lag[None, :] + 2 * H]              # (B, H+1, H, d)
            dfc = np.einsum("bimd,bjid->bjm", M, Om)                   # (B, H+1, m)
            y = np.zeros((B, d), dt)
            for j in range(H):
                sj = max(t - H + j, 0)
                v = -_mv(p.K, y) + dfc[:, j]
                y = _mv(_at(p.A, sj), y) + _mv(_at(p.Bm, sj), v) + Wp[:, t - H + j + 2 * H]
            vH = -_mv(p.K, y) + dfc[:, H]
            # reverse mode
            gv = np.empty((B, H + 1, m), dt)
            gv[:, H] = vH @ Rs
            gy = y @ Qs - _vm(gv[:, H], p.K)
            for j in range(H - 1, -1, -1):
                sj = max(t - H + j, 0)
                gv[:, j] = _vm(gy, _at(p.Bm, sj))
                gy = _vm(gy, _at(p.A, sj)) - _vm(gv[:, j], p.K)
            grad = np.einsum("bjm,bjid->bimd", gv, Om)
            # 5. OGD step and per-lag projection; a diverged system's learner stops with it
            # (its w_t recovered from a non-finite state would be non-finite), so M[b] stays
            # the one in play at the divergence step
            live = first_bad < 0
            if live.all():
                M -= p.lrs[t] * grad
                project_lags(M, p.radii, p.op)
            elif live.any():
                M[live] = project_lags(M[live] - p.lrs[t] * grad[live], p.radii, p.op)
    for b in np.flatnonzero(first_bad >= 0):
        costs[b, first_bad[b]:] = np.nan
        if controls is not None:
            controls[b, first_bad[b]:] = np.nan
    return costs, controls, M, first_bad


def interval_norms(As, max_length: int):
    """All interval spectral norms ‖A_{r+ℓ−1} ⋯ A_r‖₂ (nonconvex-meta-optimization, Def. 3).

    Returns ``(T, max_length)``; entry ``[r, ℓ−1]`` is the norm of the product of the ℓ
    matrices starting at ``r`` (NaN where ``r + ℓ > T``). Vectorised over start indices: for
    each length the running products of all starts advance by one factor.

    Parameters
    ----------
    As : numpy.ndarray
        ``(T, d, d)``.
    max_length : int
    """
    T, d, _ = As.shape
    out = np.full((T, max_length), np.nan, dtype=As.dtype)
    P = np.broadcast_to(np.eye(d, dtype=As.dtype), (T, d, d)).copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for ell in range(min(max_length, T)):
            n = T - ell                       # starts r = 0 .. n-1 still fit
            P = As[ell:ell + n] @ P[:n]
            out[:n, ell] = np.linalg.norm(P, 2, axis=(1, 2)) if np.all(np.isfinite(P)) else _safe_norms(P)
    return out


def _safe_norms(P):
    out = np.full(P.shape[0], np.inf, dtype=P.dtype)
    ok = np.all(np.isfinite(P), axis=(1, 2))
    if np.any(ok):
        out[ok] = np.linalg.norm(P[ok], 2, axis=(1, 2))
    return out


def quad_loss(X, A, b):
    """f(x) = ½ xᵀAx + bᵀx row-wise for X (G, d)."""
    return np.sum((0.5 * (X @ A) + b) * X, axis=1)


def optimizer_grid(A, b, x0, lrs, momenta, T, *, nesterov=False, precond=None, blowup=1e100):
    """Heavy-ball / Nesterov / preconditioned GD on f(x) = ½xᵀAx + bᵀx for every grid point.

    Iterates in the original coordinates (the semantics): heavy ball ``x_{k+1} = x_k − η P ∇f(x_k) + μ (x_k − x_{k−1})``;
    Nesterov ``y_k = x_k + μ(x_k − x_{k−1}), x_{k+1} = y_k − η P ∇f(y_k)``; ``x_{−1} = x_0``; ``P`` the diagonal
    preconditioner (identity if None). A grid point diverges at the first k with non-finite ``f(x_k)`` or
    ``|f(x_k)| > blowup``; its losses from k on are ``inf`` and its final iterate NaN. Returns
    ``(losses (G, T+1), x_final (G, d), diverged (G,))``.

    Parameters
    ----------
    A, b, x0, lrs, momenta, T, nesterov, precond, blowup
        As in :func:`olc.kernels.optimizer_grid`.
    """
    G, d = lrs.shape[0], A.shape[0]
    lr = lrs[:, None]
    mu = momenta[:, None]
    pre = np.ones(d) if precond is None else precond
    X = np.tile(x0, (G, 1))
    Xp = X.copy()
    losses = np.empty((G, T + 1))
    losses[:, 0] = quad_loss(X, A, b)
    with np.errstate(all="ignore"):
        for k in range(T):
            if nesterov:
                Y = X + mu * (X - Xp)
                Xn = Y - lr * ((Y @ A + b) * pre)
            else:
                Xn = X - lr * ((X @ A + b) * pre) + mu * (X - Xp)
            Xp, X = X, Xn
            losses[:, k + 1] = quad_loss(X, A, b)
    bad = ~np.isfinite(losses) | (np.abs(losses) > blowup)
    diverged = np.any(bad, axis=1)
    for g in np.flatnonzero(diverged):
        k = int(np.argmax(bad[g]))
        losses[g, k:] = np.inf
        X[g] = np.nan
    return losses, X, diverged
