"""GPC vs LQR: non-stochastic control of the teaching systems (Agarwal et al. 2019; Gradu et al. 2020).

For each teaching system (double integrator, inverted pendulum, a random stable system) and
each disturbance (i.i.d. Gaussian, sinusoidal, adaptive adversarial "ascent"), play

* ``GPC`` (Agarwal et al. 2019, Alg. 1; docs/gpc-semantics.md) with ``K`` = the LQR gain,
* ``BanditGPC`` (Gradu, Hallman & Hazan 2020; ``nonconvex-meta-optimization`` Alg. 6 inside),
* ``LQR`` (infinite-horizon Riccati gain), and ``zero`` control (``u = 0``),

on the same disturbances (adaptive disturbances react to each controller's own play), and
measure the average cost, the running-average cost curves and the regret of GPC / bandit GPC
against the best disturbance-feedback controller in hindsight (``BestDFC`` with the same
``K``, ``H`` and set, replayed on the realised disturbances). Zero control on an unstable
system diverges; that is recorded (``diverged_at``) instead of a cost.

Expected picture: on Gaussian noise LQR is optimal and GPC stays within a few per cent of it;
on sinusoidal and adversarial disturbances GPC beats LQR, often by a wide margin; GPC's regret
against the best DFC is small and sublinear; bandit GPC (only the scalar cost observed) learns
far more slowly — at these horizons it stays near LQR.

Learning rates are given for unit-size disturbances and divided by ``scale²`` per system (the
gradients scale with the squared disturbance size). Every setting, and how to choose H, the rate
and the radius: docs/control.md, sections 6 and 9. Runs of the linearised pendulum that leave its
validity region are recorded in ``left_validity`` (first state index outside) and flagged in the
summary instead of warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from . import check_config, choice, each, integer, optional, positive, thin_curve
from ._plot import pyplot, save_figure

NAME = "gpc-vs-lqr"
#: geometric mean over the (system, disturbance) pairs of GPC's average cost over LQR's (< 1: GPC wins)
PRIMARY = "gpc_over_lqr"
EXTRAS = ()

__all__ = ["NAME", "Config", "run", "plot", "summary", "SYSTEMS", "DISTURBANCES"]

#: system name -> disturbance scale used for it
SYSTEMS = {"double-integrator": 1.0, "pendulum": 0.1, "random-stable": 1.0}
DISTURBANCES = ("gaussian", "sinusoidal", "adversarial")
CONTROLLERS = ("gpc", "bandit-gpc", "lqr", "zero")


@dataclass
class Config:
    """Defaults run in well under a minute on two cores."""

    T: int = 4000
    H: int = 10
    lr: float = 0.01  # GPC: η_t = lr / (scale² √t)
    bandit_H: int = 3
    bandit_kappa: float = 1.0
    bandit_lr: float | None = None  # None: BanditGPC's default schedule
    kappa_M: float = 5.0
    period: float = 20.0
    systems: list[str] = field(default_factory=lambda: list(SYSTEMS))
    disturbances: list[str] = field(default_factory=lambda: list(DISTURBANCES))
    curve_points: int = 200
    seed: int = 0


CHECKS = {"T": integer(1), "H": integer(1), "lr": positive, "bandit_H": integer(1), "bandit_kappa": positive,
          "bandit_lr": optional(positive), "kappa_M": positive, "period": positive,
          "systems": each(choice(*SYSTEMS)), "disturbances": each(choice(*DISTURBANCES)),
          "curve_points": integer(1), "seed": integer(0)}


def _system(name: str):
    from ..systems import library

    if name == "double-integrator":
        return library.double_integrator()
    if name == "pendulum":
        return library.inverted_pendulum()
    if name == "random-stable":
        return library.random_stable(3, 1, 0.9, seed=0)
    from ..errors import InvalidArgumentError

    raise InvalidArgumentError(f"systems: unknown system {name!r}; choose from {list(SYSTEMS)}")


def _disturbance(kind, system, T, scale, period, seed):
    from ..errors import InvalidArgumentError
    from ..systems import disturbances as D

    d = system.state_dim
    if kind == "gaussian":
        return D.gaussian(T, d, scale=scale, seed=seed)
    if kind == "sinusoidal":
        return D.sinusoidal(T, d, amplitude=scale, period=period, seed=seed)
    if kind == "adversarial":
        return D.Adversarial(d, bound=scale, kind="ascent", system=system)
    raise InvalidArgumentError(f"disturbances: unknown kind {kind!r}; choose from {list(DISTURBANCES)}")


def run(config: Config | None = None, progress=None) -> dict:
    """Play every controller on every (system, disturbance) pair; return costs and regrets."""
    from .. import play
    from ..comparators.control import BestDFC
    from ..errors import DivergenceError
    from ..games.control import control
    from ..learners.control import GPC, LQR, BanditGPC, ZeroController
    from ..learners.schedules import InverseSqrt, Power
    from ..systems.costs import QuadraticCost
    from ..systems.validity import LinearizationWarning

    cfg = check_config(config or Config(), CHECKS)
    pairs = [(s, k) for s in cfg.systems for k in cfg.disturbances]
    bar = progress(len(pairs), NAME) if progress is not None else None
    out = {"runs": [], "config": {"T": cfg.T, "H": cfg.H}}
    for sname, kind in pairs:
        system = _system(sname)
        scale = SYSTEMS.get(sname, 1.0)
        d, m = system.state_dim, system.control_dim
        cost = QuadraticCost(np.eye(d), np.eye(m))
        w = _disturbance(kind, system, cfg.T, scale, cfg.period, cfg.seed)
        game = control(system, w, cost, T=cfg.T)
        blr = None if cfg.bandit_lr is None else Power(cfg.bandit_lr / scale ** 2, 0.75)
        learners = {
            "gpc": GPC(system, cost, H=cfg.H, lr=InverseSqrt(cfg.lr / scale ** 2), kappa_M=cfg.kappa_M),
            "bandit-gpc": BanditGPC(system, cost, H=cfg.bandit_H, kappa_M=cfg.bandit_kappa, lr=blr),
            "lqr": LQR(system, cost),
            "zero": ZeroController(),
        }
        rec = {"system": sname, "disturbance": kind, "scale": scale, "avg_cost": {}, "curves": {},
               "diverged_at": {}, "regret": {}, "regret_curve": {}, "dfc_avg_cost": {}, "left_validity": {}}
        for name, learner in learners.items():
            try:
                with warnings.catch_warnings():  # recorded in left_validity and flagged by summary()
                    warnings.simplefilter("ignore", LinearizationWarning)
                    tr = play(learner, game, seed=cfg.seed)
            except DivergenceError as exc:
                rec["avg_cost"][name] = None
                rec["diverged_at"][name] = int(exc.step)
                continue
            if "validity" in tr.info:  # a linearised model (the pendulum): did the run stay where it is accurate?
                rec["left_validity"][name] = tr.info["validity"]["first_exit"]
            running = np.cumsum(tr.losses) / np.arange(1, tr.T + 1)
            rec["avg_cost"][name] = float(tr.losses.mean())
            rec["curves"][name] = thin_curve(running, cfg.curve_points)
            if name in ("gpc", "bandit-gpc"):
                H, kap = (cfg.H, cfg.kappa_M) if name == "gpc" else (cfg.bandit_H, cfg.bandit_kappa)
                comp = BestDFC(system, cost, H=H, kappa_M=kap)
                reg = tr.regret(comp)
                rec["regret"][name] = float(reg[-1])
                rec["regret_curve"][name] = thin_curve(reg, cfg.curve_points)
                rec["dfc_avg_cost"][name] = float(comp.total / tr.T)
        out["runs"].append(rec)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    out.update(_sweep_outputs(out["runs"]))
    return out


def _sweep_outputs(runs) -> dict:
    """Per-seed ``metrics`` (average costs, regrets, :data:`PRIMARY`) and ``curves`` for sweeps; a
    diverged controller has no average-cost metric (its ``diverged_at`` round is one instead)."""
    metrics, curves, xs, ratios = {}, {}, {}, []
    for r in runs:
        pair = f"{r['system']}/{r['disturbance']}"
        for name, v in r["avg_cost"].items():
            if v is None:
                metrics[f"diverged_at/{pair}/{name}"] = float(r["diverged_at"][name])
            else:
                metrics[f"avg_cost/{pair}/{name}"] = v
        for name, v in r["regret"].items():
            metrics[f"regret/{pair}/{name}"] = v
        for what, src in (("avg_cost", "curves"), ("regret", "regret_curve")):
            for name, (x, y) in r[src].items():
                xs[f"{what}/{pair}/{name}"], curves[f"{what}/{pair}/{name}"] = [t + 1 for t in x], y
        gpc, lqr = r["avg_cost"].get("gpc"), r["avg_cost"].get("lqr")
        if gpc is not None and lqr is not None:
            ratios.append(gpc / lqr)
    if ratios:
        metrics[PRIMARY] = float(np.exp(np.mean(np.log(ratios))))
    return {"metrics": metrics, "curves": curves, "curve_x": xs}


def summary(results: dict) -> str:
    """A table: average cost per controller, best-DFC cost and regrets."""
    head = (f"{'system':18s} {'disturbance':12s} " + " ".join(f"{c:>11s}" for c in CONTROLLERS)
            + f" {'best DFC':>9s} {'GPC regret':>11s} {'bandit reg':>11s}")
    lines = [f"average cost per round (T = {results['config']['T']})", head, "-" * len(head)]
    for r in results["runs"]:
        cells = []
        for c in CONTROLLERS:
            v = r["avg_cost"].get(c)
            cells.append(f"{v:11.4g}" if v is not None else f"{'div@' + str(r['diverged_at'].get(c)):>11s}")
        dfc = r["dfc_avg_cost"].get("gpc")
        lines.append(f"{r['system']:18s} {r['disturbance']:12s} " + " ".join(cells)
                     + f" {dfc if dfc is not None else float('nan'):9.4g}"
                     + f" {r['regret'].get('gpc', float('nan')):11.4g} {r['regret'].get('bandit-gpc', float('nan')):11.4g}")
    lines.append("(best DFC: the best fixed M in hindsight with GPC's K, H and set, on GPC's realised "
                 "disturbances; regret = controller's total cost minus its best DFC's)")
    left = [f"{r['system']}/{r['disturbance']}/{c} (t={t})" for r in results["runs"]
            for c, t in r.get("left_validity", {}).items() if t is not None]
    if left:
        lines.append("left the linear model's validity region (pendulum: |theta| <= 0.55 rad; the model is "
                     "inaccurate there), first exit: " + ", ".join(left))
    return "\n".join(lines)


def plot(results: dict, outdir: str) -> list[str]:
    """Running-average cost curves and regret curves, one panel per (system, disturbance)."""

    plt = pyplot()

    runs = results["runs"]
    systems = list(dict.fromkeys(r["system"] for r in runs))
    kinds = list(dict.fromkeys(r["disturbance"] for r in runs))
    paths = []
    for what in ("curves", "regret_curve"):
        fig, axes = plt.subplots(len(systems), len(kinds), figsize=(4 * len(kinds), 3 * len(systems)),
                                 squeeze=False)
        for r in runs:
            ax = axes[systems.index(r["system"])][kinds.index(r["disturbance"])]
            for name, (x, y) in r[what].items():
                ax.plot(np.asarray(x) + 1, y, label=name)
            ax.set_title(f"{r['system']} / {r['disturbance']}", fontsize="small")
            ax.set_xlabel("t")
            if what == "curves":
                ax.set_yscale("log")
                ax.set_ylabel("average cost")
            else:
                ax.set_ylabel("regret vs best DFC")
            ax.legend(fontsize="x-small")
        path = save_figure(fig, outdir, "gpc_vs_lqr_costs.png" if what == "curves" else "gpc_vs_lqr_regret.png", dpi=110)
        paths.append(path)
    return paths
