"""The best optimizer of a benchmark class in hindsight: tuned baselines by grid search.

``nonconvex-meta-optimization`` compares meta-optimization with *fully tuned* baselines (Sec. 4, App. E.2):
every point of a hyperparameter grid is run on the same problem and the best one is kept.
:class:`BestOptimizer` does exactly that for three families:

============  =================================  ==========================================================
family        optimizer (olc.learners)           default grid (App. E.2)
============  =================================  ==========================================================
``gd``        :class:`~olc.learners.SGD`         ``lr`` × ``weight_decay``: 6 × 4
``momentum``  :class:`~olc.learners.HeavyBall`   ``lr`` × ``momentum`` × ``weight_decay``: 6 × 3 × 4
``adamw``     :class:`~olc.learners.AdamW`       ``lr`` × ``beta1`` × ``beta2`` × ``weight_decay``: 3 × 2 × 3 × 4
============  =================================  ==========================================================

How each grid point is run: on a *deterministic quadratic* oracle (constant Hessian: quadratics, least squares,
full batch) the ``gd``/``momentum`` points without weight decay go through the batched kernel
:func:`olc.kernels.optimizer_grid` (all of them in one call); every other point is played with :func:`olc.play`
on :func:`olc.games.optimization.optimization` — the one training loop — with the same minibatch stream for
every point. Both give the same curve up to rounding (the tests check it). The kernel cannot charge the
*original* objective while stepping with coupled weight decay, so ``weight_decay > 0`` points always use the
loop. A grid point *diverges* at the first round whose loss is non-finite or exceeds ``blowup`` in absolute
value (the kernel's rule); its loss from then on is ``inf`` and it is never chosen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_choice, positive
from ..errors import DivergenceError, InvalidArgumentError

__all__ = ["BestOptimizer", "OptimizerSearch", "E2_GRIDS"]

_LRS = (0.001, 0.01, 0.1, 0.2, 0.4, 1.0)
_DECAYS = (0.0, 1e-5, 1e-4, 1e-3)

#: the grids of ``nonconvex-meta-optimization`` App. E.2 (SGD, MOMENTUM, ADAMW)
E2_GRIDS = {
    "gd": {"lr": _LRS, "weight_decay": _DECAYS},
    "momentum": {"lr": _LRS, "momentum": (0.9, 0.95, 0.99), "weight_decay": _DECAYS},
    "adamw": {"lr": (1e-4, 4e-4, 1e-3), "beta1": (0.9, 0.99), "beta2": (0.9, 0.99, 0.999), "weight_decay": _DECAYS},
}
_KEYS = {"gd": ("lr", "weight_decay"), "momentum": ("lr", "momentum", "weight_decay"),
         "adamw": ("lr", "beta1", "beta2", "weight_decay", "eps")}
_NEUTRAL = {"weight_decay": 0.0, "momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


@dataclass
class OptimizerSearch:
    """Result of a grid search: every configuration, its loss curve and the winner.

    Attributes
    ----------
    family, configs, criterion, meta
        The search's family, configuration dicts ``(G,)``, criterion and provenance.
    losses, diverged, scores : numpy.ndarray
        ``(G, T)`` ``f(x_t; B_t)`` per round (``inf`` from divergence on), ``(G,)`` bool, ``(G,)`` criterion.
    best : int
    methods : list of {"kernel", "play"}
    """

    family: str
    configs: list
    losses: np.ndarray
    diverged: np.ndarray
    scores: np.ndarray
    best: int
    methods: list
    criterion: str = "cumulative"
    meta: dict = field(default_factory=dict)

    @property
    def config(self) -> dict:
        """The best configuration."""
        return dict(self.configs[self.best])

    @property
    def curve(self) -> np.ndarray:
        """The best configuration's loss curve ``(T,)``."""
        return self.losses[self.best]

    def optimizer(self):
        """A fresh optimizer with the best configuration."""
        return make_optimizer(self.family, self.config)


def make_optimizer(family: str, config: dict):
    """The optimizer of ``family`` with hyperparameters ``config`` (a dict of the family's keys)."""
    from ..learners.optimizers import SGD, AdamW, HeavyBall

    c = {**_NEUTRAL, **config}
    if family == "gd":
        return SGD(c["lr"], weight_decay=c["weight_decay"])
    if family == "momentum":
        return HeavyBall(c["lr"], c["momentum"], weight_decay=c["weight_decay"])
    return AdamW(c["lr"], (c["beta1"], c["beta2"]), c["eps"], weight_decay=c["weight_decay"])


