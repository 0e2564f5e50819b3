"""Meta-training as an ordinary game: olc.play, a record hook and an early stop.

Run:  python examples/one_loop_meta_training.py [--out DIR]

The outer loop of MAML (first-order-bilevel-maml Alg. 1) is a game whose decision is the
initialisation θ and whose gradient is the meta-gradient averaged over a draw of tasks
(olc.games.meta_training). Any olc learner can play it; here GD on all tasks, GD on 5 tasks drawn
per step (Alg. 1 as written: a noise floor) and Adam on 5 tasks, each with a record hook that keeps
the distance to the batch MAML solution per round (stacked into trace.info["dist"]). Then the
meta-learned θ is adapted to a new task with GD in an optimization game that stops early once the
gradient norm is below a tolerance (Environment.done).
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.learners import OGD, Adam
from olc.meta import MAML, fit_maml
from olc.sets import Reals
from olc.tasks import linear_regression

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None)
args = parser.parse_args()
out = args.out or tempfile.mkdtemp()

# 1. Tasks: related linear regressions; MAML with one inner GD step of size 0.1.
tasks = linear_regression(10, 5, seed=0)
maml = MAML(inner_lr=0.1, inner_steps=1)
best = fit_maml(tasks, 0.1, 1)  # the batch MAML solution (closed form on these quadratic tasks)

# 2. The meta-training game: 80 outer steps; sampled tasks come from the game's own seed.
curves = {}
runs = {"GD, all tasks": (OGD(Reals(), lr=0.5), None), "GD, 5 tasks": (OGD(Reals(), lr=0.5), 5),
        "Adam, 5 tasks": (Adam(lr=0.1), 5)}
for name, (outer, k) in runs.items():
    game = olc.games.meta_training(maml, tasks, 80, np.zeros(5), tasks_per_step=k, seed=1)
    trace = olc.play(outer, game, record=lambda t, theta, fb, state: {"dist": np.linalg.norm(theta - best)})
    curves[name] = trace.info["dist"]
    print(f"{name:14s} outer loss {trace.losses[0]:.3f} -> {trace.losses[-1]:.3f}, "
          f"distance to the MAML solution {curves[name][-1]:.3f}")

# 3. Deployment on a new task: GD from θ, stopping once ||∇f|| <= 1e-3 (at most 500 steps).
new = linear_regression(1, 5, seed=99)[0]
for start, label in ((best, "from the MAML solution"), (np.zeros(5), "from zero")):
    tr = olc.play(OGD(Reals(), lr=0.3), olc.games.optimization(new.train, 500, start, tol=1e-3))
    print(f"adapting {label}: {tr.T} rounds to gradient norm {tr.info['grad_norms'][-1]:.1e}")

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, dist in curves.items():
    ax.semilogy(dist, label=name)
ax.set(xlabel="outer step", ylabel="‖θ_t − θ*_MAML‖", title="meta-training is olc.play")
ax.legend()
path = olc.plot.finish(fig, os.path.join(out, "one_loop_meta_training.png"), dpi=100)  # layout, atomic write, close
print("saved", path)
