"""MetaMD on networks (meta-mirror-descent): the reverse-mode hypergradient equals the numpy forward mode
(eq. (20)) to 1e-10, meta-training follows the numpy Alg. 1 step for step, and the deployed optimizer trains."""

import copy
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torchcases import cuda, train_until_halved  # noqa: E402

from olc.errors import DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError  # noqa: E402
from olc.meta import MetaMD as NumpyMetaMD  # noqa: E402
from olc.oracles import TorchOracle  # noqa: E402
from olc.oracles.data import digits_cnn, digits_mlp, load_digits_dataset  # noqa: E402
from olc.torch import MetaMD, MetaMDOptimizer  # noqa: E402

KW = dict(n_mix=3, eta=0.5, k=1e-3, horizon=12, meta_lr=0.1, m_init=1.0)


@pytest.fixture(scope="module")
def tiny():
    d = load_digits_dataset(seed=0)
    X, y = d.X_train[:, :16], d.y_train % 3
    mlp = digits_mlp(hidden=(4,), in_dim=16, n_classes=3, seed=0)
    return X, y, mlp, torch.nn.CrossEntropyLoss()


def test_reverse_hypergradient_equals_the_numpy_forward_mode(tiny):
    X, y, mlp, ce = tiny
    oracle = TorchOracle(mlp, ce, X[:64], y[:64])
    ref, ours = NumpyMetaMD(**KW), MetaMD(mlp, ce, **KW)
    M, th1 = ref.init_params(oracle.dim, 1), oracle.x0()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the numpy FTML step-size check
        v1, d1 = ref.task_objective(M, oracle, th1)
    v2, d2 = ours.task_objective(torch.tensor(M), (torch.tensor(X[:64]), torch.tensor(y[:64])), torch.tensor(th1))
    assert abs(float(v2) - v1) < 1e-10 * max(1.0, abs(v1))
    assert np.max(np.abs(d2.numpy() - d1)) < 1e-10
    # finite differences of E in one entry (the derivative of the active-set switch is ignored, as in the paper)
    E = ours.meta_objective(torch.tensor(M), [(torch.tensor(X[:64]), torch.tensor(y[:64]))], torch.tensor(th1))
    i = int(np.argmax(np.abs(d1)))
    h = np.zeros_like(M)
    h.flat[i] = 1e-6
    Ep = ours.meta_objective(torch.tensor(M + h), [(torch.tensor(X[:64]), torch.tensor(y[:64]))], torch.tensor(th1),
                             grad=False)[0]
    Em = ours.meta_objective(torch.tensor(M - h), [(torch.tensor(X[:64]), torch.tensor(y[:64]))], torch.tensor(th1),
                             grad=False)[0]
    assert float((Ep - Em) / 2e-6) == pytest.approx(float(E[1].view(-1)[i]), rel=1e-5)


def test_meta_training_follows_the_numpy_alg1_step_for_step(tiny):
    X, y, mlp, ce = tiny
    x0 = TorchOracle(mlp, ce, X[:4], y[:4]).x0()

    def pick(rng):
        return rng.choice(len(y), 32, replace=False)

    def sample_np(rng):
        idx = pick(rng)
        return TorchOracle(mlp, ce, X[idx], y[idx])

    def sample_t(rng):
        idx = pick(rng)
        return torch.tensor(X[idx]), torch.tensor(y[idx])

    def init_np(rng):
        return x0 + 0.1 * rng.standard_normal(x0.size)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Mn, hn = NumpyMetaMD(**KW, meta_clip=0.2).meta_train(sample_np, init_np, x0.size, meta_steps=3,
                                                             tasks_per_step=2, seed=3)
    Mt, ht = MetaMD(mlp, ce, **KW, meta_clip=0.2).meta_train(sample_t, lambda r: torch.tensor(init_np(r)), meta_steps=3,
                                                             tasks_per_step=2, seed=3)
    assert np.max(np.abs(Mt.numpy() - Mn)) < 1e-10
    assert np.max(np.abs(np.array(ht.objective) - hn.objective)) < 1e-10


