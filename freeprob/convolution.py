r"""Free additive (⊞) and multiplicative (⊠) convolutions of any number of laws, by subordination.

n-ary additive subordination.  For :math:`\mu = \mu_1^{\boxplus k_1}\boxplus\cdots\boxplus\mu_n^{\boxplus k_n}`
(distinct laws :math:`\mu_g`, real multiplicities :math:`k_g\ge 1`, e.g. a free power), with
:math:`h_g = F_{\mu_g} - \mathrm{id}`, there are subordination functions :math:`\omega_g` with
:math:`G_\mu(z) = G_{\mu_g}(\omega_g(z))` for every g and :math:`\sum_g k_g\omega_g - z = (\sum_g k_g - 1)F_\mu(z)`.
Eliminating :math:`F_\mu = z + \sum_g k_g h_g(\omega_g)`:

.. math:: \omega_g = z + \sum_h k_h h_h(\omega_h) - h_g(\omega_g),\qquad
          G_\mu(z) = \frac{1}{z + \sum_h k_h h_h(\omega_h)} .

n-ary multiplicative subordination, for laws on :math:`[0,\infty)`, in the upper half-plane variables
:math:`\Omega_g` of :math:`\eta`-subordination (:math:`\eta(u) = 1 - uF(1/u)`, so that
:math:`\eta_{\mu_g}(1/\Omega) = -h_g(\Omega)/\Omega`), unknowns :math:`\ell_g = \log\Omega_g`:

.. math:: \ell_g = \log\zeta - \sum_h k_h K_h(\ell_h) + K_g(\ell_g),\quad K_g(\ell) = \log(-h_g(e^\ell)),\qquad
          G_\mu(\zeta) = \frac{1}{\zeta - \exp\sum_h k_h K_h(\ell_h)} .

For two laws these are the Belinschi–Bercovici equations; a single law with multiplicity t is the
free power :math:`\omega = z + (t-1)h_\mu(\omega)`.  Both systems read
:math:`x_g = A(z) + s\,(S - K_g(x_g))`, :math:`S = \sum_h k_h K_h(x_h)` (s = +1 for ⊞ with
:math:`K = h`, s = −1 for ⊠), whose Jacobian is a diagonal plus a rank-one matrix: each Newton step costs
O(n) by the Sherman–Morrison formula, so ⊞ or ⊠ of n distinct laws costs linear in n, and nested
expressions are flattened into one system (``boxplus(boxplus(a, b), c)`` is one three-law system).

Standardized coordinates (:class:`freeprob.solved.SolvedLaw`): for ⊞ the centre is :math:`\sum k_g c_g`
and the scale :math:`(\sum k_g s_g^2)^{1/2}` from each input's frame; for ⊠ the centre is 0 and the scale
:math:`\prod m_g^{k_g}` (the mean).  The inputs are rescaled, exactly, into these coordinates before the
solve, so every tolerance is relative.

Atoms are exact (Bercovici–Voiculescu): ⊞ has an atom at :math:`\sum_g k_g a_g` iff
:math:`\sum_g k_g\mu_g\{a_g\} - (\sum_g k_g - 1) > 0`, with that mass; ⊠ likewise at
:math:`\prod a_g^{k_g}` (all :math:`a_g\ne 0`), and at 0 the mass :math:`\max_g \mu_g\{0\}`.

Point-mass inputs.  Standardized, a point mass is :math:`\delta_0` (⊞) or :math:`\delta_1` (⊠), whose
h ≡ 0 (K ≡ 0): it leaves the system exactly, moving only the centre (⊞) or the scale (⊠), and its
subordination function follows from G (:math:`\tilde\omega = \tilde F`, resp.
:math:`\tilde\Omega = \tilde z/(\tilde z - \tilde F)`).  With at most one other input, of multiplicity 1,
the law is that input shifted or scaled and its closed forms are used.

When every input has a compiled Cauchy kernel (:mod:`freeprob.cauchy_kernels`) the per-point Newton
iteration and its continuation run in numba, warm-started along a grid; otherwise the engine's
vectorised continuation is used.

Densities next to an edge.  At distance δ from a square-root edge the system's smallest singular
value is ~√δ, so the few-ulp rounding of a residual evaluated in double, and of the standardization
x~ = (x − c)/s, moves the density by ~eps/√δ (SC ⊞ MP(½): 1.9e-15 at 9.5e-4 from an edge, 8e-14 at
1e-5, 0 instead of 2e-9 one ulp inside it).  Where the sweep's own estimate of that error is large
(``FreeConvolution.REFINE_AMP``) ``pdf`` recomputes the point by Newton steps whose residual is
evaluated in double-double (:mod:`freeprob.double_double`) at the original x, standardized exactly
(iterative refinement): the density is then correct to ~1e-18 there, for a few percent of the time.
"""
from __future__ import annotations

import math
import types
from functools import cached_property

import numpy as np
from numba import njit

from . import cauchy_kernels as ck
from . import double_double as dd
from .combinatorics import boxtimes_moments, free_cumulants_to_moments, moments_to_free_cumulants
from .law import Law
from .solved import _Y_FLOOR, ConvergenceError, SolvedLaw, location_scale

__all__ = ["boxplus", "boxtimes", "FreeConvolution", "SubordinationError", "kernel_of"]

PLUS, TIMES = 0, 1
#: continuation heights (standardized units, times 1 + |x|)
_HEIGHTS = np.geomspace(10.0, 1e-16, 35)
#: Newton steps of the double-double refinement (:func:`_refine_nb`)
_REFINE_IT = 24


class SubordinationError(ConvergenceError):
    """The subordination fixed point did not converge (the message gives the point and the residual)."""


# ============================================================================ compiled solver
@njit(cache=True, error_model="numpy")
def _h_aff_nb(kind, params, a, b, w):
    """(h(w), h'(w)) of the law of a·X + b, X with compiled kernel ``kind`` (any real a ≠ 0)."""
    v = (w - b) / a
    conj = v.imag < 0.0
    if conj:
        v = v.conjugate()
    h, dh = ck.h_nb(kind, params, v)
    if conj:
        h = h.conjugate()
        dh = dh.conjugate()
    return a * h - b, dh


@njit(cache=True, error_model="numpy")
def _k_nb(op, kind, params, a, b, x):
    """(K_g(x), K_g'(x)) for one group: ⊞ K = h(ω) with the state v = −1/ω (bounded where ω runs
    off to infinity), so K' = h'(ω)ω²; ⊠ K = log(−h(Ω)) with the state ℓ = log Ω, K' = Ωh'/h."""
    if op == PLUS:
        # v = 0 is ω = ∞ (G of the result vanishes): evaluate at |v| = 1e-150, where h and h'ω²
        # are their limits −mean and variance to 150 digits and nothing over- or underflows
        if abs(x) < 1e-150:
            x = complex(x.real, 1e-150)
        w = -1.0 / x
    else:
        w = np.exp(x)
    h, dh = _h_aff_nb(kind, params, a, b, w)
    if op == PLUS:
        return h, dh * w * w
    # −h lies in the closed lower half-plane: on the axis its log must take arg −π, not +π
    return np.log(-h.conjugate()).conjugate(), ck.div(w * dh, h)


@njit(cache=True, error_model="numpy")
def _nanmax(a, b):
    """max(a, b) that keeps a NaN (max drops it: a residual whose every entry was NaN, from a
    kernel that returned NaN, counted as 0, i.e. converged)."""
    return b if not (b <= a) else a


@njit(cache=True, error_model="numpy")
def _resid_nb(op, kinds, params, aa, bb, ks, z, x, K, D, r):
    r"""Fill D, r for state x at z and K with :math:`E_g = S - K_g` (below); return (S, |r| norm).
    ``params[g, 0]`` is the length of group g's kernel parameter vector, which follows it.

    :math:`E_g = \sum_{h\ne g} k_h K_h + (k_g - 1)K_g` is summed over the other groups (prefix plus
    suffix sums), not formed as S − K_g: where one subordination point tends to 0 (an atomic input
    at the centre of a symmetric gap, :math:`h = -a^2/\omega`) its K_g is huge while T_g = z + E_g
    tends to 0, and the subtraction left T_g with an absolute error eps·|K_g| (a 6% error in G at
    height 1e-7, divergence below it)."""
    n = x.shape[0]
    for g in range(n):
        npar = int(params[g, 0])
        K[g], D[g] = _k_nb(op, kinds[g], params[g, 1:1 + npar], aa[g], bb[g], x[g])
    # suffix sums Σ_{h>g} k_h K_h in r (free until the residual is written)
    r[n - 1] = 0j
    for g in range(n - 1, 0, -1):
        r[g - 1] = r[g] + ks[g] * K[g]
    S = 0j
    for g in range(n):
        kk = K[g]
        K[g] = S + r[g] + (ks[g] - 1.0) * kk
        S += ks[g] * kk
    rn = 0.0
    for g in range(n):
        if op == PLUS:
            # ω_g = T_g := z + E_g, written 1 + v_g T_g = 0 (relative by construction)
            r[g] = 1.0 + x[g] * (z + K[g])
            rn = _nanmax(rn, abs(r[g]))
            continue
        r[g] = x[g] - np.log(z) + K[g]
        # each equation relative to its own unknown: where G of the result vanishes in a gap one
        # ω runs off to infinity while the others stay O(1) and must keep their absolute accuracy
        rn = _nanmax(rn, abs(r[g]) / (1.0 + abs(x[g])))
    if not np.isfinite(rn):
        rn = np.inf
    return S, rn


@njit(cache=True, error_model="numpy")
def _admissible_nb(op, x):
    for g in range(x.shape[0]):
        # closed half-plane / strip: on the way to the axis, rounding may put Im ω at 0
        if op == PLUS:
            if not (x[g].imag >= 0.0):
                return False
        else:
            if not (0.0 <= x[g].imag <= np.pi):
                return False
    return True


