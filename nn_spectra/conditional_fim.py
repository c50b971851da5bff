r"""Spectrum of the Fisher information given one input under dynamical isometry (Hayase–Karakida 2021).

For :math:`f = h^L` of an :class:`nn_spectra.MLP` with equal widths :math:`N` and unit Gaussian output
noise, the FIM given one input is :math:`I(\theta\mid x) = J_\theta^\top J_\theta` (weights only).  Its
nonzero spectrum is that of the dual :math:`N\times N` matrix

.. math:: H = \sum_{l=1}^{L}\|x^{l-1}\|^2\,\delta_l\delta_l^\top,\qquad \delta_l = \partial h^L/\partial h^l .

Building :math:`H_l` layer by layer, :math:`H_1 = \|x^0\|^2 I` and
:math:`H_{l+1} = \|x^l\|^2 I + W D_l H_l D_l W^\top`; with orthogonal weights :math:`W = \sigma_w O`
and asymptotic freeness the laws :math:`\nu_l` of :math:`H_l/N` obey

.. math:: \nu_1 = \delta_{\hat q},\qquad \nu_{l+1} = \mathrm{shift}_{\hat q}\big(\sigma_w^2\,(\mu_{D^2}\boxtimes\nu_l)\big),

with every layer at the fixed point, :math:`\hat q = \|x^l\|^2/N = (q^* - \sigma_b^2)/\sigma_w^2`.

Solver.  In terms of :math:`\eta(w) = 1 - w/G(1/w)` and :math:`h_\mu(u) = \eta_\mu(u)/u`, one evaluation
of :math:`G_{\nu_L}(x)` is a chain of subordination points :math:`\omega_1,\dots,\omega_{L-1}` with
:math:`\omega_L = 1/x`:

.. math::

    z_l = \frac{\sigma_w^2\omega_{l+1}}{1 - \hat q\,\omega_{l+1}},\quad
    E_1 = \hat q\,\omega_1,\quad E_l = 1 - (1 - \hat q\,\omega_l)(1 - E_{l-1}),\quad
    \omega_l = z_l\,h_\mu\!\Big(\frac{z_l E_l}{\omega_l}\Big),

(:math:`E_l = \eta_{\nu_l}(\omega_l)`; the last equation is multiplicative subordination for
:math:`\mu_{D^2}\boxtimes\nu_l`), and :math:`G_{\nu_L}(x) = 1/(x(1 - E_L))`.  The
:math:`L-1` equations are solved together by Newton's method with the exact (lower Hessenberg)
Jacobian and continuation in :math:`\operatorname{Im} x`, never by nesting ⊠ solvers; level 1
(the point mass :math:`\nu_1`) is eliminated exactly, :math:`E_1 = \eta_\mu(\hat q z_1)`.

Known limitation: close to the real axis the chain meets near-singular points (where
:math:`G_{\mu}` vanishes at a subordination point) that the continuation does not pass reliably, so
``pdf`` is the Poisson-smoothed density at height ``RESOLUTION`` times the hull width and ``support``
is the rigorous hull, not the exact edges.  ``cauchy`` off the axis, ``moments`` (exact recursion)
and ``atoms`` (Bercovici–Voiculescu) are exact.
"""
from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np

from freeprob.law import Law, check_positive, tabulated_cdf

__all__ = ["ConditionalFIMLaw", "conditional_fim_law", "sample_conditional_fim_spectrum"]


class ConditionalFIMSolverError(ValueError):
    """The subordination chain did not converge."""


