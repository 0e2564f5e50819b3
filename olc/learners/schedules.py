"""Deprecated location of the step-size schedules: they live in :mod:`olc.optim` (import them from there).

Kept only until olc/learners/control.py imports them from :mod:`olc.optim` (issue 15: another branch edits it);
nothing of it is exported by :mod:`olc.learners`."""

from ..optim import Constant, InverseSqrt, Power, as_schedule

__all__ = ["Constant", "InverseSqrt", "Power", "as_schedule"]
