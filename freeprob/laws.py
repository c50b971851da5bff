r"""Built-in laws with closed forms.

Every constructor validates its parameters once and returns an immutable :class:`~freeprob.law.Law`.
Formulas follow the conventions of :mod:`freeprob.law` (``G ~ 1/z``, ``Im G < 0`` on C⁺, square
roots split as ``sqrt(z-a) sqrt(z-b)`` with principal branches).
"""
from __future__ import annotations

import numpy as np

from . import cauchy_kernels as ck
from .law import Law, as_real_array, check_positive, check_real, finite_moments

__all__ = ["Semicircle", "Atoms", "FreePoisson", "Arcsine", "Uniform", "KestenMcKay", "semicircle", "atoms",
           "marchenko_pastur", "free_poisson", "bernoulli", "Bernoulli", "arcsine", "uniform", "kesten_mckay"]


def _sqrt_cut(z: np.ndarray, a: float, b: float) -> np.ndarray:
    # sqrt(z−a)·sqrt(z−b) from the halves, so that z − a cannot overflow for |z|, |a| near 1e308
    # (scaling by 1/2 keeps each principal branch)
    return 2.0 * (np.sqrt(0.5 * z - 0.5 * a) * np.sqrt(0.5 * z - 0.5 * b))


def _float_moments(n: int, centred, mean: float, law) -> np.ndarray:
    """m_1..m_n of ``X + mean`` from the centred moments ``centred[0..n]`` (floats), binomially.

    Binomial coefficients are carried as floats (row by row), so a large ``n`` overflows to inf,
    which :func:`freeprob.law.finite_moments` reports, instead of raising an OverflowError from int -> float.
    """
    c = np.asarray(centred, dtype=float)
    if mean == 0.0:
        return finite_moments(c[1:], n, law)
    out = np.empty(n)
    row = np.array([1.0])
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(1, n + 1):
            row = np.concatenate([[1.0], row[1:] + row[:-1], [1.0]]) if j > 1 else np.array([1.0, 1.0])
            i = np.arange(j + 1)
            out[j - 1] = np.sum(row * c[: j + 1] * mean ** (j - i))
    return finite_moments(out, n, law)


#: narrowest support of a closed-form law: below it the density (~1/width) overflows float64
MIN_WIDTH = 1e-300


def _check_interval(a: float, b: float) -> None:
    if not a < b:
        raise ValueError(f"a must be < b, got a={a!r}, b={b!r}")
    if not (0.5 * b - 0.5 * a) * 2 >= MIN_WIDTH:
        raise ValueError(f"b - a must be >= {MIN_WIDTH:g} (the density would overflow float64), got a={a!r}, b={b!r}")


def _fraction(x, lo: float, hi: float):
    """(x − lo)/(hi − lo) clipped to [0, 1], without overflow for hi − lo beyond 1.8e308."""
    with np.errstate(over="ignore", invalid="ignore"):
        w = hi - lo
        t = (x - lo) / w if np.isfinite(w) else (0.5 * x - 0.5 * lo) / (0.5 * hi - 0.5 * lo)
    return np.clip(t, 0.0, 1.0)


