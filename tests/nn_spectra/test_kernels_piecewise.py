"""Closed-form pair kernels of hard tanh, selu and gelu at unequal variances (nn_spectra.closed_kernels) and
the bivariate normal orthant probability (nn_spectra.bivariate_normal), against mpmath at high precision;
the fused recursion and fim_statistics_data against the quadrature routes they replace."""
import copy

import mpmath as mp
import numpy as np
import pytest

import nn_spectra as ns
from nn_spectra import kernels as kmod
from nn_spectra.activations import SELU_ALPHA, SELU_LAMBDA, activation
from nn_spectra.bivariate_normal import bivariate_normal_upper
from nn_spectra.closed_kernels import gelu_kernel, hard_tanh_kernel, selu_kernel
from nn_spectra.gaussian_integrals import activation_kernel, activation_moments

DPS = 20


# ------------------------------------------------------------------ references (mpmath)
def _bvn_ref(h, k, r):
    """P(X > h, Y > k) = ∫_h^∞ ϕ(x) Q((k − r x)/√(1 − r²)) dx, split where the inner argument turns."""
    with mp.workdps(30):
        h, k, r = mp.mpf(h), mp.mpf(k), mp.mpf(r)
        s = mp.sqrt(1 - r * r)
        pts = sorted({h} | {p for p in (k / r, k / r - 20 * s, k / r + 20 * s, h + 1, h + 5) if p > h})
        return mp.quad(lambda x: mp.npdf(x) * mp.ncdf(-(k - r * x) / s), pts + [mp.inf])


LAM, AL = mp.mpf(SELU_LAMBDA), mp.mpf(SELU_ALPHA)
P, p = mp.ncdf, mp.npdf


# E[g(m + s W)], W ~ N(0, 1), for g = φ and φ': 1-D Gaussian identities only (no bivariate formula)
def _ht_inner(m, s):
    a1, b1 = (-1 - m) / s, (1 - m) / s
    return (m * (P(b1) - P(a1)) + s * (p(a1) - p(b1)) + P(-b1) - P(a1), P(b1) - P(a1))


def _selu_inner(m, s):
    t = m / s
    tilt = mp.exp(m + s * s / 2) * P((-m - s * s) / s)
    return LAM * (m * P(t) + s * p(t)) + LAM * AL * (tilt - P(-t)), LAM * P(t) + LAM * AL * tilt


def _gelu_inner(m, s):
    tau = mp.sqrt(1 + s * s)
    return m * P(m / tau) + s * s * p(m / tau) / tau, P(m / tau) + p(m / tau) * m / tau ** 3


ACTS = {
    "hard_tanh": (lambda x: max(-1, min(1, x)), lambda x: 1 if abs(x) < 1 else 0, (-1, 1), hard_tanh_kernel, _ht_inner),
    "selu": (lambda x: LAM * x if x > 0 else LAM * AL * mp.expm1(x), lambda x: LAM if x > 0 else LAM * AL * mp.exp(x),
             (0,), selu_kernel, _selu_inner),
    "gelu": (lambda x: x * P(x), lambda x: P(x) + x * p(x), (), gelu_kernel, _gelu_inner),
}


def _kernel_ref(name, q1, q2, c):
    """(E[φ(u)φ(v)], E[φ'(u)φ'(v)]) by mpmath: the outer variable z = u/√q₁ by tanh-sinh quadrature split at
    the kinks (of φ(√q₁ z) and of the inner function, where ρ√q₂ z meets a kink), the inner expectation
    given z in closed form (1-D)."""
    f, df, kinks, _, inner = ACTS[name]
    with mp.workdps(DPS):
        q1, q2, c = mp.mpf(q1), mp.mpf(q2), mp.mpf(c)
        s1, s2 = mp.sqrt(q1), mp.sqrt(q2)
        r = max(-1, min(1, c / (s1 * s2)))
        sd = s2 * mp.sqrt(1 - r * r)
        zb = {mp.mpf(0)}
        for k in kinks:
            zb.add(k / s1)
            if r != 0:
                zb.add(k / (r * s2))
        zb = sorted(z for z in zb if abs(z) < 40)
        out = []
        for i, g in enumerate((f, df)):
            def h(z, i=i, g=g):
                m = r * s2 * z
                return g(s1 * z) * ((f, df)[i](m) if sd == 0 else inner(m, sd)[i])
            out.append(mp.quad(lambda z: p(z) * h(z), [-mp.inf] + zb + [mp.inf]))
        return float(out[0]), float(out[1])


def _near(q1, q2, frac):
    return (q1, q2, frac * np.sqrt(q1 * q2))


