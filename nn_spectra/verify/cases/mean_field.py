r"""Forward theory of random deep networks against finite networks: the order/chaos transition,
the infinite-width NTK, and double descent of min-norm regression."""
from __future__ import annotations

import numpy as np

import nn_spectra as ns

from freeprob.verify import Case, Result, register, z_scores, z_test
from freeprob.verify.figure import new_figure


# tanh_criticality: the input sits at the fixed point q* (a prediction, computed before any network
# is drawn), so every layer is at q* up to O(N^-1/2) fluctuations and no burn-in is needed. Each of
# _CRIT_NETS independent networks gives one estimate of chi_1 (mean over the layers); the z-score
# uses the spread of those estimates. Known finite-width bias: the empirical length q^l = |h^l|^2/N
# fluctuates by O(N^-1/2) around q*, and chi_1(q) and the q-map are curved, so E chi_1-hat - 1 = O(1/N)
# (second order in the fluctuation). The delta method (stationary Var q^l = sigma_w^4 Var phi(h)^2 /
# (N (1 - s^2)), s the q-map slope; bias = chi_1' E dq + chi_1'' Var q / 2) gives N x bias = 0.45,
# 0.28, 0.22, 0.16 at the four points; the allowance, stated in advance, is twice the largest: 1/N.
_CRIT_NETS, _CRIT_LAYERS, _CRIT_Z = 12, 16, 4.0


def _run_criticality(size: int, rng: np.random.Generator) -> Result:
    width, L = size, _CRIT_LAYERS
    sbs = np.array([0.01, 0.05, 0.1, 0.2])
    crit = np.asarray(ns.critical_sigma_w2("tanh", sbs), float)
    qs = np.array([float(ns.q_star("tanh", sw, sb)) for sw, sb in zip(crit, sbs)])
    est = np.empty((_CRIT_NETS, sbs.size))
    for j, (sw, sb, q) in enumerate(zip(crit, sbs, qs)):
        for r in range(_CRIT_NETS):
            net = ns.MLP([width] * L + [1], "tanh", sw, sb, rng=rng)
            x = rng.standard_normal((1, width))
            # q^1 = sigma_w^2 |x|^2/N + sigma_b^2 = q*
            x *= np.sqrt(width * (q - sb) / sw) / np.linalg.norm(x)
            _, hs, _ = net.forward(x, return_all=True)
            # chi_1 measured in the network itself: sigma_w^2 times the mean squared slope of each
            # nonlinear layer (the readout h^L is linear and left out)
            est[r, j] = np.mean([sw * np.mean(net.act.dphi(h) ** 2) for h in hs[:-1]])
    t = z_test([f"σ_b²={sb:g}" for sb in sbs], est, 1.0, bias=1.0 / width)
    fig, axes = new_figure(2)
    pd = ns.phase_diagram("tanh", (0.5, 3.0), (0.0, 0.25), n=60, with_xi_c=False)
    pd.plot(ax=axes[0])
    axes[0].plot(crit, sbs, "ko", label="simulated points")
    axes[1].errorbar(sbs, t.mean, yerr=_CRIT_Z * t.se + t.bias, fmt="o",
                     label=f"{_CRIT_NETS} networks (N={width}) ± ({_CRIT_Z:g} SE + 1/N)")
    axes[1].axhline(1.0, color="k", lw=1, label="theory: χ₁ = 1")
    axes[1].set_xlabel("σ_b²")
    axes[1].set_ylabel("measured χ₁ on the critical line")
    axes[1].legend(fontsize="small")
    return Result(prediction="χ₁ = 1 at critical σ_w² = " + ", ".join(f"{c:.4f}" for c in crit)
                             + f" (σ_b² = {sbs.tolist()})",
                  measurement="σ_w² mean φ'(h)² over the hidden layers: " + t.rows(".5f"),
                  distance=t.worst, figure=fig)


register(Case(
    name="tanh_criticality",
    title="tanh networks on the computed critical line have χ₁ = 1 (order/chaos transition)",
    how=f"{_CRIT_NETS} wide random tanh networks per point of the critical line, input at q*; "
        "σ_w²·mean φ'(h)² over their hidden layers, in units of its standard error over the networks",
    metric="max |z| over the points, z = (mean χ₁ − 1, less the 1/N bias allowance) / SE",
    tolerance=_CRIT_Z,
    run=_run_criticality,
    quick_size=400, full_size=2000, topic="deep networks",
))


# ntk_finite_width: _NTK_NETS independent networks per activation; each entry of the empirical NTK
# is averaged over them and compared with the infinite-width kernel in units of its standard error.
# Known finite-width bias: the mean of the empirical NTK differs from the limit by O(L/N) relative
# (Hanin-Nica; Dyer-Gur-Ari): allowance 5 L/N |Θ| (the cnn_ntk case allows 5 (L-1)/C, 5 per convolution).
# 3 activations x 10 entries are compared; the entries share their networks, so they are strongly
# correlated, and |z| <= 4 (per-entry two-sided p ~ 1e-3 under the t law with 15 degrees of freedom).
_NTK_NETS, _NTK_Z = 16, 4.0


