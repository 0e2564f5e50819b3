"""Per-parameter learning rates learned online by meta-gradients, as ``torch.optim.Optimizer`` s.

Spec: ``optimistic-meta-gradients`` (Flennerhag et al.) — Alg. 1 (meta-learning in practice), Alg. 4 / eq. (10) with
the hints of Cor. 1–2 and App. C (optimistic meta-learning), Alg. 3 / 5 and eq. (14)–(16) (BMG, with its reduction to
AO-FTRL, Thm. 5), and the ImageNet experiment of Fig. 1 / App. C: "an update rule that adapts a per-parameter learning
rate online, ``φ : (x, w) ↦ w ⊙ ∇f(x)``".

These are the PyTorch faces of :class:`olc.learners.MetaGradient`,
:class:`olc.learners.OptimisticMetaGradient` and :class:`olc.learners.BMG` with
``averaging=False`` (the practical, non-averaged form used for networks). The rule math is
*the same code*: :func:`olc.learners.meta_gradients.meta_momentum_phi` / ``meta_momentum_vjp`` (or the
Meta-AdaGrad pair) and :func:`olc.learners.meta_gradients.bmg_hint` / ``error_corrected_hint`` are called on
the group's flat tensors. Per parameter group, with ``x`` the group's parameters as one vector
and ``g_t = ∇f(x_t)`` the gradient of step ``t``::

    meta-gradient   m_t = Dφ(x_{t-1}, w_t)ᵀ ∇f(x_t) = -lr · g_{t-1} ⊙ g_t          (App. C)
    hint            g̃_{t+1}: 0 (Alg. 1) | m_t ("previous", Cor. 1) | -lr·g_t⊙g_t ("current", App. C)
                    | eq. (16) from the bootstrapped target (BMG)
    meta-update     lazy   (FTRL / AO-FTRL, eq. (3)/(10)):  w_{t+1} = Π_W(w_1 - β(Σ_{s<=t} m_s + g̃_{t+1}))
                    greedy (App. C's clip):                w_{t+1} = Π_W(w_t - β(m_t + g̃_{t+1} - g̃_t))
    step            x_{t+1} = x_t + φ(x_t, w_{t+1}) = x_t - lr · w_{t+1} ⊙ g_t

``W = {w >= w_min}`` (``w_min = 0``: "the max operator ... to avoid negative learning rates", App. C).
``projection="lazy"`` is exactly the numpy learners' FTRL/AO-FTRL (agreement to 1e-10 in float64 is tested);
``"greedy"`` is App. C's ``max{w_t - β(·), 0}``. Without a constraint (``w_min=-inf``) the two coincide. For BMG, lazy
gives ``w_{t+1} = Π_W(w_1 - β Σ_s ∇d_s(w_s))`` and greedy gives Alg. 3 itself, ``w_{t+1} = Π_W(w_t - β ∇d_t(w_t))``.

Deviations: the descent sign and the base rate ``lr`` are explicit (``φ = -lr·w⊙∇f``; the paper writes ``w ⊙ ∇f``), as
in :class:`olc.learners.meta_gradients.MetaMomentumRule`; on minibatches ``g_{t-1}`` and ``g_t`` come from different
batches (the paper's stochastic setting). State per parameter group (``state_dict`` round-trips, bitwise): ``w``,
``prev_grad`` and, for the lazy projection, the sum of meta-gradients, and, for the optimistic / BMG variants, the
current hint — 3n to 4n floats (SGD with momentum keeps n, Adam 2n).
"""

from __future__ import annotations

import math

import torch

from .._validate import check_choice, positive, real
from ..errors import InvalidArgumentError
from ..learners.meta_gradients import (
    bmg_hint,
    error_corrected_hint,
    meta_adagrad_phi,
    meta_adagrad_vjp,
    meta_momentum_phi,
    meta_momentum_vjp,
)
from ._util import call_closure, check_finite, flat_grads, flat_params, group_params, views, write

__all__ = ["MetaGradientSGD", "OptimisticMetaGradientSGD", "BMGSGD"]

_RULES = ("momentum", "adagrad")


def _phi(rule, lr, w, g):
    return meta_momentum_phi(lr, w, g) if rule == "momentum" else meta_adagrad_phi(lr, w, g)


def _vjp(rule, lr, w, g, v):
    return meta_momentum_vjp(lr, g, v) if rule == "momentum" else meta_adagrad_vjp(lr, w, g, v)


