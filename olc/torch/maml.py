"""The MAML family natively in PyTorch: MAML, FO-MAML, Reptile, iMAML and FO-B-MAML on ``torch.nn.Module`` s.

Spec: ``first-order-bilevel-maml`` — MAML eq. (1)–(2), FO-MAML eq. (3), Reptile eq. (4), B-MAML eq. (5)–(7), iMAML eq.
(8) (conjugate gradient), FO-B-MAML Alg. 1 with the finite differences (10)/(11) of the perturbed problem (9). The
same learners as :mod:`olc.meta.maml` (whose classes validate the hyperparameters here and whose docstrings give the
formulas), computed in torch on the module's own parameters, device and dtype, with no numpy round trips:

* one task: ``torch.autograd`` through a light re-parametrisation of the module
  (:class:`olc.torch._util.Reparam`; MAML back-propagates through the ``K`` inner steps with
  ``create_graph=True``, iMAML reuses one double-backward graph for all CG products);
* several tasks of equal shapes: ``torch.func.vmap`` over the tasks of ``torch.func.grad`` (MAML: ``grad`` of a
  function that itself takes ``K`` ``grad`` steps; the first-order methods: ``vmap`` of the inner solves). iMAML's CG
  and every solve with a ``tol`` stop on data-dependent tests and loop over the tasks instead.

A task is a :class:`TorchTask` ``(X_train, y_train, X_test, y_test)`` (``f̂_i`` on the first
pair, ``f_i`` on the second); :meth:`TorchTask.from_task` converts an :class:`olc.tasks.Task`
whose oracles are :class:`olc.oracles.TorchOracle` s (e.g. ``sinusoid_regression(model="mlp")``,
``rainbow_digits``), and the meta-gradients then equal those of the numpy path (tested to
1e-10 in float64). Meta-gradients are lists of tensors in ``named_parameters()`` order;
:meth:`meta_backward` accumulates the task-average into ``.grad`` for any ``torch.optim``
outer optimizer (Alg. 1, lines 9–10)::

    maml = olc.torch.MAML(model, loss_fn, inner_lr=0.01, inner_steps=5)
    outer = torch.optim.Adam(model.parameters(), 1e-3)
    for batch in task_batches:
        outer.zero_grad()
        meta_loss = maml.meta_backward(batch)
        outer.step()

Deviations: only the GD inner solver (the numpy ``solver="exact"`` / callable options are not
offered); ``vmap`` needs a module without in-place buffer updates or randomness in the forward
pass (call ``model.eval()`` for batch-norm / dropout, or pass ``vmap=False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from .._progress import progress_bar
from ..errors import InvalidArgumentError, NonFiniteError, ShapeError
from ..meta import maml as _np
from ._util import Reparam, autograd_grad, data_pair, model_loss

__all__ = ["TorchTask", "stack_tasks", "MAML", "FOMAML", "Reptile", "IMAML", "FOBMAML", "conjugate_gradient_torch"]


class TorchTask(NamedTuple):
    """One task as tensors: the training set (``f̂_i``, used to adapt) and the test set (``f_i``).

    Parameters
    ----------
    X_train, y_train, X_test, y_test : torch.Tensor
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor

    @classmethod
    def from_task(cls, task) -> TorchTask:
        """The tensors of an :class:`olc.tasks.Task` whose ``train`` and ``test`` are
        :class:`olc.oracles.TorchOracle` s (full batches; the oracle's dtype and device).

        Parameters
        ----------
        task : olc.tasks.Task
        """
        from ..oracles.torch_adapter import TorchOracle

        for which in ("train", "test"):
            if not isinstance(getattr(task, which, None), TorchOracle):
                raise InvalidArgumentError(f"task: expected an olc.tasks.Task whose {which} objective is a TorchOracle, "
                                           f"got {type(getattr(task, which, task)).__name__}")
        return cls(task.train.X, task.train.y, task.test.X, task.test.y)

    def to(self, device=None, dtype=None) -> TorchTask:
        """Move to ``device``; floating tensors are cast to ``dtype`` (labels keep their integer dtype).

        Parameters
        ----------
        device, dtype : optional
        """
        return TorchTask(*(t.to(device=device, dtype=dtype if t.is_floating_point() else None) for t in self))


