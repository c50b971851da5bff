r"""Deep networks at initialisation and the first steps of training, against real finite networks:
Jacobian spread for Gaussian versus orthogonal weights, layerwise asymptotic freeness, the
batch-norm reduction of the Fisher information's top eigenvalue, the linear growth of the
conditional FIM with depth, the :math:`1/\text{depth}` learning-rate boundary on a real dataset
(scikit-learn digits) and the order/chaos phase diagram.

Every theory function is looked up on the :mod:`nn_spectra` package at run time (``ns.name``), so a
monkeypatched prediction is the one the case checks.
"""
from __future__ import annotations

import numpy as np
import scipy.stats

import nn_spectra as ns

from freeprob.verify import Case, Result, mean_and_se, register, z_scores, z_test_extrapolated
from freeprob.verify.figure import hist_with_pdf, new_figure

CASE_NAMES: list[str] = []
TOPIC = "deep networks: training"


def _add(case: Case) -> None:
    register(case)
    CASE_NAMES.append(case.name)


# --------------------------------------------------------------------------------------------
# 1. Jacobian spread, Gaussian versus orthogonal weights
# --------------------------------------------------------------------------------------------
# Gaussian-weight networks are cheap but their spectra are heavy-tailed (the variance of one
# network's spectrum fluctuates a lot), so they are averaged over more networks.
_JAC_NETS = {"gaussian": 24, "orthogonal": 6}   # at each of the widths N and N/2
_JAC_Z = 4.0


