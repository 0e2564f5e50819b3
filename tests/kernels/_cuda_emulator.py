"""A CPU stand-in for the parts of CuPy that ``olc.kernels.cupy_gpu`` uses (not collected by pytest).

``fake_cupy()`` returns a module-like object whose array functions are NumPy's and whose
``RawKernel`` compiles the kernel's CUDA C source **unchanged** with g++ behind a small prelude
(``__global__``/``__device__`` defined away, ``blockIdx``/``threadIdx``/``blockDim``/``gridDim``
as globals) and runs the launch on the CPU: one call through ctypes per (block, thread) index.
This tests the kernels' indexing, arithmetic, float32/float64 typedefs and divergence flags
against the numpy reference on machines without a GPU.

What the emulator checks that real CuPy would not report (or would report as wrong numbers):

* arguments are marshalled the way CuPy does it: device arrays become pointers, NumPy scalars
  keep their own type; plain Python ``int``/``float``/``bool`` are rejected (CuPy passes them
  as 64-bit ``long long``/``double``/``bool`` whatever the kernel declares), as are NumPy scalars
  whose dtype differs from the declared parameter type, host (NumPy) arrays, arrays of the
  wrong dtype for the pointer and non-C-contiguous arrays;
* device buffers are allocated with NaN-filled guard zones (``0xFF`` bytes) on both sides and
  ``empty`` fills the buffer with the same garbage, so an out-of-bounds read or a read of an
  uninitialised output shows up as NaN, and an out-of-bounds write is detected after the
  launch (the guards changed);
* every launch runs twice, threads in forward and then in reverse order, from the same
  snapshot of all writable buffers, and the results must agree bit for bit — threads that
  touch each other's data (races: shared scratch, overlapping outputs) are caught;
* the source uses no block-level or warp-level cooperation (``__shared__``,
  ``__syncthreads``, atomics, warp shuffles/votes), which a sequential emulation cannot model,
  and the launch respects CUDA's grid/block size limits;
* the source compiles in an NVRTC-like environment (CuPy's default compiler): no ``#include``,
  no ``std::``, and the ``<math.h>`` macros ``INFINITY``/``NAN``/``HUGE_VAL`` are undefined,
  while the CUDA math functions (float and double overloads) and the bit-cast intrinsics
  (``__longlong_as_double``, ``__int_as_float``, ...) are available.

Not verified: real CUDA float semantics (nvcc contracts ``a*b+c`` into FMA by default; g++ on
x86-64 does not), per-thread stack/register limits, memory coalescing, performance.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import types

import numpy as np

__all__ = ["fake_cupy", "RawKernel", "ndarray", "have_compiler", "EmulatorError", "set_cache_dir"]

CXX = os.environ.get("CXX", "g++")
CXXFLAGS = ["-O1", "-shared", "-fPIC", "-x", "c++", "-std=c++17", "-ffp-contract=off", "-Wall",
            "-Wno-unused-function", "-Wno-unused-variable"]
GUARD = 256          # bytes of NaN guard zone on each side of every device buffer
_GARBAGE = 0xFF      # fill byte: NaN as float32/float64, -1 as integers


class EmulatorError(RuntimeError):
    """A kernel launch the emulator refuses (or a check failed): bad arguments, OOB write, race."""


def have_compiler() -> bool:
    return shutil.which(CXX) is not None


# --------------------------------------------------------------------------------------------
# device arrays
# --------------------------------------------------------------------------------------------

class ndarray(np.ndarray):
    """An emulated device array: a NumPy array living in a guarded buffer.

    The class claims ``__module__ = "cupy"`` so that ``olc.backend.is_cupy_array`` treats it as
    a CuPy array (``backend="auto"`` then picks the cupy backend), and it has ``.get()``.
    """

    def __array_finalize__(self, obj):
        self._guard = getattr(obj, "_guard", None)

    def get(self):
        return np.array(self, copy=True).view(np.ndarray)

    def copy(self, order="C"):
        out = _alloc(self.shape, self.dtype)
        out[...] = self
        return out


ndarray.__module__ = "cupy"


def _alloc(shape, dtype) -> ndarray:
    """A C-contiguous device array inside a buffer with GUARD bytes of 0xFF on each side."""
    dtype = np.dtype(dtype)
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = np.full(n + 2 * GUARD, _GARBAGE, np.uint8)
    arr = buf[GUARD:GUARD + n].view(dtype).reshape(shape).view(ndarray)
    arr._guard = (buf, n)
    return arr


def _guards_intact(a) -> bool:
    """False if a guard zone around ``a``'s allocation was overwritten (True when ``a`` has none)."""
    if a._guard is None:
        return True
    buf, n = a._guard
    lo = buf.ctypes.data
    if not lo <= a.ctypes.data < lo + buf.size:      # a new array that only inherited the attribute
        return True
    return bool(np.all(buf[:GUARD] == _GARBAGE) and np.all(buf[GUARD + n:] == _GARBAGE))


