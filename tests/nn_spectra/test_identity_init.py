"""Identity initialisation: the exact one-dimensional law of the diagonal Jacobian against real networks."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from nn_spectra.identity_init import (identity_jacobian_law, identity_vs_orthogonal,
                                      sample_identity_jacobian_spectrum)


def test_linear_is_a_point_mass():
    # depth counts weight layers: J spans depth - 1 = 4 layers
    law = identity_jacobian_law("linear", 1.7, depth=5)
    assert law.moments(2) == pytest.approx([1.7 ** 4, 1.7 ** 8], rel=1e-12)


def test_hard_tanh_atoms_closed_form():
    # K = L - 1 nonlinear layers, sigma_w > 1: no layer saturates iff |h| < sigma_w^{-(K-1)}; then
    # J_ii^2 = sigma_w^{2K}, else 0
    sw2, L, q1 = 1.44, 5, 0.6
    K = L - 1
    law = identity_jacobian_law("hard_tanh", sw2, L, q1)
    pts, w = law.atoms
    mass = special.erf(1.2 ** -(K - 1) / np.sqrt(2 * q1))
    np.testing.assert_allclose(pts, [0.0, sw2 ** K], rtol=1e-13)
    np.testing.assert_allclose(w, [1 - mass, mass], rtol=1e-12)
    assert law.moments(1)[0] == pytest.approx(mass * sw2 ** K, rel=1e-10)


def test_tanh_depth_one_closed_form():
    # L = 2 weight layers, one nonlinear layer: g(h) = sigma_w^2 sech^4(h); the cdf at y is
    # P(|h| >= arcsech((y/sigma_w^2)^(1/4)))
    law = identity_jacobian_law("tanh", 2.0, 2, q1=0.8)
    y = np.array([0.1, 0.7, 1.5])
    h = np.arccosh(1 / (y / 2.0) ** 0.25)
    np.testing.assert_allclose(law.cdf(y), special.erfc(h / np.sqrt(1.6)), rtol=1e-12)


@pytest.mark.parametrize("act,sw2,L,q1", [("tanh", 1.0, 4, 1.0), ("tanh", 1.5, 6, 0.7), ("erf", 1.3, 5, 1.0)])
def test_networks_follow_the_law_ks(act, sw2, L, q1):
    # the N eigenvalues of one identity network are i.i.d. draws of the law: a one-sample KS test at
    # the 0.1 % level (never loosened)
    law = identity_jacobian_law(act, sw2, L, q1)
    ev = sample_identity_jacobian_spectrum(act, sw2, L, 500, q1, rng=11)
    assert stats.kstest(ev, law.cdf).pvalue > 1e-3


def test_hard_tanh_network_atom_mass():
    sw2, L, q1, N = 1.44, 4, 0.5, 600
    law = identity_jacobian_law("hard_tanh", sw2, L, q1)
    ev = sample_identity_jacobian_spectrum("hard_tanh", sw2, L, N, q1, rng=5)
    p = law.atoms[1][-1]
    top = sw2 ** (L - 1)   # J spans the L - 1 nonlinear layers
    frac = np.mean(np.isclose(ev, top))
    assert np.all(np.isclose(ev, 0) | np.isclose(ev, top))
    assert abs(frac - p) < 4 * np.sqrt(p * (1 - p) / N)     # binomial, 4 standard errors


def test_identity_spreads_more_than_orthogonal():
    # at the same start q1 = q*, orthogonal weights mix coordinates (free multiplicative convolution)
    # while identity weights keep each on its own trajectory: the spectrum spreads faster with depth
    c = identity_vs_orthogonal("tanh", 1.5, depths=(2, 3, 5))
    np.testing.assert_allclose(c.identity_mean[0], c.orthogonal_mean[0], rtol=1e-9)   # L = 2: same D^2
    np.testing.assert_allclose(c.identity_var[0], c.orthogonal_var[0], rtol=1e-7)
    assert np.all(c.identity_var[1:] > 1.3 * c.orthogonal_var[1:])


def test_bad_input():
    with pytest.raises(ValueError, match="act"):
        identity_jacobian_law("relu", 2.0, 3)
    with pytest.raises(ValueError, match="depth"):
        identity_jacobian_law("tanh", 2.0, 1)     # one weight layer = the readout: no J
    with pytest.raises(ValueError, match="depth"):
        sample_identity_jacobian_spectrum("tanh", 2.0, 1, 10)
    with pytest.raises(ValueError, match="q1"):
        identity_jacobian_law("tanh", 2.0, 2, q1=-1.0)


def test_network_description_gives_the_same_law_and_sampler():
    """One description: the Network, the functional form and the sampled MLP agree on the layers of J."""
    import nn_spectra as ns

    net = ns.Network("hard_tanh", 1.44, 0.0, depth=4, weights="identity", widths=(50,) * 4 + (1,))
    law = identity_jacobian_law(net, q1=0.5)
    assert law.depth == net.depth and law.layers == net.hidden_layers == 3
    assert law.atoms[0].tolist() == identity_jacobian_law("hard_tanh", 1.44, 4, q1=0.5).atoms[0].tolist()
    ev = sample_identity_jacobian_spectrum("hard_tanh", 1.44, net.depth, 50, 0.5, rng=0)
    assert set(np.round(ev, 9)) <= {0.0, round(1.44 ** 3, 9)}
    with pytest.raises(ValueError, match="identity"):
        identity_jacobian_law(net.replace(weights="orthogonal"))
    with pytest.raises(TypeError, match="either a Network"):
        identity_jacobian_law(net, 1.44)
