"""Test-session settings.

Tiny models and small matrices dominate the suite; on a 2-core machine multi-threaded
BLAS/PyTorch kernels only add overhead there (a tiny MLP gradient measured 80x slower with two
intra-op threads under load), so the tests run single-threaded BLAS and PyTorch.
"""

import contextlib
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))   # shared helpers: tests/_problems.py

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
