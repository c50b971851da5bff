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
activations have these exact representations; the exact functions raise for others.

Smooth activations (:func:`log_norm_leading_order`).  Without the sign symmetry the per-layer factor
:math:`R_l = \|t_l\|^2/\|t_{l-1}\|^2 = \frac{\sigma_w^2}{n_{l-1}}\sum_{i\le n_l}\phi'(u_i)^2\zeta_i^2`
(given the past, :math:`(u_i, \zeta_i)` are i.i.d. Gaussian, :math:`u_i\sim N(0, q_l)`, :math:`\zeta_i\sim N(0,1)`
with correlation :math:`r_l = \cos(t_{l-1}, h_{l-1})\sqrt{(q_l - \sigma_b^2)/q_l}`) still has relative
variance :math:`c_l/n_l`, :math:`c_l = 3E\phi'^4/(E\phi'^2)^2 - 1` (5 for relu, 2 for linear), but three more
effects of the same order :math:`1/n` appear, all Gaussian expectations along the infinite-width q-map
:math:`\bar q_l` (computed by quadrature, :func:`nn_spectra.gaussian_integrals.gaussian_expectation`):

* the length :math:`q_l` fluctuates, :math:`\delta_{l+1} = \rho_l\delta_l + \xi_l`, with
  :math:`\rho_l = \partial_q(\sigma_w^2E\phi^2)`, :math:`n_l\operatorname{Var}\xi_l = \sigma_w^4\operatorname{Var}\phi^2`,
  :math:`n_l\operatorname{Cov}(\xi_l, \eta_l) = \sigma_w^2\operatorname{Cov}(\phi^2, \phi'^2)/E\phi'^2`, and moves the gain
  :math:`g(q) = \sigma_w^2E\phi'^2` by :math:`\gamma_l\delta_l + \frac12\gamma_{2,l}\delta_l^2`
  (:math:`\gamma = (\log g)'`, :math:`\gamma_2 = (\log g)''`; q-derivatives by Hermite weights,
  :math:`\partial_qE f = E[f\,\mathrm{He}_2(z)]/2q`, :math:`\partial_q^2E f = E[f\,\mathrm{He}_4(z)]/4q^2`);
* the tangent keeps an :math:`O(n^{-1/2})` overlap with the state, :math:`E\cos^2_l = a_lE\cos^2_{l-1} + b_l/n_l`
  (:math:`a_l = \frac{q-\sigma_b^2}{q}\frac{(E\phi\phi'u)^2}{qE\phi^2E\phi'^2}`,
  :math:`b_l = \frac{E\phi^2\phi'^2}{E\phi^2E\phi'^2}`, :math:`E\cos_0^2 = 1/n_0`), which shifts the mean gain by
  :math:`r_l^2(E[\phi'^2u^2]/(qE\phi'^2) - 1)`.

With :math:`G_L = 0`, :math:`G_l = \gamma_{l+1} + \rho_{l+1}G_{l+1}` (the total effect of :math:`\xi_l` on later gains):

.. math::

    \operatorname{Var}\log\|Ju\|^2 \approx \sum_l \frac{c_l + G_l^2 s_{\xi,l} + 2G_l s_{\xi\eta,l}}{n_l},\qquad
    E\log\|Ju\|^2 \approx \sum_l\Big[\log\frac{g(\bar q_l)n_l}{n_{l-1}} - \frac{c_l}{2n_l} + \gamma_lE\delta_l
    + \tfrac12\gamma_{2,l}\operatorname{Var}\delta_l + E r_l^2\,\kappa_l\Big],

