"""BestOptimizer: brute force over the grid, kernel vs looped play, regret curves, bad input."""

import numpy as np
import pytest

import olc
from olc.comparators import E2_GRIDS, BestOptimizer
from olc.errors import DivergenceError, InvalidArgumentError
from olc.learners import OGD, SGD, AdamW, HeavyBall
from olc.learners.optimizers import train
from olc.oracles import LeastSquaresOracle, LogisticOracle, QuadraticOracle
from olc.sets import Ball

T = 120


@pytest.fixture(scope="module")
def lsq():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6)) * np.array([3.0, 1.5, 1.0, 1.0, 0.5, 0.3])
    y = X @ rng.normal(size=6) + 0.1 * rng.normal(size=50)
    return X, y


def brute_force(family, configs, oracle, x0, T, **kw):
    """Score of every configuration by its own olc.train run (inf if it diverges)."""
    make = {"gd": lambda c: SGD(c["lr"], c["weight_decay"]),
            "momentum": lambda c: HeavyBall(c["lr"], c["momentum"], c["weight_decay"]),
            "adamw": lambda c: AdamW(c["lr"], (c["beta1"], c["beta2"]), c["eps"], c["weight_decay"])}[family]
    out = []
    for c in configs:
        try:
            losses = train(make(c), oracle, T, x0, **kw).losses
            out.append(np.inf if np.any(np.abs(losses) > 1e100) else losses.sum())
        except DivergenceError:
            out.append(np.inf)
    return np.array(out)


@pytest.mark.parametrize("family", ["gd", "momentum"])
def test_kernel_choice_beats_every_grid_point_and_matches_play(lsq, family):
    X, y = lsq
    oracle = LeastSquaresOracle(X, y)
    x0 = np.zeros(6)
    res = BestOptimizer(family, backend="numpy").search(oracle, T, x0)
    assert len(res.configs) == np.prod([len(v) for v in E2_GRIDS[family].values()])
    assert res.methods.count("kernel") == len(res.configs) // 4  # the weight_decay = 0 points
    brute = brute_force(family, res.configs, oracle, x0, T)
    assert np.all(res.scores[res.best] <= brute + 1e-9 * np.abs(brute))
    assert res.scores[res.best] == pytest.approx(np.min(brute), rel=1e-10)
    assert res.diverged.any()  # lr = 1.0 (and the 0.99 momenta) blow up on this problem
    np.testing.assert_array_equal(np.isinf(brute), res.diverged)
    # kernel curves equal the looped play curves (all points, no kernel)
    loop = BestOptimizer(family, use_kernel=False).search(oracle, T, x0)
    assert loop.methods.count("kernel") == 0 and loop.best == res.best
    fin = ~res.diverged
    np.testing.assert_allclose(res.losses[fin], loop.losses[fin], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(res.diverged, loop.diverged)
    # the best configuration replayed through train gives the reported curve
    np.testing.assert_allclose(train(res.optimizer(), oracle, T, x0).losses, res.curve, rtol=1e-9, atol=1e-12)


def test_default_backend_kernel_agrees():
    A = np.diag([0.5, 1.0, 3.0])
    oracle = QuadraticOracle(A, np.ones(3), c=2.0)  # the constant must be carried into the curve
    grid = {"lr": [0.05, 0.3, 0.6], "momentum": [0.0, 0.5, 0.9]}
    a = BestOptimizer("momentum", grid=grid).search(oracle, 60, np.ones(3))
    b = BestOptimizer("momentum", grid=grid, use_kernel=False).search(oracle, 60, np.ones(3))
    assert set(a.methods) == {"kernel"}
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-9, atol=1e-12)
    assert a.config == b.config


def test_adamw_family_on_logistic_regression(lsq):
    X, y = lsq
    oracle = LogisticOracle(X, (y > 0).astype(float))
    grid = {"lr": [1e-3, 1e-2, 1e-1], "beta2": [0.9, 0.999]}
    res = BestOptimizer("adamw", grid=grid).search(oracle, 60, np.zeros(6))
    assert set(res.methods) == {"play"} and len(res.configs) == 6
    brute = brute_force("adamw", res.configs, oracle, np.zeros(6), 60)
    np.testing.assert_allclose(res.scores, brute, rtol=1e-12)
    assert res.best == int(np.argmin(brute)) and res.config["lr"] == 0.1
    final = BestOptimizer("adamw", grid=grid, criterion="final").search(oracle, 60, np.zeros(6))
    assert final.scores[final.best] == np.min(final.losses[:, -1])


def test_regret_against_the_tuned_baseline_replays_minibatches(lsq):
    X, y = lsq
    oracle = LeastSquaresOracle(X, y, batch_size=10)
    x0 = np.zeros(6)
    comp = BestOptimizer("gd", grid={"lr": [0.01, 0.05, 0.2]})
    assert comp.anytime is False
    # an optimizer of the grid has final regret >= 0; the best one has regret exactly 0
    tr = train(SGD(0.01), oracle, 80, x0, seed=7)
    R = tr.regret(comp)
    assert R.shape == (80,) and R[-1] > 0
    best = comp.result.config
    tr_best = train(SGD(best["lr"]), oracle, 80, x0, seed=7)
    np.testing.assert_allclose(tr_best.regret(comp), 0.0, atol=1e-12)
    # the comparator saw the same minibatches as the trace (stochastic, so no kernel)
    assert set(comp.result.methods) == {"play"}
    # on a deterministic problem the curve is the kernel's
    det = train(SGD(0.01), LeastSquaresOracle(X, y), 50, x0)
    R = det.regret(BestOptimizer("gd", grid={"lr": [0.01, 0.1]}, backend="numpy"))
    assert R[-1] > 0


def test_reproducible_and_bad_input(lsq):
    X, y = lsq
    oracle = LeastSquaresOracle(X, y)
    a = BestOptimizer("gd").search(oracle, 30, np.zeros(6))
    b = BestOptimizer("gd").search(oracle, 30, np.zeros(6))
    np.testing.assert_array_equal(a.losses, b.losses)
    with pytest.raises(DivergenceError) as err:
        BestOptimizer("gd", grid={"lr": [50.0, 100.0]}).search(oracle, 200, np.zeros(6))
    assert err.value.partial.diverged.all()
    with pytest.raises(InvalidArgumentError, match="family"):
        BestOptimizer("lion")
    with pytest.raises(InvalidArgumentError, match="grid"):
        BestOptimizer("gd", grid={"lr": [0.1], "momentum": [0.9]})
    with pytest.raises(InvalidArgumentError, match="lr"):
        BestOptimizer("gd", grid={"weight_decay": [0.0]})
    with pytest.raises(InvalidArgumentError):
        BestOptimizer("gd", grid={"lr": [-0.1]})
    with pytest.raises(InvalidArgumentError, match="momentum"):
        BestOptimizer("momentum", grid=[{"lr": 0.1, "momentum": 1.5}])
    with pytest.raises(InvalidArgumentError, match="criterion"):
        BestOptimizer("gd", criterion="best")
    oco = olc.play(OGD(Ball(1.0)), olc.games.linear(np.ones((3, 2))))
    with pytest.raises(InvalidArgumentError, match="optimization game"):
        BestOptimizer("gd").best_cumulative(oco)


@pytest.mark.parametrize("grid", ["x", 3, [1, 2], ["lr"]])
def test_grid_of_wrong_type_is_rejected_clearly(grid):
    with pytest.raises(InvalidArgumentError, match="grid"):
        BestOptimizer(grid=grid)
