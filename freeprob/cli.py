"""The ``freeprob`` console script.

Subcommands are small modules exposing ``register(subparsers)``; each adds its parser and sets
``func`` (a callable taking the parsed namespace and returning an exit status).  Built-in
subcommands live in :mod:`freeprob`; packages higher in the stack (``nn_spectra``) contribute
theirs through the ``freeprob.commands`` entry-point group, so nothing here imports upward.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import entry_points

_BUILTIN = ("freeprob.density_command", "freeprob.symbolic.command", "freeprob.verify.command")


class UsageError(ValueError):
    """A user error: printed as one line, exit status 2."""


def _load(target: str):
    """Import ``module`` or ``module:attr``; ``None`` when that module itself is absent."""
    modname, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name and (modname == exc.name or modname.startswith(exc.name + ".")):
            return None
        raise
    return getattr(mod, attr or "register")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freeprob",
        description="Free probability and the spectra of deep networks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for target in _BUILTIN:
        _load(target)(sub)
    for ep in entry_points(group="freeprob.commands"):
        if ep.name in sub.choices:  # a built-in subcommand of that name wins (stale metadata)
            continue
        register = _load(ep.value)
        if register is not None:
            register(sub)
    return parser


def _glue_negative_values(argv: list[str]) -> list[str]:
    """``--grid -1:4:51`` -> ``--grid=-1:4:51``: argparse would read ``-1:4:51`` as an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if a.startswith("--") and "=" not in a and len(nxt) > 1 and nxt[0] == "-" and (nxt[1].isdigit() or nxt[1] == "."):
            out.append(f"{a}={nxt}")
            i += 2
        else:
            out.append(a)
            i += 1
    return out


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the ``freeprob`` command line; returns the exit status.

    Exit status 2 with one line on standard error for every error the input can cause (a bad
    expression, an out-of-range parameter, an unwritable file, a law no solver can handle);
    ``FREEPROB_DEBUG=1`` shows the traceback instead.
    """
    import os

    parser = build_parser()
    args = parser.parse_args(_glue_negative_values(list(sys.argv[1:] if argv is None else argv)))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .jit_notice import announce_compilation

    announce_compilation(load_numba=True)  # a first-use compile is announced, not silent
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"freeprob {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, ArithmeticError, OSError, RecursionError, MemoryError, TypeError, RuntimeError) as exc:
        # an input the checks did not catch still ends in one line, never a traceback
        if os.environ.get("FREEPROB_DEBUG"):
            raise
        print(f"freeprob {args.command}: error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not the user's fault: still one line, and how to see more
        if os.environ.get("FREEPROB_DEBUG"):
            raise
        print(f"freeprob {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              "(FREEPROB_DEBUG=1 shows the traceback; please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    # run the importable module's main so that its UsageError is the one subcommands raise
    from freeprob.cli import main as _main

    sys.exit(_main())
