"""The optional parts of olc (setup.cfg extras), how to tell whether they are installed without
importing them, and the error that says how to install one."""

from __future__ import annotations

import importlib.util

from .errors import MissingExtraError

__all__ = ["EXTRAS", "missing_modules", "require_extras", "extra_of_module", "missing_extra_error"]

#: extra -> (what it is, the modules it provides, the install command)
EXTRAS = {
    "torch": ("PyTorch", ("torch",), "pip install 'olc[torch]' (CPU-only wheel: pip install torch==2.13.0)"),
    "data": ("scikit-learn", ("sklearn",), "pip install 'olc[data]'"),
    "plot": ("matplotlib", ("matplotlib",), "pip install 'olc[plot]'"),
    "sweep": ("Dask distributed and pandas", ("dask", "distributed", "pandas"), "pip install 'olc[sweep]'"),
    "gpu": ("CuPy", ("cupy",), "pip install 'olc[gpu]'"),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be found (nothing is imported to find out).

    Parameters
    ----------
    extra : str
    """
    out = []
    for name in EXTRAS[extra][1]:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken package, or sys.modules[name] = None
            found = False
        if not found:
            out.append(name)
    return out


def require_extras(extras, what: str) -> None:
    """Raise :class:`olc.errors.MissingExtraError` naming the first of ``extras`` not installed.

    Parameters
    ----------
    extras : iterable of str
    what : str
        What needs them (the message also gives the command that installs it).
    """
    for extra in extras:
        gone = missing_modules(extra)
        if gone:
            label, _, install = EXTRAS[extra]
            raise MissingExtraError(f"{what} needs {label} (the {extra!r} extra; missing module "
                                    f"{', '.join(gone)}): {install}", extra=extra)


def extra_of_module(module_name: str | None) -> str | None:
    """The extra that provides a top-level module (e.g. of an ImportError), or None.

    Parameters
    ----------
    module_name : str or None
    """
    top = (module_name or "").split(".")[0]
    return next((e for e, (_, mods, _) in EXTRAS.items() if top in mods), None)


def missing_extra_error(exc: BaseException, what: str) -> MissingExtraError | None:
    """``exc`` as a :class:`MissingExtraError`, or None.

    When it is one, or an ImportError of a module that an extra provides and that is indeed missing
    (a broken install stays a plain ImportError).

    Parameters
    ----------
    exc : BaseException
    what : str
    """
    if isinstance(exc, MissingExtraError):
        return exc
    extra = extra_of_module(getattr(exc, "name", None)) if isinstance(exc, ImportError) else None
    if extra is None:
        return None
    try:
        require_extras((extra,), what)
    except MissingExtraError as err:
        return err
    return None
