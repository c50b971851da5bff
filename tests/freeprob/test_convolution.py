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


# ---------------------------------------------------------------------------- support edges
def _real_discriminant_roots(poly_in_g_z):
    """Real roots in z of the discriminant in G of P(G, z): the candidate support edges."""
    import sympy as sp

    G, Z = sp.symbols("G Z")
    disc = sp.Poly(sp.discriminant(poly_in_g_z(G, Z), G), Z)
    roots = [complex(r) for r in sp.Poly(disc, Z).nroots(n=30, maxsteps=200)]
    return np.array(sorted(r.real for r in roots if abs(r.imag) < 1e-12))


def _assert_edges_are_roots(rho, roots, tol):
    for lo, hi in rho.intervals:
        for e in (lo, hi):
            assert np.min(np.abs(roots - e)) < tol, (e, roots)


def test_support_edges_semicircle_plus_free_poisson():
    rho = fp.boxplus(fp.semicircle(1.0), fp.free_poisson(1.0, 1.0))
    roots = _real_discriminant_roots(lambda G, Z: G**3 - (1 + Z) * G**2 + Z * G - 1)
    _assert_edges_are_roots(rho, roots, 1e-9 * 6)
    # the true edges, not the hull (-2, 6) of the inputs' supports
    assert rho.support[0] > -2 + 0.1 and rho.support[1] < 6 - 0.1
    assert isinstance(rho.support[0], float) and len(rho.intervals) == 1


def _sc_mp_half_density(x):
    """−Im G/π of semicircle(1) ⊞ MP(½) at the double x: the root of G³ − (z+2)G² + (2z−1)G − 2
    with Im G < 0 (none: 0), 40 digits."""
    with mp.workdps(40):
        z = mp.mpf(float(x))
        roots = mp.polyroots([1, -(z + 2), 2 * z - 1, -2], maxsteps=200, extraprec=100)
        return float(max(mp.mpf(0), max(-mp.im(r) for r in roots)) / mp.pi)


def test_semicircle_plus_marchenko_pastur_density_next_to_both_edges():
    """Issue 12's accuracy figure near the edges: 1e-15 absolute at 1e-2 … 1e-5 (and 1e-8) from each
    edge, edges from the cubic's discriminant.  At distance δ the system's smallest singular value
    is ~√δ: with the residual and the standardization x~ = (x − c)/s rounded in double the density was
    up to 4e-14 off at 1e-5 (1.9e-15 at the benchmark's grid point −1.3205, 9.5e-4 from the edge)."""
    rho = fp.boxplus(fp.semicircle(1.0), fp.marchenko_pastur(0.5))
    roots = _real_discriminant_roots(lambda G, Z: G**3 - (Z + 2) * G**2 + (2 * Z - 1) * G - 2)
    lo = roots[np.argmin(np.abs(roots + 1.3215))]
    hi = roots[np.argmin(np.abs(roots - 3.6657))]
    deltas = np.array([1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-8])
    x = np.concatenate([lo + deltas, hi - deltas, [-1.3205]])
    ref = np.array([_sc_mp_half_density(t) for t in x])
    assert np.all(ref > 0)
    err = np.abs(rho.pdf(x) - ref)
    assert np.max(err) <= 1e-15, (x[np.argmax(err)], err.max())
    # one point at a time (no grid neighbours to predict from) gives the same
    assert abs(rho.pdf(float(x[6])) - ref[6]) <= 1e-15


@pytest.mark.parametrize("case", ["sc+sc", "fp+fp", "free_power"])
def test_boxplus_density_next_to_edges_closed_forms(case):
    """⊞ of distinct laws and a free power at 1e-3 … 1e-14 from the exact edges, against closed
    forms at 40 digits: SC(1) ⊞ SC(3) = SC(4); free Poisson rates add at a common jump;
    free_power(free_poisson(λ, α), t) = free_poisson(tλ, α).  1e-15 absolute (was up to 7e-14)."""
    if case == "sc+sc":
        rho = fp.boxplus(fp.semicircle(1.0), fp.semicircle(3.0))
        lam = None
    elif case == "fp+fp":
        rho, lam, al = fp.boxplus(fp.free_poisson(2.0, 0.5), fp.free_poisson(1.5, 0.5)), 3.5, 0.5
    else:
        rho, lam, al = fp.free_power(fp.free_poisson(2.0, 0.5), 2.5), 5.0, 0.5
    with mp.workdps(40):
        if lam is None:
            edges = (mp.mpf(-4), mp.mpf(4))
            dens = lambda t: mp.sqrt(max(16 - t * t, 0)) / (8 * mp.pi)  # noqa: E731
        else:
            a, b = al * (1 - mp.sqrt(lam)) ** 2, al * (1 + mp.sqrt(lam)) ** 2
            edges = (a, b)
            dens = lambda t: mp.sqrt(max((t - a) * (b - t), 0)) / (2 * mp.pi * al * t)  # noqa: E731
        x = np.array([float(e + s * d) for e, s in zip(edges, (1, -1)) for d in (1e-3, 1e-5, 1e-8, 1e-11, 1e-14)])
        ref = np.array([float(dens(mp.mpf(float(t)))) for t in x])
    assert np.all(ref > 0)
    err = np.abs(rho.pdf(x) - ref)
    assert np.max(err) <= 1e-15, (x[np.argmax(err)], err.max())
    if case == "sc+sc":
        # one ulp inside the edges (density 2.4e-9, where the double sweep lands on the real branch
        # and returned 0) and exactly on them (0; Newton at the double root converges only linearly)
        inner = np.array([np.nextafter(-4.0, 0.0), np.nextafter(4.0, 0.0)])
        with mp.workdps(40):
            ref = np.array([float(dens(mp.mpf(float(t)))) for t in inner])
        assert np.max(np.abs(rho.pdf(inner) - ref)) <= 1e-15 and np.all(np.abs(rho.pdf(inner) / ref - 1) < 1e-12)
        assert np.all(rho.pdf(np.array([-4.0, 4.0, 4.0 + 1e-15])) == 0.0)


