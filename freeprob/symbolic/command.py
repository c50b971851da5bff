"""``freeprob transform EXPR --kind KIND``: exact transforms of an algebraic law from the command line.

EXPR is in the language of :mod:`freeprob.expr` (e.g. ``boxplus(semicircle(var=1), marchenko_pastur(ratio=0.5))``),
evaluated with the symbolic twins: numbers become exact rationals (``0.5`` is ``1/2``).
"""
from __future__ import annotations

import argparse

import sympy as sp

DEFAULT_EXPR = "boxplus(semicircle(var=1), free_poisson(rate=1, jump=1))"
KINDS = ("polynomial", "cauchy", "r", "s", "moments", "subordination")
_NOT_ALGEBRAIC = ("uniform", "normal", "empirical")
#: work bounds checked before any algebra: the degree in G of the law's polynomial (estimated on
#: the expression: a resultant multiplies degrees) and the number of exact moments per degree
MAX_DEGREE = 16
_DEGREE2 = {"semicircle", "free_poisson", "marchenko_pastur", "arcsine", "kesten_mckay", "bernoulli"}


def _moment_bound(degree: int) -> int:
    # exact moments by implicit series cost ~ n³ (n = 40: 2.4 s at degree 2, 4 s at degree 3)
    return 60 if degree <= 2 else 40 if degree <= 4 else 20


def estimated_degree(tree) -> int:
    """Upper bound on the degree in G of the polynomial of an expression tree (before building it)."""
    from ..expr import Call

    if not isinstance(tree, Call):
        return 1
    name = tree.name.lstrip(".")
    if name in ("scale", "shift"):
        return estimated_degree(tree.args[0]) if tree.args else 1
    if name in ("boxplus", "boxtimes"):
        d = 1
        for a in tree.args:
            d *= estimated_degree(a)
        return d
    if name == "free_power":
        return estimated_degree(tree.args[0]) * 2 if tree.args else 2
    if name == "fuss_catalan":
        s = tree.args[0] if tree.args else dict(tree.kwargs).get("s", 2.0)
        return int(s) + 1 if isinstance(s, float) and s < 10**6 else 10**6
    if name == "atoms":
        pts = tree.args[0] if tree.args else dict(tree.kwargs).get("points", ())
        return len(pts) if isinstance(pts, tuple) else 1
    return 2


def symbolic_table() -> dict:
    """Functions of the symbolic expression language."""
    from . import builtins, resultants

    table = {name: getattr(builtins, name) for name in builtins.__all__ if name != "algebraic"}
    table.update({name: getattr(resultants, name) for name in resultants.__all__})
    table["atoms"] = lambda points, weights=None: builtins.atoms(list(points), None if weights is None else list(weights))

    def refuse(name):
        def fn(*args, **kwargs):
            raise ValueError(f"{name} is not an algebraic law; use the numeric route: freeprob density '{name}(...)'")
        return fn

    for name in _NOT_ALGEBRAIC:
        table[name] = refuse(name)
    return table


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "transform",
        help="exact transforms of an algebraic law (polynomial method, SymPy)",
        description="Print an exact transform of EXPR, e.g. "
        f'"{DEFAULT_EXPR}" (the default).',
    )
    p.add_argument("expr", nargs="?", default=DEFAULT_EXPR, help="law expression")
    p.add_argument("--kind", choices=KINDS, default="polynomial", help="what to print (default: polynomial)")
    p.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")
    p.add_argument("-n", "--n", type=int, default=8, help="number of moments/cumulants (--kind moments)")
    p.add_argument("--max-degree", type=int, default=2, choices=(1, 2, 3, 4),
                   help="largest degree solved explicitly by radicals (default 2)")
    p.set_defaults(func=run)


def _fmt(eq, latex: bool) -> str:
    """``lhs = rhs`` in plain text, or LaTeX."""
    return sp.latex(eq) if latex else f"{sp.sstr(eq.lhs)} = {sp.sstr(eq.rhs)}"


def _evaluate(text: str):
    from ..expr import ExpressionError, evaluate, parse_expression
    from .algebraic import AlgebraicLaw

    tree = parse_expression(text)
    degree = estimated_degree(tree)
    if degree > MAX_DEGREE:
        raise ExpressionError(f"the law's polynomial would have degree up to {degree} in G; the command line "
                              f"accepts degree <= {MAX_DEGREE} (resultants multiply degrees; use the Python "
                              "API freeprob.symbolic for larger ones)")
    out = evaluate(tree, symbolic_table())
    if not isinstance(out, AlgebraicLaw):
        raise ExpressionError("the expression must describe a law, not a number")
    return tree, out


def run(args: argparse.Namespace) -> int:
    from ..cli import UsageError

    if not 1 <= args.n <= 200:
        raise UsageError(f"--n must lie in [1, 200], got {args.n}")
    try:
        return _run(args)
    except ValueError as exc:  # ExpressionError included
        raise UsageError(str(exc).splitlines()[0]) from None


def _run(args) -> int:
    from ..expr import ExpressionError, evaluate
    from .algebraic import G, R, S, w, z
    from .subordination import subordination_equations

    tree, law = _evaluate(args.expr)
    if args.kind == "moments":
        degree = int(sp.degree(law.polynomial, G))
        if args.n > _moment_bound(degree):
            raise ExpressionError(f"--n {args.n}: at most {_moment_bound(degree)} exact moments for a law whose "
                                  f"polynomial has degree {degree} in G (the cost grows like n³)")
    tex = args.latex
    if args.kind == "polynomial":
        print(_fmt(sp.Eq(law.polynomial, 0), tex))
    elif args.kind == "cauchy":
        print(_fmt(sp.Eq(sp.Function("G")(z), law.cauchy(args.max_degree)), tex))
    elif args.kind == "r":
        print(_fmt(sp.Eq(law.r_polynomial(), 0), tex))
        try:
            print(_fmt(sp.Eq(sp.Function("R")(w), law.r_transform(args.max_degree)), tex))
        except ValueError as exc:
            print(f"(no explicit form: {str(exc).splitlines()[0]})")
    elif args.kind == "s":
        if law.moments(1)[0] == 0:
            raise ExpressionError(f"the S-transform needs a law with nonzero mean; {args.expr} has mean 0")
        print(_fmt(sp.Eq(law.s_polynomial(), 0), tex))
        try:
            print(_fmt(sp.Eq(sp.Function("S")(z), law.s_transform(args.max_degree)), tex))
        except ValueError as exc:
            print(f"(no explicit form: {str(exc).splitlines()[0]})")
    elif args.kind == "moments":
        m = law.moments(args.n)
        k = law.free_cumulants(args.n)
        if tex:
            print(", ".join(f"m_{{{i + 1}}} = {sp.latex(v)}" for i, v in enumerate(m)))
            print(", ".join(f"\\kappa_{{{i + 1}}} = {sp.latex(v)}" for i, v in enumerate(k)))
        else:
            print("moments:         " + ", ".join(sp.sstr(v) for v in m))
            print("free cumulants:  " + ", ".join(sp.sstr(v) for v in k))
    else:  # subordination
        if getattr(tree, "name", None) not in ("boxplus", "boxtimes") or len(tree.args) != 2:
            raise ExpressionError("--kind subordination needs EXPR of the form boxplus(A, B) or boxtimes(A, B)")
        from .command import symbolic_table as _t

        a, b = (evaluate(t, _t()) for t in tree.args)
        eqs = subordination_equations(a, b, tree.name)
        print(eqs.latex() if tex else "\n".join(_fmt(e, False) for e in eqs))
    return 0
