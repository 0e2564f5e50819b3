"""The reproduction rules (issue 13's "must hold"): every experiment's PROTOCOL names every Config field; tuned
grids extend to an interior optimum or say "edge"; claims are computed from the results (synthetic results
flip the verdict); seeds and statistics."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from olc import experiments
from olc.errors import InvalidArgumentError
from olc.experiments import _evidence as ev

NAMES = sorted(experiments.registry())


def _module(name):
    try:
        return experiments.get(name)
    except ImportError as exc:  # pragma: no cover - an extra is missing
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", NAMES)
def test_protocol_names_every_config_field(name):
    mod = _module(name)
    fields = {f.name for f in dataclasses.fields(mod.Config)}
    assert hasattr(mod, "PROTOCOL"), f"{name} has no PROTOCOL table"
    missing = fields - ev.protocol_fields(mod.PROTOCOL)
    assert not missing, f"{name}: PROTOCOL does not name {sorted(missing)}"
    assert "seed" in fields and ({"seeds", "n_seeds"} & fields), f"{name}: no seeds field"
    # the table renders, with olc's default read from the Config (so it cannot drift)
    recs = ev.protocol_records(mod.PROTOCOL, mod.Config, getattr(mod, "PAPER_PRESET", {}))
    assert all(r["paper"] and r["why"] for r in recs)
    assert "| setting | paper | olc (default) | olc (protocol=paper) | why |" in ev.protocol_markdown(recs)


def test_protocol_tables_are_shipped_data_of_registered_experiments():
    """Every protocols/*.toml belongs to an experiment that reads it, with only the known row keys."""
    from importlib.resources import files

    tomllib = pytest.importorskip("tomllib")

    tables = {p.name[:-5]: p for p in files(ev.__package__).joinpath("protocols").iterdir() if p.name.endswith(".toml")}
    assert set(tables) <= set(NAMES), sorted(set(tables) - set(NAMES))
    for name, path in tables.items():
        rows = tomllib.loads(path.read_text("utf-8"))["row"]
        assert all(list(r) in (["fields", "paper", "olc"], ["fields", "paper", "olc", "why"], ["shared"]) for r in rows)
        assert ev.protocol(name) == [ev.SHARED_ROWS[r["shared"]] if "shared" in r else tuple(r.values()) for r in rows]
    setup_cfg = Path(__file__).resolve().parents[2] / "setup.cfg"
    assert "olc.experiments = protocols/*.toml" in setup_cfg.read_text()  # a non-editable install ships them


@pytest.mark.parametrize("name", NAMES)
def test_protocol_paper_is_a_choice_and_explicit_values_win(name):
    mod = _module(name)
    if "protocol" not in {f.name for f in dataclasses.fields(mod.Config)}:
        pytest.skip(f"{name} has no protocol=paper preset")
    preset = getattr(mod, "PAPER_PRESET", {})
    cfg = experiments.make_config(mod, {"protocol": "paper"})
    resolved = ev.apply_protocol(cfg, preset)
    for k, v in preset.items():
        assert ev._same(getattr(resolved, k), v), (name, k)
    if preset:
        k = next(iter(preset))
        explicit = dataclasses.replace(cfg, **{k: getattr(mod.Config(), k)})  # explicit = the default: paper wins
        assert ev.apply_protocol(explicit, preset) == resolved
    with pytest.raises(InvalidArgumentError, match="protocol"):
        experiments.make_config(mod, {"protocol": "fast"})


# ------------------------------------------------------------------------------------------ grids
def test_an_optimum_beyond_the_grid_is_reached_by_extension():
    # score = (log10 lr − 2)²: the optimum lr = 100 lies far above the grid {0.01, 0.1, 1}
    res = ev.tune_grid(lambda cs: [(math.log10(c["lr"]) - 2) ** 2 for c in cs], {"lr": [0.01, 0.1, 1.0]},
                       max_extend=5)
    assert res["best"]["lr"] == pytest.approx(100.0) and res["position"]["lr"] == "interior" and not res["edge"]
    assert res["extended"]["lr"] == 3 and res["axes"]["lr"][-1] == pytest.approx(1000.0)


def test_an_optimum_beyond_the_extensions_is_flagged_edge():
    res = ev.tune_grid(lambda cs: [(math.log10(c["lr"]) - 6) ** 2 for c in cs], {"lr": [0.01, 0.1, 1.0]},
                       max_extend=2)
    assert res["position"]["lr"] == "edge (high)" and res["edge"] and res["extended"]["lr"] == 2
    assert "EDGE (high) 1/1" in ev.describe_positions([res])
    low = ev.tune(lambda v: -v, [1.0, 2.0, 4.0], max_extend=1)  # maximise −v: the optimum is below the grid
    assert low["position"] == "edge (low)" and low["grid"][0] == pytest.approx(0.5)


def test_two_axes_extend_as_slabs_and_the_trivial_member_is_a_boundary():
    # optimum lr = 10 (outside), momentum 0 (the trivial member: a domain limit, not an edge)
    def score(cs):
        return [(math.log10(c["lr"]) - 1) ** 2 + c["mom"] for c in cs]

    res = ev.tune_grid(score, {"lr": [0.1, 1.0], "mom": [0.0, 0.5, 0.9]}, scales={"mom": "log1m"},
                       limits={"mom": (0.0, 1.0)}, max_extend=4)
    assert res["best"] == {"lr": pytest.approx(10.0), "mom": 0.0}
    assert res["position"] == {"lr": "interior", "mom": "boundary"} and not res["edge"]
    assert res["evaluations"] == len(res["axes"]["lr"]) * len(res["axes"]["mom"])  # still a product grid


def test_diverged_points_are_never_best_and_bracket_an_end():
    res = ev.tune(lambda v: None if v > 2 else v, [0.5, 1.0, 2.0, 4.0])
    assert res["best"] == 2.0 and res["position"] == "interior" and res["scores"][-1] is None
    every = ev.tune(lambda v: float("nan"), [1.0, 2.0])
    assert every["position"] == "diverged" and every["edge"]


# ------------------------------------------------------------------------------------------ statistics
def test_seed_lists_are_disjoint_and_mean_se_matches_the_formula():
    assert ev.seed_list(0, 3) == [0, 1, 2] and ev.seed_list(2, 3) == [6, 7, 8]
    m, se = ev.mean_se([1.0, 2.0, 4.0])
    assert m == pytest.approx(7 / 3) and se == pytest.approx(np.std([1, 2, 4], ddof=1) / np.sqrt(3))
    m, se = ev.mean_se([1.0, np.nan, 3.0])  # a diverged seed is left out, not averaged in
    assert m == 2.0 and se == pytest.approx(np.std([1, 3], ddof=1) / np.sqrt(2))


def test_grade_counts_seeds_and_claims_need_evidence():
    assert ev.grade([True, True, True]) == ("reproduces", "3/3 seeds")
    assert ev.grade([True, False, True]) == ("partly", "2/3 seeds")
    assert ev.grade([False]) == ("does not", "0/1 seed")
    with pytest.raises(InvalidArgumentError, match="per_seed"):
        ev.claim("p", "w", "c", "m")
    with pytest.raises(InvalidArgumentError, match="verdict"):
        ev.claim("p", "w", "c", "m", [True], verdict="holds")


def test_paired_claim_grades_by_the_interval():
    up = ev.paired_claim("a beats b", "w", "a > b", "m", [1.1, 1.15, 1.2], [1.0, 1.0, 1.0])
    assert up["verdict"] == "reproduces" and up["holds_in"] == "3/3 seeds"
    noisy = ev.paired_claim("a beats b", "w", "a > b", "m", [1.5, 0.9, 1.2], [1.0, 1.0, 1.0])
    assert noisy["verdict"] == "partly" and noisy["holds_in"] == "2/3 seeds"
    down = ev.paired_claim("a beats b", "w", "a > b", "m", [0.5, 0.6, 0.7], [1.0, 1.0, 1.0])
    assert down["verdict"] == "does not"


def test_local_slope_refuses_non_positive_regret():
    k = np.arange(1, 101, dtype=float)
    assert ev.local_slope(3 * k ** 0.5) == pytest.approx(0.5)
    assert ev.local_slope(np.sqrt(k) - 5) is not None  # negative only before the window (k >= 50)
    assert ev.local_slope(np.sqrt(k) - 8) is None      # negative inside it (k < 64)
    assert ev.local_slope(-np.sqrt(k)) is None


# ------------------------------------------------------------------------------------------ claims from results
def _flip(grade, good, bad, index=0):
    a, b = grade(good)[index], grade(bad)[index]
    assert a["verdict"] == "reproduces" and b["verdict"] == "does not", (a, b)
    assert a["measured"] != b["measured"]  # the numbers quoted are the results', not fixed text


def _ftml_results(ftml_best: bool):
    mod = _module("ftml-rainbow-digits")
    n_tasks, seeds = 4, [0, 1]
    per = {}
    for m in mod.METHODS:
        good = (m == "FTML") == ftml_best
        eff = [[100 - 20 * t if good else 100 for t in range(n_tasks)] for _ in seeds]
        err = [[0.2 if good else 0.6] * n_tasks for _ in seeds]
        per[m] = {"efficiency": eff, "reached": [[e < 100 for e in r] for r in eff], "first_error": err,
                  "final_error": err}
    return mod, {"per_seed": per, "config": {"threshold": 0.7, "n_train": 100, "eval_n": 50}, "seeds": seeds,
                 "tasks": [f"t{i}" for i in range(n_tasks)]}


def test_ftml_claims_flip_with_the_results():
    mod, good = _ftml_results(True)
    _, bad = _ftml_results(False)
    for i in range(4):  # faster along the stream; efficiency, final and 100-point error lead
        _flip(mod.grade_claims, good, bad, i)


def test_oco_regret_claims_flip_and_no_slope_is_fitted_to_negative_regret():
    mod = _module("oco-regret")
    t = np.arange(1, 1001, dtype=float)
    assert mod.fit_slope(-np.sqrt(t)) is None and mod.fit_slope(np.sqrt(t)) == pytest.approx(0.5, abs=1e-6)

    def res(final, slope):
        row = {"adversary": "a", "learner": "OGD", "final_regrets": [final] * 2, "bounds": [10.0] * 2,
               "bound": 10.0, "slopes": [slope] * 2, "theory_exponent": 0.5}
        return {"rows": [row], "T": 100}

    _flip(mod.grade_claims, res(5.0, 0.5), res(50.0, 0.5), 0)  # regret within / beyond its bound
    _flip(mod.grade_claims, res(5.0, 0.5), res(5.0, 0.9), 1)   # exponent √t / linear
    assert mod.grade_claims(res(-5.0, None))[1]["verdict"] == "reproduces"  # negative regret: no slope, holds


def test_gpc_claims_flip_with_the_costs():
    mod = _module("gpc-vs-lqr")

    def res(gpc):
        runs = [{"system": "s", "disturbance": k, "avg_cost": {"gpc": gpc, "lqr": 1.0, "bandit-gpc": 2.0 * gpc},
                 "regret": {"gpc": 1.0}, "regret_slope": {"gpc": 0.5}} for k in ("gaussian", "sinusoidal")]
        return {"runs": runs}

    _flip(mod.grade_claims, res(0.9), res(1.5), 0)  # within 10 % of LQR on Gaussian noise
    _flip(mod.grade_claims, res(0.9), res(1.5), 1)  # beats LQR on sinusoidal


def test_seq_stability_claims_flip():
    mod = _module("seq-stability-mlp")

    def res(k, g, d):
        return {"per_run": [{"kappa_mean": k, "gamma_mean": g, "decay_ratio": d}] * 2, "kappa_worst": k,
                "config": {"T": 10}}

    _flip(mod.grade_claims, res(2.0, 0.03, 0.5), res(2.0, 0.03, 1.5), 0)
    _flip(mod.grade_claims, res(2.0, 0.03, 0.5), res(9.0, 0.0, 0.5), 1)
    g = _module("seq-stability-graphs")
    row = {"scenario": "switching", "disagreement": {"holds": True, "gamma": 0.1, "kappa": 1.0}}
    static = {"scenario": "static", "static_rate": 0.5, "disagreement": {"holds": True, "gamma": 0.5, "kappa": 1.0,
                                                                           "decay": [0.5, 0.25, 0.125]}}
    wrong = {**static, "disagreement": {**static["disagreement"], "decay": [0.5, 0.3, 0.2]}}
    _flip(g.grade_claims, {"rows": [static, row]}, {"rows": [wrong, row]}, 1)
    _flip(g.grade_claims, {"rows": [static, row]},
          {"rows": [static, {**row, "disagreement": {**row["disagreement"], "gamma": 0.0}}]}, 2)


# ------------------------------------------------------------------------------------------ figures
def test_figure_helpers_grid_symlog_and_diverged_runs_marked():
    pytest.importorskip("matplotlib")
    from olc.experiments import _plot

    fig, axes = _plot.panel_grid(5, ncols=3)
    assert len(axes) == 5 and fig.axes[5].axison is False  # 2 × 3 grid, the sixth cell switched off
    _plot.symlog_regret(axes[0])
    assert axes[0].get_yscale() == "symlog"
    line = _plot.band(axes[1], [1, 2, 3], [[1.0, 2.0, 3.0], [1.0, float("nan"), None]], "GD")
    assert line.get_label() == "GD (1/2 diverged), 2 seeds"  # counted in the legend, never dropped silently
    assert np.allclose(line.get_ydata(), [1.0, 2.0, 3.0])    # the mean over the seeds that did not diverge
    _plot.suptitle(fig, "exp", "T = 10")
    assert fig._suptitle.get_text() == "exp — T = 10"
    _plot.pyplot().close(fig)


# ------------------------------------------------------------------------------------------ docs page
def test_reproductions_page_is_generated_from_runs(tmp_path):
    import importlib.util
    import os

    from olc.cli import main

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = importlib.util.spec_from_file_location("_reproductions", os.path.join(root, "docs", "_reproductions.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = tmp_path / "default" / "seq-stability-graphs"
    assert main(["run", "seq-stability-graphs", "--set", "graphs=florentine", "--set", "T=20", "--set",
                 "max_length=10", "--set", "seeds=2", "--out", str(out), "--quiet"]) == 0
    (tmp_path / "default_times.txt").write_text("seq-stability-graphs 3.5 wall 2.0 user 0.1 sys\n"
                                                "seq-stability-graphs rc=0 load=1.0 1.0 1.0\n")
    text = gen.page(str(tmp_path))
    assert "## `seq-stability-graphs`" in text and "| `seq-stability-graphs` | 4 s wall / 2 s CPU | 1.0 1.0 1.0 |" in text
    assert "| `oco-regret` | not run |" in text and "PROTOCOL" in text
    assert text.count("| `seq-stability-graphs` | ") == 1 + 3  # run-time row + its 3 claims in the full table


def test_one_thread_limits_torch_and_blas_and_restores():
    torch = pytest.importorskip("torch")
    threadpoolctl = pytest.importorskip("threadpoolctl")

    before, blas = torch.get_num_threads(), threadpoolctl.threadpool_info()
    with ev.one_thread():
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas")
    assert torch.get_num_threads() == before
    after = {p["filepath"]: p["num_threads"] for p in threadpoolctl.threadpool_info()}
    assert all(after[p["filepath"]] == p["num_threads"] for p in blas)
