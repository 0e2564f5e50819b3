"""Meta Mirror Descent (MetaMD) — ``meta-mirror-descent`` (Gao, Gouk, Lee & Hospedales).

Mirror descent ``θ_{t+1} = argmin_θ <∇L(θ_t), θ> + B_φ(θ||θ_t)/(2η)`` (eq. (1)) with a
meta-learned distance generating function, the max of ``N`` diagonal quadratics (eq. (6))::

    φ_M(θ) = max_j θᵀ M_j² θ,    M_j = diag(m_j),  m_j ∈ R^n_{>0}

whose mirror step has the closed form of eqs. (7)–(8) (App. A.1)::

    j* = argmax_j θ_tᵀ M_j² θ_t,    θ_{t+1} = θ_t − η M_{j*}^{-2} ∇L(θ_t).

It is the exact argmin of eq. (1) whenever ``j*`` is still a maximiser at ``θ_{t+1}``
(then ``max_j q_j >= q_{j*}`` with equality at ``θ_{t+1}``, which minimises the ``j*`` model);
:meth:`MetaMD.step_is_exact` checks that condition. Otherwise the exact argmin lies where
several quadratics are active and the paper's closed form is an approximation — we keep the
paper's step (its hypergradient, eq. (20), is derived for it) and document the difference.

The meta-objective is eq. (10), ``E(M) = (1/n) Σ_i B_φ(θ_T^(i) || θ_1^(i)) + k/λ`` with
``λ = min_{j,i} m_{j,i}`` as in the paper, and its gradient is computed in *forward mode*
(App. C, eq. (20)): ``J_{t+1} = A_t J_t + B_t`` with ``A_t = I − η M_{j*}^{-2} ∇²L(θ_t)`` and
``B_t = ∂θ_{t+1}/∂M = 2η ∇L(θ_t) M_{j*}^{-3}`` (only the active block), plus the direct
derivative of ``B_φ`` (eq. (19)). The argmax index is piecewise constant in ``M``; its
(zero a.e.) derivative is ignored, as in the paper.

Meta-training (Alg. 1) updates ``M`` by gradient descent — by default an olc
:class:`~olc.learners.OGD` learner over the flattened ``(N·n,)`` vector of ``m`` on the box
``[m_min, m_max]`` (positivity by projection instead of the paper's squaring of
unconstrained parameters — a deviation that keeps ``λ = min m`` meaningful); ``optimizer=`` takes
any other olc learner.

Convexity limit (the brief's "Thm. 1"): ``meta-mirror-descent`` itself states no step-size
theorem; we check the effective (largest per-coordinate) step ``α = η / min_{j,i} m_{j,i}²``
against the convexity limit of Thm. 1 of ``online-meta-learning-ftml``,
``α <= min{1/(2β), μ/(8ρG)}`` (``β`` smoothness, ``μ`` strong convexity, ``ρ`` Hessian
Lipschitz constant, ``G`` gradient bound of the task; ``ρ = 0`` for quadratics so the limit
is ``1/(2β)``), and ``warnings.warn`` with the bound when it is exceeded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .._validate import as_array, as_rng, nonnegative, positive, positive_int, require
from ..errors import DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError
from ..game import play
from ..games.optimization import optimization
from ..learners.oco import OGD
from ..optim import feedback_grad
from ..oracles.base import FunctionOracle, GradientOracle
from ..sets import Box

__all__ = ["MetaMD", "MetaMDHistory", "MetaMDRun", "ftml_step_limit"]


def ftml_step_limit(smoothness: float, strong_convexity: float = 0.0, hessian_lipschitz: float = 0.0,
                    grad_bound: float = np.inf) -> float:
    """Convexity limit of ``online-meta-learning-ftml`` Thm. 1: ``min{1/(2β), μ/(8ρG)}``
    (``ρ = 0`` — quadratics — leaves ``1/(2β)``).

    Parameters
    ----------
    smoothness, strong_convexity, hessian_lipschitz, grad_bound : float
        ``β``, ``μ``, ``ρ`` and ``G``.
    """
    beta = positive(smoothness, "smoothness")
    lim = 1.0 / (2.0 * beta)
    rho = nonnegative(hessian_lipschitz, "hessian_lipschitz")
    if rho > 0:
        mu = nonnegative(strong_convexity, "strong_convexity")
        G = positive(grad_bound, "grad_bound") if np.isfinite(grad_bound) else np.inf
        lim = min(lim, mu / (8.0 * rho * G))
    return float(lim)


class MetaMDRun(NamedTuple):
    """A MetaMD deployment.

    Attributes
    ----------
    thetas, grad_norms, values, active : arrays (k+1, n), (k+1,), (k+1,), (k,) (the ``j*`` of each step)
    iterations, converged : int ``k`` (steps until ``||∇L|| <= tol``, or ``max_steps``) and bool
    """

    thetas: np.ndarray
    grad_norms: np.ndarray
    values: np.ndarray
    active: np.ndarray
    iterations: int
    converged: bool


@dataclass
class MetaMDHistory:
    """Meta-training record.

    Attributes
    ----------
    objective, M : arrays (E per meta-step) and (N, n) (final)
    """

    objective: list = field(default_factory=list)
    M: np.ndarray | None = None


class MetaMD:
    """Meta Mirror Descent — ``meta-mirror-descent`` Sec. 4, Alg. 1, eqs. (1), (6)–(8), (10), App. A.1, C.

    Parameters
    ----------
    n_mix : int
        ``N``, the number of diagonal matrices in ``φ_M`` (eq. (6); the paper uses 3).
    eta : float
        Mirror-descent step ``η`` of eq. (1).
    k : float
        Weight of the ``k/λ`` term of eq. (10).
    horizon : int
        ``T``, mirror steps unrolled per meta-training task (``θ_T ≈ θ*`` in eq. (19)).
    meta_lr : float
        Outer learning rate ``ρ`` of Alg. 1 (step of the inner olc OGD learner over ``M``).
    m_init : float
        Initial diagonal entries (``m_{j,i} = m_init·(1 + 0.1 ξ)``, seeded, to break ties).
    m_min, m_max : float
        Box constraint on the entries of ``M`` (positivity; see the module docstring).
    smoothness, strong_convexity, hessian_lipschitz, grad_bound : float, optional
        Constants of the task family for the Thm. 1 (FTML) convexity check; when
        ``smoothness`` is None it is read from each task's Hessian at ``θ_1``.
    unroll_tol : float, optional
        If set, a meta-training unroll stops early once ``||∇L(θ_t)|| <= unroll_tol`` (at most
        ``horizon`` steps), so that ``θ_T ≈ θ_*`` as App. C / eq. (19) and Alg. 1 line 7 require.
        ``None`` (default): exactly ``horizon`` steps. With a horizon too short for the unroll to
        converge, eq. (10) rewards optimisers that barely move (``B_φ(θ_T||θ_1) → 0``).
    meta_clip : float, optional
        If set, each entry of the Alg. 1 step ``ρ·dE/dM`` is clipped to ``meta_clip · m_{j,i}``
        (a relative trust region; a deviation — the paper takes the plain step, ``None``).
    optimizer : learner, optional
        The learner of Alg. 1's outer step over the flattened ``(N·n,)`` entries of ``M``: any olc
        learner (e.g. ``olc.optim.Chain(ScaleByAdam(), Scale(1e-2), K=olc.sets.Box(m_min, m_max))``;
        it must keep the entries positive). ``None`` (default): ``OGD`` with step ``meta_lr`` on the
        box ``[m_min, m_max]``. ``meta_clip`` divides by ``meta_lr`` in either case.

    Constant-Hessian tasks (``hessian_is_constant``, e.g. quadratics) are unrolled without
    oracle calls (``∇L(θ) = ∇L(θ_1) + H(θ − θ_1)``) and, in :meth:`meta_objective`, vectorised
    over the tasks; the result equals the per-task loop.
    """

    def __init__(self, n_mix: int = 3, eta: float = 0.1, k: float = 1.0, horizon: int = 100,
                 meta_lr: float = 0.01, m_init: float = 1.0, m_min: float = 1e-3, m_max: float = 1e3, *,
                 smoothness: float | None = None, strong_convexity: float = 0.0,
                 hessian_lipschitz: float = 0.0, grad_bound: float = np.inf, unroll_tol: float | None = None,
                 meta_clip: float | None = None, optimizer=None):
        self.optimizer = None if optimizer is None else require(
            optimizer, "optimizer", "an olc learner over the entries of M", ("init", "decide", "update"))
        self.unroll_tol = None if unroll_tol is None else positive(unroll_tol, "unroll_tol")
        self.meta_clip = None if meta_clip is None else positive(meta_clip, "meta_clip")
        self.n_mix = positive_int(n_mix, "n_mix")
        self.eta = positive(eta, "eta")
        self.k = nonnegative(k, "k")
        self.horizon = positive_int(horizon, "horizon")
        self.meta_lr = positive(meta_lr, "meta_lr")
        self.m_init = positive(m_init, "m_init")
        self.m_min = positive(m_min, "m_min")
        self.m_max = positive(m_max, "m_max")
        if self.m_min >= self.m_max:
            raise InvalidArgumentError(f"m_min, m_max: expected m_min < m_max, got {m_min} and {m_max}")
        if not self.m_min <= self.m_init <= self.m_max:
            raise InvalidArgumentError(f"m_init: expected a value in [m_min, m_max] = [{m_min}, {m_max}], got {m_init}")
        self.smoothness = None if smoothness is None else positive(smoothness, "smoothness")
        self.strong_convexity = nonnegative(strong_convexity, "strong_convexity")
        self.hessian_lipschitz = nonnegative(hessian_lipschitz, "hessian_lipschitz")
        self.grad_bound = grad_bound

    # ------------------------------------------------------------------ the divergence
    def init_params(self, dim: int, seed=0) -> np.ndarray:
        """Initial ``M`` as an ``(N, dim)`` array of diagonal entries (seeded).

        Parameters
        ----------
        dim, seed : int
        """
        rng = as_rng(seed)
        n = positive_int(dim, "dim")
        M = self.m_init * (1.0 + 0.1 * rng.standard_normal((self.n_mix, n)))
        return np.clip(M, self.m_min, self.m_max)

    def _M(self, M, n=None) -> np.ndarray:
        M = as_array(M, "M", ndim=2)
        if M.shape[0] != self.n_mix or (n is not None and M.shape[1] != n):
            raise ShapeError(f"M: expected shape ({self.n_mix}, {n if n is not None else 'n'}) (N diagonal "
                             f"matrices), got shape {M.shape}")
        if np.any(M <= 0):
            raise InvalidArgumentError(f"M: diagonal entries must be positive, got min {M.min()}")
        return M

    @staticmethod
    def phi(M, theta) -> float:
        """``φ_M(θ) = max_j θᵀ M_j² θ`` (eq. (6)).

        Parameters
        ----------
        M, theta : arrays (N, n) and (n,)
        """
        return float(np.max((M * M) @ (theta * theta)))

    @staticmethod
    def active(M, theta) -> int:
        """``j* = argmax_j θᵀ M_j² θ`` (eq. (8)).

        Parameters
        ----------
        M, theta : arrays (N, n) and (n,)
        """
        return int(np.argmax((M * M) @ (theta * theta)))

    def bregman(self, M, a, b) -> float:
        """``B_φ(a || b) = φ(a) − φ(b) − <∇φ(b), a − b>`` with ``∇φ(b) = 2 M_{j*(b)}² b`` (eq. (2)).

        Parameters
        ----------
        M, a, b : arrays (N, n), (n,), (n,)
        """
        M = self._M(M)
        jb = self.active(M, b)
        return self.phi(M, a) - self.phi(M, b) - float(2.0 * (M[jb] ** 2 * b) @ (a - b))

    def mirror_step(self, M, theta, grad):
        """Closed-form mirror step, eqs. (7)–(8): returns ``(θ − η M_{j*}^{-2} ∇L, j*)``.

        Parameters
        ----------
        M, theta, grad : arrays (N, n), (n,), (n,)
        """
        j = self.active(M, theta)
        return theta - self.eta * grad / M[j] ** 2, j

    def step_is_exact(self, M, theta, grad) -> bool:
        """True when eqs. (7)–(8) give the exact argmin of eq. (1): ``j*`` still maximal at ``θ_{t+1}``.

        Parameters
        ----------
        M, theta, grad : arrays (N, n), (n,), (n,)
        """
        M = self._M(M)
        nxt, j = self.mirror_step(M, theta, grad)
        q = (M * M) @ (nxt * nxt)
        return bool(q[j] >= q.max() * (1 - 1e-12))

    def mirror_objective(self, M, theta, grad, x) -> float:
        """The objective of eq. (1) at ``x``: ``<∇L(θ_t), x> + B_φ(x || θ_t)/(2η)``.

        Parameters
        ----------
        M, theta, grad, x : arrays (N, n), (n,), (n,), (n,)
        """
        return float(grad @ x) + self.bregman(M, x, theta) / (2.0 * self.eta)

    # ------------------------------------------------------------------ tasks
    @staticmethod
    def _task(task):
        if not (hasattr(task, "value_and_grad") and hasattr(task, "hessian")):
            raise InvalidArgumentError(f"task: expected a gradient oracle with value_and_grad and hessian (e.g. "
                                       f"olc.oracles.QuadraticOracle), got {type(task).__name__}")
        return task

    def _check_limit(self, M, task, theta1):
        beta = self.smoothness
        if beta is None:
            H = task.hessian(theta1)
            beta = float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (H + H.T)))))
            if beta <= 0:
                return
        limit = ftml_step_limit(beta, self.strong_convexity, self.hessian_lipschitz, self.grad_bound)
        alpha = self.eta / float(np.min(M)) ** 2
        if alpha > limit:
            warnings.warn(f"MetaMD: effective step α = η/min(m)² = {alpha:.4g} exceeds the convexity limit "
                          f"α <= min{{1/(2β), μ/(8ρG)}} = {limit:.4g} (online-meta-learning-ftml Thm. 1, "
                          f"β = {beta:.4g}); mirror steps may overshoot or diverge", stacklevel=3)

    # ------------------------------------------------------------------ unroll + hypergradient
    def unroll(self, M, task, theta1, *, steps: int | None = None, grad_mode: bool = True):
        """``T`` mirror steps from ``θ_1``; with ``grad_mode`` also the forward-mode Jacobian
        ``J_T = dθ_T/dM`` of eq. (20) as an ``(n, N, n)`` array. Returns ``(θ_T, J_T)``.

        Parameters
        ----------
        M, task, theta1 : array (N, n), oracle, array (n,)
        steps, grad_mode : int (default ``horizon``) and bool
        """
        task = self._task(task)
        theta = as_array(theta1, "theta1", ndim=1).copy()
        n = theta.shape[0]
        M = self._M(M, n)
        T = self.horizon if steps is None else positive_int(steps, "steps")
        J = np.zeros((n, self.n_mix * n)) if grad_mode else None
        # constant Hessian (quadratics): ∇L(θ) = ∇L(θ_1) + H (θ − θ_1) exactly, no oracle calls
        H_const = task.hessian(theta) if getattr(task, "hessian_is_constant", False) else None
        if H_const is not None:
            theta_ref, g_ref = theta.copy(), task.value_and_grad(theta)[1]
        M2 = M * M
        diag = np.arange(n)
        for t in range(T):
            g = g_ref + H_const @ (theta - theta_ref) if H_const is not None else task.value_and_grad(theta)[1]
            if self.unroll_tol is not None and float(np.sqrt(g @ g)) <= self.unroll_tol:
                break  # θ_t ≈ θ_* (Alg. 1 line 7, App. C): stop the unroll early
            j = int(np.argmax(M2 @ (theta * theta)))  # eq. (8)
            P = self.eta / M2[j]  # η M_{j*}^{-2} (diagonal)
            nxt = theta - P * g  # eq. (7)
            if grad_mode:
                H = H_const if H_const is not None else task.hessian(theta)
                J = J - P[:, None] * (H @ J)  # A_t J_t
                J[diag, j * n + diag] += 2.0 * self.eta * g / (M2[j] * M[j])  # + B_t
            theta = nxt
            if not np.all(np.isfinite(theta)):
                raise NonFiniteError(f"MetaMD: the mirror iterate became non-finite at step {t + 1}")
        return theta, (None if J is None else J.reshape(n, self.n_mix, n))

    def _unroll_quadratic_batch(self, M, Hs, g1s, theta1s, grad_mode: bool):
        """:meth:`unroll` for a batch of constant-Hessian tasks at once (same steps, vectorised
        over tasks): ``Hs`` (b, n, n), ``g1s`` = ``∇L(θ_1)`` and ``theta1s`` (b, n)."""
        nb, n = theta1s.shape
        M2 = M * M
        theta = theta1s.copy()
        J = np.zeros((nb, n, self.n_mix * n)) if grad_mode else None
        live = np.ones(nb, dtype=bool)
        rows, diag = np.arange(nb)[:, None], np.arange(n)[None, :]
        for t in range(self.horizon):
            g = g1s + (Hs @ (theta - theta1s)[:, :, None])[:, :, 0]
            if self.unroll_tol is not None:
                live &= np.sqrt(np.einsum("bi,bi->b", g, g)) > self.unroll_tol
                if not live.any():
                    break
            j = np.argmax((theta * theta) @ M2.T, axis=1)  # eq. (8), per task
            P = self.eta / M2[j]  # η M_{j*}^{-2}
            if grad_mode:
                dJ = -P[:, :, None] * (Hs @ J)  # (A_t − I) J_t
                dJ[rows, diag, j[:, None] * n + diag] += 2.0 * self.eta * g / (M2[j] * M[j])  # + B_t
                J = J + dJ if live.all() else J + dJ * live[:, None, None]
            theta = theta - (P * g if live.all() else P * g * live[:, None])  # eq. (7)
            if not np.all(np.isfinite(theta)):
                raise NonFiniteError(f"MetaMD: the mirror iterate became non-finite at step {t + 1}")
        return theta, (None if J is None else J.reshape(nb, n, self.n_mix, n))

    def _bregman_and_grad(self, M, thetaT, theta1, J):
        """``B_φ(θ_T || θ_1)`` and, given ``J = dθ_T/dM``, its total derivative (eq. (19))."""
        value = self.bregman(M, thetaT, theta1)
        if not np.isfinite(value):
            raise NonFiniteError(f"MetaMD: non-finite meta-objective {value}")
        if J is None:
            return value, None
        jT, j1 = self.active(M, thetaT), self.active(M, theta1)
        d = np.zeros_like(M)
        d[jT] += 2.0 * M[jT] * thetaT ** 2  # ∂φ(θ_T)/∂M
        d[j1] -= 2.0 * M[j1] * theta1 ** 2 + 4.0 * M[j1] * theta1 * (thetaT - theta1)  # −∂[φ(θ_1)+<∇φ(θ_1),·>]
        dtheta = 2.0 * M[jT] ** 2 * thetaT - 2.0 * M[j1] ** 2 * theta1  # ∂B/∂θ_T
        d += np.einsum("a,ajc->jc", dtheta, J)  # indirect (hyper)gradient
        return value, d

    def task_objective(self, M, task, theta1, *, grad: bool = True):
        """``B_φ(θ_T || θ_1)`` for one task and (with ``grad``) its total derivative in ``M`` (eq. (19)).

        Parameters
        ----------
        M, task, theta1, grad
            As :meth:`unroll`; ``grad``: also the derivative.
        """
        M = self._M(M)
        theta1 = as_array(theta1, "theta1", ndim=1)
        thetaT, J = self.unroll(M, task, theta1, grad_mode=grad)
        return self._bregman_and_grad(M, thetaT, theta1, J)

    def meta_objective(self, M, tasks, theta1s, *, grad: bool = True):
        """Eq. (10): ``E(M) = (1/n) Σ_i B_φ(θ_T^(i) || θ_1^(i)) + k/λ``, ``λ = min_{j,i} m_{j,i}``;
        returns ``(E, dE/dM)`` (gradient ``None`` with ``grad=False``). Constant-Hessian tasks
        (quadratics) are unrolled together, vectorised over tasks.

        Parameters
        ----------
        M, tasks, theta1s, grad : array (N, n), list of oracles, arrays (n,), bool
        """
        M = self._M(M)
        tasks = [self._task(t) for t in tasks]
        if len(tasks) == 0:
            raise InvalidArgumentError("tasks: expected at least one task")
        theta1s = [as_array(t1, "theta1", ndim=1) for t1 in _broadcast(theta1s, len(tasks))]
        n = theta1s[0].shape[0]
        M = self._M(M, n)
        total, dtot = 0.0, np.zeros_like(M)
        if all(getattr(t, "hessian_is_constant", False) for t in tasks) and all(t1.shape == (n,) for t1 in theta1s):
            T1 = np.array(theta1s)
            Hs = np.array([t.hessian(t1) for t, t1 in zip(tasks, theta1s)])
            g1s = np.array([t.value_and_grad(t1)[1] for t, t1 in zip(tasks, theta1s)])
            thetaTs, Js = self._unroll_quadratic_batch(M, Hs, g1s, T1, grad)
            parts = [self._bregman_and_grad(M, thetaTs[i], T1[i], None if Js is None else Js[i])
                     for i in range(len(tasks))]
        else:
            parts = [self.task_objective(M, task, t1, grad=grad) for task, t1 in zip(tasks, theta1s)]
        for v, d in parts:
            total += v
            if grad:
                dtot += d
        lam = float(np.min(M))
        E = total / len(tasks) + self.k / lam
        if not grad:
            return E, None
        dE = dtot / len(tasks)
        dE[np.unravel_index(np.argmin(M), M.shape)] -= self.k / lam ** 2
        return E, dE

    # ------------------------------------------------------------------ Alg. 1 and deployment
    def meta_train(self, task_sampler, init, dim: int, *, meta_steps: int = 50, tasks_per_step: int = 4,
                   seed=0, progress=None) -> tuple[np.ndarray, MetaMDHistory]:
        """Alg. 1: sample ``tasks_per_step`` tasks per meta-step from ``task_sampler(rng)``,
        start each at ``init(rng)`` (or the fixed array ``init``), unroll ``horizon`` mirror
        steps, average the hypergradients and step ``M`` (OGD, or ``optimizer``). Returns ``(M, history)``.

        This is :func:`olc.play` of ``optimizer`` (default :class:`~olc.learners.OGD`) over the ``N·n`` entries of
        ``M`` in an optimization game on eq. (10) (:class:`olc.oracles.FunctionOracle`; a round's
        minibatch is its draw of tasks and starting points; ``M_1`` and the draws come from ``seed``).
        ``progress``: as :func:`olc.play`, or a callable ``progress(step)`` called after each meta-step.
        A meta-step whose unroll diverges (a sampled task on which the current ``M`` steps too far)
        raises :class:`~olc.errors.DivergenceError` with ``.step`` the meta-step and ``.partial``
        the :class:`MetaMDHistory` so far (``objective`` of the completed steps, ``M`` played).

        Parameters
        ----------
        task_sampler, init : callables ``rng -> task`` and ``rng -> θ_1`` (or a fixed array)
        dim, meta_steps, tasks_per_step, seed : int
        progress : bool or callable ``progress(step)``, optional
            As :func:`olc.play`, or called after each meta-step.
        """
        n = positive_int(dim, "dim")
        if not callable(init):
            theta1 = as_array(init, "init", shape=(n,))
            init = lambda rng: theta1  # noqa: E731
        checked = []

        def objective(M, tasks, theta1s):
            if not checked:  # the step-size check on the first task
                self._check_limit(M, self._task(tasks[0]), theta1s[0])
                checked.append(True)
            return self.meta_objective(M, tasks, theta1s)

        return self._alg1(objective, task_sampler, init, n, meta_steps, tasks_per_step, seed, progress)

    def _alg1(self, objective, task_sampler, init, n, meta_steps, tasks_per_step, seed, progress):
        """Alg. 1 as :func:`olc.play` (see :meth:`meta_train`); ``objective(M, tasks, theta1s) -> (E, dE/dM)``
        (numpy arrays, or anything ``np.asarray`` converts: the torch class shares this loop)."""
        rng = as_rng(seed)
        meta_steps = positive_int(meta_steps, "meta_steps")
        tasks_per_step = positive_int(tasks_per_step, "tasks_per_step")
        M = self.init_params(n, rng)

        def sample(r):
            tasks = [task_sampler(r) for _ in range(tasks_per_step)]
            return tasks, [init(r) for _ in tasks]

        def fun(mvec, batch):
            E, dE = objective(mvec.reshape(M.shape), *batch)
            if self.meta_clip is not None:  # the step ρ·dE moves no entry by more than meta_clip·m
                lim = self.meta_clip * mvec / self.meta_lr
                return E, np.clip(np.asarray(dE).ravel(), -lim, lim)
            return E, np.asarray(dE).ravel()

        game = optimization(FunctionOracle(M.size, fun, sample, name="MetaMD meta-objective (eq. (10))"),
                            meta_steps, M.ravel(), seed=rng)
        opt = self.optimizer or OGD(Box(self.m_min, self.m_max, dim=M.size), lr=self.meta_lr, x0=M.ravel())
        record = None if progress is None or isinstance(progress, bool) else lambda t, *_: progress(t) or {}
        try:
            trace = play(opt, game, seed=rng, progress=False if record else progress, record=record)
        except DivergenceError as exc:  # keep what meta-training has learned so far
            hist = MetaMDHistory(exc.partial.losses.tolist(), exc.partial.final_state.x.reshape(M.shape))
            raise DivergenceError(f"MetaMD.meta_train: meta-step {exc.step}: {exc} (the history and the M played "
                                  f"at this step are in .partial)", step=exc.step, partial=hist) from exc
        hist = MetaMDHistory(trace.losses.tolist(), trace.final_state.x.reshape(M.shape))
        return hist.M, hist

    def learner(self, M) -> _MirrorDescent:
        """The mirror descent of eqs. (7)–(8) with a fixed (learned) ``M`` as an olc learner: play it in
        any optimization game, ``olc.play(md.learner(M), olc.games.optimization(task, T, θ_1))``.

        Parameters
        ----------
        M : array (N, n)
        """
        return _MirrorDescent(self, self._M(M))

    def deploy(self, M, task, theta1, *, tol: float = 1e-3, max_steps: int = 10_000) -> MetaMDRun:
        """Run the learned mirror descent on a (held-out) task until ``||∇L(θ)|| <= tol``: :func:`olc.play`
        of :meth:`learner` in ``olc.games.optimization(task, max_steps + 1, theta1, tol=tol)``.

        Parameters
        ----------
        M, task, theta1, tol, max_steps : array (N, n), oracle, array (n,), float, int
        """
        task = self._task(task)
        theta = as_array(theta1, "theta1", ndim=1).copy()
        M = self._M(M, theta.shape[0])
        tol = positive(tol, "tol")
        max_steps = positive_int(max_steps, "max_steps")
        self._check_limit(M, task, theta)
        if not isinstance(task, GradientOracle):
            task = FunctionOracle(theta.shape[0], task.value_and_grad, name=type(task).__name__)
        trace = play(self.learner(M), optimization(task, max_steps + 1, theta, tol=tol),
                     record=lambda t, x, fb, state: {"active": state.active})
        k, norms = trace.T - 1, trace.info["grad_norms"]
        return MetaMDRun(trace.decisions, norms, trace.losses, trace.info["active"][:k], k, bool(norms[-1] <= tol))

    run = deploy


class _MirrorState(NamedTuple):
    x: np.ndarray  # the iterate θ_t
    active: int  # j* of the step that produced the next iterate (-1 before the first)


class _MirrorDescent:
    """The closed-form mirror step of ``meta-mirror-descent`` eqs. (7)–(8) with a fixed ``M`` as a
    learner (:meth:`MetaMD.learner`): decision ``θ_t``, gradient feedback, ``θ_{t+1} = θ_t − η M_{j*}^{-2} g_t``."""

    feedback = "gradient"

    def __init__(self, md: MetaMD, M):
        self.md, self.M = md, M

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        return _MirrorState(np.zeros(shape) if x0 is None else as_array(x0, "x0", shape=tuple(shape), copy=True), -1)

    def decide(self, state, obs=None, rng=None):
        return state.x, state

    def update(self, state, feedback):
        return _MirrorState(*self.md.mirror_step(self.M, state.x, feedback_grad(feedback, state.x.shape, "MetaMD")))

    def __repr__(self):
        return f"MetaMD.learner(M of shape {self.M.shape}, eta={self.md.eta})"


def _broadcast(theta1s, n):
    arr = theta1s if isinstance(theta1s, (list, tuple)) else None
    if arr is None:
        a = np.asarray(theta1s, dtype=float)
        return [a] * n if a.ndim == 1 else list(a)
    if len(arr) != n:
        raise ShapeError(f"theta1s: expected {n} starting points (one per task), got {len(arr)}")
    return list(arr)
