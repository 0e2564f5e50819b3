"""LTV operators: A_t v and A_t^T v from Hessian-vector products equal the dense A(t) (App. B eq. (2))."""

import numpy as np
import pytest

from olc.errors import InvalidArgumentError, NonFiniteError, ResourceError, ShapeError
from olc.oracles import GradientOracle
from olc.systems import DenseLTV, FunctionLTV, OptimizationLTV, OptimizationSystem, as_ltv_operator, random_stable

N = 5


def _agree(system, tol=1e-10):
    op = system.operator()
    rng = np.random.default_rng(7)
    V = rng.standard_normal((3, op.dim))
    worst = 0.0
    for t in range(system.T):
        A = system.A(t)
        scale = max(1.0, np.abs(A).max())
        worst = max(worst, np.abs(op.apply(t, V) - V @ A.T).max() / scale,
                    np.abs(op.apply_T(t, V) - V @ A).max() / scale,
                    np.abs(op.matvec(t, V[0]) - A @ V[0]).max() / scale,
                    np.abs(op.rmatvec(t, V[1]) - A.T @ V[1]).max() / scale)
    assert worst < tol, worst
    return worst


@pytest.mark.parametrize("form", ["gd", "delayed"])
@pytest.mark.parametrize("delta", [0.0, 0.05])
@pytest.mark.parametrize("secant", [True, False])
def test_operator_equals_dense_A_logistic(logistic, form, delta, secant):
    # one node (the midpoint rule): the secant correction is then large enough to matter
    sys = OptimizationSystem(logistic, lr=2.0, weight_decay=delta, form=form, secant=secant, hessian_nodes=1, seed=3)
    sys.run(np.full(N, 0.3), 6)
    _agree(sys)
    H = sys.H(2)
    if secant:  # the rank-one correction makes H_t non-symmetric: A^T needs H^T, not H
        assert np.abs(H - H.T).max() > 1e-5
    else:
        np.testing.assert_allclose(H, H.T, atol=1e-15)


@pytest.mark.parametrize("form", ["gd", "delayed"])
def test_operator_equals_dense_A_quadratic_and_nodes(quad, logistic, form):
    sys = OptimizationSystem(quad, lr=0.2, weight_decay=0.01, form=form)
    sys.run(np.ones(N), 4)
    _agree(sys)
    for nodes in (1, 2, 5):
        sys = OptimizationSystem(logistic, lr=0.5, form=form, hessian_nodes=nodes, seed=1)
        sys.run(np.zeros(N), 3)
        _agree(sys)


def test_operator_equals_dense_A_torch():
    torch = pytest.importorskip("torch")
    from olc.oracles import TorchOracle

    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((30, 3)), rng.integers(0, 3, 30)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    oracle = TorchOracle(m, torch.nn.CrossEntropyLoss(), X, y, batch_size=12)
    for form in ("gd", "delayed"):
        for delta in (0.0, 0.1):
            sys = OptimizationSystem(oracle, lr=0.8, weight_decay=delta, form=form, seed=0)
            sys.run(oracle.x0(), 4)
            _agree(sys)


def test_hvp_cache_keeps_the_last_hessians_and_changes_no_result(logistic, monkeypatch):
    """``hvp_cache`` keeps the last (step, node) Hessian maps: a revisit builds none, the products are
    the same with any cache size (0 = rebuild every time), and the cache never exceeds its size."""
    sys = OptimizationSystem(logistic, lr=0.5, hessian_nodes=2, seed=1)
    sys.run(np.zeros(N), 4)
    built = []
    real = type(logistic)._hvp_at
    monkeypatch.setattr(type(logistic), "_hvp_at", lambda self, x, b: built.append(1) or real(self, x, b))
    V = np.random.default_rng(0).standard_normal((2, 3 * N))
    ref = np.stack([V @ sys.A(t).T for t in range(4)])
    # (step, node) pairs: step 0 has s_0 = 0 (one exact Hessian), the others two Gauss-Legendre nodes
    keys = 1 + 2 * 3
    for size, builds in ((0, 2 * keys + 6), (keys, keys)):      # 0: rebuilt per visit (+ once per secant r_t)
        op = OptimizationLTV(sys, hvp_cache=size)
        built.clear()
        for _ in range(2):                                      # two sweeps over the steps
            got = np.stack([op.apply(t, V) for t in range(4)])
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)
        assert len(op._hv_cache) <= size and len(built) == builds, (size, len(built))
    with pytest.raises(InvalidArgumentError, match="hvp_cache"):
        OptimizationLTV(sys, hvp_cache=-1)


