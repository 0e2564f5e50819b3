"""The README's Python examples run as written (they are the issues' API contracts)."""

import os
import re

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def test_readme_python_blocks_run(capsys):
    text = open(README, encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README is ours
    out = capsys.readouterr().out
    assert "True" in out  # the sequential-stability contract prints holds(...) == True


def test_readme_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one():
    text = open(README, encoding="utf-8").read()
    quick = text.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", quick, flags=re.S).group(1).strip().splitlines()
    assert len(block) == 2
    ci = open(os.path.join(os.path.dirname(README), ".ci", "run"), encoding="utf-8").read()
    assert block[1] in ci and "pytest" in block[1]
    assert "olc run" in block[0]
