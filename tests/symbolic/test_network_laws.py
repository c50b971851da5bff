"""Symbolic twins of the deep-network laws (nn_spectra.symbolic_laws) against independent truths:
the numeric laws' Cauchy transforms and moments, exact moment recursions with rationals, closed-form
edges, the mpmath chain recursion of freeprob.high_precision, and real networks (Monte Carlo)."""
from fractions import Fraction
from math import comb

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import nn_spectra as ns
from freeprob import high_precision as hp
from freeprob.combinatorics import boxtimes_moments, moments_to_free_cumulants
from freeprob.symbolic import G, z
from nn_spectra.symbolic_laws import (
    NetworkAlgebraicLaw,
    d2_atoms,
    hard_tanh_parameters,
    symbolic_conditional_fim_law,
    symbolic_jacobian_law,
)

RNG = np.random.default_rng(20261201)
# random points of C+ at moderate height (the numeric laws are exact there; near the axis they smooth)
POINTS = RNG.uniform(-1, 8, 6) + 1j * RNG.uniform(0.2, 3.0, 6)


def _rel_residual(law, g, zz):
    """|P(G, z)| relative to the sum of the moduli of its terms."""
    poly = sp.Poly(law.polynomial, G, z)
    terms = [complex(sp.N(c, 20)) * g ** a * zz ** b for (a, b), c in poly.terms()]
    return abs(sum(terms)) / sum(abs(t) for t in terms)


# depth L counts weight layers in the symbolic twins as in the numeric laws (J spans L - 1 nonlinear layers)
JACOBIAN_CASES = [
    ("relu", 2.0, 0.0, 4, "orthogonal", {}),
    ("relu", 1.5, 0.2, 5, "gaussian", {}),
    ("leaky_relu", 1.5, 0.0, 3, "orthogonal", {"alpha": 0.3}),
    ("linear", 1.0, 0.0, 4, "gaussian", {}),
]


def _numeric_jacobian(name, sw, sb, L, weights, kw):
    act = ns.activation(name, alpha=kw["alpha"]) if "alpha" in kw else name
    return ns.jacobian_law(act, sw, sb, L, weights=weights)


@pytest.mark.parametrize("name,sw,sb,L,weights,kw", JACOBIAN_CASES)
def test_jacobian_polynomial_vanishes_on_numeric_cauchy(name, sw, sb, L, weights, kw):
    law = symbolic_jacobian_law(name, sw, sb, L, weights, **kw)
    num = _numeric_jacobian(name, sw, sb, L, weights, kw)
    g = np.asarray(num.cauchy(POINTS))
    for gi, zi in zip(g, POINTS):
        assert _rel_residual(law, complex(gi), complex(zi)) < 1e-12


@pytest.mark.parametrize("name,sw,sb,L,weights,kw", JACOBIAN_CASES)
def test_jacobian_moments_equal_numeric_series(name, sw, sb, L, weights, kw):
    law = symbolic_jacobian_law(name, sw, sb, L, weights, **kw)
    num = _numeric_jacobian(name, sw, sb, L, weights, kw)
    exact = np.array([float(m) for m in law.moments(8)])
    np.testing.assert_allclose(num.moments(8), exact, rtol=1e-12)


def test_hard_tanh_jacobian_with_mean_field_p():
    sw, sb, L = 1.5, 0.1, 4
    _, p, _ = hard_tanh_parameters(sw, sb)
    law = symbolic_jacobian_law("hard_tanh", sw, sb, L)
    assert law.parameters == {sp.Symbol("p", positive=True)}
    num = ns.jacobian_law("hard_tanh", sw, sb, L)
    at = law.subs({sp.Symbol("p", positive=True): sp.Rational(mp.nstr(p, 30))})
    for gi, zi in zip(np.asarray(num.cauchy(POINTS[:3])), POINTS[:3]):
        assert _rel_residual(at, complex(gi), complex(zi)) < 1e-12
    np.testing.assert_allclose(num.moments(5), [float(m) for m in at.moments(5)], rtol=1e-12)


def test_relu_orthogonal_edge_closed_form_in_sigma():
    """Top edge (s/2)^K K^K/(K-1)^(K-1) for relu (p = 1/2) over K = L - 1 nonlinear layers, derived by
    hand from z(zeta)."""
    s = sp.Symbol("s", positive=True)
    for L in (4, 6):
        K = L - 1
        law = symbolic_jacobian_law("relu", s, 0, L)
        edges = law.parametric_edges({s: sp.Rational(3, 2)})
        top = (s / 2) ** K * sp.Integer(K) ** K / sp.Integer(K - 1) ** (K - 1)
        assert sp.simplify(edges[-1] - top) == 0