@njit(cache=True, error_model="numpy")
def _jsolve_nb(op, ks, D, r, out, x, z, E, S, t, tangent):
    """Newton step J·out = −r in O(n) and, when ``tangent``, the slope of the solution branch
    t = du/dz = −J⁻¹ ∂F/∂z (∂F_g/∂z = v_g for ⊞, −1/z for ⊠) with the same elimination.  The
    Jacobian is diagonal plus rank one, J = diag(c) + u wᵀ with w = k∘D and

    ⊞ (state v = −1/ω, r_g = 1 + v_g T_g, T_g = z + E_g with E from :func:`_resid_nb`):
    c = T − v∘D, u = v;  ⊠ (state ℓ = log Ω): c = 1 − D, u = 1.

    Plain Sherman–Morrison loses the step where a diagonal entry J_gg = c_g + u_g w_g is much smaller
    than c_g: where an atomic input's ω_g → 0 (centre of a symmetric gap) T_g → 0 while v_g D_g
    = a²/ω_g → ∞, and 1 + wᵀC⁻¹u cancelled to rounding (Newton diverged from a state with residual
    4e-14).  So the group p with the smallest |J_gg|/|c_g| is eliminated first with its diagonal
    formed directly (T_p + (k_p − 1)v_p D_p, resp. 1 + (k_p − 1)D_p), and Sherman–Morrison is used
    for the others only:  with β = Σ_{g≠p} w_g u_g/c_g, γ = −Σ_{g≠p} w_g r_g/c_g,
    out_p = (−r_p(1 + β) − u_p γ)/(J_pp(1 + β) − u_p w_p β) and
    out_g = (−r_g − u_g (γ + w_p out_p)/(1 + β))/c_g."""
    n = r.shape[0]
    p = 0
    best = np.inf
    jpp = 1.0 + 0j
    for g in range(n):
        if op == PLUS:
            c = (z + E[g]) - x[g] * D[g]
            jd = (z + E[g]) + (ks[g] - 1.0) * x[g] * D[g]
        else:
            c = 1.0 - D[g]
            jd = 1.0 + (ks[g] - 1.0) * D[g]
        out[g] = c  # c_g kept in the output until its entry is written
        ratio = (jd.real * jd.real + jd.imag * jd.imag) / (c.real * c.real + c.imag * c.imag)
        if ratio < best or g == 0:
            best = ratio
            p = g
            jpp = jd
    fz = 0j if op == PLUS else ck.div(-1.0, z)
    beta = 0j
    gam = 0j
    gamt = 0j
    for g in range(n):
        if g != p:
            wg = ks[g] * D[g]
            if op == PLUS:
                beta += wg * ck.div(x[g], out[g])
            else:
                beta += ck.div(wg, out[g])
            gam -= wg * ck.div(r[g], out[g])
            if tangent:
                gamt -= wg * ck.div(x[g] if op == PLUS else fz, out[g])
    up = x[p] if op == PLUS else 1.0 + 0j
    wp = ks[p] * D[p]
    one = 1.0 + beta
    den = jpp * one - up * wp * beta
    sp = ck.div(-r[p] * one - up * gam, den)
    tc = ck.div(gam + wp * sp, one)
    spt = 0j
    tct = 0j
    if tangent:
        spt = ck.div(-(x[p] if op == PLUS else fz) * one - up * gamt, den)
        tct = ck.div(gamt + wp * spt, one)
    for g in range(n):
        if g != p:
            ug = x[g] if op == PLUS else 1.0 + 0j
            if tangent:
                t[g] = ck.div(-(x[g] if op == PLUS else fz) - ug * tct, out[g])
            out[g] = ck.div(-r[g] - ug * tc, out[g])
    out[p] = sp
    if tangent:
        t[p] = spt


@njit(cache=True, error_model="numpy")
def _step_nb(op, ks, D, r, out, x, z, E, S):
    """The Newton step ``out = −J⁻¹r`` of :func:`_jsolve_nb`."""
    _jsolve_nb(op, ks, D, r, out, x, z, E, S, out, False)


@njit(cache=True, error_model="numpy")
def _newton_nb(op, kinds, params, aa, bb, ks, z, x, maxit, tol):
    """Guarded Newton from x (modified in place); returns the residual norm."""
    n = x.shape[0]
    K = np.empty(n, dtype=np.complex128)
    D = np.empty(n, dtype=np.complex128)
    r = np.empty(n, dtype=np.complex128)
    step = np.empty(n, dtype=np.complex128)
    cand = np.empty(n, dtype=np.complex128)
    Kc = np.empty(n, dtype=np.complex128)
    Dc = np.empty(n, dtype=np.complex128)
    rc = np.empty(n, dtype=np.complex128)
    S, r0 = _resid_nb(op, kinds, params, aa, bb, ks, z, x, K, D, r)
    for _it in range(maxit):
        if r0 <= tol:
            break
        _step_nb(op, ks, D, r, step, x, z, K, S)
        finite = True
        for g in range(n):
            if not (np.isfinite(step[g].real) and np.isfinite(step[g].imag)):
                finite = False
        lam = 1.0
        accepted = False
        if finite:
            for _h in range(30):
                for g in range(n):
                    cand[g] = x[g] + lam * step[g]
                if _admissible_nb(op, cand):
                    Sc, rcn = _resid_nb(op, kinds, params, aa, bb, ks, z, cand, Kc, Dc, rc)
                    if rcn < r0:
                        S = Sc
                        for g in range(n):
                            x[g] = cand[g]
                            K[g] = Kc[g]
                            D[g] = Dc[g]
                            r[g] = rc[g]
                        r0 = rcn
                        accepted = True
                        break
                lam *= 0.5
        if not accepted:
            # averaged fixed-point steps x <- (x + T(x))/2 (T(x) = x − r), kept on the branch
            for _k in range(30):
                for g in range(n):
                    if op == PLUS:
                        # v <- −1/((ω + T(ω))/2)
                        cand[g] = -2.0 / (-1.0 / x[g] + (z + K[g]))
                    else:
                        cand[g] = x[g] - 0.5 * r[g]
                if not _admissible_nb(op, cand):
                    break
                for g in range(n):
                    x[g] = cand[g]
                S, r0 = _resid_nb(op, kinds, params, aa, bb, ks, z, x, K, D, r)
            if not accepted and r0 > tol:
                S, r0 = _resid_nb(op, kinds, params, aa, bb, ks, z, x, K, D, r)
    # one more Newton step from the last evaluation: quadratic convergence makes a residual of
    # 1e-14 rounding level, and the step is taken without another evaluation when it is tiny.
    # Next to an edge the system is nearly singular (σ_min ~ √y at height y): a residual below tol
    # leaves the state tol/σ_min off (G 6e-9 off at height 1e-9 at the edge of the two-interval
    # law of test_convolution), so while the steps shrink quadratically, up to 3 more are taken
    prev = np.inf
    for _extra in range(4):
        _step_nb(op, ks, D, r, step, x, z, K, S)
        big = 0.0
        xn = 0.0
        for g in range(n):
            big = max(big, abs(step[g]))
            xn = max(xn, abs(x[g]))
        tiny = big <= 1e-10 * (1.0 + xn)
        if not (tiny or (r0 <= tol and big <= 1e-6 * (1.0 + xn) and big < 0.1 * prev)):
            break
        for g in range(n):
            cand[g] = x[g] + step[g]
        if not _admissible_nb(op, cand):
            break
        for g in range(n):
            x[g] = cand[g]
        if tiny:
            break
        S, r0 = _resid_nb(op, kinds, params, aa, bb, ks, z, x, K, D, r)
        prev = big
    return r0


#: largest number of groups for which the attracting test takes the eigenvalues of the n×n map
#: (O(n³)); beyond it the argument principle below (O(n) per point on the circle) — with the
#: eigenvalues, ⊞ of 40 laws spent ~0.5 ms per grid point in this test alone (cost ~n² overall)
_EIG_MAX = 6


@njit(cache=True, error_model="numpy")
def _secular_nb(s, ks, D, lam):
    """f(λ) = 1 − s Σ_g k_g D_g/(λ + s D_g): det(λI − M) = Π_g(λ + s D_g)·f(λ) for the map's
    derivative M = s(1 (k∘D)ᵀ − diag D) (matrix determinant lemma)."""
    acc = 0j
    for g in range(D.shape[0]):
        acc += ks[g] * D[g] / (lam + s * D[g])
    return 1.0 - s * acc


@njit(cache=True, error_model="numpy")
def _inside_disc_count_nb(s, ks, D, R):
    """Number of eigenvalues of M = s(1 (k∘D)ᵀ − diag D) in |λ| < R, by the argument principle:
    the poles −sD_g inside plus the winding number of the secular function f on |λ| = R, its
    argument followed on arcs halved until each step turns by less than π/4 (f moves fast next to
    a pole near the circle).  O(n) per evaluation of f; −1 where f vanishes on the circle (an
    eigenvalue on it: the caller's tolerance decides nothing there)."""
    n = D.shape[0]
    poles = 0
    for g in range(n):
        if abs(s * D[g]) < R:
            poles += 1
    K = 32
    turn = 0.0
    # stack of arcs [t0, t1] with f at their ends
    st0 = np.empty(64, dtype=np.float64)
    st1 = np.empty(64, dtype=np.float64)
    sf0 = np.empty(64, dtype=np.complex128)
    sf1 = np.empty(64, dtype=np.complex128)
    tau = 2.0 * np.pi
    prev_t = 0.0
    prev_f = _secular_nb(s, ks, D, complex(R, 0.0))
    if prev_f == 0:
        return -1
    for k in range(1, K + 1):
        t = tau * k / K
        f = _secular_nb(s, ks, D, R * complex(np.cos(t), np.sin(t))) if k < K else \
            _secular_nb(s, ks, D, complex(R, 0.0))
        if f == 0:
            return -1
        st0[0], st1[0], sf0[0], sf1[0] = prev_t, t, prev_f, f
        top = 1
        while top > 0:
            top -= 1
            a0, a1, fa, fb = st0[top], st1[top], sf0[top], sf1[top]
            q = fb / fa
            d = math.atan2(q.imag, q.real)
            am = 0.5 * (a0 + a1)
            lm = R * complex(np.cos(am), np.sin(am))
            # a pole closer to the arc than its length can turn f by ~π between the ends, which
            # the principal argument may read with the wrong sign: such arcs are halved too
            near = np.inf
            for g in range(n):
                near = min(near, abs(lm + s * D[g]))
            if (abs(d) <= 0.25 * np.pi and R * (a1 - a0) <= 0.5 * near) or a1 - a0 < 1e-12 or top >= 62:
                turn += d
                continue
            fm = _secular_nb(s, ks, D, lm)
            if fm == 0:
                return -1
            # the right half below the left so that the left is taken first (order is immaterial
            # for the sum, but keeps the stack shallow)
            st0[top], st1[top], sf0[top], sf1[top] = am, a1, fm, fb
            st0[top + 1], st1[top + 1], sf0[top + 1], sf1[top + 1] = a0, am, fa, fm
            top += 2
        prev_t, prev_f = t, f
    wind = int(np.round(turn / tau))
    return poles + wind


