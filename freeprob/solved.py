r"""One engine for laws defined by a fixed-point system.

Free convolutions (subordination), free powers, Fuss–Catalan, polynomial laws (operator-valued
subordination), numeric algebraic laws and the deep-network laws of :mod:`nn_spectra` (Jacobian,
conditional Fisher) all define their Cauchy transform the same way: a state :math:`u(z)\in\mathbb C^m`
solves :math:`F(z, u) = 0` and :math:`G(z) = g(z, u(z))`, on the branch that behaves like
:math:`G\sim 1/z` at :math:`i\infty`.  :class:`SolvedLaw` is the base class of all of them.  A subclass
states its system; the engine owns, once for every law:

Standardized coordinates.
    The subclass works in :math:`\tilde z = (z - c)/s` with :math:`(c, s)` from :meth:`SolvedLaw._frame`
    (by default mean and standard deviation).  :math:`G(z) = \tilde G(\tilde z)/s`,
    :math:`\rho(x) = \tilde\rho(\tilde x)/s`.  Every tolerance, height and threshold below is a number
    of order one in these units, so results are invariant under :math:`x\mapsto ax+b` for any
    representable :math:`a` (1e-300 … 1e300).

Continuation from :math:`i\infty`.
    :meth:`_solve` starts at :math:`\tilde x + iH` (:math:`H` large, where :meth:`_start` is accurate)
    and walks down to the target height with guarded Newton steps (a step is taken only if it
    reduces the residual and stays on the physical branch, :meth:`_admissible`); the height ratio
    per step adapts (shrinks where Newton fails, grows where it is easy).  Points are independent,
    so the whole batch is vectorised.

The real axis.
    :meth:`_axis` continues to a tiny height and then applies Newton with :math:`\operatorname{Im} z = 0`
    exactly: inside the support this converges to the boundary value :math:`u(x + i0)` (the system is
    analytic in :math:`z`); outside, to the real solution.  The density is
    :math:`-\operatorname{Im}\tilde G(\tilde x + i0)/\pi`, with no smoothing.

Support edges.
    On the axis, an edge is where the real branch folds: :math:`F(x, u) = 0` and
    :math:`\det \partial_u F(x, u) = 0`.  A grid brackets the edges (the density test; the bracket
    moves only onto points whose axis state is certified), and the real branch is followed from the
    certified outside point by pseudo-arclength continuation in :math:`(x, u)` to its turning point
    (:math:`dx/ds = 0`), which gives each edge to rounding; Newton on the augmented system and
    bisection are the fallbacks.  Interior gaps are found and the support is exact, not a hull.

Atoms.
    Never extrapolated: a subclass states them by exact rules (:meth:`_exact_atoms`:
    Bercovici–Voiculescu, rank arguments).

Distribution function.
    Exact from :math:`G` by a contour integral: for the absolutely continuous part of mass
    :math:`m_{ac}` and any real :math:`c`,

    .. math:: \mu_{ac}((x,\infty)) = m_{ac}\,\mathbf 1[c > x]
              - \frac1\pi\operatorname{Im}\int_0^\infty
              \Bigl[G_{ac}(x+iy) - \frac{m_{ac}}{x + iy - c}\Bigr]\,i\,dy,

    (integrate :math:`\log(x-t)` along the vertical ray), computed by Gauss–Legendre in
    :math:`\log y`, with the atoms' poles removed analytically and added back as jumps.  It needs no
    density quadrature, so singular edges (the :math:`x^{-L/(L+1)}` of deep products) cost nothing
    extra.  :meth:`check_mass` integrates the density over the intervals and adds the atoms, an
    independent check of total mass 1.

Errors.
    :class:`ConvergenceError` (a ``ValueError``) with the point and the residual.
"""
from __future__ import annotations

import math
from functools import cached_property


import numpy as np

from .law import Law, as_real_array

__all__ = ["SolvedLaw", "ConvergenceError", "location_scale"]


class ConvergenceError(ValueError):
    """A fixed-point solver did not converge; ``point`` and ``residual`` say where and how badly."""

    def __init__(self, message: str, point=None, residual=None):
        super().__init__(message)
        self.point = point
        self.residual = residual


def location_scale(law: Law) -> tuple[float, float]:
    """``(centre, scale)`` of a law without overflow: affine images compose the base's frame,
    solver laws report their frame, other laws use mean and standard deviation (or the support's
    half-width for a point mass)."""
    from .affine import AffineLaw

    if isinstance(law, AffineLaw):
        c0, s0 = location_scale(law.base)
        return law.c * c0 + law.b, abs(law.c) * s0
    if isinstance(law, SolvedLaw):
        return law.frame
    m = law.moments(2)
    mean = float(m[0])
    var = float(m[1] - m[0] ** 2)
    s = math.sqrt(var) if var > 0 else 0.0
    if not (s > 1e-13 * abs(mean)) or not np.isfinite(s):
        a, b = law.support
        s = 0.5 * (b - a) if np.isfinite(b - a) and b > a else 0.0
    if not (s > 0):
        s = abs(mean) if mean != 0 else 1.0
    return mean, s


# Gauss–Legendre panels in t = log y for the contour cdf: y from 1e-15 to 1e12 (standardized units);
# measured on the semicircle: 3e-14 (324 nodes), against 1e-10 with the top at 1e8
def _log_height_rule(lo: float = -15.0, hi: float = 12.0, panel: float = 1.0, order: int = 12):
    edges = np.arange(lo, hi + 1e-9, panel) * math.log(10.0)
    t, wt = np.polynomial.legendre.leggauss(order)
    a, b = edges[:-1, None], edges[1:, None]
    nodes = (0.5 * (a + b) + 0.5 * (b - a) * t).ravel()
    weights = (0.5 * (b - a) * wt).ravel()
    y = np.exp(nodes)
    order_ = np.argsort(-y)                       # from the top down: continuation order
    return y[order_], (weights * y)[order_]       # dy = y dt


_CDF_Y, _CDF_W = _log_height_rule()
_Y_FLOOR = 1e-15
#: |z~| beyond which G~ is the moment series (:meth:`SolvedLaw._far_field`)
_FAR = 1e6