def test_boxtimes_density_next_to_edges_against_the_cubic():
    """⊠ next to its edges: free_poisson(λ, 1) ⊠ free_poisson(μ, 1) has S = 1/((z + λ)(z + μ)), so
    ζ = xG − 1 solves ζ³ + (1 + λ + μ)ζ² + (λ + μ + λμ − x)ζ + λμ = 0 and the density is −Im ζ/(πx)
    (40 digits; edges from the discriminant).  1e-15 absolute (was 4.6e-14 at 1e-6 from an edge)."""
    lam, mu = 2.0, 3.0
    rho = fp.boxtimes(fp.free_poisson(lam, 1.0), fp.free_poisson(mu, 1.0))
    roots = _real_discriminant_roots(
        lambda G, Z: G**3 + (1 + lam + mu) * G**2 + (lam + mu + lam * mu - Z) * G + lam * mu)
    lo, hi = roots[roots > 0][0], roots[-1]
    deltas = np.array([1e-2, 1e-4, 1e-5, 1e-6, 1e-8])
    x = np.concatenate([lo + deltas, hi - deltas])

    def dens(t):
        with mp.workdps(40):
            xx = mp.mpf(float(t))
            zs = mp.polyroots([1, 1 + lam + mu, lam + mu + lam * mu - xx, lam * mu], maxsteps=200, extraprec=100)
            return float(max(mp.mpf(0), max(-mp.im(r) for r in zs)) / (mp.pi * xx))

    ref = np.array([dens(t) for t in x])
    assert np.all(ref > 0)
    err = np.abs(rho.pdf(x) - ref)
    assert np.max(err) <= 1e-15, (x[np.argmax(err)], err.max())


def test_support_with_a_gap_two_intervals():
    """atoms(±3) ⊞ semicircle(1): G = E[1/(z − G − a)] gives G³ − 2zG² + (z² − 8)G − z = 0."""
    rho = fp.boxplus(fp.atoms([-3.0, 3.0], [0.5, 0.5]), fp.semicircle(1.0))
    roots = _real_discriminant_roots(lambda G, Z: G**3 - 2 * Z * G**2 + (Z**2 - 8) * G - Z)
    assert len(rho.intervals) == 2
    _assert_edges_are_roots(rho, roots, 1e-9 * 10)
    (a, b), (c, d) = rho.intervals
    assert a == pytest.approx(-d, abs=1e-12) and b == pytest.approx(-c, abs=1e-12)  # symmetry
    # in the gap: density 0 and the real Cauchy transform is defined (G(0) = 0 by symmetry)
    assert rho.pdf(0.0) == 0.0 and abs(rho.cauchy(0.0)) < 1e-12
    # through both intervals, their edges and the centre of the gap (test_gap_centre_just_above_the_axis):
    # against the cubic's root to 40 digits; at an edge G(x + iy) has condition ~|x|/√y, so the
    # rounding of the standardized inputs alone moves it by ~1.5e-11 at y = 1e-9: bound 1e-10
    x = np.linspace(a, d, 57)
    z = x + 1e-9j
    g = rho.cauchy(z)
    ref = np.array([_gap_cubic_root(w) for w in z])
    assert np.max(np.abs(g - ref) / np.abs(ref)) < 1e-10


def _gap_cubic_root(z):
    """G of ½(δ₋₃ + δ₃) ⊞ SC(1) at z ∈ C⁺ to 40 digits: G = G_μ(z − G) with G_μ(w) = w/(w² − 9) gives
    g³ − 2zg² + (z² − 8)g − z = 0, and G is its only root in the lower half-plane (asserted)."""
    with mp.workdps(40):
        z = mp.mpc(z)
        roots = mp.polyroots([1, -2 * z, z * z - 8, -z], maxsteps=200, extraprec=200)
        lower = [r for r in roots if mp.im(r) < 0]
        assert len(lower) == 1
        return complex(lower[0])


