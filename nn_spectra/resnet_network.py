r"""A finite residual network in numpy, the Monte-Carlo twin of :mod:`nn_spectra.resnet`.

Architecture (width :math:`N`, input dimension :math:`d`, ``depth`` :math:`L` weight layers: the
read-in, :math:`B = L - 2` residual blocks and the readout, as in :mod:`nn_spectra.resnet`; NTK
parameterisation in ``empirical_ntk``):

.. math:: x^0 = W_{in}x + b_{in},\qquad
          x^{l+1} = x^l + a(W_l\varphi(x^l) + b_l)\ \text{(pre)}\quad\text{or}\quad
          x^{l+1} = x^l + a\varphi(W_lx^l + b_l)\ \text{(post)},\qquad f = w\cdot x^B + b.

:math:`W_{in}` has entries of variance :math:`\sigma_w^2/d`, :math:`W_l` of variance :math:`\sigma_w^2/N`
(Gaussian, or :math:`\sigma_w` times a Haar orthogonal matrix), the readout :math:`\sigma_w^2/N`; biases
:math:`\sigma_b^2`.  Gradients are per example, computed by backpropagation.
"""
from __future__ import annotations

import warnings

import numpy as np

from .activations import Activation, activation
from .mlp import haar_orthogonal_isometry

__all__ = ["ResNet"]


