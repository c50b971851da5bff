"""One Network description: every theory function and the sampled MLP agree on depth and widths.

The checks are structural and exact (layer counts, matrix sizes, parameter counts, the same numbers
from the functional and the object forms), so they fail on any off-by-one in the meaning of depth."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import nn_spectra as ns


L, WIDTH, N0 = 4, 24, 10


@pytest.fixture(scope="module")
def net():
    return ns.Network("tanh", 1.3, 0.05, depth=L, weights="orthogonal", widths=(N0,) + (WIDTH,) * (L - 1) + (1,))


def test_description_is_frozen_hashable_and_documented(net):
    with pytest.raises(Exception):
        net.depth = 3
    assert hash(net) == hash(ns.Network("tanh", 1.3, 0.05, L, "orthogonal", net.widths))
    assert pickle.loads(pickle.dumps(net)) == net
    assert net.hidden_layers == L - 1 and net.width == WIDTH
    assert "number of weight layers" in ns.Network.__doc__
    assert net.replace(depth=2, widths=None).depth == 2
    with pytest.warns(DeprecationWarning, match="init"):
        assert net.replace(init="gaussian").weights == "gaussian"


def test_sampled_network_matches_the_description(net):
    mlp = net.sample(rng=0)
    assert mlp.depth == net.depth == len(mlp.weights)
    assert mlp.widths == list(net.widths) and mlp.network == net
    assert [w.shape for w in mlp.weights] == [(b, a) for a, b in zip(net.widths[:-1], net.widths[1:])]
    assert mlp.hidden_layers == net.hidden_layers
    W = mlp.weights[1]
    np.testing.assert_allclose(W @ W.T, net.sigma_w2 * np.eye(WIDTH), atol=1e-12)   # orthogonal law
    # the functional form describes the same network
    mlp2 = ns.MLP(list(net.widths), "tanh", 1.3, 0.05, weights="orthogonal", rng=0)
    assert mlp2.network == net
    np.testing.assert_array_equal(mlp2.weights[2], mlp.weights[2])


def test_kernels_count_the_same_layers(net):
    X = np.random.default_rng(1).standard_normal((3, N0))
    K, T, layers = ns.nngp_ntk(net, X, return_layers=True)
    assert len(layers["nngp"]) == net.depth and len(layers["nngp_dot"]) == net.hidden_layers
    K2, T2 = ns.nngp_ntk(X, depth=L, act="tanh", sigma_w2=1.3, sigma_b2=0.05)
    K3, T3 = net.nngp_ntk(X)
    np.testing.assert_array_equal(K, K2)
    np.testing.assert_array_equal(T3, T2)


def test_jacobian_theory_and_sampler_agree(net):
    law = ns.jacobian_law(net)
    assert law.depth == net.depth and law.layers == net.hidden_layers
    assert repr(law).endswith(f"depth={net.depth}, weights='orthogonal')")
    assert law.moments(2).tolist() == ns.jacobian_law("tanh", 1.3, 0.05, L, weights="orthogonal",
                                                      widths=net.widths).moments(2).tolist()
    assert net.jacobian_variance() == ns.jacobian_variance("tanh", 1.3, 0.05, L, weights="orthogonal")
    ev = net.sample_jacobian_spectrum(rng=0)
    # J = D^K W^K ... D^1 W^1 maps n_0 to n_K: JJ^T is n_K x n_K
    assert ev.shape == (net.widths[net.hidden_layers],)
    with pytest.raises(ValueError, match="depth"):
        ns.jacobian_law("tanh", 1.3, 0.05, 1)          # one weight layer = the readout: no J


def test_fisher_theory_and_sampler_agree(net):
    g = net.replace(weights="gaussian")
    s = g.fim_statistics(n_samples=6)
    m = g.measure_fim_statistics(n_samples=6, rng=0)
    assert s.n_params == m.n_params == g.sample(rng=0).num_parameters
    s2 = ns.fim_statistics("tanh", 1.3, 0.05, L, WIDTH, 6, 1, input_dim=N0)
    assert s2.lambda_max == s.lambda_max and s2.n_params == s.n_params
    assert g.max_learning_rate(n_samples=6) == pytest.approx(2 / s.lambda_max, rel=1e-14)
    bn = g.replace(batch_norm=True)
    assert bn.max_learning_rate(n_samples=6) == pytest.approx(2 / s.lambda_max_bn, rel=1e-14)


def test_conditional_fim_theory_and_sampler_agree():
    sq = ns.Network("tanh", 1.3, 0.05, depth=3, weights="orthogonal", widths=(WIDTH,) * 4)
    law = ns.conditional_fim_law(sq)
    assert law.depth == sq.depth
    assert law.moments(2).tolist() == ns.conditional_fim_law("tanh", 1.3, 0.05, 3).moments(2).tolist()
    ev = sq.sample_conditional_fim_spectrum(rng=0)
    assert ev.shape == (WIDTH,)


def test_layerwise_families_use_the_hidden_layers(net):
    from nn_spectra.layerwise_freeness import layerwise_families

    a, b = layerwise_families(net, width=16, rng=0)
    assert a.shape == b.shape == (16, 16)
    with pytest.raises(ValueError, match="layer"):
        layerwise_families(net, width=16, layer=net.hidden_layers)


def test_mean_field_methods(net):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert net.q_star() == ns.q_star("tanh", 1.3, 0.05)
        assert net.chi1() == ns.chi1("tanh", 1.3, 0.05)
        assert net.depth_scales() == ns.depth_scales("tanh", 1.3, 0.05)


def test_conflicting_arguments_are_rejected(net):
    with pytest.raises(TypeError, match="either a Network"):
        ns.jacobian_law(net, 1.0)
    with pytest.raises(TypeError, match="either a Network"):
        ns.MLP(net, "tanh")
    with pytest.raises(ValueError, match="weights"):
        ns.MLP([3, 4, 1], "tanh", 1.0, 0.0, weights="xavier")


def test_every_result_of_one_description_pickles_and_prints_informatively():
    """Laws and result objects keep (pickle) and say what they are (no ``<object at 0x...>``)."""
    sq = ns.Network("tanh", 1.3, 0.05, depth=3, weights="orthogonal", widths=(12,) * 4)
    g = sq.replace(weights="gaussian", widths=(6, 12, 12, 1))
    ident = ns.Network("hard_tanh", 1.44, 0.0, depth=4, weights="identity")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        results = {
            "jacobian_law": ns.jacobian_law(sq),
            "conditional_fim_law": ns.conditional_fim_law(sq),
            "identity_jacobian_law": ns.identity_jacobian_law(ident, q1=0.5),
            "fim_statistics": g.fim_statistics(n_samples=4),
            "phase_diagram": ns.phase_diagram("tanh", (0.5, 3.0), (0.0, 0.2), n=4),
            "layerwise_freeness": sq.layerwise_freeness(sizes=(8, 16), trials=2, rng=0, progress=False),
            "network": sq,
            "mlp": g.sample(rng=0),
        }
    for name, obj in results.items():
        back = pickle.loads(pickle.dumps(obj))
        assert type(back) is type(obj), name
        text = repr(obj)
        assert "0x" not in text and "object at" not in text, (name, text)
    m = results["jacobian_law"].moments(2)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(results["jacobian_law"])).moments(2), m)


def test_isometry_counts_the_same_layers_as_the_jacobian_law():
    # spread² = K (μ₂/μ₁² − 1) for orthogonal weights: the normalised variance (m₂/m₁² − 1) of a
    # free product of positive elements is the sum of the factors' (K = L − 1 layers in J)
    p = ns.critical_spread("tanh", 0.05, L, "orthogonal")
    assert p.depth == L
    m = ns.jacobian_law("tanh", p.sigma_w2, 0.05, L, weights="orthogonal").moments(2)
    assert p.spread ** 2 == pytest.approx(m[1] / m[0] ** 2 - 1, rel=1e-7)
