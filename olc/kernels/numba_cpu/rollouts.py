"""Rollouts of linear systems: the per-system kernel, the DFC open-loop sum and the BLAS-batched
shared-LTI path (one ``gemm`` per step)."""

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._prep import RolloutProblem, check_deferred
from . import _pool
from ._pool import _FM, _OPENBLAS_MT_THRESHOLD, _dims, _is_diag, _nan_tail, _run

_GEMM_MIN_D = 16


@njit(cache=True, nogil=True)
def _dfc_range(lo, hi, U, M, W, has_U, Ueff):
    """Ueff[b, t] = U[b, t] + Σ_{i=1}^{min(H, t)} M^{[i]} w_{t−i} (the open-loop part of u_t)."""
    T, d = W.shape[1], W.shape[2]
    m = Ueff.shape[2]
    H = M.shape[1]
    m_b = 1 if M.shape[0] > 1 else 0
    for b in range(lo, hi):
        mb = b * m_b
        for t in range(T):
            for k in range(m):
                acc = U[b, t, k] if has_U else 0.0
                for i in range(min(H, t)):
                    for j in range(d):
                        acc += M[mb, i, k, j] * W[b, t - 1 - i, j]
                Ueff[b, t, k] = acc


@njit(cache=True, nogil=True, fastmath=_FM)
def _quad(v, M, n, diag):
    """``vᵀ M v`` over the first ``n`` entries (only the diagonal of ``M`` when ``diag``)."""
    c = 0.0
    for i in range(n):
        if diag:
            c += M[i, i] * v[i] * v[i]
        else:
            mi = 0.0
            for j in range(n):
                mi += M[i, j] * v[j]
            c += v[i] * mi
    return c


@njit(cache=True, nogil=True, fastmath=_FM)
def _rollout_range(lo, hi, A, Bm, K, U, W, x0, Q, R, qdiag, rdiag, has_U, store_x, store_u,
                   costs, X, Uo, first_bad, dd, mm):
    """Systems ``lo..hi-1``. Every A, Bmat, W, U entry read flows into the next state (a NaN/Inf
    entry makes it non-finite, ``inf·0 = NaN`` included), so the divergence check doubles as the
    deferred NaN/Inf check of ``prep_rollout(defer_finite=True)``."""
    T = W.shape[1]
    d = len(dd) if len(dd) > 0 else W.shape[2]
    m = len(mm) if len(mm) > 0 else Bm.shape[3]
    a_b = A.shape[0] > 1
    a_t = A.shape[1] > 1
    b_b = Bm.shape[0] > 1
    b_t = Bm.shape[1] > 1
    k_b = K.shape[0] > 1
    dt = x0.dtype
    x = np.empty(d, dt)
    xn = np.empty(d, dt)
    u = np.empty(m, dt)
    for b in range(lo, hi):
        ib = b if a_b else 0
        jb = b if b_b else 0
        kb = b if k_b else 0
        for i in range(d):
            x[i] = x0[b, i]
        if store_x:
            for i in range(d):
                X[b, 0, i] = x[i]
        bad = -1
        for t in range(T):
            ta = t if a_t else 0
            tb = t if b_t else 0
            # u_t = -K x_t + U_t (U_t includes the DFC term, see _dfc_range)
            for k in range(m):
                acc = U[b, t, k] if has_U else 0.0
                for j in range(d):
                    acc -= K[kb, k, j] * x[j]
                u[k] = acc
            costs[b, t] = _quad(x, Q, d, qdiag) + _quad(u, R, m, rdiag)
            if store_u:
                for k in range(m):
                    Uo[b, t, k] = u[k]
            # x_{t+1} = A_t x_t + B_t u_t + w_t
            s = 0.0
            for i in range(d):
                acc = W[b, t, i]
                for j in range(d):
                    acc += A[ib, ta, i, j] * x[j]
                for j in range(m):
                    acc += Bm[jb, tb, i, j] * u[j]
                xn[i] = acc
                s += acc
            for i in range(d):
                x[i] = xn[i]
            if store_x:
                for i in range(d):
                    X[b, t + 1, i] = x[i]
            if not abs(s) < np.inf:               # a sum of finite numbers can overflow: recheck
                fin = True
                for i in range(d):
                    if not abs(x[i]) < np.inf:
                        fin = False
                if not fin:
                    bad = t + 1
                    break
        first_bad[b] = bad


