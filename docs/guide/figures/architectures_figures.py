"""Figures of docs/guide/architectures.rst:  PYTHONPATH=. python docs/guide/figures/architectures_figures.py"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import nn_spectra as ns

HERE = os.path.dirname(os.path.abspath(__file__))


def spectra_vs_depth():
    # depth L = weight layers, for the MLP and the CNN alike: the CNN of depth L (L - 1 convolutions +
    # the readout) has the Jacobian law of the MLP of depth L, drawn from cnn_jacobian_law as markers
    act, sb2 = "tanh", 1e-3
    sw2 = float(ns.critical_sigma_w2(act, sb2))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for ax, L in zip(axes, (4, 32, 256)):
        for w, kern, style, lab in (("orthogonal", "delta-orthogonal", "-", "MLP orthogonal"),
                                    ("gaussian", "Gaussian", "--", "MLP Gaussian")):
            law = ns.jacobian_law(act, sw2, sb2, L, weights=w)
            x = np.geomspace(max(law.support[0], 1e-3 * law.support[1]), law.support[1], 500)[1:-1]
            ax.plot(x, x * law.pdf(x), style, label=lab)
            cnn = ns.cnn_jacobian_law(act, sw2, sb2, L, weights=w, spatial_shape=(8, 8), kernel_size=3)
            xs = x[::40]
            ax.plot(xs, xs * cnn.pdf(xs), "o" if w == "orthogonal" else "s", mfc="none", ms=5,
                    label=f"CNN {kern} kernels, {L - 1} convolutions")
        # ResNet (relu, post blocks) with a = 1/sqrt(L): tau = L a^2 sigma_w^2 E phi'^2 = 1; the finite-depth
        # law and its universal large-depth limit
        uni = ns.resnet_universal_law(1.0)
        x = np.geomspace(*uni.support, 400)[1:-1]
        ax.plot(x, x * uni.pdf(x), "k-", lw=2, label="ResNet, universal law τ = 1")
        res = ns.resnet_jacobian_law("relu", 1 / np.sqrt(L), 2.0, 0.0, depth=L + 2)   # L blocks
        xr = np.geomspace(*res.support, 200)[1:-1]
        ax.plot(xr, xr * res.pdf(xr), "k:", lw=1.5, label=f"ResNet relu, a = 1/√L, {L} blocks")
        ax.set_xscale("log")
        ax.set_title(f"depth {L} (tanh critical, σ_b² = {sb2})")
        ax.set_xlabel("eigenvalue λ of J Jᵀ")
    axes[0].set_ylabel("λ ρ(λ)")
    axes[0].legend(fontsize="xx-small")
    fig.savefig(os.path.join(HERE, "architectures_spectra.png"), dpi=100)


def cnn_phase_diagram():
    act = "tanh"
    pd_ = ns.phase_diagram(act, sigma_w2=(0.5, 3.0), sigma_b2=(0.0, 0.2), n=40)
    depth = 6 * np.asarray(pd_.xi_c, float)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    im = ax.pcolormesh(pd_.sigma_w2, pd_.sigma_b2, np.log10(np.clip(depth, 1, 1e6)), shading="auto", cmap="viridis")
    fig.colorbar(im, ax=ax, label="log₁₀ trainable depth 6ξ_c (CNN = fully connected)")
    ax.contour(pd_.sigma_w2, pd_.sigma_b2, depth, levels=[1e4], colors="w")
    ax.plot(pd_.critical_sigma_w2, pd_.critical_sigma_b2, "r-", label="critical line χ₁ = 1")
    sb = 0.05
    sw = float(ns.critical_sigma_w2(act, sb))
    ax.plot([sw], [sb], "r*", ms=14, label=f"10,000-layer CNN trains (σ_w² = {sw:.3f}, σ_b² = {sb})")
    ax.set_xlabel("σ_w²")
    ax.set_ylabel("σ_b²")
    ax.legend(fontsize="x-small", loc="upper left")
    for swk in (sw * 0.95, sw * 1.05):
        m = ns.cnn_mean_field_modes(act, swk, sb, (16,), 3)
        order = np.argsort(m.frequencies[:, 0])
        ax2.semilogy(m.frequencies[order, 0], m.xi_c[order], "o-", label=f"σ_w² = {swk:.3f}")
    ax2.set_xlabel("Fourier mode s = p + p′")
    ax2.set_ylabel("depth scale ξ_s of the mode")
    ax2.set_title("CNN, k = 3, 16 positions: only s = 0 keeps ξ_c")
    ax2.legend(fontsize="x-small")
    fig.savefig(os.path.join(HERE, "architectures_phase.png"), dpi=100)


if __name__ == "__main__":
    cnn_phase_diagram()
    spectra_vs_depth()
