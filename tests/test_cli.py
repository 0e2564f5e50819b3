"""The olc command: list, run (results.json + PNG), errors."""

import json
import os

from olc.cli import main
from olc.experiments import get, make_config, registry


def test_list_names_the_experiments(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "oco-regret" in out


def test_run_writes_results_and_figure(tmp_path, capsys):
    rc = main(["run", "oco-regret", "--set", "T=400", "--set", "seeds=1", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    payload = json.load(open(tmp_path / "results.json"))
    assert payload["config"]["T"] == 400
    rows = payload["results"]["rows"]
    assert {r["learner"] for r in rows} >= {"FTRL", "OGD", "Hedge", "FKM", "BCO-M"}
    assert any(f.endswith(".png") for f in os.listdir(tmp_path))
    assert "regret after T=400" in capsys.readouterr().out


def test_bad_overrides_are_reported(tmp_path, capsys):
    assert main(["run", "oco-regret", "--set", "nope=1", "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["run", "no-such-experiment"]) == 2
    assert main(["run", "oco-regret", "--set", "T=abc", "--out", str(tmp_path)]) == 2


def test_every_experiment_has_fast_defaults_declared():
    for name in registry():
        module = get(name)
        cfg = make_config(module)
        assert hasattr(module, "run") and cfg is not None


def test_bench_forwards_every_option_and_rejects_unknown_ones(monkeypatch, capsys):
    import pytest

    from olc import bench

    seen = {}
    monkeypatch.setattr(bench, "run_bench", lambda quick, json_path, *, backends, compile_times:
                        seen.update(quick=quick, json=json_path, backends=backends, compile=compile_times))
    assert main(["bench", "--quick", "--json", "out.json", "--backend", "numba", "--no-compile"]) == 0
    assert seen == dict(quick=True, json="out.json", backends=["numba"], compile=False)
    with pytest.raises(SystemExit):
        main(["bench", "--bogus"])
    with pytest.raises(SystemExit):
        main(["list", "--bogus"])
    assert "--bogus" in capsys.readouterr().err
