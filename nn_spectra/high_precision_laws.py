r"""The deep-network laws' fixed points in mp arithmetic, for :mod:`freeprob.high_precision`.

:func:`freeprob.high_precision.cauchy`, :func:`~freeprob.high_precision.pdf`,
:func:`~freeprob.high_precision.edges` and :func:`~freeprob.high_precision.atoms` take any
solver-backed law; this module registers the systems of :class:`~nn_spectra.JacobianLaw` and
:class:`~nn_spectra.ConditionalFIMLaw` there (freeprob does not import nn_spectra).  Each system has
the same unknowns as the law's float64 ``_residual``, so the float64 solution starts Newton's method.

The law of :math:`D^2 = \phi'(h)^2`, :math:`h\sim N(0, q)`, enters through
:math:`\psi_{D^2}(v) = E[vt/(1 - vt)]`, :math:`t = \phi'(h)^2`:

* piecewise-constant :math:`\phi'^2` (linear, relu, leaky_relu, hard_tanh) or any atomic law of
  :math:`D^2`: an exact finite sum; hard_tanh's mass :math:`P(|h| < 1) = \operatorname{erf}(1/\sqrt{2q})`
  is evaluated in mp;
* smooth activations with an mp derivative (tanh, erf, sigmoid, softplus): the Gaussian integral by
  ``mpmath.quad`` (tanh–sinh) at the working precision — each evaluation is a quadrature, so these
  laws cost seconds per point (measured in ``benchmarks/bench_high_precision.py``), not milliseconds.

The variance :math:`q` of a smooth law is the float64 :math:`q^*` stored in the law, taken as exact
(it is itself the root of a transcendental fixed point): the digits are those of the law at that
:math:`q`.  Other float parameters follow :func:`freeprob.high_precision.mp_param`.

>>> import mpmath as mp, nn_spectra as ns
>>> from freeprob import high_precision as hp
>>> e = hp.edges(ns.jacobian_law("relu", 2.0, 0.0, 4), dps=30)[-1]
>>> mp.nstr(e, 20)                    # (sigma_w^2/2)^K K^K/(K-1)^(K-1), K = 3 nonlinear layers
'6.75'
"""
from __future__ import annotations

from typing import Callable

import mpmath as mp
import numpy as np

from freeprob import high_precision as hp
from freeprob.high_precision import MPSystem, mp_param, per_dps

from .conditional_fim import ConditionalFIMLaw
from .jacobian import JacobianLaw

__all__ = ["psi_rule_mp", "MP_DERIVATIVES"]

#: :math:`\phi'` in mp arithmetic for the smooth activations whose D^2 law is evaluated by quadrature
MP_DERIVATIVES: dict[str, Callable] = {
    "tanh": lambda h: mp.sech(h) ** 2,
    "erf": lambda h: 2 / mp.sqrt(mp.pi) * mp.exp(-h * h),
    "sigmoid": lambda h: 1 / (2 + mp.exp(h) + mp.exp(-h)),
    "softplus": lambda h: 1 / (1 + mp.exp(-h)),
}


def _lg(w):
    """The float solver's logarithm: cut on the positive imaginary axis."""
    return mp.log(1j * w) - 0.5j * mp.pi


def psi_rule_mp(d2, snap: bool = True):
    r"""``(psi, dpsi)`` of the law of :math:`D^2` in mp arithmetic, plus its atoms: returns
    ``(psi, dpsi, atoms)`` with ``atoms() -> (points, masses)`` (empty for a smooth law).

    >>> import nn_spectra as ns
    >>> psi, dpsi, atoms = psi_rule_mp(ns.d2_law("relu", 1.0))
    >>> mp.nstr(psi(mp.mpf('0.5')), 10)         # (1/2) v/(1 - v) at v = 1/2
    '0.5'
    """
    from freeprob.law import Law

    kind, data = _d2_kind(d2, snap)
    if kind == "atoms":
        def psi(v):
            pts, wts = data()
            return mp.fsum(w * t * v / (1 - t * v) for t, w in zip(pts, wts) if t != 0)

        def dpsi(v):
            pts, wts = data()
            return mp.fsum(w * t / (1 - t * v) ** 2 for t, w in zip(pts, wts) if t != 0)
        return psi, dpsi, data
    dphi, q = data
    # t(s) = phi'(sqrt(q) s)^2 on a float grid, once: it locates the real s where t(s) = Re(1/v)
    grid = np.arange(-2000, 2001) / 100.0          # s in [-20, 20]: beyond, exp(-s^2/2) < 1e-86
    tgrid = np.array([float(dphi(mp.sqrt(mp.mpf(q)) * mp.mpf(g)) ** 2) for g in grid])

    def t_of(s):
        return dphi(mp.sqrt(mp.mpf(q)) * s) ** 2

    def near_poles(v):
        """Real s where t(s) = Re(1/v).  On the axis 1/v comes within Im(1/v) of the range of t and
        the integrand has a pole that close to the real line at each such s: tanh–sinh over
        [-inf, 0, inf] then loses digits (2e-6 relative at Im(1/v) = 3e-4, tanh at depth 100), while
        with the quadrature split there the pole sits at an end point, where tanh–sinh's nodes
        cluster."""
        if v == 0:
            return []
        c = float(mp.re(1 / v))
        out = []
        for k in np.flatnonzero((tgrid[:-1] - c) * (tgrid[1:] - c) < 0):
            a, b = mp.mpf(float(grid[k])), mp.mpf(float(grid[k + 1]))
            try:
                r = mp.findroot(lambda s: t_of(s) - mp.re(1 / v), (a, b), solver="illinois")
            except (ValueError, ZeroDivisionError):
                r = (a + b) / 2
            out.append(r if a <= r <= b else (a + b) / 2)
        return out

    def gauss(f, v):
        sq = mp.sqrt(mp.mpf(q))
        pts = sorted(set([mp.mpf(0)] + near_poles(v)))
        return mp.quad(lambda s: f(dphi(sq * s) ** 2) * mp.exp(-s * s / 2), [-mp.inf] + pts + [mp.inf]) \
            / mp.sqrt(2 * mp.pi)

    assert isinstance(d2, Law)
    return (lambda v: gauss(lambda t: v * t / (1 - v * t), v),
            lambda v: gauss(lambda t: t / (1 - v * t) ** 2, v),
            lambda: ([], []))


