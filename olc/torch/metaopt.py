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

Step ``t`` (0-based, per episode): evaluate ``g_t`` by the closure; if ``t >= H+L−1`` and not frozen, run the rollout
of Alg. 4 from ``x_{t−L}`` on the stored gradients ``g_{t−L−H+1..t−1}``, differentiate it with respect to ``M`` by the
adjoint recursion ``λ_s = (1−δ)λ_{s+1} − η∇²f(x_s)λ_{s+1}`` and take one Adam step on ``M`` (``meta_lr``, ``betas``;
App. E.1 uses lr ``1e-4``); then play ``x_{t+1} = (1−δ)x_t − ηg_t − Σ_h M^{(h)} g_{t+1−h}``.

**Deviations** (documented, tested): the closure is a black box that calls ``backward``, so

* the rollout's loss functions ``f_{t−L+1}..f_t`` are all the *current* closure (exact in the deterministic /
  fixed-batch setting, the one the paper trains ``M`` in; the authors' code has the same switch,
  ``freeze_cost_fn_during_rollouts``); the rollout's first gradient ``∇f_{t−L}(x_{t−L})`` is the stored ``g_{t−L}``
  itself, as in Alg. 4. In the stochastic setting the paper freezes ``M`` (:meth:`freeze`) and no rollout is run;
* Hessian-vector products are finite differences of closure gradients: ``hvp="forward"``
  (default) ``(∇f(x+εv) − ∇f(x)) / ε`` with ``ε = ε_mach^{1/2}(1+‖x‖)/‖v‖``, reusing the rollout's
  gradient at ``x`` (one closure call per HVP); ``hvp="central"``
  ``(∇f(x+εv) − ∇f(x−εv)) / 2ε`` with ``ε = ε_mach^{1/3}(1+‖x‖)/‖v‖`` (two calls, error ``O(ε²)``).

* ``rollout="recorded"`` (opt-in) differentiates the rollout *at the played window*: the iterates ``x_{t−L+s}``,
  gradients ``g_{t−L+s}`` and ``λ_L = g_t`` are the stored ones, only the HVPs are evaluated. This is exactly Alg. 4's
  gradient when ``M`` did not change during the window (the counterfactual iterates then are the played ones) and differs
  by ``O(L·‖ΔM‖)`` otherwise (``ΔM``: the meta-updates of the last ``L`` steps — ``1e-4``-sized Adam steps in App. E.1).

