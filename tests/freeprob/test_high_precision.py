"""freeprob.high_precision: 40 correct digits against closed forms computed independently
(roots of the exact polynomials with mpmath.polyroots, closed-form edges)."""
import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import freeprob as fp
from freeprob import high_precision as hp
from freeprob.symbolic import G, z

DIGITS = 40
TOL = mp.mpf(10) ** -DIGITS
# semicircle(1) ⊞ free_poisson(1, 1): G^3 - (z + 1) G^2 + z G - 1 = 0 (Speicher's cubic, by hand from R = w + 1/(1 - w))
SC_MP = G ** 3 - G ** 2 * z - G ** 2 + G * z - 1


@pytest.fixture(autouse=True)
def _reference_precision():
    """The closed forms on the tests' side at 70 digits (the module's functions set their own)."""
    with mp.workdps(70):
        yield


def _nearest_root(coeffs, target):
    with mp.workdps(DIGITS + 30):
        roots = mp.polyroots(coeffs, maxsteps=400, extraprec=400)
        return min(roots, key=lambda r: abs(r - target))


@pytest.mark.parametrize("zz", [1 + 0.5j, -0.7 + 0.05j, 3.9 + 2j])
def test_boxplus_semicircle_mp_cubic_40_digits(zz):
    g = hp.boxplus_cauchy(fp.semicircle(), fp.free_poisson(1.0, 1.0), zz, dps=50)
    with mp.workdps(DIGITS + 30):
        zc = mp.mpc(zz.real, zz.imag)
        exact = _nearest_root([1, -(zc + 1), zc, -1], g)
        assert abs(g - exact) < TOL


def test_boxplus_edges_40_digits_vs_discriminant():
    disc = sp.Poly(sp.discriminant(SC_MP, G), z)       # z^4 - 6 z^3 + 7 z^2 + 6 z - 31
    law = fp.boxplus(fp.semicircle(), fp.free_poisson(1.0, 1.0))
    for x0 in law.support:
        x = hp.boxplus_edge(fp.semicircle(), fp.free_poisson(1.0, 1.0), x0, dps=50)
        exact = _nearest_root([int(c) for c in disc.all_coeffs()], x)
        assert abs(x - mp.re(exact)) < TOL


@pytest.mark.parametrize("s", [1, 2, 3, 5])
def test_fuss_catalan_edges_40_digits(s):
    x = hp.fuss_catalan_edge(s, dps=50)
    with mp.workdps(60):
        assert abs(x - mp.mpf(s + 1) ** (s + 1) / mp.mpf(s) ** s) < TOL


def test_algebraic_cauchy_and_density_semicircle():
    with mp.workdps(60):
        exact = (mp.mpc(0.3, 1) - mp.sqrt(mp.mpc(0.3, 1) ** 2 - 4)) / 2
    g = hp.algebraic_cauchy(G ** 2 - z * G + 1, 0.3 + 1j, complex(fp.semicircle().cauchy(0.3 + 1j)), dps=50)
    assert abs(g - exact) < TOL
    # density at 1 on the axis: sqrt(3)/(2 pi)
    rho = hp.density(lambda x: hp.algebraic_cauchy(G ** 2 - z * G + 1, x, 0.5 - 0.866j, dps=50), 1, dps=50)
    with mp.workdps(60):
        assert abs(rho - mp.sqrt(3) / (2 * mp.pi)) < TOL


def test_free_power_and_boxtimes_vs_closed_forms():
    # semicircle^{⊞2} is the semicircle of variance 2
    zz = 0.4 + 0.9j
    gt = complex(fp.free_power(fp.semicircle(), 2.0).cauchy(zz))
    w0 = (zz + 1.0 / gt) / 2          # from z = t w - (t - 1)/G(w), G(w) = G_t(z)
    g = hp.free_power_cauchy(fp.semicircle(), 2.0, zz, w0, dps=50)
    with mp.workdps(60):
        zc = mp.mpc(zz.real, zz.imag)
        exact = (zc - mp.sqrt(zc - 2 * mp.sqrt(2)) * mp.sqrt(zc + 2 * mp.sqrt(2))) / 4
        assert abs(g - exact) < TOL
    # MP(1) ⊠ MP(1) = Fuss–Catalan(2): z^2 G^3 - z G + 1 = 0
    zz = 2.0 + 1.0j
    g0 = complex(fp.fuss_catalan(2).cauchy(zz))
    zt = zz * g0 - 1
    v = zt / (1 + zt) ** 2          # chi of MP(1)
    g = hp.boxtimes_cauchy(fp.free_poisson(1.0, 1.0), fp.free_poisson(1.0, 1.0), zz, [zt, v, v], dps=50)
    with mp.workdps(60):
        zc = mp.mpc(zz.real, zz.imag)
        exact = _nearest_root([zc ** 2, 0, -zc, 1], g)
        assert abs(g - exact) < TOL


