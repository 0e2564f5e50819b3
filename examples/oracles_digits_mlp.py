"""Train a small MLP on real handwritten digits through the flat-vector oracle adapter.

What this shows
---------------
* ``olc.oracles.digits_oracle`` loads scikit-learn's 1797 8x8 digit images (no download),
  standardises them, splits them with a seed, and wraps a torch MLP + cross-entropy as a
  :class:`olc.oracles.TorchOracle`: a function of ONE flat float64 vector ``x``.
* Optimisation is then plain numpy: ``x <- x - lr * g`` on that vector (this is the
  ``x_{t+1} = (1 - delta) x_t - eta grad f_t(x_t)`` step of the optimization LTV in
  nonconvex-meta-optimization App. B, with zero control).
* ``freeze`` gives the paper's deterministic "fixed batch" setting; ``sample_batch`` the
  stochastic one. Both curves are saved to ``loss_curve.png`` in ``--out``.

Run:  python examples/oracles_digits_mlp.py [--steps 300] [--out DIR]
"""

import argparse
import os
import tempfile

import numpy as np

import olc

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

#: the setup.cfg extras this script needs (the test suite skips it without them)
EXTRAS = ("torch", "data")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="output folder (default: a new temp dir)")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="olc-digits-")

    # Tiny models gain nothing from intra-op threads, and on a busy machine the thread pool
    # oversubscribes the cores (10x slower here): use one thread for this script.
    try:
        import torch
    except ImportError:
        raise SystemExit('this example needs PyTorch: pip install -e ".[torch]" (CPU wheel: '
                         "pip install torch==2.13.0)") from None

    torch.set_num_threads(1)

    # 1. The oracle: a 64 -> 32 -> 10 ReLU MLP on the digits training split.
    oracle, data = olc.oracles.digits_oracle("mlp", batch_size=args.batch_size, seed=args.seed)
    x0 = oracle.x0()  # the module's initial parameters as one flat vector
    print(f"{oracle.name}: dim = {oracle.dim} parameters, {oracle.n_samples} training images")

    # 2. Deterministic setting: one frozen minibatch (nonconvex-meta-optimization Sec. 5).
    frozen = oracle.freeze(args.seed)
    # 3. Stochastic setting: a fresh seeded minibatch every step.
    rng = np.random.default_rng(args.seed)

    curves = {}
    settings = (("fixed batch", frozen, lambda: None),
                ("SGD minibatches", oracle, lambda: oracle.sample_batch(rng)))
    for label, f, sample in settings:
        x, losses = x0.copy(), []
        for _ in range(args.steps):
            loss, g = f.value_and_grad(x, sample())
            losses.append(loss)
            x = x - args.lr * g  # plain gradient descent on the flat vector
        curves[label] = losses
        # accuracy on the held-out test split, computed with the same flat vector
        acc = np.mean(oracle.predict(x, data.X_test).argmax(axis=1) == data.y_test)
        print(f"{label:>16}: final train loss {losses[-1]:.4f}, test accuracy {acc:.3f}")

    # 4. The full-data training loss at the end (one more oracle call, batch=None).
    oracle.set_flat(x)  # write the trained vector back into the torch module
    print(f"full-batch loss of the SGD iterate: {oracle.value(x):.4f}; evaluations used: {oracle.count}")

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, losses in curves.items():
        ax.plot(losses, label=label)
    ax.set(xlabel="step", ylabel="training loss (cross-entropy)", yscale="log",
           title="MLP on scikit-learn digits, GD on the flat vector")
    ax.legend()
    path = olc.plot.finish(fig, os.path.join(out, "loss_curve.png"), dpi=100)  # layout, atomic write, close
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    main()
