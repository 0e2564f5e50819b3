"""TorchOracle: gradients/HVPs vs finite differences and vs the numpy LogisticOracle."""

import numpy as np
import pytest
from _problems import central_differences

torch = pytest.importorskip("torch")

from olc.errors import BackendUnavailableError, InvalidArgumentError, NonFiniteError, ShapeError  # noqa: E402
from olc.oracles import LogisticOracle, TorchOracle  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: intra-op threads only oversubscribe a busy CI machine (restored afterwards)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def logistic_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((25, 4))
    y = (X[:, 0] - X[:, 1] + 0.5 * rng.standard_normal(25) > 0).astype(float)
    return X, y


def tiny_mlp(seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()


@pytest.fixture
def mlp_oracle():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    return TorchOracle(tiny_mlp(), torch.nn.CrossEntropyLoss(), X, y, batch_size=6)


def test_matches_numpy_logistic_oracle(logistic_data):
    X, y = logistic_data
    lin = torch.nn.Linear(4, 1, bias=False)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    o = TorchOracle(lin, lambda out, t: bce(out[:, 0], t), X, y)
    ref = LogisticOracle(X, y)
    assert o.dim == 4 and not o.stochastic
    for x in (np.zeros(4), np.array([0.3, -1.2, 2.0, 0.7])):
        v, g = o.value_and_grad(x)
        v_ref, g_ref = ref.value_and_grad(x)
        assert abs(v - v_ref) < 1e-14 and np.max(np.abs(g - g_ref)) < 1e-14
        vv = np.arange(1.0, 5.0)
        np.testing.assert_allclose(o.hvp(x, vv), ref.hvp(x, vv), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(o.hessian(x), ref.hessian(x), rtol=1e-12, atol=1e-15)
    batch = np.array([0, 3, 7, 11])
    np.testing.assert_allclose(o.grad(np.ones(4), batch), ref.grad(np.ones(4), batch), rtol=1e-12)


def test_gradient_and_hvp_match_finite_differences(mlp_oracle):
    o = mlp_oracle
    x = o.x0()
    assert o.dim == 3 * 4 + 4 + 4 * 2 + 2
    g = o.grad(x)
    assert np.max(np.abs(g - central_differences(o.value, x))) < 1e-8
    v = np.sin(np.arange(o.dim))
    eps = 1e-5
    hv_fd = (o.grad(x + eps * v) - o.grad(x - eps * v)) / (2 * eps)
    hv = o.hvp(x, v)
    assert np.max(np.abs(hv - hv_fd)) < 1e-7
    o._hvp_mode = "vjp"  # the reverse-over-reverse fallback gives the same product
    np.testing.assert_allclose(o.hvp(x, v), hv, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(o.hessian(x) @ v, hv, rtol=1e-10, atol=1e-12)


def test_float32_close_to_float64():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    o64 = TorchOracle(tiny_mlp(), torch.nn.CrossEntropyLoss(), X, y)
    o32 = TorchOracle(tiny_mlp(), torch.nn.CrossEntropyLoss(), X, y, dtype=torch.float32)
    x = o64.x0()
    v32, g32 = o32.value_and_grad(x)
    assert g32.dtype == np.float64
    assert abs(v32 - o64.value(x)) < 1e-5 and np.max(np.abs(g32 - o64.grad(x))) < 1e-5


def test_seeded_batches_and_freeze(mlp_oracle):
    o = mlp_oracle
    b1 = o.sample_batch(np.random.default_rng(3))
    b2 = o.sample_batch(np.random.default_rng(3))
    np.testing.assert_array_equal(b1, b2)
    x = o.x0()
    f = o.freeze(3)
    assert f.value(x) == f.value(x) == o.value(x, b1)
    np.testing.assert_array_equal(f.grad(x), o.grad(x, b1))


def test_x0_set_flat_roundtrip_and_helpers(mlp_oracle):
    import olc.torch as ot

    o = mlp_oracle
    x = o.x0()
    x_new = x + 1.0
    o.set_flat(x_new)
    np.testing.assert_array_equal(o.x0(), x_new)
    parts = ot.unflatten(torch.as_tensor(x_new), o.module)
    assert list(parts) == o.names and parts["0.weight"].shape == (4, 3)
    np.testing.assert_array_equal(ot.flatten(parts).numpy(), x_new)
    out = o.predict(x_new, np.zeros((2, 3)))
    assert out.shape == (2, 2)
    with pytest.raises(ShapeError, match="vector"):
        ot.unflatten(np.zeros(5), o.module)


def test_errors(mlp_oracle):
    o = mlp_oracle
    with pytest.raises(InvalidArgumentError, match="no parameters"):
        TorchOracle(torch.nn.ReLU(), torch.nn.MSELoss(), np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ShapeError, match="x:"):
        o.grad(np.zeros(o.dim + 1))
    with pytest.raises(NonFiniteError, match="x:"):
        o.value(np.full(o.dim, np.nan))
    bad = TorchOracle(torch.nn.Linear(2, 1), lambda out, t: torch.sqrt(-(out**2).mean() - 1.0),
                      np.ones((3, 2)), np.zeros(3))
    with pytest.raises(NonFiniteError, match="non-finite objective value"):
        bad.value_and_grad(bad.x0())
    with pytest.raises(ShapeError, match="y:"):
        TorchOracle(tiny_mlp(), torch.nn.CrossEntropyLoss(), np.zeros((4, 3)), np.zeros(3, dtype=int))
    with pytest.raises(InvalidArgumentError, match="batch"):
        o.value(o.x0(), np.array([0, 99]))
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="cuda"):
            TorchOracle(tiny_mlp(), torch.nn.CrossEntropyLoss(), np.zeros((4, 3)), np.zeros(4, dtype=int),
                        device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    cpu = TorchOracle(tiny_mlp(), torch.nn.CrossEntropyLoss(), X, y)
    gpu = TorchOracle(tiny_mlp(), torch.nn.CrossEntropyLoss(), X, y, device="cuda")
    x = cpu.x0()
    np.testing.assert_allclose(gpu.grad(x), cpu.grad(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gpu.hvp(x, x), cpu.hvp(x, x), rtol=1e-10, atol=1e-12)


def test_digits_data_and_models():
    pytest.importorskip("sklearn")
    from olc.oracles import digits_cnn, digits_oracle, load_digits_dataset

    d = load_digits_dataset(seed=0)
    assert d.X_train.shape[1] == 64 and len(d.y_train) + len(d.y_test) == 1797
    assert abs(len(d.y_test) / 1797 - 0.25) < 0.01
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_array_equal(load_digits_dataset(seed=0).y_test, d.y_test)
    assert not np.array_equal(load_digits_dataset(seed=1).y_test, d.y_test)
    b = load_digits_dataset(seed=0, classes=(3, 8))
    assert set(np.unique(b.y_train)) == {0, 1} and b.n_classes == 2
    assert digits_cnn()(torch.as_tensor(d.X_test[:5])).shape == (5, 10)

    o, _ = digits_oracle("cnn", data=d, batch_size=32, seed=0)
    x = o.x0()
    batch = o.sample_batch(np.random.default_rng(0))
    g = o.grad(x, batch)
    idx = [0, 17, o.dim - 1]
    e = np.eye(o.dim)
    fd = [(o.value(x + 1e-6 * e[i], batch) - o.value(x - 1e-6 * e[i], batch)) / 2e-6 for i in idx]
    assert np.max(np.abs(g[idx] - fd)) < 1e-7
    with pytest.raises(InvalidArgumentError, match="model"):
        digits_oracle("rnn", data=d)


def test_construction_checks_width_device_and_models():
    from olc.oracles import digits_cnn, digits_mlp

    y = np.zeros((20, 1))
    with pytest.raises(ShapeError, match=r"X: .*Linear.*\(20, 4\)"):
        TorchOracle(torch.nn.Linear(3, 1), torch.nn.functional.mse_loss, np.zeros((20, 4)), y)
    with pytest.raises(InvalidArgumentError, match="device.*'nope'"):
        TorchOracle(torch.nn.Linear(3, 1), torch.nn.functional.mse_loss, np.zeros((20, 3)), y, device="nope")
    with pytest.raises(InvalidArgumentError, match="loss_fn"):
        TorchOracle(torch.nn.Linear(3, 1), lambda a, b: (a - b) ** 2, np.zeros((20, 3)), y)
    with pytest.raises(InvalidArgumentError, match="hidden"):
        digits_mlp(hidden=-3)
    with pytest.raises(InvalidArgumentError, match="hidden"):
        digits_mlp(hidden=(32, 0))
    with pytest.raises(InvalidArgumentError, match="channels"):
        digits_cnn(channels=())
    with pytest.raises(InvalidArgumentError, match="channels"):
        digits_cnn(channels=8)
    # the dry run leaves a training module's mode and buffers alone
    m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)).double()
    before = m[1].running_mean.clone()
    TorchOracle(m, torch.nn.functional.mse_loss, np.random.default_rng(0).standard_normal((20, 3)), np.zeros((20, 2)))
    assert m.training and torch.equal(m[1].running_mean, before)


def test_user_float32_module_is_not_converted_and_still_trains():
    """The oracle works on functional float64 copies: the user's float32 module keeps its dtype and
    buffers, and a plain float32 training loop on it runs afterwards (it broke when the module was
    converted in place)."""
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((30, 3)).astype(np.float32), rng.integers(0, 2, 30)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Tanh(),
                                torch.nn.Linear(4, 2))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    m.eval()                                                       # (torch.func cannot update BN statistics)
    o = TorchOracle(m, torch.nn.CrossEntropyLoss(), X, y)          # float64 inside
    x = o.x0()
    o.value_and_grad(x)
    o.hvp_batch(x, np.ones((2, o.dim)))
    m.train()
    assert all(p.dtype == torch.float32 for p in m.parameters())
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())   # nothing of the user's changed
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(Xt), yt)
        loss.backward()
        opt.step()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    # float64 evaluation of the float32 weights: the same loss as the module's own float32 forward
    m.eval()
    o2 = TorchOracle(m, torch.nn.CrossEntropyLoss(), X, y)
    with torch.no_grad():
        ref = float(torch.nn.functional.cross_entropy(m(Xt), yt))
    assert abs(o2.value(o2.x0()) - ref) < 1e-5
    o2.set_flat(o2.x0() + 0.5)                                     # writes back in the module's dtype
    assert all(p.dtype == torch.float32 for p in m.parameters())
    np.testing.assert_allclose(o2.x0(), (flatten := np.concatenate(
        [p.detach().numpy().ravel() for p in m.parameters()])), rtol=0)
    assert flatten.dtype == np.float32


