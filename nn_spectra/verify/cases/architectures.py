r"""Residual and convolutional networks against real finite networks: the ResNet Jacobian law,
its universal large-depth limit, the CNN NTK, the delta-orthogonal CNN Jacobian spectrum, the ResNet
mean field and NNGP/NTK with the stream mean, the moments of a ResNet's conditional Fisher spectrum and
the CNN covariance propagation over positions.

Theory functions are looked up on :mod:`nn_spectra` at run time (``ns.name``).
"""
from __future__ import annotations

import numpy as np

import nn_spectra as ns

from freeprob.verify import Case, Result, register, z_test, z_test_extrapolated
from freeprob.verify.figure import hist_with_pdf, new_figure

CASE_NAMES: list[str] = []
TOPIC = "deep networks: residual and convolutional"


def _add(case: Case) -> None:
    register(case)
    CASE_NAMES.append(case.name)


def _ks(ev, law) -> float:
    import randmat as rm

    return float(rm.ks_distance(ev, law))


# 1. ResNet Jacobian law against real ResNets ------------------------------------------------------
# Per-network statistics of the spectrum at width N and N/2 -- moments m1, m2 and the fractions of
# eigenvalues below m1/4, m1, 4 m1 (bounded, so low-variance where the heavy-tailed m3 is not) --
# Richardson-extrapolated (finite-width bias c/N + O(1/N^2), rate stated in advance, c unknown) and
# compared in standard errors with the law's moments (contour integral of the solver's Cauchy
# transform) and cdf, max |z| <= 4.  Relu with
# sigma_b = 0: D^2 does not depend on the input length, so the random input norm adds no bias.
_RESNET_NETS = 24
_Z = 4.0


