"""Backend selection: defaults, env var, auto resolution, clear unavailability errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import olc
from olc import backend as bk
from olc.errors import BackendUnavailableError, InvalidArgumentError


@pytest.fixture(autouse=True)
def _restore(monkeypatch):
    monkeypatch.setattr(bk, "_default", None)
    yield
    bk._default = None


def test_default_is_auto_and_set_get_roundtrip():
    assert olc.get_backend() == "auto"
    prev = olc.set_backend("numpy")
    assert prev == "auto" and bk.get_backend() == "numpy"
    with bk.use_backend("auto"):
        assert bk.get_backend() == "auto"
    assert bk.get_backend() == "numpy"
    assert bk.resolve_backend(None) == "numpy"
    with pytest.raises(InvalidArgumentError, match="backend"):
        olc.set_backend("fortran")


def test_env_var(monkeypatch):
    monkeypatch.setenv("OLC_BACKEND", "numpy")
    assert bk.get_backend() == "numpy"
    bk._default = None
    monkeypatch.setenv("OLC_BACKEND", "bogus")
    with pytest.raises(InvalidArgumentError, match="OLC_BACKEND"):
        bk.get_backend()


def test_auto_resolution_and_missing_numba(monkeypatch):
    assert bk.resolve_backend("auto", np.zeros(3)) in ("numba", "numpy")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in ("numba", "cupy") else real(n, *a))
    assert bk.resolve_backend("auto", np.zeros(3)) == "numpy"
    assert bk.available_backends() == ["numpy"]
    with pytest.raises(BackendUnavailableError, match="numba is not installed"):
        bk.resolve_backend("numba")
    with pytest.raises(BackendUnavailableError, match="CuPy is not installed"):
        olc.set_backend("cupy")
    assert bk.get_backend() == "auto"


def test_cupy_probe_failure_is_reported(monkeypatch):
    import sys
    import types

    fake = types.ModuleType("cupy")

    def boom():
        raise RuntimeError("no CUDA driver")

    fake.is_available = boom
    monkeypatch.setitem(sys.modules, "cupy", fake)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: object() if n == "cupy" else real(n, *a))
    assert not bk.is_available("cupy")
    with pytest.raises(BackendUnavailableError, match="no CUDA driver"):
        bk.kernel_module("cupy")


def test_kernel_dispatch_and_cupy_module_imports_without_cupy():
    from olc import kernels as K

    W = np.ones((2, 3, 1))
    a = K.rollout(np.array([[0.5]]), np.zeros((1, 1)), W, backend="numpy").costs
    b = K.rollout(np.array([[0.5]]), np.zeros((1, 1)), W).costs          # auto
    np.testing.assert_allclose(a, b, rtol=1e-12)
    import olc.kernels.cupy_gpu as cg  # must import even without CuPy

    assert callable(cg.rollout)
    assert bk.is_cupy_array(np.zeros(1)) is False
    with pytest.raises(InvalidArgumentError):
        bk.kernel_module("auto")
