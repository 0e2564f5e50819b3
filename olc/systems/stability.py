"""Sequential stability of an LTV sequence ``A_1..A_T`` (measure it, check it, plot it).

``nonconvex-meta-optimization``, Definition 3: the system is **(kappa, gamma) sequentially
stable** if for every interval ``I = [r, s]``

    ``|| A_s A_{s-1} ... A_r ||  <=  kappa^2 (1 - gamma)^{|I|}``.

Convention used throughout olc: **|I| = s - r + 1, the number of matrices in the product** (so a single matrix,
``r = s``, has ``|I| = 1`` and must satisfy ``||A_r|| <= kappa^2 (1-gamma)``). Indices here are 0-based: an interval
``(r, s)`` covers ``A_r..A_s`` (the paper's ``[r+1, s+1]``). The norm is the spectral norm (largest singular value).
Assumption 2 of the paper additionally asks ``kappa >= 1``; :attr:`SequentialStability.kappa` reports the smallest
``kappa`` satisfying the definition, which may be below 1 — use ``max(kappa, 1)`` for the assumption.

Fig. 3 of the paper plots ``||prod A_t||`` against the interval length (averaged over trials); :func:`plot_decay` draws
the same picture (worst case and mean over intervals of each length, plus the fitted bound ``kappa^2 (1-gamma)^{|I|}``).

The work is in :func:`interval_norms` — the norm of every interval product with length up to ``max_length``: O(T *
max_length) matrix products, vectorised over start indices — which the numba/CuPy kernels mirror.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .._validate import as_array, as_rng, check_alloc, check_choice, in_range, nonnegative, positive, positive_int
from ..errors import (
    BackendUnavailableError,
    DivergenceError,
    InvalidArgumentError,
    NonFiniteError,
    ResourceError,
    ShapeError,
)
from .linear import LinearSystem

__all__ = ["interval_norms", "sequential_stability", "SequentialStability", "plot_decay", "plot_kappa_gamma",
           "plot_steps", "draw_decay", "draw_kappa_gamma", "draw_steps"]

NORMS = ("spectral", "power", "fro")


def _as_matrix_stack(As, T=None) -> np.ndarray:
    if callable(getattr(As, "A", None)):         # a system object with A(t) (LinearSystem or alike)
        horizon = T if T is not None else getattr(As, "horizon", None) or getattr(As, "T", None)
        if horizon is None:
            raise InvalidArgumentError("T: the system has no finite horizon; give the number of steps T")
        horizon = positive_int(horizon, "T")
        if isinstance(As, LinearSystem):
            return np.ascontiguousarray(As.matrices(horizon)[0], dtype=np.float64)
        return as_array(np.stack([As.A(t) for t in range(horizon)]), "As.A(t)", ndim=3)
    As = as_array(As, "As", ndim=3)
    if As.shape[1] != As.shape[2]:
        raise ShapeError(f"As: expected a stack of square matrices (T, d, d), got shape {As.shape}")
    if As.shape[0] == 0:
        raise ShapeError("As: expected at least one matrix, got an empty stack")
    if T is not None:
        T = positive_int(T, "T")
        if T > As.shape[0]:
            raise ShapeError(f"T: the stack has {As.shape[0]} matrices, got T={T}")
        As = As[:T]
    return As


def interval_norms(As, max_length: int | None = None, *, norm: str = "spectral", log: bool = False,
                   seed=0, power_iters: int = 20, backend: str | None = None, block: slice | None = None,
                   time_limit: float | None = 300.0, progress=None) -> np.ndarray:
    """Norms of all interval products: ``out[r, l-1] = ||A_{r+l-1} ... A_{r+1} A_r||``.

    Parameters
    ----------
    As : array (T, d, d)
    max_length : int, optional
        Longest interval length computed (default ``T``).
    norm : ``"spectral"`` (exact, via SVD), ``"power"`` (power iteration on ``P^T P``, seeded,
        warm-started from the previous length; a lower bound converging to the spectral norm)
        or ``"fro"`` (Frobenius, an upper bound on the spectral norm).
    log : bool
        Return natural logs of the norms (no overflow/underflow for long products).
    seed, power_iters : int or numpy.random.Generator, int
        The start vectors and iteration count of ``norm="power"``.
    backend : None (default: this numpy code), or "numba", "cupy", "auto"
        Exact spectral norms through :func:`olc.kernels.interval_norms` (parallel over start indices; plain products,
        so an overflowing product reads ``inf``). Only with ``norm="spectral"``.
    block : slice, optional
        Norms of the restricted products ``(A_{r+l-1} ... A_r)[block, block]`` instead (numpy, ``norm="spectral"``).
    time_limit : seconds or None
        The run is estimated first (a calibration on a few matrices of this size); above ``time_limit`` a
        :class:`~olc.errors.ResourceError` names the estimate and the alternatives instead of starting (None: no
        limit). The memory of the numpy code (about ``4 T d²`` floats) is checked before allocating.
    progress : None (a bar when the estimate exceeds 10 s), True, False, or a factory
        ``progress(total, desc)``; numpy code only (a kernel is one call).

    Returns
    -------
    array (T, max_length); entries whose interval runs past ``T`` (``r + l > T``) are NaN, an
    exactly zero product reads 0 (``-inf`` with ``log=True``). Without ``log``, a norm beyond
    the float64 range (about 1.8e308) reads ``inf`` — the same marker as the kernels; with
    ``log=True`` the numpy code returns its exact (finite) log instead.

    For each length ``l`` the products of all start indices are advanced together,
    ``P_r <- A_{r+l-1} P_r`` (one batched matmul per length), and renormalised by their
    Frobenius norm, whose log is accumulated separately: numerically this is the plain
    product ``A_{r+l-1} ... A_r`` with its scale kept in log form. Each ``A_t`` is divided by
    ``max|A_t|`` and each Frobenius norm is taken as ``c ||P / c||_F`` with ``c = max|P|``, so
    entries like ``1e200`` or ``1e-200`` (whose squares over/underflow) are measured exactly.
    O(T * max_length) matrix products in all.
    """
    As = _as_matrix_stack(As)
    T, d, _ = As.shape
    L = T if max_length is None else min(positive_int(max_length, "max_length"), T)
    check_choice(norm, "norm", NORMS)
    kernel = backend is not None and backend != "numpy"
    if block is not None:
        from .operators import _as_block

        block = _as_block(block, d)
        if norm != "spectral" or kernel:
            raise InvalidArgumentError(f"block: restricted norms are computed by the numpy code with "
                                       f"norm='spectral' (got norm={norm!r}, backend={backend!r})")
    if time_limit is not None:
        time_limit = positive(time_limit, "time_limit")
    check_alloc(8.0 * (T * L + (T * d * d if kernel else 4 * T * d * d)),
                f"interval_norms(As of shape {As.shape}): the dense interval products",
                "use the operator path (sequential_stability(..., method='operator'): Krylov bounds from "
                "products with A_t, O(T d) memory) or max_length")
    est = _dense_seconds(As, L, norm, backend, power_iters) if (time_limit is not None or progress is None) else None
    if time_limit is not None and est is not None and est > time_limit:
        n_int = int(L * (T + 1) - L * (L + 1) // 2)
        alt = "" if kernel else _numba_alternative(As, L)
        raise ResourceError(
            f"interval_norms: the dense interval norms of T={T} matrices of size d={d} ({n_int:,} intervals up to "
            f"|I|={L}, norm={norm!r}, backend={backend!r}) are estimated at {_fmt_seconds(est)} on this machine "
            f"(time_limit={time_limit:g} s). Pass time_limit=None to run it anyway (a progress bar shows the "
            f"ETA){alt}, max_length=... for the short intervals only, or the operator path "
            "(sequential_stability(..., method='operator'): Krylov bounds, plan='sweep' for large T)")
    if kernel:
        if norm != "spectral":
            raise InvalidArgumentError(f"backend: the {backend!r} kernel computes spectral norms only, got norm={norm!r}")
        from .. import kernels

        out = kernels.interval_norms(As, L, backend=backend)
        if log:
            with np.errstate(divide="ignore"):
                return np.log(out)
        return out
    out = np.full((T, L), np.nan)
    # Every A_t is first divided by c_t = max|A_t| (log c_t kept), and every running product by
    # its Frobenius norm, itself taken as c * ||P / c||_F with c = max|P| (as the kernels do):
    # squaring entries of 1e200 (or 1e-200) would overflow (underflow) and turn the norms into
    # NaN (or 0). So nothing here overflows; the exact norm is exp(out).
    cA = np.max(np.abs(As), axis=(1, 2))
    cA = np.where(cA > 0, cA, 1.0)
    logcA = np.log(cA)
    As = As / cA[:, None, None]
    logscale = np.zeros(T)
    P = As.copy()
    v = None
    if norm == "power":
        power_iters = positive_int(power_iters, "power_iters")
        v = as_rng(seed).standard_normal((T, d))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    bar = _progress_bar(progress, est, int(L * (T + 1) - L * (L + 1) // 2), "interval norms (dense)")
    blk = slice(None) if block is None else block
    with bar, np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        for ell in range(1, L + 1):
            n = T - ell + 1                      # start indices r = 0..T-l have a full interval
            if ell > 1:
                P = np.matmul(As[ell - 1:], P[:n])
            c = np.max(np.abs(P), axis=(1, 2))
            nz = c > 0
            c = np.where(nz, c, 1.0)
            P = P / c[:, None, None]
            s = np.sqrt(np.einsum("rij,rij->r", P, P))
            P[nz] /= s[nz, None, None]
            logscale = logscale[:n] + logcA[ell - 1:] + np.where(nz, np.log(c) + np.log(s), -np.inf)
            if norm == "spectral":
                lognorm = np.log(np.linalg.norm(P[:, blk, blk], 2, axis=(1, 2)))
            elif norm == "fro":
                lognorm = np.where(nz, 0.0, -np.inf)
            else:
                v = v[:n]
                for _ in range(power_iters):
                    v = np.einsum("rji,rj->ri", P, np.einsum("rij,rj->ri", P, v))
                    vn = np.linalg.norm(v, axis=1, keepdims=True)
                    v = np.where(vn > 0, v / np.where(vn > 0, vn, 1.0), v)
                lognorm = np.log(np.linalg.norm(np.einsum("rij,rj->ri", P, v), axis=1))
            out[:n, ell - 1] = np.where(nz, logscale + lognorm, -np.inf)
            bar.update(n)
    if log:
        return out
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(out)


def _dense_seconds(As, L, norm, backend, power_iters) -> float | None:
    """Seconds the dense interval norms should take here: a calibration of the per-interval work
    (one product and one norm) on a few of the matrices, times the number of intervals."""
    T, d, _ = As.shape
    n_int = L * (T + 1) - L * (L + 1) / 2
    kernel = backend is not None and backend != "numpy"
    if kernel:
        from ..backend import resolve_backend

        if resolve_backend(backend, As) != "numba":
            return None                                   # a GPU kernel: no CPU calibration
        from .. import kernels

        m = min(T, 6)
        kernels.interval_norms(As[:2], 2, backend="numba")          # compiled (or loaded from the cache)
        t0 = time.perf_counter()
        kernels.interval_norms(As[:m], m, backend="numba")
        return (time.perf_counter() - t0) / (m * (m + 1) / 2) * n_int
    scale = 1.0
    X = As[: min(T, 16 if d <= 256 else 1)]
    if d > 1024:                                          # calibrate on 1024 x 1024, scale by d^3
        X, scale = np.random.default_rng(0).standard_normal((1, 1024, 1024)), (d / 1024) ** 3
    X = X / np.maximum(np.max(np.abs(X), axis=(1, 2), keepdims=True), 1e-300)   # as the real loop scales them
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        P = np.matmul(X, X)
        if norm == "spectral":
            np.linalg.norm(P, 2, axis=(1, 2))
        elif norm == "power":
            v = np.ones(P.shape[:2])
            for _ in range(power_iters):
                v = np.einsum("rji,rj->ri", P, np.einsum("rij,rj->ri", P, v))
        best = min(best, time.perf_counter() - t0)
    return best / X.shape[0] * scale * n_int


def _numba_alternative(As, L) -> str:
    try:
        est = _dense_seconds(As, L, "spectral", "numba", 0)
    except Exception:                                     # noqa: BLE001 - numba missing or failing: no hint
        return ""
    return f", backend='numba' (estimated {_fmt_seconds(est)})" if est is not None else ""


@dataclass(frozen=True)
class SequentialStability:
    """Result of :func:`sequential_stability` (``nonconvex-meta-optimization``, Definition 3).

    Attributes
    ----------
    log_norms : array (T, max_length) — ``log ||A_{r+l-1}..A_r||`` (NaN past the end): exact on the
        dense path; on the operator path the certified **lower** bounds (each attained by a vector).
    lengths : array (max_length,) — interval lengths ``|I| = 1..max_length``.
    decay : array — for each length, the largest product norm over all intervals of that length.
    mean_decay : array — the mean product norm over intervals of each length (Fig. 3 averages).
    kappa : float — the smallest kappa with ``||prod|| <= kappa^2 (1-gamma)^{|I|}`` on every
        computed interval, for the ``gamma`` below (from ``log_norms``: ``kappa_lower``).
    gamma : float — given, or chosen by ``rule`` (see :func:`sequential_stability`).
    worst_interval : (r, s) — 0-based inclusive interval attaining ``kappa`` (``A_r..A_s``).
    norm : str — the norm used.
    complete : bool — True when every interval of ``[0, T)`` was computed (``max_length == T``);
        otherwise :meth:`holds` certifies only intervals up to ``max_length``.
    log_upper : array (T, max_length) or None — upper bounds (operator path; None: exact).
    status : int array (T, max_length) or None — per interval ``3`` exact (dense), ``2`` converged
        (Krylov, relative gap <= ``rtol``), ``1`` bounded (Krylov stopped first), ``0`` estimated
        (randomised probes below, sub-interval products above); ``-2`` past the end.
    kappa_upper : float — the smallest kappa certified by the upper bounds (``= kappa`` when exact).
    rule : ``"given"``, ``"bound"`` or ``"fit"`` — how ``gamma`` was set.
    method, plan : ``"dense"`` / ``"operator"``; ``"dense"``, ``"exact"`` or ``"sweep"``.
    rtol : the relative gap the Krylov bounds were run to (0 on the dense path).
    floor : ``sqrt(2)`` for the optimization LTV with weight decay ``δ = 0`` (its structural floor:
        along a direction of zero curvature ``z = [v; 0; 0] ↦ [v; v; 0]``, so every product has norm
        at least ``√2`` there), else None.
    block : SequentialStability or None — the same analysis of the norms restricted to the
        coordinate block of interest (the parameter block ``x_t`` of the optimization LTV).
    block_slice : the slice of that block.
    steps : dict or None — per-step diagnostics of an optimization LTV (``lmax``: λ_max of the
        mean-value Hessian by Lanczos, ``edge = 2/η``, ``edge_ratio = η λ_max/2``, ``step_norm`` =
        ``‖A_t‖``, ...; see :meth:`olc.systems.OptimizationLTV.hessian_spectra`).
    cost : dict — operator applications, Hessian-vector products, seconds.
    witness : array or None — a unit vector ``v`` with ``‖A_s⋯A_r v‖ = exp(log_norms[r, s-r])`` on
        the worst interval (operator path).
    """

    log_norms: np.ndarray = field(repr=False)
    lengths: np.ndarray = field(repr=False)
    decay: np.ndarray = field(repr=False)
    mean_decay: np.ndarray = field(repr=False)
    kappa: float
    gamma: float
    worst_interval: tuple[int, int]
    norm: str
    complete: bool
    log_upper: np.ndarray | None = field(default=None, repr=False)
    status: np.ndarray | None = field(default=None, repr=False)
    kappa_upper: float | None = None
    rule: str = "bound"
    method: str = "dense"
    plan: str = "dense"
    rtol: float = 0.0
    floor: float | None = None
    block: SequentialStability | None = field(default=None, repr=False)
    block_slice: slice | None = None
    steps: dict | None = field(default=None, repr=False)
    cost: dict = field(default_factory=dict, repr=False)
    witness: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.kappa_upper is None:
            object.__setattr__(self, "kappa_upper", self.kappa)

    @property
    def T(self) -> int:
        return self.log_norms.shape[0]

    @property
    def norms(self) -> np.ndarray:
        """``exp(log_norms)``: the product norms (T, max_length)."""
        with np.errstate(over="ignore", under="ignore"):
            return np.exp(self.log_norms)

    @property
    def exact(self) -> bool:
        """True on the dense path (every norm exact); False when they are bracketed by bounds."""
        return self.log_upper is None

    @property
    def log_lower(self) -> np.ndarray:
        """Certified lower bounds (T, max_length) — ``log_norms``."""
        return self.log_norms

    @property
    def upper_norms(self) -> np.ndarray:
        """Upper bounds on the product norms (T, max_length) (``norms`` when exact)."""
        with np.errstate(over="ignore", under="ignore"):
            return np.exp(self.log_norms if self.log_upper is None else self.log_upper)

    @property
    def upper_decay(self) -> np.ndarray:
        """For each length, the largest upper bound over intervals of that length (``decay`` when exact)."""
        if self.log_upper is None:
            return self.decay
        valid = _computed(*self.log_norms.shape)
        with np.errstate(over="ignore"):
            return np.exp(np.max(np.where(valid, self.log_upper, -np.inf), axis=0))

    @property
    def kappa_lower(self) -> float:
        """The smallest kappa the certified lower bounds already force (``= kappa``)."""
        return self.kappa

    @property
    def status_counts(self) -> dict:
        """Number of intervals by status (``exact``, ``converged``, ``bounded``, ``estimated``)."""
        from .intervals import STATUS_NAMES

        valid = _computed(*self.log_norms.shape)
        if self.status is None:
            return {"exact": int(valid.sum())}
        return {name: int(np.sum((self.status == code) & valid)) for code, name in STATUS_NAMES.items()
                if np.any((self.status == code) & valid)}

    def kappa_for(self, gamma):
        """Smallest kappa for ``gamma``: the trade-off curve ``kappa = sqrt(max_l decay_l / (1-gamma)^l)``.

        ``inf`` where that kappa is beyond the float64 range.

        Parameters
        ----------
        gamma : float or array_like
        """
        return self._kappa_curve(gamma, self.decay)

    def kappa_upper_for(self, gamma):
        """:meth:`kappa_for` from the upper bounds (``upper_decay``): certified for every interval.

        Parameters
        ----------
        gamma : float or array_like
        """
        return self._kappa_curve(gamma, self.upper_decay)

    def _kappa_curve(self, gamma, decay):
        g = np.asarray(gamma, dtype=float)
        if np.any(~np.isfinite(g)) or np.any(g < 0) or np.any(g >= 1):
            raise InvalidArgumentError(f"gamma: expected values in [0, 1), got {gamma!r}")
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            logk2 = _log_kappa2(self.lengths, np.log(decay), g.reshape(-1))
            k = np.exp(logk2 / 2)
        return float(k[0]) if g.ndim == 0 else k.reshape(g.shape)

    def kappa_gamma(self, gammas=None) -> dict:
        """The κ–γ trade-off curve: ``{"gamma", "kappa_lower", "kappa_upper"}`` arrays on a γ grid.

        Every ``(κ, γ)`` with ``κ >= kappa_upper(γ)`` is certified; none with ``κ < kappa_lower(γ)`` holds.

        Parameters
        ----------
        gammas : array_like, optional
            Default: 200 points from 0 to ``min(0.999, max(4γ, 0.05))``.
        """
        if gammas is None:
            gammas = np.linspace(0.0, min(0.999, max(4 * self.gamma, 0.05)), 200)
        g = np.asarray(gammas, dtype=float).reshape(-1)
        return {"gamma": g, "kappa_lower": np.asarray(self.kappa_for(g)),
                "kappa_upper": np.asarray(self.kappa_upper_for(g))}

    @property
    def gamma_from_horizon(self) -> bool:
        """True when ``gamma`` was set by the horizon rather than by a decay: the ``"bound"`` rule returned the
        stationary point ``γ = 1/(L+1)`` of the longest computed length ``L`` (on a flat curve at level ``c`` it does,
        and ``κ → sqrt(e·c)`` as ``T`` grows), so ``κ`` and ``γ`` change with ``T`` and say nothing about a rate."""
        L = self.lengths[-1]
        return self.rule == "bound" and abs(self.gamma - 1.0 / (L + 1)) <= 1e-9 * self.gamma

    @property
    def decay_rate(self) -> float:
        """Fitted per-step factor ``exp(slope)`` of the least-squares line through ``(l, log decay_l)`` (< 1: decaying)."""
        ok = np.isfinite(np.log(np.maximum(self.decay, 0.0)))
        if ok.sum() < 2:
            return float("nan")
        slope = np.polyfit(self.lengths[ok].astype(float), np.log(self.decay[ok]), 1)[0]
        return float(np.exp(slope))

    @property
    def decay_class(self) -> str:
        """``"decaying"``, ``"flat"`` or ``"growing"``: whether the fitted worst-case curve changes by
        more than 5% over the computed lengths (``decay_rate ** (L-1)`` below 1/1.05 or above 1.05).
        ``"undetermined"`` with fewer than two lengths."""
        rate = self.decay_rate
        if not np.isfinite(rate):
            return "undetermined"
        change = rate ** (len(self.lengths) - 1)
        return "decaying" if change < 1 / 1.05 else "growing" if change > 1.05 else "flat"

    @property
    def at_floor(self) -> bool:
        """True when there is a structural floor and the worst-case curve ends within 5% of it."""
        return self.floor is not None and bool(self.decay[-1] <= 1.05 * self.floor)

    def holds(self, kappa: float, gamma: float, rtol: float = 1e-9) -> bool:
        """Whether ``||A_s..A_r|| <= kappa^2 (1-gamma)^{s-r+1}`` on every computed interval.

        With bounds (operator path) this is certified: the **upper** bounds are checked, so ``True``
        means proven; ``False`` may then also mean "not proven" (compare with :attr:`kappa_upper`).

        Parameters
        ----------
        kappa, gamma : float
        rtol : float
            Relative tolerance for rounding.
        """
        kappa = nonnegative(kappa, "kappa")
        gamma = in_range(gamma, "gamma", 0.0, 1.0, hi_open=True)
        logs = self.log_norms if self.log_upper is None else self.log_upper
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = 2 * np.log(kappa) + self.lengths * np.log1p(-gamma) + np.log1p(rtol)
            ok = logs <= bound[None, :]
        # every computed interval (r + |I| <= T) must satisfy the bound; a NaN there fails it
        return bool(np.all(ok | ~_computed(*self.log_norms.shape)))

    def summary(self) -> str:
        """A plain-text report: what was measured, (κ, γ) with bounds, the decay, the flags."""
        L = len(self.lengths)
        r, s = self.worst_interval
        lines = [f"Sequential stability (nonconvex-meta-optimization Def. 3), T={self.T}, intervals up to |I|={L}"
                 + ("" if self.complete else f" of {self.T}") + f", {self.norm} norm, {self.method} path"
                 + (f" (plan {self.plan!r}, relative gap {self.rtol:g})" if self.method == "operator" else "") + ":"]
        kap = (f"kappa = {self.kappa:.6g}" if self.exact or self.kappa_upper == self.kappa
               else f"kappa in [{self.kappa:.6g}, {self.kappa_upper:.6g}]")
        how = {"given": "given", "bound": "rule 'bound' (min kappa^2/gamma, kappa >= 1)",
               "fit": "rule 'fit' (least-squares slope)"}[self.rule]
        lines.append(f"  {kap} for gamma = {self.gamma:.6g} ({how}); worst interval ({r}, {s}), |I| = {s - r + 1}; "
                     f"Assumption 2 (kappa >= 1): kappa = {max(self.kappa_upper, 1.0):.6g}")
        if not self.exact:
            counts = ", ".join(f"{v} {k}" for k, v in self.status_counts.items())
            lines.append(f"  intervals: {counts}; every norm lies in [lower, upper], lower attained by a vector")
        rate = self.decay_rate
        lines.append(f"  decay: {self.decay_class}"
                     + (f" (fitted factor {rate:.6g} per step; worst norm {self.decay[0]:.4g} at |I|=1, "
                        f"{self.decay[-1]:.4g} at |I|={L})" if np.isfinite(rate) else ""))
        if self.gamma_from_horizon:
            lines.append(f"  FLAG gamma = 1/(L+1) = {self.gamma:.4g} was set by the horizon, not by a decay: "
                         "kappa and gamma change with T (compare at equal T, or give gamma)")
        if self.floor is not None:
            lines.append(f"  FLAG weight decay 0: the state [x_t; x_(t-1); grad] has a structural floor "
                         f"sqrt(2) = {self.floor:.6g} along zero-curvature directions"
                         + (" — the worst-case curve sits on it" if self.at_floor else ""))
        if self.block is not None:
            b = self.block
            bk = (f"kappa = {b.kappa:.6g}" if b.exact or b.kappa_upper == b.kappa
                  else f"kappa in [{b.kappa:.6g}, {b.kappa_upper:.6g}]")
            lines.append(f"  restricted to the block {self.block_slice.start}:{self.block_slice.stop} "
                         f"(parameters x_t): {bk} for gamma = {b.gamma:.6g}; decay {b.decay_class}, worst norm "
                         f"{b.decay[0]:.4g} at |I|=1, {b.decay[-1]:.4g} at |I|={L}"
                         + (" (FLAG gamma set by the horizon)" if b.gamma_from_horizon else ""))
        if self.steps is not None:
            st = self.steps
            t = int(np.argmax(st["lmax"]))
            lines.append(f"  Hessians: max lambda_max(H_t) = {st['lmax'][t]:.5g} at step {t} "
                         f"(<= {st['lmax_upper'][t]:.5g}); "
                         f"edge of stability 2/lr = {st['edge']:.5g}; eta*lambda_max/2 up to {st['edge_ratio'].max():.4g}"
                         f"; min lambda_min = {st['lmin'].min():.4g}; ||A_t|| up to {st['step_norm_upper'].max():.5g}")
        if self.cost:
            c = self.cost
            parts = [f"{k} = {v:,}" if isinstance(v, (int, np.integer)) else f"{k} = {v:.3g}" for k, v in c.items()]
            lines.append("  cost: " + ", ".join(parts))
        return "\n".join(lines)

    def __repr__(self) -> str:
        kap = f"kappa={self.kappa:.6g}" + ("" if self.exact else f", kappa_upper={self.kappa_upper:.6g}")
        return (f"SequentialStability({kap}, gamma={self.gamma:.6g}, "
                f"worst_interval={self.worst_interval}, T={self.T}, max_length={len(self.lengths)}, "
                f"norm={self.norm!r}, complete={self.complete}, method={self.method!r})")


def _fit_gamma(lengths: np.ndarray, log_decay: np.ndarray) -> float:
    """Rule "fit": gamma = 1 - exp(slope) of the least-squares line through (l, log decay_l), clipped to [0, 1)."""
    ok = np.isfinite(log_decay)
    if ok.sum() >= 2:
        slope = np.polyfit(lengths[ok].astype(float), log_decay[ok], 1)[0]
    elif ok.sum() == 1:                  # a single usable length: the rate it implies
        slope = log_decay[ok][0] / lengths[ok][0]
    else:                                # every product is exactly zero: any gamma works
        slope = -np.inf
    return float(np.clip(-np.expm1(slope), 0.0, _GAMMA_MAX))


def _log_kappa2(lengths, log_decay, gammas):
    """log kappa(gamma)^2 = max_l (log decay_l - l log(1-gamma)) for each gamma (finite entries only)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.max(log_decay[None, :] - np.log1p(-gammas)[:, None] * lengths[None, :], axis=1)


