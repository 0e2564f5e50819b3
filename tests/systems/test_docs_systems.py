"""The ```python blocks of docs/systems.md run as written (the "Checking your own network" snippet)."""

import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "systems.md")


def test_systems_doc_python_blocks_run(capsys):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import torch

    blocks = re.findall(r"```python\n(.*?)```", open(DOC, encoding="utf-8").read(), flags=re.S)
    assert blocks
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        namespace: dict = {}
        for block in blocks:
            exec(compile(block, "docs/systems.md", "exec"), namespace)  # noqa: S102 - our own docs
    finally:
        torch.set_num_threads(threads)
    assert "Sequential stability" in capsys.readouterr().out
