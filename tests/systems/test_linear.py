"""LTI/LTV systems: rollouts against scipy.signal.dlsim and a brute-force loop; shape errors."""

import numpy as np
import pytest
from scipy import signal

from olc.errors import DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError
from olc.systems import LTISystem, LTVSystem, random_stable, rollout


def _random_lti(d=4, m=2, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    A *= 0.95 / np.max(np.abs(np.linalg.eigvals(A)))
    return A, rng.standard_normal((d, m)), rng


def test_lti_matches_dlsim():
    d, m, T = 4, 2, 200
    A, B, rng = _random_lti(d, m)
    U, W, x0 = rng.standard_normal((T, m)), rng.standard_normal((T, d)), rng.standard_normal(d)
    X = LTISystem(A, B).simulate(x0, U, W)
    assert X.shape == (T + 1, d)
    # dlsim: disturbances enter as extra input channels [B I]; one extra (zero) input row gives x_T
    sysd = (A, np.hstack([B, np.eye(d)]), np.eye(d), np.zeros((d, m + d)), 1.0)
    inputs = np.vstack([np.hstack([U, W]), np.zeros((1, m + d))])
    _, _, xout = signal.dlsim(sysd, inputs, x0=x0)
    assert np.max(np.abs(X - xout)) < 1e-10


def test_lti_feedback_equals_closed_loop_system():
    A, B, rng = _random_lti(3, 1, seed=1)
    K = 0.1 * rng.standard_normal((1, 3))
    U, W, x0 = rng.standard_normal((50, 1)), rng.standard_normal((50, 3)), rng.standard_normal(3)
    sys = LTISystem(A, B)
    X, applied = sys.simulate(x0, U, W, K=K, return_controls=True)
    np.testing.assert_allclose(X, sys.closed_loop(K).simulate(x0, U, W), atol=1e-12)
    np.testing.assert_allclose(applied, U - X[:-1] @ K.T, atol=1e-12)


def _brute(As, Bs, x0, U, W):
    xs = [x0]
    for t in range(len(W)):
        xs.append(As[t] @ xs[-1] + Bs[t] @ U[t] + W[t])
    return np.array(xs)


def test_ltv_arrays_and_callables_match_brute_force():
    rng = np.random.default_rng(2)
    T, d, m = 30, 3, 2
    As, Bs = 0.4 * rng.standard_normal((T, d, d)), rng.standard_normal((T, d, m))
    U, W, x0 = rng.standard_normal((T, m)), rng.standard_normal((T, d)), rng.standard_normal(d)
    ref = _brute(As, Bs, x0, U, W)
    sys = LTVSystem(As, Bs)
    assert (sys.state_dim, sys.control_dim, sys.horizon, sys.is_time_varying) == (d, m, T, True)
    np.testing.assert_allclose(sys.simulate(x0, U, W), ref, atol=1e-12)
    fsys = LTVSystem(lambda t: As[t], lambda t: Bs[t])
    assert fsys.horizon is None
    np.testing.assert_allclose(fsys.simulate(x0, U, W), ref, atol=1e-12)
    np.testing.assert_allclose(sys.step(5, ref[5], U[5], W[5]), ref[6], atol=1e-12)
    # a constant B (d, m) is accepted, and U=None means zero controls
    csys = LTVSystem(As, Bs[0])
    np.testing.assert_allclose(csys.simulate(x0, None, W), _brute(As, [Bs[0]] * T, x0, 0 * U, W), atol=1e-12)


def test_ltv_time_varying_feedback():
    rng = np.random.default_rng(3)
    T, d, m = 20, 3, 2
    As, Bs = 0.3 * rng.standard_normal((T, d, d)), rng.standard_normal((T, d, m))
    Ks = rng.standard_normal((T, m, d))
    W, x0 = rng.standard_normal((T, d)), rng.standard_normal(d)
    xs = [x0]
    for t in range(T):
        xs.append(As[t] @ xs[-1] - Bs[t] @ Ks[t] @ xs[-1] + W[t])
    np.testing.assert_allclose(LTVSystem(As, Bs).simulate(x0, W=W, K=Ks), np.array(xs), atol=1e-10)
    np.testing.assert_allclose(LTVSystem(As, Bs).closed_loop(Ks).simulate(x0, W=W), np.array(xs), atol=1e-10)


def test_interface_observe_and_matrices():
    sys = LTISystem(np.eye(2) * 0.5, [1.0, 0.0], C=[[1.0, 1.0]])
    assert sys.control_dim == 1 and sys.obs_dim == 1 and not sys.is_time_varying and sys.horizon is None
    assert sys.observe(np.array([1.0, 2.0])).tolist() == [3.0]
    assert sys.observe(np.ones((5, 2))).shape == (5, 1)
    A, B = sys.matrices(4)
    assert A.shape == (4, 2, 2) and B.shape == (4, 2, 1)
    np.testing.assert_array_equal(sys.A(7), sys.A(0))
    assert abs(random_stable(5, 2, 0.7).spectral_radius - 0.7) < 1e-12


def test_divergence_error_carries_partial_states():
    sys = LTISystem(np.array([[1e200]]), np.array([[1.0]]))
    with pytest.raises(DivergenceError) as info:
        sys.simulate(np.array([1.0]), W=np.zeros((10, 1)))
    assert info.value.step == 1 and info.value.partial.shape == (2, 1)
    assert np.all(np.isfinite(info.value.partial))
    with pytest.raises(DivergenceError):
        rollout(np.ones((5, 1, 1)) * 2, np.ones((5, 1, 1)), np.ones(1), max_norm=10.0)


@pytest.mark.parametrize("args, match", [
    ((np.ones((2, 3)), np.ones((2, 1))), "A: expected a square"),
    ((np.eye(3), np.ones((2, 1))), r"B: expected shape \(3, m\).*\(2, 1\)"),
])
def test_lti_shape_errors(args, match):
    with pytest.raises(ShapeError, match=match):
        LTISystem(*args)


def test_ltv_and_simulate_errors():
    with pytest.raises(ShapeError, match="A_seq"):
        LTVSystem(np.ones((5, 2, 3)), np.ones((5, 2, 1)))
    with pytest.raises(ShapeError, match="B_seq"):
        LTVSystem(np.ones((5, 2, 2)), np.ones((4, 2, 1)))
    with pytest.raises(ShapeError, match="C"):
        LTISystem(np.eye(2), np.ones((2, 1)), C=np.ones((1, 3)))
    sys = LTVSystem(np.ones((5, 2, 2)) * 0.1, np.ones((5, 2, 1)))
    with pytest.raises(ShapeError, match="horizon 5"):
        sys.simulate(np.zeros(2), W=np.zeros((6, 2)))
    with pytest.raises(InvalidArgumentError, match="t:"):
        sys.A(5)
    with pytest.raises(NonFiniteError, match="W"):
        sys.simulate(np.zeros(2), W=np.full((3, 2), np.nan))
    with pytest.raises(ShapeError, match="U"):
        sys.simulate(np.zeros(2), U=np.zeros((3, 2)), W=np.zeros((3, 2)))
    with pytest.raises(ShapeError, match="K"):
        sys.simulate(np.zeros(2), W=np.zeros((3, 2)), K=np.zeros((2, 2)))
    with pytest.raises(ShapeError, match=r"A_seq\(3\)"):
        LTVSystem(lambda t: np.eye(2) if t < 3 else np.eye(3), np.ones((2, 1))).simulate(np.zeros(2), T=5)


def _ab5():
    A = np.stack([np.eye(2)] * 5)
    B = np.stack([np.ones((2, 1))] * 5)
    return A, B


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(U=np.zeros((4, 1))), ShapeError, r"U: expected shape \(5, 1\), got shape \(4, 1\)"),
    (dict(W=np.zeros((5, 3))), ShapeError, r"W: expected shape \(5, 2\), got shape \(5, 3\)"),
    (dict(K=np.ones((2, 2))), ShapeError, r"K: expected shape \(1, 2\) or \(5, 1, 2\), got shape \(2, 2\)"),
    (dict(x0=np.zeros(3)), ShapeError, r"x0: expected shape \(2,\), got shape \(3,\)"),
    (dict(B_seq=np.ones((4, 2, 1))), ShapeError, r"B_seq: expected shape \(5, 2, \*\), got shape \(4, 2, 1\)"),
    (dict(A_seq=np.ones((5, 2, 3))), ShapeError, r"A_seq: expected .*\(T, d, d\).*\(5, 2, 3\)"),
    (dict(W=np.full((5, 2), np.nan)), NonFiniteError, "W"),
    (dict(max_norm=-1.0), InvalidArgumentError, r"max_norm: expected a positive number, got -1"),
    (dict(max_norm=0), InvalidArgumentError, "max_norm"),
])
def test_rollout_validates_its_public_inputs(kwargs, err, match):
    A, B = _ab5()
    args = dict(A_seq=A, B_seq=B, x0=np.zeros(2))
    args.update(kwargs)
    with pytest.raises(err, match=match) as info:
        rollout(**args)
    assert not isinstance(info.value, DivergenceError)


def test_simulate_max_norm_is_validated():
    sys = LTISystem(np.eye(2), np.ones((2, 1)))
    with pytest.raises(InvalidArgumentError, match="max_norm") as info:
        sys.simulate(np.zeros(2), W=np.zeros((5, 2)), max_norm=-1)
    assert not isinstance(info.value, DivergenceError)
    X = sys.simulate(np.ones(2), W=np.zeros((5, 2)), max_norm=np.inf)      # inf: no bound (as None)
    assert X.shape == (6, 2)
