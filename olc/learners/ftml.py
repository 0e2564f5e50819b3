"""Online meta-learning: Follow the Meta Leader (FTML) and the baselines of ``online-meta-learning-ftml``.

Two protocols, one set of learners:

* **Regret protocol** (Sec. 3): :class:`olc.games.MetaLearningGame` is an :class:`olc.Environment`
  for :func:`olc.play`. Round ``t``: the learner plays
  ``w_t``; the world reveals task ``t``; the loss is ``f_t(U_t(w_t))`` with ``U_t`` =
  ``inner_steps`` GD steps of size ``inner_lr`` on ``f̂_t``; the feedback carries the task
  (``feedback.loss``) and the exact MAML gradient. ``trace.regret(olc.comparators.BestMetaLearner(alpha))`` is eq. (3).
* **Data-efficiency protocol** (Sec. 5, Alg. 1): :func:`online_meta_learning` plays
  :class:`olc.games.DataEfficiencyGame`, which streams the tasks; within task ``t`` the data
  ``D_t`` arrives ``n_per_step`` points at a time; after each arrival (a round, observed as a
  :class:`olc.games.DataArrival`) the learner trains (:meth:`observe`), the deployed model is
  evaluated on the held-out test data, and the number of points needed to reach the proficiency
  threshold ``γ`` is recorded (the data-efficiency metric, Fig. 3 left).

Learners (all share the state ``OnlineState``: parameters ``w``, the task buffer ``B`` with
the number of datapoints available per task, a seeded generator):

* :class:`FTML` — Eq. 4 exactly (``meta_steps=None``: FTL on the meta-losses; closed form on
  quadratic tasks) or the practical Alg. 1–2 (Meta-Update: ``N_meta`` steps over tasks
  sampled uniformly from the buffer, Eq. 5 gradients on minibatches ``D^tr``, ``D^val`` of
  ``D_k``; Update-Procedure: ``N_grad`` GD steps on ``D_t``).
* :class:`TrainOnEverything` (TOE), :class:`TrainFromScratch`, :class:`FTLFineTune` — Sec. 6 (a)–(c).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validate import as_array, as_rng, as_shape, positive, positive_int, real, require
from ..errors import FeedbackError, InvalidArgumentError, ShapeError
from ..game import Feedback, Learner, play
from ..games.meta import DataArrival, DataEfficiencyGame
from ..meta.maml import MAML, fit_maml, maml_quadratic, quadratic_argmin
from ..oracles.base import FrozenOracle, sample_indices
from ..sets import Reals
from ..tasks.base import Task
from .oco import OGD

__all__ = ["OnlineState", "FTML", "TrainOnEverything", "TrainFromScratch", "FTLFineTune",
           "online_meta_learning", "data_efficiency", "fit_log_regret"]


class OnlineState(NamedTuple):
    """State of the online meta-learners.

    Attributes
    ----------
    w, buffer, counts, t : array (parameters played), tasks seen (oldest first), datapoints of ``D_k``
        per buffered task (``None``: the whole task as revealed by the game), rounds started
    opt, rng, cache : outer optimizer state, generator (task/minibatch sampling), per-task quadratic
        meta-forms for the exact FTML closed form
    """

    w: np.ndarray
    buffer: tuple
    counts: tuple
    t: int
    opt: Any
    rng: np.random.Generator
    cache: tuple = ()


def _data_view(task: Task, n: int | None, rng=None, batch_size: int | None = None) -> Task:
    """Task ``k`` as the learner sees it from the buffer: with ``n = None`` the task itself
    (full information, regret protocol); otherwise training *and* validation objectives on the
    first ``n`` points of ``D_k`` (test data is never revealed, Sec. 5), as independent
    minibatches ``D^tr``, ``D^val`` of ``batch_size`` points when given (Eq. 5)."""
    if n is None:
        return task
    base = np.arange(n)
    if batch_size is None or batch_size >= n:
        tr = va = base
    else:
        tr = base[sample_indices(rng, n, batch_size)]
        va = base[sample_indices(rng, n, batch_size)]
    return Task(FrozenOracle(task.train, tr), FrozenOracle(task.train, va), name=task.name)


class _OnlineLearner(Learner):
    """Common protocol: ``init``/``decide``/``update`` for :func:`olc.play`, and the steps of Alg. 1
    ``new_task``/``observe``/``deploy`` that ``decide`` runs on a data arrival."""

    feedback = "full"
    _opt = None  # the learner of the outer steps (:meth:`_descend`), if any

    def __init__(self, w0=None):
        self.w0 = None if w0 is None else as_array(w0, "w0", ndim=1, copy=True)

    # -------------------------------------------------------------- state
    def init(self, shape, rng=None, horizon=None, *, x0=None):
        shape = as_shape(shape)
        if len(shape) != 1:
            raise ShapeError(f"shape: expected a parameter vector shape (dim,), got {shape}")
        w = as_array(x0, "x0", shape=shape, copy=True) if x0 is not None else \
            np.zeros(shape) if self.w0 is None else self.w0.copy()
        if w.shape != shape:
            raise ShapeError(f"w0: expected shape {shape}, got {w.shape}")
        rng = as_rng(rng)
        return OnlineState(w, (), (), 0, None if self._opt is None else self._opt.init(shape, rng, x0=w), rng, ())

    def decide(self, state, obs=None, rng=None):
        if isinstance(obs, DataArrival):  # data-efficiency game: train on the arrival, deploy (Alg. 1, 5-10)
            state = self.observe(self.new_task(state, obs.task) if obs.new else state, obs.n)
            return self.deploy(state, obs.task, obs.n), state
        return state.w, state

    def update(self, state, feedback):
        if "arrival" in feedback.info:  # data-efficiency game: decide has trained on it already
            return state
        task = feedback.loss
        if not isinstance(task, Task):
            raise FeedbackError(f"{type(self).__name__}: the feedback of round {feedback.t} carries no task "
                                "(play it in an olc.games.MetaLearningGame with full feedback)")
        return self.observe(self.new_task(state, task), None)

    # -------------------------------------------------------------- Alg. 1
    def new_task(self, state: OnlineState, task: Task) -> OnlineState:
        """Round ``t`` starts: add ``T_t`` to the buffer with an empty ``D_t`` (Alg. 1, lines 5–6)."""
        if not isinstance(task, Task):
            raise InvalidArgumentError(f"task: expected an olc.tasks.Task, got {type(task).__name__}")
        if task.dim != state.w.shape[0]:
            raise ShapeError(f"task: dim {task.dim} differs from the parameters' {state.w.shape[0]}")
        return state._replace(buffer=state.buffer + (task,), counts=state.counts + (0,), t=state.t + 1,
                              cache=state.cache + (None,))

    def observe(self, state: OnlineState, n: int | None) -> OnlineState:
        """``D_t`` now holds its first ``n`` points (``None``: the whole task); train (Alg. 1, line 9)."""
        if not state.buffer:
            raise InvalidArgumentError(f"{type(self).__name__}: the task buffer is empty; call new_task "
                                       "first")
        state = state._replace(counts=state.counts[:-1] + (n,), cache=state.cache[:-1] + (None,))
        return self._train(state)

    def deploy(self, state: OnlineState, task: Task, n: int) -> np.ndarray:
        """Parameters evaluated on the current task with ``n`` points of ``D_t`` (Alg. 1, line 10).

        Parameters
        ----------
        state, task, n : OnlineState, Task, int
        """
        return state.w

    def _train(self, state):
        return state

    # -------------------------------------------------------------- shared pieces
    def _descend(self, state, steps, grad):
        """``steps`` rounds of the outer optimizer (any olc learner) on ``grad(rng, w)`` (the state's generator
        and optimizer state carry over): FTML's Meta-Update and the joint training of the baselines."""
        opt_state = state.opt
        for _ in range(steps):
            w, opt_state = self._opt.decide(opt_state, None, state.rng)
            opt_state = self._opt.update(opt_state, Feedback(0, "gradient", 0.0, grad(state.rng, w)))
        w, opt_state = self._opt.decide(opt_state, None, state.rng)
        return state._replace(w=np.array(w, dtype=float), opt=opt_state)

    def _entries(self, state, exclude_current=False):
        entries = list(zip(state.buffer, state.counts))
        if exclude_current:
            entries = entries[:-1]
        return [(t, n) for t, n in entries if n is None or n > 0]


