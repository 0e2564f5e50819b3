"""Pieces shared by the experiments that train torch networks (private; torch is imported lazily).

* :func:`train` — minibatch training of a model by an optimizer, with evaluation curves; a NaN/Inf
  is reported as a diverged run (``diverged_at``) instead of an exception.
* :func:`tune` — a 1-D grid search that must end at an *interior* optimum: when the best value sits
  at an end of the grid the grid is extended geometrically in that direction (up to ``max_extend``
  times); the result says where the optimum sits (``"interior"`` or ``"edge (low)"``/``"edge (high)"``).
* :func:`mean_ci`, :func:`paired_ci` — 95 % Student-t intervals over seeds (the papers' bands).
* :func:`claim` — one graded claim: the paper's sentence and numbers, ours, the criterion, a verdict.
* :func:`protocol_markdown` — a PROTOCOL table (paper setting / olc setting / why) as Markdown.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import NonFiniteError


def train(model, opt, X, y, *, steps: int, batch: int, rng, eval_every: int, evals: dict, loss_fn=None):
    """``steps`` minibatch steps (rows drawn without replacement per step from ``rng``), evaluating
    accuracy on each ``evals[name] = (X, y)`` every ``eval_every`` steps, at step 0 and at the end.

    Returns ``{"loss": per-step minibatch losses, "acc": {name: curve}, "steps": eval steps,
    "diverged_at": step or None}``; after a divergence the curves are padded with their last value
    (accuracy) / NaN (loss) so that every run has the same length.
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


def tune(evaluate, grid, *, max_extend: int = 2):
    """Maximise ``evaluate(value) -> score`` (``None``/NaN = diverged) over a geometric ``grid``.

    If the best value is at an end of the grid (and that end did not diverge), the grid is
    extended by one geometric step in that direction and searched again, at most ``max_extend``
    times. Returns ``{"best", "grid", "scores", "position", "extended"}`` with ``position`` one of
    ``"interior"``, ``"edge (low)"``, ``"edge (high)"`` (still at an end after the extensions).
    """
    grid = sorted(float(v) for v in grid)
    factor = grid[1] / grid[0] if len(grid) > 1 else 3.0
    scores = {v: evaluate(v) for v in grid}

    def score(v):
        s = scores[v]
        return -math.inf if s is None or not math.isfinite(s) else s

    extended = 0
    while True:
        vals = sorted(scores)
        best = max(vals, key=score)
        i = vals.index(best)
        if 0 < i < len(vals) - 1 or extended >= max_extend or score(best) == -math.inf:
            break
        new = vals[0] / factor if i == 0 else vals[-1] * factor
        scores[new] = evaluate(new)
        extended += 1
    vals = sorted(scores)
    i = vals.index(best)
    position = "interior" if 0 < i < len(vals) - 1 else ("edge (low)" if i == 0 else "edge (high)")
    return {"best": best, "grid": vals, "scores": [None if scores[v] is None else float(scores[v]) for v in vals],
            "position": position, "extended": extended}


def _t975(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1)) if n > 1 else math.nan


def mean_ci(values, axis=0):
    """Mean and the half-width of the 95 % t-interval over ``axis`` (seeds)."""
    a = np.asarray(values, dtype=float)
    n = a.shape[axis]
    mean = a.mean(axis=axis)
    half = _t975(n) * a.std(axis=axis, ddof=1) / math.sqrt(n) if n > 1 else np.full_like(mean, np.nan)
    return mean, half


def paired_ci(a, b):
    """``mean(a − b)`` over paired seeds and its 95 % half-width; ``significant`` if the interval excludes 0."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    m, h = mean_ci(d)
    m, h = float(m), float(h)
    return {"diff": m, "half_width": h, "significant": bool(abs(m) > h) if math.isfinite(h) else False}


def claim(paper: str, paper_numbers: str, ours: str, criterion: str, holds: bool) -> dict:
    """One graded claim (``verdict``: "holds" / "does not hold")."""
    return {"paper": paper, "paper_numbers": paper_numbers, "ours": ours, "criterion": criterion,
            "holds": bool(holds), "verdict": "holds" if holds else "does not hold"}


def claims_markdown(claims) -> str:
    rows = ["| claim (paper) | paper's numbers | ours | criterion | verdict |", "|---|---|---|---|---|"]
    for c in claims:
        rows.append(f"| {c['paper']} | {c['paper_numbers']} | {c['ours']} | {c['criterion']} | {c['verdict']} |")
    return "\n".join(rows)


def protocol_markdown(protocol) -> str:
    rows = ["| | paper | olc | why |", "|---|---|---|---|"]
    for what, paper, ours, why in protocol:
        rows.append(f"| {what} | {paper} | {ours} | {why} |")
    return "\n".join(rows)


def protocol_records(protocol) -> list:
    return [{"setting": w, "paper": p, "olc": o, "why": y} for w, p, o, y in protocol]
