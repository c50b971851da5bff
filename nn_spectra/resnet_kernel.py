r"""Compiled solver of the composed block equation of :mod:`nn_spectra.resnet`.

Unknowns :math:`\zeta = \psi_J(1/x)` and, per distinct block :math:`k`, :math:`q_k`; equations

.. math::

    \log x - \operatorname{log1p}(1/\zeta) + \sum_k m_k\Big[\operatorname{log1p}\Big(-\frac{q_k}{1+\zeta}\Big)
      + \operatorname{log1p}\Big(-\frac{q_k}{\zeta}\Big)\Big] = 0,\qquad
    q_k = \psi_{\nu_k}(C_k'),

:math:`C_k = (1+\zeta-q_k)(\zeta-q_k)/(1+q_k)^2`, :math:`C_k' = C_k` (orthogonal weights) or
:math:`C_k(1+q_k)` (Gaussian weights), :math:`\psi_\nu(c) = \sum_i w_i t_ic/(1-t_ic)` a rule for the
law :math:`\nu_k` of :math:`a^2\sigma_w^2D_k^2`.  Every term of the log-equation is computed without
cancellation (:math:`\log x` from :math:`x - 1`, complex ``log1p`` from the real one), so the equation
keeps its relative accuracy when the blocks tend to the identity (:math:`a\to0`, where all its terms
are :math:`O(a)`).  The Jacobian is an arrow (each block equation involves only :math:`\zeta` and its
own :math:`q_k`): one Newton step costs :math:`O(K\cdot\text{nodes})`, and the depth enters only as the
multiplicities :math:`m_k`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["solve_path", "axis_newton", "q_of_zeta", "clog1p"]


@njit(cache=True)
def clog1p(w):
    """log(1 + w) for complex w, accurate for small |w| (the real log1p carries the modulus)."""
    wr = w.real
    wi = w.imag
    return 0.5 * np.log1p(2.0 * wr + wr * wr + wi * wi) + 1j * np.arctan2(wi, 1.0 + wr)


@njit(cache=True)
def _block(zeta, q, t, w, gauss):
    """(f, df/dzeta, df/dq, |psi|) of f = q - psi(C') for one block (rule t, w)."""
    opq = 1.0 + q
    a1 = 1.0 + zeta - q
    a2 = zeta - q
    C = a1 * a2 / (opq * opq)
    dCz = (a1 + a2) / (opq * opq)
    dCq = -dCz - 2.0 * C / opq
    if gauss:
        Cp = C * opq
        dCpz = opq * dCz
        dCpq = C + opq * dCq
    else:
        Cp = C
        dCpz = dCz
        dCpq = dCq
    p = 0j
    dp = 0j
    for i in range(t.shape[0]):
        den = 1.0 - Cp * t[i]
        p += w[i] * Cp * t[i] / den
        dp += w[i] * t[i] / (den * den)
    return q - p, -dp * dCpz, 1.0 - dp * dCpq, abs(p)


@njit(cache=True)
def _eval(lx, zeta, q, t, w, mult, gauss, f, fz, fq):
    """Residuals f[0] (log-equation), f[1:] (blocks) and the arrow Jacobian: returns
    (dF0/dzeta, residual norm); fz[k], fq[k] = d f_k / d(zeta, q_k); f[K + 1 + k] = dF0/dq_k."""
    K = mult.shape[0]
    l0 = clog1p(1.0 / zeta)
    f0 = lx - l0
    mag = abs(lx) + abs(l0)
    a = 1.0 / (zeta * (1.0 + zeta))
    res = 0.0
    for k in range(K):
        qk = q[k]
        l1 = clog1p(-qk / (1.0 + zeta))
        l2 = clog1p(-qk / zeta)
        f0 += mult[k] * (l1 + l2)
        mag += mult[k] * (abs(l1) + abs(l2))
        a += mult[k] * (qk / ((1.0 + zeta) * (1.0 + zeta - qk)) + qk / (zeta * (zeta - qk)))
        f[K + 1 + k] = -mult[k] * (1.0 / (1.0 + zeta - qk) + 1.0 / (zeta - qk))
        fk, dz, dq, ap = _block(zeta, qk, t[k], w[k], gauss)
        f[k + 1] = fk
        fz[k] = dz
        fq[k] = dq
        res += abs(fk) / max(abs(qk) + ap, 1e-300)
    f[0] = f0
    # the log-equation is a sum of O(L) logarithms: its round-off is relative to their size
    res += abs(f0) / max(mag, 1e-300)
    return a, res


@njit(cache=True)
def _direction(f, a, fz, fq, K):
    """Newton direction of the arrow system (block unknowns eliminated); (dzeta, dq in fz)."""
    num = -f[0]
    den = a
    for k in range(K):
        b = f[K + 1 + k]
        num += b * f[k + 1] / fq[k]
        den -= b * fz[k] / fq[k]
    dz = num / den
    for k in range(K):
        fz[k] = (-f[k + 1] - fz[k] * dz) / fq[k]
    return dz


@njit(cache=True)
def _newton(lx, zeta, q, t, w, mult, gauss, iters, tol):
    K = mult.shape[0]
    f = np.empty(2 * K + 1, np.complex128)
    fc = np.empty(2 * K + 1, np.complex128)
    fz = np.empty(K, np.complex128)
    fq = np.empty(K, np.complex128)
    fzc = np.empty(K, np.complex128)
    fqc = np.empty(K, np.complex128)
    dq = np.empty(K, np.complex128)
    qc = np.empty(K, np.complex128)
    a, res = _eval(lx, zeta, q, t, w, mult, gauss, f, fz, fq)
    for it in range(iters):
        if not (res > tol):
            break
        dz = _direction(f, a, fz, fq, K)
        for k in range(K):
            dq[k] = fz[k]
        if not (np.isfinite(dz.real) and np.isfinite(dz.imag)):
            break
        lam = 1.0
        moved = False
        for h in range(12):
            zc = zeta + lam * dz
            for k in range(K):
                qc[k] = q[k] + lam * dq[k]
            ac, rc = _eval(lx, zc, qc, t, w, mult, gauss, fc, fzc, fqc)
            if rc < res:
                zeta = zc
                for k in range(K):
                    q[k] = qc[k]
                    fz[k] = fzc[k]
                    fq[k] = fqc[k]
                for k in range(2 * K + 1):
                    f[k] = fc[k]
                a, res = ac, rc
                moved = True
                break
            lam *= 0.5
        if not moved:
            break
    return zeta, res


@njit(cache=True)
def _predict(lx0, lx1, zeta, q, t, w, mult, gauss):
    """First-order predictor along the branch: log x enters linearly, so d(zeta, q)/d log x solves
    J d(zeta, q) = -(1, 0, ..., 0)."""
    K = mult.shape[0]
    f = np.empty(2 * K + 1, np.complex128)
    fz = np.empty(K, np.complex128)
    fq = np.empty(K, np.complex128)
    a, res = _eval(lx0, zeta, q, t, w, mult, gauss, f, fz, fq)
    f[0] = lx1 - lx0
    for k in range(K):
        f[k + 1] = 0.0
    dz = _direction(f, a, fz, fq, K)
    if not (np.isfinite(dz.real) and np.isfinite(dz.imag)) or abs(dz) > 0.5 * abs(zeta):
        return zeta
    for k in range(K):
        if np.isfinite(fz[k].real) and np.isfinite(fz[k].imag):
            q[k] = q[k] + fz[k]
    return zeta + dz


@njit(cache=True)
def _descend(dr, y, y_end, zeta, q, t, w, mult, gauss, tol):
    """Walk from height ``y`` down to ``y_end`` above ``1 + dr``, rungs whose ratio adapts
    (squared after a success, square-rooted after a failure).  Returns (zeta, y, res, ok)."""
    K = mult.shape[0]
    qs = np.empty(K, np.complex128)
    rho = 0.3
    res = 0.0
    while y > y_end:
        ynew = max(y * rho, y_end)
        zs = zeta
        for k in range(K):
            qs[k] = q[k]
        zp = _predict(clog1p(dr + 1j * y), clog1p(dr + 1j * ynew), zeta, q, t, w, mult, gauss)
        zt, rt = _newton(clog1p(dr + 1j * ynew), zp, q, t, w, mult, gauss, 12, tol)
        if rt <= 100.0 * tol and zt.imag <= 1e-9 * abs(zt):
            zeta = zt
            y = ynew
            res = rt
            rho = max(rho * rho, 1e-3)
        else:
            zeta = zs
            for k in range(K):
                q[k] = qs[k]
            rho = np.sqrt(rho)
            if rho > 0.999:
                return zeta, y, res, False
    return zeta, y, res, True


@njit(cache=True)
def _start(d, q, m1, nu1, t, w, mult, gauss, tol):
    """State far above the law: zeta = psi_J(1/x) ~ m1/(x - m1), then each q_k by scalar Newton."""
    K = mult.shape[0]
    zeta = m1 / (1.0 + d - m1)
    for k in range(K):
        qk = nu1[k] * zeta / (1.0 + nu1[k])
        for it in range(30):
            fk, dz, dq, ap = _block(zeta, qk, t[k], w[k], gauss)
            step = fk / dq
            qk = qk - step
            if abs(step) <= 1e-15 * abs(qk):
                break
        q[k] = qk
    return zeta


@njit(cache=True)
def solve_path(ds, order, t, w, mult, gauss, m1, nu1, scale, tol):
    """``(zeta, q, residual)`` at every ``x = 1 + d`` of ``ds`` (upper half-plane or real), visited in
    ``order``.

    A point is warm-started from the previous one (first-order predictor, then Newton) when they are
    close on the scale of their height above the axis; otherwise it is reached by a ladder of heights
    from ``30 (scale + |x - m1|)`` down to its own height.  ``residual`` is relative.
    """
    n = ds.shape[0]
    K = mult.shape[0]
    zout = np.empty(n, np.complex128)
    qout = np.empty((n, K), np.complex128)
    resid = np.empty(n)
    q = np.empty(K, np.complex128)
    qp = np.empty(K, np.complex128)
    have = False
    zp = 0j
    dp = 0j
    for ii in range(n):
        i = order[ii]
        d = ds[i]
        ok = False
        if have and abs(d - dp) <= 0.3 * max(d.imag, dp.imag, 0.02 * scale):
            for k in range(K):
                q[k] = qp[k]
            z0 = _predict(clog1p(dp), clog1p(d), zp, q, t, w, mult, gauss)
            z, res = _newton(clog1p(d), z0, q, t, w, mult, gauss, 20, tol)
            ok = res <= 100.0 * tol and z.imag <= 1e-9 * abs(z)
        if not ok:
            # above the target: a point of the upper half-plane far from the axis starts at its own height
            ytop = max(30.0 * (scale + abs(1.0 + d.real - m1)), d.imag)
            z = _start(d.real + 1j * ytop, q, m1, nu1, t, w, mult, gauss, tol)
            z, res = _newton(clog1p(d.real + 1j * ytop), z, q, t, w, mult, gauss, 60, tol)
            z, y, res, ok = _descend(d.real, ytop, d.imag, z, q, t, w, mult, gauss, tol)
            if not ok:
                res = np.inf
        zout[i] = z
        for k in range(K):
            qout[i, k] = q[k]
        resid[i] = res
        if ok:
            have = True
            zp = z
            dp = d
            for k in range(K):
                qp[k] = q[k]
    return zout, qout, resid


@njit(cache=True)
def q_of_zeta(zs, t, w, nu1, gauss, tol):
    """Block unknowns q_k(zeta) and dq_k/dzeta at every zeta of ``zs`` (many distinct blocks: the
    state of the law is zeta alone).  Newton per block from the first-order guess
    q = nu_1 zeta (1+zeta) / (1 + nu_1 (1 + 2 zeta)), steps halved until |f| decreases; ``ok`` False
    where a block did not converge."""
    n = zs.shape[0]
    K = t.shape[0]
    q = np.empty((n, K), np.complex128)
    dq = np.empty((n, K), np.complex128)
    ok = np.ones(n, np.bool_)
    for i in range(n):
        ze = zs[i]
        for k in range(K):
            qk = nu1[k] * ze * (1.0 + ze) / (1.0 + nu1[k] * (1.0 + 2.0 * ze))
            f, fz, fq, ap = _block(ze, qk, t[k], w[k], gauss)
            err = abs(f) / max(abs(qk) + ap, 1e-300)
            for it in range(60):
                if err <= tol:
                    break
                step = f / fq
                lam = 1.0
                moved = False
                for h in range(20):
                    qc = qk - lam * step
                    fc, fzc, fqc, apc = _block(ze, qc, t[k], w[k], gauss)
                    ec = abs(fc) / max(abs(qc) + apc, 1e-300)
                    if ec < err:
                        qk, f, fz, fq, err = qc, fc, fzc, fqc, ec
                        moved = True
                        break
                    lam *= 0.5
                if not moved:
                    break
            if not (err <= 100.0 * tol):
                ok[i] = False
            q[i, k] = qk
            dq[i, k] = -fz / fq
    return q, dq, ok


@njit(cache=True)
def axis_newton(ds, zeta0, q0, t, w, mult, gauss, steps):
    """``steps`` plain (undamped) Newton steps of the arrow system at every real ``x = 1 + d`` of ``ds``
    from the states ``(zeta0, q0)`` found just above the axis, then the relative residual: the compiled
    twin of the engine's axis Newton (:meth:`freeprob.SolvedLaw._axis_newton`; near an edge the
    residual is at rounding while the state is still moving, so the steps are not guarded)."""
    n = ds.shape[0]
    K = mult.shape[0]
    zout = np.empty(n, np.complex128)
    qout = np.empty((n, K), np.complex128)
    resid = np.empty(n)
    f = np.empty(2 * K + 1, np.complex128)
    fz = np.empty(K, np.complex128)
    fq = np.empty(K, np.complex128)
    q = np.empty(K, np.complex128)
    for i in range(n):
        lx = clog1p(ds[i] + 0j)
        zeta = zeta0[i]
        for k in range(K):
            q[k] = q0[i, k]
        for it in range(steps):
            a, res = _eval(lx, zeta, q, t, w, mult, gauss, f, fz, fq)
            dz = _direction(f, a, fz, fq, K)
            good = np.isfinite(dz.real) and np.isfinite(dz.imag)
            for k in range(K):
                good = good and np.isfinite(fz[k].real) and np.isfinite(fz[k].imag)
            if not good:
                continue
            zeta = zeta + dz
            for k in range(K):
                q[k] = q[k] + fz[k]
        a, res = _eval(lx, zeta, q, t, w, mult, gauss, f, fz, fq)
        zout[i] = zeta
        for k in range(K):
            qout[i, k] = q[k]
        resid[i] = res
    return zout, qout, resid
