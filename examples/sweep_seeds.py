"""A sweep over step sizes and seeds: OGD's regret, mean ± standard error over 8 seeds.

Run:  python examples/sweep_seeds.py [--out DIR] [--workers N]

One question, asked properly: how does OGD's regret on i.i.d. linear losses depend on the scale
``c`` of its step size ``η_t = c·D/(G√t)`` (Zinkevich 2003; ``c = 1`` is the textbook choice)? One
seed answers it badly — regret is a random quantity — so ``olc.sweep`` runs every (c, seed) cell,
writes each to disk as it finishes (rerun the script: nothing is recomputed) and returns a pandas
table; ``olc.sweeps.aggregate`` gives mean, standard error and a bootstrap interval per ``c``, and
``olc.sweeps.load_curves`` the per-seed regret curves, plotted here as mean ± s.e. bands.

``--workers 0`` (default) runs the cells in this process; ``--workers 2`` on a 2-process Dask
``LocalCluster`` (the table is the same, bit for bit). The ``if __name__ == "__main__"`` guard
matters with Dask: its worker processes import this file.
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.comparators import BestFixed
from olc.experiments import thin_curve
from olc.learners import OGD
from olc.optim import InverseSqrt
from olc.sets import Ball

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed


def ogd_regret(c, seed, T=2000, dim=5):
    """One cell: OGD with step scale ``c`` on i.i.d. uniform linear losses drawn from ``seed``."""
    D, G = 2.0, np.sqrt(dim)  # the unit ball's diameter; the largest possible ||g_t||
    game = olc.games.random_linear(T, dim, seed=seed)
    trace = olc.play(OGD(Ball(1.0), lr=InverseSqrt(c * D / G)), game, seed=seed)
    regret = trace.regret(BestFixed(Ball(1.0)))
    t, values = thin_curve(regret, 100)
    # metrics: scalars of this seed; curves: lists of numbers (curve_x: their x positions)
    return {"metrics": {"final_regret": float(regret[-1]), "regret_over_sqrt_T": float(regret[-1] / np.sqrt(T))},
            "curves": {"regret": values}, "curve_x": {"regret": [i + 1 for i in t]}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp()

    # 1. The sweep: 3 step scales × 8 seeds = 24 cells, saved under out/sweep/ as they finish.
    table = olc.sweep(ogd_regret, {"c": [0.1, 1.0, 10.0]}, seeds=8, out=os.path.join(out, "sweep"),
                      workers=args.workers, progress=False)
    print(table[["c", "seed", "status", "final_regret"]].head())

    # 2. Statistics over seeds per step scale (bootstrap seeded: the same numbers every run).
    stats = olc.sweeps.aggregate(table, "final_regret", n_boot=2000, seed=0)
    print(stats)

    # 3. The picture: each seed faint, the mean bold, a ±1 s.e. band around it.
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, curves in enumerate(olc.sweeps.load_curves(os.path.join(out, "sweep"), "regret")):
        color = f"C{i}"
        for v in curves.values:
            ax.plot(curves.x, v, color=color, lw=0.5, alpha=0.3)
        mean = curves.values.mean(axis=0)
        se = curves.values.std(axis=0, ddof=1) / np.sqrt(len(curves.seeds))
        ax.plot(curves.x, mean, color=color, lw=2, label=f"c = {curves.params['c']}")
        ax.fill_between(curves.x, mean - se, mean + se, color=color, alpha=0.25, lw=0)
    ax.set(xlabel="round t", ylabel="regret vs the best fixed point",
           title=f"OGD, η_t = c·D/(G√t): mean ± s.e. over {table['seed'].nunique()} seeds")
    ax.legend()
    path = olc.plot.finish(fig, os.path.join(out, "sweep_seeds.png"))  # layout, atomic write, close
    print(f"figure: {path}")

    # 4. What the seeds say: do the 95 % intervals of the best and the worst step scale overlap?
    means = stats[("final_regret", "mean")]
    best, worst = means.idxmin(), means.idxmax()
    overlap = stats.loc[best, ("final_regret", "ci_high")] >= stats.loc[worst, ("final_regret", "ci_low")]
    print(f"smallest mean regret at c = {best}, largest at c = {worst}; their 95% intervals "
          f"{'overlap: more seeds needed to tell them apart' if overlap else 'do not overlap'}")


if __name__ == "__main__":
    main()
