"""Named experiments: one module per experiment, found automatically.

An experiment module defines ``NAME`` (the name used by ``olc run NAME``), ``Config`` (a
dataclass whose defaults finish in seconds on two cores), ``run(config, progress=None) -> dict``
(JSON-serialisable results) and ``plot(results, outdir) -> list[str]`` (PNG paths; optional).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing

from ..errors import InvalidArgumentError

__all__ = ["registry", "get", "make_config"]


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


def _convert(value: str, typ):
    origin = typing.get_origin(typ)
    if typ is bool:
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean, got {value!r}")
    if typ in (int, float, str):
        return typ(value)
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(typ) or (str,)
        items = [_convert(v.strip(), inner) for v in value.split(",") if v.strip()]
        return items if origin is list else tuple(items)
    if origin is typing.Union:
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value.lower() == "none":
            return None
        return _convert(value, args[0])
    return value


def make_config(module, overrides: dict[str, str] | None = None):
    """Build ``module.Config`` with ``key=value`` string overrides converted to field types."""
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
    return cfg_cls(**kwargs)
