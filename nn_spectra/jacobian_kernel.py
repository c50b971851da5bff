r"""Compiled solver of the composed S-transform equation of :mod:`nn_spectra.jacobian`.

Unknowns :math:`\zeta = \psi_J(1/x)` and :math:`v_k = \chi_{D^2}(c_k\zeta)`; equations

.. math::

    \log x + \sum_k m_k\big(\ell(v_k) + \ell(1 + c_k\zeta) - \ell(c_k\zeta)\big)
      + \sum_j a_j\,\ell(\alpha_j + \beta_j\zeta) + C + \ell(\zeta) - \ell(r + \zeta) = 0,\qquad
    \psi_{D^2}(v_k) = c_k\zeta,

with :math:`\ell(w) = \log(iw) - i\pi/2`, the logarithm whose cut is the positive imaginary axis.
Why: for :math:`x\in\mathbb C^+\cup(0,\infty)` every argument of a logarithm above lies in the closed
lower half-plane (:math:`\operatorname{Im}\psi(w)` has the sign of :math:`\operatorname{Im} w` for laws on
:math:`[0,\infty)`), so the equation is single-valued on the physical branch and needs no
:math:`2\pi i` bookkeeping; the other roots of the :math:`L`-th power (:math:`2\pi/L` apart) are not
roots of it.  The log-equation is uniform in :math:`\log x`, so the continuation walks in
:math:`\log z` (heights shrink geometrically, steps along the axis of at most 0.5 in
:math:`\log x`): the law's many decades near 0 cost a few Newton steps per decade.

:math:`\psi_{D^2}` is a discrete rule :math:`\sum_i w_i v t_i/(1 - v t_i)` (exact for atomic laws, a
Gaussian quadrature otherwise; :func:`nn_spectra.jacobian._psi_for`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["solve_path", "psi_rule"]

@njit(cache=True)
def _lg(w):
    # log with its cut on the positive imaginary axis: continuous on the closed lower half-plane,
    # where every argument of the physical branch lives (zeta = psi_J(1/x) and v_k in C^-)
    return np.log(1j * w) - 0.5j * np.pi

@njit(cache=True)
def psi_rule(v, t, w):
    """psi(v) = sum_i w_i v t_i/(1 - v t_i) and psi'(v) at every v (flat complex arrays)."""
    n = v.shape[0]
    psi = np.empty(n, np.complex128)
    dpsi = np.empty(n, np.complex128)
    for j in range(n):
        psi[j], dpsi[j] = _psi_at(v[j], t, w)
    return psi, dpsi


@njit(cache=True)
def _psi_at(v, t, w):
    p = 0j
    dp = 0j
    for i in range(t.shape[0]):
        den = 1.0 - v * t[i]
        p += w[i] * v * t[i] / den
        dp += w[i] * t[i] / (den * den)
    return p, dp


@njit(cache=True)
def _eval(x, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r, f, dpsi):
    """f[0] = log-equation, f[1:] = psi(v_k) - c_k zeta; returns (a, residual norm); fills dpsi."""
    K = c.shape[0]
    lx = np.log(x)
    l1 = _lg(zeta)
    l2 = _lg(r + zeta)
    f0 = lx + const + l1 - l2
    mag = 1.0 + abs(lx) + abs(const) + abs(l1) + abs(l2)
    a = 1.0 / zeta - 1.0 / (r + zeta)
    for j in range(tco.shape[0]):
        lt = tco[j] * _lg(ta0[j] + ta1[j] * zeta)
        f0 += lt
        mag += abs(lt)
        a += tco[j] * ta1[j] / (ta0[j] + ta1[j] * zeta)
    res = 0.0
    for k in range(K):
        cz = c[k] * zeta
        l3 = _lg(v[k])
        l4 = _lg(1.0 + cz)
        l5 = _lg(cz)
        f0 += mult[k] * (l3 + l4 - l5)
        mag += mult[k] * (abs(l3) + abs(l4) + abs(l5))
        a += mult[k] * (c[k] / (1.0 + cz) - 1.0 / zeta)
        p, dp = _psi_at(v[k], t, w)
        f[k + 1] = p - cz
        dpsi[k] = dp
        res += abs(f[k + 1]) / max(abs(cz), 1e-300)
    f[0] = f0
    # the log-equation is a sum of O(L) logarithms: its round-off is relative to their size
    res += abs(f0) / mag
    return a, res

