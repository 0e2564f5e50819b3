"""Meta-optimization (``nonconvex-meta-optimization`` Alg. 7) as a ``torch.optim.Optimizer``.

:class:`MetaOptOptimizer` is the PyTorch face of :class:`olc.learners.MetaOpt`: same update,
same window alignment (see :mod:`olc.learners.metaopt` and ``docs/metaopt.md``), with the
parameters of all tensors of the (single) parameter group flattened into one vector ``x``::

    opt = MetaOptOptimizer(model.parameters(), lr=0.1, H=8, L=2)
    for xb, yb in batches:
        def closure():
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            return loss
        opt.step(closure)

Step ``t`` (0-based, per episode): evaluate ``g_t`` by the closure; if ``t >= H+L−1`` and not
frozen, run the rollout of Alg. 4 from ``x_{t−L}`` on the stored gradients
``g_{t−L−H+1..t−1}``, differentiate it with respect to ``M`` by the adjoint recursion
``λ_s = (1−δ)λ_{s+1} − η∇²f(x_s)λ_{s+1}`` and take one Adam step on ``M`` (``meta_lr``,
``betas``; App. E.1 uses lr ``1e-4``); then play
``x_{t+1} = (1−δ)x_t − ηg_t − Σ_h M^{(h)} g_{t+1−h}``.

**Deviations** (documented, tested): the closure is a black box that calls ``backward``, so

* the rollout's loss functions ``f_{t−L}..f_t`` are all the *current* closure (exact in the
  deterministic / fixed-batch setting, the one the paper trains ``M`` in; the authors' code
  has the same switch, ``freeze_cost_fn_during_rollouts``); in the stochastic setting the paper
  freezes ``M`` (:meth:`freeze`) and no rollout is run;
* Hessian-vector products are central differences of closure gradients,
  ``(∇f(x+εv) − ∇f(x−εv)) / 2ε`` with ``ε = ε_mach^{1/3}(1+‖x‖)/‖v‖`` (``L−1`` per meta-step).

A meta-step costs ``L+1`` closure calls plus ``2(L−1)`` for the HVPs. State (``state_dict``
round-trips): gradient buffer ``(H+L, n)``, parameter buffer ``(L, n)``, ``M`` and its Adam
moments — about ``(H+2L)·n`` floats for scalar ``M``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._validate import check_choice, in_range, positive, positive_int
from ..errors import InvalidArgumentError, NonFiniteError

__all__ = ["MetaOptOptimizer"]

_KINDS = ("scalar", "diagonal", "full")


class MetaOptOptimizer(torch.optim.Optimizer):
    """Alg. 7 of ``nonconvex-meta-optimization`` as a torch optimizer (see the module docstring).

    Parameters
    ----------
    params : iterable of tensors (one parameter group; at least one tensor).
    lr : float — base learning rate ``η``.
    H, L : int >= 1 — window and rollout length (paper: 32 and 2).
    M : ``"scalar"`` (default, App. E.1), ``"diagonal"`` or ``"full"`` (``n×n`` per lag: small models only).
    weight_decay : float in [0, 1] — ``δ``.
    meta_lr, betas, eps : Adam on ``M``.
    frozen : bool — deploy a learned ``M`` without meta-updates (Sec. 5, stochastic setting).
    warmup : ``"paper"`` (meta-steps from ``t >= H+L−1``) or ``"early"`` (``t >= L``).
    """

    def __init__(self, params, lr: float = 0.1, H: int = 8, L: int = 2, *, M: str = "scalar",
                 weight_decay: float = 0.0, meta_lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 frozen: bool = False, warmup: str = "paper"):
        params = list(params)
        if not params:
            raise InvalidArgumentError("params: the model has no parameters; nothing to optimize")
        if isinstance(params[0], dict):
            if len(params) != 1:
                raise InvalidArgumentError(f"params: MetaOptOptimizer supports one parameter group, got {len(params)}")
            if not list(params[0].get("params", [])):
                raise InvalidArgumentError("params: the parameter group is empty; nothing to optimize")
        b1, b2 = betas
        defaults = {"lr": positive(lr, "lr"), "H": positive_int(H, "H"), "L": positive_int(L, "L"),
                    "M": check_choice(M, "M", _KINDS), "weight_decay": in_range(weight_decay, "weight_decay", 0.0, 1.0),
                    "meta_lr": positive(meta_lr, "meta_lr"),
                    "betas": (in_range(b1, "betas[0]", 0.0, 1.0, hi_open=True),
                              in_range(b2, "betas[1]", 0.0, 1.0, hi_open=True)),
                    "eps": positive(eps, "eps"), "frozen": bool(frozen),
                    "warmup": check_choice(warmup, "warmup", ("paper", "early"))}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise InvalidArgumentError("params: MetaOptOptimizer supports one parameter group")

    # ------------------------------------------------------------------ flat views
    @property
    def _group(self):
        return self.param_groups[0]

    def _params(self):
        return self._group["params"]

    def _flat(self, grads: bool = False) -> torch.Tensor:
        out = []
        for p in self._params():
            t = p.grad if grads else p
            if t is None:
                out.append(torch.zeros(p.numel(), dtype=p.dtype, device=p.device))
            else:
                out.append(t.detach().reshape(-1))
        return torch.cat(out)

    def _write(self, x: torch.Tensor) -> None:
        i = 0
        with torch.no_grad():
            for p in self._params():
                k = p.numel()
                p.copy_(x[i:i + k].view_as(p))
                i += k

    @property
    def _st(self) -> dict:
        """The optimizer's global state lives on the first parameter (so ``state_dict`` saves it)."""
        return self.state[self._params()[0]]

    def _init_state(self, x):
        g = self._group
        n = x.numel()
        shape = {"scalar": (g["H"],), "diagonal": (g["H"], n), "full": (g["H"], n, n)}[g["M"]]
        st = self._st
        st["M"] = torch.zeros(shape, dtype=x.dtype, device=x.device)
        st["exp_avg"] = torch.zeros_like(st["M"])
        st["exp_avg_sq"] = torch.zeros_like(st["M"])
        st["grads"] = torch.zeros((g["H"] + g["L"], n), dtype=x.dtype, device=x.device)
        st["params"] = torch.zeros((g["L"], n), dtype=x.dtype, device=x.device)
        st["t"] = 0
        st["meta_steps"] = 0
        st["episode"] = 0
        st["meta_value"] = float("nan")

    # ------------------------------------------------------------------ public helpers
    @property
    def M(self) -> torch.Tensor:
        """The current meta-parameters (zeros before the first step)."""
        if "M" not in self._st:
            self._init_state(self._flat())
        return self._st["M"]

    def set_M(self, M) -> None:
        """Set ``M`` (e.g. one learned by :class:`olc.learners.MetaOpt` or another run)."""
        cur = self.M
        M = torch.as_tensor(np.asarray(M) if not torch.is_tensor(M) else M, dtype=cur.dtype, device=cur.device)
        if M.shape != cur.shape:
            raise InvalidArgumentError(f"M: expected shape {tuple(cur.shape)}, got {tuple(M.shape)}")
        if not bool(torch.isfinite(M).all()):
            raise NonFiniteError("M: contains NaN or Inf")
        cur.copy_(M)

    def freeze(self, frozen: bool = True) -> MetaOptOptimizer:
        """Stop (or resume) meta-updates: deploy the learned ``M`` (Sec. 5). Returns ``self``."""
        self._group["frozen"] = bool(frozen)
        return self

    def reset_episode(self) -> None:
        """Start a new episode: clear the gradient / parameter buffers, keep ``M`` and its Adam state.
        (Re-initialise the model's parameters yourself, e.g. ``model.load_state_dict(init)``.)"""
        st = self._st
        if "grads" in st:
            st["grads"].zero_()
            st["params"].zero_()
            st["t"] = 0
            st["episode"] += 1

    def state_floats(self) -> int:
        """Floats held in the optimizer state (measured; ≈ ``(H+2L)·n`` for scalar ``M``)."""
        return int(sum(v.numel() for v in self._st.values() if torch.is_tensor(v)))

    # ------------------------------------------------------------------ closure evaluations
    def _eval(self, closure, x=None):
        if x is not None:
            self._write(x)
        with torch.enable_grad():
            loss = closure()
        if loss is None:
            raise InvalidArgumentError("closure: must return the loss (a scalar tensor)")
        value = float(loss.detach() if torch.is_tensor(loss) else loss)
        if not math.isfinite(value):
            raise NonFiniteError(f"MetaOptOptimizer: non-finite loss {value} at step {self._st.get('t', 0)}")
        g = self._flat(grads=True).clone()
        if not bool(torch.isfinite(g).all()):
            raise NonFiniteError(f"MetaOptOptimizer: non-finite gradient at step {self._st.get('t', 0)}")
        return value, g, loss

    def _hvp(self, closure, x, v):
        nv = float(v.norm())
        if nv == 0.0:
            return torch.zeros_like(v)
        eps = (torch.finfo(x.dtype).eps ** (1.0 / 3.0)) * (1.0 + float(x.norm())) / nv
        _, gp, _ = self._eval(closure, x + eps * v)
        _, gm, _ = self._eval(closure, x - eps * v)
        return (gp - gm) / (2.0 * eps)

    @staticmethod
    def _control(M, G):
        """``−Σ_h M^{(h)} G[-h]`` (``G`` oldest first, ``G[-1]`` the current gradient)."""
        H = M.shape[0]
        u = torch.zeros_like(G[-1])
        for h in range(1, H + 1):
            Mh, g = M[h - 1], G[-h]
            u -= Mh * g if Mh.ndim <= 1 else Mh @ g
        return u

    def _meta_step(self, closure):
        """Alg. 4 on the window + adjoint gradient w.r.t. M + one Adam step (Alg. 7)."""
        g, st = self._group, self._st
        eta, d, L = g["lr"], g["weight_decay"], g["L"]
        M, G = st["M"], st["grads"]  # G = g_{t−H−L} .. g_{t−1}
        off = G.shape[0] - L
        xs = [st["params"][0].clone()]  # x_{t−L}
        for s in range(L):
            _, gs, _ = self._eval(closure, xs[s])
            u = self._control(M, G[: off + s + 1])
            xs.append((1.0 - d) * xs[s] - eta * gs + u)
            if not bool(torch.isfinite(xs[-1]).all()):
                raise NonFiniteError(f"MetaOptOptimizer: the rollout diverged at step {st['t']}")
        value, lam, _ = self._eval(closure, xs[L])
        dM = torch.zeros_like(M)
        for s in range(L - 1, -1, -1):
            for h in range(1, M.shape[0] + 1):  # u_s = −Σ_h M^{(h)} G[off+s−h+1]
                j = off + s - h + 1
                if j < 0:
                    continue
                if M.ndim == 1:
                    dM[h - 1] -= lam @ G[j]
                elif M.ndim == 2:
                    dM[h - 1] -= lam * G[j]
                else:
                    dM[h - 1] -= torch.outer(lam, G[j])
            if s > 0:
                lam = (1.0 - d) * lam - eta * self._hvp(closure, xs[s], lam)
        b1, b2 = g["betas"]
        k = st["meta_steps"] + 1
        st["exp_avg"].mul_(b1).add_(dM, alpha=1 - b1)
        st["exp_avg_sq"].mul_(b2).addcmul_(dM, dM, value=1 - b2)
        mhat = st["exp_avg"] / (1 - b1 ** k)
        vhat = st["exp_avg_sq"] / (1 - b2 ** k)
        M.sub_(g["meta_lr"] * mhat / (vhat.sqrt() + g["eps"]))
        st["meta_steps"] = k
        st["meta_value"] = value

    # ------------------------------------------------------------------ the step
    @torch.no_grad()
    def step(self, closure=None):
        """One step of Alg. 7; ``closure`` (required) re-evaluates the model and returns the loss."""
        if closure is None:
            raise InvalidArgumentError("closure: MetaOptOptimizer.step needs a closure that zeroes the gradients, "
                                       "computes the loss, calls backward() and returns the loss")
        x = self._flat().clone()
        if "M" not in self._st:
            self._init_state(x)
        value, gt, loss = self._eval(closure)
        grp, st = self._group, self._st
        start = grp["H"] + grp["L"] - 1 if grp["warmup"] == "paper" else grp["L"]
        if not grp["frozen"] and st["t"] >= start:
            saved = [None if p.grad is None else p.grad.clone() for p in self._params()]
            self._meta_step(closure)
            for p, sg in zip(self._params(), saved):  # leave .grad as the user's closure set it
                if sg is not None:
                    p.grad.copy_(sg)
        st["grads"] = torch.cat([st["grads"][1:], gt[None]], 0)
        st["params"] = torch.cat([st["params"][1:], x[None]], 0)
        x_next = (1.0 - grp["weight_decay"]) * x - grp["lr"] * gt + self._control(st["M"], st["grads"])
        if not bool(torch.isfinite(x_next).all()):
            raise NonFiniteError(f"MetaOptOptimizer: the iterate became non-finite at step {st['t'] + 1}")
        self._write(x_next)
        st["t"] += 1
        return loss
