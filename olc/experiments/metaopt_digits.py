"""Meta-optimization of a small MLP on the digits: deterministic episodes, then the frozen M on minibatches.

Laptop-scale version of ``nonconvex-meta-optimization`` Sec. 4 / App. E (MNIST MLP 784-100-100-10
there; here scikit-learn's 8×8 digits and a 64-``hidden``-10 ReLU MLP through
:class:`olc.oracles.TorchOracle`), for ``seeds`` independent seeds (data split, batch, initialisations
and minibatch stream):

1. **Deterministic setting** (Fig. 1): ``N`` episodes of ``T`` full-gradient steps on one fixed batch
   of ``batch`` training images, each episode from a fresh random initialisation (``reinit=True``;
   else the same one). Meta-opt is :class:`olc.learners.MetaOpt` (Alg. 7: scalar ``M``, Adam on
   ``M``, ``H``, ``L``). **Every olc baseline of App. E.2** is tuned on episode 1 (cumulative training
   loss; grids extended geometrically while the optimum sits at an end, the trivial member —
   momentum 0 — included; :func:`olc.experiments._evidence.tune_grid`) and rerun from every episode's
   initialisation: gradient descent, heavy-ball momentum, AdamW, hypergradient descent (from the tuned
   GD rate), DoG and D-Adaptation (self-tuning: their given hyperparameters), Mechanic on AdamW (the
   AdamW learning-rate grid).
2. **Stochastic setting** (Fig. 2): the learned ``M`` is frozen (Sec. 5) and trained for
   ``T_stochastic`` steps on minibatches of ``minibatch`` images from the whole training set, against
   the same baselines re-tuned on that stochastic run (same minibatch stream).

The claims of Sec. 4 are graded per seed (``results["claims"]``); "matches or outperforms many
baselines" counts, for every seed, the tuned baselines whose last-episode final loss meta-opt matches
(within 5 %) or beats, and requires at least half of them.

PROTOCOL (paper setting / olc setting / why; also in ``results["protocol"]``):
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..learners.metaopt import M_KINDS
from . import SeedsConfig, checked, choice, integer, positive
from . import _evidence as ev
from ._plot import band, pyplot, save_figure, suptitle

NAME = "metaopt-digits"
#: full training loss after the stochastic run with the frozen meta-learned M (mean over seeds)
PRIMARY = "stochastic_train_loss/meta-opt (frozen M)"
EXTRAS = ("torch", "data")
BASELINES = ("gd", "momentum", "adamw", "hgd", "dog", "dadapt", "mechanic")
NONADAPTIVE = ("gd", "momentum")  # the class the paper calls non-adaptive (its benchmark class)
NAMES = {"gd": "tuned GD", "momentum": "tuned momentum", "adamw": "tuned AdamW", "hgd": "tuned HGD", "dog": "DoG",
         "dadapt": "D-Adaptation", "mechanic": "tuned Mechanic"}


@dataclass
class Config(SeedsConfig):
    N: int = 6
    T: int = 100
    H: int = 16
    L: int = 2
    M: str = "scalar"
    base_lr: float = 0.1
    meta_lr: float = 1e-3
    hidden: int = 32
    batch: int = 256
    reinit: bool = True
    T_stochastic: int = 200
    minibatch: int = 32
    grid: str = "wide"    # "e2": App. E.2's grids; "wide": larger AdamW/Mechanic lr (PROTOCOL); "small": tests
    max_extend: int = 3


#: protocol=paper: App. E.1/E.2's MNIST settings that fit here (the stochastic run shortened, see PROTOCOL)
PAPER_PRESET = {"N": 16, "T": 500, "H": 32, "meta_lr": 1e-4, "hidden": 100, "batch": 512, "T_stochastic": 1000,
         "minibatch": 512, "seeds": 5, "grid": "e2"}

PROTOCOL = ev.protocol(NAME)
__doc__ += ev.protocol_doc(PROTOCOL, Config, PAPER_PRESET)

CHECKS = {"N": integer(1), "T": integer(1), "H": integer(1), "L": integer(1), "M": choice(*M_KINDS),
          "base_lr": positive, "meta_lr": positive, "hidden": integer(1), "batch": integer(1),
          "T_stochastic": integer(1), "minibatch": integer(1), "grid": choice("e2", "wide", "small"),
          "max_extend": integer(0)}


def _axes(kind="e2"):
    """Per family: (axes, scales, limits) of the tuning grid (``{}``: a self-tuning method, not tuned)."""
    small = kind == "small"
    lrs = (0.1, 0.4, 1.0) if small else (0.001, 0.01, 0.1, 0.2, 0.4, 1.0)
    adam = (1e-3, 1e-2) if small else (4e-3, 9e-3, 0.02, 0.045, 0.1) if kind == "wide" else (1e-4, 4e-4, 1e-3)
    return {
        "gd": ({"lr": lrs}, {}, {}),
        "momentum": ({"lr": lrs[:2] if small else lrs, "momentum": (0.0, 0.9) if small else (0.0, 0.9, 0.95, 0.99)},
                     {"momentum": "log1m"}, {"momentum": (0.0, 1.0)}),
        "adamw": ({"lr": adam, "beta1": (0.9,) if small else (0.9, 0.99)}, {"beta1": "log1m"}, {"beta1": (0.0, 1.0)}),
        "hgd": ({"beta": (1e-3,) if small else (1e-5, 1e-4, 1e-3, 1e-2)}, {}, {}),
        "mechanic": ({"lr": adam}, {}, {}),
        "dog": ({}, {}, {}),
        "dadapt": ({}, {}, {}),
    }


def make_baseline(family: str, c: dict, gd_lr: float = 0.1):
    """The olc optimizer of ``family`` with hyperparameters ``c``.

    Parameters
    ----------
    family : str
        ``"gd"``, ``"momentum"``, ``"adamw"``, ``"hgd"``, ``"mechanic"``, ``"dog"``, ...
    c : dict
        ``{"lr": ..., "momentum": ..., ...}``, the family's tuned hyperparameters.
    gd_lr : float
        The base learning rate that ``hgd`` adapts.
    """
    from ..learners.optimizers import SGD, AdamW, DAdaptAdam, DoG, HeavyBall, HypergradientDescent, Mechanic

    if family == "gd":
        return SGD(c["lr"])
    if family == "momentum":
        return HeavyBall(c["lr"], c["momentum"])
    if family == "adamw":
        return AdamW(c["lr"], (c["beta1"], 0.999), weight_decay=0.0)
    if family == "hgd":
        return HypergradientDescent(gd_lr, c["beta"])
    if family == "mechanic":
        return Mechanic(AdamW(c["lr"], (0.9, 0.999), weight_decay=0.0))
    if family == "dog":
        return DoG()
    return DAdaptAdam()


def _setup(cfg, seed):
    import torch

    from ..oracles import TorchOracle
    from ..oracles.data import digits_mlp, load_digits_dataset
    from ..oracles.torch_adapter import flatten_params

    data = load_digits_dataset(seed=seed)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(data.y_train), size=min(cfg.batch, len(data.y_train)), replace=False))
    module = digits_mlp(hidden=(cfg.hidden,), seed=seed)
    fixed = TorchOracle(module, torch.nn.CrossEntropyLoss(), data.X_train[idx], data.y_train[idx], name="digits-fixed")
    full = TorchOracle(digits_mlp(hidden=(cfg.hidden,), seed=seed), torch.nn.CrossEntropyLoss(), data.X_train,
                       data.y_train, batch_size=cfg.minibatch, name="digits-minibatch")
    inits = [np.asarray(flatten_params(digits_mlp(hidden=(cfg.hidden,), seed=seed + (i if cfg.reinit else 0)))
                        .detach().numpy(), dtype=float) for i in range(cfg.N)]
    return data, fixed, full, inits


def _accuracy(oracle, x, X, y):
    out = oracle.predict(x, X)
    out = out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)
    return float(np.mean(out.argmax(axis=1) == y))


def _play(opt, oracle, T, x0, game_seed=None, cap=np.inf):
    """``(losses, last iterate)``; a divergence gives ``(None, None)``. The game ends early once the cumulative
    loss exceeds ``cap`` (then fewer than ``T`` losses): losses are cross-entropies, ``>= 0``, so such a run's
    total is above ``cap`` too."""
    from ..errors import DivergenceError, NonFiniteError
    from ..game import play
    from ..games.optimization import OptimizationGame

    game = OptimizationGame(oracle, T, x0, seed=game_seed)
    game.done = lambda t: game._values[:t + 1].sum() > cap
    try:
        with np.errstate(all="ignore"):
            tr = play(opt, game, progress=False)
    except (DivergenceError, NonFiniteError):
        return None, None
    return tr.losses, tr.decisions[-1]


def _tune(family, oracle, T, x0, cfg, gd_lr, game_seed=None):
    """Tune ``family`` by cumulative training loss over ``T`` steps from ``x0``; returns the tuning record
    (``best`` config, positions, ``run``: the best config's ``(losses, last iterate)``) — self-tuning methods
    get ``{"best": {}, "position": {}}`` and their run. A run is cut once its partial sum exceeds the best
    total so far (:func:`_play`'s ``cap``: it cannot win, so the optimum is the exhaustive search's); the
    largest learning rates go first, which on these problems sets a low cap early."""
    axes, scales, limits = _axes(cfg.grid)[family]
    if not axes:
        return {"best": {}, "position": {}, "extended": {}, "axes": {},
                "run": _play(make_baseline(family, {}, gd_lr), oracle, T, x0, game_seed)}
    runs, cap = {}, [np.inf]

    def score_many(configs):
        out = {}
        for c in sorted(configs, key=lambda c: (-c.get("lr", 0.0), *c.values())):
            losses, last = _play(make_baseline(family, c, gd_lr), oracle, T, x0, game_seed, cap[0])
            out[id(c)] = None if losses is None else float(np.sum(losses))
            if losses is not None and len(losses) == T:
                runs[tuple(c.values())], cap[0] = (losses, last), min(cap[0], out[id(c)])
        return [out[id(c)] for c in configs]

    t = ev.tune_grid(score_many, axes, minimize=True, max_extend=cfg.max_extend, scales=scales, limits=limits,
                     keep_table=False)
    return {**{k: t[k] for k in ("best", "position", "extended", "axes")},
            "run": (None, None) if t["best"] is None else runs[tuple(t["best"].values())]}


def _one_seed(cfg, seed, tick):
    from ..learners import Adam
    from ..learners.metaopt import MetaOpt, run_episodes

    data, fixed, full, inits = _setup(cfg, seed)
    learner = MetaOpt(H=cfg.H, L=cfg.L, M=cfg.M, base_lr=cfg.base_lr, meta_optimizer=Adam(lr=cfg.meta_lr))
    res = run_episodes(learner, fixed, cfg.N, cfg.T, lambda i, _rng: inits[i], seed=seed)
    tick()
    det = {"meta-opt": res.losses.tolist()}
    tuning = {"deterministic": {}, "stochastic": {}}
    gd_lr = cfg.base_lr
    for fam in BASELINES:  # "gd" first: HGD starts from the tuned GD rate
        t = _tune(fam, fixed, cfg.T, inits[0], cfg, gd_lr)
        runs = [t.pop("run")[0]]  # episode 1 starts where the tuning ran: its best run
        tuning["deterministic"][fam] = t
        if fam == "gd" and t["best"]:
            gd_lr = t["best"]["lr"]
        runs += [None if t["best"] is None else _play(make_baseline(fam, t["best"], gd_lr), fixed, cfg.T, inits[i])[0]
                 for i in range(1, cfg.N)]
        det[NAMES[fam]] = [None if v is None else v.tolist() for v in runs]
    tick()
    frozen = learner.freeze(res.final_state)
    x0, game_seed = inits[0], seed + 1000
    sto, finals = {}, {}
    losses, last = _play(frozen, full, cfg.T_stochastic, x0, game_seed)
    sto["meta-opt (frozen M)"], finals["meta-opt (frozen M)"] = losses, last
    gd_sto = cfg.base_lr
    for fam in BASELINES:
        t = _tune(fam, full, cfg.T_stochastic, x0, cfg, gd_sto, game_seed)
        sto[NAMES[fam]], finals[NAMES[fam]] = t.pop("run")  # the tuned run is the comparison run
        tuning["stochastic"][fam] = t
        if fam == "gd" and t["best"]:
            gd_sto = t["best"]["lr"]
    tick()
    full_loss = {k: None if x is None else float(full.value(x)) for k, x in finals.items()}
    test_acc = {k: None if x is None else _accuracy(full, x, data.X_test, data.y_test) for k, x in finals.items()}
    Ms = res.Ms.reshape(res.Ms.shape[0], -1)
    drift = float(np.linalg.norm(Ms[-1] - Ms[-2]) / max(np.linalg.norm(Ms[-1]), 1e-12))
    return {"seed": seed, "deterministic": det, "Ms": res.Ms.tolist(), "M_drift_last_episode": drift,
            "tuning": tuning, "stochastic": {k: None if v is None else np.asarray(v).tolist() for k, v in sto.items()},
            "stochastic_full_train_loss": full_loss, "stochastic_test_accuracy": test_acc, "n_params": int(fixed.dim)}


def run(config: Config | None = None, progress=None) -> dict:
    cfg = checked(config or Config())  # before the (slow) imports

    seeds = ev.seed_list(cfg.seed, cfg.seeds)
    bar = progress(3 * len(seeds), NAME) if progress else None

    def tick():
        if bar:
            bar.update(1)

    try:
        with ev.one_thread():  # tiny models: threads only oversubscribe
            runs = [_one_seed(cfg, s, tick) for s in seeds]
    finally:
        if bar:
            bar.close()
    res = {"config": ev.config_dict(cfg), "protocol": ev.protocol_records(PROTOCOL, Config, PAPER_PRESET), "seeds": seeds,
           "runs": runs, "n_params": runs[0]["n_params"]}
    res["tuning_summary"] = {f"{setting}/{NAMES[f]}": ev.describe_positions([r["tuning"][setting][f] for r in runs])
                             for setting in ("deterministic", "stochastic") for f in BASELINES
                             if runs[0]["tuning"][setting][f]["axes"]}
    res["claims"] = grade_claims(res)
    metrics, curves = {}, {}
    methods = ["meta-opt", *(NAMES[f] for f in BASELINES)]
    for m in methods:
        ep_final = [_final(r["deterministic"][m]) for r in runs]
        ok = [v for v in ep_final if v is not None]
        if ok:
            metrics[f"episode_final_loss/{m}"] = float(np.mean([v[-1] for v in ok]))
            metrics[f"episode_loss/{m}"] = float(np.mean([np.sum(r["deterministic"][m][-1]) for r in runs
                                                          if _final(r["deterministic"][m]) is not None]))
            curves[f"episode_final_loss/{m}"] = np.mean(ok, axis=0).tolist()
    for k in runs[0]["stochastic_full_train_loss"]:
        vals = [r["stochastic_full_train_loss"][k] for r in runs if r["stochastic_full_train_loss"][k] is not None]
        accs = [r["stochastic_test_accuracy"][k] for r in runs if r["stochastic_test_accuracy"][k] is not None]
        if vals:
            metrics[f"stochastic_train_loss/{k}"] = float(np.mean(vals))
            metrics[f"test_accuracy/{k}"] = float(np.mean(accs))
            curves[f"stochastic_loss/{k}"] = np.mean([r["stochastic"][k] for r in runs if r["stochastic"][k]],
                                                     axis=0).tolist()
    metrics["claims_holding"] = float(sum(c["verdict"] == "reproduces" for c in res["claims"]))
    res.update(metrics=metrics, curves=curves)
    return res


def _final(episodes):
    """Per-episode final losses, or None when a run diverged."""
    if any(e is None for e in episodes):
        return None
    return [float(e[-1]) for e in episodes]


def grade_claims(res: dict) -> list[dict]:
    """The claims of Sec. 4 (Fig. 1 / Fig. 2), graded per seed from ``res``."""
    runs = res["runs"]
    where1, where2 = "Sec. 4, Fig. 1 (deterministic)", "Sec. 4, Fig. 2 (stochastic, frozen M)"
    first = [(_final(r["deterministic"]["meta-opt"])[0], (_final(r["deterministic"]["tuned GD"]) or [np.inf])[0])
             for r in runs]
    counts, beaten = [], []
    for r in runs:
        mo = _final(r["deterministic"]["meta-opt"])[-1]
        ok = {NAMES[f]: (_final(r["deterministic"][NAMES[f]]) or [np.inf])[-1] for f in BASELINES}
        wins = [k for k, v in ok.items() if mo <= 1.05 * v]
        counts.append(len(wins))
        beaten.append(wins)
    n_b = len(BASELINES)
    ratio = [(_final(r["deterministic"]["meta-opt"])[-1], min((_final(r["deterministic"][NAMES[f]]) or [np.inf])[-1]
                                                              for f in BASELINES)) for r in runs]
    ep_sum = [np.array([np.sum(e) for e in r["deterministic"]["meta-opt"]]) for r in runs]
    mono = [bool(np.all(np.diff(e) <= 0.01 * e[:-1])) for e in ep_sum]
    drift = [r["M_drift_last_episode"] for r in runs]
    sto = [r["stochastic_full_train_loss"] for r in runs]
    beats_na = [all(s["meta-opt (frozen M)"] is not None and (s[NAMES[f]] is None or s["meta-opt (frozen M)"] <=
                                                              s[NAMES[f]]) for f in NONADAPTIVE) for s in sto]
    acc = [r["stochastic_test_accuracy"] for r in runs]
    best_acc = [max(v for k, v in a.items() if k != "meta-opt (frozen M)" and v is not None) for a in acc]
    gen = [a["meta-opt (frozen M)"] is not None and a["meta-opt (frozen M)"] >= b - 0.02 for a, b in zip(acc, best_acc)]

    def g(v):
        return f"{v:.3g}"

    return [
        ev.claim("During the first episode it [meta-opt] is worse than gradient descent.", where1,
                 "episode 1 final training loss of meta-opt is above tuned GD's, per seed",
                 "meta-opt vs tuned GD: " + "; ".join(f"{g(a)} vs {g(b)}" for a, b in first), [a > b for a, b in first],
                 paper_numbers="Fig. 1, episode 1"),
        ev.claim("After a handful of deterministic episodes it matches or outperforms many other baselines.", where1,
                 f"in the last episode meta-opt's final loss is <= 1.05 × that of at least half ({(n_b + 1) // 2}) of the "
                 f"{n_b} tuned olc baselines (GD, momentum, AdamW, HGD, DoG, D-Adaptation, Mechanic), per seed",
                 "matched or beaten: " + "; ".join(f"{c}/{n_b} ({', '.join(w) or 'none'})" for c, w in zip(counts, beaten))
                 + "; meta-opt / best baseline final loss " + "; ".join(f"{g(a)} / {g(b)}" for a, b in ratio),
                 [c >= (n_b + 1) // 2 for c in counts], paper_numbers="Fig. 1 (MNIST, CIFAR, WMT)"),
        ev.claim("The improvement across episodes is monotonic.", where1,
                 "each episode's cumulative training loss is <= 1.01 × the previous one's, per seed",
                 "episode losses " + "; ".join(", ".join(g(v) for v in e) for e in ep_sum), mono,
                 paper_numbers="Fig. 1"),
        ev.claim("The [meta-]parameters eventually converge.", where1,
                 "relative change of M over the last episode < 0.1, per seed", "relative change " + ev.fmt_se(drift),
                 [d < 0.1 for d in drift], paper_numbers="Fig. 1"),
        ev.claim("Our method is able to outperform the non-adaptive baselines in terms of training loss [frozen M, "
                 "stochastic setting].", where2, "the full training loss after the stochastic run with the frozen M is "
                 "<= tuned GD's and tuned momentum's (re-tuned on the stochastic run), per seed",
                 "; ".join(", ".join(f"{k} {g(v) if v is not None else 'diverged'}" for k, v in s.items()
                                  if k == "meta-opt (frozen M)" or k in (NAMES[f] for f in NONADAPTIVE)) for s in sto),
                 beats_na, paper_numbers="Fig. 2"),
        ev.claim("On MNIST and CIFAR our method is able to generalize as well as the baselines.", where2,
                 "test accuracy with the frozen M is within 2 points of the best baseline's, per seed",
                 "meta-opt vs best baseline: " + "; ".join(f"{100 * (a['meta-opt (frozen M)'] or 0):.1f} vs "
                                                       f"{100 * b:.1f} %" for a, b in zip(acc, best_acc)), gen,
                 paper_numbers="Fig. 2 (test accuracy)"),
    ]


def summary(results: dict) -> str:
    runs = results["runs"]
    methods = ["meta-opt", *(NAMES[f] for f in BASELINES)]
    lines = [f"last-episode final training loss (deterministic) and after the stochastic run, mean ± s.e. over "
             f"{len(runs)} seeds", "| method | last episode (det.) | stochastic train loss | test accuracy |",
             "|---|---|---|---|"]
    for m in methods:
        det = [(_final(r["deterministic"][m]) or [None])[-1] for r in runs]
        k = "meta-opt (frozen M)" if m == "meta-opt" else m
        sto = [r["stochastic_full_train_loss"][k] for r in runs]
        acc = [r["stochastic_test_accuracy"][k] for r in runs]

        def cell(v, scale=1.0):
            ok = [scale * x for x in v if x is not None]
            div = len(v) - len(ok)
            return (ev.fmt_se(ok, 4) if ok else "") + (f" ({div} diverged)" if div else "")

        lines.append(f"| {m} | {cell(det)} | {cell(sto)} | {cell(acc, 100)} % |")
    return ev.report(results, "\n".join(lines))


def _smooth(v, k=10):
    v = np.asarray(v, dtype=float)
    k = max(1, min(k, len(v)))
    return np.convolve(v, np.ones(k) / k, mode="valid")


def plot(results: dict, outdir: str) -> list[str]:
    plt = pyplot()

    runs = results["runs"]
    cfg = results["config"]
    methods = ["meta-opt", *(NAMES[f] for f in BASELINES)]
    fig, ax = plt.subplots(2, 2, figsize=(13, 8.5))
    k = np.arange(1, cfg["N"] + 1)
    for m in methods:
        finals = [_final(r["deterministic"][m]) for r in runs]
        band(ax[0][0], k, [f if f is not None else [np.nan] * len(k) for f in finals], m, log=True,
             style="o-" if m == "meta-opt" else "--", ms=3)
    ax[0][0].set(xlabel="episode", ylabel="final training loss (fixed batch)", title="deterministic: end of each episode")
    ax[0][0].legend(fontsize=7)
    det0 = runs[0]["deterministic"]
    for m in methods:
        if all(e is not None for e in det0[m]):
            ax[0][1].semilogy(np.concatenate(det0[m]), "-" if m == "meta-opt" else "--", label=m, lw=1)
        else:
            ax[0][1].plot([], [], "--", label=f"{m} (diverged)")
    for i in range(1, cfg["N"]):
        ax[0][1].axvline(i * cfg["T"], color="0.85", lw=0.5)
    ax[0][1].set(xlabel="step (episodes concatenated)", ylabel="training loss", title=f"seed {runs[0]['seed']}: every step")
    ax[0][1].legend(fontsize=6)
    Ms = np.asarray(runs[0]["Ms"])
    Ms = Ms.reshape(Ms.shape[0], Ms.shape[1], -1).mean(axis=2)
    for h in range(min(Ms.shape[1], 8)):
        ax[1][0].plot(Ms[:, h], label=f"$M^{{({h + 1})}}$")
    ax[1][0].set(xlabel="episode", ylabel="M (mean entry)", title=f"meta-parameters (seed {runs[0]['seed']})")
    ax[1][0].legend(fontsize=6, ncol=2)
    for m in ["meta-opt (frozen M)", *(NAMES[f] for f in BASELINES)]:
        curves = [r["stochastic"][m] for r in runs]
        if any(c is None for c in curves):
            ax[1][1].plot([], [], label=f"{m} (diverged in {sum(c is None for c in curves)} seed(s))")
            curves = [c for c in curves if c is not None]
        if curves:
            band(ax[1][1], np.arange(len(_smooth(curves[0]))), [_smooth(c) for c in curves], m, log=True)
    ax[1][1].set(xlabel="step", ylabel="minibatch loss (smoothed)", title="stochastic, frozen M")
    ax[1][1].legend(fontsize=6)
    suptitle(fig, NAME, f"{results['n_params']} parameters; N = {cfg['N']} × T = {cfg['T']}, H = {cfg['H']}, "
             f"L = {cfg['L']}, meta-lr {cfg['meta_lr']:g}; stochastic {cfg['T_stochastic']} steps of "
             f"{cfg['minibatch']}; {len(runs)} seeds")
    path = save_figure(fig, outdir, "metaopt_digits.png", dpi=100)
    return [path]
