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
from freeprob.law import Law, check_positive, check_real

__all__ = ["JacobianLaw", "jacobian_law", "jacobian_law_from_d2", "d2_law", "jacobian_variance",
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


# ----------------------------------------------------------------------------- the law
class JacobianLaw(Law):
    r"""Limiting law of the squared singular values of :math:`J = \prod_l D_l W_l` (eigenvalues of
    :math:`JJ^\top`), given the law of :math:`D^2`.

    Built by :func:`jacobian_law` or :func:`jacobian_law_from_d2`; see the module docstring for the
    S-transform and the solver.
    """

    name = "jacobian"

    def __init__(self, d2: Law, sigma_w2: float, widths: Sequence[int], weights: str, label: str = ""):
        self.d2 = d2
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
        u = 1.0 / v
        g = self.d2._cauchy_any(u)
        dg = self.d2._cauchy_derivative_any(u)
        return g * u - 1.0, -dg * u ** 3 - g * u ** 2

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
        """zeta = psi_J(1/x) for x in C+ by continuation in Im x."""
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
        return zeta

    def _cauchy(self, z):
        z = np.asarray(z, dtype=complex)
        shape = z.shape
        z = z.ravel()
        b = self.support[1]
        # real points off the support: approach from just above the axis
        zz = np.where(z.imag <= 0, z.real + 1j * 1e-13 * max(1.0, b), z)
        out = np.empty_like(zz)
        pts, w = self.atoms
        zero_mass = w[pts == 0].sum() if len(pts) else 0.0
        big = np.abs(zz) > 1e8 * max(b, 1e-300)
        out[big] = 1.0 / zz[big] + self.mean / zz[big] ** 2
        if np.any(~big):
            zeta = self._solve(zz[~big])
            out[~big] = (1 + zeta) / zz[~big]
        out = np.where(z.imag <= 0, out.real + 0j, out)
        del zero_mass
        return out.reshape(shape)

    # -- Law interface ------------------------------------------------------------------
    def _chi_real(self, zeta: float) -> float:
        """chi_J(zeta) on the positive real axis (v_k real, found by bracketing)."""
        _, bd = self.d2.support
        lt, _ = self._log_t(np.array([zeta], dtype=complex))
        total = float(lt.real[0]) + np.log(zeta) - np.log(self._r + zeta)
        for ck, mk in zip(self._c, self._mult):
            target = ck * zeta
            vk = self._chi_d2_real(target, bd)
            total += mk * (np.log(vk) + np.log1p(target) - np.log(target))
        return float(np.exp(total))

    def _chi_d2_real(self, target, bd):
        def f(v):
            return float((self.d2._cauchy_any(np.array([1.0 / v + 0j]))[0].real / v) - 1.0 - target)
        hi = (1.0 - 1e-14) / bd
        if f(hi) < 0:
            return np.nan
        return optimize.brentq(f, 0.0 + 1e-300, hi, xtol=1e-300, rtol=1e-14, maxiter=400) if f(1e-300) < 0 \
            else 1e-300

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
        vals = []
        for zg in z_guess:
            try:
                vals.append(self._chi_real(zg))
            except (ValueError, FloatingPointError):
                vals.append(np.nan)
        vals = np.array(vals)
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
        res = optimize.minimize_scalar(lambda t: -np.log(self._chi_real(np.exp(t))),
                                       bounds=(np.log(lo), np.log(hi)), method="bounded",
                                       options={"xatol": 1e-12})
        b = 1.0 / self._chi_real(float(np.exp(res.x)))
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

    def _pdf(self, x):
        a, b = self.support
        out = np.zeros_like(x)
        inside = (x > a) & (x < b)
        if np.any(inside):
            eps = 1e-10 * max(b, 1e-300)
            g = (1 + self._solve(x[inside] + 1j * eps)) / (x[inside] + 1j * eps)
            dens = -g.imag / np.pi
            pts, w = self.atoms
            if len(pts):
                # remove the atoms' Lorentzian tails seen at height eps
                dens -= (w[None, :] * eps / np.pi / ((x[inside, None] - pts[None, :]) ** 2 + eps ** 2)).sum(axis=1)
            out[inside] = np.maximum(dens, 0.0)
        return out

    @cached_property
    def _cdf_table(self):
        a, b = self.support
        t = np.linspace(0, np.pi, 2001)
        x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(t)
        d = self._pdf(x)
        c = np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(x))])
        _, w = self.atoms
        ac = 1.0 - w.sum()
        if c[-1] > 0 and ac > 1e-12:
            c *= ac / c[-1]
        return x, c

    def _cdf(self, x):
        xs, cs = self._cdf_table
        pts, w = self.atoms
        out = np.interp(x, xs, cs, left=0.0, right=cs[-1])
        if len(pts):
            out = out + (w[None, :] * (pts[None, :] <= x[:, None])).sum(axis=1)
        return out

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

    a = activation(act) if isinstance(act, str) else act
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
    law = JacobianLaw(d2_law(act, q), sigma_w2, widths, weights, label=str(getattr(act, "name", act)))
    return law


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