def test_network_recursions_vs_polynomials():
    """The S-product (Jacobian) and chain (conditional Fisher) systems against the roots of the
    polynomials of the symbolic twins, to 40 digits."""
    from nn_spectra.symbolic_laws import symbolic_conditional_fim_law, symbolic_jacobian_law

    import nn_spectra as ns

    zz = 3 + 1j
    # 3 nonlinear layers: depth 4 weight layers in nn_spectra (the linear readout is not part of J)
    g = hp.s_product_cauchy([0, 1], [0.5, 0.5], 2, 3, zz, complex(ns.jacobian_law("relu", 2.0, 0.0, 4).cauchy(zz)),
                            dps=50)
    P = sp.Poly(symbolic_jacobian_law("relu", 2, 0, 4).polynomial.subs(z, sp.Integer(3) + sp.I), G)
    with mp.workdps(DIGITS + 30):
        exact = _nearest_root([mp.mpc(*[float(t) for t in sp.sympify(c).as_real_imag()]) for c in P.all_coeffs()], g)
        assert abs(g - exact) < TOL
    zz = 2 + 0.25j      # dyadic, so that the float point is the exact point of the polynomial
    g = hp.fisher_chain_cauchy([0, 1], [0.5, 0.5], 1.5, 0.6, 3, zz, dps=50)
    Pz = sp.Poly(symbolic_conditional_fim_law("relu", 1.5, 0.3, 3).polynomial.subs(z, 2 + sp.Rational(1, 4) * sp.I), G)
    with mp.workdps(DIGITS + 30):
        coeffs = [mp.mpc(*[mp.mpf(str(sp.Rational(t))) for t in sp.sympify(c).as_real_imag()]) for c in Pz.all_coeffs()]
        exact = _nearest_root(coeffs, g)
        assert abs(g - exact) < TOL


def test_jacobian_edge_and_atom_mass():
    """mp Newton on the engine's Jacobian state.  relu at criticality with K = 3 nonlinear layers
    (jacobian_law depth 4: the linear readout is not part of J): top edge
    (sigma_w^2/2)^K K^K/(K-1)^(K-1) = 27/4, by the engine route and by the S-product recursion."""
    import nn_spectra as ns

    law = ns.jacobian_law("relu", 2.0, 0.0, 4)
    top = hp.edges(law, dps=50)[-1]
    assert abs(top - mp.mpf(27) / 4) < TOL
    x0 = 6.75 * (1 + 1e-6)
    x = hp.s_product_edge([0, 1], [0.5, 0.5], 2, 3, x0, float(np.real(law.cauchy(x0))), dps=50)
    assert abs(x - mp.mpf(27) / 4) < TOL
    # Bernoulli(1/2) ⊠ Bernoulli(1/2): atom at 0 of mass 1/2 (rank); z(z-1)... via its polynomial
    from freeprob.symbolic import bernoulli, boxtimes

    bb = boxtimes(bernoulli(sp.Rational(1, 2)), bernoulli(sp.Rational(1, 2)))
    assert abs(hp.atom_mass(bb, 0.0, dps=50, w0=0.5) - mp.mpf(1) / 2) < TOL


def test_generic_solvers_and_errors():
    r = hp.newton(lambda u: [u[0] ** 3 - 2], [1.2], dps=50, real=True)
    with mp.workdps(60):
        assert abs(r[0] - mp.cbrt(2)) < TOL
    u, x = hp.fold(lambda u, x: [u[0] ** 2 - x * u[0] + 1], [0.95], 2.01, dps=50)
    assert abs(x - 2) < TOL and abs(u[0] - 1) < mp.mpf(10) ** -20
    with pytest.raises(hp.HighPrecisionError, match="residual"):
        hp.newton(lambda u: [u[0] ** 2 + 1], [0.5], dps=30, real=True, maxiter=20)
    with pytest.raises(ValueError, match="dps"):
        hp.newton(lambda u: [u[0]], [0.0], dps=5)
    with pytest.raises(ValueError, match="closed-form law"):
        hp.mp_cauchy(fp.boxplus(fp.semicircle(), fp.semicircle()))
    with mp.workdps(40):      # the Gaussian's Cauchy transform by the Faddeeva function: G(i) = -i sqrt(pi/2) e^(1/2) erfc(1/sqrt2)
        g = hp.mp_cauchy(fp.normal())(mp.mpc(0, 1))
        assert abs(g + 1j * mp.sqrt(mp.pi / 2) * mp.exp(mp.mpf(1) / 2) * mp.erfc(1 / mp.sqrt(2))) < mp.mpf(10) ** -38
    with pytest.raises(ValueError, match="s must be"):
        hp.fuss_catalan_edge(0)