def _quadratic_root(u: np.ndarray, s: np.ndarray, denom: np.ndarray) -> np.ndarray:
    """``(u - s)/denom`` where ``(u - s)(u + s) = 2 denom``, without cancellation.

    Far from the support ``u`` and ``s`` nearly agree and ``u - s`` loses every digit; there
    the equivalent ``2/(u + s)`` is exact.  Near a pole of ``1/(u + s)`` (an atom) the first
    form is the stable one, so pick per point.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        far = np.abs(u + s) >= np.abs(u - s)
        return np.where(far, 2.0 / np.where(far, u + s, 1.0), (u - s) / np.where(far, 1.0, denom))


class Semicircle(Law):
    r"""Wigner's semicircle law with mean ``mean`` and variance ``var`` = σ².

    .. math:: \rho(x) = \frac{\sqrt{4\sigma^2 - (x-m)^2}}{2\pi\sigma^2},\qquad
              G(z) = \frac{(z-m) - \sqrt{(z-m)^2 - 4\sigma^2}}{2\sigma^2},\qquad R(w) = m + \sigma^2 w.

    >>> import freeprob as fp
    >>> mu = fp.semicircle(var=1.0)
    >>> complex(mu.cauchy(1 + 1j))  # doctest: +ELLIPSIS
    (0.25706586412167...-0.52908551363574...j)
    """

    name = "semicircle"

    def __init__(self, var: float = 1.0, mean: float = 0.0):
        self._var = check_positive("var", var)
        self._mean = check_real("mean", mean)
        self._r = 2.0 * float(np.sqrt(self._var))
        self._freeze()

    @property
    def support(self):
        return (self._mean - self._r, self._mean + self._r)

    def _cauchy(self, z):
        w = z - self._mean
        # (w - s)(w + s) = 4 var
        return _quadratic_root(w, _sqrt_cut(w, -self._r, self._r), 2 * self._var)

    def _cauchy_derivative(self, z):
        g = self._cauchy(z)
        return -g * g / (1 - self._var * g * g)

    def _t(self, x):
        # (x − m)/r with halves, so that x − m cannot overflow for parameters near 1e308
        with np.errstate(over="ignore", invalid="ignore"):
            return np.clip((0.5 * x - 0.5 * self._mean) / (0.5 * self._r), -1, 1)

    def _pdf(self, x):
        # sqrt(4σ² − (x−m)²)/(2πσ²) = (2/(π r)) sqrt(1 − t²) with r = 2σ: no σ² that could overflow
        t = self._t(x)
        return 2.0 / (np.pi * self._r) * np.sqrt(1 - t * t)

    def _cdf(self, x):
        t = self._t(x)
        return 0.5 + (t * np.sqrt(1 - t * t) + np.arcsin(t)) / np.pi

    def _ppf(self, q):
        # bisection for t in [−1, 1] on the closed-form cdf, then x = m + r t: no overflow of the
        # midpoint for a mean near 1e308, and 60 halvings reach the spacing of doubles in t
        lo, hi = np.full(q.shape, -1.0), np.full(q.shape, 1.0)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            right = 0.5 + (mid * np.sqrt(1 - mid * mid) + np.arcsin(mid)) / np.pi >= q
            hi, lo = np.where(right, mid, hi), np.where(right, lo, mid)
        return self._mean + self._r * hi

    def _moments(self, n):
        # moments of the centred law: m_{2k} = var^k Catalan(k), by Catalan(k) = Catalan(k−1)·2(2k−1)/(k+1)
        # in floats; then binomial shift by the mean
        c = np.zeros(n + 1)
        c[0] = 1.0
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(1, n // 2 + 1):
                c[2 * k] = c[2 * k - 2] * self._var * 2 * (2 * k - 1) / (k + 1)
        return _float_moments(n, c, self._mean, self)

    @property
    def mean(self):
        return self._mean

    @property
    def var(self):
        return self._var

    def r_transform(self, w):
        from .law import as_complex_array

        ww = as_complex_array("w", w)
        return self._mean + self._var * ww

    def _kernel_spec(self):
        return ck.SEMICIRCLE, np.array([self._mean, self._var])

    def __repr__(self):
        return f"semicircle(var={self._var:g}, mean={self._mean:g})"


class Atoms(Law):
    r"""A finitely supported law :math:`\sum_i w_i \delta_{p_i}`.

    .. math:: G(z) = \sum_i \frac{w_i}{z - p_i}.

    Repeated points are merged; zero weights dropped.

    >>> import freeprob as fp
    >>> fp.atoms([0, 1], [0.25, 0.75]).moments(3)
    array([0.75, 0.75, 0.75])
    """

    name = "atoms"

    def __init__(self, points, weights=None):
        p = as_real_array("points", points).ravel()
        if p.size == 0:
            raise ValueError("points must contain at least one point")
        if not np.all(np.isfinite(p)):
            raise ValueError("points must be finite")
        if weights is None:
            w = np.full(p.size, 1.0 / p.size)
        else:
            w = as_real_array("weights", weights).ravel()
            if w.shape != p.shape:
                raise ValueError(f"weights must have the same length as points ({p.size}), got {w.size}")
            if np.any(w < 0):
                raise ValueError("weights must lie in [0, 1]")
            if abs(w.sum() - 1.0) > 1e-10:
                raise ValueError(f"weights must sum to 1 (got sum {w.sum():.12g})")
            w = w / w.sum()
        uniq, inv = np.unique(p, return_inverse=True)
        ww = np.zeros(uniq.size)
        np.add.at(ww, inv, w)
        keep = ww > 0
        self._points = uniq[keep]
        self._weights = ww[keep]
        self._points.setflags(write=False)
        self._weights.setflags(write=False)
        self._freeze()

    @property
    def support(self):
        return (float(self._points[0]), float(self._points[-1]))

    @property
    def atoms(self):
        return self._points, self._weights

    def _in_gap(self, x):
        return ~np.isin(x, self._points)

    def _cauchy(self, z):
        return (self._weights[None, :] / (np.asarray(z)[..., None] - self._points[None, :])).sum(axis=-1)

    def _cauchy_derivative(self, z):
        return -(self._weights[None, :] / (np.asarray(z)[..., None] - self._points[None, :]) ** 2).sum(axis=-1)

    def _pdf(self, x):
        return np.zeros_like(x)

    def _cdf(self, x):
        return (self._weights[None, :] * (self._points[None, :] <= x[:, None])).sum(axis=1)

    def _moments(self, n):
        k = np.arange(1, n + 1)
        with np.errstate(over="ignore", invalid="ignore"):
            m = (self._weights[:, None] * self._points[:, None] ** k[None, :]).sum(axis=0)
        return finite_moments(m, n, self)

    def _kernel_spec(self):
        return ck.ATOMS, np.concatenate([self._points, self._weights])

    def __repr__(self):
        if self._points.size <= 4:
            return f"atoms({self._points.tolist()}, {self._weights.tolist()})"
        return f"atoms(<{self._points.size} points>)"


def semicircle(var: float = 1.0, mean: float = 0.0) -> Semicircle:
    """Semicircle law of variance ``var`` > 0 centred at ``mean``."""
    return Semicircle(var=var, mean=mean)


def atoms(points, weights=None) -> Atoms:
    """Discrete law with the given ``points`` and ``weights`` (summing to 1; uniform if omitted)."""
    return Atoms(points, weights)


class FreePoisson(Law):
    r"""Free Poisson law with rate λ and jump size α (Marchenko–Pastur family).

    .. math:: G(z) = \frac{z + \alpha(1-\lambda) - \sqrt{(z-a)(z-b)}}{2\alpha z},\quad
              a, b = \alpha(1\mp\sqrt\lambda)^2,\qquad R(w) = \frac{\lambda\alpha}{1-\alpha w},\quad
              S(z) = \frac{1}{\alpha(\lambda+z)}.

    Atom at 0 of mass :math:`1-\lambda` when λ < 1.  Free cumulants :math:`\kappa_n = \lambda\alpha^n`.

    >>> import freeprob as fp
    >>> fp.free_poisson(rate=2.0, jump=1.0).moments(3)
    array([ 2.,  6., 22.])
    """

    name = "free_poisson"

    def __init__(self, rate: float = 1.0, jump: float = 1.0):
        self._lam = check_positive("rate", rate)
        self._alpha = check_positive("jump", jump)
        self._a = float(self._alpha * (1 - np.sqrt(self._lam)) ** 2)
        with np.errstate(over="ignore"):
            self._b = float(self._alpha * (1 + np.sqrt(self._lam)) ** 2)
        # the Cauchy transform multiplies α by z ~ b: keep both far from the float64 limit
        if not self._b <= 1e150:
            raise ValueError(f"rate and jump must give a support edge jump*(1 + sqrt(rate))^2 <= 1e150, got "
                             f"rate={rate!r}, jump={jump!r}")
        if not 4 * self._alpha * np.sqrt(self._lam) >= MIN_WIDTH:
            raise ValueError(f"rate and jump must give a support width 4*jump*sqrt(rate) >= {MIN_WIDTH:g}, got "
                             f"rate={rate!r}, jump={jump!r}")
        self._freeze()

    @property
    def support(self):
        return (0.0 if self._lam < 1 else self._a, self._b)

    @property
    def atoms(self):
        if self._lam < 1:
            return np.array([0.0]), np.array([1.0 - self._lam])
        return np.empty(0), np.empty(0)

    def _in_gap(self, x):
        return (x > 0) & (x < self._a)

    @property
    def _ac_hull(self):
        return (self._a, self._b)

    def _cauchy(self, z):
        al, lam = self._alpha, self._lam
        # u = z + α(1−λ), s = sqrt((z−a)(z−b)):  (u − s)(u + s) = 4αz
        return _quadratic_root(z + al * (1 - lam), _sqrt_cut(z, self._a, self._b), 2 * al * z)

    def _cauchy_derivative(self, z):
        # differentiate the quadratic  α z G² − (z + α(1−λ)) G + 1 = 0
        g = self._cauchy(z)
        al, lam = self._alpha, self._lam
        return -(al * g * g - g) / (2 * al * z * g - (z + al * (1 - lam)))

    def _pdf(self, x):
        u = np.clip((self._b - x) * (x - self._a), 0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.sqrt(u) / (2 * np.pi * self._alpha * x)
        return np.where((x > self._a) & (x < self._b) & (x > 0), d, 0.0)

    def _cdf(self, x):
        # closed form (a quadrature of the density loses the mass when the support is narrower
        # than the grid, e.g. ratio 1e-33): x = c − h cos φ with c, h the centre and half-width,
        #   F_ac = min(1, λ) φ/π + [2√λ sin φ + |1−λ| (φ − 2 arctan2(√b sin(φ/2), √a cos(φ/2)))] / 2π,
        # exact at both edges (φ = 0, π), plus the atom 1 − λ at 0 when λ < 1
        lam, a, b = self._lam, self._a, self._b
        c, h = 0.5 * a + 0.5 * b, 0.5 * b - 0.5 * a
        if h > 0:
            phi = np.arccos(np.clip((c - x) / h, -1, 1))
        else:  # a support narrower than a float spacing: a step at c
            phi = np.where(x >= c, np.pi, 0.0)
        tail = 2 * np.sqrt(lam) * np.sin(phi) + abs(1 - lam) * (
            phi - 2 * np.arctan2(np.sqrt(b) * np.sin(0.5 * phi), np.sqrt(a) * np.cos(0.5 * phi)))
        mass = min(1.0, lam)
        ac = np.clip(mass * phi / np.pi + tail / (2 * np.pi), 0.0, mass)
        atom = np.where(x >= 0, 1.0 - lam, 0.0) if lam < 1 else 0.0
        return ac + atom

    def _moments(self, n):
        # m_n = α^n Σ_k N(n,k) λ^k with the Narayana numbers N(n,k) = C(n,k) C(n,k−1)/n (non-crossing
        # partitions by blocks), summed in logarithms: O(n²), an overflow is reported
        if n <= 2:
            # N(1,1) = N(2,1) = N(2,2) = 1: what every ⊞/⊠ asks of an input for its frame
            m1 = self._alpha * self._lam
            return np.array([m1, m1 * self._alpha * (1.0 + self._lam)])[:n]
        from scipy.special import gammaln

        la, ll = np.log(self._alpha), np.log(self._lam)
        out = np.zeros(n)
        for m in range(1, n + 1):
            k = np.arange(1, m + 1)
            logs = (2 * gammaln(m + 1) - gammaln(k + 1) - gammaln(m - k + 1) - gammaln(k) - gammaln(m - k + 2)
                    - np.log(m) + k * ll + m * la)
            top = logs.max()
            with np.errstate(over="ignore"):
                out[m - 1] = np.exp(top) * np.exp(logs - top).sum() if top < 709 else np.inf
            if not np.isfinite(out[m - 1]):
                out[m - 1:] = np.inf
                break
        return finite_moments(out, n, self)

    def r_transform(self, w):
        from .law import as_complex_array

        ww = as_complex_array("w", w)
        return self._lam * self._alpha / (1 - self._alpha * ww)

    def s_transform(self, z):
        from .law import as_complex_array

        zz = as_complex_array("z", z)
        return 1.0 / (self._alpha * (self._lam + zz))

    @property
    def mean(self):
        return self._lam * self._alpha

    @property
    def var(self):
        return self._lam * self._alpha ** 2

    def _kernel_spec(self):
        return ck.FREE_POISSON, np.array([self._lam, self._alpha])

    def __repr__(self):
        return f"free_poisson(rate={self._lam:g}, jump={self._alpha:g})"


class Arcsine(Law):
    r"""Arcsine law on [a, b]: :math:`\rho(x) = 1/(\pi\sqrt{(x-a)(b-x)})`, :math:`G(z) = 1/\sqrt{(z-a)(z-b)}`.

    >>> import freeprob as fp
    >>> fp.arcsine(-2, 2).moments(4)
    array([0., 2., 0., 6.])
    """

    name = "arcsine"

    def __init__(self, a: float = -2.0, b: float = 2.0):
        self._lo = check_real("a", a)
        self._hi = check_real("b", b)
        _check_interval(self._lo, self._hi)
        self._freeze()

    @property
    def support(self):
        return (self._lo, self._hi)

    def _cauchy(self, z):
        return 1.0 / _sqrt_cut(z, self._lo, self._hi)

    def _cauchy_derivative(self, z):
        c = 0.5 * (self._lo + self._hi)
        return -(z - c) / _sqrt_cut(z, self._lo, self._hi) ** 3

    def _pdf(self, x):
        # 1/(π sqrt(x−a) sqrt(b−x)): two square roots, so that the product cannot overflow
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = 1.0 / (np.pi * np.sqrt(x - self._lo) * np.sqrt(self._hi - x))
        return np.where((x > self._lo) & (x < self._hi), d, 0.0)

    def _cdf(self, x):
        return 2.0 / np.pi * np.arcsin(np.sqrt(_fraction(x, self._lo, self._hi)))

    def _ppf(self, q):
        # invert F = (2/π) arcsin sqrt(t): t = sin²(πq/2), x = a(1 − t) + b t (no b − a overflow)
        t = np.sin(0.5 * np.pi * q) ** 2
        return self._lo * (1 - t) + self._hi * t

    def _moments(self, n):
        # centred law on [-r, r]: m_{2k} = r^{2k} binom(2k, k) / 4^k, by binom(2k,k)/4^k =
        # binom(2k−2,k−1)/4^(k−1) · (2k−1)/(2k), in floats; shift binomially
        c, r = 0.5 * self._lo + 0.5 * self._hi, 0.5 * self._hi - 0.5 * self._lo
        cm = np.zeros(n + 1)
        cm[0] = 1.0
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(1, n // 2 + 1):
                cm[2 * k] = cm[2 * k - 2] * r * r * (2 * k - 1) / (2 * k)
        return _float_moments(n, cm, c, self)

    def _kernel_spec(self):
        return ck.ARCSINE, np.array([self._lo, self._hi])

    def __repr__(self):
        return f"arcsine(a={self._lo:g}, b={self._hi:g})"


def marchenko_pastur(ratio: float = 1.0, var: float = 1.0) -> FreePoisson:
    """Marchenko–Pastur law of ``(var/M) X Xᵀ`` with X N×M Gaussian and N/M → ``ratio`` > 0.

    Same family as :func:`free_poisson` with rate ``1/ratio`` and jump ``ratio*var``; an atom of
    mass ``1 - 1/ratio`` sits at 0 when ``ratio > 1``.
    """
    c = check_positive("ratio", ratio)
    v = check_positive("var", var)
    return FreePoisson(rate=1.0 / c, jump=c * v)


def free_poisson(rate: float = 1.0, jump: float = 1.0) -> FreePoisson:
    """Free Poisson law with ``rate`` λ > 0 and ``jump`` α > 0."""
    return FreePoisson(rate=rate, jump=jump)


class Bernoulli(Atoms):
    """Bernoulli law on {0, 1} with ``P(1) = p``: :class:`Atoms` that remembers its parameter.

    >>> import freeprob as fp
    >>> fp.bernoulli(0.3)
    bernoulli(p=0.3)
    """

    name = "bernoulli"

    def __init__(self, p: float = 0.5):
        p = check_real("p", p)
        if not 0 <= p <= 1:
            raise ValueError(f"p must lie in [0, 1], got {p!r}")
        object.__setattr__(self, "_p", p)
        super().__init__([0.0, 1.0], [1.0 - p, p])

    @property
    def p(self) -> float:
        return self._p

    def __reduce__(self):
        return (Bernoulli, (self._p,))

    def __repr__(self):
        return f"bernoulli(p={self._p:g})"


def bernoulli(p: float = 0.5) -> Bernoulli:
    """Bernoulli law on {0, 1} with ``P(1) = p``, ``p`` in [0, 1]."""
    return Bernoulli(p)


def arcsine(a: float = -2.0, b: float = 2.0) -> Arcsine:
    """Arcsine law on [a, b] (a < b)."""
    return Arcsine(a, b)


def _log1p_complex(u: np.ndarray) -> np.ndarray:
    """log(1 + u) accurate for small complex u (numpy's complex log1p is log(1 + u) verbatim).

    Kahan's device: with w = fl(1 + u), log(w)·u/(w − 1) cancels the rounding of 1 + u.
    """
    w = 1.0 + u
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w == 1.0, u, np.log(w) * u / (w - 1.0))


class Uniform(Law):
    r"""Uniform law on [a, b].

    .. math:: G(z) = \frac{1}{b-a}\log\frac{z-a}{z-b}
                   = \frac{1}{b-a}\operatorname{log1p}\frac{b-a}{z-b},\qquad
              R(w) = m + c\left(\coth(cw) - \frac{1}{cw}\right),

    with :math:`m = (a+b)/2`, :math:`c = (b-a)/2`; the principal logarithm is the right branch on
    :math:`\mathbb C^+` because :math:`\arg(z-a) - \arg(z-b)\in(-\pi, 0)` there.

    >>> import freeprob as fp
    >>> fp.uniform(-1, 1).moments(4)
    array([0.        , 0.33333333, 0.        , 0.2       ])
    """

    name = "uniform"

    def __init__(self, a: float = 0.0, b: float = 1.0):
        self._lo = check_real("a", a)
        self._hi = check_real("b", b)
        _check_interval(self._lo, self._hi)
        self._freeze()

    @property
    def support(self):
        return (self._lo, self._hi)

    def _cauchy(self, z):
        L = self._hi - self._lo
        return _log1p_complex(L / (z - self._hi)) / L

    def _cauchy_derivative(self, z):
        return -1.0 / ((z - self._hi) * (z - self._lo))

    # b − a overflows for a = −1e308, b = 1e308; the half-width does not
    def _pdf(self, x):
        return np.where((x >= self._lo) & (x <= self._hi), 0.5 / (0.5 * self._hi - 0.5 * self._lo), 0.0)

    def _cdf(self, x):
        return _fraction(x, self._lo, self._hi)

    def _ppf(self, q):
        return (1 - q) * self._lo + q * self._hi

    def _kernel_spec(self):
        return ck.UNIFORM, np.array([self._lo, self._hi])

    def _moments(self, n):
        # centred law on [−c, c]: m_{2k} = c^{2k}/(2k+1); shift binomially
        m, c = 0.5 * self._lo + 0.5 * self._hi, 0.5 * self._hi - 0.5 * self._lo
        cm = np.zeros(n + 1)
        cm[0] = 1.0
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(1, n // 2 + 1):
                cm[2 * k] = np.float64(c) ** (2 * k) / (2 * k + 1)  # numpy power: inf, not OverflowError
        return _float_moments(n, cm, m, self)

    def r_transform(self, w):
        from .law import as_complex_array

        ww = as_complex_array("w", w)
        m, c = 0.5 * (self._lo + self._hi), 0.5 * (self._hi - self._lo)
        cw = c * ww
        small = np.abs(cw) < 1e-3
        with np.errstate(divide="ignore", invalid="ignore"):
            exact = 1.0 / np.tanh(np.where(small, 1.0, cw)) - 1.0 / np.where(small, 1.0, cw)
        # coth u − 1/u = u/3 − u³/45 + 2u⁵/945 near 0
        series = cw / 3 - cw ** 3 / 45 + 2 * cw ** 5 / 945
        return m + c * np.where(small, series, exact)

    def __repr__(self):
        return f"uniform(a={self._lo:g}, b={self._hi:g})"


class KestenMcKay(Law):
    r"""Kesten–McKay law of degree d ≥ 2 (spectral law of the infinite d-regular tree).

    .. math:: \rho(x) = \frac{d\sqrt{4(d-1)-x^2}}{2\pi(d^2-x^2)},\quad |x|\le 2\sqrt{d-1},\qquad
              G(z) = \frac{(d-2)z - d\sqrt{z^2-4(d-1)}}{2(d^2-z^2)}
                   = \frac{2(d-1)}{(d-2)z + d\sqrt{z^2-4(d-1)}},

    the second form having no removable pole at ±d.  It is the d-fold free additive convolution
    :math:`\mathrm{KM}(d) = \beta^{\boxplus d}` of the symmetric Bernoulli law β on {−1, 1};
    d = 2 is the arcsine law on [−2, 2].

    >>> import freeprob as fp
    >>> fp.kesten_mckay(3).moments(6)[1::2].round(8)
    array([ 3., 15., 87.])
    """

    name = "kesten_mckay"

    def __init__(self, d: float = 3.0):
        d = check_real("d", d)
        if d < 2:
            raise ValueError(f"d must lie in [2, inf), got {d!r}")
        self._d = d
        self._r = 2.0 * float(np.sqrt(d - 1))
        self._freeze()

    @property
    def support(self):
        return (-self._r, self._r)

    def _cauchy(self, z):
        # numerator and denominator divided by d, so that d·sqrt(z² − r²) cannot overflow for d ~ 1e308
        d = self._d
        return (2 - 2 / d) / ((1 - 2 / d) * z + _sqrt_cut(z, -self._r, self._r))

    def _cauchy_derivative(self, z):
        d = self._d
        s = _sqrt_cut(z, -self._r, self._r)
        den = (1 - 2 / d) * z + s
        return -(2 - 2 / d) * ((1 - 2 / d) + z / s) / den ** 2

    def _pdf(self, x):
        # r sqrt(1 − (x/r)²) / (2π (d − x²/d)): the same density without r² or d² (overflow near 1e308);
        # d − x²/d > 0 inside the support (d² − r² = (d−2)² ≥ 0), at d = 2 the pole sits on the edges
        d, r = self._d, self._r
        inside = np.abs(x) < r
        u = np.where(inside, x / r, 0.0)
        xi = np.where(inside, x, 0.0)
        return np.where(inside, r * np.sqrt(1 - u * u) / (2 * np.pi * (d - xi * (xi / d))), 0.0)

    def _cdf(self, x):
        # x = r sin θ:  ∫ρ = (d/2π)[θ − ((d−2)/d) arctan((d−2) tan θ / d)] + 1/2, written with arctan2
        # so that θ = ±π/2 is exact; d = 2 gives the arcsine law 1/2 + θ/π
        d = self._d
        th = np.arcsin(np.clip(x / self._r, -1, 1))
        return 0.5 + d / (2 * np.pi) * (th - (d - 2) / d * np.arctan2((d - 2) * np.sin(th), d * np.cos(th)))

    def _moments(self, n):
        # closed walks of length 2k from the root of the d-regular tree:
        #   m_2k = Σ_{j=1..k} j/(2k−j) · C(2k−j, k) · d^j (d−1)^(k−j),
        # summed in logarithms (an overflow is reported, not silent; O(n²) instead of the O(n³)
        # moment–cumulant recursion)
        from scipy.special import gammaln

        d = self._d
        out = np.zeros(n)
        ld, ld1 = np.log(d), (np.log(d - 1) if d > 1 else -np.inf)
        for k in range(1, n // 2 + 1):
            j = np.arange(1, k + 1)
            logs = (np.log(j) - np.log(2 * k - j) + gammaln(2 * k - j + 1) - gammaln(k + 1) - gammaln(k - j + 1)
                    + j * ld + np.where(k - j > 0, (k - j) * ld1, 0.0))
            top = logs.max()
            with np.errstate(over="ignore"):
                out[2 * k - 1] = np.exp(top) * np.exp(logs - top).sum() if top < 710 else np.inf
            if not np.isfinite(out[2 * k - 1]):
                out[2 * k - 1:] = np.inf  # higher orders are larger still
                break
        return finite_moments(out, n, self)

    def __repr__(self):
        return f"kesten_mckay(d={self._d:g})"


def uniform(a: float = 0.0, b: float = 1.0) -> Uniform:
    """Uniform law on [a, b] (a < b)."""
    return Uniform(a, b)


def kesten_mckay(d: float = 3.0) -> KestenMcKay:
    """Kesten–McKay law with degree ``d`` >= 2."""
    return KestenMcKay(d)