def stack_tasks(tasks: Sequence[TorchTask]) -> TorchTask:
    """Tasks of identical tensor shapes stacked along a new leading axis (for ``vmap``).

    Parameters
    ----------
    tasks : sequence of TorchTask
    """
    tasks = [t if isinstance(t, TorchTask) else TorchTask(*t) for t in tasks]
    if not tasks:
        raise InvalidArgumentError("tasks: expected at least one task")
    for i, t in enumerate(tasks):
        for k, (a, b) in enumerate(zip(t, tasks[0])):
            if a.shape != b.shape:
                raise ShapeError(f"tasks[{i}]: {TorchTask._fields[k]} has shape {tuple(a.shape)}, tasks[0] has "
                                 f"{tuple(b.shape)}; stacking (vmap) needs equal shapes")
    return TorchTask(*(torch.stack(col) for col in zip(*tasks)))


def conjugate_gradient_torch(matvec, b: torch.Tensor, steps: int, tol: float = 0.0) -> torch.Tensor:
    """:func:`olc.meta.conjugate_gradient` on torch vectors, iteration for iteration (``x_0 = 0``;
    stops when ``‖r‖ <= tol·‖b‖`` or ``r = 0``; a non-positive curvature ``pᵀMp`` raises).

    Parameters
    ----------
    matvec : callable
    b : torch.Tensor
    steps : int
    tol : float
    """
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = float(r @ r)
    stop = (tol * float(b.norm())) ** 2
    for k in range(steps):
        if rr <= stop or rr == 0.0:
            break
        Mp = matvec(p)
        pMp = float(p @ Mp)
        if not pMp > 0:
            if pMp != pMp:
                raise NonFiniteError(f"conjugate_gradient: non-finite matvec result at iteration {k}")
            raise InvalidArgumentError("conjugate_gradient: the matrix is not positive definite along a "
                                       f"search direction (pᵀMp = {pMp:.3g}); increase lam")
        a = rr / pMp
        x = x + a * p
        r = r - a * Mp
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def _flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


def _split(v, like):
    return [c.view_as(t) for c, t in zip(torch.split(v, [t.numel() for t in like]), like)]


