"""olc.plot: figures have labelled axes and one line (and band) per group; GIFs have the right frame count."""

import builtins
import os

import numpy as np
import pytest

import olc
from olc.systems import CartPole, Pendulum, QuadraticCost

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def runs():
    """Two controllers × three seeds on the nonlinear pendulum (short)."""
    plant = Pendulum()
    cost = QuadraticCost(np.eye(2), np.eye(1))
    out = {"LQR": [], "GPC": []}
    for seed in range(3):
        w = olc.systems.disturbances.gaussian(60, 2, scale=0.02, seed=seed)
        game = olc.games.nonlinear_control(plant, w, cost, x0=[0.1, 0.0])
        out["LQR"].append(olc.play(olc.learners.LQR(game.system, cost), game, seed=seed))
        out["GPC"].append(olc.play(olc.learners.GPC(game.system, cost, H=3), game, seed=seed))
    return out


def _bands(ax):
    from matplotlib.collections import PolyCollection

    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def _labelled(ax):
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def test_states_and_controls(runs):
    import matplotlib.pyplot as plt

    fig = olc.plot.states(runs)
    axes = fig.axes
    assert len(axes) == 2 and [a.get_ylabel() for a in axes] == ["θ", "θ̇"]
    assert axes[-1].get_xlabel() == "t (round)"
    for ax in axes:
        assert len(ax.lines) == 2 and len(_bands(ax)) == 2                     # mean ± s.e. per controller
        np.testing.assert_allclose(ax.lines[0].get_ydata(),
                                   np.mean([tr.info["states"][:, axes.index(ax)] for tr in runs["LQR"]], axis=0))
    labels = axes[0].get_legend_handles_labels()[1]
    assert labels == ["LQR (n=3, ± s.e.)", "GPC (n=3, ± s.e.)"]
    fig2 = olc.plot.controls(runs["LQR"][0])                                  # one trace: one line, no band
    assert len(fig2.axes) == 1 and fig2.axes[0].get_ylabel() == "torque"
    assert len(fig2.axes[0].lines) == 1 and not _bands(fig2.axes[0]) and _labelled(fig2.axes[0])
    fig3 = olc.plot.states(runs, band=None)
    assert all(not _bands(ax) for ax in fig3.axes)
    plt.close("all")


def test_band_is_the_standard_error(runs):
    import matplotlib.pyplot as plt

    fig = olc.plot.costs(runs["GPC"], band="se")
    ax = fig.axes[0]
    assert _labelled(ax) and ax.get_yscale() == "log"
    Y = np.stack([np.cumsum(tr.losses) / np.arange(1, 61) for tr in runs["GPC"]])
    se = Y.std(axis=0, ddof=1) / np.sqrt(3)
    verts = _bands(ax)[0].get_paths()[0].vertices
    top = verts[:, 1].max()
    assert top == pytest.approx(float(np.max(Y.mean(0) + se)), rel=1e-12)
    plt.close("all")


def test_regret_and_response(runs):
    import matplotlib.pyplot as plt

    cost = QuadraticCost(np.eye(2), np.eye(1))
    sys_ = runs["GPC"][0].env.system
    fig = olc.plot.regret({"GPC": runs["GPC"]}, olc.comparators.BestDFC(sys_, cost, H=3))
    ax = fig.axes[0]
    assert _labelled(ax) and len(ax.lines) == 2 and len(_bands(ax)) == 1     # curve + the zero line
    R = np.mean([tr.regret(olc.comparators.BestDFC(sys_, cost, H=3)) for tr in runs["GPC"]], axis=0)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), R, rtol=1e-10)
    fig = olc.plot.response(runs)
    assert len(fig.axes) == 3 and all(a.get_ylabel() for a in fig.axes) and fig.axes[-1].get_xlabel()
    plt.close("all")


def test_bad_inputs(runs):
    with pytest.raises(olc.InvalidArgumentError, match="traces"):
        olc.plot.states([1, 2])
    with pytest.raises(olc.InvalidArgumentError, match="band"):
        olc.plot.costs(runs, band="iqr")
    short = runs["LQR"][0].truncated(30)
    with pytest.raises(olc.ShapeError, match="lengths"):
        olc.plot.costs([runs["LQR"][0], short])
    tr = olc.play(olc.learners.OGD(olc.sets.Ball(1.0), lr=0.1), olc.games.random_linear(20, 3, seed=0))
    with pytest.raises(olc.InvalidArgumentError, match="states"):
        olc.plot.states(tr)
    assert len(olc.plot.controls(tr).axes) == 3                                   # decisions of an OCO game


def test_missing_matplotlib_is_an_olc_error(monkeypatch):
    import sys

    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    with pytest.raises(olc.BackendUnavailableError, match=r"olc\[plot\]"):
        olc.plot.pyplot()


@pytest.mark.parametrize("Plant, x0, stride, n", [(Pendulum, [0.4, 0.0], 1, 12), (CartPole, [0.0, 0.3, 0.25, 0.0], 3, 13)])
def test_animation_gif_has_one_frame_per_drawn_state(tmp_path, Plant, x0, stride, n):
    from PIL import Image

    plant = Plant()
    X = plant.simulate(x0, T=n - 1)                                            # n states, the pole falling
    path = olc.plot.animate(X, tmp_path / "a.gif", plant=plant, stride=stride, fps=10)
    with Image.open(path) as im:
        assert im.n_frames == len(range(0, n, stride))
    assert [f for f in os.listdir(tmp_path) if f.startswith(".olc-")] == []   # no temporary left


def test_animation_from_a_trace_and_errors(tmp_path, runs):
    from matplotlib import animation
    from PIL import Image

    tr = runs["LQR"][0]                                                        # the plant is known from the game
    path = olc.plot.animate(tr, str(tmp_path / "p.gif"), stride=10)
    with Image.open(path) as im:
        assert im.n_frames == len(range(0, 61, 10))
    with pytest.raises(olc.InvalidArgumentError, match="kind"):
        olc.plot.animate(np.zeros((5, 2)), tmp_path / "x.gif")
    with pytest.raises(olc.ShapeError, match="dimension 4"):
        olc.plot.animate(np.zeros((5, 2)), tmp_path / "x.gif", kind="cartpole")
    with pytest.raises(olc.InvalidArgumentError, match="path"):
        olc.plot.animate(tr, tmp_path / "x.png")
    if not animation.writers.is_available("ffmpeg"):
        with pytest.raises(olc.BackendUnavailableError, match="ffmpeg"):
            olc.plot.animate(tr, tmp_path / "x.mp4")


def test_finish_lays_out_writes_and_closes(tmp_path):
    plt = olc.plot.pyplot()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_ylabel("a long label " * 4)
    before = fig.subplotpars.left
    path = olc.plot.finish(fig, str(tmp_path / "sub" / "f.png"), dpi=50)
    assert path == str(tmp_path / "sub" / "f.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert fig.subplotpars.left != before                       # tight_layout moved the axes
    assert not plt.fignum_exists(fig.number)                    # closed
    assert os.listdir(tmp_path / "sub") == ["f.png"]            # no temporary file left
    fig2 = plt.figure()
    with pytest.raises(olc.errors.InvalidArgumentError, match="path"):
        olc.plot.finish(fig2, str(tmp_path / "f.txt2"))
    assert not plt.fignum_exists(fig2.number)                   # closed after an error too
