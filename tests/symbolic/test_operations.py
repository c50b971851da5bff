"""⊞, ⊠ and closure operations by resultants, against REFERENCES.md and independent computations."""
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

import freeprob as fp
import freeprob.symbolic as fs
from freeprob.combinatorics import free_cumulants_to_moments, moments_to_free_cumulants
from freeprob.symbolic import G, z
from freeprob.symbolic.subordination import eta, omega1, omega2, subordination_equations


def _proportional(p, q):
    """p = c q for a nonzero constant c."""
    ratio = sp.cancel(p / q)
    return ratio.free_symbols.isdisjoint({G, z}) and ratio != 0


def test_semicircle_boxplus_mp_is_the_reference_cubic():
    law = fs.boxplus(fs.semicircle(), fs.free_poisson())
    assert _proportional(law.polynomial, G ** 3 - (1 + z) * G ** 2 + z * G - 1)
    assert law.moments(6) == [1, 3, 8, 26, 87, 308]


def test_bernoulli_boxplus_bernoulli_is_arcsine():
    assert _proportional(fs.boxplus(fs.atoms([-1, 1]), fs.atoms([-1, 1])).polynomial, fs.arcsine(-2, 2).polynomial)
    half = fs.bernoulli(sp.Rational(1, 2))
    assert _proportional(fs.boxplus(half, half).polynomial, fs.arcsine(0, 2).polynomial)
    # Bernoulli^{⊞d} = Kesten–McKay(d), by repeated ⊞ and by the free power
    b = fs.atoms([-1, 1])
    assert _proportional(fs.boxplus(fs.boxplus(b, b), b).polynomial, fs.kesten_mckay(3).polynomial)
    assert _proportional(fs.free_power(b, 4).polynomial, fs.kesten_mckay(4).polynomial)


def test_semicircles_add():
    assert _proportional(fs.boxplus(fs.semicircle(2, 1), fs.semicircle(3, -2)).polynomial,
                         fs.semicircle(5, -1).polynomial)


def test_mp_boxtimes_mp_is_fuss_catalan():
    assert _proportional(fs.boxtimes(fs.free_poisson(), fs.free_poisson()).polynomial, fs.fuss_catalan(2).polynomial)
    fc3 = fs.boxtimes(fs.fuss_catalan(2), fs.free_poisson())
    assert _proportional(fc3.polynomial, fs.fuss_catalan(3).polynomial)
    # MP(λ1) ⊠ MP(λ2): S = 1/((λ1 + z)(λ2 + z))
    l1, l2 = sp.Rational(1, 2), 3
    law = fs.boxtimes(fs.free_poisson(l1), fs.free_poisson(l2))
    assert sp.simplify(law.s_polynomial().subs(fs.S, 1 / ((l1 + z) * (l2 + z)))) == 0


def test_symbolic_parameter_convolution_specialises():
    c = sp.Symbol("c", positive=True)
    law = fs.boxplus(fs.semicircle(var=c), fs.marchenko_pastur(ratio=c))
    val = sp.Rational(2, 5)
    direct = fs.boxplus(fs.semicircle(var=val), fs.marchenko_pastur(ratio=val))
    assert _proportional(law.polynomial.subs(c, val), direct.polynomial)
    assert [sp.simplify(m.subs(c, val) - d) for m, d in zip(law.moments(5), direct.moments(5))] == [0] * 5


def test_support_edges_match_numeric_boxplus():
    law = fs.boxplus(fs.semicircle(), fs.free_poisson())
    edges = [float(sp.N(e, 30)) for e in law.support_edges()]
    num = fp.boxplus(fp.semicircle(), fp.free_poisson())
    # independent: the numeric subordination density switches off at the exact edges
    for e, side in zip(edges, (-1, 1)):
        d1, d4 = num.pdf(e - side * 1e-4), num.pdf(e - side * 4e-4)
        assert d1 > 1e-4 and num.pdf(e + side * 1e-4) == pytest.approx(0.0, abs=1e-7)
        # square-root edge exactly at e: ρ(e - 4δ)/ρ(e - δ) = 2 + O(δ); an edge off by ε shifts it by O(ε/δ)
        assert d4 / d1 == pytest.approx(2.0, abs=2e-2)
    assert num.support[0] <= edges[0] + 1e-8 and edges[1] - 1e-8 <= num.support[1]