def _bound_gamma(lengths: np.ndarray, log_decay: np.ndarray) -> float:
    """Rule "bound": the gamma minimising max(kappa(gamma), 1)^2 / gamma, exactly.

    With lambda = -log(1-gamma), log max(kappa, 1)^2 = max(0, max_l (a_l + l lambda)) (a_l = log decay_l; the 0 is the
    empty product, l = 0, of norm 1) is the upper envelope of lines, piecewise linear and convex, and -log gamma is
    smooth and convex, so the minimiser is a kink of the envelope (lambda = minus the slope of an edge of the upper
    convex hull of the points (l, a_l), l = 0, 1, ...) or a stationary point inside a piece of slope l, where gamma =
    1/(l+1). Every candidate is evaluated and the best one returned.
    """
    ok = np.isfinite(log_decay)
    l = np.concatenate([[0.0], lengths[ok].astype(float)])
    a = np.concatenate([[0.0], log_decay[ok]])
    hull: list[int] = []                 # upper convex hull of (l, a), l increasing (monotone chain)
    for i in range(l.size):
        while len(hull) >= 2:
            j, k = hull[-2], hull[-1]
            if (a[k] - a[j]) * (l[i] - l[j]) <= (a[i] - a[j]) * (l[k] - l[j]):
                hull.pop()
            else:
                break
        hull.append(i)
    h = np.array(hull)
    lam = -np.diff(a[h]) / np.diff(l[h])                   # kinks of the envelope in lambda
    cands = np.concatenate([-np.expm1(-lam[lam > 0]), 1.0 / (l[h] + 1.0), [_GAMMA_MAX]])
    cands = np.clip(cands, 1e-15, _GAMMA_MAX)
    obj = _log_kappa2(l, a, cands) - np.log(cands)         # l = 0 is in the set: max(kappa, 1)
    return float(cands[np.argmin(obj)])


