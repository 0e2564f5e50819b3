"""Meta-Momentum / Meta-AdaGrad on ill-conditioned 2-D quadratics — ``optimistic-meta-gradients``
Fig. 2 and App. B, plus the convergence rates of Thm. 3 (``O(1/T)``) and Cor. 1 (``O(1/T²)``).

Fig. 2 part: ``f(x) = xᵀQx`` with ``Q = Uᵀ diag(1, 4) U`` (eigenvalues ``i²``, ``U`` Haar,
as ``scipy.stats.ortho_group``), ``x0 = (4, 4)``, 100 iterations. Momentum (heavy ball, olc's
batched :func:`olc.kernels.optimizer_grid`) and AdaGrad (olc's :class:`~olc.learners.AdaGrad`)
against Meta-Momentum and Meta-AdaGrad (:class:`~olc.learners.MetaGradient`, Alg. 1) and
optimistic Meta-Momentum (:class:`~olc.learners.OptimisticMetaGradient`, ``hint="current"``,
App. C). Each method is tuned per ``Q`` on the (reduced) Table 2 grid by cumulative loss.
Deviation: Table 2's "decay rate" is read as ``1 − momentum`` for the baseline (values
``< 1`` only), and the default grid is a subset of Table 2 (``--set full_grid=true`` for all).

Rates part: :class:`~olc.learners.IdentityRule` with averaging on ``f(x) = ½ Σ λ_i x_i²``,
``λ`` log-spaced in ``[1e-7, 1]``, ``x0 − x* = 1`` (a quadratic on which the worst-case rates
are visible): Alg. 2 with ``α_t = 1, β = 1/L`` (Thm. 3) and Alg. 4 with ``α_t = t``,
``β = 1/(4L)``, ``hint="previous"`` (Cor. 1); the slope of ``log(f(x̄_t) − f*)`` against
``log t`` is fitted. Alg. 2 with ``α_t = t`` is reported as well (on quadratics its heavy ball
is accelerated too; Thm. 3's ``O(1/T)`` is an upper bound for ``α_t = 1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import check_config, integer
from ._plot import pyplot, save_figure

NAME = "meta-momentum-quadratic"
PRIMARY = "cum_loss/Meta-Momentum"  # tuned Meta-Momentum's cumulative loss, mean over the sampled Q
EXTRAS = ()

TABLE2 = {"lr": (0.1, 0.3, 0.7, 0.9, 3.0, 5.0), "w_init": (0.0, 0.3, 1.0, 3.0, 10.0, 30.0),
          "meta_lr": (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)}
SMALL = {"lr": (0.1, 0.3, 0.7), "w_init": (0.3, 1.0, 3.0), "meta_lr": (0.001, 0.01, 0.1, 1.0)}
METHODS = ("Momentum", "AdaGrad", "Meta-Momentum", "Meta-AdaGrad", "Optimistic Meta-Momentum")


@dataclass
class Config:
    n_problems: int = 3
    iterations: int = 100
    full_grid: bool = False
    rate_dim: int = 100
    rate_T: int = 500
    seed: int = 0


#: iterations >= 2 (the momentum grid runs iterations - 1 steps); rate_T >= 10 (the rate is a slope
#: fitted over t >= rate_T / 20, on at least a handful of points)
CHECKS = {"n_problems": integer(1), "iterations": integer(2), "rate_dim": integer(1), "rate_T": integer(10),
          "seed": integer(0)}


def sample_Q(rng, n: int = 2) -> np.ndarray:
    """``Uᵀ diag(1², ..., n²) U`` with ``U`` Haar-distributed (App. B). ``U`` comes from the QR
    decomposition of a Gaussian matrix with the signs of ``diag(R)`` fixed (Mezzadri 2007) — the
    Haar measure that ``scipy.stats.ortho_group`` samples, without importing ``scipy.stats``."""
    Z = rng.standard_normal((n, n))
    U, R = np.linalg.qr(Z)
    U = U * np.sign(np.diag(R))
    return U.T @ np.diag(np.arange(1, n + 1) ** 2.0) @ U


def _loss_curve(learner, Q, T):
    """Losses of a meta-gradient learner on ``f = xᵀQx``; ``inf`` from a divergence on."""
    from ..errors import NonFiniteError

    try:
        with np.errstate(over="ignore", invalid="ignore"):
            vals = learner.run(lambda x: (float(x @ Q @ x), 2.0 * Q @ x), T=T).values
    except NonFiniteError:
        return np.full(T, np.inf)
    return np.where(np.abs(vals) > 1e12, np.inf, vals)


def _best(curves):
    cum = np.array([np.sum(c) if np.all(np.isfinite(c)) else np.inf for c in curves])
    i = int(np.argmin(cum))
    return curves[i], i


def _meta_curves(method, Q, x0, grid, T):
    from ..learners import MetaAdaGradRule, MetaGradient, MetaMomentumRule, OptimisticMetaGradient

    curves, cfgs = [], []
    for lr in grid["lr"]:
        for w0 in grid["w_init"]:
            for beta in grid["meta_lr"]:
                if method == "Meta-AdaGrad":
                    learner = MetaGradient(MetaAdaGradRule(lr), beta, x0=x0, w0=max(w0, 1e-8))
                elif method == "Meta-Momentum":
                    learner = MetaGradient(MetaMomentumRule(lr), beta, x0=x0, w0=w0)
                else:
                    learner = OptimisticMetaGradient(MetaMomentumRule(lr), beta, hint="current", x0=x0, w0=w0)
                curves.append(_loss_curve(learner, Q, T))
                cfgs.append({"lr": lr, "w_init": w0, "meta_lr": beta})
    c, i = _best(curves)
    return c, cfgs[i]


def _momentum_curve(Q, x0, grid, T):
    from ..kernels import optimizer_grid

    moms = [1.0 - d for d in TABLE2["meta_lr"] if d < 1.0]
    L, Mm = np.meshgrid(np.asarray(grid["lr"]), np.asarray(moms), indexing="ij")
    res = optimizer_grid(2.0 * Q, np.zeros(2), x0, L.ravel(), Mm.ravel(), T - 1)
    c, i = _best(list(res.losses))  # ½ xᵀ(2Q)x = f(x), one row per grid point
    return c, {"lr": float(L.ravel()[i]), "momentum": float(Mm.ravel()[i])}


def _adagrad_curve(Q, x0, grid, T):
    from ..game import play
    from ..games import convex
    from ..learners import AdaGrad
    from ..losses import FunctionLoss
    from ..sets import Reals

    f = FunctionLoss(lambda x: float(x @ Q @ x), lambda x: 2.0 * Q @ x)
    curves, cfgs = [], []
    for lr in grid["lr"]:
        for w0 in grid["w_init"]:
            curves.append(play(AdaGrad(Reals(), lr=lr, eps=max(w0, 1e-12), x0=x0), convex([f] * T, shape=(2,))).losses)
            cfgs.append({"lr": lr, "w_init": w0})
    c, i = _best(curves)
    return c, cfgs[i]


def fitted_slope(gaps, lo: int) -> float:
    """Least-squares slope of ``log gap`` against ``log t`` for ``t >= max(lo, 1)``."""
    t = np.arange(len(gaps))
    sel = (t >= max(lo, 1)) & (gaps > 0)
    return float(np.polyfit(np.log(t[sel]), np.log(gaps[sel]), 1)[0])


def rates(dim: int = 100, T: int = 500) -> dict:
    """Fitted rate exponents of Alg. 2 (``α_t = 1``), Alg. 2 (``α_t = t``) and Alg. 4 (``α_t = t``)."""
    from ..learners import IdentityRule, MetaGradient, OptimisticMetaGradient

    lam = np.logspace(-7, 0, dim)
    L = 1.0

    def f(x):
        return 0.5 * float(np.sum(lam * x * x)), lam * x

    x0 = np.ones(dim)
    runs = {
        "meta-gradient (alpha_t=1, beta=1/L)": MetaGradient(IdentityRule(), 1 / L, x0=x0, averaging=True),
        "meta-gradient (alpha_t=t, beta=1/4L)": MetaGradient(IdentityRule(), 1 / (4 * L), x0=x0, averaging=True,
                                                             weights="linear"),
        "optimistic (alpha_t=t, beta=1/4L)": OptimisticMetaGradient(IdentityRule(), 1 / (4 * L), x0=x0,
                                                                    averaging=True, weights="linear"),
    }
    out = {}
    for name, learner in runs.items():
        vals = learner.run(f, T=T).values
        out[name] = {"slope": fitted_slope(vals, T // 20), "curve": vals.tolist()}
    return out


def run(config: Config | None = None, progress=None) -> dict:
    """Fig. 2 (tuned loss curves per sampled ``Q``) and the fitted rates."""
    cfg = check_config(config or Config(), CHECKS)
    rng = np.random.default_rng(cfg.seed)
    grid = TABLE2 if cfg.full_grid else SMALL
    x0 = np.array([4.0, 4.0])
    T = cfg.iterations
    bar = progress(cfg.n_problems + 1, NAME) if progress is not None else None
    problems = []
    for _ in range(cfg.n_problems):
        Q = sample_Q(rng)
        entry = {"Q": Q.tolist(), "curves": {}, "best": {}}
        for method, (curve, best) in {
            "Momentum": _momentum_curve(Q, x0, grid, T),
            "AdaGrad": _adagrad_curve(Q, x0, grid, T),
            **{m: _meta_curves(m, Q, x0, grid, T) for m in METHODS[2:]},
        }.items():
            entry["curves"][method] = np.asarray(curve).tolist()
            entry["best"][method] = best
        problems.append(entry)
        if bar is not None:
            bar.update(1)
    res = {"problems": problems, "rates": rates(cfg.rate_dim, cfg.rate_T), "grid": grid}
    res.update(_sweep_outputs(res))
    if bar is not None:
        bar.update(1)
        bar.close()
    return res


def _sweep_outputs(res: dict) -> dict:
    """Per-seed ``metrics`` and ``curves``: per method the cumulative and final loss and the loss curve
    (means over the sampled ``Q``; inf where a tuned run diverged), the fitted rate exponents and
    the rate curves."""
    metrics, curves = {}, {}
    with np.errstate(invalid="ignore"):
        for m in METHODS:
            c = np.mean([np.asarray(p["curves"][m], float) for p in res["problems"]], axis=0)
            metrics[f"cum_loss/{m}"], metrics[f"final_loss/{m}"] = float(np.sum(c)), float(c[-1])
            curves[f"loss/{m}"] = c.tolist()
    for name, r in res["rates"].items():
        metrics[f"rate_slope/{name}"] = r["slope"]
        curves[f"rate_gap/{name}"] = r["curve"]
    return {"metrics": metrics, "curves": curves}


def summary(results: dict) -> str:
    """Paper vs olc: cumulative loss per method (mean over ``Q``) and fitted rate exponents."""
    probs = results["problems"]
    lines = ["cumulative loss over the run (mean over sampled Q); paper (Fig. 2): meta-learned variants "
             "are never worse than the baselines", f"{'method':28s} {'olc cum. loss':>14s} {'final loss':>12s}"]
    for m in METHODS:
        cum = np.mean([np.sum(p["curves"][m]) for p in probs])
        fin = np.mean([p["curves"][m][-1] for p in probs])
        lines.append(f"{m:28s} {cum:>14.4g} {fin:>12.3g}")
    lines.append("")
    lines.append(f"{'rate (slope of log gap vs log t)':40s} {'paper':>8s} {'olc':>8s}")
    paper = {"meta-gradient (alpha_t=1, beta=1/L)": "-1", "meta-gradient (alpha_t=t, beta=1/4L)": "(n/a)",
             "optimistic (alpha_t=t, beta=1/4L)": "-2"}
    for name, r in results["rates"].items():
        lines.append(f"{name:40s} {paper[name]:>8s} {r['slope']:>8.3f}")
    return "\n".join(lines)


def plot(results: dict, outdir: str) -> list[str]:
    """Fig. 2-style loss curves per ``Q`` and the rate plot (PNG)."""
    plt = pyplot()

    probs = results["problems"]
    fig, axes = plt.subplots(1, len(probs), figsize=(4 * len(probs), 3.4), squeeze=False)
    for ax, p in zip(axes[0], probs):
        for m in METHODS:
            c = np.asarray(p["curves"][m], dtype=float)
            ax.semilogy(np.maximum(c, 1e-300), label=m)
        ax.set(xlabel="iteration", ylabel="f(x)")
    axes[0][0].legend(fontsize=7)
    p1 = save_figure(fig, outdir, "meta_momentum_quadratic.png", dpi=100)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for name, r in results["rates"].items():
        c = np.asarray(r["curve"])
        ax.loglog(np.arange(1, len(c)), c[1:], label=f"{name}: slope {r['slope']:.2f}")
    ax.set(xlabel="t", ylabel="f(x̄_t) − f*")
    ax.legend(fontsize=7)
    p2 = save_figure(fig, outdir, "meta_momentum_rates.png", dpi=100)
    return [p1, p2]
