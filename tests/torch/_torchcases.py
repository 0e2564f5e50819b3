"""Helpers shared by the torch tests (importable thanks to ``conftest.py``)."""

import numpy as np
import pytest
import torch


def train_until_halved(model, opt, X, y, max_steps=300):
    """Full-batch training until the loss is half its initial value; returns (first, last, steps)."""
    lossf = torch.nn.CrossEntropyLoss()

    def closure():
        opt.zero_grad()
        loss = lossf(model(X), y)
        loss.backward()
        return loss

    first = last = None
    for k in range(max_steps):
        last = float(opt.step(closure).detach())
        first = last if first is None else first
        if last < first / 2:
            return first, last, k + 1
    return first, last, max_steps


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def quadratic(n=6, seed=0):
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((n, n))
    return Q @ Q.T / n + 0.1 * np.eye(n), 3 * rng.standard_normal(n)
