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

import numpy as np
from scipy import special

from .law import Law, as_complex_array, check_positive

__all__ = ["FussCatalan", "fuss_catalan"]


class FussCatalan(Law):
    """Fuss–Catalan law with parameter ``s`` > 0 (s = 1 is Marchenko–Pastur with ratio 1).

    >>> import freeprob as fp
    >>> fp.fuss_catalan(2).moments(4)
    array([ 1.,  3., 12., 55.])
    """

    name = "fuss_catalan"

    def __init__(self, s: float = 2.0):
        self._s = check_positive("s", s)
        self._edge = float((self._s + 1) ** (self._s + 1) / self._s ** self._s)
        self._freeze()

    @property
    def support(self):
        return (0.0, self._edge)

    def _solve(self, z: np.ndarray) -> np.ndarray:
        """w = zG − 1 at the points z (upper half-plane), by continuation in Im z."""
        s1 = self._s + 1
        top = np.maximum(z.imag, 10.0 * self._edge + np.abs(z.real))
        w = 1.0 / (z.real + 1j * top)                 # ψ(1/z) ≈ m₁/z far away (m₁ = 1)
        for frac in np.concatenate([np.geomspace(1.0, 1e-3, 25), [0.0]]):
            zz = z.real + 1j * (z.imag + frac * (top - z.imag))
            for _ in range(60):
                p = np.exp(s1 * np.log1p(w))
                f = zz * w - p
                df = zz - s1 * p / (1 + w)
                step = f / df
                # keep 1 + w = zG in the slit plane: halve steps that would cross the cut
                new = w - step
                bad = ((1 + new).real < 0) & (np.sign((1 + new).imag) != np.sign((1 + w).imag))
                new = np.where(bad, w - 0.5 * step, new)
                w = new
                if np.all(np.abs(step) <= 1e-15 * np.maximum(1.0, np.abs(w))):
                    break
        resid = np.abs(z * w - np.exp(s1 * np.log1p(w)))
        tol = 1e-9 * np.maximum(1.0, np.abs(z * w))
        if np.any(resid > tol):
            i = int(np.argmax(resid / tol))
            raise ArithmeticError(f"Fuss–Catalan solver did not converge at z = {z[i]!r} (residual {resid[i]:.3g})")
        return w

    def _cauchy(self, z):
        z = np.asarray(z, dtype=complex)
        shape = z.shape
        z = z.reshape(-1)
        out = np.empty_like(z)
        # real points off the support: G is real there; approach from just above
        zz = np.where(z.imag == 0, z + 1j * 1e-300, z)
        w = self._solve(zz)
        out[:] = (1 + w) / z
        return out.reshape(shape)

    def _pdf(self, x):
        x = np.asarray(x, dtype=float)
        inside = (x > 0) & (x < self._edge)
        out = np.zeros_like(x)
        if np.any(inside):
            xi = x[inside]
            g = self._cauchy(xi + 1j * 1e-12 * self._edge)
            out[inside] = -g.imag / np.pi
        return out

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

    def __repr__(self):
        return f"fuss_catalan(s={self._s:g})"


def fuss_catalan(s: float = 2.0) -> FussCatalan:
    """Fuss–Catalan law with parameter ``s`` > 0: the law of π^{⊠s}, π free Poisson(1)."""
    return FussCatalan(s)
