r"""Evaluation to 30–50 digits: Newton's method in mpmath on the fixed-point systems, started from float64.

Every solver-backed law is a fixed point :math:`F(u; z) = 0` in a few unknowns u (subordination
points, the root G of an algebraic equation, the ζ and v of an S-transform product, a chain of
them for the deep-network recursions).  Once float64 has located the right solution, Newton's
method in multiprecision arithmetic doubles the number of correct digits per step, so 50 digits
cost a handful of iterations.  This module is a set of small pure functions around two generic
solvers, so that any fixed-point system (and the solver engine of :mod:`freeprob`) can use them:

* :func:`newton` — solve :math:`F(u) = 0` from a start ``u0``;
* :func:`fold` — a support edge: solve :math:`F(u; x) = 0` together with
  :math:`\det \partial_u F(u; x) = 0` for real u and x (the augmented system; at an edge the
  fixed point stops depending smoothly on x).

Jacobians are finite differences taken at twice the working precision (step :math:`10^{-\mathrm{dps}}`),
so the residual functions need only be written once.  Closed-form Cauchy transforms in mp
(:func:`mp_cauchy`) feed the ⊞/⊠ subordination systems; :func:`algebraic_cauchy` polishes a root of
:math:`P(G, z)`; :func:`s_product_cauchy` and :func:`fisher_chain_cauchy` evaluate the deep-network
laws from their recursions (independently of the polynomial method).

Conventions: :math:`G(z) = \int d\mu(t)/(z-t)`, :math:`\psi(u) = \int tu/(1-tu)\,d\mu(t)`,
:math:`\zeta = zG(z) - 1 = \psi(1/z)`, S-transform :math:`S(\zeta) = \chi(\zeta)(1+\zeta)/\zeta`.
"""
from __future__ import annotations

from typing import Callable

import mpmath as mp
import numpy as np

__all__ = [
    "HighPrecisionError", "newton", "fold", "mp_cauchy",
    "boxplus_system", "boxplus_cauchy", "boxplus_edge", "boxtimes_cauchy", "free_power_cauchy",
    "algebraic_cauchy", "algebraic_edge", "algebraic_candidates", "track_algebraic_cauchy",
    "algebraic_support_edges", "atom_mass", "density", "fuss_catalan_edge",
    "s_product_system", "s_product_cauchy", "s_product_edge",
    "fisher_chain_system", "fisher_chain_cauchy", "fisher_chain_edge",
    "MPSystem", "register_mp_system", "mp_system", "mp_param", "per_dps", "cauchy", "pdf", "edges", "edge", "atoms",
]


class HighPrecisionError(ValueError):
    """Newton's method in mp arithmetic did not converge (message: the point and the residual)."""


def _check_dps(dps) -> int:
    if isinstance(dps, bool) or not isinstance(dps, (int, np.integer)) or not 15 <= dps <= 1000:
        raise ValueError(f"dps must be an integer in [15, 1000], got {dps!r}")
    return int(dps)


def _mpc_list(u) -> list:
    return [mp.mpmathify(complex(x)) if isinstance(x, (complex, np.complexfloating)) else mp.mpmathify(x)
            for x in (u if isinstance(u, (list, tuple, np.ndarray)) else [u])]


def _fd_jacobian(F, u, h):
    """Forward-difference Jacobian (the caller raises the precision so that h is tiny)."""
    f0 = F(u)
    n, m = len(f0), len(u)
    J = mp.matrix(n, m)
    for j in range(m):
        uj = list(u)
        uj[j] = uj[j] + h
        fj = F(uj)
        for i in range(n):
            J[i, j] = (fj[i] - f0[i]) / h
    return f0, J


def newton(residual: Callable[[list], list], u0, *, dps: int = 50, tol: float | None = None,
           maxiter: int = 60, jacobian: Callable | None = None, real: bool = False,
           history: list | None = None) -> list:
    r"""Solve :math:`F(u) = 0` by Newton's method in mpmath, from ``u0`` (float64 start is enough).

    Parameters
    ----------
    residual : callable
        ``residual(u) -> list`` of mp numbers, ``u`` a list of mp numbers (square system).
    u0 : sequence of numbers
        Starting point.
    dps : int
        Working precision in decimal digits (the result is correct to about ``dps - 5`` digits
        for a well-conditioned root).
    tol : float, optional
        Stop when every step is below ``tol`` times ``1 + |u|`` (default :math:`10^{-(dps-3)}`).
    jacobian : callable, optional
        ``jacobian(u) -> mp.matrix``; finite differences at ``2 dps`` otherwise.
    real : bool
        Keep the unknowns real (use for edges and real points off the support).
    history : list, optional
        If given, the relative size of every Newton step is appended to it (quadratic convergence:
        each step about the square of the previous one).

    Returns
    -------
    list of mp numbers

    Raises
    ------
    HighPrecisionError
        No convergence in ``maxiter`` steps (with the last residual).

    Examples
    --------
    >>> import mpmath as mp
    >>> r = newton(lambda u: [u[0] ** 2 - 2], [1.4], dps=30, real=True)
    >>> mp.nstr(r[0], 25)
    '1.414213562373095048801689'
    """
    dps = _check_dps(dps)
    with mp.workdps(dps):
        tol_ = mp.mpf(10) ** (-(dps - 3)) if tol is None else mp.mpf(tol)
        u = _mpc_list(u0)
        if real:
            u = [mp.re(x) for x in u]
        last = None
        for _ in range(maxiter):
            with mp.workdps(2 * dps + 10):
                try:
                    if jacobian is None:
                        f0, J = _fd_jacobian(residual, u, mp.mpf(10) ** (-dps - 5) * (1 + max(abs(x) for x in u)))
                    else:
                        f0, J = residual(u), jacobian(u)
                    step = mp.lu_solve(J, mp.matrix(f0))
                except (ZeroDivisionError, TypeError, ValueError) as exc:
                    # a pole of the residual or a singular Jacobian: this start does not lead to a root
                    raise HighPrecisionError(f"newton: singular system at u = {[mp.nstr(x, 12) for x in u]} "
                                             f"({type(exc).__name__})") from None
                u = [x - step[i] for i, x in enumerate(u)]
                if real:
                    u = [mp.re(x) for x in u]
            size = max(abs(step[i]) / (1 + abs(u[i])) for i in range(len(u)))
            last = max(abs(x) for x in f0)
            if history is not None:
                history.append(+size)
            if size < tol_:
                return [+x for x in u]
        raise HighPrecisionError(f"newton: no convergence in {maxiter} steps at u = {[mp.nstr(x, 12) for x in u]} "
                                 f"(residual {mp.nstr(last, 5)})")


def fold(residual: Callable[[list, object], list], u0, x0, *, dps: int = 50, maxiter: int = 60,
         real: bool = True, jacobian: Callable | None = None) -> tuple[list, object]:
    r"""A support edge: real :math:`(u, x)` with :math:`F(u; x) = 0` and :math:`\det\partial_uF(u; x) = 0`.

    At an edge the real fixed point :math:`u(x)` (outside the support) meets another real branch and
    :math:`\partial_u F` becomes singular; the augmented system is regular there (a simple fold),
    so Newton converges quadratically from a float64 point near the edge.

    Parameters
    ----------
    residual : callable
        ``residual(u, x) -> list`` (n equations in the n unknowns u; x real).
    u0, x0 :
        Float start: x0 near the edge, u0 the fixed point at x0 (taken real).

    real : bool
        Real unknowns (default).  With ``real=False`` u and x are complex (a state whose real
        branch has complex components, e.g. a logarithm of a negative number); x comes out real
        to working precision at a genuine fold, which the caller checks.
    jacobian : callable, optional
        ``jacobian(u, x) -> mp.matrix`` of :math:`\partial_u F`: the determinant is then exact at
        working precision, instead of finite differences at four times the precision.

    Returns
    -------
    (u, x) : list of mp numbers, mp number

    Examples
    --------
    Upper edge of the standard semicircle, :math:`G^2 - xG + 1 = 0` singular at :math:`x = 2`:

    >>> u, x = fold(lambda u, x: [u[0] ** 2 - x * u[0] + 1], [0.9], 2.01, dps=30)
    >>> mp.nstr(x, 20)
    '2.0'
    """
    dps = _check_dps(dps)
    n = len(_mpc_list(u0))
    # the determinant must be accurate to ~2 dps digits, or the outer finite differences (step
    # 10^-dps) of the augmented system are noise: inner step 10^-(2 dps) at 4 dps digits
    inner = 4 * dps + 10

    def aug(y):
        uu, xx = y[:n], y[n]
        if jacobian is not None:
            return list(residual(uu, xx)) + [mp.det(jacobian(uu, xx))]
        with mp.workdps(inner):
            h = mp.mpf(10) ** (-2 * dps - 10) * (1 + max(abs(t) for t in uu))
            f0, J = _fd_jacobian(lambda w: residual(w, xx), uu, h)
            return list(f0) + [mp.det(J)]

    y = newton(aug, list(_mpc_list(u0)) + [mp.mpmathify(x0)], dps=dps, maxiter=maxiter, real=real)
    return y[:n], y[n]


