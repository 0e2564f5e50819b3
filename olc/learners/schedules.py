"""Step-size schedules ``eta(t)`` for ``t = 1, 2, ...`` (1-based round counter).

A schedule may be given anywhere a learning rate is accepted as a positive float (constant),
a callable ``t -> eta`` or one of the classes below.
"""

from __future__ import annotations

import numpy as np

from .._validate import in_range, positive
from ..errors import InvalidArgumentError

__all__ = ["Constant", "InverseSqrt", "Power", "as_schedule"]


class Constant:
    """``eta(t) = value``."""

    def __init__(self, value: float):
        self.value = positive(value, "lr")

    def __call__(self, t: int) -> float:
        return self.value

    def __repr__(self):
        return f"Constant({self.value})"


class Power:
    """``eta(t) = scale * t^(-exponent)`` (e.g. the ``t^{-3/4}`` of ``nonconvex-meta-optimization`` Thm. 5)."""

    def __init__(self, scale: float, exponent: float):
        self.scale = positive(scale, "scale")
        self.exponent = in_range(exponent, "exponent", 0.0, 10.0)

    def __call__(self, t: int) -> float:
        return self.scale * float(t) ** (-self.exponent)

    def __repr__(self):
        return f"Power(scale={self.scale}, exponent={self.exponent})"


class InverseSqrt(Power):
    """``eta(t) = scale / sqrt(t)`` — the anytime OGD step for convex Lipschitz losses."""

    def __init__(self, scale: float = 1.0):
        super().__init__(scale, 0.5)

    def __repr__(self):
        return f"InverseSqrt({self.scale})"


def as_schedule(lr, name: str = "lr"):
    """Turn a float / callable / schedule into a callable ``t -> eta`` and validate it at t=1."""
    if isinstance(lr, (Constant, Power)):
        return lr
    if isinstance(lr, bool):
        raise InvalidArgumentError(f"{name}: expected a positive number or a schedule, got {lr!r}")
    if isinstance(lr, (int, float, np.floating, np.integer)):
        return Constant(positive(lr, name))
    if callable(lr):
        positive(lr(1), f"{name}: the schedule's step at t=1")
        return lr
    raise InvalidArgumentError(f"{name}: expected a positive number, a callable t -> step or a schedule, got {lr!r}")
