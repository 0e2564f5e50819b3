"""CuPy GPU kernels against the numpy reference (run only with a CUDA device)."""

from __future__ import annotations

import numpy as np
import pytest
from _cases import close, gpc_case, rollout_case

from olc import kernels as K
from olc.backend import is_available

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not is_available("cupy"), reason="needs CuPy and a CUDA device")]


@pytest.mark.parametrize("layout", ["lti", "lti_b", "ltv", "ltv_b"])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_rollout(layout, dtype, tol):
    kw = rollout_case(2, 6, 9, 3, 2, 3, layout)
    ref = K.rollout(**kw, return_states=True, return_controls=True, backend="numpy")
    got = K.rollout(**kw, return_states=True, return_controls=True, dtype=dtype, backend="cupy")
    for a, b in zip(got, ref):
        close(a, b, tol)


@pytest.mark.parametrize("norm", ["fro", "op"])
def test_gpc(norm):
    kw = gpc_case(7, 4, 25, 3, 2, "ltv_b")
    args = dict(H=4, lr=0.05, kappa=0.4, gamma=0.05, norm=norm, return_controls=True)
    for a, b in zip(K.gpc_rollout(**kw, **args, backend="cupy"), K.gpc_rollout(**kw, **args, backend="numpy")):
        close(a, b, 1e-10)


def test_interval_norms_and_grid():
    As = np.random.default_rng(0).normal(size=(20, 4, 4)) * 0.7
    ref = K.interval_norms(As, backend="numpy")
    got = K.interval_norms(As, backend="cupy")
    close(got, ref, 1e-10 * np.nanmax(ref))
    A = np.diag([1.0, 2.0, 3.0])
    lr, mu = np.meshgrid(np.geomspace(0.01, 1.0, 5), [0.0, 0.9])
    r = K.optimizer_grid(A, np.ones(3), np.zeros(3), lr.ravel(), mu.ravel(), 50, backend="numpy")
    g = K.optimizer_grid(A, np.ones(3), np.zeros(3), lr.ravel(), mu.ravel(), 50, backend="cupy")
    np.testing.assert_array_equal(g.diverged, r.diverged)
    close(g.losses, r.losses, 1e-10)


def test_auto_picks_cupy_for_device_arrays():
    import cupy

    kw = rollout_case(1, 3, 4, 2, 1, 1, "lti", U=False, M=False)
    got = K.rollout(**{k: cupy.asarray(v) for k, v in kw.items()})
    close(got.costs, K.rollout(**kw, backend="numpy").costs, 1e-10)
