"""CuPy GPU kernels (same signatures and results as :mod:`olc.kernels.reference`).

CuPy is imported lazily inside the functions, so this module imports without CuPy. The recurrences are sequential in
time, so a per-step ``cupy.matmul`` would be launch-bound (~10 µs per launch × T steps); instead each kernel is one
``RawKernel`` launch with one CUDA thread per system (rollout, GPC), per start index (interval norms) or per grid
point (optimizer grid), each thread running the whole time loop in registers/local memory — the GPU analogue of the
numba kernels' ``prange`` over the batch.

Inputs are validated on the host (:mod:`olc.kernels._prep`), copied to the device once, and results come back as NumPy
arrays. float64 and float32 are both supported (``real`` is templated by the dtype of the inputs).

**Status: written without access to a GPU; not yet verified on hardware.** The tests in tests/kernels/test_cupy.py
(marked ``gpu``) compare every kernel with the numpy reference and run when a CUDA device is present;
tests/kernels/test_cupy_emulated.py runs the same CUDA source on the CPU (compiled with g++, one call per thread)
against the reference everywhere (docs/kernels.md, "CuPy kernels without a GPU").
"""

# ruff: noqa: E501  (CUDA sources are kept one statement per line)
from __future__ import annotations

import numpy as np

from ._prep import GPCProblem, RolloutProblem, eigen_setup

__all__ = ["rollout", "gpc_rollout", "interval_norms", "optimizer_grid"]

_THREADS = 128

# NVRTC (CuPy's default RawKernel compiler) sees no host headers, so the <math.h> macros INFINITY
# and NAN are undefined there ("identifier INFINITY is undefined"); the IEEE values are built with
# the CUDA bit-cast intrinsic instead, which needs no header.
_MATH = r"""
#define OLC_INF __longlong_as_double(0x7ff0000000000000LL)
#define OLC_NAN __longlong_as_double(0x7ff8000000000000LL)
"""

_COMMON = _MATH + r"""
#define IDX_A(b, t, i, j) ((((long long)((b) * a_b) * TA + (t) * a_t) * d + (i)) * d + (j))
#define IDX_B(b, t, i, j) ((((long long)((b) * b_b) * TB + (t) * b_t) * d + (i)) * m + (j))
__device__ __forceinline__ bool finite_(real v) { return fabs((double)v) < OLC_INF; }
// the stage cost x'Qx + u'Ru
__device__ __forceinline__ real stage_cost(const real* Q, const real* R, const real* x, const real* u, int d, int m)
{
    real c = 0;
    for (int i = 0; i < d; ++i) { real q = 0; for (int j = 0; j < d; ++j) q += Q[i * d + j] * x[j]; c += x[i] * q; }
    for (int i = 0; i < m; ++i) { real r = 0; for (int j = 0; j < m; ++j) r += R[i * m + j] * u[j]; c += u[i] * r; }
    return c;
}
// x <- A_t x + B_t u + w_t (through the scratch xn); false if the new state is non-finite
__device__ __forceinline__ bool step_(const real* A, const real* Bm, const real* wt, const real* u, real* x, real* xn,
    int b, int t, int d, int m, int TA, int TB, int a_b, int a_t, int b_b, int b_t)
{
    bool fin = true;
    for (int i = 0; i < d; ++i) {
        real acc = wt[i];
        for (int j = 0; j < d; ++j) acc += A[IDX_A(b, t, i, j)] * x[j];
        for (int j = 0; j < m; ++j) acc += Bm[IDX_B(b, t, i, j)] * u[j];
        xn[i] = acc;
        fin = fin && finite_(acc);
    }
    for (int i = 0; i < d; ++i) x[i] = xn[i];
    return fin;
}
"""

