"""The ResNet Jacobian law as the branch strength a -> 0 (blocks I + a W D tending to the identity).

Independent truths: the exact arcsine law of |1 + a u|^2 (u Haar unitary) at every a; exact rational
moments of the free product of L such blocks by noncrossing partitions (freeprob.combinatorics,
Kreweras complements, no S-transform); the a -> 0 limit of (x - 1)/a, the free sum of L copies of
u + u^* (Kesten-McKay with d = 2L), approached at rate O(a) (stated in advance); the exact block
recursion for the mean and variance of a tanh ResNet.

``depth`` is L, the number of weight layers (read-in, B = L - 2 blocks, readout): below, ``depth`` is
the number of blocks and the functions are called with ``depth + 2``.
"""
from fractions import Fraction
from math import comb

import numpy as np
import pytest

import nn_spectra as ns
from freeprob.combinatorics import boxtimes_moments, moments_to_free_cumulants


def _arcsine_pdf(x, a):
    return 1.0 / (np.pi * np.sqrt((x - (1 - a) ** 2) * ((1 + a) ** 2 - x)))


@pytest.mark.parametrize("a", [0.5, 1e-2, 1e-4, 1e-6])
def test_one_linear_block_is_the_arcsine_law_at_every_branch_strength(a):
    # |1 + a u|^2 = 1 + a^2 + 2a cos(theta), theta uniform: arcsine on [(1-a)^2, (1+a)^2]
    law = ns.resnet_jacobian_law("linear", a, 1.0, 0.0, depth=1 + 2)
    th = np.array([0.3, 1.2, 2.0, 2.9])
    x = 1 + a * a + 2 * a * np.cos(th)
    assert np.allclose(law.pdf(x), _arcsine_pdf(x, a), rtol=1e-8)
    cdf = 1 - th / np.pi
    assert np.allclose(law.cdf(x), cdf, rtol=0, atol=1e-10)
    lo, hi = law.support
    # inverse-square-root edges, located from exact axis values inside: to 1e-7 of the width 4a
    assert abs(lo - (1 - a) ** 2) <= 4e-7 * a
    assert abs(hi - (1 + a) ** 2) <= 4e-7 * a


