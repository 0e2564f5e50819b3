"""Matrix-free interval norms: GKL bounds bracket the exact (dense SVD) norms; operator path == dense path."""

import functools
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from olc.errors import InvalidArgumentError, ResourceError, ShapeError
from olc.oracles import LogisticOracle, QuadraticOracle
from olc.systems import (
    DenseLTV,
    FunctionLTV,
    OptimizationSystem,
    interval_bounds,
    interval_norms,
    mean_value_hessian,
    sequential_stability,
)
from olc.systems.intervals import CONVERGED, ESTIMATED
from olc.systems.krylov import GKL, Lanczos


def _exact(As):
    """{(r, l): ||A_{r+l-1} ... A_r||} by explicit products and LAPACK's SVD (brute force)."""
    T, d = len(As), As.shape[1]
    return {(r, s - r + 1): np.linalg.norm(functools.reduce(lambda P, A: A @ P, As[r:s + 1], np.eye(d)), 2)
            for r, s in itertools.combinations_with_replacement(range(T), 2)}


def _run(job, P):
    while job.need:
        job.give(P @ job.vec if job.need == "fwd" else P.T @ job.vec)
    return job


def test_gkl_bounds_and_witness():
    rng = np.random.default_rng(0)
    for d in (1, 2, 7, 60):
        P = rng.standard_normal((d, d)) @ np.diag(rng.uniform(0, 1, d) ** 3) @ rng.standard_normal((d, d))
        ex = np.linalg.norm(P, 2)
        job = _run(GKL(d, rtol=1e-3, seed=1), P)
        assert job.lower <= ex * (1 + 1e-13) and ex <= job.upper * (1 + 1e-13)
        assert job.upper <= (1 + 1e-3) * job.lower and job.converged
        v = job.right_vector()                             # the lower bound is attained by this vector
        assert abs(np.linalg.norm(v) - 1) < 1e-12 and abs(np.linalg.norm(P @ v) - job.lower) < 1e-10 * ex
        if d <= 7:                                         # the Krylov space exhausts R^d: exact
            job = _run(GKL(d, rtol=1e-15, max_iter=50, seed=1), P)
            assert job.lower == job.upper and abs(job.lower - ex) < 1e-12 * ex
    # a warm start (left vector) converges too; zero operator reads 0 with bounds 0
    P = rng.standard_normal((30, 30))
    u = np.linalg.svd(P)[0][:, 0]
    job = _run(GKL(30, left_start=u, rtol=1e-10, seed=2), P)
    assert abs(job.lower - np.linalg.norm(P, 2)) < 1e-12 * job.lower
    zero = _run(GKL(5, seed=0), np.zeros((5, 5)))
    assert zero.lower == zero.upper == 0.0


