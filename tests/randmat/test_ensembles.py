"""Classical ensembles and quantile matrices against their definitions and limit laws.

Limit-law tolerances: the KS distance of one N×N spectrum is O(log N / N) (eigenvalue rigidity);
we assert KS < (1 + ln N)/N, i.e. 0.031 at N = 200 and 0.0096 at N = 800 (observed over 6 seeds:
at most 0.015 and 0.0051), so the tolerance shrinks like N^{-1} up to the log.
"""
import numpy as np
import pytest
from scipy import optimize

import freeprob as fp
import randmat as rm


def _tol(n):
    return (1 + np.log(n)) / n


@pytest.mark.parametrize("n", [200, 800])
def test_goe_to_semicircle(n):
    for var in (1.0, 2.5):
        assert rm.ks_distance(rm.goe(n, rng=n, var=var), fp.semicircle(var=var)) < _tol(n)


def test_goe_detects_wrong_variance():
    # the tolerance has power: 5% off in variance fails at N = 1000
    assert rm.ks_distance(rm.goe(1000, rng=1), fp.semicircle(var=1.05)) > _tol(1000)


@pytest.mark.parametrize("n", [200, 600])
def test_gue_to_semicircle(n):
    h = rm.gue(n, rng=n, var=0.5)
    assert np.array_equal(h, h.conj().T)
    assert rm.ks_distance(h, fp.semicircle(var=0.5)) < _tol(n)


def test_goe_entry_variances():
    # off-diagonal var/n, diagonal 2 var/n; z-scores over 400 matrices of size 8
    n, var, rng = 8, 1.7, np.random.default_rng(0)
    hs = np.array([rm.goe(n, rng, var=var) for _ in range(4000)])
    off, dia = hs[:, 0, 1], hs[:, 2, 2]
    for x, v in ((off, var / n), (dia, 2 * var / n)):
        se = (x ** 2).std(ddof=1) / np.sqrt(x.size)
        assert abs((x ** 2).mean() - v) < 4 * se


def test_gue_entry_variances():
    n, var, rng = 6, 2.0, np.random.default_rng(1)
    hs = np.array([rm.gue(n, rng, var=var) for _ in range(4000)])
    for x in (hs[:, 0, 3], hs[:, 1, 1]):
        a = np.abs(x) ** 2
        assert abs(a.mean() - var / n) < 4 * a.std(ddof=1) / np.sqrt(a.size)
    assert np.all(hs[:, 1, 1].imag == 0)


@pytest.mark.parametrize("n,ratio", [(200, 0.5), (800, 0.5), (400, 0.25)])
def test_wishart_to_marchenko_pastur(n, ratio):
    m = int(round(n / ratio))
    w = rm.wishart(n, m, rng=n, var=1.5)
    assert np.array_equal(w, w.T)
    assert rm.ks_distance(w, fp.marchenko_pastur(ratio=ratio, var=1.5)) < _tol(n)


def test_wishart_with_atom_at_zero():
    # n > m: rank m, an atom of mass 1 - m/n at 0 that the KS distance must see as an atom
    n, m = 600, 300
    w = rm.wishart(n, m, rng=2)
    law = fp.marchenko_pastur(ratio=n / m)
    assert rm.ks_distance(w, law) < _tol(n)
    # ignoring the atom tolerance the zero eigenvalues (±1e-15) would look like a KS of ~ 1/4
    assert rm.ks_distance(w, law, atom_tol=0.0) > 0.2


def test_ginibre_shapes_and_scaling():
    g = rm.ginibre(300, 500, rng=0, var=2.0)
    assert g.shape == (300, 500)
    # sum of squares / (n m) ≈ var/m, relative SE sqrt(2/(n m))
    assert abs((g ** 2).mean() / (2.0 / 500) - 1) < 4 * np.sqrt(2 / g.size)
    gc = rm.ginibre(200, rng=1, complex=True)
    assert gc.shape == (200, 200) and gc.dtype == np.complex128
    assert abs((np.abs(gc) ** 2).mean() * 200 - 1) < 4 * np.sqrt(1 / gc.size)


