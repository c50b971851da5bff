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
distinct width), Newton's method on :math:`\log\chi_{JJ^\top}(\zeta) + \log x \equiv 0 \pmod{2\pi i}`
and :math:`\psi_{D^2}(v_k) = c_k\zeta`, with continuation in :math:`\operatorname{Im} x` from far
above the axis (the roots of the power are :math:`2\pi/L` apart; continuation keeps the physical one).
"""
from __future__ import annotations

from functools import cached_property
from typing import Sequence

import numpy as np
from scipy import optimize

import freeprob as fp
from freeprob.law import Law, check_positive, tabulated_cdf

__all__ = ["JacobianLaw", "jacobian_law", "jacobian_law_from_d2", "d2_law", "jacobian_variance",
           "sample_jacobian_spectrum",
           "jacobian_moments_series"]

_WEIGHTS = ("orthogonal", "gaussian")


class JacobianSolverError(ValueError):
    """Newton's method for the composed S-transform did not converge."""


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
    r""":math:`\psi(v) = \sum_i w_i v t_i/(1 - v t_i)` and its derivative for a discrete law (exact for
    atomic laws; a quadrature rule otherwise)."""

    def __init__(self, points, weights):
        self.t = np.asarray(points, dtype=float)
        self.w = np.asarray(weights, dtype=float)

    def __call__(self, v):
        shape = v.shape
        vv = v.reshape(-1, 1)
        den = 1.0 - vv * self.t[None, :]
        psi = (self.w[None, :] * vv * self.t[None, :] / den).sum(axis=1)
        dpsi = (self.w[None, :] * self.t[None, :] / den ** 2).sum(axis=1)
        return psi.reshape(shape), dpsi.reshape(shape)


class _PsiLaw:
    """psi and psi' from a Law's Cauchy transform (general, slower)."""

    def __init__(self, law: Law):
        self.law = law

    def __call__(self, v):
        u = 1.0 / v
        g = self.law._cauchy_any(u)
        dg = self.law._cauchy_derivative_any(u)
        return g * u - 1.0, -dg * u ** 3 - g * u ** 2


def _psi_for(d2: Law, dphi=None, q: float | None = None):
    """The fastest faithful evaluator of psi_{D^2}.

    Atomic laws (relu, hard_tanh: phi'^2 piecewise constant) are summed exactly.  For a smooth
    phi' the Gaussian integral E[v phi'(h)^2/(1 - v phi'(h)^2)] is done by composite Gauss-Legendre
    in h (2048 nodes on [-12 sqrt(q), 12 sqrt(q)]): about 100 times faster than the pushforward
    law's Cauchy transform, and exact in its derivative.  Its error grows only where 1/v comes
    within a node spacing of the support of D^2, i.e. at the support edges of the Jacobian law.
    """
    pts, mass = d2.atoms
    if len(pts) and abs(mass.sum() - 1.0) < 1e-12:
        return _PsiAtoms(pts, mass)
    if dphi is None or q is None or q <= 0:
        return _PsiLaw(d2)
    panels = np.linspace(-12.0, 12.0, 129)
    x, wx = np.polynomial.legendre.leggauss(16)
    mid = 0.5 * (panels[1:] + panels[:-1])[:, None]
    half = 0.5 * np.diff(panels)[:, None]
    z = (mid + half * x[None, :]).ravel()
    wz = (half * wx[None, :]).ravel() * np.exp(-0.5 * z ** 2) / np.sqrt(2 * np.pi)
    t = np.asarray(dphi(np.sqrt(q) * z), dtype=float) ** 2
    return _PsiAtoms(t, wz / wz.sum())


