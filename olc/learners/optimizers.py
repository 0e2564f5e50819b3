"""Baseline optimizers as olc learners: the decision is the iterate, the feedback its gradient.

The baselines of ``nonconvex-meta-optimization`` App. E.2, Nesterov, Adam, AdaGrad and the outer
optimizers of ``first-order-bilevel-maml`` Sec. 4.3, each a thin constructor of an :class:`olc.optim.Chain`
(one start rule, one finiteness check, states with the iterate ``x`` and step count ``t``, arrays of
any shape). :func:`train` is ``olc.play`` on :func:`olc.games.optimization.optimization`.
"""

from __future__ import annotations

from .._validate import positive, require
from ..optim import (
    AddDecayedWeights,
    Chain,
    ClipByNorm,
    Mechanize,
    Momentum,
    Normalize,
    Scale,
    ScaleByAdaGrad,
    ScaleByAdam,
    ScaleByDAdaptAdam,
    ScaleByDoG,
    ScaleByHypergradient,
    as_schedule,
)
from ..sets import Reals

__all__ = ["SGD", "HeavyBall", "Nesterov", "AdaGradOpt", "Adam", "AdamW", "HypergradientDescent", "DoG", "DAdaptAdam",
           "Mechanic", "ClippedGD", "NormalizedGD", "train"]


class SGD(Chain):
    """(Stochastic) gradient descent with coupled weight decay (Robbins & Monro 1951),
    ``x_{t+1} = x_t − η_t (g_t + δ x_t)``, as ``torch.optim.SGD(lr, weight_decay=δ)``: the chain
    ``AddDecayedWeights(δ), Scale(η)``. The ``SGD`` baseline of ``nonconvex-meta-optimization`` App. E.2
    (grid ``η ∈ {0.001, 0.01, 0.1, 0.2, 0.4, 1}``, ``δ ∈ {0, 1e-5, 1e-4, 1e-3}``).

    Parameters
    ----------
    lr : float or schedule
    weight_decay : float >= 0
    x0 : array, optional
        The start (the game's wins).
    """

    def __init__(self, lr, weight_decay: float = 0.0, x0=None):
        self.lr, self.weight_decay = as_schedule(lr), weight_decay
        super().__init__(AddDecayedWeights(weight_decay), Scale(self.lr), x0=x0)


class HeavyBall(Chain):
    """Polyak's heavy-ball momentum (Polyak 1964) as ``torch.optim.SGD(momentum=μ)``: the chain
    ``AddDecayedWeights(δ), Momentum(μ), Scale(η)``; for a constant ``η`` exactly Polyak's
    ``x_{t+1} = x_t − η ∇f(x_t) + μ (x_t − x_{t−1})`` (:func:`olc.kernels.optimizer_grid`). The
    ``MOMENTUM`` baseline of ``nonconvex-meta-optimization`` App. E.2 (``μ ∈ {0.9, 0.95, 0.99}``).

    Parameters
    ----------
    lr, momentum, weight_decay : float (``lr`` also a schedule)
        ``η_t``, ``μ ∈ [0, 1)`` and the coupled ``δ``.
    x0 : array, optional
    """

    nesterov = False

    def __init__(self, lr, momentum: float, weight_decay: float = 0.0, x0=None):
        self.lr, self.momentum, self.weight_decay = as_schedule(lr), momentum, weight_decay
        super().__init__(AddDecayedWeights(weight_decay), Momentum(momentum, self.nesterov), Scale(self.lr), x0=x0)


class Nesterov(HeavyBall):
    """Nesterov's accelerated gradient (Nesterov 1983) in the form of Sutskever et al. (2013), as
    ``torch.optim.SGD(nesterov=True)``: ``b_t = μ b_{t−1} + g_t + δ x_t``, ``x_{t+1} = x_t − η_t (g_t
    + δ x_t + μ b_t)`` — the chain ``AddDecayedWeights(δ), Momentum(μ, nesterov=True), Scale(η)``. The
    iterate is the look-ahead point ``y_t = z_t + μ (z_t − z_{t−1})`` of the two-sequence form
    ``z_{t+1} = y_t − η ∇f(y_t)``.

    Parameters
    ----------
    lr, momentum, weight_decay, x0
        As :class:`HeavyBall`.
    """

    nesterov = True


