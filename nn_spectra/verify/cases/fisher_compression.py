r"""The conditional Fisher information of few outputs: the free compression against real networks.

With :math:`C = tN` outputs the conditional FIM :math:`H = J_\theta J_\theta^\top` of one input is
:math:`C\times C`; its eigenvalue law is the free compression :math:`D_t(\nu_L^{\boxplus 1/t})` of the
square (:math:`C = N`) law :math:`\nu_L` of :func:`nn_spectra.conditional_fim_law`, whose top edge is
:func:`nn_spectra.compressed_top_edge`.  ``max_learning_rate(source="conditional", n_outputs=C)``
returns :math:`2/(N e_t)` from it: this case checks that prediction (looked up on the package at run
time, ``ns.max_learning_rate``, so a monkeypatched prediction is the one checked) against the top
eigenvalue of real orthogonal hard-tanh networks at criticality.
"""
from __future__ import annotations

import numpy as np

import nn_spectra as ns

from freeprob.verify import Case, Result, mean_and_se, register
from freeprob.verify.figure import new_figure

CASE_NAMES: list[str] = []
TOPIC = "deep networks: training"

# Stated before the first run of this case (session 7), not tuned afterwards:
# - the measured top eigenvalue of H/N of the C x C dual, C = N/8 (t = 1/8), input dimension N/2, is
#   a soft edge of a C x C matrix: its mean sits O(C^-2/3) = O(N^-2/3) below the limit (Tracy-Widom
#   scaling), with O(1/N) corrections from the finite layers.  The N^-2/3 term is removed by the
#   extrapolation (2^(2/3) m_N - m_(N/2)) / (2^(2/3) - 1) from independent networks at widths N and N/2;
# - pass: |z| <= 4 for every depth, z = (extrapolated mean - predicted edge) / its standard error (from
#   the spread of the networks); and at width N every depth's mean within 3/sqrt(N) (relative) of the
#   prediction, the rate of the unit tests (tests/nn_spectra/test_learning_rate.py); inf otherwise.
_CP_DEPTHS = (4, 8)
_CP_NETS = 10         # networks (one input each) per depth at each of the widths N and N/2
_CP_Z = 4.0
_CP_EXP = 2.0 / 3.0   # the soft-edge exponent of the bias in N


def _run_compression(size: int, rng: np.random.Generator) -> Result:
    act, sb2 = "hard_tanh", 0.05
    sw2 = float(ns.critical_sigma_w2(act, sb2))
    widths = (size, size // 2)
    r = 2.0 ** _CP_EXP
    pred, square, tops, rows, dist = [], [], {}, [], 0.0
    for L in _CP_DEPTHS:
        # the prediction: nothing measured enters it (width, C and d only set t = C/N and d/N)
        eta = ns.max_learning_rate(act, sw2, sb2, depth=L, width=size, n_samples=1, n_outputs=size // 8,
                                   input_dim=size // 2, source="conditional")
        p = 2.0 / (size * eta)
        pred.append(p)
        square.append(float(ns.conditional_fim_law(act, sw2, sb2, L, input_ratio=0.5).top_edge))
        for n in widths:
            tops[L, n] = np.array([ns.sample_conditional_fim_spectrum(act, sw2, sb2, L, n, rng=rng, n_outputs=n // 8,
                                                                      input_dim=n // 2)[-1]
                                   for _ in range(_CP_NETS)])
        (mf, sf), (mc, sc) = mean_and_se(tops[L, size]), mean_and_se(tops[L, size // 2])
        ext = (r * mf - mc) / (r - 1.0)
        se = float(np.hypot(r * sf, sc) / (r - 1.0))
        z = (ext - p) / se
        z_sq = (ext - square[-1]) / se
        rel = abs(mf / p - 1.0)
        dist = max(dist, abs(z))
        if not (np.isfinite(z) and rel <= 3.0 / np.sqrt(size)):
            dist = float("inf")
        rows.append(f"L={L}: N={size}: {mf:.4g} ± {sf:.2g} (rel. {rel:.3f}), N={size // 2}: {mc:.4g} ± {sc:.2g}; "
                    f"extrapolated {ext:.4g} ± {se:.2g} vs {p:.4g} (z = {z:+.2f}; uncompressed edge "
                    f"{square[-1]:.4g}: z = {z_sq:+.1f})")
    fig, (ax,) = new_figure()
    Ls = np.array(_CP_DEPTHS, float)
    for n, mk in ((size, "o"), (size // 2, "s")):
        ax.errorbar(Ls, [tops[L, n].mean() for L in _CP_DEPTHS],
                    yerr=[tops[L, n].std(ddof=1) / np.sqrt(_CP_NETS) for L in _CP_DEPTHS], fmt=mk,
                    label=f"networks, width {n}, C = {n // 8}")
    ax.plot(Ls, pred, "k-", label="free compression (max_learning_rate, conditional)")
    ax.plot(Ls, square, "k--", label="uncompressed top edge (C = N)")
    ax.set_xlabel("depth L")
    ax.set_ylabel("top eigenvalue of H/N")
    ax.legend(fontsize="x-small")
    return Result(
        prediction="top of the C×C conditional FIM /N = 2/(N η) of max_learning_rate(source='conditional', "
                   f"n_outputs=N/8, input_dim=N/2): {np.array2string(np.array(pred), precision=5)} at L = {_CP_DEPTHS}",
        measurement="; ".join(rows), distance=float(dist), figure=fig)


def _add(case: Case) -> None:
    register(case)
    CASE_NAMES.append(case.name)


_add(Case(
    name="fisher_compression",
    title="Conditional FIM of C = N/8 outputs: the top eigenvalue is the free compression's edge "
          "(max_learning_rate, source='conditional')",
    how=f"top eigenvalue of H/N = J Jᵀ/N (C×C, weights only) of real orthogonal hard-tanh MLPs at criticality, "
        f"C = N/8 outputs, one Gaussian input of dimension N/2 at the fixed-point length, depths {_CP_DEPTHS}, "
        f"{_CP_NETS} networks each at widths N and N/2",
    metric="max |z| over depths of the soft-edge extrapolation (2^(2/3) m_N − m_N/2)/(2^(2/3) − 1) against the "
           "predicted edge; inf if at width N a depth's mean is more than 3/√N (relative) from it",
    tolerance=_CP_Z,
    run=_run_compression, quick_size=256, full_size=512, topic=TOPIC))
