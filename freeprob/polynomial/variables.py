r"""Free variables as sympy noncommutative symbols, and noncommutative polynomials as word maps.

A noncommutative polynomial :math:`p = \sum_w c_w\, w` is stored as a dict from *words*
(tuples of variable indices, ``()`` for the constant) to real sympy numbers.  All variables are
self-adjoint, so the adjoint is :math:`p^* = \sum_w \bar c_w\, w^{\mathrm{rev}}` and ``p`` is
self-adjoint iff :math:`c_{w^{\mathrm{rev}}} = c_w` for every word.
"""
from __future__ import annotations

from typing import Sequence

import sympy

__all__ = ["free_variables", "poly_to_words", "words_to_sympy", "adjoint_words", "is_self_adjoint"]


def free_variables(names: str):
    """Self-adjoint free variables as sympy noncommutative symbols.

    Parameters
    ----------
    names : str
        Space- or comma-separated names, as for :func:`sympy.symbols`.

    Returns
    -------
    sympy.Symbol or tuple of sympy.Symbol
        One symbol for one name, a tuple otherwise (the :func:`sympy.symbols` convention).

    Examples
    --------
    >>> x, y = free_variables("x y")
    >>> x*y - y*x == 0
    False
    """
    if not isinstance(names, str) or not names.strip():
        raise ValueError(f"names must be a non-empty string of variable names, got {names!r}")
    return sympy.symbols(names, commutative=False)


def _letters(factor, index: dict) -> list[int]:
    if factor.is_Symbol:
        if factor.is_commutative:
            raise ValueError(
                f"{factor} is a commutative symbol; polynomial variables must come from free_variables()"
            )
        if factor not in index:
            raise ValueError(f"variable {factor} has no law; give one in the laws mapping")
        return [index[factor]]
    if factor.is_Pow:
        base, ex = factor.args
        if not (ex.is_Integer and int(ex) >= 1):
            raise ValueError(f"only positive integer powers are allowed in a polynomial, got {factor}")
        return _letters(base, index) * int(ex)
    raise ValueError(f"{factor} is not a product of free variables")


def poly_to_words(p, variables: Sequence) -> dict[tuple[int, ...], sympy.Expr]:
    """Expand the sympy expression ``p`` into ``{word: coefficient}`` over ``variables``.

    Coefficients must be real numbers; every noncommutative symbol must be in ``variables``.
    """
    index = {v: i for i, v in enumerate(variables)}
    out: dict[tuple[int, ...], sympy.Expr] = {}
    expr = sympy.expand(sympy.sympify(p))
    for term in sympy.Add.make_args(expr):
        c_part, nc_part = term.args_cnc()
        coeff = sympy.Mul(*c_part)
        if coeff.free_symbols:
            bad = sorted(map(str, coeff.free_symbols))
            raise ValueError(
                f"{', '.join(bad)}: commutative symbols in a polynomial; variables must come from free_variables()"
                if all(s.is_commutative for s in coeff.free_symbols) else f"bad coefficient {coeff}"
            )
        if not coeff.is_number or not coeff.is_real:
            raise ValueError(f"polynomial coefficients must be real numbers, got {coeff}")
        word: list[int] = []
        for f in nc_part:
            word.extend(_letters(f, index))
        w = tuple(word)
        out[w] = out.get(w, sympy.Integer(0)) + coeff
    return {w: c for w, c in out.items() if c != 0}


def words_to_sympy(words: dict, variables: Sequence):
    """Inverse of :func:`poly_to_words`."""
    return sympy.Add(*[c * sympy.Mul(*[variables[i] for i in w]) for w, c in words.items()])


def adjoint_words(words: dict) -> dict:
    """Adjoint of a real polynomial of self-adjoint variables: reverse every word."""
    return {tuple(reversed(w)): c for w, c in words.items()}


def is_self_adjoint(words: dict, tol: float = 1e-13) -> bool:
    """True iff ``c_{reverse(w)} = c_w`` for every word (up to ``tol`` for float coefficients)."""
    for w, c in words.items():
        d = words.get(tuple(reversed(w)), 0)
        if abs(float(c - d)) > tol * max(1.0, abs(float(c))):
            return False
    return True
