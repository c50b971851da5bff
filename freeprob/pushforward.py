r"""Pushforward of a law through a function: the law of :math:`Y = f(X)`.

The mean-field theory of deep networks needs laws such as that of :math:`\varphi'(h)^2` with
:math:`h\sim N(0, q^*)`; these mix atoms (ReLU: masses at 0 and 1; hard-tanh likewise) with
densities (tanh).  The construction works in quantile coordinates: with
:math:`g(u) = f(F_X^{-1}(u))` on :math:`(0, 1)`,

.. math:: \mathbb E\,h(Y) = \int_0^1 h(g(u))\,du .

:math:`g` is scanned on a fine grid (``scan`` uniform points plus points graded geometrically
towards ``u = 0`` and ``u = 1``, 8 a decade, down to a distance ``1e-15``) and split into

* **plateaus** (``g`` constant on an interval of ``u``, on at least three scan points that agree
  to 64 ulps of their value — relative, so a plateau at 0 is exact zeros): atoms of :math:`Y`
  whose mass is the length of the interval, its ends located by bisection to ``1e-13`` (absolute;
  near ``u = 1`` the spacing of doubles, 1.1e-16, is the floor).  The rule is the exact one — an
  atom at ``c`` iff ``f = c`` on a set of positive mass — applied to ``f`` itself, not to its
  rounding.  A smooth ``f`` that only tends to ``c`` is also exactly ``c`` in floating point
  far enough out (φ'(h)² of tanh underflows to 0 for ``|h| > 186``; that of gelu, softplus, silu
  rounds to 1 for large ``h``), and such a stretch must not become an atom (tanh at ``q = 1000``
  gave one of mass 3.4e-9 at 0; gelu at ``q = 1000`` one of 0.41 at 1).  They differ in how ``g``
  leaves ``c`` beside the plateau: on a true constant piece joined to the rest of ``f`` by a jump
  (relu, hard-tanh) or at order ``k`` (``c + a(h - h_0)^k``) the band where
  ``|g - c| <= R(c) = 2^10 max(eps |c|, tiny)`` has width ``(R/a)^{1/k}``: none, 4e-14 (elu-like
  kink at 1, k = 1), 1.5e-5 (k = 3) beside a plateau of mass 1/2; beside a rounding plateau ``g`` creeps away
  from ``c`` through that band over a stretch comparable with the plateau itself (ratio 6.6 for tanh
  at ``q = 1000``, 1e-2 at ``q = 1e6``, 7e-4 for gelu at ``q = 1e5``).  A plateau is an atom when,
  beside each of its ends inside ``(0, 1)``, that band holds at most 1e-4 of the plateau's mass;
  otherwise its stretch stays in the neighbouring monotone piece.  (Not separated: joins of order
  ``k >= 4`` at ``c != 0``, which lose their atom, and a rounding plateau that holds almost all the
  mass — tanh at ``q = 1e11`` has 0.9995 of it where φ'² < 1e-300 and reports that as an atom at
  0; no atom up to ``q = 1e9``.)  The ends of an atom at ``c != 0`` with a join of order ``k`` are
  off by the width ``(64 eps)^{1/k}`` where ``g`` rounds to ``c`` (1e-5 of mass for ``k = 3``).
  Which atoms are found:

  - a plateau that reaches an end of ``(0, 1)`` — an atom carried by a tail of :math:`X`, such as
    :math:`\varphi'(h)^2 = 0` on :math:`|h| > 1` for hard-tanh, of mass
    :math:`\operatorname{erfc}(1/\sqrt{2q})` — is found when its tail holds more than ~2e-15
    (three graded points); a smaller tail (hard-tanh at ``q <= 0.015``: 3e-16 … 1.5e-23 at
    ``q = 0.01``) is below the rounding of the total mass and is absorbed by the neighbouring atom
    or piece (an error of at most its mass);
  - a plateau inside ``(0, 1)`` (ReLU's ``h < 0``) is found when it holds at least ``4/scan``
    of mass (surely three uniform points); a smaller interior one needs a larger ``scan``.

  Atoms of mass below ``1e-14`` are then dropped (total mass ``1 - 1e-14`` at worst);
* **monotone pieces** (split where the sign of the increments changes), on which

  .. math:: P(Y\le y) = \bigl|\{u: g(u)\le y\}\bigr|, \qquad
            \rho_Y(y) = \sum_{u:\,g(u)=y} \frac{1}{|g'(u)|},

  the crossing point found by vectorised bisection; the Cauchy transform and the moments are
  Gauss–Legendre sums over panels graded towards the ends of each piece.

Accuracy: atoms and the cdf to ~1e-12; ``G(z)`` and moments to ~1e-10 when ``f`` is smooth on
each piece and ``Im z`` is not tiny compared with the piece's range; jumps of ``f`` inside a
monotone piece are resolved only to the scan resolution (``1/scan``) in the Cauchy transform.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .law import Law

__all__ = ["PushforwardLaw", "pushforward"]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(24)

# geometric scan of the tails: distance to u = 0 or 1 from _TAIL_MIN (above the spacing 1.1e-16 of
# doubles below 1, so 1 - v is exact enough and the base ppf stays finite) to the uniform grid
_TAIL_MIN = 1e-15
_BELOW_ONE = float(np.nextafter(1.0, 0.0))
_TAIL_PER_DECADE = 8

# atoms (module docstring): scan points are flat when they agree to 64 ulps of their values; a
# plateau of value c is an atom unless, beside one of its ends, g stays within
# R(c) = 2^10 max(eps |c|, tiny) of c on a band wider than 1e-4 of the plateau's own mass
_EPS = float(np.finfo(float).eps)
_TINY = float(np.finfo(float).tiny)
_FLAT = 64 * _EPS
_BAND_ULPS = 2.0 ** 10
_BAND_SHARE = 1e-4


def _tail_count(n_uni: int) -> int:
    return int(np.ceil(_TAIL_PER_DECADE * np.log10(0.5 / n_uni / _TAIL_MIN))) + 1


def _graded_panels(a: float, b: float, n: int) -> np.ndarray:
    """Panel edges on [a, b], geometrically refined towards both ends (where g may blow up)."""
    ratio = np.geomspace(1e-14, 0.5, n)
    left = a + (b - a) * ratio
    right = b - (b - a) * ratio[::-1]
    return np.unique(np.concatenate([[a], left, right, [b]]))


# one reference rule on [0, 1], graded towards both ends, reused for every near-axis point
_REF_EDGES = _graded_panels(0.0, 1.0, 14)
_REF_NODES = (0.5 * (_REF_EDGES[1:] + _REF_EDGES[:-1])[:, None]
              + 0.5 * (_REF_EDGES[1:] - _REF_EDGES[:-1])[:, None] * _GL_NODES).ravel()
_REF_WEIGHTS = (0.5 * (_REF_EDGES[1:] - _REF_EDGES[:-1])[:, None] * _GL_WEIGHTS).ravel()


class PushforwardLaw(Law):
    """Law of ``fn(X)`` for ``X`` distributed as ``base``; see the module docstring for the method.

    Parameters
    ----------
    base : Law
        Law of X; needs an accurate vectorised ``ppf`` (closed forms do; the generic bisection works).
    fn : callable
        Vectorised real function (numpy array in, array out).
    name : str, optional
        Short name for ``repr``.
    scan : int
        Number of quantile points used to detect plateaus and monotone pieces.

    >>> import numpy as np, freeprob as fp
    >>> relu_slope2 = fp.normal(var=1.3).pushforward(lambda h: (h > 0).astype(float))
    >>> relu_slope2.atoms
    (array([0., 1.]), array([0.5, 0.5]))
    >>> hard_tanh_slope2 = fp.normal(var=0.0955).pushforward(lambda h: (np.abs(h) < 1).astype(float))
    >>> pts, w = hard_tanh_slope2.atoms      # mass at 0: P(|h| > 1) = erfc(1/sqrt(2 q)) ≈ 1.2e-3
    >>> pts, [round(float(m), 10) for m in w]
    (array([0., 1.]), [0.0012124966, 0.9987875034])
    >>> tanh_slope2 = fp.normal(var=0.5).pushforward(lambda h: 1 / np.cosh(h) ** 4)
    >>> round(float(tanh_slope2.moments(1)[0]), 8)  # E[sech⁴ h], h ~ N(0, 1/2)
    0.59242579
    """

    name = "pushforward"

    def __init__(self, base: Law, fn: Callable[[np.ndarray], np.ndarray], name: str | None = None,
                 scan: int = 4096):
        if not isinstance(base, Law):
            raise ValueError(f"base must be a freeprob Law, got {type(base).__name__}")
        if not callable(fn):
            raise ValueError("fn must be callable (a vectorised function of a numpy array)")
        if int(scan) < 64:
            raise ValueError(f"scan must be an integer >= 64, got {scan!r}")
        self.base, self.fn, self._label, self._scan = base, fn, name, int(scan)
        self._build()
        self._freeze()

    # -- construction -------------------------------------------------------------------
    def _g(self, u):
        # quadrature nodes within 1.1e-16 of u = 1 round to 1.0, where the ppf of an unbounded
        # base is +inf (fn(inf) non-finite for fn = identity); the nearest double below 1 holds
        # the same point of the rule to within its weight's rounding
        u = np.minimum(np.asarray(u, dtype=float), _BELOW_ONE)
        y = np.asarray(self.fn(self.base.ppf(u)), dtype=float)
        if y.shape != u.shape:
            y = np.broadcast_to(y, u.shape).astype(float)
        if not np.all(np.isfinite(y)):
            bad = u[~np.isfinite(y)][0]
            raise ValueError(f"fn returned a non-finite value at x = {self.base.ppf(bad)!r}")
        return y

    def _build(self):
        # uniform points plus points graded geometrically towards u = 0 and u = 1 (distance
        # _TAIL_MIN … 1/(2 scan), _TAIL_PER_DECADE a decade): a plateau that reaches an end of
        # (0, 1) — an atom of Y carried by a tail of X, e.g. φ'² of hard-tanh on |h| > 1 — is
        # found however little mass it holds, down to ~2 _TAIL_MIN (three tail points on it)
        n_uni = self._scan
        v = np.geomspace(_TAIL_MIN, 0.5 / n_uni, _tail_count(n_uni))[:-1]
        u = np.concatenate([v, (np.arange(n_uni) + 0.5) / n_uni, (1.0 - v)[::-1]])
        m = u.size
        y = self._g(u)
        dy = np.abs(np.diff(y))
        # flat[i]: g(u_i) == g(u_{i+1}) up to the rounding of the values themselves (relative, so
        # exact equality at 0): a tail where g is tiny but not constant (sech⁴ h ~ 1e-13 at |h| = 8,
        # or anywhere in the bulk of N(0, 30)) does not merge into a false atom
        flat = dy <= _FLAT * np.maximum(np.abs(y[:-1]), np.abs(y[1:]))
        atoms: dict[float, float] = {}
        pieces = []
        cursor = 0.0                             # left end of the current non-flat stretch
        i = 0
        while i < m - 1:
            if not flat[i]:
                i += 1
                continue
            j = i
            while j < m - 1 and flat[j]:
                j += 1
            # scan points i..j share one value; two equal increments in a row rule out the
            # accidental equality of a symmetric pair around an extremum
            if j - i >= 2:
                c = float(y[i])
                tol = _FLAT * abs(c)
                left = 0.0 if i == 0 else self._plateau_edge(u[i - 1], u[i], c, tol, plateau_on_right=True)
                right = 1.0 if j == m - 1 else self._plateau_edge(u[j], u[j + 1], c, tol, plateau_on_right=False)
                resolved = all(self._band(u, y, k, edge, step, c) <= _BAND_SHARE * (right - left)
                               for k, edge, step in ((i - 1, left, -1), (j + 1, right, 1)) if 0 <= k < m)
                if resolved:
                    if left > cursor:
                        pieces.extend(self._monotone_split(cursor, left))
                    atoms[c] = atoms.get(c, 0.0) + (right - left)
                    cursor = right
            i = j
        if cursor < 1.0:
            pieces.extend(self._monotone_split(cursor, 1.0))
        pts = np.array(sorted(atoms)) if atoms else np.empty(0)
        ws = np.array([atoms[p] for p in pts]) if atoms else np.empty(0)
        keep = ws > 1e-14
        self._atom_pts, self._atom_w = pts[keep], ws[keep]
        self._pieces = pieces
        # Gauss–Legendre rule of every piece (uniform panels plus grading towards its ends)
        self._piece_rules, self._piece_range = [], []
        for a, b in pieces:
            e = np.unique(np.concatenate([_graded_panels(a, b, 12), np.linspace(a, b, 65)]))
            un = (0.5 * (e[1:] + e[:-1])[:, None] + 0.5 * (e[1:] - e[:-1])[:, None] * _GL_NODES).ravel()
            wn = (0.5 * (e[1:] - e[:-1])[:, None] * _GL_WEIGHTS).ravel()
            gx = self._g(un)
            self._piece_rules.append((gx, wn))
            self._piece_range.append((float(gx.min()), float(gx.max())))
        vals = [v for r in self._piece_range for v in r] + list(self._atom_pts)
        self._hull = (float(min(vals)), float(max(vals)))

    def _plateau_edge(self, lo: float, hi: float, c: float, tol: float, plateau_on_right: bool) -> float:
        """Bisection for the end of the plateau ``g == c`` between the scan points lo and hi."""
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            on = abs(self._g(np.array([mid]))[0] - c) <= tol
            if on == plateau_on_right:
                hi = mid
            else:
                lo = mid
        return 0.5 * (lo + hi)

    def _band(self, u: np.ndarray, y: np.ndarray, k: int, edge: float, step: int, c: float) -> float:
        """Width in u of the band beside a plateau edge where g is within ``R(c)`` of the plateau value
        (module docstring, *Atoms*): the scan points from index k outward (direction ``step``) while
        they stay in the band, then bisection between the last one in and the first one out."""
        band = _BAND_ULPS * max(_EPS * abs(c), _TINY)
        inside = edge
        while 0 <= k < u.size and abs(y[k] - c) <= band:
            inside, k = float(u[k]), k + step
        if not 0 <= k < u.size:                   # in the band up to an end of (0, 1)
            return abs((0.0 if k < 0 else 1.0) - edge)
        lo, hi = inside, float(u[k])              # lo in the band, hi out of it
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if abs(self._g(np.array([mid]))[0] - c) <= band:
                lo = mid
            else:
                hi = mid
        return abs(lo - edge)

    def _monotone_split(self, a: float, b: float):
        """Split [a, b] where the increments of g change sign (extrema located by bisection)."""
        uu = np.linspace(a, b, 257)[1:-1]
        yy = self._g(uu)
        d = np.sign(np.diff(yy))
        d[d == 0] = 1
        cuts = [a]
        for k in np.nonzero(d[1:] != d[:-1])[0]:
            lo, hi = uu[k], uu[k + 2]
            # golden-section on the extremum: maximise (d = +1 then -1) or minimise
            sgn = d[k]
            for _ in range(80):
                m1, m2 = lo + (hi - lo) * 0.382, lo + (hi - lo) * 0.618
                f1, f2 = sgn * self._g(np.array([m1, m2]))
                if f1 < f2:
                    lo = m1
                else:
                    hi = m2
            cuts.append(0.5 * (lo + hi))
        cuts.append(b)
        return [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)]

    # -- the Law interface ----------------------------------------------------------------
    @property
    def support(self):
        return self._hull

    @property
    def atoms(self):
        return self._atom_pts.copy(), self._atom_w.copy()

    def _cauchy(self, z):
        return self._cauchy_power(np.asarray(z), 1)

    def _cauchy_derivative(self, z):
        return -self._cauchy_power(np.asarray(z), 2)

    def _cauchy_power(self, z: np.ndarray, k: int) -> np.ndarray:
        r""":math:`\int d\mu(y)/(z-y)^k` for k = 1 (G) or 2 (−G')."""
        flat = z.reshape(-1)
        out = np.zeros(flat.shape, dtype=complex)
        for p, w in zip(self._atom_pts, self._atom_w):
            out += w / (flat - p) ** k
        for idx, (a, b) in enumerate(self._pieces):
            lo, hi = self._piece_range[idx]
            near = flat.imag < 0.25 * max(hi - lo, 1e-300)
            qx, qw = self._piece_rules[idx]
            far = ~near
            if np.any(far):
                out[far] += (qw[None, :] / (flat[far, None] - qx[None, :]) ** k).sum(axis=1)
            if np.any(near):
                # the integrand peaks at the crossing u* (g(u*) = Re z): grade the panels there
                ustar, _, _ = self._crossings(flat[near].real, a, b)
                un = np.concatenate([a + (ustar - a)[:, None] * _REF_NODES[None, :],
                                     ustar[:, None] + (b - ustar)[:, None] * _REF_NODES[None, :]], axis=1)
                wn = np.concatenate([(ustar - a)[:, None] * _REF_WEIGHTS[None, :],
                                     (b - ustar)[:, None] * _REF_WEIGHTS[None, :]], axis=1)
                gx = self._g(un)
                out[near] += (wn / (flat[near, None] - gx) ** k).sum(axis=1)
        return out.reshape(z.shape)

    def _crossings(self, y: np.ndarray, a: float, b: float):
        """On the monotone piece (a, b): u* with g(u*) = y (clipped to the ends), and a mask."""
        ga, gb = self._g(np.array([a + 1e-13 * (b - a), b - 1e-13 * (b - a)]))
        inc = gb >= ga
        lo = np.full(y.shape, a)
        hi = np.full(y.shape, b)
        for _ in range(55):
            mid = 0.5 * (lo + hi)
            gm = self._g(mid)
            below = gm <= y if inc else gm > y
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        inside = (y > min(ga, gb)) & (y < max(ga, gb))
        return 0.5 * (lo + hi), inc, inside

    def _cdf(self, x):
        out = np.zeros(x.shape)
        for p, w in zip(self._atom_pts, self._atom_w):
            out += w * (p <= x)
        for a, b in self._pieces:
            ustar, inc, _ = self._crossings(x, a, b)
            # measure of {u in (a,b): g(u) <= x}
            out += (ustar - a) if inc else (b - ustar)
        return out

    def _pdf(self, x):
        out = np.zeros(x.shape)
        for a, b in self._pieces:
            ustar, _, inside = self._crossings(x, a, b)
            if not np.any(inside):
                continue
            h = 1e-6 * np.minimum(np.minimum(ustar - a, b - ustar), 1.0)
            h = np.maximum(h, 1e-15)
            slope = (self._g(np.clip(ustar + h, a, b)) - self._g(np.clip(ustar - h, a, b))) / (2 * h)
            with np.errstate(divide="ignore"):
                out += np.where(inside & (slope != 0), 1.0 / np.abs(slope), 0.0)
        return out

    def _moments(self, n):
        k = np.arange(1, n + 1)
        out = (self._atom_w[:, None] * self._atom_pts[:, None] ** k[None, :]).sum(axis=0)
        for gx, wn in self._piece_rules:
            out = out + (wn[:, None] * gx[:, None] ** k[None, :]).sum(axis=0)
        return out

    def __repr__(self):
        label = self._label or getattr(self.fn, "__name__", "f")
        return f"pushforward({self.base!r}, {label})"


def pushforward(law: Law, fn: Callable[[np.ndarray], np.ndarray], name: str | None = None,
                scan: int = 4096) -> PushforwardLaw:
    """Law of ``fn(X)`` with ``X ~ law`` (atoms where ``fn`` is constant on a set of positive mass)."""
    return PushforwardLaw(law, fn, name=name, scan=scan)
