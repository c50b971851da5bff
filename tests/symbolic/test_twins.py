"""Symbolic twins of the built-in laws against the numeric core and independent closed forms."""
from fractions import Fraction
from math import comb

import numpy as np
import pytest
import sympy as sp

import freeprob as fp
import freeprob.symbolic as fs
from freeprob.symbolic import G, z


def _numeric_laws():
    out = [
        fp.semicircle(var=1.7, mean=-0.3),
        fp.free_poisson(rate=0.5, jump=1.0),
        fp.free_poisson(rate=2.5, jump=0.5),
        fp.marchenko_pastur(ratio=0.3, var=2.0),
        fp.arcsine(-1.0, 3.0),
        fp.bernoulli(0.3),
        fp.atoms([-1.0, 0.5, 2.0], [0.2, 0.5, 0.3]),
    ]
    out += [fp.kesten_mckay(3), fp.kesten_mckay(5)]
    out += [fp.fuss_catalan(2), fp.fuss_catalan(3)]
    return out


def _points(rng, law, n=50):
    a, b = law.support
    r = max(b - a, 1.0)
    x = rng.uniform(a - 0.5 * r, b + 0.5 * r, n)
    y = np.exp(rng.uniform(np.log(1e-3), np.log(5.0), n)) * r
    return x + 1j * y


@pytest.mark.parametrize("law", _numeric_laws(), ids=repr)
def test_polynomial_vanishes_on_numeric_cauchy(law):
    twin = fs.algebraic(law)
    zs = _points(np.random.default_rng(1), law)
    g = np.asarray(law.cauchy(zs))
    # relative residual: |P(G, z)| over the sum of the moduli of its monomials
    p = sp.Poly(twin.polynomial, G, z)
    terms = [(float(c), b, a) for (b, a), c in p.terms()]
    val = sum(c * g ** b * zs ** a for c, b, a in terms)
    size = sum(abs(c) * np.abs(g) ** b * np.abs(zs) ** a for c, b, a in terms)
    assert np.max(np.abs(val) / size) < 1e-10


