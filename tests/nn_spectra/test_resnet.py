"""Residual networks: mean field, kernels, the Jacobian law and the universal large-depth law.

Independent truths: closed forms of the q-map (relu), adaptive 1-D quadrature (tanh), the exact
arcsine law of |1 + r u|^2 for a Haar unitary u, the word expansion of the block moments,
real finite ResNets (Monte Carlo, tolerances in standard errors with z = 4 or rates stated in
advance), and the exact duality of the conditional Fisher information.

``depth`` is L, the number of weight layers: the read-in, B = L - 2 residual blocks and the readout
(issue 14; the tests below write ``depth=B + 2`` where the block count is the natural parameter).
"""
import warnings

import numpy as np
import pytest
from scipy import integrate

import nn_spectra as ns
import randmat as rm


# ----------------------------------------------------------------------------- mean field
def test_q_map_relu_closed_forms():
    a, sw, sb, q = 0.4, 2.0, 0.3, 1.7
    assert ns.resnet_q_map("relu", q, a, sw, sb, "pre") == pytest.approx(q + a * a * (sw * q / 2 + sb), rel=1e-14)
    assert ns.resnet_q_map("relu", q, a, sw, sb, "post") == pytest.approx(q + a * a * (sw * q + sb) / 2, rel=1e-14)
    mf = ns.resnet_mean_field("relu", a, sw, 0.0, depth=6 + 2, q0=q)
    assert mf.blocks == 6 and mf.depth == 8
    assert np.allclose(mf.q, q * (1 + a * a * sw / 2) ** np.arange(7), rtol=1e-13)
    assert np.allclose(mf.chi, 1 + a * a * sw / 2)


def test_q_map_tanh_against_quadrature():
    a, sw, sb, q = 0.7, 1.3, 0.05, 0.8
    e2 = integrate.quad(lambda z: np.tanh(np.sqrt(q) * z) ** 2 * np.exp(-z * z / 2) / np.sqrt(2 * np.pi),
                        -12, 12, epsabs=1e-14, epsrel=1e-13)[0]
    assert ns.resnet_q_map("tanh", q, a, sw, sb) == pytest.approx(q + a * a * (sw * e2 + sb), rel=1e-10)


def test_residual_networks_never_ordered_and_tanh_length_grows_linearly():
    # chi_l = 1 + a^2 sigma_w^2 E[phi'^2] >= 1 (Yang-Schoenholz: always on or above the edge of chaos);
    # for tanh at large Q, E tanh^2(sqrt(Q) z) = 1 - E sech^2 = 1 - 2/sqrt(2 pi Q) + O(Q^{-3/2}), so the
    # length grows linearly with slope a^2 (sigma_w^2 (1 - 2/sqrt(2 pi Q)) + sigma_b^2)
    a, sw, sb = 0.5, 1.5, 0.1
    mf = ns.resnet_mean_field("tanh", a, sw, sb, depth=40 + 2, q0=400.0)
    assert np.all(mf.chi >= 1.0)
    slope = np.diff(mf.q)
    pred = a * a * (sw * (1 - 2 / np.sqrt(2 * np.pi * mf.q[:-1])) + sb)
    assert np.all(np.abs(slope / pred - 1) < 1e-3)


def _relu_post_lengths(a, sw, sb, q0, blocks):
    """Closed form of the post relu length map with the stream's coordinate mean m:
    Q' = Q + a^2 q_h/2 + 2 a m sqrt(q_h/(2 pi)), m' = m + a sqrt(q_h/(2 pi)), q_h = sw Q + sb; and the
    map without the mean term."""
    Q, m, Qf, out, former = q0, 0.0, q0, [q0], [q0]
    for _ in range(blocks):
        qh = sw * Q + sb
        e1 = np.sqrt(qh / (2 * np.pi))
        Q, m = Q + a * a * qh / 2 + 2 * a * m * e1, m + a * e1
        Qf = Qf + a * a * (sw * Qf + sb) / 2
        out.append(Q)
        former.append(Qf)
    return np.array(out), np.array(former)


def test_post_stream_mean_enters_the_length_map():
    # a post block adds a phi(h) to every coordinate: for relu (E phi > 0) the stream has a coordinate
    # mean, and |x|^2/N grows faster than the map without it.  The mean field against the closed form
    # (1e-12), and real post ResNets (width 1000, 4 nets) within 4 standard errors plus 2 B/N relative
    # (stated in advance) of it, the former map outside that band; the NNGP of the same nets too
    a, sw, sb, B, N, nets = 0.5, 2.0, 0.1, 3, 1000, 4
    exact, former = _relu_post_lengths(a, sw, sb, 1.0, B)
    mf = ns.resnet_mean_field("relu", a, sw, sb, depth=B + 2, q0=1.0, variant="post")
    assert np.allclose(mf.q, exact, rtol=1e-12, atol=0)
    assert ns.resnet_q_map("relu", exact[1], a, sw, sb, "post", m=a * np.sqrt((sw + sb) / (2 * np.pi))) == \
        pytest.approx(exact[2], rel=1e-12)
    X = np.random.default_rng(3).standard_normal((2, 4))
    K = ns.resnet_nngp_ntk(X, None, B + 2, "relu", a, sw, sb, "post")[0]
    Qs, Ks = [], []
    for s in range(nets):
        net = ns.ResNet(4, N, B + 2, "relu", a, sw, sb, weights="gaussian", variant="post", rng=20 + s)
        x0 = np.random.default_rng(30 + s).standard_normal((1, N))          # Q^0 = 1
        Qs.append([float(np.sum(x * x)) / N for x in net._stream(x0)[0]])
        Ks.append(net.empirical_nngp(X))
    Qs, Ks = np.array(Qs), np.array(Ks)
    band = 4 * Qs.std(axis=0, ddof=1) / np.sqrt(nets) + 2 * B / N * exact
    assert np.all(np.abs(Qs.mean(axis=0) - exact) <= band)
    assert np.abs(Qs.mean(axis=0) - former)[-1] > band[-1]
    assert np.all(np.abs(Ks.mean(axis=0) - K) <= 4 * Ks.std(axis=0, ddof=1) / np.sqrt(nets) + 5 * B / N * np.abs(K))


