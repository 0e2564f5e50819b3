"""Every experiment is ready for sweeps: a ``seed`` field, ``PRIMARY``/``EXTRAS``, per-run metrics."""

import dataclasses

import numpy as np

from olc.experiments import get, registry


def test_every_experiment_declares_seed_primary_and_extras():
    for name in registry():
        module = get(name)
        assert "seed" in {f.name for f in dataclasses.fields(module.Config)}, name
        assert isinstance(module.PRIMARY, str) and module.PRIMARY, name
        assert set(module.EXTRAS) <= {"torch", "data"}, name


def test_oco_regret_metrics_are_the_rows_and_seeds_do_not_overlap(sweep_ready):
    mod = get("oco-regret")
    both = mod.run(mod.Config(T=60, dim=2, seeds=2, seed=1))  # plays the games of seeds 2 and 3
    metrics, curves = sweep_ready(mod, both)
    for r in both["rows"]:
        key = f"{r['adversary']}/{r['learner']}"
        assert metrics[f"regret/{key}"] == r["final_regret"] and metrics[f"slope/{key}"] == r["slope"]
        assert curves[f"regret/{key}"][-1] == r["final_regret"] and both["curve_x"][f"regret/{key}"][-1] == 60
    singles = [mod.run(mod.Config(T=60, dim=2, seeds=1, seed=s))["metrics"] for s in (2, 3)]
    for key in metrics:
        if key.startswith("regret/"):  # the mean of the two one-game runs
            assert np.isclose(metrics[key], (singles[0][key] + singles[1][key]) / 2), key
    default = mod.run(mod.Config(T=60, dim=2, seeds=1))["metrics"]  # seed=0 plays the game of seed 0
    assert default != singles[0]
