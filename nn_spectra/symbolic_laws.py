r"""Closed forms of the deep-network laws for activations whose :math:`\phi'^2` takes finitely many values.

For ``linear``, ``relu``, ``leaky_relu`` and ``hard_tanh`` the law :math:`\mu` of
:math:`D^2 = \phi'(h)^2` is atomic:

============  =====================================================  ============================
activation    :math:`\mu`                                            parameter
============  =====================================================  ============================
linear        :math:`\delta_1`
relu          :math:`\tfrac12\delta_0 + \tfrac12\delta_1`
leaky_relu    :math:`\tfrac12\delta_{\alpha^2} + \tfrac12\delta_1`   slope :math:`\alpha`
hard_tanh     :math:`(1-p)\delta_0 + p\,\delta_1`                    :math:`p = P(|h| < 1)`, h ~ N(0, q*)
============  =====================================================  ============================

so the Jacobian law and the conditional Fisher law of :mod:`nn_spectra.jacobian` and
:mod:`nn_spectra.conditional_fim` are algebraic: their Cauchy transforms solve a polynomial
equation :math:`P(G, z) = 0`, returned as a :class:`NetworkAlgebraicLaw` (a
:class:`freeprob.symbolic.AlgebraicLaw` with exact atoms and edges).

The ζ-form.  Every law here lives on :math:`[0, \infty)`; with :math:`\zeta = zG(z) - 1 = \psi(1/z)`
(:math:`\psi(u) = \sum_{n\ge1} m_n u^n`, :math:`\chi = \psi^{\langle-1\rangle}`,
:math:`S(\zeta) = \chi(\zeta)(1+\zeta)/\zeta`, the conventions of REFERENCES.md) the operations
used by the networks are substitutions in a polynomial :math:`F(\zeta, z) = 0`, never resultants
of S-polynomials:

* :math:`\nu \mapsto \mu\boxtimes\nu` with :math:`\mu` atomic: :math:`\chi_{\mu\boxtimes\nu}(\zeta)
  = \chi_\mu(\zeta)\chi_\nu(\zeta)(1+\zeta)/\zeta`, so the old law is evaluated at
  :math:`z\,v(1+\zeta)/\zeta` where :math:`v = \chi_\mu(\zeta)`, i.e. :math:`\psi_\mu(v) = \zeta`
  (:math:`v = \zeta/(p+\zeta)` for Bernoulli(p); a resultant in v when :math:`\mu` has two nonzero atoms);
* scaling by c: :math:`F(\zeta, z/c)`; shift by a: :math:`F\big((1+\zeta)(z-a)/z - 1,\ z - a\big)`;
* back to G: :math:`P(G, z) = F(zG - 1, z)`.

After each step the irreducible factor carrying the law is kept (it is the one on which the exact
moment series vanishes, computed independently from the S-transforms with rationals).

Depth.  ``depth`` is L, the number of weight layers, with the meaning it has everywhere in
:mod:`nn_spectra` (:class:`nn_spectra.Network`): the same number describes the same network to
the symbolic twin and to the numeric law, and every function here also takes a ``Network`` in
place of its first argument.

Jacobian law (equal widths :math:`n_0 = \dots = n_L`, the default of :func:`nn_spectra.jacobian_law`;
a :class:`~nn_spectra.Network` with unequal widths is refused with a ValueError — one
:math:`\chi`-substitution and resultant per distinct width ratio is not implemented; the numeric law
and :mod:`freeprob.high_precision` take any widths): with a
linear readout :math:`J = D^KW^K\cdots D^1W^1` spans the :math:`K = L-1` nonlinear layers (the
readout is not part of J; ``readout="none"`` gives K = L), :math:`S_{JJ^\top} = [S_\mu/\sigma_w^2]^K`,
times :math:`(1+\zeta)^{-K}` for Gaussian weights, so with :math:`\psi_\mu(v) = \zeta`

.. math::

    z\,v^K (1+\zeta)^{K-1} = \sigma_w^{2K}\zeta^{K-1}\ \ \text{(orthogonal)},\qquad
    z\,v^K = \sigma_w^{2K}\zeta^{K-1}(1+\zeta)\ \ \text{(Gaussian)}.

For relu/hard_tanh with orthogonal weights this is :math:`z\zeta(1+\zeta)^{K-1} = \sigma_w^{2K}(p+\zeta)^K`,
whose only critical point :math:`\zeta_c = p/(K-1-Kp)` gives the rational top edge
:math:`\lambda_{\max} = \sigma_w^{2K}(p+\zeta_c)^K/(\zeta_c(1+\zeta_c)^{K-1})`
(:math:`= K^K/(K-1)^{K-1}` for critical relu, e.g. 27/4 at depth L = 4).

Conditional Fisher law (Hayase–Karakida, orthogonal weights; depth L as in
:func:`nn_spectra.conditional_fim_law`, so L - 1 hidden layers):
:math:`\nu_1 = \delta_{\hat q}`, :math:`\nu_{l+1} = \mathrm{shift}_{\hat q}(\sigma_w^2(\mu\boxtimes\nu_l))`,
:math:`\hat q = (q^* - \sigma_b^2)/\sigma_w^2`.  "Two hidden layers" (the case the paper solves) is
``depth=3``.  The mean-field fixed point is exact for the piecewise-linear activations
(:math:`q^* = \sigma_b^2/(1 - \sigma_w^2(1+\alpha^2)/2)`, the marginal case :math:`\sigma_b^2 = 0` on the
critical line takes :math:`q^* = q^0 = 1` as :func:`nn_spectra.q_star` does); for hard_tanh
:math:`q^*` solves a transcendental equation, so :math:`p` and :math:`\hat q` stay symbols unless
given (see :func:`hard_tanh_parameters`).

Degrees grow with depth (Jacobian: about K = L - 1 times the number of nonzero atoms; Fisher: roughly
doubling per layer): every constructor takes ``max_degree`` and refuses, before computing, a law
whose degree in G would exceed it.
"""
from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Mapping