@njit(cache=True, error_model="numpy")
def _peeled_attracting_nb(ks, D):
    r"""The Denjoy–Wolff test for ⊠ of total multiplicity N = Σk ≥ 3, one factor at a time.

    The n-ary ⊠ map ℓ_g ↦ log ζ − Σ_{h≠g} K_h(ℓ_h) is not a self-map of the product of strips for
    N ≥ 3 (its imaginary part reaches (N − 1)π), so the spectral radius of its derivative at the
    physical solution may exceed 1: 1.05 at every point of the support of MP(1)^{⊠6}, 3.8 for
    MP(1)^{⊠10}, where the sweep then rejected every prediction and took the continuation from
    far above at each point (100× slower).  The pair μ_p ⊠ ν, ν the other factors, is
    Belinschi–Bercovici's: ℓ_p is the Denjoy–Wolff point of a composed map whose derivative is
    D_p D_ν, with D_ν = dK_ν/dℓ_ν = Q/(1 + Q), Q = Σ_g k'_g D_g/(1 − D_g) (k' = k less one copy of p)
    from linearizing ν's own system at the same states.  So |D_p D_ν| ≤ 1 is required, and
    likewise for ν (peel the next copy) down to a pair.  For N = 2 this is the spectral radius test."""
    n = D.shape[0]
    kp = ks.copy()
    total = 0.0
    Q = 0j
    for g in range(n):
        total += kp[g]
        Q += kp[g] * ck.div(D[g], 1.0 - D[g])
    while total >= 2.0 - 1e-9:
        p = 0
        while p < n - 1 and not (kp[p] >= 1.0 - 1e-9):
            p += 1
        kp[p] -= 1.0
        total -= 1.0
        Q -= ck.div(D[p], 1.0 - D[p])
        v = abs(D[p] * ck.div(Q, 1.0 + Q))
        if not (v <= 1.0 + 1e-6):
            return False
    return True


@njit(cache=True, error_model="numpy")
def _attracting_nb(op, ks, D0, x):
    """Spectral radius of the derivative of the map ω ↦ T(ω) is at most 1 (Denjoy–Wolff):
    M = s(1 (k∘D)ᵀ − diag D), D the derivatives in the ω (or ℓ) variables.  Spurious solutions
    near the axis are repelling.  ⊠ of total multiplicity ≥ 3: :func:`_peeled_attracting_nb`."""
    n = D0.shape[0]
    s = 1.0 if op == PLUS else -1.0
    if op == TIMES:
        total = 0.0
        for g in range(n):
            total += ks[g]
        if total > 2.0 + 1e-9:
            for g in range(n):
                if not (np.isfinite(D0[g].real) and np.isfinite(D0[g].imag)):
                    return False
            return _peeled_attracting_nb(ks, D0)
    if n <= 2:
        # closed forms without a work array (this test runs at every warm start and sweep point)
        d0 = D0[0] * x[0] * x[0] if op == PLUS else D0[0]  # back from dK/dv to h'(ω)
        if not (np.isfinite(d0.real) and np.isfinite(d0.imag)):
            return False
        if n == 1:
            return abs(s * (ks[0] - 1.0) * d0) <= 1.0 + 1e-6
        d1 = D0[1] * x[1] * x[1] if op == PLUS else D0[1]
        if not (np.isfinite(d1.real) and np.isfinite(d1.imag)):
            return False
        a11 = s * (ks[0] - 1.0) * d0
        a12 = s * ks[1] * d1
        a21 = s * ks[0] * d0
        a22 = s * (ks[1] - 1.0) * d1
        tr = a11 + a22
        disc = np.sqrt((a11 - a22) * (a11 - a22) + 4.0 * a12 * a21)
        return max(abs(0.5 * (tr + disc)), abs(0.5 * (tr - disc))) <= 1.0 + 1e-6
    D = D0.copy()
    if op == PLUS:
        for g in range(n):
            D[g] = D0[g] * x[g] * x[g]
    for g in range(n):
        if not (np.isfinite(D[g].real) and np.isfinite(D[g].imag)):
            return False
    if n > _EIG_MAX:
        return _inside_disc_count_nb(s, ks, D, 1.0 + 1e-6) == n
    M = np.empty((n, n), dtype=np.complex128)
    for i in range(n):
        for j in range(n):
            M[i, j] = s * ks[j] * D[j]
        M[i, i] -= s * D[i]
    ev = np.linalg.eigvals(M)
    rad = 0.0
    for e in ev:
        rad = max(rad, abs(e))
    return rad <= 1.0 + 1e-6


@njit(cache=True, error_model="numpy")
def _solve_nb(op, kinds, params, aa, bb, ks, z, x0, warm, tol):
    """States at every z (1-D, Im z > 0) with residuals: warm start from the previous point of the
    grid when it is close (accepted only if attracting), otherwise continuation in Im z."""
    n = z.shape[0]
    m = kinds.shape[0]
    out = np.empty((n, m), dtype=np.complex128)
    res = np.empty(n)
    x = np.empty(m, dtype=np.complex128)
    K = np.empty(m, dtype=np.complex128)
    D = np.empty(m, dtype=np.complex128)
    r = np.empty(m, dtype=np.complex128)
    for i in range(n):
        zi = z[i]
        done = False
        if warm and i > 0 and abs(zi - z[i - 1]) < 0.05 * (1.0 + abs(zi)) and res[i - 1] <= tol:
            for g in range(m):
                x[g] = out[i - 1, g]
            if i > 1 and res[i - 2] <= tol and abs(z[i - 1] - z[i - 2]) > 0.0:
                ratio = (zi - z[i - 1]) / (z[i - 1] - z[i - 2])
                if abs(ratio) < 4.0:
                    for g in range(m):
                        x[g] = out[i - 1, g] + (out[i - 1, g] - out[i - 2, g]) * ratio
                    if not _admissible_nb(op, x):
                        for g in range(m):
                            x[g] = out[i - 1, g]
            rr = _newton_nb(op, kinds, params, aa, bb, ks, zi, x, 40, tol)
            if rr <= tol and _admissible_nb(op, x):
                _resid_nb(op, kinds, params, aa, bb, ks, zi, x, K, D, r)
                if _attracting_nb(op, ks, D, x):
                    done = True
                    res[i] = rr
        if not done:
            xr = zi.real
            top = max(_HEIGHTS[0] * (1.0 + abs(xr)), zi.imag)
            zz = complex(xr, top)
            for g in range(m):
                x[g] = -1.0 / zz if op == PLUS else np.log(zz)
            rr = _newton_nb(op, kinds, params, aa, bb, ks, zz, x, 60, tol)
            for j in range(_HEIGHTS.shape[0]):
                y = _HEIGHTS[j] * (1.0 + abs(xr))
                if y <= zi.imag:
                    break
                if y >= top:
                    continue
                rr = _newton_nb(op, kinds, params, aa, bb, ks, complex(xr, y), x, 60, tol)
            rr = _newton_nb(op, kinds, params, aa, bb, ks, zi, x, 60, tol)
            res[i] = rr if _admissible_nb(op, x) else np.inf
        for g in range(m):
            out[i, g] = x[g]
    return out, res


@njit(cache=True, error_model="numpy")
def _axis_nb(op, kinds, params, aa, bb, ks, x, states):
    """Boundary values on the real axis from the states just above it (:func:`_axis_point_nb` at
    every point); ``exact`` as in :meth:`SolvedLaw._axis_newton`."""
    n = x.shape[0]
    m = kinds.shape[0]
    out = states.copy()
    exact = np.zeros(n, dtype=np.bool_)
    K = np.empty(m, dtype=np.complex128)
    D = np.empty(m, dtype=np.complex128)
    r = np.empty(m, dtype=np.complex128)
    step = np.empty(m, dtype=np.complex128)
    u = np.empty(m, dtype=np.complex128)
    for i in range(n):
        ok, _S = _axis_point_nb(op, kinds, params, aa, bb, ks, x[i], states[i], u, K, D, r, step)
        if ok:
            exact[i] = True
            for g in range(m):
                out[i, g] = u[g]
    return out, exact


@njit(cache=True, error_model="numpy")
def _axis_point_nb(op, kinds, params, aa, bb, ks, xi, above, u, K, D, r, step):
    """The axis state at xi from the state ``above`` it: four plain Newton steps at Im z = 0 (near an
    edge the residual is at rounding while the state still moves: only the step sees it), projected
    onto the closed branch, state in ``u``.  Returns (exact, S): exact when the residual is at
    rounding, the root within 1e-3 of the state above and G physical."""
    m = u.shape[0]
    for g in range(m):
        u[g] = above[g]
    _ok, rn, S = _axis_polish_nb(op, kinds, params, aa, bb, ks, xi, u, K, D, r, step, 4)
    dist = 0.0
    size = 0.0
    for g in range(m):
        dist = max(dist, abs(u[g] - above[g]))
        size = max(size, abs(above[g]))
    G = _g_of_s(op, complex(xi, 0.0), S)
    return rn <= 1e-13 and dist <= 1e-3 * (1.0 + size) and G.imag <= 1e-9 * abs(G), S


@njit(cache=True, error_model="numpy")
def _project_nb(op, v):
    """v on the closed branch: Im v ≥ 0 (⊞), 0 ≤ Im v ≤ π (⊠)."""
    im = max(v.imag, 0.0)
    if op == TIMES:
        im = min(im, np.pi)
    return complex(v.real, im)


@njit(cache=True, error_model="numpy")
def _newton_step_nb(op, kinds, params, aa, bb, ks, z, u, K, D, r, step, t, tangent):
    """One Newton evaluation at z from u: fills K, D, r, ``step`` and, when ``tangent``, the branch's
    slope ``t`` at u (:func:`_jsolve_nb`); returns (S, |r|, |step|, |u|)."""
    S, rn = _resid_nb(op, kinds, params, aa, bb, ks, z, u, K, D, r)
    _jsolve_nb(op, ks, D, r, step, u, z, K, S, t, tangent)
    big = 0.0
    size = 0.0
    for g in range(u.shape[0]):
        big = max(big, abs(step[g]))
        size = max(size, abs(u[g]))
    return S, rn, big, size


@njit(cache=True, error_model="numpy")
def _axis_polish_nb(op, kinds, params, aa, bb, ks, xi, u, K, D, r, step, maxit):
    """Plain Newton steps at z = xi + 0i from u (in place), projected onto the closed branch, until
    the step is at rounding; returns (converged, residual, S) with K, D, r left at the final state."""
    m = u.shape[0]
    z = complex(xi, 0.0)
    ok = False
    for _it in range(maxit):
        S, rn, big, size = _newton_step_nb(op, kinds, params, aa, bb, ks, z, u, K, D, r, step, step, False)
        if not np.isfinite(big):
            break
        for g in range(m):
            u[g] = _project_nb(op, u[g] + step[g])
        if big <= 1e-14 * (1.0 + size):
            ok = True
            break
    S, rn = _resid_nb(op, kinds, params, aa, bb, ks, z, u, K, D, r)
    return ok, rn, S


