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

The law is a :class:`freeprob.SolvedLaw` (state :math:`\omega_2..\omega_{L-1}` and :math:`E_L`): the
density is the boundary value on the axis, the support edges are the folds of the real branch (exact,
not a hull), the cdf is the engine's contour integral.

Atoms, exactly (:func:`boxtimes_atoms`, layer by layer).  :math:`\mu_{D^2}\boxtimes\nu_l` has an atom at 0
of mass :math:`p_0 = P(\phi'(h) = 0)` (Belinschi) and one at :math:`ab` for atoms :math:`a, b > 0` of
:math:`\mu_{D^2}, \nu_l` with :math:`\mu(\{a\}) + \nu_l(\{b\}) - 1 > 0` (Bercovici–Voiculescu); shift and
scale move them to :math:`\hat q_l + \sigma_w^2 ab`.  The zero atom is the rank argument:
:math:`H_{l+1} - \hat q_l I = \sigma_w^2 W D_l H_l D_l W^\top` has rank :math:`\le \operatorname{rank} D_l`.
For :math:`D^2` Bernoulli (relu, hard_tanh; :math:`p_0 > 0`) this gives, for :math:`L \ge 2`, an atom
:math:`p_0` at the bottom :math:`\hat q_{L-1}` and the top atom :math:`\hat q\sum_{k<L}\sigma_w^{2k}` of mass
:math:`1 - (L-1)p_0` while positive (:math:`L = 2`: the whole law is these two atoms); for smooth
:math:`\phi'` (tanh, erf) there are none beyond :math:`L = 1`.

Moments by products of S-transform series (:math:`O(Ln^4)`), exact up to rounding.

Several outputs, :math:`C < N` (free compression).  With a :math:`C\times N` readout the dual of the
conditional FIM is the :math:`C\times C` matrix :math:`H_C = P H P^\top`, :math:`P` the first :math:`C`
coordinates: a :math:`C\times N` block of orthonormal rows of :math:`\sigma_w` times a Haar matrix is
the first :math:`C` rows of a square one, and :math:`H = \hat q_{L-1} I + W_L D H_{L-1} D W_L^\top` is
conjugated by the Haar :math:`W_L`, independent of the rest, so :math:`P` is free from :math:`H`.  By
Nica–Speicher (Lectures on the Combinatorics of Free Probability, Lecture 14, compression by a free projection) the law of
:math:`PHP^\top/N` in the compressed algebra (normalised trace on the :math:`C` rows) is
:math:`\mu_t = D_t(\nu_L^{\boxplus 1/t})`, :math:`t = C/N`: free cumulants :math:`\kappa_n(\mu_t) =
t^{n-1}\kappa_n(\nu_L)`, :math:`R_{\mu_t}(z) = R_{\nu_L}(tz)` (:meth:`ConditionalFIMLaw.compressed_moments`).
Its top edge (:func:`compressed_top_edge`) is, with :math:`u = tg = G_{\nu}(w)` in the inverse
:math:`K_{\mu_t}(g) = R_\nu(tg) + 1/g`,

.. math:: e_t = \min_{w > b}\Big(w - \frac{1-t}{G_\nu(w)}\Big),

:math:`b` the top of :math:`\nu`; the function is convex on :math:`(b, \infty)` (its derivative
:math:`1 - (1-t)F_\nu'(w)` increases, :math:`F_\nu' - 1 = \int d\sigma/(w-x)^2` in the Nevanlinna form of
:math:`F_\nu = 1/G_\nu`), and when a top atom of mass :math:`p \ge 1 - t` survives, :math:`e_t = b`.  As
:math:`t\to 0` the edge falls to the mean :math:`m_1` of :math:`\nu_L` (:math:`e_t \approx m_1 +
2\sqrt{t\operatorname{var}}`): the top of a few outputs' block is near the NTK diagonal, not the top of
the square network's spectrum.

First layer: with input dimension :math:`d \ne N` (``input_ratio`` :math:`= d/N`) the input of length
:math:`\|x\|^2 = d\,\hat q_0` enters :math:`H` as the shift :math:`\|x\|^2/N = (d/N)\hat q_0` while
the first pre-activations have :math:`q^1 = \sigma_w^2\hat q_0 + \sigma_b^2` (the :class:`MLP` rescales a
rectangular orthogonal first layer so that the length map is unchanged).