def test_sigmoid_post_block_variances_carry_the_stream_mean():
    # sigmoid: E phi = 1/2 exactly at every variance, so m^l = a l / 2 and Q' = Q + a^2 E sigma^2 + a m;
    # E sigma^2 by adaptive quadrature.  The law's own block variances and the mean field against it
    from nn_spectra import resnet as R

    a, sw, sb, B = 0.4, 1.5, 0.2, 5
    sig = lambda u: 1 / (1 + np.exp(-u))
    Q, m, qh = 0.8, 0.0, []
    for _ in range(B):
        h = sw * Q + sb
        e2 = integrate.quad(lambda z: sig(np.sqrt(h) * z) ** 2 * np.exp(-z * z / 2) / np.sqrt(2 * np.pi),
                            -14, 14, epsabs=1e-14, epsrel=1e-13)[0]
        qh.append(h)
        Q, m = Q + a * a * e2 + 2 * a * m * 0.5, m + a * 0.5
    assert np.allclose(R._block_variances(ns.activation("sigmoid"), a, sw, sb, B, 0.8, "post"), qh, rtol=1e-10)
    assert ns.resnet_mean_field("sigmoid", a, sw, sb, depth=B + 2, q0=0.8, variant="post").q[-1] == \
        pytest.approx(Q, rel=1e-10)


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("variant,act", [("pre", "relu"), ("post", "tanh")])
def test_kernels_against_wide_resnets(variant, act):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 4))
    depth, a, sw, sb, N, nets = 3 + 2, 0.6, 1.5, 0.2, 800, 6
    K, T = ns.resnet_nngp_ntk(X, None, depth, act, a, sw, sb, variant)
    Ks, Ts = [], []
    for s in range(nets):
        net = ns.ResNet(4, N, depth, act, a, sw, sb, variant=variant, rng=100 + s)
        Ks.append(net.empirical_nngp(X))
        Ts.append(net.empirical_ntk(X))
    for emp, th in ((np.array(Ks), K), (np.array(Ts), T)):
        se = emp.std(axis=0, ddof=1) / np.sqrt(nets)
        # z = 4 standard errors plus the O(B/N) finite-width bias, allowed as 5 B/N relative (B = 3 blocks)
        assert np.all(np.abs(emp.mean(axis=0) - th) <= 4 * se + 5 * (depth - 2) / N * np.abs(th))


# The NTK as the rho-derivative of the NNGP of two networks with rho-correlated weights (Mehler: for
# omega_rho = rho omega + sqrt(1 - rho^2) xi, d/drho E[f(x; omega) f(x'; omega_rho)] = E[grad f . grad f']),
# written here from closed-form Gaussian integrals only: relu (arc-cosine) and the normal cdf Phi
# (E[Phi(u) Phi(v)] = 1/4 + arcsin(c / sqrt((1 + q1)(1 + q2))) / (2 pi), E Phi = 1/2 at every variance).
# The stream means m^l of post blocks are one-network quantities and so do not depend on rho.
_SQ2PI = np.sqrt(2 * np.pi)


def _relu_pair(q1, q2, c):
    r = np.sqrt(q1 * q2)
    th = np.arccos(np.clip(c / r, -1.0, 1.0))
    return r / (2 * np.pi) * (np.sin(th) + (np.pi - th) * np.cos(th))


def _ncdf_pair(q1, q2, c):
    return 0.25 + np.arcsin(c / np.sqrt((1 + q1) * (1 + q2))) / (2 * np.pi)


_PAIRS = {"relu": (_relu_pair, lambda q: np.sqrt(q / (2 * np.pi))), "ncdf": (_ncdf_pair, lambda q: 0.5 + 0 * q)}


def _ncdf_activation():
    from scipy.special import ndtr

    return ns.activation(ndtr, lambda u: np.exp(-u * u / 2) / _SQ2PI, lambda u: -u * np.exp(-u * u / 2) / _SQ2PI,
                         smooth=True)


def _correlated_copies_nngp(X, rho, blocks, name, a, sw, sb, variant, mean=True):
    pair, phi_mean = _PAIRS[name]
    d = X.shape[1]
    s = sw * np.sum(X * X, axis=1) / d + sb
    C = rho * (sw * (X @ X.T) / d + sb)
    m = np.zeros(len(s))
    for _ in range(blocks):
        if variant == "pre":
            C = C + a * a * rho * (sw * pair(s[:, None], s[None, :], C) + sb)
            s = s + a * a * (sw * pair(s, s, s) + sb)
        else:
            h, H = sw * s + sb, rho * (sw * C + sb)
            f = phi_mean(h)
            C = C + a * a * pair(h[:, None], h[None, :], H)
            s = s + a * a * pair(h, h, h)
            if mean:
                C = C + a * (m[:, None] * f[None, :] + f[:, None] * m[None, :])
                s = s + 2 * a * m * f
            m = m + a * f
    return rho * (sw * C + sb)


def _ntk_by_rho_derivative(X, blocks, name, a, sw, sb, variant, mean=True, h=1e-3):
    # central differences at steps h and h/2, Richardson: error O(h^4) ~ 1e-12 for these analytic maps
    def D(step):
        up = _correlated_copies_nngp(X, 1 + step, blocks, name, a, sw, sb, variant, mean)
        down = _correlated_copies_nngp(X, 1 - step, blocks, name, a, sw, sb, variant, mean)
        return (up - down) / (2 * step)
    return (4 * D(h / 2) - D(h)) / 3, _correlated_copies_nngp(X, 1.0, blocks, name, a, sw, sb, variant, mean)


