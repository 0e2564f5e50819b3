"""The documentation site's pieces are in place (the build itself is .ci/docs: Sphinx with -W); the
pages' Python blocks run in tests/test_docs_blocks.py."""

import os
import re
import stat

ROOT = os.path.join(os.path.dirname(__file__), "..")


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
