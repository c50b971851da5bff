r"""Gaussian integrals of activations: 1-D :math:`E[f(\sqrt q\,z)]` and correlated 2-D
:math:`E[f(u)g(v)]`, :math:`(u,v)\sim N(0, Q)`.

Routes, chosen per activation (see :func:`activation_moments`, :func:`activation_kernel`):

1. closed forms carried by the :class:`~nn_spectra.activations.Activation` (relu arc-cosine,
   leaky relu, erf arcsine, hard-tanh 1-D, linear);
2. for the other built-ins, piecewise Gauss–Legendre compiled with numba on :math:`z\in[-Z, Z]`,
   :math:`Z = 13`, split at the kinks of φ mapped to the :math:`z` variable and at geometrically graded
   scale points; the 2-D version integrates the conditional law
   :math:`v\mid z_1\sim N(\sqrt{q_{22}}\,c z_1,\ q_{22}(1-c^2))` the same way, so kinks of both factors
   are resolved.  Accuracy about 1e-15 relative (checked against mpmath in the tests);
3. Gauss–Hermite (numba, probabilists' rule, degree doubled until two rules agree to ``tol``), on
   request (``method="hermite"``) and in :func:`gaussian_expectation` for plain callables.
   Gauss–Hermite converges only like :math:`e^{-c\sqrt n}` for functions with poles near the real axis
   (tanh, sigmoid) and slowly at kinks, so it is not the default;
4. the same piecewise rule in numpy for custom activations.

Parametrisation of the 2-D integrals: :math:`u=\sqrt{q_{11}}z_1`,
:math:`v=\sqrt{q_{22}}(c z_1+\sqrt{1-c^2}z_2)`, :math:`c = q_{12}/\sqrt{q_{11}q_{22}}` clipped into
[−1, 1].
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numba
import numpy as np
from scipy import special

from .activations import Activation, activation

__all__ = ["gauss_hermite", "gaussian_expectation", "gaussian_expectation_2d", "activation_moments",
           "activation_kernel", "hermite_coefficients"]

_Z = 13.0  # ϕ(13) ≈ 1e-37: the Gaussian tail beyond it is far below float64 resolution
_GL_N = 16  # per piece; with the graded breakpoints this reaches ~1e-15 (tests compare with mpmath)
_BASE_BREAKS = (-6.0, -3.0, 0.0, 3.0, 6.0)  # caps every piece at length 7 whatever the scale
_DENSE_BREAKS = np.arange(-12.5, 12.75, 0.5)  # for Hermite coefficients of high order
_LADDER_1D = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384)
_LADDER_2D = (12, 16, 24, 32, 48, 64, 96, 128)
# geometric grading in the u variable so that sharp transitions (tanh(√q z) with large q) sit at a
# piece boundary: Gauss–Legendre then converges geometrically on every piece
_SCALE_POINTS = (-300.0, -100.0, -30.0, -10.0, -3.0, -1.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


@lru_cache(maxsize=64)
def gauss_hermite(degree: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and weights with :math:`\sum_i w_i f(z_i)\approx E[f(z)]`, :math:`z\sim N(0,1)`.

    Probabilists' Hermite rule (``numpy.polynomial.hermite_e.hermegauss``) with the weights divided
    by :math:`\sqrt{2\pi}`; exact for polynomials of degree :math:`\le 2\,\mathrm{degree}-1`.

    >>> z, w = gauss_hermite(5)
    >>> round(float(w @ z**4), 12)
    3.0
    """
    if int(degree) < 1:
        raise ValueError(f"degree must be an integer >= 1, got {degree!r}")
    # scipy's Golub–Welsch-based rule stays finite for large degrees, unlike numpy's hermegauss
    z, w = special.roots_hermitenorm(int(degree))
    w = w / np.sqrt(2 * np.pi)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


@lru_cache(maxsize=4)
def _gauss_legendre(n: int):
    return np.polynomial.legendre.leggauss(n)


# ----------------------------------------------------------------------------- numba kernels
@numba.njit(cache=True)
def _phi_code(code, which, x, alpha):
    # which: 0 → φ, 1 → φ', 2 → φ''; codes as in activations._CODES (smooth ones matter here)
    if code == 0:
        return x if which == 0 else (1.0 if which == 1 else 0.0)
    if code == 1:
        t = math.tanh(x)
        if which == 0:
            return t
        if which == 1:
            return 1.0 - t * t
        return -2.0 * t * (1.0 - t * t)
    if code == 2:
        if which == 0:
            return math.erf(x)
        e = 2.0 / math.sqrt(math.pi) * math.exp(-x * x)
        return e if which == 1 else -2.0 * x * e
    if code == 3 or code == 4:
        # σ(x) evaluated without overflow
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            ex = math.exp(x)
            s = ex / (1.0 + ex)
        if code == 3:
            if which == 0:
                return s
            if which == 1:
                return s * (1.0 - s)
            return s * (1.0 - s) * (1.0 - 2.0 * s)
        if which == 0:
            return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
        if which == 1:
            return s
        return s * (1.0 - s)
    if code == 5:
        cdf = 0.5 * math.erfc(-x / math.sqrt(2.0))
        pdf = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        if which == 0:
            return x * cdf
        if which == 1:
            return cdf + x * pdf
        return (2.0 - x * x) * pdf
    if code == 6:
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            ex = math.exp(x)
            s = ex / (1.0 + ex)
        if which == 0:
            return x * s
        if which == 1:
            return s * (1.0 + x * (1.0 - s))
        return s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
    if code == 7 or code == 8:
        slope = 0.0 if code == 7 else alpha
        if which == 0:
            return x if x > 0 else slope * x
        if which == 1:
            return 1.0 if x > 0 else slope
        return 0.0
    if code == 9:
        if which == 0:
            return min(1.0, max(-1.0, x))
        if which == 1:
            return 1.0 if abs(x) < 1.0 else 0.0
        return 0.0
    if code == 10:
        lam = 1.0507009873554805
        al = 1.6732632423543772
        if x > 0:
            return lam * x if which == 0 else (lam if which == 1 else 0.0)
        e = math.exp(x)
        return lam * al * (e - 1.0) if which == 0 else lam * al * e
    return math.nan


