r"""The law of a self-adjoint polynomial in free random variables.

:func:`polynomial_law` linearizes ``p`` (:mod:`.linearization`), then evaluates

.. math:: G_p(z) = \lim_{\varepsilon\downarrow 0}\bigl[G_L(\Lambda_\varepsilon(z))\bigr]_{11},
          \qquad \Lambda_\varepsilon(z) = \operatorname{diag}(z, i\varepsilon, \dots, i\varepsilon),

with the operator-valued semicircle fixed point (:mod:`.semicircular_ov`, numba) when every
variable is semicircular and with matrix-valued subordination (:mod:`.ov_subordination`) otherwise.
We use :math:`\varepsilon = 10^{-10}\,B` with B a bound on the norm of p; the error this leaves is
:math:`O(\varepsilon)` because the Schur complement of :math:`\Lambda_\varepsilon - L` is
:math:`z - p + i\varepsilon\, r Q^{-2} r^* + O(\varepsilon^2)`.

The density is :math:`-\operatorname{Im} G_p(x + i\varepsilon)/\pi`; moments are exact
(:mod:`.nc_moments`, from the variables' free cumulants) and :meth:`PolynomialLaw.solver_moments`
recomputes them from the solver by the contour integral
:math:`m_k = \frac{1}{2\pi}\int_0^{2\pi} (Re^{i\theta})^{k+1} G_p(Re^{i\theta})\,d\theta`.
Atoms: a polynomial in free semicirculars has none (Mai–Speicher–Weber 2017); otherwise
candidates are the peaks of :math:`-y\operatorname{Im}G_p(x+iy)` on a grid, and a mass is
:math:`\lim_{y\downarrow0} -y\operatorname{Im} G_p(a+iy)`, extrapolated quadratically from three heights.
"""
from __future__ import annotations

import warnings
from fractions import Fraction
from functools import cached_property
from typing import Mapping

import numpy as np
import sympy

from ..law import Law, _check_order, tabulated_cdf
from ..laws import Semicircle
from .linearization import Pencil, linearize
from .nc_moments import polynomial_moments
from .ov_subordination import MatrixVariable, solve_subordination
from .semicircular_ov import solve_semicircular
from .variables import poly_to_words

__all__ = ["PolynomialLaw", "polynomial_law", "ConvergenceError", "ConvergenceWarning"]


class ConvergenceError(ValueError):
    """The matrix-valued fixed point did not converge at some point."""


class ConvergenceWarning(RuntimeWarning):
    """The matrix-valued fixed point did not converge at some density grid points."""


