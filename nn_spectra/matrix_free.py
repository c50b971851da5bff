r"""Matrix-free operators of a numpy :class:`~nn_spectra.MLP`: :math:`J^\top J`, the conditional-Fisher dual, the NTK.

Each operator maps a block of row vectors ``V`` of shape ``(m, dim)`` to ``V A`` using only
Jacobian-vector and vector-Jacobian products of the network (:meth:`MLP.jvp`, :meth:`MLP.vjp`,
:meth:`MLP.preactivation_jvp`, :meth:`MLP.preactivation_vjp`); no Jacobian, Fisher or kernel matrix is
formed.  One product costs two passes, :math:`O(m\sum_l n_ln_{l+1})` flops, and the memory of a few
activations per probe; with :func:`nn_spectra.lanczos.stochastic_lanczos_quadrature` they give the
spectral densities of networks far wider than a dense eigendecomposition allows.

* :class:`JacobianGram`: :math:`J^\top J` for :math:`J = \partial y/\partial x_0` at one input, ``y`` the
  output or a hidden activation :math:`x_k` (then :math:`J = D_kW_{k-1}\cdots D_1W_0`, the convention
  of :func:`nn_spectra.jacobian_law`; for equal widths :math:`J^\top J` and :math:`JJ^\top` share
  their spectrum).
* :class:`ConditionalFisherDual`: :math:`H = \sum_{l=1}^{L}\|x^{l-1}\|^2\delta_l\delta_l^\top`,
  :math:`\delta_l = \partial h^L/\partial h^l` (:mod:`nn_spectra.conditional_fim`), whose nonzero
  spectrum is that of the Fisher information given one input, :math:`J_\theta^\top J_\theta` (weights).
* :class:`NTKGram`: the empirical NTK :math:`\Theta = J_\theta J_\theta^\top` (:math:`CT\times CT`, standard
  or NTK parameterisation); the FIM :math:`F = J_\theta^\top J_\theta/T` (:math:`P\times P`) has the nonzero
  eigenvalues of :math:`\Theta/T` (:mod:`nn_spectra.fisher`), so its spectral law is
  :math:`(CT/P)\,\mathrm{law}(\Theta/T) + (1 - CT/P)\,\delta_0`.

Memory of a network (float64): :math:`8\sum_l(n_ln_{l+1} + n_{l+1})` bytes of weights and biases
(:func:`network_memory_bytes`), e.g. 8.0 GB for width 10,000 and depth 10, 80 GB per layer at width
100,000.  The ``slq_*`` builders check weights + initialisation workspace + Lanczos memory against the
available memory *before* allocating and raise ``ValueError`` when it would not fit.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .lanczos import SpectralDensityEstimate, check_memory, lanczos_memory_bytes, stochastic_lanczos_quadrature
from .mlp import MLP

__all__ = ["JacobianGram", "ConditionalFisherDual", "NTKGram", "network_memory_bytes",
           "slq_jacobian_spectrum", "slq_conditional_fim_spectrum"]


def network_memory_bytes(widths, init: str = "gaussian") -> int:
    r"""Bytes to build an :class:`MLP`: weights and biases :math:`8\sum_l(n_ln_{l+1}+n_{l+1})` plus the
    initialisation workspace of one layer (1 copy for Gaussian/identity, 4 for the QR of orthogonal).

    >>> network_memory_bytes([10_000] * 11 + [1]) / 1e9
    8.800880008
    """
    w = [int(n) for n in widths]
    if len(w) < 2 or any(n < 1 for n in w):
        raise ValueError(f"widths must list at least two integers >= 1, got {widths!r}")
    params = sum(a * b + b for a, b in zip(w[:-1], w[1:]))
    biggest = max(a * b for a, b in zip(w[:-1], w[1:]))
    work = (4 if init == "orthogonal" else 1) * biggest
    return 8 * (params + work)


class _Operator:
    dim: int

    def __call__(self, V: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _block(self, V) -> np.ndarray:
        V = np.asarray(V, dtype=float)
        if V.ndim == 1:
            V = V[None, :]
        if V.ndim != 2 or V.shape[1] != self.dim:
            raise ValueError(f"V must have shape (m, {self.dim}), got {np.shape(V)}")
        return V

    def dense(self) -> np.ndarray:
        """The matrix, column by column (for tests at small sizes only)."""
        return self(np.eye(self.dim)).T


class JacobianGram(_Operator):
    r""":math:`V \mapsto V J^\top J` for the Jacobian :math:`J = \partial y/\partial x_0` of ``net`` at one input.

    Parameters
    ----------
    net : MLP
    x : array_like, shape ``(n_0,)``
    layer : int, optional
        ``None``: :math:`y = f = h_L`; ``k``: :math:`y = x_k` (post-activation of hidden layer ``k``).

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> net = ns.MLP([5, 7, 7, 3], "tanh", 1.2, 0.1, rng=0)
    >>> x = np.ones(5)
    >>> J = net.input_output_jacobian(x)
    >>> bool(np.allclose(JacobianGram(net, x).dense(), J.T @ J))
    True
    """

    def __init__(self, net: MLP, x, layer: int | None = None):
        x = net._check_input(x)
        if x.shape[0] != 1:
            raise ValueError(f"x must be a single input of shape ({net.widths[0]},), got {np.shape(x)}")
        self.net, self.x, self.layer = net, x, layer
        self._fw = net.forward(x, return_all=True)
        net._stop_layer(layer)
        self.dim = net.widths[0]

    def __call__(self, V):
        V = self._block(V)
        t = self.net.jvp(self.x, V, layer=self.layer, forward=self._fw)
        return self.net.vjp(self.x, t, layer=self.layer, forward=self._fw)


class ConditionalFisherDual(_Operator):
    r""":math:`V \mapsto V H`, :math:`H = \sum_l\|x_l\|^2\,\delta_{l+1}\delta_{l+1}^\top` (:math:`n_L\times n_L`), at one input.

    :math:`H = J_WJ_W^\top` for the weight Jacobian :math:`J_W` of :math:`f = h_L`; ``scale`` multiplies
    the operator (``1/N`` gives the normalisation of :func:`nn_spectra.conditional_fim_law`).

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> net = ns.MLP([4, 6, 6, 5], "tanh", 1.0, 0.0, rng=0)
    >>> x = np.ones(4)
    >>> JW = net.param_gradients(x)[0][:, np.concatenate(  # weight columns only (sigma_b2 = 0 here)
    ...     [np.r_[np.ones(w.size, bool), np.zeros(w.shape[0], bool)] for w in net.weights])]
    >>> bool(np.allclose(ConditionalFisherDual(net, x).dense(), JW @ JW.T))
    True
    """

    def __init__(self, net: MLP, x, scale: float = 1.0):
        x = net._check_input(x)
        if x.shape[0] != 1:
            raise ValueError(f"x must be a single input of shape ({net.widths[0]},), got {np.shape(x)}")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must lie in (0, inf), got {scale!r}")
        self.net, self.x, self.scale = net, x, float(scale)
        self._fw = net.forward(x, return_all=True)
        self._sq = [float(xl[0] @ xl[0]) for xl in self._fw[2]]
        self.dim = net.widths[-1]

    def __call__(self, V):
        V = self._block(V)
        gs = self.net.preactivation_vjp(self.x, V, forward=self._fw)
        inj = [s * g for s, g in zip(self._sq, gs)]
        return self.scale * self.net.preactivation_jvp(self.x, inj, forward=self._fw)


class NTKGram(_Operator):
    r""":math:`V \mapsto V\Theta`, the empirical NTK over ``T`` inputs and ``C`` outputs (dimension :math:`CT`).

    Row index of :math:`\Theta` is ``t * C + a`` (input ``t``, output ``a``), as in
    :meth:`MLP.empirical_ntk`.  Per probe: cotangents :math:`g_{l+1}` at every pre-activation (one backward
    pass), then the tangent injected at :math:`h_{l+1}` of input ``t`` is
    :math:`s_l^2\sum_s (x_l(t)\cdot x_l(s))\,g_{l+1}(s) + s_b^2\sum_s g_{l+1}(s)` (one forward pass); the
    :math:`P`-vector :math:`J_\theta^\top u` is never formed.  ``scale = 1/T`` gives the FIM dual.

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> net = ns.MLP([3, 8, 8, 2], "relu", 2.0, 0.1, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((4, 3))
    >>> ntk = net.empirical_ntk(X, parameterization="standard")
    >>> bool(np.allclose(NTKGram(net, X).dense(), ntk))
    True
    """

    def __init__(self, net: MLP, X, parameterization: str = "standard", scale: float = 1.0):
        X = net._check_input(X)
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must lie in (0, inf), got {scale!r}")
        self.net, self.X, self.scale = net, X, float(scale)
        self._sw, self._sb = net._param_scales(parameterization)
        self._fw = net.forward(X, return_all=True)
        self._gram = [xl @ xl.T for xl in self._fw[2]]
        self.T, self.C = X.shape[0], net.widths[-1]
        self.dim = self.T * self.C

    def __call__(self, V):
        V = self._block(V)
        m = V.shape[0]
        U = V.reshape(m, self.T, self.C)
        gs = self.net.preactivation_vjp(self.X, U, forward=self._fw)
        inj = [self._sw[l] ** 2 * np.einsum("ts,msn->mtn", K, g) + self._sb ** 2 * g.sum(axis=1, keepdims=True)
               for l, (K, g) in enumerate(zip(self._gram, gs))]
        return self.scale * self.net.preactivation_jvp(self.X, inj, forward=self._fw).reshape(m, self.dim)


# ----------------------------------------------------------------------------- builders
def _fixed_point_input(act, sigma_w2, sigma_b2, width, gen):
    from .mean_field import q_star

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = float(q_star(act, sigma_w2, sigma_b2))
    if not np.isfinite(q):
        raise ValueError(f"no finite fixed point q* for sigma_w2={sigma_w2}, sigma_b2={sigma_b2}")
    x = gen.standard_normal(width)
    # q^1 = sigma_w^2 |x|^2/n_0 + sigma_b^2 = q*, as in sample_jacobian_spectrum
    x *= math.sqrt(max(q - sigma_b2, 0.0) / sigma_w2 * width) / np.linalg.norm(x)
    return x


def _check_builder(width, depth, steps, probes):
    for name, v in (("width", width), ("depth", depth), ("steps", steps), ("probes", probes)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if steps > width:
        raise ValueError(f"steps must lie in [1, width={width}] (Lanczos steps cannot exceed the dimension), got {steps}")


def slq_jacobian_spectrum(act, sigma_w2: float, sigma_b2: float, depth: int, width: int,
                          weights: str = "gaussian", steps: int = 80, probes: int = 10, rng=None,
                          reorthogonalize: bool = True, memory_limit: int | None = None) -> SpectralDensityEstimate:
    r"""SLQ estimate of the spectrum of :math:`J^\top J` of a real network, the matrix-free twin of
    :func:`nn_spectra.sample_jacobian_spectrum`.

    Same network, input and depth convention: an :class:`MLP` of ``depth`` :math:`= L \ge 2` weight layers
    with widths ``[width] * L + [1]``, an input whose first pre-activation has length :math:`q^*`, and
    :math:`J = \partial x^K/\partial x^0 = D_KW_K\cdots D_1W_1` over the :math:`K = L - 1` nonlinear layers
    (the readout is not part of :math:`J`), as in :func:`nn_spectra.jacobian_law` with the same ``depth``;
    for equal widths the spectra of :math:`J^\top J` and :math:`JJ^\top` agree.  Memory is checked
    before the network is built.

    Examples
    --------
    >>> est = slq_jacobian_spectrum("linear", 1.0, 0.0, depth=3, width=200, steps=20, probes=4, rng=0)
    >>> m, se = est.moments(2)       # K = 2 linear layers, Fuss-Catalan(2): m1 = 1, m2 = 3
    >>> bool(abs(m[0] - 1) < 0.2 and abs(m[1] - 3) < 1.0)
    True
    """
    _check_builder(width, depth, steps, probes)
    if depth < 2:
        raise ValueError(f"depth must be an integer >= 2 (L weight layers, J spans the L - 1 nonlinear ones), "
                         f"got {depth!r}")
    # depth = L weight layers as in jacobian_law / sample_jacobian_spectrum: J spans K = L - 1 layers
    widths = [int(width)] * int(depth) + [1]
    need = network_memory_bytes(widths, weights) + lanczos_memory_bytes(width, steps, probes, reorthogonalize) \
        + 8 * 4 * width * depth
    check_memory(f"a width-{width} depth-{depth} network with SLQ", need, memory_limit)
    gen = np.random.default_rng(rng)
    net = MLP(widths, act, sigma_w2, sigma_b2, weights=weights, rng=gen)
    x = _fixed_point_input(net.act, sigma_w2, sigma_b2, width, gen)
    op = JacobianGram(net, x, layer=int(depth) - 1)
    return stochastic_lanczos_quadrature(op, width, steps=steps, probes=probes, rng=gen,
                                         reorthogonalize=reorthogonalize, memory_limit=memory_limit)


def slq_conditional_fim_spectrum(act, sigma_w2: float, sigma_b2: float, depth: int, width: int,
                                 weights: str = "orthogonal", steps: int = 80, probes: int = 10, rng=None,
                                 reorthogonalize: bool = True,
                                 memory_limit: int | None = None) -> SpectralDensityEstimate:
    r"""SLQ estimate of the spectrum of :math:`H/N`, the matrix-free twin of
    :func:`nn_spectra.sample_conditional_fim_spectrum` (widths ``[width] * (depth + 1)``, one input at the
    fixed point), comparable with :func:`nn_spectra.conditional_fim_law`.
    """
    _check_builder(width, depth, steps, probes)
    widths = [int(width)] * (int(depth) + 1)
    need = network_memory_bytes(widths, weights) + lanczos_memory_bytes(width, steps, probes, reorthogonalize) \
        + 8 * 4 * width * (depth + 1)
    check_memory(f"a width-{width} depth-{depth} network with SLQ", need, memory_limit)
    gen = np.random.default_rng(rng)
    net = MLP(widths, act, sigma_w2, sigma_b2, weights=weights, rng=gen)
    x = _fixed_point_input(net.act, sigma_w2, sigma_b2, width, gen)
    op = ConditionalFisherDual(net, x, scale=1.0 / width)
    return stochastic_lanczos_quadrature(op, width, steps=steps, probes=probes, rng=gen,
                                         reorthogonalize=reorthogonalize, memory_limit=memory_limit)
