"""Named experiments: one module per experiment, found automatically.

An experiment module defines ``NAME`` (the name used by ``olc run NAME``), ``Config`` (a dataclass whose
defaults finish in seconds on two cores; its fields are documented by the module's ``PROTOCOL`` table),
``CHECKS`` (the constraints on the ``Config`` fields, see :func:`check_config`), ``run`` (it starts with
``cfg = checked(config or Config())``, see :func:`checked`) and optionally ``summary``, ``plot``,
``grade_claims`` and ``check``. A reproduction also declares ``PAPER_PRESET`` (the fields that
``--set protocol=paper`` changes, with the paper's values).

Modules used in sweeps (``olc sweep``) also declare ``PRIMARY`` (the key of their main metric) and
``EXTRAS`` (the setup.cfg extras they need: ``("torch", "data")``; ``()`` for the core install). A reproduction's ``Config``
subclasses :class:`EvidenceConfig` (``protocol``, ``seed``) or :class:`SeedsConfig` (also ``seeds``), whose fields
come first and whose rules :func:`checked` applies with the module's ``CHECKS``.

Parameters
----------
config : Config, optional
    ``run(config, progress=None) -> dict``: the settings (``None``: the defaults). The results are
    JSON-serialisable and contain ``"metrics"`` (``{name: float}``, scalars of this run's ``cfg.seed``,
    every ``Config`` has a ``seed: int`` field), ``"curves"`` (``{name: list of floats}``) and optionally
    ``"curve_x"`` (``{name: list}``, the x positions of a curve).
progress : callable, optional
    ``progress(total, name)`` returns a bar with ``update()`` and ``close()`` (tqdm's); ``None``: silent.
results, res : dict
    What ``run`` returned: ``summary(results) -> str`` (a text table), ``plot(results, outdir) -> list[str]``
    (the PNG paths) and ``grade_claims(res) -> list[dict]`` (the paper's claims, see ``_evidence.claim``).
outdir : str
    The folder ``plot`` writes its PNGs into.
cfg : Config
    ``check(cfg)``, for a module whose fields constrain each other (``memory <= T``): raises on a broken
    relation (each error naming a field) or returns a replacement ``cfg``; :func:`checked` calls it last.

Examples
--------
``CHECKS`` maps a field name to a rule ``rule(value, key)`` that raises an :mod:`olc.errors` exception
naming ``key`` (the ``--set`` key), the value received and what was expected; the builders below make
the usual ones compactly (``CHECKS = {"T": integer(2), "lr": positive, "p": real(0.0, 1.0), "names":
each(choice("a", "b")), "tol": optional(positive), "k": pair(nonnegative), "seed": integer(0)}``):

>>> from dataclasses import dataclass
>>> @dataclass
... class Config:
...     T: int = 0
>>> check_config(Config(), {"T": integer(1)})
Traceback (most recent call last):
...
olc.errors.InvalidArgumentError: T: expected an integer >= 1, got 0
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib
import inspect
import os
import pkgutil
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping

from .._extras import missing_extra_error, require_extras
from .._validate import check_choice, in_range, nonnegative, positive, positive_int
from .._validate import real as _finite
from ..errors import InvalidArgumentError

__all__ = ["registry", "get", "make_config", "check_config", "checked", "integer", "real", "positive", "nonnegative",
           "choice", "optional", "each", "pair", "EvidenceConfig", "SeedsConfig", "rules_of", "describe_rule",
           "describe_config", "require_extras_of", "extras_of", "thin_curve", "takes_list"]

Rule = Callable[[object, str], object]


def _declared_name(path: str) -> str | None:
    """``NAME = "..."`` read from a module's source without importing it."""
    try:
        tree = ast.parse(open(path, encoding="utf-8").read())
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "NAME" for t in node.targets) \
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value
    return None


def registry() -> dict[str, str]:
    """Map experiment name -> module name (modules are imported to read ``NAME``; a module that cannot
    be imported here, e.g. one importing an uninstalled extra at the top, is listed by the ``NAME`` in
    its source)."""
    out = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        modname = f"{__name__}.{info.name}"
        try:
            name = getattr(importlib.import_module(modname), "NAME", None)
        except ImportError:
            name = _declared_name(os.path.join(__path__[0], f"{info.name}.py"))
        if name:
            out[name] = modname
    return out