class FTML(_OnlineLearner):
    """Follow the Meta Leader, ``online-meta-learning-ftml`` Eq. 4 and Alg. 1–2.

    ``meta_steps=None`` — Eq. 4 exactly: ``w_{t+1} = argmin_w Σ_{k<=t} f_k(U_k(w))`` (FTL on the
    meta-losses), closed form ``−(ΣP_k)⁻¹Σq_k`` when every buffered task is quadratic (App. A),
    L-BFGS warm-started at ``w_t`` otherwise (:func:`olc.meta.fit_maml`). With
    ``inner_steps=1`` and ``α <= min(1/2β, μ/8ρG)`` its regret is ``O(log T)`` (Cor. 2).

    ``meta_steps=N_meta`` — the practical Alg. 2 Meta-Update: ``N_meta`` steps of GD with step
    ``meta_lr`` on the Eq. 5 gradient, each averaging ``meta_batch`` distinct tasks drawn
    uniformly from the buffer (``ν^t`` uniform; the whole buffer once it is no larger), with
    independent minibatches ``D^tr``, ``D^val`` of ``batch_size`` points from ``D_k`` (all of
    ``D_k`` when None). ``optimizer``: the learner that takes these steps, any olc learner (the
    paper's Adam: ``optimizer=olc.learners.Adam(1e-3)``, then no ``meta_lr``); default plain GD
    with step ``meta_lr`` (``OGD(Reals(), meta_lr)``).

    Parameters
    ----------
    inner_lr, inner_steps : float ``α`` and int (``U_k``: GD steps on ``f̂_k``)
    meta_steps, meta_lr, meta_batch, batch_size, optimizer
        As above (``meta_steps=None``: Eq. 4 exactly).
    update_lr, update_steps : float and int, optional
        Alg. 2 Update-Procedure (``N_grad`` GD steps on ``D_t``) of :meth:`deploy`; default ``inner_lr``/``inner_steps``.
    w0 : array, optional
        The first meta-parameters (default 0; ``init(..., x0=)`` overrides it).
    """

    def __init__(self, inner_lr: float, inner_steps: int = 1, *, meta_steps: int | None = None,
                 meta_lr: float | None = None, meta_batch: int = 1, batch_size: int | None = None,
                 update_lr: float | None = None, update_steps: int | None = None, w0=None, optimizer=None):
        super().__init__(w0)
        self.inner_lr = positive(inner_lr, "inner_lr")
        self.inner_steps = positive_int(inner_steps, "inner_steps")
        if meta_steps is None:
            if meta_lr is not None or meta_batch != 1 or batch_size is not None or optimizer is not None:
                raise InvalidArgumentError("FTML: meta_lr, meta_batch, batch_size and optimizer are options of the "
                                           "practical Meta-Update (meta_steps=N_meta); exact Eq. 4 "
                                           "(meta_steps=None) does not use them")
            self.meta_steps = None
        else:
            self.meta_steps = positive_int(meta_steps, "meta_steps")
            if (meta_lr is None) == (optimizer is None):
                raise InvalidArgumentError("FTML: meta_steps needs either meta_lr (the Meta-Update's GD step size) or "
                                           "an optimizer (a learner with its own step size), not both")
        self.meta_lr = None if meta_lr is None else positive(meta_lr, "meta_lr")
        self.optimizer = None if optimizer is None else require(
            optimizer, "optimizer", "an olc learner (e.g. olc.learners.Adam(1e-3))", ("init", "decide", "update"))
        self.meta_batch = positive_int(meta_batch, "meta_batch")
        self.batch_size = None if batch_size is None else positive_int(batch_size, "batch_size")
        self.update_lr = self.inner_lr if update_lr is None else positive(update_lr, "update_lr")
        self.update_steps = (self.inner_steps if update_steps is None
                             else positive_int(update_steps, "update_steps"))
        self._maml = MAML(self.inner_lr, self.inner_steps)
        self._opt = self.optimizer if self.meta_lr is None else OGD(Reals(), self.meta_lr)

    def _train(self, state):
        return self.meta_update(state) if self.meta_steps is not None else self.follow_the_meta_leader(state)

    def follow_the_meta_leader(self, state: OnlineState) -> OnlineState:
        """Eq. 4: ``w ← argmin_w Σ_{k in B} f_k(U_k(w))`` over the buffered tasks (exactly).

        Parameters
        ----------
        state : OnlineState
        """
        entries = self._entries(state)
        if not entries:
            raise InvalidArgumentError("FTML: the task buffer holds no data yet; nothing to follow")
        views = [_data_view(t, n) for t, n in entries]
        if all(v.quadratic is not None for v in views):
            cache = list(state.cache)
            P, q = 0.0, 0.0
            j = 0
            for i, n in enumerate(state.counts):
                if n is not None and n == 0:
                    continue
                if cache[i] is None:
                    cache[i] = maml_quadratic(views[j], self.inner_lr, self.inner_steps)
                P, q = P + cache[i].A, q + cache[i].b
                j += 1
            return state._replace(w=quadratic_argmin(P, q, state.w), cache=tuple(cache))
        return state._replace(w=fit_maml(views, self.inner_lr, self.inner_steps, x0=state.w))

    def meta_update(self, state: OnlineState) -> OnlineState:
        """Alg. 2 Meta-Update: ``N_meta`` steps on the Eq. 5 gradient over tasks sampled from the buffer.

        Parameters
        ----------
        state : OnlineState
        """
        entries = self._entries(state)
        if not entries:
            raise InvalidArgumentError("FTML: the task buffer holds no data yet; Meta-Update needs a task")

        def grad(rng, w):
            ks = rng.choice(len(entries), size=min(self.meta_batch, len(entries)), replace=False)
            return np.mean([self._maml.meta_gradient(_data_view(*entries[k], rng, self.batch_size), w) for k in ks],
                           axis=0)

        return self._descend(state, self.meta_steps, grad)

    def deploy(self, state, task, n):
        """Alg. 2 Update-Procedure: ``N_grad`` GD steps from ``w_t`` on the ``n`` points of ``D_t``.

        Parameters
        ----------
        state, task, n : OnlineState, Task, int
        """
        return task.adapt(state.w, self.update_lr, self.update_steps, n)