# ----------------------------------------------------------------------------- the law
class JacobianLaw(Law):
    r"""Limiting law of the squared singular values of :math:`J = \prod_l D_l W_l` (eigenvalues of
    :math:`JJ^\top`), given the law of :math:`D^2`.

    Built by :func:`jacobian_law` or :func:`jacobian_law_from_d2`; see the module docstring for the
    S-transform and the solver.
    """

    name = "jacobian"

    def __init__(self, d2: Law, sigma_w2: float, widths: Sequence[int], weights: str, label: str = "",
                 psi=None):
        self.d2 = d2
        self._psi = psi if psi is not None else _psi_for(d2)
        self.sigma_w2 = sigma_w2
        self.widths = tuple(int(x) for x in widths)
        self.weights = weights
        self.depth = len(self.widths) - 1
        self.label = label
        w = np.asarray(self.widths, dtype=float)
        nL = w[-1]
        # distinct hidden widths: one unknown v_k per distinct c_k = n_L / n_k
        uniq, counts = np.unique(w[1:], return_counts=True)
        self._c = nL / uniq
        self._mult = counts.astype(float)
        self._r = w[0] / nL
        pairs: dict = {}
        for l in range(1, self.depth + 1):
            key = (float(w[l - 1]), float(w[l]))
            pairs[key] = pairs.get(key, 0) + 1
        self._pairs = tuple(pairs.items())
        self._freeze()

    # -- pieces of chi_J ------------------------------------------------------------------
    def _log_t(self, zeta):
        """(sum_l log T_l(zeta), its derivative); layers with equal (n_{l-1}, n_l) are grouped."""
        nL = float(self.widths[-1])
        val = np.zeros_like(zeta)
        der = np.zeros_like(zeta)
        for (n_prev, n_cur), cnt in self._pairs:
            if self.weights == "gaussian":
                val = val + cnt * (np.log(n_prev / self.sigma_w2) - np.log(n_cur + nL * zeta))
                der = der - cnt * nL / (n_cur + nL * zeta)
            elif n_cur >= n_prev:
                val = val + cnt * np.log(n_prev / (self.sigma_w2 * n_cur))
            else:
                val = val + cnt * (np.log(n_prev + nL * zeta) - np.log(self.sigma_w2 * (n_cur + nL * zeta)))
                der = der + cnt * (nL / (n_prev + nL * zeta) - nL / (n_cur + nL * zeta))
        return val, der

    def _psi_d2(self, v):
        """(psi_{D^2}(v), psi'_{D^2}(v)) for complex v off the real axis."""
        return self._psi(v)

    def _residual(self, x, zeta, v):
        """Residuals and the pieces of the arrow-shaped Jacobian."""
        c = self._c[:, None]
        m = self._mult[:, None]
        lt, dlt = self._log_t(zeta)
        czeta = c * zeta[None, :]
        f0 = ((m * (np.log(v) + np.log1p(czeta) - np.log(czeta))).sum(axis=0)
              + lt + np.log(zeta) - np.log(self._r + zeta) + np.log(x))
        # the equation is chi_J(zeta) x = 1: any branch of the logarithm will do
        f0 = f0 - 2j * np.pi * np.round(f0.imag / (2 * np.pi))
        a = (m * (c / (1 + czeta) - 1.0 / zeta[None, :])).sum(axis=0) + dlt + 1.0 / zeta - 1.0 / (self._r + zeta)
        b = m / v
        psi, dpsi = self._psi_d2(v)
        fk = psi - czeta
        return f0, fk, a, b, dpsi

    @staticmethod
    def _norm(f0, fk, zeta, c):
        return np.abs(f0) + (np.abs(fk) / np.maximum(np.abs(c[:, None] * zeta[None, :]), 1e-300)).sum(axis=0)

    def _newton(self, x, zeta, v, iters=40, tol=1e-13):
        c = self._c
        for _ in range(iters):
            f0, fk, a, b, dpsi = self._residual(x, zeta, v)
            r0 = self._norm(f0, fk, zeta, c)
            if np.all(r0 <= tol):
                break
            # eliminate dv_k = (-F_k + c_k dzeta)/psi'_k from the first equation
            with np.errstate(all="ignore"):
                dz = (-f0 + (b * fk / dpsi).sum(axis=0)) / (a + (b * c[:, None] / dpsi).sum(axis=0))
                dv = (-fk + c[:, None] * dz[None, :]) / dpsi
            bad = ~(np.isfinite(dz) & np.all(np.isfinite(dv), axis=0))
            dz = np.where(bad, 0, dz)
            dv = np.where(bad[None, :], 0, dv)
            lam = np.ones(x.shape)
            accepted = r0 <= tol
            for _h in range(25):
                zc = zeta + lam * dz
                vc = v + lam[None, :] * dv
                with np.errstate(all="ignore"):
                    f0c, fkc, *_ = self._residual(x, zc, vc)
                    rc = self._norm(f0c, fkc, zc, c)
                good = np.isfinite(rc) & (rc < r0) & ~accepted
                zeta = np.where(good, zc, zeta)
                v = np.where(good[None, :], vc, v)
                accepted |= good
                if np.all(accepted):
                    break
                lam = np.where(accepted, lam, 0.5 * lam)
            if not np.any(accepted & (r0 > tol)):
                break
        f0, fk, *_ = self._residual(x, zeta, v)
        return zeta, v, self._norm(f0, fk, zeta, c)

    def _solve(self, x: np.ndarray):
        """(zeta, v) with zeta = psi_J(1/x), for x in C+, by continuation in Im x."""
        b = self.support[1]
        scale = max(b, 1e-300)
        top = 30 * (scale + np.abs(x.real))
        y_target = x.imag
        m1 = self.mean
        m1d = self.d2.mean
        x0 = x.real + 1j * np.maximum(top, y_target)
        zeta = m1 / x0
        v = self._c[:, None] * zeta[None, :] / m1d
        zeta, v, _ = self._newton(x0, zeta, v)
        heights = np.geomspace(1, 1e-13, 60)
        for h in heights:
            y = np.maximum(y_target, top * h)
            zeta, v, res = self._newton(x.real + 1j * y, zeta, v, iters=12, tol=1e-12)
            if np.all(top * h <= y_target):
                break
        zeta, v, res = self._newton(x, zeta, v)
        if np.any(~np.isfinite(res)) or np.any(res > 1e-8):
            i = int(np.argmax(np.where(np.isfinite(res), res, np.inf)))
            raise JacobianSolverError(
                f"jacobian_law: the composed S-transform equation did not converge at x = {x[i]!r} "
                f"(residual {res[i]:.3g})")
        return zeta, v

    def _cauchy(self, z):
        z = np.asarray(z, dtype=complex)
        shape = z.shape
        z = z.ravel()
        b = self.support[1]
        # real points off the support: approach from just above the axis
        zz = np.where(z.imag <= 0, z.real + 1j * 1e-13 * max(1.0, b), z)
        out = np.empty_like(zz)
        big = np.abs(zz) > 1e8 * max(b, 1e-300)
        out[big] = 1.0 / zz[big] + self.mean / zz[big] ** 2
        if np.any(~big):
            zeta, _ = self._solve(zz[~big])
            out[~big] = (1 + zeta) / zz[~big]
        out = np.where(z.imag <= 0, out.real + 0j, out)
        return out.reshape(shape)

    # -- Law interface ------------------------------------------------------------------
    def _chi_real(self, zeta) -> np.ndarray:
        """chi_J(zeta) on the positive real axis (v_k real, by vectorised bisection); NaN where
        c_k zeta is beyond the range of psi_{D^2} on (0, 1/b_{D^2})."""
        zeta = np.atleast_1d(np.asarray(zeta, dtype=float))
        lt, _ = self._log_t(zeta.astype(complex))
        total = lt.real + np.log(zeta) - np.log(self._r + zeta)
        bd = float(np.max(self._psi.t)) if isinstance(self._psi, _PsiAtoms) else self.d2.support[1]
        for ck, mk in zip(self._c, self._mult):
            target = ck * zeta
            lo = np.zeros_like(zeta)
            hi = np.full_like(zeta, (1.0 - 1e-13) / bd)
            top = self._psi(hi.astype(complex))[0].real
            for _ in range(80):
                mid = 0.5 * (lo + hi)
                below = self._psi(mid.astype(complex))[0].real < target
                lo = np.where(below, mid, lo)
                hi = np.where(below, hi, mid)
            vk = np.where(top >= target, 0.5 * (lo + hi), np.nan)
            total = total + mk * (np.log(vk) + np.log1p(target) - np.log(target))
        return np.exp(total)

    @cached_property
    def support(self):
        pts, w = self.atoms
        nz = pts[pts > 0]
        if self.weights == "orthogonal" and np.all(self.d2.support[0] == self.d2.support[1]):
            # D^2 is a point mass: the whole law is atomic
            return (float(min(pts)), float(max(pts)))
        # upper edge: 1/b = max of chi_J on the positive axis (first critical point)
        mom = self.moments(2)
        z_guess = np.geomspace(1e-6, 1e6, 241)
        vals = self._chi_real(z_guess)
        ok = np.isfinite(vals)
        if not np.any(ok):
            raise JacobianSolverError("jacobian_law: could not locate the upper support edge")
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
        if len(nz) and abs(b - nz.max()) <= 1e-4 * b:
            # chi_J peaks where psi_J blows up: at the top atom (the bounded search is only ~1e-6 exact)
            b = float(nz.max())
        b = max(b, float(nz.max()) if len(nz) else 0.0, mom[0])
        return (0.0, float(b))

    @cached_property
    def atoms(self):
        w = np.asarray(self.widths, dtype=float)
        L = self.depth
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
                # dimension of the subspace on which J is b^{L/2}-times a scaled isometry
                dim = w[0] - sum(max(w[l - 1] - w[l], 0.0) + w[l] * (1 - p) for l in range(1, L + 1))
                if dim > 1e-12 * w[0]:
                    out_p.append(float(b ** L * gain))
                    out_m.append(float(dim / w[-1]))
        order = np.argsort(out_p)
        return np.array(out_p)[order], np.array(out_m)[order]

    def _solve_path(self, x: np.ndarray, strict: bool = True):
        """(zeta, x_used) at the points x (C+, same small height) by continuation along the real axis.

        Points are visited from right to left, each Newton solve warm-started from its neighbour
        (a few iterations each); a point where that fails is solved by the ladder in Im x.  Right next
        to a nonzero atom (where G is the atom's pole) the ladder may stall at the tiny height; such a
        point is solved at the height 1e-6 b instead (a Poisson smoothing at that scale), and
        ``x_used`` says so.
        """
        order = np.argsort(-x.real)
        out = np.empty(x.shape, dtype=complex)
        used = x.copy()
        zeta = v = None
        b = self.support[1]
        for i in order:
            xi = x[i: i + 1]
            ok = False
            if zeta is not None:
                zt, vt, res = self._newton(xi, zeta, v, iters=10, tol=1e-12)
                ok = bool(np.isfinite(res[0]) and res[0] <= 1e-10)
            if not ok:
                zt = None
                # the ladder may stall right next to an atom or in a gap of the support, where the
                # D^2 quadrature is poor near the axis: fall back to a Poisson smoothing at 1e-6 b,
                # then 1e-4 b (x_used records the height)
                for height in ((0.0, 1e-6 * b, 1e-4 * b) if strict else (0.0,)):
                    xt = xi.real + 1j * max(float(xi.imag[0]), height)
                    try:
                        zt, vt = self._solve(xt)
                        used[i] = xt[0]
                        break
                    except JacobianSolverError:
                        if height == 1e-4 * b and strict:
                            raise
                if zt is None:
                    # CDF table only: this point is dropped from the quadrature (see _cdf_table)
                    out[i] = np.nan
                    zeta = None
                    continue
            zeta, v = zt, vt
            out[i] = zt[0]
        return out, used

    def _pdf(self, x, strict: bool = True):
        a, b = self.support
        out = np.zeros_like(x)
        inside = (x > a) & (x < b)
        pts, w = self.atoms
        nz = pts[pts != 0]
        if len(nz):
            # at a nonzero atom the Cauchy transform is the atom's pole: no density is computed there
            inside &= np.min(np.abs(x[:, None] - nz[None, :]), axis=1) > 1e-5 * max(b, 1e-300)
        if np.any(inside):
            eps = 1e-10 * max(b, 1e-300)
            zeta, xi = self._solve_path(x[inside] + 1j * eps, strict=strict)
            g = (1 + zeta) / xi
            dens = -g.imag / np.pi
            pts, w = self.atoms
            if len(pts):
                # remove the atoms' Lorentzian tails seen at height eps
                y = xi.imag[:, None]
                dens -= (w[None, :] * y / np.pi / ((x[inside, None] - pts[None, :]) ** 2 + y ** 2)).sum(axis=1)
            out[inside] = np.where(np.isnan(dens), np.nan, np.maximum(dens, 0.0))
        return out

    @cached_property
    def _cdf_table(self):
        # cosine grid (square-root edges) joined to a geometric grid at 0, where products of
        # Marchenko-Pastur factors have a density ~ x^(-L/(L+1))
        a, b = self.support
        t = np.linspace(0, np.pi, 1201)
        x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(t)
        if a == 0:
            x = np.unique(np.concatenate([np.geomspace(1e-8 * b, 1e-2 * b, 160), x[x > 1e-2 * b], [0.0]]))
        # within a hair of a nonzero atom the solver may stall; those few grid points are dropped
        # (the trapezoid bridges them) and the absolutely continuous mass is renormalised below
        d = self._pdf(x, strict=False)
        keep = np.isfinite(d)
        x, d = x[keep], d[keep]
        c = np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(x))])
        if a == 0 and d[1] > 0 and d[2] > 0:
            # mass below the first grid point from the local power law rho ~ x^(-alpha)
            alpha = min(-np.log(d[2] / d[1]) / np.log(x[2] / x[1]), 0.999)
            c[1:] += d[1] * x[1] / (1 - alpha) - 0.5 * d[1] * x[1]
        _, w = self.atoms
        ac = 1.0 - w.sum()
        if c[-1] > 0 and ac > 1e-12:
            c *= ac / c[-1]
        return x, c

    def _cdf(self, x):
        return tabulated_cdf(x, self._cdf_table, self.atoms)

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
    return fp.pushforward(fp.normal(0.0, q), lambda h: np.asarray(a.dphi(h), dtype=float) ** 2)


