"""Meta-optimization as olc learners: ``nonconvex-meta-optimization`` Alg. 1, 2, 5 and 7.

Meta-optimization is GPC on the optimization LTV (App. B): the learner's decision is the
iterate ``x_t`` of an optimization game; the update it plays is gradient descent with
weight decay plus a disturbance-feedback control on past gradients,

    ``x_{t+1} = (1−δ)x_t − ηg_t − Σ_{h=1}^{H} M_t^{(h)} g_{t+1−h}``        (Alg. 1, Alg. 7 "Play")

(0-based rounds, ``g_τ = ∇f_τ(x_τ)``, ``g_τ = 0`` for ``τ < 0``), and ``M`` is learned by an
*olc online learner* on the counterfactual rollout loss of Alg. 4, computed by
:meth:`olc.systems.OptimizationSystem.rollout_grad` (no second rollout or projected-gradient
loop is written here):

* :class:`MetaOpt` — Alg. 7 (deep-learning implementation): ``M`` scalar ``(H,)``, diagonal
  ``(H, n)`` or full ``(H, n, n)``; any olc learner over arrays as meta-optimizer (default
  :class:`olc.learners.Adam`, ``lr=1e-3``; the paper uses ``1e-4``); gradient / parameter /
  loss buffers of ``H+L``, ``L`` and ``L+1`` entries; :meth:`MetaOpt.freeze` deploys a learned
  ``M`` (Sec. 5, stochastic setting).
* :class:`ConvexMetaOpt` — Alg. 1: full matrices ``M^{(h)}``, projected GD on ``M`` (olc's
  :class:`~olc.learners.OGD` over the per-lag operator-norm ball set of GPC,
  :func:`olc.systems.dfc_set`).
* :class:`BanditMetaOpt` — Alg. 5: ``M`` learned from loss values only by olc's
  :class:`~olc.learners.BCOMemory` (Alg. 6).
* :class:`NonconvexMetaOpt` — Alg. 2: ``K`` epochs of ``S`` steps of any of the above on the
  regularised sub-problems ``f + β‖x − x_k‖²`` (:class:`~olc.oracles.RegularizedOracle`),
  the next centre being the average iterate of the epoch.

**Window index alignment** (Alg. 1 line "If t ≥ H+L", Alg. 4, Alg. 7; see ``docs/metaopt.md``).
At round ``t`` (0-based; the paper's ``t+1``), after ``g_t`` is observed, the rollout is

    ``Rollout(M_t, x_start = x_{t−L}, f_{t−L}, ..., f_t, g_{t−L−H+1}, ..., g_{t−1})``

i.e. Alg. 4's local index ``s = 0..L`` is the real round ``t−L+s``: ``x_0 ↔ x_{t−L}``,
``f_s ↔ f_{t−L+s}``, ``g_s ↔ g_{t−L+s}``; step ``s`` uses ``−Σ_h M^{(h)} g_{t−L+s−h+1}`` — the
*same* gradients the played update to ``x_{t−L+s+1}`` used. Hence with ``M`` held fixed the
rollout reproduces the played trajectory exactly (``Rollout = f_t(x_t)``; tested). This is
the buffer content of Alg. 7 (``L`` parameters, ``L+1`` losses, ``H+L`` gradients appended
*after* the meta-step: ``g_{t−H−L}..g_{t−1}``; the oldest is never used, as in Alg. 4). The
index ranges printed in Alg. 1/7 (``{f_τ}_{τ=t−L−1}^{t}``, ``{g_τ}_{τ=t−H−L+1}^{t}``) are one
off from that (``L+2`` losses; gradients ending at ``g_t``) and contradict Alg. 4's own
buffer sizes; the authors' JAX code slices ``disturbance_history[h : h+H]`` in the rollout,
i.e. step ``s`` uses ``g_{τ−H}..g_{τ−1}`` instead of ``g_{τ−H+1}..g_τ`` (one step stale
compared with its own played update). We follow Alg. 4 + Alg. 7's buffers.

Meta-updates start at ``t ≥ H+L−1`` (0-based; the paper's ``t ≥ H+L``), when every gradient
in the window is a real one; ``warmup="early"`` starts at ``t ≥ L`` (zero-padded window).
Buffers restart every episode; ``M`` and the meta-optimizer's state carry over.

**Deviations.** Weight decay enters the played update as ``(1−δ)x_t`` (Alg. 1 and Alg. 4; Alg. 7's
"Play" line omits it although its rollout uses it). Alg. 5 parametrises ``M`` as ``3d×3d`` matrices
on the 3d-dimensional disturbance of eq. (3); :class:`BanditMetaOpt` keeps Alg. 1's
parametrisation (control linear in past gradients) and only replaces the meta-gradient by
Alg. 6's one-point estimate. :class:`NonconvexMetaOpt` plays the inner iterates
``x_{i,k,s}`` (the decisions charged by the game); its centres ``x_{i,k}`` are in the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .._validate import (
    as_array,
    as_rng,
    as_shape,
    check_choice,
    check_finite,
    in_range,
    is_scalar,
    nonnegative,
    positive,
    positive_int,
)
from ..errors import DivergenceError, FeedbackError, InvalidArgumentError, ShapeError
from ..game import Feedback, Learner, play
from ..optim import as_schedule
from ..oracles.base import FrozenOracle, GradientOracle
from ..oracles.synthetic import RegularizedOracle
from ..sets import Box, ConvexSet, Product, Reals
from ..systems.optimization import OptimizationSystem, dfc_control
from .bandit import BCOMemory
from .oco import OGD

__all__ = ["MetaOpt", "ConvexMetaOpt", "BanditMetaOpt", "NonconvexMetaOpt", "MetaOptState",
           "NonconvexMetaOptState", "EpisodesResult", "run_episodes", "metaopt_set", "equivalent_M",
           "rollout_window", "M_KINDS"]

M_KINDS = ("scalar", "diagonal", "full")
WARMUPS = ("paper", "early")


def _M_shape(kind: str, H: int, n: int) -> tuple[int, ...]:
    return {"scalar": (H,), "diagonal": (H, n), "full": (H, n, n)}[kind]


def _check_radius(radius, H: int):
    """``radius`` as a positive float or a positive ``(H,)`` array of per-lag radii."""
    if is_scalar(radius):
        return positive(radius, "radius")
    r = as_array(radius, "radius", shape=(H,))
    if np.any(r <= 0):
        raise InvalidArgumentError(f"radius: expected positive per-lag radii, got {r}")
    return r


def metaopt_set(kind: str, H: int, n: int, radius=1.0) -> ConvexSet:
    """The set of ``M`` used for projection / perturbation: per-lag ``‖M^{(h)}‖ <= r_h``.

    Parameters
    ----------
    kind : {"scalar", "diagonal", "full"}
        A box ``|M^{(h)}| <= r_h``; a box per lag (max-norm of a diagonal matrix = its operator norm);
        GPC's per-lag operator-norm balls (:func:`olc.systems.dfc_set`).
    H, n : int
    radius : float or array (H,)
        Per-lag radii (Alg. 5: ``κ³(1−γ)^h``).
    """
    kind = check_choice(kind, "M", M_KINDS)
    H, n = positive_int(H, "H"), positive_int(n, "n")
    r = _check_radius(radius, H)
    r = np.full(H, r) if np.ndim(r) == 0 else r
    if kind == "scalar":
        return Box(-r, r)
    if kind == "diagonal":
        return Product([Box(-float(rh), float(rh), dim=n) for rh in r])
    from ..systems.control import dfc_set

    return dfc_set(H, n, n, radius=r, norm="op")


def equivalent_M(method: str, H: int, base_lr: float, *, lr: float | None = None, momentum: float = 0.0,
                 P=None, kind: str = "scalar", n: int | None = None) -> np.ndarray:
    """A DFC parameter ``M`` under which the meta-optimizer's update is a classical method.

    With base learning rate ``η = base_lr`` (App. B, "the benchmark algorithm class"):

    * ``"gd"`` (step ``lr``): ``M^{(1)} = lr − η``, others 0;
    * ``"heavy_ball"`` (``x_{t+1} = x_t − ηg_t + μ(x_t − x_{t−1})`` with ``η = base_lr``):
      ``M^{(1)} = 0``, ``M^{(h)} = ημ^{h−1}`` — exact for the first ``H`` steps, then truncated
      (error ``O(μ^H)``);
    * ``"preconditioner"`` (``x_{t+1} = x_t − Pg_t``): ``M^{(1)} = P − ηI`` (``P`` a vector for
      diagonal ``M``, a matrix for full ``M``).

    Parameters
    ----------
    method : {"gd", "heavy_ball", "preconditioner"}
    H, base_lr, lr, momentum : int, float, float, float
    P, kind, n : array, as :func:`metaopt_set`, int
    """
    method = check_choice(method, "method", ("gd", "heavy_ball", "preconditioner"))
    kind = check_choice(kind, "kind", M_KINDS)
    H, eta = positive_int(H, "H"), positive(base_lr, "base_lr")
    if method == "preconditioner":
        P = as_array(P, "P", ndim=(1, 2))
        n = P.shape[0]
        kind = "diagonal" if P.ndim == 1 else "full"
    elif kind != "scalar" and n is None:
        raise InvalidArgumentError(f"n: give the dimension for kind={kind!r}")
    M = np.zeros(_M_shape(kind, H, n or 1))
    eye = 1.0 if kind == "scalar" else (np.ones(n) if kind == "diagonal" else np.eye(n))
    if method == "gd":
        M[0] = (positive(lr, "lr") - eta) * eye
    elif method == "heavy_ball":
        mu = in_range(momentum, "momentum", 0.0, 1.0, hi_open=True)
        for h in range(2, H + 1):
            M[h - 1] = eta * mu ** (h - 1) * eye
    else:
        M[0] = P - eta * eye
    return M


def rollout_window(t: int, L: int, H: int, xs, grads, losses) -> dict:
    """Alg. 4's arguments at (0-based) round ``t`` from full episode records (a reference helper).

    ``xs[τ] = x_τ``, ``grads[τ] = g_τ``, ``losses[τ] = f_τ``. Returns ``x_start = x_{t−L}``,
    ``losses = [f_{t−L}, ..., f_t]`` and ``disturbances = [g_{t−L−H}, ..., g_{t−1}]`` (``H+L``
    rows, Alg. 4's ``g_{−H}..g_{L−1}``, zero before the episode), so that
    ``OptimizationSystem.rollout(M, **rollout_window(...))`` is the counterfactual loss.

    Parameters
    ----------
    t, L, H : int
    xs, grads, losses : arrays
    """
    t, L, H = positive_int(t, "t", minimum=0), positive_int(L, "L"), positive_int(H, "H")
    if t < L:
        raise InvalidArgumentError(f"t: the rollout needs t >= L = {L}, got {t}")
    g = as_array(grads, "grads", ndim=2)
    n_rec = min(len(xs), g.shape[0], len(losses))
    if t >= n_rec:
        raise InvalidArgumentError(f"t: round {t} is past the records (xs: {len(xs)}, grads: {g.shape[0]}, "
                                   f"losses: {len(losses)} rounds); expected L <= t < {n_rec}")
    G = np.zeros((H + L, g.shape[1]))
    for k, tau in enumerate(range(t - L - H, t)):
        if tau >= 0:
            G[k] = g[tau]
    return {"x_start": np.asarray(xs[t - L], dtype=float).copy(), "losses": list(losses[t - L:t + 1]),
            "disturbances": G}


# --------------------------------------------------------------------------------------------- helpers
def _default_meta_optimizer(item_ndim: int, lr: float = 1e-3):
    """``olc.learners.Adam(lr)`` when available, else OGD over the reals (same role)."""
    from .. import learners

    Adam = getattr(learners, "Adam", None)
    if Adam is not None:
        return Adam(lr=lr)
    return OGD(Reals(item_ndim=item_ndim), lr=lr)


def _loss_of(feedback: Feedback, who: str) -> GradientOracle:
    """The round's loss function ``f_t`` as an oracle (needed to re-evaluate it in the rollout)."""
    f = feedback.loss
    if isinstance(f, GradientOracle):
        return f
    if isinstance(f, tuple) and len(f) == 2 and isinstance(f[0], GradientOracle):
        return f[0] if f[1] is None else FrozenOracle(f[0], f[1])
    info = feedback.info or {}
    if isinstance(info.get("oracle"), GradientOracle):
        o, b = info["oracle"], info.get("batch")
        return o if b is None else FrozenOracle(o, b)
    raise FeedbackError(f"{who}: the rollout of Alg. 4 re-evaluates the round's loss function; round "
                        f"{feedback.t} revealed no GradientOracle (feedback.loss = {type(f).__name__}). Play it in "
                        "olc.games.optimization or use run_episodes")


class MetaOptState(NamedTuple):
    """State of :class:`MetaOpt` (explicit data; buffers follow Alg. 7).

    Attributes
    ----------
    x, t, grads, params, losses, M, inner, frozen, episode, x0, meta_value, meta_steps
    """

    x: np.ndarray        # x_t, the iterate played this round
    t: int               # round within the episode (0-based)
    grads: np.ndarray    # (H+L, n): g_{t−H−L} .. g_{t−1} before update(t) (zeros before the episode)
    params: np.ndarray   # (L, n): x_{t−L} .. x_{t−1}
    losses: tuple        # the last L+1 loss functions (None before the episode)
    M: np.ndarray        # M_t, used to play x_t (perturbed M̃_t for the bandit version)
    inner: Any           # the meta-optimizer's state
    frozen: bool
    episode: int
    x0: np.ndarray
    meta_value: float    # last rollout value f_L(x_L) (nan before the first meta-step)
    meta_steps: int      # number of meta-updates so far


# --------------------------------------------------------------------------------------------- Alg. 7
class MetaOpt(Learner):
    """Meta-optimization, deep-learning implementation — Alg. 7 of ``nonconvex-meta-optimization``.

    Parameters
    ----------
    H : int >= 1 — window (number of past gradients in the control).
    L : int >= 1 — rollout length of Alg. 4.
    M : ``"scalar"`` (Alg. 7 / App. E.1), ``"diagonal"`` or ``"full"`` (Alg. 1).
    base_lr : float > 0 — ``η``.
    weight_decay : float in [0, 1] — ``δ``.
    meta_optimizer : an olc learner over arrays (``init/decide/update`` with gradient feedback),
        or a callable ``M_shape -> learner``. Default ``olc.learners.Adam(lr=1e-3)`` (paper: Adam,
        lr ``1e-4``, betas (0.9, 0.999)).
    warmup : ``"paper"`` (meta-steps from ``t >= H+L−1``, 0-based) or ``"early"`` (``t >= L``).
    M0 : optional initial ``M`` (default 0, as Alg. 1/7).
    frozen : bool — never update ``M``.
    rollout_oracle : optional :class:`~olc.oracles.GradientOracle` used as every loss function of
        the rollout (the deterministic setting, or the JAX code's ``freeze_cost_fn_during_rollouts``).
        Without it the learner needs ``"full"`` feedback carrying ``f_t`` (``feedback.loss``: an
        oracle or ``(oracle, batch)``); with it (or when frozen) ``"gradient"`` feedback suffices.

    Use in an optimization game (decision = iterate; the game passes ``x0``)::

        trace = olc.play(MetaOpt(H=8, L=2), olc.games.optimization(oracle, T, x0))

    or over episodes with :meth:`run_episodes`. The round's loss function ``f_t`` (needed by
    the rollout) comes from ``feedback.loss`` (an oracle or ``(oracle, batch)``). See the module
    docstring for the exact window alignment.
    """

    feedback = "full"

    def __init__(self, H: int = 8, L: int = 2, M: str = "scalar", base_lr: float = 0.1, weight_decay: float = 0.0,
                 meta_optimizer=None, *, warmup: str = "paper", M0=None, frozen: bool = False,
                 rollout_oracle: GradientOracle | None = None):
        if rollout_oracle is not None and not isinstance(rollout_oracle, GradientOracle):
            raise InvalidArgumentError(f"rollout_oracle: expected a GradientOracle, got {type(rollout_oracle).__name__}")
        self.rollout_oracle = rollout_oracle
        self.H = positive_int(H, "H")
        self.L = positive_int(L, "L")
        self.kind = check_choice(M, "M", M_KINDS)
        self.base_lr = positive(base_lr, "base_lr")
        self.weight_decay = in_range(weight_decay, "weight_decay", 0.0, 1.0)
        if meta_optimizer is not None and not (callable(meta_optimizer) or hasattr(meta_optimizer, "update")):
            raise InvalidArgumentError(f"meta_optimizer: expected an olc learner or a factory, got {meta_optimizer!r}")
        if meta_optimizer is not None and hasattr(meta_optimizer, "feedback") and \
                meta_optimizer.feedback not in ("gradient", "full") and not isinstance(self, BanditMetaOpt):
            raise InvalidArgumentError("meta_optimizer: needs a gradient learner (use BanditMetaOpt for BCO)")
        self.meta_optimizer = meta_optimizer
        self.warmup = check_choice(warmup, "warmup", WARMUPS)
        self.M0 = None if M0 is None else as_array(M0, "M0", ndim=(1, 2, 3), copy=True)
        self.frozen = bool(frozen)
        if not isinstance(self, BanditMetaOpt):
            self.feedback = "gradient" if (self.frozen or rollout_oracle is not None) else "full"

    _attr_of = {"M": "kind"}  # for the repr: the constructor's M is stored as self.kind

    # ------------------------------------------------------------------ pieces
    @property
    def start(self) -> int:
        """First (0-based) round with a meta-update."""
        return self.H + self.L - 1 if self.warmup == "paper" else self.L

    def M_shape(self, n: int) -> tuple[int, ...]:
        """The shape of ``M`` for iterates in ``R^n``.

        Parameters
        ----------
        n : int
        """
        return _M_shape(self.kind, self.H, n)

    def _meta(self, n: int, horizon=None):
        opt = self.meta_optimizer
        if opt is None:
            return _default_meta_optimizer(len(self.M_shape(n)))
        if hasattr(opt, "update") and hasattr(opt, "init"):
            return opt
        return opt(self.M_shape(n))

    def _check_M0(self, n):
        if self.M0 is not None and self.M0.shape != self.M_shape(n):
            raise ShapeError(f"M0: expected shape {self.M_shape(n)} for M={self.kind!r}, H={self.H}, n={n}; "
                             f"got {self.M0.shape}")

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        shape = as_shape(shape)
        if len(shape) != 1:
            raise ShapeError(f"shape: {type(self).__name__} plays iterates x of shape (n,), got {shape}")
        n = shape[0]
        self._check_M0(n)
        x0 = np.zeros(n) if x0 is None else as_array(x0, "x0", shape=(n,), copy=True)
        meta = self._meta(n, horizon)
        rng = as_rng(rng)
        M = np.zeros(self.M_shape(n)) if self.M0 is None else self.M0.copy()
        inner = meta.init(self.M_shape(n), rng, horizon=horizon, x0=M.copy())  # Alg. 1/7: M_{1,1} = 0 (or M0)
        return MetaOptState(x0, 0, np.zeros((self.H + self.L, n)), np.zeros((self.L, n)), (None,) * (self.L + 1),
                            M, inner, self.frozen, 0, x0.copy(), float("nan"), 0)

    def new_episode(self, state: MetaOptState, x0=None) -> MetaOptState:
        """Re-initialise the iterate (Alg. 1/7 "Re-initialize iterate to x_{i,1}"); keep ``M`` and the
        meta-optimizer state; clear the buffers.

        Parameters
        ----------
        state, x0 : MetaOptState and array
        """
        n = state.x.shape[0]
        x0 = state.x0 if x0 is None else as_array(x0, "x0", shape=(n,), copy=True)
        return state._replace(x=x0.copy(), t=0, grads=np.zeros_like(state.grads), params=np.zeros_like(state.params),
                              losses=(None,) * (self.L + 1), episode=state.episode + 1, x0=x0.copy())

    def current_M(self, state: MetaOptState) -> np.ndarray:
        """The meta-parameters the next round will play (the meta-optimizer's current point).

        Parameters
        ----------
        state : MetaOptState
        """
        if not state.frozen and hasattr(state.inner, "x"):
            return np.asarray(state.inner.x, dtype=float).copy()
        return state.M.copy()

    def freeze(self, state_or_M) -> MetaOpt:
        """A frozen copy of this learner playing the learned ``M`` (Sec. 5: deploy in the stochastic setting).

        Parameters
        ----------
        state_or_M : MetaOptState or array
        """
        M = self.current_M(state_or_M) if isinstance(state_or_M, tuple) else as_array(state_or_M, "M", ndim=(1, 2, 3))
        return MetaOpt(self.H, self.L, self.kind, self.base_lr, self.weight_decay, self.meta_optimizer,
                       warmup=self.warmup, M0=M, frozen=True, rollout_oracle=self.rollout_oracle)

    # ------------------------------------------------------------------ protocol
    def _decide_M(self, state, rng):
        if state.frozen:
            return state.M, state.inner
        meta = self._meta(state.x.shape[0])
        M, inner = meta.decide(state.inner, None, rng)
        return as_array(M, "meta_optimizer decision", shape=state.M.shape), inner

    def decide(self, state: MetaOptState, obs=None, rng=None):
        M, inner = self._decide_M(state, rng)
        if state.t == 0:
            x = state.x
        else:  # Alg. 1 / Alg. 7 "Play": x_t = (1−δ)x_{t−1} − ηg_{t−1} − Σ_h M_t^{(h)} g_{t−h}
            x = ((1.0 - self.weight_decay) * state.params[-1] - self.base_lr * state.grads[-1]
                 + dfc_control(M, state.grads))
        return x, state._replace(x=x, M=M, inner=inner)

    def _observe(self, state, feedback):
        n = state.x.shape[0]
        if feedback.grad is None:
            raise FeedbackError(f"{type(self).__name__}: round {feedback.t} carries no gradient")
        g = as_array(feedback.grad, f"{type(self).__name__}: gradient of round {feedback.t}", shape=(n,))
        check_finite(float(feedback.value), f"{type(self).__name__}: loss value of round {feedback.t}")
        return g

    def _push(self, state, g, losses, **changes):
        grads = np.concatenate([state.grads[1:], g[None]], axis=0)
        params = np.concatenate([state.params[1:], state.x[None]], axis=0)
        return state._replace(grads=grads, params=params, losses=losses, t=state.t + 1, **changes)

    def meta_gradient(self, state: MetaOptState, losses) -> tuple[float, np.ndarray]:
        """``(Rollout(M_t, ...), ∇_M Rollout)`` on the window of round ``state.t`` (Alg. 4 + adjoint).

        Parameters
        ----------
        state, losses : MetaOptState and the window's loss functions
        """
        system = OptimizationSystem(losses[-1], self.base_lr, self.weight_decay)
        return system.rollout_grad(state.params[0], state.M, list(losses), disturbances=state.grads)

    def update(self, state: MetaOptState, feedback: Feedback):
        return self._update(state, feedback)

    def _update(self, state: MetaOptState, feedback: Feedback, meta_step: bool = True):
        """:meth:`update`; ``meta_step=False`` records the round without a meta-step (used by
        :class:`NonconvexMetaOpt` while a rollout window would cross an epoch's jump)."""
        g = self._observe(state, feedback)
        if state.frozen:
            return self._push(state, g, state.losses)
        f = (self.rollout_oracle if self.rollout_oracle is not None and feedback.loss is None
             else _loss_of(feedback, type(self).__name__))
        losses = (*state.losses[1:], f)
        changes = {}
        if meta_step and state.t >= self.start:
            value, dM = self.meta_gradient(state, losses)
            meta = self._meta(state.x.shape[0])
            inner = meta.update(state.inner, Feedback(state.meta_steps, "gradient", value, dM))
            changes = {"inner": inner, "meta_value": value, "meta_steps": state.meta_steps + 1}
        return self._push(state, g, losses, **changes)

    def run_episodes(self, problems, N: int, T: int, x0=None, seed=0, state=None):
        """``N`` episodes of ``T`` steps.

        Parameters
        ----------
        problems, N, T, x0, seed, state
            As :func:`run_episodes`.
        """
        return run_episodes(self, problems, N, T, x0, seed, state=state)

    def state_floats(self, state: MetaOptState) -> dict:
        """Floats held by the optimizer state (buffers, ``M``, meta-optimizer), cf. ``(H+2L)·n``.

        Parameters
        ----------
        state : MetaOptState
        """
        def floats(v):  # arrays in the (nested) meta-optimizer state, e.g. an Adam chain's x, m, v
            return v.size if isinstance(v, np.ndarray) else sum(map(floats, v)) if isinstance(v, tuple) else 0

        inner = floats(state.inner)
        return {"grads": state.grads.size, "params": state.params.size, "M": state.M.size, "meta_optimizer": inner,
                "total": state.grads.size + state.params.size + state.M.size + inner}


# --------------------------------------------------------------------------------------------- Alg. 1
class ConvexMetaOpt(MetaOpt):
    """Convex meta-optimization — Alg. 1 of ``nonconvex-meta-optimization`` (Chen & Hazan 2023).

    Full matrices ``M^{(h)} ∈ R^{n×n}`` (``M="full"``; ``"scalar"``/``"diagonal"`` allowed), ``M_1 = 0``,
    and ``M_{t+1} = Π_𝓜(M_t − η_g ∇c(M_t))`` with ``c`` the rollout loss — olc's
    :class:`~olc.learners.OGD` (``lr=meta_lr``, constant or a schedule) over the per-lag ball set
    ``‖M^{(h)}‖ <= r_h`` (:func:`metaopt_set`; ``radius`` a number or per-lag radii, e.g.
    ``κ³(1−γ)^h``). Alg. 1 prints no projection; the set keeps ``M`` bounded as its analysis
    assumes (Alg. 5's ``𝓜``).

    Parameters
    ----------
    H, L, base_lr, weight_decay, M, warmup, M0, frozen, rollout_oracle
        As in :class:`MetaOpt`.
    meta_lr, radius : float or schedule, float or array (H,)
    """

    def __init__(self, H: int = 8, L: int = 2, base_lr: float = 0.1, weight_decay: float = 0.0,
                 meta_lr=1e-3, radius=1.0, *, M: str = "full", warmup: str = "paper", M0=None, frozen=False,
                 rollout_oracle=None):
        self.meta_lr = meta_lr if callable(meta_lr) else positive(meta_lr, "meta_lr")
        super().__init__(H, L, M, base_lr, weight_decay, None, warmup=warmup, M0=M0, frozen=frozen,
                         rollout_oracle=rollout_oracle)
        self.radius = _check_radius(radius, self.H)
        self.meta_optimizer = self._ogd

    def _ogd(self, shape):
        n = 1 if len(shape) == 1 else shape[1]
        return OGD(metaopt_set(self.kind, self.H, n, self.radius), lr=self.meta_lr)

    def freeze(self, state_or_M):
        """A frozen copy playing the learned ``M`` (:meth:`MetaOpt.freeze`).

        Parameters
        ----------
        state_or_M : state or array
        """
        M = self.current_M(state_or_M) if isinstance(state_or_M, tuple) else state_or_M
        return ConvexMetaOpt(self.H, self.L, self.base_lr, self.weight_decay, self.meta_lr, self.radius, M=self.kind,
                             warmup=self.warmup, M0=M, frozen=True, rollout_oracle=self.rollout_oracle)


# --------------------------------------------------------------------------------------------- Alg. 5
class BanditMetaOpt(MetaOpt):
    """Bandit meta-optimization — Alg. 5 of ``nonconvex-meta-optimization`` (after Gradu et al. 2020).

    The played update is Alg. 1's (``x_{t+1} = (1−δ)x_t − ηg_t − Σ_h M̃_t^{(h)} g_{t+1−h}``), with
    ``M̃_t = M_t + δ_M ε_t`` the perturbed parameters; ``M`` is learned by olc's
    :class:`~olc.learners.BCOMemory` (Alg. 6) with memory ``L`` from the loss values
    ``f_t(x_t)`` only — no rollout, no gradient with respect to ``M``. Gradients of the
    objective are still observed: they are the disturbances (eq. (3)). ``delta`` (``δ_M``) and
    ``meta_lr`` default to Thm. 4's schedules via BCOMemory (``δ_M`` needs the horizon: pass it,
    or play with a known horizon). Deviation: Alg. 5 perturbs ``3d×3d`` matrices acting on the
    full disturbance ``w`` of eq. (3); we keep Alg. 1's parametrisation (see module docstring).

    Parameters
    ----------
    H, L, M, base_lr, weight_decay, M0, frozen
        As in :class:`MetaOpt`.
    delta, meta_lr, radius : float, float or schedule, float or array (H,)
        ``δ_M``, the BCO rate and the per-lag radii of the set of ``M`` (:func:`metaopt_set`).
    """

    feedback = "gradient"

    def __init__(self, H: int = 8, L: int = 2, M: str = "scalar", base_lr: float = 0.1, weight_decay: float = 0.0,
                 delta: float | None = None, meta_lr=None, radius=1.0, *, M0=None, frozen=False):
        self.delta = None if delta is None else positive(delta, "delta")
        self.meta_lr = None if meta_lr is None else as_schedule(meta_lr, "meta_lr")
        super().__init__(H, L, M, base_lr, weight_decay, None, warmup="early", M0=M0, frozen=frozen)
        self.radius = _check_radius(radius, self.H)
        self.meta_optimizer = self._bco

    def _bco(self, shape):
        n = 1 if len(shape) == 1 else shape[1]
        return BCOMemory(metaopt_set(self.kind, self.H, n, self.radius), memory=self.L, delta=self.delta,
                         lr=self.meta_lr)

    def current_M(self, state):
        """The ``M`` the next round plays (:meth:`MetaOpt.current_M`).

        Parameters
        ----------
        state : the learner state
        """
        if state.frozen or not hasattr(state.inner, "x"):
            return state.M.copy()
        return np.asarray(state.inner.x).copy()

    def _decide_M(self, state, rng):
        if state.frozen:
            return state.M, state.inner
        meta = self._meta(state.x.shape[0])
        M, inner = meta.decide(state.inner, None, as_rng(rng) if rng is None else rng)
        return np.asarray(M), inner

    def update(self, state, feedback):
        g = self._observe(state, feedback)
        if state.frozen:
            return self._push(state, g, state.losses)
        meta = self._meta(state.x.shape[0])
        inner = meta.update(state.inner, Feedback(state.meta_steps, "bandit", float(feedback.value)))
        return self._push(state, g, state.losses, inner=inner, meta_value=float(feedback.value),
                          meta_steps=state.meta_steps + 1)

    def freeze(self, state_or_M):
        """A frozen copy playing the learned ``M`` (:meth:`MetaOpt.freeze`).

        Parameters
        ----------
        state_or_M : state or array
        """
        M = self.current_M(state_or_M) if isinstance(state_or_M, tuple) else state_or_M
        return MetaOpt(self.H, self.L, self.kind, self.base_lr, self.weight_decay, None, M0=M, frozen=True)


# --------------------------------------------------------------------------------------------- Alg. 2
class NonconvexMetaOptState(NamedTuple):
    """State of :class:`NonconvexMetaOpt`.

    Attributes
    ----------
    inner, k, s, center, total, centers
    """
    inner: Any            # the wrapped learner's state
    k: int                # epoch
    s: int                # step within the epoch (0-based)
    center: np.ndarray    # x_{i,k}
    total: np.ndarray     # Σ_s x_{i,k,s} so far in this epoch
    centers: tuple        # x_{i,1}, ..., x_{i,k} of this episode


class NonconvexMetaOpt(Learner):
    """Nonconvex stochastic meta-optimization — Alg. 2 of ``nonconvex-meta-optimization``.

    Wraps a convex meta-optimizer ``A`` (:class:`MetaOpt`, :class:`ConvexMetaOpt` or
    :class:`BanditMetaOpt`). Each episode runs epochs ``k = 1, 2, ...`` of ``S`` steps: ``A``
    plays from ``x_{i,k,1} = x_{i,k}`` and is fed the regularised objective
    ``f_{i,k}(x) = f(x) + β‖x − x_{i,k}‖²`` (value, gradient ``g + 2β(x − x_{i,k})`` and
    :class:`~olc.oracles.RegularizedOracle` loss function); after ``S`` steps
    ``x_{i,k+1} = (1/S) Σ_s x_{i,k,s}``. ``K`` is only used by :meth:`run_episodes`'s default
    ``T = K·S``; in a game, epochs continue until the horizon.

    **State across epochs** (Alg. 5: ``z_{i,k,1} = z_{i,k−1,S+1}``, ``M_{i,k,1} = M_{i,k−1,S+1}``): ``A``'s
    state — ``M``, the meta-optimizer and the gradient / parameter / loss buffers, with its round
    counter — carries over from one epoch to the next; only the iterate jumps to the new centre (the
    jump is the disturbance ``w_{i,k,S}`` of eq. (8)). So the warm-up of ``A`` (``t >= H+L−1``) counts
    rounds of the episode, not of the epoch, and ``S <= H+L−1`` still learns ``M``. A meta-step's
    rollout (Alg. 4) replays the last ``L`` played updates, which must not cross a jump: it runs once
    the epoch has played ``L`` steps (``s >= L``). ``S <= L`` leaves no such step, and a learning
    gradient meta-optimizer is refused (:class:`olc.errors.InvalidArgumentError`). Episodes restart the
    buffers (Alg. 1/7 "Re-initialize iterate"), as :meth:`MetaOpt.new_episode` does.

    Parameters
    ----------
    inner : MetaOpt, ConvexMetaOpt or BanditMetaOpt
        The convex meta-optimizer ``A``.
    S, beta, K : int, float, int
        Steps per epoch, the proximal weight ``β >= 0``, epochs per episode for :meth:`run_episodes`.
    """

    def __init__(self, inner: MetaOpt, S: int, beta: float, K: int | None = None):
        if not isinstance(inner, MetaOpt):
            raise InvalidArgumentError(f"inner: expected MetaOpt, ConvexMetaOpt or BanditMetaOpt, got {inner!r}")
        self.inner = inner
        self.S = positive_int(S, "S")
        self.beta = nonnegative(beta, "beta")
        if self._rollouts and self.S <= inner.L:
            raise InvalidArgumentError(f"S: expected an epoch longer than the rollout length L = {inner.L} (a meta-step "
                                       f"replays the last L played steps, which must lie inside one epoch), got "
                                       f"S = {S}; with S <= L the meta-parameters M would never be updated")
        self.K = None if K is None else positive_int(K, "K")
        self.feedback = inner.feedback

    @property
    def H(self):
        return self.inner.H

    @property
    def L(self):
        return self.inner.L

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        st = self.inner.init(shape, rng, horizon=horizon, x0=x0)
        return NonconvexMetaOptState(st, 0, 0, st.x.copy(), np.zeros_like(st.x), (st.x.copy(),))

    def new_episode(self, state, x0=None):
        """Restart at ``x0`` (:meth:`MetaOpt.new_episode`).

        Parameters
        ----------
        state, x0 : the learner state and array
        """
        st = self.inner.new_episode(state.inner, x0)
        return NonconvexMetaOptState(st, 0, 0, st.x.copy(), np.zeros_like(st.x), (st.x.copy(),))

    def current_M(self, state):
        """The ``M`` the next round plays (:meth:`MetaOpt.current_M`).

        Parameters
        ----------
        state : the learner state
        """
        return self.inner.current_M(state.inner)

    def freeze(self, state_or_M):
        """A frozen copy playing the learned ``M`` (:meth:`MetaOpt.freeze`).

        Parameters
        ----------
        state_or_M : state or array
        """
        M = self.current_M(state_or_M) if isinstance(state_or_M, NonconvexMetaOptState) else state_or_M
        return NonconvexMetaOpt(self.inner.freeze(M), self.S, self.beta, self.K)

    @property
    def _rollouts(self) -> bool:
        """Whether the wrapped learner meta-steps on Alg. 4 rollouts (a learning gradient meta-optimizer)."""
        return not self.inner.frozen and not isinstance(self.inner, BanditMetaOpt)

    def decide(self, state, obs=None, rng=None):
        x, st = self.inner.decide(state.inner, obs, rng)
        if state.s == 0 and state.k > 0:  # epoch k starts at its centre x_{i,k}; A's state carries over (Alg. 5)
            x = state.center.copy()
            st = st._replace(x=x)
        return x, state._replace(inner=st)

    def update(self, state, feedback):
        x, c = state.inner.x, state.center
        d = x - c
        value = float(feedback.value) + self.beta * float(d @ d)
        grad = None if feedback.grad is None else np.asarray(feedback.grad, dtype=float) + 2.0 * self.beta * d
        loss = None
        if self._rollouts and not state.inner.frozen:
            base = (self.inner.rollout_oracle if self.inner.rollout_oracle is not None and feedback.loss is None
                    else _loss_of(feedback, "NonconvexMetaOpt"))
            loss = RegularizedOracle(base, self.beta, c)
        fb = Feedback(feedback.t, feedback.kind, value, grad, loss, feedback.obs, feedback.info)
        if self._rollouts and not state.inner.frozen:  # a rollout window must not cross the epoch's jump
            st = self.inner._update(state.inner, fb, meta_step=state.s >= self.L)
        else:
            st = self.inner.update(state.inner, fb)
        total, s = state.total + x, state.s + 1
        if s < self.S:
            return state._replace(inner=st, s=s, total=total)
        center = total / self.S  # x_{i,k+1} = (1/S) Σ_s x_{i,k,s}; decide() jumps there, A's state carries over
        return NonconvexMetaOptState(st, state.k + 1, 0, center, np.zeros_like(center), (*state.centers, center))

    def run_episodes(self, problems, N: int, T: int | None = None, x0=None, seed=0, state=None):
        """``N`` episodes of ``T`` steps (default ``K·S``).

        Parameters
        ----------
        problems, N, T, x0, seed, state
            As :func:`run_episodes`.
        """
        if T is None:
            if self.K is None:
                raise InvalidArgumentError("T: give T or build NonconvexMetaOpt with K (T = K·S)")
            T = self.K * self.S
        return run_episodes(self, problems, N, T, x0, seed, state=state)


# --------------------------------------------------------------------------------------------- episodes
@dataclass
class EpisodesResult:
    """Output of :func:`run_episodes`.

    ``losses`` ``(N, T)``: ``f_i(x_{i,t})`` charged (on the step's minibatch); ``Ms``: ``M`` at the
    start of each episode and at the end (``(N+1, *M.shape)``; None for learners without ``M``);
    ``meta_steps`` ``(N,)``: the learner's meta-update counter (``state.meta_steps``, cumulative,
    counting from the state the run started from) at the end of each episode — ``np.diff`` of it
    gives the meta-updates per episode (all zeros for learners without meta-updates);
    ``final_x`` ``(N, n)``: the last iterate played in each episode; ``final_state``: the learner
    state after the last episode; ``grads`` ``(N, T, n)``: the gradients ``g_{i,t}`` revealed each
    step — the disturbances of the optimization LTV, which :class:`olc.comparators.BestFixedM` uses
    for the best DFC policy in hindsight (None when the episodes' dimensions differ).

    Attributes
    ----------
    losses, Ms, meta_steps, final_x, final_state, grads
    """

    losses: np.ndarray
    Ms: np.ndarray | None
    meta_steps: np.ndarray
    final_x: np.ndarray
    final_state: Any = field(repr=False, default=None)
    grads: np.ndarray | None = field(repr=False, default=None)

    def to_dict(self) -> dict:
        """The result as a JSON-serialisable dict."""
        return {"losses": self.losses.tolist(), "Ms": None if self.Ms is None else self.Ms.tolist(),
                "meta_steps": self.meta_steps.tolist(), "final_loss": self.losses[:, -1].tolist(),
                "episode_loss": self.losses.sum(axis=1).tolist()}


def _problem(problems, i, rng):
    if isinstance(problems, GradientOracle):
        return problems
    if isinstance(problems, (list, tuple)):
        if i >= len(problems):
            raise InvalidArgumentError(f"problems: {len(problems)} oracles for more episodes")
        o = problems[i]
    elif callable(problems):
        o = problems(i, rng)
    else:
        raise InvalidArgumentError("problems: expected a GradientOracle, a sequence of them, or a sampler "
                                   f"(i, rng) -> GradientOracle; got {type(problems).__name__}")
    if not isinstance(o, GradientOracle):
        raise InvalidArgumentError(f"problems: episode {i} gave {type(o).__name__}, expected a GradientOracle")
    return o


def _meta_steps(state, name="meta_steps"):
    st = state.inner if isinstance(state, NonconvexMetaOptState) else state
    return getattr(st, name, 0) if isinstance(st, MetaOptState) else 0


def run_episodes(learner, problems, N: int, T: int, x0=None, seed=0, *, state=None) -> EpisodesResult:
    """The N-episodes × T-steps protocol of meta-optimization (Sec. 2; Alg. 1/2/7 outer loops).

    ``problems``: a :class:`~olc.oracles.GradientOracle` (the same objective every episode; a
    stochastic oracle draws a fresh minibatch ``B_{i,t}`` each step, and ``f_{i,t}`` is that
    minibatch's objective), a sequence of ``N`` oracles, or a sampler ``(i, rng) -> oracle``.
    ``x0``: the start ``x_{i,1}`` (array, a callable ``(i, rng) -> array``, or None for zeros).

    Episode ``i`` is one :func:`olc.play` of the learner on
    ``olc.games.optimization(oracle_i, T, x0=start_i, seed=...)`` — the game draws the minibatches
    and reveals full feedback (value, gradient and the loss function: the oracle restricted to the
    step's minibatch); there is no second round loop here. Episodic learners (:class:`MetaOpt` and
    subclasses, :class:`NonconvexMetaOpt`) keep their state across episodes: ``init(...,
    horizon=N·T, x0=start_0)`` once, then ``new_episode(state, start_i)``, and play continues from
    that state. Any other olc learner over iterates (e.g. OGD = gradient descent,
    ``olc.learners.Adam``) is re-initialised each episode by play (``horizon=T``,
    ``x0=start_i``; a learner whose ``init`` takes no ``x0`` starts from its own default).
    ``state`` continues a previous run of an episodic learner (pass ``result.final_state``).

    ``seed`` drives three independent streams: the problem sampler / start callable, the
    minibatches (one child generator per episode's game) and the learner (one child per
    episode's play); the same seed gives the same result.

    A NaN/Inf in episode ``i`` (a diverging learner) raises :class:`olc.DivergenceError` whose
    ``partial`` is the :class:`EpisodesResult` of the ``i`` completed episodes (``losses``
    ``(i, T)``, ``Ms`` ``(i+1, ...)``, ``final_state`` after episode ``i−1``); its ``__cause__`` is
    play's error, whose ``partial`` holds the trace of episode ``i`` up to the divergence.

    Parameters
    ----------
    learner, problems, x0, seed, state
        As above.
    N, T : int
    """
    from ..games.optimization import OptimizationGame

    N, T = positive_int(N, "N"), positive_int(T, "T")
    rng = as_rng(seed)
    prob_rng, batch_rng, learner_rng = rng.spawn(3)
    init_rng = learner_rng.spawn(1)[0]
    episodic = hasattr(learner, "new_episode")
    losses = np.empty((N, T))
    meta_steps = np.zeros(N, dtype=int)
    Ms, finals, grads = [], [], []

    def result(k):
        same_dim = len({g.shape for g in grads[:k]}) <= 1
        n = grads[0].shape[1] if grads else 0
        return EpisodesResult(losses[:k], np.array(Ms[:k + 1]) if episodic else None, meta_steps[:k],
                              np.array(finals[:k]) if k else np.empty((0, n)), state,
                              (np.array(grads[:k]) if k else np.empty((0, T, n))) if same_dim else None)

    for i in range(N):
        oracle = _problem(problems, i, prob_rng)
        start = x0(i, prob_rng) if callable(x0) else x0
        start = np.zeros(oracle.dim) if start is None else as_array(start, "x0", shape=(oracle.dim,))
        game = OptimizationGame(oracle, T, x0=start, seed=batch_rng.spawn(1)[0])
        play_seed = learner_rng.spawn(1)[0]
        if episodic:
            if state is not None:
                st = state.inner if isinstance(state, NonconvexMetaOptState) else state
                if st.x.shape != (oracle.dim,):
                    raise ShapeError(f"problems: episode {i} has dimension {oracle.dim}, the learner state "
                                     f"{st.x.shape[0]}")
                ep_state = learner.new_episode(state, start)
            else:
                ep_state = learner.init((oracle.dim,), init_rng, horizon=N * T, x0=start)
            Ms.append(learner.current_M(ep_state))
        else:
            ep_state = None  # play initialises it with horizon=T and x0=game.initial_decision
        try:
            trace = play(learner, game, T, seed=play_seed, state=ep_state)
        except DivergenceError as exc:
            raise DivergenceError(f"run_episodes: episode {i} diverged in round {exc.step}: {exc.__cause__ or exc} "
                                  f"(the {i} completed episodes are in .partial, the episode's first {exc.step} "
                                  "rounds in .__cause__.partial)", step=i * T + (exc.step or 0),
                                  partial=result(i)) from exc
        losses[i] = trace.losses
        grads.append(trace.info["grads"])
        finals.append(trace.decisions[-1])
        state = trace.final_state
        meta_steps[i] = _meta_steps(state)
    if episodic:
        Ms.append(learner.current_M(state))
    return result(N)
