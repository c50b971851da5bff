r"""The distribution function of a solver law from its density, tabulated once with controlled error.

The engine's cdf (:meth:`freeprob.SolvedLaw._cdf`) integrates :math:`G` up a vertical ray above every
point: ~300 solves a point, exact, and cheap for a law whose solve is compiled or one-dimensional.  A
law whose solve costs milliseconds a point (a system of hundreds of unknowns, such as the
pre-activation ResNet law of :mod:`nn_spectra.resnet_pre`) needs the cdf at many points from far fewer
solves.  :class:`DensityTableCdf` gives it, for a :class:`~freeprob.SolvedLaw` subclass, from the
density on the real axis alone:

* on each support interval :math:`[u, v]` (standardized), :math:`x = u + r(1-\cos\theta)`,
  :math:`r = (v-u)/2`, so that the integrand :math:`\rho(x)\,r\sin\theta` is smooth at square-root
  and inverse-square-root ends;
* :math:`\theta\in[0,\pi]` is cut into Gauss–Legendre panels (20 nodes) graded toward both ends, and
  a panel is halved until the sums over its halves agree with its own to
  :math:`10^{-14} + 10^{-13}|\cdot|`, panels holding at most 1e-15 kept as they are — one rule,
  :class:`ThetaPanels`, with :meth:`~freeprob.SolvedLaw.check_mass`;
* inside a panel :math:`F` is the integral of the Legendre interpolant of the integrand through its
  20 nodes (a polynomial of degree 19 in :math:`\theta`), so the table's error between panel ends is
  that of the panel's own sum: no second interpolation (the linear or PCHIP interpolation of
  :math:`F` between table points that it replaces was off by 3.3e-4 with 401 Simpson points).

The table is built on first use (one batch of density points per refinement level, in increasing
order: a law with a sweep along the axis warm-starts them) and its total is
:attr:`DensityTableCdf.total_mass`, 1 up to the quadrature error when the density is right.  It does
not replace the check: :meth:`~freeprob.SolvedLaw.check_mass` and the contour cdf are the
independent routes the tests compare it with.

A law with a singular point on a support interval — an atom at its end, a point inside where the
density is infinite (:meth:`~freeprob.SolvedLaw._singular_points`) — keeps the engine's contour cdf:
there the density cannot be certified close enough for any quadrature.  Atoms away from the
intervals add their jumps.
"""
from __future__ import annotations

from functools import cached_property, lru_cache

import numpy as np

from .solved import SolvedLaw

__all__ = ["DensityTableCdf", "ThetaPanels"]

_ORDER = 20


def _legendre_values(t: np.ndarray, n: int) -> np.ndarray:
    """P_0..P_n at t (shape (..., n + 1)) by the three-term recurrence."""
    t = np.asarray(t, dtype=float)
    out = np.empty(t.shape + (n + 1,))
    out[..., 0] = 1.0
    if n >= 1:
        out[..., 1] = t
    for k in range(1, n):
        out[..., k + 1] = ((2 * k + 1) * t * out[..., k] - k * out[..., k - 1]) / (k + 1)
    return out


@lru_cache(maxsize=None)
def _gauss(order: int):
    """Gauss–Legendre nodes, weights and the map from values at the nodes to the Legendre
    coefficients of their interpolant: c_k = (2k+1)/2 Σ_i w_i P_k(t_i) f_i."""
    t, w = np.polynomial.legendre.leggauss(order)
    to_coef = (_legendre_values(t, order - 1) * w[:, None]) * ((2 * np.arange(order) + 1) / 2.0)[None, :]
    return t, w, to_coef


def _antiderivative(c: np.ndarray, t: np.ndarray) -> np.ndarray:
    """∫_{-1}^t Σ_k c_k P_k (rows of c against t): P_0 ↦ t + 1, P_k ↦ (P_{k+1} − P_{k−1})/(2k+1)."""
    n = c.shape[1]
    P = _legendre_values(t, n)
    k = np.arange(1, n)
    out = c[:, 0] * (t + 1.0)
    out += (c[:, 1:] * (P[:, k + 1] - P[:, k - 1]) / (2 * k + 1)).sum(axis=1)
    return out


