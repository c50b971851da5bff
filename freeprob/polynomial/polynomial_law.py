r"""The law of a self-adjoint polynomial in free random variables, on the :class:`~freeprob.SolvedLaw` engine.

:func:`polynomial_law` first *standardizes*: every variable is written
:math:`x_j = m_j + s_j u_j` with :math:`(m_j, s_j)` its centre and scale, and the polynomial
:math:`p = c + s\,\tilde p` with :math:`(c, s)` the exact mean and standard deviation of p
(exact rational moments from the free cumulants, :mod:`.nc_moments`).  The standardized
polynomial :math:`\tilde p(u)` has coefficients of order one whatever the scale of the inputs, so
every tolerance of the engine is relative and the law of :math:`a\,p + b` (or of p in variables
scaled by a) is the affine image of the law of p for any representable a.

:math:`\tilde p` is linearized (:mod:`.linearization`) into a self-adjoint pencil
:math:`L = a_0 + \sum_j a_j u_j` and

.. math:: \tilde G(\tilde z) = \bigl[G_L(\operatorname{diag}(\tilde z, 0, \dots, 0))\bigr]_{11},

a fixed point stated exactly at the regulariser 0 (:mod:`.pencil_systems`): the
operator-valued semicircle equation when every variable is semicircular, matrix-valued
subordination otherwise; both with exact Jacobians.  The engine continues the fixed point from
:math:`i\infty`, solves it *on* the real axis for the density, finds the support's edges where its
Jacobian is singular and computes the cdf by a contour integral of G.

Atoms are exact (:mod:`.atoms`): a rank computation over the linearization
(Shlyakhtenko–Skoufranis for non-atomic inputs: none; Arizmendi–Cébron–Speicher–Yin otherwise).
"""
from __future__ import annotations

import math
import warnings
from fractions import Fraction
from functools import cached_property
from typing import Mapping

import numpy as np
import sympy

from ..affine import AffineLaw, affine
from ..law import Law, _check_order
from ..laws import Semicircle
from ..solved import ConvergenceError, SolvedLaw, location_scale
from .atoms import exact_atoms
from .linearization import Pencil, linearize
from .nc_moments import polynomial_moments
from .pencil_systems import SemicircularSystem, SubordinationSystem
from .variables import poly_to_words, words_to_sympy

__all__ = ["PolynomialLaw", "polynomial_law", "ConvergenceError", "ConvergenceWarning"]


class ConvergenceWarning(RuntimeWarning):
    """A fixed point did not converge at some points of a grid (kept for compatibility)."""


def _is_semicircular(law: Law) -> bool:
    return isinstance(law, Semicircle) or (isinstance(law, AffineLaw) and isinstance(law.base, Semicircle))


def _substitute(words: dict, loc: list[float], scale: list[float]) -> dict:
    """Words of p(m + s u) in the variables u (floats): expand every letter x_i = m_i + s_i u_i."""
    out: dict[tuple, float] = {}
    for w, c in words.items():
        terms = {(): float(c)}
        for i in w:
            nxt: dict[tuple, float] = {}
            for t, v in terms.items():
                if loc[i] != 0.0:
                    nxt[t] = nxt.get(t, 0.0) + v * loc[i]
                nxt[t + (i,)] = nxt.get(t + (i,), 0.0) + v * scale[i]
            terms = nxt
        for t, v in terms.items():
            out[t] = out.get(t, 0.0) + v
    return {w: c for w, c in out.items() if c != 0.0}