def test_gap_centre_just_above_the_axis():
    """At the centre of the symmetric gap of ½(δ₋₃ + δ₃) ⊞ SC(1) the atoms' subordination point
    ω₁ → 0, h₁(ω₁) = −9/ω₁ → ∞ while T₁ = z + h₂(ω₂) → 0.  T₁ used to be formed as S − K₁ and lost
    its digits (6% off at height 1e-7, ConvergenceError below): now summed over the other laws; and
    the Sherman–Morrison Newton step cancelled in J₁₁ = T₁ (Newton diverged from residual 4e-14,
    1.2e-13 relative error at height 1e-11): that group is now eliminated first.

    Truth: the cubic (40 digits).  On the imaginary axis G is purely imaginary and the inputs'
    transforms are exact by symmetry, so the error is relative (1e-13); off it, G_μ(ω₁) near its zero
    is a cancelling sum of terms of size 1/3, so the floor is its rounding, 4 eps/σ (σ = √10), plus
    1e-12 relative.  The gap (−1.6803, 1.6803) holds no mass: pdf 0 and cdf ½ (symmetry) there."""
    rho = fp.boxplus(fp.atoms([-3.0, 3.0], [0.5, 0.5]), fp.semicircle(1.0))
    heights = np.array([1e-9, 1e-11, 1e-13, 1e-15])
    g = rho.cauchy(1j * heights)
    ref = np.array([_gap_cubic_root(1j * y) for y in heights])
    assert np.max(np.abs(g - ref) / np.abs(ref)) < 1e-13
    floor = 4 * np.finfo(float).eps / np.sqrt(10.0)
    xs = np.array([-1e-6, -1e-12, 1e-15, 1e-12, 1e-9, 1e-6, 1e-3])
    z = (xs[:, None] + 1j * heights[None, :]).ravel()
    g = rho.cauchy(z)
    ref = np.array([_gap_cubic_root(w) for w in z])
    assert np.all(np.abs(g - ref) <= 1e-12 * np.abs(ref) + floor)
    # on the axis: G real (0 at the centre), density 0, cdf ½
    x = np.concatenate([[0.0], xs])
    g0 = rho.cauchy(x + 0j)
    ref0 = np.array([_gap_cubic_root(complex(t, 1e-30)).real for t in x])
    assert np.all(np.abs(g0 - ref0) <= 1e-12 * np.abs(ref0) + floor) and g0[0] == 0.0
    assert np.all(rho.pdf(x) == 0.0)
    assert np.max(np.abs(rho.cdf(x) - 0.5)) < 1e-12


def test_nested_products_fuss_catalan_edges():
    """MP(1)^{⊠s} is Fuss–Catalan: support [0, (s+1)^{s+1}/s^s]; nested ⊠ runs the numpy path."""
    mp1 = fp.free_poisson(1.0, 1.0)
    rho2 = fp.boxtimes(mp1, mp1)
    assert rho2.support[1] == pytest.approx(27 / 4, abs=1e-9 * 7)
    rho3 = fp.boxtimes(mp1, mp1, mp1)
    assert rho3.support[1] == pytest.approx(256 / 27, abs=1e-9 * 10)
    assert rho3.support[0] == 0.0
    # moments of the solver's density (quadrature, x = u^4 absorbs the x^{-3/4} singularity at 0)
    from math import comb

    top = rho3.support[1] ** 0.25
    t, wt = np.polynomial.legendre.leggauss(400)
    u = 0.5 * top * (t + 1)
    dens = 4 * u**3 * rho3.pdf(u**4) * 0.5 * top * wt
    for n in (1, 2, 3):
        assert np.sum(dens * u ** (4 * n)) == pytest.approx(comb(4 * n, n) / (3 * n + 1), rel=1e-6)


def test_nested_sums_numpy_path():
    rho = fp.boxplus(fp.semicircle(1.0), fp.semicircle(2.0), fp.semicircle(0.5, mean=1.0))
    assert rho._compiled is not None  # nested sums flatten into one compiled three-law system
    x = np.linspace(-2.5, 4.5, 29)
    assert np.max(np.abs(rho.pdf(x) - fp.semicircle(3.5, mean=1.0).pdf(x))) < 1e-8
    r = 2 * np.sqrt(3.5)
    assert rho.intervals[0] == pytest.approx((1 - r, 1 + r), abs=1e-9 * 8)


# ---------------------------------------------------------------------------- atoms
def test_boxplus_atoms_bercovici_voiculescu():
    mu = fp.atoms([0.0, 1.0], [0.7, 0.3])
    nu = fp.atoms([0.0, 2.0], [0.6, 0.4])
    rho = fp.boxplus(mu, nu)
    pts, w = rho.atoms
    # 0 + 0: 0.7 + 0.6 − 1;  0 + 2: 0.7 + 0.4 − 1;  1 + 0: 0.3 + 0.6 < 1;  1 + 2: 0.3 + 0.4 < 1
    assert pts.tolist() == [0.0, 2.0] and w.tolist() == pytest.approx([0.3, 0.1], abs=1e-15)
    for a, m in zip(pts, w):
        # each atom is isolated from the density, so i y G(a + iy) = m + O(y)
        assert all(not (lo <= a <= hi) for lo, hi in rho.intervals)
        y = 1e-8
        assert abs(complex(1j * y * rho.cauchy(a + 1j * y)) - m) < 1e-6
    # total mass: ∫ density + atoms = 1 (quadrature of the solver's pdf over its intervals)
    from scipy import integrate

    ac = sum(integrate.quad(lambda t: float(rho.pdf(t)), lo, hi, limit=200)[0] for lo, hi in rho.intervals)
    assert ac + w.sum() == pytest.approx(1.0, abs=1e-6)


