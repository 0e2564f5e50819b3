"""Loss families: gradients/Hessians against finite differences, sequences against single losses."""

import numpy as np
import pytest
from _problems import central_differences

import olc
from olc import losses as L

rng = np.random.default_rng(0)
Q = rng.normal(size=(4, 4))
SINGLES = {
    "linear": L.Linear(rng.normal(size=4)),
    "quadratic": L.Quadratic(Q @ Q.T, rng.normal(size=4), 0.3),
    "logistic": L.Logistic(rng.normal(size=4), -1.0),
    "least-squares": L.LeastSquares(rng.normal(size=4), 0.7),
    "function": L.FunctionLoss(lambda x: np.sum(np.cosh(x)), lambda x: np.sinh(x), lambda x: np.diag(np.cosh(x))),
}


@pytest.mark.parametrize("name", SINGLES)
def test_gradient_and_hessian_match_finite_differences(name):
    f = SINGLES[name]
    x = rng.normal(size=4)
    np.testing.assert_allclose(f.grad(x), central_differences(f.value, x), atol=1e-6)
    if name != "linear":
        H = f.hessian(x)
        Hfd = np.stack([central_differences(lambda z, i=i: f.grad(z)[i], x) for i in range(4)])
        np.testing.assert_allclose(H, Hfd, atol=1e-5)


def test_logistic_is_stable_for_large_margins():
    f = L.Logistic(np.array([1.0, 0.0]), 1.0)
    assert f.value(np.array([-1000.0, 0.0])) == pytest.approx(1000.0)
    assert f.value(np.array([1000.0, 0.0])) == pytest.approx(0.0, abs=1e-300)
    assert np.all(np.isfinite(f.grad(np.array([-1000.0, 0.0]))))


@pytest.mark.parametrize("family", ["linear", "quadratic", "logistic", "least-squares"])
def test_sequences_agree_with_their_rounds(family):
    T, d = 7, 3
    if family == "linear":
        seq = L.Linear(rng.normal(size=(T, d)), batched=True)
    elif family == "quadratic":
        A = rng.normal(size=(T, d, d))
        seq = L.Quadratic(A @ A.transpose(0, 2, 1), rng.normal(size=(T, d)), rng.normal(size=T), batched=True)
    elif family == "logistic":
        seq = L.Logistic(rng.normal(size=(T, d)), rng.choice([-1.0, 1.0], size=T), batched=True)
    else:
        seq = L.LeastSquares(rng.normal(size=(T, d)), rng.normal(size=T), batched=True)
    x = rng.normal(size=d)
    vals = np.array([seq[t].value(x) for t in range(T)])
    np.testing.assert_allclose(seq.value(x), vals, atol=1e-12)
    np.testing.assert_allclose(seq.grad(x), np.stack([seq[t].grad(x) for t in range(T)]), atol=1e-12)
    assert seq.total(x, upto=4) == pytest.approx(vals[:4].sum())
    np.testing.assert_allclose(seq.total_grad(x), central_differences(seq.total, x), atol=1e-5)
    again = L.stack(list(seq))
    np.testing.assert_allclose(again.value(x), vals, atol=1e-12)


def test_with_memory_unary_restriction_and_gradient():
    base = L.Quadratic(np.eye(2), np.array([1.0, -2.0]))
    f = L.WithMemory(base, memory=3, weights=[0.5, 0.3, 0.2])
    x = np.array([0.3, -0.4])
    assert f.value(np.stack([x, x, x])) == pytest.approx(base.value(x))
    W = rng.normal(size=(3, 2))
    np.testing.assert_allclose(f.grad(W), central_differences(f.value, W), atol=1e-6)
    # newest decision (last row) carries weight c_0 = 0.5
    np.testing.assert_allclose(f.combine(W), 0.5 * W[2] + 0.3 * W[1] + 0.2 * W[0])


def test_bad_loss_input():
    with pytest.raises(olc.ShapeError, match="x"):
        SINGLES["quadratic"].value(np.ones(3))
    with pytest.raises(olc.ShapeError, match="A"):
        L.Quadratic(np.ones((2, 3)))
    with pytest.raises(olc.NonFiniteError, match="g"):
        L.Linear(np.array([1.0, np.inf]))
    with pytest.raises(olc.InvalidArgumentError, match="y"):
        L.Logistic(np.ones(2), 0.5)
    with pytest.raises(olc.InvalidArgumentError, match="weights"):
        L.WithMemory(L.Linear(np.ones(2)), 2, weights=[-1.0, 2.0])
    bad = L.FunctionLoss(lambda x: np.nan, lambda x: x, name="broken")
    with pytest.raises(olc.NonFiniteError, match="broken"):
        bad.value(np.ones(2))


def test_nonconvex_and_mismatched_losses_are_refused():
    # a concave quadratic would make BestFixed's closed form (and every regret bound) wrong
    with pytest.raises(olc.InvalidArgumentError, match=r"A\[3\]: .*positive semidefinite .*-1"):
        L.Quadratic(np.stack([np.eye(2)] * 3 + [-np.eye(2)]), np.zeros((4, 2)), batched=True)
    with pytest.raises(olc.InvalidArgumentError, match="A: .*symmetric"):
        L.Quadratic(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(olc.InvalidArgumentError, match="curvature"):
        olc.games.random_quadratic(10, 3, curvature=-1)
    with pytest.raises(olc.InvalidArgumentError, match="spread"):
        olc.games.random_quadratic(10, 3, spread=-1)
    with pytest.raises(olc.errors.NonFiniteError, match="bound"):
        olc.games.random_linear(10, 3, bound=np.nan)
    with pytest.raises(olc.ShapeError, match=r"losses\[1\]: parameters of shape \(3,\)"):
        L.stack([L.Linear(np.ones(2)), L.Linear(np.ones(3))])
    # callables returning the wrong kind of thing
    f = L.FunctionLoss(lambda x: x, lambda x: None)
    with pytest.raises(olc.InvalidArgumentError, match=r"value \(fun\(x\)\): expected a real number"):
        f.value(np.ones(2))
    with pytest.raises(olc.InvalidArgumentError, match="grad returned None"):
        f.grad(np.ones(2))


def test_game_constructors_check_shapes_and_memory():
    with pytest.raises(olc.InvalidArgumentError, match="shape: expected a tuple of positive ints"):
        olc.games.adaptive(lambda t, p, r: L.Linear(np.ones(3)), 5, (-3,))
    with pytest.raises(olc.InvalidArgumentError, match="shape"):
        olc.games.adaptive(lambda t, p, r: L.Linear(np.ones(3)), 5, "abc")
    with pytest.raises(olc.InvalidArgumentError, match="memory: 100 is longer than the 50 rounds"):
        olc.games.with_memory(olc.games.linear(np.ones((50, 2))), 100)
    game = olc.games.adaptive(lambda t, p, r: L.Linear(np.ones(4)), 5, 3)
    with pytest.raises(olc.ShapeError, match="make_loss: the loss of round 0 does not fit decisions of shape"):
        olc.play(olc.learners.OGD(olc.sets.Ball(1.0), lr=0.1), game)
    with pytest.raises(olc.InvalidArgumentError, match="kind: expected one of"):
        olc.game.Feedback(0, "foo", 1.0)
    with pytest.raises(olc.InvalidArgumentError, match="anytime"):
        olc.comparators.BestFixed(olc.sets.Ball(1.0), anytime="x")
