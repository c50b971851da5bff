"""Stochastic Lanczos quadrature against exact moments, dense eigendecompositions and closed-form laws.

Tolerances: moments within ``Z`` probe standard errors (plus, against an infinite-N law, a finite-N term
``2 p^2 / N`` stated in advance); distribution functions within the estimate's own stated resolution
(Chebyshev-Markov-Stieltjes quadrature bound + ``Z`` probe standard errors).
"""
from __future__ import annotations

from math import comb

import numpy as np
import pytest

import freeprob as fp
from nn_spectra.lanczos import lanczos_memory_bytes, stochastic_lanczos_quadrature
from nn_spectra.matrix_free import JacobianGram, slq_jacobian_spectrum
from nn_spectra.mlp import MLP

Z = 4.0  # two-sided normal tail 6e-5 per moment


def test_diagonal_matrix_moments_are_exact():
    # Rademacher probes have v_i^2 = 1/N, so v^T A^p v = tr(A^p)/N exactly for a diagonal A
    lam = np.linspace(0.5, 3.0, 60)
    est = stochastic_lanczos_quadrature(np.diag(lam), 60, steps=10, probes=3, rng=1)
    m, se = est.moments(19)
    np.testing.assert_allclose(m, [np.mean(lam ** p) for p in range(1, 20)], rtol=1e-9)
    np.testing.assert_allclose(est.weights.sum(axis=1), 1.0)


def test_full_krylov_space_recovers_the_spectrum():
    # k = N steps: the Gauss quadrature of each probe is supported on the exact eigenvalues
    rng = np.random.default_rng(3)
    G = rng.standard_normal((40, 40))
    A = G @ G.T / 40
    ev = np.linalg.eigvalsh(A)
    est = stochastic_lanczos_quadrature(A, 40, steps=40, probes=2, rng=4)
    big = est.weights > 1e-8
    assert np.all(np.min(np.abs(est.nodes[big][:, None] - ev[None, :]), axis=1) < 1e-8)


def _network_and_dense_spectrum(width, depth, act, sw2, sb2, seed, weights="gaussian"):
    gen = np.random.default_rng(seed)
    net = MLP([width] * (depth + 1) + [1], act, sw2, sb2, weights=weights, rng=gen)
    x = gen.standard_normal(width)
    _, hs, _ = net.forward(x, return_all=True)
    J = np.eye(width)
    for l in range(depth):  # dense J = D_L W_L ... D_1 W_1, built from the weights directly
        J = net.act.dphi(hs[l][0])[:, None] * (net.weights[l] @ J)
    return net, x, np.linalg.eigvalsh(J.T @ J)


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_slq_matches_dense_eigendecomposition_at_width_500(weights):
    width, depth = 500, 3
    net, x, ev = _network_and_dense_spectrum(width, depth, "tanh", 1.05, 1e-4, seed=11, weights=weights)
    est = stochastic_lanczos_quadrature(JacobianGram(net, x, layer=depth), width, steps=30, probes=30, rng=12)
    exact = [np.mean(ev ** p) for p in range(1, 7)]
    z = est.moment_zscores(exact)
    assert np.all(np.abs(z) < Z), z
    ks = est.ks_distance(fp.empirical(ev), z=Z)
    assert ks.distance <= ks.resolution, ks
    if weights == "orthogonal":
        # near dynamical isometry the spectrum has no edge singularity: 30 steps resolve F to ~10 %;
        # Gaussian products pile eigenvalues at 0 (density ~ x^(-3/4)), which no 30-node quadrature resolves
        assert ks.resolution < 0.15, ks


def _wishart_check(N, steps, probes, seed):
    # W = X X^T / M, X of size N x M with N/M = 1/2: Marchenko-Pastur(ratio 1/2); matrix-free products
    M = 2 * N
    X = np.random.default_rng(seed).standard_normal((N, M))
    op = lambda V: ((V @ X) @ X.T) / M  # noqa: E731
    est = stochastic_lanczos_quadrature(op, N, steps=steps, probes=probes, rng=seed + 1)
    law = fp.marchenko_pastur(ratio=0.5)
    m, se = est.moments(4)
    tol = Z * se + 2 * np.arange(1, 5) ** 2 / N
    assert np.all(np.abs(m - law.moments(4)) < tol), (m, law.moments(4), tol)
    ks = est.ks_distance(law, z=Z)
    assert ks.distance <= ks.resolution + 1.0 / np.sqrt(N), ks
    return ks


def test_slq_marchenko_pastur_reduced_width():
    _wishart_check(1500, steps=40, probes=10, seed=5)


@pytest.mark.slow
def test_slq_marchenko_pastur_width_10000():
    ks = _wishart_check(10_000, steps=80, probes=10, seed=6)
    assert ks.resolution < 0.06


def _fuss_catalan_check(width, steps, probes, seed):
    # linear Gaussian network of depth L = 3 (K = 2 layers in J): J^T J ~ Fuss-Catalan(2), m_p = binom(3p, p) / (2p + 1)
    est = slq_jacobian_spectrum("linear", 1.0, 0.0, depth=3, width=width, steps=steps, probes=probes, rng=seed)
    exact = np.array([comb(3 * p, p) / (2 * p + 1) for p in range(1, 5)])
    m, se = est.moments(4)
    assert np.all(np.abs(m - exact) < Z * se + 2 * np.arange(1, 5) ** 2 * exact / width), (m, exact, se)
    ks = est.ks_distance(fp.fuss_catalan(2), z=Z)
    assert ks.distance <= ks.resolution + 1.0 / np.sqrt(width), ks


def test_slq_fuss_catalan_reduced_width():
    _fuss_catalan_check(800, steps=40, probes=8, seed=7)


@pytest.mark.slow
def test_slq_fuss_catalan_width_10000():
    _fuss_catalan_check(10_000, steps=80, probes=10, seed=8)


# ----------------------------------------------------------------------------- bad input
def _never_called(V):
    raise AssertionError("the operator must not be applied when the input is rejected")


@pytest.mark.parametrize("kw, match", [
    (dict(probes=0), "probes"),
    (dict(probes=-2), "probes"),
    (dict(steps=11), "steps"),
    (dict(steps=0), "steps"),
    (dict(block=0), "block"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        stochastic_lanczos_quadrature(_never_called, 10, **{"steps": 5, "probes": 2, **kw})


def test_memory_is_checked_before_allocating():
    need = lanczos_memory_bytes(10**6, 100, 10)
    assert need == 8 * 10 * 10**6 * 105
    with pytest.raises(ValueError, match="GiB"):
        stochastic_lanczos_quadrature(_never_called, 10**6, steps=100, probes=10, memory_limit=need - 1)


def test_network_too_wide_for_memory_is_rejected_before_building():
    # width 100,000, depth 10: 10 * 8e10 bytes of weights, far beyond any memory limit given here
    with pytest.raises(ValueError, match="width-100000"):
        slq_jacobian_spectrum("relu", 2.0, 0.0, depth=10, width=100_000, memory_limit=2**34)


def test_moments_beyond_exact_order_rejected():
    est = stochastic_lanczos_quadrature(np.diag(np.arange(1.0, 11.0)), 10, steps=3, probes=2, rng=0)
    with pytest.raises(ValueError, match="2\\*steps-1"):
        est.moments(6)
