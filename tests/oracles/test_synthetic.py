"""Synthetic oracles: gradients vs central finite differences, Hessians vs closed forms."""

import numpy as np
import pytest
from _problems import central_differences

from olc.errors import InvalidArgumentError, ShapeError
from olc.oracles import (
    FiniteSumOracle,
    LeastSquaresOracle,
    LogisticOracle,
    QuadraticOracle,
    RegularizedOracle,
)


def fd_hessian(grad, x, eps=1e-5):
    e = np.eye(len(x))
    return np.array([(grad(x + eps * e[i]) - grad(x - eps * e[i])) / (2 * eps) for i in range(len(x))]).T


def check_oracle(o, x, batch=None, tol_g=1e-7, tol_h=1e-6):
    g = o.grad(x, batch)
    g_fd = central_differences(lambda z: o.value(z, batch), x)
    assert np.max(np.abs(g - g_fd)) < tol_g * max(1.0, np.max(np.abs(g)))
    H = o.hessian(x, batch)
    H_fd = fd_hessian(lambda z: o.grad(z, batch), x)
    assert np.max(np.abs(H - H_fd)) < tol_h * max(1.0, np.max(np.abs(H)))
    v = np.cos(np.arange(o.dim))
    np.testing.assert_allclose(o.hvp(x, v, batch), H @ v, rtol=1e-12, atol=1e-12)
    return H


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    y01 = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3 * rng.standard_normal(30) > 0).astype(float)
    return X, y01, rng.standard_normal(30)


def test_quadratic_closed_form():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6))  # non-symmetric on purpose
    b = rng.standard_normal(6)
    o = QuadraticOracle(A, b, c=2.5)
    x = rng.standard_normal(6)
    assert o.value(x) == pytest.approx(0.5 * x @ A @ x + b @ x + 2.5, rel=1e-14)
    H = check_oracle(o, x)
    np.testing.assert_array_equal(H, 0.5 * (A + A.T))
    np.testing.assert_allclose(o.grad(o.minimizer()), 0, atol=1e-10)
    with pytest.raises(InvalidArgumentError, match="batch"):
        o.value(x, batch=np.arange(2))
    with pytest.raises(ShapeError, match="A:"):
        QuadraticOracle(np.ones((3, 4)), np.ones(3))
    with pytest.raises(ShapeError, match="b:"):
        QuadraticOracle(np.eye(3), np.ones(4))


def test_least_squares(data):
    X, _, y = data
    o = LeastSquaresOracle(X, y, batch_size=10)
    x = np.array([0.3, -1.0, 2.0, 0.1])
    assert o.value(x) == pytest.approx(np.sum((X @ x - y) ** 2) / 60, rel=1e-13)
    np.testing.assert_allclose(check_oracle(o, x), X.T @ X / 30, rtol=1e-13)
    batch = o.sample_batch(np.random.default_rng(5))
    assert o.value(x, batch) == pytest.approx(np.sum((X[batch] @ x - y[batch]) ** 2) / 20, rel=1e-13)
    np.testing.assert_allclose(check_oracle(o, x, batch), X[batch].T @ X[batch] / 10, rtol=1e-13)
    with pytest.raises(InvalidArgumentError, match="batch"):
        o.value(x, np.array([0, 30]))
    with pytest.raises(ShapeError, match="y:"):
        LeastSquaresOracle(X, y[:5])


def test_logistic_gradients_hessian_and_label_conventions(data):
    X, y01, _ = data
    o = LogisticOracle(X, y01, l2=0.1)
    o_pm = LogisticOracle(X, 2 * y01 - 1, l2=0.1)
    x = np.array([0.5, -0.5, 1.0, 0.2])
    s = 2 * y01 - 1
    ref = np.mean(np.log1p(np.exp(-s * (X @ x)))) + 0.05 * x @ x
    assert o.value(x) == pytest.approx(ref, rel=1e-13)
    assert o_pm.value(x) == o.value(x)
    H = check_oracle(o, x)
    p = 1 / (1 + np.exp(-X @ x))
    np.testing.assert_allclose(H, X.T @ np.diag(p * (1 - p)) @ X / 30 + 0.1 * np.eye(4), rtol=1e-12)
    check_oracle(LogisticOracle(X, y01, batch_size=7), x, batch=np.array([1, 4, 9, 20]))
    with pytest.raises(InvalidArgumentError, match="y: expected labels"):
        LogisticOracle(X, np.arange(30.0))


def test_logistic_is_stable_for_huge_margins(data):
    X, y01, _ = data
    o = LogisticOracle(1e4 * X, y01)
    v, g = o.value_and_grad(np.array([100.0, -100.0, 50.0, 1.0]))
    assert np.isfinite(v) and np.all(np.isfinite(g))
    assert np.all(np.isfinite(o.hessian(np.array([100.0, -100.0, 50.0, 1.0]))))


def test_regularized_has_no_half(data):
    X, y01, _ = data
    base = LogisticOracle(X, y01)
    c = np.array([1.0, 0.0, -1.0, 2.0])
    o = RegularizedOracle(base, beta=0.7, center=c)
    x = np.array([0.5, -0.5, 1.0, 0.2])
    assert o.value(x) == pytest.approx(base.value(x) + 0.7 * np.sum((x - c) ** 2), rel=1e-14)
    np.testing.assert_allclose(o.grad(x), base.grad(x) + 1.4 * (x - c), rtol=1e-14)
    H = check_oracle(o, x)
    np.testing.assert_allclose(H, base.hessian(x) + 1.4 * np.eye(4), rtol=1e-14)
    o2 = o.recentered(np.zeros(4))
    assert o2.value(x) == pytest.approx(base.value(x) + 0.7 * x @ x, rel=1e-14)
    with pytest.raises(InvalidArgumentError, match="beta"):
        RegularizedOracle(base, -1.0, c)
    with pytest.raises(ShapeError, match="center"):
        RegularizedOracle(base, 1.0, np.zeros(3))


def test_finite_sum_of_quadratics():
    rng = np.random.default_rng(2)
    As = [(lambda Q: Q @ Q.T)(rng.standard_normal((3, 3))) for _ in range(5)]
    bs = [rng.standard_normal(3) for _ in range(5)]
    o = FiniteSumOracle([QuadraticOracle(A, b) for A, b in zip(As, bs)], batch_size=2)
    assert o.hessian_is_constant and o.has_hvp and o.stochastic
    x = rng.standard_normal(3)
    np.testing.assert_allclose(check_oracle(o, x), sum(As) / 5, rtol=1e-13)
    batch = o.sample_batch(np.random.default_rng(0))
    np.testing.assert_allclose(o.hessian(x, batch), (As[batch[0]] + As[batch[1]]) / 2, rtol=1e-13)
    assert o.value(x, batch) == pytest.approx(
        np.mean([0.5 * x @ As[j] @ x + bs[j] @ x for j in batch]), rel=1e-13)
    with pytest.raises(ShapeError, match=r"oracles\[1\]"):
        FiniteSumOracle([QuadraticOracle(np.eye(2)), QuadraticOracle(np.eye(3))])