import numpy as np
import sympy as sp

from freeprob.symbolic import AlgebraicLaw, G, z
from freeprob.symbolic.algebraic import test_point_values
from freeprob.symbolic.resultants import select_branch_factor

__all__ = ["PIECEWISE_CONSTANT", "MAX_DEGREE", "MAX_FIM_DEGREE", "NetworkAlgebraicLaw", "d2_atoms", "exact_mean_field",
           "hard_tanh_parameters", "symbolic_jacobian_law", "symbolic_conditional_fim_law", "zeta"]

#: Activations whose :math:`\phi'^2` is piecewise constant (atomic :math:`D^2`).
PIECEWISE_CONSTANT = ("linear", "relu", "leaky_relu", "hard_tanh")
#: Default limit on the degree of P(G, z) in G (Jacobian laws: degree ~ depth x nonzero atoms).
MAX_DEGREE = 40
#: Default limit for the conditional Fisher laws, whose degree doubles per layer (relu: 2^(L-2);
#: depth 5 takes ~10 s, depth 6 minutes).
MAX_FIM_DEGREE = 8
#: The variable of the ζ-form :math:`F(\zeta, z)`, :math:`\zeta = zG - 1`.
zeta = sp.Symbol("zeta")
_v = sp.Symbol("v_")
_ALIASES = {"identity": "linear", "hardtanh": "hard_tanh", "leaky": "leaky_relu"}


