"""The Python blocks of docs/control.md run as written (in order, one namespace), and the
documentation site's pieces are in place (the build itself is .ci/docs: Sphinx with -W)."""

import os
import re
import stat

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _blocks(page):
    text = open(os.path.join(ROOT, "docs", page), encoding="utf-8").read()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_control_md_python_blocks_run(capsys):
    import matplotlib

    matplotlib.use("Agg")
    blocks = _blocks("control.md")
    assert len(blocks) >= 3
    ns: dict = {}
    for block in blocks:
        exec(compile(block, "docs/control.md", "exec"), ns)  # noqa: S102 - our own docs
    import matplotlib.pyplot as plt

    plt.close("all")
    assert "True" in capsys.readouterr().out          # the nonlinear pendulum block stays in its region


def test_docs_site_sources():
    ci = os.path.join(ROOT, ".ci", "docs")
    assert os.stat(ci).st_mode & stat.S_IXUSR, ".ci/docs must be executable"
    script = open(ci, encoding="utf-8").read()
    assert "sphinx -W" in script
    conf = open(os.path.join(ROOT, "docs", "conf.py"), encoding="utf-8").read()
    for ext in ("sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_parser", "sphinx_gallery.gen_gallery"):
        assert ext in conf
    index = open(os.path.join(ROOT, "docs", "index.md"), encoding="utf-8").read()
    pages = {os.path.splitext(p)[0] for p in os.listdir(os.path.join(ROOT, "docs")) if p.endswith(".md")} - {"index"}
    missing = [p for p in pages if not re.search(rf"^{re.escape(p)}$", index, flags=re.M)]
    assert not missing, f"docs pages not in the site's table of contents (docs/index.md): {missing}"
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert "## Documentation" in readme and ".ci/docs" in readme.split("## Documentation", 1)[1]
