r"""Algebraic laws: a probability law whose Cauchy transform solves :math:`P(G(z), z) = 0`.

The branch of the algebraic function that is the Cauchy transform is the one with
:math:`G(z) \sim 1/z` at infinity.  Writing :math:`u = 1/z` and :math:`G = u\,M(u)`, the moment
series :math:`M(u) = 1 + m_1 u + m_2 u^2 + \dots` is a branch of

.. math:: Q(M, u) = u^{d}\, P(u M, 1/u) = 0, \qquad d = \max\{a - b : z^a G^b \in P\},

through :math:`M(0) = 1`.  When :math:`M = 1` is a simple root of :math:`Q(M, 0)` the branch is
unique and its coefficients (the moments) follow exactly from the implicit function theorem.
Otherwise the *branch data* — a few leading moments — single it out: after substituting
:math:`M = 1 + m_1u + \dots + m_ku^k + u^{k+1}v` and dividing by the largest power of :math:`u`,
the branch is the unique root of a linear equation in :math:`v(0)`.

Conventions are those of :mod:`freeprob.law`: :math:`G(z) = \int d\mu(t)/(z-t)`, R-transform
:math:`G(R(w) + 1/w) = w`, :math:`S(z) = \chi(z)(1+z)/z` with :math:`\chi` the inverse of
:math:`\psi(u) = \sum_{n\ge1} m_n u^n`.
"""
from __future__ import annotations

from fractions import Fraction
from functools import cached_property
from typing import Mapping, Sequence

import mpmath
import sympy as sp

from .series import compose_poly, implicit_series, poly_in, series_coefficients, to_exact

__all__ = ["AlgebraicLaw", "G", "z", "R", "w", "S"]

#: The Cauchy transform and its argument in every law polynomial P(G, z).
G, z = sp.symbols("G z")


def as_sympy(name: str, value) -> sp.Basic:
    """``value`` as a SymPy object: numbers (int, float, Fraction, numpy scalars) and SymPy
    expressions only.

    Strings are refused, never parsed: :func:`sympy.sympify` evaluates a string as Python, so
    ``semicircle(var="__import__('os')...")`` would run code.

    >>> as_sympy("var", 2)
    2
    >>> as_sympy("var", "2")
    Traceback (most recent call last):
    ...
    ValueError: var must be a number or a SymPy expression, not the string '2' (strings are not parsed: sympify would evaluate them)
    """
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a number or a SymPy expression, not the string {value!r:.60} "
                         "(strings are not parsed: sympify would evaluate them)")
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    try:
        return sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a SymPy expression, got {type(value).__name__} "
                         f"{value!r:.60}") from None
#: The R-transform and its argument in R-polynomials (G(R + 1/w) = w).
R, w = sp.symbols("R w")
#: The S-transform in S-polynomials; its argument is ``z``.
S = sp.Symbol("S")
_M, _u, _v = sp.symbols("M_ u_ v_")
_RESERVED = {G, z, R, w, S, _M, _u, _v}


def _primitive(expr, gens) -> sp.Expr:
    """Numerator of ``expr`` as a polynomial in ``gens``, content (numbers and parameters) removed,
    sign fixed so that the leading coefficient has a positive numeric factor."""
    num = sp.numer(sp.together(sp.sympify(expr)))
    num = sp.expand(num)
    if num == 0:
        raise ValueError("the polynomial is identically zero")
    _, factors = sp.factor_list(num)
    keep = [f ** k for f, k in factors if f.free_symbols & set(gens)]
    out = sp.expand(sp.Mul(*keep))
    if out.free_symbols.isdisjoint(gens):
        raise ValueError(f"the polynomial must involve {', '.join(map(str, gens))}, got {expr}")
    lc = sp.Poly(out, *gens).LC()
    if sp.sympify(lc).as_coeff_Mul()[0] < 0:
        out = -out
    return out


