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

Equal-width networks too large to store: :class:`StreamedGaussianJacobianGram` regenerates Gaussian layers
from per-layer seeds at every pass (:func:`streamed_memory_bytes`); :class:`StoredJacobianGram` keeps only the
layers of :math:`J`, float64 or float32 (:func:`stored_layers_memory_bytes`), the route for Haar orthogonal
layers, which cannot be regenerated block by block.

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
from .network import weight_law

__all__ = ["JacobianGram", "ConditionalFisherDual", "NTKGram", "StreamedGaussianJacobianGram", "StoredJacobianGram",
           "network_memory_bytes", "streamed_memory_bytes", "stored_layers_memory_bytes", "slq_jacobian_spectrum",
           "slq_conditional_fim_spectrum"]


def network_memory_bytes(widths, weights: str | None = None, *, init: str | None = None) -> int:
    r"""Bytes to build an :class:`MLP`: weights and biases :math:`8\sum_l(n_ln_{l+1}+n_{l+1})` plus the
    initialisation workspace of one layer (1 copy for Gaussian/identity, 4 for the QR of orthogonal).

    ``weights`` is the weight law (default ``"gaussian"``), ``init=`` its deprecated name.

    >>> network_memory_bytes([10_000] * 11 + [1]) / 1e9
    8.800880008
    """
    w = [int(n) for n in widths]
    if len(w) < 2 or any(n < 1 for n in w):
        raise ValueError(f"widths must list at least two integers >= 1, got {widths!r}")
    params = sum(a * b + b for a, b in zip(w[:-1], w[1:]))
    biggest = max(a * b for a, b in zip(w[:-1], w[1:]))
    work = (4 if weight_law(weights, init, caller="network_memory_bytes") == "orthogonal" else 1) * biggest
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


# ----------------------------------------------------------------------------- weights regenerated on the fly
def _root_seed_sequence(rng) -> np.random.SeedSequence:
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        # a Generator (e.g. from nn_spectra.sweep) fixes the root through four of its draws
        return np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0):
        return np.random.SeedSequence(rng)
    raise ValueError(f"rng must be None, an integer >= 0, a SeedSequence or a Generator, got {rng!r}")


def streamed_memory_bytes(width: int, depth: int, probes: int, block_rows: int | None = None) -> int:
    r"""Peak bytes of :class:`StreamedGaussianJacobianGram` (without the Lanczos basis), float64:
    :math:`8\,n\,(B + K + 3(m + 1) + 2)` for width :math:`n`, :math:`K` = ``depth - 1`` layers in :math:`J`,
    :math:`m` probes and a weight block of :math:`B` rows: one block, the :math:`K` slope vectors
    :math:`\phi'(h_l)`, three work arrays of the block of tangents (and the input's row).

    >>> streamed_memory_bytes(10_000, 50, 30) / 2**20          # MiB: B = 838 rows by default
    74.920654296875
    """
    B = _block_rows(width, block_rows)
    return 8 * int(width) * (B + (int(depth) - 1) + 3 * (int(probes) + 1) + 2)


_BLOCK_BYTES = 2**26   # 64 MiB of weights per generated block: large enough for BLAS, small next to the budget


def _block_rows(width, block_rows):
    if block_rows is None:
        return max(1, min(int(width), _BLOCK_BYTES // (8 * int(width))))
    if isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer)) or block_rows < 1:
        raise ValueError(f"block_rows must be an integer >= 1, got {block_rows!r}")
    return min(int(block_rows), int(width))


