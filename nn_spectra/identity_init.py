r"""The input-output Jacobian of a network initialised at the identity: an exact one-dimensional law.

With square layers, :math:`W_l = \sigma_w I` and no biases (``MLP(..., weights="identity")`` with
:math:`\sigma_b^2 = 0`), every coordinate runs through its own one-dimensional layer map

.. math:: h^1_i = \sigma_w x_i,\qquad h^{l+1}_i = \sigma_w\,\varphi(h^l_i),

and the Jacobian :math:`J = D_KW_K\cdots D_1W_1` over the :math:`K = L-1` nonlinear layers of a
network of ``depth`` :math:`= L` weight layers (the readout is not part of :math:`J`: the convention
of :func:`nn_spectra.jacobian_law` and :class:`nn_spectra.Network`) is diagonal:
:math:`J_{ii} = \sigma_w^K\prod_{l=1}^{K}\varphi'(h^l_i)`.  For an input with i.i.d.
:math:`N(0, q_1/\sigma_w^2)` coordinates (first pre-activations :math:`N(0, q_1)`), the eigenvalues of
:math:`JJ^\top` are i.i.d. draws of the pushforward of :math:`N(0, q_1)` by

.. math:: g(h) = \sigma_w^{2K}\prod_{l=1}^{K}\varphi'(h^l)^2,\qquad h^1 = h,\ h^{l+1} = \sigma_w\varphi(h^l).

No free probability is involved: there is no mixing between coordinates, so nothing averages.
For odd, increasing :math:`\varphi` with :math:`\varphi'` even and non-increasing in :math:`|h|`
(tanh, hard tanh, erf, linear), :math:`|h^l|` grows with :math:`|h|` and :math:`g` is non-increasing in
:math:`|h|`, so :math:`P(g \le y) = P(|h| \ge h_y)`, :math:`h_y = \inf\{u\ge0: g(u)\le y\}`, found by
bisection; flat pieces of :math:`g` (hard tanh) are atoms.  This is the exact law at any width; the
contrast with Haar-orthogonal weights (:func:`nn_spectra.jacobian_law`), where the spectrum is the
free multiplicative convolution of the :math:`D_l^2` and concentrates under dynamical isometry, is
:func:`identity_vs_orthogonal`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, special

from freeprob.law import check_positive

__all__ = ["IdentityJacobianLaw", "identity_jacobian_law", "sample_identity_jacobian_spectrum",
           "identity_vs_orthogonal"]

_MONOTONE = ("tanh", "hard_tanh", "erf", "linear")


class IdentityJacobianLaw:
    r"""Law of the eigenvalues of :math:`JJ^\top` for identity weights (module docstring).

    Methods ``g`` (the map), ``cdf``, ``quantile``, ``moments`` (by adaptive quadrature split at the
    kinks), ``mean``/``var``; ``atoms`` (flat pieces of ``g``) and ``support``.  ``depth`` is the
    network's number of weight layers L, ``layers`` the K = L - 1 nonlinear layers spanned by J.
    """

    def __init__(self, act, sigma_w2: float, depth: int, q1: float, layers: int | None = None):
        self.act, self.sigma_w2, self.depth, self.q1 = act, sigma_w2, depth, q1
        # J spans the K = L - 1 nonlinear layers (the readout is not part of J); K = L without a readout
        self.layers = depth - 1 if layers is None else int(layers)
        self._sw = float(np.sqrt(sigma_w2))
        self._top = float(sigma_w2 ** self.layers)

    def g(self, h) -> np.ndarray:
        r""":math:`g(h) = \sigma_w^{2K}\prod_{l\le K}\varphi'(h^l)^2` along the layer map started at ``h``."""
        h = np.asarray(h, dtype=float)
        out = np.full(h.shape, self._top)
        for _ in range(self.layers):
            out = out * self.act.dphi(h) ** 2
            h = self._sw * self.act.phi(h)
        return out

    def _breaks(self) -> list[float]:
        """Values of ``|h|`` where some layer's pre-activation hits a kink of φ (pieces for the integrals)."""
        pts = []
        for k in self.act.kinks:
            if k <= 0:
                continue
            # |h^l| is increasing in |h|: invert the layer map numerically for each layer
            for layer in range(1, self.layers + 1):
                f = lambda u: self._layer(u, layer) - k  # noqa: E731
                hi = 1.0
                while f(hi) < 0 and hi < 1e8:
                    hi *= 2
                if f(hi) > 0 and f(0.0) < 0:
                    from scipy.optimize import brentq

                    pts.append(brentq(f, 0.0, hi, xtol=1e-15, rtol=1e-15))
        return sorted(set(pts))

    def _layer(self, u: float, layer: int) -> float:
        h = float(u)
        for _ in range(layer - 1):
            h = self._sw * float(self.act.phi(np.array(h)))
        return abs(h)

    @property
    def atoms(self) -> tuple[np.ndarray, np.ndarray]:
        """Flat pieces of g on which ``|h|`` has positive probability (hard tanh: 0 and σ_w^{2K})."""
        if not self.act.kinks:
            return np.empty(0), np.empty(0)
        br = [0.0] + self._breaks() + [np.inf]
        pts, w = [], []
        for a, b in zip(br[:-1], br[1:]):
            mid = a + 1.0 if np.isinf(b) else 0.5 * (a + b)
            lo_v = float(self.g(np.array(a + 1e-9 * (1 + a))))
            mid_v = float(self.g(np.array(mid)))
            if np.isclose(lo_v, mid_v, rtol=1e-12, atol=1e-300):
                mass = self._p_abs_between(a, b)
                if pts and np.isclose(pts[-1], mid_v, rtol=1e-12, atol=1e-300):
                    w[-1] += mass
                else:
                    pts.append(mid_v)
                    w.append(mass)
        pts, w = np.array(pts), np.array(w)
        order = np.argsort(pts)
        return pts[order], w[order]

    def _p_abs_between(self, a, b) -> float:
        s = np.sqrt(2 * self.q1)
        return float(special.erfc(a / s) - (special.erfc(b / s) if np.isfinite(b) else 0.0))

    @property
    def support(self) -> tuple[float, float]:
        return (0.0 if self.layers and self.act.name != "linear" else self._top, float(self.g(np.array(0.0))))

    def _h_of(self, y: np.ndarray) -> np.ndarray:
        # smallest u >= 0 with g(u) <= y (g is non-increasing in |h|): bisection on all y at once
        y = np.asarray(y, dtype=float)
        out = np.zeros(y.shape)
        todo = self.g(np.zeros(y.shape)) > y
        hi = np.full(y.shape, np.sqrt(self.q1))
        for _ in range(60):
            grow = todo & (self.g(hi) > y)
            if not grow.any():
                break
            hi = np.where(grow, 2 * hi, hi)
        never = todo & (self.g(hi) > y)          # y below every value of g on the searched range
        lo = np.zeros(y.shape)
        for _ in range(1100):                      # halves down to 4e-16 relative from 2^60 scales
            mid = 0.5 * (lo + hi)
            below = self.g(mid) <= y
            hi = np.where(below, mid, hi)
            lo = np.where(below, lo, mid)
            if np.all(~todo | (hi - lo <= 4e-16 * hi)):
                break
        out = np.where(todo, hi, 0.0)
        return np.where(never, np.inf, out)

    def cdf(self, y) -> np.ndarray:
        r""":math:`P(JJ^\top\text{-eigenvalue} \le y) = P(|h| \ge h_y)`, exact up to the bisection (1e-15)."""
        y = np.asarray(y, dtype=float)
        hy = self._h_of(np.maximum(y, 0.0))
        with np.errstate(invalid="ignore"):
            out = np.where(np.isfinite(hy), special.erfc(np.where(np.isfinite(hy), hy, 0) / np.sqrt(2 * self.q1)), 0.0)
        return np.where(y < 0, 0.0, out)

    def quantile(self, p) -> np.ndarray:
        """Inverse of ``cdf`` (the value g(h) at the ``|h|``-quantile 1 - p)."""
        p = np.asarray(p, dtype=float)
        h = np.sqrt(2 * self.q1) * special.erfcinv(np.clip(p, 0, 1))
        return self.g(h)

    def moments(self, n: int) -> np.ndarray:
        r""":math:`E[g^k] = 2\int_0^\infty g(h)^k\,N(h;0,q_1)\,dh`, k = 1..n (adaptive quadrature on pieces)."""
        br = [0.0] + self._breaks()
        s = np.sqrt(self.q1)
        br = br + [max(br[-1], 0.0) + 12 * s]
        out = []
        for k in range(1, int(n) + 1):
            tot = 0.0
            for a, b in zip(br[:-1], br[1:]):
                if b > a:
                    tot += integrate.quad(lambda u: float(self.g(np.array(u))) ** k
                                          * np.exp(-0.5 * u * u / self.q1), a, b, epsabs=0, epsrel=1e-12,
                                          limit=400)[0]
            out.append(2 * tot / np.sqrt(2 * np.pi * self.q1))
        return np.array(out)

    @property
    def mean(self) -> float:
        return float(self.moments(1)[0])

    @property
    def var(self) -> float:
        m = self.moments(2)
        return float(m[1] - m[0] ** 2)

    def __repr__(self) -> str:
        return f"identity_jacobian_law({self.act.name}, sigma_w2={self.sigma_w2}, depth={self.depth}, q1={self.q1})"


