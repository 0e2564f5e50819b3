"""The olc exception hierarchy.

Every error olc raises on purpose derives from :class:`OlcError`, so callers can catch
one type. Subclasses also derive from the matching built-in (``ValueError``, ...), so code
written against plain Python exceptions keeps working.
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

    ``partial`` holds whatever was computed before the divergence (for example the states
    of a rollout up to the step that overflowed), so nothing already computed is lost.
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
    """An optional dependency (a setup.cfg extra: ``torch``, ``data``, ``sweep``, ``plot``) is not
    installed; the message names the extra and the ``pip install`` command that provides it."""

    def __init__(self, message: str, *, extra: str | None = None):
        super().__init__(message)
        self.extra = extra


class BusyError(OlcError):
    """An output directory is in use by another olc process (its lock is held); the message names
    that process (pid, host, since when)."""
