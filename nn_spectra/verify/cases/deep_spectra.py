r"""Deep-network spectra against real finite networks: the Jacobian law (Pennington–Schoenholz–Ganguli),
the Karakida FIM statistics, and the conditional FIM (Hayase–Karakida).

Each case draws several independent networks at width N and at N/2, measures a few spectral
statistics on each, and compares the Richardson extrapolation :math:`2\bar x_N - \bar x_{N/2}` with
the prediction in units of its standard error (:func:`freeprob.verify.z_test_extrapolated`): the
limit laws have a finite-width bias :math:`c/N + O(1/N^2)` (the rate, stated in advance; c is not
known), and normalised traces fluctuate by O(1/N) too, so an unremoved bias would grow against the
standard error with the number of networks.  The predictions are computed from the parameters alone.
"""
from __future__ import annotations

import numpy as np

import nn_spectra as ns
from freeprob.verify import Case, Result, register, z_test_extrapolated
from freeprob.verify.figure import hist_with_pdf, new_figure

CASE_NAMES: list[str] = []
_Z = 4.0  # every case here: max |z| <= 4 (two-sided p ~ 1e-3 per quantity under the t law of the replicates)


def _moment_samples(spectra, k: int) -> np.ndarray:
    """``(networks, k)``: the normalised-trace moments m_1..m_k of each network's spectrum."""
    return np.array([[np.mean(ev ** j) for j in range(1, k + 1)] for ev in spectra])


def _add(case: Case) -> None:
    register(case)
    CASE_NAMES.append(case.name)


# Finite-width bias of the moments of JJᵀ (orthogonal weights): the normalised traces of products
# of Haar orthogonal and diagonal matrices have 1/N corrections (real Haar measure), and each
# layer's D² is taken at the measured length q^l = q*(1 + O(N^-1/2)), a second-order O(1/N) shift:
# removed by the extrapolation from N/2 and N.
_JAC_NETS = 8   # at each of the two widths


