"""Teaching systems: small, well-understood LTI/LTV systems to try controllers on.

* :func:`double_integrator` — position/velocity of a unit mass pushed by a force;
* :func:`inverted_pendulum` — pendulum linearised about the upright (unstable) equilibrium;
* :func:`random_stable` — random ``(A, B)`` with a prescribed spectral radius;
* :func:`switching_system` — an LTV system switching between modes on a seeded schedule (the schedule itself comes
  from :func:`switching_schedule`, shared with :mod:`olc.systems.networks`).

Continuous-time models are discretised exactly under a zero-order hold (the input is held
constant over each step of length ``dt``): ``A_d = exp(A_c dt)``, ``B_d = int_0^dt exp(A_c s) ds B_c``,
both read off one matrix exponential of the block matrix ``[[A_c, B_c], [0, 0]] dt``.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, as_rng, check_alloc, check_square, in_range, nonnegative, positive, positive_int
from ..errors import InvalidArgumentError, NonFiniteError, ShapeError
from .linear import LTISystem, LTVSystem

__all__ = ["double_integrator", "inverted_pendulum", "random_stable", "switching_schedule",
           "switching_system", "zoh_discretize"]


def zoh_discretize(Ac, Bc, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact zero-order-hold discretisation of ``x' = Ac x + Bc u`` with step ``dt``.

    Returns ``(Ad, Bd)`` with ``Ad = exp(Ac dt)``, ``Bd = (int_0^dt exp(Ac s) ds) Bc`` computed as
    blocks of ``expm([[Ac, Bc], [0, 0]] * dt)`` (Van Loan).

    Parameters
    ----------
    Ac, Bc : array_like
        (d, d) and (d, m).
    dt : float
    """
    from scipy.linalg import expm

    dt = positive(dt, "dt")
    Ac = check_square(Ac, "Ac")
    d = Ac.shape[0]
    Bc = as_array(Bc, "Bc", ndim=2)                # (a vector Bc gets the clearer ndim message)
    Bc = as_array(Bc, "Bc", shape=(d, None))
    m = Bc.shape[1]
    M = np.zeros((d + m, d + m))
    M[:d, :d], M[:d, d:] = Ac, Bc
    with np.errstate(over="ignore", invalid="ignore"):
        M = M * dt
        E = expm(M) if np.all(np.isfinite(M)) else M
    if not np.all(np.isfinite(E)):
        raise NonFiniteError(f"zoh_discretize: exp([[Ac, Bc], [0, 0]] dt) overflows (max |Ac| = "
                             f"{np.max(np.abs(Ac)):.3g}, max |Bc| = {np.max(np.abs(Bc)):.3g}, dt = {dt:g}); "
                             "use a smaller dt or rescale the model")
    return E[:d, :d], E[:d, d:]


def double_integrator(dt: float = 1.0) -> LTISystem:
    """Unit mass on a line, state ``(position, velocity)``, control = force.

    ``A = [[1, dt], [0, 1]]``, ``B = [[dt^2 / 2], [dt]]`` — the exact zero-order-hold
    discretisation of ``p'' = u``. Marginally stable (double eigenvalue 1).

    Parameters
    ----------
    dt : float
    """
    dt = positive(dt, "dt")
    return LTISystem(np.array([[1.0, dt], [0.0, 1.0]]), np.array([[dt * dt / 2.0], [dt]]))


