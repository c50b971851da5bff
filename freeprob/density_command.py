"""``freeprob density EXPR``: support, atoms and a density table of a law given by an expression."""
from __future__ import annotations

import argparse

import numpy as np

DEFAULT_EXPR = "boxplus(semicircle(var=1), marchenko_pastur(ratio=0.5))"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "density",
        help="density, support and atoms of a law (e.g. a free convolution)",
        description="Print support, atoms and a density table of EXPR, e.g. "
        f'"{DEFAULT_EXPR}" (the default).',
    )
    p.add_argument("expr", nargs="?", default=DEFAULT_EXPR, help="law expression")
    p.add_argument("--grid", default=None, help="a:b:n, the evaluation grid (default: support padded by 5%%, 201 points)")
    p.add_argument("--csv", default=None, help="write x,density for the full grid to this file")
    p.add_argument("--plot", default=None, help="write a PNG plot to this file")
    p.set_defaults(func=run)


def _grid(spec: str | None, support) -> np.ndarray:
    from .cli import UsageError

    if spec is None:
        a, b = support
        pad = 0.05 * (b - a)
        return np.linspace(a - pad, b + pad, 201)
    parts = spec.split(":")
    try:
        a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        raise UsageError(f"--grid must be a:b:n with numbers a < b and an integer n >= 2, got {spec!r}") from None
    if len(parts) != 3 or not a < b or n < 2 or n > 10**6:
        raise UsageError(f"--grid must be a:b:n with a < b and 2 <= n <= 1e6, got {spec!r}")
    return np.linspace(a, b, n)


def run(args: argparse.Namespace) -> int:
    from .cli import UsageError
    from .expr import ExpressionError, law_from_expression

    try:
        law = law_from_expression(args.expr)
    except ExpressionError as exc:
        raise UsageError(str(exc)) from None
    x = _grid(args.grid, law.support)
    dens = law.pdf(x)
    pts, w = law.atoms
    a, b = law.support
    print(f"law:     {law!r}")
    print(f"support: [{a:.10g}, {b:.10g}]")
    print("atoms:   " + (", ".join(f"{p:.10g} (mass {m:.10g})" for p, m in zip(pts, w)) or "none"))
    print(f"{'x':>14}  {'density':>14}")
    step = max(1, len(x) // 40)
    for xi, di in zip(x[::step], dens[::step]):
        print(f"{xi:14.6f}  {di:14.8f}")
    if args.csv:
        np.savetxt(args.csv, np.column_stack([x, dens]), delimiter=",", header="x,density", comments="")
        print(f"wrote {args.csv}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(x, dens, label=args.expr)
        if len(pts):
            ax.vlines(pts, 0, w, colors="k", linewidth=2, label="atoms")
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        ax.legend(fontsize="x-small")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        plt.close(fig)
        print(f"wrote {args.plot}")
    return 0
