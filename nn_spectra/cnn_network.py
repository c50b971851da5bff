r"""A finite circular-padding CNN in numpy (convolution by FFT), the Monte-Carlo twin of :mod:`nn_spectra.cnn`.

Layers as in :mod:`nn_spectra.cnn`: :math:`h^l_\alpha = \sum_\beta W^l_\beta x^{l-1}_{\alpha+\beta-o} + b^l`,
:math:`x^l = \varphi(h^l)` for the convolutions :math:`l = 1, \dots, L-1`, then the readout
:math:`f = w\cdot R(x^{L-1}) + b` with :math:`R` the
global average over positions (``"gap"``, :math:`w` of variance :math:`\sigma_w^2/C`) or the flattening
(``"flatten"``, variance :math:`\sigma_w^2/(PC)`).  ``depth`` is :math:`L`, **the number of weight
layers including the readout** (:math:`L-1` convolutions), as for :class:`nn_spectra.MLP` and
:class:`nn_spectra.Network`; it used to count the convolutions only (old ``depth=c`` is now
``depth=c + 1``).  Kernel entries have variance
:math:`\sigma_w^2/(C_{in}k^d)` (``weights="gaussian"``) or the kernel is delta-orthogonal
(``weights="orthogonal"``; ``init="delta_orthogonal"`` is the deprecated spelling).

A circular cross-correlation with taps at offsets :math:`\delta = \beta - o` is the circular
convolution with the kernel image :math:`\tilde K[-\delta] = W_\beta`, so
:math:`\hat h(p) = \hat{\tilde K}(p)\hat x(p)` (a :math:`C_{out}\times C_{in}` product per frequency) and
its adjoint multiplies by :math:`\hat{\tilde K}(p)^*`.
"""
from __future__ import annotations

import numpy as np

from .activations import Activation, activation
from .cnn import _offsets, check_cnn_geometry, delta_orthogonal_kernel

__all__ = ["CNN"]

# the deprecated init= spoke of "delta_orthogonal" kernels; weights= says "orthogonal", as for every network
_OLD_INIT = {"delta_orthogonal": "orthogonal"}


