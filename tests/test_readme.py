"""The README's quickstart (its Python blocks run in tests/test_docs_blocks.py)."""

import os
import re

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def test_readme_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one():
    text = open(README, encoding="utf-8").read()
    quick = text.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", quick, flags=re.S).group(1).strip().splitlines()
    assert len(block) == 2
    ci = open(os.path.join(os.path.dirname(README), ".ci", "run"), encoding="utf-8").read()
    assert block[1] in ci and "pytest" in block[1]
    assert "olc run" in block[0]
