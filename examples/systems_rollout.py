"""Roll out linear systems under different disturbances (olc.systems teaching example).

We take the inverted pendulum linearised about upright (unstable open loop), stabilise it with
the LQR gain from scipy's discrete Riccati solver, and simulate the closed loop
``x_{t+1} = (A - B K) x_t + w_t`` under the disturbance families of
``olc.systems.disturbances``. The quadratic cost ``x^T Q x + u^T R u`` (no 1/2) is summed along
each trajectory.

    python examples/systems_rollout.py [--out DIR] [--T 300]
"""

import argparse
import os
import tempfile

import numpy as np
from scipy.linalg import solve_discrete_are

import olc
from olc.systems import QuadraticCost, inverted_pendulum
from olc.systems import disturbances as D

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", default=None, help="output directory (default: a new temp dir)")
    parser.add_argument("--T", type=int, default=300, help="number of steps")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="olc-systems-")

    # 1. the system: x = (angle, angular velocity), u = torque, exact zero-order-hold discretisation
    sys = inverted_pendulum(dt=0.05)
    print(f"open-loop spectral radius: {sys.spectral_radius:.4f} (> 1: unstable)")

    # 2. an LQR gain K (u = -K x) for the cost x^T Q x + u^T R u
    cost = QuadraticCost(Q=np.eye(2), R=0.1 * np.eye(1))
    P = solve_discrete_are(sys.A(), sys.B(), cost.Q, cost.R)
    K = np.linalg.solve(cost.R + sys.B().T @ P @ sys.B(), sys.B().T @ P @ sys.A())
    print(f"closed-loop spectral radius: {sys.closed_loop(K).spectral_radius:.4f}")

    # 3. disturbances, each (T, 2), all seeded
    T = args.T
    ws = {
        "gaussian": D.gaussian(T, 2, scale=0.05, seed=0),
        "uniform": D.uniform(T, 2, bound=0.05, seed=0),
        "sinusoidal": D.sinusoidal(T, 2, amplitude=0.05, period=40, seed=0),
        "random walk": D.random_walk(T, 2, scale=0.002, seed=0),
    }

    # 4. one rollout per disturbance: simulate applies u_t = U_t - K x_t (U = None: zeros)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    x0 = np.array([0.2, 0.0])                                # start 0.2 rad off upright
    for name, W in ws.items():
        X, U = sys.simulate(x0, W=W, K=K, return_controls=True)
        total = cost.value(X[:-1], U).sum()                  # vectorised over the trajectory
        print(f"{name:12s} total cost {total:8.3f}   max |angle| {np.max(np.abs(X[:, 0])):.3f}")
        axes[0].plot(X[:, 0], label=name)
        axes[1].plot(np.cumsum(cost.value(X[:-1], U)), label=name)
    axes[0].set(xlabel="t", ylabel="angle (rad)", title="LQR on the inverted pendulum")
    axes[1].set(xlabel="t", ylabel="cumulative cost", title=r"$\sum_t x_t^TQx_t + u_t^TRu_t$")
    axes[0].legend(fontsize="small")
    path = olc.plot.finish(fig, os.path.join(out, "systems_rollout.png"), dpi=100)  # layout, atomic write, close
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    main()
