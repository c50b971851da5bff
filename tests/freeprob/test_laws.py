"""Closed-form laws against independent quadrature, the oracles and known moment sequences."""
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

import freeprob as fp


def _quad_cauchy(law, z):
    """G(z) = ∫ pdf(t)/(z-t) dt + Σ w/(z-p), by adaptive quadrature of the density."""
    a, b = law.support
    f = lambda t, part: (law.pdf(t) / (z - t)).real if part == 0 else (law.pdf(t) / (z - t)).imag
    re = integrate.quad(f, a, b, args=(0,), limit=400, epsabs=1e-13)[0]
    im = integrate.quad(f, a, b, args=(1,), limit=400, epsabs=1e-13)[0]
    pts, w = law.atoms
    return re + 1j * im + sum(wi / (z - p) for p, wi in zip(pts, w))


LAWS = [
    fp.semicircle(var=1.0),
    fp.semicircle(var=2.5, mean=-1.0),
    fp.free_poisson(rate=1.0, jump=1.0),
    fp.free_poisson(rate=0.4, jump=2.0),
    fp.marchenko_pastur(ratio=0.5, var=1.5),
    fp.marchenko_pastur(ratio=3.0),
    fp.arcsine(-2, 2),
    fp.arcsine(0.5, 3.0),
]


@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_cauchy_matches_quadrature_of_pdf(law):
    rng = np.random.default_rng(0)
    a, b = law.support
    for _ in range(4):
        z = rng.uniform(a - 1, b + 1) + 1j * rng.uniform(0.3, 2.0)
        assert abs(law.cauchy(z) - _quad_cauchy(law, z)) < 1e-8


def test_oracles():
    assert abs(fp.semicircle(1.0).cauchy(1 + 1j) - (0.257065864121677 - 0.529085513635746j)) < 1e-14
    assert abs(fp.free_poisson(1, 1).cauchy(1 + 1j) - (0.106924311121288 - 0.636009824757034j)) < 1e-14


def test_moment_sequences():
    cat = [comb(2 * k, k) / (k + 1) for k in range(1, 6)]
    assert np.allclose(fp.semicircle(1.0).moments(10)[1::2], cat, rtol=1e-14)
    lam, al = 0.7, 1.3
    m = fp.free_poisson(lam, al).moments(3)
    assert np.allclose(m, [lam * al, al**2 * lam * (lam + 1), al**3 * lam * (lam**2 + 3 * lam + 1)], rtol=1e-13)
    assert np.allclose(fp.arcsine(-2, 2).moments(8)[1::2], [comb(2 * k, k) for k in range(1, 5)], rtol=1e-14)


