"""Regret of OCO and bandit learners on standard adversaries, with fitted exponents and bounds.

Learners: FTRL, OGD, AO-FTRL with good hints (previous gradient on a slowly drifting
sequence) and bad hints (the negated previous gradient), Hedge on the simplex, FKM and BCO
with memory (``nonconvex-meta-optimization`` Alg. 6) on smooth convex losses. For each
learner and adversary: the anytime regret curve against the best fixed decision, its fitted
log-log slope over the last two decades of rounds, and the theoretical bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import games, play
from ..comparators import BestFixed
from ..errors import InvalidArgumentError
from ..learners import AOFTRL, FKM, FTRL, OGD, BCOMemory, Hedge, InverseSqrt
from ..sets import Ball, Simplex
from . import check_config, integer, positive, thin_curve
from ._plot import pyplot, save_figure

NAME = "oco-regret"
PRIMARY = "regret/iid-linear/OGD"  # final regret of OGD on i.i.d. linear losses (grows like √T)
EXTRAS = ()


@dataclass
class Config:
    """Each run averages ``seeds`` games, with seeds ``seed·seeds, …, seed·seeds + seeds − 1`` (so runs
    with different ``seed`` never share a game; ``seed=0`` plays seeds ``0..seeds−1``). In a sweep over
    seeds use ``seeds=1``: one game per cell."""

    T: int = 10_000
    dim: int = 5
    seeds: int = 2
    memory: int = 3
    radius: float = 1.0
    seed: int = 0


#: T >= 2: the regret exponent is a fitted slope (two rounds at least); dim >= 2: the drifting
#: adversary rotates in the first two coordinates
CHECKS = {"T": integer(2), "dim": integer(2), "seeds": integer(1), "memory": integer(1), "radius": positive,
          "seed": integer(0)}


def check(cfg: Config) -> Config:
    """:data:`CHECKS`, and a memory no longer than the game (``memory <= T``)."""
    check_config(cfg, CHECKS)
    if cfg.memory > cfg.T:
        raise InvalidArgumentError(f"memory: expected an integer <= T = {cfg.T}, got {cfg.memory!r}")
    return cfg


def fit_slope(curve: np.ndarray, t_min: int | None = None) -> float:
    """Least-squares slope of ``log R_t`` against ``log t`` on log-spaced ``t ∈ [t_min, T]``
    (default ``t_min = T/100``, at least 2 and at most ``T − 1`` so that two points are fitted) — the
    empirical regret exponent. Non-positive values are clipped to a tiny positive number (a learner
    with negative regret has exponent ≈ 0)."""
    T = len(curve)
    t_min = max(1, min(max(2, T // 100), T - 1)) if t_min is None else t_min
    ts = np.unique(np.geomspace(t_min, T, 30).astype(int))
    r = np.maximum(curve[ts - 1], 1e-9)
    return float(np.polyfit(np.log(ts), np.log(r), 1)[0])


def _drifting(T, dim, rng, noise=0.1):
    """A fixed bias plus a slowly rotating cost and small noise: consecutive gradients are close
    (good hints for AO-FTRL) and the best fixed decision still gains from the bias."""
    angle = np.linspace(0, 4 * np.pi, T)
    base = np.zeros((T, dim))
    base[:, 0], base[:, 1] = 0.5 * np.cos(angle), 0.5 * np.sin(angle)
    base[:, -1] = 0.5
    return base + noise * rng.uniform(-1, 1, size=(T, dim))


def _adversaries(cfg, seed):
    rng = np.random.default_rng(seed)
    T, d = cfg.T, cfg.dim
    return {
        "iid-linear": games.random_linear(T, d, seed=rng),
        "drifting-linear": games.linear(_drifting(T, d, rng)),
        "adaptive-linear": games.adversarial_linear(T, d),
    }


def run(config: Config | None = None, progress=None) -> dict:
    cfg = check(config or Config())
    K = Ball(cfg.radius)
    D, G = 2 * cfg.radius, np.sqrt(cfg.dim)  # diameter; bound on ||g|| for coordinates in [-1, 1]
    lr = InverseSqrt(D / G)
    learners = {
        "FTRL": lambda: FTRL(K, lr=lr),
        "OGD": lambda: OGD(K, lr=lr),
        "AO-FTRL (good hints)": lambda: AOFTRL(K, hint="previous"),
        "AO-FTRL (bad hints)": lambda: AOFTRL(K, hint=lambda t, s: -s.last_g),
    }
    jobs = [(adv, name) for adv in ("iid-linear", "drifting-linear", "adaptive-linear") for name in learners]
    jobs += [("simplex-[0,1]", "Hedge"), ("smooth-convex", "OGD"), ("smooth-convex", "FKM"),
             (f"smooth-convex-memory{cfg.memory}", "BCO-M")]
    bar = progress(len(jobs) * cfg.seeds, NAME) if progress else None
    curves: dict[tuple[str, str], list[np.ndarray]] = {}
    eq6: dict[tuple[str, str], list[float]] = {}
    for seed in range(cfg.seed * cfg.seeds, (cfg.seed + 1) * cfg.seeds):
        advs = _adversaries(cfg, seed)
        rng = np.random.default_rng(1000 + seed)
        advs["simplex-[0,1]"] = games.linear(rng.uniform(0, 1, size=(cfg.T, cfg.dim)))
        smooth = games.random_quadratic(cfg.T, cfg.dim, seed=2000 + seed)
        advs["smooth-convex"] = smooth
        advs[f"smooth-convex-memory{cfg.memory}"] = games.with_memory(smooth, cfg.memory)
        for adv, name in jobs:
            if name == "Hedge":
                learner, comp = Hedge(), BestFixed(Simplex(cfg.dim))
            elif name == "FKM":
                learner, comp = FKM(K), BestFixed(K)
            elif name == "BCO-M":
                learner, comp = BCOMemory(K, memory=cfg.memory), BestFixed(K)
            elif adv == "smooth-convex":
                learner, comp = OGD(K, lr=lr), BestFixed(K)
            else:
                learner, comp = learners[name](), BestFixed(K)
            trace = play(learner, advs[adv], seed=seed)
            curves.setdefault((adv, name), []).append(trace.regret(comp))
            if isinstance(learner, AOFTRL):  # eq. (6) of optimistic-meta-gradients for this run
                eq6.setdefault((adv, name), []).append(learner.regret_bound(trace.final_state, cfg.radius))
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    rows = []
    T = cfg.T
    metrics, sweep_curves, curve_x = {}, {}, {}
    for (adv, name), cs in curves.items():
        mean = np.mean(cs, axis=0)
        key = f"{adv}/{name}"
        metrics[f"regret/{key}"], metrics[f"slope/{key}"] = float(mean[-1]), fit_slope(mean)
        x, sweep_curves[f"regret/{key}"] = thin_curve(mean)
        curve_x[f"regret/{key}"] = [t + 1 for t in x]  # round t (1-based)
        bound = float(np.mean(eq6[(adv, name)])) if (adv, name) in eq6 else _bound(name, adv, cfg, T)
        rows.append({"adversary": adv, "learner": name, "final_regret": float(mean[-1]),
                     "slope": fit_slope(mean), "theory_exponent": _theory_exponent(name, adv),
                     "bound": bound,
                     "curve_t": np.unique(np.geomspace(1, T, 60).astype(int)).tolist()})
        rows[-1]["curve"] = mean[np.array(rows[-1]["curve_t"]) - 1].tolist()
    return {"T": T, "dim": cfg.dim, "seeds": cfg.seeds, "rows": rows, "metrics": metrics, "curves": sweep_curves,
            "curve_x": curve_x}


def _theory_exponent(name, adv):
    if name in ("FKM", "BCO-M"):
        return 0.75
    if name == "AO-FTRL (good hints)" and adv == "drifting-linear":
        return 0.5  # bound sqrt(Σ||g_t - g_{t-1}||²): small constant times sqrt(T) with noise
    return 0.5


def _bound(name, adv, cfg, T):
    D, G = 2 * cfg.radius, np.sqrt(cfg.dim)
    if name == "OGD" and adv != "smooth-convex":
        return 1.5 * D * G * np.sqrt(T)  # Zinkevich 2003, Thm. 1 with η_t = D/(G√t)
    if name == "FTRL":
        # eq. (6) with no hints and β_t = D/(G√t): r²G√T/(2D) + Σ D G/(2√t) <= (r²/(2D) + D) G √T
        return (cfg.radius ** 2 / (2 * D) + D) * G * np.sqrt(T)
    if name == "Hedge":
        return float(np.sqrt(T * np.log(cfg.dim) / 2))
    return None


def summary(results: dict) -> str:
    lines = [f"regret after T={results['T']} rounds (d={results['dim']}, mean of {results['seeds']} seeds)",
             f"{'adversary':24s} {'learner':22s} {'regret':>10s} {'slope':>6s} {'theory':>6s} {'bound':>10s}"]
    for r in results["rows"]:
        b = "-" if r["bound"] is None else f"{r['bound']:.1f}"
        lines.append(f"{r['adversary']:24s} {r['learner']:22s} {r['final_regret']:10.2f} {r['slope']:6.2f} "
                     f"{r['theory_exponent']:6.2f} {b:>10s}")
    return "\n".join(lines)


def plot(results: dict, outdir: str) -> list[str]:

    plt = pyplot()

    advs = sorted({r["adversary"] for r in results["rows"]})
    fig, axes = plt.subplots(1, len(advs), figsize=(4.2 * len(advs), 3.6), squeeze=False)
    for ax, adv in zip(axes[0], advs):
        for r in results["rows"]:
            if r["adversary"] != adv:
                continue
            t = np.array(r["curve_t"])
            ax.loglog(t, np.maximum(r["curve"], 1e-3), label=f"{r['learner']} (slope {r['slope']:.2f})")
        t = np.array(results["rows"][0]["curve_t"])
        ax.loglog(t, np.sqrt(t), "k:", lw=1, label="√t")
        ax.loglog(t, t ** 0.75, "k--", lw=1, label="t^{3/4}")
        ax.set_title(adv)
        ax.set_xlabel("round t")
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("regret vs best fixed")
    path = save_figure(fig, outdir, "oco_regret.png", dpi=120)
    return [path]