def _d2_kind(d2, snap):
    """("atoms", per-dps (points, masses)) or ("smooth", (mp phi', q))."""
    from freeprob.pushforward import PushforwardLaw

    from .activations import SquaredDerivative

    if isinstance(d2, PushforwardLaw) and isinstance(d2.fn, SquaredDerivative) and type(d2.base).__name__ == "Normal":
        name = d2.fn.act.name
        q = float(d2.base.var)
        if name == "relu":
            return "atoms", per_dps(lambda: ([mp.mpf(0), mp.mpf(1)], [mp.mpf(1) / 2, mp.mpf(1) / 2]))
        if name == "linear":
            return "atoms", per_dps(lambda: ([mp.mpf(1)], [mp.mpf(1)]))
        if name == "hard_tanh":
            def ht():
                p = mp.erf(1 / mp.sqrt(2 * mp.mpf(q)))
                return [mp.mpf(0), mp.mpf(1)], [1 - p, p]
            return "atoms", per_dps(ht)
        if name in MP_DERIVATIVES:
            return "smooth", (MP_DERIVATIVES[name], q)
    pts, wts = d2.atoms
    if len(pts) and abs(float(wts.sum()) - 1.0) < 1e-12:
        return "atoms", per_dps(lambda: ([mp_param(p, snap) for p in pts], [mp_param(w, snap) for w in wts]))
    raise ValueError(f"high precision needs the law of D^2 atomic (piecewise-constant phi'^2) or phi' of one of "
                     f"{sorted(MP_DERIVATIVES)}, got {d2!r}")