@numba.njit(cache=True)
def _breakpoints(pts, shift, scale, base, zmax):
    # sorted z-breakpoints in [-zmax, zmax]: the base points and (pts - shift)/scale
    nb = base.shape[0]
    out = np.empty(nb + pts.shape[0] + 2)
    out[0] = -zmax
    for k in range(nb):
        out[1 + k] = base[k]
    for k in range(pts.shape[0]):
        if scale > 0:
            v = (pts[k] - shift) / scale
            out[1 + nb + k] = min(zmax, max(-zmax, v))
        else:
            out[1 + nb + k] = -zmax
    out[-1] = zmax
    out.sort()
    return out


@numba.njit(cache=True)
def _pw_moments_kernel(code, alpha, q, pts, kinks, jumps, base, zmax, x, wx, out):
    # piecewise Gauss–Legendre version of _gh_moments_kernel, with the Dirac masses of φ'' at kinks
    c0 = 1.0 / math.sqrt(2.0 * math.pi)
    for i in range(q.shape[0]):
        s = math.sqrt(q[i])
        br = _breakpoints(pts, 0.0, s, base, zmax)
        a = 0.0
        b = 0.0
        c = 0.0
        for p in range(br.shape[0] - 1):
            h = 0.5 * (br[p + 1] - br[p])
            if h <= 0:
                continue
            m = 0.5 * (br[p + 1] + br[p])
            for k in range(x.shape[0]):
                z = m + h * x[k]
                wt = h * wx[k] * c0 * math.exp(-0.5 * z * z)
                u = s * z
                f = _phi_code(code, 0, u, alpha)
                d = _phi_code(code, 1, u, alpha)
                a += wt * f * f
                b += wt * d * d
                c += wt * _phi_code(code, 2, u, alpha) * f
        if s > 0:
            for k in range(kinks.shape[0]):
                t = kinks[k] / s
                c += jumps[k] * _phi_code(code, 0, kinks[k], alpha) * c0 * math.exp(-0.5 * t * t) / s
        out[i, 0] = a
        out[i, 1] = b
        out[i, 2] = c


@numba.njit(cache=True)
def _outer_breaks(pts, kinks, s1, s2c, sd, base, zmax):
    # breakpoints of the outer variable z1: where u = s1 z1 meets pts, where the conditional mean
    # s2c z1 of v meets pts, and, around each kink k of φ, where it is k ± (1, 3, 10)·sd: the inner
    # integral is then a smoothed step of width sd that a single piece would not resolve.  A smooth φ
    # (no kinks) is graded the same way around 0 when sd > 1: its transition (tanh, σ, ...) smoothed
    # by sd is then a step of width sd in the conditional mean (5e-9 errors at q = 1e6, c = -0.99 without)
    grades = np.array([-10.0, -3.0, -1.0, 1.0, 3.0, 10.0])
    if kinks.shape[0] == 0 and sd > 1.0:
        kinks = np.zeros(1)
    m = pts.shape[0] + kinks.shape[0] * grades.shape[0]
    ext = np.empty(m)
    for k in range(pts.shape[0]):
        ext[k] = pts[k]
    for k in range(kinks.shape[0]):
        for g in range(grades.shape[0]):
            ext[pts.shape[0] + k * grades.shape[0] + g] = kinks[k] + grades[g] * sd
    a = _breakpoints(pts, 0.0, s1, base, zmax)
    if s2c == 0.0:
        return a
    b = np.empty(m)
    for k in range(m):
        b[k] = min(zmax, max(-zmax, ext[k] / s2c))
    out = np.concatenate((a, b))
    out.sort()
    return out


@numba.njit(cache=True)
def _pw_kernel2d(code, alpha, q11, q22, q12, pts, kinks, base, zmax, x, wx, out):
    # nested piecewise Gauss–Legendre: z1 split where u = √q11 z1 meets pts, z2 where v meets pts
    c0 = 1.0 / math.sqrt(2.0 * math.pi)
    for i in range(q11.shape[0]):
        s1 = math.sqrt(q11[i])
        s2 = math.sqrt(q22[i])
        den = s1 * s2
        c = q12[i] / den if den > 0 else 0.0
        c = min(1.0, max(-1.0, c))
        sd = s2 * math.sqrt(max(0.0, 1.0 - c * c))
        br1 = _outer_breaks(pts, kinks, s1, s2 * c, sd, base, zmax)
        a = 0.0
        b = 0.0
        for p in range(br1.shape[0] - 1):
            h1 = 0.5 * (br1[p + 1] - br1[p])
            if h1 <= 0:
                continue
            m1 = 0.5 * (br1[p + 1] + br1[p])
            for k in range(x.shape[0]):
                z1 = m1 + h1 * x[k]
                w1 = h1 * wx[k] * c0 * math.exp(-0.5 * z1 * z1)
                u = s1 * z1
                pu = _phi_code(code, 0, u, alpha)
                du = _phi_code(code, 1, u, alpha)
                mean = s2 * c * z1
                if sd <= 0:
                    ia = _phi_code(code, 0, mean, alpha)
                    ib = _phi_code(code, 1, mean, alpha)
                else:
                    br2 = _breakpoints(pts, mean, sd, base, zmax)
                    ia = 0.0
                    ib = 0.0
                    for r in range(br2.shape[0] - 1):
                        h2 = 0.5 * (br2[r + 1] - br2[r])
                        if h2 <= 0:
                            continue
                        m2 = 0.5 * (br2[r + 1] + br2[r])
                        for j in range(x.shape[0]):
                            z2 = m2 + h2 * x[j]
                            w2 = h2 * wx[j] * c0 * math.exp(-0.5 * z2 * z2)
                            v = mean + sd * z2
                            ia += w2 * _phi_code(code, 0, v, alpha)
                            ib += w2 * _phi_code(code, 1, v, alpha)
                a += w1 * pu * ia
                b += w1 * du * ib
        out[i, 0] = a
        out[i, 1] = b


