"""GPC vs LQR on the nonlinear cart-pole over several seeds, drawn with olc.plot (mean ± standard error).

Both controllers are designed on the cart-pole's linearisation (``plant.linearize()``) and played
on the nonlinear plant (``olc.games.nonlinear_control``; frictionless Barto–Sutton–Anderson
equations integrated by RK4) under sinusoidal disturbances with a random phase per seed.
``olc.plot.response`` draws the four states and the force (mean over seeds and a ± s.e. band),
``olc.plot.costs`` the running-average costs and ``olc.plot.animate`` a GIF of one run. Usage::

    python examples/cartpole_seeds.py [--out DIR] [--T 400] [--seeds 3]
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.optim import InverseSqrt

parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
parser.add_argument("--out", default=None, help="output directory (default: a new temporary directory)")
parser.add_argument("--T", type=int, default=400, help="number of rounds (dt = 0.05 s each)")
parser.add_argument("--seeds", type=int, default=3, help="number of seeds (disturbance phases)")
args = parser.parse_args()
out = args.out or tempfile.mkdtemp(prefix="olc-cartpole-")

plant = olc.systems.CartPole()                     # state (x, ẋ, θ, θ̇), control = force on the cart
linear = plant.linearize()
cost = olc.systems.QuadraticCost(Q=np.eye(4), R=np.eye(1))
amp = 0.02                                         # keeps |θ| inside the 0.32 rad validity region

runs = {"LQR": [], "GPC (H=10)": []}
for seed in range(args.seeds):
    # the same disturbance for both controllers within a seed; a new phase per seed
    w = olc.systems.disturbances.sinusoidal(args.T, 4, amplitude=amp, period=40, seed=seed)
    game = olc.games.nonlinear_control(plant, w, cost)
    runs["LQR"].append(olc.play(olc.learners.LQR(linear, cost), game, seed=seed))
    runs["GPC (H=10)"].append(olc.play(olc.learners.GPC(linear, cost, H=10, lr=InverseSqrt(0.01 / amp ** 2)),
                                       game, seed=seed))
for name, trs in runs.items():
    c = np.array([tr.losses.mean() for tr in trs])
    print(f"{name:11s} average cost {c.mean():.3f} ± {c.std(ddof=1) / np.sqrt(len(c)):.3f} (s.e., {len(c)} seeds); "
          f"inside the validity region: {all(tr.info['validity']['inside'] for tr in trs)}")

fig = olc.plot.response(runs, title="nonlinear cart-pole, sinusoidal disturbances")
print("figure:", olc.plot.finish(fig, os.path.join(out, "cartpole_response.png")))
fig = olc.plot.costs(runs, title="running-average cost")
print("figure:", olc.plot.finish(fig, os.path.join(out, "cartpole_costs.png")))
gif = olc.plot.animate(runs["GPC (H=10)"][0].truncated(120), os.path.join(out, "cartpole.gif"), stride=4,
                       plant=plant, title="GPC on the cart-pole")
print("animation:", gif)