_GAMMA_MAX = 1.0 - 1e-12
RULES = ("bound", "fit")


METHODS = ("auto", "dense", "operator")
DENSE_MAX_DIM = 300        # method="auto": an OptimizationSystem with 3n above this goes matrix-free
_K_EST = 12                # GKL iterations per interval assumed by the time estimate (measured: 10-13 on CNNs)
_ITER_OVERHEAD = 3e-4      # seconds of Krylov bookkeeping per interval and iteration (small SVDs, Gram-Schmidt)


def sequential_stability(As, gamma: float | None = None, max_length: int | None = None, *,
                         rule: str = "bound", norm: str = "spectral", T: int | None = None, seed=0,
                         power_iters: int = 20, backend: str | None = None, method: str = "auto",
                         rtol: float = 1e-3, plan: str = "auto", probes: int = 8, max_iter: int = 60,
                         max_refine: int | None = None, block="auto", diagnostics: bool = True,
                         time_limit: float | None = 300.0, progress=None) -> SequentialStability:
    """Measure the (kappa, gamma) sequential stability of ``A_1..A_T`` (Definition 3).

    Parameters
    ----------
    As : what to analyse:

        * an array (T, d, d), or a system with ``A(t)`` — a :class:`~olc.systems.LinearSystem` or
          alike — whose ``A_0..A_{T-1}`` are used (``T`` needed when it has no finite ``horizon`` /
          ``T`` attribute): the **dense** path (exact norms by SVD; numpy or a kernel);
        * an :class:`~olc.systems.OptimizationSystem` after ``run``: dense when ``3n <=``
          ``DENSE_MAX_DIM`` (300), else the **operator** path (Hessian-vector products, nothing
          ``n × n`` formed); ``method=`` overrides;
        * an :class:`~olc.systems.LTVOperator` (``DenseLTV``, ``FunctionLTV``, ``OptimizationLTV``):
          the operator path.
    gamma : float in [0, 1), optional
        Decay rate. Given: ``kappa`` is the smallest value for it. None: chosen by ``rule``, and
        ``kappa`` is then the smallest value for that ``gamma``. Use
        :meth:`SequentialStability.kappa_gamma` for the whole (kappa, gamma) trade-off curve.
    max_length : int, optional
        Only intervals with ``|I| <= max_length`` are computed (for large T).
    rule : "bound" (default) or "fit"
        How ``gamma`` is chosen when not given. ``"bound"``: the ``gamma`` minimising
        ``kappa^2 / gamma = sum_{l >= 0} kappa^2 (1-gamma)^l`` subject to ``kappa >= 1`` (Assumption 2 of the paper),
        i.e. the tightest bound on the total gain ``sum_l ||A_{t}..A_{t-l+1}||`` that enters state bounds such as
        ``||x_t|| <= kappa^2 W / gamma`` (computed exactly: the objective is convex in ``-log(1-gamma)``). ``"fit"``:
        ``gamma = 1 - exp(slope)``, ``slope`` the least-squares slope of ``log decay_l`` against ``l`` (the average
        exponential rate of the worst-case curve of Fig. 3), clipped to ``[0, 1)``; simple, but on short or noisy
        curves it can overshoot and return a large ``kappa``. For ``A_t = c * (orthogonal)`` both rules recover
        ``gamma = 1 - c``, ``kappa = 1`` (``"bound"`` when ``T >= c/(1-c)``; for shorter sequences the finite horizon
        also certifies larger ``gamma``, and the rule takes it). On a flat curve the "bound" rule returns
        ``gamma = 1/(L+1)``: flagged as :attr:`SequentialStability.gamma_from_horizon`.
    norm : "spectral" (default, exact), "power" (seeded power iteration) or "fro"
        Dense path only (see :func:`interval_norms`); the operator path computes spectral norms.
    T : int, optional
        The number of steps of a system without a finite horizon.
    seed, power_iters : int or numpy.random.Generator, int
        Of ``norm="power"``.
    backend : None (numpy) or "numba" / "cupy" / "auto"
        Dense path: kernel for the interval norms (see :func:`interval_norms`).
    method : "auto" (default), "dense" or "operator" (see ``As``).
    rtol, plan, probes, max_iter, max_refine : operator path (:func:`olc.systems.intervals.interval_bounds`):
        every norm is bracketed ``lower <= ||A_s..A_r|| <= upper`` with a Golub–Kahan–Lanczos relative gap ``rtol``
        (default 1e-3); ``plan="exact"`` runs that on every interval, ``"sweep"`` (for large T) a randomised block
        sweep of ``probes`` probes per start and refinement of the intervals that can still change ``kappa`` (at most
        ``max_refine``, default ``4 T``); ``"auto"``: exact for T <= 32.
    block : "auto" (default), None or a slice of the state coordinates
        Also analyse the norms restricted to this block, ``||E^T A_s..A_r E||``; "auto" is the
        parameter block ``x_t`` of an optimization LTV (where the ``sqrt(2)`` floor of the full
        state is absent) and nothing otherwise. Reported as ``result.block``.
    diagnostics : bool
        For an optimization LTV (oracle with HVPs): per-step ``lambda_max`` / ``lambda_min`` of
        the mean-value Hessian by Lanczos against ``2/eta`` (``result.steps``).
    time_limit : seconds or None
        The run is estimated first (a short calibration); above ``time_limit`` a :class:`~olc.errors.ResourceError`
        names the estimate and the cheaper paths instead of starting. None: no limit.
    progress : None (a bar when the estimate exceeds 10 s), True, False, or a factory
        ``progress(total, desc)`` returning a tqdm-like bar.

    Returns
    -------
    :class:`SequentialStability` (``summary()`` explains it in words).

    Raises
    ------
    DivergenceError
        When the norm of some interval product is beyond the float64 range (> ~1.8e308; the kernels report such a
        product as ``inf``). Definition 3 would then need ``kappa^2 >= ||A_s..A_r||``, so no ``(kappa, gamma)`` with a
        representable ``kappa^2`` holds: the sequence is reported as divergent, never as stable. The message names the
        shortest overflowing interval; ``err.partial`` holds the log norms ``(T, max_length)`` (exact on the numpy
        path, ``inf`` where a kernel overflowed), and ``max_length`` below that interval's length measures the shorter
        intervals.
    NonFiniteError
        When the norms are representable but the smallest ``kappa`` for ``gamma`` (given or
        chosen) is not (a ``gamma`` far faster than the sequence decays over a long horizon).
        :meth:`SequentialStability.kappa_for` returns ``inf`` for such ``gamma`` instead.
    ResourceError
        A dense stack that does not fit in memory, or a run estimated beyond ``time_limit``.

    Examples
    --------
    >>> res = sequential_stability(np.stack([0.9 * np.eye(3)] * 50))
    >>> round(res.gamma, 12), round(res.kappa, 12), res.holds(res.kappa, res.gamma)
    (0.1, 1.0, True)
    """
    from .operators import LTVOperator, OptimizationLTV, _as_block, _Prefix
    from .optimization import OptimizationSystem

    check_choice(rule, "rule", RULES)
    check_choice(method, "method", METHODS)
    check_choice(norm, "norm", NORMS)
    if gamma is not None:
        gamma = in_range(gamma, "gamma", 0.0, 1.0, hi_open=True)
    if time_limit is not None:
        time_limit = positive(time_limit, "time_limit")
    rtol = in_range(rtol, "rtol", 0.0, 1.0, lo_open=True, hi_open=True)
    op, stack = None, None
    if isinstance(As, OptimizationSystem):
        op = As.operator() if As.oracle.has_hvp or method == "operator" else None
        if T is not None:
            op = None if op is None else _prefix(op, T)
        if method == "dense" or (method == "auto" and (op is None or As.state_dim <= DENSE_MAX_DIM)):
            stack = _as_matrix_stack(As, T)
    elif isinstance(As, LTVOperator):
        op = _prefix(As, T) if T is not None else As
        if method == "dense":
            stack = op.to_stack()
    else:
        stack = _as_matrix_stack(As, T)
        if method == "operator":
            from .operators import DenseLTV

            op, stack = DenseLTV(stack), None
    inner = op.op if isinstance(op, _Prefix) else op
    floor = (float(np.sqrt(2.0)) if isinstance(inner, OptimizationLTV) and inner.weight_decay == 0.0 else None)
    if block == "auto":
        block = None if op is None else op.block
    elif block is not None and block is not False:
        block = _as_block(block, (stack.shape[1] if stack is not None else op.dim))
    else:
        block = None
    steps = None
    if stack is not None:                                   # ---------------- dense path
        kw = dict(norm=norm, seed=seed, power_iters=power_iters, time_limit=time_limit, progress=progress)
        logN = interval_norms(stack, max_length, log=True, backend=backend, **kw)
        res_block = None
        if block is not None:
            logB = interval_norms(stack, max_length, log=True, block=block, **kw)
            res_block = _assemble(logB, gamma, rule, norm)
        if diagnostics and isinstance(inner, OptimizationLTV):
            steps = _with_step_norms(inner.hessian_spectra(seed=_int_seed(seed)), logN, None)
        return _assemble(logN, gamma, rule, norm, floor=floor, block=res_block, block_slice=block, steps=steps)
    # ---------------------------------------------------------------- operator path
    if norm != "spectral":
        raise InvalidArgumentError(f"norm: the operator path computes spectral norms (Krylov bounds), got "
                                   f"norm={norm!r}; use method='dense' for {norm!r} norms of a dense stack")
    if backend not in (None, "numpy"):
        raise InvalidArgumentError(f"backend: the kernels need a dense stack; the operator path runs on "
                                   f"the operator's own products (got backend={backend!r})")
    from .intervals import PLANS, interval_bounds

    check_choice(plan, "plan", PLANS)
    L = op.T if max_length is None else min(positive_int(max_length, "max_length"), op.T)
    oracle = getattr(inner, "oracle", None)
    hvp0 = getattr(oracle, "hvp_count", 0)
    t0, apps0 = time.perf_counter(), op.applications
    est, per_apply = _operator_seconds(op, L, plan, probes, 1 + (block is not None),
                                       diagnostics and isinstance(inner, OptimizationLTV), seed)
    if time_limit is not None and est > time_limit:
        raise ResourceError(
            f"sequential_stability: the operator path for T={op.T}, d={op.dim} (intervals up to |I|={L}, "
            f"plan={plan!r}) is estimated at {_fmt_seconds(est)} on this machine (time_limit={time_limit:g} s; "
            f"one application of A_t costs about {_fmt_seconds(per_apply)}). Pass "
            f"time_limit=None to run it anyway (a progress bar shows the ETA), or reduce the work: "
            f"max_length=..., plan='sweep', block=None, a larger rtol, float32 / CUDA Hessian-vector products")
    kw = dict(plan=plan, rtol=rtol, probes=probes, max_iter=max_iter, seed=seed, max_refine=max_refine,
              select=_selector(gamma, rule, rtol))
    bar = _progress_bar(progress, est, 0, "interval norms (Krylov)")
    try:
        bounds, *bb = interval_bounds(op, L, block=[None] + ([] if block is None else [block]), bar=bar, **kw)
        res_block = _assemble(bb[0].log_lower, gamma, rule, norm, bounds=bb[0]) if bb else None
        if diagnostics and isinstance(inner, OptimizationLTV):
            steps = _with_step_norms(inner.hessian_spectra(seed=_int_seed(seed)), bounds.log_lower,
                                     bounds.log_upper)
    finally:
        bar.close()
    cost = {"operator_applications": int(op.applications - apps0), "seconds": time.perf_counter() - t0,
            "estimated_seconds": float(est)}
    if oracle is not None:
        cost["hessian_vector_products"] = int(getattr(oracle, "hvp_count", 0) - hvp0)
    return _assemble(bounds.log_lower, gamma, rule, norm, bounds=bounds, floor=floor, block=res_block,
                     block_slice=block, steps=steps, cost=cost)


