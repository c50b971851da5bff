r"""A plain numpy fully-connected network at initialization, for checking the theory on finite widths.

Architecture for ``widths = [n_0, n_1, ..., n_L]``:

.. math:: x_0 = x,\qquad h_{l+1} = W_l x_l + b_l\ (l = 0..L-1),\qquad x_l = \varphi(h_l)\ (l = 1..L-1),
          \qquad f(x) = h_L,

so there are :math:`L-1` hidden layers and a linear readout.  ``weights[l]`` has shape
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
        try:
            import randmat

            if hasattr(randmat, "haar_orthogonal"):
                return np.asarray(randmat.haar_orthogonal(n_out, rng=rng), float)
        except ImportError:  # pragma: no cover
            pass
    big, small = max(n_out, n_in), min(n_out, n_in)
    g = rng.standard_normal((big, small))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diag(r))
    return q if n_out >= n_in else q.T


class MLP:
    r"""Fully-connected network with random weights, forward and backward passes in numpy.

    Parameters
    ----------
    widths : sequence of int
        ``[n_0, n_1, ..., n_L]``, at least two entries; ``n_0`` is the input dimension and ``n_L``
        the number of outputs.
    act : str or Activation
        Nonlinearity of the hidden layers.
    sigma_w2, sigma_b2 : float
        Weight variance (times ``1/n_l``) and bias variance.
    init : {"gaussian", "orthogonal", "identity"}
    rng : int or numpy.random.Generator, optional

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> net = ns.MLP([3, 8, 8, 1], "tanh", 1.5, 0.1, rng=0)
    >>> net.forward(np.ones((2, 3))).shape
    (2, 1)
    >>> net.param_gradients(np.ones((2, 3))).shape == (2, 1, net.num_parameters)
    True
    """

    def __init__(self, widths, act, sigma_w2: float, sigma_b2: float, init: str = "gaussian", rng=None):
        widths = [int(w) for w in widths]
        if len(widths) < 2 or any(w < 1 for w in widths):
            raise ValueError(f"widths must list at least two integers >= 1, got {widths!r}")
        sw, sb = float(sigma_w2), float(sigma_b2)
        if not (np.isfinite(sw) and sw > 0):
            raise ValueError(f"sigma_w2 must lie in (0, inf), got {sigma_w2!r}")
        if not (np.isfinite(sb) and sb >= 0):
            raise ValueError(f"sigma_b2 must lie in [0, inf), got {sigma_b2!r}")
        if init not in _INITS:
            raise ValueError(f"init must be one of {', '.join(_INITS)}, got {init!r}")
        self.widths = widths
        self.act: Activation = activation(act)
        self.sigma_w2, self.sigma_b2, self.init = sw, sb, init
        rng = np.random.default_rng(rng)
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            if init == "gaussian":
                w = rng.standard_normal((n_out, n_in)) * np.sqrt(sw / n_in)
            elif init == "orthogonal":
                w = np.sqrt(sw) * haar_orthogonal_isometry(n_out, n_in, rng)
                if n_out > n_in:
                    w *= np.sqrt(n_out / n_in)
            else:
                w = np.sqrt(sw) * np.eye(n_out, n_in)
            self.weights.append(w)
            self.biases.append(rng.standard_normal(n_out) * np.sqrt(sb))

    # ------------------------------------------------------------------ basics
    @property
    def depth(self) -> int:
        """Number of hidden (nonlinear) layers, ``len(widths) - 2``."""
        return len(self.widths) - 2

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
        out = hs[-1]
        return (out, hs, xs) if return_all else out

    def _deltas(self, hs) -> list[np.ndarray]:
        # δ_l = ∂f/∂h_l for l = 1..L, each (batch, n_L, n_l): backpropagation of the identity at the output
        L = len(self.weights)
        batch = hs[0].shape[0]
        d = np.broadcast_to(np.eye(self.widths[-1]), (batch,) + (self.widths[-1],) * 2).copy()
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
        return (f"MLP(widths={self.widths}, act={self.act.name!r}, sigma_w2={self.sigma_w2}, "
                f"sigma_b2={self.sigma_b2}, init={self.init!r})")