def test_atoms_plus_semicircle_has_no_atoms():
    mu = fp.atoms([-1.0, 2.0], [0.3, 0.7])
    rho = fp.boxplus(mu, fp.semicircle(0.5))
    assert len(rho.atoms[0]) == 0
    # G = Σ w/(z − G/2 − a): cubic 0.3(u − 2) + 0.7(u + 1) = G (u + 1)(u − 2), u = z − G/2
    x = np.linspace(rho.support[0], rho.support[1], 41)[1:-1]
    z = x + 1e-10j
    g = rho.cauchy(z)
    u = z - 0.5 * g
    assert np.max(np.abs(0.3 * (u - 2) + 0.7 * (u + 1) - g * (u + 1) * (u - 2))) < 1e-8
    assert np.all(g.imag <= 0)


def test_boxtimes_three_point_atoms():
    mu = fp.atoms([0.5, 2.0], [0.8, 0.2])
    nu = fp.atoms([1.0, 3.0], [0.7, 0.3])
    rho = fp.boxtimes(mu, nu)
    pts, w = rho.atoms
    assert pts.tolist() == [0.5, 1.5] and w.tolist() == pytest.approx([0.5, 0.1], abs=1e-14)
    for a, m in zip(pts, w):
        y = 1e-8
        assert abs(complex(1j * y * rho.cauchy(a + 1j * y)) - m) < 1e-6
    from scipy import integrate

    ac = sum(integrate.quad(lambda t: float(rho.pdf(t)), lo, hi, limit=200)[0] for lo, hi in rho.intervals)
    assert ac + w.sum() == pytest.approx(1.0, abs=1e-6)
    # first two moments of the solver's law against the exact ones of free multiplication
    mom = [sum(integrate.quad(lambda t, k=k: t**k * float(rho.pdf(t)), lo, hi, limit=200)[0]
               for lo, hi in rho.intervals) + float((w * pts**k).sum()) for k in (1, 2)]
    a1, a2 = 0.8 * 0.5 + 0.2 * 2, 0.8 * 0.25 + 0.2 * 4
    b1, b2 = 0.7 + 0.9, 0.7 + 0.3 * 9
    # E[ab] = a1 b1, E[abab] = a2 b1² + a1² b2 − a1² b1² for free a, b
    assert mom == pytest.approx([a1 * b1, a2 * b1**2 + a1**2 * b2 - a1**2 * b1**2], rel=1e-6)


# ---------------------------------------------------------------------------- errors
class _BrokenLaw(fp.Law):
    name = "broken"
    support = (-1.0, 1.0)

    def __init__(self, g):
        self._g = g

    def _cauchy(self, z):
        return self._g(np.asarray(z, dtype=complex))

    def _moments(self, n):
        return np.zeros(n)


def test_non_convergence_reports_point_and_residual():
    # a transform that is NaN off the imaginary axis: the fixed point cannot be found there
    rho = fp.boxplus(_BrokenLaw(lambda z: np.where(z.real > 0.2, np.nan, 1 / z)), fp.semicircle(1.0))
    with pytest.raises(fp.ConvergenceError, match=r"did not converge at z = .*0\.3.*residual"):
        rho.cauchy(np.array([-0.1 + 0.5j, 0.3 + 0.5j]))


def test_input_that_is_not_a_cauchy_transform_is_reported():
    # G(z) = −1/z maps C⁺ into C⁺: the fixed point exists but G of the "sum" has Im G > 0
    # rejected when the convolution is built (a ValueError naming the input)
    with pytest.raises(ValueError, match="input 0 .* not the Cauchy"):
        fp.boxplus(_BrokenLaw(lambda z: -1 / z), fp.semicircle(1.0))


# ---------------------------------------------------------------------------- properties
_GL400 = np.polynomial.legendre.leggauss(400)


def _total_mass(rho, eta=0.5):
    """−(1/π)∫ Im G(x + iη) dx over R, by x = c + η tan θ and Gauss–Legendre in θ."""
    t, wt = _GL400
    theta = 0.5 * np.pi * t
    c = 0.5 * sum(rho.support)
    x = c + eta * np.tan(theta)
    g = rho.cauchy(x + 1j * eta)
    return float(np.sum(-g.imag / np.pi * eta / np.cos(theta) ** 2 * wt) * 0.5 * np.pi)


positive_atomic = st.integers(1, 3).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(0.1, 3), min_size=k, max_size=k, unique=True),
        st.lists(st.floats(0.05, 1), min_size=k, max_size=k),
    )
)