class ConditionalFIMLaw(Law):
    r"""Limiting law :math:`\nu_L` of the eigenvalues of :math:`H/N` (module docstring)."""

    name = "conditional_fim"
    #: relative height of the Stieltjes inversion used by ``pdf`` (a Poisson smoothing of the density)
    RESOLUTION = 1e-2

    def __init__(self, d2: Law, psi, sigma_w2: float, qhat: float, depth: int, label: str = ""):
        self.d2, self._psi = d2, psi
        self.sigma_w2, self.qhat, self.depth, self.label = sigma_w2, qhat, depth, label
        self._freeze()

    # -- the chain ----------------------------------------------------------------------
    def _h(self, u):
        psi, dpsi = self._psi(u)
        eta = psi / (1 + psi)
        deta = dpsi / (1 + psi) ** 2
        return eta / u, deta / u - eta / u ** 2

    def _eta(self, u):
        psi, dpsi = self._psi(u)
        return psi / (1 + psi), dpsi / (1 + psi) ** 2

    def _system(self, x, om, jac=True):
        """Residuals (n, K), E_L (n,), Jacobian (n, K, K); unknowns omega_2..omega_{L-1} (K = L-2).

        Level 1 is eliminated: nu_1 is the point mass at q^, so eta_{mu boxtimes nu_1}(z) = eta_mu(q^ z)
        exactly (its subordination point runs off to infinity where G_mu vanishes).
        """
        n, K = om.shape
        a, s2 = self.qhat, self.sigma_w2
        top = 1.0 / x
        up = np.concatenate([om, top[:, None]], axis=1)                 # omega_2..omega_L
        z = s2 * up / (1 - a * up)                                      # z_1..z_{L-1}
        dz = s2 / (1 - a * up) ** 2
        e1, de1 = self._eta(a * z[:, 0])
        E_prev = e1
        dE_prev = np.zeros((n, K), dtype=complex)
        if K:
            dE_prev[:, 0] = de1 * a * dz[:, 0]
        E = np.empty((n, K), dtype=complex)
        dE = np.zeros((n, K, K), dtype=complex)
        for i in range(K):                      # level l = i + 2, omega_l = om[:, i]
            E[:, i] = 1 - (1 - a * om[:, i]) * (1 - E_prev)
            dE[:, i, :] = (1 - a * om[:, i])[:, None] * dE_prev
            dE[:, i, i] += a * (1 - E_prev)
            E_prev, dE_prev = E[:, i], dE[:, i, :]
        E_top = 1 - (1 - a * top) * (1 - E_prev)
        if K == 0:
            return np.zeros((n, 0), dtype=complex), E_top, np.zeros((n, 0, 0), dtype=complex)
        zl = z[:, 1:]                            # z_l for l = 2..L-1
        dzl = dz[:, 1:]                          # d z_l / d omega_{l+1}
        u = zl * E / om
        hv, dh = self._h(u)
        R = om - zl * hv
        if not jac:
            return R, E_top, None
        du = zl[:, :, None] * dE / om[:, :, None]
        idx = np.arange(K)
        du[:, idx, idx] -= zl * E / om ** 2
        J = -(zl * dh)[:, :, None] * du
        if K > 1:
            l = np.arange(K - 1)
            du_up = dzl[:, :-1] * E[:, :-1] / om[:, :-1]
            J[:, l, l + 1] += -dzl[:, :-1] * hv[:, :-1] - zl[:, :-1] * dh[:, :-1] * du_up
        J[:, idx, idx] += 1.0
        return R, E_top, J

    def _norm(self, R, om):
        if om.shape[1] == 0:
            return np.zeros(om.shape[0])
        return np.max(np.abs(R) / np.abs(om), axis=1)

    def _newton(self, x, om, iters=40, tol=1e-13):
        for _ in range(iters):
            R, _, J = self._system(x, om)
            r0 = self._norm(R, om)
            if np.all(r0 <= tol):
                break
            with np.errstate(all="ignore"):
                step = np.linalg.solve(J, R[..., None])[..., 0]
            bad = ~np.all(np.isfinite(step), axis=1)
            step[bad] = 0
            lam = np.ones(x.shape)
            accepted = r0 <= tol
            for _h in range(25):
                cand = om - lam[:, None] * step
                with np.errstate(all="ignore"):
                    Rc, _, _ = self._system(x, cand, jac=False)
                    rc = self._norm(Rc, cand)
                good = np.isfinite(rc) & (rc < r0) & ~accepted
                om = np.where(good[:, None], cand, om)
                accepted |= good
                if np.all(accepted):
                    break
                lam = np.where(accepted, lam, 0.5 * lam)
            if not np.any(accepted & (r0 > tol)):
                break
        R, E_top, _ = self._system(x, om, jac=False)
        return om, E_top, self._norm(R, om)

    def _start(self, x):
        m1 = self.d2.mean
        K = self.depth - 2
        om = np.empty((x.size, K), dtype=complex)
        w = 1.0 / x
        for l in range(K - 1, -1, -1):
            w = self.sigma_w2 * m1 * w
            om[:, l] = w
        return om

    def _solve(self, x):
        scale = max(self._hull[1], 1e-300)
        top = 30 * (scale + np.abs(x.real))
        x0 = x.real + 1j * np.maximum(top, x.imag)
        om, E, res = self._newton(x0, self._start(x0))
        for h in np.geomspace(1, 1e-13, 60):
            y = np.maximum(x.imag, top * h)
            om, E, res = self._newton(x.real + 1j * y, om, iters=40, tol=1e-12)
            if np.all(top * h <= x.imag):
                break
        om, E, res = self._newton(x, om)
        if np.any(~np.isfinite(res)) or np.any(res > 1e-8):
            i = int(np.argmax(np.where(np.isfinite(res), res, np.inf)))
            raise ConditionalFIMSolverError(
                f"conditional_fim_law: the subordination chain did not converge at x = {x[i]!r} "
                f"(residual {res[i]:.3g})")
        return om, E

    def _g(self, x):
        if self.depth == 1 or self._atomic:
            pts, w = self.atoms
            return (w[None, :] / (x[:, None] - pts[None, :])).sum(axis=1)
        _, E = self._solve(x)
        return 1.0 / (x * (1 - E))

    def _g_path(self, x):
        """G along points of equal small height, warm-started right to left (fallback: ladder)."""
        if self.depth == 1:
            return 1.0 / (x - self.qhat)
        order = np.argsort(-x.real)
        out = np.empty(x.shape, dtype=complex)
        om = None
        for i in order:
            xi = x[i: i + 1]
            ok = False
            if om is not None:
                ot, E, res = self._newton(xi, om, iters=30, tol=1e-12)
                ok = bool(np.isfinite(res[0]) and res[0] <= 1e-10)
            if not ok:
                ot, E = self._solve(xi)
            om = ot
            out[i] = 1.0 / (xi[0] * (1 - E[0]))
        return out

    def _cauchy(self, z):
        z = np.asarray(z, dtype=complex)
        shape = z.shape
        z = z.ravel()
        b = self._hull[1]
        zz = np.where(z.imag <= 0, z.real + 1j * 1e-13 * max(1.0, b), z)
        out = self._g(zz)
        out = np.where(z.imag <= 0, out.real + 0j, out)
        return out.reshape(shape)

    # -- Law interface ------------------------------------------------------------------
    @cached_property
    def atoms(self):
        """Bercovici–Voiculescu: ⊠ keeps an atom at b·t when the masses add to more than 1."""
        pts, mass = np.array([self.qhat]), np.array([1.0])
        dp, dm = self.d2.atoms
        for _ in range(self.depth - 1):
            new_p, new_m = [], []
            for t, mt in zip(pts, mass):
                for b, mb in zip(dp, dm):
                    if mt + mb > 1 + 1e-14:
                        new_p.append(self.qhat + self.sigma_w2 * b * t)
                        new_m.append(mt + mb - 1)
            pts, mass = np.array(new_p), np.array(new_m)
            if not len(pts):
                break
        return (pts, mass) if len(pts) else (np.empty(0), np.empty(0))

    @cached_property
    def _hull(self):
        """Crude hull: q^ I <= H/N <= q^ sum_k (sigma_w^2 max D^2)^k."""
        g = self.sigma_w2 * self.d2.support[1]
        return (self.qhat, self.qhat * sum(g ** k for k in range(self.depth)))

    @cached_property
    def _atomic(self) -> bool:
        _, w = self.atoms
        return bool(len(w) and abs(w.sum() - 1.0) < 1e-12)

    @cached_property
    def support(self):
        r"""Rigorous hull :math:`[\hat q, \hat q\sum_{k<L}(\sigma_w^2\max D^2)^k]` (``H_{l+1} >= q^ I``); the
        spectrum concentrates near its top under dynamical isometry, where the hull is nearly tight."""
        if self.depth == 1 or self._atomic:
            pts, _ = self.atoms
            return (float(pts.min()), float(pts.max()))
        return self._hull

    def _density_raw(self, x):
        # Poisson-smoothed density: Stieltjes inversion at the height RESOLUTION * hull width.  Closer
        # to the axis the chain has near-singular points (where G_mu vanishes) that the continuation
        # does not yet pass reliably; see the module docstring.
        b = self._hull[1]
        eps = self.RESOLUTION * max(b - self._hull[0], 1e-300)
        pts, w = self.atoms
        keep = np.ones(x.shape, bool)
        if len(pts):
            keep = np.min(np.abs(x[:, None] - pts[None, :]), axis=1) > 1e-5 * b
        out = np.zeros_like(x)
        if np.any(keep):
            g = self._g_path(x[keep] + 1j * eps)
            dens = -g.imag / np.pi
            if len(pts):
                dens -= (w[None, :] * eps / np.pi / ((x[keep, None] - pts[None, :]) ** 2 + eps ** 2)).sum(axis=1)
            out[keep] = np.maximum(dens, 0.0)
        return out

    def _pdf(self, x):
        a, b = self.support
        out = np.zeros_like(x)
        inside = (x > a) & (x < b)
        if np.any(inside) and not self._atomic:
            out[inside] = self._density_raw(x[inside])
        return out

    @cached_property
    def _cdf_table(self):
        a, b = self.support
        t = np.linspace(0, np.pi, 1201)
        x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(t)
        d = self._pdf(x)
        c = np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(x))])
        _, w = self.atoms
        ac = 1.0 - w.sum()
        if c[-1] > 0 and ac > 1e-12:
            c *= ac / c[-1]
        return x, c

    def _cdf(self, x):
        pts, w = self.atoms
        if self.depth == 1 or self._atomic:
            return (w[None, :] * (pts[None, :] <= x[:, None])).sum(axis=1)
        return tabulated_cdf(x, self._cdf_table, (pts, w))

    def _moments(self, n):
        # exact recursion on moments: boxtimes by free cumulants, then scale and binomial shift
        from math import comb

        from freeprob.combinatorics import boxtimes_moments

        kap_mu = self.d2.free_cumulants(n)
        m = np.array([self.qhat ** k for k in range(1, n + 1)], dtype=float)
        for _ in range(self.depth - 1):
            prod = np.asarray(boxtimes_moments(kap_mu, m), dtype=float) * self.sigma_w2 ** np.arange(1, n + 1)
            full = np.concatenate([[1.0], prod])
            m = np.array([sum(comb(k, j) * full[j] * self.qhat ** (k - j) for j in range(k + 1))
                          for k in range(1, n + 1)])
        return m

    def __repr__(self):
        lab = f"{self.label}, " if self.label else ""
        return f"conditional_fim_law({lab}depth={self.depth})"


