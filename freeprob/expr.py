"""A small, safe expression language over the built-in laws.

``boxplus(semicircle(var=1), marchenko_pastur(ratio=0.5))``, ``boxtimes(bernoulli(0.5), bernoulli(0.5))``,
``semicircle().scale(2)``, ``-1.5``...  The text is parsed with :mod:`ast` and walked with a
whitelist of node types and names; nothing is ever passed to ``eval``.

Polynomials in free variables: ``poly(x*y + y*x, x=semicircle(), y=semicircle())``.  Inside the
first argument of ``poly`` (and only there) bare names are variables and ``+ - *`` and ``**`` with
a small non-negative integer exponent (at most 12) are allowed, with numeric coefficients; each
variable gets its law as a keyword argument.

>>> law_from_expression("boxplus(semicircle(var=1), semicircle(var=3))")
boxplus(semicircle(var=1, mean=0), semicircle(var=3, mean=0))
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable, Mapping


class ExpressionError(ValueError):
    """The expression is not in the language."""


@dataclass(frozen=True)
class Call:
    """A whitelisted call ``name(*args, **kwargs)``; methods appear as ``name = "." + method``."""

    name: str
    args: tuple
    kwargs: tuple  # of (key, value) pairs


_METHODS = {"scale", "shift"}
_MAX_POWER = 12
#: bounds on poly(...) checked before any work: total degree and number of noncommutative
#: monomials after expansion (each monomial adds rows to the linearization pencil)
MAX_TOTAL_DEGREE = 12
MAX_MONOMIALS = 64
#: the largest magnitude of a number literal (beyond it float64 overflows)
_MAX_NUMBER = 1e300


@dataclass(frozen=True)
class PolyExpr:
    """A polynomial written inside ``poly(...)``: a tree of ``(op, operands)`` tuples,
    variable names (``str``) and float coefficients."""

    tree: Any


def _number(node) -> float:
    try:
        v = float(node.value)
    except OverflowError:
        v = float("inf")
    if not abs(v) <= _MAX_NUMBER:
        raise ExpressionError(f"the number {ast.unparse(node)[:20]}{'...' if len(ast.unparse(node)) > 20 else ''} "
                              f"is out of range: numbers must be finite with magnitude <= {_MAX_NUMBER:g}")
    return v


def poly_size(tree) -> tuple[int, int]:
    """``(total degree, number of monomials)`` of a :class:`PolyExpr` tree once expanded.

    Counted on the tree, without expanding: a product multiplies the monomial counts and adds the
    degrees, a power raises the count and multiplies the degree (an upper bound: nothing cancels).
    """
    if isinstance(tree, float):
        return 0, 1
    if isinstance(tree, str):
        return 1, 1
    op = tree[0]
    if op == "neg":
        return poly_size(tree[1])
    if op == "pow":
        d, m = poly_size(tree[1])
        e = tree[2]
        return d * e, (m ** e if m ** e < 10**9 else 10**9)
    (d1, m1), (d2, m2) = poly_size(tree[1]), poly_size(tree[2])
    if op == "mul":
        return d1 + d2, min(m1 * m2, 10**9)
    return max(d1, d2), m1 + m2


def _convert_poly(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return _number(node)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _convert_poly(node.operand)
        return ("neg", inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        op = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul"}[type(node.op)]
        return (op, _convert_poly(node.left), _convert_poly(node.right))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        ex = node.right
        if not (isinstance(ex, ast.Constant) and isinstance(ex.value, int) and not isinstance(ex.value, bool)
                and 0 <= ex.value <= _MAX_POWER):
            raise ExpressionError(f"exponents in poly(...) must be integers in [0, {_MAX_POWER}], got '{ast.unparse(ex)}'")
        return ("pow", _convert_poly(node.left), int(ex.value))
    raise ExpressionError(f"'{ast.unparse(node)}' is not allowed in a polynomial (names, numbers, + - * and ** only)")


def parse_expression(text: str):
    """Parse ``text`` into a tree of :class:`Call` and float leaves, or raise :class:`ExpressionError`."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty expression")
    if len(text) > 2000:
        raise ExpressionError("expression longer than 2000 characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error at column {exc.offset}: {exc.msg}") from None
    return _convert(tree.body)