def _prefix(op, T):
    from .operators import as_ltv_operator

    return as_ltv_operator(op, T)


def _int_seed(seed) -> int:
    return int(seed) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else 0


def _with_step_norms(spectra: dict, log_lower, log_upper) -> dict:
    """Per-step diagnostics plus ``‖A_t‖`` (the length-1 intervals)."""
    with np.errstate(over="ignore", under="ignore"):
        spectra["step_norm"] = np.exp(log_lower[:, 0])
        spectra["step_norm_upper"] = np.exp((log_lower if log_upper is None else log_upper)[:, 0])
    return spectra


def _assemble(logN, gamma, rule, norm, *, bounds=None, **extra) -> SequentialStability:
    """The result from log norms (exact) or from interval bounds (lower = ``logN``)."""
    Tn, L = logN.shape
    lengths = np.arange(1, L + 1)
    valid = _computed(Tn, L)
    if np.any(np.isnan(logN[valid])):                 # only a kernel could produce this: report it
        r0, l0 = np.argwhere(np.isnan(logN) & valid)[0]
        raise NonFiniteError(f"As: the norm of the interval product A_{r0 + l0}..A_{r0} came out NaN")
    _check_overflow(logN, valid)
    log_decay = np.max(np.where(valid, logN, -np.inf), axis=0)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        # mean in log form: exp(max) * mean(exp(logN - max)) cannot overflow once max is representable
        shift = np.where(np.isfinite(log_decay), log_decay, 0.0)
        rel = np.where(valid, np.exp(logN - shift[None, :]), 0.0)
        mean_decay = np.exp(shift) * rel.sum(axis=0) / valid.sum(axis=0)
        mean_decay = np.where(np.isneginf(log_decay), 0.0, mean_decay)
    given = gamma is not None
    if not given:
        gamma = (_bound_gamma if rule == "bound" else _fit_gamma)(lengths, log_decay)
    with np.errstate(invalid="ignore"):
        lg = lengths[None, :] * np.log1p(-gamma)
        excess = logN - lg                                          # log(||prod|| / (1-gamma)^|I|)
    filled = np.where(valid, excess, -np.inf)
    r, ell = np.unravel_index(np.argmax(filled), filled.shape)
    if filled[r, ell] / 2 > _LOG_MAX:
        raise NonFiniteError(
            f"gamma: for gamma={gamma:.6g} ({'given' if given else f'chosen by rule={rule!r}'}) the smallest "
            f"kappa is exp({filled[r, ell] / 2:.6g}), beyond the float64 range (interval ({r}, {r + ell}), "
            f"length {ell + 1}); no representable kappa works for this gamma — pass a smaller gamma, or use "
            f"kappa_for on a result with a smaller gamma for the trade-off curve")
    kappa = float(np.exp(filled[r, ell] / 2))
    decay = np.exp(log_decay)
    kw = {}
    if bounds is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            up = np.max(np.where(valid, bounds.log_upper - lg, -np.inf))
            kw["kappa_upper"] = float(np.exp(up / 2)) if up / 2 <= _LOG_MAX else float("inf")
        w = bounds.witness.get(int(ell + 1))
        kw.update(log_upper=bounds.log_upper, status=bounds.status, method="operator", plan=bounds.plan,
                  rtol=bounds.rtol, witness=(w[1] if w is not None and w[0] == r else None))
    return SequentialStability(log_norms=logN, lengths=lengths, decay=decay, mean_decay=mean_decay,
                               kappa=kappa, gamma=float(gamma), worst_interval=(int(r), int(r + ell)),
                               norm=norm, complete=(L == Tn), rule="given" if given else rule, **kw, **extra)


