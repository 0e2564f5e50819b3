"""Batched hot loops with interchangeable backends (numpy reference, numba CPU, CuPy GPU).

Public entry points (each validates its arguments once, picks a backend with :func:`olc.backend.resolve_backend`
and dispatches to that backend's module):

* :func:`rollout` — B LTV/LTI systems × T steps under ``u_t = −K x_t + U_t + Σ M^{[i]} w_{t−i}``
  with quadratic costs accumulated in the same pass;
* :func:`gpc_rollout` — B independent GPC games (docs/gpc-semantics.md) in one call;
* :func:`interval_norms` — all interval spectral norms of a matrix sequence (sequential stability,
  nonconvex-meta-optimization Def. 3);
* :func:`optimizer_grid` — heavy-ball / Nesterov / preconditioned GD over an (lr, momentum) grid on a quadratic.

``backend=None`` uses the global default (:func:`olc.set_backend`, ``$OLC_BACKEND``, else ``"auto"``). Results
are NumPy arrays on every backend. See docs/kernels.md.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import is_cupy_array, kernel_module, resolve_backend
from ..errors import DivergenceError, InvalidArgumentError
from ._prep import prep_gpc, prep_grid, prep_intervals, prep_rollout

__all__ = ["rollout", "gpc_rollout", "interval_norms", "optimizer_grid",
           "RolloutResult", "GPCResult", "GridResult"]


class RolloutResult(NamedTuple):
    """Result of :func:`rollout`.

    Attributes
    ----------
    costs, states, controls : numpy.ndarray
        ``(B, T)``; ``(B, T+1, d)`` or None; ``(B, T, m)`` or None.
    """
    costs: np.ndarray
    states: np.ndarray | None
    controls: np.ndarray | None


class GPCResult(NamedTuple):
    """Result of :func:`gpc_rollout`.

    Attributes
    ----------
    costs, controls, M : numpy.ndarray
        ``(B, T)``; ``(B, T, m)`` or None; ``(B, H, m, d)`` final DFC matrices.
    """
    costs: np.ndarray
    controls: np.ndarray | None
    M: np.ndarray


class GridResult(NamedTuple):
    """Result of :func:`optimizer_grid`.

    Attributes
    ----------
    losses, x_final, diverged : numpy.ndarray
        ``(G, T+1)`` f at every iterate (inf after divergence); ``(G, d)`` (NaN rows for diverged points); ``(G,)``.
    """
    losses: np.ndarray
    x_final: np.ndarray
    diverged: np.ndarray


def _host(x):
    """Device arrays → host (validation runs on the host); everything else unchanged."""
    if is_cupy_array(x):
        return x.get()
    return x


def _raise_divergence(first_bad, what, partial, costs=None):
    """DivergenceError for the first (step, system) with a non-finite state (``first_bad``, -1: none); when every state
    stayed finite, a cost that still overflowed (``xᵀQx`` beyond the float range for a finite ``x``) is reported instead
    of returned as ``inf`` (a diverging state's cost may overflow a few steps earlier: the state is reported then)."""
    bad = np.asarray(first_bad)
    state = bool(np.any(bad >= 0))
    if not state:
        over = ~np.isfinite(np.asarray(costs)) if costs is not None else np.zeros((0, 0), bool)
        if not over.any():
            return
        bad = np.where(over.any(axis=1), np.argmax(over, axis=1), -1)
    steps = np.where(bad >= 0, bad, np.iinfo(np.int64).max)
    s = int(steps.min())
    b = int(np.flatnonzero(steps == s)[0])
    n = int(np.count_nonzero(bad >= 0))
    msg = (f"the state of system {b} became non-finite at step {s} (x_{s} has NaN/Inf); {n} of {bad.size} "
           "systems diverged. The partial result (NaN from each system's divergence step on) is in .partial; "
           "check that K stabilises the system or lower the learning rate." if state else
           f"the cost of system {b} overflowed to inf at step {s} although its states stayed finite "
           "(x'Qx or u'Ru beyond the float range); rescale the problem. The partial result is in .partial.")
    err = DivergenceError(f"{what}: {msg}", step=s, partial=partial)
    err.system = b
    raise err


def rollout(A, Bmat, W, *, K=None, U=None, M=None, x0=None, Q=None, R=None, return_states=False,
            return_controls=False, time_varying=None, dtype=None, backend=None) -> RolloutResult:
    """Roll out B linear systems for T steps under linear feedback plus open-loop/DFC controls.

    ``x_{t+1} = A_t x_t + B_t u_t + w_t`` with ``u_t = −K x_t + U_t + Σ_{i=1}^{H} M^{[i]} w_{t−i}``
    (``w_s = 0`` for ``s < 0``) and cost ``c_t = x_tᵀ Q x_t + u_tᵀ R u_t`` (no ½).

    Parameters
    ----------
    A, Bmat : array_like
        ``(d, d)`` shared LTI, ``(B, d, d)`` per-system LTI, ``(T, d, d)`` shared LTV or ``(B, T, d, d)`` per-system
        LTV (when ``B == T`` a 3-d array is ambiguous: pass ``time_varying``); ``Bmat`` with trailing ``(d, m)``.
    W : array_like
        Disturbances ``(B, T, d)`` (system-major; gives B, T and d).
    K, U, M : array_like, optional
        Feedback gain ``(m, d)`` or ``(B, m, d)`` (default 0); open-loop controls ``(B, T, m)`` (default none);
        disturbance-feedback matrices ``(H, m, d)`` or ``(B, H, m, d)``, ``M[i-1] = M^{[i]}``.
    x0, Q, R : array_like, optional
        Initial states ``(B, d)`` (default zeros); cost matrices ``(d, d)``, ``(m, m)`` (default identities).
    return_states, return_controls : bool
        Also return the ``(B, T+1, d)`` states / ``(B, T, m)`` controls.
    time_varying : bool, optional
        Disambiguates a 3-d A/Bmat (True: ``(T, ·, ·)``; False: ``(B, ·, ·)``).
    dtype : {None, "float64", "float32"}
    backend : {None, "numpy", "numba", "cupy", "auto"}
        None: the global default.

    Raises
    ------
    DivergenceError
        A state became non-finite; names the first (step, system) and carries the partial
        :class:`RolloutResult` in ``.partial`` (``.system`` is the system index).

    Examples
    --------
    >>> import numpy as np
    >>> from olc.kernels import rollout
    >>> W = np.zeros((1, 3, 1))
    >>> rollout([[0.5]], [[1.0]], W, x0=[[2.0]], backend="numpy").costs  # x = 2, 1, 0.5: cost x²
    array([[4.  , 1.  , 0.25]])
    """
    name = resolve_backend(backend, A, Bmat, W, K, U, M, x0)
    p = prep_rollout(_host(A), _host(Bmat), _host(W), K=_host(K), U=_host(U), M=_host(M), x0=_host(x0),
                     Q=_host(Q), R=_host(R), time_varying=time_varying, dtype=dtype,
                     defer_finite=(name == "numba"))
    costs, states, controls, first_bad = kernel_module(name).rollout(p, bool(return_states),
                                                                     bool(return_controls))
    res = RolloutResult(costs, states, controls)
    _raise_divergence(first_bad, "rollout", res, costs)
    return res


def gpc_rollout(A, Bmat, W, K, *, H, lr, kappa=np.inf, gamma=0.0, norm="fro", Q=None, R=None, x0=None,
                M0=None, return_controls=False, time_varying=None, dtype=None, backend=None) -> GPCResult:
    """Play B independent GPC games in one call, exactly as docs/gpc-semantics.md.

    Each system ``x_{t+1} = A_t x_t + B_t u_t + w_t`` has its own GPC learner (Agarwal et al. 2019 Alg. 1; the
    controller of nonconvex-meta-optimization Alg. 1): it plays ``u_t = −K x_t + Σ_{i=1}^{H} M^{[i]} w_{t−i}``, pays
    ``x_tᵀQx_t + u_tᵀRu_t``, and takes an OGD step on the counterfactual loss with memory ℓ_t(M) (gradient by reverse
    mode through the H-step rollout from ``y_{t−H} = 0``), then projects each lag onto ``‖M^{[i]}‖ ≤ r_i``,
    ``r_i = kappa (1 − gamma)^i`` (``norm="fro"``: Frobenius ball; ``"op"``: operator-norm ball).

    Parameters
    ----------
    A, Bmat, W, x0, Q, R, time_varying, dtype, backend
        As in :func:`rollout`.
    K : array_like
        Stabilising gain ``(m, d)`` or ``(B, m, d)``.
    H : int
        Memory (≥ 1).
    lr : float or array_like
        Constant step size, or a ``(T,)`` schedule (η used at round t).
    kappa, gamma : float
        Projection radii ``r_i = kappa (1 − gamma)^i``; ``kappa=inf`` disables it.
    norm : {"fro", "op"}
    M0 : array_like, optional
        Initial ``M`` ``(H, m, d)`` or ``(B, H, m, d)``; default zeros (the semantics).
    return_controls : bool
        Also return the played controls ``(B, T, m)``.

    Raises
    ------
    DivergenceError
        A state became non-finite (partial :class:`GPCResult` in ``.partial``).

    Deviations
    ----------
    The simulator knows ``w_t`` and uses it where the semantics recover ``w_t = x_{t+1} − A_t x_t − B_t u_t``
    (identical up to rounding).
    """
    name = resolve_backend(backend, A, Bmat, W, K, x0)
    p = prep_gpc(_host(A), _host(Bmat), _host(W), _host(K), H=H, lr=_host(lr), kappa=kappa, gamma=gamma,
                 norm=norm, Q=_host(Q), R=_host(R), x0=_host(x0), M0=_host(M0), time_varying=time_varying,
                 dtype=dtype)
    costs, controls, Mf, first_bad = kernel_module(name).gpc_rollout(p, bool(return_controls))
    res = GPCResult(costs, controls, Mf)
    _raise_divergence(first_bad, "gpc_rollout", res, costs)
    return res


def interval_norms(As, max_length=None, *, dtype=None, backend=None) -> np.ndarray:
    """Spectral norms of all interval products of a matrix sequence (sequential stability).

    For ``As`` ``(T, d, d)`` returns ``N`` ``(T, max_length)`` (default ``max_length = T``) with
    ``N[r, ℓ−1] = ‖A_{r+ℓ−1} ⋯ A_{r+1} A_r‖₂`` (the exact largest singular value) and NaN where
    ``r + ℓ > T``. A system is (κ, γ) sequentially stable (nonconvex-meta-optimization, Def. 3)
    iff ``N[r, ℓ−1] ≤ κ² (1 − γ)^ℓ`` for every entry. Overflowing products give ``inf``.

    Parameters
    ----------
    As : array_like
    max_length : int, optional
    dtype, backend
        As in :func:`rollout`.
    """
    name = resolve_backend(backend, As)
    As, L = prep_intervals(_host(As), max_length, dtype)
    return kernel_module(name).interval_norms(As, L)


def optimizer_grid(A, b, x0, lrs, momenta, T, *, nesterov=False, precond=None, blowup=1e100,
                   backend=None) -> GridResult:
    """Run heavy-ball (momentum 0: GD), Nesterov or preconditioned GD for every grid point.

    On ``f(x) = ½ xᵀAx + bᵀx`` (least squares ``‖Xx − y‖²/2n`` is ``A = XᵀX/n, b = −Xᵀy/n``), for
    each ``g``: heavy ball ``x_{k+1} = x_k − lrs[g] P ∇f(x_k) + momenta[g] (x_k − x_{k−1})``,
    Nesterov (``nesterov=True``) ``y_k = x_k + μ(x_k − x_{k−1}), x_{k+1} = y_k − η P ∇f(y_k)``,
    with ``x_{−1} = x_0`` and ``P = diag(precond)`` (identity by default; must be positive).
    This is the "best optimizer in class" comparator of nonconvex-meta-optimization (Sec. 3).

    Divergence is not an error: grid point g diverges at the first k with non-finite ``f(x_k)`` or ``|f(x_k)| > blowup``;
    its losses from k on are ``inf``, its final iterate NaN, and ``diverged[g]`` is True. Float64 only.

    Parameters
    ----------
    A, b, x0 : array_like
        Symmetric ``(d, d)``; ``(d,)``; ``(d,)``.
    lrs, momenta : array_like
        ``(G,)`` each (pass a flattened meshgrid for a full grid).
    T : int
    nesterov : bool
    precond : array_like, optional
    blowup : float
    backend : {None, "numpy", "numba", "cupy", "auto"}

    Returns
    -------
    GridResult
    """
    if not (isinstance(blowup, (int, float, np.floating, np.integer)) and blowup > 0):
        raise InvalidArgumentError(f"blowup: expected a positive number (or inf), got {blowup!r}")
    name = resolve_backend(backend, A, b, x0, lrs, momenta)
    A, b, x0, lrs, momenta, T, precond, _ = prep_grid(_host(A), _host(b), _host(x0), _host(lrs),
                                                      _host(momenta), T, _host(precond))
    losses, xf, div = kernel_module(name).optimizer_grid(A, b, x0, lrs, momenta, T, nesterov=bool(nesterov),
                                                         precond=precond, blowup=float(blowup))
    return GridResult(losses, xf, div)