def _convert(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return _number(node)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _convert(node.operand)
        if not isinstance(v, float):
            raise ExpressionError("unary minus applies to numbers only (use .scale(-1) for laws)")
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.List):
        return tuple(_convert(e) for e in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "poly":
        if len(node.args) != 1:
            raise ExpressionError("poly takes one polynomial and the variables' laws as keywords: poly(x*y + y*x, x=..., y=...)")
        kwargs = []
        for kw in node.keywords:
            if kw.arg is None:
                raise ExpressionError("**kwargs are not allowed")
            kwargs.append((kw.arg, _convert(kw.value)))
        poly = _convert_poly(node.args[0])
        degree, monomials = poly_size(poly)
        if degree > MAX_TOTAL_DEGREE or monomials > MAX_MONOMIALS:
            raise ExpressionError(
                f"poly(...) too large: total degree {degree} and up to {monomials if monomials < 10**9 else '1e9+'} "
                f"monomials once expanded; the command line accepts total degree <= {MAX_TOTAL_DEGREE} and "
                f"<= {MAX_MONOMIALS} monomials (the Python API freeprob.polynomial_law has no such bound)")
        return Call("poly", (PolyExpr(poly),), tuple(kwargs))
    if isinstance(node, ast.Call):
        kwargs = []
        for kw in node.keywords:
            if kw.arg is None:
                raise ExpressionError("**kwargs are not allowed")
            kwargs.append((kw.arg, _convert(kw.value)))
        args = tuple(_convert(a) for a in node.args)
        if isinstance(node.func, ast.Name):
            return Call(node.func.id, args, tuple(kwargs))
        if isinstance(node.func, ast.Attribute) and node.func.attr in _METHODS:
            return Call("." + node.func.attr, (_convert(node.func.value),) + args, tuple(kwargs))
        raise ExpressionError("only calls of known functions and the methods .scale/.shift are allowed")
    raise ExpressionError(f"'{ast.unparse(node)}' is not allowed in an expression")


def evaluate(tree, table: Mapping[str, Callable[..., Any]]):
    """Evaluate a parsed tree with the functions of ``table`` (``"scale"``/``"shift"`` for methods)."""
    if isinstance(tree, PolyExpr):
        return tree
    if isinstance(tree, (float, tuple)) and not isinstance(tree, Call):
        return tuple(evaluate(t, table) for t in tree) if isinstance(tree, tuple) else tree
    name = tree.name.lstrip(".")
    if name not in table:
        raise ExpressionError(f"unknown function '{name}'; known: {', '.join(sorted(table))}")
    args = [evaluate(a, table) for a in tree.args]
    kwargs = {k: evaluate(v, table) for k, v in tree.kwargs}
    try:
        return table[name](*args, **kwargs)
    except TypeError as exc:
        raise ExpressionError(f"bad arguments to {name}: {exc}") from None
    except (ValueError, OverflowError, ZeroDivisionError) as exc:
        raise ExpressionError(f"{name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def numeric_table() -> dict:
    """Functions of the numeric language: the built-in laws and the convolutions."""
    import freeprob as fp

    table = {
        "atoms": lambda points, weights=None: fp.atoms(list(points), None if weights is None else list(weights)),
        "empirical": lambda samples: fp.empirical(list(samples)),
        "scale": lambda law, c: law.scale(c),
        "shift": lambda law, c: law.shift(c),
    }
    # every law constructor and law operation exported by freeprob is callable by its own name
    for name in ("semicircle", "marchenko_pastur", "free_poisson", "arcsine", "bernoulli", "uniform",
                 "kesten_mckay", "fuss_catalan", "normal", "boxplus", "boxtimes", "free_power"):
        # a renamed export fails here, loudly, instead of vanishing from the expression language
        table[name] = getattr(fp, name)
    table["poly"] = _poly
    return table


def _poly_to_sympy(tree, symbols: dict):
    if isinstance(tree, float):
        import sympy

        return sympy.nsimplify(tree) if float(tree).is_integer() else sympy.Float(tree)
    if isinstance(tree, str):
        if tree not in symbols:
            raise ExpressionError(f"variable '{tree}' has no law; write poly(..., {tree}=<law>)")
        return symbols[tree]
    op = tree[0]
    if op == "neg":
        return -_poly_to_sympy(tree[1], symbols)
    if op == "pow":
        return _poly_to_sympy(tree[1], symbols) ** tree[2]
    a, b = _poly_to_sympy(tree[1], symbols), _poly_to_sympy(tree[2], symbols)
    return a + b if op == "add" else a - b if op == "sub" else a * b


def _poly(p, **laws):
    """``poly(EXPR, x=law, ...)``: the law of a polynomial in free variables."""
    from .law import Law
    from .polynomial import free_variables, polynomial_law

    if not isinstance(p, PolyExpr):
        raise ExpressionError("poly's first argument must be a polynomial in variable names")
    for name, law in laws.items():
        if not isinstance(law, Law):
            raise ExpressionError(f"poly: the law of '{name}' must be a law expression, got {law!r}")
    if not laws:
        raise ExpressionError("poly needs the variables' laws as keywords, e.g. x=semicircle()")
    syms = free_variables(" ".join(laws))
    syms = syms if isinstance(syms, tuple) else (syms,)
    symbols = dict(zip(laws, syms))
    expr = _poly_to_sympy(p.tree, symbols)
    return polynomial_law(expr, {symbols[n]: law for n, law in laws.items()})


def law_from_expression(text: str):
    """Parse and evaluate ``text`` with :func:`numeric_table`; the result must be a law."""
    from .law import Law

    out = evaluate(parse_expression(text), numeric_table())
    if not isinstance(out, Law):
        raise ExpressionError("the expression must describe a law, not a number")
    return out
