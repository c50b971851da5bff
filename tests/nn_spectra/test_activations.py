"""Activations and Gaussian integrals against independent truths: mpmath quadrature at 25 digits,
closed forms derived by hand (Gaussian moments, cosine integrals), finite differences."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
from scipy import integrate, special
from hypothesis import given
from hypothesis import strategies as st

import nn_spectra as ns
from nn_spectra import gaussian_integrals as gi

BUILTIN = ["linear", "relu", "leaky_relu", "hard_tanh", "tanh", "erf", "sigmoid", "softplus", "gelu", "silu", "selu"]
SMOOTH = ["tanh", "erf", "sigmoid", "softplus", "gelu", "silu"]

# the activations written independently in mpmath (φ, φ')
LAM, AL = mpmath.mpf("1.0507009873554805"), mpmath.mpf("1.6732632423543772")
MP = {
    "tanh": (mpmath.tanh, lambda x: 1 / mpmath.cosh(x) ** 2),
    "erf": (mpmath.erf, lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x)),
    "sigmoid": (lambda x: 1 / (1 + mpmath.exp(-x)), lambda x: mpmath.exp(-x) / (1 + mpmath.exp(-x)) ** 2),
    "softplus": (lambda x: mpmath.log(1 + mpmath.exp(x)), lambda x: 1 / (1 + mpmath.exp(-x))),
    "gelu": (lambda x: x * mpmath.ncdf(x), lambda x: mpmath.ncdf(x) + x * mpmath.npdf(x)),
    "silu": (lambda x: x / (1 + mpmath.exp(-x)),
             lambda x: 1 / (1 + mpmath.exp(-x)) + x * mpmath.exp(-x) / (1 + mpmath.exp(-x)) ** 2),
    "relu": (lambda x: max(x, 0), lambda x: 1 if x > 0 else 0),
    "hard_tanh": (lambda x: max(-1, min(1, x)), lambda x: 1 if abs(x) < 1 else 0),
    "selu": (lambda x: LAM * (x if x > 0 else AL * (mpmath.exp(x) - 1)), lambda x: LAM * (1 if x > 0 else AL * mpmath.exp(x))),
}


def _mp_1d(f, q, kinks=()):
    s = mpmath.sqrt(q)
    pts = sorted({0.0, *[k / float(s) for k in kinks], *[k / float(s) for k in (-3, -1, 1, 3)]})
    return mpmath.quad(lambda z: mpmath.npdf(z) * f(s * z), [-mpmath.inf, *pts, mpmath.inf])


def _mp_2d(f, g, q11, q22, q12):
    c = q12 / mpmath.sqrt(q11 * q22)
    r = mpmath.sqrt(1 - c * c)
    s1, s2 = mpmath.sqrt(q11), mpmath.sqrt(q22)
    return mpmath.quad(lambda z1, z2: mpmath.npdf(z1) * mpmath.npdf(z2) * f(s1 * z1) * g(s2 * (c * z1 + r * z2)),
                       [-mpmath.inf, -1, 0, 1, mpmath.inf], [-mpmath.inf, -1, 0, 1, mpmath.inf])


# ----------------------------------------------------------------------------- construction
def test_names_and_aliases():
    for name in BUILTIN:
        assert ns.activation(name).name == name
    assert ns.activation("swish").name == "silu"
    assert ns.activation("leaky_relu", alpha=0.2).alpha == 0.2
    act = ns.activation("tanh")
    assert ns.activation(act) is act


def test_bad_names_and_parameters():
    with pytest.raises(ValueError, match="known: .*relu.*tanh"):
        ns.activation("relux")
    with pytest.raises(ValueError, match="alpha"):
        ns.activation("leaky_relu", alpha=1.5)
    with pytest.raises(ValueError, match="name_or_phi"):
        ns.activation(3.0)
    with pytest.raises(ValueError, match="q"):
        gi.activation_moments("tanh", -1.0)


def test_custom_activation_finite_differences_warn_and_are_accurate():
    with pytest.warns(UserWarning, match="finite differences"):
        act = ns.activation(np.sin)
    x = np.linspace(-3, 3, 13)
    assert np.max(np.abs(act.dphi(x) - np.cos(x))) < 1e-9
    assert np.max(np.abs(act.d2phi(x) + np.sin(x))) < 1e-6
    assert act.name == "sin"


@pytest.mark.parametrize("name", BUILTIN)
def test_derivatives_against_finite_differences(name):
    act = ns.activation(name)
    x = np.linspace(-4.1, 3.9, 41)
    x = x[np.min(np.abs(x[:, None] - np.array(act.kinks + (99.0,))[None, :]), axis=1) > 1e-3]
    h = 1e-6
    assert np.max(np.abs(act.dphi(x) - (act.phi(x + h) - act.phi(x - h)) / (2 * h))) < 1e-7
    assert np.max(np.abs(act.d2phi(x) - (act.dphi(x + h) - act.dphi(x - h)) / (2 * h))) < 1e-6


# ----------------------------------------------------------------------------- 1-D integrals
@pytest.mark.parametrize("name", ["tanh", "erf", "sigmoid", "gelu", "relu", "hard_tanh", "selu", "softplus", "silu"])
def test_moments_against_mpmath(name):
    act = ns.activation(name)
    f, df = MP[name]
    qs = [0.05, 1.0, 7.0, 400.0]
    e2, d2, _ = gi.activation_moments(act, np.array(qs))
    with mpmath.workdps(25):
        for i, q in enumerate(qs):
            r0 = _mp_1d(lambda u: f(u) ** 2, q, act.kinks)
            r1 = _mp_1d(lambda u: df(u) ** 2, q, act.kinks)
            assert abs(e2[i] - float(r0)) <= 1e-10 * max(1.0, abs(float(r0)))
            assert abs(d2[i] - float(r1)) <= 1e-10 * max(1.0, abs(float(r1)))


@pytest.mark.parametrize("name", ["tanh", "hard_tanh", "erf", "gelu", "selu", "relu"])
def test_phi_phi2_term_is_the_q_derivative(name):
    # Gaussian integration by parts: d/dq E[φ²] = E[φ'²] + E[φφ''] (Dirac masses of φ'' included);
    # the derivative is taken by a central difference of the mpmath integral
    act = ns.activation(name)
    f, _ = MP[name]
    q, h = 0.8, 1e-4
    _, d2, e11 = gi.activation_moments(act, q)
    with mpmath.workdps(30):
        deriv = (_mp_1d(lambda u: f(u) ** 2, q + h, act.kinks) - _mp_1d(lambda u: f(u) ** 2, q - h, act.kinks)) / (2 * h)
    assert abs(float(d2 + e11) - float(deriv)) < 1e-7


def test_closed_forms_against_compiled_quadrature():
    q = np.array([0.01, 0.3, 1.0, 5.0, 80.0])
    for name in ["relu", "erf", "hard_tanh", "leaky_relu", "linear"]:
        closed = gi.activation_moments(name, q, method="closed")
        quad = gi.activation_moments(name, q, method="legendre")
        for a, b in zip(closed, quad):
            assert np.max(np.abs(a - b) / np.maximum(1, np.abs(a))) < 1e-12, name


def test_gauss_hermite_exactness_and_cosine():
    z, w = gi.gauss_hermite(10)
    # E z^{2k} = (2k-1)!!, exact up to degree 19
    for k, m in [(1, 1), (2, 3), (3, 15), (4, 105), (9, 34459425)]:
        assert abs(w @ z ** (2 * k) - m) < 1e-12 * m
    q = np.array([0.1, 1.0, 3.0])
    assert np.max(np.abs(ns.gaussian_expectation(np.cos, q) - np.exp(-q / 2))) < 1e-12
    # E[cos u cos v] = (e^{-(q11+q22+2q12)/2} + e^{-(q11+q22-2q12)/2}) / 2
    q11, q22, q12 = 0.7, 1.3, -0.4
    exact = 0.5 * (np.exp(-(q11 + q22 + 2 * q12) / 2) + np.exp(-(q11 + q22 - 2 * q12) / 2))
    assert abs(ns.gaussian_expectation_2d(np.cos, np.cos, q11, q22, q12) - exact) < 1e-12
    assert abs(ns.gaussian_expectation_2d(np.cos, np.cos, q11, q22, q12, degree=40) - exact) < 1e-12


def test_gauss_hermite_route_converges_for_erf():
    q = np.array([0.2, 1.0])
    closed = gi.activation_moments("erf", q, method="closed")
    gh = gi.activation_moments("erf", q, method="hermite")
    assert np.max(np.abs(closed[0] - gh[0])) < 1e-10


# ----------------------------------------------------------------------------- 2-D integrals
def _cond(name, m, sd):
    """E[f(m + sd Z)] and E[f'(m + sd Z)] for Z ~ N(0, 1), in closed form (written here, in mpmath)."""
    if name == "relu":
        t = m / sd
        return m * mpmath.ncdf(t) + sd * mpmath.npdf(t), mpmath.ncdf(t)
    if name == "erf":
        a = mpmath.sqrt(1 + 2 * sd * sd)
        return mpmath.erf(m / a), 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-m * m / (a * a)) / a
    if name == "hard_tanh":
        lo, hi = (-1 - m) / sd, (1 - m) / sd
        inside = mpmath.ncdf(hi) - mpmath.ncdf(lo)
        mean = m * inside + sd * (mpmath.npdf(lo) - mpmath.npdf(hi)) + (1 - mpmath.ncdf(hi)) - mpmath.ncdf(lo)
        return mean, inside
    raise AssertionError(name)


