r"""The Fuss–Catalan law: the free multiplicative power :math:`\pi^{\boxtimes s}` of the free Poisson law π (rate 1, jump 1).

It is the limiting law of :math:`(G_1\cdots G_s)(G_1\cdots G_s)^*/N^s` for independent square
Ginibre matrices, and of squared singular values of deep linear Gaussian networks.

.. math:: S(z) = (1+z)^{-s},\qquad m_n = \frac{1}{sn+1}\binom{(s+1)n}{n}
          = \frac{\Gamma((s+1)n+1)}{\Gamma(n+1)\,\Gamma(sn+2)},\qquad
          \operatorname{supp} = \Bigl[0,\ \frac{(s+1)^{s+1}}{s^s}\Bigr].

With :math:`w = zG(z) - 1 = \psi(1/z)` the S-transform gives :math:`\chi(w) = w(1+w)^{-s-1}`, i.e.

.. math:: z\,w = (1+w)^{s+1},

solved by Newton's method along a vertical path from far above the point (where
:math:`w\approx 1/z`), which selects the branch with :math:`G\sim 1/z`.  The power uses the
principal logarithm: for a law on :math:`[0,\infty)` and :math:`z\in\mathbb C^+`,
:math:`\arg(zG)\in(-\pi,\pi)`, so :math:`1+w = zG` never crosses the cut.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from .law import as_complex_array, check_positive
from .solved import SolvedLaw

__all__ = ["FussCatalan", "fuss_catalan"]


class FussCatalan(SolvedLaw):
    r"""Fuss–Catalan law with parameter ``s`` > 0 (s = 1 is Marchenko–Pastur with ratio 1).

    A :class:`freeprob.SolvedLaw`: the state is :math:`w = zG(z) - 1`, the system
    :math:`\log z + \log w - (s+1)\log(1+w) = 0` (mod :math:`2\pi i`).

    >>> import freeprob as fp
    >>> fp.fuss_catalan(2).moments(4)
    array([ 1.,  3., 12., 55.])
    """

    name = "fuss_catalan"

    def __init__(self, s: float = 2.0):
        self._s = check_positive("s", s)
        if self._s > 1e4:
            raise ValueError(f"s must lie in (0, 1e4], got {s!r}")
        self._edge = float(math.exp((self._s + 1) * math.log(self._s + 1) - self._s * math.log(self._s)))
        self._freeze()

    def _frame(self):
        return 1.0, math.sqrt(self._s)

    def _hull(self):
        c, sc = self.frame
        return ((0.0 - c) / sc, (self._edge - c) / sc)

    def _z(self, zt):
        c, sc = self.frame
        return c + sc * zt

    def _start(self, zt):
        z = self._z(zt)
        # w = ψ(1/z) = m₁/z + m₂/z² + … with m₁ = 1, m₂ = s + 1
        return (1.0 / z + (self._s + 1) / z ** 2)[:, None]

    def _residual(self, zt, u):
        z = self._z(zt)
        w = u[:, 0]
        with np.errstate(all="ignore"):
            f = np.log(z + 0j) + np.log(w) - (self._s + 1) * np.log1p(w)
            f = f - 2j * np.pi * np.round(f.imag / (2 * np.pi))
            J = 1.0 / w - (self._s + 1) / (1 + w)
        return f[:, None], J[:, None, None]

    def _admissible(self, zt, u):
        # The residual is taken mod 2πi, which also accepts the other roots of z w = (1+w)^{s+1}.
        # On the physical branch arg z ∈ [0, π] and, for a law on [0, ∞), w = ∫ t/(z−t) dμ and
        # 1 + w = zG lie in the closed lower half-plane, and the branch index is 0:
        # arg z + arg w − (s+1) arg(1+w) = 0 with arg w, arg(1+w) ∈ [−π, 0].  Near 0 on the
        # axis the spurious root has arg(1+w) = −3π/4 instead of −π/4 (s = 3: density 233 for 217).
        z = self._z(zt)
        w = u[:, 0]
        with np.errstate(all="ignore"):
            g = (1 + w) / z
            k = np.angle(z) + _arg_lower(w) - (self._s + 1) * _arg_lower(1 + w)
        return (g.imag <= 1e-12 * np.abs(g)) & np.isfinite(g) & (np.abs(k) < 1.0)

    def _g(self, zt, u):
        return (1 + u[:, 0]) / self._z(zt) * self.frame[1]

    def _exact_atoms(self):
        return np.empty(0), np.empty(0)

    def _moments(self, n):
        k = np.arange(1, n + 1, dtype=float)
        s = self._s
        return np.exp(special.gammaln((s + 1) * k + 1) - special.gammaln(k + 1) - special.gammaln(s * k + 2))

    def s_transform(self, z):
        zz = as_complex_array("z", z)
        return (1 + zz) ** (-self._s)

    @property
    def mean(self):
        return 1.0

    @property
    def var(self):
        return float(self._s)

    @property
    def support(self):
        return (0.0, self._edge)

    @property
    def intervals(self):
        return ((0.0, self._edge),)

    @property
    def _std_intervals(self):
        return (self._hull(),)

    def __repr__(self):
        return f"fuss_catalan(s={self._s:g})"


def _arg_lower(v):
    """arg v in [−π, 0] for v in the closed lower half-plane (a rounding-level positive
    imaginary part next to the negative axis counts as −π, next to the positive axis as 0)."""
    a = np.angle(v)
    return np.where(a > 0.5 * np.pi, a - 2 * np.pi, np.minimum(a, 0.0))


def fuss_catalan(s: float = 2.0) -> FussCatalan:
    """Fuss–Catalan law with parameter ``s`` > 0: the law of π^{⊠s}, π free Poisson(1)."""
    return FussCatalan(s)
