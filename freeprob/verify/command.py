"""``freeprob verify``: run the verification cases of every package and write the report.

A built-in subcommand of the ``freeprob`` CLI; the cases come from the ``freeprob.verify_cases``
entry points (see :mod:`freeprob.verify.case`).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile

__all__ = ["register", "check_output_dir"]


def _nonneg_int(name):
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {s!r}") from None
        if v < (1 if name == "--jobs" else 0):
            raise argparse.ArgumentTypeError(f"{name} must be >= {1 if name == '--jobs' else 0}, got {v}")
        return v
    return parse


def register(subparsers) -> None:
    """Add the ``verify`` subcommand to the ``freeprob`` parser."""
    p = subparsers.add_parser(
        "verify", help="check the theory against random matrices and real networks; write a report",
        description="Run the registry of verification cases (prediction vs an independent check) and "
                    "write DIR/report.md, DIR/report.html and one PNG per case. Exit status 1 if a case fails.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="small sizes, about 3 minutes on 2 cores with --jobs 2 (default)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full", help="larger sizes")
    p.set_defaults(mode="quick")
    p.add_argument("--out", default="verify-report", metavar="DIR", help="report directory (default: ./verify-report)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these cases")
    p.add_argument("--jobs", type=_nonneg_int("--jobs"), default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument("--seed", type=_nonneg_int("--seed"), default=0, metavar="S", help="master seed (default 0)")
    p.add_argument("--blas-threads", type=_nonneg_int("--blas-threads"), default=1, metavar="N",
                   help="BLAS threads per case (default 1; 0 leaves the library default)")
    p.add_argument("--load", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (it may register its own cases)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.set_defaults(func=_main)


def check_output_dir(path: str) -> str:
    """Create ``path`` if needed and prove it writable; ``UsageError`` before any work otherwise."""
    from freeprob.cli import UsageError

    path = os.path.abspath(path)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"output directory {path!r} is not writable: {exc.strerror or exc}") from None
    return path


def _load_user_module(mod: str) -> None:
    from freeprob.cli import UsageError

    if not mod or not all(part.isidentifier() for part in mod.split(".")):
        raise UsageError(f"--load: {mod!r} is not a module name (dotted Python identifiers, e.g. my_cases)")
    try:
        importlib.import_module(mod)
    except ImportError as exc:
        raise UsageError(f"--load: cannot import {mod!r}: {exc}") from None
    except SyntaxError as exc:
        raise UsageError(f"--load: {mod!r} has a syntax error: {exc.msg} ({exc.filename}, line {exc.lineno})") from None
    except Exception as exc:  # the user's module raised while registering its cases
        raise UsageError(f"--load: importing {mod!r} raised {type(exc).__name__}: {exc}") from None


def _main(args) -> int:
    from freeprob.cli import UsageError

    from . import all_cases, case_names, run_cases, write_report

    for mod in args.load:
        _load_user_module(mod)
    if args.list:
        for c in all_cases():
            print(f"{c.name:32s} [{c.topic}] {c.title}")
        return 0
    known = case_names()
    if args.only:
        unknown = [n for n in args.only if n not in known]
        if unknown:
            raise UsageError(f"unknown case(s) {', '.join(unknown)}; known cases: {', '.join(known)}")
    out = check_output_dir(args.out)
    n = len(args.only) if args.only else len(known)
    print(f"freeprob verify: {n} cases, mode {args.mode}, seed {args.seed}, {args.jobs} job(s); "
          f"each line appears as its case finishes", flush=True)
    summary = run_cases(args.only, mode=args.mode, seed=args.seed, out=out, jobs=args.jobs, progress=True,
                        blas_threads=args.blas_threads)
    md, ht = write_report(summary, out)
    failed = [o.name for o in summary.outcomes if not o.passed]
    print(f"{len(summary.outcomes) - summary.n_failed}/{len(summary.outcomes)} passed in {summary.seconds:.1f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else "") + f"; report: {md} and {ht}")
    return 0 if summary.passed else 1
