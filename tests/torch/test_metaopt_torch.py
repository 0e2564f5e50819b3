"""MetaOptOptimizer: Alg. 7 of nonconvex-meta-optimization as a torch.optim.Optimizer."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torchcases import closure  # noqa: E402

import olc  # noqa: E402
from olc.errors import InvalidArgumentError, NonFiniteError  # noqa: E402
from olc.learners.metaopt import MetaOpt, run_episodes  # noqa: E402
from olc.torch.metaopt import MetaOptOptimizer  # noqa: E402

N = 6


class Quadratic(torch.nn.Module):
    def __init__(self, A, b, x0):
        super().__init__()
        self.A, self.b = torch.as_tensor(A), torch.as_tensor(b)
        self.w = torch.nn.Parameter(torch.as_tensor(x0[:2].copy()))
        self.v = torch.nn.Parameter(torch.as_tensor(x0[2:].copy()))  # two tensors: flattening is exercised

    def forward(self):
        x = torch.cat([self.w, self.v])
        return 0.5 * x @ self.A @ x + self.b @ x


def test_matches_the_numpy_learner_on_a_quadratic():
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((N, N))
    A, b, x0 = Q @ Q.T / N + 0.1 * np.eye(N), rng.standard_normal(N), np.ones(N)
    oracle = olc.oracles.QuadraticOracle(A, b)
    ref = run_episodes(MetaOpt(H=3, L=2, base_lr=0.1, weight_decay=0.01,
                               meta_optimizer=olc.learners.Adam(lr=1e-2)), oracle, 1, 40, x0)
    model = Quadratic(A, b, x0)
    opt = MetaOptOptimizer(model.parameters(), lr=0.1, H=3, L=2, weight_decay=0.01, meta_lr=1e-2)
    losses = [float(opt.step(closure(opt, model)).detach()) for _ in range(40)]
    np.testing.assert_allclose(losses, ref.losses[0], rtol=1e-6)
    np.testing.assert_allclose(opt.M.numpy(), ref.Ms[-1], rtol=1e-4, atol=1e-7)
    assert opt.state_floats() == (3 + 2 * 2) * N + 3 * 3  # buffers (H+2L)·n + M and two Adam moments


def _digits(seed=0):
    sk = pytest.importorskip("sklearn.datasets")
    d = sk.load_digits()
    X = torch.as_tensor((d.data[:256] - d.data.mean(0)) / (d.data.std(0) + 1e-8), dtype=torch.float32)
    y = torch.as_tensor(d.target[:256])
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    return model, X, y


def test_trains_a_real_mlp_on_digits_and_round_trips_state_dict():
    model, X, y = _digits()
    opt = MetaOptOptimizer(model.parameters(), lr=0.1, H=4, L=2, meta_lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()

    def closure_for(m, o):
        return closure(o, lambda: lossf(m(X), y))

    first = float(opt.step(closure_for(model, opt)).detach())
    for _ in range(39):
        last = float(opt.step(closure_for(model, opt)).detach())
    assert last < 0.3 * first
    assert opt._st["meta_steps"] > 0
    assert not torch.allclose(opt.M, torch.zeros_like(opt.M))
    # save / load: a copy continues exactly like the original
    model2 = copy.deepcopy(model)
    opt2 = MetaOptOptimizer(model2.parameters(), lr=0.1, H=4, L=2, meta_lr=1e-3)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for _ in range(5):
        opt.step(closure_for(model, opt))
        opt2.step(closure_for(model2, opt2))
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)
    assert torch.equal(opt.M, opt2.M)
    # freeze: M no longer changes; a new episode keeps M and clears the buffers
    M = opt.M.clone()
    opt.freeze()
    opt.reset_episode()
    for _ in range(3):
        opt.step(closure_for(model, opt))
    assert torch.equal(opt.M, M) and opt._st["t"] == 3


def test_bad_input():
    with pytest.raises(InvalidArgumentError):
        MetaOptOptimizer(torch.nn.ReLU().parameters())  # a model with no parameters
    p = torch.nn.Parameter(torch.ones(3))
    for kw in ({"H": 0}, {"L": 0}, {"lr": -1.0}, {"M": "dense"}):
        with pytest.raises(InvalidArgumentError):
            MetaOptOptimizer([p], **kw)
    opt = MetaOptOptimizer([p])
    with pytest.raises(InvalidArgumentError):
        opt.step()

    def bad():
        opt.zero_grad()
        loss = (p * float("nan")).sum()
        loss.backward()
        return loss
    with pytest.raises(NonFiniteError):
        opt.step(bad)
    with pytest.raises(InvalidArgumentError):
        opt.set_M(np.zeros(5))


# ---------------------------------------------------------------------------- issue 14: overhead rewrite
@pytest.mark.parametrize("kind,hvp", [("scalar", "central"), ("diagonal", "forward"), ("full", "forward"),
                                      ("scalar", "forward")])
def test_every_parametrisation_and_hvp_matches_numpy(kind, hvp):
    rng = np.random.default_rng(1)
    Q = rng.standard_normal((N, N))
    A, b, x0 = Q @ Q.T / N + 0.1 * np.eye(N), rng.standard_normal(N), np.ones(N)
    ref = run_episodes(MetaOpt(H=3, L=3, M=kind, base_lr=0.1, weight_decay=0.01,
                               meta_optimizer=olc.learners.Adam(lr=1e-2)), olc.oracles.QuadraticOracle(A, b), 1, 30, x0)
    model = Quadratic(A, b, x0)
    opt = MetaOptOptimizer(model.parameters(), lr=0.1, H=3, L=3, M=kind, weight_decay=0.01, meta_lr=1e-2, hvp=hvp)
    losses = [float(opt.step(closure(opt, model)).detach()) for _ in range(30)]
    np.testing.assert_allclose(losses, ref.losses[0], rtol=1e-6)
    np.testing.assert_allclose(opt.M.numpy(), ref.Ms[-1], rtol=1e-4, atol=1e-7)


def test_histories_are_preallocated_ring_buffers():
    model = Quadratic(np.eye(N), np.ones(N), np.ones(N))
    opt = MetaOptOptimizer(model.parameters(), lr=0.1, H=4, L=2)
    opt.step(closure(opt, model))
    ptrs = (opt._st["grads"].data_ptr(), opt._st["params"].data_ptr())
    for _ in range(12):
        opt.step(closure(opt, model))
    assert (opt._st["grads"].data_ptr(), opt._st["params"].data_ptr()) == ptrs
    assert opt.history_bytes() == (4 + 2 * 2) * N * 8


def test_halves_a_digits_cnn_loss_learning_and_frozen(digits_batch):
    from _torchcases import train_until_halved

    from olc.oracles.data import digits_cnn

    X, y = digits_batch
    for frozen in (False, True):
        model = digits_cnn(seed=2).float()
        opt = MetaOptOptimizer(model.parameters(), lr=0.1, H=4, L=2, meta_lr=1e-3, frozen=frozen)
        first, last, steps = train_until_halved(model, opt, X, y)
        assert last < first / 2 and steps < 300
        assert (opt._st["meta_steps"] > 0) != frozen


def test_nan_loss_names_the_step_and_bad_hvp_is_rejected():
    p = torch.nn.Parameter(torch.ones(3))
    opt = MetaOptOptimizer([p], H=2, L=1)
    scale = [1.0]
    step = closure(opt, lambda: scale[0] * (p ** 2).sum())
    for _ in range(4):
        opt.step(step)
    scale[0] = float("nan")
    with pytest.raises(NonFiniteError, match="step 4"):
        opt.step(step)
    with pytest.raises(InvalidArgumentError, match="hvp"):
        MetaOptOptimizer([p], hvp="exact")
    with pytest.raises(InvalidArgumentError, match="betas"):
        MetaOptOptimizer([p], betas=0.9)


def test_recorded_rollout_is_exact_while_M_is_constant_and_close_otherwise():
    rng = np.random.default_rng(3)
    Q = rng.standard_normal((N, N))
    A, b, x0 = Q @ Q.T / N + 0.1 * np.eye(N), rng.standard_normal(N), np.ones(N)
    grads = {}
    for mode in ("exact", "recorded"):
        model = Quadratic(A, b, x0)
        # meta_lr tiny: M barely moves, the played window is (nearly) the counterfactual one
        opt = MetaOptOptimizer(model.parameters(), lr=0.1, H=3, L=2, meta_lr=1e-12, rollout=mode, hvp="central")
        for _ in range(12):
            opt.step(closure(opt, model))
        grads[mode] = opt._st["exp_avg"].clone() / (1 - 0.9 ** opt._st["meta_steps"])  # Adam's mean of dM
    np.testing.assert_allclose(grads["recorded"].numpy(), grads["exact"].numpy(), rtol=1e-6)
    model = Quadratic(A, b, x0)
    opt = MetaOptOptimizer(model.parameters(), lr=0.1, H=3, L=2, meta_lr=1e-2, rollout="recorded")
    losses = [float(opt.step(closure(opt, model)).detach()) for _ in range(40)]
    assert losses[-1] < 0.1 * losses[0] and opt._st["meta_steps"] == 40 - 4
    with pytest.raises(InvalidArgumentError, match="rollout"):
        MetaOptOptimizer(model.parameters(), rollout="played")


def test_frozen_steps_equal_the_played_update_and_unfreezing_waits_for_real_history():
    rng = np.random.default_rng(4)
    Q = rng.standard_normal((N, N))
    A, b, x0 = Q @ Q.T / N + 0.1 * np.eye(N), rng.standard_normal(N), np.ones(N)
    model = Quadratic(A, b, x0)
    opt = MetaOptOptimizer(model.parameters(), lr=0.1, H=3, L=2, weight_decay=0.05, meta_lr=1e-2)
    for _ in range(10):
        opt.step(closure(opt, model))
    opt.freeze()
    M = opt.M.clone().numpy()
    grads = []
    for _ in range(5):  # x_{t+1} = (1−δ)x_t − ηg_t − Σ_h M^(h) g_{t+1−h}, by hand from the recorded gradients
        x = np.concatenate([model.w.detach().numpy(), model.v.detach().numpy()])
        grads.append(A @ x + b)
        opt.step(closure(opt, model))
        want = 0.95 * x - 0.1 * grads[-1] - sum(M[h] * grads[-1 - h] for h in range(min(3, len(grads))))
        got = np.concatenate([model.w.detach().numpy(), model.v.detach().numpy()])
        if len(grads) >= 3:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    opt.freeze(False)
    steps = opt._st["meta_steps"]
    opt.step(closure(opt, model))
    opt.step(closure(opt, model))
    assert opt._st["meta_steps"] == steps  # the L-row parameter history was not recorded while frozen
    opt.step(closure(opt, model))
    assert opt._st["meta_steps"] == steps + 1
