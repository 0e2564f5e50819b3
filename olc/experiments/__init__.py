"""Named experiments: one module per experiment, found automatically.

An experiment module defines ``NAME`` (the name used by ``olc run NAME``), ``Config`` (a
dataclass whose defaults finish in seconds on two cores), ``CHECKS`` (the constraints on the
``Config`` fields, see :func:`check_config`), ``run(config, progress=None) -> dict``
(JSON-serialisable results; it starts with ``check_config(cfg, CHECKS)``) and
``plot(results, outdir) -> list[str]`` (PNG paths; optional).

A module whose fields constrain each other (``memory <= T``) also defines ``check(cfg) -> cfg``
(``check_config(cfg, CHECKS)`` plus those relations, each error naming a field); ``make_config``
and ``run`` then use it.

``CHECKS`` maps a field name to a rule ``rule(value, key)`` that raises an :mod:`olc.errors`
exception naming ``key`` (the ``--set`` key), the value received and what was expected; the
builders below make the usual ones compactly::

    CHECKS = {"T": integer(2), "lr": positive, "p": real(0.0, 1.0), "names": each(choice("a", "b")),
              "tol": optional(positive), "k": pair(nonnegative), "seed": integer(0)}
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import types
import typing
from collections.abc import Callable, Mapping

from .._validate import check_choice, in_range, nonnegative, positive, positive_int
from .._validate import real as _finite
from ..errors import InvalidArgumentError

__all__ = ["registry", "get", "make_config", "check_config", "integer", "real", "positive", "nonnegative",
           "choice", "optional", "each", "pair"]

Rule = Callable[[object, str], object]


def registry() -> dict[str, str]:
    """Map experiment name -> module name (modules are imported to read ``NAME``)."""
    out = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(module, "NAME", None)
        if name:
            out[name] = module.__name__
    return out


def get(name: str):
    """The experiment module called ``name``."""
    reg = registry()
    if name not in reg:
        raise InvalidArgumentError(f"experiment: unknown name {name!r}; available: {', '.join(sorted(reg))}")
    return importlib.import_module(reg[name])


# ------------------------------------------------------------------------------ checks of Config fields
def check_config(cfg, rules: Mapping[str, Rule]):
    """Apply ``rules`` (field name -> ``rule(value, key)``) to the fields of ``cfg``; return ``cfg``.

    Call it first thing in ``run`` so that a bad value fails before any computation, with an
    error that names the field (the ``--set`` key), the value and what was expected.
    """
    for key, rule in rules.items():
        rule(getattr(cfg, key), key)
    return cfg


def integer(minimum: int = 1) -> Rule:
    """An integer ``>= minimum``."""
    return lambda value, key: positive_int(value, key, minimum=minimum)


def real(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False) -> Rule:
    """A finite real number in the interval from ``lo`` to ``hi`` (either end may be omitted)."""

    def rule(value, key):
        v = _finite(value, key)  # a finite real (NaN/Inf rejected here)
        if lo is not None and hi is not None:
            return in_range(value, key, lo, hi, lo_open=lo_open, hi_open=hi_open)
        if lo is not None and (v <= lo if lo_open else v < lo):
            raise InvalidArgumentError(f"{key}: expected a number {'>' if lo_open else '>='} {lo}, got {value!r}")
        if hi is not None and (v >= hi if hi_open else v > hi):
            raise InvalidArgumentError(f"{key}: expected a number {'<' if hi_open else '<='} {hi}, got {value!r}")
        return v

    return rule


def choice(*options: str) -> Rule:
    """One of ``options``."""
    return lambda value, key: check_choice(value, key, options)


def optional(rule: Rule) -> Rule:
    """``None`` (written ``none`` on the command line), or a value that passes ``rule``."""
    return lambda value, key: None if value is None else rule(value, key)


def each(rule: Rule, *, nonempty: bool = True) -> Rule:
    """A list (comma-separated on the command line) whose every item passes ``rule``."""

    def check(value, key):
        if not isinstance(value, (list, tuple)):
            raise InvalidArgumentError(f"{key}: expected a list of values, got {value!r} ({type(value).__name__})")
        if nonempty and not value:
            raise InvalidArgumentError(f"{key}: expected at least one value (comma-separated), got an empty list")
        return [rule(v, key) for v in value]

    return check


def pair(rule: Rule, names: tuple[str, str] = ("first", "second")) -> Rule:
    """One value for both, or a pair (``a,b`` on the command line; ``names`` says what the two are), each
    passing ``rule``."""

    def check(value, key):
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise InvalidArgumentError(f"{key}: expected a number or a pair {names[0]},{names[1]}, got "
                                           f"{len(value)} values {tuple(value)!r}")
            return tuple(rule(v, key) for v in value)
        return rule(value, key)

    return check


# ------------------------------------------------------------------------------ --set strings -> field types
_UNION_TYPES = (typing.Union, types.UnionType)


def _is_sequence(typ) -> bool:
    return typ in (list, tuple) or typing.get_origin(typ) in (list, tuple)


def _describe(typ, elem=str) -> str:
    if typ is type(None):
        return "none"
    if typ is bool:
        return "a boolean (true/false)"
    if typ is int:
        return "an integer"
    if typ is float:
        return "a number"
    if typ is str:
        return "a string"
    if _is_sequence(typ):
        args = [a for a in typing.get_args(typ) if a is not Ellipsis]
        inner = _describe(args[0] if args else elem)
        return f"a comma-separated list of {inner.split(' ', 1)[1] if ' ' in inner else inner} values"
    if typing.get_origin(typ) in _UNION_TYPES:
        return " or ".join(_describe(a, elem) for a in typing.get_args(typ))
    return getattr(typ, "__name__", str(typ))


def _convert(value: str, typ, elem=str):
    """``value`` (a ``--set`` string) as a ``typ``; ``elem`` types the items of a bare ``list``/``tuple``.

    Raises ValueError("expected ..., got ...") when ``value`` does not fit.
    """
    origin = typing.get_origin(typ)
    fail = ValueError(f"expected {_describe(typ, elem)}, got {value!r}")
    if typ is bool:
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise fail
    if typ in (int, float):
        try:
            return typ(value)
        except ValueError:
            raise fail from None
    if typ is str:
        return value
    if _is_sequence(typ):
        args = [a for a in typing.get_args(typ) if a is not Ellipsis]
        inner = args[0] if args else elem
        try:
            items = [_convert(v.strip(), inner) for v in value.split(",") if v.strip()]
        except ValueError:
            raise fail from None
        return tuple(items) if (origin or typ) is tuple else items
    if origin in _UNION_TYPES:  # X | None, float | tuple, ...
        members = typing.get_args(typ)
        if type(None) in members and value.strip().lower() == "none":
            return None
        members = [a for a in members if a is not type(None)]
        scalars = [a for a in members if not _is_sequence(a)]
        seqs = [a for a in members if _is_sequence(a)]
        inner = scalars[0] if scalars else str  # a bare tuple next to float holds floats
        order = seqs + scalars if "," in value else scalars + seqs
        for member in order:
            try:
                return _convert(value, member, inner)
            except ValueError:
                continue
        raise fail
    return value


def make_config(module, overrides: dict[str, str] | None = None):
    """Build ``module.Config`` with ``key=value`` string overrides converted to field types, and check it
    (``module.check`` if defined, else ``module.CHECKS``) before anything runs."""
    cfg_cls = module.Config
    hints = typing.get_type_hints(cfg_cls)
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    kwargs = {}
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise InvalidArgumentError(f"--set {key}: unknown option of {module.NAME}; options: {', '.join(sorted(fields))}")
        try:
            kwargs[key] = _convert(value, hints[key])
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"--set {key}={value}: {exc}") from None
    cfg = cfg_cls(**kwargs)
    check = getattr(module, "check", None)
    return check(cfg) if check is not None else check_config(cfg, getattr(module, "CHECKS", {}))
