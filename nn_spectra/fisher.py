r"""Fisher information of a deep network over many inputs: Karakida–Akaho–Amari statistics.

Network (as :class:`nn_spectra.MLP`): widths :math:`M_0, \dots, M_L`, :math:`u^l = W^l h^{l-1} + b^l`,
:math:`h^l = \phi(u^l)`, output :math:`f = u^L` (:math:`C = M_L` outputs), weights
:math:`N(0, \sigma_w^2/M_{l-1})`, biases :math:`N(0, \sigma_b^2)`, gradients in the entries themselves.
With unit Gaussian output noise and :math:`T` inputs the empirical Fisher information is
:math:`F = \frac1T\sum_t\sum_k \nabla f_k(x_t)\nabla f_k(x_t)^\top` (:math:`P\times P`).  It shares its
nonzero eigenvalues with the dual :math:`F^* = \frac1T\Theta` (:math:`CT\times CT`), :math:`\Theta` the
empirical NTK in the standard parameterisation; the measured side never forms the :math:`P\times P`
matrix.

Order parameters (mean field): forward :math:`\hat q_1^l = E\phi(u)^2`, :math:`\hat q_2^l = E\phi(u)\phi(u')`
with :math:`q^l = \sigma_w^2\hat q_1^{l-1} + \sigma_b^2`, :math:`q^l_{12} = \sigma_w^2\hat q_2^{l-1} + \sigma_b^2`
(inputs: :math:`\hat q_1^0 = \|x\|^2/M_0`, :math:`\hat q_2^0 = x\cdot x'/M_0`); backward
:math:`\tilde q_1^L = \tilde q_2^L = 1`, :math:`\tilde q_1^l = \sigma_w^2\tilde q_1^{l+1}E\phi'(u)^2`,
:math:`\tilde q_2^l = \sigma_w^2\tilde q_2^{l+1}E\phi'(u)\phi'(u')`.  With :math:`M_l = \alpha_l M` and
:math:`\alpha = \sum_l\alpha_l\alpha_{l-1}`:

.. math::

    \kappa_1 = \sum_l \frac{\alpha_{l-1}}{\alpha}\tilde q_1^l\hat q_1^{l-1},\qquad
    \kappa_2 = \sum_l \frac{\alpha_{l-1}}{\alpha}\tilde q_2^l\hat q_2^{l-1},

and in the large-width limit :math:`\Theta` is block diagonal over outputs with diagonal
:math:`A = \sum_l \tilde q_1^l(M_{l-1}\hat q_1^{l-1} + 1)` and off-diagonal
:math:`B = \sum_l \tilde q_2^l(M_{l-1}\hat q_2^{l-1} + 1)` (the ``+1`` is the bias).  Hence

* mean eigenvalue :math:`m_\lambda = CA/P \approx C\kappa_1/M`,
* second moment :math:`s_\lambda = C[(A + (T-1)B)^2 + (T-1)(A-B)^2]/(T^2P) \approx C\alpha((T-1)\kappa_2^2 + \kappa_1^2)/T`,
* :math:`\lambda_{\max} = (A + (T-1)B)/T \approx \alpha M((T-1)\kappa_2 + \kappa_1)/T`, multiplicity :math:`C`.

Mean-subtracting batch norm in the last layer (:math:`\bar f_k(x_t) = f_k(x_t) - \frac1T\sum_s f_k(x_s)`)
centres :math:`\Theta` over the inputs and removes the :math:`B\,\mathbf 1\mathbf 1^\top` mode
(Karakida et al. 2019): :math:`\lambda_{\max}` drops to :math:`(A - B)/T` plus finite-width
fluctuations of order :math:`\sqrt{M}`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from freeprob.law import check_positive, check_real

__all__ = ["FIMStatistics", "fim_statistics", "measure_fim_statistics", "order_parameters", "fim_inputs",
           "DataKernels", "data_kernels", "fim_statistics_data", "TopCluster", "fim_top_cluster",
           "fim_batchnorm_surrogate"]


@dataclass(frozen=True)
class FIMStatistics:
    """Predicted (mean-field) or measured Fisher-information statistics.

    Attributes
    ----------
    kappa1, kappa2 : float
        Karakida's :math:`\\kappa_1, \\kappa_2` (predicted only; NaN when measured).
    mean : float
        Mean eigenvalue :math:`m_\\lambda = \\operatorname{tr}F/P`.
    second_moment : float
        :math:`s_\\lambda = \\operatorname{tr}F^2/P`.
    lambda_max : float
        Largest eigenvalue.
    multiplicity : int
        Number of outlier eigenvalues near :math:`\\lambda_{\\max}` (predicted: C).
    lambda_max_bn : float
        Largest eigenvalue with mean-subtracting batch norm in the last layer.
    n_params : int
        P.
    eigenvalues : numpy.ndarray
        Nonzero spectrum of the dual (measured) or its predicted atoms (predicted).
    top_mean : float
        Mean of the top :math:`C` eigenvalues: what the infinite-width theory's C-fold
        :math:`\\lambda_{\\max}` describes (at finite width the C outliers split and their maximum is
        biased up; see :func:`fim_top_cluster`).
    """

    kappa1: float
    kappa2: float
    mean: float
    second_moment: float
    lambda_max: float
    multiplicity: int
    lambda_max_bn: float
    n_params: int
    eigenvalues: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    top_mean: float = float("nan")


def _widths(depth, width, n_outputs, input_dim):
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (number of weight layers), got {depth!r}")
    for nm, v in (("width", width), ("n_outputs", n_outputs)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{nm} must be an integer >= 1, got {v!r}")
    m0 = width if input_dim is None else input_dim
    if isinstance(m0, bool) or not isinstance(m0, (int, np.integer)) or m0 < 1:
        raise ValueError(f"input_dim must be an integer >= 1, got {input_dim!r}")
    return [int(m0)] + [int(width)] * (int(depth) - 1) + [int(n_outputs)]


def order_parameters(act, sigma_w2: float, sigma_b2: float, depth: int, q_input: float = 1.0,
                     c_input: float = 0.0) -> dict:
    r"""Forward :math:`\hat q_{1,2}^l` (l = 0..L-1) and backward :math:`\tilde q_{1,2}^l` (l = 1..L).

    ``q_input`` is :math:`\hat q_1^0 = \|x\|^2/M_0` and ``c_input`` the input overlap
    :math:`\hat q_2^0/\hat q_1^0 \in [-1, 1]`.
    """
    from .activations import activation
    from .gaussian_integrals import gaussian_expectation_2d

    a = activation(act)
    sw = check_positive("sigma_w2", sigma_w2)
    sb = check_positive("sigma_b2", sigma_b2, strict=False)
    q_input = check_positive("q_input", q_input)
    c_input = check_real("c_input", c_input)
    if not -1 <= c_input <= 1:
        raise ValueError(f"c_input must lie in [-1, 1], got {c_input!r}")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    L = int(depth)
    qh1, qh2 = [q_input], [q_input * c_input]
    dphi2, dphi12 = [], []
    for _ in range(1, L + 1):
        q = sw * qh1[-1] + sb
        q12 = sw * qh2[-1] + sb
        if not np.isfinite(q) or q > 1e150:
            raise ValueError(f"the forward length map diverges (q = {q:.3g}); sigma_w2 = {sigma_w2} is too large")
        # E[phi phi'], E[phi' phi'] for the pair (u, u') with variances q and covariance q12
        e11 = float(gaussian_expectation_2d(a.phi, a.phi, q, q, q, f_kinks=a.kinks, g_kinks=a.kinks))
        e12 = float(gaussian_expectation_2d(a.phi, a.phi, q, q, q12, f_kinks=a.kinks, g_kinks=a.kinks))
        d11 = float(gaussian_expectation_2d(a.dphi, a.dphi, q, q, q, f_kinks=a.kinks, g_kinks=a.kinks))
        d12 = float(gaussian_expectation_2d(a.dphi, a.dphi, q, q, q12, f_kinks=a.kinks, g_kinks=a.kinks))
        qh1.append(e11)
        qh2.append(e12)
        dphi2.append(d11)
        dphi12.append(d12)
    # backward: layer L is linear (f = u^L), so q~^L = 1; q~^l = sigma_w^2 q~^{l+1} E[phi'(u^l)^2]
    qt1, qt2 = [1.0], [1.0]
    for l in range(L - 1, 0, -1):
        qt1.insert(0, sw * qt1[0] * dphi2[l - 1])
        qt2.insert(0, sw * qt2[0] * dphi12[l - 1])
    return {"qhat1": np.array(qh1[:L]), "qhat2": np.array(qh2[:L]),
            "qtilde1": np.array(qt1), "qtilde2": np.array(qt2)}


def fim_statistics(act, sigma_w2: float | None = None, sigma_b2: float | None = None, depth: int | None = None,
                   width: int | None = None, n_samples: int | None = None, n_outputs: int | None = None, *,
                   input_dim: int | None = None, q_input: float = 1.0, c_input: float = 0.0) -> FIMStatistics:
    r"""Mean-field prediction of the FIM statistics (module docstring).

    Also ``fim_statistics(net, n_samples=T)`` with a :class:`~nn_spectra.Network` (equal hidden
    widths): depth, widths, ``n_outputs`` and ``input_dim`` are read from it.

    Parameters
    ----------
    act : str, Activation or Network
    sigma_w2, sigma_b2 : float
    depth : int
        Number of weight layers :math:`L \ge 1` (:math:`L-1` hidden layers), as in :class:`MLP`.
    width : int
        Hidden width :math:`M`.
    n_samples : int
        Number of inputs :math:`T \ge 1`.
    n_outputs : int
        :math:`C`.
    input_dim : int, optional
        :math:`M_0` (default ``width``).
    q_input, c_input : float
        Input length :math:`\|x\|^2/M_0` and overlap :math:`x\cdot x'/\|x\|^2`.

    Examples
    --------
    >>> s = fim_statistics("relu", 2.0, 0.0, depth=3, width=500, n_samples=20)
    >>> s.multiplicity, s.lambda_max > 100 * s.mean
    (1, True)
    """
    from .network import Network, fisher_network

    net, width, n_outputs, dim = fisher_network(act, sigma_w2, sigma_b2, depth, width, n_outputs, input_dim,
                                                caller="fim_statistics")
    input_dim = dim if isinstance(act, Network) else input_dim
    act, sigma_w2, sigma_b2, depth = net.act, net.sigma_w2, net.sigma_b2, net.depth
    if n_samples is None:
        raise TypeError("fim_statistics: n_samples is missing")
    ws = _widths(depth, width, n_outputs, input_dim)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
    T, C, L, M = int(n_samples), int(n_outputs), int(depth), float(width)
    op = order_parameters(act, sigma_w2, sigma_b2, L, q_input, c_input)
    m_prev = np.array(ws[:-1], dtype=float)
    al_prev = m_prev / M
    al = np.array(ws[1:], dtype=float) / M
    alpha = float(np.sum(al * al_prev))
    kappa1 = float(np.sum(al_prev * op["qtilde1"] * op["qhat1"]) / alpha)
    kappa2 = float(np.sum(al_prev * op["qtilde2"] * op["qhat2"]) / alpha)
    A = float(np.sum(op["qtilde1"] * (m_prev * op["qhat1"] + 1.0)))
    B = float(np.sum(op["qtilde2"] * (m_prev * op["qhat2"] + 1.0)))
    P = int(sum(ws[l + 1] * ws[l] + ws[l + 1] for l in range(L)))
    lam_big, lam_small = (A + (T - 1) * B) / T, (A - B) / T
    mean = C * A / P
    second = C * ((A + (T - 1) * B) ** 2 + (T - 1) * (A - B) ** 2) / (T ** 2 * P)
    eig = np.concatenate([np.full(C, lam_big), np.full(C * (T - 1), lam_small)])
    return FIMStatistics(kappa1=kappa1, kappa2=kappa2, mean=mean, second_moment=second,
                         lambda_max=max(lam_big, lam_small), multiplicity=C if lam_big >= lam_small else C * (T - 1),
                         lambda_max_bn=lam_small if T > 1 else 0.0, n_params=P, eigenvalues=eig,
                         top_mean=max(lam_big, lam_small))


def fim_inputs(n_samples: int, input_dim: int, q_input: float = 1.0, c_input: float = 0.0, rng=None) -> np.ndarray:
    r"""Gaussian inputs with :math:`\|x_t\|^2/M_0 \approx` ``q_input`` and overlaps :math:`\approx` ``c_input``.

    :math:`x_t = \sqrt{q}(\sqrt c\,g_0 + \sqrt{1-c}\,g_t)` with i.i.d. standard Gaussian vectors (c >= 0).
    """
    c = check_real("c_input", c_input)
    if not 0 <= c <= 1:
        raise ValueError(f"c_input must lie in [0, 1] for sampled inputs, got {c_input!r}")
    gen = np.random.default_rng(rng)
    g0 = gen.standard_normal(input_dim)
    g = gen.standard_normal((n_samples, input_dim))
    return np.sqrt(q_input) * (np.sqrt(c) * g0[None, :] + np.sqrt(1 - c) * g)


def measure_fim_statistics(act, sigma_w2: float | None = None, sigma_b2: float | None = None,
                           depth: int | None = None, width: int | None = None, n_samples: int | None = None,
                           n_outputs: int | None = None, *, input_dim: int | None = None, q_input: float = 1.0,
                           c_input: float = 0.0, weights: str | None = None, rng=None,
                           inputs: np.ndarray | None = None, init: str | None = None) -> FIMStatistics:
    r"""The same statistics measured on one real :class:`MLP` through the FIM/NTK duality.

    The nonzero eigenvalues of :math:`F` are those of :math:`\Theta/T`, with :math:`\Theta` the
    empirical NTK (standard parameterisation, biases included): :math:`\operatorname{tr}F = \operatorname{tr}\Theta/T`,
    :math:`\operatorname{tr}F^2 = \operatorname{tr}(\Theta/T)^2`.  The outlier multiplicity counts
    eigenvalues above the midpoint between the predicted bulk and outlier values; ``top_mean`` is the
    mean of the top :math:`C` eigenvalues (compare it with the prediction's ``lambda_max``).

    ``inputs`` (shape ``(n_samples, input_dim)``) replaces the synthetic Gaussian inputs by real data;
    the outlier cut then uses :func:`fim_statistics_data`.  ``act`` may be a
    :class:`~nn_spectra.Network` (``measure_fim_statistics(net, n_samples=T, rng=...)``); ``weights``
    is the weight law (``init`` its deprecated name).
    """
    from .mlp import MLP
    from .network import Network, fisher_network

    net, width, n_outputs, dim = fisher_network(act, sigma_w2, sigma_b2, depth, width, n_outputs, input_dim,
                                                weights=weights, init=init, caller="measure_fim_statistics")
    input_dim = dim if isinstance(act, Network) else input_dim
    act, sigma_w2, sigma_b2, depth, init = net.act, net.sigma_w2, net.sigma_b2, net.depth, net.weights
    if n_samples is None:
        raise TypeError("measure_fim_statistics: n_samples is missing")
    ws = _widths(depth, width, n_outputs, input_dim)
    T, C = int(n_samples), int(n_outputs)
    gen = np.random.default_rng(rng)
    if inputs is not None:
        from .data import check_inputs

        X = check_inputs(inputs, "inputs", ws[0])
        if X.shape[0] != T:
            raise ValueError(f"inputs has {X.shape[0]} rows, n_samples is {T}")
    net = MLP(ws, act, sigma_w2, sigma_b2, weights=init, rng=gen)
    if inputs is None:
        X = fim_inputs(T, ws[0], q_input, c_input, rng=gen)
    theta = np.asarray(net.empirical_ntk(X, parameterization="standard"))
    theta = theta.reshape(T, C, T, C) if C > 1 else theta.reshape(T, 1, T, 1)
    dual = theta.reshape(T * C, T * C) / T
    eig = np.linalg.eigvalsh(dual)
    P = net.num_parameters
    # batch norm: centre the outputs over the batch, i.e. the Gram over inputs
    H = np.eye(T) - 1.0 / T
    centred = np.einsum("st,tavb,vw->sawb", H, theta, H).reshape(T * C, T * C) / T
    eig_bn = np.linalg.eigvalsh(0.5 * (centred + centred.T))
    if inputs is None:
        pred = fim_statistics(act, sigma_w2, sigma_b2, depth, width, n_samples, n_outputs,
                              input_dim=input_dim, q_input=q_input, c_input=c_input)
        cut = 0.5 * (pred.lambda_max + (pred.eigenvalues.min() if len(pred.eigenvalues) else 0.0))
    else:
        pred = fim_statistics_data(X, act, sigma_w2, sigma_b2, depth, width, n_outputs)
        cut = 0.5 * (pred.lambda_max + pred.lambda_max_bn)
    return FIMStatistics(kappa1=float("nan"), kappa2=float("nan"), mean=float(eig.sum() / P),
                         second_moment=float((eig ** 2).sum() / P), lambda_max=float(eig[-1]),
                         multiplicity=int(np.sum(eig > cut)), lambda_max_bn=float(eig_bn[-1]),
                         n_params=P, eigenvalues=eig, top_mean=float(eig[-C:].mean()))


# =============================================================================================
# The Fisher information on the data's own geometry
# =============================================================================================
_MEHLER_K = 200          # highest Hermite order of the Mehler series (as nn_spectra.kernels)
_MEHLER_TOL = 1e-13      # truncation bound of the series, per pair


def _lobatto_interp(t: np.ndarray, vals: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Barycentric interpolation through Chebyshev–Lobatto points ``t = cos(pi j/n)`` (rows of ``vals``)."""
    n = len(t) - 1
    w = (-1.0) ** np.arange(n + 1)
    w[0] *= 0.5
    w[-1] *= 0.5
    d = s[:, None] - t[None, :]
    hit = np.abs(d) < 1e-15
    d[hit] = 1e-300
    c = w[None, :] / d
    out = (c @ vals) / c.sum(axis=1)[:, None]
    r, k = np.nonzero(hit)
    out[r] = vals[k]
    return out


def _hermite_table(act, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Normalised Hermite coefficients :math:`b_k(q_i)`, k = 0.._MEHLER_K, and the moments
    :math:`E\varphi^2`, :math:`E\varphi'^2` at many variances for the price of few.

    All are analytic in :math:`q > 0`: they are computed exactly (piecewise Gauss–Legendre,
    :func:`hermite_coefficients`, :func:`activation_moments`) at Chebyshev–Lobatto nodes in
    :math:`\log q` and interpolated (barycentric).  The nodes nest: the check points of level
    :math:`n` (the angular midpoints) are the new nodes of level :math:`2n`, so no exact value is
    computed twice; the table is accepted when the level-:math:`n` interpolant matches the check
    points to 1e-14 of each column's scale (:math:`\sqrt{E\varphi^2}` for the coefficients), and
    is then evaluated through all :math:`2n + 1` points.  With few variances it computes directly.
    """
    from .gaussian_integrals import activation_moments, hermite_coefficients

    def exact(x):
        m = activation_moments(act, x)
        return np.column_stack([hermite_coefficients(act, x, order=_MEHLER_K), m[0], m[1]])

    def split(v):
        return v[:, :-2], v[:, -2], v[:, -1]

    uq, inv = np.unique(q, return_inverse=True)
    if len(uq) <= 24:
        return split(exact(uq)[inv])
    lo, hi = np.log(uq[0]), np.log(uq[-1])
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    n = 4
    t = np.cos(np.pi * np.arange(n + 1) / n)
    vals = exact(np.exp(mid + half * t))
    while 2 * n + 1 < len(uq):
        tm = np.cos(np.pi * (2 * np.arange(n) + 1) / (2 * n))
        vm = exact(np.exp(mid + half * tm))
        both = np.vstack([vals, vm])
        scale = np.max(np.abs(both), axis=0)
        scale[:-2] = np.sqrt(np.max(both[:, -2]))          # coefficients: relative to sqrt(E phi^2)
        # the next level: old nodes at even, check points at odd positions (cos(pi j / 2n))
        nxt = np.empty((2 * n + 1, vals.shape[1]))
        nxt[0::2], nxt[1::2] = vals, vm
        good = np.all(np.abs(_lobatto_interp(t, vals, tm) - vm) <= 1e-14 * np.maximum(scale, 1e-300))
        n *= 2
        t, vals = np.cos(np.pi * np.arange(n + 1) / n), nxt
        if good:
            return split(_lobatto_interp(t, vals, (np.log(uq) - mid) / half)[inv])
    return split(exact(uq)[inv])


@numba.njit(cache=True)
def _mehler_data_kernel(B, D, sT1, sU1, d, S, tol, out_k, out_kd, ok):
    n = S.shape[0]
    K = B.shape[1]
    for i in range(n):
        for j in range(i, n):
            den = np.sqrt(d[i] * d[j])
            c = S[i, j] / den
            if c > 1.0:
                c = 1.0
            elif c < -1.0:
                c = -1.0
            ac = abs(c)
            a = 0.0
            ad = 0.0
            p = 1.0
            r = ac
            good = False
            tden = tol * den
            for k in range(K):
                a += B[i, k] * B[j, k] * p
                ad += D[i, k] * D[j, k] * p
                p *= c
                # the rest of both series is at most |c|^(k+1) times the Parseval tails; the bound
                # falls with k, so testing every 4th term costs at most 3 extra terms
                if (k & 3) == 3 or k == K - 1:
                    if r * sT1[i, k] * sT1[j, k] <= tol and r * sU1[i, k] * sU1[j, k] <= tden:
                        good = True
                        break
                r *= ac
            out_k[i, j] = a
            out_k[j, i] = a
            out_kd[i, j] = ad / den
            out_kd[j, i] = ad / den
            ok[i, j] = good
            ok[j, i] = good



def _pair_expectations(act, q: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`E[\varphi(u)\varphi(v)]` and :math:`E[\varphi'(u)\varphi'(v)]` for every pair of a symmetric
    covariance matrix ``S`` with diagonal ``q``.  Closed forms where the activation has them; otherwise
    the Mehler series with a rigorous per-pair truncation bound (Parseval tails), the nested
    Gauss–Legendre rule of :func:`activation_kernel` for the pairs where it does not converge."""
    from .gaussian_integrals import activation_kernel, activation_moments
    from .kernels import _series_eligible, _series_kernel

    if act.kernel_2d is None and _series_eligible(act) and len(q) >= 8:
        # the smooth built-ins (tanh, sigmoid, softplus, gelu, silu): the Mehler series of the kernels
        # module, vectorised over each row of pairs with the same rigorous truncation bound and the same
        # quadrature fallback; its diagonal is E[phi^2], E[phi'^2] (c = 1).  On 1,000 digits at depth 10
        # (tanh, critical) about 4x faster than the per-pair series below (benchmarks/bench_fim_data.py)
        K, Kd = _series_kernel(act, q, q, S, symmetric=True)
        return K, Kd
    mehler = not (act.kernel_2d is not None or act.code < 0 or len(q) < 8)
    m = None if mehler else activation_moments(act, q)
    if act.kernel_2d is not None:
        from .kernels import closed_form_kernel

        # closed form: the whole matrix at once, compiled where the kernels module has it
        # (relu, leaky relu, erf, linear), else the activation's own vectorised formula
        res = closed_form_kernel(act, q[:, None], q[None, :], S)
        if res is None:
            res = act.kernel_2d(q[:, None], q[None, :], S)
        K, Kd = (r if (isinstance(r, np.ndarray) and r.shape == S.shape and r.dtype == float and r.flags.writeable)
                 else np.array(np.broadcast_to(r, S.shape), dtype=float) for r in res)
    elif act.code < 0 or len(q) < 8:
        iu = np.triu_indices(len(q))
        k, kd = activation_kernel(act, q[iu[0]], q[iu[1]], S[iu])
        K = np.empty_like(S)
        Kd = np.empty_like(S)
        K[iu], Kd[iu] = k, kd
        K[(iu[1], iu[0])], Kd[(iu[1], iu[0])] = k, kd
    else:
        B, m0, m1 = _hermite_table(act, q)
        m = (m0, m1)
        kk = np.arange(1, _MEHLER_K + 1)
        D = np.sqrt(kk)[None, :] * B[:, 1:]
        T1 = m[0][:, None] - np.cumsum(B[:, :-1] ** 2, axis=1)
        U1 = (q * m[1])[:, None] - np.cumsum(D ** 2, axis=1)
        # a clearly negative Parseval tail means inaccurate coefficients: never accept those pairs
        T1 = np.where(T1 < -1e-12 * np.maximum(1.0, m[0])[:, None], np.inf, np.maximum(T1, 0.0))
        U1 = np.where(U1 < -1e-12 * np.maximum(1.0, q * m[1])[:, None], np.inf, np.maximum(U1, 0.0))
        K = np.empty_like(S)
        Kd = np.empty_like(S)
        ok = np.empty(S.shape, dtype=np.bool_)
        _mehler_data_kernel(np.ascontiguousarray(B[:, :-1]), np.ascontiguousarray(D), np.sqrt(T1), np.sqrt(U1), np.ascontiguousarray(q), np.ascontiguousarray(S),
                      _MEHLER_TOL, K, Kd, ok)
        if not ok.all():
            i, j = np.nonzero(np.triu(~ok))
            k, kd = activation_kernel(act, q[i], q[j], S[i, j])
            K[i, j], Kd[i, j] = k, kd
            K[j, i], Kd[j, i] = k, kd
    # the diagonal from the 1-D integrals, exact at c = 1
    np.fill_diagonal(K, m[0])
    np.fill_diagonal(Kd, m[1])
    return K, Kd


@dataclass(frozen=True)
class DataKernels:
    r"""Infinite-width layer kernels of an :class:`MLP` on a data matrix, in its standard parameterisation.

    For weight layers :math:`l = 1..L` with widths :math:`M_{l-1}\to M_l`:

    * ``qhat[l-1]`` :math:`= \hat q^{l-1}(x,x') = E\varphi(u^{l-1})\varphi(u'^{l-1})` (``qhat[0] = XX^T/M_0``);
    * ``nngp[l-1]`` :math:`= \Sigma^{(l)} = \sigma_w^2\hat q^{l-1} + \sigma_b^2`, the covariance of :math:`u^l`;
    * ``sdot[l-1]`` :math:`= \dot\Sigma^{(l)} = \sigma_w^2 E\varphi'(u^l)\varphi'(u'^l)` for :math:`l = 1..L-1`;
    * ``ntk`` :math:`= \Theta = \sum_{l=1}^{L}\tilde q^l\odot(M_{l-1}\hat q^{l-1} + 1)` with
      :math:`\tilde q^l = \prod_{k=l}^{L-1}\dot\Sigma^{(k)}`, the limit of
      ``MLP.empirical_ntk(X, parameterization="standard")`` per output (gradients in the entries);
      ``ntk_bias`` is its bias part :math:`\sum_l\tilde q^l`.  ``ntk_layers[l-1]`` is the partial sum
      :math:`\Theta^{(l)}` over weight layers :math:`\le l` (forward recursion
      :math:`\Theta^{(l+1)} = \Theta^{(l)}\odot\dot\Sigma^{(l)} + M_l\hat q^l + 1`).
    * ``readout`` :math:`= M_{L-1}\hat q^{L-1} + 1`, the readout layer's own term of :math:`\Theta`.
    """

    widths: tuple
    qhat: list
    nngp: list
    sdot: list
    ntk: np.ndarray
    ntk_bias: np.ndarray
    ntk_layers: list
    readout: np.ndarray = None


@numba.njit(cache=True)
def _ntk_layer_step(theta, tbias, E, Ed, sw, sb, width, S_next, theta_out):
    # Sdot = sw E[phi' phi'] (in place in Ed), Theta <- Theta Sdot + width E[phi phi] + 1, its bias part
    # <- bias part Sdot + 1, and the next layer's covariance sw E[phi phi] + sb, in one pass
    n, m = E.shape
    for i in range(n):
        for j in range(m):
            sd = sw * Ed[i, j]
            Ed[i, j] = sd
            e = E[i, j]
            theta_out[i, j] = theta[i, j] * sd + width * e + 1.0
            tbias[i, j] = tbias[i, j] * sd + 1.0
            S_next[i, j] = sw * e + sb


def data_kernels(X, act, sigma_w2: float, sigma_b2: float, depth: int, width: int, n_outputs: int = 1,
                 *, keep_layers: bool = True) -> DataKernels:
    r"""The layer kernels of :class:`DataKernels` on the rows of ``X`` (pair by pair, exact to ~1e-12).

    ``depth`` is the number of weight layers :math:`L` of the :class:`MLP` with widths
    ``[d] + [width] * (L - 1) + [n_outputs]``.  With ``keep_layers=False`` only ``ntk`` and
    ``ntk_bias`` are kept (memory :math:`O(T^2)`).

    >>> X = np.eye(3)
    >>> k = data_kernels(X, "relu", 2.0, 0.0, depth=2, width=10)
    >>> np.round(np.diag(k.ntk), 12).tolist()   # layer 1: 2·(1/2)·(3·(1/3) + 1) = 2; layer 2: 10·(q/2) + 1, q = 2/3
    [6.333333333333, 6.333333333333, 6.333333333333]
    """
    from .activations import activation
    from .data import check_inputs

    X = check_inputs(X, "X")
    a = activation(act)
    sw = check_positive("sigma_w2", sigma_w2)
    sb = check_positive("sigma_b2", sigma_b2, strict=False)
    ws = _widths(depth, width, n_outputs, X.shape[1])
    L = int(depth)
    qh = X @ X.T / ws[0]
    qh = 0.5 * (qh + qh.T)
    theta = ws[0] * qh + 1.0
    tbias = np.ones_like(qh)
    qhats, nngps, sdots, layers = [qh], [], [], [theta.copy()]
    S = sw * qh
    S += sb
    for l in range(1, L):
        q = np.diag(S).copy()
        # a covariance matrix: |S_ij| <= sqrt(S_ii S_jj), so a finite diagonal bounds every entry
        if not np.all(np.isfinite(q)) or q.max() > 1e150:
            raise ValueError(f"the forward length map diverges at layer {l} (q = {q.max():.3g}); sigma_w2 = "
                             f"{sigma_w2} is too large")
        if q.min() <= 0:
            raise ValueError(f"an input has zero pre-activation variance at layer {l} (all-zero input with "
                             f"sigma_b2 = 0): its Gaussian integrals are undefined")
        E, Ed = _pair_expectations(a, q, S)
        # one compiled pass per layer (at T = 1000 each numpy temporary is an 8 MB pass over memory);
        # without the layers kept, Theta and the covariance are updated in place
        S_next = np.empty_like(S) if keep_layers else S
        th_out = np.empty_like(theta) if keep_layers else theta
        _ntk_layer_step(theta, tbias, E, Ed, sw, sb, float(ws[l]), S_next, th_out)
        theta, qh = th_out, E
        if keep_layers:
            nngps.append(S)
            sdots.append(Ed)
            qhats.append(qh)
            layers.append(theta)
        S = S_next
    nngps.append(S)
    return DataKernels(tuple(ws), qhats, nngps, sdots, theta, tbias, layers if keep_layers else [theta],
                       ws[L - 1] * qh + 1.0)


def _top_eigs(A: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` eigenpairs of a symmetric matrix (dense for small, Lanczos for large)."""
    n = A.shape[0]
    if n <= 400 or k >= n - 1:
        ev, V = np.linalg.eigh(A)
        return ev[::-1][:k], V[:, ::-1][:, :k]
    from scipy.sparse.linalg import eigsh

    # start from the constant vector: the top eigenvector of a kernel matrix of positive entries is
    # close to it, which saves Lanczos steps (any start converges)
    ev, V = eigsh(A, k=k, which="LA", tol=1e-12, v0=np.ones(n) + 1e-3 * np.arange(n) / n)
    o = np.argsort(ev)[::-1]
    return ev[o], V[:, o]


def _top_centred(th: np.ndarray) -> float:
    r""":math:`\lambda_1(H\Theta H)`, :math:`H = I - \mathbf 1\mathbf 1^\top/T`, for a symmetric :math:`\Theta`."""
    n = th.shape[0]
    if n <= 400:
        Hc = th - th.mean(axis=0)[None, :]
        Hc -= Hc.mean(axis=1)[:, None]
        return float(np.linalg.eigvalsh(0.5 * (Hc + Hc.T))[-1])
    from scipy.sparse.linalg import LinearOperator, eigsh

    def apply(v):
        # H Theta H v with the centring applied to the vectors, never to the matrix
        v = v - v.mean(axis=0)
        w = th @ v
        return w - w.mean(axis=0)

    op = LinearOperator((n, n), matvec=apply, matmat=apply, dtype=float)
    v0 = np.cos(np.arange(n) * 2.0 * np.pi / n)        # orthogonal to the constant null vector
    return float(eigsh(op, k=1, which="LA", tol=1e-12, v0=v0)[0][0])


def fim_statistics_data(X, act, sigma_w2: float, sigma_b2: float, depth: int, width: int, n_outputs: int = 1,
                        *, kernels: DataKernels | None = None) -> FIMStatistics:
    r"""Infinite-width FIM statistics of an :class:`MLP` on the data matrix ``X`` (its own geometry).

    The dual :math:`F^* = \Theta\otimes I_C/T` with :math:`\Theta` from :func:`data_kernels` (pair by
    pair): :math:`\lambda_{\max} = \lambda_1(\Theta)/T` with multiplicity :math:`C`, mean
    :math:`C\operatorname{tr}\Theta/(TP)`, second moment :math:`C\|\Theta\|_F^2/(T^2P)`; with
    mean-subtracting batch norm in the last layer, :math:`\lambda_1(H\Theta H)/T`,
    :math:`H = I - \mathbf 1\mathbf 1^\top/T` (infinite width; see :func:`fim_batchnorm_surrogate` for
    its finite-width top).  ``kappa1``/``kappa2`` are the means of the diagonal / off-diagonal of the
    weight part of :math:`\Theta`, divided by :math:`\alpha M`.  With every input of the same length
    and every pair of the same overlap, :math:`\Theta = (A-B)I + B\mathbf 1\mathbf 1^\top` and this is
    :func:`fim_statistics` (Karakida et al.).  ``top_mean`` (mean of the top :math:`C`) equals
    ``lambda_max`` here.

    >>> X = np.sqrt(64) * np.eye(4, 64)          # orthogonal inputs of length 1 per coordinate
    >>> s = fim_statistics_data(X, "relu", 2.0, 0.0, depth=3, width=100)
    >>> k = fim_statistics("relu", 2.0, 0.0, depth=3, width=100, n_samples=4, input_dim=64)
    >>> bool(abs(s.lambda_max / k.lambda_max - 1) < 1e-10)
    True
    """
    from .data import check_inputs

    X = check_inputs(X, "X")
    T, C = X.shape[0], int(n_outputs)
    k = kernels if kernels is not None else data_kernels(X, act, sigma_w2, sigma_b2, depth, width, n_outputs,
                                                          keep_layers=False)
    ws = list(k.widths)
    L = int(depth)
    P = int(sum(ws[l + 1] * ws[l] + ws[l + 1] for l in range(L)))
    th = k.ntk
    top = float(_top_eigs(th, 1)[0][0]) / T
    top_bn = _top_centred(th) / T if T > 1 else 0.0
    M = float(width)
    alpha = float(sum(ws[l] * ws[l + 1] for l in range(L)) / M ** 2)
    # weight part of Theta (bias part removed), without forming the difference matrix
    tr_w = float(np.trace(th) - np.trace(k.ntk_bias))
    kap1 = tr_w / T / (alpha * M)
    kap2 = float((th.sum() - k.ntk_bias.sum() - tr_w) / (T * (T - 1)) / (alpha * M)) if T > 1 else float("nan")
    flat = th.ravel()
    return FIMStatistics(kappa1=kap1, kappa2=kap2, mean=float(C * np.trace(th) / (T * P)),
                         second_moment=float(C * np.dot(flat, flat) / (T * T * P)), lambda_max=top,
                         multiplicity=C, lambda_max_bn=top_bn, n_params=P,
                         eigenvalues=np.array([top] * C), top_mean=top)


# =============================================================================================
# Finite width: the split of the C-fold outlier and the top of the bulk under batch norm
# =============================================================================================
@dataclass(frozen=True)
class TopCluster:
    r"""Predicted finite-width law of the top-:math:`C` cluster of the FIM (see :func:`fim_top_cluster`).

    Attributes
    ----------
    lambda_inf : float
        Infinite-width :math:`\lambda_{\max}` (C-fold).
    top_mean : float
        Expected mean of the top :math:`C` eigenvalues.
    max_mean, max_std : float
        Expected largest eigenvalue and its standard deviation over networks.
    spread : float
        Expected standard deviation of the :math:`C` top eigenvalues within one network, relative to
        ``lambda_inf``.
    draws : numpy.ndarray
        Sampled top-C eigenvalues of the model, shape ``(n_draws, C)`` (descending).
    """

    lambda_inf: float
    top_mean: float
    max_mean: float
    max_std: float
    spread: float
    draws: np.ndarray = field(repr=False)


def _gaussian_rows(cov: np.ndarray, n: int, gen) -> np.ndarray:
    """``n`` centred Gaussian rows with covariance ``cov`` (PSD up to rounding)."""
    ev, V = np.linalg.eigh(0.5 * (cov + cov.T))
    root = V * np.sqrt(np.clip(ev, 0.0, None))[None, :]
    return gen.standard_normal((n, cov.shape[0])) @ root.T


def _readout(C: int, M: int, sw: float, init: str, gen) -> np.ndarray:
    if init == "orthogonal":
        from .mlp import haar_orthogonal_isometry

        W = np.sqrt(sw) * haar_orthogonal_isometry(C, M, gen)
        return W * np.sqrt(C / M) if C > M else W
    return gen.standard_normal((C, M)) * np.sqrt(sw / M)


def fim_top_cluster(X, act, sigma_w2: float, sigma_b2: float, depth: int, width: int, n_outputs: int = 1, *,
                    weights: str | None = None, n_draws: int = 200, rng=None,
                    kernels: DataKernels | None = None, init: str | None = None) -> TopCluster:
    r"""Finite-width split of the :math:`C`-fold top eigenvalue of the FIM on the data ``X``.

    Projected on the top eigenvector :math:`v` of :math:`\Theta/T` (:func:`data_kernels`), the
    :math:`C\times C` block of the finite-width dual is
    :math:`K_{ab} = r\,\delta_{ab} + w_a^\top S\,w_b`: :math:`r = v^\top(M_{L-1}\hat q^{L-1} + 1)v/T` is
    the readout layer's own term (the same for every output), :math:`w_a` the rows of the readout and
    :math:`S` the :math:`M\times M` matrix of the layers below.  The model keeps its diagonal,
    :math:`s_i = v^\top[(\varphi'(u_i)\varphi'(u_i)^\top)\odot\Theta^{(L-1)}]v/T` with the last hidden
    pre-activations :math:`u_i \sim N(0, \Sigma^{(L-1)})` independent over neurons (exact in
    distribution at infinite width), and samples :math:`K = rI + W\operatorname{diag}(s)W^\top` with
    Gaussian (``weights="gaussian"``, the default) or Haar-isometric (``"orthogonal"``) rows (``init=``
    is the deprecated name of ``weights=``); its expectation of the
    mean of the top C is :math:`\lambda_{\max}` of :func:`fim_statistics_data`, and its largest
    eigenvalue is biased up by :math:`O(\sqrt{C/M})`.  The off-diagonal part of :math:`S` from deeper
    layers is dropped (exact for one hidden layer; for deeper networks the spread is a lower bound).
    The draws are a Monte-Carlo evaluation of this model: no network is trained or measured.

    >>> X = np.sqrt(64) * np.eye(8, 64)
    >>> tc = fim_top_cluster(X, "relu", 2.0, 0.0, depth=2, width=400, n_outputs=4, n_draws=50, rng=0)
    >>> bool(tc.max_mean > tc.top_mean), bool(abs(tc.top_mean / tc.lambda_inf - 1) < 0.02)
    (True, True)
    """
    from .activations import activation
    from .data import check_inputs
    from .network import weight_law

    X = check_inputs(X, "X")
    law = weight_law(weights, init, allowed=("gaussian", "orthogonal"), caller="fim_top_cluster")
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 2:
        raise ValueError(f"n_draws must be an integer >= 2, got {n_draws!r}")
    gen = np.random.default_rng(rng)
    k = kernels if kernels is not None else data_kernels(X, act, sigma_w2, sigma_b2, depth, width, n_outputs)
    T, C, L = X.shape[0], int(n_outputs), int(depth)
    ws = list(k.widths)
    ev, V = _top_eigs(k.ntk / T, 1)
    lam, v = float(ev[0]), V[:, 0]
    if L == 1:
        draws = np.full((n_draws, C), lam)
        return TopCluster(lam, lam, lam, 0.0, 0.0, draws)
    a = activation(act)
    sw = float(sigma_w2)
    M = ws[L - 1]
    cL = ws[L - 1] * k.qhat[L - 1] + 1.0
    r = float(v @ cL @ v) / T
    below = k.ntk_layers[L - 2]
    cov = k.nngp[L - 2]
    draws = np.empty((n_draws, C))
    for n in range(n_draws):
        U = _gaussian_rows(cov, M, gen)
        A = a.dphi(U) * v[None, :]
        s = np.einsum("it,ts,is->i", A, below, A) / T
        W = _readout(C, M, sw, law, gen)
        Kc = r * np.eye(C) + (W * s[None, :]) @ W.T
        draws[n] = np.linalg.eigvalsh(Kc)[::-1]
    mx = draws[:, 0]
    return TopCluster(lam, float(draws.mean()), float(mx.mean()), float(mx.std(ddof=1)),
                      float(np.mean(draws.std(axis=1)) / lam), draws)


def fim_batchnorm_surrogate(X, act, sigma_w2: float, sigma_b2: float, depth: int, width: int,
                            n_outputs: int = 1, *, n_draws: int = 8, rng=None,
                            kernels: DataKernels | None = None) -> dict:
    r"""Top of the FIM bulk with mean-subtracting batch norm in the last layer, at finite width.

    The dual is :math:`\Theta = \sum_{l=1}^{L} c_l\odot\Delta_l`, :math:`c_l = \Phi_{l-1}\Phi_{l-1}^\top + 1`
    (features of layer :math:`l-1`, :math:`\Phi_0 = X`) and
    :math:`\Delta_l = \sum_{i\le M_l} a_ia_i^\top`, :math:`a_i^{(a)}(t) = \varphi'(u_i^l(t))\,g_i^{(a)}(t)`
    (backpropagated signal of neuron :math:`i` for output :math:`a`).  Batch norm removes the
    :math:`\mathbf 1` mode, so :math:`\lambda^{BN}_{\max}` is the top of what is left: at infinite width
    :math:`\lambda_1(H\bar\Theta H)/T` (a :math:`T-1`-fold atom :math:`(A-B)/T` for uniform overlaps),
    at finite width lifted by the :math:`O(\sqrt M)` fluctuations of :math:`c_l` and :math:`\Delta_l`,
    which are sums over :math:`M` neurons.  This is the random-features (Pennington–Worah 2017/2018)
    picture layer by layer; the surrogate linearises :math:`c_l\odot\Delta_l` around the means
    :math:`\bar c_l = M_{l-1}\hat q^{l-1} + 1`, :math:`\bar\Delta_l = \tilde q^l I_C`, and takes the
    neurons independent with their infinite-width laws: :math:`u_i^l\sim N(0,\Sigma^{(l)})`,
    :math:`g_i^{(a)}\sim N(0, \sigma_w^2\tilde q^{l+1}/M_l)` independent of :math:`u` and over outputs
    (for the last hidden layer :math:`g_i^{(a)}(t) = w_{ai}` exactly); the same :math:`u_i^{l}` feeds
    :math:`c_{l+1}` and :math:`\Delta_l`.  Then

    .. math:: \Theta_{\rm sur} = \sum_{l=1}^{L}\big[\bar c_l\odot\Delta_l + (c_l - \bar c_l)\odot\bar\Delta_l\big],

    evaluated by Monte Carlo (``n_draws`` surrogate draws, no network), with the dependence between
    layers (the feedback of lower-layer fluctuations into the higher kernels) neglected.

    Returns
    -------
    dict
        ``lambda_bn`` (mean over draws of :math:`\lambda_1((H\otimes I)\Theta_{\rm sur}(H\otimes I))/T`),
        ``lambda_bn_std``, ``lambda_bn_inf`` (infinite width), ``lambda_max`` and ``top_mean``
        (surrogate without batch norm: largest and mean of the top C), ``draws_bn``.

    >>> X = np.sqrt(64) * np.eye(8, 64)
    >>> out = fim_batchnorm_surrogate(X, "relu", 2.0, 0.0, depth=2, width=300, n_draws=3, rng=0)
    >>> bool(out["lambda_bn"] > out["lambda_bn_inf"])     # fluctuations lift the top of the bulk
    True
    """
    from .activations import activation
    from .data import check_inputs

    X = check_inputs(X, "X")
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise ValueError(f"n_draws must be an integer >= 1, got {n_draws!r}")
    T, C, L = X.shape[0], int(n_outputs), int(depth)
    if T < 2:
        raise ValueError(f"batch norm needs T >= 2 inputs, got T = {T}")
    if T * C > 4000:
        raise ValueError(f"T * n_outputs must be at most 4000 for the dense surrogate, got {T * C}")
    gen = np.random.default_rng(rng)
    k = kernels if kernels is not None else data_kernels(X, act, sigma_w2, sigma_b2, depth, width, n_outputs)
    a = activation(act)
    sw = float(sigma_w2)
    ws = list(k.widths)
    # q~^l = prod_{k=l}^{L-1} Sdot^(k), l = 1..L (q~^L = 1)
    qt = [np.ones((T, T))]
    for l in range(L - 1, 0, -1):
        qt.insert(0, qt[0] * k.sdot[l - 1])
    cbar = [ws[l - 1] * k.qhat[l - 1] + 1.0 for l in range(1, L + 1)]
    H = np.eye(T) - 1.0 / T
    bn_inf = float(_top_eigs(H @ k.ntk @ H / T, 1)[0][0])
    out_bn, out_max, out_mean = [], [], []
    for _ in range(n_draws):
        theta = np.zeros((C, C, T, T))
        feats = X @ X.T                       # F_0, exact
        for l in range(1, L + 1):
            # (c_l - cbar_l) odot Delta-bar_l, block diagonal over outputs
            dev = (feats + 1.0 - cbar[l - 1]) * qt[l - 1]
            for c in range(C):
                theta[c, c] += dev
            if l == L:
                for c in range(C):
                    theta[c, c] += cbar[L - 1]
                break
            Ml = ws[l]
            U = _gaussian_rows(k.nngp[l - 1], Ml, gen)       # u^l_i(t), (M_l, T)
            dphi = a.dphi(U)
            if l == L - 1:
                G = _readout(C, Ml, sw, "gaussian", gen)[:, :, None] * np.ones((1, 1, T))   # (C, M, T)
            else:
                G = np.stack([_gaussian_rows(sw * qt[l] / Ml, Ml, gen) for _ in range(C)])
            Aout = dphi[None, :, :] * G                       # (C, M_l, T)
            for c1 in range(C):
                for c2 in range(C):
                    theta[c1, c2] += cbar[l - 1] * (Aout[c1].T @ Aout[c2])
            feats = a.phi(U).T @ a.phi(U)                     # F_l from the same neurons
        big = theta.transpose(0, 2, 1, 3).reshape(C * T, C * T)
        big = 0.5 * (big + big.T)
        ev = np.linalg.eigvalsh(big / T)
        out_max.append(ev[-1])
        out_mean.append(ev[-C:].mean())
        Hc = np.kron(np.eye(C), H)
        out_bn.append(np.linalg.eigvalsh(Hc @ big @ Hc / T)[-1])
    out_bn = np.array(out_bn)
    return {"lambda_bn": float(out_bn.mean()), "lambda_bn_std": float(out_bn.std(ddof=1)) if n_draws > 1 else 0.0,
            "lambda_bn_inf": bn_inf, "lambda_max": float(np.mean(out_max)), "top_mean": float(np.mean(out_mean)),
            "draws_bn": out_bn}
