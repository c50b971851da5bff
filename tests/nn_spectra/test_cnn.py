"""Convolutional networks: kernels, mean-field modes, Jacobian spectra, the numpy CNN.

``depth`` is L, the number of weight layers including the readout (L - 1 convolutions), as for every
network in nn_spectra: every comparison below uses the SAME depth on both sides.

Independent truths: the fully-connected kernels (k = 1 reduces exactly), a direct loop convolution,
real wide CNNs (Monte Carlo, z = 4 standard errors), the fully-connected Jacobian laws (KS against real
CNN spectra), chi1^(L-1) for the Jacobian mean, linearisation of the iterated covariance map, and
neural-tangents (peer, optional; a depth-L stax network is L - 1 Conv + activation blocks and the readout).
"""
import numpy as np
import pytest

import nn_spectra as ns
import randmat as rm


# ----------------------------------------------------------------------------- k = 1 is fully connected
@pytest.mark.parametrize("readout", ["gap", "flatten"])
def test_one_by_one_images_with_k1_are_fully_connected(readout):
    X = np.random.default_rng(0).standard_normal((4, 1, 1, 5))
    # the same depth L on both sides, including L = 1 (the readout of the input) and L = 2
    for L in (1, 2, 4):
        K, T = ns.cnn_nngp_ntk(X, depth=L, act="tanh", sigma_w2=1.7, sigma_b2=0.2, kernel_size=1, readout=readout)
        Kf, Tf = ns.nngp_ntk(X[:, 0, 0], X[:, 0, 0], L, "tanh", 1.7, 0.2)
        assert np.allclose(K, Kf, rtol=1e-12, atol=1e-13) and np.allclose(T, Tf, rtol=1e-12, atol=1e-13)


def test_k1_flatten_is_the_mean_of_fully_connected_kernels_per_position():
    X = np.random.default_rng(1).standard_normal((3, 5, 2))
    K, T = ns.cnn_nngp_ntk(X, depth=3, act="relu", sigma_w2=2.0, sigma_b2=0.1, kernel_size=1, readout="flatten")
    per = [ns.nngp_ntk(X[:, p], X[:, p], 3, "relu", 2.0, 0.1) for p in range(5)]
    # nngp_ntk's relu diagonal carries a ~3e-8 rounding error (its normalised recursion), hence 1e-7 here
    assert np.allclose(K, np.mean([k for k, _ in per], axis=0), rtol=1e-7)
    assert np.allclose(T, np.mean([t for _, t in per], axis=0), rtol=1e-7)
    # the diagonal exactly: relu at correlation 1 halves the variance, Theta' = Theta sigma_w^2/2 + Sigma';
    # depth 3: Sigma^1 of the input, then the second convolution and the readout
    for i in range(3):
        tt = []
        for p in range(5):
            sg = 2.0 * X[i, p] @ X[i, p] / 2 + 0.1
            th = sg
            for _ in range(3 - 1):
                sg = 2.0 * sg / 2 + 0.1
                th = th * 2.0 / 2 + sg
            tt.append(th)
        assert T[i, i] == pytest.approx(np.mean(tt), rel=1e-13)


def test_k1_cnn_is_an_mlp_applied_at_each_position():
    cnn = ns.CNN((3,), 4, 6, 3, 1, "tanh", 1.5, 0.1, rng=0)      # depth 3: two convolutions + readout
    assert len(cnn.kernels) == 2
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    _, hs, _ = cnn.forward(x, return_all=True)
    W0, W1 = cnn.kernels[0][0], cnn.kernels[1][0]
    h1 = x @ W0.T + cnn.biases[0]
    h2 = np.tanh(h1) @ W1.T + cnn.biases[1]
    assert np.allclose(hs[0], h1, atol=1e-12) and np.allclose(hs[1], h2, atol=1e-12)


def test_fft_convolution_equals_a_direct_loop():
    cnn = ns.CNN((5, 4), 3, 2, 2, 3, "relu", 2.0, 0.0, rng=2)    # depth 2: one convolution + readout
    x = np.random.default_rng(3).standard_normal((1, 5, 4, 3))
    K = cnn.kernels[0]
    out = np.zeros((5, 4, 2))
    for i in range(5):
        for j in range(4):
            for b1 in range(3):
                for b2 in range(3):
                    out[i, j] += K[b1, b2] @ x[0, (i + b1 - 1) % 5, (j + b2 - 1) % 4]
    assert np.allclose(cnn.conv(0, x)[0], out, atol=1e-12)
    # the adjoint
    g = np.random.default_rng(4).standard_normal((1, 5, 4, 2))
    assert np.sum(cnn.conv(0, x) * g) == pytest.approx(np.sum(x * cnn.conv_transpose(0, g)), rel=1e-12)


