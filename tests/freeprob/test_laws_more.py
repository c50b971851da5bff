"""Gaussian, uniform, Kesten–McKay, Fuss–Catalan, empirical and pushforward laws, each against an
independent route: mpmath quadrature of the defining density, exact combinatorial moments, closed
forms of the distribution function, and the generic (base-class) transform inversions."""
from math import comb

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import stats

import freeprob as fp
from freeprob.law import Law


def _mp_cauchy(density, z, a, b, extra=()):
    """G(z) = ∫ ρ(t)/(z−t) dt by mpmath with breakpoints at Re z (where the integrand peaks)."""
    pts = sorted({a, b, *[p for p in extra if a < p < b], *([z.real] if a < z.real < b else [])})
    with mpmath.workdps(30):
        zz = mpmath.mpc(z.real, z.imag)
        return complex(mpmath.quad(lambda t: density(t) / (zz - t), pts))


ZS = [0.3 + 0.7j, -1.1 + 0.05j, 2.5 + 2j, 0.01 + 0.3j]


# --------------------------------------------------------------------------- Gaussian
def test_normal_cauchy_against_quadrature():
    m, v = 0.4, 1.7
    g = fp.normal(mean=m, var=v)
    dens = lambda t: mpmath.npdf(t, m, mpmath.sqrt(v))
    for z in ZS:
        ref = _mp_cauchy(dens, z, -mpmath.inf, mpmath.inf)
        assert abs(complex(g.cauchy(z)) - ref) < 1e-12


def test_normal_moments_cdf_ppf():
    g = fp.normal(mean=-0.5, var=2.0)
    # E[(m+σZ)^k] by mpmath's own Gaussian quadrature
    with mpmath.workdps(30):
        ref = [float(mpmath.quad(lambda t: t ** k * mpmath.npdf(t, -0.5, mpmath.sqrt(2)), [-mpmath.inf, mpmath.inf]))
               for k in range(1, 7)]
    assert np.allclose(g.moments(6), ref, rtol=1e-13, atol=1e-13)
    q = np.linspace(0.01, 0.99, 11)
    assert np.allclose(g.cdf(g.ppf(q)), q, atol=1e-14)
    with pytest.raises(ValueError, match="var must lie in"):
        fp.normal(var=0)
    with pytest.raises(ValueError, match="needs a law supported on"):
        g.s_transform(0.1)


# --------------------------------------------------------------------------- uniform
def test_uniform_cauchy_r_transform():
    u = fp.uniform(-1.0, 3.0)
    for z in ZS:
        ref = _mp_cauchy(lambda t: mpmath.mpf(1) / 4, z, -1, 3)
        assert abs(complex(u.cauchy(z)) - ref) < 1e-13
    w = np.array([0.05, -0.1, 0.03 + 0.01j, 1e-6])
    # the closed form against the generic Newton inversion of G in the base class
    assert np.allclose(u.r_transform(w), Law.r_transform(u, w), atol=1e-10)
    assert np.allclose(u.moments(5), [(3 ** (k + 1) - (-1) ** (k + 1)) / (4 * (k + 1)) for k in range(1, 6)])


# --------------------------------------------------------------------------- Kesten–McKay
def test_kesten_mckay_moments_and_cauchy():
    km = fp.kesten_mckay(3)
    # closed walks on the 3-regular tree (REFERENCES): 3, 15, 87, 543
    assert np.allclose(km.moments(8)[1::2], [3, 15, 87, 543], rtol=1e-12)
    d, r = 3, 2 * mpmath.sqrt(2)
    dens = lambda t: d * mpmath.sqrt(max(r ** 2 - t ** 2, 0)) / (2 * mpmath.pi * (d ** 2 - t ** 2))
    for z in ZS + [3.0 + 1e-3j]:  # the removable pole at z = d
        assert abs(complex(km.cauchy(z)) - _mp_cauchy(dens, z, -r, r)) < 1e-11
    assert np.allclose(fp.kesten_mckay(2).cauchy(np.array(ZS)), fp.arcsine(-2, 2).cauchy(np.array(ZS)))
    with pytest.raises(ValueError, match=r"d must lie in \[2, inf\)"):
        fp.kesten_mckay(1.5)


