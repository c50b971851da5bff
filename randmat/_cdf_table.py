r"""A fast distribution function for laws whose ``cdf`` is only available by per-point quadrature.

The base :class:`freeprob.Law` computes :math:`F(x)` with one adaptive quadrature of the density per
point, about 10 ms each; a KS distance over 2000 eigenvalues, or 2000 quantiles by bisection, then
takes seconds to minutes. For such laws (those not overriding ``_cdf``), :math:`F` is tabulated
once: the absolutely continuous part is integrated on the substitution
:math:`x = \tfrac{a+b}{2} - \tfrac{b-a}{2}\cos\theta`, under which the square-root edges of free
laws become smooth (:math:`\rho(x)\,dx/d\theta = O(\theta^2)`), by cumulative Simpson on
``nodes`` equispaced :math:`\theta`; the total is renormalised to the mass of the absolutely
continuous part and the atoms are added as exact jumps. Between nodes :math:`F` is linear. At the
default 4001 nodes the error is about :math:`10^{-7}` when the density lives on the whole hull
and about :math:`10^{-5}` when it has an interior edge (Marchenko–Pastur with an atom at 0, whose
edge :math:`a > 0` is not a node cluster); both are far below Monte-Carlo KS distances (the
tests check it against mpmath quadrature).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.integrate import cumulative_simpson

__all__ = ["fast_cdf", "fast_ppf", "has_quadrature_cdf"]


def has_quadrature_cdf(law) -> bool:
    """True when ``law`` relies on the generic per-point quadrature ``Law._cdf``."""
    try:
        from freeprob.law import Law
    except ImportError:  # pragma: no cover
        return False
    return isinstance(law, Law) and type(law)._cdf is Law._cdf and np.all(np.isfinite(law.support))


def _table(law, nodes: int):
    a, b = (float(v) for v in law.support)
    theta = np.linspace(0.0, np.pi, nodes)
    x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(theta)
    integrand = np.asarray(law.pdf(x), dtype=float) * 0.5 * (b - a) * np.sin(theta)
    c = cumulative_simpson(integrand, x=theta, initial=0.0)
    c = np.maximum.accumulate(np.maximum(c, 0.0))
    pts, mass = (np.asarray(v, dtype=float) for v in law.atoms)
    ac = 1.0 - float(mass.sum()) if len(mass) else 1.0
    if c[-1] > 0:
        c *= ac / c[-1]
    return x, c, pts, mass


def fast_cdf(law, nodes: int = 4001) -> Callable[[np.ndarray], np.ndarray]:
    """``law.cdf`` itself, or a tabulated version of it when the law only has a quadrature cdf."""
    if not has_quadrature_cdf(law):
        return law.cdf
    x, c, pts, mass = _table(law, nodes)

    def cdf(t):
        t = np.asarray(t, dtype=float)
        out = np.interp(t, x, c, left=0.0, right=c[-1])
        if len(pts):
            out = out + (mass[None, :] * (pts[None, :] <= t.reshape(-1, 1))).sum(axis=1).reshape(t.shape)
        return np.clip(out, 0.0, 1.0)

    return cdf


def fast_ppf(law, q: np.ndarray, nodes: int = 4001) -> np.ndarray:
    """``law.ppf(q)``, or the inverse of the tabulated cdf (atoms exact) for quadrature-cdf laws."""
    if not has_quadrature_cdf(law):
        return np.asarray(law.ppf(q), dtype=float)
    x, c, pts, mass = _table(law, nodes)
    cdf = fast_cdf(law, nodes)
    # one monotone table of (x, F(x)) with every atom present twice, as (p, F(p-)) and (p, F(p)):
    # the smallest x with F(x) >= q is then found by one search and one linear interpolation,
    # and lands exactly on p for every q inside the jump
    xs = np.concatenate([x, pts, pts])
    fs = np.concatenate([cdf(x), cdf(pts) - mass, cdf(pts)])
    order = np.lexsort((fs, xs))
    xs, fs = xs[order], np.maximum.accumulate(fs[order])
    q = np.asarray(q, dtype=float)
    j = np.clip(np.searchsorted(fs, q, side="left"), 1, len(fs) - 1)
    f0, f1, x0, x1 = fs[j - 1], fs[j], xs[j - 1], xs[j]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(f1 > f0, (q - f0) / (f1 - f0), 1.0)
    return x0 + np.clip(t, 0.0, 1.0) * (x1 - x0)