class _TorchMeta:
    """Shared machinery: re-parametrised loss, task preparation, batching, ``.grad`` accumulation."""

    _spec_cls = None
    _vmappable = True

    def __init__(self, model, loss_fn, spec):
        self._f = Reparam(model)
        if not callable(loss_fn):
            raise InvalidArgumentError(f"loss_fn: expected a callable (outputs, targets) -> scalar tensor, got {loss_fn!r}")
        self.model, self.loss_fn, self.spec = model, loss_fn, spec

    def __repr__(self):
        return f"olc.torch.{self.spec!r}"

    # ------------------------------------------------------------------ pieces
    def _loss(self, params, X, y):
        return model_loss(self.model, lambda X_: self._f(params, X_), self.loss_fn, X, y)

    def _theta(self, params):
        if params is None:
            return [p.detach() for p in self._f.params()]
        params = list(params)
        own = self._f.params()
        if len(params) != len(own) or any(tuple(a.shape) != tuple(b.shape) for a, b in zip(params, own)):
            raise ShapeError(f"params: expected {len(own)} tensors shaped like the model's parameters "
                             f"{[tuple(p.shape) for p in own]}, got {[tuple(getattr(p, 'shape', ())) for p in params]}")
        return [p.detach() for p in params]

    def _task(self, task, theta):
        if not isinstance(task, TorchTask):
            if hasattr(task, "train") and hasattr(task, "test"):
                task = TorchTask.from_task(task)
            else:
                try:
                    task = TorchTask(*task)
                except TypeError:
                    raise InvalidArgumentError(f"task: expected a TorchTask (X_train, y_train, X_test, y_test) or an "
                                               f"olc.tasks.Task of TorchOracles, got {type(task).__name__}") from None
        task = TorchTask(*data_pair(task.X_train, task.y_train, "task.X_train"),
                         *data_pair(task.X_test, task.y_test, "task.X_test"))
        return task.to(device=theta[0].device, dtype=theta[0].dtype)

    def _grad_ag(self, params, X, y, create_graph=False):
        """``∇loss`` by autograd; with ``create_graph`` the result stays differentiable in ``params``."""
        if create_graph:
            return list(autograd_grad(self._loss(params, X, y), params, create_graph=True,
                                            materialize_grads=True))
        with torch.enable_grad():
            req = [p.detach().requires_grad_() for p in params]
            return list(autograd_grad(self._loss(req, X, y), req, materialize_grads=True))

    def _grad_func(self, params, X, y):
        return list(torch.func.grad(self._loss)(tuple(params), X, y))

    def _gd(self, theta, X, y, steps, lr, grad, *, lam=0.0, extra=None, nu=0.0, tol=None):
        """GD ``φ_{k+1} = φ_k − lr(∇f̂(φ_k) + λ(φ_k − θ) + ν∇f(φ_k))`` from ``φ_0 = θ``
        (:func:`olc.tasks.gd_path`: the inner problem (6) with ``λ``, the perturbed problem (9) with ``ν``)."""
        phi = list(theta)
        for _ in (range(steps) if steps < 10_000 else progress_bar(range(steps), None, f"{type(self).__name__} inner")):
            g = grad(phi, X, y)
            if lam:
                g = [gi + lam * (f - t) for gi, f, t in zip(g, phi, theta)]
            if nu:
                g = [gi + nu * ge for gi, ge in zip(g, grad(phi, *extra))]
            if tol is not None and float(_flat(g).norm()) <= tol:
                break
            phi = [f - lr * gi for f, gi in zip(phi, g)]
        return phi

    def _check(self, g, value, i):
        if not bool(torch.isfinite(_flat(g)).all()) or not bool(torch.isfinite(value)):
            raise NonFiniteError(f"{type(self).__name__}: non-finite meta-gradient or meta-loss on task {i} (the inner "
                                 f"steps diverge: reduce inner_lr)")

    # ------------------------------------------------------------------ per task (overridden)
    def _one(self, theta, task):  # pragma: no cover - interface
        """``(meta-gradient list, meta-loss)`` for one prepared task."""
        raise NotImplementedError

    def _batch(self, theta, tasks: TorchTask):  # pragma: no cover - interface
        """``(meta-gradients stacked over tasks, meta-losses)`` for a stacked task batch (vmap)."""
        raise NotImplementedError

    def _can_vmap(self):
        return self._vmappable and getattr(self.spec, "tol", None) is None

    # ------------------------------------------------------------------ public
    def adapt(self, task, params=None) -> list:
        """The adapted parameters ``φ_K(θ)`` (MAML family) or ``φ̃(θ)`` (iMAML / FO-B-MAML)."""
        theta = self._theta(params)
        return [p.detach() for p in self._adapted(theta, self._task(task, theta))]

    def objective(self, task, params=None) -> float:
        """The meta-objective of one task: ``f_i`` at the adapted parameters (eq. (1) or (5))."""
        theta = self._theta(params)
        task = self._task(task, theta)
        with torch.no_grad():
            return float(self._loss(self._adapted(theta, task), task.X_test, task.y_test))

    def meta_gradient(self, task, params=None) -> list:
        """The meta-gradient of one task at ``params`` (default: the model's parameters), a list of
        tensors shaped like the parameters."""
        theta = self._theta(params)
        g, v = self._one(theta, self._task(task, theta))
        self._check(g, v, 0)
        return g

    def _mean(self, tasks, params, vmap):
        if isinstance(tasks, TorchTask) or (hasattr(tasks, "train") and hasattr(tasks, "test")):
            tasks = [tasks]
        tasks = list(tasks)
        if not tasks:
            raise InvalidArgumentError("tasks: expected at least one task")
        if vmap not in (True, False, "auto"):
            raise InvalidArgumentError(f"vmap: expected True, False or 'auto', got {vmap!r}")
        theta = self._theta(params)
        tasks = [self._task(t, theta) for t in tasks]
        same = all(a.shape == b.shape for t in tasks for a, b in zip(t, tasks[0]))
        use = (vmap is True or (vmap == "auto" and len(tasks) > 1 and same)) and self._can_vmap()
        if vmap is True and not same:
            stack_tasks(tasks)  # raises ShapeError naming the task
        if use:
            G, V = self._batch(theta, stack_tasks(tasks))
            g = [gi.mean(0) for gi in G]
            self._check(g, V.mean(), "batch")
            return g, V.mean()
        gs, vs = [], []
        for i, t in enumerate(tasks):
            g, v = self._one(theta, t)
            self._check(g, v, i)
            gs.append(g)
            vs.append(v)
        n = len(tasks)
        return [sum(col) / n for col in zip(*gs)], sum(vs) / n

    def meta_gradients(self, tasks, params=None, *, vmap="auto") -> list:
        """The average meta-gradient over ``tasks`` (Alg. 1, line 9). ``vmap="auto"`` batches tasks of equal
        shapes with ``torch.func.vmap`` when the method allows it; ``True`` insists, ``False`` loops."""
        return self._mean(tasks, params, vmap)[0]

    def meta_backward(self, tasks, *, vmap="auto") -> torch.Tensor:
        """Add the task-average meta-gradient at the model's parameters to their ``.grad`` (like
        ``loss.backward()``) and return the average meta-loss (detached scalar tensor)."""
        g, v = self._mean(tasks, None, vmap)
        with torch.no_grad():
            for p, gi in zip(self._f.params(), g):
                if p.grad is None:
                    p.grad = gi.detach().clone()
                else:
                    p.grad.add_(gi)
        return v.detach()


