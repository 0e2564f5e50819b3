"""Thread pool and dispatch helpers shared by the numba kernel families (see the package docstring)."""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..._validate import positive_int
from ...errors import InvalidArgumentError

_SPECIALISE_MAX_DIM = 8           # d, m ≤ this: compile-time-constant dimensions ...
_SPECIALISE_MIN_WORK = 1 << 18    # ... when B·T (system-steps) is at least this
_OPENBLAS_MT_THRESHOLD = 262144   # OpenBLAS runs a gemm with M·N·K below this single-threaded
# reassociation/contraction only (no nnan/ninf: the NaN/Inf checks must survive). Under
# reassoc LLVM may cancel ``s - s`` to 0 (it did, in the GPC kernel), so every finiteness
# check is a comparison ``abs(s) < np.inf`` (false for ±inf and NaN), never arithmetic.
_FM = {"reassoc", "contract", "nsz"}



def _default_threads() -> int:
    env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


_nthreads = _default_threads()
_pool: ThreadPoolExecutor | None = None


def set_num_threads(n: int) -> int:
    """Set how many threads the numba kernels use; returns the previous value.

    Parameters
    ----------
    n : int
        Threads (default: ``$NUMBA_NUM_THREADS`` or the CPUs this process may run on).
    """
    global _nthreads, _pool
    n = positive_int(n, "n")
    if n > 4096:
        raise InvalidArgumentError(f"n: expected a number of threads in 1..4096 (this machine has "
                                   f"{_default_threads()} usable CPUs), got {n}")
    prev, _nthreads = _nthreads, n
    if _pool is not None and _pool._max_workers != n:       # noqa: SLF001
        _pool.shutdown(wait=True)
        _pool = None
    return prev


def get_num_threads() -> int:
    """Number of threads the numba kernels use."""
    return _nthreads


_MIN_WORK = 2e5   # inner-loop iterations per thread below which a call runs inline


def _run(kernel, n: int, work: float, *args, min_work: float | None = None, chunks_per_thread: int = 4):
    """Call ``kernel(lo, hi, *args)`` over ``[0, n)``, split across the thread pool.

    ``work`` is a rough cost of the whole call (inner-loop iterations); calls cheaper than
    ``min_work`` per thread, or a single thread, run inline in the calling thread.
    """
    global _pool
    min_work = _MIN_WORK if min_work is None else min_work
    nt = int(min(_nthreads, n, max(1.0, work / min_work)))
    if nt <= 1:
        kernel(0, n, *args)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_nthreads, thread_name_prefix="olc-numba")
    nchunks = min(n, nt * chunks_per_thread)
    bounds = np.linspace(0, n, nchunks + 1).astype(np.int64)
    futs = [_pool.submit(kernel, int(bounds[i]), int(bounds[i + 1]), *args) for i in range(nchunks)]
    for f in futs:
        f.result()


def _dims(d: int, m: int, work: int):
    """``(dd, mm)`` tuples whose lengths fix d, m at compile time, or ``((), ())`` (generic)."""
    if work >= _SPECIALISE_MIN_WORK and d <= _SPECIALISE_MAX_DIM and m <= _SPECIALISE_MAX_DIM:
        return (0,) * d, (0,) * m
    return (), ()


def _nan_tail(first_bad, *arrays):
    """NaN from each diverged system's step ``first_bad[b]`` on, in every array given (None: skipped)."""
    for b in np.flatnonzero(first_bad >= 0):
        for a in arrays:
            if a is not None:
                a[b, first_bad[b]:] = np.nan


def _is_diag(Q):
    return bool(np.all(Q == np.diag(np.diag(Q))))