@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_moments_match_quadrature(law):
    # adaptive quadrature of the density (an independent route from the closed-form moments)
    a, b = law.support
    pts, w = law.atoms
    quad = [
        integrate.quad(lambda t: law.pdf(t) * t**k, a, b, limit=400, epsabs=1e-12)[0] + (w * pts**k).sum()
        for k in range(1, 5)
    ]
    assert np.allclose(law.moments(4), quad, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_total_mass_and_cdf(law):
    a, b = law.support
    pts, w = law.atoms
    mass = integrate.quad(lambda t: law.pdf(t), a, b, limit=400)[0] + w.sum()
    assert abs(mass - 1) < 1e-7
    assert law.cdf(b) == pytest.approx(1.0, abs=1e-12)
    q = np.array([0.2, 0.5, 0.9])
    q = q[q > (w.sum() if len(pts) and pts[0] == a else 0)]
    assert np.allclose(law.cdf(law.ppf(q)), q, atol=1e-9)


def test_closed_form_r_and_s_match_generic_inversion():
    mp = fp.free_poisson(0.6, 1.7)
    w = np.array([0.05 + 0.02j, 0.1, -0.08 + 0.03j])
    assert np.allclose(mp.r_transform(w), fp.Law.r_transform(mp, w), atol=1e-9)
    z = np.array([0.1, 0.05, -0.2])  # small |z|: the generic Newton route stays off the cut
    assert np.allclose(mp.s_transform(z), fp.Law.s_transform(mp, z), atol=1e-9)
    sc = fp.semicircle(2.0, 0.5)
    assert np.allclose(sc.r_transform(w), fp.Law.r_transform(sc, w), atol=1e-9)


@given(st.lists(st.floats(-3, 3), min_size=1, max_size=6), st.data())
def test_atoms_cauchy_maps_upper_to_lower(points, data):
    raw = data.draw(st.lists(st.floats(0.01, 1), min_size=len(points), max_size=len(points)))
    w = np.array(raw) / sum(raw)
    law = fp.atoms(points, w)
    z = data.draw(st.complex_numbers(max_magnitude=10, allow_nan=False)).real + 1j * data.draw(st.floats(1e-3, 5))
    assert law.cauchy(z).imag < 0
    assert law.cdf(max(points)) == pytest.approx(1.0)


def test_affine_maps():
    sc = fp.semicircle(1.0)
    z = 0.3 + 0.7j
    assert abs(sc.scale(2).cauchy(z) - fp.semicircle(4.0).cauchy(z)) < 1e-13
    assert abs(sc.scale(-1).shift(1).cauchy(z) - fp.semicircle(1.0, 1.0).cauchy(z)) < 1e-13
    assert np.allclose(sc.shift(2).moments(3), fp.semicircle(1.0, 2.0).moments(3))


@pytest.mark.parametrize(
    "ctor, kwargs, name",
    [
        (fp.semicircle, {"var": -1}, "var"),
        (fp.marchenko_pastur, {"ratio": 0}, "ratio"),
        (fp.free_poisson, {"rate": -2}, "rate"),
        (fp.bernoulli, {"p": 1.5}, "p"),
        (fp.arcsine, {"a": 2, "b": 1}, "a must be < b"),
        (fp.atoms, {"points": [0, 1], "weights": [0.3, 0.3]}, "weights"),
    ],
)
def test_bad_parameters(ctor, kwargs, name):
    with pytest.raises(ValueError, match=name):
        ctor(**kwargs)


def test_bad_arguments():
    sc = fp.semicircle()
    with pytest.raises(ValueError, match="z"):
        sc.cauchy(0.5)  # on the support
    with pytest.raises(ValueError, match="z"):
        sc.cauchy(np.array(["a"]))
    with pytest.raises(ValueError, match="support"):
        sc.s_transform(0.1)
    with pytest.raises(ValueError, match="n"):
        sc.moments(0)


# ----------------------------------------------------------------------------- public G' (issue 12)
def _quad_cauchy_derivative(law, z):
    """G'(z) = -∫ pdf(t)/(z-t)^2 dt - Σ w/(z-p)^2 by adaptive quadrature of the density (valid at any z
    off the support, either half-plane)."""
    a, b = law.support
    f = lambda t, part: (-law.pdf(t) / (z - t) ** 2).real if part == 0 else (-law.pdf(t) / (z - t) ** 2).imag
    re = integrate.quad(f, a, b, args=(0,), limit=400, epsabs=1e-13)[0]
    im = integrate.quad(f, a, b, args=(1,), limit=400, epsabs=1e-13)[0]
    pts, w = law.atoms
    return re + 1j * im - sum(wi / (z - p) ** 2 for p, wi in zip(pts, w))


DERIVATIVE_LAWS = LAWS + [
    fp.boxplus(fp.semicircle(1.0), fp.marchenko_pastur(0.5)),          # solver law: implicit derivative
    fp.pushforward(fp.uniform(0.5, 2.0), lambda t: t * t, name="u^2"),  # pushforward's own G'
]


@pytest.mark.parametrize("law", DERIVATIVE_LAWS, ids=repr)
def test_cauchy_derivative_against_quadrature_in_both_half_planes(law):
    """The public G' against -∫ dμ/(z-t)^2 (an independent route: quadrature of the density) above,
    below (where the quadrature is the integral itself, not a reflection) and on the real axis off the
    hull, where G' is real and negative."""
    rng = np.random.default_rng(3)
    a, b = law.support
    pts = [complex(rng.uniform(a - 1, b + 1), s * rng.uniform(0.3, 2.0)) for s in (1, -1, 1, -1)]
    pts += [complex(b + 0.7, 0.0), complex(a - 1.3, 0.0)]
    for z in pts:
        d = complex(law.cauchy_derivative(z))
        ref = _quad_cauchy_derivative(law, z)
        assert abs(d - ref) < 1e-8 * max(1.0, abs(ref)), (z, d, ref)
    real = law.cauchy_derivative(np.array([b + 0.7, a - 1.3]))
    assert np.all(real.imag == 0) and np.all(real.real < 0)


def test_cauchy_derivative_semicircle_closed_form_and_reflection():
    """Semicircle of variance 1: G(z) = (z - sqrt(z-2) sqrt(z+2))/2 on C minus [-2, 2] (the product of
    principal roots is the branch ~ z at infinity, in either half-plane), so
    G'(z) = (1 - z/(sqrt(z-2) sqrt(z+2)))/2, by mpmath at 30 digits; G(conj z) = conj G(z) and
    G'(conj z) = conj G'(z) hold in the lower half-plane (the plain formula there, not a copy)."""
    import mpmath as mp

    sc = fp.semicircle(1.0)
    zs = [0.3 + 0.01j, -1.7 + 0.5j, 2.5 - 1e-3j, -0.2 - 3j, 4.0, -2.0000001, 1e4 + 1j]
    with mp.workdps(30):
        for z in zs:
            zz = mp.mpc(z.real, z.imag) if isinstance(z, complex) else mp.mpf(z)
            root = mp.sqrt(zz - 2) * mp.sqrt(zz + 2)
            g = complex((zz - root) / 2)
            dg = complex((1 - zz / root) / 2)
            assert abs(complex(sc.cauchy(z)) - g) <= 1e-14 * abs(g), z
            # G' = -G^2/(1 - G^2) (the closed form in use) is conditioned by 1/|1 - G^2|, ~1600 at 1e-7
            # from the edge: a few ulp of that on top of the generic 1e-13
            assert abs(complex(sc.cauchy_derivative(z)) - dg) <= (1e-13 + 2e-15 / abs(1 - g * g)) * abs(dg), z
            if isinstance(z, complex) and z.imag > 0:
                assert complex(sc.cauchy_derivative(z.conjugate())) == complex(sc.cauchy_derivative(z)).conjugate()
    assert sc.cauchy_derivative(np.array([0.3 + 1j])).shape == (1,)


def test_cauchy_derivative_rejects_points_of_the_support():
    sc = fp.semicircle()
    with pytest.raises(ValueError, match="z = .*support"):
        sc.cauchy_derivative(0.5)
    with pytest.raises(ValueError, match="z"):
        sc.cauchy_derivative(np.array(["a"]))
    law = fp.atoms([0.0, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="support"):
        law.cauchy_derivative(1.0)                              # an atom
    assert law.cauchy_derivative(0.5) == pytest.approx(-0.5 / 0.25 - 0.5 / 0.25)   # between the atoms
