"""Where a linearised model can be trusted, and a warning when a run leaves that region.

A linear model of a nonlinear plant (``olc.systems.inverted_pendulum`` is ``sin θ ≈ θ``) is only accurate near the
equilibrium it was linearised at. A :class:`ValidityRegion` states that region as bounds on some state coordinates
(``|θ| <= θ_max``); :meth:`ValidityRegion.check` measures a trajectory against it. The control games
(:func:`olc.games.control`, :func:`olc.games.nonlinear_control`) check every trajectory whose system carries a region
in ``system.info["validity"]``: the result is kept in ``trace.info["validity"]`` and a :class:`LinearizationWarning`
is issued when the trajectory left the region — the linear model may then be answering a question the real plant would
answer differently.

:func:`small_angle_bound` gives the angle up to which ``sin θ ≈ θ`` (and optionally ``cos θ ≈ 1``)
holds to a relative tolerance: the default 5 % gives ``|θ| <= 0.5519`` rad (31.6°) for
``sin θ ≈ θ`` and ``0.3176`` rad (18.2°) for ``cos θ ≈ 1``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._validate import as_array, in_range, positive
from ..errors import InvalidArgumentError, ShapeError

__all__ = ["ValidityRegion", "LinearizationWarning", "small_angle_bound"]


class LinearizationWarning(UserWarning):
    """A trajectory left the region where the linearised model is accurate (see :class:`ValidityRegion`)."""


def small_angle_bound(tol: float = 0.05, *, cosine: bool = False) -> float:
    """The largest ``θ > 0`` with ``1 − sin(θ)/θ <= tol`` (or, with ``cosine=True``, also ``1 − cos θ <= tol``).

    Solved by bisection on ``(0, π)`` (``1 − sin θ/θ`` is increasing there) to machine precision.

    Parameters
    ----------
    tol : float
        In ``(0, 1)``: the relative error allowed in the small-angle approximation ``sin θ ≈ θ`` (the gravity torque
        of a pendulum) and, with ``cosine``, the absolute error of ``cos θ ≈ 1`` (the coupling terms of a cart-pole).
    cosine : bool
    """
    tol = in_range(tol, "tol", 0.0, 1.0, lo_open=True, hi_open=True)
    lo, hi = 1e-9, float(np.pi)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if 1.0 - np.sin(mid) / mid < tol else (lo, mid)
    theta = 0.5 * (lo + hi)
    if cosine:
        theta = min(theta, float(np.arccos(1.0 - tol)))
    return float(theta)


class ValidityRegion:
    """The box ``|x_i| <= bound_i`` (for the listed coordinates ``i``) where a linearisation is trusted.

    Parameters
    ----------
    bounds : dict ``{index: bound}``
        State coordinate → largest trusted absolute value (positive).
    names : dict ``{index: name}``, optional
        Names used in reports (default ``"x[i]"``).
    reason : str
        Why the region is what it is (goes into the warning), e.g. ``"sin θ ≈ θ within 5 %"``.
    """

    def __init__(self, bounds: dict, names: dict | None = None, reason: str = ""):
        if not isinstance(bounds, dict) or not bounds:
            raise InvalidArgumentError(f"bounds: expected a non-empty dict {{state index: bound}}, got {bounds!r}")
        self.bounds = {}
        for i, b in bounds.items():
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0:
                raise InvalidArgumentError(f"bounds: expected non-negative integer state indices, got {i!r}")
            self.bounds[int(i)] = positive(b, f"bounds[{i}]")
        names = dict(names or {})
        self.names = {i: str(names.get(i, f"x[{i}]")) for i in self.bounds}
        self.reason = str(reason)

    def check(self, states) -> dict:
        """Measure a trajectory against the region.

        Parameters
        ----------
        states : array_like
            (n, d).

        Returns
        -------
        dict
            ``inside`` (bool), ``first_exit`` (first row index outside, or None), ``steps_outside``
            (number of rows outside), ``max_abs`` and ``bounds`` (per coordinate name), ``reason``.
        """
        X = as_array(states, "states", ndim=2)
        if X.shape[1] <= max(self.bounds):
            raise ShapeError(f"states: the region bounds coordinate {max(self.bounds)}, got states of shape {X.shape}")
        idx = np.fromiter(self.bounds, dtype=np.int64)
        lim = np.array([self.bounds[i] for i in idx])
        outside = np.any(np.abs(X[:, idx]) > lim, axis=1) if len(X) else np.zeros(0, bool)
        hits = np.flatnonzero(outside)
        return {
            "inside": not len(hits),
            "first_exit": int(hits[0]) if len(hits) else None,
            "steps_outside": int(len(hits)),
            "max_abs": {self.names[i]: float(np.max(np.abs(X[:, i]), initial=0.0)) for i in idx},
            "bounds": {self.names[i]: self.bounds[i] for i in idx},
            "reason": self.reason,
        }

    def warn(self, result: dict, what: str = "the trajectory", stacklevel: int = 3) -> None:
        """Issue a :class:`LinearizationWarning` describing ``result`` if it left the region.

        Parameters
        ----------
        result : dict
            From :meth:`check`.
        what : str
        stacklevel : int
        """
        if result["inside"]:
            return
        worst = ", ".join(f"max |{k}| = {v:.3g} (bound {result['bounds'][k]:.3g})" for k, v in result["max_abs"].items())
        warnings.warn(f"{what} left the validity region of the linearised model at step {result['first_exit']} "
                      f"({result['steps_outside']} steps outside; {worst}; region: {self.reason or 'as given'}). "
                      f"The linear model is not accurate there: try smaller disturbances, or play the "
                      f"nonlinear plant (olc.games.nonlinear_control).", LinearizationWarning, stacklevel=stacklevel)

    def __repr__(self) -> str:
        inner = ", ".join(f"|{self.names[i]}| <= {b:.4g}" for i, b in self.bounds.items())
        return f"ValidityRegion({inner})"