class _JointTraining(_OnlineLearner):
    """SGD on the joint loss ``Σ_k L(D_k, w)`` over buffered tasks (uniform task, minibatch)."""

    def __init__(self, lr, steps, batch_size, w0):
        super().__init__(w0)
        self.lr = positive(lr, "lr")
        self.steps = positive_int(steps, "steps")
        self.batch_size = None if batch_size is None else positive_int(batch_size, "batch_size")
        self._opt = OGD(Reals(), self.lr)

    def _joint_steps(self, state, entries):
        if not entries:
            return state
        return self._descend(state, self.steps, lambda rng, w: _data_view(
            *entries[int(rng.integers(len(entries)))], rng, self.batch_size).train.grad(w))


class TrainOnEverything(_JointTraining):
    """TOE, ``online-meta-learning-ftml`` Sec. 6 (a): one model trained (``steps`` SGD steps of
    size ``lr`` per data arrival) on all data seen so far, ``D_t`` included; deployed without
    task-specific adaptation.

    Parameters
    ----------
    lr, steps : float and int
    batch_size : int, optional
        Points per SGD step (None: all of ``D_k``).
    w0 : array, optional
        The initial model (default 0).
    """

    def __init__(self, lr: float, steps: int, batch_size: int | None = None, w0=None):
        super().__init__(lr, steps, batch_size, w0)

    def _train(self, state):
        return self._joint_steps(state, self._entries(state))


