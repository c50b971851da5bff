r"""Closed-form Gaussian pair kernels of hard tanh, selu and gelu at unequal variances.

For :math:`(u, v)\sim N\big(0, [[q_1, c], [c, q_2]]\big)` (any :math:`q_1, q_2 \ge 0`,
:math:`|c|\le\sqrt{q_1q_2}`) each function returns
:math:`K = E[\varphi(u)\varphi(v)]` and :math:`\dot K = E[\varphi'(u)\varphi'(v)]`.

Conventions: :math:`s_i = \sqrt{q_i}`, :math:`\rho = c/(s_1s_2)` (clipped into [−1, 1]; 0 when a
variance is 0), :math:`\bar\rho = \sqrt{1-\rho^2}`, :math:`x = u/s_1`, :math:`y = v/s_2` standard with
correlation :math:`\rho`; :math:`Q(t) = P(x > t)`, :math:`\varphi(t)` the standard normal density (also
written ϕ), :math:`L(h, k; \rho) = P(x > h, y > k)` (:mod:`nn_spectra.bivariate_normal`, Genz's
algorithm).  The derivations use two Gaussian identities only:

* Stein's lemma on a box, :math:`E[x\,G] = E[\partial_xG] + \rho E[\partial_yG]` (boundary terms are
  densities times conditional laws, :math:`y\mid x=h \sim N(\rho h, \bar\rho^2)`), giving
  :math:`E[x;\,x>h, y>k] = \varphi(h)Q(k') + \rho\varphi(k)Q(h')`,
  :math:`h' = (h-\rho k)/\bar\rho`, :math:`k' = (k-\rho h)/\bar\rho`;
* exponential tilting, :math:`E[e^{v}G(u, v)] = e^{q_2/2}E[G(u + c, v + q_2)]`.

Every formula is checked against mpmath's 2-D quadrature at 30 digits
(``tests/nn_spectra/test_kernels_piecewise.py``).  Accuracy: :math:`L` has absolute error ~2e-16;
hard tanh loses a factor :math:`\max(1, \sqrt{q_1q_2})` of it (its kernel is :math:`G/(ab)` with the
O(ab) number :math:`G` assembled from O(1) probabilities), selu keeps ~1e-15 of its scale while the
tilt :math:`(q_1+q_2)/2 + |c|` is at most 30 (quadrature beyond), gelu is rational in
:math:`q_1, q_2, c` with one atan2, every term non-negative (no cancellation).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .activations import SELU_ALPHA, SELU_LAMBDA
from .bivariate_normal import _bvn_upper, _erfcx, _q

__all__ = ["hard_tanh_kernel", "selu_kernel", "gelu_kernel", "hard_tanh_hermite_coefficients"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)
_TINY = 1e-300
# selu's tilted probabilities e^M L need L to relative accuracy in its tail, which Genz's rule keeps while
# the integrand's range e^M is moderate (measured: ~1e-15 of the kernel's scale up to q = 50 at equal
# variances, 6e-14 at q = (1e-4, 59), 4e-13 at (0.01, 100)): beyond the tilt M = (q₁ + q₂)/2 + |c| = 30
# the pair is marked NaN and integrated by quadrature instead
_SELU_TILT_MAX = 30.0


@numba.njit(cache=True, inline="always")
def _pdf(t):
    return _INV_SQRT_2PI * math.exp(-0.5 * t * t)


@numba.njit(cache=True, inline="always")
def _rho(q1, q2, c):
    den = math.sqrt(q1 * q2)
    if den > 0.0:
        r = c / den
        return 1.0 if r > 1.0 else (-1.0 if r < -1.0 else r)
    return 0.0


@numba.njit(cache=True)
def _hard_tanh_elem(q1, q2, c):
    # φ = clip(x, −1, 1): φ(u) = s₁ g_a(x), g_a = clip(·, −a, a), a = 1/s₁, b = 1/s₂ (module docstring)
    if q1 <= 0.0 or q2 <= 0.0:
        # u ≡ 0: φ(u) = 0, φ'(u) = 1
        if q1 <= 0.0 and q2 <= 0.0:
            return 0.0, 1.0
        s = math.sqrt(max(q1, q2))
        return 0.0, 1.0 - 2.0 * _q(1.0 / s)
    s1 = math.sqrt(q1)
    s2 = math.sqrt(q2)
    a = 1.0 / s1
    b = 1.0 / s2
    r = _rho(q1, q2, c)
    rb = math.sqrt(max((1.0 - r) * (1.0 + r), 0.0))
    rbi = 1.0 / max(rb, _TINY)
    lp = _bvn_upper(a, b, r)
    lm = _bvn_upper(a, b, -r)
    P = 1.0 - 2.0 * _q(a) - 2.0 * _q(b) + 2.0 * (lp + lm)
    # b ∓ ρa near ρ = ±1 as (b − a) + a(1 ∓ ρ): 1 ∓ ρ is exact, and the rounding of ρa would otherwise be
    # divided by ρ̄ (8e-12 in K at ρ = 1 − 1e-12)
    bp = ((b - a) + a * (1.0 + r) if r < 0.0 else b + r * a) * rbi
    bm = ((b - a) + a * (1.0 - r) if r > 0.0 else b - r * a) * rbi
    ap = ((a - b) + b * (1.0 + r) if r < 0.0 else a + r * b) * rbi
    am = ((a - b) + b * (1.0 - r) if r > 0.0 else a - r * b) * rbi
    G = (r * P + 2.0 * a * b * (lp - lm)
         + 2.0 * _pdf(a) * (rb * (_pdf(bm) - _pdf(bp)) + b * (_q(bp) - _q(bm)))
         + 2.0 * a * _pdf(b) * (_q(ap) - _q(am)))
    return G * s1 * s2, P


@numba.njit(cache=True)
def _selu_elem(q1, q2, c):
    lam2 = SELU_LAMBDA * SELU_LAMBDA
    al = SELU_ALPHA
    if q1 <= 0.0 or q2 <= 0.0:
        # u ≡ 0: φ(u) = 0 and φ'(0) = λα (the activation's value at the kink)
        if q1 <= 0.0 and q2 <= 0.0:
            return 0.0, lam2 * al * al
        s = math.sqrt(max(q1, q2))
        return 0.0, lam2 * al * (0.5 + al * 0.5 * _erfcx(s / _SQRT2))
    if 0.5 * (q1 + q2) + abs(c) > _SELU_TILT_MAX:
        return math.nan, math.nan
    s1 = math.sqrt(q1)
    s2 = math.sqrt(q2)
    r = _rho(q1, q2, c)
    rb = math.sqrt(max((1.0 - r) * (1.0 + r), 0.0))
    A0 = math.atan2(rb, -r) / (2.0 * math.pi)          # P(u > 0, v > 0) = P(u < 0, v < 0)
    # tilted orthant probabilities: E1 = E[e^u; u < 0, v > 0], E2 = E[e^v; u > 0, v < 0],
    # F1 = E[e^u; u < 0, v < 0], F2 = E[e^v; u < 0, v < 0], E12 = E[e^(u+v); u < 0, v < 0]
    E1 = math.exp(0.5 * q1) * _bvn_upper(s1, -r * s1, -r)
    E2 = math.exp(0.5 * q2) * _bvn_upper(-r * s2, s2, -r)
    # L(s₁, ρs₁; ρ) + L(s₁, −ρs₁; −ρ) = Q(s₁), and e^{q/2}Q(√q) = erfcx(√(q/2))/2
    F1 = 0.5 * _erfcx(s1 / _SQRT2) - E1
    F2 = 0.5 * _erfcx(s2 / _SQRT2) - E2
    E12 = math.exp(0.5 * (q1 + q2) + c) * _bvn_upper(s1 + r * s2, s2 + r * s1, r)
    g0 = _INV_SQRT_2PI
    T1 = s1 * s2 * (r * A0 + rb / (2.0 * math.pi))
    T2 = al * (s1 * g0 * 0.5 * (_erfcx(rb * s2 / _SQRT2) - 1.0) + c * E2)
    T3 = al * (s2 * g0 * 0.5 * (_erfcx(rb * s1 / _SQRT2) - 1.0) + c * E1)
    T4 = al * al * (E12 - F1 - F2 + A0)
    return lam2 * (T1 + T2 + T3 + T4), lam2 * (A0 + al * (E1 + E2) + al * al * E12)


@numba.njit(cache=True)
def _gelu_elem(q1, q2, c):
    # s = q₁ + q₂, p = q₁q₂, e = 1 − ρ², N = (1 + q₁)(1 + q₂) − c² = 1 + s + pe, P = (1 + q₁)(1 + q₂)
    r = _rho(q1, q2, c)
    s = q1 + q2
    p = q1 * q2
    e = (1.0 - r) * (1.0 + r) if p > 0.0 else 1.0
    N = 1.0 + s + p * e
    P = (1.0 + q1) * (1.0 + q2)
    sN = math.sqrt(N)
    A = math.atan2(sN, -c) / (2.0 * math.pi)
    k = c * A + (p * (1.0 + s) + c * c + p * p * e) / (2.0 * math.pi * P * sN)
    kd = A + c * ((3.0 + s) * (1.0 + s) + p + p * e * (2.0 + s)) / (2.0 * math.pi * P * N * sN)
    return k, kd


def hard_tanh_hermite_coefficients(q, order: int) -> np.ndarray:
    r"""Normalised Hermite coefficients :math:`b_k(q) = E[\varphi(\sqrt q z)He_k(z)]/\sqrt{k!}` of hard tanh,
    k = 0..``order``, shape ``(len(q), order + 1)``, in closed form.

    With :math:`s = \sqrt q`, :math:`a = 1/s` and :math:`h_m = He_m(a)/\sqrt{m!}`
    (:math:`h_{m+1} = (a h_m - \sqrt m\,h_{m-1})/\sqrt{m+1}`): :math:`b_1 = s(1 - 2Q(a))`,
    :math:`b_k = -2s\varphi(a)h_{k-2}/\sqrt{k(k-1)}` for odd :math:`k\ge3`, 0 for even k.  From
    :math:`E[f He_k] = E[f' He_{k-1}]` with :math:`f' = s\,1\{|z|<a\}` and
    :math:`\int_{-a}^{a}He_m\varphi = -\varphi(a)(He_{m-1}(a) - He_{m-1}(-a))`.  Zero at q = 0.

    >>> b = hard_tanh_hermite_coefficients(np.array([1e-4]), 3)    # ≈ the identity's: b_1 = s
    >>> (np.round(b, 12) + 0.0).tolist()
    [[0.0, 0.01, 0.0, 0.0]]
    """
    q = np.asarray(q, dtype=float).ravel()
    out = np.zeros((q.size, int(order) + 1))
    pos = q > 0
    s = np.sqrt(q[pos])
    a = 1.0 / s
    pref = -2.0 * s * np.exp(-0.5 * a * a) * _INV_SQRT_2PI
    if order >= 1:
        out[pos, 1] = s * (1.0 - 2.0 * 0.5 * _erfc_np(a / _SQRT2))
    h_prev, h = np.zeros_like(a), np.ones_like(a)      # h_{-1}, h_0
    for m in range(0, int(order) - 1):
        k = m + 2
        if k % 2 == 1:
            out[pos, k] = pref * h / math.sqrt(k * (k - 1))
        h_prev, h = h, (a * h - math.sqrt(m) * h_prev) / math.sqrt(m + 1)
    return out


def _erfc_np(x):
    from scipy.special import erfc

    return erfc(x)


# dispatch codes of the compiled kernels (kernels._CLOSED_KIND continues its own numbering with them)
HARD_TANH, SELU, GELU = 0, 1, 2
_NAMES = ("hard_tanh", "selu", "gelu")


@numba.njit(cache=True)
def _pair_elem(which, q1, q2, c):
    if which == 0:
        return _hard_tanh_elem(q1, q2, c)
    if which == 1:
        return _selu_elem(q1, q2, c)
    return _gelu_elem(q1, q2, c)


@numba.njit(cache=True)
def _kernel_flat(which, q1, q2, c, K, Kd):
    for i in range(c.shape[0]):
        K[i], Kd[i] = _pair_elem(which, q1[i], q2[i], c[i])


def _evaluate(which, q11, q22, q12):
    a, b, c = np.broadcast_arrays(np.asarray(q11, float), np.asarray(q22, float), np.asarray(q12, float))
    shape = c.shape
    if np.any(a < 0) or np.any(b < 0) or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("q11 and q22 must be finite and >= 0")
    if not np.all(np.isfinite(c)):
        raise ValueError("q12 must be finite")
    a, b, c = (np.ascontiguousarray(x).ravel() for x in (a, b, c))
    K = np.empty(c.size)
    Kd = np.empty(c.size)
    _kernel_flat(which, a, b, c, K, Kd)
    bad = np.isnan(K)
    if bad.any():
        # selu beyond _SELU_TILT_MAX: the nested Gauss–Legendre rule of gaussian_integrals
        from .activations import activation
        from .gaussian_integrals import activation_kernel

        K[bad], Kd[bad] = activation_kernel(activation(_NAMES[which]), a[bad], b[bad], c[bad], method="legendre")
    return K.reshape(shape), Kd.reshape(shape)


def hard_tanh_kernel(q11, q22, q12) -> tuple[np.ndarray, np.ndarray]:
    r"""``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` for φ = hard tanh = clip(x, −1, 1) (broadcast).

    With :math:`a = 1/s_1`, :math:`b = 1/s_2`, :math:`\alpha_\pm = (a\pm\rho b)/\bar\rho`,
    :math:`\beta_\pm = (b\pm\rho a)/\bar\rho` and :math:`L_\pm = L(a, b; \pm\rho)`:

    .. math::
        E[\varphi'(u)\varphi'(v)] = P(|x| < a, |y| < b) = 1 - 2Q(a) - 2Q(b) + 2(L_+ + L_-),

        E[\varphi(u)\varphi(v)] = s_1s_2\Big[\rho P + 2ab(L_+ - L_-)
            + 2\varphi(a)\big(\bar\rho(\varphi(\beta_-) - \varphi(\beta_+)) + b(Q(\beta_+) - Q(\beta_-))\big)
            + 2a\varphi(b)\big(Q(\alpha_+) - Q(\alpha_-)\big)\Big].

    Derivation: :math:`\varphi(u) = s_1g_a(x)`, :math:`g_a = \operatorname{clip}(\cdot, -a, a)`; split
    the plane at :math:`|x| = a`, :math:`|y| = b`: the saturated corners give :math:`2ab(L_+ - L_-)`,
    the central box :math:`E[xy; |x|<a, |y|<b]` and the mixed strips follow from Stein's lemma on the
    box (the strip terms :math:`\pm2\rho b\varphi(b)P(|x|<a \mid y=b)` cancel).  With a zero variance,
    :math:`\varphi(u) = 0` and :math:`\varphi'(u) = 1`.

    >>> k, kd = hard_tanh_kernel(1e-6, 1e-6, 1e-6)      # inside the linear part: φ(u) = u
    >>> round(float(k), 12), float(kd)
    (1e-06, 1.0)
    """
    return _evaluate(HARD_TANH, q11, q22, q12)


def selu_kernel(q11, q22, q12) -> tuple[np.ndarray, np.ndarray]:
    r"""``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` for selu, :math:`\varphi(x) = \lambda x` (x > 0),
    :math:`\lambda\alpha(e^x - 1)` (x ≤ 0), Klambauer et al.'s λ, α (broadcast).

    With :math:`A_0 = P(x>0, y>0) = \operatorname{atan2}(\bar\rho, -\rho)/(2\pi)`, the tilted orthant
    probabilities :math:`E_1 = e^{q_1/2}L(s_1, -\rho s_1; -\rho) = E[e^u; u<0, v>0]`,
    :math:`E_2 = e^{q_2/2}L(-\rho s_2, s_2; -\rho)`,
    :math:`F_1 = E[e^u; u<0, v<0] = e^{q_1/2}Q(s_1) - E_1 = \frac12\operatorname{erfcx}(s_1/\sqrt2) - E_1`,
    :math:`F_2 = \frac12\operatorname{erfcx}(s_2/\sqrt2) - E_2`,
    :math:`E_{12} = e^{(q_1+q_2)/2 + c}L(s_1+\rho s_2, s_2+\rho s_1; \rho) = E[e^{u+v}; u<0, v<0]` and
    :math:`g_0 = 1/\sqrt{2\pi}`:

    .. math::
        E[\varphi'\varphi']/\lambda^2 = A_0 + \alpha(E_1 + E_2) + \alpha^2E_{12},

        E[\varphi\varphi]/\lambda^2 = s_1s_2\Big(\rho A_0 + \frac{\bar\rho}{2\pi}\Big)
          + \alpha\Big(\frac{s_1g_0}{2}\big(\operatorname{erfcx}\tfrac{\bar\rho s_2}{\sqrt2} - 1\big) + cE_2\Big)
          + \alpha\Big(\frac{s_2g_0}{2}\big(\operatorname{erfcx}\tfrac{\bar\rho s_1}{\sqrt2} - 1\big) + cE_1\Big)
          + \alpha^2(E_{12} - F_1 - F_2 + A_0).

    Derivation: expand the product over the four quadrants; :math:`E[uv; u, v > 0]` is the arc-cosine
    kernel; tilting gives :math:`E[ue^v; u>0, v<0] = e^{q_2/2}E[(u+c); u+c>0, v+q_2<0]`, whose
    :math:`E[x;\cdot]` part is :math:`\varphi(\rho s_2)Q(\bar\rho s_2) - \rho\varphi(s_2)/2`, and
    :math:`e^{q_2/2}\varphi(\rho s_2)Q(\bar\rho s_2) = g_0\operatorname{erfcx}(\bar\rho s_2/\sqrt2)/2`.
    With a zero variance, :math:`\varphi(u) = 0`, :math:`\varphi'(u) = \lambda\alpha` (the activation's
    value at 0).  Pairs with :math:`(q_1+q_2)/2 + |c| > 30`, where the tilted probabilities lose
    relative accuracy, are integrated by the nested Gauss–Legendre rule of
    :func:`nn_spectra.activation_kernel` (``method="legendre"``).

    >>> k, kd = selu_kernel(1.0, 1.0, 1.0)     # c = 1 at q = 1: SELU's fixed point E[φ²] = 1
    >>> bool(abs(k - 1.0) < 1e-6)
    True
    """
    return _evaluate(SELU, q11, q22, q12)


def gelu_kernel(q11, q22, q12) -> tuple[np.ndarray, np.ndarray]:
    r"""``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` for gelu, :math:`\varphi(x) = x\Phi(x)` (broadcast).

    With :math:`s = q_1 + q_2`, :math:`p = q_1q_2`, :math:`e = 1 - \rho^2`,
    :math:`N = (1+q_1)(1+q_2) - c^2 = 1 + s + pe`, :math:`P = (1+q_1)(1+q_2)` and
    :math:`A = E[\Phi(u)\Phi(v)] = \operatorname{atan2}(\sqrt N, -c)/(2\pi)`
    (:math:`= \frac14 + \frac1{2\pi}\arcsin\frac{c}{\sqrt P}`):

    .. math::
        E[\varphi(u)\varphi(v)] = cA + \frac{p(1 + s) + c^2 + p^2e}{2\pi P\sqrt N},\qquad
        E[\varphi'(u)\varphi'(v)] = A + \frac{c\,\big((3+s)(1+s) + p + pe(2+s)\big)}{2\pi P N^{3/2}}.

    Derivation: Stein's lemma, :math:`E[u\,\Phi(u)v\Phi(v)] = q_1E[\phi(u)v\Phi(v)] +
    c\,E[\Phi(u)(\Phi(v) + v\phi(v))]`; :math:`E[\Phi(u)\Phi(v)]` is the orthant probability of
    :math:`(Z_1 - u, Z_2 - v)`; a factor :math:`\phi(u)` tilts :math:`(u, v)` into the Gaussian of
    covariance :math:`\Sigma - \Sigma e_1e_1^\top\Sigma/(1+q_1)` with mass :math:`(2\pi(1+q_1))^{-1/2}`
    (Sherman–Morrison), after which Stein's lemma closes the integral; the second line is
    :math:`\partial/\partial c` (Price's theorem).  At :math:`q_1 = q_2` this is
    ``mean_field._gelu_kernel_equal``.

    >>> k, kd = gelu_kernel(0.0, 2.0, 0.0)      # u ≡ 0: φ'(0) = 1/2, E[φ'(v)] = 1/2
    >>> float(k), float(kd)
    (0.0, 0.25)
    """
    return _evaluate(GELU, q11, q22, q12)
