"""Step-size schedules ``eta(t)`` for ``t = 1, 2, ...``: :class:`Constant`, :class:`Power`,
:class:`InverseSqrt` and :func:`as_schedule`, defined with the optimizer stack in :mod:`olc.optim`."""

from ..optim import Constant, InverseSqrt, Power, as_schedule

__all__ = ["Constant", "InverseSqrt", "Power", "as_schedule"]