def test_jacobian_edges_exact_vs_numeric_and_mpmath():
    # leaky_relu at depth 3 (two nonlinear layers): the edges are the products of the atoms
    # (inverse-square-root edges, not folds)
    leaky = symbolic_jacobian_law("leaky_relu", 1.5, 0.0, 3, alpha=0.3)
    assert leaky.edges() == [sp.Rational(729, 40000), sp.Rational(9, 4)]   # (s^2 a^2)^2 and (s^2)^2
    for name, sw, sb, L, weights, kw in JACOBIAN_CASES[:2]:
        law = symbolic_jacobian_law(name, sw, sb, L, weights, **kw)
        edges = law.edges()
        num = _numeric_jacobian(name, sw, sb, L, weights, kw)
        top = float(sp.N(edges[-1], 30))
        assert abs(num.support[1] - top) <= 1e-12 * top
        # independent route: fold of the S-transform system in mp arithmetic
        pts, wts = zip(*[(float(t), float(w)) for t, w in d2_atoms(name, alpha=kw.get("alpha"))])
        x0 = num.support[1] * (1 + 1e-4)
        g0 = float(np.real(num.cauchy(x0 + 1e-9j)))
        x = hp.s_product_edge(pts, wts, sw, L - 1, x0, g0, weights_kind=weights, dps=45)  # K = L - 1 factors
        with mp.workdps(45):
            assert abs(x - mp.mpf(str(sp.N(edges[-1], 50)))) < mp.mpf(10) ** -40 * top


def test_numeric_jacobian_edge_at_an_atom_product():
    """Both edges of the leaky_relu Jacobian law at depth 3 (two nonlinear layers) are inverse-square-root
    edges at products of the atoms of sigma_w^2 D^2 = {1.5, 0.135}: 0.135^2 = 0.018225 and 1.5^2 = 9/4.
    The numeric law used to stop at 2.24929 (chi_J rises to a limit it only approaches) and to run
    7e-7 below the bottom edge (rounding of the real branch read as density)."""
    lo, hi = _numeric_jacobian(*JACOBIAN_CASES[2]).support
    assert abs(hi - 2.25) <= 1e-12 * 2.25
    assert abs(lo - 0.018225) <= 1e-12 * 0.018225


def test_exact_atoms():
    assert symbolic_jacobian_law("relu", 2, 0, 4).exact_atoms() == [(0, sp.Rational(1, 2))]
    assert symbolic_jacobian_law("relu", 2, 0, 4, "gaussian").exact_atoms() == [(0, sp.Rational(1, 2))]
    assert symbolic_jacobian_law("leaky_relu", 1.5, 0, 3, alpha=0.3).exact_atoms() == []
    f3 = symbolic_conditional_fim_law("relu", 1.5, 0.3, 3)
    assert f3.exact_atoms() == [(sp.Rational(3, 5), sp.Rational(1, 2))]
    f2 = symbolic_conditional_fim_law("relu", 1.5, 0.3, 2)
    assert f2.exact_atoms() == [(sp.Rational(3, 5), sp.Rational(1, 2)), (sp.Rational(3, 2), sp.Rational(1, 2))]


@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_one_network_description_same_law_symbolic_and_numeric(weights):
    """One Network (depth = 4 weight layers, so 3 nonlinear layers in J) given to the symbolic twin
    and to the numeric law: the same exact top edge and moments, and both equal to the closed forms
    of critical relu over K = 3 layers (orthogonal: edge K^K/(K-1)^(K-1) = 27/4, m_2 = 1 + K)."""
    net = ns.Network("relu", 2.0, 0.0, depth=4, weights=weights)
    sym, num = symbolic_jacobian_law(net), ns.jacobian_law(net)
    top = sym.edges()[-1]
    assert abs(num.support[1] - float(top)) <= 1e-10 * float(top)
    exact = [float(m) for m in sym.moments(4)]
    np.testing.assert_allclose(num.moments(4), exact, rtol=1e-12)
    # independent closed forms at K = 3: var = K (mu2/mu1^2 - 1 - s1) with mu2/mu1^2 = 2, s1 = 0 or -1
    assert exact[1] - 1 == (3 if weights == "orthogonal" else 6)
    if weights == "orthogonal":
        assert top == sp.Rational(27, 4)
    # the same description to the sampler: its Jacobian spans the same 3 nonlinear layers
    assert net.with_widths(8).sample(rng=0).depth == net.depth and net.hidden_layers == 3


