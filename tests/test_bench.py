"""``olc bench`` on tiny sizes: the JSON schema (no wall-clock asserts)."""

from __future__ import annotations

import json

from olc import bench

TINY = {"ltv": dict(B=8, T=5, d=2, m=1), "lti": dict(B=64, T=3, d=16, m=2), "single": dict(T=20, d=2, m=1),
        "gpc": dict(B=4, T=6, d=2, m=1, H=2), "gpc1": dict(T=6, d=2, m=1, H=2), "intervals": dict(T=6, d=2),
        "grid": dict(G=9, T=5, d=3), "repeats": 1}


def test_bench_json_schema(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "measure_roofline", lambda quick=False: {
        "copy_GBps": 10.0, "gemm_GFLOPs": 50.0, "copy_bytes": 1, "gemm_n": 1})
    monkeypatch.setattr(bench, "_import_seconds", lambda: 0.1)
    out = tmp_path / "b.json"
    recs = bench.run_bench(True, str(out), compile_times=False, sizes=TINY)
    data = json.loads(out.read_text())
    assert len(data) == len(recs) > 10
    keys = {"name", "backend", "shape", "seconds", "ratio_vs_numpy", "roofline_fraction", "compile_seconds"}
    for r in data:
        assert keys <= set(r)
        assert isinstance(r["shape"], dict)
        if r["backend"] == "numpy":
            assert r["ratio_vs_numpy"] is None
    names = {r["name"] for r in data}
    assert {"rollout_ltv_per_system", "rollout_lti_shared", "gpc_batched", "gpc_single_system",
            "interval_norms", "optimizer_grid", "import_olc"} <= names
    for r in data:
        if r["backend"] == "numba" and r["name"] != "rollout_single_system":
            assert r["ratio_vs_numpy"] > 0 and "target_met" in r or r["name"] == "rollout_single_system"
    assert "machine roofline" in capsys.readouterr().out