# ----------------------------------------------------------------------------- closed-form Cauchy transforms
def _sqrt2(z, a, b):
    """sqrt(z - a) sqrt(z - b) with principal roots: analytic off [a, b], ~ z at infinity."""
    return mp.sqrt(z - a) * mp.sqrt(z - b)


def mp_cauchy(law) -> Callable:
    r"""The Cauchy transform of a closed-form :class:`freeprob.Law` as an mp function ``G(z)``.

    Semicircle :math:`(z - m - \sqrt{z-m-r}\sqrt{z-m+r})/(2\sigma^2)`; free Poisson (MP)
    :math:`(z + \alpha(1-\lambda) - \sqrt{z-a}\sqrt{z-b})/(2\alpha z)`; arcsine
    :math:`1/(\sqrt{z-a}\sqrt{z-b})`; uniform :math:`\log\frac{z-a}{z-b}/(b-a)`; atoms (Bernoulli)
    :math:`\sum_i w_i/(z-p_i)`.  Parameters are read as the decimals they print as.

    >>> import freeprob as fp
    >>> G = mp_cauchy(fp.semicircle())
    >>> mp.nstr(G(mp.mpc(0, 1)), 15)
    '(0.0 - 0.618033988749895j)'
    """
    cls = type(law).__name__

    def num(x):
        return mp.mpf(repr(float(x)))

    if cls == "Semicircle":
        v, m = law._var, law._mean
        return lambda z: (z - num(m) - _sqrt2(z, num(m) - 2 * mp.sqrt(num(v)), num(m) + 2 * mp.sqrt(num(v)))) / (2 * num(v))
    if cls == "FreePoisson":
        lam, al = law._lam, law._alpha

        def g(z):
            L, A = num(lam), num(al)
            a, b = A * (1 - mp.sqrt(L)) ** 2, A * (1 + mp.sqrt(L)) ** 2
            return (z + A * (1 - L) - _sqrt2(z, a, b)) / (2 * A * z)
        return g
    if cls == "Arcsine":
        lo, hi = law._lo, law._hi
        return lambda z: 1 / _sqrt2(z, num(lo), num(hi))
    if cls == "Uniform":
        lo, hi = law._lo, law._hi
        return lambda z: mp.log((z - num(lo)) / (z - num(hi))) / (num(hi) - num(lo))
    if cls == "Normal":
        m, v = law._m, law._v

        def gn(z):
            # G = -i sqrt(pi/2)/sigma w(zeta), w(zeta) = exp(-zeta^2) erfc(-i zeta) (Faddeeva), Im z > 0
            if mp.im(z) < 0:
                return mp.conj(gn(mp.conj(z)))
            sd = mp.sqrt(num(v))
            zeta = (z - num(m)) / (sd * mp.sqrt(2))
            return -1j * mp.sqrt(mp.pi / 2) / sd * mp.exp(-zeta ** 2) * mp.erfc(-1j * zeta)
        return gn
    if cls in ("Atoms", "Bernoulli"):
        pts, wts = law.atoms
        P = [num(p) for p in pts]
        W = [num(w) for w in wts]
        return lambda z: mp.fsum(w / (z - p) for p, w in zip(P, W))
    raise ValueError(f"law must be a closed-form law (semicircle, free_poisson/marchenko_pastur, arcsine, uniform, "
                     f"atoms/bernoulli), got {law!r}; pass an mp Cauchy transform yourself")


def _gfun(g):
    return mp_cauchy(g) if not callable(g) or hasattr(g, "cauchy") else g


# ----------------------------------------------------------------------------- ⊞ and ⊠ subordination
def boxplus_system(g1: Callable, g2: Callable) -> Callable:
    r"""Residual of additive subordination in :math:`(\omega_1, \omega_2)` at z:
    :math:`G_1(\omega_1) - G_2(\omega_2) = 0`, :math:`\omega_1 + \omega_2 - z - 1/G_1(\omega_1) = 0`."""
    def residual(u, z):
        a, b = g1(u[0]), g2(u[1])
        return [a - b, u[0] + u[1] - z - 1 / a]
    return residual


def boxplus_cauchy(mu, nu, z, start=None, *, dps: int = 50):
    r""":math:`G_{\mu\boxplus\nu}(z) = G_\mu(\omega_1(z))` to ``dps`` digits.

    ``mu``, ``nu``: closed-form laws (or mp Cauchy functions with ``start`` given); ``start`` the
    float64 subordination pair, by default from :func:`freeprob.boxplus` (at ``z + 1e-14 i`` for real z).
    """
    g1, g2 = _gfun(mu), _gfun(nu)
    if start is None:
        from .convolution import boxplus as _bp

        zz = complex(z) + (1e-14j if complex(z).imag <= 0 else 0)
        w1, w2 = _bp(mu, nu).subordination(zz)
        start = [complex(w1[0]), complex(w2[0])]
        if complex(z).imag == 0:
            start = [s.real for s in start]
    with mp.workdps(dps):
        zz = mp.mpmathify(z)
    u = newton(lambda u: boxplus_system(g1, g2)(u, zz), start, dps=dps, real=(mp.im(zz) == 0))
    with mp.workdps(dps):
        return +g1(u[0])


def boxplus_edge(mu, nu, x0: float, *, dps: int = 50):
    r"""A support edge of :math:`\mu\boxplus\nu` near ``x0`` (float64 estimate, e.g. from ``.support``).

    The subordination pair at a real point just outside is the start; :func:`fold` does the rest.
    """
    from .convolution import boxplus as _bp

    law = _bp(mu, nu)
    lo, hi = law.support
    out = 1e-7 * max(1.0, hi - lo) * (1 if x0 >= 0.5 * (lo + hi) else -1)
    w1, w2 = law.subordination(x0 + out + 1e-14j)
    _, x = fold(boxplus_system(_gfun(mu), _gfun(nu)), [complex(w1[0]).real, complex(w2[0]).real], x0 + out, dps=dps)
    return x


def _psi(g):
    return lambda u: g(1 / u) / u - 1


def boxtimes_cauchy(mu, nu, z, start, *, dps: int = 50):
    r""":math:`G_{\mu\boxtimes\nu}(z)` (laws on :math:`[0,\infty)`) from the S-transform product.

    Unknowns :math:`(\zeta, v, w)`: :math:`\psi_\mu(v) = \zeta`, :math:`\psi_\nu(w) = \zeta`,
    :math:`zvw(1+\zeta) = \zeta` (i.e. :math:`\chi_\mu\chi_\nu(1+\zeta)/\zeta = 1/z`); then
    :math:`G = (1+\zeta)/z`.  ``start = (zeta, v, w)`` in float64.
    """
    p1, p2 = _psi(_gfun(mu)), _psi(_gfun(nu))
    with mp.workdps(dps):
        zz = mp.mpmathify(z)

    def residual(u):
        zt, v, w = u
        return [p1(v) - zt, p2(w) - zt, zz * v * w * (1 + zt) - zt]

    u = newton(residual, start, dps=dps, real=(mp.im(zz) == 0))
    with mp.workdps(dps):
        return (1 + u[0]) / zz


def free_power_cauchy(mu, t, z, start, *, dps: int = 50):
    r""":math:`G_{\mu^{\boxplus t}}(z) = G_\mu(\omega)` with :math:`z = t\omega - (t-1)/G_\mu(\omega)` (t ≥ 1)."""
    g = _gfun(mu)
    with mp.workdps(dps):
        zz, tt = mp.mpmathify(z), mp.mpf(repr(float(t)))
    u = newton(lambda u: [tt * u[0] - (tt - 1) / g(u[0]) - zz], [start], dps=dps, real=(mp.im(zz) == 0))
    with mp.workdps(dps):
        return +g(u[0])


# ----------------------------------------------------------------------------- algebraic laws
def _poly_fns(P):
    """(P(G, z), dP/dG) as mp functions from a SymPy polynomial in freeprob.symbolic's G and z."""
    import sympy as sp

    from .symbolic import G as _G, z as _z

    expr = P.polynomial if hasattr(P, "polynomial") else sp.sympify(P)
    poly = sp.Poly(expr, _G, _z)
    terms = [(int(a), int(b), mp.mpmathify(str(sp.Rational(c))) if sp.sympify(c).is_Rational else None, c)
             for (a, b), c in poly.terms()]

    def coeffs():
        return [(a, b, cm if cm is not None else mp.mpmathify(str(sp.N(c, mp.mp.dps + 10)))) for a, b, cm, c in terms]

    def P_(g, z):
        return mp.fsum(c * g ** a * z ** b for a, b, c in coeffs())

    def dP(g, z):
        return mp.fsum(a * c * g ** (a - 1) * z ** b for a, b, c in coeffs() if a)

    return P_, dP


