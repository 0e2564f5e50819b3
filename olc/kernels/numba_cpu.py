"""Numba CPU kernels (``@njit(cache=True)``, ``prange`` over the batch).

Same signatures and return values as :mod:`olc.kernels.reference` (the semantics); this
module is imported only when the ``numba`` backend is used, and every kernel compiles
lazily on its first call (then loads from numba's on-disk cache).

Layout: system-major. Each thread owns whole systems and streams one system's trajectory
(``W[b]``, ``A[b]``, ``costs[b]`` are contiguous), which keeps the working set of a system in
registers/L1 and lets the hardware prefetcher stream the inputs; a step-major loop over the
same data (``W[:, t]``) touches a new page for every system and was measured many times
slower. The one exception is a *shared* LTI system with a large state (d ≥ 16), where the
step is batched as a GEMM over the systems (``X_{t+1} = X_t (A − BK)ᵀ + …``) so BLAS does the
flops, and a fused numba pass handles the rest of the step.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._prep import GPCProblem, RolloutProblem, eigen_setup

__all__ = ["rollout", "gpc_rollout", "interval_norms", "optimizer_grid"]

_GEMM_MIN_D = 16


@njit(cache=True, parallel=True)
def _rollout_kernel(A, Bm, K, U, M, W, x0, Q, R, has_U, has_M, store_x, store_u,
                    costs, X, Uo, first_bad):
    B, T, d = W.shape
    m = Bm.shape[3]
    H = M.shape[1]
    a_b = 1 if A.shape[0] > 1 else 0
    a_t = 1 if A.shape[1] > 1 else 0
    b_b = 1 if Bm.shape[0] > 1 else 0
    b_t = 1 if Bm.shape[1] > 1 else 0
    k_b = 1 if K.shape[0] > 1 else 0
    m_b = 1 if M.shape[0] > 1 else 0
    for b in prange(B):
        x = x0[b].copy()
        xn = np.empty(d, x0.dtype)
        u = np.empty(m, x0.dtype)
        ib = b * a_b
        jb = b * b_b
        Kb = K[b * k_b]
        Mb = M[b * m_b]
        Wb = W[b]
        if store_x:
            X[b, 0] = x
        bad = -1
        for t in range(T):
            # control u_t = -K x_t + U_t + sum_i M_i w_{t-i}
            for k in range(m):
                acc = 0.0
                for j in range(d):
                    acc -= Kb[k, j] * x[j]
                if has_U:
                    acc += U[b, t, k]
                if has_M:
                    for i in range(min(H, t)):
                        for j in range(d):
                            acc += Mb[i, k, j] * Wb[t - 1 - i, j]
                u[k] = acc
            # cost
            c = 0.0
            for i in range(d):
                qi = 0.0
                for j in range(d):
                    qi += Q[i, j] * x[j]
                c += x[i] * qi
            for i in range(m):
                ri = 0.0
                for j in range(m):
                    ri += R[i, j] * u[j]
                c += u[i] * ri
            costs[b, t] = c
            if store_u:
                Uo[b, t] = u
            # x_{t+1} = A_t x_t + B_t u_t + w_t
            ta = t * a_t
            tb = t * b_t
            fin = True
            for i in range(d):
                acc = Wb[t, i]
                for j in range(d):
                    acc += A[ib, ta, i, j] * x[j]
                for j in range(m):
                    acc += Bm[jb, tb, i, j] * u[j]
                xn[i] = acc
                fin = fin and (abs(acc) < np.inf)
            for i in range(d):
                x[i] = xn[i]
            if store_x:
                X[b, t + 1] = x
            if not fin:
                bad = t + 1
                break
        first_bad[b] = bad
        if bad >= 0:
            for t in range(bad, T):
                costs[b, t] = np.nan
                if store_u:
                    for k in range(m):
                        Uo[b, t, k] = np.nan
            if store_x:
                for t in range(bad, T + 1):
                    for i in range(d):
                        X[b, t, i] = np.nan


@njit(cache=True, nogil=True)
def _lti_gemm_step(t, Y, X, U, M, W, Bsh, Q, R, qdiag, rdiag, has_U, has_M, store_x, store_u,
                   costs, Xo, Uo, first_bad):
    """One step of the shared-LTI path after BLAS computed Y = X_t [(A−BK)ᵀ | −Kᵀ]."""
    B, d = X.shape
    m = Bsh.shape[1]
    H = M.shape[1]
    m_b = 1 if M.shape[0] > 1 else 0
    v = np.empty(m, X.dtype)           # open-loop part U_t + DFC
    for b in range(B):
        if first_bad[b] >= 0:
            continue
        for k in range(m):
            acc = 0.0
            if has_U:
                acc += U[b, t, k]
            if has_M:
                Mb = M[b * m_b]
                for i in range(min(H, t)):
                    for j in range(d):
                        acc += Mb[i, k, j] * W[b, t - 1 - i, j]
            v[k] = acc
        c = 0.0
        if qdiag:
            for i in range(d):
                c += Q[i, i] * X[b, i] * X[b, i]
        else:
            for i in range(d):
                qi = 0.0
                for j in range(d):
                    qi += Q[i, j] * X[b, j]
                c += X[b, i] * qi
        for k in range(m):
            Y[b, d + k] += v[k]
        if rdiag:
            for k in range(m):
                c += R[k, k] * Y[b, d + k] * Y[b, d + k]
        else:
            for i in range(m):
                ri = 0.0
                for j in range(m):
                    ri += R[i, j] * Y[b, d + j]
                c += Y[b, d + i] * ri
        costs[b, t] = c
        if store_u:
            for k in range(m):
                Uo[b, t, k] = Y[b, d + k]
        fin = True
        for i in range(d):
            acc = Y[b, i] + W[b, t, i]
            if has_U or has_M:
                for k in range(m):
                    acc += Bsh[i, k] * v[k]
            X[b, i] = acc
            fin = fin and (abs(acc) < np.inf)
        if store_x:
            for i in range(d):
                Xo[b, t + 1, i] = X[b, i]
        if not fin:
            first_bad[b] = t + 1


def _is_diag(Q):
    return bool(np.all(Q == np.diag(np.diag(Q))))


def _rollout_gemm(p: RolloutProblem, return_states, return_controls):
    B, T, d, m = p.B, p.T, p.d, p.m
    dt = p.W.dtype
    A, Bsh, K = p.A[0, 0], p.Bm[0, 0], p.K[0]
    G = np.ascontiguousarray(np.concatenate([(A - Bsh @ K).T, -K.T], axis=1), dtype=dt)   # (d, d+m)
    X = p.x0.copy()
    Y = np.empty((B, d + m), dt)
    costs = np.empty((B, T), dt)
    Xo = np.empty((B, T + 1, d), dt) if return_states else np.empty((1, 1, 1), dt)
    Uo = np.empty((B, T, m), dt) if return_controls else np.empty((1, 1, 1), dt)
    if return_states:
        Xo[:, 0] = X
    first_bad = np.full(B, -1, np.int64)
    qd, rd = _is_diag(p.Q), _is_diag(p.R)
    Bc = np.ascontiguousarray(Bsh)
    with np.errstate(all="ignore"):
        for t in range(T):
            np.matmul(X, G, out=Y)
            _lti_gemm_step(t, Y, X, p.U, p.M, p.W, Bc, p.Q, p.R, qd, rd, p.has_U, p.has_M,
                           return_states, return_controls, costs, Xo, Uo, first_bad)
    for b in np.flatnonzero(first_bad >= 0):
        s = first_bad[b]
        costs[b, s:] = np.nan
        if return_states:
            Xo[b, s:] = np.nan
        if return_controls:
            Uo[b, s:] = np.nan
    return costs, (Xo if return_states else None), (Uo if return_controls else None), first_bad


def rollout(p: RolloutProblem, return_states: bool = False, return_controls: bool = False):
    """Batched rollout; same contract as :func:`olc.kernels.reference.rollout`."""
    shared = p.A.shape[:2] == (1, 1) and p.Bm.shape[:2] == (1, 1) and p.K.shape[0] == 1
    if shared and p.d >= _GEMM_MIN_D and p.B >= 64:
        return _rollout_gemm(p, return_states, return_controls)
    dt = p.W.dtype
    B, T, d, m = p.B, p.T, p.d, p.m
    costs = np.empty((B, T), dt)
    X = np.empty((B, T + 1, d), dt) if return_states else np.empty((1, 1, 1), dt)
    Uo = np.empty((B, T, m), dt) if return_controls else np.empty((1, 1, 1), dt)
    first_bad = np.empty(B, np.int64)
    _rollout_kernel(p.A, p.Bm, p.K, p.U, p.M, p.W, p.x0, p.Q, p.R, p.has_U, p.has_M,
                    return_states, return_controls, costs, X, Uo, first_bad)
    return costs, (X if return_states else None), (Uo if return_controls else None), first_bad


# ----------------------------------------------------------------------------------------- GPC

@njit(cache=True)
def _sym_eig(G, V, lam):
    """Cyclic Jacobi eigen-decomposition of a small symmetric matrix: G = V diag(lam) Vᵀ.

    G is overwritten. Converges to machine precision in a handful of sweeps for n ≤ ~10.
    """
    n = G.shape[0]
    for i in range(n):
        for j in range(n):
            V[i, j] = 1.0 if i == j else 0.0
    for _sweep in range(50):
        off = 0.0
        diag = 0.0
        for i in range(n):
            diag += G[i, i] * G[i, i]
            for j in range(i + 1, n):
                off += G[i, j] * G[i, j]
        if off <= 1e-32 * diag or off == 0.0:
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = G[p, q]
                if apq == 0.0:
                    continue
                theta = (G[q, q] - G[p, p]) / (2.0 * apq)
                tt = (1.0 if theta >= 0 else -1.0) / (abs(theta) + np.sqrt(theta * theta + 1.0))
                c = 1.0 / np.sqrt(tt * tt + 1.0)
                s = tt * c
                for k in range(n):
                    gkp = G[k, p]
                    gkq = G[k, q]
                    G[k, p] = c * gkp - s * gkq
                    G[k, q] = s * gkp + c * gkq
                for k in range(n):
                    gpk = G[p, k]
                    gqk = G[q, k]
                    G[p, k] = c * gpk - s * gqk
                    G[q, k] = s * gpk + c * gqk
                for k in range(n):
                    vkp = V[k, p]
                    vkq = V[k, q]
                    V[k, p] = c * vkp - s * vkq
                    V[k, q] = s * vkp + c * vkq
    for i in range(n):
        lam[i] = G[i, i]


@njit(cache=True)
def _project_op(Mi, r):
    """Clip the singular values of Mi (m, d) at r, in place (via the smaller Gram matrix)."""
    m, d = Mi.shape
    n = m if m <= d else d
    G = np.zeros((n, n), Mi.dtype)
    if m <= d:
        for i in range(m):
            for j in range(m):
                acc = 0.0
                for k in range(d):
                    acc += Mi[i, k] * Mi[j, k]
                G[i, j] = acc
    else:
        for i in range(d):
            for j in range(d):
                acc = 0.0
                for k in range(m):
                    acc += Mi[k, i] * Mi[k, j]
                G[i, j] = acc
    V = np.empty((n, n), Mi.dtype)
    lam = np.empty(n, Mi.dtype)
    _sym_eig(G, V, lam)
    big = False
    for i in range(n):
        if lam[i] > r * r:
            big = True
    if not big:
        return
    c = np.empty(n, Mi.dtype)
    for i in range(n):
        c[i] = r / np.sqrt(lam[i]) if lam[i] > r * r else 1.0
    S = np.zeros((n, n), Mi.dtype)        # S = V diag(c) Vᵀ
    for i in range(n):
        for j in range(n):
            acc = 0.0
            for k in range(n):
                acc += V[i, k] * c[k] * V[j, k]
            S[i, j] = acc
    out = np.empty_like(Mi)
    if m <= d:                            # P(M) = S M
        for i in range(m):
            for j in range(d):
                acc = 0.0
                for k in range(m):
                    acc += S[i, k] * Mi[k, j]
                out[i, j] = acc
    else:                                 # P(M) = M S
        for i in range(m):
            for j in range(d):
                acc = 0.0
                for k in range(d):
                    acc += Mi[i, k] * S[k, j]
                out[i, j] = acc
    Mi[:, :] = out


@njit(cache=True, parallel=True)
def _gpc_kernel(A, Bm, K, W, x0, Q, R, Mall, lrs, radii, op, store_u, costs, Uo, first_bad):
    B, T, d = W.shape
    m = Bm.shape[3]
    H = Mall.shape[1]
    a_b = 1 if A.shape[0] > 1 else 0
    a_t = 1 if A.shape[1] > 1 else 0
    b_b = 1 if Bm.shape[0] > 1 else 0
    b_t = 1 if Bm.shape[1] > 1 else 0
    k_b = 1 if K.shape[0] > 1 else 0
    dt = x0.dtype
    for b in prange(B):
        M = Mall[b]
        Kb = K[b * k_b]
        Ab = A[b * a_b]
        Bb = Bm[b * b_b]
        Wp = np.zeros((T + 2 * H, d), dt)       # w_s at row s + 2H
        for t in range(T):
            for i in range(d):
                Wp[t + 2 * H, i] = W[b, t, i]
        x = x0[b].copy()
        xn = np.empty(d, dt)
        u = np.empty(m, dt)
        y = np.empty(d, dt)
        yn = np.empty(d, dt)
        v = np.empty(m, dt)
        gy = np.empty(d, dt)
        gyn = np.empty(d, dt)
        dfc = np.empty((H + 1, m), dt)
        gv = np.empty((H + 1, m), dt)
        bad = -1
        for t in range(T):
            base = t + 2 * H
            # 1. play u_t = -K x_t + sum_i M_i w_{t-i}
            for k in range(m):
                acc = 0.0
                for j in range(d):
                    acc -= Kb[k, j] * x[j]
                for i in range(H):
                    for j in range(d):
                        acc += M[i, k, j] * Wp[base - 1 - i, j]
                u[k] = acc
            # 2. cost
            c = 0.0
            for i in range(d):
                qi = 0.0
                for j in range(d):
                    qi += Q[i, j] * x[j]
                c += x[i] * qi
            for i in range(m):
                ri = 0.0
                for j in range(m):
                    ri += R[i, j] * u[j]
                c += u[i] * ri
            costs[b, t] = c
            if store_u:
                for k in range(m):
                    Uo[b, t, k] = u[k]
            # 3. x_{t+1}
            At = Ab[t * a_t]
            Bt = Bb[t * b_t]
            fin = True
            for i in range(d):
                acc = Wp[base, i]
                for j in range(d):
                    acc += At[i, j] * x[j]
                for j in range(m):
                    acc += Bt[i, j] * u[j]
                xn[i] = acc
                fin = fin and (abs(acc) < np.inf)
            for i in range(d):
                x[i] = xn[i]
            if not fin:
                bad = t + 1
                break
            # 4. counterfactual rollout from y_{t-H} = 0; dfc[j] = sum_i M_i w_{s_j - i}, s_j = t-H+j
            for jj in range(H + 1):
                r0 = t - H + jj + 2 * H - 1            # row of w_{s_j - 1}
                for k in range(m):
                    acc = 0.0
                    for i in range(H):
                        for j in range(d):
                            acc += M[i, k, j] * Wp[r0 - i, j]
                    dfc[jj, k] = acc
            for i in range(d):
                y[i] = 0.0
            for jj in range(H):
                s = t - H + jj
                sa = s if s > 0 else 0
                As_ = Ab[sa * a_t]
                Bs_ = Bb[sa * b_t]
                for k in range(m):
                    acc = dfc[jj, k]
                    for j in range(d):
                        acc -= Kb[k, j] * y[j]
                    v[k] = acc
                for i in range(d):
                    acc = Wp[s + 2 * H, i]
                    for j in range(d):
                        acc += As_[i, j] * y[j]
                    for j in range(m):
                        acc += Bs_[i, j] * v[j]
                    yn[i] = acc
                for i in range(d):
                    y[i] = yn[i]
            for k in range(m):
                acc = dfc[H, k]
                for j in range(d):
                    acc -= Kb[k, j] * y[j]
                v[k] = acc
            # reverse mode: gv_H = (R + Rᵀ) v_H ; gy_H = (Q + Qᵀ) y_H − Kᵀ gv_H
            for k in range(m):
                acc = 0.0
                for j in range(m):
                    acc += (R[k, j] + R[j, k]) * v[j]
                gv[H, k] = acc
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += (Q[i, j] + Q[j, i]) * y[j]
                for k in range(m):
                    acc -= Kb[k, i] * gv[H, k]
                gy[i] = acc
            for jj in range(H - 1, -1, -1):
                s = t - H + jj
                sa = s if s > 0 else 0
                As_ = Ab[sa * a_t]
                Bs_ = Bb[sa * b_t]
                for k in range(m):
                    acc = 0.0
                    for i in range(d):
                        acc += Bs_[i, k] * gy[i]
                    gv[jj, k] = acc
                if jj > 0:
                    for j in range(d):
                        acc = 0.0
                        for i in range(d):
                            acc += As_[i, j] * gy[i]
                        for k in range(m):
                            acc -= Kb[k, j] * gv[jj, k]
                        gyn[j] = acc
                    for j in range(d):
                        gy[j] = gyn[j]
            # 5. M_i <- Proj(M_i - lr * sum_j gv_j w_{s_j - i}ᵀ)
            lr = lrs[t]
            for i in range(H):
                for k in range(m):
                    for j in range(d):
                        acc = 0.0
                        for jj in range(H + 1):
                            acc += gv[jj, k] * Wp[t - H + jj + 2 * H - 1 - i, j]
                        M[i, k, j] -= lr * acc
                r = radii[i]
                if r < np.inf:
                    if op:
                        _project_op(M[i], r)
                    else:
                        nrm = 0.0
                        for k in range(m):
                            for j in range(d):
                                nrm += M[i, k, j] * M[i, k, j]
                        nrm = np.sqrt(nrm)
                        if nrm > r:
                            sc = r / nrm
                            for k in range(m):
                                for j in range(d):
                                    M[i, k, j] *= sc
        first_bad[b] = bad
        if bad >= 0:
            for t in range(bad, T):
                costs[b, t] = np.nan
                if store_u:
                    for k in range(m):
                        Uo[b, t, k] = np.nan


def gpc_rollout(p: GPCProblem, return_controls: bool = False):
    """Batched GPC; same contract as :func:`olc.kernels.reference.gpc_rollout`."""
    dt = p.W.dtype
    costs = np.empty((p.B, p.T), dt)
    Uo = np.empty((p.B, p.T, p.m), dt) if return_controls else np.empty((1, 1, 1), dt)
    first_bad = np.empty(p.B, np.int64)
    M = p.M0.copy()
    _gpc_kernel(p.A, p.Bm, p.K, p.W, p.x0, p.Q, p.R, M, p.lrs, p.radii, p.op, return_controls,
                costs, Uo, first_bad)
    return costs, (Uo if return_controls else None), M, first_bad


# ------------------------------------------------------------------------------ interval norms

@njit(cache=True)
def _spec_norm(P):
    """Largest singular value of P via the largest eigenvalue of (P/c)ᵀ(P/c), c = max|P|."""
    c = 0.0
    for i in range(P.shape[0]):
        for j in range(P.shape[1]):
            a = abs(P[i, j])
            if not a < np.inf:
                return np.inf
            if a > c:
                c = a
    if c == 0.0:
        return 0.0
    S = P / c
    G = S.T @ S
    lam = np.linalg.eigvalsh(G)
    top = lam[-1]
    return c * np.sqrt(top if top > 0.0 else 0.0)


@njit(cache=True, parallel=True)
def _interval_kernel(As, out):
    T, d, _ = As.shape
    L = out.shape[1]
    npairs = (T + 1) // 2
    for pidx in prange(npairs):
        p0 = np.int64(pidx)
        for which in range(2):
            r = p0 + which * (T - 1 - 2 * p0)          # pair the long row p0 with the short row T-1-p0
            if which == 1 and r == p0:
                continue
            P = As[r].copy()
            out[r, 0] = _spec_norm(P)
            n = min(L, T - r)
            for ell in range(1, n):
                P = As[r + ell] @ P
                out[r, ell] = _spec_norm(P)


def interval_norms(As, max_length: int):
    """Interval spectral norms; same contract as :func:`olc.kernels.reference.interval_norms`."""
    T = As.shape[0]
    out = np.full((T, max_length), np.nan, dtype=As.dtype)
    _interval_kernel(As, out)
    return out


# ---------------------------------------------------------------------------- optimizer grid

@njit(cache=True, parallel=True, fastmath={"reassoc", "contract", "nsz"})
def _grid_kernel(lam, c, z0, f0, lrs, momenta, T, nesterov, blowup, losses, Z, diverged):
    G = lrs.shape[0]
    d = lam.shape[0]
    for g in prange(G):
        z = z0.copy()
        zp = z0.copy()
        lr = lrs[g]
        mu = momenta[g]
        losses[g, 0] = f0
        div = False
        for k in range(T):
            f = 0.0
            if nesterov:
                for j in range(d):
                    yj = z[j] + mu * (z[j] - zp[j])
                    zn = yj - lr * (lam[j] * yj + c[j])
                    zp[j] = z[j]
                    z[j] = zn
                    f += (0.5 * lam[j] * zn + c[j]) * zn
            else:
                for j in range(d):
                    zn = z[j] - lr * (lam[j] * z[j] + c[j]) + mu * (z[j] - zp[j])
                    zp[j] = z[j]
                    z[j] = zn
                    f += (0.5 * lam[j] * zn + c[j]) * zn
            if not abs(f) <= blowup:
                div = True
                for kk in range(k + 1, T + 1):
                    losses[g, kk] = np.inf
                break
            losses[g, k + 1] = f
        diverged[g] = div
        for j in range(d):
            Z[g, j] = np.nan if div else z[j]


def optimizer_grid(A, b, x0, lrs, momenta, T, *, nesterov=False, precond=None, blowup=1e100):
    """Grid of optimizer rollouts; same contract as :func:`olc.kernels.reference.optimizer_grid`.

    Runs in the eigenbasis of the (preconditioned) quadratic: results equal the reference up
    to rounding (a few ulps times the condition of the change of basis).
    """
    lam, _, c, z0, S = eigen_setup(A, b, x0, precond)
    f0 = float(0.5 * x0 @ A @ x0 + b @ x0)
    G = lrs.shape[0]
    losses = np.empty((G, T + 1))
    Z = np.empty((G, A.shape[0]))
    diverged = np.empty(G, np.bool_)
    _grid_kernel(lam, c, z0, f0, lrs, momenta, T, bool(nesterov), float(blowup), losses, Z, diverged)
    return losses, Z @ S.T, diverged
