"""Meta-optimization on episodes of convex quadratics: regret vs the best fixed M and tuned baselines.

``nonconvex-meta-optimization`` Sec. 2–3 (the meta-optimization protocol: ``N`` episodes of
``T`` steps, regret against the best algorithm of a class in hindsight) with
:class:`olc.learners.MetaOpt` (Alg. 7: scalar or diagonal ``M``, Adam on ``M``) or Alg. 1
(``algorithm="convex"``: OGD with projection, full ``M``).

Problems (``problem``): ``"quadratic"`` — ``f_i(x) = ½xᵀA_ix + b_iᵀx`` with ``A_i = Q_iQ_iᵀ/n + 0.1I``;
``"regression"`` — least squares ``(1/2m)‖X_ix − y_i‖²`` with Gaussian ``X_i`` and a planted
``w_i``. ``resample=False`` repeats episode 0's problem (the deterministic setting of Sec. 5);
``True`` draws a new problem from the same distribution each episode. Losses are
suboptimalities ``f_i(x_{i,t}) − min f_i`` summed over the ``T`` steps of an episode.

Comparators, each the single best member of its class over all ``N`` episodes:

* **best DFC M (exact)** — :class:`olc.comparators.BestFixedM`: the best fixed ``M`` played against
  the *realised* gradient disturbances (the regret notion of non-stochastic control, Thm. 4 /
  Cor. 6): the loss is a convex quadratic in ``M`` on quadratics, minimised exactly, for every
  prefix of episodes (anytime);
* **best fixed M** — the DFC policy class Π of App. B with the learner's parametrisation
  (``M`` scalar or diagonal, same ``H``, ``η``, ``δ``), each run on its *own* gradients
  ``x_{t+1} = (1−δ)x_t − ηg_t − Σ_h M^{(h)} g_{t+1−h}``: the benchmark of Thm. 1 / Alg. 1's guarantee. The
  objective is a polynomial in ``M`` (not convex); we minimise it exactly-differentiated (forward
  sensitivities ``∂x_t/∂M``) with L-BFGS from several starts (0 = GD, the learned ``M``, the
  heavy-ball ``M`` of the tuned momentum); so the reported best is a local optimum — an upper
  bound on the true best, i.e. the regret may be slightly underestimated. (For ``M="full"`` the
  comparator is restricted to scalar ``M``.)
* **tuned GD / momentum** — :class:`olc.comparators.BestOptimizer` over App. E.2's grids
  (weight decay 0), summed over episodes.

Regret after ``k`` episodes is ``R(k) = Σ_{i<=k} (loss_i − comparator_i)``; its log-log slope
against ``k`` (over the episodes where ``R > 0``) is reported (< 1: sublinear).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..learners.metaopt import M_KINDS
from . import check_config, choice, integer, positive, real
from ._plot import pyplot, save_figure

NAME = "metaopt-quadratic"
#: meta-opt's regret after N episodes against the exact best DFC M in hindsight
PRIMARY = "regret/best DFC M (exact)"
EXTRAS = ()


@dataclass
class Config:
    N: int = 30
    T: int = 100
    n: int = 20
    H: int = 8
    L: int = 2
    M: str = "scalar"
    algorithm: str = "adam"        # "adam" (Alg. 7) or "convex" (Alg. 1: OGD + projection on full M)
    base_lr: float = 0.1
    weight_decay: float = 0.0
    meta_lr: float = 1e-3
    problem: str = "quadratic"     # or "regression"
    resample: bool = True
    seed: int = 0
    starts: int = 3                # L-BFGS starts for the best fixed M
    grid: str = "e2"               # tuned baselines: App. E.2's lr/momentum grids, or "small" (tests)


CHECKS = {"N": integer(1), "T": integer(1), "n": integer(1), "H": integer(1), "L": integer(1), "M": choice(*M_KINDS),
          "algorithm": choice("adam", "convex"), "base_lr": positive, "weight_decay": real(0.0, 1.0),
          "meta_lr": positive, "problem": choice("quadratic", "regression"), "seed": integer(0), "starts": integer(1),
          "grid": choice("e2", "small")}


# ------------------------------------------------------------------------------------- problems
def make_problems(cfg: Config):
    """The ``N`` episode oracles and their minimum values."""
    from ..oracles import LeastSquaresOracle, QuadraticOracle

    rng = np.random.default_rng(cfg.seed)
    out = []
    for i in range(cfg.N):
        if i > 0 and not cfg.resample:
            out.append(out[0])
            continue
        if cfg.problem == "quadratic":
            Q = rng.standard_normal((cfg.n, cfg.n))
            o = QuadraticOracle(Q @ Q.T / cfg.n + 0.1 * np.eye(cfg.n), rng.standard_normal(cfg.n))
        else:
            m = 2 * cfg.n
            X = rng.standard_normal((m, cfg.n)) * np.linspace(0.3, 1.5, cfg.n)
            o = LeastSquaresOracle(X, X @ rng.standard_normal(cfg.n) + 0.1 * rng.standard_normal(m))
        xs = np.linalg.lstsq(o.hessian(np.zeros(cfg.n)), -o.grad(np.zeros(cfg.n)), rcond=None)[0]
        out.append((o, float(o.value(xs))))
    return [p[0] for p in out], np.array([p[1] for p in out])


# ------------------------------------------------------------------------------------- best fixed M
def fixed_M_objective(theta, kind, problems, fstars, x0, T, eta, delta, H):
    """``J(M) = Σ_i Σ_{t<T} f_i(x^M_{i,t}) − f_i*`` for a fixed ``M`` on its own gradients, and ``∇J``.

    Forward sensitivities ``S_t = ∂x_t/∂θ``: ``S_{t+1} = (1−δ)S_t − ηAS_t − Σ_h D(M_h)AS_{t+1−h} − E_t``
    with ``E_t[:, θ_h] = ∂(D(M_h) g_{t+1−h})/∂M_h`` (constant Hessian ``A``). Returns ``(inf, 0)`` on divergence.
    """
    n = x0.shape[0]
    M = theta.reshape((H,) if kind == "scalar" else (H, n))
    p = theta.size
    J, grad = 0.0, np.zeros(p)
    for o, fs in zip(problems, fstars):
        A = o.hessian(x0)
        x = x0.copy()
        S = np.zeros((n, p))
        gs, AS = [], []
        for _t in range(T):
            v, g = o.value_and_grad(x)
            if not np.isfinite(v) or abs(v) > 1e100:
                return np.inf, np.zeros(p)
            J += v - fs
            grad += g @ S
            gs.insert(0, g)
            AS.insert(0, A @ S)
            gs, AS = gs[:H], AS[:H]
            Sn = (1 - delta) * S - eta * AS[0]
            xn = (1 - delta) * x - eta * g
            for h in range(len(gs)):
                if kind == "scalar":
                    xn -= M[h] * gs[h]
                    Sn -= M[h] * AS[h]
                    Sn[:, h] -= gs[h]
                else:
                    xn -= M[h] * gs[h]
                    Sn -= M[h][:, None] * AS[h]
                    Sn[np.arange(n), h * n + np.arange(n)] -= gs[h]
            x, S = xn, Sn
            if not np.all(np.isfinite(x)) or np.max(np.abs(x)) > 1e50:
                return np.inf, np.zeros(p)
    return float(J), grad


def best_fixed_M(kind, problems, fstars, x0, T, eta, delta, H, starts):
    """Local minimiser of :func:`fixed_M_objective` from several starting points (L-BFGS)."""
    from scipy.optimize import minimize

    best = (np.inf, None)
    for th0 in starts:
        th0 = np.asarray(th0, dtype=float).reshape(-1)
        if not np.isfinite(fixed_M_objective(th0, kind, problems, fstars, x0, T, eta, delta, H)[0]):
            continue

        def fun(th):
            v, g = fixed_M_objective(th, kind, problems, fstars, x0, T, eta, delta, H)
            return (1e300, g) if not np.isfinite(v) else (v, g)

        res = minimize(fun, th0, jac=True, method="L-BFGS-B", options={"maxiter": 200})
        if res.fun < best[0]:
            best = (float(res.fun), res.x.copy())
    return best


def per_episode_fixed_M(theta, kind, problems, fstars, x0, T, eta, delta, H):
    return np.array([fixed_M_objective(theta, kind, [o], [f], x0, T, eta, delta, H)[0]
                     for o, f in zip(problems, fstars)])


def fit_slope(R: np.ndarray) -> float | None:
    """Least-squares slope of ``log R(k)`` vs ``log k`` over the episodes with ``R(k) > 0`` (None when
    fewer than 3 such episodes or when the final regret is not positive)."""
    k = np.arange(1, len(R) + 1)
    ok = R > 0
    if ok.sum() < 3 or R[-1] <= 0:  # meta-opt ends ahead of the comparator: no growth to fit
        return None
    return float(np.polyfit(np.log(k[ok]), np.log(R[ok]), 1)[0])


# ------------------------------------------------------------------------------------- run
def _learner(cfg: Config):
    from ..learners import Adam
    from ..learners.metaopt import ConvexMetaOpt, MetaOpt

    if cfg.algorithm == "convex":
        return ConvexMetaOpt(H=cfg.H, L=cfg.L, base_lr=cfg.base_lr, weight_decay=cfg.weight_decay, meta_lr=cfg.meta_lr,
                             radius=1.0, M=cfg.M)
    return MetaOpt(H=cfg.H, L=cfg.L, M=cfg.M, base_lr=cfg.base_lr, weight_decay=cfg.weight_decay,
                   meta_optimizer=Adam(lr=cfg.meta_lr))


def run(config: Config | None = None, progress=None) -> dict:
    from ..comparators.optimizers import E2_GRIDS, BestOptimizer
    from ..learners.metaopt import run_episodes

    cfg = check_config(config or Config(), CHECKS)
    bar = progress(4, NAME) if progress else None
    problems, fstars = make_problems(cfg)
    x0 = np.zeros(cfg.n)
    res = run_episodes(_learner(cfg), problems, cfg.N, cfg.T, x0, seed=cfg.seed)
    subopt = res.losses - fstars[:, None]
    learner_ep = subopt.sum(axis=1)
    bar and bar.update(1)

    # tuned baselines (App. E.2 grids without weight decay), best single config over all episodes
    tuned = {}
    for fam in ("gd", "momentum"):
        grid = {k: v for k, v in E2_GRIDS[fam].items() if k != "weight_decay"}
        if cfg.grid == "small":
            grid = {"lr": (0.1, 0.4), **({"momentum": (0.9,)} if fam == "momentum" else {})}
        curves = None
        search = BestOptimizer(fam, grid=grid)
        for o, fs in zip(problems, fstars):
            try:
                out = search.search(o, cfg.T, x0)
                L_ = np.where(np.isfinite(out.losses), out.losses - fs, np.inf)
            except Exception:  # every configuration diverged on this episode
                L_ = np.full((len(search.configs), cfg.T), np.inf)
            curves = L_.sum(axis=1)[None] if curves is None else np.vstack([curves, L_.sum(axis=1)])
        j = int(np.argmin(curves.sum(axis=0)))
        tuned[fam] = {"config": search.configs[j], "episode_loss": curves[:, j]}
    bar and bar.update(1)

    # best fixed M in hindsight (policy class Π, own trajectory)
    kind = "diagonal" if cfg.M == "diagonal" else "scalar"
    if cfg.M == "full":  # comparator restricted to scalar M: start from the mean diagonal of each lag
        learned = np.array([np.trace(Mh) / cfg.n for Mh in res.Ms[-1]])
    else:
        learned = res.Ms[-1]
    mom = tuned["momentum"]["config"]
    # heavy ball (η', μ) = x_{t+1} = x_t − η' Σ_k μ^k g_{t−k}: M^(1) = η' − η, M^(h) = η'μ^{h−1} (truncated at H)
    hb = mom["lr"] * mom["momentum"] ** np.arange(cfg.H)
    hb[0] -= cfg.base_lr
    starts = [np.zeros_like(learned), learned, hb][: max(1, cfg.starts)]
    if kind == "diagonal":
        starts = [s if s.ndim == 2 else np.repeat(np.reshape(s, (cfg.H, 1)), cfg.n, axis=1) for s in starts]
    J, theta = best_fixed_M(kind, problems, fstars, x0, cfg.T, cfg.base_lr, cfg.weight_decay, cfg.H, starts)
    notes = {}
    if theta is None:  # every start diverged: no finite comparator in the class (reported as null)
        fixed_ep = None
        notes["best fixed M"] = (f"no finite comparator: the fixed-M objective diverged from every one of the "
                                 f"{len(starts)} L-BFGS start(s) (base_lr = {cfg.base_lr}); reported as null")
    else:
        fixed_ep = per_episode_fixed_M(theta, kind, problems, fstars, x0, cfg.T, cfg.base_lr, cfg.weight_decay, cfg.H)
    bar and bar.update(1)

    comps = {"best fixed M": fixed_ep, "tuned GD": tuned["gd"]["episode_loss"],
             "tuned momentum": tuned["momentum"]["episode_loss"]}
    regret = {k: None if v is None else np.cumsum(learner_ep - v) for k, v in comps.items()}
    # the exact DFC comparator of the paper's regret notion: the best fixed M against the realised
    # gradient disturbances (olc.comparators.BestFixedM; a convex QP, solved exactly), anytime over episodes
    from ..comparators.metaopt import BestFixedM

    dfc = BestFixedM(cfg.H, cfg.M, base_lr=cfg.base_lr, weight_decay=cfg.weight_decay).fit(
        problems, [x0] * cfg.N, res.grads)
    comps["best DFC M (exact)"] = dfc.episode_loss - cfg.T * fstars
    if dfc.prefix_best is not None:
        regret["best DFC M (exact)"] = np.cumsum(learner_ep) - (dfc.prefix_best - cfg.T * np.cumsum(fstars))
    else:
        regret["best DFC M (exact)"] = np.cumsum(learner_ep - comps["best DFC M (exact)"])
    bar and bar.update(1)
    slopes = {k: None if v is None else fit_slope(v) for k, v in regret.items()}
    return {
        "config": cfg.__dict__.copy(),
        "episode_loss": {"meta-opt": learner_ep.tolist(),
                         **{k: None if v is None else v.tolist() for k, v in comps.items()}},
        "loss_curves_first_last": [subopt[0].tolist(), subopt[-1].tolist()],
        "regret": {k: None if v is None else v.tolist() for k, v in regret.items()},
        "regret_slope": slopes,
        "learned_M": res.Ms[-1].tolist() if cfg.M != "full" else learned.tolist(),
        "best_fixed_M": None if theta is None else theta.tolist(),
        "notes": notes,
        "tuned": {k: v["config"] for k, v in tuned.items()},
        "improvement_first_to_last": float(learner_ep[0] / learner_ep[-1]),
        "metrics": {**{f"regret/{k}": float(v[-1]) for k, v in regret.items() if v is not None},
                    **{f"regret_slope/{k}": v for k, v in slopes.items() if v is not None},
                    "last_episode_loss": float(learner_ep[-1]),
                    "improvement_first_to_last": float(learner_ep[0] / learner_ep[-1])},
        "curves": {**{f"regret/{k}": v.tolist() for k, v in regret.items() if v is not None},
                   **{f"episode_loss/{k}": np.asarray(v).tolist() for k, v in
                      {"meta-opt": learner_ep, **comps}.items() if v is not None}},
    }


def summary(results: dict) -> str:
    """A markdown table: per-episode loss (first / last / mean) and regret of meta-opt vs each comparator."""
    ep = results["episode_loss"]
    lines = ["| method | episode 1 | last episode | mean | regret of meta-opt after N | slope |",
             "|---|---|---|---|---|---|"]
    for k, v in ep.items():
        if v is None:  # no finite comparator (see results["notes"])
            lines.append(f"| {k} | null | null | null | null | |")
            continue
        reg = results["regret"].get(k)
        slope = results["regret_slope"].get(k)
        lines.append(f"| {k} | {v[0]:.4g} | {v[-1]:.4g} | {np.mean(v):.4g} | "
                     f"{'' if reg is None else f'{reg[-1]:.4g}'} | "
                     f"{'' if slope is None else f'{slope:.2f}'} |")
    lines += [f"({k}: {note})" for k, note in results.get("notes", {}).items()]
    return "\n".join(lines)


def plot(results: dict, outdir: str) -> list[str]:
    plt = pyplot()

    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    ep = results["episode_loss"]
    k = np.arange(1, len(ep["meta-opt"]) + 1)
    for name, v in ep.items():
        if v is None:  # no finite comparator
            continue
        ax[0].semilogy(k, v, "o-" if name == "meta-opt" else "--", label=name, ms=3)
    ax[0].set(xlabel="episode", ylabel="Σ_t f(x_t) − f*", title="loss per episode")
    ax[0].legend(fontsize=8)
    first, last = results["loss_curves_first_last"]
    ax[1].semilogy(first, label="meta-opt, episode 1")
    ax[1].semilogy(last, label="meta-opt, last episode")
    ax[1].set(xlabel="step t", ylabel="f(x_t) − f*", title="within-episode curves")
    ax[1].legend(fontsize=8)
    for name, R in results["regret"].items():
        if R is None:
            continue
        R = np.asarray(R)
        s = results["regret_slope"][name]
        ax[2].plot(k, R, label=f"vs {name}" + ("" if s is None else f" (slope {s:.2f})"))
    ax[2].set(xlabel="episodes N", ylabel="cumulative regret", title="regret of meta-opt")
    ax[2].legend(fontsize=8)
    path = save_figure(fig, outdir, "metaopt_quadratic.png", dpi=110)
    return [path]
