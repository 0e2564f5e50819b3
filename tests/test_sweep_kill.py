"""Kill and resume: a sweep SIGKILLed at different moments (before any cell, while a cell runs, in the
middle of writing a cell file, while writing the table, with Dask workers running), then run again,
gives the table of an uninterrupted sweep, and no cell file is ever truncated. ``olc run`` killed
while writing ``results.json`` leaves the previous good file; Ctrl-C exits 130 keeping the rounds done."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from olc import sweeps
from olc.cli import main

pytest.importorskip("distributed")

GRID, SEEDS, BASE = {"T": [20, 40]}, 4, {"seeds": "1", "dim": "2"}
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def DIRS(out):  # noqa: N802 - where a sweep writes
    return [d for d in (out, out / "cells", out / "data") if d.exists()]

#: a sweep that stops forever at a chosen moment, printing KILLME first: "write N" in the N-th atomic
#: write (after cutting its temporary file in half, as a kill in the middle of writing would leave
#: it), "cell S" when the cell of seed S (T = 40) starts
_DRIVER = """
import os, sys, time
from olc import sweeps
mode, n, out, workers = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
calls = [0]
real_fsync, real_run = os.fsync, sweeps.run_cell

def stop(what):
    print("KILLME", what, flush=True)
    time.sleep(600)

def fsync(fd):
    calls[0] += 1
    if mode == "write" and calls[0] == n:
        os.ftruncate(fd, os.fstat(fd).st_size // 2)
        stop(os.readlink(f"/proc/self/fd/{fd}"))
    return real_fsync(fd)

def run_cell(spec, cell):
    if mode == "cell" and cell["seed"] == n and cell["params"]["T"] == 40:
        stop("cell")
    return real_run(spec, cell)

os.fsync, sweeps.run_cell = fsync, run_cell
sweeps.sweep("oco-regret", {"T": [20, 40]}, 4, base={"seeds": "1", "dim": "2"}, out=out, workers=workers,
             progress=False)
print("FINISHED", flush=True)
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    return sweeps.sweep("oco-regret", GRID, SEEDS, base=BASE, out=out, workers=0, progress=False).drop(
        columns=["seconds"])


def _kill_at(out, mode, n, workers=0) -> str:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_DRIVER), mode, str(n), str(out), str(workers)],
                            stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("KILLME"), line
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(60)
    return line


def _assert_no_truncated_cell(out):
    for name in os.listdir(out / "cells"):
        if name.endswith(".json") and not name.startswith("."):
            rec = sweeps.load_cell(out, name[:-5])  # a truncated file (summary or bulk) would not parse
            assert rec["status"] == "ok" and rec["metrics"] and rec["curves"] and rec["results"], name


# Atomic writes, in order: #1 the manifest, then per cell its bulk (data/, #2k) and its summary
# (cells/, #2k+1), then table.csv. (mode, n): kill in the manifest write (before any cell); while the
# cell of T=40, seed 1 runs (5 cells done); in the summary of cell 2 (1 done); in the bulk of cell 6
# (5 done); in the table write after all 8 cells (#18)
POINTS = [("write", 1), ("cell", 1), ("write", 5), ("write", 12), ("write", 18)]


@pytest.mark.parametrize("mode, n", POINTS, ids=[f"{m}-{n}" for m, n in POINTS])
def test_sigkill_then_rerun_gives_the_uninterrupted_table(tmp_path, reference, mode, n):
    line = _kill_at(tmp_path, mode, n)
    if mode == "write":  # it was killed with a half-written temporary file next to the target
        assert ".tmp" in line
        leftovers = [f for d in DIRS(tmp_path) for f in os.listdir(d) if f.endswith(".tmp")]
        assert len(leftovers) == 1
    _assert_no_truncated_cell(tmp_path)
    done = {f for f in os.listdir(tmp_path / "cells") if not f.startswith(".")}
    expected_done = {("write", 1): 0, ("cell", 1): 5, ("write", 5): 1, ("write", 12): 5, ("write", 18): 8}[(mode, n)]
    assert len(done) == expected_done
    lines = []
    table = sweeps.sweep("oco-regret", GRID, SEEDS, base=BASE, out=tmp_path, workers=0, progress=False,
                         log=lines.append)
    assert f"({expected_done} done before, {8 - expected_done} to run)" in lines[0]
    pd.testing.assert_frame_equal(table.drop(columns=["seconds"]), reference, check_exact=True)
    assert not [f for d in DIRS(tmp_path) for f in os.listdir(d) if f.endswith(".tmp")]
    _assert_no_truncated_cell(tmp_path)