def _run_jacobian(size: int, rng: np.random.Generator) -> Result:
    act, sw2, sb2, L = "tanh", 1.05, 1e-4, 4
    K = L - 1
    law = ns.jacobian_law(act, sw2, sb2, depth=L, weights="orthogonal")
    pred = np.asarray(law.moments(3), float)
    spectra, half = ([ns.sample_jacobian_spectrum(act, sw2, sb2, L, n, "orthogonal", rng=rng) for _ in range(_JAC_NETS)]
                     for n in (size, size // 2))
    t = z_test_extrapolated(["m₁", "m₂", "m₃"], _moment_samples(spectra, 3), _moment_samples(half, 3), pred)
    fig, axes = new_figure(2)
    hist_with_pdf(axes[0], np.concatenate(spectra), law, f"{_JAC_NETS} networks, width {size}", "jacobian_law")
    axes[0].set_xlabel("eigenvalue of J Jᵀ")
    axes[0].set_title(f"tanh, orthogonal, {L} weight layers ({K} nonlinear)", fontsize="small")
    t.errorbar(axes[1], _Z, f"2·(N={size}) − (N={size // 2})")
    return Result(prediction=f"m₁..m₃ = {np.array2string(pred, precision=5)} (law: var {law.var:.4g}, "
                             f"edge {law.support[1]:.4g})",
                  measurement=t.rows(".5g"), distance=t.worst, figure=fig)


_add(Case(
    name="jacobian_law_networks",
    title="Input-output Jacobian spectrum of a deep tanh network equals the free product-of-S law",
    how=f"eigenvalues of J Jᵀ of {_JAC_NETS} + {_JAC_NETS} real orthogonal MLPs (numpy) of widths N and N/2, input "
        "at the fixed point q*; moments m₁..m₃ of each spectrum, extrapolated in 1/N, in standard errors",
    metric="max |z| over m₁..m₃, z = (2 mean_N − mean_N/2 − law) / SE",
    tolerance=_Z,
    run=_run_jacobian, quick_size=200, full_size=1000, topic="deep networks"))


# Karakida's statistics are those of an empirical NTK (the dual Θ/T), whose mean at width N differs
# from the limit by O(L/N) relative: removed by the extrapolation from N/2 and N. λ_max is compared
# with the mean of the top C eigenvalues (``top_mean``): the theory's C-fold outlier splits at finite
# width and its maximum alone is biased up.
_FIM_NETS = 8   # at each of the two widths


def _run_fim(size: int, rng: np.random.Generator) -> Result:
    act, sw2, sb2, L, T, C = "tanh", 1.5, 0.3, 3, 16, 2
    # the predictions depend on the width (P = number of parameters), so each width's measurements are
    # divided by that width's prediction and the ratios are extrapolated to 1
    preds = {n: ns.fim_statistics(act, sw2, sb2, L, n, T, C) for n in (size, size // 2)}
    pred = preds[size]
    meas, half = ([ns.measure_fim_statistics(act, sw2, sb2, L, n, T, C, rng=rng) for _ in range(_FIM_NETS)]
                  for n in (size, size // 2))
    p = np.array([pred.mean, pred.second_moment, pred.lambda_max])

    def ratios(ms, n):
        q = preds[n]
        return np.array([[m.mean, m.second_moment, m.top_mean] for m in ms]) / [q.mean, q.second_moment, q.lambda_max]

    t = z_test_extrapolated(["mean", "second moment", "λ_max"], ratios(meas, size), ratios(half, size // 2), 1.0)
    fig, axes = new_figure(2)
    ev = np.concatenate([m.eigenvalues for m in meas])
    axes[0].hist(ev, bins=60, alpha=0.6, label=f"dual Θ/T eigenvalues ({_FIM_NETS} networks, width {size})")
    axes[0].axvline(pred.lambda_max, color="k", label="predicted λ_max")
    axes[0].axvline(pred.lambda_max_bn, color="k", ls="--", label="predicted λ_max with batch norm")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("eigenvalue")
    axes[0].legend(fontsize="x-small")
    t.errorbar(axes[1], _Z, f"2·(N={size}) − (N={size // 2})")
    return Result(prediction=", ".join(f"{n} {v:.4g}" for n, v in zip(t.names, p)) + f" at width {size}",
                  measurement="measured / predicted at each width, extrapolated: " + t.rows(), distance=t.worst,
                  figure=fig)


_add(Case(
    name="fim_karakida_networks",
    title="Karakida-Akaho-Amari: mean, second moment and λ_max of the Fisher information",
    how=f"the small dual Gram matrix Θ/T (empirical NTK, standard parameterisation) of {_FIM_NETS} + {_FIM_NETS} "
        "real MLPs of widths N and N/2, extrapolated in 1/N, in units of the standard error",
    metric="max |z| over (mean, second moment, λ_max), z = (2 r_N − r_N/2 − 1) / SE, r = measured / predicted",
    tolerance=_Z,
    run=_run_fim, quick_size=300, full_size=1000, topic="deep networks"))


# H/N = Σ_l ‖x^{l-1}‖²/N δ_l δ_lᵀ: the layer norms sit at q̂ up to O(N^-1/2) and the δ_l carry the
# 1/N corrections of the Haar orthogonal products, so m_k has an O(1/N) bias: removed by the
# extrapolation from N/2 and N.
_CFIM_NETS = 8   # at each of the two widths


def _run_cfim(size: int, rng: np.random.Generator) -> Result:
    act, sb2, L = "tanh", 1e-4, 3
    sw2 = float(ns.critical_sigma_w2(act, sb2))
    law = ns.conditional_fim_law(act, sw2, sb2, depth=L)
    pred = np.asarray(law.moments(3), float)
    spectra, half = ([ns.sample_conditional_fim_spectrum(act, sw2, sb2, L, n, rng=rng) for _ in range(_CFIM_NETS)]
                     for n in (size, size // 2))
    t = z_test_extrapolated(["m₁", "m₂", "m₃"], _moment_samples(spectra, 3), _moment_samples(half, 3), pred)
    fig, axes = new_figure(2)
    # the predicted mean only: the law's density and support cost a minute or more to evaluate here
    axes[0].hist(np.concatenate(spectra), bins=50, density=True, alpha=0.5,
                 label=f"eig(H/N), {_CFIM_NETS} networks, width {size}")
    axes[0].axvline(pred[0], color="k", lw=0.8, label="mean of conditional_fim_law")
    axes[0].set_xlabel("eigenvalue of H/N")
    axes[0].legend(fontsize="x-small")
    t.errorbar(axes[1], _Z, f"2·(N={size}) − (N={size // 2})")
    return Result(prediction=f"m₁..m₃ = {np.array2string(pred, precision=5)}", measurement=t.rows(".5g"),
                  distance=t.worst, figure=fig)


_add(Case(
    name="conditional_fim_networks",
    title="Hayase-Karakida: moments of the conditional FIM under dynamical isometry",
    how=f"eigenvalues of the dual H = Σ ‖x^{{l−1}}‖² δ_l δ_lᵀ of {_CFIM_NETS} + {_CFIM_NETS} real orthogonal tanh "
        "MLPs of widths N and N/2 on the critical line; moments m₁..m₃ extrapolated in 1/N, in standard errors",
    metric="max |z| over m₁..m₃, z = (2 mean_N − mean_N/2 − law) / SE",
    tolerance=_Z,
    run=_run_cfim, quick_size=400, full_size=1000, topic="deep networks"))
