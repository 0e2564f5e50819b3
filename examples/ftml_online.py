"""Follow the Meta Leader online: logarithmic regret against the best meta-learner in hindsight.

A stream of 200 random quadratic tasks (olc.tasks.random_quadratics) is played as the online
meta-learning game of online-meta-learning-ftml Sec. 3: in round t FTML commits w_t, the
task arrives, the loss is f_t(U_t(w_t)) with U_t one gradient step of size α. FTML (Eq. 4)
plays the best meta-learner of the past rounds (closed form w* = −A_†⁻¹b_†, App. A), and
its regret (eq. (3)) against olc.comparators.BestMetaLearner grows like log T (Cor. 2).
Runs in about a second.

    python examples/ftml_online.py --out /tmp/ftml
"""

import argparse
import os
import tempfile

import numpy as np

import olc

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=tempfile.mkdtemp())
args = parser.parse_args()

alpha, T = 0.1, 200
curves = []
for seed in range(3):
    tasks = olc.tasks.random_quadratics(T, dim=3, condition=5.0, seed=seed, scale=2.0)
    game = olc.games.MetaLearningGame(tasks, inner_lr=alpha)          # loss f_t(w − α∇f̂_t(w))
    trace = olc.play(olc.learners.FTML(inner_lr=alpha), game, seed=seed)  # Eq. 4, exact
    curves.append(trace.regret(olc.comparators.BestMetaLearner(alpha=alpha)))  # eq. (3), every prefix
R = np.mean(curves, axis=0)
fit = olc.learners.ftml.fit_log_regret(R)
print(f"regret after {T} rounds: {R[-1]:.3f}; fit R_t ≈ {fit['log_intercept']:.2f} + "
      f"{fit['log_slope']:.2f} log t (R² = {fit['log_r2']:.4f}; √t fit R² = {fit['sqrt_r2']:.4f})")

t = np.arange(1, T + 1)
plt.figure(figsize=(5, 3.5))
plt.plot(t, R, label="FTML regret (mean of 3 streams)")
plt.plot(t, fit["log_intercept"] + fit["log_slope"] * np.log(t), "--", label="a + b log t")
plt.xscale("log")
plt.xlabel("round t")
plt.ylabel("regret vs best meta-learner")
plt.legend()
path = olc.plot.finish(plt.gcf(), os.path.join(args.out, "ftml_online.png"), dpi=100)  # layout, atomic write, close
print("saved", path)