def _gemm(m, n, k, a, lda, b, ldb, c, ldc, ab):   # pragma: no cover - jit-only (see _gemm_ov)
    """Placeholder: numba compiles calls to it from jitted code through :func:`_gemm_ov`."""
    raise TypeError("_gemm is the BLAS call of the numba kernels; call it from @njit code only")


@overload(_gemm, jit_options={"cache": True})
def _gemm_ov(m, n, k, a, lda, b, ldb, c, ldc, ab):
    """``C ← A·B + C`` (column-major BLAS ``xgemm('n', 'n', m, n, k, alpha=ab[0], A, lda, B, ldb,
    beta=ab[1], C, ldc)``) on raw offsets of flat arrays: ``a``, ``b``, ``c`` are ``arr[off:]``
    views. Through numba's own ``numba_xxgemm`` (the symbol ``np.dot`` uses: scipy's BLAS), so
    leading dimensions and ``beta`` are free, no copies, and the kernel stays cacheable."""
    dt = a.dtype
    sig = types.intc(types.char, types.char, types.char, types.intp, types.intp, types.intp,
                     types.CPointer(dt), types.CPointer(dt), types.intp, types.CPointer(dt), types.intp,
                     types.CPointer(dt), types.CPointer(dt), types.intp)
    fn = types.ExternalFunction("numba_xxgemm", sig)
    kind = ord("d") if dt == types.float64 else ord("s")
    nn = ord("n")

    def impl(m, n, k, a, lda, b, ldb, c, ldc, ab):
        fn(kind, nn, nn, m, n, k, ab.ctypes, a.ctypes, lda, b.ctypes, ldb, ab[1:].ctypes, c.ctypes, ldc)

    return impl


@njit(cache=True, nogil=True, fastmath=_FM)
def _lti_row(Z3, r, b, t0, nt, tn, ntn, W, V, Bsh, Q, R, wq, diag, has_v, store_x, store_u, costs, Xo, Uo,
             first_bad, npre):
    """Row ``r`` (system ``b``) of the block buffer ``Z3`` (nb, tc+1, L) (see _lti_gemm_range):
    costs, stores and divergence check of the finished steps ``t0 .. t0+nt-1`` (none when
    ``nt == 0``), carry of ``x_{t0+nt}`` to slot 0, then the fill of the next ``ntn`` steps
    from ``tn``. (3-d indexing, not flat offsets: LLVM vectorises these loops only then.)"""
    d = W.shape[2]
    L = wq.shape[0]
    m = L - d
    for tt in range(nt):
        t = t0 + tt
        c = 0.0
        if diag:
            for i in range(L):
                c += wq[i] * Z3[r, tt, i] * Z3[r, tt, i]
        else:
            for i in range(d):
                qi = 0.0
                for j in range(d):
                    qi += Q[i, j] * Z3[r, tt, j]
                c += Z3[r, tt, i] * qi
            for i in range(m):
                ri = 0.0
                for j in range(m):
                    ri += R[i, j] * Z3[r, tt, d + j]
                c += Z3[r, tt, d + i] * ri
        costs[b, t] = c
        if store_u:
            for k in range(m):
                Uo[b, t, k] = Z3[r, tt, d + k]
        if store_x:
            for i in range(d):
                Xo[b, t + 1, i] = Z3[r, tt + 1, i]
        if not abs(c) < np.inf and t > 0 and first_bad[b] < 0:   # is x_t non-finite?
            for i in range(d):
                if not abs(Z3[r, tt, i]) < np.inf:
                    first_bad[b] = t
    if nt > 0:
        for i in range(d):
            Z3[r, 0, i] = Z3[r, nt, i]
    for tt in range(ntn):
        t = tn + tt
        if has_v:
            for k in range(m):
                Z3[r, tt, d + k] = V[b, t, k]
            for i in range(d):
                acc = W[b, t, i]
                for k in range(m):
                    acc += Bsh[i, k] * V[b, t, k]
                Z3[r, tt + 1, i] = acc
        else:
            for k in range(m):
                Z3[r, tt, d + k] = 0.0
            for i in range(d):
                Z3[r, tt + 1, i] = W[b, t, i]
    # touch one entry per cache line of the following ``npre`` steps: the block's next fill then
    # finds them in L2/L3 instead of waiting on DRAM (the hardware prefetcher restarts at every
    # 4 KiB page, and each system's run of W is about that long)
    s = 0.0
    t1 = tn + ntn
    for tt in range(npre):
        for i in range(0, d, 8):
            s += W[b, t1 + tt, i]
    Z3[r, Z3.shape[1] - 1, d] = s       # never read (the last slot's u part)


