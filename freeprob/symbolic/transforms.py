r"""Exact R- and S-transforms and explicit Cauchy transforms of algebraic laws.

Both transforms are birational changes of variables of the law polynomial :math:`P(G, z)`:

* R-transform, :math:`G(R(w) + 1/w) = w`: :math:`P_R(R, w) = \operatorname{numer} P(w, R + 1/w)`;
  back: :math:`P(G, z) = \operatorname{numer} P_R(z - 1/G, G)`.
* S-transform, with :math:`y = zG - 1 = \psi(1/z)` and :math:`S = \chi(y)(1+y)/y = G/(zG-1)`:
  :math:`P_S(S, y) = \operatorname{numer} P(S y, (1+y)/(S y))`; back:
  :math:`P(G, z) = \operatorname{numer} P_S(G/(zG-1), zG-1)`.

Monomial factors created by clearing denominators are dropped.  The explicit solutions of the
transformed equation are matched to the branch through the first terms of the exact series
(:math:`R(0) = \kappa_1`, :math:`R'(0) = \kappa_2`; :math:`S(0) = 1/m_1`).
"""
from __future__ import annotations

import mpmath
import sympy as sp

from .algebraic import G, R, S, AlgebraicLaw, numeric_value, test_point_values, z, w

__all__ = ["r_polynomial", "s_polynomial", "from_r_polynomial", "from_s_polynomial",
           "explicit_cauchy", "explicit_r", "explicit_s"]


def _drop_monomials(expr, x, t) -> sp.Expr:
    """Numerator of ``expr`` without factors free of ``x`` and with content in ``t`` removed."""
    num = sp.expand(sp.numer(sp.together(expr)))
    _, factors = sp.factor_list(num)
    keep = [f ** k for f, k in factors if x in f.free_symbols and f != x]
    out = sp.expand(sp.Mul(*keep))
    lc = sp.Poly(out, x, t).LC()
    return -out if sp.sympify(lc).as_coeff_Mul()[0] < 0 else out


def r_polynomial(law: AlgebraicLaw) -> sp.Expr:
    """:math:`P_R(R, w)` with :math:`P_R(R(w), w) = 0` for the R-transform of ``law``."""
    return _drop_monomials(law.polynomial.subs({G: w, z: R + 1 / w}, simultaneous=True), R, w)


def s_polynomial(law: AlgebraicLaw) -> sp.Expr:
    """:math:`P_S(S, z)` with :math:`P_S(S(z), z) = 0` for the S-transform of ``law``."""
    y = sp.Dummy("y")
    expr = law.polynomial.subs({G: S * y, z: (1 + y) / (S * y)}, simultaneous=True)
    return _drop_monomials(expr, S, y).subs(y, z)


def from_r_polynomial(expr, rsym=R, wsym=w) -> sp.Expr:
    """Law polynomial :math:`P(G, z)` (possibly reducible) from an R-polynomial."""
    return sp.numer(sp.together(expr.subs({rsym: z - 1 / G, wsym: G}, simultaneous=True)))


def from_s_polynomial(expr, ssym=S, ysym=z) -> sp.Expr:
    """Law polynomial :math:`P(G, z)` (possibly reducible) from an S-polynomial in ``(ssym, ysym)``."""
    g, zz = sp.Dummy("g"), sp.Dummy("zz")
    out = sp.numer(sp.together(expr.subs({ssym: g / (zz * g - 1), ysym: zz * g - 1}, simultaneous=True)))
    return out.subs({g: G, zz: z}, simultaneous=True)


def _solve(poly_expr, x, max_degree: int, what: str, hint: str) -> list:
    if max_degree > 4:
        raise ValueError(f"max_degree must be at most 4 (radicals), got {max_degree}")
    deg = sp.Poly(poly_expr, x).degree()
    if deg > max_degree:
        raise ValueError(
            f"the {what} solves an equation of degree {deg} > max_degree={max_degree}; "
            f"use {hint} (the polynomial) or the numeric layer"
        )
    sols = list(sp.roots(sp.Poly(poly_expr, x), multiple=True))
    if len(sols) != deg:
        raise ValueError(f"sympy found no radical solution of the degree-{deg} {what} equation; use {hint}")
    return sols