# (q1, q2, c): unequal variances, correlations near ±1, extreme variance ratios.  Near |ρ| = 1, E[φ'φ'] of
# kinked φ has slope ~ (1 − |ρ|)^(-1/2) in ρ, so the rounding of ρ = c/√(q1 q2) alone moves it by ~1e-16 times
# that: the cases at 1 − 1e-12 take √(q1 q2) = 1 (ρ = c exactly)
FAST_CASES = [(0.3, 2.0, 0.5), _near(2.0, 3.0, -(1 - 1e-9)), (1e-3, 1e3, 0.9)]
SLOW_CASES = [(1.0, 1.0, 0.5), (0.3, 2.0, -0.7), (1e-3, 1e3, -0.99), _near(5.0, 0.2, 0.999999), _near(2.0, 3.0, 1 - 1e-9),
              (0.05, 0.07, 0.0), _near(1.5, 1.5, 1 - 1e-10), (4.0, 0.25, 1 - 1e-12), (4.0, 0.25, -(1 - 1e-12)),
              _near(10.0, 20.0, 0.8), _near(30.0, 40.0, 0.9),
              (100.0, 0.01, 0.5)]


def _check_kernel(name, q1, q2, c):
    if name == "selu" and 0.5 * (q1 + q2) + abs(c) > 30:
        pytest.skip("selu beyond its tilt bound is the quadrature (tested separately)")
    k_ref, kd_ref = _kernel_ref(name, q1, q2, c)
    k, kd = ACTS[name][3](q1, q2, c)
    assert abs(k - k_ref) <= 1e-12 * abs(k_ref), (k, k_ref)
    assert abs(kd - kd_ref) <= 1e-12 * abs(kd_ref), (kd, kd_ref)


@pytest.mark.parametrize("name", sorted(ACTS))
@pytest.mark.parametrize("case", FAST_CASES)
def test_closed_kernel_against_mpmath(name, case):
    _check_kernel(name, *case)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ACTS))
@pytest.mark.parametrize("case", SLOW_CASES)
def test_closed_kernel_against_mpmath_more(name, case):
    _check_kernel(name, *case)


def test_bivariate_normal_against_mpmath():
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(16):
        h, k = rng.normal(0, 2, 2)
        r = rng.uniform(-1, 1) if rng.random() < 0.5 else np.sign(rng.normal()) * (1 - 10 ** rng.uniform(-12, -1))
        worst = max(worst, abs(float(bivariate_normal_upper(h, k, r)) - float(_bvn_ref(h, k, r))))
    assert worst < 1e-15
    # exact values: the orthant at 0, ρ = ±1, infinite thresholds
    assert abs(bivariate_normal_upper(0.0, 0.0, -0.3) - (0.25 + np.arcsin(-0.3) / (2 * np.pi))) < 1e-16
    assert bivariate_normal_upper(0.5, 0.2, 1.0) == pytest.approx(float(mp.ncdf(-0.5)), abs=1e-16)
    assert bivariate_normal_upper(0.5, 0.2, -1.0) == 0.0
    assert bivariate_normal_upper(-np.inf, 0.3, 0.4) == pytest.approx(float(mp.ncdf(-0.3)), abs=1e-16)


def test_bivariate_normal_bad_input():
    with pytest.raises(ValueError, match="rho"):
        bivariate_normal_upper(0.0, 0.0, 1.5)
    with pytest.raises(ValueError, match="h and k"):
        bivariate_normal_upper(np.nan, 0.0, 0.5)
    with pytest.raises(ValueError, match="q11 and q22"):
        selu_kernel(-1.0, 1.0, 0.0)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_diagonal_is_the_1d_moments(name):
    # c = √(q₁q₂) with q₁ = q₂: E[φ(u)²], E[φ'(u)²] (hard tanh: its closed 1-D moments; others quadrature)
    q = np.array([0.05, 0.7, 3.0, 12.0])
    k, kd = ACTS[name][3](q, q, q)
    e2, d2, _ = activation_moments(name, q)
    np.testing.assert_allclose(k, e2, rtol=1e-12)
    np.testing.assert_allclose(kd, d2, rtol=1e-12)


