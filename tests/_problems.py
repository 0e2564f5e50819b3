"""Small problems and checks shared by test files in different folders (not collected by pytest).

``tests/conftest.py`` puts this folder on ``sys.path``, so any test imports them as
``from _problems import ...``.
"""

import numpy as np

import olc


def spd_quadratic(n, seed=0, ridge=0.1):
    """``(A, b)`` of a well-conditioned quadratic: ``A = Q Qᵀ / n + ridge·I`` with ``Q`` and ``b``
    standard normal, drawn in that order from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((n, n))
    return Q @ Q.T / n + ridge * np.eye(n), rng.standard_normal(n)


def central_differences(f, x, h=1e-6):
    """The gradient of a scalar function ``f`` at the array ``x`` (any shape) by central differences."""
    g = np.zeros(np.shape(x))
    for idx in np.ndindex(g.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


def logistic_tasks(n_tasks, rng, dim=2):
    """Meta-learning tasks with no closed-form leader: logistic regression on 20 Gaussian points with
    a random separating direction, the first 10 for training and the last 10 for testing."""
    from olc.tasks import Task

    tasks = []
    for _ in range(n_tasks):
        X = rng.standard_normal((20, dim))
        y = (X @ rng.standard_normal(dim) > 0).astype(float)
        tasks.append(Task(olc.oracles.LogisticOracle(X[:10], y[:10], l2=0.1),
                          olc.oracles.LogisticOracle(X[10:], y[10:], l2=0.1)))
    return tasks


class NaNOracle(olc.oracles.GradientOracle):
    """A test objective whose value is NaN (a broken task)."""

    def _value_and_grad(self, x, batch):
        return float("nan"), np.zeros(self.dim)
