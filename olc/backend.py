"""Array-backend selection for the batched kernels of :mod:`olc.kernels`.

Three backends implement the same kernels:

* ``"numpy"`` — :mod:`olc.kernels.reference`, the semantics (always available);
* ``"numba"`` — :mod:`olc.kernels.numba_cpu`, multi-threaded CPU kernels (needs numba);
* ``"cupy"``  — :mod:`olc.kernels.cupy_gpu`, CUDA kernels (needs CuPy and a GPU).

``"auto"`` picks ``cupy`` when an input is a CuPy array and ``numba`` otherwise (``numpy`` if numba is missing). Every
kernel takes ``backend=``; ``None`` there means the global default, which is ``$OLC_BACKEND`` if set, else ``"auto"``,
and can be changed with :func:`set_backend` (or temporarily with :func:`use_backend`). Asking for a backend that
cannot run raises :class:`olc.errors.BackendUnavailableError` saying why.

Nothing heavy is imported here: numba and CuPy are probed with ``importlib.util.find_spec``
and loaded only when a kernel of that backend runs.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os

from .errors import BackendUnavailableError, InvalidArgumentError

__all__ = ["BACKENDS", "set_backend", "get_backend", "use_backend", "available_backends", "is_available",
           "resolve_backend", "kernel_module", "is_cupy_array"]

BACKENDS = ("numpy", "numba", "cupy")
_CHOICES = ("auto", *BACKENDS)
_MODULES = {"numpy": "olc.kernels.reference", "numba": "olc.kernels.numba_cpu",
            "cupy": "olc.kernels.cupy_gpu"}

_default: str | None = None        # None: read OLC_BACKEND on first use


def _check_name(name, what="backend") -> str:
    if not isinstance(name, str) or name.lower() not in _CHOICES:
        raise InvalidArgumentError(f"{what}: expected one of {list(_CHOICES)}, got {name!r}")
    return name.lower()


def _why_unavailable(name: str) -> str | None:
    """None if ``name`` can run here, else a sentence saying why not."""
    if name == "numpy":
        return None
    if name == "numba":
        if importlib.util.find_spec("numba") is None:
            return "numba is not installed (pip install numba)"
        return None
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed (pip install cupy-cuda12x)"
    try:
        import cupy

        if not cupy.is_available():
            return "CuPy is installed but no CUDA device is available"
    except Exception as exc:  # noqa: BLE001 - any driver/runtime failure means "no GPU"
        return f"CuPy is installed but cannot reach a CUDA device ({type(exc).__name__}: {exc})"
    return None


def is_available(name: str) -> bool:
    """True if a backend can run on this machine.

    Parameters
    ----------
    name : {"numpy", "numba", "cupy"}
    """
    name = _check_name(name)
    if name == "auto":
        return True
    return _why_unavailable(name) is None


def available_backends() -> list[str]:
    """The backends that can run here, in the order numpy, numba, cupy."""
    return [b for b in BACKENDS if _why_unavailable(b) is None]


def _require(name: str) -> str:
    why = _why_unavailable(name)
    if why is not None:
        raise BackendUnavailableError(f"backend {name!r} is unavailable: {why}; "
                                      f"available here: {available_backends()}")
    return name


def get_backend() -> str:
    """The global default backend (``"auto"`` unless changed or set by ``$OLC_BACKEND``)."""
    global _default
    if _default is None:
        env = os.environ.get("OLC_BACKEND", "auto").strip() or "auto"
        _default = _check_name(env, "OLC_BACKEND")
    return _default


def set_backend(name: str) -> str:
    """Set the global default backend; return the previous one.

    Parameters
    ----------
    name : {"auto", "numpy", "numba", "cupy"}

    Raises
    ------
    BackendUnavailableError
        For a backend that cannot run here (the default is left unchanged).
    """
    global _default
    name = _check_name(name)
    if name != "auto":
        _require(name)
    previous = get_backend()
    _default = name
    return previous


@contextlib.contextmanager
def use_backend(name: str):
    """Context manager: use ``name`` as the global default inside the ``with`` block.

    Parameters
    ----------
    name : {"auto", "numpy", "numba", "cupy"}

    Examples
    --------
    >>> from olc.backend import get_backend, use_backend
    >>> with use_backend("numpy"):
    ...     get_backend()
    'numpy'
    """
    previous = set_backend(name)
    try:
        yield name
    finally:
        global _default
        _default = previous


def is_cupy_array(x) -> bool:
    """True for a CuPy ndarray (checked by type, without importing CuPy).

    Parameters
    ----------
    x : object
    """
    return type(x).__module__.split(".")[0] == "cupy"


def resolve_backend(backend=None, *arrays) -> str:
    """Turn a ``backend=`` argument into a concrete backend name, checking it can run.

    Parameters
    ----------
    backend : str, optional
        None: the global default; ``"auto"``: ``cupy`` if any of ``arrays`` is a CuPy array, else
        ``numba`` if installed, else ``numpy``.
    *arrays : array_like
    """
    name = get_backend() if backend is None else _check_name(backend)
    if name == "auto":
        if any(is_cupy_array(a) for a in arrays):
            return _require("cupy")
        return "numba" if _why_unavailable("numba") is None else "numpy"
    return _require(name)


def kernel_module(name: str):
    """Import and return the kernel module of a concrete backend name.

    Parameters
    ----------
    name : {"numpy", "numba", "cupy"}
    """
    name = _check_name(name)
    if name == "auto":
        raise InvalidArgumentError("kernel_module: pass a concrete backend, not 'auto' (see resolve_backend)")
    _require(name)
    return importlib.import_module(_MODULES[name])
