r"""Dynamical isometry: where on the critical line the Jacobian spectrum stays concentrated.

On the critical line :math:`\chi_1 = \sigma_w^2\mu_1 = 1` (:math:`\mu_k = E[\phi'(h)^{2k}]`,
:math:`h\sim N(0, q^*)`) the mean of the :math:`JJ^\top` spectrum is 1 and its variance is
:math:`K(\mu_2/\mu_1^2 - 1 - s_1)` for the :math:`K = L-1` nonlinear layers of a network of
``depth`` :math:`= L` weight layers (:class:`~nn_spectra.Network`; the readout is not part of :math:`J`) with :math:`s_1 = 0` for orthogonal and :math:`-1` for Gaussian
weights (Pennington–Schoenholz–Ganguli 2017).  The *spread* used here is that standard deviation,
:math:`\sqrt{K(\mu_2/\mu_1^2 - 1 - s_1)}`; it grows with :math:`\sigma_b^2` through :math:`q^*`.
Gaussian weights always have spread at least :math:`\sqrt K`; ReLU has :math:`\mu_2/\mu_1^2 = 2` at
every :math:`q^*`, so neither reaches isometry for deep networks.  Hard-tanh and tanh do, as
:math:`q^*\to 0`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from freeprob.law import check_positive

__all__ = ["IsometryPoint", "dynamical_isometry", "critical_spread"]


@dataclass(frozen=True)
class IsometryPoint:
    """A point of the critical line and the spread of its Jacobian spectrum."""

    sigma_w2: float
    sigma_b2: float
    q_star: float
    spread: float
    depth: int
    weights: str


def critical_spread(act, sigma_b2: float, depth: int, weights: str = "orthogonal") -> IsometryPoint:
    r"""Spread :math:`\sqrt{K(\mu_2/\mu_1^2 - 1 - s_1)}` at the critical point with bias variance ``sigma_b2``.

    ``depth`` is :math:`L \ge 2`, the number of weight layers; :math:`K = L-1`.
    """
    from .jacobian import _check_depth, _check_weights, d2_law
    from .mean_field import critical_sigma_w2, q_star

    depth = _check_depth(depth)
    if depth < 2:
        raise ValueError(f"depth must be an integer >= 2 (weight layers: the Jacobian spans depth - 1 nonlinear "
                         f"layers), got {depth!r}")
    weights = _check_weights(weights)
    sb = check_positive("sigma_b2", sigma_b2, strict=False)
    sw = float(critical_sigma_w2(act, sb))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = float(q_star(act, sw, sb))
    if not np.isfinite(q):
        raise ValueError(f"no finite fixed point q* on the critical line at sigma_b2={sb}")
    m = d2_law(act, q).moments(2)
    s1 = -1.0 if weights == "gaussian" else 0.0
    K = depth - 1
    return IsometryPoint(sw, sb, q, float(np.sqrt(max(K * (m[1] / m[0] ** 2 - 1 - s1), 0.0))), depth, weights)


def dynamical_isometry(act, depth: int, target_spread: float = 1.0, weights: str = "orthogonal",
                       sigma_b2_max: float = 1.0) -> IsometryPoint:
    r"""The largest :math:`\sigma_b^2 \le` ``sigma_b2_max`` on the critical line whose Jacobian spread
    at this ``depth`` (weight layers, :math:`L \ge 2`) is at most ``target_spread`` (the most expressive
    isometric initialisation).

    Raises
    ------
    ValueError
        When even :math:`\sigma_b^2\to 0` exceeds the target (ReLU; Gaussian weights with
        :math:`\sqrt L` above the target), naming the smallest reachable spread.

    Examples
    --------
    >>> p = dynamical_isometry("tanh", depth=101, target_spread=0.5)
    >>> p.spread <= 0.5 + 1e-9 and p.sigma_b2 > 0
    True
    """
    target = check_positive("target_spread", target_spread)
    bmax = check_positive("sigma_b2_max", sigma_b2_max)
    lo = 1e-10
    p_lo = critical_spread(act, lo, depth, weights)
    if p_lo.spread > target:
        raise ValueError(
            f"target_spread={target} is unreachable for {act!r} with {weights} weights at depth {depth}: "
            f"the smallest spread on the critical line (sigma_b2 -> 0) is {p_lo.spread:.4g}")
    p_hi = critical_spread(act, bmax, depth, weights)
    if p_hi.spread <= target:
        return p_hi

    def f(logb):
        return critical_spread(act, float(np.exp(logb)), depth, weights).spread - target

    logb = optimize.brentq(f, np.log(lo), np.log(bmax), xtol=1e-10, rtol=1e-10)
    p = critical_spread(act, float(np.exp(logb)), depth, weights)
    if p.spread > target:  # brentq's root may sit a hair above the target
        p = critical_spread(act, float(np.exp(logb - 1e-8)), depth, weights)
    return p
