"""Control-theory math shared by the controllers (:mod:`olc.learners.control`), the control
comparators (:mod:`olc.comparators.control`) and the games: LQR gains (:func:`lqr_gain`, DARE;
:func:`lqr_gains`, finite-horizon Riccati), GPC's set of disturbance-feedback matrices
(:func:`dfc_set` / :class:`DFCSet`), the stabilising gain check (:func:`resolve_gain`) and the
system / cost checks. It lives with the systems, not the learners: it is about the system.
"""

from __future__ import annotations

import numpy as np

from .._validate import (
    as_array,
    check_alloc,
    check_choice,
    check_psd,
    check_square,
    in_range,
    is_scalar,
    positive,
    positive_int,
)
from ..errors import DivergenceError, InvalidArgumentError, ShapeError
from ..sets import FrobeniusBall, OperatorBall, Product
from .costs import QuadraticCost
from .stability import interval_norms

__all__ = ["lqr_gain", "lqr_gains", "DFCSet", "dfc_set", "resolve_gain", "as_quadratic_cost", "check_system"]


def check_system(system, who: str = "system"):
    """Check ``system`` is an olc linear system (``olc.systems.LTISystem`` / ``LTVSystem``).

    Parameters
    ----------
    system : object
    who : str
        The argument name the error message uses.
    """
    need = ("state_dim", "control_dim", "A", "B", "matrices", "is_time_varying")
    if not all(hasattr(system, a) for a in need):
        raise InvalidArgumentError(f"{who}: expected an olc linear system (olc.systems.LTISystem or LTVSystem), "
                                   f"got {type(system).__name__}")
    return system


def as_quadratic_cost(cost, system=None, who: str = "cost"):
    """``cost`` as a :class:`olc.systems.QuadraticCost`; ``Q`` must be PSD and ``R`` positive definite.

    Parameters
    ----------
    cost : QuadraticCost or pair (Q, R)
    system : linear system, optional
        Checks the dimensions against it.
    who : str
    """
    if isinstance(cost, (tuple, list)) and len(cost) == 2:
        cost = QuadraticCost(*cost)
    if not isinstance(cost, QuadraticCost):
        raise InvalidArgumentError(f"{who}: expected an olc.systems.QuadraticCost(Q, R) (or a pair (Q, R)), "
                                   f"got {type(cost).__name__}")
    if system is not None and (cost.state_dim, cost.control_dim) != (system.state_dim, system.control_dim):
        raise ShapeError(f"{who}: Q is {cost.Q.shape} and R is {cost.R.shape}, but the system has state_dim "
                         f"{system.state_dim} and control_dim {system.control_dim}")
    return cost