class SolvedLaw(Law):
    r"""Base class of laws whose Cauchy transform is defined by a fixed-point system.

    A subclass states the system in standardized coordinates (module docstring) by implementing

    ``_start(z) -> u``
        the state, shape ``(n, m)`` complex, for points ``z`` (shape ``(n,)``) far up in C⁺
        (``Im z >= 10`` standardized units), on the branch with :math:`G\sim 1/z`;
    ``_residual(z, u) -> (r, J)``
        :math:`F(z, u)` of shape ``(n, m)`` and :math:`\partial_u F` of shape ``(n, m, m)``; it must
        accept real ``z`` (the axis Newton) and be scaled so that ``|r|`` of order 1e-12 means
        converged;
    ``_g(z, u) -> G``
        the standardized Cauchy transform, shape ``(n,)``;
    ``_exact_atoms()``
        ``(points, masses)`` in the law's own (not standardized) coordinates, by exact rules;
    ``_hull()``
        a bound ``(a, b)`` of the standardized support (``±inf`` allowed);
    ``_moments(n)``
        exact moments;

    and optionally ``_frame()`` (default: mean and standard deviation), ``_admissible(z, u)``
    (physical branch), ``_dz(z, u) -> (dF/dz, dg/dz, dg/du)`` for exact derivatives, and
    ``_solve_fast(z) -> (u, residual, ok)`` for a compiled solver.

    Further hooks a subclass may override (all in standardized coordinates; the laws of
    ``nn_spectra`` use them), each keeping the contract of the base method:

    ``_axis(x) -> (u, exact)``
        states on the real axis and whether the axis Newton certified them (a law with a compiled
        axis solve, or one that needs more heights near its own singular points);
    ``_axis_g(x) -> (u, exact, G)``
        the same with G (when the axis solve has G already);
    ``_axis_seed(x0)``
        a warm-start state near ``x0`` (from the certified states remembered so far);
    ``_axis_density(x, classify=False)``
        the density on the axis (``classify=True``: only certified, resolved values count);
    ``_resolved(x, u, d, g)``
        which densities are above the rounding of the system at their states;
    ``_edge(x_out, x_in)``
        the support edge between an outside and an inside point (a law with edges known in closed
        form, or at its atoms);
    ``_singular_points()``
        points where the density may be infinite (0 for product laws): the contour cdf goes down
        relative to the distance to them, and :meth:`check_mass` takes a window there from the
        contour;
    ``_residual_rounding(u)``
        the rounding of the residual at a state, for the certificate of :meth:`_resolved`.

    A subclass with its own solve strategy builds it from the engine's public steps (standardized
    coordinates): :meth:`continue_from_infinity`, :meth:`newton_refine`, :meth:`axis_limit` and
    :meth:`bracket_edge`.
    """

    #: points of the grid that brackets the support's edges (per unit of standardized hull)
    grid_size: int = 2001
    #: Newton tolerance on the residual (standardized units)
    tol: float = 1e-12
    #: standardized density below which a point counts as outside the support
    density_floor: float = 1e-12
    #: 8-section rounds that bracket an edge before the fold Newton (3: 2e-3 of a grid step)
    EDGE_ROUNDS: int = 3

    # ------------------------------------------------------------------ subclass interface
    def _frame(self) -> tuple[float, float]:
        m = self.moments(2)
        var = float(m[1] - m[0] ** 2)
        return float(m[0]), math.sqrt(var) if var > 0 else 1.0

    def _start(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _residual(self, z: np.ndarray, u: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def _g(self, z: np.ndarray, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _exact_atoms(self):
        return np.empty(0), np.empty(0)

    def _hull(self) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _admissible(self, z: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.ones(z.shape, dtype=bool)

    def _solve_fast(self, z: np.ndarray):
        return None

    def _project(self, u: np.ndarray) -> np.ndarray:
        """Map a state onto the closure of the physical branch (used by the plain axis Newton steps)."""
        return u

    # ------------------------------------------------------------------ extension API
    # Public building blocks for a subclass with its own solve strategy (a sweep along the axis, a
    # quasi-Newton method, edges by bisection): each is the engine's own step, so a state it
    # accepts meets the same tolerance as one the engine computes itself.

    def continue_from_infinity(self, z):
        r"""States at standardized points of the upper half-plane by continuation from far above.

        For each point :math:`\tilde z = x + iy` (``z``: 1-D complex, :math:`y > 0`; :math:`y` as
        small as 1e-15 is fine), the state is started at :math:`x + iH`,
        :math:`H = 10(1 + |x|)` (or at :math:`\tilde z` if higher) from :meth:`_start`, and followed
        down the vertical to :math:`\tilde z` by guarded Newton steps (:meth:`newton_refine`) with an
        adaptive height ratio.  No compiled path is used and nothing is raised.

        Returns ``(u, residual, ok)``: the states (shape ``(n, m)``), the residual norms at the last
        height reached, and whether the point itself was reached with the residual within
        ``10 tol`` on the physical branch.

        >>> import numpy as np, freeprob as fp
        >>> law = fp.boxplus(fp.semicircle(), fp.semicircle())   # standardized: semicircle(1)
        >>> u, res, ok = law.continue_from_infinity(np.array([0.5 + 1j]))
        >>> bool(ok[0]), bool(res[0] <= law.tol)
        (True, True)
        """
        z = np.ascontiguousarray(np.atleast_1d(z), dtype=np.complex128)
        return self._continue(z)

    def newton_refine(self, z, u, iters: int = 30):
        r"""Guarded Newton on :math:`F(\tilde z, \cdot) = 0` from the states ``u`` at the standardized
        points ``z`` (1-D complex, upper half-plane).

        A step is accepted only if it lowers the residual norm and keeps the state on the physical
        branch (:meth:`_admissible`); otherwise it is halved, up to 12 times.  Points stop at the
        tolerance :attr:`tol`; at most ``iters`` steps.  A warm start (the state of a nearby point)
        usually converges in 2-4 steps.  Returns ``(u, residual)``; converged where
        ``residual <= tol``.

        >>> import numpy as np, freeprob as fp
        >>> law = fp.boxplus(fp.semicircle(), fp.semicircle())
        >>> u, _, _ = law.continue_from_infinity(np.array([0.5 + 1j]))
        >>> v, res = law.newton_refine(np.array([0.52 + 1j]), u)    # warm start from a neighbour
        >>> bool(res[0] <= law.tol)
        True
        """
        z = np.ascontiguousarray(np.atleast_1d(z), dtype=np.complex128)
        return self._newton(z, u, iters=iters)

    def axis_limit(self, x, u):
        r"""Boundary values on the real axis: Newton with :math:`\operatorname{Im}\tilde z = 0` at the
        standardized real points ``x`` from the states ``u`` just above them (heights
        :math:`\lesssim 10^{-15}`, e.g. from :meth:`continue_from_infinity`).

        Inside the support this converges to :math:`u(x + i0)`, outside to the real solution; the
        steps are plain (unguarded: near an edge the residual is at rounding before the state is).
        Returns ``(u_axis, certified)``: ``certified`` where the residual is at rounding, the state
        is the limit of ``u`` (no jump to another branch) and :math:`G` is on the physical side
        (:meth:`_axis_certified`).  The law's compiled axis Newton is used if it has one.

        >>> import numpy as np, freeprob as fp
        >>> law = fp.boxplus(fp.semicircle(), fp.semicircle())
        >>> x = np.array([0.5, 3.0])                  # inside and outside the support [-2, 2]
        >>> u, _, _ = law.continue_from_infinity(x + 1e-15j)
        >>> ua, certified = law.axis_limit(x, u)
        >>> certified.tolist()
        [True, True]
        """
        x = np.ascontiguousarray(np.atleast_1d(x), dtype=np.float64)
        return self._axis_newton(x, np.asarray(u, dtype=np.complex128), _Y_FLOOR)

    def bracket_edge(self, x_out: float, x_in: float, rounds: int = 14, rtol: float = 1e-10):
        r"""Shrink a bracket of a support edge by 8-section rounds.

        ``x_out`` is a standardized point outside the support, ``x_in`` one inside.  Each round
        classifies 7 equally spaced points between them at once (density of the axis state, counted
        inside only where certified and above the rounding of the system) and keeps the last point
        not inside before the first point inside; rounds stop when the bracket is narrower than
        ``rtol (1 + |x_out|)``, after ``rounds`` rounds, or at a round that would move ``x_out``
        across points none of which is certified outside (such rounds walk toward the last point
        certified inside and do not locate the edge).  Returns the new ``(x_out, x_in)``; each round
        divides the width by 8.

        >>> import numpy as np, freeprob as fp
        >>> law = fp.boxplus(fp.semicircle(), fp.semicircle())
        >>> o, i = law.bracket_edge(2.5, 1.5)          # the standardized edge is 2
        >>> bool(i < 2 <= o and o - i < 1e-9)
        True
        """
        return self._bracket(float(x_out), float(x_in), int(rounds), float(rtol), stop_unknown=True)

    # ------------------------------------------------------------------ frame
    @cached_property
    def frame(self) -> tuple[float, float]:
        """``(centre, scale)`` of the standardized coordinates: :math:`\\tilde x = (x - c)/s`."""
        c, s = self._frame()
        c, s = float(c), float(s)
        if not (np.isfinite(c) and np.isfinite(s) and s > 0):
            raise ValueError(f"{self!r}: the law's centre and scale are not finite ({c!r}, {s!r})")
        return c, s

    def _to_std(self, z):
        c, s = self.frame
        return (z - c) / s

    def _from_std(self, x):
        c, s = self.frame
        return c + s * x

    # ------------------------------------------------------------------ Newton
    def _rnorm(self, r, u):
        # each equation relative to its own unknown (a subclass whose residual components are not
        # paired with unknowns overrides this)
        if not r.shape[1]:
            return np.zeros(r.shape[0])
        with np.errstate(all="ignore"):
            if r.shape == u.shape:
                return np.max(np.abs(r) / (1.0 + np.abs(u)), axis=1)
            return np.max(np.abs(r), axis=1) / (1.0 + np.max(np.abs(u), axis=1))

    def _newton(self, z: np.ndarray, u: np.ndarray, iters: int = 30, axis: bool = False):
        """Guarded Newton on F(z, ·) from ``u``; returns ``(u, residual norm)``.

        A step is accepted if it reduces the residual and (off the axis) stays admissible; else it
        is halved (up to 2⁻²⁰).  Vectorised: only unconverged points are iterated.
        """
        u = np.array(u, dtype=np.complex128, copy=True)
        with np.errstate(all="ignore"):
            r, J = self._residual(z, u)
        nr = self._rnorm(r, u)
        nr = np.where(np.isfinite(nr), nr, np.inf)
        act = np.flatnonzero(nr > self.tol)
        for _ in range(iters):
            if act.size == 0:
                break
            with np.errstate(all="ignore"):
                try:
                    step = np.linalg.solve(J[act], -r[act][..., None])[..., 0]
                except np.linalg.LinAlgError:
                    step = np.stack([_lstsq(J[i], -r[i]) for i in act])
            bad = ~np.all(np.isfinite(step), axis=1)
            step[bad] = 0.0
            lam = np.ones(act.size)
            todo = np.arange(act.size)
            newr = r[act].copy()
            newJ = J[act].copy()
            newu = u[act].copy()
            newn = nr[act].copy()
            progressed = np.zeros(act.size, dtype=bool)
            for _h in range(12):
                if todo.size == 0:
                    break
                cand = u[act[todo]] + lam[todo, None] * step[todo]
                zc = z[act[todo]]
                with np.errstate(all="ignore"):
                    rc, Jc = self._residual(zc, cand)
                    nc = self._rnorm(rc, cand)
                ok = np.isfinite(nc) & (nc < nr[act[todo]])
                if not axis:
                    ok &= self._admissible(zc, cand)
                acc = todo[ok]
                newu[acc], newr[acc], newJ[acc], newn[acc] = cand[ok], rc[ok], Jc[ok], nc[ok]
                progressed[acc] = True
                todo = todo[~ok]
                lam[todo] *= 0.5
            u[act], r[act], J[act], nr[act] = newu, newr, newJ, newn
            act = act[progressed & (nr[act] > self.tol)]
        return u, nr

    # ------------------------------------------------------------------ continuation
    def _solve(self, z: np.ndarray) -> np.ndarray:
        """State at standardized points ``z`` (1-D, Im z > 0); :class:`ConvergenceError` otherwise."""
        z = np.ascontiguousarray(np.atleast_1d(z), dtype=np.complex128)
        u, res, ok = self._solve_raw(z)
        ok = ok | (np.isfinite(res) & (res <= 100 * self.tol) & self._admissible(z, u))
        if not np.all(ok):
            i = int(np.argmax(np.where(ok, -1.0, np.where(np.isfinite(res), res, np.inf))))
            c, s = self.frame
            raise ConvergenceError(
                f"{self.name}: the fixed-point system did not converge at z = {c + s * z[i]!r} "
                f"(residual {res[i]:.3g}, tolerance {self.tol:.1g})", point=c + s * z[i], residual=float(res[i]))
        return u

    def _solve_raw(self, z: np.ndarray):
        """(u, residual, ok) without raising: the compiled path if any, else :meth:`_continue`."""
        fast = self._solve_fast(z)
        if fast is not None:
            u, res, ok = fast
            if np.all(ok):
                return u, res, ok
            # the generic continuation retries what the compiled path could not do
            bad = np.flatnonzero(~ok)
            u2, r2, ok2 = self._continue(z[bad])
            u = u.copy()
            u[bad[ok2]] = u2[ok2]
            res = res.copy()
            res[bad] = np.where(ok2, r2, np.minimum(res[bad], r2))
            ok = ok.copy()
            ok[bad] = ok2
            return u, res, ok
        return self._continue(z)

    def _continue(self, z: np.ndarray):
        """Adaptive continuation in Im z from far above each point down to it (vectorised)."""
        x, yt = z.real, z.imag
        n = z.size
        y = np.maximum(10.0 * (1.0 + np.abs(x)), yt)
        u = self._start(x + 1j * y)
        u, nr = self._newton(x + 1j * y, u, iters=50)
        ok = (nr <= self.tol) & self._admissible(x + 1j * y, u)
        ratio = np.full(n, 0.2)
        live = ok & (y > yt)
        for _ in range(80):
            idx = np.flatnonzero(live)
            if idx.size == 0:
                break
            ynew = np.maximum(yt[idx], y[idx] * ratio[idx])
            zn = x[idx] + 1j * ynew
            un, rn = self._newton(zn, u[idx], iters=8)
            good = (rn <= self.tol) & self._admissible(zn, un)
            gi = idx[good]
            y[gi], u[gi] = ynew[good], un[good]
            ratio[gi] = np.maximum(ratio[gi] ** 1.5, 1e-3)
            bi = idx[~good]
            ratio[bi] = np.sqrt(ratio[bi])
            dead = bi[ratio[bi] > 0.999]
            ok[dead] = False
            live = ok & (y > yt)
        ok &= y <= yt
        zf = x + 1j * y
        u, nr = self._newton(zf, u, iters=30)
        # rounding in the residual itself can sit just above tol next to a singular edge
        ok &= (nr <= 10 * self.tol) & self._admissible(zf, u)
        return u, nr, ok

    # ------------------------------------------------------------------ the real axis
    def _axis(self, x: np.ndarray):
        """(state at x + i0, exact) for standardized real ``x``: continuation to a tiny height, then
        Newton on the axis itself, iterated to rounding; ``exact`` is False where the axis Newton did
        not converge to the limit of the solutions above it (the value at the lowest height is
        returned there).  Points close to an atom or an edge (closer than the height) are taken
        further down first, to heights 1e-20 … 1e-35."""
        x = np.ascontiguousarray(np.atleast_1d(x), dtype=np.float64)
        z0 = x + 1j * _Y_FLOOR
        fast = self._solve_fast(z0)
        if fast is not None:
            # the state at the floor only seeds the axis Newton, which polishes it and decides
            # exactness: a compiled solve that stalled at 1e-6 near an edge is good enough here
            # (where it failed outright, the axis Newton is still tried from it and marks the point
            # inexact if it does not converge: the generic continuation would cost seconds here)
            u, res, _ = fast
            rough = ~(np.isfinite(res) & (res <= 1e-6) & self._admissible(z0, u))
            if np.any(rough) and rough.sum() > 0.05 * rough.size:
                u = np.array(u, copy=True)
                u[rough] = self._solve(z0[rough])
        else:
            u = self._solve(z0)
        ua, exact = self._axis_newton(x, u, _Y_FLOOR)
        for y in (1e-22, 1e-30):
            bad = np.flatnonzero(~exact)
            if bad.size == 0:
                break
            # a retry is worth a compiled solve only: the generic continuation to 1e-30 costs
            # hundreds of steps for what is at most a point next to an edge or an atom
            fast = self._solve_fast(x[bad] + 1j * y)
            if fast is None:
                if y < 1e-25:
                    break
                ub, okb = self._solve_raw(x[bad] + 1j * y)[::2]
            else:
                ub, okb = fast[0], fast[2]
            if not np.any(okb):
                continue
            sel = bad[okb]
            ua_s, ex_s = self._axis_newton(x[sel], ub[okb], y)
            u[sel] = ub[okb]
            ua[sel] = ua_s
            exact[sel] = ex_s
        return np.where(exact[:, None], ua, u), exact

    def _axis_g(self, x: np.ndarray):
        """``(u, exact, G)`` at standardized real ``x``: :meth:`_axis` and G from its states (a law
        whose axis solve already has G may return it without another evaluation)."""
        u, exact = self._axis(x)
        return u, exact, self._g(x + 0j, u)

    def _axis_fast(self, x: np.ndarray, u: np.ndarray):
        """Optional compiled :meth:`_axis_newton`: ``(u_axis, exact)`` or None."""
        return None

    def _axis_newton(self, x, u, y):
        fast = self._axis_fast(x, u)
        if fast is not None:
            return fast
        return self._axis_newton_numpy(x, u, y)

    def _axis_newton_numpy(self, x, u, y):
        # Plain (unguarded) Newton steps: near an edge the system is nearly singular, so the
        # residual at the height-y solution is already at rounding level while the state is still
        # O(y/sqrt(d)) away from the boundary value; only the step, not the residual, sees that.
        z = x + 0j
        ua = np.array(u, copy=True)
        with np.errstate(all="ignore"):
            for _ in range(4):
                r, J = self._residual(z, ua)
                try:
                    step = np.linalg.solve(J, -r[..., None])[..., 0]
                except np.linalg.LinAlgError:
                    step = np.stack([_lstsq(J[i], -r[i]) for i in range(len(J))])
                good = np.all(np.isfinite(step), axis=1)
                ua[good] = self._project(ua[good] + step[good])
            certified = self._axis_certified(z, ua, u)
        return ua, certified

    #: a residual is at rounding up to this factor above :meth:`_residual_floor`
    ROUNDING_FACTOR: float = 4.0
    #: residual norm below which an axis state counts as at rounding without measuring the floor
    AXIS_RESIDUAL: float = 1e-13
    #: residual norm above which it never does
    AXIS_RESIDUAL_MAX: float = 1e-10

    def _axis_certified(self, z: np.ndarray, ua: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Which axis states ``ua`` at real ``z`` are certified: residual at rounding, the limit of the
        states ``u`` just above (no jump to another branch) and G on the physical side.

        "At rounding" is relative to the state: a residual norm up to :attr:`AXIS_RESIDUAL` always
        is; one up to :attr:`AXIS_RESIDUAL_MAX` is where it stays within :attr:`ROUNDING_FACTOR` of
        :meth:`_residual_floor`, the change of the residual when the state moves by two ulps.  A
        system whose evaluation loses digits at some states (the polynomial laws' G_X(ω)^{-1}
        through an eigendecomposition next to an atom: converged states of P Q + Q P at -0.0144
        kept residuals of 1-2e-13, and the absolute 1e-13 left 14 of 25 points uncertified and cut a
        spurious gap) is certified there, and a state off by more than rounding is not."""
        with np.errstate(all="ignore"):
            r, _ = self._residual(z, ua)
            nr = self._rnorm(r, ua)
            exact = np.isfinite(nr) & (nr <= self.AXIS_RESIDUAL)
            cand = np.flatnonzero(np.isfinite(nr) & ~exact & (nr <= self.AXIS_RESIDUAL_MAX))
            if cand.size:
                floor = self._residual_floor(z[cand], ua[cand], r[cand])
                exact[cand] = nr[cand] <= self.ROUNDING_FACTOR * floor
            near = np.max(np.abs(ua - u), axis=1) <= 1e-3 * (1.0 + np.max(np.abs(u), axis=1))
            g = self._g(z, ua)
            physical = g.imag <= 1e-9 * np.abs(g)
        return exact & near & physical

    def _residual_floor(self, z: np.ndarray, u: np.ndarray, r: np.ndarray) -> np.ndarray:
        """The rounding level of the residual norm at states ``u`` (whose residuals are ``r``): the
        larger change of the residual (in :meth:`_rnorm`) when every component of the state moves
        by two ulps, in two opposite sign patterns.  It is ~eps |∂_u F| |u| plus the rounding of
        the evaluation itself, so it scales with the state and the system's conditioning.  (The
        change, not the residual of the moved state, which is never below the state's own.)"""
        eps2 = 2.0 * np.finfo(float).eps
        sgn = np.where(np.arange(u.shape[1]) % 2 == 0, 1.0, -1.0)[None, :]
        floor = np.zeros(u.shape[0])
        with np.errstate(all="ignore"):
            for s_ in (sgn, -sgn):
                up = u.real * (1.0 + eps2 * s_) + 1j * u.imag * (1.0 - eps2 * s_)
                rp, _ = self._residual(z, up)
                floor = np.maximum(floor, self._rnorm(rp - r, up))
        return np.where(np.isfinite(floor), floor, 0.0)

    def _axis_density(self, x: np.ndarray, classify: bool = False) -> np.ndarray:
        """Standardized density at standardized real points (atoms' poles excluded).

        Where the axis Newton fails (at points where the state runs off to infinity, e.g. where
        G vanishes in a gap) the value at the lowest height is a smoothing: it is kept inside the
        support and replaced by 0 outside it (the intervals are located for that, once)."""
        u, exact, g = self._axis_g(x)
        self._remember_axis(x, u, exact)
        d = -g.imag / np.pi
        d = np.where(d > self.density_floor, d, 0.0)
        if classify:
            d = self._classified(x, u, exact, g, d)
        if not classify and not np.all(exact):
            bad = np.flatnonzero(~exact & (d > 0))
            if bad.size:
                inside = np.zeros(bad.size, dtype=bool)
                for lo, hi in self._std_intervals:
                    inside |= (x[bad] >= lo) & (x[bad] <= hi)
                d[bad[~inside]] = 0.0
        return d

    def _classified(self, x, u, exact, g, d):
        """The densities ``d`` that count for the support: resolved and certified (else 0)."""
        # for the support only a density resolved above the rounding of G counts: a tail below
        # ~1e-11 |G| (e.g. the Gaussian tail of D^2 in a deep Jacobian law) flickers between 0
        # and noise, and would cut the support into spurious intervals each costing an edge search
        d = np.where(d * np.pi > 1e-11 * np.abs(g), d, 0.0)
        # and only a value the axis Newton certified: an inexact point keeps the smoothed value
        # at the lowest height, which is positive in a gap where the state runs off to 0 or ∞
        # (Bern ⊠ (affine image of a ⊠ law) had a spurious interval (0.8206, 0.8212) from it)
        d = np.where(exact, d, 0.0)
        return np.where(self._resolved(x, u, d, g), d, 0.0)

    #: most axis states kept for warm starts (:meth:`_axis_seed`)
    AXIS_MEMO_SIZE: int = 20000

    def _remember_axis(self, x: np.ndarray, u: np.ndarray, exact: np.ndarray) -> None:
        """Keep the certified axis states of a solve, sorted by x, for :meth:`_axis_seed`."""
        u = np.asarray(u)
        keep = np.array(exact, dtype=bool)
        # column by column: a reduction along the short axis of an (n, m) array costs ~25 ns a row
        for j in range(u.shape[1]):
            keep &= np.isfinite(u[:, j])
        if not keep.any():
            return
        x = np.asarray(x, dtype=float)
        if keep.all():
            xs, us = x.copy(), u.copy()
        else:
            xs, us = x[keep], u[keep]
        old = self.__dict__.get("_axis_memo")
        if old is not None and old[1].shape[1] == us.shape[1]:
            xs, us = np.concatenate([old[0], xs]), np.concatenate([old[1], us])
            if xs.size > self.AXIS_MEMO_SIZE:
                # the newest states are where the caller is working (an edge being bracketed)
                xs, us = xs[-self.AXIS_MEMO_SIZE:], us[-self.AXIS_MEMO_SIZE:]
        if np.any(xs[1:] < xs[:-1]):  # a sorted grid (the usual pdf call) needs no reordering
            order = np.argsort(xs, kind="stable")
            xs, us = xs[order], us[order]
        self.__dict__["_axis_memo"] = (xs, us)

    def _axis_seed(self, x0: float):
        """``(x, u)``: the certified axis state nearest to the standardized point ``x0`` among those
        already solved, or None.  A compiled path starts its first point from it (a few Newton steps)
        instead of a ladder of heights from far above the axis: the 8-section rounds that bracket an
        edge solve a handful of points each, so the ladder was most of their cost."""
        memo = self.__dict__.get("_axis_memo")
        if memo is None:
            return None
        xs, us = memo
        k = int(np.searchsorted(xs, x0))
        cand = [j for j in (k - 1, k) if 0 <= j < xs.size]
        j = min(cand, key=lambda j: abs(xs[j] - x0))
        return float(xs[j]), us[j]

    def __getstate__(self):
        # warm-start states are a cache of this process's solves, not part of the law
        state = dict(self.__dict__)
        state.pop("_axis_memo", None)
        return state

    def _residual_rounding(self, u: np.ndarray) -> np.ndarray:
        """Rounding error of each component of :meth:`_residual` at states ``u`` (shape (n,)):
        eps (1 + |u|) for equations whose terms scale with the state (u − T(u)); a law whose
        residual is already relative (divided by the size of its terms) overrides it."""
        return np.finfo(float).eps * (1.0 + np.max(np.abs(u), axis=1))

    def _resolved(self, x, u, d, g):
        """True where the density d at the axis state u stands above the error that rounding of
        the system leaves in it.  With w = ∂_u F^{-T} ∇_u g, a perturbation δF of the equations
        moves G by w·δF: the residual r actually left contributes |Im w·r|, the rounding of F
        itself (:meth:`_residual_rounding`, eps (1 + |u|) in each equation, any direction) at most
        that times |w|; the density counts where it exceeds 10× their sum /π.

        Just outside an edge where the density blows up (an inverse-square-root edge, e.g. at a
        product of atoms) the real boundary value is nearly singular and its rounding shows as a
        small imaginary part of G: without this test the support ran 7e-7 past the edge 0.018225 of
        a leaky-relu law.  The earlier bound |∇g| |δF|/σ_min(∂_u F) ignored the direction of the
        near-null vector and of the rounding: it was ~1e3× pessimistic in the tail of a tanh
        Jacobian law at depth 100 (a density 2.6e-10 right to 4 digits against mpmath counted as
        noise) and inside the conditional-FIM law at depth 20 (2.9e-8 at 0.0829), and cut smooth
        densities into spurious intervals."""
        out = np.ones(x.shape, dtype=bool)
        idx = np.flatnonzero(d > 0)
        if idx.size == 0:
            return out
        z, ui = x[idx] + 0j, u[idx]
        with np.errstate(all="ignore"):
            r, J = self._residual(z, ui)
            ok = np.all(np.isfinite(J.reshape(idx.size, -1)), axis=1) & np.all(np.isfinite(r), axis=1)
            # dg/du_k (g is analytic in u: a central difference along the real direction is it)
            dg = np.zeros(ui.shape, dtype=complex)
            for k in range(ui.shape[1]):
                h = 1e-7 * (1.0 + np.abs(ui[:, k]))
                up, um = ui.copy(), ui.copy()
                up[:, k] += h
                um[:, k] -= h
                dg[:, k] = (self._g(z, up) - self._g(z, um)) / (2 * h)
            ok &= np.all(np.isfinite(dg), axis=1)
            w = np.full(ui.shape, np.nan, dtype=complex)
            Jt = np.swapaxes(np.where(ok[:, None, None], J, np.eye(J.shape[1])), 1, 2)
            rhs = np.where(ok[:, None], dg, 0.0)
            try:
                w = np.linalg.solve(Jt, rhs[..., None])[..., 0]
            except np.linalg.LinAlgError:
                # a singular Jacobian somewhere: point by point, those points unresolved
                for i in range(idx.size):
                    try:
                        w[i] = np.linalg.solve(Jt[i], rhs[i])
                    except np.linalg.LinAlgError:
                        w[i] = np.inf
            rr = np.where(np.isfinite(r), r, 0.0)
            err_step = np.abs((w * rr).sum(axis=1).imag)
            err_floor = np.linalg.norm(w, axis=1) * self._residual_rounding(ui)
            err = (err_step + err_floor) / np.pi
            out[idx] = ~ok | (np.isfinite(err) & (d[idx] > 10.0 * err))
        return out

    # ------------------------------------------------------------------ Law interface
    @cached_property
    def atoms(self):
        p, w = self._exact_atoms()
        p, w = np.asarray(p, dtype=float), np.asarray(w, dtype=float)
        keep = w > 0
        order = np.argsort(p[keep])
        return p[keep][order], w[keep][order]

    def _std_atoms(self):
        p, w = self.atoms
        return self._to_std(p), w

    def _purely_atomic(self) -> bool:
        w = self.atoms[1]
        return bool(len(w)) and abs(1.0 - float(w.sum())) < 1e-14

    def _cauchy(self, z):
        z = np.asarray(z, dtype=complex)
        shape = z.shape
        if self._purely_atomic():
            p, w = self.atoms
            return (w[None, :] / (z.reshape(-1)[:, None] - p[None, :])).sum(axis=1).reshape(shape)
        zs = self._to_std(z.ravel())
        out = np.empty(zs.shape, dtype=complex)
        big = self._far(zs)
        if np.any(big):
            out[big] = self._far_field(zs[big])
        real = ~big & (zs.imag <= 0)
        if np.any(real):
            xr = zs[real].real
            u, _ = self._axis(xr)
            with np.errstate(all="ignore"):
                gr = self._g(xr + 0j, u).real
            bad = ~np.isfinite(gr)
            if np.any(bad):
                # a state at infinity on the axis (e.g. where G vanishes by symmetry in a gap): the
                # real part just above the axis is the limit
                for yb in (1e-12, 1e-8):
                    idx = np.flatnonzero(bad)
                    zb = xr[idx] + 1j * yb
                    with np.errstate(all="ignore"):
                        gb = self._g(zb, self._solve(zb)).real
                    gr[idx] = gb
                    bad = ~np.isfinite(gr)
                    if not np.any(bad):
                        break
            out[real] = gr
        up = ~big & ~real
        if np.any(up):
            zu = zs[up]
            with np.errstate(all="ignore"):
                gu = self._g(zu, self._solve(zu))
            bad = ~np.isfinite(gu)
            if np.any(bad):
                # a compiled state that overflowed (a subordination point at 0 or infinity):
                # the generic continuation, with its own checks, redoes those points
                u2, r2, ok2 = self._continue(zu[bad])
                with np.errstate(all="ignore"):
                    gu[bad] = self._g(zu[bad], u2)
                gu[np.flatnonzero(bad)[~ok2]] = np.nan
                if not np.all(np.isfinite(gu)):
                    i = int(np.flatnonzero(~np.isfinite(gu))[0])
                    raise ConvergenceError(f"{self.name}: the fixed-point system did not converge at z = "
                                           f"{self._from_std(zu[i])!r} (its state runs off to 0 or infinity there)",
                                           point=self._from_std(zu[i]), residual=float("inf"))
            out[up] = self._check_g(zu, gu)
        return (out / self.frame[1]).reshape(shape)

    def _check_g(self, z, g):
        wrong = g.imag > 1e-9 * np.maximum(np.abs(g), 1e-300)
        if np.any(wrong):
            i = int(np.flatnonzero(wrong)[0])
            raise ConvergenceError(
                f"{self.name}: Im G = {g.imag[i]:.3g} > 0 at z = {self._from_std(z[i])!r}; the solver left the "
                "physical branch, or an input is not the Cauchy transform of a probability law",
                point=self._from_std(z[i]), residual=float(g.imag[i]))
        return g

    def _cauchy_derivative(self, z):
        z = np.asarray(z, dtype=complex)
        if self._purely_atomic():
            p, w = self.atoms
            return (-w[None, :] / (z.reshape(-1)[:, None] - p[None, :]) ** 2).sum(axis=1).reshape(z.shape)
        zs = self._to_std(z.ravel())
        u = self._solve(zs)
        dz = getattr(self, "_dz", None)
        if dz is not None:
            r, J = self._residual(zs, u)
            fz, gz, gu = dz(zs, u)
            du = -np.linalg.solve(J, fz[..., None])[..., 0]
            d = gz + (gu * du).sum(axis=1)
        else:
            h = 1e-6 * (1.0 + np.abs(zs))
            d = (self._g(zs + h, self._solve(zs + h)) - self._g(zs - h, self._solve(zs - h))) / (2 * h)
        return (d / self.frame[1] ** 2).reshape(z.shape)

    def _pdf(self, x):
        xs = self._to_std(np.asarray(x, dtype=float))
        out = np.zeros(xs.shape)
        fin = np.isfinite(xs)
        a, b = self._hull()
        inside = fin & (xs >= a) & (xs <= b)
        pts, _ = self._std_atoms()
        near = np.zeros(xs.shape, dtype=bool)
        if len(pts):
            # within 1e-7 (standardized) of an atom the state may not resolve the density next to
            # G's pole (F = 1/G cancels to rounding): there the value counts only where it stands
            # above the error rounding leaves in it (otherwise 0, as at the atom itself)
            dist = np.min(np.abs(xs[:, None] - pts[None, :]), axis=1) if xs.size else np.zeros(0)
            inside &= dist > 0
            near = inside & (dist < 1e-7)
        if np.any(inside):
            out[inside] = self._axis_density(xs[inside])
        if np.any(near):
            xn = xs[near]
            u, exact = self._axis(xn)
            g = self._g(xn + 0j, u)
            out[near] = np.where(exact & self._resolved(xn, u, out[near], g), out[near], 0.0)
        return out / self.frame[1]

    # -- support ------------------------------------------------------------------------
    @cached_property
    def intervals(self) -> tuple[tuple[float, float], ...]:
        """Support of the absolutely continuous part: disjoint closed intervals, sorted, with exact
        edges (augmented Newton on the fold of the real branch; module docstring)."""
        return tuple((float(self._from_std(u)), float(self._from_std(v))) for u, v in self._std_intervals)

    @property
    def edge_uncertainty(self) -> dict:
        """``{edge: (inside, outside)}`` (the law's coordinates) for the support edges the engine
        could not pin down to rounding.  Where neither the branch's turning point, the fold Newton
        nor the square-root extrapolation applied and the closing 8-section rounds met only points
        that the axis Newton did not certify, the edge in :attr:`intervals` is the middle of the
        last bracket; ``inside`` is the last point certified inside the support and ``outside``
        the grid point outside where the search started, between which the density could not be
        decided.  Empty when every edge is exact (the usual case)."""
        self.intervals
        return dict(self.__dict__.get("_edge_uncertainty", {}))

    @cached_property
    def _std_intervals(self):
        a, b = self._hull()
        pa, wa = self._std_atoms()
        if len(wa) and abs(1.0 - wa.sum()) < 1e-13:
            return ()
        unbounded = not (np.isfinite(a) and np.isfinite(b))
        if unbounded:
            # a law with unbounded support (e.g. anything ⊞ a Gaussian) has no finite edges to
            # locate beyond what the density test finds on a wide window
            a = a if np.isfinite(a) else -40.0
            b = b if np.isfinite(b) else 40.0
        t = np.linspace(0.0, np.pi, self.grid_size)
        x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(t)
        dens = self._axis_density(x, classify=True)
        if len(pa):
            # next to an atom F = 1/G cancels and the axis value is not resolved (see _pdf)
            near = np.min(np.abs(x[:, None] - pa[None, :]), axis=1) < 1e-5
            dens = np.where(near, np.nan, dens)
        inside = dens > 0
        # points at atoms take their neighbours' status
        if len(pa):
            nan = np.isnan(dens)
            if np.all(nan):
                return ()
            idx = np.flatnonzero(~nan)
            inside = inside[idx[np.clip(np.searchsorted(idx, np.arange(x.size)), 0, idx.size - 1)]]
        if not np.any(inside):
            return ()
        d = np.diff(inside.astype(int))
        starts = list(np.flatnonzero(d == 1) + 1)
        ends = list(np.flatnonzero(d == -1))
        if inside[0]:
            starts.insert(0, 0)
        if inside[-1]:
            ends.append(x.size - 1)
        out = []
        for s_, e_ in zip(starts, ends):
            lo = (a if not unbounded or np.isfinite(self._hull()[0]) else -np.inf) if s_ == 0 else \
                self._edge(x[s_ - 1], x[s_])
            hi = (b if not unbounded or np.isfinite(self._hull()[1]) else np.inf) if e_ == x.size - 1 else \
                self._edge(x[e_ + 1], x[e_])
            # the hull is a bound of the support: an edge found within rounding of it is the bound
            # (at a singular end such as 0 for MP(1)^{⊠3} the end point itself is not certified)
            if np.isfinite(a) and abs(lo - a) <= 1e-13 * (1.0 + abs(a)):
                lo = a
            if np.isfinite(b) and abs(hi - b) <= 1e-13 * (1.0 + abs(b)):
                hi = b
            out.append((float(lo), float(hi)))
        return self._merge_singular_gaps(out)

    #: widest standardized "gap" that may be an interior singular point of the density
    SINGULAR_GAP: float = 1e-3

    def _merge_singular_gaps(self, out):
        """Join two intervals across a narrow "gap" that is an interior point where the density is
        infinite (x³ of a semicircle at 0, like |t|^(-2/3)): there the state cannot be certified
        within ~1e-7 of the point, so the edge search closes in on it from both sides.  A true gap
        is certified: G is real at its middle.  Here the middle is not certified and the density
        does not fall toward the gap from either side as it does at an edge.  The points are kept
        (:meth:`_singular_points`)."""
        if len(out) < 2:
            return tuple(out)
        merged, sing = [out[0]], []
        for lo, hi in out[1:]:
            plo, phi = merged[-1]
            width = lo - phi
            if 0 < width <= self.SINGULAR_GAP:
                mid = 0.5 * (phi + lo)
                probe = np.array([mid, phi - 10 * width, phi - width, lo + width, lo + 10 * width])
                u, exact = self._axis(probe)
                with np.errstate(all="ignore"):
                    d = -self._g(probe + 0j, u).imag / np.pi
                # the inner probes need not be certified (they are next to the point); the density
                # must not fall toward the point as at an edge (a square-root edge gives inner/outer
                # = 10^(-1/2), a cube-root one 10^(-1/3) = 0.46): it grows (x³ at 0) or stays level (a
                # smooth density across a few points the axis Newton cannot certify, the tanh
                # conditional FIM at depth 20 near 0.0833, where one level is nearly singular)
                if (not exact[0] and exact[1] and exact[4] and d[1] > 0 and d[4] > 0
                        and d[2] >= 0.5 * d[1] and d[3] >= 0.5 * d[4]):
                    merged[-1] = (plo, hi)
                    sing.append(mid)
                    continue
            merged.append((lo, hi))
        if sing:
            self.__dict__["_interior_singular"] = np.array(sing)
        return tuple(merged)

    def _inside_std(self, x):
        return self._axis_density(np.atleast_1d(np.asarray(x, dtype=float)), classify=True) > 0

    def _classify_std(self, x):
        """``(inside, outside)`` at standardized points, each certified: inside where the axis state
        is certified and its density resolved (:meth:`_classified`), outside where it is certified
        without one (G real to rounding).  A point that is neither is unknown: next to a sharp edge
        the axis Newton may not certify points on either side (their status then depends on the
        warm start), and counting them as outside moved a bracket into the support."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        u, exact, g = self._axis_g(x)
        self._remember_axis(x, u, exact)
        d = -g.imag / np.pi
        d = np.where(d > self.density_floor, d, 0.0)
        inside = self._classified(x, u, exact, g, d) > 0
        return inside, np.asarray(exact, dtype=bool) & ~inside

    def _edge(self, x_out: float, x_in: float) -> float:
        """The edge between a point outside and one inside the support (standardized)."""
        # bracket to 8^-EDGE_ROUNDS of the grid step by a few 8-section rounds (each round one
        # vectorised axis solve), then Newton on the fold
        o, i = float(x_out), float(x_in)
        pa = self._std_atoms()[0]
        pa = pa[(pa >= min(o, i)) & (pa <= max(o, i))]
        if pa.size == 1:
            # an atom between the two points: within ~1e-7 of it the state does not resolve the
            # density (F = 1/G cancels), and the fold Newton converged there to a spurious point
            # (∂_G P/|P| → 0 at a pole): Bern(½) ⊠ Bern(½) as an algebraic law had its edge 1.6e-7
            # left of the atom at 0.  The side of the atom away from the support is certified first.
            a = float(pa[0])
            sgn = 1.0 if i > a else -1.0
            d = 1e-6 * (1.0 + abs(a))
            out_side, in_side = self._inside_std(np.array([a - sgn * d, a + sgn * d]))
            if not out_side and in_side:
                # the density reaches to within 1e-6 of the atom: it ends at the atom unless its
                # (inverse-)square-root end, extrapolated from inside, lies beyond it
                e = self._sqrt_edge(a, i)
                return e if e is not None and sgn * (e - a) > 1e-9 * (1.0 + abs(a)) else a
            if not out_side:
                o = a + sgn * d
        if self._classify_std(np.array([o]))[1][0]:
            # a certified outside point: the bracket moves only onto certified points, and the real
            # branch is followed from it to its turning point, which is the edge
            o, i = self._bracket(o, i, self.EDGE_ROUNDS, 1e-9, certified=True)
            e = self._turning_point(o, i)
            if e is not None:
                return e
        else:
            o, i = self._bracket(o, i, self.EDGE_ROUNDS, 1e-9)
        e = self._fold(o, i)
        if e is not None:
            return e
        # the state may be singular at the edge (a subordination function tending to 0 or ∞ there,
        # so no fold in the state variable) while the density still ends as a square root
        e = self._sqrt_edge(o, i)
        if e is not None and e != o:
            # the extrapolation assumes f^(±2) linear at the edge; a density ~ x^(-10/11) (⊠ of ten
            # MP(1) at 0) is not, and the root landed at 2.7e-6 with the density certified between it
            # and the outside end: an extrapolated edge stands only if that middle is not inside
            inside, _ = self._classify_std(np.array([0.5 * (o + e)]))
            if inside[0]:
                e = None
        if e is not None:
            return e
        # neither (e.g. a density that fades out): go on with the 8-section rounds to rounding;
        # the points of one round warm-start each other.  A round that would move the outer end
        # across uncertified points only ends them: further rounds would only walk toward the last
        # point certified inside (next to the nearly singular point of the tanh conditional FIM
        # at depth 20, 20 such rounds took ~60 s and bracketed a spurious gap); the edge is then the
        # middle of the last bracket, whose half-width is recorded (:attr:`edge_uncertainty`)
        o, i = self._bracket(o, i, 20, 4e-16, stop_unknown=True)
        e = 0.5 * (o + i)
        if abs(i - o) > 4e-16 * (1 + abs(o)):
            # stopped early: certified inside up to i, nothing certified from there to the point
            # the search started from (the grid's point outside)
            self.__dict__.setdefault("_edge_uncertainty", {})[float(self._from_std(e))] = (
                float(self._from_std(i)), float(self._from_std(x_out)))
        return e

    def _sqrt_edge(self, x_out: float, x_in: float):
        r"""Edge of a square-root (or inverse-square-root) end of the density from exact axis values
        inside only.

        At such an edge :math:`f(x)^{\pm 2} = C(x - a) + O((x - a)^2)`: the cubic through
        :math:`f^{\pm 2}` at :math:`a + kh` (k = 1, …, 4) puts its root within :math:`O(h^4)` of the edge,
        with :math:`h \sim 10^{-6}` (closer points may not be exact on the axis).  None unless the
        four points are exact, :math:`f^{\pm 2}` is monotone and the root stays in the bracket."""
        lo, hi = min(x_out, x_in), max(x_out, x_in)
        sgn = 1.0 if x_in > x_out else -1.0
        e = float(x_out)
        h = max(abs(x_in - x_out), 1e-6 * (1.0 + abs(e)))
        for _ in range(3):
            xs = e + sgn * h * np.array([1.0, 2.0, 3.0, 4.0])
            u, exact = self._axis(xs)
            d2 = (self._g(xs + 0j, u).imag / np.pi) ** 2
            if np.all(d2 > 0) and d2[0] > d2[1] > d2[2]:
                # an inverse-square-root end (the density blows up at an atom product, arcsine-like):
                # there f^-2 = (x - a)/C^2 (1 + O(x - a)) is the power series that vanishes
                d2 = 1.0 / d2
            if not (np.all(exact) and np.all(d2 > 0) and np.all(np.diff(d2) > 0)):
                return None
            c = np.polyfit(sgn * (xs - e) / h, d2 / d2[0], 3)
            r = np.roots(c)
            r = r[np.abs(r.imag) <= 1e-9].real
            if not r.size:
                return None
            step = float(r[np.argmin(np.abs(r))]) * h * sgn
            e_new = e + step
            if not (lo - 1e-9 * (1 + abs(lo)) <= e_new <= hi + 1e-9 * (1 + abs(hi))):
                return None
            done = abs(e_new - e) <= 1e-15 * (1.0 + abs(e))
            e = e_new
            if done:
                break
            h = 1e-6 * (1.0 + abs(e))
        return float(e)

    def _bracket(self, o: float, i: float, rounds: int, rtol: float,
                 certified: bool = False, stop_unknown: bool = False) -> tuple[float, float]:
        """Shrink the bracket (outside ``o``, inside ``i``) by 8-section rounds.

        With ``certified`` the outer end moves only onto points certified outside
        (:meth:`_classify_std`), the last one before the first point certified inside; points of
        unknown status stay inside the bracket.  Without it a point not certified inside counts
        as outside (the closing rounds of a fallback, and the laws whose grid point outside is
        itself not certified, e.g. next to an interior singular point).  With ``stop_unknown`` (and
        not ``certified``) the rounds stop at the first round that would move the outer end across
        points none of which is certified outside (a round with no certified point is one): such
        rounds only walk toward the last point certified inside, they do not locate the edge."""
        for _ in range(rounds):
            if abs(i - o) <= rtol * (1 + abs(o)):
                break
            mids = o + (i - o) * np.arange(1, 8) / 8.0
            if certified or stop_unknown:
                ins, outs = self._classify_std(mids)
                if stop_unknown and not certified:
                    first = int(np.argmax(ins)) if np.any(ins) else 7
                    if first > 0 and not np.any(outs[:first]):
                        # the outer end would move across uncertified points only
                        break
                    outs = ~ins
            else:
                ins = self._inside_std(mids)
                outs = ~ins
            first = int(np.argmax(ins)) if np.any(ins) else 7
            i = float(mids[first]) if first < 7 else i
            before = np.flatnonzero(outs[:first])
            o = float(mids[before[-1]]) if before.size else o
            if certified and first - (before[-1] + 1 if before.size else 0) > 0:
                # unknown points between the two ends: another round would not shrink the bracket
                # past them (the continuation from o bridges them)
                break
        return o, i

    #: most steps along the real branch from the outer bracket end to its turning point
    FOLD_STEPS: int = 200

    def _x_derivative(self, x: float, u: np.ndarray) -> np.ndarray:
        """∂F/∂x at a real standardized point (shape (m,)): ``_dz`` if the law states it, else a
        central difference along the axis (the branch's tangent only needs it to ~1e-10)."""
        dz = getattr(self, "_dz", None)
        if dz is not None:
            return np.asarray(dz(np.array([x + 0j]), u[None, :])[0], dtype=complex)[0]
        h = 1e-6 * (1.0 + abs(x))
        with np.errstate(all="ignore"):
            rp, _ = self._residual(np.array([x + h + 0j]), u[None, :])
            rm, _ = self._residual(np.array([x - h + 0j]), u[None, :])
        return (rp[0] - rm[0]) / (2 * h)

    def _branch_matrix(self, x: float, u: np.ndarray, w: np.ndarray):
        """(F, [∂F/∂x, ∂F/∂u·diag(w)] with rows normalized) at a real point: the system in the
        scaled variables (x, u/w) of the continuation."""
        with np.errstate(all="ignore"):
            r, J = self._residual(np.array([x + 0j]), u[None, :])
            A = np.concatenate([self._x_derivative(x, u)[:, None], J[0] * w[None, :]], axis=1)
            n = np.linalg.norm(A, axis=1)
        n = np.where(n > 0, n, 1.0)
        return r[0], A / n[:, None], n

    def _branch_tangent(self, A: np.ndarray, t_ref: np.ndarray):
        """Unit null vector of the (m, m+1) matrix A, its phase aligned with ``t_ref``; None if
        the null space is not one-dimensional to working accuracy."""
        try:
            _, sv, vh = np.linalg.svd(A)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(sv)) or (sv.size and sv[-1] < 1e-10 * sv[0]):
            return None
        t = vh[-1].conj()
        c = np.vdot(t_ref, t)
        if not abs(c) > 0:
            return None
        return t * (np.conj(c) / abs(c))

    def _branch_correct(self, y0: np.ndarray, t0: np.ndarray, w: np.ndarray, sigma: float):
        """The point of the branch at arclength ``sigma`` from ``y0`` along ``t0`` (scaled
        variables y = (x, u/w)): Newton on {F = 0, t0ᴴ(y − y0) = sigma}, x kept real.  Returns
        (y, iterations, the scaled matrix of :meth:`_branch_matrix` at y) or None."""
        y = y0 + sigma * t0
        y[0] = y[0].real
        for it in range(1, 16):
            u = self._project(y[1:] * w)
            y[1:] = u / w
            r, A, n = self._branch_matrix(y[0].real, u, w)
            f = np.concatenate([r / n, [np.vdot(t0, y - y0) - sigma]])
            if not np.all(np.isfinite(f)) or not np.all(np.isfinite(A)):
                return None
            M = np.vstack([A, t0.conj()[None, :]])
            try:
                step = np.linalg.solve(M, -f)
            except np.linalg.LinAlgError:
                return None
            if not np.all(np.isfinite(step)):
                return None
            y = y + step
            y[0] = y[0].real
            if np.max(np.abs(step)) <= 1e-13 * (1.0 + np.max(np.abs(y))):
                u = self._project(y[1:] * w)
                r, A, _n = self._branch_matrix(y[0].real, u, w)
                if not (self._rnorm(r[None, :], u[None, :])[0] <= 10 * self.tol and np.all(np.isfinite(A))):
                    return None
                y[1:] = u / w
                return y, it, A
        return None

    def _turning_point(self, x_out: float, x_in: float):
        r"""The edge between ``x_out`` (certified outside) and ``x_in`` (inside) as the turning point
        of the real branch, or None.

        Outside the support the boundary value u(x) of the state is real (in general: on the real
        curve {F(x, u) = 0, x real}) and continues analytically along the axis until
        :math:`\partial_u F` becomes singular; at a square-root edge the branch turns there
        (x = e − κ s² along it).  It is followed from the certified state at ``x_out`` by
        pseudo-arclength continuation in the scaled variables (x, u_k/(1+|u_k|)) — predictor along
        the unit null vector t of [∂F/∂x, ∂F/∂u], corrector Newton on {F = 0, tᴴ(y − y₀) = s}, whose
        matrix stays regular through the turn — until dx/ds changes sign; the zero of dx/ds between
        the last two points is then found by Brent's method, and the edge is x there (an error δs
        in the turn costs only κ δs² in x).  Unlike Newton on {F = 0, det ∂_uF = 0} from x_out this
        needs no second derivatives and cannot leave the physical branch: at the sharp edge of
        arcsine(2.86196, 4.87603) ⊞ Bern(0.05) (the state v₂ moves from −100 to −220 over 1e-5 of
        the standardized axis) the fold Newton diverged and the edge came out 3.6e-7 inside.
        None where the branch reaches ``x_in`` without turning, runs off, or stalls (a state that is
        singular at the edge, e.g. one tending to 0 or ∞ there)."""
        # the state that certified x_out as outside (kept by _classify_std): a new solve there may
        # not be certified, its status depends on the warm start (sweep neighbours)
        seed = self._axis_seed(x_out)
        if seed is not None and seed[0] == x_out:
            u0 = np.array(seed[1], dtype=complex)
        else:
            u0, exact = self._axis(np.array([x_out]))
            if not exact[0]:
                return None
            u0 = u0[0].astype(complex)
        direction = 1.0 if x_in > x_out else -1.0
        span = abs(x_in - x_out)
        w = 1.0 + np.abs(u0)
        y = np.concatenate([[complex(x_out)], u0 / w])
        _r, A, _n = self._branch_matrix(x_out, u0, w)
        e0 = np.zeros(y.size, dtype=complex)
        e0[0] = 1.0
        t = self._branch_tangent(A, e0)
        if t is None or not abs(t[0]) > 1e-14:
            return None
        # x is real along the branch, so is its component of the tangent: that fixes the phase
        t = t * (np.conj(t[0]) / abs(t[0])) * direction
        sigma = min(0.05, 0.25 * span / abs(t[0]))
        for _ in range(self.FOLD_STEPS):
            if not sigma > 1e-13:
                return None
            got = self._branch_correct(y, t, w, sigma)
            if got is None or np.max(np.abs(got[0] - y - sigma * t)) > 0.5 * sigma:
                sigma *= 0.25
                continue
            y1, its, A = got
            t1 = self._branch_tangent(A, t)
            if t1 is None:
                sigma *= 0.25
                continue
            x1 = y1[0].real
            if (t1[0].real * direction) < 0:
                return self._turn_between(y, t, w, sigma, direction, x_out, x_in)
            if (x1 - x_in) * direction > 0:
                return None
            # re-scale the state variables at the new point (the metric only shapes the steps)
            u1 = y1[1:] * w
            w1 = 1.0 + np.abs(u1)
            y = np.concatenate([[complex(x1)], u1 / w1])
            t = np.concatenate([[t1[0]], t1[1:] * w / w1])
            t = t / np.linalg.norm(t)
            w = w1
            if not np.all(np.abs(u1) < 1e15):
                return None
            sigma = min(2.0 * sigma if its <= 3 else sigma, 0.1)
        return None

    def _turn_between(self, y, t, w, sigma, direction, x_out, x_in):
        """x at the zero of dx/ds on the arc (0, sigma) from y along t (:meth:`_turning_point`)."""
        from scipy.optimize import brentq

        memo = {}

        def slope(s):
            if s <= 0:
                memo[s] = y[0].real
                return float(t[0].real * direction)
            got = self._branch_correct(y, t, w, s)
            if got is None:
                raise ConvergenceError("turning point: the branch could not be followed", point=s)
            tt = self._branch_tangent(got[2], t)
            if tt is None:
                raise ConvergenceError("turning point: no tangent", point=s)
            memo[s] = got[0][0].real
            return float(tt[0].real * direction)

        try:
            s_star = brentq(slope, 0.0, sigma, xtol=1e-12 * sigma, rtol=1e-15, maxiter=100)
            if s_star not in memo:
                slope(s_star)
        except (ConvergenceError, ValueError):
            return None
        xe = memo[s_star]
        lo, hi = min(x_out, x_in), max(x_out, x_in)
        if not (lo - 1e-12 * (1 + abs(lo)) <= xe <= hi + 1e-12 * (1 + abs(hi))):
            return None
        return float(min(max(xe, lo), hi))

    def _fold(self, x_out: float, x_in: float):
        """Newton on {F(x, u) = 0, det ∂_u F(x, u) = 0} from the real solution at ``x_out``;
        None if it does not converge inside the bracket."""
        u, exact = self._axis(np.array([x_out]))
        if not exact[0]:
            return None
        u = u[0].copy()
        x = complex(x_out)
        m = u.size
        lo, hi = min(x_out, x_in), max(x_out, x_in)
        width = hi - lo

        # rows scaled once, by their norms at the start: det(J/norms(J)) of the current J would be
        # a pure phase for a one-unknown system
        _, J0 = self._residual(np.array([x]), u[None, :])
        norms = np.linalg.norm(J0[0], axis=1)
        norms = np.where(norms > 0, norms, 1.0)

        def aug(xv, uv):
            r, J = self._residual(np.array([xv]), uv[None, :])
            return np.concatenate([r[0], [np.linalg.det(J[0] / norms[:, None])]])

        for _ in range(40):
            f = aug(x, u)
            if not np.all(np.isfinite(f)):
                return None
            # finite-difference Jacobian of the augmented system in (x, u): analytic in all unknowns
            h = 1e-7 * (1 + abs(x))
            cols = [(aug(x + h, u) - aug(x - h, u)) / (2 * h)]
            for k in range(m):
                hk = 1e-7 * (1 + abs(u[k]))
                e = np.zeros(m, dtype=complex)
                e[k] = hk
                cols.append((aug(x, u + e) - aug(x, u - e)) / (2 * hk))
            A = np.stack(cols, axis=1)
            try:
                step = np.linalg.solve(A, -f)
            except np.linalg.LinAlgError:
                return None
            x = x + step[0]
            u = u + step[1:]
            if not np.isfinite(x) or x.real < lo - width or x.real > hi + width:
                return None
            if abs(step[0]) <= 1e-15 * (1 + abs(x)):
                break
        xe = x.real
        r, _ = self._residual(np.array([xe + 0j]), u[None, :])
        if not (lo - 1e-12 * (1 + abs(lo)) <= xe <= hi + 1e-12 * (1 + abs(hi))):
            return None
        if self._rnorm(r, u[None, :])[0] > 1e3 * self.tol or abs(x.imag) > 1e-8 * (1 + abs(xe)):
            return None
        return float(min(max(xe, lo), hi))

    @cached_property
    def support(self) -> tuple[float, float]:
        """``(min, max)`` of the support: the absolutely continuous intervals and the atoms."""
        ends = [v for iv in self.intervals for v in iv] + list(self.atoms[0])
        if not ends:
            a, b = self._hull()
            return (float(self._from_std(a)), float(self._from_std(b)))
        return (float(min(ends)), float(max(ends)))

    def _in_gap(self, x):
        out = np.ones(np.shape(x), dtype=bool)
        for u, v in self.intervals:
            out &= ~((x >= u) & (x <= v))
        pts, _ = self.atoms
        if len(pts):
            out &= ~np.isin(x, pts)
        return out

    # -- distribution function ------------------------------------------------------------
    def _ppf(self, q):
        # Newton on the contour cdf with the density, after the total-mass check (freeprob.quantile)
        from .quantile import solved_ppf

        return solved_ppf(self, q)

    def _cdf(self, x):
        x = np.asarray(x, dtype=float)
        out = np.empty(x.shape)
        xs = self._to_std(x)
        pts, w = self._std_atoms()
        m_ac = 1.0 - float(w.sum()) if len(w) else 1.0
        jumps = (w[None, :] * (self.atoms[0][None, :] <= x[:, None])).sum(axis=1) if len(w) else 0.0
        iv = self._std_intervals
        lo = min(u for u, _ in iv) if iv else 0.0
        hi = max(v for _, v in iv) if iv else 0.0
        below = xs <= lo
        above = xs >= hi
        out[below] = 0.0
        out[above] = m_ac
        mid = ~below & ~above
        if np.any(mid) and m_ac > 0:
            out[mid] = m_ac - self._ac_above(xs[mid], m_ac)
        elif np.any(mid):
            out[mid] = 0.0
        return out + jumps

    def _singular_points(self) -> np.ndarray:
        """Standardized points next to which the contour cdf must go down relative to the distance
        (the atoms, the interior points where the density is infinite that the support search met;
        a law adds points where its density is singular, e.g. 0 for product laws)."""
        inner = self.__dict__.get("_interior_singular")
        pts = self._std_atoms()[0]
        return pts if inner is None else np.union1d(pts, inner)

    def _ac_above(self, x: np.ndarray, m_ac: float) -> np.ndarray:
        """μ_ac((x, ∞)) by the contour integral of the module docstring (standardized x).

        The comparison pole sits one unit beside x, on the side away from the centre of the
        absolutely continuous part, so the integrand stays smooth down to the axis; beyond the top
        node the leading term m_ac(μ_ac − c)/z² of the integrand is integrated exactly.  The ray
        goes down to 1e-15, or to 1e-13 times the distance to the nearest singular point if that is
        smaller: next to an atom the integrand varies on the scale of that distance (Bern(½)^{⊠3}
        has a density ~x^(-2/3) beside its atom at 0; a ray stopped at 1e-8 put cdf(1e-12) at 1.7e-4
        above the atom instead of 4.1e-5).
        """
        pts, w = self._std_atoms()
        mu_ac = self._ac_mean_std(m_ac)
        c = np.where(x > mu_ac, x - 1.0, x + 1.0)
        sing = self._singular_points()
        lo = np.full(x.size, -15.0)
        if len(sing):
            dist = np.min(np.abs(x[:, None] - sing[None, :]), axis=1)
            with np.errstate(divide="ignore"):
                lo = np.minimum(lo, np.floor(np.log10(np.maximum(dist, 1e-300))) - 13.0)
        out = np.full(x.size, np.nan)
        for lv in np.unique(lo):
            sel = np.flatnonzero(lo == lv)
            out[sel] = self._ray_integral(x[sel], c[sel], m_ac, mu_ac, *_log_height_rule(lo=float(lv)))
        # where the state does not resolve G that close to the atom (its pole cancels in F = 1/G,
        # as for ⊞ of atomic laws), the ray stops at 1e-8 and the integrand is taken constant below
        # it: an error O(1e-8·ρ') instead of a NaN
        bad = np.flatnonzero(~np.isfinite(out))
        if bad.size:
            out[bad] = self._ray_integral(x[bad], c[bad], m_ac, mu_ac, _CDF_Y, _CDF_W, y_min=1e-8)
        return out

    def _ray_integral(self, x, c, m_ac, mu_ac, y, wy, y_min: float = 0.0):
        """μ_ac((x, ∞)) from G on the vertical rays above x at the heights y ≥ y_min (weights wy);
        NaN on a ray where G could not be evaluated."""
        pts, w = self._std_atoms()
        keep = y >= y_min
        y, wy = y[keep], wy[keep]
        z = x[:, None] + 1j * y[None, :]
        try:
            g = self._g_batch(z.ravel()).reshape(x.size, y.size)
        except ConvergenceError:
            g = np.full(z.shape, np.nan, dtype=complex)
        if len(pts):
            g = g - (w[None, None, :] / (z[..., None] - pts[None, None, :])).sum(axis=2)
        integrand = 1j * (g - m_ac / (z - c[:, None]))
        val = (integrand.imag * wy[None, :]).sum(axis=1)
        # below the lowest node the integrand is taken constant; above the top node it is
        # i·κ/(iy)² with κ = m_ac(μ_ac − c)
        val += integrand[:, -1].imag * y[-1]
        val += -m_ac * (mu_ac - c) / y[0]
        return m_ac * (c > x) - val / np.pi

    def _ac_mean_std(self, m_ac: float) -> float:
        pts, w = self._std_atoms()
        c, s = self.frame
        # mean of the absolutely continuous part: the law's standardized mean minus the atoms' share
        mean_std = float(_std_moments(self, 1)[0])
        return float((mean_std - (w * pts).sum()) / m_ac) if len(w) else mean_std

    def _g_batch(self, z: np.ndarray) -> np.ndarray:
        """G~ at standardized points of C⁺ in the order given (rows of a vertical ray, top first);
        beyond |z~| = 1e6 the moment series (:meth:`_far_field`), as in :meth:`cauchy`."""
        z = np.asarray(z, dtype=complex)
        big = self._far(z)
        if not np.any(big):
            return self._g(z, self._solve(z))
        out = np.empty(z.shape, dtype=complex)
        out[big] = self._far_field(z[big])
        if not np.all(big):
            near = z[~big]
            out[~big] = self._g(near, self._solve(near))
        return out

    def _far(self, z: np.ndarray) -> np.ndarray:
        """Where :meth:`_far_field` replaces the solver: |z~| > 1e6, unless the moments are not
        representable in the original coordinates (a law scaled by 1e-300): the series would keep
        1/z alone there, a relative error ~1e-6 at |z~| = 1e6 (and the contour cdf needs the 1/z²
        term: Bern(½) ⊠ MP scaled by 1e-300 had its cdf off by 3.2e-7)."""
        big = np.abs(z) > _FAR
        if np.any(big):
            _std_moments(self, 4)
            if self.__dict__.get("_std_moments_lost"):
                big[:] = False
        return big

    def _far_field(self, z: np.ndarray) -> np.ndarray:
        """G~ at standardized |z~| > 1e6 from the moment series 1/z Σ_k m_k/z^k (k ≤ 4): relative
        error ~|z~|^-5 there, while the solver's residual at such heights is limited by the rounding
        of the inputs' transforms (Unif(1e-9, 4) ⊠ a two-atom law: residual 2.5e-8 at |z~| = 6e11, so
        a contour cdf through those heights was NaN)."""
        m = _std_moments(self, 4)
        w = 1.0 / z
        return w * (1 + w * (m[0] + w * (m[1] + w * (m[2] + w * m[3]))))

    def check_mass(self, nodes: int = 400) -> float:
        """Atoms plus the integral of :meth:`pdf` over :attr:`intervals` (Gauss–Legendre after
        :math:`x = c - r\\cos\\theta`, graded panels at both edges, each halved until the sums
        over its halves agree with its own to 1e-13: the rule of
        :class:`freeprob.density_table.ThetaPanels`): 1 up to quadrature error for a law whose
        density is right.  An independent check of the solver, used by the tests.

        An interval is split at the interior points where the density is infinite that the
        support search met (:meth:`_merge_singular_gaps`) and at the law's other singular points
        (:meth:`_singular_points`).  Next to such a point, and next to an end of an interval that is
        itself singular (x⁶ at 0, like t^(-5/6)), carries an atom (Bern(½)^{⊠3} at 0, like x^(-2/3))
        or toward which the density grows (MP(1) ⊠ MP(1) at 0), the density cannot be certified close enough for any
        quadrature: x⁶ holds 0.094 of its mass within 1e-6 (standardized) of 0.  The mass of the
        window of width δ = min(1e-4, a quarter of the piece) there is taken from the contour
        integral of :meth:`_ac_above` instead — G in the upper half-plane, not the axis density,
        so the sum is still a check of one route against another.  Measured: x⁶ 1 + 5.1e-9 with the
        former Puiseux fit of the tail, x³, x³ − x, x·y·x to ~1e-14 with the window."""
        from .density_table import ThetaPanels

        total = float(self.atoms[1].sum())
        pa, _ = self._std_atoms()
        intervals = self._std_intervals       # the support search records the singular points
        # the points the law knows to be singular (interior points the support search met, atoms,
        # a law's own such as 0 for product laws)
        inner = np.asarray(self._singular_points(), dtype=float)

        def density(xs):
            # a node the solver cannot reach counts 0 instead of aborting the check (a missing node
            # can only show as a defect of the mass, which is what this check reports); the batch
            # is split to find it
            try:
                d = self._axis_density(xs)
            except ConvergenceError:
                if xs.size == 1:
                    return np.zeros(1)
                h = xs.size // 2
                return np.concatenate([density(xs[:h]), density(xs[h:])])
            return np.where(np.isin(xs, pa), 0.0, d) if len(pa) else d

        def piece(u, v):
            # adaptive (ThetaPanels): a density that is continuous but not analytic inside, e.g.
            # x² + xy + yx near its maximum, left 1.3e-4 of mass in one fixed 20-node panel
            return ThetaPanels(u, v, density, order=nodes // 20).total

        if not intervals:
            return total
        m_ac = 1.0 - float(self.atoms[1].sum())
        lowest, highest = min(u for u, _ in intervals), max(v for _, v in intervals)
        ends_sorted = sorted(intervals)

        def at_atom(e):
            return bool(len(pa)) and bool(np.any(np.abs(pa - e) <= 1e-12 * (1.0 + abs(e))))

        def grows(e, side, dl):
            """Whether the density grows toward the end e (an inverse-square-root end, MP(1) ⊠ MP(1) at
            0 like x^(-2/3)): such an end gets a window too (the adaptive panels halved toward it
            for minutes)."""
            d = density(e + side * dl * np.array([1.0, 4.0]))
            return bool(d[1] > 0 and d[0] > d[1])

        def gap_point(e, side):
            """A point of the gap beside the interval end e (None: no mass beyond it)."""
            if side < 0:
                if e <= lowest:
                    return None
                prev = max(v for _, v in ends_sorted if v <= e)
                return 0.5 * (prev + e)
            if e >= highest:
                return None
            nxt = min(u for u, _ in ends_sorted if u >= e)
            return 0.5 * (e + nxt)

        # windows (a, b) whose mass is μ_ac((a, ∞)) − μ_ac((b, ∞)) by the contour; None for a
        # window end beyond the support (mass m_ac above it, resp. 0)
        windows, pieces = [], []
        for u, v in intervals:
            if not (np.isfinite(u) and np.isfinite(v)):
                raise ValueError("check_mass needs a bounded support")
            cuts = [float(p) for p in inner if u < p < v]
            ends = [u] + cuts + [v]
            length = np.diff(ends)
            delta = [min(1e-4, 0.25 * min(length[max(k - 1, 0)], length[min(k, len(length) - 1)]))
                     for k in range(len(ends))]
            sing = [bool(np.any(inner == u)) or at_atom(u) or grows(u, 1.0, delta[0])] + [True] * len(cuts) + \
                   [bool(np.any(inner == v)) or at_atom(v) or grows(v, -1.0, delta[-1])]
            for k, e in enumerate(ends):
                if not sing[k]:
                    continue
                if k == 0:
                    windows.append((gap_point(e, -1), e + delta[k]))
                elif k == len(ends) - 1:
                    windows.append((e - delta[k], gap_point(e, 1)))
                else:
                    windows.append((e - delta[k], e + delta[k]))
            for k in range(len(ends) - 1):
                lo = ends[k] + (delta[k] if sing[k] else 0.0)
                hi = ends[k + 1] - (delta[k + 1] if sing[k + 1] else 0.0)
                pieces.append((lo, hi))
        if windows:
            pts = np.array(sorted({p for a, b in windows for p in (a, b)
                                   if p is not None}), dtype=float)
            above = dict(zip(pts.tolist(), self._ac_above(pts, m_ac).tolist())) if pts.size else {}
            for a, b in windows:
                fa = m_ac if a is None else above[a]
                fb = 0.0 if b is None else above[b]
                total += fa - fb
        for lo, hi in pieces:
            total += piece(lo, hi)
        return total


def _std_moments(law: SolvedLaw, n: int) -> np.ndarray:
    """First ``n`` moments of the standardized law (mean 0 by construction when the frame is the default)."""
    key = "_std_moments_cache"
    cached = law.__dict__.get(key)
    if cached is not None and len(cached) >= n:
        return cached[:n]
    c, s = law.frame
    try:
        m = np.concatenate([[1.0], law.moments(n)])
        from math import comb

        with np.errstate(all="ignore"):
            out = np.array([sum(comb(j, i) * m[i] * (-c) ** (j - i) for i in range(j + 1)) / s ** j
                            for j in range(1, n + 1)])
        if not np.all(np.isfinite(out)):
            raise OverflowError
    except (OverflowError, FloatingPointError, ValueError):
        out = np.zeros(n)  # the leading term 1/z alone; only used where |z~| > 1e6
        law.__dict__["_std_moments_lost"] = True
    law.__dict__[key] = out
    return out


def _lstsq(A, b):
    """Least-squares step; NaN (a rejected step) where the system is not finite or its SVD fails
    (a state at a pole of the system, e.g. a pivot of a continued fraction at 0)."""
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        return np.full(A.shape[1], np.nan, dtype=np.result_type(A, b))
    try:
        return np.linalg.lstsq(A, b, rcond=None)[0]
    except np.linalg.LinAlgError:
        return np.full(A.shape[1], np.nan, dtype=np.result_type(A, b))
