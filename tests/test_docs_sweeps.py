"""docs/sweeps.md: its Python blocks run as written, in order, in one namespace."""

import os
import re

DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "sweeps.md")


def test_sweeps_doc_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", open(DOC, encoding="utf-8").read(), flags=re.S)
    assert len(blocks) >= 5
    namespace: dict = {"__name__": "docs_sweeps"}
    for block in blocks:
        exec(compile(block, "docs/sweeps.md", "exec"), namespace)  # noqa: S102 - the doc is ours
    out = capsys.readouterr().out
    assert "12 cells (8 done before, 4 to run)" in out and "interrupted after 130 rounds" in out
    assert all(os.path.exists(p) for p in namespace["paths"])
