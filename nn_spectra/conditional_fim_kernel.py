r"""Compiled solver of the layer recursion of :mod:`nn_spectra.conditional_fim`.

Unknowns :math:`\omega_2, \dots, \omega_{L-1}` (``om[0..K-1]``, :math:`K = L-2`); with
:math:`\omega_L = 1/x`, :math:`z_l = \sigma_w^2\omega_{l+1}/(1 - \hat q_l\omega_{l+1})`,
:math:`E_1 = \eta_1(\hat q_0 z_1)`, :math:`E_l = 1 - (1 - \hat q_{l-1}\omega_l)(1 - E_{l-1})`, the equations are

.. math:: r_l = \big(\omega_l - z_l\,h_l(z_l E_l/\omega_l)\big)/\omega_l = 0,\qquad l = 2, \dots, L-1,

the same residual (each row relative to its unknown) and the same Jacobian as
:meth:`ConditionalFIMLaw._residual`, which stays the reference.  :math:`h_l(u) = \eta_l(u)/u`,
:math:`\eta = \psi/(1+\psi)` and :math:`\psi_l(u) = \sum_i w_i t_i u/(1 - t_i u)` is the discrete rule
of :math:`D_l^2` (exact for relu/hard_tanh, Gauss–Legendre for smooth :math:`\phi'`).

Points are visited in a given order.  Each is warm-started from the previous solved point with a
first-order predictor, :math:`u(z) \approx u(z_p) + u'(z_p)(z - z_p)` with the tangent
:math:`u' = -J^{-1}\partial_x r\,\mathrm{d}x/\mathrm{d}z` (only the last row depends on :math:`x`,
through :math:`\omega_L = 1/x`); when that fails (Newton does not converge, or lands off the physical
branch :math:`\operatorname{Im}\omega_l \le 0`, :math:`\operatorname{Im} G \le 0`), the point is reached
down a ladder of heights from :math:`10(1 + |\operatorname{Re} z|)` (standardized units) where the
:math:`1/x` asymptotics start Newton, again with the tangent predictor from rung to rung, the
ratio of heights adapting to Newton's success.  Newton steps are halved until the residual drops.
On the axis (:func:`axis_path`) each point is solved at the relative height ``y_ax`` and then
Newton is iterated with :math:`\operatorname{Im} x = 0` exactly (plain steps: next to an edge the
residual is at rounding while the state is not), accepted when it converges to a root next to the
state above it on the physical side.  Along a grid, a point next to two certified axis points skips
the height: the cubic Hermite extrapolation of their states and tangents (error O(h^4)) starts Newton
at Im x = 0 directly, accepted when its first step is below 1e-6 of the state (:func:`_axis_direct`);
on the support grid of the tanh law at depth 20 this halves the cost of the axis solve.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["solve_path", "axis_path", "residual_at", "residuals"]


@njit(cache=True, error_model="numpy")
def _inv(b):
    # numba raises on a complex division by zero: a nan state fails the checks instead
    if b == 0:
        return complex(np.nan, np.nan)
    return 1.0 / b


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _eta(lv, u, tr, ti, wtr, wti, off):
    """eta_{D^2} of level lv (0-based) and its derivative at u.

    psi(u) = u S1, psi'(u) = S2 with S1 = sum w t/(1 - t u), S2 = sum w t/(1 - t u)^2, in real
    arithmetic (one real division per node; the sums vectorise)."""
    ur = u.real
    ui = u.imag
    s1r = 0.0
    s1i = 0.0
    s2r = 0.0
    s2i = 0.0
    for i in range(off[lv], off[lv + 1]):
        a = 1.0 - (tr[i] * ur - ti[i] * ui)
        b = -(tr[i] * ui + ti[i] * ur)
        rd = 1.0 / (a * a + b * b)
        ivr = a * rd
        ivi = -b * rd
        pr = wtr[i] * ivr - wti[i] * ivi
        pi = wtr[i] * ivi + wti[i] * ivr
        s1r += pr
        s1i += pi
        s2r += pr * ivr - pi * ivi
        s2i += pr * ivi + pi * ivr
    p = u * complex(s1r, s1i)
    dp = complex(s2r, s2i)
    ip = _inv(1.0 + p)
    return p * ip, dp * ip * ip


@njit(cache=True, error_model="numpy")
def _eval(x, om, s2, q, tr, ti, wtr, wti, off, r, J, fx, z, dz, E, dE):
    """Fill r (K,), J (K, K) and fx = dr/dx (K,); return (max |r|, E_L)."""
    K = om.shape[0]
    top = _inv(x)
    for j in range(K + 1):
        up = om[j] if j < K else top
        d = _inv(1.0 - q[j + 1] * up)
        z[j] = s2 * up * d
        dz[j] = s2 * d * d
    e1, de1 = _eta(0, q[0] * z[0], tr, ti, wtr, wti, off)
    for i in range(K):
        for k in range(K):
            dE[i, k] = 0.0
    eprev = e1
    for i in range(K):
        a = q[i + 1]
        f = 1.0 - a * om[i]
        E[i] = 1.0 - f * (1.0 - eprev)
        if i == 0:
            dE[0, 0] = f * de1 * q[0] * dz[0]
        else:
            for k in range(i):
                dE[i, k] = f * dE[i - 1, k]
        dE[i, i] += a * (1.0 - eprev)
        eprev = E[i]
    etop = 1.0 - (1.0 - q[K + 1] * top) * (1.0 - eprev)
    res = 0.0
    for i in range(K):
        zl = z[i + 1]
        dzl = dz[i + 1]
        o = om[i]
        if o == 0 or E[i] == 0 or zl == 0:
            r[i] = complex(np.nan, np.nan)
            return np.nan, etop
        u = zl * E[i] / o
        if u == 0:
            r[i] = complex(np.nan, np.nan)
            return np.nan, etop
        eta, deta = _eta(i + 1, u, tr, ti, wtr, wti, off)
        hv = eta / u
        dh = deta / u - eta / (u * u)
        r[i] = (o - zl * hv) / o
        a = abs(r[i])
        if not (a <= res):
            res = a           # also propagates nan
        c = -(zl * dh) / o
        for k in range(K):
            J[i, k] = c * zl * dE[i, k] / o
        J[i, i] += -c * zl * E[i] / (o * o) + 1.0 / o
        # d/d omega_{l+1} through z_l (omega_{l+1} = 1/x in the last row)
        dval = (-dzl * hv - zl * dh * dzl * E[i] / o) / o
        fx[i] = 0.0
        if i < K - 1:
            J[i, i + 1] += dval
        else:
            fx[i] = dval * (-top * top)
    return res, etop


@njit(cache=True, error_model="numpy")
def _lu_solve(A, b, out, M):
    """out = A^{-1} b by Gaussian elimination with partial pivoting (A, b overwritten via M)."""
    K = b.shape[0]
    for i in range(K):
        for k in range(K):
            M[i, k] = A[i, k]
        out[i] = b[i]
    for c in range(K):
        p = c
        best = abs(M[c, c])
        for i in range(c + 1, K):
            if abs(M[i, c]) > best:
                best = abs(M[i, c])
                p = i
        if best == 0.0:
            return False
        if p != c:
            for k in range(K):
                tmp = M[c, k]
                M[c, k] = M[p, k]
                M[p, k] = tmp
            tmp = out[c]
            out[c] = out[p]
            out[p] = tmp
        piv = M[c, c]
        for i in range(c + 1, K):
            f = M[i, c] / piv
            if f != 0:
                for k in range(c, K):
                    M[i, k] -= f * M[c, k]
                out[i] -= f * out[c]
    for c in range(K - 1, -1, -1):
        acc = out[c]
        for k in range(c + 1, K):
            acc -= M[c, k] * out[k]
        out[c] = acc / M[c, c]
    return True


@njit(cache=True, error_model="numpy")
def _newton(x, om, s2, q, tr, ti, wtr, wti, off, iters, tol, polish, r, J, fx, z, dz, E, dE, step, cand, M,
            rc, Jc, fxc):
    """Guarded Newton at x from om (in place); returns (residual, E_L); J and fx are left at the
    returned state.  ``polish`` more full steps are taken after the tolerance is met (quadratic
    convergence: the state to rounding)."""
    K = om.shape[0]
    res, etop = _eval(x, om, s2, q, tr, ti, wtr, wti, off, r, J, fx, z, dz, E, dE)
    for it in range(iters):
        if res <= tol:
            if polish == 0 or res == 0.0:
                break
            polish -= 1
        for i in range(K):
            r[i] = -r[i]
        if not _lu_solve(J, r, step, M):
            break
        lam = 1.0
        moved = False
        for h in range(12):
            for i in range(K):
                cand[i] = om[i] + lam * step[i]
            rn, en = _eval(x, cand, s2, q, tr, ti, wtr, wti, off, rc, Jc, fxc, z, dz, E, dE)
            if rn < res or (res <= tol and rn <= tol):
                for i in range(K):
                    om[i] = cand[i]
                    r[i] = rc[i]
                    fx[i] = fxc[i]
                    for k in range(K):
                        J[i, k] = Jc[i, k]
                res, etop = rn, en
                moved = True
                break
            lam *= 0.5
        if not moved:
            break
    return res, etop


@njit(cache=True, error_model="numpy")
def _physical(x, om, etop):
    # the physical branch: Im omega_l <= 0 (omega_l ~ 1/x) and Im G <= 0 above the axis
    for i in range(om.shape[0]):
        if om[i].imag > 1e-9 * abs(om[i]) or not np.isfinite(om[i].real) or not np.isfinite(om[i].imag):
            return False
    g = _inv(x * (1.0 - etop))
    if not (np.isfinite(g.real) and np.isfinite(g.imag)):
        return False
    return g.imag <= 1e-9 * abs(g)


@njit(cache=True, error_model="numpy")
def _tangent(J, fx, du, M, tmp):
    """du = d om/dx = -J^{-1} dr/dx at a solved point, from its J and dr/dx (False if J is singular)."""
    K = fx.shape[0]
    for i in range(K):
        tmp[i] = -fx[i]
    return _lu_solve(J, tmp, du, M)


@njit(cache=True, error_model="numpy")
def _start(x, om, s2, mc):
    # omega_l ~ (sigma_w^2 E D^2)^{L-l} / x far up in C+ (the 1/x asymptotics of every level)
    K = om.shape[0]
    v = _inv(x)
    for l in range(K - 1, -1, -1):
        v = v * s2 * mc[l]
        om[l] = v


@njit(cache=True, error_model="numpy")
def _ladder(xr, y_top, y_end, om, c, s, s2, q, tr, ti, wtr, wti, off, mc, tol, polish,
            r, J, fx, z, dz, E, dE, step, cand, M, rc, Jc, fxc, du, tmp, keep, acc):
    """Solve at standardized heights from y_top down to y_end above the standardized real point xr
    (a cold start at the top); the state at y_end in om; returns (residual, E_L, reached).  Newton
    aims at ``tol``; a rung is accepted at residual ``acc`` (>= tol: see :func:`axis_path`)."""
    K = om.shape[0]
    y = y_top
    x = c + s * (xr + 1j * y)
    _start(x, om, s2, mc)
    res, etop = _newton(x, om, s2, q, tr, ti, wtr, wti, off, 60, tol, polish, r, J, fx, z, dz, E, dE, step, cand,
                        M, rc, Jc, fxc)
    if not (res <= acc and _physical(x, om, etop)):
        return res, etop, False
    tan = _tangent(J, fx, du, M, tmp)
    rho = 0.1
    while y > y_end:
        ynew = max(y * rho, y_end)
        for i in range(K):
            keep[i] = om[i]
        xn = c + s * (xr + 1j * ynew)
        if tan:
            for i in range(K):
                om[i] = om[i] + du[i] * (xn - x)
        rn, en = _newton(xn, om, s2, q, tr, ti, wtr, wti, off, 12, tol, polish, r, J, fx, z, dz, E, dE, step, cand,
                         M, rc, Jc, fxc)
        if rn <= acc and _physical(xn, om, en):
            y = ynew
            x = xn
            res, etop = rn, en
            rho = max(rho * rho, 1e-3)
            tan = _tangent(J, fx, du, M, tmp)
        else:
            for i in range(K):
                om[i] = keep[i]
            rho = np.sqrt(rho)
            if rho > 0.999:
                return rn, en, False
    return res, etop, True


@njit(cache=True, error_model="numpy")
def solve_path(zs, order, c, s, s2, q, tr, ti, wtr, wti, off, mc, tol):
    """States ``om`` (n, K), ``E_L`` (n,), residual (n,), ``ok`` (n,) at standardized points ``zs``
    of C+ (``x = c + s zs``), visited in ``order``: warm start with the tangent predictor from the
    previous solved point, else the ladder of heights."""
    n = zs.shape[0]
    K = q.shape[0] - 2
    out = np.empty((n, K), np.complex128)
    eout = np.empty(n, np.complex128)
    resid = np.empty(n)
    okout = np.zeros(n, np.bool_)
    om = np.empty(K, np.complex128)
    omp = np.empty(K, np.complex128)
    dup = np.empty(K, np.complex128)
    r = np.empty(K, np.complex128)
    J = np.empty((K, K), np.complex128)
    fx = np.empty(K, np.complex128)
    z = np.empty(K + 1, np.complex128)
    dz = np.empty(K + 1, np.complex128)
    E = np.empty(K, np.complex128)
    dE = np.empty((K, K), np.complex128)
    step = np.empty(K, np.complex128)
    cand = np.empty(K, np.complex128)
    M = np.empty((K, K), np.complex128)
    rc = np.empty(K, np.complex128)
    Jc = np.empty((K, K), np.complex128)
    fxc = np.empty(K, np.complex128)
    du = np.empty(K, np.complex128)
    tmp = np.empty(K, np.complex128)
    keep = np.empty(K, np.complex128)
    have = False
    xp = 0j
    for ii in range(n):
        i = order[ii]
        zt = zs[i]
        x = c + s * zt
        ok = False
        res = np.inf
        etop = 0j
        if not (zt.imag > 0.0):
            for k in range(K):
                out[i, k] = np.nan
            eout[i] = np.nan
            resid[i] = np.inf
            continue
        if have:
            for k in range(K):
                om[k] = omp[k] + dup[k] * (x - xp)
            res, etop = _newton(x, om, s2, q, tr, ti, wtr, wti, off, 20, tol, 1, r, J, fx, z, dz, E, dE, step, cand,
                                M, rc, Jc, fxc)
            ok = res <= tol and _physical(x, om, etop)
        if not ok:
            ytop = max(10.0 * (1.0 + abs(zt.real)), zt.imag)
            res, etop, reached = _ladder(zt.real, ytop, zt.imag, om, c, s, s2, q, tr, ti, wtr, wti, off, mc, tol, 1,
                                         r, J, fx, z, dz, E, dE, step, cand, M, rc, Jc, fxc, du, tmp, keep, tol)
            ok = reached and res <= tol and _physical(x, om, etop)
        for k in range(K):
            out[i, k] = om[k]
        eout[i] = etop
        resid[i] = res
        okout[i] = ok
        if ok:
            have = _tangent(J, fx, dup, M, tmp)
            xp = x
            for k in range(K):
                omp[k] = om[k]
    return out, eout, resid, okout


@njit(cache=True, error_model="numpy")
def axis_path(xs, order, y_ax, c, s, s2, q, tr, ti, wtr, wti, off, mc, tol, axis_tol):
    """Boundary values at standardized real points ``xs``: each point solved at the standardized
    height ``y_ax`` (warm start along the path with the tangent predictor, else the ladder), then
    plain Newton steps with Im x = 0.  Returns (om at the axis, E_L, om at y_ax, E_L at y_ax,
    exact): ``exact`` where the axis Newton converged (residual <= axis_tol) to a root within 1e-3
    of the state above it on the physical side; the height state is returned for the others
    (``ok_height`` says where that one is converged)."""
    n = xs.shape[0]
    K = q.shape[0] - 2
    # The height state is only the predictor of the axis Newton, which certifies the boundary value
    # itself (below); so it is accepted at 100 tol.  Next to a point where one level's equations are
    # nearly singular (sigma_min(J) ~ 4e-9, the tanh law at depth 20 near x = 0.0833) rounding leaves
    # Newton's residual at 1e-12..4e-11 at every height below ~1e-6: demanding tol there failed every
    # ladder (0.17 s a point) and the edge search around that point took 60 of the 70 s of the
    # support (2026-12-03).  Newton still aims at tol, so at regular points the states are unchanged.
    acc = 100.0 * tol
    out = np.empty((n, K), np.complex128)
    eout = np.empty(n, np.complex128)
    hout = np.empty((n, K), np.complex128)
    ehout = np.empty(n, np.complex128)
    exact = np.zeros(n, np.bool_)
    okh = np.zeros(n, np.bool_)
    om = np.empty(K, np.complex128)
    oa = np.empty(K, np.complex128)
    omp = np.empty(K, np.complex128)
    dup = np.empty(K, np.complex128)
    r = np.empty(K, np.complex128)
    J = np.empty((K, K), np.complex128)
    fx = np.empty(K, np.complex128)
    z = np.empty(K + 1, np.complex128)
    dz = np.empty(K + 1, np.complex128)
    E = np.empty(K, np.complex128)
    dE = np.empty((K, K), np.complex128)
    step = np.empty(K, np.complex128)
    cand = np.empty(K, np.complex128)
    M = np.empty((K, K), np.complex128)
    rc = np.empty(K, np.complex128)
    Jc = np.empty((K, K), np.complex128)
    fxc = np.empty(K, np.complex128)
    du = np.empty(K, np.complex128)
    tmp = np.empty(K, np.complex128)
    keep = np.empty(K, np.complex128)
    a1 = np.empty(K, np.complex128)
    a2 = np.empty(K, np.complex128)
    t1 = np.empty(K, np.complex128)
    t2 = np.empty(K, np.complex128)
    have = False
    xp = 0j
    na = 0          # certified axis states in (a1, t1) [and (a2, t2)], the last at xr1 [xr2]
    xr1 = 0.0
    xr2 = 0.0
    for ii in range(n):
        i = order[ii]
        xr = xs[i]
        x = c + s * (xr + 1j * y_ax)
        ok = False
        etop = 0j
        if na > 0 and abs(xr - xr1) < 0.05 * (1.0 + abs(xr)):
            if _axis_direct(xr, xr1, xr2, na, a1, t1, a2, t2, oa, c, s, s2, q, tr, ti, wtr, wti, off, tol, r, J,
                            fx, z, dz, E, dE, step, M, tmp, du, eout, i):
                exact[i] = True
                okh[i] = True
                for k in range(K):
                    out[i, k] = oa[k]
                    hout[i, k] = oa[k]
                    a2[k] = a1[k]
                    t2[k] = t1[k]
                    a1[k] = oa[k]
                    t1[k] = du[k]
                ehout[i] = eout[i]
                xr2 = xr1
                xr1 = xr
                na = min(na + 1, 2)
                continue
        if have:
            for k in range(K):
                om[k] = omp[k] + dup[k] * (x - xp)
            res, etop = _newton(x, om, s2, q, tr, ti, wtr, wti, off, 20, tol, 0, r, J, fx, z, dz, E, dE, step, cand,
                                M, rc, Jc, fxc)
            ok = res <= acc and _physical(x, om, etop)
        if not ok:
            ytop = 10.0 * (1.0 + abs(xr))
            res, etop, reached = _ladder(xr, ytop, y_ax, om, c, s, s2, q, tr, ti, wtr, wti, off, mc, tol, 0,
                                         r, J, fx, z, dz, E, dE, step, cand, M, rc, Jc, fxc, du, tmp, keep, acc)
            ok = reached and res <= acc and _physical(x, om, etop)
        for k in range(K):
            hout[i, k] = om[k]
        ehout[i] = etop
        okh[i] = ok
        if not ok:
            for k in range(K):
                out[i, k] = om[k]
            eout[i] = etop
            continue
        have = _tangent(J, fx, dup, M, tmp)
        xp = x
        for k in range(K):
            omp[k] = om[k]
        # the axis: predictor from the height state, then plain Newton steps at Im x = 0
        xa = c + s * xr + 0j
        for k in range(K):
            oa[k] = om[k] + dup[k] * (xa - x) if have else om[k]
        ra = np.inf
        ea = etop
        ra, ea = _eval(xa, oa, s2, q, tr, ti, wtr, wti, off, r, J, fx, z, dz, E, dE)
        small = False
        gsmall = False
        ga = _inv(xa * (1.0 - ea))
        for it in range(6):
            for k in range(K):
                tmp[k] = -r[k]
            if not _lu_solve(J, tmp, step, M):
                break
            small = True
            for k in range(K):
                oa[k] += step[k]
                if not (abs(step[k]) <= 1e-14 * abs(oa[k])):
                    small = False
            ra, ea = _eval(xa, oa, s2, q, tr, ti, wtr, wti, off, r, J, fx, z, dz, E, dE)
            gn = _inv(xa * (1.0 - ea))
            # G settled although the state did not: where one level's equations are nearly
            # singular (sigma_min ~ 1e-9 inside the support of the tanh law at depth 20) rounding
            # moves the state along the near-null direction by ~1e-11 per step, and G by ~1e-12
            # of |G|; the density's own rounding-error test (SolvedLaw._resolved, with the
            # residual left) then decides whether it counts.  Only judged after the quadratic
            # phase (a point that converges has met ``small`` by then).
            gsmall = abs(gn - ga) <= 1e-10 * abs(gn)
            ga = gn
            if small:
                break
        near = True
        for k in range(K):
            if not (abs(oa[k] - om[k]) <= 1e-3 * (1.0 + abs(om[k]))):
                near = False
        g = _inv(xa * (1.0 - ea))
        phys = np.isfinite(g.real) and np.isfinite(g.imag) and g.imag <= 1e-9 * abs(g)
        # converged: residual at the axis tolerance, or Newton's step at rounding with the residual
        # at its floor (sums of O(L) thousand-node rules: ~1e-13..1e-12)
        if (ra <= axis_tol or (small and ra <= tol) or (gsmall and ra <= 100.0 * tol)) and near and phys:
            exact[i] = True
            for k in range(K):
                out[i, k] = oa[k]
            eout[i] = ea
            # the axis tangent (J at the last evaluation, one rounding-level step away) for the
            # next point's direct predictor
            if _tangent(J, fx, du, M, tmp):
                adjacent = na > 0 and abs(xr - xr1) < 0.05 * (1.0 + abs(xr))
                for k in range(K):
                    if adjacent:
                        a2[k] = a1[k]
                        t2[k] = t1[k]
                    a1[k] = oa[k]
                    t1[k] = du[k]
                xr2 = xr1
                xr1 = xr
                na = 2 if adjacent else 1
            else:
                na = 0
        else:
            for k in range(K):
                out[i, k] = om[k]
            eout[i] = etop
            na = 0
    return out, eout, hout, ehout, exact, okh


@njit(cache=True, error_model="numpy")
def _axis_direct(xr, xr1, xr2, na, a1, t1, a2, t2, oa, c, s, s2, q, tr, ti, wtr, wti, off, tol, r, J, fx, z, dz,
                 E, dE, step, M, tmp, du, eout, i):
    """The axis state at the standardized real point ``xr`` straight from the certified axis states
    before it, without a solve above the axis: the predictor extrapolates the cubic Hermite
    interpolant of the last two (states and tangents d om/dx; linear with one), error O(h^4), and
    plain Newton steps at Im x = 0 follow.  Accepted (state in ``oa``, its tangent in ``du``,
    E_L in ``eout[i]``) only when the first step is below 1e-6 of the state (the predictor was on
    this branch: another root of the system is O(1) away, or O(sqrt(d)) at distance d from an edge,
    where the interpolant's error is large instead), Newton then reaches a rounding-level step with
    the residual at tolerance, and the root is physical.  Otherwise the caller takes the path
    through the height ``y_ax``."""
    K = oa.shape[0]
    xa = c + s * xr + 0j
    h = (xr - xr1) * s
    hh = (xr1 - xr2) * s if na > 1 else 0.0
    if hh != 0.0:
        u = 1.0 + h / hh
        b00 = (2.0 * u - 3.0) * u * u + 1.0
        b10 = ((u - 2.0) * u + 1.0) * u * hh
        b01 = (3.0 - 2.0 * u) * u * u
        b11 = (u - 1.0) * u * u * hh
        for k in range(K):
            oa[k] = b00 * a2[k] + b10 * t2[k] + b01 * a1[k] + b11 * t1[k]
    else:
        for k in range(K):
            oa[k] = a1[k] + t1[k] * h
    ra, ea = _eval(xa, oa, s2, q, tr, ti, wtr, wti, off, r, J, fx, z, dz, E, dE)
    if not np.isfinite(ra):
        return False
    for it in range(5):
        for k in range(K):
            tmp[k] = -r[k]
        if not _lu_solve(J, tmp, step, M):
            return False
        small = True
        for k in range(K):
            if not (abs(step[k]) <= 1e-6 * abs(oa[k])):
                if it == 0:
                    return False
            if not (abs(step[k]) <= 1e-14 * abs(oa[k])):
                small = False
        if small:
            if not (ra <= tol):
                return False
            # the rounding-level step is applied without another evaluation: J, fx (for the
            # tangent) and E_L are those of the state one such step away
            if not _tangent(J, fx, du, M, tmp):
                return False
            for k in range(K):
                oa[k] += step[k]
            if not _physical(xa, oa, ea):
                return False
            eout[i] = ea
            return True
        for k in range(K):
            oa[k] += step[k]
        ra, ea = _eval(xa, oa, s2, q, tr, ti, wtr, wti, off, r, J, fx, z, dz, E, dE)
        if not np.isfinite(ra):
            return False
    return False


@njit(cache=True, error_model="numpy")
def residual_at(x, om, s2, q, tr, ti, wtr, wti, off):
    """(r, J, dr/dx, E_L) of one point: the compiled residual, for tests against the numpy one."""
    K = om.shape[0]
    r = np.empty(K, np.complex128)
    J = np.empty((K, K), np.complex128)
    fx = np.empty(K, np.complex128)
    z = np.empty(K + 1, np.complex128)
    dz = np.empty(K + 1, np.complex128)
    E = np.empty(K, np.complex128)
    dE = np.empty((K, K), np.complex128)
    res, etop = _eval(x, om, s2, q, tr, ti, wtr, wti, off, r, J, fx, z, dz, E, dE)
    return r, J, fx, etop


@njit(cache=True, error_model="numpy")
def residuals(xs, u, s2, q, tr, ti, wtr, wti, off):
    """``(r, J)`` of :meth:`ConditionalFIMLaw._residual` at the (unstandardized) points ``xs`` and
    states ``u = (omega_2..omega_{L-1}, E_L)``, shapes (n, K+1) and (n, K+1, K+1): the chain rows
    relative to their unknowns, then ``e - E_L`` (its row -dE_L/d omega, 1)."""
    n = xs.shape[0]
    K = u.shape[1] - 1
    rout = np.empty((n, K + 1), np.complex128)
    Jout = np.zeros((n, K + 1, K + 1), np.complex128)
    om = np.empty(K, np.complex128)
    r = np.empty(K, np.complex128)
    J = np.empty((K, K), np.complex128)
    fx = np.empty(K, np.complex128)
    z = np.empty(K + 1, np.complex128)
    dz = np.empty(K + 1, np.complex128)
    E = np.empty(K, np.complex128)
    dE = np.empty((K, K), np.complex128)
    for i in range(n):
        for k in range(K):
            om[k] = u[i, k]
        _res, etop = _eval(xs[i], om, s2, q, tr, ti, wtr, wti, off, r, J, fx, z, dz, E, dE)
        if not np.isfinite(_res):
            # _eval stops at the first undefined row: the whole point is undefined
            for k in range(K + 1):
                rout[i, k] = complex(np.nan, np.nan)
                for j in range(K + 1):
                    Jout[i, k, j] = complex(np.nan, np.nan)
            continue
        for k in range(K):
            rout[i, k] = r[k]
            for j in range(K):
                Jout[i, k, j] = J[k, j]
        rout[i, K] = u[i, K] - etop
        f = 1.0 - q[K + 1] * _inv(xs[i])
        for j in range(K):
            Jout[i, K, j] = -f * dE[K - 1, j]
        Jout[i, K, K] = 1.0
    return rout, Jout