_ROLLOUT_SRC = _COMMON + r"""
extern "C" __global__ void rollout_k(
    const real* A, const real* Bm, const real* K, const real* U, const real* M, const real* W,
    const real* x0, const real* Q, const real* R,
    int B, int T, int d, int m, int H, int TA, int TB, int a_b, int a_t, int b_b, int b_t, int k_b, int m_b,
    int has_U, int has_M, int store_x, int store_u,
    real* costs, real* X, real* Uo, long long* first_bad, real* scratch)
{
    int b = blockDim.x * blockIdx.x + threadIdx.x;
    if (b >= B) return;
    real* x = scratch + (long long)b * (2 * d + m);
    real* xn = x + d;
    real* u = xn + d;
    const real* Kb = K + (long long)(b * k_b) * m * d;
    const real* Mb = M + (long long)(b * m_b) * H * m * d;
    const real* Wb = W + (long long)b * T * d;
    for (int i = 0; i < d; ++i) x[i] = x0[(long long)b * d + i];
    if (store_x) for (int i = 0; i < d; ++i) X[(long long)b * (T + 1) * d + i] = x[i];
    long long bad = -1;
    for (int t = 0; t < T; ++t) {
        for (int k = 0; k < m; ++k) {
            real acc = 0;
            for (int j = 0; j < d; ++j) acc -= Kb[k * d + j] * x[j];
            if (has_U) acc += U[((long long)b * T + t) * m + k];
            if (has_M) {
                int hmax = H < t ? H : t;
                for (int i = 0; i < hmax; ++i)
                    for (int j = 0; j < d; ++j) acc += Mb[(i * m + k) * d + j] * Wb[(long long)(t - 1 - i) * d + j];
            }
            u[k] = acc;
        }
        costs[(long long)b * T + t] = stage_cost(Q, R, x, u, d, m);
        if (store_u) for (int k = 0; k < m; ++k) Uo[((long long)b * T + t) * m + k] = u[k];
        bool fin = step_(A, Bm, Wb + (long long)t * d, u, x, xn, b, t, d, m, TA, TB, a_b, a_t, b_b, b_t);
        if (store_x) for (int i = 0; i < d; ++i) X[((long long)b * (T + 1) + t + 1) * d + i] = x[i];
        if (!fin) { bad = t + 1; break; }
    }
    first_bad[b] = bad;
    if (bad >= 0) {
        real nanv = (real)OLC_NAN;
        for (int t = (int)bad; t < T; ++t) {
            costs[(long long)b * T + t] = nanv;
            if (store_u) for (int k = 0; k < m; ++k) Uo[((long long)b * T + t) * m + k] = nanv;
        }
        if (store_x) for (int t = (int)bad; t <= T; ++t) for (int i = 0; i < d; ++i)
            X[((long long)b * (T + 1) + t) * d + i] = nanv;
    }
}
"""