def test_one_network_description_conditional_fim():
    net = ns.Network("relu", 1.5, 0.3, depth=3, weights="orthogonal")
    sym, num = symbolic_conditional_fim_law(net), ns.conditional_fim_law(net)
    assert sym.edges() == [sp.Rational(3, 2), sp.Rational(57, 20)]      # closed form (module docstring)
    assert abs(num.support[1] - 57 / 20) <= 1e-10
    np.testing.assert_allclose(num.moments(3), [float(m) for m in sym.moments(3)], rtol=1e-12)


# ----------------------------------------------------------------------------- conditional Fisher
def _exact_fim_moments(atoms, s2, qh, L, n):
    """nu_{l+1} = shift_qh(s2 (mu boxtimes nu_l)) by non-crossing partitions, in rationals."""
    m_mu = [sum(Fraction(w) * Fraction(t) ** k for t, w in atoms) for k in range(1, n + 1)]
    kap = moments_to_free_cumulants(m_mu)
    m = [Fraction(qh) ** k for k in range(1, n + 1)]
    for _ in range(L - 1):
        prod = [x * Fraction(s2) ** (k + 1) for k, x in enumerate(boxtimes_moments(kap, m))]
        full = [Fraction(1)] + prod
        m = [sum(comb(k, j) * full[j] * Fraction(qh) ** (k - j) for j in range(k + 1)) for k in range(1, n + 1)]
    return m


@pytest.mark.parametrize("L", [2, 3, 4])
def test_fim_relu_against_numeric_and_exact_recursion(L):
    law = symbolic_conditional_fim_law("relu", 1.5, 0.3, L)
    num = ns.conditional_fim_law("relu", 1.5, 0.3, L)
    g = np.asarray(num.cauchy(POINTS))
    for gi, zi in zip(g, POINTS):
        assert _rel_residual(law, complex(gi), complex(zi)) < 1e-12
    exact = _exact_fim_moments([(0, Fraction(1, 2)), (1, Fraction(1, 2))], Fraction(3, 2), Fraction(3, 5), L, 7)
    assert [Fraction(int(sp.numer(m)), int(sp.denom(m))) for m in law.moments(7)] == exact
    np.testing.assert_allclose(num.moments(7), [float(m) for m in exact], rtol=1e-12)


def test_two_hidden_layers_closed_form_symbolic():
    """depth=3 (two hidden layers) is quadratic in G with sigma_w2, p, qhat symbolic."""
    s = sp.Symbol("s", positive=True)
    law = symbolic_conditional_fim_law("hard_tanh", s, 0, 3)
    assert law.degree == 2
    assert law.parameters == {s, sp.Symbol("p", positive=True), sp.Symbol("qhat", positive=True)}
    # at relu's values (p = 1/2) it is the relu law
    relu = symbolic_conditional_fim_law("relu", 1.5, 0.3, 3)
    at = law.subs({s: sp.Rational(3, 2), sp.Symbol("p", positive=True): sp.Rational(1, 2),
                   sp.Symbol("qhat", positive=True): sp.Rational(3, 5)})
    assert at.moments(6) == relu.moments(6)
    assert sp.Poly(at.polynomial, G, z).degree(G) == 2


def test_fim_hard_tanh_against_numeric():
    sw, sb, L = 1.5, 0.1, 3
    _, p, qh = hard_tanh_parameters(sw, sb)
    law = symbolic_conditional_fim_law("hard_tanh", sw, sb, L, p=sp.Rational(mp.nstr(p, 18)),
                                       qhat=sp.Rational(mp.nstr(qh, 18)))
    num = ns.conditional_fim_law("hard_tanh", sw, sb, L)
    for gi, zi in zip(np.asarray(num.cauchy(POINTS[:3])), POINTS[:3]):
        assert _rel_residual(law, complex(gi), complex(zi)) < 1e-12
    np.testing.assert_allclose(num.moments(5), [float(m) for m in law.moments(5)], rtol=1e-12)


def test_fim_depth3_edges_and_atom():
    law = symbolic_conditional_fim_law("relu", 1.5, 0.3, 3)
    # inverse-square-root edges at the images of the depth-2 atoms: qhat + s2 * {0.6, 1.5}
    assert law.edges() == [sp.Rational(3, 2), sp.Rational(57, 20)]


