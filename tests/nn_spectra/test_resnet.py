"""Residual networks: mean field, kernels, the Jacobian law and the universal large-depth law.

Independent truths: closed forms of the q-map (relu), adaptive 1-D quadrature (tanh), the exact
arcsine law of |1 + r u|^2 for a Haar unitary u, the word expansion of the block moments,
real finite ResNets (Monte Carlo, tolerances in standard errors with z = 4 or rates stated in
advance), and the exact duality of the conditional Fisher information.
"""
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
    mf = ns.resnet_mean_field("relu", a, sw, 0.0, depth=6, q0=q)
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
    mf = ns.resnet_mean_field("tanh", a, sw, sb, depth=40, q0=400.0)
    assert np.all(mf.chi >= 1.0)
    slope = np.diff(mf.q)
    pred = a * a * (sw * (1 - 2 / np.sqrt(2 * np.pi * mf.q[:-1])) + sb)
    assert np.all(np.abs(slope / pred - 1) < 1e-3)


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("variant,act", [("pre", "relu"), ("post", "tanh")])
def test_kernels_against_wide_resnets(variant, act):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 4))
    depth, a, sw, sb, N, nets = 3, 0.6, 1.5, 0.2, 800, 6
    K, T = ns.resnet_nngp_ntk(X, None, depth, act, a, sw, sb, variant)
    Ks, Ts = [], []
    for s in range(nets):
        net = ns.ResNet(4, N, depth, act, a, sw, sb, variant=variant, rng=100 + s)
        Ks.append(net.empirical_nngp(X))
        Ts.append(net.empirical_ntk(X))
    for emp, th in ((np.array(Ks), K), (np.array(Ts), T)):
        se = emp.std(axis=0, ddof=1) / np.sqrt(nets)
        # z = 4 standard errors plus the O(depth/N) finite-width bias, allowed as 5 depth/N relative
        assert np.all(np.abs(emp.mean(axis=0) - th) <= 4 * se + 5 * depth / N * np.abs(th))


# ----------------------------------------------------------------------------- Jacobian law
def test_depth_one_orthogonal_linear_is_the_arcsine_law():
    # |1 + r u|^2 = 1 + r^2 + 2 r cos(theta), theta uniform: arcsine law on [(1-r)^2, (1+r)^2]
    r = 0.5
    law = ns.resnet_jacobian_law("linear", r, 1.0, 0.0, depth=1)
    x = np.array([0.4, 0.9, 1.3, 2.0])
    exact = 1 / (np.pi * np.sqrt((x - (1 - r) ** 2) * ((1 + r) ** 2 - x)))
    assert np.allclose(law.pdf(x), exact, rtol=1e-8)
    A, B = 1 + r * r, 2 * r
    assert np.allclose(law.moments(3), [A, A * A + B * B / 2, A ** 3 + 1.5 * A * B * B], rtol=1e-9)


def test_arcsine_support_edges():
    r = 0.5
    law = ns.resnet_jacobian_law("linear", r, 1.0, 0.0, depth=1)
    # inverse-square-root edges (G diverges there): found from exact axis values inside (the engine's
    # f^-2 fit) to about 1e-8; the lower one is also the end of the real branch x(zeta), zeta < -1
    assert law.support[0] == pytest.approx((1 - r) ** 2, rel=1e-7)
    assert law.support[1] == pytest.approx((1 + r) ** 2, rel=1e-7)


def test_small_branch_law_concentrates_at_one():
    # the block equations are written in zeta and q (S_k = (1 - q/(1+zeta))(1 - q/zeta)), every term of
    # the log-equation without cancellation: they stay well conditioned as a -> 0
    # (tests/nn_spectra/test_resnet_small_branch.py checks this regime against exact truths)
    law = ns.resnet_jacobian_law("tanh", 1e-4, 1.0, 0.0, depth=3)
    lo, hi = law.support
    assert 1 - 1e-3 < lo <= 1 <= hi < 1 + 1e-3


def test_law_moments_match_the_exact_block_recursion():
    law = ns.resnet_jacobian_law("relu", 0.4, 2.0, 0.0, depth=5, weights="gaussian")
    m1, m2 = ns.resnet_jacobian_moments("relu", 0.4, 2.0, 0.0, 5, weights="gaussian")
    assert law.moments(2) == pytest.approx([m1, m2], rel=1e-8)
    # relu: m1 = (1 + a^2 sigma_w^2/2)^L exactly
    assert m1 == pytest.approx(1.16 ** 5, rel=1e-14)


def test_small_branch_gives_the_identity():
    net = ns.ResNet(3, 20, 4, "tanh", 1e-12, 1.0, 0.0, rng=0)
    assert np.abs(net.input_output_jacobian(np.ones(20)) - np.eye(20)).max() < 1e-10


def _real_spectrum(width, depth, a, weights, nets, seed):
    ev = []
    for s in range(nets):
        net = ns.ResNet(4, width, depth, "relu", a, 2.0, 0.0, init=weights, variant="post", rng=seed + s)
        ev.append(net.jacobian_spectrum(np.random.default_rng(seed + 1000 + s).standard_normal(width)))
    return np.concatenate(ev)