Cost: an exact meta-step is ``L`` closure calls for the rollout (the first gradient is reused) plus ``L−1`` (forward)
or ``2(L−1)`` (central) for the HVPs — with ``L = 2``, three calls on top of the step's own, so at least 4× SGD's time
per step; a recorded meta-step needs only the ``L−1`` HVP calls (about 2× SGD for ``L = 2``). State (``state_dict``
round-trips bitwise), preallocated once: the gradient history ``(H+L, n)`` and the parameter history ``(L, n)`` as
ring buffers (no copies per step), ``M`` and its Adam moments — ``(H+2L)·n`` floats plus ``3·|M|``
(:meth:`state_floats`). The controls ``Σ_h M^{(h)} g`` are one matrix-vector product over the ring buffer.
"""

from __future__ import annotations

import math

import torch

from .._validate import check_alloc, check_choice, in_range, positive, positive_int, real_tensor
from ..errors import InvalidArgumentError, NonFiniteError
from ._util import call_closure, check_finite, flat_grads, group_params, views

__all__ = ["MetaOptOptimizer"]

_KINDS = ("scalar", "diagonal", "full")


class MetaOptOptimizer(torch.optim.Optimizer):
    """Alg. 7 of ``nonconvex-meta-optimization`` as a torch optimizer (see the module docstring).

    Parameters
    ----------
    params : iterable of tensors (one parameter group; at least one tensor; one device and dtype).
    lr : float — base learning rate ``η``.
    H, L : int >= 1 — window and rollout length (paper: 32 and 2).
    M : ``"scalar"`` (default, App. E.1), ``"diagonal"`` or ``"full"`` (``n×n`` per lag: small models only).
    weight_decay : float in [0, 1] — ``δ``.
    meta_lr, betas, eps : Adam on ``M``.
    frozen : bool — deploy a learned ``M`` without meta-updates (Sec. 5, stochastic setting).
    warmup : ``"paper"`` (meta-steps from ``t >= H+L−1``) or ``"early"`` (``t >= L``).
    hvp : ``"forward"`` (default, one closure call per HVP) or ``"central"`` (two, more accurate).
    rollout : ``"exact"`` (default: Alg. 4's counterfactual iterates, ``L`` closure calls) or
        ``"recorded"`` (the played window's stored iterates and gradients, no rollout calls).
    """

    def __init__(self, params, lr: float = 0.1, H: int = 8, L: int = 2, *, M: str = "scalar",
                 weight_decay: float = 0.0, meta_lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 frozen: bool = False, warmup: str = "paper", hvp: str = "forward", rollout: str = "exact"):
        params = list(params)
        if not params:
            raise InvalidArgumentError("params: the model has no parameters; nothing to optimize")
        if isinstance(params[0], dict):
            if len(params) != 1:
                raise InvalidArgumentError(f"params: MetaOptOptimizer supports one parameter group, got {len(params)}")
            if not list(params[0].get("params", [])):
                raise InvalidArgumentError("params: the parameter group is empty; nothing to optimize")
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"betas: expected a pair (beta1, beta2), got {betas!r}") from None
        defaults = {"lr": positive(lr, "lr"), "H": positive_int(H, "H"), "L": positive_int(L, "L"),
                    "M": check_choice(M, "M", _KINDS), "weight_decay": in_range(weight_decay, "weight_decay", 0.0, 1.0),
                    "meta_lr": positive(meta_lr, "meta_lr"),
                    "betas": (in_range(b1, "betas[0]", 0.0, 1.0, hi_open=True),
                              in_range(b2, "betas[1]", 0.0, 1.0, hi_open=True)),
                    "eps": positive(eps, "eps"), "frozen": bool(frozen),
                    "warmup": check_choice(warmup, "warmup", ("paper", "early")),
                    "hvp": check_choice(hvp, "hvp", ("forward", "central")),
                    "rollout": check_choice(rollout, "rollout", ("exact", "recorded"))}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise InvalidArgumentError("params: MetaOptOptimizer supports one parameter group")
        self._group["params"] = group_params(self._group["params"], "MetaOptOptimizer")
        self._index_cache: dict = {}

    # ------------------------------------------------------------------ flat views
    @property
    def _group(self):
        return self.param_groups[0]

    def _params(self):
        return self._group["params"]

    def _flat(self, out=None) -> torch.Tensor:
        parts = [p.detach().reshape(-1) for p in self._params()]
        return torch.cat(parts) if out is None else torch.cat(parts, out=out)

    def _write(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            torch._foreach_copy_(self._params(), views(x, self._params()))

    @property
    def _st(self) -> dict:
        """The optimizer's global state lives on the first parameter (so ``state_dict`` saves it)."""
        return self.state[self._params()[0]]

    def _init_state(self, x):
        g = self._group
        n = x.numel()
        shape = {"scalar": (g["H"],), "diagonal": (g["H"], n), "full": (g["H"], n, n)}[g["M"]]
        # M with its two Adam moments, the (H+L, n) gradient ring and the (L, n) parameter ring
        check_alloc(x.element_size() * (3 * math.prod(shape) + (g["H"] + 2 * g["L"]) * n),
                    f"MetaOptOptimizer(H={g['H']}, L={g['L']}, M={g['M']!r}): the state for {n} parameters",
                    "use a smaller H or L" + (" or M='diagonal'" if g["M"] == "full" else ""))
        st = self._st
        st["M"] = torch.zeros(shape, dtype=x.dtype, device=x.device)
        st["exp_avg"] = torch.zeros_like(st["M"])
        st["exp_avg_sq"] = torch.zeros_like(st["M"])
        st["grads"] = torch.zeros((g["H"] + g["L"], n), dtype=x.dtype, device=x.device)  # ring buffer
        st["params"] = torch.zeros((g["L"], n), dtype=x.dtype, device=x.device)  # ring buffer
        st["head_g"] = 0  # physical row of the oldest stored gradient
        st["head_p"] = 0  # physical row of the oldest stored parameter vector
        st["stale_params"] = 0  # steps until the parameter ring holds real iterates again (after frozen steps)
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
        """Set ``M`` (e.g. one learned by :class:`olc.learners.MetaOpt` or another run).

        Parameters
        ----------
        M : array_like or torch.Tensor
        """
        cur = self.M
        M = real_tensor(M, "M").to(dtype=cur.dtype, device=cur.device)
        if M.shape != cur.shape:
            raise InvalidArgumentError(f"M: expected shape {tuple(cur.shape)}, got {tuple(M.shape)}")
        if not bool(torch.isfinite(M).all()):
            raise NonFiniteError("M: contains NaN or Inf")
        cur.copy_(M)

    def freeze(self, frozen: bool = True) -> MetaOptOptimizer:
        """Stop (or resume) meta-updates: deploy the learned ``M`` (Sec. 5). Returns ``self``.

        Frozen steps update the parameters in place (one closure call, no flat copies) and do not record
        the parameter history; after unfreezing, meta-steps resume once ``L`` iterates are recorded again.

        Parameters
        ----------
        frozen : bool
        """
        self._group["frozen"] = bool(frozen)
        return self

    def reset_episode(self) -> None:
        """Start a new episode: clear the gradient / parameter buffers, keep ``M`` and its Adam state.
        (Re-initialise the model's parameters yourself, e.g. ``model.load_state_dict(init)``.)"""
        st = self._st
        if "grads" in st:
            st["grads"].zero_()
            st["params"].zero_()
            st["head_g"] = st["head_p"] = 0
            st["stale_params"] = 0
            st["t"] = 0
            st["episode"] += 1

    def state_floats(self) -> int:
        """Floats held in the optimizer state (measured; ≈ ``(H+2L)·n`` for scalar ``M``)."""
        return int(sum(v.numel() for v in self._st.values() if torch.is_tensor(v)))

    def history_bytes(self) -> int:
        """Bytes of the gradient and parameter histories (``(H+2L)·n`` elements)."""
        st = self._st
        if "grads" not in st:
            return 0
        return int(st["grads"].numel() * st["grads"].element_size() + st["params"].numel() * st["params"].element_size())

    # ------------------------------------------------------------------ ring-buffer indices
    def _rows(self, newest: int, H: int, R: int, device) -> torch.Tensor:
        """Physical rows of ``g_{τ}, g_{τ−1}, …, g_{τ−H+1}`` when ``g_τ`` sits in row ``newest``
        (the gradients multiplied by ``M^{(1)}, …, M^{(H)}``), cached per (row, device)."""
        key = (newest, H, R, str(device))
        idx = self._index_cache.get(key)
        if idx is None:
            idx = torch.tensor([(newest - h) % R for h in range(H)], dtype=torch.long, device=device)
            self._index_cache[key] = idx
        return idx

    @staticmethod
    def _control(M, G, idx):
        """``−Σ_h M^{(h)} G[idx[h−1]]`` (one matrix-vector product over the ring for scalar ``M``)."""
        if M.ndim == 1:
            c = G.new_zeros(G.shape[0])
            c[idx] = M
            return -(c @ G)
        Gi = G[idx]
        if M.ndim == 2:
            return -(M * Gi).sum(0)
        return -torch.einsum("hij,hj->i", M, Gi)

    # ------------------------------------------------------------------ closure evaluations
    def _eval(self, closure, x):
        self._write(x)
        _, value = call_closure(closure, "MetaOptOptimizer", self._st["t"])
        g = flat_grads(self._params())
        check_finite(g, "gradient", "MetaOptOptimizer", self._st["t"])
        return value, g

    def _hvp(self, closure, x, v, gx):
        """``∇²f(x) v`` by finite differences of closure gradients (``gx = ∇f(x)``, reused when forward)."""
        nv = float(v.norm())
        if nv == 0.0:
            return torch.zeros_like(v)
        if self._group["hvp"] == "forward":
            eps = (torch.finfo(x.dtype).eps ** 0.5) * (1.0 + float(x.norm())) / nv
            _, gp = self._eval(closure, x + eps * v)
            return (gp - gx) / eps
        eps = (torch.finfo(x.dtype).eps ** (1.0 / 3.0)) * (1.0 + float(x.norm())) / nv
        _, gp = self._eval(closure, x + eps * v)
        _, gm = self._eval(closure, x - eps * v)
        return (gp - gm) / (2.0 * eps)

    def _meta_step(self, closure, value_t):
        """Alg. 4 on the window + adjoint gradient w.r.t. M + one Adam step (Alg. 7).

        The gradient ring holds ``g_{t−H−L} .. g_{t−1}`` (logical rows 0..R−1 from ``head_g``; row 0 is
        never used — it already holds ``g_t``), the parameter ring ``x_{t−L} .. x_{t−1}``."""
        g, st = self._group, self._st
        eta, d, L, H = g["lr"], g["weight_decay"], g["L"], g["H"]
        M, G = st["M"], st["grads"]
        R = G.shape[0]
        hg, off = st["head_g"], R - L
        dev = G.device

        def phys(k):  # logical row k -> physical row
            return (hg + k) % R

        if g["rollout"] == "recorded":  # the played window: x_{t−L+s}, g_{t−L+s} and λ_L = g_t, all stored
            P = st["params"]
            xs = [P[(st["head_p"] + s) % L] for s in range(L)]
            gs = [G[phys(off + s)] for s in range(L)]
            value, lam = value_t, G[phys(0)].clone()
        else:
            xs = [st["params"][st["head_p"]].clone()]  # x_{t−L}
            gs = [G[phys(off)]]  # ∇f_{t−L}(x_{t−L}) = g_{t−L}, stored
            for s in range(L):
                if s > 0:
                    gs.append(self._eval(closure, xs[s])[1])
                u = self._control(M, G, self._rows(phys(off + s), H, R, dev))
                xs.append((1.0 - d) * xs[s] - eta * gs[s] + u)
                check_finite(xs[-1], "rollout iterate (the rollout diverged)", "MetaOptOptimizer", st["t"])
            value, lam = self._eval(closure, xs[L])
        dM = torch.zeros_like(M)
        for s in range(L - 1, -1, -1):  # u_s = −Σ_h M^{(h)} g_{t−L+s−h+1}
            idx = self._rows(phys(off + s), H, R, dev)
            if M.ndim == 1:
                dM -= (G @ lam)[idx]
            elif M.ndim == 2:
                dM -= lam[None, :] * G[idx]
            else:
                dM -= lam[None, :, None] * G[idx][:, None, :]
            if s > 0:
                lam = (1.0 - d) * lam - eta * self._hvp(closure, xs[s], lam, gs[s])
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
        """One step of Alg. 7.

        Parameters
        ----------
        closure : callable
            Required: re-evaluates the model and returns the loss.
        """
        if closure is None:
            raise InvalidArgumentError("closure: MetaOptOptimizer.step needs a closure that zeroes the gradients, "
                                       "computes the loss, calls backward() and returns the loss")
        if "M" not in self._st:
            self._init_state(self._flat())
        grp, st = self._group, self._st
        params = self._params()
        frozen = grp["frozen"]
        x = None if frozen else self._flat()  # the parameter history is only read by meta-steps
        loss, value = call_closure(closure, "MetaOptOptimizer", st["t"])
        G, P = st["grads"], st["params"]
        R = G.shape[0]
        row = st["head_g"]  # the oldest gradient, g_{t−H−L}, is never used again: g_t goes there
        gt = flat_grads(params, out=G[row])
        check_finite(gt, "gradient", "MetaOptOptimizer", st["t"])
        had_grad = [p.grad is not None for p in params]
        start = grp["H"] + grp["L"] - 1 if grp["warmup"] == "paper" else grp["L"]
        if not frozen and st["t"] >= start and st.get("stale_params", 0) == 0:
            self._meta_step(closure, value)
            for p, had, gv in zip(params, had_grad, views(gt, params)):  # leave .grad as the closure set it
                if not had:
                    p.grad = None
                elif p.grad is None:
                    p.grad = gv.clone()
                else:
                    p.grad.copy_(gv)
        st["head_g"] = (row + 1) % R  # push g_t
        u = self._control(st["M"], G, self._rows(row, grp["H"], R, G.device))
        if frozen:  # deploy: x ← (1−δ)x + (u − ηg) on the parameters themselves, no flat copies
            st["stale_params"] = P.shape[0]  # the parameter ring must refill before the next meta-step
            step = u.add_(gt, alpha=-grp["lr"])
            if not bool(torch.isfinite(step).all()):
                raise NonFiniteError(f"MetaOptOptimizer: the update became non-finite at step {st['t']}")
            with torch.no_grad():
                if grp["weight_decay"]:
                    torch._foreach_mul_(params, 1.0 - grp["weight_decay"])
                torch._foreach_add_(params, views(step, params))
        else:
            P[st["head_p"]].copy_(x)  # push x_t (over x_{t−L})
            st["head_p"] = (st["head_p"] + 1) % P.shape[0]
            st["stale_params"] = max(0, st.get("stale_params", 0) - 1)
            x_next = x.mul_(1.0 - grp["weight_decay"]).add_(gt, alpha=-grp["lr"]).add_(u)
            if not bool(torch.isfinite(x_next).all()):
                raise NonFiniteError(f"MetaOptOptimizer: the iterate became non-finite at step {st['t'] + 1}")
            self._write(x_next)
        st["t"] += 1
        return loss
