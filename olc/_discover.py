"""Collect the public names of every module in a subpackage (each module's ``__all__``).

Subpackages such as :mod:`olc.learners` re-export what their modules declare, so adding a
learner means adding a module with an ``__all__`` — no shared ``__init__`` to edit. ``keep`` filters
the names (:mod:`olc.learners` exports only learners: :func:`is_learner`; the rest stays in its module).
"""

from __future__ import annotations

import importlib
import pkgutil


def is_learner(obj) -> bool:
    """Whether ``obj`` is a class following the learner protocol of :func:`olc.play` (``init``, ``decide``, ``update``).

    Parameters
    ----------
    obj : object
    """
    return isinstance(obj, type) and all(callable(getattr(obj, a, None)) for a in ("init", "decide", "update"))


def export_all(package_name: str, package_path, namespace: dict, skip: tuple[str, ...] = (),
               keep=lambda obj: True) -> list[str]:
    """Import the modules of a package into ``namespace``; return the names of their ``__all__``.

    Parameters
    ----------
    package_name : str
    package_path : list of str
    namespace : dict
    skip : tuple of str
        Module names not to import.
    keep : callable
        ``keep(obj)`` decides whether an exported object joins the package namespace.
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
            if not keep(getattr(module, name)):
                continue
            if name in namespace and namespace[name] is not getattr(module, name):
                raise ImportError(f"{package_name}: name {name!r} exported by two modules")
            namespace[name] = getattr(module, name)
            names.append(name)
    return names
