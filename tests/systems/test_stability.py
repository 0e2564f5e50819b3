"""Sequential stability (nonconvex-meta-optimization, Definition 3): brute force and closed forms."""

import contextlib
import dataclasses
import functools
import itertools
import warnings

import numpy as np
import pytest

import olc
from olc.errors import InvalidArgumentError, ShapeError
from olc.systems import interval_norms, random_stable, sequential_stability, switching_system


def _orthogonal(d, rng):
    return np.linalg.qr(rng.standard_normal((d, d)))[0]


def _brute_norms(As, norm=lambda P: np.linalg.norm(P, 2)):
    """{(r, s): ||A_s ... A_r||} by explicit products over all intervals (0-based, inclusive)."""
    T = len(As)
    return {(r, s): norm(functools.reduce(lambda P, A: A @ P, As[r:s + 1], np.eye(As.shape[1])))
            for r, s in itertools.combinations_with_replacement(range(T), 2)}


def test_contract_scaled_identity():
    res = olc.systems.sequential_stability(np.stack([0.9 * np.eye(3)] * 50))
    print(res.kappa, res.gamma, res.holds(res.kappa, res.gamma))
    assert abs(res.gamma - 0.1) < 1e-12 and abs(res.kappa - 1.0) < 1e-12
    assert res.holds(res.kappa, res.gamma) and res.complete
    assert not res.holds(1.0, 0.1 + 1e-6)      # a faster rate is violated by the longest interval
    assert not res.holds(0.99, 0.1)
    np.testing.assert_allclose(res.decay, 0.9 ** np.arange(1, 51), rtol=1e-12)
    fit = sequential_stability(np.stack([0.9 * np.eye(3)] * 50), rule="fit")
    assert abs(fit.gamma - 0.1) < 1e-12 and abs(fit.kappa - 1.0) < 1e-10


@pytest.mark.parametrize("norm, tol", [("spectral", 1e-10), ("power", 1e-6), ("fro", None)])
def test_interval_norms_match_brute_force(norm, tol):
    rng = np.random.default_rng(0)
    T, d = 7, 4
    As = 0.6 * rng.standard_normal((T, d, d))
    N = interval_norms(As, norm=norm, power_iters=200)
    assert N.shape == (T, T)
    ref = _brute_norms(As)
    for (r, s), v in ref.items():
        got = N[r, s - r]
        if tol is None:                                        # Frobenius: an upper bound, and exact as fro
            fro = _brute_norms(As[r:s + 1], np.linalg.norm)[(0, s - r)]
            assert got >= v * (1 - 1e-12) and abs(got - fro) <= 1e-10 * fro
        else:
            assert abs(got - v) <= tol * v
    assert np.all(np.isnan(N[np.add.outer(np.arange(T), np.arange(T)) >= T]))
    # max_length truncates the columns; log output is the log
    kw = dict(norm=norm, power_iters=200)
    np.testing.assert_allclose(interval_norms(As, 3, **kw), N[:, :3], rtol=1e-12)
    np.testing.assert_allclose(interval_norms(As, 3, log=True, **kw), np.log(N[:, :3]),
                               rtol=1e-12, atol=1e-12)


def test_result_matches_brute_force_definition():
    """kappa for a given gamma, decay, mean and worst interval from explicit products (tiny T)."""
    lti = random_stable(3, 1, spectral_radius=0.8, seed=1)
    other = random_stable(3, 1, spectral_radius=0.8, seed=2)
    sys = switching_system([lti, other], T=8, switch_prob=0.5, seed=0)
    As = sys.matrices(8)[0]
    ref = _brute_norms(As)
    gamma = 0.15
    res = sequential_stability(sys, gamma=gamma)               # a system is accepted too
    ratios = {k: v / (1 - gamma) ** (k[1] - k[0] + 1) for k, v in ref.items()}
    worst = max(ratios, key=ratios.get)
    assert abs(res.kappa - np.sqrt(ratios[worst])) < 1e-10 * res.kappa
    assert res.worst_interval == worst
    for ell in range(1, 9):
        vals = [v for (r, s), v in ref.items() if s - r + 1 == ell]
        assert abs(res.decay[ell - 1] - max(vals)) < 1e-10 * max(vals)
        assert abs(res.mean_decay[ell - 1] - np.mean(vals)) < 1e-10 * np.mean(vals)
    assert res.holds(res.kappa, gamma) and not res.holds(res.kappa * (1 - 1e-6), gamma)
    assert abs(res.kappa_for(gamma) - res.kappa) < 1e-12 * res.kappa


