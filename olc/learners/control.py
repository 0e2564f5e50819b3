"""Controllers of linear dynamical systems as olc learners: LQR, GPC, bandit GPC, baselines.

A controller plays the :mod:`olc.games.control` game: it sees the state ``x_t`` as the
observation, decides the control ``u_t`` and, after the round, sees the next state
``x_{t+1}`` in ``feedback.obs`` (plus the cost, the only loss feedback a bandit controller
gets). The disturbance is recovered as ``w_t = x_{t+1} − A_t x_t − B_t u_t``.

* :class:`LQR` — the linear-quadratic regulator: infinite-horizon gain from the discrete
  algebraic Riccati equation (LTI), finite-horizon time-varying Riccati recursion (LTV, or
  ``finite_horizon=True``). Optimal for i.i.d. zero-mean disturbances, not for adversarial ones.
* :class:`GPC` — the Gradient Perturbation Controller (Agarwal, Bullins, Hazan, Kakade &
  Singh 2019, "Online control with adversarial disturbances", Alg. 1; the controller inside
  Alg. 1 of ``nonconvex-meta-optimization``), exactly as specified in ``docs/gpc-semantics.md``:
  ``u_t = −K x_t + Σ_{i=1}^{H} M^{[i]} w_{t−i}`` with ``M`` learned by an olc online learner
  (projected :class:`~olc.learners.OGD` by default, any other such as :class:`~olc.learners.AOFTRL`
  when passed) on the counterfactual losses with memory ``ℓ_t(M)``.
* :class:`BanditGPC` — the Bandit Perturbation Controller (Gradu, Hallman & Hazan 2020,
  "Non-stochastic control with bandit feedback", Alg. 2): same parametrisation, but only the
  scalar cost is observed; ``M`` is learned by :class:`~olc.learners.BCOMemory`
  (``nonconvex-meta-optimization`` Alg. 6).
* :class:`ZeroController`, :class:`LinearFeedback` — baselines ``u = 0`` and ``u = −K x``.

The control math they share with the comparators (LQR gains, Riccati recursion, the DFC set,
the gain check) is in :mod:`olc.systems.control`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validate import as_array, check_alloc, no_start, positive, positive_int
from ..errors import InvalidArgumentError, ShapeError
from ..game import Feedback, Learner
from ..optim import InverseSqrt, Power, as_schedule
from ..systems.control import DFCSet, as_quadratic_cost, check_system, dfc_set, lqr_gain, lqr_gains, resolve_gain
from .bandit import BCOMemory
from .oco import OGD

__all__ = ["LQR", "GPC", "BanditGPC", "ZeroController", "LinearFeedback"]


# ---------------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------------

def _obs_state(obs, d: int, who: str) -> np.ndarray:
    if obs is None:
        raise InvalidArgumentError(f"{who}: needs the state as observation; play it in olc.games.control")
    x = np.asarray(obs, dtype=float)
    if x.shape != (d,):
        raise ShapeError(f"{who}: expected the observed state of shape ({d},), got shape {x.shape}")
    return x


def _check_shape(shape, m: int, who: str):
    if tuple(shape) != (m,):
        raise ShapeError(f"shape: {who} decides controls of shape ({m},), the game asks for {tuple(shape)}")


class _StepState(NamedTuple):
    t: int


class _ZeroState(NamedTuple):
    t: int
    u: np.ndarray  # the zero control of the game's shape


class ZeroController(Learner):
    """The open-loop baseline ``u_t = 0``: the member ``K = 0, M = 0`` of the disturbance-action
    policy class of Agarwal et al. 2019 ("Online control with adversarial disturbances", Sec. 3);
    needs only the decision shape. No constructor arguments."""

    feedback = "bandit"

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        no_start(x0, "ZeroController")
        return _ZeroState(0, np.zeros(tuple(shape)))

    def decide(self, state, obs, rng=None):
        return state.u.copy(), state

    def update(self, state, feedback):
        return state._replace(t=state.t + 1)


class LinearFeedback(Learner):
    """Static linear state feedback ``u_t = −K x_t``: the linear policy class of Agarwal et al. 2019
    (Sec. 3; the comparator class :class:`olc.comparators.LinearStateFeedback`).

    Parameters
    ----------
    K : array (m, d), or (T, m, d) time-varying (covering the game's horizon)
    """

    feedback = "bandit"

    def __init__(self, K):
        self.K = as_array(K, "K", ndim=(2, 3))

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        no_start(x0, "LinearFeedback")
        m = self.K.shape[-2]
        _check_shape(shape, m, type(self).__name__)
        if self.K.ndim == 3 and horizon is not None and self.K.shape[0] < horizon:
            raise ShapeError(f"K: a time-varying gain covers {self.K.shape[0]} steps, the game has {horizon}")
        return _StepState(0)

    def _gain(self, t):
        return self.K if self.K.ndim == 2 else self.K[t]

    def decide(self, state, obs, rng=None):
        K = self._gain(state.t)
        return -K @ _obs_state(obs, K.shape[1], type(self).__name__), state

    def update(self, state, feedback):
        return _StepState(state.t + 1)


class LQR(Learner):
    """Linear-quadratic regulator ``u_t = −K_t x_t``.

    LTI systems: the infinite-horizon gain of :func:`lqr_gain` (``scipy.linalg.solve_discrete_are``),
    or with ``finite_horizon=True`` the finite-horizon gains over the game's horizon. LTV systems:
    the finite-horizon Riccati recursion :func:`lqr_gains` over the game's horizon (no terminal
    cost: the game charges ``Σ_{t<T} c_t``). For zero-mean i.i.d. disturbances the finite-horizon
    policy minimises the expected cost; it is not robust to adversarial disturbances — the gap
    GPC closes. ``self.K`` / ``self.P`` hold the gain and Riccati solution (LTI, infinite horizon);
    time-varying gains live in the learner state (``state.K``).

    References: Anderson & Moore, *Optimal Control: Linear Quadratic Methods* (1990), Sec. 2.3
    (finite horizon) and Sec. 3.1 (the algebraic Riccati equation).

    Parameters
    ----------
    system, cost : olc.systems.LTISystem / LTVSystem and QuadraticCost (or a pair ``(Q, R)``)
    finite_horizon : bool, optional
        None: True for LTV systems, False for LTI.
    """

    feedback = "bandit"

    def __init__(self, system, cost, finite_horizon: bool | None = None):
        self.system = check_system(system)
        self.cost = as_quadratic_cost(cost, system)
        if finite_horizon is not None and not isinstance(finite_horizon, (bool, np.bool_)):
            raise InvalidArgumentError(f"finite_horizon: expected True, False or None, got {finite_horizon!r} "
                                       f"({type(finite_horizon).__name__})")
        self.finite_horizon = bool(system.is_time_varying if finite_horizon is None else finite_horizon)
        if system.is_time_varying and not self.finite_horizon:
            raise InvalidArgumentError("finite_horizon: a time-varying system needs the finite-horizon Riccati "
                                       "recursion (finite_horizon=True)")
        self.K = self.P = None
        if not self.finite_horizon:
            self.K, self.P = lqr_gain(system.A(0), system.B(0), self.cost.Q, self.cost.R)

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        no_start(x0, "LQR")
        _check_shape(shape, self.system.control_dim, "LQR")
        if not self.finite_horizon:
            return LQRState(0, self.K)
        T = horizon if horizon is not None else self.system.horizon
        if T is None:
            raise InvalidArgumentError("horizon: the finite-horizon LQR needs the game's horizon")
        A_seq, B_seq = self.system.matrices(T)
        Ks, _ = lqr_gains(A_seq, B_seq, self.cost.Q, self.cost.R)
        return LQRState(0, Ks)

    def decide(self, state, obs, rng=None):
        K = state.K if state.K.ndim == 2 else state.K[state.t]
        return -K @ _obs_state(obs, K.shape[1], "LQR"), state

    def update(self, state, feedback):
        return state._replace(t=state.t + 1)


class LQRState(NamedTuple):
    t: int
    K: np.ndarray  # (m, d) or (T, m, d)


# ---------------------------------------------------------------------------------------------
# GPC
# ---------------------------------------------------------------------------------------------

class GPCState(NamedTuple):
    """State of :class:`GPC` / :class:`BanditGPC` (explicit arrays; see DESIGN.md)."""

    inner: Any  # the inner learner's state (over M)
    M: np.ndarray  # (H, m, d) the M played this round
    w: np.ndarray  # (2H, d) disturbances w_{t-1}, ..., w_{t-2H} (newest first; 0 before time 0)
    x: np.ndarray  # x_t
    u: np.ndarray  # u_t played
    t: int
    A: np.ndarray | None  # (T, d, d) dynamics of an LTV system (None: LTI)
    B: np.ndarray | None  # (T, d, m)


class _DFCBase(Learner):
    """Common parts of GPC and bandit GPC: gain, M-set, disturbance buffer, control law."""

    def _setup(self, system, cost, H, K, kappa_M, gamma, radius, norm):
        self.system = check_system(system)
        self.cost = as_quadratic_cost(cost, system)
        self.H = positive_int(H, "H")
        self.d, self.m = system.state_dim, system.control_dim
        H, d, m = self.H, self.d, self.m
        # the (H+1, H·d) window of past disturbances used by every update, the H-step transfer matrices
        # Ã^k, Ã^k B (LTI) and the H per-lag balls of the M set
        check_alloc(8.0 * (H + 1) * H * (d + 1) + 8.0 * H * (4 * d * d + 4 * d * m) + 2e3 * H,
                    f"{type(self).__name__}(H={H}): the memory-H disturbance window and transfer matrices for "
                    f"d={d}, m={m}", "use a smaller H (the regret bounds need H ~ log T)")
        self._K_arg = K
        self.time_varying = bool(system.is_time_varying)
        if not self.time_varying or system.horizon is not None:
            self.K = resolve_gain(system, self.cost, K)
        else:  # an LTV system without a horizon: the closed loop is checked over each game's horizon in init
            self.K = np.zeros((m, d)) if K is None else as_array(K, "K", shape=(m, d))
        self.Mset = dfc_set(self.H, self.m, self.d, kappa_M=kappa_M, gamma=gamma, radius=radius, norm=norm)
        self.kappa_M, self.gamma, self.radius, self.norm = kappa_M, gamma, radius, self.Mset.norm  # as given
        H = self.H
        j = np.arange(H + 1)[:, None]
        i = np.arange(1, H + 1)[None, :]
        # Ω[j, i-1] = w_{s_j - i} with s_j = t-H+j; in the newest-first buffer b[k] = w_{t-1-k}
        self._win = (H - 1 - j + i).ravel()
        self._A0 = self._B0 = None
        if not self.time_varying:
            self._A0, self._B0 = np.array(system.A(0)), np.array(system.B(0))

    def _gain_for(self, horizon):
        if self.time_varying and self.system.horizon is None:  # checked over this horizon (K itself is fixed)
            resolve_gain(self.system, self.cost, self._K_arg, horizon=horizon)
        return self.K

    def _init_common(self, shape, horizon):
        _check_shape(shape, self.m, type(self).__name__)
        if self.time_varying and self.system.horizon is None:
            # LTV with unbounded horizon: the closed loop is checked over *this* game's horizon on every
            # init (K itself does not depend on it)
            if horizon is None:
                raise InvalidArgumentError(f"horizon: {type(self).__name__} on a time-varying system needs the "
                                           f"game's horizon")
            self._gain_for(horizon)
        A = B = None
        if self.time_varying:
            T = horizon if horizon is not None else self.system.horizon
            if T is None:
                raise InvalidArgumentError(f"horizon: {type(self).__name__} on a time-varying system needs the "
                                           f"game's horizon")
            A, B = (np.ascontiguousarray(a) for a in self.system.matrices(T))
        return A, B, np.zeros((2 * self.H, self.d))

    def _control(self, M, wbuf, x):
        """``u = −K x + Σ_i M^{[i]} w_{t−i}`` (``wbuf[i-1] = w_{t-i}``)."""
        H, m, d = self.H, self.m, self.d
        return wbuf[:H].ravel() @ M.transpose(0, 2, 1).reshape(H * d, m) - self.K @ x

    def _recover_w(self, state, feedback):
        x_next = feedback.obs
        if x_next is None:
            raise InvalidArgumentError(f"{type(self).__name__}: the feedback carries no next state (feedback.obs); "
                                       f"play it in olc.games.control")
        x_next = np.asarray(x_next, dtype=float)
        if x_next.shape != (self.d,):
            raise ShapeError(f"{type(self).__name__}: expected the next state of shape ({self.d},), "
                             f"got {x_next.shape}")
        if state.A is None:
            return x_next - self._A0 @ state.x - self._B0 @ state.u
        return x_next - state.A[state.t] @ state.x - state.B[state.t] @ state.u

    @staticmethod
    def _push(wbuf, w):
        out = np.empty_like(wbuf)
        out[1:] = wbuf[:-1]
        out[0] = w
        return out

    def _new_state(self, inner, A, B, z):
        zero = np.zeros((self.H, self.m, self.d))
        return GPCState(inner, zero, z, np.zeros(self.d), np.zeros(self.m), 0, A, B)

    def decide(self, state, obs, rng=None):
        x = _obs_state(obs, self.d, type(self).__name__)
        M, inner = self.learner.decide(state.inner, None, rng)
        u = self._control(M, state.w, x)
        return u, GPCState(inner, M, state.w, x, u, state.t, state.A, state.B)


class GPC(_DFCBase):
    """Gradient Perturbation Controller — Agarwal et al. 2019, Alg. 1; the controller of
    ``nonconvex-meta-optimization`` Alg. 1. Follows ``docs/gpc-semantics.md`` exactly.

    Round ``t`` (0-based): play ``u_t = −K x_t + Σ_{i=1}^{H} M^{[i]} w_{t−i}``; see ``x_{t+1}``;
    recover ``w_t``; form the counterfactual loss with memory ``ℓ_t(M) = y_tᵀQy_t + v_tᵀRv_t``
    (the state and control had ``M`` been played from ``t−H`` on, starting from ``y_{t−H} = 0``);
    hand ``∇ℓ_t(M_t)`` — exact, by reverse mode through the H-step linear rollout — to the inner
    online learner, whose next decision is the next ``M``.

    Parameters
    ----------
    system : olc.systems.LTISystem or LTVSystem
    cost : olc.systems.QuadraticCost (``xᵀQx + uᵀRu``) or a pair ``(Q, R)``
    H : int — memory (number of lags of ``M``)
    K : (m, d) stabilising gain; default the LQR gain for LTI systems, 0 for (sequentially) stable
        LTV systems (see :func:`resolve_gain`; a non-stabilising ``K`` is rejected).
    lr : learning rate ``η_t`` of the default inner learner (a number or a schedule of ``t+1``); default
        ``InverseSqrt(0.01)`` (the gradient scales with the squared disturbance size: scale ``lr`` by
        ``1/|w|²`` for other disturbance levels). Give it to ``learner`` instead when passing one.
    kappa_M, gamma, radius, norm : the set ``||M^{[i]}|| <= r_i``, ``r_i = kappa_M (1−gamma)^i``
        (:func:`olc.systems.dfc_set`; defaults ``kappa_M = 5``, ``gamma = 0``, operator norm).
    learner : the inner olc learner over decisions ``(H, m, d)``; default ``OGD(self.Mset, lr)``, the
        paper's projected step ``M ← Π(M − η_t ∇ℓ_t(M))``. For the regret bounds build it over the
        same set, e.g. ``AOFTRL(dfc_set(H, m, d), hint="previous", scale=0.05)`` (AO-FTRL with the
        previous gradient as hint, ``β_t = 0.05 / sqrt(1 + Σ||g_s − h_s||²)``).

    Deviations: none from docs/gpc-semantics.md. On LTI systems the H-step forward/backward pass
    uses precomputed powers of ``A − BK`` (one matrix-vector product each way instead of an
    H-step loop; same maths, equal to the loop to rounding); on LTV systems it is the loop.
    """

    feedback = "full"

    def __init__(self, system, cost, H: int = 10, K=None, lr=None, kappa_M: float | None = None,
                 gamma: float | None = None, radius=None, norm: str = "op", learner=None):
        self._setup(system, cost, H, K, kappa_M, gamma, radius, norm)
        if learner is not None and (isinstance(learner, type) or not all(callable(getattr(learner, a, None))
                                                                          for a in ("init", "decide", "update"))):
            raise InvalidArgumentError(f"learner: expected an olc learner (init/decide/update), e.g. OGD(...) or "
                                       f"AOFTRL(...) over olc.systems.dfc_set(H, m, d), got {learner!r}")
        if learner is not None and lr is not None:
            raise InvalidArgumentError(f"lr: got lr={lr!r} and a learner; give the learning rate to the learner")
        self.lr = None if learner is not None else as_schedule(InverseSqrt(0.01) if lr is None else lr)
        self.learner = learner if learner is not None else OGD(self.Mset, lr=self.lr)
        self._precompute()

    # LTI: Ψ_k = Ã^k B, Φ_k = Ã^k with Ã = A − BK; y_t = Σ_{k<H} Ψ_k dfc_{H-1-k} + Φ_k w_{t-1-k}
    def _precompute(self):
        self._Zd = self._Zw = self._Zt = self._Z = None
        self._KT = np.ascontiguousarray(self.K.T)
        if self.time_varying:
            return
        H, d, m = self.H, self.d, self.m
        At = self._A0 - self._B0 @ self.K
        Phi = np.empty((H, d, d))
        Phi[0] = np.eye(d)
        for k in range(1, H):
            Phi[k] = At @ Phi[k - 1]
        Psi_r = (Phi @ self._B0)[::-1]  # index j -> Ψ_{H-1-j}, multiplies dfc_j
        self._Zd = np.ascontiguousarray(Psi_r.transpose(1, 0, 2).reshape(d, H * m))
        self._Zw = np.ascontiguousarray(Phi.transpose(1, 0, 2).reshape(d, H * d))  # multiplies b[:H] = w_{t-1..t-H}
        self._Zt = np.ascontiguousarray(self._Zd.T)  # rows j: Ψ_{H-1-j}ᵀ
        self._Z = np.concatenate([self._Zd, self._Zw], axis=1)

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        no_start(x0, "GPC")
        A, B, z = self._init_common(shape, horizon)
        inner = self.learner.init((self.H, self.m, self.d), rng, horizon=horizon)
        return self._new_state(inner, A, B, z)

    def counterfactual(self, M, wbuf, t: int, A_seq=None, B_seq=None):
        """``(ℓ_t(M), ∇_M ℓ_t(M))`` of docs/gpc-semantics.md step 4.

        Parameters
        ----------
        M, wbuf, t : arrays (H, m, d) and (2H, d) ``(w_{t−1}, ..., w_{t−2H})`` newest first, int
        A_seq, B_seq : arrays, optional
            The LTV stacks (None for LTI).
        """
        H, m, d = self.H, self.m, self.d
        Om2 = wbuf.take(self._win, axis=0).reshape(H + 1, H * d)  # row j: (w_{s_j-1}, ..., w_{s_j-H})
        dfc = Om2 @ M.transpose(0, 2, 1).reshape(H * d, m)  # (H+1, m): Σ_i M^{[i]} w_{s_j - i}
        K, KT, Q, R = self.K, self._KT, self.cost.Q, self.cost.R
        if A_seq is None:
            y = self._Z @ np.concatenate((dfc[:H].ravel(), wbuf[:H].ravel()))
            v = dfc[H] - K @ y
            Qy, Rv = Q @ y, R @ v
            gv = np.empty((H + 1, m))
            gv[H] = 2.0 * Rv
            gy = 2.0 * Qy - KT @ gv[H]
            gv[:H] = (self._Zt @ gy).reshape(H, m)
        else:
            ys = np.empty((H + 1, d))
            ys[0] = 0.0
            idx = [max(t - H + j, 0) for j in range(H)]
            for j in range(H):
                s = idx[j]
                ys[j + 1] = A_seq[s] @ ys[j] + B_seq[s] @ (dfc[j] - K @ ys[j]) + wbuf[H - 1 - j]
            y = ys[H]
            v = dfc[H] - K @ y
            Qy, Rv = Q @ y, R @ v
            gv = np.empty((H + 1, m))
            gv[H] = 2.0 * Rv
            gy = 2.0 * Qy - KT @ gv[H]
            for j in range(H - 1, -1, -1):
                s = idx[j]
                gv[j] = B_seq[s].T @ gy
                gy = A_seq[s].T @ gy - KT @ gv[j]
        loss = float(y @ Qy + v @ Rv)
        grad = (gv.T @ Om2).reshape(m, H, d).transpose(1, 0, 2)  # Σ_j gv_j ⊗ w_{s_j - i}
        return loss, grad

    def update(self, state, feedback):
        w = self._recover_w(state, feedback)
        loss, grad = self.counterfactual(state.M, state.w, state.t, state.A, state.B)
        inner = self.learner.update(state.inner, Feedback(state.t, "gradient", loss, grad))
        return GPCState(inner, state.M, self._push(state.w, w), state.x, state.u, state.t + 1, state.A, state.B)

    def current_M(self, state) -> np.ndarray:
        """The ``M`` the controller would play next (for OGD: the inner iterate).

        Parameters
        ----------
        state : the learner state
        """
        return self.learner.decide(state.inner, None, None)[0]

    def run_batch(self, W, x0=None, backend: str | None = None, return_controls: bool = False):
        """Play ``B`` independent copies of this controller, one per disturbance sequence, in one
        kernel call — :func:`olc.kernels.gpc_rollout`. Returns its ``GPCResult(costs (B, T), controls,
        M (B, H, m, d))``; for every ``b`` the costs equal
        ``olc.play(gpc, olc.games.control(system, W[b], cost, x0)).losses`` (tested to 1e-10).
        Needs an :class:`~olc.learners.OGD` inner learner over a
        :class:`~olc.systems.DFCSet` with per-lag radii of the form ``kappa_M (1 - gamma)^i``.

        Parameters
        ----------
        W, x0 : arrays (B, T, d) or (T, d), and (d,) or (B, d)
        backend : {"numpy", "numba", "cupy"}, optional
            None: the global default.
        return_controls : bool
        """
        from .. import kernels

        inner = self.learner
        if not (type(inner) is OGD and isinstance(inner.K, DFCSet) and inner.x0 is None):
            raise InvalidArgumentError(f"learner: run_batch plays an OGD inner learner over a DFCSet only, got {inner!r}")
        W = as_array(W, "W", ndim=(2, 3))
        if W.ndim == 2:
            W = W[None]
        if W.shape[2] != self.d:
            raise ShapeError(f"W: expected disturbances of dimension {self.d}, got shape {W.shape}")
        T = W.shape[1]
        K = self._gain_for(T)
        r = inner.K.radii
        gamma = 1.0 - r[1] / r[0] if len(r) > 1 else 0.0
        kappa = r[0] / (1.0 - gamma)
        if not np.allclose(kappa * (1.0 - gamma) ** np.arange(1, len(r) + 1), r, rtol=1e-12):
            raise InvalidArgumentError("radius: run_batch needs per-lag radii kappa_M (1 - gamma)^i")
        if self.time_varying:
            A, Bm = self.system.matrices(T)
        else:
            A, Bm = self._A0, self._B0
        lr = np.array([inner.lr(t) for t in range(1, T + 1)])
        return kernels.gpc_rollout(A, Bm, W, K, H=self.H, lr=lr, kappa=kappa, gamma=gamma, norm=inner.K.norm,
                                   Q=self.cost.Q, R=self.cost.R, x0=x0, return_controls=return_controls,
                                   time_varying=self.time_varying, backend=backend)


class BanditGPC(_DFCBase):
    """Bandit Perturbation Controller (Gradu, Hallman & Hazan 2020, "Non-stochastic control with
    bandit feedback", Alg. 2): GPC's parametrisation ``u_t = −K x_t + Σ_i M̃_t^{[i]} w_{t−i}``,
    but only the scalar cost ``c_t(x_t, u_t)`` is observed (``feedback = "bandit"``; states still
    arrive as observations, so ``w_t`` is recovered as in GPC).

    ``M`` is learned by :class:`~olc.learners.BCOMemory` (``nonconvex-meta-optimization``
    Alg. 6) over the same per-lag ball set as GPC: it plays ``M̃_t = M_t + δ ε_t`` (``ε_t``
    uniform on the unit sphere of all ``H·m·d`` entries; ``M_t`` kept in the shrunk set so
    ``M̃_t`` stays feasible), stores ``g_t = (Hmd/δ) c_t Σ_{i<L} ε_{t−i}`` and steps
    ``M_{t+1} = Π(M_t − η_t g_{t−L+1})``. The perturbation is played, never accumulated.

    Deviation: none from Alg. 6; the hyperparameters of Thm. 5 are only fixed up to constants.
    With ``n`` in the tens, bandit GPC needs far longer horizons than GPC to learn ``M``.

    Parameters
    ----------
    system, cost, H, K, kappa_M, gamma, radius, norm
        As :class:`GPC`.
    delta : float, optional
        Perturbation radius; default BCOMemory's ``(r/2) T^{-1/4}``, ``r`` the smallest lag radius capped at 1.
    lr : float or schedule, optional
        Default ``Power(c, 3/4)``, ``η_t = c t^{-3/4}`` as in Thm. 5, with the conservative
        ``c = 0.01 r δ / (n √L)`` for ``n = H m d`` entries: the random walk the one-point estimates
        ``(n/δ) c_t Σε`` drive stays well inside the set for costs of order one (scale it by
        ``1/cost`` level for other problems).
    memory : int, optional
        ``L`` (default ``H``: Alg. 2 sums ``H`` perturbations).
    """

    feedback = "bandit"

    def __init__(self, system, cost, H: int = 10, K=None, delta: float | None = None, lr=None,
                 kappa_M: float | None = None, gamma: float | None = None, radius=None, norm: str = "op",
                 memory: int | None = None):
        self._setup(system, cost, H, K, kappa_M, gamma, radius, norm)
        self.delta = None if delta is None else positive(delta, "delta")
        self.lr = None if lr is None else as_schedule(lr)
        self.memory = self.H if memory is None else positive_int(memory, "memory")
        # the inner learner resolves δ (default (r/2) T^{-1/4}) and its step sizes into its state at init
        self.learner = BCOMemory(self.Mset, self.memory, delta=self.delta, lr=self.lr)

    def init(self, shape, rng=None, horizon=None, *, x0=None):
        no_start(x0, "BanditGPC")
        A, B, z = self._init_common(shape, horizon)
        if rng is None:
            raise InvalidArgumentError("rng: BanditGPC samples perturbations; pass a numpy Generator (olc.play does)")
        if self.delta is None and horizon is None:  # BCOMemory's default δ = (r/2) T^{-1/4} needs the horizon
            raise InvalidArgumentError("delta: pass delta to BanditGPC, or play with a known horizon")
        inner = self.learner.init((self.H, self.m, self.d), rng, horizon=horizon)
        if self.lr is None:  # η_t = c t^{-3/4} with c = 0.01 r δ / (n √L) (see the class docstring)
            n = self.H * self.m * self.d
            inner = inner._replace(lr=Power(0.01 * float(self.Mset.inradius) * inner.delta /
                                            (n * np.sqrt(self.memory)), 0.75))
        return self._new_state(inner, A, B, z)

    def update(self, state, feedback):
        w = self._recover_w(state, feedback)
        inner = self.learner.update(state.inner, Feedback(state.t, "bandit", float(feedback.value)))
        return GPCState(inner, state.M, self._push(state.w, w), state.x, state.u, state.t + 1, state.A, state.B)

    def current_M(self, state) -> np.ndarray:
        """The unperturbed iterate ``M_t`` of the inner BCO learner.

        Parameters
        ----------
        state : the learner state
        """
        return state.inner.x