@numba.njit(cache=True)
def _hermite_coeff_kernel(code, alpha, q, pts, base, zmax, x, wx, out):
    # out[i, k] = E[φ(√q_i z) He_k(z)] / sqrt(k!), k = 0..K (normalised probabilists' Hermite
    # polynomials by their stable three-term recurrence), with the piecewise Gauss–Legendre rule
    c0 = 1.0 / math.sqrt(2.0 * math.pi)
    K = out.shape[1] - 1
    rt = np.sqrt(np.arange(K + 1.0))
    inv = np.zeros(K + 1)
    for k in range(1, K + 1):
        inv[k] = 1.0 / rt[k]
    for i in range(q.shape[0]):
        s = math.sqrt(q[i])
        br = _breakpoints(pts, 0.0, s, base, zmax)
        for k in range(K + 1):
            out[i, k] = 0.0
        for p in range(br.shape[0] - 1):
            h = 0.5 * (br[p + 1] - br[p])
            if h <= 0:
                continue
            m = 0.5 * (br[p + 1] + br[p])
            for j in range(x.shape[0]):
                z = m + h * x[j]
                wt = h * wx[j] * c0 * math.exp(-0.5 * z * z) * _phi_code(code, 0, s * z, alpha)
                hm = 0.0
                hk = 1.0
                out[i, 0] += wt
                for k in range(1, K + 1):
                    hn = (z * hk - rt[k - 1] * hm) * inv[k]
                    hm = hk
                    hk = hn
                    out[i, k] += wt * hk


def hermite_coefficients(act, q, order: int = 80) -> np.ndarray:
    r"""Normalised Hermite coefficients :math:`b_k = E[\varphi(\sqrt q z)\,He_k(z)]/\sqrt{k!}`, k = 0..``order``.

    Mehler's formula gives, for equal variances :math:`q` and correlation :math:`c`,
    :math:`E[\varphi(u)\varphi(v)] = \sum_k b_k^2 c^k` and
    :math:`E[\varphi'(u)\varphi'(v)] = q^{-1}\sum_k k\,b_k^2 c^{k-1}`; by Parseval
    :math:`\sum_k b_k^2 = E[\varphi^2]`, so the truncation error is at most
    :math:`E[\varphi^2]-\sum_{k\le K} b_k^2` for :math:`|c|\le1`.  Built-in activations only.

    Returns
    -------
    numpy.ndarray of shape ``q.shape + (order + 1,)``

    Examples
    --------
    >>> b = hermite_coefficients("linear", 2.0, order=3)
    >>> (np.round(b, 12) + 0.0).tolist()          # √q z = √2 He_1(z)
    [0.0, 1.414213562373, 0.0, 0.0]
    """
    act = activation(act)
    if act.code < 0:
        raise ValueError("hermite_coefficients needs a built-in activation")
    if int(order) < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    qa = _as_variance("q", q)
    flat = np.ascontiguousarray(qa.ravel())
    x, wx = _gauss_legendre(_GL_N)
    out = np.empty((flat.size, int(order) + 1))
    # pieces of length 1/2 whatever the scale: He_k oscillates on a length ~π/√(2k) and the default
    # pieces (up to 7 long) would not resolve it for k beyond ~40
    _hermite_coeff_kernel(act.code, act.alpha, flat, _pts(act), _DENSE_BREAKS, _Z, x, wx, out)
    return out.reshape(qa.shape + (int(order) + 1,))


@numba.njit(cache=True)
def _gh_moments_kernel(code, alpha, q, z, w, out):
    # out[i] = (E φ², E φ'², E φ''φ) at variance q[i]
    for i in range(q.shape[0]):
        s = math.sqrt(q[i])
        a = 0.0
        b = 0.0
        c = 0.0
        for k in range(z.shape[0]):
            x = s * z[k]
            p = _phi_code(code, 0, x, alpha)
            d = _phi_code(code, 1, x, alpha)
            a += w[k] * p * p
            b += w[k] * d * d
            c += w[k] * _phi_code(code, 2, x, alpha) * p
        out[i, 0] = a
        out[i, 1] = b
        out[i, 2] = c


@numba.njit(cache=True)
def _gh_kernel2d(code, alpha, q11, q22, q12, z, w, out):
    # out[i] = (E φ(u)φ(v), E φ'(u)φ'(v)) by the tensor Gauss–Hermite rule
    n = z.shape[0]
    for i in range(q11.shape[0]):
        s1 = math.sqrt(q11[i])
        s2 = math.sqrt(q22[i])
        den = s1 * s2
        c = q12[i] / den if den > 0 else 0.0
        c = min(1.0, max(-1.0, c))
        r = math.sqrt(max(0.0, 1.0 - c * c))
        a = 0.0
        b = 0.0
        for j in range(n):
            u = s1 * z[j]
            pu = _phi_code(code, 0, u, alpha)
            du = _phi_code(code, 1, u, alpha)
            ia = 0.0
            ib = 0.0
            for k in range(n):
                v = s2 * (c * z[j] + r * z[k])
                ia += w[k] * _phi_code(code, 0, v, alpha)
                ib += w[k] * _phi_code(code, 1, v, alpha)
            a += w[j] * pu * ia
            b += w[j] * du * ib
        out[i, 0] = a
        out[i, 1] = b