def test_dense_and_function_adapters():
    rng = np.random.default_rng(0)
    As = np.stack([random_stable(4, 1, 0.9, seed=s).A() for s in range(3)])
    op = as_ltv_operator(As)
    assert isinstance(op, DenseLTV) and op.shape == (3, 4, 4)
    np.testing.assert_array_equal(op.to_stack(), As)
    v = rng.standard_normal(4)
    fop = FunctionLTV(lambda t, x: As[t] @ x, lambda t, x: As[t].T @ x, dim=4, T=3)
    for t in range(3):
        np.testing.assert_allclose(fop.matvec(t, v), As[t] @ v, rtol=1e-14)
        np.testing.assert_allclose(fop.rmatvec(t, v), As[t].T @ v, rtol=1e-14)
        np.testing.assert_allclose(fop.dense(t), As[t], rtol=1e-14)
    assert as_ltv_operator(fop, T=2).T == 2 and as_ltv_operator(fop) is fop
    assert fop.applications > 0


def test_operator_errors(quad):
    with pytest.raises(InvalidArgumentError, match="empty"):
        OptimizationSystem(quad, lr=0.1).operator()
    sys = OptimizationSystem(quad, lr=0.1)
    sys.reset(np.ones(N))
    with pytest.raises(InvalidArgumentError, match="empty"):
        sys.matrices()                                           # was an empty (0, 3n, 3n) stack
    with pytest.raises(InvalidArgumentError, match="empty"):
        OptimizationLTV(sys)
    sys.run(np.ones(N), 2)
    op = sys.operator()
    with pytest.raises(ShapeError, match="V"):
        op.apply(0, np.ones((2, 3 * N + 1)))
    with pytest.raises(InvalidArgumentError, match="t:"):
        op.apply(2, np.ones((1, 3 * N)))
    with pytest.raises(ShapeError, match="T"):
        as_ltv_operator(op, T=5)
    bad = FunctionLTV(lambda t, v: v[:2], lambda t, v: v, dim=3, T=2)
    with pytest.raises(ShapeError, match=r"matvec: at step t=1"):
        bad.matvec(1, np.ones(3))
    nan = FunctionLTV(lambda t, v: v * np.nan, lambda t, v: v, dim=3, T=2)
    with pytest.raises(NonFiniteError, match="t=0"):
        nan.matvec(0, np.ones(3))
    with pytest.raises(InvalidArgumentError, match="rmatvec"):
        FunctionLTV(lambda t, v: v, None, dim=3, T=2)
    with pytest.raises(ShapeError, match="As"):
        DenseLTV(np.ones((2, 3, 4)))
    with pytest.raises(ShapeError, match="empty"):
        DenseLTV(np.ones((0, 3, 3)))


class _BadHessian(GradientOracle):
    """A quadratic whose Hessian-vector products turn NaN away from the origin."""

    has_hvp = True

    def _value_and_grad(self, x, batch):
        return 0.5 * float(x @ x), x.copy()

    def _hvp(self, x, v, batch):
        return v * (np.nan if np.abs(x).max() < 0.5 else 1.0)


def test_non_finite_hvp_names_the_step():
    sys = OptimizationSystem(_BadHessian(3), lr=0.3)
    sys.run(np.ones(3), 6)                                   # iterates shrink: 0.7^t, below 0.5 from t = 2
    op = sys.operator()
    op.apply(0, np.ones((1, 9)))
    with pytest.raises(NonFiniteError, match=r"step t=\d"):
        for t in range(6):
            op.apply(t, np.ones((1, 9)))


def test_dense_request_beyond_memory_fails_fast(quad, monkeypatch):
    sys = OptimizationSystem(quad, lr=0.1)
    sys.run(np.ones(N), 3)
    monkeypatch.setenv("OLC_MEMORY_LIMIT", "1000")           # bytes
    with pytest.raises(ResourceError, match=r"needs about .*operator"):
        sys.matrices()
    monkeypatch.setenv("OLC_MEMORY_LIMIT", "100")
    with pytest.raises(ResourceError, match="hessian"):
        quad.hessian(np.zeros(N))
