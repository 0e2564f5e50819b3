"""GPC vs LQR on a double integrator: a teaching script (runs in a few seconds).

Non-stochastic control (Agarwal, Bullins, Hazan, Kakade & Singh 2019): the disturbance is any
bounded sequence, not i.i.d. noise. LQR is optimal for i.i.d. noise; the Gradient Perturbation
Controller (GPC) learns a disturbance-feedback correction online and competes with the best
such controller in hindsight, whatever the disturbance. Usage::

    python examples/gpc_vs_lqr.py [--out DIR] [--T 2000]
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.systems import disturbances as D

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
parser.add_argument("--out", default=None, help="output directory (default: a new temporary directory)")
parser.add_argument("--T", type=int, default=2000, help="number of rounds")
args = parser.parse_args()
out = args.out or tempfile.mkdtemp(prefix="olc-gpc-")
T = args.T

# 1. The system: a unit mass on a line, x = (position, velocity), u = force, w = disturbance.
#    x_{t+1} = A x_t + B u_t + w_t, and the stage cost c(x, u) = xᵀQx + uᵀRu (no 1/2).
system = olc.systems.library.double_integrator()
cost = olc.systems.QuadraticCost(Q=np.eye(2), R=np.eye(1))

# 2. Three disturbances: i.i.d. Gaussian (LQR's home turf), a sinusoid (predictable, not i.i.d.)
#    and an adaptive adversary pushing the next state outwards (it reacts to the play).
disturbances = {
    "gaussian": D.gaussian(T, 2, seed=0),
    "sinusoidal": D.sinusoidal(T, 2, seed=0),
    "adversarial": olc.systems.Adversarial(2, bound=1.0, kind="ascent", system=system),
}

fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
for ax, (name, w) in zip(axes, disturbances.items()):
    # 3. The game: the controller sees x_t, plays u_t, pays c(x_t, u_t), sees x_{t+1}.
    game = olc.games.control(system, w, cost, T=T)
    # 4. Controllers. LQR: u = -K x with the Riccati gain. GPC: u = -K x + Σ_i M^{[i]} w_{t-i},
    #    M learned by online gradient descent on the counterfactual loss of the last H steps.
    lqr = olc.play(olc.learners.LQR(system, cost), game, seed=0)
    gpc = olc.play(olc.learners.GPC(system, cost, H=10), game, seed=0)
    # 5. Regret against the best disturbance-feedback controller in hindsight (same K, H and set),
    #    replayed on the disturbances GPC actually met.
    best = olc.comparators.BestDFC(system, cost, H=10)
    regret = gpc.regret(best)
    t = np.arange(1, T + 1)
    for label, tr in (("LQR", lqr), ("GPC", gpc)):
        ax.plot(t, np.cumsum(tr.losses) / t, label=f"{label}: {tr.losses.mean():.3f}")
    ax.axhline(best.total / T, color="k", ls=":", label=f"best DFC: {best.total / T:.3f}")
    ax.set_title(f"{name} (GPC regret {regret[-1]:.0f})", fontsize="small")
    ax.set_xlabel("t")
    ax.set_ylabel("average cost so far")
    ax.set_yscale("log")
    ax.legend(fontsize="x-small")
    print(f"{name:12s} LQR {lqr.losses.mean():7.3f}  GPC {gpc.losses.mean():7.3f}  "
          f"best DFC {best.total / T:7.3f}  GPC regret {regret[-1]:8.1f}")

path = olc.plot.finish(fig, os.path.join(out, "gpc_vs_lqr.png"))  # layout, atomic write, close
print(f"figure: {path}")
