"""Pre-activation ResNet Jacobian law (nn_spectra.resnet_pre) against independent truth.

- linear activation (D = 1): the blocks are free, so the law is the free product of
  nn_spectra.resnet_jacobian_law (closed block S-transform, a different solver) to rounding;
- exact moments: the Gaussian-weight recursion reduces to the free-block formulas where those are exact
  (linear; a single block), its orthogonal case is resnet_jacobian_moments(variant="pre"), and the
  solver's Cauchy transform (contour integral) has exactly the moments of its own path rule, which are
  within the stated path-quadrature error (relative 1/sqrt(paths)) of the exact ones;
- real finite pre-activation ResNets (slow): KS distance to the law shrinks with the width and is
  below the KS distance to the free-product law;
- paths M and 4M (slow): cdfs within the Monte-Carlo scale 1/sqrt(M) stated in the module docstring.
"""
import numpy as np
import pytest

from nn_spectra.resnet import resnet_jacobian_law, resnet_jacobian_moments
from nn_spectra.resnet_pre import resnet_pre_jacobian_law, resnet_pre_jacobian_moments


def _contour_moments(law, n):
    """m_1..m_n from the law's Cauchy transform on a circle around the support's a-priori bound
    (trapezoid rule; the lower half circle is the conjugate)."""
    c, _ = law.frame
    lo, hi = law._from_std(np.array(law._hull()))
    R = 1.2 * max(hi - c, c - min(lo, 0.0))
    K = 256
    th = (np.arange(K // 2) + 0.5) * 2 * np.pi / K
    z = c + R * np.exp(1j * th)
    g = law.cauchy(z)
    return np.array([np.mean(z ** k * g * (z - c)).real for k in range(n + 1)])


# ----------------------------------------------------------------------------- exact moments
def test_gaussian_recursion_linear_is_the_free_product():
    # D = 1: the blocks I + aW_l are free, and the post formula is exact
    for depth in (3, 4, 7):
        m = resnet_pre_jacobian_moments("linear", 0.4, 1.3, 0.2, depth, weights="gaussian")
        ref = resnet_jacobian_moments("linear", 0.4, 1.3, 0.2, depth, weights="gaussian", variant="post")
        assert m == pytest.approx(ref, rel=1e-13)


def test_gaussian_recursion_one_block_relu():
    # one block: nothing to correlate; relu's D^2 law does not depend on the variance, so pre = post
    m = resnet_pre_jacobian_moments("relu", 0.5, 2.0, 0.0, 3, weights="gaussian")
    ref = resnet_jacobian_moments("relu", 0.5, 2.0, 0.0, 3, weights="gaussian", variant="post")
    assert m == pytest.approx(ref, rel=1e-13)


def test_orthogonal_recursion_is_resnet_pre_moments():
    for act in ("relu", "tanh"):
        m = resnet_pre_jacobian_moments(act, 0.5, 2.0, 0.1, 8, weights="orthogonal")
        ref = resnet_jacobian_moments(act, 0.5, 2.0, 0.1, 8, weights="orthogonal", variant="pre")
        assert m == pytest.approx(ref, rel=1e-12)


def test_gaussian_exceeds_orthogonal_by_the_fourth_cumulant():
    # the circular-vs-Haar difference is the kappa_4 word only: m1 equal, m2 larger for Gaussian weights
    g = resnet_pre_jacobian_moments("relu", 0.5, 2.0, 0.0, 10, weights="gaussian")
    o = resnet_pre_jacobian_moments("relu", 0.5, 2.0, 0.0, 10, weights="orthogonal")
    assert g[0] == pytest.approx(o[0], rel=1e-14)
    assert g[1] > o[1]


# ----------------------------------------------------------------------------- the law
@pytest.mark.parametrize("depth", [3, 5])
def test_linear_law_is_the_free_product_law(depth):
    law = resnet_pre_jacobian_law("linear", 0.5, 1.0, 0.0, depth, paths=64)
    ref = resnet_jacobian_law("linear", 0.5, 1.0, 0.0, depth, weights="gaussian", variant="post")
    lo, hi = ref.support
    x = lo + (hi - lo) * np.array([0.02, 0.1, 0.3, 0.5, 0.8, 0.97])
    np.testing.assert_allclose(law.pdf(x), ref.pdf(x), rtol=1e-8, atol=1e-12)


def test_solver_moments_are_its_rule_moments_and_near_exact():
    # relu, 3 blocks: the Cauchy transform solved by the engine has the m1, m2 of the exact recursion
    # with the rule's path moments (the solver never uses them), to contour accuracy; the rule's m2 is
    # within the stated quadrature error 1/sqrt(paths) of the infinite-width m2
    paths = 256
    law = resnet_pre_jacobian_law("relu", 0.5, 2.0, 0.0, 5, paths=paths)
    m = _contour_moments(law, 2)
    assert m[0] == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(m[1:], law._rule_moments, rtol=1e-8)
    ex = resnet_pre_jacobian_moments("relu", 0.5, 2.0, 0.0, 5)
    assert law.exact_moments == pytest.approx(ex, rel=1e-14)
    assert law._rule_moments[0] == pytest.approx(ex[0], rel=1e-12)     # antithetic pairs: tau(s_l) = 1/2
    assert law.moment_error <= 1.0 / np.sqrt(paths)


def test_depth_and_attributes():
    law = resnet_pre_jacobian_law("relu", 0.5, 2.0, 0.0, 6, paths=64)
    assert (law.depth, law.layers, law.paths) == (6, 4, 64)
    assert law.s.shape == (64, 4)


@pytest.mark.parametrize("kw, word", [
    (dict(a=0.0), "a"), (dict(a=-1.0), "a"), (dict(sigma_w2=0.0), "sigma_w2"), (dict(sigma_b2=-1.0), "sigma_b2"),
    (dict(depth=2), "depth"), (dict(depth=4.0), "depth"), (dict(weights="orthogonal"), "weights"),
    (dict(weights="haar"), "weights"), (dict(paths=100), "paths"), (dict(paths=32), "paths"),
    (dict(seed=-1), "seed"), (dict(q0=0.0), "q0"),
])
def test_bad_input(kw, word):
    args = dict(act="relu", a=0.5, sigma_w2=2.0, sigma_b2=0.0, depth=5)
    args.update(kw)
    with pytest.raises(ValueError, match=word):
        resnet_pre_jacobian_law(**args)


def test_bad_input_moments():
    with pytest.raises(ValueError, match="weights"):
        resnet_pre_jacobian_moments("relu", 0.5, 2.0, 0.0, 5, weights="unitary")
    with pytest.raises(ValueError, match="depth"):
        resnet_pre_jacobian_moments("relu", 0.5, 2.0, 0.0, 1)


# ----------------------------------------------------------------------------- slow checks
def _ks(law_cdf, ev, x):
    E = np.searchsorted(ev, x, side="right") / ev.size
    Em = np.searchsorted(ev, x, side="left") / ev.size
    F = law_cdf(x)
    return max(np.max(np.abs(E - F)), np.max(np.abs(Em - F)))


@pytest.mark.slow
@pytest.mark.parametrize("act, sw", [("relu", 2.0), ("tanh", 1.5)])
def test_real_resnets_converge_to_the_law(act, sw):
    from nn_spectra.activations import activation
    from nn_spectra.resnet import ResNetJacobianLaw, _block_rules, _group_blocks
    from nn_spectra.resnet_network import ResNet

    a, depth = 0.5, 10
    law = resnet_pre_jacobian_law(act, a, sw, 0.0, depth, paths=1024)
    rules, _, _ = _block_rules(activation(act), a, sw, 0.0, depth - 2, 1.0, "pre", 128)
    free = ResNetJacobianLaw(_group_blocks(rules, a * a * sw), "gaussian")     # the (wrong) free product
    lo, hi = law.support
    x = np.geomspace(max(lo, 1e-6), hi, 150)
    rng = np.random.default_rng(1)
    ks, ks_free = {}, {}
    for N, nets in ((200, 10), (800, 3)):
        ev = np.sort(np.concatenate([
            ResNet(3, N, depth, act, a, sw, 0.0, weights="gaussian", variant="pre", rng=rng)
            .jacobian_spectrum(rng.standard_normal(N)) for _ in range(nets)]))
        ks[N], ks_free[N] = _ks(law.cdf, ev, x), _ks(free.cdf, ev, x)
    assert ks[800] < ks[200]
    assert ks[800] < ks_free[800]
    assert abs(law.total_mass - 1.0) < 1e-3


@pytest.mark.slow
def test_paths_m_and_4m_agree_at_the_stated_rate():
    M = 256
    law1 = resnet_pre_jacobian_law("relu", 0.5, 2.0, 0.0, 8, paths=M, seed=3)
    law4 = resnet_pre_jacobian_law("relu", 0.5, 2.0, 0.0, 8, paths=4 * M, seed=3)
    lo, hi = law4.support
    x = np.geomspace(max(lo, 1e-6), hi, 60)
    assert np.max(np.abs(law1.cdf(x) - law4.cdf(x))) <= 1.0 / np.sqrt(M)
    assert law4.moment_error <= 1.0 / np.sqrt(4 * M)
