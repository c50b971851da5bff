r"""Mean-field signal propagation through a random deep network (Poole et al. 2016; Schoenholz et al. 2017).

Model: :math:`h^{l} = W^{l}x^{l-1} + b^{l}`, :math:`x^l=\varphi(h^l)`, weight entries of variance
:math:`\sigma_w^2/N`, biases of variance :math:`\sigma_b^2`.  With :math:`z, z_1, z_2` independent
standard normals:

* length map :math:`q^{l} = \sigma_w^2 E[\varphi(\sqrt{q^{l-1}}z)^2] + \sigma_b^2`, fixed point :math:`q^*`;
* correlation map, at :math:`q^*`:
  :math:`c^{l} = (\sigma_w^2 E[\varphi(u_1)\varphi(u_2)] + \sigma_b^2)/q^*`,
  :math:`u_1=\sqrt{q^*}z_1`, :math:`u_2=\sqrt{q^*}(c^{l-1}z_1+\sqrt{1-(c^{l-1})^2}z_2)`;
* :math:`\chi_1 = \sigma_w^2E[\varphi'(\sqrt{q^*}z)^2]` (ordered phase :math:`\chi_1<1`, chaotic
  :math:`\chi_1>1`), :math:`\chi_c = \sigma_w^2 E[\varphi'(u_1)\varphi'(u_2)]` at :math:`c^*`;
* depth scales :math:`\xi_q^{-1} = -\log(\chi_1 + \sigma_w^2E[\varphi''\varphi])`,
  :math:`\xi_c^{-1} = -\log\chi_c(c^*)` (infinite at criticality).

Every function broadcasts over arrays of ``sigma_w2`` and ``sigma_b2`` (grids included).
"""
from __future__ import annotations

import warnings

import numpy as np

from .activations import activation
from scipy.interpolate import CubicSpline

from .gaussian_integrals import activation_kernel, activation_moments, hermite_coefficients

__all__ = ["q_map", "q_star", "c_map", "c_star", "chi1", "chi_c", "depth_scales", "critical_sigma_w2",
           "phase_diagram", "trainability_depth", "PhaseDiagram", "tabulated_mean_field"]

_Q_INF_PROBE = 1e12  # where q* diverges (unbounded φ, chaotic side) moments are taken at this q


def _variances(sigma_w2, sigma_b2):
    sw = np.asarray(sigma_w2, dtype=float)
    sb = np.asarray(sigma_b2, dtype=float)
    if np.any(~np.isfinite(sw)) or np.any(sw <= 0):
        raise ValueError(f"sigma_w2 must lie in (0, inf), got {sigma_w2!r}")
    if np.any(~np.isfinite(sb)) or np.any(sb < 0):
        raise ValueError(f"sigma_b2 must lie in [0, inf), got {sigma_b2!r}")
    return np.broadcast_arrays(sw, sb)


def _out(a):
    a = np.asarray(a, float)
    return float(a) if a.ndim == 0 else a


