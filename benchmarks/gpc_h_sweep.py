"""GPC's memory H on the inverted pendulum: the measured sweep behind docs/control.md ("Choosing H").

The setting is exactly ``olc run gpc-vs-lqr``'s pendulum / adversarial cell: the linearised
pendulum ``olc.systems.inverted_pendulum()`` (dt = 0.05), ``Q = I``, ``R = I``, the adaptive
"ascent" adversary of norm 0.1 (``Adversarial(2, bound=0.1, kind="ascent", system=...)``), GPC
with ``K`` = the LQR gain, ``lr = InverseSqrt(0.01 / 0.1²)``, ``kappa_M = 5``, ``gamma = 0``,
``T = 4000``. The seed drives the adversary's random direction when the state is at rest.

For every H it measures (mean ± standard error over the seeds):

1. GPC's average cost (all rounds, first quarter, last quarter) and the norm of its final ``M``;
2. ``||(A − BK)^H||``, the part of a disturbance's effect that GPC's H-step counterfactual loss
   leaves out (the truncation of docs/gpc-semantics.md step 3);
3. on one *fixed* disturbance sequence (the one the adversary produced against LQR, replayed
   obliviously): GPC's average cost, the best DFC's (``BestDFC``, the exact optimum of the class),
   and the true cost ``J(M_s)`` of the minimiser ``M_s`` of GPC's own objective — the sum of the
   counterfactual losses ``Σ_t ℓ_t(M)`` over the same set — which shows whether the *objective*
   (not the learning) is at fault;
4. a learning-rate grid (``lr`` in ``η_t = lr / (0.1² √t)``, including ``lr = 0.1 / H``, which is
   the default 0.01 at H = 10) and a DFC-radius grid (``kappa_M``).

Usage::

    python benchmarks/gpc_h_sweep.py [--quick] [--seeds 5] [--out DIR]

writes ``gpc_h_sweep.json`` (atomically) and ``gpc_h_sweep.png`` to ``--out`` (default
``olc-results/gpc-h-sweep``) and prints the tables in docs/control.md's format. About 3 minutes
on two idle cores (``--quick``: ~20 s).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

import olc
from olc._io import atomic_write_json
from olc.comparators import BestDFC
from olc.comparators.fixed import minimize_over_set
from olc.learners import GPC, LQR
from olc.optim import InverseSqrt
from olc.systems import Adversarial, QuadraticCost, inverted_pendulum

SCALE = 0.1           # the pendulum's disturbance scale in gpc-vs-lqr (SYSTEMS["pendulum"])


def setting():
    system = inverted_pendulum()
    cost = QuadraticCost(np.eye(2), np.eye(1))
    return system, cost


def adversary(system):
    return Adversarial(2, bound=SCALE, kind="ascent", system=system)


def gpc(system, cost, H, lr=0.01, kappa_M=5.0):
    """GPC as gpc-vs-lqr builds it; ``lr`` a number or ``"c/H"`` (the rate divided by the memory)."""
    if isinstance(lr, str):
        lr = float(lr.split("/")[0]) / H
    return GPC(system, cost, H=H, lr=InverseSqrt(lr / SCALE ** 2), kappa_M=kappa_M)


def mean_se(values):
    v = np.asarray(values, float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def surrogate_minimiser(controller, W):
    """The minimiser over GPC's set of ``S(M) = Σ_t ℓ_t(M)`` (GPC's counterfactual losses on ``W``).

    ``S`` is a convex quadratic in ``vec M``; it is read off ``n + 1`` gradient sums (at 0 and at
    the unit vectors) computed with GPC's own ``counterfactual`` and minimised over ``GPC.Mset``.
    """
    H, m, d = controller.H, controller.m, controller.d
    n = H * m * d

    def grad_sum(M):
        wbuf = np.zeros((2 * H, d))
        g = np.zeros_like(M)
        for t in range(len(W)):
            g += controller.counterfactual(M, wbuf, t)[1]
            wbuf = np.roll(wbuf, 1, axis=0)
            wbuf[0] = W[t]
        return g.ravel()

    g0 = grad_sum(np.zeros((H, m, d)))
    P = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        P[:, k] = grad_sum(e.reshape(H, m, d)) - g0
    P = (P + P.T) / 2                        # ∇S(p) = P p + g0
    lam = max(float(np.linalg.eigvalsh(P)[-1]), 1e-300)
    f = lambda z: float(0.5 * z.ravel() @ P @ z.ravel() + g0 @ z.ravel()) / lam   # noqa: E731
    gr = lambda z: (P @ z.ravel() + g0) / lam                                    # noqa: E731
    return minimize_over_set(f, gr, controller.Mset, (H, m, d), tol=1e-12)


def run(Hs, seeds, T, lrs, kappas, kappa_Hs, progress=True):
    system, cost = setting()
    K = LQR(system, cost).K
    Acl = system.A() - system.B() @ K
    out = {"setting": {"system": "inverted_pendulum(dt=0.05)", "Q": "I", "R": "I", "disturbance":
                       f"Adversarial(bound={SCALE}, kind='ascent')", "T": T, "seeds": list(seeds),
                       "lr": f"InverseSqrt(lr / {SCALE}^2)", "kappa_M": 5.0, "gamma": 0.0},
           "transient": [float(np.linalg.norm(np.linalg.matrix_power(Acl, k), 2)) for k in range(0, 41)],
           "lqr": {}, "H": {}, "lr_grid": {}, "kappa_grid": {}}
    bar = tqdm(total=len(seeds) * (1 + 2 * len(Hs) + len(lrs) * len(Hs) + len(kappas) * len(kappa_Hs)),
               desc="gpc-h-sweep", disable=not progress)
    lqr_costs, fixed_W = [], {}
    for s in seeds:
        tr = olc.play(LQR(system, cost), olc.games.control(system, adversary(system), cost, T=T), seed=s)
        lqr_costs.append(tr.losses.mean())
        fixed_W[s] = tr.info["disturbances"]
        bar.update()
    out["lqr"] = dict(zip(("mean", "se"), mean_se(lqr_costs)))
    q = T // 4
    for H in Hs:
        rec = {"transient_H": float(np.linalg.norm(np.linalg.matrix_power(Acl, H), 2))}
        runs = []
        for s in seeds:
            g = gpc(system, cost, H)
            tr = olc.play(g, olc.games.control(system, adversary(system), cost, T=T), seed=s)
            M = g.current_M(tr.final_state)
            runs.append((tr.losses.mean(), tr.losses[:q].mean(), tr.losses[-q:].mean(),
                         float(np.max(np.linalg.norm(M, ord=2, axis=(1, 2))))))
            bar.update()
        runs = np.array(runs)
        for j, key in enumerate(("avg", "first_quarter", "last_quarter", "final_M_norm")):
            rec[key] = dict(zip(("mean", "se"), mean_se(runs[:, j])))
        fixed = []
        for s in seeds:
            W = fixed_W[s]
            g = gpc(system, cost, H)
            tr = olc.play(g, olc.games.control(system, W, cost), seed=s)
            best = BestDFC(system, cost, H=H, kappa_M=5.0)
            best.fit(W)
            fixed.append((tr.losses.mean(), best.total / T))
            bar.update()
        fixed = np.array(fixed)
        rec["fixed_W"] = {"gpc": dict(zip(("mean", "se"), mean_se(fixed[:, 0]))),
                          "best_dfc": dict(zip(("mean", "se"), mean_se(fixed[:, 1])))}
        # GPC's own objective on the first seed's sequence: is its minimiser a good controller?
        W = fixed_W[seeds[0]]
        Ms = surrogate_minimiser(gpc(system, cost, H), W)
        best = BestDFC(system, cost, H=H, kappa_M=5.0)
        rec["fixed_W"]["J_surrogate_minimiser"] = float(best.evaluate(Ms, W).mean())
        rec["fixed_W"]["J_zero"] = float(best.evaluate(np.zeros_like(Ms), W).mean())
        rec["fixed_W"]["surrogate_minimiser_norm"] = float(np.max(np.linalg.norm(Ms, ord=2, axis=(1, 2))))
        out["H"][str(H)] = rec
    for lr in lrs:
        out["lr_grid"][str(lr)] = {}
        for H in Hs:
            c = []
            for s in seeds:
                tr = olc.play(gpc(system, cost, H, lr=lr), olc.games.control(system, adversary(system), cost, T=T),
                              seed=s)
                c.append(tr.losses.mean())
                bar.update()
            out["lr_grid"][str(lr)][str(H)] = dict(zip(("mean", "se"), mean_se(c)))
    for kap in kappas:
        out["kappa_grid"][str(kap)] = {}
        for H in kappa_Hs:
            c = []
            for s in seeds:
                tr = olc.play(gpc(system, cost, H, kappa_M=kap),
                              olc.games.control(system, adversary(system), cost, T=T), seed=s)
                c.append(tr.losses.mean())
                bar.update()
            out["kappa_grid"][str(kap)][str(H)] = dict(zip(("mean", "se"), mean_se(c)))
    bar.close()
    return out


def tables(res) -> str:
    f = lambda d: f"{d['mean']:.3g} ± {d['se']:.2g}"  # noqa: E731
    n = len(res["setting"]["seeds"])
    lines = [f"LQR average cost: {f(res['lqr'])} ({n} seeds, T = {res['setting']['T']})", "",
             "| H | ‖(A−BK)^H‖ | GPC avg cost | first quarter | last quarter | ‖M_T‖ | fixed w: GPC | fixed w: "
             "best DFC | fixed w: J(argmin Σℓ_t) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for H, r in res["H"].items():
        fw = r["fixed_W"]
        lines.append(f"| {H} | {r['transient_H']:.2f} | {f(r['avg'])} | {f(r['first_quarter'])} | "
                     f"{f(r['last_quarter'])} | {r['final_M_norm']['mean']:.2f} | {f(fw['gpc'])} | "
                     f"{f(fw['best_dfc'])} | {fw['J_surrogate_minimiser']:.3g} |")
    Hs = list(res["H"])
    lines += ["", "| lr (η_t = lr / (0.1² √t)) | " + " | ".join(f"H={H}" for H in Hs) + " |",
              "|---|" + "---|" * len(Hs)]
    for lr, row in res["lr_grid"].items():
        lines.append(f"| {lr} | " + " | ".join(f(row[H]) for H in Hs) + " |")
    if res["kappa_grid"]:
        kHs = list(next(iter(res["kappa_grid"].values())))
        lines += ["", "| kappa_M | " + " | ".join(f"H={H}" for H in kHs) + " |", "|---|" + "---|" * len(kHs)]
        for kap, row in res["kappa_grid"].items():
            lines.append(f"| {kap} | " + " | ".join(f(row[H]) for H in kHs) + " |")
    return "\n".join(lines)


def figure(res, path):
    plt = olc.plot.pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    Hs = [int(h) for h in res["H"]]
    for lr, row in res["lr_grid"].items():
        m = [row[str(H)]["mean"] for H in Hs]
        e = [row[str(H)]["se"] for H in Hs]
        a.errorbar(Hs, m, yerr=e, marker="o", capsize=3, label=f"GPC, lr={lr}")
    a.axhline(res["lqr"]["mean"], color="k", ls=":", label="LQR")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("H (memory)")
    a.set_ylabel("average cost (mean ± s.e.)")
    a.set_title("pendulum, adaptive 'ascent' adversary (norm 0.1)", fontsize="small")
    a.legend(fontsize="x-small")
    k = np.arange(len(res["transient"]))
    b.plot(k, res["transient"], label="‖(A−BK)^k‖")
    b.axhline(1.0, color="0.5", lw=0.7)
    b2 = b.twinx()
    b2.plot(Hs, [res["H"][str(H)]["fixed_W"]["J_surrogate_minimiser"] for H in Hs], "s-", color="C3",
            label="J(argmin of GPC's objective)")
    b2.plot(Hs, [res["H"][str(H)]["fixed_W"]["best_dfc"]["mean"] for H in Hs], "^--", color="C2", label="best DFC")
    b2.axhline(res["H"][str(Hs[0])]["fixed_W"]["J_zero"], color="k", ls=":", label="M = 0 (LQR)")
    b2.set_ylabel("average cost on a fixed w")
    b.set_xlabel("k (steps) / H")
    b.set_ylabel("‖(A−BK)^k‖ (closed-loop transient)")
    b.set_title("why small H fails: the transient outlives the memory", fontsize="small")
    h1, l1 = b.get_legend_handles_labels()
    h2, l2 = b2.get_legend_handles_labels()
    b.legend(h1 + h2, l1 + l2, fontsize="x-small")
    fig.tight_layout()
    return olc.plot.save(fig, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="T = 1000, 2 seeds, H in 1, 3, 10, 30")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--T", type=int, default=4000)
    p.add_argument("--out", default=os.path.join("olc-results", "gpc-h-sweep"))
    a = p.parse_args(argv)
    Hs, seeds, T = [1, 2, 3, 5, 10, 20, 30], list(range(a.seeds)), a.T
    lrs, kappas, kappa_Hs = [0.001, 0.003, 0.01, 0.03, "0.1/H"], [0.5, 1.0, 5.0], [3, 10, 30]
    if a.quick:
        Hs, seeds, T, lrs, kappas, kappa_Hs = [1, 3, 10, 30], [0, 1], 1000, [0.001, 0.01, "0.1/H"], [1.0, 5.0], [3, 30]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", olc.systems.LinearizationWarning)   # |θ| > 0.55 for the worst H
        res = run(Hs, seeds, T, lrs, kappas, kappa_Hs)
    res["seconds"] = time.perf_counter() - t0
    os.makedirs(a.out, exist_ok=True)
    atomic_write_json(os.path.join(a.out, "gpc_h_sweep.json"), res)
    print(tables(res))
    print(f"\n{res['seconds']:.0f} s; figure: {figure(res, os.path.join(a.out, 'gpc_h_sweep.png'))}")


if __name__ == "__main__":
    main()
