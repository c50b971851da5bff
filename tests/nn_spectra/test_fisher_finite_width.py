"""Finite-width NTK diagonal / one-input Fisher statistics of zero-bias relu networks.

Truths used: Monte Carlo over real MLP networks (empirical_ntk), with Z standard errors (SE of a sample mean
s/sqrt(n); SE of a sample variance sqrt(var((x - mean)^2)/n)); a hand-derived closed form for one hidden
layer; the infinite-width statistics of nn_spectra.fisher (Karakida et al.).
"""
from __future__ import annotations

import numpy as np
import pytest

from nn_spectra.fisher import fim_statistics
from nn_spectra.fisher_finite_width import fim_statistics_one_input, ntk_diagonal_moments, sample_ntk_diagonal

Z = 4.0


def _se_var(s):
    return np.sqrt(np.var((s - s.mean()) ** 2) / s.size)


@pytest.mark.parametrize("widths, sw2, q, seed", [([4, 4, 4, 1], 1.7, 0.8, 1), ([6, 5, 7, 3, 1], 2.0, 1.3, 2)])
def test_exact_moments_vs_monte_carlo_small_networks(widths, sw2, q, seed):
    # tiny widths: dead layers (Theta = 1) happen with probability 1 - prod(1 - 2^-n) ~ 12 % / 5 %
    p = ntk_diagonal_moments(widths, sw2, q)
    s = sample_ntk_diagonal(widths, 5000, sw2, q, rng=seed)
    assert abs(s.mean() - p.mean) < Z * s.std(ddof=1) / np.sqrt(s.size), (s.mean(), p.mean)
    assert abs(s.var(ddof=1) - p.var) < Z * _se_var(s), (s.var(ddof=1), p.var)


@pytest.mark.parametrize("n0, n1, sw2, q", [(5, 3, 2.0, 1.0), (7, 40, 1.3, 0.6), (64, 64, 2.0, 1.0)])
def test_one_hidden_layer_closed_form(n0, n1, sw2, q):
    # L = 2: Theta = 1 + u A + v X, u = sw2 (a0 + 1)/n1, v = sw2 a0/n0, A, X iid chi^2_B given
    # B ~ Bin(n1, 1/2) (|W_2^T| on the active units; |h_1|^2), so E = 1 + (u + v) E B and
    # Var = 2 (u^2 + v^2) E B + (u + v)^2 Var B
    a0 = q * n0
    u, v = sw2 * (a0 + 1) / n1, sw2 * a0 / n0
    mean = 1 + (u + v) * n1 / 2
    var = 2 * (u * u + v * v) * n1 / 2 + (u + v) ** 2 * n1 / 4
    p = ntk_diagonal_moments([n0, n1, 1], sw2, q)
    assert p.mean == pytest.approx(mean, rel=1e-12)
    assert p.var == pytest.approx(var, rel=1e-10)
    # leading order at sw2 = 2, n0 = n1 = n, q = 1: Theta ~ 2 chi^2_{2B} -> Var/mean^2 = 3/n
    if (n0, n1, sw2, q) == (64, 64, 2.0, 1.0):
        assert p.rel_var_leading == pytest.approx(3 / 64, rel=1e-12)


@pytest.mark.parametrize("depth", [2, 4, 7])
def test_mean_equals_karakida_infinite_width(depth):
    # the mean eigenvalue of the one-input FIM has no finite-width correction (up to O(2^-n) dead layers)
    n = 40
    s = fim_statistics_one_input([30] + [n] * (depth - 1) + [1], 2.0, 1.2)
    ref = fim_statistics("relu", 2.0, 0.0, depth=depth, width=n, n_samples=1, n_outputs=1, input_dim=30, q_input=1.2)
    assert s["n_params"] == ref.n_params
    assert s["mean_infinite"] == pytest.approx(ref.mean, rel=1e-12)
    assert s["lambda_max_infinite"] == pytest.approx(ref.lambda_max, rel=1e-12)
    assert s["mean"] == pytest.approx(ref.mean, rel=depth * 2.0 ** -n * 10)
    assert s["second_moment_infinite"] == pytest.approx(ref.second_moment, rel=1e-12)


def test_leading_correction_residual_is_second_order():
    # Var/mean^2 - D/n = O(1/n^2): doubling the width divides the residual by about 4
    res = []
    for n in (32, 64, 128, 256):
        p = ntk_diagonal_moments([n] * 5 + [1])
        res.append(abs(p.rel_var - p.rel_var_leading))
        assert p.rel_var_leading * n == pytest.approx(ntk_diagonal_moments([1000] * 5 + [1]).rel_var_leading * 1000)
    r = np.array(res[:-1]) / np.array(res[1:])
    assert np.all((r > 3.2) & (r < 4.8)), r


def test_second_moment_correction_vs_monte_carlo_over_widths():
    # measured E[s]/s_inf - 1 = E[Theta^2]/Theta_inf^2 - 1 against the leading D/n, tolerance Z SE plus the
    # second-order term bounded in advance by (D/n)^2; and the measured mean against Theta_inf (no correction)
    depth, rng = 4, np.random.default_rng(11)
    for n, trials in ((16, 3000), (32, 2000), (64, 1500)):
        widths = [n] * depth + [1]
        p = ntk_diagonal_moments(widths)
        s = sample_ntk_diagonal(widths, trials, rng=rng)
        assert abs(s.mean() - p.mean_infinite) < Z * s.std(ddof=1) / np.sqrt(trials) + p.mean_infinite * depth * 2.0 ** -n
        r = (s / p.mean_infinite) ** 2
        dev, se = r.mean() - 1, r.std(ddof=1) / np.sqrt(trials)
        assert abs(dev - p.rel_var_leading) < Z * se + p.rel_var_leading ** 2, (n, dev, p.rel_var_leading, se)
        assert abs(dev - (p.second_moment / p.mean_infinite ** 2 - 1)) < Z * se, (n, dev, se)


@pytest.mark.parametrize("kw, match", [
    (dict(widths=[8]), "widths"),
    (dict(widths=[8, 0, 1]), "widths"),
    (dict(sigma_w2=-1.0), "sigma_w2"),
    (dict(q_input=0.0), "q_input"),
])
def test_bad_input(kw, match):
    args = {"widths": [8, 8, 1], "sigma_w2": 2.0, "q_input": 1.0, **kw}
    with pytest.raises(ValueError, match=match):
        ntk_diagonal_moments(**args)
    with pytest.raises(ValueError, match="trials"):
        sample_ntk_diagonal([4, 4, 1], 0)
