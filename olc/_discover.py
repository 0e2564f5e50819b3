"""Collect the public names of every module in a subpackage (each module's ``__all__``).

Subpackages such as :mod:`olc.learners` re-export what their modules declare, so adding a
learner means adding a module with an ``__all__`` — no shared ``__init__`` to edit.
"""

from __future__ import annotations

import importlib
import pkgutil


def export_all(package_name: str, package_path, namespace: dict, skip: tuple[str, ...] = ()) -> list[str]:
    """Import the modules of a package into ``namespace``; return the names of their ``__all__``.

    Parameters
    ----------
    package_name : str
    package_path : list of str
    namespace : dict
    skip : tuple of str
        Module names not to import.
    """
    names: list[str] = []
    for info in sorted(pkgutil.iter_modules(package_path), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in skip:
            continue
        module = importlib.import_module(f"{package_name}.{info.name}")
        namespace.setdefault(info.name, module)
        for name in getattr(module, "__all__", ()):
            if not hasattr(module, name):
                raise ImportError(f"{module.__name__}: __all__ lists {name!r} but the module does not define it")
            if name in namespace and namespace[name] is not getattr(module, name):
                raise ImportError(f"{package_name}: name {name!r} exported by two modules")
            namespace[name] = getattr(module, name)
            names.append(name)
    return names
