r"""Exact finite-width mean and variance of the NTK diagonal of a relu network, and the Fisher statistics they give.

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

Not covered (no computable closed form found in the literature for these at the time of writing):
the off-diagonal NTK :math:`\Theta(x, x')` of two inputs (hence :math:`s_\lambda` and :math:`\lambda_{\max}`
for :math:`T > 1` inputs, which Karakida's statistics are about), several outputs (:math:`C > 1`:
:math:`\Theta_{kk'}` has variance :math:`O(1/n)` and adds to :math:`s_\lambda`), nonzero biases and smooth
activations (Roberts–Yaida–Hanin give the 1/n corrections there as layer recursions of Gaussian
expectations, not in closed form).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import binom

__all__ = ["NTKDiagonalMoments", "ntk_diagonal_moments", "fim_statistics_one_input", "sample_ntk_diagonal"]

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


def ntk_diagonal_moments(widths: Sequence[int], sigma_w2: float = 2.0, q_input: float = 1.0) -> NTKDiagonalMoments:
    r"""Exact mean and variance of the NTK diagonal of a zero-bias relu network (module docstring).

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
    sw, L = float(sigma_w2), len(w) - 1
    a0 = q_input * w[0]
    hidden = w[1:L]
    eb, eb2, prob = [], [], 1.0
    for n in hidden:
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
    g = sw / 2.0
    mean_inf = 0.0
    for l in range(1, L + 1):
        a = a0 * math.prod(g * w[j] / w[j - 1] for j in range(1, l))
        d = g ** (L - l)
        mean_inf += d * (a + 1.0)
    return NTKDiagonalMoments(mean=m1, second_moment=m2, var=m2 - m1 * m1, mean_infinite=mean_inf,
                              rel_var_leading=_rel_var_leading(w, sw, q_input), probability=prob)


def _rel_var_leading(w, sw, q_input, h: float = 1e-30) -> float:
    # scale every width by 1/t: Var/mean^2 is analytic in t with value 0 at t = 0; its t-derivative at
    # t = 0 (complex step, exact to rounding) times t = 1 is the leading term at the given widths.
    # E[B] = n/2, E[B^2] = n^2/4 + n/4 continue to complex n (the B >= 1 conditioning is O(2^-n)).
    t = 1j * h
    n = np.array(w, dtype=complex) / t
    L = len(w) - 1
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