@njit(cache=True)
def _newton(x, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r, iters, tol):
    K = c.shape[0]
    f = np.empty(K + 1, np.complex128)
    fc = np.empty(K + 1, np.complex128)
    dpsi = np.empty(K, np.complex128)
    dpc = np.empty(K, np.complex128)
    dv = np.empty(K, np.complex128)
    vc = np.empty(K, np.complex128)
    a, res = _eval(x, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r, f, dpsi)
    for it in range(iters):
        if not (res > tol):
            break
        num = -f[0]
        den = a
        for k in range(K):
            num += mult[k] / v[k] * f[k + 1] / dpsi[k]
            den += mult[k] / v[k] * c[k] / dpsi[k]
        dz = num / den
        for k in range(K):
            dv[k] = (-f[k + 1] + c[k] * dz) / dpsi[k]
        lam = 1.0
        moved = False
        for h in range(12):
            zc = zeta + lam * dz
            for k in range(K):
                vc[k] = v[k] + lam * dv[k]
            ac, rc = _eval(x, zc, vc, t, w, c, mult, tco, ta0, ta1, const, r, fc, dpc)
            if rc < res:
                zeta = zc
                for k in range(K):
                    v[k] = vc[k]
                    dpsi[k] = dpc[k]
                for k in range(K + 1):
                    f[k] = fc[k]
                a, res = ac, rc
                moved = True
                break
            lam *= 0.5
        if not moved:
            break
    return zeta, res

@njit(cache=True)
def _predict(x0, x1, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r):
    """First-order predictor from the solution at ``x0`` to ``x1``: the tangent of the branch.

    ``log x`` enters the log-equation linearly, so d(zeta, v)/d log x solves J (dzeta, dv) = -(1, 0...):
    by the same elimination as the Newton step, dzeta = -1/den, dv_k = c_k dzeta / psi'(v_k).
    Without it every rung of the ladder starts from the previous rung's state, and at depth L the
    L-fold sums make that start O(L dy) wrong: Newton then needs ~10 halvings per rung."""
    K = c.shape[0]
    f = np.empty(K + 1, np.complex128)
    dpsi = np.empty(K, np.complex128)
    a, res = _eval(x0, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r, f, dpsi)
    den = a
    for k in range(K):
        den += mult[k] / v[k] * c[k] / dpsi[k]
    dl = np.log(x1) - np.log(x0)
    dz = -dl / den
    if not np.isfinite(dz.real) or not np.isfinite(dz.imag) or abs(dz) > 2.0 * abs(zeta):
        return zeta   # a step that large is outside the tangent's range: no prediction
    for k in range(K):
        v[k] = v[k] + c[k] * dz / dpsi[k]
    return zeta + dz


@njit(cache=True)
def _descend(xr, y, y_end, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r, tol):
    """Walk from height ``y`` down to ``y_end`` above ``xr``: predicted rungs whose ratio adapts
    (squared after a success, square-rooted after a failure).  Returns (zeta, y reached, last
    residual, ok)."""
    K = c.shape[0]
    vs = np.empty(K, np.complex128)
    rho = 0.5
    res = 0.0
    while y > y_end:
        ynew = max(y * rho, y_end)
        zs = zeta
        for k in range(K):
            vs[k] = v[k]
        zp = _predict(xr + 1j * y, xr + 1j * ynew, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r)
        zt, rt = _newton(xr + 1j * ynew, zp, v, t, w, c, mult, tco, ta0, ta1, const, r, 12, tol)
        if rt <= 100.0 * tol and _physical(zt, v):
            zeta = zt
            y = ynew
            res = rt
            rho = max(rho * rho, 1e-3)
        else:
            zeta = zs
            for k in range(K):
                v[k] = vs[k]
            rho = np.sqrt(rho)
            if rho > 0.999:
                return zeta, y, res, False
    return zeta, y, res, True