# ---------------------------------------------------------------------------- MAML family
class _Unrolled(_TorchMeta):
    def __init__(self, model, loss_fn, inner_lr: float, inner_steps: int = 1, lam: float | None = None):
        super().__init__(model, loss_fn, self._spec_cls(inner_lr, inner_steps, lam))
        self.inner_lr, self.inner_steps, self.lam = self.spec.inner_lr, self.spec.inner_steps, self.spec.lam

    def _adapted(self, theta, task):
        return self._gd(theta, task.X_train, task.y_train, self.inner_steps, self.inner_lr, self._grad_ag,
                        lam=self.lam or 0.0)

    def _fo_batch(self, theta, tasks, out):
        """vmap of the first-order inner loop; ``out(theta, phi, Xq, yq) -> (grads, value)`` per task."""
        def one(Xs, ys, Xq, yq):
            phi = self._gd(theta, Xs, ys, self.inner_steps, self.inner_lr, self._grad_func, lam=self.lam or 0.0)
            return out(theta, phi, Xq, yq)

        return torch.func.vmap(one)(*tasks)


class MAML(_Unrolled):
    """Exact MAML meta-gradient ``∇F_i(θ) = (dφ_K/dθ)ᵀ ∇f_i(φ_K(θ))`` (``first-order-bilevel-maml``
    eq. (1)–(2)) by back-propagation through the ``K`` inner GD steps (``lam``: on
    ``f̂_i + (λ/2)‖φ − θ‖²``). The PyTorch face of :class:`olc.meta.MAML` (``method="hvp"``).

    Parameters
    ----------
    model : torch.nn.Module
        Its architecture; the parameters are replaced by each task's ``θ``.
    loss_fn : callable
        ``(outputs, targets) -> scalar``.
    inner_lr : float
    inner_steps : int
    lam : float, optional
    """

    _spec_cls = _np.MAML

    def _one(self, theta, task):
        with torch.enable_grad():
            th = [t.detach().requires_grad_() for t in theta]
            phi = self._gd(th, task.X_train, task.y_train, self.inner_steps, self.inner_lr,
                           lambda p, X, y: self._grad_ag(p, X, y, create_graph=True), lam=self.lam or 0.0)
            F = self._loss(phi, task.X_test, task.y_test)
            g = autograd_grad(F, th, materialize_grads=True)
        return list(g), F.detach()

    def _batch(self, theta, tasks):
        def F(th, Xs, ys, Xq, yq):
            phi = self._gd(list(th), Xs, ys, self.inner_steps, self.inner_lr, self._grad_func, lam=self.lam or 0.0)
            return self._loss(phi, Xq, yq)

        G, V = torch.func.vmap(torch.func.grad_and_value(F), in_dims=(None, 0, 0, 0, 0))(tuple(theta), *tasks)
        return list(G), V