def identity_jacobian_law(act, sigma_w2: float | None = None, depth: int | None = None,
                          q1: float = 1.0) -> IdentityJacobianLaw:
    r"""Exact law of the eigenvalues of :math:`JJ^\top` for identity weights and no biases.

    Parameters
    ----------
    act : {"tanh", "hard_tanh", "erf", "linear"}, Activation or Network
        Odd, increasing, with :math:`\varphi'` even and non-increasing in :math:`|h|`.  A
        :class:`~nn_spectra.Network` (``weights="identity"``, :math:`\sigma_b^2 = 0`) gives
        ``act``, ``sigma_w2`` and ``depth`` (then :math:`K` is its number of hidden layers).
    sigma_w2 : float
        :math:`W_l = \sqrt{\sigma_w^2}\,I`.
    depth : int
        :math:`L \ge 2`, the number of weight layers of the network (:class:`~nn_spectra.Network`);
        :math:`J = D_KW_K\cdots D_1W_1` spans its :math:`K = L-1` nonlinear layers.
    q1 : float
        Variance of the first pre-activations :math:`h^1_i = \sigma_w x_i`.

    Examples
    --------
    >>> law = identity_jacobian_law("hard_tanh", 1.2, depth=4, q1=0.5)
    >>> pts, w = law.atoms          # J_ii^2 is 0 (some layer saturated) or 1.2^3 (K = 3 layers)
    >>> np.round(pts, 12).tolist(), bool(abs(w.sum() - 1) < 1e-12)
    ([0.0, 1.728], True)
    """
    from .activations import activation
    from .network import Network

    layers = None
    if isinstance(act, Network):
        if sigma_w2 is not None or depth is not None:
            raise TypeError("pass either a Network or act, sigma_w2, depth, not both")
        if act.weights != "identity" or act.sigma_b2 != 0:
            raise ValueError(f"the network must have weights='identity' and sigma_b2 = 0, got "
                             f"weights={act.weights!r}, sigma_b2={act.sigma_b2!r}")
        act, sigma_w2, depth, layers = act.act, act.sigma_w2, act.depth, act.hidden_layers
        if layers < 1:
            raise ValueError(f"the network has no hidden layer (depth {depth}, readout linear): J is empty")
    elif sigma_w2 is None or depth is None:
        raise ValueError("sigma_w2 and depth are required (or pass a Network)")
    a = activation(act)
    if a.name not in _MONOTONE:
        raise ValueError(f"act must be one of {', '.join(_MONOTONE)} (odd, with phi' even and non-increasing "
                         f"in |h|), got {a.name!r}")
    sw = check_positive("sigma_w2", sigma_w2)
    q1 = check_positive("q1", q1)
    if layers is None and (isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 2):
        raise ValueError(f"depth must be an integer >= 2 (weight layers: J spans depth - 1 nonlinear layers), "
                         f"got {depth!r}")
    k = int(depth) - 1 if layers is None else int(layers)
    # the top of the law is sigma_w2**K: it must be a float64 number (and the layer loop affordable)
    if k > 10 ** 6 or abs(k * np.log(sw)) > 700:
        raise ValueError(f"depth={depth!r} with sigma_w2={sigma_w2!r}: sigma_w2**(depth - 1) is outside float64 "
                         f"(or depth > 10**6 + 1); the law is not representable")
    return IdentityJacobianLaw(a, sw, int(depth), q1, layers)


