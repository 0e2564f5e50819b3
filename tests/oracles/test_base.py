"""The gradient-oracle protocol: checking, counting, freezing, seeded minibatches."""

import numpy as np
import pytest

from olc.errors import FeedbackError, InvalidArgumentError, NonFiniteError, ShapeError
from olc.oracles import FrozenOracle, GradientOracle, LeastSquaresOracle, QuadraticOracle, sample_indices


class NaNAfter(GradientOracle):
    """f(x) = ½‖x‖², whose gradient turns NaN from the k-th evaluation on."""

    def __init__(self, dim, k):
        super().__init__(dim, name="nan-after")
        self.k = k

    def _value_and_grad(self, x, batch):
        g = x.copy()
        if self.count >= self.k:
            g[0] = np.nan
        return 0.5 * x @ x, g


class HvpOnly(GradientOracle):
    """f(x) = ¼ Σ x_i⁴ with only an HVP (the base class builds the Hessian from HVPs)."""

    has_hvp = True

    def _value_and_grad(self, x, batch):
        return 0.25 * np.sum(x**4), x**3

    def _hvp(self, x, v, batch):
        return 3 * x**2 * v


@pytest.fixture
def ls():
    rng = np.random.default_rng(1)
    return LeastSquaresOracle(rng.standard_normal((40, 5)), rng.standard_normal(40), batch_size=8)


def test_value_and_grad_types_and_count(ls):
    x = np.ones(5)
    v, g = ls.value_and_grad(x)
    assert isinstance(v, float) and g.shape == (5,) and g.dtype == np.float64
    ls.value(x)
    ls.grad(x)
    assert ls.count == 3
    ls.hvp(x, x)
    assert ls.count == 3 and ls.hvp_count == 1
    ls.reset_count()
    assert ls.count == 0 and ls.hvp_count == 0


def test_bad_x_shape_and_nan_name_the_argument(ls):
    with pytest.raises(ShapeError, match=r"x: expected shape \(5,\)"):
        ls.value(np.ones(4))
    with pytest.raises(ShapeError, match="x:"):
        ls.grad(np.ones((5, 1)))
    with pytest.raises(NonFiniteError, match="x: contains NaN"):
        ls.value_and_grad(np.array([1.0, np.nan, 0, 0, 0]))
    with pytest.raises(ShapeError, match="v:"):
        ls.hvp(np.ones(5), np.ones(3))
    with pytest.raises(InvalidArgumentError, match="x: expected a numeric array"):
        ls.value("abc")


def test_nonfinite_gradient_names_oracle_and_evaluation():
    o = NaNAfter(3, k=2)
    o.grad(np.ones(3))
    with pytest.raises(NonFiniteError, match=r"nan-after\.grad: .*evaluation #2"):
        o.grad(np.ones(3))


def test_no_hvp_is_a_feedback_error():
    o = NaNAfter(3, k=100)
    assert not o.has_hvp
    with pytest.raises(FeedbackError):
        o.hvp(np.ones(3), np.ones(3))
    with pytest.raises(FeedbackError):
        o.hessian(np.ones(3))


def test_default_hessian_from_hvps():
    o = HvpOnly(4)
    x = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(o.hessian(x), np.diag(3 * x**2), rtol=0, atol=1e-14)
    assert o.hvp_count == 4


def test_same_seed_same_batches(ls):
    a = [ls.sample_batch(np.random.default_rng(7)) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    r1, r2 = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(5):
        np.testing.assert_array_equal(ls.sample_batch(r1), ls.sample_batch(r2))
    b = ls.sample_batch(np.random.default_rng(4))
    assert len(b) == 8 and len(set(b.tolist())) == 8 and np.all(np.diff(b) > 0)
    assert not np.array_equal(a[0], b)


def test_sample_indices_full_batch_is_none():
    assert sample_indices(0, 10, None) is None
    assert sample_indices(0, 10, 10) is None
    assert len(sample_indices(0, 10, 3)) == 3


def test_freeze_is_deterministic_and_matches_the_batch(ls):
    f = ls.freeze(11)
    assert isinstance(f, FrozenOracle) and f.sample_batch(np.random.default_rng(0)) is None
    x = np.linspace(-1, 1, 5)
    v1, g1 = f.value_and_grad(x)
    v2, g2 = f.value_and_grad(x)
    assert v1 == v2 and np.array_equal(g1, g2)
    batch = ls.sample_batch(np.random.default_rng(11))
    assert v1 == ls.value(x, batch)
    np.testing.assert_array_equal(f.hessian(x), ls.hessian(x, batch))
    assert ls.freeze(11).value(x) == v1  # same seed, same frozen batch
    with pytest.raises(InvalidArgumentError, match="batch:"):
        f.value(x, batch=np.arange(3))


def test_freeze_of_deterministic_oracle_is_itself():
    q = QuadraticOracle(np.eye(3), np.ones(3))
    assert q.freeze(0) is q and not q.stochastic


def test_default_hvp_at_is_hvp_batch():
    o = HvpOnly(4)
    x = np.array([1.0, -2.0, 0.5, 3.0])
    V = np.random.default_rng(0).standard_normal((3, 4))
    H = o.hvp_at(x)
    np.testing.assert_allclose(H(V), V * (3 * x**2), rtol=0, atol=1e-14)
    assert o.hvp_count == 3
    with pytest.raises(FeedbackError):
        NaNAfter(3, k=100).hvp_at(np.ones(3))
