"""The ``olc`` command: ``olc list``, ``olc run NAME [--set key=value ...] [--out DIR]``, ``olc bench``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

from .errors import OlcError

__all__ = ["main"]


def _progress_factory(enabled: bool):
    def make(total, desc):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not enabled, leave=False)

    return make


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def cmd_list(args) -> int:
    from . import experiments

    for name, modname in sorted(experiments.registry().items()):
        import importlib

        doc = (importlib.import_module(modname).__doc__ or "").strip().splitlines()
        print(f"{name:28s} {doc[0] if doc else ''}")
    return 0


def cmd_run(args) -> int:
    from . import experiments

    module = experiments.get(args.name)
    overrides = {}
    for item in args.set or []:
        if "=" not in item:
            raise OlcError(f"--set: expected key=value, got {item!r}")
        k, v = item.split("=", 1)
        overrides[k.strip()] = v.strip()
    config = experiments.make_config(module, overrides)
    out = args.out or os.path.join("olc-results", args.name)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    results = module.run(config, progress=_progress_factory(not args.quiet))
    elapsed = time.perf_counter() - t0
    payload = {"experiment": module.NAME, "config": dataclasses.asdict(config), "seconds": elapsed,
               "results": results}
    path = os.path.join(out, "results.json")
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2, default=_json_default)
    figures = []
    if hasattr(module, "plot"):
        try:
            figures = module.plot(results, out) or []
        except ImportError as exc:
            print(f"(no figures: {exc}; install the plot extra: pip install 'olc[plot]')", file=sys.stderr)
    if hasattr(module, "summary"):
        print(module.summary(results))
    print(f"\n{module.NAME}: {elapsed:.1f} s; results in {path}" + (f"; figures: {', '.join(figures)}" if figures else ""))
    return 0


def cmd_bench(args) -> int:
    from . import bench

    return int(bench.main(args.bench_args) or 0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="olc", description="online learning & control experiments")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments").set_defaults(func=cmd_list)
    p = sub.add_parser("run", help="run an experiment")
    p.add_argument("name")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    p.add_argument("--out", help="output directory (default: olc-results/NAME)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)
    # every option (--quick, --json FILE, --backend, --no-compile, --help) belongs to olc.bench.main
    b = sub.add_parser("bench", help="benchmark the kernels on this machine", add_help=False)
    b.set_defaults(func=cmd_bench)
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        args.bench_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return args.func(args)
    except OlcError as exc:
        print(f"olc: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
