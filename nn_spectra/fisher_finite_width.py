r"""Finite-width NTK and Fisher statistics: exact moments for relu (one input), O(1/width) corrections in general.

Setting (as :class:`nn_spectra.MLP` and :mod:`nn_spectra.fisher`): widths :math:`n_0, \dots, n_L`, relu hidden
layers, linear read-out :math:`f = u^L`, weights :math:`N(0, \sigma_w^2/n_{l-1})`, **zero biases** (the bias
parameters are there, their gradients count), standard parameterisation.  For one input :math:`x` and
one output the NTK diagonal is

.. math:: \Theta = \sum_{l=1}^{L} d_l\,(a_{l-1} + 1),\qquad a_l = \|h^l\|^2,\ d_l = \|\partial f/\partial u^l\|^2,

and the empirical Fisher information of one input (:math:`T = 1`, :math:`C = 1`) has the single
nonzero eigenvalue :math:`\Theta`: :math:`m_\lambda = \Theta/P`, :math:`s_\lambda = \Theta^2/P`,
:math:`\lambda_{\max} = \Theta`.

Exact representation.  Write :math:`c_j = \sigma_w^2/n_j` and let :math:`B_j\sim\mathrm{Binomial}(n_j, 1/2)`
be the number of active units of hidden layer :math:`j`.  The row sign flip :math:`w_i\mapsto -w_i` (see
:mod:`nn_spectra.finite_width`) gives the forward norms :math:`a_j = c_{j-1}a_{j-1}X_j`,
:math:`X_j\sim\chi^2_{B_j}`, and :math:`f^2 = c_{L-1}a_{L-1}Y`, :math:`Y\sim\chi^2_1`.  Backwards, split
:math:`W^{l}` into its component along :math:`h^{l-1}` (fixed by :math:`u^l`) and an independent Gaussian
remainder; Euler's identity :math:`u^l\cdot\partial f/\partial u^l = f` (relu is 1-homogeneous, zero bias)
then gives

.. math:: d_L = 1,\qquad d_{l-1} = \frac{f^2}{a_{l-1}} + c_{l-1}\,d_l\,Z_{l-1},\qquad Z_j\sim\chi^2_{B_j - 1},

with :math:`X_j, Z_j` independent given :math:`B_j` and everything independent across layers.  So
:math:`\Theta` is a sum of products of independent per-layer factors, and :math:`E\Theta`,
:math:`E\Theta^2` follow exactly from a transfer-matrix recursion over the layers using
:math:`E[B]`, :math:`E[B^2]` only (:func:`ntk_diagonal_moments`).  The representation needs every
:math:`B_j \ge 1`; a dead layer (probability :math:`1 - \prod_j(1 - 2^{-n_j})`) zeroes all later
activations and, since relu'(0) = 0, every :math:`d_l` with :math:`l < L`, leaving :math:`\Theta = 1`.

Consequences.

* :math:`E\Theta` equals its infinite-width value :math:`\sum_l \tilde q^l (n_{l-1}\hat q^{l-1} + 1)`
  up to the dead-layer effect :math:`O(L2^{-n})` (Hanin–Nica 2019 find the same for their
  parameterisation): the mean eigenvalue
  :math:`m_\lambda`, and :math:`\lambda_{\max}` for one input, have **no** 1/width correction for a
  zero-bias relu network.
* :math:`\operatorname{Var}\Theta/(E\Theta)^2 = D/n + O(n^{-2})` when all widths scale with :math:`n`
  (``rel_var_leading`` = :math:`D/n` at the given widths; :math:`D` from the exact recursion by a
  complex-step derivative in :math:`1/n`); hence :math:`E s_\lambda = s_\lambda^{(\infty)}(1 + D/n + O(n^{-2}))`.
  For equal widths :math:`n_0 = \dots = n_{L-1} = n`, :math:`\sigma_w^2 = 2`, :math:`q_\text{in} = 1` the
  recursion gives :math:`D = 3, 10, 24.5, 112.375` at :math:`L = 2, 4, 8, 32`, which agrees with
  :math:`11L/3 - 5 + 4/(3L)` to rounding for :math:`2 \le L \le 128` (an observation, not a proof):
  smaller than the :math:`5L` of a single product of layers (:math:`\log\|Ju\|^2`), because
  :math:`\Theta` averages over the layers.  Hanin–Nica's :math:`E\Theta^2/(E\Theta)^2 \simeq e^{5\beta}`
  is a large-depth statement up to :math:`1/n` factors and does not give the coefficient.

General case (:func:`ntk_finite_width`, :func:`fim_statistics_finite_width`): any activation, biases,
any number of inputs, several outputs.  No exact representation, but the :math:`O(1/n)` mean shift and the
leading covariance of every NTK entry follow from a delta method over the averages over units of each
layer, with the backward pass split into the part of :math:`W^{l+1}` fixed by the forward pass and an
independent remainder (the generalisation of the Euler-identity step above); the same order as the NTK
recursions of Roberts–Yaida–Hanin (*The Principles of Deep Learning Theory*, ch. 8–9), organised as
jets (mean, linear fluctuation, 1/n shift).  For zero-bias relu and linear networks and one input it
reproduces the exact results above (no mean shift, :math:`D/n`); the remainder is :math:`O(1/n^2)`.
The Gaussian expectations involve at most four distinct inputs and only their marginal: two-point
ones (and their derivatives in the kernel) on exact one- and two-dimensional rules of each pair,
four-point ones on a kink-exact sequential rule of exactly the set of distinct inputs of each entry
(:class:`_HiddenLayer`), so a result restricted to a subset of the inputs equals the result for that subset
(tested for :math:`T = 5`; Monte Carlo at :math:`T = 5, 6`).  Cost: one rule per subset of at most four inputs, dominated by the
:math:`\binom{T}{4}` four-dimensional ones (about 3 s CPU each: :math:`T = 5` with one hidden layer 17 s,
with two 35-47 s on a loaded machine).  With :math:`C` outputs the :math:`C`-fold top eigenvalue splits by
:math:`O(n^{-1/2})`; :func:`top_cluster_split` gives the law of the split (a :math:`C\times C` Gaussian matrix,
degenerate perturbation theory) and :func:`fim_statistics_finite_width` the upward bias of the largest.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy.stats import binom

__all__ = ["NTKDiagonalMoments", "ntk_diagonal_moments", "fim_statistics_one_input", "sample_ntk_diagonal",
           "NTKFiniteWidth", "ntk_finite_width", "sample_ntk", "fim_statistics_finite_width", "TopClusterSplit",
           "top_cluster_split"]

# automaton states of one term of Theta, layer by layer: prefix of a_{l-1} (weight term), prefix of the
# bias term, the Z region of d_l, the layer k where f^2/a_k starts, the X region after k
_PW, _PB, _Z, _K, _A = range(5)
_NEXT = {_PW: (_PW, _Z, _K), _PB: (_PB, _Z, _K), _Z: (_Z, _K), _K: (_A,), _A: (_A,)}
_TRANS = np.zeros((5, 5))
for _s, _nx in _NEXT.items():
    _TRANS[_s, list(_nx)] = 1.0
# symbol emitted on entering a state: 0 -> 1, 1 -> c_{j-1} X_j, 2 -> c_j Z_j
_SYMBOL = np.array([1, 0, 2, 0, 1])
_HAS_Y = np.array([0, 0, 0, 1, 1])


def _check(widths, sigma_w2, q_input):
    w = [int(n) for n in widths] if not isinstance(widths, (str, bytes)) and hasattr(widths, "__len__") else None
    if w is None or len(w) < 2 or any(n < 1 for n in w) or any(n != m for n, m in zip(w, widths)):
        raise ValueError(f"widths must list at least two integers >= 1 (n_0, ..., n_L), got {widths!r}")
    if not (np.isfinite(sigma_w2) and sigma_w2 > 0):
        raise ValueError(f"sigma_w2 must lie in (0, inf), got {sigma_w2!r}")
    if not (np.isfinite(q_input) and q_input > 0):
        raise ValueError(f"q_input must lie in (0, inf), got {q_input!r}")
    return w


def _theta_moments(n, eb, eb2, sw, a0):
    r"""E[Theta], E[Theta^2] from the per-layer E[B_j], E[B_j^2] (arrays over hidden layers j = 1..L-1).

    ``n`` are the widths n_0..n_{L-1} (complex allowed: the complex step differentiates through this).
    """
    L = len(n)
    v = np.zeros(5, dtype=complex)
    v[_PW], v[_PB] = a0, 1.0
    V = np.outer(v, v)
    for j in range(1, L):
        cx, cz = sw / n[j - 1], sw / n[j]
        # first moments of the three symbols, and second moments of every pair
        m1 = np.array([1.0, cx * eb[j - 1], cz * (eb[j - 1] - 1.0)])
        xx = cx * cx * (eb2[j - 1] + 2 * eb[j - 1])
        zz = cz * cz * (eb2[j - 1] - 1.0)
        xz = cx * cz * (eb2[j - 1] - eb[j - 1])
        m2 = np.array([[1.0, m1[1], m1[2]], [m1[1], xx, xz], [m1[2], xz, zz]])
        f1 = m1[_SYMBOL]
        f2 = m2[np.ix_(_SYMBOL, _SYMBOL)]
        v = (v @ _TRANS) * f1
        V = (_TRANS.T @ V @ _TRANS) * f2
    cy = sw / n[L - 1]
    g1 = np.where(_HAS_Y == 1, cy, 1.0)
    g2 = np.outer(g1, g1) * np.where(np.outer(_HAS_Y, _HAS_Y) == 1, 3.0, 1.0)
    return np.sum(v * g1), np.sum(V * g2)


@dataclass(frozen=True)
class NTKDiagonalMoments:
    r"""Moments of the NTK diagonal :math:`\Theta(x, x)` of a zero-bias relu network (one output).

    ``mean``, ``second_moment``, ``var``: exact at the given widths (``probability`` is that of no dead
    hidden layer; a dead layer leaves :math:`\Theta = 1`, the output bias); ``mean_infinite``: the infinite-width value; ``rel_var_leading``:
    the leading :math:`D/n` term of :math:`\operatorname{Var}\Theta/(E\Theta)^2`.
    """

    mean: float
    second_moment: float
    var: float
    mean_infinite: float
    rel_var_leading: float
    probability: float

    @property
    def rel_var(self) -> float:
        r""":math:`\operatorname{Var}\Theta/(E\Theta)^2` (exact)."""
        return self.var / self.mean ** 2


def ntk_diagonal_moments(widths: Sequence[int], sigma_w2: float = 2.0, q_input: float = 1.0,
                         act: str = "relu") -> NTKDiagonalMoments:
    r"""Exact mean and variance of the NTK diagonal of a zero-bias relu (or linear) network (module docstring).

    ``act="linear"``: the same representation with every unit active, :math:`B_j = n_j` (linear maps
    are 1-homogeneous too), the gain per layer :math:`\sigma_w^2` instead of :math:`\sigma_w^2/2`.

    Parameters
    ----------
    widths : sequence of int
        :math:`n_0, \dots, n_L` (:math:`L` weight layers; only one output is used, so :math:`n_L` is
        irrelevant).
    sigma_w2 : float
        Weight variance (2 is critical).
    q_input : float
        :math:`\|x\|^2/n_0`.

    Examples
    --------
    >>> p = ntk_diagonal_moments([64, 64, 64, 1])
    >>> round(p.mean, 6), round(p.mean_infinite, 6)         # no finite-width correction of the mean
    (195.0, 195.0)
    >>> round(p.rel_var, 5), round(p.rel_var_leading, 5)    # Var/mean^2 = D/n + O(1/n^2)
    (0.10216, 0.10069)
    """
    w = _check(widths, sigma_w2, q_input)
    if act not in ("relu", "linear"):
        raise ValueError(f"act must be 'relu' or 'linear' (the exact representation), got {act!r}")
    sw, L = float(sigma_w2), len(w) - 1
    a0 = q_input * w[0]
    hidden = w[1:L]
    eb, eb2, prob = [], [], 1.0
    for n in hidden:
        if act == "linear":
            eb.append(float(n))
            eb2.append(float(n) ** 2)
            continue
        b = np.arange(1, n + 1)
        p = binom.pmf(b, n, 0.5)
        tot = float(p.sum())
        p = p / tot
        eb.append(float(p @ b))
        eb2.append(float(p @ b ** 2))
        prob *= min(tot, 1.0)
    m1, m2 = _theta_moments(np.array(w[:L], float), np.array(eb), np.array(eb2), sw, a0)
    # a dead hidden layer (probability 1 - prob) zeroes every later activation and, as relu'(0) = 0,
    # every d_l with l < L: Theta is then the output-bias term d_L = 1
    m1 = prob * float(m1.real) + (1.0 - prob)
    m2 = prob * float(m2.real) + (1.0 - prob)
    # infinite width (Karakida's A for one output): E a_{l-1} = a0 prod_j (sw n_j / (2 n_{j-1})), E d_l = prod (sw/2)
    g = sw / 2.0 if act == "relu" else sw
    mean_inf = 0.0
    for l in range(1, L + 1):
        a = a0 * math.prod(g * w[j] / w[j - 1] for j in range(1, l))
        d = g ** (L - l)
        mean_inf += d * (a + 1.0)
    return NTKDiagonalMoments(mean=m1, second_moment=m2, var=m2 - m1 * m1, mean_infinite=mean_inf,
                              rel_var_leading=_rel_var_leading(w, sw, q_input, act=act), probability=prob)


def _rel_var_leading(w, sw, q_input, h: float = 1e-30, act: str = "relu") -> float:
    # scale every width by 1/t: Var/mean^2 is analytic in t with value 0 at t = 0; its t-derivative at
    # t = 0 (complex step, exact to rounding) times t = 1 is the leading term at the given widths.
    # E[B] = n/2, E[B^2] = n^2/4 + n/4 continue to complex n (the B >= 1 conditioning is O(2^-n)).
    t = 1j * h
    n = np.array(w, dtype=complex) / t
    L = len(w) - 1
    if act == "linear":
        eb, eb2 = n[1:L], n[1:L] ** 2
    else:
        eb = n[1:L] / 2
        eb2 = n[1:L] ** 2 / 4 + n[1:L] / 4
    m1, m2 = _theta_moments(n[:L], eb, eb2, sw, q_input * n[0])
    return float(((m2 - m1 * m1) / (m1 * m1)).imag / h)


def fim_statistics_one_input(widths: Sequence[int], sigma_w2: float = 2.0, q_input: float = 1.0) -> dict:
    r"""Finite-width :math:`E m_\lambda`, :math:`E s_\lambda`, :math:`E\lambda_{\max}` of one input and one output.

    With :math:`P = \sum_l n_l(n_{l-1} + 1)` parameters (of a network with one output):
    :math:`m_\lambda = \Theta/P`, :math:`s_\lambda = \Theta^2/P`, :math:`\lambda_{\max} = \Theta`.  Returns
    a dict with the exact values (``mean``, ``second_moment``, ``lambda_max``), the infinite-width values
    (``*_infinite``) and the leading 1/width prediction of the second moment (``second_moment_leading``
    :math:`= s^{(\infty)}(1 + D/n)`).

    >>> s = fim_statistics_one_input([32, 32, 32, 32, 1])
    >>> round(s["mean"] / s["mean_infinite"], 9), round(s["second_moment"] / s["second_moment_infinite"], 3)
    (1.0, 1.342)
    """
    w = _check(widths, sigma_w2, q_input)
    w = w[:-1] + [1]
    p = ntk_diagonal_moments(w, sigma_w2, q_input)
    P = sum(w[l + 1] * (w[l] + 1) for l in range(len(w) - 1))
    s_inf = p.mean_infinite ** 2 / P
    return {"mean": p.mean / P, "mean_infinite": p.mean_infinite / P,
            "second_moment": p.second_moment / P, "second_moment_infinite": s_inf,
            "second_moment_leading": s_inf * (1.0 + p.rel_var_leading),
            "lambda_max": p.mean, "lambda_max_infinite": p.mean_infinite, "n_params": P}


def sample_ntk_diagonal(widths: Sequence[int], trials: int, sigma_w2: float = 2.0, q_input: float = 1.0,
                        rng=None) -> np.ndarray:
    r"""Monte Carlo of :math:`\Theta(x, x)` (standard parameterisation, first output) over real zero-bias relu
    :class:`~nn_spectra.MLP` networks, a fresh input with :math:`\|x\|^2 = q_\text{in} n_0` each trial.

    >>> sample_ntk_diagonal([8, 8, 1], trials=2, rng=0).shape
    (2,)
    """
    from .mlp import MLP

    w = _check(widths, sigma_w2, q_input)
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    gen = np.random.default_rng(rng)
    out = np.empty(int(trials))
    for t in range(int(trials)):
        net = MLP(w, "relu", float(sigma_w2), 0.0, weights="gaussian", rng=gen)
        x = gen.standard_normal(w[0])
        x *= math.sqrt(q_input * w[0]) / np.linalg.norm(x)
        theta = net.empirical_ntk(x[None, :], parameterization="standard")
        out[t] = theta[0, 0]   # example 0, output 0 (row index i * n_L + a)
    return out


# =============================================================================================== general case
# Any activation, biases, several inputs and outputs: the O(1/n) expansion of E[Theta] and Cov[Theta].
#
# Notation (module docstring of this section in ``ntk_finite_width``): forward Gram G^l = h^l.h^l / n_l,
# kernel K^l = sigma_b^2 + sigma_w^2 G^{l-1}; backward Gram B^l_{ab} = delta^l_a . delta^l_b,
# delta^l = df/dz^l; cross C^l_{ca} = (z^l_c - b^l) . delta^l_a.  Backward index alpha = (input a, output k),
# flattened as a * n_outputs + k (the row order of MLP.empirical_ntk).


@lru_cache(maxsize=8)
def _leggauss(n):
    return np.polynomial.legendre.leggauss(n)


def _leggauss_pieces(breaks, n):
    x, w = _leggauss(n)
    pts, wts = [], []
    for lo, hi in zip(breaks[:-1], breaks[1:]):
        if hi - lo <= 1e-14:
            continue
        pts.append(0.5 * (hi - lo) * x + 0.5 * (hi + lo))
        wts.append(0.5 * (hi - lo) * w)
    return np.concatenate(pts), np.concatenate(wts)


_R = 11.0  # radius of the integration domain in whitened coordinates: the Gaussian mass outside is < 1e-25


def _gauss_grid(K: np.ndarray, kinks, n: int = 32):
    r"""Points ``z`` (m x T) and weights with sum w g(z) ~ E g(z), z ~ N(0, K), split at the kinks of phi.

    T = 1: composite Gauss–Legendre on [-R, R] split at the kinks; T = 2: polar coordinates of the
    whitened variable, the angle split where a coordinate of z changes sign and the radius where it
    crosses a kink; both converge geometrically for piecewise-analytic integrands (checked against the
    closed-form arccos kernels to 1e-15).  Three and four dimensions: :func:`_nested_grid`.
    """
    T = K.shape[0]
    Lc = np.linalg.cholesky(K)
    if T == 1:
        s = math.sqrt(K[0, 0])
        br = sorted({-_R, -4.0, 0.0, 4.0, _R} | {k / s for k in kinks if abs(k / s) < _R})
        e, w = _leggauss_pieces(np.array(br), n)
        w = w * np.exp(-0.5 * e * e) / math.sqrt(2 * math.pi)
        return (Lc @ e[None, :]).T, w
    if T == 2:
        cuts = {0.0, 2 * math.pi}
        for a in range(2):
            t0 = math.atan2(-Lc[a, 0], Lc[a, 1]) % math.pi   # (L u(theta))_a = 0
            cuts |= {t0, t0 + math.pi}
        # rays through a corner (k, k') of two kinks away from 0 (hard tanh): the two crossing radii meet
        # there and the angular integrand has a kink (4e-6 relative error in four-point moments without)
        Li = np.linalg.inv(Lc)
        for k0 in kinks:
            for k1 in kinks:
                if k0 != 0.0 or k1 != 0.0:
                    wc = Li @ np.array([k0, k1])
                    cuts.add(math.atan2(wc[1], wc[0]) % (2 * math.pi))
        th, wth = _leggauss_pieces(np.array(sorted(cuts)), n)
        pts, wts = [], []
        for t, wt in zip(th, wth):
            u = np.array([math.cos(t), math.sin(t)])
            lu = Lc @ u
            br = {0.0, 4.0, _R}
            for a in range(2):
                for k in kinks:
                    if k != 0.0 and lu[a] != 0.0 and 0.0 < k / lu[a] < _R:
                        br.add(k / lu[a])
            r, wr = _leggauss_pieces(np.array(sorted(br)), n)
            pts.append(r[:, None] * lu[None, :])
            wts.append(wt * wr * r * np.exp(-0.5 * r * r) / (2 * math.pi))
        return np.concatenate(pts), np.concatenate(wts)
    raise ValueError(f"at most 2 inputs are supported (kink-exact quadrature in 1 and 2 dimensions), got T={T}")


def _nested_grid(K, kinks, n, piece: float = 1.0):
    r"""Kink-exact rule for :math:`E g(z)`, :math:`z\sim N(0, K)` in any dimension, by sequential conditioning.

    :math:`z_1` from its marginal, then :math:`z_j` given :math:`z_{<j}` (mean :math:`z_{<j}\beta_j`, variance
    :math:`v_j`), each a one-dimensional Gauss–Legendre rule in the standardised variable on
    :math:`[-R, -6, -4]`, ``piece``-long pieces of :math:`[-4, 4]` and :math:`[4, 6, R]`, split where :math:`z_j` crosses
    a kink of :math:`\phi` (per point of the previous coordinates).  Short pieces because the integrand in
    :math:`z_j` can vary on the scale of a conditional standard deviation, and tanh-like activations have
    poles at distance :math:`\pi/2` from the real axis.  For the integrands here, products of functions of single coordinates, the
    integrand in :math:`z_j` is :math:`f_j(z_j)` times :math:`E[\prod_{i>j}f_i\,|\,z_{\le j}]`, analytic (a
    Gaussian smoothing), so every piece is analytic and the rule converges geometrically.  Polar rules
    around a shifted mean do not: a kink line passing close to the centre makes the angular integrand vary
    on the scale of that distance.  Points :math:`((4 + 8/\text{piece} + \#\text{kinks})\,n)^T`.
    """
    T = K.shape[0]
    x, wl = _leggauss(n)
    pts, wts = np.zeros((1, 0)), np.ones(1)
    for j in range(T):
        if j == 0:
            m, v = np.zeros(1), K[0, 0]
        else:
            beta = np.linalg.solve(K[:j, :j], K[:j, j])
            m, v = pts @ beta, K[j, j] - K[:j, j] @ beta
        if not v > 0:
            raise ValueError("singular kernel: the inputs must be linearly independent")
        sd = math.sqrt(v)
        P = m.size
        br = [np.full(P, b) for b in np.r_[-_R, -6.0, np.arange(-4.0, 4.0 + piece / 2, piece), 6.0, _R]]
        br += [np.clip((k - m) / sd, -_R, _R) for k in kinks]
        br = np.sort(np.stack(br, axis=1), axis=1)
        lo, hi = br[:, :-1], br[:, 1:]
        t = (0.5 * (hi - lo)[..., None] * x + 0.5 * (hi + lo)[..., None]).reshape(P, -1)
        wt = (0.5 * (hi - lo)[..., None] * wl).reshape(P, -1) * np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
        zj = m[:, None] + sd * t
        pts = np.concatenate([np.repeat(pts, t.shape[1], axis=0), zj.reshape(-1, 1)], axis=1)
        wts = (wts[:, None] * wt).reshape(-1)
    return pts, wts


class _Jet:
    """A random quantity to O(1/n): mean ``mu``, linear coefficients ``lin`` (last axis) on independent
    standard normals of size O(n^-1/2), and the O(1/n) mean shift ``c``."""

    __slots__ = ("mu", "lin", "c")

    def __init__(self, mu, lin, c):
        self.mu, self.lin, self.c = np.asarray(mu, float), np.asarray(lin, float), np.asarray(c, float)

    @classmethod
    def const(cls, mu, D):
        mu = np.asarray(mu, float)
        return cls(mu, np.zeros(mu.shape + (D,)), np.zeros(mu.shape))

    def __add__(self, o):
        if isinstance(o, _Jet):
            return _Jet(self.mu + o.mu, self.lin + o.lin, self.c + o.c)
        return _Jet(self.mu + o, self.lin, self.c)

    def scale(self, s):
        s = np.asarray(s, float)
        return _Jet(self.mu * s, self.lin * s[..., None] if s.ndim else self.lin * s, self.c * s)

    def __mul__(self, o):
        # E[XY] = E X E Y + Cov(X, Y): the covariance of the linear parts is an O(1/n) mean term
        return _Jet(self.mu * o.mu, self.mu[..., None] * o.lin + o.mu[..., None] * self.lin,
                    self.mu * o.c + o.mu * self.c + np.sum(self.lin * o.lin, axis=-1))

    def take(self, idx):
        ix = np.ix_(idx, idx)
        return _Jet(self.mu[ix], self.lin[ix], self.c[ix])


class _Layer:
    """Gaussian expectations at one hidden layer, z ~ N(0, Kbar): values and K-derivatives (Hermite weights)."""

    def __init__(self, act, K, sigma_b2):
        self.K = K
        self.z, self.w = _gauss_grid(K, act.kinks)
        self.phi, self.dphi = act.phi(self.z), act.dphi(self.z)
        self.Kinv = np.linalg.inv(K)
        self.y = self.z @ self.Kinv
        T = K.shape[0]
        self.A = (self.y[:, :, None] * self.y[:, None, :] - self.Kinv).reshape(-1, T * T)
        # u = z - b (b the unit's bias): E[b | z] = sigma_b^2 1'K^-1 z, Var[b | z] = sigma_b^2 - sigma_b^4 1'K^-1 1
        one = np.ones(T)
        self.mb = sigma_b2 * (self.y @ one)
        self.vb = sigma_b2 - sigma_b2 ** 2 * float(one @ self.Kinv @ one)

    def E(self, g):
        return np.einsum("p,p...->...", self.w, g)

    def expect_jet(self, g, Kjet: _Jet) -> _Jet:
        r""":math:`E_{K}[g(z)]` at the random kernel ``Kjet``: :math:`\partial_\Delta p/p = \frac12\mathrm{tr}(\Delta A)`,
        :math:`\partial^2_\Delta p/p = (\frac12\mathrm{tr}\Delta A)^2 - y^\top\Delta K^{-1}\Delta y + \frac12\mathrm{tr}(K^{-1}\Delta K^{-1}\Delta)`
        with :math:`y = K^{-1}z`, :math:`A = yy^\top - K^{-1}` (derivatives of the Gaussian density, no derivative of g)."""
        T = self.K.shape[0]
        lin = Kjet.lin.reshape(T * T, -1)
        # einsum, not BLAS matmul: the products are small and a multithreaded BLAS spins on a loaded machine
        s = 0.5 * np.einsum("pi,ik->pk", self.A, lin)            # (m, D)
        dy = np.einsum("ijk,pj->pik", Kjet.lin, self.y)          # Delta_k y
        quad = (s * s - np.einsum("pik,il,plk->pk", dy, self.Kinv, dy)).sum(axis=1)
        KD = np.einsum("ij,jlk->ilk", self.Kinv, Kjet.lin)
        quad = quad + 0.5 * np.einsum("ijk,jik->", KD, KD)
        wg = self.w[:, None] * g.reshape(g.shape[0], -1)
        mu = self.E(g)
        lin_out = np.einsum("pf,pk->fk", wg, s).reshape(mu.shape + (-1,))
        c = np.einsum("pf,p->f", wg, 0.5 * np.einsum("pi,i->p", self.A, Kjet.c.reshape(-1)) + 0.5 * quad).reshape(mu.shape)
        return _Jet(mu, lin_out, c)


def _pairs(v):
    # per-point outer products v_a v_b, shape (m, T, T)
    return v[:, :, None] * v[:, None, :]


_CHUNK = 2**21   # grid points per chunk of the four-point sums (chunk x T^2 x 8 bytes stays below 300 MiB)


class _HiddenLayer:
    r"""Every Gaussian expectation of one hidden layer for :math:`T` inputs, :math:`z\sim N(0, K)`, :math:`K` of size T.

    The integrands are products of functions of single coordinates (:math:`\phi`, :math:`\phi'`, and
    :math:`u = z - E[b\,|\,z]`, linear), with at most four distinct inputs, and their expectations depend
    only on the marginal of the coordinates involved.  So two-point expectations and their K-jets are
    taken on the exact one- and two-dimensional rules of each pair (:class:`_Layer`), and four-point ones
    on a kink-exact rule of the set :math:`S` of distinct inputs of each entry (:func:`_nested_grid` beyond
    two), with :math:`E[b\,|\,z_S]`, :math:`\operatorname{Var}[b\,|\,z_S]` of that set (the tower property gives
    the same :math:`E[(z_c - b)(z_d - b)\,g(z_S)]`).  A tensor Gauss–Hermite rule in a whitened basis,
    tried before for :math:`T = 3`, ignores the kinks of :math:`\phi` and the jumps of :math:`\phi'`
    (planes not aligned with its nodes) and converges only algebraically: 3 % (relu) off at degree 28;
    for tanh (0.03 %) a global polynomial rule is limited by the poles of tanh at distance
    :math:`\pi/2` from the real axis, which the short pieces of the sequential rule resolve.
    """

    def __init__(self, act, K, sigma_b2):
        self.act, self.K, self.sb, self.T = act, K, float(sigma_b2), K.shape[0]
        self._pairs = {}
        for a in range(self.T):
            for b in range(a, self.T):
                idx = [a] if a == b else [a, b]
                self._pairs[a, b] = (idx, _Layer(act, K[np.ix_(idx, idx)], sigma_b2))
        self._four = None

    def two(self, which: str) -> np.ndarray:
        """E[f_a f_b] for f = phi ('phi') or phi' ('dphi'), shape (T, T)."""
        out = np.empty((self.T, self.T))
        for (a, b), (idx, lay) in self._pairs.items():
            f = getattr(lay, which)
            v = lay.E(f[:, 0] * f[:, -1])
            out[a, b] = out[b, a] = v
        return out

    def two_jet(self, which: str, Kjet: _Jet) -> _Jet:
        """The jet of E_K[f_a f_b] at the random kernel ``Kjet`` (T x T), pair by pair."""
        D = Kjet.lin.shape[-1]
        mu, lin, c = np.empty((self.T, self.T)), np.empty((self.T, self.T, D)), np.empty((self.T, self.T))
        for (a, b), (idx, lay) in self._pairs.items():
            f = getattr(lay, which)
            j = lay.expect_jet(_pairs(f), Kjet.take(idx))
            i = len(idx) - 1
            for (p, q) in ((a, b), (b, a)):
                mu[p, q], lin[p, q], c[p, q] = j.mu[0, i], j.lin[0, i], j.c[0, i]
        return _Jet(mu, lin, c)

    def four(self) -> dict:
        """Four-point tensors (T^4 each): ``pppp`` E[phi phi phi phi], ``ppdd`` E[phi_a phi_b phi'_c phi'_d],
        ``dddd``; ``M`` (T^3) E[u_c phi'_a phi_e]; ``UU`` E[(z_c - b)(z_d - b) phi'_a phi'_b].

        Each entry is taken on the rule of exactly its set of distinct inputs (1-2: the exact rules of
        :func:`_gauss_grid`; 3 and 4: :func:`_nested_grid`), so the entries over a subset of the inputs
        do not depend on the other inputs (the T-input result restricted to a subset *is* the result for
        that subset), and only the entries the symmetries of each tensor leave distinct are integrated."""
        if self._four is not None:
            return self._four
        T = self.T
        out = {k: np.empty((T,) * 4) for k in ("pppp", "ppdd", "dddd", "UU")}
        out["M"] = np.empty((T,) * 3)
        # group every entry by its set of distinct inputs; key = canonical local index tuple
        todo: dict = {}
        for name, arr in out.items():
            for idx in itertools.product(range(T), repeat=arr.ndim):
                D = tuple(sorted(set(idx)))
                loc = tuple(D.index(i) for i in idx)
                todo.setdefault(D, []).append((name, idx, _canonical(name, loc)))
        dd2 = self.two("dphi")
        for D, entries in todo.items():
            vals, vb = self._integrate(list(D), sorted({(e[0], e[2]) for e in entries}))
            for name, idx, key in entries:
                v = vals[name, key]
                if name == "UU":
                    # E[(z_c - b)(z_d - b) | z_D] = u_c u_d + Var[b | z_D] (tower property)
                    v = v + vb * dd2[idx[2], idx[3]]
                out[name][idx] = v
        self._four = out
        return out

    def _integrate(self, S, keys) -> tuple[dict, float]:
        """The integrals ``keys`` ((tensor, local index tuple)) on the rule of the inputs ``S``, and Var[b | z_S]."""
        KS = self.K[np.ix_(S, S)]
        s = len(S)
        if s <= 2:
            z, w = _gauss_grid(KS, self.act.kinks)
        else:
            # 3-D: 8 nodes per unit piece, about 1 M points, relative errors ~1e-8 (closed forms, tests;
            # 1e-7 at correlations 0.8-0.9); 4-D: 6 nodes per piece of 2 standard deviations, about 8.5 M
            # points, 1e-5 (relu) to 3e-4 (tanh) at correlations 0.8-0.9 - far below Monte Carlo resolution
            z, w = _nested_grid(KS, self.act.kinks, 8, 1.0) if s == 3 else _nested_grid(KS, self.act.kinks, 6, 2.0)
        bvec = self.sb * np.linalg.solve(KS, np.ones(s))           # E[b | z_S] = z_S . bvec
        vb = self.sb - self.sb * float(np.ones(s) @ bvec)
        acc = dict.fromkeys(keys, 0.0)
        step = _CHUNK // 16
        for i0 in range(0, w.size, step):
            zc, wc = z[i0:i0 + step], w[i0:i0 + step]
            # rows per input (contiguous) and the weight folded into the first factor: one product chain
            # and a dot per integral
            cols = {"p": np.ascontiguousarray(self.act.phi(zc).T), "d": np.ascontiguousarray(self.act.dphi(zc).T),
                    "u": np.ascontiguousarray((zc - (zc @ bvec)[:, None]).T)}
            buf = np.empty_like(wc)
            for name, key in keys:
                kinds = _KINDS[name]
                np.multiply(wc, cols[kinds[0]][key[0]], out=buf)
                for kind, i in zip(kinds[1:-1], key[1:-1]):
                    buf *= cols[kind][i]
                buf *= cols[kinds[-1]][key[-1]]
                acc[name, key] += float(buf.sum())
        return acc, vb


