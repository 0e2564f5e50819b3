"""Learning from loss values only: FKM and BCO with memory (nonconvex-meta-optimization Alg. 6).

Run:  python examples/bandit_feedback.py [--out DIR]

A bandit learner sees f_t(y_t) — one number — per round. FKM turns it into a gradient
estimate (d/δ) f_t(y_t) u_t with u_t random on the unit sphere. With memory the loss sees the
last L decisions; Alg. 6 perturbs every decision, sums the last L perturbations into its
estimate and applies it L-1 rounds late. Regret grows like T^{3/4} in theory; OGD with full
gradients (√T) is shown for scale.
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.comparators import BestFixed
from olc.learners import FKM, OGD, BCOMemory
from olc.optim import InverseSqrt
from olc.sets import Ball

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None)
parser.add_argument("--T", type=int, default=4000)
args = parser.parse_args()
out = args.out or tempfile.mkdtemp()

K = Ball(1.0)
smooth = olc.games.random_quadratic(args.T, 3, seed=0)  # f_t(x) = ½||x - c_t||² - ½||c_t||²
memory_game = olc.games.with_memory(smooth, 3)  # f_t(x_{t-2}, x_{t-1}, x_t) = base_t(mean of the three)

runs = {
    "OGD (gradients)": (OGD(K, lr=InverseSqrt(0.5)), smooth),
    "FKM (values only)": (FKM(K), smooth),  # δ and η default to the T^{-1/4}, t^{-3/4} schedules
    "BCO-M, L=3 (values only, memory)": (BCOMemory(K, memory=3), memory_game),
}
fig, ax = plt.subplots(figsize=(6, 4))
for name, (learner, game) in runs.items():
    R = olc.play(learner, game, seed=0).regret(BestFixed(K))
    print(f"{name:34s} regret after {args.T} rounds: {R[-1]:8.2f}")
    ax.loglog(np.arange(1, args.T + 1), np.maximum(R, 1e-2), label=name)
t = np.arange(1, args.T + 1)
ax.loglog(t, t ** 0.75, "k--", lw=1, label="t^{3/4}")
ax.set_xlabel("round t")
ax.set_ylabel("regret")
ax.legend(fontsize=7)
path = olc.plot.finish(fig, os.path.join(out, "bandit_feedback.png"))  # layout, atomic write, close
print("figure:", path)
