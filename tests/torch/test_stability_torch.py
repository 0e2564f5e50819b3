"""olc.torch.sequential_stability: one call, the user's module untouched, the same answer as the system path."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import olc.torch  # noqa: E402
from olc.errors import BackendUnavailableError, InvalidArgumentError  # noqa: E402
from olc.oracles import TorchOracle  # noqa: E402
from olc.systems import OptimizationSystem, sequential_stability  # noqa: E402


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 4)).astype(np.float32), rng.integers(0, 3, 40)


def _model():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))   # float32


def test_one_call_matches_the_system_path_and_leaves_the_model_alone():
    X, y = _data()
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.CrossEntropyLoss()
    res, system = olc.torch.sequential_stability(model, loss, X, y, lr=0.5, steps=6, weight_decay=0.01,
                                                 warmup_steps=3, rtol=1e-9, return_system=True)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))   # not trained, not converted
    opt = torch.optim.SGD(model.parameters(), lr=0.1)                             # the user's loop still runs
    opt.zero_grad()
    loss(model(torch.as_tensor(X)), torch.as_tensor(y)).backward()
    opt.step()
    # the same check by hand: warm-up steps, then T recorded steps of x <- (1-δ)x - η∇f(x)
    oracle = TorchOracle(_model(), loss, X, y)
    ref = OptimizationSystem(oracle, 0.5, 0.01, hessian_nodes=1)
    x = ref.run(oracle.x0(), 3)[-1]
    ref.run(x, 6)
    np.testing.assert_allclose(system.xs, ref.xs, rtol=1e-12, atol=1e-14)
    dense = sequential_stability(ref, method="dense")
    assert res.method == "operator" and system.T == 6 and res.T == 6
    assert res.kappa == pytest.approx(dense.kappa, rel=1e-8) and res.gamma == pytest.approx(dense.gamma, rel=1e-8)
    np.testing.assert_allclose(np.exp(res.block.log_norms), dense.block.norms, rtol=1e-8)
    assert res.steps is not None and res.floor is None and "kappa" in res.summary()


def test_float32_hvps_give_close_bounds_and_minibatches():
    X, y = _data()
    kw = dict(lr=0.5, steps=5, batch_size=16, seed=3, block=None, diagnostics=False)
    r64 = olc.torch.sequential_stability(_model(), torch.nn.CrossEntropyLoss(), X, y, **kw)
    r32 = olc.torch.sequential_stability(_model(), torch.nn.CrossEntropyLoss(), X, y, hvp_dtype=torch.float32, **kw)
    np.testing.assert_allclose(r32.log_norms, r64.log_norms, atol=1e-4)
    assert r32.kappa == pytest.approx(r64.kappa, rel=1e-4) and r64.floor is not None   # weight decay 0


def test_errors():
    X, y = _data()
    with pytest.raises(InvalidArgumentError, match="steps"):
        olc.torch.sequential_stability(_model(), torch.nn.CrossEntropyLoss(), X, y, lr=0.1, steps=0)
    with pytest.raises(InvalidArgumentError, match="lr"):
        olc.torch.sequential_stability(_model(), torch.nn.CrossEntropyLoss(), X, y, lr=-1.0, steps=3)
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="cuda"):
            olc.torch.sequential_stability(_model(), torch.nn.CrossEntropyLoss(), X, y, lr=0.1, steps=3,
                                           device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_hvps_match_cpu():
    X, y = _data()
    kw = dict(lr=0.5, steps=4, rtol=1e-8, block=None, diagnostics=False)
    cpu = olc.torch.sequential_stability(_model(), torch.nn.CrossEntropyLoss(), X, y, **kw)
    gpu = olc.torch.sequential_stability(_model(), torch.nn.CrossEntropyLoss(), X, y, device="cuda", **kw)
    np.testing.assert_allclose(gpu.log_norms, cpu.log_norms, atol=1e-8)
