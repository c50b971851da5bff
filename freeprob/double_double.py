r"""Double-double arithmetic (compiled) for residuals that must be evaluated beyond double precision.

A double-double number is an unevaluated sum ``hi + lo`` of two floats with ``|lo| <= ulp(hi)/2``,
about 32 significant digits (Dekker 1971; Hida, Li & Bailey 2001).  A complex double-double is the
4-tuple ``(re_hi, re_lo, im_hi, im_lo)``.  Products use Dekker's split (no fused multiply-add), so
the operands must stay below ~1e300 in magnitude.

Where it is used: next to a square-root edge of a density the fixed-point system of a free
convolution is nearly singular (smallest singular value ~ √δ at distance δ from the edge), so a
residual evaluated in double precision, with errors of a few ulp, moves the state and the density
by ~eps/√δ.  One Newton correction whose residual is computed here (the Jacobian stays in double:
iterative refinement) removes that error; see :func:`freeprob.convolution._refine_nb`.

``h_dd`` are the double-double twins of :func:`freeprob.cauchy_kernels.h_nb` (same formulas, same
choice of the cancellation-free form), :math:`h = F - \mathrm{id} = 1/G - \mathrm{id}`.

>>> from freeprob.double_double import dd_sqrt
>>> hi, lo = dd_sqrt(2.0, 0.0)
>>> import mpmath
>>> abs(mpmath.mpf(hi) + mpmath.mpf(lo) - mpmath.sqrt(mpmath.mpf(2))) < mpmath.mpf(2) ** -104
True
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import cauchy_kernels as ck

__all__ = ["two_sum", "two_prod", "dd_add", "dd_mul", "dd_div", "dd_sqrt",
           "cdd_add", "cdd_sub", "cdd_mul", "cdd_div", "cdd_sqrt", "cdd_scale", "cdd_conj", "cdd_of", "cdd_round",
           "h_dd"]

_SPLIT = 134217729.0  # 2**27 + 1


# ============================================================================ real
@njit(cache=True)
def two_sum(a, b):
    """(s, e) with s = fl(a + b) and s + e = a + b exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@njit(cache=True)
def _quick_two_sum(a, b):
    # requires |a| >= |b| (or a == 0)
    s = a + b
    return s, b - (s - a)


@njit(cache=True)
def _split(a):
    t = _SPLIT * a
    hi = t - (t - a)
    return hi, a - hi


