"""sphinx-gallery hooks for olc's examples (named in conf.py by their dotted names, so they pickle).

Every example takes ``--out DIR`` and writes its figures there (PNG, sometimes a GIF). Instead of
scraping open matplotlib figures (several examples close theirs), ``reset_argv`` points ``--out`` at
a folder of the build and ``scrape_outputs`` moves the files the example wrote into the gallery.
"""

import os
import shutil

from sphinx_gallery.scrapers import figure_rst

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_build", "gallery-out")


def _outdir(src_file):
    return os.path.join(OUT, os.path.splitext(os.path.basename(src_file))[0])


def reset_argv(gallery_conf, script_vars):
    out = _outdir(script_vars["src_file"])
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    return ["--out", out]


def scrape_outputs(block, block_vars, gallery_conf):
    out = _outdir(block_vars["src_file"])
    if not os.path.isdir(out):
        return ""
    found = sorted((f for f in os.listdir(out) if f.lower().endswith((".png", ".gif"))),
                   key=lambda f: (not f.lower().endswith(".png"), f))   # PNGs first: the thumbnail
    paths = []
    for name in found:
        target = next(block_vars["image_path_iterator"])
        target = os.path.splitext(target)[0] + os.path.splitext(name)[1].lower()
        shutil.move(os.path.join(out, name), target)
        paths.append(target)
    return figure_rst(paths, gallery_conf["src_dir"]) if paths else ""


def prepare(src_dir, dst_dir):
    """Copy ``examples/`` to ``dst_dir`` for sphinx-gallery, giving each script's docstring an rST title.

    The examples' docstrings start with a one-line summary (they are also ``--help`` texts);
    sphinx-gallery needs that line as a section title (underlined). Files whose content did not
    change are not rewritten, so sphinx-gallery's md5 cache keeps them from running again.
    """
    import re

    os.makedirs(dst_dir, exist_ok=True)
    for name in sorted(os.listdir(src_dir)):
        src = os.path.join(src_dir, name)
        if not os.path.isfile(src):
            continue
        text = open(src, encoding="utf-8").read()
        if name.endswith(".py"):
            m = re.match(r'(\s*(?:#[^\n]*\n\s*)*)("""|\'\'\')([^\n]*)\n', text)
            if m and not re.match(r"[=\-~^]{3,}\s*$", text[m.end():].split("\n", 1)[0]):
                title = m.group(3).strip()
                text = text[:m.start(3)] + title + "\n" + "=" * len(title) + "\n" + text[m.end():]
        dst = os.path.join(dst_dir, name)
        if not os.path.exists(dst) or open(dst, encoding="utf-8").read() != text:
            with open(dst, "w", encoding="utf-8") as fh:
                fh.write(text)
