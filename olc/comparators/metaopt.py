"""Best fixed meta-optimization policy ``M`` in hindsight — the DFC comparator of meta-optimization.

``nonconvex-meta-optimization`` casts optimization as the LTV of App. B (eqs. (1)–(3)) whose disturbances are
the gradients, and meta-optimization as GPC on it: the controller adds ``u_t = −Σ_{h=1}^{H} M^{(h)} g_{t−h+1}``
to the step (Alg. 1; Alg. 4 "Rollout"). As in every non-stochastic control regret bound (Agarwal et al. 2019;
the paper's Thm. 4 / Cor. 6), the comparator plays a *fixed* ``M`` from the start of each episode against the
*realised* disturbances — the gradients ``g_{i,t}`` the learner actually saw:

    x_{t+1}(M) = (1−δ) x_t(M) − η ∇f_i(x_t(M)) − Σ_h M^{(h)} g_{i,t−h+1},   x_0(M) = x_{i,0}

(Alg. 4 run over the whole episode; ``g_s = 0`` for ``s < 0``). For quadratic objectives ``f_i(x) = ½xᵀA_i x +
b_iᵀx + c_i`` the iterates are affine in the parameters ``θ`` of ``M`` (``x_t = c_t + J_t θ``), so the total
loss ``Σ_{i,t} f_i(x_t(M))`` is a convex quadratic in ``θ`` and its minimiser is exact: one (least-norm) linear
solve. Parametrisations as :class:`olc.learners.MetaOpt`: ``"scalar"`` ``(H,)``, ``"diagonal"`` ``(H, n)``,
``"full"`` ``(H, n, n)``; no constraint set (Alg. 7 has none).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, check_choice, nonnegative, positive, positive_int
from ..errors import InvalidArgumentError, ShapeError

__all__ = ["BestFixedM"]


def _quadratic_parts(oracle):
    A = getattr(oracle, "A", None)
    if A is None or not callable(getattr(oracle, "value", None)):
        raise InvalidArgumentError(f"problems: BestFixedM is exact for quadratic oracles (olc.oracles.QuadraticOracle), "
                                   f"got {type(oracle).__name__}")
    b = getattr(oracle, "b", None)
    return np.asarray(A, float), np.zeros(A.shape[0]) if b is None else np.asarray(b, float)


class BestFixedM:
    """Best fixed ``M`` in hindsight over a run of meta-optimization episodes (see module docstring).

    Parameters
    ----------
    H : int
        Memory of ``M``.
    M : {"scalar", "diagonal", "full"}
        Parametrisation of each ``M^{(h)}``.
    base_lr, weight_decay : float
        ``η`` and ``δ`` of the episodes' base step.
    """

    prefix_max_params = 600

    anytime = False

    def __init__(self, H: int, M: str = "scalar", base_lr: float = 0.1, weight_decay: float = 0.0):
        self.H = positive_int(H, "H")
        self.kind = check_choice(M, "M", ("scalar", "diagonal", "full"))
        self.base_lr = positive(base_lr, "base_lr")
        self.weight_decay = nonnegative(weight_decay, "weight_decay")
        self.M = None

    def _n_params(self, n):
        return {"scalar": self.H, "diagonal": self.H * n, "full": self.H * n * n}[self.kind]

    def _dU(self, G, t, n):
        """``∂u_t/∂θ`` for ``u_t = Σ_h M^{(h)} g_{t−h+1}`` (``n × p``)."""
        H = self.H
        cols = [G[t - h] if t - h >= 0 else np.zeros(n) for h in range(H)]  # g_{t-h+1} for h = 1..H
        if self.kind == "scalar":
            return np.stack(cols, axis=1)
        if self.kind == "diagonal":
            return np.concatenate([np.diag(c) for c in cols], axis=1)
        return np.concatenate([np.kron(np.eye(n), c[None, :]) for c in cols], axis=1)

    def _affine(self, oracle, x0, G):
        """``c_t, J_t`` with ``x_t = c_t + J_t θ`` for ``t = 0..T-1``."""
        A, b = _quadratic_parts(oracle)
        n, T = A.shape[0], G.shape[0]
        At = (1.0 - self.weight_decay) * np.eye(n) - self.base_lr * A
        p = self._n_params(n)
        cs, Js = np.empty((T, n)), np.empty((T, n, p))
        c, J = np.array(x0, float), np.zeros((n, p))
        for t in range(T):
            cs[t], Js[t] = c, J
            c = At @ c - self.base_lr * b
            J = At @ J - self._dU(G, t, n)
        return A, b, cs, Js

    def _episodes(self, problems, x0s, grads):
        grads = list(grads)
        problems = list(problems) if isinstance(problems, (list, tuple)) else [problems] * len(grads)
        x0s = list(x0s) if isinstance(x0s, (list, tuple)) or np.ndim(x0s) == 2 else [x0s] * len(grads)
        if not (len(problems) == len(x0s) == len(grads)) or not grads:
            raise InvalidArgumentError(f"problems, x0s, grads: expected one of each per episode, got "
                                       f"{len(problems)}, {len(x0s)}, {len(grads)}")
        out = []
        for i, (o, x0, G) in enumerate(zip(problems, x0s, grads)):
            n = o.dim
            G = as_array(G, f"grads[{i}]", ndim=2)
            if G.shape[1] != n:
                raise ShapeError(f"grads[{i}]: expected shape (T, {n}), got {G.shape}")
            out.append((o, as_array(x0, f"x0s[{i}]", shape=(n,)), G))
        return out

    def fit(self, problems, x0s, grads) -> BestFixedM:
        """Fit ``self.M`` (the minimiser), ``self.episode_loss`` ``(N,)``, ``self.curves`` ``(N, T)`` and
        ``self.prefix_best`` ``(N,)`` (``min_M`` of the loss of episodes ``1..k``, the anytime comparator across
        episodes; None when ``M`` has more than ``prefix_max_params`` parameters).

        Parameters
        ----------
        problems, x0s, grads : list
            Per episode ``i``: the quadratic oracle, the start ``x_{i,0}`` and the realised gradients
            ``g_{i,0..T-1}`` (``EpisodesResult.grads``); one oracle or start is shared by all episodes.
        """
        eps = self._episodes(problems, x0s, grads)
        self._parts, quads = [], []
        for o, x0, G in eps:
            A, b, cs, Js = self._affine(o, x0, G)
            Pi = np.einsum("tnp,nm,tmq->pq", Js, A, Js)  # total loss = ½θᵀPθ + qᵀθ + r
            qi = np.einsum("tnp,tn->p", Js, cs @ A + b)
            ri = float(sum(o.value(c) for c in cs))
            quads.append((Pi, qi, ri))
            self._parts.append((o, cs, Js))
        P, q = sum(p[0] for p in quads), sum(p[1] for p in quads)
        theta = np.linalg.lstsq(P, -q, rcond=None)[0]
        self.prefix_best = None
        if P.shape[0] <= self.prefix_max_params:
            cP, cq, cr, out = 0.0, 0.0, 0.0, []
            for Pi, qi, ri in quads:
                cP, cq, cr = cP + Pi, cq + qi, cr + ri
                th = np.linalg.lstsq(cP, -cq, rcond=None)[0]
                out.append(0.5 * th @ cP @ th + cq @ th + cr)
            self.prefix_best = np.array(out)
        self.theta = theta
        self.M = self._shape(theta, eps[0][0].dim)
        self.curves = self.curves_for(theta)
        self.episode_loss = self.curves.sum(axis=1)
        return self

    def _shape(self, theta, n):
        if self.kind == "scalar":
            return theta
        return theta.reshape((self.H, n) if self.kind == "diagonal" else (self.H, n, n))

    def curves_for(self, M) -> np.ndarray:
        """Per-step losses ``(N, T)`` of a fixed ``M`` (any shape of the parametrisation) on the fitted episodes.

        Parameters
        ----------
        M : array_like
        """
        theta = np.asarray(M, float).ravel()
        out = []
        for o, cs, Js in self._parts:
            xs = cs + Js @ theta
            out.append(np.array([o.value(x) for x in xs]))
        return np.array(out)

    def cost(self, M) -> float:
        """Total loss of a fixed ``M`` (array_like, as in :meth:`curves_for`) over all fitted episodes.

        Parameters
        ----------
        M : array_like
        """
        return float(self.curves_for(M).sum())

    def best_cumulative(self, trace) -> np.ndarray:
        """Running loss of the best fixed ``M`` on the episode of ``trace``, a trace of ``olc.games.optimization``
        (gradients recomputed at its iterates on the quadratic oracle). Not anytime: one ``M`` for the horizon.

        Parameters
        ----------
        trace : olc.Trace
        """
        env = trace.env
        oracle = getattr(env, "oracle", None)
        if oracle is None or "iterates" not in trace.info:
            raise InvalidArgumentError("trace: expected a trace of olc.games.optimization")
        G = np.array([oracle.grad(x) for x in trace.info["iterates"]])
        self.fit([oracle], [env.x0], [G])
        return np.cumsum(self.curves[0])