def _run_jacobian_weights(size: int, rng: np.random.Generator) -> Result:
    act, sb2, L = "tanh", 1e-3, 10
    sw2 = float(ns.critical_sigma_w2(act, sb2))
    fig, axes = new_figure(2, width=4.6)
    pred, rows, zs = {}, [], []
    for ax, w in zip(axes, ("gaussian", "orthogonal")):
        pred[w] = float(ns.jacobian_variance(act, sw2, sb2, L, weights=w))
        spectra = {n: [ns.sample_jacobian_spectrum(act, sw2, sb2, L, n, w, rng=rng) for _ in range(_JAC_NETS[w])]
                   for n in (size, size // 2)}
        # one spectral variance per network; the O(1/N) bias of the spectrum's variance (K = L - 1
        # layers of 1/N corrections) is removed by the extrapolation from N/2 and N
        var = {n: np.array([ev.var() for ev in spectra[n]]) for n in spectra}
        t = z_test_extrapolated([w], var[size], var[size // 2], pred[w])
        zs.append(t.worst)
        rows.append(t.rows(".4g"))
        pred[w + "_meas"] = float(t.mean[0])
        law = ns.jacobian_law(act, sw2, sb2, L, weights=w)
        ev = np.concatenate(spectra[size])
        top = float(np.quantile(ev, 0.995)) if w == "gaussian" else float(law.support[1])
        hist_with_pdf(ax, ev, law, f"{_JAC_NETS[w]} networks, width {size}", "jacobian_law", hi=top,
                      logy=(w == "gaussian"))
        ax.set_title(f"{w}: var pred {pred[w]:.3g}, extrapolated {t.mean[0]:.3g}", fontsize="small")
        ax.set_xlabel("eigenvalue of J Jᵀ")
    # the qualitative claim: orthogonal weights give a much narrower spectrum
    dist = max(zs) if pred["orthogonal_meas"] < pred["gaussian_meas"] else float("inf")
    return Result(
        prediction=f"var(JJᵀ) gaussian {pred['gaussian']:.4g}, orthogonal {pred['orthogonal']:.4g} "
                   f"(tanh, σ_w² = {sw2:.4f}, σ_b² = {sb2}, {L} weight layers)",
        measurement=f"spectral variance, 2·(N={size}) − (N={size // 2}): " + "; ".join(rows),
        distance=float(dist), figure=fig)


_add(Case(
    name="jacobian_gaussian_vs_orthogonal",
    title="Jacobian spectrum at criticality: variance L(μ₂/μ₁² − 1 − s₁), larger for Gaussian than orthogonal weights",
    how="eigenvalues of J Jᵀ of real tanh MLPs (numpy) with Gaussian and Haar-orthogonal weights, "
        "input at q*, at widths N and N/2; spectral variance per network, extrapolated in 1/N",
    metric="max |z| of the spectral variance, z = (2 var_N − var_N/2 − prediction) / SE "
           "(inf if orthogonal is not narrower)",
    tolerance=_JAC_Z,
    run=_run_jacobian_weights, quick_size=200, full_size=800, topic=TOPIC))


# --------------------------------------------------------------------------------------------
# 2. Layerwise asymptotic freeness
# --------------------------------------------------------------------------------------------
_LW_TRIALS = 5  # with 4 sizes: 20 points per fit, 18 degrees of freedom (the tolerance below)


def _run_layerwise(size: int, rng: np.random.Generator) -> Result:
    # size = largest matrix size of the sweep; four doublings below it
    sizes = tuple(int(size) >> k for k in (3, 2, 1, 0))
    act, sw2, sb2, L = "tanh", 1.2, 0.05, 3
    sweeps = {w: ns.layerwise_freeness(act, sw2, sb2, depth=L, sizes=sizes, weights=w, trials=_LW_TRIALS,
                                       rng=rng, n_jobs=1)
              for w in ("orthogonal", "identity")}
    orth, ident = sweeps["orthogonal"], sweeps["identity"]
    fig, (ax,) = new_figure()
    for w, sw, mk in (("orthogonal", orth, "o"), ("identity", ident, "s")):
        n = np.asarray(sw.sizes, float)
        d = np.asarray(sw.defects, float)
        ax.loglog(np.repeat(n, d.shape[1]), d.ravel(), mk, alpha=0.35, label=f"{w} weights (trials)")
        ax.loglog(n, np.exp(sw.intercept) * n ** sw.exponent, "-",
                  label=f"fit: N^{sw.exponent:.2f}  CI [{sw.ci[0]:.2f}, {sw.ci[1]:.2f}]")
    ax.set_xlabel("width N")
    ax.set_ylabel("freeness defect")
    ax.legend(fontsize="x-small")
    # the free (orthogonal) exponent must be compatible with -1 and the identity one with 0;
    # distance in standard errors of each least-squares slope
    se = lambda sw: max(float(sw.exponent_stderr), 1e-12)  # noqa: E731
    dist = max(abs(orth.exponent + 1) / se(orth), abs(ident.exponent) / se(ident))
    # and the free defect must decay: its whole confidence interval below 0
    if not orth.ci[1] < 0:
        dist = float("inf")
    return Result(
        prediction="defect ~ N^-1 for orthogonal weights (asymptotically free), N^0 for identity weights",
        measurement=f"exponent orthogonal {orth.exponent:.3f} CI [{orth.ci[0]:.3f}, {orth.ci[1]:.3f}], "
                    f"identity {ident.exponent:.3f} CI [{ident.ci[0]:.3f}, {ident.ci[1]:.3f}] "
                    f"(sizes {sizes})",
        distance=float(dist), figure=fig)


_add(Case(
    name="layerwise_freeness",
    title="Layerwise asymptotic freeness of D_l² and W_{l+1}ᵀ D_{l+1}² W_{l+1} (orthogonal, not identity weights)",
    how="mixed free cumulants of the two families in real tanh MLPs at four widths, log-log fit of the decay",
    metric="max(|β_orth + 1|, |β_id|) in standard errors of the fitted slopes; inf if β_orth's 95 % CI reaches 0",
    # two-sided 99 % Student-t quantile for 4 sizes x 5 trials = 20 points (18 degrees of freedom);
    # 99 % rather than 95 % per fit because two fits must both pass
    tolerance=float(scipy.stats.t.ppf(0.995, 18)),
    run=_run_layerwise, quick_size=512, full_size=1024, topic=TOPIC))


# --------------------------------------------------------------------------------------------
# 3. Batch-norm reduction of the FIM's λ_max
# --------------------------------------------------------------------------------------------
# On real inputs (digits) batch norm removes the 1 mode and λ_max becomes the top of the bulk,
# which finite width lifts by O(sqrt(M)) fluctuations: predicted at each width by the surrogate
# (fim_batchnorm_surrogate, Monte Carlo of independent neurons, no network).  Without batch norm
# the top outlier is the infinite-width λ₁(Θ/T) up to an O(1/N) bias (extrapolated from N, N/2).
_BN_NETS, _BN_DRAWS, _BN_T, _BN_Z = 6, 12, 32, 4.0


def _run_fim_bn(size: int, rng: np.random.Generator) -> Result:
    act, sw2, sb2, L = "tanh", 1.5, 0.1, 3
    X = ns.load_dataset("digits", _BN_T, rng=rng).X
    d = X.shape[1]
    widths = (size // 4, size // 2, size)
    inf = ns.fim_statistics_data(X, act, sw2, sb2, L, size, 1)          # λ_max does not depend on M/M
    meas, sur = {}, {}
    for n in widths:
        ms = [ns.measure_fim_statistics(act, sw2, sb2, L, n, _BN_T, 1, input_dim=d, inputs=X, rng=rng)
              for _ in range(_BN_NETS)]
        meas[n] = np.array([[m.lambda_max, m.lambda_max_bn] for m in ms])
        sur[n] = ns.fim_batchnorm_surrogate(X, act, sw2, sb2, L, n, 1, n_draws=_BN_DRAWS, rng=rng)
    # λ_max / prediction: λ_max grows like M, so compare ratios to the infinite-width value at each width
    top = {n: meas[n][:, :1] / ns.fim_statistics_data(X, act, sw2, sb2, L, n, 1).lambda_max for n in widths}
    t_top = z_test_extrapolated(["λ_max/λ₁(Θ/T)"], top[size], top[size // 2], 1.0)
    z_bn, rows = [], []
    for n in widths:
        m, se = mean_and_se(meas[n][:, 1])
        p, sp = sur[n]["lambda_bn"], sur[n]["lambda_bn_std"] / np.sqrt(_BN_DRAWS)
        z = float(z_scores(m, np.hypot(se, sp), p))
        z_bn.append(z)
        rows.append(f"N={n}: {m:.4g} ± {se:.2g} vs surrogate {p:.4g} ± {sp:.2g} (z = {z:+.2f})")
    dist = max(t_top.worst, float(np.max(np.abs(z_bn))))
    # batch norm must reduce λ_max, measured and predicted
    if not all(meas[n][:, 1].mean() < meas[n][:, 0].mean() and sur[n]["lambda_bn"] < sur[n]["lambda_max"]
               for n in widths):
        dist = float("inf")
    fig, axes = new_figure(2, width=4.6)
    ws = np.array(widths, float)
    axes[0].errorbar(ws, [meas[n][:, 1].mean() for n in widths],
                     yerr=[meas[n][:, 1].std(ddof=1) / np.sqrt(_BN_NETS) for n in widths], fmt="o",
                     label=f"measured, {_BN_NETS} networks")
    axes[0].plot(ws, [sur[n]["lambda_bn"] for n in widths], "k-", label="surrogate (finite width)")
    axes[0].plot(ws, [sur[n]["lambda_bn_inf"] for n in widths], "k--", label="λ₁(HΘH)/T (infinite width)")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("width M")
    axes[0].set_ylabel("λ_max with batch norm")
    axes[0].legend(fontsize="x-small")
    for n in widths:
        axes[1].plot(np.full(_BN_NETS, n), meas[n][:, 0] / meas[n][:, 1], "k.")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("width M")
    axes[1].set_ylabel("λ_max / λ_max with batch norm")
    return Result(
        prediction=f"λ_max = λ₁(Θ/T) (infinite width, ×M): {inf.lambda_max:.4g} at M = {size}; with batch norm the "
                   "surrogate's top of the bulk: " + ", ".join(f"{sur[n]['lambda_bn']:.4g}" for n in widths)
                   + f" at M = {widths}",
        measurement="λ_max, 2·(N) − (N/2): " + t_top.rows() + "; with batch norm: " + "; ".join(rows),
        distance=float(dist), figure=fig)


_add(Case(
    name="fim_batchnorm",
    title="Mean-subtracting batch norm in the last layer: λ_max drops to the top of the FIM bulk "
          "(finite-width surrogate) on digits",
    how=f"top eigenvalue of the dual Θ/T (empirical NTK of real tanh MLPs, depth 3, {_BN_NETS} networks per width) "
        f"on {_BN_T} digits before and after centring the outputs over the batch, at widths N/4, N/2, N",
    metric="max |z|: batch-norm λ_max vs fim_batchnorm_surrogate at each width (SE of networks and draws), "
           "and λ_max/λ₁(Θ/T) extrapolated 2·N − N/2 against 1; inf if batch norm does not reduce λ_max",
    tolerance=_BN_Z,
    run=_run_fim_bn, quick_size=800, full_size=2000, topic=TOPIC))


# --------------------------------------------------------------------------------------------
# 4. Conditional FIM grows linearly with depth
# --------------------------------------------------------------------------------------------
_CD_NETS = 5   # networks per depth at each of the widths N and N/2


def _run_cfim_depth(size: int, rng: np.random.Generator) -> Result:
    act, sb2 = "tanh", 1e-3
    sw2 = float(ns.critical_sigma_w2(act, sb2))
    depths = np.array([2, 4, 6, 8])
    # first moment and root mean square of the spectrum of H/N, law (exact moments) vs networks
    law_m = np.array([ns.conditional_fim_law(act, sw2, sb2, int(L)).moments(2) for L in depths])
    law_mean, law_rms = law_m[:, 0], np.sqrt(law_m[:, 1])
    slope = lambda y: float(np.polyfit(depths, y, 1)[0])  # noqa: E731
    pred = np.array([slope(law_mean), slope(law_rms)])

    def fitted(n):
        """(networks, 2): least-squares slopes of the mean and rms eigenvalue, one network per depth."""
        out, curves = [], []
        for _ in range(_CD_NETS):
            spectra = [ns.sample_conditional_fim_spectrum(act, sw2, sb2, int(L), n, rng=rng) for L in depths]
            mean = np.array([ev.mean() for ev in spectra])
            rms = np.array([np.sqrt(np.mean(ev ** 2)) for ev in spectra])
            out.append([slope(mean), slope(rms)])
            curves.append((mean, rms, np.array([ev.max() for ev in spectra])))
        return np.array(out), curves

    (fine, curves), (coarse, _) = fitted(size), fitted(size // 2)
    # the slopes of normalised traces carry an O(1/N) bias (layer norms at the measured q^l, Haar
    # corrections): removed by the extrapolation from N/2 and N, tested in standard errors
    t = z_test_extrapolated(["slope of the mean", "slope of the rms"], fine, coarse, pred)
    fig, (ax,) = new_figure()
    ax.plot(depths, law_mean, "k-", label="law: mean")
    ax.plot(depths, law_rms, "k--", label="law: rms")
    for i, (mean, rms, top) in enumerate(curves):
        ax.plot(depths, mean, "o", color="C0", label=f"networks: mean (width {size})" if i == 0 else None)
        ax.plot(depths, rms, "s", color="C1", label="networks: rms" if i == 0 else None)
        ax.plot(depths, top, "^", color="C2", label="networks: top eigenvalue" if i == 0 else None)
    ax.set_xlabel("depth L")
    ax.set_ylabel("eigenvalue of H/N")
    ax.legend(fontsize="x-small")
    return Result(
        prediction=f"slope per layer: mean {pred[0]:.4g}, rms {pred[1]:.4g}",
        measurement=f"2·(N={size}) − (N={size // 2}): " + t.rows(), distance=t.worst, figure=fig)


_add(Case(
    name="conditional_fim_depth",
    title="Hayase-Karakida: the conditional FIM spectrum grows linearly with depth on the critical line",
    how=f"eigenvalues of H/N of real orthogonal tanh MLPs at depths 2, 4, 6, 8 ({_CD_NETS} + {_CD_NETS} sets of "
        "networks of widths N and N/2); least-squares slopes extrapolated in 1/N",
    metric="max |z| of the slopes of the mean and the rms eigenvalue, z = (2 slope_N − slope_N/2 − law) / SE",
    tolerance=4.0,
    run=_run_cfim_depth, quick_size=200, full_size=800, topic=TOPIC))


# --------------------------------------------------------------------------------------------
# 5. The predicted learning-rate boundary of online SGD on scikit-learn digits
# --------------------------------------------------------------------------------------------
# The research's experiment: hard-tanh MLPs at criticality with Haar-orthogonal weights, online SGD
# (one example per step).  Both thresholds below were stated before the case ran, from the
# sgd_boundary_study at widths 200/400 (onset/prediction 1.03-1.18 at width 200, the excess halving
# at width 400, i.e. an O(1/N) bias: units saturating during the first steps).
_LR_DEPTHS = (2, 4, 8)
_LR_NETS = 6          # networks (and example orders) per depth at each of the widths N and N/2
_LR_Z = 4.0           # |z| bound of the extrapolated ratio onset/prediction against 1
_LR_FACTOR = 1.3      # and at width N every depth's mean onset within a factor 1.3 of the prediction
_LR_T, _LR_STEPS = 100, 20


def _run_lr_depth(size: int, rng: np.random.Generator) -> Result:
    act, sb2 = "hard_tanh", 0.05
    sw2 = float(ns.critical_sigma_w2(act, sb2))
    data = ns.load_dataset("digits", _LR_T, rng=rng)
    X, Y = data.X, data.Y
    d, C = X.shape[1], Y.shape[1]
    widths = (size, size // 2)
    pred = {n: [] for n in widths}
    onset = {n: [] for n in widths}
    full, readout = [], []
    for L in _LR_DEPTHS:
        for n in widths:
            # the prediction: the infinite-width data kernel of these inputs, nothing measured
            p = ns.predict_boundaries(X, act, sw2, sb2, L, n, C, batch_size=1, rng=rng)
            pred[n].append(p.online_median)
            if n == size:
                full.append(p.full_batch)
                readout.append(p.readout_online)
            row = []
            for _ in range(_LR_NETS):
                seed = int(rng.integers(2 ** 31))
                net = ns.MLP([d] + [n] * (L - 1) + [C], act, sw2, sb2, weights="orthogonal", rng=seed)
                row.append(ns.measure_sgd_boundary(net, X, Y, 1, criterion="onset",
                                                   eta_range=(p.online_median / 3, 3 * p.online_median),
                                                   steps=_LR_STEPS, n_bisect=8, rng=seed + 1))
            onset[n].append(row)
    pr = {n: np.array(pred[n]) for n in widths}
    on = {n: np.array(onset[n]) for n in widths}                  # (depths, networks)
    ratio = {n: on[n] / pr[n][:, None] for n in widths}
    t = z_test_extrapolated([f"L={L}" for L in _LR_DEPTHS], ratio[size].T, ratio[size // 2].T, 1.0)
    fine = ratio[size].mean(axis=1)
    dist = t.worst
    if not (np.all(np.isfinite(fine)) and np.all(fine <= _LR_FACTOR) and np.all(fine >= 1 / _LR_FACTOR)):
        dist = float("inf")
    Ls = np.array(_LR_DEPTHS)
    fig, axes = new_figure(2, width=4.6)
    for n, mk in ((size, "o"), (size // 2, "s")):
        axes[0].errorbar(Ls, ratio[n].mean(axis=1), yerr=ratio[n].std(axis=1, ddof=1) / np.sqrt(_LR_NETS),
                         fmt=mk, label=f"width {n}")
    axes[0].errorbar(Ls, t.mean, yerr=_LR_Z * t.se, fmt="k^", label=f"2·(N={size}) − (N={size // 2}) ± {_LR_Z:g} SE")
    axes[0].axhline(1.0, color="k", lw=1)
    axes[0].set_xlabel("depth L")
    axes[0].set_ylabel("measured onset / predicted 2/median Θ(x,x)")
    axes[0].legend(fontsize="xx-small")
    axes[1].semilogy(Ls, pr[size], "k-", label="predicted 2/median Θ(x,x) (conditional FIM of the inputs)")
    axes[1].semilogy(np.repeat(Ls, _LR_NETS), on[size].ravel(), "o", ms=3, label=f"measured onset (width {size})")
    axes[1].semilogy(Ls, full, "k--", label="2/λ₁(Θ/T) (full-batch FIM)")
    axes[1].semilogy(Ls, readout, "c-.", label="readout layer alone")
    axes[1].semilogy(Ls, pr[size][0] * Ls[0] / Ls, "k:", lw=0.8, label="∝ 1/L")
    axes[1].set_xlabel("depth L")
    axes[1].set_ylabel("learning rate η")
    axes[1].legend(fontsize="xx-small")
    return Result(
        prediction="onset of online-SGD instability at η = 2/median_t Θ(x_t,x_t) (infinite-width data kernel, "
                   f"hard tanh at criticality): {np.array2string(pr[size], precision=4)} at L = {_LR_DEPTHS} "
                   f"(width {size}); L·η = {np.array2string(Ls * pr[size], precision=4)}",
        measurement=f"onset/prediction at width {size}: {np.array2string(fine, precision=3)}, at {size // 2}: "
                    f"{np.array2string(ratio[size // 2].mean(axis=1), precision=3)}; extrapolated: " + t.rows(),
        distance=float(dist), figure=fig)


_add(Case(
    name="learning_rate_depth",
    title="Online SGD on digits (hard tanh, critical, orthogonal): the instability sets in at the predicted "
          "2/λ of the conditional FIM of the inputs",
    how=f"online SGD (one example per step) of real orthogonal hard-tanh MLPs at criticality on {_LR_T} "
        f"scikit-learn digits, depths {_LR_DEPTHS}, {_LR_NETS} networks each at widths N and N/2; onset bisected "
        f"(8 halvings) where more than half of the first {_LR_STEPS} steps raise the loss of their own example",
    metric="max |z| over depths of 2·(onset/prediction)_N − (onset/prediction)_N/2 against 1 (the O(1/N) "
           f"saturation excess removed); inf if at width N a depth's mean ratio leaves [1/{_LR_FACTOR}, {_LR_FACTOR}]",
    tolerance=_LR_Z,
    run=_run_lr_depth, quick_size=256, full_size=512, topic=TOPIC))


# --------------------------------------------------------------------------------------------
# 6. The order/chaos phase diagram against a direct simulation of χ₁
# --------------------------------------------------------------------------------------------
def _simulate_log_chi1(act, sigma_w2: float, sigma_b2: float, width: int, rng: np.random.Generator,
                       burn_in: int = 20, layers: int = 20) -> float:
    """Mean log growth per layer of a tangent vector pushed through a wide Gaussian network,
    measured after ``burn_in`` layers so the pre-activations sit at their fixed length."""
    phi = ns.activation(act)
    x = rng.standard_normal(width)
    v = rng.standard_normal(width)
    logs = []
    for layer in range(burn_in + layers):
        W = rng.standard_normal((width, width)) * np.sqrt(sigma_w2 / width)
        h = W @ x + rng.standard_normal(width) * np.sqrt(sigma_b2)
        x = phi.phi(h)
        v_new = phi.dphi(h) * (W @ v)
        if layer >= burn_in:
            logs.append(np.log(v_new @ v_new / (v @ v)))
        v = v_new / np.linalg.norm(v_new) * np.sqrt(width)  # renormalise: only the ratio matters
    return float(np.mean(logs))


_PD_NETS, _PD_Z = 5, 4.0


def _run_phase(size: int, rng: np.random.Generator) -> Result:
    act = "tanh"
    pd = ns.phase_diagram(act, (0.5, 3.0), (0.0, 0.3), n=7, with_xi_c=False)
    # points: on the predicted critical line, and 0.6x / 1.6x of it (ordered / chaotic side)
    pts = []
    for k in (0, 3, 6):
        sb2, swc = float(pd.critical_sigma_b2[k]), float(pd.critical_sigma_w2[k])
        for f in (0.6, 1.0, 1.6):
            pts.append((f, swc * f, sb2))
    meas = np.array([_simulate_log_chi1(act, sw, sb, size, rng) for _, sw, sb in pts])
    # on the line, log χ₁ = 0: _PD_NETS networks at N and at N/2 per point, extrapolated in 1/N
    # (E log(|v'|²/|v|²) = log χ₁ − c/N: the log of an average of N terms, plus the O(1/N) shift of
    # χ₁ at the fluctuating length q^l; c is not needed), in standard errors over the networks
    line = [(sw, sb) for f, sw, sb in pts if f == 1.0]
    runs = {n: np.array([[_simulate_log_chi1(act, sw, sb, n, rng) for sw, sb in line] for _ in range(_PD_NETS)])
            for n in (size, size // 2)}
    t = z_test_extrapolated([f"σ_b²={sb:.3g}" for _, sb in line], runs[size], runs[size // 2], 0.0)
    dist = t.worst
    for (f, _, _), m in zip(pts, meas):
        if f != 1.0 and np.sign(m) != np.sign(f - 1.0):
            dist = float("inf")  # wrong side of the line
    fig, (ax,) = new_figure()
    ax.plot(pd.critical_sigma_w2, pd.critical_sigma_b2, "k-", label="critical line χ₁ = 1 (phase_diagram)")
    sw = np.array([p[1] for p in pts])
    sb = np.array([p[2] for p in pts])
    lim = float(np.max(np.abs(meas)))
    sc = ax.scatter(sw, sb, c=meas, cmap="coolwarm", vmin=-lim, vmax=lim, edgecolor="k",
                    label=f"simulated log χ₁ (width {size})")
    fig.colorbar(sc, ax=ax, label="simulated log χ₁")
    ax.set_xlabel("σ_w²")
    ax.set_ylabel("σ_b²")
    ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
    return Result(
        prediction="log χ₁ < 0 at 0.6× the critical σ_w², = 0 on the line, > 0 at 1.6×",
        measurement=f"simulated log χ₁ (one network each): {np.array2string(meas, precision=3)}; on the line, "
                    f"2·(N={size}) − (N={size // 2}): " + t.rows(".3g"),
        distance=float(dist), figure=fig)


_add(Case(
    name="phase_diagram",
    title="Order/chaos phase diagram of tanh networks: the critical line χ₁ = 1",
    how="growth rate of a tangent vector through real wide Gaussian tanh networks (numpy, 20 layers "
        "after a 20-layer burn-in) at 9 points on and on both sides of the line; on the line "
        f"{_PD_NETS} + {_PD_NETS} networks of widths N and N/2",
    metric="max |z| of log χ₁ on the line, z = (2 mean_N − mean_N/2) / SE over networks "
           "(inf if a point off the line is on the wrong side)",
    tolerance=_PD_Z,
    run=_run_phase, quick_size=400, full_size=2000, topic=TOPIC))
