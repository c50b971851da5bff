r"""Double descent: asymptotic test risk of min-norm least squares and ridge regression, isotropic features.

Model (Hastie, Montanari, Rosset & Tibshirani 2019): :math:`n` samples :math:`x_i\sim N(0, I_p)`,
:math:`y_i = x_i^\top\beta + \varepsilon_i`, :math:`\|\beta\|^2 = r^2`, noise variance :math:`\sigma^2`,
:math:`\gamma = p/n` fixed as :math:`n,p\to\infty`.  Risk = excess test error
:math:`E[(x^\top\hat\beta - x^\top\beta)^2] = \|\hat\beta-\beta\|^2` (add :math:`\sigma^2` for the
test-noise floor).

* ridge, :math:`\hat\beta_\lambda = (X^\top X/n + \lambda I)^{-1}X^\top y/n`:

  .. math:: R(\lambda) = r^2\lambda^2 m'(-\lambda) + \sigma^2\gamma\,[m(-\lambda) - \lambda m'(-\lambda)],

  with :math:`m(z) = \int d\mu_\gamma(s)/(s-z) = -G(z)` the Stieltjes transform of the Marchenko–Pastur
  law :math:`\mu_\gamma` of :math:`X^\top X/n` (``freeprob.marchenko_pastur(ratio=γ)``), and
  :math:`m'` taken by a complex step on its Cauchy transform (no cancellation);
* min-norm interpolation (:math:`\lambda\to0^+`):
  :math:`\sigma^2\gamma/(1-\gamma)` for :math:`\gamma<1`,
  :math:`r^2(1-1/\gamma) + \sigma^2/(\gamma-1)` for :math:`\gamma>1`, infinite at :math:`\gamma = 1`.
"""
from __future__ import annotations

import numpy as np

import freeprob as fp

__all__ = ["min_norm_risk", "ridge_risk", "optimal_ridge_lambda", "simulate_risk", "plot_double_descent"]


def _check(name, v, strict=False):
    a = np.asarray(v, float)
    if np.any(~np.isfinite(a)) or (np.any(a <= 0) if strict else np.any(a < 0)):
        raise ValueError(f"{name} must lie in {'(0' if strict else '[0'}, inf), got {v!r}")
    return a


def min_norm_risk(gamma, r2: float = 1.0, sigma2: float = 1.0):
    r"""Asymptotic risk of the minimum-norm least-squares interpolator (closed form; ``inf`` at γ = 1).

    >>> min_norm_risk([0.5, 2.0], r2=1.0, sigma2=0.25)
    array([0.25, 0.75])
    """
    g = _check("gamma", gamma, strict=True)
    r2 = float(_check("r2", r2))
    s2 = float(_check("sigma2", sigma2))
    with np.errstate(divide="ignore"):
        out = np.where(g < 1, s2 * g / np.where(g < 1, 1 - g, 1.0),
                       np.where(g > 1, r2 * (1 - 1 / g) + s2 / np.where(g > 1, g - 1, 1.0), np.inf))
    return float(out) if out.ndim == 0 else out


def _stieltjes(gamma: float, lam: float):
    # m(−λ) and m'(−λ) from the core's MP Cauchy transform; m' by a complex step: for G real on the
    # real axis off the support, G(x + ih) = G(x) + ih G'(x) + O(h²) with no subtractive cancellation
    mu = fp.marchenko_pastur(ratio=float(gamma), var=1.0)
    h = 1e-9 * max(1.0, lam)
    g = complex(mu.cauchy(complex(-lam, h)))
    m = -g.real
    dm = -g.imag / h    # m'(z) = −G'(z) at z = −λ
    return m, dm


def ridge_risk(gamma, lam, r2: float = 1.0, sigma2: float = 1.0):
    r"""Asymptotic ridge risk :math:`r^2\lambda^2m'(-\lambda)+\sigma^2\gamma(m(-\lambda)-\lambda m'(-\lambda))`.

    Parameters
    ----------
    gamma : float or array_like
        :math:`p/n > 0`.
    lam : float or array_like
        Ridge penalty :math:`\lambda > 0` (broadcast with ``gamma``).

    Examples
    --------
    >>> round(float(ridge_risk(0.5, 1e-8, 1.0, 0.25)), 6)     # → min-norm risk σ²γ/(1−γ)
    0.25
    """
    g = _check("gamma", gamma, strict=True)
    lam_a = _check("lam", lam, strict=True)
    r2 = float(_check("r2", r2))
    s2 = float(_check("sigma2", sigma2))
    g, lam_a = np.broadcast_arrays(g, lam_a)
    out = np.empty(g.shape)
    for idx in np.ndindex(g.shape):
        m, dm = _stieltjes(g[idx], lam_a[idx])
        out[idx] = r2 * lam_a[idx] ** 2 * dm + s2 * g[idx] * (m - lam_a[idx] * dm)
    return float(out) if out.ndim == 0 else out


