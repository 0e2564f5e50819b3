"""Small helpers shared by the ``olc.torch`` optimizers and meta-learners (private).

Flat views of a parameter group, closure evaluation with the olc NaN/Inf checks, and a light
re-parametrisation of a module (swap parameter tensors in and out without copying) that the
meta-learners use both with ``torch.autograd`` and under ``torch.func`` transforms.
"""

from __future__ import annotations

import math

import torch

from .._validate import real_tensor
from ..errors import InvalidArgumentError, NonFiniteError, OlcError, ShapeError


def group_params(params, who: str) -> list:
    """The tensors of one parameter group, checked: at least one, all floating, one device and dtype.

    Parameters
    ----------
    params : iterable of torch.Tensor
    who : str
        Names the caller in errors.
    """
    params = list(params)
    if not params:
        raise InvalidArgumentError(f"params: {who} got an empty parameter group; nothing to optimize")
    p0 = params[0]
    for i, p in enumerate(params):
        if not torch.is_tensor(p) or not p.is_floating_point():
            raise InvalidArgumentError(f"params[{i}]: {who} optimizes floating-point tensors, got "
                                       f"{type(p).__name__}{'' if not torch.is_tensor(p) else ' of dtype ' + str(p.dtype)}")
        if p.device != p0.device or p.dtype != p0.dtype:
            raise InvalidArgumentError(f"params[{i}]: {who} keeps one flat state vector per parameter group, so a group "
                                       f"must have one device and dtype; got {p.dtype} on {p.device} next to {p0.dtype} "
                                       f"on {p0.device} (put them in separate parameter groups)")
    return params


def flat_params(params) -> torch.Tensor:
    """The group's parameters as one new 1-D tensor (detached).

    Parameters
    ----------
    params : list of torch.Tensor
    """
    return torch.cat([p.detach().reshape(-1) for p in params])


def flat_grads(params, out: torch.Tensor | None = None) -> torch.Tensor:
    """The group's gradients as one 1-D tensor (zeros where ``.grad`` is None).

    Parameters
    ----------
    params : list of torch.Tensor
    out : torch.Tensor, optional
        Written into when given.
    """
    parts = [p.grad.detach().reshape(-1) if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype,
                                                                                 device=p.device) for p in params]
    if out is None:
        return torch.cat(parts)
    return torch.cat(parts, out=out)


def views(flat: torch.Tensor, params) -> list:
    """``flat`` split into views shaped like ``params``.

    Parameters
    ----------
    flat : torch.Tensor
    params : list of torch.Tensor
    """
    return [c.view_as(p) for c, p in zip(torch.split(flat, [p.numel() for p in params]), params)]


def write(params, flat: torch.Tensor) -> None:
    """Copy the flat vector into the parameters (in place).

    Parameters
    ----------
    params : list of torch.Tensor
    flat : torch.Tensor
    """
    with torch.no_grad():
        torch._foreach_copy_(list(params), views(flat, params))


def loss_value(loss, who: str, step: int) -> float:
    """``float(loss)``; a NaN/Inf raises :class:`~olc.errors.NonFiniteError` naming ``who`` and the step.

    Parameters
    ----------
    loss : torch.Tensor or float
    who : str
        Names the caller in errors.
    step : int
    """
    if loss is None:
        raise InvalidArgumentError(f"closure: {who} needs the closure to return the loss (a scalar tensor)")
    value = float(loss.detach() if torch.is_tensor(loss) else loss)
    if not math.isfinite(value):
        raise NonFiniteError(f"{who}: non-finite loss {value} at step {step}")
    return value


def data_pair(X, y, what: str):
    """``(X, y)`` of one data set as real tensors with a common, non-empty sample axis.

    Integer inputs ``X`` become float64 (labels ``y`` keep their dtype).

    Parameters
    ----------
    X, y : array_like or torch.Tensor
    what : str
        Names the data in errors (e.g. ``"task.X_train"``).
    """
    X = real_tensor(X, what)
    y = real_tensor(y, what.replace("X", "y"))
    if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ShapeError(f"{what}: expected inputs and targets with the same non-empty first (sample) axis, got "
                         f"shapes {tuple(X.shape)} and {tuple(y.shape)}")
    return (X if X.is_floating_point() else X.to(torch.float64)), y


