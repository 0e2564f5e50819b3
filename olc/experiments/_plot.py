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
    """Lay out ``fig``, write it to ``outdir/name`` (creating ``outdir``), close it; return the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, name)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