def _run_resnet(size: int, rng: np.random.Generator) -> Result:
    act, a, sw2, sb2, L = "relu", 0.3, 2.0, 0.0, 10
    # L residual blocks: depth L + 2 weight layers (read-in, blocks, readout)
    law = ns.resnet_jacobian_law(act, a, sw2, sb2, depth=L + 2, weights="gaussian")
    m = law.moments(2)
    xs = m[0] * np.array([0.25, 1.0, 4.0])
    pred = np.r_[m, law.cdf(xs)]
    names = ["m₁", "m₂", "F(m₁/4)", "F(m₁)", "F(4m₁)"]

    def spectra(n):
        return [ns.ResNet(4, n, L + 2, act, a, sw2, sb2, weights="gaussian", variant="post", rng=rng)
                .jacobian_spectrum(rng.standard_normal(n)) for _ in range(_RESNET_NETS)]

    fine, coarse = spectra(size), spectra(size // 2)
    stats = lambda sp: np.array([np.r_[np.mean(ev), np.mean(ev ** 2), [np.mean(ev <= x) for x in xs]] for ev in sp])
    # O(1/N^2) remainder allowed for as (L/N)^2 |prediction| (stated in advance)
    t = z_test_extrapolated(names, stats(fine), stats(coarse), pred, bias=(L / size) ** 2 * np.abs(pred))
    ev = np.concatenate(fine)
    fig, axes = new_figure(2)
    hist_with_pdf(axes[0], ev, law, f"{_RESNET_NETS} real ResNets, width {size}", "resnet_jacobian_law",
                  hi=float(np.quantile(ev, 0.995)))
    axes[0].set_xlabel("eigenvalue of J Jᵀ")
    t.errorbar(axes[1], _Z, f"2·(N={size}) − (N={size // 2})")
    return Result(prediction=(f"free product of {L} blocks I + aDW (relu, a = {a}, Gaussian): "
                              f"m₁, m₂ = {np.array2string(m, precision=5)}, cdf at m₁·(1/4, 1, 4) = {np.array2string(pred[2:], precision=4)}"),
                  measurement=f"{t.rows('.5g')}; KS at width {size}: {_ks(ev, law):.3g} (information)",
                  distance=t.worst, figure=fig)


_add(Case(
    name="resnet_jacobian_law",
    title="ResNet Jacobian spectrum: S-transform product of R-diagonal blocks I + a D W",
    how=("squared singular values of ∂x^L/∂x^0 of real post-activation ResNets (numpy), Gaussian weights, "
         "per-network moments and eigenvalue fractions at widths N and N/2, Richardson-extrapolated"),
    metric="max |z| of m₁, m₂ and the cdf at 3 points (z_test_extrapolated, bias allowance (L/N)²|prediction|)", tolerance=_Z,
    run=_run_resnet, quick_size=100, full_size=400, topic=TOPIC))


# 2. universal large-depth limit -----------------------------------------------------------------
# The 1/L expansion of the finite-depth moments, derived by hand from the word expansion of one block
# (m1 = 1 + nu1, m2 = 1 + 4 nu1 + nu2) and the additivity of log m1 and m2/m1^2 - 1 over free blocks,
# with nu1 = tau/L, nu2 = kappa nu1^2 (sympy series, checked in tests/nn_spectra/test_resnet.py):
#   log M1 - tau            = -tau^2/(2L) + tau^3/(3L^2) - tau^4/(4L^3) + ...
#   M2/M1^2 - (1 + 2 tau)   = (kappa - 5) tau^2/L + 2(4 - kappa) tau^3/L^2 + (3 kappa - 11) tau^4/L^3 + ...
# relu, orthogonal weights: E phi'^2 = E phi'^4 = 1/2, so kappa = E phi'^4 / (E phi'^2)^2 = 2.
_TAU, _KAPPA = 0.6, 2.0
_SERIES = ((-_TAU ** 2 / 2, _TAU ** 3 / 3, -_TAU ** 4 / 4),
           ((_KAPPA - 5) * _TAU ** 2, 2 * (4 - _KAPPA) * _TAU ** 3, (3 * _KAPPA - 11) * _TAU ** 4))
# after the 1/L and 1/L^2 terms the remainder is |c3 / c2| / L of the 1/L^2 term
_REST = max(abs(c3 / c2) for _, c2, c3 in _SERIES)        # 0.75 for tau = 0.6, kappa = 2


def _universal_errors(m1: float, m2: float) -> np.ndarray:
    return np.array([np.log(m1) - _TAU, m2 / m1 ** 2 - (1 + 2 * _TAU)])


def _series_distance(err: np.ndarray, L: int) -> float:
    """max over (log m1, m2/m1^2) of |error - c1/L - c2/L^2| in units of the c2/L^2 term."""
    return max(abs(e - c1 / L - c2 / L ** 2) / abs(c2 / L ** 2) for e, (c1, c2, _) in zip(err, _SERIES))


def _run_universal(size: int, rng: np.random.Generator) -> Result:
    depths = np.unique(np.r_[np.geomspace(4, size, 8).astype(int), size])
    # L residual blocks: depth L + 2 weight layers
    errs = np.array([_universal_errors(*ns.resnet_jacobian_moments("relu", np.sqrt(_TAU / L), 2.0, 0.0, int(L) + 2))
                     for L in depths])
    dist = _series_distance(errs[-1], int(depths[-1]))
    # the operator-valued solver (a separate code path) at a small depth, to the same series
    L_s = 16
    law = ns.resnet_jacobian_law("relu", np.sqrt(_TAU / L_s), 2.0, 0.0, depth=L_s + 2)
    dist_s = _series_distance(_universal_errors(*law.moments(2)), L_s)
    # the tolerance is stated per depth: twice the derived 1/L^3 remainder, at each depth checked
    score = max(dist / (2 * _REST / depths[-1]), dist_s / (2 * _REST / L_s))
    uni = ns.resnet_universal_law(_TAU)
    u1, u2 = uni.moments(2)
    fig, (ax,) = new_figure()
    for i, lab in enumerate(["log m₁ − τ", "m₂/m₁² − 1 − 2τ"]):
        c1, c2, _ = _SERIES[i]
        ax.loglog(depths, np.abs(errs[:, i]), "o", label=f"|{lab}|, exact block recursion")
        ax.loglog(depths, np.abs(c1 / depths + c2 / depths ** 2), "k--" if i else "k:",
                  label=f"derived {c1:.3g}/L + {c2:.3g}/L²")
    ax.set_xlabel("depth L (a²L fixed, τ = 0.6)")
    ax.legend(fontsize="x-small")
    return Result(prediction=(f"S(z) = exp(-τ(1+2z)), τ = {_TAU}: m₁ = {u1:.6f}, m₂/m₁² = {u2 / u1 ** 2:.6f}; "
                              f"finite depth: log m₁ − τ = −τ²/(2L) + τ³/(3L²), "
                              f"m₂/m₁² − 1 − 2τ = (κ−5)τ²/L + 2(4−κ)τ³/L², κ = 2"),
                  measurement=(f"block recursion at L = {depths[-1]}: remainder {dist:.3g} of the 1/L² term "
                               f"(derived ≈ {_REST / depths[-1]:.3g}); solver at L = {L_s}: {dist_s:.3g} "
                               f"(derived ≈ {_REST / L_s:.3g})"),
                  distance=float(score), figure=fig)


_add(Case(
    name="resnet_universal_limit",
    title="Universal large-depth ResNet law (Tarnowski et al. 2019) as the limit of finite depths",
    how=("exact block moments (word expansion of |1+X|², free product) and the operator-valued solver at "
         "growing depth with a²L fixed, against the 1/L expansion derived from the word expansion"),
    metric="remainder after the derived 1/L and 1/L² terms, in units of twice the derived 1/L³ remainder",
    tolerance=1.0,
    run=_run_universal, quick_size=200, full_size=5000, topic=TOPIC))


# 3. CNN NTK against wide numpy CNNs ------------------------------------------------------------
def _run_cnn_ntk(size: int, rng: np.random.Generator) -> Result:
    X = rng.standard_normal((3, 6, 2))
    nets = 6
    # one description for theory and networks: depth L = 3 weight layers (2 convolutions + the readout),
    # widths in channels
    desc = ns.Network("relu", 2.0, 0.1, depth=3, widths=(2, size, size, 1))
    K, T = ns.cnn_nngp_ntk(desc, X, kernel_size=3)
    Ts = np.array([ns.CNN.from_network(desc, (6,), 3, rng=rng).empirical_ntk(X) for _ in range(nets)])
    # z-scores over the networks; the mean NTK at C channels is off by O((L-1)/C) relative, allowed
    # for as 5 (L-1)/C |Θ|, 5 per convolution (constant stated in advance)
    t = z_test([f"Θ{i}" for i in range(T.size)], Ts.reshape(nets, -1), T.ravel(),
               bias=5 * (desc.depth - 1) / size * np.abs(T.ravel()))
    dist = t.worst
    fig, (ax,) = new_figure()
    ax.errorbar(T.ravel(), t.mean, yerr=4 * t.se + t.bias, fmt="o")
    ax.plot([T.min(), T.max()], [T.min(), T.max()], "k-")
    ax.set_xlabel("cnn_nngp_ntk")
    ax.set_ylabel(f"empirical NTK, {size} channels")
    return Result(prediction=f"NTK diagonal {np.round(np.diag(T), 4).tolist()} (depth {desc.depth}: 2 convolutions + readout)",
                  measurement=f"mean of {nets} CNNs {np.round(np.diag(Ts.mean(axis=0)), 4).tolist()}",
                  distance=dist, figure=fig)


_add(Case(
    name="cnn_ntk",
    title="Infinite-channel CNN NTK (circular padding, global average pooling)",
    how="empirical NTK from per-example gradients of real numpy CNNs (convolution by FFT)",
    metric="max |z|, z = (mean − theory, less 5 (L−1)/C |theory|, L−1 convolutions) / SE", tolerance=4.0,
    run=_run_cnn_ntk, quick_size=128, full_size=512, topic=TOPIC))


# 4. delta-orthogonal CNN Jacobian ---------------------------------------------------------------
# As case 1: per-network m1, m2 and eigenvalue fractions below m1/4, m1, 2 m1 (the law ends below 3 m1) at C and C/2 channels,
# Richardson-extrapolated (bias c/C + O(1/C^2)), |z| <= 4 with a ((L-1)/C)^2 |prediction| allowance
# (L - 1 convolutions: J spans them; the law is jacobian_law at the same depth L).
_DELTA_NETS = 16


def _run_delta(size: int, rng: np.random.Generator) -> Result:
    sw, sb, depth = 1.3, 0.02, 7          # L = 7 weight layers: 6 convolutions + the readout
    law = ns.cnn_jacobian_law("tanh", sw, sb, depth, weights="orthogonal", spatial_shape=(4,))
    q = ns.q_star("tanh", sw, sb)
    m = law.moments(2)
    xs = m[0] * np.array([0.25, 1.0, 2.0])
    pred = np.r_[m, law.cdf(xs)]
    names = ["m₁", "m₂", "F(m₁/4)", "F(m₁)", "F(2m₁)"]

    def spectra(C):
        out = []
        for _ in range(_DELTA_NETS):
            net = ns.CNN((4,), C, C, depth, 3, "tanh", sw, sb, weights="orthogonal", rng=rng)
            x = rng.standard_normal((1, 4, C))
            # every position's first pre-activation at the fixed point: |x_alpha|^2 = C (q* - sigma_b^2)/sigma_w^2
            x *= np.sqrt(C * (q - sb) / sw) / np.linalg.norm(x, axis=-1, keepdims=True)
            out.append(net.jacobian_spectrum(x))
        return out

    fine, coarse = spectra(size), spectra(size // 2)
    stats = lambda sp: np.array([np.r_[np.mean(ev), np.mean(ev ** 2), [np.mean(ev <= x) for x in xs]] for ev in sp])
    t = z_test_extrapolated(names, stats(fine), stats(coarse), pred, bias=((depth - 1) / size) ** 2 * np.abs(pred))
    fig, axes = new_figure(2)
    hist_with_pdf(axes[0], np.concatenate(fine), law, f"{_DELTA_NETS} delta-orthogonal CNNs, C = {size}",
                  "fully-connected orthogonal law", bins=50)
    t.errorbar(axes[1], _Z, f"2·(C={size}) − (C={size // 2})")
    return Result(prediction=(f"jacobian_law(tanh, orthogonal, depth {depth}) = the CNN of {depth - 1} "
                              f"convolutions + readout, block-diagonal over positions: m₁, m₂ = "
                              f"{np.array2string(m, precision=5)}, cdf at m₁·(1/4, 1, 2) = "
                              f"{np.array2string(pred[2:], precision=4)}"),
                  measurement=t.rows(".5g"), distance=t.worst, figure=fig)


_add(Case(
    name="cnn_delta_orthogonal_jacobian",
    title="Delta-orthogonal CNN Jacobian spectrum equals the fully-connected orthogonal law",
    how=("squared singular values of the input-output Jacobian of real CNNs (numpy, FFT convolution), "
         "per-network moments and eigenvalue fractions at C and C/2 channels, Richardson-extrapolated"),
    metric="max |z| of m₁, m₂ and the cdf at 3 points (z_test_extrapolated, bias allowance ((L−1)/C)²|prediction|)",
    tolerance=_Z,
    run=_run_delta, quick_size=64, full_size=256, topic=TOPIC))


# 5. ResNet mean field with the stream mean (post blocks) ------------------------------------------
# Post blocks add a phi(h) to every coordinate: for relu the stream acquires a coordinate mean m^l and
# the length map is Q' = Q + a^2 E phi^2 + 2 a m E phi.  Per real network the stream lengths
# Q^1..Q^B of one input (|x^0|^2/N = 1 exactly) and the correlation c^B of two inputs (c^0 = 1/2
# exactly), against resnet_mean_field in standard errors, |z| <= 4 after a finite-width allowance
# 2 B/N |prediction| (stated in advance, as in tests/nn_spectra/test_resnet.py).
_MF_NETS = 16


def _two_stream_inputs(N: int, c0: float, rng: np.random.Generator) -> np.ndarray:
    """Two stream inputs of length exactly N (Q^0 = 1) with inner product exactly c0 N."""
    x, y = rng.standard_normal((2, N))
    x *= np.sqrt(N) / np.linalg.norm(x)
    y -= (y @ x) / N * x
    y *= np.sqrt(N) / np.linalg.norm(y)
    return np.stack([x, c0 * x + np.sqrt(1 - c0 * c0) * y])


def _run_resnet_mean_field(size: int, rng: np.random.Generator) -> Result:
    act, a, sw2, sb2, B, c0 = "relu", 0.5, 2.0, 0.1, 6, 0.5
    mf = ns.resnet_mean_field(act, a, sw2, sb2, depth=B + 2, q0=1.0, c0=c0, variant="post")
    pred = np.r_[mf.q[1:], mf.c[-1]]
    names = [f"Q^{l}" for l in range(1, B + 1)] + [f"c^{B}"]
    rows = []
    for _ in range(_MF_NETS):
        net = ns.ResNet(4, size, B + 2, act, a, sw2, sb2, weights="gaussian", variant="post", rng=rng)
        xs = net._stream(_two_stream_inputs(size, c0, rng))[0]
        Q = [float(x[0] @ x[0]) / size for x in xs[1:]]
        xB = xs[-1]
        rows.append(Q + [float(xB[0] @ xB[1]) / np.sqrt(float(xB[0] @ xB[0]) * float(xB[1] @ xB[1]))])
    t = z_test(names, np.array(rows), pred, bias=2 * B / size * np.abs(pred))
    # the map without the stream-mean term 2 a m E phi (before session 7), for the figure
    Qf = [1.0]
    for _ in range(B):
        Qf.append(Qf[-1] + a * a * (sw2 * Qf[-1] + sb2) / 2)
    fig, axes = new_figure(2)
    blocks = np.arange(1, B + 1)
    axes[0].errorbar(blocks, t.mean[:B], yerr=4 * t.se[:B] + t.bias[:B], fmt="o", label=f"{_MF_NETS} real ResNets, N = {size}")
    axes[0].plot(blocks, mf.q[1:], "k-", label="resnet_mean_field (with the stream mean)")
    axes[0].plot(blocks, Qf[1:], "k:", label="map without the mean term")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("block l")
    axes[0].set_ylabel("Q^l = |x^l|²/N")
    axes[0].legend(fontsize="x-small")
    t.errorbar(axes[1], _Z, f"N = {size}")
    return Result(prediction=f"relu post blocks, a = {a}: Q^1..Q^{B} = {np.array2string(mf.q[1:], precision=4)}, "
                             f"c^{B} = {mf.c[-1]:.5f} (c^0 = {c0})",
                  measurement=t.rows(".5g"), distance=t.worst, figure=fig)


_add(Case(
    name="resnet_mean_field",
    title="ResNet length and correlation maps with the stream's coordinate mean (post blocks)",
    how="stream lengths and the correlation of two inputs measured on real post-block ResNets (numpy), per network",
    metric="max |z|, z = (mean − theory, less 2 B/N |theory|) / SE", tolerance=_Z,
    run=_run_resnet_mean_field, quick_size=400, full_size=2000, topic=TOPIC))


# 6. ResNet NTK with the stream mean (post blocks, relu) -------------------------------------------
# The mean enters the NTK only through Sigma^l in the field covariance (resnet_nngp_ntk derives it by
# correlated copies).  The empirical NTK and NNGP of real ResNets (NTK parameterisation, per-example
# gradients by backpropagation) in standard errors over the networks, with the O(B/N) finite-width
# bias allowed as 5 B/N |prediction| (stated in advance).
_NTK_NETS = 24


def _run_resnet_ntk(size: int, rng: np.random.Generator) -> Result:
    act, a, sw2, sb2, L = "relu", 1.0, 2.0, 0.1, 6          # 4 residual blocks
    B = L - 2
    X = rng.standard_normal((3, 4))
    K, T = ns.resnet_nngp_ntk(X, None, L, act, a, sw2, sb2, "post")
    iu = np.triu_indices(3)
    pred = np.r_[T[iu], K[iu]]
    names = [f"Θ{i}{j}" for i, j in zip(*iu)] + [f"K{i}{j}" for i, j in zip(*iu)]
    rows = []
    for _ in range(_NTK_NETS):
        net = ns.ResNet(4, size, L, act, a, sw2, sb2, weights="gaussian", variant="post", rng=rng)
        rows.append(np.r_[net.empirical_ntk(X)[iu], net.empirical_nngp(X)[iu]])
    t = z_test(names, np.array(rows), pred, bias=5 * B / size * np.abs(pred))
    fig, (ax,) = new_figure()
    ax.errorbar(pred, t.mean, yerr=4 * t.se + t.bias, fmt="o")
    lo, hi = float(pred.min()), float(pred.max())
    ax.plot([lo, hi], [lo, hi], "k-")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("resnet_nngp_ntk (NTK and NNGP entries)")
    ax.set_ylabel(f"mean of {_NTK_NETS} real ResNets, N = {size}")
    return Result(prediction=f"relu post blocks, a = {a}, {B} blocks: NTK diagonal {np.round(np.diag(T), 3).tolist()}",
                  measurement=f"mean of {_NTK_NETS} networks {np.round(t.mean[[0, 3, 5]], 3).tolist()}; {t.rows('.4g')}",
                  distance=t.worst, figure=fig)


_add(Case(
    name="resnet_ntk",
    title="Infinite-width ResNet NNGP and NTK, post blocks with the stream mean (relu)",
    how="empirical NTK (per-example gradients in the NTK parameterisation) and NNGP of real ResNets (numpy)",
    metric="max |z|, z = (mean − theory, less 5 B/N |theory|) / SE", tolerance=_Z,
    run=_run_resnet_ntk, quick_size=300, full_size=1200, topic=TOPIC))


# 7. conditional Fisher information of a ResNet: moments of the dual H ------------------------------
# H = sum_l a^2 |x^l|^2 B_l D_l^2 B_l^T (weights only), the N x N dual of I(theta | x) = J^T J.  Per
# network m1, m2 of the eigenvalues of H/N and m2/m1^2 at widths N and N/2, Richardson-extrapolated
# (finite-width bias c/N + O(1/N^2), rate stated in advance), |z| <= 4 with a (B/N)^2 |prediction|
# allowance.
_CFIM_NETS = 16


def _run_resnet_cfim(size: int, rng: np.random.Generator) -> Result:
    act, a, sw2, sb2, B = "relu", 0.5, 2.0, 0.1, 6
    m1, m2 = ns.resnet_conditional_fisher_moments(act, a, sw2, sb2, B + 2, weights="gaussian")
    pred = np.array([m1, m2, m2 / m1 ** 2])
    names = ["m₁", "m₂", "m₂/m₁²"]

    def moments(n):
        out, last = [], None
        for _ in range(_CFIM_NETS):
            net = ns.ResNet(4, n, B + 2, act, a, sw2, sb2, weights="gaussian", variant="post", rng=rng)
            x0 = rng.standard_normal(n)
            x0 *= np.sqrt(n) / np.linalg.norm(x0)
            last = np.linalg.eigvalsh(net.conditional_fisher_dual(x0, include_bias=False)) / n
            out.append([last.mean(), np.mean(last ** 2), np.mean(last ** 2) / last.mean() ** 2])
        return np.array(out), last

    (fine, ev), (coarse, _) = moments(size), moments(size // 2)
    t = z_test_extrapolated(names, fine, coarse, pred, bias=(B / size) ** 2 * np.abs(pred))
    fig, axes = new_figure(2)
    axes[0].hist(ev, bins=40, density=True, alpha=0.6, label=f"one real ResNet, N = {size}")
    axes[0].axvline(m1, color="k", label="predicted m₁")
    axes[0].set_xlabel("eigenvalue of H/N")
    axes[0].legend(fontsize="x-small")
    t.errorbar(axes[1], _Z, f"2·(N={size}) − (N={size // 2})")
    return Result(prediction=f"relu post blocks, a = {a}, {B} blocks, Gaussian: m₁, m₂, m₂/m₁² = {np.array2string(pred, precision=5)}",
                  measurement=t.rows(".5g"), distance=t.worst, figure=fig)


_add(Case(
    name="resnet_conditional_fisher",
    title="Conditional Fisher information of a ResNet: first two moments of the dual H",
    how=("eigenvalues of H = Jθ Jθᵀ (Jθ = ∂x^L/∂W by backpropagation) of real post-block ResNets, per-network "
         "moments at widths N and N/2, Richardson-extrapolated"),
    metric="max |z| of m₁, m₂, m₂/m₁² (z_test_extrapolated, bias allowance (B/N)²|prediction|)", tolerance=_Z,
    run=_run_resnet_cfim, quick_size=200, full_size=800, topic=TOPIC))


# 8. CNN covariance propagation over positions (Xiao et al. 2018) -----------------------------------
# The spatial covariance of the pre-activations of real CNNs (Gaussian kernels, circular padding),
# Sigma_hat^l[a, a'] = h^l_a . h^l_a' / C over the channels, per network, against the map
# Sigma -> sigma_w^2 A C(Sigma) + sigma_b^2 iterated from the input's own Gram matrix; |z| <= 4 after a
# finite-width allowance 2 l/C |prediction| at layer l (stated in advance).  Quantities: the mean
# diagonal at every layer, and every position pair at the last layer.
_COV_NETS = 12


def _run_cnn_covariance(size: int, rng: np.random.Generator) -> Result:
    act, sw2, sb2, n, k, L = "tanh", 1.6, 0.05, 8, 3, 7            # 6 convolutions + the readout
    X = rng.standard_normal((1, n, 3))
    X[0, 4:] = X[0, :4] + 0.3 * X[0, 4:]                          # positions 4..7 correlated with 0..3
    S = ns.cnn_covariance_map("linear", X[0] @ X[0].T / X.shape[-1], sw2, sb2, (n,), k)
    preds = [S]
    for _ in range(L - 2):
        S = ns.cnn_covariance_map(act, S, sw2, sb2, (n,), k)
        preds.append(S)
    iu = np.triu_indices(n)
    pred = np.r_[[np.trace(P) / n for P in preds], preds[-1][iu]]
    names = [f"mean q^{l + 1}" for l in range(L - 1)] + [f"Σ^{L - 1}[{i},{j}]" for i, j in zip(*iu)]
    layer = np.r_[np.arange(1, L), np.full(len(iu[0]), L - 1)]
    rows = []
    for _ in range(_COV_NETS):
        net = ns.CNN((n,), 3, size, L, k, act, sw2, sb2, rng=rng)
        hs = net.forward(X, return_all=True)[1]
        Sh = [h[0] @ h[0].T / size for h in hs]
        rows.append(np.r_[[np.trace(M) / n for M in Sh], Sh[-1][iu]])
    t = z_test(names, np.array(rows), pred, bias=2 * layer / size * np.abs(pred))
    fig, axes = new_figure(2)
    im = axes[0].imshow(preds[-1], cmap="viridis")
    fig.colorbar(im, ax=axes[0])
    axes[0].set_title(f"Σ^{L - 1} (map)")
    axes[1].errorbar(preds[-1][iu], t.mean[L - 1:], yerr=4 * t.se[L - 1:] + t.bias[L - 1:], fmt="o", ms=3)
    lo, hi = float(preds[-1].min()), float(preds[-1].max())
    axes[1].plot([lo, hi], [lo, hi], "k-")
    axes[1].set_xlabel("cnn_covariance_map, iterated")
    axes[1].set_ylabel(f"mean of {_COV_NETS} CNNs, C = {size}")
    return Result(prediction=(f"tanh, σ_w² = {sw2}, σ_b² = {sb2}, 8 positions, k = 3: mean q per layer "
                              f"{np.round(pred[:L - 1], 4).tolist()}; last-layer covariances in [{lo:.3f}, {hi:.3f}]"),
                  measurement=f"worst {t.rows('.4g').split('; ')[int(np.argmax(np.abs(t.z)))]}; {t.replicates} networks",
                  distance=t.worst, figure=fig)


_add(Case(
    name="cnn_covariance_propagation",
    title="CNN mean field: the spatial covariance map over position pairs (Xiao et al. 2018)",
    how="channel averages h^l_α·h^l_α'/C of real CNNs (numpy, FFT convolution), per network, at every layer",
    metric="max |z|, z = (mean − map, less 2 l/C |map|) / SE", tolerance=_Z,
    run=_run_cnn_covariance, quick_size=256, full_size=1024, topic=TOPIC))
