"""Shared fixtures of the torch tests (one intra-op thread, a digits batch); helpers in ``_torchcases.py``."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _torch_one_thread():
    """Tiny models: one intra-op thread avoids oversubscription on shared cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def digits_batch():
    """512 standardised digits (float32 inputs, int64 labels) from scikit-learn's offline set."""
    pytest.importorskip("sklearn")
    from olc.oracles.data import load_digits_dataset

    d = load_digits_dataset(seed=0)
    return (torch.tensor(d.X_train[:512], dtype=torch.float32), torch.tensor(d.y_train[:512]))
