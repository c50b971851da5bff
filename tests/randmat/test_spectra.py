"""Empirical spectra: KS and Wasserstein distances against independent computations.

Independent truths: scipy.stats.kstest (continuous laws), a brute-force supremum over a dense grid
with explicit left limits (laws with atoms), scipy.stats.wasserstein_distance between two discrete
measures (exact), and W1 against a closed-form semicircle quantile function.
"""
import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import freeprob as fp
import randmat as rm
from freeprob.law import _has_quadrature_cdf as has_quadrature_cdf, fast_cdf, fast_ppf


def test_ks_matches_scipy_for_continuous_law():
    x = np.random.default_rng(0).standard_normal(300) * 0.8
    law = fp.semicircle(var=1.0)
    assert abs(rm.ks_distance(x, law) - stats.kstest(x, law.cdf).statistic) < 1e-14


def _brute_ks(x, pts, mass, cdf):
    grid = np.unique(np.concatenate([np.linspace(x.min() - 1, x.max() + 1, 20001), x, pts]))
    fn = lambda t: np.searchsorted(np.sort(x), t, side="right") / x.size
    fn_left = lambda t: np.searchsorted(np.sort(x), t, side="left") / x.size
    f_left = cdf(grid) - np.array([mass[pts == g].sum() for g in grid])
    return max(np.abs(fn(grid) - cdf(grid)).max(), np.abs(fn_left(grid) - f_left).max())


@given(st.lists(st.integers(0, 4), min_size=1, max_size=30), st.integers(0, 10**6))
def test_ks_with_atoms_matches_brute_force(idx, seed):
    pts = np.array([-1.0, 0.0, 0.5, 2.0])
    w = np.random.default_rng(seed).dirichlet(np.ones(4))
    law = fp.atoms(pts, w)
    x = np.array([[-1.5, -1.0, 0.0, 0.5, 2.0][i] for i in idx], dtype=float)
    assert abs(rm.ks_distance(x, law) - _brute_ks(x, pts, w, law.cdf)) < 1e-12


def test_ks_exact_values():
    assert rm.ks_distance([0.0, 1.0, 1.0, 1.0], fp.bernoulli(0.75)) == 0.0
    assert abs(rm.ks_distance([1.0, 1.0], fp.bernoulli(0.75)) - 0.25) < 1e-15
    # a single eigenvalue at the semicircle's median: F_n jumps 0 -> 1 where F = 1/2
    assert abs(rm.ks_distance([0.0], fp.semicircle()) - 0.5) < 1e-15


def test_ks_snaps_eigenvalues_onto_atoms():
    law = fp.atoms([0.0, 1.0], [0.5, 0.5])
    x = np.array([-1e-15, 2e-15, 1 - 1e-14, 1 + 3e-15])
    assert rm.ks_distance(x, law) == 0.0
    assert rm.ks_distance(x, law, atom_tol=0.0) >= 0.25
    with pytest.raises(ValueError, match="atom_tol"):
        rm.ks_distance(x, law, atom_tol=-1.0)


@given(st.lists(st.floats(-3, 3), min_size=1, max_size=40), st.integers(0, 10**6))
def test_wasserstein_between_discrete_laws_matches_scipy(x, seed):
    rng = np.random.default_rng(seed)
    pts = np.sort(rng.uniform(-3, 3, 3))
    w = rng.dirichlet(np.ones(3))
    law = fp.atoms(pts, w)
    expect = stats.wasserstein_distance(x, pts, v_weights=w)
    assert abs(rm.wasserstein_distance(x, law, atom_tol=0.0) - expect) < 1e-9 * max(1.0, expect)


def _semicircle_quantiles(q):
    # x = 2 sin φ with F = 1/2 + (φ + sin φ cos φ)/π, increasing in φ: vectorised bisection in φ
    # (independent of freeprob)
    lo, hi = np.full(q.shape, -np.pi / 2), np.full(q.shape, np.pi / 2)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        up = 0.5 + (mid + np.sin(mid) * np.cos(mid)) / np.pi >= q
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    return 2 * np.sin(0.5 * (lo + hi))


def test_wasserstein_continuous_law_against_quantile_formula():
    # W1 = ∫_0^1 |Q_n(u) - Q(u)| du; Q by bisection on the closed-form F at 2e5 midpoints
    # (discretisation error ~ 1e-6)
    x = np.sort(np.random.default_rng(1).uniform(-2.5, 2.5, 50))
    m = 200000
    u = (np.arange(m) + 0.5) / m
    qn = x[np.minimum((u * x.size).astype(int), x.size - 1)]
    expect = np.mean(np.abs(qn - _semicircle_quantiles(u)))
    assert abs(rm.wasserstein_distance(x, fp.semicircle()) - expect) < 2e-5


