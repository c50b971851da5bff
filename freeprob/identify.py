r"""From a number to a closed form: integer-relation search on a high-precision constant.

:func:`identify` looks for

1. an algebraic number: an integer polynomial of degree :math:`\le` ``max_degree`` vanishing at the
   value (``mpmath.findpoly``, i.e. PSLQ on :math:`1, x, \dots, x^d`), reported with its minimal
   polynomial and as radicals (degree :math:`\le 2`) or a :class:`sympy.CRootOf`;
2. an algebraic number (degree :math:`\le 4`) times :math:`\pi^{-1}`, :math:`\pi` or :math:`\pi^{-2}`
   (e.g. :math:`\sqrt{170}/(17\pi)`, a density value);
3. a rational combination of constants: PSLQ on :math:`(t, 1, \sqrt2, \sqrt3, \sqrt5, \pi, \log 2)`
   for :math:`t \in \{x, \pi x, x/\pi, \pi^2 x\}` (so :math:`1/\pi`, :math:`\sqrt3/(2\pi)`, ... are found).

Significance.  From D correct digits, PSLQ finds *some* integer relation among n numbers with
coefficients of about :math:`10^{D/(n-1)}` for any input, random reals included.  A relation is
accepted only if it holds to the accuracy the input allows (:math:`10^{3-D}H\max|x_i|`, not
mpmath's default 3D/4 digits) and is far smaller than a chance relation at that accuracy:
:math:`n\log_{10}(1 + H) \le D - 3 - M`, H its largest coefficient and :math:`M = \max(10, D/4)`
the safety margin.  Heuristically a random real passes with probability about :math:`10^{-M}` per search,
which the tests measure (no false positive on random reals).  Below :data:`MIN_DIGITS` digits the
search refuses to guess.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import mpmath as mp
import sympy as sp

__all__ = ["MIN_DIGITS", "Identification", "identify", "register"]

#: Fewest correct digits with which :func:`identify` accepts to search.
MIN_DIGITS = 20
#: digits at the end of the input not required to satisfy a relation (rounding of the last digits)
_GUARD = 3
_MAXSTEPS = 400
_x = sp.Symbol("x")


@dataclass(frozen=True)
class Identification:
    """Result of :func:`identify`.

    Attributes
    ----------
    identified : bool
    expression : sympy expression or None
        The closed form (None when not identified).
    kind : str
        ``"algebraic"``, ``"constants"`` or ``"not identified"``.
    minimal_polynomial : sympy expression or None
        Minimal polynomial in ``x`` (algebraic numbers).
    residual : float
        :math:`|x - \\text{expression}|/\\max(1, |x|)` at the digits used.
    digits : int
        Correct digits of the input used by the search.
    spare_digits : float
        :math:`D - (n-1)\\log_{10}(1+H)`: digits not consumed by the relation (its significance).
    """

    value: str
    identified: bool
    expression: object = None
    kind: str = "not identified"
    minimal_polynomial: object = None
    residual: float = float("nan")
    digits: int = 0
    spare_digits: float = 0.0

    def __str__(self) -> str:
        if not self.identified:
            return f"{self.value}: not identified (digits used: {self.digits})"
        extra = f", minimal polynomial {self.minimal_polynomial} = 0" if self.minimal_polynomial is not None else ""
        return (f"{self.value} = {self.expression}  [{self.kind}{extra}; residual {self.residual:.1e}, "
                f"digits used {self.digits}, spare digits {self.spare_digits:.0f}]")


def _digits_of(value) -> int | None:
    s = value.strip().lower().lstrip("+-")
    mant = s.split("e")[0].replace(".", "")
    if not mant.isdigit():
        return None
    sig = mant.lstrip("0")
    return len(sig) if sig else len(mant)   # "0.000" is zero known to that many places


def _as_mpf(value, digits):
    """(mpf, digits) from a string (digits counted), an mpf (digits required or mp.dps) or a float."""
    if isinstance(value, str):
        d = _digits_of(value)
        if d is None:
            raise ValueError(f"value must be a decimal number, got {value!r}")
        d = d if digits is None else min(d, int(digits))
        with mp.workdps(d + 10):
            return mp.mpf(value), d
    if isinstance(value, float):
        return mp.mpf(value), (15 if digits is None else min(15, int(digits)))
    if isinstance(value, (mp.mpf, int, sp.Basic)) or hasattr(value, "_mpf_"):
        d = mp.mp.dps if digits is None else int(digits)
        with mp.workdps(d + 10):
            return mp.mpf(value if not isinstance(value, sp.Basic) else str(sp.N(value, d + 10))), d
    if isinstance(value, mp.mpc) or isinstance(value, complex):
        raise ValueError("value must be real (identify the real and imaginary parts separately)")
    raise ValueError(f"value must be a decimal string, an mpmath number or a float, got {type(value).__name__}")


def _tol(D, bound, size):
    # a true relation with coefficients <= bound among numbers of this size holds up to the rounding
    # of the last digits; mpmath's default (3/4 of the working precision) would let a random real pass
    return mp.mpf(10) ** (-(D - _GUARD)) * bound * size


def _significant(coeffs, D, margin) -> tuple[bool, float]:
    H = max(abs(int(c)) for c in coeffs)
    n = sum(1 for c in coeffs if c != 0)
    used = len(coeffs) * mp.log10(1 + H) if n > 1 else 0
    spare = float(D - _GUARD - used)
    return spare >= margin, spare


def _algebraic(x, D, max_degree, margin):
    for d in range(1, max_degree + 1):
        bound = int(mp.mpf(10) ** ((D - _GUARD - margin) / (d + 1)))
        if bound < 1:
            break
        with mp.workdps(D):
            # PSLQ on (1, x, ..., x^d) (mpmath.findpoly would redo every lower degree)
            c = mp.pslq([x ** k for k in range(d + 1)], maxcoeff=bound, maxsteps=_MAXSTEPS,
                        tol=_tol(D, bound, max(1, abs(x)) ** d))
        if not c or c[-1] == 0:
            continue
        c = c[::-1]
        ok, spare = _significant(c, D, margin)
        if not ok:
            continue
        poly = sp.Poly(list(map(int, c)), _x)
        # the irreducible factor vanishing at x is the minimal polynomial
        facs = [f for f, _ in sp.factor_list(poly.as_expr())[1]]
        with mp.workdps(D + 10):
            f = min(facs, key=lambda f: abs(mp.polyval([mp.mpf(int(a)) for a in sp.Poly(f, _x).all_coeffs()], x)))
        fp_ = sp.Poly(f, _x)
        if fp_.LC() < 0:
            fp_ = -fp_
        roots = fp_.real_roots()
        expr = min(roots, key=lambda r: abs(mp.mpf(str(sp.N(r, D + 5))) - x))
        if fp_.degree() <= 2:
            expr = sp.simplify(sp.radsimp(expr))
        return expr, fp_.as_expr(), spare
    return None


_CONSTANTS = {"1": lambda: mp.mpf(1), "sqrt(2)": lambda: mp.sqrt(2), "sqrt(3)": lambda: mp.sqrt(3),
              "sqrt(5)": lambda: mp.sqrt(5), "pi": lambda: +mp.pi, "log(2)": lambda: mp.log(2)}
_TRANSFORMS = {"x": (lambda x: x, lambda e: e), "pi*x": (lambda x: mp.pi * x, lambda e: e / sp.pi),
               "x/pi": (lambda x: x / mp.pi, lambda e: e * sp.pi), "pi**2*x": (lambda x: mp.pi ** 2 * x, lambda e: e / sp.pi ** 2)}


def _constants(x, D, margin):
    names = list(_CONSTANTS)
    best = None
    # an algebraic number times a power of pi (e.g. sqrt(170)/(17 pi), a density value)
    for tname, (fwd, back) in list(_TRANSFORMS.items())[1:]:
        with mp.workdps(D + 10):
            t = fwd(x)
        found = _algebraic(t, D, 4, margin)
        if found is not None:
            expr, _, spare = found
            return sp.simplify(back(expr)), None, spare
    with mp.workdps(D):
        basis = [_CONSTANTS[k]() for k in names]
        for tname, (fwd, back) in _TRANSFORMS.items():
            t = fwd(x)
            bound = int(mp.mpf(10) ** ((D - _GUARD - margin) / (len(names) + 1)))
            rel = mp.pslq([t] + basis, tol=_tol(D, bound, max(4, abs(t))), maxcoeff=max(bound, 1), maxsteps=_MAXSTEPS)
            if not rel or rel[0] == 0:
                continue
            ok, spare = _significant(rel, D, margin)
            if not ok:
                continue
            expr = -sum(sp.Integer(a) * sp.sympify(n) for a, n in zip(rel[1:], names)) / sp.Integer(rel[0])
            cand = sp.nsimplify(back(sp.simplify(expr)))
            if best is None or spare > best[2]:
                best = (sp.simplify(cand), None, spare)
    return best


def identify(value, *, digits: int | None = None, max_degree: int = 8, min_digits: int = MIN_DIGITS,
             margin: float | None = None) -> Identification:
    r"""Turn a high-precision constant into a closed form, or say it is not identified.

    Parameters
    ----------
    value : str, mpmath.mpf or float
        A decimal string (its significant digits are the digits used), an mpf (correct to
        ``digits``, default ``mp.dps``) or a float (15 digits: always refused).
    digits : int, optional
        Correct digits of ``value`` if fewer than it carries.
    max_degree : int
        Largest degree of the minimal polynomial searched.
    min_digits : int
        Refuse (``ValueError``) below this many digits; at least :data:`MIN_DIGITS`.
    margin : float, optional
        Spare digits a relation must leave (default :math:`\max(10, D/4)`, module docstring).

    Returns
    -------
    Identification

    Raises
    ------
    ValueError
        Fewer than ``min_digits`` digits, or a value that is not a real number.

    Examples
    --------
    >>> import mpmath as mp
    >>> with mp.workdps(40):
    ...     r = identify(1 + mp.sqrt(2), digits=40)
    >>> r.expression, r.minimal_polynomial
    (1 + sqrt(2), x**2 - 2*x - 1)
    >>> identify("0.2914177763170669074391500080636083778353").identified      # random digits
    False
    """
    if isinstance(max_degree, bool) or not isinstance(max_degree, int) or not 1 <= max_degree <= 24:
        raise ValueError(f"max_degree must be an integer in [1, 24], got {max_degree!r}")
    min_digits = max(int(min_digits), MIN_DIGITS)
    x, D = _as_mpf(value, digits)
    shown = value if isinstance(value, str) else mp.nstr(x, min(D, 50))
    if D < min_digits:
        raise ValueError(f"value has {D} correct digits; identify needs at least min_digits={min_digits} "
                         "to tell a closed form from a coincidence (use freeprob.high_precision for more digits)")
    M = max(10.0, D / 4) if margin is None else float(margin)
    with mp.workdps(D + 10):
        if x == 0:
            return Identification(shown, True, sp.Integer(0), "algebraic", _x, 0.0, D, float(D))
        found = _algebraic(x, D, max_degree, M)
        kind = "algebraic"
        if found is None:
            found = _constants(x, D, M)
            kind = "constants"
        if found is None:
            return Identification(shown, False, digits=D)
        expr, minpoly, spare = found
        val = mp.mpf(str(sp.N(expr, D + 10)))
        res = float(abs(val - x) / max(1, abs(x)))
    if res > 10.0 ** (-(D - 2)):
        return Identification(shown, False, digits=D)
    return Identification(shown, True, expr, kind, minpoly, res, D, spare)


# ----------------------------------------------------------------------------- command line
def register(subparsers) -> None:
    """The ``freeprob identify`` subcommand."""
    p = subparsers.add_parser(
        "identify",
        help="closed form of a constant (a number, or a law's density/edges/atoms at high precision)",
        description="Identify a constant by integer-relation search. EXPR is either a decimal number "
                    "(its digits are used) or an algebraic law expression, e.g. "
                    "'boxplus(free_poisson(), scale(free_poisson(), -1))', whose density at --at X, "
                    "support edges or atoms are computed to --digits digits first.",
    )
    p.add_argument("expr", help="a decimal number or a law expression")
    p.add_argument("--at", type=float, default=None, help="point x for --what density/cauchy")
    p.add_argument("--what", choices=("density", "edges", "atoms"), default=None,
                   help="quantity of the law (default: density with --at, else edges)")
    p.add_argument("--digits", type=int, default=40, help="digits computed and used (default 40)")
    p.add_argument("--max-degree", type=int, default=8, help="largest degree of a minimal polynomial (default 8)")
    p.set_defaults(func=run)


def _law_quantities(text: str, what: str, at, digits: int) -> list[tuple[str, object]]:
    """(label, mpf) pairs: the law's density at ``at``, its edges or its atom masses to ``digits``."""
    import numpy as np

    from . import high_precision as hp
    from .expr import evaluate, parse_expression
    from .symbolic.algebraic import AlgebraicLaw, G, z
    from .symbolic.command import symbolic_table

    law = evaluate(parse_expression(text), symbolic_table())
    if not isinstance(law, AlgebraicLaw):
        raise ValueError("EXPR must describe an algebraic law or be a number")
    if law.parameters:
        raise ValueError(f"EXPR has free parameters {sorted(map(str, law.parameters))}")
    dps = digits + 10
    out = []
    if what == "density":
        g0 = complex(hp.track_algebraic_cauchy(law, [at], 1e-12 * max(1.0, abs(at)))[0])
        if abs(g0.imag) < 1e-9:
            raise ValueError(f"x = {at} is outside the support of the law (density 0)")
        g = hp.algebraic_cauchy(law, at, g0, dps=dps)
        with mp.workdps(dps):
            out.append((f"density({at:g})", -mp.im(g) / mp.pi))
    elif what == "edges":
        edges = hp.algebraic_support_edges(law)
        vals = [float(sp.N(e, 20)) for e in edges]
        scale = max([1.0] + [abs(v) for v in vals])
        lc = sp.Poly(sp.Poly(law.polynomial, G).LC(), z)
        for i, (ex, e) in enumerate(zip(edges, vals)):
            if lc.degree() >= 1 and lc.eval(ex) == 0:
                # a pole of a branch (inverse-square-root edge or atom): the edge is that exact root
                with mp.workdps(dps):
                    out.append((f"edge {e:.12g} (root of the leading coefficient)", mp.mpf(str(sp.N(ex, dps)))))
                continue
            # a fold: approach from the gap side, where G is real, then Newton on P = dP/dG = 0
            side = -1 if i % 2 == 0 else 1
            xe = e + side * 1e-9 * scale
            g0 = float(np.real(hp.track_algebraic_cauchy(law, [xe], 1e-14 * scale)[0]))
            out.append((f"edge {e:.12g}", hp.algebraic_edge(law, xe, g0, dps=dps)))
    else:
        cands = hp.algebraic_candidates(law)
        lc = sp.Poly(sp.Poly(law.polynomial, G).LC(), z)
        for a in cands:
            if lc.eval(a) != 0:
                continue
            af = float(sp.N(a, 20))
            eta = 1e-9 * max(1.0, abs(af))
            # an atom has i eta G -> mass at every small eta; an inverse-square-root edge gives O(sqrt(eta))
            m1, m2 = (float(np.real(1j * h * hp.track_algebraic_cauchy(law, [af], h)[0])) for h in (eta, eta / 100))
            if m2 > 1e-6 and abs(m1 - m2) < 1e-2 * m2:
                out.append((f"atom mass at {af:.12g}", hp.atom_mass(law, a, dps=dps, w0=m2)))
    return out


def run(args: argparse.Namespace) -> int:
    from .cli import UsageError

    if not MIN_DIGITS <= args.digits <= 500:
        raise UsageError(f"--digits must lie in [{MIN_DIGITS}, 500], got {args.digits}")
    try:
        if _digits_of(args.expr) is not None:
            r = identify(args.expr, max_degree=args.max_degree)
            print(r)
            return 0
        what = args.what or ("density" if args.at is not None else "edges")
        if what == "density" and args.at is None:
            raise UsageError("--what density needs --at X")
        found = _law_quantities(args.expr, what, args.at, args.digits)
        if not found:
            print(f"{what}: none")
        for label, val in found:
            with mp.workdps(args.digits + 10):
                r = identify(val, digits=args.digits, max_degree=args.max_degree)
            print(f"{label} = {r}")
    except ValueError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    return 0
