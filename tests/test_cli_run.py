"""``olc run`` / ``olc list`` ergonomics: --show-config, extras (marked, missing -> exit 2 with the
install hint), did-you-mean, a closed pipe, ``--out ""``, ``olc bench --json`` checked first, the lock
fallback without fcntl, and provenance in results.json."""

import json
import os
import re
import subprocess
import sys

import pytest

from olc import experiments
from olc.cli import main

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _py(code, *args):
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=ENV, timeout=120)


def test_show_config_prints_defaults_and_the_allowed_values(capsys):
    assert main(["run", "gpc-vs-lqr", "--show-config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gpc-vs-lqr: GPC vs LQR") and "primary metric: gpc_over_lqr" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["T"].split()[1] == "4000" and lines["T"].endswith("an integer >= 1")
    assert "double-integrator,pendulum,random-stable" in lines["systems"]
    assert lines["systems"].endswith("each one of double-integrator, pendulum, random-stable")
    assert lines["bandit_lr"].split()[1] == "none" and lines["bandit_lr"].endswith("none, or a positive number")
    assert set(lines) == {f.name for f in experiments.get("gpc-vs-lqr").Config.__dataclass_fields__.values()}
    assert main(["run", "oco-regret", "--show-config"]) == 0
    assert "also checked: A memory no longer than the game (memory <= T)." in capsys.readouterr().out
    assert main(["run", "seq-stability-mlp", "--show-config"]) == 0
    out = capsys.readouterr().out
    assert "needs: torch, data" in out and "one of gd, delayed" in out


def test_list_marks_the_extras_an_experiment_needs(capsys):
    assert main(["list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for name in experiments.registry():
        extras = experiments.extras_of(experiments.get(name))
        assert ("[needs " in lines[name]) == bool(extras), name
    assert re.search(r"\[needs torch, data(; missing: [a-z, ]+)?\]", lines["seq-stability-mlp"])
    assert "[needs" not in lines["oco-regret"]


_NO_TORCH = "import sys; sys.modules['torch'] = None\nfrom olc.cli import main\nsys.exit(main(sys.argv[1:]))"


def test_running_an_experiment_without_its_extra_exits_2_with_the_install_hint(tmp_path):
    res = _py(_NO_TORCH, "run", "seq-stability-mlp", "--out", str(tmp_path))
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("olc: error: experiment seq-stability-mlp needs PyTorch (the 'torch' extra")
    assert "pip install 'olc[torch]'" in res.stderr and "Traceback" not in res.stderr
    assert not os.listdir(tmp_path)
    res = _py(_NO_TORCH, "list")
    assert res.returncode == 0 and "[needs torch, data; missing: torch]" in res.stdout
    res = _py(_NO_TORCH, "sweep", "metaopt-digits", "--seeds", "2", "--workers", "0", "--out", str(tmp_path / "s"))
    assert res.returncode == 2 and "pip install 'olc[torch]'" in res.stderr and "Traceback" not in res.stderr


def test_an_undeclared_import_of_a_missing_extra_is_reported_too(tmp_path):
    # the module forgets EXTRAS: the ImportError raised inside run becomes the same message
    code = ("import sys; sys.modules['torch'] = None\nfrom olc import experiments\n"
            "experiments.get('metaopt-digits').EXTRAS = ()\nfrom olc.cli import main\n"
            "sys.exit(main(['run', 'metaopt-digits', '--out', sys.argv[1], '--quiet']))")
    res = _py(code, str(tmp_path))
    assert res.returncode == 2, res.stderr
    assert "needs PyTorch" in res.stderr and "Traceback" not in res.stderr


def test_an_unknown_name_suggests_the_closest(capsys):
    assert main(["run", "oco-regert"]) == 2
    assert "did you mean 'oco-regret'?" in capsys.readouterr().err
    assert main(["sweep", "gpc-vs-lq", "--seeds", "1"]) == 2
    assert "did you mean 'gpc-vs-lqr'?" in capsys.readouterr().err
    assert main(["run", "oco-regret", "--set", "TT=3"]) == 2
    assert "(did you mean 'T'?)" in capsys.readouterr().err


def test_a_dotted_module_path_runs_your_own_experiment(tmp_path, capsys, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "my_exp.py").write_text(
        'NAME = "mine"\nfrom dataclasses import dataclass\n@dataclass\nclass Config:\n    k: int = 2\n'
        '    seed: int = 0\n\ndef run(cfg, progress=None):\n    return {"metrics": {"k2": float(cfg.k ** 2)}}\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["run", "mypkg.my_exp", "--set", "k=3", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert json.load(open(tmp_path / "o" / "results.json"))["results"]["metrics"] == {"k2": 9.0}
    assert main(["run", "mypkg.nope", "--out", str(tmp_path / "o")]) == 2
    assert "unknown name 'mypkg.nope'" in capsys.readouterr().err
    assert main(["run", "os.path", "--out", str(tmp_path / "o")]) == 2
    assert "the module os.path is not an olc experiment (it has no NAME, Config, run)" in capsys.readouterr().err


def test_a_closed_pipe_is_not_a_traceback():
    res = subprocess.run(f"{sys.executable} -m olc.cli list | head -1", shell=True, capture_output=True, text=True,
                         env=ENV, timeout=120)
    assert res.stdout.startswith("fobmaml-regression") and len(res.stdout.splitlines()) == 1
    assert "Traceback" not in res.stderr and "BrokenPipeError" not in res.stderr, res.stderr


def test_out_must_be_a_directory(capsys):
    assert main(["run", "oco-regret", "--out", ""]) == 2
    assert "--out: expected a directory, got ''" in capsys.readouterr().err


def test_bench_checks_its_json_path_before_benchmarking(tmp_path, monkeypatch, capsys):
    from olc import bench

    ran = []
    monkeypatch.setattr(bench, "run_bench", lambda *a, **k: ran.append(1))
    for bad in (str(tmp_path / "missing" / "b.json"), str(tmp_path)):
        assert main(["bench", "--quick", "--json", bad]) == 2
        assert "--json" in capsys.readouterr().err
    assert ran == []
    assert main(["bench", "--quick", "--json", str(tmp_path / "b.json")]) == 0 and ran == [1]


def test_results_json_carries_provenance(tmp_path):
    assert main(["run", "oco-regret", "--set", "T=30", "--set", "seeds=1", "--out", str(tmp_path), "--quiet"]) == 0
    prov = json.load(open(tmp_path / "results.json"))["provenance"]
    import numpy

    import olc

    assert prov["olc"] == olc.__version__ and prov["numpy"] == numpy.__version__
    assert prov["config"]["T"] == 30 and prov["seed"] == 0 and prov["cpu_count"] == os.cpu_count()


def test_the_lock_without_fcntl_detects_a_dead_holder(tmp_path, monkeypatch):
    from olc import _lock
    from olc.errors import BusyError

    monkeypatch.setattr(_lock, "fcntl", None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    (tmp_path / ".olc.lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "what": "run"}))
    with _lock.dir_lock(tmp_path):  # its pid is gone: stale, taken over
        assert json.load(open(tmp_path / ".olc.lock"))["pid"] == os.getpid()
        with pytest.raises(BusyError, match=f"pid {os.getpid()}"):
            with _lock.dir_lock(tmp_path):
                pass
    assert not (tmp_path / ".olc.lock").exists()
    (tmp_path / ".olc.lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "what": "sweep"}))
    with pytest.raises(BusyError, match="from another host; if that process is gone, delete"):
        with _lock.dir_lock(tmp_path):
            pass