@settings(max_examples=10)
@given(atomic, atomic, st.floats(-2, 2), st.floats(0.05, 2))
def test_boxplus_mass_and_r_additivity(a, b, x, y):
    mu, nu = _law(a), _law(b)
    rho = fp.boxplus(mu, nu)
    assert _total_mass(rho) == pytest.approx(1.0, abs=1e-6)
    g = rho.cauchy(np.array([x + 1j * y]))
    assert g.imag[0] < 0
    w = np.array([0.02 + 0.01j, -0.015 + 0.005j])
    assert np.allclose(fp.Law.r_transform(rho, w), mu.r_transform(w) + nu.r_transform(w), atol=1e-8)


@settings(max_examples=10)
@given(positive_atomic, positive_atomic, st.floats(0, 9), st.floats(0.05, 2))
def test_boxtimes_properties(a, b, x, y):
    mu, nu = _law(a), _law(b)
    rho = fp.boxtimes(mu, nu)
    z = np.array([x + 1j * y])
    g = rho.cauchy(z)
    assert g.imag[0] < 0
    assert _total_mass(rho) == pytest.approx(1.0, abs=1e-6)
    # subordination: ζ G(ζ) = Ω₁ G_μ(Ω₁) = Ω₂ G_ν(Ω₂)
    w1, w2 = rho.subordination(z)
    assert abs(w1[0] * mu.cauchy(w1[0]) - z[0] * g[0]) < 1e-9 * max(1, abs(z[0] * g[0]))
    assert abs(w2[0] * nu.cauchy(w2[0]) - z[0] * g[0]) < 1e-9 * max(1, abs(z[0] * g[0]))
    s = np.array([-0.05, 0.03])
    assert np.allclose(fp.Law.s_transform(rho, s), mu.s_transform(s) * nu.s_transform(s), rtol=1e-7)


# ---------------------------------------------------------------------------- verify cases
def test_verify_cases_pass_at_quick_size():
    pytest.importorskip("matplotlib")
    from nn_spectra.verify.cases import free_convolutions
    from nn_spectra.verify.case import get_case

    names = ["boxplus_density_and_edges", "free_power_kesten_mckay", "free_projections_atoms"]
    assert free_convolutions is not None
    for name in names:
        case = get_case(name)
        res = case.run(case.quick_size, np.random.default_rng(0))
        assert res.distance <= case.tolerance_at(case.quick_size), (name, res.distance)
        assert res.figure is not None


def test_cdf_against_closed_forms():
    """cdf = atoms + ∫ density: free projections (arcsine-type edges at the atom) and semicircles."""
    rho = fp.boxtimes(fp.bernoulli(0.5), fp.bernoulli(0.5))
    x = np.linspace(0, 1, 101)
    assert np.max(np.abs(rho.cdf(x) - (0.5 + np.arcsin(np.sqrt(x)) / np.pi))) < 1e-6
    rho = fp.boxplus(fp.semicircle(1.0), fp.semicircle(3.0))
    x = np.linspace(-5, 5, 101)
    assert np.max(np.abs(rho.cdf(x) - fp.semicircle(4.0).cdf(x))) < 1e-6
    rho = fp.boxplus(fp.atoms([0.0, 1.0], [0.7, 0.3]), fp.atoms([0.0, 2.0], [0.6, 0.4]))
    # jumps of the theorem's atoms (0.3 at 0, 0.1 at 2), 0 below and 1 above the support
    c = rho.cdf(np.array([-0.1, -1e-9, 0.0, 2.0 - 1e-9, 2.0, 3.5]))
    assert [c[0], c[2] - c[1], c[4] - c[3], c[5]] == pytest.approx([0, 0.3, 0.1, 1.0], abs=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: fp.boxtimes(fp.marchenko_pastur(2.0), fp.marchenko_pastur(3.0)),
        lambda: fp.boxtimes(fp.free_poisson(0.4, 1.0), fp.atoms([0.5, 2.0], [0.5, 0.5])),
        lambda: fp.boxplus(fp.marchenko_pastur(2.0), fp.semicircle(0.3)),
        lambda: fp.boxplus(fp.free_poisson(0.3, 1.0), fp.free_poisson(0.2, 2.0)),
    ],
    ids=["mp_times_mp_atoms", "fp_times_atoms", "mp_plus_sc", "fp_plus_fp"],
)
def test_solver_density_and_atoms_reproduce_exact_moments(make):
    """Mass and moments of (solver density on the located intervals + theorem atoms) against the
    exact moments from free cumulants (combinatorics, no solver): checks density, edges and atoms."""
    rho = make()
    pts, w = rho.atoms
    mom = np.array([np.sum(w * pts**k) for k in range(4)])
    for lo, hi in rho.intervals:
        th = 0.5 * np.pi * (_GL400[0] + 1)
        x = 0.5 * (lo + hi) - 0.5 * (hi - lo) * np.cos(th)
        d = rho.pdf(x) * 0.5 * (hi - lo) * np.sin(th) * 0.5 * np.pi * _GL400[1]
        mom += np.array([np.sum(d * x**k) for k in range(4)])
    assert mom[0] == pytest.approx(1.0, abs=1e-10)
    assert mom[1:] == pytest.approx(rho.moments(3), rel=1e-10)