def _is_dev(x) -> bool:
    return isinstance(x, ndarray)


def _to_dev(x):
    """Wrap a NumPy result as a device array (what a CuPy function would return)."""
    if isinstance(x, np.ndarray) and not _is_dev(x):
        return x.view(ndarray)
    if isinstance(x, np.generic):
        return np.asarray(x).view(ndarray)
    return x


def _reject_host(args):
    for a in args:
        if isinstance(a, np.ndarray) and not _is_dev(a):
            raise TypeError("emulated CuPy: a NumPy (host) array was passed to a CuPy function; "
                            "move it to the device with cupy.asarray first")
        if isinstance(a, (tuple, list)):
            _reject_host(a)


def _devfunc(f):
    def g(*args, **kwargs):
        _reject_host(args)
        _reject_host(tuple(kwargs.values()))
        with np.errstate(all="ignore"):       # a GPU raises no floating-point warnings
            return _to_dev(f(*args, **kwargs))
    g.__name__ = f.__name__
    return g


def asarray(a, dtype=None):
    if _is_dev(a) and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    src = np.asarray(a, dtype=dtype)
    out = _alloc(src.shape, src.dtype)
    out[...] = src
    return out


def ascontiguousarray(a, dtype=None):
    if _is_dev(a) and a.flags.c_contiguous and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return asarray(np.ascontiguousarray(np.asarray(a), dtype=dtype))


def empty(shape, dtype=np.float64):
    return _alloc(shape, dtype)      # garbage (NaN) contents, like uninitialised device memory


def zeros(shape, dtype=np.float64):
    out = _alloc(shape, dtype)
    out[...] = 0
    return out


def full(shape, fill_value, dtype=None):
    dtype = np.asarray(fill_value).dtype if dtype is None else dtype
    out = _alloc(shape, dtype)
    out[...] = fill_value
    return out


def asnumpy(a):
    return np.array(a, copy=True).view(np.ndarray)


# --------------------------------------------------------------------------------------------
# RawKernel
# --------------------------------------------------------------------------------------------

PRELUDE = r"""
#include <cmath>
#include <cstring>
using std::sqrt; using std::fabs; using std::fmin; using std::fmax; using std::exp; using std::log;
using std::pow; using std::floor; using std::ceil; using std::isfinite; using std::isnan; using std::isinf;
// NVRTC (CuPy's RawKernel compiler) sees no host headers: the CUDA math functions exist (float and
// double overloads, as above) but the <math.h> macros do not, so they are removed here as well.
#undef INFINITY
#undef NAN
#undef HUGE_VAL
#undef HUGE_VALF
#undef HUGE_VALL
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
struct olc_dim3 { unsigned int x, y, z; };
olc_dim3 blockIdx, threadIdx, blockDim, gridDim;
inline double rsqrt(double v) { return 1.0 / std::sqrt(v); }
inline float rsqrt(float v) { return 1.0f / std::sqrt(v); }
inline float rsqrtf(float v) { return 1.0f / std::sqrt(v); }
inline double __longlong_as_double(long long v) { double r; std::memcpy(&r, &v, 8); return r; }
inline long long __double_as_longlong(double v) { long long r; std::memcpy(&r, &v, 8); return r; }
inline float __int_as_float(int v) { float r; std::memcpy(&r, &v, 4); return r; }
inline int __float_as_int(float v) { int r; std::memcpy(&r, &v, 4); return r; }
extern "C" void olc_set_idx(unsigned int bx, unsigned int by, unsigned int bz, unsigned int tx, unsigned int ty,
                            unsigned int tz, unsigned int nbx, unsigned int nby, unsigned int nbz, unsigned int ntx,
                            unsigned int nty, unsigned int ntz) {
    blockIdx = {bx, by, bz}; threadIdx = {tx, ty, tz}; blockDim = {ntx, nty, ntz}; gridDim = {nbx, nby, nbz};
}
#line 1 "kernel.cu"
"""