class _LayerwiseJacobianGram(_Operator):
    r"""Shared products of the equal-width networks whose ``K`` layers are served in row blocks by ``_blocks(l)``.

    Subclasses set ``act``, ``width``, ``depth``, ``K``, ``x`` (the input), ``block_rows`` and the per-layer
    bias seeds, and yield ``(r0, r1, block)`` (float64 rows ``r0:r1`` of :math:`W_l`) from ``_blocks``."""

    _slopes: list | None = None

    def bias(self, l: int) -> np.ndarray:
        """The bias :math:`b_l`, shape ``(n,)``."""
        gen = np.random.Generator(np.random.SFC64(self._bias_seeds[l]))
        return gen.standard_normal(self.width) * math.sqrt(self.sigma_b2)

    def weight(self, l: int) -> np.ndarray:
        """The whole matrix :math:`W_l` as float64, shape ``(n, n)`` (small widths: tests and :meth:`as_mlp`)."""
        W = np.empty((self.width, self.width))
        for r0, r1, blk in self._blocks(l):
            W[r0:r1] = blk
        return W

    def as_mlp(self) -> MLP:
        """An :class:`MLP` with these weights stored (widths ``[n] * depth + [1]``; its readout is unrelated)."""
        net = MLP([self.width] * self.depth + [1], self.act, self.sigma_w2, self.sigma_b2, weights="gaussian", rng=0)
        for l in range(self.K):
            net.weights[l], net.biases[l] = self.weight(l), self.bias(l)
        return net

    def jvp(self, V) -> np.ndarray:
        """:math:`VJ^\\top` (row ``i`` is :math:`Jv_i`); the first call also runs the input's forward pass."""
        T = self._block(V)
        first = self._slopes is None
        if first:
            T = np.vstack([self.x[None, :], T])
            slopes = []
        for l in range(self.K):
            Y = np.empty_like(T)
            for r0, r1, blk in self._blocks(l):
                np.matmul(T, blk.T, out=Y[:, r0:r1])
            if first:
                h = Y[0] + self.bias(l)
                s = np.asarray(self.act.dphi(h), dtype=float)
                slopes.append(s)
                Y[0] = self.act.phi(h)
                Y[1:] *= s
            else:
                Y *= self._slopes[l]
            T = Y
        if first:
            self._slopes = slopes
            T = T[1:]
        return T

    def vjp(self, U) -> np.ndarray:
        """:math:`UJ` (row ``i`` is :math:`J^\\top u_i`); needs the slopes of a previous :meth:`jvp`."""
        if self._slopes is None:
            self.jvp(np.zeros((1, self.width)))
        G = self._block(U)
        for l in range(self.K - 1, -1, -1):
            G = G * self._slopes[l]
            out = np.zeros_like(G)
            for r0, r1, blk in self._blocks(l):
                out += G[:, r0:r1] @ blk
            G = out
        return G

    def __call__(self, V):
        return self.vjp(self.jvp(V))


