"""The CuPy kernels' CUDA C source run on the CPU (tests/kernels/_cuda_emulator.py) against the reference.

No GPU needed, only a C++ compiler: ``olc.kernels.cupy_gpu`` is given a fake ``cupy`` whose
``RawKernel`` compiles the unchanged kernel source with g++ and runs every (block, thread)
index in turn. This checks the kernels' indexing, arithmetic, float32/float64 typedefs,
argument marshalling and divergence reporting; the ``gpu`` tests in test_cupy.py remain the
check of real CUDA behaviour (see docs/kernels.md, "CuPy kernels without a GPU").
"""

from __future__ import annotations

import _cuda_emulator as E
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

from olc import backend
from olc import kernels as K
from olc.errors import DivergenceError
from olc.kernels import cupy_gpu as G

if not E.have_compiler():
    pytest.skip(f"the CUDA-on-CPU emulation needs a C++ compiler ({E.CXX} not found)", allow_module_level=True)

F32 = 1e-4        # docs/kernels.md, "Tolerances": float32 to 1e-4 relative


@pytest.fixture(scope="module", autouse=True)
def _so_cache(tmp_path_factory):
    E.set_cache_dir(tmp_path_factory.mktemp("cuda-emu"))


@pytest.fixture(autouse=True)
def cp(monkeypatch):
    """Route olc.kernels.cupy_gpu to the emulated CuPy and let backend="cupy" resolve here."""
    fake = E.fake_cupy()
    monkeypatch.setattr(G, "_cp", lambda: fake)
    monkeypatch.setattr(G, "_cache", {})          # never leave emulated kernels in the real cache
    why = backend._why_unavailable
    monkeypatch.setattr(backend, "_why_unavailable", lambda name: None if name == "cupy" else why(name))
    return fake


# ---------------------------------------------------------------------------------------------
# rollout
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["lti", "lti_b", "ltv", "ltv_b"])
@pytest.mark.parametrize("B,T,d,m,H", [(5, 9, 3, 2, 3), (1, 1, 1, 1, 1), (3, 3, 2, 1, 4)])
def test_rollout_matches_reference(layout, B, T, d, m, H):
    kw = rollout_case(2, B, T, d, m, H, layout, per_system_K=(B == 3))
    ref = K.rollout(**kw, return_states=True, return_controls=True, backend="numpy")
    got = K.rollout(**kw, return_states=True, return_controls=True, backend="cupy")
    for a, b in zip(got, ref):
        close(a, b, 1e-10)
    plain = {k: v for k, v in kw.items() if k not in ("U", "M")}
    only_costs = K.rollout(**plain, backend="cupy")
    assert only_costs.states is None and only_costs.controls is None
    close(only_costs.costs, K.rollout(**plain, backend="numpy").costs, 1e-10)


@pytest.mark.parametrize("layout", ["lti", "lti_b", "ltv", "ltv_b"])
def test_rollout_float32(layout):
    kw = rollout_case(5, 4, 20, 3, 2, 2, layout)
    ref = K.rollout(**kw, return_states=True, return_controls=True, backend="numpy")
    got = K.rollout(**kw, return_states=True, return_controls=True, dtype=np.float32, backend="cupy")
    assert got.costs.dtype == got.states.dtype == got.controls.dtype == np.float32
    for a, b in zip(got, ref):
        close(a, b, F32)


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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rollout_divergence_agrees(dtype):
    rng = np.random.default_rng(0)
    B, T, d = 4, 30, 2
    A = np.stack([np.eye(d) * 0.5] * 3 + [np.eye(d) * 1e30])
    W = rng.normal(size=(B, T, d))
    errs = []
    for be in ("numpy", "cupy"):
        with pytest.raises(DivergenceError) as ei:
            K.rollout(A, np.ones((d, 1)), W, time_varying=False, return_states=True, return_controls=True,
                      dtype=dtype, backend=be)
        errs.append(ei.value)
    assert errs[0].step == errs[1].step and errs[0].system == errs[1].system == 3
    for a, b in zip(errs[1].partial, errs[0].partial):
        close(a, b, 1e-10 if dtype == np.float64 else F32)


# ---------------------------------------------------------------------------------------------
# GPC
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm", ["fro", "op"])
@pytest.mark.parametrize("layout,B,T,d,m,H", [("ltv_b", 4, 25, 3, 2, 4), ("lti", 1, 12, 1, 1, 1),
                                               ("ltv", 2, 1, 2, 3, 2), ("lti_b", 3, 15, 4, 2, 10)])
def test_gpc_matches_reference(norm, layout, B, T, d, m, H):
    kw = gpc_case(7, B, T, d, m, layout)
    args = dict(H=H, lr=0.05, kappa=0.4, gamma=0.05, norm=norm, return_controls=True)
    ref = K.gpc_rollout(**kw, **args, backend="numpy")
    got = K.gpc_rollout(**kw, **args, backend="cupy")
    for a, b in zip(got, ref):
        close(a, b, 1e-10)


@pytest.mark.parametrize("norm", ["fro", "op"])
def test_gpc_float32(norm):
    kw = gpc_case(8, 3, 30, 3, 2, "ltv_b")
    args = dict(H=3, lr=0.05, kappa=0.4, gamma=0.05, norm=norm, return_controls=True)
    ref = K.gpc_rollout(**kw, **args, backend="numpy")
    got = K.gpc_rollout(**kw, **args, dtype=np.float32, backend="cupy")
    assert got.costs.dtype == got.M.dtype == np.float32
    for a, b in zip(got, ref):
        close(a, b, F32)


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


def test_gpc_op_projection_extremes():
    check_gpc_op_projection_extremes("cupy")


def test_gpc_divergence_agrees():
    check_gpc_divergence("cupy")


# ---------------------------------------------------------------------------------------------
# interval norms and optimizer grid
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("T,d,L", [(30, 4, None), (1, 1, None), (12, 2, 5), (5, 3, 8)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_interval_norms_match_reference(T, d, L, dtype):
    As = np.random.default_rng(T).normal(size=(T, d, d)) * 0.7
    ref = K.interval_norms(As, L, backend="numpy")
    got = K.interval_norms(As, L, dtype=dtype, backend="cupy")
    assert got.dtype == dtype
    tol = 1e-10 if dtype == np.float64 else F32
    close(got / np.where(np.isnan(ref), 1, ref + 1e-300), np.where(np.isnan(ref), np.nan, 1.0), tol)


def test_interval_norms_overflow_is_inf():
    As = np.tile(np.eye(2) * 1e200, (3, 1, 1))
    got = K.interval_norms(As, backend="cupy")
    assert got[0, 0] == pytest.approx(1e200) and np.isinf(got[0, 1]) and np.isnan(got[2, 1])
    close(got, K.interval_norms(As, backend="numpy"), 1e-10)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("precond", [False, True])
def test_optimizer_grid_matches_reference(nesterov, precond):
    check_grid_matches_reference("cupy", nesterov, precond)


def test_optimizer_grid_divergence_edge_cases():
    check_grid_divergence_edge_cases("cupy")


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
