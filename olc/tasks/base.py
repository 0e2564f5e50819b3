"""Tasks for meta-learning: a task is a pair (training oracle ``f̂_i``, test oracle ``f_i``).

This is the task model of ``first-order-bilevel-maml`` Sec. 2.1 ("for each task one can associate a training
``D_i^tr`` and test ``D_i^test`` dataset — equivalently a training ``f̂_i`` and test ``f_i`` objective") and of
``online-meta-learning-ftml`` Sec. 2–3 (round ``t`` reveals ``f_t``; the update procedure ``U_t`` uses ``∇f̂_t``).
Both objectives are :class:`olc.oracles.GradientOracle` instances over the same parameter vector.

Families (all seeded; every task list is a *stream*: the order is the round order, and the
``drift`` arguments make it non-stationary):

* :func:`random_quadratics` — ``f_i = f̂_i = ½θᵀA_iθ + θᵀb_i (+c_i)`` with chosen conditioning
  (the synthetic problem of ``first-order-bilevel-maml`` App. B; 2-D by default);
* :func:`linear_regression` — per-task linear regression (``online-meta-learning-ftml``
  App. A) with least-squares train/test oracles, or the exact population risk as test oracle;
* :func:`sinusoid_regression` — the sinusoid family of ``online-meta-learning-ftml`` Fig. 1
  (random Fourier features in numpy, or a small MLP through the PyTorch adapter);
* :func:`rainbow_digits` — "Rainbow MNIST" of ``online-meta-learning-ftml`` Sec. 6.1 made
  from scikit-learn's offline 8×8 digits (7 background colours × 2 scales × 4 rotations).

Closed forms: :meth:`Task.quadratic` returns the exact quadratic forms of both objectives when their Hessians are
constant (quadratics, least squares), which the MAML learners and the best-meta-learner comparator use.

torch and scikit-learn are imported inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from .._progress import progress_bar
from .._validate import (
    as_array,
    as_rng,
    as_shape,
    check_alloc,
    check_choice,
    in_range,
    nonnegative,
    number,
    positive,
    positive_int,
    real,
)
from ..errors import InvalidArgumentError, ShapeError
from ..oracles.base import FrozenOracle, GradientOracle
from ..oracles.synthetic import LeastSquaresOracle, QuadraticOracle

__all__ = ["Task", "QuadraticForm", "quadratic_form", "gd_path", "random_quadratics", "linear_regression",
           "sinusoid_regression", "rainbow_digits", "switching_stream", "RAINBOW_COLORS"]


class QuadraticForm(NamedTuple):
    """``f(x) = ½ xᵀAx + bᵀx + c`` with symmetric ``A``.

    Parameters
    ----------
    A, b, c : ndarray, ndarray, float
    """

    A: np.ndarray
    b: np.ndarray
    c: float

    def value(self, x) -> float:
        """``f(x)``.

        Parameters
        ----------
        x : array_like
        """
        return float(0.5 * x @ self.A @ x + self.b @ x + self.c)

    def grad(self, x) -> np.ndarray:
        """``A x + b``.

        Parameters
        ----------
        x : array_like
        """
        return self.A @ x + self.b


def quadratic_form(oracle: GradientOracle) -> QuadraticForm | None:
    """The exact quadratic form of ``oracle`` (full objective), or None if it is not quadratic.

    Closed form for :class:`~olc.oracles.QuadraticOracle` and :class:`~olc.oracles.LeastSquaresOracle` (``A = XᵀX/n``,
    ``b = −Xᵀy/n``, ``c = yᵀy/2n``); any other oracle whose ``hessian_is_constant`` (e.g. a frozen minibatch of least
    squares) is read off at the origin: ``A = ∇²f(0)``, ``b = ∇f(0)``, ``c = f(0)``.

    Parameters
    ----------
    oracle : GradientOracle
    """
    if isinstance(oracle, QuadraticOracle):
        return QuadraticForm(oracle.H.copy(), oracle.b.copy(), oracle.c)
    if type(oracle) is LeastSquaresOracle:
        X, y, n = oracle.X, oracle.y, oracle.n_samples
        return QuadraticForm(X.T @ X / n, -X.T @ y / n, float(y @ y) / (2 * n))
    if getattr(oracle, "hessian_is_constant", False) and getattr(oracle, "has_hvp", False):
        z = np.zeros(oracle.dim)
        A = oracle.hessian(z)
        c, b = oracle.value_and_grad(z)
        return QuadraticForm(0.5 * (A + A.T), b, c)
    return None


def gd_path(oracle: GradientOracle, theta, lr: float, steps: int, *, lam: float = 0.0, batch=None,
            extra: GradientOracle | None = None, nu: float = 0.0, tol: float | None = None,
            x0=None) -> np.ndarray:
    """Iterates of gradient descent ``φ_0 = θ``, ``φ_{k+1} = φ_k − lr·∇g(φ_k)``, shape ``(k + 1, dim)``.

    On ``g(φ) = ν f(φ) + f̂(φ) + (λ/2)‖φ − θ‖²``. With ``lam = nu = 0`` this is the MAML update procedure ``U(θ)`` of
    ``first-order-bilevel-maml`` eq. (2) / ``online-meta-learning-ftml`` Sec. 3 repeated ``steps`` times; with
    ``lam > 0`` it solves the inner problem (6), with ``nu ≠ 0`` the perturbed problem (9). Non-finite iterates raise
    :class:`olc.NonFiniteError` (through the oracle's checks).

    Parameters
    ----------
    oracle, extra : GradientOracle
        ``f̂`` and ``f`` (optional).
    theta : array_like
    lr : float
    steps : int
        At most this many steps.
    lam, nu : float
    batch : object, optional
        A minibatch of ``oracle``.
    tol : float, optional
        Stop once ``‖∇g(φ_k)‖ <= tol`` (under ``μ``-strong convexity of ``g`` the returned point is
        then within ``δ = tol/μ`` of the minimiser, eq. (13)).
    x0 : array_like, optional
        Start the iterates elsewhere than ``θ`` (warm start).
    """
    theta = as_array(theta, "theta", shape=(oracle.dim,))
    steps = positive_int(steps, "steps", minimum=0)
    lr = positive(lr, "lr")
    check_alloc(8.0 * (steps + 1) * oracle.dim, f"steps={steps}: the ({steps + 1}, {oracle.dim}) path of iterates",
                "use fewer inner steps")
    path = np.empty((steps + 1, oracle.dim))
    phi = theta if x0 is None else as_array(x0, "x0", shape=(oracle.dim,))
    path[0] = phi
    # a bar (automatic: only once it has run for a few seconds) for the rare very long inner loops
    for k in (range(steps) if steps < 10_000 else progress_bar(range(steps), None, "gd_path")):
        g = oracle.grad(phi, batch)
        if lam:
            g = g + lam * (phi - theta)
        if nu:
            g = g + nu * extra.grad(phi)
        if tol is not None and np.linalg.norm(g) <= tol:
            return path[: k + 1]
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging iterate is caught by the oracle
            phi = phi - lr * g
        path[k + 1] = phi
    return path


@dataclass(frozen=True, eq=False)
class Task:
    """One task: training objective ``train`` (``f̂``), test objective ``test`` (``f``).

    Tasks compare by identity.

    Parameters
    ----------
    train, test : GradientOracle
    name : str
    metrics : dict
        Names to callables ``w -> float`` evaluated by :meth:`evaluate` (e.g. test accuracy).
    info : dict
        Generating parameters (optimum, transformation, ...).
    """

    train: GradientOracle
    test: GradientOracle
    name: str = ""
    metrics: Mapping[str, Callable[[np.ndarray], float]] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for which in ("train", "test"):
            o = getattr(self, which)
            if not isinstance(o, GradientOracle):
                raise InvalidArgumentError(f"{which}: expected a GradientOracle, got {type(o).__name__}")
        if self.train.dim != self.test.dim:
            raise ShapeError(f"test: dim {self.test.dim} differs from train.dim = {self.train.dim}")

    def __repr__(self) -> str:
        return f"Task({self.name!r}, dim={self.dim}, train={self.train!r}, test={self.test!r})"

    @property
    def dim(self) -> int:
        return self.train.dim

    @property
    def n_train(self) -> int | None:
        """Number of training datapoints (None for data-free objectives such as quadratics)."""
        return getattr(self.train, "n_samples", None)

    def data_batch(self, n: int | None):
        """Index batch selecting the first ``n`` training points ``D_t``.

        Parameters
        ----------
        n : int or None
            None: all data.
        """
        if n is None:
            return None
        N = self.n_train
        if N is None:
            raise InvalidArgumentError(f"n: task {self.name!r} has no datapoints (its training objective is "
                                       "not a dataset); pass n=None")
        n = positive_int(n, "n")
        if n > N:
            raise InvalidArgumentError(f"n: task {self.name!r} has {N} training points, {n} were asked for")
        return None if n == N else np.arange(n)

    def adapt(self, w, lr: float, steps: int = 1, n: int | None = None) -> np.ndarray:
        """The update procedure ``U(w)`` (``online-meta-learning-ftml`` Alg. 2, Update-Procedure).

        Parameters
        ----------
        w : array_like
        lr : float
        steps : int
            GD steps of size ``lr`` on ``f̂``.
        n : int, optional
            Restrict ``f̂`` to the first ``n`` training points.

        Examples
        --------
        >>> import numpy as np, olc
        >>> task = olc.tasks.random_quadratics(1, dim=2, seed=0)[0]
        >>> w = np.zeros(2)
        >>> bool(task.train.value(task.adapt(w, lr=0.1, steps=5)) < task.train.value(w))
        True
        """
        return gd_path(self.train, w, lr, steps, batch=self.data_batch(n))[-1]

    def adapted_loss(self, w, lr: float, steps: int = 1) -> float:
        """``f(U(w))``, the loss charged in round ``t`` of ``online-meta-learning-ftml`` eq. (3).

        Parameters
        ----------
        w : array_like
        lr : float
        steps : int
        """
        return self.test.value(self.adapt(w, lr, steps))

    def evaluate(self, w) -> dict:
        """``{"loss": f(w), **{name: metric(w)}}``.

        Parameters
        ----------
        w : array_like
        """
        out = {"loss": self.test.value(w)}
        for k, fn in self.metrics.items():
            out[k] = number(fn(w), f"metrics[{k!r}](w)")
        return out

    def restrict(self, train_batch, test_batch=None) -> Task:
        """The task seen through fixed minibatches (``online-meta-learning-ftml`` eq. (5)).

        ``D_k^tr`` for ``f̂``, ``D_k^val`` for ``f``.

        Parameters
        ----------
        train_batch : object
        test_batch : object, optional
            Indexes the *training* data (validation split of ``D_k``); None keeps the test objective.
        """
        train = self.train if train_batch is None else FrozenOracle(self.train, train_batch)
        test = self.test if test_batch is None else FrozenOracle(self.train, test_batch)
        return Task(train, test, name=self.name, metrics=self.metrics, info=self.info)

    @cached_property
    def quadratic(self) -> tuple[QuadraticForm, QuadraticForm] | None:
        """``(train form, test form)`` when both objectives are quadratic, else None."""
        tr = quadratic_form(self.train)
        if tr is None:
            return None
        te = quadratic_form(self.test)
        return None if te is None else (tr, te)


# ---------------------------------------------------------------------------- families
def _check_tasks_size(n_tasks: int, floats_per_task: float, who: str):
    """``n_tasks`` tasks of ``floats_per_task`` float64 parameters/data each (plus ~4 KB of Python
    objects per task: the task, its two oracles, their arrays' headers) must fit in memory."""
    check_alloc(n_tasks * (8.0 * floats_per_task + 4096.0), f"{who}(n_tasks={n_tasks}): {n_tasks} tasks of "
                f"{floats_per_task:.3g} numbers each", "use fewer tasks or smaller ones")


def _rotation(rng, d):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _drift_offsets(rng, n_tasks, dim, drift):
    drift = nonnegative(drift, "drift")
    if drift == 0:
        return np.zeros((n_tasks, dim))
    u = rng.standard_normal(dim)
    u /= np.linalg.norm(u)
    return drift * np.arange(n_tasks)[:, None] * u[None, :]


def random_quadratics(n_tasks: int, dim: int = 2, condition: float = 10.0, seed=0, *, scale: float = 1.0,
                      spread: float = 1.0, center=None, drift: float = 0.0,
                      test_shift: float = 0.0) -> list[Task]:
    """Random quadratic tasks ``f̂_i(θ) = ½θᵀA_iθ + θᵀb_i + c_i`` (``first-order-bilevel-maml`` App. B).

    ``A_i = Q_i diag(s) Q_iᵀ`` with a random rotation ``Q_i`` and eigenvalues log-spaced from ``scale/condition`` to
    ``scale`` (so the condition number is exactly ``condition``); the minimiser is
    ``x_i* = center + spread·z_i + drift·i·u`` (``z_i`` standard normal, ``u`` a random unit vector: ``drift > 0`` gives
    a non-stationary stream), ``b_i = −A_i x_i*`` and ``c_i = ½x_i*ᵀA_i x_i*`` (minimum value 0). The test objective
    equals the training one (as in App. B) unless ``test_shift > 0`` moves the test minimiser by ``test_shift·z'_i``.

    Parameters
    ----------
    n_tasks, dim : int
    condition, scale, spread, drift, test_shift : float
    center : array_like, optional
    seed : int or numpy.random.Generator

    Examples
    --------
    >>> import olc
    >>> import numpy as np
    >>> tasks = olc.tasks.random_quadratics(3, dim=2, condition=4.0, seed=0)
    >>> len(tasks), round(float(np.linalg.cond(olc.tasks.quadratic_form(tasks[0].train).A)), 9)
    (3, 4.0)
    """
    n_tasks, dim = positive_int(n_tasks, "n_tasks"), positive_int(dim, "dim")
    condition = in_range(condition, "condition", 1.0, np.inf)
    scale, spread = positive(scale, "scale"), nonnegative(spread, "spread")
    test_shift = nonnegative(test_shift, "test_shift")
    _check_tasks_size(n_tasks, 2.0 * dim * dim + 4 * dim, "random_quadratics")
    rng = as_rng(seed)
    center = np.zeros(dim) if center is None else as_array(center, "center", shape=(dim,))
    eig = scale * np.logspace(-np.log10(condition), 0.0, dim) if dim > 1 else np.array([scale])
    offsets = _drift_offsets(rng, n_tasks, dim, drift)
    tasks = []
    for i in range(n_tasks):
        Q = _rotation(rng, dim)
        A = (Q * eig) @ Q.T
        A = 0.5 * (A + A.T)
        x_star = center + spread * rng.standard_normal(dim) + offsets[i]
        train = QuadraticOracle(A, -A @ x_star, 0.5 * x_star @ A @ x_star, name=f"quadratic[{i}].train")
        if test_shift > 0:
            xt = x_star + test_shift * rng.standard_normal(dim)
            test = QuadraticOracle(A, -A @ xt, 0.5 * xt @ A @ xt, name=f"quadratic[{i}].test")
        else:
            xt, test = x_star, train
        tasks.append(Task(train, test, name=f"quadratic[{i}]", info={"x_star": x_star, "x_star_test": xt,
                                                                    "eigenvalues": eig}))
    return tasks


def _interval(value, name: str, *, positive_ends: bool = False) -> tuple[float, float]:
    """``value`` as a finite pair ``(low, high)`` with ``low <= high`` (both > 0 with ``positive_ends``)."""
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name}: expected a pair (low, high), got {value!r}") from None
    if positive_ends:
        lo, hi = positive(lo, f"{name}[0]"), positive(hi, f"{name}[1]")
    else:
        lo, hi = real(lo, f"{name}[0]"), real(hi, f"{name}[1]")
    if lo > hi:
        raise InvalidArgumentError(f"{name}: expected (low, high) with low <= high, got {value!r}")
    return lo, hi


def _regression_sample(rng, n, scales, w_star, noise):
    X = rng.standard_normal((n, len(scales))) * np.sqrt(scales)
    return X, X @ w_star + noise * rng.standard_normal(n)


def linear_regression(n_tasks: int, dim: int, seed=0, *, n_train: int = 10, n_test: int = 50,
                      noise: float = 0.1, spread: float = 1.0, scale_range=(0.5, 2.0), drift: float = 0.0,
                      population_test: bool = False) -> list[Task]:
    """Linear-regression tasks ``y = xᵀw_i* + σε`` (``online-meta-learning-ftml`` App. A).

    Task ``i`` has its own input covariance ``Σ_i = diag(s_i)`` (``s_i`` uniform in ``scale_range``, so the ``A_i``
    differ and the MAML solution differs from joint training) and regressor ``w_i* = w̄ + spread·z_i + drift·i·u``
    around a shared ``w̄ ~ N(0, I)``. ``train`` is :class:`~olc.oracles.LeastSquaresOracle` on ``n_train`` samples,
    ``f̂_i(w) = (1/2n)‖X_i w − y_i‖²``; ``test`` is the same on ``n_test`` fresh samples, or with
    ``population_test=True`` the exact population risk ``f_i(w) = ½E(xᵀw − y)²`` as a
    :class:`~olc.oracles.QuadraticOracle` with ``A_i = Σ_i``, ``b_i = −Σ_i w_i*``, ``c_i = ½(w_i*ᵀΣ_i w_i* + σ²)``.
    All objectives are quadratic, so :meth:`Task.quadratic` is exact and the meta-learning closed forms apply.

    Parameters
    ----------
    n_tasks, dim, n_train, n_test : int
    seed : int or numpy.random.Generator
    noise, spread, drift : float
        ``σ``, the spread of the ``w_i*`` and their drift.
    scale_range : tuple of float
    population_test : bool
    """
    n_tasks, dim = positive_int(n_tasks, "n_tasks"), positive_int(dim, "dim")
    n_train, n_test = positive_int(n_train, "n_train"), positive_int(n_test, "n_test")
    noise, spread = nonnegative(noise, "noise"), nonnegative(spread, "spread")
    lo, hi = _interval(scale_range, "scale_range", positive_ends=True)
    _check_tasks_size(n_tasks, (n_train + n_test) * (dim + 1) + 3 * dim + (dim * dim if population_test else 0),
                      "linear_regression")
    rng = as_rng(seed)
    w_bar = rng.standard_normal(dim)
    offsets = _drift_offsets(rng, n_tasks, dim, drift)
    tasks = []
    for i in range(n_tasks):
        s = rng.uniform(lo, hi, size=dim)
        w_star = w_bar + spread * rng.standard_normal(dim) + offsets[i]

        X_tr, y_tr = _regression_sample(rng, n_train, s, w_star, noise)
        train = LeastSquaresOracle(X_tr, y_tr, name=f"linreg[{i}].train")
        if population_test:
            S = np.diag(s)
            test = QuadraticOracle(S, -S @ w_star, 0.5 * (w_star @ S @ w_star + noise ** 2),
                                   name=f"linreg[{i}].test")
        else:
            X_te, y_te = _regression_sample(rng, n_test, s, w_star, noise)
            test = LeastSquaresOracle(X_te, y_te, name=f"linreg[{i}].test")
        tasks.append(Task(train, test, name=f"linreg[{i}]", info={"w_star": w_star, "input_scales": s}))
    return tasks


def sinusoid_regression(n_tasks: int, seed=0, *, n_train: int = 10, n_test: int = 50,
                        amplitude=(0.1, 5.0), phase=(0.0, np.pi), x_range=(-5.0, 5.0),
                        model: str = "features", n_features: int = 40, hidden=(40, 40),
                        noise: float = 0.0) -> list[Task]:
    """Sinusoid regression ``y = a·sin(x − p)`` (``online-meta-learning-ftml`` Fig. 1; MAML's benchmark).

    ``model="features"``: a linear model on ``n_features`` shared random Fourier features ``cos(ω_j x + β_j)``
    (``ω ~ N(0, 1)``), so both objectives are least squares (numpy, exact quadratic forms). ``model="mlp"``: a
    ``1 → hidden → 1`` ReLU MLP through :class:`~olc.oracles.TorchOracle` (MSE; one module shared by all tasks, its
    initial parameters in ``task.info["x0"]``). Amplitude and phase are uniform in their ranges.

    Parameters
    ----------
    n_tasks, n_train, n_test, n_features : int
    seed : int or numpy.random.Generator
    amplitude, phase, x_range : tuple of float
        Ranges of ``a``, ``p`` and the inputs.
    model : {"features", "mlp"}
    hidden : tuple of int
    noise : float
    """
    n_tasks = positive_int(n_tasks, "n_tasks")
    n_train, n_test = positive_int(n_train, "n_train"), positive_int(n_test, "n_test")
    if model not in ("features", "mlp"):
        raise InvalidArgumentError(f"model: expected 'features' or 'mlp', got {model!r}")
    noise = nonnegative(noise, "noise")
    amplitude = _interval(amplitude, "amplitude")
    phase = _interval(phase, "phase")
    x_range = _interval(x_range, "x_range")
    if model == "features":
        n_features = positive_int(n_features, "n_features")
    _check_tasks_size(n_tasks, (n_train + n_test) * (2 + (n_features if model == "features" else 0)),
                      "sinusoid_regression")
    rng = as_rng(seed)
    if model == "features":
        omega = rng.standard_normal(n_features)
        beta = rng.uniform(0, 2 * np.pi, n_features)

        def feats(x):
            return np.sqrt(2.0 / n_features) * np.cos(np.outer(x, omega) + beta)
    else:
        import torch

        from ..oracles.data import _seeded

        sizes = [1, *as_shape(hidden, "hidden"), 1]

        def build(nn):
            layers = []
            for j, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(nn.Linear(a, b))
                if j < len(sizes) - 2:
                    layers.append(nn.ReLU())
            return nn.Sequential(*layers).double()

        module = _seeded(int(rng.integers(2**31 - 1)), build)
    tasks = []
    for i in range(n_tasks):
        a, p = rng.uniform(*amplitude), rng.uniform(*phase)
        xs = rng.uniform(*x_range, size=n_train + n_test)
        ys = a * np.sin(xs - p) + noise * rng.standard_normal(xs.shape)
        if model == "features":
            F = feats(xs)
            train = LeastSquaresOracle(F[:n_train], ys[:n_train], name=f"sinusoid[{i}].train")
            test = LeastSquaresOracle(F[n_train:], ys[n_train:], name=f"sinusoid[{i}].test")
            info = {"amplitude": a, "phase": p}
        else:
            from ..oracles.torch_adapter import TorchOracle

            X = xs[:, None]
            Y = ys[:, None]
            mse = torch.nn.MSELoss()
            train = TorchOracle(module, mse, X[:n_train], Y[:n_train], name=f"sinusoid[{i}].train")
            test = TorchOracle(module, mse, X[n_train:], Y[n_train:], name=f"sinusoid[{i}].test")
            info = {"amplitude": a, "phase": p, "x0": train.x0()}
        tasks.append(Task(train, test, name=f"sinusoid[{i}]", info=info))
    return tasks


#: background colours of Rainbow MNIST (``online-meta-learning-ftml`` Sec. 6.1): 7 colours
RAINBOW_COLORS = {
    "red": (1.0, 0.0, 0.0), "orange": (1.0, 0.5, 0.0), "yellow": (1.0, 1.0, 0.0), "green": (0.0, 0.8, 0.0),
    "blue": (0.0, 0.0, 1.0), "indigo": (0.3, 0.0, 0.5), "violet": (0.6, 0.2, 0.8),
}


def _transform_digits(images, color, scale, rotation):
    """``(n, 8, 8)`` grey images in [0, 1] → ``(n, 192)`` RGB images: a white digit over a ``color`` background,
    shrunk to half size (centred) when ``scale == 0.5``, rotated by ``rotation × 90°``; centred at 0 (pixel − 0.5)."""
    g = images
    if scale == 0.5:
        small = g.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4))
        g = np.zeros_like(images)
        g[:, 2:6, 2:6] = small
    g = np.rot90(g, k=rotation, axes=(1, 2))
    bg = np.asarray(color)[None, :, None, None]
    rgb = bg * (1.0 - g[:, None]) + g[:, None]
    return (rgb - 0.5).reshape(len(images), -1)


