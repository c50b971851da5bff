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


@njit(cache=True, error_model="numpy")
def div(a, b):
    """``a / b`` for complex numbers, NaN instead of an exception when ``b == 0``.

    numba raises ``ZeroDivisionError`` on complex division by zero whatever the error model;
    callers treat a NaN as "no step here" (at an atom, at a branch point).
    """
    if b == 0:
        return complex(np.nan, np.nan)
    return a / b


@njit(cache=True, error_model="numpy")
def _sqrt_cut(z, a, b):
    # sqrt((z-a)(z-b)) as sqrt(z-a)*sqrt(z-b) with principal roots: the branch that behaves
    # like z at infinity and is analytic off [a, b] (REFERENCES.md, "Square-root branch").
    return np.sqrt(z - a) * np.sqrt(z - b)


@njit(cache=True, error_model="numpy")
def cauchy_nb(kind, params, z):
    """``(G(z), G'(z))`` for the law with code ``kind`` and parameter vector ``params``."""
    if kind == SEMICIRCLE:
        m = params[0]
        s2 = params[1]
        r = 2.0 * np.sqrt(s2)
        w = z - m
        root = _sqrt_cut(w, -r, r)
        # (w − root)(w + root) = 4σ²: take the form without cancellation (far from the support
        # w − root loses all its digits)
        if abs(w - root) >= abs(w + root):
            g = (w - root) / (2.0 * s2)
        else:
            g = div(2.0, w + root)
        # G' from G = 1/(w - s2 G):  G' = -G^2 / (1 - s2 G^2)
        dg = div(-g * g, 1.0 - s2 * g * g)
        return g, dg
    elif kind == ATOMS:
        k = params.shape[0] // 2
        g = 0j
        dg = 0j
        for i in range(k):
            d = z - params[i]
            g += div(params[k + i], d)
            dg -= div(params[k + i], d * d)
        return g, dg
    elif kind == FREE_POISSON:
        lam = params[0]
        al = params[1]
        sl = np.sqrt(lam)
        a = al * (1.0 - sl) ** 2
        b = al * (1.0 + sl) ** 2
        c = z + al * (1.0 - lam)
        root = _sqrt_cut(z, a, b)
        # (c − root)(c + root) = 4αz: again the form without cancellation
        if abs(c - root) >= abs(c + root):
            g = div(c - root, 2.0 * al * z)
        else:
            g = div(2.0, c + root)
        # G' from the quadratic  α z G² − (z + α(1−λ)) G + 1 = 0
        dg = div(-(al * g * g - g), 2.0 * al * z * g - c)
        return g, dg
    elif kind == ARCSINE:
        a = params[0]
        b = params[1]
        root = _sqrt_cut(z, a, b)
        g = div(1.0, root)
        dg = div(-(z - 0.5 * (a + b)), root * root * root)
        return g, dg
    return np.nan + 0j, np.nan + 0j


@njit(cache=True, error_model="numpy")
def cauchy_array_nb(kind, params, z):
    """Vectorised :func:`cauchy_nb` over a 1-D complex array."""
    g = np.empty_like(z)
    dg = np.empty_like(z)
    for i in range(z.shape[0]):
        g[i], dg[i] = cauchy_nb(kind, params, z[i])
    return g, dg


@njit(cache=True, error_model="numpy")
def h_nb(kind, params, z):
    r"""``(h(z), h'(z))`` with :math:`h = F - z = 1/G - z`, computed without cancellation.

    Subordination maps use h, which is small (:math:`h \to -\text{mean}`) where F and z are
    large; forming ``1/G - z`` there would lose the digits that matter.
    Semicircle: :math:`h = -m - \sigma^2 G`; free Poisson: :math:`h = \alpha(1-\lambda) - \alpha z G`
    (both from the quadratic equation for G); arcsine: :math:`h = \sqrt{(z-a)(z-b)} - z
    = (ab - (a+b)z)/(\sqrt{(z-a)(z-b)} + z)`; atoms: :math:`h = -A/G`, :math:`A = \sum_i w_i p_i/(z - p_i)`.
    """
    g, dg = cauchy_nb(kind, params, z)
    if kind == SEMICIRCLE:
        s2 = params[1]
        return -params[0] - s2 * g, -s2 * dg
    elif kind == FREE_POISSON:
        lam = params[0]
        al = params[1]
        return al * (1.0 - lam) - al * z * g, -al * (g + z * dg)
    elif kind == ARCSINE:
        a = params[0]
        b = params[1]
        root = _sqrt_cut(z, a, b)
        return div(a * b - (a + b) * z, root + z), div(z - 0.5 * (a + b), root) - 1.0
    elif kind == ATOMS:
        # 1 − zG = −Σ w p/(z − p) =: −A, so h = (1 − zG)/G = −A/G and h' = −(A'G − AG')/G²
        k = params.shape[0] // 2
        a = 0j
        da = 0j
        for i in range(k):
            d = z - params[i]
            a += div(params[k + i] * params[i], d)
            da -= div(params[k + i] * params[i], d * d)
        return div(-a, g), div(-(da * g - a * dg), g * g)
    return div(1.0, g) - z, div(-dg, g * g) - 1.0


@njit(cache=True, error_model="numpy")
def h_array_nb(kind, params, z):
    """Vectorised :func:`h_nb` over a 1-D complex array."""
    h = np.empty_like(z)
    dh = np.empty_like(z)
    for i in range(z.shape[0]):
        h[i], dh[i] = h_nb(kind, params, z[i])
    return h, dh
