"""The compiled kernels (numba, and the CuPy kernels on the emulated CuPy) against the numpy reference.

Every test takes the ``compiled`` fixture (tests/kernels/conftest.py), so each check runs once per
backend: float64 to 1e-10, float32 to 1e-4 relative (docs/kernels.md, "Tolerances"). Checks of one
backend alone stay in test_numba.py and test_cupy_emulated.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from _cases import (
    check_gpc_divergence,
    check_gpc_op_projection_extremes,
    check_grid_divergence_edge_cases,
    check_grid_matches_reference,
    close,
    gpc_case,
    rollout_case,
)

from olc import kernels as K
from olc.errors import DivergenceError

F32 = 1e-4


@pytest.mark.parametrize("layout", ["lti", "lti_b", "ltv", "ltv_b"])
@pytest.mark.parametrize("B,T,d,m,H", [(5, 9, 3, 2, 3), (1, 1, 1, 1, 1), (3, 3, 2, 1, 4)])
def test_rollout_matches_reference(compiled, layout, B, T, d, m, H):
    kw = rollout_case(2, B, T, d, m, H, layout, per_system_K=(B == 3))
    ref = K.rollout(**kw, return_states=True, return_controls=True, backend="numpy")
    got = K.rollout(**kw, return_states=True, return_controls=True, backend=compiled)
    for a, b in zip(got, ref):
        close(a, b, 1e-10)
    plain = {k: v for k, v in kw.items() if k not in ("U", "M")}
    only_costs = K.rollout(**plain, backend=compiled)
    assert only_costs.states is None and only_costs.controls is None
    close(only_costs.costs, K.rollout(**plain, backend="numpy").costs, 1e-10)


@pytest.mark.parametrize("layout", ["lti", "lti_b", "ltv", "ltv_b"])
def test_rollout_float32(compiled, layout):
    kw = rollout_case(5, 4, 20, 3, 2, 2, layout)
    ref = K.rollout(**kw, return_states=True, return_controls=True, backend="numpy")
    got = K.rollout(**kw, return_states=True, return_controls=True, dtype=np.float32, backend=compiled)
    assert got.costs.dtype == got.states.dtype == got.controls.dtype == np.float32
    for a, b in zip(got, ref):
        close(a, b, F32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rollout_divergence_agrees(compiled, dtype):
    rng = np.random.default_rng(0)
    B, T, d = 4, 30, 2
    A = np.stack([np.eye(d) * 0.5] * 3 + [np.eye(d) * 1e30])
    W = rng.normal(size=(B, T, d))
    errs = []
    for be in ("numpy", compiled):
        with pytest.raises(DivergenceError) as ei:
            K.rollout(A, np.ones((d, 1)), W, time_varying=False, return_states=True, return_controls=True,
                      dtype=dtype, backend=be)
        errs.append(ei.value)
    assert errs[0].step == errs[1].step and errs[0].system == errs[1].system == 3
    for a, b in zip(errs[1].partial, errs[0].partial):
        close(a, b, 1e-10 if dtype == np.float64 else F32)


@pytest.mark.parametrize("norm", ["fro", "op"])
@pytest.mark.parametrize("layout,B,T,d,m,H", [("ltv_b", 4, 25, 3, 2, 4), ("lti", 1, 12, 1, 1, 1),
                                               ("ltv", 2, 1, 2, 3, 2), ("lti_b", 3, 15, 4, 2, 10)])
def test_gpc_matches_reference(compiled, norm, layout, B, T, d, m, H):
    kw = gpc_case(7, B, T, d, m, layout)
    args = dict(H=H, lr=0.05, kappa=0.4, gamma=0.05, norm=norm, return_controls=True)
    ref = K.gpc_rollout(**kw, **args, backend="numpy")
    got = K.gpc_rollout(**kw, **args, backend=compiled)
    for a, b in zip(got, ref):
        close(a, b, 1e-10)


@pytest.mark.parametrize("norm", ["fro", "op"])
def test_gpc_float32(compiled, norm):
    kw = gpc_case(8, 3, 30, 3, 2, "ltv_b")
    args = dict(H=3, lr=0.05, kappa=0.4, gamma=0.05, norm=norm, return_controls=True)
    ref = K.gpc_rollout(**kw, **args, backend="numpy")
    got = K.gpc_rollout(**kw, **args, dtype=np.float32, backend=compiled)
    assert got.costs.dtype == got.M.dtype == np.float32
    for a, b in zip(got, ref):
        close(a, b, F32)


def test_gpc_op_projection_extremes(compiled):
    check_gpc_op_projection_extremes(compiled)


def test_gpc_divergence_agrees(compiled):
    check_gpc_divergence(compiled)


@pytest.mark.parametrize("T,d,L", [(30, 4, None), (1, 1, None), (12, 2, 5), (5, 3, 8)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_interval_norms_match_reference(compiled, T, d, L, dtype):
    As = np.random.default_rng(T).normal(size=(T, d, d)) * 0.7
    ref = K.interval_norms(As, L, backend="numpy")
    got = K.interval_norms(As, L, dtype=dtype, backend=compiled)
    assert got.dtype == dtype
    tol = 1e-10 if dtype == np.float64 else F32
    close(got / np.where(np.isnan(ref), 1, ref + 1e-300), np.where(np.isnan(ref), np.nan, 1.0), tol)


def test_interval_norms_overflow_is_inf(compiled):
    As = np.tile(np.eye(2) * 1e200, (3, 1, 1))
    got = K.interval_norms(As, backend=compiled)
    assert got[0, 0] == pytest.approx(1e200) and np.isinf(got[0, 1]) and np.isnan(got[2, 1])
    close(got, K.interval_norms(As, backend="numpy"), 1e-10)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("precond", [False, True])
def test_optimizer_grid_matches_reference(compiled, nesterov, precond):
    check_grid_matches_reference(compiled, nesterov, precond)


def test_optimizer_grid_divergence_edge_cases(compiled):
    check_grid_divergence_edge_cases(compiled)
