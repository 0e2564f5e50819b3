"""Sequential stability of an LTV sequence ``A_1..A_T`` (measure it, check it, plot it).

``nonconvex-meta-optimization``, Definition 3: the system is **(kappa, gamma) sequentially
stable** if for every interval ``I = [r, s]``

    ``|| A_s A_{s-1} ... A_r ||  <=  kappa^2 (1 - gamma)^{|I|}``.

Convention used throughout olc: **|I| = s - r + 1, the number of matrices in the product**
(so a single matrix, ``r = s``, has ``|I| = 1`` and must satisfy ``||A_r|| <= kappa^2 (1-gamma)``).
Indices here are 0-based: an interval ``(r, s)`` covers ``A_r..A_s`` (the paper's
``[r+1, s+1]``). The norm is the spectral norm (largest singular value). Assumption 2 of the
paper additionally asks ``kappa >= 1``; :attr:`SequentialStability.kappa` reports the
smallest ``kappa`` satisfying the definition, which may be below 1 — use ``max(kappa, 1)``
for the assumption.

Fig. 3 of the paper plots ``||prod A_t||`` against the interval length (averaged over trials);
:func:`plot_decay` draws the same picture (worst case and mean over intervals of each length,
plus the fitted bound ``kappa^2 (1-gamma)^{|I|}``).

The work is in :func:`interval_norms` — the norm of every interval product with length up to
``max_length``: O(T * max_length) matrix products, vectorised over start indices — which the
numba/CuPy kernels mirror.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validate import as_array, as_rng, check_choice, in_range, nonnegative, positive_int
from ..errors import BackendUnavailableError, DivergenceError, InvalidArgumentError, NonFiniteError, ShapeError
from .linear import LinearSystem

__all__ = ["interval_norms", "sequential_stability", "SequentialStability", "plot_decay"]

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
                   seed=0, power_iters: int = 20, backend: str | None = None) -> np.ndarray:
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
    backend : None (default: this numpy code), or "numba", "cupy", "auto"
        Exact spectral norms through :func:`olc.kernels.interval_norms` (parallel over start
        indices; plain products, so an overflowing product reads ``inf``). Only with
        ``norm="spectral"``.

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
    if backend is not None and backend != "numpy":
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
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
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
                lognorm = np.log(np.linalg.norm(P, 2, axis=(1, 2)))
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
    if log:
        return out
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(out)


@dataclass(frozen=True)
class SequentialStability:
    """Result of :func:`sequential_stability` (``nonconvex-meta-optimization``, Definition 3).

    Attributes
    ----------
    log_norms : array (T, max_length) — ``log ||A_{r+l-1}..A_r||`` (NaN past the end).
    lengths : array (max_length,) — interval lengths ``|I| = 1..max_length``.
    decay : array — for each length, the largest product norm over all intervals of that length.
    mean_decay : array — the mean product norm over intervals of each length (Fig. 3 averages).
    kappa : float — the smallest kappa with ``||prod|| <= kappa^2 (1-gamma)^{|I|}`` on every
        computed interval, for the ``gamma`` below.
    gamma : float — given, or fitted (see :func:`sequential_stability`).
    worst_interval : (r, s) — 0-based inclusive interval attaining ``kappa`` (``A_r..A_s``).
    norm : str — the norm used.
    complete : bool — True when every interval of ``[0, T)`` was computed (``max_length == T``);
        otherwise :meth:`holds` certifies only intervals up to ``max_length``.
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

    @property
    def T(self) -> int:
        return self.log_norms.shape[0]

    @property
    def norms(self) -> np.ndarray:
        """``exp(log_norms)``: the product norms (T, max_length)."""
        with np.errstate(over="ignore", under="ignore"):
            return np.exp(self.log_norms)

    def kappa_for(self, gamma):
        """Smallest kappa for the given ``gamma`` (a number or an array of them): the
        ``(kappa, gamma)`` trade-off curve, ``kappa = sqrt(max_l decay_l / (1-gamma)^l)``;
        ``inf`` where that kappa is beyond the float64 range."""
        g = np.asarray(gamma, dtype=float)
        if np.any(~np.isfinite(g)) or np.any(g < 0) or np.any(g >= 1):
            raise InvalidArgumentError(f"gamma: expected values in [0, 1), got {gamma!r}")
        log_decay = np.log(self.decay)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            logk2 = _log_kappa2(self.lengths, log_decay, g.reshape(-1))
            k = np.exp(logk2 / 2)
        return float(k[0]) if g.ndim == 0 else k.reshape(g.shape)

    def holds(self, kappa: float, gamma: float, rtol: float = 1e-9) -> bool:
        """Whether ``||A_s..A_r|| <= kappa^2 (1-gamma)^{s-r+1}`` on every computed interval
        (up to a relative tolerance ``rtol`` for rounding)."""
        kappa = nonnegative(kappa, "kappa")
        gamma = in_range(gamma, "gamma", 0.0, 1.0, hi_open=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = 2 * np.log(kappa) + self.lengths * np.log1p(-gamma) + np.log1p(rtol)
            ok = self.log_norms <= bound[None, :]
        # every computed interval (r + |I| <= T) must satisfy the bound; a NaN there fails it
        return bool(np.all(ok | ~_computed(*self.log_norms.shape)))

    def __repr__(self) -> str:
        return (f"SequentialStability(kappa={self.kappa:.6g}, gamma={self.gamma:.6g}, "
                f"worst_interval={self.worst_interval}, T={self.T}, max_length={len(self.lengths)}, "
                f"norm={self.norm!r}, complete={self.complete})")


def _fit_gamma(lengths: np.ndarray, log_decay: np.ndarray) -> float:
    """Rule "fit": gamma = 1 - exp(slope) of the least-squares line through (l, log decay_l),
    clipped to [0, 1)."""
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

    With lambda = -log(1-gamma), log max(kappa, 1)^2 = max(0, max_l (a_l + l lambda))
    (a_l = log decay_l; the 0 is the empty product, l = 0, of norm 1) is the upper envelope of
    lines, piecewise linear and convex, and -log gamma is smooth and convex, so the minimiser
    is a kink of the envelope (lambda = minus the slope of an edge of the upper convex hull of
    the points (l, a_l), l = 0, 1, ...) or a stationary point inside a piece of slope l, where
    gamma = 1/(l+1). Every candidate is evaluated and the best one returned.
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


def sequential_stability(As, gamma: float | None = None, max_length: int | None = None, *,
                         rule: str = "bound", norm: str = "spectral", T: int | None = None, seed=0,
                         power_iters: int = 20, backend: str | None = None) -> SequentialStability:
    """Measure the (kappa, gamma) sequential stability of ``A_1..A_T`` (Definition 3).

    Parameters
    ----------
    As : array (T, d, d), or a system with ``A(t)`` — a :class:`~olc.systems.LinearSystem` or
        e.g. an ``OptimizationSystem`` — whose ``A_0..A_{T-1}`` are used (``T`` needed when it
        has no finite ``horizon`` / ``T`` attribute)
    gamma : float in [0, 1), optional
        Decay rate. Given: ``kappa`` is the smallest value for it. None: chosen by ``rule``, and
        ``kappa`` is then the smallest value for that ``gamma``. Use
        :meth:`SequentialStability.kappa_for` for the whole (kappa, gamma) trade-off curve.
    max_length : int, optional
        Only intervals with ``|I| <= max_length`` are computed (for large T).
    rule : "bound" (default) or "fit"
        How ``gamma`` is chosen when not given.
        ``"bound"``: the ``gamma`` minimising ``kappa^2 / gamma = sum_{l >= 0} kappa^2 (1-gamma)^l``
        subject to ``kappa >= 1`` (Assumption 2 of the paper), i.e. the tightest bound on the
        total gain ``sum_l ||A_{t}..A_{t-l+1}||`` that enters state bounds such as
        ``||x_t|| <= kappa^2 W / gamma`` (computed exactly: the objective is convex in
        ``-log(1-gamma)``). ``"fit"``: ``gamma = 1 - exp(slope)``, ``slope`` the least-squares
        slope of ``log decay_l`` against ``l`` (the average exponential rate of the worst-case
        curve of Fig. 3), clipped to ``[0, 1)``; simple, but on short or noisy curves it can
        overshoot and return a large ``kappa``. For ``A_t = c * (orthogonal)`` both rules
        recover ``gamma = 1 - c``, ``kappa = 1`` (``"bound"`` when ``T >= c/(1-c)``; for shorter
        sequences the finite horizon also certifies larger ``gamma``, and the rule takes it).
    norm : "spectral" (default, exact), "power" (seeded power iteration) or "fro"
        See :func:`interval_norms`.
    backend : None (numpy) or "numba" / "cupy" / "auto"
        Kernel for the interval norms (see :func:`interval_norms`); for large T and d.

    Returns
    -------
    :class:`SequentialStability`

    Raises
    ------
    DivergenceError
        When the norm of some interval product is beyond the float64 range (> ~1.8e308; the
        kernels report such a product as ``inf``). Definition 3 would then need
        ``kappa^2 >= ||A_s..A_r||``, so no ``(kappa, gamma)`` with a representable ``kappa^2``
        holds: the sequence is reported as divergent, never as stable. The message names the
        shortest overflowing interval; ``err.partial`` holds the log norms ``(T, max_length)``
        (exact on the numpy path, ``inf`` where a kernel overflowed), and
        ``max_length`` below that interval's length measures the shorter intervals.
    NonFiniteError
        When the norms are representable but the smallest ``kappa`` for ``gamma`` (given or
        chosen) is not (a ``gamma`` far faster than the sequence decays over a long horizon).
        :meth:`SequentialStability.kappa_for` returns ``inf`` for such ``gamma`` instead.

    Example
    -------
    >>> res = sequential_stability(np.stack([0.9 * np.eye(3)] * 50))
    >>> round(res.gamma, 12), round(res.kappa, 12), res.holds(res.kappa, res.gamma)
    (0.1, 1.0, True)
    """
    As = _as_matrix_stack(As, T)
    check_choice(rule, "rule", RULES)
    if gamma is not None:
        gamma = in_range(gamma, "gamma", 0.0, 1.0, hi_open=True)
    logN = interval_norms(As, max_length, norm=norm, log=True, seed=seed, power_iters=power_iters,
                          backend=backend)
    Tn, L = logN.shape
    lengths = np.arange(1, L + 1)
    valid = _computed(Tn, L)
    if np.any(np.isnan(logN[valid])):                 # only a kernel could produce this: report it
        r0, l0 = np.argwhere(np.isnan(logN) & valid)[0]
        raise NonFiniteError(f"As: the norm of the interval product A_{r0 + l0}..A_{r0} came out NaN "
                             f"(backend={backend!r})")
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
        excess = logN - lengths[None, :] * np.log1p(-gamma)            # log(||prod|| / (1-gamma)^|I|)
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
    return SequentialStability(log_norms=logN, lengths=lengths, decay=decay, mean_decay=mean_decay,
                               kappa=kappa, gamma=float(gamma), worst_interval=(int(r), int(r + ell)),
                               norm=norm, complete=(L == Tn))


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


def plot_decay(result: SequentialStability, ax=None, *, mean: bool = True, bound: bool = True,
               label: str | None = None):
    """Plot the decay of ``||A_s..A_r||`` against ``|I| = s - r + 1`` on a log scale (like Fig. 3
    of ``nonconvex-meta-optimization``; its x-axis ``|r - s|`` is ``|I| - 1``).

    Draws the worst case over intervals of each length, the mean (``mean=True``) and the bound
    ``kappa^2 (1-gamma)^{|I|}`` (``bound=True``). Returns the matplotlib axes.
    """
    if not isinstance(result, SequentialStability):
        raise InvalidArgumentError(f"result: expected a SequentialStability, got {type(result).__name__}")
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise BackendUnavailableError("plot_decay needs matplotlib: pip install 'olc[plot]' "
                                      "(or pip install matplotlib)") from None
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    prefix = f"{label}: " if label else ""
    ax.semilogy(result.lengths, result.decay, "-", label=prefix + "max over intervals")
    if mean:
        ax.semilogy(result.lengths, result.mean_decay, ":", label=prefix + "mean over intervals")
    if bound:
        with np.errstate(over="ignore", under="ignore"):
            b = result.kappa ** 2 * (1 - result.gamma) ** result.lengths.astype(float)
        ax.semilogy(result.lengths, b, "--",
                    label=prefix + rf"$\kappa^2(1-\gamma)^{{|I|}}$, $\kappa$={result.kappa:.3g}, "
                                   rf"$\gamma$={result.gamma:.3g}")
    ax.set_xlabel(r"interval length $|I| = s - r + 1$")
    ax.set_ylabel(r"$\|A_s \cdots A_r\|_2$")
    ax.legend(fontsize="small")
    return ax
