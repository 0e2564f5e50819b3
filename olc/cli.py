"""The ``olc`` command: ``olc list``, ``olc run NAME [--set key=value ...] [--out DIR]``, ``olc bench``.

Exit statuses of ``olc run``: :data:`RUN_EPILOG` (printed by ``olc run --help``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
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


EXIT_FIGURES_FAILED = 3

RUN_EPILOG = """exit status: 0 results and figures written (figures skipped with a note if matplotlib is
missing); 2 bad input (experiment name, --set value, --out directory), or results.json not writable
after the run (the results are then saved to a temporary file named in the error); 3 results saved
but the figures or the summary failed (a warning names the error); 1 unexpected error."""


def _out_error(out: str, what: str, exc: OSError) -> OlcError:
    reason = exc.strerror or str(exc)
    return OlcError(f"--out {out}: {what} ({type(exc).__name__}: {reason})")


def _prepare_out(out: str) -> None:
    """Create ``out`` and check that a file can be written there, before the (expensive) run."""
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".olc-write-test-"):
            pass
    except OSError as exc:
        raise _out_error(out, "cannot create or write to the output directory", exc) from None


def _save_results(payload: dict, out: str) -> str:
    """Write ``out/results.json``; if that fails, save the payload to a temporary file instead (the
    results are never lost) and raise an OlcError naming both."""
    text = json.dumps(payload, indent=2, default=_json_default)
    path = os.path.join(out, "results.json")
    try:
        with open(path, "w") as fh:
            fh.write(text)
        return path
    except OSError as exc:
        fd, backup = tempfile.mkstemp(prefix=f"olc-{payload['experiment']}-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        raise _out_error(out, f"cannot write {path}; the results were saved to {backup} instead", exc) from None


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
    _prepare_out(out)
    t0 = time.perf_counter()
    results = module.run(config, progress=_progress_factory(not args.quiet))
    elapsed = time.perf_counter() - t0
    payload = {"experiment": module.NAME, "config": dataclasses.asdict(config), "seconds": elapsed,
               "results": results}
    path = _save_results(payload, out)
    rc, figures = 0, []

    def after_results(what, fn, plotting=False):
        """``fn()``; the results are saved, so a failure is a warning (exit 3), not a traceback
        (a missing matplotlib while plotting is only a note: the figures are an optional extra)."""
        nonlocal rc
        try:
            return fn()
        except Exception as exc:
            if plotting and isinstance(exc, ImportError):
                print(f"(no figures: {exc}; install the plot extra: pip install 'olc[plot]')", file=sys.stderr)
                return None
            rc = EXIT_FIGURES_FAILED
            print(f"olc: warning: {module.NAME}: {what} failed ({type(exc).__name__}: {exc}); "
                  f"the results are saved in {path}", file=sys.stderr)
        return None

    if hasattr(module, "plot"):
        figures = after_results("making the figures", lambda: module.plot(results, out), plotting=True) or []
    if hasattr(module, "summary"):
        text = after_results("printing the summary", lambda: module.summary(results))
        if text is not None:
            print(text)
    print(f"\n{module.NAME}: {elapsed:.1f} s; results in {path}" + (f"; figures: {', '.join(figures)}" if figures else ""))
    return rc


def cmd_bench(args) -> int:
    from . import bench

    return int(bench.main(args.bench_args) or 0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="olc", description="online learning & control experiments")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments").set_defaults(func=cmd_list)
    p = sub.add_parser("run", help="run an experiment", epilog=RUN_EPILOG)
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
