"""Where the linearisation breaks: LQR and GPC designed on the linear pendulum, played on the real one.

The teaching pendulum ``olc.systems.inverted_pendulum`` is the linearisation ``sin θ ≈ θ`` of
``olc.systems.Pendulum`` (``m l² θ̈ = m g l sin θ + u``, integrated by RK4). Both controllers
are designed on the linear model; we play them on the linear model and on the nonlinear plant
under sinusoidal disturbances of growing amplitude. While ``|θ|`` stays in the linear model's
validity region (``|θ| <= 0.55`` rad: ``sin θ ≈ θ`` within 5 %) the two agree; beyond it the
linear model's predictions are wrong, and the games say so (``trace.info["validity"]`` and a
``LinearizationWarning``). An animation of GPC on the nonlinear plant is saved as a GIF. Usage::

    python examples/nonlinear_pendulum.py [--out DIR] [--T 300]
"""

import argparse
import os
import tempfile
import warnings

import numpy as np

import olc
from olc.optim import InverseSqrt

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
parser.add_argument("--out", default=None, help="output directory (default: a new temporary directory)")
parser.add_argument("--T", type=int, default=300, help="number of rounds (dt = 0.05 s each)")
args = parser.parse_args()
out = args.out or tempfile.mkdtemp(prefix="olc-pendulum-")
T = args.T

# 1. The plant and its linear model (exact zero-order-hold discretisation of the Jacobians).
plant = olc.systems.Pendulum(dt=0.05)
linear = plant.linearize()                      # == olc.systems.inverted_pendulum(0.05)
bound = linear.info["validity"].bounds[0]       # |θ| where sin θ ≈ θ stops being accurate to 5 %
cost = olc.systems.QuadraticCost(Q=np.eye(2), R=np.eye(1))

amplitudes = (0.02, 0.1, 0.3)
fig, axes = plt.subplots(1, len(amplitudes), figsize=(4.2 * len(amplitudes), 3.4), sharey=False)
for ax, amp in zip(axes, amplitudes):
    w = olc.systems.disturbances.sinusoidal(T, 2, amplitude=amp, period=40, seed=0)
    # 2. The same disturbances, the same controllers, two worlds: the linear model and the real plant.
    #    GPC's learning rate is scaled by 1/amplitude² (its gradients scale with |w|²).
    for world, game in (("linear model", olc.games.control(linear, w, cost)),
                        ("nonlinear plant", olc.games.nonlinear_control(plant, w, cost))):
        for name, ctl, style in (("LQR", olc.learners.LQR(linear, cost), "-"),
                                 ("GPC", olc.learners.GPC(linear, cost, H=10, lr=InverseSqrt(0.01 / amp ** 2)), "--")):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", olc.systems.LinearizationWarning)
                tr = olc.play(ctl, game, seed=0)
            v = tr.info["validity"]            # whether, when and how far the run left the region
            flag = f"left |θ|<={bound:.2f} at t={v['first_exit']}" if not v["inside"] else "inside"
            print(f"amp {amp:4}  {world:15s} {name}: avg cost {tr.losses.mean():8.3f}  max|θ| "
                  f"{v['max_abs']['theta']:.2f}  {flag}  ({len(caught)} warning)")
            t = np.arange(T + 1) * plant.dt
            ax.plot(t, tr.info["states"][:, 0], style, lw=1,
                    color="C0" if world == "linear model" else "C3", label=f"{name}, {world}")
    ax.axhspan(-bound, bound, color="0.9", zorder=0, label="validity region")
    ax.set_title(f"sinusoid, amplitude {amp}", fontsize="small")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("θ (rad)")
axes[0].legend(fontsize="x-small")
path = olc.plot.finish(fig, os.path.join(out, "nonlinear_pendulum.png"), dpi=100)  # layout, atomic write, close
print(f"figure: {path}")

# 3. An animation of GPC on the real plant, started at 0.4 rad, with a small sinusoidal push.
w = olc.systems.disturbances.sinusoidal(90, 2, amplitude=0.02, period=40, seed=0)
game = olc.games.nonlinear_control(plant, w, cost, x0=[0.4, 0.0])
tr = olc.play(olc.learners.GPC(linear, cost, H=10, lr=InverseSqrt(25.0)), game, seed=0)
gif = olc.plot.animate(tr, os.path.join(out, "nonlinear_pendulum.gif"), stride=3, fps=15,
                       title="GPC on the nonlinear pendulum")
print(f"animation: {gif}")
