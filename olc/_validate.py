"""Argument checks shared by every olc module (one place, one wording).

Each helper names the argument, says what it received and what was expected, and raises an :mod:`olc.errors` exception.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from .errors import InvalidArgumentError, NonFiniteError, ResourceError, ShapeError

__all__ = [
    "as_array",
    "check_finite",
    "positive",
    "nonnegative",
    "positive_int",
    "in_range",
    "check_choice",
    "check_square",
    "check_psd",
    "as_rng",
    "available_memory",
    "check_alloc",
    "real",
    "number",
    "is_scalar",
    "scaled_norm",
    "real_tensor",
    "as_path",
    "flag",
]


def _shape_str(shape) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


_REAL_KINDS = "iuf"   # numpy dtype kinds that are real numbers (bool, complex, strings, objects are not)
_KIND_NAMES = {"b": "booleans", "c": "complex numbers", "U": "strings", "S": "bytes", "O": "Python objects",
               "M": "datetimes", "m": "timedeltas", "V": "raw records"}


_NONE = object()


def _real_array(x, name: str) -> np.ndarray:
    """``x`` as a numpy array of a real dtype (int, uint or float) without casting, or an olc error.

    Complex numbers, booleans, strings and other objects are not numbers here: ``np.asarray``
    would silently drop imaginary parts and parse ``"0.5"``. An object array is accepted only
    when every entry is a real number (e.g. Python ints too large for int64)."""
    if isinstance(x, np.ndarray):
        arr = x
    else:
        if isinstance(x, (str, bytes)):
            raise InvalidArgumentError(f"{name}: expected a numeric array, got the string {x!r:.60} "
                                       "(strings are not numbers)")
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
            why = ("a ragged nested sequence: its rows have different lengths" if "inhomogeneous" in str(exc)
                   else str(exc)[:120])
            raise InvalidArgumentError(f"{name}: expected a numeric array, got {type(x).__name__} ({why})") from None
    kind = arr.dtype.kind
    if kind in _REAL_KINDS:
        return arr
    if kind == "O":
        bad = next((v for v in arr.flat if isinstance(v, (bool, np.bool_))
                    or not isinstance(v, (numbers.Real, np.integer, np.floating))), _NONE)
        if bad is _NONE and arr.size:
            try:
                return np.asarray(arr, dtype=np.float64)
            except (TypeError, ValueError, OverflowError) as exc:
                raise InvalidArgumentError(f"{name}: expected a numeric array ({exc})") from None
        what = "an empty object array" if bad is _NONE else f"{bad!r:.40} ({type(bad).__name__})"
        if arr.ndim == 0:
            raise InvalidArgumentError(f"{name}: expected a number or a numeric array, got {what}")
        raise InvalidArgumentError(f"{name}: expected an array of real numbers, got an object array containing "
                                   f"{what}")
    raise InvalidArgumentError(f"{name}: expected an array of real numbers, got {_KIND_NAMES.get(kind, kind)} "
                               f"(dtype {arr.dtype}{', shape ' + str(arr.shape) if arr.ndim else ''})"
                               + ("; pass the real part explicitly (x.real) if that is what you mean"
                                  if kind == "c" else ""))


def as_array(x, name: str, *, shape: Sequence[int | None] | None = None, ndim: int | Sequence[int] | None = None,
             dtype=np.float64, finite: bool = True, copy: bool = False) -> np.ndarray:
    """Convert ``x`` to an array and check it.

    Only real numbers are accepted: complex, boolean, string and object input raise
    :class:`InvalidArgumentError` (never a silent cast), as do ragged nested lists.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    shape : sequence of int or None, optional
        None entries are free axes.
    ndim : int or tuple of int, optional
        The allowed numbers of axes.
    dtype : numpy dtype
    finite : bool
        NaN/Inf raise :class:`NonFiniteError` (default True).
    copy : bool
    """
    arr = _real_array(x, name)
    try:
        arr = np.array(arr, dtype=dtype, copy=True) if copy else np.asarray(arr, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgumentError(f"{name}: expected a numeric array, got {type(x).__name__} ({exc})") from None
    if ndim is None and shape is None and (not finite or np.isfinite(arr).all()):
        return arr  # fast path for the hot loops (decisions, gradients)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ShapeError(
                f"{name}: expected an array with {' or '.join(map(str, allowed))} dimension(s), "
                f"got shape {arr.shape}"
            )
    if shape is not None:
        shape = tuple(shape)
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            raise ShapeError(f"{name}: expected shape {_shape_str(shape)}, got shape {arr.shape}")
    if finite and arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))
        where = tuple(int(i) for i in bad[0]) if bad.size else ()
        raise NonFiniteError(f"{name}: contains NaN or Inf (first at index {where}, {bad.shape[0]} entries)")
    return arr


def as_path(x, name: str) -> str:
    """``x`` as a file-system path (``str``): a non-empty ``str`` or ``os.PathLike``.

    Bytes, numbers and other objects raise :class:`InvalidArgumentError` naming ``name``.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    """
    import os

    path = os.fspath(x) if isinstance(x, (str, os.PathLike)) else None
    if not isinstance(path, str) or not path:
        raise InvalidArgumentError(f"{name}: expected a path (a non-empty str or os.PathLike), got {x!r:.60} "
                                   f"({type(x).__name__})")
    return path


def flag(x, name: str) -> bool:
    """``x`` as a bool: ``True``/``False`` (Python or numpy) only.

    Anything else is an :class:`InvalidArgumentError` (``"False"``, ``0.0`` or an array are not switches).

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    """
    if not isinstance(x, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name}: expected True or False, got {x!r:.60} ({type(x).__name__})")
    return bool(x)


def real_tensor(x, name: str):
    """``x`` as a torch tensor of real numbers (NaN/Inf are left to the caller).

    A tensor is kept as it is, anything else goes through :func:`as_array` with its dtype kept, so strings, ``None``,
    objects, ragged lists, complex and boolean data raise :class:`InvalidArgumentError`; complex and boolean tensors
    are refused too. torch is imported here, never by ``import olc``.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    """
    import torch

    if torch.is_tensor(x):
        t = x
    else:
        arr = as_array(x, name, dtype=None, finite=False)
        if arr.dtype.kind == "u" and arr.dtype.itemsize > 1:  # torch has no uint16..uint64 conversion
            arr = arr.astype(np.int64) if arr.size == 0 or arr.max() <= _INT64_MAX else arr.astype(np.float64)
        t = torch.as_tensor(arr)
    if t.is_complex() or t.dtype == torch.bool:
        raise InvalidArgumentError(f"{name}: expected real-valued data, got a {t.dtype} tensor"
                                   + ("; pass the real part explicitly (x.real)" if t.is_complex() else ""))
    return t


def check_finite(x, name: str):
    """Raise :class:`NonFiniteError` if ``x`` (scalar or array) has NaN/Inf; return ``x``.

    A string, complex number or other non-real scalar raises :class:`InvalidArgumentError`.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    """
    if np.isscalar(x) or x is None:
        if isinstance(x, (str, bytes, bool, np.bool_, complex, np.complexfloating)) or \
                not isinstance(x, (numbers.Real, np.integer, np.floating)):
            raise InvalidArgumentError(f"{name}: expected a real number, got {x!r:.60} ({type(x).__name__})")
        if not np.isfinite(x):
            raise NonFiniteError(f"{name}: got non-finite value {x}")
        return x
    arr = _real_array(x, name)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise NonFiniteError(f"{name}: contains NaN or Inf")
    return x


def _scalar(x):
    """A 0-d numpy array or a 0-d tensor-like (torch, cupy: ``.ndim == 0`` and ``.item()``) as its
    Python scalar; anything else unchanged."""
    if isinstance(x, np.ndarray):
        return x[()] if x.ndim == 0 else x
    if not isinstance(x, (numbers.Number, np.generic, str, bytes)) and getattr(x, "ndim", None) == 0 \
            and callable(getattr(x, "item", None)):
        try:
            return x.item()
        except Exception:  # noqa: BLE001 - not a tensor after all; rejected by the caller
            return x
    return x


def real(x, name: str, *, finite: bool = True) -> float:
    """Check ``x`` is a real number (a Python/numpy scalar, a 0-d array or 0-d tensor); return it as float.

    Booleans, strings (even numeric ones), complex numbers and ``None`` are rejected with an
    :class:`InvalidArgumentError`.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    finite : bool
        NaN/Inf raise :class:`NonFiniteError` (False: ±inf pass, NaN still fails).
    """
    x = _scalar(x)
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Real, np.floating, np.integer)):
        raise InvalidArgumentError(f"{name}: expected a real number, got {x!r:.60} ({type(x).__name__})")
    try:
        x = float(x)
    except OverflowError:  # a Python int beyond the float range
        raise InvalidArgumentError(f"{name}: expected a real number within the float range (|x| < 1.8e308), got "
                                   f"an integer with {len(str(abs(int(x))))} digits") from None
    if np.isnan(x) or (finite and not np.isfinite(x)):
        raise NonFiniteError(f"{name}: expected a {'finite ' if finite else ''}number, got {x}")
    return x


def number(x, name: str) -> float:
    """``x`` as a float when it is a real number, NaN and ±inf included.

    For results that the caller checks and reports itself; booleans, strings, complex numbers,
    ``None`` raise :class:`InvalidArgumentError` as in :func:`real`.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    """
    if type(x) is float:
        return x
    try:
        return real(x, name, finite=False)
    except NonFiniteError:  # NaN
        return float("nan")


def is_scalar(x) -> bool:
    """Whether ``x`` is meant as one number rather than an array.

    Anything but a list, tuple or array with at least one axis (never raises, unlike ``np.ndim`` on a
    ragged list). Decides which of :func:`real` and :func:`as_array` checks an argument that may be either.

    Parameters
    ----------
    x : object
    """
    return not isinstance(x, (list, tuple, np.ndarray)) or (isinstance(x, np.ndarray) and x.ndim == 0)


def positive(x, name: str, *, finite: bool = True) -> float:
    """Check ``x`` is a real > 0 and return it as float.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    finite : bool
        False lets ``inf`` through.
    """
    v = real(x, name, finite=finite)
    if v <= 0:
        raise InvalidArgumentError(f"{name}: expected a positive number, got {x!r}")
    return v


def nonnegative(x, name: str) -> float:
    """Check ``x`` is a finite real >= 0 and return it as float.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    """
    v = real(x, name)
    if v < 0:
        raise InvalidArgumentError(f"{name}: expected a number >= 0, got {x!r}")
    return v


def in_range(x, name: str, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    """Check ``lo <= x <= hi`` and return ``x`` as float.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    lo, hi : float
    lo_open, hi_open : bool
        Open ends.
    """
    v = real(x, name)
    ok_lo = v > lo if lo_open else v >= lo
    ok_hi = v < hi if hi_open else v <= hi
    if not (ok_lo and ok_hi):
        interval = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise InvalidArgumentError(f"{name}: expected a number in {interval}, got {x!r}")
    return v


def positive_int(x, name: str, *, minimum: int = 1) -> int:
    """Check ``x`` is an integer >= ``minimum`` and return it.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    minimum : int
    """
    if isinstance(x, bool) or not isinstance(x, (numbers.Integral, np.integer)):
        raise InvalidArgumentError(f"{name}: expected an integer >= {minimum}, got {x!r} ({type(x).__name__})")
    if int(x) < minimum:
        raise InvalidArgumentError(f"{name}: expected an integer >= {minimum}, got {x!r}")
    if int(x) > _INT64_MAX:  # sizes and counts index numpy arrays, whose indices are int64
        raise InvalidArgumentError(f"{name}: expected an integer <= 2**63 - 1 (a size or count numpy can index), "
                                   f"got one with {len(str(int(x)))} digits")
    return int(x)


_INT64_MAX = 2 ** 63 - 1


def check_choice(x, name: str, choices: Sequence[str]) -> str:
    """Check ``x`` is one of ``choices``.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    choices : sequence of str
    """
    try:
        ok = any(x is c or (type(x) is type(c) and x == c) for c in choices)
    except (TypeError, ValueError):  # e.g. an array compared with a string
        ok = False
    if not ok:
        raise InvalidArgumentError(f"{name}: expected one of {list(choices)}, got {x!r}")
    return x


def check_square(x, name: str, n: int | None = None) -> np.ndarray:
    """Check ``x`` is a square (n, n) matrix and return it as float64.

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    n : int, optional
    """
    arr = as_array(x, name, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ShapeError(f"{name}: expected a square matrix, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ShapeError(f"{name}: expected a non-empty (n, n) matrix with n >= 1, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ShapeError(f"{name}: expected shape ({n}, {n}), got shape {arr.shape}")
    return arr


def check_psd(x, name: str, *, strict: bool = False, tol: float = 1e-10, stack: bool = False) -> np.ndarray:
    """Check ``x`` is symmetric positive semidefinite (definite with ``strict``).

    Parameters
    ----------
    x, name : object, str
        The value and the argument's name (for the error message).
    strict : bool
    tol : float
    stack : bool
        A ``(T, d, d)`` stack is accepted too, every matrix checked (the error names ``name[t]``).
    """
    arr = as_array(x, name) if stack and np.ndim(x) == 3 else check_square(x, name)
    if arr.shape[-1] != arr.shape[-2] or arr.size == 0:
        raise ShapeError(f"{name}: expected a non-empty (T, d, d) stack of square matrices, got shape {arr.shape}")
    S = arr.reshape(-1, arr.shape[-1], arr.shape[-1])
    where = (lambda i: f"{name}[{i}]") if arr.ndim == 3 else (lambda i: name)
    scale = np.maximum(1.0, np.max(np.abs(S), axis=(1, 2)))
    asym = np.max(np.abs(S - S.transpose(0, 2, 1)), axis=(1, 2))
    if np.any(asym > tol * scale):
        i = int(np.argmax(asym > tol * scale))
        raise InvalidArgumentError(f"{where(i)}: expected a symmetric matrix (max |{name} - {name}.T| = {asym[i]:.3g})")
    lam = np.linalg.eigvalsh((S + S.transpose(0, 2, 1)) / 2)[:, 0]
    bad = lam <= tol * scale if strict else lam < -tol * scale
    if np.any(bad):
        i = int(np.argmax(bad))
        kind = "positive definite" if strict else "positive semidefinite"
        raise InvalidArgumentError(f"{where(i)}: expected a {kind} matrix, smallest eigenvalue is {lam[i]:.3g}")
    return arr


def scaled_norm(x, axis=None, keepdims: bool = False) -> np.ndarray | float:
    """Euclidean norm of ``x`` computed without overflow or underflow.

    ``m * sqrt(sum((x / m)^2))`` with ``m = max |x|``. Finite input gives a finite result whenever the
    norm itself is below the float maximum (``sqrt(sum(x**2))`` overflows once an entry passes ~1e154).

    Parameters
    ----------
    x : array_like
    axis : int or tuple of int, optional
        All entries by default.
    keepdims : bool
    """
    x = np.asarray(x, dtype=float)
    m = np.max(np.abs(x), axis=axis, keepdims=True) if x.size else np.zeros((1,) * max(x.ndim, 1))
    safe = np.where((m > 0) & np.isfinite(m), m, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.where(np.isfinite(m), safe * np.sqrt(np.sum((x / safe) ** 2, axis=axis, keepdims=True)), m)
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return float(out) if np.ndim(out) == 0 else out


def as_shape(shape, name: str = "shape") -> tuple[int, ...]:
    """A decision shape: an int ``n`` (→ ``(n,)``) or a sequence of positive ints (one float64 array
    of that shape must fit in memory: :func:`check_alloc`)."""
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise InvalidArgumentError(f"{name}: expected a tuple of positive ints, got {shape!r}") from None
    for s in dims:
        if isinstance(s, bool) or not isinstance(s, (numbers.Integral, np.integer)) or s < 1:
            raise InvalidArgumentError(f"{name}: expected a tuple of positive ints, got {shape!r}")
    dims = tuple(int(s) for s in dims)
    check_alloc(8 * math.prod(dims), f"{name}: one float64 array of shape {dims}")
    return dims


def require(obj, name: str, what: str, methods=(), attrs=()):
    """Check ``obj`` follows a protocol: the callables ``methods`` and the attributes ``attrs``;
    else an error naming ``name``, the protocol ``what`` and what is missing. Returns ``obj``.
    A class passed where an instance is expected (``OGD`` for ``OGD(K)``) is refused as such."""
    if isinstance(obj, type):
        raise InvalidArgumentError(f"{name}: expected {what} — an instance, got the class {obj.__name__} itself "
                                   f"(construct it first: {obj.__name__}(...))")
    missing = [m for m in methods if not callable(getattr(obj, m, None))] + [a for a in attrs if not hasattr(obj, a)]
    if missing:
        raise InvalidArgumentError(f"{name}: expected {what}, got {type(obj).__name__} {obj!r:.60} "
                                   f"(no {', '.join(missing)})")
    return obj


def as_rng(seed) -> np.random.Generator:
    """Turn ``seed`` into a ``numpy.random.Generator``.

    Parameters
    ----------
    seed : int, None, numpy.random.SeedSequence or numpy.random.Generator
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)):
        raise InvalidArgumentError(f"seed: expected a non-negative int, None or numpy.random.Generator, got {seed!r}")
    if isinstance(seed, (numbers.Integral, np.integer)) and seed < 0:
        raise InvalidArgumentError(f"seed: expected a non-negative int (numpy seeds are >= 0), got {seed}")
    if seed is None or isinstance(seed, (numbers.Integral, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(seed)
    raise InvalidArgumentError(f"seed: expected a non-negative int, None or numpy.random.Generator, got {seed!r}")


def available_memory() -> int:
    """Bytes of memory available to a new allocation: ``MemAvailable`` of ``/proc/meminfo`` where it
    exists (Linux), else physical pages times page size; ``OLC_MEMORY_LIMIT`` (bytes) caps it."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            import os

            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
            avail = 2 ** 63 - 1
    import os

    cap = os.environ.get("OLC_MEMORY_LIMIT")
    if cap:
        try:
            avail = min(avail, int(float(cap)))
        except ValueError:
            raise InvalidArgumentError(f"OLC_MEMORY_LIMIT: expected a number of bytes, got {cap!r}") from None
    return int(avail)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def check_alloc(nbytes, what: str, hint: str = "", *, limit: int | None = None) -> int:
    """Raise :class:`~olc.errors.ResourceError` *before* allocating more than the memory available.

    Parameters
    ----------
    nbytes : int
        Returned as an int when it fits.
    what : str
        The argument(s) that set the size (``"GPC(H=1000000): the M parameters"``).
    hint : str
        What to do instead (a smaller size, an operator path, ...).
    limit : int, optional
        Default: :func:`available_memory`.
    """
    try:
        need = float(nbytes)
    except OverflowError:  # a Python int beyond the float range
        need = float("inf")
    have = available_memory() if limit is None else int(limit)
    if need > have:
        raise ResourceError(f"{what}: needs about {_fmt_bytes(need)} but only {_fmt_bytes(have)} is available"
                            + (f"; {hint}" if hint else ""))
    return int(need) if need < float("inf") else int(nbytes)


def no_start(x0, who: str):
    """``init(..., x0=)`` of a learner whose decisions have no given start (a controller's control,
    Hedge's weights): only ``None`` is accepted."""
    if x0 is not None:
        raise InvalidArgumentError(f"x0: {who} takes no starting decision (its decisions are not iterates); "
                                   f"got x0 of type {type(x0).__name__}")