@pytest.mark.parametrize("name,variant", [("ncdf", "post"), ("ncdf", "pre"), ("relu", "post"), ("relu", "pre")])
def test_ntk_is_the_rho_derivative_of_correlated_copies(name, variant):
    # E Phi = 1/2 and E relu > 0: post streams carry a coordinate mean.  NNGP and NTK against the
    # independent route to 1e-9 relative (Richardson error ~1e-12, the library's quadrature ~1e-10).
    # The relu arc-cosine kernel is not analytic at correlation 1, so for relu only the off-diagonal
    # entries are differentiated (Phi covers the diagonal); the NTK without the mean terms in Sigma is
    # far off (> 10 %), so the check sees them
    X = np.random.default_rng(0).standard_normal((3, 4))
    blocks, a, sw, sb = 4, 0.8, 1.5, 0.2
    act = _ncdf_activation() if name == "ncdf" else "relu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no warning: the post NTK is exact for E phi != 0
        K, T = ns.resnet_nngp_ntk(X, None, blocks + 2, act, a, sw, sb, variant)
    T_ref, K_ref = _ntk_by_rho_derivative(X, blocks, name, a, sw, sb, variant)
    assert np.allclose(K, K_ref, rtol=1e-9, atol=0)
    mask = np.ones((3, 3), bool) if name == "ncdf" else ~np.eye(3, dtype=bool)
    assert np.allclose(T[mask], T_ref[mask], rtol=1e-9, atol=0)
    if variant == "post":
        T_nomean = _ntk_by_rho_derivative(X, blocks, name, a, sw, sb, variant, mean=False)[0]
        assert np.max(np.abs(T_nomean[mask] / T[mask] - 1)) > 0.1


@pytest.mark.parametrize("act", ["relu", "sigmoid"])
def test_post_ntk_with_stream_mean_against_wide_resnets(act):
    # real post ResNets (width 300, 30 networks, 4 blocks, a = 1): the mean empirical NTK within
    # 4 standard errors plus the O(B/N) finite-width bias, allowed as 5 B/N relative (stated in advance,
    # as for the other kernel tests); the NTK whose Sigma lacks the stream mean lies outside that band
    X = np.random.default_rng(1).standard_normal((3, 4))
    depth, a, sb, N, nets = 6, 1.0, 0.1, 300, 30
    sw = 2.0 if act == "relu" else 1.0
    B = depth - 2
    K, T = ns.resnet_nngp_ntk(X, None, depth, act, a, sw, sb, "post")
    Ts = np.array([ns.ResNet(4, N, depth, act, a, sw, sb, variant="post", rng=500 + s).empirical_ntk(X)
                   for s in range(nets)])
    band = 4 * Ts.std(axis=0, ddof=1) / np.sqrt(nets) + 5 * B / N * np.abs(T)
    assert np.all(np.abs(Ts.mean(axis=0) - T) <= band)
    if act == "relu":
        T_nomean = _ntk_by_rho_derivative(X, B, "relu", a, sw, sb, "post", mean=False)[0]
        off = ~np.eye(3, dtype=bool)
        assert np.all(np.abs(Ts.mean(axis=0) - T_nomean)[off] > band[off])


# ----------------------------------------------------------------------------- Jacobian law
def test_one_block_orthogonal_linear_is_the_arcsine_law():
    # |1 + r u|^2 = 1 + r^2 + 2 r cos(theta), theta uniform: arcsine law on [(1-r)^2, (1+r)^2]
    r = 0.5
    law = ns.resnet_jacobian_law("linear", r, 1.0, 0.0, depth=1 + 2)
    x = np.array([0.4, 0.9, 1.3, 2.0])
    exact = 1 / (np.pi * np.sqrt((x - (1 - r) ** 2) * ((1 + r) ** 2 - x)))
    assert np.allclose(law.pdf(x), exact, rtol=1e-8)
    A, B = 1 + r * r, 2 * r
    assert np.allclose(law.moments(3), [A, A * A + B * B / 2, A ** 3 + 1.5 * A * B * B], rtol=1e-9)


def test_arcsine_support_edges():
    r = 0.5
    law = ns.resnet_jacobian_law("linear", r, 1.0, 0.0, depth=1 + 2)
    # inverse-square-root edges (G diverges there): found from exact axis values inside (the engine's
    # f^-2 fit) to about 1e-8; the lower one is also the end of the real branch x(zeta), zeta < -1
    assert law.support[0] == pytest.approx((1 - r) ** 2, rel=1e-7)
    assert law.support[1] == pytest.approx((1 + r) ** 2, rel=1e-7)


def test_small_branch_law_concentrates_at_one():
    # the block equations are written in zeta and q (S_k = (1 - q/(1+zeta))(1 - q/zeta)), every term of
    # the log-equation without cancellation: they stay well conditioned as a -> 0
    # (tests/nn_spectra/test_resnet_small_branch.py checks this regime against exact truths)
    law = ns.resnet_jacobian_law("tanh", 1e-4, 1.0, 0.0, depth=3 + 2)
    lo, hi = law.support
    assert 1 - 1e-3 < lo <= 1 <= hi < 1 + 1e-3


def test_law_moments_match_the_exact_block_recursion():
    law = ns.resnet_jacobian_law("relu", 0.4, 2.0, 0.0, depth=5 + 2, weights="gaussian")
    m1, m2 = ns.resnet_jacobian_moments("relu", 0.4, 2.0, 0.0, 5 + 2, weights="gaussian")
    assert law.moments(2) == pytest.approx([m1, m2], rel=1e-8)
    # relu: m1 = (1 + a^2 sigma_w^2/2)^B exactly, B = 5 blocks
    assert m1 == pytest.approx(1.16 ** 5, rel=1e-14)


def test_empirical_gauss_rule_is_exact_to_degree_2p_minus_1():
    # against the direct sums over the points: exact for u^k, k <= 2p - 1, not for k = 2p; positive
    # weights summing to the number of points, nodes inside the points' range
    from nn_spectra import resnet as R

    u = np.log(np.random.default_rng(5).uniform(1.0, 50.0, 300))
    p = 6
    nodes, c = R._empirical_gauss_rule(u, p)
    assert np.all(c > 0) and c.sum() == pytest.approx(len(u), rel=1e-13)
    assert u.min() < nodes.min() and nodes.max() < u.max()
    y = (u - u.mean()) / u.std()
    yn = (nodes - u.mean()) / u.std()
    for k in range(2 * p):
        assert (c * yn ** k).sum() == pytest.approx((y ** k).sum(), rel=1e-11, abs=1e-11 * len(u))
    assert abs((c * yn ** (2 * p)).sum() / (y ** (2 * p)).sum() - 1) > 1e-6