def rainbow_digits(n_tasks: int = 8, seed=0, *, n_train: int = 100, n_test: int = 50, hidden=(16,),
                   scales=(1.0, 0.5), rotations=(0, 1, 2, 3),
                   colors: Sequence[str] | None = None, model: str = "mlp", channels=(8, 16),
                   label_smoothing: float = 0.0) -> list[Task]:
    """"Rainbow digits": ``online-meta-learning-ftml`` Sec. 6.1 (Rainbow MNIST) on scikit-learn's
    offline 8×8 digits, at small scale.

    A task is a 10-way classification of digits under one transformation (background colour × scale × rotation: 7 × 2
    × 4 = 56 combinations, as in the paper); task ``t`` draws a combination at random (without repetition while
    possible) and a chunk of ``n_train + n_test`` digits disjoint from the other tasks' while the 1797 images last.
    The model (float64, shared by all tasks; the initial parameters are in ``task.info["x0"]``) is a ReLU MLP
    ``192 → hidden → 10`` (``model="mlp"``) or a small CNN on the 3×8×8 images (``model="cnn"``,
    :func:`olc.oracles.data.digits_cnn` with ``channels``); both objectives are cross-entropy
    :class:`~olc.oracles.TorchOracle` oracles, with label smoothing ``label_smoothing`` (App. C uses ε = 0.1, Szegedy
    et al. 2016), and ``task.metrics["accuracy"]`` is the test accuracy. Deviations from the paper: 8×8 digits instead
    of 28×28 MNIST, 100 rather than 900 training images per task by default, half scale = 2×2 average pooling placed
    in the centre; App. C's CNN (5 conv layers of 32 3×3 filters with batch norm) is replaced by two conv layers
    without batch norm (batch statistics do not fit a flat-parameter MAML oracle).

    Parameters
    ----------
    n_tasks, n_train, n_test : int
    seed : int or numpy.random.Generator
    hidden, channels : tuple of int
        Of the MLP and the CNN.
    scales, rotations, colors : sequence
        The transformations drawn from (default colours: the paper's seven).
    model : {"mlp", "cnn"}
    label_smoothing : float
    """
    import torch
    from sklearn.datasets import load_digits

    from ..oracles.data import digits_cnn, digits_mlp
    from ..oracles.torch_adapter import TorchOracle

    n_tasks = positive_int(n_tasks, "n_tasks")
    n_train, n_test = positive_int(n_train, "n_train"), positive_int(n_test, "n_test")
    _check_tasks_size(n_tasks, (n_train + n_test) * 193, "rainbow_digits")
    names = list(RAINBOW_COLORS) if colors is None else list(colors)
    for c in names:
        if c not in RAINBOW_COLORS:
            raise InvalidArgumentError(f"colors: unknown colour {c!r}; expected some of "
                                       f"{list(RAINBOW_COLORS)}")
    for s in scales:
        if s not in (1.0, 0.5):
            raise InvalidArgumentError(f"scales: expected values in (1.0, 0.5), got {s!r}")
    for r in rotations:
        if r not in (0, 1, 2, 3):
            raise InvalidArgumentError(f"rotations: expected quarter turns in 0..3, got {r!r}")
    check_choice(model, "model", ("mlp", "cnn"))
    label_smoothing = in_range(label_smoothing, "label_smoothing", 0.0, 1.0, hi_open=True)
    rng = as_rng(seed)
    digits = load_digits()
    images = digits.images / 16.0
    labels = digits.target.astype(np.int64)
    per = n_train + n_test
    if per > len(images):
        raise InvalidArgumentError(f"n_train + n_test: at most {len(images)} images per task, got {per}")
    combos = [(c, s, r) for c in names for s in scales for r in rotations]
    order: list[int] = []
    pool: list[int] = []
    module_seed = int(rng.integers(2**31 - 1))
    module = (digits_mlp(hidden=hidden, in_dim=192, n_classes=10, seed=module_seed) if model == "mlp" else
              digits_cnn(channels=channels, n_classes=10, seed=module_seed, in_channels=3))
    x0 = None
    ce = torch.nn.CrossEntropyLoss(label_smoothing=float(label_smoothing))
    tasks = []
    for t in range(n_tasks):
        if not order:
            order = list(rng.permutation(len(combos)))
        color, scale, rot = combos[order.pop()]
        if len(pool) < per:
            pool = list(rng.permutation(len(images)))
        idx = np.array([pool.pop() for _ in range(per)])
        X = _transform_digits(images[idx], RAINBOW_COLORS[color], scale, rot)
        y = labels[idx]
        name = f"digits[{t}]:{color},x{scale:g},rot{90 * rot}"
        train = TorchOracle(module, ce, X[:n_train], y[:n_train], name=f"{name}.train")
        test = TorchOracle(module, ce, X[n_train:], y[n_train:], name=f"{name}.test")
        if x0 is None:
            x0 = train.x0()

        def accuracy(w, _o=test, _X=X[n_train:], _y=y[n_train:]):
            return float(np.mean(np.argmax(_o.predict(w, _X), axis=1) == _y))

        tasks.append(Task(train, test, name=name, metrics={"accuracy": accuracy},
                          info={"color": color, "scale": scale, "rotation": 90 * rot, "x0": x0}))
    return tasks


