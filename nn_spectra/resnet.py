r"""Residual networks at initialisation: mean field, infinite-width kernels and the Jacobian law.

Two residual blocks, both with a branch of strength :math:`a > 0`, weights :math:`W_l` of entry
variance :math:`\sigma_w^2/N` (i.i.d. Gaussian, or :math:`\sigma_w` times a Haar orthogonal matrix) and
biases of variance :math:`\sigma_b^2`:

* ``variant="pre"`` (pre-activation unit, the *reduced* residual network of Yang–Schoenholz 2017):
  :math:`x^{l+1} = x^l + a\,(W_l\,\varphi(x^l) + b_l)`; block Jacobian :math:`I + aW_lD_l`,
  :math:`D_l = \operatorname{diag}\varphi'(x^l)`.
* ``variant="post"`` (the block of Tarnowski et al. 2019): :math:`h^l = W_l x^l + b_l`,
  :math:`x^{l+1} = x^l + a\,\varphi(h^l)`; block Jacobian :math:`I + aD_lW_l`,
  :math:`D_l = \operatorname{diag}\varphi'(h^l)`.

Depth.  ``depth`` is :math:`L`, **the number of weight layers**, as everywhere in :mod:`nn_spectra`
(:class:`nn_spectra.Network`; the CNN counts :math:`L-1` convolutions and the readout): a ResNet of
depth :math:`L` is the read-in :math:`x^0 = W_{in}x + b_{in}`, :math:`B = L - 2` residual blocks (one
weight matrix :math:`W_l` each) and the linear readout :math:`f = w\cdot x^B + b`
(:class:`nn_spectra.ResNet`).  Every ResNet function takes this :math:`L`: the kernels
(:func:`resnet_nngp_ntk`) span all :math:`L` layers; the mean field (:func:`resnet_mean_field`) and the
stream Jacobian :math:`J = \partial x^B/\partial x^0 = \prod_l(I + X_l)` (:func:`resnet_jacobian_law`,
:func:`resnet_jacobian_moments`) span the :math:`B = L - 2` blocks, as the fully-connected Jacobian
spans the :math:`L - 1` nonlinear layers and not the readout.  ``ResNetJacobianLaw.depth`` is
:math:`L` and ``.layers`` the number :math:`B` of :math:`I + X_l` factors.  (Until issue 14 the ResNet
functions counted residual blocks: the old ``depth=B`` is ``depth=B + 2`` now.)  The weight law is
``weights=`` (``"gaussian"`` or ``"orthogonal"``) in every ResNet function and class;
``ResNet(init=...)`` is its deprecated spelling.

Mean field.  With :math:`Q^l = |x^l|^2/N` the residual q-map is
:math:`Q^{l+1} = Q^l + a^2(\sigma_w^2E[\varphi(\sqrt{Q^l}z)^2] + \sigma_b^2)` (pre) or
:math:`Q^{l+1} = Q^l + a^2E[\varphi(\sqrt{q_h^l}z)^2] + 2am^lE[\varphi(\sqrt{q_h^l}z)]`,
:math:`m^{l+1} = m^l + aE[\varphi(\sqrt{q_h^l}z)]`, :math:`m^0 = 0`, :math:`q_h^l = \sigma_w^2Q^l + \sigma_b^2`
(post): a post block adds :math:`a\varphi(h^l)` to every coordinate, so for :math:`E\varphi\neq0` (relu,
sigmoid, ...) the stream acquires a coordinate mean :math:`m^l`, and :math:`x^l\cdot\varphi(h^l)/N\to
m^lE\varphi(h^l)` (:math:`h^l = W_lx^l + b_l` is independent of the centred part of :math:`x^l`).  Pre
blocks add :math:`aW_l\varphi(x^l)`, whose coordinate mean vanishes.  Covariances of two inputs follow the
same maps with :math:`E[\varphi(u)\varphi(v)]` and the cross terms :math:`a(m^lE\varphi(h'^l) +
m'^lE\varphi(h^l))`.  There is no
fixed point: the length grows (linearly for bounded :math:`\varphi`, geometrically for relu) and the
per-block gain :math:`\chi_l = 1 + a^2\sigma_w^2E[\varphi'^2]` is never below 1, so residual networks sit
on (or above) the edge of chaos at every initialisation (Yang–Schoenholz).

Jacobian law (``variant="post"``).  The squared singular values of :math:`J = \prod_l(I + X_l)` with
:math:`X_l = aW_lD_l`.  :math:`X_l` is R-diagonal (a circular or Haar unitary element times a free
:math:`D_l`, Nica–Speicher Thm 15.10) with :math:`|X_l|^2` distributed as
:math:`\nu_l = a^2\sigma_w^2 D_l^2` (orthogonal) or :math:`\mathrm{MP}(1)\boxtimes a^2\sigma_w^2D_l^2`
(Gaussian).  For R-diagonal :math:`X` the :math:`M_2(\mathbb C)`-valued R-transform of the hermitisation
:math:`T = [[0, X],[X^*, 0]]` is :math:`\operatorname{diag}(b_{22}A(b_{11}b_{22}), b_{11}A(b_{11}b_{22}))`
with :math:`wA(w^2) = R_\sigma(w)` the R-transform of the symmetrisation :math:`\sigma` of
:math:`|X|` (only alternating cumulants survive).  Shifting by :math:`\Lambda = [[0,1],[1,0]]` and using
the symmetry of the two diagonal entries, the operator-valued equation reduces to two scalar ones:
:math:`g = u/(u^2-1)`, :math:`u = z - R_\sigma(g)`; with the subordination point :math:`v` defined by
:math:`G_\sigma(v) = v\,G_\nu(v^2) = g` (so :math:`R_\sigma(g) = v - 1/g`), the law of
:math:`(1+X)(1+X)^*` has :math:`G(z^2) = g/z`.  In the post variant the blocks are free (the same
asymptotic-freeness argument as for fully-connected networks: :math:`D_l` is a function of the fresh
field :math:`h^l = W_lx^l + b_l`, so the :math:`D_l` of different blocks are independent, and each
:math:`W_l` is bi-orthogonally invariant), so :math:`S_{JJ^\top} = \prod_l S_l`.  In the *pre* variant
:math:`D_l = \operatorname{diag}\varphi'(x^l)` is a function of the residual stream itself, which
changes by :math:`O(a)` per block: the :math:`D_l` of neighbouring blocks are strongly correlated, the
blocks are **not** free (words such as :math:`X_2X_1^*` bring :math:`\tau(D_2D_1)\neq\tau(D_2)\tau(D_1)`
into the second moment, at order :math:`a^4L^2 = O(1)` in the scaling limit), and real pre-activation
ResNets have visibly wider spectra than the free product (KS 0.04 at width 400, depth 10, relu,
:math:`a=0.3`, not shrinking with the width).  So the law is offered for the post variant only.
For the pre variant the *moments* :math:`m_1, m_2` are exact (orthogonal weights,
:func:`resnet_jacobian_moments` with ``variant="pre"``): the :math:`O_l` stay free from the whole
diagonal algebra of the :math:`D`'s, the stream coordinates are a Gaussian random walk
(:math:`\operatorname{Cov}(x^l_i, x^m_i) = Q^{\min(l,m)}`), and a recursion over the bilinear
quantities :math:`\tau(A_l\,d\,A_l\,d')`, :math:`d, d'\in\{1, D_0^2, D_1^2,\dots\}`, carries
the correlations (:func:`_pre_moment_recursion`); relu, :math:`a = 0.5`, depth 10:
:math:`M_2/M_1^2 = 5.585` against 4.600 for the free product, real networks 5.63 ± 0.02 at width 400.
The full law would need this operator-valued (over the path algebra) system, not built.

One block's S-transform.  Eliminating the hermitisation variables gives it in closed form up to one
scalar unknown.  With :math:`1+\zeta = zg` (:math:`\zeta = \psi(1/z^2)`) and :math:`R_\sigma(g) = q/g`,
the equation :math:`g(u^2-1) = u`, :math:`u = z - q/g` becomes :math:`g^2 = (1+\zeta-q)(\zeta-q)`, and the
subordination :math:`G_\sigma(v) = g` (:math:`v = (1+q)/g`, :math:`G_\sigma(v) = vG_\nu(v^2)`) becomes
:math:`q = \psi_\nu(C)`, :math:`C = 1/v^2 = (1+\zeta-q)(\zeta-q)/(1+q)^2`, :math:`\psi_\nu` the moment
generating function of :math:`\nu = a^2\sigma_w^2D^2`.  Then :math:`S(\zeta) = (1+\zeta)/(\zeta z^2)`:

.. math::
    S_{(1+X)(1+X)^*}(\zeta) = \Big(1 - \frac{q}{1+\zeta}\Big)\Big(1 - \frac{q}{\zeta}\Big),\qquad
    q = \psi_\nu(C')

with :math:`C' = C` for orthogonal weights and :math:`C' = C(1+q)` for Gaussian ones (:math:`|X|^2` is
then the free compound Poisson law with jumps :math:`\nu`, :math:`R(w) = E[t/(1-tw)]`).  Checks: one
linear block gives the arcsine law of :math:`|1+au|^2` exactly; :math:`q = \nu_1\zeta(1+\zeta) + O(a^4)`
gives :math:`\log S = -\nu_1(1+2\zeta) + O(a^4)` (the universal limit below).  The law
(:class:`ResNetJacobianLaw`, a :class:`freeprob.SolvedLaw`) solves
:math:`\log x = \operatorname{log1p}(1/\zeta) - \sum_k m_k[\operatorname{log1p}(-q_k/(1+\zeta)) +
\operatorname{log1p}(-q_k/\zeta)]` with one :math:`q_k = \psi_{\nu_k}(C_k')` per distinct block
(:mod:`nn_spectra.resnet_kernel`): identical blocks enter once with their multiplicity :math:`m_k`, so
the depth of a relu network (whose :math:`D^2` law does not depend on the length) is only an exponent,
and every term is :math:`O(a)` with no cancellation when the blocks tend to the identity: the
formulation stays well conditioned as :math:`a\to0`, where :math:`(x-1)/a` tends to the free sum of
the :math:`(X_l+X_l^*)/a` (Kesten–McKay for linear blocks).  The outer edges come from the real branch
:math:`x(\zeta) = 1/\chi_J(\zeta)` (its extremum on :math:`\zeta>0` and on :math:`\zeta<-1`, a fold),
or, when it is monotone to :math:`|\zeta|\to\infty` (a single block whose :math:`|X|` has a top atom:
an inverse-square-root edge), its limit :math:`\prod_k(1\pm\sqrt{t_{\max,k}})^{2m_k}`.

Blocks that all differ.  For a bounded :math:`\varphi` the length grows and every block has its own
:math:`\nu_l`, the law of :math:`a^2\sigma_w^2\varphi'(\sqrt{s_l}z)^2`, an analytic function of the variance
:math:`s_l` (fixed nodes :math:`z_i`, or the normal-cdf masses of piecewise-constant :math:`\varphi'`), and
so is each term :math:`\log S_{s}(\zeta)` of the log-equation.  The sum over the :math:`B` blocks is then
taken by the :math:`p`-point Gauss rule of the empirical measure :math:`\sum_l\delta_{\log s_l}`
(:func:`_empirical_gauss_rule`): :math:`p` blocks at the nodes, multiplicities its positive weights
(summing to :math:`B`), exact for every polynomial of degree :math:`2p-1` in :math:`\log s`.  A size is
accepted (:func:`_grouped_blocks`) only where the grouped block sum agrees with the exact one over all
:math:`B` blocks to ``GROUPING_TOL`` = 1e-12 at sample points :math:`\zeta` (an error :math:`\delta` there
makes the grouped law's :math:`x` the exact one's times :math:`e^\delta`) and the first six block moments
to 1e-13; otherwise every block is kept.  This is a checked, not a proven, bound: the tests compare the
grouped laws with the unapproximated ones (edges and densities to 1e-10).

Universal large-depth limit (Tarnowski–Warchoł–Jastrzębski–Tabor–Nowak 2019).  For one block
:math:`\log S_l(z) = -\nu_{1,l}(1 + 2z) + O(a^4)` (the odd orders vanish because :math:`X_l` is
R-diagonal), so when :math:`a\to0`, :math:`L\to\infty` with
:math:`\tau = \sum_l a^2\sigma_w^2E[\varphi'(h^l)^2]` fixed, :math:`S_{JJ^\top}(z) = e^{-\tau(1+2z)}`
for every activation and both weight laws (post blocks): one parameter, support
:math:`[1/\chi(\zeta_-), 1/\chi(\zeta_+)]`, :math:`\zeta_\pm = (-1\pm\sqrt{1+2/\tau})/2`,
:math:`\chi(\zeta) = \zeta e^{-\tau(1+2\zeta)}/(1+\zeta)`.  The corrections are :math:`O(1/L)`:
for :math:`L` equal blocks (:math:`\nu_1 = \tau/L`, :math:`\nu_2 = \kappa\nu_1^2`, so
:math:`\kappa = E\varphi'^4/(E\varphi'^2)^2`, plus 1 for Gaussian weights) the block moments
:math:`m_1 = 1+\nu_1`, :math:`m_2 = 1+4\nu_1+\nu_2` give
:math:`\log M_1 = \tau - \tau^2/(2L) + \tau^3/(3L^2) + O(L^{-3})` and
:math:`M_2/M_1^2 = 1 + 2\tau + (\kappa-5)\tau^2/L + 2(4-\kappa)\tau^3/L^2 + O(L^{-3})`
(relu, orthogonal weights: :math:`\kappa = 2`, so
:math:`|\log M_1-\tau| + |M_2/M_1^2-1-2\tau| \approx 3.5\tau^2/L`; verify case ``resnet_universal_limit``).
:class:`ResNetUniversalLaw` is a :class:`freeprob.SolvedLaw` in the one unknown :math:`\zeta`: the density by
Newton on the axis, the engine's contour cdf (no table of its own: the trapezoid table it replaces, normalised
by its own total, was off by 3-9e-7) and :meth:`~freeprob.SolvedLaw.check_mass` (1 to 4e-14 at
:math:`\tau` = 0.05, 0.6, 3).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

import freeprob as fp
from freeprob.law import check_positive, check_real
from freeprob.solved import ConvergenceError, SolvedLaw

from .activations import activation
from .gaussian_integrals import activation_kernel, activation_moments

__all__ = ["ResNetMeanField", "ResNetJacobianLaw", "ResNetUniversalLaw", "resnet_q_map", "resnet_mean_field",
           "resnet_nngp_ntk", "resnet_jacobian_law", "resnet_universal_law", "resnet_jacobian_moments",
           "resnet_conditional_fisher_moments"]

_VARIANTS = ("pre", "post")
_WEIGHTS = ("orthogonal", "gaussian")


#: former name of the solver's error, kept as an alias of the engine's one
ResNetSolverError = ConvergenceError


# ----------------------------------------------------------------------------- validation
def _check_a(a) -> float:
    v = check_real("a", a)
    if v <= 0:
        raise ValueError(f"a (branch strength) must lie in (0, inf), got {a!r}")
    return v


def _check_variant(variant: str) -> str:
    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {_VARIANTS}, got {variant!r}")
    return variant


def _check_weights(weights, caller: str = "", init=None, default: str = "orthogonal") -> str:
    """The weight law through nn_spectra's one reader (:func:`nn_spectra.network.weight_law`): ``init`` is a
    value given under the deprecated keyword ``init=``."""
    from .network import weight_law

    return weight_law(weights, init, default=default, allowed=_WEIGHTS, caller=caller)


def _check_depth(depth, low: int = 2) -> int:
    """``depth`` = L, the number of weight layers (read-in, L - 2 residual blocks, readout)."""
    from .network import MAX_DEPTH

    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or not low <= depth <= MAX_DEPTH:
        what = " (the read-in, at least one residual block and the readout)" if low == 3 else \
            " (the read-in and the readout; each residual block adds one)"
        raise ValueError(f"depth (the number of weight layers L{what}) must be an integer in [{low}, {MAX_DEPTH}], "
                         f"got {depth!r}")
    return int(depth)


def _variances(sigma_w2, sigma_b2):
    return check_positive("sigma_w2", sigma_w2), check_positive("sigma_b2", sigma_b2, strict=False)


# ----------------------------------------------------------------------------- mean field
def _phi_mean(act, q):
    r""":math:`E\varphi(\sqrt q z)` (0 for odd :math:`\varphi`), vectorised over ``q``."""
    from .gaussian_integrals import gaussian_expectation

    return np.asarray(gaussian_expectation(act.phi, q, kinks=tuple(act.kinks), tol=1e-13), dtype=float)


def resnet_q_map(act, q, a: float, sigma_w2: float, sigma_b2: float, variant: str = "pre", m: float = 0.0):
    r"""One residual block of the length map (module docstring).

    ``q`` is the stream length :math:`Q^l = |x^l|^2/N` and ``m`` the mean of the stream's coordinates
    (post blocks only: :math:`m^{l+1} = m^l + aE\varphi(h^l)`, 0 after the read-in); returns :math:`Q^{l+1}`.

    >>> round(resnet_q_map("relu", 1.0, 0.5, 2.0, 0.1), 12)   # 1 + 0.25 (2 * 1/2 + 0.1)
    1.275
    """
    act = activation(act)
    a = _check_a(a)
    sw, sb = _variances(sigma_w2, sigma_b2)
    variant = _check_variant(variant)
    qa = np.asarray(q, dtype=float)
    if np.any(~np.isfinite(qa)) or np.any(qa < 0):
        raise ValueError(f"q must lie in [0, inf), got {q!r}")
    if variant == "pre":
        e2 = activation_moments(act, qa)[0]
        out = qa + a * a * (sw * e2 + sb)
    else:
        e2 = activation_moments(act, sw * qa + sb)[0]
        m = check_real("m", m)
        out = qa + a * a * e2 + (2 * a * m * _phi_mean(act, sw * qa + sb) if m != 0 else 0.0)
    out = np.asarray(out, dtype=float)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class ResNetMeanField:
    r"""Mean-field trajectory of a residual network of ``depth`` :math:`L` weight layers over its
    :math:`B = L - 2` residual blocks (module docstring).

    Attributes
    ----------
    q : ndarray, shape (B + 1,)
        Stream lengths :math:`Q^0..Q^B` of the first input.
    q_phi : ndarray, shape (B,)
        Variance of the argument of :math:`\varphi` in block :math:`l` (:math:`Q^l` or :math:`q_h^l`).
    c : ndarray, shape (B + 1,)
        Correlation of the two inputs' streams.
    chi : ndarray, shape (B,)
        Block gains :math:`1 + a^2\sigma_w^2E[\varphi'^2]`, the mean squared singular value of block
        :math:`l` (always :math:`\ge 1`).
    log_gradient_gain : ndarray, shape (B + 1,)
        :math:`\log\prod_{k<l}\chi_k`: the log of the mean of :math:`JJ^\top` of the first ``l`` blocks.
    tau : float
        :math:`\sum_l a^2\sigma_w^2E[\varphi'^2]`, the parameter of the universal large-depth law.
    """

    q: np.ndarray
    q_phi: np.ndarray
    c: np.ndarray
    chi: np.ndarray
    log_gradient_gain: np.ndarray
    tau: float

    @property
    def blocks(self) -> int:
        """:math:`B`, the number of residual blocks."""
        return len(self.chi)

    @property
    def depth(self) -> int:
        """:math:`L = B + 2`, the number of weight layers (read-in, blocks, readout)."""
        return len(self.chi) + 2


def resnet_mean_field(act, a: float, sigma_w2: float, sigma_b2: float, depth: int, q0: float = 1.0,
                      c0: float = 0.5, variant: str = "pre") -> ResNetMeanField:
    r"""Length, correlation and gradient-gain trajectories of a residual network (Yang–Schoenholz 2017).

    Two inputs of equal stream length ``q0`` and correlation ``c0`` (of the read-in output :math:`x^0`)
    are propagated through the :math:`B = L - 2` residual blocks of a network of ``depth`` :math:`L`
    weight layers (module docstring) by the maps of the module docstring.

    >>> mf = resnet_mean_field("relu", 0.5, 2.0, 0.0, depth=5, q0=1.0)     # 3 blocks
    >>> [round(float(v), 10) for v in mf.q]             # relu, pre: Q' = Q (1 + a^2 sigma_w^2 / 2)
    [1.0, 1.25, 1.5625, 1.953125]
    >>> float(mf.chi[0])
    1.25
    """
    act = activation(act)
    a = _check_a(a)
    sw, sb = _variances(sigma_w2, sigma_b2)
    depth = _check_depth(depth) - 2       # the residual blocks
    variant = _check_variant(variant)
    q0 = check_positive("q0", q0)
    c0 = check_real("c0", c0)
    if not -1 <= c0 <= 1:
        raise ValueError(f"c0 must lie in [-1, 1], got {c0!r}")
    q = np.empty(depth + 1)
    c = np.empty(depth + 1)
    qp = np.empty(depth)
    chi = np.empty(depth)
    q[0], c[0] = q0, c0
    q12 = c0 * q0
    # post blocks add a phi(h) to every coordinate: the stream's coordinate mean m (equal for both
    # inputs, which have equal lengths) enters |x|^2/N and x.x'/N through 2 a m E phi
    m = 0.0
    for l in range(depth):
        if variant == "pre":
            s, s12 = q[l], q12
            k, _ = activation_kernel(act, s, s, s12)
            e2, d2, _ = activation_moments(act, s)
            q[l + 1] = q[l] + a * a * (sw * float(e2) + sb)
            q12 = q12 + a * a * (sw * float(k) + sb)
        else:
            s, s12 = sw * q[l] + sb, sw * q12 + sb
            k, _ = activation_kernel(act, s, s, s12)
            e2, d2, _ = activation_moments(act, s)
            e1 = float(_phi_mean(act, s))
            q[l + 1] = q[l] + a * a * float(e2) + 2 * a * m * e1
            q12 = q12 + a * a * float(k) + 2 * a * m * e1
            m = m + a * e1
        qp[l] = s
        chi[l] = 1.0 + a * a * sw * float(d2)
        c[l + 1] = q12 / q[l + 1]
    logg = np.concatenate([[0.0], np.cumsum(np.log(chi))])
    return ResNetMeanField(q, qp, c, chi, logg, float(np.sum(chi - 1.0)))


# ----------------------------------------------------------------------------- kernels
def _inputs(X, name):
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, d), got {np.shape(X)}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite")
    return X


def resnet_nngp_ntk(X1, X2=None, depth: int = 3, act="relu", a: float = 1.0, sigma_w2: float = 1.0,
                    sigma_b2: float = 0.0, variant: str = "pre") -> tuple[np.ndarray, np.ndarray]:
    r"""Infinite-width NNGP and NTK of a residual network with a read-in and a linear readout.

    Network (NTK parameterisation, as :class:`nn_spectra.ResNet`): :math:`x^0 = W_{in}x + b_{in}`
    (entry variance :math:`\sigma_w^2/d`), :math:`B = L - 2` residual blocks of the given ``variant``,
    :math:`f = w\cdot x^B + b` (variance :math:`\sigma_w^2/N`, :math:`\sigma_b^2`): ``depth`` :math:`L`
    weight layers in all (module docstring).  With
    :math:`\Sigma^0 = \Theta^0 = \sigma_w^2 x\cdot x'/d + \sigma_b^2`, per block (pre)

    .. math::
        \Sigma^{l+1} = \Sigma^l + a^2(\sigma_w^2 K + \sigma_b^2),\qquad
        \Theta^{l+1} = \Theta^l(1 + a^2\sigma_w^2\dot K) + a^2(\sigma_w^2K + \sigma_b^2),

    :math:`K = E[\varphi(u)\varphi(v)]`, :math:`\dot K = E[\varphi'(u)\varphi'(v)]`,
    :math:`(u,v)\sim N(0,\Sigma^l)`; (post) :math:`H = \sigma_w^2\Sigma^l + \sigma_b^2`, :math:`K,\dot K` at
    :math:`H`, :math:`\Sigma^{l+1} = \Sigma^l + a^2K`,
    :math:`\Theta^{l+1} = \Theta^l + a^2\dot K(\sigma_w^2\Theta^l + H)`.  Readout:
    NNGP :math:`= \sigma_w^2\Sigma^B + \sigma_b^2`, NTK :math:`= \sigma_w^2\Theta^B + \text{NNGP}`.

    For post blocks the NNGP carries the coordinate mean of the streams (module docstring):
    :math:`\Sigma^{l+1} = \Sigma^l + a^2K + a(m^lE\varphi(h'^l) + m'^lE\varphi(h^l))`,
    :math:`m^{l+1} = m^l + aE\varphi(h^l)`, :math:`m^0 = 0`, and the mean enters the NTK through
    :math:`\Sigma^l` in :math:`H` only; the mean's own gradient terms vanish at infinite width.  Proof by
    correlated copies: in the NTK parameterisation every parameter is a standard Gaussian
    :math:`\omega`, and for :math:`\omega_\rho = \rho\omega + \sqrt{1-\rho^2}\,\xi` (:math:`\xi` an independent
    copy) Mehler's formula gives :math:`\partial_\rho E[f(x;\omega)f(x';\omega_\rho)] =
    E[\nabla_\omega f(x;\omega)\cdot\nabla_\omega f(x';\omega_\rho)]`, so at :math:`\rho = 1` the mean NTK is
    :math:`\partial_\rho K_\rho|_{\rho=1}`, :math:`K_\rho` the NNGP of two networks with
    :math:`\rho`-correlated weights.  Its recursion is the one above with every weight layer's cross
    covariance times :math:`\rho` (:math:`H_\rho = \rho(\sigma_w^2\Sigma_\rho^l + \sigma_b^2)`, read-in and
    readout likewise), while the mean terms :math:`m^l, m'^l, E\varphi(h^l)` are one-network quantities,
    independent of :math:`\rho`.  Differentiating,
    :math:`\partial_\rho\Sigma^{l+1} = \partial_\rho\Sigma^l + a^2\dot K(H + \sigma_w^2\partial_\rho\Sigma^l)`:
    the :math:`\Theta` recursion with :math:`H` built from the mean-carrying :math:`\Sigma^l`.  (Per
    parameter the mean moves by :math:`O(1/N)`, and the readout :math:`w` is odd and independent, so the
    cross terms :math:`a(W_l\delta^{l+1})\cdot D'_l\delta'^{l+1}` of the backward pass average to zero.)
    Tests: wide real post ResNets (relu, sigmoid) and a numerical :math:`\partial_\rho` of an independent
    closed-form :math:`K_\rho` recursion.

    >>> import numpy as np
    >>> K, T = resnet_nngp_ntk(np.eye(2), depth=4, act="relu", a=0.5, sigma_w2=2.0)   # 2 blocks
    >>> K.shape, bool(np.all(T >= K))
    ((2, 2), True)
    """
    X1 = _inputs(X1, "X1")
    X2v = X1 if X2 is None else _inputs(X2, "X2")
    if X2v.shape[1] != X1.shape[1]:
        raise ValueError(f"X2 must have {X1.shape[1]} columns like X1, got {X2v.shape[1]}")
    act = activation(act)
    a = _check_a(a)
    sw, sb = _variances(sigma_w2, sigma_b2)
    blocks = _check_depth(depth) - 2
    variant = _check_variant(variant)
    d = X1.shape[1]
    S = sw * (X1 @ X2v.T) / d + sb
    s1 = sw * np.einsum("ij,ij->i", X1, X1) / d + sb
    s2 = sw * np.einsum("ij,ij->i", X2v, X2v) / d + sb
    T = S.copy()
    a2 = a * a
    m1, m2 = np.zeros(len(s1)), np.zeros(len(s2))
    for _ in range(blocks):
        if variant == "pre":
            k, kd = activation_kernel(act, s1[:, None], s2[None, :], S)
            e1 = activation_moments(act, s1)[0]
            e2 = activation_moments(act, s2)[0]
            inc = a2 * (sw * k + sb)
            T = T * (1 + a2 * sw * kd) + inc
            S = S + inc
            s1 = s1 + a2 * (sw * e1 + sb)
            s2 = s2 + a2 * (sw * e2 + sb)
        else:
            H, h1, h2 = sw * S + sb, sw * s1 + sb, sw * s2 + sb
            k, kd = activation_kernel(act, h1[:, None], h2[None, :], H)
            e1, f1 = _phi_mean(act, h1), _phi_mean(act, h2)
            T = T + a2 * kd * (sw * T + H)
            # coordinate means of the streams (post blocks add a phi(h) to every coordinate)
            S = S + a2 * k + a * (m1[:, None] * f1[None, :] + e1[:, None] * m2[None, :])
            s1 = s1 + a2 * activation_moments(act, h1)[0] + 2 * a * m1 * e1
            s2 = s2 + a2 * activation_moments(act, h2)[0] + 2 * a * m2 * f1
            m1, m2 = m1 + a * e1, m2 + a * f1
    nngp = sw * S + sb
    return nngp, sw * T + nngp


# ----------------------------------------------------------------------------- the block laws
def _piecewise_pieces(act):
    r"""``(bounds, values)`` when :math:`\varphi'` is constant between its kinks (checked on samples of
    every piece, out to :math:`\pm10^6`): the pieces' end points and :math:`\varphi'^2` on each.  None
    otherwise."""
    ks = sorted(set(act.kinks))
    bounds = np.array([-np.inf] + ks + [np.inf])
    vals = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if np.isfinite(lo) and np.isfinite(hi):
            pts = lo + (hi - lo) * np.linspace(0.0, 1.0, 11)[1:-1]
        elif np.isfinite(hi):
            pts = hi - np.geomspace(1e-6, 1e6, 13)
        elif np.isfinite(lo):
            pts = lo + np.geomspace(1e-6, 1e6, 13)
        else:
            pts = np.concatenate([-np.geomspace(1e-6, 1e6, 13), np.geomspace(1e-6, 1e6, 13)])
        try:
            with np.errstate(all="ignore"):
                d = np.asarray(act.dphi(pts), dtype=float) ** 2
        except (TypeError, ValueError):
            return None
        if not np.all(np.isfinite(d)) or np.ptp(d) > 1e-14 * max(1.0, float(np.max(np.abs(d)))):
            return None
        vals.append(float(d[0]))
    return bounds, np.array(vals)


def _piecewise_constant_rule(act, q: float, pieces=None):
    r"""Atoms of :math:`\varphi'(h)^2`, :math:`h\sim N(0, q)`, when :math:`\varphi'` is piecewise constant
    (:func:`_piecewise_pieces`): the values per piece, masses by the normal cdf; None otherwise.  (The
    generic pushforward finds the same atoms at ~20 ms per variance, and the blocks of a deep network
    have one variance each.)"""
    from scipy.special import ndtr

    pieces = _piecewise_pieces(act) if pieces is None else pieces
    if pieces is None or q <= 0:
        return None
    bounds, vals = pieces
    masses = np.diff(ndtr(bounds / np.sqrt(q)))
    v, inv = np.unique(vals, return_inverse=True)
    m = np.bincount(inv, weights=masses)
    keep = m > 0
    return v[keep], m[keep] / m[keep].sum()


def _d2_rule(act, q: float, nodes: int, pieces=None):
    r"""Nodes and weights of the law of :math:`\varphi'(h)^2`, :math:`h\sim N(0,q)`.

    Exact atoms when :math:`\varphi'` is piecewise constant (relu, hard_tanh, leaky relu, linear);
    otherwise composite Gauss–Legendre in :math:`z = h/\sqrt q` on :math:`[-10, 10]`.
    """
    rule = _piecewise_constant_rule(act, q, pieces)
    if rule is not None:
        return rule
    from .jacobian import d2_law

    law = d2_law(act, q)
    pts, mass = law.atoms
    if len(pts) and abs(float(mass.sum()) - 1.0) < 1e-12:
        return np.asarray(pts, float), np.asarray(mass, float)
    z, wz = _smooth_nodes(nodes)
    t = np.asarray(act.dphi(np.sqrt(q) * z), dtype=float) ** 2
    return t, wz


@dataclass(frozen=True)
class _Block:
    t: np.ndarray       # nodes of the law rho of a^2 sigma_w^2 D^2
    w: np.ndarray       # their weights
    mult: float         # how many blocks share this law (a Gauss weight when grouped)

    @property
    def rho1(self) -> float:
        return float(self.w @ self.t)

    @property
    def rho2(self) -> float:
        return float(self.w @ self.t ** 2)


def _group_blocks(rules, scale) -> tuple[_Block, ...]:
    out: list[_Block] = []
    for t, w in rules:
        t = scale * np.asarray(t, float)
        if out and out[-1].t.shape == t.shape and np.array_equal(out[-1].t, t) and np.array_equal(out[-1].w, w):
            out[-1] = _Block(out[-1].t, out[-1].w, out[-1].mult + 1)
        else:
            out.append(_Block(t, np.asarray(w, float), 1))
    return tuple(out)


class ResNetJacobianLaw(SolvedLaw):
    r"""Law of the squared singular values of :math:`J = \prod_l (I + X_l)` (module docstring).

    Built by :func:`resnet_jacobian_law`.  ``blocks`` are the laws :math:`\nu_l` of
    :math:`a^2\sigma_w^2D_l^2` as quadrature rules with multiplicities (Gauss weights when blocks whose law
    changes along the stream are grouped over their variances); ``weights`` selects
    :math:`|X_l|^2 \sim \nu_l` (orthogonal) or :math:`\mathrm{MP}(1)\boxtimes\nu_l` (Gaussian).
    ``depth`` is :math:`L`, the number of weight layers of the network, and ``layers`` the number
    :math:`B = L - 2` of residual blocks, the factors :math:`I + X_l` of :math:`J` (module docstring).

    A :class:`freeprob.SolvedLaw`: state :math:`(\zeta, q_1, \dots, q_K)` (one :math:`q` per distinct
    block), the block S-transform :math:`S_k(\zeta) = (1 - q_k/(1+\zeta))(1 - q_k/\zeta)` with
    :math:`q_k = \psi_{\nu_k}(C_k')` (module docstring), frame (mean, standard deviation) from the
    exact moments.  The engine supplies the continuation, the density on the axis, the edges (fold
    Newton), the contour cdf; the compiled path of :mod:`nn_spectra.resnet_kernel` solves each point
    with warm starts.
    """

    name = "resnet_jacobian"
    #: above this many distinct blocks the q_k leave the state (solved inside the residual)
    MAX_STATE_BLOCKS = 16

    def __init__(self, blocks: Sequence[_Block], weights: str, label: str = "", layers: int | None = None):
        self.blocks = tuple(blocks)
        self.weights = _check_weights(weights)
        #: number of residual blocks (factors I + X_l of J); depth = layers + 2 weight layers
        self.layers = int(round(sum(b.mult for b in self.blocks))) if layers is None else int(layers)
        self.depth = self.layers + 2
        self.label = label
        kmax = max(len(b.t) for b in self.blocks)
        # padded node arrays (zero weight on the padding) so all blocks are solved together
        self._t = np.zeros((len(self.blocks), kmax), dtype=complex)
        self._w = np.zeros((len(self.blocks), kmax), dtype=complex)
        for i, b in enumerate(self.blocks):
            self._t[i, : len(b.t)] = b.t
            self._w[i, : len(b.w)] = b.w
        self._m = np.array([b.mult for b in self.blocks], dtype=float)
        # nu_1, nu_2 of |X|^2 per block
        r1 = np.array([b.rho1 for b in self.blocks])
        r2 = np.array([b.rho2 for b in self.blocks])
        self._nu1 = r1
        self._nu2 = r2 + r1 ** 2 if weights == "gaussian" else r2
        zero_mass = np.array([float(b.w[b.t == 0].sum()) for b in self.blocks])
        if np.any(zero_mass > 0.5 + 1e-12):
            raise ValueError("resnet_jacobian_law: phi'(h) vanishes with probability > 1/2 in some block; "
                             "the law then has an atom at 1 that this solver does not resolve")
        self._gauss = self.weights == "gaussian"
        # many distinct blocks (a smooth phi' whose law changes with the stream length): the state is
        # zeta alone and the q_k are solved inside the residual, so that the engine's dense Jacobians
        # stay 1 x 1 (K + 1 unknowns would cost (K + 1)^2 per point)
        self._reduced = len(self.blocks) > self.MAX_STATE_BLOCKS
        self._freeze()

    # -- exact moments ------------------------------------------------------------------
    def block_moments(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Per distinct block :math:`(m_1, m_2)` of :math:`(1+X)(1+X)^*`: :math:`1+\nu_1` and
        :math:`1 + 4\nu_1 + \nu_2` (only words with as many :math:`X` as :math:`X^*` survive)."""
        return 1.0 + self._nu1, 1.0 + 4.0 * self._nu1 + self._nu2

    def block_s_series(self, n: int) -> np.ndarray:
        r"""Coefficients :math:`s_0..s_{n-1}` of each distinct block's S-transform, shape ``(K, n)``.

        :math:`q(\zeta)` is the power series fixed point of :math:`q = \psi_\nu(C')` (one order per
        sweep), and :math:`S = (1 - q/(1+\zeta))(1 - q/\zeta)`.
        """
        out = []
        for b in self.blocks:
            mu = np.array([float(b.w @ b.t ** j) for j in range(1, n + 2)])
            out.append(_block_s_series(mu, self._gauss, n))
        return np.array(out)

    def _moments(self, n):
        from .jacobian import _moments_from_s_series

        logs = np.zeros(n)
        for sk, mk in zip(self.block_s_series(n), self._m):
            logs = logs + mk * _series_log(sk, n)
        return _moments_from_s_series(_series_exp(logs, n), n)

    @cached_property
    def _mean_minus_one(self) -> float:
        return float(np.expm1((self._m * np.log1p(self._nu1)).sum()))

    # -- the system (freeprob.SolvedLaw interface) -----------------------------------------
    def _frame(self):
        # M2/M1^2 - 1 adds over free factors; per block (2 nu1 + nu2 - nu1^2)/(1 + nu1)^2: no
        # cancellation of M2 - M1^2 when the blocks tend to the identity
        n1, n2 = self._nu1, self._nu2
        rel = float((self._m * (2 * n1 + n2 - n1 * n1) / (1 + n1) ** 2).sum())
        mean = 1.0 + self._mean_minus_one
        sd = mean * np.sqrt(rel)
        if not (np.isfinite(sd) and sd > 0):
            raise ValueError(f"resnet_jacobian_law: the law's scale is not a positive float64 (mean {mean!r}, "
                             f"relative variance {rel!r}); reduce a or the depth")
        return mean, float(sd)

    def _d(self, z):
        """x - 1 at standardized z, without cancellation when the law sits next to 1 (a -> 0)."""
        return self._mean_minus_one + self.frame[1] * np.asarray(z, dtype=complex)

    def _start(self, z):
        d = self._d(z)
        zeta = (1.0 + self._mean_minus_one) / (d - self._mean_minus_one)
        q = np.empty((len(d), len(self.blocks)), dtype=complex)
        for k, nu in enumerate(self._nu1):
            qk = nu * zeta / (1.0 + nu)
            for _ in range(30):
                f, _, dq, _ = self._block_eq(zeta, qk, k)
                qk = qk - f / dq
            q[:, k] = qk
        if self._reduced:
            return zeta[:, None]
        return np.concatenate([zeta[:, None], q], axis=1)

    def _block_eq(self, zeta, q, k):
        """(f, df/dzeta, df/dq, |psi|) of f = q - psi_nu(C') for block k (vectorised numpy twin of
        the compiled ``_block``)."""
        opq = 1.0 + q
        a1, a2 = 1.0 + zeta - q, zeta - q
        C = a1 * a2 / opq ** 2
        dCz = (a1 + a2) / opq ** 2
        dCq = -dCz - 2.0 * C / opq
        if self._gauss:
            Cp, dCpz, dCpq = C * opq, opq * dCz, C + opq * dCq
        else:
            Cp, dCpz, dCpq = C, dCz, dCq
        t, w = self._t[k][None, :], self._w[k][None, :]
        den = 1.0 - Cp[:, None] * t
        p = (w * Cp[:, None] * t / den).sum(axis=1)
        dp = (w * t / den ** 2).sum(axis=1)
        return q - p, -dp * dCpz, 1.0 - dp * dCpq, np.abs(p)

    def _residual(self, z, u):
        if self._reduced:
            return self._residual_reduced(z, u)
        d = self._d(z)
        zeta, q = u[:, 0], u[:, 1:]
        n, K = q.shape
        r = np.empty((n, K + 1), dtype=complex)
        J = np.zeros((n, K + 1, K + 1), dtype=complex)
        with np.errstate(all="ignore"):
            f0, mag, a, aq = self._log_equation(d, zeta, q)
            r[:, 0] = f0 / mag
            J[:, 0, 0] = a / mag
            J[:, 0, 1:] = aq / mag[:, None]
            for k in range(K):
                f, fz, fq, ap = self._block_eq(zeta, q[:, k], k)
                sc = np.maximum(np.abs(q[:, k]) + ap, 1e-300)
                r[:, 1 + k] = f / sc
                J[:, 1 + k, 0] = fz / sc
                J[:, 1 + k, 1 + k] = fq / sc
        return r, J

    def _log_equation(self, d, zeta, q):
        """The log-equation log(1+d) - log(1+1/zeta) + sum_k m_k [log(1 - q_k/(1+zeta)) + log(1 - q_k/zeta)]
        (log1p terms), the size of its terms, its partial derivative in zeta and those in the q_k."""
        lx = _clog1p(d)
        l0 = _clog1p(1.0 / zeta)
        l1 = _clog1p(-q / (1.0 + zeta)[:, None])
        l2 = _clog1p(-q / zeta[:, None])
        m = self._m[None, :]
        f0 = lx - l0 + (m * (l1 + l2)).sum(axis=1)
        mag = np.maximum(np.abs(lx) + np.abs(l0) + (m * (np.abs(l1) + np.abs(l2))).sum(axis=1), 1e-300)
        ze = zeta[:, None]
        a = 1.0 / (zeta * (1.0 + zeta)) + (m * (q / ((1.0 + ze) * (1.0 + ze - q)) + q / (ze * (ze - q)))).sum(axis=1)
        aq = -m * (1.0 / (1.0 + ze - q) + 1.0 / (ze - q))
        return f0, mag, a, aq

    def _residual_reduced(self, z, u):
        """The log-equation in zeta alone, q_k = q_k(zeta) by Newton per block (compiled), the
        derivative d/dzeta total (dq_k/dzeta by implicit differentiation)."""
        from .resnet_kernel import q_of_zeta

        d = self._d(z)
        zeta = np.ascontiguousarray(u[:, 0], dtype=complex)
        q, dq, ok = q_of_zeta(zeta, self._t, self._w, self._nu1, self._gauss, self.tol)
        with np.errstate(all="ignore"):
            f0, mag, a, aq = self._log_equation(d, zeta, q)
            a = a + (aq * dq).sum(axis=1)
        r = np.where(ok, f0 / mag, np.nan)[:, None]
        J = (a / mag)[:, None, None]
        return r.astype(complex), J.astype(complex)

    def _rnorm(self, r, u):
        with np.errstate(all="ignore"):
            return np.abs(r).sum(axis=1)

    def _g(self, z, u):
        # standardized: s G(x) = s (1 + zeta)/x, x = 1 + d
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.frame[1] * (1.0 + u[:, 0]) / (1.0 + self._d(z))

    def _admissible(self, z, u):
        return u[:, 0].imag <= 1e-9 * np.abs(u[:, 0])

    def _solve_fast(self, z):
        from .resnet_kernel import solve_path

        z = np.ascontiguousarray(np.atleast_1d(z), dtype=complex)
        d = np.ascontiguousarray(self._d(z))
        # right to left, each vertical ray from the top: neighbours warm-start each other
        order = np.lexsort((-d.imag, -d.real))
        zeta, q, res = solve_path(d, order, self._t, self._w, self._m, self._gauss, 1.0 + self._mean_minus_one,
                                  self._nu1, float(self.frame[1]), self.tol)
        u = zeta[:, None] if self._reduced else np.concatenate([zeta[:, None], q], axis=1)
        ok = np.isfinite(res) & (res <= 100 * self.tol) & self._admissible(z, u)
        return u, res, ok

    def _axis_fast(self, x, u):
        # the engine's plain axis Newton (4 steps, then the same exactness tests) on the compiled
        # arrow system: the numpy twin builds dense (K+1)^2 Jacobians and costs most of the support
        if self._reduced:
            return None
        from .resnet_kernel import axis_newton

        z = np.asarray(x, dtype=float) + 0j
        d = np.ascontiguousarray(self._d(z))
        zeta, q, res = axis_newton(d, np.ascontiguousarray(u[:, 0], dtype=complex),
                                   np.ascontiguousarray(u[:, 1:], dtype=complex), self._t, self._w, self._m,
                                   self._gauss, 4)
        ua = np.concatenate([zeta[:, None], q], axis=1)
        with np.errstate(all="ignore"):
            exact = np.isfinite(res) & (res <= 1e-13)
            near = np.max(np.abs(ua - u), axis=1) <= 1e-3 * (1.0 + np.max(np.abs(u), axis=1))
            g = self._g(z, ua)
            physical = g.imag <= 1e-9 * np.abs(g)
        return ua, exact & near & physical

    # -- support -------------------------------------------------------------------------
    def _blocks_real(self, zeta: float, q: np.ndarray):
        """(f, df/dq, C' t_max) of every block at one real zeta, q of shape (K,) (real branch)."""
        opq = 1.0 + q
        a1, a2 = 1.0 + zeta - q, zeta - q
        C = a1 * a2 / opq ** 2
        dCq = -(a1 + a2) / opq ** 2 - 2.0 * C / opq
        if self._gauss:
            Cp, dCpq = C * opq, C + opq * dCq
        else:
            Cp, dCpq = C, dCq
        t, w = self._t.real, self._w.real
        den = 1.0 - Cp[:, None] * t
        p = (w * Cp[:, None] * t / den).sum(axis=1)
        dp = (w * t / den ** 2).sum(axis=1)
        return q - p, 1.0 - dp * dCpq, Cp * t.max(axis=1), np.abs(q) + np.abs(p)

    def _real_q(self, zetas, q0):
        """Real block solutions q_k along the path ``zetas`` (continuation from q0 at zetas[0]): a
        secant predictor in log|q| against log|zeta|, then Newton steps halved until |f| decreases and
        C' stays below the first pole 1/t_max of psi_nu (the physical real branch)."""
        K = len(self.blocks)
        out = np.full((len(zetas), K), np.nan)
        q = np.array(q0, dtype=float)
        prev = None
        with np.errstate(all="ignore"):
            for i, ze in enumerate(zetas):
                if prev is not None and np.all(q * prev[1] > 0):
                    # q ~ zeta^p locally (p = 1 near 0 and at infinity)
                    slope = np.log(q / prev[1]) / np.log(zetas[i - 1] / prev[0]) if zetas[i - 1] != prev[0] else 1.0
                    qn = q * np.exp(slope * np.log(ze / zetas[i - 1]))
                    if np.all(np.isfinite(qn)):
                        prev, q = (zetas[i - 1], q.copy()), qn
                    else:
                        prev = (zetas[i - 1], q.copy())
                else:
                    prev = (zetas[i - 1], q.copy()) if i else None
                f, df, ct, sc = self._blocks_real(ze, q)
                for _ in range(40):
                    step = f / df
                    lam = np.ones(K)
                    for _h in range(20):
                        qc = q - lam * step
                        fc, dfc, ctc, scc = self._blocks_real(ze, qc)
                        good = np.isfinite(fc) & (ctc < 1.0)
                        if np.all(good):
                            break
                        lam = np.where(good, lam, 0.5 * lam)
                    q = np.where(good, qc, q)
                    f, df, ct, sc = self._blocks_real(ze, q)
                    if np.all(np.abs(lam * step) <= 1e-15 * np.abs(q)) or not np.any(good):
                        break
                if not (np.all(np.isfinite(q)) and np.all(np.abs(f) / sc <= 1e-12) and np.all(ct < 1.0)):
                    break
                out[i] = q
        return out

    def _x_of_zeta(self, zetas, q):
        """x = 1/chi_J(zeta) on the real branch: log x = log1p(1/zeta) - sum m_k log S_k."""
        ze = zetas[:, None]
        with np.errstate(all="ignore"):
            ls = np.log1p(-q / (1.0 + ze)) + np.log1p(-q / ze)
            return np.exp(np.log1p(1.0 / zetas) - (self._m[None, :] * ls).sum(axis=1))

    @cached_property
    def _real_edges(self):
        """(lower, upper, exact_lower, exact_upper): the outer edges from the real branch,
        x(zeta) = 1/chi_J(zeta) for zeta > 0 (upper edge: min of x) and zeta < -1 (lower edge: max
        of x, or 0); ``exact_*`` where the extremum is interior (a fold: the edge to rounding) or the
        closed-form limit at |zeta| -> infinity."""
        from scipy import optimize

        s = np.geomspace(1e-9, 1e9, 181)
        out = []
        for side in (1, -1):
            zetas = s if side == 1 else -1.0 - s
            if side == 1:
                q0 = self._nu1 * s[0] / (1 + self._nu1)
            else:
                # zeta -> -1: q ~ lambda (1 + zeta), lambda = nu1/(nu1 - 1) at leading order
                q0 = self._nu1 / (self._nu1 - 1.0) * (1.0 + zetas[0])
            q = self._real_q(zetas, q0)
            x = self._x_of_zeta(zetas, q)
            good = np.isfinite(x) & (x > 0)
            if not np.any(good):
                out.append((np.nan, False))
                continue
            idx = np.flatnonzero(good)
            last = idx[-1] if np.all(good[: idx[-1] + 1]) else np.flatnonzero(~good)[0] - 1
            xs = side * x[: last + 1]
            # the first local minimum of side * x: beyond it the path runs onto other branches
            up_ = np.flatnonzero(np.diff(xs) > 0)
            i = int(up_[0]) if len(up_) else last
            interior = 0 < i < last
            val = float(side * xs[i])
            if interior:
                lo, hi = np.log(s[i - 1]), np.log(s[i + 1])

                def fx(lt, i0=i):
                    ze = np.array([np.exp(lt) if side == 1 else -1.0 - np.exp(lt)])
                    qq = self._real_q(ze, q[i0])
                    if not np.all(np.isfinite(qq)):
                        return np.inf
                    xv = float(self._x_of_zeta(ze, qq)[0])
                    return side * xv if np.isfinite(xv) else np.inf

                res = optimize.minimize_scalar(fx, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
                if np.isfinite(res.fun):
                    val = float(side * res.fun)
            elif i == last and s[last] >= 1e5 and not self._gauss:
                # monotone to |zeta| -> infinity: there q_k ~ kappa_k zeta with C_k -> 1/t_max (the pole
                # of psi at the top atom of nu_k), S_k -> (1 + side sqrt(t_max))^-2, so the edge is the
                # norm bound prod (1 +- a sigma_w max|D|)^(2 m_k) (an inverse-square-root edge: one
                # block whose |X| has a top atom, e.g. the arcsine law); used where the path agrees
                tmax = np.sqrt(np.max(self._t.real, axis=1))
                lim = float(np.exp((2 * self._m * np.log(np.abs(1 + side * tmax))).sum()))
                # (the path ends where rounding next to the pole stops Newton, |zeta| ~ 1e6)
                if abs(lim - val) <= 1e-3 * self.frame[1]:
                    val, interior = lim, True
            out.append((val, interior))
        (up, up_s), (lo_, lo_s) = out
        if not np.isfinite(lo_) or np.any(self._nu1 >= 1.0):
            lo_, lo_s = 0.0, False
        return lo_, up, lo_s, up_s

    def _hull(self):
        lo, up, lo_s, up_s = self._real_edges
        c, s = self.frame
        # padded (standardized units): an edge that is not exact (an extremum at the end of the
        # scanned path) is only approached
        pad_u = 1e-9 if up_s else 1e-5
        pad_l = 1e-9 if lo_s else 1e-5
        return (lo - c) / s - pad_l, (up - c) / s + pad_u

    def _edge(self, x_out, x_in):
        lo, up, lo_s, up_s = self._real_edges
        c, s = self.frame
        for e, smooth in ((lo, lo_s), (up, up_s)):
            es = (e - c) / s
            if smooth and min(x_out, x_in) <= es <= max(x_out, x_in):
                # a smooth extremum of x(zeta) on the real branch is the fold: the edge to rounding
                return es
        return super()._edge(x_out, x_in)

    def __repr__(self):
        lab = f"{self.label}, " if self.label else ""
        return f"resnet_jacobian_law({lab}depth={self.depth}, weights={self.weights!r})"


def _clog1p(w):
    """log(1 + w) for complex w, accurate for small |w| (numpy's complex log1p is log(1 + w))."""
    w = np.asarray(w, dtype=complex)
    return 0.5 * np.log1p(2.0 * w.real + w.real ** 2 + w.imag ** 2) + 1j * np.arctan2(w.imag, 1.0 + w.real)


def _series_log(s, n):
    """log of a power series with s[0] > 0, truncated to n terms."""
    s = np.asarray(s, dtype=float)[:n]
    g = s / s[0]
    out = np.zeros(n)
    # L' = g'/g: k L_k = k g_k - sum_{j<k} j L_j g_{k-j}
    for k in range(1, n):
        out[k] = g[k] - sum(j * out[j] * g[k - j] for j in range(1, k)) / k
    out[0] = np.log(s[0])
    return out


def _series_exp(lg, n):
    """exp of a power series, truncated to n terms."""
    out = np.zeros(n)
    out[0] = np.exp(lg[0])
    for k in range(1, n):
        out[k] = sum(j * lg[j] * out[k - j] for j in range(1, k + 1)) / k
    return out


def _block_s_series(mu, gauss: bool, n: int) -> np.ndarray:
    r"""S-transform coefficients s_0..s_{n-1} of one block :math:`|1+X|^2` from the moments
    ``mu`` (:math:`\mu_j`, j = 1..n+1) of :math:`\nu` (module docstring)."""
    from .jacobian import _series_compose, _series_inv, _series_mul

    N = n + 1
    psi = np.concatenate([[0.0], mu[:N]])
    zeta = np.zeros(N + 1)
    zeta[1] = 1.0
    q = np.zeros(N + 1)
    # Newton-like sweeps: the order-k coefficient of q - psi(C') is (1 + mu_1) q_k + (lower orders),
    # so dividing the residual by 1 + mu_1 fixes one more order per sweep
    for _ in range(N + 2):
        opq = q.copy()
        opq[0] += 1.0
        a1 = zeta - q
        a1[0] += 1.0
        C = _series_mul(_series_mul(a1, zeta - q, N), _series_inv(_series_mul(opq, opq, N), N), N)
        if gauss:
            C = _series_mul(C, opq, N)
        q = q - (q - _series_compose(psi, C, N)) / (1.0 + mu[0])
    ope = np.zeros(N + 1)
    ope[0], ope[1] = 1.0, 1.0
    f1 = -_series_mul(q, _series_inv(ope, N), N)
    f1[0] += 1.0
    f2 = -q[1:]                     # -q/zeta
    f2 = np.concatenate([f2, [0.0]])
    f2[0] += 1.0
    return _series_mul(f1, f2, N)[:n]


def _block_variances(act, a, sigma_w2, sigma_b2, depth, q0, variant) -> np.ndarray:
    """Variance of the argument of phi in each block: the length map of :func:`resnet_mean_field`
    alone (the law needs neither the correlation nor the gains)."""
    out = np.empty(depth)
    Q, m = q0, 0.0
    for l in range(depth):
        s = Q if variant == "pre" else sigma_w2 * Q + sigma_b2
        e2 = float(activation_moments(act, s)[0])
        if variant == "pre":
            Q = Q + a * a * (sigma_w2 * e2 + sigma_b2)
        else:
            # the coordinate mean m of the stream (post blocks add a phi(h) to every coordinate)
            e1 = float(_phi_mean(act, s))
            Q, m = Q + a * a * e2 + 2 * a * m * e1, m + a * e1
        out[l] = s
    return out


def _smooth_nodes(nodes: int):
    """Composite Gauss-Legendre nodes z on [-10, 10] and normal weights (summing to 1) of :func:`_d2_rule`."""
    panels = max(nodes // 8, 1)
    edges = np.linspace(-10.0, 10.0, panels + 1)
    x, wx = np.polynomial.legendre.leggauss(8)
    mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
    half = 0.5 * np.diff(edges)[:, None]
    z = (mid + half * x[None, :]).ravel()
    wz = (half * wx[None, :]).ravel() * np.exp(-0.5 * z ** 2)
    return z, wz / wz.sum()


def _rule_family(act, nodes: int, q_first: float):
    r"""``rules(s) -> list of (t, w)``: the rules of :func:`_d2_rule` at the variances ``s``, as functions
    that are analytic in :math:`s > 0` (so that the blocks may be grouped over their variances), or None.

    Piecewise-constant :math:`\varphi'`: fixed atoms, masses from the normal cdf.  Smooth
    :math:`\varphi'` without atoms: fixed nodes :math:`z_i`, fixed weights, :math:`t_i = \varphi'(\sqrt s z_i)^2`.
    An atom of :math:`\varphi'(h)^2` is a level set of positive Lebesgue measure, which has positive mass
    under every :math:`N(0, s)`, :math:`s > 0`: looking for atoms at one variance decides it for all.
    None when the pushforward finds atoms carrying the whole mass that are not piecewise-constant
    pieces (then the pushforward's atoms per block, as in :func:`_d2_rule`, whose quadrature is used
    whenever the atoms do not carry the whole mass).
    """
    pieces = _piecewise_pieces(act)
    if pieces is not None:
        return lambda ss: [_piecewise_constant_rule(act, float(v), pieces) for v in ss]
    from .jacobian import d2_law

    try:
        pts, mass = d2_law(act, float(q_first)).atoms
    except ValueError:      # the pushforward's scan of phi'^2 (e.g. gelu overflows at +-inf): no atoms
        pts, mass = (), np.zeros(0)
    if len(pts) and abs(float(np.sum(mass)) - 1.0) < 1e-12:
        return None         # purely atomic but not piecewise constant: the pushforward's atoms per block
    z, wz = _smooth_nodes(nodes)

    def rules(ss):
        ss = np.asarray(ss, dtype=float)
        t = np.asarray(act.dphi(np.sqrt(ss)[:, None] * z[None, :]), dtype=float) ** 2
        return [(row, wz) for row in t]

    return rules


def _block_rules(act, a, sigma_w2, sigma_b2, depth, q0, variant, nodes):
    q_phi = _block_variances(act, a, sigma_w2, sigma_b2, depth, q0, variant)
    fam = _rule_family(act, nodes, float(q_phi[0]))
    uniq, inv = np.unique(q_phi, return_inverse=True)
    if fam is not None:
        per = fam(uniq)
    else:
        pieces = _piecewise_pieces(act)
        per = [_d2_rule(act, float(v), nodes, pieces) for v in uniq]
    rules = [per[i] for i in inv]
    # relu-like laws do not depend on q: identical rules collapse into one block
    first = rules[0]
    if all(r[0].shape == first[0].shape and np.array_equal(r[0], first[0]) and np.array_equal(r[1], first[1])
           for r in rules):
        rules = [first] * len(rules)
    return rules, q_phi, fam


def _empirical_gauss_rule(u: np.ndarray, p: int):
    r"""The ``p``-point Gauss rule of the measure :math:`\sum_l\delta_{u_l}` (Lanczos with full
    reorthogonalisation on :math:`\operatorname{diag}(u)`, Golub–Welsch): nodes in
    :math:`[\min u, \max u]`, positive weights summing to the number of points, exact for polynomials of
    degree :math:`2p-1`."""
    c, h = 0.5 * (u.max() + u.min()), 0.5 * (u.max() - u.min())
    y = (u - c) / h
    V = np.zeros((p, len(u)))
    al, be = np.zeros(p), np.zeros(p)
    v = np.full(len(u), 1.0 / np.sqrt(len(u)))
    for j in range(p):
        V[j] = v
        r = y * v
        al[j] = v @ r
        r = r - al[j] * v - (be[j - 1] * V[j - 1] if j else 0.0)
        for _ in range(2):
            r -= V[: j + 1].T @ (V[: j + 1] @ r)
        be[j] = np.linalg.norm(r)
        v = r / be[j]
    th, U = np.linalg.eigh(np.diag(al) + np.diag(be[:-1], 1) + np.diag(be[:-1], -1))
    return c + h * th, len(u) * U[0] ** 2


#: sample points of the grouping check: |zeta| <= 1.5 in the closed lower half-plane (zeta = psi_J(1/x)
#: of the physical branch), where every block's q is the continuation of q ~ nu_1 zeta from 0
_CHECK_ZETAS = np.array([0.3, 1.0, -1.5, 0.3 - 0.3j, 1.0 - 1.0j, -0.3j, -1.0j, -0.5 - 0.5j, -1.2 - 0.4j, -0.8 - 1.2j])
#: largest accepted |delta|, delta = (grouped - exact) log-equation at the sample points: the grouped law's
#: x at a state is the exact law's x times e^delta there
GROUPING_TOL = 1e-12
#: numbers of grouped blocks tried (up to MAX_STATE_BLOCKS = 16 the state is (zeta, q_1..q_p); beyond it
#: zeta alone, still O(p) instead of O(L) per evaluation)
_GROUP_SIZES = (4, 6, 8, 10, 12, 16, 24, 32)


def _log_s_sum(zs, t, w, m, gauss):
    """sum_k m_k log S_k(zeta) at the points zs (blocks t, w padded), q_k by the compiled per-block Newton;
    the points where every block converged."""
    from .resnet_kernel import q_of_zeta

    nu1 = (t * w).sum(axis=1).real
    q, _, ok = q_of_zeta(np.ascontiguousarray(zs, dtype=complex), t, w, nu1, gauss, 1e-15)
    with np.errstate(all="ignore"):
        g = _clog1p(-q / (1.0 + zs[:, None])) + _clog1p(-q / zs[:, None])
    return (g * m[None, :]).sum(axis=1), ok


def _padded(rules, scale):
    kmax = max(len(t) for t, _ in rules)
    T = np.zeros((len(rules), kmax), dtype=complex)
    W = np.zeros((len(rules), kmax), dtype=complex)
    for i, (t, w) in enumerate(rules):
        T[i, : len(t)] = scale * np.asarray(t, float)
        W[i, : len(w)] = w
    return T, W


def _grouped_blocks(fam, q_phi, scale, gauss: bool):
    r"""The blocks of a network whose :math:`D^2` law changes from block to block, grouped over their
    variances: ``p`` blocks at the nodes :math:`\sigma_j` of the Gauss rule of the empirical measure of
    :math:`\log s_l` (:func:`_empirical_gauss_rule`), multiplicities its weights :math:`c_j > 0`
    (:math:`\sum c_j = L`).  :math:`\sum_l\log S_{s_l}(\zeta)` becomes :math:`\sum_jc_j\log S_{\sigma_j}(\zeta)`,
    exact for every polynomial of degree :math:`2p - 1` in :math:`\log s`, and
    :math:`\log S_s(\zeta)` is analytic in :math:`s`.

    Accepted for the smallest ``p`` in ``_GROUP_SIZES`` at which (1) the first six moments of
    :math:`\nu`, summed over the blocks, agree with their exact sums to 1e-13 relative, and (2) the
    log-equation's block sum agrees with the exact sum over every block to ``GROUPING_TOL`` at the
    points ``_CHECK_ZETAS``.  None when no size passes (the exact blocks are then used)."""
    u = np.log(q_phi)
    n_distinct = len(np.unique(u))
    exact_rules = fam(q_phi)
    T, W = _padded(exact_rules, scale)
    mom = np.array([((W * T ** j).sum(axis=1).real).sum() for j in range(1, 7)])
    f_exact, ok_exact = _log_s_sum(_CHECK_ZETAS, T, W, np.ones(len(q_phi)), gauss)
    for p in _GROUP_SIZES:
        if p >= n_distinct:
            return None
        nodes, c = _empirical_gauss_rule(u, p)
        rules = fam(np.exp(nodes))
        Tp, Wp = _padded(rules, scale)
        mom_p = np.array([((Wp * Tp ** j).sum(axis=1).real * c).sum() for j in range(1, 7)])
        if not np.all(np.abs(mom_p - mom) <= 1e-13 * np.abs(mom)):
            continue
        f_p, ok_p = _log_s_sum(_CHECK_ZETAS, Tp, Wp, c, gauss)
        both = ok_exact & ok_p
        if both.sum() >= len(_CHECK_ZETAS) // 2 and np.all(np.abs(f_p - f_exact)[both] <= GROUPING_TOL):
            return tuple(_Block(scale * np.asarray(t, float), np.asarray(w, float), float(cj))
                         for (t, w), cj in zip(rules, c))
    return None


def resnet_jacobian_law(act, a: float, sigma_w2: float, sigma_b2: float, depth: int, weights: str = "orthogonal",
                        q0: float = 1.0, variant: str = "post", nodes: int = 128,
                        group: bool = True) -> ResNetJacobianLaw:
    r"""Law of the squared singular values of the input-output Jacobian of a residual network.

    Block :math:`l` uses the law of :math:`\varphi'` at the mean-field variance of its argument
    (:func:`resnet_mean_field` from stream length ``q0``); the block laws are composed by S-transforms
    (module docstring).  Piecewise-constant :math:`\varphi'` (relu, leaky relu, hard tanh) is summed
    exactly; smooth :math:`\varphi'` by a ``nodes``-point quadrature of :math:`D^2`.

    Parameters
    ----------
    act : str or Activation
    a : float
        Branch strength, :math:`a > 0`.
    sigma_w2, sigma_b2 : float
    depth : int
        :math:`L \ge 3`, the number of weight layers: :math:`J` spans the :math:`B = L - 2` residual
        blocks between the read-in and the readout (module docstring).  For relu any depth costs the same.
    weights : {"orthogonal", "gaussian"}
        Law of the residual weights :math:`W_l`.
    q0 : float
        Stream length :math:`|x^0|^2/N` of the input.
    variant : {"post", "pre"}
        ``"post"``: the block :math:`x + a\varphi(Wx+b)`.  ``"pre"`` (its blocks are not free, module
        docstring): :func:`nn_spectra.resnet_pre_jacobian_law` (path quadrature; Gaussian or
        orthogonal weights).
    nodes : int
        Quadrature nodes of :math:`D^2` for a smooth :math:`\varphi'`.
    group : bool
        For a smooth (or piecewise-constant) :math:`\varphi'` whose law changes along the stream
        (bounded activations: the length grows, so every block differs) and more than 16 distinct
        blocks, replace the :math:`B` blocks by the few blocks of the Gauss rule of their variances
        (:func:`_grouped_blocks`), accepted only where it reproduces the exact block sum of the
        equation to 1e-12 at sample points and the block moments to 1e-13; ``False`` keeps every block
        (cost :math:`O(B)` per point instead of :math:`O(1)`).

    Examples
    --------
    >>> law = resnet_jacobian_law("relu", 0.3, 2.0, 0.0, depth=6)
    >>> law.depth, law.layers, len(law.blocks)   # relu: D^2 does not depend on the length, one block to the 4th power
    (6, 4, 1)
    >>> [round(float(m), 12) for m in law.block_moments()[0]]    # m_1 = 1 + a^2 sigma_w^2 / 2 per block
    [1.09]
    """
    act = activation(act)
    a = _check_a(a)
    sw, sb = _variances(sigma_w2, sigma_b2)
    depth = _check_depth(depth, low=3)
    weights = _check_weights(weights, "resnet_jacobian_law")
    variant = _check_variant(variant)
    if variant != "post":
        # the pre-activation blocks are not free: the law over the D algebra of the stream paths
        # (D-valued circular weights if Gaussian, Haar-unitary cumulants if orthogonal)
        from .resnet_pre import resnet_pre_jacobian_law

        return resnet_pre_jacobian_law(act, a, sigma_w2, sigma_b2, depth, weights=weights, q0=q0)
    q0 = check_positive("q0", q0)
    rules, q_phi, fam = _block_rules(act, a, sw, sb, depth - 2, q0, variant, int(nodes))
    blocks = _group_blocks(rules, a * a * sw)
    if group and fam is not None and len(blocks) > ResNetJacobianLaw.MAX_STATE_BLOCKS:
        blocks = _grouped_blocks(fam, q_phi, a * a * sw, weights == "gaussian") or blocks
    return ResNetJacobianLaw(blocks, weights, label=act.name, layers=depth - 2)


def resnet_jacobian_moments(act, a: float, sigma_w2: float, sigma_b2: float, depth: int,
                            weights: str = "orthogonal", q0: float = 1.0, variant: str = "post") -> tuple[float, float]:
    r"""Exact :math:`(m_1, m_2)` of :math:`JJ^\top` by the block recursion, independent of the solver.

    Per block :math:`m_1 = 1+\nu_1`, :math:`m_2 = 1 + 4\nu_1 + \nu_2` (:math:`\nu_k` the moments of
    :math:`|X|^2`: :math:`\nu_1 = a^2\sigma_w^2\mu_1`, :math:`\nu_2 = a^4\sigma_w^4(\mu_2 + [\text{Gaussian}]\mu_1^2)`,
    :math:`\mu_k = E\varphi'^{2k}`); for a product of free factors
    :math:`M_1 = \prod m_1`, :math:`M_2/M_1^2 - 1 = \sum (m_2/m_1^2 - 1)` (the linear term of
    :math:`\log S`).  Free blocks: the post variant.  ``variant="pre"`` (orthogonal weights only) uses the
    recursion of :func:`_pre_moment_recursion`, which keeps the correlations of the :math:`D_l` of one
    residual stream across blocks.  ``depth`` is :math:`L`, the number of weight layers; the products
    run over the :math:`B = L - 2` residual blocks (module docstring).

    >>> resnet_jacobian_moments("linear", 0.5, 1.0, 0.0, depth=3, weights="orthogonal")   # one block: |1 + u/2|^2
    (1.25, 2.0625)
    >>> m1, m2 = resnet_jacobian_moments("relu", 0.5, 2.0, 0.0, depth=12, variant="pre")
    >>> round(m1, 10), round(m2 / m1 ** 2, 2)      # m1 = (1 + a^2)^B (B = 10) as for free blocks; m2 is not
    (9.3132257462, 5.58)
    """
    act = activation(act)
    a = _check_a(a)
    sw, sb = _variances(sigma_w2, sigma_b2)
    depth = _check_depth(depth)
    weights = _check_weights(weights, "resnet_jacobian_moments")
    variant = _check_variant(variant)
    if depth == 2:
        return 1.0, 1.0         # no residual block: J = I
    if variant == "pre":
        if weights != "orthogonal":
            raise ValueError("weights must be 'orthogonal' for the pre-activation moments (the Gaussian case "
                             "needs the fourth-order words of W^T W, not derived here)")
        return _pre_moments(act, a, sw, sb, depth, check_positive("q0", q0))
    mf = resnet_mean_field(act, a, sw, sb, depth, q0=q0, c0=0.0, variant=variant)
    M1, acc = 1.0, 0.0
    for qp in mf.q_phi:
        mu = _d2_moments(act, float(qp))
        n1 = a * a * sw * mu[0]
        n2 = (a * a * sw) ** 2 * (mu[1] + (mu[0] ** 2 if weights == "gaussian" else 0.0))
        m1, m2 = 1 + n1, 1 + 4 * n1 + n2
        M1 *= m1
        acc += m2 / m1 ** 2 - 1
    return float(M1), float(M1 * M1 * (1 + acc))


def resnet_conditional_fisher_moments(act, a: float, sigma_w2: float, sigma_b2: float, depth: int,
                                      weights: str = "orthogonal", q0: float = 1.0) -> tuple[float, float]:
    r"""First two moments of the conditional Fisher spectrum of a post-block ResNet, wide limit.

    The dual of :math:`I(\theta\mid x^0) = J_\theta^\top J_\theta`, :math:`J_\theta = \partial x^B/\partial W`
    (the residual weights, no biases), is the :math:`N\times N` matrix
    :math:`H = \sum_l a^2\|x^l\|^2 B_lD_l^2B_l^\top`, :math:`B_l = \partial x^B/\partial x^{l+1}`
    (:meth:`nn_spectra.ResNet.conditional_fisher_dual` with ``include_bias=False``; same nonzero
    spectrum).  Returns :math:`(m_1, m_2)` of the eigenvalue law of :math:`H/N` as :math:`N\to\infty`,
    for a stream input of length :math:`|x^0|^2/N = q_0`.

    Built block by block: :math:`G_0 = 0`, :math:`G_{l+1} = (I + X_l)G_l(I + X_l)^\top + c_lD_l^2`,
    :math:`X_l = aD_lW_l`, :math:`c_l = a^2Q^l` (:math:`Q^l` the mean-field length, with the stream mean,
    :func:`resnet_mean_field`), :math:`H/N = G_B`.  :math:`W_l` is Haar or Gaussian and independent of
    :math:`G_l` and :math:`D_l`, so :math:`W_l(\cdot)W_l^\top` is free from them, while :math:`D_l` and
    :math:`G_l` act on the same coordinates (the residual identity) and are only independent:
    :math:`\tau(G_lD_l^2) = \tau(G_l)s_1`, not free.  With :math:`s_k = E\varphi'(h^l)^{2k}`,
    :math:`\nu_1 = a^2\sigma_w^2s_1`, :math:`\nu_2 = a^4\sigma_w^4(s_2 + [\text{Gaussian}]\,s_1^2)` (the
    moments of :math:`X_l^\top X_l`), expanding the words and keeping those with as many :math:`W` as
    :math:`W^\top`,

    .. math::
        \tau(G_{l+1}) = (1+\nu_1)\tau(G_l) + c_ls_1,\qquad
        \tau(G_{l+1}^2) = (1+\nu_1)^2\tau(G_l^2) + (2\nu_1 + \nu_2 - \nu_1^2)\tau(G_l)^2
        + 2c_l(s_1 + a^2\sigma_w^2s_2)\tau(G_l) + c_l^2s_2 .

    (A scalar :math:`G_l = gI` gives :math:`g^2(1 + 4\nu_1 + \nu_2)`, the block moment of
    :func:`resnet_jacobian_moments`.)  The biases would add :math:`a^2/N` to each :math:`c_l`, a
    :math:`1/N` correction.  ``depth`` is :math:`L`, the blocks :math:`B = L - 2`.

    >>> m1, m2 = resnet_conditional_fisher_moments("linear", 0.5, 1.0, 0.0, depth=3)   # one block
    >>> round(m1, 12), round(m2, 12)          # H/N = a^2 Q^0 I
    (0.25, 0.0625)
    """
    act = activation(act)
    a = _check_a(a)
    sw, sb = _variances(sigma_w2, sigma_b2)
    depth = _check_depth(depth)
    weights = _check_weights(weights, "resnet_conditional_fisher_moments")
    q0 = check_positive("q0", q0)
    mf = resnet_mean_field(act, a, sw, sb, depth, q0=q0, c0=0.0, variant="post")
    g1 = g2 = 0.0
    for Q, qp in zip(mf.q[:-1], mf.q_phi):
        s1, s2 = _d2_moments(act, float(qp))
        n1 = a * a * sw * s1
        n2 = (a * a * sw) ** 2 * (s2 + (s1 * s1 if weights == "gaussian" else 0.0))
        c = a * a * float(Q)
        g2 = (1 + n1) ** 2 * g2 + (2 * n1 + n2 - n1 * n1) * g1 * g1 + 2 * c * (s1 + a * a * sw * s2) * g1 + c * c * s2
        g1 = (1 + n1) * g1 + c * s1
    return float(g1), float(g2)


def _pre_stream_moments(act, q):
    r"""``T[p, r] = tau(f_p f_r)`` for :math:`f_0 = 1`, :math:`f_{l+1} = D_l^2 = \varphi'(x^l)^2`.

    In the wide limit the coordinates of the pre-activation stream are a Gaussian random walk:
    :math:`x^{l+1}_i = x^l_i + a((W_l\varphi(x^l))_i + b_i)` with an increment independent of the
    past (a fresh Haar/Gaussian direction), so :math:`\operatorname{Cov}(x^l_i, x^m_i) = Q^{\min(l,m)}`.
    """
    from .gaussian_integrals import gaussian_expectation_2d

    L = len(q)
    d2 = lambda x: np.asarray(act.dphi(x), dtype=float) ** 2
    kinks = tuple(act.kinks)
    T = np.empty((L + 1, L + 1))
    T[0, 0] = 1.0
    mu = np.array([_d2_moments(act, float(v)) for v in q])
    T[0, 1:] = T[1:, 0] = mu[:, 0]
    i, j = np.triu_indices(L, 1)
    if len(i):
        # (x^i, x^j), i < j: variances Q^i, Q^j, covariance Q^i
        vals = gaussian_expectation_2d(d2, d2, q[i], q[j], q[i], f_kinks=kinks, g_kinks=kinks)
        T[1 + i, 1 + j] = T[1 + j, 1 + i] = vals
    T[np.arange(1, L + 1), np.arange(1, L + 1)] = mu[:, 1]
    return T


def _pre_moment_recursion(T, beta, gaussian: bool = False):
    r"""(m_1, m_2) of :math:`JJ^\top`, :math:`J = \prod_l(1 + X_l)`, :math:`X_l = \sqrt\beta\,O_lD_l`,
    :math:`O_l` Haar orthogonal and free from the diagonal algebra, given ``T`` of
    :func:`_pre_stream_moments` (so the :math:`D_l` may be correlated across blocks).

    With :math:`A_l = J_lJ_l^\top`: :math:`E_{\mathcal D}[A_l] = c_l`,
    :math:`c_{l+1} = c_l(1 + \beta\tau(D_l^2))`, and :math:`\Phi_l(d, d') = \tau(A_l d A_l d')` on
    :math:`d, d'\in\{1, D_0^2, D_1^2, \dots\}` obeys (:math:`s = D_l^2`, :math:`\mu = \tau(s)`,
    :math:`t = \tau(\cdot)`)

    .. math::
        \Phi_{l+1}(d,d') = \Phi_l(d,d') + \beta[t(d')\Phi_l(d,s) + t(d)\Phi_l(s,d')]
        + (2\beta + \beta^2\mu)c_l^2\mu\,\tau(dd') + \beta^2t(d)t(d')(\Phi_l(s,s) - c_l^2\mu^2),

    from :math:`A_{l+1} = BA_lB^*`, :math:`B^*dB = d + \sqrt\beta(D_lO^\top d + dO D_l) + \beta D_lO^\top dOD_l`
    and the freeness of :math:`O` (words with an odd number of :math:`O`, or with :math:`O\cdot O`, vanish);
    :math:`\Phi_0(d, d') = \tau(dd')`, and :math:`m_2 = \Phi_L(1, 1)`.  ``gaussian``: circular
    :math:`W` instead of :math:`O`, whose fourth free cumulant is 0 instead of −1, so the term
    :math:`-\beta^2t(d)t(d')c_l^2\mu^2` drops (:func:`nn_spectra.resnet_pre._moment_recursion`).
    """
    L = T.shape[0] - 1
    Phi = T.copy()
    t = T[0].copy()
    c = 1.0
    for l in range(L):
        s = l + 1
        mu = t[s]
        col, row, pss = Phi[:, s].copy(), Phi[s, :].copy(), Phi[s, s]
        k4 = 0.0 if gaussian else c * c * mu * mu
        Phi = (Phi + beta * (np.outer(col, t) + np.outer(t, row)) + (2 * beta + beta * beta * mu) * c * c * mu * T
               + beta * beta * np.outer(t, t) * (pss - k4))
        c *= 1 + beta * mu
    return float(c), float(Phi[0, 0])


def _pre_moments(act, a, sw, sb, depth, q0):
    mf = resnet_mean_field(act, a, sw, sb, depth, q0=q0, c0=0.0, variant="pre")
    return _pre_moment_recursion(_pre_stream_moments(act, mf.q_phi), a * a * sw)


def _d2_moments(act, q):
    """(E phi'^2, E phi'^4) at variance q by adaptive quadrature (scipy), independent of the block rules."""
    from scipy import integrate

    f = lambda z, p: float(act.dphi(np.array([np.sqrt(q) * z]))[0]) ** p * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    pts = [k / np.sqrt(q) for k in act.kinks if q > 0 and abs(k / np.sqrt(q)) < 12]
    out = []
    for p in (2, 4):
        val = integrate.quad(f, -12, 12, args=(p,), points=pts or None, limit=400, epsabs=1e-14, epsrel=1e-13)[0]
        out.append(val)
    return out


# ----------------------------------------------------------------------------- the universal law
class ResNetUniversalLaw(SolvedLaw):
    r"""Universal large-depth ResNet Jacobian law :math:`S(z) = e^{-\tau(1+2z)}` (module docstring).

    Moments :math:`m_1 = e^\tau`, :math:`m_2 = (1+2\tau)e^{2\tau}`; support edges in closed form.  A
    :class:`freeprob.SolvedLaw` with the one unknown :math:`\zeta = \psi(1/x)`, the root of
    :math:`\log x - \log(1 + 1/\zeta) - \tau(1+2\zeta) = 0` (:math:`\chi(\zeta) = 1/x`, the limit of
    :class:`ResNetJacobianLaw`'s log-equation), :math:`G = (1+\zeta)/x`: the engine supplies the
    continuation, the density on the axis by Newton there, the contour cdf and :meth:`check_mass`.
    """

    name = "resnet_universal"

    def __init__(self, tau: float):
        self.tau = check_positive("tau", tau)
        self._freeze()

    def _chi(self, zeta):
        return zeta / (1 + zeta) * np.exp(-self.tau * (1 + 2 * zeta))

    @cached_property
    def _edges(self) -> tuple[float, float]:
        # the edges are chi(zeta)^-1 at the critical points zeta_pm of log chi (real branch folds)
        r = np.sqrt(1 + 2 / self.tau)
        zp, zm = 0.5 * (-1 + r), 0.5 * (-1 - r)
        return float(1 / self._chi(zm)), float(1 / self._chi(zp))

    # -- the system (freeprob.SolvedLaw interface) -----------------------------------------
    def _frame(self):
        # mean e^tau, variance m2 - m1^2 = 2 tau e^(2 tau)
        return float(np.exp(self.tau)), float(np.exp(self.tau) * np.sqrt(2 * self.tau))

    def _x(self, z):
        c, sc = self.frame
        return c + sc * np.asarray(z, dtype=complex)

    def _start(self, z):
        return (np.exp(self.tau) / self._x(z))[:, None]

    def _residual(self, z, u):
        x, zeta = self._x(z), u[:, 0]
        with np.errstate(all="ignore"):
            lx, l0 = np.log(x), _clog1p(1.0 / zeta)
            f = lx - l0 - self.tau * (1.0 + 2.0 * zeta)
            # relative to the size of its terms, as ResNetJacobianLaw's log-equation
            mag = np.maximum(np.abs(lx) + np.abs(l0) + self.tau * np.abs(1.0 + 2.0 * zeta), 1e-300)
            df = 1.0 / (zeta * (1.0 + zeta)) - 2.0 * self.tau
        return (f / mag)[:, None], (df / mag)[:, None, None]

    def _rnorm(self, r, u):
        with np.errstate(all="ignore"):
            return np.abs(r[:, 0])

    def _g(self, z, u):
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.frame[1] * (1.0 + u[:, 0]) / self._x(z)

    def _admissible(self, z, u):
        return u[:, 0].imag <= 1e-9 * np.abs(u[:, 0])

    def _hull(self):
        c, sc = self.frame
        lo, up = self._edges
        # padded so that the classification grid's end points lie outside (the edges are exact)
        return (lo - c) / sc - 1e-9, (up - c) / sc + 1e-9

    def _edge(self, x_out, x_in):
        c, sc = self.frame
        for e in self._edges:
            es = (e - c) / sc
            if min(x_out, x_in) <= es <= max(x_out, x_in):
                return es
        return super()._edge(x_out, x_in)

    def _moments(self, n):
        # psi = chi^{-1} by Lagrange inversion: [u^k] psi = (1/k) [zeta^{k-1}] (zeta / chi(zeta))^k
        # with zeta/chi(zeta) = (1+zeta) e^{tau(1+2 zeta)}
        from math import comb, factorial

        out = np.zeros(n)
        for k in range(1, n + 1):
            # [zeta^{k-1}] (1+zeta)^k e^{k tau} e^{2 k tau zeta}
            s = sum(comb(k, j) * (2 * k * self.tau) ** (k - 1 - j) / factorial(k - 1 - j) for j in range(k))
            out[k - 1] = np.exp(k * self.tau) * s / k
        return out

    def __repr__(self):
        return f"resnet_universal_law(tau={self.tau:g})"


def resnet_universal_law(tau: float) -> ResNetUniversalLaw:
    r"""The universal large-depth ResNet Jacobian law with parameter :math:`\tau` (module docstring).

    :math:`\tau = \sum_l a^2\sigma_w^2 E[\varphi'(h^l)^2]` (``resnet_mean_field(...).tau``); any
    activation, either weight law.

    >>> law = resnet_universal_law(0.5)
    >>> [round(float(m), 10) for m in law.moments(2)] == [round(float(np.exp(0.5)), 10), round(float(2 * np.exp(1.0)), 10)]
    True
    """
    return ResNetUniversalLaw(tau)