def test_nested_boxtimes_has_no_spurious_interval_in_its_gap():
    """Bern(½) ⊠ ν with ν = 1 + 2·(Bern(½) ⊠ ½(δ₁ + δ₃)): ν ≥ 1, and P X P ≥ P on the range of a
    projection P when X ≥ 1, so the absolutely continuous part lives on [1, ∞) (operator bound).  The
    solver's state runs off to Ω → 0 in the gap (0, 1); an uncertified axis value there once made a
    spurious interval (0.8206, 0.8212)."""
    nu = fp.boxtimes(fp.bernoulli(0.5), fp.atoms([1.0, 3.0], [0.5, 0.5])).scale(2.0).shift(1.0)
    law = fp.boxtimes(fp.bernoulli(0.5), nu)
    assert all(lo >= 1.0 - 1e-12 for lo, _ in law.intervals)
    assert law.intervals[0][0] == pytest.approx(1.0, abs=1e-12)
    assert law.pdf(0.8209) == 0.0


# ---------------------------------------------------------------------------- point-mass inputs
# δ_a ⊞ μ is μ shifted by a and δ_a ⊠ μ is μ scaled by a.  The point masses drop out of the
# subordination system exactly (standardized they are δ_0, resp. δ_1); the closed forms of the
# shifted/scaled law are the independent truth.  Before: δ_0 ⊞ SC(0.1) had ~150 spurious gaps and
# check_mass 1 − 3.9e-2.
def _subordination_identities(rho, z):
    """G(z) = G_g(ω_g) (⊞), zG(z) = Ω_g G_g(Ω_g) (⊠) for every input, and
    Σ k_g ω_g − z = (Σ k_g − 1)/G (⊞), Π Ω_g^{k_g} = z^{Σk}/(z − 1/G)^{Σk − 1} (⊠), to 1e-12 plus
    the rounding of ω itself (8 eps |ω G_g'(ω)|: ω = a + 0.3 for δ_a with a = −3e5 is only known to
    ulp(3e5), 2e-10 relative in G_δ(ω) = 1/(ω − a))."""
    eps = np.finfo(float).eps
    g = rho.cauchy(z)
    ws = rho.subordination(z)
    assert len(ws) == len(rho.laws)
    n = sum(rho.weights)
    for law, w in zip(rho.laws, ws):
        rnd = 8 * eps * np.abs(w * law._cauchy_derivative(w))
        if rho.kind == "plus":
            assert np.all(np.abs(law.cauchy(w) - g) <= 1e-12 * np.abs(g) + rnd)
        else:
            assert np.all(np.abs(w * law.cauchy(w) - z * g) <= 1e-12 * np.abs(z * g) + np.abs(w) * rnd)
    if rho.kind == "plus":
        lhs = sum(k * w for k, w in zip(rho.weights, ws)) - z
        rnd = 8 * eps * (np.abs(z) + sum(k * np.abs(w) for k, w in zip(rho.weights, ws)))
        assert np.all(np.abs(lhs - (n - 1) / g) <= 1e-12 * np.abs((n - 1) / g) + rnd)
    else:
        lhs = np.prod([w ** k for k, w in zip(rho.weights, ws)], axis=0)
        rhs = z ** n / (z - 1 / g) ** (n - 1)
        assert np.all(np.abs(lhs - rhs) <= 1e-12 * np.abs(rhs))


def _same_law(rho, ref, x):
    """pdf, cdf, atoms and interval ends of rho and of the closed-form ref to 1e-12."""
    assert np.allclose(rho.pdf(x), ref.pdf(x), rtol=1e-12, atol=1e-12)
    assert np.allclose(rho.cdf(x), ref.cdf(x), rtol=0, atol=1e-12)
    for u, v in zip(rho.atoms, ref.atoms):
        assert np.allclose(u, v, rtol=1e-12, atol=1e-300)
    assert rho.support == pytest.approx(ref.support, rel=1e-12, abs=1e-300)
    assert abs(rho.check_mass() - 1.0) < 1e-10


_PM_Z = np.array([0.3 + 0.2j, 1.5 + 1e-3j, -2.0 + 3.0j, 0.05 + 1e-8j])


@pytest.mark.parametrize("a", [0.0, 0.7, -3.0e5])
def test_boxplus_point_mass_is_a_shift(a):
    rho = fp.boxplus(fp.atoms([a], [1.0]), fp.semicircle(var=0.1))
    ref = fp.semicircle(var=0.1, mean=a)
    _same_law(rho, ref, a + np.linspace(-0.7, 0.7, 29))
    assert rho.intervals == pytest.approx([ref.support], rel=1e-12)
    _subordination_identities(rho, a + _PM_Z)


