"""Every teaching script in examples/ runs (smoke test) and writes its figure."""

import glob
import os
import runpy
import sys

import pytest

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.py")))


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_runs(path, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setattr(sys, "argv", [path, "--out", str(tmp_path)])
    runpy.run_path(path, run_name="__main__")
    import matplotlib.pyplot as plt

    plt.close("all")
    assert any(name.endswith(".png") for name in os.listdir(tmp_path)), "the example wrote no figure"
