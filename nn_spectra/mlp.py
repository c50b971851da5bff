r"""A plain numpy fully-connected network at initialization, for checking the theory on finite widths.

Architecture for ``widths = [n_0, n_1, ..., n_L]``:

.. math:: x_0 = x,\qquad h_{l+1} = W_l x_l + b_l\ (l = 0..L-1),\qquad x_l = \varphi(h_l)\ (l = 1..L-1),
          \qquad f(x) = h_L,

so ``depth`` is :math:`L`, the number of weight layers (:math:`L-1` hidden layers and a linear
readout; with ``readout="none"`` the output is :math:`\varphi(h_L)`), as everywhere in
:mod:`nn_spectra` (see :class:`nn_spectra.Network`).  ``weights[l]`` has shape
:math:`(n_{l+1}, n_l)`:

* ``"gaussian"``: i.i.d. :math:`N(0, \sigma_w^2/n_l)`;
* ``"orthogonal"``: :math:`\sqrt{\sigma_w^2}\,O` with :math:`O` a Haar-distributed orthogonal matrix
  (square layers) or a Haar isometry (rectangular); when :math:`n_{l+1} > n_l` it is multiplied by
  :math:`\sqrt{n_{l+1}/n_l}` so that :math:`E\|W_lx\|^2/n_{l+1} = \sigma_w^2\|x\|^2/n_l` as in the
  Gaussian case (the mean-field length map is unchanged);
* ``"identity"``: :math:`\sqrt{\sigma_w^2}` times the rectangular identity ``eye(n_{l+1}, n_l)``
  (Kubota et al. 2021), without rescaling.

Biases are i.i.d. :math:`N(0, \sigma_b^2)` (zero when ``sigma_b2 = 0``).

Gradients (``param_gradients``) are with respect to the actual entries of :math:`W_l` and :math:`b_l`
(standard parameterization), flattened in the order :math:`W_0, b_0, W_1, b_1, \dots` (row-major), the
order of :meth:`MLP.parameters`.  ``empirical_ntk`` defaults to the NTK parameterization
(:math:`W_l = \sigma_w\,\omega_l/\sqrt{n_l}`, :math:`b_l = \sigma_b\beta_l`, gradients in
:math:`\omega, \beta`), whose kernel converges to :func:`nn_spectra.nngp_ntk` as the widths grow.
"""
from __future__ import annotations

import numpy as np

from .activations import Activation, activation

__all__ = ["MLP", "haar_orthogonal_isometry"]

_INITS = ("gaussian", "orthogonal", "identity")


def haar_orthogonal_isometry(n_out: int, n_in: int, rng) -> np.ndarray:
    r"""A Haar-distributed :math:`n_{out}\times n_{in}` matrix with orthonormal rows or columns.

    QR of a Gaussian matrix with the signs of diag(R) moved into Q (Mezzadri 2007), which makes Q
    exactly Haar; ``randmat.haar_orthogonal`` is used for square matrices when it is installed.

    >>> O = haar_orthogonal_isometry(5, 3, rng=0)
    >>> bool(np.allclose(O.T @ O, np.eye(3)))
    True
    """
    rng = np.random.default_rng(rng)
    if n_out == n_in:
        import randmat   # nn_spectra depends on randmat: a renamed sampler must fail here, not fall back

        return np.asarray(randmat.haar_orthogonal(n_out, rng=rng), float)
    big, small = max(n_out, n_in), min(n_out, n_in)
    g = rng.standard_normal((big, small))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diag(r))
    return q if n_out >= n_in else q.T


