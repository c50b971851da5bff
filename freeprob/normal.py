r"""The Gaussian law, the base of every mean-field pushforward (``φ'(h)²`` with ``h`` Gaussian).

For :math:`X\sim N(m, \sigma^2)` and :math:`z\in\mathbb C^+` the Cauchy transform is a Faddeeva
function,

.. math:: G(z) = -i\sqrt{\tfrac{\pi}{2}}\;\frac{1}{\sigma}\;
          w\!\left(\frac{z-m}{\sigma\sqrt2}\right),\qquad
          w(\zeta) = \frac{i}{\pi}\int_{\mathbb R}\frac{e^{-t^2}}{\zeta-t}\,dt\quad(\operatorname{Im}\zeta>0),

so :math:`G(z)\sim 1/z` at infinity and :math:`-\operatorname{Im} G(x+i0)/\pi` is the Gaussian
density.  ``scipy.special.wofz`` evaluates :math:`w` to full precision on the whole half-plane.
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats

from .law import Law, check_positive, check_real

__all__ = ["Normal", "normal"]


class Normal(Law):
    r"""Gaussian law :math:`N(m, \sigma^2)` (``mean`` m, variance ``var`` σ²).

    Its free cumulants are not those of a semicircle: the Gaussian is the classical, not the
    free, central limit.  Support is the whole line, so it has no S-transform.

    >>> import freeprob as fp
    >>> g = fp.normal(mean=0.0, var=2.0)
    >>> g.moments(4)
    array([ 0.,  2.,  0., 12.])
    >>> round(g.cdf(0.0), 12)
    0.5
    """

    name = "normal"

    def __init__(self, mean: float = 0.0, var: float = 1.0):
        self._m = check_real("mean", mean)
        self._v = check_positive("var", var)
        self._s = float(np.sqrt(self._v))
        self._freeze()

    @property
    def support(self):
        return (-np.inf, np.inf)

    def _check_off_support(self, x):
        if x.size:
            raise ValueError(f"z = {x[0]!r} lies on the support (the whole real line) of {self!r}, "
                             "where the Cauchy transform is undefined; use a point with Im z != 0")

    def _cauchy(self, z):
        zeta = (z - self._m) / (self._s * np.sqrt(2.0))
        return -1j * np.sqrt(np.pi / 2) / self._s * special.wofz(zeta)

    def _cauchy_derivative(self, z):
        # Stein's identity E[(X−m) f(X)] = σ² E[f'(X)] with f = 1/(z−·):  G' = (1 − (z−m) G)/σ²
        return (1.0 - (z - self._m) * self._cauchy(z)) / self._v

    def _pdf(self, x):
        return stats.norm.pdf(x, self._m, self._s)

    def _cdf(self, x):
        return stats.norm.cdf(x, self._m, self._s)

    def _ppf(self, q):
        return self._m + self._s * special.ndtri(q)

    def _moments(self, n):
        # E[(m + σZ)^k] from the centred moments σ^{2j}(2j−1)!! (a float recursion, so a large n
        # overflows to inf and is reported, instead of an OverflowError from int -> float)
        from .laws import _float_moments

        c = np.zeros(n + 1)
        c[0] = 1.0
        with np.errstate(over="ignore", invalid="ignore"):
            for j in range(1, n // 2 + 1):
                c[2 * j] = c[2 * j - 2] * self._s ** 2 * (2 * j - 1)
        return _float_moments(n, c, self._m, self)

    @property
    def mean(self):
        return self._m

    @property
    def var(self):
        return self._v

    def _require_positive(self, what):
        raise ValueError(f"{what} needs a law supported on [0, inf); {self!r} charges the whole real line")

    def __repr__(self):
        return f"normal(mean={self._m:g}, var={self._v:g})"


def normal(mean: float = 0.0, var: float = 1.0) -> Normal:
    """Gaussian law with ``mean`` and variance ``var`` > 0."""
    return Normal(mean=mean, var=var)
