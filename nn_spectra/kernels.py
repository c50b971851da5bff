r"""Infinite-width kernels of a fully-connected network: NNGP :math:`\Sigma` and NTK :math:`\Theta`.

For a network of ``depth`` :math:`= L` weight layers (:math:`L-1` hidden layers of width
:math:`\to\infty` and a linear readout, as :class:`nn_spectra.Network` and :class:`nn_spectra.MLP` with
``widths = [d, n, ..., n, 1]``; weights of variance :math:`\sigma_w^2/n`
or NTK parameterization, biases of variance :math:`\sigma_b^2`), Jacot et al. (2018), Lee et al. (2019):

.. math::
   \Sigma^{(1)}(x,x') = \sigma_w^2\,x\cdot x'/d + \sigma_b^2,\qquad \Theta^{(1)} = \Sigma^{(1)},

   \Sigma^{(l+1)} = \sigma_w^2\,E[\varphi(u)\varphi(v)] + \sigma_b^2,\qquad
   \dot\Sigma^{(l+1)} = \sigma_w^2\,E[\varphi'(u)\varphi'(v)],\qquad
   \Theta^{(l+1)} = \Theta^{(l)}\dot\Sigma^{(l+1)} + \Sigma^{(l+1)},

with :math:`(u,v)\sim N(0, [[\Sigma^{(l)}(x,x), \Sigma^{(l)}(x,x')], [\Sigma^{(l)}(x,x'), \Sigma^{(l)}(x',x')]])`,
for :math:`l = 1..L-1`; the returned kernels are :math:`\Sigma^{(L)}` and :math:`\Theta^{(L)}` (the
readout included).

Gaussian integrals: closed forms for relu, leaky relu, erf, linear (compiled, the recursion fused over
the layers per pair), and for hard tanh, selu and gelu at unequal variances (:mod:`nn_spectra.closed_kernels`:
bivariate normal orthant probabilities; also fused per pair, hard tanh and selu taking Mehler's series
with per-input coefficients where :math:`|c|` is at most 0.8 / 0.6, whose rest is then below 1e-17 of the
kernels' scale, and the closed forms beyond).  For the smooth built-ins without one (tanh, sigmoid,
softplus, silu), also
fused over the layers: Mehler's series :math:`E[\varphi(u)\varphi(v)] = \sum_k b_k(q_1)b_k(q_2)c^k`
in the normalised Hermite coefficients, with :math:`E[\varphi'(u)\varphi'(v)] = K'(c)/\sqrt{q_1q_2}`
from the same products (Horner's rule with its derivative, in :math:`c^2` and one parity class past
the constant/linear term), summed per row of pairs to the order at which the rigorous Cauchy–Schwarz
bounds on the rest, :math:`|c|^{K+1}\sqrt{t_K(q_1)t_K(q_2)}` with the Parseval tails
:math:`t_K`, fall below 1e-12 of the kernels' scale at the row's largest :math:`|c|`; the coefficients
are interpolated in :math:`\sqrt q` (Chebyshev, error-controlled) between a few quadrature nodes.
Pairs the series cannot bound within 256 orders (large variances with :math:`|c|` near 1) and zero
variances go to the nested piecewise Gauss–Legendre rule of :mod:`nn_spectra.gaussian_integrals`.
Custom activations use the rule on every pair.

Numerics: float64 throughout; correlations clipped into [−1, 1]; for positively homogeneous φ (relu,
leaky relu, linear) the recursion runs on kernels normalised by their largest diagonal entry with the
scale kept as a logarithm, so very deep or strongly chaotic networks neither overflow nor produce NaN
(``log_scale=True`` returns the normalised kernels and that logarithm when the values themselves
exceed float64).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .activations import activation
# _pw_kernel2d is compiled into _fused_series: numba's cache of this module keys on this file only, so a
# change to that kernel needs a change here (or a cleared cache) to take effect in the fused recursion
from .gaussian_integrals import (_BASE_BREAKS, _SCALE_POINTS, _Z, _pw_kernel2d, activation_kernel, activation_moments,
                                 hermite_coefficients)
# the closed forms of hard tanh, selu and gelu are compiled into _fused_pair: as for _pw_kernel2d, a change
# there needs a change here (or a cleared numba cache) to reach the fused recursion
from .closed_kernels import GELU, HARD_TANH, SELU, _evaluate as _closed_pair_eval, _pair_elem as _closed_pair_elem
from .closed_kernels import hard_tanh_hermite_coefficients

__all__ = ["nngp_ntk"]

_HOMOGENEOUS = ("relu", "leaky_relu", "linear")


def _inputs(X, name):
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, d), got {np.shape(X)}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite")
    return X


_MEHLER_ORDER = 200
# FMA contraction and reciprocal multiplication in the row loops (last-bit changes only; NaN and
# infinities keep their IEEE meaning): twice as fast here
_ROW_MATH = {"nsz", "contract", "arcp"}


# Hermite coefficients of smooth φ by one matrix product: composite Gauss–Legendre (16 nodes on pieces
# of length 1/2 over [-13, 13], the rule of gaussian_integrals.hermite_coefficients without the
# q-dependent breakpoints).  Valid while φ(√q z) is analytic well beyond the pieces: the nearest
# singularity of the smooth built-ins (tanh: u = iπ/2) sits at |z| ≥ π/(2√q) ≥ 0.49 for q ≤ _HERMITE_QMAX,
# Bernstein ellipse ρ ≥ 3.7 on a piece of half-length 1/4, error ≤ ρ^-32 ~ 1e-18.
_HERMITE_QMAX = 10.0
_HERMITE_RULES: dict = {}


def _hermite_rule(order: int):
    if order not in _HERMITE_RULES:
        x, w = np.polynomial.legendre.leggauss(16)
        edges = np.concatenate([[-13.0], np.arange(-12.5, 12.75, 0.5), [13.0]])
        mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
        z = (mid[:, None] + half[:, None] * x[None, :]).ravel()
        wz = (half[:, None] * w[None, :]).ravel() * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        # normalised probabilists' Hermite polynomials by their stable three-term recurrence
        H = np.empty((z.size, order + 1))
        H[:, 0] = 1.0
        H[:, 1] = z
        for k in range(2, order + 1):
            H[:, k] = (z * H[:, k - 1] - math.sqrt(k - 1) * H[:, k - 2]) / math.sqrt(k)
        _HERMITE_RULES[order] = (z, wz[:, None] * H)
    return _HERMITE_RULES[order]


def _hermite_coefficients(act, q, order: int) -> np.ndarray:
    """b_k(q_i) = E[φ(√q_i z) He_k(z)]/√k!, k = 0..order: one (n, nodes) @ (nodes, order+1) product for
    smooth built-ins with q ≤ _HERMITE_QMAX, gaussian_integrals.hermite_coefficients otherwise."""
    q = np.asarray(q, dtype=float)
    if not (act.smooth and act.code >= 0) or q.size == 0 or float(q.max()) > _HERMITE_QMAX:
        return hermite_coefficients(act, q, order=order)
    z, WH = _hermite_rule(order)
    with np.errstate(all="ignore"):
        F = np.asarray(act.phi(np.sqrt(q)[:, None] * z[None, :]), dtype=float)
    B = F @ WH
    if _is_odd(act):
        B[:, 0::2] = 0.0   # exactly zero by symmetry; rounding would otherwise leave 1e-17
    return B


def _is_odd(act) -> bool:
    t = np.linspace(0.05, 6.0, 40)
    return act.code >= 0 and bool(np.array_equal(np.asarray(act.phi(-t), float), -np.asarray(act.phi(t), float)))


def _mehler(act, d1, d2, S, tol, m1, m2):
    """Mehler series Σ_k b_k(q₁) b_k(q₂) c^k for every pair, with its rigorous truncation bound.

    With f(z) = φ(√q₁ z), g(z) = φ(√q₂ z) and normalised Hermite coefficients b_k, Mehler's formula
    gives E[φ(u)φ(v)] = Σ_k b_k(q₁)b_k(q₂)c^k; f' has coefficients √(k+1) b_{k+1}, so
    E[φ'(u)φ'(v)] = Σ_k (k+1) b_{k+1}(q₁)b_{k+1}(q₂)c^k / √(q₁q₂).  By Cauchy–Schwarz the terms past K
    are bounded by |c|^{K+1} √(t₁t₂), t the Parseval tail (E[f²] − Σ_{k≤K} b_k²).
    ``m1, m2`` are activation_moments at d1, d2.  Returns (K, K̇, ok) with ok where both bounds are
    below tol.
    """
    K = _MEHLER_ORDER
    k = np.arange(K + 2)
    B1 = _hermite_coefficients(act, d1, K + 1)
    B2 = B1 if d2 is d1 else _hermite_coefficients(act, d2, K + 1)
    D1 = np.sqrt(k[1:]) * B1[:, 1:]   # coefficients of f'(z) = √q φ'(√q z)
    D2 = np.sqrt(k[1:]) * B2[:, 1:]
    # square roots of the cumulative Parseval tails t_k = E[f²] − Σ_{j≤k} b_j²; a clearly negative
    # tail means inaccurate coefficients: marked infinite so that those pairs go to the quadrature
    def tails(total, coef):
        t = total[:, None] - np.cumsum(coef[:, :K + 1] ** 2, axis=1)
        return np.sqrt(np.where(t < -1e-13 * np.maximum(1.0, total)[:, None], np.inf, np.maximum(t, 0.0)))

    T1, T2 = tails(m1[0], B1), tails(m2[0], B2)
    U1, U2 = tails(d1 * m1[1], D1), tails(d2 * m2[1], D2)
    out = np.empty(S.shape + (3,))
    odd = _is_odd(act) and act.smooth and float(max(d1.max(), d2.max())) <= _HERMITE_QMAX
    _mehler_sum(np.ascontiguousarray(B1[:, :K + 1]), np.ascontiguousarray(B2[:, :K + 1]),
                np.ascontiguousarray(D1[:, :K + 1]), np.ascontiguousarray(D2[:, :K + 1]),
                T1, T2, U1, U2, np.ascontiguousarray(d1, dtype=float), np.ascontiguousarray(d2, dtype=float),
                np.ascontiguousarray(S, dtype=float), float(tol), d2 is d1, odd, out)
    return out[..., 0], out[..., 1], out[..., 2] > 0.5


@numba.njit(cache=True, fastmath=_ROW_MATH)
def _mehler_sum(B1, B2, D1, D2, T1, T2, U1, U2, d1, d2, S, tol, symmetric, odd, out):
    # per pair, sum the series until the Cauchy–Schwarz bound |c|^{k+1} √t_k √t'_k of the rest is
    # below tol for both kernels (T, U hold the square roots of the tails); for odd φ the even b_k
    # and the odd-index derivative coefficients vanish, so each step adds one term to each sum
    n1, n2 = S.shape
    K = B1.shape[1] - 1
    for i in range(n1):
        j0 = i if symmetric else 0
        for j in range(j0, n2):
            den = math.sqrt(d1[i] * d2[j])
            ok = 0.0
            a = 0.0
            ad = 0.0
            if den > 0:
                c = min(1.0, max(-1.0, S[i, j] / den))
                ac = abs(c)
                tol_d = tol * den
                if odd:
                    # a: k = 1, 3, 5, ...; ad: k = 0, 2, 4, ... (c^k of the derivative series)
                    p = 1.0          # c^(k-1) for the pair (k-1, k)
                    c2 = c * c
                    r = ac           # |c|^(k)
                    for k in range(1, K + 1, 2):
                        ad += D1[i, k - 1] * D2[j, k - 1] * p
                        a += B1[i, k] * B2[j, k] * p * c
                        p *= c2
                        # rest of a after k: bound |c|^(k+1) √t_k √t'_k; rest of ad after k-1 (the
                        # next nonzero is k+1): |c|^k √u_(k-1) √u'_(k-1).  Both bounds only decrease
                        # with k, so testing every other step costs at most one extra term.
                        if k % 4 == 1 or k >= K - 1:
                            if r * ac * T1[i, k] * T2[j, k] <= tol and r * U1[i, k - 1] * U2[j, k - 1] <= tol_d:
                                ok = 1.0
                                break
                        r *= ac * ac
                else:
                    p = 1.0
                    r = ac
                    for k in range(K + 1):
                        a += B1[i, k] * B2[j, k] * p
                        ad += D1[i, k] * D2[j, k] * p
                        p *= c
                        if k % 4 == 3 or k == K:
                            if r * T1[i, k] * T2[j, k] <= tol and r * U1[i, k] * U2[j, k] <= tol_d:
                                ok = 1.0
                                break
                        r *= ac
                ad /= den
            out[i, j, 0] = a
            out[i, j, 1] = ad
            out[i, j, 2] = ok
            if symmetric:
                out[j, i, 0] = a
                out[j, i, 1] = ad
                out[j, i, 2] = ok


# closed-form kernels compiled for the fused recursion: 0 linear, 1 relu, 2 erf, 3 leaky relu (slope alpha)
_CLOSED_KIND = {"linear": 0, "relu": 1, "leaky_relu": 3, "erf": 2}


# arcsine/arccosine by the rational approximation of fdlibm's e_asin.c (Sun Microsystems, freely
# distributable): asin x = x + x R(x²) for |x| < 1/2, and π/2 − 2(s + s R(s²)), s = √((1 − |x|)/2),
# beyond; within 2 ulp of libm (checked in tests/nn_spectra/test_kernels.py) at half its cost,
# which matters because the fused recursion evaluates one per pair and layer.
_PS = (1.66666666666666657415e-01, -3.25565818622400915405e-01, 2.01212532134862925881e-01,
       -4.00555345006794114027e-02, 7.91534994289814532176e-04, 3.47933107596021167570e-05)
_QS = (-2.40339491173441421878e+00, 2.02094576023350569471e+00, -6.88283971605453293030e-01,
       7.70381505559019352791e-02)


@numba.njit(cache=True, inline="always")
def _asin_r(t):
    p = t * (_PS[0] + t * (_PS[1] + t * (_PS[2] + t * (_PS[3] + t * (_PS[4] + t * _PS[5])))))
    q = 1.0 + t * (_QS[0] + t * (_QS[1] + t * (_QS[2] + t * _QS[3])))
    return p / q


@numba.njit(cache=True, inline="always")
def _asin_abs(ax):
    # asin |x| without branches (both halves share R; selects let the compiler vectorise the loops)
    small = ax < 0.5
    t = ax * ax if small else 0.5 * (1.0 - ax)
    sq = math.sqrt(0.5 * (1.0 - ax))
    y = ax if small else sq
    r = y + y * _asin_r(t)
    return r if small else 0.5 * math.pi - 2.0 * r


@numba.njit(cache=True, inline="always")
def _asin(x):
    v = _asin_abs(abs(x))
    return v if x >= 0 else -v


@numba.njit(cache=True, inline="always")
def _acos(x):
    # acos x = π/2 − asin x, with the cancellation-free 2 asin √((1 − x)/2) for x ≥ 1/2
    ax = abs(x)
    small = ax < 0.5
    t = x * x if small else 0.5 * (1.0 - ax)
    y = x if small else math.sqrt(0.5 * (1.0 - ax))
    r = y + y * _asin_r(t)
    big = 2.0 * r if x > 0 else math.pi - 2.0 * r
    return 0.5 * math.pi - r if small else big


@numba.njit(cache=True)
def _acos_asin(x, out):
    # the compiled approximations on an array (for the accuracy test): out[0] = acos, out[1] = asin
    for i in range(x.size):
        out[0, i] = _acos(x[i])
        out[1, i] = _asin(x[i])


@numba.njit(cache=True, fastmath=_ROW_MATH)
def _row_erf(s, t, p2, p1, sw, b, mi, j0):
    # Williams (1997): K = (2/π) asin x, x = 2Σ₁₂/√((1+2q₁)(1+2q₂)); K̇ = (4/π) det(I + 2Q)^(-1/2),
    # det(I + 2Q) = (1 + 2q₁)(1 + 2q₂)(1 − x²); p = (1 + 2q)^(-1/2)
    for j in range(j0, s.shape[0]):
        x = 2.0 * s[j] * p1 * p2[j]
        x = 1.0 if x > 1.0 else (-1.0 if x < -1.0 else x)
        k = (2 / math.pi) * _asin(x)
        u = (1.0 - x) * (1.0 + x)
        kd = (4 / math.pi) * p1 * p2[j] / math.sqrt(u if u > 1e-300 else 1e-300)
        sn = sw * k + b
        t[j] = (t[j] * (sw * kd) + sn) * mi
        s[j] = sn * mi


@numba.njit(cache=True, fastmath=_ROW_MATH)
def _row_relu(s, t, p2, p1, sw, b, mi, j0, leaky, alpha):
    # arc-cosine kernels (Cho & Saul 2009): K = √(q₁q₂)(sin θ + (π − θ)cos θ)/(2π), K̇ = (π − θ)/(2π),
    # θ = acos c, p = 1/√q; leaky relu (1 − α)² K + αΣ₁₂ and α + (1 − α)² K̇
    for j in range(j0, s.shape[0]):
        sj = s[j]
        pp = p1 * p2[j]
        c = sj * pp
        c = 1.0 if c > 1.0 else (-1.0 if c < -1.0 else c)
        theta = _acos(c)
        # sin θ = √((1 − c)(1 + c)): 1 − c is exact near c = 1
        k = (math.sqrt((1.0 - c) * (1.0 + c)) + (math.pi - theta) * c) * (0.5 / math.pi)
        kd = (math.pi - theta) * (0.5 / math.pi)
        if pp > 0:
            k = k / pp
        else:
            k = 0.0
            kd = 0.25 if leaky else 0.0
        if leaky:
            k = (1 - alpha) ** 2 * k + alpha * sj
            kd = alpha + (1 - alpha) ** 2 * kd
        sn = sw * k + b
        t[j] = (t[j] * (sw * kd) + sn) * mi
        s[j] = sn * mi


@numba.njit(cache=True, fastmath=_ROW_MATH, inline="always")
def _closed_elem(kind, alpha, q1, q2, sj):
    # (E[φ(u)φ(v)], E[φ'(u)φ'(v)]) for one pair: the formulas of _row_relu / _row_erf
    if kind == 0:
        return sj, 1.0
    if kind == 2:
        a = (1.0 + 2.0 * q1) * (1.0 + 2.0 * q2)
        x = 2.0 * sj / math.sqrt(a)
        x = 1.0 if x > 1.0 else (-1.0 if x < -1.0 else x)
        u = (1.0 - x) * (1.0 + x)
        return (2 / math.pi) * _asin(x), (4 / math.pi) / math.sqrt(a * (u if u > 1e-300 else 1e-300))
    den = math.sqrt(q1 * q2)
    c = 0.0
    if den > 0:
        c = sj / den
        c = 1.0 if c > 1.0 else (-1.0 if c < -1.0 else c)
    theta = _acos(c)
    k = den * (math.sqrt((1.0 - c) * (1.0 + c)) + (math.pi - theta) * c) * (0.5 / math.pi)
    kd = (math.pi - theta) * (0.5 / math.pi) if den > 0 else (0.25 if kind == 3 else 0.0)
    if kind == 3:
        k = (1 - alpha) ** 2 * k + alpha * sj
        kd = alpha + (1 - alpha) ** 2 * kd
    return k, kd


@numba.njit(cache=True, fastmath=_ROW_MATH)
def _closed_kernel_flat(kind, alpha, q1, q2, S, K, Kd):
    for j in range(S.shape[0]):
        K[j], Kd[j] = _closed_elem(kind, alpha, q1[j], q2[j], S[j])


def closed_form_kernel(act, q1, q2, S):
    """``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` for :math:`(u, v)\\sim N(0, [[q_1, S], [S, q_2]])`, compiled, for
    the built-ins with closed forms (relu, leaky relu, erf, linear; hard tanh, selu, gelu of
    :mod:`nn_spectra.closed_kernels`); ``None`` for the others.
    Broadcasts ``q1, q2, S``; same values as :func:`nn_spectra.activation_kernel` (to 2 ulp).
    For hard tanh, selu and gelu a symmetric problem (``q1`` a column, ``q2`` the same values as a row,
    ``S`` symmetric) is evaluated on one triangle and mirrored."""
    if act.code >= 0 and act.name in _PAIR_KIND and act.kernel_2d is not None:
        return _pair_kernel_closed(act, q1, q2, S)
    if not (act.code >= 0 and act.name in _CLOSED_KIND and act.kernel_2d is not None):
        return None
    S = np.asarray(S, dtype=float)
    q1 = np.ascontiguousarray(np.broadcast_to(q1, S.shape), dtype=float).ravel()
    q2 = np.ascontiguousarray(np.broadcast_to(q2, S.shape), dtype=float).ravel()
    Sf = np.ascontiguousarray(S).ravel()
    K = np.empty(Sf.size)
    Kd = np.empty(Sf.size)
    _closed_kernel_flat(_CLOSED_KIND[act.name], float(act.alpha), q1, q2, Sf, K, Kd)
    return K.reshape(S.shape), Kd.reshape(S.shape)


# closed forms of nn_spectra.closed_kernels (codes of its _pair_elem); selu's marks the pairs whose tilted
# probabilities it cannot resolve (NaN), which take the nested quadrature
_PAIR_KIND = {"hard_tanh": HARD_TANH, "selu": SELU, "gelu": GELU}


# Hard tanh and selu: for |ρ| ≤ ρ_s the Mehler series Σ_{k≤K} b_k(q₁)b_k(q₂)ρ^k (and its derivative
# series) replaces the closed form (two to three bivariate normal probabilities, ~0.5-2 µs a pair): its
# rest is at most |ρ|^{K+1}√(t(q₁)t(q₂)) with the Parseval tails t ≤ E[φ²] (resp. qE[φ'²]), and K is
# taken with |ρ|^{K+1} ≤ 1e-17 (at most the order of _PAIR_SERIES: 0.8^177, 0.6^81 < 1e-17), so the rest is
# below 1e-17 of the kernels' scale whatever the coefficients' decay.
# (largest |ρ|, order) by activation: hard tanh's coefficients are closed (cheap at any order), selu's
# interpolated (their cost grows with the order)
_PAIR_SERIES = {HARD_TANH: (0.8, 176), SELU: (0.6, 80)}
# coefficients b_k(q) are analytic in s = √q (s > 0): interpolated (Chebyshev, _PAIR_CHEB nodes on each
# piece [s, 1.5 s] of the inputs' range) from the graded quadrature at the nodes, checked at two inputs a
# piece against the quadrature (1e-14 of √E[φ²]); directly at every input when few or when the check fails
_PAIR_CHEB = 16


def _pair_series_coefficients(act, q):
    """(B, D): B[i, k] = b_k(q_i), D[i, k] = √(k+1) b_{k+1}(q_i)/√q_i (0 at q_i = 0), k ≤ the order of
    _PAIR_SERIES (rows contiguous: one pair's Horner loop reads two rows)."""
    q = np.asarray(q, dtype=float)
    K0 = _PAIR_SERIES[_PAIR_KIND[act.name]][1]
    order = K0 + 1
    V = np.zeros((q.size, order + 1))
    pos = np.flatnonzero(q > 0)
    if act.name == "hard_tanh":
        V = hard_tanh_hermite_coefficients(q, order)
    elif pos.size <= 4 * _PAIR_CHEB:
        V[pos] = hermite_coefficients(act, q[pos], order=order)
    else:
        s = np.sqrt(q[pos])
        lo, hi = float(s.min()), float(s.max())
        edges = [lo]
        while edges[-1] * 1.5 < hi:
            edges.append(edges[-1] * 1.5)
        edges.append(hi * (1 + 1e-15))
        x = np.cos(np.pi * (np.arange(_PAIR_CHEB) + 0.5) / _PAIR_CHEB)   # Chebyshev points of the first kind
        for a, b in zip(edges[:-1], edges[1:]):
            sel = pos[(s >= a) & (s < b)]
            if sel.size == 0:
                continue
            if sel.size <= _PAIR_CHEB + 2:
                V[sel] = hermite_coefficients(act, q[sel], order=order)
                continue
            nodes = 0.5 * (a + b) + 0.5 * (b - a) * x
            Vn = hermite_coefficients(act, nodes ** 2, order=order)
            t = np.clip((2.0 * np.sqrt(q[sel]) - (a + b)) / (b - a), -1.0, 1.0)
            # barycentric weights of the first-kind points: (−1)^j sin((2j+1)π/(2n))
            w = (-1.0) ** np.arange(_PAIR_CHEB) * np.sin((2 * np.arange(_PAIR_CHEB) + 1) * np.pi / (2 * _PAIR_CHEB))
            d = t[:, None] - x[None, :]
            hit = d == 0.0
            d[hit] = 1.0
            Wt = w[None, :] / d
            Wt[hit.any(axis=1)] = hit[hit.any(axis=1)].astype(float)
            Vi = (Wt @ Vn) / Wt.sum(axis=1)[:, None]
            chk = np.unique(np.array([0, sel.size // 2, sel.size - 1]))
            exact = hermite_coefficients(act, q[sel[chk]], order=order)
            scale = np.sqrt(np.sum(exact ** 2, axis=1))
            if np.all(np.max(np.abs(Vi[chk] - exact), axis=1) <= 1e-14 * scale):
                V[sel] = Vi
                V[sel[chk]] = exact
            else:
                V[sel] = hermite_coefficients(act, q[sel], order=order)
    k = np.arange(1, order + 1)
    B = np.ascontiguousarray(V[:, :K0 + 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(q > 0, 1.0 / np.sqrt(np.where(q > 0, q, 1.0)), 0.0)
    D = np.ascontiguousarray(np.sqrt(k)[None, :] * V[:, 1:] * inv[:, None])
    return B, D


@numba.njit(cache=True, inline="always")
def _pair_series_elem(B1, D1, i, B2, D2, j, r):
    # Horner in ρ for K and K̇ (the coefficient rows of inputs i and j) from the order K with
    # |ρ|^(K+1) <= 1e-17 (the rest relative to the kernels' scale, see _PAIR_SERIES)
    K = B1.shape[1] - 1
    ar = abs(r)
    if ar < 1e-300:
        K = 0
    elif ar < 0.99:
        K = min(K, int(-39.2 / math.log(ar)))
    a = B1[i, K] * B2[j, K]
    ad = D1[i, K] * D2[j, K]
    for k in range(K - 1, -1, -1):
        a = a * r + B1[i, k] * B2[j, k]
        ad = ad * r + D1[i, k] * D2[j, k]
    return a, ad


@numba.njit(cache=True)
def _pair_hybrid_elem(which, q1, q2, c, B1, D1, i, B2, D2, j, rho_max):
    if which != GELU and q1 > 0.0 and q2 > 0.0:
        r = c / math.sqrt(q1 * q2)
        if abs(r) <= rho_max:
            return _pair_series_elem(B1, D1, i, B2, D2, j, r)
    return _closed_pair_elem(which, q1, q2, c)


@numba.njit(cache=True)
def _pair_triangle(which, q, S, B, D, rho_max, K, Kd):
    # the upper triangle by blocks of 16 rows with the columns outer, so that each column's series
    # coefficients (B[j], D[j]) are read once per block
    n = q.shape[0]
    bs = 16
    for ib in range(0, n, bs):
        for j in range(ib, n):
            for i in range(ib, min(ib + bs, j + 1)):
                k, kd = _pair_hybrid_elem(which, q[i], q[j], S[i, j], B, D, i, B, D, j, rho_max)
                K[i, j] = k
                Kd[i, j] = kd
                K[j, i] = k
                Kd[j, i] = kd


def _pair_kernel_closed(act, q1, q2, S):
    S = np.asarray(S, dtype=float)
    which = _PAIR_KIND[act.name]
    a, b = np.asarray(q1, dtype=float), np.asarray(q2, dtype=float)
    if (S.ndim == 2 and S.shape[0] == S.shape[1] and a.shape == (S.shape[0], 1) and b.shape == (1, S.shape[0])
            and np.array_equal(a.ravel(), b.ravel()) and np.array_equal(S, S.T)):
        K = np.empty_like(S)
        Kd = np.empty_like(S)
        q = np.ascontiguousarray(a.ravel())
        if which != GELU and q.size > 4 * _PAIR_CHEB:
            B, D = _pair_series_coefficients(act, q)
            rho_max = _PAIR_SERIES[which][0]
        else:
            B = D = np.zeros((q.size, 1))
            rho_max = -1.0
        _pair_triangle(which, q, np.ascontiguousarray(S), B, D, rho_max, K, Kd)
        bad = np.isnan(K)
        if bad.any():
            i, j = np.nonzero(bad)
            K[i, j], Kd[i, j] = activation_kernel(act, a.ravel()[i], a.ravel()[j], S[i, j], method="legendre")
        return K, Kd
    return _closed_pair_eval(which, a, b, S)


@numba.njit(cache=True)
def _fused_closed(kind, alpha, S0, P1, P2, R1, SD1, bias, minv, sw, symmetric, fac, S_out, T_out):
    # The whole depth for one row of pairs at a time: every pair evolves on its own once the
    # diagonals are known.  P1[l, i], P2[l, j] are per-input quantities at layer l (relu-like: 1/√q,
    # 0 at q = 0; erf: 1/√(1 + 2q)); R1 is the un-normalised new diagonal and SD1 its Σ̇, used on the
    # diagonal of the symmetric case (c = 1 exactly); bias and minv = 1/m the per-layer bias and
    # normalisation.  The row loops run over independent pairs (one pair's recursion is a chain of
    # dependent acos/sqrt/divisions, latency-bound if run pair by pair).  Symmetric: the upper
    # triangle, then mirrored by blocks.  The outputs are multiplied by fac.
    n1, n2 = S0.shape
    L = bias.shape[0]
    s = np.empty(n2)
    t = np.empty(n2)
    for i in range(n1):
        j0 = i if symmetric else 0
        for j in range(j0, n2):
            s[j] = S0[i, j]
            t[j] = S0[i, j]
        for l in range(L):
            mi = minv[l]
            ti = t[i] if symmetric else 0.0
            if kind == 0:
                for j in range(j0, n2):
                    sn = sw * s[j] + bias[l]
                    t[j] = (t[j] * sw + sn) * mi
                    s[j] = sn * mi
            elif kind == 2:
                _row_erf(s, t, P2[l], P1[l, i], sw, bias[l], mi, j0)
            else:
                _row_relu(s, t, P2[l], P1[l, i], sw, bias[l], mi, j0, kind == 3, alpha)
            if symmetric:
                # the diagonal pair from the 1-D integrals (the row loops also updated it)
                sn = R1[l, i]
                t[i] = (ti * SD1[l, i] + sn) * mi
                s[i] = sn * mi
        for j in range(j0, n2):
            S_out[i, j] = s[j] * fac
            T_out[i, j] = t[j] * fac
    if symmetric:
        bs = 64
        for ib in range(0, n1, bs):
            for jb in range(ib, n2, bs):
                for i in range(ib, min(ib + bs, n1)):
                    for j in range(max(jb, i + 1), min(jb + bs, n2)):
                        S_out[j, i] = S_out[i, j]
                        T_out[j, i] = T_out[i, j]


# ----------------------------------------------------------------------------- smooth built-ins: Mehler series
# For the smooth built-ins without a closed form (tanh, sigmoid, softplus, gelu, silu) the pair
# kernels are Mehler's series K = Σ_k b_k(q₁)b_k(q₂)c^k, K̇ = K'(c)/√(q₁q₂), summed per pair to an order
# chosen from rigorous Cauchy–Schwarz bounds on the rest (Parseval tails), in the variable w = c² with
# the even and odd parts separate (each built-in is a constant or linear term plus a function of
# definite parity, so one of the two parts has a single term), and Horner's rule with its derivative so
# that K and K̇ share the products b_k(q₁)b_k(q₂).  The coefficients are interpolated in s = √q
# (Chebyshev, error-controlled) from the matrix quadrature rule at a few nodes.  Pairs whose bound is
# not met within _SERIES_ORDER terms (correlations near ±1 at large q, zero variances) are integrated by
# the nested piecewise Gauss–Legendre rule of gaussian_integrals.

_SERIES_ORDER = 256
_SERIES_TOL = 1e-12
# structural zeros of the Hermite coefficients past the constant/linear term: (even terms allowed,
# odd terms allowed), as counts of m in k = 2m (even) or 2m + 1 (odd); -1 = no limit.
# tanh is odd; σ(x) − 1/2 is odd; softplus(x) − x/2 = log(2 cosh(x/2)), gelu(x) − x/2 = x(Φ(x) − 1/2) and
# silu(x) − x/2 = x(σ(x) − 1/2) are even
_SERIES_PARITY = {"tanh": (0, -1), "sigmoid": (1, -1), "softplus": (-1, 1), "gelu": (-1, 1), "silu": (-1, 1)}
# the normalised Parseval tails are known to about this accuracy (the coefficients and E[φ²] are
# interpolated to 1e-14 of their scale, the quadrature's rounding is ~2e-15): they never count as smaller
_TAIL_FLOOR = 2e-14


def _series_eligible(act) -> bool:
    return act.code >= 0 and act.kernel_2d is None and act.name in _SERIES_PARITY


_RULE_COLUMNS: dict = {}


def _nodal_values(act, q, cols):
    """Columns b_k (k in ``cols``), E[φ²], E[φ'²] at the variances q (few): the matrix rule of
    _hermite_coefficients for q ≤ _HERMITE_QMAX (its nodes also give the two moments, whose integrands
    have the same singularities), the graded quadrature beyond."""
    big = q > _HERMITE_QMAX
    if big.any():
        # only the inputs beyond the matrix rule's range take the graded quadrature (on 1,000 digits
        # 16 of them: all 1,000 through it cost 0.7 s of a 0.8 s NTK)
        e, d, _ = activation_moments(act, q[big])
        vb = np.column_stack([hermite_coefficients(act, q[big], order=int(cols[-1]))[:, cols], e, d])
        if big.all():
            return vb
        out = np.empty((q.size, vb.shape[1]))
        out[big], out[~big] = vb, _nodal_values(act, q[~big], cols)
        return out
    key = (int(cols[-1]), cols.size, int(cols.sum()))
    if key not in _RULE_COLUMNS:
        z, WH = _hermite_rule(int(cols[-1]))
        _RULE_COLUMNS[key] = (z, np.ascontiguousarray(WH[:, cols]), WH[:, 0].copy())
    z, WHc, wz = _RULE_COLUMNS[key]
    u = np.sqrt(q)[:, None] * z[None, :]
    with np.errstate(all="ignore"):
        F = np.asarray(act.phi(u), dtype=float)
        Fd = np.asarray(act.dphi(u), dtype=float)
    out = np.empty((q.size, cols.size + 2))
    out[:, :-2] = F @ WHc
    out[:, -2] = (F * F) @ wz
    out[:, -1] = (Fd * Fd) @ wz
    return out


def _cheb_matrix(x, r):
    # T_0..T_r at the points x, by the three-term recurrence: rows are degrees
    T = np.empty((r + 1, x.size))
    T[0] = 1.0
    if r >= 1:
        T[1] = x
    for k in range(2, r + 1):
        np.multiply(2.0 * x, T[k - 1], out=T[k])
        T[k] -= T[k - 2]
    return T


def _series_inputs(act, q):
    """Per-input data of one layer of the series route.

    The Hermite coefficients b_k(q_i), k ≤ _SERIES_ORDER (the structural zeros exactly zero), and
    E[φ²], E[φ'²] are interpolated in s = √q: Chebyshev on [min s, max s] from the values at r = 8, 16,
    32 nodes, the first r whose last two Chebyshev coefficients are below 1e-14 of the scale (√E[φ²]
    for the coefficients, the column itself for the moments); directly at every q_i when the range is
    wide (max s > 4 min s), q > _HERMITE_QMAX or there are few inputs.  The order is cut at the first k
    whose rest Σ_{k'>k} b_k'² is below 1e-17 E[φ²] at every node.

    Returns the coefficients (len(cols), n) of the orders ``cols`` (the structurally nonzero ones), the
    largest normalised Parseval tails of f(z) = φ(√q z) and of f' over the inputs on the order grid,
    each input's tails at the order (:func:`_tail_profile`), E[φ²], E[φ'²] and the order.
    """
    q = np.asarray(q, dtype=float)
    K0 = _SERIES_ORDER
    ev, od = _SERIES_PARITY[act.name]
    k = np.arange(K0 + 1)
    keep = np.ones(K0 + 1, dtype=bool)
    if ev >= 0:
        keep &= ~((k % 2 == 0) & (k // 2 >= ev))
    if od >= 0:
        keep &= ~((k % 2 == 1) & (k // 2 >= od))
    cols = k[keep]
    s = np.sqrt(q)
    lo, hi = float(s.min()), float(s.max())
    Vt = None
    if hi <= 4.0 * lo and hi * hi <= _HERMITE_QMAX and q.size > 24:
        # Chebyshev extreme points cos(πj/r): those of r are among those of 2r, so each doubling
        # evaluates only the new ones
        Vn = None
        for r in (8, 16, 32):
            if 2 * r >= q.size:
                break
            x = np.cos(np.pi * np.arange(r + 1) / r)
            if Vn is None:
                Vn = _nodal_values(act, (0.5 * (lo + hi) + 0.5 * (hi - lo) * x) ** 2, cols)
            else:
                new = _nodal_values(act, (0.5 * (lo + hi) + 0.5 * (hi - lo) * x[1::2]) ** 2, cols)
                V2 = np.empty((r + 1, Vn.shape[1]))
                V2[0::2], V2[1::2] = Vn, new
                Vn = V2
            # Chebyshev coefficients from the values at the extreme points (type-I DCT)
            wts = np.ones(r + 1)
            wts[0] = wts[-1] = 0.5
            C = (2.0 / r) * (_cheb_matrix(x, r) @ (wts[:, None] * Vn))
            C[0] *= 0.5
            C[-1] *= 0.5
            scale = np.max(np.abs(Vn), axis=0)
            scale[:-2] = math.sqrt(scale[-2])
            if np.all(np.max(np.abs(C[-2:]), axis=0) <= 1e-14 * scale):
                rest = np.cumsum((Vn[:, :-2] ** 2)[:, ::-1], axis=1)[:, ::-1]
                ok = np.all(rest <= 1e-17 * Vn[:, -2:-1], axis=0)
                m = int(np.argmax(ok)) if ok.any() else cols.size
                sel = np.r_[np.arange(m), cols.size, cols.size + 1]
                xi = np.clip((2.0 * s - (lo + hi)) / (hi - lo), -1.0, 1.0) if hi > lo else np.zeros_like(s)
                # coefficient rows (orders × inputs), computed transposed: contiguous per order
                Vt = C[:, sel].T @ _cheb_matrix(xi, r)
                cols = cols[:m]
                break
    if Vt is None:
        V = _nodal_values(act, q, cols)
        rest = np.cumsum((V[:, :-2] ** 2)[:, ::-1], axis=1)[:, ::-1]
        ok = np.all(rest <= 1e-17 * V[:, -2:-1], axis=0)
        m = int(np.argmax(ok)) if ok.any() else cols.size
        Vt = np.ascontiguousarray(V[:, np.r_[np.arange(m), cols.size, cols.size + 1]].T)
        cols = cols[:m]
    nb = cols.size
    e, d = Vt[nb], Vt[nb + 1]
    K = int(cols[-1]) if nb else 0
    G = -(-K // _TAIL_STEP) + 1
    stmax, sumax = np.empty(G), np.empty(G)
    stK, suK = np.empty(q.size), np.empty(q.size)
    _tail_profile(Vt, cols, e, q * d, _TAIL_FLOOR, _TAIL_STEP, stmax, sumax, stK, suK)
    return Vt[:nb], cols, stmax, sumax, stK, suK, e, d, K


# the order of the series is chosen on the grid k = 0, 2, 4, ..., K (at most one order more than needed)
_TAIL_STEP = 2


@numba.njit(cache=True, fastmath=_ROW_MATH)
def _tail_profile(Bt, cols, e, qd, floor, step, stmax, sumax, stK, suK):
    # stmax[g] = max_i t_k/E[φ²] + floor, sumax[g] = max_i u_k/(qE[φ'²]) + floor at k = min(g·step, K),
    # and each input's values at k = K (stK, suK):
    # t_k = Σ_{k'>k} b_k'² and u_k = Σ_{k'>k} k' b_k'² summed from the top (no cancellation), plus the
    # Parseval rest beyond the order, E[φ²] − Σ b_k² and qE[φ'²] − Σ k b_k² (the Parseval identity for
    # f'(z) = √q φ'(√q z), whose coefficients are √(k+1) b_{k+1}).  Loops over inputs innermost.
    n = e.shape[0]
    nb = cols.shape[0]
    G = stmax.shape[0]
    K = cols[nb - 1] if nb > 0 else 0
    t = np.zeros(n)
    u = np.zeros(n)
    for c in range(nb):
        kc = cols[c]
        row = Bt[c]
        for i in range(n):
            b2 = row[i] * row[i]
            t[i] += b2
            u[i] += kc * b2
    rt = np.empty(n)
    ru = np.empty(n)
    et = np.empty(n)
    eu = np.empty(n)
    for i in range(n):
        rt[i] = max(e[i] - t[i], 0.0)
        ru[i] = max(qd[i] - u[i], 0.0)
        et[i] = 1.0 / e[i] if e[i] > 0 else 0.0
        eu[i] = 1.0 / qd[i] if qd[i] > 0 else 0.0
        t[i] = 0.0
        u[i] = 0.0
    c = nb - 1
    for g in range(G - 1, -1, -1):
        k = min(g * step, K)
        while c >= 0 and cols[c] > k:
            kc = cols[c]
            row = Bt[c]
            for i in range(n):
                b2 = row[i] * row[i]
                t[i] += b2
                u[i] += kc * b2
            c -= 1
        mt = 0.0
        mu = 0.0
        for i in range(n):
            a = (t[i] + rt[i]) * et[i] + floor
            b = (u[i] + ru[i]) * eu[i] + floor
            mt = max(mt, a)
            mu = max(mu, b)
            if g == G - 1:
                stK[i] = a
                suK[i] = b
        stmax[g] = mt
        sumax[g] = mu


class _SeriesLayers:
    """Per-layer, per-input arrays of the series route for the rows (set 1) and columns (set 2)."""

    def __init__(self, act, d1, d2, L, sw, sb, symmetric):
        n1, n2 = d1.size, d2.size
        per = []
        self.Q1, self.Q2 = np.empty((L, n1)), np.empty((L, n2))
        self.R1, self.SD1 = np.empty((L, n1)), np.empty((L, n1))
        for l in range(L):
            self.Q1[l], self.Q2[l] = d1, d2
            q = d1 if symmetric else np.concatenate([d1, d2])
            Vt, cols, stmax, sumax, stK, suK, e, d, K = _series_inputs(act, q)
            per.append((Vt, cols, stmax, sumax, stK, suK, K))
            self.R1[l], self.SD1[l] = sw * e[:n1] + sb, sw * d[:n1]
            d1 = self.R1[l]
            d2 = d1 if symmetric else sw * e[n1:] + sb
        Gm = max(p[2].size for p in per)
        ke = max(int(np.count_nonzero(p[1] % 2 == 0)) for p in per)
        ko = max(int(np.count_nonzero(p[1] % 2 == 1)) for p in per)
        self.Kl = np.array([p[-1] for p in per], dtype=np.int64)
        self.Gl = np.array([p[2].size for p in per], dtype=np.int64)
        # entries past a layer's order (and the structural zeros) are never read
        self.Be1, self.Bo1 = np.empty((L, ke, n1)), np.empty((L, ko, n1))
        self.Be2, self.Bo2 = (self.Be1, self.Bo1) if symmetric else (np.empty((L, ke, n2)), np.empty((L, ko, n2)))
        self.ST1K, self.SU1K = np.empty((L, n1)), np.empty((L, n1))
        self.ST2K, self.SU2K = np.empty((L, n2)), np.empty((L, n2))
        # the rows choose their order from the largest tails over all inputs (of both sets)
        self.STmax, self.SUmax = np.empty((L, Gm)), np.empty((L, Gm))
        for l, (Vt, cols, stmax, sumax, stK, suK, K) in enumerate(per):
            G = stmax.size
            # the kept orders of each parity are m = 0, 1, ... (k = 2m or 2m + 1) without gaps
            ev, od = cols % 2 == 0, cols % 2 == 1
            Ve, Vo = (Vt, None) if od.sum() == 0 else ((None, Vt) if ev.sum() == 0 else (Vt[ev], Vt[od]))
            if Ve is not None:
                self.Be1[l, :Ve.shape[0]] = Ve[:, :n1]
            if Vo is not None:
                self.Bo1[l, :Vo.shape[0]] = Vo[:, :n1]
            self.ST1K[l], self.SU1K[l] = stK[:n1], suK[:n1]
            if not symmetric:
                if Ve is not None:
                    self.Be2[l, :Ve.shape[0]] = Ve[:, n1:]
                if Vo is not None:
                    self.Bo2[l, :Vo.shape[0]] = Vo[:, n1:]
            self.ST2K[l], self.SU2K[l] = (stK, suK) if symmetric else (stK[n1:], suK[n1:])
            self.STmax[l, :G], self.SUmax[l, :G] = stmax, sumax
        with np.errstate(divide="ignore"):
            self.P1 = np.where(self.Q1 > 0, 1.0 / np.sqrt(np.where(self.Q1 > 0, self.Q1, 1.0)), 0.0)
            self.P2 = np.where(self.Q2 > 0, 1.0 / np.sqrt(np.where(self.Q2 > 0, self.Q2, 1.0)), 0.0)


@numba.njit(cache=True)
def _series_order(cmax, st1, su1, st2, su2, tol, K, G):
    # smallest order k on the grid (k = min(g·_TAIL_STEP, K), g < G) whose bounds on the rest,
    # |c|^(k+1)√(t₁t₂) for K and |c|^k√(u₁u₂) for K', are below tol at the largest |c| of the row
    # (compared squared: st, su hold the normalised tails themselves); -1 if none
    r = 1.0
    c2 = cmax * cmax
    rs = c2 ** _TAIL_STEP
    tol2 = tol * tol
    for g in range(G):
        k = min(g * _TAIL_STEP, K)
        if g == G - 1:
            r = c2 ** k
        if r * c2 * st1[g] * st2[g] <= tol2 and r * su1[g] * su2[g] <= tol2:
            return k
        r *= rs
    return -1


# The row loops below run over views that start at index 0: numba then knows the indices are
# non-negative, drops the wraparound test and the loops vectorise (3-4x faster than over range(j0, n)).
@numba.njit(cache=True, fastmath=_ROW_MATH)
def _row_horner(B2, j0, b1, w, p, dp, M):
    # p(w) = Σ_{m<M} b1[m] B2[m, j0 + j] w^m and p'(w) for every j of the row (Horner with its
    # derivative): one pass for the top M mod 4 degrees, then four degrees per pass over the row, so
    # that p and p' stay in registers (1.7x faster than a pass per degree)
    n = w.shape[0]
    r = M % 4
    m = M - 1
    if r == 0:
        for j in range(n):
            p[j] = 0.0
            dp[j] = 0.0
    elif r == 1:
        c0 = b1[m]
        r0 = B2[m, j0:]
        for j in range(n):
            p[j] = c0 * r0[j]
            dp[j] = 0.0
    elif r == 2:
        c1, c0 = b1[m], b1[m - 1]
        r1, r0 = B2[m, j0:], B2[m - 1, j0:]
        for j in range(n):
            a = c1 * r1[j]
            p[j] = a * w[j] + c0 * r0[j]
            dp[j] = a
    else:
        c2, c1, c0 = b1[m], b1[m - 1], b1[m - 2]
        r2, r1, r0 = B2[m, j0:], B2[m - 1, j0:], B2[m - 2, j0:]
        for j in range(n):
            wj = w[j]
            a = c2 * r2[j]
            d = a
            a = a * wj + c1 * r1[j]
            d = d * wj + a
            a = a * wj + c0 * r0[j]
            p[j] = a
            dp[j] = d
    m -= r
    while m >= 3:
        c3, c2, c1, c0 = b1[m], b1[m - 1], b1[m - 2], b1[m - 3]
        r3, r2, r1, r0 = B2[m, j0:], B2[m - 1, j0:], B2[m - 2, j0:], B2[m - 3, j0:]
        for j in range(n):
            wj = w[j]
            a = p[j]
            d = dp[j]
            d = d * wj + a
            a = a * wj + c3 * r3[j]
            d = d * wj + a
            a = a * wj + c2 * r2[j]
            d = d * wj + a
            a = a * wj + c1 * r1[j]
            d = d * wj + a
            a = a * wj + c0 * r0[j]
            p[j] = a
            dp[j] = d
        m -= 4


@numba.njit(cache=True)
def _max_abs_corr(w, scratch):
    # max |c| = √(max w) over w = c² ≥ 0: the maximum of the bit patterns read as int64 (monotone for
    # non-negative doubles), a reduction the compiler vectorises (a float max needs no-NaN semantics)
    wi = w.view(np.int64)
    m = 0
    for j in range(wi.shape[0]):
        m = max(m, wi[j])
    scratch[0] = m
    return math.sqrt(scratch.view(np.float64)[0])


@numba.njit(cache=True, fastmath=_ROW_MATH)
def _row_corr(s, p1, p2, c, w):
    # correlations clipped into [-1, 1] and their squares
    for j in range(s.shape[0]):
        cj = min(1.0, max(-1.0, s[j] * p1 * p2[j]))
        c[j] = cj
        w[j] = cj * cj


@numba.njit(cache=True, fastmath=_ROW_MATH)
def _row_update(s, t, c, w, pe, dpe, po, dpo, p1, p2, sw, b, even, raw):
    # K = E(w) + c O(w), K̇ = K'(c)/√(q₁q₂) with K' = 2c E'(w) + O(w) + 2w O'(w); then the layer's
    # update Σ ← σ_w² K + σ_b², Θ ← Θ σ_w² K̇ + Σ (raw: Σ ← K, Θ ← K̇)
    for j in range(s.shape[0]):
        cj = c[j]
        k = cj * po[j]
        kd = po[j] + 2.0 * w[j] * dpo[j]
        if even:
            k += pe[j]
            kd += 2.0 * cj * dpe[j]
        kd *= p1 * p2[j]
        if raw:
            s[j] = k
            t[j] = kd
        else:
            sn = sw * k + b
            t[j] = t[j] * (sw * kd) + sn
            s[j] = sn


@numba.njit(cache=True, fastmath=_ROW_MATH)
def _row_update_corr(s, t, c, w, pe, dpe, po, dpo, p1, p2, sw, b, even, p1n, p2n):
    # _row_update followed by _row_corr for the next layer (1/√q of its variances p1n, p2n) in one
    # pass over the row
    for j in range(s.shape[0]):
        cj = c[j]
        k = cj * po[j]
        kd = po[j] + 2.0 * w[j] * dpo[j]
        if even:
            k += pe[j]
            kd += 2.0 * cj * dpe[j]
        kd *= p1 * p2[j]
        sn = sw * k + b
        t[j] = t[j] * (sw * kd) + sn
        s[j] = sn
        cn = min(1.0, max(-1.0, sn * p1n * p2n[j]))
        c[j] = cn
        w[j] = cn * cn


@numba.njit(cache=True)
def _fused_series(S0, T0, P1, P2, Q1, Q2, Be1, Bo1, Be2, Bo2, ST1K, SU1K, ST2K, SU2K, STmax, SUmax, R1, SD1, Kl, Gl,
                  parity, sw, sb, symmetric, raw, tol, code, alpha, pts, kinks, base, zmax, gx, gw, S_out, T_out):
    # The whole depth for one row of pairs at a time, as _fused_closed, with the pair kernels from the
    # Mehler series: per row and layer one order, from the largest |c| of the row (and the largest
    # tails over the inputs); pairs the table
    # cannot bound, and pairs with a zero variance, by the nested quadrature.  raw (one layer): the
    # outputs are K and K̇ themselves.  T0 is the incoming NTK (S0 itself at the first layer); run one
    # layer at a time on slices of the per-layer arrays, the results are bitwise those of one run.
    n1, n2 = S0.shape
    L = P1.shape[0]
    ev, od = parity
    buf = np.empty((8, n2))
    idx = np.empty(n2, dtype=np.int64)
    scratch = np.empty(1, dtype=np.int64)
    fk = np.empty(n2)
    fkd = np.empty(n2)
    ft = np.empty(n2)
    one = np.empty((1, 2))
    a1 = np.empty(1)
    a2 = np.empty(1)
    a3 = np.empty(1)
    zero2 = np.zeros(L, dtype=np.bool_)
    for l in range(L):
        for j in range(n2):
            if P2[l, j] == 0.0:
                zero2[l] = True
    # symmetric: the diagonal pair (j = i, first of the row) is set from the 1-D integrals; the row
    # loops run over the rest (views from off), and c = 0 there keeps it out of the Horner sums' way
    off = 1 if symmetric else 0
    for i in range(n1):
        j0 = i if symmetric else 0
        m = n2 - j0
        s, t, c, w = buf[0, j0:], buf[1, j0:], buf[2, j0:], buf[3, j0:]
        pe, dpe, po, dpo = buf[4, j0:], buf[5, j0:], buf[6, j0:], buf[7, j0:]
        for j in range(m):
            s[j] = S0[i, j0 + j]
            t[j] = T0[i, j0 + j]
        c[0] = 0.0
        w[0] = 0.0
        _row_corr(s[off:], P1[0, i], P2[0, j0 + off:], c[off:], w[off:])
        cmax = _max_abs_corr(w[off:], scratch)
        for l in range(L):
            p1 = P1[l, i]
            p2 = P2[l, j0:]
            ti = t[0]
            K = Kl[l]
            G = Gl[l]
            k = _series_order(cmax, STmax[l], SUmax[l], STmax[l], SUmax[l], tol, K, G)
            check = k < 0
            if check:
                k = K
            me = k // 2 + 1
            mo = (k + 1) // 2
            if ev >= 0:
                me = min(me, ev)
            if od >= 0:
                mo = min(mo, od)
            if me > 0:
                _row_horner(Be2[l], j0, Be1[l, :, i], w, pe, dpe, me)
            _row_horner(Bo2[l], j0, Bo1[l, :, i], w, po, dpo, mo)
            # pairs for the quadrature: evaluated before the update, which overwrites s and t
            nf = 0
            if check or p1 == 0.0 or zero2[l]:
                for j in range(1 if symmetric else 0, m):
                    bad = p1 == 0.0 or p2[j] == 0.0
                    if not bad and check:
                        r = w[j] ** K
                        bad = (r * w[j] * ST1K[l, i] * ST2K[l, j0 + j] > tol * tol
                               or r * SU1K[l, i] * SU2K[l, j0 + j] > tol * tol)
                    if bad:
                        idx[nf] = j
                        a1[0] = Q1[l, i]
                        a2[0] = Q2[l, j0 + j]
                        a3[0] = s[j]
                        _pw_kernel2d(code, alpha, a1, a2, a3, pts, kinks, base, zmax, gx, gw, one)
                        fk[nf] = one[0, 0]
                        fkd[nf] = one[0, 1]
                        ft[nf] = t[j]
                        nf += 1
            if not raw and nf == 0 and l + 1 < L:
                _row_update_corr(s[off:], t[off:], c[off:], w[off:], pe[off:], dpe[off:], po[off:], dpo[off:],
                                 p1, p2[off:], sw, sb, me > 0, P1[l + 1, i], P2[l + 1, j0 + off:])
                cmax = _max_abs_corr(w[off:], scratch)
            else:
                _row_update(s, t, c, w, pe, dpe, po, dpo, p1, p2, sw, sb, me > 0, raw)
                for f in range(nf):
                    j = idx[f]
                    if raw:
                        s[j] = fk[f]
                        t[j] = fkd[f]
                    else:
                        s[j] = sw * fk[f] + sb
                        t[j] = ft[f] * (sw * fkd[f]) + s[j]
                if l + 1 < L:
                    _row_corr(s[off:], P1[l + 1, i], P2[l + 1, j0 + off:], c[off:], w[off:])
                    cmax = _max_abs_corr(w[off:], scratch)
            if symmetric:
                # the diagonal pair from the 1-D integrals (c = 1 exactly)
                s[0] = R1[l, i]
                t[0] = SD1[l, i] if raw else ti * SD1[l, i] + R1[l, i]
        for j in range(m):
            S_out[i, j0 + j] = s[j]
            T_out[i, j0 + j] = t[j]
    if symmetric:
        bs = 64
        for ib in range(0, n1, bs):
            for jb in range(ib, n2, bs):
                for i in range(ib, min(ib + bs, n1)):
                    for j in range(max(jb, i + 1), min(jb + bs, n2)):
                        S_out[j, i] = S_out[i, j]
                        T_out[j, i] = T_out[i, j]


def _series_call(act, D, layers, S, T, sw, sb, symmetric, raw):
    x, wx = np.polynomial.legendre.leggauss(16)
    S_out = np.empty_like(S)
    T_out = np.empty_like(S)
    sl = slice(*layers)
    _fused_series(np.ascontiguousarray(S, dtype=float), np.ascontiguousarray(T, dtype=float), D.P1[sl], D.P2[sl],
                  D.Q1[sl], D.Q2[sl], D.Be1[sl], D.Bo1[sl], D.Be2[sl], D.Bo2[sl], D.ST1K[sl], D.SU1K[sl], D.ST2K[sl],
                  D.SU2K[sl], D.STmax[sl], D.SUmax[sl], D.R1[sl], D.SD1[sl], D.Kl[sl], D.Gl[sl],
                  _SERIES_PARITY[act.name], float(sw), float(sb), bool(symmetric), bool(raw), _SERIES_TOL,
                  act.code, float(act.alpha), np.array(act.kinks + _SCALE_POINTS, dtype=float),
                  np.array(act.kinks, dtype=float), np.array(_BASE_BREAKS), _Z, x, wx, S_out, T_out)
    return S_out, T_out


def _series_run(act, S, d1, d2, L, sw, sb, symmetric, raw):
    D = _SeriesLayers(act, d1, d2, L, sw, sb, symmetric)
    return _series_call(act, D, (0, L), S, S, sw, sb, symmetric, raw)


def _series_layers(act, S, d1, d2, depth, sw, sb, symmetric):
    """The series route one layer at a time (bitwise the fused run), with the per-layer kernels."""
    L = depth - 1
    D = _SeriesLayers(act, d1, d2, L, sw, sb, symmetric)
    T = S.copy()
    layers = {"nngp": [S.copy()], "ntk": [T.copy()], "nngp_dot": []}
    for l in range(L):
        _, Kd = _series_call(act, D, (l, l + 1), S, S, 1.0, 0.0, symmetric, True)
        S, T = _series_call(act, D, (l, l + 1), S, T, sw, sb, symmetric, False)
        layers["nngp"].append(S)
        layers["ntk"].append(T)
        Sd = sw * Kd
        if symmetric:
            np.fill_diagonal(Sd, D.SD1[l])   # the raw run's diagonal is already σ_w² E[φ'²]
        layers["nngp_dot"].append(Sd)
    return S, T, layers


def _series_kernel(act, q1, q2, S, symmetric=False):
    """``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` on every pair (i, j), (u, v) ~ N(0, [[q1_i, S_ij], [S_ij, q2_j]]),
    by the Mehler-series route of the fused recursion (quadrature where its bound fails)."""
    q1 = np.ascontiguousarray(q1, dtype=float)
    q2 = q1 if symmetric else np.ascontiguousarray(q2, dtype=float)
    S = np.asarray(S, dtype=float)
    if S.shape != (q1.size, q2.size):
        raise ValueError(f"S must have shape (len(q1), len(q2)) = {(q1.size, q2.size)}, got {S.shape}")
    return _series_run(act, np.asarray(S, dtype=float), q1, q2, 1, 1.0, 0.0, symmetric, True)


def _pair_kernel(act, d1, d2, S, symmetric, m1, m2, tol=1e-12):
    # E[φφ], E[φ'φ'] on every pair; the symmetric case evaluates the upper triangle only
    if _series_eligible(act) and S.size > 16:
        return _series_kernel(act, d1, d2, S, symmetric)
    if act.kernel_2d is None and act.code >= 0 and S.size > 16:
        K, Kd, ok = _mehler(act, d1, d2 if not symmetric else d1, S, tol, m1, m1 if symmetric else m2)
        if not ok.all():
            i, j = np.nonzero(~ok)
            if symmetric:
                keep = i <= j
                i, j = i[keep], j[keep]
            k, kd = activation_kernel(act, d1[i], d2[j], S[i, j])
            K[i, j], Kd[i, j] = k, kd
            if symmetric:
                K[j, i], Kd[j, i] = k, kd
        return K, Kd
    if symmetric and act.kernel_2d is None:
        iu = np.triu_indices(S.shape[0])
        k, kd = activation_kernel(act, d1[iu[0]], d2[iu[1]], S[iu])
        K = np.empty_like(S)
        Kd = np.empty_like(S)
        K[iu], Kd[iu] = k, kd
        K[(iu[1], iu[0])], Kd[(iu[1], iu[0])] = k, kd
        return K, Kd
    return activation_kernel(act, d1[:, None], d2[None, :], S)


def _closed_recursion(act, S, d1, d2, depth, sw, sb, symmetric, homog, apply_scale):
    """The recursion for closed-form φ, fused over the layers per pair (compiled): the diagonals and
    the per-layer normalisation are computed first (they do not depend on the off-diagonal entries),
    then each pair runs through all layers in registers.  Same formulas as :func:`_layer_recursion`."""
    L = depth - 1
    kind = _CLOSED_KIND[act.name]
    with np.errstate(divide="ignore"):
        # 1/√q is inf at q = 0 (zero input, no bias): marked 0, the kernels' den = 0 branch
        per_input = (lambda q: 1.0 / np.sqrt(1.0 + 2.0 * q)) if kind == 2 else \
            (lambda q: np.where(q > 0, 1.0 / np.sqrt(np.where(q > 0, q, 1.0)), 0.0))
    P1 = np.empty((L, d1.size))
    P2 = np.empty((L, d2.size))
    R1 = np.empty((L, d1.size))
    SD1 = np.empty((L, d1.size))
    bias = np.empty(L)
    m = np.ones(L)
    logc = 0.0
    for l in range(L):
        P1[l], P2[l] = per_input(d1), per_input(d2)
        e1, dd1, _ = activation_moments(act, d1)
        e2 = e1 if symmetric else activation_moments(act, d2)[0]
        bias[l] = sb * math.exp(-logc)
        d1, d2 = sw * e1 + bias[l], sw * e2 + bias[l]
        R1[l] = d1
        SD1[l] = sw * dd1
        if homog:
            mm = float(max(np.max(d1), np.max(d2)))
            if mm > 0 and math.isfinite(mm):
                m[l] = mm
                d1, d2 = d1 / mm, d2 / mm
                logc += math.log(mm)
    S_out = np.empty_like(S)
    T_out = np.empty_like(S)
    # the scale exp(logc) is known from the diagonals: applied in the kernel unless it overflows
    fac = math.exp(logc) if (apply_scale and logc <= 700) else 1.0
    _fused_closed(kind, float(act.alpha), np.ascontiguousarray(S), P1, P2, R1, SD1, bias, 1.0 / m, float(sw),
                  bool(symmetric), fac, S_out, T_out)
    if not (np.isfinite(S_out.sum()) and np.isfinite(T_out.sum())):
        raise ValueError(f"kernels overflow float64 within {depth} layers for activation {act.name!r} with "
                         f"sigma_w2={sw}: reduce depth or sigma_w2")
    return S_out, T_out, (logc if fac == 1.0 else 0.0)


@numba.njit(cache=True)
def _fused_pair(which, S0, Q1, Q2, R1, SD1, B1, D1, B2, D2, rho_max, sw, sb, symmetric, code, alpha, pts, kinks,
                base, zmax, gx, gw, S_out, T_out):
    # _fused_closed for the closed forms of nn_spectra.closed_kernels, which take the variances Q1[l, i],
    # Q2[l, j] themselves; a pair they mark NaN (selu beyond its tilt bound) takes the nested quadrature.
    # Rows in blocks of 32 run through each layer together, so that the series coefficients of a layer
    # (B2[l], D2[l]: up to 3 MB at 1,000 inputs) are read once per block rather than once per row.
    # Symmetric: the diagonal pair from the 1-D integrals (R1, SD1), the upper triangle, then mirrored.
    n1, n2 = S0.shape
    L = Q1.shape[0]
    bs = 32
    s = np.empty((bs, n2))
    t = np.empty((bs, n2))
    one = np.empty((1, 2))
    a1 = np.empty(1)
    a2 = np.empty(1)
    a3 = np.empty(1)
    for ib in range(0, n1, bs):
        ie = min(ib + bs, n1)
        for i in range(ib, ie):
            j0 = i if symmetric else 0
            for j in range(j0, n2):
                s[i - ib, j] = S0[i, j]
                t[i - ib, j] = S0[i, j]
        for l in range(L):
            for i in range(ib, ie):
                r_ = i - ib
                q1 = Q1[l, i]
                j1 = i + 1 if symmetric else 0
                for j in range(j1, n2):
                    k, kd = _pair_hybrid_elem(which, q1, Q2[l, j], s[r_, j], B1[l], D1[l], i, B2[l], D2[l], j,
                                              rho_max)
                    if math.isnan(k):
                        a1[0] = q1
                        a2[0] = Q2[l, j]
                        a3[0] = s[r_, j]
                        _pw_kernel2d(code, alpha, a1, a2, a3, pts, kinks, base, zmax, gx, gw, one)
                        k = one[0, 0]
                        kd = one[0, 1]
                    sn = sw * k + sb
                    t[r_, j] = t[r_, j] * (sw * kd) + sn
                    s[r_, j] = sn
                if symmetric:
                    t[r_, i] = t[r_, i] * SD1[l, i] + R1[l, i]
                    s[r_, i] = R1[l, i]
        for i in range(ib, ie):
            j0 = i if symmetric else 0
            for j in range(j0, n2):
                S_out[i, j] = s[i - ib, j]
                T_out[i, j] = t[i - ib, j]
    if symmetric:
        for ib in range(0, n1, 64):
            for jb in range(ib, n2, 64):
                for i in range(ib, min(ib + 64, n1)):
                    for j in range(max(jb, i + 1), min(jb + 64, n2)):
                        S_out[j, i] = S_out[i, j]
                        T_out[j, i] = T_out[i, j]


def _pair_recursion(act, S, d1, d2, depth, sw, sb, symmetric):
    """The recursion for hard tanh, selu and gelu (closed forms of :mod:`nn_spectra.closed_kernels`), fused
    over the layers per pair as :func:`_closed_recursion`; the diagonals from the 1-D integrals."""
    L = depth - 1
    Q1 = np.empty((L, d1.size))
    Q2 = np.empty((L, d2.size))
    R1 = np.empty((L, d1.size))
    SD1 = np.empty((L, d1.size))
    for l in range(L):
        Q1[l], Q2[l] = d1, d2
        e1, dd1, _ = activation_moments(act, d1)
        e2 = e1 if symmetric else activation_moments(act, d2)[0]
        d1, d2 = sw * e1 + sb, sw * e2 + sb
        R1[l] = d1
        SD1[l] = sw * dd1
    which = _PAIR_KIND[act.name]
    n1, n2 = Q1.shape[1], Q2.shape[1]
    if which != GELU and n1 * n2 > (4 * _PAIR_CHEB) ** 2:
        rho_max, K0 = _PAIR_SERIES[which]
        B1, D1 = np.empty((L, n1, K0 + 1)), np.empty((L, n1, K0 + 1))
        B2, D2 = (B1, D1) if symmetric else (np.empty((L, n2, K0 + 1)), np.empty((L, n2, K0 + 1)))
        for l in range(L):
            if symmetric:
                B1[l], D1[l] = _pair_series_coefficients(act, Q1[l])
            else:
                Bl, Dl = _pair_series_coefficients(act, np.concatenate([Q1[l], Q2[l]]))
                B1[l], D1[l], B2[l], D2[l] = Bl[:n1], Dl[:n1], Bl[n1:], Dl[n1:]
    else:
        B1 = D1 = np.zeros((L, n1, 1))
        B2 = D2 = np.zeros((L, n2, 1))
        rho_max = -1.0
    x, wx = np.polynomial.legendre.leggauss(16)
    S_out = np.empty_like(S)
    T_out = np.empty_like(S)
    _fused_pair(which, np.ascontiguousarray(S, dtype=float), Q1, Q2, R1, SD1, B1, D1, B2, D2, rho_max, float(sw), float(sb),
                bool(symmetric), act.code, float(act.alpha), np.array(act.kinks + _SCALE_POINTS, dtype=float),
                np.array(act.kinks, dtype=float), np.array(_BASE_BREAKS), _Z, x, wx, S_out, T_out)
    if not (np.isfinite(S_out.sum()) and np.isfinite(T_out.sum())):
        raise ValueError(f"kernels overflow float64 within {depth} layers for activation {act.name!r} with "
                         f"sigma_w2={sw}: reduce depth or sigma_w2")
    return S_out, T_out


def _layer_recursion(act, S, d1, d2, depth, sw, sb, symmetric, homog, return_layers, log_scale):
    """The recursion layer by layer on whole matrices (every activation; per-layer kernels on request)."""
    T = S.copy()
    logc = 0.0
    layers = {"nngp": [S.copy()], "ntk": [T.copy()], "nngp_dot": []} if return_layers else None
    for layer in range(depth - 1):
        # for homogeneous φ, K(λQ) = λK(Q) and K̇(λQ) = K̇(Q): the normalised kernels go in as they are
        # the 1-D moments at this layer's variances, computed once (three uses)
        m1 = activation_moments(act, d1)
        m2 = m1 if symmetric else activation_moments(act, d2)
        K, Kd = _pair_kernel(act, d1, d2, S, symmetric, m1, m2)
        e1, e2 = m1[0], m2[0]
        bias = sb * math.exp(-logc)
        S = sw * K + bias
        Sd = sw * Kd
        d1, d2 = sw * e1 + bias, sw * e2 + bias
        if symmetric:
            # the diagonal from the 1-D integral, so that c = 1 exactly there: near c = 1 the
            # arc-cosine kernel's derivative has a square-root singularity that turns a rounding
            # error of 1e-16 in c into 1e-8 in Σ̇
            np.fill_diagonal(S, d1)
            np.fill_diagonal(Sd, sw * m1[1])
        T = T * Sd + S
        if homog:
            m = float(max(np.max(d1), np.max(d2)))
            if m > 0 and math.isfinite(m):
                S, T, d1, d2 = S / m, T / m, d1 / m, d2 / m
                logc += math.log(m)
        if not (np.all(np.isfinite(S)) and np.all(np.isfinite(T))):
            raise ValueError(f"kernels overflow float64 at layer {layer + 2} for activation {act.name!r} with "
                             f"sigma_w2={sw}: reduce depth or sigma_w2")
        if return_layers:
            f = math.exp(logc) if not log_scale else 1.0
            layers["nngp"].append(S * f)
            layers["ntk"].append(T * f)
            layers["nngp_dot"].append(Sd)
    return S, T, logc, layers


def nngp_ntk(X1, X2=None, depth: int = 2, act="relu", sigma_w2: float = 2.0, sigma_b2: float = 0.0, *,
             return_layers: bool = False, log_scale: bool = False):
    r"""NNGP and NTK kernel matrices of an infinitely wide fully-connected network.

    Also callable as ``nngp_ntk(net, X1, X2=None)`` with a :class:`~nn_spectra.Network` ``net``
    (or ``net.nngp_ntk(X1, X2)``).

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
    X2 : array_like, shape (n2, d), optional
        Defaults to ``X1`` (the symmetric case, computed on one triangle).
    depth : int
        :math:`L \ge 1`, the number of weight layers (:math:`L-1` hidden layers and the linear
        readout; ``depth=1`` is the linear model :math:`\Sigma^{(1)}`).
    act : str or Activation
    sigma_w2, sigma_b2 : float
        Weight variance (> 0) and bias variance (>= 0).
    return_layers : bool
        Also return a dict with the lists ``"nngp"`` (Σ⁽¹⁾…Σ⁽ᴸ⁾), ``"ntk"`` (Θ⁽¹⁾…) and
        ``"nngp_dot"`` (Σ̇⁽²⁾…), each entry ``(n1, n2)``.
    log_scale : bool
        Return ``(nngp, ntk, log_c)`` with the true kernels equal to ``exp(log_c)`` times the returned
        ones (homogeneous φ only: use it when the kernels exceed float64).

    Returns
    -------
    nngp, ntk : numpy.ndarray of shape (n1, n2)
    log_c : float, with ``log_scale``
    layers : dict, with ``return_layers``

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> K, T = ns.nngp_ntk(X, depth=4, act="relu", sigma_w2=2.0, sigma_b2=0.0)
    >>> np.diag(T).round(12).tolist()          # L σ_w² |x|²/d with L = 4 weight layers
    [4.0, 16.0]
    """
    from .network import Network

    if isinstance(X1, Network):
        # nngp_ntk(net, X1, X2): the description replaces depth, act and the variances
        net, X1, X2 = X1, X2, depth if not isinstance(depth, (int, np.integer)) else None
        if X1 is None:
            raise TypeError("nngp_ntk(net, X1, X2=None): X1 is missing")
        net.require("nngp_ntk", readout=("linear",))
        depth, act, sigma_w2, sigma_b2 = net.depth, net.act, net.sigma_w2, net.sigma_b2
    act = activation(act)
    X1 = _inputs(X1, "X1")
    symmetric = X2 is None
    X2 = X1 if symmetric else _inputs(X2, "X2")
    if X1.shape[1] != X2.shape[1]:
        raise ValueError(f"X1 and X2 must have the same input dimension, got {X1.shape[1]} and {X2.shape[1]}")
    if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, (int, np.integer, float)) \
            or int(depth) != depth or int(depth) < 1:
        raise ValueError(f"depth must be an integer >= 1 (the number of weight layers), got {depth!r}")
    depth = int(depth)
    sw, sb = float(sigma_w2), float(sigma_b2)
    if not (math.isfinite(sw) and sw > 0):
        raise ValueError(f"sigma_w2 must lie in (0, inf), got {sigma_w2!r}")
    if not (math.isfinite(sb) and sb >= 0):
        raise ValueError(f"sigma_b2 must lie in [0, inf), got {sigma_b2!r}")
    homog = act.name in _HOMOGENEOUS and act.kernel_2d is not None
    if log_scale and not homog:
        raise ValueError(f"log_scale=True needs a positively homogeneous activation ({', '.join(_HOMOGENEOUS)}), "
                         f"got {act.name!r}")

    d = X1.shape[1]
    S = (X1 * (sw / d)) @ X2.T
    S += sb
    d1 = sw * np.einsum("ij,ij->i", X1, X1) / d + sb
    d2 = d1 if symmetric else sw * np.einsum("ij,ij->i", X2, X2) / d + sb
    # the true kernels are exp(logc) × (S, T) (homogeneous φ are renormalised every layer)
    if not return_layers and act.code >= 0 and act.name in _CLOSED_KIND and act.kernel_2d is not None and depth > 1:
        S, T, logc = _closed_recursion(act, S, d1, d2, depth, sw, sb, symmetric, homog, not log_scale)
        layers = None
    elif not return_layers and act.code >= 0 and act.name in _PAIR_KIND and act.kernel_2d is not None and depth > 1:
        S, T = _pair_recursion(act, S, d1, d2, depth, sw, sb, symmetric)
        logc, layers = 0.0, None
    elif _series_eligible(act) and depth > 1:
        if return_layers:
            S, T, layers = _series_layers(act, S, d1, d2, depth, sw, sb, symmetric)
        else:
            S, T = _series_run(act, S, d1, d2, depth - 1, sw, sb, symmetric, False)
            layers = None
        logc = 0.0
        if not (np.all(np.isfinite(S)) and np.all(np.isfinite(T))):
            raise ValueError(f"kernels overflow float64 within {depth} layers for activation {act.name!r} with "
                             f"sigma_w2={sw}: reduce depth or sigma_w2")
    else:
        S, T, logc, layers = _layer_recursion(act, S, d1, d2, depth, sw, sb, symmetric, homog, return_layers,
                                              log_scale)
    if log_scale:
        out = (S, T, logc)
    else:
        if logc > 700:
            raise ValueError(f"the kernels exceed float64 (log scale {logc:.1f}); pass log_scale=True")
        f = math.exp(logc)
        out = (S * f, T * f) if f != 1.0 else (S, T)
    return out + (layers,) if return_layers else out
