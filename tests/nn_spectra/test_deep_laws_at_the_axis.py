"""Deep-network laws at the real axis: the square-root top edge at depth 100, the smooth tails that
the density test once cut into spurious intervals, and the mp quadrature of psi_{D^2} next to the
axis (the independent route the float laws are checked against)."""
import mpmath as mp
import numpy as np
import pytest

import nn_spectra as ns
from freeprob import high_precision as hp
from nn_spectra.high_precision_laws import psi_rule_mp

# the dynamical-isometry point of tanh used by the benchmarks (spread 1/2, orthogonal weights)
SW_ISO, SB_ISO = 1.0375715254140596, 8.603483444754348e-06


@pytest.fixture(scope="module")
def deep_tanh():
    return ns.jacobian_law("tanh", SW_ISO, SB_ISO, depth=100)


def test_psi_mp_next_to_the_axis_agrees_with_the_contour_rule(deep_tanh):
    """psi_{D^2}(v) at a state of the axis solve (1/v = 0.361 + 2.7e-4 i, within Im(1/v) of the range
    of t = phi'^2): the mp quadrature split at the real s where t(s) = Re(1/v) and the float
    complex-contour rule (two independent quadratures) agree to 1e-14; tanh-sinh over [-inf, 0, inf]
    alone (the former mp route) is 2.5e-6 off, which the split must not be."""
    v = 2.769393665652527 - 0.002074507533246479j
    pf, dpf = deep_tanh._psi(np.array([v]))
    with mp.workdps(30):
        psi, dpsi, _ = psi_rule_mp(deep_tanh.d2)
        pm, dpm = complex(psi(mp.mpc(v.real, v.imag))), complex(dpsi(mp.mpc(v.real, v.imag)))
        sq = mp.sqrt(mp.mpf(float(deep_tanh.d2.base.var)))
        unsplit = complex(mp.quad(lambda s: v * mp.sech(sq * s) ** 4 / (1 - v * mp.sech(sq * s) ** 4)
                                  * mp.exp(-s * s / 2), [-mp.inf, 0, mp.inf]) / mp.sqrt(2 * mp.pi))
    assert abs(pf[0] - pm) <= 1e-14 * abs(pm)
    assert abs(dpf[0] - dpm) <= 1e-13 * abs(dpm)
    assert abs(unsplit - pm) > 1e-8 * abs(pm)       # the failure the split removes is real


def test_depth_100_top_edge_is_the_fold_and_the_density_below_it_is_a_square_root(deep_tanh):
    """The top of the support is 1/max chi_J (to 1e-12), and just below it the density is
    C sqrt(b - x): pdf^2/(b - x) at 1e-5, 3e-6, 1e-6 of b below the edge agree to O(distance).
    (The ladder's last Newton step from the height 1e-3 b used to land on the conjugate root there,
    so these points were not solved and the support ended 3.5e-6 b too low.)"""
    b = deep_tanh.__dict__.get("_top_edge") or deep_tanh.support[1]
    assert abs(deep_tanh.support[1] - b) <= 1e-12 * b
    assert abs(deep_tanh.intervals[-1][1] - b) <= 1e-12 * b
    delta = np.array([1e-5, 3e-6, 1e-6]) * b
    d = deep_tanh.pdf(b - delta)
    assert np.all(d > 0)
    c = d ** 2 / delta
    assert np.all(np.abs(c / c[-1] - 1) < 20 * delta / b), c


def test_smooth_tails_are_one_interval(deep_tanh):
    """A smooth tail is one interval: the tanh Jacobian law at depth 100 (was three, with gaps where
    a density right to 4 digits counted as rounding noise) and the tanh conditional Fisher law at
    depth 20 (its gap (0.0827, 0.0839) holds the density 2.9e-8 that mpmath confirms, slow test
    below)."""
    assert len(deep_tanh.intervals) == 1
    assert deep_tanh.pdf(np.array([0.105]))[0] > 0
    sb2 = 1e-4
    law = ns.conditional_fim_law("tanh", float(ns.critical_sigma_w2("tanh", sb2)), sb2, depth=20)
    (lo, hi), = law.intervals
    assert lo < 0.0829 < hi
    x = np.linspace(0.0815, 0.085, 36)
    d = law.pdf(x)
    # smooth and increasing across the former gap (the density there grows like exp(-c/x))
    assert np.all(d > 0) and np.all(np.diff(d) > 0)