def _run_ntk(size: int, rng: np.random.Generator) -> Result:
    width, L, sw, sb = size, 4, 1.8, 0.1
    X = rng.standard_normal((4, 5))
    iu = np.triu_indices(X.shape[0])
    zs, rows = [], []
    fig, (ax,) = new_figure()
    for act, mk in (("relu", "o"), ("erf", "s"), ("tanh", "^")):
        # L weight layers: L - 1 hidden layers of the given width and a linear readout
        _, T = ns.nngp_ntk(X, depth=L, act=act, sigma_w2=sw, sigma_b2=sb)
        Te = np.array([ns.MLP([5] + [width] * (L - 1) + [1], act, sw, sb, rng=rng).empirical_ntk(X)[iu]
                       for _ in range(_NTK_NETS)])
        t = z_test([f"Θ{i}{j}" for i, j in zip(*iu)], Te, T[iu], bias=5.0 * L / width * np.abs(T[iu]))
        zs.append(t.worst)
        rows.append(f"{act}: max |z| = {t.worst:.2f}")
        ax.errorbar(T[iu], t.mean, yerr=_NTK_Z * t.se + t.bias, fmt=mk, ms=4, label=act)
    lim = ax.get_xlim()
    ax.plot(lim, lim, "k-", lw=0.8)
    ax.set_xlabel("infinite-width NTK (nngp_ntk)")
    ax.set_ylabel(f"mean empirical NTK of {_NTK_NETS} networks, width {width}")
    ax.legend(fontsize="small")
    return Result(prediction=f"Θ of networks with {L} weight layers, σ_w²={sw}, σ_b²={sb}",
                  measurement=f"mean of {_NTK_NETS} networks per activation, z-scores per entry: " + ", ".join(rows),
                  distance=float(max(zs)), figure=fig)


register(Case(
    name="ntk_finite_width",
    title="The empirical NTK of finite networks approaches the infinite-width NTK (relu, erf, tanh)",
    how=f"per-example gradients of numpy MLPs in the NTK parameterisation, {_NTK_NETS} networks per activation",
    metric="max |z| over entries and activations, z = (mean Θ_emp − Θ, less 5L/N |Θ|) / SE",
    tolerance=_NTK_Z,
    run=_run_ntk,
    quick_size=512, full_size=2048, topic="deep networks",
))


_DD_TRIALS = 40
_DD_Z = 3.0


def _run_double_descent(size: int, rng: np.random.Generator) -> Result:
    # A z-test per γ: z = (MC mean − asymptotic risk) / (standard error of the mean over the
    # trials). The tolerance |z| ≤ 3 is a two-sided test at 0.27 % per γ, 1.6 % for the six γ
    # together (Bonferroni). The finite-n bias of the asymptotic formula, e.g. σ²p/(n−p−1) against
    # σ²γ/(1−γ) below the threshold, is O(1/n): at n = 150 with 40 trials it is at most 0.8 SE
    # (γ = 0.8) and it shrinks at the full size. 40 trials keep the SE estimate itself stable.
    n, r2, s2 = size, 1.0, 0.25
    gammas = np.array([0.3, 0.6, 0.8, 1.25, 1.6, 2.5])
    zs, rows, est = [], [], []
    for g in gammas:
        p = int(round(g * n))
        mc, se = ns.simulate_risk(n, p, 0.0, r2, s2, trials=_DD_TRIALS, rng=rng)
        th = ns.min_norm_risk(p / n, r2, s2)
        zs.append(float(z_scores(mc, se, th)))
        rows.append(f"γ={p / n:.2f}: {mc:.3f}±{se:.3f} vs {th:.3f} (z={zs[-1]:+.2f})")
        est.append((mc, se))
    fig, (ax,) = new_figure()
    ns.plot_double_descent(ax=ax, r2=r2, sigma2=s2)
    ax.errorbar(gammas, [e[0] for e in est], yerr=[_DD_Z * e[1] for e in est], fmt="ko", ms=4,
                label=f"Monte Carlo ± {_DD_Z:g} SE (n={n}, {_DD_TRIALS} draws)")
    ax.legend(fontsize="x-small")
    return Result(prediction="min-norm risk σ²γ/(1−γ) | r²(1−1/γ)+σ²/(γ−1); ridge curves from the MP law",
                  measurement="; ".join(rows), distance=float(np.max(np.abs(zs))), figure=fig)


register(Case(
    name="double_descent",
    title="Min-norm least squares: asymptotic risk (double descent) against Monte Carlo",
    how=f"exact min-norm fits X⁺y on Gaussian data, {_DD_TRIALS} draws per γ, risk ‖β̂ − β‖², "
        "compared in units of its standard error",
    metric="max |z| over γ, z = (Monte Carlo − theory) / SE",
    tolerance=_DD_Z,
    run=_run_double_descent,
    quick_size=150, full_size=800, topic="deep networks",
))
