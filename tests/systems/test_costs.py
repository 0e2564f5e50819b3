"""Quadratic and general convex costs: values, gradients (finite differences), validation."""

import numpy as np
import pytest

import olc
from olc.errors import InvalidArgumentError, NonFiniteError, ShapeError
from olc.systems import ConvexCost, QuadraticCost


def test_contract_and_values():
    c = olc.systems.QuadraticCost(Q=np.eye(2), R=np.eye(1))
    assert c.value(np.array([1.0, 2.0]), np.array([3.0])) == 14.0     # no 1/2 factor
    assert c(np.array([1.0, 2.0]), np.array([3.0])) == 14.0


def test_grad_and_hessian_match_finite_differences():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((3, 3))
    Q, R = G @ G.T, np.array([[2.0, 0.5], [0.5, 1.0]])
    c = QuadraticCost(Q, R)
    x, u = rng.standard_normal(3), rng.standard_normal(2)
    gx, gu = c.grad(x, u)
    eps = 1e-6
    fd_x = [(c.value(x + eps * e, u) - c.value(x - eps * e, u)) / (2 * eps) for e in np.eye(3)]
    fd_u = [(c.value(x, u + eps * e) - c.value(x, u - eps * e)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(gx, fd_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gu, fd_u, rtol=1e-6, atol=1e-8)
    Hx, Hu = c.hessian()
    fd_H = np.array([(c.grad(x + eps * e, u)[0] - c.grad(x - eps * e, u)[0]) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(Hx, fd_H, atol=1e-6)
    np.testing.assert_allclose(Hu, 2 * R)


def test_vectorised_evaluation():
    rng = np.random.default_rng(1)
    c = QuadraticCost(np.diag([1.0, 2.0]), np.eye(1) * 3)
    X, U = rng.standard_normal((7, 2)), rng.standard_normal((7, 1))
    vals = c.value(X, U)
    assert vals.shape == (7,)
    np.testing.assert_allclose(vals, [c.value(x, u) for x, u in zip(X, U)])
    gX, gU = c.grad(X, U)
    np.testing.assert_allclose(gX, [c.grad(x, u)[0] for x, u in zip(X, U)])
    assert gU.shape == (7, 1)


def test_validation_errors():
    with pytest.raises(InvalidArgumentError, match="Q: expected a positive semidefinite"):
        QuadraticCost(np.diag([1.0, -1.0]), np.eye(1))
    with pytest.raises(InvalidArgumentError, match="R: expected a positive definite"):
        QuadraticCost(np.eye(2), np.zeros((1, 1)))
    with pytest.raises(InvalidArgumentError, match="Q: expected a symmetric"):
        QuadraticCost(np.array([[1.0, 1.0], [0.0, 1.0]]), np.eye(1))
    with pytest.raises(ShapeError, match="R"):
        QuadraticCost(np.eye(2), np.ones((1, 2)))
    c = QuadraticCost(np.eye(2), np.eye(1))
    with pytest.raises(ShapeError, match="x"):
        c.value(np.ones(3), np.ones(1))
    with pytest.raises(NonFiniteError, match="u"):
        c.value(np.ones(2), np.array([np.nan]))


def test_convex_cost():
    def f(x, u):
        return float(np.sum(np.abs(x)) + u @ u)

    def g(x, u):
        return np.sign(x), 2 * u

    c = ConvexCost(f, g)
    X, U = np.array([[1.0, -2.0], [0.5, 0.0]]), np.array([[1.0], [2.0]])
    np.testing.assert_allclose(c.value(X, U), [4.0, 4.5])
    gx, gu = c.grad(X, U)
    np.testing.assert_allclose(gx, [[1, -1], [1, 0]])
    np.testing.assert_allclose(gu, [[2.0], [4.0]])
    bad = ConvexCost(lambda x, u: np.inf, lambda x, u: (x, np.ones(3)))
    with pytest.raises(NonFiniteError, match="value_fn"):
        bad.value(np.ones(2), np.ones(1))
    with pytest.raises(ShapeError, match="gu"):
        bad.grad(np.ones(2), np.ones(1))
    with pytest.raises(InvalidArgumentError, match="grad_fn"):
        ConvexCost(f, None)