# --------------------------------------------------------------------------- Fuss–Catalan
@pytest.mark.parametrize("s", [1, 2, 3])
def test_fuss_catalan_moments_are_fuss_catalan_numbers(s):
    fc = fp.fuss_catalan(s)
    exact = [comb((s + 1) * n, n) / (s * n + 1) for n in range(1, 8)]
    assert np.allclose(fc.moments(7), exact, rtol=1e-12)
    # the density recovered from the solver integrates to the same moments
    a, b = fc.support
    assert b == pytest.approx((s + 1) ** (s + 1) / s ** s)
    m_quad = Law._moments(fc, 3)  # generic quadrature of the solver's density
    assert np.allclose(m_quad, exact[:3], rtol=2e-4)


def test_fuss_catalan_one_is_marchenko_pastur_and_s_transform():
    z = np.array(ZS)
    assert np.allclose(fp.fuss_catalan(1).cauchy(z), fp.marchenko_pastur(1).cauchy(z), atol=1e-12)
    fc = fp.fuss_catalan(2.5)
    w = np.array([-0.3, -0.6, 0.05])   # ψ⁻¹(w) off the support, where the generic Newton starts
    assert np.allclose(Law.s_transform(fc, w), (1 + w) ** -2.5, atol=1e-9)


# --------------------------------------------------------------------------- empirical
def test_empirical():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4000)
    e = fp.empirical(x)
    assert e.n == 4000
    grid = np.linspace(-2, 2, 9)
    assert np.allclose(e.cdf(grid), (x[:, None] <= grid).mean(axis=0))
    # the smoothed density approximates the sampling law; tolerance = 3 standard deviations of the
    # Poisson-kernel estimate, sqrt(ρ/(2πNη)), plus its bias ≈ ρ(0)·η, so it shrinks with N
    for n in (4000, 40000):
        e = fp.empirical(rng.standard_normal(n))
        eta = 2 * np.sqrt(e.var) / np.sqrt(n)
        tol = 3 * np.sqrt(0.4 / (2 * np.pi * n * eta)) + 0.4 * eta
        assert np.max(np.abs(e.smoothed_pdf(grid) - stats.norm.pdf(grid))) < tol
    with pytest.raises(ValueError, match="samples must contain"):
        fp.empirical([])


# --------------------------------------------------------------------------- pushforward
def test_pushforward_relu_and_hard_tanh_atoms():
    relu2 = fp.normal(var=1.3).pushforward(lambda h: (h > 0).astype(float))
    p, w = relu2.atoms
    assert np.allclose(p, [0, 1]) and np.allclose(w, [0.5, 0.5], atol=1e-12)
    q = 2.0
    ht2 = fp.normal(var=q).pushforward(lambda h: (np.abs(h) < 1).astype(float))
    p, w = ht2.atoms
    inside = 2 * stats.norm.cdf(1 / np.sqrt(q)) - 1
    assert np.allclose(w, [1 - inside, inside], atol=1e-12)
    assert np.allclose(ht2.moments(3), inside)


def test_pushforward_smooth_tanh_derivative():
    q = 0.5
    law = fp.normal(var=q).pushforward(lambda h: 1 / np.cosh(h) ** 4)
    assert law.atoms[0].size == 0
    dens = lambda t: mpmath.npdf(t, 0, mpmath.sqrt(q))
    with mpmath.workdps(25):
        ref = [float(mpmath.quad(lambda t: dens(t) * mpmath.sech(t) ** (4 * k), [-mpmath.inf, 0, mpmath.inf]))
               for k in (1, 2, 3)]
    assert np.allclose(law.moments(3), ref, rtol=1e-12)
    y = np.array([0.2, 0.5, 0.9])
    exact_cdf = 2 * stats.norm.sf(np.arccosh(y ** -0.25), 0, np.sqrt(q))
    assert np.allclose(law.cdf(y), exact_cdf, atol=1e-12)
    # density = d/dy of the exact cdf
    h = 1e-6
    num = (2 * stats.norm.sf(np.arccosh((y + h) ** -0.25), 0, np.sqrt(q))
           - 2 * stats.norm.sf(np.arccosh((y - h) ** -0.25), 0, np.sqrt(q))) / (2 * h)
    assert np.allclose(law.pdf(y), num, rtol=1e-6)
    # Cauchy transform, also close to the axis, against a direct quadrature over h
    for z in [0.5 + 0.1j, 0.9 + 0.01j, 0.3 + 1e-3j]:
        with mpmath.workdps(25):
            zz = mpmath.mpc(z.real, z.imag)
            # split where sech⁴ t = Re z, where the integrand peaks
            t0 = float(mpmath.acosh(mpmath.mpf(z.real) ** -0.25))
            ref = complex(mpmath.quad(lambda t: dens(t) / (zz - mpmath.sech(t) ** 4),
                                      [-mpmath.inf, -t0, 0, t0, mpmath.inf]))
        assert abs(complex(law.cauchy(z)) - ref) < 1e-8 * max(1, abs(ref))


