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


def layerwise_families(act, sigma_w2: float | None = None, sigma_b2: float | None = None, depth: int | None = None,
                       width: int | None = None, weights: str | None = None, layer: int | None = None, rng=None):
    r"""``(D_l^2, W_{l+1}^T D_{l+1}^2 W_{l+1} / sigma_w^2)`` for one real :class:`MLP` and one input at the
    fixed point.

    ``depth`` is :math:`L`, the number of weight layers (:class:`~nn_spectra.Network`); the network has
    widths ``(width, ..., width, 1)`` and :math:`L-1` hidden layers, of which two consecutive ones are
    compared, so :math:`L \ge 3`.  ``layer`` :math:`l` counts hidden layers from 1 (default: the middle
    one).  ``act`` may be a :class:`~nn_spectra.Network` (its widths are replaced by ``width``).
    """
    from .mean_field import q_star
    from .mlp import MLP
    from .network import _int, as_network

    net = as_network(act, sigma_w2, sigma_b2, depth, weights=weights, default_weights="orthogonal",
                     caller="layerwise_families")
    hidden = net.hidden_layers
    if hidden < 2:
        raise ValueError(f"depth must be an integer >= {net.depth - hidden + 2} (two hidden layers are compared; "
                         f"depth counts weight layers), got {net.depth}")
    width = _int("width", width, 1)
    l = hidden // 2 if layer is None else int(layer)
    if not 1 <= l < hidden:
        raise ValueError(f"layer must lie in [1, {hidden - 1}], got {layer!r}")
    gen = np.random.default_rng(rng)
    last = 1 if net.readout == "linear" else width
    mlp = MLP(net.replace(widths=(width,) * net.depth + (last,)), rng=gen)
    sw, sb = net.sigma_w2, net.sigma_b2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = float(q_star(net.act, sw, sb))
    x = gen.standard_normal(width)
    x *= np.sqrt(max(q - sb, 1e-12) / sw * width) / np.linalg.norm(x)
    _, hs, _ = mlp.forward(x[None, :], return_all=True)
    d_l = mlp.act.dphi(hs[l - 1][0]) ** 2
    d_next = mlp.act.dphi(hs[l][0]) ** 2
    w = mlp.weights[l] / np.sqrt(sw)
    return np.diag(d_l), w.T @ (d_next[:, None] * w)


def layerwise_freeness(act, sigma_w2: float | None = None, sigma_b2: float | None = None, depth: int | None = None,
                       sizes=(64, 128, 256), weights: str | None = None, layer: int | None = None, trials: int = 4,
                       max_order: int = 3, rng=None, n_jobs: int | None = None, progress: bool = True):
    r"""Fit the decay of the mixed free cumulants of :math:`D_l^2` and :math:`W_{l+1}^\top D_{l+1}^2W_{l+1}`.

    ``depth`` counts weight layers (:math:`L \ge 3`); ``act`` may be a :class:`~nn_spectra.Network`
    (then ``sizes`` are its hidden widths).  Returns the :class:`randmat.FreenessSweep` (``exponent``,
    its confidence interval, the defects).  Free families give a clearly negative exponent (about
    :math:`-1/2` or below); identity weights give about 0.  ``progress`` shows a bar per width on
    stderr, as :func:`randmat.ensemble` does (:mod:`freeprob.progress`: off inside ``freeprob
    verify`` and when ``FREEPROB_PROGRESS=0``).

    Examples
    --------
    >>> sw = layerwise_freeness("tanh", 1.2, 0.05, depth=4, sizes=(32, 64, 128), trials=3, rng=0, progress=False)
    >>> sw.exponent < -0.3
    True
    """
    import randmat as rm

    from .network import as_network

    net = as_network(act, sigma_w2, sigma_b2, depth, weights=weights, default_weights="orthogonal",
                     caller="layerwise_freeness")
    layerwise_families(net, width=int(min(sizes)) if len(sizes) else 1, layer=layer, rng=0)  # checks up front

    def sample(n, gen):
        return layerwise_families(net, width=n, layer=layer, rng=gen)

    return rm.asymptotic_freeness(sample, list(sizes), trials=trials, max_order=max_order, rng=rng, n_jobs=n_jobs,
                                  progress=progress)