@pytest.mark.parametrize("act, a, sw, sb, blocks, weights", [("tanh", 0.3, 1.5, 0.1, 40, "orthogonal"),
                                                              ("erf", 0.25, 1.2, 0.05, 30, "gaussian")])
def test_grouped_blocks_give_the_unapproximated_law(act, a, sw, sb, blocks, weights):
    # a bounded activation: the length grows, every block has its own D^2 law.  The law with the blocks
    # grouped over their variances (the default) against the law with every block (group=False, solved
    # with q_k inside the residual): both edges and the density at 9 points, from 1e-4 of the support's
    # width inside each edge, to 1e-10 relative
    law = ns.resnet_jacobian_law(act, a, sw, sb, depth=blocks + 2, weights=weights)
    exact = ns.resnet_jacobian_law(act, a, sw, sb, depth=blocks + 2, weights=weights, group=False)
    assert len(exact.blocks) == blocks and len(law.blocks) < ns.ResNetJacobianLaw.MAX_STATE_BLOCKS
    assert sum(b.mult for b in law.blocks) == pytest.approx(blocks, rel=1e-13)
    assert law.layers == exact.layers == blocks and law.depth == blocks + 2
    assert law.support == pytest.approx(exact.support, rel=1e-10)
    lo, hi = exact.support
    x = lo + (hi - lo) * np.array([1e-4, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1 - 1e-4])
    assert np.allclose(law.pdf(x), exact.pdf(x), rtol=1e-10, atol=0)


def test_grouping_that_fails_its_check_keeps_every_block(monkeypatch):
    # no accepted group size (a check tolerance of 0): the exact blocks, not an approximation
    from nn_spectra import resnet as R

    monkeypatch.setattr(R, "GROUPING_TOL", 0.0)
    law = ns.resnet_jacobian_law("tanh", 0.3, 1.5, 0.1, depth=20 + 2)
    assert len(law.blocks) == 20 and all(b.mult == 1 for b in law.blocks)


def test_small_branch_gives_the_identity():
    net = ns.ResNet(3, 20, 4 + 2, "tanh", 1e-12, 1.0, 0.0, rng=0)
    assert np.abs(net.input_output_jacobian(np.ones(20)) - np.eye(20)).max() < 1e-10


def _real_spectrum(width, depth, a, weights, nets, seed):
    ev = []
    for s in range(nets):
        net = ns.ResNet(4, width, depth, "relu", a, 2.0, 0.0, weights=weights, variant="post", rng=seed + s)
        ev.append(net.jacobian_spectrum(np.random.default_rng(seed + 1000 + s).standard_normal(width)))
    return np.concatenate(ev)


def test_law_against_real_resnets_reduced():
    # KS at width 256 below the one at width 64 (same number of eigenvalues) and below 0.03
    law = ns.resnet_jacobian_law("relu", 0.3, 2.0, 0.0, depth=4 + 2, weights="gaussian")
    ks_small = rm.ks_distance(_real_spectrum(64, 4 + 2, 0.3, "gaussian", 4, 0), law)
    ks_large = rm.ks_distance(_real_spectrum(256, 4 + 2, 0.3, "gaussian", 1, 50), law)
    assert ks_large < ks_small
    assert ks_large < 0.03


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
@pytest.mark.parametrize("blocks", [10, 100])
def test_law_against_real_resnets_full(weights, blocks):
    a, depth = 1.0 / np.sqrt(blocks), blocks + 2
    law = ns.resnet_jacobian_law("relu", a, 2.0, 0.0, depth=depth, weights=weights)
    ks = [rm.ks_distance(_real_spectrum(n, depth, a, weights, 1600 // n, 7), law) for n in (100, 400, 1600)]
    assert ks[2] < ks[0]
    assert ks[2] < 0.01


def test_pre_moment_recursion_with_independent_blocks_is_the_free_product():
    # fed independent D_l (tau(D_i^2 D_j^2) = tau(D_i^2) tau(D_j^2) for i != j), the correlated recursion
    # must reduce to the free-product formula of the post variant's block moments
    from nn_spectra import resnet as R

    act, a, sw, L = ns.activation("tanh"), 0.4, 1.5, 6          # L blocks
    q = ns.resnet_mean_field(act, a, sw, 0.1, L + 2, variant="pre").q_phi
    T = R._pre_stream_moments(act, q)
    Ti = np.outer(T[0], T[0])
    np.fill_diagonal(Ti, np.diag(T))
    m1, m2 = R._pre_moment_recursion(Ti, a * a * sw)
    M1, acc = 1.0, 0.0
    for l in range(L):
        n1, n2 = a * a * sw * T[0, l + 1], (a * a * sw) ** 2 * T[l + 1, l + 1]
        M1 *= 1 + n1
        acc += (1 + 4 * n1 + n2) / (1 + n1) ** 2 - 1
    assert (m1, m2) == pytest.approx((M1, M1 * M1 * (1 + acc)), rel=1e-13)


def _pre_ratios(width, depth, a, nets, seed):
    out = []
    for s in range(nets):
        net = ns.ResNet(4, width, depth + 2, "relu", a, 2.0, 0.0, weights="orthogonal", variant="pre", rng=seed + s)
        ev = net.jacobian_spectrum(np.random.default_rng(seed + 1000 + s).standard_normal(width))
        out.append([ev.mean(), np.mean(ev ** 2) / ev.mean() ** 2])
    return np.array(out)


def test_pre_variant_moments_against_real_resnets():
    # relu, orthogonal weights, a = 0.5, depth 10: the correlated recursion gives M2/M1^2 = 5.585, the
    # free product of the blocks 4.600.  Real pre-activation ResNets of width 400 (6 nets): within
    # 4 standard errors plus a finite-width allowance of 2 depth/N relative, and the free value lies
    # beyond twice that band
    depth, a, N = 10, 0.5, 400                                  # blocks (depth + 2 weight layers)
    m1, m2 = ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth + 2, variant="pre")
    f1, f2 = ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth + 2, variant="post")
    assert m1 == pytest.approx((1 + a * a) ** depth, rel=1e-13) and f1 == pytest.approx(m1, rel=1e-13)
    r = _pre_ratios(N, depth, a, 6, 40)
    se = r.std(axis=0, ddof=1) / np.sqrt(len(r))
    allow = 2 * depth / N
    assert abs(r[:, 0].mean() - m1) <= 4 * se[0] + allow * m1
    ratio, free = m2 / m1 ** 2, f2 / f1 ** 2
    assert abs(r[:, 1].mean() - ratio) <= 4 * se[1] + allow * ratio
    assert abs(r[:, 1].mean() - free) > 2 * (4 * se[1] + allow * ratio)


@pytest.mark.slow
def test_pre_variant_moments_converge_with_width():
    # widths 100, 400, 1600: within 4 standard errors plus the allowance 2 depth/N relative at each width,
    # the error shrinks from the narrowest to the widest, and the free value is outside the band at 1600
    depth, a = 10, 0.5                                          # blocks (depth + 2 weight layers)
    m1, m2 = ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth + 2, variant="pre")
    f1, f2 = ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth + 2, variant="post")
    ratio = m2 / m1 ** 2
    errs, band = [], 0.0
    for N, nets in ((100, 32), (400, 16), (1600, 4)):
        r = _pre_ratios(N, depth, a, nets, 60)[:, 1]
        band = 4 * r.std(ddof=1) / np.sqrt(nets) + 2 * depth / N * ratio
        errs.append(abs(r.mean() - ratio))
        assert errs[-1] <= band
    assert errs[2] < errs[0]
    assert abs(f2 / f1 ** 2 - ratio) > band + errs[2]


