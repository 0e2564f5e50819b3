"""Meta-learning as games for :func:`olc.play`: meta-training, online meta-learning, data efficiency.

* :func:`meta_training` — the outer loop of ``first-order-bilevel-maml`` Alg. 1 (lines 3–10) as an
  optimization game: the decision is the meta-parameter ``θ``, a round's minibatch is the draw of
  ``tasks_per_step`` tasks (line 4), its feedback the averaged meta-gradient (line 9) and its value
  the outer loss; the outer optimizer (line 10) is the learner. ``MetaMD.meta_train`` plays the same
  kind of game over the entries of ``M`` (``meta-mirror-descent`` Alg. 1).
* :class:`MetaLearningGame` — the regret protocol of ``online-meta-learning-ftml`` Sec. 3.
* :class:`DataEfficiencyGame` — the data-efficiency protocol of ``online-meta-learning-ftml`` Sec. 5,
  Alg. 1: one round per arrival of data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .._validate import as_array, number, positive, positive_int
from ..errors import InvalidArgumentError, NonFiniteError
from ..game import Environment, Feedback
from ..oracles.base import FunctionOracle
from .optimization import OptimizationGame

if TYPE_CHECKING:
    from ..tasks.base import Task

__all__ = ["meta_training", "MetaLearningGame", "DataEfficiencyGame", "DataArrival"]


def meta_training(learner, tasks, T: int, theta0, *, tasks_per_step: int | None = None, loss=None,
                  seed=None) -> OptimizationGame:
    """The meta-training game of ``first-order-bilevel-maml`` Alg. 1 over ``tasks`` for ``T`` outer steps.

    Round ``t``: the outer optimizer plays ``θ_t``; the game draws ``tasks_per_step`` distinct tasks
    and reveals their averaged meta-gradient as the gradient and the outer loss ``loss(θ_t)`` as the
    value; ``trace.info["grad_norms"]`` holds the meta-gradient norms. Play it with any outer
    optimizer: ``olc.play(OGD(Reals(), lr), meta_training(MAML(0.1), tasks, 50, θ0))``.

    Parameters
    ----------
    learner : meta-gradient estimator
        :class:`olc.meta.MAML`, ``FOMAML``, ``Reptile``, ``IMAML``, ``FOBMAML``: anything with
        ``meta_gradients(tasks, θ)`` and ``objective``.
    tasks, T, theta0 : list of Task, int, array (``θ_0``)
    tasks_per_step : int, optional
        All tasks when None.
    loss : callable ``θ -> float``, optional
        Default: the mean of ``learner.objective`` over all tasks (also the game's attribute ``loss``).
    seed : int or Generator, optional
        Fixes the task draws independently of :func:`olc.play`'s seed (:class:`OptimizationGame`).
    """
    from ..tasks.base import check_tasks  # olc.tasks only when a meta-learning game is built

    tasks = check_tasks(tasks)
    if not hasattr(learner, "meta_gradients"):
        raise InvalidArgumentError(f"learner: expected a meta-gradient learner (MAML, IMAML, ...), "
                                   f"got {learner!r}")
    if tasks_per_step is not None:
        tasks_per_step = positive_int(tasks_per_step, "tasks_per_step")
        if tasks_per_step > len(tasks):
            raise InvalidArgumentError(f"tasks_per_step: {tasks_per_step} exceeds the {len(tasks)} tasks")
    if loss is None:
        def loss(th):
            return float(np.mean([learner.objective(t, th) for t in tasks]))
    elif not callable(loss):
        raise InvalidArgumentError(f"loss: expected None or a callable theta -> float, got {loss!r}")

    def sample(rng):  # Alg. 1, line 4 (unsorted: the order of the average is the order drawn)
        return [tasks[j] for j in rng.choice(len(tasks), tasks_per_step, replace=False)]

    def fun(theta, batch=None):
        return loss(theta), learner.meta_gradients(tasks if batch is None else batch, theta)

    oracle = FunctionOracle(tasks[0].dim, fun, None if tasks_per_step is None else sample,
                            name=f"meta-objective of {type(learner).__name__}")
    game = OptimizationGame(oracle, T, as_array(theta0, "theta0", shape=(tasks[0].dim,)), seed=seed)
    game.loss = loss  # the outer loss, for evaluating an iterate outside the game (e.g. the final one)
    return game


class MetaLearningGame(Environment):
    """The online meta-learning game of ``online-meta-learning-ftml`` Sec. 3 (steps 1–4).

    The loss of round ``t`` is ``f_t(U_t(w_t))`` (``f_t`` = the task's test objective,
    ``U_t`` = ``inner_steps`` GD steps of size ``inner_lr`` on ``f̂_t``); full feedback reveals
    the task itself (``feedback.loss``) and ``∇_w f_t(U_t(w_t))`` (exact, :class:`olc.meta.MAML`).
    ``trace.regret(olc.comparators.BestMetaLearner(alpha))`` is eq. (3).

    Parameters
    ----------
    tasks, inner_lr, inner_steps : list of Task, float, int
    """

    feedback = "full"

    def __init__(self, tasks, inner_lr: float, inner_steps: int = 1):
        from ..meta.maml import MAML
        from ..tasks.base import check_tasks

        self.tasks = check_tasks(tasks)
        self.inner_lr = positive(inner_lr, "inner_lr")
        self.inner_steps = positive_int(inner_steps, "inner_steps")
        self.shape = (self.tasks[0].dim,)
        self.horizon = len(self.tasks)
        self._maml = MAML(self.inner_lr, self.inner_steps)

    def step(self, t, w):
        """Charge round ``t`` for the meta-parameters ``w``.

        Parameters
        ----------
        t, w : int and ndarray
        """
        task = self.tasks[t]
        value = self._maml.objective(task, w)
        return Feedback(t, "full", value, self._maml.meta_gradient(task, w), loss=task)

    def realized(self):
        return self.tasks


class DataArrival(NamedTuple):
    """The observation of a round of :class:`DataEfficiencyGame` (Alg. 1, lines 5–6).

    Parameters
    ----------
    task, n, new : Task, int, bool
        ``task`` now has its first ``n`` training points; ``new``: the round starts the task.
    """

    task: Task
    n: int
    new: bool


class DataEfficiencyGame(Environment):
    """The data-efficiency protocol of ``online-meta-learning-ftml`` Sec. 5, Alg. 1, as a game.

    The tasks arrive one after the other and the data ``D_t`` of task ``t`` arrives ``n_per_step``
    points at a time (the last arrival completes it). A round is one arrival: the observation is a
    :class:`DataArrival`; the learner trains on it and returns the parameters it deploys (Alg. 1,
    lines 9–10: :meth:`~olc.learners.FTML.decide` calls ``new_task``/``observe``/``deploy``); the game
    evaluates ``metric`` (``"loss"`` or a name in ``task.metrics``) on the held-out test data and
    reveals it as the round's value — an accuracy, where that is the metric. ``feedback.info`` holds
    the arrival; :meth:`report` gives per round the ``task`` index and the number ``n`` of points.

    Parameters
    ----------
    tasks, n_per_step, metric : list of data Task, int, str
    """

    feedback = "full"
    _state = ("_n",)

    def __init__(self, tasks, n_per_step: int, metric: str = "loss"):
        from ..tasks.base import check_tasks

        self.tasks = check_tasks(tasks)
        self.n_per_step = positive_int(n_per_step, "n_per_step")
        for t in self.tasks:
            if t.n_train is None:
                raise InvalidArgumentError(f"tasks: {t.name!r} has no datapoints; the data-efficiency protocol "
                                           "needs data tasks")
            if metric != "loss" and metric not in t.metrics:
                raise InvalidArgumentError(f"metric: task {t.name!r} has no metric {metric!r} "
                                           f"(has {['loss', *t.metrics]})")
        self.metric = metric
        rounds = []
        for i, t in enumerate(self.tasks):
            ns = list(range(self.n_per_step, t.n_train + 1, self.n_per_step))
            rounds += [(i, n) for n in (ns if ns and ns[-1] == t.n_train else [*ns, t.n_train])]
        self._task_of, self._n_of = (np.array(c, dtype=int) for c in zip(*rounds))
        self.shape = (self.tasks[0].dim,)
        self.horizon = len(rounds)

    def reset(self, rng):
        self._n = 0

    def observe(self, t):
        i = int(self._task_of[t])
        return DataArrival(self.tasks[i], int(self._n_of[t]), bool(t == 0 or self._task_of[t - 1] != i))

    def step(self, t, w):
        """Charge round ``t`` for the meta-parameters ``w``.

        Parameters
        ----------
        t, w : int and ndarray
        """
        arrival = self.observe(t)
        value = number(arrival.task.evaluate(w)[self.metric], f"{arrival.task.name} {self.metric}")
        if not np.isfinite(value):
            raise NonFiniteError(f"the deployed parameters reached a non-finite {self.metric} ({value}) on task "
                                 f"{arrival.task.name!r} after {arrival.n} datapoints (diverged: lower the "
                                 "learner's learning rates)")
        self._n = t + 1
        return Feedback(t, "full", value, info={"arrival": arrival})

    def report(self):
        return {"task": self._task_of[:self._n], "n": self._n_of[:self._n]}
