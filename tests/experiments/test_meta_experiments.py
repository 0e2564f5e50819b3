"""The meta-momentum-quadratic and metamd-quadratic experiments run (tiny configs), are
registered, seeded, JSON-serialisable, summarise paper vs olc and plot PNGs."""

import json
import warnings

import numpy as np

from olc import experiments
from olc.experiments import meta_momentum_quadratic as mmq
from olc.experiments import metamd_quadratic as mdq


def test_registered():
    reg = experiments.registry()
    assert reg["meta-momentum-quadratic"].endswith("meta_momentum_quadratic")
    assert reg["metamd-quadratic"].endswith("metamd_quadratic")


def test_meta_momentum_quadratic(tmp_path, sweep_ready):
    cfg = mmq.Config(n_problems=1, iterations=20, rate_dim=30, rate_T=150)
    res = mmq.run(cfg)
    json.dumps(res)
    assert set(res["problems"][0]["curves"]) == set(mmq.METHODS)
    Q = np.array(res["problems"][0]["Q"])
    assert np.allclose(np.linalg.eigvalsh(Q), [1.0, 4.0])  # eigenvalues i², App. B
    assert res["rates"]["optimistic (alpha_t=t, beta=1/4L)"]["slope"] < -1.6
    metrics, curves = sweep_ready(mmq, res)
    assert metrics["cum_loss/Meta-Momentum"] == np.sum(res["problems"][0]["curves"]["Meta-Momentum"])
    assert len(curves["loss/AdaGrad"]) == cfg.iterations
    text = mmq.summary(res)
    assert "paper" in text and "Meta-Momentum" in text
    assert all(p.endswith(".png") for p in mmq.plot(res, str(tmp_path)))
    assert np.allclose(mmq.sample_Q(np.random.default_rng(cfg.seed)), Q)  # seeded


def test_metamd_quadratic(tmp_path, sweep_ready):
    cfg = mdq.Config(train_tasks=2, test_tasks=1, meta_steps=3, tasks_per_step=2, horizon=10, max_iter=2000,
                     ablation_horizon=5)
    res = mdq.run(cfg)
    json.dumps(res)
    for row in ("top", "bottom"):
        for m in ("MetaMD", "SGD", "SGD-M", "Adam"):
            assert 0 < res[row][m] <= cfg.max_iter
        assert 0 < res[row]["ablation"]["MetaMD"] <= cfg.max_iter and res[row]["ablation"]["horizon"] == 5
    metrics, _ = sweep_ready(mdq, res)
    assert metrics["iterations/bottom/MetaMD"] == res["bottom"]["MetaMD"] and metrics["diverged/top"] == 0.0
    assert "27328" in mdq.summary(res).replace(",", "") and "fixed T=5" in mdq.summary(res)
    assert mdq._per_row((1.0, 2.0), 1) == 2.0 and mdq._per_row(3.0, 0) == 3.0
    assert mdq.plot(res, str(tmp_path))[0].endswith(".png")


def test_baseline_iterations_gd_closed_form():
    # SGD on θᵀQθ − bᵀθ with Q = I/2 (gradient θ − b) and lr = 1 converges in one step
    its = mdq.baseline_iterations("SGD", [0.5 * np.eye(2)], [np.ones(2)], np.zeros(2), [1.0], 1e-9, 10)
    assert its.tolist() == [[1]]


def test_metamd_quadratic_reports_a_diverging_meta_training(tmp_path):
    # eta = 50 with m_init = 0.7: step η/m² ≈ 100 on curvatures ≥ 0.03, so every unroll overflows at
    # meta-step 0; the family is reported as diverged and the tuned baselines are still measured.
    cfg = mdq.Config(train_tasks=2, test_tasks=1, meta_steps=3, tasks_per_step=2, horizon=400, unroll_tol=None,
                     max_iter=500, ablation_horizon=None, eta=50.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mdq.run(cfg)
    json.dumps(res)
    for row in ("top", "bottom"):
        assert res[row]["MetaMD"] is None and res[row]["metamd_diverged"]["meta_step"] == 0
        assert len(res[row]["M"]) == 3 and res[row]["meta_objective"] == []
        assert all(0 < res[row][m] <= cfg.max_iter for m in ("SGD", "SGD-M", "Adam"))
    assert "diverged at meta-step 0" in mdq.summary(res)
    assert res["metrics"]["diverged/bottom"] == 1.0 and "iterations/bottom/MetaMD" not in res["metrics"]
    assert mdq.plot(res, str(tmp_path))[0].endswith(".png")
