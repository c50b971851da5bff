"""Asymptotic freeness of layerwise Jacobians: Haar/Gaussian layers decay, identity layers do not."""
from __future__ import annotations

import numpy as np
import pytest

from nn_spectra.layerwise_freeness import layerwise_families, layerwise_freeness


@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_random_layers_are_asymptotically_free(weights):
    sw = layerwise_freeness("tanh", 1.2, 0.05, depth=4, sizes=(32, 64, 128, 256), weights=weights, trials=4, rng=0)
    # free: the largest mixed cumulant decays like N^beta with beta clearly negative (about -1)
    assert sw.exponent < -0.5
    assert sw.ci[1] < 0


def test_identity_layers_are_not_free():
    # W = I (identity initialisation): D_{l+1} = D_l for relu without bias, the families commute
    sw = layerwise_freeness("relu", 1.0, 0.0, depth=4, sizes=(32, 64, 128, 256), weights="identity", trials=3, rng=0)
    assert abs(sw.exponent) < 0.15
    assert np.min(sw.defects) > 0.1


def test_families_shapes_and_errors():
    a, b = layerwise_families("tanh", 1.2, 0.05, depth=4, width=20, rng=0)
    # the same families from one Network description (depth = weight layers: 3 hidden layers here)
    import nn_spectra as ns
    a2, b2 = layerwise_families(ns.Network("tanh", 1.2, 0.05, 4, weights="orthogonal"), width=20, rng=0)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    assert a.shape == b.shape == (20, 20)
    np.testing.assert_allclose(b, b.T, atol=1e-12)
    with pytest.raises(ValueError, match="depth"):
        layerwise_families("tanh", 1.2, 0.05, depth=2, width=20)      # one hidden layer only
    with pytest.raises(ValueError, match="width"):
        layerwise_families("tanh", 1.2, 0.05, depth=4, width=20.5)
    with pytest.raises(ValueError, match="weights"):
        layerwise_families("tanh", 1.2, 0.05, depth=4, width=20, weights="haar")
