"""Pieces shared by the experiments that train torch networks (private; torch is imported lazily).

* :func:`train` — minibatch training of a model by an optimizer, with evaluation curves; a NaN/Inf
  is reported as a diverged run (``diverged_at``) instead of an exception.
* :func:`tune`, :func:`mean_ci`, :func:`paired_ci` — re-exported from :mod:`olc.experiments._evidence`
  (1-D grid search extended to an interior optimum; 95 % Student-t intervals over seeds); claims and
  PROTOCOL tables come from there too.
"""

from __future__ import annotations

import math

from ..errors import NonFiniteError
from ._evidence import mean_ci, paired_ci, tune  # noqa: F401  (re-exported for the torch experiments)


def train(model, opt, X, y, *, steps: int, batch: int, rng, eval_every: int, evals: dict, loss_fn=None):
    """``steps`` minibatch steps, evaluating accuracy every ``eval_every`` steps, at step 0 and at the end.

    Parameters
    ----------
    model : torch.nn.Module
    opt : torch.optim.Optimizer
    X, y : torch.Tensor
        The training data.
    steps, batch : int
    rng : numpy.random.Generator
        Draws each step's rows (without replacement).
    eval_every : int
    evals : dict
        ``{name: (X, y)}``, the sets whose accuracy is tracked.
    loss_fn : callable, optional
        ``loss_fn(logits, y)`` (default: cross-entropy).

    Returns
    -------
    dict
        ``{"loss": per-step minibatch losses, "acc": {name: curve}, "steps": eval steps, "diverged_at": step
        or None}``; after a divergence the curves are padded with their last value (accuracy) / NaN (loss) so
        that every run has the same length.
    """
    import torch

    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    n = len(y)
    out = {"loss": [], "acc": {k: [] for k in evals}, "steps": [], "diverged_at": None}

    def evaluate(t):
        out["steps"].append(t)
        with torch.no_grad():
            for k, (Xe, ye) in evals.items():
                out["acc"][k].append(float((model(Xe).argmax(1) == ye).float().mean()))

    evaluate(0)
    for t in range(steps):
        idx = torch.as_tensor(rng.choice(n, size=min(batch, n), replace=False))
        Xb, yb = X[idx], y[idx]

        def closure(Xb=Xb, yb=yb):
            opt.zero_grad()
            loss = loss_fn(model(Xb), yb)
            loss.backward()
            return loss

        try:
            loss = float(opt.step(closure).detach())
        except NonFiniteError:
            loss = math.nan
        if not math.isfinite(loss):  # olc optimizers raise, torch.optim ones carry the NaN on
            out["diverged_at"] = t
            break
        out["loss"].append(loss)
        if (t + 1) % eval_every == 0 or t + 1 == steps:
            evaluate(t + 1)
    if out["diverged_at"] is not None:  # pad to full length
        grid = [0, *range(eval_every, steps + 1, eval_every)] + ([steps] if steps % eval_every else [])
        while len(out["steps"]) < len(grid):
            out["steps"].append(grid[len(out["steps"])])
            for k in evals:
                out["acc"][k].append(out["acc"][k][-1])
        out["loss"] += [math.nan] * (steps - len(out["loss"]))
    return out
