"""numba CPU kernels against the numpy reference (float64 to 1e-10, float32 to 1e-4)."""

from __future__ import annotations

import numpy as np
import pytest
from _cases import (
    check_gpc_divergence,
    close,
    gpc_case,
    rollout_case,
)

from olc import kernels as K
from olc.errors import DivergenceError

pytest.importorskip("numba")


@pytest.mark.parametrize("extra", [False, True])
def test_rollout_shared_lti_gemm_path(extra):
    # d >= 16 and B >= 64 with shared A, Bmat, K: the BLAS-batched path
    kw = rollout_case(4, 70, 6, 17, 3, 2, "lti", U=extra, M=extra)
    ref = K.rollout(**kw, return_states=True, return_controls=True, backend="numpy")
    got = K.rollout(**kw, return_states=True, return_controls=True, backend="numba")
    for a, b in zip(got, ref):
        close(a, b, 1e-10)


def test_gpc_divergence_agrees_specialised(monkeypatch):
    # the compile-time (d, m) variant on the thread pool (the generic one: test_compiled.py)
    from olc.kernels import numba_cpu as N

    monkeypatch.setattr(N._pool, "_MIN_WORK", 1)
    monkeypatch.setattr(N._pool, "_SPECIALISE_MIN_WORK", 0)
    check_gpc_divergence("numba")


def test_gpc_float32_and_no_projection():
    kw = gpc_case(8, 3, 30, 3, 2, "lti")
    ref = K.gpc_rollout(**kw, H=3, lr=0.01, backend="numpy")
    got = K.gpc_rollout(**kw, H=3, lr=0.01, backend="numba")
    close(got.M, ref.M, 1e-10)
    got32 = K.gpc_rollout(**kw, H=3, lr=0.01, dtype=np.float32, backend="numba")
    close(got32.costs, ref.costs, 1e-4)
    close(got32.M, ref.M, 1e-4)


def test_rollout_threads_blocks_and_specialised_dims(monkeypatch):
    # the paths big problems take: the thread pool, compile-time (d, m), several GEMM blocks
    # per thread and several gathered W chunks per block
    from olc.kernels import numba_cpu as N

    monkeypatch.setattr(N._pool, "_MIN_WORK", 1)
    monkeypatch.setattr(N._pool, "_SPECIALISE_MIN_WORK", 0)
    monkeypatch.setattr(N.rollouts, "_gemm_block", lambda d, m: 16)
    monkeypatch.setattr(N.rollouts, "_gemm_steps", lambda nb, d, T: 4)
    for kw in (rollout_case(6, 7, 9, 3, 2, 2, "ltv_b", per_system_K=True),
               rollout_case(4, 70, 10, 17, 3, 2, "lti", U=True, M=True)):
        ref = K.rollout(**kw, return_states=True, return_controls=True, backend="numpy")
        got = K.rollout(**kw, return_states=True, return_controls=True, backend="numba")
        for a, b in zip(got, ref):
            close(a, b, 1e-10)
    kw = gpc_case(9, 5, 20, 3, 2, "lti")
    args = dict(H=3, lr=0.05, kappa=0.4, gamma=0.05, return_controls=True)
    for a, b in zip(K.gpc_rollout(**kw, **args, backend="numba"), K.gpc_rollout(**kw, **args, backend="numpy")):
        close(a, b, 1e-10)


