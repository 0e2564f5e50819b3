"""The numpy reference kernels against independent, literal implementations."""

from __future__ import annotations

import numpy as np
import pytest
from _cases import close, gpc_case, least_squares, rollout_case
from _problems import central_differences

from olc import kernels as K
from olc.errors import DivergenceError, InvalidArgumentError, ShapeError


def _pick(X, layout, b, t):
    if layout == "lti":
        return X
    if layout == "lti_b":
        return X[b]
    if layout == "ltv":
        return X[t]
    return X[b, t]


def _loop_rollout(A, Bmat, W, K, U, M, x0, Q, R, layout):
    """One system at a time, one step at a time, straight from the formula."""
    B, T, d = W.shape
    costs = np.zeros((B, T))
    X = np.zeros((B, T + 1, d))
    for b in range(B):
        x = x0[b].copy()
        X[b, 0] = x
        for t in range(T):
            At, Bt = _pick(A, layout, b, t), _pick(Bmat, layout, b, t)
            u = -K @ x + U[b, t] + sum(M[b, i - 1] @ W[b, t - i] for i in range(1, M.shape[1] + 1) if t - i >= 0)
            costs[b, t] = x @ Q @ x + u @ R @ u
            x = At @ x + Bt @ u + W[b, t]
            X[b, t + 1] = x
    return costs, X


@pytest.mark.parametrize("layout", ["lti", "lti_b", "ltv", "ltv_b"])
@pytest.mark.parametrize("B,T,d,m,H", [(3, 7, 3, 2, 2), (1, 1, 1, 1, 1), (4, 4, 2, 3, 5)])
def test_rollout_matches_loop(layout, B, T, d, m, H):
    kw = rollout_case(1, B, T, d, m, H, layout)
    res = K.rollout(**kw, return_states=True, return_controls=True, backend="numpy")
    costs, X = _loop_rollout(kw["A"], kw["Bmat"], kw["W"], kw["K"], kw["U"], kw["M"], kw["x0"], kw["Q"], kw["R"],
                             layout)
    close(res.costs, costs, 1e-12)
    close(res.states, X, 1e-12)
    assert res.controls.shape == (B, T, m)


def test_rollout_divergence_names_first_system_and_step():
    B, T, d = 3, 50, 2
    A = np.stack([np.eye(d) * 0.5, np.eye(d) * 0.5, np.eye(d) * 1e40])
    W = np.ones((B, T, d))
    with pytest.raises(DivergenceError) as ei:
        K.rollout(A, np.zeros((d, 1)), W, time_varying=False, backend="numpy")
    err = ei.value
    assert err.system == 2 and "system 2" in str(err)
    assert err.step == 9 and np.all(np.isfinite(err.partial.costs[:2]))
    assert np.isnan(err.partial.costs[2, err.step:]).all() and not np.isnan(err.partial.costs[2, :err.step]).any()


def test_rollout_shape_errors():
    W = np.zeros((4, 4, 2))
    with pytest.raises(ShapeError, match="ambiguous"):
        K.rollout(np.zeros((4, 2, 2)), np.zeros((2, 1)), W, backend="numpy")
    with pytest.raises(ShapeError, match="Bmat"):
        K.rollout(np.eye(2), np.zeros((3, 1)), W, backend="numpy")
    with pytest.raises(ShapeError, match="U"):
        K.rollout(np.eye(2), np.zeros((2, 1)), W, U=np.zeros((4, 3, 1)), backend="numpy")
    with pytest.raises(InvalidArgumentError, match="dtype"):
        K.rollout(np.eye(2), np.zeros((2, 1)), W, dtype=np.int32, backend="numpy")


# ------------------------------------------------------------------------------------ GPC