def _mp_2d_conditional(name, q11, q22, q12, kinks):
    # outer integral over z1 in mpmath (split at the kinks of f), inner conditional law of v in closed form
    c = q12 / mpmath.sqrt(q11 * q22)
    s1, s2 = mpmath.sqrt(q11), mpmath.sqrt(q22)
    sd = s2 * mpmath.sqrt(1 - c * c)
    f, df = MP[name]
    pts = [-mpmath.inf, *sorted({0.0, *[k / float(s1) for k in kinks]}), mpmath.inf]
    k = mpmath.quad(lambda z: mpmath.npdf(z) * f(s1 * z) * _cond(name, s2 * c * z, sd)[0], pts)
    kd = mpmath.quad(lambda z: mpmath.npdf(z) * df(s1 * z) * _cond(name, s2 * c * z, sd)[1], pts)
    return k, kd


@pytest.mark.parametrize("name", ["relu", "erf", "hard_tanh"])
@pytest.mark.parametrize("cov", [(1.0, 1.0, 0.3), (0.5, 2.0, -0.9), (2.0, 0.3, 0.7)])
def test_kernels_against_mpmath_with_conditional_closed_forms(name, cov):
    q11, q22, q12 = cov
    act = ns.activation(name)
    k, kd = gi.activation_kernel(act, q11, q22, q12)
    with mpmath.workdps(20):
        rk, rkd = _mp_2d_conditional(name, q11, q22, q12, act.kinks)
    assert abs(float(k) - float(rk)) < 1e-12
    assert abs(float(kd) - float(rkd)) < 1e-12