def _selector(gamma, rule, rtol, per_round: int = 16):
    """``select(bounds)`` for the sweep plan: the open intervals whose upper bound could still raise
    ``kappa`` above what the lower bounds force (largest first), and per length the open interval
    with the largest upper bound when it could still be that length's maximum (which sets gamma)."""
    from .intervals import CONVERGED

    tol = np.log1p(rtol)

    def select(b):
        T, L = b.log_lower.shape
        lengths = np.arange(1, L + 1)
        valid = _computed(T, L)
        lo = np.where(valid, b.log_lower, -np.inf)
        hi = np.where(valid, b.log_upper, -np.inf)
        log_decay = lo.max(axis=0)
        g = gamma if gamma is not None else (_bound_gamma if rule == "bound" else _fit_gamma)(lengths, log_decay)
        lg = lengths[None, :] * np.log1p(-g)
        open_ = valid & (b.status < CONVERGED)
        ex_hi = np.where(open_, hi - lg, -np.inf)
        cand = np.argwhere(ex_hi > np.max(lo - lg) + tol)
        cand = cand[np.argsort(-ex_hi[cand[:, 0], cand[:, 1]])][:per_round]
        picks = {(int(r), int(c) + 1) for r, c in cand}
        per_len = np.where(open_ & (hi > log_decay[None, :] + tol), hi, -np.inf)
        for c in np.flatnonzero(np.isfinite(per_len.max(axis=0))):
            picks.add((int(np.argmax(per_len[:, c])), int(c) + 1))
        return sorted(picks)

    return select