class StreamedGaussianJacobianGram(_LayerwiseJacobianGram):
    r""":math:`V\mapsto VJ^\top J` for a Gaussian-weight network whose weights are never stored.

    The network is that of :func:`slq_jacobian_spectrum` with ``weights="gaussian"``: ``depth``
    :math:`= L` weight layers of width :math:`n`, :math:`h_{l+1} = W_lx_l + b_l`, :math:`x_l = \phi(h_l)`,
    and :math:`J = \partial x_K/\partial x_0 = D_KW_{K-1}\cdots D_1W_0` over the :math:`K = L-1` nonlinear
    layers (the readout is not part of :math:`J` and is never drawn).  :math:`W_l = \sqrt{\sigma_w^2/n}\,Z_l`
    with :math:`Z_l` i.i.d. standard normal from its own ``SFC64`` generator, seeded by a child of the
    root ``SeedSequence``; every product that passes through layer :math:`l` regenerates :math:`W_l`
    in blocks of ``block_rows`` rows from that seed.  A generator's stream does not depend on the block
    sizes it is cut into, so each pass sees exactly the same matrix (:meth:`weight` returns it whole, for
    tests).  Biases :math:`b_l\sim N(0,\sigma_b^2)` and the input (first pre-activation of length
    :math:`q^*`, as in :func:`slq_jacobian_spectrum`) come from their own children.

    Memory: :func:`streamed_memory_bytes`, :math:`O(n(B + K + m))` instead of the :math:`8Kn^2` bytes of
    stored weights (37 GiB at :math:`n = 10^4`, :math:`K = 49`).  Time: each product
    (:math:`J` then :math:`J^\top`) generates :math:`2Kn^2` normals; the first also runs the input's
    forward pass (same blocks) and keeps the slopes :math:`\phi'(h_l)`.  Generation dominates (about
    1 s per :math:`10^8` normals on one core against 0.1–0.3 s for the product of :math:`m\le 50`
    tangents with the block), so many probes cost little more than one.

    Parameters
    ----------
    act : str or Activation
    sigma_w2, sigma_b2 : float
    depth : int
        :math:`L \ge 2` weight layers (``jacobian_law``'s ``depth``).
    width : int
    rng : int, SeedSequence or Generator, optional
        Root of the per-layer seeds (a Generator contributes four draws).
    block_rows : int, optional
        Rows per generated block (default: 64 MiB of weights).

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> op = StreamedGaussianJacobianGram("tanh", 1.5, 0.1, depth=3, width=20, rng=0, block_rows=7)
    >>> net = op.as_mlp()                       # the same network with its weights stored
    >>> bool(np.allclose(op.dense(), JacobianGram(net, op.x, layer=2).dense()))
    True
    """

    def __init__(self, act, sigma_w2: float, sigma_b2: float, depth: int, width: int, rng=None,
                 block_rows: int | None = None):
        from .network import as_network

        _check_builder(width, depth, 1, 1)
        if depth < 2:
            raise ValueError(f"depth must be an integer >= 2 (L weight layers, J spans the L - 1 nonlinear ones), "
                             f"got {depth!r}")
        # validates act, sigma_w2 and sigma_b2 exactly as MLP does
        self.network = as_network(act, sigma_w2, sigma_b2, int(depth), weights="gaussian",
                                  widths=[int(width)] * int(depth) + [1], caller="StreamedGaussianJacobianGram")
        self.act = self.network.act
        self.sigma_w2, self.sigma_b2 = float(self.network.sigma_w2), float(self.network.sigma_b2)
        self.width, self.depth = int(width), int(depth)
        self.K = self.depth - 1
        self.dim = self.width
        self.block_rows = _block_rows(width, block_rows)
        children = _root_seed_sequence(rng).spawn(2 + 2 * self.K)
        # input, probes (for SLQ), then weights and bias of every layer: independent streams
        self.probe_seed = children[1]
        self._weight_seeds, self._bias_seeds = children[2::2], children[3::2]
        self.x = _fixed_point_input(self.act, self.sigma_w2, self.sigma_b2, self.width,
                                    np.random.Generator(np.random.SFC64(children[0])))
        self._scale = math.sqrt(self.sigma_w2 / self.width)
        self._slopes: list[np.ndarray] | None = None
        self._buf = np.empty((self.block_rows, self.width))
        self.layer_passes = 0     # layers generated so far (for timing reports)

    # the numbers --------------------------------------------------------------------------------
    def _blocks(self, l):
        gen = np.random.Generator(np.random.SFC64(self._weight_seeds[l]))
        n, B = self.width, self.block_rows
        for r0 in range(0, n, B):
            blk = self._buf[: min(B, n - r0)]
            gen.standard_normal(out=blk)
            blk *= self._scale
            yield r0, r0 + blk.shape[0], blk
        self.layer_passes += 1


_DTYPE_BYTES = {"float64": 8, "float32": 4}


def _check_weight_dtype(weight_dtype) -> str:
    if weight_dtype not in _DTYPE_BYTES:
        raise ValueError(f"weight_dtype must be 'float64' or 'float32', got {weight_dtype!r}")
    return weight_dtype