def _import(modname: str, name: str):
    try:
        return importlib.import_module(modname)
    except ImportError as exc:
        err = missing_extra_error(exc, f"experiment {name}")
        if err is None:
            raise
        raise err from exc


def get(name: str):
    """The experiment module called ``name``.

    Parameters
    ----------
    name : str
        A registered name (see :func:`registry`) or the dotted path of a module with ``NAME``, ``Config``, ``run``.
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"experiment: expected a name (str), got {name!r:.60} ({type(name).__name__})")
    reg = registry()
    if name in reg:
        return _import(reg[name], name)
    if "." in name:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
        else:
            missing = [a for a in ("NAME", "Config", "run") if not hasattr(module, a)]
            if missing:
                raise InvalidArgumentError(f"experiment: the module {name} is not an olc experiment (it has no "
                                           f"{', '.join(missing)})")
            return module
    close = difflib.get_close_matches(name, reg, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InvalidArgumentError(f"experiment: unknown name {name!r}{hint} (available: {', '.join(sorted(reg))}; "
                               "or the dotted path of your own experiment module)")


def extras_of(module) -> tuple[str, ...]:
    """The setup.cfg extras experiment ``module`` declares in ``EXTRAS`` (``()`` when none).

    Parameters
    ----------
    module : module
    """
    return tuple(getattr(module, "EXTRAS", ()))


def require_extras_of(module) -> None:
    """Raise :class:`olc.errors.MissingExtraError` (with the install command) when an extra declared
    by experiment ``module`` is not installed.

    Parameters
    ----------
    module : module
    """
    require_extras(extras_of(module), f"experiment {module.NAME}")


def thin_curve(curve, n: int = 200) -> tuple[list[int], list[float]]:
    """``(indices, values)`` of ``n`` evenly spaced points, as lists for the results' ``"curve_x"``/``"curves"``.

    Parameters
    ----------
    curve : array_like
    n : int
        The most points kept (the first and last included).
    """
    import numpy as np

    curve = np.asarray(curve, float)
    idx = np.unique(np.linspace(0, len(curve) - 1, min(n, len(curve))).astype(int))
    return idx.tolist(), curve[idx].tolist()


# ------------------------------------------------------------------------------ checks of Config fields
def check_config(cfg, rules: Mapping[str, Rule]):
    """Apply ``rules`` to the fields of ``cfg``; return ``cfg``.

    Call it first thing in ``run`` so that a bad value fails before any computation, with an
    error that names the field (the ``--set`` key), the value and what was expected.

    Parameters
    ----------
    cfg : Config
    rules : Mapping
        Field name -> ``rule(value, key)``.
    """
    for key, rule in rules.items():
        rule(getattr(cfg, key), key)
    return cfg


def checked(cfg):
    """``cfg`` checked as its experiment module declares; :func:`make_config` and every ``run`` call it first.

    Parameters
    ----------
    cfg : Config
        Checked by its module's ``CHECKS`` (see :func:`check_config`), then ``protocol=paper`` resolved
        with its ``PAPER_PRESET`` (fields still at their defaults take the paper's values), then its
        ``check(cfg)`` (relations between fields; it raises, or returns a replacement ``cfg``).
    """
    module = sys.modules[type(cfg).__module__]
    cfg = check_config(cfg, rules_of(module))
    if hasattr(module, "PAPER_PRESET"):
        from ._evidence import apply_protocol

        cfg = apply_protocol(cfg, module.PAPER_PRESET)
    out = module.check(cfg) if hasattr(module, "check") else None
    return cfg if out is None else out


class _Rule:
    """A check ``rule(value, key)`` that also says in words what it accepts (``str(rule)``)."""

    def __init__(self, fn, text: str):
        self.fn, self.text = fn, text

    def __call__(self, value, key):
        return self.fn(value, key)

    def __repr__(self):
        return self.text


_KNOWN = {positive: "a positive number", nonnegative: "a number >= 0"}


def describe_rule(rule) -> str:
    """What ``rule`` accepts, in words.

    Parameters
    ----------
    rule : callable
        A builder's rule (it describes itself) or another callable (described by its docstring's first line).
    """
    if isinstance(rule, _Rule):
        return rule.text
    if rule in _KNOWN:
        return _KNOWN[rule]
    return _plain((inspect.getdoc(rule) or getattr(rule, "__name__", repr(rule))).strip().splitlines()[0])


def _plain(text: str) -> str:
    """reStructuredText roles and literals as plain text (for the terminal)."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", "")