def test_law_against_real_resnets_reduced():
    # KS at width 256 below the one at width 64 (same number of eigenvalues) and below 0.03
    law = ns.resnet_jacobian_law("relu", 0.3, 2.0, 0.0, depth=4, weights="gaussian")
    ks_small = rm.ks_distance(_real_spectrum(64, 4, 0.3, "gaussian", 4, 0), law)
    ks_large = rm.ks_distance(_real_spectrum(256, 4, 0.3, "gaussian", 1, 50), law)
    assert ks_large < ks_small
    assert ks_large < 0.03


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
@pytest.mark.parametrize("depth", [10, 100])
def test_law_against_real_resnets_full(weights, depth):
    a = 1.0 / np.sqrt(depth)
    law = ns.resnet_jacobian_law("relu", a, 2.0, 0.0, depth=depth, weights=weights)
    ks = [rm.ks_distance(_real_spectrum(n, depth, a, weights, 1600 // n, 7), law) for n in (100, 400, 1600)]
    assert ks[2] < ks[0]
    assert ks[2] < 0.01


def test_pre_moment_recursion_with_independent_blocks_is_the_free_product():
    # fed independent D_l (tau(D_i^2 D_j^2) = tau(D_i^2) tau(D_j^2) for i != j), the correlated recursion
    # must reduce to the free-product formula of the post variant's block moments
    from nn_spectra import resnet as R

    act, a, sw, L = ns.activation("tanh"), 0.4, 1.5, 6
    q = ns.resnet_mean_field(act, a, sw, 0.1, L, variant="pre").q_phi
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
        net = ns.ResNet(4, width, depth, "relu", a, 2.0, 0.0, init="orthogonal", variant="pre", rng=seed + s)
        ev = net.jacobian_spectrum(np.random.default_rng(seed + 1000 + s).standard_normal(width))
        out.append([ev.mean(), np.mean(ev ** 2) / ev.mean() ** 2])
    return np.array(out)


def test_pre_variant_moments_against_real_resnets():
    # relu, orthogonal weights, a = 0.5, depth 10: the correlated recursion gives M2/M1^2 = 5.585, the
    # free product of the blocks 4.600.  Real pre-activation ResNets of width 400 (6 nets): within
    # 4 standard errors plus a finite-width allowance of 2 depth/N relative, and the free value lies
    # beyond twice that band
    depth, a, N = 10, 0.5, 400
    m1, m2 = ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth, variant="pre")
    f1, f2 = ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth, variant="post")
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
    depth, a = 10, 0.5
    m1, m2 = ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth, variant="pre")
    f1, f2 = ns.resnet_jacobian_moments("relu", a, 2.0, 0.0, depth, variant="post")
    ratio = m2 / m1 ** 2
    errs, band = [], 0.0
    for N, nets in ((100, 32), (400, 16), (1600, 4)):
        r = _pre_ratios(N, depth, a, nets, 60)[:, 1]
        band = 4 * r.std(ddof=1) / np.sqrt(nets) + 2 * depth / N * ratio
        errs.append(abs(r.mean() - ratio))
        assert errs[-1] <= band
    assert errs[2] < errs[0]
    assert abs(f2 / f1 ** 2 - ratio) > band + errs[2]


def test_pre_variant_law_is_refused():
    with pytest.raises(ValueError, match="not free"):
        ns.resnet_jacobian_law("relu", 0.3, 2.0, 0.0, depth=3, variant="pre")


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
    m1, m2 = ns.resnet_jacobian_moments("relu", np.sqrt(tau / L), 2.0, 0.0, L, weights=weights)
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
        law = ns.resnet_jacobian_law("relu", np.sqrt(tau / L), 2.0, 0.0, depth=L)
        d.append(np.max(np.abs(law.cdf(x) - cu)))
        edges.append(np.abs(np.array(law.support) - np.array(uni.support)))
    assert 0.08 <= d[1] / d[0] <= 0.12 and 0.08 <= d[2] / d[1] <= 0.12
    assert np.all((0.08 <= edges[2] / edges[1]) & (edges[2] / edges[1] <= 0.12))


# ----------------------------------------------------------------------------- conditional Fisher
@pytest.mark.parametrize("variant", ["pre", "post"])
def test_conditional_fisher_dual_has_the_fisher_spectrum(variant):
    net = ns.ResNet(3, 8, 3, "tanh", 0.7, 1.5, 0.1, variant=variant, rng=1)
    x0 = np.random.default_rng(2).standard_normal(8)
    H = net.conditional_fisher_dual(x0)
    Jt = net.conditional_fisher_jacobian(x0)
    assert np.allclose(H, Jt @ Jt.T, atol=1e-10)
    ev_f = np.sort(np.linalg.eigvalsh(Jt.T @ Jt))[-8:]
    assert np.allclose(np.sort(np.linalg.eigvalsh(H)), ev_f, atol=1e-9)


def test_param_gradients_give_the_empirical_ntk_blocks():
    net = ns.ResNet(3, 6, 2, "relu", 0.5, 2.0, 0.0, rng=3)
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


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("a", [0.0, -1.0])
def test_nonpositive_branch_strength_is_rejected(a):
    with pytest.raises(ValueError, match="a"):
        ns.resnet_q_map("relu", 1.0, a, 2.0, 0.0)
    with pytest.raises(ValueError, match="a"):
        ns.resnet_jacobian_law("relu", a, 2.0, 0.0, depth=2)
    with pytest.raises(ValueError, match="a"):
        ns.ResNet(3, 4, 2, "relu", a, 2.0, 0.0)


def test_other_bad_input():
    with pytest.raises(ValueError, match="depth"):
        ns.resnet_mean_field("relu", 0.5, 2.0, 0.0, depth=0)
    with pytest.raises(ValueError, match="variant"):
        ns.resnet_q_map("relu", 1.0, 0.5, 2.0, 0.0, variant="middle")
    with pytest.raises(ValueError, match="tau"):
        ns.resnet_universal_law(0.0)
    with pytest.raises(ValueError, match="X2"):
        ns.resnet_nngp_ntk(np.ones((2, 3)), np.ones((2, 4)))