def algebraic_cauchy(P, z, g0, *, dps: int = 50):
    r"""Polish the root :math:`G` of :math:`P(G, z) = 0` near ``g0`` (float64 Cauchy transform at z).

    ``P``: an :class:`freeprob.symbolic.AlgebraicLaw` or a SymPy polynomial in its ``G`` and ``z``.

    >>> from freeprob.symbolic import G, z
    >>> mp.nstr(algebraic_cauchy(G**2 - z*G + 1, 1j, -0.618j, dps=30), 20)
    '(0.0 - 0.6180339887498948482j)'
    """
    Pf, dP = _poly_fns(P)
    with mp.workdps(dps):
        zz = mp.mpmathify(z)
    u = newton(lambda u: [Pf(u[0], zz)], [g0], dps=dps,
               jacobian=lambda u: mp.matrix([[dP(u[0], zz)]]), real=(mp.im(zz) == 0 and complex(g0).imag == 0))
    return u[0]


def algebraic_edge(P, x0: float, g0: float, *, dps: int = 50):
    r"""Support edge of an algebraic law: real :math:`(G, x)` with :math:`P = \partial_G P = 0`, from
    float64 ``(g0, x0)`` (G is real at an edge)."""
    Pf, dP = _poly_fns(P)
    u = newton(lambda u: [Pf(u[0], u[1]), dP(u[0], u[1])], [g0, x0], dps=dps, real=True)
    return u[1]


def algebraic_candidates(law) -> list:
    """Exact real points where the density may switch: real roots of the discriminant of P in G and of
    its leading coefficient."""
    import sympy as sp

    from .symbolic import G, z

    p = sp.Poly(law.polynomial, G)
    pts = set()
    for q in (sp.Poly(p.LC(), z), sp.Poly(sp.discriminant(p.as_expr(), G), z) if p.degree() >= 2 else None):
        if q is not None and q.degree() >= 1:
            for f, _ in sp.factor_list(q.as_expr(), z)[1]:
                pts.update(sp.Poly(f, z).real_roots())
    return sorted(pts, key=lambda r: float(sp.N(r, 30)))


def track_algebraic_cauchy(law, xs, height: float) -> np.ndarray:
    """The Cauchy branch at xs + i*height, followed from far above the axis (the root of P(., z) nearest
    the previous one at each step, started from the moment series).  Float64, for classification only."""
    import sympy as sp

    from .symbolic import G, z

    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    p = sp.Poly(law.polynomial, G, z)
    deg = p.degree(G)
    coeffs = [np.array([float(c) for c in sp.Poly(p.as_expr().coeff(G, j), z).all_coeffs()]) for j in range(deg, -1, -1)]
    mom = [1.0] + [float(m) for m in law.moments(4)]
    top = 10.0 * (1.0 + np.max(np.abs(xs)) + abs(mom[1]) + np.sqrt(abs(mom[2])))
    out = np.empty(len(xs), dtype=complex)
    for i, x0 in enumerate(xs):
        g = None
        for y in np.geomspace(top, height, 120):
            zz = x0 + 1j * y
            roots = np.roots([np.polyval(c, zz) for c in coeffs])
            if g is None:
                g = sum(m / zz ** (k + 1) for k, m in enumerate(mom))
            g = roots[np.argmin(np.abs(roots - g))]
        out[i] = g
    return out


def algebraic_support_edges(law) -> list:
    """Exact support edges of an algebraic law with numeric parameters: the endpoints of the maximal runs
    of candidate intervals (between consecutive :func:`algebraic_candidates`) on which the density is
    positive, tested at the midpoints with :func:`track_algebraic_cauchy` at two heights."""
    import sympy as sp

    cands = algebraic_candidates(law)
    if len(cands) < 2:
        return []
    vals = np.array([float(sp.N(c, 30)) for c in cands])
    scale = max(1.0, float(np.max(np.abs(vals))))
    mids = 0.5 * (vals[1:] + vals[:-1])
    # in a gap Im G(x + i eta) is O(eta) (Poisson smoothing), on the support it tends to -pi rho(x):
    # compare two heights three decades apart
    hi = -track_algebraic_cauchy(law, mids, 1e-8 * scale).imag
    lo = -track_algebraic_cauchy(law, mids, 1e-11 * scale).imag
    pos = (lo > 0.1 * hi) & (lo > 1e-9 * max(1.0, float(np.max(lo))))
    edges = []
    for i, on in enumerate(pos):
        if on and (i == 0 or not pos[i - 1]):
            edges.append(cands[i])
        if on and (i == len(pos) - 1 or not pos[i + 1]):
            edges.append(cands[i + 1])
    return [sp.nsimplify(e) if isinstance(e, sp.CRootOf) and sp.Poly(e.expr, e.poly.gen).degree() <= 2 else e
            for e in edges]


def fuss_catalan_edge(s: int, *, dps: int = 50):
    r"""Upper edge of the Fuss–Catalan law of order s from :math:`z^sG^{s+1} - zG + 1 = 0` (closed form
    :math:`(s+1)^{s+1}/s^s`, used as an independent check), started from float64 values."""
    from .symbolic import G as _G, z as _z

    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
        raise ValueError(f"s must be an integer >= 1, got {s!r}")
    x0 = (s + 1) ** (s + 1) / s ** s
    g0 = (s + 1) / (s * x0)  # G at the edge: zG = (s+1)/s
    return algebraic_edge(_z ** s * _G ** (s + 1) - _z * _G + 1, x0 * (1 + 1e-9), g0, dps=dps)


def density(cauchy_at_axis: Callable, x, *, dps: int = 50):
    r""":math:`\rho(x) = -\operatorname{Im} G(x + i0)/\pi` from an mp function returning G on the axis."""
    with mp.workdps(dps):
        return -mp.im(cauchy_at_axis(mp.mpf(x))) / mp.pi


