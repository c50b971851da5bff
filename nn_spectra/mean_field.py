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

from scipy.interpolate import CubicSpline

from .activations import activation
from .gaussian_integrals import (activation_kernel, activation_moments, corr_table, hermite_coefficients,
                                 kernel_table_eligible, mehler_table, moment_table, table_eligible)

__all__ = ["q_map", "q_star", "c_map", "c_star", "chi1", "chi_c", "depth_scales", "critical_sigma_w2",
           "phase_diagram", "trainability_depth", "PhaseDiagram", "tabulated_mean_field"]

_Q_INF_PROBE = 1e12  # where q* diverges (unbounded φ, chaotic side) moments are taken at this q


def _real(name: str, v) -> np.ndarray:
    """``v`` as a float array; a complex, string or ragged value is a ValueError naming ``name``."""
    arr = np.asarray(v) if not isinstance(v, (str, bytes)) else np.asarray(v, dtype=object)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real number or array of real numbers, got {v!r:.60}")
    return arr.astype(float)


def _variances(sigma_w2, sigma_b2):
    sw = _real("sigma_w2", sigma_w2)
    sb = _real("sigma_b2", sigma_b2)
    if np.any(~np.isfinite(sw)) or np.any(sw <= 0):
        raise ValueError(f"sigma_w2 must lie in (0, inf), got {sigma_w2!r}")
    if np.any(~np.isfinite(sb)) or np.any(sb < 0):
        raise ValueError(f"sigma_b2 must lie in [0, inf), got {sigma_b2!r}")
    return np.broadcast_arrays(sw, sb)


def _out(a):
    a = np.asarray(a, float)
    return float(a) if a.ndim == 0 else a


# From this many points on, built-ins integrated by quadrature are evaluated through cached tables
# (gaussian_integrals.MomentTable / MehlerTable, checked against the quadrature at their cell
# midpoints); below it, pointwise quadrature is cheaper than building a table.
_GRID_MIN = 256


def _moments_for(act, n: int, force_table: bool = False):
    """E[φ²], E[φ'²], E[φφ''] as a function of q: the table on large inputs, the quadrature otherwise."""
    if table_eligible(act) and (force_table or n >= _GRID_MIN):
        return moment_table(act)
    return lambda q: activation_moments(act, q)


def _g_and_slope(mom, q, sw, sb):
    e2, d2, e11 = mom(q)
    # d/dq E[φ(√q z)²] = E[φ'²] + E[φφ''] (Gaussian integration by parts, Dirac masses included)
    return sw * e2 + sb - q, sw * (d2 + e11) - 1.0


_Q_HUGE = 1e150  # iterates beyond this are taken to diverge (q* = inf)


def _step_out(q, up: bool):
    # the bracket scan: factors of 16 near the scale of the variances, of 1e8 far from it, so that
    # q0 = 1e300 is brought back in a few dozen steps and divergence is recognised quickly
    if up:
        return np.where(q < 1e8, q * 16.0, q * 1e8)
    return np.where(q <= 1e8, q / 16.0, q / 1e8)


