r"""Forward theory of random deep networks against finite networks: the order/chaos transition,
the infinite-width NTK, and double descent of min-norm regression."""
from __future__ import annotations

import numpy as np

import nn_spectra as ns

from ..case import Case, Result, register
from ..figure import new_figure

def _run_criticality(size: int, rng: np.random.Generator) -> Result:
    width, depth = size, 30
    sbs = np.array([0.01, 0.05, 0.1, 0.2])
    crit = np.asarray(ns.critical_sigma_w2("tanh", sbs), float)
    measured = []
    for sw, sb in zip(crit, sbs):
        net = ns.MLP([width] * (depth + 1) + [1], "tanh", sw, sb, rng=rng)
        x = rng.standard_normal((1, width))
        _, hs, _ = net.forward(x, return_all=True)
        # χ₁ measured in the network itself: σ_w² times the mean squared slope of the deep layers
        measured.append(np.mean([sw * np.mean(net.act.dphi(h) ** 2) for h in hs[depth // 2:-1]]))
    measured = np.array(measured)
    fig, axes = new_figure(2)
    pd = ns.phase_diagram("tanh", (0.5, 3.0), (0.0, 0.25), n=60, with_xi_c=False)
    pd.plot(ax=axes[0])
    axes[0].plot(crit, sbs, "ko", label="simulated points")
    axes[1].plot(sbs, measured, "o", label=f"wide network (N={width})")
    axes[1].axhline(1.0, color="k", lw=1, label="theory: χ₁ = 1")
    axes[1].set_xlabel("σ_b²")
    axes[1].set_ylabel("measured χ₁ on the critical line")
    axes[1].legend(fontsize="small")
    return Result(prediction="critical σ_w² = " + ", ".join(f"{c:.4f}" for c in crit) + f" at σ_b² = {sbs.tolist()}",
                  measurement="σ_w² mean φ'(h)² over layers 15–30 of one network: "
                              + ", ".join(f"{m:.3f}" for m in measured),
                  distance=float(np.max(np.abs(measured - 1.0))), figure=fig)

register(Case(
    name="tanh_criticality",
    title="tanh networks on the computed critical line have χ₁ = 1 (order/chaos transition)",
    how="simulate one wide random tanh network per point of the critical line and measure "
        "σ_w²·mean φ'(h)² in its deep layers",
    metric="max |χ₁(measured) − 1|",
    tolerance=lambda n: 1.5 / np.sqrt(n),
    run=_run_criticality,
    quick_size=400, full_size=3000, topic="deep networks",
))


def _run_ntk(size: int, rng: np.random.Generator) -> Result:
    width, depth, sw, sb = size, 3, 1.8, 0.1
    X = rng.standard_normal((6, 5))
    worst, rows = 0.0, []
    fig, (ax,) = new_figure()
    for act, mk in (("relu", "o"), ("erf", "s"), ("tanh", "^")):
        # the net below has depth + 1 weight layers (depth hidden layers and a linear readout)
        _, T = ns.nngp_ntk(X, depth=depth + 1, act=act, sigma_w2=sw, sigma_b2=sb)
        net = ns.MLP([5] + [width] * depth + [1], act, sw, sb, rng=rng)
        Te = net.empirical_ntk(X)
        err = float(np.max(np.abs(Te - T)) / np.max(np.abs(T)))
        worst = max(worst, err)
        rows.append(f"{act}: {err:.3f}")
        iu = np.triu_indices(6)
        ax.plot(T[iu], Te[iu], mk, ms=4, label=act)
    lim = ax.get_xlim()
    ax.plot(lim, lim, "k-", lw=0.8)
    ax.set_xlabel("infinite-width NTK (nngp_ntk)")
    ax.set_ylabel(f"empirical NTK, width {width}")
    ax.legend(fontsize="small")
    return Result(prediction=f"Θ of depth-{depth} networks, σ_w²={sw}, σ_b²={sb}",
                  measurement="relative max error of one finite network: " + ", ".join(rows),
                  distance=worst, figure=fig)

register(Case(
    name="ntk_finite_width",
    title="The empirical NTK of finite networks approaches the infinite-width NTK (relu, erf, tanh)",
    how="per-example gradients of a numpy MLP in the NTK parameterisation, one network per activation",
    metric="max |Θ_emp − Θ| / max |Θ|",
    tolerance=lambda n: 6.0 / np.sqrt(n),
    run=_run_ntk,
    quick_size=512, full_size=4096, topic="deep networks",
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
        zs.append((mc - th) / se)
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