class AdaGradOpt(Chain):
    """Diagonal AdaGrad (Duchi, Hazan & Singer 2011, Alg. 1) on unconstrained arrays,
    ``x_{t+1} = x_t − η g_t / √(ε + Σ_{s≤t} g_s²)``: the chain ``ScaleByAdaGrad(ε, decay), Scale(η)``
    (:class:`olc.learners.AdaGrad` over a set). Deviation from ``torch.optim.Adagrad``: ε inside the
    square root (they agree for ε → 0).

    Parameters
    ----------
    lr, eps : float
    x0 : array, optional
    decay : float
        Leak of the accumulator (0 = AdaGrad: :class:`olc.optim.ScaleByAdaGrad`).
    """

    def __init__(self, lr: float = 1e-2, eps: float = 1e-10, x0=None, *, decay: float = 0.0):
        self.lr, self.eps, self.decay = positive(lr, "lr"), eps, decay
        super().__init__(ScaleByAdaGrad(eps, decay), Scale(self.lr), x0=x0)


class Adam(Chain):
    """Adam (Kingma & Ba 2015, Alg. 1) with coupled L2 weight decay, as ``torch.optim.Adam``: the chain
    ``AddDecayedWeights(δ), ScaleByAdam(β, ε), Scale(η)``; the meta-optimizer over ``M`` of
    ``nonconvex-meta-optimization`` App. E.1 (Adam instead of GD).

    Parameters
    ----------
    lr, eps, weight_decay : float (``lr`` also a schedule)
    betas : pair of float in [0, 1)
    x0 : array, optional
    """

    decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0, x0=None):
        self.lr, self.betas, self.eps, self.weight_decay = as_schedule(lr), betas, eps, weight_decay
        decay, adam = AddDecayedWeights(weight_decay), ScaleByAdam(betas, eps)
        super().__init__(*((adam, decay) if self.decoupled else (decay, adam)), Scale(self.lr), x0=x0)


class AdamW(Adam):
    """AdamW, Adam with decoupled weight decay (Loshchilov & Hutter 2019, Alg. 2, the schedule
    multiplier folded into ``η_t``), as ``torch.optim.AdamW``: ``x_{t+1} = x_t − η_t (m̂_t/(√v̂_t + ε)
    + δ x_t)`` — the chain ``ScaleByAdam(β, ε), AddDecayedWeights(δ), Scale(η)``. The ``ADAMW``
    baseline of ``nonconvex-meta-optimization`` App. E.2 (``η ∈ {1e-4, 4e-4, 1e-3}``, ``β1 ∈ {0.9,
    0.99}``, ``β2 ∈ {0.9, 0.99, 0.999}``, ``δ ∈ {0, 1e-5, 1e-4, 1e-3}``).

    Parameters
    ----------
    lr, betas, eps, weight_decay, x0
        As :class:`Adam` (``weight_decay`` decoupled).
    """

    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2, x0=None):
        super().__init__(lr, betas, eps, weight_decay, x0)


class HypergradientDescent(Chain):
    """Hypergradient descent on SGD, SGD-HD (Baydin et al. 2018; "Algorithm 4" of [3] in
    ``nonconvex-meta-optimization`` App. E.2, ``HGD``, ``β ∈ {1e-5, ..., 1e-2}`` from the tuned SGD
    rate): ``α_t = α_{t−1} + β g_tᵀ g_{t−1}``, ``x_{t+1} = x_t − α_t g_t`` (``α_0 = lr0``, ``g_{−1} = 0``;
    ``α_t`` is not kept positive, as in the paper) — the chain ``ScaleByHypergradient(lr0, β)``;
    ``state.lr`` is ``α_t``.

    Parameters
    ----------
    lr0, beta : float
    x0 : array, optional
    """

    def __init__(self, lr0: float, beta: float, x0=None):
        self.lr0, self.beta = lr0, beta
        super().__init__(ScaleByHypergradient(lr0, beta), x0=x0)