def q_map(act, q, sigma_w2, sigma_b2):
    r"""One layer of the length map, :math:`\sigma_w^2E[\varphi(\sqrt q z)^2]+\sigma_b^2`.

    >>> import nn_spectra as ns
    >>> ns.q_map("relu", 3.0, 2.0, 0.1)
    3.1
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    qa = np.asarray(q, float)
    if np.any(~np.isfinite(qa)) or np.any(qa < 0):
        raise ValueError(f"q must lie in [0, inf), got {q!r}")
    e2, _, _ = activation_moments(act, qa)
    return _out(sw * e2 + sb)


def _g_and_slope(act, q, sw, sb):
    e2, d2, e11 = activation_moments(act, q)
    # d/dq E[φ(√q z)²] = E[φ'²] + E[φφ''] (Gaussian integration by parts, Dirac masses included)
    return sw * e2 + sb - q, sw * (d2 + e11) - 1.0


def q_star(act, sigma_w2, sigma_b2, q0: float = 1.0, return_trajectory: bool = False, *, depth: int = 50,
           tol: float = 1e-13, max_iter: int = 200):
    r"""Fixed point :math:`q^*` of the length map reached from :math:`q^0` = ``q0``.

    The length map is increasing in :math:`q`, so its iterates move monotonically to the nearest
    stable fixed point in the direction of :math:`q^1-q^0`.  That point is found by safeguarded Newton
    steps inside a sign-changing bracket (bisection when a step leaves it), not by iterating.
    Where the iterates grow without bound (unbounded φ deep in the chaotic phase, e.g. relu with
    :math:`\sigma_w^2>2`) the result is ``inf`` with a ``RuntimeWarning``.

    Parameters
    ----------
    act : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Weight and bias variances (broadcast together).
    q0 : float
        Initial squared length per neuron, :math:`q^0 > 0`.
    return_trajectory : bool
        Also return the iterates :math:`q^0, q^1, \dots, q^{\mathrm{depth}}` (array of shape
        ``(depth + 1,) + grid shape``).
    depth : int
        Number of layers of the returned trajectory.

    Returns
    -------
    q_star : float or numpy.ndarray
    trajectory : numpy.ndarray, only with ``return_trajectory``

    Examples
    --------
    >>> import nn_spectra as ns
    >>> round(ns.q_star("relu", 1.0, 0.5), 12)          # q = q/2 + 1/2
    1.0
    >>> round(ns.q_star("erf", 2.0, 0.0) , 6) > 0         # chaotic: nonzero length
    True
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    q0 = float(q0)
    if not (np.isfinite(q0) and q0 > 0):
        raise ValueError(f"q0 must lie in (0, inf), got {q0!r}")
    shape = sw.shape
    sw, sb = sw.ravel().copy(), sb.ravel().copy()
    g0, _ = _g_and_slope(act, np.full(sw.shape, q0), sw, sb)
    res = np.full(sw.shape, np.nan)
    done = np.abs(g0) <= tol * max(1.0, q0)
    res[done] = q0
    up = (~done) & (g0 > 0)
    lo = np.where(up, q0, 0.0)
    hi = np.full(sw.shape, q0)
    # grow the bracket until the map falls below the diagonal; unbounded growth means q* = inf
    grow = up.copy()
    for _ in range(200):
        if not grow.any():
            break
        hi[grow] *= 16.0
        g, _ = _g_and_slope(act, hi[grow], sw[grow], sb[grow])
        still = g >= 0
        idx = np.flatnonzero(grow)
        lo[idx[still]] = hi[idx[still]]
        grow[idx[~still]] = False
        too_big = hi > 1e150
        res[grow & too_big] = np.inf
        grow &= ~too_big
    res[grow] = np.inf
    todo = np.flatnonzero(np.isnan(res))
    if todo.size:
        a, b, ssw, ssb = lo[todo], hi[todo], sw[todo], sb[todo]
        x = np.where(g0[todo] > 0, b, 0.5 * (a + b))
        x = np.where(a > 0, x, b)  # start from the upper end when the bracket touches 0
        conv = np.zeros(todo.size, bool)
        resid = np.full(todo.size, np.inf)
        for _ in range(max_iter):
            g, dg = _g_and_slope(act, x, ssw, ssb)
            resid = np.abs(g)
            conv = resid <= tol * np.maximum(1.0, x)
            if conv.all():
                break
            # keep the invariant g(a) >= 0 > g(b); the root is a stable fixed point (g decreasing)
            a = np.where(g >= 0, x, a)
            b = np.where(g < 0, x, b)
            with np.errstate(divide="ignore", invalid="ignore"):
                xn = x - g / dg
            bad = ~np.isfinite(xn) | (xn <= a) | (xn >= b)
            x = np.where(conv, x, np.where(bad, 0.5 * (a + b), xn))
            conv |= (b - a) <= 1e-15 * np.maximum(1.0, b)
        if not conv.all():
            i = int(np.argmax(resid))
            warnings.warn(f"q_star did not converge at sigma_w2={ssw[i]}, sigma_b2={ssb[i]}: residual {resid[i]:.3g}",
                          RuntimeWarning, stacklevel=2)
        res[todo] = x
    if np.isinf(res).any():
        i = int(np.flatnonzero(np.isinf(res))[0])
        warnings.warn(f"the length map diverges (q* = inf) at {int(np.isinf(res).sum())} point(s), "
                      f"e.g. sigma_w2={sw[i]}, sigma_b2={sb[i]}", RuntimeWarning, stacklevel=2)
    out = _out(res.reshape(shape))
    if not return_trajectory:
        return out
    if int(depth) < 0:
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    traj = [np.full(sw.shape, q0)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(depth)):
            nxt = sw * activation_moments(act, np.minimum(traj[-1], 1e300))[0] + sb
            traj.append(np.where(np.isfinite(nxt), nxt, np.inf))
    return out, np.stack(traj).reshape((int(depth) + 1,) + shape)