def test_fim_two_hidden_layers_parametric_edges():
    """Depth 3 with sigma_w^2, sigma_b^2 symbolic: edges q^(1 + s) and q^(1 + s + s^2), q^ = b/(2 - s)
    for relu, against the numeric law's edges and the mp fold of the engine's chain (40 digits) at
    two parameter points."""
    s, b = sp.symbols("sigma_w2 sigma_b2", positive=True)
    law = symbolic_conditional_fim_law("relu", s, b, 3)
    lo, hi = law.parametric_edges()
    qh = b / (2 - s)
    assert sp.simplify(lo - qh * (1 + s)) == 0 and sp.simplify(hi - qh * (1 + s + s ** 2)) == 0
    for sw, sb in ((1.5, 0.3), (1.2, 0.5)):
        at = {s: sp.Rational(repr(sw)), b: sp.Rational(repr(sb))}
        exact = [lo.subs(at), hi.subs(at)]
        num = ns.conditional_fim_law("relu", sw, sb, 3)
        np.testing.assert_allclose(num.intervals[0], [float(e) for e in exact], rtol=1e-12)
        with mp.workdps(60):
            for e_mp, e in zip(hp.edges(num, dps=50), exact):
                assert abs(e_mp - mp.mpf(sp.Rational(e).p) / sp.Rational(e).q) < mp.mpf(10) ** -40


def test_fim_hard_tanh_parametric_edges_and_limit():
    """hard_tanh, depth 3: sigma_w2, p, qhat symbolic; at the mean-field values the formulas give the
    numeric law's edges.  Above degree 2 with symbols: a clear error."""
    s = sp.Symbol("s", positive=True)
    law = symbolic_conditional_fim_law("hard_tanh", s, 0, 3)
    edges = law.parametric_edges()
    sw, sb = 1.5, 0.1
    _, p, qh = hard_tanh_parameters(sw, sb)
    num = ns.conditional_fim_law("hard_tanh", sw, sb, 3)
    at = {s: sp.Rational(3, 2), sp.Symbol("p", positive=True): sp.Float(mp.nstr(p, 30), 30),
          sp.Symbol("qhat", positive=True): sp.Float(mp.nstr(qh, 30), 30)}
    np.testing.assert_allclose(num.intervals[0], [float(sp.N(e.subs(at), 30)) for e in edges], rtol=1e-12)
    t = sp.Symbol("t", positive=True)
    law4 = symbolic_conditional_fim_law("relu", 1.5, 0.3, 4)
    # the law of X/t (G(z) -> t G_X(t z)): degree 4 in G with a symbolic parameter
    scaled = NetworkAlgebraicLaw(sp.numer(sp.together(law4.polynomial.subs({G: G / t, z: t * z}, simultaneous=True))),
                                 sp.expand(law4.zeta_polynomial.subs(z, t * z)), "relu depth 4 scaled by 1/t")
    with pytest.raises(ValueError, match="out of reach beyond degree 2"):
        scaled.parametric_edges()


@pytest.mark.slow
@pytest.mark.parametrize("L", [4, 5])
def test_fim_fold_edge_vs_mpmath_chain(L):
    """The exact CRootOf edge against the fold of the mp chain recursion (an independent route)."""
    law = symbolic_conditional_fim_law("relu", 1.5, 0.3, L)
    top = law.edges()[-1]
    x = hp.fisher_chain_edge([0, 1], [0.5, 0.5], 1.5, 0.6, L, 0.9 * float(top), dps=30)
    with mp.workdps(30):
        assert abs(x - mp.mpf(str(sp.N(top, 40)))) < mp.mpf(10) ** -25


# ----------------------------------------------------------------------------- real networks
def _tw_tolerance(b, n, c=5.0):
    # edge fluctuations and finite-size shifts of order b n^(-2/3); c fixed in advance
    return c * b * n ** (-2 / 3)


def test_jacobian_top_edge_vs_real_network():
    n = 300
    top = float(sp.N(symbolic_jacobian_law("relu", 2, 0, 4).edges()[-1], 20))
    assert top == 6.75
    for seed in range(2):
        lam = ns.sample_jacobian_spectrum("relu", 2.0, 0.0, 4, n, weights="orthogonal", rng=seed).max()
        assert abs(lam - top) <= _tw_tolerance(top, n)


