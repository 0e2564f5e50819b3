"""The course notebooks (notebooks/*.ipynb): stored without outputs, and each runs top to bottom.

Each notebook has one code cell tagged ``parameters``; the suite runs it with the smaller values in
``QUICK`` (a cell inserted after the parameters cell, as papermill does) so that the five notebooks
take seconds each. Execution uses nbclient with the ``python3`` kernel and this checkout first on
the kernel's ``PYTHONPATH``.
"""

import glob
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))

#: per-notebook overrides for the test run (sizes only; the notebooks' defaults run in under a minute)
QUICK = {
    "01_regret_and_oco": "T = 400\nseeds = [0, 1]",
    "02_bandits": "T = 400\nseeds = [0, 1]",
    "03_gpc_vs_lqr": "T = 200\nseeds = [0, 1]\nHs = [1, 10]",
    "04_sequential_stability": "T = 3\nhidden = 2\nbatch = 64",
    "05_meta_optimization": "episodes = 3\nT = 40",
}


def _name(path):
    return os.path.splitext(os.path.basename(path))[0]


def test_there_are_four_to_six_notebooks_each_with_quick_settings():
    assert 4 <= len(NOTEBOOKS) <= 6
    assert sorted(map(_name, NOTEBOOKS)) == sorted(QUICK)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_notebook_is_stored_without_outputs(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for c in code:
        assert c.outputs == [] and c.execution_count is None, f"cell {c.get('id')} has stored outputs"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    i = next(k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell(QUICK[_name(path)])
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(i + 1, injected)
    root = os.path.abspath(ROOT)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()          # raises CellExecutionError (with the cell and traceback) on any failure
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type in ("display_data", "execute_result") and any(k.startswith("image/") for k in o.data)]
    assert images, "the notebook drew no figure"