class ThetaPanels:
    r"""The density of a law integrated over one standardized interval :math:`[u, v]` by adaptive
    Gauss–Legendre panels in :math:`\theta`, :math:`x = u + r(1-\cos\theta)`, :math:`r = (v-u)/2`:
    the one adaptive rule of :meth:`freeprob.SolvedLaw.check_mass` and :class:`DensityTableCdf`.

    The integrand :math:`\rho(x(\theta))\,r\sin\theta` is smooth at square-root and
    inverse-square-root ends.  :math:`[0, \pi]` starts as panels graded toward both ends (down to
    :math:`10^{-7}\pi`); each level halves every panel and keeps, as its two halves, a panel whose
    halves' sums agree with its own to ``atol + rtol |sum|``; a panel holding at most ``tiny`` of mass
    is kept as it is (the graded end panels, whose nodes come within ~1e-14 of an edge where the
    density is at rounding); after ``levels`` levels the remaining panels are kept as they are (the
    total then shows the defect).  The density is called once per level, on the level's nodes in
    increasing order of x (a law with a sweep along the axis warm-starts them).

    Attributes: ``a, b`` (panel ends in θ, sorted), ``values`` (the integrand at each panel's nodes,
    shape (panels, order)), ``x`` (the nodes in x, same shape), ``weights`` (their quadrature
    weights in θ), ``total`` (the integral).  Calling the object gives :math:`\mu_{ac}([u, x])`
    through the Legendre interpolant of each panel's nodes."""

    def __init__(self, u: float, v: float, density, order: int = _ORDER, atol: float = 1e-14,
                 rtol: float = 1e-13, tiny: float = 1e-15, levels: int = 30):
        self.u, self.v, self.r = float(u), float(v), 0.5 * (float(v) - float(u))
        self.order = int(order)
        t, w, self._to_coef = _gauss(self.order)
        g = np.geomspace(1e-7, 0.5, 9) * np.pi
        br = np.unique(np.concatenate([[0.0], g, np.pi - g[::-1], [np.pi]]))
        a_, b_ = br[:-1], br[1:]
        f = self._values(a_, b_, density)
        whole = self._sums(a_, b_, f)
        done_a, done_b, done_f = [], [], []
        for _level in range(levels):
            small = np.abs(whole) <= tiny
            done_a.append(a_[small])
            done_b.append(b_[small])
            done_f.append(f[small])
            a_, b_, f, whole = a_[~small], b_[~small], f[~small], whole[~small]
            if a_.size == 0:
                break
            m_ = 0.5 * (a_ + b_)
            fh = self._values(np.concatenate([a_, m_]), np.concatenate([m_, b_]), density)
            sums = self._sums(np.concatenate([a_, m_]), np.concatenate([m_, b_]), fh)
            n = a_.size
            two = sums[:n] + sums[n:]
            ok = np.abs(two - whole) <= atol + rtol * np.abs(two)
            # a converged panel is kept as its two halves (their interpolants are the finer ones)
            done_a += [a_[ok], m_[ok]]
            done_b += [m_[ok], b_[ok]]
            done_f += [fh[:n][ok], fh[n:][ok]]
            keep = ~ok
            a_ = np.concatenate([a_[keep], m_[keep]])
            b_ = np.concatenate([m_[keep], b_[keep]])
            f = np.concatenate([fh[:n][keep], fh[n:][keep]])
            whole = np.concatenate([sums[:n][keep], sums[n:][keep]])
        done_a.append(a_)
        done_b.append(b_)
        done_f.append(f)
        a_, b_ = np.concatenate(done_a), np.concatenate(done_b)
        f = np.concatenate(done_f).reshape(a_.size, self.order)
        order = np.argsort(a_)
        self.a, self.b, self.values = a_[order], b_[order], f[order]
        th = self._theta(self.a, self.b)
        self.x = self._x(th)
        self.weights = 0.5 * (self.b - self.a)[:, None] * w[None, :]
        mass = (self.values * self.weights).sum(axis=1)
        self.before = np.concatenate([[0.0], np.cumsum(mass)[:-1]])
        self.total = float(mass.sum())

    @cached_property
    def coef(self) -> np.ndarray:
        """Legendre coefficients of each panel's interpolant, shape (panels, order)."""
        return self.values @ self._to_coef

    def _theta(self, a_, b_):
        t = _gauss(self.order)[0]
        return 0.5 * (a_ + b_)[:, None] + 0.5 * (b_ - a_)[:, None] * t[None, :]

    def _x(self, th):
        # x = u + r(1 − cos θ) without cancellation at either end
        return np.where(th < 0.5 * np.pi, self.u + 2 * self.r * np.sin(0.5 * th) ** 2,
                        self.v - 2 * self.r * np.cos(0.5 * th) ** 2)

    def _values(self, a_, b_, density):
        """The integrand ρ(x(θ)) r sin θ at the Gauss nodes of the panels, shape (panels, order)."""
        th = self._theta(a_, b_)
        xs = self._x(th).ravel()
        order = np.argsort(xs, kind="stable")
        d = np.empty(xs.size)
        d[order] = density(xs[order])
        return (d * self.r * np.sin(th.ravel())).reshape(th.shape)

    def _sums(self, a_, b_, f):
        return 0.5 * (b_ - a_) * (f @ _gauss(self.order)[1])

    def integral(self, g) -> float:
        """∫_u^v g(x) ρ(x) dx on the same nodes (``g`` vectorised over standardized x)."""
        return float((self.values * self.weights * np.asarray(g(self.x), dtype=float)).sum())

    def __call__(self, xs: np.ndarray) -> np.ndarray:
        """μ_ac([u, x]) for standardized x (0 below u, the total above v)."""
        xs = np.asarray(xs, dtype=float)
        out = np.where(xs >= self.v, self.total, 0.0)
        inside = np.flatnonzero((xs > self.u) & (xs < self.v))
        if inside.size:
            x = xs[inside]
            left = x - self.u <= self.v - x
            with np.errstate(invalid="ignore"):
                th = np.where(left, 2 * np.arcsin(np.sqrt(np.clip((x - self.u) / (2 * self.r), 0, 1))),
                              np.pi - 2 * np.arcsin(np.sqrt(np.clip((self.v - x) / (2 * self.r), 0, 1))))
            k = np.clip(np.searchsorted(self.a, th, side="right") - 1, 0, self.a.size - 1)
            t = np.clip((2 * th - self.a[k] - self.b[k]) / (self.b[k] - self.a[k]), -1.0, 1.0)
            out[inside] = self.before[k] + 0.5 * (self.b[k] - self.a[k]) * _antiderivative(self.coef[k], t)
        return out