def test_bernoulli_boxtimes_edges_and_atoms():
    p, q = sp.Rational(1, 2), sp.Rational(3, 10)
    law = fs.boxtimes(fs.bernoulli(p), fs.bernoulli(q))
    rp = p + q - 2 * p * q + sp.sqrt(4 * p * q * (1 - p) * (1 - q))
    rm = p + q - 2 * p * q - sp.sqrt(4 * p * q * (1 - p) * (1 - q))
    edges = law.support_edges()
    assert [sp.simplify(e - r) for e, r in zip(edges, (rm, rp))] == [0, 0]
    pts, w = law.to_numeric().atoms
    # free projections: atom at 0 of mass 1 - min(p, q) = 0.7, none at 1 since p + q < 1
    assert np.allclose(pts, [0.0]) and np.allclose(w, [0.7], atol=1e-7)
    assert law.moments(1) == [p * q]


def test_closure_operations():
    sc = fs.semicircle()
    assert sc.scale(3).moments(4) == [0, 9, 0, 162]
    assert sc.shift(2).moments(2) == [2, 5]
    # compression of a symmetric Bernoulli by t = 1/2 is the arcsine law on [-1, 1]
    assert _proportional(fs.atoms([-1, 1]).compression(sp.Rational(1, 2)).polynomial, fs.arcsine(-1, 1).polynomial)
    comp = fs.semicircle(var=4).compression(sp.Rational(1, 4))
    assert comp.free_cumulants(3) == [0, 1, 0]
    # Wishart-type product: m2 = τ(t²) + c τ(t)² for T ⊠ MP(c) (exact count of NC pairings)
    law = fs.wishart(fs.atoms([1, 2]), sp.Rational(1, 2))
    assert law.moments(2) == [sp.Rational(3, 2), sp.Rational(5, 2) + sp.Rational(1, 2) * sp.Rational(9, 4)]


def test_inverse_law_moments_by_quadrature():
    mp = fp.marchenko_pastur(ratio=0.5)
    inv = fs.marchenko_pastur(ratio=sp.Rational(1, 2)).inverse()
    a, b = mp.support
    for k, m in enumerate(inv.moments(3), start=1):
        quad, _ = integrate.quad(lambda x: x ** -k * mp.pdf(x), a, b, limit=200)
        assert float(m) == pytest.approx(quad, rel=1e-8)
    assert inv.moments(2) == [2, 8]  # E[1/X] = 1/(1-c), E[X^-2] = 1/(1-c)^3
    # shifted semicircle: irrational negative moments, checked by quadrature
    inv = fs.semicircle().shift(3).inverse()
    num = fp.semicircle(mean=3.0)
    quad, _ = integrate.quad(lambda x: num.pdf(x) / x, 1, 5)
    assert float(inv.moments(1)[0]) == pytest.approx(quad, rel=1e-9)
    with pytest.raises(ValueError, match="outside the support"):
        fs.semicircle().inverse()


def test_subordination_equations_hold_for_the_numeric_solver():
    zz = 0.7 + 0.4j
    eqs = subordination_equations(fs.semicircle(), fs.free_poisson(2, 1))
    num = fp.boxplus(fp.semicircle(), fp.free_poisson(2.0, 1.0))
    w1, w2 = num.subordination(zz)
    res = eqs.residuals({G: complex(num.cauchy(zz)), omega1: complex(w1[0]), omega2: complex(w2[0]), z: zz})
    assert max(res) < 1e-9
    eqs = subordination_equations(fs.free_poisson(2, 1), fs.free_poisson(3, sp.Rational(1, 2)), "boxtimes")
    num = fp.boxtimes(fp.free_poisson(2.0, 1.0), fp.free_poisson(3.0, 0.5))
    big1, big2 = num.subordination(zz)   # numeric core returns 1/omega in the z-plane
    zeta = 1 / zz
    res = eqs.residuals({eta: 1 - zeta / complex(num.cauchy(zz)), omega1: 1 / complex(big1[0]),
                         omega2: 1 / complex(big2[0]), z: zeta})
    assert max(res) < 1e-9
    assert r"\begin{cases}" in eqs.latex() and "ω" in eqs.pretty()
    with pytest.raises(ValueError, match="kind"):
        subordination_equations(fs.semicircle(), fs.semicircle(), "boxminus")