def test_equal_variance_forms_of_mean_field():
    from nn_spectra.mean_field import _gelu_kernel_equal, _hard_tanh_kernel_equal

    q = np.array([0.1, 0.1, 1.3, 1.3, 40.0])
    c = np.array([0.3, -0.95, 0.999, -0.2, 0.7])
    for mine, theirs in ((hard_tanh_kernel, _hard_tanh_kernel_equal), (gelu_kernel, _gelu_kernel_equal)):
        a, b = mine(q, q, c * q), theirs(q, c)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_zero_variance_and_the_quadrature(name):
    # q₁ = 0 (u ≡ 0) and a selu pair beyond its tilt bound: the nested Gauss–Legendre rule
    q1 = np.array([0.0, 0.0, 0.4, 31.0])
    q2 = np.array([0.0, 1.7, 0.9, 40.0])
    c = np.array([0.0, 0.0, 0.3, 20.0])
    k, kd = ACTS[name][3](q1, q2, c)
    kq, kdq = activation_kernel(name, q1, q2, c, method="legendre")
    np.testing.assert_allclose(k, kq, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(kd, kdq, rtol=1e-12, atol=1e-15)


def _quadrature_act(name):
    act = copy.copy(activation(name))
    act.kernel_2d = None         # the routes of before: Mehler series / nested quadrature
    return act


@pytest.mark.parametrize("name", ["hard_tanh", "selu"])
def test_series_branch_against_closed_forms(name):
    # closed_form_kernel on a symmetric problem of more than 64 inputs takes Mehler's series for |ρ| <= 0.8 (hard tanh), 0.6 (selu)
    # (coefficients: hard tanh's closed form, selu's interpolated in √q): against the closed forms alone
    X = ns.load_dataset("digits", 90, rng=5).X
    S = X @ X.T / X.shape[1] * 1.3 + 0.05
    q = np.diag(S).copy()
    K, Kd = kmod.closed_form_kernel(activation(name), q[:, None], q[None, :], S)
    Kc, Kdc = ACTS[name][3](q[:, None], q[None, :], S)
    rho = np.abs(S) / np.sqrt(np.outer(q, q))
    assert np.mean(rho <= 0.6) > 0.5           # the series branch is exercised
    e2, d2, _ = activation_moments(name, q)
    assert np.max(np.abs(K - Kc) / np.sqrt(np.outer(e2, e2))) < 1e-13
    assert np.max(np.abs(Kd - Kdc) / np.sqrt(np.outer(d2, d2))) < 1e-13


def test_hard_tanh_hermite_coefficients():
    from nn_spectra.closed_kernels import hard_tanh_hermite_coefficients
    from nn_spectra.gaussian_integrals import hermite_coefficients

    q = np.array([0.01, 0.47, 5.0, 50.0])
    a, b = hard_tanh_hermite_coefficients(q, 81), hermite_coefficients("hard_tanh", q, order=81)
    assert np.max(np.abs(a - b) / np.sqrt(np.sum(b ** 2, axis=1))[:, None]) < 1e-14


@pytest.mark.parametrize("name,sw,sb,n", [("hard_tanh", 1.3, 0.05, 70), ("selu", 1.0, 0.0, 70), ("gelu", 2.0, 0.05, 12)])
def test_fused_recursion_against_quadrature_recursion(name, sw, sb, n):
    # hard tanh and selu with n = 70 (> 64): the fused recursion's series branch is exercised
    X = ns.load_dataset("digits", n, rng=3).X
    Y = ns.load_dataset("digits", 5, rng=4).X
    depth = 4
    for X2 in (None, Y):
        K, T = ns.nngp_ntk(X, X2, depth=depth, act=name, sigma_w2=sw, sigma_b2=sb)
        d = X.shape[1]
        S0 = (X * (sw / d)) @ (X if X2 is None else X2).T + sb
        d1 = sw * np.einsum("ij,ij->i", X, X) / d + sb
        d2 = d1 if X2 is None else sw * np.einsum("ij,ij->i", X2, X2) / d + sb
        Kq, Tq, _, _ = kmod._layer_recursion(_quadrature_act(name), S0, d1, d2, depth, sw, sb, X2 is None, False,
                                             False, False)
        _, Td1 = ns.nngp_ntk(X, depth=depth, act=name, sigma_w2=sw, sigma_b2=sb)
        scale_t = np.sqrt(np.diag(Td1))[:, None] * (np.sqrt(np.diag(Td1)) if X2 is None else
                                                     np.sqrt(np.diag(ns.nngp_ntk(X2, depth=depth, act=name,
                                                                                 sigma_w2=sw, sigma_b2=sb)[1])))[None, :]
        assert np.max(np.abs(T - Tq) / scale_t) < 1e-11
        assert np.max(np.abs(K - Kq) / scale_t) < 1e-11


def test_hard_tanh_fim_data_against_quadrature_route():
    X = ns.load_dataset("digits", 80, rng=0).X
    sw = float(ns.critical_sigma_w2("hard_tanh", 0.05))
    new = ns.fim_statistics_data(X, "hard_tanh", sw, 0.05, 5, 200, 3)
    old = ns.fim_statistics_data(X, _quadrature_act("hard_tanh"), sw, 0.05, 5, 200, 3)
    for f in ("lambda_max", "lambda_max_bn", "mean", "second_moment", "kappa1", "kappa2"):
        assert abs(getattr(new, f) / getattr(old, f) - 1) < 1e-10, f
