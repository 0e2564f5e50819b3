"""The optimizer stack: every first-order method in olc is a chain of small transforms.

Run:  python examples/optimizer_stack.py [--out DIR] [--T 300]

``olc.optim.Chain(*transforms, K=None, x0=None)`` is one learner: each round the gradient g_t enters
as u, every transform rewrites it (Scale, AddDecayedWeights, Momentum, ScaleByAdam,
ScaleByAdaGrad, ClipByNorm, Normalize, ...) and the iterate steps x_{t+1} = Π_K(x_t − u). The
named optimizers of olc.learners (SGD, HeavyBall, Adam, AdamW, AdaGrad, ...) are such chains, so
building your own is one line. Here five of them train on the same ill-conditioned quadratic,
and the script checks two facts on the way:

1. the named class and the chain it stands for give the same iterates, bit for bit;
2. a chain with a set K (projected Nesterov momentum on a ball) stays feasible at every step.
"""

import argparse
import os
import tempfile

import numpy as np
from matplotlib.figure import Figure  # an Agg-rendered figure, no pyplot state

import olc
from olc.optim import AddDecayedWeights, Chain, ClipByNorm, InverseSqrt, Momentum, Scale, ScaleByAdam

parser = argparse.ArgumentParser(description="Optimizers as chains of transforms (olc.optim).")
parser.add_argument("--T", type=int, default=300, help="steps per optimizer")
parser.add_argument("--out", default=None, help="folder for optimizer_stack.png (default: a temporary one)")
args = parser.parse_args()
out = args.out or tempfile.mkdtemp()

# f(x) = ½ xᵀAx + bᵀx in 2-D with condition number 50: gradient descent zig-zags across the valley.
A = np.diag([50.0, 1.0])
b = np.array([-10.0, 1.0])
oracle = olc.oracles.QuadraticOracle(A, b)
x0 = np.array([-1.5, 2.0])
f_star = oracle.value(oracle.minimizer())

optimizers = {
    "SGD(0.019)": olc.learners.SGD(0.019),
    "HeavyBall(0.019, 0.7)": olc.learners.HeavyBall(0.019, 0.7),
    "AdamW(0.05)": olc.learners.AdamW(0.05, weight_decay=1e-3),
    # a custom chain: clip the gradient, Adam-scale it, decay the weights, 1/√t step sizes
    "clip → Adam → decay → 0.3/√t": Chain(ClipByNorm(5.0), ScaleByAdam(), AddDecayedWeights(1e-3),
                                          Scale(InverseSqrt(0.3))),
    # Nesterov momentum projected onto the ball of radius 1 (the set makes it a constrained method)
    "Nesterov on the unit ball": Chain(Momentum(0.7, nesterov=True), Scale(0.019), K=olc.sets.Ball(1.0)),
}
traces = {name: olc.learners.optimizers.train(opt, oracle, args.T, x0) for name, opt in optimizers.items()}

# 1. AdamW is the chain ScaleByAdam, AddDecayedWeights, Scale: same bits
chain = Chain(ScaleByAdam(), AddDecayedWeights(1e-3), Scale(0.05))
same = np.array_equal(olc.learners.optimizers.train(chain, oracle, args.T, x0).decisions, traces["AdamW(0.05)"].decisions)
print("AdamW == its chain, bit for bit:", same)
assert same
# 2. the projected chain never leaves the ball
radii = np.linalg.norm(traces["Nesterov on the unit ball"].decisions[1:], axis=1)
print(f"projected Nesterov: max ||x_t|| = {radii.max():.6f} (<= 1; the minimiser (0.2, -1) lies just outside)")
assert radii.max() <= 1.0 + 1e-12
for name, tr in traces.items():
    print(f"{name:32s} f(x_T) - f* = {tr.losses[-1] - f_star:.2e}   state type {type(tr.final_state).__name__}")

fig = Figure(figsize=(11, 4.2))
ax1, ax2 = fig.subplots(1, 2)
g1, g2 = np.meshgrid(np.linspace(-1.6, 1.2, 200), np.linspace(-1.2, 2.2, 200))
F = 0.5 * (50 * g1 ** 2 + g2 ** 2) + b[0] * g1 + b[1] * g2
ax1.contour(g1, g2, F, levels=25, colors="0.8", linewidths=0.6)
ax1.plot(np.cos(np.linspace(0, 2 * np.pi, 200)), np.sin(np.linspace(0, 2 * np.pi, 200)), ":k", lw=1)
for name, tr in traces.items():
    ax1.plot(tr.decisions[:60, 0], tr.decisions[:60, 1], ".-", ms=2, lw=0.8, label=name)
    ax2.semilogy(np.maximum(tr.losses - f_star, 1e-16), label=name)
ax1.set(title="first 60 iterates (dotted: the ball K)", xlabel="x₁", ylabel="x₂", aspect="equal")
ax2.set(title="suboptimality f(x_t) − f*", xlabel="step t")
ax2.legend(fontsize=7)
print("wrote", olc.plot.finish(fig, os.path.join(out, "optimizer_stack.png")))  # layout, atomic write, close
