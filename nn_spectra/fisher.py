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

import numpy as np

from freeprob.law import check_positive, check_real

__all__ = ["FIMStatistics", "fim_statistics", "measure_fim_statistics", "order_parameters", "fim_inputs"]


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


def fim_statistics(act, sigma_w2: float, sigma_b2: float, depth: int, width: int, n_samples: int,
                   n_outputs: int = 1, *, input_dim: int | None = None, q_input: float = 1.0,
                   c_input: float = 0.0) -> FIMStatistics:
    r"""Mean-field prediction of the FIM statistics (module docstring).

    Parameters
    ----------
    act : str or Activation
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
                         lambda_max_bn=lam_small if T > 1 else 0.0, n_params=P, eigenvalues=eig)


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


def measure_fim_statistics(act, sigma_w2: float, sigma_b2: float, depth: int, width: int, n_samples: int,
                           n_outputs: int = 1, *, input_dim: int | None = None, q_input: float = 1.0,
                           c_input: float = 0.0, init: str = "gaussian", rng=None) -> FIMStatistics:
    r"""The same statistics measured on one real :class:`MLP` through the FIM/NTK duality.

    The nonzero eigenvalues of :math:`F` are those of :math:`\Theta/T`, with :math:`\Theta` the
    empirical NTK (standard parameterisation, biases included): :math:`\operatorname{tr}F = \operatorname{tr}\Theta/T`,
    :math:`\operatorname{tr}F^2 = \operatorname{tr}(\Theta/T)^2`.  The outlier multiplicity counts
    eigenvalues above the midpoint between the predicted bulk and outlier values.
    """
    from .mlp import MLP

    ws = _widths(depth, width, n_outputs, input_dim)
    T, C = int(n_samples), int(n_outputs)
    gen = np.random.default_rng(rng)
    net = MLP(ws, act, sigma_w2, sigma_b2, init=init, rng=gen)
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
    pred = fim_statistics(act, sigma_w2, sigma_b2, depth, width, n_samples, n_outputs,
                          input_dim=input_dim, q_input=q_input, c_input=c_input)
    cut = 0.5 * (pred.lambda_max + (pred.eigenvalues.min() if len(pred.eigenvalues) else 0.0))
    return FIMStatistics(kappa1=float("nan"), kappa2=float("nan"), mean=float(eig.sum() / P),
                         second_moment=float((eig ** 2).sum() / P), lambda_max=float(eig[-1]),
                         multiplicity=int(np.sum(eig > cut)), lambda_max_bn=float(eig_bn[-1]),
                         n_params=P, eigenvalues=eig)