def test_boxtimes_needs_nonzero_mean():
    with pytest.raises(ValueError, match="nonzero mean"):
        fs.boxtimes(fs.semicircle(), fs.free_poisson())


# -- property tests -------------------------------------------------------------------------
_RAT = st.fractions(min_value=Fraction(1, 5), max_value=Fraction(3), max_denominator=7)


@st.composite
def _law_with_cumulants(draw):
    """(twin, exact free cumulants κ_1..κ_6 from closed forms, not from the twin)."""
    kind = draw(st.sampled_from(["semicircle", "free_poisson", "bernoulli"]))
    if kind == "semicircle":
        v, m = draw(_RAT), draw(_RAT) - 1
        return fs.semicircle(var=sp.Rational(v), mean=sp.Rational(m)), [m, v, 0, 0, 0, 0]
    if kind == "free_poisson":
        lam, al = draw(_RAT), draw(_RAT)
        return fs.free_poisson(sp.Rational(lam), sp.Rational(al)), [lam * al ** n for n in range(1, 7)]
    p = draw(st.fractions(min_value=Fraction(1, 7), max_value=Fraction(6, 7), max_denominator=7))
    return fs.bernoulli(sp.Rational(p)), moments_to_free_cumulants([p] * 6)


@given(_law_with_cumulants(), _law_with_cumulants())
def test_boxplus_moments_equal_summed_cumulants(a, b):
    (la, ka), (lb, kb) = a, b
    law = fs.boxplus(la, lb)
    expected = free_cumulants_to_moments([Fraction(x) + Fraction(y) for x, y in zip(ka, kb)])
    assert [Fraction(int(m.p), int(m.q)) for m in law.moments(6)] == expected


# each example builds a numeric ⊞ law and its support (~1 s): 12 examples by default, the
# "thorough" profile's count otherwise
@settings(max_examples=12 if settings.default.max_examples <= 25 else settings.default.max_examples)
@given(st.fractions(min_value=Fraction(1, 4), max_value=Fraction(3), max_denominator=5),
       st.fractions(min_value=Fraction(1, 4), max_value=Fraction(2), max_denominator=5))
def test_symbolic_density_equals_numeric(v, lam):
    law = fs.boxplus(fs.semicircle(var=sp.Rational(v)), fs.free_poisson(sp.Rational(lam)))
    dens = law.density()
    num = fp.boxplus(fp.semicircle(var=float(v)), fp.free_poisson(float(lam)))
    a, b = num.support
    xs = np.linspace(a, b, 11)[1:-1]
    assert np.allclose(dens(xs), num.pdf(xs), atol=1e-7)


def test_cubic_density_formula_vanishes_off_the_support():
    # the two non-Cauchy roots of the cubic can be a conjugate pair outside the support
    law = fs.boxtimes(fs.free_poisson(sp.Rational(7, 4)), fs.free_poisson(sp.Rational(5, 4)))
    dens = law.density()
    lo, hi = (float(e) for e in dens.edges)
    xs = np.linspace(lo - 1, hi + 1, 81)
    num = fp.boxtimes(fp.free_poisson(1.75), fp.free_poisson(1.25))
    assert np.allclose(dens(xs), num.pdf(xs), atol=1e-7)
    assert np.allclose(dens(xs), law.to_numeric().pdf(xs), atol=1e-10)


def test_quartic_branch_tracking_matches_numeric_boxplus():
    # degree 4 in G: no density formula, so this exercises the homotopy tracking from i∞
    law = fs.boxplus(fs.kesten_mckay(3), fs.free_poisson(2))
    assert law.degree == 4 and law.density().expr is None
    num = fp.boxplus(fp.kesten_mckay(3), fp.free_poisson(2.0))
    track = law.to_numeric()
    rng = np.random.default_rng(5)
    zs = rng.uniform(-4, 9, 40) + 1j * np.exp(rng.uniform(np.log(1e-4), np.log(5), 40))
    assert np.allclose(track.cauchy(zs), num.cauchy(zs), rtol=1e-10, atol=1e-12)
    lo, hi = (float(e) for e in law.support_edges())
    xs = np.linspace(lo, hi, 33)[1:-1]
    assert np.allclose(track.pdf(xs), num.pdf(xs), atol=1e-8)
    assert np.allclose(num.support, (lo, hi), atol=1e-9)