def stored_layers_memory_bytes(width: int, depth: int, probes: int, weights: str = "orthogonal",
                               weight_dtype: str = "float64", block_rows: int | None = None) -> int:
    r"""Peak bytes of :class:`StoredJacobianGram` (without the Lanczos basis).

    With :math:`b` = 8 (float64) or 4 (float32) bytes per stored entry, :math:`K` = ``depth - 1`` layers,
    width :math:`n`, :math:`m` probes and blocks of :math:`B` rows:

    .. math:: bKn^2 + 8[\text{orthogonal, float32}]\,n^2 + 8Bn[\text{float32}] + 8\cdot 65n
              + 8n(K + 3(m + 1) + 2).

    The :math:`K` layers of :math:`J` (the readout is never drawn); the float64 QR of the orthogonal layer
    being cast to float32 (in float64 the QR runs in place in the layer's own storage, LAPACK
    ``geqrf``/``orgqr`` with ``overwrite_a``); one float64 block of rows for the products when the layers
    are float32; the QR workspace (:math:`64n`) and :math:`\tau`; the vectors of
    :func:`streamed_memory_bytes`.  Compare :func:`network_memory_bytes` for a whole :class:`MLP` (all
    :math:`L` layers in float64 and four copies of one layer for the QR).

    >>> round(stored_layers_memory_bytes(10_000, 10, 10) / 2**30, 3)              # GiB, float64: 9 layers
    6.714
    >>> round(stored_layers_memory_bytes(10_000, 10, 10, weight_dtype="float32") / 2**30, 3)
    4.168
    """
    _check_builder(width, depth, 1, probes)
    weight_dtype = _check_weight_dtype(weight_dtype)
    if weights not in ("orthogonal", "gaussian"):
        raise ValueError(f"weights must be 'orthogonal' or 'gaussian', got {weights!r}")
    n, K, b = int(width), int(depth) - 1, _DTYPE_BYTES[weight_dtype]
    B = _block_rows(n, block_rows)
    cast = 8 * n * n if (weights == "orthogonal" and weight_dtype == "float32") else 0
    block = 8 * B * n if (weight_dtype == "float32" or weights == "gaussian") else 0
    return b * K * n * n + cast + block + 8 * 65 * n + 8 * n * (K + 3 * (int(probes) + 1) + 2)


