r"""Limiting spectrum of the input-output Jacobian of a deep network at initialisation.

For :math:`h^l = W^l x^{l-1} + b^l`, :math:`x^l = \phi(h^l)` the Jacobian is
:math:`J = D_L W_L \cdots D_1 W_1` with :math:`D_l = \operatorname{diag}\phi'(h^l)`.  With every
pre-activation at the mean-field fixed point :math:`q^*`, the entries of :math:`D_l^2` follow the law
of :math:`\phi'(h)^2`, :math:`h\sim N(0, q^*)`, and (Pennington–Schoenholz–Ganguli; asymptotic freeness
by Collins–Hayase) the S-transform of :math:`JJ^\top` is a product over layers.

Widths :math:`n_0, \dots, n_L` (input first); :math:`J J^\top` is :math:`n_L\times n_L` and its law is the
normalised eigenvalue distribution in dimension :math:`n_L`.  Weight entries have variance
:math:`\sigma_w^2/n_{l-1}`; orthogonal weights are :math:`\sigma_w\sqrt{\max(1, n_l/n_{l-1})}` times
a Haar matrix with orthonormal rows or columns (the same entry variance).  Writing
:math:`c_l = n_L/n_l` and :math:`r = n_0/n_L`,

.. math::

    S_{JJ^\top}(z) = \frac{1+z}{r+z}\,\prod_{l=1}^{L} S_{D^2}(c_l z)\, T_l(z),

with :math:`T_l(z) = n_{l-1}/(\sigma_w^2 (n_l + n_L z))` for Gaussian weights (Marchenko–Pastur),
and for orthogonal weights :math:`T_l = n_{l-1}/(\sigma_w^2 n_l)` when :math:`n_l \ge n_{l-1}`,
:math:`T_l(z) = (n_{l-1} + n_L z)/(\sigma_w^2 (n_l + n_L z))` otherwise (a projection).  For equal
widths this is :math:`S = [S_{D^2}(z)/\sigma_w^2]^L`, times :math:`(1+z)^{-L}` for Gaussian weights.
The rule comes from the rectangular identity :math:`S_{A^\top A}(z) = S_{AA^\top}(z/c)(1+z)/(c+z)`,
:math:`c = n/m` for :math:`A` of size :math:`n\times m`; the dimension factors telescope.

Conventions: :math:`\psi(u) = \sum_{n\ge1} m_n u^n`, :math:`\chi = \psi^{\langle-1\rangle}`,
:math:`S(z) = \chi(z)(1+z)/z` (REFERENCES.md).  The Cauchy transform at :math:`x\in\mathbb C^+` is
:math:`G(x) = (1+\zeta)/x` where :math:`\zeta = \psi(1/x)` solves :math:`\chi_{JJ^\top}(\zeta) = 1/x`.
The depth enters only as an exponent, so the composed S-transform is inverted directly
(never by repeated ⊠): unknowns :math:`\zeta` and :math:`v_k = \chi_{D^2}(c_k\zeta)` (one per
distinct width), Newton's method on :math:`\log\chi_{JJ^\top}(\zeta) + \log x = 0` and
:math:`\psi_{D^2}(v_k) = c_k\zeta`, with every logarithm cut along the positive imaginary axis: on
the physical branch all its arguments lie in the closed lower half-plane, so the equation is
single-valued there and the spurious roots of the :math:`L`-th power are not roots of it
(:mod:`nn_spectra.jacobian_kernel`).  The law is a :class:`freeprob.SolvedLaw` in the frame
:math:`(0, b)`, :math:`b` the top edge; the continuation measures heights relative to :math:`|x|`, so
the density is exact on the axis over every decade near 0.
"""
from __future__ import annotations

from functools import cached_property
from typing import Sequence

import numpy as np
from scipy import optimize

import freeprob as fp
from freeprob.law import Law, check_positive
from freeprob.solved import ConvergenceError, SolvedLaw

from .jacobian_kernel import psi_rule, solve_path

__all__ = ["JacobianLaw", "jacobian_law", "jacobian_law_from_d2", "d2_law", "jacobian_variance",
           "sample_jacobian_spectrum",
           "jacobian_moments_series"]

_WEIGHTS = ("orthogonal", "gaussian")


def _lg(w):
    """Logarithm with its cut on the positive imaginary axis (continuous on the closed lower half-plane)."""
    return np.log(1j * np.asarray(w, dtype=complex)) - 0.5j * np.pi


#: former name of the solver's error, kept as an alias of the engine's one
JacobianSolverError = ConvergenceError


# ----------------------------------------------------------------------------- power series
def _series_compose(f: np.ndarray, g: np.ndarray, n: int) -> np.ndarray:
    """Coefficients of f(g(z)) up to z^n; g[0] must be 0."""
    out = np.zeros(n + 1)
    power = np.zeros(n + 1)
    power[0] = 1.0
    for k in range(len(f)):
        if k > n:
            break
        out += f[k] * power
        power = np.convolve(power, g)[: n + 1]
    return out


def _series_revert(f: np.ndarray, n: int) -> np.ndarray:
    """Compositional inverse g of f (f[0] = 0, f[1] != 0) up to z^n, one order per sweep."""
    g = np.zeros(n + 1)
    g[1] = 1.0 / f[1]
    ident = np.zeros(n + 1)
    ident[1] = 1.0
    for _ in range(n):
        err = _series_compose(f, g, n) - ident
        g = g - err / f[1]
    return g


def _series_mul(a, b, n):
    """Product of two power series, truncated after z^n (zero-padded to length n + 1)."""
    out = np.zeros(n + 1)
    prod = np.convolve(a, b)[: n + 1]
    out[: len(prod)] = prod
    return out


def _poly(coeffs, n):
    """Coefficient list as a series of length n + 1 (zero-padded or truncated)."""
    out = np.zeros(n + 1)
    c = np.asarray(coeffs, dtype=float)[: n + 1]
    out[: len(c)] = c
    return out


def _series_inv(a, n):
    """1/a as a power series (a[0] != 0)."""
    out = np.zeros(n + 1)
    out[0] = 1.0 / a[0]
    for k in range(1, n + 1):
        out[k] = -np.dot(a[1: k + 1], out[k - 1:: -1][:k]) / a[0]
    return out


def _s_series_from_moments(m: np.ndarray, n: int) -> np.ndarray:
    """S-transform coefficients s_0..s_{n-1} from moments m_1..m_n."""
    psi = np.concatenate([[0.0], m[:n]])
    chi = _series_revert(psi, n)
    # S(z) = chi(z) (1+z)/z
    chi_over_z = chi[1:]                                  # degree n-1
    return _series_mul(chi_over_z, np.array([1.0, 1.0]), n - 1)


def _moments_from_s_series(s: np.ndarray, n: int) -> np.ndarray:
    """Moments m_1..m_n from the S-transform coefficients s_0..s_{n-1}."""
    # chi(z) = z S(z)/(1+z)
    geo = (-1.0) ** np.arange(n)
    chi = np.concatenate([[0.0], _series_mul(s, geo, n - 1)])
    psi = _series_revert(chi, n)
    return psi[1:]


def jacobian_moments_series(d2_moments: Sequence[float], sigma_w2: float, widths: Sequence[int],
                            weights: str, n: int) -> np.ndarray:
    r"""Moments :math:`m_1..m_n` of the limiting law of :math:`JJ^\top` by power series.

    Multiplies the S-transform series of the factors (see the module docstring) and reverts
    :math:`\chi(z) = zS(z)/(1+z)`.  ``d2_moments`` are the moments of :math:`D^2 = \phi'(h)^2`
    (at least ``n`` of them); ``widths`` are :math:`n_0, \dots, n_L`.
    """
    d2m = np.asarray(d2_moments, dtype=float)[:n]
    w = np.asarray(widths, dtype=float)
    L = len(w) - 1
    nL = w[-1]
    sD = _s_series_from_moments(d2m, n)
    k = np.arange(n)
    # (1+z)/(r+z)
    r = w[0] / nL
    total = _series_mul(_poly([1.0, 1.0], n - 1), _series_inv(_poly([r, 1.0], n - 1), n - 1), n - 1)
    for layer in range(1, L + 1):
        c = nL / w[layer]
        total = _series_mul(total, sD * c ** k, n - 1)
        total = _series_mul(total, _t_series(w[layer - 1], w[layer], nL, sigma_w2, weights, n), n - 1)
    return _moments_from_s_series(total, n)