def _q_star_flat(act, sw, sb, q0: float, tol: float, max_iter: int, mom):
    g0, _ = _g_and_slope(mom, np.full(sw.shape, q0), sw, sb)
    if not np.all(np.isfinite(g0)):
        raise ValueError(f"the length map is not finite at q0={q0!r} for activation {act.name!r}")
    res = np.full(sw.shape, np.nan)
    done = np.abs(g0) <= tol * max(1.0, q0)
    res[done] = q0
    lo = np.full(sw.shape, q0)
    hi = np.full(sw.shape, q0)
    # up: the iterates grow to the first point above q0 where the map falls below the diagonal
    grow = (~done) & (g0 > 0)
    for _ in range(400):
        if not grow.any():
            break
        idx = np.flatnonzero(grow)
        nxt = _step_out(hi[idx], up=True)
        g, _ = _g_and_slope(mom, nxt, sw[idx], sb[idx])
        below = g < 0
        lo[idx[~below]] = nxt[~below]
        hi[idx] = nxt
        grow[idx[below]] = False
        big = idx[(~below) & (nxt > _Q_HUGE)]
        res[big] = np.inf
        grow[big] = False
    # down: they shrink to the first point below q0 where the map is above the diagonal (q = 0 at the latest)
    shrink = (~done) & (g0 < 0)
    for _ in range(400):
        if not shrink.any():
            break
        idx = np.flatnonzero(shrink)
        nxt = _step_out(lo[idx], up=False)
        nxt = np.where(nxt < 1e-300, 0.0, nxt)
        g, _ = _g_and_slope(mom, nxt, sw[idx], sb[idx])
        above = (g >= 0) | (nxt == 0.0)
        hi[idx[~above]] = nxt[~above]
        lo[idx] = nxt
        shrink[idx[above]] = False
    todo = np.flatnonzero(np.isnan(res))
    if todo.size:
        a, b, ssw, ssb = lo[todo], hi[todo], sw[todo], sb[todo]
        x = np.where(a > 0, np.sqrt(a * b), 0.5 * b)
        conv = np.zeros(todo.size, bool)
        resid = np.full(todo.size, np.inf)
        for _ in range(max_iter):
            g, dg = _g_and_slope(mom, x, ssw, ssb)
            resid = np.abs(g)
            conv = resid <= tol * np.maximum(1.0, x)
            # keep the invariant g(a) >= 0 > g(b); the root is a stable fixed point (g decreasing)
            a = np.where(g >= 0, x, a)
            b = np.where(g < 0, x, b)
            conv |= (b - a) <= 1e-15 * np.maximum(1.0, b)
            if conv.all():
                break
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                xn = x - g / dg
            # bisection (geometric while the bracket spans decades) when Newton leaves the bracket
            mid = np.where((a > 0) & (b > 4 * a), np.sqrt(a * b), 0.5 * (a + b))
            bad = ~np.isfinite(xn) | (xn <= a) | (xn >= b)
            x = np.where(conv, x, np.where(bad, mid, xn))
        if not conv.all():
            i = int(np.argmax(np.where(conv, -np.inf, resid)))
            warnings.warn(f"q_star did not converge at sigma_w2={ssw[i]}, sigma_b2={ssb[i]}: residual {resid[i]:.3g} "
                          f"in the bracket [{a[i]:.6g}, {b[i]:.6g}]", RuntimeWarning, stacklevel=3)
        res[todo] = x
    return res


