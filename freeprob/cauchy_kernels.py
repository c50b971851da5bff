r"""Compiled (numba) Cauchy transforms of the closed-form laws.

Fixed-point solvers for free convolutions evaluate :math:`G_\mu` millions of times; when both
laws are built-in, the solver calls these kernels instead of going back to Python.  A law
advertises itself through ``Law._kernel_spec() -> (kind, params)``; ``kind`` is one of the
integer codes below and ``params`` a float64 vector whose layout each kernel documents.

All kernels take ``z`` in the closed upper half-plane and return ``(G(z), G'(z))``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

SEMICIRCLE = 1   # params = [mean, var]
ATOMS = 2        # params = [p_1..p_k, w_1..w_k]
FREE_POISSON = 3  # params = [rate λ, jump α]
ARCSINE = 4      # params = [a, b]


@njit(cache=True)
def _sqrt_cut(z, a, b):
    # sqrt((z-a)(z-b)) as sqrt(z-a)*sqrt(z-b) with principal roots: the branch that behaves
    # like z at infinity and is analytic off [a, b] (REFERENCES.md, "Square-root branch").
    return np.sqrt(z - a) * np.sqrt(z - b)


@njit(cache=True)
def cauchy_nb(kind, params, z):
    """``(G(z), G'(z))`` for the law with code ``kind`` and parameter vector ``params``."""
    if kind == SEMICIRCLE:
        m = params[0]
        s2 = params[1]
        r = 2.0 * np.sqrt(s2)
        w = z - m
        root = _sqrt_cut(w, -r, r)
        g = (w - root) / (2.0 * s2)
        # G' from G = 1/(w - s2 G):  G' = -G^2 / (1 - s2 G^2)
        dg = -g * g / (1.0 - s2 * g * g)
        return g, dg
    elif kind == ATOMS:
        k = params.shape[0] // 2
        g = 0j
        dg = 0j
        for i in range(k):
            d = z - params[i]
            g += params[k + i] / d
            dg -= params[k + i] / (d * d)
        return g, dg
    elif kind == FREE_POISSON:
        lam = params[0]
        al = params[1]
        sl = np.sqrt(lam)
        a = al * (1.0 - sl) ** 2
        b = al * (1.0 + sl) ** 2
        c = z + al * (1.0 - lam)
        g = (c - _sqrt_cut(z, a, b)) / (2.0 * al * z)
        # G' from the quadratic  α z G² − (z + α(1−λ)) G + 1 = 0
        dg = -(al * g * g - g) / (2.0 * al * z * g - c)
        return g, dg
    elif kind == ARCSINE:
        a = params[0]
        b = params[1]
        root = _sqrt_cut(z, a, b)
        g = 1.0 / root
        dg = -(z - 0.5 * (a + b)) / (root * root * root)
        return g, dg
    return np.nan + 0j, np.nan + 0j


@njit(cache=True)
def cauchy_array_nb(kind, params, z):
    """Vectorised :func:`cauchy_nb` over a 1-D complex array."""
    g = np.empty_like(z)
    dg = np.empty_like(z)
    for i in range(z.shape[0]):
        g[i], dg[i] = cauchy_nb(kind, params, z[i])
    return g, dg
