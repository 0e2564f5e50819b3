"""Meta Mirror Descent on 2-D quadratics — ``meta-mirror-descent`` Sec. 5.1, Fig. 1.

Tasks ``min_θ θᵀQθ − bᵀθ`` with ``b ~ N([1, 1], I)`` and ``Q = C Cᵀ``, ``C`` lower triangular
with diagonal means ``(d0, d1)`` ("loss flatness by specifying the mean of Q00 and Q11");
two families (rows of Fig. 1): ``d1 = flat_top`` and the flatter ``d1 = flat_bottom``
(``E[Q11] ≈ 1.01 d1²``, ``E[Q00] ≈ 1.01``: the flatness is set through the means of ``Q00, Q11``).
MetaMD (``N = 3``) is meta-trained on sampled tasks (Alg. 1), then every optimiser starts
from the same ``θ_1`` on held-out tasks and runs until ``||∇f|| <= tol``; we report the
mean number of iterations. Baselines SGD, SGD-M (momentum 0.9) and Adam are tuned over the
learning-rate grids of App. E on the meta-training tasks (fewest mean iterations).

Unroll to convergence (App. C, eq. (19): ``∂B_φ(θ_*||θ_1) ≈ ∂B_φ(θ_T||θ_1)`` "when T is
large enough that θ_* ≈ θ_T"; Alg. 1 line 7 trains the base model to its argmin): each
meta-training unroll stops once ``||∇L(θ_t)|| <= unroll_tol`` (capped at ``horizon``). With a
short fixed horizon (``ablation_horizon``, the previous default ``T = 60``) θ_T is far from
θ_* on the flat direction, and the eq. (10) term ``B_φ(θ_T||θ_1)`` is then smallest for an
optimiser that barely moves, so meta-training learns *slow* steps (reported as the ablation).
With converged unrolls eq. (10) ≈ eq. (9): ``B`` pushes every ``m`` down (bigger steps) and
the ``k/λ`` term (``λ = min m``) together with divergence on the stiffer meta-training tasks
stops it; the flat-direction entry settles near ``m³ ≈ k/(2 E[Δ²])``, ``Δ = θ_* − θ_1``,
so ``k`` sets the learned step.

Hyperparameters the paper does not give for this experiment (``η``, ``k``, meta-lr, ``T``,
threshold, ``θ_1``, the spread of ``C``): ``η = 0.25``, ``m_init = 0.7`` (``η/m² ≈ 1/(2E[Q00])``),
``k = 3 / 10`` and ``ρ = 1e-4 / 2.5e-7`` (top / bottom; the hypergradient scales with ``Δ²``,
about 400× larger on the flatter family), tuned by hand on a few seeds; ``tol = 1e-3``,
``θ_1 = (−2, 2)``. Deviations: positivity of ``M`` by a box ``[m_min, m_max]``; the meta-step
is clipped to ``meta_clip · m`` per entry (``λ = min m`` makes ``k/λ`` stiff and single tasks
with large ``Δ`` give gradient spikes that otherwise throw an entry across the box); no
weight decay (noiseless quadratics); the baselines' grids are App. E's (given there for the
linear/MLP models). The paper reports one test problem per row — 23 / 928 / 104 / 45 (top)
and 280 / 27,328 / 1,838 / 324 (bottom) for MetaMD / SGD / SGD-M / Adam; we report means
over ``test_tasks`` held-out tasks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import DivergenceError, InvalidArgumentError, NonFiniteError
from . import check_config, integer, nonnegative, optional, pair, positive
from ._plot import pyplot, save_figure

NAME = "metamd-quadratic"
#: MetaMD's mean iterations to the gradient threshold on held-out tasks of the flatter family (Fig. 1
#: bottom row); absent when its meta-training diverged (``diverged/bottom`` = 1 then)
PRIMARY = "iterations/bottom/MetaMD"
EXTRAS = ()

PAPER = {"top": {"MetaMD": 23, "SGD": 928, "SGD-M": 104, "Adam": 45},
         "bottom": {"MetaMD": 280, "SGD": 27_328, "SGD-M": 1_838, "Adam": 324}}
SGD_GRID = (0.1, 0.05, 0.01, 0.005, 0.001)
ADAM_GRID = (0.3, 0.2, 0.1, 0.01, 0.001)


@dataclass
class Config:
    """``k`` and ``meta_lr`` are ``(top, bottom)`` pairs (a float applies to both rows)."""

    flat_top: float = 0.15
    flat_bottom: float = 0.03
    train_tasks: int = 6
    test_tasks: int = 8
    meta_steps: int = 40
    tasks_per_step: int = 4
    horizon: int = 30_000
    unroll_tol: float | None = 1e-4
    eta: float = 0.25
    k: float | tuple = (3.0, 10.0)
    meta_lr: float | tuple = (1e-4, 2.5e-7)
    meta_clip: float | None = 0.2
    m_init: float = 0.7
    m_min: float = 0.005
    m_max: float = 2.0
    ablation_horizon: int | None = 60
    tol: float = 1e-3
    max_iter: int = 30_000
    seed: int = 0


ROWS = ("top", "bottom")
CHECKS = {"flat_top": positive, "flat_bottom": positive, "train_tasks": integer(1), "test_tasks": integer(1),
          "meta_steps": integer(1), "tasks_per_step": integer(1), "horizon": integer(1),
          "unroll_tol": optional(positive), "eta": positive, "k": pair(nonnegative, ROWS), "meta_lr": pair(positive, ROWS),
          "meta_clip": optional(positive), "m_init": positive, "m_min": positive, "m_max": positive,
          "ablation_horizon": optional(integer(1)), "tol": positive, "max_iter": integer(1), "seed": integer(0)}


def check(cfg: Config) -> Config:
    """:data:`CHECKS`, then the box ``m_min < m_max`` that ``m_init`` must lie in."""
    check_config(cfg, CHECKS)
    if not cfg.m_min < cfg.m_max:
        raise InvalidArgumentError(f"m_min: expected a number below m_max = {cfg.m_max}, got {cfg.m_min!r}")
    if not cfg.m_min <= cfg.m_init <= cfg.m_max:
        raise InvalidArgumentError(f"m_init: expected a number in [m_min, m_max] = [{cfg.m_min}, {cfg.m_max}], "
                                   f"got {cfg.m_init!r}")
    return cfg


def _per_row(value, row: int) -> float:
    return float(value[row]) if isinstance(value, (tuple, list)) else float(value)


def task_sampler(d0: float, d1: float):
    """Sampler ``rng -> (Q, b)`` of the Sec. 5.1 family."""

    def sample(rng):
        C = np.array([[abs(rng.normal(d0, 0.1 * d0)), 0.0],
                      [rng.normal(0.0, 0.1 * d1), abs(rng.normal(d1, 0.1 * d1))]])
        return C @ C.T, rng.normal([1.0, 1.0], 1.0)

    return sample


def _oracle(Q, b):
    from ..oracles import QuadraticOracle

    return QuadraticOracle(2.0 * Q, -b)  # f = θᵀQθ − bᵀθ


def baseline_iterations(method, Qs, bs, theta1, lrs, tol, max_iter):
    """Iterations to ``||∇f|| <= tol`` for every (task, lr): array ``(n_tasks, n_lrs)``
    (``max_iter`` where not reached or diverged). Vectorised over tasks and rates."""
    Qs, bs = np.asarray(Qs), np.asarray(bs)
    nt, nl = len(Qs), len(lrs)
    lr = np.asarray(lrs, dtype=float)[None, :, None]
    x = np.broadcast_to(theta1, (nt, nl, 2)).copy()
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    its = np.full((nt, nl), max_iter)
    done = np.zeros((nt, nl), bool)
    with np.errstate(all="ignore"):
        for it in range(max_iter + 1):
            g = 2.0 * np.einsum("tij,tlj->tli", Qs, x) - bs[:, None, :]
            gn = np.linalg.norm(g, axis=-1)
            hit = (gn <= tol) & ~done
            its[hit] = it
            done |= hit | ~np.isfinite(gn)
            if done.all() or it == max_iter:
                break
            if method == "SGD":
                x = x - lr * g
            elif method == "SGD-M":
                m = 0.9 * m + g
                x = x - lr * m
            else:  # Adam (β1 = 0.9, β2 = 0.999, ε = 1e-8)
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                mh, vh = m / (1 - 0.9 ** (it + 1)), v / (1 - 0.999 ** (it + 1))
                x = x - lr * mh / (np.sqrt(vh) + 1e-8)
    return its


def _metamd(cfg, row, pool, test, theta1, seed, horizon, unroll_tol):
    """Meta-train MetaMD (Alg. 1) on ``pool`` and deploy it on ``test``."""
    from ..learners.metamd import MetaMD

    md = MetaMD(n_mix=3, eta=cfg.eta, k=_per_row(cfg.k, row), horizon=horizon,
                meta_lr=_per_row(cfg.meta_lr, row), m_init=cfg.m_init, m_min=cfg.m_min, m_max=cfg.m_max,
                unroll_tol=unroll_tol, meta_clip=cfg.meta_clip)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        M, hist = md.meta_train(lambda r: pool[int(r.integers(len(pool)))], theta1, 2,
                                meta_steps=cfg.meta_steps, tasks_per_step=cfg.tasks_per_step, seed=seed)
        its, trajectory = [], None
        for Q, b in test:  # a test task on which the learned M diverges counts max_iter, as for the baselines
            try:
                r = md.deploy(M, _oracle(Q, b), theta1, tol=cfg.tol, max_steps=cfg.max_iter)
            except NonFiniteError:
                its.append(cfg.max_iter)
                continue
            its.append(r.iterations)
            trajectory = r.thetas.tolist() if trajectory is None else trajectory
    return M, hist, its, trajectory, len(caught)


def _diverged(exc: DivergenceError) -> dict:
    """Results of a family whose MetaMD meta-training diverged: what it had learned, and where."""
    return {"MetaMD": None, "M": exc.partial.M.tolist(), "meta_objective": exc.partial.objective,
            "metamd_diverged": {"meta_step": exc.step, "error": str(exc)}}


def _family(cfg, row, d1, rng, theta1, progress):
    sample = task_sampler(1.0, d1)
    train = [sample(rng) for _ in range(cfg.train_tasks)]
    test = [sample(rng) for _ in range(cfg.test_tasks)]
    pool = [_oracle(Q, b) for Q, b in train]
    seed = int(rng.integers(2 ** 31))
    try:
        M, hist, its, trajectory, n_warn = _metamd(cfg, row, pool, test, theta1, seed, cfg.horizon, cfg.unroll_tol)
        out = {"MetaMD": float(np.mean(its)), "M": M.tolist(), "meta_objective": hist.objective,
               "thm1_warnings": n_warn, "metamd_iterations": its, "metamd_trajectory": trajectory}
    except DivergenceError as exc:  # reported in the results and the table; the baselines still run
        out = _diverged(exc)
    if cfg.ablation_horizon is not None:  # same settings, a short fixed unroll (θ_T far from θ_*)
        try:
            Ma, ha, ia, _, _ = _metamd(cfg, row, pool, test, theta1, seed, cfg.ablation_horizon, None)
            out["ablation"] = {"horizon": cfg.ablation_horizon, "MetaMD": float(np.mean(ia)), "M": Ma.tolist(),
                               "meta_objective": ha.objective}
        except DivergenceError as exc:
            out["ablation"] = {"horizon": cfg.ablation_horizon, **_diverged(exc)}
    tuned = {}
    for method, grid in (("SGD", SGD_GRID), ("SGD-M", SGD_GRID), ("Adam", ADAM_GRID)):
        tr = baseline_iterations(method, *zip(*train), theta1, grid, cfg.tol, cfg.max_iter)
        best = int(np.argmin(tr.mean(axis=0)))
        te = baseline_iterations(method, *zip(*test), theta1, [grid[best]], cfg.tol, cfg.max_iter)
        out[method] = float(te.mean())
        tuned[method] = grid[best]
        if progress is not None:
            progress.update(1)
    out["tuned_lr"] = tuned
    out["test_tasks"] = [[Q.tolist(), b.tolist()] for Q, b in test[:1]]
    return out


def run(config: Config | None = None, progress=None) -> dict:
    """Meta-train on each family, test on held-out tasks; iterations to ``||∇f|| <= tol``."""
    cfg = check(config or Config())
    rng = np.random.default_rng(cfg.seed)
    theta1 = np.array([-2.0, 2.0])
    bar = progress(6, NAME) if progress is not None else None
    res = {"paper": PAPER, "theta1": theta1.tolist(), "tol": cfg.tol}
    for i, (row, d1) in enumerate((("top", cfg.flat_top), ("bottom", cfg.flat_bottom))):
        res[row] = _family(cfg, i, d1, rng, theta1, bar)
    if bar is not None:
        bar.close()
    metrics, curves = {}, {}
    for row in ROWS:
        r = res[row]
        metrics[f"diverged/{row}"] = float(r["MetaMD"] is None)
        for m in ("MetaMD", "SGD", "SGD-M", "Adam"):
            if r.get(m) is not None:
                metrics[f"iterations/{row}/{m}"] = float(r[m])
        if r.get("ablation", {}).get("MetaMD") is not None:
            metrics[f"iterations/{row}/MetaMD (fixed T)"] = float(r["ablation"]["MetaMD"])
        curves[f"meta_objective/{row}"] = [float(v) for v in r["meta_objective"]]
    res.update(metrics=metrics, curves=curves)
    return res


def _cell(res: dict, method: str) -> str:
    if res.get(method) is None:  # MetaMD's meta-training diverged
        return f"{'diverged at meta-step ' + str(res['metamd_diverged']['meta_step']):>10s}"
    return f"{res[method]:>10.1f}"


def summary(results: dict) -> str:
    """Side-by-side table: paper vs olc (mean iterations to the gradient-norm threshold)."""
    lines = [f"iterations to ||grad|| <= {results['tol']} (mean over held-out tasks)",
             f"{'row':8s} {'method':8s} {'paper':>8s} {'olc':>10s}"]
    for row in ("top", "bottom"):
        for m in ("MetaMD", "SGD", "SGD-M", "Adam"):
            lines.append(f"{row:8s} {m:8s} {PAPER[row][m]:>8d} {_cell(results[row], m)}")
        if "ablation" in results[row]:
            ab = results[row]["ablation"]
            lines.append(f"{row:8s} {'MetaMD, fixed T=' + str(ab['horizon']):24s} {_cell(ab, 'MetaMD')}  (ablation)")
    return "\n".join(lines)


def plot(results: dict, outdir: str) -> list[str]:
    """Meta-objective curves and a MetaMD test trajectory per family (PNG)."""
    plt = pyplot()

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for row in ("top", "bottom"):
        axes[0].semilogy(results[row]["meta_objective"], label=row)
    axes[0].set(title="meta-objective (10)", xlabel="meta-step")
    axes[0].legend()
    for ax, row in zip(axes[1:], ("top", "bottom")):
        tr = results[row].get("metamd_trajectory")
        if tr:  # absent when meta-training diverged or every test run did
            tr = np.asarray(tr)
            ax.plot(tr[:, 0], tr[:, 1], ".-", ms=2, label="MetaMD")
            ax.plot(*tr[0], "go")
            ax.plot(*tr[-1], "o", color="orange")
        ax.set(title=f"{row}: MetaMD {_cell(results[row], 'MetaMD').strip()} it, SGD {results[row]['SGD']:.0f} it")
    path = save_figure(fig, outdir, "metamd_quadratic.png", dpi=100)
    return [path]