def test_scaled_orthogonal_products_match_analytic_kappa():
    """A_t = c_t Q_t: ||A_s..A_r|| = prod c_t, so kappa(gamma)^2 = max_I prod_{t in I} c_t / (1-gamma)^|I|."""
    rng = np.random.default_rng(3)
    T = 40
    c = rng.uniform(0.6, 1.1, size=T)
    As = np.stack([ct * _orthogonal(4, rng) for ct in c])
    logc = np.log(c)
    for gamma in [0.0, 0.1, 0.3]:
        res = sequential_stability(As, gamma=gamma)
        best = max(logc[r:s + 1].sum() - (s - r + 1) * np.log1p(-gamma)
                   for r in range(T) for s in range(r, T))
        assert abs(res.kappa - np.exp(best / 2)) < 1e-10 * res.kappa
    # constant c: the fitted pair is gamma = 1 - c, kappa = 1 under both rules
    for rule in ["bound", "fit"]:
        res = sequential_stability(np.stack([0.7 * _orthogonal(3, rng) for _ in range(30)]), rule=rule)
        assert abs(res.gamma - 0.3) < 1e-10 and abs(res.kappa - 1.0) < 1e-8


def test_bound_rule_minimises_kappa2_over_gamma():
    rng = np.random.default_rng(4)
    As = np.stack([random_stable(4, 1, 0.9, seed=rng).A() for _ in range(60)])
    res = sequential_stability(As)
    grid = np.linspace(1e-3, 0.999, 5000)
    obj = np.maximum(res.kappa_for(grid), 1.0) ** 2 / grid     # the rule keeps kappa >= 1 (Assumption 2)
    assert max(res.kappa, 1.0) ** 2 / res.gamma <= obj.min() * (1 + 1e-9)
    assert res.holds(res.kappa, res.gamma)


def test_long_products_do_not_underflow_and_max_length():
    As = np.stack([0.1 * np.eye(2)] * 400)                     # 0.1^400 underflows float64
    res = sequential_stability(As, max_length=350)
    assert not res.complete and res.log_norms.shape == (400, 350)
    np.testing.assert_allclose(res.log_norms[0], np.arange(1, 351) * np.log(0.1), rtol=1e-12)
    assert abs(res.gamma - 0.9) < 1e-12 and abs(res.kappa - 1) < 1e-9
    zero = sequential_stability(np.zeros((5, 2, 2)))
    assert zero.kappa == 0.0 and zero.holds(0.0, 0.5)


def test_errors():
    with pytest.raises(ShapeError, match="As"):
        sequential_stability(np.ones((5, 2, 3)))
    with pytest.raises(InvalidArgumentError, match="gamma"):
        sequential_stability(np.stack([np.eye(2)] * 3), gamma=1.0)
    with pytest.raises(InvalidArgumentError, match="norm"):
        interval_norms(np.stack([np.eye(2)] * 3), norm="nuclear")
    with pytest.raises(InvalidArgumentError, match="T"):
        sequential_stability(olc.systems.LTISystem(np.eye(2), np.ones((2, 1))))