def _operator_seconds(op, L, plan, probes, nblocks, diagnostics, seed) -> tuple[float, float]:
    """Estimate the operator path's seconds from a timed batched application of ``A_t`` / ``A_tᵀ``;
    returns ``(seconds, seconds per vector application)``."""
    from .intervals import EXACT_MAX_T

    T, d = op.T, op.dim
    V = as_rng(_int_seed(seed) + 1).standard_normal((4, d))
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        op.apply(0, V)
        op.apply_T(0, V)
        best = min(best, (time.perf_counter() - t0) / 8)
    ell = np.arange(1, L + 1)
    total_len = float(np.sum(ell * (T - ell + 1)))              # sum of |I| over the intervals
    exact = plan == "exact" or (plan == "auto" and T <= EXACT_MAX_T)
    if exact:
        apps = 2 * (_K_EST + 0.5) * total_len
    else:
        apps = 2 * (_K_EST + 4) * T + probes * float(np.sum(np.minimum(L, T - np.arange(T)))) \
            + 4 * T * 2 * (_K_EST + 10) * (L + 1) / 2
    hess = 30 * T if diagnostics else 0
    n_int = float(np.sum(T - ell + 1))
    overhead = nblocks * n_int * _K_EST * _ITER_OVERHEAD if exact else nblocks * 5 * T * _K_EST * _ITER_OVERHEAD
    return float(best * (nblocks * apps + hess + T) + overhead), float(best)


