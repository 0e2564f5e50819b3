"""Sphinx configuration of the olc documentation site (build: ``bash .ci/docs`` or the README's command).

* API reference: generated from the docstrings (``sphinx.ext.autodoc`` + ``napoleon`` for the
  numpy-style sections); one page per subpackage, written at build time by ``_apigen.py`` from
  the package itself, so a new module appears without editing anything here.
* The guides: the markdown pages of ``docs/`` (``myst_parser``).
* The gallery: ``examples/*.py`` run by ``sphinx_gallery`` with ``--out`` pointing at a build
  folder; the PNG/GIF files each example writes become its figures (``_gallery.py``).
"""

import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
os.environ.setdefault("MPLBACKEND", "Agg")

import _apigen  # noqa: E402

import olc  # noqa: E402

project = "olc"
author = "the olc developers"
copyright = "olc developers, MIT licence"
release = version = olc.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "**/*.codeobj.json"]
html_theme = "alabaster"
html_title = f"olc {release}"
html_static_path = []

# ---- API reference -------------------------------------------------------------------------------
_apigen.write(os.path.join(HERE, "api"))
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "none"               # signatures show the defaults; the docstrings say the types
autodoc_mock_imports = [m for m in ("torch", "cupy") if importlib.util.find_spec(m) is None]
napoleon_numpy_docstring = True
napoleon_google_docstring = True        # a few docstrings use "Args:" sections
napoleon_use_rtype = False
napoleon_custom_sections = [("Deviations", "notes_style"), ("Shapes", "params_style")]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]
suppress_warnings = ["myst.xref_missing", "myst.header"]

# ---- gallery -------------------------------------------------------------------------------------
import _gallery  # noqa: E402

_GALLERY_SRC = os.path.join(HERE, "_build", "gallery-src")
_gallery.prepare(os.path.join(ROOT, "examples"), _GALLERY_SRC)   # adds the rST titles sphinx-gallery needs
sphinx_gallery_conf = {
    "examples_dirs": _GALLERY_SRC,
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",                    # run every example (each takes seconds)
    "reset_argv": "_gallery.reset_argv",            # --out <build folder>
    "image_scrapers": ("_gallery.scrape_outputs",),  # the PNG / GIF files the example wrote
    "run_stale_examples": False,                     # unchanged examples are not re-run (md5 cache)
    "abort_on_example_error": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": os.environ.get("OLC_DOCS_PLOT_GALLERY", "True"),
}


_SECTIONS = {"parameters", "other parameters", "returns", "yields", "raises", "warns", "attributes",
             "see also"}
_FIELD = re.compile(r"^[\w*.,~`\\ ]+( : .*)?$")


def _free_text_to_notes(app, what, name, obj, options, lines):
    """Before napoleon: numpy-style sections end only at the next header, so a paragraph written
    after a Parameters / Returns / Raises section (without a header of its own) would be read as
    more fields. Give such a paragraph a "Notes" header; the docstrings stay as they are."""
    out, section = [], None
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", nxt.strip()):
            section = line.strip().lower()
        elif (section in _SECTIONS and line.strip() and not line[0].isspace() and out and not out[-1].strip()
              and not re.fullmatch(r"-{3,}", line.strip())
              and (" " in line.strip() and not _FIELD.match(line.strip()))):
            out += ["Notes", "-----"]
            section = "notes"
        out.append(line)
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", _free_text_to_notes, priority=400)   # before napoleon (500)
