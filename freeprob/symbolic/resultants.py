r"""Free convolutions and closure operations on algebraic laws (the polynomial method).

* ⊞: the R-transforms add.  With :math:`P_A(r, w)`, :math:`P_B(r, w)` the R-polynomials,
  :math:`P_{A\boxplus B}(r, w) = \operatorname{Res}_{r_1}\big(P_A(r_1, w), P_B(r - r_1, w)\big)`.
* ⊠: the S-transforms multiply:
  :math:`P_{A\boxtimes B}(s, y) = \operatorname{Res}_{s_1}\big(P_A(s_1, y), s_1^{\deg} P_B(s/s_1, y)\big)`.

A resultant vanishes on every combination of branches, so it usually factors; the result is the
irreducible factor that vanishes on the exact moment series of the answer (moments from the
summed free cumulants for ⊞, from the non-crossing formula for ⊠), checked at exact generic
parameter values to increasing order until one factor remains.

Closure operations: scaling :math:`P(cG, z/c)`, shift :math:`P(G, z - c)`, inverse
:math:`P(z(1 - zG), 1/z)` (law of 1/X), free compression by a projection of trace t
(:math:`R(w) \mapsto R(tw)`, i.e. :math:`\kappa_n \mapsto t^{n-1}\kappa_n`), free powers
(:math:`R \mapsto tR`) and Wishart-type products :math:`A \boxtimes \mathrm{MP}(c)`.
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

from .algebraic import G, R, S, AlgebraicLaw, test_point_values, z, w
from .series import compose_poly, poly_in, to_exact
from .transforms import from_r_polynomial, from_s_polynomial, r_polynomial, s_polynomial

__all__ = ["boxplus", "boxtimes", "scale", "shift", "inverse", "compression", "free_power", "wishart"]

_M, _u = sp.symbols("M_ u_")


def _q_form(expr) -> dict:
    """Coefficients of Q(M, u) = u^d P(uM, 1/u) for the moment-series check."""
    p = sp.Poly(expr, G, z)
    d = max(a - b for (b, a) in p.monoms())
    return poly_in(sum(c * _M ** b * _u ** (b - a + d) for (b, a), c in p.terms()), _M, _u)


def select_branch_factor(expr, moments_fn, subs: dict, what: str) -> sp.Expr:
    """The irreducible factor of ``expr`` (a polynomial in G, z) vanishing on the moment series.

    ``moments_fn(n)`` returns exact moments m_1..m_n of the wanted law at the parameter values
    ``subs``.  Orders 8, 16, 32, 64 are tried until exactly one factor survives.
    """
    _, factors = sp.factor_list(sp.expand(expr))
    cands = [f for f, _ in factors if G in f.free_symbols and z in f.free_symbols]
    if not cands:
        raise ValueError(f"{what}: the eliminated polynomial has no factor in G and z")
    if len(cands) == 1:
        return cands[0]
    forms = [_q_form(sp.expand(f.subs(subs))) for f in cands]
    n = 8
    while n <= 64:
        mom = [Fraction(1)] + [to_exact(m) for m in moments_fn(n)]
        alive = [i for i, q in enumerate(forms) if all(c == 0 for c in compose_poly(q, mom, n))]
        if len(alive) == 1:
            return cands[alive[0]]
        if not alive:
            break
        n *= 2
    raise ValueError(f"{what}: could not single out the factor carrying the Cauchy transform "
                     f"({len(cands)} candidates, {len(alive) if n <= 64 else 'several'} consistent)")


def _generic(law: AlgebraicLaw, subs: dict) -> AlgebraicLaw:
    return law.subs(subs) if subs else law


def _finish(expr, moments_fn, params, name) -> AlgebraicLaw:
    subs = test_point_values(params)
    factor = select_branch_factor(expr, moments_fn, subs, name)
    return AlgebraicLaw(factor, name=name, check=False)


def _label(law: AlgebraicLaw) -> str:
    return law.name or str(law.polynomial)


def boxplus(a: AlgebraicLaw, b: AlgebraicLaw) -> AlgebraicLaw:
    r"""Free additive convolution :math:`A \boxplus B` by the resultant of the R-polynomials.

    >>> from freeprob.symbolic import semicircle, free_poisson
    >>> boxplus(semicircle(), free_poisson()).polynomial
    G**3 - G**2*z - G**2 + G*z - 1
    """
    from ..combinatorics import free_cumulants_to_moments
    from .builtins import algebraic

    a, b = algebraic(a), algebraic(b)
    r1 = sp.Dummy("r1")
    pa = r_polynomial(a).subs(R, r1)
    pb = r_polynomial(b).subs(R, R - r1)
    res = sp.resultant(sp.expand(pa), sp.expand(pb), r1)
    params = a.parameters | b.parameters
    subs = test_point_values(params)
    ga, gb = _generic(a, subs), _generic(b, subs)

    def moments(n):
        ka = [to_exact(k) for k in ga.free_cumulants(n)]
        kb = [to_exact(k) for k in gb.free_cumulants(n)]
        return free_cumulants_to_moments([x + y for x, y in zip(ka, kb)])

    return _finish(from_r_polynomial(res), moments, params, f"boxplus({_label(a)}, {_label(b)})")


def boxtimes(a: AlgebraicLaw, b: AlgebraicLaw) -> AlgebraicLaw:
    r"""Free multiplicative convolution :math:`A \boxtimes B` (laws on [0, ∞) with nonzero mean) by
    the resultant of the S-polynomials.

    >>> from freeprob.symbolic import free_poisson
    >>> boxtimes(free_poisson(), free_poisson()).polynomial   # Fuss–Catalan of order 2
    G**3*z**2 - G*z + 1
    """
    from ..combinatorics import boxtimes_moments
    from .builtins import algebraic

    a, b = algebraic(a), algebraic(b)
    for nm, law in (("a", a), ("b", b)):
        m1 = law.moments(1)[0]
        if m1 == 0:
            raise ValueError(f"boxtimes needs laws with nonzero mean; {nm} = {law!r} has mean 0")
    s1, y = sp.Dummy("s1"), sp.Dummy("y")
    pa = s_polynomial(a).subs({S: s1, z: y}, simultaneous=True)
    pb = s_polynomial(b).subs({z: y}, simultaneous=True)
    degb = sp.Poly(pb, S).degree()
    pb = sp.expand(s1 ** degb * pb.subs(S, S / s1))
    res = sp.resultant(sp.expand(pa), pb, s1)
    params = a.parameters | b.parameters
    subs = test_point_values(params)
    ga, gb = _generic(a, subs), _generic(b, subs)

    def moments(n):
        return boxtimes_moments([to_exact(k) for k in ga.free_cumulants(n)], [to_exact(m) for m in gb.moments(n)])

    return _finish(from_s_polynomial(res, S, y), moments, params, f"boxtimes({_label(a)}, {_label(b)})")


def scale(law: AlgebraicLaw, c) -> AlgebraicLaw:
    """Law of ``c X``: :math:`P(cG, z/c)` (c nonzero)."""
    from .builtins import _exact, algebraic

    law = algebraic(law)
    cc = _exact("c", c)
    if cc == 0:
        raise ValueError("c must be nonzero (the law of 0·X is the point mass at 0)")
    expr = law.polynomial.subs({G: cc * G, z: z / cc}, simultaneous=True)
    pre = [m * cc ** (i + 1) for i, m in enumerate(law.branch_data)]
    return AlgebraicLaw(expr, moments=pre, name=f"({_label(law)}).scale({cc})", check=False)


def shift(law: AlgebraicLaw, c) -> AlgebraicLaw:
    """Law of ``X + c``: :math:`P(G, z - c)`."""
    from ..combinatorics import free_cumulants_to_moments
    from .builtins import _exact, algebraic

    law = algebraic(law)
    cc = _exact("c", c)
    expr = law.polynomial.subs(z, z - cc)
    pre = []
    if law.branch_data:
        k = list(law.free_cumulants(len(law.branch_data)))
        k[0] += cc
        pre = free_cumulants_to_moments(k)
    return AlgebraicLaw(expr, moments=pre, name=f"({_label(law)}).shift({cc})", check=False)


def inverse(law: AlgebraicLaw, max_moments: int = 8) -> AlgebraicLaw:
    r"""Law of :math:`1/X` for a law with numeric parameters and 0 outside its support.

    :math:`G_{1/X}(z) = 1/z - G_X(1/z)/z^2`, so :math:`P_{1/X}(G, z) = P(z(1 - zG), 1/z)`.
    Every finite root of :math:`P(\cdot, 0)` gives a branch :math:`\sim 1/z`, so the result carries
    branch data: the negative moments :math:`E[X^{-k}] = -g_{k-1}` from the Taylor series
    :math:`G_X(w) = \sum_k g_k w^k` at 0, started at the root :math:`g_0 = G_X(0)` that numeric
    branch tracking selects.
    """
    from .builtins import algebraic
    from .series import implicit_series

    law = algebraic(law)
    if law.parameters:
        raise ValueError("inverse needs numeric parameters; substitute them first with law.subs({...})")
    num = law.to_numeric()
    if num._contains(0.0):
        raise ValueError(f"inverse needs 0 outside the support of {law!r} (support {num.support})")
    g0_num = complex(num.cauchy(0.0))
    roots = sp.Poly(law.polynomial.subs(z, 0), G).all_roots() if law.degree > 4 else \
        list(sp.roots(sp.Poly(law.polynomial.subs(z, 0), G), multiple=True))
    if not roots:
        raise ValueError("inverse: could not find the roots of P(G, 0) exactly")
    g0 = min(roots, key=lambda r: abs(complex(sp.N(r, 30)) - g0_num))
    wv = sp.Symbol("w_")
    coeffs = poly_in(law.polynomial.subs(z, wv), G, wv)
    expr = law.polynomial.subs({G: z * (1 - z * G), z: 1 / z}, simultaneous=True)
    expr = sp.numer(sp.together(expr))
    _, factors = sp.factor_list(sp.expand(expr))
    main = [f for f, _ in factors if G in f.free_symbols]
    expr = main[0] if len(main) == 1 else sp.Mul(*main)
    last = None
    for k in range(1, max_moments + 1):
        taylor = implicit_series(coeffs, g0, k)
        pre = [sp.nsimplify(sp.radsimp(-sp.sympify(t))) for t in
               [sp.Rational(x.numerator, x.denominator) if isinstance(x, Fraction) else x for x in taylor]]
        try:
            return AlgebraicLaw(expr, moments=pre, name=f"inverse({_label(law)})", check=False)
        except ValueError as exc:
            last = exc
    raise ValueError(f"inverse: {max_moments} negative moments do not single out the branch ({last})")


def compression(law: AlgebraicLaw, t) -> AlgebraicLaw:
    r"""Free compression: the law of :math:`pXp` in the compressed space, p a free projection of
    trace t in (0, 1]; its free cumulants are :math:`t^{n-1}\kappa_n` (R(w) ↦ R(tw))."""
    from ..combinatorics import free_cumulants_to_moments
    from .builtins import _exact, algebraic

    law = algebraic(law)
    tt = _exact("t", t, lower=0, upper=1)
    expr = from_r_polynomial(r_polynomial(law).subs(w, tt * w))
    subs = test_point_values(law.parameters | tt.free_symbols)
    gl = _generic(law, subs)
    tv = to_exact(tt.subs(subs))

    def moments(n):
        return free_cumulants_to_moments([to_exact(k) * tv ** i for i, k in enumerate(gl.free_cumulants(n))])

    return _finish(expr, moments, law.parameters | tt.free_symbols, f"compression({_label(law)}, {tt})")


def free_power(law: AlgebraicLaw, t) -> AlgebraicLaw:
    r"""Free convolution power :math:`\mu^{\boxplus t}` (t >= 1): R ↦ tR, :math:`\kappa_n \mapsto t\kappa_n`."""
    from ..combinatorics import free_cumulants_to_moments
    from .builtins import _exact, algebraic

    law = algebraic(law)
    tt = _exact("t", t, lower=1, strict=False)
    expr = from_r_polynomial(r_polynomial(law).subs(R, R / tt))
    subs = test_point_values(law.parameters | tt.free_symbols)
    gl = _generic(law, subs)
    tv = to_exact(tt.subs(subs))

    def moments(n):
        return free_cumulants_to_moments([to_exact(k) * tv for k in gl.free_cumulants(n)])

    return _finish(expr, moments, law.parameters | tt.free_symbols, f"free_power({_label(law)}, {tt})")


def wishart(law: AlgebraicLaw, ratio) -> AlgebraicLaw:
    r"""Wishart-type product: the limit law of :math:`T^{1/2} W T^{1/2}` (sample covariance with
    population law ``law`` of T and aspect ratio c = N/M), i.e. ``law ⊠ marchenko_pastur(ratio=c)``."""
    from .builtins import marchenko_pastur

    return boxtimes(law, marchenko_pastur(ratio=ratio))
