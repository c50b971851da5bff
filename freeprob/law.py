r"""The central object of the toolkit: an immutable probability law on the real line.

Conventions (fixed once, used everywhere; see ``docs/conventions``):

* Cauchy transform :math:`G(z) = \int d\mu(t)/(z-t)`, :math:`G(z)\sim 1/z` at infinity,
  :math:`\operatorname{Im} G < 0` on :math:`\mathbb C^+`; :math:`F = 1/G`, :math:`h = F - z`.
* Density by Stieltjes inversion :math:`\rho(x) = -\operatorname{Im} G(x+i0)/\pi`, atom masses
  :math:`\mu(\{a\}) = \lim_{y\downarrow 0} iy\,G(a+iy)`.
* R-transform :math:`G(R(w) + 1/w) = w`, :math:`R(w)=\sum_{n\ge1}\kappa_n w^{n-1}`.
* :math:`\psi(z) = \sum_{n\ge 1} m_n z^n`, :math:`\chi = \psi^{\langle -1\rangle}`,
  :math:`S(z) = \chi(z)(1+z)/z`.

A subclass provides ``_cauchy`` on the closed upper half-plane (points of the real line off
the support included), ``support`` and ``atoms``; everything else has a generic default that
a subclass overrides when a closed form exists.
"""
from __future__ import annotations

from functools import cached_property
from typing import Callable

import numpy as np
from scipy import integrate, optimize

__all__ = ["Law", "as_complex_array", "as_real_array", "check_positive", "check_real", "tabulated_cdf",
           "fast_cdf", "fast_ppf"]


# ----------------------------------------------------------------------------- validation
def check_real(name: str, value, *, finite: bool = True) -> float:
    """Return ``value`` as a float or raise ``ValueError`` naming ``name``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    except OverflowError:  # an int beyond float64 (e.g. 10**400): too large, not a type error
        raise ValueError(f"{name} must be finite (within float64, |x| < 1.8e308), got a number too large "
                         "for float64") from None
    if finite and not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def finite_moments(m, n: int, label) -> np.ndarray:
    """``m`` as floats when every moment is a float64 number, else a ``ValueError`` naming the first
    order that is not (and how many moments can be asked for), never an ``inf``.  ``label`` is the
    law (its repr is formed only for the message) or a string."""
    m = np.asarray(m, dtype=float)
    bad = ~np.isfinite(m)
    if np.any(bad):
        k = int(np.argmax(bad)) + 1
        label = label if isinstance(label, str) else repr(label)
        raise ValueError(f"n={n}: the moments of {label} are not finite in float64 (|m| > 1.8e308) from "
                         f"order {k} on; ask for at most {k - 1} moments or rescale the law")
    return m


def check_positive(name: str, value, *, strict: bool = True) -> float:
    """Return ``value`` as a float > 0 (or >= 0 when ``strict`` is false), else ``ValueError``."""
    v = check_real(name, value)
    if (strict and v <= 0) or (not strict and v < 0):
        rng = "(0, inf)" if strict else "[0, inf)"
        raise ValueError(f"{name} must lie in {rng}, got {value!r}")
    return v


def as_complex_array(name: str, z) -> np.ndarray:
    """``z`` as a complex128 array; non-numeric input raises ``ValueError`` naming ``name``."""
    arr = np.asarray(z)
    if arr.dtype.kind not in "biufc":
        raise ValueError(f"{name} must be a numeric (real or complex) array, got dtype {arr.dtype}")
    arr = arr.astype(np.complex128)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def as_real_array(name: str, x) -> np.ndarray:
    """``x`` as a float64 array; complex or non-numeric input raises ``ValueError``."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} must not contain NaN")
    return arr


