"""The Mehler-series route of the NNGP/NTK recursion for smooth activations (tanh, sigmoid, softplus,
gelu, silu) against independent truth: nested adaptive QUADPACK integrals of the 2-D Gaussian
expectations (scipy.integrate.quad, its own breakpoints, not the toolkit's Gauss–Legendre pieces), and
the layer recursion written out with the nested piecewise quadrature.

Accuracy criterion: |error| ≤ 1e-10 of the Cauchy–Schwarz scale of each kernel,
√(E[φ(u)²]E[φ(v)²]) for E[φ(u)φ(v)] and √(E[φ'(u)²]E[φ'(v)²]) for E[φ'(u)φ'(v)] (a pure relative
error is meaningless where the kernel vanishes, e.g. c = 0 for odd φ).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special

import nn_spectra as ns
from nn_spectra import gaussian_integrals as gi
from nn_spectra import kernels as kk

_Z = 14.0   # N(0,1) mass beyond 14 is 1e-44

# QUADPACK reports roundoff once it reaches its 1e-15 floor: the truth is then as accurate as it gets
pytestmark = pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")


def _sig(x):
    return float(special.expit(x))


# φ and φ' as plain scalar functions, written independently of nn_spectra.activations
_SCALAR = {
    "tanh": (math.tanh, lambda x: 1.0 - math.tanh(x) ** 2),
    "sigmoid": (_sig, lambda x: _sig(x) * _sig(-x)),
    "softplus": (lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))), _sig),
    "gelu": (lambda x: x * special.ndtr(x), lambda x: special.ndtr(x) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "silu": (lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * _sig(-x))),
}


def _pdf(z):
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _graded(centre, width):
    # breakpoints centre ± k·width: the integrands change on the scale `width` around `centre`
    pts = [centre + sg * k * width for k in (0.0, 0.5, 1, 2, 4, 8, 16, 32) for sg in (1, -1)]
    return sorted({p for p in pts if -_Z < p < _Z})


def _truth(f, q1, q2, c):
    """E[f(u) f(v)] for (u, v) ~ N(0, [[q1, c√(q1q2)], [c√(q1q2), q2]]) by nested QUADPACK: v given
    u = √q1 z1 is √q2 (c z1 + √(1 - c²) z2)."""
    s1, s2, r = math.sqrt(q1), math.sqrt(q2), math.sqrt(max(0.0, 1.0 - c * c))
    sd = s2 * r

    def inner(z1):
        m = s2 * c * z1
        if sd == 0.0:
            return f(m)
        return integrate.quad(lambda z: f(m + sd * z) * _pdf(z), -_Z, _Z, points=_graded(-m / sd, 1.0 / sd) or None,
                              epsabs=1e-15, epsrel=1e-13, limit=2000)[0]

    pts = _graded(0.0, 1.0 / s1)
    if c != 0.0 and sd > 1.0:
        pts = sorted(set(pts) | set(_graded(0.0, sd / (s2 * abs(c)))))
    return integrate.quad(lambda z: f(s1 * z) * inner(z) * _pdf(z), -_Z, _Z, points=pts, epsabs=1e-15,
                          epsrel=1e-13, limit=2000)[0]


def _check(name, points):
    act = ns.activation(name)
    f, df = _SCALAR[name]
    for q1, q2, c in points:
        S = np.array([[c * math.sqrt(q1 * q2)]])
        K, Kd = kk._series_kernel(act, np.array([q1]), np.array([q2]), S)
        e1, d1, _ = gi.activation_moments(act, q1)
        e2, d2, _ = gi.activation_moments(act, q2)
        k_true, kd_true = _truth(f, q1, q2, c), _truth(df, q1, q2, c)
        err_k = abs(K[0, 0] - k_true) / math.sqrt(e1 * e2)
        err_kd = abs(Kd[0, 0] - kd_true) / math.sqrt(d1 * d2)
        assert err_k < 1e-10 and err_kd < 1e-10, (name, q1, q2, c, err_k, err_kd)


# c from -1 to 1 with both ends and 1 - 1e-8; variances from 1e-6 to 1e6, equal and unequal
_TANH_POINTS = [(1e-6, 1e-6, 0.7), (1e-6, 2.5e-6, -1.0), (0.7, 0.7, 0.9), (0.5, 2.0, -0.6), (1.0, 1.0, 0.0),
                (3.0, 3.0, 1.0 - 1e-8), (2.0, 5.0, 1.0), (40.0, 90.0, 0.3), (1e3, 2.5e3, 0.999),
                (1e6, 1e6, -0.99), (1e6, 2.5e6, 0.9)]


def test_tanh_kernels_against_nested_quadpack():
    _check("tanh", _TANH_POINTS)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "gelu", "silu"])
def test_other_smooth_kernels_against_nested_quadpack(name):
    _check(name, [(0.4, 1.7, 0.95), (2.0, 2.0, -1.0 + 1e-9), (30.0, 30.0, 0.5)])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "gelu", "silu"])
def test_smooth_kernels_against_nested_quadpack_full_grid(name):
    qs = [1e-6, 0.3, 1.0, 5.0, 1e3, 1e6]
    cs = [-1.0, -0.99, -0.5, 0.0, 0.3, 0.9, 0.999, 1.0 - 1e-8, 1.0]
    _check(name, [(q, q * r, c) for q in qs for r in (1.0, 2.5) for c in cs])


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "gelu", "silu"])
def test_structural_zeros_of_the_hermite_coefficients(name):
    # the route sums only the nonzero parity class past the constant/linear term: check the claim on
    # the graded quadrature's coefficients (independent of the matrix rule the route uses)
    b = gi.hermite_coefficients(name, np.array([0.3, 2.0]), order=40)
    ev, od = kk._SERIES_PARITY[name]
    k = np.arange(41)
    zero = np.zeros(41, dtype=bool)
    if ev >= 0:
        zero |= (k % 2 == 0) & (k // 2 >= ev)
    if od >= 0:
        zero |= (k % 2 == 1) & (k // 2 >= od)
    assert zero.any()
    assert np.max(np.abs(b[:, zero])) < 1e-14
    assert np.min(np.max(np.abs(b[:, ~zero][:, :6]), axis=0)) > 1e-6


def test_interpolated_coefficients_agree_with_the_direct_rule():
    # the Chebyshev interpolation in √q (error-controlled) against the matrix rule at every input
    act = ns.activation("tanh")
    q = np.random.default_rng(3).uniform(0.5, 4.2, 300)
    Vt, cols, stmax, sumax, stK, suK, e, d, K = kk._series_inputs(act, q)
    direct = kk._nodal_values(act, q, cols)
    scale = math.sqrt(float(np.max(e)))
    assert np.max(np.abs(Vt.T - direct[:, :-2])) < 1e-13 * scale
    assert np.max(np.abs(e - direct[:, -2]) / direct[:, -2]) < 1e-13
    assert np.max(np.abs(d - direct[:, -1]) / direct[:, -1]) < 1e-13


def _reference_recursion(X1, X2, depth, act, sw, sb):
    # the recursion written out with the nested piecewise quadrature on every pair (and the 1-D
    # integrals on the variances), layer by layer
    d = X1.shape[1]
    S = sw * X1 @ X2.T / d + sb
    q1, q2 = sw * np.sum(X1 ** 2, 1) / d + sb, sw * np.sum(X2 ** 2, 1) / d + sb
    T = S.copy()
    for _ in range(depth - 1):
        # (c = 1 needs no special care here: smooth φ have no square-root singularity there)
        k, kd = gi.activation_kernel(act, q1[:, None], q2[None, :], S, method="legendre")
        S = sw * k + sb
        T = T * sw * kd + S
        q1 = sw * gi.activation_moments(act, q1, method="legendre")[0] + sb
        q2 = sw * gi.activation_moments(act, q2, method="legendre")[0] + sb
    return S, T


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "gelu", "silu"])
def test_fused_recursion_against_quadrature_recursion_with_extreme_norms(name):
    # inputs whose variances span 1e-6 .. 1e4, a near-duplicate pair (c ≈ 1 − 1e-12), a zero input
    # (variance 0 with σ_b = 0: the quadrature's branch), symmetric and asymmetric
    rng = np.random.default_rng(5)
    X = rng.standard_normal((7, 3))
    X *= np.array([1e-3, 0.3, 1.0, 1.0, 5.0, 100.0, 1.0])[:, None]
    X[3] = X[2] * (1 + 1e-12)
    X[6] = 0.0
    for sb in (0.0, 0.1):
        K, T = ns.nngp_ntk(X, depth=4, act=name, sigma_w2=1.6, sigma_b2=sb)
        Kr, Tr = _reference_recursion(X, X, 4, name, 1.6, sb)
        scale_k = np.sqrt(np.outer(np.diag(Kr), np.diag(Kr)))
        scale_t = np.sqrt(np.outer(np.diag(Tr), np.diag(Tr)))
        assert np.all(np.abs(K - Kr) <= 1e-10 * scale_k + 1e-300), (sb, np.max(np.abs(K - Kr) / (scale_k + 1e-300)))
        assert np.all(np.abs(T - Tr) <= 1e-10 * scale_t + 1e-300), (sb, np.max(np.abs(T - Tr) / (scale_t + 1e-300)))
    X2 = rng.standard_normal((4, 3)) * np.array([0.01, 1.0, 3.0, 30.0])[:, None]
    K, T = ns.nngp_ntk(X, X2, depth=3, act=name, sigma_w2=1.2, sigma_b2=0.05)
    Kr, Tr = _reference_recursion(X, X2, 3, name, 1.2, 0.05)
    assert np.max(np.abs(K - Kr)) < 1e-10 * np.max(np.abs(Kr))
    assert np.max(np.abs(T - Tr)) < 1e-10 * np.max(np.abs(Tr))


def test_fused_recursion_equals_the_layer_by_layer_one_on_many_inputs():
    # 120 inputs: the coefficients are interpolated in √q (more than 2r inputs), rows choose their own
    # order; against return_layers (per-layer kernels by the same series, numpy updates)
    X = np.random.default_rng(6).standard_normal((120, 10))
    X[7] = X[3]   # an exact duplicate: c = 1 off the diagonal
    K, T = ns.nngp_ntk(X, depth=6, act="tanh", sigma_w2=2.2, sigma_b2=0.1)
    Kl, Tl, layers = ns.nngp_ntk(X, depth=6, act="tanh", sigma_w2=2.2, sigma_b2=0.1, return_layers=True)
    np.testing.assert_array_equal(K, Kl)   # the same arithmetic, one layer per call
    np.testing.assert_array_equal(T, Tl)
    assert np.allclose(K, K.T, rtol=0, atol=0) and abs(K[7, 3] - K[3, 3]) < 1e-12 * K[3, 3]
    # Σ̇ of a middle layer against the nested quadrature at that layer's covariances
    S = layers["nngp"][2]
    q = np.diag(S)
    i, j = np.array([0, 3, 7, 50, 3]), np.array([1, 7, 7, 99, 3])
    _, kd = gi.activation_kernel("tanh", q[i], q[j], S[i, j], method="legendre")
    assert np.max(np.abs(layers["nngp_dot"][2][i, j] - 2.2 * kd) / (2.2 * kd)) < 1e-11


def test_row_horner_with_derivative_against_numpy():
    # every remainder of the degree count modulo the four-degree passes, an offset row start
    rng = np.random.default_rng(8)
    B2, b1, w = rng.standard_normal((13, 9)), rng.standard_normal(13), rng.uniform(0, 1, 6)
    for M in range(13):
        p, dp = np.full(6, np.nan), np.full(6, np.nan)
        kk._row_horner(B2, 3, b1, w, p, dp, M)
        a = b1[:M, None] * B2[:M, 3:]
        for j in range(6):
            pp = np.polynomial.Polynomial(a[:, j]) if M else np.polynomial.Polynomial([0.0])
            assert abs(p[j] - pp(w[j])) < 1e-14 * max(1.0, np.abs(a[:, j]).sum())
            assert abs(dp[j] - pp.deriv()(w[j])) < 1e-13 * max(1.0, np.abs(a[:, j]).sum() * M)