@lru_cache(maxsize=256)
def _degree_1d(code: int, alpha: float, qbucket: float, tol: float, ladder: tuple) -> int | None:
    # smallest degree n of the ladder whose rule agrees with the next one to tol at variance qbucket
    # several variances below the bucket: a single large q can fool the test (tanh(√q z) ≈ sign z
    # looks converged to every rule whose nodes avoid 0)
    q = qbucket * np.array([1.0, 0.5, 0.25, 0.125, 0.0625])
    prev = None
    for n in ladder:
        z, w = gauss_hermite(n)
        out = np.empty((q.size, 3))
        _gh_moments_kernel(code, alpha, q, z, w, out)
        if prev is not None and np.all(np.abs(out - prev[1]) <= tol * (1 + np.abs(out))):
            return prev[0]
        prev = (n, out)
    return None


def _bucket(qmax: float) -> float:
    # round up to a power of 2 so the degree search is cached across calls
    return float(2.0 ** math.ceil(math.log2(max(qmax, 1e-3))))


# ----------------------------------------------------------------------------- piecewise Gauss–Legendre
def _pieces(breaks: np.ndarray, n: int = _GL_N):
    """Nodes (…, P·n) and weights for ∫_{-Z}^{Z} ⋯ϕ(z)dz split at ``breaks`` (…, B) and the base points."""
    lo = -_Z * np.ones(breaks.shape[:-1] + (1,))
    base = np.broadcast_to(np.array(_BASE_BREAKS), breaks.shape[:-1] + (len(_BASE_BREAKS),))
    inner = np.sort(np.concatenate([np.clip(breaks, -_Z, _Z), base], axis=-1), axis=-1)
    b = np.concatenate([lo, inner, -lo], axis=-1)
    x, wx = _gauss_legendre(n)
    a, c = b[..., :-1, None], b[..., 1:, None]
    nodes = 0.5 * (c - a) * x + 0.5 * (c + a)
    weights = 0.5 * (c - a) * wx * np.exp(-0.5 * nodes * nodes) / np.sqrt(2 * np.pi)
    sh = nodes.shape[:-2] + (-1,)
    return nodes.reshape(sh), weights.reshape(sh)


def _breaks_for(kinks, scale: np.ndarray, shift: np.ndarray | float = 0.0) -> np.ndarray:
    # z-values where m + scale·z hits a kink or a scale point of φ; scale = 0 sends them to ±Z
    pts = np.array(tuple(kinks) + _SCALE_POINTS, dtype=float)
    scale = np.asarray(scale, float)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        br = (pts - np.asarray(shift, float)[..., None]) / np.where(scale > 0, scale, np.inf)
    return np.nan_to_num(br, nan=0.0, posinf=_Z, neginf=-_Z)


def _piecewise_1d(fs, q: np.ndarray, kinks) -> list[np.ndarray]:
    sq = np.sqrt(q)
    nodes, weights = _pieces(_breaks_for(kinks, sq))
    u = sq[..., None] * nodes
    return [np.sum(weights * f(u), axis=-1) for f in fs]


def _piecewise_2d(f, g, fk, gk, q11, q22, c, chunk: int = 64):
    out = np.empty(q11.shape)
    for s in range(0, q11.size, chunk):
        sl = slice(s, s + chunk)
        s1, s2, cc = np.sqrt(q11[sl]), np.sqrt(q22[sl]), c[sl]
        sdv = s2 * np.sqrt(np.maximum(0.0, 1 - cc * cc))
        # outer breaks as in the compiled kernel: kinks/scales of f, the conditional mean of v at the
        # kinks/scales of g, and graded around g's kinks by multiples of the conditional deviation
        grades = np.array([-10.0, -3.0, -1.0, 1.0, 3.0, 10.0])
        gpts = np.concatenate([np.array(tuple(gk) + _SCALE_POINTS, dtype=float),
                               (np.array(gk, dtype=float)[:, None] + 0 * grades).ravel()])
        shift = np.concatenate([np.zeros(len(gk) + len(_SCALE_POINTS)),
                                np.repeat(np.ones(len(gk)), len(grades)) * 0.0])
        s2c = s2 * cc
        with np.errstate(divide="ignore", invalid="ignore"):
            extra = np.concatenate([(gpts[None, :len(gk) + len(_SCALE_POINTS)]) / s2c[:, None],
                                    (np.array(gk, dtype=float)[None, :, None]
                                     + grades[None, None, :] * sdv[:, None, None]).reshape(len(s1), -1)
                                    / s2c[:, None]], axis=1)
        extra = np.nan_to_num(np.where(np.isfinite(extra), extra, _Z), nan=0.0)
        del shift
        z1, w1 = _pieces(np.concatenate([_breaks_for(fk, s1), extra], axis=1))   # (p, N1)
        m = (s2 * cc)[:, None] * z1                               # conditional mean of v
        sd = np.broadcast_to((s2 * np.sqrt(np.maximum(0.0, 1 - cc * cc)))[:, None], m.shape)
        z2, w2 = _pieces(_breaks_for(gk, sd, m))                  # (p, N1, N2)
        inner = np.sum(w2 * g(m[..., None] + sd[..., None] * z2), axis=-1)
        out[sl] = np.sum(w1 * f(s1[:, None] * z1) * inner, axis=-1)
    return out


# ----------------------------------------------------------------------------- public integrals
_TAIL_TOL = 1e-13