def test_pre_variant_law_routes_to_the_pre_activation_law():
    """Pre blocks are not free: both weight laws go to nn_spectra.resnet_pre (helper-31's law, tested
    there), never to the free product of the post blocks."""
    for weights in ("orthogonal", "gaussian"):
        law = ns.resnet_jacobian_law("relu", 0.3, 2.0, 0.0, depth=3 + 2, weights=weights, variant="pre")
        assert isinstance(law, ns.ResNetPreJacobianLaw) and law.depth == 5 and law.layers == 3


# ----------------------------------------------------------------------------- universal law
def test_universal_law_moments_and_edges():
    tau = 0.7
    law = ns.resnet_universal_law(tau)
    assert law.moments(2) == pytest.approx([np.exp(tau), (1 + 2 * tau) * np.exp(2 * tau)], rel=1e-13)
    # the same moments from the density (quadrature), independent of the Lagrange series:
    # x = c - h cos(theta) absorbs both square-root edges, so Gauss-Legendre in theta converges fast
    a, b = law.support
    th, w = np.polynomial.legendre.leggauss(200)
    th = 0.5 * np.pi * (th + 1)
    x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(th)
    dens = law.pdf(x) * 0.5 * (b - a) * np.sin(th) * 0.5 * np.pi * w
    m = [float(np.sum(x ** k * dens)) for k in (0, 1, 2)]
    assert m == pytest.approx([1.0, np.exp(tau), (1 + 2 * tau) * np.exp(2 * tau)], rel=1e-6)
    assert law.pdf(np.array([a * 0.99, b * 1.01])).max() == 0


@pytest.mark.parametrize("tau", [0.05, 0.6, 3.0])
def test_universal_law_cdf_is_the_integral_of_its_density_and_mass_is_one(tau):
    # the engine's contour cdf (G on vertical rays) against Gauss-Legendre quadrature of the axis
    # density (a second route; x = a + r(1 - cos th) absorbs the square-root edge; 40-node panels on
    # [0, th(x)] graded toward 0, where tau = 3 has 18% of its mass within 1e-4 of the support's
    # width; changes < 1e-13 from 24 to 48 panels), to 1e-10; the replaced trapezoid table
    # (2,001 points, normalised by its own total) was off by 3-9e-7.  Mass by check_mass, 1 +- 1e-10.
    law = ns.resnet_universal_law(tau)
    a, b = law.support
    r = 0.5 * (b - a)
    x = a + (b - a) * np.array([1e-4, 0.05, 0.3, 0.6, 0.9, 0.999])
    t, w = np.polynomial.legendre.leggauss(40)
    edges = np.concatenate([[0.0], np.geomspace(1e-9, 1.0, 24)])
    s_ = (0.5 * (edges[:-1] + edges[1:])[:, None] + 0.5 * np.diff(edges)[:, None] * t).ravel()
    ws = (0.5 * np.diff(edges)[:, None] * w).ravel()
    th_x = np.arccos(1.0 - (x - a) / r)
    th = th_x[:, None] * s_[None, :]
    dens = law.pdf((a + r * (1.0 - np.cos(th))).ravel()).reshape(th.shape)
    ref = (dens * r * np.sin(th) * ws[None, :]).sum(axis=1) * th_x
    assert np.allclose(law.cdf(x), ref, rtol=0, atol=1e-10), np.max(np.abs(law.cdf(x) - ref))
    assert abs(law.check_mass() - 1.0) <= 1e-10
    assert law.cdf(np.array([a, b])).tolist() == [0.0, 1.0]


def _universal_series(tau: float, kappa: float) -> list[tuple[float, float, float]]:
    """1/L expansion of (log M1 - tau, M2/M1^2 - 1 - 2 tau) for L equal free blocks, derived here by
    sympy from the word expansion m1 = 1 + nu1, m2 = 1 + 4 nu1 + nu2 (nu1 = tau/L, nu2 = kappa nu1^2)
    and the additivity of log m1 and m2/m1^2 - 1 over free factors: [(c1, c2, c3)] per quantity."""
    sp = pytest.importorskip("sympy")
    t, e, k = sp.symbols("tau epsilon kappa", positive=True)
    n1, n2 = t * e, k * t ** 2 * e ** 2
    m1, m2 = 1 + n1, 1 + 4 * n1 + n2
    out = []
    for expr in (sp.log(m1) / e - t, (m2 / m1 ** 2 - 1) / e - 2 * t):
        ser = sp.series(expr, e, 0, 4).removeO()
        out.append(tuple(float(ser.coeff(e, p).subs({t: tau, k: kappa})) for p in (1, 2, 3)))
    return out