def _t_series(n_prev, n_cur, nL, sigma_w2, weights, n):
    """Power series (degree n-1) of the weight factor T_l."""
    if weights == "gaussian":
        return _series_inv(_poly([n_cur, nL], n - 1) * sigma_w2 / n_prev, n - 1)
    if n_cur >= n_prev:
        out = np.zeros(n)
        out[0] = n_prev / (sigma_w2 * n_cur)
        return out
    num = _poly([n_prev, nL], n - 1)
    den = _poly([n_cur, nL], n - 1) * sigma_w2
    return _series_mul(num, _series_inv(den, n - 1), n - 1)


# ----------------------------------------------------------------------------- psi of D^2
class _PsiAtoms:
    r""":math:`\psi(v) = \sum_i w_i v t_i/(1 - v t_i)` and its derivative for a discrete rule (exact for
    atomic laws; a quadrature rule, possibly on a complex contour, otherwise).  ``top`` is the top of
    the support of :math:`D^2` on the real axis (the first pole of psi on :math:`(0, \infty)` is 1/top)."""

    def __init__(self, points, weights, top=None):
        self.t = np.ascontiguousarray(points, dtype=complex)
        self.w = np.ascontiguousarray(weights, dtype=complex)
        self.top = float(np.max(self.t.real)) if top is None else float(top)

    def __call__(self, v):
        v = np.asarray(v, dtype=complex)
        psi, dpsi = psi_rule(np.ascontiguousarray(v.ravel()), self.t, self.w)
        return psi.reshape(v.shape), dpsi.reshape(v.shape)


class _PsiLaw:
    r"""psi and psi' from a Law's public Cauchy transform and its derivative (general, slower):
    :math:`\psi(v) = u G(u) - 1`, :math:`\psi'(v) = -u^2 G(u) - u^3 G'(u)` at :math:`u = 1/v`.  The
    physical branch has v in the closed lower half-plane, so u is in the upper one, where
    ``Law.cauchy`` is the transform itself; a real u on the support of D^2 has no single value
    (the boundary value is a limit, not a point of the domain) and gives NaN, which the engine
    treats as not certified."""

    #: |v| times the radius of the support below which psi is summed from the moments: uG(u) - 1 loses
    #: the digits of 1/|u| to cancellation (1e-9 at |v| ~ 1e-7, enough to fail the residual test of the
    #: contour cdf's high rays), the series sum_n m_n v^n converges like 0.1^n
    SERIES_RADIUS = 0.1
    SERIES_TERMS = 18

    def __init__(self, law: Law):
        self.law = law
        a, b = law.support
        self.radius = float(max(abs(a), abs(b)))
        self.moments = law.moments(self.SERIES_TERMS) if np.isfinite(self.radius) else None

    def __call__(self, v):
        v = np.asarray(v, dtype=complex)
        shape = v.shape
        v = np.atleast_1d(v).ravel()
        psi = np.empty(v.shape, dtype=complex)
        dpsi = np.empty(v.shape, dtype=complex)
        near = (np.abs(v) * self.radius < self.SERIES_RADIUS) if self.moments is not None else np.zeros(v.shape, bool)
        if np.any(near):
            vn = v[near]
            n = np.arange(1, self.SERIES_TERMS + 1)
            pw = vn[:, None] ** (n[None, :] - 1)
            psi[near] = (pw * self.moments[None, :]).sum(axis=1) * vn
            dpsi[near] = (pw * (n * self.moments)[None, :]).sum(axis=1)
        if np.all(near):
            return psi.reshape(shape), dpsi.reshape(shape)
        p2, d2 = self._from_cauchy(v[~near])
        psi[~near], dpsi[~near] = p2, d2
        return psi.reshape(shape), dpsi.reshape(shape)

    def _from_cauchy(self, v):
        with np.errstate(divide="ignore", invalid="ignore"):
            u = 1.0 / v
        ok = np.isfinite(u)
        real = ok & (u.imag == 0)
        if np.any(real):
            ok[real] = ~self._on_support(u.real[real])
        g = np.full(u.shape, np.nan + 0j)
        dg = np.full(u.shape, np.nan + 0j)
        if np.any(ok):
            g[ok] = self.law.cauchy(u[ok])
            dg[ok] = self.law.cauchy_derivative(u[ok])
        return g * u - 1.0, -dg * u ** 3 - g * u ** 2

    def _on_support(self, x):
        a, b = self.law.support
        pts, _ = self.law.atoms
        inside = (x >= a) & (x <= b)
        if np.any(inside):
            # Law.cauchy is the arbiter (it knows the gaps): ask it point by point where the hull says inside
            for i in np.flatnonzero(inside):
                try:
                    self.law.cauchy(float(x[i]))
                    inside[i] = False
                except ValueError:
                    pass
        return inside | np.isin(x, pts)


