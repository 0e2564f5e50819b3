"""Every public callable of olc has a numpydoc docstring (issue 15: one docstring style).

Enumerated per module: the functions and classes the module defines (its ``__all__``, or its public
names when it has none) and the public methods of those classes. Checks, with
:mod:`numpydoc.docscrape`: no Google ``Args:``/``Returns:`` headers, no ``:param`` fields, sections
that parse, and every parameter of the signature (except ``self``/``cls``, ``*args``/``**kwargs`` and
private ``_name`` ones) documented in ``Parameters`` (a class documents its constructor's parameters in
the class docstring; a dataclass may list its fields under ``Attributes``). A method without a docstring of its own is
checked against the one it inherits (the one Sphinx shows).

An experiment module's contract names (``CONTRACT``) are documented once, by :mod:`olc.experiments`.
Subpackages not converted yet are listed in ``PENDING``; remove one from the list once it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import warnings

import pytest

import olc

try:  # the test extra has numpydoc; test_doctests.py reuses this module's helpers without it
    import numpydoc.docscrape as numpydoc
except ImportError:  # pragma: no cover - numpydoc missing
    numpydoc = None

#: subpackages whose docstrings are not numpydoc yet (remove an entry when converting it)
PENDING = set()
#: the project's own sections (docs/conf.py: napoleon_custom_sections), which numpydoc does not know
CUSTOM_SECTIONS = ("Deviations", "Shapes")
#: optional dependencies: a module that fails to import because one is missing is skipped
#: an experiment module's contract names are documented once, in olc/experiments/__init__.py's docstring (and
#: docs/conventions.md); tests/experiments/test_evidence.py checks that its PROTOCOL table names every Config field
CONTRACT = {"Config", "run", "summary", "plot", "grade_claims", "check"}
OPTIONAL = {"torch", "sklearn", "cupy", "matplotlib", "dask", "distributed", "pandas", "pyarrow", "control"}

_GOOGLE = re.compile(r"^\s*(Args|Arguments|Keyword Args|Returns|Yields|Raises|Attributes|Examples?|Notes?):\s*$",
                     re.M)
_FIELD = re.compile(r":(param|parameter|arg|type|returns?|rtype|raises?)\b[^:]*:")


def module_names(pending: bool = False) -> list[str]:
    """The names of olc's modules (those under ``PENDING`` only when ``pending``)."""
    names = ["olc"] + [m.name for m in pkgutil.walk_packages(olc.__path__, "olc.")]
    return [n for n in names if pending or not any(n == p or n.startswith(p + ".") for p in PENDING)]


def import_or_skip(name: str):
    """Import module ``name``; skip the test when an optional dependency it needs is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing = (getattr(exc, "name", None) or "").split(".")[0]
        if missing in OPTIONAL and importlib.util.find_spec(missing) is None:
            pytest.skip(f"{name} needs the optional dependency {missing}")
        raise


def public_callables(module):
    """``(qualified name, object)`` of the functions, classes and methods ``module`` defines."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = vars(module).get(name)  # not getattr: olc's lazy subpackages (olc.torch) would import here
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or obj.__module__ != module.__name__:
            continue  # re-exported from elsewhere: checked where it is defined
        yield f"{module.__name__}.{name}", obj
        if inspect.isclass(obj):
            for meth, member in vars(obj).items():
                if meth.startswith("_"):
                    continue
                func = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                if getattr(inspect.unwrap(func), "__qualname__", name + ".").split(".")[0] != name:
                    continue  # a base class's method rewrapped here (torch.optim patches ``step``)
                if inspect.isfunction(func) or isinstance(func, property):
                    yield f"{module.__name__}.{name}.{meth}", getattr(obj, meth, func) if not isinstance(
                        func, property) else func


def _params(obj) -> list[str]:
    target = obj.fget if isinstance(obj, property) else obj
    if isinstance(obj, property):
        return []
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in sig.parameters.values()
            if p.kind not in skip and p.name not in ("self", "cls") and not p.name.startswith("_")]


def problems(qualname: str, obj) -> list[str]:
    """What is wrong with ``obj``'s docstring (empty when it is numpydoc and complete)."""
    doc = inspect.getdoc(obj.fget if isinstance(obj, property) else obj)
    if inspect.isclass(obj) and obj.__doc__ is None:
        doc = None  # inspect.getdoc would return a base class's docstring
    if not doc:  # a property without a docstring is an attribute; Sphinx lists it by name
        return [] if isinstance(obj, property) else [f"{qualname}: no docstring"]
    out = []
    if _GOOGLE.search(doc):
        out.append(f"{qualname}: Google-style section header {_GOOGLE.search(doc).group(0).strip()!r}")
    if _FIELD.search(doc):
        out.append(f"{qualname}: reST field {_FIELD.search(doc).group(0)!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=f"Unknown section ({'|'.join(CUSTOM_SECTIONS)})")
        try:
            parsed = numpydoc.NumpyDocString(doc)
        except Exception as exc:  # numpydoc raises ValueError / warns on a malformed section
            return out + [f"{qualname}: numpydoc cannot parse the docstring ({exc})"]
    documented = set()
    sections = ("Parameters", "Other Parameters") + (("Attributes",) if inspect.isclass(obj) else ())
    for section in sections:
        for p in parsed[section]:
            documented.update(n.strip().lstrip("*") for n in p.name.split(","))
    missing = [p for p in _params(obj) if p not in documented]
    if missing:
        out.append(f"{qualname}: parameters not in the Parameters section: {', '.join(missing)}")
    return out


@pytest.mark.parametrize("name", module_names())
def test_numpydoc(name):
    if numpydoc is None:
        pytest.skip("numpydoc is not installed (pip install -e .[test])")
    module = import_or_skip(name)
    experiment = name.startswith("olc.experiments.") and not name.rsplit(".", 1)[1].startswith("_")
    found = [msg for qualname, obj in public_callables(module)
             if not (experiment and qualname[len(name) + 1:].split(".")[0] in CONTRACT)
             for msg in problems(qualname, obj)]
    assert not found, f"{len(found)} docstring problem(s):\n" + "\n".join(found)


@pytest.mark.skipif(numpydoc is None, reason="numpydoc is not installed")
def test_checker_catches_google_and_missing_parameters():
    def google(x, y):
        """Add.

        Args:
            x: first.
        """

    def numpy_style(x, y=1, *args, **kwargs):
        """Add.

        Parameters
        ----------
        x, y : float
            The terms.
        """

    assert any("Google" in p for p in problems("google", google))
    assert any("y" in p for p in problems("google", google) if "parameters" in p)
    assert problems("numpy_style", numpy_style) == []
    numpy_style.__doc__ += "\n    Deviations\n    ----------\n    None.\n"
    assert problems("numpy_style", numpy_style) == []
    numpy_style.__doc__ += "\n    Args:\n        x: first.\n"
    assert any("Google" in p for p in problems("numpy_style", numpy_style))
