"""Shared check: an experiment's results are ready for ``olc sweep`` (per-run metrics and curves)."""

import json
import math

import pytest


def check_sweep_outputs(module, results):
    """``PRIMARY``/``EXTRAS`` declared; ``metrics`` real floats including ``PRIMARY`` (finite);
    ``curves`` non-empty lists of floats, ``curve_x`` (where given) of the same lengths; JSON round trip."""
    assert isinstance(module.PRIMARY, str) and isinstance(module.EXTRAS, tuple)
    metrics, curves = results["metrics"], results["curves"]
    assert metrics and all(isinstance(k, str) and type(v) is float for k, v in metrics.items()), metrics
    assert module.PRIMARY in metrics and math.isfinite(metrics[module.PRIMARY])
    assert curves and all(isinstance(c, list) and c and all(type(v) is float for v in c) for c in curves.values())
    for name, x in results.get("curve_x", {}).items():
        assert len(x) == len(curves[name]), name
    assert json.loads(json.dumps({"m": metrics, "c": curves})) == {"m": metrics, "c": curves}
    return metrics, curves


@pytest.fixture
def sweep_ready():
    return check_sweep_outputs