linear in the :math:`1/n_l` with errors :math:`O(\sum_l n_l^{-2})`; for relu and linear networks
:math:`\gamma = \kappa = 0` and this is Hanin–Nica's law.  Near a critical point of the q-map
(:math:`\rho\to 1`) the length fluctuations dominate (:math:`G\sim\gamma/(1-\rho)`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import digamma, polygamma
from scipy.stats import binom

__all__ = ["LogNormPrediction", "hanin_nica_beta", "log_norm_moments", "log_volume_moments", "plot_infinite_width_breakdown",
           "lyapunov_exponents", "sample_log_jacobian_norm", "sample_log_volume", "LeadingLogNorm",
           "log_norm_leading_order", "sample_log_jacobian_norm_any"]

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
                                  trials: int = 300, band: float = 0.25, rng=0,
                                  smooth: tuple | None = ("tanh", 1.5, 0.0, 0.5)):
    r"""Where the infinite-width law stops describing real networks, as depth/width grows.

    Left: the variance of :math:`\log\|Ju\|^2` over random networks (Monte Carlo, markers) against the
    finite-width theory (lines: exact for relu, :func:`log_norm_leading_order` for the smooth
    activation) and Hanin–Nica's :math:`\beta = 5L/n` (dashed); the infinite-width (free-probability)
    prediction is 0.  Right: the probability that :math:`\|Ju\|^2` lies within a factor
    :math:`1\pm` ``band`` of its infinite-width value (Monte Carlo against the log-normal prediction);
    the infinite-width law says 1.  Relu at :math:`\sigma_w^2 = 2`, zero bias (circles, solid);
    ``smooth = (act, sigma_w2, sigma_b2, q_input)`` (squares, dotted; ``None`` to leave it out); equal
    widths, depth :math:`L = \text{ratio}\times n`.

    Returns a matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    gen = np.random.default_rng(rng)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.2))
    lo, hi = math.log(1 - band), math.log(1 + band)

    def _p_band(mean, var, centre):
        sd = math.sqrt(var)
        return norm.cdf(centre + hi, mean, sd) - norm.cdf(centre + lo, mean, sd)

    for n in widths:
        xs, v_mc, v_ex, p_mc, p_ln = [], [], [], [], []
        sx, sv_mc, sv_th, sp_mc, sp_ln = [], [], [], [], []
        for r in ratios:
            L = max(1, int(round(r * n)))
            w = [int(n)] * (L + 1)
            s = sample_log_jacobian_norm(w, trials, rng=gen)
            s = s[np.isfinite(s)]
            pred = log_norm_moments(w)
            xs.append(L / n)
            v_mc.append(s.var(ddof=1))
            v_ex.append(pred.var)
            p_mc.append(np.mean((s > lo) & (s < hi)))
            p_ln.append(_p_band(pred.mean, pred.var, 0.0))
            if smooth is not None:
                act, sw, sb, q = smooth
                st = sample_log_jacobian_norm_any(w, trials, act, sw, sb, q, rng=gen)
                th = log_norm_leading_order(w, act, sw, sb, q)
                sx.append(L / n)
                sv_mc.append(st.var(ddof=1))
                sv_th.append(th.var)
                c = th.mean_infinite
                sp_mc.append(np.mean((st > c + lo) & (st < c + hi)))
                sp_ln.append(_p_band(th.mean, th.var, c))
        line, = ax1.plot(xs, v_ex, "-", label=f"relu, width {n}: exact")
        ax1.plot(xs, v_mc, "o", color=line.get_color(), ms=4)
        ax2.plot(xs, p_ln, "-", color=line.get_color(), label=f"relu, width {n}")
        ax2.plot(xs, p_mc, "o", color=line.get_color(), ms=4)
        if smooth is not None:
            col = line.get_color()
            ax1.plot(sx, sv_th, ":", color=col, label=f"{smooth[0]}, width {n}: leading order")
            ax1.plot(sx, sv_mc, "s", color=col, ms=4, mfc="none")
            ax2.plot(sx, sp_ln, ":", color=col, label=f"{smooth[0]}, width {n}")
            ax2.plot(sx, sp_mc, "s", color=col, ms=4, mfc="none")
    xx = np.array(sorted(set(ratios)))
    ax1.plot(xx, 5 * xx, "k--", lw=1, label="Hanin–Nica β = 5L/n")
    ax1.axhline(0, color="grey", lw=2, label="infinite width")
    ax1.set_xscale("log")
    ax1.set_yscale("symlog", linthresh=0.01)
    ax1.set_ylim(0, None)   # variances: the symlog scale only serves to show the infinite-width 0
    ax1.set_xlabel("depth / width")
    ax1.set_ylabel("Var log‖Ju‖²")
    ax1.legend(fontsize="x-small")
    ax2.axhline(1, color="grey", lw=2, label="infinite width")
    ax2.set_xscale("log")
    ax2.set_xlabel("depth / width")
    ax2.set_ylabel(f"P(‖Ju‖² within ×(1±{band:g}) of its infinite-width value)")
    ax2.set_ylim(0, 1.05)
    ax2.legend(fontsize="x-small")
    extra = "" if smooth is None else (f"; {smooth[0]} σ_w²={smooth[1]:g}, σ_b²={smooth[2]:g} "
                                       f"(squares, dotted)")
    fig.suptitle("markers: Monte Carlo over networks; lines: finite-width theory. relu σ_w² = 2 (circles, solid)"
                 + extra, fontsize="small")
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class LeadingLogNorm:
    r"""Leading-order (:math:`1/n`) law of :math:`\log\|Ju\|^2` for any activation (module docstring).

    ``mean_infinite`` is :math:`\sum_l\log(g(\bar q_l)n_l/n_{l-1})`, the infinite-width value; ``mean`` and
    ``var`` include every :math:`1/n_l` term.  ``var_gain`` is the :math:`\sum_l c_l/n_l` part of ``var``
    (Hanin–Nica's :math:`\beta` for relu); the rest is the length fluctuation.  Per-layer arrays:
    ``q`` (:math:`\bar q_l`), ``c`` (:math:`c_l`), ``rho`` (:math:`\rho_l`), ``gamma`` (:math:`\gamma_l`).
    """

    mean: float
    var: float
    mean_infinite: float
    var_gain: float
    q: np.ndarray
    c: np.ndarray
    rho: np.ndarray
    gamma: np.ndarray


def log_norm_leading_order(widths: Sequence[int], act, sigma_w2: float, sigma_b2: float = 0.0,
                           q_input: float = 1.0, *, trace: bool = False) -> LeadingLogNorm:
    r"""Mean and variance of :math:`\log\|Ju\|^2` to first order in the :math:`1/n_l`, for any activation.

    Network as :func:`sample_log_jacobian_norm` (Gaussian weights, biases :math:`N(0,\sigma_b^2)`), input
    with :math:`\|x\|^2/n_0 =` ``q_input`` and a tangent :math:`u` of random direction relative to
    :math:`x`.  Formulas in the module docstring; every Gaussian expectation by quadrature.

    ``trace=True`` describes instead the scale :math:`\log(\operatorname{tr}J^\top J/n_0)` of the whole
    spectrum (the first moment of the :func:`nn_spectra.jacobian_law` of one network): the average over
    input directions removes the :math:`\zeta^2` noise, so :math:`c_l` becomes
    :math:`\operatorname{Var}\phi'^2/(E\phi'^2)^2` (1 for relu: :math:`\operatorname{Var}(2B/n) = 1/n`) and
    :math:`s_{\xi\eta}` keeps its form; only ``var``, ``var_gain`` and ``c`` are meaningful then (the
    mean keeps the single-direction terms).

    Examples
    --------
    >>> p = log_norm_leading_order([64] * 9, "relu", 2.0)        # Hanin-Nica: mean -beta/2, var beta
    >>> round(p.mean, 6), round(p.var, 6), round(p.var_gain, 6)
    (-0.3125, 0.625, 0.625)
    >>> p = log_norm_leading_order([64] * 9, "tanh", 1.5, q_input=0.5)
    >>> bool(p.var > p.var_gain)      # the fluctuating length adds to the variance
    True
    """
    from .activations import Activation, activation
    from .gaussian_integrals import gaussian_expectation

    w = _check_widths(widths)
    a = act if isinstance(act, Activation) else activation(act)
    sw = _check_sw(sigma_w2)
    if not (np.isfinite(sigma_b2) and sigma_b2 >= 0):
        raise ValueError(f"sigma_b2 must lie in [0, inf), got {sigma_b2!r}")
    if not (np.isfinite(q_input) and q_input > 0):
        raise ValueError(f"q_input must lie in (0, inf), got {q_input!r}")
    L = len(w) - 1
    n = np.array(w, float)

    def E(f, q):
        return float(gaussian_expectation(f, q, kinks=a.kinks))

    phi, dphi = a.phi, a.dphi
    he2 = lambda x, q: x * x / q - 1.0          # noqa: E731 (Hermite weights in u = sqrt(q) z)
    he4 = lambda x, q: (x / math.sqrt(q)) ** 4 - 6 * x * x / q + 3.0  # noqa: E731
    q = np.empty(L)
    cols = {k: np.empty(L) for k in ("E2", "E4", "F2", "F4", "FD", "M1", "M2", "E2d", "E2dd", "F2d", "F2dd")}
    ql = sw * q_input + sigma_b2
    for l in range(L):
        q[l] = ql
        d2 = lambda x: dphi(x) ** 2            # noqa: E731
        p2 = lambda x: phi(x) ** 2             # noqa: E731
        cols["E2"][l] = E(d2, ql)
        cols["E4"][l] = E(lambda x: dphi(x) ** 4, ql)
        cols["F2"][l] = E(p2, ql)
        cols["F4"][l] = E(lambda x: phi(x) ** 4, ql)
        cols["FD"][l] = E(lambda x: phi(x) ** 2 * dphi(x) ** 2, ql)
        cols["M1"][l] = E(lambda x: phi(x) * dphi(x) * x, ql)
        cols["M2"][l] = E(lambda x: dphi(x) ** 2 * x * x, ql)
        cols["E2d"][l] = E(lambda x: d2(x) * he2(x, ql), ql) / (2 * ql)
        cols["E2dd"][l] = E(lambda x: d2(x) * he4(x, ql), ql) / (4 * ql * ql)
        cols["F2d"][l] = E(lambda x: p2(x) * he2(x, ql), ql) / (2 * ql)
        cols["F2dd"][l] = E(lambda x: p2(x) * he4(x, ql), ql) / (4 * ql * ql)
        ql = sw * cols["F2"][l] + sigma_b2
    E2, F2 = cols["E2"], cols["F2"]
    if np.any(E2 <= 0) or np.any(q <= 0):
        raise ValueError("the infinite-width gain or length vanishes along the q-map; no log-normal law")
    c = (1 if trace else 3) * cols["E4"] / E2 ** 2 - 1
    s_xi = sw ** 2 * (cols["F4"] - F2 ** 2)
    s_xe = sw * (cols["FD"] - F2 * E2) / E2
    gamma = cols["E2d"] / E2
    gamma2 = cols["E2dd"] / E2 - gamma ** 2
    rho = sw * cols["F2d"]
    v2 = sw * cols["F2dd"]
    kappa = cols["M2"] / (q * E2) - 1
    frac = (q - sigma_b2) / q
    a_dir = frac * cols["M1"] ** 2 / (q * F2 * E2)
    b_dir = cols["FD"] / (F2 * E2)
    mean_inf = float(np.sum(np.log(sw * E2 * n[1:] / n[:-1])))
    mean, var_gain, var_q = mean_inf, 0.0, 0.0
    e_d, v_d, cos2 = 0.0, 0.0, 1.0 / n[0]
    G = np.zeros(L)
    for l in range(L - 2, -1, -1):
        G[l] = gamma[l + 1] + rho[l + 1] * G[l + 1]
    for l in range(L):
        nl = n[l + 1]
        r2 = frac[l] * cos2
        mean += -c[l] / (2 * nl) + gamma[l] * e_d + 0.5 * gamma2[l] * v_d + r2 * kappa[l]
        var_gain += c[l] / nl
        var_q += (G[l] ** 2 * s_xi[l] + 2 * G[l] * s_xe[l]) / nl
        e_d, v_d = rho[l] * e_d + 0.5 * v2[l] * v_d, rho[l] ** 2 * v_d + s_xi[l] / nl
        cos2 = a_dir[l] * cos2 + b_dir[l] / nl
    return LeadingLogNorm(mean=float(mean), var=float(var_gain + var_q), mean_infinite=mean_inf,
                          var_gain=float(var_gain), q=q, c=c, rho=rho, gamma=gamma)


def sample_log_jacobian_norm_any(widths: Sequence[int], trials: int, act, sigma_w2: float, sigma_b2: float = 0.0,
                                 q_input: float = 1.0, rng=None) -> np.ndarray:
    r"""Monte Carlo of :math:`\log\|Ju\|^2` for any activation: real :class:`~nn_spectra.MLP` networks with
    biases :math:`N(0,\sigma_b^2)`, an input of random direction with :math:`\|x\|^2 = q_\text{in}n_0` exactly,
    :math:`u = e_1`; the companion of :func:`log_norm_leading_order`.

    >>> sample_log_jacobian_norm_any([8, 8, 8], 3, "tanh", 1.5, rng=0).shape
    (3,)
    """
    from .mlp import MLP

    w = _check_widths(widths)
    sw = _check_sw(sigma_w2)
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    gen = np.random.default_rng(rng)
    L = len(w) - 1
    out = np.empty(int(trials))
    e1 = np.zeros((1, w[0]))
    e1[0, 0] = 1.0
    for t in range(int(trials)):
        net = MLP(w + [1], act, sw, float(sigma_b2), weights="gaussian", rng=gen)
        x = gen.standard_normal(w[0])
        x *= math.sqrt(q_input * w[0]) / np.linalg.norm(x)
        img = net.jvp(x, e1, layer=L)
        nrm = float(np.sum(img * img))
        out[t] = math.log(nrm) if nrm > 0 else -np.inf
    return out
