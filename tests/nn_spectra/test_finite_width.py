"""Finite-width (Hanin-Nica) predictions against Monte Carlo on real zero-bias networks.

Monte-Carlo tolerances: Z standard errors, the standard error of the sample mean s/sqrt(n) and of the
sample variance sqrt(var((x - mean)^2) / n).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import digamma, polygamma
from scipy.stats import binom

from nn_spectra.finite_width import (hanin_nica_beta, log_norm_moments, log_volume_moments, lyapunov_exponents,
                                     sample_log_jacobian_norm, sample_log_volume)

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
