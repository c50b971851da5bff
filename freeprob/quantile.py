r"""Quantiles of solver laws, and the total-mass check that guards them.

For a law :math:`\mu` with atoms :math:`p_j` (masses :math:`w_j`) and an absolutely continuous part
on the intervals :math:`[u_i, v_i]`, the quantile function is

.. math:: F^{-1}(q) = \min\{x : F(x) \ge q\}, \qquad 0 < q < 1,

with :math:`F` the distribution function (atoms included: right-continuous).  Between consecutive
break points (interval ends and atoms) :math:`F` is continuous and increasing, so :math:`F^{-1}(q)`
is either a break point (``q`` inside the jump of an atom) or the one root of :math:`F(x) = q` on
the piece where :math:`F` crosses ``q``.  That root is found by Newton's method with the density as
derivative (two independent routes of the engine: :math:`F` from the contour integral of :math:`G`
in the upper half-plane, :math:`F' = f` from the axis solve), safeguarded by bisection on a bracket
that always holds the root.  The generic :meth:`freeprob.Law.ppf` bisects the whole support to
1e-13 (about 45 contour cdf evaluations per quantile); Newton needs 4-8.

Before the first quantile the law's total mass is checked (:meth:`freeprob.SolvedLaw.check_mass`:
atoms plus the integral of the axis density over the support): a law whose mass is off by more than
:data:`MASS_TOLERANCE` has lost part of its support or an atom, and its quantiles would be wrong, so
:class:`MassCheckError` is raised instead.  A law with unbounded support cannot be checked that way
(the quadrature needs finite ends) and is not checked.
"""

from __future__ import annotations

import numpy as np

from .solved import ConvergenceError, SolvedLaw

__all__ = ["MassCheckError", "MASS_TOLERANCE", "mass_defect", "require_mass", "solved_ppf"]

#: total mass must be 1 to within this (the issue's 1 ± 1e-10)
MASS_TOLERANCE = 1e-10


class MassCheckError(ConvergenceError):
    """The atoms plus the integral of the density do not add up to 1: ``residual`` is the defect
    (mass − 1).  Raised by quantile functions instead of returning wrong quantiles."""


def mass_defect(law: SolvedLaw) -> float | None:
    """``check_mass() - 1`` for a law with bounded support (computed once per law), else None."""
    key = "_mass_defect_cache"
    if key in law.__dict__:
        return law.__dict__[key]
    ivs = law.intervals
    if any(not (np.isfinite(u) and np.isfinite(v)) for u, v in ivs):
        defect = None
    else:
        defect = float(law.check_mass()) - 1.0
    law.__dict__[key] = defect
    return defect


def require_mass(law: SolvedLaw) -> None:
    """Raise :class:`MassCheckError` when the law's total mass is not 1 to :data:`MASS_TOLERANCE`."""
    defect = mass_defect(law)
    if defect is not None and not abs(defect) <= MASS_TOLERANCE:
        raise MassCheckError(
            f"{law.name}: atoms plus the integral of the density over the support add up to "
            f"1 {'+' if defect > 0 else '-'} {abs(defect):.3g}, not 1 ± {MASS_TOLERANCE:g}: the solver "
            "missed part of the support or an atom, so its quantiles would be wrong",
            point=None, residual=defect)


def _breaks(law: SolvedLaw):
    """Standardized break points (interval ends and atoms, sorted) and the atom mass at each."""
    pts, w = law._std_atoms()
    ends = [e for iv in law._std_intervals for e in iv]
    b = np.unique(np.concatenate([np.asarray(ends, dtype=float), pts]))
    wb = np.zeros(b.size)
    if len(pts):
        wb[np.searchsorted(b, pts)] = w
    return b, wb