def _tail_equation(poly_expr, prefix: Sequence) -> tuple[dict, object]:
    """(coefficients of Q~(v, u), v(0)) for the moment series with the given leading moments."""
    p = sp.Poly(poly_expr, G, z)
    d = max(a - b for (b, a) in p.monoms())
    q = sp.expand(sum(c * _M ** b * _u ** (b - a + d) for (b, a), c in p.terms()))
    k = len(prefix)
    mk = 1 + sum(sp.sympify(m) * _u ** (i + 1) for i, m in enumerate(prefix))
    qt = sp.expand(q.subs(_M, mk + _u ** (k + 1) * _v))
    if qt == 0:
        raise ValueError("the polynomial vanishes identically on the given branch data")
    e = min(mono[1] for mono in sp.Poly(qt, _v, _u).monoms())
    qt = sp.expand(qt / _u ** e)
    at0 = sp.Poly(qt.subs(_u, 0), _v)
    if at0.degree() <= 0:
        if k == 0:
            raise ValueError(
                f"no branch of {sp.Eq(poly_expr, 0)} behaves like G ~ 1/z at infinity, so it is not the "
                "Cauchy transform of a probability law"
            )
        raise ValueError(f"the leading moments {list(prefix)} are inconsistent with the polynomial {poly_expr}")
    if at0.degree() > 1:
        raise ValueError(
            f"several branches of {poly_expr} = 0 behave like 1/z + {' + '.join(f'{m}/z^{i + 2}' for i, m in enumerate(prefix)) or '...'}; "
            "pass more leading moments (moments=...) to single out the Cauchy transform"
        )
    c1, c0 = at0.all_coeffs()
    return poly_in(qt, _v, _u), sp.cancel(-c0 / c1)


