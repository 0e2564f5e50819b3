"""Interval norms ``‖A_s ⋯ A_r‖₂`` of an LTV operator, with certified lower and residual upper bounds.

The matrix-free half of the sequential-stability analysis (``nonconvex-meta-optimization``
Definition 3; :func:`olc.systems.sequential_stability` calls it for operators). Every norm is
bracketed, ``lower ≤ ‖A_s ⋯ A_r‖ ≤ upper``:

* ``lower`` is ``‖P v‖`` for an explicit unit vector ``v`` (a Ritz vector or a combination of probes): certified;
* ``upper`` is the Golub–Kahan–Lanczos residual bound (:class:`~olc.systems.krylov.GKL`) or the product of the upper
  bounds of two sub-intervals, ``‖A_s⋯A_r‖ ≤ ‖A_s⋯A_{m+1}‖ ‖A_m⋯A_r‖``, whichever is smaller.

**Plans.**

* ``"exact"`` — one GKL job per interval, run to the relative gap ``rtol``. Jobs are grouped by start ``r`` (processed
  from the last start to the first) and run in lockstep: one forward sweep ``t = r, r+1, …`` pushes the current vector of
  *every* job of the group through ``A_t`` in one batched call (one vmapped Hessian-vector product call for a network),
  one backward sweep through the ``A_tᵀ``. Each job starts from the left singular vector of ``(r+1, s)`` (``A_s⋯A_{r+1}``
  and ``A_s⋯A_r`` share their output side; a random component is added), which is why a few iterations suffice. Work:
  about ``2 k |I|`` operator applications per interval for ``k`` iterations, ``O(k T³/3)`` in all.
* ``"sweep"`` (for large ``T``) — (1) GKL on every single step ``A_t``; (2) a randomised block sweep: per start ``r`` a
  block of ``probes`` orthonormal probes is pushed forward through ``A_r, A_{r+1}, …`` once, and after each step the
  largest singular value of the pushed block is a certified lower bound for that interval (``O(T · max_length · probes)``
  applications in all); (3) upper bounds for every interval from the sub-interval products; (4) refinement: GKL on the
  intervals a ``select`` callback names — the ones that can still change ``κ`` (:func:`~olc.systems.sequential_stability`
  passes it) — until none is left or ``max_refine`` intervals have been refined.

``status`` says what each entry is: ``CONVERGED`` (GKL reached the gap), ``BOUNDED`` (GKL stopped
at ``max_iter`` first; the bounds hold, the gap is wider), ``ESTIMATED`` (a probe lower bound and a
sub-interval upper bound only); ``EXACT`` is used by the dense path.

``block`` restricts every norm to a coordinate block, ``‖E_Bᵀ A_s⋯A_r E_B‖`` (the parameter block ``x_t`` of the
optimization LTV, where the √2 floor of the full state is absent). A restricted product is not the product of
restricted factors, so its upper bounds come from its own GKL residual and from the full product's upper bound
(``‖E_Bᵀ P E_B‖ ≤ ‖P‖``), never from sub-interval products of restricted norms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .._validate import as_rng, check_choice, positive_int
from ..errors import InvalidArgumentError
from .krylov import GKL
from .operators import LTVOperator

__all__ = ["IntervalBounds", "interval_bounds", "EXACT", "CONVERGED", "BOUNDED", "ESTIMATED", "STATUS_NAMES"]

EXACT, CONVERGED, BOUNDED, ESTIMATED = 3, 2, 1, 0
STATUS_NAMES = {EXACT: "exact", CONVERGED: "converged", BOUNDED: "bounded", ESTIMATED: "estimated"}
PLANS = ("auto", "exact", "sweep")
EXACT_MAX_T = 32                       # plan="auto": exact up to this many steps (all T(T+1)/2 intervals)


@dataclass
class IntervalBounds:
    """Bounds on every interval norm: ``log_lower``, ``log_upper`` ``(T, L)`` (``[r, l−1]`` is the interval
    ``A_r..A_{r+l−1}``; NaN past the end), ``status`` (codes above, −1 past the end), ``iterations`` (GKL iterations
    per interval), ``witness`` (length ``l`` → ``(r, v)``: the unit vector ``v`` attaining the largest lower bound
    among intervals of that length), ``applications`` (vectors pushed through some ``A_t`` or ``A_tᵀ``), ``seconds``.

    Parameters
    ----------
    log_lower, log_upper, status, iterations : ndarray
    plan : str
    rtol, seconds : float
    applications, refined : int
        ``refined``: the intervals refined by the sweep plan.
    witness : dict
    """

    log_lower: np.ndarray
    log_upper: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    plan: str
    rtol: float
    applications: int = 0
    seconds: float = 0.0
    witness: dict = field(default_factory=dict)
    refined: int = 0

    def counts(self) -> dict:
        """How many intervals have each status (by name)."""
        return {name: int(np.sum(self.status == code)) for code, name in STATUS_NAMES.items()}


def _push(op: LTVOperator, jobs, direction: str):
    """Push ``job.vec`` of every job through its chain (``A_r … A_s`` forward, ``A_sᵀ … A_rᵀ`` backward; restricted to
    ``job.block`` when it has one), all jobs alive at step ``t`` in one batched call; returns the results."""
    r = np.array([j.r for j in jobs])
    s = np.array([j.s for j in jobs])
    sls = [slice(None) if j.block is None else j.block for j in jobs]
    cur = np.zeros((len(jobs), op.dim))
    fwd = direction == "fwd"
    steps = range(r.min(), s.max() + 1) if fwd else range(s.max(), r.min() - 1, -1)
    for t in steps:
        for i in np.flatnonzero((r if fwd else s) == t):
            cur[i, sls[i]] = jobs[i].vec
        idx = np.flatnonzero((r <= t) & (s >= t))
        cur[idx] = op.apply(t, cur[idx]) if fwd else op.apply_T(t, cur[idx])
    return [cur[i, sl] for i, sl in enumerate(sls)]


def _drive(op, jobs, bar=None):
    """Run GKL jobs to completion in lockstep (batched forward and backward sweeps)."""
    active = list(jobs)
    while active:
        for direction in ("fwd", "bwd"):
            batch = [j for j in active if j.need == direction]
            if batch:
                for j, y in zip(batch, _push(op, batch, direction)):
                    j.give(y)
        done = [j for j in active if j.need is None]
        active = [j for j in active if j.need is not None]
        if bar is not None and done:
            bar.update(len(done))


def _job(dim, r, s, block, kw, bidx=0, **start):
    j = GKL(dim, **start, **kw)
    j.r, j.s, j.block, j.bidx = r, s, block, bidx
    return j


def _record(out: IntervalBounds, job):
    ell = job.s - job.r + 1
    with np.errstate(divide="ignore"):
        lo, hi = np.log(job.lower), np.log(job.upper)
    out.log_lower[job.r, ell - 1] = max(out.log_lower[job.r, ell - 1], lo) if out.status[job.r, ell - 1] >= 0 else lo
    out.log_upper[job.r, ell - 1] = min(out.log_upper[job.r, ell - 1], hi) if out.status[job.r, ell - 1] >= 0 else hi
    out.status[job.r, ell - 1] = CONVERGED if job.converged else BOUNDED
    out.iterations[job.r, ell - 1] += job.iterations
    _offer_witness(out, ell, job.r, lo, job.right_vector)


def _offer_witness(out, ell, r, lo, vector):
    best = out.witness.get(ell)
    if best is None or lo > best[2]:
        out.witness[ell] = (int(r), vector() if callable(vector) else vector, float(lo))


def subinterval_upper(log_upper: np.ndarray) -> np.ndarray:
    """Tighten upper bounds by ``‖A_s⋯A_r‖ ≤ ‖A_s⋯A_{r+j}‖ ‖A_{r+j−1}⋯A_r‖`` over splits ``j``
    (in logs; ``inf`` = unknown). All splits up to length 64, a geometric set of splits beyond."""
    out = np.array(log_upper, dtype=np.float64)
    T, L = out.shape
    for ell in range(2, L + 1):
        n = T - ell + 1
        if ell <= 64:
            js = np.arange(1, ell)
        else:
            js = np.unique(np.concatenate([np.arange(1, 9), ell - np.arange(1, 9),
                                           np.geomspace(1, ell - 1, 24).astype(int)]))
            js = js[(js >= 1) & (js < ell)]
        rows = np.arange(n)[:, None]
        cand = out[rows, js[None, :] - 1] + out[rows + js[None, :], (ell - js - 1)[None, :]]
        with np.errstate(invalid="ignore"):
            out[:n, ell - 1] = np.fmin(out[:n, ell - 1], np.nanmin(cand, axis=1))
    return out


def _blank(T, L, plan, rtol):
    valid = np.add.outer(np.arange(T), np.arange(1, L + 1)) <= T
    lo = np.where(valid, -np.inf, np.nan)
    hi = np.where(valid, np.inf, np.nan)
    return IntervalBounds(lo, hi, np.where(valid, -1, -2).astype(np.int8), np.zeros((T, L), dtype=np.int32),
                          plan, rtol)


def interval_bounds(op: LTVOperator, max_length: int | None = None, *, block=None, plan: str = "auto",
                    rtol: float = 1e-3, probes: int = 8, max_iter: int = 60, min_iter: int = 8, seed=0,
                    select=None, max_refine: int | None = None, memory: float = 512 * 2 ** 20, bar=None):
    """Bounds on ``‖A_{r+l−1} ⋯ A_r‖`` for every interval of length ``l ≤ max_length`` (module docstring).

    Parameters
    ----------
    op : LTVOperator (see :func:`~olc.systems.as_ltv_operator`).
    block : None, a slice of the state coordinates (norms of the restricted products), or a list
        of those: then a list of results, computed in the same batched sweeps (``plan="exact"``).
    max_length : int, optional (default ``T``).
    plan : ``"exact"``, ``"sweep"`` or ``"auto"`` (exact for ``T <= 32``).
    rtol : relative gap ``upper/lower − 1`` at which a GKL job stops.
    probes : block size of the randomised sweep.
    max_iter, min_iter : GKL iteration limits per interval.
    seed : int or Generator for the random probes and start vectors.
    select : ``select(bounds) -> [(r, l), ...]``, the intervals to refine next (sweep plan).
    max_refine : at most this many refinements (default ``4 T``).
    memory : bytes for the Krylov bases of the jobs run together (the exact plan runs as many
        starts ``r`` together as fit: larger batches of products, fewer calls).
    bar : a tqdm-like progress bar (``update(n)``; its ``total`` is set here).
    """
    if not isinstance(op, LTVOperator):
        raise InvalidArgumentError(f"op: expected an LTVOperator (see as_ltv_operator), got {type(op).__name__}")
    many = isinstance(block, (list, tuple))
    blocks = list(block) if many else [block]
    if None in blocks and blocks[0] is not None:
        raise InvalidArgumentError("block: list the full norms (None) first")
    T = op.T
    L = T if max_length is None else min(positive_int(max_length, "max_length"), T)
    plan = check_choice(plan, "plan", PLANS)
    if plan == "auto":
        plan = "exact" if T <= EXACT_MAX_T else "sweep"
    rng = as_rng(seed)
    dims = [op.dim if b is None else b.stop - b.start for b in blocks]
    outs = [_blank(T, L, plan, float(rtol)) for _ in blocks]
    t0, apps0 = time.perf_counter(), op.applications
    kw = dict(rtol=rtol, max_iter=max_iter, min_iter=min_iter, seed=rng)
    if bar is not None:
        n_int = int(np.sum(outs[0].status == -1))
        bar.total = (bar.total or 0) + (len(blocks) * n_int if plan == "exact" else 2 * T * len(blocks))
        bar.refresh()
    if plan == "exact":
        per_job = 2 * 8.0 * (min_iter + 24) * max(dims)     # two bases of ~25 vectors
        per_start = max(1.0, per_job * L * len(blocks))
        group = int(max(1, min(T, memory // per_start)))
        left: dict[tuple[int, int], np.ndarray] = {}
        for hi in range(T, 0, -group):
            jobs = [_job(dims[b], r, s, blocks[b], kw, b, left_start=left.get((b, s)))
                    for b in range(len(blocks)) for r in range(hi - 1, max(hi - group, 0) - 1, -1)
                    for s in range(r, min(T, r + L))]
            _drive(op, jobs, bar)
            for j in sorted(jobs, key=lambda j: -j.r):     # the smallest start last: its left vectors stay
                _record(outs[j.bidx], j)
                left[(j.bidx, j.s)] = j.left_vector()
    full = None
    for b, out in enumerate(outs):
        if plan == "sweep":
            _sweep_plan(op, out, L, blocks[b], dims[b], probes, rng, kw, select, max_refine, bar, full)
        elif blocks[b] is None:
            out.log_upper = subinterval_upper(out.log_upper)
        elif full is not None:         # ||E^T P E|| <= ||P||; sub-interval products do not bound a block
            out.log_upper = np.fmin(out.log_upper, full.log_upper)
        if blocks[b] is None:
            full = out
    for out in outs:
        out.applications = op.applications - apps0
        out.seconds = time.perf_counter() - t0
    return outs if many else outs[0]


def _sweep_plan(op, out, L, block, dim, probes, rng, kw, select, max_refine, bar, full=None):
    T = op.T

    def tighten(hi):
        if block is None:
            return subinterval_upper(hi)
        # a restricted product is bounded by the full product's norm, not by products of restricted ones
        return hi if full is None else np.fmin(hi, full.log_upper)

    jobs = [_job(dim, t, t, block, kw) for t in range(T)]     # (1) every single step
    _drive(op, jobs, bar)
    for j in jobs:
        _record(out, j)
    _probe_sweep(op, out, L, block, dim, positive_int(probes, "probes"), rng, bar)   # (2)
    out.log_upper = tighten(out.log_upper)                                           # (3)
    budget = 4 * T if max_refine is None else int(max_refine)
    while select is not None and out.refined < budget:                               # (4)
        todo = [(r, ell) for r, ell in select(out) if out.status[r, ell - 1] < CONVERGED][: budget - out.refined]
        if not todo:
            break
        if bar is not None:
            bar.total += len(todo)
            bar.refresh()
        jobs = [_job(dim, r, r + ell - 1, block, kw) for r, ell in todo]
        _drive(op, jobs, bar)
        for j in jobs:
            _record(out, j)
        out.refined += len(jobs)
        out.log_upper = tighten(out.log_upper)


def _probe_sweep(op, out, L, block, dim, k, rng, bar, max_rows: int = 256):
    """Randomised block sweep: for every start ``r`` push ``k`` orthonormal probes through
    ``A_r, A_{r+1}, …`` once; ``σ_max`` of the pushed block lower-bounds every interval ``(r, s)``."""
    T = op.T
    k = min(k, dim)
    sl = slice(None) if block is None else block
    per = max(1, max_rows // k)                            # starts per chunk
    for r0 in range(0, T, per):
        starts = np.arange(r0, min(T, r0 + per))
        omegas = [np.linalg.qr(rng.standard_normal((dim, k)))[0].T for _ in starts]   # (k, dim) orthonormal rows
        cur = np.zeros((starts.size * k, op.dim))
        for t in range(starts[0], min(T, starts[-1] + L)):
            for i in np.flatnonzero(starts == t):
                cur[i * k:(i + 1) * k, sl] = omegas[i]
            live = np.flatnonzero((starts <= t) & (t < starts + L))
            rows = (live[:, None] * k + np.arange(k)[None, :]).ravel()
            cur[rows] = op.apply(t, cur[rows])
            for i in live:
                Y = cur[i * k:(i + 1) * k, sl]
                w, C = np.linalg.eigh(Y @ Y.T)
                r, ell = int(starts[i]), int(t - starts[i] + 1)
                with np.errstate(divide="ignore"):
                    lo = 0.5 * np.log(max(w[-1], 0.0))
                if out.status[r, ell - 1] < 0 or lo > out.log_lower[r, ell - 1]:
                    out.log_lower[r, ell - 1] = lo
                if out.status[r, ell - 1] < 0:
                    out.status[r, ell - 1] = ESTIMATED
                _offer_witness(out, ell, r, lo, lambda C=C, om=omegas[i]: C[:, -1] @ om)
        if bar is not None:
            bar.update(starts.size)