class FTLFineTune(_JointTraining):
    """FTL + fine-tuning, Sec. 6 (c): joint training on the data of rounds ``1..t−1`` (``steps``
    SGD steps per data arrival, the same budget as TOE) and, for evaluation, ``update_steps``
    GD steps of size ``update_lr`` on ``D_t`` from the joint model.

    Parameters
    ----------
    lr, steps, batch_size, w0
        As in :class:`TrainOnEverything` (``lr``: the joint SGD step).
    update_lr, update_steps : float and int
    """

    def __init__(self, lr: float, steps: int, update_lr: float, update_steps: int,
                 batch_size: int | None = None, w0=None):
        super().__init__(lr, steps, batch_size, w0)
        self.update_lr = positive(update_lr, "update_lr")
        self.update_steps = positive_int(update_steps, "update_steps")

    def _train(self, state):
        return self._joint_steps(state, self._entries(state, exclude_current=True))

    def deploy(self, state, task, n):
        """Alg. 2 Update-Procedure on the ``n`` points of ``D_t`` (see the class docstring).

        Parameters
        ----------
        state, task, n : OnlineState, Task, int
        """
        return task.adapt(state.w, self.update_lr, self.update_steps, n)


class TrainFromScratch(_OnlineLearner):
    """Train from scratch, Sec. 6 (b): every task starts again from the initialisation ``w0``
    and is trained by ``update_steps`` GD steps of size ``update_lr`` on ``D_t`` only.
    Deviation: the same initialisation for every task instead of a fresh random one.

    Parameters
    ----------
    update_lr, update_steps, w0 : float, int, array
    """

    def __init__(self, update_lr: float, update_steps: int, w0=None):
        super().__init__(w0)
        self.update_lr = positive(update_lr, "update_lr")
        self.update_steps = positive_int(update_steps, "update_steps")

    def deploy(self, state, task, n):
        """Alg. 2 Update-Procedure on the ``n`` points of ``D_t`` (see the class docstring).

        Parameters
        ----------
        state, task, n : OnlineState, Task, int
        """
        return task.adapt(state.w, self.update_lr, self.update_steps, n)


