"""Nonlinear plants: first-order agreement with their linearisation, energy conservation, RK4 order."""

import numpy as np
import pytest

from olc.errors import InvalidArgumentError, ShapeError
from olc.systems import CartPole, Pendulum, inverted_pendulum, rk4_step, small_angle_bound, zoh_discretize

PLANTS = [Pendulum, CartPole]


def _fd_jacobian(fun, z, eps=1e-6):
    """Central finite differences (error O(eps²))."""
    z = np.asarray(z, float)
    cols = []
    for k in range(len(z)):
        e = np.zeros_like(z)
        e[k] = eps
        cols.append((fun(z + e) - fun(z - e)) / (2 * eps))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("Plant", PLANTS)
def test_continuous_jacobians_match_finite_differences(Plant):
    p = Plant()
    d = p.state_dim
    J = _fd_jacobian(lambda z: p.deriv(z[:d], z[d:]), np.zeros(d + 1))
    Ac, Bc = p.jacobians()
    np.testing.assert_allclose(J[:, :d], Ac, atol=1e-8)
    np.testing.assert_allclose(J[:, d:], Bc, atol=1e-8)


@pytest.mark.parametrize("Plant", PLANTS)
def test_discrete_step_matches_zoh_linearisation_to_rk4_order(Plant):
    """Jacobian of the RK4 step at the equilibrium vs the exact ZOH model: error O(h⁵) per step."""
    errs = []
    for dt in (0.05, 0.025):
        p = Plant(dt=dt, substeps=1)
        d = p.state_dim
        J = _fd_jacobian(lambda z: p.step(z[:d], z[d:]), np.zeros(d + 1))
        lin = p.linearize()
        Ad, Bd = zoh_discretize(*p.jacobians(), dt)
        np.testing.assert_allclose(lin.A(), Ad, atol=1e-15)
        err = np.abs(J - np.hstack([Ad, Bd])).max()
        errs.append(err)
    assert errs[0] < 5e-5
    assert 20 < errs[0] / errs[1] < 45          # halving h divides the error by ~2⁵ = 32
    # with the default 5 substeps (h = 0.01) the step's Jacobian is the linear model to ~1e-8
    p = Plant()
    d = p.state_dim
    J = _fd_jacobian(lambda z: p.step(z[:d], z[d:]), np.zeros(d + 1))
    lin = p.linearize()
    assert np.abs(J - np.hstack([lin.A(), lin.B()])).max() < 1e-7


@pytest.mark.parametrize("Plant", PLANTS)
def test_trajectories_agree_with_the_linear_model_to_first_order(Plant):
    """Started at amplitude a, nonlinear minus linear trajectory is O(a³) (odd dynamics): relative gap O(a²)."""
    p = Plant()
    lin = p.linearize()
    idx = 0 if Plant is Pendulum else 2
    gaps = []
    for a in (0.02, 0.01):
        x0 = np.zeros(p.state_dim)
        x0[idx] = a
        Xn = p.simulate(x0, T=10)
        Xl = lin.simulate(x0, T=10)
        gaps.append(np.abs(Xn - Xl).max() / np.abs(Xl).max())
    assert gaps[0] < 1e-2
    assert 3 < gaps[0] / gaps[1] < 5        # relative gap O(a²)


def test_pendulum_linearisation_is_the_library_pendulum():
    p = Pendulum(dt=0.1, gravity=9.0, length=0.5, mass=2.0, damping=0.3)
    lib = inverted_pendulum(0.1, gravity=9.0, length=0.5, mass=2.0, damping=0.3)
    np.testing.assert_allclose(p.linearize().A(), lib.A(), atol=1e-15)
    np.testing.assert_allclose(p.linearize().B(), lib.B(), atol=1e-15)
    assert p.linearize().info["plant"] is p


@pytest.mark.parametrize("Plant", PLANTS)
def test_float_rk4_equals_the_array_rk4(Plant):
    p = Plant()
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, u = rng.standard_normal(p.state_dim), rng.standard_normal(1)
        np.testing.assert_allclose(p.step(x, u), rk4_step(p.deriv, x, u, p.dt, p.substeps), rtol=1e-13, atol=1e-13)


def test_pendulum_conserves_energy_without_control_and_friction():
    """Stated tolerance (docs/control.md, olc.systems.nonlinear): |ΔE| < 1e-7 m g l over 100 s at the
    defaults (h = 0.01), for a large swing (θ₀ = 2 rad), and the drift falls like h⁴."""
    drift = {}
    for sub in (2, 4, 5):
        p = Pendulum(substeps=sub, mass=1.5)
        X = p.simulate([2.0, 0.0], T=2000)
        E = p.energy(X)
        drift[sub] = np.abs(E - E[0]).max() / (p.mass * p.gravity * p.length)
    assert drift[5] < 1e-7
    assert drift[2] / drift[4] > 10                 # ~2⁴
    # a damped pendulum loses energy monotonically (a check the energy formula could fail)
    p = Pendulum(damping=0.2)
    E = p.energy(p.simulate([2.0, 0.0], T=400))
    assert np.all(np.diff(E) < 1e-12) and E[-1] < E[0] - 1.0


def test_cartpole_conserves_energy_without_force():
    """|ΔE| < 2e-6 m_p g l over 100 s at the defaults, the pole spinning over (θ₀ = 1 rad, ẋ₀ = 0.5)."""
    drift = {}
    for sub in (2, 4, 5):
        c = CartPole(substeps=sub)
        X = c.simulate([0.0, 0.5, 1.0, 0.0], T=2000)
        E = c.energy(X)
        drift[sub] = np.abs(E - E[0]).max() / (c.pole_mass * c.gravity * c.half_length)
        assert np.max(np.abs(X[:, 2])) > np.pi       # the pole fell through the bottom: far from linear
    assert drift[5] < 2e-6
    assert drift[2] / drift[4] > 10
    # momentum along the track is conserved too without force: d/dt (M ẋ + m_p l θ̇ cos θ) = 0
    c = CartPole()
    X = c.simulate([0.0, 0.5, 1.0, 0.0], T=500)
    mom = c._M * X[:, 1] + c.pole_mass * c.half_length * X[:, 3] * np.cos(X[:, 2])
    assert np.abs(mom - mom[0]).max() < 1e-6


def test_small_angle_bound_solves_its_equation():
    th = small_angle_bound(0.05)
    assert abs(1 - np.sin(th) / th - 0.05) < 1e-12 and 0.55 < th < 0.56
    thc = small_angle_bound(0.05, cosine=True)
    assert abs(1 - np.cos(thc) - 0.05) < 1e-12
    assert small_angle_bound(0.01) < th


def test_bad_inputs_are_named():
    with pytest.raises(InvalidArgumentError, match="dt"):
        Pendulum(dt=0.0)
    with pytest.raises(InvalidArgumentError, match="substeps"):
        CartPole(substeps=0)
    with pytest.raises(InvalidArgumentError, match="validity_tol"):
        Pendulum(validity_tol=1.5)
    with pytest.raises(ShapeError, match="x"):
        Pendulum().step(np.zeros(3))
    with pytest.raises(ShapeError, match="x"):
        CartPole().energy(np.zeros(2))
    with pytest.raises(InvalidArgumentError, match="simulate"):
        Pendulum().simulate(np.zeros(2))