# ============================================================================ every solver-backed law (engine)
def _check_quadratic(history):
    """Newton's steps from the float64 state: the last ones at least square the previous (up to a
    constant 1e3), and the last is below the working precision."""
    steps = [s for s in history if s > 0]
    assert steps[-1] < mp.mpf(10) ** -45
    for a, b in zip(steps, steps[1:]):
        if a < mp.mpf(10) ** -8:
            assert b <= 1e3 * a * a


def test_engine_boxplus_cauchy_pdf_edges_40_digits():
    law = fp.boxplus(fp.semicircle(), fp.free_poisson(1.0, 1.0))
    for zz in (1 + 0.5j, -0.7 + 0.05j):
        hist = []
        g = hp.cauchy(law, zz, dps=50, history=hist)
        _check_quadratic(hist)
        with mp.workdps(DIGITS + 30):
            zc = mp.mpc(zz.real, zz.imag)
            assert abs(g - _nearest_root([1, -(zc + 1), zc, -1], g)) < TOL
    # density on the axis: the root of G^3 - 2G^2 + G - 1 at x = 1 with Im G < 0
    rho = hp.pdf(law, 1.0, dps=50)
    with mp.workdps(DIGITS + 30):
        roots = mp.polyroots([1, -2, 1, -1], maxsteps=400, extraprec=400)
        assert abs(rho + mp.im(min(roots, key=mp.im)) / mp.pi) < TOL
    disc = [1, -6, 7, 6, -31]      # discriminant of the cubic in G
    for e in hp.edges(law, dps=50):
        assert abs(e - mp.re(_nearest_root(disc, e))) < TOL


def test_engine_free_power_fuss_catalan_bern_bern():
    # semicircle^{⊞2}: semicircle of variance 2, edges ±2√2
    law = fp.free_power(fp.semicircle(), 2.0)
    zz = 0.4 + 0.9j
    with mp.workdps(60):
        zc = mp.mpc(zz.real, zz.imag)
        exact = (zc - mp.sqrt(zc - 2 * mp.sqrt(2)) * mp.sqrt(zc + 2 * mp.sqrt(2))) / 4
    assert abs(hp.cauchy(law, zz, dps=50) - exact) < TOL
    lo, hi = hp.edges(law, dps=50)
    with mp.workdps(60):
        assert abs(hi - 2 * mp.sqrt(2)) < TOL and abs(lo + 2 * mp.sqrt(2)) < TOL
    # Fuss–Catalan: the engine's state, edge (s+1)^(s+1)/s^s
    for s in (2, 3):
        assert abs(hp.edges(fp.fuss_catalan(s), dps=50)[-1] - mp.mpf(s + 1) ** (s + 1) / mp.mpf(s) ** s) < TOL
    # Bern(1/2) ⊠ Bern(1/2) = 1/2 δ0 + 1/2 arcsine(0, 1): density 1/(2π sqrt(x(1-x))), atom 1/2 at 0
    bb = fp.boxtimes(fp.bernoulli(0.5), fp.bernoulli(0.5))
    rho = hp.pdf(bb, 0.3, dps=50)
    with mp.workdps(60):
        x = mp.mpf(0.3)            # the float 0.3 is the point
        assert abs(rho - 1 / (2 * mp.pi * mp.sqrt(x * (1 - x)))) < TOL
    pts, w = hp.atoms(bb, dps=50)
    assert pts == [0] and abs(w[0] - mp.mpf(1) / 2) < TOL
    # ⊞ atoms (Bercovici–Voiculescu) in mp: Bern(0.9) ⊞ Bern(0.8) has 0.9 + 0.2 - 1 = 1/10 at 1 and
    # 0.9 + 0.8 - 1 = 7/10 at 2 (0.9 and 0.8 read as decimals)
    pts, w = hp.atoms(fp.boxplus(fp.bernoulli(0.9), fp.bernoulli(0.8)), dps=50)
    assert pts == [1, 2] and abs(w[0] - mp.mpf(1) / 10) < TOL and abs(w[1] - mp.mpf(7) / 10) < TOL