def test_branch_data_singles_out_the_cauchy_transform():
    inv = fs.semicircle().shift(3).inverse()
    assert inv.branch_data == (sp.Rational(3, 2) - sp.sqrt(5) / 2,)
    with pytest.raises(ValueError, match="several branches"):
        fs.AlgebraicLaw(inv.polynomial)
    again = fs.AlgebraicLaw(inv.polynomial, moments=inv.branch_data)
    # E[X^-2] for X = 3 + semicircle, by quadrature of the semicircle density
    num = fp.semicircle(mean=3.0)
    quad, _ = integrate.quad(lambda x: num.pdf(x) / x ** 2, 1, 5)
    assert float(again.moments(2)[1]) == pytest.approx(quad, rel=1e-9)
    # the numeric face follows the branch picked by the data
    zz = np.array([0.3 + 0.1j, 0.5 + 1e-3j])
    # G_{1/X}(z) = 1/z - G_X(1/z)/z^2
    expected = 1 / zz - num.cauchy(1 / zz) / zz ** 2
    got = inv.to_numeric().cauchy(zz)
    assert np.allclose(got, expected, rtol=1e-9)


def test_free_projections_atom_next_to_singular_density():
    """PQP, P and Q free projections of trace ½ (Bern(½) ⊠ Bern(½)): ½δ₀ plus the density
    √((x − r₋)(r₊ − x))/(2πx(1 − x)) on [r₋, r₊], r± = p + q − 2pq ± √(4pq(1 − p)(1 − q)) = ½ ± ½
    (REFERENCES: known convolutions), i.e. 1/(2π√(x(1 − x))) on [0, 1], cdf ½ + arcsin(√x)/π; no atom
    at 1 (p + q − 1 = 0).  The inverse-square-root singularity sits on the atom: the root tracker
    used to swap the two branches m/z ± c/√z within 1e-8 of it, the fold Newton put the edge 1.6e-7
    left of it, and the density 1e-8 from it counted as rounding noise.

    Tolerances stated in advance: the standardized coordinate x~ = (x − ¼)/(1/√8) carries an
    absolute rounding ~1e-16, a relative error ~6e-17/x of the distance to the atom and so of
    the density: bound 1e-10 + 1e-15/x; cdf 1e-10."""
    law = fs.boxtimes(fs.bernoulli(sp.Rational(1, 2)), fs.bernoulli(sp.Rational(1, 2)))
    num = law.to_numeric()
    pts, w = num.atoms
    assert pts.tolist() == [0.0] and abs(w[0] - 0.5) < 1e-12
    assert len(num.intervals) == 1 and num.intervals[0] == pytest.approx((0.0, 1.0), abs=1e-12)
    xs = np.concatenate([np.geomspace(1e-8, 1e-1, 20), np.linspace(0.1, 0.99, 20), [1 - 1e-6]])
    truth = 1.0 / (2 * np.pi * np.sqrt(xs * (1 - xs)))
    assert np.all(np.abs(num.pdf(xs) - truth) <= (1e-10 + 1e-15 / xs) * truth)
    assert np.all(num.pdf(np.array([-1e-3, -1e-9, 1 + 1e-9, 1.5])) == 0.0)
    xc = np.array([-1e-9, 0.0, 1e-12, 1e-8, 1e-4, 0.25, 0.5, 0.75, 1 - 1e-8, 1.0])
    cdf_truth = np.where(xc < 0, 0.0, 0.5 + np.arcsin(np.sqrt(np.clip(xc, 0, 1))) / np.pi)
    assert np.max(np.abs(num.cdf(xc) - cdf_truth)) < 1e-10
    assert num.cdf(0.5) == pytest.approx(0.75, abs=1e-12)   # symmetry P <-> 1 - P