@njit(cache=True, error_model="numpy")
def _tangent_nb(op, ks, D, u, z, K, S, out, zero, work):
    """du/dz = −J⁻¹ ∂F/∂z at a solution (J from D at that state): the predictor's slope, by
    :func:`_jsolve_nb` with a zero residual (``zero`` and ``work`` are work space)."""
    for g in range(u.shape[0]):
        zero[g] = 0j
    _jsolve_nb(op, ks, D, zero, work, u, z, K, S, out, True)
    _finite_or_zero(out)


@njit(cache=True, error_model="numpy")
def _finite_or_zero(t):
    """A slope that is not finite (J singular: an edge) is no slope: the predictor then takes none."""
    for g in range(t.shape[0]):
        if not (np.isfinite(t[g].real) and np.isfinite(t[g].imag)):
            for k in range(t.shape[0]):
                t[k] = 0j
            return


@njit(cache=True, error_model="numpy")
def _g_of_s(op, z, S):
    return ck.div(1.0, z + S) if op == PLUS else ck.div(1.0, z - np.exp(S))


@njit(cache=True, error_model="numpy")
def _dg_dz(op, z, S, G, dsdz):
    """|dG/dz| from dS/dz = Σ k_g D_g du_g/dz: G = 1/(z + S) (⊞), 1/(z − e^S) (⊠).  A slope that is
    not finite (an edge) gives inf."""
    d = 1.0 + dsdz if op == PLUS else 1.0 - np.exp(S) * dsdz
    a = abs(G) ** 2 * abs(d)
    return a if np.isfinite(a) else np.inf


def _inline_twin(fn, **callees):
    """``fn`` compiled into its caller (numba ``inline='always'``), with its calls to the compiled
    functions named in ``callees`` redirected to those.  In the sweep's loop, about one residual
    evaluation per point, numba's call convention (each of ~10 arrays passed as a struct) cost more
    than the arithmetic; the generic callers keep the plain functions (inlining costs compile time)."""
    py = fn.py_func
    env = dict(py.__globals__)
    env.update(callees)
    twin = types.FunctionType(py.__code__, env, py.__name__, py.__defaults__, py.__closure__)
    return njit(inline="always", error_model="numpy")(twin)


_hot_newton_step = _inline_twin(_newton_step_nb, _resid_nb=_inline_twin(_resid_nb),
                                _jsolve_nb=_inline_twin(_jsolve_nb))


@njit(cache=True, error_model="numpy")
def _sweep_nb(op, kinds, params, aa, bb, ks, x, order, y0, tol):
    """Boundary values ``(u_axis, u_above, exact, G, amp)`` along real points visited in ``order``;
    ``amp`` = |dG/dz| at each certified point (from the branch's slope, :func:`_dg_dz`; inf elsewhere),
    the factor by which an error in the equations' evaluation reaches G near an edge.

    Predictor–corrector along the grid (``order`` ascending in x).  The predictor extrapolates the
    cubic Hermite interpolant of the last two certified states and their slopes
    u' = −J⁻¹∂F/∂z (implicit function theorem), error O(h⁴); the corrector takes plain Newton steps at
    Im z = 0, projected onto the closed branch, until a step is below 1e-8(1 + |u|).  That last step
    is applied without another evaluation: Newton's error after it is O(step²), below rounding, and
    G follows from S + Σ k_g K_g'·step to the same order.  The state is accepted only when it is
    physical (Im G ≤ 0) and attracting: the Denjoy–Wolff point of the subordination map is its only
    fixed point in the closed domain whose derivative has spectral radius ≤ 1 (a boundary fixed
    point other than it has angular derivative > 1, Julia–Wolff–Carathéodory), so it is the limit of
    the solutions above the axis without a continuation in Im z.  Otherwise (no certified neighbour
    within 0.05(1 + |x|), no convergence, a failed test) the point takes the continuation of
    :func:`_solve_nb` to Im z = ``y0`` and the axis Newton of :func:`_axis_nb`, certified as there."""
    n = x.shape[0]
    m = kinds.shape[0]
    ua = np.zeros((n, m), dtype=np.complex128)
    uy = np.zeros((n, m), dtype=np.complex128)
    du = np.zeros((n, m), dtype=np.complex128)
    gs = np.zeros(n, dtype=np.complex128)
    amp = np.full(n, np.inf)
    exact = np.zeros(n, dtype=np.bool_)
    K = np.empty(m, dtype=np.complex128)
    D = np.empty(m, dtype=np.complex128)
    r = np.empty(m, dtype=np.complex128)
    step = np.empty(m, dtype=np.complex128)
    u = np.empty(m, dtype=np.complex128)
    t = np.empty(m, dtype=np.complex128)
    fzw = np.empty(m, dtype=np.complex128)
    zc = np.empty(1, dtype=np.complex128)
    p1 = -1
    p2 = -1
    for j in range(n):
        i = order[j]
        xi = x[i]
        z = complex(xi, 0.0)
        near = p1 >= 0 and abs(xi - x[p1]) < 0.05 * (1.0 + abs(xi))
        done = False
        for attempt in range(2):
            if attempt == 0:
                if not near:
                    continue
                h = xi - x[p1]
                hh = x[p1] - x[p2] if p2 >= 0 else 0.0
                if hh != 0.0:
                    # Hermite basis on [x_p2, x_p1] at s = (x − x_p2)/hh (> 1: extrapolation)
                    s_ = 1.0 + h / hh
                    b00 = (2.0 * s_ - 3.0) * s_ * s_ + 1.0
                    b10 = ((s_ - 2.0) * s_ + 1.0) * s_ * hh
                    b01 = (3.0 - 2.0 * s_) * s_ * s_
                    b11 = (s_ - 1.0) * s_ * s_ * hh
                for g in range(m):
                    if hh != 0.0:
                        v = b00 * ua[p2, g] + b10 * du[p2, g] + b01 * ua[p1, g] + b11 * du[p1, g]
                    else:
                        v = ua[p1, g] + du[p1, g] * h
                    u[g] = _project_nb(op, v)
            else:
                # no neighbour, or its prediction did not certify: the far-field state ω_g = z, which
                # Newton takes to the real fixed point outside the support (the grid's first point,
                # a point just past an edge) without the continuation's ladder of heights
                if (op == PLUS and xi == 0.0) or (op == TIMES and not xi > 0.0):
                    break
                for g in range(m):
                    u[g] = complex(-1.0 / xi, 0.0) if op == PLUS else complex(np.log(xi), 0.0)
            for _it in range(12):
                # the tangent (for the next predictor) with the step: most points take one evaluation
                S, rn, big, size = _hot_newton_step(op, kinds, params, aa, bb, ks, z, u, K, D, r, step, t, True)
                if not np.isfinite(big):
                    break
                last = big <= 1e-8 * (1.0 + size)
                if last:
                    # the tangent and the attracting test use J at the state before the last step
                    dsdz = 0j
                    for g in range(m):
                        dsdz += ks[g] * D[g] * t[g]
                    _finite_or_zero(t)
                    attracting = _attracting_nb(op, ks, D, u)
                for g in range(m):
                    v = _project_nb(op, u[g] + step[g])
                    if last:
                        S += ks[g] * D[g] * (v - u[g])
                    u[g] = v
                if last:
                    G = _g_of_s(op, z, S)
                    done = rn <= 1e-6 and G.imag <= 1e-9 * abs(G) and attracting
                    break
            if done:
                break
        if done:
            exact[i] = True
            gs[i] = G
            amp[i] = _dg_dz(op, z, S, G, dsdz)
            for g in range(m):
                ua[i, g] = u[g]
                uy[i, g] = u[g]
                du[i, g] = t[g]
            p2 = p1 if near else -1
            p1 = i
            continue
        # continuation from far above, then the axis Newton certified by closeness to that state
        zc[0] = complex(xi, y0)
        st, res = _solve_nb(op, kinds, params, aa, bb, ks, zc, u, False, tol)
        for g in range(m):
            uy[i, g] = st[0, g]
        # as in _axis: a continuation that stalled near an edge still seeds the axis Newton, which
        # alone decides
        ok, S = _axis_point_nb(op, kinds, params, aa, bb, ks, xi, st[0], u, K, D, r, step)
        if np.isfinite(res[0]) and ok:
            exact[i] = True
            gs[i] = _g_of_s(op, z, S)
            _tangent_nb(op, ks, D, u, z, K, S, t, fzw, step)
            dsdz = 0j
            flat = True
            for g in range(m):
                dsdz += ks[g] * D[g] * t[g]
                flat = flat and t[g] == 0
            # a slope zeroed by _finite_or_zero: J singular, no amplification known
            amp[i] = np.inf if flat else _dg_dz(op, z, S, gs[i], dsdz)
            for g in range(m):
                ua[i, g] = u[g]
                du[i, g] = t[g]
            p2 = -1
            p1 = i
        else:
            for g in range(m):
                ua[i, g] = st[0, g]
            p1 = -1
            p2 = -1
    return ua, uy, exact, gs, amp


@njit(cache=True, error_model="numpy")
def _k_dd(op, kind, params, a, b, v):
    """K in double-double for one input a·X + b (a, b double-doubles) at the double state v:
    ⊞ h(ω) at ω = −1/v; ⊠ −h(Ω) at Ω = e^v (the ⊠ residual is formed without logarithms,
    :func:`_resid_dd_nb`)."""
    if op == PLUS:
        w = dd.cdd_div((-1.0, 0.0, 0.0, 0.0), dd.cdd_of(v))
    else:
        w = dd.cdd_of(np.exp(v))
    y = dd.cdd_div(dd.cdd_sub(w, (b[0], b[1], 0.0, 0.0)), (a[0], a[1], 0.0, 0.0))
    if y[2] == 0.0 and y[3] == 0.0:
        # on the axis: the kernels' boundary value from above (+0, not a −0 from the division)
        y = (y[0], y[1], 0.0, 0.0)
    conj = y[2] < 0.0
    if conj:
        y = dd.cdd_conj(y)
    h = dd.h_dd(kind, params, y)
    if conj:
        h = dd.cdd_conj(h)
    if op == PLUS:
        return dd.cdd_sub(dd.cdd_scale(h, a[0], a[1]), (b[0], b[1], 0.0, 0.0))
    return dd.cdd_sub((b[0], b[1], 0.0, 0.0), dd.cdd_scale(h, a[0], a[1]))


