"""The meta-momentum-quadratic and metamd-quadratic experiments run (tiny configs), are
registered, seeded, JSON-serialisable, summarise paper vs olc and plot PNGs."""

import json
import warnings

import numpy as np
import pytest

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
    assert len(res["problems"]) == cfg.seeds * cfg.n_problems and res["seeds"] == [0, 1]
    assert set(res["problems"][0]["methods"]) == set(mmq.METHODS)
    Q = np.array(res["problems"][0]["Q"])
    assert np.allclose(np.linalg.eigvalsh(Q), [1.0, 4.0])  # eigenvalues i², App. B
    assert res["rates"]["optimistic (alpha_t=t, beta=1/4L)"]["slope"] < -1.6
    metrics, curves = sweep_ready(mmq, res)
    cum = [np.sum(p["methods"]["Meta-Momentum"]["curve"]) for p in res["problems"]]
    assert np.isclose(metrics["cum_loss/Meta-Momentum"], np.mean(cum))  # mean over (seed, Q)
    assert len(curves["loss/AdaGrad"]) == cfg.iterations
    assert {c["verdict"] for c in res["claims"]} <= {"reproduces", "partly", "does not"}
    text = mmq.summary(res)
    assert "paper" in text and "Meta-Momentum" in text
    assert all(p.endswith(".png") for p in mmq.plot(res, str(tmp_path)))
    assert np.allclose(mmq.sample_Q(np.random.default_rng(cfg.seed)), Q)  # seeded


def test_metamd_quadratic(tmp_path, sweep_ready):
    cfg = mdq.Config(train_tasks=2, test_tasks=1, meta_steps=3, tasks_per_step=2, horizon=10, max_iter=2000,
                     ablation_horizon=5, seeds=2)
    res = mdq.run(cfg)
    json.dumps(res)
    assert res["seeds"] == [0, 1] and len(res["runs"]) == 2
    for run in res["runs"]:
        for row in ("top", "bottom"):
            for m in ("MetaMD", "SGD", "SGD-M", "Adam"):
                assert 0 < run[row][m] <= cfg.max_iter
            assert 0 < run[row]["ablation"]["MetaMD"] <= cfg.max_iter and run[row]["ablation"]["horizon"] == 5
            assert 0 <= run[row]["near_diagonal"] < 1
    metrics, _ = sweep_ready(mdq, res)
    assert np.isclose(metrics["iterations/bottom/MetaMD"], np.mean([r["bottom"]["MetaMD"] for r in res["runs"]]))
    assert metrics["diverged/top"] == 0.0
    assert "27328" in mdq.summary(res).replace(",", "") and "fixed T=5" in mdq.summary(res)
    assert mdq._per_row((1.0, 2.0), 1) == 2.0 and mdq._per_row(3.0, 0) == 3.0
    assert all(c["holds_in"].endswith("/2 seeds") for c in res["claims"])
    assert mdq.plot(res, str(tmp_path))[0].endswith(".png")


def test_baseline_iterations_gd_closed_form():
    # SGD on θᵀQθ − bᵀθ with Q = I/2 (gradient θ − b) and lr = 1 converges in one step
    its = mdq.baseline_iterations("SGD", [0.5 * np.eye(2)], [np.ones(2)], np.zeros(2), [1.0], 1e-9, 10)
    assert its.tolist() == [[1]]


def _reference_iterations(method, Q, b, theta1, lr, tol, max_iter):
    """One (task, rate) by a plain loop: SGD, heavy ball (buffer form, momentum 0.9), Adam (Kingma & Ba Alg. 1)."""
    x, m, v = np.array(theta1, float), np.zeros(2), np.zeros(2)
    with np.errstate(all="ignore"):
        for it in range(max_iter + 1):
            g = 2.0 * Q @ x - b
            if np.linalg.norm(g) <= tol:
                return it
            if not np.isfinite(np.linalg.norm(g)) or it == max_iter:
                return max_iter
            if method == "SGD":
                x = x - lr * g
            elif method == "SGD-M":
                m = 0.9 * m + g
                x = x - lr * m
            else:
                m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
                x = x - lr * (m / (1 - 0.9 ** (it + 1))) / (np.sqrt(v / (1 - 0.999 ** (it + 1))) + 1e-8)


@pytest.mark.parametrize("method", mdq.BASELINES)
def test_baseline_iterations_match_a_reference_loop(method):
    # the olc.optim chains over the stacked (task, rate) iterate count the same iterations as a plain loop per
    # (task, rate), including rates that never reach the threshold and rates that diverge (max_iter for both)
    rng = np.random.default_rng(3)
    tasks = [mdq.task_sampler(1.0, d1)(rng) for d1 in (0.15, 0.03, 0.5)]
    lrs = [0.003, 0.05, 0.3, 1.5, 40.0]
    its, diverged, _ = mdq.baseline_iterations(method, *zip(*tasks), np.array([-2.0, 2.0]), lrs, 1e-3, 3000,
                                               details=True)
    ref = [[_reference_iterations(method, Q, b, [-2.0, 2.0], lr, 1e-3, 3000) for lr in lrs] for Q, b in tasks]
    assert its.tolist() == ref
    assert (its == 3000).any() and its.min() < 3000 and (method == "Adam" or diverged[:, -1].all())


def test_metamd_quadratic_reports_a_diverging_meta_training(tmp_path):
    # eta = 50 with m_init = 0.7: step η/m² ≈ 100 on curvatures ≥ 0.03, so every unroll overflows at
    # meta-step 0; the family is reported as diverged and the tuned baselines are still measured.
    cfg = mdq.Config(train_tasks=2, test_tasks=1, meta_steps=3, tasks_per_step=2, horizon=400, unroll_tol=None,
                     max_iter=500, ablation_horizon=None, eta=50.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mdq.run(cfg)
    json.dumps(res)
    run = res["runs"][0]
    for row in ("top", "bottom"):
        assert run[row]["MetaMD"] is None and run[row]["metamd_diverged"]["meta_step"] == 0
        assert len(run[row]["M"]) == 3 and run[row]["meta_objective"] == []
        assert all(0 < run[row][m] <= cfg.max_iter for m in ("SGD", "SGD-M", "Adam"))
    assert "DIVERGED in seed(s)" in mdq.summary(res)
    assert res["metrics"]["diverged/bottom"] == float(cfg.seeds) and "iterations/bottom/MetaMD" not in res["metrics"]
    assert all(c["verdict"] == "does not" for c in res["claims"])  # a diverged MetaMD is never "fastest"
    assert mdq.plot(res, str(tmp_path))[0].endswith(".png")