def solved_ppf(law: SolvedLaw, q: np.ndarray, check: bool = True) -> np.ndarray:
    """Quantiles ``F^{-1}(q)`` of a solver law for ``q`` in [0, 1] (module docstring)."""
    if check:
        require_mass(law)
    q = np.asarray(q, dtype=float)
    lo_s, hi_s = law.support
    out = np.where(q <= 0, lo_s, hi_s).astype(float)
    inner = np.flatnonzero((q > 0) & (q < 1))
    if inner.size == 0:
        return out
    b, wb = _breaks(law)
    if b.size == 0:                      # nothing but the hull is known: fall back to bisection
        out[inner] = super(SolvedLaw, law)._ppf(q[inner])
        return out
    fin = np.isfinite(b)
    fb = np.full(b.size, np.nan)
    fb[fin] = law._cdf(law._from_std(b[fin]))
    fb[b == -np.inf], fb[b == np.inf] = 0.0, 1.0
    fb = np.maximum.accumulate(fb)
    fminus = fb - wb
    qi = q[inner]
    k = np.minimum(np.searchsorted(fb, qi, side="left"), b.size - 1)
    atom = qi > fminus[k]
    xs = np.where(atom | (qi > fb[-1]), b[k], np.nan)
    piece = np.flatnonzero(~atom & (qi <= fb[-1]) & (k > 0))
    if piece.size:
        xs[piece] = _root(law, qi[piece], b[k[piece] - 1], b[k[piece]], fb[k[piece] - 1], fminus[k[piece]])
    # below the lowest break point only by rounding of F there (F(b_0-) = 0)
    xs = np.where(np.isnan(xs), b[k], xs)
    out[inner] = law._from_std(xs)
    return out


def _outward(law, q, end, lo, hi, direction: float):
    """Replace the infinite entries of ``end`` (``lo`` for direction -1, ``hi`` for +1) by finite
    brackets of the quantiles ``q``, stepping outward from the piece's finite end by doubling
    (standardized coordinates)."""
    bad = ~np.isfinite(end)
    step = 1.0
    while np.any(bad):
        if step > 1e8:
            raise ConvergenceError(f"{law.name}: no finite bracket for the quantile {q[bad][0]!r}",
                                   point=float(q[bad][0]), residual=float("inf"))
        anchor = np.where(np.isfinite(lo), lo, np.where(np.isfinite(hi), hi, 0.0))
        trial = anchor + direction * step
        f = law._cdf(law._from_std(trial[bad]))
        ok = f >= q[bad] if direction > 0 else f < q[bad]
        idx = np.flatnonzero(bad)[ok]
        end[idx] = trial[idx]
        bad[idx] = False
        step *= 2.0


def _unbounded(law, q, lo, hi):
    """Finite brackets for pieces with an infinite end (``lo`` and ``hi`` are updated in place)."""
    _outward(law, q, lo, lo, hi, -1.0)
    _outward(law, q, hi, lo, hi, +1.0)
    return lo, hi


def _root(law: SolvedLaw, q, lo, hi, flo, fhi, iters: int = 100):
    """Root of F(x) = q on (lo, hi) (standardized) with F(lo) < q <= F(hi): Newton with the density,
    bisection when a step leaves the bracket; stops when the step or F − q is at rounding."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        lo, hi = _unbounded(law, q, lo, hi)
        flo = law._cdf(law._from_std(lo))
        fhi = law._cdf(law._from_std(hi))
    s = law.frame[1]
    with np.errstate(all="ignore"):
        t = np.where(fhi > flo, (q - flo) / (fhi - flo), 0.5)
    x = lo + np.clip(t, 0.01, 0.99) * (hi - lo)      # regula falsi start, away from the ends
    done = np.zeros(q.size, dtype=bool)
    for _ in range(iters):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        xa = x[act]
        xo = law._from_std(xa)
        f = law._cdf(xo) - q[act]
        d = np.asarray(law._pdf(xo), dtype=float) * s
        right = f >= 0
        hi[act] = np.where(right, xa, hi[act])
        lo[act] = np.where(right, lo[act], xa)
        with np.errstate(all="ignore"):
            xn = xa - f / d
        inside = np.isfinite(xn) & (xn > lo[act]) & (xn < hi[act])
        xn = np.where(inside, xn, 0.5 * (lo[act] + hi[act]))
        tol = 4e-16 * np.maximum(1.0, np.abs(xa))
        fin = (np.abs(xn - xa) <= tol) | (hi[act] - lo[act] <= tol) | (np.abs(f) <= 1e-15)
        x[act] = np.where(np.abs(f) <= 1e-15, xa, xn)
        done[act] = fin
    if not np.all(done):
        i = int(np.flatnonzero(~done)[0])
        raise ConvergenceError(f"{law.name}: the quantile {q[i]!r} did not converge (bracket "
                               f"{law._from_std(lo[i])!r}..{law._from_std(hi[i])!r})",
                               point=float(q[i]), residual=float(hi[i] - lo[i]))
    return x
