"""docs/torch.md's Python blocks run as written, in order, in one namespace (seconds)."""

import os
import re

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "torch.md")


def test_docs_torch_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", open(DOC, encoding="utf-8").read(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/torch.md", "exec"), namespace)  # noqa: S102 - the docs are ours
    out = capsys.readouterr().out
    assert "learning-rate multipliers" in out and "meta-loss" in out
