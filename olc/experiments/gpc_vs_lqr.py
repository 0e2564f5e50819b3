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

Every pair is played under ``seeds`` seeds (the disturbance draws; the adaptive adversary is
deterministic); costs and regrets are reported as mean ± standard error, and the claims of the
expected picture are graded per (system, seed).

PROTOCOL (reference setting / olc setting / why; also in ``results["protocol"]``):
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from . import SeedsConfig, checked, choice, each, integer, optional, positive, thin_curve
from . import _evidence as ev
from ._plot import band, pyplot, save_figure, suptitle, symlog_regret

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
class Config(SeedsConfig):
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


PAPER_PRESET = {"T": 20_000, "seeds": 5}

PROTOCOL = ev.protocol(NAME)
__doc__ += ev.protocol_doc(PROTOCOL, Config, PAPER_PRESET)

CHECKS = {"T": integer(1), "H": integer(1), "lr": positive, "bandit_H": integer(1), "bandit_kappa": positive,
          "bandit_lr": optional(positive), "kappa_M": positive, "period": positive, "systems": each(choice(*SYSTEMS)),
          "disturbances": each(choice(*DISTURBANCES)), "curve_points": integer(1)}


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
    from ..optim import InverseSqrt, Power
    from ..systems.costs import QuadraticCost
    from ..systems.validity import LinearizationWarning

    cfg = checked(config or Config())
    seeds = ev.seed_list(cfg.seed, cfg.seeds)
    pairs = [(s, k, seed) for seed in seeds for s in cfg.systems for k in cfg.disturbances]
    bar = progress(len(pairs), NAME) if progress is not None else None
    out = {"runs": [], "config": ev.config_dict(cfg), "protocol": ev.protocol_records(PROTOCOL, Config, PAPER_PRESET),
           "seeds": seeds}
    for sname, kind, seed in pairs:
        system = _system(sname)
        scale = SYSTEMS.get(sname, 1.0)
        d, m = system.state_dim, system.control_dim
        cost = QuadraticCost(np.eye(d), np.eye(m))
        w = _disturbance(kind, system, cfg.T, scale, cfg.period, seed)
        game = control(system, w, cost, T=cfg.T)
        blr = None if cfg.bandit_lr is None else Power(cfg.bandit_lr / scale ** 2, 0.75)
        learners = {
            "gpc": GPC(system, cost, H=cfg.H, lr=InverseSqrt(cfg.lr / scale ** 2), kappa_M=cfg.kappa_M),
            "bandit-gpc": BanditGPC(system, cost, H=cfg.bandit_H, kappa_M=cfg.bandit_kappa, lr=blr),
            "lqr": LQR(system, cost),
            "zero": ZeroController(),
        }
        rec = {"system": sname, "disturbance": kind, "seed": seed, "scale": scale, "avg_cost": {}, "curves": {},
               "diverged_at": {}, "regret": {}, "regret_curve": {}, "dfc_avg_cost": {}, "left_validity": {}}
        for name, learner in learners.items():
            try:
                with warnings.catch_warnings():  # recorded in left_validity and flagged by summary()
                    warnings.simplefilter("ignore", LinearizationWarning)
                    tr = play(learner, game, seed=seed)
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
                rec.setdefault("regret_slope", {})[name] = ev.local_slope(reg, 0.5)
        out["runs"].append(rec)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    out.update(_sweep_outputs(out["runs"]))
    out["claims"] = grade_claims(out)
    out["metrics"]["claims_reproduced"] = float(sum(c["verdict"] == "reproduces" for c in out["claims"]))
    return out