# ---------------------------------------------------------------------------- protocols
def data_efficiency(ns, values, threshold: float, higher_is_better: bool = True) -> int | None:
    """Datapoints needed to reach the proficiency threshold ``γ`` (Alg. 1, lines 11–12): the
    first ``n`` whose value is ``>= γ`` (``<= γ`` for losses); None if never reached.
    NaN/Inf values raise :class:`olc.NonFiniteError`.

    Parameters
    ----------
    ns, values : sequences of the same length
    threshold, higher_is_better : float ``γ`` and bool
    """
    ns, values = list(ns), list(values)
    if len(ns) != len(values):
        raise ShapeError(f"values: expected one value per entry of ns ({len(ns)}), got {len(values)}")
    as_array(values, "values", ndim=1)
    threshold = real(threshold, "threshold")
    for n, v in zip(ns, values):
        if (v >= threshold) if higher_is_better else (v <= threshold):
            return int(n)
    return None


def online_meta_learning(learner, tasks, *, n_per_step: int, threshold: float, metric: str = "loss",
                         higher_is_better: bool | None = None, eval_at=(), seed=0, progress=None) -> dict:
    """Alg. 1 of ``online-meta-learning-ftml``: stream ``tasks``; in round ``t`` add ``n_per_step``
    points of ``D_t`` at a time, train (:meth:`observe`), deploy (:meth:`deploy`) and evaluate
    ``metric`` (``"loss"`` or a name in ``task.metrics``) on the held-out test data.

    This is :func:`olc.play` of ``learner`` in :class:`olc.games.DataEfficiencyGame` (one round per
    data arrival; the learner's generator comes from ``seed``). Returns a JSON-serialisable dict:
    ``efficiency`` (datapoints to reach ``threshold`` per task, None if never), ``final`` (metric after
    all of ``D_t``), ``at`` (metric after each ``n`` in ``eval_at``), ``curves`` (``[[n, value], ...]``
    per task), ``names``.

    Parameters
    ----------
    learner, tasks, n_per_step, metric, seed
        As above and :class:`olc.games.DataEfficiencyGame`.
    threshold, higher_is_better, eval_at : float, bool, sequence of int
    progress : bool or factory ``progress(total, desc)``, optional
        As :func:`olc.play`, or a tqdm-like bar advanced once per arrival.
    """
    require(learner, "learner", "an online meta-learner (FTML, TrainOnEverything, TrainFromScratch, FTLFineTune, "
            "...)", ("init", "new_task", "observe", "deploy"))
    n_per_step = positive_int(n_per_step, "n_per_step")
    threshold = real(threshold, "threshold")
    game = DataEfficiencyGame(tasks, n_per_step, metric)
    if higher_is_better is None:
        higher_is_better = metric != "loss"
    bar = None if progress is None or isinstance(progress, bool) else progress(game.horizon, type(learner).__name__)
    try:
        trace = play(learner, game, seed=seed, progress=False if bar else progress,
                     state=learner.init(game.shape, as_rng(seed)), record=bar and (lambda *_: bar.update(1) or {}))
    finally:
        if bar is not None:
            bar.close()
    out = {"efficiency": [], "final": [], "at": {str(n): [] for n in eval_at}, "curves": [],
           "names": [t.name for t in game.tasks], "threshold": threshold, "metric": metric}
    for i in range(len(game.tasks)):
        sel = trace.info["task"] == i
        ns, values = trace.info["n"][sel].tolist(), trace.losses[sel].tolist()
        out["efficiency"].append(data_efficiency(ns, values, threshold, higher_is_better))
        out["final"].append(values[-1])
        for n in eval_at:
            k = next((j for j, m in enumerate(ns) if m >= n), len(ns) - 1)
            out["at"][str(n)].append(values[k])
        out["curves"].append([[n, v] for n, v in zip(ns, values)])
    return out