def test_lanczos_extreme_eigenvalues():
    rng = np.random.default_rng(3)
    G = rng.standard_normal((80, 80))
    S = G + G.T
    w = np.linalg.eigvalsh(S)
    job = Lanczos(80, rtol=1e-8, max_iter=80, seed=0)
    while job.need:
        job.give(S @ job.vec)
    assert job.lmax <= w[-1] + 1e-10 and w[-1] <= job.lmax_upper + 1e-10
    assert job.lmin_lower - 1e-10 <= w[0] <= job.lmin + 1e-10
    assert abs(job.lmax - w[-1]) < 1e-6 * abs(w[-1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(T=st.integers(1, 6), d=st.integers(1, 12), scale=st.floats(0.3, 2.0), seed=st.integers(0, 2 ** 31 - 1),
       plan=st.sampled_from(["exact", "sweep"]), jordan=st.booleans())
@example(T=3, d=6, scale=1.0, seed=11, plan="exact", jordan=False)   # stopped at sigma_2 with min_iter = 2
def test_bounds_bracket_exact_norms_on_random_non_normal_ltvs(T, d, scale, seed, plan, jordan):
    """lower <= exact <= upper on every interval, both plans, full and restricted norms."""
    rng = np.random.default_rng(seed)
    As = scale * rng.standard_normal((T, d, d)) / np.sqrt(d)
    if jordan:                                            # strongly non-normal: large upper-triangular part
        As = np.triu(As) + 3 * scale * np.triu(rng.standard_normal((T, d, d)), 1)
    op = DenseLTV(As)
    ex = _exact(As)
    block = slice(0, max(1, d - 1))
    full, part = interval_bounds(op, plan=plan, block=[None, block], rtol=1e-3, seed=seed % 1000,
                                 probes=2, select=lambda b: [])
    for (r, ell), v in ex.items():
        lo, hi = np.exp(full.log_lower[r, ell - 1]), np.exp(full.log_upper[r, ell - 1])
        assert lo <= v * (1 + 1e-12) + 1e-300 and v <= hi * (1 + 1e-12) + 1e-300, (r, ell, lo, v, hi)
        P = functools.reduce(lambda P, A: A @ P, As[r:r + ell], np.eye(d))
        vb = np.linalg.norm(P[block, block], 2)           # the block of the product, not a product of blocks
        lo, hi = np.exp(part.log_lower[r, ell - 1]), np.exp(part.log_upper[r, ell - 1])
        assert lo <= vb * (1 + 1e-12) + 1e-300 and vb <= hi * (1 + 1e-12) + 1e-300


def test_operator_path_equals_dense_path_on_random_stacks():
    rng = np.random.default_rng(5)
    for T, d in [(7, 5), (15, 12)]:
        As = 0.9 * rng.standard_normal((T, d, d)) / np.sqrt(d)
        dense = sequential_stability(As)
        op = sequential_stability(As, method="operator", rtol=1e-9)
        np.testing.assert_allclose(np.exp(op.log_norms), dense.norms, rtol=1e-9)
        assert op.gamma == pytest.approx(dense.gamma, rel=1e-9) and op.kappa == pytest.approx(dense.kappa, rel=1e-9)
        assert dense.kappa * (1 - 1e-12) <= op.kappa_upper <= dense.kappa * (1 + 1e-8)   # rounding: exhausted GKL is exact
        def excess(res, norms, iv):                         # ||P_I|| / (1 - gamma)^|I|: the worst one sets kappa
            return norms[iv[0], iv[1] - iv[0]] / (1 - res.gamma) ** (iv[1] - iv[0] + 1)
        assert op.worst_interval == dense.worst_interval or excess(dense, dense.norms, op.worst_interval) == \
            pytest.approx(excess(dense, dense.norms, dense.worst_interval), rel=1e-12)   # a tie, broken by rounding
        assert not op.exact and dense.exact
        r, s = op.worst_interval                            # the witness attains the worst lower bound
        P = functools.reduce(lambda P, A: A @ P, As[r:s + 1], np.eye(d))
        assert abs(np.linalg.norm(P @ op.witness) - np.exp(op.log_norms[r, s - r])) < 1e-10
        for gamma in (0.0, 0.2):                            # a given gamma
            a, b = sequential_stability(As, gamma), sequential_stability(As, gamma, method="operator", rtol=1e-9)
            assert b.kappa == pytest.approx(a.kappa, rel=1e-9) and b.rule == a.rule == "given"


def test_sweep_plan_bounds_and_refinement():
    rng = np.random.default_rng(6)
    T, d = 40, 6
    As = np.stack([0.8 * np.linalg.qr(rng.standard_normal((d, d)))[0] @ np.diag(rng.uniform(0.5, 1.2, d))
                   for _ in range(T)])
    dense = sequential_stability(As)
    sw = sequential_stability(As, method="operator", plan="sweep", rtol=1e-6, max_refine=400)
    ex = dense.norms
    v = ~np.isnan(ex)
    assert np.all(np.exp(sw.log_norms[v]) <= ex[v] * (1 + 1e-12)) and np.all(ex[v] <= np.exp(sw.log_upper[v]) * (1 + 1e-12))
    counts = sw.status_counts
    assert counts.get("estimated", 0) > 0 and counts["converged"] > T     # refined more than the single steps
    assert sw.kappa <= dense.kappa_for(sw.gamma) * (1 + 1e-9) <= sw.kappa_upper * (1 + 1e-9)
    assert sw.plan == "sweep" and "estimated" in sw.summary()
    assert np.all(sw.status[v] >= ESTIMATED) and np.all(sw.status[:, 0] >= CONVERGED)


def _logistic_system(delta, n=8, T=6, form="gd"):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, n))
    y = (X @ rng.standard_normal(n) > 0).astype(float)
    sys = OptimizationSystem(LogisticOracle(X, y, l2=0.01), lr=1.5, weight_decay=delta, form=form, hessian_nodes=1)
    sys.run(np.zeros(n), T)
    return sys


