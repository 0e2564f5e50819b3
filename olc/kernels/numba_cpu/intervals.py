"""Interval spectral norms of a matrix sequence (sequential stability)."""

import numpy as np
from numba import njit

from ._pool import _run


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
    """Interval spectral norms; same contract as :func:`olc.kernels.reference.interval_norms`.

    Parameters
    ----------
    As, max_length
        As in :func:`olc.kernels.reference.interval_norms`.
    """
    T, d = As.shape[0], As.shape[1]
    out = np.full((T, max_length), np.nan, dtype=As.dtype)
    npairs = (T + 1) // 2
    _run(_interval_range, npairs, T * min(T, max_length) * 4.0 * d ** 3, As, out, chunks_per_thread=8)
    return out
