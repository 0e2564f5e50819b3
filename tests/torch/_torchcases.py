"""Helpers shared by the torch tests (importable thanks to ``conftest.py``)."""

import numpy as np
import pytest
import torch


def closure(opt, loss):
    """The ``torch.optim`` closure of ``opt``: zero the gradients, evaluate ``loss()``, backpropagate, return it."""
    def step():
        opt.zero_grad()
        value = loss()
        value.backward()
        return value
    return step


def train_until_halved(model, opt, X, y, max_steps=300):
    """Full-batch training until the loss is half its initial value; returns (first, last, steps)."""
    lossf = torch.nn.CrossEntropyLoss()
    step = closure(opt, lambda: lossf(model(X), y))
    first = last = None
    for k in range(max_steps):
        last = float(opt.step(step).detach())
        first = last if first is None else first
        if last < first / 2:
            return first, last, k + 1
    return first, last, max_steps


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def quadratic(n=6, seed=0):
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((n, n))
    return Q @ Q.T / n + 0.1 * np.eye(n), 3 * rng.standard_normal(n)