@pytest.mark.slow
def test_jacobian_gaussian_top_edge_vs_real_networks():
    """Gaussian weights: the top eigenvalue fluctuates far more (13% at N = 300), so the mean of k
    networks is compared, with z = 4 standard errors plus a 2 b N^(-2/3) finite-size allowance."""
    n, k = 1200, 6
    top = float(sp.N(symbolic_jacobian_law("relu", 2, 0, 4, "gaussian").edges()[-1], 20))
    lams = np.array([ns.sample_jacobian_spectrum("relu", 2.0, 0.0, 4, n, weights="gaussian", rng=s).max()
                     for s in range(k)])
    assert abs(lams.mean() - top) <= 4 * lams.std(ddof=1) / np.sqrt(k) + _tw_tolerance(top, n, c=2.0)


def test_fim_atom_mass_vs_real_network():
    """H_3 has the eigenvalue ||x^2||^2/N with multiplicity #zeros of D_2: a fraction 1/2 +- 1/(2 sqrt N)."""
    n = 200
    (a, mass), = symbolic_conditional_fim_law("relu", 1.5, 0.3, 3).exact_atoms()
    ev = np.sort(ns.sample_conditional_fim_spectrum("relu", 1.5, 0.3, 3, n, rng=3))
    frac = np.mean(np.abs(ev - ev[0]) < 1e-8 * ev[-1])
    assert abs(frac - float(mass)) <= 4 * 0.5 / np.sqrt(n)      # z = 4
    assert abs(ev[0] - float(a)) <= 6 * float(a) / np.sqrt(n)   # the norm ||x^2||^2/N fluctuates ~ 1/sqrt(N)


@pytest.mark.slow
def test_fim_depth4_top_edge_vs_real_networks():
    n = 800
    top = float(sp.N(symbolic_conditional_fim_law("relu", 1.5, 0.3, 4).edges()[-1], 20))
    lams = [ns.sample_conditional_fim_spectrum("relu", 1.5, 0.3, 4, n, rng=s).max() for s in range(4)]
    # the layer norms enter as a scale with relative fluctuations ~ 1/sqrt(N): z = 4
    assert abs(np.mean(lams) - top) <= 4 * top / np.sqrt(n) / np.sqrt(len(lams)) + _tw_tolerance(top, n)


# ----------------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="act must be one of"):
        symbolic_jacobian_law("tanh", 1.0, 0.0, 2)
    with pytest.raises(ValueError, match="max_degree=5"):
        symbolic_jacobian_law("relu", 2, 0, 10, max_degree=5)
    with pytest.raises(ValueError, match="max_degree=3"):
        symbolic_conditional_fim_law("relu", 1.5, 0.3, 5, max_degree=3)
    with pytest.raises(ValueError, match="depth"):
        symbolic_jacobian_law("relu", 2, 0, 0)
    with pytest.raises(ValueError, match="depth must be >= 2"):   # one weight layer: J has no nonlinear layer
        symbolic_jacobian_law("relu", 2, 0, 1)
    with pytest.raises(TypeError, match="not both"):
        symbolic_jacobian_law(ns.Network("relu", 2.0, 0.0, 3), 2.0)
    with pytest.raises(ValueError, match="orthogonal"):
        symbolic_conditional_fim_law(ns.Network("relu", 1.5, 0.3, 3, weights="gaussian"))
    with pytest.raises(ValueError, match="equal widths"):
        symbolic_jacobian_law(ns.Network("relu", 2.0, 0.0, 3, widths=(50, 100, 100, 1)))
    # equal n_0..n_K (the output width is not part of J): accepted
    assert symbolic_jacobian_law(ns.Network("relu", 2.0, 0.0, 3, weights="orthogonal", widths=(100, 100, 100, 1))).degree == 2
    with pytest.raises(ValueError, match="weights"):
        symbolic_jacobian_law("relu", 2, 0, 2, weights="uniform")
    with pytest.raises(ValueError, match="sigma_w2"):
        symbolic_jacobian_law("relu", -1, 0, 2)
    with pytest.raises(ValueError, match="no finite fixed point"):
        symbolic_conditional_fim_law("relu", 3.0, 0.1, 3)
    with pytest.raises(ValueError, match="numeric parameters"):
        symbolic_jacobian_law("hard_tanh", 2, 0, 2).edges()


def test_returns_algebraic_law_with_latex():
    law = symbolic_jacobian_law("relu", 2, 0, 3)
    assert isinstance(law, NetworkAlgebraicLaw)
    assert "G" in law.latex() and law.degree == 2
    assert law.moments(3) == [1, 3, 10]