Input trajectory: with ``q_input`` the layers follow the input's own
:math:`q^{l} = \sigma_w^2\hat q_{l-1} + \sigma_b^2`, :math:`\hat q_l = E\,\phi(\sqrt{q^l}z)^2` (each layer its own
:math:`\mu_{D_l^2}` and shift) instead of the fixed point.
"""
from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np

from freeprob.law import check_positive
from freeprob.solved import ConvergenceError, SolvedLaw

__all__ = ["ConditionalFIMLaw", "conditional_fim_law", "sample_conditional_fim_spectrum", "boxtimes_atoms",
           "compressed_top_edge", "compressed_top_mean"]


#: former name of the solver's error, kept as an alias of the engine's one
ConditionalFIMSolverError = ConvergenceError


def boxtimes_atoms(mu_atoms, nu_atoms):
    r"""Atoms of :math:`\mu\boxtimes\nu` for laws on :math:`[0,\infty)`, exactly.

    Belinschi (2003): :math:`(\mu\boxtimes\nu)(\{0\}) = \max(\mu(\{0\}), \nu(\{0\}))`; Bercovici–Voiculescu
    (1998): for :math:`a, b > 0` there is an atom at :math:`ab` iff :math:`\mu(\{a\}) + \nu(\{b\}) > 1`,
    of mass :math:`\mu(\{a\}) + \nu(\{b\}) - 1`; there are no others.

    >>> boxtimes_atoms((np.array([0.0, 1.0]), np.array([0.5, 0.5])), (np.array([2.0]), np.array([1.0])))
    (array([0., 2.]), array([0.5, 0.5]))
    """
    (ap, am), (bp, bm) = mu_atoms, nu_atoms
    ap, am, bp, bm = (np.asarray(t, dtype=float) for t in (ap, am, bp, bm))
    pts, mass = [], []
    zero = max(float(am[ap == 0].sum()) if len(ap) else 0.0, float(bm[bp == 0].sum()) if len(bp) else 0.0)
    if zero > 0:
        pts.append(0.0)
        mass.append(zero)
    for a, ma in zip(ap, am):
        for b, mb in zip(bp, bm):
            if a != 0 and b != 0 and ma + mb > 1.0 + 1e-14:
                pts.append(float(a * b))
                mass.append(float(ma + mb - 1.0))
    return np.array(pts), np.array(mass)


def _fold_rule(t, w):
    r"""The discrete rule :math:`\psi(u) = \sum_i w_i t_i u/(1 - t_i u)` with nodes of equal value merged.

    For an even :math:`\phi'` (tanh, erf) the rule of :func:`nn_spectra.jacobian._psi_for` is symmetric:
    its panels and its contour :math:`h(s)` are odd in :math:`s`, so :math:`t(h(-s)) = t(h(s))`, and the
    nodes come in pairs with the same :math:`t` (to rounding, ~1e-16 relative).  A pair contributes
    :math:`(w_i + w_j)\,t u/(1 - t u)`: merging halves every evaluation of :math:`\psi` (the cost of the
    compiled chain) and changes the sum only by the rounding of the merged node.  A rule that is not
    symmetric to 1e-14 is returned unchanged."""
    t = np.asarray(t, dtype=np.complex128)
    w = np.asarray(w, dtype=np.complex128)
    n = t.size
    if n < 2:
        return t, w
    rt = t[::-1]
    if not np.all(np.abs(t - rt) <= 1e-14 * np.abs(t)):
        return t, w
    h = n // 2
    # the pair's node is the mean of the two (rounding of the two evaluations averaged)
    tf, wf = 0.5 * (t[:h] + rt[:h]), w[:h] + w[::-1][:h]
    if n % 2:
        tf, wf = np.append(tf, t[h]), np.append(wf, w[h])
    return np.ascontiguousarray(tf), np.ascontiguousarray(wf)


def _boxtimes_moments_series(mu_m: np.ndarray, nu_m: np.ndarray, n: int) -> np.ndarray:
    """Moments m_1..m_n of mu ⊠ nu from those of mu and nu by S_{mu⊠nu} = S_mu S_nu (power series in
    the laws normalised to mean 1, so the series stay O(1)); O(n^4) flops."""
    from .jacobian import _moments_from_s_series, _s_series_from_moments, _series_mul

    a, b = float(mu_m[0]), float(nu_m[0])
    k = np.arange(1, n + 1)
    s = _series_mul(_s_series_from_moments(mu_m[:n] / a ** k, n), _s_series_from_moments(nu_m[:n] / b ** k, n), n - 1)
    return _moments_from_s_series(s, n) * (a * b) ** k


class ConditionalFIMLaw(SolvedLaw):
    r"""Limiting law :math:`\nu_L` of the eigenvalues of :math:`H/N` (module docstring).

    ``d2s[l-1]`` is the law of :math:`D_l^2` (:math:`l = 1..L-1`) and ``shifts`` are
    :math:`(\hat q_0, \dots, \hat q_{L-1})`, :math:`\hat q_l = \|x^l\|^2/N`:
    :math:`\nu_1 = \delta_{\hat q_0}`, :math:`\nu_{l+1} = \mathrm{shift}_{\hat q_l}(\sigma_w^2\,\mu_{D_l^2}\boxtimes\nu_l)`.
    A :class:`freeprob.SolvedLaw`: state :math:`(\omega_2, \dots, \omega_{L-1}, E_L)`.
    """

    name = "conditional_fim"

    def __init__(self, d2s, psis, sigma_w2: float, shifts, label: str = ""):
        self.d2s, self._psis = tuple(d2s), tuple(psis)
        self.sigma_w2, self.shifts, self.label = float(sigma_w2), tuple(float(s) for s in shifts), label
        self.depth = len(self.shifts)
        # compatibility with the fixed-point constructor: the last layer's D^2 law and shift
        self.d2 = self.d2s[-1] if self.d2s else None
        self._psi = self._psis[-1] if self._psis else None
        self.qhat = self.shifts[-1]
        self._freeze()

    # -- exact parts ----------------------------------------------------------------------
    def _exact_atoms(self):
        """Bercovici–Voiculescu/Belinschi through every layer.  The zero atom of ⊠ (mass
        :math:`P(\\phi'(h^l) = 0)`) is the rank argument: :math:`H_{l+1} - \\hat q_l I = \\sigma_w^2 W D_l H_l D_l W^\\top`
        has rank at most :math:`\\operatorname{rank} D_l`, so :math:`\\hat q_l` is an eigenvalue of multiplicity
        :math:`\\ge N - \\operatorname{rank} D_l`."""
        pts, mass = np.array([self.shifts[0]]), np.array([1.0])
        for l in range(1, self.depth):
            pts, mass = boxtimes_atoms(self.d2s[l - 1].atoms, (pts, mass))
            pts = self.shifts[l] + self.sigma_w2 * pts
        return pts, mass

    @cached_property
    def _atomic(self) -> bool:
        _, w = self.atoms
        return bool(len(w) and abs(w.sum() - 1.0) < 1e-12)

    def _moments(self, n):
        """Exact recursion in O(L n^4): ⊠ by products of S-transform series, then scale and shift."""
        from math import comb

        m = np.array([self.shifts[0] ** k for k in range(1, n + 1)], dtype=float)
        C = np.array([[comb(k, j) for j in range(n + 1)] for k in range(n + 1)], dtype=float)
        for l in range(1, self.depth):
            prod = _boxtimes_moments_series(np.asarray(self.d2s[l - 1].moments(n), dtype=float), m, n)
            full = np.concatenate([[1.0], prod * self.sigma_w2 ** np.arange(1, n + 1)])
            a = self.shifts[l] ** np.arange(n + 1)
            m = np.array([(C[k, : k + 1] * full[: k + 1] * a[k::-1]).sum() for k in range(1, n + 1)])
        return m

    # -- the chain (state: omega_2..omega_{L-1}, E_L) ------------------------------------------
    def _eta(self, level: int, u):
        psi, dpsi = self._psis[level - 1](u)
        return psi / (1 + psi), dpsi / (1 + psi) ** 2

    def _h(self, level: int, u):
        eta, deta = self._eta(level, u)
        return eta / u, deta / u - eta / u ** 2

    def _system(self, x, om, jac=True):
        """Residuals of the chain, E_L (n,), d E_L/d omega (n, K), Jacobian (n, K, K)."""
        n, K = om.shape
        s2 = self.sigma_w2
        q = self.shifts
        top = 1.0 / x
        up = np.concatenate([om, top[:, None]], axis=1)                 # omega_2..omega_L
        a_up = np.array(q[1:])[None, :]                                  # shift forming nu_{l+1}
        z = s2 * up / (1 - a_up * up)                                    # z_1..z_{L-1}
        dz = s2 / (1 - a_up * up) ** 2
        e1, de1 = self._eta(1, q[0] * z[:, 0])
        E_prev = e1
        dE_prev = np.zeros((n, K), dtype=complex)
        if K:
            dE_prev[:, 0] = de1 * q[0] * dz[:, 0]
        E = np.empty((n, K), dtype=complex)
        dE = np.zeros((n, K, K), dtype=complex)
        for i in range(K):                      # level l = i + 2, omega_l = om[:, i], nu_l = shift_{q_{l-1}}
            a = q[i + 1]
            E[:, i] = 1 - (1 - a * om[:, i]) * (1 - E_prev)
            dE[:, i, :] = (1 - a * om[:, i])[:, None] * dE_prev
            dE[:, i, i] += a * (1 - E_prev)
            E_prev, dE_prev = E[:, i], dE[:, i, :]
        aL = q[-1]
        E_top = 1 - (1 - aL * top) * (1 - E_prev)
        dE_top = (1 - aL * top)[:, None] * dE_prev
        if K == 0:
            return np.zeros((n, 0), dtype=complex), E_top, dE_top, np.zeros((n, 0, 0), dtype=complex)
        zl = z[:, 1:]                            # z_l for l = 2..L-1
        dzl = dz[:, 1:]
        u = zl * E / om
        hv = np.empty_like(u)
        dh = np.empty_like(u)
        for i in range(K):
            hv[:, i], dh[:, i] = self._h(i + 2, u[:, i])
        R = om - zl * hv
        if not jac:
            return R, E_top, dE_top, None
        du = zl[:, :, None] * dE / om[:, :, None]
        idx = np.arange(K)
        du[:, idx, idx] -= zl * E / om ** 2
        J = -(zl * dh)[:, :, None] * du
        if K > 1:
            l = np.arange(K - 1)
            du_up = dzl[:, :-1] * E[:, :-1] / om[:, :-1]
            J[:, l, l + 1] += -dzl[:, :-1] * hv[:, :-1] - zl[:, :-1] * dh[:, :-1] * du_up
        J[:, idx, idx] += 1.0
        return R, E_top, dE_top, J

    def _frame(self):
        if self._atomic:
            p, w = self.atoms
            mean = float((p * w).sum())
            sd = float(np.sqrt(max((w * (p - mean) ** 2).sum(), 0.0)))
            return mean, sd if sd > 0 else max(abs(mean), 1e-300)
        return super()._frame()

    def _start(self, z):
        c, s = self.frame
        x = c + s * z
        K = self.depth - 2
        u = np.empty((x.size, K + 1), dtype=complex)
        w = 1.0 / x
        for l in range(K - 1, -1, -1):
            w = self.sigma_w2 * self.d2s[l + 1].mean * w
            u[:, l] = w
        u[:, K] = self._system(x, u[:, :K], jac=False)[1]
        return u

    def _residual(self, z, u):
        c, s = self.frame
        x = c + s * np.asarray(z, dtype=complex)
        K = u.shape[1] - 1
        data = self._kernel_data
        if data is not None and u.ndim == 2 and K >= 1:
            from .conditional_fim_kernel import residuals

            # the same rows and Jacobian, compiled: the density's rounding test and the fold Newton
            # evaluate it at every point of the support grid
            return residuals(np.ascontiguousarray(x.ravel(), dtype=np.complex128),
                             np.ascontiguousarray(u, dtype=np.complex128), *data[:-1])
        om, e = u[:, :K], u[:, K]
        with np.errstate(all="ignore"):
            R, E_top, dE_top, J = self._system(x, om)
            r = np.empty(u.shape, dtype=complex)
            r[:, :K] = R / om                       # relative: omega ~ 1/x
            r[:, K] = e - E_top
            Jf = np.zeros((u.shape[0], K + 1, K + 1), dtype=complex)
            Jf[:, :K, :K] = J / om[:, :, None]
            Jf[:, K, :K] = -dE_top
            Jf[:, K, K] = 1.0
        return r, Jf

    def _rnorm(self, r, u):
        with np.errstate(all="ignore"):
            return np.max(np.abs(r), axis=1)

    def _admissible(self, z, u):
        r"""Physical branch: every :math:`\omega_l` in the closed lower half-plane (:math:`\omega_l\sim 1/x`)
        and :math:`\operatorname{Im} G \le 0` above the axis."""
        with np.errstate(all="ignore"):
            om = u[:, :-1]
            g = self._g(z, u)
            ok = np.all(om.imag <= 1e-9 * np.abs(om), axis=1) & (g.imag <= 1e-9 * np.abs(g))
        return ok & np.all(np.isfinite(u), axis=1)

    # -- compiled path (nn_spectra.conditional_fim_kernel) ----------------------------------
    #: standardized height from which the compiled axis Newton starts
    AXIS_HEIGHT = 1e-15

    @cached_property
    def _kernel_data(self):
        """(sigma_w2, shifts, Re t, Im t, Re wt, Im wt, offsets, start factors) of the compiled solver
        (the nodes t and weights w of every level's psi rule, concatenated), or None when a level's
        psi is not a discrete rule."""
        from .jacobian import _PsiAtoms

        if not all(isinstance(p, _PsiAtoms) for p in self._psis) or self.depth < 2:
            return None
        rules = [_fold_rule(p.t, p.w) for p in self._psis]
        t = np.concatenate([r[0] for r in rules])
        wt = np.concatenate([r[1] for r in rules]) * t
        off = np.concatenate([[0], np.cumsum([len(r[0]) for r in rules])]).astype(np.int64)
        mc = np.array([float(d.mean) for d in self.d2s[1:]], dtype=np.float64)
        parts = [np.ascontiguousarray(a) for a in (t.real, t.imag, wt.real, wt.imag)]
        return (float(self.sigma_w2), np.array(self.shifts, dtype=np.float64), *parts, off, mc)

    def _solve_fast(self, z):
        data = self._kernel_data
        if data is None:
            return None
        from .conditional_fim_kernel import solve_path

        z = np.ascontiguousarray(np.atleast_1d(z), dtype=np.complex128)
        c, s = self.frame
        # along each vertical ray from the top, rays left to right: neighbours are close
        order = np.lexsort((-z.imag, z.real))
        om, e, res, ok = solve_path(z, order, c, s, *data, self.tol)
        u = np.concatenate([om, e[:, None]], axis=1)
        return u, res, ok

    def _axis(self, x):
        """Boundary values on the axis by the compiled solver (height ``AXIS_HEIGHT``, then Newton
        with Im x = 0); points it cannot certify are retried from the heights 1e-22 and 1e-30 (next
        to an edge or an atom), and otherwise returned at the lowest height with ``exact`` False
        (the engine's contract), NaN where no height was solved."""
        data = self._kernel_data
        if data is None:
            return super()._axis(x)
        from .conditional_fim_kernel import axis_path

        x = np.ascontiguousarray(np.atleast_1d(x), dtype=np.float64)
        c, s = self.frame
        om, e, _, _, exact, okh = axis_path(x, np.argsort(x, kind="stable"), self.AXIS_HEIGHT, c, s, *data,
                                            self.tol, 1e-13)
        for y in (1e-22, 1e-30):
            bad = np.flatnonzero(~exact)
            if bad.size == 0:
                break
            xb = x[bad]
            ob, eb, _, _, exb, okb = axis_path(xb, np.argsort(xb, kind="stable"), y, c, s, *data, self.tol, 1e-13)
            take = exb | (okb & ~okh[bad])
            om[bad[take]], e[bad[take]] = ob[take], eb[take]
            exact[bad[exb]] = True
            okh[bad[take]] = True
        u = np.concatenate([om, e[:, None]], axis=1)
        u[~okh] = np.nan
        return u, exact

    def _g(self, z, u):
        c, s = self.frame
        x = c + s * np.asarray(z, dtype=complex)
        with np.errstate(all="ignore"):        # NaN states (points not solved) stay NaN
            return s / (x * (1 - u[:, -1]))

    def _hull(self):
        """Rigorous: H_{l+1} >= q_l I and ||H_{l+1}|| <= q_l + sigma_w^2 max(D_l^2) ||H_l||."""
        top = self.shifts[0]
        for l in range(1, self.depth):
            top = self.shifts[l] + self.sigma_w2 * self.d2s[l - 1].support[1] * top
        c, s = self.frame
        # H >= q^_{L-1} I; the bound is moved down by 1e-9 of the hull so that the grid's first point
        # is not x = q^_{L-1} itself, where the chain is singular (omega_L q^_{L-1} = 1)
        lo, hi = (self.shifts[-1] - c) / s, (top - c) / s
        return lo - 1e-9 * (hi - lo), hi

    # -- atomic laws (depth 1, linear, Bernoulli D^2 at depth 2) ---------------------------------
    def _cauchy(self, z):
        if self._atomic:
            pts, w = self.atoms
            z = np.asarray(z, dtype=complex)
            return (w / (z.ravel()[:, None] - pts[None, :])).sum(axis=1).reshape(z.shape)
        return super()._cauchy(z)

    def _pdf(self, x):
        if self._atomic:
            return np.zeros(np.shape(x))
        return super()._pdf(x)

    @property
    def top_edge(self) -> float:
        r"""Largest point of the support (exact edge of the absolutely continuous part or the top atom):
        :math:`\lambda_{\max}(H)/N` in the limit; ``N * top_edge`` is :math:`\lambda_{\max}` of the
        conditional FIM."""
        return float(self.support[1])

    def compressed_moments(self, t: float, n: int) -> np.ndarray:
        r"""Moments :math:`m_1..m_n` of :math:`D_t(\nu_L^{\boxplus 1/t})`, the law of :math:`PHP^\top/N` for
        :math:`C = tN` outputs (module docstring): free cumulants :math:`t^{k-1}\kappa_k` of the exact
        moments, exact up to rounding."""
        from freeprob.combinatorics import free_cumulants_to_moments, moments_to_free_cumulants

        t = _check_fraction(t)
        m = np.asarray(self.moments(n), dtype=float)
        if t == 1.0:
            return m
        k = np.asarray(moments_to_free_cumulants(m), dtype=float)
        return np.asarray(free_cumulants_to_moments(k * t ** np.arange(len(k))), dtype=float)

    def compressed_top_edge(self, t: float) -> float:
        r""":math:`\lambda_{\max}(PHP^\top)/N` in the limit for :math:`C = tN` outputs: the top edge of
        :math:`D_t(\nu_L^{\boxplus 1/t})` (:func:`compressed_top_edge`); ``t = 1`` gives :attr:`top_edge`."""
        return compressed_top_edge(self, t)

    def __repr__(self):
        lab = f"{self.label}, " if self.label else ""
        return f"conditional_fim_law({lab}depth={self.depth})"


def _check_fraction(t) -> float:
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise ValueError(f"t must be a number in (0, 1], got {t!r}") from None
    if not 0.0 < t <= 1.0:
        raise ValueError(f"t must lie in (0, 1] (the trace C/N of the projection), got {t!r}")
    return t


def compressed_top_edge(law, t: float, *, rtol: float = 1e-10) -> float:
    r"""Top edge of the free compression :math:`D_t(\nu^{\boxplus 1/t})` of a law :math:`\nu` by a free
    projection of trace :math:`t` (Nica–Speicher): the largest eigenvalue, in the limit, of the
    :math:`tN\times tN` corner of an :math:`N\times N` matrix with eigenvalue law :math:`\nu` in Haar-random
    position.

    .. math:: e_t = \min_{w > b}\Big(w - \frac{1-t}{G_\nu(w)}\Big),\qquad b = \sup\operatorname{supp}\nu,

    a convex function of :math:`w` (module docstring), minimised by a bracketing grid in :math:`w - b`
    and Brent's method; :math:`e_t = b` when a top atom of mass :math:`\ge 1 - t` survives.  (The law
    ``free_power(law, 1/t).scale(t)`` is the same object, but the engine's edges and moments of a free
    power of a :class:`ConditionalFIMLaw` do not converge (ConvergenceError on the axis), hence this
    one-variable route.)  Needs only
    :math:`G_\nu` on the real axis above the support (evaluated just above it, at height
    :math:`10^{-8}` standard deviations, which moves :math:`\operatorname{Re} G` by
    :math:`O(10^{-16})` relative at the distances used).

    Parameters
    ----------
    law : freeprob.Law
    t : float
        Trace of the projection, :math:`0 < t \le 1` (:math:`C/N`).
    rtol : float
        Tolerance of the minimiser in :math:`w`, relative to the standard deviation of ``law``.

    Examples
    --------
    >>> import freeprob as fp
    >>> round(compressed_top_edge(fp.semicircle(var=4.0), 0.25), 10)   # semicircle of variance t * 4
    2.0
    """
    from scipy.optimize import minimize_scalar

    t = _check_fraction(t)
    b = float(law.support[1])
    if t == 1.0:
        return b
    p, w = law.atoms
    if len(p) and float(np.sum(w[np.isclose(p, b, rtol=1e-12, atol=0.0)])) >= 1.0 - t:
        return b
    m1, m2 = (float(v) for v in law.moments(2))
    sd = float(np.sqrt(max(m2 - m1 * m1, 0.0)))
    if not sd > 0:
        return b
    eps = 1e-8 * sd

    def phi(d):
        """w - (1 - t)/G(w) at w = b + d; NaN where the solver fails (next to the edge)."""
        d = np.atleast_1d(np.asarray(d, dtype=float))
        try:
            g = np.asarray(law.cauchy(b + d + 1j * eps)).real
        except (ArithmeticError, RuntimeError, ValueError):
            if d.size == 1:
                return np.array([np.nan])
            return np.concatenate([phi(di) for di in d])
        return b + d - (1.0 - t) / g

    hi = (4.0 / np.sqrt(t) + 4.0) * sd
    for _ in range(8):
        grid = sd * np.geomspace(1e-3, hi / sd, 48)
        vals = phi(grid)
        ok = np.isfinite(vals)
        if not np.any(ok):
            raise ConvergenceError(f"compressed_top_edge: G of {law!r} could not be evaluated above its top edge "
                                   f"{b:.6g}", point=b, residual=float("nan"))
        i = int(np.nanargmin(vals))
        if i < len(grid) - 1:
            break
        hi *= 4.0                      # phi still falling at the last point: widen the bracket
    else:
        raise ConvergenceError(f"compressed_top_edge: no minimum of w - (1 - t)/G(w) below w = b + {hi:.3g}",
                               point=b + hi, residual=float("nan"))
    first = int(np.flatnonzero(ok)[0])
    lo_d = grid[i - 1] if i > first else (1e-9 * sd if first == 0 else grid[first - 1])
    res = minimize_scalar(lambda d: float(phi(d)[0]) if np.isfinite(phi(d)[0]) else np.inf,
                          bounds=(lo_d, grid[i + 1]), method="bounded", options={"xatol": rtol * sd})
    return float(min(res.fun, vals[i]))


_GOE_TW_MEAN = -1.2065335745820      # mean of the Tracy-Widom law F_1 (beta = 1)


def _goe_top_mean(C: int) -> float:
    r""":math:`g_C = E\lambda_{\max}(G)` for a :math:`C\times C` GOE matrix :math:`G` (off-diagonal entries of
    variance 1, diagonal of variance 2): 0 at :math:`C = 1`, :math:`\sqrt{\pi/2}` at :math:`C = 2`; Monte Carlo
    (fixed seed, standard error below 2e-3) up to :math:`C = 200`, beyond it the Tracy-Widom asymptotics
    :math:`2\sqrt C + \mu_{TW_1}C^{-1/6}`."""
    if C == 1:
        return 0.0
    if C == 2:
        return float(np.sqrt(np.pi / 2))
    if C > 200:
        return float(2.0 * np.sqrt(C) + _GOE_TW_MEAN * C ** (-1.0 / 6.0))
    return float(_goe_top_sample(C, max(400, 1_000_000 // (C * C))).mean())


def _goe_top_sample(C: int, n: int, seed: int = 20261202) -> np.ndarray:
    """Largest eigenvalues of ``n`` independent C x C GOE matrices (off-diagonal variance 1)."""
    gen = np.random.default_rng(seed)
    tops = []
    for start in range(0, n, 2000):
        G = gen.standard_normal((min(2000, n - start), C, C))
        tops.append(np.linalg.eigvalsh((G + G.transpose(0, 2, 1)) / np.sqrt(2.0))[:, -1])
    return np.concatenate(tops)


def compressed_top_mean(law, n_outputs: int, width: int) -> float:
    r"""Expected top eigenvalue of the :math:`C\times C` corner :math:`PHP^\top/N` at finite :math:`N` and
    :math:`C`, to first order: the free compression's edge :math:`e_t` (:func:`compressed_top_edge`,
    :math:`t = C/N`) minus the finite-:math:`C` deficit of a :math:`C\times C` matrix below the edge of its
    limiting law,

    .. math:: E\lambda_{\max} \approx e_t - \sqrt{v/N}\,\big(2\sqrt C - g_C\big),

    :math:`v = \operatorname{var}\nu`, :math:`g_C = E\lambda_{\max}` of a :math:`C\times C` GOE (off-diagonal
    variance 1).  Why: for :math:`C \ll N` the corner is :math:`m_1 I + P(H/N - m_1)P^\top
    \approx m_1 I + \sqrt{v/N}\,G` (Haar rows, :math:`G` a GOE), whose top is :math:`m_1 + \sqrt{v/N}\,g_C`,
    while :math:`e_t = m_1 + 2\sqrt{tv} + O(t)`; the difference is a Tracy-Widom-type finite-:math:`C`
    effect, :math:`O(N^{-1/2})` at fixed :math:`C` (:math:`O(N^{-2/3})` at fixed :math:`t`, where
    :math:`2\sqrt C - g_C \to -\mu_{TW_1}C^{-1/6}`).  The limit :math:`N\to\infty` at fixed :math:`t` is
    :func:`compressed_top_edge`, which ``max_learning_rate(source="conditional")`` returns.

    >>> import freeprob as fp
    >>> e = compressed_top_mean(fp.semicircle(var=1.0), 2, 400)     # edge 2 sqrt(2/400), g_2 = sqrt(pi/2)
    >>> bool(abs(e - (2 * np.sqrt(2 / 400) - np.sqrt(1 / 400) * (2 * np.sqrt(2) - np.sqrt(np.pi / 2)))) < 1e-9)
    True
    """
    for nm, v in (("n_outputs", n_outputs), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{nm} must be an integer >= 1, got {v!r}")
    C, N = int(n_outputs), int(width)
    if C > N:
        raise ValueError(f"n_outputs must lie in [1, width] = [1, {N}], got {C}")
    e = compressed_top_edge(law, C / N)
    if C == N:
        return e
    m1, m2 = (float(v) for v in law.moments(2))
    var = max(m2 - m1 * m1, 0.0)
    return float(e - np.sqrt(var / N) * (2.0 * np.sqrt(C) - _goe_top_mean(C)))


def conditional_fim_law(act, sigma_w2: float | None = None, sigma_b2: float | None = None, depth: int | None = None,
                        weights: str | None = None, *,
                        q_input: float | None = None, input_ratio: float = 1.0) -> ConditionalFIMLaw:
    r"""Limiting law of the eigenvalues of :math:`H/N` (equivalently of :math:`I(\theta\mid x)/N`, nonzero part).

    Parameters
    ----------
    act : str or Activation
    sigma_w2, sigma_b2 : float
    depth : int
        Number of weight layers :math:`L \ge 1` of the :class:`MLP` (:math:`L-1` hidden layers).
    weights : {"orthogonal"}
        The recursion needs orthogonal weights (Hayase–Karakida); Gaussian weights raise.
    q_input : float, optional
        :math:`\hat q_0 = \|x\|^2/N` of the given input: the layers follow its own trajectory
        :math:`q^l = \sigma_w^2\hat q_{l-1} + \sigma_b^2`, :math:`\hat q_l = E\,\phi(\sqrt{q^l}z)^2`.
        Default: every layer at the fixed point :math:`q^*`.
    input_ratio : float
        :math:`d/N`, input dimension over width (default 1, the square network).  The input, of length
        :math:`\|x\|^2 = d\,\hat q_0` (``q_input`` is then :math:`\|x\|^2/d`), enters :math:`H/N` as the
        first shift :math:`(d/N)\hat q_0`; the layers' lengths are unchanged (module docstring).

    Returns
    -------
    ConditionalFIMLaw
        ``support[1]`` (= ``top_edge``) is the exact top of the spectrum, which grows linearly with depth
        under dynamical isometry; ``pdf`` (on the axis), ``intervals`` (exact edges), ``atoms`` (exact),
        ``moments`` (exact), ``cdf``.

    Examples
    --------
    >>> law = conditional_fim_law("linear", 1.0, 0.0, depth=3)   # H/N = q (1 + 1 + 1) I
    >>> law.atoms
    (array([3.]), array([1.]))

    ``act`` may be a :class:`~nn_spectra.Network` (linear readout, orthogonal weights); its ``depth``
    is the number of weight layers, as here.
    """
    from .network import as_network

    net = as_network(act, sigma_w2, sigma_b2, depth, weights=weights, default_weights="orthogonal",
                     caller="conditional_fim_law")
    net.require("conditional_fim_law", readout=("linear",))
    act, sigma_w2, sigma_b2, depth, weights = net.act, net.sigma_w2, net.sigma_b2, net.depth, net.weights
    from .jacobian import _check_depth, _psi_for, d2_law
    from .activations import activation
    from .mean_field import q_map, q_star

    sw = check_positive("sigma_w2", sigma_w2)
    sb = check_positive("sigma_b2", sigma_b2, strict=False)
    depth = _check_depth(depth)
    ratio = check_positive("input_ratio", input_ratio)
    if weights != "orthogonal":
        raise ValueError(f"weights must be 'orthogonal' (the Hayase-Karakida recursion needs Haar weights), got {weights!r}")
    a = activation(act)
    if q_input is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = float(q_star(a, sw, sb))
        if not np.isfinite(q):
            raise ValueError(f"no finite fixed point q* for {a.name} at sigma_w2={sw}, sigma_b2={sb}")
        qhat = (q - sb) / sw
        if qhat <= 0:
            raise ValueError(f"the fixed point has zero activations (q* = {q:.3g} = sigma_b2): the FIM given x vanishes")
        d2 = d2_law(a, q)
        psi = _psi_for(d2, a.dphi, q)
        return ConditionalFIMLaw([d2] * (depth - 1), [psi] * (depth - 1), sw, [qhat * ratio] + [qhat] * (depth - 1),
                                 label=a.name)
    q0 = check_positive("q_input", q_input)
    shifts, d2s, psis = [q0], [], []
    for _ in range(depth - 1):
        q = sw * shifts[-1] + sb                          # q^l, the pre-activation variance of layer l
        d2 = d2_law(a, q)
        d2s.append(d2)
        psis.append(_psi_for(d2, a.dphi, q))
        shifts.append((float(q_map(a, q, sw, sb)) - sb) / sw)   # q^_l = E phi(h^l)^2
        if not (np.isfinite(shifts[-1]) and shifts[-1] > 0):
            raise ValueError(f"the layer lengths of the input leave (0, inf) at layer {len(shifts) - 1}")
    shifts[0] *= ratio
    return ConditionalFIMLaw(d2s, psis, sw, shifts, label=a.name)


def sample_conditional_fim_spectrum(act, sigma_w2: float | None = None, sigma_b2: float | None = None,
                                    depth: int | None = None, width: int | None = None, rng=None, *,
                                    q_input: float | None = None, weights: str | None = None,
                                    n_outputs: int | None = None, input_dim: int | None = None,
                                    return_shifts: bool = False):
    r"""Eigenvalues of :math:`H/N` for one real orthogonal :class:`MLP` and one Gaussian input with
    :math:`\|x\|^2/d` = ``q_input`` (default: the fixed point's :math:`(q^* - \sigma_b^2)/\sigma_w^2`).

    The network has widths ``[d] + [N] * (L - 1) + [C]`` (``input_dim`` :math:`d` and ``n_outputs``
    :math:`C` default to :math:`N`); :math:`H = J_\theta J_\theta^\top` (weights only) is :math:`C\times C`,
    whose law for :math:`C < N` is the free compression by :math:`t = C/N`
    (:meth:`ConditionalFIMLaw.compressed_top_edge`) of ``conditional_fim_law(..., input_ratio=d/N)``.

    With ``return_shifts`` also the network's own layer lengths :math:`\|x^{l}\|^2/N`, :math:`l = 0..L-1`
    (the ``shifts`` of :class:`ConditionalFIMLaw`): the law is conditional on them, and in one finite
    network they fluctuate by :math:`O(N^{-1/2})` per layer (for relu at :math:`\sigma_w^2 = 2` the
    length map has no attracting fixed point, so the fluctuations accumulate over depth).
    """
    from .mean_field import q_star
    from .mlp import MLP
    from .network import _int, as_network

    # depth = L weight layers, hidden widths N (act may be a Network with equal hidden widths)
    desc = as_network(act, sigma_w2, sigma_b2, depth, weights=weights, default_weights="orthogonal",
                      caller="sample_conditional_fim_spectrum")
    desc.require("sample_conditional_fim_spectrum", readout=("linear",), weights=("orthogonal",))
    N = None
    if desc.widths is None:
        N = _int("width", width, 1)
        d = N if input_dim is None else _int("input_dim", input_dim, 1)
        C = N if n_outputs is None else _int("n_outputs", n_outputs, 1)
        desc = desc.replace(widths=(d,) + (N,) * (desc.depth - 1) + (C,))
    elif len(set(desc.widths[1:-1])) > 1:
        raise ValueError(f"sample_conditional_fim_spectrum needs equal hidden widths (square orthogonal layers), "
                         f"got widths={desc.widths}")
    act, sigma_w2, sigma_b2, depth = desc.act, desc.sigma_w2, desc.sigma_b2, desc.depth
    d, C = desc.widths[0], desc.widths[-1]
    width = N if N is not None else (desc.widths[1] if depth >= 2 else C)
    gen = np.random.default_rng(rng)
    net = MLP(desc, rng=gen)
    if q_input is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = float(q_star(act, sigma_w2, sigma_b2))
        q_input = (q - sigma_b2) / sigma_w2
    x = gen.standard_normal(d)
    x *= np.sqrt(q_input * d) / np.linalg.norm(x)
    deltas, xs = net.backward(x[None, :])
    H = sum(float(xl[0] @ xl[0]) * (dl[0] @ dl[0].T) for dl, xl in zip(deltas, xs))
    ev = np.linalg.eigvalsh(H) / width
    if return_shifts:
        return ev, np.array([float(xl[0] @ xl[0]) / width for xl in xs])
    return ev
