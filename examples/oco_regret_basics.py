"""Regret in one picture: FTRL, OGD and optimistic FTRL (AO-FTRL) on linear losses.

Run:  python examples/oco_regret_basics.py [--out DIR]

The adversary plays costs g_t that drift slowly, so the previous gradient is a good guess of
the next one. AO-FTRL (eq. (5) of optimistic-meta-gradients) uses that guess as a hint; its
regret bound eq. (6) shrinks with the hint errors ||g_t - h_t||². A misleading hint (the
negated previous gradient) makes the bound larger but never breaks it.
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.comparators import BestFixed
from olc.learners import AOFTRL, FTRL, OGD
from olc.optim import InverseSqrt
from olc.sets import Ball

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None)
parser.add_argument("--T", type=int, default=3000)
args = parser.parse_args()
out = args.out or tempfile.mkdtemp()

# 1. The environment: a slowly rotating cost plus a fixed bias and a little noise.
rng = np.random.default_rng(0)
angle = np.linspace(0, 6 * np.pi, args.T)
G = np.stack([np.cos(angle), np.sin(angle), np.full(args.T, 0.5)], axis=1) + 0.05 * rng.normal(size=(args.T, 3))
game = olc.games.linear(G)

# 2. The learners (all on the unit ball). InverseSqrt(c) is the anytime step c/sqrt(t).
K = Ball(1.0)
learners = {
    "FTRL": FTRL(K, lr=InverseSqrt(1.0)),
    "OGD": OGD(K, lr=InverseSqrt(1.0)),
    "AO-FTRL, hint = previous gradient": AOFTRL(K, hint="previous"),
    "AO-FTRL, hint = -previous gradient": AOFTRL(K, hint=lambda t, state: -state.last_g),
}

# 3. Play each one and measure regret against the best fixed point in hindsight
#    (closed form for linear losses: -||Σ g||, for every prefix).
fig, ax = plt.subplots(figsize=(6, 4))
for name, learner in learners.items():
    trace = olc.play(learner, game, seed=0)
    R = trace.regret(BestFixed(K))
    line = f"{name:38s} final regret {R[-1]:8.2f}"
    if isinstance(learner, AOFTRL):  # the eq. (6) bound for the rounds played
        line += f"   eq.(6) bound {learner.regret_bound(trace.final_state, 1.0):8.2f}"
    print(line)
    ax.plot(np.arange(1, args.T + 1), R, label=name)
ax.set_xlabel("round t")
ax.set_ylabel("regret vs best fixed decision")
ax.legend(fontsize=7)
path = olc.plot.finish(fig, os.path.join(out, "oco_regret_basics.png"))  # layout, atomic write, close
print("figure:", path)