class DoG(Chain):
    """Distance over Gradients (Ivgi, Hinder & Carmon 2023, Alg. 1), the self-tuning ``DOG`` baseline
    of ``nonconvex-meta-optimization`` App. E.2: ``x_{t+1} = x_t − r̄_t/√(G_t + ε) g_t`` with ``r̄_t =
    max(r_ε, max_{i≤t} ||x_i − x_0||)``, ``G_t = Σ_{i≤t} ||g_i||²`` — the chain ``ScaleByDoG(...)``.
    Deviations: ``ε`` (the reference implementations'; the paper has none) guards ``G_t = 0``; global
    norms (not L-DoG); no iterate averaging (the paper's evaluation device; the iterates are the same).

    Parameters
    ----------
    reps_rel, r_eps, eps : float
        ``r_ε = reps_rel (1 + ||x_0||)`` (the paper's and ``optax.contrib.dog``'s) or ``r_eps``.
    x0 : array, optional
    """

    def __init__(self, reps_rel: float = 1e-6, r_eps: float | None = None, eps: float = 1e-8, x0=None):
        self.reps_rel, self.r_eps, self.eps = reps_rel, r_eps, eps
        super().__init__(ScaleByDoG(reps_rel, r_eps, eps), x0=x0)


class DAdaptAdam(Chain):
    """Adam with D-Adaptation (Defazio & Mishchenko 2023, Alg. 5; ``D-ADAPTATION`` of
    ``nonconvex-meta-optimization`` App. E.2, self-tuning) — the chain ``ScaleByDAdaptAdam(...)``.
    With ``λ_k = d_k γ_k c_k`` (``γ_k`` = ``lr``, ``c_k = √(1−β2^{k+1})/(1−β1^{k+1})`` if
    ``bias_correction`` else 1), ``A_k = diag(√v_k + ε)``, ``β̃ = √β2``::

        r_{k+1} = β̃ r_k + (1−β̃) λ_k <g_k, A_k^{-1} s_k>        (A_k with the *old* v_k)
        m_{k+1} = β1 m_k + (1−β1) λ_k g_k,   v_{k+1} = β2 v_k + (1−β2) g_k²
        s_{k+1} = β̃ s_k + (1−β̃) λ_k g_k,   d_{k+1} = max(d_k, r_{k+1} / ((1−β̃) ||s_{k+1}||_1))
        x_{k+1} = x_k − A_{k+1}^{-1} m_{k+1} − δ λ_k x_k               (δ = weight_decay)

    the recursion of ``optax.contrib.dadapt_adamw`` (used by App. E.2; ``bias_correction=True``) and
    the authors' ``DAdaptAdam`` (their default False). Deviation: while ``||s||_1 = 0`` ``d`` is kept;
    no growth-rate cap.

    Parameters
    ----------
    lr, betas, eps, d0, weight_decay, bias_correction, x0
    """

    def __init__(self, lr=1.0, betas=(0.9, 0.999), eps: float = 1e-8, d0: float = 1e-6,
                 weight_decay: float = 0.0, bias_correction: bool = True, x0=None):
        self.lr, self.betas, self.eps, self.d0 = as_schedule(lr), betas, eps, d0
        self.weight_decay, self.bias_correction = weight_decay, bias_correction
        super().__init__(ScaleByDAdaptAdam(self.lr, betas, eps, d0, weight_decay, bias_correction), x0=x0)


