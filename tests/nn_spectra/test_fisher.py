"""Karakida statistics against closed forms, the exact FIM/NTK duality and real networks."""
from __future__ import annotations

import numpy as np
import pytest

from nn_spectra.fisher import fim_statistics, measure_fim_statistics, order_parameters
from nn_spectra.mlp import MLP


def test_relu_order_parameters_closed_form():
    # relu at sigma_w2 = 2, sigma_b2 = 0: q^l = 2 q^_1^{l-1}, q^_1 = q/2 -> q^_1^l = q_input;
    # E[relu'^2] = 1/2 -> q~_1^l = 1 for every layer; q^_2 from the arc-cosine kernel
    op = order_parameters("relu", 2.0, 0.0, depth=4, q_input=1.3, c_input=0.0)
    np.testing.assert_allclose(op["qhat1"], 1.3, rtol=1e-9)
    np.testing.assert_allclose(op["qtilde1"], 1.0, rtol=1e-9)
    # layer 1 from orthogonal inputs: E[relu(u)relu(v)] at c = 0 is q/(2 pi)
    assert op["qhat2"][1] == pytest.approx(2.0 * 1.3 / (2 * np.pi), rel=1e-8)
    # q~_2 at the top layer is 1 and E[1_u 1_v] at c=0 is 1/4 -> sigma_w^2/4 = 1/2
    assert op["qtilde2"][-1] == 1.0
    # q~_2^{L-1} = sigma_w^2 E[1_{u>0} 1_{v>0}] = 2 (pi - theta)/(2 pi), cos theta = q_12/q at layer L-1
    q = 2.0 * 1.3
    q12 = 2.0 * op["qhat2"][-2]
    theta = np.arccos(q12 / q)
    assert op["qtilde2"][-2] == pytest.approx(2.0 * (np.pi - theta) / (2 * np.pi), rel=1e-8)


def test_kappa_formulas_consistent():
    s = fim_statistics("tanh", 1.5, 0.1, depth=3, width=400, n_samples=10, n_outputs=2, c_input=0.3)
    # lambda_max ~ alpha M ((T-1) kappa2 + kappa1)/T up to the O(1/M) bias terms, alpha = L - 1
    approx = 2 * 400 * (9 * s.kappa2 + s.kappa1) / 10
    assert s.lambda_max == pytest.approx(approx, rel=0.02)
    assert s.mean == pytest.approx(2 * s.kappa1 / 400, rel=0.02)
    assert s.multiplicity == 2