def inverted_pendulum(dt: float = 0.05, *, gravity: float = 9.81, length: float = 1.0, mass: float = 1.0,
                      damping: float = 0.0, validity_tol: float = 0.05) -> LTISystem:
    """Pendulum linearised about the upright position, state ``(theta, theta_dot)``, control = torque.

    Nonlinear model ``m l^2 theta'' = m g l sin(theta) - b theta' + u`` (``theta`` measured from upright); linearising
    ``sin(theta) ~ theta`` gives ``Ac = [[0, 1], [g/l, -b/(m l^2)]]``, ``Bc = [[0], [1/(m l^2)]]``, discretised exactly
    under a zero-order hold with step ``dt`` (:func:`zoh_discretize`). Open loop unstable: ``A`` has an eigenvalue
    ``> 1`` (``exp(sqrt(g/l) dt)`` without damping). The nonlinear plant itself is :class:`olc.systems.Pendulum`.

    Parameters
    ----------
    dt, gravity, length, mass, damping : float
        ``dt``, ``g``, ``l``, ``m``, ``b``.
    validity_tol : float
        The model is only accurate for small angles: ``system.info["validity"]`` is the
        :class:`~olc.systems.ValidityRegion` ``|theta| <= small_angle_bound(validity_tol)``
        (``sin(theta) ~ theta`` within ``validity_tol``, default 5 %: 0.5519 rad), which the control
        games check (``trace.info["validity"]`` and a :class:`~olc.systems.LinearizationWarning`).
    """
    from .validity import ValidityRegion, small_angle_bound

    dt = positive(dt, "dt")
    g = positive(gravity, "gravity")
    ell = positive(length, "length")
    mass = positive(mass, "mass")
    b = nonnegative(damping, "damping")
    inertia = mass * ell * ell
    if not (inertia > 0 and np.isfinite(inertia) and np.isfinite(g / ell) and np.isfinite(1.0 / inertia)):
        raise InvalidArgumentError(f"mass, length: the inertia m l^2 = {mass:g} * {ell:g}^2 = {inertia:g} "
                                   "under- or overflows the float range (and with it g/l and 1/(m l^2))")
    if not np.isfinite(b / inertia):
        raise InvalidArgumentError(f"damping: b / (m l^2) = {b:g} / {inertia:g} overflows the float range")
    Ac = np.array([[0.0, 1.0], [g / ell, -b / inertia]])
    Bc = np.array([[0.0], [1.0 / inertia]])
    system = LTISystem(*zoh_discretize(Ac, Bc, dt))
    system.info["validity"] = ValidityRegion({0: small_angle_bound(validity_tol)}, {0: "theta"},
                                             f"sin(theta) ~ theta within {100 * validity_tol:g} %")
    return system


def random_stable(d: int, m: int, spectral_radius: float = 0.9, seed=0, *,
                  symmetric: bool = False) -> LTISystem:
    """Random ``(A, B)`` whose ``A`` has spectral radius exactly ``spectral_radius``.

    ``A`` is a standard Gaussian matrix rescaled by ``spectral_radius / rho(G)`` (exact up to rounding). Such an ``A``
    is typically *not* normal, so ``||A^k||`` may first grow before it decays — the transient behaviour that the
    ``kappa`` of (kappa, gamma)-stability measures. ``B`` is Gaussian with entries of variance ``1/d``.

    Parameters
    ----------
    d, m : int
    spectral_radius : float
        In ``[0, 1)`` (a stable ``A``; :class:`~olc.errors.InvalidArgumentError` otherwise —
        :func:`switching_system` accepts larger values for unstable modes).
    seed : int or numpy.random.Generator
    symmetric : bool
        ``A = V diag(lam) V^T`` with random orthogonal ``V`` and ``max |lam| = spectral_radius``,
        so ``||A^k|| = spectral_radius^k`` exactly.
    """
    d = positive_int(d, "d")
    m = positive_int(m, "m")
    rho = in_range(spectral_radius, "spectral_radius", 0.0, 1.0, hi_open=True)
    return _random_lti(d, m, rho, as_rng(seed), symmetric)


def _check_lti_size(d: int, m: int, n: int = 1, who: str = "random_stable"):
    """``n`` random (d, d), (d, m) pairs plus the eigen-decomposition's workspace must fit in memory."""
    check_alloc(8.0 * n * (4 * d * d + d * m), f"{who}(d={d}, m={m}): {n} random system(s) with (d, d) matrices",
                "use a smaller d")


def _random_lti(d: int, m: int, rho: float, rng, symmetric: bool = False) -> LTISystem:
    """The draw of :func:`random_stable` for any ``rho >= 0`` (``rho >= 1``: an unstable ``A``)."""
    _check_lti_size(d, m)
    if symmetric:
        V, _ = np.linalg.qr(rng.standard_normal((d, d)))
        lam = rng.uniform(-1.0, 1.0, size=d)
        lam = lam * (rho / np.max(np.abs(lam)))
        A = (V * lam) @ V.T
        A = (A + A.T) / 2
    else:
        G = rng.standard_normal((d, d))
        A = G * (rho / np.max(np.abs(np.linalg.eigvals(G))))
    B = rng.standard_normal((d, m)) / np.sqrt(d)
    return LTISystem(A, B)


