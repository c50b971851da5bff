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


def test_cnn_theory_and_sampler_agree(net):
    """The same description, read as a CNN (widths count channels): the sampled CNN, its Jacobian law
    and its kernels count the depth L the MLP, jacobian_law and nngp_ntk count."""
    sq = net.replace(widths=(WIDTH,) * L + (1,))             # delta-orthogonal kernels need C_0 = C
    cnn = ns.CNN.from_network(sq, (5,), 3, rng=0)
    mlp = sq.sample(rng=0)
    assert cnn.depth == mlp.depth == sq.depth and cnn.network == mlp.network == sq
    assert len(cnn.kernels) == sq.hidden_layers == len(mlp.weights) - 1     # convolutions = hidden layers
    assert [K.shape[-2:] for K in cnn.kernels] == [w.shape for w in mlp.weights[:-1]]   # (C_out, C_in)
    law = ns.cnn_jacobian_law(sq, spatial_shape=(5,))
    assert law.depth == sq.depth and law.layers == len(cnn.kernels) == ns.jacobian_law(sq).layers
    np.testing.assert_array_equal(law.moments(2), ns.jacobian_law(sq).moments(2))
    assert cnn.input_output_jacobian(np.ones((1, 5, WIDTH))).shape == (5 * WIDTH, 5 * WIDTH)
    # Gaussian kernels: on 1x1 images with k = 1 the CNN kernels are those of the MLP of this description
    g = net.replace(weights="gaussian")
    X = np.random.default_rng(2).standard_normal((3, 1, 1, N0))
    K, T = ns.cnn_nngp_ntk(g, X, kernel_size=1)
    Kf, Tf = ns.nngp_ntk(g, X[:, 0, 0])
    np.testing.assert_allclose(K, Kf, rtol=1e-12)
    np.testing.assert_allclose(T, Tf, rtol=1e-12)
    # and the sampled Gaussian CNN has L - 1 kernels and a readout over C channels
    gc = ns.CNN.from_network(g, (1,), 1, rng=0)
    assert gc.depth == g.depth and len(gc.kernels) == g.hidden_layers and gc.w_out.size == WIDTH


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


# ----------------------------------------------------------------------------- one word for the weight law
def _renamed_entry_points():
    """``(name, call(**law_kw) -> weight law used, old keyword, old value, its law)`` for every public
    function or class of nn_spectra whose weight-law keyword was renamed to ``weights=``."""
    from nn_spectra.fisher import fim_top_cluster
    from nn_spectra.learning_rate import sgd_boundary_study, sgd_learning_rate_experiment
    from nn_spectra.matrix_free import network_memory_bytes

    X = np.sqrt(8) * np.eye(3, 8)
    # the SGD experiments are stopped right after reading the weight law by an invalid sigma_w2 (a
    # ValueError naming sigma_w2, not weights, shows the law was accepted)

    def sgd(fn):
        def call(**kw):
            try:
                fn("breast_cancer", depths=(2,), width=4, n_samples=10, sigma_w2=-1.0, progress=False, **kw)
            except ValueError as e:
                if "sigma_w2" in str(e):
                    return None
                raise
            raise AssertionError("sigma_w2=-1 was accepted")
        return call

    def top_cluster(**kw):
        return fim_top_cluster(X, "relu", 2.0, 0.0, depth=2, width=6, n_outputs=2, n_draws=2, rng=0, **kw)

    return [
        ("MLP", lambda **kw: ns.MLP([3, 4, 1], "tanh", 1.0, 0.0, rng=0, **kw).network.weights,
         "init", "orthogonal", "orthogonal"),
        ("CNN", lambda **kw: ns.CNN((4,), 3, 3, 2, 3, "tanh", 1.0, 0.0, rng=0, **kw).weight_law,
         "init", "delta_orthogonal", "orthogonal"),
        ("cnn_jacobian_law", lambda **kw: ns.cnn_jacobian_law("tanh", 1.0, 0.01, 3, **kw).weights,
         "kernel", "gaussian", "gaussian"),
        ("network_memory_bytes", lambda **kw: network_memory_bytes([3, 4, 1], **kw),
         "init", "orthogonal", network_memory_bytes([3, 4, 1], "orthogonal")),
        ("measure_fim_statistics",
         lambda **kw: ns.measure_fim_statistics("tanh", 1.0, 0.0, 2, 4, 3, 1, rng=0, **kw).n_params,
         "init", "orthogonal", ns.MLP([4, 4, 1], "tanh", 1.0, 0.0).num_parameters),
        ("fim_top_cluster", top_cluster, "init", "orthogonal", None),
        ("sgd_learning_rate_experiment", sgd(sgd_learning_rate_experiment), "init", "gaussian", None),
        ("sgd_boundary_study", sgd(sgd_boundary_study), "init", "gaussian", None),
        ("Network.replace", lambda **kw: ns.Network("tanh", 1.0, 0.0, 2).replace(**kw).weights,
         "init", "orthogonal", "orthogonal"),
    ]


