"""Best DFC / best linear feedback in hindsight: exact quadratic, optimality against many fixed
controllers (random feasible M's, GPC's final M), constrained solve checked against FISTA."""

import numpy as np
import pytest
from _problems import central_differences

import olc
from olc.comparators.fixed import minimize_over_set
from olc.errors import InvalidArgumentError
from olc.systems import disturbances as D
from olc.systems import library as lib


def _setup(T=1500, kind="sinusoidal"):
    s = lib.double_integrator()
    cost = olc.systems.QuadraticCost(np.eye(2), np.eye(1))
    w = D.sinusoidal(T, 2, seed=0) if kind == "sinusoidal" else D.gaussian(T, 2, seed=0)
    return s, cost, olc.games.control(s, w, cost)


def test_quadratic_is_exact():
    s, cost, game = _setup(400, "gaussian")
    c = olc.comparators.BestDFC(s, cost, H=4)
    W = game.w
    x0 = np.array([0.5, -1.0])
    c.fit(W, x0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        M = rng.standard_normal((4, 1, 2))
        assert c.objective(M) == pytest.approx(c.evaluate(M, W, x0).sum(), rel=1e-10)


@pytest.mark.parametrize("kappa", [5.0, 0.05])
def test_best_dfc_beats_every_fixed_M(kappa):
    s, cost, game = _setup()
    tr = olc.play(olc.learners.GPC(s, cost, H=6, kappa_M=kappa), game)
    comp = olc.comparators.BestDFC(s, cost, H=6, kappa_M=kappa)
    best = comp.best_cumulative(tr)
    assert comp.method.startswith("unconstrained" if kappa == 5.0 else "constrained")
    assert best[-1] == pytest.approx(comp.total, rel=1e-10)
    assert np.all(comp.Mset.contains(comp.M))
    W = tr.info["disturbances"]
    rng = np.random.default_rng(1)
    tol = 1e-9 * abs(comp.total)
    for scale in (0.01, 0.1, 1.0):
        for _ in range(100):
            M = comp.Mset.project(scale * rng.standard_normal(comp.M.shape))
            assert comp.objective(M) >= comp.total - tol
    # GPC's final M, played from the start, is no better; nor are small perturbations of the optimum
    M_gpc = tr.learner.current_M(tr.final_state)
    assert comp.evaluate(M_gpc, W).sum() >= comp.total - tol
    for _ in range(50):
        M = comp.Mset.project(comp.M + 1e-4 * rng.standard_normal(comp.M.shape))
        assert comp.objective(M) >= comp.total - tol
    # regret curve
    reg = tr.regret(comp)
    assert reg.shape == (tr.T,) and reg[-1] == pytest.approx(tr.losses.sum() - comp.total, rel=1e-9)
    assert comp.anytime is False


def test_constrained_solution_matches_projected_gradient():
    s = lib.random_stable(3, 2, 0.9, seed=1)
    cost = olc.systems.QuadraticCost(np.eye(3), np.eye(2))
    W = D.sinusoidal(1000, 3, seed=0)
    for norm in ("fro", "op"):
        c = olc.comparators.BestDFC(s, cost, H=4, kappa_M=0.1, gamma=0.2, norm=norm)
        M = c.fit(W)
        assert c.method.startswith("constrained")
        f = c.objective
        g = lambda z: 2 * (c.P @ z.ravel()) + 2 * c.q  # noqa: E731
        M_ref = minimize_over_set(f, g, c.Mset, M.shape, tol=1e-13)
        assert c.total <= f(M_ref) + 1e-8 * abs(c.total)
        if c.gap is not None:
            assert c.gap <= 1e-8 * abs(c.total)


def test_best_linear_feedback_improves_on_lqr():
    s, cost, game = _setup(800)
    tr = olc.play(olc.learners.LQR(s, cost), game)
    comp = olc.comparators.BestLinearFeedback(s, cost)
    best = comp.best_cumulative(tr)
    assert best[-1] <= tr.losses.sum() * (1 + 1e-12)
    assert comp.improved
    assert np.max(np.abs(np.linalg.eigvals(s.A(0) - s.B(0) @ comp.K))) < 1
    # the adjoint gradient matches finite differences
    W = tr.info["disturbances"]
    A, B = (np.asarray(a) for a in s.matrices(len(W)))
    K = comp.K_lqr
    J, gK = comp.cost_and_grad(K, W, np.zeros(2), A, B)
    fd = central_differences(lambda K: comp.cost_and_grad(K, W, np.zeros(2), A, B)[0], K)
    assert gK == pytest.approx(fd, rel=1e-5, abs=1e-6)


def test_trace_without_disturbances_is_rejected():
    s, cost, _ = _setup(50)
    trace = olc.play(olc.learners.OGD(olc.sets.Ball(1.0)), olc.games.linear(np.ones((5, 2))))
    with pytest.raises(InvalidArgumentError, match="disturbances"):
        olc.comparators.BestDFC(s, cost, H=2).best_cumulative(trace)


def test_dfc_controls_shape_errors():
    from olc.errors import ShapeError

    with pytest.raises(ShapeError, match=r"W: expected shape \(\*, 2\), got shape \(10, 3\)"):
        olc.comparators.dfc_controls(np.ones((3, 1, 2)), np.ones((10, 3)))
    with pytest.raises(ShapeError, match=r"M: expected an array with 3 dimension"):
        olc.comparators.dfc_controls(np.ones((1, 2)), np.ones((10, 2)))
    U = olc.comparators.dfc_controls(np.ones((3, 1, 2)), np.ones((10, 2)))
    assert U.shape == (10, 1) and U[0, 0] == 0.0 and U[5, 0] == 6.0
