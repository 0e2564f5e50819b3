"""Every teaching script in examples/ runs (smoke test) and writes its figure.

A script that needs an optional dependency declares the setup.cfg extras at module level,
``EXTRAS = ("torch", "data")``; it is skipped (not failed) when one of them is not installed, so
the README's test command passes on a machine without PyTorch.
"""

import ast
import glob
import os
import runpy
import sys

import pytest

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.py")))

#: the module each setup.cfg extra installs
EXTRA_MODULES = {"torch": "torch", "data": "sklearn", "plot": "matplotlib"}


def declared_extras(path) -> tuple:
    """The ``EXTRAS = (...)`` tuple of a script, read without running it."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXTRAS" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    return ()


def test_extras_declarations_name_known_extras():
    for path in EXAMPLES:
        for extra in declared_extras(path):
            assert extra in EXTRA_MODULES, (os.path.basename(path), extra)
    assert declared_extras(os.path.join(os.path.dirname(__file__), "..", "examples", "oracles_digits_mlp.py")) \
        == ("torch", "data")


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_runs(path, tmp_path, monkeypatch):
    for extra in declared_extras(path):
        pytest.importorskip(EXTRA_MODULES[extra], reason=f"needs the {extra!r} extra: pip install -e \".[{extra}]\"")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setattr(sys, "argv", [path, "--out", str(tmp_path)])
    runpy.run_path(path, run_name="__main__")
    import matplotlib.pyplot as plt

    plt.close("all")
    assert any(name.endswith(".png") for name in os.listdir(tmp_path)), "the example wrote no figure"