def _sweep_outputs(runs) -> dict:
    """``metrics`` (average costs, regrets, :data:`PRIMARY`; means over the seeds) and ``curves`` (mean
    over the seeds) for sweeps; a diverged controller has no average-cost metric (its first
    ``diverged_at`` round is one instead)."""
    acc: dict[str, list] = {}
    cacc: dict[str, list] = {}
    xs, ratios = {}, []
    for r in runs:
        pair = f"{r['system']}/{r['disturbance']}"
        for name, v in r["avg_cost"].items():
            key = f"diverged_at/{pair}/{name}" if v is None else f"avg_cost/{pair}/{name}"
            acc.setdefault(key, []).append(float(r["diverged_at"][name]) if v is None else v)
        for name, v in r["regret"].items():
            acc.setdefault(f"regret/{pair}/{name}", []).append(v)
        for what, src in (("avg_cost", "curves"), ("regret", "regret_curve")):
            for name, (x, y) in r[src].items():
                xs[f"{what}/{pair}/{name}"] = [t + 1 for t in x]
                cacc.setdefault(f"{what}/{pair}/{name}", []).append(y)
        gpc, lqr = r["avg_cost"].get("gpc"), r["avg_cost"].get("lqr")
        if gpc is not None and lqr is not None:
            ratios.append(gpc / lqr)
    metrics = {k: (min(v) if k.startswith("diverged_at/") else float(np.mean(v))) for k, v in acc.items()}
    curves = {k: [float(c) for c in np.mean(v, axis=0)] for k, v in cacc.items()}
    if ratios:
        metrics[PRIMARY] = float(np.exp(np.mean(np.log(ratios))))
    return {"metrics": metrics, "curves": curves, "curve_x": xs}


def grade_claims(res: dict) -> list[dict]:
    """The expected picture (module docstring), graded per (system, seed) from ``res["runs"]``."""
    by = {}
    for r in res["runs"]:
        by.setdefault(r["disturbance"], []).append(r)

    def ratio(r, a, b="lqr"):
        x, y = r["avg_cost"].get(a), r["avg_cost"].get(b)
        return None if x is None or y is None else x / y

    out = []
    src = "Agarwal et al. 2019 (GPC) Thm. 5 and Sec. 7"
    if "gaussian" in by:
        rs = [ratio(r, "gpc") for r in by["gaussian"]]
        out.append(ev.claim("On i.i.d. Gaussian noise LQR is optimal and GPC stays within a few per cent of it.", src,
                            "GPC's average cost <= 1.10 × LQR's, per (system, seed)",
                            f"GPC / LQR {ev.fmt_se([v for v in rs if v is not None])} (worst "
                            f"{max(v for v in rs if v is not None):.3f})", [v is not None and v <= 1.10 for v in rs],
                            unit="(system, seed) pairs"))
    for kind in ("sinusoidal", "adversarial"):
        if kind in by:
            rs = [ratio(r, "gpc") for r in by[kind]]
            out.append(ev.claim(f"On {kind} disturbances GPC beats LQR.", src,
                                "GPC's average cost < LQR's, per (system, seed)",
                                f"GPC / LQR {ev.fmt_se([v for v in rs if v is not None])}",
                                [v is not None and v < 1 for v in rs], unit="(system, seed) pairs"))
    allr = res["runs"]
    slopes = [r.get("regret_slope", {}).get("gpc") for r in allr if "gpc" in r["regret"]]
    shown = ", ".join("≤0" if s is None else f"{s:.2f}" for s in slopes)
    out.append(ev.claim("GPC's regret against the best DFC in hindsight is sublinear.", src,
                        "the local slope of log regret vs log t over the second half of the run is < 0.9 (or the regret "
                        "is <= 0 there), per (system, disturbance, seed)", f"local slopes {shown}",
                        [s is None or s < 0.9 for s in slopes], unit="runs"))
    bg = [ratio(r, "bandit-gpc", "gpc") for r in allr if r["disturbance"] != "gaussian"]
    out.append(ev.claim("Bandit GPC (only the scalar cost observed) learns far more slowly than GPC.",
                        "Gradu et al. 2020; nonconvex-meta-optimization Alg. 6",
                        "bandit GPC's average cost > GPC's on the non-Gaussian disturbances, per (system, disturbance, "
                        "seed)", f"bandit GPC / GPC {ev.fmt_se([v for v in bg if v is not None])}",
                        [v is not None and v > 1 for v in bg], unit="runs"))
    return out


def _pairs(runs) -> dict:
    """``{(system, disturbance): [record per seed]}`` in order of appearance."""
    out: dict = {}
    for r in runs:
        out.setdefault((r["system"], r["disturbance"]), []).append(r)
    return out