def conditional_fim_law(act, sigma_w2: float, sigma_b2: float, depth: int, weights: str = "orthogonal") -> ConditionalFIMLaw:
    r"""Limiting law of the eigenvalues of :math:`H/N` (equivalently of :math:`I(\theta\mid x)/N`, nonzero part).

    Parameters
    ----------
    act : str or Activation
    sigma_w2, sigma_b2 : float
    depth : int
        Number of weight layers :math:`L \ge 1` of the :class:`MLP` (:math:`L-1` hidden layers).
    weights : {"orthogonal"}
        The recursion needs orthogonal weights (Hayase–Karakida); Gaussian weights raise.

    Returns
    -------
    ConditionalFIMLaw
        ``support[1]`` is the top of the spectrum, which grows linearly with depth under
        dynamical isometry; ``pdf``, ``atoms``, ``moments`` (exact), ``cdf``.

    Examples
    --------
    >>> law = conditional_fim_law("linear", 1.0, 0.0, depth=3)   # H/N = q (1 + 1 + 1) I
    >>> law.atoms
    (array([3.]), array([1.]))
    """
    from .jacobian import _check_depth, _psi_for, d2_law
    from .activations import activation
    from .mean_field import q_star

    sw = check_positive("sigma_w2", sigma_w2)
    sb = check_positive("sigma_b2", sigma_b2, strict=False)
    depth = _check_depth(depth)
    if weights != "orthogonal":
        raise ValueError(f"weights must be 'orthogonal' (the Hayase-Karakida recursion needs Haar weights), got {weights!r}")
    a = activation(act)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = float(q_star(a, sw, sb))
    if not np.isfinite(q):
        raise ValueError(f"no finite fixed point q* for {a.name} at sigma_w2={sw}, sigma_b2={sb}")
    qhat = (q - sb) / sw
    if qhat <= 0:
        raise ValueError(f"the fixed point has zero activations (q* = {q:.3g} = sigma_b2): the FIM given x vanishes")
    d2 = d2_law(a, q)
    return ConditionalFIMLaw(d2, _psi_for(d2, a.dphi, q), sw, qhat, depth, label=a.name)


def sample_conditional_fim_spectrum(act, sigma_w2: float, sigma_b2: float, depth: int, width: int,
                                    rng=None) -> np.ndarray:
    r"""Eigenvalues of :math:`H/N` for one real orthogonal :class:`MLP` and one input at the fixed point."""
    from .mean_field import q_star
    from .mlp import MLP

    gen = np.random.default_rng(rng)
    net = MLP([int(width)] * (int(depth) + 1), act, sigma_w2, sigma_b2, init="orthogonal", rng=gen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = float(q_star(act, sigma_w2, sigma_b2))
    x = gen.standard_normal(width)
    x *= np.sqrt((q - sigma_b2) / sigma_w2 * width) / np.linalg.norm(x)
    deltas, xs = net.backward(x[None, :])
    H = sum(float(xl[0] @ xl[0]) * (d[0] @ d[0].T) for d, xl in zip(deltas, xs))
    return np.linalg.eigvalsh(H) / width
