r"""Densities of algebraic laws: closed forms where the degree allows, exact support edges always.

On the real line :math:`\rho(x) = -\operatorname{Im} G(x + i0)/\pi`, and :math:`G(x+i0)` is a
non-real root of :math:`P(\cdot, x)` exactly where the density is positive.

* Degree 2, :math:`AG^2 + BG + C`: with :math:`\Delta = B^2 - 4AC`, the two roots are complex
  conjugate iff :math:`\Delta(x) < 0`, so
  :math:`\rho(x) = \sqrt{-\Delta(x)}/(2\pi|A(x)|)` where :math:`\Delta(x) < 0` and 0 elsewhere.
* Degree 3: a real cubic has a conjugate pair iff its discriminant is negative (outside the
  support this can also happen, on the two non-Cauchy roots, so for numeric parameters the
  condition is intersected with the exact support intervals; with symbolic parameters the formula
  holds on the support only); then, for the
  depressed cubic :math:`t^3 + pt + q` (:math:`G = t - b/(3a)`), Cardano's real cube roots
  :math:`u, v = \sqrt[3]{-q/2 \pm \sqrt{q^2/4 + p^3/27}}` give the pair
  :math:`-(u+v)/2 \pm i\frac{\sqrt3}{2}(u - v)`, so :math:`\rho = \frac{\sqrt3}{2\pi}|u - v|`.
* Higher degree: no formula; the density is evaluated by numeric branch tracking.

Support edges are the real roots of the discriminant of P in G at which the density switches
on or off; they are returned exactly (radicals or :class:`sympy.CRootOf`).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import sympy as sp

from .algebraic import G, AlgebraicLaw, z

__all__ = ["Density", "density", "support_edges", "x"]

#: The real variable of density formulas.
x = sp.Symbol("x", real=True)


def _formula(law: AlgebraicLaw, found: dict | None = None):
    """The density formula; exact edges computed on the way are left in ``found["edges"]``."""
    p = sp.Poly(law.polynomial.subs(z, x), G)
    deg = p.degree()
    if deg == 1:
        return sp.Integer(0)
    if deg == 2:
        a, b, c = p.all_coeffs()
        disc = sp.expand(b ** 2 - 4 * a * c)
        return sp.Piecewise((sp.sqrt(-disc) / (2 * sp.pi * sp.Abs(a)), disc < 0), (0, True))
    if deg == 3:
        a, b, c, d = p.all_coeffs()
        pp = sp.cancel((3 * a * c - b ** 2) / (3 * a ** 2))
        qq = sp.cancel((2 * b ** 3 - 9 * a * b * c + 27 * a ** 2 * d) / (27 * a ** 3))
        disc = sp.expand(b ** 2 * c ** 2 - 4 * a * c ** 3 - 4 * b ** 3 * d - 27 * a ** 2 * d ** 2 + 18 * a * b * c * d)
        root = sp.sqrt(qq ** 2 / 4 + pp ** 3 / 27)
        u = sp.real_root(-qq / 2 + root, 3)
        v = sp.real_root(-qq / 2 - root, 3)
        cond = disc < 0
        if not law.parameters:
            # outside the support G(x) is real but the two other roots may still be a conjugate
            # pair, so the discriminant alone does not locate the support: add the exact edges
            edges = support_edges(law)
            if found is not None:
                found["edges"] = edges
            cond = sp.And(cond, sp.Or(*[sp.And(x > lo, x < hi) for lo, hi in zip(edges[::2], edges[1::2])]))
        return sp.Piecewise((sp.sqrt(3) / (2 * sp.pi) * sp.Abs(u - v, evaluate=False), cond), (0, True))
    return None


class Density:
    """The density of an algebraic law.

    Attributes
    ----------
    law : AlgebraicLaw
    expr : sympy expression or None
        Piecewise formula in :data:`x` (degree <= 3), else ``None`` (numeric tracking is used).
    edges : list
        Exact support edges (computed on first access; numeric parameters only).
    atoms : tuple
        ``(points, masses)`` of the atoms, numerically (computed on first access).
    """

    def __init__(self, law: AlgebraicLaw, expr):
        self.law = law
        self.expr = expr

    @cached_property
    def edges(self) -> list:
        return support_edges(self.law)

    @cached_property
    def atoms(self) -> tuple:
        return self.law.to_numeric().atoms

    def __repr__(self) -> str:
        return f"Density({self.expr if self.expr is not None else self.law.equation()})"

    def __call__(self, xs, values: dict | None = None) -> np.ndarray:
        """Evaluate at real ``xs`` (float array); parameters substituted from ``values``."""
        xs = np.asarray(xs, dtype=float)
        if self.expr is not None:
            e = self.expr.subs(values or {})
            if e.free_symbols - {x}:
                raise ValueError(f"values must fix the parameters {sorted(map(str, e.free_symbols - {x}))}")
            # isolated real roots (exact edges) have no numpy counterpart: evaluate them to 30 digits
            e = e.replace(lambda a: isinstance(a, sp.CRootOf), lambda a: sp.Float(a.evalf(30), 30))
            f = sp.lambdify(x, e, modules=["numpy"])
            # numpy evaluates every branch of the Piecewise, also where it is not selected
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.broadcast_to(np.asarray(f(xs), dtype=float), xs.shape).copy()
            return np.where(np.isfinite(out), out, 0.0)
        law = self.law.subs(values) if values else self.law
        return law.to_numeric().pdf(xs)

    def latex(self) -> str:
        """LaTeX of the formula, or of the defining polynomial when there is none."""
        return sp.latex(self.expr) if self.expr is not None else sp.latex(self.law.equation())

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


def support_edges(law: AlgebraicLaw) -> list:
    """Exact endpoints of the intervals where the density is positive (numeric parameters): the real
    roots of the discriminant and of the leading coefficient of P in G that bound the intervals
    between consecutive candidates on which the tracked Cauchy branch has a resolved density
    (:func:`freeprob.high_precision.algebraic_support_edges`)."""
    if law.parameters:
        raise ValueError("support_edges needs numeric parameters; substitute them with law.subs({...})")
    from ..high_precision import algebraic_support_edges

    # the candidate intervals classified by tracking the Cauchy branch at their midpoints only (a few
    # points): the engine's grid of 2001 tracked points cost 5-20 s for a cubic with a pole
    return algebraic_support_edges(law)


def density(law: AlgebraicLaw) -> Density:
    """The :class:`Density` of ``law``: formula (degree <= 3), exact edges, atoms.

    >>> from freeprob.symbolic import semicircle
    >>> density(semicircle()).expr
    Piecewise((sqrt(4 - x**2)/(2*pi), x**2 < 4), (0, True))
    """
    found: dict = {}
    out = Density(law, _formula(law, found))
    if "edges" in found:
        out.__dict__["edges"] = found["edges"]     # the cached property, computed once (it costs seconds)
    return out