@pytest.mark.parametrize("delta", [0.0, 0.05])
@pytest.mark.parametrize("form", ["gd", "delayed"])
def test_optimization_system_operator_equals_dense(delta, form):
    """kappa, gamma, the norms, the parameter-block norms and lambda_max(H_t): HVP path == dense matrices."""
    sys = _logistic_system(delta, form=form)
    dense = sequential_stability(sys, method="dense")
    op = sequential_stability(sys, method="operator", rtol=1e-9)
    np.testing.assert_allclose(np.exp(op.log_norms), dense.norms, rtol=1e-8)
    assert op.kappa == pytest.approx(dense.kappa, rel=1e-8) and op.gamma == pytest.approx(dense.gamma, rel=1e-8)
    assert dense.block is not None and op.block is not None and dense.block_slice == slice(0, 8)
    np.testing.assert_allclose(np.exp(op.block.log_norms), dense.block.norms, rtol=1e-8)
    stack = sys.matrices()                                   # the block norms are those of P[:n, :n]
    P = stack[2] @ stack[1]
    assert dense.block.norms[1, 1] == pytest.approx(np.linalg.norm(P[:8, :8], 2), rel=1e-12)
    assert (dense.floor is not None) == (delta == 0.0)
    for t in range(sys.T):                                   # lambda_max of the mean-value Hessian
        Hbar = mean_value_hessian(sys.oracle, sys.xs[max(t - 1, 0)], sys.xs[t], nodes=1, secant=False)
        w = np.linalg.eigvalsh(Hbar)
        assert op.steps["lmax"][t] <= w[-1] + 1e-12 and w[-1] <= op.steps["lmax_upper"][t] + 1e-12
        assert op.steps["lmax"][t] == pytest.approx(w[-1], rel=1e-3)
    assert op.steps["edge"] == pytest.approx(2 / 1.5)
    np.testing.assert_allclose(op.steps["step_norm"], dense.norms[:, 0], rtol=1e-8)


def test_sqrt2_floor_flags_and_parameter_block():
    """A flat objective (H = 0): z = [v; 0; 0] -> [v; v; 0], so every product has norm exactly sqrt(2)
    at weight decay 0 while the parameter block has norm 1; with weight decay the curves decay."""
    flat = QuadraticOracle(np.zeros((4, 4)), np.ones(4))
    sys = OptimizationSystem(flat, lr=0.1)
    sys.run(np.zeros(4), 30)
    res = sequential_stability(sys)
    np.testing.assert_allclose(res.decay, np.sqrt(2), rtol=1e-12)
    assert res.floor == pytest.approx(np.sqrt(2)) and res.at_floor and res.decay_class == "flat"
    assert res.gamma_from_horizon and res.gamma == pytest.approx(1 / 31)
    np.testing.assert_allclose(res.block.decay, 1.0, rtol=1e-12)
    text = res.summary()
    assert "sqrt(2)" in text and "set by the horizon" in text and "parameters x_t" in text
    sys = OptimizationSystem(flat, lr=0.1, weight_decay=0.1)
    sys.run(np.zeros(4), 30)
    res = sequential_stability(sys)
    assert res.floor is None and res.decay_class == "decaying" and res.decay_rate == pytest.approx(0.9, rel=1e-3)
    np.testing.assert_allclose(res.block.decay, 0.9 ** res.lengths, rtol=1e-12)
    assert not res.block.gamma_from_horizon and res.block.gamma == pytest.approx(0.1, rel=1e-9)


def test_kappa_gamma_curve():
    sys = _logistic_system(0.0, T=8)
    res = sequential_stability(sys, method="operator", rtol=1e-2)
    curve = res.kappa_gamma()
    g, lo, hi = curve["gamma"], curve["kappa_lower"], curve["kappa_upper"]
    assert g[0] == 0.0 and np.all(np.diff(lo) >= -1e-12) and np.all(lo <= hi * (1 + 1e-12))
    assert np.all(hi <= lo * np.sqrt(1 + 1e-2) * (1 + 1e-12))            # converged to the gap
    at = res.kappa_gamma([res.gamma])
    assert at["kappa_lower"][0] == pytest.approx(res.kappa, rel=1e-12)
    assert at["kappa_upper"][0] == pytest.approx(res.kappa_upper, rel=1e-12)
    assert res.holds(res.kappa_upper, res.gamma)