class MLP:
    r"""Fully-connected network with random weights, forward and backward passes in numpy.

    Parameters
    ----------
    widths : sequence of int or Network
        ``[n_0, n_1, ..., n_L]``, at least two integers >= 1; ``n_0`` is the input dimension and
        ``n_L`` the number of outputs.  Or a :class:`~nn_spectra.Network` with widths, which then
        describes the whole network (the other description arguments stay unset).
    act : str or Activation
        Nonlinearity of the hidden layers.
    sigma_w2, sigma_b2 : float
        Weight variance (times ``1/n_l``) and bias variance.
    weights : {"gaussian", "orthogonal", "identity"}
        The weight law (default ``"gaussian"``); ``init=`` is its deprecated name.  The sampled
        matrices are the attribute ``weights`` (a list), the law is ``network.weights``.
    rng : int or numpy.random.Generator, optional
    readout : {"linear", "none"}

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> net = ns.MLP([3, 8, 8, 1], "tanh", 1.5, 0.1, rng=0)
    >>> net.forward(np.ones((2, 3))).shape
    (2, 1)
    >>> net.param_gradients(np.ones((2, 3))).shape == (2, 1, net.num_parameters)
    True
    >>> net.depth, net.network                      # three weight layers
    (3, Network('tanh', sigma_w2=1.5, sigma_b2=0.1, depth=3, weights='gaussian', widths=(3, 8, 8, 1)))
    """

    def __init__(self, widths, act=None, sigma_w2: float | None = None, sigma_b2: float | None = None,
                 weights: str | None = None, rng=None, *, init: str | None = None, readout: str = "linear"):
        from .network import Network, as_network

        if isinstance(widths, Network):
            if act is not None or sigma_w2 is not None or sigma_b2 is not None or weights is not None or init is not None:
                raise TypeError("pass either a Network or (widths, act, sigma_w2, sigma_b2, weights), not both")
            net = widths
            net.require("MLP", widths=True)
        else:
            if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__") or len(widths) < 2:
                raise ValueError(f"widths must list at least two integers >= 1, got {widths!r}")
            if act is None or sigma_w2 is None or sigma_b2 is None:
                raise TypeError("MLP needs widths, act, sigma_w2 and sigma_b2 (or a Network)")
            net = as_network(act, sigma_w2, sigma_b2, len(widths) - 1, weights=weights, init=init,
                             widths=widths, readout=readout, caller="MLP")
        self.network = net
        widths = list(net.widths)
        self.widths = widths
        self.act: Activation = net.act
        self.sigma_w2, self.sigma_b2 = net.sigma_w2, net.sigma_b2
        self.readout = net.readout
        sw, sb, law = net.sigma_w2, net.sigma_b2, net.weights
        rng = np.random.default_rng(rng)
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            if law == "gaussian":
                w = rng.standard_normal((n_out, n_in)) * np.sqrt(sw / n_in)
            elif law == "orthogonal":
                w = np.sqrt(sw) * haar_orthogonal_isometry(n_out, n_in, rng)
                if n_out > n_in:
                    w *= np.sqrt(n_out / n_in)
            else:
                w = np.sqrt(sw) * np.eye(n_out, n_in)
            self.weights.append(w)
            self.biases.append(rng.standard_normal(n_out) * np.sqrt(sb))

    @property
    def weight_law(self) -> str:
        """The weight law, ``"gaussian"``, ``"orthogonal"`` or ``"identity"`` (``self.network.weights``)."""
        return self.network.weights

    @property
    def init(self) -> str:
        """Deprecated name of :attr:`weight_law`."""
        import warnings

        warnings.warn("MLP.init is deprecated; use MLP.network.weights (or MLP.weight_law)", DeprecationWarning,
                      stacklevel=2)
        return self.network.weights

    # ------------------------------------------------------------------ basics
    @property
    def depth(self) -> int:
        """Number of weight layers :math:`L` = ``len(widths) - 1`` (the one meaning of depth, see :class:`Network`)."""
        return len(self.widths) - 1

    @property
    def hidden_layers(self) -> int:
        """Number of nonlinear layers: ``depth - 1`` with the linear readout, ``depth`` with ``readout="none"``."""
        return self.network.hidden_layers

    @property
    def num_parameters(self) -> int:
        """P, the total number of weights and biases."""
        return int(sum(w.size + b.size for w, b in zip(self.weights, self.biases)))

    def parameters(self) -> np.ndarray:
        """All parameters as one flat vector (order ``W_0, b_0, W_1, b_1, ...``, row-major)."""
        return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(self.weights, self.biases)])

    def _check_input(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.widths[0]:
            raise ValueError(f"X must have shape (batch, {self.widths[0]}), got {np.shape(X)}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must be finite")
        return X

    # ------------------------------------------------------------------ passes
    def forward(self, X, return_all: bool = False):
        """Outputs ``(batch, n_L)``; with ``return_all`` also ``hs = [h_1..h_L]`` and ``xs = [x_0..x_{L-1}]``."""
        X = self._check_input(X)
        xs, hs = [X], []
        x = X
        L = len(self.weights)
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = x @ w.T + b
            hs.append(h)
            if l < L - 1:
                x = self.act.phi(h)
                xs.append(x)
        out = hs[-1] if self.readout == "linear" else self.act.phi(hs[-1])
        return (out, hs, xs) if return_all else out

    def _deltas(self, hs) -> list[np.ndarray]:
        # δ_l = ∂f/∂h_l for l = 1..L, each (batch, n_L, n_l): backpropagation of the identity at the output
        L = len(self.weights)
        batch = hs[0].shape[0]
        d = np.broadcast_to(np.eye(self.widths[-1]), (batch,) + (self.widths[-1],) * 2).copy()
        if self.readout != "linear":
            d = d * self.act.dphi(hs[-1])[:, None, :]
        deltas = [d]
        for l in range(L - 1, 0, -1):
            d = (d @ self.weights[l]) * self.act.dphi(hs[l - 1])[:, None, :]
            deltas.append(d)
        return deltas[::-1]

    def backward(self, X):
        """Per-example ``(deltas, xs)``: ``deltas[l]`` = ∂f/∂h_{l+1}, shape (batch, n_L, n_{l+1}), and the layer inputs."""
        _, hs, xs = self.forward(X, return_all=True)
        return self._deltas(hs), xs

    def input_output_jacobian(self, x) -> np.ndarray:
        r"""∂f/∂x for one input, shape ``(n_L, n_0)``: :math:`W_{L-1}D_{L-1}\cdots W_1D_1W_0`."""
        x = self._check_input(x)
        if x.shape[0] != 1:
            raise ValueError(f"x must be a single input of shape ({self.widths[0]},), got {np.shape(x)}")
        deltas, _ = self.backward(x)
        return deltas[0][0] @ self.weights[0]

    def param_gradients(self, X, parameterization: str = "standard") -> np.ndarray:
        r"""Per-example gradients ∂f_a/∂θ, shape ``(batch, n_L, P)``, in the order of :meth:`parameters`.

        ``parameterization="ntk"`` gives gradients in :math:`(\omega,\beta)`: the weight block of layer
        :math:`l` multiplied by :math:`\sigma_w/\sqrt{n_l}` and the bias block by :math:`\sigma_b`.
        """
        sw, sb = self._param_scales(parameterization)
        deltas, xs = self.backward(X)
        blocks = []
        for l, (d, x) in enumerate(zip(deltas, xs)):
            gw = d[:, :, :, None] * x[:, None, None, :]
            blocks.append(gw.reshape(d.shape[0], d.shape[1], -1) * sw[l])
            blocks.append(d * sb)
        return np.concatenate(blocks, axis=2)

    def _param_scales(self, parameterization: str):
        if parameterization == "standard":
            return [1.0] * len(self.weights), 1.0
        if parameterization == "ntk":
            return [np.sqrt(self.sigma_w2 / n) for n in self.widths[:-1]], np.sqrt(self.sigma_b2)
        raise ValueError(f"parameterization must be 'ntk' or 'standard', got {parameterization!r}")

    def empirical_ntk(self, X1, X2=None, parameterization: str = "ntk") -> np.ndarray:
        r"""Empirical NTK :math:`\Theta(x,x')_{ab} = \sum_\theta \partial_\theta f_a(x)\,\partial_\theta f_b(x')`.

        Computed layerwise without forming the gradients:
        :math:`\sum_l s_l^2 (x_l\cdot x_l')(\delta_{l+1}\delta_{l+1}'^{\top}) + s_b^2\,\delta_{l+1}\delta_{l+1}'^{\top}`.

        Returns
        -------
        numpy.ndarray
            Shape ``(b1, b2)`` when ``n_L = 1``; otherwise ``(b1 * n_L, b2 * n_L)`` with row index
            ``i * n_L + a`` (example ``i``, output ``a``).
        """
        sw, sb = self._param_scales(parameterization)
        d1, x1 = self.backward(X1)
        d2, x2 = (d1, x1) if X2 is None else self.backward(X2)
        b1, b2, C = d1[0].shape[0], d2[0].shape[0], self.widths[-1]
        theta = np.zeros((b1, C, b2, C))
        for l in range(len(self.weights)):
            dd = np.einsum("iak,jbk->iajb", d1[l], d2[l])
            theta += dd * (sw[l] ** 2 * (x1[l] @ x2[l].T)[:, None, :, None] + sb ** 2)
        return theta[:, 0, :, 0] if C == 1 else theta.reshape(b1 * C, b2 * C)

    def empirical_nngp(self, X1, X2=None) -> np.ndarray:
        r"""Empirical readout covariance :math:`\sigma_w^2 x_{L-1}\cdot x'_{L-1}/n_{L-1}+\sigma_b^2`, shape ``(b1, b2)``.

        Its expectation over the random weights below the readout converges to the NNGP kernel.
        """
        _, _, xs1 = self.forward(X1, return_all=True)
        xs2 = xs1 if X2 is None else self.forward(X2, return_all=True)[2]
        return self.sigma_w2 * (xs1[-1] @ xs2[-1].T) / self.widths[-2] + self.sigma_b2

    def __repr__(self) -> str:
        ro = "" if self.readout == "linear" else f", readout={self.readout!r}"
        return (f"MLP(widths={self.widths}, act={self.act.name!r}, sigma_w2={self.sigma_w2}, "
                f"sigma_b2={self.sigma_b2}, weights={self.network.weights!r}{ro})")

    # ------------------------------------------------------------------ matrix-free products
    # Jacobian-vector (forward tangent) and vector-Jacobian (backward cotangent) products, so that
    # spectra of J^T J, of the conditional-Fisher dual and of the NTK can be taken without ever
    # forming a Jacobian.  ``forward`` lets repeated products at the same inputs reuse one forward pass.
    def _linearization(self, X, forward):
        X = self._check_input(X)
        if forward is None:
            forward = self.forward(X, return_all=True)
        return X, forward[1], forward[2]

    def _stop_layer(self, layer) -> int:
        L = len(self.weights)
        if layer is None:
            return L
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 1 <= layer <= L - 1:
            raise ValueError(f"layer must be None (the output h_L) or a hidden layer in [1, {L - 1}], got {layer!r}")
        return int(layer)

    def jvp(self, X, V, layer: int | None = None, forward=None) -> np.ndarray:
        r"""Jacobian-vector product :math:`(\partial y/\partial x)\,v` without forming the Jacobian.

        ``y`` is the output :math:`f = h_L` (``layer=None``) or the hidden activation :math:`x_k`
        (``layer=k``, :math:`1 \le k \le L-1`; then :math:`\partial x_k/\partial x_0 = D_kW_{k-1}\cdots D_1W_0`,
        the Jacobian of :func:`nn_spectra.jacobian_law`).  ``V`` has shape ``(batch, n_0)`` (one tangent per
        input) or, for a single input, ``(m, n_0)`` (``m`` tangents at the same point); cost
        :math:`O(m\sum_l n_l n_{l+1})`.

        >>> net = MLP([4, 6, 3], "tanh", 1.0, 0.0, rng=0)
        >>> x, v = np.ones(4), np.arange(4.0)
        >>> bool(np.allclose(net.jvp(x, v[None]), net.input_output_jacobian(x) @ v))
        True
        """
        X, hs, _ = self._linearization(X, forward)
        stop, L = self._stop_layer(layer), len(self.weights)
        t = np.asarray(V, dtype=float)
        for l in range(stop):
            t = t @ self.weights[l].T
            if l < L - 1:
                t = t * self.act.dphi(hs[l])
        return t

    def vjp(self, X, U, layer: int | None = None, forward=None) -> np.ndarray:
        r"""Vector-Jacobian product :math:`u^\top(\partial y/\partial x)`, the transpose of :meth:`jvp`.

        ``U`` has shape ``(batch, n_y)`` or, for a single input, ``(m, n_y)``; returns ``(…, n_0)``.

        >>> net = MLP([4, 6, 3], "tanh", 1.0, 0.0, rng=0)
        >>> x, u = np.ones(4), np.arange(3.0)
        >>> bool(np.allclose(net.vjp(x, u[None]), u @ net.input_output_jacobian(x)))
        True
        """
        X, hs, _ = self._linearization(X, forward)
        stop, L = self._stop_layer(layer), len(self.weights)
        g = np.asarray(U, dtype=float)
        for l in range(stop - 1, -1, -1):
            if l < L - 1:
                g = g * self.act.dphi(hs[l])
            g = g @ self.weights[l]
        return g

    def preactivation_vjp(self, X, U, forward=None) -> list[np.ndarray]:
        r"""Cotangents :math:`g_l = u^\top\partial h_L/\partial h_l` at every pre-activation, ``[g_1, …, g_L]``.

        :math:`g_L = u`, :math:`g_l = (g_{l+1}W_l)\odot\phi'(h_l)`; ``g_l`` has the shape of ``U`` with
        last axis :math:`n_l`.  The weight gradient of :math:`u^\top f` is :math:`\partial/\partial W_l = g_{l+1}^\top x_l`.
        """
        X, hs, _ = self._linearization(X, forward)
        g = np.asarray(U, dtype=float)
        out = [g]
        for l in range(len(self.weights) - 1, 0, -1):
            g = (g @ self.weights[l]) * self.act.dphi(hs[l - 1])
            out.append(g)
        return out[::-1]

    def preactivation_jvp(self, X, injections, forward=None) -> np.ndarray:
        r"""Output tangent when the tangents ``injections[l]`` are added to the pre-activations :math:`h_{l+1}`.

        :math:`t_1 = e_0`, :math:`t_{l+1} = W_l(\phi'(h_l)\odot t_l) + e_l`, returns :math:`t_L` (shape of the
        injections with last axis :math:`n_L`); the transpose of :meth:`preactivation_vjp`.  A weight
        tangent :math:`dW_l` enters as :math:`e_l = x_l\,dW_l^\top`.
        """
        X, hs, _ = self._linearization(X, forward)
        L = len(self.weights)
        if len(injections) != L:
            raise ValueError(f"injections must list {L} arrays (one per pre-activation h_1..h_L), got {len(injections)}")
        t = np.asarray(injections[0], dtype=float)
        for l in range(1, L):
            t = (t * self.act.dphi(hs[l - 1])) @ self.weights[l].T + injections[l]
        return t

    def param_vjp(self, X, U, parameterization: str = "standard", forward=None) -> np.ndarray:
        r""":math:`\sum_i U_i^\top\,\partial f(x_i)/\partial\theta`, a flat vector of length :math:`P`.

        ``U`` has shape ``(batch, n_L)``; order and scaling of the parameters as in :meth:`param_gradients`.

        >>> net = MLP([3, 5, 2], "relu", 2.0, 0.1, rng=1)
        >>> X, U = np.ones((4, 3)), np.ones((4, 2))
        >>> bool(np.allclose(net.param_vjp(X, U), np.einsum("ia,iap->p", U, net.param_gradients(X))))
        True
        """
        X, hs, xs = self._linearization(X, forward)
        sw, sb = self._param_scales(parameterization)
        gs = self.preactivation_vjp(X, U, forward=(None, hs, xs))
        blocks = []
        for l, (g, x) in enumerate(zip(gs, xs)):
            blocks.append((g.T @ x).ravel() * sw[l])
            blocks.append(g.sum(axis=0) * sb)
        return np.concatenate(blocks)

    def param_jvp(self, X, dtheta, parameterization: str = "standard", forward=None) -> np.ndarray:
        r""":math:`(\partial f(x_i)/\partial\theta)\,d\theta` for every input, shape ``(batch, n_L)``.

        ``dtheta`` is a flat vector of length :math:`P` in the order of :meth:`parameters`.

        >>> net = MLP([3, 5, 2], "relu", 2.0, 0.1, rng=1)
        >>> X, d = np.ones((4, 3)), np.arange(net.num_parameters) / 10.0
        >>> bool(np.allclose(net.param_jvp(X, d), net.param_gradients(X) @ d))
        True
        """
        X, hs, xs = self._linearization(X, forward)
        sw, sb = self._param_scales(parameterization)
        dtheta = np.asarray(dtheta, dtype=float)
        if dtheta.shape != (self.num_parameters,):
            raise ValueError(f"dtheta must have shape ({self.num_parameters},), got {dtheta.shape}")
        inj, k = [], 0
        for l, (w, x) in enumerate(zip(self.weights, xs)):
            dw = dtheta[k:k + w.size].reshape(w.shape) * sw[l]
            k += w.size
            db = dtheta[k:k + w.shape[0]] * sb
            k += w.shape[0]
            inj.append(x @ dw.T + db)
        return self.preactivation_jvp(X, inj, forward=(None, hs, xs))