@njit(cache=True, error_model="numpy")
def _resid_dd_nb(op, kinds, params, add, bdd, ks, zh, zl, u, Kd, r):
    r"""The residual with z, every input's h and the sums and products in double-double, rounded
    into r at the end; returns (F, Q) rounded, G = 1/F.  Its error is ~eps·|r| instead of a few eps:
    what a Newton step near an edge turns into an error of the state (:func:`_refine_nb`).

    ⊞: r_g = 1 + v_g(z + E_g), E_g = S − K_g, F = z + S (Q unused).  ⊠: with P_g = −h_g(Ω_g),
    Ω_g = e^{ℓ_g} and Q = Π P_h^{k_h} (integer k), r_g = Ω_g Q/(P_g z) − 1 = e^{ρ_g} − 1 for the log
    residual ρ_g of :func:`_resid_nb` (the same to first order: Newton's step is unchanged, and no
    complex logarithm or exponential is needed in double-double), F = z − Q."""
    m = u.shape[0]
    S = (0.0, 0.0, 0.0, 0.0) if op == PLUS else (1.0, 0.0, 0.0, 0.0)
    for g in range(m):
        npar = int(params[g, 0])
        k = _k_dd(op, kinds[g], params[g, 1:1 + npar], (add[g, 0], add[g, 1]), (bdd[g, 0], bdd[g, 1]), u[g])
        Kd[g, 0], Kd[g, 1], Kd[g, 2], Kd[g, 3] = k[0], k[1], k[2], k[3]
        if op == PLUS:
            S = dd.cdd_add(S, dd.cdd_scale(k, ks[g], 0.0))
        else:
            for _p in range(int(ks[g])):
                S = dd.cdd_mul(S, k)
    z = (zh, zl, 0.0, 0.0)
    for g in range(m):
        k = (Kd[g, 0], Kd[g, 1], Kd[g, 2], Kd[g, 3])
        if op == PLUS:
            t = dd.cdd_add(z, dd.cdd_sub(S, k))
            r[g] = dd.cdd_round(dd.cdd_add((1.0, 0.0, 0.0, 0.0), dd.cdd_mul(dd.cdd_of(u[g]), t)))
        else:
            q = dd.cdd_div(dd.cdd_mul(dd.cdd_of(np.exp(u[g])), S), dd.cdd_mul(k, z))
            r[g] = dd.cdd_round(dd.cdd_sub(q, (1.0, 0.0, 0.0, 0.0)))
    if op == PLUS:
        return dd.cdd_round(dd.cdd_add(z, S)), 0j
    return dd.cdd_round(dd.cdd_sub(z, S)), dd.cdd_round(S)


@njit(cache=True, error_model="numpy")
def _refine_nb(op, kinds, params, aa, bb, ks, a0, b0, cs, pks, pcs, s, x, states):
    r"""G at the original real points x (standardized G, as :func:`_sweep_nb`), by Newton steps from
    the axis ``states`` with the residual in double-double (:func:`_resid_dd_nb`; iterative
    refinement, the Jacobian is the double one of :func:`_resid_nb`).  Returns (G, ok, relative
    distance of the root from the state it started from, distance of the root from the real states
    in units of the last step).

    Near a square-root edge, at distance δ, the system's smallest singular value is ~√δ: the few-ulp
    rounding of a residual evaluated in double moves the state, and G, by ~eps/√δ (1.9e-15 in the
    density of SC ⊞ MP(½) at 9.5e-4 from its lower edge, 3e-14 at 1e-5).  So does the rounding of
    x~ = (x − c)/s and of the standardized inputs' a, b: this solve takes x exactly and
    standardizes in double-double, an exact change of variables: ⊞ x~ = (x − Σ k_g c_g)/s, inputs
    (a0_g X_g + b0_g − c_g)/s; ⊠ x~ = x/Π c_g^{k_g}, inputs (a0_g X_g + b0_g)/c_g (``a0``, ``b0``: the
    input as an affine image of its kernel; ``cs``: the inputs' centres, ⊠ means; ``pks``, ``pcs``:
    multiplicities and locations of the point-mass inputs, which are not in the system but are in
    the centre, resp. the scale).
    The last step is not applied to the double state but to G, to first order (⊞ F(u + δu) =
    F(u) + Σ k_g D_g δu_g, ⊠ Q(u + δu) = Q(u)(1 + Σ k_g D_g δu_g)), so the state's own rounding
    does not enter."""
    n = x.shape[0]
    m = kinds.shape[0]
    gout = np.zeros(n, dtype=np.complex128)
    ok = np.zeros(n, dtype=np.bool_)
    moved = np.full(n, np.inf)
    off_axis = np.zeros(n)
    add = np.empty((m, 2))
    bdd = np.empty((m, 2))
    if op == PLUS:
        ch, cl = 0.0, 0.0
        for g in range(m):
            ph, pl = dd.two_prod(ks[g], cs[g])
            ch, cl = dd.dd_add(ch, cl, ph, pl)
        for g in range(pks.shape[0]):
            ph, pl = dd.two_prod(pks[g], pcs[g])
            ch, cl = dd.dd_add(ch, cl, ph, pl)
        for g in range(m):
            add[g, 0], add[g, 1] = dd.dd_div(a0[g], 0.0, s, 0.0)
            th, tl = dd.two_sum(b0[g], -cs[g])
            bdd[g, 0], bdd[g, 1] = dd.dd_div(th, tl, s, 0.0)
    else:
        ch, cl = 1.0, 0.0   # the scale Π c_g^{k_g}
        for g in range(m):
            for _p in range(int(ks[g])):
                ch, cl = dd.dd_mul(ch, cl, cs[g], 0.0)
            add[g, 0], add[g, 1] = dd.dd_div(a0[g], 0.0, cs[g], 0.0)
            bdd[g, 0], bdd[g, 1] = dd.dd_div(b0[g], 0.0, cs[g], 0.0)
        for g in range(pks.shape[0]):
            for _p in range(int(pks[g])):
                ch, cl = dd.dd_mul(ch, cl, pcs[g], 0.0)
    Kd = np.empty((m, 4))
    K = np.empty(m, dtype=np.complex128)
    D = np.empty(m, dtype=np.complex128)
    r = np.empty(m, dtype=np.complex128)
    rd = np.empty(m, dtype=np.complex128)
    step = np.empty(m, dtype=np.complex128)
    u = np.empty(m, dtype=np.complex128)
    for i in range(n):
        if op == PLUS:
            dh, dl = dd.dd_add(x[i], 0.0, -ch, -cl)
            zh, zl = dd.dd_div(dh, dl, s, 0.0)
        else:
            zh, zl = dd.dd_div(x[i], 0.0, ch, cl)
        z = complex(zh, 0.0)
        good = True
        for g in range(m):
            u[g] = states[i, g]
            # ⊞ v → 0 is ω → ∞ (see _k_nb): not a point of a density's edge
            good = good and np.isfinite(u[g].real) and np.isfinite(u[g].imag)
            good = good and (abs(u[g]) > 1e-100 if op == PLUS else abs(u[g].real) < 700.0)
        if not good:
            continue
        for _it in range(_REFINE_IT):
            F, Q = _resid_dd_nb(op, kinds, params, add, bdd, ks, zh, zl, u, Kd, r)
            S, _rn = _resid_nb(op, kinds, params, aa, bb, ks, z, u, K, D, rd)
            _jsolve_nb(op, ks, D, r, step, u, z, K, S, step, False)
            big = 0.0
            size = 0.0
            for g in range(m):
                big = max(big, abs(step[g]))
                size = max(size, abs(u[g]))
            if not np.isfinite(big):
                break
            if big <= 1e-12 * (1.0 + size):
                ds = 0j
                for g in range(m):
                    ds += ks[g] * D[g] * step[g]
                G = ck.div(1.0, F + ds if op == PLUS else F - Q * ds)
                if np.isfinite(G.real) and np.isfinite(G.imag) and G.imag <= 0.0:
                    gout[i] = G
                    ok[i] = True
                    dist = 0.0
                    im = 0.0
                    for g in range(m):
                        v = u[g] + step[g]
                        dist = max(dist, abs(v - states[i, g]) / (1.0 + abs(states[i, g])))
                        # distance of the root from the real states (⊠: Im ℓ = 0 or π), against
                        # the last step: at a double root (a point exactly on an edge) Newton
                        # converges only linearly, and a root still ~step off the axis is not one
                        vi = v.imag if op == PLUS else min(v.imag, np.pi - v.imag)
                        im = max(im, vi / max(big, 1e-300))
                    moved[i] = dist
                    off_axis[i] = im
                break
            for g in range(m):
                u[g] = _project_nb(op, u[g] + step[g])
    return gout, ok, moved, off_axis


@njit(cache=True, error_model="numpy")
def _refine_pdf_nb(op, kinds, params, aa, bb, ks, a0, b0, cs, pks, pcs, s, x, xstd, out, xs, us, floor):
    """Densities ``out`` (original units) at the original points x refined in place by
    :func:`_refine_nb` where the standardized point ``xstd`` is one of the flagged sweep points
    ``xs`` (states ``us``) and the density is positive.  A refinement only undoes rounding: it is
    kept when the root lies within 1e-6 (relative) of the sweep's state (which is ~eps/σ_min off,
    1e-8 at one ulp from an edge) and the density moves by less than 1e-6 |G|."""
    order = np.argsort(xs)
    sx = xs[order]
    hit = np.empty(x.shape[0], dtype=np.int64)
    nh = 0
    for i in range(x.shape[0]):
        j = np.searchsorted(sx, xstd[i])
        if j < sx.shape[0] and sx[j] == xstd[i]:
            hit[nh] = i
            nh += 1
    if nh == 0:
        return
    m = us.shape[1]
    xh = np.empty(nh)
    uh = np.empty((nh, m), dtype=np.complex128)
    for k in range(nh):
        i = hit[k]
        xh[k] = x[i]
        j = order[np.searchsorted(sx, xstd[i])]
        for g in range(m):
            uh[k, g] = us[j, g]
            if not out[i] > 0.0:
                # a real state next to an edge: inside it, within ~ulp, the sweep can land on the real
                # branch (density 0 for ~1e-9); from √eps into the upper half-plane Newton finds the
                # complex root if there is one (outside, it returns to the real one)
                uh[k, g] += 1.5e-8j * (1.0 + abs(us[j, g]))
    G, ok, moved, off_axis = _refine_nb(op, kinds, params, aa, bb, ks, a0, b0, cs, pks, pcs, s, xh, uh)
    for k in range(nh):
        i = hit[k]
        if not (ok[k] and moved[k] <= 1e-6) or (out[i] == 0.0 and off_axis[k] < 100.0):
            continue
        d = max(-G[k].imag / np.pi, 0.0)
        d = d / s if d > floor else 0.0  # the engine's density floor (standardized)
        if abs(d - out[i]) * np.pi * s <= 1e-6 * abs(G[k]):
            out[i] = d