def test_duality_with_the_full_fim():
    # exact identity on a small network: nonzero eigenvalues of F = (1/T) G^T G equal those of Theta/T
    net = MLP([6, 9, 9, 2], "tanh", 1.3, 0.1, rng=0)
    X = np.random.default_rng(1).standard_normal((5, 6))
    G = net.param_gradients(X).reshape(-1, net.num_parameters)
    F = G.T @ G / 5
    ev_f = np.sort(np.linalg.eigvalsh(F))[-10:]
    ev_d = np.sort(np.linalg.eigvalsh(net.empirical_ntk(X, parameterization="standard") / 5))
    np.testing.assert_allclose(ev_f, ev_d, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("act,sw2,sb2,c", [("relu", 2.0, 0.0, 0.0), ("tanh", 1.5, 0.3, 0.0), ("erf", 1.2, 0.2, 0.0)])
def test_real_networks_within_a_few_percent(act, sw2, sb2, c):
    M, T, C = 800, 16, 2
    pred = fim_statistics(act, sw2, sb2, 3, M, T, C, c_input=c)
    meas = [measure_fim_statistics(act, sw2, sb2, 3, M, T, C, c_input=c, rng=s) for s in range(3)]
    mean = np.mean([m.mean for m in meas])
    second = np.mean([m.second_moment for m in meas])
    lmax = np.mean([m.lambda_max for m in meas])
    # tolerances: a few percent at M = 800 (input overlaps fluctuate by O(1/sqrt(M)))
    assert mean == pytest.approx(pred.mean, rel=0.03)
    assert second == pytest.approx(pred.second_moment, rel=0.08)
    assert lmax == pytest.approx(pred.lambda_max, rel=0.06)
    assert all(m.multiplicity == C for m in meas)


@pytest.mark.parametrize("M", [200, 800])
def test_batch_norm_removes_the_kappa2_mode(M):
    pred = fim_statistics("relu", 2.0, 0.0, 3, M, 16, 1)
    meas = measure_fim_statistics("relu", 2.0, 0.0, 3, M, 16, 1, rng=0)
    assert meas.lambda_max_bn < 0.35 * meas.lambda_max
    # leading order (A - B)/T; the remainder is an O(sqrt(M)) fluctuation of the centred Gram
    assert abs(meas.lambda_max_bn - pred.lambda_max_bn) <= 3 / np.sqrt(M) * pred.lambda_max


def test_bad_input():
    with pytest.raises(ValueError, match="depth"):
        fim_statistics("relu", 2.0, 0.0, 0, 10, 5)
    with pytest.raises(ValueError, match="n_samples"):
        fim_statistics("relu", 2.0, 0.0, 2, 10, 0)
    with pytest.raises(ValueError, match="c_input"):
        fim_statistics("relu", 2.0, 0.0, 2, 10, 5, c_input=1.5)
    with pytest.raises(ValueError, match="diverges"):
        fim_statistics("relu", 1e80, 0.0, 40, 10, 5)


# ----------------------------------------------------------------------- finite width on data
from nn_spectra.data import load_dataset  # noqa: E402
from nn_spectra.fisher import fim_batchnorm_surrogate, fim_inputs, fim_top_cluster  # noqa: E402


def test_top_cluster_split_one_hidden_layer():
    # depth 2 (one hidden layer): the cluster model K = rI + W diag(s) W^T is exact in distribution up
    # to the infinite-width law of the hidden pre-activations; the measured maximum over 4 networks
    # must lie within z = 3 of the model's own spread, and so must the top-C mean (the model's
    # network-to-network sd of the top-C mean, ~1.7 % here; 2 % is the criterion at width 2000, slow test)
    X = fim_inputs(16, 400, 1.0, 0.5, rng=3)
    tc = fim_top_cluster(X, "tanh", 1.5, 0.1, 2, 400, 10, n_draws=300, rng=1)
    meas = [measure_fim_statistics("tanh", 1.5, 0.1, 2, 400, 16, 10, input_dim=400, inputs=X, rng=s)
            for s in range(4)]
    mx = np.mean([m.lambda_max for m in meas])
    assert abs(mx - tc.max_mean) <= 3 * tc.max_std * np.sqrt(1 / 4 + 1 / 300)
    sd_mean = float(tc.draws.mean(axis=1).std(ddof=1))
    assert abs(np.mean([m.top_mean for m in meas]) - tc.lambda_inf) <= 3 * sd_mean / np.sqrt(4)
    assert tc.max_mean > 1.03 * tc.lambda_inf        # the maximum is biased up, the mean is not
    assert tc.top_mean == pytest.approx(tc.lambda_inf, rel=0.01)


@pytest.mark.parametrize("M", [200, 400, 800])
def test_batch_norm_surrogate_three_widths(M):
    # tolerance stated in advance: the surrogate's lambda_max with batch norm within 10 % of the mean
    # over 3 real tanh networks on 48 digits (network-to-network spread ~5-8 %)
    d = load_dataset("digits", 48, rng=0)
    sur = fim_batchnorm_surrogate(d.X, "tanh", 1.5, 0.1, 3, M, 1, n_draws=3, rng=2)
    meas = [measure_fim_statistics("tanh", 1.5, 0.1, 3, M, 48, 1, input_dim=64, inputs=d.X, rng=s).lambda_max_bn
            for s in range(3)]
    assert np.mean(meas) == pytest.approx(sur["lambda_bn"], rel=0.10)


@pytest.mark.slow
@pytest.mark.parametrize("act,sw2,sb2", [("relu", 2.0, 0.0), ("tanh", 1.5, 0.1)])
@pytest.mark.parametrize("M", [250, 500, 1000])
def test_batch_norm_surrogate_three_widths_full(act, sw2, sb2, M):
    d = load_dataset("digits", 64, rng=0)
    sur = fim_batchnorm_surrogate(d.X, act, sw2, sb2, 3, M, 1, n_draws=6, rng=2)
    meas = [measure_fim_statistics(act, sw2, sb2, 3, M, 64, 1, input_dim=64, inputs=d.X, rng=s).lambda_max_bn
            for s in range(6)]
    assert np.mean(meas) == pytest.approx(sur["lambda_bn"], rel=0.10)
