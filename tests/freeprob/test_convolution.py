"""⊞ and ⊠ by subordination against closed forms, cubic roots, mpmath and the exact atom theorem."""
import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import freeprob as fp

SYM_BERN = fp.atoms([-1.0, 1.0], [0.5, 0.5])


def test_semicircles_add_variances():
    rho = fp.boxplus(fp.semicircle(1.0), fp.semicircle(3.0, mean=0.5))
    x = np.linspace(-3.4, 4.4, 41)
    assert np.max(np.abs(rho.pdf(x) - fp.semicircle(4.0, mean=0.5).pdf(x))) < 1e-8


def test_bernoulli_boxplus_bernoulli_is_arcsine():
    rho = fp.boxplus(SYM_BERN, SYM_BERN)
    x = np.linspace(-1.95, 1.95, 40)
    assert np.max(np.abs(rho.pdf(x) - fp.arcsine(-2, 2).pdf(x))) < 1e-8
    assert len(rho.atoms[0]) == 0  # 1/2 + 1/2 is not > 1


@pytest.mark.parametrize("d", [3, 4])
def test_bernoulli_power_is_kesten_mckay(d):
    rho = fp.boxplus(*([SYM_BERN] * d))
    r = 2 * np.sqrt(d - 1)
    x = np.linspace(-0.95 * r, 0.95 * r, 25)
    km = d * np.sqrt(4 * (d - 1) - x**2) / (2 * np.pi * (d**2 - x**2))  # Kesten–McKay density
    assert np.max(np.abs(rho.pdf(x) - km)) < 1e-8


def test_semicircle_plus_free_poisson_cubic_and_moments():
    rho = fp.boxplus(fp.semicircle(1.0), fp.free_poisson(1.0, 1.0))
    assert np.allclose(rho.moments(6), [1, 3, 8, 26, 87, 308], rtol=1e-10)
    z = np.linspace(-1.5, 5.0, 30) + 0.02j
    g = rho.cauchy(z)
    assert np.all(g.imag < 0)
    assert np.max(np.abs(g**3 - (1 + z) * g**2 + z * g - 1)) < 1e-10


def test_mpmath_30_digits():
    """The cubic's roots at 30 digits: the root picked by continuity from z = 10i is the solver's."""
    mp.mp.dps = 30
    rho = fp.boxplus(fp.semicircle(1.0), fp.free_poisson(1.0, 1.0))
    target = mp.mpc("0.7", "0.05")
    # follow the branch G ~ 1/z from far away down to the target along a straight path
    g = 1 / mp.mpc(0, 10)
    for t in np.linspace(0, 1, 400)[1:]:
        z = mp.mpc(0, 10) + (target - mp.mpc(0, 10)) * mp.mpf(t)
        roots = mp.polyroots([1, -(1 + z), z, -1], maxsteps=200, extraprec=60)
        g = min(roots, key=lambda r: abs(r - g))
    got = rho.cauchy(complex(target))
    assert abs(got - complex(g)) < 1e-12


def test_marchenko_pastur_products():
    a, b = fp.free_poisson(1.0, 1.0), fp.free_poisson(1.0, 1.0)
    rho = fp.boxtimes(a, b)
    from math import comb

    assert np.allclose(rho.moments(5), [comb(3 * n, n) / (2 * n + 1) for n in range(1, 6)], rtol=1e-10)
    l1, l2 = 2.0, 1.5
    rho2 = fp.boxtimes(fp.free_poisson(l1, 1.0), fp.free_poisson(l2, 1.0))
    # S = 1/((λ1+z)(λ2+z)); compare the exact moments with the series of that S-transform:
    # free cumulants of MP(λ1)⊠MP(λ2) are not simple, so check through the density instead:
    x = np.linspace(*rho2.support, 7)[1:-1]
    # m1 = λ1 λ2, m2 = λ1λ2(λ1 + λ2 + λ1λ2) (from the S-transform series)
    assert rho2.moments(2) == pytest.approx([l1 * l2, l1 * l2 * (l1 + l2 + l1 * l2)], rel=1e-10)
    assert np.all(rho2.pdf(x) >= 0)