@njit(cache=True, error_model="numpy")
def _g_nb(op, kinds, params, aa, bb, ks, z, states):
    """G at every z from the states."""
    n = z.shape[0]
    m = kinds.shape[0]
    out = np.empty(n, dtype=np.complex128)
    K = np.empty(m, dtype=np.complex128)
    D = np.empty(m, dtype=np.complex128)
    r = np.empty(m, dtype=np.complex128)
    for i in range(n):
        S, _ = _resid_nb(op, kinds, params, aa, bb, ks, z[i], states[i], K, D, r)
        if op == PLUS:
            out[i] = ck.div(1.0, z[i] + S)
        else:
            out[i] = ck.div(1.0, z[i] - np.exp(S))
    return out


def _others(ks: np.ndarray, K: np.ndarray) -> np.ndarray:
    """E[:, g] = Σ_{h≠g} k_h K[:, h] + (k_g − 1) K[:, g], summed over the other groups (as in
    :func:`_resid_nb`): S − K_g cancels where one K_g is huge."""
    kK = ks[None, :] * K
    zero = np.zeros((K.shape[0], 1), dtype=K.dtype)
    pre = np.concatenate([zero, np.cumsum(kK[:, :-1], axis=1)], axis=1)
    suf = np.concatenate([np.cumsum(kK[:, :0:-1], axis=1)[:, ::-1], zero], axis=1)
    return pre + suf + (ks[None, :] - 1.0) * K


# ============================================================================ inputs
def _point_mass(law: Law):
    """The location of ``law`` if it is a point mass (one atom of mass 1), else None."""
    p, w = law.atoms
    if len(p) == 1 and abs(float(w[0]) - 1.0) <= 1e-14:
        return float(p[0])
    return None


def _ac_intervals(law: Law):
    """Intervals of the absolutely continuous part of an input: its own ``intervals`` if it has
    them (solver laws), none for a purely atomic law, else the hull of the absolutely continuous
    part (each closed-form law of :mod:`freeprob.laws` has one interval)."""
    iv = getattr(law, "intervals", None)
    if iv is not None:
        return tuple(iv)
    _p, w = law.atoms
    if len(w) and abs(1.0 - float(np.sum(w))) < 1e-14:
        return ()
    return (tuple(float(v) for v in law._ac_hull),)


def kernel_of(law: Law):
    """``(kind, params, a, b)`` such that ``law`` is the law of a·X + b with X compiled in
    :mod:`freeprob.cauchy_kernels`, or ``None``."""
    from .affine import AffineLaw
    from .laws import Arcsine, FreePoisson

    if isinstance(law, AffineLaw):
        inner = kernel_of(law.base)
        if inner is None:
            return None
        kind, p, a, b = inner
        return kind, p, law.c * a, law.c * b + law.b
    spec = law._kernel_spec()
    if spec is not None:
        return int(spec[0]), np.ascontiguousarray(spec[1], dtype=np.float64), 1.0, 0.0
    if type(law) is FreePoisson:
        m, v = float(law.mean), float(law.var)
        return ck.FREE_POISSON, np.array([m * m / v, v / m]), 1.0, 0.0
    if type(law) is Arcsine:
        return ck.ARCSINE, np.array(law.support, dtype=np.float64), 1.0, 0.0
    return None


def _h_law(law: Law, a: float, b: float, w: np.ndarray):
    """(h(w), h'(w)) of the law of a·X + b (X = ``law``) on C⁺, through ``law``'s Cauchy transform."""
    v = (w - b) / a
    lower = v.imag < 0
    v = np.where(lower, v.conj(), v)
    if isinstance(law, SolvedLaw) and hasattr(law, "_g_dg"):
        g, dg = law._g_dg(v)
    else:
        g, dg = law._cauchy(v), law._cauchy_derivative(v)
    g = np.where(lower, np.conj(g), g)
    dg = np.where(lower, np.conj(dg), dg)
    with np.errstate(all="ignore"):
        h = 1.0 / g - np.where(lower, v.conj(), v)
        dh = -dg / (g * g) - 1.0
    return a * h - b, dh


