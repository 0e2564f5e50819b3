"""Discrete-time linear systems: ``x_{t+1} = A_t x_t + B_t u_t + w_t``, ``y_t = C x_t``.

Two classes share one interface and one rollout:

* :class:`LTISystem` — fixed ``A`` (d, d) and ``B`` (d, m);
* :class:`LTVSystem` — ``A_t``, ``B_t`` given as stacks of shape (T, d, d) / (T, d, m) or as
  callables ``t -> matrix`` (0-based ``t``; then the horizon is unbounded, ``horizon=None``).

This is the system model of the non-stochastic control papers used throughout olc (``nonconvex-meta-optimization``,
eq. (2)-(3): the optimization LTV ``z_{s+1} = A_s z_s + B u_s + w_s``): the disturbance ``w_t`` is an arbitrary
(possibly adversarial) sequence, the controller sees states and chooses ``u_t``.

Every rollout goes through :func:`rollout` (numpy reference; the batched numba/CuPy kernels mirror it). A state that
overflows or becomes NaN/Inf raises :class:`~olc.errors.DivergenceError` carrying the states computed so far.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validate import as_array, check_alloc, positive, positive_int
from ..errors import DivergenceError, InvalidArgumentError, ShapeError

__all__ = ["LinearSystem", "LTISystem", "LTVSystem", "rollout"]


# --------------------------------------------------------------------------------------------
# the one rollout
# --------------------------------------------------------------------------------------------

def _check_gain(K, T, m, d):
    """A feedback gain ``(m, d)`` or a schedule ``(T, m, d)`` (None passes)."""
    if K is None:
        return None
    K = as_array(K, "K", ndim=(2, 3))
    if K.shape not in ((m, d), (T, m, d)):
        raise ShapeError(f"K: expected shape ({m}, {d}) or ({T}, {m}, {d}), got shape {K.shape}")
    return K


def rollout(A_seq, B_seq, x0, U=None, W=None, K=None, *, max_norm: float | None = None,
            return_controls: bool = False):
    """Roll ``x_{t+1} = A_t x_t + B_t u_t + w_t`` forward from ``x0`` for ``T = len(A_seq)`` steps.

    Parameters
    ----------
    A_seq, B_seq : arrays (T, d, d) and (T, d, m)
        The dynamics at steps ``0..T-1`` (a time-invariant system passes
        ``np.broadcast_to(A, (T, d, d))``, which costs no memory).
    x0 : array (d,)
    U : array (T, m) or None
        Open-loop controls (None: zeros).
    W : array (T, d) or None
        Disturbances (None: zeros).
    K : array (m, d) or (T, m, d) or None
        Linear state feedback; the applied control is ``u_t = U_t - K_t x_t``.
    max_norm : float > 0, optional
        Declare divergence as soon as ``||x_t||_inf`` exceeds it (default None, or ``inf``:
        only non-finite states count).
    return_controls : bool
        Also return the applied controls (T, m).

    Returns
    -------
    X : array (T+1, d) — the states ``x_0..x_T`` (and ``U_applied`` (T, m) when asked).

    Raises
    ------
    DivergenceError
        If ``x_{t+1}`` is non-finite (or above ``max_norm``); ``err.step == t`` and
        ``err.partial`` holds the states ``x_0..x_t`` (shape (t+1, d)).

    Raises :class:`~olc.errors.ShapeError` / :class:`~olc.errors.NonFiniteError` /
    :class:`~olc.errors.InvalidArgumentError` for inputs of the wrong shape, with NaN/Inf, or a
    ``max_norm`` that is not a positive number. This is the numpy reference the kernels mirror.
    Without feedback the input term ``B_t U_t + W_t`` is computed for all steps at once and
    only the recursion ``x <- A_t x + drive_t`` stays a Python loop.
    """
    A_seq = as_array(A_seq, "A_seq", ndim=3)
    T, d = A_seq.shape[0], A_seq.shape[1]
    if A_seq.shape[2] != d:
        raise ShapeError(f"A_seq: expected a stack of square matrices (T, d, d), got shape {A_seq.shape}")
    B_seq = as_array(B_seq, "B_seq", shape=(T, d, None))
    m = B_seq.shape[2]
    x0 = as_array(x0, "x0", shape=(d,))
    if U is not None:
        U = as_array(U, "U", shape=(T, m))
    if W is not None:
        W = as_array(W, "W", shape=(T, d))
    K = _check_gain(K, T, m, d)
    return _rollout(A_seq, B_seq, x0, U, W, K, max_norm=max_norm, return_controls=return_controls)


def _max_norm(max_norm) -> float:
    """``max_norm`` as a bound: None or ``inf`` for none, else a positive finite number."""
    if max_norm is None or (isinstance(max_norm, (float, np.floating)) and max_norm == np.inf):
        return np.inf
    return positive(max_norm, "max_norm")


def _rollout(A_seq, B_seq, x0, U=None, W=None, K=None, *, max_norm=None, return_controls=False):
    """:func:`rollout` on inputs already checked (shapes, finiteness) by the caller."""
    bound = _max_norm(max_norm)
    A_seq = np.asarray(A_seq, dtype=np.float64)
    B_seq = np.asarray(B_seq, dtype=np.float64)
    T, d, _ = A_seq.shape
    m = B_seq.shape[2]
    U = np.zeros((T, m)) if U is None else np.asarray(U, dtype=np.float64)
    drive = np.einsum("tij,tj->ti", B_seq, U)
    if W is not None:
        drive = drive + np.asarray(W, dtype=np.float64)
    if K is not None:
        K = np.asarray(K, dtype=np.float64)
        K_seq = np.broadcast_to(K, (T, m, d)) if K.ndim == 2 else K
        A_seq = A_seq - np.einsum("tij,tjk->tik", B_seq, K_seq)    # closed loop A_t - B_t K_t
    X = np.empty((T + 1, d))
    X[0] = x0
    x = X[0]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            x = A_seq[t] @ x + drive[t]
            if not (np.all(np.isfinite(x)) and np.max(np.abs(x), initial=0.0) <= bound):
                raise DivergenceError(
                    f"rollout diverged: state x_{t + 1} is "
                    f"{'non-finite' if not np.all(np.isfinite(x)) else f'above max_norm={bound:g}'} "
                    f"(last finite state: max |x_{t}| = {np.max(np.abs(X[t]), initial=0.0):.3g}); "
                    f"err.partial holds x_0..x_{t}",
                    step=t, partial=X[: t + 1].copy())
            X[t + 1] = x
    if return_controls:
        applied = U if K is None else U - np.einsum("tij,tj->ti", K_seq, X[:-1])
        return X, applied
    return X


# --------------------------------------------------------------------------------------------
# common interface
# --------------------------------------------------------------------------------------------

class LinearSystem:
    """Common interface of :class:`LTISystem` and :class:`LTVSystem`.

    Attributes
    ----------
    state_dim : int  (d)
    control_dim : int  (m)
    obs_dim : int  (rows of ``C``; ``d`` when ``C`` is None)
    horizon : int or None — number of steps the system is defined for (None: unbounded)
    C : array (p, d) or None
    info : dict — free-form metadata (e.g. a switching schedule, the graph nodes)
    """

    state_dim: int
    control_dim: int
    horizon: int | None
    C: np.ndarray | None
    info: dict

    # subclasses implement _A(t), _B(t) with t already checked
    def _A(self, t: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _B(self, t: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def is_time_varying(self) -> bool:
        raise NotImplementedError  # pragma: no cover

    def _set_C(self, C):
        if C is None:
            self.C = None
            self.obs_dim = self.state_dim
        else:
            self.C = as_array(C, "C", ndim=2)
            if self.C.shape[1] != self.state_dim:
                raise ShapeError(f"C: expected shape (p, {self.state_dim}) to match A of shape "
                                 f"({self.state_dim}, {self.state_dim}), got shape {self.C.shape}")
            self.C.setflags(write=False)
            self.obs_dim = self.C.shape[0]

    def _check_t(self, t) -> int:
        if isinstance(t, bool) or not isinstance(t, (numbers.Integral, np.integer)) or t < 0:
            raise InvalidArgumentError(f"t: expected an integer time step >= 0, got {t!r}")
        if self.horizon is not None and t >= self.horizon:
            raise InvalidArgumentError(f"t: the system is defined for steps 0..{self.horizon - 1} "
                                       f"(horizon {self.horizon}), got t={t}")
        return int(t)

    def A(self, t: int = 0) -> np.ndarray:
        """The dynamics matrix ``A_t`` (d, d) at step ``t`` (0-based).

        Parameters
        ----------
        t : int
        """
        return self._A(self._check_t(t))

    def B(self, t: int = 0) -> np.ndarray:
        """The input matrix ``B_t`` (d, m) at step ``t`` (0-based).

        Parameters
        ----------
        t : int
        """
        return self._B(self._check_t(t))

    def matrices(self, T: int) -> tuple[np.ndarray, np.ndarray]:
        """Stacks ``(A_0..A_{T-1}, B_0..B_{T-1})`` of shapes (T, d, d), (T, d, m).

        Read-only views for an LTI system.

        Parameters
        ----------
        T : int
        """
        raise NotImplementedError  # pragma: no cover

    def _check_T(self, T, name: str) -> int:
        T = positive_int(T, name, minimum=0)
        if self.horizon is not None and T > self.horizon:
            raise ShapeError(f"{name}: the system has horizon {self.horizon}, cannot simulate {T} steps")
        return T

    # ------------------------------------------------------------------ dynamics
    def step(self, t: int, x, u=None, w=None) -> np.ndarray:
        """One step: ``A_t x + B_t u + w``.

        Parameters
        ----------
        t : int
        x : array_like
        u, w : array_like, optional
            None means zeros.

        Raises
        ------
        DivergenceError
            ``partial=x`` if the result is not finite.
        """
        t = self._check_t(t)
        d, m = self.state_dim, self.control_dim
        x = as_array(x, "x", shape=(d,))
        out = self._A(t) @ x
        if u is not None:
            out = out + self._B(t) @ as_array(u, "u", shape=(m,))
        if w is not None:
            out = out + as_array(w, "w", shape=(d,))
        if not np.all(np.isfinite(out)):
            raise DivergenceError(f"step {t}: next state is non-finite (||x|| = {np.linalg.norm(x):.3g})",
                                  step=t, partial=x.copy())
        return out

    def simulate(self, x0, U=None, W=None, K=None, *, T: int | None = None, max_norm: float | None = None,
                 return_controls: bool = False) -> np.ndarray:
        """Roll the system out from ``x0`` and return the states (T+1, d).

        See :func:`rollout` for the divergence behaviour.

        Parameters
        ----------
        x0 : array_like
        U, W : array_like, optional
            Open-loop controls (T, m) and disturbances (T, d); None for zeros.
        K : array_like, optional
            State feedback (m, d) or (T, m, d): the applied control is ``u_t = U_t - K_t x_t``.
        T : int, optional
            ``len(W)`` (or ``len(U)`` when ``W`` is None); needed when both are None.
        max_norm : float, optional
        return_controls : bool
            Also return the applied controls (T, m).

        Examples
        --------
        >>> import numpy as np, olc
        >>> olc.systems.double_integrator(1.0).simulate(np.array([0.0, 1.0]), T=3)
        array([[0., 1.],
               [1., 1.],
               [2., 1.],
               [3., 1.]])
        """
        d, m = self.state_dim, self.control_dim
        x0 = as_array(x0, "x0", shape=(d,))
        if W is not None:
            W = as_array(W, "W", shape=(None, d))
            T_ = W.shape[0]
        elif U is not None:
            T_ = as_array(U, "U", ndim=2).shape[0]
        elif T is not None:
            T_ = T
        else:
            raise InvalidArgumentError("simulate: give the disturbances W (T, d), the controls U (T, m) "
                                       "or the number of steps T")
        if T is not None and T != T_:
            raise ShapeError(f"T: got T={T} but the inputs have {T_} steps")
        T_ = self._check_T(T_, "W" if W is not None else ("U" if U is not None else "T"))
        if U is not None:
            U = as_array(U, "U", shape=(T_, m))
        K = _check_gain(K, T_, m, d)
        A_seq, B_seq = self.matrices(T_)
        return _rollout(A_seq, B_seq, x0, U, W, K, max_norm=max_norm, return_controls=return_controls)

    def observe(self, x) -> np.ndarray:
        """``C x`` (or ``x`` itself when ``C`` is None).

        Parameters
        ----------
        x : array_like
            (d,) or stacked (..., d).
        """
        x = as_array(x, "x")
        if x.ndim == 0 or x.shape[-1] != self.state_dim:
            raise ShapeError(f"x: expected shape (..., {self.state_dim}), got shape {x.shape}")
        return x.copy() if self.C is None else x @ self.C.T

    def closed_loop(self, K) -> LinearSystem:
        """The system under ``u_t = u'_t - K x_t``: same ``B``, dynamics ``A_t - B_t K``.

        Parameters
        ----------
        K : array_like
            (m, d) (or (T, m, d) for an LTV system with finite horizon T).
        """
        raise NotImplementedError  # pragma: no cover

    def __repr__(self) -> str:
        h = "" if self.horizon is None else f", horizon={self.horizon}"
        return f"{type(self).__name__}(state_dim={self.state_dim}, control_dim={self.control_dim}{h})"


def _check_AB(A, B):
    A = as_array(A, "A", ndim=2)
    if A.shape[0] != A.shape[1]:
        raise ShapeError(f"A: expected a square (d, d) matrix, got shape {A.shape}")
    d = A.shape[0]
    B = as_array(B, "B", ndim=(1, 2))
    if B.ndim == 1:
        B = B[:, None]
    if B.shape[0] != d:
        raise ShapeError(f"B: expected shape ({d}, m) to match A of shape {A.shape}, got shape {B.shape}")
    return A, B


class LTISystem(LinearSystem):
    """Time-invariant ``x_{t+1} = A x_t + B u_t + w_t``, ``y_t = C x_t``.

    Parameters
    ----------
    A, B : array_like
        (d, d) and (d, m) (a 1-D ``B`` is read as one column).
    C : array_like, optional
        (p, d).
    """

    def __init__(self, A, B, C=None):
        A, B = _check_AB(A, B)
        self._Amat, self._Bmat = A.copy(), B.copy()
        self._Amat.setflags(write=False)
        self._Bmat.setflags(write=False)
        self.state_dim, self.control_dim = B.shape
        self.horizon = None
        self.info = {}
        self._set_C(C)

    @property
    def is_time_varying(self) -> bool:
        return False

    def _A(self, t):
        return self._Amat

    def _B(self, t):
        return self._Bmat

    def matrices(self, T: int):
        T = self._check_T(T, "T")
        d, m = self.state_dim, self.control_dim
        return np.broadcast_to(self._Amat, (T, d, d)), np.broadcast_to(self._Bmat, (T, d, m))

    @property
    def spectral_radius(self) -> float:
        """``max |eig(A)|`` (the system is stable iff it is < 1)."""
        return float(np.max(np.abs(np.linalg.eigvals(self._Amat)))) if self.state_dim else 0.0

    def closed_loop(self, K) -> LTISystem:
        K = as_array(K, "K", shape=(self.control_dim, self.state_dim))
        return LTISystem(self._Amat - self._Bmat @ K, self._Bmat, self.C)


class LTVSystem(LinearSystem):
    """Time-varying ``x_{t+1} = A_t x_t + B_t u_t + w_t``, ``y_t = C x_t``.

    Callables are evaluated (and their output shape-checked) on every access.

    Parameters
    ----------
    A_seq : array_like or callable
        (T, d, d) or ``t -> (d, d)``.
    B_seq : array_like or callable
        (T, d, m), a single (d, m) matrix (constant input matrix, as in the optimization LTV of
        ``nonconvex-meta-optimization`` eq. (3)), or ``t -> (d, m)``.
    C : array_like, optional
    horizon : int, optional
        With arrays the horizon is T; with callables for both, None (unbounded) unless given.
    info : dict, optional
        Metadata kept in ``system.info``.
    """

    def __init__(self, A_seq, B_seq, C=None, *, horizon: int | None = None, info: dict | None = None):
        self.info = dict(info or {})
        self._Afn = A_seq if callable(A_seq) else None
        self._Bfn = B_seq if callable(B_seq) else None
        T = None
        if self._Afn is None:
            A_arr = as_array(A_seq, "A_seq", ndim=3)
            if A_arr.shape[1] != A_arr.shape[2]:
                raise ShapeError(f"A_seq: expected shape (T, d, d) (square matrices), "
                                 f"got shape {A_arr.shape}")
            if A_arr.shape[0] == 0:
                raise ShapeError("A_seq: expected at least one matrix, got shape " + str(A_arr.shape))
            T = A_arr.shape[0]
            d = A_arr.shape[1]
        else:
            d = None
        if self._Bfn is None:
            B_arr = as_array(B_seq, "B_seq", ndim=(2, 3))
        if d is None:  # A is a callable: learn d from A(0)
            A0 = self._Afn(0)
            A0 = as_array(A0, "A_seq(0)", ndim=2)
            if A0.shape[0] != A0.shape[1]:
                raise ShapeError(f"A_seq(0): expected a square (d, d) matrix, got shape {A0.shape}")
            d = A0.shape[0]
        if self._Bfn is None:
            if B_arr.ndim == 2:
                if B_arr.shape[0] != d:
                    raise ShapeError(f"B_seq: expected shape ({d}, m) or (T, {d}, m) to match A_seq, "
                                     f"got shape {B_arr.shape}")
                m = B_arr.shape[1]
                self._Bconst = B_arr.copy()
                self._Bconst.setflags(write=False)
                self._Barr = None
            else:
                if B_arr.shape[1] != d or (T is not None and B_arr.shape[0] != T):
                    Tname = T if T is not None else "T"
                    raise ShapeError(f"B_seq: expected shape ({Tname}, {d}, m) to match A_seq, "
                                     f"got shape {B_arr.shape}")
                T = B_arr.shape[0] if T is None else T
                m = B_arr.shape[2]
                self._Barr = B_arr.copy()
                self._Barr.setflags(write=False)
                self._Bconst = None
        else:
            B0 = as_array(self._Bfn(0), "B_seq(0)", ndim=2)
            if B0.shape[0] != d:
                raise ShapeError(f"B_seq(0): expected shape ({d}, m) to match A_seq, got shape {B0.shape}")
            m = B0.shape[1]
        if self._Afn is None:
            self._Aarr = A_arr.copy()
            self._Aarr.setflags(write=False)
        if horizon is not None:
            horizon = positive_int(horizon, "horizon")
            if T is not None and horizon > T:
                raise ShapeError(f"horizon: the matrices cover {T} steps, got horizon={horizon}")
            T = horizon
        self.state_dim, self.control_dim, self.horizon = d, m, T
        self._set_C(C)

    @property
    def is_time_varying(self) -> bool:
        return True

    def _A(self, t):
        if self._Afn is None:
            return self._Aarr[t]
        d = self.state_dim
        return as_array(self._Afn(t), f"A_seq({t})", shape=(d, d))

    def _B(self, t):
        if self._Bfn is not None:
            return as_array(self._Bfn(t), f"B_seq({t})", shape=(self.state_dim, self.control_dim))
        return self._Bconst if self._Barr is None else self._Barr[t]

    def matrices(self, T: int):
        T = self._check_T(T, "T")
        d, m = self.state_dim, self.control_dim
        if self._Afn is not None or self._Bfn is not None:
            check_alloc(8.0 * T * d * (d + m), f"{type(self).__name__}.matrices(T={T}): the stacks of {T} matrices "
                        f"A_t ({d}x{d}) and B_t ({d}x{m}) of a system given by functions", "use fewer steps")
        A = self._Aarr[:T] if self._Afn is None else (np.stack([self._A(t) for t in range(T)]) if T
                                                       else np.zeros((0, d, d)))
        if self._Bfn is None:
            B = np.broadcast_to(self._Bconst, (T, d, m)) if self._Barr is None else self._Barr[:T]
        else:
            B = np.stack([self._B(t) for t in range(T)]) if T else np.zeros((0, d, m))
        return A, B

    def closed_loop(self, K) -> LTVSystem:
        d, m = self.state_dim, self.control_dim
        K = as_array(K, "K", ndim=(2, 3))
        if K.ndim == 2:
            if K.shape != (m, d):
                raise ShapeError(f"K: expected shape ({m}, {d}), got shape {K.shape}")
            if self.horizon is None:
                return LTVSystem(lambda t: self._A(t) - self._B(t) @ K, lambda t: self._B(t), self.C,
                                 info=self.info)
            K = np.broadcast_to(K, (self.horizon, m, d))
        if self.horizon is None or K.shape != (self.horizon, m, d):
            raise ShapeError(f"K: expected shape ({m}, {d}) or (horizon={self.horizon}, {m}, {d}), "
                             f"got shape {K.shape}")
        A, B = self.matrices(self.horizon)
        return LTVSystem(A - B @ K, np.array(B), self.C, info=self.info)
