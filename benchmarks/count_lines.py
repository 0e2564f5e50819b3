"""Count the lines of a Python tree: all lines, and code lines (not blank, comment or docstring).

Usage: ``python benchmarks/count_lines.py [DIR ...]`` (default ``olc``). Issue 15's must-hold
"the olc/ line count does not grow" is measured with it, before and after a change.
"""

from __future__ import annotations

import ast
import io
import pathlib
import sys
import tokenize


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def count(path: pathlib.Path) -> tuple[int, int]:
    """``(all lines, code lines)`` of one file."""
    text = path.read_text(encoding="utf-8")
    docs = _docstring_lines(ast.parse(text))
    code: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                            tokenize.ENDMARKER):
            code.update(range(tok.start[0], tok.end[0] + 1))
    return len(text.splitlines()), len(code - docs)


def main(argv: list[str]) -> None:
    total = [0, 0]
    for root in argv or ["olc"]:
        for f in sorted(pathlib.Path(root).rglob("*.py")):
            a, c = count(f)
            total[0] += a
            total[1] += c
    print(f"{total[0]} lines, {total[1]} code lines (not blank, comment or docstring)")


if __name__ == "__main__":
    main(sys.argv[1:])