@njit(cache=True, nogil=True)
def _lti_gemm_range(lo, hi, Gt, Bsh, V, W, x0, Q, R, qdiag, rdiag, has_v, store_x, store_u,
                    costs, Xo, Uo, first_bad, nb, tc):
    """Shared LTI: blocks of ≤ ``nb`` systems step together, one BLAS ``gemm`` per step.

    Per system a row of ``tc + 1`` slots ``[x_t | u_t]`` (``L = d + m`` wide) of a flat buffer
    ``Z`` (block-major, row stride ``ld``). ``[u_t | x_{t+1}]`` is contiguous in the row, so a
    step is ``Z[:, slot t + d : + L] += Z[:, slot t : + d] · Gt`` with ``Gt = [−Kᵀ | (A − BK)ᵀ]``
    (d, L): the u slot holds the open-loop part ``v_t`` and the next x slot ``w_t (+ B v_t)``
    beforehand (``beta = 1`` fuses the additions). Between the ``tc``-step GEMM runs one pass
    per row (:func:`_lti_row`) finishes the last run (costs, stores) and fills the next."""
    T, d = W.shape[1], W.shape[2]
    L = Gt.shape[1]
    m = L - d
    dt = x0.dtype
    ld = (tc + 1) * L
    Z = np.empty(nb * ld, dt)
    Z3 = Z.reshape(nb, tc + 1, L)
    ab = np.ones(2, dt)
    wq = np.empty(L, dt)
    for i in range(d):
        wq[i] = Q[i, i]
    for k in range(m):
        wq[d + k] = R[k, k]
    diag = qdiag and rdiag
    nblk = (hi - lo + nb - 1) // nb
    for ib in range(nblk):                     # equal-sized blocks
        b0 = lo + (ib * (hi - lo)) // nblk
        n = lo + ((ib + 1) * (hi - lo)) // nblk - b0
        ntn = min(tc, T)
        for r in range(n):
            first_bad[b0 + r] = -1
            for i in range(d):
                Z3[r, 0, i] = x0[b0 + r, i]
                if store_x:
                    Xo[b0 + r, 0, i] = x0[b0 + r, i]
            _lti_row(Z3, r, b0 + r, 0, 0, 0, ntn, W, V, Bsh, Q, R, wq, diag, has_v, store_x, store_u,
                     costs, Xo, Uo, first_bad, min(tc, T - ntn))
        for t0 in range(0, T, tc):
            nt = min(tc, T - t0)
            for tt in range(nt):
                _gemm(L, n, d, Gt.ravel(), L, Z[tt * L:], ld, Z[tt * L + d:], ld, ab)
            ntn = min(tc, max(T - t0 - tc, 0))
            npre = min(tc, max(T - t0 - 2 * tc, 0))
            for r in range(n):
                _lti_row(Z3, r, b0 + r, t0, nt, t0 + tc, ntn, W, V, Bsh, Q, R, wq, diag, has_v,
                         store_x, store_u, costs, Xo, Uo, first_bad, npre)
        for r in range(n):                     # the final state x_T
            if first_bad[b0 + r] < 0:
                for i in range(d):
                    if not abs(Z3[r, 0, i]) < np.inf:
                        first_bad[b0 + r] = T


def _finish(p: RolloutProblem, first_bad, costs, X, Uo):
    """Runs the NaN/Inf check prep_rollout deferred (every input entry the kernels read flows into the next state, so
    a NaN/Inf input always shows up as a non-finite state: the exact check, raising NonFiniteError, runs only when
    some system stopped early), then NaN-fills the diverged systems from their divergence step on."""
    if p.unchecked and bool(np.any(first_bad >= 0)):
        check_deferred(p)
    _nan_tail(first_bad, costs, X, Uo)
    return costs, X, Uo, first_bad