def optimal_ridge_lambda(gamma, r2: float = 1.0, sigma2: float = 1.0):
    r"""The risk-minimising penalty :math:`\lambda^* = \sigma^2\gamma/r^2` (Dobriban & Wager 2018); its
    risk has no peak at γ = 1.

    >>> optimal_ridge_lambda(2.0, r2=1.0, sigma2=0.5)
    1.0
    """
    g = _check("gamma", gamma, strict=True)
    r2 = float(_check("r2", r2, strict=False))
    if r2 <= 0:
        raise ValueError(f"r2 must lie in (0, inf), got {r2!r}")
    out = float(_check("sigma2", sigma2)) * g / r2
    return float(out) if np.ndim(out) == 0 else out


def simulate_risk(n: int, p: int, lam: float = 0.0, r2: float = 1.0, sigma2: float = 1.0, trials: int = 20,
                  rng=None) -> tuple[float, float]:
    r"""Monte-Carlo risk :math:`\|\hat\beta-\beta\|^2`: mean and standard error over ``trials`` draws.

    ``lam = 0`` is the min-norm solution :math:`X^+y` (normal equations on the smaller side); ``lam > 0``
    ridge with penalty :math:`n\lambda` on :math:`X^\top X`.  β is uniform on the sphere of radius √r2.
    """
    n, p, trials = int(n), int(p), int(trials)
    if n < 1 or p < 1 or trials < 2:
        raise ValueError(f"n, p must be >= 1 and trials >= 2, got n={n}, p={p}, trials={trials}")
    lam = float(_check("lam", lam))
    rng = np.random.default_rng(rng)
    vals = np.empty(trials)
    for t in range(trials):
        beta = rng.standard_normal(p)
        beta *= np.sqrt(r2) / np.linalg.norm(beta)
        X = rng.standard_normal((n, p))
        y = X @ beta + np.sqrt(sigma2) * rng.standard_normal(n)
        if lam == 0 and p > n:
            bh = X.T @ np.linalg.solve(X @ X.T, y)      # min-norm interpolator X⁺y
        elif lam == 0 and p < n:
            bh = np.linalg.solve(X.T @ X, X.T @ y)
        elif lam == 0:
            bh = np.linalg.lstsq(X, y, rcond=None)[0]
        else:
            bh = np.linalg.solve(X.T @ X + n * lam * np.eye(p), X.T @ y)
        vals[t] = np.sum((bh - beta) ** 2)
    return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(trials))


def plot_double_descent(ax=None, gammas=None, lams=(1e-3, 0.1, 1.0), r2: float = 1.0, sigma2: float = 0.25,
                        monte_carlo: int = 0, n: int = 200, rng=None):
    """Risk against γ: min-norm curve, ridge curves for ``lams``, optional Monte-Carlo points (n samples)."""
    if ax is None:
        from matplotlib.figure import Figure
        ax = Figure(figsize=(5.5, 3.6), layout="constrained").subplots()
    gammas = np.linspace(0.1, 4.0, 300) if gammas is None else np.asarray(gammas, float)
    mn = min_norm_risk(gammas, r2, sigma2)
    ax.plot(gammas, np.where(mn < 10 * (r2 + sigma2), mn, np.nan), "k-", lw=2, label="min-norm (λ→0)")
    for lam in lams:
        ax.plot(gammas, ridge_risk(gammas, lam, r2, sigma2), lw=1.2, label=f"ridge λ={lam:g}")
    ax.plot(gammas, ridge_risk(gammas, optimal_ridge_lambda(gammas, r2, sigma2), r2, sigma2), "g--", lw=1,
            label="optimal ridge")
    if monte_carlo:
        gs = np.array([0.25, 0.5, 0.75, 1.5, 2.0, 3.0])
        est = [simulate_risk(n, max(1, int(round(g * n))), 0.0, r2, sigma2, monte_carlo, rng) for g in gs]
        ax.errorbar(gs, [e[0] for e in est], yerr=[2 * e[1] for e in est], fmt="ko", ms=4,
                    label=f"Monte Carlo min-norm (n={n})")
    ax.set_ylim(0, 3 * (r2 + sigma2))
    ax.axvline(1.0, color="0.7", lw=0.8)
    ax.set_xlabel("γ = p/n")
    ax.set_ylabel("test risk ‖β̂ − β‖²")
    ax.set_title(f"double descent (r²={r2:g}, σ²={sigma2:g})")
    ax.legend(fontsize="small")
    return ax