def test_sigkill_of_a_sweep_on_local_dask_workers_then_resume(tmp_path, reference):
    _kill_at(tmp_path, "write", 5, workers=2)  # while the driver writes the 4th finished cell
    _assert_no_truncated_cell(tmp_path)
    table = sweeps.sweep("oco-regret", GRID, SEEDS, base=BASE, out=tmp_path, workers=0, progress=False)
    pd.testing.assert_frame_equal(table.drop(columns=["seconds"]), reference, check_exact=True)


# ------------------------------------------------------------------------------------------ olc run
_RUN_KILLED_IN_WRITE = """
import os, sys, time
from olc.cli import main
real = os.fsync
def fsync(fd):
    if os.readlink(f"/proc/self/fd/{fd}").split(os.sep)[-1].startswith(".results.json"):
        print("KILLME", flush=True)
        time.sleep(600)
    return real(fd)
os.fsync = fsync
main(["run", "oco-regret", "--set", "T=40", "--set", "seeds=1", "--set", "dim=3", "--out", sys.argv[1], "--quiet"])
"""


def test_olc_run_killed_while_writing_results_keeps_the_previous_file(tmp_path, capsys):
    assert main(["run", "oco-regret", "--set", "T=30", "--set", "seeds=1", "--out", str(tmp_path), "--quiet"]) == 0
    good = (tmp_path / "results.json").read_text()
    proc = subprocess.Popen([sys.executable, "-c", _RUN_KILLED_IN_WRITE, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True, env=ENV)
    try:
        assert proc.stdout.readline().strip() == "KILLME"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(60)
    assert (tmp_path / "results.json").read_text() == good  # the old file, whole
    assert json.loads(good)["config"]["T"] == 30
    # the next run clears the half-written temporary and replaces the file
    assert main(["run", "oco-regret", "--set", "T=40", "--set", "seeds=1", "--out", str(tmp_path), "--quiet"]) == 0
    payload = json.load(open(tmp_path / "results.json"))
    assert payload["config"]["T"] == 40 and not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    prov = payload["provenance"]
    assert prov["config"]["T"] == 40 and prov["seed"] == 0 and prov["timestamp"].endswith("+00:00")


def test_ctrl_c_during_olc_run_exits_130_and_keeps_the_completed_rounds(tmp_path, capsys, monkeypatch):
    from olc.experiments import oco_regret

    real = oco_regret._adversaries

    def interrupting(cfg, seed):
        advs = real(cfg, seed)
        step = advs["iid-linear"].step

        def ctrl_c_at_round_7(t, x):
            if t == 7:
                raise KeyboardInterrupt
            return step(t, x)

        advs["iid-linear"].step = ctrl_c_at_round_7
        return advs

    monkeypatch.setattr(oco_regret, "_adversaries", interrupting)
    assert main(["run", "oco-regret", "--set", "T=30", "--set", "seeds=1", "--out", str(tmp_path), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "olc: interrupted: oco-regret" in err and "results.partial.json" in err and "Traceback" not in err
    partial = json.load(open(tmp_path / "results.partial.json"))
    assert partial["interrupted"] and partial["partial"]["T"] == 7 and len(partial["partial"]["losses"]) == 7
    assert partial["provenance"]["olc"] and not (tmp_path / "results.json").exists()


_SIGINT_RUN = """
import os, signal, sys, threading
from olc.cli import main
sys.exit(main(["run", "oco-regret", "--set", "T=400000", "--set", "seeds=1", "--out", sys.argv[1], "--quiet"]))
"""


def test_sigint_to_a_running_olc_run(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _SIGINT_RUN, str(tmp_path)], stderr=subprocess.PIPE, text=True,
                            env=ENV)
    try:
        import time

        for _ in range(600):  # the lock file appears when the run starts
            if (tmp_path / ".olc.lock").exists():
                break
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "olc: interrupted" in err and "Traceback" not in err
    assert json.load(open(tmp_path / "results.partial.json"))["interrupted"]
    assert not (tmp_path / ".olc.lock").exists()


def test_a_second_olc_run_into_a_busy_out_is_refused(tmp_path, capsys, lock_holder):
    with lock_holder(tmp_path, "run") as holder:
        rc = main(["run", "oco-regret", "--set", "T=30", "--set", "seeds=1", "--out", str(tmp_path), "--quiet"])
        err = capsys.readouterr().err
        assert rc == 2 and f"busy: another olc run (pid {holder.pid}" in err and "Traceback" not in err
        assert not (tmp_path / "results.json").exists()
    assert main(["run", "oco-regret", "--set", "T=30", "--set", "seeds=1", "--out", str(tmp_path), "--quiet"]) == 0
