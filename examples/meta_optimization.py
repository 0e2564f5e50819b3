"""Meta-optimization: learning an optimizer by online control (nonconvex-meta-optimization Alg. 1, 2, 7).

Run:  python examples/meta_optimization.py [--out DIR]

An optimizer is a controller of the optimization LTV (App. B): gradient descent plus a control
that is a linear function of the last H gradients,

    x_{t+1} = (1−δ)x_t − η g_t − Σ_h M^(h) g_{t+1−h}.

GD, heavy ball and preconditioned GD are particular fixed M's. Meta-optimization plays many
episodes of the same kind of problem and learns M online: after each step it replays the last
L steps counterfactually with the current M (Alg. 4 "Rollout", on the *recorded* gradients)
and takes an Adam step on M (Alg. 7). Over episodes it approaches the best M in hindsight.
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.learners.metaopt import MetaOpt, NonconvexMetaOpt, equivalent_M, run_episodes

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None)
parser.add_argument("--episodes", type=int, default=15)
args = parser.parse_args()
out = args.out or tempfile.mkdtemp()

# 1. A convex quadratic f(x) = ½xᵀAx + bᵀx, condition number ≈ 30 — GD with η = 0.1 is slow.
rng = np.random.default_rng(0)
n, T = 20, 100
Q = rng.standard_normal((n, n))
A = Q @ Q.T / n + 0.1 * np.eye(n)
oracle = olc.oracles.QuadraticOracle(A, rng.standard_normal(n))
fstar = oracle.value(oracle.minimizer())
x0 = np.zeros(n)

# 2. Classical methods are fixed M's: heavy ball (η = 0.1, μ) is M^(1) = 0, M^(h) = ημ^(h−1).
#    A frozen MetaOpt with that M *is* heavy ball, truncated to the last H gradients (exact for
#    t < H; with μ close to 1 the truncation changes the method — try momentum=0.9: it diverges).
H = 8
hb = MetaOpt(H=H, L=2, base_lr=0.1, M0=equivalent_M("heavy_ball", H, 0.1, momentum=0.6), frozen=True)
gd = MetaOpt(H=H, L=2, base_lr=0.1, M0=np.zeros(H), frozen=True)
curves = {name: run_episodes(learner, oracle, 1, T, x0).losses[0] - fstar
          for name, learner in {"GD (M = 0)": gd, "heavy ball (μ=0.6) as a fixed M": hb}.items()}

# 3. Meta-optimization (Alg. 7): scalar M, Adam on M, N episodes of T steps from the same x0.
meta = MetaOpt(H=H, L=2, M="scalar", base_lr=0.1, meta_optimizer=olc.learners.Adam(lr=1e-2))
res = meta.run_episodes(oracle, N=args.episodes, T=T, x0=x0)
episode_loss = (res.losses - fstar).sum(axis=1)
print("meta-opt, Σ_t f(x_t) − f* per episode:", np.round(episode_loss, 1))
print("learned M:", np.round(res.Ms[-1], 3))

# 4. Deploy: freeze the learned M (what the paper does in the stochastic setting).
frozen = meta.freeze(res.final_state)
curves["meta-opt, frozen after learning"] = run_episodes(frozen, oracle, 1, T, x0).losses[0] - fstar

# 5. Alg. 2 (nonconvex reduction) wraps it: epochs of S steps on f + β‖x − x_k‖², next centre = average.
wrapped = NonconvexMetaOpt(MetaOpt(H=4, L=2, base_lr=0.1, meta_optimizer=olc.learners.Adam(lr=1e-2)), S=25, beta=0.05)
nc = wrapped.run_episodes(oracle, N=3, T=T, x0=x0)
print("Alg. 2 wrapper, final loss per episode:", np.round(nc.losses[:, -1] - fstar, 4))

fig, ax = plt.subplots(1, 3, figsize=(14, 4))
ax[0].plot(np.arange(1, len(episode_loss) + 1), episode_loss, "o-")
ax[0].set(xlabel="episode", ylabel="Σ_t f(x_t) − f*", yscale="log", title="meta-opt learns across episodes")
for name, c in curves.items():
    ax[1].semilogy(c, label=name)
ax[1].set(xlabel="step t", ylabel="f(x_t) − f*", title="within one episode")
ax[1].legend(fontsize=8)
ax[2].bar(np.arange(1, H + 1), res.Ms[-1], label="learned M")
ax[2].plot(np.arange(1, H + 1), equivalent_M("heavy_ball", H, 0.1, momentum=0.6), "k.--", label="heavy ball μ=0.6")
ax[2].set(xlabel="lag h", ylabel="M^(h)", title="learned update rule")
ax[2].legend(fontsize=8)
path = olc.plot.finish(fig, os.path.join(out, "meta_optimization.png"), dpi=100)  # layout, atomic write, close
print("saved", path)
