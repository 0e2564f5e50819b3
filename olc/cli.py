"""The ``olc`` command: ``olc list``, ``olc run NAME [--set key=value ...] [--out DIR]``,
``olc sweep NAME --grid key=v1,v2 --seeds 0:10 [...]`` (see :mod:`olc.sweeps`), ``olc bench``.

Exit statuses of ``olc run``: :data:`RUN_EPILOG` (printed by ``olc run --help``); of ``olc sweep``:
:data:`SWEEP_EPILOG`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

from ._io import atomic_write_text, json_default, remove_partial_writes
from .errors import OlcError

__all__ = ["main"]


def _progress_factory(enabled: bool):
    def make(total, desc):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not enabled, leave=False)

    return make


def cmd_list(args) -> int:
    """One line per experiment: name, the extras it needs (``[needs torch, data]``; ``missing`` when not
    installed) and the first line of its docstring."""
    import importlib

    from . import experiments
    from ._extras import missing_modules

    for name, modname in sorted(experiments.registry().items()):
        try:
            module = importlib.import_module(modname)
            doc, extras = (module.__doc__ or "").strip().splitlines(), experiments.extras_of(module)
        except ImportError as exc:  # imports an extra at its top: still listed
            doc, extras = [f"(cannot import: {exc})"], ()
        missing = [e for e in extras if missing_modules(e)]
        needs = f"[needs {', '.join(extras)}{'; missing: ' + ', '.join(missing) if missing else ''}] " if extras else ""
        print(f"{name:28s} {needs}{doc[0] if doc else ''}")
    return 0


EXIT_FIGURES_FAILED = 3
EXIT_INTERRUPTED = 130

RUN_EPILOG = """exit status: 0 results and figures written (figures skipped with a note if matplotlib is
missing); 2 bad input (experiment name, --set value, --out directory, a missing extra such as torch,
--out busy with another run), or results.json not writable after the run (the results are then saved
to a temporary file named in the error); 3 results saved but the figures or the summary failed (a
warning names the error); 130 interrupted (Ctrl-C; what was completed is in results.partial.json);
1 unexpected error."""

SWEEP_EPILOG = """grid values: --grid key=v1,v2,... (a field that holds a list separates its values with ';').
seeds: N (0..N-1), START:STOP or a,b,c. exit status: 0 every cell ok; 2 bad input before any cell ran
(experiment, --grid/--set key or value, --seeds, --out busy, Dask or pandas missing); 3 the sweep
finished but some cells failed (recorded with their errors) or the plots failed; 130 interrupted
(finished cells are saved: run the same command again to resume); 1 unexpected error."""


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


def _save_results(payload: dict, out: str, name: str = "results.json") -> str:
    """Write ``out/results.json`` atomically (a kill or a full disk leaves the previous file, never a
    truncated one); if that fails, save the payload to a temporary file instead (the results are
    never lost) and raise an OlcError naming both."""
    text = json.dumps(payload, indent=2, default=json_default)
    path = os.path.join(out, name)
    try:
        return atomic_write_text(path, text)
    except OSError as exc:
        fd, backup = tempfile.mkstemp(prefix=f"olc-{payload['experiment']}-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        raise _out_error(out, f"cannot write {path}; the results were saved to {backup} instead", exc) from None


def _overrides(items) -> dict:
    overrides = {}
    for item in items or []:
        if "=" not in item:
            raise OlcError(f"--set: expected key=value, got {item!r}")
        k, v = item.split("=", 1)
        overrides[k.strip()] = v.strip()
    return overrides


def _out_dir(out, default: str) -> str:
    if out is None:
        return default
    if not out.strip():
        raise OlcError(f"--out: expected a directory, got {out!r}")
    return out


def _jsonable(obj):
    """``obj`` (e.g. an exception's ``.partial``) in a form JSON can hold: a Trace as its summary,
    else itself if serialisable, else its repr."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    try:
        json.dumps(obj, default=json_default)
        return obj
    except (TypeError, ValueError):
        return repr(obj)


def _save_partial(module, config, out, exc, elapsed) -> str:
    """``out/results.partial.json``: what an interrupted or failed run had completed (the ``.partial``
    that olc attaches to errors raised during a game), with provenance."""
    from .provenance import provenance

    payload = {"experiment": module.NAME, "config": dataclasses.asdict(config), "seconds": elapsed,
               "provenance": provenance(config), "interrupted": isinstance(exc, KeyboardInterrupt),
               "error": f"{type(exc).__name__}: {exc}", "partial": _jsonable(getattr(exc, "partial", None))}
    return _save_results(payload, out, "results.partial.json")


def cmd_run(args) -> int:
    from . import experiments
    from ._lock import dir_lock

    module = experiments.get(args.name)
    if args.show_config:
        print(experiments.describe_config(module))
        return 0
    experiments.require_extras_of(module)
    config = experiments.make_config(module, _overrides(args.set))
    out = _out_dir(args.out, os.path.join("olc-results", args.name))
    _prepare_out(out)
    with dir_lock(out, "run"):
        return _run_locked(args, module, config, out)


def _run_locked(args, module, config, out) -> int:
    """``olc run`` while holding the lock on ``out``: run, save, plot, summarise."""
    from ._extras import missing_extra_error
    from .provenance import provenance

    remove_partial_writes(out, ("results.json", "results.partial.json"))  # left by a kill mid-write
    t0 = time.perf_counter()
    try:
        results = module.run(config, progress=_progress_factory(not args.quiet))
    except KeyboardInterrupt as exc:
        path = _save_partial(module, config, out, exc, time.perf_counter() - t0)
        print(f"\nolc: interrupted: {module.NAME} stopped after {time.perf_counter() - t0:.1f} s; what it had "
              f"completed is in {path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        missing = missing_extra_error(exc, f"experiment {module.NAME}")
        if missing is not None:
            raise missing from exc
        if getattr(exc, "partial", None) is not None:
            path = _save_partial(module, config, out, exc, time.perf_counter() - t0)
            print(f"olc: {module.NAME} failed; what it had completed is in {path}", file=sys.stderr)
        raise
    elapsed = time.perf_counter() - t0
    payload = {"experiment": module.NAME, "config": dataclasses.asdict(config), "seconds": elapsed,
               "provenance": provenance(config), "results": results}
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


def cmd_sweep(args) -> int:
    from . import sweeps
    from .experiments import get

    if args.workers is not None and args.scheduler is not None:
        raise OlcError("--workers and --scheduler: give one (--scheduler runs on that cluster's workers)")
    experiment = get(args.name)
    grid = sweeps.parse_grid(args.grid, sweeps._Target(experiment))
    out = _out_dir(args.out, os.path.join("olc-sweeps", args.name))
    log = (lambda *a, **k: None) if args.quiet else (lambda *a, **k: print(*a, file=sys.stderr, **k))
    try:
        table = sweeps.sweep(experiment, grid, args.seeds, base=_overrides(args.set), out=out,
                             workers=args.workers, scheduler=args.scheduler, retry_failed=args.retry_failed,
                             progress=not args.quiet, log=log)
    except KeyboardInterrupt:
        done = _count_done(sweeps, out)
        print(f"\nolc: interrupted: {done} cells are saved in {out}; run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    rc = 0
    failed = table[table["status"] == "failed"]
    print(_sweep_summary(sweeps, table, out))
    if len(failed):
        rc = EXIT_FIGURES_FAILED
        first = failed.iloc[0]
        print(f"olc: warning: {len(failed)} of {len(table)} cells failed (first: seed {first['seed']}: "
              f"{first['error']}); their errors are in {out}/cells; --retry-failed reruns them", file=sys.stderr)
    if args.plot:
        try:
            paths = sweeps.plot_sweep(out)
            print(f"figures: {', '.join(paths)}")
        except ImportError as exc:
            print(f"(no figures: {exc}; install the plot extra: pip install 'olc[plot]')", file=sys.stderr)
        except Exception as exc:
            rc = EXIT_FIGURES_FAILED
            print(f"olc: warning: the sweep plots failed ({type(exc).__name__}: {exc}); the results are saved in "
                  f"{out}", file=sys.stderr)
    return rc


def _count_done(sweeps, out) -> int:
    try:
        return int((sweeps.load_sweep(out)["status"] != "pending").sum())
    except Exception:  # noqa: BLE001 - only for the message
        return 0


def _sweep_summary(sweeps, table, out) -> str:
    """The primary metric (else the first) per grid point: mean, s.e., 95% bootstrap CI over seeds."""
    counts = table["status"].value_counts().to_dict()
    head = f"{table.attrs['experiment']}: {len(table)} cells ({', '.join(f'{v} {k}' for k, v in counts.items())}); " \
           f"table: {os.path.join(out, 'table.csv')}"
    metric = table.attrs.get("primary") or next(iter(table.attrs.get("metrics", [])), None)
    if metric is None or metric not in table.columns:
        return head
    agg = sweeps.aggregate(table, metric)
    if agg.empty:
        return head
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 12):
        return f"{head}\n{metric} over seeds:\n{agg[metric].to_string()}"


def main(argv=None) -> int:
    """The ``olc`` command (``olc --help`` lists the subcommands); returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Default: ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(prog="olc", description="online learning & control experiments")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments").set_defaults(func=cmd_list)
    p = sub.add_parser("run", help="run an experiment", epilog=RUN_EPILOG)
    p.add_argument("name")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    p.add_argument("--out", help="output directory (default: olc-results/NAME)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--show-config", action="store_true", help="print the config fields, defaults and allowed values")
    p.set_defaults(func=cmd_run)
    w = sub.add_parser("sweep", help="run an experiment over a grid of configs and seeds (Dask)", epilog=SWEEP_EPILOG)
    w.add_argument("name")
    w.add_argument("--grid", action="append", metavar="KEY=V1,V2", help="a config field and its values (repeatable)")
    w.add_argument("--seeds", required=True, help="N, START:STOP or a,b,c (each overrides Config.seed)")
    w.add_argument("--set", action="append", metavar="KEY=VALUE", help="a fixed override for every cell")
    w.add_argument("--workers", type=int, help="local Dask worker processes (default: one per CPU; 0: serial, "
                                                "no Dask)")
    w.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:8786)")
    w.add_argument("--out", help="sweep directory (default: olc-sweeps/NAME); rerun to resume")
    w.add_argument("--plot", action="store_true", help="mean curves with bands; sensitivity plot for 1-D grids")
    w.add_argument("--retry-failed", action="store_true", help="rerun the cells recorded as failed")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=cmd_sweep)
    # every option (--quick, --json FILE, --backend, --no-compile, --help) belongs to olc.bench.main
    b = sub.add_parser("bench", help="benchmark the kernels on this machine", add_help=False)
    b.set_defaults(func=cmd_bench)
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        args.bench_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        rc = args.func(args)
        sys.stdout.flush()
        return rc
    except OlcError as exc:
        print(f"olc: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (olc list | head -1): not an error of olc
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second BrokenPipeError when Python flushes at exit
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