def atom_mass(P, a, *, dps: int = 50, w0: float | None = None):
    r"""Mass of an atom at ``a`` of an algebraic law: the residue :math:`W = \lim (z-a)G(z)` as the root
    near ``w0`` of the lowest-order part of :math:`e^dP(W/e, a + e)` in :math:`e = z - a`."""
    import sympy as sp

    from .symbolic import G as _G, z as _z

    expr = P.polynomial if hasattr(P, "polynomial") else sp.sympify(P)
    if not isinstance(a, sp.Basic):
        # snap a float position to the exact pole: the nearest real root of the leading coefficient in G
        lc = sp.Poly(sp.Poly(expr, _G).LC(), _z)
        cands = lc.real_roots() if lc.degree() >= 1 else []
        if not cands:
            raise HighPrecisionError(f"atom_mass: the leading coefficient of P in G has no real root near {a}")
        a = min(cands, key=lambda r: abs(float(r) - float(a)))
    W, e = sp.symbols("W_ e_")
    num = sp.expand(sp.numer(sp.together(expr.subs({_G: W / e, _z: a + e}, simultaneous=True))))
    pe = sp.Poly(num, e)
    low = min(m[0] for m in pe.monoms())
    lowest = sp.Poly(sp.expand(sum(c * e ** k for (k,), c in pe.terms() if k == low) / e ** low), W)
    coeffs = [mp.mpmathify(str(sp.N(c, dps + 10))) for c in lowest.all_coeffs()]
    with mp.workdps(dps + 10):
        roots = mp.polyroots(coeffs, maxsteps=200, extraprec=4 * dps)
    real = [mp.re(r) for r in roots if abs(mp.im(r)) < mp.mpf(10) ** (-dps // 2) and 0 < mp.re(r) <= 1 + 1e-30]
    if not real:
        raise HighPrecisionError(f"atom_mass: no residue in (0, 1] at {a}")
    with mp.workdps(dps):
        return +min(real, key=lambda r: abs(r - (w0 if w0 is not None else r)))


# ----------------------------------------------------------------------------- deep-network laws
def _psi_atoms(points, weights):
    P = [mp.mpmathify(p) for p in points]
    W = [mp.mpmathify(w) for w in weights]
    return lambda v: mp.fsum(w * t * v / (1 - t * v) for t, w in zip(P, W) if t != 0)


def _as_mp(x):
    return mp.mpmathify(repr(float(x))) if isinstance(x, (float, np.floating)) else mp.mpmathify(x)


def s_product_system(points, weights, sigma_w2, depth: int, weights_kind: str = "orthogonal") -> Callable:
    r"""Residual of the Jacobian law (equal widths) in :math:`(\zeta, v)` at z:
    :math:`\psi_\mu(v) - \zeta` and :math:`z v^L (1+\zeta)^{L-1} - \sigma_w^{2L}\zeta^{L-1}` (orthogonal) or
    :math:`z v^L - \sigma_w^{2L}\zeta^{L-1}(1+\zeta)` (Gaussian); μ the atomic law of :math:`D^2`."""
    psi = _psi_atoms(points, weights)
    L = int(depth)
    gauss = weights_kind == "gaussian"

    def residual(u, z):
        zt, v = u
        s = _as_mp(sigma_w2) ** L
        r2 = (z * v ** L - s * zt ** (L - 1) * (1 + zt)) if gauss else \
            (z * v ** L * (1 + zt) ** (L - 1) - s * zt ** (L - 1))
        return [psi(v) - zt, r2]
    return residual


def _v_start(points, weights, zeta0):
    """Roots v of psi_mu(v) = zeta0 (float), as candidates."""
    import numpy.polynomial.polynomial as P

    nz = [(float(t), float(w)) for t, w in zip(points, weights) if float(t) != 0]
    den_all = np.array([1.0 + 0j])
    for t, _ in nz:
        den_all = P.polymul(den_all, [1.0, -t])
    total = P.polymul([-complex(zeta0)], den_all)
    for i, (t, w) in enumerate(nz):
        part = np.array([0.0, w * t], dtype=complex)
        for j, (s, _) in enumerate(nz):
            if j != i:
                part = P.polymul(part, [1.0, -s])
        total = P.polyadd(total, part)
    return P.polyroots(total)


def s_product_cauchy(points, weights, sigma_w2, depth: int, z, g0, *, weights_kind: str = "orthogonal",
                     dps: int = 50):
    r"""Cauchy transform of the Jacobian law (:func:`s_product_system`) at z from float64 ``g0 = G(z)``.

    The start is :math:`\zeta_0 = zg_0 - 1` and the root v of :math:`\psi_\mu(v) = \zeta_0` that best
    satisfies the second equation.
    """
    res = s_product_system(points, weights, sigma_w2, depth, weights_kind)
    zeta0 = complex(z) * complex(g0) - 1
    cands = _v_start(points, weights, zeta0)
    with mp.workdps(30):
        zz = mp.mpmathify(z)
        best = min(cands, key=lambda v: abs(res([mp.mpc(zeta0), mp.mpc(v)], zz)[1]))
    real = complex(z).imag == 0
    u = newton(lambda u: res(u, zz), [zeta0, complex(best)], dps=dps, real=real)
    with mp.workdps(dps):
        return (1 + u[0]) / mp.mpmathify(z)


def s_product_edge(points, weights, sigma_w2, depth: int, x0: float, g0: float, *, weights_kind: str = "orthogonal",
                   dps: int = 50):
    """Support edge of the Jacobian law near ``x0`` from float64 ``g0 = G(x0)`` (x0 just outside)."""
    res = s_product_system(points, weights, sigma_w2, depth, weights_kind)
    zeta0 = x0 * g0 - 1
    cands = [v.real for v in _v_start(points, weights, zeta0) if abs(v.imag) < 1e-8]
    best = min(cands, key=lambda v: abs(complex(res([mp.mpf(zeta0), mp.mpf(v)], mp.mpf(x0))[1])))
    _, x = fold(res, [zeta0, best], x0, dps=dps)
    return x


def fisher_chain_system(points, weights, sigma_w2, qhat, depth: int) -> Callable:
    r"""Residual of the conditional Fisher recursion :math:`\nu_1 = \delta_{\hat q}`,
    :math:`\nu_{l+1} = \mathrm{shift}_{\hat q}(\sigma_w^2(\mu\boxtimes\nu_l))`, as one system.

    Unknowns :math:`(\zeta_L, v_L, \dots, \zeta_2, v_2)`; from the top, :math:`y_L = z`,
    :math:`t_l = (y_l - \hat q)/\sigma_w^2`, :math:`y_{l-1} = t_l v_l (1+\zeta_l)/\zeta_l`, and
    :math:`\psi_\mu(v_l) = \zeta_l`, :math:`y_{l-1}G_{\nu_{l-1}}(y_{l-1}) - 1 = \zeta_l` with
    :math:`G_{\nu_l}(y) = (1+\zeta_l)/(\sigma_w^2 t_l)` and :math:`G_{\nu_1}(y) = 1/(y-\hat q)`.
    """
    psi = _psi_atoms(points, weights)
    L = int(depth)
    if L < 2:
        raise ValueError(f"depth must be >= 2 for the chain (depth 1 is the point mass at qhat), got {depth!r}")

    def residual(u, z):
        s2, qh = _as_mp(sigma_w2), _as_mp(qhat)
        out = []
        y = z
        for i in range(L - 1):
            zt, v = u[2 * i], u[2 * i + 1]
            t = (y - qh) / s2
            y_prev = t * v * (1 + zt) / zt
            if i < L - 2:
                zt_next = u[2 * i + 2]
                t_prev = (y_prev - qh) / s2
                g_prev = (1 + zt_next) / (s2 * t_prev)
            else:
                g_prev = 1 / (y_prev - qh)
            out += [psi(v) - zt, y_prev * g_prev - 1 - zt]
            y = y_prev
        return out
    return residual


def _fisher_g(u, z, sigma_w2, qhat):
    s2, qh = _as_mp(sigma_w2), _as_mp(qhat)
    return (1 + u[0]) / (s2 * (z - qh) / s2)


def _fisher_start(points, weights, sigma_w2, qhat, depth, z):
    """Asymptotic start at large |z|: zeta ~ m1/t, v ~ zeta/m1(mu), level by level."""
    m_mu = float(sum(float(t) * float(w) for t, w in zip(points, weights)))
    s2, qh = float(sigma_w2), float(qhat)
    means = [qh]
    for _ in range(depth - 1):
        means.append(qh + s2 * m_mu * means[-1])
    u = []
    y = complex(z)
    for i in range(depth - 1):
        t = (y - qh) / s2
        m_prod = m_mu * means[depth - 2 - i]
        zt = m_prod / t
        v = zt / m_mu
        u += [zt, v]
        y = t * v * (1 + zt) / zt
    return u


def fisher_chain_cauchy(points, weights, sigma_w2, qhat, depth: int, z, *, dps: int = 50, steps: int = 25):
    r""":math:`G_{\nu_L}(z)` of the conditional Fisher law by :func:`fisher_chain_system`.

    The float start comes from continuation in :math:`\operatorname{Im} z` (from far above the axis,
    where the chain is near its asymptotic values) at 20 digits, then Newton at ``dps``.
    """
    res = fisher_chain_system(points, weights, sigma_w2, qhat, depth)
    zc = complex(z)
    top = 30 * (1 + abs(zc))
    u = _fisher_start(points, weights, sigma_w2, qhat, depth, zc.real + 1j * top)
    for h in np.geomspace(top, max(zc.imag, 1e-300), steps) if zc.imag > 0 else np.geomspace(top, 1e-12 * top, steps):
        zz = mp.mpc(zc.real, h)
        u = newton(lambda w: res(w, zz), u, dps=20, maxiter=40)
    with mp.workdps(dps):
        zz = mp.mpmathify(z)
    # complex unknowns also on the axis: inside the support the boundary value is not real
    u = newton(lambda w: res(w, zz), u, dps=dps)
    with mp.workdps(dps):
        return _fisher_g(u, zz, sigma_w2, qhat)


def fisher_chain_edge(points, weights, sigma_w2, qhat, depth: int, x_guess: float, *, dps: int = 50):
    r"""Top support edge of the conditional Fisher law: continuation along the real axis from far right
    down towards ``x_guess`` (any float estimate of the edge from above, e.g. Monte Carlo), then
    :func:`fold` on the chain."""
    res = fisher_chain_system(points, weights, sigma_w2, qhat, depth)
    return _real_fold_from_right(res, lambda x: _fisher_start(points, weights, sigma_w2, qhat, depth, x),
                                 float(x_guess), dps)


def _real_fold_from_right(res, start, x_guess, dps):
    """March a real fixed point from far right towards the edge, bracket the fold, bisect, then fold()."""
    x_big = 30.0 * (1 + abs(x_guess))
    u = [complex(c).real for c in start(x_big)]
    good = (u, x_big)

    def solve(x, u0):
        w = newton(lambda w: res(w, mp.mpf(x)), u0, dps=20, maxiter=30, real=True)
        w = [float(t) for t in w]
        # a jump to another real branch is not continuation
        if max(abs(a - b) / (1 + abs(b)) for a, b in zip(w, u0)) > 0.5:
            raise HighPrecisionError("branch jump")
        return w

    bad = None
    for x in np.concatenate([np.geomspace(x_big, 2 * abs(x_guess) + 1e-300, 20), np.linspace(2 * x_guess, 0.0, 161)[1:]]):
        try:
            good = (solve(x, good[0]), x)
        except HighPrecisionError:
            bad = x
            break
    if bad is None:
        raise HighPrecisionError(f"no edge found between {x_big} and 0: the real fixed point continues")
    for _ in range(30):   # to 1e-7: the fold Newton converges from there
        mid = 0.5 * (good[1] + bad)
        try:
            good = (solve(mid, good[0]), mid)
        except HighPrecisionError:
            bad = mid
        if abs(good[1] - bad) < 1e-7 * (1 + abs(bad)):
            break
    _, x = fold(res, good[0], good[1], dps=dps)
    return x


# ============================================================================= every solver-backed law
# The engine's laws (freeprob.SolvedLaw) state a fixed point F(z, u) = 0 in float64.  Each kind of law
# registers here an mp version of its system (same state u, so the float64 solution is the start);
# nn_spectra registers its own laws (nn_spectra.high_precision_laws), keeping freeprob independent.
class MPSystem:
    r"""A law's fixed-point system in mp arithmetic, for :func:`cauchy`, :func:`pdf`, :func:`edges`.

    Parameters
    ----------
    residual : callable
        ``residual(z, u) -> list`` of :math:`F(z, u)` at a point ``z`` in the law's own (original)
        coordinates, ``u`` the engine's state (the same unknowns as the law's float ``_residual``).
    g : callable
        ``g(z, u) -> G(z)`` in original coordinates.
    atoms : callable, optional
        ``atoms() -> (points, masses)`` as mp numbers, from the law's exact atom rules.
    jacobian : callable, optional
        ``jacobian(z, u) -> mp.matrix`` of :math:`\partial_u F` (finite differences otherwise).
    """

    def __init__(self, residual: Callable, g: Callable, atoms: Callable | None = None,
                 jacobian: Callable | None = None):
        self.residual, self.g, self.atoms, self.jacobian = residual, g, atoms, jacobian


_REGISTRY: dict = {}


def register_mp_system(cls: type, factory: Callable) -> None:
    """Register ``factory(law, snap) -> MPSystem`` for the laws of class ``cls`` (and subclasses)."""
    _REGISTRY[cls] = factory


def _builtin_registry():
    if getattr(_builtin_registry, "done", False):
        return
    from .convolution import FreeConvolution
    from .fuss_catalan import FussCatalan
    from .polynomial.polynomial_law import PolynomialLaw
    from .symbolic.numeric import NumericAlgebraicLaw

    _REGISTRY.setdefault(FreeConvolution, _convolution_system)
    _REGISTRY.setdefault(FussCatalan, _fuss_catalan_system)
    _REGISTRY.setdefault(NumericAlgebraicLaw, _algebraic_law_system)
    _REGISTRY.setdefault(PolynomialLaw, _polynomial_law_system)
    _builtin_registry.done = True


def mp_system(law, *, snap: bool = True) -> MPSystem:
    """The :class:`MPSystem` of a solver-backed law (a ValueError naming the supported kinds otherwise)."""
    _builtin_registry()
    for cls in type(law).__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls](law, snap)
    kinds = ", ".join(sorted(c.__name__ for c in _REGISTRY))
    raise ValueError(f"law must be a solver-backed law with an mp system ({kinds}; nn_spectra's JacobianLaw and "
                     f"ConditionalFIMLaw once nn_spectra is imported) or a closed-form law, got {law!r}")


def mp_param(x, snap: bool = True):
    r"""A float parameter of a law as an mp number.

    With ``snap`` (the default) a float within :math:`10^{-14}` (relative) of a fraction with
    denominator at most :math:`10^4` is read as that fraction: the laws' parameters are roundings of
    such numbers (:math:`\hat q = 3/5` of a relu Fisher law is computed as 0.5999999999999995), and
    a random float lies that close to one with probability about :math:`2\cdot 10^{-6}`.  Otherwise
    (and with ``snap=False``) the float's exact binary value.

    >>> with mp.workdps(30):
    ...     mp_param(0.5999999999999995) * 5 == 3, mp_param(0.5999999999999995, snap=False) * 5 == 3
    (True, False)
    """
    from fractions import Fraction

    x = float(x)
    if snap and x != 0 and np.isfinite(x):
        f = Fraction(x).limit_denominator(10 ** 4)
        if abs(float(f) - x) <= 1e-14 * abs(x):
            return mp.mpf(f.numerator) / f.denominator
    return mp.mpf(x)


def per_dps(fn: Callable) -> Callable:
    """``fn()`` (constants of a system) evaluated once per working precision: parameters such as 3/5
    or 1/s must be computed at the precision in use, not when the system is built."""
    cache: dict = {}

    def get():
        key = mp.mp.prec
        if key not in cache:
            cache[key] = fn()
        return cache[key]
    return get


def _float_state(law, z):
    """The engine's float64 state at z (original coordinates): continuation above the axis, the
    certified boundary value on it."""
    zc = complex(z)
    zs = complex(law._to_std(zc))
    if zc.imag > 0:
        return [complex(t) for t in law._solve(np.array([zs]))[0]]
    u, exact = law._axis(np.array([zs.real]))
    if not exact[0] or not np.all(np.isfinite(u[0])):
        raise HighPrecisionError(f"{law!r}: the float64 state at x = {zc.real!r} is not certified (an atom, an edge, "
                                 "or a point where the state is singular); no start for Newton's method")
    return [complex(t) for t in u[0]]


def _affine_parts(law):
    from .affine import AffineLaw

    return (law.base, law.c, law.b) if isinstance(law, AffineLaw) else None


def _mp_real(x):
    with mp.workdps(mp.mp.dps):
        return mp.mpf(float(x)) if not isinstance(x, mp.mpf) else x


def cauchy(law, z, *, dps: int = 50, snap: bool = True, history: list | None = None):
    r"""The Cauchy transform :math:`G(z)` of any solver-backed law to ``dps`` digits.

    The float64 state of the law's solver at z (continuation from :math:`i\infty`, or the certified
    boundary value for real z) starts Newton's method on the law's fixed point in mp arithmetic
    (:class:`MPSystem`); for real z inside the support the result is the boundary value
    :math:`G(x + i0)`.  Affine images, closed-form laws and atomic laws are evaluated directly.

    Parameters
    ----------
    law : freeprob.Law
    z : complex
        Point with :math:`\operatorname{Im} z \ge 0`, in the law's coordinates (its float value is
        the point: 0.1 means the binary 0.1000000000000000055…).
    dps : int
        Digits (15–1000).
    snap : bool
        Read float parameters of the law by :func:`mp_param`'s rule.
    history : list, optional
        Receives Newton's relative step sizes (a check of quadratic convergence).

    Examples
    --------
    >>> import freeprob as fp
    >>> g = cauchy(fp.boxplus(fp.semicircle(), fp.semicircle()), 1j, dps=30)
    >>> mp.nstr(mp.im(g), 20), abs(mp.re(g)) < 1e-60   # semicircle of variance 2: (z - sqrt(z^2 - 8))/4 = -i/2
    ('-0.5', True)
    """
    dps = _check_dps(dps)
    with mp.workdps(dps + 10):
        zz = mp.mpc(complex(z)) if not isinstance(z, (mp.mpc, mp.mpf)) else mp.mpmathify(z)
    if mp.im(zz) < 0:
        raise ValueError(f"z must lie in the closed upper half-plane, got {z!r}")
    aff = _affine_parts(law)
    if aff is not None:
        base, c, b = aff
        with mp.workdps(dps + 10):
            cc, bb = mp_param(c, snap), mp_param(b, snap)
            w = (zz - bb) / cc
        if cc < 0:
            g = mp.conj(cauchy(base, mp.conj(w), dps=dps, snap=snap, history=history))
        else:
            g = cauchy(base, w, dps=dps, snap=snap, history=history)
        with mp.workdps(dps):
            return g / cc
    _builtin_registry()
    if any(cls in _REGISTRY for cls in type(law).__mro__):
        sys_ = mp_system(law, snap=snap)
    else:
        with mp.workdps(dps + 10):
            if law.atoms[1].sum() > 1 - 1e-14 and not hasattr(law, "_residual"):
                pts, wts = law.atoms
                return +mp.fsum(mp_param(w, snap) / (zz - mp_param(p, snap)) for p, w in zip(pts, wts))
            return +mp_cauchy(law)(zz)
    if sys_.atoms is not None:
        pts, wts = sys_.atoms()
        if pts and abs(mp.fsum(wts) - 1) < mp.mpf(10) ** (-dps):
            with mp.workdps(dps):
                return +mp.fsum(w / (zz - p) for p, w in zip(pts, wts))
    u0 = _float_state(law, zz)
    jac = (lambda u: sys_.jacobian(zz, u)) if sys_.jacobian is not None else None
    u = newton(lambda u: sys_.residual(zz, u), u0, dps=dps, jacobian=jac, history=history)
    with mp.workdps(dps):
        return +sys_.g(zz, u)


def pdf(law, x, *, dps: int = 50, snap: bool = True):
    r"""The density :math:`\rho(x) = -\operatorname{Im} G(x + i0)/\pi` of the absolutely continuous part
    to ``dps`` digits (Newton on the law's fixed point on the real axis, from the float64 boundary value).

    >>> import freeprob as fp
    >>> mp.nstr(pdf(fp.boxplus(fp.semicircle(), fp.semicircle()), 0.0, dps=30), 20)   # 1/(pi sqrt 2)
    '0.22507907903927651739'
    """
    g = cauchy(law, float(x), dps=dps, snap=snap)
    with mp.workdps(dps):
        return -mp.im(g) / mp.pi


def _mp_system_or_none(law, snap):
    try:
        return mp_system(law, snap=snap)
    except ValueError:
        return None


def edges(law, *, dps: int = 50, snap: bool = True) -> list:
    r"""The support edges of the absolutely continuous part (``law.intervals``) to ``dps`` digits.

    Each edge is a fold of the real branch: Newton's method in mp arithmetic on the augmented system
    :math:`F(x, u) = 0`, :math:`\det\partial_u F(x, u) = 0` (:func:`fold`), from the certified float64
    state just outside the edge.  The bottom 0 of a law on :math:`[0, \infty)` whose density does not
    end there as a fold (products: :math:`x^{-L/(L+1)}`) is returned as the exact 0.  An edge where the
    state is singular (no fold) is located from mp densities just inside it, as the root of
    :math:`\rho^{\pm 2}` (square-root or inverse-square-root end, e.g. at a product of atoms); an edge
    that is neither is a :class:`HighPrecisionError`.

    >>> import freeprob as fp
    >>> [mp.nstr(e, 20) for e in edges(fp.boxplus(fp.semicircle(), fp.semicircle()), dps=30)]
    ['-2.8284271247461900976', '2.8284271247461900976']
    """
    dps = _check_dps(dps)
    aff = _affine_parts(law)
    if aff is not None:
        base, c, b = aff
        with mp.workdps(dps + 10):
            out = [mp_param(c, snap) * e + mp_param(b, snap) for e in edges(base, dps=dps, snap=snap)]
        return sorted(out)
    sys_ = mp_system(law, snap=snap)
    c, s = law.frame
    out = []
    for lo, hi in law.intervals:
        for e, side in ((lo, -1.0), (hi, 1.0)):
            out.append(_edge_mp(law, sys_, float(e), side, s, dps))
    return out


def edge(law, x: float, *, dps: int = 50, snap: bool = True):
    r"""The support edge of ``law`` nearest the float ``x`` (an endpoint of ``law.intervals``) to ``dps``
    digits, as in :func:`edges` but for one edge.

    >>> import freeprob as fp
    >>> law = fp.boxplus(fp.semicircle(), fp.semicircle())
    >>> mp.nstr(edge(law, law.support[1], dps=30), 20)
    '2.8284271247461900976'
    """
    dps = _check_dps(dps)
    aff = _affine_parts(law)
    if aff is not None:
        base, c, b = aff
        e = edge(base, (float(x) - b) / c, dps=dps, snap=snap)
        with mp.workdps(dps + 10):
            return mp_param(c, snap) * e + mp_param(b, snap)
    ends = [(float(v), side) for iv in law.intervals for v, side in zip(iv, (-1.0, 1.0))]
    if not ends:
        raise ValueError(f"{law!r} has no absolutely continuous part: no edges")
    e, side = min(ends, key=lambda t: abs(t[0] - float(x)))
    return _edge_mp(law, mp_system(law, snap=snap), e, side, law.frame[1], dps)


def _edge_mp(law, sys_, e, side, scale, dps):
    last = None
    for rel in (1e-7, 1e-5, 1e-9):
        x_out = e + side * rel * max(scale, abs(e) * 1e-3)
        try:
            u0 = _float_state(law, x_out)
        except (HighPrecisionError, ValueError) as exc:
            last = exc
            continue
        jac = (lambda u, x: sys_.jacobian(x, u)) if sys_.jacobian is not None else None
        try:
            u, x = fold(lambda u, x: sys_.residual(x, u), u0, x_out, dps=dps, real=False, jacobian=jac)
        except HighPrecisionError as exc:
            last = exc
            continue
        with mp.workdps(dps):
            ok = abs(mp.im(x)) <= mp.mpf(10) ** (-(dps - 8)) * (1 + abs(x)) and \
                abs(mp.re(x) - e) <= 1e-6 * (scale + abs(e))
        if ok:
            with mp.workdps(dps):
                return +mp.re(x)
        last = HighPrecisionError(f"the fold Newton left the edge (x = {mp.nstr(x, 12)})")
    if e == 0.0:
        # the bottom of a law on [0, inf) (a product law): the density does not end in a fold there
        return mp.mpf(0)
    try:
        return _power_end_mp(law, e, side, scale, dps)
    except HighPrecisionError as exc:
        last = f"{last}; {exc}"
    raise HighPrecisionError(f"{law!r}: the edge {e!r} is not a fold of the real branch in mp arithmetic, nor a "
                             f"square-root or inverse-square-root end ({last})")


def _power_end_mp(law, e, side, scale, dps, points: int = 8):
    r"""An edge where the state is singular (no fold), from the density just inside it.

    At a square-root end :math:`
ho^2`, and at an inverse-square-root end (arcsine-like, at a
    product of atoms) :math:`
ho^{-2}`, is a power series in :math:`x - a` that vanishes at the
    edge :math:`a`.  Its interpolating polynomial through ``points`` mp densities at
    :math:`x_k = e - \mathrm{side}\,k h` (k = 1, …, points; float positions, exact) has its root within
    :math:`O(h^{\mathrm{points}})` of the edge; :math:`h = 10^{-(dps+10)/points}` times the local scale
    (the law's scale, or :math:`|e|` if smaller).
    """
    # the series converges out to the nearest other singular point, often the origin of a law on
    # [0, inf): |e| is taken as that distance when it is below the law's scale
    local = min(scale, abs(e)) if e != 0.0 else scale
    h = float(local * 10.0 ** (-(dps + 10) / points))
    xs = [e - side * k * h for k in range(1, points + 1)]
    with mp.workdps(dps + 20):
        try:
            rho = [pdf(law, x, dps=dps + 20) for x in xs]
        except (HighPrecisionError, ValueError, ZeroDivisionError) as exc:
            raise HighPrecisionError(f"no mp density just inside the edge ({exc})") from None
        if not all(r > 0 for r in rho):
            raise HighPrecisionError("the density just inside the edge is not positive")
        q = [r * r for r in rho]
        if not (all(a < b for a, b in zip(q, q[1:])) or all(a > b for a, b in zip(q, q[1:]))):
            raise HighPrecisionError("the density is not monotone just inside the edge")
        if q[0] > q[1]:
            q = [1 / v for v in q]          # an inverse-square-root end
        # the float positions are rounded (by ~1e-16 |e|, i.e. 1e-9 steps): use them exactly
        t = [(mp.mpf(e) - mp.mpf(x)) / (side * mp.mpf(h)) for x in xs]
        # Newton form of the interpolating polynomial in t = (e - x)/(side h), evaluated with its
        # derivative; its root nearest t = 0 is the edge
        coef = list(q)
        for j in range(1, points):
            for i in range(points - 1, j - 1, -1):
                coef[i] = (coef[i] - coef[i - 1]) / (t[i] - t[i - j])

        def poly(x):
            val, der = coef[-1], mp.mpf(0)
            for i in range(points - 2, -1, -1):
                der = der * (x - t[i]) + val
                val = val * (x - t[i]) + coef[i]
            return val, der

        x = mp.mpf(0)
        for _ in range(100):
            v, d = poly(x)
            step = v / d
            x -= step
            if abs(step) <= mp.mpf(10) ** (-(dps + 5)):
                break
        else:
            raise HighPrecisionError("Newton on the interpolating polynomial did not converge")
        if abs(x) > 0.5:
            raise HighPrecisionError(f"the extrapolated end is {mp.nstr(x, 5)} steps away from the float edge")
        edge_ = mp.mpf(e) - side * x * mp.mpf(h)
    with mp.workdps(dps):
        return +edge_


def atoms(law, *, dps: int = 50, snap: bool = True) -> tuple[list, list]:
    r"""Atoms ``(points, masses)`` of a solver-backed law as mp numbers, from the law's exact atom rules
    (Bercovici–Voiculescu, rank arguments) evaluated in mp arithmetic on its parameters.

    >>> import freeprob as fp
    >>> pts, w = atoms(fp.boxtimes(fp.bernoulli(0.5), fp.bernoulli(0.5)), dps=30)
    >>> [mp.nstr(p, 5) for p in pts], [mp.nstr(m, 5) for m in w]
    (['0.0'], ['0.5'])
    """
    dps = _check_dps(dps)
    aff = _affine_parts(law)
    with mp.workdps(dps):
        if aff is not None:
            base, c, b = aff
            pts, w = atoms(base, dps=dps, snap=snap)
            cc, bb = mp_param(c, snap), mp_param(b, snap)
            return [cc * p + bb for p in pts], w
        sys_ = _mp_system_or_none(law, snap)
        if sys_ is None:
            pts, w = law.atoms
            return [mp_param(p, snap) for p in pts], [mp_param(m, snap) for m in w]
        if sys_.atoms is None:
            if len(law.atoms[0]):
                raise HighPrecisionError(f"{law!r} has atoms but no exact rule for them in mp arithmetic")
            return [], []
        pts, w = sys_.atoms()
        order = sorted(range(len(pts)), key=lambda i: pts[i])
        return [+pts[i] for i in order], [+w[i] for i in order]


# ----------------------------------------------------------------------------- inputs of ⊞/⊠ in mp
def _input_cauchy(law, snap: bool) -> Callable:
    """``G(w)`` of an input law in mp: closed forms, affine images, solver laws (recursively)."""
    aff = _affine_parts(law)
    if aff is not None:
        base, c, b = aff
        gb = _input_cauchy(base, snap)
        cb = per_dps(lambda: (mp_param(c, snap), mp_param(b, snap)))

        def g_aff(w):
            cc, bb = cb()
            return gb((w - bb) / cc) / cc
        return g_aff
    if _mp_system_or_none(law, snap) is not None:
        def g_solved(w):
            w = mp.mpmathify(w)
            if mp.im(w) < 0:
                return mp.conj(cauchy(law, mp.conj(w), dps=max(15, mp.mp.dps), snap=snap))
            return cauchy(law, w, dps=max(15, mp.mp.dps), snap=snap)
        return g_solved
    cls = type(law).__name__
    if cls in ("Atoms", "Bernoulli"):
        pts, wts = law.atoms
        pw = per_dps(lambda: ([mp_param(p, snap) for p in pts], [mp_param(w, snap) for w in wts]))

        def g_atoms(z):
            P, W = pw()
            return mp.fsum(w / (z - p) for p, w in zip(P, W))
        return g_atoms
    return mp_cauchy(law)


def _atoms_mp(law, snap: bool):
    aff = _affine_parts(law)
    if aff is not None:
        base, c, b = aff
        pts, w = _atoms_mp(base, snap)
        return [mp_param(c, snap) * p + mp_param(b, snap) for p in pts], w
    sys_ = _mp_system_or_none(law, snap)
    if sys_ is not None and sys_.atoms is not None:
        return sys_.atoms()
    pts, w = law.atoms
    return [mp_param(p, snap) for p in pts], [mp_param(m, snap) for m in w]


# ----------------------------------------------------------------------------- the n-ary ⊞/⊠ system
def _convolution_system(law, snap: bool) -> MPSystem:
    r"""The subordination system of :class:`freeprob.convolution.FreeConvolution` (and free powers)
    in mp: standardized inputs :math:`Y_g = (X_g - c_g)/s` (⊞) or :math:`X_g/c_g` (⊠), unknowns
    :math:`u_g = -1/\omega_g` (⊞) or :math:`\ell_g = \log\Omega_g` (⊠), exactly as the float system."""
    plus = law.kind == "plus"
    gs = [_input_cauchy(x, snap) for x in law.laws]

    def consts_():
        ks = [mp_param(k, snap) for k in law.weights]
        cg = [mp.mpf(c) for c, _ in law._frames]
        if plus:
            s = mp.mpf(law.frame[1])
            return ks, mp.fsum(k * x for k, x in zip(ks, cg)), s, [(1 / s, -x / s) for x in cg]
        s = mp.fprod(x ** k for k, x in zip(ks, cg))
        return ks, mp.mpf(0), s, [(1 / x, mp.mpf(0)) for x in cg]
    consts = per_dps(consts_)

    def h(i, w):
        a, b = consts()[3][i]
        gy = gs[i]((w - b) / a) / a
        return 1 / gy - w

    def parts(u):
        ks = consts()[0]
        if plus:
            K = [h(i, -1 / ui) for i, ui in enumerate(u)]
        else:
            # log(-h) with the imaginary part in [-pi, pi) (the float system's branch)
            K = [mp.conj(mp.log(-mp.conj(h(i, mp.exp(ui))))) for i, ui in enumerate(u)]
        return K, mp.fsum(k * x for k, x in zip(ks, K))

    def residual(z, u):
        _, c, s, _ = consts()
        zt = (z - c) / s
        K, S = parts(u)
        if plus:
            return [1 + ui * (zt + S - Ki) for ui, Ki in zip(u, K)]
        return [ui - mp.log(zt) + S - Ki for ui, Ki in zip(u, K)]

    def g(z, u):
        _, c, s, _ = consts()
        zt = (z - c) / s
        _, S = parts(u)
        return (1 / (zt + S) if plus else 1 / (zt - mp.exp(S))) / s

    def atoms_():
        # Bercovici–Voiculescu (module docstring of freeprob.convolution), in mp
        ks = consts()[0]
        groups = [_atoms_mp(x, snap) for x in law.laws]
        need = mp.fsum(ks) - 1
        pts, mass = [], []
        if not plus:
            z0 = max([mp.fsum(w for p, w in zip(*gr) if p == 0) for gr in groups] + [mp.mpf(0)])
            if z0 > 0:
                pts.append(mp.mpf(0))
                mass.append(z0)

        def rec(i, loc, total):
            if i == len(groups):
                m = total - need
                if m > mp.mpf(10) ** (-mp.mp.dps + 5) and not (not plus and loc == 0):
                    pts.append(loc)
                    mass.append(m)
                return
            for a, wa in zip(*groups[i]):
                if not plus and a == 0:
                    continue
                if total + ks[i] * wa + mp.fsum(ks[i + 1:]) - need <= 0:
                    continue
                rec(i + 1, loc + ks[i] * a if plus else loc * a ** ks[i], total + ks[i] * wa)

        rec(0, mp.mpf(0) if plus else mp.mpf(1), mp.mpf(0))
        return pts, mass

    return MPSystem(residual, g, atoms_)


def _fuss_catalan_system(law, snap: bool) -> MPSystem:
    r"""Fuss–Catalan: :math:`\log z + \log w - (s+1)\log(1+w) = 0` (mod :math:`2\pi i`), :math:`G = (1+w)/z`."""
    def residual(z, u):
        s = mp_param(law._s, snap)
        w = u[0]
        f = mp.log(z) + mp.log(w) - (s + 1) * mp.log(1 + w)
        return [f - 2j * mp.pi * mp.nint(mp.im(f) / (2 * mp.pi))]

    return MPSystem(residual, lambda z, u: (1 + u[0]) / z, lambda: ([], []))


def _algebraic_law_system(law, snap: bool) -> MPSystem:
    """Numeric algebraic law: the state is the standardized :math:`\\tilde G = sG`, the equation the
    exact polynomial :math:`P(G, z) = 0` (SymPy coefficients at the working precision)."""
    Pf, dP = _poly_fns(law.law)
    s = mp.mpf(law.frame[1])

    def atoms_():
        pts, w = [], []
        for p, m in zip(*law.atoms):
            w.append(atom_mass(law.law, float(p), dps=max(15, mp.mp.dps), w0=float(m)))
            pts.append(_exact_pole(law.law, float(p)))
        return pts, w

    return MPSystem(lambda z, u: [Pf(u[0] / s, z)], lambda z, u: u[0] / s, atoms_,
                    jacobian=lambda z, u: mp.matrix([[dP(u[0] / s, z) / s]]))


def _exact_pole(P, a: float):
    import sympy as sp

    from .symbolic import G as _G, z as _z

    lc = sp.Poly(sp.Poly(P.polynomial, _G).LC(), _z)
    r = min(lc.real_roots(), key=lambda t: abs(float(t) - a))
    return mp.mpmathify(str(sp.N(r, mp.mp.dps + 10)))


def _polynomial_law_system(law, snap: bool) -> MPSystem:
    r"""Polynomial in free standard semicirculars: the operator-valued semicircle equation
    :math:`v = \eta((\Lambda(\tilde z) - a_0 - v)^{-1})` on the EXACT standardized pencil (the
    standardization :math:`p = c + s\tilde p` redone in SymPy: exact moments, :math:`s = \sqrt{\mathrm{var}}`)."""
    import sympy as sp

    from .laws import Semicircle
    from .polynomial.linearization import linearize
    from .polynomial.variables import poly_to_words, words_to_sympy

    if law.solver != "semicircular":
        return _polynomial_subordination_system(law, snap)
    if not all(isinstance(x, Semicircle) and x._mean == 0 and x._var == 1 for x in law.laws):
        raise ValueError(f"high precision for polynomial laws in semicirculars needs standard ones "
                         f"(fp.semicircle(); write x = m + s*u in the polynomial), got {law!r}")
    words = {w: sp.nsimplify(c, rational=True) for w, c in poly_to_words(law.polynomial, law.variables).items()}
    big = max(abs(c) for w, c in words.items() if w)
    wu = {w: c / big for w, c in words.items()}
    # exact moments of p~ for standard semicirculars: phi of words from non-crossing pair partitions
    from fractions import Fraction

    from .polynomial.nc_moments import polynomial_moments

    deg = max(len(w) for w in wu)
    cum = [[Fraction(0), Fraction(1)] + [Fraction(0)] * (2 * deg) for _ in law.variables]
    m1, m2 = polynomial_moments({w: Fraction(int(c.p), int(c.q)) for w, c in wu.items()}, cum, 2)
    m1, m2 = sp.Rational(m1.numerator, m1.denominator), sp.Rational(m2.numerator, m2.denominator)
    sd = sp.sqrt(m2 - m1 ** 2)
    std = {w: ((c - m1) if not w else c) / sd for w, c in wu.items()}
    if () not in std and m1 != 0:
        std[()] = -m1 / sd
    pen = linearize(words_to_sympy(std, law.variables), law.variables)
    n = pen.L.shape[0]
    if n != law.std_pencil.size:
        raise HighPrecisionError("the exact standardized pencil differs in size from the solver's")
    dps_now = lambda: mp.mp.dps + 10  # noqa: E731

    def coeff_mats():
        a0 = mp.matrix(n, n)
        A = [mp.matrix(n, n) for _ in law.variables]
        for i in range(n):
            for j in range(n):
                e = sp.expand(pen.L[i, j])
                if e == 0:
                    continue
                for w, cf in poly_to_words(e, law.variables).items():
                    val = mp.mpmathify(str(sp.N(cf, dps_now())))
                    if not w:
                        a0[i, j] = val
                    else:
                        A[w[0]][i, j] = val
        return a0, A

    mats = per_dps(coeff_mats)

    def const(expr):
        return mp.mpmathify(str(sp.N(expr, dps_now())))

    def green(z, u):
        a0, A = mats()
        zt = (z - const(big * m1)) / const(big * sd)
        M = -a0
        M[0, 0] += zt
        V = mp.matrix(n, n)
        for i in range(n):
            for j in range(n):
                V[i, j] = u[i * n + j]
        return mp.inverse(M - V), A

    def residual(z, u):
        Gm, A = green(z, u)
        eta = mp.matrix(n, n)
        for Aj in A:
            eta += Aj * Gm * Aj
        return [u[i * n + j] - eta[i, j] for i in range(n) for j in range(n)]

    def g(z, u):
        Gm, _ = green(z, u)
        return Gm[0, 0] / const(big * sd)

    def jacobian(z, u):
        # DF[H] = H - sum_j a_j G H G a_j, row-major: entry ((a,b),(c,d)) = delta - sum_j (a_j G)_ac (G a_j)_db
        Gm, A = green(z, u)
        AG = [Aj * Gm for Aj in A]
        GA = [Gm * Aj for Aj in A]
        J = mp.eye(n * n)
        for a in range(n):
            for b in range(n):
                for c in range(n):
                    for d in range(n):
                        J[a * n + b, c * n + d] -= mp.fsum(X[a, c] * Y[d, b] for X, Y in zip(AG, GA))
        return J

    return MPSystem(residual, g, lambda: _rank_ratio_atoms(law, snap), jacobian=jacobian)


def _rank_ratio_atoms(law, snap: bool):
    """The law's atoms in mp: masses of polynomial laws are rank ratios (kernel dimensions of the
    linearization), read as fractions with denominator at most 10^4; points by :func:`mp_param`."""
    from fractions import Fraction

    pts, w = law.atoms
    out_p, out_w = [], []
    for pt, m in zip(pts, w):
        fr = Fraction(float(m)).limit_denominator(10 ** 4)
        if abs(float(fr) - m) > 1e-13:
            raise HighPrecisionError(f"atom mass {m!r} is not a rank ratio (fraction)")
        out_w.append(mp.mpf(fr.numerator) / fr.denominator)
        out_p.append(mp_param(pt, snap))
    return out_p, out_w


def _polynomial_subordination_system(law, snap: bool) -> MPSystem:
    r"""Polynomial in free variables with arbitrary laws: the matrix-valued subordination of
    :mod:`freeprob.polynomial.pencil_systems` in mp (unknowns :math:`\omega_j\in M_n(\mathbb C)`,
    :math:`\omega_j = b + \sum_{i\ne j} h_i(\omega_i)`, :math:`b = \Lambda(\tilde z) - a_0`).

    Exact standardization: the variables' frames :math:`(c_i, s_i)` and the polynomial's
    :math:`(c, s)` are the law's floats taken as exact binary numbers, :math:`u_i = (x_i - c_i)/s_i`,
    :math:`\tilde p = (p(c + s u) - c)/s` with exact rational coefficients, linearized again in SymPy;
    :math:`G_{a\otimes u}(\omega) = K + P\,\mathrm{diag}(f(\lambda))R` with the eigenvalues
    :math:`\lambda` of :math:`DU^TKU` (mpmath) and :math:`f(\lambda) = (G_u(1/\lambda)/\lambda - 1)/\lambda`."""
    import sympy as sp

    from .polynomial.linearization import linearize
    from .polynomial.variables import poly_to_words, words_to_sympy

    k = len(law.variables)
    locs = [sp.Rational(float(c)) for c in law._var_loc]
    scales = [sp.Rational(float(v)) for v in law._var_scale]
    c0, s0 = sp.Rational(float(law._loc)), sp.Rational(float(law._scale))
    p = law.polynomial.subs({x: cl + sc * x for x, cl, sc in zip(law.variables, locs, scales)}, simultaneous=True)
    words = poly_to_words(sp.expand((sp.nsimplify(p, rational=True) - c0) / s0), law.variables)
    pen = linearize(words_to_sympy(words, law.variables), law.variables)
    n = pen.L.shape[0]
    if n != law.std_pencil.size:
        raise HighPrecisionError("the exact standardized pencil differs in size from the solver's")
    gin = [_input_cauchy(x, snap) for x in law.laws]

    def consts_():
        a0 = mp.matrix(n, n)
        A = [mp.matrix(n, n) for _ in range(k)]
        for i in range(n):
            for j in range(n):
                e = sp.expand(pen.L[i, j])
                if e == 0:
                    continue
                for w, cf in poly_to_words(e, law.variables).items():
                    val = mp.mpf(sp.Rational(cf).p) / sp.Rational(cf).q
                    if not w:
                        a0[i, j] = val
                    else:
                        A[w[0]][i, j] = val
        eig = []
        for Aj in A:
            d, U = mp.eigsy(Aj)
            big = max(abs(t) for t in d)
            keep = [i for i in range(n) if abs(d[i]) > mp.mpf(10) ** (-mp.mp.dps // 2) * big]
            Uk = mp.matrix(n, len(keep))
            for col, i in enumerate(keep):
                for r in range(n):
                    Uk[r, col] = U[r, i]
            eig.append((Uk, [d[i] for i in keep]))
        cs = [(mp.mpf(locs[i].p) / locs[i].q, mp.mpf(scales[i].p) / scales[i].q) for i in range(k)]
        return a0, eig, cs, mp.mpf(c0.p) / c0.q, mp.mpf(s0.p) / s0.q, A
    consts_all = per_dps(consts_)

    def consts():
        return consts_all()[:5]

    def coef():
        return consts_all()[5]

    from .laws import Semicircle

    semis = [j for j, x in enumerate(law.laws) if isinstance(x, Semicircle)]
    free = [j for j in range(k) if j not in semis]

    def g_var(i, om):
        """G of a_i ⊗ u_i at the matrix om."""
        _, eig, cs, _, _ = consts()
        U, D = eig[i]
        ci, si = cs[i]
        r = len(D)
        K = mp.inverse(om)
        Dm = mp.diag(D)
        M = Dm * U.T * K * U
        lam, W = mp.eig(M)
        Wi = mp.inverse(W)
        P = K * U * W
        R = Wi * Dm * U.T * K
        f = []
        with mp.workdps(mp.mp.dps + 30):      # (G(u)u - 1)u cancels ~2 log10|u| digits for small lambda
            for lm in lam:
                u = 1 / lm
                gu = si * gin[i](ci + si * u)
                f.append((gu * u - 1) * u)
        F = mp.diag([+t for t in f])
        return K + P * F * R

    def unpack(u):
        out = []
        for j in range(len(free)):
            M = mp.matrix(n, n)
            for a in range(n):
                for b in range(n):
                    M[a, b] = u[j * n * n + a * n + b]
            out.append(M)
        return out

    def residual(z, u):
        a0, _, _, c, s = consts()
        zt = (z - c) / s
        b = -a0
        b[0, 0] += zt
        om = unpack(u)
        gs = [g_var(j, om[t]) for t, j in enumerate(free)]
        hs = [mp.inverse(G) - om[t] for t, G in enumerate(gs)]
        # the semicircular variables' maps are explicit, h_s = -a_s G a_s with the common G (as in
        # the float SubordinationSystem, whose state holds only the other variables)
        for j in semis:
            As = coef()[j]
            b -= As * gs[0] * As
        out = []
        for t in range(len(free)):
            Fj = om[t] - b
            for i in range(len(free)):
                if i != t:
                    Fj -= hs[i]
            out += [Fj[a, bb] for a in range(n) for bb in range(n)]
        return out

    def g(z, u):
        s = consts()[4]
        return g_var(free[0], unpack(u)[0])[0, 0] / s

    return MPSystem(residual, g, lambda: _rank_ratio_atoms(law, snap))