class PolynomialLaw(Law):
    """Spectral law of a self-adjoint polynomial in free variables (see the module docstring).

    Attributes
    ----------
    pencil : Pencil
        The verified self-adjoint linearization; ``pencil.size`` is its size.
    solver : str
        ``"semicircular"`` (Helton–Rashidi Far–Speicher) or ``"subordination"`` (Belinschi–Mai–Speicher).
    """

    name = "polynomial_law"
    _RES_TOL = 1e-9

    def __init__(self, p, laws: Mapping):
        if not isinstance(laws, Mapping):
            raise ValueError("laws must be a mapping {variable: Law}")
        for v, law in laws.items():
            if not isinstance(v, sympy.Symbol) or v.is_commutative:
                raise ValueError(f"laws keys must be variables from free_variables(), got {v!r}")
            if not isinstance(law, Law):
                raise ValueError(f"the law of {v} must be a freeprob Law, got {law!r}")
        p = sympy.sympify(p)
        syms = sorted((s for s in p.free_symbols), key=str)
        comm = [str(s) for s in syms if s.is_commutative]
        if comm:
            raise ValueError(f"{', '.join(comm)}: commutative symbols in a polynomial; variables must come "
                             "from free_variables()")
        missing = [str(s) for s in syms if s not in laws]
        if missing:
            raise ValueError(f"variable(s) {', '.join(missing)} have no law; give one in laws")
        variables = tuple(syms)
        for v in variables:
            a, b = laws[v].support
            if not (np.isfinite(a) and np.isfinite(b)):
                raise ValueError(f"the law of {v} must have bounded support for the solver, got [{a}, {b}]")
        self.polynomial = sympy.expand(p)
        self.variables = variables
        self.laws = tuple(laws[v] for v in variables)
        self.words = poly_to_words(p, variables)
        self.pencil: Pencil = linearize(p, variables)
        self.solver = "semicircular" if all(isinstance(l, Semicircle) for l in self.laws) else "subordination"
        norms = [max(abs(a), abs(b)) for a, b in (l.support for l in self.laws)]
        bound = sum(abs(float(c)) * float(np.prod([norms[i] for i in w])) for w, c in self.words.items())
        self._bound = max(bound, 1e-12)
        self._eps = 1e-10 * max(self._bound, 1.0)
        self._freeze()

    # -- solver ----------------------------------------------------------------------
    def _solve(self, x: np.ndarray, y: np.ndarray, eps: float):
        """``(G_11, residual)`` at ``Λ = diag(x + i y, i eps, ...)``."""
        x = np.ascontiguousarray(np.asarray(x, dtype=float).ravel())
        y = np.ascontiguousarray(np.broadcast_to(np.asarray(y, dtype=float), x.shape).copy())
        top = 10.0 * max(self._bound, 1.0)
        pen = self.pencil
        if self.solver == "semicircular":
            a0 = pen.a0.astype(complex)
            A = []
            for law, a in zip(self.laws, pen.a):
                a0 = a0 + law.mean * a
                A.append(np.sqrt(law.var) * a)
            heights = np.geomspace(top, min(eps, float(y.min())), 25)
            G, r = solve_semicircular(np.ascontiguousarray(a0), np.ascontiguousarray(np.array(A, dtype=complex)),
                                      x, y, float(eps), heights, 1e-13)
        else:
            mv = [MatrixVariable(a, law) for a, law in zip(pen.a, self.laws)]
            G, r = solve_subordination(pen.a0, mv, x, y, float(eps), top)
        return G[:, 0, 0], r

    def _checked(self, x, y, eps, *, warn: bool, mask: bool = False):
        g, r = self._solve(x, y, eps)
        bad = ~np.isfinite(g) | ~(r <= self._RES_TOL)
        if mask:
            return g, ~bad
        if np.any(bad):
            i = int(np.argmax(np.where(np.isfinite(r), r, np.inf)))
            msg = (f"{self.solver} fixed point for {self.polynomial} did not converge at "
                   f"z = {complex(x[i], y[i])!r} (relative residual {r[i]:.3g}); {int(bad.sum())} of {len(bad)} points")
            if not warn or not np.all(np.isfinite(g)):
                raise ConvergenceError(msg)
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        return g

    def _cauchy(self, z):
        z = np.asarray(z, dtype=complex)
        shape = z.shape
        z = z.ravel()
        y = np.where(z.imag > 0, z.imag, 1e-13 * self._bound)
        eps = min(self._eps, float(y.min()))
        # G(eps) = G(0) + c eps + O(eps²): Richardson removes the regulariser's first-order error
        g = 2 * self._checked(z.real, y, eps, warn=False) - self._checked(z.real, y, 2 * eps, warn=False)
        g = np.where(z.imag > 0, g, g.real)
        return g.reshape(shape)

    # -- support and atoms -----------------------------------------------------------
    @cached_property
    def atoms(self):
        if self.solver == "semicircular":
            # nonconstant polynomials in free semicirculars have no atoms (Mai–Speicher–Weber 2017)
            return np.empty(0), np.empty(0)
        # heights stay >= 0.5% of the norm bound: closer to an atom the subordination
        # Newton iteration loses its basin (see the report of known limitations)
        B = self._bound
        y0 = 2e-2 * B
        xs = np.linspace(-B, B, 201)
        m = -y0 * self._checked(xs, np.full(xs.shape, y0), 1e-4 * y0, warn=False).imag
        cand = [i for i in range(1, len(xs) - 1) if m[i] >= m[i - 1] and m[i] >= m[i + 1] and m[i] > 0.05]
        pts, mass = [], []
        for i in cand:
            # refine the location on a local grid, then extrapolate the mass linearly to y = 0
            loc = np.linspace(xs[i - 1], xs[i + 1], 41)
            ml = -y0 * self._checked(loc, np.full(loc.shape, y0), 1e-4 * y0, warn=False).imag
            a = float(loc[np.argmax(ml)])
            # second pass at a quarter of the height: less bias from a density next to the atom
            y3 = 0.25 * y0
            loc = np.linspace(a - y0, a + y0, 81)
            ml = -y3 * self._checked(loc, np.full(loc.shape, y3), 1e-4 * y3, warn=False).imag
            a = float(loc[np.argmax(ml)])
            if abs(a) < 1e-3 * (xs[1] - xs[0]):
                a = 0.0
            # m(y) = -y Im G(a + iy) = mass + c1 y + c2 y² (c1 = π ρ(a), c2 from a density gap):
            # quadratic extrapolation from three heights
            ys = np.array([1e-2, 7e-3, 5e-3]) * B
            g = self._checked(np.full(3, a), ys, 1e-4 * ys[-1], warn=False)
            ms = -ys * g.imag
            m0 = float(np.polyfit(ys, ms, 2)[-1])
            m1, m2 = ms[0], ms[-1]
            # an atom keeps m(y) nearly constant; a density peak gives m ∝ y, a 1/sqrt edge m ∝ sqrt(y)
            # (ratio 0.5 and 0.71 for the heights used)
            if m0 > 1e-3 and m2 > 0.8 * m1:
                pts.append(a)
                mass.append(float(m0))
        return np.array(pts), np.array(mass)

    @cached_property
    def _ac_hull(self):
        B = self._bound
        xs = np.linspace(-B, B, 1601)
        d, ok = self._raw_pdf(xs, mask=True)
        # points where the solver failed (next to atoms) do not decide where the density lives
        d = np.where(ok, d, 0.0)
        pos = np.where(d > 1e-7 * max(d.max(), 1e-300))[0]
        if not len(pos):
            return None
        lo, hi = xs[max(pos[0] - 1, 0)], xs[min(pos[-1] + 1, len(xs) - 1)]
        # zoom twice on each edge
        for _ in range(2):
            step = xs[1] - xs[0]
            xl = np.linspace(lo, lo + 2 * step, 201)
            xh = np.linspace(hi - 2 * step, hi, 201)
            (dl, okl), (dh, okh) = self._raw_pdf(xl, mask=True), self._raw_pdf(xh, mask=True)
            dl, dh = np.where(okl, dl, 0.0), np.where(okh, dh, 0.0)
            thr = 1e-7 * max(d.max(), 1e-300)
            lo = xl[max(np.argmax(dl > thr) - 1, 0)]
            hi = xh[min(len(xh) - 1 - np.argmax(dh[::-1] > thr) + 1, len(xh) - 1)]
            xs = xl
        return float(lo), float(hi)

    @cached_property
    def support(self):
        pts, _ = self.atoms
        hull = self._ac_hull
        ends = ([] if hull is None else list(hull)) + list(pts)
        if not ends:
            raise ConvergenceError(f"could not locate the support of {self.polynomial}")
        return (float(min(ends)), float(max(ends)))

    # -- densities -------------------------------------------------------------------
    def _raw_pdf(self, x, mask: bool = False):
        eps = self._eps
        g, ok = self._checked(x, np.full(np.shape(x), eps), eps, warn=True, mask=True)
        dens = -g.imag / np.pi
        if self.solver == "subordination":
            # laws with atoms are possible here: an atom of mass w adds w·eps/(π d²) at distance d,
            # linear in eps, so the Richardson combination 2ρ(eps) - ρ(2 eps) removes it without
            # locating the atom or using its (estimated) mass; it also removes the O(eps) smoothing
            g2, ok2 = self._checked(x, np.full(np.shape(x), 2 * eps), 2 * eps, warn=True, mask=True)
            dens = 2 * dens + g2.imag / np.pi
            ok &= ok2
        if not np.all(ok):
            i = int(np.argmax(~ok))
            warnings.warn(f"{self.solver} fixed point for {self.polynomial} did not converge at "
                          f"{int((~ok).sum())} of {len(ok)} points, e.g. x = {x[i]!r}; their density is unreliable",
                          ConvergenceWarning, stacklevel=3)
        dens = np.maximum(dens, 0.0)
        return (dens, ok) if mask else dens

    def _pdf(self, x):
        # no support scan here: outside the support the boundary values are ~eps-small anyway
        out = self._raw_pdf(x)
        # the density is not defined at an atom; zero it there once the atoms are known
        # (computing them is expensive and not needed elsewhere in the density)
        pts, _ = self.__dict__.get("atoms", (np.empty(0), None))
        if len(pts):
            out = np.where(np.isin(x, pts), 0.0, out)
        return out

    @cached_property
    def _cdf_table(self):
        hull = self._ac_hull
        if hull is None:
            return np.array([0.0, 1.0]), np.array([0.0, 0.0])
        a, b = hull
        t = np.linspace(0, np.pi, 2001)
        x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(t)
        d, ok = self._raw_pdf(x, mask=True)
        d = np.where(ok, d, 0.0)  # non-converged points (next to atoms) were reported by a warning
        # trapezoid in θ of ρ(x(θ)) x'(θ): spectrally accurate for square-root edges
        f = d * 0.5 * (b - a) * np.sin(t)
        c = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(t))])
        return x, c

    def ac_mass(self) -> float:
        """Mass of the absolutely continuous part, integrated from the density (not renormalised)."""
        return float(self._cdf_table[1][-1])

    def _cdf(self, x):
        return tabulated_cdf(x, self._cdf_table, self.atoms)

    # -- moments ---------------------------------------------------------------------
    def exact_moments(self, n: int) -> list[Fraction]:
        """``φ(p), ..., φ(p^n)`` as exact rationals from the variables' free cumulants."""
        n = _check_order(n)
        deg = max((len(w) for w in self.words), default=0)
        order = max(n * deg, 1)
        cum = [law.free_cumulants(order) for law in self.laws]
        return polynomial_moments(self.words, cum, n)

    def _moments(self, n):
        return np.array([float(m) for m in self.exact_moments(n)])

    def solver_moments(self, n: int, nodes: int = 128) -> np.ndarray:
        """Moments recomputed from the solver: trapezoid rule for the contour integral on a circle."""
        n = _check_order(n)
        R = 1.5 * max(self._bound, 1e-3)
        th = 2 * np.pi * (np.arange(nodes // 2) + 0.5) / nodes  # upper half; conjugate symmetry gives the rest
        z = R * np.exp(1j * th)
        g = self._cauchy(z)
        k = np.arange(1, n + 1)
        # mean over the full circle of z^{k+1} G(z) = Re of the mean over the upper half
        return np.real((z[None, :] ** (k[:, None] + 1) * g[None, :]).mean(axis=1))

    def __repr__(self):
        args = ", ".join(f"{v}={l!r}" for v, l in zip(self.variables, self.laws))
        return f"poly({self.polynomial}, {args})"


def polynomial_law(p, laws: Mapping) -> PolynomialLaw:
    """Law of the self-adjoint polynomial ``p`` in free variables with the given laws.

    Parameters
    ----------
    p : sympy.Expr
        Polynomial in variables from :func:`freeprob.polynomial.free_variables`, real coefficients.
    laws : mapping
        ``{variable: Law}`` for every variable of ``p``; the laws need bounded support.

    Examples
    --------
    >>> import freeprob as fp
    >>> from freeprob.polynomial import free_variables, polynomial_law
    >>> x, y = free_variables("x y")
    >>> mu = polynomial_law(x*y + y*x, {x: fp.semicircle(), y: fp.semicircle()})
    >>> mu.moments(4).round(12).tolist()
    [0.0, 2.0, 0.0, 10.0]
    >>> mu.pencil.size
    3
    """
    return PolynomialLaw(p, laws)