# ----------------------------------------------------------------------------- kernels vs real CNNs
@pytest.mark.parametrize("readout", ["gap", "flatten"])
def test_kernels_against_wide_cnns(readout):
    # theory and sampled networks from ONE description: depth 3 = two convolutions + the readout,
    # widths in channels (C_0, C, C, 1)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 6, 2))
    C, nets = 256, 8
    desc = ns.Network("relu", 2.0, 0.1, depth=3, widths=(2, C, C, 1))
    K, T = ns.cnn_nngp_ntk(desc, X, kernel_size=3, readout=readout)
    Ks, Ts = [], []
    for s in range(nets):
        net = ns.CNN.from_network(desc, (6,), 3, readout=readout, rng=200 + s)
        Ks.append(net.empirical_nngp(X))
        Ts.append(net.empirical_ntk(X))
    for emp, th in ((np.array(Ks), K), (np.array(Ts), T)):
        se = emp.std(axis=0, ddof=1) / np.sqrt(nets)
        # z = 4 standard errors plus an O(1/C) finite-width bias allowance of 5 per convolution / C relative
        # (5 (L - 1)/C, the allowance of this test before depth counted the readout)
        assert np.all(np.abs(emp.mean(axis=0) - th) <= 4 * se + 5 * (desc.depth - 1) / C * np.abs(th))


def test_kernels_are_symmetric_and_gap_averages_positions():
    X = np.random.default_rng(6).standard_normal((3, 4, 4, 1))
    K, T = ns.cnn_nngp_ntk(X, depth=3, act="erf", sigma_w2=1.5, sigma_b2=0.05, kernel_size=3)
    assert np.allclose(K, K.T) and np.allclose(T, T.T)
    K2, T2 = ns.cnn_nngp_ntk(X[:2], X[1:], depth=3, act="erf", sigma_w2=1.5, sigma_b2=0.05, kernel_size=3)
    assert np.allclose(K2, K[:2, 1:], rtol=1e-12) and np.allclose(T2, T[:2, 1:], rtol=1e-12)