def integer(minimum: int = 1) -> Rule:
    """An integer ``>= minimum``.

    Parameters
    ----------
    minimum : int
    """
    return _Rule(lambda value, key: positive_int(value, key, minimum=minimum), f"an integer >= {minimum}")


def real(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False) -> Rule:
    """A finite real number in the interval from ``lo`` to ``hi``.

    Parameters
    ----------
    lo, hi : float, optional
        The ends (``None``: unbounded).
    lo_open, hi_open : bool
        Whether the end is excluded.
    """

    def rule(value, key):
        v = _finite(value, key)  # a finite real (NaN/Inf rejected here)
        if lo is not None and hi is not None:
            return in_range(value, key, lo, hi, lo_open=lo_open, hi_open=hi_open)
        if lo is not None and (v <= lo if lo_open else v < lo):
            raise InvalidArgumentError(f"{key}: expected a number {'>' if lo_open else '>='} {lo}, got {value!r}")
        if hi is not None and (v >= hi if hi_open else v > hi):
            raise InvalidArgumentError(f"{key}: expected a number {'<' if hi_open else '<='} {hi}, got {value!r}")
        return v

    if lo is not None and hi is not None:
        text = f"a number in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    elif lo is not None:
        text = f"a number {'>' if lo_open else '>='} {lo}"
    elif hi is not None:
        text = f"a number {'<' if hi_open else '<='} {hi}"
    else:
        text = "a finite number"
    return _Rule(rule, text)


def choice(*options: str) -> Rule:
    """One of ``options``."""
    return _Rule(lambda value, key: check_choice(value, key, options), "one of " + ", ".join(options))


def optional(rule: Rule) -> Rule:
    """``None`` (written ``none`` on the command line), or a value that passes ``rule``.

    Parameters
    ----------
    rule : callable
    """
    return _Rule(lambda value, key: None if value is None else rule(value, key), f"none, or {describe_rule(rule)}")


def each(rule: Rule, *, nonempty: bool = True) -> Rule:
    """A list (comma-separated on the command line) whose every item passes ``rule``.

    Parameters
    ----------
    rule : callable
    nonempty : bool
        Refuse an empty list.
    """

    def check(value, key):
        if not isinstance(value, (list, tuple)):
            raise InvalidArgumentError(f"{key}: expected a list of values, got {value!r} ({type(value).__name__})")
        if nonempty and not value:
            raise InvalidArgumentError(f"{key}: expected at least one value (comma-separated), got an empty list")
        return [rule(v, key) for v in value]

    return _Rule(check, f"a comma-separated list{' (at least one)' if nonempty else ''}, each {describe_rule(rule)}")


def pair(rule: Rule, names: tuple[str, str] = ("first", "second")) -> Rule:
    """One value for both, or a pair (``a,b`` on the command line), each passing ``rule``.

    Parameters
    ----------
    rule : callable
    names : tuple of str
        What the two are (for messages).
    """

    def check(value, key):
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise InvalidArgumentError(f"{key}: expected a number or a pair {names[0]},{names[1]}, got "
                                           f"{len(value)} values {tuple(value)!r}")
            return tuple(rule(v, key) for v in value)
        return rule(value, key)

    return _Rule(check, f"{describe_rule(rule)}, or a pair {names[0]},{names[1]} of them")


# ------------------------------------------------------------------------------ the fields reproductions share
@dataclasses.dataclass
class EvidenceConfig:
    """Base of a reproduction's ``Config``: ``@dataclass class Config(EvidenceConfig): ...``.

    Parameters
    ----------
    protocol : {"default", "paper"}
        ``"paper"``: fields still at their defaults take the module's ``PAPER_PRESET``.
    seed : int
        The first seed of the run.
    """

    protocol: str = "default"
    seed: int = 0


