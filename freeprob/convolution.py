r"""Free additive (⊞) and multiplicative (⊠) convolutions by subordination.

Additive (Belinschi–Bercovici), with :math:`F = 1/G` and :math:`h = F - z`:

.. math:: \omega_2 = z + F_\mu(\omega_1) - \omega_1,\qquad \omega_1 = z + F_\nu(\omega_2) - \omega_2,
          \qquad G_{\mu\boxplus\nu}(z) = G_\mu(\omega_1) = G_\nu(\omega_2),

so that :math:`\omega_1 + \omega_2 = z + F_{\mu\boxplus\nu}(z)`.

Multiplicative, for laws on :math:`[0,\infty)`, written in the upper half-plane variables
:math:`\Omega_i = 1/\omega_i` of the usual η-subordination (:math:`\eta(z) = 1 - zF(1/z)`):

.. math:: \Omega_2 = \frac{\zeta}{\Omega_1 - F_\mu(\Omega_1)},\qquad
          \Omega_1 = \frac{\zeta}{\Omega_2 - F_\nu(\Omega_2)},\qquad
          G_{\mu\boxtimes\nu}(\zeta) = \frac{\Omega_1 G_\mu(\Omega_1)}{\zeta}.

Solver.  Both equations are a fixed point :math:`\Omega_1 = T(\Omega_1)` of an analytic self-map
of :math:`\mathbb C^+`, unique there (Denjoy–Wolff).  We solve :math:`\Phi = \Omega_1 - T(\Omega_1) = 0`
by guarded Newton steps (a step is accepted only if it stays in C⁺ and reduces ``|Φ|``, else it is
halved; where Newton stalls, averaged steps :math:`\Omega \leftarrow (\Omega + T(\Omega))/2`).
The starting point comes from continuation: in Im z from far above the axis down to the target,
or, along a grid, from the neighbouring point's solution.  A warm start is accepted only when
Newton converges to a point of C⁺ where :math:`|T'| \le 1` (the Denjoy–Wolff point is attracting;
spurious real solutions near the axis are repelling), otherwise the point is redone by height
continuation.  When both laws carry a compiled Cauchy kernel (:mod:`freeprob.cauchy_kernels`)
the whole per-point iteration runs in numba; otherwise a vectorised numpy version of the same
height continuation is used (nested convolutions, pushforwards).

Atoms are exact (Bercovici–Voiculescu): for ⊞ an atom at b + c iff μ{b} + ν{c} > 1, of mass
μ{b} + ν{c} − 1; for ⊠ at bc ≠ 0 likewise, and at 0 of mass max(μ{0}, ν{0}).

Support.  The absolutely continuous part is located on a cosine-spaced grid over the hull of
the inputs' supports (:attr:`SubordinatedLaw.grid_size` points), and each edge is refined by
bracketing (16 sections per round) on the test :math:`-\operatorname{Im} G(x + i\varepsilon) > K\varepsilon` with
ε = 1e-15·scale and K = 1e6.  Outside the support the left side is
:math:`\varepsilon\,|G'(x)| \approx \varepsilon c/(2\sqrt d)` at a distance d from a square-root
edge where the density is :math:`c\sqrt{d}`, inside it is about :math:`\pi c\sqrt d`: the test
brackets the edge between :math:`(K\varepsilon/\pi c)^2` inside and :math:`(c/2K)^2` outside.
Measured: edges within 1e-12·scale for semicircles, Kesten–McKay, Fuss–Catalan (tests assert
1e-9·scale).  Gaps narrower than the grid spacing are not resolved.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
from numba import njit

from . import cauchy_kernels as ck
from .combinatorics import boxtimes_moments, free_cumulants_to_moments
from .law import Law, as_complex_array, tabulated_cdf

__all__ = ["boxplus", "boxtimes", "FreeConvolution", "SubordinatedLaw", "SubordinationError"]

PLUS, TIMES, POWER = 0, 1, 2

#: heights of the continuation in Im z, relative to the scale of the support
_HEIGHTS = np.geomspace(10.0, 1e-12, 40)
#: convergence tolerance of the fixed point, relative to max(1, |Ω|)
_TOL = 1e-9


class SubordinationError(ValueError):
    """The subordination fixed point did not converge (the message gives the point and the residual)."""


# ============================================================================ compiled solver
@njit(cache=True, error_model="numpy")
def _map_nb(op, k1, p1, k2, p2, tp, z, w1):
    """(T(w1), T'(w1), w2) for the fixed-point map of ``op`` (see the module docstring).

    Written with h = F − id (:func:`freeprob.cauchy_kernels.h_nb`), which the kernels compute
    without the cancellation of ``1/G − w`` far from the support.
    """
    h1, dh1 = ck.h_nb(k1, p1, w1)
    if op == POWER:
        # ω = z + (t − 1) h_μ(ω)  (free_power; tp = t)
        return z + (tp - 1.0) * h1, (tp - 1.0) * dh1, w1
    if op == PLUS:
        w2 = z + h1
        if w2.imag <= 0.0:  # only by rounding: Im h ≥ 0 on C⁺
            w2 = complex(w2.real, abs(z.imag))
        h2, dh2 = ck.h_nb(k2, p2, w2)
        return z + h2, dh2 * dh1, w2
    # ⊠: Ω₂ = ζ/(Ω₁ − F_μ(Ω₁)) = −ζ/h_μ(Ω₁),  T = −ζ/h_ν(Ω₂)
    w2 = ck.div(-z, h1)
    if w2.imag <= 0.0:
        w2 = complex(w2.real, abs(z.imag))
    h2, dh2 = ck.h_nb(k2, p2, w2)
    dw2 = ck.div(z * dh1, h1 * h1)
    dt = ck.div(z * dh2, h2 * h2)
    return ck.div(-z, h2), dt * dw2, w2


@njit(cache=True, error_model="numpy")
def _newton_nb(op, k1, p1, k2, p2, tp, z, w, maxit):
    """Guarded Newton on Φ(w) = w − T(w); returns (w, |Φ(w)|, |T'(w)|)."""
    t, dt, _ = _map_nb(op, k1, p1, k2, p2, tp, z, w)
    r0 = abs(w - t)
    for _it in range(maxit):
        if r0 <= 1e-14 * max(1.0, abs(w)):
            break
        phi = w - t
        step = ck.div(phi, 1.0 - dt)
        if not (np.isfinite(step.real) and np.isfinite(step.imag)):
            step = 0.5 * phi
        lam = 1.0
        accepted = False
        for _h in range(30):
            cand = w - lam * step
            if cand.imag > 0.0:
                tc, dtc, _ = _map_nb(op, k1, p1, k2, p2, tp, z, cand)
                rc = abs(cand - tc)
                if rc < r0:
                    w, t, dt, r0 = cand, tc, dtc, rc
                    accepted = True
                    break
            lam *= 0.5
        if not accepted:
            # Newton gives no descent here: averaged fixed-point steps (they stay in C⁺)
            for _k in range(50):
                if t.imag > 0.0:
                    w = 0.5 * (w + t)
                t, dt, _ = _map_nb(op, k1, p1, k2, p2, tp, z, w)
            r0 = abs(w - t)
    # one more Newton step from the last evaluated T, T': convergence is quadratic, so a
    # residual of 1e-14 becomes rounding level (density error ~4e-15 -> ~2e-16).  The step is
    # tiny, so it is taken without another evaluation of T (which would cost 20% of the solve).
    step = ck.div(w - t, 1.0 - dt)
    if abs(step) <= 1e-12 * max(1.0, abs(w)) and (w - step).imag > 0.0:
        w = w - step
    return w, r0, abs(dt)


@njit(cache=True, error_model="numpy")
def _solve_nb(op, k1, p1, k2, p2, tp, z, c0, scale, warm, guess):
    """Ω₁ at every z (1-D, Im z > 0), with its residual; c0 is the start's shift (⊞) or divisor (⊠).

    Warm starts, each accepted only under the test of the module docstring: ``guess[i]`` when it
    is finite (e.g. the previous step of a bisection), else the neighbour's solution when
    ``warm`` and the neighbour is close; otherwise height continuation.
    """
    n = z.shape[0]
    out = np.empty(n, dtype=np.complex128)
    res = np.empty(n)
    for i in range(n):
        zi = z[i]
        done = False
        start = complex(np.nan, np.nan)
        if np.isfinite(guess[i].real) and np.isfinite(guess[i].imag) and guess[i].imag > 0.0:
            start = guess[i]
        elif warm and i > 0 and abs(zi - z[i - 1]) < 0.05 * scale and np.isfinite(res[i - 1]):
            start = out[i - 1]
            if i > 1 and np.isfinite(res[i - 2]) and abs(z[i - 1] - z[i - 2]) > 0.0:
                # secant predictor along the grid; kept only if it stays in C⁺
                pred = out[i - 1] + (out[i - 1] - out[i - 2]) * ((zi - z[i - 1]) / (z[i - 1] - z[i - 2]))
                if pred.imag > 0.0:
                    start = pred
        if np.isfinite(start.real):
            w, r, adt = _newton_nb(op, k1, p1, k2, p2, tp, zi, start, 40)
            if w.imag > 0.0 and r <= _TOL * max(1.0, abs(w)) and adt <= 1.0 + 1e-6:
                out[i] = w
                res[i] = r
                done = True
        if done:
            continue
        x = zi.real
        y0 = max(_HEIGHTS[0] * scale, zi.imag)
        zz = complex(x, y0)
        w = zz - c0 if op != TIMES else zz / c0
        for j in range(_HEIGHTS.shape[0]):
            y = _HEIGHTS[j] * scale
            if y <= zi.imag:
                break
            w, r, adt = _newton_nb(op, k1, p1, k2, p2, tp, complex(x, y), w, 60)
        w, r, adt = _newton_nb(op, k1, p1, k2, p2, tp, zi, w, 60)
        out[i] = w
        res[i] = r
    return out, res


def kernel_of(law: Law):
    """``(kind, params)`` of the compiled Cauchy kernel for ``law``, or ``None``.

    Uses :meth:`Law._kernel_spec`; free Poisson and arcsine laws are recognised from their public
    parameters (λ = mean²/var, α = var/mean; the support) until they advertise a spec themselves.
    """
    spec = law._kernel_spec()
    if spec is not None:
        return int(spec[0]), np.ascontiguousarray(spec[1], dtype=np.float64)
    from .laws import Arcsine, FreePoisson

    if type(law) is FreePoisson:
        m, v = float(law.mean), float(law.var)
        return ck.FREE_POISSON, np.array([m * m / v, v / m])
    if type(law) is Arcsine:
        return ck.ARCSINE, np.array(law.support, dtype=np.float64)
    return None


def _h_dh(law: Law, w: np.ndarray):
    """(h(w), h'(w)) with h = F − id, for w in C⁺ (1-D): compiled kernel, solver, or generic."""
    w = np.ascontiguousarray(w, dtype=np.complex128)
    spec = kernel_of(law)
    if spec is not None:
        return ck.h_array_nb(spec[0], spec[1], w)
    if isinstance(law, SubordinatedLaw):
        g, dg = law._g_dg(w)  # one solve for both
    else:
        g, dg = law._cauchy(w), law._cauchy_derivative(w)
    with np.errstate(all="ignore"):
        return 1.0 / g - w, -dg / (g * g) - 1.0


# ============================================================================ common machinery
class SubordinatedLaw(Law):
    """A law whose Cauchy transform is :math:`G(z) = g(z, \\Omega_1(z))` for a subordination Ω₁.

    Subclasses define the fixed-point map (numpy ``_map`` and, when available, the compiled
    ``_kernel_args``), ``_start``, ``_g_from_w`` and its derivatives, ``_hull`` and ``atoms``.
    """

    #: points of the grid that locates the support's intervals
    grid_size: int = 2001

    # -- to be provided -----------------------------------------------------------------
    def _map(self, z, w1):  # pragma: no cover - abstract
        raise NotImplementedError

    def _dT_dz(self, z, w1, w2):  # pragma: no cover - abstract
        raise NotImplementedError

    def _start(self, z):  # pragma: no cover - abstract
        raise NotImplementedError

    def _g_from_w(self, z, w1):  # pragma: no cover - abstract
        raise NotImplementedError

    def _dg_from_w(self, z, w1):  # pragma: no cover - abstract
        """(g, ∂g/∂z, ∂g/∂Ω₁)."""
        raise NotImplementedError

    @property
    def _hull(self) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    @cached_property
    def _kernel_args(self):
        return None

    @cached_property
    def _scale(self) -> float:
        a, b = self._hull
        return float(max(b - a, abs(a), abs(b), 1e-3))

    # -- solving ------------------------------------------------------------------------
    @cached_property
    def _swapped(self):
        """The same law with the roles of the inputs exchanged (None when there is no such pair)."""
        return None

    def _solve_raw(self, z: np.ndarray, warm: bool, guess=None):
        """(Ω₁, residual, converged) at ``z`` without raising."""
        z = np.ascontiguousarray(z, dtype=np.complex128)
        if self._kernel_args is not None:
            op, k1, p1, k2, p2, tp, c0 = self._kernel_args
            g0 = np.full(z.shape, np.nan + 0j) if guess is None else np.ascontiguousarray(guess, dtype=np.complex128)
            w, resid = _solve_nb(op, k1, p1, k2, p2, tp, z, c0, self._scale, warm, g0)
        else:
            w = self._solve_numpy(z)
            t, _, _ = self._map(z, w)
            resid = np.abs(w - t)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(resid) & (resid <= _TOL * np.maximum(1.0, np.abs(w))) & (w.imag > 0)
        return w, resid, ok

    def _solve(self, z: np.ndarray, warm: bool = True, guess=None) -> np.ndarray:
        """Ω₁ at ``z`` (1-D, Im z > 0); ``SubordinationError`` with the worst point otherwise.

        Where Ω₁ itself is ill-conditioned (it tends to infinity where G of the result vanishes on
        the real axis, e.g. in the middle of a gap), the points are solved for Ω₂ with the inputs
        exchanged, which is then bounded, and Ω₁ is recovered from the explicit half of the map.
        """
        z = np.ascontiguousarray(z, dtype=np.complex128)
        w, resid, ok = self._solve_raw(z, warm, guess)
        if not np.all(ok) and self._swapped is not None:
            bad = np.flatnonzero(~ok)
            w2, r2, ok2 = self._swapped._solve_raw(z[bad], warm)
            _, _, w1 = self._swapped._map(z[bad], w2)
            fix = ok2 & np.isfinite(w1) & (w1.imag > 0)
            w[bad[fix]] = w1[fix]
            ok[bad[fix]] = True
            resid[bad] = np.where(fix, 0.0, np.minimum(resid[bad], r2))
        if not np.all(ok):
            tol = _TOL * np.maximum(1.0, np.abs(w))
            i = int(np.argmax(np.where(~ok, np.where(np.isfinite(resid), resid / tol, np.inf), -1.0)))
            raise SubordinationError(
                f"{self.name} subordination did not converge at z = {z[i]!r} "
                f"(residual |Ω - T(Ω)| = {resid[i]:.3g}, tolerance {tol[i]:.3g})"
            )
        return w

    def _solve_numpy(self, z: np.ndarray) -> np.ndarray:
        ytarget = z.imag
        x = z.real
        heights = _HEIGHTS * self._scale
        w = self._start(x + 1j * max(heights[0], ytarget.max()))
        for y in heights:
            if np.all(y <= ytarget):
                break
            w = self._newton(x + 1j * np.maximum(ytarget, y), w)
        return self._newton(z, w)

    def _newton(self, z, w, iters: int = 60):
        """Vectorised guarded Newton (as the compiled one), iterating only on unconverged points."""
        w = w.copy()
        act = np.arange(w.size)
        t, dt, _ = self._map(z, w)
        for _ in range(iters):
            phi = w[act] - t
            r0 = np.abs(phi)
            keep = r0 > 1e-14 * np.maximum(1.0, np.abs(w[act]))
            act, phi, r0, dt = act[keep], phi[keep], r0[keep], dt[keep]
            if act.size == 0:
                break
            za, wa = z[act], w[act]
            with np.errstate(all="ignore"):
                step = phi / (1 - dt)
            step = np.where(np.isfinite(step), step, 0.5 * phi)
            new_t = np.empty_like(wa)
            new_dt = np.empty_like(wa)
            todo = np.arange(act.size)
            lam = 1.0
            for _h in range(30):
                cand = wa[todo] - lam * step[todo]
                ok = cand.imag > 0
                cz = np.where(ok, cand, wa[todo])
                tc, dtc, _ = self._map(za[todo], cz)
                good = ok & (np.abs(cz - tc) < r0[todo])
                idx = todo[good]
                wa[idx], new_t[idx], new_dt[idx] = cand[good], tc[good], dtc[good]
                todo = todo[~good]
                if todo.size == 0:
                    break
                lam *= 0.5
            if todo.size:
                # no descent from Newton here: averaged fixed-point steps (they stay in C⁺)
                ws, zs = wa[todo], za[todo]
                for _k in range(50):
                    ts, _, _ = self._map(zs, ws)
                    ws = np.where(ts.imag > 0, 0.5 * (ws + ts), ws)
                wa[todo] = ws
                new_t[todo], new_dt[todo], _ = self._map(zs, ws)
            w[act] = wa
            t, dt = new_t, new_dt
        return w

    def subordination(self, z):
        """Subordination functions ``(omega_1, omega_2)`` at ``z`` in C⁺ (for ⊠: Ω₁ = 1/ω₁, Ω₂ = 1/ω₂)."""
        zz = np.atleast_1d(as_complex_array("z", z)).ravel()
        if np.any(zz.imag <= 0):
            raise ValueError("z must lie in the upper half-plane (Im z > 0)")
        w1 = self._solve(zz)
        _, _, w2 = self._map(zz, w1)
        return w1, w2

    # -- Cauchy transform ---------------------------------------------------------------
    def _cauchy(self, z):
        z = np.asarray(z, dtype=complex)
        shape = z.shape
        z = z.ravel()
        out = np.empty_like(z)
        real = z.imag <= 0
        if np.any(real):
            # off the support on the real line: approach from above (the limit exists there)
            zr = z[real] + 1j * 1e-13 * self._scale
            out[real] = self._cauchy_upper(zr).real
        if np.any(~real):
            out[~real] = self._cauchy_upper(z[~real])
        return out.reshape(shape)

    def _cauchy_upper(self, z):
        return self._check_cauchy(z, self._g_from_w(z, self._solve(z)))

    def _check_cauchy(self, z, g):
        # a Cauchy transform maps C⁺ into the closed lower half-plane; anything else means that
        # an input was not the transform of a probability law (the fixed point exists regardless)
        wrong = g.imag > 1e-9 * np.maximum(np.abs(g), 1e-300)
        if np.any(wrong):
            i = int(np.flatnonzero(wrong)[0])
            raise SubordinationError(
                f"{self.name}: Im G = {g.imag[i]:.3g} > 0 at z = {z[i]!r}; an input is not the Cauchy "
                "transform of a probability law"
            )
        return g

    def _g_dg(self, z):
        """(G(z), G'(z)) on C⁺ (1-D) from one solve; G' by implicit differentiation of
        Ω₁ = T(z, Ω₁):  Ω₁' = T_z / (1 − T_w)."""
        w1 = self._solve(z)
        _, dt, w2 = self._map(z, w1)
        dw = self._dT_dz(z, w1, w2) / (1 - dt)
        g, gz, gw = self._dg_from_w(z, w1)
        return g, gz + gw * dw

    def _cauchy_derivative(self, z):
        z = np.asarray(z, dtype=complex)
        return self._g_dg(z.ravel())[1].reshape(z.shape)

    # -- support --------------------------------------------------------------------------
    def _raw_density(self, x: np.ndarray, eps: float, guess=None, want_w: bool = False):
        """−Im G(x + iε)/π minus the atoms' Lorentzians at height ε (and Ω₁ if ``want_w``)."""
        z = np.asarray(x, dtype=float) + 1j * eps
        w = self._solve(z, guess=guess)
        g = self._check_cauchy(z, self._g_from_w(z, w))
        dens = -g.imag / np.pi
        pts, m = self.atoms
        if len(pts):
            d = x[:, None] - pts[None, :]
            dens = dens - (m[None, :] * eps / np.pi / (d**2 + eps**2)).sum(axis=1)
            # within 1e-7·scale of an atom the subtraction leaves rounding noise of size
            # 1e-16·mass/distance/ε: the density is not resolved there and reported as 0 (as
            # Law._pdf does at the atoms themselves)
            dens = np.where(np.min(np.abs(d), axis=1) < 1e-7 * self._scale, 0.0, dens)
        return (dens, w) if want_w else dens

    def _inside(self, x: np.ndarray, guess=None, want_w: bool = False):
        eps = 1e-15 * self._scale
        # K = 1e6: see the module docstring for the resulting edge accuracy
        d, w = self._raw_density(x, eps, guess=guess, want_w=True)
        ins = d > 1e6 * eps / np.pi
        return (ins, w) if want_w else ins

    @cached_property
    def intervals(self) -> tuple[tuple[float, float], ...]:
        """Support of the absolutely continuous part as disjoint closed intervals (sorted).

        Located on a grid and refined by bisection (module docstring); empty for a purely atomic law.
        """
        a, b = self._hull
        if b <= a:
            return ()
        t = np.linspace(0.0, np.pi, self.grid_size)
        x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(t)
        inside = self._inside(x)
        pts, _ = self.atoms
        if len(pts):
            # within rounding distance of an atom the subtraction of its Lorentzian is noise
            near = np.min(np.abs(x[:, None] - pts[None, :]), axis=1) < 1e-6 * self._scale
            if np.all(near):
                return ()
            idx = np.flatnonzero(~near)
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
        # bisection brackets (outside, inside) for every edge not at the hull's end
        lo_out, lo_in, hi_in, hi_out = [], [], [], []
        for s, e in zip(starts, ends):
            lo_out.append(x[s - 1] if s > 0 else x[0])
            lo_in.append(x[s])
            hi_in.append(x[e])
            hi_out.append(x[e + 1] if e < x.size - 1 else x[-1])
        o = np.array(lo_out + hi_out)
        i = np.array(lo_in + hi_in)
        # 16-section search: each round tests 15 interior points of every bracket (one solver
        # call, warm-started along each bracket) and keeps the sub-bracket where the test flips
        frac = np.arange(1, 16) / 16.0
        for _ in range(20):
            if np.all(np.abs(o - i) <= 1e-13 * self._scale):
                break
            pts = o[:, None] + (i - o)[:, None] * frac[None, :]  # from the outside end inward
            ins = self._inside(pts.ravel()).reshape(pts.shape)
            # first inside point along each row (the test is monotone across a simple edge;
            # otherwise this still keeps a valid (outside, inside) bracket)
            first = np.where(ins.any(axis=1), ins.argmax(axis=1), frac.size)
            rows = np.arange(o.size)
            new_i = np.where(first < frac.size, pts[rows, np.minimum(first, frac.size - 1)], i)
            new_o = np.where(first > 0, pts[rows, np.maximum(first - 1, 0)], o)
            o, i = new_o, new_i
        edges = 0.5 * (o + i)
        k = len(starts)
        lo = [a if s == 0 else float(edges[j]) for j, s in enumerate(starts)]
        hi = [b if e == x.size - 1 else float(edges[k + j]) for j, e in enumerate(ends)]
        return tuple((float(u), float(v)) for u, v in zip(lo, hi))

    @cached_property
    def support(self) -> tuple[float, float]:
        """``(min, max)`` of the true support: the absolutely continuous intervals and the atoms."""
        ends = [v for iv in self.intervals for v in iv] + list(self.atoms[0])
        if not ends:  # pragma: no cover - a law has mass somewhere
            return tuple(float(v) for v in self._hull)
        return (float(min(ends)), float(max(ends)))

    def _in_gap(self, x):
        pts, _ = self.atoms
        ivs = self.intervals
        out = np.ones(np.shape(x), dtype=bool)
        for u, v in ivs:
            out &= ~((x >= u) & (x <= v))
        if len(pts):
            out &= ~np.isin(x, pts)
        return out

    def _pdf(self, x):
        """Density by Stieltjes inversion at height 1e-18·scale (its smoothing error ε·|ρ'| is
        below rounding); 0 where the density is below the support threshold 1e6·ε₀/π with
        ε₀ = 1e-15·scale (the criterion that defines :attr:`intervals`, applied per point, so a
        density on a grid does not pay for locating the edges) and within 1e-7·scale of an atom."""
        d = self._raw_density(x, 1e-18 * self._scale)
        return np.where(d > 1e6 * 1e-15 * self._scale / np.pi, d, 0.0)

    @cached_property
    def _cdf_table(self):
        # On each interval x = c − r cos θ: the square-root (and inverse square-root) edges of
        # free laws become smooth in θ, and the midpoint rule never evaluates the edges.
        xs, cs = [], []
        total = 0.0
        n = 2000
        th = np.linspace(0.0, np.pi, n + 1)
        mid = 0.5 * (th[1:] + th[:-1])
        for u, v in self.intervals:
            c0, r = 0.5 * (u + v), 0.5 * (v - u)
            dm = self._pdf(c0 - r * np.cos(mid)) * r * np.sin(mid) * (np.pi / n)
            xs.append(c0 - r * np.cos(th))
            cs.append(total + np.concatenate([[0.0], np.cumsum(dm)]))
            total = cs[-1][-1]
        if not xs:
            return np.array([0.0]), np.array([0.0])
        x, c = np.concatenate(xs), np.concatenate(cs)
        ac = 1.0 - self.atoms[1].sum()
        if c[-1] > 0:
            c *= ac / c[-1]  # remove the quadrature's (small) total error
        return x, c

    def _cdf(self, x):
        return tabulated_cdf(x, self._cdf_table, self.atoms)


# ============================================================================ ⊞ and ⊠
class FreeConvolution(SubordinatedLaw):
    """μ ⊞ ν or μ ⊠ ν, solved by subordination (see the module docstring)."""

    def __init__(self, mu: Law, nu: Law, kind: str):
        if not isinstance(mu, Law) or not isinstance(nu, Law):
            raise ValueError("boxplus/boxtimes take freeprob Law objects")
        if kind not in ("plus", "times"):
            raise ValueError(f"kind must be 'plus' or 'times', got {kind!r}")
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

    @cached_property
    def _swapped(self):
        return FreeConvolution(self.nu, self.mu, self.kind)

    @cached_property
    def _kernel_args(self):
        s1, s2 = kernel_of(self.mu), kernel_of(self.nu)
        if s1 is None or s2 is None:
            return None
        op = PLUS if self.kind == "plus" else TIMES
        return (op, s1[0], s1[1], s2[0], s2[1], 0.0, float(self.nu.mean))

    # -- the fixed-point map T and its derivatives --------------------------------------
    def _map(self, z, w1):
        """(T(w1), T'(w1), w2), as the compiled map (in terms of h = F − id)."""
        h1, dh1 = _h_dh(self.mu, w1)
        if self.kind == "plus":
            w2 = z + h1
            w2 = np.where(w2.imag > 0, w2, w2.real + 1j * np.abs(z.imag))
            h2, dh2 = _h_dh(self.nu, w2)
            return z + h2, dh2 * dh1, w2
        with np.errstate(all="ignore"):
            w2 = -z / h1
            w2 = np.where(w2.imag > 0, w2, w2.real + 1j * np.abs(z.imag))
            h2, dh2 = _h_dh(self.nu, w2)
            return -z / h2, (z * dh2 / h2**2) * (z * dh1 / h1**2), w2

    def _dT_dz(self, z, w1, w2):
        h2, dh2 = _h_dh(self.nu, w2)
        if self.kind == "plus":
            # T = z + h_ν(w2), w2 = z + h_μ(w1):  ∂T/∂z = 1 + h_ν'(w2)
            return 1.0 + dh2
        h1, _ = _h_dh(self.mu, w1)
        # T = −z/h_ν(w2), w2 = −z/h_μ(w1):  ∂T/∂z = −1/h_ν − z h_ν' / (h_ν² h_μ)
        return -1.0 / h2 - z * dh2 / (h2**2 * h1)

    def _start(self, z):
        if self.kind == "plus":
            return z - self.nu.mean
        return z / self.nu.mean

    def _g_from_w(self, z, w1):
        if self.kind == "plus":
            return self.mu._cauchy(w1)
        return w1 * self.mu._cauchy(w1) / z

    def _dg_from_w(self, z, w1):
        g = self.mu._cauchy(w1)
        dg = self.mu._cauchy_derivative(w1)
        if self.kind == "plus":
            return g, np.zeros_like(g), dg
        return w1 * g / z, -w1 * g / z**2, (g + w1 * dg) / z

    # -- Law interface ------------------------------------------------------------------
    @property
    def _hull(self):
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
        return np.array(pts, dtype=float)[order], np.array(mass, dtype=float)[order]

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
    r"""Free additive convolution ``mu ⊞ nu (⊞ more...)``.

    Solved by the subordination :math:`G_{\mu\boxplus\nu}(z) = G_\mu(\omega_1(z))` (module
    docstring).  Three or more arguments nest from the left; when they are all the same object,
    the result is :func:`freeprob.free_power` ``(mu, n)``, the same law solved by one subordination.

    >>> import freeprob as fp
    >>> rho = fp.boxplus(fp.semicircle(1.0), fp.semicircle(3.0))
    >>> round(float(rho.pdf(0.5)), 10) == round(float(fp.semicircle(4.0).pdf(0.5)), 10)
    True
    >>> [round(e, 9) for e in rho.support]
    [-4.0, 4.0]
    """
    if more and all(law is mu for law in (nu, *more)):
        from .free_power import free_power

        return free_power(mu, 2 + len(more))
    out = FreeConvolution(mu, nu, "plus")
    for law in more:
        out = FreeConvolution(out, law, "plus")
    return out


def boxtimes(mu: Law, nu: Law, *more: Law) -> Law:
    r"""Free multiplicative convolution of laws on ``[0, inf)`` with positive means.

    Solved by the subordination :math:`G_{\mu\boxtimes\nu}(\zeta) = \Omega_1 G_\mu(\Omega_1)/\zeta`
    (module docstring); atoms by Bercovici–Voiculescu.

    >>> import freeprob as fp
    >>> rho = fp.boxtimes(fp.bernoulli(0.5), fp.bernoulli(0.5))
    >>> rho.atoms
    (array([0.]), array([0.5]))
    """
    out = FreeConvolution(mu, nu, "times")
    for law in more:
        out = FreeConvolution(out, law, "times")
    return out
