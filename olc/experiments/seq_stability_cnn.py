"""Sequential stability of a ≥10,000-parameter CNN, matrix-free (``nonconvex-meta-optimization`` Fig. 3).

The paper checks Assumption 2 — the optimization LTV of App. B (eqs. (1)–(3)) is ``(κ, γ)``
sequentially stable, ``‖A_s⋯A_r‖ ≤ κ²(1−γ)^{|I|}`` (Definition 3) — on "a small neural network
at the beginning of training", averaged over 10 trials, finding ``κ ≈ 2.0``, and says larger
networks are infeasible because ``A_t`` is ``3n × 3n``. Here a CNN on scikit-learn's digits
(default 10,858 parameters: ``A_t`` would be 32,574 × 32,574, 8.5 GB in float64; ``--set
channels=16,32 hidden=768`` gives 111,562) is trained with the LTV's own update (gradient descent
with weight decay on one fixed batch, the paper's deterministic setting) and every interval norm
of ``A_0..A_{T−1}`` is bracketed by Golub–Kahan–Lanczos bounds on Hessian-vector products
(:func:`olc.torch.sequential_stability`), for four conditions — at initialisation and after
``train_steps`` steps, with ``δ = 0`` and ``δ = weight_decay`` — and ``seeds`` seeds.

Reported per condition (mean and spread over seeds): κ (certified interval ``[κ_lower, κ_upper]``)
and γ (the "bound" rule), whether γ was set by the horizon, the decay class and fitted rate, the
``√2`` floor at ``δ = 0`` and the parameter-block norms beside the full ones, ``η λ_max(H_t)/2``
per step. ``results["claims"]`` grades the sentences of the paper's Fig. 3 / App. E.3 against these
numbers (paper's sentence, measured, criterion, verdict); ``results["protocol"]`` lists where the
setting differs from the paper's and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import SeedsConfig, checked, choice, each, integer, positive, real
from . import _evidence as ev
from ._plot import pyplot, save_figure

NAME = "seq-stability-cnn"
EXTRAS = ("torch", "data")
PRIMARY = "kappa_upper_init_wd0"

CONDITIONS = (("init", False), ("init", True), ("trained", False), ("trained", True))


@dataclass
class Config(SeedsConfig):
    seeds: int = 3                  # seeds cfg.seed, cfg.seed + 1, ... (paper: 10 trials; protocol=paper)
    T: int = 5                      # recorded steps: all T(T+1)/2 intervals are bracketed (--set T=20: 210)
    channels: tuple[int, ...] = (8, 16)
    hidden: tuple[int, ...] = (128,)        # 10,858 parameters; channels=16,32 hidden=768: 111,562
    batch: int = 64                 # the fixed training batch (deterministic setting)
    lr: float = 0.1
    weight_decay: float = 0.01      # the delta > 0 condition (paper's grid: <= 1e-3; see the protocol)
    train_steps: int = 300          # "after training": this many steps of the same update first
    rtol: float = 1e-2              # relative gap of every interval's [lower, upper] (protocol=paper: 1e-3)
    hvp_dtype: str = "float32"      # Hessian-vector products ("float64" for full precision); bounds in float64


PAPER_PRESET = {"seeds": 10, "rtol": 1e-3}

PROTOCOL = ev.protocol(NAME)
__doc__ += ev.protocol_doc(PROTOCOL, Config, PAPER_PRESET)

CHECKS = {"T": integer(1), "channels": each(integer(1)), "hidden": each(integer(1), nonempty=False),
          "batch": integer(1), "lr": positive, "weight_decay": real(0.0, 1.0, lo_open=True), "train_steps": integer(1),
          "rtol": real(0.0, 1.0, lo_open=True, hi_open=True), "hvp_dtype": choice("float32", "float64")}


def _key(phase, wd):
    return f"{phase}_{'wd' if wd else 'wd0'}"


def run(config: Config | None = None, progress=None) -> dict:
    cfg = checked(config or Config())   # before the (slow) imports
    if len(cfg.channels) != 2:
        from ..errors import InvalidArgumentError

        raise InvalidArgumentError(f"channels: expected two conv widths, got {cfg.channels!r}")

    import torch

    from ..oracles.data import load_digits_dataset

    data = load_digits_dataset(seed=cfg.seed)
    idx = np.sort(np.random.default_rng(cfg.seed).choice(len(data.X_train), size=min(cfg.batch, len(data.X_train)),
                                                         replace=False))
    X, y = data.X_train[idx], data.y_train[idx]
    hvp_dtype = torch.float32 if cfg.hvp_dtype == "float32" else torch.float64
    bar = progress(cfg.seeds * len(CONDITIONS), NAME) if progress else None
    per = {_key(p, w): [] for p, w in CONDITIONS}
    with ev.one_thread():              # small batched HVPs, Krylov vector work: threads only oversubscribe
        _conditions(cfg, X, y, data, hvp_dtype, per, bar)
    n_params = per["init_wd0"][0]["n_params"]
    conditions = {k: _aggregate(v) for k, v in per.items()}
    dense_bytes = 8.0 * cfg.T * (3 * n_params) ** 2
    claims = _claims(conditions, cfg, n_params, dense_bytes)
    metrics = {}
    for k, c in conditions.items():
        metrics[f"kappa_{k}"] = c["kappa"]["mean"]
        metrics[f"kappa_upper_{k}"] = c["kappa_upper"]["mean"]
        metrics[f"gamma_{k}"] = c["gamma"]["mean"]
        metrics[f"block_kappa_upper_{k}"] = c["block_kappa_upper"]["mean"]
        metrics[f"max_edge_ratio_{k}"] = c["max_edge_ratio"]["mean"]
    metrics["seconds_per_analysis"] = float(np.mean([x["seconds"] for v in per.values() for x in v]))
    curves = {f"decay_{k}": c["decay_mean_over_runs"] for k, c in conditions.items()}
    return {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()},
            "n_params": int(n_params), "state_dim": int(3 * n_params), "dense_stack_bytes": dense_bytes,
            "conditions": conditions, "runs": per, "claims": claims,
            "protocol": ev.protocol_records(PROTOCOL, Config, PAPER_PRESET),
            "metrics": metrics, "curves": curves, "paper_kappa": 2.0}


def _conditions(cfg, X, y, data, hvp_dtype, per, bar):
    import time

    import torch

    import olc.torch

    from ..oracles.data import digits_cnn

    for r in range(cfg.seeds):
        seed = cfg.seed + r
        for phase, wd in CONDITIONS:
            model = digits_cnn(tuple(cfg.channels), n_classes=data.n_classes, seed=seed, hidden=tuple(cfg.hidden))
            t0 = time.perf_counter()
            res, system = olc.torch.sequential_stability(
                model, torch.nn.CrossEntropyLoss(), X, y, lr=cfg.lr, steps=cfg.T,
                weight_decay=cfg.weight_decay if wd else 0.0,
                warmup_steps=cfg.train_steps if phase == "trained" else 0, hvp_dtype=hvp_dtype,
                rtol=cfg.rtol, seed=seed, time_limit=None, progress=False, return_system=True)
            rec = _record(res, system, time.perf_counter() - t0)
            rec["n_params"] = int(sum(p.numel() for p in model.parameters()))
            per[_key(phase, wd)].append(rec)
            bar and bar.update(1)


def _record(res, system, seconds) -> dict:
    b, st = res.block, res.steps
    return {"kappa": res.kappa, "kappa_upper": res.kappa_upper, "gamma": res.gamma,
            "gamma_from_horizon": bool(res.gamma_from_horizon), "decay_class": res.decay_class,
            "decay_rate": res.decay_rate, "at_floor": bool(res.at_floor), "floor": res.floor,
            "decay": res.decay.tolist(), "upper_decay": res.upper_decay.tolist(), "mean_decay": res.mean_decay.tolist(),
            "kappa_gamma": {k: v.tolist() for k, v in res.kappa_gamma().items()},
            "block_kappa": b.kappa, "block_kappa_upper": b.kappa_upper, "block_gamma": b.gamma,
            "block_decay": b.decay.tolist(), "block_decay_class": b.decay_class,
            "block_gamma_from_horizon": bool(b.gamma_from_horizon),
            "edge_ratio": st["edge_ratio"].tolist(), "lmax": st["lmax"].tolist(), "lmin": st["lmin"].tolist(),
            "step_norm": st["step_norm_upper"].tolist(), "status": res.status_counts,
            "loss_first": float(system.losses[0]), "loss_last": float(system.losses[-1]),
            "seconds": float(seconds), "hvps": int(res.cost.get("hessian_vector_products", 0)),
            "summary": res.summary()}


def _aggregate(runs: list) -> dict:
    out = {k: stat_of([r[k] for r in runs])
           for k in ("kappa", "kappa_upper", "gamma", "decay_rate", "block_kappa_upper", "block_gamma", "seconds")}
    out["max_edge_ratio"] = stat_of([max(r["edge_ratio"]) for r in runs])
    out["edge_ratio_per_run"] = [float(max(r["edge_ratio"])) for r in runs]
    out["loss_last"] = stat_of([r["loss_last"] for r in runs])
    out["decay_classes"] = [r["decay_class"] for r in runs]
    out["block_decay_classes"] = [r["block_decay_class"] for r in runs]
    out["horizon_flags"] = [r["gamma_from_horizon"] for r in runs]
    out["at_floor"] = [r["at_floor"] for r in runs]
    out["decay_mean_over_runs"] = np.mean([r["mean_decay"] for r in runs], axis=0).tolist()
    out["worst_decay_over_runs"] = np.max([r["decay"] for r in runs], axis=0).tolist()
    out["worst_upper_over_runs"] = np.max([r["upper_decay"] for r in runs], axis=0).tolist()
    out["block_worst_over_runs"] = np.max([r["block_decay"] for r in runs], axis=0).tolist()
    return out


def stat_of(values) -> dict:
    """``{"mean", "min", "max"}`` of ``values``.

    Parameters
    ----------
    values : array_like
    """
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}


def _fmt_range(s, digits=3):
    return f"{s['mean']:.{digits}g} [{s['min']:.{digits}g}, {s['max']:.{digits}g}]"


def _claims(c, cfg, n, dense_bytes) -> list:
    i0, i1, t0, t1 = c["init_wd0"], c["init_wd"], c["trained_wd0"], c["trained_wd"]
    decays_all = all(k == "decaying" for k in i0["decay_classes"])
    w = np.asarray(i0["worst_decay_over_runs"])
    tail = float(w[-1] / w[1]) if w.size > 2 else float("nan")        # change after the first step
    tail_decays = bool(tail < 1 / 1.05)
    k_in_range = 1.5 <= i0["kappa_upper"]["min"] and i0["kappa_upper"]["max"] <= 2.5
    horizon = any(i0["horizon_flags"])
    secs = max(x["seconds"]["max"] for x in c.values())
    return [
        {"paper": "Fig. 3: the spectral norm of prod_{t=s}^{r} A_t decays as a function of |r - s| for a small "
                  "network at the beginning of training",
         "measured": f"at initialisation, weight decay 0: decay class per seed {i0['decay_classes']}, fitted factor "
                     f"{_fmt_range(i0['decay_rate'], 4)} per step; worst norm {i0['worst_decay_over_runs'][0]:.4g} "
                     f"at |I|=1 -> {i0['worst_decay_over_runs'][-1]:.4g} at |I|={cfg.T} (sqrt(2) floor: at it in "
                     f"{sum(i0['at_floor'])}/{cfg.seeds} seeds); parameter block: {i0['block_decay_classes']}",
         "criterion": "reproduces: every seed's worst-case curve falls by more than 5% over the horizon "
                      "(decay_class 'decaying') and still falls by more than 5% after |I| = 2; partly: only the "
                      "first condition",
         "verdict": ("reproduces" if decays_all and tail_decays else "partly reproduces" if decays_all
                     else "does not reproduce"),
         "why": (f"the worst-case norm falls mainly from |I|=1 to |I|=2 (single steps have ||A_t|| > sqrt(2): the "
                 f"gradient block H_t(x_t - x_(t-1)) is not scaled by the learning rate), then changes by a factor "
                 f"{tail:.3g} up to |I|={cfg.T}, above the sqrt(2) floor that zero-curvature directions impose at "
                 "weight decay 0; the parameter block alone stays near 1")},
        {"paper": "Fig. 3: Assumption 2 is satisfied in this instance with a value of kappa ~ 2.0",
         "measured": f"kappa (certified upper bound, rule 'bound') {_fmt_range(i0['kappa_upper'])} at gamma "
                     f"{_fmt_range(i0['gamma'])}; gamma set by the horizon in {sum(i0['horizon_flags'])}/"
                     f"{cfg.seeds} seeds; with weight decay {cfg.weight_decay:g}: kappa {_fmt_range(i1['kappa_upper'])}",
         "criterion": "1.5 <= kappa <= 2.5 in every seed, with gamma not set by the horizon",
         "verdict": ("reproduces" if k_in_range and not horizon else
                     "reproduces as a number only" if k_in_range else "does not reproduce"),
         "why": ("kappa ~ 2 is found, but gamma = 1/(T+1) was chosen by the horizon: on a curve that does not decay "
                 "kappa -> sqrt(e c) (c the curve's level) as T grows, so the value says more about T and the "
                 "sqrt(2) floor than about a decay rate" if horizon else
                 "kappa and gamma are set by a decaying curve")},
        {"paper": "App. E.3: since the size of these matrices scales quadratically with the number of parameters, "
                  "computing this for larger networks is infeasible",
         "measured": f"n = {n:,} parameters (A_t is {3 * n:,} x {3 * n:,}; the dense stack would need "
                     f"{dense_bytes / 2 ** 30:.1f} GiB); every one of the {cfg.T * (cfg.T + 1) // 2} intervals "
                     f"bracketed to a relative gap {cfg.rtol:g} from Hessian-vector products in at most "
                     f"{secs:.0f} s per analysis, O(T n) memory",
         "criterion": "the check completes for n >= 10,000 with every interval bounded",
         "verdict": "refuted (the check is feasible matrix-free)" if n >= 10_000 else "not tested at this size",
         "why": "norms of products need only products with A_t and A_t^T (Golub-Kahan-Lanczos), never the matrices"},
        {"paper": "(not claimed by the paper) after training",
         "measured": f"after {cfg.train_steps} steps, weight decay 0: kappa {_fmt_range(t0['kappa_upper'])}, decay "
                     f"{t0['decay_classes']}, max eta*lambda_max/2 {_fmt_range(t0['max_edge_ratio'])} (init: "
                     f"{_fmt_range(i0['max_edge_ratio'])}), loss {_fmt_range(t0['loss_last'])}; weight decay "
                     f"{cfg.weight_decay:g}: kappa {_fmt_range(t1['kappa_upper'])}, decay {t1['decay_classes']}, "
                     f"max eta*lambda_max/2 per seed {[round(v, 3) for v in t1['edge_ratio_per_run']]}, loss "
                     f"{_fmt_range(t1['loss_last'])}",
         "criterion": "none (an extension: the paper measures the beginning of training only)",
         "verdict": "n/a",
         "why": "reported for context: a seed whose eta*lambda_max/2 reaches about 1 (the edge of stability) has "
                "growing products, so no (kappa, gamma) with gamma > 0 describes it beyond the horizon"},
    ]



def summary(results: dict) -> str:
    lines = [f"n = {results['n_params']:,} parameters, T = {results['config']['T']}, seeds = "
             f"{results['config']['seeds']}", "",
             "| condition | kappa (upper) | gamma | decay | horizon-set | parameter-block kappa | max eta*lmax/2 |",
             "|---|---|---|---|---|---|---|"]
    for k, c in results["conditions"].items():
        lines.append(f"| {k} | {_fmt_range(c['kappa_upper'])} | {_fmt_range(c['gamma'])} | "
                     f"{','.join(sorted(set(c['decay_classes'])))} | {sum(c['horizon_flags'])}/{len(c['horizon_flags'])} | "
                     f"{_fmt_range(c['block_kappa_upper'])} | {_fmt_range(c['max_edge_ratio'])} |")
    lines += ["", "| claim (paper) | measured | criterion | verdict |", "|---|---|---|---|"]
    for c in results["claims"]:
        lines.append(f"| {c['paper']} | {c['measured']} | {c['criterion']} | {c['verdict']} |")
    lines += ["", "PROTOCOL", "| setting | paper | olc | why |", "|---|---|---|---|"]
    for p in results["protocol"]:
        lines.append(f"| {p['setting']} | {p['paper']} | {p['olc']} | {p['why']} |")
    return "\n".join(lines)


def plot(results: dict, outdir: str) -> list[str]:
    from ..systems.stability import draw_decay, draw_kappa_gamma, draw_steps

    plt = pyplot()
    conds = results["conditions"]
    runs = results["runs"]
    ell = np.arange(1, results["config"]["T"] + 1)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for ax, k in zip(axes.ravel(), conds):
        for r in runs[k]:
            draw_decay(ax, ell, r["decay"], upper=r["upper_decay"], block=r["block_decay"], floor=r["floor"],
                       color="C0")
        ax.set_title(k.replace("_wd0", ", δ = 0").replace("_wd", f", δ = {results['config']['weight_decay']:g}"))
        h, lab = ax.get_legend_handles_labels()
        keep = dict(zip(lab, h))
        ax.legend(keep.values(), keep.keys(), fontsize=6)
    fig.suptitle(f"decay of ||A_s..A_r|| with bounds ({results['n_params']:,}-parameter CNN, "
                 f"{results['config']['seeds']} seeds)")
    paths = [save_figure(fig, outdir, "seq_stability_cnn_decay.png")]
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (k, rs) in enumerate(runs.items()):
        for j, r in enumerate(rs):
            kg = r["kappa_gamma"]
            draw_kappa_gamma(ax, kg["gamma"], kg["kappa_lower"], kg["kappa_upper"], r["gamma"], r["kappa_upper"],
                             label=k if j == 0 else None, color=f"C{i}")
    h, lab = ax.get_legend_handles_labels()
    keep = {a: b for b, a in zip(h, lab) if "lower" not in a}
    ax.legend(keep.values(), keep.keys(), fontsize=7)
    ax.set_title("κ–γ trade-off (certified above the upper curve)")
    paths.append(save_figure(fig, outdir, "seq_stability_cnn_kappa_gamma.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (k, rs) in enumerate(runs.items()):
        for j, r in enumerate(rs):
            draw_steps(ax, r["edge_ratio"], label=k if j == 0 else None, color=f"C{i}")
    h, lab = ax.get_legend_handles_labels()
    keep = dict(zip(lab, h))
    ax.legend(keep.values(), keep.keys(), fontsize=7)
    ax.set(ylabel="η λ_max(H_t) / 2  (1 = edge of stability)", title="curvature against the step size")
    paths.append(save_figure(fig, outdir, "seq_stability_cnn_edge.png"))
    return paths
