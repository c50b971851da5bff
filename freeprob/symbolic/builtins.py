r"""Symbolic twins of the built-in algebraic laws, and :func:`algebraic` to convert a numeric law.

Each twin is an :class:`~freeprob.symbolic.algebraic.AlgebraicLaw`; parameters may be numbers
(converted to exact rationals: ``0.1`` becomes ``1/10``) or SymPy symbols.

=====================  ==============================================================
law                    :math:`P(G, z)`
=====================  ==============================================================
semicircle(var, mean)  :math:`\sigma^2 G^2 - (z - m) G + 1`
free_poisson(λ, α)     :math:`\alpha z G^2 - (z + \alpha(1-\lambda)) G + 1`
arcsine(a, b)          :math:`(z-a)(z-b) G^2 - 1`
atoms(p, w)            :math:`\prod_i (z - p_i)\, G - \sum_i w_i \prod_{j\ne i}(z - p_j)`
kesten_mckay(d)        :math:`(d^2 - z^2) G^2 - (d-2) z G + (d - 1)`
fuss_catalan(s)        :math:`z^s G^{s+1} - z G + 1` (moment series :math:`M = 1 + M^{s+1}/z`)
=====================  ==============================================================

The Kesten–McKay polynomial comes from squaring
:math:`2(d^2-z^2)G - (d-2)z = -d\sqrt{z^2 - 4(d-1)}` and dividing by :math:`4(d^2 - z^2)`.
"""
from __future__ import annotations

import math

import sympy as sp

from .algebraic import AlgebraicLaw, G, z

__all__ = ["semicircle", "free_poisson", "marchenko_pastur", "arcsine", "atoms", "bernoulli",
           "kesten_mckay", "fuss_catalan", "algebraic"]


_MAX_DIGITS = 60


def _exact(name: str, value, *, lower=None, strict: bool = True, upper=None, integer: bool = False) -> sp.Expr:
    """``value`` as an exact SymPy number (or a symbolic expression, left unchecked)."""
    if isinstance(value, sp.Basic) and value.free_symbols:
        return value
    from .algebraic import as_sympy

    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number or a sympy expression, got {value!r}")
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError
            v = sp.Rational(repr(value))
        else:
            v = sp.nsimplify(as_sympy(name, value), rational=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number or a sympy expression (strings are not parsed), "
                         f"got {value!r:.60}") from None
    if not v.is_real or not v.is_finite:
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if v.is_Rational and max(len(str(abs(v.p))), len(str(v.q))) > _MAX_DIGITS:
        # 5e-324 is 5/10^324 exactly: resultants of such rationals do not finish
        raise ValueError(f"{name} must be a rational with at most {_MAX_DIGITS} digits in numerator and "
                         f"denominator, got {value!r}")
    rng = f"{'(' if strict else '['}{lower if lower is not None else '-inf'}, {upper if upper is not None else 'inf'}{']' if upper is not None else ')'}"
    if lower is not None and (v < lower or (strict and v == lower)):
        raise ValueError(f"{name} must lie in {rng}, got {value!r}")
    if upper is not None and v > upper:
        raise ValueError(f"{name} must lie in {rng}, got {value!r}")
    if integer and not v.is_integer:
        raise ValueError(f"{name} must be an integer >= {lower}, got {value!r}")
    return v


def semicircle(var=1, mean=0) -> AlgebraicLaw:
    """Semicircle law of variance ``var`` centred at ``mean``: :math:`\\sigma^2G^2 - (z-m)G + 1 = 0`.

    >>> semicircle(var=2).moments(4)
    [0, 2, 0, 8]
    """
    v = _exact("var", var, lower=0)
    m = _exact("mean", mean)
    return AlgebraicLaw(v * G ** 2 - (z - m) * G + 1, name=f"semicircle(var={v}, mean={m})", check=False)


def free_poisson(rate=1, jump=1) -> AlgebraicLaw:
    """Free Poisson law (rate λ, jump α): :math:`\\alpha zG^2 - (z + \\alpha(1-\\lambda))G + 1 = 0`.

    >>> free_poisson(2, 1).moments(3)
    [2, 6, 22]
    """
    lam = _exact("rate", rate, lower=0)
    al = _exact("jump", jump, lower=0)
    return AlgebraicLaw(al * z * G ** 2 - (z + al * (1 - lam)) * G + 1,
                        name=f"free_poisson(rate={lam}, jump={al})", check=False)


def marchenko_pastur(ratio=1, var=1) -> AlgebraicLaw:
    """Marchenko–Pastur law by aspect ratio c and variance σ²: free Poisson with λ = 1/c, α = cσ²."""
    c = _exact("ratio", ratio, lower=0)
    v = _exact("var", var, lower=0)
    law = free_poisson(1 / c, c * v)
    law.name = f"marchenko_pastur(ratio={c}, var={v})"
    return law


def arcsine(a=-2, b=2) -> AlgebraicLaw:
    """Arcsine law on [a, b]: :math:`(z-a)(z-b)G^2 - 1 = 0`."""
    lo, hi = _exact("a", a), _exact("b", b)
    if not (lo.free_symbols or hi.free_symbols) and not lo < hi:
        raise ValueError(f"a must be < b, got a={a!r}, b={b!r}")
    return AlgebraicLaw((z - lo) * (z - hi) * G ** 2 - 1, name=f"arcsine(a={lo}, b={hi})", check=False)