# ============================================================================ the law
class FreeConvolution(SolvedLaw):
    r""":math:`\mu_1^{\boxplus k_1}\boxplus\cdots` or :math:`\mu_1^{\boxtimes k_1}\boxtimes\cdots`
    solved as one subordination system (module docstring).

    Parameters
    ----------
    laws : sequence of Law
        Distinct input laws.
    kind : {"plus", "times"}
    weights : sequence of float, optional
        Multiplicities :math:`k_g \ge 1` (real for ⊞: a free power; integers for ⊠); default 1.
    """

    def __init__(self, laws, kind: str, weights=None):
        laws = list(laws)
        if kind not in ("plus", "times"):
            raise ValueError(f"kind must be 'plus' or 'times', got {kind!r}")
        if not laws or not all(isinstance(x, Law) for x in laws):
            raise ValueError("boxplus/boxtimes take freeprob Law objects")
        ks = [1.0] * len(laws) if weights is None else [float(k) for k in weights]
        if len(ks) != len(laws) or not all(np.isfinite(k) and k >= 1 for k in ks):
            raise ValueError(f"weights must be numbers >= 1, one per law, got {weights!r}")
        frames = []
        for i, law in enumerate(laws):
            c, s = location_scale(law)
            if not (np.isfinite(c) and np.isfinite(s)):
                raise ValueError(f"input {i} = {law!r} has no finite location and scale; it cannot be convolved")
            frames.append((c, s))
        if kind == "times":
            for i, law in enumerate(laws):
                if law.support[0] < 0:
                    raise ValueError(
                        f"boxtimes needs laws on [0, inf); input {i} = {law!r} has support starting at {law.support[0]}")
                if not frames[i][0] > 0:
                    raise ValueError(f"boxtimes needs laws with positive mean; input {i} = {law!r} has mean {frames[i][0]}")
            if not all(float(k).is_integer() for k in ks):
                raise ValueError("boxtimes multiplicities must be integers")
        for i, (law, (c, s)) in enumerate(zip(laws, frames)):
            zc = np.array([c + 1j * s, c + 2.0 * s + 0.5j * s])
            with np.errstate(all="ignore"):
                g = np.asarray(law._cauchy(zc))
            if np.any(g.imag > 1e-12 * np.abs(g)):
                raise ValueError(f"input {i} = {law!r} is not the Cauchy transform of a probability law "
                                 f"(Im G = {float(np.max(g.imag)):.3g} > 0 in the upper half-plane)")
        self.laws = tuple(laws)
        self.weights = tuple(ks)
        self.kind = kind
        self._frames = tuple(frames)
        self.name = "boxplus" if kind == "plus" else "boxtimes"
        self._freeze()

    # -- pairs keep their historical attributes ------------------------------------------
    @property
    def mu(self) -> Law:
        return self.laws[0]

    @property
    def nu(self) -> Law:
        if len(self.laws) < 2:
            return self.laws[0]
        return self.laws[1]

    # -- point-mass inputs -------------------------------------------------------------------
    @cached_property
    def _points(self) -> tuple:
        """Per input its location if it is a point mass, else None."""
        return tuple(_point_mass(law) for law in self.laws)

    @cached_property
    def _active(self) -> tuple:
        """The inputs in the subordination system: all but the point masses (:attr:`_sys`)."""
        return tuple(g for g, p in enumerate(self._points) if p is None)

    @cached_property
    def _image(self):
        """The law itself as a closed affine image when at most one input is not a point mass
        and that one has multiplicity 1 (else None): δ_a ⊞ μ is μ shifted by a, δ_a ⊠ μ is μ
        scaled by a, and ⊞ or ⊠ of point masses alone is a point mass.  There is no subordination
        system left to solve (the one input's ω is z − a, resp. z/a, real on the axis, where the
        engine has no branch to follow: the support search found ~150 spurious gaps in
        δ_0 ⊞ SC), so the law is its input's, moved.  ``(law, base, c, b)``: the law of cX + b,
        X ~ base (``base`` None: all point masses)."""
        act = self._active
        if len(act) > 1 or (len(act) == 1 and self.weights[act[0]] != 1.0):
            return None
        from .affine import affine
        from .laws import atoms

        pm = [(self.weights[g], self._points[g]) for g in range(len(self.laws)) if g not in act]
        if self.kind == "plus":
            a = math.fsum(k * p for k, p in pm)
            c, b = 1.0, a
        else:
            a = math.prod(p ** k for k, p in pm)
            c, b = a, 0.0
        if not act:
            return atoms([a], [1.0]), None, 1.0, 0.0
        base = self.laws[act[0]]
        return (base if (c, b) == (1.0, 0.0) else affine(base, c, b)), base, c, b

    # -- a law that is an affine image of one input (:attr:`_image`): its closed forms ------------
    def _via_image(self, name, arg, dtype):
        """The image law's ``name`` at ``arg`` when the law is an affine image of one input,
        else the engine's (:class:`SolvedLaw`) method."""
        img = self._image
        if img is not None:
            return np.asarray(getattr(img[0], name)(np.asarray(arg, dtype=dtype)), dtype=dtype)
        return getattr(super(), name)(arg)

    def _cdf(self, x):
        return self._via_image("_cdf", x, float)

    def _ppf(self, q):
        return self._via_image("_ppf", q, float)

    def _cauchy(self, z):
        return self._via_image("_cauchy", z, complex)

    def _cauchy_derivative(self, z):
        return self._via_image("_cauchy_derivative", z, complex)

    def _g_batch(self, z):
        img = self._image
        if img is None:
            return super()._g_batch(z)
        return np.asarray(img[0]._cauchy(self._from_std(np.asarray(z, dtype=complex))), dtype=complex) * self.frame[1]

    def _axis_density(self, x, classify: bool = False):
        img = self._image
        if img is None:
            return super()._axis_density(x, classify)
        return np.asarray(img[0]._pdf(self._from_std(np.asarray(x, dtype=float))), dtype=float) * self.frame[1]

    @cached_property
    def intervals(self) -> tuple[tuple[float, float], ...]:
        img = self._image
        if img is None:
            return SolvedLaw.intervals.func(self)
        _law, base, c, b = img
        if base is None:
            return ()
        # c > 0: a shift (⊞) or a scale by a product of positive points (⊠)
        return tuple((float(c * u + b), float(c * v + b)) for u, v in _ac_intervals(base))

    @cached_property
    def _std_intervals(self):
        if self._image is None:
            return SolvedLaw._std_intervals.func(self)
        return tuple((float(self._to_std(u)), float(self._to_std(v))) for u, v in self.intervals)

    @cached_property
    def support(self) -> tuple[float, float]:
        img = self._image
        if img is None:
            return SolvedLaw.support.func(self)
        lo, hi = img[0].support
        return float(lo), float(hi)

    def check_mass(self, nodes: int = 400) -> float:
        img = self._image
        if img is not None and isinstance(img[1], SolvedLaw):
            return img[1].check_mass(nodes)  # an affine map keeps the mass
        return super().check_mass(nodes)

    # -- frame and standardized inputs -----------------------------------------------------
    def _frame(self):
        ks = np.array(self.weights)
        cs = np.array([c for c, _ in self._frames])
        # a point mass has no spread: it moves the centre (⊞) or the scale (⊠) and nothing else
        ss = np.array([0.0 if p is not None else s for (_, s), p in zip(self._frames, self._points)])
        if self.kind == "plus":
            top = ss.max()
            centre = float((ks * cs).sum())
            # only point masses (top = 0): a purely atomic law, whose frame is immaterial but must
            # scale with it
            scale = top * math.sqrt(float((ks * (ss / top) ** 2).sum())) if top > 0 else (abs(centre) or 1.0)
            return float(centre), float(scale)
        return 0.0, float(math.exp(float((ks * np.log(cs)).sum())))

    @cached_property
    def _std_inputs(self):
        """Per group (a, b) with Y_g = a·X_g + b the standardized input."""
        c, s = self.frame
        out = []
        for (cg, _sg) in self._frames:
            if self.kind == "plus":
                out.append((1.0 / s, -cg / s))
            else:
                out.append((1.0 / cg, 0.0))
        return out

    @cached_property
    def _sys(self):
        """(laws, multiplicities, standardized inputs) of the groups in the system: every input but
        the point masses.  Standardized, a point mass is δ_0 (⊞) or δ_1 (⊠), whose h = F − id is 0,
        resp. −1 (K = log 1 = 0): it drops out of every equation, exactly, and its subordination
        function follows from G (:meth:`subordination`)."""
        act = self._active
        return (tuple(self.laws[g] for g in act), tuple(self.weights[g] for g in act),
                tuple(self._std_inputs[g] for g in act))

    @cached_property
    def _compiled(self):
        laws, weights, inputs = self._sys
        specs = [kernel_of(law) for law in laws]
        if any(sp is None for sp in specs):
            return None
        m = len(specs)
        width = max(len(sp[1]) for sp in specs)
        kinds = np.array([sp[0] for sp in specs], dtype=np.int64)
        params = np.zeros((m, width + 1))
        aa = np.empty(m)
        bb = np.empty(m)
        for g, ((kind, p, a0, b0), (a1, b1)) in enumerate(zip(specs, inputs)):
            params[g, 0] = len(p)
            params[g, 1: 1 + len(p)] = p
            aa[g] = a1 * a0
            bb[g] = a1 * b0 + b1
        op = PLUS if self.kind == "plus" else TIMES
        # each input as a0·X + b0 of its kernel, the inputs' centres and the scale: what
        # _refine_nb standardizes exactly from
        pm = [g for g, p in enumerate(self._points) if p is not None]
        self.__dict__["_exact_frame"] = (np.array([sp[2] for sp in specs], dtype=np.float64),
                                         np.array([sp[3] for sp in specs], dtype=np.float64),
                                         np.array([self._frames[g][0] for g in self._active], dtype=np.float64),
                                         np.array([self.weights[g] for g in pm], dtype=np.float64),
                                         np.array([self._points[g] for g in pm], dtype=np.float64),
                                         float(self.frame[1]))
        return op, kinds, params, aa, bb, np.array(weights, dtype=np.float64)

    # -- the system ----------------------------------------------------------------------
    def _k(self, x: np.ndarray):
        """(K, D) per group, shape (n, m), at states x (numpy path, any inputs)."""
        n, m = x.shape
        K = np.empty((n, m), dtype=complex)
        D = np.empty((n, m), dtype=complex)
        comp = self._compiled
        laws, _ks, inputs = self._sys
        for g, (law, (a, b)) in enumerate(zip(laws, inputs)):
            with np.errstate(all="ignore"):
                if self.kind == "plus":
                    xg = np.where(np.abs(x[:, g]) < 1e-150, x[:, g].real + 1e-150j, x[:, g])  # see _k_nb
                    w = -1.0 / xg
                else:
                    w = np.exp(x[:, g])
            w = np.ascontiguousarray(w, dtype=complex)
            if comp is not None:
                _, kinds, params, aa, bb, _ = comp
                h, dh = _h_array(kinds[g], params[g, 1: 1 + int(params[g, 0])], aa[g], bb[g], w)
            else:
                h, dh = _h_law(law, a, b, w)
            if self.kind == "plus":
                K[:, g], D[:, g] = h, dh * w * w
            else:
                with np.errstate(all="ignore"):
                    K[:, g], D[:, g] = np.conj(np.log(-np.conj(h))), w * dh / h  # arg in [−π, 0]: see _k_nb
        return K, D

    def _start(self, z):
        A = -1.0 / z if self.kind == "plus" else np.log(z)
        return np.repeat(A[:, None], len(self._active), axis=1)

    def _residual(self, z, u):
        K, D = self._k(u)
        ks = np.array(self._sys[1])
        S = (ks[None, :] * K).sum(axis=1)
        E = _others(ks, K)
        m = u.shape[1]
        idx = np.arange(m)
        if self.kind == "plus":
            T = z[:, None] + E
            r = 1.0 + u * T
            J = u[:, :, None] * (ks[None, :] * D)[:, None, :]
            # the diagonal formed directly: v k D + (T − v D) cancels where T → 0 (see _step_nb)
            J[:, idx, idx] = T + (ks[None, :] - 1.0) * u * D
            return r, J
        r = u - np.log(z + 0j)[:, None] + E
        J = np.broadcast_to((ks[None, :] * D)[:, None, :], (u.shape[0], m, m)).copy()
        J[:, idx, idx] = 1.0 + (ks[None, :] - 1.0) * D
        return r, J

    def _rnorm(self, r, u):
        if self.kind == "plus":
            with np.errstate(all="ignore"):
                return np.max(np.abs(r), axis=1)
        return super()._rnorm(r, u)

    def _g(self, z, u):
        K, _ = self._k(u)
        S = (np.array(self._sys[1])[None, :] * K).sum(axis=1)
        with np.errstate(all="ignore"):
            if self.kind == "plus":
                return 1.0 / (z + S)
            return 1.0 / (z - np.exp(S))

    def _dz(self, z, u):
        """(∂F/∂z, ∂g/∂z, ∂g/∂u) for the implicit derivative of G."""
        K, D = self._k(u)
        ks = np.array(self._sys[1])
        S = (ks[None, :] * K).sum(axis=1)
        m = u.shape[1]
        if self.kind == "plus":
            fz = np.array(u, dtype=complex)   # ∂(1 + v T)/∂z = v
            g = 1.0 / (z + S)
            return fz, -g * g, -(g * g)[:, None] * ks[None, :] * D
        fz = -np.ones((z.size, m), dtype=complex) / z[:, None]
        E = np.exp(S)
        g = 1.0 / (z - E)
        return fz, -g * g, (g * g * E)[:, None] * ks[None, :] * D

    def _project(self, u):
        if self.kind == "plus":
            return u.real + 1j * np.maximum(u.imag, 0.0)
        return u.real + 1j * np.clip(u.imag, 0.0, np.pi)

    def _admissible(self, z, u):
        if self.kind == "plus":
            return np.all(u.imag >= 0, axis=1)
        return np.all((u.imag >= 0) & (u.imag <= np.pi), axis=1)

    def _solve_fast(self, z):
        comp = self._compiled
        if comp is None:
            return None
        op, kinds, params, aa, bb, ks = comp
        x0 = np.zeros(len(self._active), dtype=np.complex128)
        u, res = _solve_nb(op, kinds, params, aa, bb, ks, np.ascontiguousarray(z, dtype=np.complex128),
                           x0, True, self.tol)
        # next to an edge the system is ill-conditioned and the compiled Newton can stall just above
        # the tolerance; such a state is accepted (the axis Newton polishes it) rather than redone by
        # the slow generic continuation
        ok = np.isfinite(res) & (res <= 100 * self.tol)
        # a state that ran off to the overflow range (a subordination point at 0 in a gap: v = -1/ω)
        # can show a residual of 0 from inf/nan arithmetic; it is not a solution
        with np.errstate(all="ignore"):
            ok &= np.all(np.abs(u) < 1e150, axis=1)
        return u, res, ok

    def _axis_g(self, x):
        """:meth:`SolvedLaw._axis_g` by the compiled predictor–corrector sweep (:func:`_sweep_nb`);
        the points it cannot certify go through the generic :meth:`SolvedLaw._axis` (whose retries
        nearer the axis it does not make)."""
        comp = self._compiled
        x = np.ascontiguousarray(np.atleast_1d(x), dtype=np.float64)
        if comp is None:
            u, exact = super()._axis(x)
            return u, exact, self._g(x + 0j, u)
        op, kinds, params, aa, bb, ks = comp
        order = np.argsort(x, kind="stable")
        ua, _uy, exact, g, amp = _sweep_nb(op, kinds, params, aa, bb, ks, x, order, _Y_FLOOR, self.tol)
        bad = np.flatnonzero(~exact)
        if bad.size:
            ub, eb = super()._axis(x[bad])
            ua[bad], exact[bad] = ub, eb
            g[bad] = self._g(x[bad] + 0j, ub)
        record = self.__dict__.get("_axis_record")
        if record is not None:
            # the points for _pdf's refinement near edges (it alone knows the original, unrounded x)
            # the sweep's backward error is ~eps (1 + |z~|) in the ⊞ system and ~eps |z~| (relative)
            # in the ⊠ one: G is off by ~5 eps |dG/dz~| (⊞), ~eps |z~ dG/dz~| (⊠), against a result
            # rounded to eps max(1, |G~|) (at a hard edge, x^(-1/2), |dG/dz| is large but G well
            # conditioned: relative errors ≤ 4 ulp on MP(1) ⊠ MP(1) down to x = 1e-3)
            amp = amp * (1.0 if self.kind == "plus" else np.abs(x)) / np.maximum(1.0, np.abs(g))
            sel = np.flatnonzero(amp > self.REFINE_AMP)
            if sel.size:
                record.append((x[sel], ua[sel]))
        return ua, exact, g

    #: threshold on the sweep's error estimate, in eps times max(1, abs(G~)): abs(dG~/dz~) for ⊞,
    #: abs(z~ dG~/dz~) for ⊠ (standardized), above which ``_pdf`` recomputes the density by
    #: ``_refine_nb``.  The ⊞ sweep's error in G is up to ~5 eps abs(dG~/dz~) (measured on SC ⊞ MP(½)),
    #: and that is O(1) away from edges (0.5-1.1 for 90% of that law's grid); at 3 the unrefined points
    #: of that law are within 3.7e-16 of the truth and 16 of its 2,001 grid points are refined
    #: (+5% time; at 2: 42 points, +9.5%)
    REFINE_AMP: float = 3.0

    def _pdf(self, x):
        """The engine's density (:meth:`SolvedLaw._pdf`); with compiled inputs, the points where
        the sweep found |dG/dz| large (next to an edge) are then recomputed from their states by
        :func:`_refine_nb`, at the original x and with the residual in double-double."""
        img = self._image
        if img is not None:
            return np.asarray(img[0]._pdf(np.asarray(x, dtype=float)), dtype=float)
        comp = self._compiled
        if comp is None:
            return super()._pdf(x)
        record: list = []
        self.__dict__["_axis_record"] = record
        try:
            out = super()._pdf(x)
        finally:
            self.__dict__.pop("_axis_record", None)
        return self._refine_edges(np.ascontiguousarray(x, dtype=np.float64), out, record)

    def _refine_edges(self, x, out, record):
        if not record:
            return out
        if len(record) == 1:
            xs, us = record[0]
        else:
            xs = np.concatenate([r[0] for r in record])
            us = np.concatenate([r[1] for r in record])
        op, kinds, params, aa, bb, ks = self._compiled
        a0, b0, cs, pks, pcs, s = self.__dict__["_exact_frame"]
        # the engine's points are the rounded x~ = _to_std(x) of these x
        _refine_pdf_nb(op, kinds, params, aa, bb, ks, a0, b0, cs, pks, pcs, s, x, self._to_std(x), out, xs, us,
                       float(self.density_floor))
        return out

    def _axis(self, x):
        u, exact, _g = self._axis_g(x)
        return u, exact

    def _axis_fast(self, x, u):
        comp = self._compiled
        if comp is None:
            return None
        op, kinds, params, aa, bb, ks = comp
        return _axis_nb(op, kinds, params, aa, bb, ks, np.ascontiguousarray(x, dtype=np.float64),
                        np.ascontiguousarray(u, dtype=np.complex128))

    def _g_dg(self, z):
        """(G, G') on C⁺ in the law's own coordinates, for use as an input of another system."""
        return self._cauchy(z), self._cauchy_derivative(z)

    def _hull(self):
        lo = hi = 0.0 if self.kind == "plus" else 1.0
        if self.kind == "plus":
            for law, k, (a, b) in zip(*self._sys):
                u, v = law.support
                lo += k * (a * u + b)
                hi += k * (a * v + b)
            return (lo, hi)
        for law, k, (a, _b) in zip(*self._sys):
            u, v = law.support
            lo *= (a * u) ** k
            hi *= (a * v) ** k
        return (lo, hi)

    def _exact_atoms(self):
        img = self._image
        if img is not None:
            # the same Bercovici–Voiculescu atoms, at the image's points (where its cdf jumps)
            return img[0].atoms
        groups = [law.atoms for law in self.laws]
        ks = self.weights
        need = sum(ks) - 1.0
        pts, mass = [], []
        if self.kind == "times":
            z0 = max((float(w[p == 0].sum()) if len(p) else 0.0) for p, w in groups)
            if z0 > 0:
                pts.append(0.0)
                mass.append(z0)
        # Bercovici–Voiculescu: choose one atom per group; prune when the deficit reaches 1
        def rec(g, loc, total):
            if g == len(groups):
                m = total - need
                if m > 1e-15 and not (self.kind == "times" and loc == 0):
                    pts.append(float(loc))
                    mass.append(float(m))
                return
            p, w = groups[g]
            # the remaining groups can add at most sum of their k (masses <= 1)
            best_rest = sum(ks[g + 1:])
            for a, wa in zip(p, w):
                if total + ks[g] * wa + best_rest - need <= 1e-15:
                    continue
                if self.kind == "times" and a == 0:
                    continue
                nl = loc + ks[g] * a if self.kind == "plus" else loc * a ** ks[g]
                rec(g + 1, nl, total + ks[g] * wa)

        rec(0, 0.0 if self.kind == "plus" else 1.0, 0.0)
        order = np.argsort(pts)
        return np.array(pts, dtype=float)[order], np.array(mass, dtype=float)[order]

    def _moments(self, n):
        if self.kind == "plus":
            k = sum(w * law.free_cumulants(n) for law, w in zip(self.laws, self.weights))
            return free_cumulants_to_moments(k)
        seq = [law for law, w in zip(self.laws, self.weights) for _ in range(int(w))]
        m = np.asarray(seq[0].moments(n), dtype=float)
        for law in seq[1:]:
            m = np.asarray(boxtimes_moments(moments_to_free_cumulants(m), law.moments(n)), dtype=float)
        return m

    def subordination(self, z):
        """Subordination functions ``(ω_1, …, ω_n)`` at ``z`` in C⁺, G(z) = G_{μ_g}(ω_g(z))
        (for ⊠, in the upper half-plane variables Ω_g with G(z) = Ω_g G_{μ_g}(Ω_g)/z)."""
        zz = np.atleast_1d(np.asarray(z, dtype=complex)).ravel()
        if np.any(zz.imag <= 0):
            raise ValueError("z must lie in the upper half-plane (Im z > 0)")
        zs = self._to_std(zz)
        plus = self.kind == "plus"
        img = self._image
        if img is None:
            u = self._solve(zs)
            g = self._g(zs, u)
            states = {gi: (-1.0 / u[:, j] if plus else np.exp(u[:, j])) for j, gi in enumerate(self._active)}
        else:
            # the one input left (multiplicity 1) is not moved: ω~ = z~
            g = np.asarray(img[0]._cauchy(zz), dtype=complex) * self.frame[1]
            states = {gi: zs for gi in self._active}
        with np.errstate(all="ignore"):
            f = 1.0 / g
        out = []
        for gi, (a, b) in enumerate(self._std_inputs):
            w = states.get(gi)
            if w is None:
                # a point mass, standardized δ_0 (⊞) or δ_1 (⊠): G = G_δ(ω~) gives ω~ = F~,
                # resp. Ω~ G_δ(Ω~) = z~G~ gives Ω~ = z~/(z~ − F~)
                with np.errstate(all="ignore"):
                    w = f if plus else zs / (zs - f)
            out.append((w - b) / a)  # back to the input's own coordinates
        return tuple(out)

    def r_transform(self, w):
        if self.kind == "plus":
            return sum(k * law.r_transform(w) for law, k in zip(self.laws, self.weights))
        return super().r_transform(w)

    def s_transform(self, z):
        if self.kind == "times":
            out = 1.0
            for law, k in zip(self.laws, self.weights):
                out = out * law.s_transform(z) ** k
            return out
        return super().s_transform(z)

    def __repr__(self):
        parts = [repr(law) if k == 1 else f"free_power({law!r}, {k:g})" for law, k in zip(self.laws, self.weights)]
        if self.kind == "times" and any(k != 1 for k in self.weights):
            parts = [repr(law) for law, k in zip(self.laws, self.weights) for _ in range(int(k))]
        return f"{self.name}({', '.join(parts)})"