class _MetaLR(torch.optim.Optimizer):
    """Shared loop of the meta-gradient optimizers (see the module docstring)."""

    _extra: dict = {}
    _hinted = False  # keeps a hint g̃ in the state

    def __init__(self, params, lr, meta_lr, *, w0, rule, w_min, projection, **extra):
        params = list(params)
        if not params:
            raise InvalidArgumentError(f"params: {type(self).__name__} got no parameters; nothing to optimize")
        defaults = {"lr": lr, "meta_lr": meta_lr, "w0": w0, "rule": rule, "w_min": w_min,
                    "projection": projection, **extra}
        super().__init__(params, defaults)

    # ------------------------------------------------------------------ validation
    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        grp = self.param_groups[-1]
        who = type(self).__name__
        grp["params"] = group_params(grp["params"], who)
        grp["lr"] = positive(grp["lr"], "lr")
        grp["meta_lr"] = positive(grp["meta_lr"], "meta_lr")
        grp["rule"] = check_choice(grp["rule"], "rule", _RULES)
        grp["projection"] = check_choice(grp["projection"], "projection", ("lazy", "greedy"))
        if grp["w_min"] is None:
            grp["w_min"] = 0.0 if grp["rule"] == "momentum" else 1e-8
        w_min = grp["w_min"]
        if not (isinstance(w_min, float) and w_min == -math.inf):  # -inf: W = R^n
            w_min = real(w_min, "w_min")
        if grp["rule"] == "adagrad" and not w_min > 0:
            raise InvalidArgumentError(f"w_min: rule='adagrad' divides by √w and needs w_min > 0, got {w_min!r}")
        grp["w_min"] = w_min
        grp["w0"] = real(grp["w0"], "w0")
        if grp["w0"] < w_min:
            raise InvalidArgumentError(f"w0: the initial learning-rate multipliers must lie in W = [w_min, inf) = "
                                       f"[{w_min}, inf), got w0 = {grp['w0']}")
        self._check_extra(grp)

    def _check_extra(self, grp):
        pass

    # ------------------------------------------------------------------ state
    def _state(self, grp) -> dict:
        return self.state[grp["params"][0]]

    def _init_state(self, grp, g):
        st = self._state(grp)
        st["step"] = 0
        st["w"] = torch.full_like(g, grp["w0"])
        st["prev_grad"] = torch.zeros_like(g)
        if grp["projection"] == "lazy":
            st["sum"] = torch.zeros_like(g)
        if self._hinted:
            st["hint"] = torch.zeros_like(g)
        return st

    def multipliers(self, group: int = 0) -> list:
        """The current learning-rate multipliers ``w`` of a parameter group, shaped like its parameters
        (the effective per-parameter learning rate is ``lr · w``)."""
        grp = self.param_groups[group]
        st = self._state(grp)
        if "w" not in st:
            return [torch.full_like(p, grp["w0"]) for p in grp["params"]]
        return [v.clone() for v in views(st["w"], grp["params"])]

    @property
    def steps_taken(self) -> int:
        """Steps taken so far (the step counter of the first parameter group)."""
        return int(self._state(self.param_groups[0]).get("step", 0))

    # ------------------------------------------------------------------ the step
    def _hint(self, grp, st, m, g, extra):
        """``g̃_{t+1}`` (None: no hint, Alg. 1)."""
        return None

    def _evaluate_targets(self, closure, grads):
        """Extra closure evaluations before the meta-update (BMG's target); per group, or None."""
        return [None] * len(self.param_groups)

    @torch.no_grad()
    def step(self, closure=None):
        """One step: meta-update ``w`` from the meta-gradient (from the second step on), then ``x ← x - lr · w ⊙ ∇f(x)``.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss and its gradients and returns the loss (BMG needs it); without it the
            ``.grad`` already computed is used.
        """
        who, t = type(self).__name__, self.steps_taken
        loss = None
        if closure is not None:
            loss, _ = call_closure(closure, who, t)
        grads = []
        for grp in self.param_groups:
            g = flat_grads(grp["params"])
            check_finite(g, "gradient", who, t)
            grads.append(g)
        extras = self._evaluate_targets(closure, grads)
        for grp, g, extra in zip(self.param_groups, grads, extras):
            st = self._state(grp)
            if "w" not in st:
                st = self._init_state(grp, g)
            lr, beta, rule, lo = grp["lr"], grp["meta_lr"], grp["rule"], grp["w_min"]
            w = st["w"]
            if st["step"] > 0:
                m = _vjp(rule, lr, w, st["prev_grad"], g)  # Dφ(x_{t-1}, w_t)ᵀ ∇f(x_t)
                h_old = st.get("hint")
                h_new = self._hint(grp, st, m, g, extra)
                if grp["projection"] == "lazy":  # FTRL / AO-FTRL: Π_W(w_1 - β(Σ m + g̃))
                    st["sum"].add_(m)
                    v = st["sum"] if h_new is None else st["sum"] + h_new
                    w_new = (grp["w0"] - beta * v).clamp_(min=lo)
                else:  # greedy: Π_W(w_t - β(m_t + g̃_{t+1} - g̃_t))
                    inc = m if h_new is None else m + (h_new - h_old)
                    w_new = (w - beta * inc).clamp_(min=lo)
                w.copy_(w_new)
                if h_new is not None:
                    st["hint"].copy_(h_new)
            step = _phi(rule, lr, w, g)
            check_finite(step, "step lr * w * g (it overflows: reduce lr or meta_lr)", who, t)
            torch._foreach_add_(grp["params"], views(step, grp["params"]))
            st["prev_grad"].copy_(g)
            st["step"] += 1
        return loss


