"""Benchmarks of ``olc sweep`` (issue targets in brackets; numbers are reported, not asserted):

1. 200 small cells of oco-regret (T=100, d=2, one game per cell) serially and on a LocalCluster of
   2 worker processes: speedup [>= 1.7x] and per-cell overhead [<= 50 ms] — the wall time not spent
   inside cells, per cell (serial: wall - sum of cell times; Dask: workers x wall - sum of cell
   times, i.e. idle or bookkeeping worker time), cluster start-up reported separately;
2. resume scan of a 1,000-cell manifest [<= 2 s]: planning the 1,000 cells (configs checked, keys
   hashed) and listing the finished ones; and the whole no-op rerun (plan, lock, manifest, scan,
   loading the 1,000 cell files into the table, writing CSV/Parquet).

    python benchmarks/sweep_bench.py [--cells 200] [--json out.json]

Timings on a shared or loaded machine are inflated; compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from olc import sweeps

BASE = {"seeds": "1", "dim": "2", "T": "100"}


def _cell_seconds(table) -> float:
    return float(table["seconds"].sum())


def bench_speedup(n_cells: int, workers: int = 2) -> dict:
    import distributed

    root = tempfile.mkdtemp(prefix="olc-sweep-bench-")
    try:
        sweeps.sweep("oco-regret", {}, 1, base=BASE, out=os.path.join(root, "warm"), workers=0, progress=False)
        t = time.perf_counter()
        serial = sweeps.sweep("oco-regret", {}, n_cells, base=BASE, out=os.path.join(root, "serial"), workers=0,
                              progress=False)
        t_serial = time.perf_counter() - t
        t = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")
        client = distributed.Client(cluster)
        client.wait_for_workers(workers)
        t_start = time.perf_counter() - t
        try:
            t = time.perf_counter()
            dask = sweeps.sweep("oco-regret", {}, n_cells, base=BASE, out=os.path.join(root, "dask"), client=client,
                                progress=False)
            t_dask = time.perf_counter() - t
        finally:
            client.close()
            cluster.close()
        same = serial.drop(columns=["seconds"]).equals(dask.drop(columns=["seconds"]))
        return {"cells": n_cells, "workers": workers, "serial_s": t_serial, "dask_s": t_dask,
                "cluster_start_s": t_start, "speedup": t_serial / t_dask,
                "speedup_with_start": t_serial / (t_dask + t_start),
                "cell_s_mean_serial": _cell_seconds(serial) / n_cells, "cell_s_mean_dask": _cell_seconds(dask) / n_cells,
                "overhead_ms_per_cell_serial": 1e3 * (t_serial - _cell_seconds(serial)) / n_cells,
                "overhead_ms_per_cell_dask": 1e3 * (workers * t_dask - _cell_seconds(dask)) / n_cells,
                "tables_equal": bool(same), "target_speedup": 1.7, "target_overhead_ms": 50}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_resume_scan(n_cells: int = 1000) -> dict:
    root = tempfile.mkdtemp(prefix="olc-sweep-scan-")
    try:
        grid = {"T": [100, 200, 400, 800]}
        seeds = n_cells // len(grid["T"])
        sweeps.sweep("oco-regret", grid, 1, base={"seeds": "1", "dim": "2"}, out=root, workers=0, progress=False)
        p = sweeps.plan("oco-regret", grid, seeds, {"seeds": "1", "dim": "2"})
        template = {}
        for name in os.listdir(os.path.join(root, "cells")):
            rec = {sub: json.load(open(os.path.join(root, sub, name))) for sub in ("cells", "data")}
            template[rec["cells"]["params"]["T"]] = rec
        for c in p.cells:  # the finished cells of a 1,000-cell sweep, as real-sized files
            for sub, rec in template[c["params"]["T"]].items():
                with open(os.path.join(root, sub, f"{c['key']}.json"), "w") as fh:
                    json.dump(dict(rec, key=c["key"], **({"seed": c["seed"]} if sub == "cells" else {})), fh,
                              separators=(",", ":"))  # as sweeps writes them
        t = time.perf_counter()
        p = sweeps.plan("oco-regret", grid, seeds, {"seeds": "1", "dim": "2"})
        done = sweeps._scan(os.path.join(root, "cells"))
        pending = [c for c in p.cells if c["key"] not in done]
        t_scan = time.perf_counter() - t
        assert not pending
        t = time.perf_counter()
        table = sweeps.sweep("oco-regret", grid, seeds, base={"seeds": "1", "dim": "2"}, out=root, workers=0,
                             progress=False)
        t_rerun = time.perf_counter() - t
        size = {sub: np.mean([os.path.getsize(os.path.join(root, sub, n)) for n in os.listdir(os.path.join(root, sub))])
                for sub in ("cells", "data")}
        return {"cells": len(table), "scan_s": t_scan, "noop_rerun_s": t_rerun, "summary_kB": size["cells"] / 1e3,
                "bulk_kB": size["data"] / 1e3, "target_s": 2.0}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    res = {"speedup": bench_speedup(args.cells), "resume_scan": bench_resume_scan()}
    s, r = res["speedup"], res["resume_scan"]
    print(f"{s['cells']} oco-regret cells (mean {s['cell_s_mean_serial'] * 1e3:.0f} ms each): serial "
          f"{s['serial_s']:.1f} s, {s['workers']} Dask workers {s['dask_s']:.1f} s (+ {s['cluster_start_s']:.1f} s "
          f"cluster start): speedup {s['speedup']:.2f}x [target >= 1.7x] ({s['speedup_with_start']:.2f}x with the "
          f"start); overhead per cell {s['overhead_ms_per_cell_serial']:.1f} ms serial, "
          f"{s['overhead_ms_per_cell_dask']:.1f} ms Dask [target <= 50 ms]; tables equal: {s['tables_equal']}")
    print(f"resume scan of a {r['cells']}-cell manifest (cell files {r['summary_kB']:.0f} kB + {r['bulk_kB']:.0f} kB "
          "bulk): plan + scan "
          f"{r['scan_s']:.2f} s [target <= 2 s]; whole no-op rerun incl. loading the table {r['noop_rerun_s']:.2f} s")
    if args.json:
        from olc._io import atomic_write_json

        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":  # the guard matters: Dask's worker processes import this file
    sys.exit(main())