# the factor of each index of the four-point tensors (p: phi, d: phi', u: z - E[b | z]) and the groups of
# indices the tensor is symmetric in
_KINDS = {"pppp": "pppp", "dddd": "dddd", "ppdd": "ppdd", "UU": "uudd", "M": "udp"}
_SYMMETRIC = {"pppp": ((0, 1, 2, 3),), "dddd": ((0, 1, 2, 3),), "ppdd": ((0, 1), (2, 3)), "UU": ((0, 1), (2, 3)),
              "M": ((0,), (1,), (2,))}


def _canonical(name, loc):
    return tuple(i for grp in _SYMMETRIC[name] for i in sorted(loc[j] for j in grp))


@dataclass(frozen=True)
class NTKFiniteWidth:
    r"""Finite-width mean and covariance of the empirical NTK (standard parameterisation) to O(1/n).

    Arrays are indexed by :math:`\alpha = a\,C + k` (input :math:`a`, output :math:`k`), the row order of
    :meth:`nn_spectra.MLP.empirical_ntk`.

    Attributes
    ----------
    mean_infinite : ndarray (TC, TC)
        :math:`\Theta^{(\infty)}` (the infinite-width NTK, standard parameterisation, at these widths).
    mean : ndarray (TC, TC)
        :math:`E\Theta = \Theta^{(\infty)} + \Delta/n + O(n^{-2})`, ``mean - mean_infinite`` the 1/n shift.
    cov : ndarray (TC, TC, TC, TC)
        :math:`\operatorname{Cov}(\Theta_{\alpha\beta}, \Theta_{\gamma\delta})`, leading order (:math:`O(1/n)` relative).
    widths, n_inputs, n_outputs
        The setting.
    """

    mean_infinite: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    widths: tuple
    n_inputs: int
    n_outputs: int

    @property
    def var(self) -> np.ndarray:
        """Variance of every entry, shape (TC, TC)."""
        d = self.mean.shape[0]
        return np.einsum("abab->ab", self.cov.reshape(d, d, d, d))


