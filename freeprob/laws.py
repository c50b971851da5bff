r"""Built-in laws with closed forms.

Every constructor validates its parameters once and returns an immutable :class:`~freeprob.law.Law`.
Formulas follow the conventions of :mod:`freeprob.law` (``G ~ 1/z``, ``Im G < 0`` on C⁺, square
roots split as ``sqrt(z-a) sqrt(z-b)`` with principal branches).
"""
from __future__ import annotations

import numpy as np

from . import cauchy_kernels as ck
from .law import Law, as_real_array, check_positive, check_real

__all__ = ["Semicircle", "Atoms", "semicircle", "atoms"]


def _sqrt_cut(z: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.sqrt(z - a) * np.sqrt(z - b)


class Semicircle(Law):
    r"""Wigner's semicircle law with mean ``mean`` and variance ``var`` = σ².

    .. math:: \rho(x) = \frac{\sqrt{4\sigma^2 - (x-m)^2}}{2\pi\sigma^2},\qquad
              G(z) = \frac{(z-m) - \sqrt{(z-m)^2 - 4\sigma^2}}{2\sigma^2},\qquad R(w) = m + \sigma^2 w.

    >>> import freeprob as fp
    >>> mu = fp.semicircle(var=1.0)
    >>> complex(mu.cauchy(1 + 1j))  # doctest: +ELLIPSIS
    (0.25706586412167...-0.52908551363574...j)
    """

    name = "semicircle"

    def __init__(self, var: float = 1.0, mean: float = 0.0):
        self._var = check_positive("var", var)
        self._mean = check_real("mean", mean)
        self._r = 2.0 * np.sqrt(self._var)
        self._freeze()

    @property
    def support(self):
        return (self._mean - self._r, self._mean + self._r)

    def _cauchy(self, z):
        w = z - self._mean
        return (w - _sqrt_cut(w, -self._r, self._r)) / (2 * self._var)

    def _cauchy_derivative(self, z):
        g = self._cauchy(z)
        return -g * g / (1 - self._var * g * g)

    def _pdf(self, x):
        u = np.clip(4 * self._var - (x - self._mean) ** 2, 0, None)
        return np.sqrt(u) / (2 * np.pi * self._var)

    def _cdf(self, x):
        t = np.clip((x - self._mean) / self._r, -1, 1)
        return 0.5 + (t * np.sqrt(1 - t * t) + np.arcsin(t)) / np.pi

    def _moments(self, n):
        # moments of the centred law: m_{2k} = var^k Catalan(k); then binomial shift by the mean
        from math import comb

        c = np.zeros(n + 1)
        c[0] = 1.0
        for k in range(1, n // 2 + 1):
            c[2 * k] = self._var ** k * comb(2 * k, k) / (k + 1)
        out = np.array([sum(comb(j, i) * c[i] * self._mean ** (j - i) for i in range(j + 1)) for j in range(1, n + 1)])
        return out

    @property
    def mean(self):
        return self._mean

    @property
    def var(self):
        return self._var

    def r_transform(self, w):
        from .law import as_complex_array

        ww = as_complex_array("w", w)
        return self._mean + self._var * ww

    def _kernel_spec(self):
        return ck.SEMICIRCLE, np.array([self._mean, self._var])

    def __repr__(self):
        return f"semicircle(var={self._var:g}, mean={self._mean:g})"


class Atoms(Law):
    r"""A finitely supported law :math:`\sum_i w_i \delta_{p_i}`.

    .. math:: G(z) = \sum_i \frac{w_i}{z - p_i}.

    Repeated points are merged; zero weights dropped.

    >>> import freeprob as fp
    >>> fp.atoms([0, 1], [0.25, 0.75]).moments(3)
    array([0.75, 0.75, 0.75])
    """

    name = "atoms"

    def __init__(self, points, weights=None):
        p = as_real_array("points", points).ravel()
        if p.size == 0:
            raise ValueError("points must contain at least one point")
        if not np.all(np.isfinite(p)):
            raise ValueError("points must be finite")
        if weights is None:
            w = np.full(p.size, 1.0 / p.size)
        else:
            w = as_real_array("weights", weights).ravel()
            if w.shape != p.shape:
                raise ValueError(f"weights must have the same length as points ({p.size}), got {w.size}")
            if np.any(w < 0):
                raise ValueError("weights must lie in [0, 1]")
            if abs(w.sum() - 1.0) > 1e-10:
                raise ValueError(f"weights must sum to 1 (got sum {w.sum():.12g})")
            w = w / w.sum()
        uniq, inv = np.unique(p, return_inverse=True)
        ww = np.zeros(uniq.size)
        np.add.at(ww, inv, w)
        keep = ww > 0
        self._points = uniq[keep]
        self._weights = ww[keep]
        self._points.setflags(write=False)
        self._weights.setflags(write=False)
        self._freeze()

    @property
    def support(self):
        return (float(self._points[0]), float(self._points[-1]))

    @property
    def atoms(self):
        return self._points, self._weights

    def _in_gap(self, x):
        return ~np.isin(x, self._points)

    def _cauchy(self, z):
        return (self._weights[None, :] / (np.asarray(z)[..., None] - self._points[None, :])).sum(axis=-1)

    def _cauchy_derivative(self, z):
        return -(self._weights[None, :] / (np.asarray(z)[..., None] - self._points[None, :]) ** 2).sum(axis=-1)

    def _pdf(self, x):
        return np.zeros_like(x)

    def _cdf(self, x):
        return (self._weights[None, :] * (self._points[None, :] <= x[:, None])).sum(axis=1)

    def _moments(self, n):
        k = np.arange(1, n + 1)
        return (self._weights[:, None] * self._points[:, None] ** k[None, :]).sum(axis=0)

    def _kernel_spec(self):
        return ck.ATOMS, np.concatenate([self._points, self._weights])

    def __repr__(self):
        if self._points.size <= 4:
            return f"atoms({self._points.tolist()}, {self._weights.tolist()})"
        return f"atoms(<{self._points.size} points>)"


def semicircle(var: float = 1.0, mean: float = 0.0) -> Semicircle:
    """Semicircle law of variance ``var`` > 0 centred at ``mean``."""
    return Semicircle(var=var, mean=mean)


def atoms(points, weights=None) -> Atoms:
    """Discrete law with the given ``points`` and ``weights`` (summing to 1; uniform if omitted)."""
    return Atoms(points, weights)