# constructs a sequential emulation cannot model (block/warp cooperation), and host-only C++ (headers,
# the std:: library) that NVRTC does not have
_UNSUPPORTED = re.compile(r"__shared__|__syncthreads|__syncwarp|\batomic\w*\s*\(|__shfl\w*|__ballot\w*|"
                          r"__any_sync|__all_sync|__threadfence\w*|cooperative_groups|#\s*include|\bstd::")

_SCALARS = {   # C type → (ctypes type, numpy dtype)
    "double": (ctypes.c_double, np.float64), "float": (ctypes.c_float, np.float32),
    "int": (ctypes.c_int32, np.int32), "unsigned int": (ctypes.c_uint32, np.uint32),
    "long long": (ctypes.c_int64, np.int64), "unsigned long long": (ctypes.c_uint64, np.uint64),
    "short": (ctypes.c_int16, np.int16), "char": (ctypes.c_int8, np.int8),
    "unsigned char": (ctypes.c_uint8, np.uint8), "bool": (ctypes.c_bool, np.bool_),
    "int64_t": (ctypes.c_int64, np.int64), "int32_t": (ctypes.c_int32, np.int32),
}

_cache_dir: str | None = None
_libs: dict = {}


def set_cache_dir(path) -> None:
    """Where compiled kernels (.so) are kept (default: a fresh temporary directory)."""
    global _cache_dir
    _cache_dir = str(path)


def unsupported_constructs(source: str) -> list[str]:
    """Constructs in ``source`` the emulation cannot model: block/warp cooperation (shared memory,
    barriers, atomics, shuffles), ``#include`` and ``std::`` (no host headers under NVRTC)."""
    return sorted(set(m.group(0).rstrip("( \t") for m in _UNSUPPORTED.finditer(_strip_comments(source))))


