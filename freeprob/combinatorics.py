r"""Moments, free cumulants and boolean cumulants, both ways.

Free moment–cumulant recursion (REFERENCES.md):

.. math:: m_n = \sum_{s=1}^{n} \kappa_s \sum_{i_1+\dots+i_s = n-s} m_{i_1}\cdots m_{i_s},\qquad m_0 = 1.

The inner sum is the coefficient of :math:`x^{n-s}` in :math:`M(x)^s`, :math:`M = \sum_{i\ge0} m_i x^i`;
a table of truncated powers of M gives an O(n³) algorithm.  Boolean cumulants satisfy
:math:`m_n = \sum_{k=1}^{n} b_k m_{n-k}`.

The functions are exact for :class:`fractions.Fraction` or SymPy inputs (they return a list of
the same kind) and return a float array for float input.

>>> from fractions import Fraction as Fr
>>> free_cumulants_to_moments([0.0, 1.0, 0, 0, 0, 0])  # standard semicircle
array([0., 1., 0., 2., 0., 5.])
>>> moments_to_free_cumulants([Fr(1), Fr(2), Fr(5)])  # free Poisson(1): all cumulants 1
[Fraction(1, 1), Fraction(1, 1), Fraction(1, 1)]
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

__all__ = [
    "free_cumulants_to_moments",
    "moments_to_free_cumulants",
    "boolean_cumulants_to_moments",
    "moments_to_boolean_cumulants",
    "noncrossing_partitions",
    "catalan",
    "kreweras_complement",
    "boxtimes_moments",
]


def _as_sequence(seq):
    """(list of values, exact?) — exact when any element is not a plain float/int."""
    vals = list(seq.tolist() if isinstance(seq, np.ndarray) and seq.dtype != object else seq)
    exact = any(not isinstance(v, (float, int, np.floating, np.integer)) for v in vals) or all(
        isinstance(v, (int, np.integer)) for v in vals
    )
    if not exact:
        vals = [float(v) for v in vals]
    return vals, exact


def _finish(vals, exact):
    return vals if exact else np.array(vals, dtype=float)


def _powers_table(m: list, n: int):
    """P[s][k] = coefficient of x^k in M(x)^s, for s, k <= n (m[0] = 1)."""
    one = m[0]
    zero = one - one
    table = [[one] + [zero] * n]
    for s in range(1, n + 1):
        prev = table[-1]
        row = [sum((m[i] * prev[k - i] for i in range(k + 1)), zero) for k in range(n + 1)]
        table.append(row)
    return table


def free_cumulants_to_moments(kappa):
    """Moments ``m_1..m_n`` from free cumulants ``kappa_1..kappa_n``."""
    k, exact = _as_sequence(kappa)
    n = len(k)
    one = (k[0] ** 0) if n else 1
    m = [one] + [one - one] * n
    for j in range(1, n + 1):
        table = _powers_table(m[:j] + [one - one] * (n + 1 - j), j)
        m[j] = sum((k[s - 1] * table[s][j - s] for s in range(1, j + 1)), one - one)
    return _finish(m[1:], exact)


def moments_to_free_cumulants(moments):
    """Free cumulants ``kappa_1..kappa_n`` from moments ``m_1..m_n``."""
    mm, exact = _as_sequence(moments)
    n = len(mm)
    one = (mm[0] ** 0) if n else 1
    m = [one] + mm
    table = _powers_table(m, n)
    kappa = []
    for j in range(1, n + 1):
        # the s = j term has coefficient m_0^j = 1
        kappa.append(m[j] - sum((kappa[s - 1] * table[s][j - s] for s in range(1, j)), one - one))
    return _finish(kappa, exact)


def boolean_cumulants_to_moments(b):
    """Moments from boolean cumulants: ``m_n = sum_{k=1}^n b_k m_{n-k}``."""
    bb, exact = _as_sequence(b)
    n = len(bb)
    one = (bb[0] ** 0) if n else 1
    m = [one]
    for j in range(1, n + 1):
        m.append(sum((bb[k - 1] * m[j - k] for k in range(1, j + 1)), one - one))
    return _finish(m[1:], exact)


def moments_to_boolean_cumulants(moments):
    """Boolean cumulants from moments (inverse of :func:`boolean_cumulants_to_moments`)."""
    mm, exact = _as_sequence(moments)
    n = len(mm)
    one = (mm[0] ** 0) if n else 1
    m = [one] + mm
    b = []
    for j in range(1, n + 1):
        b.append(m[j] - sum((b[k - 1] * m[j - k] for k in range(1, j)), one - one))
    return _finish(b, exact)


def catalan(n: int) -> int:
    """Catalan number ``binom(2n, n)/(n+1)``, the number of non-crossing partitions of n points."""
    from math import comb

    return comb(2 * n, n) // (n + 1)


def _crosses(b1, b2) -> bool:
    for a, c in combinations(b1, 2):
        for b, d in combinations(b2, 2):
            if a < b < c < d or b < a < d < c:
                return True
    return False


def noncrossing_partitions(n: int):
    """Yield the non-crossing partitions of ``{1..n}`` as tuples of sorted tuples.

    >>> sum(1 for _ in noncrossing_partitions(4))
    14
    """
    if n == 0:
        yield ()
        return

    def rec(i, blocks):
        if i > n:
            yield tuple(tuple(b) for b in blocks)
            return
        for j in range(len(blocks)):
            cand = blocks[j] + [i]
            if not any(_crosses(cand, blocks[k]) for k in range(len(blocks)) if k != j):
                yield from rec(i + 1, blocks[:j] + [cand] + blocks[j + 1:])
        yield from rec(i + 1, blocks + [[i]])

    yield from rec(1, [])


def kreweras_complement(partition, n: int | None = None):
    """Kreweras complement of a non-crossing partition of ``{1..n}``.

    Computed as the cycles of the permutation :math:`\\pi^{-1}\\gamma_n` (Nica–Speicher), with
    the blocks of π read as increasing cycles and :math:`\\gamma_n = (1\\,2\\,\\dots\\,n)`.

    >>> kreweras_complement(((1,), (2,), (3,)))
    ((1, 2, 3),)
    """
    blocks = [tuple(sorted(b)) for b in partition]
    if n is None:
        n = max((max(b) for b in blocks), default=0)
    nxt = {}
    for b in blocks:
        for i, v in enumerate(b):
            nxt[v] = b[(i + 1) % len(b)]
    prev = {v: k for k, v in nxt.items()}
    gamma = {i: i % n + 1 for i in range(1, n + 1)}
    perm = {i: prev[gamma[i]] for i in range(1, n + 1)}
    seen, out = set(), []
    for i in range(1, n + 1):
        if i in seen:
            continue
        cyc, j = [], i
        while j not in seen:
            seen.add(j)
            cyc.append(j)
            j = perm[j]
        out.append(tuple(sorted(cyc)))
    return tuple(sorted(out))


def boxtimes_moments(kappa_mu, moments_nu):
    r"""Moments of μ⊠ν: :math:`m_n = \sum_{\pi\in NC(n)} \kappa_\pi[\mu]\, m_{K(\pi)}[\nu]`."""
    k, ek = _as_sequence(kappa_mu)
    m, em = _as_sequence(moments_nu)
    n = min(len(k), len(m))
    out = []
    for j in range(1, n + 1):
        tot = 0
        for p in noncrossing_partitions(j):
            term = 1
            for b in p:
                term = term * k[len(b) - 1]
            for b in kreweras_complement(p, j):
                term = term * m[len(b) - 1]
            tot = tot + term
        out.append(tot)
    return _finish(out, ek and em)