def _configs(family, grid):
    keys = _KEYS[family]
    if grid is None:
        grid = E2_GRIDS[family]
    if isinstance(grid, dict):
        bad = sorted(set(grid) - set(keys))
        if bad:
            raise InvalidArgumentError(f"grid: unknown hyperparameter(s) {bad} for family {family!r}; "
                                       f"expected some of {list(keys)}")
        if "lr" not in grid:
            raise InvalidArgumentError("grid: expected an 'lr' entry (a list of learning rates)")
        axes = []
        for k in keys:
            vals = grid.get(k, (_NEUTRAL.get(k),))
            vals = [vals] if np.isscalar(vals) else list(vals)
            if not vals:
                raise InvalidArgumentError(f"grid[{k!r}]: expected a non-empty list of values")
            axes.append(vals)
        configs = [dict(zip(keys, combo)) for combo in itertools.product(*axes)]
    else:
        items = list(grid) if hasattr(grid, "__iter__") and not isinstance(grid, (str, bytes)) else None
        if items is None or not all(isinstance(c, dict) for c in items):
            raise InvalidArgumentError(f"grid: expected None, a dict of value lists (e.g. {{'lr': [0.1, 0.01]}}) "
                                       f"or a list of configuration dicts, got {grid!r}")
        configs = [dict(c) for c in items]
        if not configs:
            raise InvalidArgumentError("grid: expected a dict of value lists or a non-empty list of configurations")
        for j, c in enumerate(configs):
            bad = sorted(set(c) - set(keys))
            if bad or "lr" not in c:
                raise InvalidArgumentError(f"grid[{j}]: expected keys among {list(keys)} including 'lr', got {sorted(c)}")
        configs = [{k: c.get(k, _NEUTRAL.get(k)) for k in keys} for c in configs]
    for c in configs:  # validate every point now, with the optimizer's own checks
        make_optimizer(family, c)
    return configs


def _mark_divergence(curve, blowup):
    bad = ~np.isfinite(curve) | (np.abs(curve) > blowup)
    if np.any(bad):
        curve = curve.copy()
        curve[int(np.argmax(bad)):] = np.inf
        return curve, True
    return curve, False


def _quadratic_of(oracle, x0):
    """``(A, b, c)`` with ``f(x) = ½xᵀAx + bᵀx + c`` for a deterministic constant-Hessian oracle, else None."""
    if not (oracle.hessian_is_constant and oracle.has_hvp):
        return None
    A = oracle.hessian(x0)
    A = 0.5 * (A + A.T)
    z = np.zeros(oracle.dim)
    c, b = oracle.value_and_grad(z)
    for x in (x0, x0 + 1.0):  # check the model where it matters
        f = oracle.value(x)
        if not np.isclose(f, 0.5 * x @ A @ x + b @ x + c, rtol=1e-9, atol=1e-9 * max(1.0, abs(c))):
            return None
    return A, b, c


