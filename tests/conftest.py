"""Test-session settings.

Tiny models and small matrices dominate the suite; on a 2-core machine multi-threaded
BLAS/PyTorch kernels only add overhead there (a tiny MLP gradient measured 80x slower with two
intra-op threads under load), so the tests run single-threaded BLAS and PyTorch.
"""

import contextlib
import importlib.util
import os
import subprocess
import sys

import pytest

# shared helpers, ``from _problems import ...``: loaded by path, not by putting tests/ on sys.path (tests/torch
# would then shadow a missing torch as a namespace package and break every optional-torch skip)
_spec = importlib.util.spec_from_file_location("_problems", os.path.join(os.path.dirname(__file__), "_problems.py"))
sys.modules["_problems"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sys.modules["_problems"])

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

_HOLD = """
import sys, time
from olc._lock import dir_lock
with dir_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def lock_holder():
    """``with lock_holder(directory, "run") as proc:`` — another process holds the olc lock on
    ``directory`` inside the block; it is SIGKILLed at the end (leaving a stale lock file behind)."""

    @contextlib.contextmanager
    def hold(directory, what):
        proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(directory), what], stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        try:
            assert proc.stdout.readline().strip() == "held"
            yield proc
        finally:
            proc.kill()
            proc.wait()

    return hold