class PolynomialLaw(SolvedLaw):
    """Spectral law of a self-adjoint polynomial in free variables (see the module docstring).

    Attributes
    ----------
    polynomial : sympy.Expr
        The polynomial.
    pencil : Pencil
        The verified self-adjoint linearization of the polynomial; ``pencil.size`` is its size.
    std_pencil : Pencil
        The linearization of the standardized polynomial the solver uses.
    solver : str
        ``"semicircular"`` (Helton–Rashidi Far–Speicher) or ``"subordination"`` (Belinschi–Mai–Speicher).
    """

    name = "polynomial_law"
    #: edge-bracketing grid (the engine's default is 2001): one operator-valued solve per point is
    #: ~10x the cost of a scalar one; gaps narrower than ~1/800 of the norm-bound hull are not seen
    grid_size = 801

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
        if not any(len(w) for w in self.words):
            raise ValueError(f"p = {p} is constant; its law is the point mass fp.atoms([{p}])")
        self.pencil: Pencil = linearize(p, variables)  # validates self-adjointness, verified
        # -- standardization: variables, then the polynomial ------------------------------------
        frames = [location_scale(l) for l in self.laws]
        self._var_loc = [float(c) for c, _ in frames]
        self._var_scale = [float(s) for _, s in frames]
        self.std_laws = tuple(Semicircle() if _is_semicircular(l) else affine(l, 1.0 / s, -c / s)
                              for l, (c, s) in zip(self.laws, frames))
        wu = _substitute(self.words, self._var_loc, self._var_scale)
        big = max(abs(c) for w, c in wu.items() if w)
        wu = {w: c / big for w, c in wu.items()}
        deg = max(len(w) for w in wu)
        cum = [l.free_cumulants(max(2 * deg, 1)) if not isinstance(l, Semicircle) else [0.0, 1.0] + [0.0] * (2 * deg)
               for l in self.std_laws]
        m1, m2 = polynomial_moments(wu, cum, 2)
        var = m2 - m1 * m1
        if var <= 0:
            raise ValueError(f"p = {p} is almost surely constant for these laws (variance 0)")
        sd = math.sqrt(float(var))
        self._loc = big * float(m1)
        self._scale = big * sd
        if not (np.isfinite(self._loc) and np.isfinite(self._scale) and self._scale > 0):
            raise ValueError(f"the centre and scale of p = {p} are not representable ({self._loc}, {self._scale})")
        self.std_words = {w: ((c - float(m1)) if not w else c) / sd for w, c in wu.items()}
        if () not in self.std_words and m1 != 0:
            self.std_words[()] = -float(m1) / sd
        self.std_pencil: Pencil = linearize(words_to_sympy(self.std_words, variables), variables)
        self.solver = "semicircular" if all(isinstance(l, Semicircle) for l in self.std_laws) else "subordination"
        if self.solver == "semicircular":
            self._system = SemicircularSystem(self.std_pencil.a0, self.std_pencil.a)
        else:
            self._system = SubordinationSystem(self.std_pencil.a0, self.std_pencil.a, self.std_laws)
        norms = [max(abs(a), abs(b)) for a, b in (l.support for l in self.std_laws)]
        self._std_bound = sum(abs(c) * float(np.prod([norms[i] for i in w])) for w, c in self.std_words.items() if w)
        self._freeze()

    # -- the engine's interface --------------------------------------------------------------
    def _frame(self):
        return self._loc, self._scale

    def _start(self, z):
        return self._system.start(z)

    def _residual(self, z, u):
        return self._system.residual(z, u)

    def _g(self, z, u):
        return self._system.g(z, u)

    def _admissible(self, z, u):
        # on the physical branch Im G <= 0 (resp. Im ω >= 0) as matrices
        return self._system.admissible(z, u) & (self._system.g(z, u).imag <= 1e-12 * (1 + np.abs(z)))

    def _solve(self, z):
        # Polynomial laws have interior points where the density is infinite (x³ and x·y·x at 0,
        # like |t|^{-2/3}); there |G~| grows without bound as Im z -> 0 and the continuation stalls
        # at a height where |G~| is already > 1e2 (x·y·x: ~300 at 0, where G~(iy) ~ y^(-1/2); a
        # standardized law's |G~| is O(1) at a regular point).  Such a point, or an exact atom, is
        # returned with the state reached (an infinite density stays "inside"; the axis Newton
        # does not certify it); any other failure raises.
        z = np.ascontiguousarray(np.atleast_1d(z), dtype=np.complex128)
        u, res, ok = self._solve_raw(z)
        if not np.all(ok):
            bad = np.flatnonzero(~ok)
            with np.errstate(all="ignore"):
                g = self._system.g(z[bad], u[bad])
            singular = (res[bad] <= 1e3 * self.tol) & (np.abs(g) > 1e2) & np.isfinite(g)
            # at an atom (exact, known) G~ ~ w/(z~ - a~): the engine never uses the value there
            pa, _ = self._std_atoms()
            if len(pa):
                singular |= np.min(np.abs(z[bad, None].real - pa[None, :]), axis=1) <= 1e-9
            ok[bad[singular]] = True
        if not np.all(ok):
            i = int(np.argmax(np.where(ok, -1.0, np.where(np.isfinite(res), res, np.inf))))
            c, s = self.frame
            raise ConvergenceError(
                f"{self.name}: the fixed-point system did not converge at z = {c + s * z[i]!r} "
                f"(residual {res[i]:.3g}, tolerance {self.tol:.1g})", point=c + s * z[i], residual=float(res[i]))
        return u

    def _hull(self):
        c = float(self.std_words.get((), 0.0))
        return (c - self._std_bound, c + self._std_bound)

    def _exact_atoms(self):
        pts, w = exact_atoms(self.std_pencil, self.std_words, self.std_laws)
        pts = self._loc + self._scale * pts
        # an atom at 0 (kernels: x·d·x, PQ + QP) is exactly 0, not the rounding of loc + scale·(-loc/scale)
        return np.where(np.abs(pts) <= 1e-12 * self._scale, 0.0, pts), w

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

    def ac_mass(self) -> float:
        """Mass of the absolutely continuous part, integrated from the density (:meth:`check_mass`)."""
        return self.check_mass() - float(self.atoms[1].sum())

    def solver_moments(self, n: int, nodes: int = 128) -> np.ndarray:
        """Moments recomputed from the solver: trapezoid rule for the contour integral
        :math:`m_k = \\frac{1}{2\\pi}\\int_0^{2\\pi} (Re^{i\\theta})^{k+1} G(Re^{i\\theta})\\,d\\theta`
        on a circle around the support."""
        n = _check_order(n)
        a, b = self._hull()
        c, s = self.frame
        R = 1.5 * s * max(abs(a), abs(b), 1e-3)
        th = 2 * np.pi * (np.arange(nodes // 2) + 0.5) / nodes  # upper half; conjugate symmetry gives the rest
        w = c + R * np.exp(1j * th)
        g = self._cauchy(w)
        k = np.arange(1, n + 1)
        # moments about the centre c, then the binomial shift back
        mc = np.real(((w - c)[None, :] ** (np.arange(0, n + 1)[:, None] + 1) * g[None, :]).mean(axis=1))
        from math import comb

        return np.array([sum(comb(j, i) * mc[i] * c ** (j - i) for i in range(j + 1)) for j in k])

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