def _qstar_or(act, q, sw, sb):
    if q is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = q_star(act, sw, sb)
    q = np.broadcast_to(np.asarray(q, float), sw.shape)
    if np.any(q < 0) or np.any(np.isnan(q)):
        raise ValueError(f"q must lie in [0, inf], got {q!r}")
    return np.where(np.isinf(q), _Q_INF_PROBE, q)


def chi1(act, sigma_w2, sigma_b2, q=None):
    r""":math:`\chi_1 = \sigma_w^2 E[\varphi'(\sqrt q z)^2]` at ``q`` (default :math:`q^*`).

    The slope of the correlation map at :math:`c=1`; the order/chaos transition is :math:`\chi_1=1`.

    >>> import nn_spectra as ns
    >>> ns.chi1("relu", 1.5, 0.0)
    0.75
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    qq = _qstar_or(act, q, sw, sb)
    return _out(sw * activation_moments(act, qq)[1])


def c_map(act, c, sigma_w2, sigma_b2, q=None):
    r"""One layer of the correlation map at equal lengths ``q`` (default :math:`q^*`).

    :math:`c\mapsto(\sigma_w^2E[\varphi(u_1)\varphi(u_2)]+\sigma_b^2)/q'` with
    :math:`q'=\sigma_w^2E[\varphi(\sqrt q z)^2]+\sigma_b^2` (:math:`=q^*` at the fixed point).

    >>> import nn_spectra as ns
    >>> round(ns.c_map("relu", 0.0, 2.0, 0.0, q=1.0), 12)      # 1/π
    0.318309886184
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    ca = np.asarray(c, float)
    if np.any(~np.isfinite(ca)) or np.any(np.abs(ca) > 1):
        raise ValueError(f"c must lie in [-1, 1], got {c!r}")
    sw, sb, ca = np.broadcast_arrays(sw, sb, ca)
    qq = _qstar_or(act, q, sw, sb)
    k, _ = activation_kernel(act, qq, qq, ca * qq)
    qn = sw * activation_moments(act, qq)[0] + sb
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(qn > 0, (sw * k + sb) / np.where(qn > 0, qn, 1.0), 1.0)
    return _out(np.clip(out, -1.0, 1.0))