class StoredJacobianGram(_LayerwiseJacobianGram):
    r""":math:`V\mapsto VJ^\top J` for an equal-width network whose only stored parameters are the :math:`K`
    layers of :math:`J`, in float64 or float32: the route for Haar orthogonal weights at large width.

    The network is that of :class:`StreamedGaussianJacobianGram` (``depth`` :math:`= L` weight layers,
    :math:`J = D_KW_{K-1}\cdots D_1W_0` over :math:`K = L-1` layers, input at the fixed point, per-layer
    seeds from one root), but :math:`W_l` is drawn once and kept: ``weights="orthogonal"``:
    :math:`W_l = \sigma_w O_l`, :math:`O_l` Haar on :math:`O(n)` (:func:`randmat.haar_orthogonal`, QR of a
    Gaussian matrix, :math:`\approx\frac83n^3` flops per layer); ``"gaussian"``:
    :math:`\sqrt{\sigma_w^2/n}\,Z_l` (the same numbers as the streamed operator at the same ``rng``).  An
    orthogonal layer cannot be regenerated in row blocks (every row depends on the whole QR), so it is
    stored; the memory (:func:`stored_layers_memory_bytes`) is checked against ``memory_limit`` **before**
    anything is allocated.

    ``weight_dtype="float32"`` halves the storage.  Each layer is then :math:`\hat W_l = W_l + E_l` with
    :math:`|E_l| \le u|W_l|` entrywise, :math:`u = 2^{-24}`, and the products upcast blocks of rows and run
    in float64, so the operator is exactly :math:`\hat J^\top\hat J` of the network with weights
    :math:`\hat W_l`: :math:`\|\hat W_l^\top\hat W_l/\sigma_w^2 - I\|_2 \le 2u\sqrt n + O(u^2)` (an
    orthogonal matrix up to :math:`2\cdot 10^{-5}` at :math:`n = 10^4`, typically :math:`\sim 10^{-7}`), and
    the moments of :math:`\hat J^\top\hat J` agree with those of the float64 network to a relative
    :math:`O(Ku\sqrt n)` (tested), far below the :math:`O(n^{-1/2})` spectral fluctuations of one network.

    Parameters
    ----------
    act, sigma_w2, sigma_b2, depth, width, rng, block_rows
        As :class:`StreamedGaussianJacobianGram`.
    weights : {"orthogonal", "gaussian"}
    weight_dtype : {"float64", "float32"}
    memory_limit : int, optional
        Bytes; default 80 % of ``MemAvailable``.

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> op = StoredJacobianGram("tanh", 1.5, 0.1, depth=3, width=20, rng=0)
    >>> bool(np.allclose(op.weight(0).T @ op.weight(0), 1.5 * np.eye(20)))
    True
    >>> bool(np.allclose(op.dense(), JacobianGram(op.as_mlp(), op.x, layer=2).dense()))
    True
    """

    def __init__(self, act, sigma_w2: float, sigma_b2: float, depth: int, width: int, rng=None,
                 weights: str = "orthogonal", weight_dtype: str = "float64", block_rows: int | None = None,
                 memory_limit: int | None = None):
        from .network import as_network

        _check_builder(width, depth, 1, 1)
        if depth < 2:
            raise ValueError(f"depth must be an integer >= 2 (L weight layers, J spans the L - 1 nonlinear ones), "
                             f"got {depth!r}")
        self.network = as_network(act, sigma_w2, sigma_b2, int(depth), weights=weights,
                                  widths=[int(width)] * int(depth) + [1], caller="StoredJacobianGram")
        if weights not in ("orthogonal", "gaussian"):
            raise ValueError(f"weights must be 'orthogonal' or 'gaussian', got {weights!r}")
        self.weight_dtype = _check_weight_dtype(weight_dtype)
        self.weights_law = weights
        self.act = self.network.act
        self.sigma_w2, self.sigma_b2 = float(self.network.sigma_w2), float(self.network.sigma_b2)
        self.width, self.depth = int(width), int(depth)
        self.K = self.depth - 1
        self.dim = self.width
        self.block_rows = _block_rows(width, block_rows)
        # said before anything is allocated
        self.memory_bytes = stored_layers_memory_bytes(width, depth, 1, weights, weight_dtype, block_rows)
        check_memory(f"{self.K} stored {weights} layers of width {width} in {weight_dtype} (stored_layers_memory_bytes: "
                     f"{_DTYPE_BYTES[weight_dtype]} K n^2 + workspace)", self.memory_bytes, memory_limit,
                     hint="weight_dtype='float32' halves the layers" if weight_dtype == "float64" else None)
        children = _root_seed_sequence(rng).spawn(2 + 2 * self.K)
        self.probe_seed = children[1]
        self._weight_seeds, self._bias_seeds = children[2::2], children[3::2]
        self.x = _fixed_point_input(self.act, self.sigma_w2, self.sigma_b2, self.width,
                                    np.random.Generator(np.random.SFC64(children[0])))
        self._slopes = None
        self._buf = np.empty((self.block_rows, self.width)) if weight_dtype == "float32" else None
        self._layers = [self._draw(l) for l in range(self.K)]

    def _draw(self, l) -> np.ndarray:
        import randmat

        n = self.width
        gen = np.random.Generator(np.random.SFC64(self._weight_seeds[l]))
        if self.weights_law == "orthogonal":
            W = randmat.haar_orthogonal(n, rng=gen)          # float64, QR in place
            W *= math.sqrt(self.sigma_w2)
            return W if self.weight_dtype == "float64" else W.astype(np.float32, order="C")
        scale = math.sqrt(self.sigma_w2 / n)
        W = np.empty((n, n), dtype=self.weight_dtype)
        B = self.block_rows
        for r0 in range(0, n, B):      # the blocks of StreamedGaussianJacobianGram: the same numbers
            blk = gen.standard_normal((min(B, n - r0), n))
            blk *= scale
            W[r0:r0 + blk.shape[0]] = blk
        return W

    def _blocks(self, l):
        W = self._layers[l]
        if W.dtype == np.float64:
            yield 0, self.width, W
            return
        n, B = self.width, self.block_rows
        for r0 in range(0, n, B):
            blk = self._buf[: min(B, n - r0)]
            np.copyto(blk, W[r0:r0 + blk.shape[0]])
            yield r0, r0 + blk.shape[0], blk


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
                          reorthogonalize: bool = True, memory_limit: int | None = None,
                          stream_weights: bool = False, block_rows: int | None = None, store_layers: bool = False,
                          weight_dtype: str = "float64") -> SpectralDensityEstimate:
    r"""SLQ estimate of the spectrum of :math:`J^\top J` of a real network, the matrix-free twin of
    :func:`nn_spectra.sample_jacobian_spectrum`.

    Same network, input and depth convention: an :class:`MLP` of ``depth`` :math:`= L \ge 2` weight layers
    with widths ``[width] * L + [1]``, an input whose first pre-activation has length :math:`q^*`, and
    :math:`J = \partial x^K/\partial x^0 = D_KW_K\cdots D_1W_1` over the :math:`K = L - 1` nonlinear layers
    (the readout is not part of :math:`J`), as in :func:`nn_spectra.jacobian_law` with the same ``depth``;
    for equal widths the spectra of :math:`J^\top J` and :math:`JJ^\top` agree.  Memory is checked
    before the network is built.

    ``stream_weights=True`` (Gaussian weights only) never stores the weights: each layer is regenerated
    in blocks of ``block_rows`` rows from its own seed whenever a product passes through it
    (:class:`StreamedGaussianJacobianGram`; memory :func:`streamed_memory_bytes` plus the Lanczos basis,
    time about :math:`2K` generations of :math:`n^2` normals per Lanczos step).  It draws a different
    network from the stored route at the same ``rng`` (same law).  Width 10,000 at depth 50 needs 37 GiB
    stored and about 0.1 GiB streamed.

    ``store_layers=True`` (orthogonal or Gaussian weights) keeps only the :math:`K` layers of :math:`J`, in
    ``weight_dtype`` float64 or float32 (:class:`StoredJacobianGram`; memory :func:`stored_layers_memory_bytes`
    plus the Lanczos basis, checked before anything is allocated): the route for Haar orthogonal layers,
    which cannot be regenerated block by block.  Width 10,000 at depth 10: 6.7 GiB in float64, 3.4 GiB
    (4.2 GiB peak) in float32.

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
    lanczos = lanczos_memory_bytes(width, steps, probes, reorthogonalize)
    if stream_weights and store_layers:
        raise ValueError("stream_weights=True and store_layers=True exclude each other")
    if store_layers:
        need = stored_layers_memory_bytes(width, depth, probes, weights, weight_dtype, block_rows) + lanczos
        check_memory(f"a width-{width} depth-{depth} network with {depth - 1} stored {weights} layers "
                     f"({weight_dtype}) and SLQ", need, memory_limit,
                     hint="weight_dtype='float32' halves the layers" if weight_dtype == "float64" else None)
        op = StoredJacobianGram(act, sigma_w2, sigma_b2, depth, width, rng=rng, weights=weights,
                                weight_dtype=weight_dtype, block_rows=block_rows, memory_limit=memory_limit)
        return stochastic_lanczos_quadrature(op, width, steps=steps, probes=probes,
                                             rng=np.random.Generator(np.random.SFC64(op.probe_seed)),
                                             reorthogonalize=reorthogonalize, memory_limit=memory_limit)
    if stream_weights:
        if weights != "gaussian":
            raise ValueError(f"stream_weights=True needs weights='gaussian' (a Haar orthogonal layer cannot be "
                             f"regenerated in row blocks: store_layers=True stores it), got weights={weights!r}")
        need = streamed_memory_bytes(width, depth, probes, block_rows) + lanczos
        check_memory(f"a width-{width} depth-{depth} network with streamed weights and SLQ", need, memory_limit)
        op = StreamedGaussianJacobianGram(act, sigma_w2, sigma_b2, depth, width, rng=rng, block_rows=block_rows)
        # the probes come from a child of the same root, independent of the weights
        return stochastic_lanczos_quadrature(op, width, steps=steps, probes=probes,
                                             rng=np.random.Generator(np.random.SFC64(op.probe_seed)),
                                             reorthogonalize=reorthogonalize, memory_limit=memory_limit)
    widths = [int(width)] * int(depth) + [1]
    need = network_memory_bytes(widths, weights) + lanczos + 8 * 4 * width * depth
    check_memory(f"a width-{width} depth-{depth} network with SLQ", need, memory_limit,
                 hint="stream_weights=True regenerates Gaussian layers instead of storing them" if
                 weights == "gaussian" else "store_layers=True stores only the layers of J (float32 with "
                 "weight_dtype='float32')")
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
