"""Is training a real CNN a sequentially stable LTV? A matrix-free check (nonconvex-meta-optimization Def. 3).

Gradient descent with weight decay delta on a network is the linear time-varying system of the
paper's App. B, z_{t+1} = A_t z_t + B u_t + w_t with z_t = [x_t; x_{t-1}; grad f_{t-1}(x_{t-1})].
Assumption 2 asks ||A_s ... A_r|| <= kappa^2 (1 - gamma)^{len(I)} for every interval. For the
10,858-parameter CNN below A_t is 32,574 x 32,574 (8.5 GB in float64): we never form it.
olc.torch.sequential_stability trains a copy of the model with the LTV's own update, then brackets
every interval norm between a certified lower bound (a vector attaining it) and a Lanczos upper
bound, from Hessian-vector products only.

We compare delta = 0 with delta = 0.05 and plot, per setting:
  1. the decay of the worst interval norm with the length len(I) (band: lower..upper bound), the parameter-block
     norms (x_t only) and the sqrt(2) floor that zero-curvature directions impose at delta = 0;
  2. the kappa-gamma trade-off curve (every point above the upper curve is certified);
  3. eta * lambda_max(H_t) / 2 per step (1 = the edge of stability) and ||A_t||.

    python examples/network_stability.py [--out DIR] [--T 4]
"""

import argparse
import os
import tempfile

import torch

import olc.plot
import olc.torch
from olc.oracles import digits_cnn, load_digits_dataset
from olc.systems import plot_decay, plot_kappa_gamma, plot_steps

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

#: the setup.cfg extras this script needs (the test suite skips it without them)
EXTRAS = ("torch", "data")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", default=None, help="output directory (default: a new temp dir)")
    parser.add_argument("--T", type=int, default=4, help="recorded steps (all T(T+1)/2 intervals are bounded)")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="olc-network-stability-")
    torch.set_num_threads(1)          # small batched HVPs: one thread is fastest on a shared machine

    # a fixed batch of scikit-learn digits (the paper's deterministic setting) and a seeded CNN
    data = load_digits_dataset(seed=0)
    X, y = data.X_train[:32], data.y_train[:32]

    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    for row, delta in zip(axes, (0.0, 0.05)):
        model = digits_cnn(channels=(8, 16), hidden=(128,), seed=0)        # 10,858 parameters
        res = olc.torch.sequential_stability(
            model, torch.nn.CrossEntropyLoss(), X, y, lr=0.1, steps=args.T, weight_decay=delta,
            warmup_steps=20,                  # a few steps of training first (not recorded)
            hvp_dtype=torch.float32,          # float32 Hessian-vector products, bounds in float64
            progress=False)
        print(f"--- weight decay {delta} ---")
        print(res.summary())
        plot_decay(res, ax=row[0], label=f"δ={delta}")
        plot_kappa_gamma(res, ax=row[1], label=f"δ={delta}")
        plot_steps(res, ax=row[2], label=f"δ={delta}")
        row[0].set_title(f"δ = {delta}: decay {res.decay_class}, κ ∈ [{res.kappa:.3g}, {res.kappa_upper:.3g}]")
        row[1].set_title("κ–γ trade-off" + (" (γ set by the horizon)" if res.gamma_from_horizon else ""))
        row[2].set_title("edge of stability per step")
    path = olc.plot.finish(fig, os.path.join(out, "network_stability.png"), dpi=100)  # layout, atomic write, close
    print("wrote", path)


if __name__ == "__main__":
    main()