_GPC_SRC = _COMMON + r"""
// w_s for s < 0 is zero
__device__ __forceinline__ real wv(const real* Wb, int s, int j, int d) { return s < 0 ? (real)0 : Wb[(long long)s * d + j]; }

// operator-norm ball: clip the singular values of Mi (m x d) at r, in place. One-sided (Hestenes)
// Jacobi SVD of Mi's rows scaled by c = max|Mi|: A = V^T Mi / c with orthogonal rows at the end, so
// P(Mi) = V diag(min(1, (r/c)/sigma_k) c) A. Small singular values keep relative accuracy and nothing
// over/underflows (the Gram matrix Mi Mi^T would); a lag holding NaN/Inf becomes NaN.
// A (m x d) and V (m x m) are scratch.
__device__ void project_op(real* Mi, int m, int d, real r, real* A, real* V)
{
    const real tol = sizeof(real) == 8 ? (real)8.9e-16 : (real)4.8e-7;   // 4 eps
    real c = 0;
    for (int q = 0; q < m * d; ++q) {
        real a = fabs(Mi[q]);
        if (!(a < OLC_INF)) { for (int k = 0; k < m * d; ++k) Mi[k] = (real)OLC_NAN; return; }
        if (a > c) c = a;
    }
    if (c == 0) return;
    for (int p = 0; p < m; ++p) {
        for (int j = 0; j < d; ++j) A[p * d + j] = Mi[p * d + j] / c;
        for (int q = 0; q < m; ++q) V[p * m + q] = (p == q) ? 1 : 0;
    }
    for (int sweep = 0; sweep < 60; ++sweep) {
        bool rotated = false;
        for (int p = 0; p < m - 1; ++p) for (int q = p + 1; q < m; ++q) {
            real al = 0, be = 0, ga = 0;
            for (int j = 0; j < d; ++j) { al += A[p * d + j] * A[p * d + j]; be += A[q * d + j] * A[q * d + j]; ga += A[p * d + j] * A[q * d + j]; }
            if (ga == 0 || fabs(ga) <= tol * sqrt(al * be)) continue;
            rotated = true;
            real ze = (be - al) / (2 * ga);
            real t = (ze >= 0 ? 1 : -1) / (fabs(ze) + sqrt(1 + ze * ze));
            real cs = 1 / sqrt(1 + t * t), sn = cs * t;
            for (int j = 0; j < d; ++j) { real a = A[p * d + j], bb = A[q * d + j]; A[p * d + j] = cs * a - sn * bb; A[q * d + j] = sn * a + cs * bb; }
            for (int k = 0; k < m; ++k) { real a = V[k * m + p], bb = V[k * m + q]; V[k * m + p] = cs * a - sn * bb; V[k * m + q] = sn * a + cs * bb; }
        }
        if (!rotated) break;
    }
    real rs = r / c;
    bool big = false;
    for (int p = 0; p < m; ++p) {
        real s2 = 0;
        for (int j = 0; j < d; ++j) s2 += A[p * d + j] * A[p * d + j];
        real sg = sqrt(s2);
        if (sg > rs) big = true;
        real f = (sg > rs ? rs / sg : (real)1) * c;
        for (int j = 0; j < d; ++j) A[p * d + j] *= f;
    }
    if (!big) return;
    for (int i = 0; i < m; ++i) for (int j = 0; j < d; ++j) {
        real acc = 0;
        for (int k = 0; k < m; ++k) acc += V[i * m + k] * A[k * d + j];
        Mi[i * d + j] = acc;
    }
}

extern "C" __global__ void gpc_k(
    const real* A, const real* Bm, const real* K, const real* W, const real* x0, const real* Q, const real* R,
    real* Mall, const real* lrs, const real* radii, int op,
    int B, int T, int d, int m, int H, int TA, int TB, int a_b, int a_t, int b_b, int b_t, int k_b,
    int store_u, real* costs, real* Uo, long long* first_bad, real* scratch)
{
    int b = blockDim.x * blockIdx.x + threadIdx.x;
    if (b >= B) return;
    int nloc = 4 * d + 2 * m + 2 * (H + 1) * m + m * m + m * d;
    real* x = scratch + (long long)b * nloc;
    real* xn = x + d; real* y = xn + d; real* gy = y + d; real* u = gy + d; real* v = u + m;
    real* dfc = v + m; real* gv = dfc + (H + 1) * m; real* V = gv + (H + 1) * m; real* tmp = V + m * m;
    real* M = Mall + (long long)b * H * m * d;
    const real* Kb = K + (long long)(b * k_b) * m * d;
    const real* Wb = W + (long long)b * T * d;
    for (int i = 0; i < d; ++i) x[i] = x0[(long long)b * d + i];
    long long bad = -1;
    for (int t = 0; t < T; ++t) {
        for (int k = 0; k < m; ++k) {
            real acc = 0;
            for (int j = 0; j < d; ++j) acc -= Kb[k * d + j] * x[j];
            for (int i = 0; i < H; ++i) for (int j = 0; j < d; ++j) acc += M[(i * m + k) * d + j] * wv(Wb, t - 1 - i, j, d);
            u[k] = acc;
        }
        costs[(long long)b * T + t] = stage_cost(Q, R, x, u, d, m);
        if (store_u) for (int k = 0; k < m; ++k) Uo[((long long)b * T + t) * m + k] = u[k];
        bool fin = step_(A, Bm, Wb + (long long)t * d, u, x, xn, b, t, d, m, TA, TB, a_b, a_t, b_b, b_t);
        if (!fin) { bad = t + 1; break; }
        // counterfactual: dfc[jj] = sum_i M_i w_{s_jj - 1 - i}, s_jj = t - H + jj
        for (int jj = 0; jj <= H; ++jj) for (int k = 0; k < m; ++k) {
            real acc = 0;
            for (int i = 0; i < H; ++i) for (int j = 0; j < d; ++j) acc += M[(i * m + k) * d + j] * wv(Wb, t - H + jj - 1 - i, j, d);
            dfc[jj * m + k] = acc;
        }
        for (int i = 0; i < d; ++i) y[i] = 0;
        for (int jj = 0; jj < H; ++jj) {
            int s = t - H + jj; int sa = s > 0 ? s : 0;
            for (int k = 0; k < m; ++k) { real acc = dfc[jj * m + k]; for (int j = 0; j < d; ++j) acc -= Kb[k * d + j] * y[j]; v[k] = acc; }
            for (int i = 0; i < d; ++i) {
                real acc = wv(Wb, s, i, d);
                for (int j = 0; j < d; ++j) acc += A[IDX_A(b, sa, i, j)] * y[j];
                for (int j = 0; j < m; ++j) acc += Bm[IDX_B(b, sa, i, j)] * v[j];
                xn[i] = acc;
            }
            for (int i = 0; i < d; ++i) y[i] = xn[i];
        }
        for (int k = 0; k < m; ++k) { real acc = dfc[H * m + k]; for (int j = 0; j < d; ++j) acc -= Kb[k * d + j] * y[j]; v[k] = acc; }
        for (int k = 0; k < m; ++k) { real acc = 0; for (int j = 0; j < m; ++j) acc += (R[k * m + j] + R[j * m + k]) * v[j]; gv[H * m + k] = acc; }
        for (int i = 0; i < d; ++i) {
            real acc = 0;
            for (int j = 0; j < d; ++j) acc += (Q[i * d + j] + Q[j * d + i]) * y[j];
            for (int k = 0; k < m; ++k) acc -= Kb[k * d + i] * gv[H * m + k];
            gy[i] = acc;
        }
        for (int jj = H - 1; jj >= 0; --jj) {
            int s = t - H + jj; int sa = s > 0 ? s : 0;
            for (int k = 0; k < m; ++k) { real acc = 0; for (int i = 0; i < d; ++i) acc += Bm[IDX_B(b, sa, i, k)] * gy[i]; gv[jj * m + k] = acc; }
            if (jj > 0) {
                for (int j = 0; j < d; ++j) {
                    real acc = 0;
                    for (int i = 0; i < d; ++i) acc += A[IDX_A(b, sa, i, j)] * gy[i];
                    for (int k = 0; k < m; ++k) acc -= Kb[k * d + j] * gv[jj * m + k];
                    xn[j] = acc;
                }
                for (int j = 0; j < d; ++j) gy[j] = xn[j];
            }
        }
        real lr = lrs[t];
        for (int i = 0; i < H; ++i) {
            real* Mi = M + i * m * d;
            for (int k = 0; k < m; ++k) for (int j = 0; j < d; ++j) {
                real acc = 0;
                for (int jj = 0; jj <= H; ++jj) acc += gv[jj * m + k] * wv(Wb, t - H + jj - 1 - i, j, d);
                Mi[k * d + j] -= lr * acc;
            }
            real r = radii[i];
            if (!(r < OLC_INF)) continue;
            if (!op) {
                real nrm = 0;
                for (int q = 0; q < m * d; ++q) nrm += Mi[q] * Mi[q];
                nrm = sqrt(nrm);
                if (nrm > r) { real sc = r / nrm; for (int q = 0; q < m * d; ++q) Mi[q] *= sc; }
            } else project_op(Mi, m, d, r, tmp, V);
        }
    }
    first_bad[b] = bad;
    if (bad >= 0) for (int t = (int)bad; t < T; ++t) {
        costs[(long long)b * T + t] = (real)OLC_NAN;
        if (store_u) for (int k = 0; k < m; ++k) Uo[((long long)b * T + t) * m + k] = (real)OLC_NAN;
    }
}
"""

