"""freeprob.identify: known constants are recovered, random reals are not (false-positive rate
measured), too few digits are refused; the ``freeprob identify`` command."""
import random

import mpmath as mp
import pytest
import sympy as sp

import freeprob as fp
from freeprob import high_precision as hp
from freeprob.cli import main
from freeprob.identify import MIN_DIGITS, identify
from freeprob.symbolic import G, z

x = sp.Symbol("x")


def test_one_over_pi():
    with mp.workdps(45):
        r = fp.identify(1 / mp.pi, digits=40)
    assert r.identified and r.kind == "constants"
    assert sp.simplify(r.expression - 1 / sp.pi) == 0
    assert r.digits == 40 and r.residual < 1e-38


def test_sqrt2_edges_of_a_semicircle():
    """The semicircle of variance 1/2 has edges ±sqrt(2), computed here as folds at 45 digits."""
    P = G ** 2 / 2 - z * G + 1
    edge = hp.algebraic_edge(P, 1.4142, 0.7071, dps=50)
    r = identify(mp.nstr(edge, 45))
    assert r.identified and r.expression == sp.sqrt(2) and r.minimal_polynomial == x ** 2 - 2


def test_algebraic_edge_of_known_degree():
    """SC ⊞ MP edges are roots of the quartic discriminant z^4 - 6z^3 + 7z^2 + 6z - 31 (SymPy)."""
    disc = sp.Poly(sp.discriminant(G ** 3 - G ** 2 * z - G ** 2 + G * z - 1, G), z).as_expr().subs(z, x)
    law = fp.boxplus(fp.semicircle(), fp.free_poisson(1.0, 1.0))
    for x0 in law.support:
        e = hp.boxplus_edge(fp.semicircle(), fp.free_poisson(1.0, 1.0), x0, dps=50)
        r = identify(mp.nstr(e, 42))
        assert r.identified and r.kind == "algebraic"
        assert sp.expand(r.minimal_polynomial - disc) == 0


def test_rational_and_network_edge():
    r = identify("6.750000000000000000000000000000000000000")
    assert r.expression == sp.Rational(27, 4)
    # a cubic irrationality with 7-digit coefficients (the depth-4 conditional Fisher edge of relu at
    # sigma_w2 = 3/2, sigma_b2 = 3/10 is 3r, r the real root of this cubic):
    # needs 50 digits, 45 are refused by the significance rule
    cubic = [1756160, -6099852, 6960012, -2641123]
    with mp.workdps(70):
        r0 = 3 * min(mp.re(t) for t in mp.polyroots(cubic, extraprec=200) if abs(mp.im(t)) < 1e-30)
    r = identify(mp.nstr(r0, 50))
    assert r.identified and sp.Poly(r.minimal_polynomial, x).degree() == 3
    assert abs(complex(sp.N(r.expression, 60)) - float(r0)) < 1e-14
    with mp.workdps(60):
        assert abs(mp.mpf(str(sp.N(r.expression, 60))) - r0) < mp.mpf(10) ** -48
    assert not identify(mp.nstr(r0, 45)).identified


def test_random_reals_are_not_identified():
    """False-positive rate on random 40-digit reals: 0 out of N (the rule leaves >= 10 spare digits,
    a chance relation passes with probability ~1e-10 per search)."""
    rng = random.Random(17)
    n, hits = 8, 0
    for _ in range(n):
        s = "0." + "".join(str(rng.randrange(10)) for _ in range(40))
        if identify(s).identified:
            hits += 1
    print(f"false positives: {hits}/{n}")
    assert hits == 0


@pytest.mark.slow
def test_false_positive_rate_large_sample():
    rng = random.Random(18)
    n = 200
    hits = sum(identify(f"{rng.randrange(1, 10)}." + "".join(str(rng.randrange(10)) for _ in range(39))).identified
               for _ in range(n))
    print(f"false positives: {hits}/{n}")
    assert hits == 0


def test_refuses_below_threshold():
    with pytest.raises(ValueError, match=f"min_digits={MIN_DIGITS}"):
        identify(0.3183098861837907)                    # a float: 15 digits
    with pytest.raises(ValueError, match="at least"):
        identify("1.41421356237309504")                 # 18 digits
    with pytest.raises(ValueError, match="max_degree"):
        identify("1.4142135623730950488016887242096980785696", max_degree=0)
    with pytest.raises(ValueError, match="decimal"):
        identify("abc")


def test_cli_number_and_law(capsys):
    assert main(["identify", "1.4142135623730950488016887242096980785696718753769"]) == 0
    assert "sqrt(2)" in capsys.readouterr().out
    # anticommutator of two free standard semicircles = MP(1) ⊞ (-MP(1)); density at 0 is 1/pi
    assert main(["identify", "boxplus(free_poisson(), scale(free_poisson(), -1))", "--at", "0"]) == 0
    assert "= 1/pi" in capsys.readouterr().out
    assert main(["identify", "0.333"]) == 2
    assert "min_digits" in capsys.readouterr().err