class FOMAML(_Unrolled):
    """First-order MAML, ``g = ∇f_i(φ_K(θ))`` (``first-order-bilevel-maml`` eq. (3)); the PyTorch face
    of :class:`olc.meta.FOMAML`.

    Parameters
    ----------
    model, loss_fn, inner_lr, inner_steps, lam
        As in :class:`MAML`.
    """

    _spec_cls = _np.FOMAML

    def _one(self, theta, task):
        phi = self._adapted(theta, task)
        with torch.enable_grad():
            req = [p.detach().requires_grad_() for p in phi]
            F = self._loss(req, task.X_test, task.y_test)
            g = autograd_grad(F, req, materialize_grads=True)
        return list(g), F.detach()

    def _batch(self, theta, tasks):
        def out(th, phi, Xq, yq):
            g, v = torch.func.grad_and_value(self._loss)(tuple(phi), Xq, yq)
            return list(g), v

        return self._fo_batch(theta, tasks, out)


class Reptile(_Unrolled):
    """Reptile, ``g = (θ − φ_K(θ))/(Kα)`` (``first-order-bilevel-maml`` eq. (4)); the PyTorch face of
    :class:`olc.meta.Reptile`. The reported meta-loss is ``f_i(φ_K)`` (Reptile itself never uses it).

    Parameters
    ----------
    model, loss_fn, inner_lr, inner_steps, lam
        As in :class:`MAML`.
    """

    _spec_cls = _np.Reptile

    def _reptile(self, theta, phi):
        s = self.inner_steps * self.inner_lr
        return [(t - f) / s for t, f in zip(theta, phi)]

    def _one(self, theta, task):
        phi = self._adapted(theta, task)
        with torch.no_grad():
            return self._reptile(theta, phi), self._loss(phi, task.X_test, task.y_test)

    def _batch(self, theta, tasks):
        return self._fo_batch(theta, tasks, lambda th, phi, Xq, yq: (self._reptile(th, phi), self._loss(phi, Xq, yq)))


# ---------------------------------------------------------------------------- bi-level (B-MAML)
class _Bilevel(_TorchMeta):
    def _inner(self, theta, task, nu=0.0, grad=None):
        s = self.spec
        return self._gd(theta, task.X_train, task.y_train, s.inner_steps, s.inner_lr, grad or self._grad_ag,
                        lam=s.lam, extra=(task.X_test, task.y_test), nu=nu, tol=s.tol)

    def _adapted(self, theta, task):
        return self._inner(theta, task)