def _check_custom_integral(act, q, values, what: str) -> None:
    # A custom φ is integrated on |z| <= Z only: that is exact to float64 when the integrand decays
    # like a Gaussian, but silently wrong when φ returns NaN/inf or grows so fast that the integral
    # diverges (φ = exp(x²) at q >= 1/4).  Both are reported instead of returned.
    vals = [np.asarray(v, float) for v in values]
    bad = ~np.all([np.isfinite(v) for v in vals], axis=0)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"the Gaussian integrals {what} of activation {act.name!r} are not finite at "
                         f"q={q.ravel()[i]:.6g}: the activation returns NaN or inf there")
    sq = np.sqrt(q)
    pdf = math.exp(-0.5 * _Z * _Z) / math.sqrt(2 * math.pi)
    with np.errstate(all="ignore"):
        edge = [np.maximum(np.abs(f(sq * _Z)), np.abs(f(-sq * _Z))) ** 2 * pdf for f in (act.phi, act.dphi)]
    for v, e, name in zip(vals, edge, ("phi", "phi'")):
        # the integrand at the truncation point times a unit length bounds the neglected tail when
        # it still decays like a Gaussian there; anything larger means it is not captured
        worse = ~(np.asarray(e) <= _TAIL_TOL * np.maximum(1.0, np.abs(v)))
        if worse.any():
            i = int(np.flatnonzero(worse.ravel())[0])
            raise ValueError(f"the Gaussian integral E[{name}(sqrt(q) z)^2] of activation {act.name!r} does not "
                             f"converge (or not within |z| <= {_Z:g}) at q={q.ravel()[i]:.6g}: the integrand is "
                             f"{float(np.asarray(e).ravel()[i]):.3g} at the truncation point")


