"""Benchmark: matrix-free sequential stability of CNNs on digits (nonconvex-meta-optimization Def. 3).

One cell = train a CNN on a fixed batch of scikit-learn digits for T steps of the optimization LTV
and bound every interval norm ``||A_s..A_r||`` (relative gap ``--rtol``) from Hessian-vector
products (:func:`olc.torch.sequential_stability`), or, with ``--path dense``, build the dense
``(T, 3n, 3n)`` stack and take exact SVD norms. Each cell runs in a fresh subprocess so that its
peak RSS (``ru_maxrss``) is its own. Times are wall-clock seconds of the stability analysis
(training excluded) and of the whole cell, beside the cell's CPU seconds (one thread: on a loaded
machine the CPU time is the better estimate of the wall time on a quiet one). Each row also records
the load average before and after it.

    python benchmarks/seq_stability_operator.py                          # the 10k-parameter, T=20 target
    python benchmarks/seq_stability_operator.py --n 100k --T 20          # the 10^5 case
    python benchmarks/seq_stability_operator.py --scaling --n 500,2k,10k --T 10,20,50 --json table.json
    python benchmarks/seq_stability_operator.py --device cuda --n 100k,1m

Targets (issue 11): n = 10^4, T = 20, all 210 intervals to rtol 1e-3 in <= 5 min and <= 2 GB peak
RSS on 2 CPU cores; n = 10^5, T = 20 in <= 1 h. Nothing here is asserted: the numbers are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODELS = {"500": ((2, 8), ()), "2k": ((8, 16), ()), "10k": ((8, 16), (128,)), "100k": ((16, 32), (768,)),
          "1m": ((32, 64), (3600,))}


def cell(n: str, T: int, path: str, rtol: float, hvp_dtype: str, device: str, batch: int, block: bool,
         threads: int, lr: float) -> dict:
    """One measurement in this process (the parent runs it in a subprocess)."""
    import resource

    import numpy as np
    import torch

    torch.set_num_threads(threads)
    import olc.torch
    from olc.oracles import TorchOracle, digits_cnn, load_digits_dataset
    from olc.systems import OptimizationSystem, sequential_stability

    data = load_digits_dataset(seed=0)
    X, y = data.X_train[:batch], data.y_train[:batch]
    channels, hidden = MODELS[n]
    model = digits_cnn(channels, seed=0, hidden=hidden)
    n_params = sum(p.numel() for p in model.parameters())
    t0, c0 = time.perf_counter(), time.process_time()
    out = {"n": n, "n_params": n_params, "T": T, "path": path, "rtol": rtol, "hvp_dtype": hvp_dtype,
           "device": device, "batch": batch, "block": block, "threads": threads}
    if path == "dense":
        oracle = TorchOracle(model, torch.nn.CrossEntropyLoss(), X, y, device=device)
        system = OptimizationSystem(oracle, lr, hessian_nodes=1)
        system.run(oracle.x0(), T)
        t1, c1 = time.perf_counter(), time.process_time()
        res = sequential_stability(system, method="dense", block=slice(0, n_params) if block else None,
                                   diagnostics=False, time_limit=None, progress=False)
        out["stability_seconds"] = time.perf_counter() - t1
        out["stability_cpu_seconds"] = time.process_time() - c1
    else:
        dt = {"float32": torch.float32, "float64": torch.float64}[hvp_dtype]
        c1 = time.process_time()
        res = olc.torch.sequential_stability(model, torch.nn.CrossEntropyLoss(), X, y, lr=lr, steps=T, rtol=rtol,
                                             hvp_dtype=dt, device=device, block="auto" if block else None,
                                             diagnostics=block, time_limit=None, progress=False)
        out["stability_seconds"] = res.cost["seconds"]
        out["train_and_stability_cpu_seconds"] = time.process_time() - c1
        out["hessian_vector_products"] = res.cost.get("hessian_vector_products")
        out["operator_applications"] = res.cost["operator_applications"]
        out["estimated_seconds"] = res.cost["estimated_seconds"]
        out["max_gap"] = float(np.nanmax(np.exp(res.log_upper - res.log_norms)) - 1)
        out["status"] = res.status_counts
        out["plan"] = res.plan
    out.update(cell_seconds=time.perf_counter() - t0, cell_cpu_seconds=time.process_time() - c0,
               kappa=res.kappa, kappa_upper=res.kappa_upper,
               gamma=res.gamma, intervals=int(T * (T + 1) // 2),
               peak_rss_MiB=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if device == "cuda":
        out["cuda_peak_MiB"] = torch.cuda.max_memory_allocated() / 2 ** 20
    return out


def calibrate(n: str, batch: int, k: int, hvp_dtype: str, device: str, threads: int, lr: float) -> dict:
    """Seconds (wall and CPU) of one application of ``A_t`` and of ``A_t^T`` to a block of ``k`` vectors on a
    recorded 2-step trajectory: with the application counts of the cells (which depend on T and the
    spectra, not on n) this extrapolates a cell that was not run."""
    import resource

    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from olc.oracles import TorchOracle, digits_cnn, load_digits_dataset
    from olc.systems import OptimizationSystem

    data = load_digits_dataset(seed=0)
    channels, hidden = MODELS[n]
    model = digits_cnn(channels, seed=0, hidden=hidden)
    oracle = TorchOracle(model, torch.nn.CrossEntropyLoss(), data.X_train[:batch], data.y_train[:batch])
    system = OptimizationSystem(oracle, lr, hessian_nodes=1)
    system.run(oracle.x0(), 2)
    dt = {"float32": torch.float32, "float64": torch.float64}[hvp_dtype]
    op = system.operator(oracle=oracle.to(dtype=dt, device=device) if (dt != torch.float64 or device != "cpu")
                         else None)
    V = np.random.default_rng(0).standard_normal((k, op.dim))
    op.apply(1, V)
    op.apply_T(1, V)                                     # warm: the gradient graph, the secant term
    reps, t0, c0 = 5, time.perf_counter(), time.process_time()
    for _ in range(reps):
        op.apply(1, V)
        op.apply_T(1, V)
    wall, cpu = (time.perf_counter() - t0) / (2 * reps * k), (time.process_time() - c0) / (2 * reps * k)
    return {"n": n, "n_params": oracle.dim, "batch": batch, "k": k, "hvp_dtype": hvp_dtype, "device": device,
            "seconds_per_vector_application": wall, "cpu_seconds_per_vector_application": cpu,
            "peak_rss_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def dense_fits(n_params: int, T: int, budget: float) -> bool:
    """The dense path needs the (T, 3n, 3n) stack and about four copies of it in the interval products."""
    return 5 * 8.0 * T * (3 * n_params) ** 2 <= budget


def _subprocess_row(spec: dict, json_path, rows: list, args: dict) -> dict:
    """Run one cell in a fresh subprocess (its own peak RSS), record the load, save every row so far."""
    # one BLAS thread: the Krylov vector work is memory-bound, and OpenBLAS threads competing with
    # torch's for two busy cores made it several times slower (docs/systems.md, "Threads")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    load_before = os.getloadavg()
    proc = subprocess.run([sys.executable, __file__, "--cell", json.dumps(spec)], capture_output=True, text=True,
                          env=env)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    row = json.loads(line[-1][7:]) if line else {**spec, "error": proc.stderr[-2000:]}
    row.update(load_before=load_before, load_after=os.getloadavg(), cpus=os.cpu_count())
    print(json.dumps(row), flush=True)
    if json_path:
        from olc._io import atomic_write_json
        from olc.provenance import provenance

        atomic_write_json(json_path, {"benchmark": "seq_stability_operator", "rows": [*rows, row],
                                      "provenance": provenance(args)})
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", default="10k", help="comma-separated sizes: " + ", ".join(MODELS))
    p.add_argument("--T", default="20", help="comma-separated horizons")
    p.add_argument("--path", default="operator", choices=["operator", "dense"])
    p.add_argument("--scaling", action="store_true", help="operator and (where it fits) dense side by side")
    p.add_argument("--dense-budget-GiB", type=float, default=4.0, help="largest dense footprint attempted")
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--hvp-dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--block", action="store_true", help="also the parameter-block norms and Hessian diagnostics")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (2 oversubscribes a shared machine)")
    p.add_argument("--json", default=None)
    p.add_argument("--calibrate", action="store_true",
                   help="only time one application of A_t per size (blocks of --k vectors), for extrapolation")
    p.add_argument("--k", type=int, default=8, help="vectors per application in --calibrate")
    p.add_argument("--cell", default=None, help=argparse.SUPPRESS)   # internal: run one cell and print JSON
    a = p.parse_args(argv)
    if a.cell:
        spec = json.loads(a.cell)
        fn = calibrate if spec.pop("calibrate", False) else cell
        print("RESULT " + json.dumps(fn(**spec)))
        return 0
    rows = []
    if a.calibrate:
        for n in a.n.split(","):
            spec = dict(calibrate=True, n=n, batch=a.batch, k=a.k, hvp_dtype=a.hvp_dtype, device=a.device,
                        threads=a.threads, lr=a.lr)
            rows.append(_subprocess_row(spec, a.json, rows, vars(a)))
        return 0
    for n in a.n.split(","):
        for T in (int(t) for t in a.T.split(",")):
            paths = ["operator", "dense"] if a.scaling else [a.path]
            for path in paths:
                spec = dict(n=n, T=T, path=path, rtol=a.rtol, hvp_dtype=a.hvp_dtype, device=a.device,
                            batch=a.batch, block=a.block, threads=a.threads, lr=a.lr)
                if path == "dense":
                    from olc.oracles import digits_cnn

                    ch, hid = MODELS[n]
                    n_params = sum(q.numel() for q in digits_cnn(ch, hidden=hid).parameters())
                    if not dense_fits(n_params, T, a.dense_budget_GiB * 2 ** 30):
                        rows.append({**spec, "n_params": n_params, "skipped": f"dense needs about "
                                     f"{5 * 8 * T * (3 * n_params) ** 2 / 2 ** 30:.1f} GiB"})
                        print(json.dumps(rows[-1]), flush=True)
                        continue
                rows.append(_subprocess_row(spec, a.json, rows, vars(a)))
    print("\n| n | params | T | path | stability s | cell s | cell CPU s | peak RSS MiB | kappa [lower, upper] |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "skipped" in r or "error" in r:
            print(f"| {r['n']} | {r.get('n_params', '')} | {r['T']} | {r['path']} | {r.get('skipped', 'error')} |")
            continue
        print(f"| {r['n']} | {r['n_params']:,} | {r['T']} | {r['path']} | {r['stability_seconds']:.1f} | "
              f"{r['cell_seconds']:.1f} | {r['cell_cpu_seconds']:.1f} | {r['peak_rss_MiB']:.0f} | "
              f"[{r['kappa']:.4f}, {r['kappa_upper']:.4f}] |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
