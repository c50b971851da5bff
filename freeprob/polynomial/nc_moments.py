r"""Exact moments of a polynomial in free variables from the variables' free cumulants.

For free variables the joint moments follow from the moment–cumulant formula over non-crossing
partitions whose blocks are monochromatic (mixed cumulants vanish).  Splitting off the block that
contains the first letter :math:`l = w_1` of a word :math:`w = l\,v`:

.. math:: \varphi(l\,v) = \sum_{s\ge 1} \kappa_s(l) \sum_{v = u_1\, l\, u_2\, l \cdots l\, u_s}
          \varphi(u_1)\cdots\varphi(u_s),

the inner sum running over the ways to pick :math:`s-1` occurrences of :math:`l` in :math:`v`
(the gaps :math:`u_i` are intervals because the partition is non-crossing).  The inner sum is a
memoised recursion on suffixes, so the cost is polynomial in the word length.  Arithmetic is in
:class:`fractions.Fraction`: with rational coefficients and rational (or binary floating-point,
converted exactly) cumulants the moments are exact rationals.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Sequence

__all__ = ["word_moment_function", "polynomial_moments"]


def _frac(c) -> Fraction:
    try:
        return Fraction(str(c)) if not isinstance(c, float) else Fraction(c)
    except (ValueError, TypeError):
        return Fraction(float(c))


def word_moment_function(cumulants: Sequence[Sequence]):
    """``phi(word)`` for free variables with free cumulants ``cumulants[i] = (κ_1, κ_2, ...)``.

    Words are tuples of variable indices; a word longer than the available cumulants raises
    ``ValueError``.

    >>> phi = word_moment_function([[0, 1, 0, 0], [0, 1, 0, 0]])   # two standard semicirculars
    >>> phi((0, 1, 0, 1)), phi((0, 1, 1, 0))
    (Fraction(0, 1), Fraction(1, 1))
    """
    kap = [[_frac(c) for c in row] for row in cumulants]

    @lru_cache(maxsize=None)
    def phi(w: tuple) -> Fraction:
        if not w:
            return Fraction(1)
        l, v = w[0], w[1:]
        if len(w) > len(kap[l]):
            raise ValueError(f"need free cumulants of order {len(w)} for variable {l}")
        total = Fraction(0)
        for s in range(1, len(w) + 1):
            k = kap[l][s - 1]
            if k:
                t = pick(l, s - 1, v)
                if t:
                    total += k * t
        return total

    @lru_cache(maxsize=None)
    def pick(l: int, k: int, u: tuple) -> Fraction:
        # sum over choices of k occurrences of l in u of the product of the k+1 gap moments
        if k == 0:
            return phi(u)
        total = Fraction(0)
        for j, letter in enumerate(u):
            if letter == l:
                left = phi(u[:j])
                if left:
                    total += left * pick(l, k - 1, u[j + 1:])
        return total

    return phi


def polynomial_moments(words: dict, cumulants: Sequence[Sequence], n: int) -> list[Fraction]:
    """Exact moments ``φ(p), ..., φ(p^n)`` of ``p = Σ c_w w`` (``words`` as from ``poly_to_words``)."""
    phi = word_moment_function(cumulants)
    coeffs = {w: _frac(c) for w, c in words.items()}
    power: dict[tuple, Fraction] = {(): Fraction(1)}
    out = []
    for _ in range(n):
        nxt: dict[tuple, Fraction] = {}
        for w1, c1 in power.items():
            for w2, c2 in coeffs.items():
                w = w1 + w2
                nxt[w] = nxt.get(w, Fraction(0)) + c1 * c2
        power = {w: c for w, c in nxt.items() if c}
        out.append(sum((c * phi(w) for w, c in power.items()), Fraction(0)))
    return out
