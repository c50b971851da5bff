"""Quantiles of solver laws (freeprob.quantile): against an independent root of the closed-form cdf
at 30 digits, the defining property min{x : F(x) >= q} at atoms and in gaps, scale invariance, and
the total-mass guard that refuses quantiles of a law that lost mass."""

import mpmath as mp
import numpy as np
import pytest

import freeprob as fp
from freeprob.law import fast_ppf
from freeprob.quantile import MASS_TOLERANCE, MassCheckError, mass_defect

Q = np.array([1e-10, 1e-4, 0.01, 0.2, 0.5, 0.77, 0.99, 1 - 1e-6])


def _semicircle_quantile(q, var):
    # F(x) = 1/2 + x sqrt(4v - x^2)/(4 pi v) + asin(x / (2 sqrt v))/pi, solved at 30 digits
    mp.mp.dps = 30
    v = mp.mpf(var)
    r = 2 * mp.sqrt(v)

    def F(x):
        return mp.mpf(1) / 2 + x * mp.sqrt(4 * v - x * x) / (4 * mp.pi * v) + mp.asin(x / r) / mp.pi

    # in the angle x = r sin(t) the cdf is monotone on [-pi/2, pi/2]: bisection to 2^-110
    lo, hi = -mp.pi / 2, mp.pi / 2
    for _ in range(110):
        t = (lo + hi) / 2
        if F(r * mp.sin(t)) < q:
            lo = t
        else:
            hi = t
    return float(r * mp.sin(t))


def test_ppf_of_semicircle_sum_against_the_closed_form():
    law = fp.boxplus(fp.semicircle(), fp.semicircle())         # = semicircle of variance 2
    assert isinstance(law, fp.SolvedLaw)
    x = law.ppf(Q)
    ref = np.array([_semicircle_quantile(q, 2.0) for q in Q])
    # the quantile is as accurate as the cdf it inverts: the contour cdf is good to ~1e-13 (measured
    # 2e-14..7e-14 here against the closed form), so dx <= 1e-13 / f(x)
    dens = fp.semicircle(var=2.0).pdf(ref)
    np.testing.assert_array_less(np.abs(x - ref), 1e-13 / dens + 1e-15)


@pytest.mark.parametrize("build", [
    lambda: fp.boxplus(fp.semicircle(), fp.marchenko_pastur(0.5)),
    lambda: fp.boxtimes(fp.bernoulli(0.5), fp.marchenko_pastur(1.0)),      # atom 1/2 at 0
    lambda: fp.free_power(fp.bernoulli(0.3), 2.5),                        # atoms and a gap
    lambda: fp.boxplus(fp.semicircle(var=0.01), fp.bernoulli(0.5)),       # two intervals, a gap
], ids=["sc+mp", "bern*mp", "bern^2.5", "gap"])
def test_ppf_is_the_smallest_x_with_cdf_at_least_q(build):
    law = build()
    x = law.ppf(Q)
    s = law.frame[1]
    F = law.cdf(x)
    assert np.all(F >= Q - 1e-14)
    # one step to the left of the quantile the cdf is below q (to the cdf's own accuracy)
    left = law.cdf(x - 1e-9 * s)
    assert np.all(left < Q + 1e-14)
    pts, w = law.atoms
    for p, m in zip(pts, w):
        # every q inside the jump of an atom lands on the atom exactly
        below = float(law.cdf(p)) - m
        inside = below + m * np.array([1e-9, 0.5, 1 - 1e-9])
        assert np.all(law.ppf(inside) == p)
    # monotone in q
    qq = np.linspace(0.001, 0.999, 57)
    assert np.all(np.diff(law.ppf(qq)) >= 0)


@pytest.mark.parametrize("a", [1e-300, 1e-8, 1.0, 1e8, 1e300])
def test_ppf_scale_invariant(a):
    base = fp.boxplus(fp.semicircle(), fp.marchenko_pastur(0.5))
    law = fp.boxplus(fp.semicircle().scale(a), fp.marchenko_pastur(0.5).scale(a))
    q = np.array([1e-6, 0.3, 0.9])
    np.testing.assert_allclose(law.ppf(q) / a, base.ppf(q), rtol=1e-10)


def test_ppf_of_an_unbounded_law_is_symmetric():
    # semicircle ⊞ normal is symmetric about 0 with unbounded support: ppf(1 - q) = -ppf(q), and the
    # cdf at the quantile returns q
    law = fp.boxplus(fp.semicircle(), fp.normal())
    q = np.array([1e-3, 0.1, 0.4])
    lo, hi = law.ppf(q), law.ppf(1 - q)
    np.testing.assert_allclose(hi, -lo, rtol=1e-10)
    np.testing.assert_allclose(law.cdf(lo), q, rtol=1e-10)


def test_a_law_that_lost_mass_refuses_quantiles():
    law = fp.boxplus(fp.semicircle(), fp.marchenko_pastur(0.5))
    assert abs(mass_defect(law)) <= MASS_TOLERANCE
    assert np.isfinite(law.ppf(0.5))
    # the same law with a spurious atom of mass 0.1 (what a wrong atom rule would report): the
    # atoms plus the density add up to 1.1
    broken = fp.boxplus(fp.semicircle(), fp.marchenko_pastur(0.5))
    broken.__dict__["atoms"] = (np.array([5.0]), np.array([0.1]))
    with pytest.raises(MassCheckError, match=r"1 \+ 0\.1") as err:
        broken.ppf(0.5)
    assert err.value.residual == pytest.approx(0.1, abs=1e-10)
    with pytest.raises(MassCheckError):
        fast_ppf(broken, [0.25, 0.5])