@pytest.mark.parametrize("weights, kappa", [("orthogonal", 2.0), ("gaussian", 3.0)])
def test_finite_depth_moments_approach_the_universal_ones_with_the_derived_one_over_depth_terms(weights, kappa):
    # relu: E phi'^2 = E phi'^4 = 1/2, kappa = 2 (+1 for the Marchenko-Pastur |W|^2 of Gaussian weights);
    # a^2 sigma_w^2 E phi'^2 L = tau.  The known closed coefficients fix the sympy expansion first.
    tau, L = 0.6, 100
    series = _universal_series(tau, kappa)
    assert series[0][:2] == pytest.approx([-tau ** 2 / 2, tau ** 3 / 3], rel=1e-14)
    assert series[1][:2] == pytest.approx([(kappa - 5) * tau ** 2, 2 * (4 - kappa) * tau ** 3], rel=1e-14)
    m1, m2 = ns.resnet_jacobian_moments("relu", np.sqrt(tau / L), 2.0, 0.0, L + 2, weights=weights)   # L blocks
    uni = ns.resnet_universal_law(tau).moments(2)
    errs = [np.log(m1) - np.log(uni[0]), m2 / m1 ** 2 - uni[1] / uni[0] ** 2]
    for err, (c1, c2, c3) in zip(errs, series):
        # after the 1/L and 1/L^2 terms the remainder is c3/L^3 (+ O(L^-4)): allowed twice that
        assert abs(err - c1 / L - c2 / L ** 2) <= 2 * abs(c3) / L ** 3


def test_finite_depth_laws_converge_to_the_universal_law_at_rate_one_over_depth():
    # a^2 L fixed (tau = 0.6, relu, orthogonal): the finite-depth laws' cdf approaches the universal
    # one with corrections O(1/L) (the 1/L terms of the block expansion, see the moment test above),
    # so the sup distance shrinks tenfold per tenfold depth: ratio in [0.08, 0.12] (stated in advance)
    tau = 0.6
    uni = ns.resnet_universal_law(tau)
    x = np.linspace(*uni.support, 101)[1:-1]
    cu = uni.cdf(x)
    d, edges = [], []
    for L in (10, 100, 1000):
        law = ns.resnet_jacobian_law("relu", np.sqrt(tau / L), 2.0, 0.0, depth=L + 2)     # L blocks
        d.append(np.max(np.abs(law.cdf(x) - cu)))
        edges.append(np.abs(np.array(law.support) - np.array(uni.support)))
    assert 0.08 <= d[1] / d[0] <= 0.12 and 0.08 <= d[2] / d[1] <= 0.12
    assert np.all((0.08 <= edges[2] / edges[1]) & (edges[2] / edges[1] <= 0.12))


# ----------------------------------------------------------------------------- conditional Fisher
@pytest.mark.parametrize("variant", ["pre", "post"])
def test_conditional_fisher_dual_has_the_fisher_spectrum(variant):
    net = ns.ResNet(3, 8, 3 + 2, "tanh", 0.7, 1.5, 0.1, variant=variant, rng=1)
    x0 = np.random.default_rng(2).standard_normal(8)
    H = net.conditional_fisher_dual(x0)
    Jt = net.conditional_fisher_jacobian(x0)
    assert np.allclose(H, Jt @ Jt.T, atol=1e-10)
    ev_f = np.sort(np.linalg.eigvalsh(Jt.T @ Jt))[-8:]
    assert np.allclose(np.sort(np.linalg.eigvalsh(H)), ev_f, atol=1e-9)


def _dual_fisher_moments(act, a, sw, sb, blocks, weights, N, nets, seed):
    # per network: m1, m2 of the eigenvalues of H/N (weights only), and m2/m1^2; |x^0|^2/N = 1 exactly
    out = []
    for s in range(nets):
        net = ns.ResNet(4, N, blocks + 2, act, a, sw, sb, weights=weights, variant="post", rng=seed + s)
        x0 = np.random.default_rng(seed + 1000 + s).standard_normal(N)
        x0 *= np.sqrt(N) / np.linalg.norm(x0)
        ev = np.linalg.eigvalsh(net.conditional_fisher_dual(x0, include_bias=False)) / N
        out.append([ev.mean(), np.mean(ev ** 2), np.mean(ev ** 2) / ev.mean() ** 2])
    return np.array(out)


def _fisher_moments_variant(act, a, sw, sb, blocks, weights, free_cross=False, no_mean=False):
    # wrong models, to show the checks can fail: the added c_l D_l^2 treated as free from I + X_l
    # (cross term 2 c s1 (1 + nu1) tau(G)), or the lengths Q^l without the stream mean
    from nn_spectra.resnet import _d2_moments

    act = ns.activation(act)
    q = ns.resnet_mean_field(act, a, sw, sb, blocks + 2, q0=1.0, variant="post").q
    Q, g1, g2 = 1.0, 0.0, 0.0
    for l in range(blocks):
        Ql = Q if no_mean else q[l]
        s1, s2 = _d2_moments(act, sw * Ql + sb)
        n1, n2 = a * a * sw * s1, (a * a * sw) ** 2 * (s2 + (s1 * s1 if weights == "gaussian" else 0))
        c = a * a * Ql
        cross = 2 * c * s1 * (1 + n1) * g1 if free_cross else 2 * c * (s1 + a * a * sw * s2) * g1
        g2 = (1 + n1) ** 2 * g2 + (2 * n1 + n2 - n1 * n1) * g1 * g1 + cross + c * c * s2
        g1 = (1 + n1) * g1 + c * s1
        Q = Q + a * a * float(ns.gaussian_integrals.activation_moments(act, sw * Ql + sb)[0])
    return g1, g2


