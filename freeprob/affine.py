"""Affine images ``c X + b`` of a law."""
from __future__ import annotations

import numpy as np

from .law import Law


class AffineLaw(Law):
    r"""Law of :math:`cX + b` for a law of X and real ``c != 0``.

    .. math:: G_{cX+b}(z) = \frac1c\,G_X\!\left(\frac{z-b}{c}\right)

    For ``c < 0`` the argument falls in the lower half-plane, where ``G(conj z) = conj G(z)``.
    """

    name = "affine"

    def __init__(self, base: Law, c: float, b: float):
        if c == 0:
            raise ValueError("c must be nonzero (the law of 0*X is atoms([0]))")
        if not (np.isfinite(c) and np.isfinite(b)):
            # composed maps overflow silently (shift(1e308).shift(1e308) would be a shift by inf)
            raise ValueError(f"the affine map c X + b must have finite c and b (|c|, |b| <= 1.8e308), "
                             f"got c={c!r}, b={b!r}")
        lo, hi = base.support
        for edge in (lo, hi):
            if np.isfinite(edge) and not np.isfinite(c * edge + b):
                raise ValueError(f"the affine map {c:g} X + {b:g} sends the support edge {edge:g} outside "
                                 "the float64 range (|x| <= 1.8e308)")
        self.base, self.c, self.b = base, float(c), float(b)
        self._freeze()

    @property
    def support(self):
        a0, b0 = self.base.support
        lo, hi = sorted((self.c * a0 + self.b, self.c * b0 + self.b))
        return (lo, hi)

    @property
    def _ac_hull(self):
        a0, b0 = self.base._ac_hull
        lo, hi = sorted((self.c * a0 + self.b, self.c * b0 + self.b))
        return (lo, hi)

    @property
    def atoms(self):
        p, w = self.base.atoms
        order = np.argsort(self.c * p + self.b)
        return (self.c * p + self.b)[order], w[order]

    def _in_gap(self, x):
        return self.base._in_gap((x - self.b) / self.c)

    def _cauchy(self, z):
        return self.base._cauchy_any((z - self.b) / self.c) / self.c

    def _cauchy_derivative(self, z):
        return self.base._cauchy_derivative_any((z - self.b) / self.c) / self.c ** 2

    def _pdf(self, x):
        return self.base._pdf((x - self.b) / self.c) / abs(self.c)

    def _cdf(self, x):
        y = (x - self.b) / self.c
        if self.c > 0:
            return self.base._cdf(y)
        # P(cX + b <= x) = P(X >= y) = 1 - P(X < y) = 1 - cdf(y) + mass at y
        p, w = self.base.atoms
        at = np.array([w[p == yi].sum() for yi in y]) if len(p) else 0.0
        return 1.0 - self.base._cdf(y) + at

    def _moments(self, n):
        from math import comb

        m = np.concatenate([[1.0], self.base.moments(n)])
        return np.array([sum(comb(j, i) * self.c ** i * m[i] * self.b ** (j - i) for i in range(j + 1))
                         for j in range(1, n + 1)])

    def __repr__(self):
        return f"({self.base!r}).scale({self.c:g}).shift({self.b:g})"


def affine(base: Law, c: float, b: float) -> Law:
    """Law of ``c X + b``; composes with an existing affine map instead of nesting."""
    if isinstance(base, AffineLaw):
        return AffineLaw(base.base, c * base.c, c * base.b + b)
    return AffineLaw(base, c, b)