def ntk_finite_width(widths: Sequence[int], X, act="relu", sigma_w2: float = 2.0, sigma_b2: float = 0.0,
                     n_outputs: int | None = None) -> NTKFiniteWidth:
    r"""O(1/width) mean shift and leading covariance of the empirical NTK, any activation, biases, inputs, outputs.

    Setting as :class:`nn_spectra.MLP`: :math:`z^l = W^lh^{l-1} + b^l`, :math:`h^l = \phi(z^l)`, :math:`f = z^L`,
    :math:`W^l_{ij}\sim N(0,\sigma_w^2/n_{l-1})`, :math:`b^l_i\sim N(0,\sigma_b^2)`; :math:`\Theta_{(a,k),(b,k')} =
    \sum_\theta\partial_\theta f_k(x_a)\partial_\theta f_{k'}(x_b) = \sum_l B^l_{\alpha\beta}(1 + n_{l-1}G^{l-1}_{ab})`
    with :math:`G^l = h^l_a\cdot h^l_b/n_l` and :math:`B^l_{\alpha\beta} = \delta^l_\alpha\cdot\delta^l_\beta`,
    :math:`\delta^l = \partial f_k(x_a)/\partial z^l`.

    Method (derived here; the same order as Roberts–Yaida–Hanin's NTK recursions, organised differently).
    Given layer :math:`l-1`, the units of layer :math:`l` are i.i.d., :math:`z_j\sim N(0, K^l)`,
    :math:`K^l = \sigma_b^2 + \sigma_w^2G^{l-1}`.  Backwards, split :math:`W^{l+1}` into its part on the span
    of the columns of :math:`H = h^l` (fixed by :math:`z^{l+1} - b^{l+1}`) and an independent Gaussian
    remainder :math:`\tilde W(I - P)`.  With :math:`\xi_\alpha = \tilde W^\top\delta^{l+1}_\alpha`,
    :math:`\operatorname{Cov}(\xi_{j\alpha},\xi_{j\beta}) = \sigma_w^2B^{l+1}_{\alpha\beta}/n_l`,

    .. math:: \delta^l_\alpha = \phi'(z_a)\odot\big[H(H^\top H)^{-1}C^{l+1}_{\cdot\alpha} + (I - P)\xi_\alpha\big],

    (Euler's identity :math:`C = f` of a zero-bias relu net is the special case).  Expanding every
    average over units as its mean plus a Gaussian :math:`O(n^{-1/2})` fluctuation (covariances from
    4-point Gaussian expectations) and keeping :math:`O(1/n)`:

    * forward: :math:`G^l = E_{K^l}[\phi\phi^\top] + \epsilon^l`, the expectation taken at the random
      :math:`K^l` to second order (derivatives of the Gaussian density in :math:`K`);
    * backward: :math:`B^l = \sigma_w^2\big[(E_{K^l}[\phi'_a\phi'_b] + \epsilon'^l)B^{l+1} + \eta^l\big] +
      \frac1{n_l}\big[\mathrm{tr}(G^{-1}Q_{ab}G^{-1}S^{l+1}_{\alpha\beta}) - \sigma_w^2B^{l+1}_{\alpha\beta}\mathrm{tr}(G^{-1}Q_{ab})\big]`,
      :math:`Q_{ab} = E[\phi'_a\phi'_b\phi\phi^\top]`, the first bracket the span part (:math:`\chi^2_{B}\to` the
      :math:`f^2/a` term for relu), the second the projection (:math:`\chi^2_B\to\chi^2_{B-1}`);
    * :math:`S^{l} = \operatorname{Cov}(C^{l})` at leading order (a linear Gaussian chain):
      :math:`S^L = \sigma_w^2G^{L-1}\delta_{kk'}`, :math:`C^l_{c\alpha} = M_{ca}^\top G^{-1}(C^{l+1}_\alpha - H^\top\xi_\alpha)
      + \sum_j u_{jc}\phi'_{ja}\xi_{j\alpha}`, :math:`M_{ca} = E[u_c\phi'_a\phi]`, :math:`u = z - b`;
    * :math:`E\Theta` and :math:`\operatorname{Cov}\Theta` by the delta method on these jets (mean +
      linear fluctuation + 1/n shift), which carries every correlation between layers and between the
      forward and backward passes.

    Checks (tests): for zero-bias relu and one input it gives no mean shift and the :math:`D/n` of the
    exact :func:`ntk_diagonal_moments` (an independent route); otherwise Monte Carlo over real networks.

    Parameters
    ----------
    widths : sequence of int
        :math:`n_0,\dots,n_L`; ``n_L`` is the number of outputs unless ``n_outputs`` is given.
    X : array (T, n_0)
        Inputs, any :math:`T` (the Gaussian expectations involve at most four distinct inputs: kink-exact
        rules in one to four dimensions, one per set of at most four inputs, each four-dimensional one a
        few seconds).
    act, sigma_w2, sigma_b2
        Activation (name or :class:`~nn_spectra.activations.Activation`) and variances.

    Examples
    --------
    >>> r = ntk_finite_width([64, 64, 64, 1], np.ones((1, 64)))
    >>> float(np.round(r.mean_infinite[0, 0], 6)), float(np.round(r.mean[0, 0], 6))   # relu: no 1/n shift
    (195.0, 195.0)
    >>> round(float(r.var[0, 0] / r.mean[0, 0] ** 2), 4)      # exact: 0.1022 (ntk_diagonal_moments)
    0.0992
    """
    from .activations import activation as _activation

    w = _check(widths, sigma_w2, 1.0)
    if not (np.isfinite(sigma_b2) and sigma_b2 >= 0):
        raise ValueError(f"sigma_b2 must lie in [0, inf), got {sigma_b2!r}")
    X = np.atleast_2d(np.asarray(X, float))
    if X.ndim != 2 or X.shape[1] != w[0]:
        raise ValueError(f"X must have shape (T, n_0={w[0]}), got {np.shape(X)}")
    T = X.shape[0]
    C = w[-1] if n_outputs is None else int(n_outputs)
    if C < 1:
        raise ValueError(f"n_outputs must be >= 1, got {n_outputs!r}")
    L = len(w) - 1
    if min(w[1:L], default=T) < T:
        raise ValueError(f"hidden widths must be >= the number of inputs T={T}, got {w}")
    phi = _activation(act) if not hasattr(act, "kinks") else act
    sw, sb = float(sigma_w2), float(sigma_b2)
    inp = np.repeat(np.arange(T), C)
    outk = np.tile(np.arange(C), T)
    TC = T * C

    # infinite-width chain and the quadrature of every hidden layer
    G0 = X @ X.T / w[0]
    if np.linalg.matrix_rank(sb + sw * G0) < T:
        raise ValueError("the inputs give a singular kernel sigma_b^2 + sigma_w^2 X X^T / n_0: use distinct, non-parallel inputs")
    Gbar, layers = [G0], [None]
    for l in range(1, L):
        lay = _HiddenLayer(phi, sb + sw * Gbar[-1], sb)
        layers.append(lay)
        Gbar.append(lay.two("phi"))
    Bbar = [None] * (L + 1)
    Bbar[L] = (outk[:, None] == outk[None, :]).astype(float)
    for l in range(L - 1, 0, -1):
        Bbar[l] = sw * layers[l].two("dphi")[np.ix_(inp, inp)] * Bbar[l + 1]

    # noise of every hidden layer: averages over its n_l units of [phi phi^T, phi' phi'^T] and of
    # phi'_a phi'_b (zeta_alpha zeta_beta - B_alpha beta), zeta ~ N(0, B^{l+1}) independent of z
    roots, offs, D = [None], [0], 0
    for l in range(1, L):
        lay, f4 = layers[l], layers[l].four()
        m = np.concatenate([Gbar[l].ravel(), lay.two("dphi").ravel()])
        pd = f4["ppdd"].reshape(T * T, T * T)
        cov_f = np.block([[f4["pppp"].reshape(T * T, T * T), pd], [pd.T, f4["dddd"].reshape(T * T, T * T)]]) \
            - np.outer(m, m)
        d4 = f4["dddd"][np.ix_(inp, inp, inp, inp)]
        Bn = Bbar[l + 1]
        cov_z = d4 * (np.einsum("ac,bd->abcd", Bn, Bn) + np.einsum("ad,bc->abcd", Bn, Bn))
        r = []
        for cv in (cov_f, cov_z.reshape(TC * TC, TC * TC)):
            ev, U = np.linalg.eigh(cv / w[l])
            keep = ev > ev.max() * 1e-13 if ev.max() > 0 else ev > 0
            r.append(U[:, keep] * np.sqrt(ev[keep]))
        roots.append(r)
        offs.append(D)
        D += r[0].shape[1] + r[1].shape[1]

    def noise(l, which):
        R = roots[l][which]
        lin = np.zeros((R.shape[0], D))
        start = offs[l] + (0 if which == 0 else roots[l][0].shape[1])
        lin[:, start:start + R.shape[1]] = R
        return lin

    # forward jets
    G = [_Jet.const(G0, D)]
    Dp = [None]
    for l in range(1, L):
        lay = layers[l]
        Kj = G[-1].scale(sw) + sb
        nf = noise(l, 0)
        g = lay.two_jet("phi", Kj)
        g.lin = g.lin + nf[:T * T].reshape(T, T, D)
        G.append(g)
        p = lay.two_jet("dphi", Kj)
        p.lin = p.lin + nf[T * T:].reshape(T, T, D)
        Dp.append(p)

    # cross chain S^l = Cov(C^l) (leading order), stored as (c, alpha, d, beta)
    S = [None] * (L + 1)
    S[L] = sw * np.einsum("cd,ab->cadb", Gbar[L - 1], Bbar[L])
    corr = [None] * (L + 1)
    for l in range(L - 1, 0, -1):
        f4 = layers[l].four()
        Gi = np.linalg.inv(Gbar[l])
        Q = f4["ppdd"].transpose(2, 3, 0, 1)                                               # E[phi'_a phi'_b phi_c phi_d]
        GQG = np.einsum("ce,abef,fd->abcd", Gi, Q, Gi)[np.ix_(inp, inp)]                 # (alpha, beta, c, d)
        trGQ = np.einsum("cd,abdc->ab", Gi, Q)[np.ix_(inp, inp)]
        corr[l] = (np.einsum("abcd,cadb->ab", GQG, S[l + 1]) - sw * Bbar[l + 1] * trGQ) / w[l]
        if l > 1:
            M, UU = f4["M"], f4["UU"]            # E[u_c phi'_a phi_e], E[(z_c - b)(z_d - b) phi'_a phi'_b]
            N = np.einsum("cae,ef->caf", M, Gi)[:, inp]                                   # (c, alpha, e)
            Sn = np.einsum("cae,eafb,dbf->cadb", N, S[l + 1], N)
            fresh = UU - np.einsum("cae,ef,dbf->cdab", M, Gi, M)                          # (c, d, a, b)
            S[l] = Sn + sw * fresh[:, :, inp][:, :, :, inp].transpose(0, 2, 1, 3) * Bbar[l + 1][None, :, None, :]

    # backward jets and the NTK
    B = _Jet.const(Bbar[L], D)
    theta = B * (G[L - 1].take(inp).scale(w[L - 1]) + 1.0)
    for l in range(L - 1, 0, -1):
        eta = _Jet(np.zeros((TC, TC)), noise(l, 1).reshape(TC, TC, D), np.zeros((TC, TC)))
        B = (Dp[l].take(inp) * B + eta).scale(sw)
        B.c = B.c + corr[l]          # an O(1/n) mean shift, not part of the infinite-width value
        theta = theta + B * (G[l - 1].take(inp).scale(w[l - 1]) + 1.0)
    cov = np.einsum("abk,cdk->abcd", theta.lin, theta.lin)
    return NTKFiniteWidth(mean_infinite=theta.mu, mean=theta.mu + theta.c, cov=cov, widths=tuple(w),
                          n_inputs=T, n_outputs=C)