def test_plot_decay(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from olc.systems import plot_decay

    res = sequential_stability(np.stack([random_stable(3, 1, 0.9, seed=s).A() for s in range(20)]))
    ax = plot_decay(res, label="random")
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 3
    ax.figure.savefig(tmp_path / "decay.png")
    matplotlib.pyplot.close(ax.figure)


def test_kernel_backend_agrees_with_numpy():
    """The numba interval-norm kernel and the numpy code give the same κ, γ and decay."""
    rng = np.random.default_rng(11)
    As = 0.8 * rng.normal(size=(30, 4, 4)) / 2.0
    ref = sequential_stability(As, max_length=12)
    fast = sequential_stability(As, max_length=12, backend="numba")
    np.testing.assert_allclose(fast.decay, ref.decay, rtol=1e-9)
    assert fast.kappa == pytest.approx(ref.kappa, rel=1e-9) and fast.gamma == pytest.approx(ref.gamma, rel=1e-9)
    with pytest.raises(olc.InvalidArgumentError, match="backend"):
        sequential_stability(As, norm="fro", backend="numba")


# ------------------------------------------------------------------ overflow (audit: 1e200 read as "stable")

def test_huge_entries_are_measured_exactly_in_log_form():
    """Entries whose squares overflow (1e200) or underflow (1e-200) float64: the norms are still exact
    (the products are rescaled by max|P| before the Frobenius norm, as the kernels do)."""
    for c in (1e200, 1e-200):
        As = np.stack([c * np.eye(3)] * 3)
        logN = interval_norms(As, log=True)
        np.testing.assert_allclose(logN[0], np.arange(1, 4) * np.log(c), rtol=1e-12)
        assert np.all(np.isfinite(logN[np.add.outer(np.arange(3), np.arange(3)) < 3]))
    N = interval_norms(np.stack([1e200 * np.eye(3)] * 3))       # plain norms: overflow reads inf (kernel marker)
    assert N[0, 0] == pytest.approx(1e200, rel=1e-12) and np.isinf(N[0, 1]) and np.isinf(N[0, 2])


@pytest.mark.parametrize("scale, T, first", [(1e200, 10, 2), (1e5, 100, 62)])
def test_overflowing_products_raise_divergence(scale, T, first):
    """Def. 3 needs ||A_s..A_r|| <= kappa^2 (1-gamma)^|I|: a product norm beyond float64 means no kappa
    with kappa^2 representable works — a DivergenceError, never a "stable" result (was kappa=0, holds True)."""
    As = np.stack([scale * np.eye(3)] * T)
    with _no_warnings(), pytest.raises(olc.DivergenceError, match=rf"length {first}\b") as err:
        sequential_stability(As)
    logN = err.value.partial                                   # the exact log norms (T, T), NaN past the end
    assert logN.shape == (T, T)
    np.testing.assert_allclose(logN[0], np.arange(1, T + 1) * np.log(scale), rtol=1e-12)
    assert "max_length" in str(err.value)
    ok = sequential_stability(As, max_length=first - 1)       # the advertised way out: shorter intervals
    assert np.all(np.isfinite(ok.decay)) and np.all(np.isfinite(ok.mean_decay)) and np.isfinite(ok.kappa)
    assert ok.holds(ok.kappa, ok.gamma)


def test_overflow_with_kernel_backend_raises_too():
    """The numba kernel marks overflowing products with inf: same DivergenceError as the numpy path."""
    pytest.importorskip("numba")
    with pytest.raises(olc.DivergenceError, match=r"length 2\b"):
        sequential_stability(np.stack([1e200 * np.eye(3)] * 10), backend="numba")


def test_numpy_interval_norms_agree_with_kernels_on_moderate_case():
    """Large but representable norms (up to ~1e43): numpy log-form norms == kernels' plain products."""
    pytest.importorskip("numba")
    from olc import kernels

    rng = np.random.default_rng(5)
    As = 30.0 * rng.standard_normal((25, 4, 4))
    ref = interval_norms(As)
    fast = kernels.interval_norms(As, backend="numba")
    assert np.nanmax(ref) > 1e40 and np.all(np.isfinite(ref[~np.isnan(ref)]))
    np.testing.assert_allclose(fast, ref, rtol=1e-9)
    res = sequential_stability(As)
    assert np.all(np.isfinite(res.decay)) and np.all(np.isfinite(res.mean_decay))
    assert res.holds(res.kappa, res.gamma) and not res.holds(res.kappa * (1 - 1e-6), res.gamma)


def test_kappa_beyond_float_range_for_given_gamma_is_an_error():
    """A stable sequence with a far too fast requested gamma: kappa would overflow — reported, not inf."""
    As = np.stack([0.5 * np.eye(2)] * 1000)
    with pytest.raises(olc.NonFiniteError, match="gamma"):
        sequential_stability(As, gamma=0.9)
    assert np.isinf(sequential_stability(As, max_length=300).kappa_for(0.9999))   # the curve: inf = none


def test_holds_is_false_on_nan_inside_the_computed_triangle():
    res = sequential_stability(np.stack([0.5 * np.eye(2)] * 4))
    bad = res.log_norms.copy()
    bad[1, 1] = np.nan
    assert not dataclasses.replace(res, log_norms=bad).holds(10.0, 0.1)


@contextlib.contextmanager
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