def test_pushforward_non_monotone():
    # X uniform on [−1, 1], Y = X²: P(Y ≤ y) = √y, E Y^k = 1/(2k+1)
    law = fp.uniform(-1, 1).pushforward(np.square)
    y = np.array([0.04, 0.25, 0.81])
    assert np.allclose(law.cdf(y), np.sqrt(y), atol=1e-12)
    assert np.allclose(law.pdf(y), 0.5 / np.sqrt(y), rtol=1e-6)
    assert np.allclose(law.moments(4), [1 / (2 * k + 1) for k in range(1, 5)], rtol=1e-10)
    with pytest.raises(ValueError, match="fn must be callable"):
        fp.pushforward(fp.normal(), 3.0)


# --------------------------------------------------------------------------- all laws
LAWS = [fp.normal(0.3, 0.7), fp.uniform(-1, 2), fp.kesten_mckay(4), fp.fuss_catalan(2),
        fp.empirical([0.0, 0.5, 2.0]), fp.normal().pushforward(np.tanh)]


@given(x=st.floats(-5, 5), y=st.floats(1e-3, 5), i=st.integers(0, len(LAWS) - 1))
def test_cauchy_maps_upper_to_lower_half_plane(x, y, i):
    g = complex(LAWS[i].cauchy(complex(x, y)))
    assert g.imag < 0 and np.isfinite(g.real)


def test_far_field_no_cancellation():
    # G(z) = 1/z + m₁/z² + m₂/z³ + m₃/z⁴ + O(z⁻⁵): far from the support the closed forms must be
    # accurate relative to G itself (a difference of nearly equal terms would lose ~12 digits here)
    for law in [fp.semicircle(var=1.7, mean=-0.3), fp.free_poisson(0.4, 1.3), fp.kesten_mckay(3),
                fp.uniform(0, 2), fp.normal(0.1, 2.0), fp.arcsine(0, 3)]:
        m = law.moments(3)
        z = 1e6 + 1.0j
        series = 1 / z + m[0] / z ** 2 + m[1] / z ** 3 + m[2] / z ** 4
        assert abs(complex(law.cauchy(z)) - series) < 1e-13 * abs(series)


@pytest.mark.parametrize("law", LAWS + [fp.semicircle(2.0, 1.0), fp.free_poisson(0.5, 2.0), fp.arcsine(-1, 2),
                                        fp.bernoulli(0.3), fp.kesten_mckay(3)])
def test_closed_form_derivatives_match_difference_quotients(law):
    z = np.array([0.3 + 0.7j, -1.1 + 0.5j, 2.5 + 2j])
    h = 1e-5
    fd = (law._cauchy(z + h) - law._cauchy(z - h)) / (2 * h)
    assert np.allclose(law._cauchy_derivative(z), fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("law, density", [
    (fp.marchenko_pastur(2.0), lambda t, a=0.17157287525380985, b=5.82842712474619:
        mpmath.sqrt(max((b - t) * (t - a), 0)) / (2 * mpmath.pi * 2 * t)),
    (fp.marchenko_pastur(1.0), lambda t: mpmath.sqrt(max((4 - t) * t, 0)) / (2 * mpmath.pi * t)),
    (fp.kesten_mckay(3), lambda t: 3 * mpmath.sqrt(max(8 - t * t, 0)) / (2 * mpmath.pi * (9 - t * t))),
])
def test_generic_cdf_against_mpmath(law, density):
    # the generic cdf (Gauss–Legendre in the arcsine variable) against mpmath on the closed-form density
    a, b = law.support
    pts, w = law.atoms
    lo = law._ac_hull[0]
    for x in np.linspace(a + 0.03 * (b - a), b - 0.03 * (b - a), 5):
        with mpmath.workdps(20):
            ref = float(mpmath.quad(density, [lo, x])) if x > lo else 0.0
        ref += w[pts <= x].sum() if len(pts) else 0.0
        assert abs(float(law.cdf(x)) - ref) < 1e-8
