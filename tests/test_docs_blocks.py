"""Every ```python block of README.md and docs/*.md runs as written: in order, one namespace per page.

A block that imports an optional dependency that is missing here (torch, scikit-learn, dask) ends
its page with a skip: the blocks before it ran, the ones after it may build on it. Blocks that
cannot run by nature use another fence (```text, ```bash, ```pycon). Some pages also check what
their blocks printed or made (``EXPECT``): the per-page contracts the README and the guides state.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import types

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
PAGES = ["README.md"] + sorted(f"docs/{p}" for p in os.listdir(os.path.join(ROOT, "docs")) if p.endswith(".md"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)
_OPTIONAL = {"torch": "torch", "sklearn": "sklearn", "dask": "dask", "distributed": "distributed"}
_IMPORT = re.compile(r"^\s*(?:from\s+(\w+)|import\s+([\w., ]+))", flags=re.M)
_USES_TORCH = re.compile(r"\bolc\.torch\b|\bTorchOracle\b|\bdigits_(?:oracle|mlp|cnn)\b")


def _blocks(page: str) -> list[str]:
    return _BLOCK.findall(open(os.path.join(ROOT, page), encoding="utf-8").read())


#: optional dependencies a whole page needs (its blocks use them through olc, without importing them)
PAGE_NEEDS = {"docs/sweeps.md": ("dask", "distributed", "pandas"), "docs/torch.md": ("torch", "sklearn"),
              "docs/systems.md": ("torch", "sklearn")}


def _missing(block: str) -> list[str]:
    """The optional dependencies ``block`` imports (or uses through olc.torch / digits) that are absent."""
    names = set()
    for m in _IMPORT.finditer(block):
        names.update([m.group(1)] if m.group(1) else (n.split()[0].split(".")[0] for n in m.group(2).split(",")))
    need = {_OPTIONAL.get(n) for n in names} - {None}
    if _USES_TORCH.search(block):
        need.add("torch")
    return sorted(n for n in need if importlib.util.find_spec(n) is None)


def _readme(ns, out):  # the sequential-stability contract prints holds(...) == True
    assert "True" in out


def _control(ns, out):  # the nonlinear pendulum block stays in its region
    assert "True" in out


def _sweeps(ns, out):
    assert "12 cells (8 done before, 4 to run)" in out and "interrupted after 130 rounds" in out
    assert all(os.path.exists(p) for p in ns["paths"])


def _torch(ns, out):
    assert "learning-rate multipliers" in out and "meta-loss" in out


def _systems(ns, out):  # "Checking your own network": the matrix-free check printed its summary
    assert "Sequential stability" in out and "sqrt(2)" in out


def _oco(ns, out):  # "Write your own learner": the template passes the conformance suite
    assert ns["report"].passed, ns["report"]


#: page -> (the least number of python blocks it has, a check of what they printed / left behind)
EXPECT = {"README.md": (3, _readme), "docs/control.md": (3, _control), "docs/sweeps.md": (5, _sweeps),
          "docs/torch.md": (4, _torch), "docs/oco.md": (1, _oco), "docs/systems.md": (1, _systems)}


@pytest.fixture
def _quiet_torch():
    """Tiny models: one intra-op thread avoids oversubscription on shared cores (as tests/torch does)."""
    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_every_page_is_listed():
    assert "README.md" in PAGES and len(PAGES) >= 10
    assert sum(len(_blocks(p)) for p in PAGES) >= 22
    for page in PAGES:  # a python block under another spelling would silently not run
        text = open(os.path.join(ROOT, page), encoding="utf-8").read()
        odd = re.findall(r"^```(py|python3|Python|python .*)$", text, flags=re.M)
        assert not odd, f"{page}: fences {odd}: write ```python (runs) or ```text / ```pycon (does not)"


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_run(page, capsys, tmp_path, monkeypatch, _quiet_torch):
    import matplotlib

    matplotlib.use("Agg")
    blocks = _blocks(page)
    least, check = EXPECT.get(page, (0, None))
    assert len(blocks) >= least, f"{page}: expected at least {least} python blocks, found {len(blocks)}"
    if not blocks:
        return
    absent = [n for n in PAGE_NEEDS.get(page, ()) if importlib.util.find_spec(n) is None]
    if absent:
        pytest.skip(f"{page} needs {', '.join(absent)}")
    monkeypatch.chdir(tmp_path)  # a block that writes relative paths writes into a scratch folder
    page_module = types.ModuleType("olc_docs_" + re.sub(r"\W", "_", page))  # importable: its classes pickle
    monkeypatch.setitem(sys.modules, page_module.__name__, page_module)
    ns = page_module.__dict__
    try:
        for i, block in enumerate(blocks):
            missing = _missing(block)
            if missing:
                pytest.skip(f"{page}: block {i + 1} of {len(blocks)} needs {', '.join(missing)}")
            exec(compile(block, f"{page} (python block {i + 1})", "exec"), ns)  # noqa: S102 - our own docs
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
    if check is not None:
        check(ns, capsys.readouterr().out)
