"""Projections are exact, idempotent and non-expansive; linear minimisation matches brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import olc
from olc.sets import Ball, Box, FrobeniusBall, OperatorBall, Product, Reals, Shrunk, Simplex

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
VECTOR_SETS = [Ball(1.0), Ball(2.5), Box(-1.0, 0.5), Box(np.array([-1, 0, -2.0, -0.1]), np.array([1, 3, -1.0, 0.2])),
               Simplex(4), Simplex(4, scale=2.0), Shrunk(Ball(1.0), 0.3), Reals()]
MATRIX_SETS = [FrobeniusBall(1.5), OperatorBall(1.0), Shrunk(OperatorBall(2.0), 0.5)]


def _dist(a, b):
    return float(np.sqrt(np.sum((a - b) ** 2)))


@pytest.mark.parametrize("K", VECTOR_SETS, ids=repr)
@settings(max_examples=60, deadline=None)
@given(x=arrays(float, 4, elements=finite), y=arrays(float, 4, elements=finite))
def test_vector_projection_properties(K, x, y):
    px, py = K.project(x), K.project(y)
    assert K.contains(px, tol=1e-9)
    np.testing.assert_allclose(K.project(px), px, atol=1e-9)  # idempotent
    assert _dist(px, py) <= _dist(x, y) + 1e-9  # non-expansive
    # obtuse-angle characterisation of the projection: <x - Px, z - Px> <= 0 for z in K
    for z in (K.project(np.zeros(4)), py):
        assert np.dot(x - px, z - px) <= 1e-7 * (1 + _dist(x, px) * _dist(z, px))


@pytest.mark.parametrize("K", MATRIX_SETS, ids=repr)
@settings(max_examples=40, deadline=None)
@given(x=arrays(float, (3, 2), elements=finite), y=arrays(float, (3, 2), elements=finite))
def test_matrix_projection_properties(K, x, y):
    px, py = K.project(x), K.project(y)
    assert K.contains(px, tol=1e-9)
    np.testing.assert_allclose(K.project(px), px, atol=1e-8)
    assert _dist(px, py) <= _dist(x, y) + 1e-8
    assert np.sum((x - px) * (py - px)) <= 1e-6 * (1 + _dist(x, px) * _dist(py, px))


def test_simplex_projection_matches_qp():
    """Sort-based projection equals scipy's constrained least-squares solution."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    K = Simplex(6)
    for _ in range(5):
        x = rng.normal(size=6) * 2
        res = minimize(lambda z: np.sum((z - x) ** 2), np.full(6, 1 / 6), method="SLSQP",
                       constraints=[{"type": "eq", "fun": lambda z: z.sum() - 1}], bounds=[(0, None)] * 6,
                       options={"ftol": 1e-14})
        np.testing.assert_allclose(K.project(x), res.x, atol=1e-6)


def test_operator_ball_projection_clips_singular_values():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3)) * 3
    p = OperatorBall(1.0).project(x)
    s_in, s_out = np.linalg.svd(x, compute_uv=False), np.linalg.svd(p, compute_uv=False)
    np.testing.assert_allclose(s_out, np.minimum(s_in, 1.0), atol=1e-12)


@pytest.mark.parametrize("K", [Ball(1.3), Box(-1.0, 2.0, dim=3), Simplex(3), Shrunk(Box(-1, 1, dim=3), 0.2)], ids=repr)
def test_min_linear_beats_random_points(K):
    rng = np.random.default_rng(2)
    G = rng.normal(size=(5, 3))
    pts = K.project(rng.normal(size=(4000, 3)) * 3)
    brute = (G @ pts.T).min(axis=1)
    closed = K.min_linear(G)
    assert np.all(closed <= brute + 1e-12)
    np.testing.assert_allclose(np.einsum("ij,ij->i", G, K.argmin_linear(G)), closed, atol=1e-12)
    assert np.all(K.contains(K.argmin_linear(G)))


def test_matrix_min_linear_dual_norms():
    rng = np.random.default_rng(3)
    G = rng.normal(size=(3, 2))
    assert OperatorBall(2.0).min_linear(G) == pytest.approx(-2.0 * np.linalg.norm(G, "nuc"))
    assert FrobeniusBall(2.0).min_linear(G) == pytest.approx(-2.0 * np.linalg.norm(G))
    X = OperatorBall(2.0).argmin_linear(G)
    assert np.sum(G * X) == pytest.approx(-2.0 * np.linalg.norm(G, "nuc"))


def test_shrunk_is_scaled_set_and_keeps_perturbations_inside():
    K = Ball(2.0)
    Kd = K.shrink(0.25)
    assert Kd.radius == pytest.approx(1.5)
    rng = np.random.default_rng(4)
    x = Kd.project(rng.normal(size=(100, 3)) * 5)
    u = rng.normal(size=(100, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    # x + δ r u stays in K when δ = 0.25 and r = inradius = 2
    assert np.all(K.contains(x + 0.25 * 2.0 * u))


def test_product_of_lag_balls():
    radii = [1.0, 0.5, 0.25]
    P = Product([OperatorBall(r) for r in radii])
    M = np.random.default_rng(5).normal(size=(3, 2, 4)) * 3
    PM = P.project(M)
    for i, r in enumerate(radii):
        assert np.linalg.norm(PM[i], 2) <= r + 1e-12
    assert P.min_linear(M) == pytest.approx(sum(-r * np.linalg.norm(M[i], "nuc") for i, r in enumerate(radii)))


@pytest.mark.parametrize("make, arg", [
    (lambda: Ball(0.0), "radius"), (lambda: Ball(-1.0), "radius"), (lambda: Ball(float("nan")), "radius"),
    (lambda: Box(1.0, -1.0), "lo, hi"), (lambda: Simplex(0), "n"), (lambda: FrobeniusBall(-2.0), "radius"),
    (lambda: Shrunk(Ball(1.0), 1.0), "delta"), (lambda: Product([]), "sets"),
])
def test_bad_sets_raise_named_errors(make, arg):
    with pytest.raises(olc.OlcError, match=arg):
        make()


def test_wrong_shapes_and_nan_points():
    with pytest.raises(olc.ShapeError, match="x"):
        Simplex(3).project(np.ones(4))
    with pytest.raises(olc.ShapeError):
        OperatorBall(1.0).project(np.ones(3))
    with pytest.raises(olc.NonFiniteError, match="x"):
        Ball(1.0).project(np.array([np.nan, 0.0]))
    with pytest.raises(olc.InvalidArgumentError):
        Reals().argmin_linear(np.ones(2))


def test_set_constructors_name_bad_shapes_and_factors():
    with pytest.raises(olc.ShapeError, match=r"shape: a matrix ball needs a \(rows, cols\) shape, got \(2,\)"):
        FrobeniusBall(1.0, shape=(2,))
    with pytest.raises(olc.InvalidArgumentError, match="shape"):
        OperatorBall(1.0, shape=(2, 0))
    with pytest.raises(olc.InvalidArgumentError, match=r"sets\[0\]: expected an olc.sets set"):
        Product([1, 2])
    with pytest.raises(olc.InvalidArgumentError, match="shape: expected a tuple of positive ints"):
        Ball(1.0).check_shape((-1,))
