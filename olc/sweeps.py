"""Experiment campaigns: one experiment over a grid of configs × seeds, on Dask, durable and resumable.

A *cell* is one run of an experiment's ``run`` (or of a callable) for one grid point and one seed (the seed overrides
``Config.seed``). :func:`sweep` runs the cells that are not done yet — on a Dask ``LocalCluster`` of worker processes
(default), on an existing Dask cluster (``scheduler=`` or ``client=``) or serially in this process (``workers=0``) — and
writes each finished cell at once, atomically, to ``OUT/cells/<key>.json`` (config, status, metrics, provenance; its
curves and full results go first to ``OUT/data/<key>.json``), where ``key`` hashes (experiment, config with seed, olc
version). Beside them, ``OUT/manifest.json`` lists the grid and every cell. Run the same sweep again and the finished
cells are skipped: a sweep killed at any moment loses at most the cells that were running, and its final table equals an
uninterrupted sweep's. ``OUT/.olc.lock`` keeps a second sweep out of the same directory while one runs. A cell that
raises is recorded as ``failed`` with its error and traceback; the sweep goes on (``retry_failed=True`` reruns them).

Results: :func:`load_sweep` (a pandas DataFrame: one row per cell — grid values, seed, status, the scalar metrics),
:func:`load_curves` (per-seed curves as arrays), :func:`aggregate` (mean, standard error and a seeded bootstrap
confidence interval over seeds), :func:`plot_sweep` (mean curves with bands, and a sensitivity plot for 1-D grids). The
table is also written as ``OUT/table.csv`` and, with pyarrow, ``OUT/table.parquet``. docs/sweeps.md has the whole story.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import itertools
import json
import os
import socket
import time
import traceback
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ._io import atomic_write_bytes, atomic_write_json, atomic_write_text, json_default, remove_partial_writes
from ._validate import as_path, check_alloc
from .errors import InvalidArgumentError, OlcError

__all__ = ["sweep", "load_sweep", "load_curves", "load_cell", "aggregate", "plot_sweep", "plan", "parse_grid",
           "parse_seeds", "SeedCurves", "Plan"]

MANIFEST, CELLS, DATA = "manifest.json", "cells", "data"
#: the keys of a cell record that live in DATA/<key>.json (the bulk); the rest, in CELLS/<key>.json, is what
#: the table needs, so that loading thousands of cells reads small files
_BULK = ("curves", "curve_x", "results")
_FORMAT = "olc sweep"


# ------------------------------------------------------------------------------------------ targets
class _Target:
    """What the cells run: an experiment module (by module name, importable on every worker) or a
    callable ``fn(**params, seed=seed) -> dict``."""

    def __init__(self, experiment):
        from . import experiments

        if callable(experiment):
            self.module, self.fn = None, experiment
            self.name = f"{getattr(experiment, '__module__', '?')}.{getattr(experiment, '__qualname__', '?')}"
            self.primary = None
            try:
                self._signature = inspect.signature(experiment)
            except (TypeError, ValueError):
                self._signature = None
            return
        module = experiment if not isinstance(experiment, str) else experiments.get(experiment)
        for attr in ("NAME", "Config", "run"):
            if not hasattr(module, attr):
                raise InvalidArgumentError(f"experiment: expected an experiment name, an experiment module or a "
                                           f"callable, got {experiment!r} (no {attr})")
        if "seed" not in {f.name for f in dataclasses.fields(module.Config)}:
            raise InvalidArgumentError(f"experiment: {module.NAME}'s Config has no seed field to sweep over")
        experiments.require_extras_of(module)
        self.module, self.fn, self.name = module, None, module.NAME
        self.primary = getattr(module, "PRIMARY", None)

    def takes_list(self, key: str) -> bool:
        from .experiments import takes_list

        return self.module is not None and takes_list(self.module, key)

    def check_values(self, base: Mapping, grid: Mapping) -> None:
        """``--set`` values, then each ``--grid`` value on its own (errors name the key and the value)."""
        if self.module is None:
            return
        from .experiments import make_config

        make_config(self.module, dict(base), source="--set")
        for key, values in grid.items():
            for v in values:
                try:
                    make_config(self.module, {**base, key: v}, source="--grid")
                except OlcError as exc:
                    if str(exc).startswith("--grid"):
                        raise
                    raise type(exc)(f"--grid {key}={v}: {exc}") from None

    def config(self, base: Mapping, params: Mapping, seed: int):
        """The checked config of a cell (a Config for experiments, a dict for callables)."""
        if self.module is not None:
            from .experiments import make_config

            return make_config(self.module, {**base, **params, "seed": seed}, source="--grid")
        kwargs = {**base, **params}
        if self._signature is not None:
            try:
                self._signature.bind(**kwargs, seed=seed)
            except TypeError as exc:
                raise InvalidArgumentError(f"--grid: {self.name} cannot be called with {sorted(kwargs)} and seed "
                                           f"({exc})") from None
        return {**kwargs, "seed": seed}

    def as_dict(self, config) -> dict:
        return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)

    def spec(self):
        """What a worker needs to run a cell (picklable)."""
        return ("module", self.module.__name__) if self.module is not None else ("callable", self.fn)


def _cell_key(experiment: str, config: dict) -> str:
    from . import __version__

    blob = json.dumps({"experiment": experiment, "config": config, "olc": __version__}, sort_keys=True,
                      default=json_default, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


# ------------------------------------------------------------------------------------------ grids
def parse_seeds(seeds) -> list[int]:
    """``10`` or ``"10"`` -> seeds 0..9; ``"3:7"`` -> 3..6; ``"0,4,9"`` or ``[0, 4, 9]`` -> those.

    Parameters
    ----------
    seeds : int, str or list of int

    Examples
    --------
    >>> from olc.sweeps import parse_seeds
    >>> parse_seeds("3:7"), parse_seeds(2)
    ([3, 4, 5, 6], [0, 1])
    """
    def bad(why):
        return InvalidArgumentError(f"--seeds: {why}, got {seeds!r} (expected N, START:STOP or a comma-separated "
                                    "list of seeds)")

    def seed_range(start, stop):  # the size guard first: a list of 10**9 seeds is ~36 GB (and as many cells)
        check_alloc(64 * max(0, stop - start), f"seeds: {max(0, stop - start)} seeds",
                    "sweep fewer seeds (each seed is a cell of every grid point)")
        return list(range(start, stop))

    if isinstance(seeds, str):
        text = seeds.strip()
        try:
            if ":" in text:
                a, b = text.split(":", 1)
                a, b = int(a), int(b)
            elif "," in text:
                a = b = None
                out = [int(v) for v in text.split(",") if v.strip()]
            else:
                a, b = 0, int(text)
        except ValueError:
            raise bad("not integers") from None
        if a is not None:
            out = seed_range(a, b)
    elif isinstance(seeds, (int, np.integer)) and not isinstance(seeds, (bool, np.bool_)):
        out = seed_range(0, int(seeds))
    else:
        try:
            out = [v for v in seeds]
        except TypeError:
            raise bad("not a number of seeds or a list of them") from None
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in out):
            raise bad("not integers")
        out = [int(v) for v in out]
    if not out:
        raise bad("no seeds")
    if min(out) < 0:
        raise bad("seeds must be >= 0")
    if len(set(out)) != len(out):
        raise bad("a seed is repeated")
    return out


def parse_grid(items, target=None) -> dict[str, list]:
    """``["lr=0.1,0.3", "T=100,1000"]`` (``--grid`` arguments) -> ``{"lr": ["0.1", "0.3"], ...}``.

    Values stay strings (the experiment's field types convert them). A field that holds a list
    separates its grid values with ``;`` (``"systems=pendulum;pendulum,random-stable"``: two values).

    Parameters
    ----------
    items : list of str
    target : object, optional
        The experiment, whose fields the keys must name.
    """
    grid: dict[str, list] = {}
    for item in items or ():
        if "=" not in item:
            raise InvalidArgumentError(f"--grid: expected key=v1,v2,..., got {item!r}")
        key, values = (part.strip() for part in item.split("=", 1))
        if key in grid:
            raise InvalidArgumentError(f"--grid {key}: given twice")
        sep = ";" if target is not None and target.takes_list(key) else ","
        grid[key] = [v.strip() for v in values.split(sep)]
        if not values.strip() or any(v == "" for v in grid[key]):
            raise InvalidArgumentError(f"--grid {key}: expected values separated by {sep!r}, got {values!r}")
    return grid


class Plan(NamedTuple):
    """The cells of a sweep, in table order (grid points in the order given, seeds inner).

    Parameters
    ----------
    experiment : str
    grid, base : dict
    seeds : list of int
    cells : list
    """

    experiment: str
    grid: dict
    seeds: list
    base: dict
    cells: list  # dicts: key, params, seed, config (the object run gets)


def plan(experiment, grid: Mapping | None, seeds, base: Mapping | None = None) -> Plan:
    """Check the whole sweep and build its cells *before* anything runs.

    Every grid key must be a config field (or a keyword of the callable), every value must pass the
    experiment's checks (errors name the key), ``seed`` comes from ``seeds`` only.

    Parameters
    ----------
    experiment, grid, seeds, base : object
        As in :func:`sweep`.

    Examples
    --------
    >>> from olc.sweeps import plan
    >>> p = plan(lambda lr, seed: {"loss": lr * seed}, {"lr": [0.1, 0.2]}, 3)
    >>> len(p.cells), p.seeds
    (6, [0, 1, 2])
    """
    target = experiment if isinstance(experiment, _Target) else _Target(experiment)
    grid = {str(k): list(v) if isinstance(v, (list, tuple, range)) or (isinstance(v, np.ndarray) and v.ndim)
            else [v[()] if isinstance(v, np.ndarray) else v] for k, v in dict(grid or {}).items()}
    base = dict(base or {})
    seeds = parse_seeds(seeds)
    for key, values in grid.items():
        if key == "seed":
            raise InvalidArgumentError("--grid seed: the seeds are set by --seeds (seeds= in Python)")
        if key in base:
            raise InvalidArgumentError(f"--grid {key}: also given by --set; give it in one place")
        if not values:
            raise InvalidArgumentError(f"--grid {key}: no values")
    if "seed" in base:
        raise InvalidArgumentError("--set seed: the seeds are set by --seeds (seeds= in Python)")
    target.check_values(base, grid)
    cells = []
    keys = list(grid)
    for combo in itertools.product(*grid.values()):
        params = dict(zip(keys, combo))
        checked = None
        for seed in seeds:
            config = target.config(base, params, seed)
            as_dict = target.as_dict(config)
            if checked is None:  # the grid values as the experiment converted them (for the table)
                checked = {k: _plain_value(as_dict[k]) for k in keys}
            cells.append({"key": _cell_key(target.name, as_dict), "params": checked, "seed": seed,
                          "config": config})
    if len({c["key"] for c in cells}) != len(cells):
        raise InvalidArgumentError("--grid: two grid points give the same config (a value repeated?)")
    return Plan(target.name, {k: [_plain_value(c["params"][k]) for c in cells[:: len(seeds)]] for k in keys},
                seeds, base, cells)


def _plain_value(v):
    """A grid value as it goes into JSON and the table (tuples for lists: hashable, groupable)."""
    if isinstance(v, (list, tuple)):
        return tuple(_plain_value(x) for x in v)
    if isinstance(v, np.generic):
        return v.item()
    return v


# ------------------------------------------------------------------------------------------ a cell
def _real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _outputs(results) -> tuple[dict, dict, dict]:
    """``metrics``, ``curves``, ``curve_x`` of a cell's results (for a callable that returns plain numbers
    and lists instead: the numbers are metrics, the lists of numbers curves)."""
    if not isinstance(results, Mapping):
        raise InvalidArgumentError(f"the run returned {type(results).__name__}, expected a dict of results")
    if "metrics" in results:
        metrics, curves, xs = results["metrics"], results.get("curves", {}), results.get("curve_x", {})
    else:
        metrics = {k: v for k, v in results.items() if _real(v)}
        curves = {k: v for k, v in results.items()
                  if isinstance(v, (list, tuple, np.ndarray)) and len(v) and all(_real(x) for x in v)}
        xs = {}
        if not metrics and not curves:
            raise InvalidArgumentError("the results have no \"metrics\" (a dict of numbers) and no plain numbers")
    for name, v in metrics.items():
        if not _real(v):
            raise InvalidArgumentError(f"metrics[{name!r}]: expected a real number, got {v!r} ({type(v).__name__})")
    for name, c in curves.items():
        arr = np.asarray(c)
        if arr.ndim != 1 or arr.dtype.kind not in "iuf":
            raise InvalidArgumentError(f"curves[{name!r}]: expected a list of numbers, got {type(c).__name__}")
    return ({k: float(v) for k, v in metrics.items()}, {k: np.asarray(c, float).tolist() for k, c in curves.items()},
            {k: list(np.asarray(x).tolist()) for k, x in xs.items()})


def run_cell(spec, cell: dict) -> tuple[str, str | None, str, str]:
    """Run one cell (on a worker or here): ``(status, error, summary JSON, bulk JSON)`` — the record
    split for ``cells/<key>.json`` (config, status, metrics, provenance) and ``data/<key>.json``
    (curves, curve_x, the full results).

    Exceptions of the experiment are caught and recorded (status ``failed``); nothing but an interrupt escapes.
    """
    import importlib

    from .provenance import provenance

    kind, what = spec
    config = cell["config"]
    as_dict = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    record: dict[str, Any] = {"format": _FORMAT, "key": cell["key"], "params": cell["params"], "seed": cell["seed"],
                              "config": as_dict, "status": "ok", "error": None, "traceback": None,
                              "metrics": {}, "curves": {}, "curve_x": {}, "results": None,
                              "worker": f"{socket.gethostname()}:{os.getpid()}"}
    t0 = time.perf_counter()
    try:
        if kind == "module":
            module = importlib.import_module(what)
            results = module.run(config, progress=None)
        else:
            results = what(**{k: v for k, v in config.items() if k != "seed"}, seed=config["seed"])
        record["metrics"], record["curves"], record["curve_x"] = _outputs(results)
        if isinstance(results, Mapping) and "metrics" in results:  # kept once, at the top of the record
            results = {k: v for k, v in results.items() if k not in ("metrics", "curves", "curve_x")}
        record["results"] = results
    except Exception as exc:  # noqa: BLE001 - a failing cell is a result; the sweep goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["seconds"] = time.perf_counter() - t0
    record["provenance"] = provenance(as_dict, cell["seed"])
    try:
        texts = _split(record)
    except (TypeError, ValueError) as exc:  # results that JSON cannot hold: keep the rest, say why
        record.update(status="failed", results=None, error=f"the results are not JSON-serialisable ({exc})")
        texts = _split(record)
    return (record["status"], record["error"], *texts)


def _dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"), default=json_default, allow_nan=True)


def _split(record: dict) -> tuple[str, str]:
    """A cell record as compact JSON: the summary (with the list of curve names) and the bulk."""
    bulk = {"key": record["key"], **{k: record[k] for k in _BULK}}
    summary = {k: v for k, v in record.items() if k not in _BULK}
    summary["curve_names"] = list(record["curves"])
    return _dumps(summary), _dumps(bulk)


# ------------------------------------------------------------------------------------------ the sweep
def _scan(cells_dir: str) -> set[str]:
    """Keys of the cells already written (one directory listing); leftover temporary files of writes
    that a kill interrupted are removed (the caller holds the lock)."""
    remove_partial_writes(cells_dir)
    return _scan_readonly(cells_dir)


def _check_manifest(out: str, experiment: str) -> None:
    path = os.path.join(out, MANIFEST)
    if not os.path.exists(path):
        return
    old = _read_json(path, "manifest")
    if old.get("experiment") != experiment:
        raise InvalidArgumentError(f"--out {out}: holds a sweep of {old.get('experiment')!r}, not {experiment!r}; "
                                   "choose another directory")


def _read_json(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidArgumentError(f"{os.path.dirname(path) or '.'}: no sweep {what} {os.path.basename(path)} "
                                   "there") from None
    except ValueError as exc:
        raise OlcError(f"{path}: unreadable {what} ({exc})") from None


def _local_client(workers: int):
    import logging

    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _require_dask():
    from ._extras import require_extras

    require_extras(("sweep",), "olc sweep on Dask (workers > 0 or a scheduler)")


def sweep(experiment, grid: Mapping | None, seeds, *, base: Mapping | None = None, out=None, client=None,
          workers: int | None = None, scheduler: str | None = None, retry_failed: bool = False,
          progress: bool = True, log=None):
    """Run ``experiment`` on every (grid point, seed) not yet done in ``out``; return :func:`load_sweep`.

    Parameters
    ----------
    experiment : an experiment name (``"oco-regret"``), an experiment module, or a callable
        ``fn(**params, seed=seed) -> dict`` (``{"metrics": {...}, "curves": {...}}``, or plain numbers
        and lists of numbers, taken as metrics and curves).
    grid : ``{key: [values]}`` — config fields (or keyword arguments of the callable) and their values;
        strings are converted like ``--set`` values; the sweep is their product. ``{}``: seeds only.
    seeds : ``N`` (seeds ``0..N-1``), ``"a:b"``, or a list of seeds; each overrides ``Config.seed``.
    base : fixed overrides for every cell (``--set``).
    out : the sweep directory (default ``olc-sweeps/<name>``).
    client, scheduler, workers : a ``dask.distributed.Client`` to run on. Else ``scheduler`` (``"tcp://host:8786"``): connect
        to that cluster; else ``workers``: a ``LocalCluster`` of that many worker processes (default: one
        per CPU), ``0`` for a serial run in this process (no Dask needed).
    retry_failed : rerun cells recorded as failed (else they count as done).
    progress : a tqdm bar over the cells.
    log : ``print``-like callable for the few status lines (default: silent).

    A bad grid key or value raises before anything runs or is written. Ctrl-C cancels the running
    cells, writes the table of the finished ones and re-raises ``KeyboardInterrupt``.
    """
    target = _Target(experiment)
    p = plan(target, grid, seeds, base)
    if sum(x is not None for x in (client, scheduler)) > 1 or (workers is not None and (client or scheduler)):
        raise InvalidArgumentError("workers/scheduler/client: give one way to run the cells")
    if workers is not None and (not isinstance(workers, (int, np.integer)) or isinstance(workers, bool)
                                or workers < 0):
        raise InvalidArgumentError(f"--workers: expected an integer >= 0 (0: serial), got {workers!r}")
    serial = client is None and scheduler is None and workers == 0
    if not serial and client is None:
        _require_dask()
    out = as_path(out, "out") if out is not None else os.path.join("olc-sweeps", target.name.replace("/", "_"))
    if not out:
        raise InvalidArgumentError("--out: expected a directory, got an empty string")
    from ._lock import dir_lock

    say = log or (lambda *a, **k: None)
    try:
        for sub in (CELLS, DATA):
            os.makedirs(os.path.join(out, sub), exist_ok=True)
    except OSError as exc:
        raise InvalidArgumentError(f"--out {out}: cannot create the sweep directory ({exc.strerror or exc})") from None
    with dir_lock(out, "sweep"):
        remove_partial_writes(out, (MANIFEST, "table.csv", "table.parquet"))
        _check_manifest(out, target.name)
        _write_manifest(out, target, p)
        remove_partial_writes(os.path.join(out, DATA))
        done = _scan(os.path.join(out, CELLS))
        pending = [c for c in p.cells if c["key"] not in done or (retry_failed and _failed(out, c["key"]))]
        say(f"{target.name}: {len(p.cells)} cells ({len(p.cells) - len(pending)} done before, {len(pending)} to "
            f"run){'' if serial else ' on Dask'}; results in {out}")
        try:
            if pending:
                runner = _run_serial if serial else _run_dask
                runner(target, pending, out, len(p.cells), progress,
                       client=client, scheduler=scheduler, workers=workers)
        finally:
            table = load_sweep(out)
            _write_table(out, table, say)
    return table


def _failed(out: str, key: str) -> bool:
    try:
        return _read_json(os.path.join(out, CELLS, f"{key}.json"), "cell").get("status") != "ok"
    except OlcError:
        return True


def _write_manifest(out: str, target: _Target, p: Plan) -> None:
    from . import __version__
    from .provenance import provenance

    atomic_write_json(os.path.join(out, MANIFEST), {
        "format": _FORMAT, "version": 1, "experiment": target.name, "primary": target.primary, "olc": __version__,
        "grid": p.grid, "seeds": p.seeds, "base": p.base,
        "cells": [{"key": c["key"], "params": c["params"], "seed": c["seed"]} for c in p.cells],
        "provenance": provenance(None, None)})


def _progress_bar(total, done, enabled, name):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=total - done, desc=f"sweep {name}", unit="cell", disable=not enabled,
                leave=False)


def _save(out: str, key: str, texts) -> None:
    """The bulk first, then the summary: a cell counts as done once its summary exists, so a kill
    between the two writes leaves an unreferenced bulk file that the rerun overwrites."""
    summary, bulk = texts
    atomic_write_text(os.path.join(out, DATA, f"{key}.json"), bulk)
    atomic_write_text(os.path.join(out, CELLS, f"{key}.json"), summary)


def _run_serial(target, cells, out, total, progress, **_):
    bar = _progress_bar(total, len(cells), progress, target.name)
    try:
        for cell in cells:
            _save(out, cell["key"], run_cell(target.spec(), cell)[2:])
            bar.update(1)
    finally:
        bar.close()


def _run_dask(target, cells, out, total, progress, *, client=None, scheduler=None, workers=None):
    from distributed import Client, as_completed

    own_client = own_cluster = None
    if client is None:
        if scheduler is not None:
            try:
                client = own_client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise OlcError(f"--scheduler {scheduler}: cannot connect ({type(exc).__name__}: {exc})") from None
        else:
            client, own_cluster = _local_client(workers or os.cpu_count() or 1)
            own_client = client
    bar = _progress_bar(total, len(cells), progress, target.name)
    spec = target.spec()
    futures = {}
    try:
        for cell in cells:
            futures[client.submit(run_cell, spec, cell, key=f"olc-cell-{cell['key']}", pure=False)] = cell
        for fut in as_completed(futures):
            cell = futures[fut]
            try:
                texts = fut.result()[2:]
            except Exception as exc:  # noqa: BLE001 - the worker died or the task could not be sent
                texts = _lost_cell(cell, exc)
            _save(out, cell["key"], texts)
            fut.release()
            bar.update(1)
    finally:
        bar.close()
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def _lost_cell(cell, exc) -> tuple[str, str]:
    """The record of a cell whose task itself failed (a worker died, the cell could not be pickled)."""
    from .provenance import provenance

    config = cell["config"]
    as_dict = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    record = {"format": _FORMAT, "key": cell["key"], "params": cell["params"], "seed": cell["seed"],
              "config": as_dict, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
              "traceback": "".join(traceback.format_exception(exc)), "metrics": {}, "curves": {}, "curve_x": {},
              "results": None, "seconds": None, "worker": None, "provenance": provenance(as_dict, cell["seed"])}
    return _split(record)


# ------------------------------------------------------------------------------------------ results
def load_cell(out, key: str, *, bulk: bool = True) -> dict:
    """The record of one cell.

    Config, status, metrics, error and traceback, seconds, worker, provenance and, with ``bulk``, its
    curves, ``curve_x`` and the experiment's full results.

    Parameters
    ----------
    out : str or os.PathLike
    key : str
        The cell's key (the table's ``cell`` column).
    bulk : bool
    """
    out = as_path(out, "out")
    record = _read_json(os.path.join(out, CELLS, f"{key}.json"), "cell")
    if bulk:
        record.update({k: v for k, v in _read_json(os.path.join(out, DATA, f"{key}.json"), "cell data").items()
                       if k in _BULK})
    return record


def _cells(out: str, bulk: bool = False):
    manifest = _read_json(os.path.join(out, MANIFEST), "manifest")
    if manifest.get("format") != _FORMAT:
        raise OlcError(f"{out}: {MANIFEST} is not an olc sweep manifest")
    done = _scan_readonly(os.path.join(out, CELLS))
    for c in manifest["cells"]:
        yield manifest, c, (load_cell(out, c["key"], bulk=bulk) if c["key"] in done else None)


def _scan_readonly(cells_dir: str) -> set[str]:
    try:
        return {n[:-5] for n in os.listdir(cells_dir) if n.endswith(".json") and not n.startswith(".")}
    except FileNotFoundError:
        return set()


def load_sweep(out):
    """The sweep in ``out`` as a pandas DataFrame, one row per cell of the manifest.

    In grid order, seeds inner: the grid values, ``seed``, ``status`` (``ok``, ``failed``, ``pending`` =
    not run yet), every scalar metric, ``error``, ``seconds`` (wall time of the cell) and ``cell`` (its
    key, for :func:`load_cell`). ``table.attrs`` holds ``experiment``, ``grid`` (the keys), ``primary``, ``out``.

    Parameters
    ----------
    out : str or os.PathLike
        The sweep directory.
    """
    from ._extras import require_extras

    require_extras(("sweep",), "olc.load_sweep (pandas)")
    import pandas as pd

    out = as_path(out, "out")
    rows, metric_names, grid, manifest = [], {}, [], None
    for manifest, c, rec in _cells(out):
        grid = list(manifest["grid"])
        row = {k: _plain_value(v) for k, v in c["params"].items()}
        row["seed"] = c["seed"]
        if rec is None:
            row["status"] = "pending"
        else:
            row["status"] = rec["status"]
            for name, v in rec["metrics"].items():
                metric_names.setdefault(name, None)
                row[name] = v
            row["error"], row["seconds"] = rec.get("error"), rec.get("seconds")
        row["cell"] = c["key"]
        rows.append(row)
    columns = [*grid, "seed", "status", *metric_names, "error", "seconds", "cell"]
    table = pd.DataFrame(rows, columns=columns)
    for name in metric_names:
        table[name] = table[name].astype(float)
    table["seed"] = table["seed"].astype(int)
    table["seconds"] = table["seconds"].astype(float)
    table.attrs.update(experiment=manifest["experiment"] if manifest else None, grid=grid, out=out,
                       primary=manifest.get("primary") if manifest else None, metrics=list(metric_names))
    return table


def _write_table(out: str, table, say) -> None:
    import io

    atomic_write_text(os.path.join(out, "table.csv"), table.to_csv(index=False))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    buf = io.BytesIO()
    try:
        table.to_parquet(buf, index=False)
    except Exception as exc:  # noqa: BLE001 - the CSV is written; Parquet is a convenience
        say(f"(table.parquet not written: {type(exc).__name__}: {exc})")
        return
    atomic_write_bytes(os.path.join(out, "table.parquet"), buf.getvalue())


class SeedCurves(NamedTuple):
    """One curve of one grid point over its seeds.

    Parameters
    ----------
    params : dict
    seeds : list of int
    values : ndarray
        ``(n_seeds, n_points)``, NaN-padded where seeds differ in length.
    x : ndarray or None
        The curve's x positions (None: 0, 1, 2, ...).
    """

    params: dict
    seeds: list
    values: np.ndarray
    x: np.ndarray | None


def load_curves(out, name: str) -> list[SeedCurves]:
    """The per-seed curves called ``name`` of every grid point (finished cells only), in grid order.

    Parameters
    ----------
    out : str or os.PathLike
    name : str
    """
    groups: dict = {}
    for _, c, rec in _cells(as_path(out, "out")):
        if rec is None or rec["status"] != "ok" or name not in rec.get("curve_names", ()):
            continue
        rec = load_cell(out, c["key"])
        key = json.dumps(c["params"], sort_keys=True, default=json_default)
        g = groups.setdefault(key, {"params": {k: _plain_value(v) for k, v in c["params"].items()}, "seeds": [],
                                    "curves": [], "x": rec["curve_x"].get(name)})
        g["seeds"].append(c["seed"])
        g["curves"].append(rec["curves"][name])
    out_list = []
    for g in groups.values():
        n = max(len(v) for v in g["curves"])
        values = np.full((len(g["curves"]), n), np.nan)
        for i, v in enumerate(g["curves"]):
            values[i, : len(v)] = v
        x = None if g["x"] is None else np.asarray(g["x"], float)
        out_list.append(SeedCurves(g["params"], g["seeds"], values, x))
    return out_list


def _bootstrap(v: np.ndarray, ci: float, n_boot: int, seed: int) -> tuple[float, float]:
    if len(v) == 1:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - ci) / 2, (1 + ci) / 2])
    return float(lo), float(hi)


def aggregate(table, metrics=None, by=None, *, ci: float = 0.95, n_boot: int = 2000, seed: int = 0):
    """Statistics over seeds of each grid point: one row per grid point, columns ``(metric, statistic)``.

    For every metric ``n``, ``mean``, ``se`` (standard error, ``std(ddof=1)/√n``), ``ci_low``/``ci_high``
    (percentile bootstrap of the mean). Only ``ok`` cells count; NaN values are left out.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`load_sweep`.
    metrics : list of str, optional
    by : list of str, optional
        Default: the grid keys.
    ci : float
    n_boot, seed : int
        Bootstrap resamples from ``numpy.random.default_rng(seed)``: same seed, same interval.
    """
    import pandas as pd

    from ._validate import in_range, positive_int

    if not isinstance(table, pd.DataFrame):
        raise InvalidArgumentError(f"table: expected the pandas DataFrame of olc.load_sweep, got {type(table).__name__}")
    ci = in_range(ci, "ci", 0.0, 1.0, lo_open=True, hi_open=True)
    n_boot = positive_int(n_boot, "n_boot")
    by = list(table.attrs.get("grid", []) if by is None else ([by] if isinstance(by, str) else by))
    metrics = list(table.attrs.get("metrics", []) if metrics is None else ([metrics] if isinstance(metrics, str)
                                                                          else metrics))
    missing = [m for m in [*metrics, *by, "status"] if m not in table.columns]
    if missing:
        raise InvalidArgumentError(f"aggregate: no column(s) {missing} in the table; columns: {list(table.columns)}")
    ok = table[table["status"] == "ok"]
    groups = ok.groupby(by, sort=False, dropna=False) if by else [((), ok)]
    rows, index = [], []
    if ok.empty:
        return pd.DataFrame()
    for key, g in groups:
        row = {}
        for m in metrics:
            v = g[m].to_numpy(float)
            v = v[~np.isnan(v)]
            n = len(v)
            mean = float(v.mean()) if n else np.nan
            se = float(v.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
            lo, hi = _bootstrap(v, ci, n_boot, seed) if n else (np.nan, np.nan)
            row.update({(m, "n"): n, (m, "mean"): mean, (m, "se"): se, (m, "ci_low"): lo, (m, "ci_high"): hi})
        rows.append(row)
        index.append(key if isinstance(key, tuple) else (key,))
    idx = pd.MultiIndex.from_tuples(index, names=by) if by else pd.Index(["all"], name="grid point")
    if by and len(by) == 1:
        idx = pd.Index([i[0] for i in index], name=by[0])
    frame = pd.DataFrame(rows, index=idx)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["metric", "statistic"]) if len(frame.columns) \
        else frame.columns
    return frame


# ------------------------------------------------------------------------------------------ plots
def _label(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "all"


def plot_sweep(out, outdir=None, *, metric: str | None = None, curves=None, max_panels: int = 12) -> list[str]:
    """PNG figures of the sweep in ``out``; returns the paths.

    For each curve the mean over seeds per grid point with a ±1 standard-error band and the
    per-seed curves faint; and for a 1-D grid a sensitivity plot of ``metric`` against the grid value
    (mean with the bootstrap interval of :func:`aggregate`, seeds as dots).

    Parameters
    ----------
    out : str or os.PathLike
    outdir : str, optional
        Default ``out/plots``.
    metric : str, optional
        Default: the experiment's primary metric.
    curves : list of str, optional
        Names, default all.
    max_panels : int
        Panels per figure.
    """
    from .experiments._plot import pyplot, save_figure

    plt = pyplot()
    out = as_path(out, "out")
    outdir = as_path(outdir, "outdir") if outdir is not None else os.path.join(out, "plots")
    table = load_sweep(out)
    names = curves
    if names is None:
        names = {}
        for _, _, rec in _cells(out):
            if rec is not None and rec["status"] == "ok":
                names.update(dict.fromkeys(rec.get("curve_names", ())))
        names = list(names)
    paths = []
    for start in range(0, len(names), max_panels):
        chunk = names[start: start + max_panels]
        cols = min(3, len(chunk))
        rows_ = -(-len(chunk) // cols)
        fig, axes = plt.subplots(rows_, cols, figsize=(4.6 * cols, 3.3 * rows_), squeeze=False)
        for ax, name in zip(axes.flat, chunk):
            for i, sc in enumerate(load_curves(out, name)):
                color = f"C{i % 10}"
                x = np.arange(sc.values.shape[1]) if sc.x is None else sc.x
                for v in sc.values:
                    ax.plot(x, v, color=color, lw=0.5, alpha=0.25)
                mean, se = _mean_se(sc.values)
                ax.plot(x, mean, color=color, lw=1.6, label=f"{_label(sc.params)} ({len(sc.seeds)} seeds)")
                ax.fill_between(x, mean - se, mean + se, color=color, alpha=0.2, lw=0)
            ax.set_title(name, fontsize="small")
            ax.legend(fontsize="xx-small")
        for ax in list(axes.flat)[len(chunk):]:
            ax.set_visible(False)
        fig.suptitle(f"{table.attrs['experiment']}: mean ± s.e. over seeds (faint: each seed)", fontsize="medium")
        paths.append(save_figure(fig, outdir, f"curves-{start // max_panels + 1}.png"))
    grid = table.attrs["grid"]
    metric = metric or table.attrs.get("primary") or (table.attrs["metrics"][0] if table.attrs["metrics"] else None)
    if len(grid) == 1 and metric is not None and metric in table.columns:
        paths.append(_sensitivity(plt, save_figure, table, grid[0], metric, outdir))
    return paths


def _mean_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise mean and standard error over the rows, ignoring NaN padding (se 0 for one row)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, said by the plot itself
        mean = np.nanmean(values, axis=0)
        n = np.sum(~np.isnan(values), axis=0)
        se = np.nanstd(values, axis=0, ddof=1) / np.sqrt(n) if values.shape[0] > 1 else np.zeros_like(mean)
    return mean, se


def _sensitivity(plt, save_figure, table, key, metric, outdir) -> str:
    agg = aggregate(table, metric, by=[key])
    values = list(agg.index)
    numeric = all(_real(v) for v in values)
    pos = np.asarray(values, float) if numeric else np.arange(len(values))
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ok = table[table["status"] == "ok"]
    for p, v in zip(pos, values):
        ys = ok.loc[ok[key] == v, metric].to_numpy(float)
        ax.plot(np.full(len(ys), p), ys, ".", color="0.5", ms=4, zorder=3, label="seeds" if p == pos[0] else None)
    mean = agg[(metric, "mean")].to_numpy(float)
    lo, hi = agg[(metric, "ci_low")].to_numpy(float), agg[(metric, "ci_high")].to_numpy(float)
    ax.errorbar(pos, mean, yerr=[mean - lo, hi - mean], fmt="o-", color="C0", capsize=3, label="mean, 95% bootstrap CI")
    if numeric and np.all(pos > 0) and pos.max() / pos.min() > 20:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(pos, [str(v) for v in values])
    ax.set(xlabel=key, ylabel=metric, title=f"{table.attrs['experiment']}: sensitivity to {key}")
    ax.legend(fontsize="x-small")
    return save_figure(fig, outdir, f"sensitivity-{key}.png")