def sample_ntk(widths: Sequence[int], X, trials: int, act="relu", sigma_w2: float = 2.0, sigma_b2: float = 0.0,
               rng=None) -> np.ndarray:
    r"""Monte Carlo of the empirical NTK (standard parameterisation) over real :class:`~nn_spectra.MLP` networks.

    Returns shape ``(trials, T C, T C)`` (row index :math:`a C + k`), the inputs ``X`` fixed.

    >>> sample_ntk([3, 8, 2], np.eye(3)[:2], trials=2, act="tanh", sigma_w2=1.5, sigma_b2=0.1, rng=0).shape
    (2, 4, 4)
    """
    from .mlp import MLP

    w = _check(widths, sigma_w2, 1.0)
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    X = np.atleast_2d(np.asarray(X, float))
    gen = np.random.default_rng(rng)
    out = []
    for _ in range(int(trials)):
        net = MLP(w, act, float(sigma_w2), float(sigma_b2), weights="gaussian", rng=gen)
        th = net.empirical_ntk(X, parameterization="standard")
        out.append(np.atleast_2d(th))
    return np.array(out)


def fim_statistics_finite_width(widths: Sequence[int], X, act="relu", sigma_w2: float = 2.0,
                                sigma_b2: float = 0.0, ntk: NTKFiniteWidth | None = None) -> dict:
    r"""Karakida's FIM statistics with their leading 1/width correction, from :func:`ntk_finite_width`.

    The empirical Fisher information of the :math:`T` inputs ``X`` (unit output noise) shares its nonzero
    spectrum with :math:`\Theta/T` (:mod:`nn_spectra.fisher`); :math:`P = \sum_l n_l(n_{l-1} + 1)`.  With
    :math:`\bar\Theta = E\Theta` and :math:`\operatorname{Cov}\Theta` to :math:`O(1/n)`:

    * mean eigenvalue :math:`E m_\lambda = \operatorname{tr}\bar\Theta/(TP)` (exact in :math:`\bar\Theta`);
    * second moment :math:`E s_\lambda = \sum_{\alpha\beta}(\bar\Theta_{\alpha\beta}^2 + \operatorname{Var}\Theta_{\alpha\beta})/(T^2P)`;
    * top cluster: at infinite width :math:`\Theta = \Theta_T\otimes I_C` has its top eigenvalue :math:`C` times
      (eigenvectors :math:`v_i`, :math:`i\in I`); by second-order perturbation theory
      :math:`E\sum_{i\in I}\lambda_i = \operatorname{tr}(V_I^\top\bar\Theta V_I) + \sum_{i\in I,k\notin I}
      E[(v_k^\top\Delta v_i)^2]/(\lambda_i - \lambda_k) + O(n^{-1})` relative :math:`O(n^{-2})`.
      ``top_mean`` :math:`= E\sum_{i\in I}\lambda_i/(CT)`; for one output it is :math:`E\lambda_{\max}`
      (``lambda_max``).
    * the largest of the :math:`C` split outliers (:func:`top_cluster_split`): to order :math:`n^{-1/2}` the
      cluster is :math:`\lambda + \operatorname{eig}(M)`, :math:`M = V_I^\top\Delta V_I` a :math:`C\times C`
      Gaussian matrix whose covariance is that of :math:`\Theta` projected on the cluster, so
      ``top_max`` :math:`= E\lambda_{\max}/T = ` ``top_mean`` :math:`+ E[\lambda_{\max}(M) - \operatorname{tr}M/C]/T`:
      an upward bias of order :math:`n^{-1/2}` (for a GOE-like :math:`M`, :math:`\sigma\sqrt{\pi/2}\cdot\frac12`
      at :math:`C = 2`), correct up to :math:`O(1/n)` relative (the part of the :math:`O(1/n)` terms
      that is not a multiple of the identity on the cluster is not included); ``top_max_sd`` the standard
      deviation of :math:`\lambda_{\max}/T`, ``top_spread`` :math:`E(\lambda_1 - \lambda_C)/T` (both leading
      order).  For :math:`C = 1`, ``top_max`` is ``lambda_max`` and the spread 0.

    Returns a dict with ``mean``, ``second_moment``, ``top_mean`` (and ``lambda_max`` when :math:`C = 1`),
    each also as ``*_infinite``, ``top_max`` (and ``top_max_infinite``), ``top_max_sd``, ``top_spread``, and
    ``n_params``.

    >>> X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> s = fim_statistics_finite_width([3, 200, 200, 1], X, "tanh", 1.5, 0.1)
    >>> bool(abs(s["lambda_max"] / s["lambda_max_infinite"] - 1) < 0.02)
    True
    """
    X = np.atleast_2d(np.asarray(X, float))
    r = ntk_finite_width(widths, X, act, sigma_w2, sigma_b2) if ntk is None else ntk
    w, T, C = list(r.widths), r.n_inputs, r.n_outputs
    w[-1] = C
    P = sum(w[l + 1] * (w[l] + 1) for l in range(len(w) - 1))
    th0, th = r.mean_infinite, r.mean
    d = th.shape[0]
    cov = r.cov.reshape(d, d, d, d)
    lam, V = np.linalg.eigh(th0)
    order = np.argsort(lam)[::-1]
    lam, V = lam[order], V[:, order]
    top = V[:, :C]
    if d > C and not lam[C - 1] - lam[C] > 1e-9 * abs(lam[0]):
        raise ValueError("the infinite-width NTK has no gap below its top C eigenvalues: perturbation theory does not apply")
    second = 0.0
    for i in range(C):
        for k in range(C, d):
            e2 = np.einsum("a,b,c,d,abcd->", V[:, k], V[:, i], V[:, k], V[:, i], cov)
            second += e2 / (lam[i] - lam[k])
    top_sum = float(np.trace(top.T @ th @ top)) + second
    split = top_cluster_split(cov, top)
    out = {"mean": float(np.trace(th)) / (T * P), "mean_infinite": float(np.trace(th0)) / (T * P),
           "second_moment": float(np.sum(th ** 2) + np.sum(r.var)) / (T * T * P),
           "second_moment_infinite": float(np.sum(th0 ** 2)) / (T * T * P),
           "top_mean": top_sum / (C * T), "top_mean_infinite": float(np.sum(lam[:C])) / (C * T), "n_params": P,
           "top_max": (top_sum / C + split.max_excess) / T, "top_max_infinite": float(lam[0]) / T,
           "top_max_sd": split.max_sd / T, "top_spread": split.spread / T}
    if C == 1:
        out["lambda_max"], out["lambda_max_infinite"] = out["top_mean"], out["top_mean_infinite"]
    return out