def _choose(cands, target, subs, label):
    errs = [abs(numeric_value(c, subs) - target) for c in cands]
    best = min(range(len(cands)), key=errs.__getitem__)
    if errs[best] > 1e-6 * max(1.0, abs(target)):
        raise ValueError(f"no explicit solution matches the {label} branch (closest misses by {errs[best]:.3g})")
    return cands[best]


def _split_sqrt(D, var):
    r""":math:`\sqrt{D}` written as :math:`\sqrt{c}\prod_i (z - r_i)^{m_i//2}\sqrt{z-r_i}^{m_i \bmod 2}`."""
    poly = sp.Poly(D, var)
    rts = sp.roots(poly)
    if sum(rts.values()) != poly.degree():
        return sp.sqrt(D)
    out = sp.sqrt(poly.LC())
    for r, m in rts.items():
        out *= (var - r) ** (m // 2) * sp.sqrt(var - r) ** (m % 2)
    return out


def explicit_cauchy(law: AlgebraicLaw, max_degree: int = 2) -> sp.Expr:
    """Explicit G(z); see :meth:`AlgebraicLaw.cauchy`."""
    p = sp.Poly(law.polynomial, G)
    deg = p.degree()
    params = law.parameters
    subs = test_point_values(params)
    m = law.moments(2)
    if deg == 1:
        a1, a0 = p.all_coeffs()
        return sp.factor(-a0 / a1)
    if deg == 2:
        a, b, c = p.all_coeffs()
        sq = _split_sqrt(sp.expand(b ** 2 - 4 * a * c), z)
        cands = [(-b - sq) / (2 * a), (-b + sq) / (2 * a)]
    else:
        cands = _solve(law.polynomial, G, max_degree, "Cauchy transform", "AlgebraicLaw.polynomial")
    # far up the imaginary axis G = 1/z + m1/z^2 + m2/z^3 + O(z^-4)
    big = mpmath.mpf(10) ** 8 * (1 + max(abs(numeric_value(c, subs)) for c in sp.Poly(law.polynomial, G, z).coeffs()))
    zt = 1j * float(big)
    subs_z = dict(subs)
    subs_z[z] = sp.I * sp.Integer(int(big))
    target = 1 / zt + complex(numeric_value(m[0], subs)) / zt ** 2 + complex(numeric_value(m[1], subs)) / zt ** 3
    errs = [abs(numeric_value(c, subs_z, dps=60) - target) * abs(zt) for c in cands]
    best = min(range(len(cands)), key=errs.__getitem__)
    if errs[best] > 1e-6:
        raise ValueError("no explicit root behaves like 1/z at infinity; use to_numeric()")
    return cands[best]


def explicit_r(law: AlgebraicLaw, max_degree: int = 2) -> sp.Expr:
    """Explicit R(w); see :meth:`AlgebraicLaw.r_transform`."""
    poly = r_polynomial(law)
    cands = _solve(poly, R, max_degree, "R-transform", "r_polynomial()")
    if len(cands) == 1:
        return sp.simplify(cands[0])
    subs = test_point_values(law.parameters)
    k = law.free_cumulants(3)
    h = sp.Rational(1, 10 ** 6)
    target = sum(numeric_value(k[i], subs) * complex(h) ** i for i in range(3))
    subs[w] = h
    return _choose(cands, target, subs, "R-transform")


def explicit_s(law: AlgebraicLaw, max_degree: int = 2) -> sp.Expr:
    """Explicit S(z); see :meth:`AlgebraicLaw.s_transform`."""
    m = law.moments(3)
    if m[0] == 0:
        raise ValueError("the S-transform needs a law with nonzero mean; this law has m1 = 0")
    poly = s_polynomial(law)
    cands = _solve(poly, S, max_degree, "S-transform", "s_polynomial()")
    if len(cands) == 1:
        return sp.simplify(cands[0])
    subs = test_point_values(law.parameters)
    m1, m2, m3 = (numeric_value(mi, subs) for mi in m)
    # chi(y) = y/m1 - m2 y^2/m1^3 + (2 m2^2 - m1 m3) y^3/m1^5 + ...,  S = chi (1+y)/y
    h = 1e-6
    chi = h / m1 - m2 * h ** 2 / m1 ** 3 + (2 * m2 ** 2 - m1 * m3) * h ** 3 / m1 ** 5
    target = chi * (1 + h) / h
    subs[z] = sp.Rational(1, 10 ** 6)
    return _choose(cands, target, subs, "S-transform")