def test_engine_polynomial_and_algebraic_laws():
    """Anticommutator of free semicirculars (operator-valued semicircle system on the exact
    standardized pencil) against its cubic G^3 z + G^2 - G z + 1 = 0; numeric algebraic laws."""
    from freeprob.polynomial import free_variables, polynomial_law

    x, y = free_variables("x y")
    an = polynomial_law(x * y + y * x, {x: fp.semicircle(), y: fp.semicircle()})
    zz = 0.3 + 0.2j
    g = hp.cauchy(an, zz, dps=50)
    with mp.workdps(DIGITS + 30):
        zc = mp.mpc(zz.real, zz.imag)
        assert abs(g - _nearest_root([zc, 1, -zc, 1], g)) < TOL
        assert abs(hp.pdf(an, 0.0, dps=50) - 1 / mp.pi) < TOL               # G(0) = -i
        top = mp.sqrt((11 + 5 * mp.sqrt(5)) / 2)
    lo, hi = hp.edges(an, dps=50)
    assert abs(hi - top) < TOL and abs(lo + top) < TOL
    # numeric algebraic law: Bern(1/2) ⊠ Bern(1/3), atom at 0 of mass 2/3 (Belinschi), G against the
    # roots of its polynomial
    from freeprob.symbolic import bernoulli, boxtimes

    law = boxtimes(bernoulli(sp.Rational(1, 2)), bernoulli(sp.Rational(1, 3)))
    num = law.to_numeric()
    pts, w = hp.atoms(num, dps=50)
    assert pts == [0] and abs(w[0] - mp.mpf(2) / 3) < TOL
    g = hp.cauchy(num, 0.5 + 0.1j, dps=50)
    zc = mp.mpc(0.5, 0.1)            # the float point itself
    coeffs = []
    for c in sp.Poly(law.polynomial, G).all_coeffs():
        rat = [sp.Rational(t) for t in sp.Poly(c, z).all_coeffs()]
        coeffs.append(mp.polyval([mp.mpf(t.p) / t.q for t in rat], zc))
    assert abs(g - _nearest_root(coeffs, g)) < TOL


def test_engine_nested_solver_input():
    """A solver law as an input of ⊞ (its G evaluated by the same mp Newton, recursively):
    SC ⊞ Fuss–Catalan(1) = SC ⊞ MP(1) against the cubic."""
    law = fp.boxplus(fp.semicircle(), fp.fuss_catalan(1))
    g = hp.cauchy(law, 1 + 0.5j, dps=50)
    zc = mp.mpc(1, 0.5)
    assert abs(g - _nearest_root([1, -(zc + 1), zc, -1], g)) < TOL


def test_engine_polynomial_law_subordination():
    """Polynomial laws with a non-semicircular variable (matrix-valued subordination in mp on the
    exact standardized pencil): x + y = SC ⊞ MP against its cubic."""
    from freeprob.polynomial import free_variables, polynomial_law

    x, y = free_variables("x y")
    law = polynomial_law(x + y, {x: fp.semicircle(), y: fp.free_poisson(1.0, 1.0)})
    assert law.solver == "subordination"
    g = hp.cauchy(law, 1 + 0.5j, dps=50)
    zc = mp.mpc(1, 0.5)
    assert abs(g - _nearest_root([1, -(zc + 1), zc, -1], g)) < TOL


@pytest.mark.slow
def test_engine_polynomial_law_subordination_xyx():
    """x y x with x semicircular, y ~ MP(1): the law of MP(1) ⊠ MP(1) = Fuss–Catalan(2),
    z^2 G^3 - z G + 1 = 0 (a 4x4 pencil, 32 unknowns: ~10 s)."""
    from freeprob.polynomial import free_variables, polynomial_law

    x, y = free_variables("x y")
    law = polynomial_law(x * y * x, {x: fp.semicircle(), y: fp.free_poisson(1.0, 1.0)})
    g = hp.cauchy(law, 2 + 1j, dps=50)
    zc = mp.mpc(2, 1)
    assert abs(g - _nearest_root([zc ** 2, 0, -zc, 1], g)) < TOL