class AlgebraicLaw:
    r"""A probability law on R whose Cauchy transform is a root of :math:`P(G, z) = 0`.

    Parameters
    ----------
    polynomial : sympy expression or Eq
        :math:`P(G, z)`, a polynomial in the symbols :data:`G` and :data:`z` whose coefficients
        may contain parameters (other SymPy symbols).  Denominators are cleared; numeric and
        parameter-only factors are dropped.
    moments : sequence, optional
        Leading moments :math:`m_1, \dots, m_k` when several branches of P behave like
        :math:`1/z` (the branch data).  Not needed for a branch that :math:`G\sim 1/z` determines.
    name : str, optional
        Label used in ``repr``.
    check : bool
        Check irreducibility (``ValueError`` if P factors); internal constructors that already
        reduced P pass ``False``.

    Raises
    ------
    ValueError
        For a reducible or constant polynomial, for no (or an ambiguous) branch :math:`G\sim 1/z`,
        or for leading moments that contradict P.

    Examples
    --------
    >>> from freeprob.symbolic import AlgebraicLaw, G, z
    >>> sc = AlgebraicLaw(G**2 - z*G + 1)     # the standard semicircle
    >>> sc.moments(6)
    [0, 1, 0, 2, 0, 5]
    >>> sc.cauchy()
    z/2 - sqrt(z - 2)*sqrt(z + 2)/2
    """

    def __init__(self, polynomial, *, moments: Sequence = (), name: str | None = None, check: bool = True):
        expr = (polynomial.lhs - polynomial.rhs if isinstance(polynomial, sp.Equality)
                else as_sympy("polynomial", polynomial))
        bad = (expr.free_symbols & _RESERVED) - {G, z}
        if bad:
            raise ValueError(f"polynomial must be written in G and z; the names {sorted(map(str, bad))} are reserved")
        if not expr.free_symbols & {G}:
            raise ValueError(f"polynomial must involve G (the Cauchy transform), got {expr}")
        num = sp.numer(sp.together(expr))
        if not num.is_polynomial(G, z):
            raise ValueError(f"polynomial must be polynomial in G and z after clearing denominators, got {expr}")
        if check:
            _, factors = sp.factor_list(sp.expand(num))
            main = [(f, k) for f, k in factors if f.free_symbols & {G, z}]
            if len(main) != 1 or main[0][1] != 1:
                raise ValueError(
                    f"polynomial must be irreducible; it factors as {sp.factor(num)}. Pass the factor "
                    "that carries the Cauchy transform"
                )
        self._expr = _primitive(num, (G, z))
        self._prefix = tuple(sp.nsimplify(m) if isinstance(m, float) else as_sympy("moments", m) for m in moments)
        self._tail, self._v0 = _tail_equation(self._expr, self._prefix)
        self._series: list = []
        self.name = name

    # -- the polynomial ----------------------------------------------------------------
    @property
    def polynomial(self) -> sp.Expr:
        """:math:`P(G, z)` (primitive, positive leading coefficient)."""
        return self._expr

    @cached_property
    def poly(self) -> sp.Poly:
        """P as a :class:`sympy.Poly` in ``(G, z)``."""
        return sp.Poly(self._expr, G, z)

    @property
    def degree(self) -> int:
        """Degree of P in G (the number of branches)."""
        return self.poly.degree(G)

    @property
    def parameters(self) -> set:
        """Free parameters (symbols other than G and z)."""
        return self._expr.free_symbols - {G, z} | set().union(*(sp.sympify(m).free_symbols for m in self._prefix))

    @property
    def branch_data(self) -> tuple:
        """Leading moments given to pick the branch (empty when ``G ~ 1/z`` suffices)."""
        return self._prefix

    def equation(self) -> sp.Equality:
        """``Eq(P(G, z), 0)``."""
        return sp.Eq(self._expr, 0)

    def subs(self, values: Mapping) -> "AlgebraicLaw":
        """The law with parameters replaced by ``values`` (a dict symbol -> number or expression)."""
        vals = {as_sympy("values key", k): (sp.nsimplify(v) if isinstance(v, float) else as_sympy(f"values[{k}]", v))
                for k, v in dict(values).items()}
        return AlgebraicLaw(self._expr.subs(vals), moments=[sp.sympify(m).subs(vals) for m in self._prefix],
                            name=self.name, check=False)

    # -- moments and cumulants -------------------------------------------------------
    def _moment_series(self, n: int) -> list:
        """m_0..m_n as Fractions or SymPy expressions (cached)."""
        if len(self._series) < n + 1:
            k = len(self._prefix)
            tail = implicit_series(self._tail, self._v0, max(1, n - k))
            self._series = [Fraction(1)] + [to_exact(m) for m in self._prefix] + list(tail)
        return self._series[: n + 1]

    def moments(self, n: int) -> list:
        """Exact moments :math:`m_1, \\dots, m_n` (rationals or expressions in the parameters).

        From the power series of :math:`zG(z) = \\sum_k m_k z^{-k}` at infinity.
        """
        n = _check_n(n)
        return [sp.factor(c) if isinstance(c, sp.Expr) and c.free_symbols else c
                for c in series_coefficients(self._moment_series(n)[1:])]

    def free_cumulants(self, n: int) -> list:
        """Exact free cumulants :math:`\\kappa_1, \\dots, \\kappa_n` (moment–cumulant recursion)."""
        from ..combinatorics import moments_to_free_cumulants

        kap = moments_to_free_cumulants(self._moment_series(_check_n(n))[1:])
        return [sp.factor(sp.cancel(c)) if isinstance(c, sp.Expr) else c for c in series_coefficients(kap)]

    # -- transforms ------------------------------------------------------------------
    def cauchy(self, max_degree: int = 2) -> sp.Expr:
        r"""Explicit Cauchy transform :math:`G(z)` when :math:`\deg_G P \le` ``max_degree`` (at most 4).

        Degree 2: :math:`G = (-B \mp \sqrt{D})/(2A)` with the square root of the discriminant
        :math:`D(z)` split over its roots, :math:`\sqrt{c}\prod_i\sqrt{z - r_i}` (principal roots),
        which is analytic on :math:`\mathbb C^+`; the sign gives :math:`G\sim 1/z`.  Degrees 3 and 4
        use Cardano/Ferrari radicals with principal branches: the expression is the Cauchy
        transform on the imaginary axis far from the support (the root is chosen at
        :math:`z = 10^8 i`); away from it the principal branches of the radicals may switch
        sheets (use :meth:`to_numeric` there).
        """
        from .transforms import explicit_cauchy

        return explicit_cauchy(self, max_degree)

    def r_polynomial(self) -> sp.Expr:
        """Polynomial :math:`P_R(R, w)` vanishing on the R-transform (``G(R(w) + 1/w) = w``)."""
        from .transforms import r_polynomial

        return r_polynomial(self)

    def r_transform(self, max_degree: int = 2) -> sp.Expr:
        """Explicit R-transform :math:`R(w) = \\sum_n \\kappa_n w^{n-1}` when its equation has degree
        ``<= max_degree`` in R; ``ValueError`` pointing to :meth:`r_polynomial` otherwise."""
        from .transforms import explicit_r

        return explicit_r(self, max_degree)

    def s_polynomial(self) -> sp.Expr:
        """Polynomial :math:`P_S(S, z)` vanishing on the S-transform."""
        from .transforms import s_polynomial

        return s_polynomial(self)

    def s_transform(self, max_degree: int = 2) -> sp.Expr:
        """Explicit S-transform :math:`S(z)` (needs :math:`m_1 \\ne 0`)."""
        from .transforms import explicit_s

        return explicit_s(self, max_degree)

    # -- closure operations ------------------------------------------------------------
    def scale(self, c) -> "AlgebraicLaw":
        """Law of ``c X`` (c nonzero)."""
        from .resultants import scale

        return scale(self, c)

    def shift(self, c) -> "AlgebraicLaw":
        """Law of ``X + c``."""
        from .resultants import shift

        return shift(self, c)

    def inverse(self) -> "AlgebraicLaw":
        """Law of ``1/X`` (0 must lie outside the support)."""
        from .resultants import inverse

        return inverse(self)

    def compression(self, t) -> "AlgebraicLaw":
        """Free compression by a projection of trace ``t`` in (0, 1]."""
        from .resultants import compression

        return compression(self, t)

    def free_power(self, t) -> "AlgebraicLaw":
        """Free convolution power :math:`\\mu^{\\boxplus t}`, t >= 1."""
        from .resultants import free_power

        return free_power(self, t)

    # -- density and numerics -----------------------------------------------------------
    def density(self):
        """The density: a piecewise formula (degree <= 3) or the numeric tracker; see :mod:`.density`."""
        from .density import density

        return density(self)

    def support_edges(self) -> list:
        """Exact support edges (real roots of the discriminant in z that bound the support)."""
        from .density import support_edges

        return support_edges(self)

    def to_numeric(self, values: Mapping | None = None):
        """A :class:`freeprob.law.Law` whose Cauchy transform tracks this branch numerically."""
        from .numeric import NumericAlgebraicLaw

        law = self.subs(values) if values else self
        return NumericAlgebraicLaw(law)

    # -- display -------------------------------------------------------------------------
    def latex(self) -> str:
        """LaTeX of the defining equation."""
        return sp.latex(self.equation())

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def __repr__(self) -> str:
        label = f"{self.name}: " if self.name else ""
        extra = f", moments={list(self._prefix)}" if self._prefix else ""
        return f"AlgebraicLaw({label}{self._expr} = 0{extra})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, AlgebraicLaw):
            return NotImplemented
        return sp.expand(self._expr - other._expr) == 0 and self._prefix == other._prefix

    def __hash__(self) -> int:
        return hash((self._expr, self._prefix))


#: exact series cost grows like n³ (n = 40 takes seconds): a bound that is still minutes, not days
MAX_EXACT_ORDER = 200


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_EXACT_ORDER:
        raise ValueError(f"n must be an integer in [1, {MAX_EXACT_ORDER}], got {n!r}")
    return n


def test_point_values(symbols) -> dict:
    """Generic rational values for parameters, used to pick branches and factors."""
    vals = [sp.Rational(3, 7), sp.Rational(5, 13), sp.Rational(7, 19), sp.Rational(11, 29), sp.Rational(13, 31)]
    out = {}
    for i, s in enumerate(sorted(symbols, key=str)):
        out[s] = vals[i % len(vals)] + i // len(vals)
    return out


def numeric_value(expr, subs: dict, dps: int = 40) -> complex:
    """Evaluate ``expr`` with ``subs`` at ``dps`` digits."""
    with mpmath.workdps(dps):
        return complex(sp.N(sp.sympify(expr).subs(subs), dps))
