"""Learned optimizers on a real network in PyTorch: meta-gradient learning rates, meta-optimization, MAML.

Three things olc.torch does on a torch.nn.Module, each a few lines:

1. per-parameter learning rates learned online by (optimistic) meta-gradients
   (optimistic-meta-gradients Alg. 1 / Alg. 4, App. C) — `MetaGradientSGD`, `OptimisticMetaGradientSGD`;
2. meta-optimization (nonconvex-meta-optimization Alg. 7) — `MetaOptOptimizer`, whose learned
   control M acts on the last H gradients;
3. MAML (first-order-bilevel-maml eq. (1)-(2)): an initialisation meta-trained so that 5 SGD
   steps adapt it to a new sinusoid — `MAML(...).meta_backward(tasks)` with any torch optimizer.

    python examples/torch_learned_optimizers.py [--out DIR]
"""

import argparse
import os
import tempfile

import numpy as np
import torch

import olc
from olc.oracles.data import digits_cnn, load_digits_dataset

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

#: the setup.cfg extras this script needs (the test suite skips it without them)
EXTRAS = ("torch", "data")

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None, help="output directory (default: a new temp dir)")
args = parser.parse_args()
out = args.out or tempfile.mkdtemp(prefix="olc-torch-")
torch.set_num_threads(1)  # a tiny CNN: extra threads only add overhead

# --- 1 + 2: train the same digits CNN with SGD and with three learned optimizers --------------------
d = load_digits_dataset(seed=0)
X, y = torch.tensor(d.X_train, dtype=torch.float32), torch.tensor(d.y_train)
rng = np.random.default_rng(0)
batches = [torch.as_tensor(rng.choice(len(y), 64, replace=False)) for _ in range(150)]  # one minibatch stream

makers = {
    "SGD": lambda p: torch.optim.SGD(p, lr=0.1),
    # w starts at 1 (= SGD); the meta-gradient -lr·∇f(x_{t-1})⊙∇f(x_t) raises w where gradients agree
    "meta-gradient LR": lambda p: olc.torch.MetaGradientSGD(p, lr=0.1, meta_lr=10.0, projection="greedy"),
    "optimistic meta-gradient LR": lambda p: olc.torch.OptimisticMetaGradientSGD(p, lr=0.1, meta_lr=3.0,
                                                                                 projection="greedy"),
    # H = 8 past gradients, rollouts of L = 2 steps; meta-steps start after H + L - 1 steps
    "meta-optimization (H=8, L=2)": lambda p: olc.torch.MetaOptOptimizer(p, lr=0.1, H=8, L=2, meta_lr=1e-3),
}
curves, final_w = {}, None
for name, make in makers.items():
    model = digits_cnn(seed=0).float()  # same initialisation for everyone
    opt = make(model.parameters())
    losses = []
    for idx in batches:
        def closure(idx=idx, model=model, opt=opt):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            return loss
        losses.append(float(opt.step(closure).detach()))
    curves[name] = losses
    if name == "optimistic meta-gradient LR":
        final_w = torch.cat([w.reshape(-1) for w in opt.multipliers()]).numpy()
    with torch.no_grad():
        acc = float((model(torch.tensor(d.X_test, dtype=torch.float32)).argmax(1) == torch.tensor(d.y_test)).float()
                    .mean())
    print(f"{name:30s} final minibatch loss {np.mean(losses[-10:]):.3f}, test accuracy {acc:.3f}")

# --- 3: MAML on sinusoids, meta-trained with Adam through meta_backward -----------------------------
tasks = olc.tasks.sinusoid_regression(16, seed=1, model="mlp", hidden=(32, 32))
net, mse = tasks[0].train.module, tasks[0].train.loss_fn
batch = [olc.torch.TorchTask.from_task(t) for t in tasks]  # all 16 tasks: vmapped together
maml = olc.torch.MAML(net, mse, inner_lr=0.02, inner_steps=5)
outer = torch.optim.Adam(net.parameters(), lr=3e-3)
meta_losses = []
for _ in range(60):
    outer.zero_grad()
    meta_losses.append(float(maml.meta_backward(batch)))  # mean f_i(φ_5(θ)) and its exact gradient
    outer.step()
print(f"MAML meta-loss (after 5 adaptation steps): {meta_losses[0]:.3f} -> {meta_losses[-1]:.3f}")

# --- the figure -------------------------------------------------------------------------------------
fig, ax = plt.subplots(1, 3, figsize=(15, 4))
for name, c in curves.items():
    ax[0].plot(np.convolve(c, np.ones(10) / 10, mode="valid"), label=name)
ax[0].set(xlabel="step", ylabel="minibatch loss (smoothed)", yscale="log", title="digits CNN")
ax[0].legend(fontsize=8)
ax[1].hist(final_w, bins=40)
ax[1].set(xlabel="learned learning-rate multiplier w", ylabel="parameters",
          title="optimistic meta-gradient: w after 150 steps")
ax[2].plot(meta_losses)
ax[2].set(xlabel="outer step (Adam)", ylabel="mean post-adaptation MSE", title="MAML on 16 sinusoids")
path = olc.plot.finish(fig, os.path.join(out, "torch_learned_optimizers.png"), dpi=100)  # layout, atomic write, close
print("wrote", path)