@pytest.mark.parametrize("case", _renamed_entry_points(), ids=lambda c: c[0])
def test_every_entry_point_takes_weights_warns_on_the_old_name_and_refuses_both(case):
    name, call, old, old_value, law = case
    new_value = law if isinstance(law, str) else ("gaussian" if old_value == "gaussian" else "orthogonal")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)          # the new name never warns
        got_new = call(weights=new_value)
    with pytest.warns(DeprecationWarning, match=rf"{old}= is deprecated.*weights=") as rec:
        got_old = call(**{old: old_value})
    # the warning points at the caller's line (this file), not inside nn_spectra
    assert any(r.filename == __file__ for r in rec if issubclass(r.category, DeprecationWarning)), \
        [r.filename for r in rec]
    if law is not None and not callable(law):
        assert got_new == law and got_old == law, (got_new, got_old)
    if isinstance(got_new, ns.fisher.TopCluster):
        np.testing.assert_array_equal(got_new.draws, got_old.draws)   # same law, same seed, same draws
    with pytest.raises(ValueError, match=rf"weights=.*{old}="):
        call(**{"weights": new_value, old: old_value})
    with pytest.raises(ValueError, match="weights"):
        call(weights="xavier")


def test_cnn_weight_law_in_the_old_vocabulary_and_the_nngp():
    # a positional "delta_orthogonal" (the old ninth argument of CNN, fifth of cnn_jacobian_law) still
    # means delta-orthogonal kernels, with the warning; CNN.init is a deprecated read of the old word
    with pytest.warns(DeprecationWarning, match="weights"):
        cnn = ns.CNN((4,), 3, 3, 2, 3, "tanh", 1.0, 0.0, "delta_orthogonal", rng=0)
    assert cnn.weight_law == "orthogonal" and cnn.network.weights == "orthogonal"
    np.testing.assert_allclose(cnn.kernels[0][1] @ cnn.kernels[0][1].T, np.eye(3), atol=1e-12)
    assert not np.any(cnn.kernels[0][[0, 2]])                       # delta: only the centre tap
    with pytest.warns(DeprecationWarning, match="CNN.weight_law"):
        assert cnn.init == "delta_orthogonal"
    assert "weights='orthogonal'" in repr(cnn)
    with pytest.warns(DeprecationWarning, match="kernel= is deprecated"):
        assert ns.cnn_jacobian_law("tanh", 1.0, 0.01, 3, "delta_orthogonal").weights == "orthogonal"
    X = np.random.default_rng(0).standard_normal((2, 4, 3))
    K, T = ns.cnn_nngp_ntk(X, depth=2, weights="gaussian")
    np.testing.assert_array_equal(K, ns.cnn_nngp_ntk(X, depth=2)[0])
    with pytest.raises(ValueError, match="weights must be one of 'gaussian'"):
        ns.cnn_nngp_ntk(X, depth=2, weights="orthogonal")


def test_no_public_signature_keeps_an_old_weight_law_keyword_alone():
    """Every public callable of nn_spectra and randmat that has ``init``/``kernel`` as a parameter also
    has ``weights`` (the old name survives only as the deprecated alias)."""
    import inspect

    import randmat

    bad = []
    for pkg in (ns, randmat):
        for name in getattr(pkg, "__all__", dir(pkg)):
            obj = getattr(pkg, name, None)
            if obj is None:
                continue
            targets = [obj.__init__] if inspect.isclass(obj) else [obj] if callable(obj) else []
            if inspect.isclass(obj):
                targets += [v for k, v in vars(obj).items() if callable(v) and not k.startswith("_")]
            for f in targets:
                try:
                    params = inspect.signature(f).parameters
                except (TypeError, ValueError):
                    continue
                if ({"init", "kernel"} & set(params)) and "weights" not in params:
                    bad.append(f"{pkg.__name__}.{name}")
    assert not bad, bad