def test_rollout_deferred_finite_check():
    # large streamed inputs are NaN-checked by the kernel itself (prep_rollout(defer_finite=True))
    from olc.errors import NonFiniteError
    from olc.kernels._prep import DEFER_FINITE_MIN_SIZE

    rng = np.random.default_rng(1)
    B, T = 64, DEFER_FINITE_MIN_SIZE // 64
    W = rng.normal(size=(B, T, 1))
    for gemm in (False, True):
        d = 16 if gemm else 1
        Wd = np.repeat(W, d, axis=2)
        Wd[5, T // 2, 0] = np.nan
        with pytest.raises(NonFiniteError, match="W"):
            K.rollout(np.eye(d) * 0.5, np.ones((d, 1)), Wd, backend="numba")
    U = rng.normal(size=(B, T, 1))
    U[3, 7, 0] = np.inf
    with pytest.raises(NonFiniteError, match="U"):
        K.rollout(np.eye(1) * 0.5, np.ones((1, 1)), W, U=U, backend="numba")


def test_rollout_shared_lti_gemm_diag_divergence_float32(monkeypatch):
    # the GEMM path's diagonal-cost branch, a divergence inside a GEMM run (blocks of 16, runs
    # of 3 steps, the last run partial), and float32 through the same BLAS entry point
    from olc.kernels import numba_cpu as N

    monkeypatch.setattr(N._pool, "_MIN_WORK", 1)
    monkeypatch.setattr(N.rollouts, "_gemm_block", lambda d, m: 16)
    monkeypatch.setattr(N.rollouts, "_gemm_steps", lambda nb, d, T: 3)
    rng = np.random.default_rng(11)
    B, T, d, m = 70, 11, 17, 3
    A = rng.normal(size=(d, d)) * 0.5 / np.sqrt(d)
    Bm, Kg = rng.normal(size=(d, m)) * 0.3, rng.normal(size=(m, d)) * 0.1
    W = rng.normal(size=(B, T, d))
    kw = dict(K=Kg, x0=rng.normal(size=(B, d)), Q=np.diag(rng.uniform(0.5, 2, d)), R=np.diag(rng.uniform(0.5, 2, m)),
              return_states=True, return_controls=True)
    ref = K.rollout(A, Bm, W, **kw, backend="numpy")
    for a, b in zip(K.rollout(A, Bm, W, **kw, backend="numba"), ref):
        close(a, b, 1e-10)
    for a, b in zip(K.rollout(A, Bm, W, **kw, dtype=np.float32, backend="numba"), ref):
        close(a, b, 1e-4)
    Wd = W.copy()
    Wd[[3, 40], [4, 8], 0] = 1e300          # x_5 of system 3 / x_9 of system 40 overflow later
    Ad = np.eye(d) * 1e10
    errs = []
    for be in ("numpy", "numba"):
        with pytest.raises(DivergenceError) as ei:
            K.rollout(Ad, Bm, Wd, **kw, backend=be)
        errs.append(ei.value)
    assert (errs[0].step, errs[0].system) == (errs[1].step, errs[1].system)
    for a, b in zip(errs[1].partial, errs[0].partial):
        close(a, b, 1e-10)


def test_lmax_psd_matches_eigvalsh():
    # the interval-norm kernel's λ_max (Householder tridiagonalisation + Sturm bisection) against
    # LAPACK on PSD matrices with clustered / repeated top eigenvalues, low rank and n = 1, 2
    from olc.kernels.numba_cpu.intervals import _lmax_psd

    rng = np.random.default_rng(0)
    cases = [np.zeros((3, 3)), np.eye(1) * 2.5, np.eye(4)]
    for n in (2, 3, 7, 16, 33):
        X = rng.normal(size=(n, n))
        cases.append(X.T @ X)
        u = rng.normal(size=n)
        cases.append(np.outer(u, u))                                  # rank 1
        Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
        cases.append(Q @ np.diag(np.r_[1.0, 1.0 - 1e-12, rng.uniform(0, 1, n - 2)][:n]) @ Q.T)  # clustered top
    for G in cases:
        n = G.shape[0]
        want = np.linalg.eigvalsh(G)[-1] if n else 0.0
        got = _lmax_psd(G.copy(), np.empty(n), np.empty(n), np.empty(n), np.empty(n))
        assert abs(got - max(want, 0.0)) <= 1e-14 * max(1.0, abs(want)), (n, got, want)