@pytest.mark.slow
def test_engine_numeric_algebraic_edges():
    """Edges of a numeric algebraic law (its float intervals cost ~5 s) against the discriminant's roots."""
    from freeprob.symbolic import bernoulli, boxtimes

    law = boxtimes(bernoulli(sp.Rational(1, 2)), bernoulli(sp.Rational(1, 3)))
    num = law.to_numeric()
    disc = sp.Poly(sp.discriminant(law.polynomial, G), z)
    with mp.workdps(DIGITS + 30):
        droots = mp.polyroots([int(c) for c in (disc * disc.LC() ** 0).all_coeffs()], maxsteps=400, extraprec=400)
    for e in hp.edges(num, dps=50):
        assert min(abs(e - r) for r in droots) < TOL


def test_engine_jacobian_law_vs_symbolic_twin():
    """relu Jacobian law, K = 3 (jacobian_law depth 4): G at 3 + i against the root of the symbolic
    twin's polynomial; quadratic convergence from the engine's float64 state."""
    import nn_spectra as ns
    from nn_spectra.symbolic_laws import symbolic_jacobian_law

    law = ns.jacobian_law("relu", 2.0, 0.0, 4)
    hist = []
    g = hp.cauchy(law, 3 + 1j, dps=50, history=hist)
    _check_quadratic(hist)
    P = sp.Poly(symbolic_jacobian_law("relu", 2, 0, 4).polynomial.subs(z, sp.Integer(3) + sp.I), G)
    with mp.workdps(DIGITS + 30):
        exact = _nearest_root([mp.mpc(*[int(t) for t in sp.sympify(c).as_real_imag()]) for c in P.all_coeffs()], g)
        assert abs(g - exact) < TOL
    assert abs(complex(g) - complex(law.cauchy(3 + 1j))) < 1e-12 * abs(complex(g))
    pts, w = hp.atoms(law, dps=50)
    assert pts == [0] and abs(w[0] - mp.mpf(1) / 2) < TOL


def test_engine_conditional_fisher_vs_symbolic_twin():
    """relu conditional Fisher (sigma_w^2 = 3/2, sigma_b^2 = 3/10, q^ = 3/5: the float shifts are
    0.5999999999999995, read as 3/5 by mp_param).  Two hidden layers (depth 3): G against the
    quadratic of the symbolic twin, edges 3/2 and 57/20; depth 4: top edge against the CRootOf."""
    import nn_spectra as ns
    from nn_spectra.symbolic_laws import symbolic_conditional_fim_law

    law3 = ns.conditional_fim_law("relu", 1.5, 0.3, 3)
    sym3 = symbolic_conditional_fim_law("relu", sp.Rational(3, 2), sp.Rational(3, 10), 3)
    zz = 2 + 0.25j
    g = hp.cauchy(law3, zz, dps=50)
    Pz = sp.Poly(sym3.polynomial.subs(z, 2 + sp.Rational(1, 4) * sp.I), G)
    assert Pz.degree() == 2
    with mp.workdps(DIGITS + 30):
        coeffs = [mp.mpc(*[mp.mpf(str(sp.Rational(t))) for t in sp.sympify(c).as_real_imag()]) for c in Pz.all_coeffs()]
        assert abs(g - _nearest_root(coeffs, g)) < TOL
    lo, hi = hp.edges(law3, dps=50)
    assert abs(lo - mp.mpf(3) / 2) < TOL and abs(hi - mp.mpf(57) / 20) < TOL
    pts, w = hp.atoms(law3, dps=50)
    assert abs(pts[0] - mp.mpf(3) / 5) < TOL and abs(w[0] - mp.mpf(1) / 2) < TOL
    law4 = ns.conditional_fim_law("relu", 1.5, 0.3, 4)
    top = hp.edges(law4, dps=50)[-1]
    exact = symbolic_conditional_fim_law("relu", sp.Rational(3, 2), sp.Rational(3, 10), 4).edges()[-1]
    with mp.workdps(60):
        assert abs(top - mp.mpf(str(sp.N(exact, 60)))) < TOL