def _open_loop(p: RolloutProblem):
    """The open-loop part of u_t (U_t plus the DFC sum), or None when there is none."""
    if not p.has_M:
        return p.U if p.has_U else None
    Ueff = np.empty((p.B, p.T, p.m), p.W.dtype)
    _run(_dfc_range, p.B, p.B * p.T * p.M.shape[1] * p.m * p.d, p.U, p.M, p.W, p.has_U, Ueff)
    return Ueff


def _gemm_block(d: int, m: int) -> int:
    """Systems per block: ≤ 128, and BLAS stays single-threaded (M·N·K below OpenBLAS'
    multithreading threshold; the pool's threads are the parallelism)."""
    nb = (_OPENBLAS_MT_THRESHOLD - 1) // (d * (d + m))
    return int(max(16, min(128, nb)))


def _gemm_steps(nb: int, d: int, T: int) -> int:
    """Steps per GEMM run / row pass: the block buffer ``nb·(tc+1)·(d+m)`` floats stays ≈ 0.5–0.7
    MiB (in L2), and one system's run of W is ``tc·d`` floats (≈ 4 KiB)."""
    return int(max(2, min(T, 65536 // (nb * d))))


def _rollout_gemm(p: RolloutProblem, return_states, return_controls):
    B, T, d, m = p.B, p.T, p.d, p.m
    dt = p.W.dtype
    A, Bsh, K = p.A[0, 0], p.Bm[0, 0], p.K[0]
    Gt = np.ascontiguousarray(np.concatenate([-K.T, (A - Bsh @ K).T], axis=1), dtype=dt)   # (d, m+d)
    V = _open_loop(p)
    has_v = V is not None
    if V is None:
        V = np.zeros((1, 1, m), dt)
    costs = np.empty((B, T), dt)
    Xo = np.empty((B, T + 1, d), dt) if return_states else np.empty((1, 1, 1), dt)
    Uo = np.empty((B, T, m), dt) if return_controls else np.empty((1, 1, 1), dt)
    first_bad = np.full(B, -1, np.int64)
    nb = _gemm_block(d, m)
    tc = _gemm_steps(nb, d, T)
    _run(_lti_gemm_range, B, B * T * d * (d + m), Gt, np.ascontiguousarray(Bsh), V, p.W, p.x0, p.Q, p.R,
         _is_diag(p.Q), _is_diag(p.R), has_v, bool(return_states), bool(return_controls), costs, Xo, Uo,
         first_bad, nb, tc, min_work=min(_pool._MIN_WORK, nb * T * d * (d + m)))
    return _finish(p, first_bad, costs, Xo if return_states else None, Uo if return_controls else None)


def rollout(p: RolloutProblem, return_states: bool = False, return_controls: bool = False):
    """Batched rollout; same contract as :func:`olc.kernels.reference.rollout`.

    Parameters
    ----------
    p, return_states, return_controls
        As in :func:`olc.kernels.reference.rollout`.
    """
    shared = p.A.shape[:2] == (1, 1) and p.Bm.shape[:2] == (1, 1) and p.K.shape[0] == 1
    if shared and p.d >= _GEMM_MIN_D and p.B >= 64:
        return _rollout_gemm(p, return_states, return_controls)
    dt = p.W.dtype
    B, T, d, m = p.B, p.T, p.d, p.m
    V = _open_loop(p)
    has_U = V is not None
    if V is None:
        V = p.U
    costs = np.empty((B, T), dt)
    X = np.empty((B, T + 1, d), dt) if return_states else np.empty((1, 1, 1), dt)
    Uo = np.empty((B, T, m), dt) if return_controls else np.empty((1, 1, 1), dt)
    first_bad = np.empty(B, np.int64)
    dd, mm = _dims(d, m, B * T)
    _run(_rollout_range, B, B * T * (d * (d + 2 * m) + 8), p.A, p.Bm, p.K, V, p.W, p.x0, p.Q, p.R,
         _is_diag(p.Q), _is_diag(p.R), has_U, bool(return_states), bool(return_controls),
         costs, X, Uo, first_bad, dd, mm)
    return _finish(p, first_bad, costs, X if return_states else None, Uo if return_controls else None)
