r"""Asymptotic freeness of the layerwise Jacobians (Collins–Hayase 2022), measured on real networks.

The product formula for :math:`S_{JJ^\top}` (:mod:`nn_spectra.jacobian`) needs, at each layer, the
freeness of :math:`A = D_l^2` from :math:`B = W_{l+1}^\top D_{l+1}^2 W_{l+1}` (the next layer's factor seen
in layer :math:`l`'s basis).  With Haar-orthogonal (or Gaussian) weights the two are asymptotically free
although :math:`D_{l+1}` depends on :math:`W_{l+1}`: their mixed free cumulants decay with the width
:math:`N`.  With identity weights (:math:`W = \sqrt{\sigma_w^2}\,I`, Kubota et al. 2021) :math:`B` is
diagonal in the same basis as :math:`A` and correlated with it, so they are *not* free: the mixed
cumulants do not decay.

The measurement is :func:`randmat.asymptotic_freeness`: for each size, independent networks, the largest
mixed free cumulant up to ``max_order`` (:func:`randmat.freeness_defect`), and a fit
:math:`\text{defect}\propto N^{\beta}` with a confidence interval.
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["layerwise_families", "layerwise_freeness"]


def layerwise_families(act, sigma_w2: float, sigma_b2: float, depth: int, width: int,
                       weights: str = "orthogonal", layer: int | None = None, rng=None):
    r"""``(D_l^2, W_{l+1}^T D_{l+1}^2 W_{l+1} / sigma_w^2)`` for one real :class:`MLP` and one input at the
    fixed point; ``layer`` :math:`l` counts hidden layers from 1 (default: the middle one)."""
    from .mean_field import q_star
    from .mlp import MLP

    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 2:
        raise ValueError(f"depth must be an integer >= 2 (two hidden layers are compared), got {depth!r}")
    if weights not in ("orthogonal", "gaussian", "identity"):
        raise ValueError(f"weights must be 'orthogonal', 'gaussian' or 'identity', got {weights!r}")
    l = depth // 2 if layer is None else int(layer)
    if not 1 <= l < depth:
        raise ValueError(f"layer must lie in [1, {depth - 1}], got {layer!r}")
    gen = np.random.default_rng(rng)
    net = MLP([int(width)] * (depth + 1) + [1], act, sigma_w2, sigma_b2, init=weights, rng=gen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = float(q_star(act, sigma_w2, sigma_b2))
    x = gen.standard_normal(width)
    x *= np.sqrt(max(q - sigma_b2, 1e-12) / sigma_w2 * width) / np.linalg.norm(x)
    _, hs, _ = net.forward(x[None, :], return_all=True)
    d_l = net.act.dphi(hs[l - 1][0]) ** 2
    d_next = net.act.dphi(hs[l][0]) ** 2
    w = net.weights[l] / np.sqrt(sigma_w2)
    return np.diag(d_l), w.T @ (d_next[:, None] * w)


def layerwise_freeness(act, sigma_w2: float, sigma_b2: float, depth: int, sizes=(64, 128, 256),
                       weights: str = "orthogonal", layer: int | None = None, trials: int = 4,
                       max_order: int = 3, rng=None, n_jobs: int | None = None):
    r"""Fit the decay of the mixed free cumulants of :math:`D_l^2` and :math:`W_{l+1}^\top D_{l+1}^2W_{l+1}`.

    Returns the :class:`randmat.FreenessSweep` (``exponent``, its confidence interval, the defects).
    Free families give a clearly negative exponent (about :math:`-1/2` or below); identity weights
    give about 0.

    Examples
    --------
    >>> sw = layerwise_freeness("tanh", 1.2, 0.05, depth=3, sizes=(32, 64, 128), trials=3, rng=0)
    >>> sw.exponent < -0.3
    True
    """
    import randmat as rm

    def sample(n, gen):
        a, b = layerwise_families(act, sigma_w2, sigma_b2, depth, n, weights, layer, rng=gen)
        return a, b

    return rm.asymptotic_freeness(sample, list(sizes), trials=trials, max_order=max_order, rng=rng, n_jobs=n_jobs)