@njit(cache=True, error_model="numpy")
def _h_array(kind, params, a, b, w):
    n = w.shape[0]
    h = np.empty(n, dtype=np.complex128)
    dh = np.empty(n, dtype=np.complex128)
    for i in range(n):
        h[i], dh[i] = _h_aff_nb(kind, params, a, b, w[i])
    return h, dh


# ============================================================================ constructors
def _flatten(laws, kind):
    """Groups (law, multiplicity) of a nested ⊞ (or ⊠) expression; identical objects merged."""
    from .free_power import FreePower

    out: list = []

    def add(law, k):
        if isinstance(law, FreeConvolution) and law.kind == kind and type(law) in (FreeConvolution, FreePower):
            if kind == "times" and not float(k).is_integer():
                out.append([law, k])
                return
            for sub, w in zip(law.laws, law.weights):
                add(sub, k * w)
            return
        for item in out:
            if item[0] is law:
                item[1] += k
                return
        out.append([law, k])

    for law in laws:
        if not isinstance(law, Law):
            raise ValueError(f"boxplus/boxtimes take freeprob Law objects, got {type(law).__name__}")
        add(law, 1.0)
    return [g[0] for g in out], [g[1] for g in out]


def boxplus(mu: Law, nu: Law, *more: Law) -> Law:
    r"""Free additive convolution ``mu ⊞ nu (⊞ more...)``.

    All arguments, nested ⊞ expressions and free powers included, are solved as one subordination
    system with one unknown per distinct law (module docstring): the cost is linear in the number
    of laws.  Repeated objects become multiplicities (``boxplus(a, a, a)`` is ``free_power(a, 3)``).

    >>> import freeprob as fp
    >>> rho = fp.boxplus(fp.semicircle(1.0), fp.semicircle(3.0))
    >>> round(float(rho.pdf(0.5)), 10) == round(float(fp.semicircle(4.0).pdf(0.5)), 10)
    True
    >>> [round(e, 9) for e in rho.support]
    [-4.0, 4.0]
    """
    laws, ks = _flatten((mu, nu, *more), "plus")
    if len(laws) == 1:
        from .free_power import free_power

        return free_power(laws[0], ks[0])
    return FreeConvolution(laws, "plus", ks)


def boxtimes(mu: Law, nu: Law, *more: Law) -> Law:
    r"""Free multiplicative convolution of laws on ``[0, inf)`` with positive means.

    Solved as one n-ary η-subordination system (module docstring); atoms by Bercovici–Voiculescu.

    >>> import freeprob as fp
    >>> rho = fp.boxtimes(fp.bernoulli(0.5), fp.bernoulli(0.5))
    >>> rho.atoms
    (array([0.]), array([0.5]))
    """
    laws, ks = _flatten((mu, nu, *more), "times")
    return FreeConvolution(laws, "times", ks)
