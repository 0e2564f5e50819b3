"""Optimizer grids: heavy ball / Nesterov / preconditioned GD over an (lr, momentum) grid on a quadratic."""

import numpy as np
from numba import njit

from .._prep import eigen_setup
from ._pool import _FM, _run


@njit(cache=True, nogil=True, fastmath=_FM)
def _grid_range(lo, hi, lam, c, z0, f0, lrs, momenta, T, nesterov, blowup, losses, Z, diverged):
    d = lam.shape[0]
    z = np.empty(d)
    zp = np.empty(d)
    for g in range(lo, hi):
        for j in range(d):
            z[j] = z0[j]
            zp[j] = z0[j]
        lr = lrs[g]
        mu = momenta[g]
        losses[g, 0] = f0
        # diverged at the first k with non-finite f(x_k) or |f(x_k)| > blowup, k = 0 included
        # (|f| <= blowup alone lets f = +-inf through when blowup is inf)
        div = not (abs(f0) <= blowup and abs(f0) < np.inf)
        if div:
            for kk in range(T + 1):
                losses[g, kk] = np.inf
        for k in range(0 if div else T):
            f = 0.0
            if nesterov:
                for j in range(d):
                    yj = z[j] + mu * (z[j] - zp[j])
                    zn = yj - lr * (lam[j] * yj + c[j])
                    zp[j] = z[j]
                    z[j] = zn
                    f += (0.5 * lam[j] * zn + c[j]) * zn
            else:
                for j in range(d):
                    zn = z[j] - lr * (lam[j] * z[j] + c[j]) + mu * (z[j] - zp[j])
                    zp[j] = z[j]
                    z[j] = zn
                    f += (0.5 * lam[j] * zn + c[j]) * zn
            if not (abs(f) <= blowup and abs(f) < np.inf):
                div = True
                for kk in range(k + 1, T + 1):
                    losses[g, kk] = np.inf
                break
            losses[g, k + 1] = f
        diverged[g] = div
        for j in range(d):
            Z[g, j] = np.nan if div else z[j]


def optimizer_grid(A, b, x0, lrs, momenta, T, *, nesterov=False, precond=None, blowup=1e100):
    """Grid of optimizer rollouts; same contract as :func:`olc.kernels.reference.optimizer_grid`.

    Runs in the eigenbasis of the (preconditioned) quadratic: results equal the reference up
    to rounding (a few ulps times the condition of the change of basis).

    Parameters
    ----------
    A, b, x0, lrs, momenta, T, nesterov, precond, blowup
        As in :func:`olc.kernels.optimizer_grid`.
    """
    lam, _, c, z0, S = eigen_setup(A, b, x0, precond)
    f0 = float(0.5 * x0 @ A @ x0 + b @ x0)
    G = lrs.shape[0]
    losses = np.empty((G, T + 1))
    Z = np.empty((G, A.shape[0]))
    diverged = np.empty(G, np.bool_)
    _run(_grid_range, G, G * T * A.shape[0] * 4.0, np.ascontiguousarray(lam), np.ascontiguousarray(c),
         np.ascontiguousarray(z0), f0, np.ascontiguousarray(lrs), np.ascontiguousarray(momenta), int(T),
         bool(nesterov), float(blowup), losses, Z, diverged)
    return losses, Z @ S.T, diverged
