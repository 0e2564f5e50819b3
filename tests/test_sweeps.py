"""``olc sweep`` / ``olc.sweep``: grids × seeds on a real Dask cluster, the same table as a serial
run, an external scheduler, resume, failed cells, bad input before any cell, the lock, aggregates."""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import olc
from olc import sweeps
from olc.cli import main
from olc.errors import BusyError, InvalidArgumentError

distributed = pytest.importorskip("distributed")

#: small oco-regret cells (~0.05 s each): one game per cell, d = 2
GRID, SEEDS, BASE = {"T": [30, 60]}, 3, {"seeds": "1", "dim": "2"}
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of 2 worker processes for the module (start-up costs seconds)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The reference: the sweep run serially in this process (no Dask)."""
    out = tmp_path_factory.mktemp("serial")
    return sweeps.sweep("oco-regret", GRID, SEEDS, base=BASE, out=out, workers=0, progress=False), out


def _results(table):
    return table.drop(columns=["seconds"])  # wall time is the one column that cannot repeat


def _cell_outputs(out):
    """metrics, curves, curve_x, results and config of every cell, by key."""
    return {n: {k: v for k, v in sweeps.load_cell(out, n[:-5]).items()
                if k in ("metrics", "curves", "curve_x", "results", "config", "status")}
            for n in sorted(os.listdir(os.path.join(out, "cells")))}


def test_local_cluster_gives_the_serial_table_bitwise(client, serial, tmp_path):
    ref, ref_out = serial
    assert list(ref["status"]) == ["ok"] * 6 and list(ref["T"]) == [30, 30, 30, 60, 60, 60]
    assert list(ref["seed"]) == [0, 1, 2] * 2 and ref.attrs["primary"] == "regret/iid-linear/OGD"
    table = sweeps.sweep("oco-regret", GRID, SEEDS, base=BASE, out=tmp_path, client=client, progress=False)
    pd.testing.assert_frame_equal(_results(table), _results(ref), check_exact=True)
    assert _cell_outputs(tmp_path) == _cell_outputs(ref_out)
    workers = {json.load(open(tmp_path / "cells" / n))["worker"] for n in os.listdir(tmp_path / "cells")}
    assert all(not w.endswith(f":{os.getpid()}") for w in workers)  # the cells ran in the worker processes
    # the CSV and Parquet tables hold the same numbers
    csv = pd.read_csv(tmp_path / "table.csv")
    np.testing.assert_array_equal(csv["regret/iid-linear/OGD"], table["regret/iid-linear/OGD"])
    if importlib.util.find_spec("pyarrow") or importlib.util.find_spec("fastparquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "table.parquet"), table, check_exact=True)
    else:                                               # no Parquet engine: only the CSV table, and no stale file
        assert not (tmp_path / "table.parquet").exists()


def test_each_cell_is_the_experiment_run_with_its_seed(serial):
    ref, out = serial
    mod = olc.experiments.get("oco-regret")
    direct = mod.run(mod.Config(T=60, dim=2, seeds=1, seed=2))
    row = ref[(ref["T"] == 60) & (ref["seed"] == 2)].iloc[0]
    assert all(row[k] == v for k, v in direct["metrics"].items())
    rec = sweeps.load_cell(out, row["cell"])
    assert rec["config"] == {"T": 60, "dim": 2, "seeds": 1, "memory": 3, "radius": 1.0, "seed": 2}
    assert rec["results"]["rows"][0]["final_regret"] == direct["rows"][0]["final_regret"]
    prov = rec["provenance"]
    assert prov["olc"] == olc.__version__ and prov["seed"] == 2 and prov["config"] == rec["config"]
    assert {"timestamp", "numpy", "scipy", "numba", "python", "cpu_count", "host", "git"} <= set(prov)


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    """A Dask scheduler and one worker started as separate processes on loopback, stopped afterwards."""
    d = tmp_path_factory.mktemp("dask")
    sched_file = d / "scheduler.json"
    address = None
    procs = [subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], env=ENV, cwd=d,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(600):
            if sched_file.exists() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.load(open(sched_file))["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(subprocess.Popen(["dask", "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                       "--nworkers", "1", "--no-dashboard"], env=ENV, cwd=d,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(address, timeout="30s") as c:
            c.wait_for_workers(1, timeout=60)
        yield address
    finally:
        try:  # the scheduler closes its workers and itself
            with distributed.Client(address, timeout="10s") as c:
                c.shutdown()
        except Exception:  # noqa: BLE001 - then the signals below do it
            pass
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in reversed(procs):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_a_sweep_given_a_scheduler_address_runs_there(scheduler_address, serial, tmp_path, capsys):
    ref, _ = serial
    rc = main(["sweep", "oco-regret", "--grid", "T=30,60", "--seeds", "0:3", "--set", "seeds=1", "--set", "dim=2",
               "--scheduler", scheduler_address, "--out", str(tmp_path), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    pd.testing.assert_frame_equal(_results(olc.load_sweep(tmp_path)), _results(ref), check_exact=True)
    assert "regret/iid-linear/OGD over seeds" in capsys.readouterr().out


def test_rerun_resumes_and_a_grown_grid_runs_only_the_new_cells(serial, tmp_path):
    _, ref_out = serial
    shutil.copytree(ref_out, tmp_path, dirs_exist_ok=True)
    before = {n: os.stat(tmp_path / "cells" / n).st_mtime_ns for n in os.listdir(tmp_path / "cells")}
    lines = []
    table = sweeps.sweep("oco-regret", GRID, 4, base=BASE, out=tmp_path, workers=0, progress=False, log=lines.append)
    assert "8 cells (6 done before, 2 to run)" in lines[0]
    assert {n: os.stat(tmp_path / "cells" / n).st_mtime_ns for n in before} == before  # not rewritten
    assert len(table) == 8 and list(table["seed"]) == [0, 1, 2, 3] * 2 and (table["status"] == "ok").all()
    # olc version is part of the key: a new version recomputes (old cells stay on disk, out of the table)
    other = sweeps.plan("oco-regret", GRID, 4, BASE)
    assert [c["key"] for c in other.cells] == list(table["cell"])


def test_a_failing_cell_is_recorded_and_the_sweep_goes_on(tmp_path):
    calls = []

    def cell(lr, seed):
        calls.append((lr, seed))
        if lr < 0:
            raise RuntimeError(f"lr {lr} blew up")
        return {"metrics": {"loss": lr * (seed + 1)}, "curves": {"trace": [lr, lr / 2, lr / 4]}}

    table = sweeps.sweep(cell, {"lr": [0.5, -1.0]}, 2, out=tmp_path, workers=0, progress=False)
    assert list(table["status"]) == ["ok", "ok", "failed", "failed"]
    assert table["loss"].tolist()[:2] == [0.5, 1.0] and np.isnan(table["loss"].tolist()[2])
    assert table["error"].iloc[2] == "RuntimeError: lr -1.0 blew up"
    assert "blew up" in sweeps.load_cell(tmp_path, table["cell"].iloc[2])["traceback"]
    sweeps.sweep(cell, {"lr": [0.5, -1.0]}, 2, out=tmp_path, workers=0, progress=False)
    assert len(calls) == 4  # failed cells count as done ...
    sweeps.sweep(cell, {"lr": [0.5, -1.0]}, 2, out=tmp_path, workers=0, progress=False, retry_failed=True)
    assert calls[4:] == [(-1.0, 0), (-1.0, 1)]  # ... unless retried
    curves = sweeps.load_curves(tmp_path, "trace")
    assert len(curves) == 1 and curves[0].params == {"lr": 0.5} and curves[0].seeds == [0, 1]
    np.testing.assert_array_equal(curves[0].values, [[0.5, 0.25, 0.125]] * 2)


def test_a_callable_may_return_plain_numbers_and_lists(tmp_path):
    def cell(a, seed, scale=1.0):
        rng = np.random.default_rng(seed)
        return {"value": scale * a + rng.normal(), "path": list(np.cumsum(rng.normal(size=5)))}

    table = sweeps.sweep(cell, {"a": [1, 2]}, 3, base={"scale": 2.0}, out=tmp_path, workers=0, progress=False)
    expected = [2.0 * a + np.random.default_rng(s).normal() for a in (1, 2) for s in range(3)]
    assert table["value"].tolist() == expected
    assert [c.values.shape for c in sweeps.load_curves(tmp_path, "path")] == [(3, 5), (3, 5)]
    with pytest.raises(InvalidArgumentError, match="cannot be called with"):
        sweeps.sweep(cell, {"b": [1]}, 1, out=tmp_path / "x", workers=0)


BAD_GRIDS = [
    (["--grid", "nope=1,2"], "--grid nope: unknown option of oco-regret"),
    (["--grid", "T=10,x"], "--grid T=x: expected an integer, got 'x'"),
    (["--grid", "T=10,1"], "--grid T=1: T: expected an integer >= 2, got 1"),
    (["--grid", "memory=2,20000"], "--grid memory=20000: memory: expected an integer <= T = 10000"),
    (["--grid", "radius=1,-2"], "--grid radius=-2: radius: expected a positive number"),
    (["--grid", "seed=1,2"], "--grid seed: the seeds are set by --seeds"),
    (["--grid", "T=10", "--set", "T=20"], "--grid T: also given by --set"),
    (["--grid", "T=10", "--grid", "T=20"], "--grid T: given twice"),
    (["--grid", "T="], "--grid T: expected values separated by ','"),
    (["--grid", "T=10", "--set", "dim=1"], "dim: expected an integer >= 2, got 1"),
    (["--grid", "T=10", "--seeds", "a:b"], "--seeds: not integers"),
    (["--grid", "T=10", "--seeds", "1,1"], "--seeds: a seed is repeated"),
    (["--grid", "T=10", "--workers", "-1"], "--workers: expected an integer >= 0"),
]


@pytest.mark.parametrize("args, message", BAD_GRIDS, ids=[" ".join(a) for a, _ in BAD_GRIDS])
def test_bad_grids_exit_2_naming_the_key_before_any_cell_runs(tmp_path, capsys, args, message):
    argv = ["sweep", "oco-regret", *args, "--out", str(tmp_path / "o"), "--quiet"]
    if "--seeds" not in args:
        argv += ["--seeds", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("olc: error: ") and message in err, err
    assert "Traceback" not in err and not (tmp_path / "o").exists()  # nothing ran, nothing written


def test_list_valued_fields_separate_grid_values_with_semicolons(tmp_path):
    target = sweeps._Target("gpc-vs-lqr")
    grid = sweeps.parse_grid(["systems=pendulum;pendulum,random-stable", "T=20,40"], target)
    assert grid == {"systems": ["pendulum", "pendulum,random-stable"], "T": ["20", "40"]}
    p = sweeps.plan(target, grid, 1, {"disturbances": "gaussian"})
    assert [c["params"] for c in p.cells] == [
        {"systems": ("pendulum",), "T": 20}, {"systems": ("pendulum",), "T": 40},
        {"systems": ("pendulum", "random-stable"), "T": 20}, {"systems": ("pendulum", "random-stable"), "T": 40}]


def test_a_second_sweep_into_a_busy_directory_is_refused_and_a_dead_holder_does_not_block(tmp_path, capsys,
                                                                                          lock_holder):
    with lock_holder(tmp_path, "sweep") as holder:
        with pytest.raises(BusyError, match=rf"busy: another olc sweep \(pid {holder.pid} on "):
            sweeps.sweep("oco-regret", {}, 1, base=BASE, out=tmp_path, workers=0, progress=False)
        assert main(["sweep", "oco-regret", "--seeds", "1", "--set", "T=20", "--workers", "0", "--out",
                     str(tmp_path), "--quiet"]) == 2
        assert "busy" in capsys.readouterr().err
        assert not (tmp_path / "manifest.json").exists()
    assert (tmp_path / ".olc.lock").exists()  # SIGKILLed: its lock file is left behind, stale
    table = sweeps.sweep("oco-regret", {}, 1, base={**BASE, "T": "20"}, out=tmp_path, workers=0, progress=False)
    assert list(table["status"]) == ["ok"] and not (tmp_path / ".olc.lock").exists()


def test_a_directory_of_another_experiment_is_refused(serial):
    with pytest.raises(InvalidArgumentError, match="holds a sweep of 'oco-regret'"):
        sweeps.sweep("gpc-vs-lqr", {}, 1, out=serial[1], workers=0)


def test_aggregate_mean_standard_error_and_seeded_bootstrap():
    rng = np.random.default_rng(0)
    vals = {"a": rng.normal(1.0, 2.0, size=400), "b": rng.exponential(size=5)}
    rows = [{"g": g, "seed": i, "status": "ok", "m": v} for g, vs in vals.items() for i, v in enumerate(vs)]
    rows.append({"g": "a", "seed": 999, "status": "failed", "m": 1e9})  # failed cells do not count
    table = pd.DataFrame(rows)
    table.attrs.update(grid=["g"], metrics=["m"])
    agg = sweeps.aggregate(table, ci=0.95, n_boot=4000, seed=3)
    from scipy import stats

    for g, v in vals.items():
        assert agg.loc[g, ("m", "n")] == len(v)
        assert agg.loc[g, ("m", "mean")] == pytest.approx(v.mean(), rel=1e-12)
        assert agg.loc[g, ("m", "se")] == pytest.approx(stats.sem(v), rel=1e-12)
        lo, hi = agg.loc[g, ("m", "ci_low")], agg.loc[g, ("m", "ci_high")]
        assert lo < v.mean() < hi
    # n = 400: the percentile bootstrap interval is the normal one, mean ± 1.96 se, to a few per cent
    lo, hi = agg.loc["a", ("m", "ci_low")], agg.loc["a", ("m", "ci_high")]
    assert (hi - lo) == pytest.approx(2 * 1.96 * stats.sem(vals["a"]), rel=0.08)
    again = sweeps.aggregate(table, ci=0.95, n_boot=4000, seed=3)
    pd.testing.assert_frame_equal(agg, again, check_exact=True)  # seeded: same seed, same bits
    assert not agg.equals(sweeps.aggregate(table, ci=0.95, n_boot=4000, seed=4))
    with pytest.raises(InvalidArgumentError, match="no column"):
        sweeps.aggregate(table, "nope")


def test_plots_mean_curves_and_a_sensitivity_plot(serial, tmp_path):
    _, out = serial
    paths = sweeps.plot_sweep(out, tmp_path, curves=["regret/iid-linear/OGD", "regret/smooth-convex/FKM"])
    assert [os.path.basename(p) for p in paths] == ["curves-1.png", "sensitivity-T.png"]
    assert all(os.path.getsize(p) > 10_000 for p in paths)
    (c30, c60) = sweeps.load_curves(out, "regret/iid-linear/OGD")
    assert c30.params == {"T": 30} and c30.values.shape[0] == 3 and c30.x[-1] == 30 and c60.x[-1] == 60


def test_cli_sweep_serial_with_plot(tmp_path, capsys):
    rc = main(["sweep", "oco-regret", "--grid", "T=20,40", "--seeds", "2", "--set", "seeds=1", "--set", "dim=2",
               "--workers", "0", "--out", str(tmp_path), "--plot", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "4 cells (4 ok)" in out and "sensitivity-T.png" in out
    assert (tmp_path / "table.csv").exists() and (tmp_path / "plots" / "sensitivity-T.png").exists()
    manifest = json.load(open(tmp_path / "manifest.json"))
    assert manifest["grid"] == {"T": [20, 40]} and manifest["seeds"] == [0, 1] and len(manifest["cells"]) == 4


def test_a_missing_dask_is_a_clear_error(tmp_path, monkeypatch):
    from olc import _extras

    monkeypatch.setattr(_extras, "missing_modules", lambda extra: ["distributed"] if extra == "sweep" else [])
    with pytest.raises(olc.errors.MissingExtraError, match=r"pip install 'olc\[sweep\]'"):
        sweeps.sweep("oco-regret", {}, 1, out=tmp_path, workers=2)


def test_ctrl_c_keeps_the_finished_cells_and_the_rerun_completes(tmp_path, monkeypatch, capsys):
    real, calls = sweeps.run_cell, []

    def ctrl_c_in_the_third_cell(spec, cell):
        calls.append(cell["key"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(spec, cell)

    monkeypatch.setattr(sweeps, "run_cell", ctrl_c_in_the_third_cell)
    argv = ["sweep", "oco-regret", "--grid", "T=20", "--seeds", "4", "--set", "seeds=1", "--set", "dim=2",
            "--workers", "0", "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "olc: interrupted: 2 cells are saved" in err and "run the same command again" in err
    table = pd.read_csv(tmp_path / "table.csv")  # written on the way out
    assert table["status"].tolist() == ["ok", "ok", "pending", "pending"]
    assert main(argv) == 0 and len(calls) == 5  # the rerun ran the two cells left, once each
    assert (olc.load_sweep(tmp_path)["status"] == "ok").all()
