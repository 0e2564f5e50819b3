"""Write the API reference pages (``docs/api/*.rst``) from the package itself, at build time.

One page per subpackage of :mod:`olc` (and one for the top-level modules), each with the
package docstring and an ``automodule`` of every public module (names starting with ``_`` are
private). The subpackages re-export their modules' names; documenting the *modules* keeps every
object in one place.
"""

import os
import pkgutil

import olc

TITLES = {"core": "Core: the game, sets, losses, errors, plots"}


def _modules(package):
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def _page(title, intro_module, modules):
    lines = [title, "=" * len(title), ""]
    if intro_module:
        lines += [f".. automodule:: {intro_module}", "   :no-members:", ""]
    for mod in modules:
        head = f"``{mod}``"
        lines += [head, "-" * len(head), "", f".. automodule:: {mod}", ""]
    return "\n".join(lines) + "\n"


def write(folder):
    import importlib

    os.makedirs(folder, exist_ok=True)
    pages = {}
    top, subs = [], []
    for name in _modules(olc):
        full = f"olc.{name}"
        if name == "cli":           # the command line is documented in the README / guides
            continue
        mod = importlib.import_module(full) if name not in ("torch",) else None
        is_pkg = mod is not None and hasattr(mod, "__path__") or name == "torch"
        (subs if is_pkg else top).append(name)
    pages["core"] = _page(TITLES["core"], "olc", [f"olc.{n}" for n in top])
    for name in subs:
        pkg = importlib.import_module(f"olc.{name}") if name != "torch" else None
        mods = _modules(pkg) if pkg is not None else ["metaopt"]
        pages[name] = _page(f"olc.{name}", f"olc.{name}", [f"olc.{name}.{m}" for m in mods])
    index = ["API reference", "=============", "", "Generated from the docstrings (numpy style).", "",
             ".. toctree::", "   :maxdepth: 1", ""] + [f"   {k}" for k in pages]
    pages["index"] = "\n".join(index) + "\n"
    for key, text in pages.items():
        path = os.path.join(folder, f"{key}.rst")
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old != text:                       # unchanged pages keep their mtime: no needless rebuild
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
