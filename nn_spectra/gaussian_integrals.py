r"""Gaussian integrals of activations: 1-D :math:`E[f(\sqrt q\,z)]` and correlated 2-D
:math:`E[f(u)g(v)]`, :math:`(u,v)\sim N(0, Q)`.

Three routes, chosen per activation (see :func:`activation_moments`, :func:`activation_kernel`):

1. closed forms carried by the :class:`~nn_spectra.activations.Activation` (relu arc-cosine,
   leaky relu, erf arcsine, hard-tanh 1-D, linear);
2. Gauss–Hermite quadrature compiled with numba for the smooth built-ins (tanh, sigmoid, softplus,
   gelu, silu, erf), the degree doubled along a ladder until two rules agree to ``tol`` (1e-10) at
   the largest variance of the call;
3. piecewise Gauss–Legendre on :math:`z\in[-Z, Z]`, :math:`Z = 13`, split at the kinks of φ mapped to
   the :math:`z` variable (and at a few scale points), for kinked or custom functions; the 2-D version
   integrates the conditional law :math:`v\mid z_1\sim N(\sqrt{q_{22}}\,c z_1,\ q_{22}(1-c^2))` the
   same way, so kinks of both factors are resolved.

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
           "activation_kernel"]

_Z = 13.0  # ϕ(13) ≈ 1e-37: the Gaussian tail beyond it is far below float64 resolution
_GL_N = 24
_BASE_BREAKS = (-6.0, -3.0, 0.0, 3.0, 6.0)  # caps every piece at length 7 whatever the scale
_LADDER_1D = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384)
_LADDER_2D = (12, 16, 24, 32, 48, 64, 96, 128)
_SCALE_POINTS = (-3.0, -1.0, 1.0, 3.0)


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
    return math.nan


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


def _compiled(act: Activation) -> bool:
    return act.smooth and 0 <= act.code <= 6


@lru_cache(maxsize=256)
def _degree_1d(code: int, alpha: float, qbucket: float, tol: float, ladder: tuple) -> int | None:
    # smallest degree n of the ladder whose rule agrees with the next one to tol at variance qbucket
    q = np.array([qbucket])
    prev = None
    for n in ladder:
        z, w = gauss_hermite(n)
        out = np.empty((1, 3))
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
        z1, w1 = _pieces(_breaks_for(fk, s1))                     # (p, N1)
        m = (s2 * cc)[:, None] * z1                               # conditional mean of v
        sd = np.broadcast_to((s2 * np.sqrt(np.maximum(0.0, 1 - cc * cc)))[:, None], m.shape)
        z2, w2 = _pieces(_breaks_for(gk, sd, m))                  # (p, N1, N2)
        inner = np.sum(w2 * g(m[..., None] + sd[..., None] * z2), axis=-1)
        out[sl] = np.sum(w1 * f(s1[:, None] * z1) * inner, axis=-1)
    return out


# ----------------------------------------------------------------------------- public integrals
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
def activation_moments(act, q, *, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(E[φ(u)²], E[φ'(u)²], E[φ''(u)φ(u)])`` for :math:`u=\sqrt q z`, vectorised over ``q``.

    Closed form when the activation has one; compiled Gauss–Hermite for smooth built-ins (degree chosen
    to reach ``tol``); piecewise Gauss–Legendre otherwise.  Dirac masses of φ'' at kinks are included
    in the third entry: :math:`\sum_k [\varphi']_k\,\varphi(k)\,p_u(k)`.

    Examples
    --------
    >>> e2, d2, _ = activation_moments("relu", 3.0)
    >>> float(e2), float(d2)
    (1.5, 0.5)
    """
    act = activation(act)
    qa = _as_variance("q", q)
    if act.moments_1d is not None:
        out = act.moments_1d(qa)
        return tuple(np.broadcast_to(np.asarray(o, float), qa.shape).copy() for o in out)
    flat = np.ascontiguousarray(qa.ravel())
    res = None
    if _compiled(act) and flat.size:
        n = _degree_1d(act.code, act.alpha, _bucket(float(flat.max())), tol, _LADDER_1D)
        if n is not None:
            z, w = gauss_hermite(n)
            out = np.empty((flat.size, 3))
            _gh_moments_kernel(act.code, act.alpha, flat, np.asarray(z), np.asarray(w), out)
            res = [out[:, 0], out[:, 1], out[:, 2]]
    if res is None:
        res = _piecewise_1d([lambda u: act.phi(u) ** 2, lambda u: act.dphi(u) ** 2,
                             lambda u: act.d2phi(u) * act.phi(u)], flat, act.kinks)
        if act.kinks:
            sq = np.sqrt(flat)
            with np.errstate(divide="ignore", invalid="ignore"):
                for k, jump in zip(act.kinks, act.dphi_jumps):
                    dens = np.where(sq > 0, np.exp(-0.5 * (k / np.where(sq > 0, sq, 1)) ** 2)
                                    / (np.sqrt(2 * np.pi) * np.where(sq > 0, sq, 1)), 0.0)
                    res[2] = res[2] + jump * float(act.phi(np.array([k]))[0]) * dens
    return tuple(np.asarray(r, float).reshape(qa.shape) for r in res)


def activation_kernel(act, q11, q22, q12, *, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    r"""``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` for :math:`(u,v)` centred Gaussian with covariance
    :math:`[[q_{11}, q_{12}], [q_{12}, q_{22}]]`, vectorised (broadcast) over the three arrays.

    Closed form when available (relu arc-cosine, leaky relu, erf arcsine, linear); compiled tensor
    Gauss–Hermite for smooth built-ins (degree from the ladder 12…128 chosen so that the 1-D rule
    reaches ``tol`` at the largest variance); nested piecewise Gauss–Legendre otherwise.
    The correlation is clipped into [−1, 1] before use.

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
    if act.kernel_2d is not None:
        k, kd = act.kernel_2d(a, b, c12)
        return np.broadcast_to(k, a.shape).astype(float), np.broadcast_to(kd, a.shape).astype(float)
    fa, fb = np.ascontiguousarray(a.ravel()), np.ascontiguousarray(b.ravel())
    fc = np.ascontiguousarray(c12.ravel())
    if _compiled(act) and fa.size:
        n = _degree_1d(act.code, act.alpha, _bucket(float(max(fa.max(), fb.max()))), tol, _LADDER_2D)
        if n is not None:
            z, w = gauss_hermite(n)
            out = np.empty((fa.size, 2))
            _gh_kernel2d(act.code, act.alpha, fa, fb, fc, np.asarray(z), np.asarray(w), out)
            return out[:, 0].reshape(a.shape), out[:, 1].reshape(a.shape)
    c = _clip_corr(fa, fb, fc)
    k = _piecewise_2d(act.phi, act.phi, act.kinks, act.kinks, fa, fb, c)
    kd = _piecewise_2d(act.dphi, act.dphi, act.kinks, act.kinks, fa, fb, c)
    return k.reshape(a.shape), kd.reshape(a.shape)
