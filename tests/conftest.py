"""Test-session settings.

Tiny models and small matrices dominate the suite; on a 2-core machine multi-threaded
BLAS/PyTorch kernels only add overhead there (a tiny MLP gradient measured 80x slower with two
intra-op threads under load), so the tests run single-threaded BLAS and PyTorch.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
