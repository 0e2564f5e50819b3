"""The oracles the optimization-system tests share: ``quad`` and ``logistic`` in the test module's
dimension ``N`` (a module-level constant)."""

import numpy as np
import pytest
from _problems import spd_quadratic

from olc.oracles import LogisticOracle, QuadraticOracle


@pytest.fixture
def quad(request):
    return QuadraticOracle(*spd_quadratic(request.module.N))


@pytest.fixture
def logistic(request):
    n = request.module.N
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, n))
    y = (X @ rng.standard_normal(n) + 0.5 * rng.standard_normal(40) > 0).astype(float)
    return LogisticOracle(X, y, l2=0.05, batch_size=10)
