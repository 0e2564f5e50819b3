"""GPC games: the batched GPC kernel and its projections onto the DFC set (Frobenius / operator-norm balls)."""

import numpy as np
from numba import njit

from .._prep import GPCProblem
from ._pool import _FM, _dims, _nan_tail, _run


@njit(cache=True, nogil=True)
def _project_op(M, li, r, A, V, sig, tol):
    """Clip the singular values of the lag ``M[li]`` (m, d) at r, in place.

    One-sided (Hestenes) Jacobi SVD of the lag scaled by ``c = max|M|``: ``A`` (n, L) holds the n = min(m, d) columns
    being orthogonalised (M's columns if d <= m, else its rows), ``V`` (n, n) the rotations, ``sig`` (n,) the singular
    values. Then ``P(M) = (A V) diag(min(1, r/σ)) Vᵀ`` (transposed when the rows were used). Working on M itself, not
    on the Gram matrix MᵀM, keeps small singular values to relative accuracy and nothing over/underflows (entries of
    1e±160 are fine). A lag with a NaN/Inf becomes NaN. ``tol``: columns count as orthogonal when
    ``|a_p·a_q| <= tol ‖a_p‖‖a_q‖`` (~ the dtype's eps).
    """
    m, d = M.shape[1], M.shape[2]
    c = 0.0
    for i in range(m):
        for j in range(d):
            a = abs(M[li, i, j])
            if not a < np.inf:                # NaN/Inf lag: propagate NaN (the state diverges next)
                for ii in range(m):
                    for jj in range(d):
                        M[li, ii, jj] = np.nan
                return
            if a > c:
                c = a
    if c == 0.0:
        return
    cols = d <= m
    n = d if cols else m
    L = m if cols else d
    for k in range(n):
        for i in range(L):
            A[k, i] = (M[li, i, k] if cols else M[li, k, i]) / c
        for j in range(n):
            V[k, j] = 1.0 if k == j else 0.0
    for _sweep in range(60):
        rotated = False
        for p in range(n - 1):
            for q in range(p + 1, n):
                al = 0.0
                be = 0.0
                ga = 0.0
                for i in range(L):
                    al += A[p, i] * A[p, i]
                    be += A[q, i] * A[q, i]
                    ga += A[p, i] * A[q, i]
                if ga == 0.0 or abs(ga) <= tol * np.sqrt(al * be):
                    continue
                rotated = True
                zeta = (be - al) / (2.0 * ga)
                t = (1.0 if zeta >= 0 else -1.0) / (abs(zeta) + np.sqrt(1.0 + zeta * zeta))
                cs = 1.0 / np.sqrt(1.0 + t * t)
                sn = cs * t
                for i in range(L):
                    ap = A[p, i]
                    aq = A[q, i]
                    A[p, i] = cs * ap - sn * aq
                    A[q, i] = sn * ap + cs * aq
                for i in range(n):
                    vp = V[i, p]
                    vq = V[i, q]
                    V[i, p] = cs * vp - sn * vq
                    V[i, q] = sn * vp + cs * vq
        if not rotated:
            break
    rs = r / c
    big = False
    for k in range(n):
        acc = 0.0
        for i in range(L):
            acc += A[k, i] * A[k, i]
        sig[k] = np.sqrt(acc)
        if sig[k] > rs:
            big = True
    if not big:
        return
    for k in range(n):                        # column k of A V becomes min(σ_k, r/c) u_k, times c
        f = (rs / sig[k] if sig[k] > rs else 1.0) * c
        for i in range(L):
            A[k, i] *= f
    for i in range(L):                        # P = (A V) diag(.) Vᵀ: entry (i, j) = Σ_k A[k, i] V[j, k]
        for j in range(n):
            acc = 0.0
            for k in range(n):
                acc += A[k, i] * V[j, k]
            if cols:
                M[li, i, j] = acc
            else:
                M[li, j, i] = acc