@pytest.mark.slow
def test_tail_densities_against_mpmath(deep_tanh):
    """The tail values the support now keeps, against the mp fixed point (30 digits, psi by the
    split quadrature): Jacobian depth 100 at 0.105 (2.6e-10) and 0.2248 (1.04e-3), conditional Fisher
    depth 20 at 0.0829 (2.9e-8).  Tolerance: 1e-12 absolute, the engine's residual tolerance on
    the standardized system (both laws have densities of order 1)."""
    for x in (0.105, 0.2248):
        assert abs(deep_tanh.pdf(np.array([x]))[0] - float(hp.pdf(deep_tanh, x, dps=30))) <= 1e-12
    sb2 = 1e-4
    law = ns.conditional_fim_law("tanh", float(ns.critical_sigma_w2("tanh", sb2)), sb2, depth=20)
    assert abs(law.pdf(np.array([0.0829]))[0] - float(hp.pdf(law, 0.0829, dps=20))) <= 1e-12


def test_conditional_fim_direct_axis_path_equals_the_path_through_the_height():
    """The compiled axis solve goes straight from one certified axis state to the next (Hermite
    predictor, Newton at Im x = 0) instead of solving at the height 1e-15 first.  A point solved on
    its own has no neighbour and takes the path through the height: both must give the same G (the
    region 0.2-1.2 is away from the nearly singular level near 0.083, where the state jitters at
    1e-11).  The compiled residual rows and Jacobian equal the numpy reference at arbitrary states."""
    from nn_spectra.conditional_fim_kernel import residuals

    sb2 = 1e-4
    law = ns.conditional_fim_law("tanh", float(ns.critical_sigma_w2("tanh", sb2)), sb2, depth=20)
    x = law._to_std(np.linspace(0.2, 1.2, 41))
    u, exact, g = law._axis_g(x)
    assert np.all(exact)
    g_alone = np.array([law._axis_g(np.array([xi]))[2][0] for xi in x[::8]])
    assert np.max(np.abs(g[::8] - g_alone) / np.abs(g_alone)) < 1e-10
    # the compiled (r, J) against the numpy chain, at states 1 % off the solutions and above the axis
    rng = np.random.default_rng(1)
    z = x[::8] + 0.3j
    us = u[::8] * (1 + 0.01 * rng.standard_normal(u[::8].shape))
    c, s = law.frame
    r1, J1 = residuals(c + s * z, us, *law._kernel_data[:-1])
    plain = ns.conditional_fim_law("tanh", float(ns.critical_sigma_w2("tanh", sb2)), sb2, depth=20)
    plain.__dict__["_kernel_data"] = None
    r2, J2 = plain._residual(z, us)
    # the same sums of 1,536-node psi rules in another order: N·eps ≈ 3.4e-13 of the sum of the
    # terms' sizes, which exceeds the sum itself by the cancellation of the rows (here up to ~10)
    assert np.max(np.abs(r1 - r2)) < 1e-11 * np.max(np.abs(r2))
    assert np.max(np.abs(J1 - J2)) < 1e-11 * np.max(np.abs(J2))


def test_uncertified_points_inside_a_smooth_density_are_not_a_gap():
    """Near 0.0833 one level of the depth-20 tanh conditional-FIM system is nearly singular and the
    axis Newton cannot certify a few points (2e-5 wide) although the density is 7e-9 on both sides
    (mpmath, slow test above).  When the support grid hits them, the two pieces must be joined: the
    middle is uncertified and the density does not fall toward it as at an edge."""
    sb2 = 1e-4
    law = ns.conditional_fim_law("tanh", float(ns.critical_sigma_w2("tanh", sb2)), sb2, depth=20)
    a, b, c, d = law._to_std(np.array([0.0561306810, 0.0832749438, 0.0832958999, 1.2621296947]))
    merged = law._merge_singular_gaps([(a, b), (c, d)])
    assert merged == ((a, d),)
