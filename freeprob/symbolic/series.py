r"""Truncated power series of an algebraic function branch.

Given a polynomial :math:`F(X, t)` and a simple root :math:`x_0` of :math:`F(X, 0)`, the implicit
function theorem gives a unique power series :math:`X(t) = \sum_k x_k t^k` with
:math:`F(X(t), t) = 0`.  Its coefficients follow order by order from the linear equation

.. math:: x_k = -\frac{[t^k]\,F(X_{<k}(t), t)}{F_X(x_0, 0)},

because every other contribution of :math:`x_k t^k` to :math:`[t^k] F` vanishes.  Coefficients are
kept exact: :class:`fractions.Fraction` when everything is rational (fast), SymPy expressions
otherwise (parameters, radicals).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import sympy as sp

__all__ = ["implicit_series", "series_coefficients", "poly_in", "to_exact", "compose_poly"]


def to_exact(value):
    """A SymPy number as :class:`Fraction` when rational, else the SymPy expression itself."""
    v = sp.sympify(value)
    if v.is_Rational:
        return Fraction(int(v.p), int(v.q))
    return v


def _all_fractions(values) -> bool:
    return all(isinstance(v, (Fraction, int)) for v in values)


def _simplify(value):
    if isinstance(value, (Fraction, int)):
        return value
    v = sp.cancel(sp.expand(value))
    if v.is_Rational:
        return Fraction(int(v.p), int(v.q))
    return v


def poly_in(expr, x: sp.Symbol, t: sp.Symbol) -> dict[int, list]:
    """``{j: [c_0, c_1, ...]}`` with ``expr = sum_j sum_k c_k t^k x^j`` (exact coefficients)."""
    p = sp.Poly(sp.expand(expr), x, t)
    out: dict[int, list] = {}
    for (j, k), c in p.terms():
        row = out.setdefault(j, [])
        if len(row) <= k:
            row.extend([0] * (k + 1 - len(row)))
        row[k] = to_exact(c)
    return out


def _mul(a: list, b: list, n: int) -> list:
    out = [0] * n
    for i, ai in enumerate(a[:n]):
        if ai == 0:
            continue
        for j in range(min(len(b), n - i)):
            if b[j] != 0:
                out[i + j] = out[i + j] + ai * b[j]
    return [_simplify(c) for c in out]


def compose_poly(coeffs: dict[int, list], xs: Sequence, n: int) -> list:
    """Coefficients ``[t^0..t^{n-1}]`` of ``F(X(t), t)`` for ``F`` given by :func:`poly_in`."""
    total = [0] * n
    power = [1] + [0] * (n - 1)
    xs = list(xs[:n]) + [0] * max(0, n - len(xs))
    for j in range(max(coeffs) + 1):
        if j > 0:
            power = _mul(power, xs, n)
        if j in coeffs:
            term = _mul(coeffs[j], power, n)
            total = [a + b for a, b in zip(total, term)]
    return [_simplify(c) for c in total]


def implicit_series(coeffs: dict[int, list], x0, n: int) -> list:
    """The first ``n`` coefficients of the branch of ``F(X, t) = 0`` through the simple root ``x0``.

    Raises ``ValueError`` when ``x0`` is not a root of ``F(X, 0)`` or is a multiple root.
    """
    x0 = to_exact(x0)
    f0 = compose_poly(coeffs, [x0], 1)[0]
    if f0 != 0:
        raise ValueError(f"X(0) = {x0} is not a root of F(X, 0) (value {f0})")
    # dF/dX at (x0, 0)
    d = 0
    for j, row in coeffs.items():
        if j > 0 and row and row[0] != 0:
            d = d + j * row[0] * x0 ** (j - 1)
    d = _simplify(d)
    if d == 0:
        raise ValueError(f"X(0) = {x0} is a multiple root of F(X, 0): the branch is not determined by it")
    xs = [x0]
    for k in range(1, n):
        # F(X_{<k} + 0 t^k) has zero coefficients below t^k; its t^k coefficient fixes x_k
        fk = compose_poly(coeffs, xs, k + 1)[k]
        xs.append(_simplify(-fk / d))
    return xs


def series_coefficients(values) -> list:
    """Coefficients as SymPy objects (Fraction -> Rational)."""
    return [sp.Rational(v.numerator, v.denominator) if isinstance(v, Fraction) else sp.sympify(v) for v in values]