def test_deployed_optimizer_is_eq7_and_halves_a_digits_cnn_loss(digits_batch):
    X, y = digits_batch
    model = digits_cnn(seed=3).float()
    n = sum(p.numel() for p in model.parameters())
    M = 1.0 + 0.5 * torch.rand(3, n, generator=torch.Generator().manual_seed(0))
    opt = MetaMDOptimizer(model.parameters(), M, eta=0.1)
    # one step by hand: θ − η g / M_{j*}², j* = argmax θᵀM_j²θ
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(X), y).backward()
    g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    j = int(torch.argmax((M * M) @ (theta * theta)))
    opt.step()
    after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert torch.allclose(after, theta - 0.1 * g / M[j] ** 2)
    first, last, steps = train_until_halved(model, opt, X, y)
    assert last < first / 2 and steps < 300
    # state_dict mid-training: a fresh optimizer continues identically
    model2 = copy.deepcopy(model)
    opt2 = MetaMDOptimizer(model2.parameters(), torch.ones(3, n), eta=0.1)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    train_until_halved(model, opt, X, y, max_steps=4)
    train_until_halved(model2, opt2, X, y, max_steps=4)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), model2.parameters()))


def test_bad_input_and_divergence(tiny):
    X, y, mlp, ce = tiny
    with pytest.raises(InvalidArgumentError, match="eta"):
        MetaMD(mlp, ce, eta=-1.0)
    with pytest.raises(InvalidArgumentError, match="m_init"):
        MetaMD(mlp, ce, m_init=1e5)
    md = MetaMD(mlp, ce, **KW)
    with pytest.raises(ShapeError, match="M"):
        md.task_objective(torch.ones(2, md.dim), (torch.tensor(X[:8]), torch.tensor(y[:8])), md.flat_params())
    with pytest.raises(InvalidArgumentError, match="M"):
        md.task_objective(-torch.ones(3, md.dim), (torch.tensor(X[:8]), torch.tensor(y[:8])), md.flat_params())
    with pytest.raises(InvalidArgumentError, match="task"):
        md.task_objective(torch.ones(3, md.dim), "digits", md.flat_params())
    p = torch.nn.Parameter(torch.ones(4))
    with pytest.raises(ShapeError, match="M"):
        MetaMDOptimizer([p], torch.ones(3, 5))
    with pytest.raises(InvalidArgumentError, match="eta"):
        MetaMDOptimizer([p], torch.ones(3, 4), eta=0.0)
    opt = MetaMDOptimizer([p], torch.ones(3, 4))
    with pytest.raises(NonFiniteError, match="step 0"):
        opt.step(lambda: (p * float("nan")).sum())
    big = MetaMD(mlp, ce, n_mix=3, eta=1e3, horizon=40, m_init=1e-3, m_min=1e-4)
    data = (torch.tensor(X[:32] * 100), torch.tensor(y[:32]))
    with pytest.raises(DivergenceError) as info:
        big.meta_train(lambda rng: data, big.flat_params(), meta_steps=2, tasks_per_step=1)
    assert info.value.step == 0 and info.value.partial.objective == []


@pytest.mark.gpu
@cuda
def test_cuda_meta_objective_matches_cpu(tiny):
    X, y, mlp, ce = tiny
    data = (torch.tensor(X[:64]), torch.tensor(y[:64]))
    cpu = MetaMD(mlp, ce, **KW)
    M = cpu.init_params(0)
    E, dE = cpu.meta_objective(M, [data], cpu.flat_params())
    gpu = MetaMD(copy.deepcopy(mlp).to("cuda"), ce, **KW)
    E2, dE2 = gpu.meta_objective(M.cuda(), [data], cpu.flat_params().cuda())
    assert abs(float(E2) - float(E)) < 1e-10 and float((dE2.cpu() - dE).abs().max()) < 1e-10