@dataclasses.dataclass
class SeedsConfig(EvidenceConfig):
    """:class:`EvidenceConfig` plus ``seeds``; a ``Config`` with another default redefines it (``seeds: int = 3``).

    Parameters
    ----------
    protocol, seed
        As in :class:`EvidenceConfig`.
    seeds : int
        The independent repetitions of a run (``_evidence.seed_list``).
    """

    seeds: int = 2


_SHARED_CHECKS = {"protocol": choice("default", "paper"), "seed": integer(0), "seeds": integer(1)}


def rules_of(module) -> dict[str, Rule]:
    """The rules :func:`checked` applies.

    Parameters
    ----------
    module : module
        An experiment module: the rules of the shared fields its ``Config`` has (see :class:`EvidenceConfig`),
        then its ``CHECKS`` (which may override them).
    """
    names = {f.name for f in dataclasses.fields(module.Config)}
    return {**{k: r for k, r in _SHARED_CHECKS.items() if k in names}, **getattr(module, "CHECKS", {})}


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


def make_config(module, overrides: dict | None = None, *, source: str = "--set"):
    """Build ``module.Config`` with overrides and check it (:func:`checked`) before anything runs.

    Parameters
    ----------
    module : module
    overrides : dict, optional
        ``key: value``; strings (command-line values) are converted to the field types, others taken as they are.
    source : str
        Where the overrides came from, for errors (``--set``, ``--grid``).
    """
    cfg_cls = module.Config
    hints = typing.get_type_hints(cfg_cls)
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    kwargs = {}
    for key, value in (overrides or {}).items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            raise InvalidArgumentError(f"{source} {key}: unknown option of {module.NAME}"
                                       f"{f' (did you mean {close[0]!r}?)' if close else ''}; options: "
                                       f"{', '.join(sorted(fields))}")
        if not isinstance(value, str):
            kwargs[key] = value
            continue
        try:
            kwargs[key] = _convert(value, hints[key])
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"{source} {key}={value}: {exc}") from None
    return checked(cfg_cls(**kwargs))


def takes_list(module, key: str) -> bool:
    """Whether the field ``key`` of ``module.Config`` holds a list (or may: a union with a list member).

    On the command line such a field's grid values are separated by ``;`` instead of ``,``.

    Parameters
    ----------
    module : module
    key : str
    """
    typ = typing.get_type_hints(module.Config).get(key)
    members = typing.get_args(typ) if typing.get_origin(typ) in _UNION_TYPES else (typ,)
    return any(_is_sequence(m) for m in members)


def describe_config(module) -> str:
    """``olc run NAME --show-config``: ``module.Config``'s fields with type, default and allowed values.

    Also the primary metric and the extras the experiment needs.

    Parameters
    ----------
    module : module
    """
    doc = (module.__doc__ or "").strip().splitlines()
    lines = [f"{module.NAME}: {_plain(doc[0]) if doc else ''}"]
    extras = extras_of(module)
    lines.append(f"needs: {', '.join(extras) + ' (setup.cfg extras)' if extras else 'the core install only'}")
    if getattr(module, "PRIMARY", None):
        lines.append(f"primary metric: {module.PRIMARY}")
    hints = typing.get_type_hints(module.Config)
    rules = rules_of(module)
    defaults = module.Config()
    rows = []
    for f in dataclasses.fields(module.Config):
        value = getattr(defaults, f.name)
        shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else \
            ("none" if value is None else str(value).lower() if isinstance(value, bool) else str(value))
        allowed = describe_rule(rules[f.name]) if f.name in rules else _describe(hints[f.name])
        rows.append((f.name, shown, allowed))
    w0 = max(len(r[0]) for r in rows)
    w1 = min(max(len(r[1]) for r in rows), 40)
    lines.append("config (--set key=value; default; allowed):")
    lines += [f"  {k:{w0}s}  {v:{w1}s}  {a}" for k, v, a in rows]
    check = getattr(module, "check", None)
    if check is not None and check.__doc__:
        text = re.sub(r"^:data:`CHECKS`,?\s*(then\s+|and\s+)?", "", " ".join(check.__doc__.split()))
        lines.append(f"also checked: {_plain(text)}")
    return "\n".join(lines)
