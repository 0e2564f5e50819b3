"""The meta-learning experiments run end to end on reduced configs (via make_config)."""

import json

import numpy as np
import pytest

from olc import experiments


def test_fobmaml_regression_reduced(tmp_path, sweep_ready):
    mod = experiments.get("fobmaml-regression")
    cfg = experiments.make_config(mod, {"dim": "4", "n_tasks": "3", "inner_steps": "1,20,400", "cg_steps": "2,10",
                                        "outer_steps": "5", "outer_lrs": "0.3", "loss_inner_steps": "10"})
    res = mod.run(cfg)
    json.dumps(res)
    err = res["relative_error"]
    # FO-B-MAML improves with inner steps and ends far below FO-MAML (paper, Sec. 5)
    assert err["FO-B-MAML (symmetric)"][-1] < 1e-3 < err["FO-B-MAML (symmetric)"][0]
    assert err["FO-B-MAML (symmetric)"][-1] < 0.1 * err["FO-MAML"][-1]
    assert err["iMAML (cg=10)"][-1] < err["iMAML (cg=2)"][-1]
    for curve in res["loss_curves"].values():
        assert curve[-1] <= curve[0] + 1e-12 and curve[-1] >= res["optimal_loss"] - 1e-9
    metrics, curves = sweep_ready(mod, res)
    assert metrics["rel_error/FO-MAML"] == err["FO-MAML"][-1] and curves["rel_error/MAML"] == err["MAML"]
    assert all(v >= -1e-9 for k, v in metrics.items() if k.startswith("loss_gap/"))
    assert "FO-B-MAML" in mod.summary(res)
    paths = mod.plot(res, str(tmp_path))
    assert all(p.endswith(".png") for p in paths)


def test_ftml_rainbow_digits_reduced(tmp_path, sweep_ready):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    mod = experiments.get("ftml-rainbow-digits")
    cfg = experiments.make_config(mod, {"n_tasks": "2", "n_train": "10", "n_test": "10", "hidden": "2",
                                        "n_per_step": "5", "meta_steps": "1", "update_steps": "1",
                                        "batch_size": "5"})
    a = mod.run(cfg)
    b = mod.run(cfg)
    assert a == b  # seeded
    json.dumps(a)
    assert set(a["methods"]) == {"FTML", "TOE", "FTL+fine-tune", "Scratch"}
    for r in a["methods"].values():
        assert len(r["efficiency"]) == 2 and all(0 <= v <= 1 for v in r["final"] + r["first"])
    metrics, curves = sweep_ready(mod, a)
    assert metrics["final_accuracy/TOE"] == np.mean(a["methods"]["TOE"]["final"])
    assert len(curves["efficiency/FTML"]) == 2 and all(0 < v <= cfg.n_train for v in curves["efficiency/FTML"])
    assert "FTML" in mod.summary(a)
    assert mod.plot(a, str(tmp_path))[0].endswith(".png")
    assert np.isfinite(a["methods"]["FTML"]["final"]).all()