def _analytic_sq(dphi, h):
    """phi'(h)^2 at complex h, or None when ``dphi`` is not the analytic continuation there (it
    rejects complex input, drops the imaginary part, or fails the Cauchy-Riemann check)."""
    try:
        with np.errstate(all="ignore"):
            val = np.asarray(dphi(h))
    except (TypeError, ValueError):
        return None
    if not np.iscomplexobj(val) or not np.all(np.isfinite(val)):
        return None
    # Cauchy-Riemann at the real nodes: f(s + i d) = f(s) + i d f'(s) + O(d^2)
    s = h.real[:: max(1, h.size // 64)]
    d = 1e-6 * (1.0 + np.abs(s))
    with np.errstate(all="ignore"):
        f_re = np.asarray(dphi(s), dtype=float)
        step = np.asarray(dphi(s + 1j * d))
        deriv = (np.asarray(dphi(s + d), dtype=float) - np.asarray(dphi(s - d), dtype=float)) / (2 * d)
    ok = np.allclose(step.real, f_re, rtol=1e-8, atol=1e-10) and \
        np.allclose(step.imag / d, deriv, rtol=1e-4, atol=1e-6 * (1 + np.max(np.abs(deriv))))
    return val ** 2 if ok else None


#: widest Gauss-Legendre panel of the psi rule, in units of the contour's distance eta from the poles
_PANEL_ETA = 3.5


def _psi_for(d2: Law, dphi=None, q: float | None = None):
    r"""The fastest faithful evaluator of psi_{D^2}.

    Atomic laws (relu, hard_tanh: phi'^2 piecewise constant) are summed exactly.  For a smooth
    phi', :math:`\psi(v) = E[v\,t(h)/(1 - v\,t(h))]`, :math:`t = \phi'^2`, :math:`h\sim N(0, q)`, is a
    Gauss-Legendre rule in :math:`h` (16-node panels on :math:`[-9\sqrt q, 9\sqrt q]`, at most
    0.1875 and :math:`3.5\eta` wide: 1536 nodes up to :math:`q \approx 14`).  On the real line
    that rule is a sum of as many poles, and it is wrong wherever :math:`1/v` comes within a node
    spacing of the support of :math:`D^2`, i.e. at the real axis of the Jacobian law (the density
    there would oscillate between the poles).  So the rule is laid on a complex contour
    :math:`h(s) = s - i\eta\,t'(s)/\max|t'|`: for :math:`v\in\mathbb C^-` the poles of the integrand
    (:math:`t(h_0) = 1/v\in\mathbb C^+`) lie on the side :math:`\operatorname{sign} t'(s)` of the real
    line, the contour bends to the other side, so no pole is crossed and the integral is unchanged
    (Cauchy), while for real :math:`v` it is the boundary value from :math:`\mathbb C^-`, which is what
    the physical branch needs, at a distance :math:`\sim\eta` from every pole.  The bend
    :math:`\eta = 0.2\min(\sqrt q, 1)` stays inside the strip where common activations are analytic
    (tanh: :math:`|\operatorname{Im} h| < \pi/2`).  Activations whose ``dphi`` is not analytic in
    complex arguments keep the real rule.
    """
    pts, mass = d2.atoms
    if len(pts) and abs(mass.sum() - 1.0) < 1e-12:
        return _PsiAtoms(pts, mass)
    if dphi is None or q is None or q <= 0:
        return _PsiLaw(d2)
    # panels of 16 Gauss-Legendre nodes on [-9, 9] (the Gaussian weight beyond is < 3e-18), each
    # at most 0.1875 wide (as the former fixed rule on [-12, 12]) and at most 3.5 eta, so that a
    # pole at the contour's distance eta stays resolved at large q: psi to the rounding floor of
    # the sum (~2e-14 against a 16,384-node rule, tanh at q = 0.019 and 13.6); 96 panels (1536
    # nodes) up to q ~ 14.  Panels twice as wide were as good on the Jacobian law's states but put
    # the conditional Fisher density at 0.0829 (depth 20) 1.8e-4 off mpmath (this rule: 8e-6)
    eta_s = 0.2 * min(np.sqrt(q), 1.0) / np.sqrt(q)
    n_pan = int(np.ceil(18.0 / min(0.1875, _PANEL_ETA * eta_s)))
    panels = np.linspace(-9.0, 9.0, n_pan + 1)
    x, wx = np.polynomial.legendre.leggauss(16)
    mid = 0.5 * (panels[1:] + panels[:-1])[:, None]
    half = 0.5 * np.diff(panels)[:, None]
    s = (mid + half * x[None, :]).ravel()
    ws = (half * wx[None, :]).ravel()
    sq = np.sqrt(q)
    t_real = np.asarray(dphi(sq * s), dtype=float) ** 2
    top = float(np.max(t_real))
    # the contour h(s) = s + i eta shape(s) is only as good as dh/ds: t' and t'' from the Taylor
    # coefficients of t on a circle of radius r around each node (trapezoidal rule = FFT, which
    # converges geometrically for an analytic phi'; finite differences would leave 1e-12 errors)
    r = 0.25 / sq          # 0.25 in h: well inside the strip of analyticity of tanh, sigmoid, ...
    m = 32
    circle = r * np.exp(2j * np.pi * np.arange(m) / m)
    try:
        with np.errstate(all="ignore"):
            vals = np.asarray(dphi(sq * (s[:, None] + circle[None, :])), dtype=complex) ** 2
        coef = np.fft.fft(vals, axis=1) / m
        dt = (coef[:, 1] / r).real
        dd2 = (2.0 * coef[:, 2] / r ** 2).real
    except (TypeError, ValueError):
        dt = dd2 = np.full(s.shape, np.nan)
    big = float(np.max(np.abs(dt))) if np.all(np.isfinite(dt)) and np.all(np.isfinite(dd2)) else 0.0
    if big > 0:
        eta = 0.2 * min(sq, 1.0) / sq   # in units of s (h = sq * s)
        hz = s - 1j * eta * dt / big
        jac = 1.0 - 1j * eta * dd2 / big
        t_c = _analytic_sq(dphi, sq * hz)
        if t_c is not None and np.all(np.isfinite(jac)):
            wz = ws * jac * np.exp(-0.5 * hz ** 2) / np.sqrt(2 * np.pi)
            return _PsiAtoms(t_c, wz / wz.sum(), top=top)
    wz = ws * np.exp(-0.5 * s ** 2) / np.sqrt(2 * np.pi)
    return _PsiAtoms(t_real, wz / wz.sum(), top=top)


# ----------------------------------------------------------------------------- the tail at 0
class _Tail:
    r"""The law of :math:`JJ^\top` near 0 for equal widths, orthogonal weights and a smooth
    :math:`D^2 = \phi'(h)^2`, :math:`h\sim N(0, q)`, whose values near 0 come only from the Gaussian
    tails of :math:`h` (tanh, sigmoid: :math:`E[1/D^2] < \infty`).

    With :math:`\omega = 1/v` (the subordination point, :math:`v = \chi_{D^2}(\zeta)`) the S-transform
    equation is the scalar :math:`x = \sigma_w^{2L}\,\omega\,(\omega - F_{D^2}(\omega))^{L-1}`,
    :math:`F = 1/G_{D^2}`, and :math:`G_J(x) = \omega G_{D^2}(\omega)/x`.  As :math:`x \to 0`,
    :math:`\omega \to 0` into the tail of :math:`D^2`, where
    :math:`G_{D^2}(\omega + i0) = R(\omega) - i\pi\rho_{D^2}(\omega)` with
    :math:`R(\omega) = -(m_{-1} + m_{-2}\omega + m_{-3}\omega^2 + \dots)`,
    :math:`m_{-k} = E[D^{-2k}]`.  To first order in :math:`\rho_{D^2}` (the imaginary parts), with
    :math:`\omega_0(x)` the real root of :math:`x = \sigma_w^{2L}\omega_0(\omega_0 - 1/R(\omega_0))^{L-1}`,

    .. math::  \rho_J(x)\,dx = L\,\rho_{D^2}(\omega_0)\,d\omega_0, \qquad
               F_J(x) = L\,F_{D^2}(\omega_0(x)),

    the coefficient being exactly :math:`L` for every :math:`\omega_0` (the terms of :math:`\omega_0 P'`
    and of the shift of :math:`\omega` off the axis combine to it), so :math:`F_J(x)\sim L F_{D^2}(\kappa x)`,
    :math:`\kappa = m_{-1}^{L-1}/\sigma_w^{2L}`: one layer's small value of :math:`\phi'^2`, times the
    harmonic means of the others.  The neglected terms are of second order, measured ~5 r^2 with
    :math:`r = (L-1)\pi\rho_{D^2}(\omega_0)/m_{-1}` (the relative imaginary part of :math:`\omega`),
    which falls faster than any power as :math:`\omega_0 \to 0`: 1e-13 (float64) from r ~ 1e-7 down.  :math:`F_{D^2}` and :math:`\rho_{D^2}` come from the roots of
    :math:`\phi'(h)^2 = \omega` in the two tails and the Gaussian tail function (``scipy.special.ndtr``,
    relative accuracy down to 1e-308), not from the pushforward law's cdf, whose absolute floor
    (~1e-17) is the whole value here.  The float solver cannot go there: its unknown
    :math:`\zeta = -1 + \omega G_{D^2}(\omega)` carries :math:`1 + \zeta` with an absolute error
    1e-16, and its psi rule ends at 9 standard deviations.
    """

    #: Gauss-Legendre panels for the negative moments, in standard deviations of h
    S_MAX = 39.0          # Phi(-39) ~ 1e-333: the tail beyond is 0 in float64
    #: values of D^2 below which its law is a tail (the principal-value rule of R starts there)
    T_C = 1e-5
    #: largest (L-1) pi rho_{D^2}(omega_0)/m_{-1} =: r at which the tail is used.  Against the mp solution
    #: of the complex scalar equation (tanh, depth 100) the tail's density is off by ~5 r^2: 2.4e-5 at
    #: r = 2.2e-3, 6.3e-4 at 1.2e-2, 1e-2 at 4.8e-2; the solver's by 1.7 (!), 0.10, 3.7e-3, 2e-8 at
    #: omega_0 = 3e-9, 1e-8, 3e-8, 1e-7 (its psi rule ends at t = 2.5e-11 and does not resolve the
    #: poles in the Gaussian tail).  They cross near r = 2e-2 (omega_0 ~ 1.5e-8), ~3e-3 both.
    REMAINDER = 2e-2

    def __init__(self, dphi, d2phi, q: float, sigma_w2: float, L: int):
        self.dphi, self.d2phi, self.q, self.L = dphi, d2phi, float(q), int(L)
        self.sq = float(np.sqrt(q))
        self.log_s2L = L * float(np.log(sigma_w2))
        n_pan = int(2 * self.S_MAX / 0.25)
        x, wx = np.polynomial.legendre.leggauss(16)
        edges = np.linspace(-self.S_MAX, self.S_MAX, n_pan + 1)
        mid, half = 0.5 * (edges[1:] + edges[:-1])[:, None], 0.5 * np.diff(edges)[:, None]
        s = (mid + half * x[None, :]).ravel()
        ws = (half * wx[None, :]).ravel()
        with np.errstate(all="ignore"):
            logt = 2.0 * np.log(np.abs(np.asarray(dphi(self.sq * s), dtype=float)))
        self.ok = bool(np.all(np.isfinite(logt)))
        if not self.ok:
            return
        # m_{-k} = E[t^{-k}] (k = 1..4); each integrand must have died out well inside the rule
        lw = -0.5 * s * s - 0.5 * np.log(2 * np.pi) + np.log(ws)
        self.m = np.empty(4)
        for k in range(1, 5):
            e = lw - k * logt
            top = float(np.max(e))
            ends = max(e[0], e[-1]) - top
            if not (np.isfinite(top) and ends < -60.0):
                self.ok = False
                return
            self.m[k - 1] = float(np.exp(top) * np.exp(e - top).sum())
        # the two tails: where t = phi'^2 decreases monotonically to 0 away from the bulk
        grid = np.linspace(0.0, self.S_MAX, 3121)
        self.sides = []
        for sign in (1.0, -1.0):
            with np.errstate(all="ignore"):
                lt = 2.0 * np.log(np.abs(np.asarray(dphi(sign * self.sq * grid), dtype=float)))
            dec = np.diff(lt) < 0
            if not dec[-1] or lt[-1] > -60.0:
                continue                               # no tail toward 0 on this side
            k = len(dec) - np.argmin(dec[::-1]) if not np.all(dec) else 0
            self.sides.append((sign, float(grid[k]), float(lt[k])))
        self.ok = len(self.sides) > 0
        if not self.ok:
            return
        # R(omega) = PV E[1/(omega - t)]: the bulk (t >= T_C) by a fixed rule, each tail (t < T_C, where
        # the pole t = omega lies) by a principal-value rule in s (:meth:`R`)
        self.s_t = []
        for sign, s0, lt0 in self.sides:
            st, _ = self._roots(np.array([self.T_C]), sign, s0, lt0)
            self.s_t.append(float(st[0]) if np.isfinite(st[0]) else s0)
        # the bulk rule ends exactly where the tails begin (a panel cut in two would cost ~1e-3)
        ends = {1.0: self.S_MAX, -1.0: self.S_MAX}
        for (sign, _, _), st in zip(self.sides, self.s_t):
            ends[sign] = st
        lo_b, hi_b = -ends[-1.0], ends[1.0]
        n_b = int(np.ceil((hi_b - lo_b) / 0.25))
        eb = np.linspace(lo_b, hi_b, n_b + 1)
        mid_b, half_b = 0.5 * (eb[1:] + eb[:-1])[:, None], 0.5 * np.diff(eb)[:, None]
        sb = (mid_b + half_b * x[None, :]).ravel()
        wb = (half_b * wx[None, :]).ravel() * np.exp(-0.5 * sb * sb) / np.sqrt(2 * np.pi)
        with np.errstate(all="ignore"):
            ltb = 2.0 * np.log(np.abs(np.asarray(dphi(self.sq * sb), dtype=float)))
        self._bulk = (sb, wb, ltb)
        # the tail is used where the first-order remainder (L-1) pi rho(omega)/m_{-1} is small
        grid_w = np.geomspace(self.T_C * 1e-3, 1e-300, 600)
        cdf, rho = self.d2_tail(grid_w)
        rem = (L - 1) * np.pi * rho / self.m[0]
        good = rem <= self.REMAINDER
        if not np.any(good):
            self.ok = False
            return
        self.omega_switch = float(grid_w[np.argmax(good)])
        self.x_switch = float(np.exp(self.log_x(np.log(np.array([self.omega_switch])))[0][0]))

    def _roots(self, w, sign, s0, lt0):
        """Standardized s > s0 (times sign) with t(sign sq s) = w, by safeguarded Newton on log t;
        inf where w is below t(S_MAX) (the Gaussian weight beyond is 0 in float64)."""
        lw = np.log(w)
        lo = np.full(w.shape, s0)
        hi = np.full(w.shape, self.S_MAX)
        with np.errstate(all="ignore"):
            lt_hi = 2.0 * np.log(np.abs(np.asarray(self.dphi(sign * self.sq * hi), dtype=float)))
        beyond = lw < lt_hi
        s = 0.5 * (lo + hi)
        for _ in range(100):
            h = sign * self.sq * s
            with np.errstate(all="ignore"):
                d1 = np.asarray(self.dphi(h), dtype=float)
                f = 2.0 * np.log(np.abs(d1)) - lw
                df = 2.0 * np.asarray(self.d2phi(h), dtype=float) / d1 * sign * self.sq
            lo = np.where(f > 0, s, lo)
            hi = np.where(f > 0, hi, s)
            new = s - f / df
            bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
            new = np.where(bad, 0.5 * (lo + hi), new)
            done = np.abs(new - s) <= 1e-15 * np.abs(s)
            s = new
            if np.all(done | beyond):
                break
        return np.where(beyond | (lw > lt0), np.nan, s), beyond

    def d2_tail(self, w):
        """(P(D^2 <= w), density of D^2 at w) for w in the tails (w below the bulk's values)."""
        from scipy.special import ndtr

        w = np.asarray(w, dtype=float)
        cdf = np.zeros(w.shape)
        rho = np.zeros(w.shape)
        for sign, s0, lt0 in self.sides:
            s, beyond = self._roots(w, sign, s0, lt0)
            ok = np.isfinite(s) & ~beyond
            h = sign * self.sq * np.where(ok, s, 0.0)
            cdf += np.where(ok, ndtr(-np.where(ok, s, 0.0)), 0.0)
            with np.errstate(all="ignore"):
                dt = np.abs(2.0 * np.asarray(self.dphi(h), float) * np.asarray(self.d2phi(h), float))
                dens = np.exp(-0.5 * s * s) / np.sqrt(2 * np.pi * self.q) / dt
            rho += np.where(ok, dens, 0.0)
        return cdf, rho

    def R(self, w, parts=False):
        """R(w) = PV integral of dmu(t)/(w - t) at 0 < w < T_C / 1000 (vectorized); with ``parts``,
        (bulk part, tail part, derivative of the bulk part)."""
        w = np.asarray(w, dtype=float)
        sb, wb, ltb = self._bulk
        tb = np.exp(ltb)[None, :] - w[:, None]
        bulk = (wb[None, :] / tb).sum(axis=1)
        total = np.zeros(w.shape)
        x16, w16 = np.polynomial.legendre.leggauss(16)
        n_pan = 80
        for (sign, s0, lt0), st in zip(self.sides, self.s_t):
            sw, beyond = self._roots(w, sign, s0, lt0)
            pole = np.isfinite(sw) & ~beyond
            sw = np.where(pole, sw, self.S_MAX)
            for a, b in ((np.full(w.shape, st), sw), (sw, np.full(w.shape, self.S_MAX))):
                edges = a[:, None] + (b - a)[:, None] * np.linspace(0.0, 1.0, n_pan + 1)[None, :]
                mid, half = 0.5 * (edges[:, 1:] + edges[:, :-1]), 0.5 * (edges[:, 1:] - edges[:, :-1])
                nodes = (mid[:, :, None] + half[:, :, None] * x16).reshape(w.size, -1)
                wts = (half[:, :, None] * w16).reshape(w.size, -1)
                with np.errstate(all="ignore"):
                    lt = 2.0 * np.log(np.abs(np.asarray(self.dphi(sign * self.sq * nodes), dtype=float)))
                    phi = np.exp(-0.5 * nodes * nodes) / np.sqrt(2 * np.pi)
                    f = phi / (w[:, None] * np.expm1(lt - np.log(w)[:, None]))
                # the pole's part c/(s - s_w), c = phi(s_w)/(w y'(s_w)), y = log t, integrated exactly
                h = sign * self.sq * sw
                with np.errstate(all="ignore"):
                    yp = 2.0 * np.asarray(self.d2phi(h), float) / np.asarray(self.dphi(h), float) * sign * self.sq
                    c = np.where(pole, np.exp(-0.5 * sw * sw) / np.sqrt(2 * np.pi) / (w * yp), 0.0)
                    f = f - c[:, None] / (nodes - sw[:, None])
                total += (np.where(np.isfinite(f), f, 0.0) * wts).sum(axis=1)
            with np.errstate(all="ignore"):
                total += np.where(pole, c * np.log((self.S_MAX - sw) / (sw - st)), 0.0)
        if parts:
            return -bulk, -total, -(wb[None, :] / (tb * tb)).sum(axis=1)
        return -(bulk + total)

    def log_x(self, lw, R=None):
        """log x at omega_0 = exp(lw) and d log x/d log omega_0 (R' from its leading term -m_{-2})."""
        w = np.exp(lw)
        P = -self.R(w) if R is None else -R
        a = w + 1.0 / P                                 # omega - 1/R
        L = self.L
        val = self.log_s2L + lw + (L - 1) * np.log(a)
        der = 1.0 + (L - 1) * w * (1.0 - self.m[1] / (P * P)) / a
        return val, der

    def omega0(self, x):
        """The real root omega_0(x) (Newton in log omega; log x is nearly linear in it)."""
        lx = np.log(np.asarray(x, dtype=float))
        lw = lx - self.log_s2L + (self.L - 1) * np.log(self.m[0])
        # first with R ~ -(m_{-1} + m_{-2} omega) (no quadrature), then with the whole R: each step of
        # the second loop costs a principal-value rule per point, and it starts within ~1e-6
        for exact in (False, True):
            # the whole R carries ~1e-15 of rounding, (L-1) times that in log x: below a step of 1e-14
            # Newton can stall at that floor, so the second loop stops after 6 steps (it needs 2-3)
            for _ in range(6 if exact else 40):
                w = np.exp(lw)
                f, d = self.log_x(lw, None if exact else -(self.m[0] + self.m[1] * w))
                step = (f - lx) / d
                lw = lw - step
                if np.all(np.abs(step) <= 1e-14):
                    break
        # d log x/d log omega with the whole R': the bulk's derivative by the same rule, the tail part's
        # (~0.5, but 90 % of R') by central differences at +-10 % and +-5 % of omega, Richardson-combined
        # (steps of 1e-3 omega left its rounding, ~1e-15/(2e-3 omega), at 1e-4 of R', 1e-11 in the
        # density at omega = 1e-14; the leading term -m_{-2} alone was 3e-9 off at omega = 1e-12)
        w = np.exp(lw)
        b0, t0, db = self.R(w, parts=True)
        diff = [(self.R(w * (1 + h), parts=True)[1] - self.R(w * (1 - h), parts=True)[1]) / (2 * h * w)
                for h in (0.1, 0.05)]
        R0 = b0 + t0
        dR = db + (4.0 * diff[1] - diff[0]) / 3.0
        a = w - 1.0 / R0
        d = 1.0 + (self.L - 1) * w * (1.0 + dR / (R0 * R0)) / a
        return w, d

    def cdf_pdf(self, x):
        """(F_J(x), rho_J(x)) for 0 < x <= x_switch."""
        w, d = self.omega0(x)
        cdf, rho = self.d2_tail(w)
        # rho_J dx = L rho_D d omega, d omega/dx = omega/(x d log x/d log omega)
        return self.L * cdf, self.L * rho * w / (np.asarray(x, dtype=float) * d)


# ----------------------------------------------------------------------------- the law
class JacobianLaw(SolvedLaw):
    r"""Limiting law of the squared singular values of :math:`J = \prod_l D_l W_l` (eigenvalues of
    :math:`JJ^\top`), given the law of :math:`D^2`.

    Built by :func:`jacobian_law` or :func:`jacobian_law_from_d2`; see the module docstring for the
    S-transform.  A :class:`freeprob.SolvedLaw`: state :math:`(\zeta, v_1, \dots, v_K)`, the
    single-valued log-equation of :mod:`nn_spectra.jacobian_kernel`, frame ``(0, b)`` with :math:`b`
    the top edge (a product law lives on :math:`[0, b]`).  The continuation, the density on the axis
    and the contour cdf are the engine's, except that every height is measured relative to
    :math:`|x|` (the law spans many decades near 0: at depth 50 most of its mass may lie below
    :math:`10^{-4} b`), by the compiled solver.
    """

    name = "jacobian"
    #: relative height from which the axis Newton starts (the compiled ladder stops there)
    AXIS_HEIGHT = 1e-3

    def __init__(self, d2: Law, sigma_w2: float, widths: Sequence[int], weights: str, label: str = "",
                 psi=None):
        self.d2 = d2
        self._psi = psi if psi is not None else _psi_for(d2)
        self.sigma_w2 = sigma_w2
        self.widths = tuple(int(x) for x in widths)
        self.weights = weights
        #: number of D W factors of J (the L - 1 hidden layers)
        self.layers = len(self.widths) - 1
        #: L, the number of weight layers of the network (the readout included), as everywhere
        self.depth = self.layers + 1
        self.label = label
        w = np.asarray(self.widths, dtype=float)
        nL = w[-1]
        # distinct hidden widths: one unknown v_k per distinct c_k = n_L / n_k
        uniq, counts = np.unique(w[1:], return_counts=True)
        self._c = nL / uniq
        self._mult = counts.astype(float)
        self._r = w[0] / nL
        pairs: dict = {}
        for l in range(1, self.layers + 1):
            key = (float(w[l - 1]), float(w[l]))
            pairs[key] = pairs.get(key, 0) + 1
        self._pairs = tuple(pairs.items())
        # log T_l as  const + sum_j a_j l(alpha_j + beta_j zeta)  (module docstring of jacobian_kernel)
        co, a0, a1, const = [], [], [], 0.0
        for (n_prev, n_cur), cnt in self._pairs:
            if weights == "gaussian":
                const += cnt * np.log(n_prev / sigma_w2)
                co.append(-cnt), a0.append(n_cur), a1.append(nL)
            elif n_cur >= n_prev:
                const += cnt * np.log(n_prev / (sigma_w2 * n_cur))
            else:
                co += [cnt, -cnt]
                a0 += [n_prev, n_cur]
                a1 += [nL, nL]
                const -= cnt * np.log(sigma_w2)
        self._logt = (np.array(co, float), np.array(a0, float), np.array(a1, float), float(const))
        self._freeze()

    # -- pieces of chi_J ------------------------------------------------------------------
    def _log_t(self, zeta):
        """(sum_l log T_l(zeta), its derivative), with the cut-free logarithm of the kernel."""
        co, a0, a1, const = self._logt
        val = np.full(np.shape(zeta), const, dtype=complex)
        der = np.zeros(np.shape(zeta), dtype=complex)
        for cj, aj, bj in zip(co, a0, a1):
            val = val + cj * _lg(aj + bj * zeta)
            der = der + cj * bj / (aj + bj * zeta)
        return val, der

    def _psi_d2(self, v):
        """(psi_{D^2}(v), psi'_{D^2}(v)) for complex v off the real axis."""
        return self._psi(v)

    # -- the fixed-point system (freeprob.SolvedLaw interface) -----------------------------
    def _frame(self):
        return 0.0, self._top

    def _hull(self):
        return 0.0, 1.0

    def _start(self, z):
        zeta = self.mean / (self._top * z)
        v = self._c[None, :] * zeta[:, None] / self.d2.mean
        return np.concatenate([zeta[:, None], v], axis=1)

    def _residual(self, z, u):
        """F(x, u) for u = (zeta, v_1..v_K) at x = b z; the log-equation divided by the size of its
        terms (its round-off is relative to them), the psi-equations by |c_k zeta|."""
        x = self._top * np.asarray(z, dtype=complex)
        zeta, v = u[:, 0], u[:, 1:]
        c, m = self._c[None, :], self._mult[None, :]
        lt, dlt = self._log_t(zeta)
        cz = c * zeta[:, None]
        with np.errstate(all="ignore"):
            terms = [np.log(x), lt, _lg(zeta), -_lg(self._r + zeta)]
            f0 = sum(terms) + (m * (_lg(v) + _lg(1 + cz) - _lg(cz))).sum(axis=1)
            mag = 1.0 + sum(np.abs(t) for t in terms) + (m * (np.abs(_lg(v)) + np.abs(_lg(1 + cz))
                                                              + np.abs(_lg(cz)))).sum(axis=1)
            a = (m * (c / (1 + cz) - 1.0 / zeta[:, None])).sum(axis=1) + dlt + 1.0 / zeta - 1.0 / (self._r + zeta)
            psi, dpsi = self._psi_d2(v)
            scale = np.maximum(np.abs(cz), 1e-300)
        n, K = v.shape
        r = np.empty((n, K + 1), dtype=complex)
        J = np.zeros((n, K + 1, K + 1), dtype=complex)
        r[:, 0] = f0 / mag
        J[:, 0, 0] = a / mag
        J[:, 0, 1:] = m / v / mag[:, None]
        r[:, 1:] = (psi - cz) / scale
        J[:, 1:, 0] = -c / scale
        idx = np.arange(K)
        J[:, 1 + idx, 1 + idx] = dpsi / scale
        return r, J

    def _rnorm(self, r, u):
        with np.errstate(all="ignore"):
            return np.abs(r).sum(axis=1)

    def _g(self, z, u):
        # standardized: b G(b z) = (1 + zeta)/z; z = 0 (the grid's first point) gives a non-finite
        # value that the engine treats as not certified, so the warning would only be noise
        with np.errstate(divide="ignore", invalid="ignore"):
            return (1.0 + u[:, 0]) / np.asarray(z, dtype=complex)

    def _admissible(self, z, u):
        # physical branch: zeta and the v_k in the closed lower half-plane.  Where psi_{D^2} is flat
        # (1/v_k deep in the Gaussian tail of D^2, x many decades below the edge) v_k is fixed only to
        # ~1e-16/|psi'(v_k)|, so its imaginary part is noise at the 1e-9 level: the v_k get 1e-6
        zeta_ok = u[:, 0].imag <= 1e-9 * np.abs(u[:, 0])
        return zeta_ok & np.all(u[:, 1:].imag <= 1e-6 * np.abs(u[:, 1:]), axis=1)

    def _kernel(self, x: np.ndarray, order: np.ndarray, seed=None):
        co, a0, a1, const = self._logt
        K = self._c.shape[0]
        if seed is None:
            sx, sz, sv, has = 0j, 0j, np.zeros(K, np.complex128), False
        else:
            sx, su = seed
            sx, sz, sv, has = complex(self._top * sx), complex(su[0]), np.ascontiguousarray(su[1:], np.complex128), True
        z, v, res = solve_path(np.ascontiguousarray(x, dtype=np.complex128), np.ascontiguousarray(order),
                               self._psi.t, self._psi.w, self._c, self._mult, co, a0, a1, const,
                               float(self._r), float(self.mean), float(self.d2.mean), float(self._top),
                               self.AXIS_HEIGHT, self.tol, sx, sz, sv, has)
        u = np.concatenate([z[:, None], v], axis=1)
        # the round-off floor of the log-equation (O(L) logarithms, a psi sum of ~10^3 terms) is ~1e-13..1e-12
        ok = np.isfinite(res) & (res <= 100 * self.tol) & self._admissible(x, u)
        return u, res, ok

    def _solve_fast(self, z):
        if not isinstance(self._psi, _PsiAtoms):
            return None
        x = self._top * np.asarray(z, dtype=complex)
        # right to left, each vertical ray from the top: neighbours are close in log x
        order = np.lexsort((-x.imag, -x.real))
        return self._kernel(x, order)

    def _axis(self, x):
        """Boundary values at standardized real x > 0 directly by the compiled solver (ladder in
        relative height, then Newton with Im x = 0); x <= 0 is not in the domain."""
        x = np.ascontiguousarray(np.atleast_1d(x), dtype=np.float64)
        if not isinstance(self._psi, _PsiAtoms):
            return super()._axis(x)
        xx = self._top * x
        order = np.argsort(-xx)
        seed = self._axis_seed(float(x[order[0]])) if x.size else None
        u, res, ok = self._kernel(xx + 0j, order, seed)
        u = np.where(ok[:, None], u, np.nan)
        return u, ok

    def _edge(self, x_out, x_in):
        # the bottom of a product law is 0 (the point where the relative frame ends)
        if x_out <= 0.0:
            return 0.0
        top = self._top
        edge = self.__dict__.get("_top_edge")
        if edge is not None and x_out >= 1.0 and x_in < edge / top:
            # the top edge is 1/max chi_J, a fold of the real branch found in one real variable:
            # the fold Newton in all K + 1 unknowns would cost ~(K + 1) residuals per step
            return edge / top
        return super()._edge(x_out, x_in)

    def _singular_points(self):
        # a product law's density is singular at 0 (x^(-1/2), x^(-K/(K+1)), ...) with or without an
        # atom there: the contour cdf goes down relative to |x| (points many decades below the top)
        return np.union1d(super()._singular_points(), [0.0])

    # -- the tail at 0 (class _Tail) -------------------------------------------------------
    @cached_property
    def _tail_law(self):
        """The first-order tail of :class:`_Tail` where it applies (equal widths, orthogonal weights,
        D^2 = phi'(h)^2 of a Gaussian h with E[1/D^2] finite), else None."""
        from freeprob.pushforward import PushforwardLaw

        d2 = self.d2
        if not (self.weights == "orthogonal" and len(self._c) == 1 and self._r == 1.0
                and len(self._logt[0]) == 0 and isinstance(d2, PushforwardLaw)
                and type(d2.base).__name__ == "Normal" and d2.base.mean == 0.0 and len(d2.atoms[0]) == 0):
            return None
        act = getattr(d2.fn, "act", None)
        if act is None or getattr(act, "d2phi", None) is None:
            return None
        tail = _Tail(act.dphi, act.d2phi, float(d2.base.var), self.sigma_w2, self.layers)
        return tail if tail.ok else None

    def _split_tail(self, x):
        # x_switch/b <= (w/m)(1 + w/m)^(L-1), w = T_C/1000 the largest switch, m = E[D^2] (from
        # b >= mean = sigma_w^{2L} m^L and 1/m_{-1} <= m): grids above 10 times that never build the tail
        pos = x[x > 0]
        if pos.size == 0 or "_tail_law" not in self.__dict__:
            r = _Tail.T_C * 1e-3 / float(self.d2.mean)
            if pos.size == 0 or float(pos.min()) > 10.0 * self._top * r * np.exp((self.layers - 1) * r):
                return None, np.zeros(np.shape(x), dtype=bool)
        tail = self._tail_law
        if tail is None:
            return None, np.zeros(np.shape(x), dtype=bool)
        return tail, (x > 0) & (x <= tail.x_switch)

    def _with_tail(self, x, solver, part: int):
        """``solver`` (the engine's pdf or cdf) above the tail's switch, the tail's ``part`` (0: cdf,
        1: pdf) of :meth:`_Tail.cdf_pdf` at and below it."""
        x = np.asarray(x, dtype=float)
        tail, low = self._split_tail(x)
        if not np.any(low):
            return solver(x)
        out = np.empty(x.shape)
        if np.any(~low):
            out[~low] = solver(x[~low])
        out[low] = tail.cdf_pdf(x[low])[part]
        return out

    def _pdf(self, x):
        return self._with_tail(x, super()._pdf, 1)

    def _cdf(self, x):
        return self._with_tail(x, super()._cdf, 0)

    # -- Law interface ------------------------------------------------------------------
    def _chi_real(self, zeta) -> np.ndarray:
        """chi_J(zeta) on the positive real axis (v_k real, by bisection then Newton); NaN where
        c_k zeta is beyond the range of psi_{D^2} on (0, 1/b_{D^2})."""
        zeta = np.atleast_1d(np.asarray(zeta, dtype=float))
        lt, _ = self._log_t(zeta.astype(complex))
        total = lt.real + np.log(zeta) - np.log(self._r + zeta)
        bd = self._psi.top if isinstance(self._psi, _PsiAtoms) else self.d2.support[1]
        for ck, mk in zip(self._c, self._mult):
            target = ck * zeta
            lo = np.zeros_like(zeta)
            hi = np.full_like(zeta, (1.0 - 1e-13) / bd)
            top = self._psi(hi.astype(complex))[0].real
            for _ in range(12):
                mid = 0.5 * (lo + hi)
                below = self._psi(mid.astype(complex))[0].real < target
                lo = np.where(below, mid, lo)
                hi = np.where(below, hi, mid)
            # psi is increasing on (0, 1/b_{D^2}) with a pole (atomic top of D^2) or a steep rise at
            # the end: for targets above 1 Newton on 1/psi, which is nearly linear there (Newton on psi itself from the
            # upper end only doubles its distance to the pole per step: 30 steps stopped 1e-4 short
            # at c zeta = 2.5e3 and put the top edge of a leaky-relu law at 2.2495 instead of 9/4);
            # steps leaving the bracket are replaced by bisection
            v = 0.5 * (lo + hi)
            for _ in range(60):
                p, dp = self._psi(v.astype(complex))
                p, dp = p.real, dp.real
                below = p < target
                lo = np.where(below, v, lo)
                hi = np.where(below, hi, v)
                with np.errstate(all="ignore"):
                    # small targets (psi ~ mean * v, convex): Newton on psi itself
                    new = np.where(target <= 1.0, v - (p - target) / dp,
                                   v + (1.0 / target - 1.0 / p) * p * p / dp)
                bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
                new = np.where(bad, 0.5 * (lo + hi), new)
                # points beyond psi's range (top < target) have no root: they do not hold the loop
                done = (np.abs(new - v) <= 1e-15 * v) | (top < target)
                v = new
                if np.all(done):
                    break
            vk = np.where(top >= target, v, np.nan)
            total = total + mk * (np.log(vk) + np.log1p(target) - np.log(target))
        return np.exp(total)

    @cached_property
    def _top(self) -> float:
        """Top of the support: 1/max of chi_J on the positive axis (its first critical point)."""
        pts, w = self._exact_atoms()
        nz = pts[pts > 0]
        if self.weights == "orthogonal" and np.all(self.d2.support[0] == self.d2.support[1]):
            # D^2 is a point mass: the whole law is atomic
            return float(max(pts))
        mom = self.moments(2)
        z_guess = np.geomspace(1e-6, 1e6, 241)
        vals = self._chi_real(z_guess)
        ok = np.isfinite(vals)
        if not np.any(ok):
            raise ConvergenceError("jacobian_law: could not locate the upper support edge")
        # chi increases up to the edge, then decreases or stops being defined
        idx = np.flatnonzero(ok)
        first_bad = np.flatnonzero(~ok)
        i_max = int(idx[np.argmax(vals[idx])])
        if len(first_bad) and first_bad[0] < i_max:
            i_max = int(idx[idx < first_bad[0]][-1])
        lo = z_guess[max(i_max - 1, 0)]
        hi = z_guess[min(i_max + 1, len(z_guess) - 1)]
        res = optimize.minimize_scalar(lambda t: -np.log(self._chi_real(np.exp(t))[0]),
                                       bounds=(np.log(lo), np.log(hi)), method="bounded",
                                       options={"xatol": 1e-12})
        b = 1.0 / float(self._chi_real(float(np.exp(res.x)))[0])
        # a smooth interior maximum: the grid's largest value stands clearly above both neighbours
        # (where chi_J only rises to a limit, e.g. at an atomic top of D^2, it does not)
        interior = (0 < i_max < len(z_guess) - 1 and np.isfinite(b)
                    and bool(np.all(vals[[i_max - 1, i_max + 1]] < vals[i_max] * (1.0 - 1e-10)))
                    and np.log(lo) + 1e-6 < res.x < np.log(hi) - 1e-6)
        if len(nz) and abs(b - nz.max()) <= 1e-4 * b:
            # chi_J peaks where psi_J blows up: at the top atom (the bounded search is only ~1e-6 exact)
            b = float(nz.max())
        b = float(max(b, float(nz.max()) if len(nz) else 0.0, mom[0]))
        # b is the frame and the hull of the interval search, which finds the exact edges inside
        # it: it must not fall below the edge.  Where chi_J rises to a limit (an atomic top of
        # D^2: an inverse-square-root edge) its sup is only approached, so pad b; with orthogonal
        # weights ||J||^2 <= gain * max(D^2)^L bounds the support, and a padded b stays under it.
        if not (len(nz) and b == float(nz.max())):
            if interior:
                # a smooth maximum of chi_J: 1/max chi is the top edge to rounding (chi is flat there)
                self.__dict__["_top_edge"] = b
            b *= 1.0 + 1e-9
            if self.weights == "orthogonal":
                bd = self._psi.top if isinstance(self._psi, _PsiAtoms) else float(self.d2.support[1])
                w = np.asarray(self.widths, dtype=float)
                gain = np.prod([self.sigma_w2 * max(1.0, w[l] / w[l - 1]) for l in range(1, self.layers + 1)])
                b = min(b, float(bd ** self.layers * gain))
        return b

    def _exact_atoms(self):
        """Rank arguments: the kernel of J (zero atom) and, for orthogonal weights and an atom b of
        D^2, the subspace on which J is b^{L/2} times a scaled isometry."""
        w = np.asarray(self.widths, dtype=float)
        L = self.layers
        pts, mass = self.d2.atoms
        p0 = float(mass[pts == 0].sum()) if len(pts) else 0.0
        rank = min(w[0], float(np.min(w[1:] * (1 - p0))))
        out_p, out_m = [], []
        zero = 1.0 - rank / w[-1]
        if zero > 1e-14:
            out_p.append(0.0)
            out_m.append(zero)
        if self.weights == "orthogonal":
            gain = np.prod([self.sigma_w2 * max(1.0, w[l] / w[l - 1]) for l in range(1, L + 1)])
            for b, p in zip(pts, mass):
                if b == 0:
                    continue
                dim = w[0] - sum(max(w[l - 1] - w[l], 0.0) + w[l] * (1 - p) for l in range(1, L + 1))
                if dim > 1e-12 * w[0]:
                    out_p.append(float(b ** L * gain))
                    out_m.append(float(dim / w[-1]))
        order = np.argsort(out_p)
        return np.array(out_p)[order], np.array(out_m)[order]

    def _moments(self, n):
        return jacobian_moments_series(self.d2.moments(n), self.sigma_w2, self.widths, self.weights, n)

    @cached_property
    def mean(self):
        return float(self.moments(1)[0])

    def s_transform(self, z):
        r"""S-transform :math:`\frac{1+z}{r+z}\prod_l S_{D^2}(c_l z) T_l(z)` (module docstring)."""
        zz = np.atleast_1d(np.asarray(z, dtype=complex))
        out = (1 + zz) / (self._r + zz) * np.exp(self._log_t(zz)[0])
        for ck, mk in zip(self._c, self._mult):
            out = out * np.asarray(self.d2.s_transform(ck * zz)) ** mk
        return out[0] if np.ndim(z) == 0 else out

    def __repr__(self):
        lab = f"{self.label}, " if self.label else ""
        return f"jacobian_law({lab}depth={self.depth}, weights={self.weights!r})"


# ----------------------------------------------------------------------------- constructors
def _check_weights(weights):
    if weights not in _WEIGHTS:
        raise ValueError(f"weights must be one of {_WEIGHTS}, got {weights!r}")
    return weights


def _check_depth(depth):
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    return int(depth)


def _check_widths(widths, depth):
    if widths is None:
        return (1,) * (depth + 1)
    ws = list(widths)
    if len(ws) != depth + 1:
        raise ValueError(f"widths must have depth + 1 = {depth + 1} entries (input width first), got {len(ws)}")
    for i, x in enumerate(ws):
        if isinstance(x, bool) or not np.isfinite(float(x)) or float(x) <= 0:
            raise ValueError(f"widths[{i}] must be a positive number, got {x!r}")
    return tuple(float(x) for x in ws)


def jacobian_law_from_d2(d2: Law, sigma_w2: float, depth: int, weights: str = "orthogonal",
                         widths: Sequence[float] | None = None) -> JacobianLaw:
    r"""Law of the eigenvalues of :math:`JJ^\top` given the law of :math:`D^2` at every layer.

    Parameters
    ----------
    d2 : freeprob.Law
        Law of :math:`\phi'(h)^2` on :math:`[0,\infty)` with positive mean.
    sigma_w2 : float
        Weight variance :math:`\sigma_w^2 > 0`.
    depth : int
        Number of layers :math:`L \ge 1`.
    weights : {"orthogonal", "gaussian"}
    widths : sequence of float, optional
        :math:`n_0, \dots, n_L` (only their ratios matter); equal widths by default.

    Examples
    --------
    ReLU at criticality: :math:`D^2` is Bernoulli(1/2), so half the spectrum sits at 0.

    >>> import freeprob as fp
    >>> law = jacobian_law_from_d2(fp.bernoulli(0.5), 2.0, depth=3, weights="orthogonal")
    >>> [round(float(m), 10) for m in law.moments(2)]
    [1.0, 4.0]
    """
    if not isinstance(d2, Law):
        raise ValueError(f"d2 must be a freeprob Law, got {type(d2).__name__}")
    if d2.support[0] < 0 or d2.mean <= 0:
        raise ValueError(f"d2 must be a law on [0, inf) with positive mean, got {d2!r}")
    sigma_w2 = check_positive("sigma_w2", sigma_w2)
    depth = _check_depth(depth)
    weights = _check_weights(weights)
    widths = _check_widths(widths, depth)
    return JacobianLaw(d2, sigma_w2, widths, weights)


def d2_law(act, q: float) -> Law:
    r"""Law of :math:`D^2 = \phi'(h)^2` with :math:`h \sim N(0, q)`, a freeprob pushforward law.

    ``act`` is an activation name or an object with ``.dphi``; at :math:`q = 0` the law is the point
    mass at :math:`\phi'(0)^2`.
    """
    from .activations import activation

    a = activation(act)
    q = check_positive("q", q, strict=False)
    if q == 0:
        return fp.atoms([float(a.dphi(np.array([0.0]))[0]) ** 2])
    from .activations import SquaredDerivative

    return fp.pushforward(fp.normal(0.0, q), SquaredDerivative(a))   # picklable, unlike a local lambda


def jacobian_law(act, sigma_w2: float | None = None, sigma_b2: float | None = None, depth: int | None = None,
                 weights: str | None = None, widths: Sequence[float] | None = None) -> JacobianLaw:
    r"""Limiting law of the squared singular values of the input-output Jacobian.

    The pre-activations sit at the mean-field fixed point :math:`q^*(\sigma_w^2, \sigma_b^2)`;
    :math:`D^2` is the pushforward of :math:`N(0, q^*)` by :math:`\phi'^2`; the law of
    :math:`JJ^\top` follows from the product of S-transforms (module docstring).

    Parameters
    ----------
    act : str, activation object or Network
        Any activation of :mod:`nn_spectra.activations`, or a :class:`~nn_spectra.Network` that
        describes the whole network (then leave the other arguments unset).
    sigma_w2, sigma_b2 : float
        Weight and bias variances (:math:`\sigma_w^2 > 0`, :math:`\sigma_b^2 \ge 0`).
    depth : int
        :math:`L \ge 2`, the number of weight layers (:class:`~nn_spectra.Network`): :math:`J` spans the
        :math:`K = L-1` nonlinear layers before the linear readout.  Depths of 100 and more are cheap
        (the depth is an exponent); a depth at which :math:`\chi_1^K` leaves float64 is a ValueError.
    weights : {"orthogonal", "gaussian"}
        Default ``"orthogonal"``.
    widths : sequence, optional
        :math:`n_0, \dots, n_L` (as ``Network.widths``), input first; :math:`J` uses
        :math:`n_0, \dots, n_K`.  Equal widths by default.

    Returns
    -------
    JacobianLaw
        A freeprob Law: ``pdf``, ``atoms``, ``support`` (upper edge = :math:`\lambda_{\max}`),
        ``moments`` (exact power series), ``s_transform``.

    Raises
    ------
    ValueError
        Bad parameters, or no finite fixed point :math:`q^*` (e.g. ReLU with :math:`\sigma_w^2 > 2`).
    """
    from .mean_field import q_star
    from .network import jacobian_network

    net, depth, widths = jacobian_network(act, sigma_w2, sigma_b2, depth, weights, widths, caller="jacobian_law")
    act, sigma_w2, sigma_b2, weights = net.act, net.sigma_w2, net.sigma_b2, net.weights
    sigma_w2 = check_positive("sigma_w2", sigma_w2)
    sigma_b2 = check_positive("sigma_b2", sigma_b2, strict=False)
    depth = _check_depth(depth)
    weights = _check_weights(weights)
    widths = _check_widths(widths, depth)
    q = q_star(act, sigma_w2, sigma_b2)
    if not np.isfinite(q):
        raise ValueError(f"no finite fixed point q* for sigma_w2={sigma_w2}, sigma_b2={sigma_b2}")
    from .activations import activation

    a = activation(act)
    d2 = d2_law(a, q)
    return JacobianLaw(d2, sigma_w2, widths, weights, label=a.name, psi=_psi_for(d2, a.dphi, q))


def jacobian_variance(act, sigma_w2: float | None = None, sigma_b2: float | None = None, depth: int | None = None,
                      weights: str | None = None) -> float:
    r"""PSG's closed form for the variance of the :math:`JJ^\top` spectrum at criticality.

    With :math:`\mu_k = E[\phi'(h)^{2k}]` and :math:`\chi = \sigma_w^2\mu_1 = 1`:
    :math:`\sigma^2_{JJ^\top} = L(\mu_2/\mu_1^2 - 1 - s_1)`, :math:`s_1 = -1` (Gaussian) or 0
    (orthogonal).  Away from criticality the exact value is ``jacobian_law(...).var``.  ``depth`` is
    the number of weight layers, :math:`L = K + 1` for the :math:`K` nonlinear layers of :math:`J`
    (see :func:`jacobian_law`); ``act`` may be a :class:`~nn_spectra.Network`.
    """
    from .mean_field import q_star
    from .network import jacobian_network

    net, depth, _ = jacobian_network(act, sigma_w2, sigma_b2, depth, weights, caller="jacobian_variance")
    act, sigma_w2, sigma_b2, weights = net.act, net.sigma_w2, net.sigma_b2, net.weights
    depth = _check_depth(depth)
    weights = _check_weights(weights)
    q = q_star(act, sigma_w2, sigma_b2)
    m = d2_law(act, q).moments(2)
    s1 = -1.0 if weights == "gaussian" else 0.0
    return float(depth * (m[1] / m[0] ** 2 - 1 - s1))


def sample_jacobian_spectrum(act, sigma_w2: float | None = None, sigma_b2: float | None = None,
                             depth: int | None = None, width: int | None = None, weights: str | None = None,
                             widths: Sequence[int] | None = None, rng=None) -> np.ndarray:
    r"""Eigenvalues of :math:`JJ^\top` for one real network, the Monte-Carlo twin of :func:`jacobian_law`.

    Builds the :class:`nn_spectra.MLP` of ``depth`` :math:`= L` weight layers with widths
    ``widths`` :math:`= (n_0, \dots, n_L)` (or ``(width, ..., width, 1)``; ``act`` may be a
    :class:`~nn_spectra.Network` with widths), feeds one input whose first pre-activation has length
    :math:`q^*`, and returns the eigenvalues of :math:`JJ^\top` for
    :math:`J = \partial x^K/\partial x^0 = D_K W_K\cdots D_1W_1` over its :math:`K = L-1` nonlinear
    layers (the readout is not part of :math:`J`).
    """
    from .mean_field import q_star
    from .mlp import MLP
    from .network import jacobian_network

    desc, depth, _ = jacobian_network(act, sigma_w2, sigma_b2, depth, weights, widths, width=width,
                                      caller="sample_jacobian_spectrum", need_widths=True)
    act, sigma_w2, sigma_b2, weights = desc.act, desc.sigma_w2, desc.sigma_b2, desc.weights
    depth = _check_depth(depth)
    weights = _check_weights(weights)
    ws = list(desc.widths[:depth + 1])
    gen = np.random.default_rng(rng)
    net = MLP(desc, rng=gen)
    q = q_star(act, sigma_w2, sigma_b2)
    # q^1 = sigma_w^2 |x|^2/n_0 + sigma_b^2 = q*  (needs q* >= sigma_b^2, true at the fixed point)
    x = gen.standard_normal(ws[0])
    x *= np.sqrt(max(q - sigma_b2, 0.0) / sigma_w2 * ws[0]) / np.linalg.norm(x)
    _, hs, _ = net.forward(x[None, :], return_all=True)
    J = np.eye(ws[0])
    for l in range(depth):
        J = net.act.dphi(hs[l][0])[:, None] * (net.weights[l] @ J)
    return np.clip(np.linalg.eigvalsh(J @ J.T), 0.0, None)