def _strip_comments(src: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", src, flags=re.S)


class Param(types.SimpleNamespace):
    """One kernel parameter: ``name``, ``ctype`` (scalar type name), ``pointer``, ``const``, ``dtype``."""


def parse_signature(source: str, name: str) -> list[Param]:
    """The parameters of ``extern "C" __global__ void name(...)`` with ``typedef``s resolved."""
    src = _strip_comments(source)
    typedefs = dict((alias, base.strip()) for base, alias in re.findall(r"typedef\s+([\w\s]+?)\s+(\w+)\s*;", src))
    m = re.search(r'extern\s+"C"\s+__global__\s+void\s+' + re.escape(name) + r"\s*\(([^)]*)\)", src)
    if m is None:
        raise EmulatorError(f'no `extern "C" __global__ void {name}(...)` in the kernel source')
    params = []
    for raw in m.group(1).split(","):
        decl = " ".join(raw.replace("*", " * ").split())
        if not decl:
            continue
        toks = decl.split(" ")
        pname = toks[-1]
        toks = [t for t in toks[:-1] if t not in ("__restrict__", "__restrict", "restrict")]
        pointer = toks.count("*")
        const = "const" in toks
        base = " ".join(t for t in toks if t not in ("const", "*"))
        for _ in range(8):
            base = typedefs.get(base, base)
        if base not in _SCALARS:
            raise EmulatorError(f"kernel {name}: parameter {raw.strip()!r} has a type the emulator does not know")
        if pointer > 1:
            raise EmulatorError(f"kernel {name}: pointer-to-pointer parameter {raw.strip()!r} is not supported")
        params.append(Param(name=pname, ctype=base, pointer=bool(pointer), const=const,
                            dtype=np.dtype(_SCALARS[base][1])))
    return params


def _compile(full_source: str):
    key = hashlib.sha256((CXX + " ".join(CXXFLAGS) + full_source).encode()).hexdigest()[:20]
    if key in _libs:
        return _libs[key]
    global _cache_dir
    if _cache_dir is None:
        _cache_dir = tempfile.mkdtemp(prefix="olc-cuda-emu-")
    os.makedirs(_cache_dir, exist_ok=True)
    so = os.path.join(_cache_dir, f"k_{key}.so")
    logfile = so[:-3] + ".log"
    if not (os.path.exists(so) and os.path.exists(logfile)):
        src = os.path.join(_cache_dir, f"k_{key}.cpp")
        with open(src, "w") as f:
            f.write(full_source)
        tmp = so + f".{os.getpid()}.tmp"
        r = subprocess.run([CXX, *CXXFLAGS, src, "-o", tmp], capture_output=True, text=True)
        if r.returncode != 0:
            raise EmulatorError(f"{CXX} failed to compile the kernel source (line numbers: kernel.cu = the "
                                f"source given to RawKernel):\n{r.stderr}")
        with open(logfile, "w") as f:
            f.write(r.stderr)
        os.replace(tmp, so)
    with open(logfile) as f:
        log = f.read()
    lib = ctypes.CDLL(so)
    lib.olc_set_idx.argtypes = [ctypes.c_uint] * 12
    lib.olc_set_idx.restype = None
    _libs[key] = (lib, log)
    return _libs[key]


def _dim3(v, what):
    if isinstance(v, (int, np.integer)):
        v = (v,)
    v = tuple(int(x) for x in v)
    if not 1 <= len(v) <= 3 or any(x < 1 for x in v):
        raise EmulatorError(f"{what}: expected 1-3 positive extents, got {v}")
    return v + (1,) * (3 - len(v))


class RawKernel:
    """``cupy.RawKernel(code, name)`` compiled for the CPU; ``kernel(grid, block, args)`` launches it.

    ``compile_warnings`` holds g++'s warnings for the source (empty when clean or cached).
    ``order_check`` (default True) runs every launch a second time with the threads in reverse
    order from the same starting buffers and requires bit-identical results.
    """

    order_check = True

    def __init__(self, code: str, name: str, options=(), backend="nvrtc", **kwargs):
        bad = unsupported_constructs(code)
        if bad:
            raise EmulatorError(f"kernel {name}: uses {bad}; the CPU emulation runs threads one after another "
                                "(no block/warp cooperation) and mirrors NVRTC (no host headers)")
        self.code, self.name = code, name
        self.params = parse_signature(code, name)
        lib, self.compile_warnings = _compile(PRELUDE + code)
        self._lib = lib
        self._fn = getattr(lib, name)
        self._fn.argtypes = [ctypes.c_void_p if p.pointer else _SCALARS[p.ctype][0] for p in self.params]
        self._fn.restype = None

    # -- argument marshalling (what CuPy does, with the checks CuPy does not do) --------------
    def _marshal(self, args):
        if not isinstance(args, tuple):
            raise TypeError(f"kernel {self.name}: args must be a tuple (CuPy's RawKernel signature), "
                            f"got {type(args).__name__}")
        if len(args) != len(self.params):
            raise EmulatorError(f"kernel {self.name}: {len(self.params)} parameters, {len(args)} arguments")
        cargs, arrays = [], []
        for i, (p, a) in enumerate(zip(self.params, args)):
            where = f"kernel {self.name}, argument {i} ({p.ctype}{'*' if p.pointer else ''} {p.name})"
            if p.pointer:
                if isinstance(a, np.ndarray) and not _is_dev(a):
                    raise TypeError(f"{where}: a NumPy (host) array; CuPy kernels take device arrays")
                if not _is_dev(a):
                    raise TypeError(f"{where}: expected a device array, got {type(a).__name__}")
                if a.dtype != p.dtype:
                    raise TypeError(f"{where}: array dtype {a.dtype} but the kernel reads {p.dtype} "
                                    "(CuPy would pass the pointer and the kernel would misread it)")
                if not a.flags.c_contiguous:
                    raise TypeError(f"{where}: array is not C-contiguous (CuPy passes the data pointer, "
                                    "the kernel would index it as contiguous)")
                cargs.append(a.ctypes.data)
                arrays.append((p, a))
            else:
                if isinstance(a, np.ndarray):
                    raise TypeError(f"{where}: got an array for a scalar parameter")
                if isinstance(a, np.generic):
                    if a.dtype != p.dtype:
                        raise TypeError(f"{where}: NumPy scalar of dtype {a.dtype}; CuPy passes it as that "
                                        f"type, so the kernel's {p.ctype} would be misread (use np.{p.dtype}(...))")
                    cargs.append(_SCALARS[p.ctype][0](a.item()))
                elif isinstance(a, (bool, int, float, complex)):
                    raise TypeError(f"{where}: plain Python {type(a).__name__} {a!r}; CuPy marshals Python "
                                    "scalars as 64-bit long long/double/bool whatever the kernel declares, so "
                                    f"wrap it: np.{p.dtype}({a!r})")
                else:
                    raise TypeError(f"{where}: unsupported argument type {type(a).__name__}")
        return cargs, arrays

    def _run(self, grid, block, cargs, reverse=False):
        idx = [(bx, by, bz, tx, ty, tz)
               for bz in range(grid[2]) for by in range(grid[1]) for bx in range(grid[0])
               for tz in range(block[2]) for ty in range(block[1]) for tx in range(block[0])]
        if reverse:
            idx.reverse()
        set_idx, fn = self._lib.olc_set_idx, self._fn
        for i in idx:
            set_idx(*i, *grid, *block)
            fn(*cargs)

    def __call__(self, grid, block, args, *, shared_mem=0, **kwargs):
        grid, block = _dim3(grid, "grid"), _dim3(block, "block")
        if block[0] > 1024 or block[1] > 1024 or block[2] > 64 or block[0] * block[1] * block[2] > 1024:
            raise EmulatorError(f"kernel {self.name}: block {block} exceeds CUDA's limits (1024 threads; "
                                "x, y <= 1024, z <= 64)")
        if grid[0] > 2 ** 31 - 1 or grid[1] > 65535 or grid[2] > 65535:
            raise EmulatorError(f"kernel {self.name}: grid {grid} exceeds CUDA's limits")
        if shared_mem:
            raise EmulatorError(f"kernel {self.name}: dynamic shared memory is not emulated")
        cargs, arrays = self._marshal(args)
        writable = [(p, a) for p, a in arrays if not p.const]
        before = {id(a): np.array(a) for _, a in arrays} if self.order_check else None
        self._run(grid, block, cargs)
        for p, a in arrays:
            if not _guards_intact(a):
                raise EmulatorError(f"kernel {self.name}: wrote outside the buffer passed as {p.name!r}")
            if p.const and before is not None and not np.array_equal(a.view(np.uint8), before[id(a)].view(np.uint8)):
                raise EmulatorError(f"kernel {self.name}: modified the const argument {p.name!r}")
        if self.order_check:
            first = {id(a): np.array(a) for _, a in writable}
            for _, a in writable:
                a[...] = before[id(a)]
            self._run(grid, block, cargs, reverse=True)
            for p, a in writable:
                if not np.array_equal(a.view(np.uint8), first[id(a)].view(np.uint8)):
                    raise EmulatorError(f"kernel {self.name}: {p.name!r} depends on the order the threads run in "
                                        "(threads read or write each other's data)")


# --------------------------------------------------------------------------------------------
# the module object
# --------------------------------------------------------------------------------------------

def fake_cupy() -> types.ModuleType:
    """A ``cupy`` stand-in with the functions ``olc.kernels.cupy_gpu`` uses."""
    cp = types.ModuleType("cupy", "CPU emulation of the CuPy API subset used by olc.kernels.cupy_gpu")
    cp.ndarray = ndarray
    cp.RawKernel = RawKernel
    for f in (asarray, ascontiguousarray, empty, zeros, full, asnumpy):
        setattr(cp, f.__name__, f)
    for nm in ("float64", "float32", "int64", "int32", "bool_", "uint8", "inf", "nan", "dtype"):
        setattr(cp, nm, getattr(np, nm))
    for nm in ("matmul", "max", "min", "abs", "isfinite", "where", "sqrt", "maximum", "minimum", "sum"):
        setattr(cp, nm, _devfunc(getattr(np, nm)))
    cp.linalg = types.SimpleNamespace(eigvalsh=_devfunc(np.linalg.eigvalsh), eigh=_devfunc(np.linalg.eigh),
                                      norm=_devfunc(np.linalg.norm))
    cp.is_available = lambda: True
    return cp
