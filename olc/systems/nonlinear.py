"""Nonlinear teaching plants: the inverted pendulum and the cart-pole, integrated by fixed-step RK4.

Both are continuous-time mechanical systems ``ẋ = f(x, u)`` with the control held constant over each sampling interval
``dt`` (a zero-order hold, like the discretised linear models of :mod:`olc.systems.library`). One discrete step
``x_{t+1} = F(x_t, u_t)`` is ``substeps`` classical fourth-order Runge–Kutta steps of length ``h = dt / substeps``:

    k1 = f(x, u), k2 = f(x + h k1 / 2, u), k3 = f(x + h k2 / 2, u), k4 = f(x + h k3, u),
    x ← x + h (k1 + 2 k2 + 2 k3 + k4) / 6.

Why fixed-step RK4 and not ``scipy.integrate.solve_ivp``: a control game advances one sampling interval per round with
a new control each time, so an adaptive solver would restart every round (its error control and start-up cost are
wasted on a 50 ms interval with a smooth right-hand side); RK4 has local error ``O(h⁵)``, global error ``O(h⁴)``, is
deterministic and costs four ``f`` evaluations per substep. With the defaults (``dt = 0.05``, ``substeps = 5``,
``h = 0.01`` s against a pendulum time constant ``sqrt(l/g) ≈ 0.32`` s) the undamped, uncontrolled energy drifts by
less than ``1e-7`` of ``m g l`` over 100 s (tested; the drift falls like ``h⁴``).

The linearisation at the upright equilibrium (:meth:`NonlinearPlant.linearize`) is the exact zero-order-hold
discretisation of the Jacobians ``(∂f/∂x, ∂f/∂u)`` (:func:`olc.systems.zoh_discretize`); the discrete step's Jacobian
agrees with it up to RK4's ``O(h⁵)`` per step (tested by finite differences). LQR / GPC designed on that linear model
can be played on the nonlinear plant with :func:`olc.games.nonlinear_control`; the linear model carries a
:class:`~olc.systems.ValidityRegion` (small angles) and the games warn when a run leaves it.

Physics (standard textbook equations):

* pendulum, angle ``θ`` from upright: ``m l² θ̈ = m g l sin θ − b θ̇ + u`` (point mass on a massless
  rod, Newton's law for the rotation; the balance systems of Åström & Murray, *Feedback Systems*,
  2nd ed., 2021, ch. 2; the model of deluca's pendulum environment, written here from the equation);
* cart-pole, uniform pole of half-length ``l``: the frictionless equations of Barto, Sutton & Anderson (1983,
  *Neuronlike adaptive elements that can solve difficult learning control problems*), as corrected and derived by
  Florian (2007, *Correct equations for the dynamics of the cart-pole system*):
  ``θ̈ = (g sin θ − cos θ (F + m_p l θ̇² sin θ) / M) / (l (4/3 − m_p cos² θ / M))``,
  ``ẍ = (F + m_p l (θ̇² sin θ − θ̈ cos θ)) / M``, ``M = m_c + m_p`` (θ from upright, positive towards +x).
"""

from __future__ import annotations

import math

import numpy as np

from .._progress import progress_bar
from .._validate import as_array, check_alloc, in_range, nonnegative, positive, positive_int
from ..errors import DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError
from .validity import ValidityRegion, small_angle_bound

__all__ = ["NonlinearPlant", "Pendulum", "CartPole", "rk4_step"]

#: the most RK4 substeps per sampling interval a plant accepts
MAX_SUBSTEPS = 100_000


def rk4_step(f, x: np.ndarray, u: np.ndarray, dt: float, substeps: int = 1) -> np.ndarray:
    """``substeps`` classical RK4 steps of ``ẋ = f(x, u)`` over ``dt`` with ``u`` held constant.

    Parameters
    ----------
    f : callable
        ``f(x, u) -> ẋ``.
    x, u : ndarray
    dt : float
    substeps : int
    """
    h = dt / substeps
    for _ in range(substeps):
        k1 = f(x, u)
        k2 = f(x + 0.5 * h * k1, u)
        k3 = f(x + 0.5 * h * k2, u)
        k4 = f(x + h * k3, u)
        x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x