def test_product_of_ginibres_fuss_catalan_moments():
    # squared singular values of G1 G2 → Fuss–Catalan(2): moments binom(3k, k)/(2k+1) = 1, 3, 12
    n, rng = 400, np.random.default_rng(4)
    ms = []
    for _ in range(3):
        p = rm.ginibre(n, rng=rng) @ rm.ginibre(n, rng=rng)
        ms.append(rm.moments(p @ p.T, 3))
    ms = np.mean(ms, axis=0)
    # finite-N relative bias is O(1/N); the k-th moment has O(k^2/N) relative error
    assert np.allclose(ms, [1, 3, 12], rtol=0.05)


def _semicircle_ppf_independent(q, var=1.0):
    # invert F(x) = 1/2 + (t sqrt(1 - t²) + arcsin t)/π, t = x/(2σ), by brentq on the formula
    def f(t, qq):
        return 0.5 + (t * np.sqrt(1 - t * t) + np.arcsin(t)) / np.pi - qq
    return np.array([2 * np.sqrt(var) * optimize.brentq(f, -1, 1, args=(qq,), xtol=1e-15) for qq in q])


def test_from_law_quantiles_semicircle():
    n = 50
    d = rm.from_law(fp.semicircle(var=2.0), n)
    assert np.count_nonzero(d - np.diag(np.diagonal(d))) == 0
    expect = _semicircle_ppf_independent((np.arange(n) + 0.5) / n, var=2.0)
    assert np.abs(np.diagonal(d) - expect).max() < 1e-9


@pytest.mark.parametrize("n", [10, 101, 1000])
def test_from_law_ks_is_half_over_n(n):
    # midpoint quantiles of a continuous law: sup |F_n - F| = 1/(2n) exactly
    ks = rm.ks_distance(np.diagonal(rm.from_law(fp.arcsine(-1, 3), n)), fp.arcsine(-1, 3))
    assert abs(ks - 0.5 / n) < 1e-9


def test_from_law_atoms_exact():
    d = np.diagonal(rm.from_law(fp.atoms([-1.0, 0.5, 2.0], [0.2, 0.5, 0.3]), 20))
    assert d.tolist() == [-1.0] * 4 + [0.5] * 10 + [2.0] * 6


def test_from_law_mixed_atom_and_density():
    # MP with ratio 2: half the quantiles are exactly 0 (no bisection round-off), the rest
    # are the continuous part's quantiles
    n = 400
    law = fp.marchenko_pastur(ratio=2.0)
    d = rm.law_quantiles(law, n)
    assert np.sum(d == 0.0) == n // 2 and np.all(d[n // 2:] > 0)
    # F at the continuous-part quantiles is the quantile level (checked with freeprob's quad cdf)
    q = (np.arange(n // 2, n, 37) + 0.5) / n
    assert np.abs(law.cdf(d[n // 2::37]) - q).max() < 2e-5


@pytest.mark.parametrize("call,match", [
    (lambda: rm.goe(0), "n must be an integer >= 1"),
    (lambda: rm.gue(-1), "n must be an integer >= 1"),
    (lambda: rm.goe(3, var=0), r"var must lie in \(0, inf\)"),
    (lambda: rm.goe(3, var=float("nan")), r"var must lie in \(0, inf\)"),
    (lambda: rm.wishart(3, 0), "m must be an integer >= 1"),
    (lambda: rm.ginibre(3, 2.5), "m must be an integer >= 1"),
    (lambda: rm.from_law(fp.semicircle(), 0), "n must be an integer >= 1"),
    (lambda: rm.from_law("semicircle", 5), "law must be a freeprob Law"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_from_law_without_cdf():
    class NoCdf(fp.Law):
        support = (0.0, 1.0)

        def _cdf(self, x):
            raise NotImplementedError

        def _ppf(self, q):
            raise NotImplementedError

    with pytest.raises(ValueError, match="no distribution function"):
        rm.from_law(NoCdf(), 4)


@pytest.mark.slow
@pytest.mark.parametrize("n", [2000, 4000])
def test_goe_and_wishart_large(n):
    assert rm.ks_distance(rm.goe(n, rng=n), fp.semicircle()) < _tol(n)
    assert rm.ks_distance(rm.wishart(n, 2 * n, rng=n), fp.marchenko_pastur(ratio=0.5)) < _tol(n)
