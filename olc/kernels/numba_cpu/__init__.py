"""Numba CPU kernels (serial ``@njit(cache=True, nogil=True)`` kernels over a range of systems,
run in parallel by a small pool of Python threads).

Same signatures and return values as :mod:`olc.kernels.reference` (the semantics); this module is imported only when the
``numba`` backend is used, and every kernel compiles lazily on its first call (then loads from numba's on-disk cache).

Threads: every kernel takes a ``[lo, hi)`` range of systems (grid points, start rows) and releases the GIL;
:func:`_run` splits the batch into chunks and runs them on a ``ThreadPoolExecutor`` of :func:`get_num_threads`
threads. No ``parallel=True`` / ``prange``: the parfor pipeline made cold compilation 5-10× slower, and OpenMP worker
threads spinning after a parallel region fought with OpenBLAS' threads in the BLAS-batched LTI path. The pool's idle
threads block (no spinning), and BLAS called from a kernel runs single-threaded (its problem is kept under OpenBLAS'
multithreading threshold).

Layout: system-major. Each thread owns whole systems and streams one system's trajectory (``W[b]``, ``A[b]``,
``costs[b]`` are contiguous), which keeps the working set of a system in registers/L1 and lets the hardware prefetcher
stream the inputs. The one exception is a *shared* LTI system with a large state (d ≥ 16), where blocks of systems
step together: one BLAS ``gemm`` per step (``beta = 1`` fuses the disturbance and open-loop control) on an L2-resident
block buffer, with one vectorised pass per row every few steps for the costs and the next steps' disturbances (see
:func:`_lti_gemm_range`; no full transposition of ``W``).

Small fixed dimensions: the rollout and GPC kernels take the state/control dimensions either from the arrays (generic
code, compiled once per dtype) or, for large problems with d ≤ 8 and m ≤ 8, as the *length of a tuple argument* — a
compile-time constant, so LLVM fully unrolls the tiny matrix-vector products. Each such (d, m) compiles its own
specialisation on first use (then it is cached on disk).

Modules, one per kernel family (a jitted function calls jitted code of its own module only: numba's cache tracks a
function's own file, so a cross-module call could load stale code): ``_pool`` (threads, :func:`_run`), ``rollouts``
(:func:`rollout`: per-system, DFC and BLAS-batched LTI kernels), ``gpc`` (:func:`gpc_rollout` and its projections),
``intervals`` (:func:`interval_norms`), ``grid`` (:func:`optimizer_grid`).
"""

from __future__ import annotations

from ._pool import get_num_threads, set_num_threads
from .gpc import gpc_rollout
from .grid import optimizer_grid
from .intervals import interval_norms
from .rollouts import rollout

__all__ = ["rollout", "gpc_rollout", "interval_norms", "optimizer_grid", "set_num_threads", "get_num_threads"]
