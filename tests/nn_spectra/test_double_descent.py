"""Double descent: the Marchenko–Pastur ridge formula against the min-norm closed form, against a
direct scipy integration of the MP density, and against Monte Carlo on both sides of γ = 1."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

import nn_spectra as ns


@pytest.mark.parametrize("gamma", [0.2, 0.5, 0.8, 1.25, 2.0, 5.0])
def test_ridge_tends_to_min_norm(gamma):
    r = ns.ridge_risk(gamma, 1e-7, r2=1.3, sigma2=0.4)
    exact = ns.min_norm_risk(gamma, r2=1.3, sigma2=0.4)
    assert abs(r - exact) < 1e-4 * exact


def _mp_integral(gamma, lam, r2, s2):
    # ∫ [r²λ²/(s+λ)² + σ²γ s/(s+λ)²] dμ_γ(s) with the MP density written from its definition,
    # plus the atom at 0 of mass 1 − 1/γ when γ > 1
    a, b = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2
    dens = lambda s: np.sqrt(max((b - s) * (s - a), 0.0)) / (2 * np.pi * gamma * s)  # noqa: E731
    f = lambda s: (r2 * lam ** 2 + s2 * gamma * s) / (s + lam) ** 2 * dens(s)  # noqa: E731
    val = integrate.quad(f, a, b, epsabs=1e-13, epsrel=1e-12, limit=200)[0]
    if gamma > 1:
        val += (1 - 1 / gamma) * r2
    return val


@pytest.mark.parametrize("gamma", [0.3, 0.9, 1.0, 1.7, 3.0])
@pytest.mark.parametrize("lam", [0.01, 0.3, 2.0])
def test_ridge_formula_against_direct_mp_integration(gamma, lam):
    assert abs(ns.ridge_risk(gamma, lam, 1.0, 0.5) - _mp_integral(gamma, lam, 1.0, 0.5)) < 1e-8


def test_optimal_ridge_has_no_peak():
    g = np.linspace(0.5, 2.0, 31)
    r = ns.ridge_risk(g, ns.optimal_ridge_lambda(g, 1.0, 0.5), 1.0, 0.5)
    assert np.all(np.diff(r) > 0)               # monotone through γ = 1
    assert np.all(r <= ns.ridge_risk(g, 0.05, 1.0, 0.5) + 1e-12)


@pytest.mark.parametrize("gamma,lam", [(0.5, 0.0), (2.0, 0.0), (0.7, 0.3), (1.5, 0.3)])
def test_formula_against_monte_carlo(gamma, lam):
    n = 150
    p = int(gamma * n)
    mc, se = ns.simulate_risk(n, p, lam, r2=1.0, sigma2=0.25, trials=12, rng=1)
    theory = ns.min_norm_risk(p / n, 1.0, 0.25) if lam == 0 else ns.ridge_risk(p / n, lam, 1.0, 0.25)
    # 4 standard errors plus a finite-n allowance of 4/n relative (the finite-sample bias is O(1/n))
    assert abs(mc - theory) < 4 * se + 4 / n * theory


@pytest.mark.slow
@pytest.mark.parametrize("gamma", [0.5, 0.8, 1.25, 2.0, 4.0])
def test_formula_against_monte_carlo_large(gamma):
    n = 600
    p = int(gamma * n)
    mc, se = ns.simulate_risk(n, p, 0.0, r2=1.0, sigma2=0.25, trials=20, rng=2)
    theory = ns.min_norm_risk(p / n, 1.0, 0.25)
    assert abs(mc - theory) < 4 * se + 4 / n * theory


def test_figure_and_bad_input():
    ax = ns.plot_double_descent(monte_carlo=2, n=40, rng=0)
    assert len(ax.lines) >= 5
    with pytest.raises(ValueError, match="gamma"):
        ns.min_norm_risk(-1.0)
    with pytest.raises(ValueError, match="lam"):
        ns.ridge_risk(0.5, 0.0)
    with pytest.raises(ValueError, match="sigma2"):
        ns.ridge_risk(0.5, 0.1, 1.0, -1.0)
    assert ns.min_norm_risk(1.0) == np.inf