@dataclass(frozen=True)
class TopClusterSplit:
    r"""Leading-order law of the split of a :math:`C`-fold top eigenvalue, :math:`\lambda + \operatorname{eig}(M)`.

    ``cov`` is the covariance of the entries of :math:`M` (shape ``(C, C, C, C)``); ``max_excess`` is
    :math:`E[\lambda_{\max}(M) - \operatorname{tr}M/C]` (the upward bias of the largest over the cluster
    mean), ``max_sd`` the standard deviation of :math:`\lambda_{\max}(M)`, ``spread``
    :math:`E[\lambda_{\max}(M) - \lambda_{\min}(M)]`, and ``rule_error`` a bound on the integration error
    of ``max_excess`` (three standard errors of the randomised rule).
    """

    cov: np.ndarray
    max_excess: float
    max_sd: float
    spread: float
    rule_error: float


def top_cluster_split(cov, V_top, points: int = 2**15) -> TopClusterSplit:
    r"""Law of :math:`\operatorname{eig}(V^\top\Delta V)` for a zero-mean Gaussian symmetric :math:`\Delta`.

    Degenerate perturbation theory: if :math:`\Theta = \bar\Theta + \Delta` and :math:`\bar\Theta` has the
    eigenvalue :math:`\lambda` on the orthonormal columns of ``V_top`` (:math:`d\times C`), the :math:`C`
    eigenvalues of :math:`\Theta` near :math:`\lambda` are :math:`\lambda + \operatorname{eig}(M) + O(\|\Delta\|^2)`,
    :math:`M = V^\top\Delta V`.  :math:`M` is Gaussian with
    :math:`\operatorname{Cov}(M_{kl}, M_{mn}) = \sum V_{ak}V_{bl}V_{cm}V_{dn}\operatorname{Cov}(\Delta_{ab},\Delta_{cd})`;
    the expectations of its extreme eigenvalues are integrals over its :math:`C(C+1)/2` entries, done by
    a scrambled Sobol rule of fixed seed (``points`` points; ``rule_error`` is three standard errors
    over eight independent scramblings).

    Parameters
    ----------
    cov : array (d, d, d, d)
        :math:`\operatorname{Cov}(\Delta_{ab}, \Delta_{cd})` (e.g. :attr:`NTKFiniteWidth.cov`).
    V_top : array (d, C)

    Examples
    --------
    GOE(2) (diagonal variance 2, off-diagonal 1): :math:`\lambda_{\max} - \operatorname{tr}/2` is Rayleigh
    with scale 1, mean :math:`\sqrt{\pi/2} = 1.2533`:

    >>> d = 2; I = np.eye(d)
    >>> cov = np.einsum("ac,bd->abcd", I, I) + np.einsum("ad,bc->abcd", I, I)
    >>> round(top_cluster_split(cov, I).max_excess, 3)
    1.253
    """
    from scipy.special import ndtri
    from scipy.stats import qmc

    V = np.asarray(V_top, float)
    if V.ndim != 2 or V.shape[1] < 1 or V.shape[1] > V.shape[0]:
        raise ValueError(f"V_top must have shape (d, C) with 1 <= C <= d, got {np.shape(V_top)}")
    d, C = V.shape
    cov = np.asarray(cov, float).reshape(d, d, d, d)
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 64:
        raise ValueError(f"points must be an integer >= 64, got {points!r}")
    covM = np.einsum("ak,bl,cm,dn,abcd->klmn", V, V, V, V, cov, optimize=True)
    iu = np.triu_indices(C)
    ce = covM[iu[0], iu[1]][:, iu[0], iu[1]]
    ev, U = np.linalg.eigh(0.5 * (ce + ce.T))
    root = U * np.sqrt(np.clip(ev, 0.0, None))
    stats = []
    for seed in range(8):
        u = qmc.Sobol(d=len(iu[0]), scramble=True, seed=seed).random(points // 8)
        e = ndtri(np.clip(u, 1e-16, 1 - 1e-16)) @ root.T
        M = np.zeros((e.shape[0], C, C))
        M[:, iu[0], iu[1]] = e
        M[:, iu[1], iu[0]] = e
        lam = np.linalg.eigvalsh(M)
        stats.append([np.mean(lam[:, -1] - lam.mean(axis=1)), np.mean(lam[:, -1] ** 2) - np.mean(lam[:, -1]) ** 2,
                      np.mean(lam[:, -1] - lam[:, 0])])
    stats = np.array(stats)
    m = stats.mean(axis=0)
    return TopClusterSplit(cov=covM, max_excess=float(m[0]), max_sd=float(np.sqrt(max(m[1], 0.0))), spread=float(m[2]),
                           rule_error=float(3 * stats[:, 0].std(ddof=1) / np.sqrt(len(stats))))