def summary(results: dict) -> str:
    """A table: average cost per controller, best-DFC cost and regrets (mean ± s.e. over seeds); claims."""
    n = len(results.get("seeds", [0]))
    head = (f"{'system':18s} {'disturbance':12s} " + " ".join(f"{c:>15s}" for c in CONTROLLERS)
            + f" {'best DFC':>10s} {'GPC regret':>15s} {'bandit reg':>15s}")
    lines = [f"average cost per round (T = {results['config']['T']}, mean ± s.e. over {n} seeds)", head, "-" * len(head)]
    for (sname, kind), recs in _pairs(results["runs"]).items():
        cells = []
        for c in CONTROLLERS:
            vals = [r["avg_cost"].get(c) for r in recs]
            ok = [v for v in vals if v is not None]
            div = [r["diverged_at"].get(c) for r in recs if r["avg_cost"].get(c) is None]
            cell = ev.fmt_se(ok, 4) if ok else f"div@{min(div)}"
            if ok and div:
                cell += f" ({len(div)} div.)"
            cells.append(f"{cell:>15s}")
        dfc = [r["dfc_avg_cost"]["gpc"] for r in recs if "gpc" in r["dfc_avg_cost"]]
        reg = {c: [r["regret"][c] for r in recs if c in r["regret"]] for c in ("gpc", "bandit-gpc")}
        lines.append(f"{sname:18s} {kind:12s} " + " ".join(cells) + f" {ev.fmt_se(dfc, 4) if dfc else 'n/a':>10s}"
                     + f" {ev.fmt_se(reg['gpc'], 4) if reg['gpc'] else 'n/a':>15s}"
                     + f" {ev.fmt_se(reg['bandit-gpc'], 4) if reg['bandit-gpc'] else 'n/a':>15s}")
    lines.append("(best DFC: the best fixed M in hindsight with GPC's K, H and set, on GPC's realised "
                 "disturbances; regret = controller's total cost minus its best DFC's)")
    left = [f"{r['system']}/{r['disturbance']}/{c} (seed {r.get('seed', 0)}, t={t})" for r in results["runs"]
            for c, t in r.get("left_validity", {}).items() if t is not None]
    if left:
        lines.append("left the linear model's validity region (pendulum: |theta| <= 0.55 rad; the model is "
                     "inaccurate there), first exit: " + ", ".join(left))
    return ev.report(results, "\n".join(lines))


def plot(results: dict, outdir: str) -> list[str]:
    """Running-average cost curves and regret curves (mean ± s.e. over seeds), one panel per (system,
    disturbance); a controller that diverged in some seed says so in its legend entry."""
    plt = pyplot()

    groups = _pairs(results["runs"])
    systems = list(dict.fromkeys(s for s, _ in groups))
    kinds = list(dict.fromkeys(k for _, k in groups))
    cfg = results["config"]
    paths = []
    for what in ("curves", "regret_curve"):
        fig, axes = plt.subplots(len(systems), len(kinds), figsize=(4 * len(kinds), 3 * len(systems)),
                                 squeeze=False)
        for (sname, kind), recs in groups.items():
            ax = axes[systems.index(sname)][kinds.index(kind)]
            for name in CONTROLLERS:
                ys = [r[what][name][1] for r in recs if name in r[what]]
                n_div = sum(1 for r in recs if r["avg_cost"].get(name, 0) is None)
                if not ys:
                    if n_div:
                        ax.plot([], [], "x", label=f"{name}: diverged ({n_div}/{len(recs)} seeds)")
                    continue
                x = np.asarray(next(r[what][name][0] for r in recs if name in r[what])) + 1
                label = name + (f" ({n_div}/{len(recs)} diverged)" if n_div else "")
                band(ax, x, ys, label, log=what == "curves")
            ax.set_title(f"{sname} / {kind}", fontsize="small")
            ax.set_xlabel("round $t$")
            if what == "curves":
                ax.set_ylabel(r"average cost $\frac{1}{t}\sum_{s \leq t} c_s$")
            else:
                symlog_regret(ax)
                ax.set_ylabel("regret vs best DFC")
            ax.legend(fontsize="x-small")
        suptitle(fig, NAME, f"{'running-average cost' if what == 'curves' else 'regret vs best DFC (symlog)'}; "
                 f"T = {cfg['T']}, H = {cfg['H']}, lr = {cfg['lr']:g}, {len(results.get('seeds', [0]))} seeds")
        path = save_figure(fig, outdir, "gpc_vs_lqr_costs.png" if what == "curves" else "gpc_vs_lqr_regret.png", dpi=110)
        paths.append(path)
    return paths
