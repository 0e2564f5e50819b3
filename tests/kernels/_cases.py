"""Random problem generators shared by the kernel tests (not collected by pytest)."""

from __future__ import annotations

import numpy as np


def stable(rng, *shape, rho=0.8):
    X = rng.normal(size=shape)
    nrm = np.linalg.norm(X.reshape(-1, shape[-2], shape[-1]), 2, axis=(1, 2)).max()
    return X * (rho / max(nrm, 1e-12))


def dyn(rng, layout, B, T, rows, cols, rho=None):
    """A dynamics array in one of the four layouts: 'lti', 'lti_b', 'ltv', 'ltv_b'."""
    lead = {"lti": (), "lti_b": (B,), "ltv": (T,), "ltv_b": (B, T)}[layout]
    if rho is not None:
        return stable(rng, *lead, rows, cols, rho=rho)
    return rng.normal(size=(*lead, rows, cols))


def rollout_case(seed, B, T, d, m, H, layout="ltv_b", U=True, M=True, per_system_K=False):
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(d, d))
    kw = dict(
        A=dyn(rng, layout, B, T, d, d, rho=0.8), Bmat=dyn(rng, layout, B, T, d, m) * 0.5,
        W=rng.normal(size=(B, T, d)),
        K=rng.normal(size=(B, m, d) if per_system_K else (m, d)) * 0.1,
        x0=rng.normal(size=(B, d)), Q=Q @ Q.T, R=np.eye(m) * 0.5 + 0.1,
    )
    if U:
        kw["U"] = rng.normal(size=(B, T, m))
    if M:
        kw["M"] = rng.normal(size=(B, H, m, d)) * 0.1
    if B == T and layout in ("lti_b", "ltv"):
        kw["time_varying"] = layout == "ltv"
    return kw


def gpc_case(seed, B, T, d, m, layout="ltv_b"):
    rng = np.random.default_rng(seed)
    kw = dict(A=dyn(rng, layout, B, T, d, d, rho=0.7), Bmat=dyn(rng, layout, B, T, d, m) * 0.5,
              W=rng.normal(size=(B, T, d)), K=rng.normal(size=(m, d)) * 0.05, x0=rng.normal(size=(B, d)))
    if B == T and layout in ("lti_b", "ltv"):
        kw["time_varying"] = layout == "ltv"
    return kw


def least_squares(seed, n, d):
    """``(A, b, x0, rng)`` of the least-squares quadratic ``f(x) = xᵀAx / 2 + bᵀx`` with ``A = XᵀX / n``
    for ``n`` Gaussian rows ``X``, a Gaussian ``b`` and start ``x0``; ``rng`` continues the stream."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X.T @ X / n, rng.normal(size=d), rng.normal(size=d), rng


def close(a, b, rtol, atol=0.0):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.array_equal(np.isinf(a), np.isinf(b)) and np.array_equal(a[np.isinf(a)], b[np.isinf(b)])
    ok = np.isfinite(a)
    scale = max(1.0, float(np.max(np.abs(b[ok])))) if ok.any() else 1.0
    err = float(np.max(np.abs(a[ok] - b[ok]))) if ok.any() else 0.0
    assert err <= rtol * scale + atol, f"max abs error {err:.3g} > {rtol:.1g} * {scale:.3g}"


def check_grid_divergence_edge_cases(backend):
    """The optimizer grid's divergence rule at its edges, ``backend`` against the numpy reference."""
    from olc import kernels as K

    # blowup=inf: a loss overflowing to -inf (iterate still finite) is a divergence
    A = np.diag([-1.0, 1.0])
    args = (A, np.zeros(2), np.array([1e153, 0.0]), [1.0, 0.1], [0.0, 0.0], 5)
    ref = K.optimizer_grid(*args, blowup=np.inf, backend="numpy")
    got = K.optimizer_grid(*args, blowup=np.inf, backend=backend)
    assert ref.diverged.tolist() == got.diverged.tolist() == [True, False]
    close(got.losses, ref.losses, 1e-10)
    assert np.isnan(got.x_final[0]).all()
    # |f(x_0)| > blowup: diverged at k = 0, every loss inf
    args = (np.eye(2), np.zeros(2), np.array([10.0, 0.0]), [0.1, 1.5], [0.0, 0.5], 3)
    ref = K.optimizer_grid(*args, blowup=1.0, backend="numpy")
    got = K.optimizer_grid(*args, blowup=1.0, backend=backend)
    assert got.diverged.all() and np.isposinf(got.losses).all() and np.isnan(got.x_final).all()
    close(got.losses, ref.losses, 1e-10)