def chi_c(act, c, sigma_w2, sigma_b2, q=None):
    r""":math:`\chi_c=\sigma_w^2E[\varphi'(u_1)\varphi'(u_2)]` at correlation ``c`` and length ``q`` (default :math:`q^*`).

    >>> import nn_spectra as ns
    >>> round(ns.chi_c("relu", 1.0, 2.0, 0.0), 12)
    1.0
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    ca = np.asarray(c, float)
    if np.any(~np.isfinite(ca)) or np.any(np.abs(ca) > 1):
        raise ValueError(f"c must lie in [-1, 1], got {c!r}")
    sw, sb, ca = np.broadcast_arrays(sw, sb, ca)
    qq = _qstar_or(act, q, sw, sb)
    _, kd = activation_kernel(act, qq, qq, ca * qq)
    return _out(sw * kd)


def c_star(act, sigma_w2, sigma_b2, q=None, *, tol: float = 1e-12, max_iter: int = 100):
    r"""Stable fixed point :math:`c^*` of the correlation map.

    :math:`c^*=1` in the ordered phase (:math:`\chi_1\le 1`); in the chaotic phase the other fixed point
    in [−1, 1), found by safeguarded Newton steps (slope :math:`\chi_c`) in the bracket
    :math:`[-1, 1-10^{-9}]`.

    >>> import nn_spectra as ns
    >>> ns.c_star("tanh", 1.0, 0.05)
    1.0
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    shape = sw.shape
    qq = _qstar_or(act, q, sw, sb).ravel()
    sw, sb = sw.ravel(), sb.ravel()
    x1 = sw * activation_moments(act, qq)[1]
    res = np.ones(sw.shape)
    idx = np.flatnonzero(x1 > 1.0)
    if idx.size:
        s, b_, qv = sw[idx], sb[idx], qq[idx]
        qn = s * activation_moments(act, qv)[0] + b_

        def g(c):
            k, kd = activation_kernel(act, qv, qv, c * qv)
            return (s * k + b_) / qn - c, s * kd * qv / qn - 1.0

        a = -np.ones(idx.size)
        b = np.full(idx.size, 1 - 1e-9)
        gb, _ = g(b)
        at_one = gb >= 0  # chaotic only up to rounding: the map does not cross below the diagonal
        x = np.zeros(idx.size)
        conv = at_one.copy()
        x[at_one] = 1.0
        resid = np.zeros(idx.size)
        for _ in range(max_iter):
            if conv.all():
                break
            gx, dg = g(x)
            resid = np.where(conv, 0.0, np.abs(gx))
            conv |= resid <= tol
            a = np.where(gx >= 0, x, a)
            b = np.where(gx < 0, x, b)
            with np.errstate(divide="ignore", invalid="ignore"):
                xn = x - gx / dg
            bad = ~np.isfinite(xn) | (xn <= a) | (xn >= b)
            x = np.where(conv, x, np.where(bad, 0.5 * (a + b), xn))
            conv |= (b - a) <= 1e-15
        if not conv.all():
            i = int(np.argmax(resid))
            warnings.warn(f"c_star did not converge at sigma_w2={s[i]}, sigma_b2={b_[i]}: residual {resid[i]:.3g}",
                          RuntimeWarning, stacklevel=2)
        res[idx] = x
    return _out(res.reshape(shape))


