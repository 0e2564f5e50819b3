"""Tasks: closed forms of the families, the update procedure, seeding and bad input."""

import numpy as np
import pytest

import olc
from olc.tasks import Task, gd_path, linear_regression, quadratic_form, random_quadratics, switching_stream


def test_linear_regression_contract_and_closed_forms():
    tasks = linear_regression(n_tasks=20, dim=5, seed=0)
    assert len(tasks) == 20 and all(isinstance(t, Task) for t in tasks)
    t = tasks[0]
    (tr, te) = t.quadratic
    X, y = t.train.X, t.train.y
    w = np.random.default_rng(1).standard_normal(5)
    # the quadratic form reproduces the oracle exactly: (1/2n)||Xw - y||^2
    assert np.isclose(tr.value(w), 0.5 * np.mean((X @ w - y) ** 2), rtol=1e-12)
    assert np.allclose(tr.grad(w), t.train.grad(w), atol=1e-12)
    assert np.isclose(te.value(w), t.test.value(w), rtol=1e-12)


def test_population_test_is_exact_risk():
    (t,) = linear_regression(1, 3, seed=2, noise=0.3, population_test=True)
    w = np.ones(3)
    S, ws = np.diag(t.info["input_scales"]), t.info["w_star"]
    # E ½(xᵀw − y)² = ½(w − w*)ᵀΣ(w − w*) + ½σ²
    assert np.isclose(t.test.value(w), 0.5 * (w - ws) @ S @ (w - ws) + 0.5 * 0.09, rtol=1e-12)


def test_random_quadratics_conditioning_and_minimiser():
    tasks = random_quadratics(4, dim=2, condition=50.0, seed=3, scale=2.0)
    for t in tasks:
        A = t.quadratic[0].A
        ev = np.linalg.eigvalsh(A)
        assert np.isclose(ev[-1] / ev[0], 50.0) and np.isclose(ev[-1], 2.0)
        assert np.allclose(t.train.grad(t.info["x_star"]), 0, atol=1e-12)
        assert abs(t.train.value(t.info["x_star"])) < 1e-12
        assert t.test is t.train  # App. B: f_i = f̂_i


def test_drift_makes_stream_nonstationary():
    tasks = random_quadratics(30, dim=2, seed=0, spread=0.0, drift=0.5)
    xs = np.array([t.info["x_star"] for t in tasks])
    steps = np.linalg.norm(np.diff(xs, axis=0), axis=1)
    assert np.allclose(steps, 0.5)


def test_adapt_is_gradient_descent():
    (t,) = random_quadratics(1, dim=3, seed=1)
    A, b = t.quadratic[0].A, t.quadratic[0].b
    w = np.arange(3.0)
    u = t.adapt(w, 0.1, 2)
    v = w - 0.1 * (A @ w + b)
    assert np.allclose(u, v - 0.1 * (A @ v + b), atol=1e-14)
    assert np.isclose(t.adapted_loss(w, 0.1, 2), t.test.value(u))


def test_gd_path_tolerance_stops_early():
    (t,) = random_quadratics(1, dim=2, condition=2.0, seed=0)
    path = gd_path(t.train, np.ones(2), 0.5, 1000, tol=1e-8)
    assert len(path) < 1000 and np.linalg.norm(t.train.grad(path[-1])) <= 1e-8


def test_data_batch_and_restrict():
    (t,) = linear_regression(1, 2, seed=0, n_train=10)
    assert t.data_batch(None) is None and t.data_batch(10) is None
    assert np.array_equal(t.data_batch(4), np.arange(4))
    with pytest.raises(olc.InvalidArgumentError):
        t.data_batch(11)
    v = t.restrict(np.arange(4), np.arange(4, 10))
    w = np.ones(2)
    X, y = t.train.X, t.train.y
    assert np.isclose(v.test.value(w), 0.5 * np.mean((X[4:] @ w - y[4:]) ** 2))
    assert quadratic_form(v.train) is not None  # frozen least squares keeps a constant Hessian