_GRID_SRC = _MATH + r"""
extern "C" __global__ void grid_k(const double* lam, const double* c, const double* z0, double f0,
    const double* lrs, const double* mus, int G, int d, int T, int nesterov, double blowup,
    double* losses, double* Z, bool* diverged, double* scratch)
{
    int g = blockDim.x * blockIdx.x + threadIdx.x;
    if (g >= G) return;
    double* z = scratch + (long long)g * 2 * d;
    double* zp = z + d;
    for (int j = 0; j < d; ++j) { z[j] = z0[j]; zp[j] = z0[j]; }
    double lr = lrs[g], mu = mus[g];
    // diverged at the first k with non-finite f(x_k) or |f(x_k)| > blowup, k = 0 included
    // (|f| <= blowup alone lets f = +-inf through when blowup is inf)
    int bad = (fabs(f0) <= blowup && fabs(f0) < OLC_INF) ? -1 : 0;
    losses[(long long)g * (T + 1)] = f0;
    for (int k = 0; k < T && bad < 0; ++k) {
        double f = 0;
        for (int j = 0; j < d; ++j) {
            double zn;
            if (nesterov) { double yj = z[j] + mu * (z[j] - zp[j]); zn = yj - lr * (lam[j] * yj + c[j]); }
            else zn = z[j] - lr * (lam[j] * z[j] + c[j]) + mu * (z[j] - zp[j]);
            zp[j] = z[j]; z[j] = zn;
            f += (0.5 * lam[j] * zn + c[j]) * zn;
        }
        if (fabs(f) <= blowup && fabs(f) < OLC_INF) losses[(long long)g * (T + 1) + k + 1] = f;
        else bad = k + 1;
    }
    bool div = bad >= 0;
    if (div) for (int kk = bad; kk <= T; ++kk) losses[(long long)g * (T + 1) + kk] = OLC_INF;
    diverged[g] = div;
    for (int j = 0; j < d; ++j) Z[(long long)g * d + j] = div ? OLC_NAN : z[j];
}
"""

