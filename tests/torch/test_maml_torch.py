"""The MAML family natively in torch (first-order-bilevel-maml): agreement with the numpy learners (float64,
one task and vmap batches), MAML's closed form on least squares, meta-training, bad input, NaN, devices."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torchcases import cuda  # noqa: E402

from olc.errors import InvalidArgumentError, NonFiniteError, ShapeError  # noqa: E402
from olc.meta import maml as npm  # noqa: E402
from olc.tasks import linear_regression, sinusoid_regression  # noqa: E402
from olc.torch import FOBMAML, FOMAML, IMAML, MAML, Reptile, TorchTask, flatten, stack_tasks  # noqa: E402


@pytest.fixture(scope="module")
def sinusoids():
    return sinusoid_regression(3, seed=0, model="mlp", hidden=(16, 16))


def _pairs(mod, lf):
    return {
        "MAML K=5": (npm.MAML(0.05, 5, method="hvp"), MAML(mod, lf, 0.05, 5)),
        "MAML K=3, lam": (npm.MAML(0.05, 3, lam=0.5, method="hvp"), MAML(mod, lf, 0.05, 3, lam=0.5)),
        "FO-MAML": (npm.FOMAML(0.05, 5), FOMAML(mod, lf, 0.05, 5)),
        "Reptile": (npm.Reptile(0.05, 5), Reptile(mod, lf, 0.05, 5)),
        "iMAML": (npm.IMAML(20.0, 10, 0.02, 25), IMAML(mod, lf, 20.0, 10, 0.02, 25)),
        "FO-B-MAML symmetric": (npm.FOBMAML(1.0, 1e-2, "symmetric", 0.05, 25),
                                FOBMAML(mod, lf, 1.0, 1e-2, "symmetric", 0.05, 25)),
        "FO-B-MAML forward, tol": (npm.FOBMAML(1.0, 1e-2, "forward", 0.05, 25, tol=1e-3),
                                   FOBMAML(mod, lf, 1.0, 1e-2, "forward", 0.05, 25, tol=1e-3)),
    }


@pytest.mark.parametrize("name", ["MAML K=5", "MAML K=3, lam", "FO-MAML", "Reptile", "iMAML", "FO-B-MAML symmetric",
                                  "FO-B-MAML forward, tol"])
def test_same_meta_gradients_as_the_numpy_path(name, sinusoids):
    t0 = sinusoids[0]
    x0 = t0.info["x0"]
    ref, learner = _pairs(t0.train.module, t0.train.loss_fn)[name]
    tasks = [TorchTask.from_task(t) for t in sinusoids]
    g = flatten(learner.meta_gradient(tasks[0])).numpy()
    assert np.max(np.abs(g - ref.meta_gradient(t0, x0))) < 1e-10
    mean_ref = ref.meta_gradients(sinusoids, x0)
    for vmap in ("auto", False):  # vmap over the 4 tasks where the method allows it, and the loop
        mean = flatten(learner.meta_gradients(tasks, vmap=vmap)).numpy()
        assert np.max(np.abs(mean - mean_ref)) < 1e-10
    assert learner.objective(tasks[0]) == pytest.approx(ref.objective(t0, x0), rel=1e-10)
    assert np.max(np.abs(flatten(learner.adapt(sinusoids[0])).numpy()
                         - (ref.adapt(t0, x0) if hasattr(ref, "adapt") else ref.inner(t0, x0)))) < 1e-10


def test_maml_equals_the_closed_form_on_least_squares():
    # least-squares tasks: φ_K is affine in θ and ∇F = Pθ + q exactly (maml_quadratic), no autograd involved
    tasks = linear_regression(3, dim=4, seed=1, n_train=12, n_test=20)
    lin = torch.nn.Linear(4, 1, bias=False).double()

    def half_mse(out, y):
        return 0.5 * ((out[:, 0] - y) ** 2).mean()

    theta = np.array([0.3, -1.0, 0.5, 2.0])
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(theta)[None])
    tt = [TorchTask(torch.tensor(t.train.X), torch.tensor(t.train.y), torch.tensor(t.test.X), torch.tensor(t.test.y))
          for t in tasks]
    for K in (1, 4):
        learner = MAML(lin, half_mse, inner_lr=0.2, inner_steps=K)
        for t, task in zip(tt, tasks):
            P, q, _ = npm.maml_quadratic(task, 0.2, K)
            assert np.max(np.abs(flatten(learner.meta_gradient(t)).numpy() - (P @ theta + q))) < 1e-12


def test_meta_backward_trains_the_initialisation(sinusoids):
    t0 = sinusoids[0]
    model = t0.train.module
    learner = MAML(model, t0.train.loss_fn, inner_lr=0.05, inner_steps=3)
    tasks = [TorchTask.from_task(t) for t in sinusoids]
    init = [p.detach().clone() for p in model.parameters()]
    outer = torch.optim.Adam(model.parameters(), lr=3e-3)
    try:
        before = float(learner.meta_backward(tasks))
        expected = learner.meta_gradients(tasks)
        assert all(torch.allclose(p.grad, e) for p, e in zip(model.parameters(), expected))  # .grad = the mean
        outer.step()
        for _ in range(30):
            outer.zero_grad()
            after = float(learner.meta_backward(tasks))
            outer.step()
        assert after < 0.8 * before
    finally:
        with torch.no_grad():  # the module is shared by the session's tasks
            for p, q in zip(model.parameters(), init):
                p.copy_(q)
                p.grad = None


def test_float32_and_explicit_params(sinusoids):
    t0 = sinusoids[0]
    model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    task = TorchTask.from_task(t0)  # float64 data follows the float32 parameters
    g = FOMAML(model, torch.nn.MSELoss(), 0.05, 2).meta_gradient(task)
    assert all(gi.dtype == torch.float32 for gi in g)
    params = [torch.zeros_like(p) for p in model.parameters()]
    g0 = Reptile(model, torch.nn.MSELoss(), 0.05, 2).meta_gradient(task, params)
    assert g0[0].abs().max() == 0  # zero weights: the first layer's gradient vanishes
    with pytest.raises(ShapeError, match="params"):
        MAML(model, torch.nn.MSELoss(), 0.05).meta_gradient(task, params[:2])


def test_bad_input():
    model = torch.nn.Linear(2, 1)
    X, y = torch.randn(5, 2), torch.randn(5, 1)
    task = TorchTask(X, y, X, y)
    with pytest.raises(InvalidArgumentError, match="inner_lr"):
        MAML(model, torch.nn.MSELoss(), inner_lr=-0.1)
    with pytest.raises(InvalidArgumentError, match="cg_steps"):
        IMAML(model, torch.nn.MSELoss(), 1.0, 0, 0.1, 5)
    with pytest.raises(InvalidArgumentError, match="mode"):
        FOBMAML(model, torch.nn.MSELoss(), 1.0, 1e-2, "central", 0.1, 5)
    with pytest.raises(InvalidArgumentError, match="model"):
        MAML(torch.nn.ReLU(), torch.nn.MSELoss(), 0.1)
    with pytest.raises(InvalidArgumentError, match="loss_fn"):
        MAML(model, "mse", 0.1)
    with pytest.raises(InvalidArgumentError, match="reduction"):
        MAML(model, torch.nn.MSELoss(reduction="none"), 0.1).meta_gradient(task)
    with pytest.raises(InvalidArgumentError, match="task"):
        MAML(model, torch.nn.MSELoss(), 0.1).meta_gradient(42)
    other = TorchTask(X[:3], y[:3], X, y)
    with pytest.raises(ShapeError, match="tasks\\[1\\]"):
        MAML(model, torch.nn.MSELoss(), 0.1).meta_gradients([task, other], vmap=True)
    with pytest.raises(ShapeError, match="tasks\\[1\\]"):
        stack_tasks([task, other])
    g = MAML(model, torch.nn.MSELoss(), 0.1).meta_gradients([task, other])  # auto: loops over unequal shapes
    assert g[0].shape == (1, 2)
    with pytest.raises(NonFiniteError, match="inner_lr"):
        MAML(model, torch.nn.MSELoss(), inner_lr=1e6, inner_steps=20).meta_gradient(task)


@pytest.mark.gpu
@cuda
def test_cuda_maml_matches_cpu(sinusoids):
    t0 = sinusoids[0]
    cpu = MAML(t0.train.module, t0.train.loss_fn, 0.05, 5).meta_gradient(TorchTask.from_task(t0))
    gpu_model = copy.deepcopy(t0.train.module).to("cuda")
    g = MAML(gpu_model, t0.train.loss_fn, 0.05, 5).meta_gradient(TorchTask.from_task(t0))
    assert g[0].device.type == "cuda"
    assert max(float((a.cpu() - b).abs().max()) for a, b in zip(g, cpu)) < 1e-10