@njit(cache=True)
def _ladder(x, zeta0, v, t, w, c, mult, tco, ta0, ta1, const, r, y_top, y_stop, tol):
    """Solve at heights y_top * rho^j down to y_stop above Re x, then at x itself; (zeta, res)."""
    K = c.shape[0]
    vs = np.empty(K, np.complex128)
    y = y_top
    zeta, res = _newton(x.real + 1j * y, zeta0, v, t, w, c, mult, tco, ta0, ta1, const, r, 60, tol)
    zeta, y, res, ok = _descend(x.real, y, y_stop, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r, tol)
    if not ok:
        return zeta, np.inf
    zs = zeta
    for k in range(K):
        vs[k] = v[k]
    zp = _predict(x.real + 1j * y, x, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r)
    zt, rt = _newton(x, zp, v, t, w, c, mult, tco, ta0, ta1, const, r, 60, tol)
    if (rt <= 100.0 * tol and _physical(zt, v)) or x.imag >= y_stop:
        return zt, rt
    # next to a square-root edge the Newton step from the height y_stop either does not converge or
    # lands on the conjugate root (a fold: the two roots are ~sqrt(distance) apart, closer than the
    # state moves from y_stop down).  Go on down the ladder: to the point itself in C+, on the axis
    # to a relative height 1e-15 and from there once more to the axis (else the boundary value up
    # to round-off at that height).
    zeta = zs
    for k in range(K):
        v[k] = vs[k]
    y_end = x.imag if x.imag > 0 else 1e-15 * abs(x)
    zeta, y, res, ok = _descend(x.real, y, y_end, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r, tol)
    if not ok:
        return zeta, np.inf
    if x.imag > 0:
        return zeta, res
    zs = zeta
    for k in range(K):
        vs[k] = v[k]
    zp = _predict(x.real + 1j * y, x, zeta, v, t, w, c, mult, tco, ta0, ta1, const, r)
    zt, rt = _newton(x, zp, v, t, w, c, mult, tco, ta0, ta1, const, r, 20, tol)
    if rt <= 100.0 * tol and _physical(zt, v):
        return zt, rt
    for k in range(K):
        v[k] = vs[k]
    return zs, res


@njit(cache=True)
def _physical(zeta, v):
    # the branch of x in C+ U (0, inf): zeta and the v_k in the closed lower half-plane (v_k to 1e-6,
    # see JacobianLaw._admissible: where psi is flat v_k is fixed only to ~1e-16/|psi'(v_k)|)
    if not (zeta.imag <= 1e-9 * abs(zeta)):
        return False
    for k in range(v.shape[0]):
        if not (v[k].imag <= 1e-6 * abs(v[k])):
            return False
    return True

@njit(cache=True)
def solve_path(xs, order, t, w, c, mult, tco, ta0, ta1, const, r, m1, m1d, scale, rel_stop, tol,
               seed_x, seed_z, seed_v, has_seed):
    """``(zeta, v, residual)`` at every point of ``xs`` (C+ or (0, inf)), visited in ``order``.

    Each point is warm-started from the previous one when they are within 0.5 in ``log x`` (the
    first one from the solved state ``(seed_z, seed_v)`` at ``seed_x`` when ``has_seed``); else it
    is reached by a ladder of heights from ``30 (scale + |x|)`` down to ``rel_stop |x|`` (ratio
    adapted to Newton's success), then Newton at the point itself (on the axis: ``Im x = 0``
    exactly).  ``residual`` is relative (the log-equation against the size of its terms).
    """
    n = xs.shape[0]
    K = c.shape[0]
    out = np.empty(n, np.complex128)
    vout = np.empty((n, c.shape[0]), np.complex128)
    resid = np.empty(n)
    v = np.empty(K, np.complex128)
    vp = np.empty(K, np.complex128)
    have = has_seed
    zp = seed_z
    xp = seed_x
    for k in range(K):
        vp[k] = seed_v[k]
    for ii in range(n):
        i = order[ii]
        x = xs[i]
        ok = False
        if not (x.imag > 0.0 or x.real > 0.0):
            out[i] = np.nan
            for k in range(K):
                vout[i, k] = np.nan
            resid[i] = np.inf
            continue
        if have and abs(np.log(x) - np.log(xp)) < 0.5:
            for k in range(K):
                v[k] = vp[k]
            z0 = _predict(xp, x, zp, v, t, w, c, mult, tco, ta0, ta1, const, r)
            z, res = _newton(x, z0, v, t, w, c, mult, tco, ta0, ta1, const, r, 20, tol)
            ok = res <= 100.0 * tol and _physical(z, v)
        if not ok:
            # above the target: a point of the upper half-plane far from the axis starts higher still
            ytop = 30.0 * (scale + abs(x))
            z0 = m1 / (x.real + 1j * ytop)
            for k in range(K):
                v[k] = c[k] * z0 / m1d
            ystop = max(x.imag, rel_stop * abs(x))
            z, res = _ladder(x, z0, v, t, w, c, mult, tco, ta0, ta1, const, r, ytop, ystop, tol)
            ok = res <= 100.0 * tol
        out[i] = z
        for k in range(K):
            vout[i, k] = v[k]
        resid[i] = res
        if ok:
            have = True
            zp = z
            xp = x
            for k in range(K):
                vp[k] = v[k]
    return out, vout, resid
