"""Argument checking and layout normalisation shared by every kernel backend.

Each public kernel validates its inputs once, here, and hands the backend modules arrays in one canonical layout:

* dynamics ``A`` → ``(BA, TA, d, d)`` and ``Bmat`` → ``(BB, TB, d, m)`` with ``BA, BB ∈ {1, B}`` and ``TA, TB ∈ {1, T}``
  (a broadcast axis has length 1; kernels index it with 0), so a shared LTI matrix is never copied B·T times;
* feedback ``K`` → ``(BK, m, d)``; DFC matrices ``M`` → ``(BM, H, m, d)``;
* everything C-contiguous in the requested float dtype (system-major: the batch axis is the
  slowest, time next, so one system's whole trajectory is one contiguous stream).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, check_alloc, check_choice, in_range, is_scalar, positive, positive_int
from ..errors import InvalidArgumentError, ShapeError

__all__ = ["RolloutProblem", "GPCProblem", "prep_rollout", "prep_gpc", "prep_intervals", "prep_grid",
           "as_dtype", "eigen_setup", "check_deferred", "DEFER_FINITE_MIN_SIZE"]

DEFER_FINITE_MIN_SIZE = 1 << 16     # arrays at least this large may have their NaN/Inf scan deferred


def as_dtype(dtype) -> np.dtype:
    """Accept ``dtype`` float64 (default, None) or float32 and return the numpy dtype.

    Parameters
    ----------
    dtype : dtype-like or None
    """
    try:
        dt = np.dtype(np.float64 if dtype is None else dtype)
    except TypeError:
        raise InvalidArgumentError(f"dtype: expected float64 or float32, got {dtype!r}") from None
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InvalidArgumentError(f"dtype: expected float64 or float32, got {dt}")
    return dt


def _c(x, dt):
    return np.ascontiguousarray(x, dtype=dt)


def _big(X) -> bool:
    return int(np.size(X)) >= DEFER_FINITE_MIN_SIZE


def _dyn(X, name: str, B: int, T: int, rows: int, cols: int, time_varying, dt, defer=None):
    """Normalise a dynamics matrix to (BX, TX, rows, cols).

    ``defer``: a list; a large ``X`` is then not checked for NaN/Inf here but appended to it
    as ``(name, array)`` for :func:`check_deferred` (the kernel checks it on the fly)."""
    if time_varying not in (None, True, False):
        raise InvalidArgumentError(f"time_varying: expected None, True or False, got {time_varying!r}")
    lazy = defer is not None and _big(X)
    X = as_array(X, name, ndim=(2, 3, 4), dtype=dt, finite=not lazy)
    if lazy:
        defer.append((name, X))
    if X.shape[-2:] != (rows, cols):
        raise ShapeError(f"{name}: expected trailing shape ({rows}, {cols}), got shape {X.shape}")
    if X.ndim == 2:
        return _c(X[None, None], dt)
    if X.ndim == 4:
        if X.shape[:2] != (B, T):
            raise ShapeError(f"{name}: a 4-d {name} must have shape ({B}, {T}, {rows}, {cols}) "
                             f"(per-system LTV), got {X.shape}")
        return _c(X, dt)
    n = X.shape[0]
    if time_varying is None:
        if n == B and n == T and B != 1:
            raise ShapeError(f"{name}: shape {X.shape} is ambiguous because B == T == {n}; pass "
                             "time_varying=True for (T, d, d) shared LTV or False for (B, d, d) "
                             "per-system LTI")
        if n == B and B != 1:
            time_varying = False
        elif n == T:
            time_varying = True
        elif n == B:
            time_varying = False
        else:
            raise ShapeError(f"{name}: a 3-d {name} must have leading axis B={B} (per-system LTI) or "
                             f"T={T} (shared LTV), got shape {X.shape}")
    if time_varying:
        if n != T:
            raise ShapeError(f"{name}: time_varying=True needs shape ({T}, {rows}, {cols}), got {X.shape}")
        return _c(X[None], dt)
    if n != B:
        raise ShapeError(f"{name}: time_varying=False needs shape ({B}, {rows}, {cols}), got {X.shape}")
    return _c(X[:, None], dt)


def _per_system(X, name: str, B: int, tail: tuple, dt, default=None):
    """Normalise a shared-or-per-system matrix to (BX, *tail)."""
    if X is None:
        return default
    X = as_array(X, name, ndim=(len(tail), len(tail) + 1), dtype=dt)
    if X.ndim == len(tail):
        if X.shape != tail:
            raise ShapeError(f"{name}: expected shape {tail} or {(B, *tail)}, got shape {X.shape}")
        return _c(X[None], dt)
    if X.shape != (B, *tail):
        raise ShapeError(f"{name}: expected shape {tail} or {(B, *tail)}, got shape {X.shape}")
    return _c(X, dt)


def _cost(Q, name: str, n: int, dt):
    if Q is None:
        return np.eye(n, dtype=dt)
    Q = as_array(Q, name, shape=(n, n), dtype=dt)
    return _c(Q, dt)


class RolloutProblem(NamedTuple):
    """Validated inputs of :func:`olc.kernels.rollout` in the kernels' layouts (shapes in the comments).

    Attributes
    ----------
    A, Bm, K, U, M, W, x0, Q, R : numpy.ndarray
    has_U, has_M : bool
    B, T, d, m : int
    unchecked : tuple
    """
    A: np.ndarray      # (BA, TA, d, d)
    Bm: np.ndarray     # (BB, TB, d, m)
    K: np.ndarray      # (BK, m, d)
    U: np.ndarray      # (B, T, m) or (1, 1, m) zeros when absent
    M: np.ndarray      # (BM, H, m, d) or (1, 1, m, d) zeros when absent
    W: np.ndarray      # (B, T, d)
    x0: np.ndarray     # (B, d)
    Q: np.ndarray      # (d, d)
    R: np.ndarray      # (m, m)
    has_U: bool
    has_M: bool
    B: int
    T: int
    d: int
    m: int
    unchecked: tuple = ()   # ((name, array), ...) not yet checked for NaN/Inf (defer_finite=True)


def _dims(W, dt, defer=None):
    lazy = defer is not None and _big(W)
    W = as_array(W, "W", ndim=3, dtype=dt, finite=not lazy)
    if lazy:
        defer.append(("W", W))
    B, T, d = W.shape
    if B < 1 or T < 1 or d < 1:
        raise ShapeError(f"W: expected shape (B, T, d) with B, T, d >= 1, got {W.shape}")
    return _c(W, dt), B, T, d


def _m_from(Bmat):
    shp = np.shape(Bmat)
    if len(shp) < 2:
        raise ShapeError(f"Bmat: expected an array with 2, 3 or 4 dimensions (.., d, m), got shape {shp}")
    return int(shp[-1])


def prep_rollout(A, Bmat, W, *, K=None, U=None, M=None, x0=None, Q=None, R=None, time_varying=None,
                 dtype=None, defer_finite: bool = False) -> RolloutProblem:
    """Validate the arguments of :func:`olc.kernels.rollout`.

    Parameters
    ----------
    A, Bmat, W, K, U, M, x0, Q, R, time_varying, dtype
        As in :func:`olc.kernels.rollout`.
    defer_finite : bool
        True (the numba backend): the NaN/Inf scan of the large streamed inputs (``W``, ``U``, time-varying/per-system
        ``A``, ``Bmat`` with at least ``DEFER_FINITE_MIN_SIZE`` entries) is skipped here — it would read every byte once
        more than the kernel does — and they are listed in ``.unchecked``. Every entry the kernel reads flows into the
        next state, so a NaN/Inf input always makes some state non-finite; the caller then runs :func:`check_deferred`
        (the exact check, raising the same :class:`NonFiniteError`) before reporting a divergence.
    """
    dt = as_dtype(dtype)
    defer = [] if defer_finite else None
    W, B, T, d = _dims(W, dt, defer)
    m = _m_from(Bmat)
    if m < 1:
        raise ShapeError(f"Bmat: expected at least one control column, got shape {np.shape(Bmat)}")
    A4 = _dyn(A, "A", B, T, d, d, time_varying, dt, defer)
    B4 = _dyn(Bmat, "Bmat", B, T, d, m, time_varying, dt, defer)
    K3 = _per_system(K, "K", B, (m, d), dt, default=np.zeros((1, m, d), dt))
    has_U = U is not None
    if has_U:
        lazy = defer is not None and _big(U)
        U3 = as_array(U, "U", shape=(B, T, m), dtype=dt, finite=not lazy)
        if lazy:
            defer.append(("U", U3))
    else:
        U3 = np.zeros((1, 1, m), dt)
    has_M = M is not None
    if has_M:
        M = as_array(M, "M", ndim=(3, 4), dtype=dt)
        if M.shape[-2:] != (m, d) or M.shape[-3] < 1 or (M.ndim == 4 and M.shape[0] != B):
            raise ShapeError(f"M: expected shape (H, {m}, {d}) or ({B}, H, {m}, {d}) with H >= 1, "
                             f"got {M.shape}")
        M4 = _c(M[None] if M.ndim == 3 else M, dt)
    else:
        M4 = np.zeros((1, 1, m, d), dt)
    x0 = np.zeros((B, d), dt) if x0 is None else as_array(x0, "x0", shape=(B, d), dtype=dt)
    return RolloutProblem(A4, B4, K3, _c(U3, dt), M4, W, _c(x0, dt), _cost(Q, "Q", d, dt),
                          _cost(R, "R", m, dt), has_U, has_M, B, T, d, m, tuple(defer or ()))


def check_deferred(p: RolloutProblem) -> None:
    """Run the NaN/Inf check that ``prep_rollout(defer_finite=True)`` skipped (raises
    :class:`olc.errors.NonFiniteError` exactly as the upfront check would).

    Parameters
    ----------
    p : RolloutProblem
    """
    for name, X in p.unchecked:
        as_array(X, name, dtype=X.dtype)


class GPCProblem(NamedTuple):
    """Validated inputs of :func:`olc.kernels.gpc_rollout` in the kernels' layouts (shapes in the comments).

    Attributes
    ----------
    A, Bm, K, W, x0, Q, R, M0, lrs, radii : numpy.ndarray
    op : bool
    B, T, d, m, H : int
    """
    A: np.ndarray      # (BA, TA, d, d)
    Bm: np.ndarray     # (BB, TB, d, m)
    K: np.ndarray      # (BK, m, d)
    W: np.ndarray      # (B, T, d)
    x0: np.ndarray     # (B, d)
    Q: np.ndarray
    R: np.ndarray
    M0: np.ndarray     # (B, H, m, d) initial M (copied: the kernels update it in place)
    lrs: np.ndarray    # (T,) learning rate used at round t
    radii: np.ndarray  # (H,) r_i = kappa (1 - gamma)^i, i = 1..H (inf: no projection)
    op: bool           # True: operator-norm balls; False: Frobenius balls
    B: int
    T: int
    d: int
    m: int
    H: int


def prep_gpc(A, Bmat, W, K, *, H, lr, kappa=np.inf, gamma=0.0, norm="fro", Q=None, R=None, x0=None, M0=None,
             time_varying=None, dtype=None) -> GPCProblem:
    """Validate the arguments of :func:`olc.kernels.gpc_rollout`.

    Parameters
    ----------
    A, Bmat, W, K, H, lr, kappa, gamma, norm, Q, R, x0, M0, time_varying, dtype
        As in :func:`olc.kernels.gpc_rollout`.
    """
    dt = as_dtype(dtype)
    W, B, T, d = _dims(W, dt)
    m = _m_from(Bmat)
    H = positive_int(H, "H")
    A4 = _dyn(A, "A", B, T, d, d, time_varying, dt)
    B4 = _dyn(Bmat, "Bmat", B, T, d, m, time_varying, dt)
    if K is None:
        raise InvalidArgumentError("K: GPC needs a stabilising gain K of shape (m, d) or (B, m, d), got None")
    K3 = _per_system(K, "K", B, (m, d), dt)
    norm = check_choice(norm, "norm", ("fro", "op"))
    if is_scalar(lr):
        lrs = np.full(T, positive(lr, "lr"), dtype=dt)
    else:
        lrs = as_array(lr, "lr", shape=(T,), dtype=dt)
        if np.any(lrs <= 0):
            raise InvalidArgumentError("lr: a learning-rate schedule must be positive at every round")
    kappa = positive(kappa, "kappa", finite=False)  # np.inf: no projection
    gamma = in_range(gamma, "gamma", 0.0, 1.0, hi_open=True)
    # the kernels keep M (copied in and out), its gradient and the (2H, d) disturbance window per system
    check_alloc(8.0 * B * H * (3 * m * d + 2 * d) + 8.0 * H, f"H={H}: the memory-H GPC state of {B} system(s) with "
                f"d={d}, m={m}", "use a smaller H or fewer systems per call")
    radii = (kappa * (1.0 - gamma) ** np.arange(1, H + 1, dtype=np.float64)).astype(dt)
    if M0 is None:
        M0 = np.zeros((B, H, m, d), dt)
    else:
        M0 = as_array(M0, "M0", ndim=(3, 4), dtype=dt)
        if M0.shape[-3:] != (H, m, d) or (M0.ndim == 4 and M0.shape[0] != B):
            raise ShapeError(f"M0: expected shape ({H}, {m}, {d}) or ({B}, {H}, {m}, {d}), got {M0.shape}")
        M0 = np.broadcast_to(M0, (B, H, m, d))
    M0 = np.array(M0, dtype=dt, order="C", copy=True)
    x0 = np.zeros((B, d), dt) if x0 is None else as_array(x0, "x0", shape=(B, d), dtype=dt)
    return GPCProblem(A4, B4, K3, W, _c(x0, dt), _cost(Q, "Q", d, dt), _cost(R, "R", m, dt), M0,
                      _c(lrs, dt), radii, norm == "op", B, T, d, m, H)


def prep_intervals(As, max_length=None, dtype=None):
    """Validate ``As`` (T, d, d) and ``max_length`` (default T) for the interval-norm kernel.

    Parameters
    ----------
    As, max_length, dtype
        As in :func:`olc.kernels.interval_norms`.
    """
    dt = as_dtype(dtype)
    As = as_array(As, "As", ndim=3, dtype=dt)
    T, d, d2 = As.shape
    if d != d2 or T < 1 or d < 1:
        raise ShapeError(f"As: expected shape (T, d, d) with T, d >= 1, got {As.shape}")
    L = T if max_length is None else positive_int(max_length, "max_length")
    check_alloc(8.0 * T * L + 8.0 * 4 * d * d * min(L, T), f"As, max_length: the ({T}, {L}) table of interval norms",
                "pass a smaller max_length")
    return _c(As, dt), min(L, T) if max_length is None else L


def prep_grid(A, b, x0, lrs, momenta, T, precond=None, dtype=None):
    """Validate the quadratic and the (lr, momentum) grid of :func:`olc.kernels.optimizer_grid`.

    Parameters
    ----------
    A, b, x0, lrs, momenta, T, precond, dtype
        As in :func:`olc.kernels.optimizer_grid`.
    """
    dt = as_dtype(dtype)
    A = as_array(A, "A", ndim=2, dtype=np.float64)
    d = A.shape[0]
    if A.shape != (d, d) or d < 1:
        raise ShapeError(f"A: expected a square (d, d) matrix, got shape {A.shape}")
    scale = max(1.0, float(np.max(np.abs(A))))
    if not np.allclose(A, A.T, rtol=0, atol=1e-10 * scale):
        raise InvalidArgumentError("A: the quadratic f(x) = x'Ax/2 + b'x needs a symmetric A "
                                   f"(max |A - A.T| = {np.max(np.abs(A - A.T)):.3g})")
    b = as_array(b, "b", shape=(d,), dtype=np.float64)
    x0 = as_array(x0, "x0", shape=(d,), dtype=np.float64)
    lrs = as_array(lrs, "lrs", ndim=1, dtype=np.float64)
    momenta = as_array(momenta, "momenta", ndim=1, dtype=np.float64)
    if lrs.shape != momenta.shape or lrs.size < 1:
        raise ShapeError(f"lrs, momenta: expected two (G,) arrays of equal length G >= 1, got shapes "
                         f"{lrs.shape} and {momenta.shape} (use np.meshgrid(...).ravel() for a full grid)")
    if np.any(lrs < 0):
        raise InvalidArgumentError(f"lrs: step sizes must be >= 0, got {lrs[lrs < 0][0]:g} at index "
                                   f"{int(np.argmax(lrs < 0))}")
    T = positive_int(T, "T")
    check_alloc(8.0 * lrs.size * (T + 1 + 3 * d), f"T={T}: the ({lrs.size}, {T + 1}) losses of the grid",
                "use fewer steps or grid points per call")
    if precond is not None:
        precond = as_array(precond, "precond", shape=(d,), dtype=np.float64)
        if np.any(precond <= 0):
            raise InvalidArgumentError("precond: the diagonal preconditioner must be positive")
    return A, b, x0, lrs, momenta, T, precond, dt


def eigen_setup(A, b, x0, precond):
    """Diagonalise the (preconditioned) quadratic once: Ã = D^{1/2} A D^{1/2} = V Λ Vᵀ.

    In ``z = Vᵀ D^{−1/2} x`` every method of the grid decouples into d independent scalar (two-term) recursions and
    f(x) = Σ_j ½ λ_j z_j² + c_j z_j with ``c = Vᵀ D^{1/2} b``. Returns ``(lam, V, c, z0, S)`` with ``x = S z``.

    Parameters
    ----------
    A, b, x0, precond : numpy.ndarray
        The validated quadratic, start and diagonal preconditioner (or None) of :func:`prep_grid`.
    """
    sq = np.ones(A.shape[0]) if precond is None else np.sqrt(precond)
    At = sq[:, None] * A * sq[None, :]
    lam, V = np.linalg.eigh(0.5 * (At + At.T))
    c = V.T @ (sq * b)
    z0 = V.T @ (x0 / sq)
    S = sq[:, None] * V
    return lam, V, c, z0, S