class Mechanic(Chain):
    """Mechanic learning-rate tuner (Cutkosky, Defazio & Mehta 2023, Alg. 1) around a ``base``
    optimizer (any unconstrained olc optimizer or :class:`olc.optim.Chain`) — the chain
    ``Mechanize(base, ...)``; the ``MECHANIC`` baseline of ``nonconvex-meta-optimization`` App. E.2
    (on AdamW). The base turns gradients into updates ``u_t`` (seeing the true ``x_t``, so its weight
    decay does, as ``optax.contrib.mechanize``); Mechanic learns the scale ``Σ_i s_i`` of their sum::

        g̃_t = g_t + λ (Σ s_t) ||g_t|| / ||x_t|| · x_t              (λ = weight_decay)
        h_t = <g̃_t, Δ_t>,   m_t = max(β m_{t−1}, |h_t| + ε),   v_t = β² v_{t−1} + h_t²
        r_t = β r_{t−1} − s_t h_t,   s_{t+1} = ((s_init/n) m_t + max(0, r_t)) / (√v_t + ε)
        Δ_{t+1} = Δ_t + u_t,   x_{t+1} = x_ref + (Σ s_{t+1}) Δ_{t+1}

    elementwise over ``β_i = 1 − 10^{−i}``, ``i = 1..n`` (``n = num_betas``); ``s_1 = s_init``,
    ``Δ_1 = 0``, ``x_ref = x_1`` (``x0``), ``ε`` = ``eps``. Defaults as ``optax.contrib.mechanize``. Deviations from
    optax: ``Δ_t`` is stored (the paper's form), and ``h_t`` is not clipped (a later optax addition).

    Parameters
    ----------
    base, s_init, weight_decay, eps, num_betas, x0
    """

    def __init__(self, base, s_init: float = 1e-6, weight_decay: float = 1e-2, eps: float = 1e-8,
                 num_betas: int = 6, x0=None):
        mech = Mechanize(base, s_init, weight_decay, eps, num_betas)
        self.base, self.s_init, self.weight_decay, self.eps, self.num_betas = base, s_init, weight_decay, eps, num_betas
        super().__init__(mech, x0=x0)


class ClippedGD(Chain):
    """ClippedGD ``θ ← θ − η min(1, c/‖g‖) g`` (``first-order-bilevel-maml`` Sec. 4.3; Zhang et al. 2020),
    an outer optimizer of Alg. 1: the chain ``ClipByNorm(c), Scale(η)`` over ``Reals()`` (start 0).

    Parameters
    ----------
    lr, clip, x0
    """

    def __init__(self, lr, clip: float, x0=None):
        self.lr, self.clip = as_schedule(lr), clip
        super().__init__(ClipByNorm(clip), Scale(self.lr), K=Reals(), x0=x0)


class NormalizedGD(Chain):
    """NormalizedGD ``θ ← θ − η g/(β + ‖g‖)`` (``first-order-bilevel-maml`` Sec. 4.3, Thm. 1), an outer
    optimizer of Alg. 1: the chain ``Normalize(β), Scale(η)`` over ``Reals()`` (start 0).

    Parameters
    ----------
    lr, beta, x0
    """

    def __init__(self, lr, beta: float, x0=None):
        self.lr, self.beta = as_schedule(lr), beta
        super().__init__(Normalize(beta), Scale(self.lr), K=Reals(), x0=x0)


def train(optimizer, oracle, T: int, x0=None, seed=0, stochastic: bool | None = None,
          progress: bool | None = None):
    """Run ``optimizer`` for ``T`` steps on ``oracle`` from ``x0`` (None: the optimizer's own, else the
    oracle's): ``olc.play`` on :func:`olc.games.optimization.optimization`. Returns the :class:`olc.Trace`
    (``decisions``: the iterates ``x_0..x_{T−1}``, ``losses``: ``f(x_t; batch_t)``, ``final_state.x``:
    ``x_T``); a non-finite value or iterate raises :class:`olc.DivergenceError` with the partial trace.

    Parameters
    ----------
    optimizer, oracle, T, x0, seed, stochastic, progress
        As :func:`olc.games.optimization.optimization` and :func:`olc.play`.
    """
    from ..game import play
    from ..games.optimization import optimization

    require(optimizer, "optimizer", "an olc learner instance (e.g. olc.learners.SGD(0.1))", ("init", "decide", "update"))
    if x0 is None and not callable(getattr(optimizer, "x0", None)):
        x0 = getattr(optimizer, "x0", None)  # the optimizer's own starting point (None: the oracle's x0())
    return play(optimizer, optimization(oracle, T, x0, stochastic=stochastic), T, seed=seed, progress=progress)
