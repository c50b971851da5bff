r"""Free additive (⊞) and multiplicative (⊠) convolutions by subordination.

Additive (Belinschi–Bercovici), with :math:`F = 1/G`:

.. math:: \omega_2 = z + F_\mu(\omega_1) - \omega_1,\qquad \omega_1 = z + F_\nu(\omega_2) - \omega_2,
          \qquad G_{\mu\boxplus\nu}(z) = G_\mu(\omega_1) = G_\nu(\omega_2).

Multiplicative, for laws on :math:`[0,\infty)`, written in the upper half-plane variables
:math:`\Omega_i = 1/\omega_i` of the usual η-subordination (:math:`\eta(z) = 1 - zF(1/z)`):

.. math:: \Omega_2 = \frac{\zeta}{\Omega_1 - F_\mu(\Omega_1)},\qquad
          \Omega_1 = \frac{\zeta}{\Omega_2 - F_\nu(\Omega_2)},\qquad
          G_{\mu\boxtimes\nu}(\zeta) = \frac{\Omega_1 G_\mu(\Omega_1)}{\zeta}.

Both are solved by the same scheme: continuation in the height Im z from far above the real
axis down to the target, guarded Newton steps on :math:`\Phi(\Omega_1) = \Omega_1 - T(\Omega_1)`
(a step is accepted only if it stays in C⁺ and reduces |Φ|, else it is halved), falling back to
the averaged iteration :math:`\Omega \leftarrow (\Omega + T(\Omega))/2` where Newton stalls.
Atoms are exact (Bercovici–Voiculescu): for ⊞ an atom at b + c iff μ{b} + ν{c} > 1, of mass
μ{b} + ν{c} − 1; for ⊠ at bc ≠ 0 likewise, and at 0 of mass max(μ{0}, ν{0}).
"""
from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np

from .combinatorics import boxtimes_moments, free_cumulants_to_moments
from .law import Law

__all__ = ["boxplus", "boxtimes", "FreeConvolution", "SubordinationError"]


class SubordinationError(ValueError):
    """The subordination fixed point did not converge."""


def _dF(law: Law, w: np.ndarray):
    """(F(w), F'(w)) for w in C⁺."""
    g = law._cauchy(w)
    dg = law._cauchy_derivative(w)
    return 1.0 / g, -dg / (g * g)