class NonlinearPlant:
    """Common interface of the nonlinear plants (see the module docstring).

    Attributes: ``state_dim``, ``control_dim``, ``dt``, ``substeps``, ``state_names``, ``control_names``, ``validity``
    (the :class:`ValidityRegion` of the linearisation), ``equilibrium`` (the state it is linearised at; the control
    there is 0). Subclasses implement :meth:`deriv`, :meth:`jacobians` and :meth:`energy`.
    """

    state_dim: int
    control_dim: int
    state_names: tuple[str, ...]
    control_names: tuple[str, ...]
    kind: str

    def _init_common(self, dt, substeps, validity_tol):
        self.dt = positive(dt, "dt")
        self.substeps = positive_int(substeps, "substeps")
        if self.substeps > MAX_SUBSTEPS:
            raise InvalidArgumentError(f"substeps: expected at most {MAX_SUBSTEPS:,} RK4 steps per sampling interval, "
                                       f"got {self.substeps:,} (RK4's O(h^4) error reaches float64 rounding long "
                                       "before; each substep costs four evaluations of f)")
        self.validity_tol = in_range(validity_tol, "validity_tol", 0.0, 1.0, lo_open=True, hi_open=True)
        self.equilibrium = np.zeros(self.state_dim)

    # ------------------------------------------------------------------ dynamics
    def deriv(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """The continuous-time vector field ``f(x, u)`` (d,).

        Parameters
        ----------
        x, u : ndarray
            A state (d,) and a control (m,).
        """
        raise NotImplementedError

    def jacobians(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        """``(∂f/∂x, ∂f/∂u)`` at the equilibrium (analytic)."""
        raise NotImplementedError

    def energy(self, x) -> np.ndarray | float:  # pragma: no cover - abstract
        """Total mechanical energy (kinetic + potential).

        Parameters
        ----------
        x : array_like
            A state (d,) or stack (n, d).
        """
        raise NotImplementedError

    @staticmethod
    def _finite_energy(E, X):
        """``E`` as a float (one state) or an array; a finite state whose energy overflows raises."""
        if not np.all(np.isfinite(E)):
            raise NonFiniteError(f"energy: the energy of the state(s) x overflows the float range (max |x| = "
                                 f"{np.max(np.abs(X)):.3g})")
        return float(E) if E.ndim == 0 else E

    def _states(self, x) -> np.ndarray:
        """``x`` as a state (d,) or a stack of states (n, d)."""
        X = as_array(x, "x", ndim=(1, 2))
        if X.shape[-1] != self.state_dim:
            d = self.state_dim
            raise ShapeError(f"x: expected shape ({d},) or (n, {d}), got shape {X.shape}")
        return X

    def step(self, x, u=None, w=None) -> np.ndarray:
        """One sampling interval: RK4 from ``x`` under the held control ``u``, plus the additive ``w``.

        ``x_{t+1} = F(x_t, u_t) + w_t`` — the disturbance enters like in the linear games (an
        impulse at the sampling instant).

        Parameters
        ----------
        x : array_like
        u, w : array_like, optional
            None: zeros.

        Raises
        ------
        DivergenceError
            If the result is not finite.
        """
        d, m = self.state_dim, self.control_dim
        x = as_array(x, "x", shape=(d,))
        u = np.zeros(m) if u is None else as_array(u, "u", shape=(m,))
        out = self._step(x, u)
        if w is not None:
            out = out + as_array(w, "w", shape=(d,))
        if not np.all(np.isfinite(out)):
            raise DivergenceError(f"{type(self).__name__}.step: the next state is non-finite (x = {x})", partial=x)
        return out

    def _step(self, x, u):
        """RK4 over one interval on plain floats (``_rhs``; 5–10× faster than on small arrays).
        Equal to ``rk4_step(self.deriv, x, u, dt, substeps)`` to rounding (tested)."""
        h = self.dt / self.substeps
        f, uu, xs = self._rhs, float(u[0]), [float(v) for v in x]
        n = len(xs)
        for _ in range(self.substeps):
            k1 = f(xs, uu)
            k2 = f([xs[i] + 0.5 * h * k1[i] for i in range(n)], uu)
            k3 = f([xs[i] + 0.5 * h * k2[i] for i in range(n)], uu)
            k4 = f([xs[i] + h * k3[i] for i in range(n)], uu)
            xs = [xs[i] + (h / 6.0) * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) for i in range(n)]
        return np.array(xs)

    def _rhs(self, xs, u: float):  # pragma: no cover - abstract
        """``f`` on a list of floats and a scalar control (the hot path of :meth:`_step`)."""
        raise NotImplementedError

    def simulate(self, x0, U=None, W=None, *, T: int | None = None, progress: bool | None = None) -> np.ndarray:
        """Open-loop rollout: states ``x_0..x_T`` (T+1, d).

        Raises :class:`~olc.errors.DivergenceError` with the states so far in ``.partial`` on overflow,
        and :class:`~olc.errors.ResourceError` before allocating states that do not fit in memory.

        Parameters
        ----------
        x0 : array_like
        U, W : array_like, optional
            Controls (T, m) and disturbances (T, d).
        T : int, optional
            ``len(U)``, else ``len(W)``, else this.
        progress : bool or None
            A tqdm bar over the steps (None: only once the rollout has run a few seconds).

        Examples
        --------
        >>> import numpy as np, olc
        >>> X = olc.systems.Pendulum(0.05).simulate(np.array([0.1, 0.0]), T=20)
        >>> X.shape, bool(abs(X[-1, 0]) > 0.1)  # the upright position is unstable
        ((21, 2), True)
        """
        d, m = self.state_dim, self.control_dim
        x = as_array(x0, "x0", shape=(d,))
        if U is not None:
            U = as_array(U, "U", shape=(None, m))
        if W is not None:
            W = as_array(W, "W", shape=(None, d) if U is None else (U.shape[0], d))
        n = U.shape[0] if U is not None else (W.shape[0] if W is not None else T)
        if n is None:
            raise InvalidArgumentError("simulate: give the controls U (T, m), the disturbances W (T, d) or T")
        n = positive_int(n, "T", minimum=0)
        check_alloc(8.0 * (n + 1) * d, f"simulate(T={n}): the {n + 1} states of dimension {d}",
                    "simulate fewer steps at a time (start the next piece at the last state)")
        X = np.empty((n + 1, d))
        X[0] = x
        zero = np.zeros(m)
        for t in progress_bar(range(n), progress, f"{type(self).__name__}.simulate"):
            x = self._step(x, zero if U is None else U[t])
            if W is not None:
                x = x + W[t]
            if not np.all(np.isfinite(x)):
                raise DivergenceError(f"simulate: state x_{t + 1} is non-finite; err.partial holds x_0..x_{t}",
                                      step=t, partial=X[: t + 1].copy())
            X[t + 1] = x
        return X

    # ------------------------------------------------------------------ linear model
    def linearize(self):
        """The ZOH discretisation of the Jacobians at the equilibrium, as an :class:`~olc.systems.LTISystem`.

        ``system.info`` holds ``"validity"`` (this plant's :class:`ValidityRegion`), ``"plant"``
        (the plant itself) and ``"continuous"`` (``(Ac, Bc)``).
        """
        from .library import zoh_discretize
        from .linear import LTISystem

        Ac, Bc = self.jacobians()
        system = LTISystem(*zoh_discretize(Ac, Bc, self.dt))
        system.info.update({"validity": self.validity, "plant": self, "continuous": (Ac, Bc)})
        return system

    def __repr__(self):
        return f"{type(self).__name__}(dt={self.dt:g}, substeps={self.substeps})"


class Pendulum(NonlinearPlant):
    """Nonlinear inverted pendulum, state ``(θ, θ̇)`` (θ from upright, rad), control = torque.

    ``m l² θ̈ = m g l sin θ − b θ̇ + u`` (point mass ``m`` on a massless rod of length ``l``, viscous damping ``b``),
    integrated by RK4 (module docstring). Its linearisation at ``θ = θ̇ = 0`` is exactly
    :func:`olc.systems.inverted_pendulum` with the same parameters. Energy ``E = ½ m l² θ̇² + m g l cos θ`` is
    conserved when ``u = 0`` and ``b = 0``. The linear model is trusted for ``|θ| <= small_angle_bound(validity_tol)``
    (``sin θ ≈ θ`` within ``validity_tol``, default 5 %: 0.5519 rad); the angle is not wrapped (a full turn is
    ``θ = 2π``, far outside the region).

    Parameters
    ----------
    dt, gravity, length, mass, damping : float
        The sampling interval and ``g``, ``l``, ``m``, ``b``.
    substeps : int
        RK4 steps per sampling interval.
    validity_tol : float
    """

    state_dim, control_dim = 2, 1
    state_names = ("θ", "θ̇")
    control_names = ("torque",)
    kind = "pendulum"

    def __init__(self, dt: float = 0.05, *, gravity: float = 9.81, length: float = 1.0, mass: float = 1.0,
                 damping: float = 0.0, substeps: int = 5, validity_tol: float = 0.05):
        self.gravity = positive(gravity, "gravity")
        self.length = positive(length, "length")
        self.mass = positive(mass, "mass")
        self.damping = nonnegative(damping, "damping")
        self._init_common(dt, substeps, validity_tol)
        self._inertia = self.mass * self.length * self.length   # inf on overflow (never OverflowError)
        self._a = self.gravity / self.length
        self.validity = self.linearize().info["validity"]   # refuses an m l^2 or g/l outside the float range

    def deriv(self, x, u):
        return np.array(self._rhs(x, float(u[0])))

    def _rhs(self, xs, u):
        th, om = xs[0], xs[1]
        return [om, self._a * math.sin(th) + (u - self.damping * om) / self._inertia]

    def jacobians(self):
        Ac = np.array([[0.0, 1.0], [self._a, -self.damping / self._inertia]])
        Bc = np.array([[0.0], [1.0 / self._inertia]])
        return Ac, Bc

    def linearize(self):
        """:func:`olc.systems.inverted_pendulum` with this plant's parameters (plus the ``info`` of
        :meth:`NonlinearPlant.linearize`)."""
        from .library import inverted_pendulum

        system = inverted_pendulum(self.dt, gravity=self.gravity, length=self.length, mass=self.mass,
                                   damping=self.damping, validity_tol=self.validity_tol)
        system.info.update({"plant": self, "continuous": self.jacobians()})
        return system

    def energy(self, x):
        X = self._states(x)
        th, om = X[..., 0], X[..., 1]
        E = 0.5 * self._inertia * om ** 2 + self.mass * self.gravity * self.length * np.cos(th)
        return self._finite_energy(E, X)


class CartPole(NonlinearPlant):
    """Nonlinear cart-pole, state ``(x, ẋ, θ, θ̇)`` (θ of the pole from upright), control = force on the cart.

    Frictionless equations of Barto, Sutton & Anderson (1983) / Florian (2007) for a uniform pole of mass
    ``pole_mass`` and half-length ``half_length`` on a cart of mass ``cart_mass`` (module docstring; the defaults are
    the classic ones: 1 kg cart, 0.1 kg pole, ``l = 0.5`` m), integrated by RK4. Energy
    ``E = ½ M ẋ² + m_p l ẋ θ̇ cos θ + ⅔ m_p l² θ̇² + m_p g l cos θ`` is conserved without force. The linear model is
    trusted for ``|θ| <= small_angle_bound(validity_tol, cosine=True)`` (``sin θ ≈ θ`` and ``cos θ ≈ 1`` within
    ``validity_tol``, default 5 %: 0.3176 rad); the cart position is not bounded (no track ends).

    Parameters
    ----------
    dt, gravity, cart_mass, pole_mass, half_length : float
    substeps : int
        RK4 steps per sampling interval.
    validity_tol : float
    """

    state_dim, control_dim = 4, 1
    state_names = ("x", "ẋ", "θ", "θ̇")
    control_names = ("force",)
    kind = "cartpole"

    def __init__(self, dt: float = 0.05, *, gravity: float = 9.81, cart_mass: float = 1.0, pole_mass: float = 0.1,
                 half_length: float = 0.5, substeps: int = 5, validity_tol: float = 0.05):
        self.gravity = positive(gravity, "gravity")
        self.cart_mass = positive(cart_mass, "cart_mass")
        self.pole_mass = positive(pole_mass, "pole_mass")
        self.half_length = positive(half_length, "half_length")
        self._init_common(dt, substeps, validity_tol)
        self._M = self.cart_mass + self.pole_mass
        self.validity = ValidityRegion({2: small_angle_bound(self.validity_tol, cosine=True)}, {2: "theta"},
                                       f"sin θ ≈ θ and cos θ ≈ 1 within {100 * self.validity_tol:g} %")

    def deriv(self, x, u):
        return np.array(self._rhs(x, float(u[0])))

    def _rhs(self, xs, u):
        g, mp, ell, M = self.gravity, self.pole_mass, self.half_length, self._M
        xd, th, om = xs[1], xs[2], xs[3]
        s, c = math.sin(th), math.cos(th)
        tmp = (u + mp * ell * om * om * s) / M
        thdd = (g * s - c * tmp) / (ell * (4.0 / 3.0 - mp * c * c / M))
        xdd = tmp - mp * ell * thdd * c / M
        return [xd, xdd, om, thdd]

    def jacobians(self):
        g, mp, ell, M = self.gravity, self.pole_mass, self.half_length, self._M
        den = ell * (4.0 / 3.0 - mp / M)
        Ac = np.zeros((4, 4))
        Ac[0, 1] = Ac[2, 3] = 1.0
        Ac[3, 2] = g / den
        Ac[1, 2] = -mp * ell * g / (M * den)
        Bc = np.zeros((4, 1))
        Bc[3, 0] = -1.0 / (M * den)
        Bc[1, 0] = 1.0 / M + mp * ell / (M * M * den)
        return Ac, Bc

    def energy(self, x):
        X = self._states(x)
        g, mp, ell, M = self.gravity, self.pole_mass, self.half_length, self._M
        xd, th, om = X[..., 1], X[..., 2], X[..., 3]
        E = (0.5 * M * xd ** 2 + mp * ell * xd * om * np.cos(th) + (2.0 / 3.0) * mp * ell ** 2 * om ** 2
             + mp * g * ell * np.cos(th))
        return self._finite_energy(E, X)
