"""The CuPy kernels' CUDA C source run on the CPU (tests/kernels/_cuda_emulator.py) against the reference.

No GPU needed, only a C++ compiler: ``olc.kernels.cupy_gpu`` is given a fake ``cupy`` whose
``RawKernel`` compiles the unchanged kernel source with g++ and runs every (block, thread)
index in turn. This checks the kernels' indexing, arithmetic, float32/float64 typedefs,
argument marshalling and divergence reporting; the ``gpu`` tests in test_cupy.py remain the
check of real CUDA behaviour (see docs/kernels.md, "CuPy kernels without a GPU"). The checks
numba and CuPy share run on this emulation from test_compiled.py.
"""

from __future__ import annotations

import _cuda_emulator as E
import numpy as np
import pytest
from _cases import (
    close,
    gpc_case,
    rollout_case,
)

from olc import kernels as K
from olc.kernels import cupy_gpu as G

if not E.have_compiler():
    pytest.skip(f"the CUDA-on-CPU emulation needs a C++ compiler ({E.CXX} not found)", allow_module_level=True)


@pytest.fixture(autouse=True)
def cp(emulated_cupy):
    """The emulated CuPy (tests/kernels/conftest.py), routed into olc.kernels.cupy_gpu."""
    return emulated_cupy


# ---------------------------------------------------------------------------------------------
# what only the CUDA kernels have (the checks shared with numba are in test_compiled.py)
# ---------------------------------------------------------------------------------------------

def test_several_blocks_and_idle_threads(monkeypatch):
    # 4 threads per block: B=10 systems take 3 blocks, the last with 2 idle threads
    monkeypatch.setattr(G, "_THREADS", 4)
    kw = rollout_case(6, 10, 7, 3, 2, 2, "ltv_b", per_system_K=True)
    ref = K.rollout(**kw, return_states=True, return_controls=True, backend="numpy")
    for a, b in zip(K.rollout(**kw, return_states=True, return_controls=True, backend="cupy"), ref):
        close(a, b, 1e-10)
    kw = gpc_case(9, 6, 12, 3, 2, "lti_b")
    args = dict(H=3, lr=0.05, kappa=0.4, gamma=0.05, norm="op", return_controls=True)
    for a, b in zip(K.gpc_rollout(**kw, **args, backend="cupy"), K.gpc_rollout(**kw, **args, backend="numpy")):
        close(a, b, 1e-10)
    lr, mu = np.meshgrid(np.geomspace(0.01, 1.0, 5), [0.0, 0.9])
    A = np.diag([1.0, 2.0, 3.0])
    r = K.optimizer_grid(A, np.ones(3), np.zeros(3), lr.ravel(), mu.ravel(), 20, backend="numpy")
    g = K.optimizer_grid(A, np.ones(3), np.zeros(3), lr.ravel(), mu.ravel(), 20, backend="cupy")
    np.testing.assert_array_equal(g.diverged, r.diverged)
    close(g.losses, r.losses, 1e-10)


def test_gpc_no_projection_schedule_and_M0():
    kw = gpc_case(8, 3, 30, 3, 2, "lti")
    M0 = np.random.default_rng(1).normal(size=(3, 3, 2, 3)) * 0.05
    args = dict(H=3, lr=np.geomspace(0.05, 0.005, 30), M0=M0, return_controls=True)
    ref = K.gpc_rollout(**kw, **args, backend="numpy")
    for a, b in zip(K.gpc_rollout(**kw, **args, backend="cupy"), ref):
        close(a, b, 1e-10)
    # the op-norm projection with m > d (rank-deficient Gram matrix M Mᵀ)
    kw = gpc_case(3, 2, 20, 2, 3, "ltv_b")
    args = dict(H=2, lr=0.2, kappa=0.1, gamma=0.2, norm="op", return_controls=True)
    for a, b in zip(K.gpc_rollout(**kw, **args, backend="cupy"), K.gpc_rollout(**kw, **args, backend="numpy")):
        close(a, b, 1e-10)


def test_auto_picks_cupy_for_device_arrays(cp, monkeypatch):
    calls = []
    real = G.rollout
    monkeypatch.setattr(G, "rollout", lambda *a, **k: calls.append(1) or real(*a, **k))
    kw = rollout_case(1, 3, 4, 2, 1, 1, "lti", U=False, M=False)
    got = K.rollout(**{k: cp.asarray(v) for k, v in kw.items()})
    assert calls and type(got.costs) is np.ndarray
    close(got.costs, K.rollout(**kw, backend="numpy").costs, 1e-10)