def check_gpc_divergence(backend):
    """A GPC batch where system 1 diverges: same error, partial costs/controls and final M
    (the diverged system's M frozen at its divergence step) in ``backend`` and the reference."""
    import pytest

    from olc import kernels as K
    from olc.errors import DivergenceError

    kw = gpc_case(7, 3, 20, 2, 1, "lti_b")
    kw["A"] = np.stack([np.eye(2) * 0.5, np.eye(2) * 1e40, np.eye(2) * 0.5])
    args = dict(H=2, lr=0.01, kappa=0.5, return_controls=True)
    errs = []
    for be in ("numpy", backend):
        with pytest.raises(DivergenceError) as ei:
            K.gpc_rollout(**kw, **args, backend=be)
        errs.append(ei.value)
    ref, got = errs[0].partial, errs[1].partial
    assert (errs[0].step, errs[0].system) == (errs[1].step, errs[1].system) and errs[1].system == 1
    close(got.costs, ref.costs, 1e-10)
    close(got.controls, ref.controls, 1e-10)
    close(got.M, ref.M, 1e-10)
    # the frozen M is the one a run stopped just before the divergence step ends with
    s = errs[0].step
    short = {k: (v[1:2, : s - 1] if k == "W" else v[1:2] if k in ("A", "Bmat", "x0") else v) for k, v in kw.items()}
    if s >= 2:
        # that run's states stay finite but its last costs overflow (x ~ 1e40^t): reported as a
        # divergence whose .partial is the complete result
        with pytest.raises(DivergenceError, match="cost of system 0 overflowed") as short_err:
            K.gpc_rollout(**short, **args, backend="numpy")
        close(short_err.value.partial.M[0], ref.M[1], 1e-12)


def check_grid_matches_reference(backend, nesterov, precond):
    """A (lr, momentum) grid on a least-squares quadratic, some points diverging: ``backend``
    against the numpy reference (same divergence mask, 1e-10 elsewhere), and the 1×1×1 edge."""
    from olc import kernels as K

    d = 6
    A, b, x0, rng = least_squares(3, 12, d)
    lr, mu = np.meshgrid(np.geomspace(0.01, 3.0, 7), [0.0, 0.5, 0.9, 0.99])
    P = rng.uniform(0.5, 2.0, d) if precond else None
    args = (A, b, x0, lr.ravel(), mu.ravel(), 60)
    ref = K.optimizer_grid(*args, nesterov=nesterov, precond=P, blowup=1e12, backend="numpy")
    got = K.optimizer_grid(*args, nesterov=nesterov, precond=P, blowup=1e12, backend=backend)
    np.testing.assert_array_equal(got.diverged, ref.diverged)
    assert ref.diverged.any() and not ref.diverged.all()
    ok = ~ref.diverged
    close(got.losses[ok], ref.losses[ok], 1e-10)
    close(got.x_final[ok], ref.x_final[ok], 1e-10)
    np.testing.assert_array_equal(np.isinf(got.losses), np.isinf(ref.losses))
    assert np.isnan(got.x_final[~ok]).all()
    one = [A[:1, :1], b[:1], x0[:1], [0.1], [0.0], 1]
    close(K.optimizer_grid(*one, backend=backend).losses, K.optimizer_grid(*one, backend="numpy").losses, 1e-12)


def check_gpc_op_projection_extremes(backend):
    """The operator-norm projection on lags whose Gram matrix would over/underflow or lose the small
    singular value: with T=1 and w=0 the gradient is zero, so the returned M is Π(M0), whose
    singular values are min(σ_i, r) by construction (closed form), in ``backend`` and the reference.
    A gradient overflowing to inf before the state does: the same DivergenceError in both."""
    import pytest

    from olc import kernels as K
    from olc.errors import DivergenceError

    def rot(a):
        return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])

    A, Bm, W, Kg = 0.5 * np.eye(2), 0.1 * np.ones((2, 2)), np.zeros((1, 1, 2)), np.zeros((2, 2))
    for sig, r in [((2e160, 1e160), 1.0), ((1e3, 1e-6), 1e-7), ((2e-170, 1e-170), 1e-180), ((3.0, 0.5), 1.0)]:
        M0 = rot(0.3) @ np.diag(sig) @ rot(1.1)
        want = np.minimum(sig, r)
        for be in ("numpy", backend):
            M = K.gpc_rollout(A, Bm, W, Kg, H=1, lr=0.1, kappa=r, norm="op", M0=M0[None], backend=be).M[0, 0]
            np.testing.assert_allclose(np.linalg.svd(M, compute_uv=False), want, rtol=1e-12)
            # same singular vectors: Π(M0) = U diag(min(σ, r)) Vᵀ of M0's own SVD
            np.testing.assert_allclose(M, rot(0.3) @ np.diag(want) @ rot(1.1), rtol=0, atol=1e-12 * want[0])
    # 3 x 2 lags (more rows than columns) and a rank-1 lag
    rng = np.random.default_rng(0)
    for M0 in (rng.normal(size=(3, 2)) * 5, np.outer(rng.normal(size=3), rng.normal(size=2)) * 4):
        U, s, Vt = np.linalg.svd(M0, full_matrices=False)
        want = U @ np.diag(np.minimum(s, 1.0)) @ Vt
        got = K.gpc_rollout(0.5 * np.eye(2), 0.1 * np.ones((2, 3)), W, np.zeros((3, 2)), H=1, lr=0.1, kappa=1.0,
                            norm="op", M0=M0[None], backend=backend).M[0, 0]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    errs = []
    for be in ("numpy", backend):
        with pytest.raises(DivergenceError) as ei:
            K.gpc_rollout(np.eye(1) * 1e80, np.ones((1, 1)), np.ones((1, 6, 1)), np.zeros((1, 1)), H=3, lr=0.1,
                          kappa=1.0, norm="op", backend=be)
        errs.append(ei.value)
    assert errs[0].step == errs[1].step