def test_engine_jacobian_unequal_widths_agrees_with_float_and_converges():
    """Unequal widths (no symbolic twin): two distinct width ratios, a rectangular input; the mp value
    agrees with float64 to 1e-12, Newton converges quadratically, the mp top edge agrees with the
    float edge to 1e-10."""
    import nn_spectra as ns

    law = ns.jacobian_law("relu", 2.0, 0.0, 4, weights="orthogonal", widths=(80, 100, 60, 100, 1))
    hist = []
    g = hp.cauchy(law, 1.5 + 0.5j, dps=50, history=hist)
    _check_quadratic(hist)
    assert abs(complex(g) - complex(law.cauchy(1.5 + 0.5j))) < 1e-12 * abs(complex(g))
    top = hp.edges(law, dps=50)[-1]
    assert abs(float(top) - law.support[1]) < 1e-10 * law.support[1]


def test_engine_smooth_jacobian_agrees_with_float_and_converges():
    """tanh (no closed form): psi_{D^2} by mpmath.quad; the mp value agrees with float64 to 1e-12 and
    Newton converges quadratically from the engine's state (30 digits: ~3 s)."""
    import nn_spectra as ns

    law = ns.jacobian_law("tanh", 1.5, 0.01, 3)
    hist = []
    g = hp.cauchy(law, 0.5 + 0.2j, dps=30, history=hist)
    steps = [s for s in hist if s > 0]
    assert steps[-1] < mp.mpf(10) ** -25 and (len(steps) < 2 or steps[-1] <= 1e3 * steps[-2] ** 2)
    assert abs(complex(g) - complex(law.cauchy(0.5 + 0.2j))) < 1e-12 * abs(complex(g))


@pytest.mark.slow
def test_engine_smooth_fisher_agrees_with_float_and_converges():
    """tanh conditional Fisher law (two psi quadratures per residual, ~10 s at 30 digits): agrees with
    float64 to 1e-12, quadratic Newton, no atoms."""
    import nn_spectra as ns

    law = ns.conditional_fim_law("tanh", 1.5, 0.05, 3)
    zz = law.support[1] * 0.6 + 0.3j
    hist = []
    g = hp.cauchy(law, zz, dps=30, history=hist)
    steps = [s for s in hist if s > 0]
    assert steps[-1] < mp.mpf(10) ** -25 and (len(steps) < 2 or steps[-1] <= 1e3 * steps[-2] ** 2)
    assert abs(complex(g) - complex(law.cauchy(zz))) < 1e-12 * abs(complex(g))
    assert hp.atoms(law, dps=30) == ([], [])


def test_engine_errors_and_mp_param():
    assert hp.mp_param(0.5999999999999995) == mp.mpf(3) / 5
    assert hp.mp_param(0.5999999999999995, snap=False) == mp.mpf(0.5999999999999995)
    assert hp.mp_param(0.31770479112427363) == mp.mpf(0.31770479112427363)   # a q*: not a small fraction
    law = fp.boxplus(fp.semicircle(), fp.semicircle())
    with pytest.raises(ValueError, match="upper half-plane"):
        hp.cauchy(law, 1 - 1j)
    with pytest.raises(ValueError, match="dps"):
        hp.cauchy(law, 1j, dps=8)
    from freeprob.polynomial import free_variables, polynomial_law

    x, y = free_variables("x y")
    with pytest.raises(ValueError, match="standard ones"):
        hp.cauchy(polynomial_law(x * y + y * x, {x: fp.semicircle(2.0), y: fp.semicircle()}), 1j, dps=20)
    with pytest.raises(ValueError, match="solver-backed law with an mp system"):
        hp.mp_system(fp.semicircle())


def test_edges_where_the_state_is_singular():
    """Inverse-square-root ends at products of atoms have no fold (the state is singular there):
    they come from mp densities just inside.  Exact values: relu at depth 3 (two nonlinear layers,
    orthogonal) is 4 (Bern ⊠ Bern scaled by 4); leaky relu (slope 0.3, σ_w² = 1.5) has
    (1.5·0.09)² = 0.018225 and 1.5² = 9/4."""
    import nn_spectra as ns

    relu = ns.jacobian_law("relu", 2.0, 0.0, 3)
    assert abs(hp.edges(relu, dps=45)[-1] - 4) < mp.mpf(10) ** -43
    leaky = ns.jacobian_law(ns.activation("leaky_relu", alpha=0.3), 1.5, 0.0, 3, weights="orthogonal")
    lo, hi = hp.edges(leaky, dps=50)
    assert abs(lo - mp.mpf("0.018225")) < mp.mpf(10) ** -48 * mp.mpf("0.018225")
    assert abs(hi - mp.mpf(9) / 4) < mp.mpf(10) ** -48