def test_conditional_fisher_moments_closed_forms():
    # one linear block: H/N = a^2 Q^0 I; two linear orthogonal blocks: G = a^2 Q0 |1 + a u|^2 + a^2 Q1,
    # with E|1 + r u|^2 = 1 + r^2, E|1 + r u|^4 = 1 + 4 r^2 + r^4 (u Haar unitary) and Q1 = Q0 (1 + a^2)
    a, q0 = 0.6, 1.3
    assert ns.resnet_conditional_fisher_moments("linear", a, 1.0, 0.0, 3, q0=q0) == pytest.approx(
        (a * a * q0, a ** 4 * q0 * q0), rel=1e-13)
    Q0, Q1, r2 = q0, q0 * (1 + a * a), a * a
    m1 = a * a * (Q0 * (1 + r2) + Q1)
    m2 = a ** 4 * (Q0 ** 2 * (1 + 4 * r2 + r2 * r2) + 2 * Q0 * Q1 * (1 + r2) + Q1 ** 2)
    assert ns.resnet_conditional_fisher_moments("linear", a, 1.0, 0.0, 4, q0=q0) == pytest.approx((m1, m2), rel=1e-13)


@pytest.mark.parametrize("act", ["relu", "sigmoid"])
def test_conditional_fisher_moments_against_real_resnets(act):
    # dual H of the conditional Fisher information of real post ResNets (Gaussian weights, width 200,
    # 12 networks): m1, m2 and m2/m1^2 of H/N within 4 standard errors plus 2 B/N relative (finite
    # width, stated in advance).  Power: relu (a = 1, 4 blocks) rejects the model whose added c D^2 is
    # free from the block (m2/m1^2 1.90 against 2.26); sigmoid (E phi = 1/2, 6 blocks) rejects the
    # lengths without the stream mean (m1 0.43 against 0.61)
    a, sw, sb, B = (1.0, 2.0, 0.1, 4) if act == "relu" else (1.0, 1.0, 0.1, 6)
    N, nets = 200, 12
    m1, m2 = ns.resnet_conditional_fisher_moments(act, a, sw, sb, B + 2, weights="gaussian")
    pred = np.array([m1, m2, m2 / m1 ** 2])
    r = _dual_fisher_moments(act, a, sw, sb, B, "gaussian", N, nets, 40)
    band = 4 * r.std(axis=0, ddof=1) / np.sqrt(nets) + 2 * B / N * pred
    assert np.all(np.abs(r.mean(axis=0) - pred) <= band)
    if act == "relu":
        f1, f2 = _fisher_moments_variant(act, a, sw, sb, B, "gaussian", free_cross=True)
        assert abs(r[:, 2].mean() - f2 / f1 ** 2) > band[2]
    else:
        assert abs(r[:, 0].mean() - _fisher_moments_variant(act, a, sw, sb, B, "gaussian", no_mean=True)[0]) > band[0]


@pytest.mark.slow
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_conditional_fisher_moments_against_real_resnets_orthogonal(act):
    # orthogonal weights (Haar sampling is the cost), widths 100 and 400: the same band at each width
    a, sw, sb, B = (0.5, 2.0, 0.1, 6) if act == "relu" else (0.7, 1.5, 0.1, 6)
    m1, m2 = ns.resnet_conditional_fisher_moments(act, a, sw, sb, B + 2, weights="orthogonal")
    pred = np.array([m1, m2, m2 / m1 ** 2])
    for N, nets in ((100, 24), (400, 8)):
        r = _dual_fisher_moments(act, a, sw, sb, B, "orthogonal", N, nets, 60)
        band = 4 * r.std(axis=0, ddof=1) / np.sqrt(nets) + 2 * B / N * pred
        assert np.all(np.abs(r.mean(axis=0) - pred) <= band)


def test_param_gradients_give_the_empirical_ntk_blocks():
    net = ns.ResNet(3, 6, 2 + 2, "relu", 0.5, 2.0, 0.0, rng=3)
    X = np.random.default_rng(4).standard_normal((2, 3))
    eps = 1e-6
    g = net.param_gradients(X)
    W = net.Ws[1]
    W[2, 3] += eps
    fp_ = net.forward(X)
    W[2, 3] -= 2 * eps
    fm = net.forward(X)
    W[2, 3] += eps
    idx = (6 * 6 + 6) + 2 * 6 + 3
    assert np.allclose(g[:, idx], (fp_ - fm) / (2 * eps), atol=1e-7)


# ----------------------------------------------------------------------------- one meaning of depth
def test_theory_and_a_sampled_resnet_agree_on_the_depth():
    # depth = L weight layers (read-in, L - 2 blocks, readout) for the sampler and every theory function.
    # Relu post blocks, Gaussian weights: E tr(J J^T)/N = (1 + a^2 sigma_w^2/2)^B exactly in the wide
    # limit (P(phi'(h) = 1) = 1/2 at every length), so one block more or less moves m1 by 25 %.  The sampled mean lies within 4 standard errors
    # plus 2 B/N relative (finite width, stated in advance) of the theory at L, and outside that band
    # at L - 1 and L + 1; the NNGP of the same nets agrees with resnet_nngp_ntk at the same L
    L, N, a, nets = 5, 200, 0.5, 4
    B = L - 2
    X = np.random.default_rng(9).standard_normal((2, 4))
    law = ns.resnet_jacobian_law("relu", a, 2.0, 0.0, depth=L, weights="gaussian")
    mf = ns.resnet_mean_field("relu", a, 2.0, 0.0, depth=L, variant="post")
    m1 = ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth=L, weights="gaussian")[0]
    K = ns.resnet_nngp_ntk(X, None, L, "relu", a, 2.0, 0.0, "post")[0]
    means, Ks = [], []
    for s in range(nets):
        net = ns.ResNet(4, N, L, "relu", a, 2.0, 0.0, weights="gaussian", variant="post", rng=70 + s)
        assert net.depth == L and net.blocks == len(net.Ws) == B
        means.append(net.jacobian_spectrum(np.random.default_rng(80 + s).standard_normal(N)).mean())
        Ks.append(net.empirical_nngp(X))
    assert law.depth == mf.depth == L and law.layers == mf.blocks == len(mf.chi) == B
    assert m1 == pytest.approx(1.25 ** B, rel=1e-13) and law.moments(1)[0] == pytest.approx(m1, rel=1e-9)
    band = 4 * np.std(means, ddof=1) / np.sqrt(nets) + 2 * B / N * m1
    assert abs(np.mean(means) - m1) <= band
    for other in (L - 1, L + 1):
        assert abs(np.mean(means) - ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth=other)[0]) > band
    Ks = np.array(Ks)
    assert np.all(np.abs(Ks.mean(axis=0) - K) <= 4 * Ks.std(axis=0, ddof=1) / np.sqrt(nets) + 5 * B / N * np.abs(K))
    small = ns.ResNet(3, 5, L, "tanh", a, 1.5, 0.1, rng=0)
    assert small.param_gradients(np.ones((2, 3))).shape == (2, B * (5 * 5 + 5))


