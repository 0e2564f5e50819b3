"""Meta-gradient optimizers (optimistic-meta-gradients Alg. 1 / 4 / BMG) in torch: agreement with the numpy
learners, App. C's update written out by hand, state_dict round trips, bad input, NaN, digits CNN training."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torchcases import closure, cuda, quadratic, train_until_halved  # noqa: E402

from olc.errors import InvalidArgumentError, NonFiniteError  # noqa: E402
from olc.learners import BMG, ErrorCorrectedBMG, MetaGradient, OptimisticMetaGradient  # noqa: E402
from olc.learners.meta_gradients import MetaAdaGradRule, MetaMomentumRule, bootstrap_target  # noqa: E402
from olc.oracles.data import digits_cnn  # noqa: E402
from olc.sets import Reals  # noqa: E402
from olc.torch import BMGSGD, MetaGradientSGD, OptimisticMetaGradientSGD  # noqa: E402


def _torch_run(cls, A, x0, T, **kw):
    p = torch.nn.Parameter(torch.tensor(x0.copy()))
    opt = cls([p], **kw)
    At = torch.tensor(A)
    step = closure(opt, lambda: 0.5 * p @ At @ p)
    xs = []
    for _ in range(T):
        xs.append(p.detach().clone().numpy())
        opt.step(step)
    return np.array(xs), opt


LR, BETA, TLR = 0.3, 0.5, 0.2


def _cases(A, x0):
    mom = MetaMomentumRule(LR)
    tgt = bootstrap_target(A, mom, TLR)
    kw = {"x0": x0, "w0": 1.0}
    return {
        "meta-gradient": (MetaGradient(mom, BETA, **kw), MetaGradientSGD, {}),
        "meta-gradient, W = R^n, greedy": (MetaGradient(mom, BETA, W=Reals(), **kw), MetaGradientSGD,
                                           {"w_min": -float("inf"), "projection": "greedy"}),
        "optimistic, current": (OptimisticMetaGradient(mom, BETA, hint="current", **kw), OptimisticMetaGradientSGD, {}),
        "optimistic, previous": (OptimisticMetaGradient(mom, BETA, hint="previous", **kw), OptimisticMetaGradientSGD,
                                 {"hint": "previous"}),
        "BMG, mu = l2": (BMG(mom, BETA, tgt, **kw), BMGSGD, {"target_lr": TLR}),
        "BMG, mu = f": (BMG(mom, BETA, tgt, mu_grad=lambda x: A @ x, **kw), BMGSGD, {"target_lr": TLR, "mu": "loss"}),
        "error-corrected BMG": (ErrorCorrectedBMG(mom, BETA, tgt, **kw), BMGSGD,
                                {"target_lr": TLR, "error_corrected": True}),
        "meta-adagrad": (MetaGradient(MetaAdaGradRule(LR), 0.02, **kw), MetaGradientSGD,
                         {"rule": "adagrad", "meta_lr": 0.02}),
    }


@pytest.mark.parametrize("case", list(_cases(np.eye(2), np.ones(2))))
def test_torch_equals_the_numpy_learner_in_float64(case):
    A, x0 = quadratic()
    ref, cls, kw = _cases(A, x0)[case]
    run = ref.run(A, T=60)
    kw = {"lr": LR, "meta_lr": BETA, **kw}
    xs, opt = _torch_run(cls, A, x0, 60, **kw)
    assert np.max(np.abs(xs - run.x)) < 1e-10
    assert np.max(np.abs(opt.multipliers()[0].numpy() - run.state.w)) < 1e-10


def test_the_projection_is_exercised_and_matches_the_lazy_ftrl():
    # lr near 2/L: GD oscillates, consecutive gradients anti-align, the meta-gradient pushes w to 0
    A, x0 = quadratic(seed=1)
    lr = 1.9 / np.linalg.eigvalsh(A).max()
    run = MetaGradient(MetaMomentumRule(lr), 0.2, x0=x0, w0=1.0).run(A, T=40)
    xs, opt = _torch_run(MetaGradientSGD, A, x0, 40, lr=lr, meta_lr=0.2)
    assert np.max(np.abs(xs - run.x)) < 1e-10
    assert (run.w == 0).any()  # Π_W was active
    _, greedy = _torch_run(MetaGradientSGD, A, x0, 40, lr=lr, meta_lr=0.2, projection="greedy")
    assert not torch.allclose(greedy.multipliers()[0], opt.multipliers()[0])  # lazy ≠ greedy once clipped


def test_greedy_optimistic_step_is_app_c_formula():
    # App. C (with φ = -lr w⊙∇f): w_{t+1} = max{w_t + β lr (g_t⊙(g_t + g_{t-1}) - g_{t-1}⊙g_{t-1}), 0}, where the
    # last term undoes the previous hint; the first meta-step has none (w_1 was chosen without a hint)
    A, x0 = quadratic(seed=2)
    lr, beta = 0.2, 0.7
    xs, opt = _torch_run(OptimisticMetaGradientSGD, A, x0, 4, lr=lr, meta_lr=beta, projection="greedy")
    g = [A @ x for x in xs]
    w, ws = np.ones_like(x0), [np.ones_like(x0)]
    for t in (1, 2, 3):
        undo = g[t - 1] * g[t - 1] if t >= 2 else 0.0
        w = np.maximum(w + beta * lr * (g[t] * (g[t] + g[t - 1]) - undo), 0.0)
        ws.append(w)
    assert np.max(np.abs(opt.multipliers()[0].numpy() - ws[-1])) < 1e-12
    for t in range(3):  # x_{t+1} = x_t - lr w_{t+1} ⊙ ∇f(x_t)
        assert np.max(np.abs(xs[t + 1] - (xs[t] - lr * ws[t] * g[t]))) < 1e-12


@pytest.mark.parametrize("cls,kw", [(MetaGradientSGD, {}), (OptimisticMetaGradientSGD, {"projection": "greedy"}),
                                    (BMGSGD, {"mu": "loss"})])
def test_state_dict_mid_training_continues_bitwise(cls, kw, digits_batch):
    X, y = digits_batch
    model = digits_cnn(seed=0).float()
    opt = cls(model.parameters(), lr=0.1, meta_lr=0.05, **kw)
    train_until_halved(model, opt, X, y, max_steps=5)
    model2 = copy.deepcopy(model)
    opt2 = cls(model2.parameters(), lr=0.1, meta_lr=0.05, **kw)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    train_until_halved(model, opt, X, y, max_steps=5)
    train_until_halved(model2, opt2, X, y, max_steps=5)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)
    assert all(torch.equal(a, b) for a, b in zip(opt.multipliers(), opt2.multipliers()))
    assert opt2.steps_taken == 10


@pytest.mark.parametrize("cls", [MetaGradientSGD, OptimisticMetaGradientSGD, BMGSGD])
def test_each_halves_a_digits_cnn_loss(cls, digits_batch):
    X, y = digits_batch
    model = digits_cnn(seed=1).float()
    opt = cls(model.parameters(), lr=0.1, meta_lr=0.1)
    first, last, steps = train_until_halved(model, opt, X, y)
    assert last < first / 2 and steps < 300
    w = torch.cat([v.reshape(-1) for v in opt.multipliers()])
    assert not torch.allclose(w, torch.ones_like(w))  # the learning rates were meta-learned
    assert float(w.min()) >= 0.0


def test_param_groups_and_float32():
    a = torch.nn.Parameter(torch.ones(3))
    b = torch.nn.Parameter(torch.ones(2, 2))
    opt = MetaGradientSGD([{"params": [a]}, {"params": [b], "lr": 0.5, "meta_lr": 0.2}], lr=0.1, meta_lr=0.05)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)  # drives the rule's base rate
    for _ in range(3):
        opt.zero_grad()
        ((a ** 2).sum() + (b ** 3).sum()).backward()
        opt.step()
        sched.step()
    assert opt.param_groups[1]["lr"] == pytest.approx(0.5 / 8) and opt.param_groups[0]["lr"] == pytest.approx(0.1 / 8)
    assert opt.multipliers(1)[0].shape == (2, 2) and opt.multipliers(0)[0].dtype == torch.float32
    assert opt.steps_taken == 3 and not torch.equal(opt.multipliers(1)[0], torch.ones(2, 2))


def test_bad_hyperparameters_name_themselves():
    p = torch.nn.Parameter(torch.ones(3))
    for kw, name in [({"lr": -1.0}, "lr"), ({"meta_lr": 0.0}, "meta_lr"), ({"rule": "adam"}, "rule"),
                     ({"projection": "eager"}, "projection"), ({"w0": -1.0}, "w0"),
                     ({"rule": "adagrad", "w_min": 0.0}, "w_min"), ({"lr": "0.1"}, "lr"), ({"w0": float("nan")}, "w0")]:
        with pytest.raises((InvalidArgumentError, NonFiniteError), match=name):
            MetaGradientSGD([p], **kw)
    with pytest.raises(InvalidArgumentError, match="hint"):
        OptimisticMetaGradientSGD([p], hint="next")
    with pytest.raises(InvalidArgumentError, match="mu"):
        BMGSGD([p], mu="kl")
    with pytest.raises(InvalidArgumentError, match="target_lr"):
        BMGSGD([p], target_lr=-2.0)
    with pytest.raises(InvalidArgumentError, match="params"):
        MetaGradientSGD([p, torch.nn.Parameter(torch.ones(2, dtype=torch.float64))])
    with pytest.raises(InvalidArgumentError, match="params"):
        MetaGradientSGD([])
    opt = BMGSGD([p])
    p.grad = torch.ones(3)
    opt.step(lambda: (p ** 2).sum())
    with pytest.raises(InvalidArgumentError, match="closure"):
        opt.step()


@pytest.mark.parametrize("cls", [MetaGradientSGD, OptimisticMetaGradientSGD, BMGSGD])
def test_nan_loss_raises_with_the_step(cls):
    p = torch.nn.Parameter(torch.ones(3))
    opt = cls([p], lr=0.1)
    scale = [1.0]
    step = closure(opt, lambda: scale[0] * (p ** 2).sum())
    opt.step(step)
    opt.step(step)
    scale[0] = float("nan")
    with pytest.raises(NonFiniteError, match="step 2"):
        opt.step(step)


@pytest.mark.gpu
@cuda
def test_cuda_follows_the_parameters():
    A, x0 = quadratic()
    ref = MetaGradient(MetaMomentumRule(LR), BETA, x0=x0, w0=1.0).run(A, T=30)
    p = torch.nn.Parameter(torch.tensor(x0, device="cuda"))
    At = torch.tensor(A, device="cuda")
    opt = OptimisticMetaGradientSGD([p], lr=LR, meta_lr=BETA)
    opt2_p = torch.nn.Parameter(torch.tensor(x0, device="cuda"))
    opt2 = MetaGradientSGD([opt2_p], lr=LR, meta_lr=BETA)
    for _ in range(29):
        for q, o in ((p, opt), (opt2_p, opt2)):
            o.zero_grad()
            (0.5 * q @ At @ q).backward()
            o.step()
    assert opt.multipliers()[0].device.type == "cuda"
    assert np.max(np.abs(opt2_p.detach().cpu().numpy() - ref.x[-1])) < 1e-10