def jacobian_law(act, sigma_w2: float, sigma_b2: float, depth: int, weights: str = "orthogonal",
                 widths: Sequence[float] | None = None) -> JacobianLaw:
    r"""Limiting law of the squared singular values of the input-output Jacobian.

    The pre-activations sit at the mean-field fixed point :math:`q^*(\sigma_w^2, \sigma_b^2)`;
    :math:`D^2` is the pushforward of :math:`N(0, q^*)` by :math:`\phi'^2`; the law of
    :math:`JJ^\top` follows from the product of S-transforms (module docstring).

    Parameters
    ----------
    act : str or activation object
        Any activation of :mod:`nn_spectra.activations`.
    sigma_w2, sigma_b2 : float
        Weight and bias variances (:math:`\sigma_w^2 > 0`, :math:`\sigma_b^2 \ge 0`).
    depth : int
        :math:`L \ge 1`; depths of 100 and more are cheap (the depth is an exponent).
    weights : {"orthogonal", "gaussian"}
    widths : sequence, optional
        :math:`n_0, \dots, n_L`, input first; equal widths by default.

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


def jacobian_variance(act, sigma_w2: float, sigma_b2: float, depth: int, weights: str = "orthogonal") -> float:
    r"""PSG's closed form for the variance of the :math:`JJ^\top` spectrum at criticality.

    With :math:`\mu_k = E[\phi'(h)^{2k}]` and :math:`\chi = \sigma_w^2\mu_1 = 1`:
    :math:`\sigma^2_{JJ^\top} = L(\mu_2/\mu_1^2 - 1 - s_1)`, :math:`s_1 = -1` (Gaussian) or 0
    (orthogonal).  Away from criticality the exact value is ``jacobian_law(...).var``.
    """
    from .mean_field import q_star

    depth = _check_depth(depth)
    weights = _check_weights(weights)
    q = q_star(act, sigma_w2, sigma_b2)
    m = d2_law(act, q).moments(2)
    s1 = -1.0 if weights == "gaussian" else 0.0
    return float(depth * (m[1] / m[0] ** 2 - 1 - s1))


def sample_jacobian_spectrum(act, sigma_w2: float, sigma_b2: float, depth: int, width: int,
                             weights: str = "orthogonal", widths: Sequence[int] | None = None,
                             rng=None) -> np.ndarray:
    r"""Eigenvalues of :math:`JJ^\top` for one real network, the Monte-Carlo twin of :func:`jacobian_law`.

    Builds an :class:`nn_spectra.MLP` with widths :math:`n_0, \dots, n_L, 1` (the readout is not part of
    :math:`J`), feeds one input whose first pre-activation has length :math:`q^*`, and returns the
    eigenvalues of :math:`JJ^\top` for :math:`J = \partial x^L/\partial x^0 = D_L W_L\cdots D_1W_1`.
    """
    from .mean_field import q_star
    from .mlp import MLP

    depth = _check_depth(depth)
    weights = _check_weights(weights)
    ws = [int(width)] * (depth + 1) if widths is None else [int(w) for w in _check_widths(widths, depth)]
    gen = np.random.default_rng(rng)
    net = MLP(ws + [1], act, sigma_w2, sigma_b2, init=weights, rng=gen)
    q = q_star(act, sigma_w2, sigma_b2)
    # q^1 = sigma_w^2 |x|^2/n_0 + sigma_b^2 = q*  (needs q* >= sigma_b^2, true at the fixed point)
    x = gen.standard_normal(ws[0])
    x *= np.sqrt(max(q - sigma_b2, 0.0) / sigma_w2 * ws[0]) / np.linalg.norm(x)
    _, hs, _ = net.forward(x[None, :], return_all=True)
    J = np.eye(ws[0])
    for l in range(depth):
        J = net.act.dphi(hs[l][0])[:, None] * (net.weights[l] @ J)
    return np.clip(np.linalg.eigvalsh(J @ J.T), 0.0, None)