def fit_log_regret(regret) -> dict:
    """Fit ``R_t ≈ a + b·log t`` and ``R_t ≈ a' + b'·√t`` by least squares (``t = 1..T``).

    Returns ``{"log_slope": b, "log_intercept": a, "log_r2", "sqrt_slope", "sqrt_r2"}``: FTML's
    ``O(log T)`` regret (``online-meta-learning-ftml`` Cor. 2) shows as a log fit with high R²
    that beats the √t fit.

    Parameters
    ----------
    regret : array (T,)
    """
    R = as_array(regret, "regret", ndim=1)
    if R.shape[0] < 2:
        raise InvalidArgumentError(f"regret: the two-parameter fits need at least 2 rounds, got shape {R.shape}")
    t = np.arange(1, R.shape[0] + 1, dtype=float)
    out = {}
    for name, x in (("log", np.log(t)), ("sqrt", np.sqrt(t))):
        X = np.stack([np.ones_like(x), x], axis=1)
        coef, *_ = np.linalg.lstsq(X, R, rcond=None)
        resid = R - X @ coef
        ss = float(np.sum((R - R.mean()) ** 2))
        out[f"{name}_intercept"], out[f"{name}_slope"] = float(coef[0]), float(coef[1])
        out[f"{name}_r2"] = 1.0 - float(resid @ resid) / ss if ss > 0 else 1.0
    return out