# ----------------------------------------------------------------------------- Jacobian law
def _jacobian_system(law: JacobianLaw, snap: bool) -> MPSystem:
    r"""State :math:`(\zeta, v_1..v_K)`: :math:`\log x + \log\chi_{JJ^\top}(\zeta) = 0` with the float
    solver's cut-free logarithms, :math:`\psi_{D^2}(v_k) = c_k\zeta`; :math:`G = (1+\zeta)/x`."""
    psi, dpsi, d2_atoms = psi_rule_mp(law.d2, snap)

    def consts_():
        w = [mp.mpf(x) for x in law.widths]
        nL = w[-1]
        s2 = mp_param(law.sigma_w2, snap)
        uniq = sorted(set(law.widths[1:]))
        c = [nL / mp.mpf(x) for x in uniq]
        m = [mp.mpf(law.widths[1:].count(x)) for x in uniq]
        co, a0, a1, const = [], [], [], mp.mpf(0)
        for (n_prev, n_cur), cnt in law._pairs:
            n_prev, n_cur = mp.mpf(n_prev), mp.mpf(n_cur)
            if law.weights == "gaussian":
                const += cnt * mp.log(n_prev / s2)
                co.append(-cnt), a0.append(n_cur), a1.append(nL)
            elif n_cur >= n_prev:
                const += cnt * mp.log(n_prev / (s2 * n_cur))
            else:
                co += [cnt, -cnt]
                a0 += [n_prev, n_cur]
                a1 += [nL, nL]
                const -= cnt * mp.log(s2)
        return c, m, w[0] / nL, co, a0, a1, const
    consts = per_dps(consts_)

    def residual(x, u):
        c, m, r, co, a0, a1, const = consts()
        zt, v = u[0], u[1:]
        f0 = mp.log(x) + const + mp.fsum(cj * _lg(aj + bj * zt) for cj, aj, bj in zip(co, a0, a1)) \
            + _lg(zt) - _lg(r + zt) + mp.fsum(mk * (_lg(vk) + _lg(1 + ck * zt) - _lg(ck * zt))
                                              for ck, mk, vk in zip(c, m, v))
        return [f0] + [psi(vk) - ck * zt for ck, vk in zip(c, v)]

    def jacobian(x, u):
        c, m, r, co, a0, a1, const = consts()
        zt, v = u[0], u[1:]
        K = len(v)
        J = mp.matrix(K + 1, K + 1)
        J[0, 0] = mp.fsum(mk * (ck / (1 + ck * zt) - 1 / zt) for ck, mk in zip(c, m)) \
            + mp.fsum(cj * bj / (aj + bj * zt) for cj, aj, bj in zip(co, a0, a1)) + 1 / zt - 1 / (r + zt)
        for k in range(K):
            J[0, 1 + k] = m[k] / v[k]
            J[1 + k, 0] = -c[k]
            J[1 + k, 1 + k] = dpsi(v[k])
        return J

    def atoms_():
        w = [mp.mpf(x) for x in law.widths]
        L = law.layers
        pts, mass = d2_atoms()
        p0 = mp.fsum(mk for p, mk in zip(pts, mass) if p == 0)
        rank = min(w[0], min(x * (1 - p0) for x in w[1:]))
        out_p, out_m = [], []
        zero = 1 - rank / w[-1]
        if zero > mp.mpf(10) ** (-mp.mp.dps + 5):
            out_p.append(mp.mpf(0))
            out_m.append(zero)
        if law.weights == "orthogonal":
            s2 = mp_param(law.sigma_w2, snap)
            gain = mp.fprod(s2 * max(mp.mpf(1), w[l] / w[l - 1]) for l in range(1, L + 1))
            for b, p in zip(pts, mass):
                if b == 0:
                    continue
                dim = w[0] - mp.fsum(max(w[l - 1] - w[l], 0) + w[l] * (1 - p) for l in range(1, L + 1))
                if dim > mp.mpf(10) ** (-mp.mp.dps + 5) * w[0]:
                    out_p.append(b ** L * gain)
                    out_m.append(dim / w[-1])
        return out_p, out_m

    return MPSystem(residual, lambda x, u: (1 + u[0]) / x, atoms_, jacobian=jacobian)


# ----------------------------------------------------------------------------- conditional Fisher law
def _fisher_system(law: ConditionalFIMLaw, snap: bool) -> MPSystem:
    r"""The chain of :mod:`nn_spectra.conditional_fim` (state :math:`\omega_2..\omega_{L-1}, E_L`):
    :math:`z_l = \sigma_w^2\omega_{l+1}/(1 - \hat q_l\omega_{l+1})`, :math:`E_1 = \eta_1(\hat q_0 z_1)`,
    :math:`E_l = 1 - (1 - \hat q_{l-1}\omega_l)(1 - E_{l-1})`, :math:`\omega_l = z_l h_l(z_lE_l/\omega_l)`,
    :math:`G = 1/(x(1 - E_L))`."""
    rules = [psi_rule_mp(d, snap) for d in law.d2s]

    def eta(level, w):
        p = rules[level - 1][0](w)
        return p / (1 + p)

    consts = per_dps(lambda: (mp_param(law.sigma_w2, snap), [mp_param(q, snap) for q in law.shifts]))

    def residual(x, u):
        s2, q = consts()
        K = len(u) - 1
        om, e = list(u[:K]), u[K]
        top = 1 / x
        up = om + [top]
        z = [s2 * w / (1 - a * w) for w, a in zip(up, q[1:])]
        E_prev = eta(1, q[0] * z[0])
        E = []
        for i in range(K):
            E_prev = 1 - (1 - q[i + 1] * om[i]) * (1 - E_prev)
            E.append(E_prev)
        E_top = 1 - (1 - q[-1] * top) * (1 - E_prev)
        out = []
        for i in range(K):
            ui = z[i + 1] * E[i] / om[i]
            out.append((om[i] - z[i + 1] * eta(i + 2, ui) / ui) / om[i])
        return out + [e - E_top]

    def atoms_():
        s2, q = consts()
        pts, mass = [q[0]], [mp.mpf(1)]
        for l in range(1, law.depth):
            ap, am = rules[l - 1][2]()
            zero = max([mp.fsum(m for p, m in zip(ap, am) if p == 0), mp.fsum(m for p, m in zip(pts, mass) if p == 0)])
            npts, nmass = ([mp.mpf(0)], [zero]) if zero > 0 else ([], [])
            for a, ma in zip(ap, am):
                for b, mb in zip(pts, mass):
                    if a != 0 and b != 0 and ma + mb > 1 + mp.mpf(10) ** (-mp.mp.dps + 5):
                        npts.append(a * b)
                        nmass.append(ma + mb - 1)
            pts, mass = [q[l] + s2 * p for p in npts], nmass
        return pts, mass

    return MPSystem(residual, lambda x, u: 1 / (x * (1 - u[-1])), atoms_)


hp.register_mp_system(JacobianLaw, _jacobian_system)
hp.register_mp_system(ConditionalFIMLaw, _fisher_system)