@given(st.floats(0.05, 6.0), st.floats(0.05, 6.0), st.floats(-1.0, 1.0))
def test_arc_cosine_and_arcsine_against_quadrature(q11, q22, c):
    q12 = c * np.sqrt(q11 * q22)
    for name in ["relu", "erf", "leaky_relu"]:
        a = gi.activation_kernel(name, q11, q22, q12, method="closed")
        b = gi.activation_kernel(name, q11, q22, q12, method="legendre")
        assert abs(float(a[0]) - float(b[0])) < 1e-10 * max(1, abs(float(a[0])))
        assert abs(float(a[1]) - float(b[1])) < 1e-9 * max(1, abs(float(a[1])))


SCIPY = {"tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2),
         "gelu": (lambda x: x * special.ndtr(x), lambda x: special.ndtr(x) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)),
         "sigmoid": (special.expit, lambda x: special.expit(x) * special.expit(-x))}


@pytest.mark.parametrize("name", ["tanh", "gelu", "sigmoid"])
def test_smooth_quadrature_kernels_against_scipy_dblquad(name):
    # adaptive Gauss–Kronrod (QUADPACK) in two dimensions, requested to 1e-14
    f, df = SCIPY[name]
    q11, q22, q12 = 0.9, 1.6, 0.55
    c = q12 / np.sqrt(q11 * q22)
    r, s1, s2 = np.sqrt(1 - c * c), np.sqrt(q11), np.sqrt(q22)

    def ref(g):
        return integrate.dblquad(lambda z2, z1: np.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * np.pi)
                                 * g(s1 * z1) * g(s2 * (c * z1 + r * z2)), -12, 12, -12, 12,
                                 epsabs=1e-14, epsrel=1e-13)[0]
    k, kd = gi.activation_kernel(name, q11, q22, q12)
    assert abs(float(k) - ref(f)) < 1e-11
    assert abs(float(kd) - ref(df)) < 1e-11


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "gelu"])
def test_smooth_quadrature_kernels_against_mpmath(name):
    f, df = MP[name]
    q11, q22, q12 = 0.9, 1.6, 0.55
    k, kd = gi.activation_kernel(name, q11, q22, q12)
    with mpmath.workdps(15):
        rk = _mp_2d(f, f, q11, q22, q12)
        rkd = _mp_2d(df, df, q11, q22, q12)
    assert abs(float(k) - float(rk)) < 1e-10
    assert abs(float(kd) - float(rkd)) < 1e-10


def test_kernel_at_full_correlation_equals_moments_and_clips():
    q = np.array([0.4, 2.0])
    for name in ["tanh", "relu", "gelu"]:
        k, kd = gi.activation_kernel(name, q, q, q * (1 + 1e-12))  # |c| a hair above 1: clipped, no NaN
        e2, d2, _ = gi.activation_moments(name, q)
        assert np.all(np.isfinite(k)) and np.max(np.abs(k - e2)) < 1e-10
        assert np.max(np.abs(kd - d2)) < 1e-9


def test_hermite_coefficients_relu_closed_form_and_parseval():
    q = 2.5
    b = ns.hermite_coefficients("relu", q, order=2)
    # E[relu(√q z)] = √q/√(2π), E[relu(√q z) z] = √q/2, E[relu(√q z)(z²−1)]/√2 = √q/(2√π)
    exact = np.sqrt(q) * np.array([1 / np.sqrt(2 * np.pi), 0.5, 1 / (2 * np.sqrt(np.pi))])
    assert np.max(np.abs(b - exact)) < 1e-13
    bt = ns.hermite_coefficients("tanh", 0.7, order=120)
    assert abs(np.sum(bt ** 2) - gi.activation_moments("tanh", 0.7)[0]) < 1e-13