class CNN:
    r"""Convolutional network with random kernels (module docstring).

    Parameters
    ----------
    spatial_shape : tuple of int
        1 or 2 spatial sizes (circular padding).
    in_channels, channels : int
        :math:`C_0` and :math:`C`.
    depth : int
        :math:`1 \le L \le 10^6`, **the number of weight layers, including the readout**:
        :math:`L-1` convolutional layers and the linear readout (``depth=1``: the readout of the input).
        *Changed meaning*: it used to count the convolutions only (old ``depth=c`` is now ``depth=c + 1``).
    kernel_size : int
        :math:`k \le` the image size; odd for ``weights="orthogonal"``.
    act, sigma_w2, sigma_b2
    weights : {"gaussian", "orthogonal"}
        The weight law, as for :class:`~nn_spectra.MLP` (default ``"gaussian"``): i.i.d. Gaussian
        kernel entries, or delta-orthogonal kernels (:func:`delta_orthogonal_kernel`), which need
        ``in_channels == channels``.  ``init=`` (values ``"gaussian"``, ``"delta_orthogonal"``) is its
        deprecated name.
    readout : {"gap", "flatten"}
    rng : int or Generator

    Examples
    --------
    >>> net = CNN((6,), 2, 8, 3, 3, "relu", 2.0, 0.0, rng=0)      # depth 3: two convolutions + the readout
    >>> net.forward(np.ones((3, 6, 2))).shape, len(net.kernels)
    ((3,), 2)
    >>> net.network                                                 # the same description as an MLP's
    Network('relu', sigma_w2=2, sigma_b2=0, depth=3, weights='gaussian', widths=(2, 8, 8, 1))
    """

    def __init__(self, spatial_shape, in_channels: int, channels: int, depth: int, kernel_size: int, act,
                 sigma_w2: float, sigma_b2: float, weights: str | None = None, readout: str = "gap", rng=None, *,
                 init: str | None = None):
        from .cnn import _check_depth, _variances
        from .network import weight_law

        if weights == "delta_orthogonal" and init is None:
            # the old vocabulary passed positionally (the ninth argument was init=)
            weights, init = None, weights
        law = weight_law(weights, init, old_values=_OLD_INIT, allowed=("gaussian", "orthogonal"), caller="CNN")
        self.shape, self.k = check_cnn_geometry(spatial_shape, kernel_size, need_centre=(law == "orthogonal"))
        if readout not in ("gap", "flatten"):
            raise ValueError(f"readout must be 'gap' or 'flatten', got {readout!r}")
        from .cnn import _check_channels

        self.C0, self.C = _check_channels("in_channels", in_channels), _check_channels("channels", channels)
        if law == "orthogonal" and self.C0 != self.C:
            raise ValueError(f"weights='orthogonal' (delta-orthogonal kernels) needs in_channels == channels "
                             f"(mismatched channels: {self.C0} != {self.C})")
        self.depth = _check_depth(depth)
        self.n_conv = self.depth - 1
        # channels seen by the readout: C after a convolution, C_0 when depth = 1
        self.C_last = self.C if self.n_conv else self.C0
        self.sigma_w2, self.sigma_b2 = _variances(sigma_w2, sigma_b2)
        self.act: Activation = activation(act)
        self.weight_law, self.readout = law, readout
        self.ndim = len(self.shape)
        self.P = int(np.prod(self.shape))
        rng = np.random.default_rng(rng)
        self.kernels, self.biases = [], []
        for l in range(self.n_conv):
            cin = self.C0 if l == 0 else self.C
            if law == "gaussian":
                K = rng.standard_normal((self.k,) * self.ndim + (self.C, cin)) * np.sqrt(self.sigma_w2 / (cin * self.k ** self.ndim))
            else:
                K = delta_orthogonal_kernel(self.C, cin, self.k, self.ndim, self.sigma_w2, rng)
            self.kernels.append(K)
            self.biases.append(rng.standard_normal(self.C) * np.sqrt(self.sigma_b2))
        n_out = self.C_last if readout == "gap" else self.P * self.C_last
        self.w_out = rng.standard_normal(n_out) * np.sqrt(self.sigma_w2 / n_out)
        self.b_out = float(rng.standard_normal() * np.sqrt(self.sigma_b2))
        self._khat = [self._kernel_fft(K) for K in self.kernels]

    # ------------------------------------------------------------------ convolution by FFT
    def _kernel_fft(self, K):
        img = np.zeros(self.shape + K.shape[-2:])
        for tap, off in zip(np.ndindex(*(self.k,) * self.ndim), _offsets(self.shape, self.k)):
            idx = tuple((-o) % n for o, n in zip(off, self.shape))
            img[idx] += K[tap]
        return np.fft.fftn(img, axes=tuple(range(self.ndim)))

    def _axes(self, X):
        return tuple(range(1, 1 + self.ndim))

    def conv(self, l: int, X) -> np.ndarray:
        """Layer ``l``'s circular cross-correlation (no bias) of a batch ``(n, *shape, C_in)``."""
        ax = self._axes(X)
        Xh = np.fft.fftn(X, axes=ax)
        Hh = np.einsum("...oc,n...c->n...o", self._khat[l], Xh)
        return np.fft.ifftn(Hh, axes=ax).real

    def conv_transpose(self, l: int, G) -> np.ndarray:
        """Adjoint of :meth:`conv` (backpropagation through layer ``l``)."""
        ax = self._axes(G)
        Gh = np.fft.fftn(G, axes=ax)
        Xh = np.einsum("...oc,n...o->n...c", self._khat[l].conj(), Gh)
        return np.fft.ifftn(Xh, axes=ax).real

    # ------------------------------------------------------------------ passes
    def _check(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim == 1 + self.ndim:
            X = X[None]
        if X.shape[1:] != self.shape + (self.C0,):
            raise ValueError(f"X must have shape (n, {', '.join(map(str, self.shape))}, {self.C0}), got {X.shape} "
                             "(mismatched spatial shape or channels)")
        return X

    def forward(self, X, return_all: bool = False):
        """Outputs (n,); with ``return_all`` also the pre-activations and the layer inputs."""
        X = self._check(X)
        xs, hs = [X], []
        x = X
        for l in range(self.n_conv):
            h = self.conv(l, x) + self.biases[l]
            hs.append(h)
            x = self.act.phi(h)
            xs.append(x)
        out = self._readout(x) @ self.w_out + self.b_out
        return (out, hs, xs) if return_all else out

    def _readout(self, x):
        n = x.shape[0]
        return x.reshape(n, -1, self.C_last).mean(axis=1) if self.readout == "gap" else x.reshape(n, -1)

    def param_gradients(self, X, parameterization: str = "ntk") -> np.ndarray:
        r"""Per-example gradients of :math:`f` in all kernels, biases and the readout, shape (n, P).

        ``"ntk"``: in :math:`(\omega,\beta)` with :math:`W = \sigma_w\omega/\sqrt{\text{fan-in}}`,
        :math:`b = \sigma_b\beta` (the kernel converges to :func:`nn_spectra.cnn_nngp_ntk`);
        ``"standard"``: in the entries themselves.
        """
        if parameterization not in ("ntk", "standard"):
            raise ValueError(f"parameterization must be 'ntk' or 'standard', got {parameterization!r}")
        ntk = parameterization == "ntk"
        _, hs, xs = self.forward(X, return_all=True)
        n = xs[0].shape[0]
        # d f / d x^{L-1}, the input of the readout
        if self.readout == "gap":
            g = np.broadcast_to(self.w_out / self.P, xs[-1].shape).copy()
        else:
            g = self.w_out.reshape((1,) + self.shape + (self.C_last,)).repeat(n, axis=0)
        blocks = []
        for l in range(self.n_conv - 1, -1, -1):
            delta = g * self.act.dphi(hs[l])       # d f / d h^l
            cin = xs[l].shape[-1]
            scale = np.sqrt(self.sigma_w2 / (cin * self.k ** self.ndim)) if ntk else 1.0
            taps = []
            ax = tuple(range(1, 1 + self.ndim))
            for off in _offsets(self.shape, self.k):
                shifted = np.roll(xs[l], shift=tuple(-o for o in off), axis=ax)   # x_{alpha + delta}
                taps.append(np.einsum("npo,npc->noc", delta.reshape(n, -1, self.C), shifted.reshape(n, -1, cin)))
            gw = np.stack(taps, axis=1).reshape(n, -1) * scale
            gb = delta.reshape(n, -1, self.C).sum(axis=1) * (np.sqrt(self.sigma_b2) if ntk else 1.0)
            blocks.append(np.concatenate([gw, gb], axis=1))
            if l > 0:
                g = self.conv_transpose(l, delta)
        blocks = blocks[::-1]
        r = self._readout(xs[-1])
        sw = np.sqrt(self.sigma_w2 / r.shape[1]) if ntk else 1.0
        blocks.append(r * sw)
        blocks.append(np.full((n, 1), np.sqrt(self.sigma_b2) if ntk else 1.0))
        return np.concatenate(blocks, axis=1)

    def empirical_ntk(self, X1, X2=None) -> np.ndarray:
        """Empirical NTK (NTK parameterisation), shape (n1, n2)."""
        G1 = self.param_gradients(X1)
        G2 = G1 if X2 is None else self.param_gradients(X2)
        return G1 @ G2.T

    def empirical_nngp(self, X1, X2=None) -> np.ndarray:
        r"""Readout covariance :math:`\sigma_w^2 R(x^L)\cdot R(x'^L)/\dim + \sigma_b^2`, shape (n1, n2)."""
        r1 = self._readout(self.forward(X1, return_all=True)[2][-1])
        r2 = r1 if X2 is None else self._readout(self.forward(X2, return_all=True)[2][-1])
        return self.sigma_w2 * (r1 @ r2.T) / r1.shape[1] + self.sigma_b2

    def input_output_jacobian(self, x) -> np.ndarray:
        r""":math:`J = \partial x^{L-1}/\partial x^0 = D_{L-1}\mathcal W_{L-1}\cdots D_1\mathcal W_1` at one
        image, over the :math:`L-1` convolutions (the readout is not part of :math:`J`, as in
        :func:`nn_spectra.cnn_jacobian_law`), a (P C) x (P C_0) matrix (row index position-major, then
        channel); the identity when ``depth = 1``."""
        x = self._check(x)
        if x.shape[0] != 1:
            raise ValueError("x must be a single image")
        _, hs, _ = self.forward(x, return_all=True)
        m = self.P * self.C0
        V = np.eye(m).reshape((m,) + self.shape + (self.C0,))
        for l in range(self.n_conv):
            V = self.conv(l, V) * self.act.dphi(hs[l])
        return V.reshape(m, -1).T

    def jacobian_spectrum(self, x) -> np.ndarray:
        r"""Eigenvalues of :math:`JJ^\top`."""
        return np.linalg.svd(self.input_output_jacobian(x), compute_uv=False) ** 2

    # ------------------------------------------------------------------ one description
    @classmethod
    def from_network(cls, net, spatial_shape, kernel_size: int, readout: str = "gap", rng=None) -> "CNN":
        r"""The CNN a :class:`~nn_spectra.Network` describes, with its geometry.

        ``net.depth`` = L weight layers (L - 1 convolutions and the readout); ``net.widths`` count
        channels, :math:`(C_0, C, \dots, C, 1)`; ``net.weights`` ``"gaussian"`` or ``"orthogonal"``
        (delta-orthogonal kernels); a linear readout, no batch norm.  ``readout`` is the pooling.

        >>> import nn_spectra as ns
        >>> desc = ns.Network("tanh", 1.5, 0.1, depth=3, widths=(2, 16, 16, 1))
        >>> cnn = CNN.from_network(desc, (6,), 3, rng=0)
        >>> cnn.depth == desc.depth, len(cnn.kernels), cnn.network == desc
        (True, 2, True)
        """
        from .cnn import _cnn_description
        from .network import Network

        if not isinstance(net, Network):
            raise ValueError(f"net must be a Network, got {type(net).__name__}")
        if net.widths is None:
            raise ValueError("CNN.from_network samples a finite network: give the network widths "
                             "(C_0, C, ..., C, 1) in channels")
        C0, C = _cnn_description(net, "CNN.from_network")
        return cls(spatial_shape, C0, C0 if C is None else C, net.depth, kernel_size, net.act, net.sigma_w2,
                   net.sigma_b2, weights=net.weights,
                   readout=readout, rng=rng)

    @property
    def network(self):
        r"""This CNN's :class:`~nn_spectra.Network`: depth L, widths :math:`(C_0, C, \dots, C, 1)` in
        channels, ``weights="orthogonal"`` for delta-orthogonal kernels (the geometry is not part of it)."""
        from .network import Network

        return Network(self.act, self.sigma_w2, self.sigma_b2, self.depth,
                       weights=self.weight_law,
                       widths=(self.C0,) + (self.C,) * self.n_conv + (1,))

    def __repr__(self) -> str:
        return (f"CNN(shape={self.shape}, C0={self.C0}, C={self.C}, depth={self.depth}, k={self.k}, "
                f"act={self.act.name!r}, weights={self.weight_law!r}, readout={self.readout!r})")

    @property
    def init(self) -> str:
        """Deprecated: the weight law in the old vocabulary (``"gaussian"``, ``"delta_orthogonal"``);
        use :attr:`weight_law` or ``network.weights``."""
        import warnings

        warnings.warn("CNN.init is deprecated; use CNN.weight_law (or CNN.network.weights)", DeprecationWarning,
                      stacklevel=2)
        return "delta_orthogonal" if self.weight_law == "orthogonal" else "gaussian"