class MetaGradientSGD(_MetaLR):
    """SGD with per-parameter learning rates ``lr · w`` learned online by meta-gradients — ``optimistic-meta-gradients``
    Alg. 1 with FTRL (eq. (3)) as the meta-learner, the "standard meta-learning" arm of Fig. 1 / App. C. The PyTorch face
    of ``olc.learners.MetaGradient(MetaMomentumRule(lr), meta_lr, w0=w0, averaging=False)``.

    Parameters
    ----------
    params : iterable of tensors or parameter groups (each group: one device and dtype).
    lr : float — base learning rate (``φ = -lr · w ⊙ ∇f``); LR schedulers may change it.
    meta_lr : float — ``β`` of the meta-update (App. C / Table 3 sweep 0.001–0.1).
    w0 : float — initial multipliers ``w_1`` (1: start as SGD with ``lr``).
    rule : ``"momentum"`` (``w ⊙ ∇f``, default; App. C) or ``"adagrad"`` (``∇f / √w``, Fig. 2).
    w_min : float — lower end of ``W`` (default 0 for ``"momentum"``, 1e-8 for ``"adagrad"``;
        ``-inf`` leaves ``w`` unconstrained).
    projection : ``"lazy"`` (FTRL, as the numpy learner) or ``"greedy"`` (App. C's clip).

    Usage is that of ``torch.optim.SGD``: ``loss.backward(); opt.step()`` (or ``opt.step(closure)``).
    A NaN/Inf loss or gradient raises :class:`olc.NonFiniteError` naming the step.
    """

    def __init__(self, params, lr: float = 0.1, meta_lr: float = 0.01, *, w0: float = 1.0, rule: str = "momentum",
                 w_min: float | None = None, projection: str = "lazy"):
        super().__init__(params, lr, meta_lr, w0=w0, rule=rule, w_min=w_min, projection=projection)


class OptimisticMetaGradientSGD(_MetaLR):
    """Optimistic meta-gradients for per-parameter learning rates — ``optimistic-meta-gradients`` Alg. 4 / eq. (10) with
    AO-FTRL as the meta-learner (non-averaged, as for networks), the "optimistic meta-learning" arm of Fig. 1. The
    PyTorch face of ``olc.learners.OptimisticMetaGradient(MetaMomentumRule(lr), meta_lr, hint=hint, averaging=False)``.

    ``hint="current"`` (default) is App. C's prediction "the previous gradient ``∇f(x_{t+1})``":
    ``g̃_{t+1} = Dφ(x_t, w_t)ᵀ ∇f(x_t) = -lr ∇f(x_t) ⊙ ∇f(x_t)`` (Cor. 2 with ``ỹ_{t+1} = ∇f(x_t)``); with the greedy
    projection this is App. C's update
    ``w_{t+1} = max{w_t - β(∇f(x_{t+1})⊙(∇f(x_{t+1}) + ∇f(x_t)) - ∇f(x_t)⊙∇f(x_t)), 0}`` (up to the explicit ``-lr``).
    ``hint="previous"`` is Cor. 1, ``g̃_{t+1} = m_t``. Other arguments as :class:`MetaGradientSGD`.

    Parameters
    ----------
    params, lr, meta_lr, w0, rule, w_min, projection
        As in :class:`MetaGradientSGD`.
    hint : {"current", "previous"}
    """

    _hinted = True

    def __init__(self, params, lr: float = 0.1, meta_lr: float = 0.01, *, hint: str = "current", w0: float = 1.0,
                 rule: str = "momentum", w_min: float | None = None, projection: str = "lazy"):
        super().__init__(params, lr, meta_lr, w0=w0, rule=rule, w_min=w_min, projection=projection, hint=hint)

    def _check_extra(self, grp):
        grp["hint"] = check_choice(grp["hint"], "hint", ("current", "previous"))

    def _hint(self, grp, st, m, g, extra):
        if grp["hint"] == "previous":
            return m
        return _vjp(grp["rule"], grp["lr"], st["w"], g, g)  # Dφ(x_t, w_t)ᵀ ∇f(x_t)