def _fmt_seconds(s: float) -> str:
    s = float(s)
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    return f"{s / 3600:.3g} h"


def _progress_bar(progress, est, total, desc):
    """A tqdm bar (disabled unless ``progress`` is True, or None with an estimate above 10 s), or the
    bar of a ``progress(total, desc)`` factory."""
    if callable(progress):
        bar = progress(total, desc)
        if bar is not None:
            return bar
    show = progress if isinstance(progress, bool) else (est is not None and est > 10.0)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="interval", disable=not show, leave=False)


def _computed(T: int, L: int) -> np.ndarray:
    """Mask (T, L) of the entries of ``interval_norms`` that exist: ``r + l <= T``."""
    return np.add.outer(np.arange(T), np.arange(1, L + 1)) <= T


_LOG_MAX = float(np.log(np.finfo(np.float64).max))     # log of the largest float64 (~709.78)


def _check_overflow(logN: np.ndarray, valid: np.ndarray) -> None:
    """Raise :class:`DivergenceError` when an interval product's norm is beyond the float64 range.

    Definition 3 needs ``||A_s..A_r|| <= kappa^2 (1-gamma)^{|I|} <= kappa^2``, so such a product
    rules out every ``(kappa, gamma)`` with ``kappa^2`` representable: the sequence diverges as
    far as float64 is concerned (a rollout through it overflows too). The numpy code knows these
    norms exactly in log form; the kernels report the overflowing products as ``inf``.
    """
    over = valid & (logN > _LOG_MAX)
    if not over.any():
        return
    r0, l0 = min(map(tuple, np.argwhere(over)), key=lambda rl: (rl[1], rl[0]))   # shortest interval first
    v = logN[r0, l0]
    what = "overflows float64 (the kernel reports inf)" if np.isinf(v) else f"is exp({v:.6g}) > 1.8e308"
    raise DivergenceError(
        f"As: the interval products overflow float64 — ||A_{r0 + l0}..A_{r0}|| (interval ({r0}, {r0 + l0}), "
        f"length {l0 + 1}) {what}; {int(over.sum())} of {int(valid.sum())} intervals are beyond the float64 "
        f"range. No (kappa, gamma) with kappa^2 representable satisfies Definition 3, so the sequence is "
        f"reported as divergent rather than stable. err.partial holds the log norms (T, max_length) "
        f"(inf where a kernel overflowed)"
        + (f"; sequential_stability(..., max_length={l0}) measures the shorter intervals" if l0 else
           " (a single matrix is already beyond the range: rescale the sequence)"), partial=logN)