def _block_moments(a: Fraction, n: int) -> list:
    """E|1 + a u|^(2k), k = 1..n, exactly: (1 + a^2 + a(u + u*))^k, E(u + u*)^(2j) = C(2j, j)."""
    A = 1 + a * a
    return [sum(comb(k, i) * A ** (k - i) * a ** i * (comb(i, i // 2) if i % 2 == 0 else 0) for i in range(k + 1))
            for k in range(1, n + 1)]


def _product_moments(a: Fraction, depth: int, n: int) -> list:
    m = _block_moments(a, n)
    kappa = moments_to_free_cumulants(m)
    out = m
    for _ in range(depth - 1):
        out = boxtimes_moments(kappa, out)
    return out


@pytest.mark.parametrize("a", [Fraction(1, 2), Fraction(1, 1000)])
def test_moments_of_the_free_product_of_linear_blocks_are_the_exact_rationals(a):
    n, depth = 5, 3
    exact = [float(v) for v in _product_moments(a, depth, n)]
    law = ns.resnet_jacobian_law("linear", float(a), 1.0, 0.0, depth=depth + 2)
    assert law.moments(n) == pytest.approx(exact, rel=1e-13)


def _interval_moments(law, powers, center, scale, nodes=400):
    """int ((x - center)/scale)^k pdf(x) dx over the law's intervals (Gauss-Legendre in theta after
    x = c - r cos(theta), which absorbs square-root and inverse-square-root ends)."""
    th, w = np.polynomial.legendre.leggauss(nodes)
    th = 0.5 * np.pi * (th + 1)
    w = 0.5 * np.pi * w
    out = np.zeros(len(powers))
    for lo, hi in law.intervals:
        x = 0.5 * (lo + hi) - 0.5 * (hi - lo) * np.cos(th)
        dens = law.pdf(x) * 0.5 * (hi - lo) * np.sin(th) * w
        xi = (x - center) / scale
        out += np.array([np.sum(xi ** k * dens) for k in powers])
    return out


def test_density_at_a_tiny_branch_strength_has_the_exact_centred_moments():
    # a = 1e-4, three linear blocks: the law lives in 1 +- 7e-4; the centred moments of (x - 1)/a from
    # the density (quadrature) against the exact rationals (noncrossing partitions)
    a, depth = Fraction(1, 10000), 3
    m = [Fraction(1)] + _product_moments(a, depth, 4)
    central = [sum(comb(k, i) * m[i] * (-1) ** (k - i) for i in range(k + 1)) / a ** k for k in range(5)]
    law = ns.resnet_jacobian_law("linear", float(a), 1.0, 0.0, depth=depth + 2)
    got = _interval_moments(law, [0, 1, 2, 3, 4], 1.0, float(a))
    assert got == pytest.approx([float(v) for v in central], rel=1e-7, abs=1e-9)


def _kesten_mckay(xi, d):
    """Density of the free sum of d/2 copies of u + u^* (u Haar unitary): Kesten-McKay with degree d."""
    inside = xi ** 2 < 4 * (d - 1)
    out = np.zeros_like(xi)
    out[inside] = d * np.sqrt(4 * (d - 1) - xi[inside] ** 2) / (2 * np.pi * (d * d - xi[inside] ** 2))
    return out


def test_small_branch_limit_is_the_kesten_mckay_law_at_rate_a():
    # x = 1 + a sum_l (u_l + u_l^*) + O(a^2): the law of (x - 1)/a tends to Kesten-McKay(2L), the error
    # of the density being O(a) (first-order term of the expansion in a): err(a/10) / err(a) in
    # [0.07, 0.13] (stated in advance), and at a = 1e-9 the limit itself to 1e-7
    depth = 3
    xi = np.linspace(-4.0, 4.0, 17)          # inside 2 sqrt(5) = 4.47
    errs = []
    for a in (1e-3, 1e-4, 1e-9):
        law = ns.resnet_jacobian_law("linear", a, 1.0, 0.0, depth=depth + 2)
        dens = a * law.pdf(1 + a * xi)
        errs.append(np.max(np.abs(dens - _kesten_mckay(xi, 2 * depth))))
    assert 0.07 <= errs[1] / errs[0] <= 0.13
    assert errs[2] <= 1e-7


def test_tanh_law_at_a_tiny_branch_strength_has_the_exact_mean_and_variance():
    # the exact block recursion (word expansion, free product) for m1, m2; the density's own moments
    a, depth = 1e-4, 3
    law = ns.resnet_jacobian_law("tanh", a, 1.0, 0.0, depth=depth + 2)
    m1, m2 = ns.resnet_jacobian_moments("tanh", a, 1.0, 0.0, depth + 2)
    got = _interval_moments(law, [0, 1, 2], 1.0, a)
    mean = (m1 - 1) / a
    var = (m2 - m1 * m1) / a ** 2
    assert got[0] == pytest.approx(1.0, abs=1e-9)
    assert got[1] == pytest.approx(mean, abs=1e-7)
    assert got[2] - got[1] ** 2 == pytest.approx(var, rel=1e-7)


@pytest.mark.parametrize("variant", ["pre", "post"])
def test_block_variances_are_the_mean_field_lengths(variant):
    # the law's own length recursion (no correlations, no gains) against resnet_mean_field
    from nn_spectra import resnet as R

    act = ns.activation("tanh")
    q = R._block_variances(act, 0.4, 1.5, 0.1, 12, 0.8, variant)
    mf = ns.resnet_mean_field("tanh", 0.4, 1.5, 0.1, 12 + 2, q0=0.8, variant=variant)
    assert np.allclose(q, mf.q_phi, rtol=1e-14, atol=0)


def test_piecewise_constant_rules_are_the_pushforward_atoms():
    # relu, leaky relu, hard tanh: the rule from the normal cdf against the generic pushforward's atoms
    from nn_spectra import resnet as R

    for name in ("relu", "leaky_relu", "hard_tanh"):
        act = ns.activation(name)
        t, w = R._piecewise_constant_rule(act, 0.7)
        pts, mass = ns.d2_law(act, 0.7).atoms
        assert np.allclose(t, pts, rtol=0, atol=1e-15) and np.allclose(w, mass, rtol=1e-12)
    assert R._piecewise_constant_rule(ns.activation("tanh"), 0.7) is None


def test_many_distinct_blocks_reduced_state_gives_the_same_law(monkeypatch):
    # above MAX_STATE_BLOCKS distinct blocks the q_k leave the solver state (solved inside the
    # residual): the same tanh law (10 distinct blocks) both ways
    from nn_spectra import resnet as R

    full = ns.resnet_jacobian_law("tanh", 0.3, 1.0, 0.0, depth=10 + 2)
    monkeypatch.setattr(R.ResNetJacobianLaw, "MAX_STATE_BLOCKS", 4)
    red = ns.resnet_jacobian_law("tanh", 0.3, 1.0, 0.0, depth=10 + 2, group=False)   # every block, reduced
    assert red._reduced and not full._reduced and len(full.blocks) == 10
    assert red.support == pytest.approx(full.support, rel=1e-12)
    x = np.linspace(*full.support, 41)[1:-1]
    assert np.allclose(red.pdf(x), full.pdf(x), rtol=1e-10, atol=0)
    assert np.allclose(red.cdf(x[::5]), full.cdf(x[::5]), rtol=0, atol=1e-12)
