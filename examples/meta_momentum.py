"""Meta-gradients as online learning: Meta-Momentum vs momentum, and optimism (Nesterov).

optimistic-meta-gradients: an update rule φ(x, w) is meta-learned online by FTRL over w
(MetaGradient) or by optimistic FTRL with hints (OptimisticMetaGradient). With φ(x, w) = w the
two are exactly heavy ball and Nesterov's method (Sec. 3, 6); with φ(x, w) = -lr w ⊙ ∇f(x) the
meta-learner tunes a per-coordinate step size while it optimises (Fig. 2).

    python examples/meta_momentum.py [--out DIR]
"""

import argparse
import os
import tempfile

import numpy as np

import olc
from olc.learners import MetaGradient, OptimisticMetaGradient
from olc.learners.meta_gradients import IdentityRule, MetaMomentumRule, heavy_ball_coefficients

plt = olc.plot.pyplot()  # matplotlib, on Agg unless a backend was chosen: no display needed

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None, help="output directory (default: a new temp dir)")
args = parser.parse_args()
out = args.out or tempfile.mkdtemp(prefix="olc-meta-momentum-")

# An ill-conditioned 2-D quadratic f(x) = xᵀQx with eigenvalues 1 and 4 (App. B), x0 = (4, 4).
rng = np.random.default_rng(0)
U, R = np.linalg.qr(rng.standard_normal((2, 2)))
U = U * np.sign(np.diag(R))  # a Haar-random rotation
Q = U.T @ np.diag([1.0, 4.0]) @ U
f = lambda x: (float(x @ Q @ x), 2 * Q @ x)  # noqa: E731  (value, gradient)
x0 = np.array([4.0, 4.0])
T = 100

# 1) φ(x, w) = w with averaging (Alg. 2) *is* heavy ball: check it against the recursion.
beta = 0.05
mg = MetaGradient(IdentityRule(), beta, x0=x0, averaging=True, weights="linear").run(f, T=T)
mu, step = heavy_ball_coefficients(T, beta, "linear")
xb = [x0, x0.copy()]
for t in range(2, T):
    xb.append(xb[-1] + mu[t] * (xb[-1] - xb[-2]) - step[t] * f(xb[-1])[1])
print(f"heavy-ball correspondence: max |difference| = {np.max(np.abs(np.array(xb) - mg.x)):.2e}")

# 2) Meta-Momentum: learn a per-coordinate step size w online (Alg. 1), plain and optimistic.
runs = {
    "gradient descent (w fixed)": MetaGradient(MetaMomentumRule(0.1), 1e-12, x0=x0, w0=1.0).run(f, T=T),
    "Meta-Momentum (FTRL over w)": MetaGradient(MetaMomentumRule(0.1), 0.01, x0=x0, w0=1.0).run(f, T=T),
    "optimistic Meta-Momentum (AO-FTRL)": OptimisticMetaGradient(MetaMomentumRule(0.1), 0.01, hint="current",
                                                                 x0=x0, w0=1.0).run(f, T=T),
}
for name, r in runs.items():
    print(f"{name:36s} final loss {r.values[-1]:.3e}   learned w = {np.round(r.w[-1], 3)}")
    # the meta-learner's regret obeys the FTRL / AO-FTRL bound eq. (6) for any comparator
    assert np.all(r.regret(r.w[-1]) <= r.regret_bound(r.w[-1]) + 1e-9)

# 3) Optimism accelerates: on the averaged iterates O(1/T) (α_t = 1) vs O(1/T²) (α_t = t, hints).
lam = np.logspace(-7, 0, 100)
g = lambda x: (0.5 * float(np.sum(lam * x * x)), lam * x)  # noqa: E731
slow = MetaGradient(IdentityRule(), 1.0, x0=np.ones(100), averaging=True).run(g, T=400).values
fast = OptimisticMetaGradient(IdentityRule(), 0.25, x0=np.ones(100), averaging=True,
                              weights="linear").run(g, T=400).values

fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
for name, r in runs.items():
    ax[0].semilogy(r.values, label=name)
ax[0].set(title="2-D quadratic, x0 = (4, 4)", xlabel="iteration", ylabel="f(x)")
ax[0].legend(fontsize=7)
t = np.arange(1, 400)
ax[1].loglog(t, slow[1:], label="meta-gradient, α_t = 1")
ax[1].loglog(t, fast[1:], label="optimistic, α_t = t")
ax[1].loglog(t, 1.0 / t, "k:", label="1/t")
ax[1].loglog(t, 1.0 / t ** 2, "k--", label="1/t²")
ax[1].set(title="rates (φ(x, w) = w)", xlabel="t", ylabel="f(x̄_t) − f*")
ax[1].legend(fontsize=7)
path = olc.plot.finish(fig, os.path.join(out, "meta_momentum.png"), dpi=100)  # layout, atomic write, close
print(f"figure: {path}")
