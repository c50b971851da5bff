r"""Deep-network spectra against real finite networks: the Jacobian law (Pennington–Schoenholz–Ganguli),
the Karakida FIM statistics, and the conditional FIM (Hayase–Karakida)."""
from __future__ import annotations

import numpy as np

import nn_spectra as ns
from nn_spectra.conditional_fim import conditional_fim_law, sample_conditional_fim_spectrum
from nn_spectra.fisher import fim_statistics, measure_fim_statistics
from nn_spectra.jacobian import jacobian_law, sample_jacobian_spectrum

from ..case import Case, Result, register
from ..figure import new_figure

CASE_NAMES: list[str] = []


def _run_jacobian(size: int, rng: np.random.Generator) -> Result:
    import randmat as rm

    act, sw2, sb2, L = "tanh", 1.05, 1e-4, 4
    law = jacobian_law(act, sw2, sb2, depth=L, weights="orthogonal")
    ev = np.concatenate([sample_jacobian_spectrum(act, sw2, sb2, L, size, "orthogonal", rng=rng)
                         for _ in range(2)])
    ks = float(rm.ks_distance(ev, law))
    fig, (ax,) = new_figure()
    ax.hist(ev, bins=60, density=True, alpha=0.5, label=f"2 networks, width {size}")
    x = np.linspace(0, law.support[1], 400)[1:-1]
    ax.plot(x, law.pdf(x), "k-", label="jacobian_law")
    ax.set_xlabel("eigenvalue of J Jᵀ")
    ax.set_title(f"tanh, orthogonal, depth {L}")
    ax.legend(fontsize="small")
    return Result(prediction=f"law with var {law.var:.4g}, edge {law.support[1]:.4g}",
                  measurement=f"eigenvalues of J Jᵀ: var {ev.var():.4g}, max {ev.max():.4g}",
                  distance=ks, figure=fig)

register(Case(
    name="jacobian_law_networks",
    title="Input-output Jacobian spectrum of a deep tanh network equals the free product-of-S law",
    how="eigenvalues of J Jᵀ of real orthogonal MLPs (numpy), input at the fixed point q*",
    metric="KS distance",
    tolerance=lambda n: 1.0 / np.sqrt(n),
    run=_run_jacobian, quick_size=200, full_size=1000, topic="deep networks"))
CASE_NAMES.append("jacobian_law_networks")


def _run_fim(size: int, rng: np.random.Generator) -> Result:
    args = ("tanh", 1.5, 0.3, 3, size, 16, 2)
    pred = fim_statistics(*args)
    meas = [measure_fim_statistics(*args, rng=rng) for _ in range(3)]
    keys = ("mean", "second_moment", "lambda_max")
    got = {k: float(np.mean([getattr(m, k) for m in meas])) for k in keys}
    err = max(abs(got[k] / getattr(pred, k) - 1) for k in keys)
    fig, (ax,) = new_figure()
    ev = np.concatenate([m.eigenvalues for m in meas])
    ax.hist(ev, bins=60, alpha=0.6, label="dual Θ/T eigenvalues (3 networks)")
    ax.axvline(pred.lambda_max, color="k", label="predicted λ_max")
    ax.axvline(pred.lambda_max_bn, color="k", ls="--", label="predicted λ_max with batch norm")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue")
    ax.legend(fontsize="small")
    return Result(prediction=", ".join(f"{k} {getattr(pred, k):.4g}" for k in keys),
                  measurement=", ".join(f"{k} {got[k]:.4g}" for k in keys), distance=err, figure=fig)

register(Case(
    name="fim_karakida_networks",
    title="Karakida-Akaho-Amari: mean, second moment and λ_max of the Fisher information",
    how="the small dual Gram matrix Θ/T (empirical NTK, standard parameterisation) of real MLPs",
    metric="max relative error over (mean, second moment, λ_max)",
    tolerance=lambda n: 1.5 / np.sqrt(n),
    run=_run_fim, quick_size=300, full_size=1000, topic="deep networks"))
CASE_NAMES.append("fim_karakida_networks")


def _run_cfim(size: int, rng: np.random.Generator) -> Result:
    act, sb2, L = "tanh", 1e-4, 3
    sw2 = float(ns.critical_sigma_w2(act, sb2))
    law = conditional_fim_law(act, sw2, sb2, depth=L)
    ev = sample_conditional_fim_spectrum(act, sw2, sb2, L, size, rng=rng)
    m = law.moments(3)
    e = np.array([np.mean(ev ** k) for k in (1, 2, 3)])
    err = float(np.max(np.abs(e / m - 1)))
    fig, (ax,) = new_figure()
    ax.hist(ev, bins=50, density=True, alpha=0.5, label=f"eig(H/N), width {size}")
    x = np.linspace(*law.support, 200)
    ax.plot(x, law.pdf(x), "k-", label="conditional_fim_law (smoothed)")
    ax.set_xlabel("eigenvalue of H/N")
    ax.legend(fontsize="small")
    return Result(prediction=f"m1..m3 = {np.array2string(m, precision=5)}",
                  measurement=f"m1..m3 = {np.array2string(e, precision=5)}", distance=err, figure=fig)

register(Case(
    name="conditional_fim_networks",
    title="Hayase-Karakida: moments of the conditional FIM under dynamical isometry",
    how="eigenvalues of the dual H = Σ ‖x^{l−1}‖² δ_l δ_lᵀ of real orthogonal tanh MLPs on the critical line",
    metric="max relative error of the first three moments",
    tolerance=lambda n: 1.0 / np.sqrt(n),
    run=_run_cfim, quick_size=400, full_size=1000, topic="deep networks"))
CASE_NAMES.append("conditional_fim_networks")
