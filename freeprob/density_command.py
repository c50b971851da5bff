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


_PLOT_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp", "pgf", "raw", "rgba", "svgz")


def _grid(spec: str | None, law) -> np.ndarray:
    from .cli import UsageError

    if spec is None:
        a, b = law.support
        # an unbounded law (normal, ...) shows its central 99.98 %, as Law.plot does
        a = a if np.isfinite(a) else float(law.ppf(1e-4))
        b = b if np.isfinite(b) else float(law.ppf(1 - 1e-4))
        pad = 0.05 * (0.5 * b - 0.5 * a) * 2 if np.isfinite(0.5 * b - 0.5 * a) else 0.0
        if not (np.isfinite(a - pad) and np.isfinite(b + pad)):
            pad = 0.0
        if not (np.isfinite(b - a) and b > a):
            raise UsageError(f"the support [{a:g}, {b:g}] is too wide for a default grid; give --grid a:b:n")
        return np.linspace(a - pad, b + pad, 201)
    parts = spec.split(":")
    try:
        a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
    except (IndexError, ValueError, OverflowError):
        raise UsageError(f"--grid must be a:b:n with numbers a < b and an integer n >= 2, got {spec!r}") from None
    if len(parts) != 3 or not a < b or n < 2 or n > 10**6:
        raise UsageError(f"--grid must be a:b:n with a < b and 2 <= n <= 1e6, got {spec!r}")
    if not np.isfinite(b - a):
        raise UsageError(f"--grid: a and b must be finite with b - a <= 1.8e308, got {spec!r}")
    return np.linspace(a, b, n)


def _check_outputs(args) -> None:
    """Prove --csv and --plot usable before any computation (not after printing the table)."""
    import os

    from .cli import UsageError

    for flag, path in (("--csv", args.csv), ("--plot", args.plot)):
        if not path:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UsageError(f"{flag}: the directory {folder!r} does not exist")
        if not os.access(folder, os.W_OK):
            raise UsageError(f"{flag}: the directory {folder!r} is not writable")
    if args.plot:
        ext = os.path.splitext(args.plot)[1].lower().lstrip(".")
        if ext not in _PLOT_FORMATS:
            raise UsageError(f"--plot: unknown image format {ext or '(none)'!r} in {args.plot!r}; "
                             f"use one of {', '.join(_PLOT_FORMATS[:4])}, ...")


def run(args: argparse.Namespace) -> int:
    from .cli import UsageError
    from .expr import ExpressionError, law_from_expression

    _check_outputs(args)
    try:
        law = law_from_expression(args.expr)
    except ExpressionError as exc:
        raise UsageError(str(exc)) from None
    x = _grid(args.grid, law)
    dens = law.pdf(x)
    if not np.all(np.isfinite(dens)):
        bad = x[~np.isfinite(dens)]
        raise UsageError(f"the density of {law!r} could not be evaluated at {bad.size} grid point(s), "
                         f"first x = {bad[0]:.6g}")
    pts, w = law.atoms
    a, b = law.support
    print(f"law:     {law!r}")
    print(f"support: [{a:.10g}, {b:.10g}]")
    print("atoms:   " + (", ".join(f"{p:.10g} (mass {m:.10g})" for p, m in zip(pts, w)) or "none"))
    step = max(1, len(x) // 40)
    if step > 1:
        shown = len(x[::step])
        print(f"(showing {shown} of the {len(x)} grid points, every {step}th"
              + ("; the CSV has all of them)" if args.csv else "; --csv FILE writes all of them)"))
    print(f"{'x':>14}  {'density':>14}")
    for xi, di in zip(x[::step], dens[::step]):
        print(f"{xi:14.6f}  {di:14.8f}" if abs(xi) < 1e6 else f"{xi:14.6g}  {di:14.8g}")
    if args.csv:
        np.savetxt(args.csv, np.column_stack([x, dens]), delimiter=",", header="x,density", comments="")
        print(f"wrote {args.csv}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(x, dens, label=args.expr if len(args.expr) <= 60 else args.expr[:57] + "...")
        if len(pts):
            ax.vlines(pts, 0, w, colors="k", linewidth=2, label="atoms")
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        # above the axes, so the legend never hides the curve
        ax.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0, 1.02), frameon=False)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        plt.close(fig)
        print(f"wrote {args.plot}")
    return 0
