"""free_sum / free_product against the free convolutions and exact free-cumulant arithmetic.

Tolerances: KS < 1.5 (1 + ln N)/N (0.047 at N = 200, 0.0144 at N = 800; observed at most 0.016
and 0.0051 over 6 seeds). Moment checks use exact rationals: free cumulants add under ⊞.
"""
from fractions import Fraction

import numpy as np
import pytest

import freeprob as fp
import randmat as rm
from freeprob.combinatorics import free_cumulants_to_moments


def _tol(n):
    return 1.5 * (1 + np.log(n)) / n


@pytest.mark.parametrize("n", [200, 800])
def test_free_sum_semicircle_plus_mp(n):
    mp = fp.marchenko_pastur(ratio=0.5)
    s = rm.free_sum(rm.goe(n, rng=n), rm.law_quantiles(mp, n), rng=n + 1)
    assert rm.ks_distance(s, fp.boxplus(fp.semicircle(), mp)) < _tol(n)


@pytest.mark.parametrize("n", [200, 800])
def test_free_sum_of_symmetric_bernoullis_is_arcsine(n):
    # closed form (±1) ⊞ (±1) = arcsine(-2, 2): independent of the subordination solver
    d = rm.law_quantiles(fp.atoms([-1.0, 1.0], [0.5, 0.5]), n)
    assert rm.ks_distance(rm.free_sum(d, d, rng=n), fp.arcsine(-2, 2)) < _tol(n)


def test_free_sum_moments_exact():
    # SC(1) ⊞ MP(rate 1, jump 1): free cumulants (1, 2, 1, 1, 1) -> moments 1, 3, 8, 26 (REFERENCES)
    kappa = [Fraction(1), Fraction(2), Fraction(1), Fraction(1)]
    exact = [float(m) for m in free_cumulants_to_moments(kappa)]
    assert exact == [1.0, 3.0, 8.0, 26.0]
    n = 400
    ms = rm.moments(rm.free_sum(rm.goe(n, rng=0), rm.law_quantiles(fp.free_poisson(1.0, 1.0), n), rng=1), 4)
    # finite-N bias and fluctuation are O(1/N): 5% stated at N = 400 (seen: at most 1.8% over 4 seeds)
    assert np.allclose(ms, exact, rtol=0.05)


@pytest.mark.parametrize("n", [200, 800])
def test_free_product_mp_mp(n):
    mp = fp.marchenko_pastur(ratio=0.5)
    p = rm.free_product(rm.wishart(n, 2 * n, rng=n), rm.law_quantiles(mp, n), rng=n + 1)
    assert rm.ks_distance(p, fp.boxtimes(mp, mp)) < _tol(n)


def test_free_product_projections_closed_form():
    # P Q P for free projections of trace 1/2: atom 1/2 at 0, arcsine on [0, 1] with mass 1/2
    # (principal angles uniform); checked against this closed form, not against boxtimes
    n = 800
    d = rm.law_quantiles(fp.bernoulli(0.5), n)
    e = rm.eigenvalues(rm.free_product(d, d, rng=3))
    zero = np.abs(e) < 1e-9
    assert zero.sum() == n // 2
    nz = np.sort(e[~zero])
    f = 2 / np.pi * np.arcsin(np.sqrt(np.clip(nz, 0, 1)))
    i = np.arange(1, nz.size + 1)
    ks = max(np.max(i / nz.size - f), np.max(f - (i - 1) / nz.size))
    assert ks < _tol(nz.size)


def test_free_product_moments_exact():
    # MP(1) ⊠ MP(1) = Fuss–Catalan(2): moments 1, 3, 12
    n = 400
    ms = rm.moments(rm.free_product(rm.wishart(n, n, rng=0), rm.wishart(n, n, rng=1), rng=2), 3)
    # 5% stated at N = 400 (seen: at most 2.4% over 4 seeds)
    assert np.allclose(ms, [1, 3, 12], rtol=0.05)


def test_spectra_preserved_and_hermitian():
    a, b = np.array([0.0, 1.0, 5.0]), np.diag([2.0, 2.0, 7.0])
    s = rm.free_sum(a, b, rng=0)
    assert np.array_equal(s, s.T)
    assert np.isclose(np.trace(s), 0 + 1 + 5 + 2 + 2 + 7)
    c = rm.haar_rotate(b, rng=1)
    assert np.allclose(np.linalg.eigvalsh(c), [2, 2, 7])
    p = rm.free_product(np.diag([1.0, 4.0, 9.0]), np.ones(3), rng=2)
    assert np.allclose(np.linalg.eigvalsh(p), [1, 4, 9])


def test_complex_inputs_use_unitary_rotation():
    h = rm.gue(50, rng=0)
    s = rm.free_sum(h, np.arange(50.0), rng=1)
    assert s.dtype == np.complex128 and np.array_equal(s, s.conj().T)
    assert np.isclose(np.trace(s).real, np.trace(h).real + np.arange(50.0).sum())


def test_free_sum_fresh_rotation_each_call():
    d = np.arange(5.0)
    assert not np.allclose(rm.free_sum(d, d, rng=0), rm.free_sum(d, d, rng=1))
    assert np.array_equal(rm.free_sum(d, d, rng=3), rm.free_sum(d, d, rng=3))


@pytest.mark.parametrize("call,match", [
    (lambda: rm.free_sum(np.eye(3), np.eye(4)), "same dimension"),
    (lambda: rm.free_sum(np.array([[0.0, 1.0], [2.0, 0.0]]), np.eye(2)), "a must be symmetric"),
    (lambda: rm.free_sum(np.eye(2), np.ones((2, 3))), "b must be a non-empty square matrix"),
    (lambda: rm.free_sum(np.eye(2), np.array([1.0, np.nan])), "finite"),
    (lambda: rm.free_product(np.array([1.0, -1.0]), np.ones(2)), "a must be positive semi-definite"),
    (lambda: rm.free_product(np.ones(2), np.diag([1.0, -0.5])), "b must be positive semi-definite"),
    (lambda: rm.haar_rotate(np.ones((2, 2, 2))), "square matrix"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.slow
@pytest.mark.parametrize("n", [2000])
def test_free_sum_and_product_large(n):
    mp = fp.marchenko_pastur(ratio=0.5)
    s = rm.free_sum(rm.goe(n, rng=1), rm.law_quantiles(mp, n), rng=2)
    assert rm.ks_distance(s, fp.boxplus(fp.semicircle(), mp)) < _tol(n)
    p = rm.free_product(rm.wishart(n, 2 * n, rng=3), rm.law_quantiles(mp, n), rng=4)
    assert rm.ks_distance(p, fp.boxtimes(mp, mp)) < _tol(n)


@pytest.mark.parametrize("n", [200, 800])
def test_free_product_of_projections_with_atoms(n):
    # Bern(0.6) ⊠ Bern(0.7): atoms 0.4 at 0 and 0.3 at 1 (Bercovici–Voiculescu) plus a density; the
    # finite-N eigenvalues at the atoms are 0 and 1 only up to round-off, which ks_distance snaps
    p, q = 0.6, 0.7
    law = fp.boxtimes(fp.bernoulli(p), fp.bernoulli(q))
    m = rm.free_product(rm.law_quantiles(fp.bernoulli(p), n), rm.law_quantiles(fp.bernoulli(q), n), rng=n)
    e = rm.eigenvalues(m)
    assert np.sum(np.abs(e - 1) < 1e-9) == round(0.3 * n)
    assert rm.ks_distance(e, law) < _tol(n)
