"""Tuned baselines: the optimizers meta-optimization is compared with (nonconvex-meta-optimization App. E.2).

Run:  python examples/tuned_baselines.py [--out DIR] [--T 150] [--T-mlp 30]

Training is an online game in olc: the decision of round t is the iterate x_t, the loss is
f(x_t) and the feedback its gradient. So every optimizer is a learner and one loop — olc.play
on olc.games.optimization.optimization, wrapped by olc.learners.optimizers.train — trains all of them.

1. Least squares: the three tuned families of App. E.2 (GD, momentum, AdamW; each the best
   point of its grid in hindsight, found by olc.comparators.BestOptimizer — GD and momentum in
   one batched kernel call) next to the self-tuning methods (HGD, DoG, D-Adaptation, Mechanic).
2. The digits MLP (olc.oracles.digits_oracle on 400 training images, full batch: the paper's
   deterministic setting):
   tuned GD against AdamW, DoG and Mechanic, a few steps only so it runs in seconds.
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.comparators import BestOptimizer
from olc.errors import DivergenceError
from olc.learners import AdamW, DAdaptAdam, DoG, HypergradientDescent, Mechanic
from olc.learners.optimizers import train
from olc.oracles import LeastSquaresOracle

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None)
parser.add_argument("--T", type=int, default=150)
parser.add_argument("--T-mlp", type=int, default=30)
args = parser.parse_args()
out = args.out or tempfile.mkdtemp()

# 1. An ill-conditioned least-squares problem f(x) = ||Xx - y||² / 2n.
rng = np.random.default_rng(0)
n, d = 200, 20
X = rng.normal(size=(n, d)) * np.geomspace(1.0, 0.05, d)  # column scales: condition number ~ 400
y = X @ rng.normal(size=d) + 0.01 * rng.normal(size=n)
oracle = LeastSquaresOracle(X, y)
x0 = np.zeros(d)
f_star = oracle.value(np.linalg.lstsq(X, y, rcond=None)[0])

curves = {}
# 2. The tuned families: every grid point of App. E.2 is run on this very problem and the one
#    with the smallest cumulative loss is kept (the "best optimizer in hindsight").
tuned = {}
for family in ("gd", "momentum", "adamw"):
    res = BestOptimizer(family).search(oracle, args.T, x0)
    tuned[family] = res.config
    curves[f"{family} (tuned: {', '.join(f'{k}={v:g}' for k, v in res.config.items() if k != 'eps')})"] = res.curve
    print(f"{family:9s} best of {len(res.configs):2d} configurations ({res.methods.count('kernel')} in the kernel): "
          f"{res.config}, final loss - f* = {res.curve[-1] - f_star:.2e}")

# 3. Self-tuning methods, run with their defaults (HGD starts from the tuned GD step size and
#    adapts it, as in App. E.2; Mechanic wraps AdamW with the tuned AdamW hyperparameters).
a = tuned["adamw"]
self_tuning = {
    "HGD (β=1e-3)": HypergradientDescent(tuned["gd"]["lr"], 1e-3),
    "DoG": DoG(),
    "D-Adaptation (Adam)": DAdaptAdam(),
    "Mechanic (AdamW)": Mechanic(AdamW(a["lr"], (a["beta1"], a["beta2"]), weight_decay=a["weight_decay"])),
}
for name, opt in self_tuning.items():
    try:
        curves[name] = train(opt, oracle, args.T, x0).losses
    except DivergenceError as err:  # a diverging run keeps what it computed
        curves[name] = err.partial.losses
    print(f"{name:20s} final loss - f* = {curves[name][-1] - f_star:.2e}")

fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
ax = axes[0]
for name, c in curves.items():
    ax.semilogy(np.maximum(c - f_star, 1e-16), label=name)
ax.set_xlabel("step t")
ax.set_ylabel("f(x_t) - f*")
ax.set_title("least squares (κ ≈ 400)")
ax.legend(fontsize=7)

# 4. The digits MLP (64-32-10, cross-entropy, full batch). torch is only needed here.
try:
    import dataclasses

    import torch

    from olc.oracles import digits_oracle, load_digits_dataset

    torch.set_num_threads(1)  # tiny model: threads only contend on a small machine
    data = load_digits_dataset(seed=0)
    data = dataclasses.replace(data, X_train=data.X_train[:400], y_train=data.y_train[:400])  # keep it fast
    mlp, _ = digits_oracle("mlp", seed=0, data=data)
    w0 = mlp.x0()
    T2 = args.T_mlp
    mlp_curves = {}
    gd = BestOptimizer("gd", grid={"lr": [0.1, 0.5]}).search(mlp, T2, w0)
    mlp_curves[f"gd (tuned: lr={gd.config['lr']:g})"] = gd.curve
    for name, opt in {"AdamW (lr=1e-2)": AdamW(1e-2), "DoG": DoG(),
                      "Mechanic (AdamW 1e-3)": Mechanic(AdamW(1e-3))}.items():
        mlp_curves[name] = train(opt, mlp, T2, w0).losses
    # DoG and Mechanic start from a tiny step (r_eps = 1e-6 (1 + ||x0||), s_init = 1e-6) and need
    # more than these few steps to grow it; the least-squares panel shows them after warm-up.
    ax = axes[1]
    for name, c in mlp_curves.items():
        ax.plot(c, label=name)
        print(f"digits MLP {name:24s} final loss = {c[-1]:.3f}")
    ax.set_xlabel("step t")
    ax.set_ylabel("training loss")
    ax.set_title("digits MLP (400 images, full batch)")
    ax.legend(fontsize=7)
except ImportError as exc:  # torch or scikit-learn missing
    axes[1].set_axis_off()
    print(f"skipping the digits MLP: {exc}")

path = olc.plot.finish(fig, os.path.join(out, "tuned_baselines.png"), dpi=120)  # layout, atomic write, close
print("saved", path)