def test_hvp_batch_matches_single_hvps(mlp_oracle):
    o = mlp_oracle
    rng = np.random.default_rng(4)
    x = o.x0()
    V = rng.standard_normal((5, o.dim))
    batch = np.array([1, 4, 6, 9])
    ref = np.stack([o.hvp(x, v, batch) for v in V])
    o.hvp_chunk = 2                                                # several vmapped chunks
    np.testing.assert_allclose(o.hvp_batch(x, V, batch), ref, rtol=1e-12, atol=1e-14)
    Xs = x + 0.1 * rng.standard_normal((5, o.dim))                 # one point per row
    ref2 = np.stack([o.hvp(xi, v) for xi, v in zip(Xs, V)])
    np.testing.assert_allclose(o.hvp_batch(Xs, V), ref2, rtol=1e-12, atol=1e-14)
    count = o.hvp_count
    o.hvp_batch(x, V)
    assert o.hvp_count == count + 5
    with pytest.raises(ShapeError, match="x:"):
        o.hvp_batch(Xs[:2], V)
    with pytest.raises(ShapeError, match="V:"):
        o.hvp_batch(x, V[:, :3])
    o32 = o.to(dtype=torch.float32)                                # a float32 twin of the same module
    assert o32.dtype == torch.float32 and o.dtype == torch.float64
    np.testing.assert_allclose(o32.hvp_batch(x, V), o.hvp_batch(x, V), rtol=1e-4, atol=1e-5)


