"""FO-B-MAML vs MAML, iMAML, FO-MAML, Reptile: meta-gradient error and outer loss (``first-order-bilevel-maml`` Fig. 1).

Setting of App. B: quadratic tasks ``f_i = f̂_i = ½θᵀA_iθ + θᵀb_i`` (condition number
``condition``), B-MAML objective (5)–(6) with regularisation ``lam``, GD as the inner solver
for every method. Left panel: relative error ``‖g − ∇F‖/‖∇F‖`` (mean over tasks) of each
meta-gradient estimate against the exact App. B closed form, as the number of inner steps
grows. Right panel: exact outer loss ``F(θ)`` along outer GD with ``loss_inner_steps`` inner
steps, the outer learning rate tuned per method over ``outer_lrs`` (best final loss), as in
the paper. MAML, FO-MAML and Reptile unroll GD on the regularised inner problem (6) (the
setting of the figure); iMAML uses ``cg`` conjugate-gradient steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..errors import DivergenceError
from . import check_config, each, integer, positive, real
from ._plot import pyplot, save_figure

NAME = "fobmaml-regression"
#: relative meta-gradient error of symmetric FO-B-MAML at the largest number of inner steps
PRIMARY = "rel_error/FO-B-MAML (symmetric)"
EXTRAS = ()


@dataclass
class Config:
    dim: int = 10
    n_tasks: int = 10
    condition: float = 100.0
    scale: float = 10.0
    lam: float = 1.0
    inner_lr: float = 0.05
    nu: float = 1e-3
    inner_steps: list[int] = field(default_factory=lambda: [1, 2, 5, 10, 20, 50, 100, 200, 500])
    cg_steps: list[int] = field(default_factory=lambda: [2, 5, 10])
    loss_inner_steps: int = 20
    outer_steps: int = 30
    outer_lrs: list[float] = field(default_factory=lambda: [0.1, 0.3, 1.0])
    seed: int = 0


CHECKS = {"dim": integer(1), "n_tasks": integer(1), "condition": real(1.0), "scale": positive, "lam": positive,
          "inner_lr": positive, "nu": positive, "inner_steps": each(integer(1)),
          "cg_steps": each(integer(1), nonempty=False), "loss_inner_steps": integer(1), "outer_steps": integer(1),
          "outer_lrs": each(positive), "seed": integer(0)}


def _methods(cfg: Config, K: int) -> dict:
    from .. import learners as L

    out = {
        "FO-B-MAML (forward)": L.FOBMAML(cfg.lam, cfg.nu, "forward", cfg.inner_lr, K),
        "FO-B-MAML (symmetric)": L.FOBMAML(cfg.lam, cfg.nu, "symmetric", cfg.inner_lr, K),
        "MAML": L.MAML(cfg.inner_lr, K, lam=cfg.lam),
    }
    for c in cfg.cg_steps:
        out[f"iMAML (cg={c})"] = L.IMAML(cfg.lam, c, cfg.inner_lr, K)
    out["FO-MAML"] = L.FOMAML(cfg.inner_lr, K, lam=cfg.lam)
    out["Reptile"] = L.Reptile(cfg.inner_lr, K, lam=cfg.lam)
    return out


def run(config: Config | None = None, progress=None) -> dict:
    from .. import learners as L
    from .. import tasks as T

    cfg = check_config(config or Config(), CHECKS)
    tasks = T.random_quadratics(cfg.n_tasks, cfg.dim, cfg.condition, seed=cfg.seed, scale=cfg.scale)
    rng = np.random.default_rng(cfg.seed + 1)
    theta0 = rng.standard_normal(cfg.dim)
    exact = [L.bilevel_meta_gradient(t, theta0, cfg.lam) for t in tasks]
    names = list(_methods(cfg, 1))
    errors = {n: [] for n in names}
    bar = progress(len(cfg.inner_steps) + len(names), NAME) if progress else None
    for K in cfg.inner_steps:
        for name, learner in _methods(cfg, K).items():
            rel = [np.linalg.norm(learner.meta_gradient(t, theta0) - g) / np.linalg.norm(g)
                   for t, g in zip(tasks, exact)]
            errors[name].append(float(np.mean(rel)))
        if bar:
            bar.update(1)

    def outer_loss(th):
        return float(np.mean([L.bilevel_objective(t, th, cfg.lam) for t in tasks]))

    curves, best_lr = {}, {}
    for name, learner in _methods(cfg, cfg.loss_inner_steps).items():
        best = None
        for lr in cfg.outer_lrs:
            try:
                res = L.meta_train(learner, tasks, theta0, outer_lr=lr, n_steps=cfg.outer_steps, loss=outer_loss)
            except DivergenceError:
                continue
            if best is None or res.losses[-1] < best[1][-1]:
                best = (lr, res.losses)
        if best is not None:
            best_lr[name], curves[name] = best[0], [float(v) for v in best[1]]
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    optimum = float(outer_loss(_bilevel_optimum(tasks, cfg.lam)))
    metrics = {f"rel_error/{n}": e[-1] for n, e in errors.items()}
    metrics.update({f"loss_gap/{n}": c[-1] - optimum for n, c in curves.items()})
    sweep_curves = {**{f"rel_error/{n}": e for n, e in errors.items()}, **{f"loss/{n}": c for n, c in curves.items()}}
    return {"config": dataclasses.asdict(cfg), "inner_steps": list(cfg.inner_steps), "relative_error": errors,
            "loss_curves": curves, "best_outer_lr": best_lr, "optimal_loss": optimum, "metrics": metrics,
            "curves": sweep_curves, "curve_x": {f"rel_error/{n}": list(cfg.inner_steps) for n in errors}}


def _bilevel_optimum(tasks, lam):
    """Minimiser of the (quadratic) B-MAML objective: ``φ*(θ) = (A + λI)⁻¹(λθ − b)`` is affine."""
    from scipy.optimize import minimize

    from .. import learners as L

    d = tasks[0].dim

    def fun(th):
        return (np.mean([L.bilevel_objective(t, th, lam) for t in tasks]),
                np.mean([L.bilevel_meta_gradient(t, th, lam) for t in tasks], axis=0))

    return minimize(fun, np.zeros(d), jac=True, method="L-BFGS-B", options={"gtol": 1e-12}).x


def summary(results: dict) -> str:
    Ks = results["inner_steps"]
    lines = ["relative meta-gradient error vs inner steps (mean over tasks)",
             f"{'method':24s}" + "".join(f"{k:>10d}" for k in Ks)]
    for name, errs in results["relative_error"].items():
        lines.append(f"{name:24s}" + "".join(f"{e:10.2e}" for e in errs))
    lines.append("")
    lines.append(f"outer loss after {len(next(iter(results['loss_curves'].values()), [0])) - 1} outer GD steps "
                 f"(inner steps {results['config']['loss_inner_steps']}; optimum "
                 f"{results['optimal_loss']:.5g})")
    for name, curve in results["loss_curves"].items():
        lines.append(f"{name:24s} lr={results['best_outer_lr'][name]:<6g} initial {curve[0]:.5g}  "
                     f"final {curve[-1]:.5g}")
    return "\n".join(lines)


def plot(results: dict, outdir: str) -> list[str]:
    plt = pyplot()

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for name, errs in results["relative_error"].items():
        a.loglog(results["inner_steps"], np.maximum(errs, 1e-17), marker="o", ms=3, label=name)
    a.set_xlabel("inner steps")
    a.set_ylabel("relative error of the meta-gradient")
    a.set_title("meta-gradient quality (Fig. 1 left)")
    opt = results["optimal_loss"]
    for name, curve in results["loss_curves"].items():
        b.semilogy(np.maximum(np.array(curve) - opt, 1e-16), label=name)
    b.set_xlabel("outer iteration")
    b.set_ylabel("outer loss − optimum")
    b.set_title(f"outer GD, {results['config']['loss_inner_steps']} inner steps (Fig. 1 right)")
    a.legend(fontsize=7)
    path = save_figure(fig, outdir, "fobmaml_regression.png", dpi=110)
    return [path]
