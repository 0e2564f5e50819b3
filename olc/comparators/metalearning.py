"""The best meta-learner in hindsight: ``min_w Σ_t f_t(U_t(w))`` (``online-meta-learning-ftml`` eq. (3)).

``U_t(w)`` is ``inner_steps`` gradient steps of size ``alpha`` on the training objective ``f̂_t`` (one step,
``U_t(w) = w − α∇f̂_t(w)``, in the paper's analysis, Sec. 4.3). The comparator sees every task in batch mode
and may adapt to each one, so it is strictly more capable than the online learner.

=====================  ==============================================================  =========
tasks                  method                                                          anytime
=====================  ==============================================================  =========
quadratic / linear     closed form ``w* = −A_†⁻¹b_†`` on every prefix (App. A,          yes
regression             generalised to ``f ≠ f̂`` and ``K`` steps by
                       :func:`olc.meta.maml_quadratic`)
other                  scipy L-BFGS on the summed MAML objective with the exact         no
                       MAML meta-gradient (:func:`olc.meta.fit_maml`)
=====================  ==============================================================  =========
"""

from __future__ import annotations

import numpy as np

from .._validate import positive, positive_int
from ..errors import InvalidArgumentError
from ..meta.maml import MAML, fit_maml, maml_quadratic, quadratic_argmin
from ..tasks.base import Task, check_tasks

__all__ = ["BestMetaLearner"]


class BestMetaLearner:
    """Comparator class of ``online-meta-learning-ftml`` eq. (3): every initialisation ``w``, each adapted to
    each task by ``U_t``; after :meth:`best_cumulative`, ``point`` holds the whole-horizon minimiser and
    ``was_anytime`` says which curve was returned.

    Parameters
    ----------
    alpha : float
    inner_steps : int
        Step size and number of the inner gradient steps of ``U_t`` (they must match the game's).
    anytime : bool or None
        None: the prefix-wise optimum (closed form) on quadratic tasks; False: the whole-horizon minimiser.
    tol : float
    """

    def __init__(self, alpha: float = 0.1, inner_steps: int = 1, anytime: bool | None = None,
                 tol: float = 1e-10):
        self.alpha = positive(alpha, "alpha")
        self.inner_steps = positive_int(inner_steps, "inner_steps")
        if anytime not in (None, False, True):
            raise InvalidArgumentError(f"anytime: expected None, True or False, got {anytime!r}")
        self.anytime = anytime
        self.tol = positive(tol, "tol")
        self.point = None
        self.was_anytime = None
        self._maml = MAML(self.alpha, self.inner_steps)

    # ------------------------------------------------------------------ inputs
    def _tasks(self, trace_or_tasks) -> list[Task]:
        env = getattr(trace_or_tasks, "env", None)
        for attr, mine in (("inner_lr", self.alpha), ("inner_steps", self.inner_steps)):
            theirs = getattr(env, attr, None)
            if theirs is not None and theirs != mine:
                raise InvalidArgumentError(f"alpha/inner_steps: the game adapts with {attr}={theirs}, the "
                                           f"comparator with {mine}; they must match")
        seq = getattr(trace_or_tasks, "sequence", trace_or_tasks)
        if seq is None:
            raise InvalidArgumentError("trace: it holds no task sequence (the environment recorded none)")
        return check_tasks(seq)

    # ------------------------------------------------------------------ API
    def value(self, trace_or_tasks, w) -> np.ndarray:
        """Per-round losses ``f_t(U_t(w))`` of a fixed initialisation ``w`` on ``trace_or_tasks``, shape ``(T,)``.

        Parameters
        ----------
        trace_or_tasks : olc.Trace or list of olc.tasks.Task
        w : array_like
        """
        return np.array([self._maml.objective(t, w) for t in self._tasks(trace_or_tasks)])

    def best_point(self, trace_or_tasks, x0=None) -> np.ndarray:
        """``argmin_w Σ_t f_t(U_t(w))`` over ``trace_or_tasks`` (closed form if quadratic, else L-BFGS from ``x0``).

        Parameters
        ----------
        trace_or_tasks : olc.Trace or list of olc.tasks.Task
        x0 : array_like, optional
        """
        self.point = fit_maml(self._tasks(trace_or_tasks), self.alpha, self.inner_steps, x0=x0, tol=self.tol)
        return self.point

    def best_cumulative(self, trace_or_tasks) -> np.ndarray:
        """Comparator curve for :meth:`olc.Trace.regret` of ``trace_or_tasks`` (module docstring).

        Parameters
        ----------
        trace_or_tasks : olc.Trace or list of olc.tasks.Task
        """
        tasks = self._tasks(trace_or_tasks)
        if self.anytime is not False and all(t.quadratic is not None for t in tasks):
            forms = [maml_quadratic(t, self.alpha, self.inner_steps) for t in tasks]
            P = np.cumsum([f.A for f in forms], axis=0)
            q = np.cumsum([f.b for f in forms], axis=0)
            r = np.cumsum([f.c for f in forms])
            ws = None
            if np.all(np.isfinite(P)) and np.all(np.isfinite(q)):
                ws = np.empty_like(q)
                ok = np.linalg.cond(P) <= 1e12
                ws[ok] = -np.linalg.solve(P[ok], q[ok][..., None])[..., 0]
                for t in np.flatnonzero(~ok):  # singular prefixes (e.g. alpha = 1/eigenvalue): any minimiser
                    ws[t] = quadratic_argmin(P[t], q[t])
            if ws is not None and np.all(np.isfinite(ws)):
                self.point, self.was_anytime = ws[-1], True
                return 0.5 * np.einsum("ti,ti->t", q, ws) + r  # min value: r − ½qᵀP⁻¹q
        self.best_point(tasks)
        self.was_anytime = False
        return np.cumsum(self.value(tasks, self.point))

    def __repr__(self):
        return f"BestMetaLearner(alpha={self.alpha}, inner_steps={self.inner_steps})"
