r"""Numeric evaluation of an algebraic law on the :class:`~freeprob.SolvedLaw` engine.

:class:`NumericAlgebraicLaw` states the branch of :math:`P(G, z) = 0` that is the Cauchy transform
as a fixed-point system for the engine: the state is :math:`\tilde G` itself, the residual
:math:`\tilde P(\tilde G, \tilde z)` of the polynomial rewritten in the law's standardized
coordinates (:math:`z = c + s\tilde z`, :math:`G = \tilde G/s`, :math:`(c, s)` the exact mean and
standard deviation), divided by the sum of the moduli of its terms (a relative residual), the
Jacobian :math:`\partial_G \tilde P` likewise.  The start at :math:`i\infty` is the root nearest
the moment series :math:`\sum_k \tilde m_k \tilde z^{-k-1}`; the engine continues it to the real
axis, finds the edges where :math:`\partial_G P = 0` (the discriminant) and computes the cdf.

Atoms are exact: they sit at real roots a of the leading coefficient of P in G, and the mass is the
residue of the Cauchy branch there.  With :math:`G = H/(z-a)` the Newton polygon of P at a gives
the possible residues as the nonzero roots of :math:`\sum_{j\in J} q_j(a)\,f'(a)^{\nu_j} H^j`, where
f is the irreducible factor of the leading coefficient vanishing at a, :math:`\nu_j` the
multiplicity of f in the coefficient :math:`c_j = f^{\nu_j} q_j` of :math:`G^j` (exact polynomial
division) and J the indices minimising :math:`\nu_j - j`.  The solver only *selects* among these
exact candidates (the one within 1e-3 of :math:`-y\operatorname{Im}G(a+iy)`, y = 1e-10 in
standardized units; none within reach means no atom, e.g. an inverse-square-root edge).

The continuation itself is the law's own root tracking (:meth:`NumericAlgebraicLaw._solve_fast`:
nearest root to an extrapolated path, all roots by companion matrices), because next to an atom
two branches share the pole and a residual-decreasing Newton step can jump between them; the
engine polishes on the axis, locates edges and computes the cdf.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..solved import SolvedLaw
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


class NumericAlgebraicLaw(SolvedLaw):
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
        m1, m2 = (sp.nsimplify(m, rational=True) if isinstance(m, sp.Float) else sp.sympify(m)
                  for m in law.moments(2))
        var = sp.nsimplify(m2 - m1 ** 2)
        c = sp.nsimplify(m1)
        s = sp.sqrt(var) if var != 0 else sp.Integer(1)
        self._loc, self._scale = float(sp.N(c, 30)), float(sp.N(s, 30))
        if not (math.isfinite(self._loc) and math.isfinite(self._scale) and self._scale > 0):
            raise ValueError(f"{law!r}: centre and scale are not representable ({self._loc}, {self._scale})")
        # coefficient of G^j in factored form c_j(z) = L_j prod(z - r_i): in standardized units
        # a_j(z~) = L_j s^(deg c_j - j) prod(z~ - r~_i) up to a common factor; products of
        # differences are accurate next to the roots, where an expanded polynomial in z~ cancels
        # catastrophically (the leading coefficient vanishes like z² at an atom)
        pg = sp.Poly(sp.nsimplify(law.polynomial, rational=True), G)
        deg = pg.degree()
        factors, roots = [], []
        for j in range(deg, -1, -1):
            cz = sp.Poly(pg.as_expr().coeff(G, j), z)
            if cz.is_zero:
                factors.append(sp.Integer(0))
                roots.append(np.empty(0, dtype=complex))
                continue
            factors.append(cz.LC() * s ** (cz.degree() - j))
            rts = cz.nroots(n=30, maxsteps=200) if cz.degree() >= 1 else []
            roots.append(np.array([complex((sp.N(r, 30) - c) / s) for r in rts], dtype=complex))
        big = max(abs(sp.N(f, 30)) for f in factors)
        self._lead = np.array([complex(sp.N(f / big, 30)) for f in factors])
        self._roots = roots
        self._deg = deg
        nm = max(8, 2 * len(law.branch_data) + 4)
        mom = [sp.Integer(1)] + [sp.sympify(m) for m in law.moments(nm)]
        # standardized moments E[((X - c)/s)^k]
        self._mom = np.array([float(sp.N(sum(sp.binomial(k, i) * mom[i] * (-c) ** (k - i) for i in range(k + 1))
                                              / s ** k, 30)) for k in range(nm + 1)])
        self._cands_exact = candidate_points(law)
        self._cands = np.array([(float(sp.N(v, 30)) - self._loc) / self._scale for v in self._cands_exact])
        self._height = 8.0 * (1.0 + max([0.0] + [abs(v) for v in self._cands]))
        # next to a pole (possible atom) two branches separate only like sqrt(z − a) relative to G;
        # the tracker follows (z − a)G, where they stay apart (_solve_fast): 8 steps per decade
        # suffice there as elsewhere (40 were used before, 4x the cost, and still swapped 1e-8 away)
        self._steps_per_decade = 8
        self._freeze()

    # -- the engine's interface ---------------------------------------------------------------
    def _frame(self):
        return self._loc, self._scale

    def _values(self, zs):
        """a_j(z~) for j = deg..0 (shape (n, deg+1), G^deg first), from the factored form."""
        return np.stack([lead * np.prod(zs[:, None] - r[None, :], axis=1) for lead, r in zip(self._lead, self._roots)],
                        axis=-1)

    def _residual(self, zs, u):
        g = u[:, 0]
        a = self._values(zs)
        powers = g[:, None] ** np.arange(self._deg, -1, -1)[None, :]
        p = (a * powers).sum(axis=1)
        scale = (np.abs(a) * np.abs(powers)).sum(axis=1)
        scale = np.where(scale > 0, scale, 1.0)
        k = np.arange(self._deg, 0, -1)
        dp = (a[:, :-1] * k[None, :] * g[:, None] ** (k[None, :] - 1)).sum(axis=1)
        return (p / scale)[:, None], (dp / scale)[:, None, None]

    def _all_roots(self, zs: np.ndarray) -> np.ndarray:
        """All roots in G~ at each point, shape (n, deg).

        Where the leading coefficient is small (near poles, where a root runs off to infinity) the
        companion matrix of the reversed polynomial, in H = 1/G, is used instead; a root at
        infinity comes out as ``inf`` and is never the nearest.
        """
        a = self._values(zs)
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

    def _start(self, zs):
        k = np.arange(len(self._mom))
        series = (self._mom[None, :] / zs[:, None] ** (k[None, :] + 1)).sum(axis=1)
        roots = self._all_roots(zs)
        i = np.argmin(np.abs(roots - series[:, None]), axis=1)
        return roots[np.arange(len(zs)), i][:, None]


    def _solve_fast(self, zs):
        """Root tracking along the vertical path (the law's own compiled-free path): all roots at
        each step, the one nearest the quadratic extrapolation of the path in log y is kept, so
        two pole branches c/z and c'/z that run off together next to an atom are never confused
        (a residual-decreasing Newton step may jump between them).

        The path is tracked in W = (z − a)G, a the real pole nearest to x (a root of the leading
        coefficient): next to a pole G ~ m/(z − a) varies like 1/y, and the two branches sharing the
        pole (m/(z − a) ± c/√(z − a) for free projections) are only ~√|z − a| apart relative to it,
        below the extrapolation's error ~(ln 10/40)³ once |z − a| ≲ 1e-7: the tracker swapped
        branches 1e-8 from the atom of Bern(½) ⊠ Bern(½).  In W the pole's residue is nearly
        constant and the branches stay O(√|z − a|) apart on a slowly varying W."""
        x, y = zs.real, zs.imag
        h = self._height
        top = x + 1j * np.maximum(y, h)
        g = self._start(top)[:, 0]
        low = y < h
        if np.any(low):
            xs, ys = x[low], y[low]
            lc = self._roots[0]
            poles = lc[np.abs(lc.imag) <= 1e-12 * (1.0 + np.abs(lc))].real
            if poles.size:
                a = poles[np.argmin(np.abs(xs[:, None] - poles[None, :]), axis=1)]
            else:
                a = np.full(xs.size, np.inf)
            pole = np.isfinite(a)
            cur_g = g[low].copy()
            hist = [np.where(pole, (xs + 1j * h - np.where(pole, a, 0.0)) * cur_g, cur_g)]
            nsteps = int(np.ceil(self._steps_per_decade * np.log10(h / ys.min()))) + 2
            idx = np.arange(len(xs))
            for tk in np.linspace(0.0, 1.0, nsteps + 1)[1:]:
                zk = xs + 1j * h * (ys / h) ** tk
                fac = np.where(pole, zk - np.where(pole, a, 0.0), 1.0)
                if len(hist) >= 3:
                    pred = 3 * hist[-1] - 3 * hist[-2] + hist[-3]
                elif len(hist) == 2:
                    pred = 2 * hist[-1] - hist[-2]
                else:
                    pred = hist[-1]
                roots = self._all_roots(zk)
                with np.errstate(invalid="ignore"):
                    w = roots * fac[:, None]
                d = np.abs(w - pred[:, None])
                d = np.where(np.isfinite(d), d, np.inf)
                k = np.argmin(d, axis=1)
                found = np.isfinite(roots[idx, k])
                cur_g = np.where(found, roots[idx, k], cur_g)
                hist = hist[-2:] + [np.where(found, w[idx, k], hist[-1])]
            g[low] = cur_g
        u = g[:, None]
        r, _ = self._residual(zs, u)
        res = np.abs(r[:, 0])
        ok = np.isfinite(res) & (res <= 1e3 * self.tol) & self._admissible(zs, u)
        return u, res, ok

    def _g(self, zs, u):
        return u[:, 0]

    def _residual_rounding(self, u):
        # the residual is P/Σ|terms|: its rounding is a few eps whatever |G~| (eps |G~| made the
        # density 1e-8 from the atom of Bern(½) ⊠ Bern(½), |G~| ~ 1e7, count as rounding noise)
        return np.full(u.shape[0], (self._deg + 1) * np.finfo(float).eps)

    def _admissible(self, zs, u):
        g = u[:, 0]
        return g.imag <= 1e-12 * (1.0 + np.abs(g))

    def _hull(self):
        pts = list(self._cands)
        if not pts:
            return (-np.inf, np.inf)
        lo, hi = min(pts), max(pts)
        pad = 1e-3 * max(hi - lo, 1.0)
        return (lo - pad, hi + pad)

    def _exact_atoms(self):
        pts, masses = [], []
        for a_exact, residues in _pole_residues(self.law):
            a = float(sp.N(a_exact, 30))
            if not residues:
                continue
            at = (a - self._loc) / self._scale
            y = 1e-10
            est = float((1j * y * self._g(np.array([at + 1j * y]), self._solve(np.array([at + 1j * y])))).real[0])
            best = min(residues, key=lambda r: abs(r - est))
            if abs(best - est) <= 1e-3 * max(abs(best), 1e-300) and best > 0:
                pts.append(a)
                masses.append(best)
        return np.array(pts), np.array(masses)

    def _moments(self, n):
        return np.array([float(sp.N(m)) for m in self.law.moments(n)])

    # -- compatibility --------------------------------------------------------------------
    @property
    def components(self) -> list:
        """Intervals where the density is positive (the engine's :attr:`intervals`)."""
        return list(self.intervals)

    def _contains(self, x: float) -> bool:
        """Whether x lies in the support (an interval or an atom)."""
        in_comp = any(lo <= x <= hi for lo, hi in self.intervals)
        return in_comp or bool(np.any(np.isclose(self.atoms[0], x, atol=1e-12)))

    def __repr__(self):
        return f"algebraic({self.law.name or self.law.polynomial})"


def _pole_residues(law: AlgebraicLaw):
    """``[(a, [residues])]`` for the real roots a of the leading coefficient of P in G (exact a;
    residues from the Newton polygon, module docstring)."""
    expr = sp.nsimplify(law.polynomial, rational=True)
    p = sp.Poly(expr, G)
    deg = p.degree()
    cj = [sp.Poly(p.as_expr().coeff(G, j), z) for j in range(deg + 1)]
    out = []
    lead = cj[deg]
    if lead.degree() < 1:
        return out
    for f, _ in sp.factor_list(lead.as_expr(), z)[1]:
        fp_ = sp.Poly(f, z)
        if fp_.degree() < 1:
            continue
        dfp = fp_.diff(z)
        for a in fp_.real_roots():
            nus, qs = [], []
            for j in range(deg + 1):
                q, nu = cj[j], 0
                if q.is_zero:
                    nus.append(None)
                    qs.append(None)
                    continue
                while True:
                    quo, rem = sp.div(q, fp_)
                    if not rem.is_zero:
                        break
                    q, nu = quo, nu + 1
                nus.append(nu)
                qs.append(q)
            orders = [(nu - j) if nu is not None else None for j, nu in enumerate(nus)]
            e = min(o for o in orders if o is not None)
            dom = [j for j, o in enumerate(orders) if o == e]
            if max(dom) == 0:
                out.append((a, []))
                continue
            # exact coefficients (algebraic numbers), roots at 40 digits: a double residue (two
            # branches sharing the pole) keeps ~20 correct digits instead of sqrt(eps)
            H = sp.Symbol("H")
            fa = dfp.as_expr().subs(z, a)
            dominant = sum(qs[j].as_expr().subs(z, a) * fa ** nus[j] * H ** j for j in dom)
            roots = sp.Poly(sp.expand(dominant), H).nroots(n=40, maxsteps=500)
            res = [float(sp.re(r)) for r in roots
                   if abs(sp.N(r, 40)) > 1e-30 and abs(sp.im(sp.N(r, 40))) <= 1e-25 * abs(sp.N(r, 40))]
            out.append((a, res))
    return out