def _pyplot(what):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise BackendUnavailableError(f"{what} needs matplotlib: pip install 'olc[plot]' "
                                      "(or pip install matplotlib)") from None
    return plt


def _check_result(result):
    if not isinstance(result, SequentialStability):
        raise InvalidArgumentError(f"result: expected a SequentialStability, got {type(result).__name__}")


def draw_decay(ax, lengths, decay, *, upper=None, mean=None, kappa=None, gamma=None, floor=None, block=None,
               label=None, color=None):
    """Draw one decay curve on ``ax`` (shared by :func:`plot_decay` and the experiments).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    lengths, decay : array_like
        ``|I|`` and the worst case (lower bounds on the operator path).
    upper, mean : array_like, optional
        A band up to ``upper``; the mean.
    kappa, gamma : float, optional
        The bound ``kappa^2 (1-gamma)^{|I|}``.
    floor, block : float or array_like, optional
        The structural floor and the parameter-block curve.
    label, color : str, optional
    """
    lengths = np.asarray(lengths, dtype=float)
    prefix = f"{label}: " if label else ""
    line, = ax.semilogy(lengths, decay, "-", color=color,
                        label=prefix + ("max over intervals" if upper is None else "max over intervals (lower bound)"))
    color = line.get_color()
    if upper is not None:
        ax.fill_between(lengths, decay, upper, color=color, alpha=0.25, lw=0,
                        label=prefix + "up to the upper bound")
    if mean is not None:
        ax.semilogy(lengths, mean, ":", color=color, label=prefix + "mean over intervals")
    if kappa is not None:
        with np.errstate(over="ignore", under="ignore"):
            b = kappa ** 2 * (1 - gamma) ** lengths
        ax.semilogy(lengths, b, "--", color=color,
                    label=prefix + rf"$\kappa^2(1-\gamma)^{{|I|}}$, $\kappa$={kappa:.3g}, $\gamma$={gamma:.3g}")
    if block is not None:
        ax.semilogy(lengths, block, "-.", color=color, label=prefix + "parameter block")
    if floor is not None:
        ax.axhline(floor, color="0.5", lw=0.8, ls=(0, (1, 3)), label=r"$\sqrt{2}$ floor ($\delta = 0$)")
    ax.set_xlabel(r"interval length $|I| = s - r + 1$")
    ax.set_ylabel(r"$\|A_s \cdots A_r\|_2$")
    return ax


def plot_decay(result: SequentialStability, ax=None, *, mean: bool = True, bound: bool = True,
               label: str | None = None):
    """Plot the decay of ``||A_s..A_r||`` against ``|I| = s - r + 1`` on a log scale; returns the axes.

    Like Fig. 3 of ``nonconvex-meta-optimization`` (its x-axis ``|r - s|`` is ``|I| - 1``). For operator results a
    band up to the upper bounds; the parameter-block curve and the ``sqrt(2)`` floor where the result has them.

    Parameters
    ----------
    result : SequentialStability
    ax : matplotlib.axes.Axes, optional
    mean, bound : bool
        Also draw the mean over intervals of each length and the bound ``kappa^2 (1-gamma)^{|I|}``.
    label : str, optional
    """
    _check_result(result)
    plt = _pyplot("plot_decay")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    draw_decay(ax, result.lengths, result.decay, upper=None if result.exact else result.upper_decay,
               mean=result.mean_decay if mean else None, kappa=result.kappa_upper if bound else None,
               gamma=result.gamma, floor=result.floor, label=label,
               block=None if result.block is None else result.block.decay)
    ax.legend(fontsize="small")
    return ax


def plot_kappa_gamma(result: SequentialStability, ax=None, *, gammas=None, label: str | None = None):
    """Plot the κ–γ trade-off; returns the axes.

    Every ``(γ, κ)`` above the upper curve is certified (Definition 3 holds), none below the lower
    curve holds; the chosen ``(γ, κ)`` is marked.

    Parameters
    ----------
    result : SequentialStability
    ax : matplotlib.axes.Axes, optional
    gammas : array_like, optional
    label : str, optional
    """
    _check_result(result)
    plt = _pyplot("plot_kappa_gamma")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    c = result.kappa_gamma(gammas)
    draw_kappa_gamma(ax, c["gamma"], c["kappa_lower"], c["kappa_upper"], result.gamma, result.kappa_upper, label)
    ax.legend(fontsize="small")
    return ax


def draw_kappa_gamma(ax, gammas, lower, upper, gamma=None, kappa=None, label=None, color=None):
    """Draw one κ–γ curve (lower and upper bounds) and mark the chosen point.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    gammas, lower, upper : array_like
    gamma, kappa : float, optional
    label, color : str, optional
    """
    prefix = f"{label}: " if label else ""
    line, = ax.semilogy(gammas, upper, "-", color=color, label=prefix + r"$\kappa(\gamma)$ (upper bound)")
    ax.semilogy(gammas, lower, ":", color=line.get_color(), label=prefix + "lower bound")
    if gamma is not None:
        ax.plot([gamma], [kappa], "o", color=line.get_color())
    ax.set_xlabel(r"$\gamma$")
    ax.set_ylabel(r"smallest $\kappa$")
    return ax


def plot_steps(result: SequentialStability, ax=None, *, label: str | None = None):
    """Per step of an optimization LTV: ``η λ_max(H_t) / 2`` (1 is the edge of stability) and ``‖A_t‖``.

    Parameters
    ----------
    result : SequentialStability
    ax : matplotlib.axes.Axes, optional
    label : str, optional
    """
    _check_result(result)
    if result.steps is None:
        raise InvalidArgumentError("result: has no per-step diagnostics (an optimization LTV with HVPs and "
                                   "diagnostics=True gives them)")
    plt = _pyplot("plot_steps")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    draw_steps(ax, result.steps["edge_ratio"], result.steps["step_norm_upper"], label)
    ax.legend(fontsize="small")
    return ax


def draw_steps(ax, edge_ratio, step_norm=None, label=None, color=None):
    """Draw ``η λ_max(H_t)/2`` per step (and ``‖A_t‖`` when given) with the edge of stability at 1.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    edge_ratio, step_norm : array_like
    label, color : str, optional
    """
    prefix = f"{label}: " if label else ""
    t = np.arange(len(edge_ratio))
    line, = ax.plot(t, edge_ratio, "-o", ms=3, color=color, label=prefix + r"$\eta\,\lambda_{max}(H_t)/2$")
    if step_norm is not None:
        ax.plot(t, step_norm, "--", color=line.get_color(), label=prefix + r"$\|A_t\|$")
    ax.axhline(1.0, color="r", lw=0.8, ls=":")
    ax.set_xlabel("step t")
    return ax