def sample_identity_jacobian_spectrum(act, sigma_w2: float, depth: int, width: int, q1: float = 1.0,
                                      rng=None) -> np.ndarray:
    r"""Eigenvalues of :math:`JJ^\top` of a real :class:`MLP` with ``weights="identity"``, :math:`\sigma_b^2 = 0`,
    for one input with i.i.d. :math:`N(0, q_1/\sigma_w^2)` coordinates (dense :math:`J`, nothing assumed diagonal).

    The network has ``depth`` :math:`= L` weight layers, widths ``(width, ..., width, 1)``; :math:`J` spans
    its :math:`L - 1` nonlinear layers, as in :func:`identity_jacobian_law`."""
    from .mlp import MLP

    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 2:
        raise ValueError(f"depth must be an integer >= 2 (weight layers: J spans depth - 1 nonlinear layers), "
                         f"got {depth!r}")
    gen = np.random.default_rng(rng)
    W = int(width)
    net = MLP([W] * int(depth) + [1], act, sigma_w2, 0.0, weights="identity", rng=gen)
    x = gen.standard_normal(W) * np.sqrt(q1 / sigma_w2)
    _, hs, _ = net.forward(x[None, :], return_all=True)
    J = np.eye(W)
    for l in range(int(depth) - 1):
        J = net.act.dphi(hs[l][0])[:, None] * (net.weights[l] @ J)
    return np.clip(np.linalg.eigvalsh(J @ J.T), 0.0, None)