@njit(cache=True)
def two_prod(a, b):
    """(p, e) with p = fl(a·b) and p + e = a·b exactly (Dekker)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(cache=True)
def dd_add(ah, al, bh, bl):
    """(a + b) for double-doubles a, b (the accurate, IEEE-style sum)."""
    s, e = two_sum(ah, bh)
    t, f = two_sum(al, bl)
    e += t
    s, e = _quick_two_sum(s, e)
    e += f
    return _quick_two_sum(s, e)


@njit(cache=True)
def dd_mul(ah, al, bh, bl):
    """a·b for double-doubles."""
    p, e = two_prod(ah, bh)
    e += ah * bl + al * bh
    return _quick_two_sum(p, e)


@njit(cache=True)
def dd_div(ah, al, bh, bl):
    """a/b for double-doubles (two correction steps on the quotient of the leading parts)."""
    q1 = ah / bh
    ph, pl = dd_mul(q1, 0.0, bh, bl)
    rh, rl = dd_add(ah, al, -ph, -pl)
    q2 = rh / bh
    ph, pl = dd_mul(q2, 0.0, bh, bl)
    rh, rl = dd_add(rh, rl, -ph, -pl)
    q3 = rh / bh
    q1, q2 = _quick_two_sum(q1, q2)
    return dd_add(q1, q2, q3, 0.0)


@njit(cache=True)
def dd_sqrt(ah, al):
    """√a for a double-double a ≥ 0: one Newton (Heron) step from the double root."""
    if ah <= 0.0:
        return 0.0, 0.0
    s = np.sqrt(ah)
    ph, pl = two_prod(s, s)
    rh, rl = dd_add(ah, al, -ph, -pl)
    return two_sum(s, rh / (2.0 * s))


# ============================================================================ complex
@njit(cache=True)
def cdd_of(z):
    """A complex double as a complex double-double."""
    return z.real, 0.0, z.imag, 0.0


@njit(cache=True)
def cdd_round(a):
    """The nearest complex double."""
    return complex(a[0] + a[1], a[2] + a[3])


@njit(cache=True)
def cdd_add(a, b):
    rh, rl = dd_add(a[0], a[1], b[0], b[1])
    ih, il = dd_add(a[2], a[3], b[2], b[3])
    return rh, rl, ih, il


@njit(cache=True)
def cdd_sub(a, b):
    rh, rl = dd_add(a[0], a[1], -b[0], -b[1])
    ih, il = dd_add(a[2], a[3], -b[2], -b[3])
    return rh, rl, ih, il


@njit(cache=True)
def cdd_mul(a, b):
    ach, acl = dd_mul(a[0], a[1], b[0], b[1])
    bdh, bdl = dd_mul(a[2], a[3], b[2], b[3])
    adh, adl = dd_mul(a[0], a[1], b[2], b[3])
    bch, bcl = dd_mul(a[2], a[3], b[0], b[1])
    rh, rl = dd_add(ach, acl, -bdh, -bdl)
    ih, il = dd_add(adh, adl, bch, bcl)
    return rh, rl, ih, il


@njit(cache=True)
def cdd_scale(a, sh, sl):
    """a·s for a complex double-double a and a real double-double s."""
    rh, rl = dd_mul(a[0], a[1], sh, sl)
    ih, il = dd_mul(a[2], a[3], sh, sl)
    return rh, rl, ih, il


@njit(cache=True)
def cdd_conj(a):
    return a[0], a[1], -a[2], -a[3]


@njit(cache=True)
def _cdd_correct(q0, a, b):
    """q0 + (a − q0·b)/b: the remainder in double-double, its quotient in double (it is ~eps·q0)."""
    rem = cdd_sub(a, cdd_mul(cdd_of(q0), b))
    q1 = ck.div(cdd_round(rem), cdd_round(b))
    rh, rl = two_sum(q0.real, q1.real)
    ih, il = two_sum(q0.imag, q1.imag)
    return rh, rl, ih, il


@njit(cache=True)
def cdd_div(a, b):
    """a/b for complex double-doubles (NaN when b = 0, as :func:`freeprob.cauchy_kernels.div`)."""
    q0 = ck.div(cdd_round(a), cdd_round(b))
    # q0 is eps-relative; the correction's own rounding is eps² relative
    return _cdd_correct(q0, a, b)


@njit(cache=True)
def cdd_sqrt(a):
    """Principal √a: one Newton step s0 + (a − s0²)/(2 s0) from the double root s0."""
    s0 = np.sqrt(cdd_round(a))
    if s0 == 0:
        return 0.0, 0.0, 0.0, 0.0
    rem = cdd_sub(a, cdd_mul(cdd_of(s0), cdd_of(s0)))
    c = cdd_round(rem) / (2.0 * s0)
    rh, rl = two_sum(s0.real, c.real)
    ih, il = two_sum(s0.imag, c.imag)
    return rh, rl, ih, il


# ============================================================================ kernels
@njit(cache=True)
def _sqrt_cut_dd(z, ah, al, bh, bl):
    # √(z − a)·√(z − b), the branch of cauchy_kernels._sqrt_cut
    za = cdd_sub(z, (ah, al, 0.0, 0.0))
    zb = cdd_sub(z, (bh, bl, 0.0, 0.0))
    return cdd_mul(cdd_sqrt(za), cdd_sqrt(zb))


@njit(cache=True)
def _closer(p, q):
    # |p| >= |q| decided on the leading parts (only the choice of formula)
    return abs(cdd_round(p)) >= abs(cdd_round(q))


@njit(cache=True)
def h_dd(kind, params, z):
    r""":math:`h(z) = 1/G(z) - z` in double-double at a complex double-double z in the closed upper
    half-plane, for the kernels of :mod:`freeprob.cauchy_kernels` (parameters exact as given)."""
    one = (1.0, 0.0, 0.0, 0.0)
    if kind == ck.SEMICIRCLE:
        m = params[0]
        s2 = params[1]
        rh, rl = dd_sqrt(s2, 0.0)
        rh, rl = 2.0 * rh, 2.0 * rl
        w = cdd_sub(z, (m, 0.0, 0.0, 0.0))
        root = _sqrt_cut_dd(w, -rh, -rl, rh, rl)
        wm = cdd_sub(w, root)
        wp = cdd_add(w, root)
        if _closer(wm, wp):
            g = cdd_div(wm, (2.0 * s2, 0.0, 0.0, 0.0))
        else:
            g = cdd_div((2.0, 0.0, 0.0, 0.0), wp)
        sg = cdd_scale(g, s2, 0.0)
        return cdd_sub((-m, 0.0, 0.0, 0.0), sg)
    if kind == ck.FREE_POISSON:
        lam = params[0]
        al = params[1]
        slh, sll = dd_sqrt(lam, 0.0)
        t1h, t1l = dd_add(1.0, 0.0, -slh, -sll)
        t2h, t2l = dd_add(1.0, 0.0, slh, sll)
        t1h, t1l = dd_mul(t1h, t1l, t1h, t1l)
        t2h, t2l = dd_mul(t2h, t2l, t2h, t2l)
        ah, alo = dd_mul(t1h, t1l, al, 0.0)
        bh, blo = dd_mul(t2h, t2l, al, 0.0)
        oh, ol = two_sum(1.0, -lam)
        ch, cl = dd_mul(oh, ol, al, 0.0)         # α(1 − λ)
        c = cdd_add(z, (ch, cl, 0.0, 0.0))
        root = _sqrt_cut_dd(z, ah, alo, bh, blo)
        cm = cdd_sub(c, root)
        cp = cdd_add(c, root)
        if _closer(cm, cp):
            g = cdd_div(cm, cdd_scale(z, 2.0 * al, 0.0))
        else:
            g = cdd_div((2.0, 0.0, 0.0, 0.0), cp)
        azg = cdd_scale(cdd_mul(z, g), al, 0.0)
        return cdd_sub((ch, cl, 0.0, 0.0), azg)
    if kind == ck.ARCSINE:
        a = params[0]
        b = params[1]
        root = _sqrt_cut_dd(z, a, 0.0, b, 0.0)
        abh, abl = two_prod(a, b)
        sh, sl = two_sum(a, b)
        num = cdd_sub((abh, abl, 0.0, 0.0), cdd_scale(z, sh, sl))
        return cdd_div(num, cdd_add(root, z))
    if kind == ck.ATOMS:
        # h = −A/G, A = Σ w p/(z − p), G = Σ w/(z − p)  (as h_nb)
        k = params.shape[0] // 2
        A = (0.0, 0.0, 0.0, 0.0)
        G = (0.0, 0.0, 0.0, 0.0)
        for i in range(k):
            d = cdd_sub(z, (params[i], 0.0, 0.0, 0.0))
            inv = cdd_div(one, d)
            G = cdd_add(G, cdd_scale(inv, params[k + i], 0.0))
            wph, wpl = two_prod(params[k + i], params[i])
            A = cdd_add(A, cdd_scale(inv, wph, wpl))
        q = cdd_div(A, G)
        return -q[0], -q[1], -q[2], -q[3]
    return np.nan, 0.0, np.nan, 0.0
