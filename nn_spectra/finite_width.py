r"""Finite-width predictions for Gaussian networks: log-norms and volumes of the Jacobian (Hanin–Nica).

Setting: widths :math:`n_0, \dots, n_L`, weights :math:`W_l` with i.i.d. :math:`N(0, \sigma_w^2/n_{l-1})`
entries, **zero biases**, :math:`J = D_LW_L\cdots D_1W_1` with :math:`D_l = \operatorname{diag}\phi'(h_l)`
(the convention of :func:`nn_spectra.jacobian_law`).

Exact representation (relu).  For a unit vector :math:`u` and any state :math:`x \ne 0`, the rows
:math:`w_i` of :math:`W_l` are symmetric, so :math:`w_i \mapsto -w_i` flips
:math:`\mathbf 1\{w_i\cdot x > 0\}` and leaves :math:`(w_i\cdot t)^2` unchanged: the indicators are fair
coins independent of the squared projections.  Hence, layer by layer and independently of the past,

.. math:: \frac{\|t_l\|^2}{\|t_{l-1}\|^2} \overset{d}{=} \frac{\sigma_w^2}{n_{l-1}}\,\chi^2_{B_l},\qquad
          B_l \sim \mathrm{Binomial}(n_l, \tfrac12),

(Hanin–Nica 2020; :math:`B_l = n_l`, i.e. a plain :math:`\chi^2_{n_l}`, for linear networks), and with
:math:`E\log\chi^2_k = \psi(k/2) + \log 2`, :math:`\operatorname{Var}\log\chi^2_k = \psi'(k/2)`:

.. math::

    E\log\|Ju\|^2 = \sum_l\Big[\log\frac{\sigma_w^2}{n_{l-1}} + \log 2 + E\,\psi(B_l/2)\Big],\qquad
    \operatorname{Var}\log\|Ju\|^2 = \sum_l\Big[E\,\psi'(B_l/2) + \operatorname{Var}\psi(B_l/2)\Big]

(conditional on every :math:`B_l \ge 1`; :math:`B_l = 0` kills the signal, probability :math:`2^{-n_l}`).
Expanding :math:`\psi(k/2) = \log(k/2) - 1/k + O(k^{-2})` and :math:`B_l = n_l/2 + O(\sqrt{n_l})` gives
the Hanin–Nica log-normal law

.. math:: \log\|Ju\|^2 \approx N\Big(\sum_l\log\frac{\sigma_w^2 n_l}{2n_{l-1}} - \frac\beta2,\ \beta\Big),
          \qquad \beta = 5\sum_{l=1}^{L}\frac1{n_l}\quad(\text{relu};\ 2\sum_l 1/n_l\ \text{linear}),

mean and variance linear in :math:`\sum_l 1/n_l`.  At infinite width :math:`\beta = 0`: the free-probability
picture, in which :math:`\|Ju\|^2` concentrates at the first moment of :func:`nn_spectra.jacobian_law`,
needs :math:`\beta \ll 1`, i.e. depth :math:`\ll` width/5.

Volumes and squared singular values.  The same sign flip applied to a :math:`k`-frame :math:`T` gives
:math:`\det(T^\top J_l^\top J_lT)/\det(T^\top J_{l-1}^\top J_{l-1}T) \overset{d}{=} (\sigma_w^2/n_{l-1})^k\det(G^\top G)`
with :math:`G` a :math:`B_l\times k` standard Gaussian matrix, and by the Bartlett decomposition
:math:`\det G^\top G = \prod_{j=0}^{k-1}\chi^2_{B_l-j}` (independent).  So the log-volume of a fixed
orthonormal frame has exactly computable mean and variance (:func:`log_volume_moments`), and the
:math:`i`-th squared singular value of :math:`J` grows at the Lyapunov rate

.. math:: \frac1L\log s_i^2 \to \gamma_i = \log\frac{\sigma_w^2}{n} + \log 2 + E\big[\psi\big(\tfrac{B - i + 1}2\big)\big]

for equal widths (Newman's exponents :math:`\psi((n-i+1)/2) + \log(2\sigma_w^2/n)` for linear networks):
the finite-width prediction when depth/width is large, where the spectrum is log-normal-like with
exponentially separated singular values instead of the infinite-width law.  Only relu and linear
activations have these exact representations; the module raises for others.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import digamma, polygamma
from scipy.stats import binom

__all__ = ["LogNormPrediction", "hanin_nica_beta", "log_norm_moments", "log_volume_moments", "plot_infinite_width_breakdown",
           "lyapunov_exponents", "sample_log_jacobian_norm", "sample_log_volume"]

_EXACT = ("relu", "linear")


def _act_name(act) -> str:
    name = act if isinstance(act, str) else getattr(act, "name", None)
    if name not in _EXACT:
        raise ValueError(f"act must be one of {', '.join(_EXACT)} (the activations with an exact finite-width "
                         f"representation), got {act!r}")
    return name


def _check_widths(widths) -> list[int]:
    w = [int(n) for n in widths] if not isinstance(widths, (str, bytes)) else None
    if w is None or len(w) < 2 or any(n < 1 for n in w) or any(n != m for n, m in zip(w, widths)):
        raise ValueError(f"widths must list at least two integers >= 1 (n_0, ..., n_L), got {widths!r}")
    return w


def _check_sw(sigma_w2):
    if not (np.isfinite(sigma_w2) and sigma_w2 > 0):
        raise ValueError(f"sigma_w2 must lie in (0, inf), got {sigma_w2!r}")
    return float(sigma_w2)


def hanin_nica_beta(widths: Sequence[int], act: str = "relu") -> float:
    r""":math:`\beta = c\sum_{l=1}^{L}1/n_l`, :math:`c = 5` (relu) or 2 (linear): variance of :math:`\log\|Ju\|^2` to leading order.

    >>> hanin_nica_beta([100, 100, 100])
    0.1
    """
    w = _check_widths(widths)
    c = 5.0 if _act_name(act) == "relu" else 2.0
    return float(c * sum(1.0 / n for n in w[1:]))


@dataclass(frozen=True)
class LogNormPrediction:
    r"""Mean and variance of :math:`\log(\|Ju\|^2/\|u\|^2)`: exact finite width and the Hanin–Nica leading order.

    ``probability`` is :math:`P(\text{all } B_l \ge k)`, the event the exact moments condition on.
    """

    mean: float
    var: float
    mean_leading: float
    var_leading: float
    beta: float
    probability: float


def _binomial_table(n: int, k: int):
    b = np.arange(k, n + 1)
    p = binom.pmf(b, n, 0.5)
    total = float(p.sum())
    # the pmf sums to 1 + O(eps) when nothing is cut off: a probability must not exceed 1
    return b, p / total, min(total, 1.0)


def _layer_log_chi2(n_out: int, k: int, relu: bool):
    # mean and variance of sum_{j<k} log chi^2_{B-j}, B ~ Bin(n_out, 1/2) | B >= k (relu) or B = n_out
    j = np.arange(k)
    if not relu:
        d = (n_out - j) / 2.0
        return float(np.sum(digamma(d)) + k * math.log(2)), float(np.sum(polygamma(1, d))), 1.0
    b, p, total = _binomial_table(n_out, k)
    d = (b[:, None] - j[None, :]) / 2.0
    s = np.sum(digamma(d), axis=1)
    v = np.sum(polygamma(1, d), axis=1)
    mean_s = float(p @ s)
    return mean_s + k * math.log(2), float(p @ v + p @ (s - mean_s) ** 2), total


def log_volume_moments(widths: Sequence[int], k: int = 1, act: str = "relu", sigma_w2: float | None = None):
    r"""Exact mean and variance of :math:`\log\det(T^\top J^\top JT)` for a fixed orthonormal :math:`k`-frame.

    Returns ``(mean, var, probability)``; ``probability`` = :math:`P(B_l \ge k\ \forall l)`, on which the
    relu moments are conditional (otherwise the volume is 0).  ``sigma_w2`` defaults to the critical
    value (2 for relu, 1 for linear).  ``k = 1`` is :math:`\log\|Ju\|^2`.

    >>> m, v, p = log_volume_moments([3, 3], k=3, act="linear")   # log det of a 3x3 Gaussian Gram / 3^3
    >>> round(m, 6), round(v, 6)
    (-3.720631, 7.514538)
    """
    w = _check_widths(widths)
    relu = _act_name(act) == "relu"
    sw = (2.0 if relu else 1.0) if sigma_w2 is None else _check_sw(sigma_w2)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= min(w):
        raise ValueError(f"k must be an integer in [1, min(widths)={min(w)}], got {k!r}")
    mean, var, prob = 0.0, 0.0, 1.0
    for n_in, n_out in zip(w[:-1], w[1:]):
        m, v, p = _layer_log_chi2(n_out, int(k), relu)
        mean += k * math.log(sw / n_in) + m
        var += v
        prob *= p
    return mean, var, prob


def log_norm_moments(widths: Sequence[int], act: str = "relu", sigma_w2: float | None = None) -> LogNormPrediction:
    r"""Exact finite-width and leading-order (Hanin–Nica) mean and variance of :math:`\log\|Ju\|^2`, :math:`\|u\| = 1`.

    Examples
    --------
    >>> p = log_norm_moments([64] * 9)        # relu, sigma_w2 = 2, depth 8, width 64
    >>> round(p.beta, 4), round(p.mean_leading, 4), round(p.var_leading, 4)
    (0.625, -0.3125, 0.625)
    >>> round(p.mean, 4), round(p.var, 4)                 # exact at width 64
    (-0.3209, 0.664)
    """
    w = _check_widths(widths)
    name = _act_name(act)
    sw = (2.0 if name == "relu" else 1.0) if sigma_w2 is None else _check_sw(sigma_w2)
    mean, var, prob = log_volume_moments(w, 1, name, sw)
    beta = hanin_nica_beta(w, name)
    gain = 0.5 if name == "relu" else 1.0
    drift = float(sum(math.log(sw * gain * n_out / n_in) for n_in, n_out in zip(w[:-1], w[1:])))
    return LogNormPrediction(mean=mean, var=var, mean_leading=drift - beta / 2, var_leading=beta, beta=beta,
                             probability=prob)


def lyapunov_exponents(width: int, act: str = "relu", sigma_w2: float | None = None, count: int | None = None) -> np.ndarray:
    r"""Lyapunov exponents :math:`\gamma_i = \lim_L \frac1L\log s_i^2(J)`, equal widths, :math:`i = 1..\text{count}`.

    Differences of the per-layer exact log-volume means (module docstring); for relu the exponents are
    given for :math:`i` with :math:`P(B < i)` below :math:`10^{-12}` unless ``count`` asks for more.

    >>> g = lyapunov_exponents(4, "linear")            # Newman: psi((n-i+1)/2) + log(2/n)
    >>> bool(np.allclose(g, digamma(np.array([4, 3, 2, 1]) / 2) + np.log(2 / 4)))
    True
    """
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be an integer >= 1, got {width!r}")
    n = int(width)
    relu = _act_name(act) == "relu"
    sw = (2.0 if relu else 1.0) if sigma_w2 is None else _check_sw(sigma_w2)
    if count is None:
        count = n if not relu else max(1, int(binom.ppf(1e-12, n, 0.5)))
    if not 1 <= count <= n:
        raise ValueError(f"count must lie in [1, {n}], got {count!r}")
    out = np.empty(count)
    for i in range(1, count + 1):
        if relu:
            b, p, _ = _binomial_table(n, i)
            out[i - 1] = math.log(sw / n) + math.log(2) + float(p @ digamma((b - i + 1) / 2.0))
        else:
            out[i - 1] = math.log(sw / n) + math.log(2) + float(digamma((n - i + 1) / 2.0))
    return out


def sample_log_volume(widths: Sequence[int], k: int, trials: int, act: str = "relu", sigma_w2: float | None = None,
                      rng=None) -> np.ndarray:
    r"""Monte Carlo of :math:`\log\det(T^\top J^\top JT)` on real :class:`~nn_spectra.MLP` networks (zero bias).

    Each trial draws a network and an input, pushes the frame :math:`T = [e_1..e_k]` through
    :meth:`MLP.jvp` to the last hidden layer, and returns the log-determinant of the Gram matrix of the
    image.  Trials in which some layer has fewer than ``k`` active units (volume 0) are returned as
    ``-inf``, matching the conditioning of :func:`log_volume_moments`.
    """
    from .mlp import MLP

    w = _check_widths(widths)
    name = _act_name(act)
    sw = (2.0 if name == "relu" else 1.0) if sigma_w2 is None else _check_sw(sigma_w2)
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    gen = np.random.default_rng(rng)
    L = len(w) - 1
    out = np.empty(int(trials))
    T = np.eye(w[0])[:k]
    for t in range(int(trials)):
        net = MLP(w + [1], name, sw, 0.0, weights="gaussian", rng=gen)
        x = gen.standard_normal(w[0])
        fw = net.forward(x, return_all=True)
        active = [int(np.sum(net.act.dphi(h[0]) > 0)) for h in fw[1][:L]]
        if min(active) < k:
            out[t] = -np.inf
            continue
        img = net.jvp(x, T, layer=L, forward=fw)
        # log-volumes grow like L*log(gain): renormalising per layer is unnecessary in float64 for the
        # depths used here, but slogdet of the Gram keeps the sign/scale robust
        sign, logdet = np.linalg.slogdet(img @ img.T)
        out[t] = logdet if sign > 0 else -np.inf
    return out


def sample_log_jacobian_norm(widths: Sequence[int], trials: int, act: str = "relu", sigma_w2: float | None = None,
                             rng=None) -> np.ndarray:
    r"""Monte Carlo of :math:`\log\|Ju\|^2` for ``u = e_1`` on real zero-bias :class:`~nn_spectra.MLP` networks.

    >>> s = sample_log_jacobian_norm([8, 8, 8], trials=3, rng=0)
    >>> s.shape
    (3,)
    """
    return sample_log_volume(widths, 1, trials, act, sigma_w2, rng)


def plot_infinite_width_breakdown(widths: Sequence[int] = (32, 128),
                                  ratios: Sequence[float] = (1 / 128, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4),
                                  trials: int = 300, band: float = 0.25, rng=0):
    r"""Where the infinite-width law stops describing real relu networks, as depth/width grows.

    Left: the variance of :math:`\log\|Ju\|^2` over random networks (Monte Carlo, dots) against the exact
    finite-width value (lines) and Hanin–Nica's :math:`\beta = 5L/n` (dashed); the infinite-width
    (free-probability) prediction is 0.  Right: the probability that :math:`\|Ju\|^2` lies within a factor
    :math:`1\pm` ``band`` of its infinite-width value 1 (Monte Carlo against the log-normal prediction);
    the infinite-width law says 1.  Critical relu (:math:`\sigma_w^2 = 2`, zero bias), equal widths,
    depth :math:`L = \text{ratio}\times n`.

    Returns a matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    gen = np.random.default_rng(rng)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for n in widths:
        xs, v_mc, v_ex, p_mc, p_ln = [], [], [], [], []
        for r in ratios:
            L = max(1, int(round(r * n)))
            w = [int(n)] * (L + 1)
            s = sample_log_jacobian_norm(w, trials, rng=gen)
            s = s[np.isfinite(s)]
            pred = log_norm_moments(w)
            xs.append(L / n)
            v_mc.append(s.var(ddof=1))
            v_ex.append(pred.var)
            lo, hi = math.log(1 - band), math.log(1 + band)
            p_mc.append(np.mean((s > lo) & (s < hi)))
            sd = math.sqrt(pred.var)
            p_ln.append(norm.cdf(hi, pred.mean, sd) - norm.cdf(lo, pred.mean, sd))
        line, = ax1.plot(xs, v_ex, "-", label=f"width {n}: exact")
        ax1.plot(xs, v_mc, "o", color=line.get_color(), ms=4)
        ax2.plot(xs, p_ln, "-", color=line.get_color(), label=f"width {n}: log-normal")
        ax2.plot(xs, p_mc, "o", color=line.get_color(), ms=4)
    xx = np.array(sorted(set(ratios)))
    ax1.plot(xx, 5 * xx, "k--", lw=1, label="Hanin–Nica β = 5L/n")
    ax1.axhline(0, color="grey", lw=2, label="infinite width")
    ax1.set_xscale("log")
    ax1.set_xlabel("depth / width")
    ax1.set_ylabel("Var log‖Ju‖²")
    ax1.legend(fontsize="small")
    ax2.axhline(1, color="grey", lw=2, label="infinite width")
    ax2.set_xscale("log")
    ax2.set_xlabel("depth / width")
    ax2.set_ylabel(f"P(‖Ju‖² within ×(1±{band:g}) of 1)")
    ax2.set_ylim(0, 1.05)
    ax2.legend(fontsize="small")
    fig.suptitle("relu networks at σ_w² = 2: dots Monte Carlo over networks, lines finite-width theory")
    fig.tight_layout()
    return fig
