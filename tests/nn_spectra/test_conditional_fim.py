"""conditional_fim_law against exact cases and the dual H of real orthogonal networks."""
from __future__ import annotations

import time

import numpy as np
import pytest

from nn_spectra.conditional_fim import conditional_fim_law, sample_conditional_fim_spectrum
from nn_spectra.mean_field import critical_sigma_w2


def test_linear_network_is_a_point_mass():
    # linear, sigma_w2 = 1: H_{l+1} = q I + O H_l O^T -> H/N = L q I exactly
    law = conditional_fim_law("linear", 1.0, 0.0, depth=5)
    pts, w = law.atoms
    np.testing.assert_allclose(pts, [5.0])
    np.testing.assert_allclose(w, [1.0])


def test_depth_two_is_a_scaled_shifted_d2_law():
    # nu_2 = shift_q(sigma_w^2 q mu_{D^2}): G(x) = G_mu((x - q)/(s q))/(s q), from the D^2 law alone
    law = conditional_fim_law("tanh", 1.2, 0.05, depth=2)
    q, s = law.qhat, law.sigma_w2
    z = np.array([0.3 + 0.2j, 1.0 + 0.05j, 0.1 + 1j])
    np.testing.assert_allclose(law.cauchy(z), law.d2.cauchy((z - q) / (s * q)) / (s * q), rtol=1e-7)


def _moments_case(act, sb2, L, n):
    sw2 = float(critical_sigma_w2(act, sb2)) if act != "erf" else 1.2
    law = conditional_fim_law(act, sw2, sb2, depth=L)
    ev = sample_conditional_fim_spectrum(act, sw2, sb2, L, n, rng=L)
    return law, ev


@pytest.mark.parametrize("act,sb2,L", [("tanh", 1e-4, 3), ("erf", 0.0, 2), ("hard_tanh", 2.3e-4, 3)])
def test_moments_against_real_networks(act, sb2, L):
    law, ev = _moments_case(act, sb2, L, 600)
    m = law.moments(3)
    # the layer lengths |x^l|^2/N of one network fluctuate by O(1/sqrt(N)) = 3% per layer
    for k in range(3):
        assert np.mean(ev ** (k + 1)) == pytest.approx(m[k], rel=0.03 * (k + 1))
    lo, hi = law.support
    assert ev.min() >= lo * (1 - 0.05) and ev.max() <= hi * (1 + 0.05)


@pytest.mark.slow
@pytest.mark.parametrize("act,sb2", [("tanh", 1e-4), ("erf", 0.0), ("hard_tanh", 2.3e-4)])
@pytest.mark.parametrize("L", [2, 4, 10])
def test_moments_against_real_networks_full(act, sb2, L):
    law, ev = _moments_case(act, sb2, L, 1000)
    m = law.moments(3)
    for k in range(3):
        assert np.mean(ev ** (k + 1)) == pytest.approx(m[k], rel=0.03 * (k + 1))


def test_hard_tanh_atom_at_the_top():
    # D^2 = Bernoulli(p): the atom at q (1 + ... + 1) = L q has mass 1 - (L-1)(1-p)
    sb2 = 2.3e-4
    sw2 = float(critical_sigma_w2("hard_tanh", sb2))
    L = 4
    law = conditional_fim_law("hard_tanh", sw2, sb2, depth=L)
    pts, w = law.atoms
    p = float(law.d2.atoms[1][law.d2.atoms[0] == 1.0][0])
    assert w[-1] == pytest.approx(1 - (L - 1) * (1 - p), rel=1e-12)
    assert pts[-1] == pytest.approx(sum(law.qhat * (sw2 ** k) for k in range(L)), rel=1e-12)
    ev = sample_conditional_fim_spectrum("hard_tanh", sw2, sb2, L, 1000, rng=0)
    # the top cluster: eigenvalues equal to the largest one up to round-off (exact multiplicity in the net)
    frac = np.mean(ev > ev.max() * (1 - 1e-9))
    assert frac == pytest.approx(w[-1], abs=3 / np.sqrt(1000))


def test_linear_growth_with_depth():
    sb2 = 1e-4
    sw2 = float(critical_sigma_w2("tanh", sb2))
    means = []
    for L in (2, 5, 10, 20):
        law = conditional_fim_law("tanh", sw2, sb2, depth=L)
        means.append(law.moments(1)[0])
    # at criticality (sigma_w^2 mu_1 = 1) the mean is exactly L q^
    np.testing.assert_allclose(means, np.array([2, 5, 10, 20]) * law.qhat, rtol=1e-9)


@pytest.mark.slow
def test_depth_20_speed():
    law = conditional_fim_law("tanh", 1.0375, 8.6e-6, depth=20)
    lo, hi = law.support
    z = np.linspace(lo, hi, 100) + 0.1j * (hi - lo)
    t = time.perf_counter()
    g = law.cauchy(z)
    law.moments(4)
    assert np.all(np.isfinite(g)) and time.perf_counter() - t < 15.0


def test_bad_input():
    with pytest.raises(ValueError, match="weights"):
        conditional_fim_law("tanh", 1.0, 0.1, 3, weights="gaussian")
    with pytest.raises(ValueError, match="depth"):
        conditional_fim_law("tanh", 1.0, 0.1, 0)
    with pytest.raises(ValueError, match="fixed point"):
        conditional_fim_law("relu", 3.0, 0.0, 3)