@pytest.mark.parametrize("law", _numeric_laws(), ids=repr)
def test_exact_moments_equal_numeric(law):
    twin = fs.algebraic(law)
    exact = np.array([float(m) for m in twin.moments(8)])
    assert np.allclose(law.moments(8), exact, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("law", _numeric_laws(), ids=repr)
def test_to_numeric_follows_the_branch(law):
    twin = fs.algebraic(law)
    zs = _points(np.random.default_rng(2), law)
    num = twin.to_numeric()
    assert np.allclose(num.cauchy(zs), law.cauchy(zs), rtol=1e-10, atol=1e-12)
    pts, w = law.atoms
    npts, nw = num.atoms
    assert np.allclose(np.sort(pts), np.sort(npts)) and np.allclose(w[np.argsort(pts)], nw[np.argsort(npts)], atol=1e-7)


def test_derived_numeric_laws_convert():
    law = fs.algebraic(fp.semicircle(var=2.0).scale(0.5).shift(1.0))
    assert law.moments(2) == [1, sp.Rational(3, 2)]
    law = fs.algebraic(fp.boxplus(fp.semicircle(), fp.free_poisson()))
    assert law.moments(4) == [1, 3, 8, 26]


def test_oracles():
    # REFERENCES.md oracles, independent of any code
    assert abs(complex(fs.semicircle().to_numeric().cauchy(1 + 1j)) - (0.257065864121677 - 0.529085513635746j)) < 1e-14
    assert abs(complex(fs.free_poisson().to_numeric().cauchy(1 + 1j)) - (0.106924311121288 - 0.636009824757034j)) < 1e-14
    g = fs.semicircle().cauchy().subs(z, 1 + sp.I)
    assert abs(complex(sp.N(g, 20)) - (0.257065864121677 - 0.529085513635746j)) < 1e-14


def test_closed_form_moments():
    # Catalan, Narayana, central binomial, Kesten–McKay and Fuss–Catalan counts (exact)
    assert fs.semicircle(var=sp.Rational(3, 2)).moments(6) == [0, sp.Rational(3, 2), 0, sp.Rational(9, 2), 0,
                                                              sp.Rational(27, 8) * 5]
    assert fs.arcsine().moments(8) == [0, 2, 0, 6, 0, 20, 0, 70]
    assert fs.kesten_mckay(3).moments(8) == [0, 3, 0, 15, 0, 87, 0, 543]
    for s in (1, 2, 3):
        assert fs.fuss_catalan(s).moments(7) == [Fraction(comb((s + 1) * n, n), s * n + 1) for n in range(1, 8)]


def test_symbolic_parameters():
    c = sp.Symbol("c", positive=True)
    mp = fs.marchenko_pastur(ratio=c)
    # m_n = sum_k Narayana(n, k) c^(n-k) for (1/M) X X^T with N/M -> c
    for n, m in enumerate(mp.moments(6), start=1):
        nar = sum(sp.Rational(comb(n, k) * comb(n, k - 1), n) * c ** (n - k) for k in range(1, n + 1))
        assert sp.expand(m - nar) == 0
    assert [sp.simplify(k - c ** (i)) for i, k in enumerate(mp.free_cumulants(5))] == [0] * 5
    assert sp.simplify(mp.r_transform() - 1 / (1 - c * fs.w)) == 0
    assert sp.simplify(mp.s_transform() - 1 / (1 + c * z)) == 0
    v, m0 = sp.symbols("v m", positive=True)
    sc = fs.semicircle(var=v, mean=m0)
    assert sp.simplify(sc.r_transform() - (m0 + v * fs.w)) == 0
    # substituting the parameter commutes with the law
    assert mp.subs({c: sp.Rational(1, 3)}).moments(5) == fs.marchenko_pastur(ratio=sp.Rational(1, 3)).moments(5)


def test_explicit_transforms():
    rng = np.random.default_rng(3)
    # Cauchy transforms of degree 2 are valid on the whole upper half-plane (split square roots)
    for law in (fp.semicircle(var=2.0, mean=1.0), fp.free_poisson(0.4, 2.0), fp.kesten_mckay(4), fp.arcsine(0, 3)):
        f = sp.lambdify(z, fs.algebraic(law).cauchy(), "numpy")
        zs = _points(rng, law, 30)
        assert np.allclose(f(zs), law.cauchy(zs), rtol=1e-10, atol=1e-12)
    # R and S transforms against REFERENCES.md formulas
    wv = np.array([0.05, 0.1 + 0.05j, -0.2])
    r = sp.lambdify(fs.w, fs.kesten_mckay(3).r_transform(), "numpy")
    assert np.allclose(r(wv), 3 * (np.sqrt(1 + 4 * wv ** 2) - 1) / (2 * wv))
    r = sp.lambdify(fs.w, fs.atoms([-1, 1]).r_transform(), "numpy")
    assert np.allclose(r(wv), (np.sqrt(1 + 4 * wv ** 2) - 1) / (2 * wv))
    s = sp.lambdify(z, fs.bernoulli(sp.Rational(1, 3)).s_transform(), "numpy")
    assert np.allclose(s(wv), (1 + wv) / (sp.Rational(1, 3) + wv).__float__() if False else (1 + wv) / (1 / 3 + wv))
    s = sp.lambdify(z, fs.free_poisson(3, sp.Rational(1, 2)).s_transform(), "numpy")
    assert np.allclose(s(wv), 1 / (0.5 * (3 + wv)))
    # Fuss–Catalan: S(z) = (1+z)^(-s) solves the S-polynomial
    for s_ in (2, 3):
        ps = fs.fuss_catalan(s_).s_polynomial()
        assert sp.simplify(ps.subs(fs.S, (1 + z) ** (-s_))) == 0


def test_cauchy_radicals_on_request():
    law = fs.boxplus(fs.semicircle(), fs.free_poisson())
    with pytest.raises(ValueError, match="max_degree"):
        law.cauchy()
    f = sp.lambdify(z, law.cauchy(max_degree=3), "mpmath")
    num = law.to_numeric()
    # principal radicals: the expression is the Cauchy transform near the ray z = iy, y large
    # (documented); elsewhere the cube roots may switch branch, which to_numeric() handles
    import mpmath

    for zz in (30j, 100j, 1e4j):
        with mpmath.workdps(40):  # Cardano's formula cancels badly far out; evaluate it at 40 digits
            val = complex(f(mpmath.mpc(0, zz.imag)))
        assert abs(val - complex(num.cauchy(zz))) < 1e-12 * abs(val)


def test_support_edges_closed_forms():
    lam, al = sp.Rational(1, 2), 2
    edges = fs.free_poisson(lam, al).support_edges()
    assert [sp.simplify(e - v) for e, v in zip(edges, [al * (1 - sp.sqrt(lam)) ** 2, al * (1 + sp.sqrt(lam)) ** 2])] == [0, 0]
    assert fs.semicircle(var=3).support_edges() == [-2 * sp.sqrt(3), 2 * sp.sqrt(3)]
    assert [sp.simplify(e) for e in fs.kesten_mckay(5).support_edges()] == [-4, 4]


@pytest.mark.parametrize("poly, msg", [
    ((G * z - 1) * (G - z), "irreducible"),
    (G ** 2 - z, "1/z"),
    (z - 1, "must involve G"),
    (G ** 2 * z ** 2 - 1 + 0 * z, "irreducible"),
])
def test_bad_polynomials(poly, msg):
    with pytest.raises(ValueError, match=msg):
        fs.AlgebraicLaw(poly)


def test_bad_branch_data_and_names():
    with pytest.raises(ValueError, match="inconsistent"):
        fs.AlgebraicLaw(G ** 2 - z * G + 1, moments=[1])
    with pytest.raises(ValueError, match="reserved"):
        fs.AlgebraicLaw(G ** 2 - z * G + fs.w)


def test_bad_parameters_and_non_algebraic():
    with pytest.raises(ValueError, match=r"var must lie in \(0, inf\)"):
        fs.semicircle(var=-1)
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]"):
        fs.bernoulli(1.5)
    with pytest.raises(ValueError, match="s must be an integer"):
        fs.fuss_catalan(1.5)
    with pytest.raises(ValueError, match="weights must sum to 1"):
        fs.atoms([0, 1], [0.5, 0.6])
    non_algebraic = [fp.uniform(0, 1), fp.boxplus(fp.uniform(0, 1), fp.semicircle())]
    for law in non_algebraic:
        with pytest.raises(ValueError, match="not an algebraic law.*numeric"):
            fs.algebraic(law)
    with pytest.raises(ValueError, match="numeric parameters"):
        fs.semicircle(var=sp.Symbol("v", positive=True)).to_numeric()