@pytest.mark.parametrize("n", [200, 800])
def test_wasserstein_of_goe_shrinks(n):
    # W1 of a rigid spectrum is O(1/N) up to logs: stated tolerance 2 (1 + ln N)/N
    assert rm.wasserstein_distance(rm.goe(n, rng=n), fp.semicircle()) < 2 * (1 + np.log(n)) / n


def test_wasserstein_of_exact_quantiles_is_small():
    n = 400
    x = rm.law_quantiles(fp.semicircle(), n)
    # each midpoint quantile is within one quantile spacing of its share of the law: W1 <= max gap / 2
    assert rm.wasserstein_distance(x, fp.semicircle()) < 0.5 * np.diff(x).max()


def test_quadrature_cdf_table_accuracy():
    # MP(ratio=0.5) has no closed-form cdf in freeprob: the tabulated F must match an mpmath
    # integration of the MP density written from its definition
    law = fp.marchenko_pastur(ratio=0.5)
    if not has_quadrature_cdf(law):
        pytest.skip("freeprob now has a closed-form Marchenko–Pastur cdf")
    c = 0.5
    a, b = (1 - np.sqrt(c)) ** 2, (1 + np.sqrt(c)) ** 2
    dens = lambda t: mpmath.sqrt((b - t) * (t - a)) / (2 * mpmath.pi * c * t)
    f = fast_cdf(law)
    for x in (a + 1e-3, 0.3, 0.9, 1.7, b - 1e-3):
        exact = float(mpmath.quad(dens, [a, x]))
        assert abs(f(np.array([x]))[0] - exact) < 1e-6


def test_fast_cdf_of_a_solver_law_against_its_closed_form():
    # a solver law tabulates its exact (contour-integral) cdf: SC(1) ⊞ SC(3) = SC(4)
    law = fp.boxplus(fp.semicircle(1.0), fp.semicircle(3.0))
    x = np.linspace(-4.2, 4.2, 3001)
    assert np.max(np.abs(fast_cdf(law)(x) - fp.semicircle(4.0).cdf(x))) < 1e-5
    q = np.linspace(0.01, 0.99, 99)
    assert np.max(np.abs(fast_ppf(law, q) - fp.semicircle(4.0).ppf(q))) < 1e-4


def test_moments_against_matrix_powers():
    a = rm.goe(50, rng=3)
    expect = [np.trace(np.linalg.matrix_power(a, k)) / 50 for k in range(1, 7)]
    assert np.allclose(rm.moments(a, 6), expect, rtol=1e-10, atol=1e-12)
    assert rm.moments(np.array([2.0, -2.0]), 3).tolist() == [0.0, 4.0, 0.0]


def test_spectrum_returns_empirical_law():
    a = np.diag([1.0, 1.0, 3.0, -2.0])
    mu = rm.spectrum(a)
    pts, w = mu.atoms
    assert pts.tolist() == [-2.0, 1.0, 3.0] and np.allclose(w, [0.25, 0.5, 0.25])
    assert rm.ks_distance(rm.eigenvalues(a), mu) == 0.0


@pytest.mark.parametrize("call,match", [
    (lambda: rm.eigenvalues(np.ones((2, 3))), "square"),
    (lambda: rm.eigenvalues(np.array([[0.0, 1.0], [0.0, 0.0]])), "symmetric"),
    (lambda: rm.eigenvalues(np.array([[0.0, 1j], [1j, 0.0]])), "Hermitian"),
    (lambda: rm.eigenvalues(np.array([[np.nan]])), "finite"),
    (lambda: rm.spectrum(np.array([[1.0, 2.0], [0.0, 1.0]])), "symmetric"),
    (lambda: rm.ks_distance([], fp.semicircle()), "non-empty"),
    (lambda: rm.ks_distance([0.0, np.inf], fp.semicircle()), "finite"),
    (lambda: rm.ks_distance([0.0], "semicircle"), "freeprob Law with a cdf"),
    (lambda: rm.wasserstein_distance([0.0], object()), "freeprob Law with a cdf"),
    (lambda: rm.moments(np.eye(2), 0), "n must be an integer >= 1"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_law_without_cdf():
    class NoCdf(fp.Law):
        support = (0.0, 1.0)

        def _cdf(self, x):
            raise NotImplementedError

    with pytest.raises(ValueError, match="no distribution function"):
        rm.ks_distance([0.5], NoCdf())


def test_unbounded_support_law():
    x = np.random.default_rng(5).standard_normal(400)
    law = fp.normal()
    assert abs(rm.ks_distance(x, law) - stats.kstest(x, "norm").statistic) < 1e-12
    m = 200000
    ref = stats.wasserstein_distance(x, stats.norm.ppf((np.arange(m) + 0.5) / m))
    # the reference's own discretisation error is ~1e-5 (the tails beyond the 1/(2m) quantiles)
    assert abs(rm.wasserstein_distance(x, law) - ref) < 5e-5
