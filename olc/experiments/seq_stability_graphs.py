"""Sequential stability of consensus dynamics on real networks (``nonconvex-meta-optimization`` Def. 3).

On networkx's real graphs (Zachary's karate club, the Florentine families, Les Misérables, the
Davis southern women), the damped consensus dynamics ``A_t = (1 − eps)(I − h L_t)``
(:func:`olc.systems.networks.consensus_system`) vary over time through

* ``static`` — the graph itself (an LTI reference point),
* ``switching`` — the graph's edges split at random into ``n_modes`` sub-graphs, the active one
  following a Markov schedule (each mode alone may be disconnected; only their union is),
* ``failures`` — every edge fails independently with probability ``p_fail`` at each step.

For each we measure the (κ, γ) sequential stability ``||A_s ⋯ A_r|| <= κ²(1−γ)^{|I|}``
(:func:`olc.systems.sequential_stability`, ``rule="bound"``) of the disagreement dynamics —
``A_t`` restricted to ``1^⊥``, where consensus happens (``eps = 0`` keeps the average, so on the
full space the products never decay; a damping ``eps > 0`` would only add the trivial factor
``(1−eps)^{|I|}``, i.e. ``γ = 1 − (1−eps)(1−γ₀)``).
The decay plots show ``max ||A_s ⋯ A_r||`` against ``|I|`` like Fig. 3 of the paper; the table
lists κ, γ and, for reference, the static per-step contraction ``1 − h λ₂`` on ``1^⊥``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend import BACKENDS
from ..systems.networks import REAL_GRAPHS
from . import check_config, choice, each, integer, real
from ._plot import pyplot, save_figure

NAME = "seq-stability-graphs"
PRIMARY = "min_gamma"  # the slowest contraction rate γ over the graphs × scenarios of the run
EXTRAS = ()

__all__ = ["NAME", "Config", "run", "plot", "summary"]

SCENARIOS = ("static", "switching", "failures")


@dataclass
class Config:
    """Defaults run in a few seconds on two cores."""

    graphs: list[str] = field(default_factory=lambda: ["karate", "florentine", "les-miserables", "davis"])
    T: int = 100
    max_length: int = 50
    n_modes: int = 3
    switch_prob: float = 0.2
    p_fail: float = 0.3
    seed: int = 0
    backend: str = "numpy"    # interval norms: "numpy" (log-scaled reference) or a kernel: "numba", "cupy", "auto"


CHECKS = {"graphs": each(choice(*REAL_GRAPHS)), "T": integer(1), "max_length": integer(1), "n_modes": integer(1),
          "switch_prob": real(0.0, 1.0), "p_fail": real(0.0, 1.0), "seed": integer(0),
          "backend": choice("auto", *BACKENDS)}


def _modes(G, n_modes, rng):
    """Split the edges of ``G`` at random into ``n_modes`` sub-graphs over the same nodes."""
    import networkx as nx

    edges = list(G.edges)
    label = rng.integers(n_modes, size=len(edges))
    out = []
    for k in range(n_modes):
        H = nx.Graph()
        H.add_nodes_from(G.nodes)
        H.add_edges_from(e for e, lab in zip(edges, label) if lab == k)
        out.append(H)
    return out


def _disagreement(As):
    """``A_t`` restricted to ``1^⊥`` in an orthonormal basis of it: ``Vᵀ A_t V`` (T, n−1, n−1)."""
    n = As.shape[1]
    V = np.linalg.qr(np.concatenate([np.ones((n, 1)), np.eye(n)[:, : n - 1]], axis=1))[0][:, 1:]
    return np.einsum("ia,tij,jb->tab", V, As, V, optimize=True)


def run(config: Config | None = None, progress=None) -> dict:
    """Measure (κ, γ) for every graph × scenario; return the table and the decay curves."""
    from ..systems.networks import consensus_rate, consensus_system, graph_laplacian, real_graph
    from ..systems.stability import sequential_stability

    cfg = check_config(config or Config(), CHECKS)
    rng = np.random.default_rng(cfg.seed)
    jobs = [(g, s) for g in cfg.graphs for s in SCENARIOS]
    bar = progress(len(jobs), NAME) if progress is not None else None
    rows = []
    for gname, scen in jobs:
        G = real_graph(gname)
        lam = np.linalg.eigvalsh(graph_laplacian(G))
        h = 1.0 / lam[-1]
        kwargs = {"h": h, "T": cfg.T, "seed": int(rng.integers(2 ** 31))}
        if scen == "static":
            graphs = G
        elif scen == "switching":
            graphs = _modes(G, cfg.n_modes, rng)
            kwargs["switch_prob"] = cfg.switch_prob
        else:
            graphs = G
            kwargs["p_fail"] = cfg.p_fail
        row = {"graph": gname, "scenario": scen, "nodes": G.number_of_nodes(), "edges": G.number_of_edges(),
               "static_rate": float(consensus_rate(G, h)), "lambda2": float(lam[1])}
        for part in ("disagreement",):
            sys_ = consensus_system(graphs, eps=0.0, **kwargs)
            As = _disagreement(np.asarray(sys_.matrices(cfg.T)[0]))
            res = sequential_stability(As, max_length=cfg.max_length, backend=cfg.backend)
            row[part] = {"kappa": res.kappa, "gamma": res.gamma, "worst_interval": list(res.worst_interval),
                         "holds": res.holds(res.kappa, res.gamma), "decay": res.decay.tolist(),
                         "mean_decay": res.mean_decay.tolist()}
        rows.append(row)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    metrics, curves, xs = {}, {}, {}
    for r in rows:
        key, a = f"{r['graph']}/{r['scenario']}", r["disagreement"]
        metrics[f"kappa/{key}"], metrics[f"gamma/{key}"] = float(a["kappa"]), float(a["gamma"])
        curves[f"decay/{key}"] = a["decay"]
        xs[f"decay/{key}"] = list(range(1, len(a["decay"]) + 1))  # interval length |I|
    metrics[PRIMARY] = min(v for k, v in metrics.items() if k.startswith("gamma/"))
    return {"rows": rows, "T": cfg.T, "max_length": cfg.max_length, "metrics": metrics, "curves": curves,
            "curve_x": xs}


def summary(results: dict) -> str:
    """The (κ, γ) table."""
    head = (f"{'graph':15s} {'scenario':10s} {'n':>3s} {'1-h·λ2':>8s} | {'κ':>8s} {'γ':>8s} {'κ²/γ':>9s} "
            f"{'worst interval':>15s}")
    lines = [f"(kappa, gamma) sequential stability, T = {results['T']}, intervals up to "
             f"{results['max_length']} steps", head, "-" * len(head)]
    for r in results["rows"]:
        a = r["disagreement"]
        lines.append(f"{r['graph']:15s} {r['scenario']:10s} {r['nodes']:3d} {r['static_rate']:8.4f} | "
                     f"{a['kappa']:8.4g} {a['gamma']:8.4f} {a['kappa'] ** 2 / a['gamma']:9.4g} "
                     f"{str(tuple(a['worst_interval'])):>15s}")
    lines.append("(disagreement dynamics on 1^perp; h = 1/lambda_max of each graph; 1-h·λ2 = the static "
                 "per-step contraction)")
    return "\n".join(lines)


def plot(results: dict, outdir: str) -> list[str]:
    """Decay of the worst interval product against ``|I|``, one panel per graph (log scale)."""

    plt = pyplot()

    rows = results["rows"]
    graphs = list(dict.fromkeys(r["graph"] for r in rows))
    fig, axes = plt.subplots(1, len(graphs), figsize=(4 * len(graphs), 3.2), squeeze=False)
    for r in rows:
        ax = axes[0][graphs.index(r["graph"])]
        res = r["disagreement"]
        decay = np.asarray(res["decay"])
        ell = np.arange(1, len(decay) + 1)
        line, = ax.semilogy(ell, decay, "-", label=f"{r['scenario']}: max")
        ax.semilogy(ell, res["kappa"] ** 2 * (1 - res["gamma"]) ** ell, "--", color=line.get_color(), lw=0.8,
                    label=rf"$\kappa^2(1-\gamma)^{{|I|}}$ ({r['scenario']})")
        ax.set_title(r["graph"])
        ax.set_xlabel("interval length |I|")
        ax.set_ylabel(r"max $\|A_s\cdots A_r\|$")
    for ax in axes[0]:
        ax.legend(fontsize="xx-small")
    path = save_figure(fig, outdir, "seq_stability_decay.png", dpi=110)
    return [path]