def test_depth_counts_weight_layers_at_the_bottom():
    # L = 2: read-in and readout, no block (J = I); the law needs a block
    mf = ns.resnet_mean_field("tanh", 0.5, 1.5, 0.1, depth=2, q0=0.7)
    assert mf.blocks == 0 and list(mf.q) == [0.7] and mf.tau == 0.0
    assert ns.resnet_jacobian_moments("relu", 0.5, 2.0, 0.0, depth=2) == (1.0, 1.0)
    net = ns.ResNet(3, 4, 2, "relu", 0.5, 2.0, 0.0, rng=0)
    assert np.array_equal(net.input_output_jacobian(np.ones(4)), np.eye(4))
    with pytest.raises(ValueError, match=r"depth .*\[3, "):
        ns.resnet_jacobian_law("relu", 0.5, 2.0, 0.0, depth=2)
    with pytest.raises(ValueError, match=r"depth .*\[2, "):
        ns.resnet_nngp_ntk(np.ones((2, 3)), depth=1)


def test_weights_is_the_weight_law_keyword_and_init_is_deprecated():
    a = dict(d=3, width=6, depth=4, act="tanh", a=0.5, sigma_w2=1.5, sigma_b2=0.1, variant="post")
    new = ns.ResNet(**a, weights="orthogonal", rng=1)
    with pytest.warns(DeprecationWarning, match="weights="):
        old = ns.ResNet(**a, init="orthogonal", rng=1)
    assert all(np.array_equal(u, v) for u, v in zip(new.Ws, old.Ws))
    np.testing.assert_allclose(new.Ws[0] @ new.Ws[0].T, 1.5 * np.eye(6), atol=1e-12)
    assert new.weight_law == "orthogonal" and "weights='orthogonal'" in repr(new)
    with pytest.warns(DeprecationWarning, match="weight_law"):
        assert new.init == "orthogonal"
    with pytest.raises(ValueError, match="once"):
        ns.ResNet(**a, weights="orthogonal", init="gaussian")
    with pytest.raises(ValueError, match="weights must be one of"):
        ns.ResNet(**a, weights="identity")
    for f in (ns.resnet_jacobian_law, ns.resnet_jacobian_moments):
        with pytest.raises(ValueError, match="weights must be one of"):
            f("relu", 0.5, 2.0, 0.0, depth=4, weights="haar")


def test_no_resnet_signature_keeps_the_old_weight_keyword_alone():
    import inspect

    bad = []
    for name in getattr(ns, "__all__", dir(ns)):
        if "resnet" not in name.lower() or name.startswith("_"):
            continue
        obj = getattr(ns, name)
        if not callable(obj):
            continue
        targets = [obj.__init__] if inspect.isclass(obj) else [obj]
        for f in targets:
            params = inspect.signature(f).parameters
            if "init" in params and "weights" not in params:
                bad.append(name)
    assert not bad, bad


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("a", [0.0, -1.0])
def test_nonpositive_branch_strength_is_rejected(a):
    # every ResNet entry point names a and its range (a = 0 is the identity network, reached as a limit:
    # test_small_branch_gives_the_identity, test_small_branch_law_concentrates_at_one)
    calls = [lambda: ns.resnet_q_map("relu", 1.0, a, 2.0, 0.0),
             lambda: ns.resnet_mean_field("relu", a, 2.0, 0.0, depth=4),
             lambda: ns.resnet_nngp_ntk(np.ones((2, 3)), None, 4, "relu", a),
             lambda: ns.resnet_jacobian_law("relu", a, 2.0, 0.0, depth=4),
             lambda: ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth=4),
             lambda: ns.resnet_conditional_fisher_moments("relu", a, 2.0, 0.0, depth=4),
             lambda: ns.ResNet(3, 4, 4, "relu", a, 2.0, 0.0)]
    for call in calls:
        with pytest.raises(ValueError, match=r"a \(branch strength\) must lie in \(0, inf\)"):
            call()


def test_other_bad_input():
    with pytest.raises(ValueError, match="depth"):
        ns.resnet_mean_field("relu", 0.5, 2.0, 0.0, depth=0)
    with pytest.raises(ValueError, match="variant"):
        ns.resnet_q_map("relu", 1.0, 0.5, 2.0, 0.0, variant="middle")
    with pytest.raises(ValueError, match="tau"):
        ns.resnet_universal_law(0.0)
    with pytest.raises(ValueError, match="X2"):
        ns.resnet_nngp_ntk(np.ones((2, 3)), np.ones((2, 4)))
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="width must be an integer >= 1"):
            ns.ResNet(3, bad, 4, "relu", 0.5, 2.0, 0.0)
    net = ns.ResNet(3, 4, 4, "relu", 0.5, 2.0, 0.0, rng=0)
    for method in (net.input_output_jacobian, net.conditional_fisher_dual, net.conditional_fisher_jacobian):
        with pytest.raises(ValueError, match="x0 must have 4 entries"):
            method(np.ones(5))
    with pytest.raises(ValueError, match=r"X must have shape \(batch, 3\)"):
        net.empirical_ntk(np.ones((2, 4)))
    with pytest.raises(ValueError, match="q0"):
        ns.resnet_conditional_fisher_moments("relu", 0.5, 2.0, 0.0, 4, q0=-1.0)