def _counterfactual(M, t, A, Bm, W, K, Q, R, H):
    """ℓ_t(M) of docs/gpc-semantics.md step 4, literally, for one system."""
    d = W.shape[1]

    def w(s):
        return W[s] if s >= 0 else np.zeros(d)

    def dfc(s):
        return sum(M[i - 1] @ w(s - i) for i in range(1, H + 1))

    y = np.zeros(d)
    for s in range(t - H, t):
        v = -K @ y + dfc(s)
        y = A[max(s, 0)] @ y + Bm[max(s, 0)] @ v + w(s)
    v = -K @ y + dfc(t)
    return y @ Q @ y + v @ R @ v


def _literal_gpc(A, Bm, W, K, Q, R, H, lr, radii, norm, x0):
    """Single-system GPC with a central finite-difference gradient (independent of reverse mode)."""
    T, d = W.shape
    m = Bm.shape[2]
    M = np.zeros((H, m, d))
    x = x0.copy()
    costs = []
    for t in range(T):
        u = -K @ x + sum(M[i - 1] @ W[t - i] for i in range(1, H + 1) if t - i >= 0)
        costs.append(x @ Q @ x + u @ R @ u)
        x = A[t] @ x + Bm[t] @ u + W[t]
        g = central_differences(lambda M: _counterfactual(M, t, A, Bm, W, K, Q, R, H), M)
        M = M - lr * g
        for i in range(H):
            if norm == "fro":
                n = np.linalg.norm(M[i])
                if n > radii[i]:
                    M[i] *= radii[i] / n
            else:
                U_, s, Vt = np.linalg.svd(M[i], full_matrices=False)
                M[i] = (U_ * np.minimum(s, radii[i])) @ Vt
    return np.array(costs), M


@pytest.mark.parametrize("norm", ["fro", "op"])
def test_gpc_reference_matches_literal_finite_difference(norm):
    B, T, d, m, H = 2, 9, 3, 2, 3
    kw = gpc_case(3, B, T, d, m, "ltv_b")
    rng = np.random.default_rng(5)
    Q = rng.normal(size=(d, d))
    Q = Q @ Q.T + np.eye(d)
    R = rng.normal(size=(m, m))       # non-symmetric on purpose: the gradient uses R + Rᵀ
    R = R @ R.T + np.eye(m) + 0.3 * np.triu(np.ones((m, m)), 1)
    lr, kappa, gamma = 0.05, 0.3, 0.2
    res = K.gpc_rollout(**kw, H=H, lr=lr, kappa=kappa, gamma=gamma, norm=norm, Q=Q, R=R, backend="numpy")
    radii = kappa * (1 - gamma) ** np.arange(1, H + 1)
    for b in range(B):
        costs, M = _literal_gpc(kw["A"][b], kw["Bmat"][b], kw["W"][b], kw["K"], Q, R, H, lr, radii, norm,
                                kw["x0"][b])
        close(res.costs[b], costs, 1e-7)
        close(res.M[b], M, 1e-7)
    # the projection was active: some lag sits on its ball
    if norm == "fro":
        nrm = np.linalg.norm(res.M.reshape(B, H, -1), axis=2)
    else:
        nrm = np.linalg.norm(res.M, 2, axis=(2, 3))
    assert np.any(np.isclose(nrm, radii[None], rtol=1e-9)) and np.all(nrm <= radii[None] * (1 + 1e-12))


def test_gpc_lr_schedule_and_errors():
    kw = gpc_case(0, 2, 5, 2, 1, "lti")
    a = K.gpc_rollout(**kw, H=2, lr=0.1, backend="numpy")
    b = K.gpc_rollout(**kw, H=2, lr=np.full(5, 0.1), backend="numpy")
    close(a.M, b.M, 1e-15)
    with pytest.raises(InvalidArgumentError, match="lr"):
        K.gpc_rollout(**kw, H=2, lr=-1.0, backend="numpy")
    with pytest.raises(InvalidArgumentError, match="norm"):
        K.gpc_rollout(**kw, H=2, lr=0.1, norm="nuc", backend="numpy")
    with pytest.raises(InvalidArgumentError, match="K"):
        K.gpc_rollout(kw["A"], kw["Bmat"], kw["W"], None, H=2, lr=0.1, backend="numpy")


