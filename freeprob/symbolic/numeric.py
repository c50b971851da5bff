r"""Numeric evaluation of an algebraic law: branch tracking from :math:`z = i\infty`.

:class:`NumericAlgebraicLaw` is a :class:`freeprob.law.Law` whose Cauchy transform at ``z`` is
found by following the right root of :math:`P(G, z) = 0` along the vertical path
:math:`x + iy`, from a height :math:`H` where the root closest to the moment series
:math:`\sum_k m_k z^{-k-1}` is unambiguously the Cauchy transform, down to ``Im z`` (or to the
real axis, for densities).  At each step all roots are computed at once (companion matrices,
vectorised over points) and the one nearest the extrapolation of the path is kept.
Choosing "the root with the largest imaginary part" instead fails in general.

The support is computed exactly: its edges are real roots of the discriminant of P in G (and
atoms are real roots of the leading coefficient), isolated by SymPy; between consecutive
candidate points the density is either positive everywhere or zero.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..law import Law
from .algebraic import G, AlgebraicLaw, z

__all__ = ["NumericAlgebraicLaw", "candidate_points"]


def candidate_points(law: AlgebraicLaw) -> list:
    """Exact real points where the density can switch on or off: real roots of the discriminant
    of P in G and of its leading coefficient in G (poles: atoms or removable)."""
    p = sp.Poly(law.polynomial, G)
    pts = set()
    polys = [sp.Poly(p.LC(), z)]
    if p.degree() >= 2:
        polys.append(sp.Poly(sp.discriminant(p.as_expr(), G), z))
    for q in polys:
        if q.degree() >= 1:
            for f, _ in sp.factor_list(q.as_expr(), z)[1]:
                pts.update(sp.Poly(f, z).real_roots())
    return sorted(pts, key=lambda r: float(sp.N(r, 30)))


class NumericAlgebraicLaw(Law):
    """The numeric face of an :class:`~freeprob.symbolic.AlgebraicLaw` with numeric parameters.

    >>> from freeprob.symbolic import semicircle
    >>> complex(semicircle().to_numeric().cauchy(1 + 1j))  # doctest: +ELLIPSIS
    (0.25706586412167...-0.52908551363574...j)
    """

    name = "algebraic"

    def __init__(self, law: AlgebraicLaw):
        if law.parameters:
            raise ValueError(
                f"to_numeric needs numeric parameters; substitute {sorted(map(str, law.parameters))} first "
                "(law.to_numeric({symbol: value}))"
            )
        self.law = law
        p = sp.Poly(law.polynomial, G, z)
        deg = p.degree(G)
        # coefficient of G^j as a numpy polynomial in z (highest power first)
        coeffs = []
        for j in range(deg, -1, -1):
            cz = sp.Poly(p.as_expr().coeff(G, j), z)
            coeffs.append(np.array([float(c) for c in cz.all_coeffs()], dtype=float))
        self._coeffs = coeffs
        self._deg = deg
        self._dP = (sp.lambdify((G, z), sp.diff(p.as_expr(), z)), sp.lambdify((G, z), sp.diff(p.as_expr(), G)))
        nm = max(8, 2 * len(law.branch_data) + 4)
        self._mom = np.array([1.0] + [float(sp.N(m)) for m in law.moments(nm)], dtype=float)
        cands = [float(sp.N(c, 20)) for c in candidate_points(law)]
        self._cands = np.array(cands)
        self._scale = max([1.0] + [abs(c) for c in cands] + [abs(self._mom[1])])
        self._height = 8.0 * (self._scale + 1.0)
        self._steps_per_decade = 8
        self._jumps = False  # no shortcuts while the support (and atoms) are being located
        self._components, self._atoms = self._find_support()
        self._jumps = not len(self._atoms[0])
        if len(self._atoms[0]):
            # next to an atom with a singular density (free projections) two branches share the
            # pole c/z and separate only like sqrt(z): smaller steps keep them apart
            self._steps_per_decade = 40
        self._freeze()

    # -- root tracking ---------------------------------------------------------------------
    def _all_roots(self, zs: np.ndarray) -> np.ndarray:
        """All roots in G at each point of ``zs`` (shape (n, deg)).

        Where the leading coefficient is small (near atoms and poles, where a root runs off to
        infinity) the companion matrix of the reversed polynomial, in H = 1/G, is used instead;
        a root at infinity comes out as ``inf`` and is never the nearest.
        """
        a = np.stack([np.polyval(c, zs) for c in self._coeffs], axis=-1)  # (n, deg+1), leading first
        rev = np.abs(a[:, 0]) < np.abs(a[:, -1])
        b = np.where(rev[:, None], a[:, ::-1], a)
        lead = b[:, 0]
        dead = lead == 0
        safe = np.where(dead, 1.0, lead)
        if self._deg == 1:
            r = (-b[:, 1] / safe)[:, None]
        else:
            comp = np.zeros((len(zs), self._deg, self._deg), dtype=complex)
            comp[:, 0, :] = -b[:, 1:] / safe[:, None]
            comp[:, np.arange(1, self._deg), np.arange(self._deg - 1)] = 1.0
            r = np.linalg.eigvals(comp)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(rev[:, None], 1.0 / r, r)
        r[dead] = np.nan
        return r

    def _series(self, zs: np.ndarray) -> np.ndarray:
        k = np.arange(len(self._mom))
        return (self._mom[None, :] / zs[:, None] ** (k[None, :] + 1)).sum(axis=1)

    def _nearest(self, roots: np.ndarray, target: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        d = np.abs(roots - target[:, None])
        d = np.where(np.isnan(d), np.inf, d)
        i = np.argmin(d, axis=1)
        out = roots[np.arange(len(target)), i]
        bad = ~np.isfinite(out)
        out[bad] = fallback[bad]
        return out

    def _track(self, zs: np.ndarray) -> np.ndarray:
        x, y = zs.real, zs.imag
        h = self._height
        top = x + 1j * np.maximum(y, h)
        g = self._nearest(self._all_roots(top), self._series(top), self._series(top))
        low = y < h
        if not np.any(low):
            return g
        xs, ys, gs = x[low], y[low], g[low]
        floor = 1e-11 * self._scale
        # geometric descent to max(y, floor)
        ytgt = np.maximum(ys, floor)
        nsteps = int(np.ceil(self._steps_per_decade * np.log10(h / ytgt.min()))) + 2
        t = np.linspace(0.0, 1.0, nsteps + 1)[1:]
        # steps are uniform in log(y), where G is smooth both at ordinary points and at atoms
        # (G ~ c/(iy) grows geometrically); quadratic extrapolation in the step index follows
        # both, so the nearest root is the continued branch even where two pole branches c/(iy),
        # c'/(iy) run off to infinity together
        final = np.where(ys < floor, ys, ytgt)   # where each point must end up
        out = np.empty_like(gs)
        active = np.arange(len(xs))
        hist = [gs.copy()]
        spd = self._steps_per_decade
        for k, tk in enumerate(t):
            yk = h * (ytgt[active] / h) ** tk
            zk = xs[active] + 1j * yk
            if len(hist) >= 3:
                pred = 3 * hist[-1] - 3 * hist[-2] + hist[-3]
            elif len(hist) == 2:
                pred = 2 * hist[-1] - hist[-2]
            else:
                pred = hist[-1]
            cur = self._nearest(self._all_roots(zk), pred, hist[-1])
            hist = hist[-2:] + [cur]
            if self._jumps and (k + 1) % spd == 0 and k + 1 < len(t):
                # once a decade, try the jump straight to the target: accepted only where the
                # nearest root is at most 1/100 of the distance to every other root, i.e. where
                # the remaining path cannot reach another branch
                zf = xs[active] + 1j * final[active]
                roots = self._all_roots(zf)
                d = np.sort(np.where(np.isnan(roots), np.inf, np.abs(roots - cur[:, None])), axis=1)
                ok = (yk <= 1e-2 * self._scale) & (d[:, 0] <= 1e-2 * d[:, 1])
                if np.any(ok):
                    out[active[ok]] = self._nearest(roots[ok], cur[ok], cur[ok])
                    active = active[~ok]
                    hist = [v[~ok] for v in hist]
                    if not len(active):
                        break
        if len(active):
            prev = hist[-1]
            real = ys[active] < floor
            if np.any(real):
                zk = xs[active][real] + 1j * ys[active][real]
                prev[real] = self._nearest(self._all_roots(zk), prev[real], prev[real])
            out[active] = prev
        prev = out
        g[low] = prev
        return g

    def _cauchy(self, zs):
        zs = np.asarray(zs, dtype=complex)
        return self._track(zs.ravel()).reshape(zs.shape)

    def _cauchy_derivative(self, zs):
        g = self._cauchy(zs)
        pz, pg = self._dP
        return -pz(g, zs) / pg(g, zs)

    # -- support -------------------------------------------------------------------------
    def _find_support(self):
        c = self._cands
        comps = []
        if len(c) >= 2:
            mids = 0.5 * (c[1:] + c[:-1])
            dens = -self._track(mids.astype(complex)).imag / np.pi
            for lo, hi, d in zip(c[:-1], c[1:], dens):
                if d > 1e-12 * (1 + np.max(np.abs(dens))):
                    if comps and comps[-1][1] == lo:
                        comps[-1] = (comps[-1][0], hi)
                    else:
                        comps.append((lo, hi))
        lead_roots = [r for r in np.roots(self._coeffs[0]) if abs(r.imag) < 1e-9 * self._scale] \
            if len(self._coeffs[0]) > 1 else []
        pts, masses = [], []
        for r in sorted({float(r.real) for r in lead_roots}):
            # snap to the exact candidate and measure the residue i*eta*G(a + i*eta)
            if len(c):
                r = float(c[np.argmin(np.abs(c - r))])
            # an atom has i*eta*G -> mass at every small eta; an inverse-square-root edge (arcsine)
            # also makes the leading coefficient vanish but its "mass" decays like sqrt(eta)
            eta = np.array([1e-8, 1e-10]) * self._scale
            m_hi, m_lo = (1j * eta * self._track(r + 1j * eta)).real
            # an inverse-square-root density next to the atom adds O(sqrt(eta)): extrapolate it away
            q = np.sqrt(eta[1] / eta[0])
            mass = float((m_lo - q * m_hi) / (1 - q))
            if mass > 1e-9 and abs(m_hi - m_lo) < 1e-3 * mass:
                pts.append(r)
                masses.append(mass)
        return comps, (np.array(pts), np.array(masses))

    def _contains(self, x: float) -> bool:
        in_comp = any(lo <= x <= hi for lo, hi in self._components)
        return in_comp or bool(np.any(np.isclose(self._atoms[0], x, atol=1e-12)))

    @property
    def support(self):
        ends = [v for comp in self._components for v in comp] + list(self._atoms[0])
        if not ends:
            raise ValueError("the algebraic law has an empty support: the polynomial is probably wrong")
        return (float(min(ends)), float(max(ends)))

    @property
    def components(self) -> list:
        """Intervals where the density is positive."""
        return list(self._components)

    @property
    def atoms(self):
        return self._atoms

    def _in_gap(self, x):
        inside = np.zeros(np.shape(x), dtype=bool)
        for lo, hi in self._components:
            inside |= (x >= lo) & (x <= hi)
        return ~inside

    def _pdf(self, x):
        x = np.asarray(x, dtype=float)
        out = np.zeros_like(x)
        inside = ~self._in_gap(x)
        if np.any(inside):
            out[inside] = np.maximum(-self._track(x[inside].astype(complex)).imag / np.pi, 0.0)
        pts = self._atoms[0]
        if len(pts):
            out[np.isin(x, pts)] = 0.0
        return out

    def _cdf(self, x):
        # per component, x = c - r cos(theta): the Jacobian r sin(theta) absorbs square-root and
        # inverse-square-root edges, so Gauss-Legendre in theta converges fast
        x = np.asarray(x, dtype=float)
        pts, masses = self._atoms
        out = (masses[None, :] * (pts[None, :] <= x[:, None])).sum(axis=1) if len(pts) else np.zeros_like(x)
        t, wt = np.polynomial.legendre.leggauss(160)
        for lo, hi in self._components:
            c, r = 0.5 * (lo + hi), 0.5 * (hi - lo)
            th_x = np.arccos(np.clip((c - x) / r, -1.0, 1.0))  # 0 at lo, pi at hi
            part = th_x > 0
            if not np.any(part):
                continue
            th = 0.5 * th_x[part, None] * (t[None, :] + 1)
            xs = c - r * np.cos(th)
            dens = self._pdf(xs.ravel()).reshape(xs.shape)
            out[part] += 0.5 * th_x[part] * (dens * r * np.sin(th) * wt[None, :]).sum(axis=1)
        return out

    def _moments(self, n):
        return np.array([float(sp.N(m)) for m in self.law.moments(n)])

    def __repr__(self):
        return f"algebraic({self.law.name or self.law.polynomial})"