def atoms(points, weights=None) -> AlgebraicLaw:
    r"""Finitely supported law :math:`\sum_i w_i\delta_{p_i}`: :math:`G = \sum_i w_i/(z - p_i)`.

    Points and weights are made exact (floats through their decimal representation); repeated
    points are merged.

    >>> atoms([-1, 1]).polynomial
    G*z**2 - G - z
    """
    pts = [_exact("points", p) for p in points]
    if not pts:
        raise ValueError("points must contain at least one point")
    if weights is None:
        wts = [sp.Rational(1, len(pts))] * len(pts)
    else:
        wts = [_exact("weights", x, lower=0, strict=False, upper=1) for x in weights]
        if len(wts) != len(pts):
            raise ValueError(f"weights must have the same length as points ({len(pts)}), got {len(wts)}")
        total = sp.simplify(sum(wts))
        if not total.free_symbols and total != 1:
            raise ValueError(f"weights must sum to 1 exactly (got {total})")
    merged: dict = {}
    for p, x in zip(pts, wts):
        merged[p] = merged.get(p, 0) + x
    merged = {p: x for p, x in merged.items() if x != 0}
    ps = list(merged)
    den = sp.Mul(*[(z - p) for p in ps])
    num = sum(merged[p] * sp.Mul(*[(z - q) for q in ps if q != p]) for p in ps)
    label = f"atoms({ps}, {[merged[p] for p in ps]})"
    return AlgebraicLaw(den * G - num, name=label, check=False)


def bernoulli(p=sp.Rational(1, 2)) -> AlgebraicLaw:
    """Bernoulli law on {0, 1} with P(1) = ``p``: :math:`z(z-1)G - (z - 1 + p) = 0`."""
    pp = _exact("p", p, lower=0, strict=False, upper=1)
    if pp.free_symbols:
        return AlgebraicLaw(z * (z - 1) * G - (z - 1 + pp), name=f"bernoulli({pp})", check=False)
    law = atoms([0, 1], [1 - pp, pp])
    law.name = f"bernoulli({pp})"
    return law


def kesten_mckay(d=3) -> AlgebraicLaw:
    """Kesten–McKay law of the d-regular tree (d >= 2): :math:`(d^2-z^2)G^2 - (d-2)zG + d - 1 = 0`.

    >>> kesten_mckay(3).moments(4)
    [0, 3, 0, 15]
    """
    dd = _exact("d", d, lower=2, strict=False)
    return AlgebraicLaw((dd ** 2 - z ** 2) * G ** 2 - (dd - 2) * z * G + (dd - 1), name=f"kesten_mckay({dd})",
                        check=False)


def fuss_catalan(s=2) -> AlgebraicLaw:
    """Fuss–Catalan law of order s (a positive integer), MP(1)^{⊠s}: :math:`z^sG^{s+1} - zG + 1 = 0`.

    >>> fuss_catalan(2).moments(4)
    [1, 3, 12, 55]
    """
    ss = _exact("s", s, lower=1, strict=False, integer=True)
    if ss.free_symbols:
        raise ValueError("s must be a concrete positive integer: the degree of the polynomial depends on it")
    return AlgebraicLaw(z ** ss * G ** (ss + 1) - z * G + 1, name=f"fuss_catalan({ss})", check=False)


def _rat(x) -> sp.Rational:
    """A float parameter of a numeric law as the rational it was most likely written as."""
    return sp.Rational(repr(float(x)))


def _is_algebraic(law) -> bool:
    try:
        algebraic(law)
    except ValueError:
        return False
    return True


def algebraic(law) -> AlgebraicLaw:
    """The symbolic twin of a numeric :class:`freeprob.law.Law` (or ``law`` itself if algebraic).

    Float parameters become exact rationals through their shortest decimal representation.
    Affine images and free convolutions of algebraic laws are converted through
    :func:`~freeprob.symbolic.scale`, :func:`~freeprob.symbolic.shift`,
    :func:`~freeprob.symbolic.boxplus` and :func:`~freeprob.symbolic.boxtimes`.
    Laws that are not algebraic (uniform, normal, empirical, solver-backed convolutions) raise
    ``ValueError`` suggesting the numeric route.
    """
    if isinstance(law, AlgebraicLaw):
        return law
    from ..law import Law

    if not isinstance(law, Law):
        raise ValueError(f"law must be a freeprob Law or an AlgebraicLaw, got {type(law).__name__}")
    cls = type(law).__name__
    if cls == "Semicircle":
        return semicircle(_rat(law._var), _rat(law._mean))
    if cls == "FreePoisson":
        return free_poisson(_rat(law._lam), _rat(law._alpha))
    if cls == "Arcsine":
        return arcsine(_rat(law._lo), _rat(law._hi))
    if cls in ("Atoms", "Bernoulli"):
        pts, wts = law.atoms
        return atoms([_rat(p) for p in pts], [_rat(x) for x in wts])
    if cls == "AffineLaw":  # law of c X + b
        from .resultants import scale, shift

        return shift(scale(algebraic(law.base), _rat(law.c)), _rat(law.b))
    if (cls == "FreeConvolution" and len(law.laws) == 2 and law.weights == (1.0, 1.0)
            and all(_is_algebraic(x) for x in (law.mu, law.nu))):
        from .resultants import boxplus, boxtimes

        op = boxplus if law.kind == "plus" else boxtimes
        return op(algebraic(law.mu), algebraic(law.nu))
    for attr_cls, ctor, attrs in (("KestenMcKay", kesten_mckay, ("d", "_d")), ("FussCatalan", fuss_catalan, ("s", "_s"))):
        if cls == attr_cls:
            for a in attrs:
                if hasattr(law, a):
                    return ctor(_rat(getattr(law, a)))
    raise ValueError(
        f"{law!r} is not an algebraic law (its Cauchy transform solves no polynomial equation known "
        "to freeprob.symbolic); use the numeric layer instead (law.cauchy, law.pdf, freeprob.boxplus/boxtimes)"
    )