@njit(cache=True, nogil=True)
def _gpc_project(Mr, radii, op, A, V, sig, Ml, tol):
    """Step 5's projection Π on the lag-reversed ``Mr`` (m, H·d): lag i (0-based) is the column
    block ``[(H−1−i)d, (H−i)d)``. ``Ml`` (1, m, d) and the rest are scratch for "op"."""
    m = Mr.shape[0]
    d = Ml.shape[2]
    H = Mr.shape[1] // d
    for i in range(H):
        r = radii[i]
        if not r < np.inf:
            continue
        c0 = (H - 1 - i) * d
        if op:
            for k in range(m):
                for j in range(d):
                    Ml[0, k, j] = Mr[k, c0 + j]
            _project_op(Ml, 0, r, A, V, sig, tol)
            for k in range(m):
                for j in range(d):
                    Mr[k, c0 + j] = Ml[0, k, j]
        else:
            nrm = 0.0
            for k in range(m):
                for j in range(d):
                    nrm += Mr[k, c0 + j] * Mr[k, c0 + j]
            nrm = np.sqrt(nrm)
            if nrm > r:
                sc = r / nrm
                for k in range(m):
                    for j in range(d):
                        Mr[k, c0 + j] *= sc


@njit(cache=True, nogil=True, fastmath=_FM)
def _gpc_range(lo, hi, A, Bm, K, W, x0, Q, R, Mall, lrs, radii, op, tol, store_u, costs, Uo, first_bad, dd, mm):
    """Systems ``lo..hi-1`` of the batched GPC game (docs/gpc-semantics.md).

    Layout trick: the disturbances of one system are one flat vector ``Wf`` (w_s at ``[(s+2H)d, (s+2H+1)d)``, zeros
    before time 0) and M is kept lag-reversed as ``Mr[k, (H−1−i)d + j] = M^{[i+1]}[k, j]``, so every DFC sum
    ``Σ_i M^{[i]} w_{s−i}`` is one contiguous dot product ``Mr[k] · Wf[(s+H)d : (s+2H)d]`` and the gradient of lag
    block k is a sum of contiguous axpys — vectorisable loops instead of 4-deep index arithmetic.
    """
    T = W.shape[1]
    d = len(dd) if len(dd) > 0 else W.shape[2]
    m = len(mm) if len(mm) > 0 else Bm.shape[3]
    H = Mall.shape[1]
    HD = H * d
    a_b = A.shape[0] > 1
    a_t = A.shape[1] > 1
    b_b = Bm.shape[0] > 1
    b_t = Bm.shape[1] > 1
    k_b = K.shape[0] > 1
    dt = x0.dtype
    Wf = np.zeros((T + 2 * H) * d, dt)
    Mr = np.empty((m, HD), dt)
    x = np.empty(d, dt)
    xn = np.empty(d, dt)
    u = np.empty(m, dt)
    y = np.empty(d, dt)
    yn = np.empty(d, dt)
    v = np.empty(m, dt)
    gy = np.empty(d, dt)
    gyn = np.empty(d, dt)
    dfc = np.empty((H + 1, m), dt)
    gv = np.empty((H + 1, m), dt)
    Qs = np.empty((d, d), dt)
    Rs = np.empty((m, m), dt)
    n = m if m <= d else d
    As_ = np.empty((n, m + d - n), dt)
    Vs = np.empty((n, n), dt)
    sigs = np.empty(n, dt)
    Ml = np.empty((1, m, d), dt)
    for i in range(d):
        for j in range(d):
            Qs[i, j] = Q[i, j] + Q[j, i]
    for i in range(m):
        for j in range(m):
            Rs[i, j] = R[i, j] + R[j, i]
    for b in range(lo, hi):
        kb = b if k_b else 0
        ib = b if a_b else 0
        jb = b if b_b else 0
        for t in range(T):
            for i in range(d):
                Wf[(t + 2 * H) * d + i] = W[b, t, i]
        for i in range(H):
            for k in range(m):
                for j in range(d):
                    Mr[k, (H - 1 - i) * d + j] = Mall[b, i, k, j]
        for i in range(d):
            x[i] = x0[b, i]
        bad = -1
        for t in range(T):
            # 1. play u_t = -K x_t + sum_i M_i w_{t-i}
            o = (t + H) * d
            for k in range(m):
                acc = 0.0
                for j in range(d):
                    acc -= K[kb, k, j] * x[j]
                for q in range(HD):
                    acc += Mr[k, q] * Wf[o + q]
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
            ta = t if a_t else 0
            tb = t if b_t else 0
            ow = (t + 2 * H) * d
            s_ = 0.0
            for i in range(d):
                acc = Wf[ow + i]
                for j in range(d):
                    acc += A[ib, ta, i, j] * x[j]
                for j in range(m):
                    acc += Bm[jb, tb, i, j] * u[j]
                xn[i] = acc
                s_ += acc
            for i in range(d):
                x[i] = xn[i]
            if not abs(s_) < np.inf:
                fin = True
                for i in range(d):
                    if not abs(x[i]) < np.inf:
                        fin = False
                if not fin:
                    bad = t + 1
                    break
            # 4. counterfactual rollout from y_{t-H} = 0; dfc[j] = sum_i M_i w_{s_j - i}, s_j = t-H+j
            for jj in range(H + 1):
                o = (t + jj) * d
                for k in range(m):
                    acc = 0.0
                    for q in range(HD):
                        acc += Mr[k, q] * Wf[o + q]
                    dfc[jj, k] = acc
            for i in range(d):
                y[i] = 0.0
            for jj in range(H):
                s = t - H + jj
                sa = s if s > 0 else 0
                sta = sa if a_t else 0
                stb = sa if b_t else 0
                for k in range(m):
                    acc = dfc[jj, k]
                    for j in range(d):
                        acc -= K[kb, k, j] * y[j]
                    v[k] = acc
                ow = (s + 2 * H) * d
                for i in range(d):
                    acc = Wf[ow + i]
                    for j in range(d):
                        acc += A[ib, sta, i, j] * y[j]
                    for j in range(m):
                        acc += Bm[jb, stb, i, j] * v[j]
                    yn[i] = acc
                for i in range(d):
                    y[i] = yn[i]
            for k in range(m):
                acc = dfc[H, k]
                for j in range(d):
                    acc -= K[kb, k, j] * y[j]
                v[k] = acc
            # reverse mode: gv_H = (R + Rᵀ) v_H ; gy_H = (Q + Qᵀ) y_H − Kᵀ gv_H
            for k in range(m):
                acc = 0.0
                for j in range(m):
                    acc += Rs[k, j] * v[j]
                gv[H, k] = acc
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += Qs[i, j] * y[j]
                for k in range(m):
                    acc -= K[kb, k, i] * gv[H, k]
                gy[i] = acc
            for jj in range(H - 1, -1, -1):
                s = t - H + jj
                sa = s if s > 0 else 0
                sta = sa if a_t else 0
                stb = sa if b_t else 0
                for k in range(m):
                    acc = 0.0
                    for i in range(d):
                        acc += Bm[jb, stb, i, k] * gy[i]
                    gv[jj, k] = acc
                if jj > 0:
                    for j in range(d):
                        acc = 0.0
                        for i in range(d):
                            acc += A[ib, sta, i, j] * gy[i]
                        for k in range(m):
                            acc -= K[kb, k, j] * gv[jj, k]
                        gyn[j] = acc
                    for j in range(d):
                        gy[j] = gyn[j]
            # 5. M <- Proj(M - lr * grad), grad of lag block k = sum_j gv_j[k] w-window(s_j)
            lr = lrs[t]
            for jj in range(H + 1):
                o = (t + jj) * d
                for k in range(m):
                    g = lr * gv[jj, k]
                    for q in range(HD):
                        Mr[k, q] -= g * Wf[o + q]
            _gpc_project(Mr, radii, op, As_, Vs, sigs, Ml, tol)
        for i in range(H):
            for k in range(m):
                for j in range(d):
                    Mall[b, i, k, j] = Mr[k, (H - 1 - i) * d + j]
        first_bad[b] = bad


def gpc_rollout(p: GPCProblem, return_controls: bool = False):
    """Batched GPC; same contract as :func:`olc.kernels.reference.gpc_rollout`.

    Parameters
    ----------
    p, return_controls
        As in :func:`olc.kernels.reference.gpc_rollout`.
    """
    dt = p.W.dtype
    costs = np.empty((p.B, p.T), dt)
    Uo = np.empty((p.B, p.T, p.m), dt) if return_controls else np.empty((1, 1, 1), dt)
    first_bad = np.empty(p.B, np.int64)
    M = p.M0.copy()
    H = p.H
    dd, mm = _dims(p.d, p.m, p.B * p.T * H)
    _run(_gpc_range, p.B, p.B * p.T * H * (4 * H * p.m * p.d + 4 * p.d * (p.d + 2 * p.m)),
         p.A, p.Bm, p.K, p.W, p.x0, p.Q, p.R, M, p.lrs, p.radii, bool(p.op), 4.0 * float(np.finfo(dt).eps),
         bool(return_controls), costs, Uo, first_bad, dd, mm)
    _nan_tail(first_bad, costs, Uo if return_controls else None)
    return costs, (Uo if return_controls else None), M, first_bad
