"""Every experiment checks its Config up front: bad values are olc errors naming the ``--set`` key."""

import json
import math

import numpy as np
import pytest

from olc._extras import missing_modules
from olc.cli import main
from olc.errors import InvalidArgumentError, OlcError
from olc.experiments import check_config, each, extras_of, get, integer, make_config, optional, pair, real, registry

# (experiment, --set key=value, text the message must contain besides the key)
BAD = [
    ("oco-regret", "T=1", "2"),
    ("oco-regret", "seeds=0", "1"),
    ("oco-regret", "dim=1", "2"),
    ("oco-regret", "radius=-1", "positive"),
    ("oco-regret", "memory=0", "1"),
    ("oco-regret", "memory=20000", "T = 10000"),
    ("gpc-vs-lqr", "lr=-1", "positive"),
    ("gpc-vs-lqr", "systems=", "at least one"),
    ("gpc-vs-lqr", "systems=foo", "double-integrator"),
    ("gpc-vs-lqr", "disturbances=gaussian,foo", "sinusoidal"),
    ("gpc-vs-lqr", "bandit_lr=nan", "finite"),
    ("gpc-vs-lqr", "bandit_lr=0", "positive"),
    ("gpc-vs-lqr", "curve_points=0", "1"),
    ("gpc-vs-lqr", "seed=-1", "0"),
    ("meta-momentum-quadratic", "n_problems=0", "1"),
    ("meta-momentum-quadratic", "iterations=0", "2"),
    ("meta-momentum-quadratic", "rate_T=1", "10"),
    ("meta-momentum-quadratic", "rate_dim=0", "1"),
    ("seq-stability-mlp", "seeds=0", "1"),
    ("seq-stability-mlp", "lr=0", "positive"),
    ("seq-stability-mlp", "backend=foo", "numba"),
    ("seq-stability-cnn", "seeds=0", "1"),
    ("seq-stability-cnn", "hvp_dtype=float16", "float32"),
    ("seq-stability-cnn", "weight_decay=0", "0.0"),
    ("seq-stability-graphs", "n_modes=0", "1"),
    ("seq-stability-graphs", "graphs=karate,foo", "florentine"),
    ("seq-stability-graphs", "p_fail=2", "[0.0, 1.0]"),
    ("ftml-rainbow-digits", "scales=abc", "1.0"),
    ("ftml-rainbow-digits", "scales=0.7", "0.5"),
    ("ftml-rainbow-digits", "threshold=nan", "finite"),
    ("ftml-rainbow-digits", "threshold=2", "[0.0, 1.0]"),
    ("ftml-rainbow-digits", "n_tasks=0", "1"),
    ("fobmaml-regression", "inner_steps=", "at least one"),
    ("fobmaml-regression", "outer_lrs=0.1,-1", "positive"),
    ("fobmaml-regression", "condition=0.5", "1"),
    ("metaopt-quadratic", "T=0", "1"),
    ("metaopt-quadratic", "starts=0", "1"),
    ("metaopt-quadratic", "weight_decay=2", "[0.0, 1.0]"),
    ("metaopt-digits", "hidden=0", "1"),
    ("metaopt-digits", "T_stochastic=0", "1"),
    ("metamd-quadratic", "unroll_tol=-1", "positive"),
    ("metamd-quadratic", "ablation_horizon=0", "1"),
    ("metamd-quadratic", "k=3,-1", ">= 0"),
    ("metamd-quadratic", "k=1,2,3", "pair"),
    ("metamd-quadratic", "meta_lr=-1", "positive"),
    ("metamd-quadratic", "train_tasks=0", "1"),
    ("metamd-quadratic", "m_min=3", "m_max"),
    ("metamd-quadratic", "m_init=0.001", "m_min"),
]


@pytest.mark.parametrize("name, setting, expected", BAD, ids=[f"{n}:{s}" for n, s, _ in BAD])
def test_bad_values_are_rejected_before_running_naming_the_key(tmp_path, capsys, name, setting, expected):
    missing = [e for e in extras_of(get(name)) if missing_modules(e)]
    if missing:                                         # olc run refuses first, with the install hint
        pytest.skip(f"{name} needs the {', '.join(missing)} extra")
    key, value = setting.split("=", 1)
    rc = main(["run", name, "--set", setting, "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith(f"olc: error: {key}") or err.startswith(f"olc: error: --set {key}"), err
    assert value.split(",")[-1] in err and expected in err, err  # a bad list item is quoted by itself
    assert "Traceback" not in err and "Warning" not in err


@pytest.mark.parametrize("name", sorted(registry()))
def test_run_checks_its_config_too(name):
    """The Python API (``run(Config(...))``) gets the same checks as the CLI, before any work."""
    module = get(name)
    cfg = module.Config()
    bad = next(f for f in ("T", "N", "n_problems", "runs", "n_tasks", "dim", "train_tasks") if hasattr(cfg, f))
    setattr(cfg, bad, 0)
    with pytest.raises(InvalidArgumentError, match=rf"^{bad}: expected an integer >= \d+, got 0"):
        module.run(cfg)


def test_every_default_config_passes_its_checks():
    for name in registry():
        module = get(name)
        check_config(make_config(module), module.CHECKS)


def test_check_helpers():
    rules = {"a": integer(2), "b": optional(real(0, 1)), "c": each(integer(0)), "d": pair(real(0)),
             "e": real(1, lo_open=True)}

    class C:
        a, b, c, d, e = 2, None, [0, 3], (1.0, 2.0), 1.5

    check_config(C(), rules)
    for field, value, words in [("a", 1, "a: expected an integer >= 2, got 1"), ("b", 1.5, "b: expected a number in"),
                                ("c", [], "c: expected at least one value"), ("c", [1, -1], "c: expected an integer"),
                                ("d", (1.0,), "d: expected a number or a pair"), ("d", -1.0, "d: expected a number >= 0"),
                                ("e", 1.0, "e: expected a number > 1"), ("b", math.inf, "b: expected a finite number")]:
        c = C()
        setattr(c, field, value)
        with pytest.raises(OlcError, match="^" + words.replace("[", r"\[").replace("(", r"\(")):
            check_config(c, rules)


@pytest.mark.filterwarnings("error")
def test_oco_regret_smallest_T_runs():
    res = get("oco-regret").run(get("oco-regret").Config(T=2, seeds=1, dim=2, memory=2))
    assert res["T"] == 2 and all(np.isfinite(r["final_regret"]) for r in res["rows"])


def test_metaopt_quadratic_without_finite_fixed_M_still_reports(tmp_path, capsys):
    """Every L-BFGS start diverges at base_lr=100: the comparator is null with a note, results are kept."""
    rc = main(["run", "metaopt-quadratic", "--set", "base_lr=100", "--set", "N=3", "--set", "T=30", "--set", "n=4",
               "--set", "grid=small", "--set", "starts=1", "--out", str(tmp_path), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    res = json.load(open(tmp_path / "results.json"))["results"]
    for run in res["runs"]:  # per seed: the comparator is null, with a note; the tuned baselines are kept
        assert run["best_fixed_M"] is None and run["fixed_episode_loss"] is None
        assert all(a["regret"]["best fixed M"] is None for a in run["algorithms"].values())
        assert "diverged" in run["note"] and "no finite comparator" in res["notes"][f"seed {run['seed']}"]
        assert run["tuned"]["gd"]["episode_loss"]
    assert "no finite comparator" in captured.out