def depth_scales(act, sigma_w2, sigma_b2):
    r"""Depth scales :math:`(\xi_q, \xi_c)` over which lengths and correlations approach their fixed points.

    :math:`\xi_q^{-1}=-\log(\chi_1+\sigma_w^2E[\varphi''\varphi])`, :math:`\xi_c^{-1}=-\log\chi_c(c^*)`;
    both are ``inf`` where the slope reaches 1 (criticality).  In the ordered phase :math:`c^*=1`
    and :math:`\chi_c(c^*)=\chi_1`.

    >>> import nn_spectra as ns
    >>> xi_q, xi_c = ns.depth_scales("relu", 1.0, 0.1)
    >>> bool(abs(xi_c - 1 / np.log(2)) < 1e-12)      # ordered: ξ_c = −1/log χ₁, χ₁ = 1/2
    True
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    qq = _qstar_or(act, None, sw, sb)
    e2, d2, e11 = activation_moments(act, qq)
    slope_q = sw * (d2 + e11)
    cs = np.asarray(c_star(act, sw, sb, q=qq), float)
    _, kd = activation_kernel(act, qq, qq, cs * qq)
    slope_c = sw * kd
    return _out(_xi(slope_q)), _out(_xi(slope_c))


def _xi(slope):
    slope = np.asarray(slope, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log(np.abs(slope))
        return np.where(lg < -1e-14, -1.0 / np.where(lg < -1e-14, lg, -1.0), np.inf)


def critical_sigma_w2(act, sigma_b2, *, tol: float = 1e-10, max_iter: int = 200):
    r"""The critical line: :math:`\sigma_w^2` with :math:`\chi_1(\sigma_w^2,\sigma_b^2)=1` at each ``sigma_b2``.

    Found by bisection in :math:`\log\sigma_w^2` (χ₁ at the fixed point increases with σ_w²), each
    evaluation solving for :math:`q^*`.

    >>> import nn_spectra as ns
    >>> round(ns.critical_sigma_w2("relu", 0.0), 9)
    2.0
    """
    act = activation(act)
    sb = np.asarray(sigma_b2, float)
    if np.any(~np.isfinite(sb)) or np.any(sb < 0):
        raise ValueError(f"sigma_b2 must lie in [0, inf), got {sigma_b2!r}")
    shape = sb.shape
    sb = sb.ravel()

    def f(s):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(chi1(act, s, sb), float) - 1.0

    lo = np.full(sb.shape, 1e-3)
    hi = np.full(sb.shape, 1.0)
    for _ in range(60):
        fh = f(hi)
        need = fh < 0
        if not need.any():
            break
        lo = np.where(need, hi, lo)
        hi = np.where(need, hi * 2.0, hi)
    else:
        raise ValueError(f"no critical point found for activation {act.name!r} up to sigma_w2={hi.max():.3g}")
    for _ in range(max_iter):
        mid = np.sqrt(lo * hi)
        fm = f(mid)
        lo = np.where(fm < 0, mid, lo)
        hi = np.where(fm < 0, hi, mid)
        if np.all(hi - lo <= tol * hi):
            break
    return _out((0.5 * (lo + hi)).reshape(shape))


class PhaseDiagram:
    """Arrays of a mean-field phase diagram on a (σ_w², σ_b²) grid; ``plot()`` draws it.

    Attributes
    ----------
    sigma_w2, sigma_b2 : numpy.ndarray
        The grid (2-D arrays, ``indexing="xy"``: rows are σ_b², columns σ_w²).
    q_star, chi1, xi_c : numpy.ndarray
        Fixed-point length, χ₁ and correlation depth scale on the grid.
    critical_sigma_b2, critical_sigma_w2 : numpy.ndarray
        Points of the critical line χ₁ = 1.
    """

    def __init__(self, act, sigma_w2, sigma_b2, q_star, chi1, xi_c, crit_b2, crit_w2):
        self.activation = act
        self.sigma_w2, self.sigma_b2 = sigma_w2, sigma_b2
        self.q_star, self.chi1, self.xi_c = q_star, chi1, xi_c
        self.critical_sigma_b2, self.critical_sigma_w2 = crit_b2, crit_w2

    def plot(self, ax=None, trainability: bool = False, depth_factor: float = 6.0):
        """Ordered (χ₁ < 1) and chaotic regions, the critical line, and optionally ``depth_factor``·ξ_c."""
        if ax is None:
            from matplotlib.figure import Figure
            ax = Figure(figsize=(5, 3.6), layout="constrained").subplots()
        im = ax.pcolormesh(self.sigma_w2, self.sigma_b2, np.log(self.chi1), cmap="RdBu_r",
                           vmin=-1.0, vmax=1.0, shading="auto")
        ax.figure.colorbar(im, ax=ax, label="log χ₁  (< 0 ordered, > 0 chaotic)")
        ax.plot(self.critical_sigma_w2, self.critical_sigma_b2, "k-", lw=2, label="χ₁ = 1")
        if trainability:
            cs = ax.contour(self.sigma_w2, self.sigma_b2, depth_factor * self.xi_c, levels=[10, 20, 50, 100, 200],
                            colors="0.3", linewidths=0.8)
            ax.clabel(cs, fontsize="x-small", fmt=lambda v: f"{depth_factor:g}ξ_c={v:g}")
        ax.set_xlabel("σ_w²")
        ax.set_ylabel("σ_b²")
        ax.set_title(f"{self.activation.name}: order / chaos")
        ax.legend(fontsize="small", loc="upper left")
        return ax


def phase_diagram(act, sigma_w2=(0.5, 4.0), sigma_b2=(0.0, 0.3), n: int = 50, *, with_xi_c: bool = True):
    r"""q*, χ₁ and ξ_c on an ``n`` × ``n`` grid of (σ_w², σ_b²) and the critical line χ₁ = 1.

    Parameters
    ----------
    act : str or Activation
    sigma_w2, sigma_b2 : (float, float) or 1-D array
        Ranges (``n`` points each, inclusive) or explicit grid values.
    with_xi_c : bool
        Compute the correlation depth scale (needs c* in the chaotic phase, the costly part).

    Built-in activations use :func:`tabulated_mean_field` (Gaussian integrals tabulated once in
    :math:`\sqrt q`, Mehler series for the correlation map); custom ones the pointwise solvers.

    Returns
    -------
    PhaseDiagram

    Examples
    --------
    >>> import nn_spectra as ns
    >>> pd = ns.phase_diagram("relu", (1.0, 3.0), (0.0, 0.2), n=5)
    >>> pd.chi1[0, :].round(3).tolist()
    [0.5, 0.75, 1.0, 1.25, 1.5]
    """
    act = activation(act)
    w = np.linspace(*sigma_w2, int(n)) if np.size(sigma_w2) == 2 else np.asarray(sigma_w2, float)
    b = np.linspace(*sigma_b2, int(n)) if np.size(sigma_b2) == 2 else np.asarray(sigma_b2, float)
    _variances(w, 0.0)
    _variances(1.0, b)
    W, B = np.meshgrid(w, b)
    if act.code >= 0:
        t = tabulated_mean_field(act, W, B, with_xi_c=with_xi_c)
        return PhaseDiagram(act, W, B, t["q_star"], t["chi1"], t["xi_c"], t["critical_sigma_b2"],
                            t["critical_sigma_w2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        qs = np.asarray(q_star(act, W, B), float)
    x1 = np.asarray(chi1(act, W, B, q=qs), float)
    if with_xi_c:
        qq = np.where(np.isinf(qs), _Q_INF_PROBE, qs)
        cs = np.asarray(c_star(act, W, B, q=qq), float)
        _, kd = activation_kernel(act, qq, qq, cs * qq)
        xc = _xi(W * kd)
    else:
        xc = np.full(W.shape, np.nan)
    cw = np.asarray(critical_sigma_w2(act, b), float)
    return PhaseDiagram(act, W, B, qs, x1, xc, b, cw)


def trainability_depth(act, sigma_w2, sigma_b2, factor: float = 6.0):
    r"""Maximum trainable depth :math:`\approx` ``factor`` :math:`\cdot\,\xi_c` (Schoenholz et al. 2017 use 6ξ_c).

    >>> import nn_spectra as ns
    >>> ns.trainability_depth("relu", 2.0, 0.0)          # critical point: χ₁ = 1 exactly
    inf
    """
    factor = float(factor)
    if not (np.isfinite(factor) and factor > 0):
        raise ValueError(f"factor must lie in (0, inf), got {factor!r}")
    _, xc = depth_scales(act, sigma_w2, sigma_b2)
    return _out(factor * np.asarray(xc))


# ----------------------------------------------------------------------------- fast phase diagrams
# On a grid of (σ_w², σ_b²) all points share the same functions of q: F(q) = E[φ(√q z)²],
# F₁(q) = E[φ'(√q z)²] and, for the correlation map at equal lengths, the normalised Hermite
# coefficients b_k(q) (Mehler: E[φ(u₁)φ(u₂)] = Σ b_k² c^k, E[φ'(u₁)φ'(u₂)] = Σ k b_k² c^{k-1}/q).
# They are computed once on a table in s = √q by the accurate quadrature and interpolated by cubic
# splines; the fixed points are then solved for all grid points at once.  Points whose q* leaves the
# table are solved exactly.


def _bisect_root(g, lo, hi, iters: int = 60):
    # invariant g(lo) >= 0 > g(hi): converges to the stable (down-crossing) fixed point
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        gm = g(mid)
        lo = np.where(gm >= 0, mid, lo)
        hi = np.where(gm >= 0, hi, mid)
    return 0.5 * (lo + hi)


def tabulated_mean_field(act, W: np.ndarray, B: np.ndarray, *, with_xi_c: bool = True, order: int = 80,
                         table_size: int = 1200) -> dict:
    r"""q*, χ₁, c*, ξ_c on the grid ``(W, B)`` of (σ_w², σ_b²) and the critical line at each distinct σ_b².

    Returns
    -------
    dict with keys ``q_star, chi1, c_star, xi_c, critical_sigma_b2, critical_sigma_w2, mehler_tail``.
    """
    act = activation(act)
    W, B = np.broadcast_arrays(np.asarray(W, float), np.asarray(B, float))
    # a table range that holds q* for bounded φ (|φ| <= 1 for tanh, erf, hard tanh, sigmoid); other
    # activations fall back to the exact solver where q* leaves it
    qcap = 2.0 * (W.max() + B.max()) + 1.0
    s = np.linspace(0.0, np.sqrt(qcap), int(table_size))
    qt = s * s
    F, F1, _ = activation_moments(act, qt)
    spF, spF1 = CubicSpline(s, F), CubicSpline(s, F1)

    def g_s(sv, w, b):
        return w * spF(sv) + b - sv * sv

    smax = s[-1]
    w, b = W.ravel(), B.ravel()
    inside = g_s(np.full(w.shape, smax), w, b) < 0
    sst = _bisect_root(lambda sv: g_s(sv, w[inside], b[inside]), np.zeros(inside.sum()),
                       np.full(inside.sum(), smax))
    qs = np.empty(w.shape)
    qs[inside] = sst * sst
    if (~inside).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            qs[~inside] = np.asarray(q_star(act, w[~inside], b[~inside]), float)
    qfin = np.where(np.isfinite(qs), qs, 1e12)
    x1 = np.where(inside, w * spF1(np.sqrt(np.minimum(qfin, qt[-1]))), 0.0)
    if (~inside).any():
        x1[~inside] = w[~inside] * activation_moments(act, qfin[~inside])[1]
    out = {"q_star": qs.reshape(W.shape), "chi1": x1.reshape(W.shape)}

    cs = np.ones(w.shape)
    xc = _xi(x1)
    tail = np.zeros(w.shape)
    if with_xi_c:
        chaos = np.flatnonzero(x1 > 1.0)
        if chaos.size:
            qc = qfin[chaos]
            in_tab = qc <= qt[-1]
            bk = np.empty((chaos.size, order + 1))
            if in_tab.any():
                spb = CubicSpline(s, hermite_coefficients(act, qt, order=order), axis=0)
                bk[in_tab] = spb(np.sqrt(qc[in_tab]))
            if (~in_tab).any():
                bk[~in_tab] = hermite_coefficients(act, qc[~in_tab], order=order)
            b2 = bk * bk
            k = np.arange(order + 1)
            Fq = np.where(in_tab, spF(np.sqrt(np.minimum(qc, qt[-1]))), 0.0)
            if (~in_tab).any():
                Fq[~in_tab] = activation_moments(act, qc[~in_tab])[0]
            tail[chaos] = np.maximum(Fq - b2.sum(axis=1), 0.0)
            ww, bb = w[chaos], b[chaos]
            qn = ww * Fq + bb

            def h(c):
                pw = c[:, None] ** k
                return (ww * (b2 * pw).sum(axis=1) + bb) / qn - c

            lo = -np.ones(chaos.size)
            hi = np.full(chaos.size, 1 - 1e-9)
            at_one = h(hi) >= 0
            c_ = _bisect_root(h, lo, hi, iters=55)
            c_[at_one] = 1.0
            cs[chaos] = c_
            kd = (k[1:] * b2[:, 1:] * c_[:, None] ** (k[1:] - 1)).sum(axis=1) / qc
            xc[chaos] = np.where(at_one, _xi(x1[chaos]), _xi(ww * kd))
    else:
        xc = np.full(w.shape, np.nan)
    out.update(c_star=cs.reshape(W.shape), xi_c=np.asarray(xc).reshape(W.shape), mehler_tail=tail.reshape(W.shape))

    # critical line: χ₁(σ_w², σ_b²) = 1 along each distinct σ_b², bisection in σ_w² on the table
    bvals = np.unique(B)
    lo = np.full(bvals.shape, 1e-3)
    hi = np.full(bvals.shape, 1.0)

    def chi_of(wv):
        ins = g_s(np.full(wv.shape, smax), wv, bvals) < 0
        sv = _bisect_root(lambda x: g_s(x, wv, bvals), np.zeros(wv.shape), np.full(wv.shape, smax))
        val = wv * spF1(sv)
        if (~ins).any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                qq = np.asarray(q_star(act, wv[~ins], bvals[~ins]), float)
            val[~ins] = wv[~ins] * activation_moments(act, np.where(np.isfinite(qq), qq, 1e12))[1]
        return val - 1.0

    for _ in range(60):
        need = chi_of(hi) < 0
        if not need.any():
            break
        lo, hi = np.where(need, hi, lo), np.where(need, 2 * hi, hi)
    for _ in range(45):
        mid = np.sqrt(lo * hi)
        neg = chi_of(mid) < 0
        lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
    out.update(critical_sigma_b2=bvals, critical_sigma_w2=0.5 * (lo + hi))
    return out