# ------------------------------------------------------------------------- interval norms

def test_interval_norms_brute_force():
    rng = np.random.default_rng(0)
    T, d = 7, 3
    As = rng.normal(size=(T, d, d))
    N = K.interval_norms(As, backend="numpy")
    assert N.shape == (T, T)
    for r in range(T):
        P = np.eye(d)
        for ell in range(1, T + 1):
            if r + ell > T:
                assert np.isnan(N[r, ell - 1])
                continue
            P = As[r + ell - 1] @ P
            assert N[r, ell - 1] == pytest.approx(np.linalg.svd(P, compute_uv=False)[0], rel=1e-12)
    N3 = K.interval_norms(As, max_length=3, backend="numpy")
    np.testing.assert_array_equal(N3, N[:, :3])
    assert K.interval_norms(As[:1], max_length=2, backend="numpy").shape == (1, 2)


# ------------------------------------------------------------------------- optimizer grid

def test_optimizer_grid_reference_closed_forms():
    d = 4
    A, b, x0, _ = least_squares(1, 10, d)
    L = np.linalg.eigvalsh(A)[-1]
    lrs = np.array([0.5 / L, 1.0 / L, 3.0 / L])
    mus = np.array([0.0, 0.5, 0.0])
    res = K.optimizer_grid(A, b, x0, lrs, mus, 40, blowup=1e10, backend="numpy")
    # GD closed form: x_k - x* = (I - ηA)^k (x0 - x*)
    xs = np.linalg.solve(A, -b)
    xk = xs + np.linalg.matrix_power(np.eye(d) - lrs[0] * A, 40) @ (x0 - xs)
    close(res.x_final[0], xk, 1e-12)
    # heavy ball by hand
    x, xp = x0.copy(), x0.copy()
    for _ in range(40):
        x, xp = x - lrs[1] * (A @ x + b) + 0.5 * (x - xp), x
    close(res.x_final[1], x, 1e-12)
    assert res.diverged.tolist() == [False, False, True]
    assert np.isinf(res.losses[2, -1]) and np.isnan(res.x_final[2]).all()
    f = 0.5 * x0 @ A @ x0 + b @ x0
    assert res.losses[0, 0] == pytest.approx(f)
    with pytest.raises(InvalidArgumentError, match="symmetric"):
        K.optimizer_grid(A + np.triu(np.ones((d, d)), 1), b, x0, lrs, mus, 5, backend="numpy")
    with pytest.raises(ShapeError, match="momenta"):
        K.optimizer_grid(A, b, x0, lrs, mus[:2], 5, backend="numpy")


def test_argument_errors_name_the_argument():
    from olc.errors import InvalidArgumentError

    kw = gpc_case(0, 2, 5, 2, 1, "lti")
    with pytest.raises(InvalidArgumentError, match="time_varying: expected None, True or False, got 'x'"):
        K.rollout(kw["A"], kw["Bmat"], kw["W"], time_varying="x", backend="numpy")
    with pytest.raises(InvalidArgumentError, match="dtype: expected float64 or float32, got 'foo'"):
        K.rollout(kw["A"], kw["Bmat"], kw["W"], dtype="foo", backend="numpy")
    args = (np.eye(2), np.zeros(2), np.ones(2))
    with pytest.raises(InvalidArgumentError, match="lrs: step sizes must be >= 0, got -0.1 at index 1"):
        K.optimizer_grid(*args, [0.1, -0.1], [0.0, 0.0], 3, backend="numpy")
    with pytest.raises(InvalidArgumentError, match="blowup"):
        K.optimizer_grid(*args, [0.1], [0.0], 3, blowup=-1, backend="numpy")