class IMAML(_Bilevel):
    """iMAML: solve eq. (8) ``(I + ∇²f̂_i(φ̃)/λ) v = ∇f_i(φ̃)`` by ``cg_steps`` conjugate-gradient steps,
    ``φ̃`` from ``inner_steps`` GD steps on the inner problem (6) (``first-order-bilevel-maml`` Sec. 2.3);
    the PyTorch face of :class:`olc.meta.IMAML`. The Hessian-vector products reuse one double-backward
    graph of ``∇f̂_i`` at ``φ̃`` (one backward pass each). Tasks are looped over (CG stops on data).

    Parameters
    ----------
    model, loss_fn
        As in :class:`MAML`.
    lam : float
    cg_steps : int
    inner_lr : float
    inner_steps : int
    tol : float, optional
        CG tolerance.
    """

    _vmappable = False

    def __init__(self, model, loss_fn, lam: float, cg_steps: int, inner_lr: float, inner_steps: int,
                 tol: float | None = None):
        super().__init__(model, loss_fn, _np.IMAML(lam, cg_steps, inner_lr, inner_steps, tol))
        self.lam, self.cg_steps = self.spec.lam, self.spec.cg_steps

    def _one(self, theta, task):
        phi = self._inner(theta, task)
        with torch.enable_grad():
            req = [p.detach().requires_grad_() for p in phi]
            F = self._loss(req, task.X_test, task.y_test)
            rhs = _flat(autograd_grad(F, req, materialize_grads=True))
            gtr = autograd_grad(self._loss(req, task.X_train, task.y_train), req, create_graph=True,
                                      materialize_grads=True)

            def matvec(v):
                hv = autograd_grad(gtr, req, _split(v, req), retain_graph=True, materialize_grads=True)
                return v + _flat(hv) / self.lam

            x = conjugate_gradient_torch(matvec, rhs.detach(), self.cg_steps)
        return _split(x.detach(), theta), F.detach()


class FOBMAML(_Bilevel):
    """FO-B-MAML, ``first-order-bilevel-maml`` Alg. 1: ``g = −λ(φ̃_ν − φ̃_0)/ν`` (``mode="forward"``, eq. (10)) or
    ``−λ(φ̃_ν − φ̃_{−ν})/(2ν)`` (``"symmetric"``, eq. (11)), each ``φ̃`` from ``inner_steps`` GD steps on the
    perturbed problem (9) started at ``θ``; the PyTorch face of :class:`olc.meta.FOBMAML`. The reported meta-loss is
    ``f_i(φ̃_0)`` (forward) or ``f_i`` at ``(φ̃_ν + φ̃_{−ν})/2`` (symmetric, within ``O(ν²)`` of it).

    Parameters
    ----------
    model, loss_fn
        As in :class:`MAML`.
    lam, nu : float
    mode : {"forward", "symmetric"}
    inner_lr : float, optional
    inner_steps : int, optional
    tol : float, optional
    """

    def __init__(self, model, loss_fn, lam: float, nu: float, mode: str = "forward", inner_lr: float | None = None,
                 inner_steps: int | None = None, tol: float | None = None):
        super().__init__(model, loss_fn, _np.FOBMAML(lam, nu, mode, inner_lr, inner_steps, tol))
        self.lam, self.nu, self.mode = self.spec.lam, self.spec.nu, self.spec.mode

    def _fd(self, theta, task, grad):
        nu, lam = self.nu, self.lam
        a = self._inner(theta, task, nu, grad)
        b = self._inner(theta, task, 0.0 if self.mode == "forward" else -nu, grad)
        den = nu if self.mode == "forward" else 2 * nu
        g = [-lam * (x - y) / den for x, y in zip(a, b)]
        at = b if self.mode == "forward" else [(x + y) / 2 for x, y in zip(a, b)]
        return g, self._loss(at, task.X_test, task.y_test)

    def _one(self, theta, task):
        g, v = self._fd(theta, task, self._grad_ag)
        return [gi.detach() for gi in g], v.detach()

    def _batch(self, theta, tasks):
        return torch.func.vmap(lambda *t: self._fd(theta, TorchTask(*t), self._grad_func))(*tasks)
