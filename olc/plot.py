"""Figures of played games: states, controls, running-average costs, regret curves, animations.

matplotlib is optional (``pip install "olc[plot]"``) and imported only when a function here is
called; without it they raise :class:`olc.BackendUnavailableError` with that hint. Every function
returns the matplotlib ``Figure`` (or the path it wrote) and draws on the non-interactive Agg
backend unless a backend was chosen already (in a notebook the inline backend is kept).

What to plot is given as

* one :class:`olc.Trace` — one line;
* a list of traces — repetitions of one configuration (seeds): the mean and a shaded band of ± one standard error of
  the mean (``band="se"``, the default), ± one standard deviation (``"std"``) or no band (``None``);
* a dict ``{label: trace or list of traces}`` — one line (and band) per label, in a legend.

State and control series come from a control game's ``trace.info`` (``"states"`` (T+1, d),
``"controls"`` (T, m)); other games plot ``trace.decisions``. Coordinate names are taken from a
nonlinear plant (``θ``, ``θ̇`` ...) when the trace has one, otherwise ``x[0]``, ``x[1]`` ....

* :func:`states`, :func:`controls`, :func:`response` (states above controls, like a time-response
  plot of python-control);
* :func:`costs` — running-average cost ``(1/t) Σ_{s<=t} c_s``;
* :func:`regret` — cumulative regret ``trace.regret(comparator)``;
* :func:`animate` — a pendulum or cart-pole drawing of a state trajectory, saved as a GIF
  (pillow) or an MP4 (needs ffmpeg on the path).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from ._validate import as_array, as_path, check_alloc, check_choice, flag, in_range, positive, positive_int
from .errors import BackendUnavailableError, InvalidArgumentError, ShapeError

__all__ = ["states", "controls", "response", "costs", "regret", "animate", "save", "finish", "pyplot"]

_BANDS = ("se", "std", None)


def pyplot():
    """``matplotlib.pyplot`` (Agg unless a backend is already in use); an olc error naming the extra if missing."""
    try:
        import matplotlib
    except ImportError:
        raise BackendUnavailableError('olc.plot needs matplotlib: pip install "olc[plot]" (or pip install '
                                      'matplotlib)') from None
    import sys

    if "matplotlib.pyplot" not in sys.modules and "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path, dpi: int = 110) -> str:
    """Write ``fig`` to ``path`` atomically (a temporary file in the same folder, then ``os.replace``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str
    dpi : int
    """
    path = as_path(path, "path")
    dpi = positive_int(dpi, "dpi")
    suffix = os.path.splitext(path)[1] or ".png"
    formats = fig.canvas.get_supported_filetypes()
    if suffix[1:].lower() not in formats:
        raise InvalidArgumentError(f"path: {path!r} ends in {suffix!r}, not a figure format (expected one of "
                                   f"{', '.join('.' + f for f in sorted(formats))})")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".olc-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def finish(fig, path, dpi: int = 110) -> str:
    """Lay out ``fig`` (``tight_layout``), write it to ``path`` with :func:`save`, close it; return the path.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Closed afterwards, also when the write fails.
    path : str
        Its extension picks the format; the folder is created.
    dpi : int
    """
    fig.tight_layout()
    try:
        return save(fig, path, dpi)
    finally:
        pyplot().close(fig)


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------

def _is_trace(x) -> bool:
    return hasattr(x, "losses") and hasattr(x, "info") and hasattr(x, "decisions")


def _groups(traces) -> list[tuple[str | None, list]]:
    """``[(label, [trace, ...]), ...]`` from a trace, a list of traces or a dict of either."""
    if _is_trace(traces):
        return [(None, [traces])]
    if isinstance(traces, dict):
        if not traces:
            raise InvalidArgumentError("traces: got an empty dict")
        return [(str(k), _groups(v)[0][1]) for k, v in traces.items()]
    if isinstance(traces, (list, tuple)) and traces and all(_is_trace(t) for t in traces):
        return [(None, list(traces))]
    raise InvalidArgumentError(f"traces: expected an olc Trace, a list of traces (seeds) or a dict "
                               f"{{label: trace or list}}, got {type(traces).__name__}")


def _series(trace, what: str) -> np.ndarray:
    info = trace.info if isinstance(trace.info, dict) else {}
    if what == "states":
        if "states" not in info:
            raise InvalidArgumentError("traces: states need a control game's trace (trace.info['states'])")
        return np.asarray(info["states"], float)
    if what == "controls":
        arr = info.get("controls", trace.decisions)
        return np.asarray(arr, float).reshape(len(arr), -1)
    raise AssertionError(what)  # pragma: no cover


def _names(trace, what: str, n: int) -> list[str]:
    plant = getattr(getattr(trace, "env", None), "plant", None)
    names = getattr(plant, "state_names" if what == "states" else "control_names", None)
    if names is not None and len(names) == n:
        return [str(s) for s in names]
    return [f"{'x' if what == 'states' else 'u'}[{i}]" for i in range(n)]


def _stack(curves, who: str) -> np.ndarray:
    lens = {len(c) for c in curves}
    if len(lens) != 1:
        raise ShapeError(f"traces: the traces of {who} have different lengths {sorted(lens)}; a band needs equal "
                         f"horizons")
    return np.stack(curves)


def _draw(ax, t, Y, label, band, color=None):
    """Mean line of the rows of ``Y`` and (for several rows) a shaded band; returns the line."""
    mean = Y.mean(axis=0)
    (line,) = ax.plot(t, mean, label=label, color=color, lw=1.4)
    if len(Y) > 1 and band is not None:
        spread = Y.std(axis=0, ddof=1)
        if band == "se":
            spread = spread / np.sqrt(len(Y))
        ax.fill_between(t, mean - spread, mean + spread, color=line.get_color(), alpha=0.25, lw=0)
    return line


def _label(label, group, band):
    if len(group) == 1 or band is None:
        return label
    what = {"se": "± s.e.", "std": "± s.d."}[band]
    return f"{label or 'mean'} (n={len(group)}, {what})"


def _new_axes(n, axes, width=7.0, height=2.0, sharex=True):
    plt = pyplot()
    if axes is None:
        fig, axs = plt.subplots(n, 1, figsize=(width, max(2.4, height * n)), sharex=sharex, squeeze=False)
        return fig, list(axs[:, 0])
    axs = list(np.atleast_1d(axes).ravel())
    if len(axs) != n:
        raise ShapeError(f"axes: expected {n} axes (one per coordinate), got {len(axs)}")
    return axs[0].figure, axs


# ---------------------------------------------------------------------------------------------
# time responses
# ---------------------------------------------------------------------------------------------

def _coordinates(traces, what, axes, band, title, names, legend=True):
    check_choice(band, "band", _BANDS)
    groups = _groups(traces)
    first = groups[0][1][0]
    n = _series(first, what).shape[1]
    if names is not None and not isinstance(names, (list, tuple)):
        raise InvalidArgumentError(f"names: expected a list of {n} coordinate names, got {names!r:.60}")
    names = [str(v) for v in names] if names is not None else _names(first, what, n)
    if len(names) != n:
        raise ShapeError(f"names: expected {n} names, got {len(names)}")
    fig, axs = _new_axes(n, axes)
    for label, group in groups:
        Y = _stack([_series(tr, what) for tr in group], label or "the list")
        if Y.shape[2] != n:
            raise ShapeError(f"traces: {what} of dimension {Y.shape[2]} and {n} in one figure")
        t = np.arange(Y.shape[1])
        color = None
        for i, ax in enumerate(axs):
            line = _draw(ax, t, Y[:, :, i], _label(label, group, band), band, color)
            color = line.get_color()
    for name, ax in zip(names, axs):
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axs[-1].set_xlabel("t (round)")
    if legend and (any(label is not None for label, _ in groups) or any(len(g) > 1 for _, g in groups)):
        axs[0].legend(fontsize="small")
    if title:
        axs[0].set_title(title)
    if axes is None:
        fig.tight_layout()
    return fig


def states(traces, *, names=None, band="se", axes=None, title=None):
    """States ``x_t`` against ``t``, one panel per coordinate; returns the Figure.

    Parameters
    ----------
    traces : Trace, list of Trace or dict
        What to plot (see the module docstring).
    band : {"se", "std", None}
    names : list of str, optional
        Override the coordinate names.
    axes : list of matplotlib.axes.Axes, optional
        One per coordinate: draw into existing axes.
    title : str, optional

    Examples
    --------
    >>> import numpy as np, olc
    >>> game = olc.games.control(olc.systems.double_integrator(0.5), np.zeros((20, 2)), (np.eye(2), np.eye(1)),
    ...                          x0=np.array([1.0, 0.0]))
    >>> len(olc.plot.states(olc.play(olc.learners.ZeroController(), game)).axes)  # one panel per coordinate
    2
    """
    return _coordinates(traces, "states", axes, band, title, names)


def controls(traces, *, names=None, band="se", axes=None, title=None):
    """Controls ``u_t`` (or the decisions of a non-control game), one panel per coordinate; returns the Figure.

    Parameters
    ----------
    traces : Trace, list of Trace or dict
        What to plot (see the module docstring).
    band : {"se", "std", None}
    names, axes, title : optional
        As in :func:`states`.
    """
    return _coordinates(traces, "controls", axes, band, title, names)


def response(traces, *, band="se", title=None):
    """States above controls in one figure (a time-response plot); returns the Figure.

    Parameters
    ----------
    traces : Trace, list of Trace or dict
        What to plot (see the module docstring).
    band : {"se", "std", None}
    title : str, optional
    """
    groups = _groups(traces)
    first = groups[0][1][0]
    d = _series(first, "states").shape[1]
    m = _series(first, "controls").shape[1]
    plt = pyplot()
    fig, axs = plt.subplots(d + m, 1, figsize=(7.0, 1.9 * (d + m) + 0.6), sharex=True, squeeze=False)
    axs = axs[:, 0]
    _coordinates(traces, "states", axs[:d], band, title, None)
    _coordinates(traces, "controls", axs[d:], band, None, None, legend=False)
    axs[d - 1].set_xlabel("")
    fig.tight_layout()
    return fig


def costs(traces, *, band="se", ax=None, logy=True, running=True, title=None):
    """Running-average cost ``(1/t) Σ_{s<=t} loss_s``; returns the Figure.

    Parameters
    ----------
    traces : Trace, list of Trace or dict
        What to plot (see the module docstring).
    band : {"se", "std", None}
    ax : matplotlib.axes.Axes, optional
    logy, running : bool
        A log y-axis; ``running=False`` plots the per-round losses.
    title : str, optional
    """
    check_choice(band, "band", _BANDS)
    logy, running = flag(logy, "logy"), flag(running, "running")
    fig, (ax,) = _new_axes(1, ax, height=3.4)
    for label, group in _groups(traces):
        Y = _stack([np.asarray(tr.losses, float) for tr in group], label or "the list")
        if running:
            Y = np.cumsum(Y, axis=1) / np.arange(1, Y.shape[1] + 1)
        _draw(ax, np.arange(1, Y.shape[1] + 1), Y, _label(label, group, band), band)
    if logy:
        ax.set_yscale("log")
    return _finish(fig, ax, "average cost so far" if running else "cost per round", title)


def regret(traces, comparator, *, band="se", ax=None, title=None):
    """Cumulative regret curves ``trace.regret(comparator)``; returns the Figure.

    Each trace is compared with its own best comparator in hindsight (the comparator is refitted on every trace).

    Parameters
    ----------
    traces : Trace, list of Trace or dict
        What to plot (see the module docstring).
    band : {"se", "std", None}
    comparator : comparator or dict
        One for all, or a dict per label.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    """
    check_choice(band, "band", _BANDS)
    fig, (ax,) = _new_axes(1, ax, height=3.4)
    for label, group in _groups(traces):
        if isinstance(comparator, dict) and label not in comparator:
            raise InvalidArgumentError(f"comparator: a dict of comparators needs one per label of traces; no "
                                       f"{label!r} in {list(comparator)}" + ("" if label is not None else
                                       " (traces has no labels: pass one comparator, or traces as a dict)"))
        comp = comparator[label] if isinstance(comparator, dict) else comparator
        Y = _stack([np.asarray(tr.regret(comp), float) for tr in group], label or "the list")
        _draw(ax, np.arange(1, Y.shape[1] + 1), Y, _label(label, group, band), band)
    ax.axhline(0.0, color="k", lw=0.6)
    return _finish(fig, ax, "regret (cumulative)", title)


def _finish(fig, ax, ylabel, title):
    """Axis labels, grid, legend (when there are labels) and title of a one-panel curve figure."""
    ax.set_xlabel("t (round)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# animation
# ---------------------------------------------------------------------------------------------

def _animation_source(source, kind, plant):
    """States (n, d), the plant kind and its geometry from a trace, an array, and/or a plant."""
    if _is_trace(source):
        X = _series(source, "states")
        env_plant = getattr(getattr(source, "env", None), "plant", None)
        plant = plant if plant is not None else env_plant
    else:
        X = as_array(source, "source")
        if X.ndim != 2:
            raise ShapeError(f"source: expected a Trace or states of shape (n, d), got shape {X.shape}")
    if kind is None:
        kind = getattr(plant, "kind", None)
        if kind is None:
            raise InvalidArgumentError("kind: say what to draw, kind='pendulum' or 'cartpole' (it is only known "
                                       "from a nonlinear plant's trace or plant=)")
    kind = check_choice(kind, "kind", ("pendulum", "cartpole"))
    need = 2 if kind == "pendulum" else 4
    if X.shape[1] != need:
        raise ShapeError(f"source: a {kind} drawing needs states of dimension {need}, got shape {X.shape}")
    if kind == "pendulum":
        length = float(getattr(plant, "length", 1.0))
    else:
        length = 2.0 * float(getattr(plant, "half_length", 0.5))
    dt = getattr(plant, "dt", None)
    return X, kind, length, dt


def animate(source, path, *, kind: str | None = None, plant=None, fps: float = 20, stride: int = 1,
            dt: float | None = None, dpi: int = 72, title: str | None = None) -> str:
    """Draw a pendulum or cart-pole trajectory frame by frame and save it as a GIF (or an MP4).

    Parameters
    ----------
    source : olc.Trace of a control game, or states (n, d)
        Pendulum states ``(θ, θ̇)`` or cart-pole states ``(x, ẋ, θ, θ̇)`` (θ from upright).
    path : str
        Ends in ``.gif`` (written with pillow) or ``.mp4`` (needs ffmpeg; otherwise
        :class:`olc.BackendUnavailableError`).
    kind : "pendulum" or "cartpole"
        Taken from the plant of a :func:`olc.games.nonlinear_control` trace when not given.
    plant : olc.systems.Pendulum or CartPole, optional
        Geometry (rod length) and ``dt`` for the clock; defaults: a 1 m pendulum, a 1 m pole.
    fps, stride : frames per second, and draw every ``stride``-th state (``ceil(n / stride)`` frames).
    dt : seconds per state for the clock shown (default ``plant.dt``, else rounds are shown).
    dpi, title : the GIF's resolution and a title above the animation.

    GIFs are drawn by blitting (the axes once, then the moving parts per frame) and written with
    pillow. Returns the path written (atomically: a temporary file, then ``os.replace``).
    """
    pyplot()                                          # the olc error when matplotlib is missing
    from matplotlib import animation
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    X, kind, length, plant_dt = _animation_source(source, kind, plant)
    fps = in_range(fps, "fps", 1e-3, 1000.0)   # a GIF frame lasts round(1000 / fps) ms
    stride = positive_int(stride, "stride")
    dpi = positive_int(dpi, "dpi")
    dt = plant_dt if dt is None else positive(dt, "dt")
    path = as_path(path, "path")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".gif", ".mp4"):
        raise InvalidArgumentError(f"path: expected a file name ending in .gif or .mp4, got {path!r}")
    if ext == ".mp4":
        if not animation.writers.is_available("ffmpeg"):
            raise BackendUnavailableError("animate: writing an MP4 needs ffmpeg on the PATH (apt-get install ffmpeg); "
                                          "save a .gif instead (pillow)")
        writer = animation.FFMpegWriter(fps=fps)
    frames = np.arange(0, len(X), stride)
    # the GIF's frames are kept in memory until written (palette images: one byte per pixel)
    check_alloc(len(frames) * (4.0 * dpi) * (9.0 * dpi), f"animate: {len(frames)} frames at dpi={dpi}",
                "draw fewer frames (a larger stride) or a lower dpi")
    if kind == "pendulum":
        theta = X[:, 0]
        px, py = np.zeros(len(X)), np.zeros(len(X))
        lim = (-1.2 * length, 1.2 * length)
        xlim, ylim = lim, lim
    else:
        theta = X[:, 2]
        px, py = X[:, 0], np.zeros(len(X))
        lo, hi = float(np.min(px)), float(np.max(px))
        xlim = (lo - 1.3 * length, hi + 1.3 * length)
        ylim = (-1.2 * length, 1.3 * length)
    tipx, tipy = px + length * np.sin(theta), py + length * np.cos(theta)

    width = 4.0 if kind == "pendulum" else min(9.0, max(4.0, 4.0 * (xlim[1] - xlim[0]) / (ylim[1] - ylim[0])))
    fig = Figure(figsize=(width, 4.0), dpi=dpi)      # not a pyplot figure: nothing left open or shown
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xlabel("horizontal position (m)")
    ax.set_ylabel("height (m)")
    if title:
        ax.set_title(title)
    if kind == "cartpole":
        ax.axhline(0.0, color="0.6", lw=1)
        cart = Rectangle((px[0] - 0.2 * length, -0.1 * length), 0.4 * length, 0.2 * length, color="0.35")
        ax.add_patch(cart)
    (rod,) = ax.plot([], [], color="C0", lw=3)
    (bob,) = ax.plot([], [], "o", color="C3", ms=10)
    if kind == "pendulum":
        ax.plot([0.0], [0.0], "k+")                # the pivot
    fig.tight_layout()
    clock = ax.text(0.02, 0.03, "", transform=ax.transAxes, va="bottom", fontsize="small")

    def draw(k):
        rod.set_data([px[k], tipx[k]], [py[k], tipy[k]])
        bob.set_data([tipx[k]], [tipy[k]])
        if kind == "cartpole":
            cart.set_x(px[k] - 0.2 * length)
        when = f"t = {k * dt:.2f} s" if dt is not None else f"round {k}"
        clock.set_text(f"{when}   θ = {theta[k]:+.2f} rad")
        return rod, bob, clock

    moving = [rod, bob, clock] + ([cart] if kind == "cartpole" else [])
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".olc-", suffix=ext, dir=folder)
    os.close(fd)
    try:
        if ext == ".mp4":
            animation.FuncAnimation(fig, draw, frames=frames, blit=False, repeat=False).save(tmp, writer=writer,
                                                                                              dpi=dpi)
        else:  # GIF: draw the static part once, then only the moving artists on top of it (blitting)
            from PIL import Image

            for a in moving:
                a.set_animated(True)
            canvas = fig.canvas
            canvas.draw()
            background = canvas.copy_from_bbox(fig.bbox)
            images = []
            for k in frames:
                canvas.restore_region(background)
                draw(int(k))
                for a in moving:
                    ax.draw_artist(a)
                rgba = np.asarray(canvas.buffer_rgba())
                images.append(Image.fromarray(rgba[..., :3].copy()).quantize(colors=64))
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=int(round(1000.0 / fps)), loop=0)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