def test_hvp_at_reuses_one_gradient_graph(mlp_oracle):
    """``hvp_at(x)`` (the gradient's autograd graph kept) equals fresh HVPs, batched or looped,
    counts every row, and reports non-finite products and bad shapes like ``hvp_batch``."""
    o = mlp_oracle
    rng = np.random.default_rng(5)
    x, batch = o.x0(), np.array([0, 3, 7, 11])
    V = rng.standard_normal((7, o.dim))
    ref = np.stack([o.hvp(x, v, batch) for v in V])              # jvp-of-grad, one vector at a time
    H = o.hvp_at(x, batch)
    o.hvp_chunk = 3
    count = o.hvp_count
    np.testing.assert_allclose(H(V), ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H(V[:2]), ref[:2], rtol=1e-12, atol=1e-14)   # the same map, reused
    assert o.hvp_count == count + 9
    o._batched_grads_ok = False                                  # the loop where no batching rule exists
    np.testing.assert_allclose(H(V), ref, rtol=1e-12, atol=1e-14)
    assert H(np.zeros((0, o.dim))).shape == (0, o.dim)
    with pytest.raises(ShapeError, match="V:"):
        H(V[:, :3])
    with pytest.raises(NonFiniteError, match="V:"):
        H(np.full((1, o.dim), np.inf))
    with pytest.raises(NonFiniteError, match="hvp_at: non-finite Hessian-vector product in row 1"):
        H(np.stack([V[0], np.full(o.dim, 1e308)]))                 # finite input, overflowing product
    # a model whose gradient does not depend on the parameters (linear in them): zero Hessian
    lin = TorchOracle(torch.nn.Linear(3, 1, bias=False).double(), lambda out, yb: out.sum(),
                      np.ones((4, 3)), np.zeros(4))
    np.testing.assert_array_equal(lin.hvp_at(lin.x0())(np.ones((2, 3))), np.zeros((2, 3)))
