"""``olc bench``: measure the batched kernels on this machine against the numpy reference
and against the machine's own roofline, all in one run.

Entry points: :func:`run_bench` (returns the records) and :func:`main` (``argv`` parsing for
the ``olc bench [--quick] [--json FILE]`` subcommand). What is measured and the byte/flop
models are documented in docs/kernels.md and benchmarks/README.md.

Every record is a dict with ``name``, ``backend``, ``shape`` (dict), ``seconds`` (best of the repeats, after a warm-up
call), ``ratio_vs_numpy`` (numpy seconds / these seconds; None on the numpy row and where there is no numpy row),
``roofline_fraction`` (achieved GB/s or GFLOP/s over the machine's measured copy bandwidth or GEMM rate; None where
not meaningful) and ``compile_seconds`` (numba first-call time measured in a fresh subprocess with an empty cache;
None otherwise), plus ``achieved``, ``roofline`` (unit string), ``target`` and ``target_met`` where a target applies.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

__all__ = ["run_bench", "main", "measure_roofline"]


def _best(f, repeats: int) -> float:
    f()                                     # warm-up (compiles / loads the cache)
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return float(best)


def measure_roofline(quick: bool = False) -> dict:
    """Copy bandwidth (GB/s, bytes read + written by ``np.copyto``) and float64 GEMM GFLOP/s.

    Parameters
    ----------
    quick : bool
    """
    n = (32 if quick else 128) * 2 ** 20 // 8        # 32 / 128 MiB of float64
    src = np.random.default_rng(0).random(n)
    dst = np.empty_like(src)
    t = _best(lambda: np.copyto(dst, src), 3 if quick else 5)
    bw = 2 * src.nbytes / t / 1e9
    k = 1024 if quick else 2048
    a = np.random.default_rng(1).random((k, k))
    b = np.random.default_rng(2).random((k, k))
    tg = _best(lambda: a @ b, 2 if quick else 3)
    return {"copy_GBps": bw, "gemm_GFLOPs": 2 * k ** 3 / tg / 1e9, "copy_bytes": 2 * src.nbytes, "gemm_n": k}


def _sizes(quick: bool) -> dict:
    if quick:
        return {"ltv": dict(B=1024, T=100, d=4, m=2), "lti": dict(B=1024, T=200, d=32, m=8),
                "single": dict(T=5000, d=4, m=2), "gpc": dict(B=128, T=200, d=4, m=2, H=10),
                "gpc1": dict(T=2000, d=4, m=2, H=10), "intervals": dict(T=150, d=16),
                "grid": dict(G=1000, T=200, d=100), "repeats": 2}
    return {"ltv": dict(B=4096, T=200, d=4, m=2), "lti": dict(B=4096, T=1000, d=32, m=8),
            "single": dict(T=20000, d=4, m=2), "gpc": dict(B=1024, T=1000, d=4, m=2, H=10),
            "gpc1": dict(T=5000, d=4, m=2, H=10), "intervals": dict(T=500, d=32),
            "grid": dict(G=10000, T=500, d=100), "repeats": 3}


def _stable(rng, *shape, rho=0.9):
    """Random matrices with spectral norm ≤ rho (so rollouts stay bounded)."""
    X = rng.normal(size=shape)
    nrm = np.linalg.norm(X.reshape(-1, shape[-2], shape[-1]), 2, axis=(1, 2)).max()
    return X * (rho / nrm)


_COMPILE_SCRIPT = r"""
import json, sys, time
import numpy as np
from olc import kernels as K
rng = np.random.default_rng(0)
out = {}
def first(name, f):
    t = time.perf_counter(); f(); t1 = time.perf_counter() - t
    t = time.perf_counter(); f(); t2 = time.perf_counter() - t
    out[name] = max(t1 - t2, 0.0)
A = rng.normal(size=(3, 4, 2, 2)) * 0.1; Bm = rng.normal(size=(3, 4, 2, 1)); W = rng.normal(size=(3, 4, 2))
first("rollout", lambda: K.rollout(A, Bm, W, K=np.zeros((1, 2)), U=np.zeros((3, 4, 1)), backend="numba"))
A2 = np.eye(16) * 0.5; B2 = np.ones((16, 2)); W2 = rng.normal(size=(64, 3, 16))
first("rollout_lti_gemm", lambda: K.rollout(A2, B2, W2, K=np.zeros((2, 16)), backend="numba"))
first("gpc_rollout", lambda: K.gpc_rollout(A, Bm, W, np.zeros((1, 2)), H=2, lr=0.01, kappa=1.0,
                                            backend="numba"))