class FreeConvolution(Law):
    """μ ⊞ ν or μ ⊠ ν, solved by subordination (see the module docstring)."""

    def __init__(self, mu: Law, nu: Law, kind: str):
        if not isinstance(mu, Law) or not isinstance(nu, Law):
            raise ValueError("boxplus/boxtimes take freeprob Law objects")
        if kind == "times":
            for nm, law in (("mu", mu), ("nu", nu)):
                if law.support[0] < 0:
                    raise ValueError(
                        f"boxtimes needs laws on [0, inf); {nm} = {law!r} has support starting at {law.support[0]}"
                    )
                if law.mean <= 0:
                    raise ValueError(f"boxtimes needs laws with positive mean; {nm} = {law!r} is the point mass at 0")
        self.mu, self.nu, self.kind = mu, nu, kind
        self.name = "boxplus" if kind == "plus" else "boxtimes"
        self._freeze()

    # -- the fixed-point map T and its derivative ---------------------------------------
    def _map(self, z, w1):
        """(T(w1), T'(w1), w2)."""
        if self.kind == "plus":
            f1, df1 = _dF(self.mu, w1)
            w2 = z + f1 - w1
            w2 = np.where(w2.imag > 0, w2, w2.real + 1j * np.abs(z.imag))
            f2, df2 = _dF(self.nu, w2)
            t = z + f2 - w2
            return t, (df2 - 1) * (df1 - 1), w2
        f1, df1 = _dF(self.mu, w1)
        d1 = w1 - f1
        w2 = z / d1
        w2 = np.where(w2.imag > 0, w2, w2.real + 1j * np.abs(z.imag))
        f2, df2 = _dF(self.nu, w2)
        d2 = w2 - f2
        t = z / d2
        dw2 = -z * (1 - df1) / d1 ** 2
        dt = -z * (1 - df2) / d2 ** 2
        return t, dt * dw2, w2

    def _start(self, z):
        if self.kind == "plus":
            return z - self.nu.mean
        return z / self.nu.mean

    def subordination(self, z):
        """Subordination functions ``(omega_1, omega_2)`` at ``z`` in C⁺ (for ⊠: Ω₁ = 1/ω₁, Ω₂ = 1/ω₂)."""
        from .law import as_complex_array

        zz = np.atleast_1d(as_complex_array("z", z))
        if np.any(zz.imag <= 0):
            raise ValueError("z must lie in the upper half-plane (Im z > 0)")
        w1 = self._solve(zz)
        _, _, w2 = self._map(zz, w1)
        return w1, w2

    def _solve(self, z: np.ndarray) -> np.ndarray:
        a, b = self.support
        scale = max(b - a, abs(a), abs(b), 1e-3)
        ytarget = z.imag
        heights = np.geomspace(10 * scale, 1e-12 * scale, 40)
        x = z.real
        w = self._start(x + 1j * max(heights[0], ytarget.max()))
        for y in list(heights) + [None]:
            yy = ytarget if y is None else np.maximum(ytarget, y)
            zz = x + 1j * yy
            w = self._newton(zz, w)
            if y is not None and np.all(y <= ytarget):
                break
        t, _, _ = self._map(z, w)
        resid = np.abs(w - t)
        tol = 1e-9 * np.maximum(1.0, np.abs(w))
        if np.any(~np.isfinite(resid)) or np.any(resid > tol):
            i = int(np.argmax(np.where(np.isfinite(resid), resid / tol, np.inf)))
            raise SubordinationError(
                f"{self.name} subordination did not converge at z = {z[i]!r} (residual {resid[i]:.3g})"
            )
        return w

    def _newton(self, z, w, iters: int = 60):
        for _ in range(iters):
            t, dt, _ = self._map(z, w)
            phi = w - t
            r0 = np.abs(phi)
            if np.all(r0 <= 1e-14 * np.maximum(1.0, np.abs(w))):
                break
            with np.errstate(all="ignore"):
                step = phi / (1 - dt)
            bad = ~np.isfinite(step)
            step = np.where(bad, 0.5 * phi, step)  # averaged iteration where Newton is undefined
            lam = np.ones(w.shape)
            accepted = np.zeros(w.shape, dtype=bool)
            for _h in range(30):
                cand = w - lam * step
                ok_dom = cand.imag > 0
                cz = np.where(ok_dom, cand, w)
                tc, _, _ = self._map(z, cz)
                rc = np.abs(cz - tc)
                good = ok_dom & (rc < r0) & ~accepted
                w = np.where(good, cand, w)
                accepted |= good
                if np.all(accepted | (r0 == 0)):
                    break
                lam = np.where(accepted, lam, lam * 0.5)
            # where no Newton step helped, take a few averaged fixed-point steps
            stuck = ~accepted & (r0 > 0)
            if np.any(stuck):
                ws = w[stuck]
                zs = z[stuck]
                for _k in range(50):
                    ts, _, _ = self._map(zs, ws)
                    ws = np.where(ts.imag > 0, 0.5 * (ws + ts), ws)
                w = w.copy()
                w[stuck] = ws
        return w

    # -- Law interface ------------------------------------------------------------------
    @cached_property
    def support(self):
        (a1, b1), (a2, b2) = self.mu.support, self.nu.support
        if self.kind == "plus":
            return (a1 + a2, b1 + b2)
        return (a1 * a2, b1 * b2)

    @cached_property
    def atoms(self):
        p1, m1 = self.mu.atoms
        p2, m2 = self.nu.atoms
        pts, mass = [], []
        if self.kind == "times":
            z1 = m1[p1 == 0].sum() if len(p1) else 0.0
            z2 = m2[p2 == 0].sum() if len(p2) else 0.0
            if max(z1, z2) > 0:
                pts.append(0.0)
                mass.append(max(z1, z2))
        for b, mb in zip(p1, m1):
            for c, mc in zip(p2, m2):
                if mb + mc > 1 + 1e-15:
                    loc = b + c if self.kind == "plus" else b * c
                    if self.kind == "times" and loc == 0:
                        continue
                    pts.append(float(loc))
                    mass.append(float(mb + mc - 1))
        order = np.argsort(pts)
        return np.array(pts)[order], np.array(mass)[order]

    def _cauchy(self, z):
        z = np.asarray(z, dtype=complex)
        shape = z.shape
        z = z.ravel()
        out = np.empty_like(z)
        real = z.imag <= 0
        if np.any(real):
            # off the support on the real line: approach from above (the limit exists there)
            zr = z[real] + 1j * 1e-13 * max(1.0, np.ptp(self.support))
            out[real] = self._cauchy_upper(zr).real
        if np.any(~real):
            out[~real] = self._cauchy_upper(z[~real])
        return out.reshape(shape)

    def _cauchy_upper(self, z):
        w1 = self._solve(z)
        if self.kind == "plus":
            return self.mu._cauchy(w1)
        return w1 * self.mu._cauchy(w1) / z

    def _pdf(self, x):
        a, b = self.support
        eps = 1e-11 * max(1.0, b - a)
        out = np.zeros_like(x)
        inside = (x >= a) & (x <= b)
        if np.any(inside):
            g = self._cauchy_upper(x[inside] + 1j * eps)
            dens = -g.imag / np.pi
            pts, w = self.atoms
            if len(pts):
                # subtract the atoms' Lorentzian tails seen at height eps
                dens -= (w[None, :] * eps / np.pi / ((x[inside, None] - pts[None, :]) ** 2 + eps ** 2)).sum(axis=1)
            out[inside] = np.maximum(dens, 0.0)
        return out

    @cached_property
    def _cdf_table(self):
        a, b = self.support
        t = np.linspace(0, np.pi, 4001)
        x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(t)
        d = self._pdf(x)
        c = np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(x))])
        pts, w = self.atoms
        ac = 1.0 - w.sum()
        if c[-1] > 0:
            c *= ac / c[-1]  # trapezoid error at the square-root edges is O(h^{3/2}); renormalise
        return x, c

    def _cdf(self, x):
        xs, cs = self._cdf_table
        pts, w = self.atoms
        out = np.interp(x, xs, cs, left=0.0, right=cs[-1])
        if len(pts):
            out = out + (w[None, :] * (pts[None, :] <= x[:, None])).sum(axis=1)
        return out

    def _moments(self, n):
        if self.kind == "plus":
            k = self.mu.free_cumulants(n) + self.nu.free_cumulants(n)
            return free_cumulants_to_moments(k)
        return boxtimes_moments(self.mu.free_cumulants(n), self.nu.moments(n))

    def r_transform(self, w):
        if self.kind == "plus":
            return self.mu.r_transform(w) + self.nu.r_transform(w)
        return super().r_transform(w)

    def s_transform(self, z):
        if self.kind == "times":
            return self.mu.s_transform(z) * self.nu.s_transform(z)
        return super().s_transform(z)

    def __repr__(self):
        return f"{self.name}({self.mu!r}, {self.nu!r})"


def boxplus(mu: Law, nu: Law, *more: Law) -> Law:
    """Free additive convolution ``mu ⊞ nu (⊞ more...)``.

    >>> import freeprob as fp
    >>> rho = fp.boxplus(fp.semicircle(1.0), fp.semicircle(3.0))
    >>> round(float(rho.pdf(0.5)), 10) == round(float(fp.semicircle(4.0).pdf(0.5)), 10)
    True
    """
    out = FreeConvolution(mu, nu, "plus")
    for law in more:
        out = FreeConvolution(out, law, "plus")
    return out


def boxtimes(mu: Law, nu: Law, *more: Law) -> Law:
    """Free multiplicative convolution of laws on ``[0, inf)`` with positive means."""
    out = FreeConvolution(mu, nu, "times")
    for law in more:
        out = FreeConvolution(out, law, "times")
    return out