def switching_schedule(T: int, n_modes: int, *, switch_prob: float = 0.1, seed=0, start=None) -> np.ndarray:
    """A seeded mode sequence ``sigma_0..sigma_{T-1}`` in ``{0, .., n_modes-1}`` (int array (T,)).

    A Markov chain: the first mode is ``start`` (default: uniform at random); at each later
    step, with probability ``switch_prob`` the mode jumps to a different mode chosen uniformly,
    otherwise it stays. ``switch_prob=1`` switches every step, ``0`` never.

    Parameters
    ----------
    T, n_modes : int
    switch_prob : float
    seed : int or numpy.random.Generator
    start : int, optional
    """
    T = positive_int(T, "T")
    n_modes = positive_int(n_modes, "n_modes")
    p = in_range(switch_prob, "switch_prob", 0.0, 1.0)
    check_alloc(8.0 * 4 * T, f"switching_schedule(T={T}): the schedule and its random draws", "use a smaller T")
    rng = as_rng(seed)
    if start is None:
        cur = int(rng.integers(n_modes))
    else:
        cur = positive_int(start, "start", minimum=0)
        if cur >= n_modes:
            raise InvalidArgumentError(f"start: expected a mode in 0..{n_modes - 1}, got {start}")
    switch = rng.random(T) < p
    jumps = rng.integers(1, max(n_modes, 2), size=T)      # offset to a *different* mode
    switch[0] = False
    if n_modes == 1:
        return np.zeros(T, dtype=np.int64)
    # adding an offset in 1..n_modes-1 (mod n_modes) moves to a uniformly chosen *other* mode
    return ((cur + np.cumsum(np.where(switch, jumps, 0))) % n_modes).astype(np.int64)


def switching_system(systems=None, T: int = 100, *, d: int = 3, m: int = 1, n_modes: int = 2,
                     spectral_radius: float = 0.9, switch_prob: float = 0.1, seed=0) -> LTVSystem:
    """An LTV system of horizon ``T`` that switches between modes ``(A^(k), B^(k))``.

    The mode at step ``t`` is ``sigma_t`` from :func:`switching_schedule`; random modes and schedule
    are drawn from one generator seeded with ``seed``. Each mode being stable does *not* make the
    switched system stable: check with :func:`olc.systems.sequential_stability`. The schedule and
    modes are stored in ``system.info["schedule"]`` / ``info["modes"]``.

    Parameters
    ----------
    systems : list of LTISystem or (A, B) pairs, optional
        Of equal dimensions; None draws ``n_modes`` systems like :func:`random_stable`
        ``(d, m, spectral_radius)``, except that ``spectral_radius >= 1`` is allowed (unstable modes).
    T, d, m, n_modes : int
    spectral_radius, switch_prob : float
    seed : int or numpy.random.Generator
    """
    T = positive_int(T, "T")
    rng = as_rng(seed)
    if systems is None:
        n_modes = positive_int(n_modes, "n_modes")
        d, m = positive_int(d, "d"), positive_int(m, "m")
        rho = nonnegative(spectral_radius, "spectral_radius")       # >= 1 allowed: unstable modes
        _check_lti_size(d, m, n_modes, "switching_system")
        modes = [_random_lti(d, m, rho, rng) for _ in range(n_modes)]
    else:
        if len(systems) == 0:
            raise InvalidArgumentError("systems: expected a non-empty list of systems")
        modes = [s if isinstance(s, LTISystem) else LTISystem(*s) for s in systems]
        d0, m0 = modes[0].state_dim, modes[0].control_dim
        for k, s in enumerate(modes):
            if (s.state_dim, s.control_dim) != (d0, m0):
                raise ShapeError(f"systems[{k}]: expected state/control dims ({d0}, {m0}) like systems[0], "
                                 f"got ({s.state_dim}, {s.control_dim})")
    d0, m0 = modes[0].state_dim, modes[0].control_dim
    check_alloc(8.0 * T * (d0 * d0 + d0 * m0 + 4), f"switching_system(T={T}): the (T, d, d) and (T, d, m) "
                f"matrices of d={d0}, m={m0}", "use a shorter horizon T")
    sigma = switching_schedule(T, len(modes), switch_prob=switch_prob, seed=rng)
    As = np.stack([s.A() for s in modes])
    Bs = np.stack([s.B() for s in modes])
    return LTVSystem(As[sigma], Bs[sigma], info={"schedule": sigma, "modes": modes})
