"""The numpy MLP: shapes, initialisations (Haar moments), gradients and Jacobians against finite
differences, empirical NTK against explicit per-example gradients."""
from __future__ import annotations

import numpy as np
import pytest

import nn_spectra as ns


def _set_params(net, v):
    k = 0
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        net.weights[l] = v[k:k + w.size].reshape(w.shape)
        k += w.size
        net.biases[l] = v[k:k + b.size]
        k += b.size


def test_shapes_and_forward_lists():
    net = ns.MLP([3, 7, 5, 2], "tanh", 1.5, 0.1, rng=0)
    assert [w.shape for w in net.weights] == [(7, 3), (5, 7), (2, 5)]
    assert net.depth == 3 and net.hidden_layers == 2 and net.num_parameters == 7 * 3 + 7 + 5 * 7 + 5 + 2 * 5 + 2
    X = np.random.default_rng(1).standard_normal((4, 3))
    out, hs, xs = net.forward(X, return_all=True)
    assert out.shape == (4, 2) and len(hs) == 3 and len(xs) == 3
    assert np.allclose(xs[1], np.tanh(hs[0])) and np.allclose(out, hs[-1])
    assert net.parameters().shape == (net.num_parameters,)


@pytest.mark.parametrize("act", ["tanh", "relu", "gelu"])
def test_param_gradients_against_finite_differences(act):
    net = ns.MLP([3, 6, 4, 2], act, 1.7, 0.2, rng=2)
    X = np.random.default_rng(3).standard_normal((2, 3))
    G = net.param_gradients(X)
    theta = net.parameters()
    eps = 1e-6
    for i in np.random.default_rng(4).choice(theta.size, 12, replace=False):
        v = theta.copy()
        v[i] += eps
        _set_params(net, v)
        fp = net.forward(X)
        v[i] -= 2 * eps
        _set_params(net, v)
        fm = net.forward(X)
        _set_params(net, theta)
        assert np.max(np.abs((fp - fm) / (2 * eps) - G[:, :, i])) < 1e-6


def test_input_output_jacobian_against_finite_differences():
    net = ns.MLP([4, 8, 8, 3], "tanh", 2.0, 0.1, rng=5)
    x = np.random.default_rng(6).standard_normal(4)
    J = net.input_output_jacobian(x)
    eps = 1e-6
    num = np.stack([(net.forward(x + eps * e) - net.forward(x - eps * e))[0] / (2 * eps) for e in np.eye(4)], axis=1)
    assert J.shape == (3, 4) and np.max(np.abs(J - num)) < 1e-7


@pytest.mark.parametrize("param", ["ntk", "standard"])
def test_empirical_ntk_equals_gradient_gram(param):
    net = ns.MLP([3, 5, 5, 2], "erf", 1.3, 0.3, rng=7)
    X1 = np.random.default_rng(8).standard_normal((3, 3))
    X2 = np.random.default_rng(9).standard_normal((2, 3))
    G1, G2 = net.param_gradients(X1, param), net.param_gradients(X2, param)
    T = net.empirical_ntk(X1, X2, param)
    assert T.shape == (6, 4)
    assert np.max(np.abs(T - np.einsum("iap,jbp->iajb", G1, G2).reshape(6, 4))) < 1e-12
    one = ns.MLP([3, 5, 1], "erf", 1.3, 0.3, rng=7)
    assert one.empirical_ntk(X1).shape == (3, 3)


def test_orthogonal_init_is_haar():
    n, trials = 6, 3000
    o11 = np.empty(trials)
    for t in range(trials):
        net = ns.MLP([n, n, 1], "linear", 2.0, 0.0, weights="orthogonal", rng=t)
        W = net.weights[0]
        if t == 0:
            assert np.allclose(W @ W.T, 2.0 * np.eye(n))
        o11[t] = W[0, 0] / np.sqrt(2.0)
    # Haar: E[O11²] = 1/n, E[O11⁴] = 3/(n(n+2)); tolerances are 5 standard errors
    m2, m4 = np.mean(o11 ** 2), np.mean(o11 ** 4)
    assert abs(m2 - 1 / n) < 5 * np.std(o11 ** 2) / np.sqrt(trials)
    assert abs(m4 - 3 / (n * (n + 2))) < 5 * np.std(o11 ** 4) / np.sqrt(trials)
    wide = ns.MLP([3, 7, 2], "tanh", 1.5, 0.0, weights="orthogonal", rng=0)
    W0 = wide.weights[0]          # (7, 3): columns orthogonal, rescaled so E|Wx|²/7 = σ_w²|x|²/3
    assert np.allclose(W0.T @ W0, 1.5 * 7 / 3 * np.eye(3))
    assert np.allclose(wide.weights[1] @ wide.weights[1].T, 1.5 * np.eye(2))


def test_identity_init_and_gaussian_variance():
    net = ns.MLP([5, 5, 5], "relu", 1.0, 0.0, weights="identity", rng=0)
    x = np.abs(np.random.default_rng(0).standard_normal((1, 5)))
    assert np.allclose(net.forward(x), x)   # identity weights, zero biases, relu of positives
    g = ns.MLP([400, 300, 1], "tanh", 2.0, 0.5, rng=1)
    assert abs(np.var(g.weights[0]) * 400 / 2.0 - 1) < 0.02
    assert abs(np.var(g.biases[0]) / 0.5 - 1) < 0.25


def test_bad_input():
    with pytest.raises(ValueError, match="widths"):
        ns.MLP([3], "tanh", 1.0, 0.0)
    with pytest.raises(ValueError, match="sigma_w2"):
        ns.MLP([3, 2], "tanh", 0.0, 0.0)
    with pytest.raises(ValueError, match="weights"):
        ns.MLP([3, 2], "tanh", 1.0, 0.0, weights="xavier")
    with pytest.warns(DeprecationWarning, match="init"):
        old = ns.MLP([3, 2], "tanh", 1.0, 0.0, init="orthogonal", rng=0)
    assert old.network.weights == "orthogonal"
    with pytest.raises(ValueError, match=r"widths\[1\]"):
        ns.MLP([3, 2.7, 1], "tanh", 1.0, 0.0)          # was silently truncated to 2
    net = ns.MLP([3, 2], "tanh", 1.0, 0.0, rng=0)
    with pytest.raises(ValueError, match=r"shape \(batch, 3\)"):
        net.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="parameterization"):
        net.param_gradients(np.ones((1, 3)), "mup")


def test_readout_none_gradients_against_finite_differences():
    # readout="none": f = φ(h_L); the backward pass multiplies by φ'(h_L) at the output
    net = ns.MLP([3, 5, 2], "tanh", 1.4, 0.2, rng=11, readout="none")
    assert net.depth == 2 and net.hidden_layers == 2
    X = np.random.default_rng(12).standard_normal((2, 3))
    out, hs, _ = net.forward(X, return_all=True)
    assert np.allclose(out, np.tanh(hs[-1]))
    G = net.param_gradients(X)
    theta = net.parameters()
    eps = 1e-6
    for i in range(0, theta.size, 3):
        v = theta.copy()
        v[i] += eps
        _set_params(net, v)
        fp = net.forward(X)
        v[i] -= 2 * eps
        _set_params(net, v)
        fm = net.forward(X)
        _set_params(net, theta)
        assert np.max(np.abs((fp - fm) / (2 * eps) - G[:, :, i])) < 1e-6