class BMGSGD(_MetaLR):
    """Bootstrapped meta-gradients for per-parameter learning rates — ``optimistic-meta-gradients``
    Alg. 3 / Alg. 5, eq. (14)–(15), realised as AO-FTRL with the target-induced hints of eq. (16)
    (Thm. 5); the PyTorch face of ``olc.learners.BMG(MetaMomentumRule(lr), meta_lr,
    bootstrap_target(f, rule, target_lr))`` (``error_corrected=True``: ``ErrorCorrectedBMG``, Cor. 3).

    The bootstrapped target (App. E): ``z_t = x' - target_lr · ∇f(x')`` with ``x' = x_t + φ(x_t, w_t)`` — one more
    rule step, then a gradient step — so each step evaluates the closure once more at ``x'`` (and once more at ``z_t``
    with ``mu="loss"``). The matching loss ``d_t(w) = B^μ_{z_t}(x_{t-1} + φ(x_{t-1}, w))`` uses ``μ = ½‖·‖²``
    (``mu="l2"``, default; ``∇μ(x_t) - ∇μ(z_t) = x_t - z_t``) or ``μ = f`` (``mu="loss"``; ``∇f(x_t) - ∇f(z_t)``).
    ``target_lr`` defaults to the group's ``lr``. ``step`` needs the closure; it leaves ``.grad`` as the closure set
    it at ``x_t``. Other arguments as :class:`MetaGradientSGD`.

    Parameters
    ----------
    params, lr, meta_lr, w0, rule, w_min, projection
        As in :class:`MetaGradientSGD`.
    target_lr : float, optional
    mu : {"l2", "loss"}
    error_corrected : bool
    """

    _hinted = True

    def __init__(self, params, lr: float = 0.1, meta_lr: float = 0.01, *, target_lr: float | None = None,
                 mu: str = "l2", error_corrected: bool = False, w0: float = 1.0, rule: str = "momentum",
                 w_min: float | None = None, projection: str = "lazy"):
        super().__init__(params, lr, meta_lr, w0=w0, rule=rule, w_min=w_min, projection=projection,
                         target_lr=target_lr, mu=mu, error_corrected=error_corrected)

    def _check_extra(self, grp):
        if grp["target_lr"] is not None:
            grp["target_lr"] = positive(grp["target_lr"], "target_lr")
        grp["mu"] = check_choice(grp["mu"], "mu", ("l2", "loss"))
        if not isinstance(grp["error_corrected"], bool):
            raise InvalidArgumentError(f"error_corrected: expected True or False, got {grp['error_corrected']!r}")

    def _evaluate_targets(self, closure, grads):
        who, t = type(self).__name__, self.steps_taken
        if closure is None:
            raise InvalidArgumentError(f"closure: {who}.step needs a closure that zeroes the gradients, computes "
                                       "the loss, calls backward() and returns it (the bootstrapped target costs "
                                       "one more gradient evaluation per step)")
        if t == 0:
            return [None] * len(self.param_groups)
        groups = self.param_groups
        xs = [flat_params(grp["params"]) for grp in groups]
        saved = [[None if p.grad is None else p.grad.clone() for p in grp["params"]] for grp in groups]
        out = []
        try:
            x1 = []  # x' = x_t + φ(x_t, w_t)
            for grp, x, g in zip(groups, xs, grads):
                x1.append(x + _phi(grp["rule"], grp["lr"], self._state(grp)["w"], g))
                write(grp["params"], x1[-1])
            call_closure(closure, who, t)
            zs = []
            for grp, x_1 in zip(groups, x1):
                g1 = flat_grads(grp["params"])
                check_finite(g1, "gradient at the bootstrap point x'", who, t)
                tlr = grp["lr"] if grp["target_lr"] is None else grp["target_lr"]
                zs.append(x_1 - tlr * g1)  # z_t
            if any(grp["mu"] == "loss" for grp in groups):
                for grp, z in zip(groups, zs):
                    write(grp["params"], z)
                call_closure(closure, who, t)
            for grp, x, z, g in zip(groups, xs, zs, grads):
                if grp["mu"] == "l2":
                    out.append(x - z)  # ∇μ(x_t) - ∇μ(z_t)
                else:
                    gz = flat_grads(grp["params"])
                    check_finite(gz, "gradient at the target z_t", who, t)
                    out.append(g - gz)
        finally:  # put x_t and the closure's gradients at x_t back
            for grp, x, sg in zip(groups, xs, saved):
                write(grp["params"], x)
                for p, s in zip(grp["params"], sg):
                    if s is None:
                        p.grad = None
                    elif p.grad is not None:
                        p.grad.copy_(s)
                    else:
                        p.grad = s
        return out

    def _hint(self, grp, st, m, g, extra):
        # ∇d_t(w_t) = Dφ(x_{t-1}, w_t)ᵀ(∇μ(x_t) - ∇μ(z_t))  (eq. (15))
        d = _vjp(grp["rule"], grp["lr"], st["w"], st["prev_grad"], extra)
        if grp["error_corrected"]:
            return error_corrected_hint(d, m)
        return bmg_hint(d, m, st["hint"])
