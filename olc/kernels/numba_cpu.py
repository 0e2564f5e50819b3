"""Numba CPU kernels (serial ``@njit(cache=True, nogil=True)`` kernels over a range of systems,
run in parallel by a small pool of Python threads).

Same signatures and return values as :mod:`olc.kernels.reference` (the semantics); this
module is imported only when the ``numba`` backend is used, and every kernel compiles
lazily on its first call (then loads from numba's on-disk cache).

Threads: every kernel takes a ``[lo, hi)`` range of systems (grid points, start rows) and
releases the GIL; :func:`_run` splits the batch into chunks and runs them on a
``ThreadPoolExecutor`` of :func:`get_num_threads` threads. No ``parallel=True`` / ``prange``:
the parfor pipeline made cold compilation 5-10× slower, and OpenMP worker threads spinning
after a parallel region fought with OpenBLAS' threads in the BLAS-batched LTI path. The
pool's idle threads block (no spinning), and BLAS called from a kernel runs single-threaded
(its problem is kept under OpenBLAS' multithreading threshold).

Layout: system-major. Each thread owns whole systems and streams one system's trajectory
(``W[b]``, ``A[b]``, ``costs[b]`` are contiguous), which keeps the working set of a system in
registers/L1 and lets the hardware prefetcher stream the inputs. The one exception is a
*shared* LTI system with a large state (d ≥ 16), where blocks of systems step together: one
BLAS ``gemm`` per step (``beta = 1`` fuses the disturbance and open-loop control) on an
L2-resident block buffer, with one vectorised pass per row every few steps for the costs and
the next steps' disturbances (see :func:`_lti_gemm_range`; no full transposition of ``W``).

Small fixed dimensions: the rollout and GPC kernels take the state/control dimensions either
from the arrays (generic code, compiled once per dtype) or, for large problems with d ≤ 8 and
m ≤ 8, as the *length of a tuple argument* — a compile-time constant, so LLVM fully unrolls
the tiny matrix-vector products. Each such (d, m) compiles its own specialisation on first
use (then it is cached on disk).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._validate import positive_int
from ..errors import InvalidArgumentError
from ._prep import GPCProblem, RolloutProblem, check_deferred, eigen_setup

__all__ = ["rollout", "gpc_rollout", "interval_norms", "optimizer_grid", "set_num_threads", "get_num_threads"]

_GEMM_MIN_D = 16
_SPECIALISE_MAX_DIM = 8           # d, m ≤ this: compile-time-constant dimensions ...
_SPECIALISE_MIN_WORK = 1 << 18    # ... when B·T (system-steps) is at least this
_OPENBLAS_MT_THRESHOLD = 262144   # OpenBLAS runs a gemm with M·N·K below this single-threaded
# reassociation/contraction only (no nnan/ninf: the NaN/Inf checks must survive). Under
# reassoc LLVM may cancel ``s - s`` to 0 (it did, in the GPC kernel), so every finiteness
# check is a comparison ``abs(s) < np.inf`` (false for ±inf and NaN), never arithmetic.
_FM = {"reassoc", "contract", "nsz"}

# ------------------------------------------------------------------------------ threading


def _default_threads() -> int:
    env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


_nthreads = _default_threads()
_pool: ThreadPoolExecutor | None = None


def set_num_threads(n: int) -> int:
    """Set how many threads the numba kernels use (default: ``$NUMBA_NUM_THREADS`` or the CPUs
    this process may run on); returns the previous value."""
    global _nthreads, _pool
    n = positive_int(n, "n")
    if n > 4096:
        raise InvalidArgumentError(f"n: expected a number of threads in 1..4096 (this machine has "
                                   f"{_default_threads()} usable CPUs), got {n}")
    prev, _nthreads = _nthreads, n
    if _pool is not None and _pool._max_workers != n:       # noqa: SLF001
        _pool.shutdown(wait=True)
        _pool = None
    return prev


def get_num_threads() -> int:
    """Number of threads the numba kernels use."""
    return _nthreads


_MIN_WORK = 2e5   # inner-loop iterations per thread below which a call runs inline


def _run(kernel, n: int, work: float, *args, min_work: float | None = None, chunks_per_thread: int = 4):
    """Call ``kernel(lo, hi, *args)`` over ``[0, n)``, split across the thread pool.

    ``work`` is a rough cost of the whole call (inner-loop iterations); calls cheaper than
    ``min_work`` per thread, or a single thread, run inline in the calling thread.
    """
    global _pool
    min_work = _MIN_WORK if min_work is None else min_work
    nt = int(min(_nthreads, n, max(1.0, work / min_work)))
    if nt <= 1:
        kernel(0, n, *args)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_nthreads, thread_name_prefix="olc-numba")
    nchunks = min(n, nt * chunks_per_thread)
    bounds = np.linspace(0, n, nchunks + 1).astype(np.int64)
    futs = [_pool.submit(kernel, int(bounds[i]), int(bounds[i + 1]), *args) for i in range(nchunks)]
    for f in futs:
        f.result()


def _dims(d: int, m: int, work: int):
    """``(dd, mm)`` tuples whose lengths fix d, m at compile time, or ``((), ())`` (generic)."""
    if work >= _SPECIALISE_MIN_WORK and d <= _SPECIALISE_MAX_DIM and m <= _SPECIALISE_MAX_DIM:
        return (0,) * d, (0,) * m
    return (), ()


def _is_diag(Q):
    return bool(np.all(Q == np.diag(np.diag(Q))))


# ------------------------------------------------------------------------------- rollout

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
            c = 0.0
            if qdiag:
                for i in range(d):
                    c += Q[i, i] * x[i] * x[i]
            else:
                for i in range(d):
                    qi = 0.0
                    for j in range(d):
                        qi += Q[i, j] * x[j]
                    c += x[i] * qi
            if rdiag:
                for k in range(m):
                    c += R[k, k] * u[k] * u[k]
            else:
                for i in range(m):
                    ri = 0.0
                    for j in range(m):
                        ri += R[i, j] * u[j]
                    c += u[i] * ri
            costs[b, t] = c
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


def _deferred_check(p: RolloutProblem, first_bad):
    """The NaN/Inf check prep_rollout deferred. Every input entry the kernels read flows into
    the next state, so a NaN/Inf input always shows up as a non-finite state: the exact check
    (raising NonFiniteError) runs only when some system stopped early."""
    if p.unchecked and bool(np.any(first_bad >= 0)):
        check_deferred(p)


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
         first_bad, nb, tc, min_work=min(_MIN_WORK, nb * T * d * (d + m)))
    _deferred_check(p, first_bad)
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
    _deferred_check(p, first_bad)
    return costs, (X if return_states else None), (Uo if return_controls else None), first_bad


# ----------------------------------------------------------------------------------------- GPC

@njit(cache=True, nogil=True)
def _project_op(M, li, r, A, V, sig, tol):
    """Clip the singular values of the lag ``M[li]`` (m, d) at r, in place.

    One-sided (Hestenes) Jacobi SVD of the lag scaled by ``c = max|M|``: ``A`` (n, L) holds the
    n = min(m, d) columns being orthogonalised (M's columns if d <= m, else its rows), ``V``
    (n, n) the rotations, ``sig`` (n,) the singular values. Then
    ``P(M) = (A V) diag(min(1, r/σ)) Vᵀ`` (transposed when the rows were used). Working on M
    itself, not on the Gram matrix MᵀM, keeps small singular values to relative accuracy and
    nothing over/underflows (entries of 1e±160 are fine). A lag with a NaN/Inf becomes NaN.
    ``tol``: columns count as orthogonal when ``|a_p·a_q| <= tol ‖a_p‖‖a_q‖`` (~ the dtype's eps).
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

    Layout trick: the disturbances of one system are one flat vector ``Wf`` (w_s at
    ``[(s+2H)d, (s+2H+1)d)``, zeros before time 0) and M is kept lag-reversed as
    ``Mr[k, (H−1−i)d + j] = M^{[i+1]}[k, j]``, so every DFC sum ``Σ_i M^{[i]} w_{s−i}`` is one
    contiguous dot product ``Mr[k] · Wf[(s+H)d : (s+2H)d]`` and the gradient of lag block k is
    a sum of contiguous axpys — vectorisable loops instead of 4-deep index arithmetic.
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
    H = p.H
    dd, mm = _dims(p.d, p.m, p.B * p.T * H)
    _run(_gpc_range, p.B, p.B * p.T * H * (4 * H * p.m * p.d + 4 * p.d * (p.d + 2 * p.m)),
         p.A, p.Bm, p.K, p.W, p.x0, p.Q, p.R, M, p.lrs, p.radii, bool(p.op), 4.0 * float(np.finfo(dt).eps),
         bool(return_controls), costs, Uo, first_bad, dd, mm)
    return costs, (Uo if return_controls else None), M, first_bad


# ------------------------------------------------------------------------------ interval norms

@njit(cache=True, nogil=True)
def _lmax_psd(G, dg, e2, v, w):
    """Largest eigenvalue of the symmetric PSD ``G`` (overwritten): Householder reduction to a
    tridiagonal matrix (Golub & Van Loan, Alg. 8.3.1), then bisection on its Sturm sequence
    (count of eigenvalues below x) to ~2 ulps. ``dg``, ``e2``, ``v``, ``w`` (n,) are scratch.
    About 3x faster than ``np.linalg.eigvalsh`` for n = 32, which computes every eigenvalue."""
    n = G.shape[0]
    for k in range(n - 2):
        m = n - k - 1                             # reflect x = G[k+1:, k] onto ±‖x‖ e_1
        xn = 0.0
        for i in range(m):
            v[i] = G[k + 1 + i, k]
            xn += v[i] * v[i]
        xn = np.sqrt(xn)
        alpha = -xn if v[0] >= 0 else xn
        v[0] -= alpha
        vv = 0.0
        for i in range(m):
            vv += v[i] * v[i]
        e2[k] = alpha * alpha
        if vv == 0.0:
            continue
        beta = 2.0 / vv                           # H = I - beta v vᵀ; G22 <- H G22 H
        vp = 0.0
        for i in range(m):
            acc = 0.0
            for j in range(m):
                acc += G[k + 1 + i, k + 1 + j] * v[j]
            w[i] = beta * acc
            vp += v[i] * w[i]
        half = 0.5 * beta * vp
        for i in range(m):
            w[i] -= half * v[i]
        for i in range(m):
            for j in range(m):
                G[k + 1 + i, k + 1 + j] -= v[i] * w[j] + w[i] * v[j]
    if n >= 2:
        e2[n - 2] = G[n - 1, n - 2] * G[n - 1, n - 2]
    lo = 0.0
    hi = 0.0
    for i in range(n):
        dg[i] = G[i, i]
        r = (np.sqrt(e2[i - 1]) if i > 0 else 0.0) + (np.sqrt(e2[i]) if i < n - 1 else 0.0)
        if dg[i] > lo:
            lo = dg[i]                            # λ_max >= every diagonal entry
        if dg[i] + r > hi:
            hi = dg[i] + r                        # Gershgorin
    if hi <= 0.0:
        return 0.0
    pivmin = 1e-300 + 1e-30 * hi * hi
    for _it in range(200):
        if hi - lo <= 4.4e-16 * hi:
            break
        x = 0.5 * (lo + hi)
        cnt = 0                                   # eigenvalues < x
        q = dg[0] - x
        if q < 0:
            cnt += 1
        for i in range(1, n):
            if abs(q) < pivmin:
                q = -pivmin
            q = dg[i] - x - e2[i - 1] / q
            if q < 0:
                cnt += 1
        if cnt == n:
            hi = x
        else:
            lo = x
    return 0.5 * (lo + hi)


@njit(cache=True, nogil=True)
def _spec_norm(P, S, G, dg, e2, v, w):
    """Largest singular value of P: ``c·sqrt(λ_max((P/c)ᵀ(P/c)))``, ``c = max|P|`` (the rest are
    scratch: ``S``, ``G`` of P's shape, ``dg``, ``e2``, ``v``, ``w`` of length d)."""
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
    inv = 1.0 / c
    for i in range(P.shape[0]):
        for j in range(P.shape[1]):
            S[i, j] = P[i, j] * inv
    np.dot(S.T, S, G)
    return c * np.sqrt(_lmax_psd(G, dg, e2, v, w))


@njit(cache=True, nogil=True)
def _interval_range(lo, hi, As, out):
    T = As.shape[0]
    L = out.shape[1]
    d = As.shape[1]
    P = np.empty((d, d), As.dtype)
    Pn = np.empty((d, d), As.dtype)
    S = np.empty((d, d), As.dtype)
    G = np.empty((d, d), As.dtype)
    dg = np.empty(d)
    e2 = np.empty(d)
    v = np.empty(d)
    w = np.empty(d)
    for pidx in range(lo, hi):
        for which in range(2):
            r = pidx + which * (T - 1 - 2 * pidx)          # pair the long row p with the short row T-1-p
            if which == 1 and r == pidx:
                continue
            P[:, :] = As[r]
            out[r, 0] = _spec_norm(P, S, G, dg, e2, v, w)
            n = min(L, T - r)
            for ell in range(1, n):
                np.dot(As[r + ell], P, Pn)                 # P <- A_{r+ell} P, no allocation
                P, Pn = Pn, P
                out[r, ell] = _spec_norm(P, S, G, dg, e2, v, w)


def interval_norms(As, max_length: int):
    """Interval spectral norms; same contract as :func:`olc.kernels.reference.interval_norms`."""
    T, d = As.shape[0], As.shape[1]
    out = np.full((T, max_length), np.nan, dtype=As.dtype)
    npairs = (T + 1) // 2
    _run(_interval_range, npairs, T * min(T, max_length) * 4.0 * d ** 3, As, out, chunks_per_thread=8)
    return out


# ---------------------------------------------------------------------------- optimizer grid

@njit(cache=True, nogil=True, fastmath=_FM)
def _grid_range(lo, hi, lam, c, z0, f0, lrs, momenta, T, nesterov, blowup, losses, Z, diverged):
    d = lam.shape[0]
    z = np.empty(d)
    zp = np.empty(d)
    for g in range(lo, hi):
        for j in range(d):
            z[j] = z0[j]
            zp[j] = z0[j]
        lr = lrs[g]
        mu = momenta[g]
        losses[g, 0] = f0
        # diverged at the first k with non-finite f(x_k) or |f(x_k)| > blowup, k = 0 included
        # (|f| <= blowup alone lets f = +-inf through when blowup is inf)
        div = not (abs(f0) <= blowup and abs(f0) < np.inf)
        if div:
            for kk in range(T + 1):
                losses[g, kk] = np.inf
        for k in range(0 if div else T):
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
            if not (abs(f) <= blowup and abs(f) < np.inf):
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
    _run(_grid_range, G, G * T * A.shape[0] * 4.0, np.ascontiguousarray(lam), np.ascontiguousarray(c),
         np.ascontiguousarray(z0), f0, np.ascontiguousarray(lrs), np.ascontiguousarray(momenta), int(T),
         bool(nesterov), float(blowup), losses, Z, diverged)
    return losses, Z @ S.T, diverged