def test_boxplus_point_masses_in_an_n_ary_system():
    # two point masses among four inputs: the system of the other two, shifted by 0.75
    d1, d2, mp = fp.atoms([0.5], [1.0]), fp.atoms([0.25], [1.0]), fp.marchenko_pastur(0.5)
    rho = fp.boxplus(d1, fp.semicircle(var=0.1), mp, d2)
    ref = fp.boxplus(fp.semicircle(var=0.1), mp)
    x = np.linspace(-1.0, 4.0, 41)
    assert np.allclose(rho.pdf(x + 0.75), ref.pdf(x), rtol=1e-12, atol=1e-13)
    assert np.allclose(rho.cdf(x + 0.75), ref.cdf(x), rtol=0, atol=1e-12)
    assert np.allclose(np.ravel(rho.intervals), np.ravel(ref.intervals) + 0.75, rtol=1e-12)
    assert abs(rho.check_mass() - 1.0) < 1e-10
    _subordination_identities(rho, 1.0 + _PM_Z)
    # a free power of the rest (multiplicity 2: a system remains) beside a point mass
    nu = fp.boxplus(fp.free_power(mp, 2.0), d1)
    assert np.allclose(nu.pdf(x + 0.5), fp.free_power(mp, 2.0).pdf(x), rtol=1e-12, atol=1e-13)
    _subordination_identities(nu, _PM_Z)


def test_point_masses_alone():
    rho = fp.boxplus(fp.atoms([0.5], [1.0]), fp.atoms([-2.0], [1.0]), fp.atoms([0.125], [1.0]))
    assert rho.atoms[0].tolist() == [-1.375] and rho.atoms[1].tolist() == [1.0]
    assert rho.intervals == () and rho.support == (-1.375, -1.375)
    assert rho.cdf(-1.3750000001) == 0.0 and rho.cdf(-1.375) == 1.0
    assert rho.check_mass() == 1.0
    _subordination_identities(rho, _PM_Z)
    pw = fp.free_power(fp.atoms([0.5], [1.0]), 2.5)
    assert pw.atoms[0].tolist() == [1.25] and pw.intervals == ()
    w1, w2 = pw.subordination(_PM_Z)
    assert np.allclose(w1, _PM_Z - 0.75, rtol=1e-14)   # G_δ(ω) = 1/(z − 1.25)
    prod = fp.boxtimes(fp.atoms([2.0], [1.0]), fp.atoms([0.75], [1.0]))
    assert prod.atoms[0].tolist() == [1.5] and prod.intervals == ()
    _subordination_identities(prod, 1.0 + _PM_Z)


@pytest.mark.parametrize("a", [2.0, 1e-3])
def test_boxtimes_point_mass_is_a_scale(a):
    rho = fp.boxtimes(fp.atoms([a], [1.0]), fp.marchenko_pastur(0.5))
    ref = fp.marchenko_pastur(0.5, var=a)
    _same_law(rho, ref, a * np.linspace(0.0, 3.2, 33))
    assert rho.intervals == pytest.approx([ref.support], rel=1e-12)
    _subordination_identities(rho, a * (1.0 + _PM_Z))
    # with an atom at 0 in the other input (MP(2): mass ½ there)
    rho2 = fp.boxtimes(fp.marchenko_pastur(2.0), fp.atoms([a], [1.0]))
    _same_law(rho2, fp.marchenko_pastur(2.0, var=a), a * np.linspace(0.0, 6.0, 31))


def test_boxtimes_point_masses_in_an_n_ary_system():
    d1, d2 = fp.atoms([2.0], [1.0]), fp.atoms([3.0], [1.0])
    m1, m2 = fp.marchenko_pastur(0.5), fp.marchenko_pastur(0.25)
    rho = fp.boxtimes(d1, m1, m2, d2)
    ref = fp.boxtimes(m1, m2)
    x = np.linspace(0.01, 4.0, 40)
    assert np.allclose(rho.pdf(6.0 * x), ref.pdf(x) / 6.0, rtol=1e-12, atol=1e-13)
    assert np.allclose(rho.cdf(6.0 * x), ref.cdf(x), rtol=0, atol=1e-12)
    assert np.allclose(np.ravel(rho.intervals), 6.0 * np.ravel(ref.intervals), rtol=1e-12)
    assert abs(rho.check_mass() - 1.0) < 1e-10
    _subordination_identities(rho, 6.0 * (1.0 + _PM_Z))