def q_star(act, sigma_w2, sigma_b2, q0: float = 1.0, return_trajectory: bool = False, *, depth: int = 50,
           tol: float = 1e-13, max_iter: int = 200):
    r"""Fixed point :math:`q^*` of the length map reached from :math:`q^0` = ``q0``.

    The length map is increasing in :math:`q`, so its iterates move monotonically to the nearest
    stable fixed point in the direction of :math:`q^1-q^0`.  That point is bracketed by a scan from
    :math:`q^0` (factors of 16, of :math:`10^8` beyond :math:`10^8`) and found by safeguarded Newton
    steps inside the bracket (bisection, geometric while the bracket spans decades, when a step
    leaves it), not by iterating.  Where the iterates grow without bound (unbounded φ deep in the
    chaotic phase, e.g. relu with :math:`\sigma_w^2>2`) the result is ``inf`` with a ``RuntimeWarning``.

    On 256 points or more, built-in activations without closed forms (tanh, sigmoid, gelu, ...) use a
    cached table of the Gaussian moments (:class:`nn_spectra.gaussian_integrals.MomentTable`, checked
    to 1e-12 at its cell midpoints) instead of pointwise quadrature.

    Parameters
    ----------
    act : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Weight and bias variances (broadcast together).
    q0 : float
        Initial squared length per neuron, :math:`0 < q^0 < \infty`.
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
    >>> round(ns.q_star("tanh", 1.5, 0.1, q0=1e300), 4)  # from far above, the same fixed point
    0.5202
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    try:
        q0 = float(q0)
    except (TypeError, ValueError):
        raise ValueError(f"q0 must be a real number in (0, inf), got {q0!r}") from None
    if not (np.isfinite(q0) and q0 > 0):
        raise ValueError(f"q0 must lie in (0, inf), got {q0!r}")
    shape = sw.shape
    sw, sb = sw.ravel().copy(), sb.ravel().copy()
    mom = _moments_for(act, sw.size)
    res = _q_star_flat(act, sw, sb, q0, tol, max_iter, mom)
    if np.isinf(res).any():
        i = int(np.flatnonzero(np.isinf(res))[0])
        warnings.warn(f"the length map diverges (q* = inf) at {int(np.isinf(res).sum())} point(s), "
                      f"e.g. sigma_w2={sw[i]}, sigma_b2={sb[i]}", RuntimeWarning, stacklevel=2)
    out = _out(res.reshape(shape))
    if not return_trajectory:
        return out
    if isinstance(depth, bool) or int(depth) != depth or int(depth) < 0:
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    traj = [np.full(sw.shape, q0)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(depth)):
            nxt = sw * mom(np.minimum(traj[-1], 1e300))[0] + sb
            traj.append(np.where(np.isfinite(nxt), nxt, np.inf))
    return out, np.stack(traj).reshape((int(depth) + 1,) + shape)


def _qstar_or(act, q, sw, sb):
    if q is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = q_star(act, sw, sb)
    q = np.broadcast_to(_real("q", q), sw.shape)
    if np.any(q < 0) or np.any(np.isnan(q)):
        raise ValueError(f"q must lie in [0, inf], got {q!r}")
    return np.where(np.isinf(q), _Q_INF_PROBE, q)


def _hard_tanh_kernel_equal(q, c):
    r"""``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` for φ = hard tanh, :math:`u, v \sim N(0, q)` with correlation c, in closed form.

    With :math:`a = 1/\sqrt q`, :math:`\theta = \arccos c`, :math:`t = \tan(\theta/2)` and Owen's T:
    :math:`E[φ'φ'] = P(|X| < a, |Y| < a) = 1 - 4T(a, t) - 4T(a, 1/t)` (Owen's formula for the bivariate
    normal at :math:`h = k = a`, where :math:`(k - \rho h)/(h\sqrt{1-\rho^2}) = t`); and by Price's
    theorem :math:`\partial E[φφ]/\partial q_{12} = E[φ'φ']` with :math:`E[φφ] = 0` at :math:`c = 0`
    (φ odd), so :math:`E[φφ] = q\int_0^c R`, which integration by parts in θ (with
    :math:`T(a, \tan\frac\theta2) = \frac1{4\pi}\int_0^\theta e^{-a^2/(1+\cos\varphi)}d\varphi`) turns into
    :math:`q\,[c R - (I(1/t) - I(t))/\pi]`,
    :math:`I(t) = \frac{2t}{1+t^2}e^{-a^2(1+t^2)/2} + a\sqrt{2\pi}e^{-a^2/2}\operatorname{erf}(at/\sqrt2) - 4\pi a^2T(a, t)`.
    At c = 1 this is the closed :math:`E[φ^2]` of :func:`activation_moments`; checked against the 2-D
    quadrature in the tests.  One evaluation costs four ``owens_t`` calls a point (the quadrature
    ~0.4 ms a point: 150 s for c* on a 200 × 200 grid).
    """
    from scipy import special

    q = np.asarray(q, float)
    c = np.clip(np.asarray(c, float), -1.0, 1.0)
    pos = q > 0
    a = 1.0 / np.sqrt(np.where(pos, q, 1.0))
    th = np.arccos(c)
    t = np.tan(0.5 * th)
    tc = np.tan(0.5 * (np.pi - th))   # 1/t, finite (1.6e16) at c = ±1

    def qI_over_pi(tt):
        # q I(t) / π, using q a² = 1
        e = np.exp(-0.5 * a * a * (1.0 + tt * tt))
        return (q * (2.0 / np.pi) * e * tt / (1.0 + tt * tt)
                + q * a * np.sqrt(2.0 / np.pi) * np.exp(-0.5 * a * a) * special.erf(a * tt / np.sqrt(2.0))
                - 4.0 * special.owens_t(a, tt))

    r = 1.0 - 4.0 * special.owens_t(a, t) - 4.0 * special.owens_t(a, tc)
    k = q * c * r - (qI_over_pi(tc) - qI_over_pi(t))
    return np.where(pos, k, 0.0), np.where(pos, r, 1.0)


def _gelu_kernel_equal(q, c):
    r"""``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` for φ = gelu, :math:`φ(x) = x\Phi(x)`, :math:`u, v \sim N(0, q)` with correlation c.

    With :math:`r = cq`, :math:`N = (1+q)^2 - r^2 = (1+q(1-c))(1+q(1+c))` and
    :math:`A = \operatorname{atan2}(r, \sqrt N) = \arcsin(r/(1+q))`:

    .. math::
        E[φ(u)φ(v)] = \frac{r}{4} + \frac{rA}{2\pi}
            + \frac{q^2(1 + c^2 + q(1-c^2))}{2\pi(1+q)\sqrt N},\qquad
        E[φ'(u)φ'(v)] = \frac14 + \frac{A}{2\pi}
            + \frac{r}{2\pi N^{3/2}}\Big(3 + \frac{2q(1 + q(1-c^2))}{1+q}\Big).

    Derivation: Stein's lemma on :math:`E[u\Phi(u)\,v\Phi(v)]` leaves
    :math:`E[\Phi(u)\Phi(v)] = \frac14 + \frac{A}{2\pi}` (an orthant probability of
    :math:`(Z_1 - u, Z_2 - v)`) and two terms with a Gaussian factor :math:`\phi(u)`, which tilts the
    law of :math:`(u, v)` into another Gaussian (determinant lemma for the normalisation); the second
    line is the derivative in r (Price's theorem).  Written so that nothing cancels: at
    :math:`q = 10^{12}` (the probe of q* = ∞) and c near 1 all terms are positive or an accurate atan2.
    Checked against mpmath's 2-D quadrature and the 1-D moments at c = 1 in the tests.  One
    evaluation is a few ufuncs a point, where Mehler's series of gelu (Hermite coefficients decaying
    like those of relu once q ≫ 1) cannot reach 1e-12 near c = 1 and the 2-D quadrature costs ~3 ms a point.
    """
    q = np.asarray(q, float)
    c = np.clip(np.asarray(c, float), -1.0, 1.0)
    r = c * q
    one_m, one_p = 1.0 - c, 1.0 + c
    n = (1.0 + q * one_m) * (1.0 + q * one_p)
    sn = np.sqrt(n)
    a = np.arctan2(r, sn)
    k = 0.25 * r + r * a / (2 * np.pi) + q * q * (1.0 + c * c + q * one_m * one_p) / (2 * np.pi * (1.0 + q) * sn)
    kd = 0.25 + a / (2 * np.pi) + r * (3.0 + 2.0 * q * (1.0 + q * one_m * one_p) / (1.0 + q)) / (2 * np.pi * n * sn)
    return k, kd


def _closed_kernel_equal(act):
    """A closed equal-variance kernel for built-ins that have one only there (hard tanh, gelu), else None."""
    if act.code < 0:
        return None
    return {"hard_tanh": _hard_tanh_kernel_equal, "gelu": _gelu_kernel_equal}.get(act.name)


def _kernel_equal(act, q, c, e2, d2, force_table: bool = False):
    r"""``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` at equal variances ``q`` and correlations ``c`` (flat arrays).

    Large inputs of quadrature built-ins go through Mehler's series on the cached coefficient table
    wherever its Parseval tail bound is below 1e-12; the other points by the 2-D quadrature.  Hard
    tanh and gelu, whose Hermite series decay too slowly for that bound (gelu at large q and near
    c = 1), have closed forms here (:func:`_hard_tanh_kernel_equal`, :func:`_gelu_kernel_equal`).
    """
    closed = _closed_kernel_equal(act)
    if closed is not None:
        return closed(q, c)
    if not kernel_table_eligible(act) or (q.size < _GRID_MIN and not force_table):
        return activation_kernel(act, q, q, c * q)
    M = mehler_table(act)
    K = np.empty(q.shape)
    Kd = np.empty(q.shape)
    exact = np.ones(q.shape, bool)
    ins = np.flatnonzero(q <= M.s_max ** 2)
    if ins.size:
        k, kd, bk, bkd = M.kernel(M.coefficients(q[ins]), q[ins], c[ins], e2[ins], d2[ins])
        good = (bk <= 1e-12) & (bkd <= 1e-12 * np.maximum(1.0, np.abs(kd)))
        K[ins[good]], Kd[ins[good]] = k[good], kd[good]
        exact[ins[good]] = False
    if exact.any():
        ex = np.flatnonzero(exact)
        # many points at one variance (every q* = inf point sits at the probe q): one table in c
        vals, inv, cnt = np.unique(q[ex], return_inverse=True, return_counts=True)
        shared = cnt[inv] >= _GRID_MIN // 4
        for v in vals[cnt >= _GRID_MIN // 4]:
            sel = ex[q[ex] == v]
            K[sel], Kd[sel] = corr_table(act, float(v))(c[sel])
        rest = ex[~shared]
        if rest.size:
            K[rest], Kd[rest] = activation_kernel(act, q[rest], q[rest], c[rest] * q[rest])
    return K, Kd


def q_map(act, q, sigma_w2, sigma_b2):
    r"""One layer of the length map, :math:`\sigma_w^2E[\varphi(\sqrt q z)^2]+\sigma_b^2`.

    >>> import nn_spectra as ns
    >>> ns.q_map("relu", 3.0, 2.0, 0.1)
    3.1
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    qa = _real("q", q)
    if np.any(~np.isfinite(qa)) or np.any(qa < 0):
        raise ValueError(f"q must lie in [0, inf), got {q!r}")
    sw, sb, qa = np.broadcast_arrays(sw, sb, qa)
    e2 = _moments_for(act, qa.size)(qa.ravel())[0].reshape(qa.shape)
    return _out(sw * e2 + sb)


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
    d2 = _moments_for(act, qq.size)(qq.ravel())[1].reshape(qq.shape)
    return _out(sw * d2)


def _c_args(act, c, sigma_w2, sigma_b2, q):
    sw, sb = _variances(sigma_w2, sigma_b2)
    ca = _real("c", c)
    if np.any(~np.isfinite(ca)) or np.any(np.abs(ca) > 1):
        raise ValueError(f"c must lie in [-1, 1], got {c!r}")
    sw, sb, ca = np.broadcast_arrays(sw, sb, ca)
    qq = _qstar_or(act, q, sw, sb)
    shape = sw.shape
    qf, cf = np.ascontiguousarray(qq.ravel()), np.ascontiguousarray(ca.ravel())
    e2, d2, _ = _moments_for(act, qf.size)(qf)
    K, Kd = _kernel_equal(act, qf, cf, e2, d2)
    return shape, sw.ravel(), sb.ravel(), e2, K, Kd


def c_map(act, c, sigma_w2, sigma_b2, q=None):
    r"""One layer of the correlation map at equal lengths ``q`` (default :math:`q^*`).

    :math:`c\mapsto(\sigma_w^2E[\varphi(u_1)\varphi(u_2)]+\sigma_b^2)/q'` with
    :math:`q'=\sigma_w^2E[\varphi(\sqrt q z)^2]+\sigma_b^2` (:math:`=q^*` at the fixed point).

    >>> import nn_spectra as ns
    >>> round(ns.c_map("relu", 0.0, 2.0, 0.0, q=1.0), 12)      # 1/π
    0.318309886184
    """
    act = activation(act)
    shape, sw, sb, e2, K, _ = _c_args(act, c, sigma_w2, sigma_b2, q)
    qn = sw * e2 + sb
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(qn > 0, (sw * K + sb) / np.where(qn > 0, qn, 1.0), 1.0)
    return _out(np.clip(out, -1.0, 1.0).reshape(shape))


def chi_c(act, c, sigma_w2, sigma_b2, q=None):
    r""":math:`\chi_c=\sigma_w^2E[\varphi'(u_1)\varphi'(u_2)]` at correlation ``c`` and length ``q`` (default :math:`q^*`).

    >>> import nn_spectra as ns
    >>> round(ns.chi_c("relu", 1.0, 2.0, 0.0), 12)
    1.0
    """
    act = activation(act)
    shape, sw, _, _, _, Kd = _c_args(act, c, sigma_w2, sigma_b2, q)
    return _out((sw * Kd).reshape(shape))


def _c_star_flat(act, sw, sb, qq, e2, d2, tol: float, max_iter: int, force_table: bool = False):
    """c* and χ_c(c*) for flat arrays, q = q* (finite) and the moments at q given."""
    x1 = sw * d2
    res = np.ones(sw.shape)
    slope = x1.copy()
    chaos = np.flatnonzero(x1 > 1.0)
    if not chaos.size:
        return res, slope
    s, b_, qv, qn = sw[chaos], sb[chaos], qq[chaos], sw[chaos] * e2[chaos] + sb[chaos]
    c_out = np.ones(chaos.size)
    k_out = x1[chaos].copy()
    pending = np.ones(chaos.size, bool)
    # the table route: Mehler's polynomial on the coefficient table, the root accepted where the
    # series' tail bound at c* is below 1e-12 (the map is then known there to that accuracy)
    use_table = (kernel_table_eligible(act) and _closed_kernel_equal(act) is None
                 and (chaos.size >= _GRID_MIN or force_table))
    if use_table:
        M = mehler_table(act)
        sel = np.flatnonzero((qv <= M.s_max ** 2) & (x1[chaos] > 1.0 + 1e-9))
        if sel.size:
            b2 = M.coefficients(qv[sel])
            e2s, d2s = e2[chaos][sel], d2[chaos][sel]

            def h(c):
                k, kd, bk, bkd = M.kernel(b2, qv[sel], c, e2s, d2s)
                return (s[sel] * k + b_[sel]) / qn[sel] - c, s[sel] * kd * qv[sel] / qn[sel] - 1.0, bk, s[sel] * kd, bkd

            c, conv = _solve_corr(h, sel.size, tol, max_iter, upper=1.0)
            _, _, bk, kd, bkd = h(c)
            ok = conv & (bk <= 1e-12) & (bkd <= 1e-12 * np.maximum(1.0, kd))
            c_out[sel[ok]], k_out[sel[ok]] = c[ok], kd[ok]
            pending[sel[ok]] = False
    idx = np.flatnonzero(pending)
    if idx.size:
        s2, b2_, q2, qn2 = s[idx], b_[idx], qv[idx], qn[idx]

        e2p, d2p = e2[chaos][idx], d2[chaos][idx]

        def g(c):
            k, kd = _kernel_equal(act, q2, c, e2p, d2p, force_table=use_table)
            return (s2 * k + b2_) / qn2 - c, s2 * kd * q2 / qn2 - 1.0, None, s2 * kd, None

        gb = g(np.full(idx.size, 1 - 1e-9))[0]
        at_one = gb >= 0  # chaotic only up to rounding: the map does not cross below the diagonal
        c, conv = _solve_corr(g, idx.size, tol, max_iter, upper=1 - 1e-9, fixed=at_one)
        c[at_one] = 1.0
        kd = np.where(at_one, x1[chaos][idx], g(np.where(at_one, 0.0, c))[3])
        c_out[idx], k_out[idx] = c, kd
    res[chaos], slope[chaos] = c_out, k_out
    return res, slope


def _solve_corr(g, n, tol, max_iter, upper, fixed=None):
    # safeguarded Newton on g(c) = map(c) − c in the bracket [−1, upper] with g(−1) >= 0 > g(upper−)
    a = -np.ones(n)
    b = np.full(n, float(upper))
    x = np.zeros(n)
    conv = np.zeros(n, bool) if fixed is None else fixed.copy()
    resid = np.zeros(n)
    for _ in range(max_iter):
        if conv.all():
            break
        gx, dg = g(x)[:2]
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
        warnings.warn(f"c_star did not converge: residual {resid[i]:.3g} in the bracket [{a[i]:.6g}, {b[i]:.6g}]",
                      RuntimeWarning, stacklevel=4)
    return x, conv


def c_star(act, sigma_w2, sigma_b2, q=None, *, tol: float = 1e-12, max_iter: int = 100):
    r"""Stable fixed point :math:`c^*` of the correlation map.

    :math:`c^*=1` in the ordered phase (:math:`\chi_1\le 1`); in the chaotic phase the other fixed point
    in [−1, 1), found by safeguarded Newton steps (slope :math:`\chi_c`) in the bracket
    :math:`[-1, 1)`.  On large inputs, quadrature built-ins use Mehler's series on a cached table of
    Hermite coefficients where its tail bound at :math:`c^*` is below 1e-12, the 2-D quadrature elsewhere;
    hard tanh and gelu use closed equal-variance kernels at every size.

    >>> import nn_spectra as ns
    >>> ns.c_star("tanh", 1.0, 0.05)
    1.0
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    shape = sw.shape
    qq = _qstar_or(act, q, sw, sb).ravel()
    e2, d2, _ = _moments_for(act, qq.size)(qq)
    res, _ = _c_star_flat(act, sw.ravel(), sb.ravel(), qq, e2, d2, tol, max_iter)
    return _out(res.reshape(shape))