first("interval_norms", lambda: K.interval_norms(rng.normal(size=(5, 3, 3)), backend="numba"))
first("optimizer_grid", lambda: K.optimizer_grid(np.eye(3), np.ones(3), np.zeros(3), np.array([0.1]),
                                                  np.array([0.5]), 5, backend="numba"))
print("OLC_COMPILE " + json.dumps(out))
"""


def _compile_times() -> dict:
    """First-call (JIT compile) seconds of each numba kernel, in a subprocess with an empty cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, NUMBA_NUM_THREADS="2")
        try:
            res = subprocess.run([sys.executable, "-c", _COMPILE_SCRIPT], env=env, capture_output=True,
                                 text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return {}
    for line in res.stdout.splitlines():
        if line.startswith("OLC_COMPILE "):
            return json.loads(line[len("OLC_COMPILE "):])
    return {}


def _import_seconds() -> float:
    """Warm ``python -c "import olc"`` wall time (best of 3 subprocesses after one warm-up)."""
    times = []
    for _ in range(4):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import olc"], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return float(min(times[1:]))


def run_bench(quick: bool = False, json_path: str | None = None, *, backends=None, compile_times: bool = True,
              sizes: dict | None = None, verbose: bool = True) -> list[dict]:
    """Run the benchmark suite; print a table (``verbose``) and optionally write JSON.

    Parameters
    ----------
    quick : bool
        Smaller problems (under ~3 minutes on 2 cores, compile measurement included).
    json_path : str, optional
        Write the list of records there as JSON.
    backends : list of str, optional
        Accelerated backends to time besides numpy (default: every available one of ``numba``, ``cupy``).
    compile_times : bool
        Measure numba compile time in a fresh subprocess (tens of seconds).
    sizes : dict, optional
        Override the problem sizes (shaped like ``_sizes(quick)``; used by tests).
    verbose : bool
    """
    from . import backend as bk
    from . import kernels as K

    if bk.is_available("numba"):
        from .kernels import numba_cpu

        numba_cpu.set_num_threads(min(2, numba_cpu.get_num_threads()))   # numba kernels: 2 threads
    if backends is None:
        backends = [b for b in ("numba", "cupy") if bk.is_available(b)]
    S = sizes or _sizes(quick)
    reps = S.get("repeats", 2)
    rng = np.random.default_rng(0)
    roof = measure_roofline(quick)
    bw, gf = roof["copy_GBps"], roof["gemm_GFLOPs"]
    comp = _compile_times() if (compile_times and "numba" in backends) else {}
    records: list[dict] = [
        dict(name="roofline_copy", backend="numpy", shape={"bytes": roof["copy_bytes"]}, seconds=None,
             ratio_vs_numpy=None, roofline_fraction=1.0, compile_seconds=None, achieved=bw, roofline="GB/s"),
        dict(name="roofline_gemm", backend="numpy", shape={"n": roof["gemm_n"]}, seconds=None,
             ratio_vs_numpy=None, roofline_fraction=1.0, compile_seconds=None, achieved=gf,
             roofline="GFLOP/s"),
    ]

    def group(name, shape, run, *, kernel, nbytes=None, flops=None, targets=None, extra_rows=()):
        """Time ``run(backend)`` for numpy and each backend; add records."""
        t_np = _best(lambda: run("numpy"), 1)
        rows = [("numpy", t_np)] + [(b, _best(lambda b=b: run(b), reps)) for b in backends]
        rows += [(lab, _best(f, reps)) for lab, f in extra_rows]
        for b, t in rows:
            if nbytes is not None:
                ach, unit, frac = nbytes / t / 1e9, "GB/s", nbytes / t / 1e9 / bw
            elif flops is not None:
                ach, unit, frac = flops / t / 1e9, "GFLOP/s", flops / t / 1e9 / gf
            else:
                ach, unit, frac = None, None, None
            rec = dict(name=name, backend=b, shape=dict(shape), seconds=t,
                       ratio_vs_numpy=None if b == "numpy" else t_np / t, roofline_fraction=frac,
                       compile_seconds=comp.get(kernel) if b == "numba" else None, achieved=ach,
                       roofline=unit)
            if targets and b in targets:
                desc, ok = targets[b](rec)
                if quick:   # the targets are stated for the full shapes
                    desc += " [quick shape: indicative only]"
                rec["target"], rec["target_met"] = desc, bool(ok)
            records.append(rec)

    # 1. per-system LTV rollout (memory-bound): bytes = A + Bmat + W + U read, costs written
    s = S["ltv"]
    B, T, d, m = s["B"], s["T"], s["d"], s["m"]
    A = _stable(rng, B, T, d, d)
    Bm = rng.normal(size=(B, T, d, m))
    W = rng.normal(size=(B, T, d))
    U = rng.normal(size=(B, T, m))
    Kz = np.zeros((m, d))
    nbytes = A.nbytes + Bm.nbytes + W.nbytes + U.nbytes + B * T * 8
    group("rollout_ltv_per_system", s, lambda b: K.rollout(A, Bm, W, K=Kz, U=U, backend=b), kernel="rollout",
          nbytes=nbytes, targets={"numba": lambda r: (
              "≥ 70% copy bandwidth and ≥ 10× numpy",
              r["roofline_fraction"] >= 0.7 and r["ratio_vs_numpy"] >= 10)})

    # 2. shared LTI rollout (GEMM-bound): flops = B T (2 d (d+m) + d + m)
    s = S["lti"]
    B, T, d, m = s["B"], s["T"], s["d"], s["m"]
    A = _stable(rng, d, d)
    Bm = rng.normal(size=(d, m)) / np.sqrt(d)
    Kg = rng.normal(size=(m, d)) * 0.01
    W = rng.normal(size=(B, T, d))
    group("rollout_lti_shared", s, lambda b: K.rollout(A, Bm, W, K=Kg, backend=b), kernel="rollout_lti_gemm",
          flops=B * T * (2 * d * (d + m) + d + m),
          targets={"numba": lambda r: ("≥ 50% GEMM GFLOP/s", r["roofline_fraction"] >= 0.5)})

    # 3. single-system LTI rollout vs scipy.signal.dlsim and python-control
    s = S["single"]
    T, d, m = s["T"], s["d"], s["m"]
    A = _stable(rng, d, d)
    Bm = rng.normal(size=(d, m))
    U1 = rng.normal(size=(1, T, m))
    W1 = np.zeros((1, T, d))
    extra = []
    from scipy import signal

    sysd = (A, Bm, np.eye(d), np.zeros((d, m)), 1.0)
    extra.append(("scipy.signal.dlsim", lambda: signal.dlsim(sysd, U1[0])))
    try:
        import control

        csys = control.ss(A, Bm, np.eye(d), np.zeros((d, m)), 1.0)
        extra.append(("control.forced_response",
                      lambda: control.forced_response(csys, np.arange(T), U1[0].T)))
    except Exception:  # noqa: BLE001 - optional comparison only
        pass
    group("rollout_single_system", dict(B=1, **s), lambda b: K.rollout(A, Bm, W1, U=U1, return_states=True,
                                                                       backend=b),
          kernel="rollout", nbytes=U1.nbytes + 2 * W1.nbytes + T * 8, extra_rows=extra)

    # 4. batched GPC and single-system GPC
    # flops per system-step: DFC sums + gradient 2·2·(H+1)·H·m·d, forward/backward 2·2·H·(d²+2dm)
    def gpc_flops(B, T, d, m, H):
        return B * T * (4 * (H + 1) * H * m * d + 4 * H * (d * d + 2 * d * m) + 2 * d * d)

    s = S["gpc"]
    B, T, d, m, H = s["B"], s["T"], s["d"], s["m"], s["H"]
    A = _stable(rng, d, d, rho=0.8)
    Bm = rng.normal(size=(d, m))
    Kz = np.zeros((m, d))
    W = rng.normal(size=(B, T, d))
    group("gpc_batched", s, lambda b: K.gpc_rollout(A, Bm, W, Kz, H=H, lr=1e-3, kappa=1.0, gamma=0.1,
                                                     backend=b),
          kernel="gpc_rollout", flops=gpc_flops(B, T, d, m, H),
          targets={"numba": lambda r: ("≥ 20× numpy", r["ratio_vs_numpy"] >= 20)})
    s = S["gpc1"]
    T = s["T"]
    W1 = rng.normal(size=(1, T, d))
    group("gpc_single_system", dict(B=1, **s), lambda b: K.gpc_rollout(A, Bm, W1, Kz, H=H, lr=1e-3, kappa=1.0,
                                                                        gamma=0.1, backend=b),
          kernel="gpc_rollout", flops=gpc_flops(1, T, d, m, H),
          targets={"numba": lambda r: (f"≤ 10 µs/step (got {r['seconds'] / T * 1e6:.2f} µs/step)",
                                       r["seconds"] / T <= 10e-6)})

    # 5. all-interval spectral norms: flops ≈ T(T+1)/2 · (2d³ product + 2d³ Gram)
    s = S["intervals"]
    T, d = s["T"], s["d"]
    As = rng.normal(size=(T, d, d)) / np.sqrt(d)
    group("interval_norms", s, lambda b: K.interval_norms(As, backend=b), kernel="interval_norms",
          flops=T * (T + 1) / 2 * 4 * d ** 3,
          targets={"numba": lambda r: ("≤ 5 s", r["seconds"] <= 5.0)})

    # 6. (lr, momentum) grid on a d-dim quadratic: useful flops 8 per grid point, step and coordinate
    s = S["grid"]
    G, T, d = s["G"], s["T"], s["d"]
    X = rng.normal(size=(2 * d, d))
    Aq = X.T @ X / (2 * d)
    bq = rng.normal(size=d)
    x0 = np.zeros(d)
    n1 = int(np.sqrt(G))
    lr_, mu_ = np.meshgrid(np.geomspace(1e-3, 1.0, n1), np.linspace(0, 0.99, G // n1))
    lrs, mus = lr_.ravel(), mu_.ravel()
    group("optimizer_grid", dict(G=lrs.size, T=T, d=d),
          lambda b: K.optimizer_grid(Aq, bq, x0, lrs, mus, T, backend=b),
          kernel="optimizer_grid", flops=lrs.size * T * d * 8.0,
          targets={"numba": lambda r: ("≤ 2 s", r["seconds"] <= 2.0)})

    # 7. import time (warm, subprocess)
    records.append(dict(name="import_olc", backend="python", shape={}, seconds=_import_seconds(),
                        ratio_vs_numpy=None, roofline_fraction=None, compile_seconds=None))
    if verbose:
        _print_table(records, roof)
    if json_path:
        from ._io import atomic_write_text

        atomic_write_text(json_path, json.dumps(records, indent=1, default=float))
    return records


def check_json_path(path: str) -> str:
    """Fail *before* benchmarking when ``--json PATH`` cannot be written (missing directory, no
    permission, a directory in the way): an :class:`olc.errors.OlcError` naming the path."""
    from .errors import OlcError

    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not path.strip():
        raise OlcError(f"--json {path!r}: expected a file path")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".olc-bench-write-test-"):
            pass
    except OSError as exc:
        raise OlcError(f"--json {path}: cannot write there ({type(exc).__name__}: {exc.strerror or exc})") from None
    return path


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


def _print_table(records, roof):
    print(f"machine roofline: copy {roof['copy_GBps']:.1f} GB/s (read+write), "
          f"float64 GEMM {roof['gemm_GFLOPs']:.1f} GFLOP/s")
    hdr = (f"{'kernel':26s} {'backend':24s} {'seconds':>10s} {'x numpy':>8s} {'achieved':>16s} "
           f"{'roof%':>6s} {'compile s':>9s}  target")
    print(hdr)
    print("-" * len(hdr))
    for r in records:
        if r["name"].startswith("roofline"):
            continue
        ach = "-" if r.get("achieved") is None else f"{r['achieved']:.2f} {r['roofline']}"
        frac = "-" if r["roofline_fraction"] is None else f"{100 * r['roofline_fraction']:.0f}%"
        tgt = ""
        if "target" in r:
            tgt = ("PASS " if r["target_met"] else "MISS ") + r["target"]
        print(f"{r['name']:26s} {r['backend']:24s} {_fmt(r['seconds'], '10.4f')} "
              f"{_fmt(r['ratio_vs_numpy'], '8.1f')} {ach:>16s} {frac:>6s} "
              f"{_fmt(r['compile_seconds'], '9.2f')}  {tgt}")


def main(argv=None) -> int:
    """``olc bench [--quick] [--json FILE] [--backend NAME ...] [--no-compile]``.

    Parameters
    ----------
    argv : list of str, optional
    """
    ap = argparse.ArgumentParser(prog="olc bench",
                                 description="Benchmark olc's batched kernels on this machine.")
    ap.add_argument("--quick", action="store_true", help="small problems (< 3 minutes on 2 cores)")
    ap.add_argument("--json", metavar="FILE", help="write the records as a JSON list")
    ap.add_argument("--backend", action="append", choices=["numba", "cupy"],
                    help="accelerated backend(s) to time besides numpy (default: all available)")
    ap.add_argument("--no-compile", action="store_true",
                    help="skip the fresh-subprocess compile-time measurement")
    args = ap.parse_args(argv)
    if args.json is not None:
        check_json_path(args.json)
    run_bench(args.quick, args.json, backends=args.backend, compile_times=not args.no_compile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
