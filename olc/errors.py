"""The olc exception hierarchy.

Every error olc raises on purpose derives from :class:`OlcError`, so callers can catch one type. Subclasses also derive
from the matching built-in (``ValueError``, ...), so code written against plain Python exceptions keeps working.
"""

from __future__ import annotations

__all__ = [
    "OlcError",
    "ShapeError",
    "InvalidArgumentError",
    "NonFiniteError",
    "DivergenceError",
    "FeedbackError",
    "BackendUnavailableError",
    "ResourceError",
    "MissingExtraError",
    "BusyError",
]


class OlcError(Exception):
    """Base class of all errors raised by olc."""


class InvalidArgumentError(OlcError, ValueError):
    """An argument has a value outside what the function accepts."""


class ShapeError(InvalidArgumentError):
    """An array argument has the wrong shape or number of dimensions."""


class NonFiniteError(OlcError, FloatingPointError):
    """A NaN or an infinity appeared in an input, a feedback or a computed quantity."""


class DivergenceError(NonFiniteError):
    """A rollout or a learner state grew without bound (overflow or non-finite values).

    Parameters
    ----------
    message : str
    step : int, optional
        The step or round at which it diverged.
    partial : object, optional
        Whatever was computed before the divergence (for example the states of a rollout up to
        the step that overflowed, or :func:`olc.play`'s trace), so nothing already computed is lost.

    Examples
    --------
    >>> import numpy as np, olc
    >>> try:
    ...     olc.play(olc.learners.SGD(lr=1.0), olc.games.optimization(
    ...         olc.oracles.QuadraticOracle(np.eye(2) * 1e6, np.zeros(2)), 100, np.ones(2)))
    ... except olc.DivergenceError as err:
    ...     print(type(err).__name__, err.partial.T)
    DivergenceError 26
    """

    def __init__(self, message: str, *, step: int | None = None, partial=None):
        super().__init__(message)
        self.step = step
        self.partial = partial


class FeedbackError(OlcError, TypeError):
    """A learner asks for a kind of feedback the environment does not provide."""


class BackendUnavailableError(OlcError, ImportError):
    """A requested array backend (numba, cupy) is not installed or has no device."""


class ResourceError(OlcError, MemoryError):
    """A call would need more memory (or time) than the machine has; raised *before* allocating.

    The message names the argument that sets the size, the estimate and what is available, and
    where there is one, the cheaper path to take instead.
    """


class MissingExtraError(OlcError, ImportError):
    """An optional dependency (a setup.cfg extra) is not installed.

    Parameters
    ----------
    message : str
        Names the extra and the ``pip install`` command that provides it.
    extra : {"torch", "data", "sweep", "plot"}, optional
    """

    def __init__(self, message: str, *, extra: str | None = None):
        super().__init__(message)
        self.extra = extra


class BusyError(OlcError):
    """An output directory is in use by another olc process (its lock is held); the message names
    that process (pid, host, since when)."""
