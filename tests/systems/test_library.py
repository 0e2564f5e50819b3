"""Teaching systems: closed forms, exact spectral radius, switching schedules."""

import numpy as np
import pytest
from scipy.integrate import simpson
from scipy.linalg import expm

from olc.errors import InvalidArgumentError, ShapeError
from olc.systems import (
    LTISystem,
    double_integrator,
    inverted_pendulum,
    random_stable,
    switching_schedule,
    switching_system,
    zoh_discretize,
)


def test_double_integrator_is_exact_for_constant_force():
    sys = double_integrator(dt=0.5)
    x = sys.simulate(np.zeros(2), U=np.ones((4, 1)))
    t = 0.5 * 4
    np.testing.assert_allclose(x[-1], [t * t / 2, t], atol=1e-12)   # p = t^2/2, v = t under unit force


def test_inverted_pendulum_zoh():
    dt, g, ell = 0.1, 9.81, 0.5
    sys = inverted_pendulum(dt, gravity=g, length=ell)
    # undamped: eigenvalues exp(+-sqrt(g/l) dt), one unstable
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(sys.A()).real),
                               np.exp(np.array([-1, 1]) * np.sqrt(g / ell) * dt), rtol=1e-10)
    Ac = np.array([[0.0, 1.0], [g / ell, 0.0]])
    np.testing.assert_allclose(sys.A(), expm(Ac * dt), atol=1e-12)
    # B_d = int_0^dt expm(Ac s) ds Bc, via Simpson's rule
    s = np.linspace(0, dt, 201)
    vals = np.array([expm(Ac * si) @ np.array([0.0, 1 / ell**2]) for si in s])
    np.testing.assert_allclose(sys.B()[:, 0], simpson(vals, x=s, axis=0), rtol=1e-8)
    Ad, Bd = zoh_discretize(np.zeros((1, 1)), np.ones((1, 1)), 2.0)
    assert Ad[0, 0] == 1.0 and abs(Bd[0, 0] - 2.0) < 1e-12


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.9])
@pytest.mark.parametrize("symmetric", [False, True])
def test_random_stable_exact_spectral_radius(rho, symmetric):
    for seed in range(3):
        sys = random_stable(6, 2, spectral_radius=rho, seed=seed, symmetric=symmetric)
        assert abs(np.max(np.abs(np.linalg.eigvals(sys.A()))) - rho) < 1e-12
        assert sys.B().shape == (6, 2)
    np.testing.assert_array_equal(random_stable(4, 1, seed=7).A(), random_stable(4, 1, seed=7).A())
    if symmetric:
        assert abs(np.linalg.norm(sys.A(), 2) - rho) < 1e-12


def test_switching_schedule():
    s = switching_schedule(2000, 3, switch_prob=0.2, seed=0)
    assert s.shape == (2000,) and set(np.unique(s)) == {0, 1, 2}
    changes = np.mean(s[1:] != s[:-1])
    assert abs(changes - 0.2) < 0.04                       # switches have prob 0.2 and always change mode
    np.testing.assert_array_equal(s, switching_schedule(2000, 3, switch_prob=0.2, seed=0))
    assert np.all(switching_schedule(50, 4, switch_prob=0.0, seed=1, start=2) == 2)
    every = switching_schedule(50, 2, switch_prob=1.0, seed=1, start=0)
    np.testing.assert_array_equal(every, np.arange(50) % 2)
    with pytest.raises(InvalidArgumentError, match="switch_prob"):
        switching_schedule(10, 2, switch_prob=1.5)


def test_switching_system():
    modes = [LTISystem(np.eye(2) * 0.5, np.ones((2, 1))), (np.eye(2) * -0.5, np.zeros((2, 1)))]
    sys = switching_system(modes, T=40, switch_prob=0.5, seed=3)
    sched = sys.info["schedule"]
    assert sys.horizon == 40 and sys.is_time_varying
    for t in range(40):
        np.testing.assert_array_equal(sys.A(t), np.eye(2) * (0.5 if sched[t] == 0 else -0.5))
    rnd = switching_system(T=30, d=3, m=2, n_modes=3, seed=0)
    assert rnd.state_dim == 3 and rnd.control_dim == 2 and len(rnd.info["modes"]) == 3
    np.testing.assert_array_equal(rnd.A(10), switching_system(T=30, d=3, m=2, n_modes=3, seed=0).A(10))
    with pytest.raises(ShapeError, match=r"systems\[1\]"):
        switching_system([modes[0], (np.eye(3), np.ones((3, 1)))], T=5)


@pytest.mark.parametrize("rho", [1.0, 1.5, -0.1])
def test_random_stable_rejects_unstable_spectral_radius(rho):
    with pytest.raises(InvalidArgumentError, match=rf"spectral_radius: expected a number in \[0.0, 1.0\), got {rho}"):
        random_stable(3, 1, spectral_radius=rho)


def test_switching_system_may_have_unstable_modes():
    """switching_system's random modes are not restricted to rho < 1 (unstable modes on purpose)."""
    s = switching_system(T=10, d=3, m=1, spectral_radius=1.3, seed=0)
    assert len(s.info["modes"]) == 2
    for mode in s.info["modes"]:
        assert abs(np.max(np.abs(np.linalg.eigvals(mode.A()))) - 1.3) < 1e-12


@pytest.mark.parametrize("Ac, Bc, match", [
    (np.ones((2, 3)), np.ones((2, 1)), r"Ac: expected a square matrix, got shape \(2, 3\)"),
    (np.eye(2), np.ones((3, 1)), r"Bc: expected shape \(2, \*\), got shape \(3, 1\)"),
    (np.eye(2), np.ones(2), r"Bc: expected an array with 2 dimension"),
])
def test_zoh_discretize_shape_errors(Ac, Bc, match):
    with pytest.raises(ShapeError, match=match):
        zoh_discretize(Ac, Bc, 0.1)