def depth_scales(act, sigma_w2, sigma_b2):
    r"""Depth scales :math:`(\xi_q, \xi_c)` over which lengths and correlations approach their fixed points.

    :math:`\xi_q^{-1}=-\log(\chi_1+\sigma_w^2E[\varphi''\varphi])`, :math:`\xi_c^{-1}=-\log\chi_c(c^*)`;
    both are ``inf`` where the slope reaches 1 (criticality).  In the ordered phase :math:`c^*=1`
    and :math:`\chi_c(c^*)=\chi_1`.  Where the length map diverges (:math:`q^* = \infty`, unbounded φ
    on the chaotic side) a ``RuntimeWarning`` says so, :math:`\xi_q = \infty` (no fixed point to
    approach) and :math:`\xi_c` is that of the limit :math:`q\to\infty` (evaluated at
    :math:`q = 10^{12}`; ``inf`` for ReLU-like φ, whose correlation map then has slope 1 at c* = 1).

    >>> import nn_spectra as ns
    >>> xi_q, xi_c = ns.depth_scales("relu", 1.0, 0.1)
    >>> bool(abs(xi_c - 1 / np.log(2)) < 1e-12)      # ordered: ξ_c = −1/log χ₁, χ₁ = 1/2
    True
    """
    act = activation(act)
    sw, sb = _variances(sigma_w2, sigma_b2)
    shape = sw.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q0 = np.asarray(q_star(act, sw, sb), float).ravel()
    if np.isinf(q0).any():
        i = int(np.flatnonzero(np.isinf(q0))[0])
        warnings.warn(f"the length map diverges (q* = inf) at {int(np.isinf(q0).sum())} point(s), e.g. "
                      f"sigma_w2={sw.ravel()[i]}, sigma_b2={sb.ravel()[i]}: xi_q = inf there and xi_c is that "
                      f"of the limit q -> inf", RuntimeWarning, stacklevel=2)
    qq = _qstar_or(act, q0, sw.ravel(), sb.ravel())
    e2, d2, e11 = _moments_for(act, qq.size)(qq)
    swf, sbf = sw.ravel(), sb.ravel()
    slope_q = swf * (d2 + e11)
    _, slope_c = _c_star_flat(act, swf, sbf, qq, e2, d2, 1e-12, 100)
    return _out(_xi(slope_q).reshape(shape)), _out(_xi(slope_c).reshape(shape))