def test_seeded_reproducible():
    a = linear_regression(3, 4, seed=7)
    b = linear_regression(3, 4, seed=7)
    c = linear_regression(3, 4, seed=8)
    assert all(np.array_equal(x.train.X, y.train.X) for x, y in zip(a, b))
    assert not np.array_equal(a[0].train.X, c[0].train.X)


def test_sinusoid_features():
    tasks = olc.tasks.sinusoid_regression(3, seed=0, n_features=20)
    assert tasks[0].dim == 20 and tasks[0].quadratic is not None
    assert 0.1 <= tasks[0].info["amplitude"] <= 5.0


def test_switching_stream():
    a = random_quadratics(4, dim=2, seed=0)
    b = random_quadratics(4, dim=2, seed=1)
    s = switching_stream([a, b], block=2)
    assert s == [a[0], a[1], b[0], b[1], a[2], a[3], b[2], b[3]]
    with pytest.raises(olc.ShapeError):
        switching_stream([a, random_quadratics(2, dim=3)], block=1)


def test_bad_input():
    with pytest.raises(olc.InvalidArgumentError):
        linear_regression(0, 3)
    with pytest.raises(olc.InvalidArgumentError):
        random_quadratics(2, condition=0.5)
    with pytest.raises(olc.InvalidArgumentError):
        Task("not an oracle", None)
    (t,) = random_quadratics(1, dim=2, seed=0)
    with pytest.raises(olc.NonFiniteError):
        t.adapt(np.array([np.nan, 0.0]), 0.1)
    with pytest.raises(olc.NonFiniteError):  # divergent inner GD: non-finite iterate / loss
        t.adapt(np.ones(2) * 1e150, 1e160, 5)


def test_rainbow_digits_small():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    tasks = olc.tasks.rainbow_digits(2, seed=0, n_train=20, n_test=10, hidden=(4,))
    t = tasks[0]
    assert t.dim == 192 * 4 + 4 + 4 * 10 + 10 and t.n_train == 20
    ev = t.evaluate(t.info["x0"])
    assert 0.0 <= ev["accuracy"] <= 1.0 and np.isfinite(ev["loss"])
    assert t.info["color"] in olc.tasks.RAINBOW_COLORS


def test_range_arguments_are_checked():
    from olc.tasks import sinusoid_regression

    with pytest.raises(olc.errors.InvalidArgumentError, match=r"amplitude.*\(5, 1\)"):
        sinusoid_regression(3, amplitude=(5, 1))
    with pytest.raises(olc.errors.InvalidArgumentError, match="phase"):
        sinusoid_regression(3, phase=(1.0, 0.0))
    with pytest.raises(olc.errors.InvalidArgumentError, match="x_range"):
        sinusoid_regression(3, x_range=(2.0, 1.0))
    with pytest.raises(olc.errors.InvalidArgumentError, match="amplitude"):
        sinusoid_regression(3, amplitude=5)
    with pytest.raises(olc.errors.NonFiniteError, match="amplitude"):
        sinusoid_regression(3, amplitude=(0.0, np.inf))
    with pytest.raises(olc.errors.InvalidArgumentError, match="scale_range.*1"):
        linear_regression(3, 5, scale_range=1)
    with pytest.raises(olc.errors.InvalidArgumentError, match="scale_range"):
        linear_regression(3, 5, scale_range=(1.0, 2.0, 3.0))
    assert len(sinusoid_regression(2, amplitude=(1, 1), n_features=4)) == 2


def test_sinusoid_mlp_hidden_is_checked():
    pytest.importorskip("torch")
    from olc.tasks import sinusoid_regression

    with pytest.raises(olc.errors.InvalidArgumentError, match="hidden"):
        sinusoid_regression(2, model="mlp", hidden=-3)