def lqr_gain(A, B, Q, R) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-horizon discrete LQR: ``K = (R + BᵀPB)⁻¹ BᵀPA`` with ``P`` the stabilising solution
    of the DARE ``P = Q + AᵀPA − AᵀPB (R + BᵀPB)⁻¹ BᵀPA`` (``scipy.linalg.solve_discrete_are``).

    The optimal policy is ``u = −K x``; scaling ``Q`` and ``R`` together leaves ``K`` unchanged, so
    the cost convention (``xᵀQx + uᵀRu``, no ½) does not matter. Returns ``(K, P)``. The inputs are
    checked first, so an ``InvalidArgumentError`` about the Riccati equation means a genuinely
    unstabilisable ``(A, B)`` or undetectable ``(A, Q)``.

    Parameters
    ----------
    A, B : arrays (d, d) and (d, m)
    Q, R : arrays (d, d) symmetric PSD and (m, m) symmetric positive definite

    Examples
    --------
    With ``A = B = Q = R = 1`` the DARE is ``P² = P + 1``: ``P`` is the golden ratio, ``K = P/(1+P)``.

    >>> from olc.systems import lqr_gain
    >>> K, P = lqr_gain([[1.0]], [[1.0]], [[1.0]], [[1.0]])
    >>> bool(np.isclose(P[0, 0], (1 + 5 ** 0.5) / 2)), bool(np.isclose(K[0, 0], P[0, 0] / (1 + P[0, 0])))
    (True, True)
    """
    from scipy.linalg import solve_discrete_are

    A = check_square(A, "A")
    B = as_array(B, "B", shape=(A.shape[0], None))
    Q, R = _check_cost(Q, R, *B.shape)
    try:
        P = solve_discrete_are(A, B, Q, R)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise InvalidArgumentError(f"system: the discrete Riccati equation has no stabilising solution ((A, B) "
                                   f"not stabilisable or (A, Q) not detectable?): {exc}") from None
    P = (P + P.T) / 2
    K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    return K, P


def _check_cost(Q, R, d: int, m: int):
    """``Q`` (d, d) symmetric PSD and ``R`` (m, m) symmetric positive definite (the LQR helpers)."""
    return check_psd(check_square(Q, "Q", d), "Q"), check_psd(check_square(R, "R", m), "R", strict=True)


def lqr_gains(A_seq, B_seq, Q, R, P_final=None) -> tuple[np.ndarray, np.ndarray]:
    """Finite-horizon (time-varying) LQR by the backward Riccati recursion.

    Minimises ``Σ_{t<T} x_tᵀQx_t + u_tᵀRu_t + x_TᵀP_final x_T`` (``P_final`` default 0, the game's
    cost has no terminal term): ``K_t = (R + B_tᵀP_{t+1}B_t)⁻¹ B_tᵀP_{t+1}A_t``,
    ``P_t = Q + A_tᵀP_{t+1}(A_t − B_t K_t)``. Returns ``(K (T, m, d), P (T+1, d, d))``. If ``P_t``
    overflows (an unstable, uncontrollable system over a long horizon), :class:`~olc.errors.DivergenceError`
    has ``err.step = t`` and ``err.partial = (K, P)`` (entries ``t+1..`` of ``K``, ``t+1..T`` of ``P``).

    Parameters
    ----------
    A_seq, B_seq : arrays (T, d, d) and (T, d, m)
    Q, R, P_final : arrays (d, d) PSD, (m, m) positive definite, (d, d) PSD
    """
    A_seq = as_array(A_seq, "A_seq", ndim=3)
    T, d = A_seq.shape[:2]
    if A_seq.shape[2] != d:
        raise ShapeError(f"A_seq: expected a stack of square matrices (T, d, d), got shape {A_seq.shape}")
    B_seq = as_array(B_seq, "B_seq", shape=(T, d, None))
    m = B_seq.shape[2]
    Q, R = _check_cost(Q, R, d, m)
    Ks = np.full((T, m, d), np.nan)
    Ps = np.full((T + 1, d, d), np.nan)
    if P_final is None:
        Ps[T] = np.zeros((d, d))
    else:
        Ps[T] = check_psd(check_square(P_final, "P_final", d), "P_final")
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T - 1, -1, -1):
            A, B, P = A_seq[t], B_seq[t], Ps[t + 1]
            K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
            Pn = Q + A.T @ P @ (A - B @ K)
            if not (np.all(np.isfinite(K)) and np.all(np.isfinite(Pn))):
                raise DivergenceError(
                    f"lqr_gains: the Riccati recursion overflowed at step t={t} (last finite cost-to-go "
                    f"norm {np.linalg.norm(P):.3g} at t={t + 1}); the system is unstable and not controllable "
                    f"enough over this horizon. err.partial = (K, P) holds the steps computed so far "
                    f"(K[{t + 1}:], P[{t + 1}:])", step=t, partial=(Ks, Ps))
            Ks[t], Ps[t] = K, (Pn + Pn.T) / 2
    return Ks, Ps


def _ltv_contracts(As, what: str, max_length: int = 32) -> tuple[bool, float]:
    """Whether every product of ``max_length`` consecutive matrices has spectral norm < 1 (a
    finite-length certificate of sequential stability, ``nonconvex-meta-optimization`` Def. 3).
    The Frobenius norm (an upper bound) is tried first; the exact spectral norm only if needed."""
    L = min(max_length, As.shape[0])
    worst = np.nanmax(interval_norms(As, L, norm="fro", log=True)[:, L - 1])
    if worst < 0:
        return True, float(np.exp(worst))
    worst = np.nanmax(interval_norms(As, L, norm="spectral", log=True)[:, L - 1])
    return bool(worst < 0), float(np.exp(worst))


def resolve_gain(system, cost, K=None, horizon: int | None = None, who: str = "K") -> np.ndarray:
    """The stabilising feedback gain ``K`` (m, d) used by GPC, bandit GPC and the DFC comparator.

    * ``K=None`` on an LTI system: the infinite-horizon LQR gain (:func:`lqr_gain`);
    * ``K=None`` on an LTV system: ``K = 0``, allowed only when the open loop is (sequentially)
      stable — every product of 32 consecutive ``A_t`` (fewer if the horizon is shorter) must have
      norm < 1; otherwise pass a stabilising ``K``;
    * a given ``K`` is checked: for LTI the spectral radius of ``A − BK`` must be < 1, for LTV the
      closed loop ``A_t − B_t K`` must pass the same product test.

    Raises :class:`~olc.errors.InvalidArgumentError` naming ``K`` and the spectral radius (or the
    product norm) when the check fails.

    Parameters
    ----------
    system, cost : linear system and QuadraticCost
    K : array (m, d), optional
    horizon : int, optional
        The LTV horizon to check (default ``system.horizon``).
    who : str
    """
    d, m = system.state_dim, system.control_dim
    if K is None and not system.is_time_varying:
        return lqr_gain(system.A(0), system.B(0), cost.Q, cost.R)[0]
    K0 = np.zeros((m, d)) if K is None else as_array(K, who, shape=(m, d))
    if not system.is_time_varying:
        Acl = system.A(0) - system.B(0) @ K0
        rho = float(np.max(np.abs(np.linalg.eigvals(Acl)))) if d else 0.0
        if not rho < 1:
            raise InvalidArgumentError(f"{who}: the feedback gain does not stabilise the system: the spectral radius "
                                       f"of A - B K is {rho:.6g} >= 1 (pass a stabilising K, e.g. K=None for the "
                                       f"LQR gain)")
        return K0
    T = horizon if horizon is not None else system.horizon
    if T is None:
        raise InvalidArgumentError(f"{who}: the system is time-varying with no horizon; play with a known horizon "
                                   f"so the closed loop can be checked")
    A_seq, B_seq = system.matrices(T)
    ok, worst = _ltv_contracts(np.asarray(A_seq - B_seq @ K0), who)
    if not ok:
        what = "the open loop A_t (K=None means K=0)" if K is None else "the closed loop A_t - B_t K"
        raise InvalidArgumentError(f"{who}: {what} is not sequentially stable: a product of "
                                   f"{min(32, T)} consecutive matrices has spectral norm {worst:.6g} >= 1; "
                                   f"pass a stabilising K")
    return K0


class DFCSet(Product):
    """The disturbance-feedback matrices ``M = (M^{[1]}, ..., M^{[H]})`` with ``||M^{[i]}|| <= r_i``:
    a :class:`olc.sets.Product` projected all lags at once (``P_{rB}(x) = r P_B(x/r)``).

    Parameters
    ----------
    radii : array (H,)
    shape : pair (m, d)
    norm : {"op", "fro"}
        Per-lag :class:`~olc.sets.OperatorBall` or :class:`~olc.sets.FrobeniusBall`.
    """

    def __init__(self, radii, shape, norm: str = "op"):
        self.norm = check_choice(norm, "norm", ("op", "fro"))
        radii = as_array(radii, "radii", ndim=1)
        if radii.size == 0 or np.any(radii <= 0):
            raise InvalidArgumentError(f"radii: expected positive per-lag radii, got {radii}")
        shape = (positive_int(shape[0], "shape[0]"), positive_int(shape[1], "shape[1]"))
        ball = OperatorBall if self.norm == "op" else FrobeniusBall
        super().__init__([ball(float(r), shape=shape) for r in radii])
        self.radii = radii.copy()
        self.radii.setflags(write=False)

    def __repr__(self):
        return f"DFCSet(H={len(self.radii)}, norm={self.norm!r}, radii=[{self.radii[0]:.3g} .. {self.radii[-1]:.3g}])"


def dfc_set(H: int, m: int, d: int, *, kappa_M: float | None = None, gamma: float | None = None,
            radius=None, norm: str = "op") -> DFCSet:
    """The GPC decision set: ``||M^{[i]}|| <= r_i`` for ``i = 1..H`` (docs/gpc-semantics.md).

    Parameters
    ----------
    H, m, d : int
    kappa_M, gamma : float, optional
        ``r_i = kappa_M (1 − gamma)^i`` (the paper's ``κ³(1−γ)^i``; defaults 5 and 0).
    radius : float or array (H,), optional
        Per-lag radii; overrides ``kappa_M``/``gamma``.
    norm : {"op", "fro"}
    """
    H = positive_int(H, "H")
    check_alloc(2e3 * H + 8.0 * H * m * d, f"dfc_set(H={H}): {H} per-lag balls of ({m}, {d}) matrices",
                "use a smaller H")
    if radius is not None:
        if kappa_M is not None or gamma is not None:
            raise InvalidArgumentError("radius: give either radius or kappa_M/gamma, not both")
        if is_scalar(radius):
            r = np.full(H, positive(radius, "radius"))
        else:
            r = as_array(radius, "radius", shape=(H,))
    else:
        kappa_M = 5.0 if kappa_M is None else positive(kappa_M, "kappa_M")
        gamma = 0.0 if gamma is None else in_range(gamma, "gamma", 0.0, 1.0, hi_open=True)
        r = kappa_M * (1.0 - gamma) ** np.arange(1, H + 1)
    return DFCSet(r, (m, d), norm)
