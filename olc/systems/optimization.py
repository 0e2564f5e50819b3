"""The optimization LTV: gradient descent as a linear time-varying system driven by gradients.

Specification: ``nonconvex-meta-optimization`` App. B, eqs. (1)–(3), and Alg. 4 ("Rollout");
the practical meta-optimizer (Alg. 1 / Alg. 7) adds to gradient descent a control that is
a linear function of past gradients, ``u_t = −Σ_{h=1}^H M^{(h)} g_{t+1−h}``.

Notation (one episode; ``t = 0, 1, ...``; ``n = oracle.dim``):

* ``f_t`` — the loss function of step ``t`` (the oracle on the minibatch ``B_t``);
  ``g_t = ∇f_t(x_t)`` its gradient at the iterate.
* Eq. (1): ``H_t`` is the matrix with ``∇f_t(x_t) = H_t (x_t − x_{t−1}) + ∇f_t(x_{t−1})``
  (same minibatch at both points). For quadratics ``H_t`` is the (minibatch) Hessian.
* State (eq. (2)), shape ``(3n,)``::

      z_t = [ x_t ; x_{t−1} ; ∇f_{t−1}(x_{t−1}) ]      blocks of n, in this order,

  with ``z_0 = [x_0 ; x_0 ; 0]`` (the initialisation ``z_{i,1,1}`` of Alg. 5).
* ``z_{t+1} = A_t z_t + B u_t + w_t`` with ``B = [I ; 0 ; 0]`` (``(3n, n)``, eq. (3)) and the
  gradient disturbance ``ŵ_t = ∇f_t(x_{t−1})`` (eq. (3)).

**Two readings of eq. (2)** (``form=``). Taken literally, the first block row of eq. (2), ``[(1−δ)I, 0, −ηI]``, gives
``x_{t+1} = (1−δ)x_t − η∇f_{t−1}(x_{t−1}) + u_t``: a gradient that is one step old (this is also what eq. (8) of Alg.
5 uses). Algorithms 1, 4 and 7, and the optimizer this library steers, use the current gradient,
``x_{t+1} = (1−δ)x_t − η∇f_t(x_t) + u_t``. Both are exact LTVs on the same state:

* ``form="gd"`` (default): substituting eq. (1) for ``∇f_t(x_t)``,
  ``A_t = [[(1−δ)I − ηH_t, ηH_t, 0], [I, 0, 0], [H_t, −H_t, 0]]`` and
  ``w_t = [−ηŵ_t ; 0 ; ŵ_t]``. Zero control reproduces gradient descent with weight decay.
* ``form="delayed"``: eq. (2)–(3) verbatim, ``A_t = [[(1−δ)I, 0, −ηI], [I, 0, 0],
  [H_t, −H_t, 0]]``, ``w_t = [0 ; 0 ; ŵ_t]``; zero control is the delayed-gradient method.

The last two block rows (and ``B``) are the paper's in both forms.

**H_t for general oracles.** The paper obtains ``H_t`` from the mean value theorem per coordinate. We use the integral
mean value ``H_t = ∫_0^1 ∇²f_t(x_{t−1} + τ(x_t − x_{t−1})) dτ`` (symmetric, satisfies eq. (1) exactly), computed with
``hessian_nodes``-point Gauss–Legendre quadrature of oracle Hessians (closed form or ``n`` HVPs each), followed by
default by the rank-one secant correction ``H ← H + r sᵀ/(sᵀs)``, ``s = x_t − x_{t−1}``, ``r = g_t − ŵ_t − H s``, so
that eq. (1) — and hence ``z_{t+1} = A_t z_t + B u_t + w_t`` — holds to rounding error. On oracles with
``hessian_is_constant`` (quadratics, least squares) ``H_t`` is the exact Hessian and no quadrature or correction is
done. ``H_t`` and ``ŵ_t`` are computed lazily, only when ``A(t)``/``w(t)`` are asked for (they cost ``O(n²)`` memory
and one extra gradient per step).

**Weight decay** ``δ`` is ``weight_decay``; ``η`` is ``lr``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validate import as_array, as_rng, check_alloc, check_choice, in_range, positive, positive_int
from ..errors import DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError
from ..oracles.base import GradientOracle

__all__ = ["OptimizationSystem", "RolloutResult", "dfc_control", "dfc_controls", "dfc_policy",
           "mean_value_hessian"]

_SAMPLE = object()  # "draw the minibatch from the system's generator"


# ---------------------------------------------------------------------------- DFC controls
def _as_M(M, n: int) -> np.ndarray:
    """Disturbance-feedback parameters: ``(H,)`` scalars (Alg. 7), ``(H, n)`` diagonals or ``(H, n, n)``."""
    M = as_array(M, "M", ndim=(1, 2, 3))
    if M.shape[0] == 0:
        raise ShapeError("M: expected at least one matrix (H >= 1), got shape " + str(M.shape))
    if (M.ndim == 2 and M.shape[1] != n) or (M.ndim == 3 and M.shape[1:] != (n, n)):
        raise ShapeError(f"M: expected shape (H,), (H, {n}) or (H, {n}, {n}), got {M.shape}")
    return M


def _apply(Mh: np.ndarray, g: np.ndarray) -> np.ndarray:
    return Mh * g if Mh.ndim <= 1 else Mh @ g


def dfc_control(M, grads) -> np.ndarray:
    """``u_t = −Σ_{h=1}^{H} M^{(h)} g_{t+1−h}`` where ``grads[-1]`` is ``g_t`` (most recent last).

    This is the meta-optimization update of ``nonconvex-meta-optimization`` Alg. 1 / Alg. 7
    (``x_{t+1} = (1−δ)x_t − ηg_t − Σ_h M^{(h)} g_{t+1−h}``; ``M^{(1)}`` multiplies the current
    gradient). Gradients before the start of the buffer count as zero (Alg. 7). ``M`` has
    shape ``(H,)`` (scalars), ``(H, n)`` (diagonals) or ``(H, n, n)``.

    Parameters
    ----------
    M : array_like
    grads : array_like
        ``(k, n)``, most recent last.
    """
    grads = as_array(grads, "grads", ndim=2)
    M = _as_M(M, grads.shape[1])
    u = np.zeros(grads.shape[1])
    for h in range(1, min(M.shape[0], grads.shape[0]) + 1):
        u -= _apply(M[h - 1], grads[-h])
    return u


def dfc_controls(M, disturbances, L: int) -> np.ndarray:
    """The ``(L, n)`` controls of Alg. 4: ``u_t = −Σ_h M^{(h)} g_{t−h+1}``, ``t = 0..L−1``.

    ``disturbances`` holds the stored gradients ``g_τ`` oldest first and ending with ``g_{L−1}`` (Alg. 4's buffer is
    ``g_{−H}, ..., g_{L−1}``; ``g_{−H}`` itself is never used by the update, and missing older entries count as zero).

    Parameters
    ----------
    M : array_like
    disturbances : array_like
    L : int
    """
    L = positive_int(L, "L", minimum=0)
    G = as_array(disturbances, "disturbances", ndim=2)
    if G.shape[0] < L:
        raise ShapeError(f"disturbances: need at least L = {L} stored gradients (ending with g_(L-1)), "
                         f"got {G.shape[0]}")
    off = G.shape[0] - L
    return np.array([dfc_control(M, G[: off + t + 1]) for t in range(L)]).reshape(L, G.shape[1])


def dfc_policy(M) -> Callable:
    """A policy ``(t, x_t, grads) -> u_t`` applying :func:`dfc_control` to the gradients so far.

    Parameters
    ----------
    M : array_like
        As in :func:`dfc_control`.
    """
    M = as_array(M, "M", ndim=(1, 2, 3))

    def policy(t, x, grads):
        return dfc_control(M, grads)

    return policy


# ---------------------------------------------------------------------------- eq. (1)
def mean_value_hessian(oracle: GradientOracle, x_prev, x, batch=None, *, nodes: int = 3, secant: bool = True,
                       grad_prev=None, grad=None) -> np.ndarray:
    """The matrix ``H`` of eq. (1): ``∇f(x) = H (x − x_prev) + ∇f(x_prev)`` (f on ``batch``).

    Integral mean value of the Hessian over the segment by ``nodes``-point Gauss–Legendre
    quadrature, plus (``secant=True``) the rank-one correction that makes eq. (1) exact;
    exact Hessian when ``oracle.hessian_is_constant`` or ``x == x_prev``. ``grad_prev`` /
    ``grad`` (``∇f(x_prev)``, ``∇f(x)`` on the same batch) are computed when not given.

    Parameters
    ----------
    oracle : GradientOracle
    x_prev, x : array_like
    batch : object, optional
    nodes : int
    secant : bool
    grad_prev, grad : array_like, optional
    """
    x_prev = as_array(x_prev, "x_prev", shape=(oracle.dim,))
    x = as_array(x, "x", shape=(oracle.dim,))
    s = x - x_prev
    ss = float(s @ s)
    if oracle.hessian_is_constant or ss == 0.0:
        return oracle.hessian(x, batch)
    xi, wts = np.polynomial.legendre.leggauss(positive_int(nodes, "nodes"))
    H = sum(0.5 * wk * oracle.hessian(x_prev + 0.5 * (xk + 1.0) * s, batch) for xk, wk in zip(xi, wts))
    if secant:
        g_prev = oracle.grad(x_prev, batch) if grad_prev is None else grad_prev
        g = oracle.grad(x, batch) if grad is None else grad
        r = (g - g_prev) - H @ s
        H = H + np.outer(r, s) / ss
    return H


# ---------------------------------------------------------------------------- rollout output
@dataclass(frozen=True)
class RolloutResult:
    """Output of :meth:`OptimizationSystem.rollout` with ``return_path=True``.

    ``value`` is Alg. 4's output ``f_L(x_L)``; ``xs`` the ``(L+1, n)`` counterfactual iterates; ``losses`` ``f_t(x_t)``
    for ``t = 0..L``; ``grads`` ``∇f_t(x_t)`` for ``t = 0..L−1``; ``controls`` the ``(L, n)`` controls applied.

    Parameters
    ----------
    value : float
    xs, losses, grads, controls : ndarray
    """

    value: float
    xs: np.ndarray
    losses: np.ndarray
    grads: np.ndarray
    controls: np.ndarray


class _Step:
    __slots__ = ("batch", "loss", "grad", "u", "what", "H")

    def __init__(self, batch, loss, grad):
        self.batch, self.loss, self.grad = batch, loss, grad
        self.u = self.what = self.H = None


# ---------------------------------------------------------------------------- the system
class OptimizationSystem:
    """Gradient descent with weight decay on ``oracle`` as the LTV of App. B (see module docs).

    Parameters
    ----------
    oracle : GradientOracle
        The objective; stochastic oracles get a fresh minibatch per step from ``seed``.
    lr : float > 0
        Base learning rate ``η``.
    weight_decay : float in [0, 1]
        ``δ``.
    form : ``"gd"`` (default) or ``"delayed"``
        Which reading of eq. (2) (module docstring). ``step`` and ``rollout`` follow it.
    hessian_nodes : int
        Gauss–Legendre nodes for ``H_t`` on non-quadratic oracles.
    secant : bool
        Apply the rank-one correction so that eq. (1) holds exactly.
    seed : int or Generator
        Minibatch sampling for :meth:`step` (re-seeded by :meth:`reset`).

    Attributes ``n``, ``state_dim = 3n``, ``control_dim = n``, ``disturbance_dim = 3n``.

    Online use (what a GPC-style controller does)::

        z = system.reset(x0) for t in range(T):
            loss, g = system.observe()          # f_t, g_t = ∇f_t(x_t)
            z = system.step(u_t)                # x_{t+1} = (1−δ)x_t − ηg_t + u_t
        system.A(t), system.B(), system.w(t)    # matrices along the recorded trajectory
    """

    FORMS = ("gd", "delayed")

    def __init__(self, oracle: GradientOracle, lr: float, weight_decay: float = 0.0, *, form: str = "gd",
                 hessian_nodes: int = 3, secant: bool = True, seed=None):
        if not isinstance(oracle, GradientOracle):
            raise InvalidArgumentError(f"oracle: expected an olc GradientOracle, got {type(oracle).__name__}")
        self.oracle = oracle
        self.lr = positive(lr, "lr")
        self.weight_decay = in_range(weight_decay, "weight_decay", 0.0, 1.0)
        self.form = check_choice(form, "form", self.FORMS)
        self.hessian_nodes = positive_int(hessian_nodes, "hessian_nodes")
        self.secant = bool(secant)
        self.n = oracle.dim
        self.state_dim = 3 * self.n
        self.control_dim = self.n
        self.disturbance_dim = 3 * self.n
        self._seed = seed
        self._rng = as_rng(seed)
        self._xs: list[np.ndarray] = []
        self._steps: list[_Step] = []

    def __repr__(self) -> str:
        return (f"OptimizationSystem(n={self.n}, lr={self.lr}, weight_decay={self.weight_decay}, "
                f"form={self.form!r}, T={self.T})")

    # ------------------------------------------------------------------ fixed matrices
    def B(self, t: int | None = None) -> np.ndarray:
        """``B = [I ; 0 ; 0]``, shape ``(3n, n)`` (eq. (3)); constant, ``t`` is ignored.

        Parameters
        ----------
        t : int
        """
        B = np.zeros((3 * self.n, self.n))
        B[: self.n] = np.eye(self.n)
        return B

    def transition(self, H) -> np.ndarray:
        """``A`` of eq. (2) for a given ``H`` (``(n, n)``), in this system's ``form``.

        Parameters
        ----------
        H : array_like
        """
        n, eta, d = self.n, self.lr, self.weight_decay
        H = as_array(H, "H", shape=(n, n))
        I = np.eye(n)
        A = np.zeros((3 * n, 3 * n))
        if self.form == "gd":
            A[:n, :n] = (1.0 - d) * I - eta * H
            A[:n, n:2 * n] = eta * H
        else:
            A[:n, :n] = (1.0 - d) * I
            A[:n, 2 * n:] = -eta * I
        A[n:2 * n, :n] = I
        A[2 * n:, :n] = H
        A[2 * n:, n:2 * n] = -H
        return A

    def disturbance(self, what) -> np.ndarray:
        """``w`` (shape ``(3n,)``) from the gradient disturbance ``ŵ = ∇f_t(x_{t−1})`` (eq. (3)).

        Parameters
        ----------
        what : ndarray
            The gradient disturbance ``ŵ``.
        """
        what = as_array(what, "what", shape=(self.n,))
        top = -self.lr * what if self.form == "gd" else np.zeros(self.n)
        return np.concatenate([top, np.zeros(self.n), what])

    # ------------------------------------------------------------------ trajectory
    def reset(self, x0, seed=_SAMPLE) -> np.ndarray:
        """Start a trajectory at ``x0``; returns ``z_0 = [x0 ; x0 ; 0]``. Optionally re-seed.

        Parameters
        ----------
        x0 : array_like
        seed : int or numpy.random.Generator, optional
            Re-seed the minibatch stream (default: keep it).
        """
        x0 = as_array(x0, "x0", shape=(self.n,), copy=True)
        self._rng = as_rng(self._seed if seed is _SAMPLE else seed)
        self._xs, self._steps = [x0], []
        return self.state(0)

    def _require_started(self):
        if not self._xs:
            raise InvalidArgumentError("OptimizationSystem: call reset(x0) before observe/step/state")

    @property
    def T(self) -> int:
        """Number of completed steps (``A(t)`` exists for ``t < T``)."""
        return len(self._xs) - 1 if self._xs else 0

    @property
    def x(self) -> np.ndarray:
        """The current iterate ``x_T``."""
        self._require_started()
        return self._xs[-1].copy()

    @property
    def xs(self) -> np.ndarray:
        """Iterates ``x_0..x_T`` as a ``(T+1, n)`` array."""
        self._require_started()
        return np.array(self._xs)

    @property
    def grads(self) -> np.ndarray:
        """Observed gradients ``g_t = ∇f_t(x_t)`` so far, ``(k, n)``, oldest first."""
        return np.array([s.grad for s in self._steps]).reshape(-1, self.n)

    @property
    def losses(self) -> np.ndarray:
        """Observed losses ``f_t(x_t)`` so far."""
        return np.array([s.loss for s in self._steps])

    @property
    def batches(self) -> list:
        """Minibatches ``B_t`` of the observed steps (``None`` for full-batch)."""
        return [s.batch for s in self._steps]

    @property
    def controls(self) -> np.ndarray:
        """Applied controls ``u_0..u_{T−1}``, ``(T, n)``."""
        return np.array([s.u for s in self._steps[: self.T]]).reshape(-1, self.n)

    def observe(self, batch=_SAMPLE) -> tuple[float, np.ndarray]:
        """Reveal ``f_t`` (drawing its minibatch unless ``batch`` is given) and return ``(f_t(x_t), g_t)``.

        Idempotent within a step: calling it again before :meth:`step` returns the same pair.

        Parameters
        ----------
        batch : object, optional
            A minibatch of the oracle (default: drawn).
        """
        self._require_started()
        t = self.T
        if len(self._steps) == t + 1:
            s = self._steps[t]
            return s.loss, s.grad.copy()
        if batch is _SAMPLE:
            batch = self.oracle.sample_batch(self._rng)
        try:
            loss, g = self.oracle.value_and_grad(self._xs[t], batch)
        except NonFiniteError as exc:
            raise DivergenceError(f"OptimizationSystem: step {t}: {exc}", step=t, partial=self.xs) from None
        self._steps.append(_Step(batch, loss, g))
        return loss, g.copy()

    def step(self, u=None, batch=_SAMPLE) -> np.ndarray:
        """Apply one optimizer step and return ``z_{t+1}``.

        ``x_{t+1} = (1−δ)x_t − η∇f_t(x_t) + u_t`` (``form="gd"``) or ``x_{t+1} = (1−δ)x_t − η∇f_{t−1}(x_{t−1}) + u_t``
        (``form="delayed"``, eq. (2)); ``u = None`` means zero control (plain gradient descent).

        Parameters
        ----------
        u : array_like, optional
        batch : object, optional
            As in :meth:`observe`.
        """
        self._require_started()
        t = self.T
        self.observe(batch)
        u = np.zeros(self.n) if u is None else as_array(u, "u", shape=(self.n,), copy=True)
        if self.form == "gd":
            g = self._steps[t].grad
        else:
            g = self._steps[t - 1].grad if t > 0 else np.zeros(self.n)
        x_next = (1.0 - self.weight_decay) * self._xs[t] - self.lr * g + u
        if not np.all(np.isfinite(x_next)):
            raise DivergenceError(f"OptimizationSystem: iterate x_{t + 1} is not finite", step=t + 1,
                                  partial=self.xs)
        self._steps[t].u = u
        self._xs.append(x_next)
        return self.state(t + 1)

    def run(self, x0, T: int, policy: Callable | None = None, seed=_SAMPLE) -> np.ndarray:
        """Reset at ``x0`` and take ``T`` steps with ``u_t = policy(t, x_t, grads)`` (grads: ``g_0..g_t``).

        Returns the iterates ``(T+1, n)``. ``policy=None`` is zero control; see :func:`dfc_policy`.

        Parameters
        ----------
        x0 : array_like
        T : int
        policy : callable, optional
        seed : int or numpy.random.Generator, optional

        Examples
        --------
        >>> import numpy as np, olc
        >>> system = olc.systems.OptimizationSystem(olc.oracles.QuadraticOracle(np.eye(2), np.zeros(2)), lr=0.5)
        >>> system.run(np.ones(2), 3)[-1]  # gradient descent halves the iterate each step
        array([0.125, 0.125])
        """
        self.reset(x0, seed)
        for t in range(positive_int(T, "T", minimum=0)):
            self.observe()
            u = None if policy is None else policy(t, self._xs[t].copy(), self.grads)
            self.step(u)
        return self.xs

    def state(self, t: int | None = None) -> np.ndarray:
        """``z_t = [x_t ; x_{t−1} ; ∇f_{t−1}(x_{t−1})]`` (``(3n,)``; ``z_0 = [x_0 ; x_0 ; 0]``).

        Parameters
        ----------
        t : int, optional
            Default: the current step.
        """
        self._require_started()
        t = self.T if t is None else self._check_t(t, self.T, "t")
        x_prev = self._xs[t - 1] if t > 0 else self._xs[0]
        g_prev = self._steps[t - 1].grad if t > 0 else np.zeros(self.n)
        return np.concatenate([self._xs[t], x_prev, g_prev])

    @staticmethod
    def _check_t(t, hi, name):
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= hi:
            raise InvalidArgumentError(f"{name}: expected an integer step in [0, {hi}], got {t!r}")
        return int(t)

    def _recorded(self, t) -> _Step:
        self._require_started()
        if self.T == 0:
            raise InvalidArgumentError("t: no step recorded yet (call step() first)")
        return self._steps[self._check_t(t, self.T - 1, "t")]

    def gradient_disturbance(self, t: int) -> np.ndarray:
        """``ŵ_t = ∇f_t(x_{t−1})`` (eq. (3)), on step ``t``'s minibatch; ``ŵ_0 = g_0``.

        Parameters
        ----------
        t : int
        """
        s = self._recorded(t)
        if s.what is None:
            s.what = s.grad.copy() if t == 0 else self.oracle.grad(self._xs[t - 1], s.batch)
        return s.what.copy()

    def H(self, t: int) -> np.ndarray:
        """``H_t`` of eq. (1) along the recorded trajectory (cached; dense ``n × n``).

        Parameters
        ----------
        t : int
        """
        s = self._recorded(t)
        if s.H is None:
            check_alloc(8.0 * (self.hessian_nodes + 3) * self.n ** 2,
                        f"OptimizationSystem.H(t) (n={self.n}): the dense mean-value Hessian",
                        "use system.operator() (Hessian-vector products) instead")
            x_prev = self._xs[t - 1] if t > 0 else self._xs[0]
            s.H = mean_value_hessian(self.oracle, x_prev, self._xs[t], s.batch, nodes=self.hessian_nodes,
                                     secant=self.secant, grad_prev=self.gradient_disturbance(t), grad=s.grad)
        return s.H.copy()

    def A(self, t: int) -> np.ndarray:
        """``A_t`` (``(3n, 3n)``, eq. (2)) along the recorded trajectory, ``0 <= t < T``.

        Parameters
        ----------
        t : int
        """
        return self.transition(self.H(t))

    def w(self, t: int) -> np.ndarray:
        """``w_t`` (``(3n,)``, eq. (3)) along the recorded trajectory.

        Parameters
        ----------
        t : int
        """
        return self.disturbance(self.gradient_disturbance(t))

    def u(self, t: int) -> np.ndarray:
        """The control ``u_t`` applied at step ``t``.

        Parameters
        ----------
        t : int
        """
        self._recorded(t)
        return self._steps[t].u.copy()

    def matrices(self) -> np.ndarray:
        """All ``A_0..A_{T−1}`` stacked, ``(T, 3n, 3n)`` (for sequential-stability checks, Def. 3).

        Dense: ``T·(3n)²·8`` bytes plus the ``n × n`` Hessians; raises :class:`~olc.errors.ResourceError` before
        allocating when that does not fit (use :meth:`operator`, Hessian-vector products in ``O(T·n)`` memory,
        instead), and :class:`~olc.errors.InvalidArgumentError` on an empty trajectory.
        """
        self._require_steps("matrices()")
        d = self.state_dim
        check_alloc(8.0 * (self.T * d * d + (self.hessian_nodes + 3) * self.n ** 2),
                    f"OptimizationSystem.matrices() (T={self.T}, n={self.n}): the dense stack (T, 3n, 3n)",
                    "use the operator path instead: sequential_stability(system) or system.operator() "
                    "(Hessian-vector products, O(T·n) memory)")
        return np.array([self.A(t) for t in range(self.T)]).reshape(self.T, d, d)

    def operator(self, oracle=None):
        """The recorded ``A_0..A_{T−1}`` as a matrix-free :class:`~olc.systems.OptimizationLTV`.

        ``A_t v``, ``A_tᵀ v`` from Hessian-vector products; the same matrices as :meth:`A`.

        Parameters
        ----------
        oracle : GradientOracle, optional
            A twin of the oracle for the HVPs (e.g. float32 or on a GPU).
        """
        from .operators import OptimizationLTV

        self._require_steps("operator()")
        return OptimizationLTV(self, oracle=oracle)

    def _require_steps(self, what):
        if self.T == 0:
            raise InvalidArgumentError(f"OptimizationSystem.{what}: the trajectory is empty (no step recorded); "
                                       "call run(x0, T) or step() first")

    def window(self, t: int, L: int, H: int) -> dict:
        """Keyword arguments for :meth:`rollout` re-running the last ``L`` steps before ``t`` (Alg. 1/7).

        ``x_start = x_{t−L}``, ``losses = [f_{t−L}, ..., f_t]`` (recorded minibatches) and
        ``disturbances = g_{t−L−H+1..t−1}`` (zero-padded before the episode start), so that
        ``rollout(M, **window(t, L, H))`` is Alg. 4 in Alg. 1's call ``Rollout(M, x_{t−L}, ...)``.
        Needs ``L <= t <= T`` with ``f_t`` observed.

        Parameters
        ----------
        t, L, H : int
            The step, the rollout length and the DFC memory.
        """
        L, H = positive_int(L, "L"), positive_int(H, "H")
        self._require_started()
        if not (L <= t < len(self._steps)):
            raise InvalidArgumentError(f"t: expected L = {L} <= t <= {len(self._steps) - 1} "
                                       f"(f_t observed), got {t!r}")
        G = np.zeros((H + L - 1, self.n))
        for k, tau in enumerate(range(t - L - H + 1, t)):
            if tau >= 0:
                G[k] = self._steps[tau].grad
        return {"x_start": self._xs[t - L].copy(),
                "losses": [self._steps[tau].batch for tau in range(t - L, t + 1)],
                "disturbances": G}

    # ------------------------------------------------------------------ Alg. 4
    def _losses(self, losses):
        if isinstance(losses, (GradientOracle, np.ndarray)) or not hasattr(losses, "__len__"):
            raise InvalidArgumentError("losses: expected a sequence f_0..f_L of GradientOracles or "
                                       f"minibatches of the system's oracle, got {type(losses).__name__}")
        out = [(f, None) if isinstance(f, GradientOracle) else (self.oracle, f) for f in losses]
        if not out:
            raise InvalidArgumentError("losses: expected at least one loss function (f_0)")
        for k, (o, _) in enumerate(out):
            if o.dim != self.n:
                raise ShapeError(f"losses[{k}]: oracle dim {o.dim} differs from the system's n = {self.n}")
        return out

    def _controls(self, controls, L, disturbances):
        if disturbances is not None:
            return dfc_controls(controls, disturbances, L), None
        if callable(controls):
            return None, controls
        if controls is None:
            return np.zeros((L, self.n)), None
        return as_array(controls, "controls", shape=(L, self.n)), None

    def rollout(self, x_start, controls, losses, *, disturbances=None, grad_prev=None,
                return_path: bool = False):
        """Alg. 4 "Rollout": re-run ``L`` optimizer steps from ``x_start`` on stored loss functions.

        ``for t = 0..L−1: x_{t+1} = (1−δ)x_t − η∇f_t(x_t) + u_t``; output ``f_L(x_L)``.

        Parameters
        ----------
        x_start : (n,) array — ``x_0`` of the rollout (Alg. 1: ``x_{t−L}``).
        controls :
            * with ``disturbances``: DFC parameters ``M`` (``(H,)``, ``(H, n)`` or ``(H, n, n)``)
              and ``u_t = −Σ_h M^{(h)} g_{t−h+1}`` on the *stored* gradients (Alg. 4);
            * an ``(L, n)`` array of controls, ``None`` (zero), or
            * a callable ``policy(t, x_t, grads) -> u_t`` on the counterfactual gradients.
        losses : sequence of length ``L + 1`` — ``f_0..f_L``; each a GradientOracle, or a
            minibatch of the system's oracle (e.g. ``system.batches[...]``; ``None`` = full).
        disturbances : ``(K, n)`` stored gradients ending with ``g_{L−1}`` (see :func:`dfc_controls`).
        grad_prev : ``∇f_{−1}(x_{−1})`` for ``form="delayed"`` (default zero).
        return_path : return a :class:`RolloutResult` instead of the float ``f_L(x_L)``.

        Raises :class:`~olc.errors.DivergenceError` (with the iterates so far) on overflow.
        """
        x = as_array(x_start, "x_start", shape=(self.n,), copy=True)
        fs = self._losses(losses)
        L = len(fs) - 1
        U, policy = self._controls(controls, L, disturbances)
        g_before = (np.zeros(self.n) if grad_prev is None
                    else as_array(grad_prev, "grad_prev", shape=(self.n,)))
        xs, vals, grads, us = [x], [], [], []
        d, eta = self.weight_decay, self.lr
        for t in range(L + 1):
            o, b = fs[t]
            try:
                if t == L:
                    vals.append(o.value(xs[t], b))
                    break
                v, g = o.value_and_grad(xs[t], b)
            except NonFiniteError as exc:
                raise DivergenceError(f"rollout: step {t}: {exc}", step=t, partial=np.array(xs)) from None
            vals.append(v)
            grads.append(g)
            if policy is None:
                u = U[t]
            else:
                u = as_array(policy(t, xs[t].copy(), np.array(grads)), "u", shape=(self.n,))
            us.append(u)
            g_used = g if self.form == "gd" else (grads[t - 1] if t > 0 else g_before)
            x_next = (1.0 - d) * xs[t] - eta * g_used + u
            if not np.all(np.isfinite(x_next)):
                raise DivergenceError(f"rollout: iterate x_{t + 1} is not finite", step=t + 1,
                                      partial=np.array(xs))
            xs.append(x_next)
        if not return_path:
            return float(vals[-1])
        return RolloutResult(float(vals[-1]), np.array(xs), np.array(vals),
                             np.array(grads).reshape(L, self.n), np.array(us).reshape(L, self.n))

    def rollout_grad(self, x_start, controls, losses, *, disturbances=None):
        """``(f_L(x_L), gradient)`` of Alg. 4's output w.r.t. the controls, by the adjoint method.

        With ``disturbances`` the gradient is w.r.t. ``M`` (same shape as ``M``: scalar, diagonal or full, as used by
        Alg. 7 and GPC); otherwise w.r.t. the ``(L, n)`` controls. Costs one rollout plus ``L`` Hessian-vector
        products (``λ_t = (1−δ)λ_{t+1} − η∇²f_t(x_t)λ_{t+1}``). Only ``form="gd"`` (Alg. 4's update) is supported.

        Parameters
        ----------
        x_start, controls, losses, disturbances : object
            As in :meth:`rollout`.
        """
        if self.form != "gd":
            raise InvalidArgumentError("rollout_grad: only form='gd' (the update of Alg. 4) is supported")
        if callable(controls) and disturbances is None:
            raise InvalidArgumentError("controls: rollout_grad needs an (L, n) array or M with disturbances, "
                                       "not a policy")
        res = self.rollout(x_start, controls, losses, disturbances=disturbances, return_path=True)
        fs = self._losses(losses)
        L = len(fs) - 1
        lam = fs[L][0].grad(res.xs[L], fs[L][1])
        dU = np.zeros((L, self.n))
        for t in range(L - 1, -1, -1):
            dU[t] = lam
            o, b = fs[t]
            lam = (1.0 - self.weight_decay) * lam - self.lr * o.hvp(res.xs[t], lam, b)
        if disturbances is None:
            return res.value, dU
        M = _as_M(controls, self.n)
        G = as_array(disturbances, "disturbances", ndim=2)
        off = G.shape[0] - L
        dM = np.zeros_like(M)
        for t in range(L):
            for h in range(1, M.shape[0] + 1):
                j = off + t - h + 1
                if j < 0:
                    continue
                if M.ndim == 1:
                    dM[h - 1] -= dU[t] @ G[j]
                elif M.ndim == 2:
                    dM[h - 1] -= dU[t] * G[j]
                else:
                    dM[h - 1] -= np.outer(dU[t], G[j])
        return res.value, dM