@dataclass(frozen=True)
class IdentityContrast:
    """Mean and variance of the :math:`JJ^\\top` spectrum, identity versus Haar-orthogonal weights."""

    depths: np.ndarray
    identity_mean: np.ndarray
    identity_var: np.ndarray
    orthogonal_mean: np.ndarray
    orthogonal_var: np.ndarray


def identity_vs_orthogonal(act, sigma_w2: float, depths=(2, 3, 5, 9), q1: float | None = None) -> IdentityContrast:
    r"""Spectral mean and variance of :math:`JJ^\top` for identity and for orthogonal weights (no biases).

    Orthogonal: :func:`nn_spectra.jacobian_law` at the fixed point :math:`q^*` (its moments are
    exact).  Identity: :func:`identity_jacobian_law` started at the same :math:`q_1 = q^*` unless
    ``q1`` is given; ``depths`` count weight layers L (J spans L - 1 layers).  At :math:`q^* > 0` the
    orthogonal variance grows linearly in depth (:math:`(L-1)(\mu_2/\mu_1^2 - 1)` at criticality); the identity law has the same mean only when
    every coordinate stays at its start, and is in general a two-sided mixture that does not average.
    """
    from .jacobian import jacobian_law
    from .mean_field import q_star

    ds = np.asarray(depths, dtype=int)
    q = float(q_star(act, sigma_w2, 0.0)) if q1 is None else float(q1)
    if not q > 0:
        raise ValueError(f"the fixed point q* of {act} at sigma_w2 = {sigma_w2} is {q}; pass q1 > 0")
    im, iv, om, ov = [], [], [], []
    for L in ds:
        law = identity_jacobian_law(act, sigma_w2, int(L), q)
        m = law.moments(2)
        im.append(m[0])
        iv.append(m[1] - m[0] ** 2)
        # the same depth L (weight layers) for both: J spans L - 1 nonlinear layers
        jl = jacobian_law(act, sigma_w2, 0.0, int(L), weights="orthogonal")
        mo = jl.moments(2)
        om.append(mo[0])
        ov.append(mo[1] - mo[0] ** 2)
    return IdentityContrast(ds, np.array(im), np.array(iv), np.array(om), np.array(ov))
