"""Measure (kappa, gamma) sequential stability, as in Fig. 3 of nonconvex-meta-optimization.

Definition 3 of the paper: A_1..A_T is (kappa, gamma) sequentially stable if
``||A_s ... A_r|| <= kappa^2 (1 - gamma)^{|I|}`` for every interval I = [r, s], with
``|I| = s - r + 1`` (the number of matrices in the product). We measure it for

* the gradient-descent LTV of a quadratic: A_t = I - eta H_t with random PSD Hessians H_t
  (the optimization-as-control system of the paper, App. B, on a toy problem),
* a switching system whose modes are each stable but not normal (transient growth: kappa > 1),
* consensus on the karate club with failing links (damped, eps = 0.02): the consensus
  direction 1 is an eigenvector of every I - h L_t with eigenvalue 1, so only the damping
  makes the products decay and gamma = eps, kappa = 1 exactly,

and plot the decay of the product norms against the interval length (log scale).

    python examples/sequential_stability.py [--out DIR] [--T 200]
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.systems import consensus_system, plot_decay, real_graph, sequential_stability, switching_system

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed


def gd_matrices(T, d, eta, seed=0):
    """A_t = I - eta H_t with H_t = G G^T / d + 0.1 I (eigenvalues in about [0.1, 4.5])."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((T, d, d))
    H = G @ G.transpose(0, 2, 1) / d + 0.1 * np.eye(d)
    return np.eye(d) - eta * H


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", default=None, help="output directory (default: a new temp dir)")
    parser.add_argument("--T", type=int, default=200)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="olc-stability-")
    T = args.T

    sequences = {
        "GD on random quadratics (eta=0.2)": gd_matrices(T, 6, eta=0.2),
        "switching non-normal modes": switching_system(T=T, d=4, m=1, n_modes=3, spectral_radius=0.8,
                                                       switch_prob=0.2, seed=1),
        "karate consensus, 30% link failures": consensus_system(real_graph("karate"), T=T, p_fail=0.3,
                                                                eps=0.02, seed=0),
    }

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, (name, seq) in zip(axes, sequences.items()):
        # exact spectral norms of all O(T^2) interval products; gamma chosen by the default rule
        # (the smallest bound kappa^2/gamma with kappa >= 1)
        res = sequential_stability(seq)
        r, s = res.worst_interval
        print(f"{name:38s} kappa = {res.kappa:7.3f}  gamma = {res.gamma:.4f}  worst interval [{r}, {s}]  "
              f"holds: {res.holds(res.kappa, res.gamma)}")
        plot_decay(res, ax=ax)
        ax.set_title(name, fontsize="medium")
    path = olc.plot.finish(fig, os.path.join(out, "sequential_stability.png"), dpi=100)  # layout, atomic write, close
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    main()
