"""Finite-width (Hanin-Nica) predictions against Monte Carlo on real zero-bias networks.

Monte-Carlo tolerances: Z standard errors, the standard error of the sample mean s/sqrt(n) and of the
sample variance sqrt(var((x - mean)^2) / n).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import digamma, polygamma
from scipy.stats import binom

from nn_spectra.finite_width import (hanin_nica_beta, log_norm_leading_order, log_norm_moments, log_volume_moments,
                                     lyapunov_exponents, sample_log_jacobian_norm, sample_log_jacobian_norm_any,
                                     sample_log_volume)

Z = 4.0


def _check_mc(samples, mean, var, prob=1.0):
    # a layer with no active unit kills the signal (log = -inf); the exact moments condition on that
    # event not happening, which has probability `prob`: the alive fraction is Binomial(n, prob)
    alive = np.isfinite(samples)
    assert 0.0 <= prob <= 1.0
    assert abs(alive.mean() - prob) <= Z * np.sqrt(prob * (1 - prob) / samples.size) + 1.0 / samples.size
    samples = samples[alive]
    n = samples.size
    se_mean = samples.std(ddof=1) / np.sqrt(n)
    se_var = np.sqrt(np.var((samples - samples.mean()) ** 2) / n)
    assert abs(samples.mean() - mean) < Z * se_mean, (samples.mean(), mean, se_mean)
    assert abs(samples.var(ddof=1) - var) < Z * se_var, (samples.var(ddof=1), var, se_var)


@pytest.mark.parametrize("width, depth, act, trials", [
    (16, 4, "relu", 1500),
    (8, 32, "relu", 1500),      # depth = 4 x width: far from the infinite-width regime
    (16, 16, "linear", 800),
])
def test_log_norm_exact_moments_vs_monte_carlo(width, depth, act, trials):
    widths = [width] * (depth + 1)
    pred = log_norm_moments(widths, act)
    s = sample_log_jacobian_norm(widths, trials, act=act, rng=width * 1000 + depth)
    _check_mc(s, pred.mean, pred.var, pred.probability)


@pytest.mark.slow
@pytest.mark.parametrize("width", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("ratio", [0.25, 1.0, 4.0])
def test_log_norm_exact_moments_full_grid(width, ratio):
    widths = [width] * (int(ratio * width) + 1)
    pred = log_norm_moments(widths, "relu")
    trials = 2000 if width <= 32 else (600 if width <= 64 else 200)
    s = sample_log_jacobian_norm(widths, trials, rng=width + int(100 * ratio))
    _check_mc(s, pred.mean, pred.var, pred.probability)


def test_unequal_widths_and_sigma():
    widths = [10, 20, 12, 30]
    pred = log_norm_moments(widths, "relu", sigma_w2=1.7)
    s = sample_log_jacobian_norm(widths, 2000, sigma_w2=1.7, rng=4)
    _check_mc(s, pred.mean, pred.var, pred.probability)


def test_hanin_nica_leading_order_error_is_second_order_in_one_over_width():
    # exact - leading = O(sum 1/n^2): doubling the width divides the error by about 4
    errs = []
    for n in (32, 64, 128, 256):
        p = log_norm_moments([n] * 9, "relu")
        errs.append((abs(p.mean - p.mean_leading), abs(p.var - p.var_leading)))
    errs = np.array(errs)
    ratios = errs[:-1] / errs[1:]
    assert np.all((ratios > 3.2) & (ratios < 4.8)), ratios
    assert hanin_nica_beta([64] * 9) == pytest.approx(5 * 8 / 64)


def test_linear_log_norm_is_log_chi_square():
    # one linear layer: |W u|^2 = (sigma_w^2 / n_0) chi^2_{n_1} exactly
    p = log_norm_moments([5, 7], "linear", sigma_w2=3.0)
    assert p.mean == pytest.approx(np.log(3.0 / 5) + digamma(3.5) + np.log(2), rel=1e-14)
    assert p.var == pytest.approx(polygamma(1, 3.5), rel=1e-14)


@pytest.mark.parametrize("widths, k, act", [([16] * 9, 4, "relu"), ([8] * 5, 8, "linear")])
def test_frame_log_volume_vs_monte_carlo(widths, k, act):
    mean, var, prob = log_volume_moments(widths, k, act)
    s = sample_log_volume(widths, k, 1500, act=act, rng=k)
    _check_mc(s, mean, var, prob)  # prob = P(every layer keeps >= k active units)


def test_lyapunov_exponents():
    n = 6
    np.testing.assert_allclose(lyapunov_exponents(n, "linear"),
                               digamma((n - np.arange(n)) / 2) + np.log(2 / n), rtol=1e-13)
    g = lyapunov_exponents(64, "relu")
    assert np.all(np.diff(g) < 0)
    # exponents are reported for i with P(B < i) <= 1e-12, B ~ Binomial(64, 1/2)
    assert binom.cdf(g.size - 1, 64, 0.5) <= 1e-12 < binom.cdf(g.size, 64, 0.5)
    # top exponent = mean log-norm growth per layer in the deep limit
    assert g[0] == pytest.approx(log_norm_moments([64, 64], "relu").mean, rel=1e-12)


@pytest.mark.parametrize("kw, match", [
    (dict(act="tanh"), "act"),
    (dict(widths=[8]), "widths"),
    (dict(widths=[8, 2.5]), "widths"),
    (dict(sigma_w2=0.0), "sigma_w2"),
])
def test_bad_input(kw, match):
    args = {"widths": [8, 8], "act": "relu", "sigma_w2": None, **kw}
    with pytest.raises(ValueError, match=match):
        log_norm_moments(**args)


def test_bad_frame_size():
    with pytest.raises(ValueError, match="k must"):
        log_volume_moments([4, 4], k=5)


# ----------------------------------------------------------------------------- smooth activations (leading order)
@pytest.mark.parametrize("act", ["relu", "linear"])
def test_leading_order_reduces_to_hanin_nica(act):
    # the quadrature constants must give c = 5 (relu) / 2 (linear) and no length or overlap effect
    widths = [40, 24, 56, 32, 48]
    sw = 2.0 if act == "relu" else 1.3
    p = log_norm_leading_order(widths, act, sw, q_input=0.7)
    ref = log_norm_moments(widths, act, sigma_w2=sw)
    assert p.var == pytest.approx(ref.var_leading, rel=1e-9)
    assert p.var_gain == pytest.approx(ref.var_leading, rel=1e-9)
    assert p.mean == pytest.approx(ref.mean_leading, rel=1e-9, abs=1e-9)


def _check_leading(widths, act, sw, sb, q, trials, seed):
    # tolerance: Z standard errors plus the second-order remainder sum_l c_l^2 / n_l^2, fixed in advance
    # (on relu, where the exact moments are known, the remainder is about 0.8 of this allowance)
    p = log_norm_leading_order(widths, act, sw, sb, q)
    s = sample_log_jacobian_norm_any(widths, trials, act, sw, sb, q, rng=seed)
    allow = float(np.sum(p.c ** 2 / np.asarray(widths[1:], float) ** 2))
    se_mean = s.std(ddof=1) / np.sqrt(s.size)
    se_var = np.sqrt(np.var((s - s.mean()) ** 2) / s.size)
    assert abs(s.mean() - p.mean) < Z * se_mean + allow, (s.mean(), p.mean, se_mean, allow)
    assert abs(s.var(ddof=1) - p.var) < Z * se_var + allow, (s.var(ddof=1), p.var, se_var, allow)
    return p, s, se_mean, se_var


@pytest.mark.parametrize("width, depth, trials", [(16, 16, 1200), (16, 64, 400), (64, 8, 500)])
def test_tanh_log_norm_leading_order_vs_monte_carlo(width, depth, trials):
    p, s, se_mean, se_var = _check_leading([width] * (depth + 1), "tanh", 1.5, 0.0, 0.5, trials, 7 * width + depth)
    # ... and the test can fail: the infinite-width law (mean_infinite, variance 0) is rejected, and at
    # width 16 (enough power) so is the gain-only log-normal (variance sum c_l/n_l, no length fluctuation)
    assert abs(s.mean() - p.mean_infinite) > Z * se_mean
    if width == 16:
        assert s.var(ddof=1) - p.var_gain > Z * se_var


@pytest.mark.slow
@pytest.mark.parametrize("width", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("ratio", [0.25, 1.0, 4.0])
@pytest.mark.parametrize("sw, sb, q", [(1.5, 0.0, 0.5), (2.0, 0.05, 1.0)])
def test_tanh_log_norm_leading_order_full_grid(width, ratio, sw, sb, q):
    trials = 2000 if width <= 32 else (600 if width <= 64 else 200)
    _check_leading([width] * (int(ratio * width) + 1), "tanh", sw, sb, q, trials, width + int(100 * ratio))


def test_leading_order_bad_input():
    with pytest.raises(ValueError, match="sigma_b2"):
        log_norm_leading_order([8, 8], "tanh", 1.5, sigma_b2=-1.0)
    with pytest.raises(ValueError, match="q_input"):
        log_norm_leading_order([8, 8], "tanh", 1.5, q_input=0.0)
    with pytest.raises(ValueError, match="trials"):
        sample_log_jacobian_norm_any([8, 8], 0, "tanh", 1.5)


def test_breakdown_figure_shows_the_exact_variance_and_the_monte_carlo():
    # the figure of where the infinite-width law stops: its solid line is the exact Var log||Ju||^2
    # (recomputed here from log_norm_moments), its markers Monte Carlo variances within Z standard errors
    # of it, and at depth = width the infinite-width value 0 is rejected by the markers
    import matplotlib

    matplotlib.use("Agg")
    from nn_spectra.finite_width import plot_infinite_width_breakdown

    fig = plot_infinite_width_breakdown(widths=(8,), ratios=(0.5, 1.0), trials=600, rng=3, smooth=None)
    ax = fig.axes[0]
    exact, mc = ax.lines[0], ax.lines[1]
    x = np.asarray(exact.get_xdata())
    np.testing.assert_allclose(x, [0.5, 1.0])
    for r, v_line, v_mc in zip(x, exact.get_ydata(), mc.get_ydata()):
        pred = log_norm_moments([8] * (int(round(r * 8)) + 1))
        assert v_line == pytest.approx(pred.var, rel=1e-12)
        # SE of a sample variance = sqrt((kurtosis - 1)/n) var; log||Ju||^2 is a sum of log chi-square terms,
        # whose excess kurtosis is at most that of log chi^2_1 (polygamma(3, 1/2) / polygamma(1, 1/2)^2 = 4)
        se = np.sqrt(6 / 600) * pred.var
        assert abs(v_mc - pred.var) < Z * se, (r, v_mc, pred.var)
        assert v_mc > Z * se        # not the infinite-width 0
    import matplotlib.pyplot as plt

    plt.close(fig)