_cache: dict = {}


def _cp():
    import cupy

    return cupy


def _kernel(src: str, name: str, dtype):
    key = (name, np.dtype(dtype).name)
    if key not in _cache:
        real = "double" if np.dtype(dtype) == np.float64 else "float"
        _cache[key] = _cp().RawKernel(f"typedef {real} real;\n" + src, name)
    return _cache[key]


def _grid(n):
    return ((n + _THREADS - 1) // _THREADS,), (_THREADS,)


def _flags(p):
    A, Bm = p.A, p.Bm
    return (np.int32(A.shape[1]), np.int32(Bm.shape[1]), np.int32(A.shape[0] > 1), np.int32(A.shape[1] > 1),
            np.int32(Bm.shape[0] > 1), np.int32(Bm.shape[1] > 1), np.int32(p.K.shape[0] > 1))


def rollout(p: RolloutProblem, return_states: bool = False, return_controls: bool = False):
    """Batched rollout on the GPU (one thread per system); contract of the reference.

    Parameters
    ----------
    p, return_states, return_controls
        As in :func:`olc.kernels.reference.rollout`.
    """
    cp = _cp()
    dt = p.W.dtype
    B, T, d, m, H = p.B, p.T, p.d, p.m, p.M.shape[1]
    dev = [cp.asarray(a) for a in (p.A, p.Bm, p.K, p.U, p.M, p.W, p.x0, p.Q, p.R)]
    costs = cp.empty((B, T), dt)
    X = cp.empty((B, T + 1, d) if return_states else (1,), dt)
    Uo = cp.empty((B, T, m) if return_controls else (1,), dt)
    first_bad = cp.empty(B, cp.int64)
    scratch = cp.empty(B * (2 * d + m), dt)
    args = (*dev, np.int32(B), np.int32(T), np.int32(d), np.int32(m), np.int32(H), *_flags(p),
            np.int32(p.M.shape[0] > 1), np.int32(p.has_U), np.int32(p.has_M), np.int32(return_states),
            np.int32(return_controls), costs, X, Uo, first_bad, scratch)
    _kernel(_ROLLOUT_SRC, "rollout_k", dt)(*_grid(B), args)
    return (cp.asnumpy(costs), cp.asnumpy(X) if return_states else None,
            cp.asnumpy(Uo) if return_controls else None, cp.asnumpy(first_bad))


def gpc_rollout(p: GPCProblem, return_controls: bool = False):
    """Batched GPC on the GPU (one thread per system); contract of the reference.

    Parameters
    ----------
    p, return_controls
        As in :func:`olc.kernels.reference.gpc_rollout`.
    """
    cp = _cp()
    dt = p.W.dtype
    B, T, d, m, H = p.B, p.T, p.d, p.m, p.H
    dev = [cp.asarray(a) for a in (p.A, p.Bm, p.K, p.W, p.x0, p.Q, p.R)]
    M = cp.asarray(p.M0.copy())
    costs = cp.empty((B, T), dt)
    Uo = cp.empty((B, T, m) if return_controls else (1,), dt)
    first_bad = cp.empty(B, cp.int64)
    nloc = 4 * d + 2 * m + 2 * (H + 1) * m + m * m + m * d
    scratch = cp.empty(B * nloc, dt)
    args = (*dev, M, cp.asarray(p.lrs), cp.asarray(p.radii), np.int32(p.op), np.int32(B), np.int32(T),
            np.int32(d), np.int32(m), np.int32(H), *_flags(p), np.int32(return_controls), costs, Uo,
            first_bad, scratch)
    _kernel(_GPC_SRC, "gpc_k", dt)(*_grid(B), args)
    return (cp.asnumpy(costs), cp.asnumpy(Uo) if return_controls else None, cp.asnumpy(M),
            cp.asnumpy(first_bad))


def interval_norms(As, max_length: int):
    """Interval spectral norms on the GPU.

    For each length ℓ the running products of all start indices advance with one batched ``matmul`` (T launches in
    all, each over every start index) and the norms come from a batched ``eigvalsh`` of the scaled Gram matrices —
    both are large batched operations, so not launch-bound.

    Parameters
    ----------
    As, max_length
        As in :func:`olc.kernels.reference.interval_norms`.
    """
    cp = _cp()
    T, d, _ = As.shape
    out = np.full((T, max_length), np.nan, dtype=As.dtype)
    A_d = cp.asarray(As)
    P = A_d.copy()
    for ell in range(min(max_length, T)):
        n = T - ell
        if ell > 0:
            P = cp.matmul(A_d[ell:ell + n], P[:n])
        c = cp.max(cp.abs(P), axis=(1, 2))
        finite = cp.isfinite(c)
        cs = cp.where(finite & (c > 0), c, 1.0)
        S = P / cs[:, None, None]
        S = cp.where(finite[:, None, None], S, 0.0)
        lam = cp.linalg.eigvalsh(cp.matmul(S.transpose(0, 2, 1), S))[:, -1]
        nrm = cs * cp.sqrt(cp.maximum(lam, 0.0))
        nrm = cp.where(finite, nrm, cp.inf)
        out[:n, ell] = cp.asnumpy(nrm)
    return out


def optimizer_grid(A, b, x0, lrs, momenta, T, *, nesterov=False, precond=None, blowup=1e100):
    """Optimizer grid on the GPU (one thread per grid point, eigenbasis recursions).

    Parameters
    ----------
    A, b, x0, lrs, momenta, T, nesterov, precond, blowup
        As in :func:`olc.kernels.optimizer_grid`.
    """
    cp = _cp()
    lam, _, c, z0, S = eigen_setup(A, b, x0, precond)
    f0 = float(0.5 * x0 @ A @ x0 + b @ x0)
    G, d = lrs.shape[0], A.shape[0]
    losses = cp.empty((G, T + 1))
    Z = cp.empty((G, d))
    div = cp.empty(G, cp.bool_)
    scratch = cp.empty(G * 2 * d)
    args = (cp.asarray(lam), cp.asarray(c), cp.asarray(z0), np.float64(f0), cp.asarray(lrs), cp.asarray(momenta),
            np.int32(G), np.int32(d), np.int32(T), np.int32(bool(nesterov)), np.float64(blowup), losses, Z, div,
            scratch)
    _kernel(_GRID_SRC, "grid_k", np.float64)(*_grid(G), args)
    return cp.asnumpy(losses), cp.asnumpy(Z) @ S.T, cp.asnumpy(div)