# ----------------------------------------------------------------------------- inputs
def _exact(name: str, value, *, lower=None, strict=True):
    """A number as an exact SymPy rational (floats by their shortest repr); symbols pass through."""
    if isinstance(value, sp.Basic) and value.free_symbols:
        return value
    try:
        v = sp.Rational(repr(value)) if isinstance(value, float) else sp.nsimplify(sp.sympify(value), rational=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a sympy expression, got {value!r}") from None
    if not (v.is_real and v.is_finite):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if lower is not None and (v < lower or (strict and v == lower)):
        raise ValueError(f"{name} must lie in {'(' if strict else '['}{lower}, inf), got {value!r}")
    return v


def _act_name(act) -> tuple[str, object]:
    """(name, alpha) of an activation given by name or by an nn_spectra Activation."""
    alpha = None
    if isinstance(act, str):
        name = _ALIASES.get(act.lower(), act.lower())
    else:
        name = getattr(act, "name", None)
        alpha = getattr(act, "alpha", None)
        if not isinstance(name, str):
            raise ValueError(f"act must be an activation name or an nn_spectra Activation, got {act!r}")
    if name not in PIECEWISE_CONSTANT:
        raise ValueError(
            f"act must be one of {PIECEWISE_CONSTANT} (phi'^2 piecewise constant, so the law of D^2 is atomic "
            f"and the network laws are algebraic), got {name!r}; use nn_spectra.jacobian_law / "
            "conditional_fim_law and freeprob.high_precision for the others")
    return name, alpha


def d2_atoms(act, *, alpha=None, p=None) -> list[tuple]:
    r"""Exact atoms ``[(value, weight), ...]`` of the law of :math:`D^2 = \phi'(h)^2`.

    Parameters
    ----------
    act : str or Activation
        One of :data:`PIECEWISE_CONSTANT`.
    alpha : number or sympy expression, optional
        Negative slope of ``leaky_relu`` (default: the Activation's ``alpha``, else 1/100).
    p : number or sympy expression, optional
        ``hard_tanh`` only: :math:`P(|h|<1)`; a symbol ``p`` by default.

    Examples
    --------
    >>> d2_atoms("relu")
    [(0, 1/2), (1, 1/2)]
    """
    name, a_act = _act_name(act)
    if name == "linear":
        return [(sp.Integer(1), sp.Integer(1))]
    if name == "relu":
        return [(sp.Integer(0), sp.Rational(1, 2)), (sp.Integer(1), sp.Rational(1, 2))]
    if name == "leaky_relu":
        a = _exact("alpha", alpha if alpha is not None else (a_act if a_act is not None else sp.Rational(1, 100)),
                   lower=0, strict=False)
        if not a.free_symbols and a >= 1:
            raise ValueError(f"alpha must lie in [0, 1), got {alpha!r}")
        if not a.free_symbols and a == 0:
            return d2_atoms("relu")
        return [(a ** 2, sp.Rational(1, 2)), (sp.Integer(1), sp.Rational(1, 2))]
    pp = sp.Symbol("p", positive=True) if p is None else _exact("p", p, lower=0)
    if not pp.free_symbols and pp > 1:
        raise ValueError(f"p must lie in (0, 1], got {p!r}")
    if not pp.free_symbols and pp == 1:
        return [(sp.Integer(1), sp.Integer(1))]
    return [(sp.Integer(0), 1 - pp), (sp.Integer(1), pp)]


def exact_mean_field(act, sigma_w2, sigma_b2, *, alpha=None) -> sp.Expr:
    r"""Exact fixed point :math:`q^*` for linear, relu, leaky_relu (same convention as :func:`nn_spectra.q_star`).

    :math:`q = \sigma_w^2 \tfrac{1+\alpha^2}{2} q + \sigma_b^2` (relu: :math:`\alpha = 0`; linear: the
    factor is 1).  On the critical line with :math:`\sigma_b^2 = 0` every q is fixed and the iteration
    stays at :math:`q^0 = 1`.

    >>> exact_mean_field("relu", sp.Rational(3, 2), sp.Rational(3, 10))
    6/5
    """
    name, a_act = _act_name(act)
    if name == "hard_tanh":
        raise ValueError("act: q* of hard_tanh solves a transcendental equation; use hard_tanh_parameters")
    sw = _exact("sigma_w2", sigma_w2, lower=0)
    sb = _exact("sigma_b2", sigma_b2, lower=0, strict=False)
    if name == "linear":
        gain = sw
    else:
        a = d2_atoms(name if name == "relu" else "leaky_relu", alpha=alpha if alpha is not None else a_act)[0][0]
        gain = sw * (1 + (a if name == "leaky_relu" else 0)) / 2
    if gain.free_symbols or sb.free_symbols:
        return sp.cancel(sb / (1 - gain))
    if gain == 1 and sb == 0:
        return sp.Integer(1)
    if gain >= 1:
        raise ValueError(f"no finite fixed point q* for {name} at sigma_w2={sigma_w2}, sigma_b2={sigma_b2} "
                         "(chaotic phase: sigma_w2 must lie below the critical value)")
    return sb / (1 - gain)


def hard_tanh_parameters(sigma_w2: float, sigma_b2: float, dps: int = 50):
    r"""(:math:`q^*`, :math:`p = P(|h|<1)`, :math:`\hat q`) of hard_tanh to ``dps`` digits (mpmath).

    :math:`q = \sigma_w^2 E[\mathrm{clip}(h, -1, 1)^2] + \sigma_b^2` with
    :math:`E[\mathrm{clip}^2] = q\,\mathrm{erf}(s) - \sqrt{2q/\pi}\,e^{-s^2} + 1 - \mathrm{erf}(s)`, :math:`s = 1/\sqrt{2q}`;
    started from :func:`nn_spectra.q_star`.
    """
    import mpmath as mp

    from .mean_field import q_star

    q0 = float(q_star("hard_tanh", sigma_w2, sigma_b2))
    with mp.workdps(dps + 10):
        sw, sb = mp.mpf(repr(float(sigma_w2))), mp.mpf(repr(float(sigma_b2)))

        def ec2(q):
            s = 1 / mp.sqrt(2 * q)
            return q * mp.erf(s) - mp.sqrt(2 * q / mp.pi) * mp.exp(-s * s) + 1 - mp.erf(s)

        q = mp.findroot(lambda q: sw * ec2(q) + sb - q, mp.mpf(q0))
        p = mp.erf(1 / mp.sqrt(2 * q))
        qhat = (q - sb) / sw
        return +q, +p, +qhat


# ----------------------------------------------------------------------------- exact moment series
def _ser_mul(a, b, n):
    out = [Fraction(0)] * (n + 1)
    for i, ai in enumerate(a[: n + 1]):
        if ai:
            for j, bj in enumerate(b[: n + 1 - i]):
                out[i + j] += ai * bj
    return out


def _ser_revert(f, n):
    """Compositional inverse of f (f[0] = 0, f[1] != 0) to order n, exact."""
    g = [Fraction(0), 1 / Fraction(f[1])] + [Fraction(0)] * (n - 1)
    for k in range(2, n + 1):
        # coefficient of u^k in f(g(u)) with g[k] = 0
        tot = Fraction(0)
        power = [Fraction(1)] + [Fraction(0)] * n
        for j in range(1, k + 1):
            power = _ser_mul(power, g, n)
            tot += f[j] * power[k] if j < len(f) else 0
        g[k] = -tot / f[1]
    return g


def _s_from_moments(m, n):
    """S-series s_0..s_{n-1} from moments m_1..m_n (m_1 != 0)."""
    chi = _ser_revert([Fraction(0)] + list(m[:n]), n)
    return _ser_mul(chi[1:] + [Fraction(0)], [Fraction(1), Fraction(1)], n - 1)[:n]


def _moments_from_s(s, n):
    geo = [Fraction((-1) ** k) for k in range(n)]
    chi = [Fraction(0)] + _ser_mul(list(s), geo, n - 1)[:n]
    return _ser_revert(chi, n)[1: n + 1]


def _frac(x) -> Fraction:
    x = sp.nsimplify(x) if not isinstance(x, sp.Basic) else x
    if not x.is_Rational:
        raise ValueError(f"expected a rational test value, got {x}")
    return Fraction(int(x.p), int(x.q))


# ----------------------------------------------------------------------------- ζ-form operations
def _numer(expr) -> sp.Expr:
    return sp.expand(sp.numer(sp.together(expr)))


def _to_g(F) -> sp.Expr:
    return _numer(F.subs(zeta, z * G - 1))


def _to_zeta(P) -> sp.Expr:
    F = _numer(P.subs(G, (1 + zeta) / z))
    _, factors = sp.factor_list(F)
    return sp.expand(sp.Mul(*[f ** k for f, k in factors if zeta in f.free_symbols]))


def _psi_numerator(atoms_nz, v):
    r"""Numerator of :math:`\psi_\mu(v) - \zeta` for the nonzero atoms (t_i, w_i)."""
    terms = sum(w * t * v / (1 - t * v) for t, w in atoms_nz)
    return _numer(terms - zeta)


def _chi_substitution(F, atoms, var_scale):
    r"""F(ζ, z·var_scale(v, ζ)) with :math:`\psi_\mu(v) = \zeta` eliminated (μ atomic)."""
    nz = [(t, w) for t, w in atoms if t != 0]
    if not nz:
        raise ValueError("the law of D^2 is the point mass at 0: the network is constant")
    if len(nz) == 1:
        t, w = nz[0]
        vv = zeta / (t * (w + zeta))
        return _numer(F.subs(z, z * var_scale(vv)))
    g = _numer(F.subs(z, z * var_scale(_v)))
    return sp.expand(sp.resultant(g, _psi_numerator(nz, _v), _v))


def _select(F, params, moments_fn, what):
    """Keep the irreducible factor of F (ζ-form) carrying the law; returns (F, P)."""
    P = _to_g(F)
    subs = test_point_values(params)
    P = select_branch_factor(P, moments_fn, subs, what)
    return _to_zeta(P), P


# ----------------------------------------------------------------------------- the returned law
class NetworkAlgebraicLaw(AlgebraicLaw):
    r"""An :class:`~freeprob.symbolic.AlgebraicLaw` of a network spectrum, with its ζ-form and exact atoms/edges.

    Attributes
    ----------
    zeta_polynomial : sympy expression
        :math:`F(\zeta, z)` with :math:`\zeta = zG - 1` (module docstring).
    description : str
        What law this is (activation, weights, depth, parameters).
    """

    def __init__(self, polynomial, zeta_polynomial, description: str, *, atoms=(), moments=(), check=False):
        super().__init__(polynomial, moments=moments, name=description, check=check)
        self._atoms = [(sp.sympify(a), sp.sympify(m)) for a, m in atoms]
        self.zeta_polynomial = sp.expand(zeta_polynomial)
        self.description = description

    def subs(self, values: Mapping) -> "NetworkAlgebraicLaw":
        vals = {k: (sp.Rational(repr(v)) if isinstance(v, float) else v) for k, v in dict(values).items()}
        return NetworkAlgebraicLaw(self.polynomial.subs(vals), self.zeta_polynomial.subs(vals),
                                   self.description + f" at {vals}",
                                   atoms=[(a.subs(vals), m.subs(vals)) for a, m in self._atoms
                                          if (m.subs(vals).free_symbols or m.subs(vals) > 0)],
                                   moments=[sp.sympify(m).subs(vals) for m in self.branch_data])

    # -- exact edges --------------------------------------------------------------------
    def edge_polynomial(self) -> sp.Expr:
        r"""Square-free polynomial in z whose real roots contain the support edges: the discriminant of
        :math:`F(\zeta, z)` in ζ (critical values of the ζ-parametrisation), times the leading coefficients."""
        F = sp.Poly(self.zeta_polynomial, zeta)
        out = sp.Integer(1)
        if F.degree() >= 2:
            out *= sp.discriminant(F.as_expr(), zeta)
        out *= F.LC()
        fl = sp.factor_list(sp.expand(out))[1]
        return sp.expand(sp.Mul(*[f for f, _ in fl if z in f.free_symbols]))

    def critical_points(self) -> list:
        r"""Roots :math:`\zeta_c` of :math:`\partial_\zeta F = 0` on :math:`F = 0` when F is linear in z
        (Jacobian laws): then :math:`z(\zeta) = -F_0(\zeta)/F_1(\zeta)` and edges are its critical values."""
        Fz = sp.Poly(self.zeta_polynomial, z)
        if Fz.degree() != 1:
            raise ValueError("critical_points needs a zeta-form linear in z (the Jacobian laws)")
        a, b = Fz.all_coeffs()
        crit = _numer(sp.diff(-b / a, zeta))
        return [r for r in sp.roots(sp.Poly(crit, zeta)).keys()] if sp.Poly(crit, zeta).degree() <= 4 \
            else sp.Poly(crit, zeta).all_roots()

    def parametric_edges(self, values: Mapping | None = None) -> list:
        r"""Support edges as expressions in the parameters.

        Jacobian laws (ζ-form linear in z): each edge is :math:`z(\zeta_c)` at a critical point
        :math:`\zeta_c` (solvable by radicals).  Other laws (the conditional Fisher law): the roots, by
        radicals, of the irreducible factors of :meth:`edge_polynomial` over the field of the parameters;
        this is within reach for degree 2 in G — the two-hidden-layer Fisher law (``depth=3``) with
        :math:`\sigma_w^2, \sigma_b^2` (and p, :math:`\hat q` for hard_tanh) symbolic — and refused
        above it (at depth 4 the discriminant with symbolic parameters took more than ten minutes):
        substitute numbers with :meth:`subs` and use :meth:`edges` there.  Which candidates are edges is
        decided at ``values`` (default: generic rational test values) by comparison with :meth:`edges`,
        so the formulas hold on the parameter region containing that point.

        >>> s, b = sp.symbols("sigma_w2 sigma_b2", positive=True)
        >>> symbolic_conditional_fim_law("relu", s, b, 3).parametric_edges()
        [-sigma_b2*(sigma_w2 + 1)/(sigma_w2 - 2), -sigma_b2*(sigma_w2**2 + sigma_w2 + 1)/(sigma_w2 - 2)]
        """
        Fz = sp.Poly(self.zeta_polynomial, z)
        if Fz.degree() == 1:
            a, b = Fz.all_coeffs()
            zc = [sp.factor(sp.cancel((-b / a).subs(zeta, r))) for r in self.critical_points()]
        else:
            if self.parameters and self.degree > 2:
                raise ValueError(f"parametric_edges: degree {self.degree} in G with symbolic parameters "
                                 f"{sorted(map(str, self.parameters))}; the discriminant is out of reach beyond degree 2 "
                                 "(the two-hidden-layer Fisher law, depth=3): substitute numbers with law.subs({...}) "
                                 "and use edges()")
            zc = []
            for f, _ in sp.factor_list(self.edge_polynomial(), z)[1]:
                pf = sp.Poly(f, z)
                if pf.degree() > 4:
                    raise ValueError(f"parametric_edges: a factor of degree {pf.degree()} in z of the edge polynomial "
                                     "has no formula by radicals; use edges() at numeric parameters")
                zc += [sp.factor(r) for r in sp.roots(pf, multiple=True)]
        vals = dict(values) if values else test_point_values(self.parameters)
        num = [float(e) for e in self.subs(vals).edges()] if self.parameters else [float(e) for e in self.edges()]
        out = []
        for e in num:
            best = None
            for ex in zc + [sp.Integer(0)]:
                try:
                    val = complex(sp.N(ex.subs(vals), 30))
                except (TypeError, ValueError, ZeroDivisionError):
                    continue
                if abs(val - e) <= 1e-10 * max(1.0, abs(e)):
                    best = ex
                    break
            if best is None:
                raise ValueError(f"edge {e} is not a critical value of z(zeta); use edges() at numeric parameters")
            out.append(best)
        return out

    def edges(self) -> list:
        """Exact support edges (numeric parameters): real roots of the discriminant that bound the support,
        as rationals, radicals or :class:`sympy.CRootOf`.  Between consecutive candidate points the density
        is either positive or zero; it is tested at the midpoints by following the Cauchy branch from
        far above the axis (homotopy in Im z, nearest root at each step)."""
        if self.parameters:
            raise ValueError(f"edges needs numeric parameters; substitute {sorted(map(str, self.parameters))} "
                             "with law.subs({...}) or use parametric_edges()")
        from freeprob.high_precision import algebraic_support_edges

        return algebraic_support_edges(self)

    # -- exact atoms --------------------------------------------------------------------
    def exact_atoms(self) -> list[tuple]:
        r"""Atoms ``[(point, mass), ...]``, exact, from the Bercovici–Voiculescu rules applied along the
        construction: for μ ⊠ ν on [0, ∞), an atom at :math:`bt` (b, t ≠ 0) of mass
        :math:`\mu\{b\} + \nu\{t\} - 1` when positive and :math:`(\mu\boxtimes\nu)\{0\} = \max(\mu\{0\}, \nu\{0\})`;
        scaling and shifting move atoms.  Each one is checked against the polynomial: the point is a
        root of the leading coefficient of P in G and the mass a root of the lowest-order part of
        :math:`(z-a)^d P(W/(z-a), z)` at :math:`z = a`.  With symbolic parameters the positivity of a
        mass is decided at generic rational test values.
        """
        out = [(sp.factor(a), sp.factor(m)) for a, m in self._atoms]
        if not self.parameters:
            for a, m in out:
                _check_pole(self.polynomial, a, m)
        return out


def _check_pole(P, a, m) -> None:
    """Raise if (a, m) is not a pole of some branch of P with residue m (a consistency check)."""
    W, e = sp.Symbol("W_"), sp.Symbol("e_")
    expr = _numer(P.subs({G: W / e, z: a + e}, simultaneous=True))
    pe = sp.Poly(expr, e)
    low = min(mono[0] for mono in pe.monoms())
    lowest = sp.expand(sum(c * e ** k for (k,), c in pe.terms() if k == low) / e ** low)
    if sp.simplify(lowest.subs(W, m)) != 0:
        raise AssertionError(f"atom ({a}, {m}) is not a pole of P with that residue")


def _positive(expr, subs) -> bool:
    val = sp.sympify(expr).subs(subs)
    return bool(val > 0)


def _boxtimes_atoms(mu, nu, subs):
    """Bercovici–Voiculescu atoms of mu ⊠ nu (lists of (point, mass)) on [0, inf)."""
    m0 = max([sum(w for t, w in mu if t == 0), sum(w for t, w in nu if t == 0)],
             key=lambda x: float(sp.sympify(x).subs(subs)))
    out = [(sp.Integer(0), m0)] if _positive(m0, subs) else []
    for b, mb in mu:
        for t, mt in nu:
            if b != 0 and t != 0 and _positive(mb + mt - 1, subs):
                out.append((sp.expand(b * t), sp.expand(mb + mt - 1)))
    return out


# ----------------------------------------------------------------------------- Jacobian
def _check_depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    return int(depth)


def _from_network(act, sigma_w2, sigma_b2, depth, weights, caller: str):
    """``(act, sigma_w2, sigma_b2, depth, weights, readout)``, read from a :class:`~nn_spectra.Network`
    when one is given as ``act`` (then the other arguments must be left at their defaults)."""
    from .network import Network

    if not isinstance(act, Network):
        return act, sigma_w2, sigma_b2, depth, weights, "linear"
    if (sigma_w2, sigma_b2, depth) != (None, None, None) or weights is not None:
        raise TypeError(f"{caller}: pass either a Network or its parameters, not both")
    ws = act.widths
    if ws is not None and len(set(ws[: act.hidden_layers + 1])) > 1:
        # unequal widths need one chi-substitution per distinct width ratio and a resultant each:
        # not implemented symbolically (the issue asks for equal widths); the numeric law has them
        raise ValueError(f"{caller}: the symbolic twins need equal widths n_0 = ... = n_K (K = {act.hidden_layers} "
                         f"nonlinear layers), got widths={ws}; use nn_spectra.jacobian_law (any widths) and "
                         "freeprob.high_precision for digits")
    return act.act, act.sigma_w2, act.sigma_b2, act.depth, act.weights, act.readout


def _check_max_degree(max_degree) -> int:
    if isinstance(max_degree, bool) or not isinstance(max_degree, (int, np.integer)) or max_degree < 1:
        raise ValueError(f"max_degree must be an integer >= 1, got {max_degree!r}")
    return int(max_degree)


def symbolic_jacobian_law(act, sigma_w2=None, sigma_b2=None, depth: int | None = None, weights: str | None = None,
                          *, alpha=None, p=None, max_degree: int = MAX_DEGREE) -> NetworkAlgebraicLaw:
    r"""The Jacobian law of :func:`nn_spectra.jacobian_law` as an algebraic law (equal widths).

    :math:`P(G, z) = F(zG - 1, z)` with F from
    :math:`z\,v^K(1+\zeta)^{K-1} = \sigma_w^{2K}\zeta^{K-1}` (orthogonal) or
    :math:`z\,v^K = \sigma_w^{2K}\zeta^{K-1}(1+\zeta)` (Gaussian), :math:`\psi_{D^2}(v) = \zeta`, over
    the :math:`K = L - 1` nonlinear layers of a network of L weight layers (module docstring).  :math:`\sigma_b^2` enters only through :math:`q^*`, i.e. only through p for
    hard_tanh (relu, leaky_relu and linear have :math:`D^2` independent of :math:`q^*`).

    Parameters
    ----------
    act : {"linear", "relu", "leaky_relu", "hard_tanh"}, Activation or Network
        A :class:`~nn_spectra.Network` describes the whole network (leave the other arguments unset).
    sigma_w2, sigma_b2 : number or sympy expression
        Floats are read as the decimal they print as (0.1 is 1/10).  Default 1 and 0.
    depth : int
        :math:`L \ge 2`, the number of weight layers, as in :func:`nn_spectra.jacobian_law` (J spans the
        K = L - 1 nonlinear layers before the linear readout).
    weights : {"orthogonal", "gaussian"}
        Default ``"orthogonal"``.
    alpha, p : optional
        leaky_relu slope; hard_tanh :math:`P(|h|<1)` (symbol ``p`` by default; see
        :func:`hard_tanh_parameters`).
    max_degree : int
        Largest degree in G allowed (L times the number of nonzero atoms, +1 for Gaussian weights).

    Examples
    --------
    >>> law = symbolic_jacobian_law("relu", 2, 0, depth=4)       # critical relu, orthogonal, 3 nonlinear layers
    >>> law.moments(3)
    [1, 4, 19]
    >>> law.edges()
    [0, 27/4]
    """
    act, sigma_w2, sigma_b2, depth, weights, readout = _from_network(act, sigma_w2, sigma_b2, depth, weights,
                                                                     "symbolic_jacobian_law")
    sigma_w2 = 1 if sigma_w2 is None else sigma_w2
    sigma_b2 = 0 if sigma_b2 is None else sigma_b2
    weights = "orthogonal" if weights is None else weights
    name, a_act = _act_name(act)
    depth = _check_depth(depth if depth is not None else 2)
    # J spans the nonlinear layers only: the linear readout is not part of it
    L = depth - 1 if readout == "linear" else depth
    if L < 1:
        raise ValueError(f"depth must be >= 2 (L counts weight layers; J needs one nonlinear layer before the "
                         f"linear readout), got depth={depth}")
    if weights not in ("orthogonal", "gaussian"):
        raise ValueError(f"weights must be one of ('orthogonal', 'gaussian'), got {weights!r}")
    max_degree = _check_max_degree(max_degree)
    sw = _exact("sigma_w2", sigma_w2, lower=0)
    _exact("sigma_b2", sigma_b2, lower=0, strict=False)
    atoms = d2_atoms(name, alpha=alpha if alpha is not None else a_act, p=p)
    nz = [(t, w) for t, w in atoms if t != 0]
    est = L * len(nz) + (1 if weights == "gaussian" else 0)
    if est > max_degree:
        raise ValueError(f"depth={depth}: the Jacobian law of {name} ({weights}) has degree about {est} in G, "
                         f"above max_degree={max_degree}; raise max_degree (cost grows quickly) or lower depth")
    gauss = weights == "gaussian"
    # from here L is K, the number of nonlinear layers of J (the module docstring's K)
    # F(zeta, z) = z v^K (1+zeta)^{K-1} - s^{2K} zeta^{K-1}  (orthogonal), v eliminated
    if len(nz) == 1:
        t, w = nz[0]
        v = zeta / (t * (w + zeta))
        lhs = z * v ** L * (1 if gauss else (1 + zeta) ** (L - 1))
        rhs = sw ** L * zeta ** (L - 1) * ((1 + zeta) if gauss else 1)
        F = _numer(lhs - rhs)
    else:
        lhs = z * _v ** L * (1 if gauss else (1 + zeta) ** (L - 1))
        rhs = sw ** L * zeta ** (L - 1) * ((1 + zeta) if gauss else 1)
        F = sp.expand(sp.resultant(_numer(lhs - rhs), _psi_numerator(nz, _v), _v))
    params = F.free_symbols - {zeta, z}
    subs = test_point_values(params)

    def moments_fn(n):
        at = [(_frac(sp.sympify(t).subs(subs)), _frac(sp.sympify(w).subs(subs))) for t, w in atoms]
        s2 = _frac(sw.subs(subs))
        m_mu = [sum(w * t ** k for t, w in at) for k in range(1, n + 1)]
        s_mu = _s_from_moments(m_mu, n)
        factor = [x / s2 for x in s_mu]
        if gauss:
            factor = _ser_mul(factor, [Fraction((-1) ** k) for k in range(n)], n - 1)[:n]
        total = [Fraction(1)] + [Fraction(0)] * (n - 1)
        for _ in range(L):
            total = _ser_mul(total, factor, n - 1)[:n]
        return _moments_from_s(total, n)

    F, P = _select(F, params, moments_fn, "symbolic_jacobian_law")
    desc = f"jacobian({name}, sigma_w2={sw}, depth={depth}, {weights})"
    layer = [(sp.expand(sw * t), w) for t, w in atoms]
    if gauss:   # MP(1) has no atom: only the atom at 0 survives, with the mass of D^2 at 0
        at = [(sp.Integer(0), w) for t, w in atoms if t == 0 and _positive(w, subs)]
    else:
        at = layer
        for _ in range(L - 1):
            at = _boxtimes_atoms(layer, at, subs)
    return NetworkAlgebraicLaw(P, F, desc, atoms=at)


# ----------------------------------------------------------------------------- conditional Fisher
def symbolic_conditional_fim_law(act, sigma_w2=None, sigma_b2=None, depth: int | None = None, *, alpha=None,
                                 p=None, qhat=None, max_degree: int = MAX_FIM_DEGREE) -> NetworkAlgebraicLaw:
    r"""The conditional Fisher law of :func:`nn_spectra.conditional_fim_law` as an algebraic law.

    :math:`\nu_1 = \delta_{\hat q}`, :math:`\nu_{l+1} = \mathrm{shift}_{\hat q}(\sigma_w^2(\mu_{D^2}\boxtimes\nu_l))`,
    each step a substitution in the ζ-form (module docstring); depth L = number of weight layers
    (``depth=3``: two hidden layers, the case Hayase–Karakida solve explicitly).

    Parameters
    ----------
    act : {"linear", "relu", "leaky_relu", "hard_tanh"}, Activation or Network
        A :class:`~nn_spectra.Network` (orthogonal weights, linear readout) describes the whole network.
    sigma_w2, sigma_b2 : number or sympy expression
        Default 1 and 0.
    depth : int
        L, the number of weight layers, as in :func:`nn_spectra.conditional_fim_law` (default 3).
    alpha, p : optional
        As in :func:`symbolic_jacobian_law`.
    qhat : optional
        :math:`\hat q = (q^*-\sigma_b^2)/\sigma_w^2`; exact from :func:`exact_mean_field` except for
        hard_tanh, where it is a symbol ``qhat`` by default.
    max_degree : int
        Limit on the degree of P in G (default :data:`MAX_FIM_DEGREE`): refused before computing when
        the estimate :math:`2^{L-2}` (exact for relu and hard_tanh) exceeds it, and checked again at
        every layer (leaky_relu grows faster: 2, 6 at depths 3, 4).

    Examples
    --------
    >>> law = symbolic_conditional_fim_law("relu", sp.Rational(3, 2), sp.Rational(3, 10), depth=3)
    >>> law.degree, law.moments(2)
    (2, [111/80, 17019/6400])
    """
    act, sigma_w2, sigma_b2, depth, weights, readout = _from_network(act, sigma_w2, sigma_b2, depth, None,
                                                                     "symbolic_conditional_fim_law")
    if weights not in (None, "orthogonal") or readout != "linear":
        raise ValueError("symbolic_conditional_fim_law needs orthogonal weights and a linear readout (Hayase-Karakida), "
                         f"got weights={weights!r}, readout={readout!r}")
    sigma_w2 = 1 if sigma_w2 is None else sigma_w2
    sigma_b2 = 0 if sigma_b2 is None else sigma_b2
    name, a_act = _act_name(act)
    L = _check_depth(3 if depth is None else depth)
    max_degree = _check_max_degree(max_degree)
    sw = _exact("sigma_w2", sigma_w2, lower=0)
    sb = _exact("sigma_b2", sigma_b2, lower=0, strict=False)
    atoms = d2_atoms(name, alpha=alpha if alpha is not None else a_act, p=p)
    est = 2 ** (L - 2) if L >= 2 else 1      # relu, hard_tanh: 1, 2, 4, 8, 16; leaky_relu grows faster
    if est > max_degree:
        raise ValueError(f"depth={L}: the conditional Fisher law of {name} has degree about {est} in G (it doubles "
                         f"per layer), above max_degree={max_degree}; raise max_degree (minutes beyond 8) or lower depth")
    if qhat is not None:
        qh = _exact("qhat", qhat, lower=0)
    elif name == "hard_tanh":
        qh = sp.Symbol("qhat", positive=True)
    else:
        q = exact_mean_field(name, sw, sb, alpha=alpha if alpha is not None else a_act)
        qh = sp.cancel((q - sb) / sw)
        if not qh.free_symbols and qh <= 0:
            raise ValueError(f"the fixed point has zero activations (q* = {q} = sigma_b2): the FIM given x vanishes")
    params = (set().union(*[sp.sympify(t).free_symbols | sp.sympify(w).free_symbols for t, w in atoms])
              | sw.free_symbols | qh.free_symbols)
    subs = test_point_values(params)
    at_num = [(_frac(sp.sympify(t).subs(subs)), _frac(sp.sympify(w).subs(subs))) for t, w in atoms]
    s2n, qn = _frac(sw.subs(subs)), _frac(qh.subs(subs))

    def next_moments(m, n):
        s_mu = _s_from_moments([sum(w * t ** k for t, w in at_num) for k in range(1, n + 1)], n)
        s_nu = _s_from_moments(m[:n], n)
        prod = _moments_from_s(_ser_mul(s_mu, s_nu, n - 1)[:n], n)
        sc = [Fraction(1)] + [x * s2n ** (k + 1) for k, x in enumerate(prod)]
        return [sum(comb(k, j) * sc[j] * qn ** (k - j) for j in range(k + 1)) for k in range(1, n + 1)]

    def moments_at(level, n):
        m = [qn ** k for k in range(1, n + 1)]
        for _ in range(level - 1):
            m = next_moments(m, n)
        return m

    F = _numer(zeta * (z - qh) - qh)          # nu_1 = delta_qhat: zeta = qhat/(z - qhat)
    at = [(qh, sp.Integer(1))]
    for level in range(2, L + 1):
        at = [(sp.expand(qh + sw * a), m) for a, m in _boxtimes_atoms(atoms, at, subs)]
        # mu boxtimes nu: the old law at z v (1+zeta)/zeta
        F = _chi_substitution(F, atoms, lambda v: v * (1 + zeta) / zeta)
        F = _numer(F.subs(z, z / sw))                                           # scale by sigma_w^2
        F = _numer(F.subs({zeta: (1 + zeta) * (z - qh) / z - 1, z: z - qh}, simultaneous=True))  # shift
        F, P = _select(F, params, lambda n, lev=level: moments_at(lev, n),
                       f"symbolic_conditional_fim_law (level {level})")
        deg = sp.Poly(P, G).degree()
        if deg > max_degree:
            raise ValueError(f"depth={L}: at level {level} the conditional Fisher law of {name} has degree {deg} "
                             f"in G, above max_degree={max_degree}; raise max_degree or lower depth")
    P = _to_g(F)
    P = select_branch_factor(P, lambda n: moments_at(L, n), subs, "symbolic_conditional_fim_law")
    desc = f"conditional_fim({name}, sigma_w2={sw}, qhat={qh}, depth={L})"
    return NetworkAlgebraicLaw(P, _to_zeta(P), desc, atoms=at)