def test_two_thousand_parameter_model_matches_dense_reference():
    """~2,000 parameters (a CNN on digits): the interval norms of the HVP operator == an independent
    dense reference (dense mean-value Hessians from torch.func.hessian, ARPACK's svds) to 1e-6."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from scipy.sparse.linalg import LinearOperator, svds

    from olc.oracles import TorchOracle, digits_cnn, load_digits_dataset

    data = load_digits_dataset(seed=0)
    oracle = TorchOracle(digits_cnn((8, 16), seed=0), torch.nn.CrossEntropyLoss(), data.X_train[:16],
                         data.y_train[:16])
    n = oracle.dim
    assert 1800 <= n <= 2100
    sys = OptimizationSystem(oracle, lr=0.5, weight_decay=0.01, hessian_nodes=1)
    sys.run(oracle.x0(), 2)
    res = sequential_stability(sys, rtol=1e-8, block=None, diagnostics=False)
    assert res.method == "operator"
    Hs = [sys.H(t) for t in range(2)]                            # dense n x n (eq. (1), with the secant term)
    eta, dec = sys.lr, sys.weight_decay

    def A(t, z):
        a, b = z[:n], z[n:2 * n]
        h = Hs[t] @ (a - b)
        return np.concatenate([(1 - dec) * a - eta * h, a, h])

    def AT(t, z):
        p, q, r = z[:n], z[n:2 * n], z[2 * n:]
        m = Hs[t].T @ (r - eta * p)
        return np.concatenate([(1 - dec) * p + q + m, -m, np.zeros(n)])

    for r, s in [(0, 0), (1, 1), (0, 1)]:
        ts = list(range(r, s + 1))
        P = LinearOperator((3 * n, 3 * n), matvec=lambda z: functools.reduce(lambda v, t: A(t, v), ts, z),
                           rmatvec=lambda z: functools.reduce(lambda v, t: AT(t, v), ts[::-1], z), dtype=float)
        ref = svds(P, k=1, tol=1e-12, return_singular_vectors=False, random_state=0)[0]
        assert np.exp(res.log_norms[r, s - r]) == pytest.approx(ref, rel=1e-6)
        assert np.exp(res.log_upper[r, s - r]) == pytest.approx(ref, rel=1e-6)


def test_bad_input_and_cost_control(monkeypatch):
    sys = _logistic_system(0.0, T=3)
    empty = OptimizationSystem(sys.oracle, lr=0.1)
    with pytest.raises(InvalidArgumentError, match="empty"):
        sequential_stability(empty)
    bad = FunctionLTV(lambda t, v: v[:-1], lambda t, v: v, dim=4, T=3)
    with pytest.raises(ShapeError, match="matvec"):
        sequential_stability(bad)
    with pytest.raises(InvalidArgumentError, match="norm"):
        sequential_stability(sys, method="operator", norm="fro")
    with pytest.raises(InvalidArgumentError, match="block"):
        sequential_stability(sys, block=slice(5, 5))
    with pytest.raises(InvalidArgumentError, match="rtol"):
        sequential_stability(sys, method="operator", rtol=0.0)
    with pytest.raises(InvalidArgumentError, match="method"):
        sequential_stability(sys, method="krylov")
    with pytest.raises(InvalidArgumentError, match="time_limit"):
        sequential_stability(sys, time_limit=-1)
    # a dense request beyond the memory limit fails fast, naming the estimate and the operator path
    monkeypatch.setenv("OLC_MEMORY_LIMIT", "20000")
    with pytest.raises(ResourceError, match=r"needs about .* operator"):
        sequential_stability(sys, method="dense")
    res = sequential_stability(sys, method="operator")            # O(T n) memory: fine
    assert np.isfinite(res.kappa_upper)
    monkeypatch.delenv("OLC_MEMORY_LIMIT")
    # a run estimated above the time limit is refused before it starts, with the estimate
    As = np.random.default_rng(0).standard_normal((300, 12, 12)) / 4
    with pytest.raises(ResourceError, match=r"estimated at .*time_limit=None"):
        sequential_stability(As, time_limit=1e-4)
    with pytest.raises(ResourceError, match=r"estimated at .*time_limit=None"):
        sequential_stability(sys, method="operator", time_limit=1e-6)
    with pytest.raises(ResourceError, match="estimated at"):
        interval_norms(As, time_limit=1e-4)


def test_progress_bar_factory_and_off(capsys):
    calls = []

    class Bar:
        total = 0

        def __init__(self, total, desc):
            calls.append(desc)

        def update(self, n):
            calls.append(n)

        def refresh(self):
            pass

        def close(self):
            calls.append("closed")

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.close()

    As = np.stack([0.9 * np.eye(3)] * 6)
    sequential_stability(As, method="operator", progress=Bar)
    assert calls[0].startswith("interval norms") and sum(c for c in calls if isinstance(c, int)) == 21
    assert calls[-1] == "closed"
    calls.clear()
    sequential_stability(As, progress=Bar)                          # the dense path uses it too
    assert sum(c for c in calls if isinstance(c, int)) == 21
    sequential_stability(As, method="operator", progress=False)
    assert capsys.readouterr().err == ""