class ResNet:
    r"""Residual network with random weights (module docstring).

    Parameters
    ----------
    d : int
        Input dimension.
    width : int
        :math:`N`.
    depth : int
        :math:`L \ge 2`, the number of weight layers: the read-in, :math:`B = L - 2` residual blocks
        (``blocks``, one weight matrix each) and the readout (the meaning of ``depth`` in every ResNet
        function, :mod:`nn_spectra.resnet`; until issue 14 it counted the blocks).
    act : str or Activation
    a : float
        Branch strength :math:`a > 0`.
    sigma_w2, sigma_b2 : float
    weights : {"gaussian", "orthogonal"}
        Law of the residual weights :math:`W_l` (default Gaussian).  ``init=`` is its deprecated name.
    variant : {"pre", "post"}
    rng : int or Generator

    Examples
    --------
    >>> net = ResNet(3, 16, 6, "relu", 0.5, 2.0, 0.0, rng=0)
    >>> net.depth, net.blocks, len(net.Ws)          # read-in, 4 blocks, readout
    (6, 4, 4)
    >>> net.forward(np.ones((2, 3))).shape
    (2,)
    >>> J = net.input_output_jacobian(np.ones(16))
    >>> J.shape
    (16, 16)
    """

    def __init__(self, d: int, width: int, depth: int, act, a: float, sigma_w2: float, sigma_b2: float,
                 weights: str | None = None, variant: str = "pre", rng=None, *, init: str | None = None):
        from .resnet import _check_a, _check_depth, _check_variant, _check_weights, _variances

        for name, v in (("d", d), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        law = _check_weights(weights, "ResNet", init=init, default="gaussian")
        self.d, self.width = int(d), int(width)
        self.depth = _check_depth(depth)
        #: number of residual blocks B = depth - 2 (weight matrices W_l)
        self.blocks = self.depth - 2
        self.a = _check_a(a)
        self.sigma_w2, self.sigma_b2 = _variances(sigma_w2, sigma_b2)
        self.variant = _check_variant(variant)
        self._weight_law = law
        self.act: Activation = activation(act)
        rng = np.random.default_rng(rng)
        N, sw, sb = self.width, self.sigma_w2, self.sigma_b2
        self.W_in = rng.standard_normal((N, self.d)) * np.sqrt(sw / self.d)
        self.b_in = rng.standard_normal(N) * np.sqrt(sb)
        self.Ws, self.bs = [], []
        for _ in range(self.blocks):
            if law == "gaussian":
                W = rng.standard_normal((N, N)) * np.sqrt(sw / N)
            else:
                W = np.sqrt(sw) * haar_orthogonal_isometry(N, N, rng)
            self.Ws.append(W)
            self.bs.append(rng.standard_normal(N) * np.sqrt(sb))
        self.w_out = rng.standard_normal(N) * np.sqrt(sw / N)
        self.b_out = float(rng.standard_normal() * np.sqrt(sb))

    @property
    def weight_law(self) -> str:
        """Law of the residual weights: ``"gaussian"`` or ``"orthogonal"``."""
        return self._weight_law

    @property
    def init(self) -> str:
        """Deprecated name of :attr:`weight_law`."""
        warnings.warn("ResNet.init is deprecated; use ResNet.weight_law", DeprecationWarning, stacklevel=2)
        return self._weight_law

    # ------------------------------------------------------------------ passes
    def _stream(self, X0):
        """Residual stream x^0..x^L and the arguments of phi, for a batch of stream inputs x^0."""
        xs, hs = [X0], []
        x = X0
        a = self.a
        for W, b in zip(self.Ws, self.bs):
            if self.variant == "pre":
                h = x
                x = x + a * (self.act.phi(h) @ W.T + b)
            else:
                h = x @ W.T + b
                x = x + a * self.act.phi(h)
            hs.append(h)
            xs.append(x)
        return xs, hs

    def embed(self, X) -> np.ndarray:
        """The read-in :math:`x^0 = W_{in}x + b_{in}`, shape (batch, N)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.d:
            raise ValueError(f"X must have shape (batch, {self.d}), got {X.shape}")
        return X @ self.W_in.T + self.b_in

    def forward(self, X) -> np.ndarray:
        """Outputs :math:`f(x)`, shape (batch,)."""
        xs, _ = self._stream(self.embed(X))
        return xs[-1] @ self.w_out + self.b_out

    def input_output_jacobian(self, x0) -> np.ndarray:
        r""":math:`\partial x^L/\partial x^0 = \prod_l (I + aW_lD_l)` (pre) or :math:`\prod_l(I + aD_lW_l)`
        (post) at one stream input ``x0`` of shape (N,)."""
        x0 = np.asarray(x0, dtype=float).reshape(1, -1)
        if x0.shape[1] != self.width:
            raise ValueError(f"x0 must have {self.width} entries, got {x0.shape[1]}")
        _, hs = self._stream(x0)
        J = np.eye(self.width)
        for W, h in zip(self.Ws, hs):
            D = self.act.dphi(h[0])
            if self.variant == "pre":
                J = J + self.a * (W * D[None, :]) @ J
            else:
                J = J + self.a * D[:, None] * (W @ J)
        return J

    def jacobian_spectrum(self, x0) -> np.ndarray:
        r"""Eigenvalues of :math:`JJ^\top` (squared singular values of the stream Jacobian)."""
        return np.linalg.svd(self.input_output_jacobian(x0), compute_uv=False) ** 2

    def _backward(self, X):
        """Per-example deltas dL/dx^l (l = 0..L) for f, plus the stream and phi arguments."""
        xs, hs = self._stream(self.embed(X))
        delta = np.broadcast_to(self.w_out, xs[-1].shape).copy()
        deltas = [delta]
        a = self.a
        for l in range(self.blocks - 1, -1, -1):
            W, h = self.Ws[l], hs[l]
            Dp = self.act.dphi(h)
            if self.variant == "pre":
                delta = delta + a * (delta @ W) * Dp
            else:
                delta = delta + a * (delta * Dp) @ W
            deltas.append(delta)
        return deltas[::-1], xs, hs

    def empirical_ntk(self, X1, X2=None) -> np.ndarray:
        r"""Empirical NTK in the NTK parameterisation (every weight :math:`\sigma_w\omega/\sqrt{\text{fan-in}}`,
        bias :math:`\sigma_b\beta`, gradients in :math:`(\omega,\beta)`); converges to
        :func:`nn_spectra.resnet_nngp_ntk` as :math:`N\to\infty`.  Shape (n1, n2)."""
        sw, sb, N, a = self.sigma_w2, self.sigma_b2, self.width, self.a
        d1, x1, h1 = self._backward(X1)
        d2, x2, h2 = (d1, x1, h1) if X2 is None else self._backward(X2)
        E1 = np.atleast_2d(np.asarray(X1, float))
        E2 = E1 if X2 is None else np.atleast_2d(np.asarray(X2, float))
        theta = (sw * (E1 @ E2.T) / self.d + sb) * (d1[0] @ d2[0].T)
        for l in range(self.blocks):
            if self.variant == "pre":
                g1, g2 = d1[l + 1], d2[l + 1]
                inp = sw * (self.act.phi(h1[l]) @ self.act.phi(h2[l]).T) / N + sb
            else:
                g1 = d1[l + 1] * self.act.dphi(h1[l])
                g2 = d2[l + 1] * self.act.dphi(h2[l])
                inp = sw * (x1[l] @ x2[l].T) / N + sb
            theta += a * a * inp * (g1 @ g2.T)
        theta += sw * (x1[-1] @ x2[-1].T) / N + sb
        return theta

    def empirical_nngp(self, X1, X2=None) -> np.ndarray:
        r"""Readout covariance :math:`\sigma_w^2x^L\cdot x'^L/N + \sigma_b^2`, shape (n1, n2)."""
        x1 = self._stream(self.embed(X1))[0][-1]
        x2 = x1 if X2 is None else self._stream(self.embed(X2))[0][-1]
        return self.sigma_w2 * (x1 @ x2.T) / self.width + self.sigma_b2

    def param_gradients(self, X) -> np.ndarray:
        r"""Per-example gradients of :math:`f` in the residual weights :math:`W_l` and biases :math:`b_l`
        (standard parameterisation), shape (batch, B * (N^2 + N)), B = depth - 2 blocks, order
        :math:`W_0, b_0, W_1, \dots`."""
        deltas, xs, hs = self._backward(X)
        blocks = []
        for l in range(self.blocks):
            if self.variant == "pre":
                g, inp = deltas[l + 1], self.act.phi(hs[l])
            else:
                g, inp = deltas[l + 1] * self.act.dphi(hs[l]), xs[l]
            blocks.append((self.a * g[:, :, None] * inp[:, None, :]).reshape(g.shape[0], -1))
            blocks.append(self.a * g)
        return np.concatenate(blocks, axis=1)

    # ------------------------------------------------------------------ conditional Fisher
    def conditional_fisher_dual(self, x0, include_bias: bool = True) -> np.ndarray:
        r"""Dual :math:`H = J_\theta J_\theta^\top` (N x N) of the conditional Fisher information
        :math:`I(\theta|x) = J_\theta^\top J_\theta` of the stream output :math:`x^L` given one stream input.

        :math:`J_\theta = \partial x^L/\partial(W_l, b_l)`: with :math:`B_l = \partial x^L/\partial x^{l+1}`,
        :math:`H = \sum_l a^2(\|u_l\|^2 + [\text{bias}]) B_lE_lE_l^\top B_l^\top`, where :math:`u_l` is the
        input of :math:`W_l` (:math:`\varphi(x^l)` pre, :math:`x^l` post) and :math:`E_l = I` (pre) or
        :math:`D_l` (post).  Its nonzero spectrum is that of :math:`I(\theta|x)` (Hayase–Karakida duality).
        """
        x0 = np.asarray(x0, dtype=float).reshape(1, -1)
        if x0.shape[1] != self.width:
            raise ValueError(f"x0 must have {self.width} entries, got {x0.shape[1]}")
        xs, hs = self._stream(x0)
        N = self.width
        H = np.zeros((N, N))
        B = np.eye(N)   # d x^L / d x^{l+1}, built from the top
        for l in range(self.blocks - 1, -1, -1):
            if self.variant == "pre":
                u, E = self.act.phi(hs[l][0]), None
            else:
                u, E = xs[l][0], self.act.dphi(hs[l][0])
            c = self.a ** 2 * (u @ u + (1.0 if include_bias else 0.0))
            BE = B if E is None else B * E[None, :]
            H += c * BE @ BE.T
            W, D = self.Ws[l], self.act.dphi(hs[l][0])
            B = B + self.a * (B @ W) * D[None, :] if self.variant == "pre" else B + self.a * (B * D[None, :]) @ W
        return H

    def conditional_fisher_jacobian(self, x0, include_bias: bool = True) -> np.ndarray:
        r""":math:`J_\theta = \partial x^L/\partial\theta` explicitly, shape (N, P): for checking the duality
        on small networks (P grows like B·N²)."""
        x0 = np.asarray(x0, dtype=float).reshape(1, -1)
        if x0.shape[1] != self.width:
            raise ValueError(f"x0 must have {self.width} entries, got {x0.shape[1]}")
        xs, hs = self._stream(x0)
        N = self.width
        cols = []
        B = np.eye(N)
        per_layer = []
        for l in range(self.blocks - 1, -1, -1):
            if self.variant == "pre":
                u, E = self.act.phi(hs[l][0]), np.ones(N)
            else:
                u, E = xs[l][0], self.act.dphi(hs[l][0])
            BE = B * E[None, :]
            blk = [self.a * (BE[:, :, None] * u[None, None, :]).reshape(N, -1)]
            if include_bias:
                blk.append(self.a * BE)
            per_layer.append(np.concatenate(blk, axis=1))
            W, D = self.Ws[l], self.act.dphi(hs[l][0])
            B = B + self.a * (B @ W) * D[None, :] if self.variant == "pre" else B + self.a * (B * D[None, :]) @ W
        cols = per_layer[::-1]
        return np.concatenate(cols, axis=1)

    def __repr__(self) -> str:
        return (f"ResNet(d={self.d}, width={self.width}, depth={self.depth}, act={self.act.name!r}, a={self.a}, "
                f"sigma_w2={self.sigma_w2}, sigma_b2={self.sigma_b2}, weights={self._weight_law!r}, variant={self.variant!r})")
