r"""Residual and convolutional networks against real finite networks: the ResNet Jacobian law,
its universal large-depth limit, the CNN NTK and the delta-orthogonal CNN Jacobian spectrum.

Theory functions are looked up on :mod:`nn_spectra` at run time (``ns.name``).
"""
from __future__ import annotations

import numpy as np

import nn_spectra as ns

from freeprob.verify import Case, Result, register, z_test
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
def _run_resnet(size: int, rng: np.random.Generator) -> Result:
    act, a, sw2, sb2, L = "relu", 0.3, 2.0, 0.0, 10
    law = ns.resnet_jacobian_law(act, a, sw2, sb2, depth=L, weights="gaussian")
    ev = []
    for _ in range(max(1, 800 // size)):
        net = ns.ResNet(4, size, L, act, a, sw2, sb2, init="gaussian", variant="post", rng=rng)
        ev.append(net.jacobian_spectrum(rng.standard_normal(size)))
    ev = np.concatenate(ev)
    ks = _ks(ev, law)
    fig, (ax,) = new_figure()
    hist_with_pdf(ax, ev, law, f"real ResNets, width {size}", "resnet_jacobian_law", hi=float(np.quantile(ev, 0.995)))
    ax.set_xlabel("eigenvalue of J Jᵀ")
    return Result(prediction=f"free product of {L} blocks I + aDW (relu, a = {a}), mean {law.mean:.4f}",
                  measurement=f"{ev.size} eigenvalues, mean {ev.mean():.4f}", distance=ks, figure=fig)


_add(Case(
    name="resnet_jacobian_law",
    title="ResNet Jacobian spectrum: S-transform product of R-diagonal blocks I + a D W",
    how="squared singular values of ∂x^L/∂x^0 of real post-activation ResNets (numpy), Gaussian weights",
    metric="KS distance", tolerance=lambda n: 1.0 / np.sqrt(n),
    run=_run_resnet, quick_size=100, full_size=400, topic=TOPIC))


# 2. universal large-depth limit -----------------------------------------------------------------
def _run_universal(size: int, rng: np.random.Generator) -> Result:
    tau = 0.6
    depths = np.unique(np.geomspace(4, size, 8).astype(int))
    errs = []
    for L in depths:
        m1, m2 = ns.resnet_jacobian_moments("relu", np.sqrt(tau / L), 2.0, 0.0, int(L))
        errs.append(abs(m2 / m1 ** 2 - (1 + 2 * tau)) + abs(np.log(m1) - tau))
    uni = ns.resnet_universal_law(tau)
    u1, u2 = uni.moments(2)
    fig, (ax,) = new_figure()
    ax.loglog(depths, errs, "o-", label="finite depth vs universal (moments)")
    ax.loglog(depths, 2 * tau ** 2 / depths, "k--", label="2τ²/L")
    ax.set_xlabel("depth L (a² L fixed)")
    ax.legend(fontsize="x-small")
    # the error must fall below 2 tau^2 / L at the largest depth (per-block corrections O(nu_1^2))
    return Result(prediction=f"S(z) = exp(-τ(1+2z)), τ = {tau}: m₁ = {u1:.6f}, m₂/m₁² = {u2 / u1 ** 2:.6f}",
                  measurement=f"exact block recursion at L = {depths[-1]}: error {errs[-1]:.3g}",
                  distance=float(errs[-1] * depths[-1] / (2 * tau ** 2)), figure=fig)


_add(Case(
    name="resnet_universal_limit",
    title="Universal large-depth ResNet law (Tarnowski et al. 2019) as the limit of finite depths",
    how="exact block moments (word expansion of |1+X|², free product) at growing depth with a²L fixed",
    metric="error × L / (2τ²)", tolerance=1.0,
    run=_run_universal, quick_size=200, full_size=5000, topic=TOPIC))


# 3. CNN NTK against wide numpy CNNs ------------------------------------------------------------
def _run_cnn_ntk(size: int, rng: np.random.Generator) -> Result:
    X = rng.standard_normal((3, 6, 2))
    depth, nets = 2, 6
    K, T = ns.cnn_nngp_ntk(X, depth=depth, act="relu", sigma_w2=2.0, sigma_b2=0.1, kernel_size=3)
    Ts = np.array([ns.CNN((6,), 2, size, depth, 3, "relu", 2.0, 0.1, rng=rng).empirical_ntk(X)
                   for _ in range(nets)])
    # z-scores over the networks; the mean NTK at C channels is off by O(depth/C) relative, allowed
    # for as 5 depth/C |Θ| (constant stated in advance)
    t = z_test([f"Θ{i}" for i in range(T.size)], Ts.reshape(nets, -1), T.ravel(),
               bias=5 * depth / size * np.abs(T.ravel()))
    dist = t.worst
    fig, (ax,) = new_figure()
    ax.errorbar(T.ravel(), t.mean, yerr=4 * t.se + t.bias, fmt="o")
    ax.plot([T.min(), T.max()], [T.min(), T.max()], "k-")
    ax.set_xlabel("cnn_nngp_ntk")
    ax.set_ylabel(f"empirical NTK, {size} channels")
    return Result(prediction=f"NTK diagonal {np.round(np.diag(T), 4).tolist()}",
                  measurement=f"mean of {nets} CNNs {np.round(np.diag(Ts.mean(axis=0)), 4).tolist()}",
                  distance=dist, figure=fig)


_add(Case(
    name="cnn_ntk",
    title="Infinite-channel CNN NTK (circular padding, global average pooling)",
    how="empirical NTK from per-example gradients of real numpy CNNs (convolution by FFT)",
    metric="max |z|, z = (mean − theory, less 5 depth/C |theory|) / SE", tolerance=4.0,
    run=_run_cnn_ntk, quick_size=128, full_size=512, topic=TOPIC))


# 4. delta-orthogonal CNN Jacobian ---------------------------------------------------------------
def _run_delta(size: int, rng: np.random.Generator) -> Result:
    sw, sb, depth, C = 1.3, 0.02, 6, size
    law = ns.cnn_jacobian_law("tanh", sw, sb, depth, kernel="delta_orthogonal", spatial_shape=(4,))
    q = ns.q_star("tanh", sw, sb)
    net = ns.CNN((4,), C, C, depth, 3, "tanh", sw, sb, init="delta_orthogonal", rng=rng)
    x = rng.standard_normal((1, 4, C))
    x *= np.sqrt(C * (q - sb) / sw) / np.linalg.norm(x, axis=-1, keepdims=True)
    ev = net.jacobian_spectrum(x)
    ks = _ks(ev, law)
    fig, (ax,) = new_figure()
    hist_with_pdf(ax, ev, law, f"delta-orthogonal CNN, C = {C}", "fully-connected orthogonal law", bins=50)
    return Result(prediction="jacobian_law(tanh, orthogonal) (block-diagonal over positions)",
                  measurement=f"{ev.size} eigenvalues of J Jᵀ", distance=ks, figure=fig)


_add(Case(
    name="cnn_delta_orthogonal_jacobian",
    title="Delta-orthogonal CNN Jacobian spectrum equals the fully-connected orthogonal law",
    how="squared singular values of the input-output Jacobian of a real CNN (numpy, FFT convolution)",
    metric="KS distance", tolerance=lambda n: 2.0 / np.sqrt(4 * n),
    run=_run_delta, quick_size=64, full_size=256, topic=TOPIC))
