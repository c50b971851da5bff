r"""Infinite-width kernels of a fully-connected network: NNGP :math:`\Sigma` and NTK :math:`\Theta`.

For a network of ``depth`` :math:`= L` weight layers (:math:`L-1` hidden layers of width
:math:`\to\infty` and a linear readout, as :class:`nn_spectra.Network` and :class:`nn_spectra.MLP` with
``widths = [d, n, ..., n, 1]``; weights of variance :math:`\sigma_w^2/n`
or NTK parameterization, biases of variance :math:`\sigma_b^2`), Jacot et al. (2018), Lee et al. (2019):

.. math::
   \Sigma^{(1)}(x,x') = \sigma_w^2\,x\cdot x'/d + \sigma_b^2,\qquad \Theta^{(1)} = \Sigma^{(1)},

   \Sigma^{(l+1)} = \sigma_w^2\,E[\varphi(u)\varphi(v)] + \sigma_b^2,\qquad
   \dot\Sigma^{(l+1)} = \sigma_w^2\,E[\varphi'(u)\varphi'(v)],\qquad
   \Theta^{(l+1)} = \Theta^{(l)}\dot\Sigma^{(l+1)} + \Sigma^{(l+1)},

with :math:`(u,v)\sim N(0, [[\Sigma^{(l)}(x,x), \Sigma^{(l)}(x,x')], [\Sigma^{(l)}(x,x'), \Sigma^{(l)}(x',x')]])`,
for :math:`l = 1..L-1`; the returned kernels are :math:`\Sigma^{(L)}` and :math:`\Theta^{(L)}` (the
readout included).

Gaussian integrals: closed forms for relu, leaky relu, erf, linear; for the other built-ins Mehler's
series :math:`\sum_k b_k(q_1)b_k(q_2)c^k` in the normalised Hermite coefficients, summed per pair
(compiled) until its rigorous Cauchy–Schwarz truncation bound falls below 1e-12 (at most 200 terms),
the nested piecewise Gauss–Legendre rule for the pairs where it does not (correlations near ±1).

Numerics: float64 throughout; correlations clipped into [−1, 1]; for positively homogeneous φ (relu,
leaky relu, linear) the recursion runs on kernels normalised by their largest diagonal entry with the
scale kept as a logarithm, so very deep or strongly chaotic networks neither overflow nor produce NaN
(``log_scale=True`` returns the normalised kernels and that logarithm when the values themselves
exceed float64).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .activations import activation
from .gaussian_integrals import activation_kernel, activation_moments, hermite_coefficients

__all__ = ["nngp_ntk"]

_HOMOGENEOUS = ("relu", "leaky_relu", "linear")


def _inputs(X, name):
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, d), got {np.shape(X)}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite")
    return X


_MEHLER_ORDER = 200


def _mehler(act, d1, d2, S, tol):
    """Mehler series Σ_k b_k(q₁) b_k(q₂) c^k for every pair, with its rigorous truncation bound.

    With f(z) = φ(√q₁ z), g(z) = φ(√q₂ z) and normalised Hermite coefficients b_k, Mehler's formula
    gives E[φ(u)φ(v)] = Σ_k b_k(q₁)b_k(q₂)c^k; f' has coefficients √(k+1) b_{k+1}, so
    E[φ'(u)φ'(v)] = Σ_k (k+1) b_{k+1}(q₁)b_{k+1}(q₂)c^k / √(q₁q₂).  By Cauchy–Schwarz the terms past K
    are bounded by |c|^{K+1} √(t₁t₂), t the Parseval tail (E[f²] − Σ_{k≤K} b_k²).
    Returns (K, K̇, ok) with ok where both bounds are below tol.
    """
    K = _MEHLER_ORDER
    k = np.arange(K + 2)
    B1 = hermite_coefficients(act, d1, order=K + 1)
    B2 = B1 if d2 is d1 else hermite_coefficients(act, d2, order=K + 1)
    m1 = activation_moments(act, d1)
    m2 = m1 if d2 is d1 else activation_moments(act, d2)
    D1 = np.sqrt(k[1:]) * B1[:, 1:]   # coefficients of f'(z) = √q φ'(√q z)
    D2 = np.sqrt(k[1:]) * B2[:, 1:]
    # cumulative Parseval tails t_k = E[f²] − Σ_{j≤k} b_j²; a clearly negative one means inaccurate
    # coefficients: marked infinite so that those pairs go to the quadrature instead
    def tails(total, coef):
        t = total[:, None] - np.cumsum(coef[:, :K + 1] ** 2, axis=1)
        return np.where(t < -1e-13 * np.maximum(1.0, total)[:, None], np.inf, np.maximum(t, 0.0))

    T1, T2 = tails(m1[0], B1), tails(m2[0], B2)
    U1, U2 = tails(d1 * m1[1], D1), tails(d2 * m2[1], D2)
    out = np.empty(S.shape + (3,))
    _mehler_sum(np.ascontiguousarray(B1[:, :K + 1]), np.ascontiguousarray(B2[:, :K + 1]),
                np.ascontiguousarray(D1[:, :K + 1]), np.ascontiguousarray(D2[:, :K + 1]),
                T1, T2, U1, U2, np.ascontiguousarray(d1, dtype=float), np.ascontiguousarray(d2, dtype=float),
                np.ascontiguousarray(S, dtype=float), float(tol), d2 is d1, out)
    return out[..., 0], out[..., 1], out[..., 2] > 0.5


@numba.njit(cache=True)
def _mehler_sum(B1, B2, D1, D2, T1, T2, U1, U2, d1, d2, S, tol, symmetric, out):
    # per pair, sum the series until the Cauchy–Schwarz bound |c|^{k+1} √(t_k t'_k) of the rest is
    # below tol for both kernels (typically a few dozen terms unless |c| is close to 1)
    n1, n2 = S.shape
    K = B1.shape[1] - 1
    for i in range(n1):
        j0 = i if symmetric else 0
        for j in range(j0, n2):
            den = math.sqrt(d1[i] * d2[j])
            ok = 0.0
            a = 0.0
            ad = 0.0
            if den > 0:
                c = min(1.0, max(-1.0, S[i, j] / den))
                ac = abs(c)
                p = 1.0
                for k in range(K + 1):
                    a += B1[i, k] * B2[j, k] * p
                    ad += D1[i, k] * D2[j, k] * p
                    p *= c
                    r = ac ** (k + 1)
                    if r * math.sqrt(T1[i, k] * T2[j, k]) <= tol and r * math.sqrt(U1[i, k] * U2[j, k]) <= tol * den:
                        ok = 1.0
                        break
                ad /= den
            out[i, j, 0] = a
            out[i, j, 1] = ad
            out[i, j, 2] = ok
            if symmetric:
                out[j, i, 0] = a
                out[j, i, 1] = ad
                out[j, i, 2] = ok


def _pair_kernel(act, d1, d2, S, symmetric, tol=1e-12):
    # E[φφ], E[φ'φ'] on every pair; the symmetric case evaluates the upper triangle only
    if act.kernel_2d is None and act.code >= 0 and S.size > 16:
        K, Kd, ok = _mehler(act, d1, d2 if not symmetric else d1, S, tol)
        if not ok.all():
            i, j = np.nonzero(~ok)
            if symmetric:
                keep = i <= j
                i, j = i[keep], j[keep]
            k, kd = activation_kernel(act, d1[i], d2[j], S[i, j])
            K[i, j], Kd[i, j] = k, kd
            if symmetric:
                K[j, i], Kd[j, i] = k, kd
        return K, Kd
    if symmetric and act.kernel_2d is None:
        iu = np.triu_indices(S.shape[0])
        k, kd = activation_kernel(act, d1[iu[0]], d2[iu[1]], S[iu])
        K = np.empty_like(S)
        Kd = np.empty_like(S)
        K[iu], Kd[iu] = k, kd
        K[(iu[1], iu[0])], Kd[(iu[1], iu[0])] = k, kd
        return K, Kd
    return activation_kernel(act, d1[:, None], d2[None, :], S)


def nngp_ntk(X1, X2=None, depth: int = 2, act="relu", sigma_w2: float = 2.0, sigma_b2: float = 0.0, *,
             return_layers: bool = False, log_scale: bool = False):
    r"""NNGP and NTK kernel matrices of an infinitely wide fully-connected network.

    Also callable as ``nngp_ntk(net, X1, X2=None)`` with a :class:`~nn_spectra.Network` ``net``
    (or ``net.nngp_ntk(X1, X2)``).

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
    X2 : array_like, shape (n2, d), optional
        Defaults to ``X1`` (the symmetric case, computed on one triangle).
    depth : int
        :math:`L \ge 1`, the number of weight layers (:math:`L-1` hidden layers and the linear
        readout; ``depth=1`` is the linear model :math:`\Sigma^{(1)}`).
    act : str or Activation
    sigma_w2, sigma_b2 : float
        Weight variance (> 0) and bias variance (>= 0).
    return_layers : bool
        Also return a dict with the lists ``"nngp"`` (Σ⁽¹⁾…Σ⁽ᴸ⁾), ``"ntk"`` (Θ⁽¹⁾…) and
        ``"nngp_dot"`` (Σ̇⁽²⁾…), each entry ``(n1, n2)``.
    log_scale : bool
        Return ``(nngp, ntk, log_c)`` with the true kernels equal to ``exp(log_c)`` times the returned
        ones (homogeneous φ only: use it when the kernels exceed float64).

    Returns
    -------
    nngp, ntk : numpy.ndarray of shape (n1, n2)
    log_c : float, with ``log_scale``
    layers : dict, with ``return_layers``

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> K, T = ns.nngp_ntk(X, depth=4, act="relu", sigma_w2=2.0, sigma_b2=0.0)
    >>> np.diag(T).round(12).tolist()          # L σ_w² |x|²/d with L = 4 weight layers
    [4.0, 16.0]
    """
    from .network import Network

    if isinstance(X1, Network):
        # nngp_ntk(net, X1, X2): the description replaces depth, act and the variances
        net, X1, X2 = X1, X2, depth if not isinstance(depth, (int, np.integer)) else None
        if X1 is None:
            raise TypeError("nngp_ntk(net, X1, X2=None): X1 is missing")
        net.require("nngp_ntk", readout=("linear",))
        depth, act, sigma_w2, sigma_b2 = net.depth, net.act, net.sigma_w2, net.sigma_b2
    act = activation(act)
    X1 = _inputs(X1, "X1")
    symmetric = X2 is None
    X2 = X1 if symmetric else _inputs(X2, "X2")
    if X1.shape[1] != X2.shape[1]:
        raise ValueError(f"X1 and X2 must have the same input dimension, got {X1.shape[1]} and {X2.shape[1]}")
    if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, (int, np.integer, float)) \
            or int(depth) != depth or int(depth) < 1:
        raise ValueError(f"depth must be an integer >= 1 (the number of weight layers), got {depth!r}")
    depth = int(depth)
    sw, sb = float(sigma_w2), float(sigma_b2)
    if not (math.isfinite(sw) and sw > 0):
        raise ValueError(f"sigma_w2 must lie in (0, inf), got {sigma_w2!r}")
    if not (math.isfinite(sb) and sb >= 0):
        raise ValueError(f"sigma_b2 must lie in [0, inf), got {sigma_b2!r}")
    homog = act.name in _HOMOGENEOUS and act.kernel_2d is not None
    if log_scale and not homog:
        raise ValueError(f"log_scale=True needs a positively homogeneous activation ({', '.join(_HOMOGENEOUS)}), "
                         f"got {act.name!r}")

    d = X1.shape[1]
    S = sw * (X1 @ X2.T) / d + sb
    d1 = sw * np.einsum("ij,ij->i", X1, X1) / d + sb
    d2 = d1 if symmetric else sw * np.einsum("ij,ij->i", X2, X2) / d + sb
    T = S.copy()
    logc = 0.0  # true kernels = exp(logc) × (S, T, d1, d2)
    layers = {"nngp": [S.copy()], "ntk": [T.copy()], "nngp_dot": []} if return_layers else None
    for layer in range(depth - 1):
        # for homogeneous φ, K(λQ) = λK(Q) and K̇(λQ) = K̇(Q): the normalised kernels go in as they are
        prev_d1 = d1
        K, Kd = _pair_kernel(act, d1, d2, S, symmetric)
        e1 = activation_moments(act, d1)[0]
        e2 = e1 if symmetric else activation_moments(act, d2)[0]
        bias = sb * math.exp(-logc)
        S = sw * K + bias
        Sd = sw * Kd
        d1, d2 = sw * e1 + bias, sw * e2 + bias
        if symmetric:
            # the diagonal from the 1-D integral, so that c = 1 exactly there: near c = 1 the
            # arc-cosine kernel's derivative has a square-root singularity that turns a rounding
            # error of 1e-16 in c into 1e-8 in Σ̇
            np.fill_diagonal(S, d1)
            np.fill_diagonal(Sd, sw * activation_moments(act, prev_d1)[1])
        T = T * Sd + S
        if homog:
            m = float(max(np.max(d1), np.max(d2)))
            if m > 0 and math.isfinite(m):
                S, T, d1, d2 = S / m, T / m, d1 / m, d2 / m
                logc += math.log(m)
        if not (np.all(np.isfinite(S)) and np.all(np.isfinite(T))):
            raise ValueError(f"kernels overflow float64 at layer {layer + 2} for activation {act.name!r} with "
                             f"sigma_w2={sw}: reduce depth or sigma_w2")
        if return_layers:
            f = math.exp(logc) if not log_scale else 1.0
            layers["nngp"].append(S * f)
            layers["ntk"].append(T * f)
            layers["nngp_dot"].append(Sd)
    if log_scale:
        out = (S, T, logc)
    else:
        if logc > 700:
            raise ValueError(f"the kernels exceed float64 (log scale {logc:.1f}); pass log_scale=True")
        f = math.exp(logc)
        out = (S * f, T * f)
    return out + (layers,) if return_layers else out