def _xi(slope):
    slope = np.asarray(slope, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log(np.abs(slope))
        return np.where(lg < -1e-14, -1.0 / np.where(lg < -1e-14, lg, -1.0), np.inf)


def critical_sigma_w2(act, sigma_b2, *, tol: float = 1e-10, max_iter: int = 200):
    r"""The critical line: :math:`\sigma_w^2` with :math:`\chi_1(\sigma_w^2,\sigma_b^2)=1` at each ``sigma_b2``.

    Found by bisection in :math:`\log\sigma_w^2` (χ₁ at the fixed point increases with σ_w²), each
    evaluation solving for :math:`q^*`; the bracket starts at :math:`[10^{-3}, 1]` and doubles
    upwards.  Raises when χ₁ is not finite or no crossing is found (the activation never becomes
    chaotic), rather than returning the end of the bracket.

    >>> import nn_spectra as ns
    >>> round(ns.critical_sigma_w2("relu", 0.0), 9)
    2.0
    """
    act = activation(act)
    sb = _real("sigma_b2", sigma_b2)
    if np.any(~np.isfinite(sb)) or np.any(sb < 0):
        raise ValueError(f"sigma_b2 must lie in [0, inf), got {sigma_b2!r}")
    shape = sb.shape
    sb = sb.ravel()
    mom = _moments_for(act, sb.size, force_table=True)

    def f(s):
        q = _q_star_flat(act, s, sb, 1.0, 1e-13, 200, mom)
        x1 = s * mom(np.where(np.isinf(q), _Q_INF_PROBE, q))[1]
        if not np.all(np.isfinite(x1)):
            i = int(np.flatnonzero(~np.isfinite(x1))[0])
            raise ValueError(f"chi1 is not finite for activation {act.name!r} at sigma_w2={s[i]:.6g}, "
                             f"sigma_b2={sb[i]:.6g}: no critical line")
        return x1 - 1.0

    lo = np.full(sb.shape, 1e-3)
    if np.any(f(lo) >= 0):
        i = int(np.flatnonzero(f(lo) >= 0)[0])
        raise ValueError(f"activation {act.name!r} is already chaotic (chi1 >= 1) at sigma_w2=1e-3, "
                         f"sigma_b2={sb[i]:.6g}: no critical point above it")
    hi = np.full(sb.shape, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
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

    def __repr__(self) -> str:
        W = np.asarray(self.sigma_w2)
        B = np.asarray(self.sigma_b2)
        ordered = float(np.mean(np.asarray(self.chi1) < 1)) if np.size(self.chi1) else float("nan")
        return (f"PhaseDiagram({self.activation.name!r}, grid {W.shape[0]}x{W.shape[1] if W.ndim > 1 else 1}, "
                f"sigma_w2 in [{W.min():g}, {W.max():g}], sigma_b2 in [{B.min():g}, {B.max():g}], "
                f"ordered fraction {ordered:.2f}, critical sigma_w2 in "
                f"[{np.min(self.critical_sigma_w2):.4g}, {np.max(self.critical_sigma_w2):.4g}])")

    def to_frame(self):
        """The grid as a long ``pandas.DataFrame``: one row per (σ_w², σ_b²) with q*, χ₁, ξ_c and the phase.

        The critical line is :meth:`critical_frame`.  Needs pandas (the ``frame`` extra).
        """
        import pandas as pd

        chi = np.asarray(self.chi1, float).ravel()
        return pd.DataFrame({"sigma_w2": np.asarray(self.sigma_w2, float).ravel(),
                             "sigma_b2": np.asarray(self.sigma_b2, float).ravel(),
                             "q_star": np.asarray(self.q_star, float).ravel(), "chi1": chi,
                             "xi_c": np.asarray(self.xi_c, float).ravel(),
                             "phase": np.where(chi < 1, "ordered", np.where(chi > 1, "chaotic", "critical"))})

    def critical_frame(self):
        """The critical line χ₁ = 1 as a ``pandas.DataFrame`` (columns ``sigma_b2, sigma_w2``)."""
        import pandas as pd

        return pd.DataFrame({"sigma_b2": np.asarray(self.critical_sigma_b2, float),
                             "sigma_w2": np.asarray(self.critical_sigma_w2, float)})

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

    Every point is solved by the array entry points (:func:`q_star`, :func:`chi1`, the c* solver of
    :func:`depth_scales`, :func:`critical_sigma_w2`), as accurate as their pointwise values; the
    Mehler-series approximation :func:`tabulated_mean_field` (which ignores the series' tail) is no
    longer used here.

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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        qs = np.asarray(q_star(act, W, B), float)
    qq = np.where(np.isinf(qs), _Q_INF_PROBE, qs).ravel()
    e2, d2, _ = _moments_for(act, qq.size)(qq)
    x1 = (W.ravel() * d2).reshape(W.shape)
    if with_xi_c:
        _, slope_c = _c_star_flat(act, W.ravel(), B.ravel(), qq, e2, d2, 1e-12, 100)
        xc = _xi(slope_c).reshape(W.shape)
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
