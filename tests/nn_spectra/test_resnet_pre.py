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

Haar orthogonal weights (the Haar-unitary cumulants over the D algebra):
- linear activation: the free product of resnet_jacobian_law(weights="orthogonal") to rounding (a different
  solver, the closed block S-transform); the solver's m1, m2 are the exact orthogonal recursion
  (resnet_jacobian_moments(variant="pre"), a different code path) with the rule's path moments;
- a -> 0: the support lies inside the norm bound [(1 - a sigma_w)^(2B), (1 + a sigma_w)^(2B)] (||O|| = 1,
  |phi'| <= 1), which closes on 1 (the identity);
- real orthogonal pre-activation ResNets (slow): KS shrinks with the width at the 1/sqrt(N nets) rate.

The fast route (quasi-Newton sweep, used from 16 blocks on) against the engine's route at small depth:
densities to 1e-6 of the maximum, edges to 1e-5 relative (both routes accept states at the residual 1e-12).
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
    (dict(depth=2), "depth"), (dict(depth=4.0), "depth"), (dict(fast="yes"), "fast"),
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


# ----------------------------------------------------------------------------- orthogonal weights
def test_orthogonal_linear_law_is_the_free_product_law():
    law = resnet_pre_jacobian_law("linear", 0.5, 1.0, 0.0, 5, weights="orthogonal", paths=64)
    ref = resnet_jacobian_law("linear", 0.5, 1.0, 0.0, 5, weights="orthogonal", variant="post")
    lo, hi = ref.support
    x = lo + (hi - lo) * np.array([0.02, 0.1, 0.3, 0.5, 0.8, 0.97])
    np.testing.assert_allclose(law.pdf(x), ref.pdf(x), rtol=1e-8, atol=1e-12)


def test_orthogonal_solver_moments_are_the_haar_recursion():
    # the Haar system (kappa_4 = -1 through the factors A_l) against the orthogonal moment recursion
    # with the rule's path moments, and the Gaussian law's m2 is larger (kappa_4 = 0)
    paths = 256
    law = resnet_pre_jacobian_law("relu", 0.5, 2.0, 0.0, 5, weights="orthogonal", paths=paths)
    m = _contour_moments(law, 2)
    assert m[0] == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(m[1:], law._rule_moments, rtol=1e-8)
    ref = resnet_jacobian_moments("relu", 0.5, 2.0, 0.0, 5, weights="orthogonal", variant="pre")
    assert law.exact_moments == pytest.approx(ref, rel=1e-12)
    assert law.moment_error <= 1.0 / np.sqrt(paths)
    gauss = resnet_pre_jacobian_law("relu", 0.5, 2.0, 0.0, 5, weights="gaussian", paths=paths)
    assert gauss._rule_moments[1] > law._rule_moments[1]


@pytest.mark.parametrize("a", [3e-3, 3e-2])
def test_orthogonal_small_branch_tends_to_the_identity(a):
    # ||I + a sigma_w O D|| <= 1 + a sigma_w for relu (|D| <= 1), so the squared singular values of J lie in
    # [(1 - a sigma_w)^(2B), (1 + a sigma_w)^(2B)], an interval closing on 1 as a -> 0; m1 = (1 + a^2 sw/2)^B
    sw, depth = 2.0, 6
    B = depth - 2
    law = resnet_pre_jacobian_law("relu", a, sw, 0.0, depth, weights="orthogonal", paths=64)
    lo, hi = law.support
    r = a * np.sqrt(sw)
    assert (1 - r) ** (2 * B) * (1 - 1e-12) <= lo < 1 < hi <= (1 + r) ** (2 * B) * (1 + 1e-12)
    assert law._rule_moments[0] == pytest.approx((1 + a * a * sw / 2) ** B, rel=1e-13)


def test_routing_of_resnet_jacobian_law():
    law = resnet_jacobian_law("relu", 0.3, 2.0, 0.0, 5, weights="orthogonal", variant="pre")
    assert isinstance(law, type(resnet_pre_jacobian_law("relu", 0.3, 2.0, 0.0, 5, paths=64)))
    assert law.weights == "orthogonal" and law.layers == 3


# ----------------------------------------------------------------------------- fast route
@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_fast_route_agrees_with_the_engine_route(weights):
    args = ("relu", 0.5, 2.0, 0.0, 7)
    slow = resnet_pre_jacobian_law(*args, weights=weights, paths=64, fast=False)
    fast = resnet_pre_jacobian_law(*args, weights=weights, paths=64, fast=True)
    assert fast.fast and not slow.fast
    np.testing.assert_allclose(fast.support, slow.support, rtol=1e-5)
    lo, hi = slow.support
    x = lo + (hi - lo) * np.linspace(0.002, 0.998, 41) ** 2
    ds = slow.pdf(x)
    np.testing.assert_allclose(fast.pdf(x), ds, rtol=0, atol=1e-6 * ds.max())


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_cdf_table_is_the_contour_cdf_and_mass_is_one(weights):
    # the cdf is the engine-level table of the density (freeprob.density_table); the engine's contour
    # cdf (G on vertical rays, ~300 solves a point) is the independent route: 1e-8 at 5 points.  Mass 1
    # +- 1e-10 by the table's total and by check_mass.  The replaced Simpson table (401 points per
    # interval, PCHIP between them) had a total of 1.000328 at depth 10 (relu, orthogonal, 256 paths).
    from freeprob.solved import SolvedLaw

    law = resnet_pre_jacobian_law("relu", 0.5, 2.0, 0.0, 7, weights=weights, paths=64, fast=True)
    lo, hi = law.support
    x = lo + (hi - lo) * np.array([1e-4, 0.02, 0.2, 0.5, 0.95])
    np.testing.assert_allclose(law.cdf(x), SolvedLaw._cdf(law, x), rtol=0, atol=1e-8)
    assert abs(law.total_mass - 1.0) <= 1e-10
    assert abs(law.check_mass() - 1.0) <= 1e-10


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


def _symmetric_input(N, rng):
    """x^0 with the normal quantiles as coordinates (|x^0|^2/N -> 1, exactly half positive), permuted: the
    input's own sign fraction is the largest between-network fluctuation of a relu stream."""
    from scipy.special import ndtri

    return rng.permutation(ndtri((np.arange(N) + 0.5) / N))


@pytest.mark.slow
@pytest.mark.parametrize("act, sw", [("relu", 2.0), ("tanh", 1.5)])
def test_real_orthogonal_resnets_converge_to_the_law(act, sw):
    # stated in advance: the pooled KS distance falls at least at the rate 1/sqrt(N nets) of the
    # between-network fluctuation (allowing 1.5x): 8 networks of width 200 -> 4 of width 800 gives
    # KS_800 <= 1.5 KS_200 / sqrt(2); and at width 800 the law is closer than the Gaussian-weight law and
    # the (wrong) free product of post-variant blocks
    from nn_spectra.resnet_network import ResNet

    a, depth = 0.5, 10
    law = resnet_pre_jacobian_law(act, a, sw, 0.0, depth, weights="orthogonal", paths=1024)
    gauss = resnet_pre_jacobian_law(act, a, sw, 0.0, depth, weights="gaussian", paths=1024)
    free = resnet_jacobian_law(act, a, sw, 0.0, depth, weights="orthogonal", variant="post")
    lo, hi = law.support
    x = np.geomspace(max(lo, 1e-6), hi, 150)
    rng = np.random.default_rng(1)
    ks = {}
    for N, nets in ((200, 8), (800, 4)):
        ev = np.sort(np.concatenate([
            ResNet(3, N, depth, act, a, sw, 0.0, weights="orthogonal", variant="pre", rng=rng)
            .jacobian_spectrum(_symmetric_input(N, rng)) for _ in range(nets)]))
        ks[N] = _ks(law.cdf, ev, x)
    assert ks[800] <= 1.5 * ks[200] / np.sqrt(2)
    assert ks[800] < min(_ks(gauss.cdf, ev, x), _ks(free.cdf, ev, x))
    assert abs(law.total_mass - 1.0) < 1e-3


@pytest.mark.slow
def test_depth_100_fast_law_against_real_networks():
    # depth 102 (100 blocks), a = 0.1, relu, orthogonal weights, the fast route: KS falls from width
    # 200 (4 networks) to 800 (2 networks) at the stated rate 1/sqrt(N nets) (1.5x slack), and the law is
    # closer than the free product of post blocks
    from nn_spectra.resnet_network import ResNet

    a, depth = 0.1, 102
    law = resnet_pre_jacobian_law("relu", a, 2.0, 0.0, depth, weights="orthogonal", paths=256)
    assert law.fast
    free = resnet_jacobian_law("relu", a, 2.0, 0.0, depth, weights="orthogonal", variant="post")
    lo, hi = law.support
    x = np.geomspace(lo, hi, 120)
    rng = np.random.default_rng(2)
    ks = {}
    for N, nets in ((200, 4), (800, 2)):
        ev = np.sort(np.concatenate([
            ResNet(3, N, depth, "relu", a, 2.0, 0.0, weights="orthogonal", variant="pre", rng=rng)
            .jacobian_spectrum(_symmetric_input(N, rng)) for _ in range(nets)]))
        ks[N] = _ks(law.cdf, ev, x)
    assert ks[800] <= 1.5 * ks[200] / np.sqrt(2)
    assert ks[800] < _ks(free.cdf, ev, x)


# ----------------------------------------------------------------------------- the grid at z = 0
@pytest.mark.parametrize("depth, fast", [(5, True), (8, True), (5, False)])
def test_support_when_the_grid_starts_at_zero(depth, fast):
    # The support grid starts at the hull's lower end 0, where the chain's last pivot is z = 0 and
    # the state at the axis has exact zeros: a right pivot of the Jacobian's factors is then
    # infinite and its phase r/|r| was a complex division by zero that numba raises
    # (`resnet_pre_jacobian_law("relu", 0.1, 2.0, 0.0, depth=32, weights="orthogonal",
    # paths=256).support` raised ZeroDivisionError; so did these).  Independent checks of the
    # support found: it lies in the norm bound [(1 - sqrt(beta))^(2B), (1 + sqrt(beta))^(2B)]
    # (||O|| = 1, |relu'| <= 1), and the density integrated over it (adaptive panels) has mass 1 and
    # the first two moments of the exact recursion with the rule's path moments (no solver), to 1e-11
    # relative: an edge off by d would lose ~d^(3/2) of mass.
    law = resnet_pre_jacobian_law("relu", 0.1, 2.0, 0.0, depth=depth, weights="orthogonal", paths=64, fast=fast)
    (lo, hi), = law.intervals
    b, B = np.sqrt(law.beta), law.layers
    assert (1 - b) ** (2 * B) < lo < hi < (1 + b) ** (2 * B)
    assert law.edge_uncertainty == {}
    m1, m2 = law._rule_moments
    assert abs(law.expect(np.ones_like) - 1.0) <= 1e-11
    assert abs(law.expect(lambda x: x) / m1 - 1.0) <= 1e-11
    assert abs(law.expect(lambda x: x * x) / m2 - 1.0) <= 1e-11


@pytest.mark.slow
def test_support_of_the_issue_case():
    # the case of the issue (32 weight layers, 256 paths), ~45 s
    law = resnet_pre_jacobian_law("relu", 0.1, 2.0, 0.0, depth=32, weights="orthogonal", paths=256)
    (lo, hi), = law.intervals
    b, B = np.sqrt(law.beta), law.layers
    assert (1 - b) ** (2 * B) < lo < hi < (1 + b) ** (2 * B)
    m1, m2 = law._rule_moments
    assert abs(law.expect(np.ones_like) - 1.0) <= 1e-11
    assert abs(law.expect(lambda x: x) / m1 - 1.0) <= 1e-11
    assert abs(law.expect(lambda x: x * x) / m2 - 1.0) <= 1e-11


def test_uses_only_the_documented_engine_api():
    # every private method resnet_pre calls on the law is its own or a hook the SolvedLaw docstring
    # documents (the engine's building blocks are public: continue_from_infinity, newton_refine,
    # axis_limit, bracket_edge)
    import ast
    import inspect
    import re

    import nn_spectra.resnet_pre as mod
    from freeprob import SolvedLaw

    tree = ast.parse(inspect.getsource(mod))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ResNetPreJacobianLaw")
    own = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    hooks = set(re.findall(r"``(_[a-z_]+)\(", SolvedLaw.__doc__))
    called = {n.func.attr for n in ast.walk(cls) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
              and isinstance(n.func.value, ast.Name) and n.func.value.id == "self"
              and n.func.attr.startswith("_") and not n.func.attr.startswith("__")}
    assert called - own - hooks - {"_freeze", "_cauchy"} == set()
    for name in ("continue_from_infinity", "newton_refine", "axis_limit", "bracket_edge"):
        assert getattr(SolvedLaw, name).__doc__