def tabulated_cdf(x: np.ndarray, table: tuple[np.ndarray, np.ndarray], atoms: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Distribution function from a table ``(xs, cs)`` of the absolutely continuous part's cdf
    (increasing ``xs``; linear interpolation, constant beyond the ends) plus the atoms' jumps.

    Solver-backed laws integrate their density once onto such a table.
    """
    xs, cs = table
    out = np.interp(x, xs, cs, left=0.0, right=cs[-1])
    pts, w = atoms
    if len(pts):
        out = out + (w[None, :] * (pts[None, :] <= np.asarray(x)[:, None])).sum(axis=1)
    return out


# Gauss–Legendre on [0, 1] with panels graded towards 0 (the edge an integral starts from)
def _edge_rule(order: int = 16):
    edges = np.array([0.0, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 0.04, 0.12, 0.3, 0.6, 1.0])
    t, wt = np.polynomial.legendre.leggauss(order)
    lo, hi = edges[:-1, None], edges[1:, None]
    return (0.5 * (hi + lo) + 0.5 * (hi - lo) * t).ravel(), (0.5 * (hi - lo) * wt).ravel()


_EDGE_NODES, _EDGE_WEIGHTS = _edge_rule()


# ----------------------------------------------------------------------------- the law
class Law:
    """An immutable probability measure on the real line.

    Subclasses must implement :meth:`_cauchy` (complex128 array in, same shape out, valid for
    ``Im z >= 0`` with real points only off the support), and the properties :attr:`support`
    (closed convex hull ``(a, b)`` of the whole support, atoms included) and :attr:`atoms`
    (``(points, masses)`` float arrays, possibly empty).  They should override :meth:`_pdf`,
    :meth:`_cdf` and :meth:`_moments` when closed forms exist.

    Instances are immutable: parameters are validated once, in the constructor.
    """

    #: short name used in ``repr`` and in the CLI
    name: str = "law"

    # -- to be provided by subclasses -------------------------------------------------
    def _cauchy(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def support(self) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def atoms(self) -> tuple[np.ndarray, np.ndarray]:
        """Atoms as ``(points, masses)``; empty arrays when the law has none."""
        return np.empty(0), np.empty(0)

    def _kernel_spec(self):
        """``(kind, params)`` for the compiled Cauchy kernels, or ``None``.

        Laws whose Cauchy transform is known to :mod:`freeprob.cauchy_kernels` return an integer
        kind code and a float64 parameter vector, so numba fixed-point solvers can evaluate
        them without calling back into Python.
        """
        return None

    # -- immutability -------------------------------------------------------------------
    def __setattr__(self, key, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} is immutable")
        object.__setattr__(self, key, value)

    def _freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)

    # -- Cauchy transform ---------------------------------------------------------------
    def cauchy(self, z) -> np.ndarray | complex:
        r"""Cauchy transform :math:`G(z) = \int d\mu(t)/(z - t)`.

        Branch convention: :math:`G` is the integral itself, single-valued and analytic on
        :math:`\mathbb C\setminus\operatorname{supp}\mu`, with :math:`G(z)\sim 1/z` at infinity and
        :math:`\operatorname{Im} G(z) \le 0` for :math:`\operatorname{Im} z > 0`.  The lower half-plane is
        given by the reflection :math:`G(\bar z) = \overline{G(z)}` (:math:`\mu` is real), so the two
        boundary values at a point :math:`x` of the support are :math:`G(x \pm i0) = R(x) \mp i\pi\rho(x)`
        (:math:`\rho` the density, :math:`R` the principal value).  A real ``z`` off the support (outside
        the hull or in a gap) gives the real value; a real ``z`` on the support (or at an atom) raises
        ``ValueError`` -- use ``z + 1j*eps`` or :meth:`pdf`.

        Examples
        --------
        The semicircle of variance 1: :math:`G(z) = (z - \sqrt{z^2 - 4})/2`, the root :math:`\sim z` at
        infinity.

        >>> import numpy as np, freeprob as fp
        >>> sc = fp.semicircle(1.0)
        >>> bool(abs(sc.cauchy(3.0) - (3 - np.sqrt(5)) / 2) < 1e-15)
        True
        >>> g = complex(sc.cauchy(1 + 1j))
        >>> g.imag < 0, complex(sc.cauchy(1 - 1j)) == g.conjugate()
        (True, True)
        >>> sc.cauchy(0.5)
        Traceback (most recent call last):
        ...
        ValueError: z = ... lies on the support [-2.0, 2.0] of ...
        """
        return self._off_support_transform(z, self._cauchy)

    def cauchy_derivative(self, z) -> np.ndarray | complex:
        r"""Derivative :math:`G'(z) = -\int d\mu(t)/(z - t)^2` of the Cauchy transform.

        Same domain and branch convention as :meth:`cauchy`: analytic on
        :math:`\mathbb C\setminus\operatorname{supp}\mu`, :math:`G'(z)\sim -1/z^2` at infinity, the
        lower half-plane by :math:`G'(\bar z) = \overline{G'(z)}`, real and negative at a real ``z``
        off the support; a real ``z`` on the support raises ``ValueError``.  Laws with a closed form
        use it (semicircle: :math:`G' = -G^2/(1 - \sigma^2 G^2)`), solver-backed laws differentiate
        their fixed-point system implicitly; any other law falls back to a central difference of
        :math:`G` (relative accuracy about 1e-10, :math:`G` being analytic there).

        Examples
        --------
        Semicircle of variance 1: :math:`G'(z) = -\tfrac12\,(z/\sqrt{z^2-4} - 1)`, so
        :math:`G'(3) = (3/\sqrt5 - 1)/(-2)`.

        >>> import numpy as np, freeprob as fp
        >>> sc = fp.semicircle(1.0)
        >>> bool(abs(sc.cauchy_derivative(3.0) + (3 / np.sqrt(5) - 1) / 2) < 1e-15)
        True
        >>> d = complex(sc.cauchy_derivative(0.5 + 1j))
        >>> complex(sc.cauchy_derivative(0.5 - 1j)) == d.conjugate()
        True
        """
        return self._off_support_transform(z, self._cauchy_derivative)

    def _off_support_transform(self, z, fn):
        """``fn`` (a transform defined on C⁺ ∪ the real axis off the support) at any ``z``: the lower
        half-plane by reflection, a real ``z`` checked to lie off the support and given the real value."""
        zz = as_complex_array("z", z)
        scalar = zz.ndim == 0
        zz = np.atleast_1d(zz)
        lower = zz.imag < 0
        w = np.where(lower, zz.conj(), zz)
        real = w.imag == 0
        if np.any(real):
            self._check_off_support(w.real[real])
        out = np.asarray(fn(w), dtype=np.complex128)
        out = np.where(lower, out.conj(), out)
        if np.any(real):
            out[real] = out[real].real
        return out[0] if scalar else out

    def _check_off_support(self, x: np.ndarray) -> None:
        a, b = self.support
        pts, _ = self.atoms
        inside = (x >= a) & (x <= b) & ~self._in_gap(x)
        if len(pts):
            inside |= np.isin(x, pts)
        if np.any(inside):
            bad = x[inside][0]
            raise ValueError(
                f"z = {bad!r} lies on the support [{a}, {b}] of {self!r}, where the Cauchy "
                "transform is undefined; use a point with Im z != 0"
            )

    def _in_gap(self, x: np.ndarray) -> np.ndarray:
        """True where ``x`` is inside the hull but known to be outside the support."""
        return np.zeros(np.shape(x), dtype=bool)

    def _cauchy_derivative(self, z: np.ndarray) -> np.ndarray:
        """G'(z) on C⁺; default: central difference, accurate to ~1e-10 because G is analytic."""
        h = 1e-6 * np.maximum(1.0, np.abs(z))
        return (self._cauchy(z + h) - self._cauchy(z - h)) / (2 * h)

    def f_transform(self, z) -> np.ndarray:
        """Reciprocal Cauchy transform ``F = 1/G``."""
        return 1.0 / self.cauchy(z)

    # -- densities ----------------------------------------------------------------------
    def pdf(self, x) -> np.ndarray | float:
        """Density of the absolutely continuous part (atoms excluded)."""
        xx = as_real_array("x", x)
        scalar = xx.ndim == 0
        out = np.maximum(np.asarray(self._pdf(np.atleast_1d(xx)), dtype=float), 0.0)
        return float(out[0]) if scalar else out

    def _pdf(self, x: np.ndarray) -> np.ndarray:
        # Stieltjes inversion at a height far below the grid resolution of any plot; laws
        # with a solver override this with boundary values.
        a, b = self.support
        eps = 1e-9 * max(1.0, b - a)
        pts, _ = self.atoms
        g = self._cauchy(x + 1j * eps)
        dens = -g.imag / np.pi
        if len(pts):
            dens = np.where(np.isin(x, pts), 0.0, dens)
        return dens

    def cdf(self, x) -> np.ndarray | float:
        """Distribution function ``mu((-inf, x])`` (atoms included)."""
        xx = as_real_array("x", x)
        scalar = xx.ndim == 0
        out = np.clip(np.asarray(self._cdf(np.atleast_1d(xx)), dtype=float), 0.0, 1.0)
        return float(out[0]) if scalar else out

    @property
    def _ac_hull(self) -> tuple[float, float]:
        """Hull of the absolutely continuous part (laws whose atoms sit outside it override)."""
        return self.support

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        a, b = self._ac_hull
        pts, w = self.atoms
        out = (w[None, :] * (pts[None, :] <= x[:, None])).sum(axis=1) if len(pts) else np.zeros(x.shape)
        if not (np.isfinite(a) and np.isfinite(b)) or b <= a:
            for i, xi in enumerate(x):  # unbounded laws without a closed form: adaptive quadrature
                out[i] += self._ac_mass(a, xi)
            return out
        ac_total = 1.0 - (w.sum() if len(w) else 0.0)
        out = out + np.where(x >= b, ac_total, 0.0)
        inside = (x > a) & (x < b)
        if np.any(inside) and ac_total > 1e-15:
            xi = x[inside]
            # t = a + (b−a)(1 − cos θ)/2 absorbs square-root and inverse-square-root edges;
            # integrate from the nearer edge, on panels graded towards it (algebraic edge
            # singularities such as Fuss–Catalan's x^{−s/(s+1)} converge too)
            theta = np.arccos(np.clip(1 - 2 * (xi - a) / (b - a), -1, 1))
            upper = theta > 0.5 * np.pi
            span = np.where(upper, np.pi - theta, theta)
            th = span[:, None] * _EDGE_NODES[None, :]
            th = np.where(upper[:, None], np.pi - th, th)
            t = a + 0.5 * (b - a) * (1 - np.cos(th))
            dens = np.asarray(self._pdf(t.ravel()), dtype=float).reshape(t.shape)
            part = (dens * 0.5 * (b - a) * np.sin(th) * _EDGE_WEIGHTS[None, :]).sum(axis=1) * span
            out[inside] += np.where(upper, ac_total - part, part)
        return out

    def _ac_mass(self, a: float, b: float) -> float:
        """Mass of the absolutely continuous part on [a, b]."""
        if b <= a:
            return 0.0
        val, _ = integrate.quad(lambda t: float(self._pdf(np.array([t]))[0]), a, b, limit=200)
        return val

    def ppf(self, q) -> np.ndarray | float:
        """Quantile function: the smallest ``x`` with ``cdf(x) >= q``, for q in [0, 1]."""
        qq = as_real_array("q", q)
        if np.any((qq < 0) | (qq > 1)):
            raise ValueError("q must lie in [0, 1]")
        scalar = qq.ndim == 0
        out = self._ppf(np.atleast_1d(qq).astype(float))
        return float(out[0]) if scalar else out

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        # vectorised bisection on the hull: the cdf is monotone but may jump at atoms, so
        # bisection (not Newton) finds the smallest x with cdf(x) >= q
        a, b = self.support
        lo = np.full(q.shape, a, dtype=float)
        hi = np.full(q.shape, b, dtype=float)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            right = np.asarray(self._cdf(mid)) >= q
            hi = np.where(right, mid, hi)
            lo = np.where(right, lo, mid)
            if np.all(hi - lo <= 1e-13 * np.maximum(1.0, np.abs(hi))):
                break
        for p in self.atoms[0]:  # a quantile inside a jump is the atom itself, exactly
            hi = np.where((lo <= p) & (p <= hi) | (np.abs(hi - p) <= 4e-13 * max(1.0, abs(p))), p, hi)
        return np.where(q <= 0, a, np.where(q >= 1, b, hi))

    # -- moments and cumulants ----------------------------------------------------------
    def moments(self, n: int) -> np.ndarray:
        """Moments ``m_1, ..., m_n`` as a float array of length ``n``.

        A ``ValueError`` naming the first order whose moment is not a float64 number (the moments of
        a law on [0, 27/4] pass 1.8e308 near order 365), never an ``inf`` or an ``OverflowError``.
        """
        n = _check_order(n)
        with np.errstate(over="ignore", invalid="ignore"):
            m = np.asarray(self._moments(n), dtype=float)
        return finite_moments(m, n, self)

    def _moments(self, n: int) -> np.ndarray:
        a, b = self.support
        pts, w = self.atoms
        k = np.arange(1, n + 1)
        out = np.zeros(n)
        if len(pts):
            out += (w[:, None] * pts[:, None] ** k[None, :]).sum(axis=0)
        ac = 1.0 - (w.sum() if len(w) else 0.0)
        if ac > 1e-14:
            # Gauss-Legendre on the hull after an arcsine change of variable, which absorbs the
            # square-root edges typical of free laws.
            t, wt = np.polynomial.legendre.leggauss(400)
            theta = 0.5 * np.pi * (t + 1)
            x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(theta)
            jac = 0.5 * (b - a) * np.sin(theta) * 0.5 * np.pi
            dens = self._pdf(x) * jac * wt
            out += (dens[:, None] * x[:, None] ** k[None, :]).sum(axis=0)
        return out

    @cached_property
    def mean(self) -> float:
        """First moment."""
        return float(self.moments(1)[0])

    @cached_property
    def var(self) -> float:
        """Variance."""
        m = self.moments(2)
        return float(m[1] - m[0] ** 2)

    def std(self) -> float:
        return float(np.sqrt(self.var))

    def free_cumulants(self, n: int) -> np.ndarray:
        """Free cumulants ``kappa_1, ..., kappa_n`` from the moments."""
        from .combinatorics import moments_to_free_cumulants

        return np.asarray(moments_to_free_cumulants(self.moments(n)), dtype=float)

    def boolean_cumulants(self, n: int) -> np.ndarray:
        """Boolean cumulants ``b_1, ..., b_n`` from the moments."""
        from .combinatorics import moments_to_boolean_cumulants

        return np.asarray(moments_to_boolean_cumulants(self.moments(n)), dtype=float)

    # -- transforms ---------------------------------------------------------------------
    def r_transform(self, w) -> np.ndarray | complex:
        """R-transform ``R(w)`` with ``G(R(w) + 1/w) = w`` (the convention without the factor w).

        Generic route: solve ``G(z) = w`` for ``z`` by Newton's method started at
        ``1/w + mean`` (the branch near infinity) and return ``z - 1/w``.  Valid for ``w`` in the
        domain of the inverse of ``G`` near 0; laws with closed forms override it.
        """
        ww = as_complex_array("w", w)
        scalar = ww.ndim == 0
        ww = np.atleast_1d(ww)
        if np.any(ww == 0):
            out = np.empty_like(ww)
            nz = ww != 0
            out[~nz] = self.mean
            if np.any(nz):
                out[nz] = self._inverse_cauchy(ww[nz]) - 1.0 / ww[nz]
        else:
            out = self._inverse_cauchy(ww) - 1.0 / ww
        return out[0] if scalar else out

    def _inverse_cauchy(self, w: np.ndarray) -> np.ndarray:
        z = 1.0 / w + self.mean
        for _ in range(100):
            g = self._cauchy_any(z)
            dg = self._cauchy_derivative_any(z)
            step = (g - w) / dg
            z = z - step
            if np.all(np.abs(step) <= 1e-14 * np.maximum(1.0, np.abs(z))):
                break
        resid = np.abs(self._cauchy_any(z) - w)
        if np.any(~np.isfinite(resid)) or np.any(resid > 1e-8 * np.maximum(1, np.abs(w))):
            i = int(np.nanargmax(np.where(np.isfinite(resid), resid, np.inf)))
            raise ValueError(
                f"inverse Cauchy transform did not converge at w = {w[i]!r} (residual {resid[i]:.3g}); "
                "w is probably outside the domain where the R-transform is defined"
            )
        return z

    def _cauchy_any(self, z: np.ndarray) -> np.ndarray:
        """``_cauchy`` extended to the lower half-plane by conjugation."""
        lower = z.imag < 0
        w = np.where(lower, z.conj(), z)
        g = self._cauchy(w)
        return np.where(lower, g.conj(), g)

    def _cauchy_derivative_any(self, z: np.ndarray) -> np.ndarray:
        lower = z.imag < 0
        w = np.where(lower, z.conj(), z)
        d = self._cauchy_derivative(w)
        return np.where(lower, d.conj(), d)

    def psi(self, u) -> np.ndarray:
        """Moment generating function ``psi(u) = sum_{n>=1} m_n u^n = G(1/u)/u - 1``."""
        uu = as_complex_array("u", u)
        return self._cauchy_any(1.0 / uu) / uu - 1.0

    def s_transform(self, z) -> np.ndarray | complex:
        """S-transform ``S(z) = chi(z) (1+z)/z`` with ``chi`` the inverse of ``psi``.

        Defined for laws on ``[0, inf)`` with nonzero mean.  Generic route: Newton's method on
        ``psi(u) = z`` started from ``u = z/mean`` (the branch through the origin).
        """
        self._require_positive("s_transform")
        zz = as_complex_array("z", z)
        scalar = zz.ndim == 0
        zz = np.atleast_1d(zz)
        m1 = self.mean
        out = np.empty_like(zz)
        zero = zz == 0
        out[zero] = 1.0 / m1
        if np.any(~zero):
            zn = zz[~zero]
            u = self._inverse_psi(zn)
            out[~zero] = u * (1 + zn) / zn
        return out[0] if scalar else out

    def _inverse_psi(self, z: np.ndarray) -> np.ndarray:
        u = z / self.mean
        for _ in range(100):
            # psi(u) = G(1/u)/u - 1 ;  psi'(u) = -G'(1/u)/u^3 - G(1/u)/u^2
            v = 1.0 / u
            g = self._cauchy_any(v)
            dg = self._cauchy_derivative_any(v)
            f = g * v - 1 - z
            df = -dg * v ** 3 - g * v ** 2
            step = f / df
            u = u - step
            if np.all(np.abs(step) <= 1e-14 * np.maximum(1e-300, np.abs(u))):
                break
        resid = np.abs(self._cauchy_any(1 / u) / u - 1 - z)
        if np.any(~np.isfinite(resid)) or np.any(resid > 1e-8 * np.maximum(1, np.abs(z))):
            i = int(np.nanargmax(np.where(np.isfinite(resid), resid, np.inf)))
            raise ValueError(
                f"inverse of psi did not converge at z = {z[i]!r} (residual {resid[i]:.3g}); "
                "z is probably outside the domain of the S-transform"
            )
        return u

    def _require_positive(self, what: str) -> None:
        a, _ = self.support
        if a < 0:
            raise ValueError(
                f"{what} needs a law supported on [0, inf); {self!r} has support starting at {a}"
            )
        if what == "s_transform" and self.mean == 0:
            raise ValueError(f"{what} needs a law with nonzero mean; {self!r} is the point mass at 0")

    # -- affine maps and pushforwards ---------------------------------------------------
    def scale(self, c: float) -> "Law":
        """Law of ``c X`` (``c`` real, nonzero)."""
        from .affine import affine

        return affine(self, check_real("c", c), 0.0)

    def shift(self, c: float) -> "Law":
        """Law of ``X + c``."""
        from .affine import affine

        return affine(self, 1.0, check_real("c", c))

    def pushforward(self, fn: Callable[[np.ndarray], np.ndarray], name: str | None = None) -> "Law":
        """Law of ``fn(X)`` (``fn`` vectorised, measurable)."""
        from .pushforward import pushforward

        return pushforward(self, fn, name=name)

    # -- display ------------------------------------------------------------------------
    def plot(self, ax=None, grid: int = 800, **kwargs):
        """Plot the density and the atoms (needs matplotlib); returns the axes.

        The density is drawn on the support (the central 99.98 % of an unbounded one) and labelled
        with ``label`` (default ``repr(law)``); each atom is a stem whose height is its mass, labelled
        ``atom at x (mass w)`` (at most :data:`_PLOT_LABELLED_ATOMS` of them one by one, else one entry
        for all).  The legend sits outside the axes, to their right, so it never hides the data.
        Other keyword arguments go to the density line.

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import freeprob as fp
        >>> law = fp.free_poisson(rate=0.5)
        >>> [t.get_text() for t in law.plot().get_legend().get_texts()] == [repr(law), "atom at 0 (mass 0.5)"]
        True
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover
            raise ImportError("Law.plot needs matplotlib: pip install 'freeprob[plot]'") from exc
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
        label = kwargs.pop("label", repr(self))
        pts, w = (np.asarray(v, dtype=float) for v in self.atoms)
        a, b = self.support
        if not np.isfinite(a) or not np.isfinite(b):  # unbounded laws: central 99.98%
            a, b = (self.ppf(1e-4) if not np.isfinite(a) else a), (self.ppf(1 - 1e-4) if not np.isfinite(b) else b)
        pad = 0.05 * max(b - a, 1e-9)
        continuous = 1.0 - float(w.sum()) > 1e-12
        if continuous:
            x = np.linspace(a - pad, b + pad, grid)
            ax.plot(x, self.pdf(x), label=label, **kwargs)
        if len(pts):
            if len(pts) <= _PLOT_LABELLED_ATOMS:
                # one legend entry per atom: a stem of its own colour, so entries and stems match
                for i, (p, m) in enumerate(zip(pts, w)):
                    ax.vlines([p], 0, [m], colors=f"C{i + 1}", linewidth=2, label=f"atom at {p:.4g} (mass {m:.4g})")
                    ax.plot([p], [m], "o", color=f"C{i + 1}")
            else:
                ax.vlines(pts, 0, w, colors="k", linewidth=2, label=f"{len(pts)} atoms (stem height = mass)")
                ax.plot(pts, w, "ko")
        ax.set_xlabel("x")
        ax.set_ylabel("density; atoms: mass" if len(pts) else "density")
        # outside the axes: a legend inside would sit on the density or on an atom
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  title=None if continuous else label)
        return ax

    def __repr__(self) -> str:
        return f"{self.name}()"


#: :meth:`Law.plot` labels this many atoms one by one in its legend (more share one entry).
_PLOT_LABELLED_ATOMS = 6


def _check_order(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return int(n)


# ----------------------------------------------------------------------------- many points at once
def _has_quadrature_cdf(law: Law) -> bool:
    return type(law)._cdf is Law._cdf and bool(np.all(np.isfinite(law.support)))


def _cdf_nodes(law: Law, nodes: int):
    """Nodes x and values F_ac(x) of the absolutely continuous part's cdf, for interpolation.

    Laws with the generic per-point quadrature: cumulative Simpson of the density on
    x = (a+b)/2 − (b−a)/2·cos θ (square-root edges become smooth in θ), renormalised to the
    absolutely continuous mass.  Solver laws (:class:`freeprob.SolvedLaw`): their exact cdf (a contour
    integral of G) at cosine-spaced nodes of every interval of the support.
    """
    from scipy.integrate import cumulative_simpson

    from .solved import SolvedLaw

    pts, mass = (np.asarray(v, dtype=float) for v in law.atoms)
    if isinstance(law, SolvedLaw):
        ivs = [iv for iv in law.intervals if np.isfinite(iv[0]) and np.isfinite(iv[1])]
        if not ivs:
            return np.array([0.0]), np.array([0.0]), pts, mass
        per = max(32, min(nodes, 4001) // (16 * len(ivs)))   # each node is one exact contour cdf
        th = np.linspace(0.0, np.pi, per)
        xs = np.unique(np.concatenate([0.5 * (u + v) - 0.5 * (v - u) * np.cos(th) for u, v in ivs]))
        jumps = (mass[None, :] * (pts[None, :] <= xs[:, None])).sum(axis=1) if len(pts) else 0.0
        c = np.maximum.accumulate(np.asarray(law.cdf(xs), dtype=float) - jumps)
        return xs, c, pts, mass
    a, b = (float(v) for v in law.support)
    theta = np.linspace(0.0, np.pi, nodes)
    x = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(theta)
    integrand = np.asarray(law.pdf(x), dtype=float) * 0.5 * (b - a) * np.sin(theta)
    c = cumulative_simpson(integrand, x=theta, initial=0.0)
    c = np.maximum.accumulate(np.maximum(c, 0.0))
    ac = 1.0 - float(mass.sum()) if len(mass) else 1.0
    if c[-1] > 0:
        c *= ac / c[-1]
    return x, c, pts, mass


def fast_cdf(law: Law, nodes: int = 4001) -> Callable[[np.ndarray], np.ndarray]:
    """A distribution function for many points at once (KS distances over thousands of eigenvalues).

    Laws with a closed-form cdf return ``law.cdf`` itself.  Otherwise :math:`F` is tabulated once
    (``_cdf_nodes``) and interpolated linearly between nodes, with the atoms as exact jumps: about
    1e-7 where the density lives on the whole hull, 1e-5 at interior edges (measured against
    mpmath), far below Monte-Carlo KS distances.
    """
    from .solved import SolvedLaw

    if not (_has_quadrature_cdf(law) or isinstance(law, SolvedLaw)):
        return law.cdf
    if isinstance(law, SolvedLaw):
        table = []

        def solved_cdf(t):
            # a few hundred points: the exact cdf itself; more: one table, built on first use
            t = np.asarray(t, dtype=float)
            if t.size <= 4096:
                return np.asarray(law.cdf(t), dtype=float)
            if not table:
                table.append(_cdf_nodes(law, nodes))
            xs, cs, p_, m_ = table[0]
            out = np.interp(t, xs, cs, left=0.0, right=cs[-1])
            if len(p_):
                out = out + (m_[None, :] * (p_[None, :] <= t.reshape(-1, 1))).sum(axis=1).reshape(t.shape)
            return np.clip(out, 0.0, 1.0)

        return solved_cdf
    x, c, pts, mass = _cdf_nodes(law, nodes)

    def cdf(t):
        t = np.asarray(t, dtype=float)
        out = np.interp(t, x, c, left=0.0, right=c[-1])
        if len(pts):
            out = out + (mass[None, :] * (pts[None, :] <= t.reshape(-1, 1))).sum(axis=1).reshape(t.shape)
        return np.clip(out, 0.0, 1.0)

    return cdf


def fast_ppf(law: Law, q, nodes: int = 4001) -> np.ndarray:
    """Quantiles for many probabilities at once: the inverse of :func:`fast_cdf` (atoms exact)."""
    from .solved import SolvedLaw

    if not (_has_quadrature_cdf(law) or isinstance(law, SolvedLaw)):
        return np.asarray(law.ppf(q), dtype=float)
    if isinstance(law, SolvedLaw):
        from .quantile import require_mass

        require_mass(law)           # a law that lost mass says so instead of returning wrong quantiles
    x, c, pts, mass = _cdf_nodes(law, nodes)
    cdf = fast_cdf(law, nodes)
    # one monotone table of (x, F(x)) with every atom present twice, as (p, F(p-)) and (p, F(p)):
    # the smallest x with F(x) >= q is then one search and one linear interpolation away, and
    # lands exactly on p for every q inside the jump
    xs = np.concatenate([x, pts, pts])
    fs = np.concatenate([cdf(x), cdf(pts) - mass, cdf(pts)])
    order = np.lexsort((fs, xs))
    xs, fs = xs[order], np.maximum.accumulate(fs[order])
    q = np.asarray(q, dtype=float)
    j = np.clip(np.searchsorted(fs, q, side="left"), 1, len(fs) - 1)
    f0, f1, x0, x1 = fs[j - 1], fs[j], xs[j - 1], xs[j]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(f1 > f0, (q - f0) / (f1 - f0), 1.0)
    return x0 + np.clip(t, 0.0, 1.0) * (x1 - x0)
