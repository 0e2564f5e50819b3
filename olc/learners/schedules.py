"""Step-size schedules ``eta(t)``, ``t = 1, 2, ...`` (defined with the optimizer stack, :mod:`olc.optim`)."""

from ..optim import Constant, InverseSqrt, Power, as_schedule

__all__ = ["Constant", "InverseSqrt", "Power", "as_schedule"]