def switching_stream(task_lists: Sequence[Sequence[Task]], block: int, seed=None) -> list[Task]:
    """A non-stationary stream that switches family every ``block`` rounds.

    Takes tasks from ``task_lists[0]`` for ``block`` rounds, then from ``task_lists[1]``, ...,
    cycling until every list is exhausted.

    Parameters
    ----------
    task_lists : sequence of sequence of Task
    block : int
    seed : int, optional
        Shuffle within each list (None: in order).
    """
    block = positive_int(block, "block")
    lists = [list(ts) for ts in task_lists]
    if not lists or any(not ts for ts in lists):
        raise InvalidArgumentError("task_lists: expected non-empty lists of tasks")
    if seed is not None:
        rng = as_rng(seed)
        lists = [[ts[j] for j in rng.permutation(len(ts))] for ts in lists]
    dims = {t.dim for ts in lists for t in ts}
    if len(dims) != 1:
        raise ShapeError(f"task_lists: tasks of different dimensions {sorted(dims)}")
    out, pos, k = [], [0] * len(lists), 0
    while any(p < len(ts) for p, ts in zip(pos, lists)):
        ts = lists[k % len(lists)]
        take = ts[pos[k % len(lists)]: pos[k % len(lists)] + block]
        out.extend(take)
        pos[k % len(lists)] += len(take)
        k += 1
    return out


def check_tasks(tasks) -> list[Task]:
    """Validate a non-empty list of :class:`Task` of one dimension; return it as a list."""
    tasks = list(tasks)
    if not tasks:
        raise InvalidArgumentError("tasks: expected a non-empty sequence of olc.tasks.Task")
    for i, t in enumerate(tasks):
        if not isinstance(t, Task):
            raise InvalidArgumentError(f"tasks[{i}]: expected an olc.tasks.Task, got {type(t).__name__}")
        if t.dim != tasks[0].dim:
            raise ShapeError(f"tasks[{i}]: dim {t.dim} differs from tasks[0].dim = {tasks[0].dim}")
    return tasks
