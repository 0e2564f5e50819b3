"""Gradient-based meta-learning of an initialisation: MAML, FO-MAML, Reptile, iMAML, FO-B-MAML.

Every learner maps ``(task, θ)`` to an estimate of the task's meta-gradient,
``.meta_gradient(task, θ) -> (dim,)``; :func:`meta_train` runs the outer loop of
``first-order-bilevel-maml`` Alg. 1 (lines 3–10) with GD, ClippedGD or NormalizedGD (Sec. 4.3).
A task is an :class:`olc.tasks.Task` (training oracle ``f̂_i``, test oracle ``f_i``).

Two meta-objectives (``first-order-bilevel-maml`` Sec. 2):

* **MAML**, eq. (1)–(2): ``F_i(θ) = f_i(φ_K(θ))`` with ``φ_K`` = ``K`` GD steps on ``f̂_i``
  from ``θ`` (``online-meta-learning-ftml`` eq. (1) for ``K = 1``). :class:`MAML` is its exact
  gradient; :class:`FOMAML` (eq. (3)) and :class:`Reptile` (eq. (4)) are first-order
  approximations. With ``lam=λ`` the inner GD runs on ``f̂_i + (λ/2)‖φ − θ‖²`` instead (the
  inner problem (6) solved by ``K`` GD steps: the setting of the paper's Fig. 1).
* **B-MAML**, eq. (5)–(6): ``F_i(θ) = f_i(φ_i*(θ))``, ``φ_i* = argmin f̂_i + (λ/2)‖φ − θ‖²``
  with gradient eq. (7). :class:`IMAML` solves the linear system (8) by conjugate gradient;
  :class:`FOBMAML` (Alg. 1) uses finite differences (10)/(11) of the perturbed problem (9).
  :func:`bilevel_meta_gradient` is the exact eq. (7) (App. B closed form on quadratic tasks).

Exactness: on tasks whose objectives are quadratic (``Task.quadratic``: quadratics, least
squares) the MAML map ``θ ↦ φ_K(θ)`` is affine and everything is computed from the Hessians
in closed form; otherwise MAML back-propagates through the ``K`` inner steps with one
Hessian-vector product per step (``oracle.hvp``), iMAML uses one HVP per CG step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .._validate import as_array, as_rng, check_choice, nonnegative, number, positive, positive_int, require
from ..errors import DivergenceError, InvalidArgumentError, NonFiniteError
from ..game import play
from ..games.meta import meta_training
from ..sets import Reals
from ..tasks.base import QuadraticForm, Task, check_tasks, gd_path

__all__ = ["MAML", "FOMAML", "Reptile", "IMAML", "FOBMAML", "outer_optimizer", "meta_train", "MetaTrainResult",
           "maml_affine_map", "maml_quadratic", "solve_inner", "bilevel_meta_gradient", "bilevel_objective",
           "conjugate_gradient", "fit_maml", "quadratic_argmin"]


_SOLVERS = "expected 'gd', 'exact' or a callable (grad, x0) -> phi"


def _check_task(task, who):
    if not isinstance(task, Task):
        raise InvalidArgumentError(f"{who}: expected an olc.tasks.Task, got {type(task).__name__}")
    return task


def _theta(task, theta):
    return as_array(theta, "theta", shape=(task.dim,))


def _lam_or_none(lam):
    return None if lam is None else positive(lam, "lam")


# ---------------------------------------------------------------------------- closed forms
#: inner-step counts up to this are unrolled step by step in :func:`maml_affine_map`
_UNROLL_MAX = 4096


def maml_affine_map(train: QuadraticForm, lr: float, steps: int, lam: float | None = None):
    """``φ_K(θ) = Mθ + m`` for ``K`` GD steps on a quadratic ``f̂`` (plus ``(λ/2)‖φ − θ‖²``).

    ``M_{k+1} = (I − α(Â + λI))M_k + αλI``, ``m_{k+1} = (I − α(Â + λI))m_k − α b̂``,
    ``M_0 = I``, ``m_0 = 0``. Returns ``(M, m)``. Beyond :data:`_UNROLL_MAX` steps the recursion
    is taken in ``O(log K)`` matrix products: ``[M_K, m_K; 0, 1]`` is the ``K``-th power of the
    affine step ``[S, (αλI, −αb̂); 0, I]`` applied to ``[M_0, m_0; 0, 1]`` (same result up to rounding).

    Parameters
    ----------
    train : QuadraticForm
    lr, steps, lam : float ``α``, int ``K``, float or None ``λ``
    """
    d = train.b.shape[0]
    lam = lam or 0.0
    S = np.eye(d) - lr * (train.A + lam * np.eye(d))
    if steps > _UNROLL_MAX:
        step = np.eye(2 * d + 1)
        step[:d, :d] = S
        step[:d, d:2 * d] = lr * lam * np.eye(d)
        step[:d, 2 * d] = -lr * train.b
        start = np.zeros((2 * d + 1, d + 1))
        start[:d, :d] = np.eye(d)          # M_0 = I, m_0 = 0
        start[d:2 * d, :d] = np.eye(d)     # the constant I that αλI multiplies
        start[2 * d, d] = 1.0              # the constant 1 that −αb̂ multiplies
        with np.errstate(all="ignore"):
            out = np.linalg.matrix_power(step, int(steps)) @ start
        return out[:d, :d], out[:d, d]
    M, m = np.eye(d), np.zeros(d)
    for _ in range(steps):
        M = S @ M + lr * lam * np.eye(d) if lam else S @ M
        m = S @ m - lr * train.b
    return M, m


def maml_quadratic(task: Task, inner_lr: float, inner_steps: int = 1,
                   lam: float | None = None) -> QuadraticForm:
    """The MAML meta-objective of a quadratic task as a quadratic form ``½θᵀPθ + qᵀθ + r``.

    With ``φ_K(θ) = Mθ + m`` (:func:`maml_affine_map`) and ``f = ½xᵀAx + bᵀx + c``:
    ``P = MᵀAM``, ``q = Mᵀ(Am + b)``, ``r = f(m)``. For ``K = 1``, ``f = f̂`` this is
    ``online-meta-learning-ftml`` App. A: ``P = (I − αA)A(I − αA)``, ``q = (I − αA)²b``, and
    the MAML solution over tasks is ``w* = −A_†⁻¹b_†`` with ``A_† = mean P``, ``b_† = mean q``.

    Parameters
    ----------
    task : Task
    inner_lr, inner_steps, lam
        As :class:`MAML`.
    """
    forms = _check_task(task, "task").quadratic
    if forms is None:
        raise InvalidArgumentError(f"task: {task.name!r} is not quadratic (its oracles have no constant "
                                   "Hessian)")
    train, test = forms
    M, m = maml_affine_map(train, inner_lr, inner_steps, lam)
    P = M.T @ test.A @ M
    return QuadraticForm(0.5 * (P + P.T), M.T @ test.grad(m), test.value(m))


def quadratic_argmin(P, q, x=None) -> np.ndarray:
    """A minimiser of ``½wᵀPw + qᵀw`` (``P`` symmetric PSD): ``−P⁻¹q``, or where ``P`` is singular or
    ill-conditioned (condition number above 1e12, e.g. ``inner_lr = 1/λ`` for an eigenvalue ``λ`` of a
    task's Hessian, where ``I − αA`` loses rank) the minimiser closest to ``x`` (default 0) by least
    squares — the minimisers then form an affine set and every one of them is a right answer.

    Parameters
    ----------
    P, q, x : arrays (n, n), (n,), (n,)
    """
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(q))):
        raise NonFiniteError("the quadratic meta-objective is non-finite (the inner steps diverge: reduce inner_lr)")
    if np.linalg.cond(P) <= 1e12:
        return np.linalg.solve(P, -q)
    x = np.zeros_like(q) if x is None else x
    return x + np.linalg.lstsq(P, -(P @ x + q), rcond=None)[0]


def fit_maml(tasks, inner_lr: float, inner_steps: int = 1, *, x0=None, tol: float = 1e-10,
             max_iter: int = 1000) -> np.ndarray:
    """``argmin_w Σ_i f_i(φ_K^i(w))``: the batch MAML solution, eq. (1) (= FTML's Eq. 4 leader and
    the best meta-learner in hindsight of ``online-meta-learning-ftml`` eq. (3)).

    All tasks quadratic: the closed form ``w* = −(Σ P_i)⁻¹ Σ q_i`` (``online-meta-learning-ftml``
    App. A, ``w*_MAML = −A_†⁻¹b_†``, via :func:`maml_quadratic`). Otherwise L-BFGS (scipy) on
    the summed MAML objective with the exact :class:`MAML` meta-gradient, started at ``x0``
    (default 0), to gradient norm ``tol`` (a local minimiser when the objective is non-convex).

    Parameters
    ----------
    tasks : list of Task
    inner_lr, inner_steps : float and int
    x0, tol, max_iter : array, float, int
        L-BFGS's start, gradient-norm tolerance and iteration limit.
    """
    tasks = check_tasks(tasks)
    d = tasks[0].dim
    learner = MAML(inner_lr, inner_steps)  # validates inner_lr, inner_steps on both paths
    w0 = np.zeros(d) if x0 is None else as_array(x0, "x0", shape=(d,))
    tol = nonnegative(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    if all(t.quadratic is not None for t in tasks):
        P, q = np.zeros((d, d)), np.zeros(d)
        with np.errstate(all="ignore"):
            for t in tasks:
                f = maml_quadratic(t, learner.inner_lr, learner.inner_steps)
                P += f.A
                q += f.b
        if not (np.all(np.isfinite(P)) and np.all(np.isfinite(q))):
            raise NonFiniteError(f"fit_maml: the MAML meta-objective is non-finite (the {learner.inner_steps} inner "
                                 f"steps of size inner_lr={learner.inner_lr} diverge: reduce inner_lr)")
        return quadratic_argmin(P, q)
    from scipy.optimize import minimize

    def fun(w):
        return (sum(learner.objective(t, w) for t in tasks),
                np.sum([learner.meta_gradient(t, w) for t in tasks], axis=0))

    res = minimize(fun, w0, jac=True, method="L-BFGS-B", options={"gtol": tol, "ftol": 0.0, "maxiter": max_iter})
    return res.x


# ---------------------------------------------------------------------------- MAML family
class _Unrolled:
    """Common part of MAML / FO-MAML / Reptile: ``K`` GD steps from ``θ`` on the training objective."""

    def __init__(self, inner_lr: float, inner_steps: int = 1, lam: float | None = None):
        self.inner_lr = positive(inner_lr, "inner_lr")
        self.inner_steps = positive_int(inner_steps, "inner_steps")
        self.lam = _lam_or_none(lam)

    def path(self, task: Task, theta) -> np.ndarray:
        """Inner iterates ``φ_0 = θ, ..., φ_K``, shape ``(K + 1, dim)``."""
        task = _check_task(task, type(self).__name__)
        return gd_path(task.train, _theta(task, theta), self.inner_lr, self.inner_steps, lam=self.lam or 0.0)

    def adapt(self, task: Task, theta) -> np.ndarray:
        """``φ_K(θ)`` (``U(θ)`` of ``online-meta-learning-ftml``)."""
        return self.path(task, theta)[-1]

    def objective(self, task: Task, theta) -> float:
        """The MAML objective ``F_i(θ) = f_i(φ_K(θ))`` (eq. (1))."""
        return task.test.value(self.adapt(task, theta))

    def meta_gradient(self, task: Task, theta) -> np.ndarray:
        """The meta-gradient of ``task`` at ``θ``.

        Parameters
        ----------
        task, theta : Task and array (dim,)
        """
        raise NotImplementedError  # MAML, FOMAML, Reptile (their meta_gradient inherits this docstring)

    def meta_gradients(self, tasks, theta) -> np.ndarray:
        """Average of :meth:`meta_gradient` over ``tasks`` (Alg. 1, line 9)."""
        return np.mean([self.meta_gradient(t, theta) for t in tasks], axis=0)

    def __repr__(self):
        lam = "" if self.lam is None else f", lam={self.lam}"
        return f"{type(self).__name__}(inner_lr={self.inner_lr}, inner_steps={self.inner_steps}{lam})"


class MAML(_Unrolled):
    """Exact MAML meta-gradient ``∇F_i(θ) = (dφ_K/dθ)ᵀ ∇f_i(φ_K(θ))`` (``first-order-bilevel-maml``
    eq. (1)–(2); Finn et al. 2017; ``online-meta-learning-ftml`` eq. (1) and eq. (5)).

    ``method="auto"`` uses the closed form ``Pθ + q`` (:func:`maml_quadratic`) on quadratic tasks
    and back-propagation through the ``K`` inner steps otherwise: ``v_K = ∇f(φ_K)``,
    ``v_k = v_{k+1} − α(∇²f̂(φ_k) + λI)v_{k+1}``, ``∇F = v_0 + αλ Σ_k v_{k+1}`` (one HVP per
    step, the trajectory is stored).

    Parameters
    ----------
    inner_lr, inner_steps, lam : float, int, float or None
        ``α``, ``K`` and the inner ridge ``λ`` (None: none).
    method : {"auto", "hvp"}
        ``"hvp"`` forces the back-propagation.

    Examples
    --------
    One inner step: ``∇F(θ) = (I − αA) ∇f(θ − α∇f̂(θ))``, ``A`` the training Hessian.

    >>> import olc
    >>> task = olc.tasks.random_quadratics(1, dim=2, seed=0)[0]
    >>> A, theta = olc.tasks.quadratic_form(task.train).A, np.array([1.0, -1.0])
    >>> closed = (np.eye(2) - 0.1 * A) @ task.test.grad(theta - 0.1 * task.train.grad(theta))
    >>> bool(np.allclose(olc.meta.MAML(0.1, method="hvp").meta_gradient(task, theta), closed))
    True
    """

    def __init__(self, inner_lr: float, inner_steps: int = 1, lam: float | None = None, method: str = "auto"):
        super().__init__(inner_lr, inner_steps, lam)
        self.method = check_choice(method, "method", ("auto", "hvp"))

    def meta_gradient(self, task: Task, theta) -> np.ndarray:
        task = _check_task(task, "MAML")
        theta = _theta(task, theta)
        if self.method == "auto" and task.quadratic is not None:
            with np.errstate(all="ignore"):
                P, q, _ = maml_quadratic(task, self.inner_lr, self.inner_steps, self.lam)
                g = P @ theta + q
            if not np.all(np.isfinite(g)):
                raise NonFiniteError(f"MAML: non-finite meta-gradient on task {task.name!r} (the inner "
                                     "steps diverge: reduce inner_lr)")
            return g
        path = self.path(task, theta)
        v = task.test.grad(path[-1])
        lam, lr = self.lam or 0.0, self.inner_lr
        g = np.zeros_like(theta)
        for k in range(self.inner_steps - 1, -1, -1):
            if lam:
                g += lr * lam * v
            v = v - lr * (task.train.hvp(path[k], v) + lam * v)
        return g + v


class FOMAML(_Unrolled):
    """First-order MAML, ``g = ∇f_i(φ_K(θ))`` (``first-order-bilevel-maml`` eq. (3)): the MAML
    gradient with the Jacobian ``dφ_K/dθ`` replaced by the identity (irreducible bias).

    Parameters
    ----------
    inner_lr, inner_steps, lam
        As :class:`MAML`.
    """

    def meta_gradient(self, task: Task, theta) -> np.ndarray:
        return task.test.grad(self.adapt(task, theta))


class Reptile(_Unrolled):
    """Reptile, ``g = (θ − φ_K(θ))/(Kα)`` (``first-order-bilevel-maml`` eq. (4); Nichol et al. 2018):
    the average inner gradient along the trajectory. It never evaluates the test objective.

    Parameters
    ----------
    inner_lr, inner_steps, lam
        As :class:`MAML`.
    """

    def meta_gradient(self, task: Task, theta) -> np.ndarray:
        task = _check_task(task, "Reptile")
        theta = _theta(task, theta)
        return (theta - self.adapt(task, theta)) / (self.inner_steps * self.inner_lr)


# ---------------------------------------------------------------------------- bi-level (B-MAML)
def solve_inner(task: Task, theta, lam: float, *, nu: float = 0.0, lr: float | None = None,
                steps: int | None = None, tol: float | None = None, solver="gd", x0=None) -> np.ndarray:
    """Approximate minimiser ``φ̃_ν(θ)`` of the perturbed inner problem (9),
    ``ν f_i(φ) + f̂_i(φ) + (λ/2)‖φ − θ‖²`` (``ν = 0``: the inner problem (6)).

    ``solver="gd"``: at most ``steps`` GD steps of size ``lr`` from ``x0`` (default ``θ``),
    stopping early when the gradient norm is ``<= tol`` (precision ``δ <= tol/μ`` of eq. (13)
    under ``μ``-strong convexity). ``solver="exact"``: the closed form of App. B,
    ``φ* = (νA + Â + λI)⁻¹(λθ − νb − b̂)`` (quadratic tasks only). A callable
    ``solver(grad, x0) -> φ`` is "any iterative solver" of Alg. 1, line 6.

    Parameters
    ----------
    task, theta, lam, nu : Task, array (dim,), float, float
    lr, steps, tol, x0 : float, int, float, array
    solver : "gd", "exact" or callable
    """
    task = _check_task(task, "solve_inner")
    theta = _theta(task, theta)
    lam = positive(lam, "lam")
    if solver == "exact":
        forms = task.quadratic
        if forms is None:
            raise InvalidArgumentError(f"solver: 'exact' needs a quadratic task, {task.name!r} is not")
        (tr, te), d = forms, task.dim
        H = nu * te.A + tr.A + lam * np.eye(d)
        return np.linalg.solve(H, lam * theta - nu * te.b - tr.b)
    if callable(solver):
        def grad(phi):
            g = task.train.grad(phi) + lam * (phi - theta)
            return g + nu * task.test.grad(phi) if nu else g

        out = as_array(solver(grad, theta.copy() if x0 is None else as_array(x0, "x0", shape=(task.dim,))),
                       "solver result", shape=(task.dim,))
        return out
    if solver != "gd":
        raise InvalidArgumentError(f"solver: {_SOLVERS}, got {solver!r}")
    if lr is None or steps is None:
        raise InvalidArgumentError("solve_inner: solver='gd' needs lr and steps")
    return gd_path(task.train, theta, lr, steps, lam=lam, extra=task.test, nu=nu, tol=tol, x0=x0)[-1]


def bilevel_meta_gradient(task: Task, theta, lam: float) -> np.ndarray:
    """Exact B-MAML meta-gradient, eq. (7): ``∇F_i(θ) = (I + ∇²f̂_i(φ*)/λ)⁻¹ ∇f_i(φ*)``.

    Quadratic tasks: the closed form of ``first-order-bilevel-maml`` App. B,
    ``φ* = (Â + λI)⁻¹(λθ − b̂)``, ``∇F = λ(Â + λI)⁻¹(Aφ* + b)`` (App. B has ``f = f̂``; this is
    the same formula with separate train/test forms). Otherwise ``φ*`` is found by L-BFGS to
    gradient norm 1e-10 and the Hessian system is solved directly (reference use only).

    Parameters
    ----------
    task, theta, lam : Task, array (dim,), float
    """
    task = _check_task(task, "bilevel_meta_gradient")
    theta = _theta(task, theta)
    lam = positive(lam, "lam")
    phi = _bilevel_solution(task, theta, lam)
    H = task.quadratic[0].A if task.quadratic is not None else task.train.hessian(phi)
    return lam * np.linalg.solve(H + lam * np.eye(task.dim), task.test.grad(phi))


def _bilevel_solution(task, theta, lam):
    if task.quadratic is not None:
        return solve_inner(task, theta, lam, solver="exact")
    from scipy.optimize import minimize

    def fun(phi):
        v, g = task.train.value_and_grad(phi)
        d = phi - theta
        return v + 0.5 * lam * d @ d, g + lam * d

    opts = {"gtol": 1e-10, "ftol": 0, "maxiter": 10000}
    res = minimize(fun, theta, jac=True, method="L-BFGS-B", options=opts)
    return res.x


def bilevel_objective(task: Task, theta, lam: float) -> float:
    """The B-MAML objective ``F_i(θ) = f_i(φ_i*(θ))`` of eq. (5)–(6) (exact on quadratic tasks).

    Parameters
    ----------
    task, theta, lam : Task, array (dim,), float
    """
    task = _check_task(task, "bilevel_objective")
    return task.test.value(_bilevel_solution(task, _theta(task, theta), positive(lam, "lam")))


def conjugate_gradient(matvec: Callable[[np.ndarray], np.ndarray], b, steps: int, x0=None,
                       tol: float = 0.0) -> np.ndarray:
    """``steps`` iterations of conjugate gradient on ``Mx = b`` (``M`` symmetric positive definite,
    given by ``matvec``); stops early when the residual norm is ``<= tol·‖b‖``.

    Every ``matvec`` result is checked (shape of ``b``, finite), so a NaN/Inf raises
    :class:`olc.NonFiniteError` instead of being returned.

    Parameters
    ----------
    matvec : callable ``x -> Mx``
    b, x0 : finite arrays (n,)
    steps, tol : int and float
    """
    if not callable(matvec):
        raise InvalidArgumentError(f"matvec: expected a callable v -> Mv, got {matvec!r}")
    b = as_array(b, "b", ndim=1)
    steps = positive_int(steps, "steps", minimum=0)
    tol = nonnegative(tol, "tol")

    def mv(v, k):
        return as_array(matvec(v), f"conjugate_gradient: matvec result (iteration {k})", shape=b.shape)

    x = np.zeros_like(b) if x0 is None else as_array(x0, "x0", shape=b.shape, copy=True)
    r = b - mv(x, 0) if x0 is not None else b.copy()
    p = r.copy()
    rr = r @ r
    stop = (tol * np.linalg.norm(b)) ** 2
    for k in range(steps):
        if rr <= stop or rr == 0.0:
            break
        Mp = mv(p, k)
        pMp = p @ Mp
        if pMp <= 0:
            raise InvalidArgumentError("conjugate_gradient: the matrix is not positive definite along a "
                                       f"search direction (pᵀMp = {pMp:.3g}); increase lam")
        a = rr / pMp
        x = x + a * p
        r = r - a * Mp
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


class _Bilevel:
    """Common part of iMAML and FO-B-MAML: the inner problem (6) solved approximately."""

    def __init__(self, lam, inner_lr, inner_steps, tol, solver):
        self.lam = positive(lam, "lam")
        self.inner_lr = positive(inner_lr, "inner_lr")
        self.inner_steps = positive_int(inner_steps, "inner_steps")
        self.tol = None if tol is None else positive(tol, "tol")
        if not (solver in ("gd", "exact") or callable(solver)):
            raise InvalidArgumentError(f"solver: {_SOLVERS}, got {solver!r}")
        self.solver = solver

    def inner(self, task, theta, nu=0.0):
        """``φ̃_ν(θ)``: the perturbed inner problem (9) solved by this learner's inner solver."""
        return solve_inner(task, theta, self.lam, nu=nu, lr=self.inner_lr, steps=self.inner_steps,
                           tol=self.tol, solver=self.solver)

    def objective(self, task: Task, theta) -> float:
        """``f_i(φ̃(θ))``, the B-MAML objective (5) at the approximate inner solution."""
        return task.test.value(self.inner(task, theta))

    meta_gradients = _Unrolled.meta_gradients


class IMAML(_Bilevel):
    """iMAML (Rajeswaran et al. 2019): solve eq. (8) ``(I + ∇²f̂_i(φ̃)/λ) v = ∇f_i(φ̃)`` by
    ``cg_steps`` conjugate-gradient iterations (one HVP each), ``φ̃`` from the inner solver
    (``first-order-bilevel-maml`` Sec. 2.3, eq. (7)–(8)). Targets the B-MAML objective (5)–(6).

    Parameters
    ----------
    lam, cg_steps : float ``λ`` and int
    inner_lr, inner_steps, tol, solver
        The inner solver, as :func:`solve_inner`.
    """

    def __init__(self, lam: float, cg_steps: int, inner_lr: float, inner_steps: int, tol: float | None = None,
                 solver="gd"):
        super().__init__(lam, inner_lr, inner_steps, tol, solver)
        self.cg_steps = positive_int(cg_steps, "cg_steps")

    def meta_gradient(self, task: Task, theta) -> np.ndarray:
        """The meta-gradient of ``task`` at ``θ``.

        Parameters
        ----------
        task, theta : Task and array (dim,)
        """
        task = _check_task(task, "IMAML")
        phi = self.inner(task, theta)
        rhs = task.test.grad(phi)
        return conjugate_gradient(lambda v: v + task.train.hvp(phi, v) / self.lam, rhs, self.cg_steps)

    def __repr__(self):
        return (f"IMAML(lam={self.lam}, cg_steps={self.cg_steps}, inner_lr={self.inner_lr}, "
                f"inner_steps={self.inner_steps})")


class FOBMAML(_Bilevel):
    """FO-B-MAML, ``first-order-bilevel-maml`` Alg. 1: meta-gradient from finite differences of
    the perturbed problem (9) (Prop. 1: ``∇F_i = −λ dφ*_ν/dν |_{ν=0}``).

    ``mode="forward"``: ``g = −λ(φ̃_ν − φ̃_0)/ν`` (eq. (10), bias ``O(ν)``, Prop. 2);
    ``mode="symmetric"``: ``g = −λ(φ̃_ν − φ̃_{−ν})/(2ν)`` (eq. (11), bias ``O(ν²)``). With inner
    precision ``δ`` (eq. (13)) the extra bias is ``<= 2λδ/ν``. First order: only gradients of
    ``f̂_i`` and ``f_i``. Both solves start from ``θ`` (no warm start), as in Alg. 1.

    Parameters
    ----------
    lam, nu, mode : float ``λ``, float ``ν``, {"forward", "symmetric"}
    inner_lr, inner_steps, tol, solver
        The inner solver, as :func:`solve_inner`.
    """

    def __init__(self, lam: float, nu: float, mode: str = "forward", inner_lr: float | None = None,
                 inner_steps: int | None = None, tol: float | None = None, solver="gd"):
        if solver == "gd" and (inner_lr is None or inner_steps is None):
            raise InvalidArgumentError("FOBMAML: solver='gd' needs inner_lr and inner_steps")
        if solver != "gd" and (inner_lr is not None or inner_steps is not None or tol is not None):
            raise InvalidArgumentError(f"FOBMAML: inner_lr / inner_steps / tol are options of solver='gd', "
                                       f"not of solver={solver!r}")
        super().__init__(lam, 1.0 if inner_lr is None else inner_lr, 1 if inner_steps is None else inner_steps,
                         tol, solver)
        self.nu = positive(nu, "nu")
        self.mode = check_choice(mode, "mode", ("forward", "symmetric"))

    def meta_gradient(self, task: Task, theta) -> np.ndarray:
        """The meta-gradient of ``task`` at ``θ``.

        Parameters
        ----------
        task, theta : Task and array (dim,)
        """
        task = _check_task(task, "FOBMAML")
        nu = self.nu
        if self.mode == "forward":
            return -self.lam * (self.inner(task, theta, nu) - self.inner(task, theta, 0.0)) / nu
        return -self.lam * (self.inner(task, theta, nu) - self.inner(task, theta, -nu)) / (2 * nu)

    def __repr__(self):
        return f"FOBMAML(lam={self.lam}, nu={self.nu}, mode={self.mode!r}, solver={self.solver!r})"


# ---------------------------------------------------------------------------- outer loop
def outer_optimizer(optimizer, lr=None, *, clip: float | None = None, beta: float | None = None, x0=None):
    """The outer optimizer of ``first-order-bilevel-maml`` Alg. 1, line 10.

    Parameters
    ----------
    optimizer : olc learner or {"gd", "clipped", "normalized"}
        A learner (``Adam(1e-2)``, an :class:`olc.optim.Chain`, ...; then ``lr``, ``clip``, ``beta`` are
        None), or OGD on the whole space, :class:`~olc.learners.ClippedGD`, :class:`~olc.learners.NormalizedGD`.
    lr, clip, beta, x0 : float, float, float, array
        The named optimizer's learning rate, ``clip`` (for "clipped"), ``beta`` (for "normalized") and start.
    """
    from ..learners import OGD, ClippedGD, NormalizedGD  # here: olc.learners imports this module (FTML)

    if not isinstance(optimizer, str):
        require(optimizer, "optimizer", "an olc learner or one of 'gd', 'clipped', 'normalized'",
                ("init", "decide", "update"))
        if lr is not None or clip is not None or beta is not None:
            raise InvalidArgumentError("optimizer: a learner carries its own hyperparameters; outer_lr, clip and "
                                       "beta are options of the names 'gd' / 'clipped' / 'normalized'")
        return optimizer
    option = {"gd": None, "clipped": "clip", "normalized": "beta"}[check_choice(optimizer, "optimizer",
                                                                                ("gd", "clipped", "normalized"))]
    given = {"clip": clip, "beta": beta}
    if any(v is not None for k, v in given.items() if k != option) or (option and given[option] is None):
        raise InvalidArgumentError(f"optimizer={optimizer!r} " + (f"needs {option} (and takes no other option)"
                                                                  if option else "takes neither clip nor beta"))
    lr = positive(lr, "outer_lr")
    if option is None:
        return OGD(Reals(), lr, x0)
    return (ClippedGD if option == "clip" else NormalizedGD)(lr, given[option], x0)


class MetaTrainResult(NamedTuple):
    """The result of :func:`meta_train`.

    Attributes
    ----------
    theta, thetas, losses, grad_norms : arrays (dim,), (n_steps + 1, dim), (n_steps + 1,), (n_steps,)
        Final meta-parameters, iterates, outer loss at each iterate, meta-gradient norms.
    """

    theta: np.ndarray
    thetas: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray


def meta_train(learner, tasks, theta0, *, outer_lr: float | None = None, n_steps: int, optimizer="gd",
               clip: float | None = None, beta: float | None = None, tasks_per_step: int | None = None,
               seed=0, loss: Callable[[np.ndarray], float] | None = None,
               progress: bool | None = None) -> MetaTrainResult:
    """Outer loop of ``first-order-bilevel-maml`` Alg. 1: for ``n_steps`` steps sample
    ``tasks_per_step`` tasks (all of them when None), average their ``learner.meta_gradient``
    (line 9) and step the outer optimizer (line 10, :func:`outer_optimizer`: any olc learner, e.g.
    ``Adam(1e-2)``, or the name ``"gd"``/``"clipped"``/``"normalized"`` with ``outer_lr``).

    This is :func:`olc.play` of the outer optimizer in the game :func:`olc.games.meta_training`
    (the task draws come from ``seed``). ``loss(θ)`` is recorded at every iterate (default: the mean
    of ``learner.objective``). A non-finite value raises :class:`olc.DivergenceError` whose
    ``partial`` holds the :class:`MetaTrainResult` of the ``k`` steps completed before it (``thetas``
    has ``k + 1`` rows: the last is the iterate that failed).

    Parameters
    ----------
    learner, tasks, theta0, tasks_per_step, seed, loss
        As :func:`olc.games.meta_training`.
    outer_lr, n_steps, optimizer, clip, beta
        ``n_steps`` outer steps of :func:`outer_optimizer` (``lr=outer_lr``).
    progress : bool, optional
        As :func:`olc.play`.
    """
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    rng = as_rng(seed)
    game = meta_training(learner, tasks, max(n_steps, 1), theta0, tasks_per_step=tasks_per_step, loss=loss,
                         seed=rng)
    opt = outer_optimizer(optimizer, outer_lr, clip=clip, beta=beta, x0=game.x0)
    if n_steps == 0:
        thetas, losses, norms = game.x0[None].copy(), np.zeros(0), np.zeros(0)
    else:
        try:
            trace = play(opt, game, seed=rng, progress=progress)
        except DivergenceError as exc:
            p = exc.partial
            thetas = np.vstack([p.decisions, p.final_state.x])
            raise DivergenceError(f"meta_train: {exc}", step=exc.step, partial=MetaTrainResult(
                thetas[-1], thetas, p.losses, p.info["grad_norms"])) from exc
        thetas = np.vstack([trace.decisions, trace.final_state.x])
        losses, norms = trace.losses, trace.info["grad_norms"]
    losses = np.append(losses, number(game.loss(thetas[-1]), "loss(theta)"))  # the loss of the final iterate
    result = MetaTrainResult(thetas[-1].copy(), thetas, losses, norms)
    if not np.isfinite(losses[-1]):
        raise DivergenceError(f"meta_train: non-finite outer loss after outer step {n_steps}", step=n_steps,
                              partial=result)
    return result