def _as_variance(name: str, q) -> np.ndarray:
    a = np.asarray(q, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be finite and >= 0 (a variance), got {q!r}")
    return a


def gaussian_expectation(f: Callable, q, degree: int | None = None, *, kinks=(), tol: float = 1e-10):
    r"""``E[f(√q z)]``, :math:`z\sim N(0,1)`, vectorised over ``q``.

    Parameters
    ----------
    f : callable or Activation
        Vectorised function of :math:`u=\sqrt q z` (an :class:`Activation` means its φ).
    q : array_like
        Variances, :math:`q\ge 0`.
    degree : int, optional
        Use a Gauss–Hermite rule of this degree.  By default the degree is doubled until two rules
        agree to ``tol`` (relative to 1 + ``|value|``); if no rule up to 384 nodes does (kinks, large
        ``q``) the piecewise Gauss–Legendre rule split at ``kinks`` is used.
    kinks : sequence of float
        Points in the :math:`u` variable where f or f' is discontinuous.

    Returns
    -------
    numpy.ndarray or float

    Examples
    --------
    >>> import numpy as np
    >>> round(float(gaussian_expectation(np.cos, 2.0)), 12)   # E cos(√2 z) = e^{-1}
    0.367879441171
    """
    if isinstance(f, Activation):
        kinks = f.kinks
        f = f.phi
    qa = _as_variance("q", q)
    flat = qa.ravel()
    if degree is not None:
        z, w = gauss_hermite(int(degree))
        res = f(np.sqrt(flat)[:, None] * z) @ w
    elif kinks:
        res = _piecewise_1d([f], flat, kinks)[0]
    else:
        res = None
        prev = None
        s = np.sqrt(flat)[:, None]
        for n in _LADDER_1D:
            z, w = gauss_hermite(n)
            cur = f(s * z) @ w
            if prev is not None and np.all(np.abs(cur - prev) <= tol * (1 + np.abs(cur))):
                res = cur
                break
            prev = cur
        if res is None:
            res = _piecewise_1d([f], flat, kinks)[0]
    res = np.asarray(res, float).reshape(qa.shape)
    return float(res) if res.ndim == 0 else res


def gaussian_expectation_2d(f: Callable, g: Callable, q11, q22, q12, degree: int | None = None, *,
                            f_kinks=(), g_kinks=()):
    r"""``E[f(u) g(v)]`` for a centred Gaussian pair with variances ``q11``, ``q22`` and covariance ``q12``.

    With :math:`c=q_{12}/\sqrt{q_{11}q_{22}}` (clipped into [−1, 1]),
    :math:`u=\sqrt{q_{11}}z_1`, :math:`v=\sqrt{q_{22}}(cz_1+\sqrt{1-c^2}z_2)`.  With ``degree`` a tensor
    Gauss–Hermite rule is used; by default the nested piecewise Gauss–Legendre rule (split at the kinks
    of f in :math:`z_1` and of g in the conditional variable), accurate to about 1e-12 for
    piecewise-smooth f, g of moderate growth.

    Examples
    --------
    >>> round(float(gaussian_expectation_2d(lambda x: x, lambda x: x, 2.0, 3.0, 1.5)), 12)
    1.5
    """
    if isinstance(f, Activation):
        f_kinks, f = f.kinks, f.phi
    if isinstance(g, Activation):
        g_kinks, g = g.kinks, g.phi
    a, b, c12 = np.broadcast_arrays(_as_variance("q11", q11), _as_variance("q22", q22), np.asarray(q12, float))
    c = _clip_corr(a, b, c12)
    if degree is not None:
        z, w = gauss_hermite(int(degree))
        s1, s2 = np.sqrt(a.ravel())[:, None, None], np.sqrt(b.ravel())[:, None, None]
        cc = c.ravel()[:, None, None]
        z1, z2 = z[:, None], z[None, :]
        vals = f(s1 * z1) * g(s2 * (cc * z1 + np.sqrt(np.maximum(0, 1 - cc * cc)) * z2))
        res = np.einsum("pjk,j,k->p", vals, w, w)
    else:
        res = _piecewise_2d(f, g, f_kinks, g_kinks, a.ravel(), b.ravel(), c.ravel())
    res = res.reshape(a.shape)
    return float(res) if res.ndim == 0 else res


def _clip_corr(q11, q22, q12):
    den = np.sqrt(q11 * q22)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(den > 0, q12 / np.where(den > 0, den, 1.0), 0.0)
    return np.clip(c, -1.0, 1.0)


# ----------------------------------------------------------------------------- activation integrals
def _method(method: str, act: Activation, has_closed: bool) -> str:
    if method not in ("auto", "closed", "hermite", "legendre"):
        raise ValueError(f"method must be one of 'auto', 'closed', 'hermite', 'legendre', got {method!r}")
    if method == "closed" and not has_closed:
        raise ValueError(f"activation {act.name!r} has no closed form for this integral; use method='auto'")
    if method == "hermite" and act.code < 0:
        raise ValueError("method='hermite' needs a built-in activation (compiled kernel)")
    if method == "auto":
        return "closed" if has_closed else ("compiled" if act.code >= 0 else "numpy")
    return method


def _pts(act: Activation) -> np.ndarray:
    return np.array(act.kinks + _SCALE_POINTS, dtype=float)


def activation_moments(act, q, *, tol: float = 1e-10, method: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(E[φ(u)²], E[φ'(u)²], E[φ''(u)φ(u)])`` for :math:`u=\sqrt q z`, vectorised over ``q``.

    ``method="auto"``: the closed form when the activation has one; otherwise, for built-ins, the
    compiled piecewise Gauss–Legendre rule (16 nodes per piece, pieces split at the kinks and graded
    geometrically at :math:`u=\pm1,\pm3,\pm10,\dots,\pm300`), accurate to about 1e-15 relative;
    for custom φ the same rule in numpy.  ``"closed"``, ``"legendre"`` and ``"hermite"`` force a route;
    ``"hermite"`` doubles the Gauss–Hermite degree (ladder 16…384) until two rules agree to ``tol``
    at several variances up to the largest one; for tanh it needs more than 128 nodes at
    :math:`q=1` and does not reach 1e-10 at :math:`q\ge 4` within 384 nodes, which is why it is not the
    default.
    Dirac masses of φ'' at kinks are included in the third entry:
    :math:`\sum_k [\varphi']_k\,\varphi(k)\,p_u(k)`.

    Examples
    --------
    >>> e2, d2, _ = activation_moments("relu", 3.0)
    >>> float(e2), float(d2)
    (1.5, 0.5)
    """
    act = activation(act)
    qa = _as_variance("q", q)
    how = _method(method, act, act.moments_1d is not None)
    if how == "closed":
        out = act.moments_1d(qa)
        return tuple(np.broadcast_to(np.asarray(o, float), qa.shape).copy() for o in out)
    flat = np.ascontiguousarray(qa.ravel())
    res = None
    if not flat.size:
        return tuple(np.zeros(qa.shape) for _ in range(3))
    if how == "hermite":
        n = _degree_1d(act.code, act.alpha, _bucket(float(flat.max())), tol, _LADDER_1D) or _LADDER_1D[-1]
        z, w = gauss_hermite(n)
        out = np.empty((flat.size, 3))
        _gh_moments_kernel(act.code, act.alpha, flat, np.asarray(z), np.asarray(w), out)
        res = [out[:, 0], out[:, 1], out[:, 2]]
    if res is None and act.code >= 0:
        x, wx = _gauss_legendre(_GL_N)
        out = np.empty((flat.size, 3))
        _pw_moments_kernel(act.code, act.alpha, flat, _pts(act), np.array(act.kinks, float),
                           np.array(act.dphi_jumps, float), np.array(_BASE_BREAKS), _Z, x, wx, out)
        res = [out[:, 0], out[:, 1], out[:, 2]]
    if res is None:
        with np.errstate(all="ignore"):
            res = _piecewise_1d([lambda u: act.phi(u) ** 2, lambda u: act.dphi(u) ** 2,
                                 lambda u: act.d2phi(u) * act.phi(u)], flat, act.kinks)
        _check_custom_integral(act, flat, res[:2], "E[phi(u)^2], E[phi'(u)^2]")
        if act.kinks:
            sq = np.sqrt(flat)
            with np.errstate(divide="ignore", invalid="ignore"):
                for k, jump in zip(act.kinks, act.dphi_jumps):
                    dens = np.where(sq > 0, np.exp(-0.5 * (k / np.where(sq > 0, sq, 1)) ** 2)
                                    / (np.sqrt(2 * np.pi) * np.where(sq > 0, sq, 1)), 0.0)
                    res[2] = res[2] + jump * float(act.phi(np.array([k]))[0]) * dens
    return tuple(np.asarray(r, float).reshape(qa.shape) for r in res)


def activation_kernel(act, q11, q22, q12, *, tol: float = 1e-10, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    r"""``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` for :math:`(u,v)` centred Gaussian with covariance
    :math:`[[q_{11}, q_{12}], [q_{12}, q_{22}]]`, vectorised (broadcast) over the three arrays.

    ``method="auto"``: the closed form when available (relu arc-cosine, leaky relu, erf arcsine,
    linear); for other built-ins the compiled nested piecewise Gauss–Legendre rule (outer variable
    :math:`z_1`, inner the conditional law of :math:`v` given :math:`z_1`, both split at kinks and graded
    scale points); for custom φ the same in numpy.  ``"hermite"`` uses a tensor Gauss–Hermite rule
    (ladder 12…128 per axis).  The correlation is clipped into [−1, 1] before use, so rounding in deep
    recursions never produces NaN.

    Examples
    --------
    >>> k, kd = activation_kernel("relu", 1.0, 1.0, 1.0)
    >>> float(k), float(kd)
    (0.5, 0.5)
    """
    act = activation(act)
    a, b, c12 = np.broadcast_arrays(_as_variance("q11", q11), _as_variance("q22", q22), np.asarray(q12, float))
    if np.any(~np.isfinite(c12)):
        raise ValueError("q12 must be finite")
    how = _method(method, act, act.kernel_2d is not None)
    if how == "closed":
        k, kd = act.kernel_2d(a, b, c12)
        return np.broadcast_to(k, a.shape).astype(float), np.broadcast_to(kd, a.shape).astype(float)
    fa, fb = np.ascontiguousarray(a.ravel()), np.ascontiguousarray(b.ravel())
    fc = np.ascontiguousarray(c12.ravel())
    if not fa.size:
        return np.zeros(a.shape), np.zeros(a.shape)
    if how == "hermite":
        n = _degree_1d(act.code, act.alpha, _bucket(float(max(fa.max(), fb.max()))), tol, _LADDER_2D) or _LADDER_2D[-1]
        z, w = gauss_hermite(n)
        out = np.empty((fa.size, 2))
        _gh_kernel2d(act.code, act.alpha, fa, fb, fc, np.asarray(z), np.asarray(w), out)
        return out[:, 0].reshape(a.shape), out[:, 1].reshape(a.shape)
    if act.code >= 0:
        x, wx = _gauss_legendre(_GL_N)
        out = np.empty((fa.size, 2))
        _pw_kernel2d(act.code, act.alpha, fa, fb, fc, _pts(act), np.array(act.kinks, dtype=float),
                     np.array(_BASE_BREAKS), _Z, x, wx, out)
        return out[:, 0].reshape(a.shape), out[:, 1].reshape(a.shape)
    c = _clip_corr(fa, fb, fc)
    _check_custom_integral(act, np.maximum(fa, fb), activation_moments(act, np.maximum(fa, fb))[:2],
                           "E[phi(u)^2], E[phi'(u)^2]")
    with np.errstate(all="ignore"):
        k = _piecewise_2d(act.phi, act.phi, act.kinks, act.kinks, fa, fb, c)
        kd = _piecewise_2d(act.dphi, act.dphi, act.kinks, act.kinks, fa, fb, c)
    if not (np.all(np.isfinite(k)) and np.all(np.isfinite(kd))):
        raise ValueError(f"the Gaussian integrals of activation {act.name!r} are not finite "
                         f"(the activation returns NaN or inf)")
    return k.reshape(a.shape), kd.reshape(a.shape)


# ----------------------------------------------------------------------------- tables for many q at once
# Mean-field functions evaluated on large grids of (σ_w², σ_b²) need the same functions of q at
# tens of thousands of distinct points.  For the built-ins integrated by quadrature they are tabulated
# once per activation (cached) and interpolated by cubic splines; every table is checked against the
# quadrature at the midpoints of its cells (where the interpolation error peaks) and refined until the
# check passes, so the tables are as accurate as stated, not assumed to be.

_TABLE_TOL = 1e-12


def table_eligible(act: Activation) -> bool:
    """True for built-ins integrated by quadrature (no closed form), which the tables serve."""
    return act.code >= 0 and act.moments_1d is None


def kernel_table_eligible(act: Activation) -> bool:
    """True for built-ins whose 2-D kernel is integrated by quadrature (hard tanh has closed 1-D moments only)."""
    return act.code >= 0 and act.kernel_2d is None


class MomentTable:
    r"""``(E[φ²], E[φ'²], E[φφ''])`` of :math:`u=\sqrt q z` for every :math:`q\in[0,\infty]`, tabulated.

    The variable is :math:`x = s/(1+s)\in[0,1]`, :math:`s=\sqrt q`, so one table covers :math:`q = \infty`
    (:math:`x = 1`); the entries are :math:`E[φ^2]/(1+q)`, :math:`E[φ'^2]`, :math:`E[φφ'']`, bounded for
    activations of at most linear growth (all built-ins).  ``max_error`` is the largest deviation from
    the quadrature at the cell midpoints, relative to ``max(1, |value|)``.
    """

    def __init__(self, act: Activation, tol: float = _TABLE_TOL, n0: int = 1024, n_max: int = 32768):
        from scipy.interpolate import CubicSpline

        self.act = act
        n = n0
        while True:
            x = np.linspace(0.0, 1.0, n + 1)
            vals = self._exact(x)
            sp = CubicSpline(x, vals, axis=0)
            xm = 0.5 * (x[1:] + x[:-1])
            err = np.abs(sp(xm) - self._exact(xm)) / np.maximum(1.0, np.abs(self._exact_cache))
            self.max_error = float(err.max())
            if self.max_error <= tol or n >= n_max:
                break
            n *= 2
        self.n = n
        self._sp = sp

    def _exact(self, x):
        s = x / np.maximum(1.0 - x, 1e-300)
        # the two ends are limits: q = ∞ taken at s = 1e15; q → 0+ at s = 1e-150, since at a kink
        # (selu, relu-like) E[φ'(√q z)²] jumps at q = 0 to the convention φ'(0)² (q = 0 itself is
        # evaluated exactly by __call__)
        s = np.where(x >= 1.0, 1e15, np.maximum(s, 1e-150))
        q = s * s
        e2, d2, e11 = activation_moments(self.act, q)
        out = np.stack([e2 / (1.0 + q), d2, e11], axis=-1)
        self._exact_cache = out
        return out

    def __call__(self, q):
        q = np.asarray(q, float)
        s = np.sqrt(q)
        x = np.where(np.isinf(q), 1.0, s / (1.0 + s))
        v = self._sp(x)
        qq = np.where(np.isinf(q), 0.0, q)
        e2, d2, e11 = v[..., 0] * (1.0 + qq), v[..., 1], v[..., 2]
        zero = q == 0
        if zero.any():
            z = activation_moments(self.act, 0.0)
            e2, d2, e11 = (np.where(zero, float(zi), a) for zi, a in zip(z, (e2, d2, e11)))
        return e2, d2, e11


class MehlerTable:
    r"""Normalised Hermite coefficients :math:`b_k(q)`, k = 0..``order``, tabulated in :math:`s=\sqrt q\in[0, s_{\max}]`.

    With them, for equal variances :math:`q` and correlation :math:`c` (Mehler),
    :math:`E[φ(u)φ(v)] = \sum_k b_k^2c^k` and :math:`E[φ'(u)φ'(v)] = q^{-1}\sum_k k\,b_k^2c^{k-1}`; the
    terms past the order are bounded by :math:`|c|^{K+1}t_K` and :math:`|c|^{K}u_K/q` with the Parseval
    tails :math:`t_K = E[φ^2]-\sum_{k\le K}b_k^2`, :math:`u_K = qE[φ'^2]-\sum_{k\le K}k\,b_k^2`
    (:meth:`kernel` returns these bounds, so callers use the series only where it is accurate).
    """

    def __init__(self, act: Activation, s_max: float = 4.0, order: int = 160, tol: float = 1e-10,
                 n0: int = 512, n_max: int = 1024):
        from scipy.interpolate import CubicSpline

        self.act, self.s_max, self.order = act, float(s_max), int(order)
        n = n0
        while True:
            s = np.linspace(0.0, self.s_max, n + 1)
            sp = CubicSpline(s, hermite_coefficients(act, s * s, order=self.order), axis=0)
            sm = 0.5 * (s[1:] + s[:-1])[::8]  # a sample of the midpoints: the coefficients are costly
            ex = hermite_coefficients(act, sm * sm, order=self.order)
            self.max_error = float(np.max(np.abs(sp(sm) - ex)))
            if self.max_error <= tol or n >= n_max:
                break
            n *= 2
        self.n = n
        self._sp = sp

    def coefficients(self, q) -> np.ndarray:
        """:math:`b_k(q)^2`, shape ``q.shape + (order + 1,)`` (``q`` within the table)."""
        return self._sp(np.sqrt(np.asarray(q, float))) ** 2

    def kernel(self, b2, q, c, e2, d2):
        """``(K, K̇, bound_K, bound_K̇)`` from the squared coefficients ``b2`` at variances ``q`` and
        correlations ``c``; ``e2, d2`` are :math:`E[φ^2], E[φ'^2]` at ``q`` (for the Parseval tails)."""
        q = np.ascontiguousarray(q, dtype=float)
        c = np.ascontiguousarray(np.broadcast_to(np.asarray(c, float), q.shape))
        out = np.empty(q.shape + (4,))
        _mehler_eval(np.ascontiguousarray(b2), q.ravel(), c.ravel(), np.ascontiguousarray(e2, dtype=float).ravel(),
                     np.ascontiguousarray(d2, dtype=float).ravel(), out.reshape(-1, 4))
        return out[..., 0], out[..., 1], out[..., 2], out[..., 3]


@numba.njit(cache=True)
def _mehler_eval(b2, q, c, e2, d2, out):
    # Horner for Σ b_k² c^k and Σ k b_k² c^(k-1); Parseval tails t = E[φ²] − Σ b_k²,
    # u = q E[φ'²] − Σ k b_k², bounds |c|^(K+1) t and |c|^K u / q on the omitted terms
    n, K1 = b2.shape
    K = K1 - 1
    for i in range(n):
        ci = c[i]
        a = 0.0
        ad = 0.0
        sb = 0.0
        skb = 0.0
        for j in range(K, -1, -1):
            bj = b2[i, j]
            a = a * ci + bj
            sb += bj
            if j >= 1:
                ad = ad * ci + j * bj
                skb += j * bj
        t = max(e2[i] - sb, 0.0)
        u = max(q[i] * d2[i] - skb, 0.0)
        ac = abs(ci)
        out[i, 0] = a
        if q[i] > 0:
            out[i, 1] = ad / q[i]
            out[i, 3] = ac ** K * u / q[i]
        else:
            out[i, 1] = d2[i]
            out[i, 3] = 0.0
        out[i, 2] = ac ** (K + 1) * t


_MOMENT_TABLES: dict = {}
_MEHLER_TABLES: dict = {}


def moment_table(act: Activation) -> MomentTable:
    """The cached :class:`MomentTable` of a built-in activation."""
    key = (act.code, act.alpha)
    if key not in _MOMENT_TABLES:
        _MOMENT_TABLES[key] = MomentTable(act)
    return _MOMENT_TABLES[key]


def mehler_table(act: Activation) -> MehlerTable:
    """The cached :class:`MehlerTable` of a built-in activation."""
    key = (act.code, act.alpha)
    if key not in _MEHLER_TABLES:
        _MEHLER_TABLES[key] = MehlerTable(act)
    return _MEHLER_TABLES[key]


class CorrTable:
    r"""``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` at one variance :math:`q` for every correlation :math:`c`.

    Tabulated in :math:`\theta=\arccos c` (the arc-cosine kernels of relu-like φ are linear or smooth
    in θ where they have square-root singularities in c) by cubic splines, refined until the values
    at the cell midpoints agree with the 2-D quadrature to ``tol``.
    """

    def __init__(self, act: Activation, q: float, tol: float = 1e-10, n0: int = 64, n_max: int = 1024):
        from scipy.interpolate import CubicSpline

        self.act, self.q = act, float(q)
        n = n0
        while True:
            th = np.linspace(0.0, np.pi, n + 1)
            sp = CubicSpline(th, np.stack(activation_kernel(act, q, q, np.cos(th) * q), axis=-1), axis=0)
            tm = 0.5 * (th[1:] + th[:-1])
            ex = np.stack(activation_kernel(act, q, q, np.cos(tm) * q), axis=-1)
            self.max_error = float(np.max(np.abs(sp(tm) - ex) / np.maximum(1.0, np.abs(ex))))
            if self.max_error <= tol or n >= n_max:
                break
            n *= 2
        self.n = n
        self._sp = sp

    def __call__(self, c):
        v = self._sp(np.arccos(np.clip(np.asarray(c, float), -1.0, 1.0)))
        return v[..., 0], v[..., 1]


_CORR_TABLES: dict = {}


def corr_table(act: Activation, q: float) -> CorrTable:
    """The cached :class:`CorrTable` of a built-in activation at variance ``q``."""
    key = (act.code, act.alpha, float(q))
    if key not in _CORR_TABLES:
        if len(_CORR_TABLES) > 64:
            _CORR_TABLES.clear()
        _CORR_TABLES[key] = CorrTable(act, q)
    return _CORR_TABLES[key]
