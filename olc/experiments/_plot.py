"""Figure helpers shared by the experiments' ``plot`` functions (matplotlib is optional)."""

from __future__ import annotations

import os


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend.

    Raises ImportError when matplotlib is missing; ``olc run`` turns it into a message naming the
    ``plot`` extra, after ``results.json`` has been written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, outdir: str, name: str, dpi: int = 110) -> str:
    """Lay out ``fig``, write it to ``outdir/name`` (creating ``outdir``), close it; return the path.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    outdir, name : str
    dpi : int
    """
    import matplotlib.pyplot as plt

    fig.tight_layout()
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, name)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def suptitle(fig, name: str, settings: str) -> None:
    """The figure's title: the experiment's name and its key settings (a reader can tell what ran).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    name, settings : str
    """
    fig.suptitle(f"{name} — {settings}", fontsize="medium")


def panel_grid(n: int, ncols: int = 3, panel=(4.4, 3.4)):
    """A grid of ``n`` panels, at most ``ncols`` per row (never one very wide row); unused cells switched off.

    Parameters
    ----------
    n, ncols : int
    panel : tuple of float
        One panel's size in inches, ``(width, height)``.

    Returns
    -------
    tuple
        ``(fig, axes)``, ``axes`` a flat list of the ``n`` panels in use.
    """
    plt = pyplot()
    ncols = max(1, min(int(ncols), int(n)))
    nrows = -(-int(n) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def symlog_regret(ax, linthresh: float = 1.0) -> None:
    """A regret axis that shows negative values: symlog, with a line at 0.

    Never a log axis that clips a learner ahead of its comparator.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    linthresh : float
        Linear within ``±linthresh``, logarithmic beyond.
    """
    ax.set_yscale("symlog", linthresh=linthresh)
    ax.axhline(0.0, color="grey", lw=0.5)


def band(ax, x, runs, label: str, *, log: bool = False, color=None, style: str = "-", missing: str = "diverged",
         **kw):
    """Mean over seeds with a ± standard-error band; returns the line.

    Diverged runs are left out of the mean and counted in the label (never dropped silently); the points
    where any run diverged are marked with an ``x`` at the top of the panel.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x : array_like
    runs : array_like
        ``(seeds, len(x))``, NaN/inf (or None) where a run diverged.
    label : str
    log : bool
        A log y axis.
    color, style
        The line's colour and format (``"-"``).
    missing : str
        What a NaN is, in the label ("diverged"; e.g. "no slope").
    """
    import numpy as np

    from ._evidence import mean_se

    Y = np.array([[np.nan if v is None else v for v in r] for r in runs], dtype=float)
    Y[~np.isfinite(Y)] = np.nan
    n_div = int(np.sum(np.any(np.isnan(Y), axis=1)))
    mean, se = mean_se(Y, axis=0)
    text = label + (f" ({n_div}/{len(Y)} {missing})" if n_div else "") + (f", {len(Y)} seeds" if len(Y) > 1 else "")
    line, = (ax.semilogy if log else ax.plot)(x, mean, style, color=color, label=text, **kw)
    if len(Y) > 1:
        lo, hi = mean - se, mean + se
        if log:
            lo = np.where(lo > 0, lo, mean)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    bad = np.any(np.isnan(Y), axis=0)
    if bad.any():
        ax.plot(np.asarray(x)[bad], np.full(bad.sum(), 0.97), "x", color=line.get_color(), ms=4,
                transform=ax.get_xaxis_transform())
    return line