# ---------------------------------------------------------------------------- uniform kernel
@pytest.mark.parametrize("a,b", [(1e-9, 4.0), (-1.0, 1.0), (1e6, 1e6 + 1.0)])
def test_uniform_kernel_against_mpmath(a, b):
    """The compiled uniform kernel (G, G', h = 1/G − z, h') against mpmath at 60 digits: G, G' to a
    few ulp; on the axis inside [a, b] the boundary value from above (arg −π); far from [a, b] h'
    relative to 1e-13 (h' ≈ var/z², where −G'/G² − 1 has no correct digit: the subordination
    system uses h'ω²), near it to 1e-14 absolute."""
    import mpmath as mp
    from freeprob import cauchy_kernels as ck

    rng = np.random.default_rng(7)
    L, p = b - a, np.array([a, b])
    near = a + L * (rng.uniform(-2, 3, 60) + 1j * 10.0 ** rng.uniform(-12, 1, 60))
    far = a + L * 10.0 ** rng.uniform(1, 9, 60) * np.exp(1j * rng.uniform(0, np.pi, 60))
    axis = a + L * np.array([-0.5, 1e-6, 0.3, 0.999999, 1.5])
    with mp.workdps(60):
        A, B = mp.mpf(a), mp.mpf(b)
        for z in np.concatenate([near, far, axis]):
            zm = mp.mpc(z) + mp.mpc(0, mp.mpf(10) ** -50 * (B - A))   # the limit from above on the axis
            G = mp.log((zm - A) / (zm - B)) / (B - A)
            dG = -1 / ((zm - A) * (zm - B))
            h, dh = 1 / G - zm, -dG / G ** 2 - 1
            g, dg = ck.cauchy_nb(ck.UNIFORM, p, complex(z))
            hh, dhh = ck.h_nb(ck.UNIFORM, p, complex(z))
            assert abs(g - complex(G)) <= 4e-15 * abs(complex(G)), z
            assert abs(dg - complex(dG)) <= 4e-15 * abs(complex(dG)), z
            assert abs(hh - complex(h)) <= 1e-14 * max(abs(complex(h)), L), z
            if abs(z - 0.5 * (a + b)) > 10 * L:
                assert abs(dhh - complex(dh)) <= 1e-13 * abs(complex(dh)), z
            else:
                assert abs(dhh - complex(dh)) <= 1e-14 * (1.0 + abs(complex(dh))), z


def test_uniform_takes_the_compiled_path():
    from freeprob.convolution import kernel_of

    assert kernel_of(fp.uniform(1e-9, 4.0)) is not None
    assert fp.boxtimes(fp.uniform(1e-9, 4.0), fp.bernoulli(0.3).shift(1.0))._compiled is not None
    assert fp.boxplus(fp.uniform(-1.0, 2.0).scale(3.0), fp.semicircle())._compiled is not None


@pytest.mark.parametrize("n", [3, 6, 10])
def test_boxtimes_power_physical_states_count_as_attracting(n):
    """The physical solution of MP(1)^{⊠n} (continued from i∞ to height 1e-9) passes the
    attracting test of the compiled sweep.  The n-ary map's spectral radius there is 1.05 (n = 6)
    to 3.8 (n = 10): with that test the sweep rejected every prediction and solved each point
    from far above (pdf 0.43 s instead of 0.007 s on 1,001 points at n = 6)."""
    from freeprob import convolution as cv

    law = fp.boxtimes(*[fp.marchenko_pastur(1.0)] * n)
    op, kinds, params, aa, bb, ks = law._compiled
    lo, hi = law._hull()
    z = np.ascontiguousarray(np.linspace(lo + 1e-3 * (hi - lo), hi * (1 - 1e-3), 60) + 1e-9j)
    u, res = cv._solve_nb(op, kinds, params, aa, bb, ks, z, np.zeros(1, dtype=complex), False, law.tol)
    assert np.all(res <= 1e-10)
    K, D, r = (np.empty(1, dtype=complex) for _ in range(3))
    for i in range(z.size):
        cv._resid_nb(op, kinds, params, aa, bb, ks, z[i], u[i], K, D, r)
        assert cv._attracting_nb(op, ks, D, u[i]), (z[i], D)
    # and the density against the Fuss–Catalan law of the same index (its own algebraic system)
    x = np.linspace(0.05, 0.95 * law.support[1], 9)
    assert np.allclose(law.pdf(x), fp.fuss_catalan(n).pdf(x), rtol=1e-10)


@pytest.mark.slow
def test_uniform_boxtimes_atoms_edges_against_mpmath():
    """Unif(1e-9, 4) ⊠ (0.8805 δ_0.131 + 0.1195 δ_0.434): the three fold edges against the mp fold
    Newton of :mod:`freeprob.high_precision` (30 digits), and the bottom edge, where the uniform's
    log singularity makes the fold sharp, against the S-transform route: on the real branch below
    the support 1/x = χ_U(t) χ_A(t) (1 + t)/t with χ the inverse of ψ on (1/a, ∞), resp. (1/0.131, ∞),
    t < −1; the edge is the maximum of x(t), at t = −1 − 3.0e-8: 1.4291875274689652e-10 (100 digits,
    bisection for χ and golden section for the maximum).  Before the uniform kernel, the numpy
    continuation put the second interval's lower edge at 0.6803376 (1.9e-4 inside: check_mass
    1 − 1.4e-6) and the bottom edge 6.7e-15 inside."""
    from freeprob import high_precision as hp

    law = fp.boxtimes(fp.uniform(1e-9, 4), fp.atoms([0.131, 0.434], [0.8805492965677484, 0.11945070343225167]))
    (lo1, hi1), (lo2, hi2) = law.intervals
    scale = law.frame[1]
    assert abs(lo1 - 1.4291875274689652e-10) <= 1e-14 * scale
    for e in (hi1, lo2, hi2):
        assert abs(e - float(hp.edge(law, e, dps=30))) <= 4e-16 * abs(e) + 1e-16 * scale
    assert abs(law.check_mass() - 1.0) < 1e-10
