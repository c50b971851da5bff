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
UNIFORM = 5      # params = [a, b]


def _uniform_series():
    r"""Taylor coefficients, in :math:`u = L/(z - b)` (L = b − a), for the uniform law far from
    [a, b] where :math:`\ell = \log(1 + u)` (G = ℓ/L) and the closed forms of h and h' cancel:
    ``d[j]`` of :math:`(u - \ell)/u^2`, and ``n[j]`` of :math:`(u^2 - (1 + u)\ell^2)/u^4`
    (:math:`h' = (u^2 - (1+u)\ell^2)/((1+u)\ell^2) pprox L^2/(12 z^2)`, the variance over z², where
    ``-G'/G² - 1`` has no correct digit).  Exact rationals, rounded once; 32 terms reach 2e-19
    (relative) at |u| = 1/4."""
    from fractions import Fraction

    m = 36
    ell = [Fraction(0)] + [Fraction((-1) ** (k + 1), k) for k in range(1, m + 1)]
    sq = [sum(ell[i] * ell[k - i] for i in range(k + 1)) for k in range(m + 1)]
    num = [(1 if k == 2 else 0) - sq[k] - (sq[k - 1] if k else 0) for k in range(m + 1)]
    d = np.array([float(Fraction((-1) ** k, k)) for k in range(2, m + 1)])
    return d[:32], np.array([float(c) for c in num[4:36]])


_U_D, _U_N = _uniform_series()
#: |u| below which the uniform kernel takes the series (:func:`_uniform_series`)
_U_SERIES = 0.25


@njit(cache=True, error_model="numpy")
def _horner(c, u):
    acc = 0j
    for j in range(c.shape[0] - 1, -1, -1):
        acc = acc * u + c[j]
    return acc


@njit(cache=True, error_model="numpy")
def _uniform_log(z, a, b):
    """(u, ℓ, small) with u = L/(z − b), ℓ = log((z − a)/(z − b)) = log(1 + u) on the branch of
    the closed upper half-plane (arg in [−π, 0]; Im z = −0 counts as +0, so the axis inside [a, b]
    gets the boundary value from above).  Near the support ℓ is formed from |z − a|/|z − b| and
    the two arguments (no 1 + u: next to z = a that sum has lost the digits of z − a); far from
    it (|u| ≤ 1/4) by the series."""
    L = b - a
    zb = z - b
    u = div(L, zb)
    if abs(u) <= _U_SERIES:
        return u, u - u * u * _horner(_U_D, u), True
    za = z - a
    y = z.imag if z.imag > 0.0 else 0.0
    arg = np.arctan2(y, za.real) - np.arctan2(y, zb.real)
    return u, complex(np.log(abs(za) / abs(zb)), arg), False


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
    elif kind == UNIFORM:
        a = params[0]
        b = params[1]
        _u, ell, _small = _uniform_log(z, a, b)
        return ell / (b - a), div(div(-1.0, z - a), z - b)
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
    = (ab - (a+b)z)/(\sqrt{(z-a)(z-b)} + z)`; atoms: :math:`h = -A/G`, :math:`A = \sum_i w_i p_i/(z - p_i)`;
    uniform, far from [a, b]: :math:`h = L(u - \ell)/(u\ell) - b` and h' from the series of
    :func:`_uniform_series`.
    """
    if kind == UNIFORM:
        a = params[0]
        b = params[1]
        L = b - a
        u, ell, small = _uniform_log(z, a, b)
        if small:
            d = u * u * _horner(_U_D, u)
            u2 = u * u
            # L/u = z − b: no product of L with small numbers (subnormal at a scale of 1e-300)
            return (z - b) * div(d, ell) - b, div(u2 * u2 * _horner(_U_N, u), (1.0 + u) * ell * ell)
        g = ell / L
        dg = div(div(-1.0, z - a), z - b)
        return div(1.0, g) - z, div(-dg, g * g) - 1.0
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
