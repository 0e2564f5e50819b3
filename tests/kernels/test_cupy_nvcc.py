"""The CuPy kernels' CUDA source compiles with CUDA's ``nvcc`` for sm_90 (Hopper), warning-free.

No GPU needed, only ``nvcc`` (skipped without it). The sources are captured exactly as
:mod:`olc.kernels.cupy_gpu` hands them to ``cupy.RawKernel`` at run time — the ``typedef``
of ``real`` for each dtype it launches with, then the kernel source — by running the public
kernel functions with a CuPy stand-in whose ``RawKernel`` records its arguments. Each one is
compiled as NVRTC (CuPy's default compiler) would see it: no ``#include``, and the host
``<math.h>`` macros that nvcc's implicit ``cuda_runtime.h`` include defines but NVRTC lacks
(``INFINITY``, ``NAN``, ``HUGE_VAL``) undefined, so using one fails here as it would there.
``-Werror all-warnings`` makes every warning an error; ``-Xptxas -v`` reports registers and
spills per kernel, and the entry point must carry the unmangled name CuPy looks up.

``python tests/kernels/test_cupy_nvcc.py`` prints the registers/spills table.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

NVCC = shutil.which("nvcc")
ARCH = "sm_90"
FLAGS = ["-arch=" + ARCH, "-cubin", "-std=c++17", "-Xptxas", "-v", "-Werror", "all-warnings"]

# nvcc pre-includes cuda_runtime.h (and with it the host <math.h>); NVRTC has no host headers
NVRTC_PRELUDE = """// NVRTC-like environment (see tests/kernels/test_cupy_nvcc.py)
#undef INFINITY
#undef NAN
#undef HUGE_VAL
#undef HUGE_VALF
#undef HUGE_VALL
"""


class _Captured(Exception):
    pass


def captured_kernels() -> list[tuple[str, str, str, tuple]]:
    """``(kernel name, dtype name, source, options)`` for every ``RawKernel`` that the CuPy backend
    builds at run time (each launch path, float64 and float32)."""
    sys.path.insert(0, os.path.dirname(__file__))
    import _cuda_emulator as E

    from olc.kernels import _prep
    from olc.kernels import cupy_gpu as G

    seen: list = []

    class Recorder:
        def __init__(self, code, name, options=(), **kw):
            seen.append((name, code, tuple(options)))
            raise _Captured

    fake = E.fake_cupy()
    fake.RawKernel = Recorder
    saved = G._cp, G._cache
    G._cp, G._cache = (lambda: fake), {}
    rng = np.random.default_rng(0)
    try:
        for dt in (np.float64, np.float32):
            W = rng.normal(size=(2, 4, 2))
            calls = [
                lambda: G.rollout(_prep.prep_rollout(0.5 * np.eye(2), np.ones((2, 1)), W, dtype=dt)),
                lambda: G.gpc_rollout(_prep.prep_gpc(0.5 * np.eye(2), np.ones((2, 1)), W, np.zeros((1, 2)), H=2,
                                                     lr=0.1, kappa=1.0, dtype=dt)),
            ]
            if dt == np.float64:  # the optimizer grid is float64 only
                calls.append(lambda: G.optimizer_grid(*_prep.prep_grid(np.eye(2), np.zeros(2), np.ones(2),
                                                                         np.array([0.1]), np.array([0.0]), 3)[:6]))
            for call in calls:
                n = len(seen)
                with pytest.raises(_Captured):
                    call()
                name, code, opts = seen[n]
                seen[n] = (name, np.dtype(dt).name, code, opts)
    finally:
        G._cp, G._cache = saved
    return seen


def compile_kernel(name: str, code: str, options: tuple, workdir: str) -> dict:
    """Compile one kernel source with nvcc for sm_90; returns ptxas' report for its entry point
    (``registers``, ``spill_stores``, ``spill_loads``, ``stack``) and the raw log. Raises
    AssertionError (with the log) on an error or warning."""
    assert "#include" not in code, f"{name}: NVRTC (CuPy's compiler) has no headers to include"
    path = os.path.join(workdir, f"{name}.cu")
    with open(path, "w") as fh:
        fh.write(NVRTC_PRELUDE + code)
    out = subprocess.run([NVCC, *FLAGS, *options, "-o", path[:-3] + ".cubin", path], capture_output=True,
                         text=True, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0, f"nvcc failed on {name}:\n{log}"
    assert not re.search(r"\bwarning\b", log, flags=re.I), f"nvcc warned on {name}:\n{log}"
    entries = re.findall(r"Compiling entry function '([^']+)' for '(\w+)'", log)
    assert entries == [(name, ARCH)], f"{name}: expected one unmangled entry point {name!r} (extern \"C\"), got {entries}"
    props = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", log)
    regs = re.search(r"Used (\d+) registers", log)
    assert props and regs, f"{name}: no ptxas -v report in:\n{log}"
    return {"registers": int(regs.group(1)), "stack": int(props.group(1)), "spill_stores": int(props.group(2)),
            "spill_loads": int(props.group(3)), "log": log}


pytestmark = pytest.mark.skipif(NVCC is None, reason="needs CUDA's nvcc")


def test_capture_sees_every_runtime_kernel():
    kernels = captured_kernels()
    assert sorted((k[0], k[1]) for k in kernels) == [
        ("gpc_k", "float32"), ("gpc_k", "float64"), ("grid_k", "float64"), ("rollout_k", "float32"),
        ("rollout_k", "float64")]
    for name, dt, code, _ in kernels:
        assert code.startswith(f"typedef {'double' if dt == 'float64' else 'float'} real;\n")
        assert f'extern "C" __global__ void {name}(' in code


@pytest.mark.parametrize("name, dtype", [("rollout_k", "float64"), ("rollout_k", "float32"), ("gpc_k", "float64"),
                                         ("gpc_k", "float32"), ("grid_k", "float64")])
def test_kernel_compiles_for_sm90(name, dtype, tmp_path):
    (code, options), = [(c, o) for n, d, c, o in captured_kernels() if (n, d) == (name, dtype)]
    rep = compile_kernel(name, code, options, str(tmp_path))
    assert rep["registers"] <= 255                      # the hardware limit per thread


def test_nvrtc_environment_is_enforced(tmp_path):
    """The prelude really takes away the host macros NVRTC lacks: a kernel using INFINITY fails."""
    bad = 'extern "C" __global__ void bad_k(double* x) { x[0] = INFINITY; }\n'
    with pytest.raises(AssertionError, match="INFINITY"):
        compile_kernel("bad_k", bad, (), str(tmp_path))


def main():  # pragma: no cover - the report for docs and notes
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, dt, code, opts in captured_kernels():
            r = compile_kernel(name, code, opts, tmp)
            rows.append((name, dt, r["registers"], r["stack"], r["spill_stores"], r["spill_loads"]))
    print(f"nvcc {ARCH} (" + " ".join(FLAGS) + ")")
    print("| kernel | dtype | registers | stack frame (B) | spill stores (B) | spill loads (B) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(map(str, row)) + " |")


if __name__ == "__main__":  # pragma: no cover
    main()
