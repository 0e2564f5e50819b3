"""Consensus on a real social network with failing links (olc.systems.networks example).

Zachary's karate club (networkx's built-in real graph) carries the damped consensus dynamics
``A_t = (1 - eps)(I - h L_t)``, where each friendship (edge) fails independently with
probability ``p_fail`` at every step. We compare how fast opinions agree on the intact network
(rate ``1 - h lambda_2``, lambda_2 = algebraic connectivity) and under link failures, then
steer a few high-degree members (actuators) with a simple proportional control.

    python examples/network_consensus.py [--out DIR] [--T 150] [--p-fail 0.3]
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.systems import consensus_rate, consensus_system, real_graph

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed


def disagreement(X):
    """||x_t - mean(x_t) 1|| for each row of X (T+1, n)."""
    return np.linalg.norm(X - X.mean(axis=1, keepdims=True), axis=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", default=None, help="output directory (default: a new temp dir)")
    parser.add_argument("--T", type=int, default=150)
    parser.add_argument("--p-fail", type=float, default=0.3)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="olc-network-")

    G = real_graph("karate")
    x0 = np.random.default_rng(0).standard_normal(G.number_of_nodes())    # initial opinions

    # fixed network: an LTISystem; default step h = 1 / lambda_max(L)
    fixed = consensus_system(G)
    h = fixed.info["h"]
    rate = consensus_rate(G, h)
    X_fixed = fixed.simulate(x0, T=args.T)
    print(f"karate club: h = {h:.4f}, disagreement contracts by {rate:.4f} per step (1 - h lambda_2)")

    # failing links: an LTVSystem of horizon T (seeded edge drops at every step)
    failing = consensus_system(G, T=args.T, p_fail=args.p_fail, seed=0)
    X_fail = failing.simulate(x0, T=args.T)
    d_fixed, d_fail = disagreement(X_fixed), disagreement(X_fail)
    emp = (d_fail[-1] / d_fail[0]) ** (1 / args.T)
    print(f"with p_fail = {args.p_fail}: empirical rate {emp:.4f} (the average is still preserved: "
          f"{X_fail[-1].mean():.4f} vs {x0.mean():.4f})")

    # actuators on the 3 highest-degree members, driving everyone towards a target value 1.0:
    # u_t = -k (x_t[actuated] - 1)  written as U_t - K x_t with U_t = k * 1, K = k * B^T
    steer = consensus_system(G, actuated=3, eps=0.0)
    B = steer.B()
    k = 0.5
    X_steer = steer.simulate(x0, U=np.full((args.T, B.shape[1]), k), K=k * B.T)
    print(f"steering via nodes {steer.info['actuated']}: final mean opinion {X_steer[-1].mean():.3f}, "
          f"spread {np.ptp(X_steer[-1]):.2e}")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    t = np.arange(args.T + 1)
    axes[0].semilogy(t, d_fixed, label="intact network")
    axes[0].semilogy(t, d_fail, label=f"links fail w.p. {args.p_fail}")
    axes[0].semilogy(t, d_fixed[0] * rate ** t, "k--", label=r"$(1-h\lambda_2)^t$")
    axes[0].set(xlabel="t", ylabel="disagreement", title="consensus on the karate club")
    axes[0].legend(fontsize="small")
    axes[1].plot(t, X_steer, lw=0.6)
    axes[1].set(xlabel="t", ylabel="opinion", title="steering 3 members to 1.0")
    path = olc.plot.finish(fig, os.path.join(out, "network_consensus.png"), dpi=100)  # layout, atomic write, close
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    main()
