"""The control experiments run on small configs, give JSON-serialisable results, tables and PNGs."""

import json

import numpy as np

from olc import experiments


def test_gpc_vs_lqr(tmp_path, sweep_ready):
    mod = experiments.get("gpc-vs-lqr")
    cfg = experiments.make_config(mod, {"T": "600", "systems": "double-integrator", "curve_points": "20"})
    res = mod.run(cfg)
    json.dumps(res)
    table = mod.summary(res)
    assert "double-integrator" in table and "sinusoidal" in table
    runs = {r["disturbance"]: r for r in res["runs"]}
    assert runs["sinusoidal"]["avg_cost"]["gpc"] < runs["sinusoidal"]["avg_cost"]["lqr"]
    assert runs["adversarial"]["avg_cost"]["gpc"] < runs["adversarial"]["avg_cost"]["lqr"]
    metrics, curves = sweep_ready(mod, res)
    ratios = [r["avg_cost"]["gpc"] / r["avg_cost"]["lqr"] for r in res["runs"]]
    assert np.isclose(metrics["gpc_over_lqr"], np.prod(ratios) ** (1 / len(ratios)))
    assert metrics["avg_cost/double-integrator/sinusoidal/gpc"] == runs["sinusoidal"]["avg_cost"]["gpc"]
    assert curves["regret/double-integrator/adversarial/gpc"][-1] == runs["adversarial"]["regret"]["gpc"]
    paths = mod.plot(res, str(tmp_path))
    assert len(paths) == 2 and all(p.endswith(".png") for p in paths)


def test_seq_stability_graphs(tmp_path, sweep_ready):
    mod = experiments.get("seq-stability-graphs")
    cfg = experiments.make_config(mod, {"graphs": "florentine,karate", "T": "40", "max_length": "20"})
    res = mod.run(cfg)
    json.dumps(res)
    for r in res["rows"]:
        a = r["disagreement"]
        assert a["holds"] and a["kappa"] >= 1 - 1e-9 and 0 < a["gamma"] < 1
        if r["scenario"] == "static":  # symmetric I - hL: ||(I-hL)^k|| on 1^perp = (1 - h λ2)^k exactly
            assert np.allclose(a["decay"], r["static_rate"] ** np.arange(1, len(a["decay"]) + 1))
    metrics, curves = sweep_ready(mod, res)
    assert metrics["min_gamma"] == min(r["disagreement"]["gamma"] for r in res["rows"])
    assert curves["decay/karate/failures"] == res["rows"][-1]["disagreement"]["decay"]
    assert "florentine" in mod.summary(res)
    assert mod.plot(res, str(tmp_path))[0].endswith(".png")