def _relu_flatten_diagonal(x, depth, sw, sb, k):
    # an image with itself under relu: c = 1 at every position, so K = q/2 and K-dot = 1/2 exactly and
    # the recursion is linear: v' = sw A(v/2) + sb, t' = sw A(t/2) + v' (A the circular tap average);
    # depth L: v = Sigma^1 of the input, L - 2 further convolutions, then the readout
    offs = [(a, b) for a in range(-(k // 2), k // 2 + 1) for b in range(-(k // 2), k // 2 + 1)]
    avg = lambda M: sum(np.roll(M, (-a, -b), axis=(0, 1)) for a, b in offs) / len(offs)
    v = sw * avg((x ** 2).sum(axis=-1) / x.shape[-1]) + sb
    t = v.copy()
    for _ in range(depth - 2):
        v, t = sw * avg(v / 2) + sb, sw * avg(t / 2)
        t = t + v
    nngp = sw * np.mean(v / 2) + sb
    return nngp, sw * np.mean(t / 2) + nngp


@pytest.mark.parametrize("readout", ["flatten", "gap"])
def test_neural_tangents_peer_float64(readout):
    # the compiled paths against neural-tangents in double precision: off-diagonal entries to 1e-10;
    # on the diagonal neural-tangents evaluates the arc-cosine kernel at a rounded correlation 1 - O(1e-16),
    # which costs it ~1e-8 in the NTK (its square-root singularity), while ours is checked against the
    # exact linear recursion of an image with itself
    pytest.importorskip("neural_tangents")
    from jax.experimental import enable_x64
    from neural_tangents import stax

    X = np.random.default_rng(17).standard_normal((6, 8, 8, 1))
    depth, sw, sb = 7, 2.0, 0.1
    pool = stax.GlobalAvgPool() if readout == "gap" else stax.Flatten()
    layers = []
    # depth L = 7 weight layers: L - 1 = 6 Conv + Relu blocks, then the readout (pool + Dense)
    for _ in range(depth - 1):
        layers += [stax.Conv(1, (3, 3), padding="CIRCULAR", W_std=np.sqrt(sw), b_std=np.sqrt(sb)), stax.Relu()]
    _, _, kfn = stax.serial(*layers, pool, stax.Dense(1, W_std=np.sqrt(sw), b_std=np.sqrt(sb)))
    with enable_x64():
        ref = kfn(X, X, ("nngp", "ntk"))
        Kr, Tr = np.asarray(ref.nngp, dtype=float), np.asarray(ref.ntk, dtype=float)
    assert Kr.dtype == np.float64
    K, T = ns.cnn_nngp_ntk(X, depth=depth, act="relu", sigma_w2=sw, sigma_b2=sb, kernel_size=3, readout=readout)
    off = ~np.eye(len(X), dtype=bool)
    assert np.max(np.abs(K - Kr) / np.abs(Kr)) < 1e-10
    assert np.max(np.abs(T - Tr)[off] / np.abs(Tr)[off]) < 1e-10
    assert np.max(np.abs(np.diag(T) - np.diag(Tr)) / np.diag(Tr)) < 1e-7
    if readout == "flatten":
        exact = np.array([_relu_flatten_diagonal(x, depth, sw, sb, 3) for x in X])
        assert np.allclose(np.diag(K), exact[:, 0], rtol=1e-13, atol=0)
        assert np.allclose(np.diag(T), exact[:, 1], rtol=1e-13, atol=0)


@pytest.mark.parametrize("readout", ["flatten", "gap"])
def test_neural_tangents_counts_depth_the_same_way(readout):
    # depth L = L - 1 (Conv, Erf) blocks + the readout in neural-tangents too, down to L = 1 (pool + Dense
    # on the input); off by one layer the kernels differ by O(1), far above the 1e-10 checked here
    pytest.importorskip("neural_tangents")
    from jax.experimental import enable_x64
    from neural_tangents import stax

    X = np.random.default_rng(19).standard_normal((3, 4, 4, 2))
    sw, sb = 1.6, 0.2
    for depth in (1, 2, 3):
        layers = []
        for _ in range(depth - 1):
            layers += [stax.Conv(1, (3, 3), padding="CIRCULAR", W_std=np.sqrt(sw), b_std=np.sqrt(sb)), stax.Erf()]
        pool = stax.GlobalAvgPool() if readout == "gap" else stax.Flatten()
        _, _, kfn = stax.serial(*layers, pool, stax.Dense(1, W_std=np.sqrt(sw), b_std=np.sqrt(sb)))
        with enable_x64():
            ref = kfn(X, X, ("nngp", "ntk"))
            Kr, Tr = np.asarray(ref.nngp, dtype=float), np.asarray(ref.ntk, dtype=float)
        K, T = ns.cnn_nngp_ntk(X, depth=depth, act="erf", sigma_w2=sw, sigma_b2=sb, kernel_size=3, readout=readout)
        assert np.max(np.abs(K - Kr) / np.abs(Kr)) < 1e-10, depth
        assert np.max(np.abs(T - Tr) / np.abs(Tr)) < 1e-10, depth


@pytest.mark.parametrize("act", ["relu", "erf", "leaky_relu"])
def test_compiled_flatten_path_against_the_numpy_closed_forms(act):
    # the same activation marked as not built-in (code -1) takes the general whole-array path with the
    # numpy closed forms of nn_spectra.activations instead of the compiled per-pair recursion
    import copy

    plain = copy.copy(ns.activation(act))
    plain.code = -1
    rng = np.random.default_rng(18)
    X1, X2 = rng.standard_normal((3, 5, 4, 2)), rng.standard_normal((2, 5, 4, 2))
    for A, B in ((X1, None), (X1, X2)):
        K, T = ns.cnn_nngp_ntk(A, B, depth=5, act=act, sigma_w2=1.7, sigma_b2=0.1, kernel_size=3, readout="flatten")
        Kc, Tc = ns.cnn_nngp_ntk(A, B, depth=5, act=plain, sigma_w2=1.7, sigma_b2=0.1, kernel_size=3,
                                 readout="flatten")
        assert np.max(np.abs(K - Kc)) < 1e-13 * np.max(np.abs(Kc))
        assert np.max(np.abs(T - Tc)) < 1e-13 * np.max(np.abs(Tc))


# ----------------------------------------------------------------------------- mean-field modes
def test_translation_invariant_mode_keeps_the_fully_connected_depth_scale():
    act, sw, sb = "tanh", 1.6, 0.05
    m = ns.cnn_mean_field_modes(act, sw, sb, (8,), 3)
    _, xi_c = ns.depth_scales(act, sw, sb)
    assert m.multipliers.max() == pytest.approx(1.0, abs=1e-15)
    assert np.nanmax(m.xi_c[np.isfinite(m.xi_c)]) == pytest.approx(xi_c, rel=1e-6)
    # every other mode decays faster
    assert np.all(m.xi_c[1:] < xi_c)


def test_linearised_covariance_dynamics_follow_the_fourier_multipliers():
    # a small off-diagonal perturbation of the fixed point along the mode p + p' = s decays by
    # chi_c * vhat(s) per layer
    act, sw, sb, n, k = "erf", 1.3, 0.1, 8, 3
    q = ns.q_star(act, sw, sb)
    c = ns.c_star(act, sw, sb)
    S0 = q * ((1 - c) * np.eye(n) + c)
    al = np.arange(n)
    s = 2 * np.pi * 2 / n
    E = np.cos(s * (al[:, None] + al[None, :]) / 2) * (1 - np.eye(n))   # symmetric, zero diagonal
    S1 = ns.cnn_covariance_map(act, S0 + 1e-6 * E, sw, sb, (n,), k)
    F = ns.cnn_covariance_map(act, S0, sw, sb, (n,), k)
    # the response projected on the mode itself (the mode sums to zero, so its plain sum does not measure it)
    ratio = ((S1 - F) * E).sum() / (1e-6 * (E * E).sum())
    m = ns.cnn_mean_field_modes(act, sw, sb, (n,), k)
    lam = np.mean(np.exp(1j * s * (np.arange(k) - 1))).real
    assert ratio == pytest.approx(m.chi_c * lam, rel=2e-3)


# ----------------------------------------------------------------------------- Jacobian spectra
def _cnn_spectrum(weights, C, depth, sw, sb, nets, seed):
    q = ns.q_star("tanh", sw, sb)
    ev = []
    for s in range(nets):
        net = ns.CNN((4,), C, C, depth, 3, "tanh", sw, sb, weights=weights, rng=seed + s)
        x = np.random.default_rng(seed + 99 + s).standard_normal((1, 4, C))
        # every position's first pre-activation has variance q*: |x_alpha|^2 = C (q* - sigma_b^2)/sigma_w^2
        x *= np.sqrt(C * (q - sb) / sw) / np.linalg.norm(x, axis=-1, keepdims=True)
        ev.append(net.jacobian_spectrum(x))
    return np.concatenate(ev)


def test_delta_orthogonal_cnn_is_block_diagonal_fully_connected():
    # exact: with delta-orthogonal kernels J is block diagonal over positions and each block is the
    # Jacobian D_K H_K ... D_1 H_1 of the fully-connected orthogonal network with the centre taps, over
    # the K = L - 1 convolutions of a depth-L CNN
    C, depth, sw, sb = 6, 4, 1.3, 0.02
    net = ns.CNN((5,), C, C, depth, 3, "tanh", sw, sb, weights="orthogonal", rng=3)
    assert len(net.kernels) == depth - 1
    x = np.random.default_rng(4).standard_normal((1, 5, C))
    J = net.input_output_jacobian(x)
    _, hs, _ = net.forward(x, return_all=True)
    for p in range(5):
        B = np.eye(C)
        for l in range(depth - 1):
            B = (1 - np.tanh(hs[l][0, p]) ** 2)[:, None] * (net.kernels[l][1] @ B)
        assert np.allclose(J[p * C:(p + 1) * C, p * C:(p + 1) * C], B, atol=1e-12)
        off = np.delete(J[p * C:(p + 1) * C], np.s_[p * C:(p + 1) * C], axis=1)
        assert np.abs(off).max() < 1e-12


def test_delta_orthogonal_law_is_the_fully_connected_law_at_the_same_depth():
    # exact: cnn_jacobian_law(depth=L) is jacobian_law(depth=L) (J spans the L - 1 convolutions), whose
    # mean is chi1^(L - 1); the Gaussian kernels give the Gaussian law at the same depth
    sw, sb = 1.3, 0.02
    x1 = ns.chi1("tanh", sw, sb)
    for L in (2, 5):
        for weights in ("orthogonal", "gaussian"):
            cnn = ns.cnn_jacobian_law("tanh", sw, sb, L, weights=weights, spatial_shape=(8, 8), kernel_size=3)
            fc = ns.jacobian_law("tanh", sw, sb, L, weights=weights)
            assert cnn.weights == weights
            np.testing.assert_allclose(cnn.moments(3), fc.moments(3), rtol=1e-14)
            assert cnn.moments(1)[0] == pytest.approx(x1 ** (L - 1), rel=1e-12)


def test_real_delta_orthogonal_cnns_have_the_mean_of_their_depth():
    # 12 real depth-5 CNNs (4 convolutions, 64 channels): the mean eigenvalue of J J^T (= |J|_F^2 / PC) in
    # standard errors over the networks, |z| <= 4 against chi1^(L-1) at L = 5, and the neighbouring
    # depths L = 4, 6 rejected at |z| > 8 (chi1 = 0.76: they differ by 24-32 %).  No bias allowance: the
    # first pre-activations sit at q* up to a zero-mean O(1/sqrt C) term, so the finite-C bias of the
    # mean is second order (measured z = 0.0 at C = 64, 1.1 at C = 128 with 16 networks).
    sw, sb, L, C, nets = 1.0, 0.05, 5, 64, 12
    q = ns.q_star("tanh", sw, sb)
    rng = np.random.default_rng(23)
    m1 = []
    for _ in range(nets):
        net = ns.CNN((4,), C, C, L, 3, "tanh", sw, sb, weights="orthogonal", rng=rng)
        x = rng.standard_normal((1, 4, C))
        x *= np.sqrt(C * (q - sb) / sw) / np.linalg.norm(x, axis=-1, keepdims=True)
        J = net.input_output_jacobian(x)
        m1.append(np.sum(J ** 2) / J.shape[0])
    mean, se = np.mean(m1), np.std(m1, ddof=1) / np.sqrt(nets)
    z = {LL: (mean - ns.cnn_jacobian_law("tanh", sw, sb, LL).moments(1)[0]) / se for LL in (L - 1, L, L + 1)}
    assert abs(z[L]) <= 4 and abs(z[L - 1]) > 8 and abs(z[L + 1]) > 8, z


def test_gaussian_cnn_kernels_do_not_give_the_orthogonal_law():
    sw, sb, depth = 1.3, 0.02, 7
    orth = ns.cnn_jacobian_law("tanh", sw, sb, depth, weights="orthogonal", spatial_shape=(4,))
    ks_delta = rm.ks_distance(_cnn_spectrum("orthogonal", 64, depth, sw, sb, 1, 0), orth)
    # a lower bound of the Gaussian-kernel KS distance suffices: sup |F_n - F| over 33 of the
    # eigenvalues.  (JacobianLaw.cdf costs ~0.05 s a point, and ~20 s at x ~ 1e-16, where the Gaussian
    # CNN has eigenvalues: a full KS took 185 s; those points are left out of the subset.)
    ev = np.sort(_cnn_spectrum("gaussian", 64, depth, sw, sb, 1, 10))
    i = np.linspace(np.searchsorted(ev, 1e-10 * ev[-1]), ev.size - 1, 33).astype(int)
    F = orth.cdf(ev[i])
    ks_gauss_lower = max(np.max(np.abs((i + 1) / ev.size - F)), np.max(np.abs(i / ev.size - F)))
    assert ks_gauss_lower > 3 * ks_delta


@pytest.mark.slow
def test_cnn_jacobian_laws_full():
    sw, sb, depth = 1.3, 0.02, 7
    orth = ns.cnn_jacobian_law("tanh", sw, sb, depth, weights="orthogonal", spatial_shape=(4,))
    gauss = ns.cnn_jacobian_law("tanh", sw, sb, depth, weights="gaussian", spatial_shape=(4,))
    ks = [rm.ks_distance(_cnn_spectrum("orthogonal", C, depth, sw, sb, 1, 0), orth) for C in (64, 256)]
    assert ks[1] < ks[0] and ks[1] < 0.03
    kg = [rm.ks_distance(_cnn_spectrum("gaussian", C, depth, sw, sb, 1, 10), gauss) for C in (64, 256)]
    assert kg[1] < kg[0] and kg[1] < 0.05


# ----------------------------------------------------------------------------- one description
def test_one_network_description_for_cnn_theory_and_sampler():
    # one Network: depth L = 3 weight layers = 2 convolutions + the readout, widths in channels
    desc = ns.Network("tanh", 1.5, 0.1, depth=3, widths=(5, 8, 8, 1))
    for readout in ("gap", "flatten"):
        cnn = ns.CNN.from_network(desc, (6,), 3, readout=readout, rng=0)
        assert cnn.depth == desc.depth and len(cnn.kernels) == desc.depth - 1 == desc.hidden_layers
        assert [K.shape[-2:] for K in cnn.kernels] == [(8, 5), (8, 8)]     # (C_out, C_in) = widths
        assert cnn.w_out.size == (8 if readout == "gap" else 6 * 8) and cnn.network == desc
        assert ns.CNN.from_network(cnn.network, (6,), 3).network == desc
    # the kernels of the description are those of its functional call at the same depth, and on 1x1
    # images with k = 1 those of the fully-connected network of the SAME description
    X = np.random.default_rng(1).standard_normal((3, 1, 1, 5))
    K, T = ns.cnn_nngp_ntk(desc, X, kernel_size=1)
    K2, T2 = ns.cnn_nngp_ntk(X, depth=3, act="tanh", sigma_w2=1.5, sigma_b2=0.1, kernel_size=1)
    Kf, Tf = ns.nngp_ntk(desc, X[:, 0, 0])
    assert np.array_equal(K, K2) and np.array_equal(T, T2)
    assert np.allclose(K, Kf, rtol=1e-12) and np.allclose(T, Tf, rtol=1e-12)
    # the Jacobian law of a square description (C_0 = C) is the fully-connected law of that description,
    # with as many factors as the sampled CNN has convolutions; orthogonal = delta-orthogonal kernels
    sq = ns.Network("tanh", 1.5, 0.1, depth=3, weights="orthogonal", widths=(8, 8, 8, 1))
    law = ns.cnn_jacobian_law(sq, spatial_shape=(6,))
    cnn = ns.CNN.from_network(sq, (6,), 3, rng=0)
    assert cnn.weight_law == "orthogonal" and law.weights == "orthogonal"
    assert law.layers == len(cnn.kernels) and law.depth == sq.depth   # layers: the factors of J
    np.testing.assert_allclose(law.moments(3), ns.jacobian_law(sq).moments(3), rtol=1e-14)
    assert cnn.input_output_jacobian(np.ones((1, 6, 8))).shape == (6 * 8, 6 * 8)


def test_depth_one_cnn_is_its_readout():
    # L = 1: no convolution; the sampled network's empirical NTK equals its NNGP (only the readout is
    # trained) and its Jacobian over the (zero) convolutions is the identity
    X = np.random.default_rng(2).standard_normal((3, 4, 2))
    for readout in ("gap", "flatten"):
        net = ns.CNN((4,), 2, 7, 1, 3, "relu", 2.0, 0.1, readout=readout, rng=0)
        assert net.kernels == [] and net.network.widths == (2, 1)
        assert np.allclose(net.empirical_ntk(X), net.empirical_nngp(X), rtol=1e-14)
        assert np.array_equal(net.input_output_jacobian(X[:1]), np.eye(8))
        K, T = ns.cnn_nngp_ntk(X, depth=1, act="relu", sigma_w2=2.0, sigma_b2=0.1, readout=readout)
        assert np.array_equal(K, T)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("depth", [0, -1, 2.5, True, 10 ** 7, "3"])
def test_bad_depth_names_the_range(depth):
    X = np.zeros((2, 4, 1))
    with pytest.raises(ValueError, match=r"depth must be an integer in \[1, 1000000\]"):
        ns.cnn_nngp_ntk(X, depth=depth)
    with pytest.raises(ValueError, match=r"depth must be an integer in \[1, 1000000\]"):
        ns.CNN((4,), 1, 2, depth, 3, "relu", 2.0, 0.0)
    with pytest.raises(ValueError, match=r"depth must be an integer in \[2, 1000000\]"):
        ns.cnn_jacobian_law("tanh", 1.0, 0.0, depth)


def test_bad_descriptions():
    X = np.zeros((2, 4, 4, 1))
    with pytest.raises(ValueError, match=r"depth must be an integer in \[2"):      # J needs a convolution
        ns.cnn_jacobian_law("tanh", 1.0, 0.0, 1)
    with pytest.raises(ValueError, match=r"depth must be an integer in \[2"):
        ns.cnn_jacobian_law(ns.Network("tanh", 1.0, 0.0, depth=1))
    with pytest.raises(TypeError, match="not both"):
        ns.cnn_jacobian_law(ns.Network("tanh", 1.0, 0.0, depth=3), depth=3)
    with pytest.raises(TypeError, match="not both"):
        ns.cnn_nngp_ntk(ns.Network("tanh", 1.0, 0.0, depth=3), X, depth=3)
    with pytest.raises(TypeError, match="not both"):
        ns.cnn_jacobian_law(ns.Network("tanh", 1.0, 0.0, depth=3, weights="orthogonal"), weights="gaussian")
    with pytest.raises(ValueError, match="in_channels == channels"):
        ns.cnn_jacobian_law(ns.Network("tanh", 1.0, 0.0, depth=3, widths=(2, 4, 4, 1)))
    with pytest.raises(ValueError, match="n_L = 1"):
        ns.CNN.from_network(ns.Network("tanh", 1.0, 0.0, depth=2, widths=(1, 4, 2)), (4,), 3)
    with pytest.raises(ValueError, match="one channel count"):
        ns.CNN.from_network(ns.Network("tanh", 1.0, 0.0, depth=3, widths=(1, 4, 5, 1)), (4,), 3)
    with pytest.raises(ValueError, match="widths"):
        ns.CNN.from_network(ns.Network("tanh", 1.0, 0.0, depth=3), (4,), 3)
    with pytest.raises(ValueError, match="weights"):
        ns.CNN.from_network(ns.Network("tanh", 1.0, 0.0, depth=2, weights="identity", widths=(4, 4, 1)), (4,), 3)
    with pytest.raises(ValueError, match="weights"):       # the kernels are those of Gaussian kernels
        ns.cnn_nngp_ntk(ns.Network("tanh", 1.0, 0.0, depth=2, weights="orthogonal"), X)
    with pytest.raises(ValueError, match="readout"):
        ns.cnn_nngp_ntk(ns.Network("tanh", 1.0, 0.0, depth=2, readout="none"), X)
    with pytest.raises(ValueError, match="batch_norm"):
        ns.cnn_jacobian_law(ns.Network("tanh", 1.0, 0.0, depth=2, batch_norm=True))
    with pytest.raises(ValueError, match="channels"):
        ns.cnn_nngp_ntk(ns.Network("tanh", 1.0, 0.0, depth=2, widths=(3, 4, 1)), X)
    for bad in (2.7, 0, True):
        with pytest.raises(ValueError, match="in_channels must be an integer >= 1"):
            ns.CNN((4,), bad, 3, 2, 3, "relu", 2.0, 0.0)
        with pytest.raises(ValueError, match="channels must be an integer >= 1"):
            ns.CNN((4,), 3, bad, 2, 3, "relu", 2.0, 0.0)



def test_bad_geometry_and_channels():
    X = np.zeros((2, 4, 4, 1))
    with pytest.raises(ValueError, match="kernel_size"):
        ns.cnn_nngp_ntk(X, depth=2, kernel_size=5)
    with pytest.raises(ValueError, match="odd"):
        ns.delta_orthogonal_kernel(4, 4, 2, 2, 1.0)
    with pytest.raises(ValueError, match="odd"):
        ns.CNN((6,), 4, 4, 2, 2, "relu", 2.0, 0.0, weights="orthogonal")
    with pytest.raises(ValueError, match="channels"):
        ns.delta_orthogonal_kernel(4, 3, 3, 2, 1.0)
    with pytest.raises(ValueError, match="channels"):
        ns.CNN((6,), 3, 4, 2, 3, "relu", 2.0, 0.0, weights="orthogonal")
    with pytest.raises(ValueError, match="channels"):
        ns.cnn_nngp_ntk(X, np.zeros((2, 4, 4, 2)), depth=2)
    with pytest.raises(ValueError, match="channels"):
        ns.CNN((4,), 2, 4, 2, 3, "relu", 2.0, 0.0).forward(np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match="kernel_size"):
        ns.cnn_jacobian_law("tanh", 1.0, 0.0, 2, spatial_shape=(3,), kernel_size=5)
    with pytest.raises(ValueError, match="kernel_size"):
        ns.cnn_jacobian_law("tanh", 1.0, 0.0, 2, kernel_size=2.5)