# ---------------------------------------------------------------------------------------------
# the kernel sources and the emulator's own checks
# ---------------------------------------------------------------------------------------------

SOURCES = [(G._ROLLOUT_SRC, "rollout_k"), (G._GPC_SRC, "gpc_k"), (G._GRID_SRC, "grid_k")]


@pytest.mark.parametrize("src,name", SOURCES, ids=[n for _, n in SOURCES])
def test_kernel_sources_are_one_thread_per_item(src, name):
    # no shared memory, barriers, atomics or warp intrinsics; no host headers; compiles warning-free
    assert E.unsupported_constructs(src) == []
    for real in ("double", "float"):
        k = E.RawKernel(f"typedef {real} real;\n" + src, name)
        assert k.compile_warnings == ""
        if name != "grid_k":      # float64 only
            assert {p.ctype for p in k.params if p.pointer} == {real, "long long"}


TOY = r"""
typedef double real;
extern "C" __global__ void toy(const real* x, int n, double s, real* y, long long* idx) {
    int i = blockDim.x * blockIdx.x + threadIdx.x;
    if (i >= n) return;
    y[i] = s * x[i] + (real)idx[0];
}
extern "C" __global__ void oob(real* y, int n) { int i = threadIdx.x; if (i < n) y[i + 1] = 1; }
extern "C" __global__ void racy(real* y, int n) { int i = threadIdx.x; if (i < n) y[0] = i; }
"""


def test_emulator_marshals_like_cupy(cp):
    k = cp.RawKernel(TOY, "toy")
    x, y, idx = cp.asarray(np.arange(5.0)), cp.empty(5), cp.asarray(np.array([2], np.int64))
    k((2,), (4,), (x, np.int32(5), np.float64(3.0), y, idx))
    np.testing.assert_array_equal(cp.asnumpy(y), 3.0 * np.arange(5.0) + 2)
    bad = {
        "plain Python int": (x, 5, np.float64(3.0), y, idx),
        "plain Python float": (x, np.int32(5), 3.0, y, idx),
        "NumPy scalar of dtype int64": (x, np.int64(5), np.float64(3.0), y, idx),
        "host": (np.arange(5.0), np.int32(5), np.float64(3.0), y, idx),
        "dtype float32": (cp.asarray(np.arange(5.0, dtype=np.float32)), np.int32(5), np.float64(3.0), y, idx),
        "not C-contiguous": (cp.asarray(np.arange(10.0))[::2], np.int32(5), np.float64(3.0), y, idx),
    }
    for what, args in bad.items():
        with pytest.raises(TypeError, match=what):
            k((1,), (8,), args)
    with pytest.raises(E.EmulatorError, match="5 parameters, 4 arguments"):
        k((1,), (8,), (x, np.int32(5), np.float64(3.0), y))
    with pytest.raises(E.EmulatorError, match="limits"):
        k((1,), (2048,), (x, np.int32(5), np.float64(3.0), y, idx))


def test_emulator_catches_out_of_bounds_writes_and_races(cp):
    y = cp.zeros(4)
    with pytest.raises(E.EmulatorError, match="wrote outside"):
        cp.RawKernel(TOY, "oob")((1,), (4,), (y, np.int32(4)))
    with pytest.raises(E.EmulatorError, match="order the threads run in"):
        cp.RawKernel(TOY, "racy")((1,), (4,), (cp.zeros(4), np.int32(4)))


def test_emulator_mirrors_nvrtc():
    # INFINITY/NAN come from <math.h>, which NVRTC (CuPy's compiler) does not have
    src = 'extern "C" __global__ void f(double* y) { y[0] = INFINITY; }'
    with pytest.raises(E.EmulatorError, match="INFINITY"):
        E.RawKernel(src, "f")
    for bad in ("__shared__ double s[4];", "__syncthreads();", "atomicAdd(y, 1.0);"):
        with pytest.raises(E.EmulatorError, match="one after another"):
            E.RawKernel('extern "C" __global__ void f(double* y) { ' + bad + " }", "f")
