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
one or two inputs, several outputs.  No exact representation, but the :math:`O(1/n)` mean shift and the
leading covariance of every NTK entry follow from a delta method over the averages over units of each
layer, with the backward pass split into the part of :math:`W^{l+1}` fixed by the forward pass and an
independent remainder (the generalisation of the Euler-identity step above); the same order as the NTK
recursions of Roberts–Yaida–Hanin (*The Principles of Deep Learning Theory*, ch. 8–9), organised as
jets (mean, linear fluctuation, 1/n shift).  For zero-bias relu and linear networks and one input it
reproduces the exact results above (no mean shift, :math:`D/n`); the remainder is :math:`O(1/n^2)`.
Not covered: three or more inputs (the Gaussian expectations would need kink-exact quadrature in
three and more dimensions), and the :math:`O(n^{-1/2})` upward bias of the largest of the :math:`C`
split top eigenvalues for several outputs (the mean of the top :math:`C` is given).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy.stats import binom

__all__ = ["NTKDiagonalMoments", "ntk_diagonal_moments", "fim_statistics_one_input", "sample_ntk_diagonal",
           "NTKFiniteWidth", "ntk_finite_width", "sample_ntk", "fim_statistics_finite_width"]

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
    closed-form arccos kernels to 1e-15).  A tensor Gauss–Hermite rule for T = 3 was tried and rejected:
    0.03 % (tanh) to 3 % (relu) error at degree 28.
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
        Inputs, :math:`T\le 2` (the Gaussian expectations are over :math:`T`-dimensional Gaussians, computed
        by a kink-exact rule in one and two dimensions; more inputs raise ``ValueError``).
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
    if T > 2:
        raise ValueError(f"X must hold at most 2 inputs (T <= 2: kink-exact quadrature), got T={T}")
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
        lay = _Layer(phi, sb + sw * Gbar[-1], sb)
        layers.append(lay)
        Gbar.append(lay.E(_pairs(lay.phi)))
    Bbar = [None] * (L + 1)
    Bbar[L] = (outk[:, None] == outk[None, :]).astype(float)
    for l in range(L - 1, 0, -1):
        Bbar[l] = sw * layers[l].E(_pairs(layers[l].dphi))[np.ix_(inp, inp)] * Bbar[l + 1]

    # noise of every hidden layer: averages over its n_l units of [phi phi^T, phi' phi'^T] and of
    # phi'_a phi'_b (zeta_alpha zeta_beta - B_alpha beta), zeta ~ N(0, B^{l+1}) independent of z
    roots, offs, D = [None], [0], 0
    for l in range(1, L):
        lay = layers[l]
        v = np.concatenate([_pairs(lay.phi).reshape(-1, T * T), _pairs(lay.dphi).reshape(-1, T * T)], axis=1)
        m = lay.E(v)
        cov_f = lay.E(v[:, :, None] * v[:, None, :]) - np.outer(m, m)
        d4 = lay.E(np.einsum("pa,pb,pc,pd->pabcd", lay.dphi, lay.dphi, lay.dphi, lay.dphi))[np.ix_(inp, inp, inp, inp)]
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
        g = lay.expect_jet(_pairs(lay.phi), Kj)
        g.lin = g.lin + nf[:T * T].reshape(T, T, D)
        G.append(g)
        p = lay.expect_jet(_pairs(lay.dphi), Kj)
        p.lin = p.lin + nf[T * T:].reshape(T, T, D)
        Dp.append(p)

    # cross chain S^l = Cov(C^l) (leading order), stored as (c, alpha, d, beta)
    S = [None] * (L + 1)
    S[L] = sw * np.einsum("cd,ab->cadb", Gbar[L - 1], Bbar[L])
    corr = [None] * (L + 1)
    for l in range(L - 1, 0, -1):
        lay = layers[l]
        Gi = np.linalg.inv(Gbar[l])
        Q = lay.E(np.einsum("pa,pb,pc,pd->pabcd", lay.dphi, lay.dphi, lay.phi, lay.phi))   # (a, b, c, d)
        GQG = np.einsum("ce,abef,fd->abcd", Gi, Q, Gi)[np.ix_(inp, inp)]                 # (alpha, beta, c, d)
        trGQ = np.einsum("cd,abdc->ab", Gi, Q)[np.ix_(inp, inp)]
        corr[l] = (np.einsum("abcd,cadb->ab", GQG, S[l + 1]) - sw * Bbar[l + 1] * trGQ) / w[l]
        if l > 1:
            u = lay.z - lay.mb[:, None]                                                   # E[u | z]
            M = lay.E(np.einsum("pc,pa,pe->pcae", u, lay.dphi, lay.phi))                  # E[u_c phi'_a phi_e]
            UU = lay.E(np.einsum("pc,pd,pa,pb->pcdab", u, u, lay.dphi, lay.dphi)) \
                + lay.vb * lay.E(np.einsum("pa,pb->pab", lay.dphi, lay.dphi))[None, None]
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
      (``lambda_max``).  For :math:`C > 1` the largest of the :math:`C` split outliers is biased up at
      order :math:`n^{-1/2}` (the maximum of a :math:`C\times C` Gaussian matrix), which is not given here.

    Returns a dict with ``mean``, ``second_moment``, ``top_mean`` (and ``lambda_max`` when :math:`C = 1`),
    each also as ``*_infinite``, and ``n_params``.

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
    out = {"mean": float(np.trace(th)) / (T * P), "mean_infinite": float(np.trace(th0)) / (T * P),
           "second_moment": float(np.sum(th ** 2) + np.sum(r.var)) / (T * T * P),
           "second_moment_infinite": float(np.sum(th0 ** 2)) / (T * T * P),
           "top_mean": top_sum / (C * T), "top_mean_infinite": float(np.sum(lam[:C])) / (C * T), "n_params": P}
    if C == 1:
        out["lambda_max"], out["lambda_max_infinite"] = out["top_mean"], out["top_mean_infinite"]
    return out