@pytest.mark.parametrize("p, q", [(0.5, 0.5), (0.3, 0.6), (0.8, 0.7)])
def test_free_projections(p, q):
    rho = fp.boxtimes(fp.bernoulli(p), fp.bernoulli(q))
    pts, w = rho.atoms
    expect = {0.0: max(1 - p, 1 - q)}
    if p + q > 1:
        expect[1.0] = p + q - 1
    assert dict(zip(pts.tolist(), w.tolist())) == pytest.approx(expect, abs=1e-12)
    rm = p + q - 2 * p * q - np.sqrt(4 * p * q * (1 - p) * (1 - q))
    rp = p + q - 2 * p * q + np.sqrt(4 * p * q * (1 - p) * (1 - q))
    # the theorem's masses against the solver's own boundary values i y G(a + i y).  At finite y
    # the absolutely continuous part adds Re[i y ∫ρ(t)/(a + iy − t) dt]: O(y) away from the
    # density, but O(√y) when the density has a 1/√ singularity at the atom (p = q = 1/2, where
    # it is √y/(2√2) ≈ 1.1e-4 at y = 1e-7).  We subtract it, computed by mpmath from the closed form.
    mp.mp.dps = 30
    rho_ac = lambda t: mp.sqrt((t - rm) * (rp - t)) / (2 * mp.pi * t * (1 - t))  # noqa: E731
    for a, m in expect.items():
        y = 1e-7
        zc = mp.mpc(a, y)
        ac = mp.re(mp.mpc(0, y) * mp.quad(lambda t: rho_ac(t) / (zc - t), [rm, rp]))
        assert abs((1j * y * rho.cauchy(a + 1j * y)).real - m - float(ac)) < 1e-8
    x = np.linspace(rm, rp, 30)[2:-2]
    closed = np.sqrt((x - rm) * (rp - x)) / (2 * np.pi * x * (1 - x))
    assert np.max(np.abs(rho.pdf(x) - closed)) < 1e-8
    assert rho.moments(1)[0] == pytest.approx(p * q, rel=1e-12)


atomic = st.integers(1, 4).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-2, 2), min_size=k, max_size=k, unique=True),
        st.lists(st.floats(0.05, 1), min_size=k, max_size=k),
    )
)


def _law(t):
    pts, w = t
    w = np.array(w) / np.sum(w)
    return fp.atoms(pts, w)


@settings(max_examples=15)
@given(atomic, atomic, st.floats(-2, 2), st.floats(0.2, 2))
def test_boxplus_properties(a, b, x, y):
    mu, nu = _law(a), _law(b)
    rho = fp.boxplus(mu, nu)
    z = np.array([x + 1j * y])
    g = rho.cauchy(z)
    assert g.imag[0] < 0
    w1, w2 = rho.subordination(z)
    assert abs(w1[0] + w2[0] - (z[0] + 1 / g[0])) < 1e-9 * max(1, abs(w1[0]))
    assert abs(mu.cauchy(w1[0]) - nu.cauchy(w2[0])) < 1e-9
    assert rho.moments(4) == pytest.approx(
        fp.combinatorics.free_cumulants_to_moments(mu.free_cumulants(4) + nu.free_cumulants(4))
    )


def test_r_additive_and_s_multiplicative():
    mu, nu = fp.semicircle(1.0), fp.free_poisson(2.0, 0.5)
    rho = fp.boxplus(mu, nu)
    w = np.array([0.05 + 0.01j, -0.1 + 0.02j])
    assert np.allclose(fp.Law.r_transform(rho, w), mu.r_transform(w) + nu.r_transform(w), atol=1e-8)
    a, b = fp.free_poisson(2.0, 1.0), fp.free_poisson(3.0, 0.5)
    rho = fp.boxtimes(a, b)
    z = np.array([0.05, -0.1])
    assert np.allclose(fp.Law.s_transform(rho, z), a.s_transform(z) * b.s_transform(z), atol=1e-8)


def test_bad_input():
    with pytest.raises(ValueError, match="boxtimes needs laws on"):
        fp.boxtimes(fp.semicircle(), fp.bernoulli(0.5))
    with pytest.raises(ValueError, match="Law"):
        fp.boxplus(fp.semicircle(), 3.0)