def model_loss(module, call, loss_fn, X, y):
    """``loss_fn(call(X), y)`` checked: a scalar tensor.

    Data the module cannot take (an error from the forward pass or the loss) is reported as a
    :class:`~olc.errors.ShapeError` naming the shapes.

    Parameters
    ----------
    module : torch.nn.Module
    call : callable
        ``X -> outputs`` (the module, or a reparametrised call of it).
    loss_fn : callable
    X, y : torch.Tensor
    """
    try:
        value = loss_fn(call(X), y)
    except (OlcError, torch.OutOfMemoryError):
        raise
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        raise ShapeError(f"X: the module {type(module).__name__} and loss_fn cannot be evaluated on X of shape "
                         f"{tuple(X.shape)} with y of shape {tuple(y.shape)} ({type(exc).__name__}: {exc})") from exc
    if not torch.is_tensor(value):
        raise InvalidArgumentError(f"loss_fn: must return a scalar torch tensor (gradients flow through it), got "
                                   f"{type(value).__name__} {value!r:.40}")
    if value.ndim != 0:
        raise InvalidArgumentError(f"loss_fn: must return a scalar (use reduction='mean'), got shape "
                                   f"{tuple(value.shape)}")
    return value


def autograd_grad(outputs, inputs, grad_outputs=None, **kw) -> tuple:
    """``torch.autograd.grad`` that gives zeros where ``outputs`` do not depend on ``inputs``.

    As ``torch.func.grad`` does (a constant loss has no ``grad_fn``; autograd would raise).

    Parameters
    ----------
    outputs, inputs, grad_outputs
        As in ``torch.autograd.grad`` (``**kw`` too).
    """
    outs = (outputs,) if torch.is_tensor(outputs) else tuple(outputs)
    if not any(o.requires_grad for o in outs):
        return tuple(torch.zeros_like(i) for i in ((inputs,) if torch.is_tensor(inputs) else inputs))
    return torch.autograd.grad(outputs, inputs, grad_outputs, **kw)


def check_finite(t: torch.Tensor, what: str, who: str, step: int) -> None:
    """Raise :class:`~olc.errors.NonFiniteError` if ``t`` holds a NaN/Inf (one reduction, one sync).

    Parameters
    ----------
    t : torch.Tensor
    what : str
    who : str
        Names the caller in errors.
    step : int
    """
    if not bool(torch.isfinite(t).all()):
        raise NonFiniteError(f"{who}: non-finite {what} at step {step}")


def call_closure(closure, who: str, step: int):
    """Evaluate the closure with gradients enabled; return ``(loss, value)``.

    Parameters
    ----------
    closure : callable
    who : str
        Names the caller in errors.
    step : int
    """
    with torch.enable_grad():
        loss = closure()
    return loss, loss_value(loss, who, step)


class Reparam:
    """Evaluate ``module`` with other tensors in place of its parameters (``named_parameters`` order).

    ``module(X)`` runs with the given tensors swapped into the owning sub-modules' ``_parameters`` slots and the
    originals put back afterwards — what ``torch.func.functional_call`` does, at a fraction of its per-call cost (the
    slots are resolved once). Works with ``torch.autograd`` (non-leaf tensors keep their graph) and inside
    ``torch.func`` transforms (grad, jvp, vjp, vmap). Buffers stay the module's own.

    Parameters
    ----------
    module : torch.nn.Module
    """

    def __init__(self, module):
        if not isinstance(module, torch.nn.Module):
            raise InvalidArgumentError(f"model: expected a torch.nn.Module, got {type(module).__name__}")
        named = list(module.named_parameters())
        if not named:
            raise InvalidArgumentError(f"model: {type(module).__name__} has no parameters; nothing to meta-learn")
        self.module = module
        self.names = [n for n, _ in named]
        self.slots = []
        for name in self.names:
            *path, attr = name.split(".")
            owner = module
            for part in path:
                owner = getattr(owner, part)
            self.slots.append((owner, attr))

    def params(self) -> list:
        """The module's own parameter tensors."""
        return [owner._parameters[attr] for owner, attr in self.slots]

    def __call__(self, tensors, *inputs):
        old = [owner._parameters[attr] for owner, attr in self.slots]
        try:
            for (owner, attr), t in zip(self.slots, tensors):
                owner._parameters[attr] = t
            return self.module(*inputs)
        finally:
            for (owner, attr), t in zip(self.slots, old):
                owner._parameters[attr] = t