class DensityTableCdf:
    """Mixin for a :class:`~freeprob.SolvedLaw` subclass: the cdf from a table of the density on
    adaptive Gauss–Legendre panels (module docstring), built on first use.

    Put it before :class:`~freeprob.SolvedLaw` among the bases
    (``class MyLaw(DensityTableCdf, SolvedLaw)``).  The table uses the law's axis density
    (:meth:`~freeprob.SolvedLaw._axis_density`, the hook a law with its own axis solve overrides) and
    its support intervals; the atoms add their jumps as in the engine.
    """

    @cached_property
    def _density_tables(self) -> tuple:
        if not isinstance(self, SolvedLaw):
            raise TypeError("DensityTableCdf is a mixin for freeprob.SolvedLaw subclasses")
        return tuple(ThetaPanels(u, v, self._axis_density) for u, v in self._std_intervals)

    def expect(self, g) -> float:
        r"""Expectation :math:`\int g\,d\mu` on the table's nodes plus the atoms: the moments of the
        tabulated law, e.g. against exact moments known without the solver (``g`` vectorised over
        the law's own, not standardized, coordinates).

        The same panels as :attr:`total_mass` (``expect(lambda x: np.ones_like(x))`` is it)."""
        c, s = self.frame
        out = sum(t.integral(lambda xs: g(c + s * xs)) for t in self._density_tables)
        pts, w = self.atoms
        if len(w):
            out += float((np.asarray(g(pts), dtype=float) * w).sum())
        return float(out)

    @property
    def total_mass(self) -> float:
        """Atoms plus the table's integral of the density over the support (1 up to the quadrature
        error, 1e-13 per panel, when the density is right)."""
        return float(self.atoms[1].sum()) + sum(t.total for t in self._density_tables)

    def _cdf(self, x):
        # a singular point on an interval (an atom at its end, an infinite density inside): the
        # density cannot be certified next to it, the contour cdf can
        sing = np.asarray(self._singular_points(), dtype=float)
        if sing.size and any(np.any((sing >= u - 1e-12 * (1 + abs(u))) & (sing <= v + 1e-12 * (1 + abs(v))))
                             for u, v in self._std_intervals):
            return super()._cdf(x)
        x = np.asarray(x, dtype=float)
        xs = self._to_std(x)
        out = np.zeros(x.shape)
        for t in self._density_tables:
            out += t(xs)
        pts, w = self.atoms
        if len(w):
            out += (w[None, :] * (pts[None, :] <= x[:, None])).sum(axis=1)
        return out