class BestOptimizer:
    """The best optimizer of a family in hindsight (grid search; see the module docstring).

    Parameters
    ----------
    family : {"gd", "momentum", "adamw"}
    grid : dict of value lists (their product; missing keys take a neutral value: no weight
        decay, momentum 0.9, betas (0.9, 0.999), eps 1e-8), or a list of configuration dicts;
        default :data:`E2_GRIDS` ``[family]``.
    criterion : ``"cumulative"`` (sum of the round losses — what regret compares; default) or
        ``"final"`` (loss of the last round).
    use_kernel : run eligible points through :func:`olc.kernels.optimizer_grid` (default True).
    backend : kernel backend (``None``: olc's default).
    blowup : divergence threshold on ``|f|`` (default ``1e100``, the kernel's).

    ``anytime = False``: :meth:`best_cumulative` is the running loss of the single
    configuration that is best for the *whole* horizon, not the best for every prefix.
    After a search, ``self.result`` holds the :class:`OptimizerSearch`.
    """

    anytime = False

    def __init__(self, family: str = "gd", grid=None, criterion: str = "cumulative", use_kernel: bool = True,
                 backend=None, blowup: float = 1e100):
        self.family = check_choice(family, "family", tuple(_KEYS))
        self.configs = _configs(self.family, grid)
        self.criterion = check_choice(criterion, "criterion", ("cumulative", "final"))
        self.use_kernel = bool(use_kernel)
        self.backend = backend
        self.blowup = positive(blowup, "blowup")
        self.result = None

    def optimizer(self, config: dict):
        """The optimizer of this family with ``config`` (a dict of the family's keys).

        Parameters
        ----------
        config : dict
        """
        return make_optimizer(self.family, config)

    # ------------------------------------------------------------------------------------
    def search(self, oracle, T: int, x0=None, *, seed=0, stochastic: bool | None = None, game_seed=None,
               batches=None) -> OptimizerSearch:
        """Run every configuration for ``T`` rounds on ``oracle`` from ``x0`` and pick the best; raises
        :class:`olc.DivergenceError` (``partial`` = the search) when every configuration diverges.

        Parameters
        ----------
        oracle, T, x0, seed, stochastic, game_seed, batches
            Those of :func:`olc.play` and :func:`olc.games.optimization.optimization`; every configuration
            sees the same minibatches.
        """
        from ..games.optimization import OptimizationGame

        def game():
            return OptimizationGame(oracle, T, x0, stochastic=stochastic, seed=game_seed, batches=batches)

        env = game()  # validates the arguments once
        T, xs = env.horizon, env.x0
        G = len(self.configs)
        losses = np.full((G, T), np.inf)
        diverged = np.zeros(G, dtype=bool)
        methods = ["play"] * G
        todo = list(range(G))
        meta = {}
        if self.use_kernel and self.family in ("gd", "momentum") and not env.stochastic:
            quad = _quadratic_of(oracle, xs)
            idx = [j for j in todo if self.configs[j]["weight_decay"] == 0]
            if quad is not None and idx:
                curves = self._kernel(quad, xs, [self.configs[j] for j in idx], T)
                for j, curve in zip(idx, curves):
                    losses[j], diverged[j] = _mark_divergence(curve, self.blowup)
                    methods[j] = "kernel"
                todo = [j for j in todo if methods[j] == "play"]
                meta["quadratic"] = True
        for j in todo:
            losses[j], diverged[j] = self._play(self.configs[j], game(), T, seed)
        if self.criterion == "cumulative":
            scores = np.sum(losses, axis=1)
        else:
            scores = losses[:, -1].copy()
        scores[diverged] = np.inf
        best = int(np.argmin(scores))
        res = OptimizerSearch(self.family, [dict(c) for c in self.configs], losses, diverged, scores, best, methods,
                              self.criterion, meta)
        self.result = res
        if not np.isfinite(scores[best]):
            raise DivergenceError(f"BestOptimizer: all {G} configurations of {self.family!r} diverged in {T} rounds; "
                                  "pass a grid with smaller learning rates", partial=res)
        return res

    def _kernel(self, quad, x0, configs, T):
        from ..kernels import optimizer_grid

        A, b, c = quad
        lrs = np.array([cf["lr"] for cf in configs], dtype=float)
        mus = np.array([cf.get("momentum", 0.0) if self.family == "momentum" else 0.0 for cf in configs], dtype=float)
        res = optimizer_grid(A, b, x0, lrs, mus, T, blowup=self.blowup, backend=self.backend)
        return res.losses[:, :T] + c  # f(x_0..x_{T-1}); inf stays inf

    def _play(self, config, env, T, seed):
        from ..game import play

        curve = np.full(T, np.inf)
        try:
            curve = play(self.optimizer(config), env, T, seed=seed).losses.copy()
        except DivergenceError:
            vals = env.report()["values"]  # values charged before the divergence
            curve[:len(vals)] = vals
        return _mark_divergence(curve, self.blowup)

    # ------------------------------------------------------------------------------------
    def best_cumulative(self, trace) -> np.ndarray:
        """Cumulative loss of the best tuned configuration on the own problem of ``trace``, a trace of
        :func:`olc.games.optimization.optimization`: the search reruns the grid on the same oracle, ``x0`` and
        ``T`` and, for stochastic games, *replays the recorded minibatches* (``trace.info["batches"]``). Not
        anytime (class docstring).

        Parameters
        ----------
        trace : olc.Trace
        """
        from ..games.optimization import OptimizationGame

        env = getattr(trace, "env", None)
        if not isinstance(env, OptimizationGame):
            raise InvalidArgumentError("trace: BestOptimizer compares with optimizers on an optimization game "
                                       f"(olc.games.optimization); got an environment {type(env).__name__}")
        T = trace.T
        batches = trace.info.get("batches") if env.stochastic else None
        if env.stochastic and (batches is None or len(batches) < T):
            raise InvalidArgumentError("trace: the minibatches of the game were not recorded; cannot replay them")
        res = self.search(env.oracle, T, env.x0, stochastic=env.stochastic, batches=batches)
        return np.cumsum(res.curve)

