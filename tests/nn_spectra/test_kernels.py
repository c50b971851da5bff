"""Infinite-width NNGP/NTK against closed forms, an independent recursion on the quadrature route,
and finite-width networks (empirical kernels converge with width)."""
from __future__ import annotations

import numpy as np
import pytest

import nn_spectra as ns
from nn_spectra import gaussian_integrals as gi


def _inputs(n=5, d=4, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


@pytest.mark.parametrize("depth", [1, 2, 3, 6, 21])
def test_relu_ntk_diagonal_is_depth(depth):
    # depth = L weight layers: at σ_w² = 2 every one of the L layers adds σ_w²|x|²/d to the NTK diagonal
    X = _inputs(6, 7)
    K, T = ns.nngp_ntk(X, depth=depth, act="relu", sigma_w2=2.0, sigma_b2=0.0)
    norms = np.sum(X ** 2, axis=1)
    assert np.max(np.abs(np.diag(T) - depth * 2.0 * norms / 7) / np.diag(T)) < 1e-13
    assert np.max(np.abs(np.diag(K) - 2.0 * norms / 7) / np.diag(K)) < 1e-13


def _reference_recursion(X, depth, act, sw, sb):
    # the recursion written out directly, every Gaussian integral by the nested piecewise quadrature;
    # depth = L weight layers, so L - 1 nonlinear steps after the first layer
    d = X.shape[1]
    S = sw * X @ X.T / d + sb
    T = S.copy()
    for _ in range(depth - 1):
        q = np.diag(S)
        k, kd = gi.activation_kernel(act, q[:, None], q[None, :], S, method="legendre")
        # on the diagonal u = v exactly: the 1-D integrals (a rounded c = 1 − 1e-16 would cost 1e-8
        # in the arc-cosine K̇, whose derivative is singular at c = 1)
        e2, d2, _ = gi.activation_moments(act, q, method="legendre")
        np.fill_diagonal(k, e2)
        np.fill_diagonal(kd, d2)
        S = sw * k + sb
        T = T * sw * kd + S
    return S, T


@pytest.mark.parametrize("act", ["relu", "erf", "tanh", "gelu"])
def test_kernels_against_quadrature_recursion(act):
    X = _inputs(8, 3, seed=2)
    K, T = ns.nngp_ntk(X, depth=5, act=act, sigma_w2=1.7, sigma_b2=0.2)
    Kr, Tr = _reference_recursion(X, 5, act, 1.7, 0.2)
    assert np.max(np.abs(K - Kr)) < 1e-9 * np.max(np.abs(Kr))
    assert np.max(np.abs(T - Tr)) < 1e-9 * np.max(np.abs(Tr))


def test_closed_forms_against_custom_activation_route():
    # a custom relu (numpy quadrature, no closed form) against the arc-cosine recursion
    relu = ns.activation(lambda x: np.maximum(x, 0.0), dphi=lambda x: (x > 0).astype(float),
                         d2phi=lambda x: 0.0 * x, kinks=(0.0,))
    X = _inputs(4, 3, seed=3)
    K, T = ns.nngp_ntk(X, depth=3, act="relu", sigma_w2=1.5, sigma_b2=0.1)
    Kc, Tc = ns.nngp_ntk(X, depth=3, act=relu, sigma_w2=1.5, sigma_b2=0.1)
    assert np.max(np.abs(K - Kc)) < 1e-11 and np.max(np.abs(T - Tc)) < 1e-11


def test_per_layer_kernels_and_asymmetric_inputs():
    X1, X2 = _inputs(4, 3, 4), _inputs(3, 3, 5)
    K, T, layers = ns.nngp_ntk(X1, X2, depth=4, act="tanh", sigma_w2=1.5, sigma_b2=0.1, return_layers=True)
    assert K.shape == (4, 3) and len(layers["nngp"]) == 4 and len(layers["nngp_dot"]) == 3
    assert np.allclose(layers["nngp"][-1], K, atol=1e-15) and np.allclose(layers["ntk"][-1], T, atol=1e-15)
    assert np.allclose(layers["ntk"][0], layers["nngp"][0])
    Kf, Tf = ns.nngp_ntk(np.vstack([X1, X2]), depth=4, act="tanh", sigma_w2=1.5, sigma_b2=0.1)
    # the two runs sum the Mehler series to different orders (each stopped at a 1e-12 bound), and the
    # NTK recursion multiplies such errors by Σ̇ over the layers
    assert np.max(np.abs(Kf[:4, 4:] - K)) < 1e-10 and np.max(np.abs(Tf[:4, 4:] - T)) < 1e-10
    assert np.allclose(Kf, Kf.T) and np.all(np.linalg.eigvalsh(Kf) > -1e-10)


@pytest.mark.parametrize("act,sw", [("tanh", 20.0), ("tanh", 0.3), ("erf", 50.0), ("relu", 1.0), ("gelu", 0.5)])
def test_deep_kernels_stay_finite(act, sw):
    X = _inputs(5, 3, 6)
    K, T = ns.nngp_ntk(X, depth=300, act=act, sigma_w2=sw, sigma_b2=0.05)
    assert np.all(np.isfinite(K)) and np.all(np.isfinite(T))
    assert np.all(np.abs(K) <= np.sqrt(np.outer(np.diag(K), np.diag(K))) * (1 + 1e-12))


def test_relu_chaotic_deep_kernels_in_log_scale():
    X = _inputs(4, 3, 7)
    with pytest.raises(ValueError, match="log_scale"):
        ns.nngp_ntk(X, depth=2000, act="relu", sigma_w2=3.0, sigma_b2=0.1)
    K, T, logc = ns.nngp_ntk(X, depth=2000, act="relu", sigma_w2=3.0, sigma_b2=0.1, log_scale=True)
    assert np.all(np.isfinite(K)) and np.all(np.isfinite(T)) and logc > 700
    # with σ_b = 0 the relu recursion is exactly (σ_w²/2)^(L-1) times a fixed correlation kernel
    K0, _, l0 = ns.nngp_ntk(X, depth=2001, act="relu", sigma_w2=3.0, sigma_b2=0.0, log_scale=True)
    d = np.sum(X ** 2, axis=1) * 3.0 / 3
    assert abs(l0 + np.log(K0[0, 0]) - (2000 * np.log(1.5) + np.log(d[0]))) < 1e-9 * 2000


def test_bad_input():
    X = _inputs(3, 2)
    with pytest.raises(ValueError, match="depth"):
        ns.nngp_ntk(X, depth=0)
    with pytest.raises(ValueError, match="same input dimension"):
        ns.nngp_ntk(X, np.ones((2, 3)), depth=1)
    with pytest.raises(ValueError, match="sigma_w2"):
        ns.nngp_ntk(X, depth=1, sigma_w2=-1.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        ns.nngp_ntk(X, depth=1, sigma_b2=-1.0)
    with pytest.raises(ValueError, match="unknown activation"):
        ns.nngp_ntk(X, depth=1, act="nope")


def _empirical_error(act, width, seeds, X, depth, sw, sb):
    # one description for the theory and the sampled networks (depth = weight layers)
    net0 = ns.Network(act, sw, sb, depth, widths=[X.shape[1]] + [width] * (depth - 1) + [1])
    K, T = ns.nngp_ntk(net0, X)
    eK, eT = [], []
    for s in range(seeds):
        net = net0.sample(rng=s)
        assert net.depth == net0.depth
        eK.append(np.max(np.abs(net.empirical_nngp(X) - K)) / np.max(np.abs(K)))
        eT.append(np.max(np.abs(net.empirical_ntk(X) - T)) / np.max(np.abs(T)))
    return float(np.mean(eK)), float(np.mean(eT))


@pytest.mark.parametrize("act", ["relu", "erf", "tanh"])
def test_empirical_kernels_converge_to_infinite_width(act):
    X = _inputs(5, 4, 8)
    errs = {w: _empirical_error(act, w, 3, X, 4, 1.8, 0.1) for w in (64, 1024)}
    for w, (ek, et) in errs.items():
        # single-network fluctuations grow like √(depth/width) (Hanin & Nica 2019); measured
        # constants 2.5–3.6 in units of √(depth/width) here, threshold 4·√(depth/width)
        assert ek < 4.0 * np.sqrt(3 / w) and et < 4.0 * np.sqrt(3 / w), (w, ek, et)
    assert errs[1024][0] < errs[64][0] and errs[1024][1] < errs[64][1]


@pytest.mark.slow
@pytest.mark.parametrize("act", ["relu", "erf", "tanh"])
def test_empirical_kernels_converge_full(act):
    X = _inputs(6, 4, 9)
    prev = None
    for w in (128, 512, 2048):
        ek, et = _empirical_error(act, w, 6, X, 5, 1.8, 0.1)
        assert ek < 4.0 * np.sqrt(4 / w) and et < 4.0 * np.sqrt(4 / w)
        if prev:
            assert ek < prev[0] and et < prev[1]
        prev = (ek, et)


# ----------------------------------------------------------------------------- the compiled fast paths
def test_compiled_arcsine_and_arccosine_within_two_ulp_of_libm():
    from nn_spectra import kernels as kk

    near = np.geomspace(1e-16, 0.5, 2000)
    x = np.concatenate([np.linspace(-1, 1, 20001), 1 - near, -1 + near, 0.5 + near[:100], -0.5 - near[:100]])
    out = np.empty((2, x.size))
    kk._acos_asin(x, out)
    for got, ref in ((out[0], np.arccos(x)), (out[1], np.arcsin(x))):
        assert np.max(np.abs(got - ref) / np.spacing(np.maximum(np.abs(ref), 1e-300))) <= 2.0


@pytest.mark.parametrize("act", ["tanh", "gelu", "sigmoid"])
def test_matrix_hermite_coefficients_agree_with_the_graded_quadrature(act):
    from nn_spectra import kernels as kk

    a = ns.activation(act)
    q = np.array([0.05, 0.7, 2.3, 9.5])
    fast = kk._hermite_coefficients(a, q, 201)
    ref = gi.hermite_coefficients(a, q, order=201)
    assert np.max(np.abs(fast - ref)) < 1e-13


@pytest.mark.parametrize("act,sw,sb", [("relu", 1.8, 0.1), ("erf", 2.5, 0.05), ("leaky_relu", 1.3, 0.2),
                                       ("linear", 0.9, 0.3), ("relu", 2.0, 0.0)])
def test_fused_closed_recursion_equals_the_layer_by_layer_one(act, sw, sb):
    # the fused per-pair path (used without return_layers) against the whole-matrix path
    X = _inputs(7, 4, 11)
    X[3] = 0.0  # a zero input: with σ_b = 0 its variance is 0 (the den = 0 branches)
    for X2 in (None, _inputs(3, 4, 12)):
        K, T = ns.nngp_ntk(X, X2, depth=8, act=act, sigma_w2=sw, sigma_b2=sb)
        Kl, Tl, _ = ns.nngp_ntk(X, X2, depth=8, act=act, sigma_w2=sw, sigma_b2=sb, return_layers=True)
        assert np.max(np.abs(K - Kl)) <= 1e-13 * np.max(np.abs(Kl))
        assert np.max(np.abs(T - Tl)) <= 1e-13 * np.max(np.abs(Tl))
