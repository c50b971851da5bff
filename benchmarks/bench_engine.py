"""The solver engine (issue 12): cost of n-ary ⊞/⊠ against the number of laws, and the SC ⊞ MP density
against rmtool's polynomial method in the same run.

Run from the repository root (writes docs/benchmarks/engine.md unless --no-write)::

    pip install rmtool            # optional: the peer of problem B
    python benchmarks/bench_engine.py [--repeat 5] [--no-write]

A. ⊞ of n distinct laws (semicircles, Marchenko–Pastur, arcsine laws in turn, each a new object so the
   n-ary system has n unknowns), density on 2,001 points plus the support's edges, the law rebuilt
   each run; and ⊠ of n distinct Marchenko–Pastur(1) laws (density on 2,001 points).  Medians of CPU
   time.  Accuracy: ⊞ of n semicircles against the closed form semicircle(Σ var) in mpmath (201 points
   including the edges ±2√V).
B. semicircle(1) ⊞ MP(0.5) density on 2,001 points, freeprob vs rmtool ``AplusB`` + ``Lmz2pdf``,
   error against mpmath roots of the cubic G³ − (z+2)G² + (2z−1)G − 2 = 0.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import mpmath
import numpy as np

import freeprob as fp

ROOT = Path(__file__).resolve().parents[1]


def cpu_median(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        ts.append(time.process_time() - t)
    return statistics.median(ts)


def laws_for(n):
    out = []
    for i in range(n):
        k = i % 3
        if k == 0:
            out.append(fp.semicircle(var=0.5 + 0.1 * i))
        elif k == 1:
            out.append(fp.marchenko_pastur(ratio=0.3 + 0.05 * i))
        else:
            out.append(fp.arcsine(-1.0 - 0.1 * i, 1.0))
    return out


def reference_semicircle(vs, x):
    """Density of semicircle(Σ vs) at the double points x, mpmath at 30 digits with the exact sum of
    the double variances (the closed form in double loses ~√eps at the end points ±2√V, which the grid
    contains: 1.9e-9 at n = 4 was that rounding, not the solver's)."""
    with mpmath.workdps(30):
        V = mpmath.fsum(mpmath.mpf(float(v)) for v in vs)
        return np.array([float(mpmath.sqrt(max(4 * V - mpmath.mpf(float(t)) ** 2, 0)) / (2 * mpmath.pi * V))
                         for t in x])


def reference_sc_mp(x):
    out = np.zeros(x.size)
    with mpmath.workdps(30):
        for i, xi in enumerate(x):
            z = mpmath.mpf(float(xi))
            roots = mpmath.polyroots([1, -(z + 2), 2 * z - 1, -2], maxsteps=200, extraprec=60)
            out[i] = max(0.0, max(-float(mpmath.im(r)) for r in roots)) / np.pi
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    lines = ["# Benchmark: the solver engine (n-ary ⊞/⊠, SC ⊞ MP)", "",
             "Command: `python benchmarks/bench_engine.py --repeat %d`" % args.repeat, "",
             f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start of the run "
             "(CPU times, medians; ratios measured in the same run); end-of-run load below.", ""]
    # warm the numba cache
    fp.boxplus(*laws_for(3)).pdf(np.linspace(-1, 1, 5))
    fp.boxtimes(*[fp.marchenko_pastur(ratio=1.0) for _ in range(2)]).pdf(np.array([0.5]))
    lines += ["## A. Cost against the number of laws", "",
              "| n | ⊞ density 2,001 pts (s) | ⊞ edges (s) | ⊠ density 2,001 pts (s) | ⊞ of n semicircles: max error vs closed form |",
              "|---|---|---|---|---|"]
    for n in (2, 4, 6, 8, 10, 20, 40):
        laws = laws_for(n)
        lo = -2.5 * n
        x = np.linspace(lo, -lo, 2001)
        t_pdf = cpu_median(lambda: fp.boxplus(*laws).pdf(x), args.repeat)
        t_edges = cpu_median(lambda: fp.boxplus(*laws).intervals, max(1, args.repeat // 2))
        mps = [fp.marchenko_pastur(ratio=1.0) for _ in range(n)]
        xt = np.geomspace(1e-3, (n + 1) ** (n + 1) / n ** n, 2001)
        t_times = cpu_median(lambda: fp.boxtimes(*mps).pdf(xt), args.repeat)
        vs = 0.1 + 0.1 * np.arange(n)
        sc = fp.boxplus(*[fp.semicircle(var=v) for v in vs])
        xs = np.linspace(-2 * np.sqrt(vs.sum()), 2 * np.sqrt(vs.sum()), 201)
        err = np.max(np.abs(sc.pdf(xs) - reference_semicircle(vs, xs)))
        lines.append(f"| {n} | {t_pdf:.4f} | {t_edges:.3f} | {t_times:.4f} | {err:.1e} |")
        print(lines[-1], flush=True)
    x = np.linspace(-2.5, 4.5, 2001)
    ref = reference_sc_mp(x)
    mu, nu = fp.semicircle(var=1.0), fp.marchenko_pastur(ratio=0.5)
    t_fp = cpu_median(lambda: fp.boxplus(mu, nu).pdf(x), args.repeat)
    err_fp = np.max(np.abs(fp.boxplus(mu, nu).pdf(x) - ref))
    lines += ["", "## B. semicircle(1) ⊞ MP(0.5), density on 2,001 points", "",
              "| method | median CPU (s) | vs freeprob | max abs error (mpmath reference) |", "|---|---|---|---|",
              f"| freeprob (engine, law rebuilt each run) | {t_fp:.4f} | 1× | {err_fp:.2e} |"]
    try:
        import rmtool  # noqa: F401
        from rmtool import AplusB, Lmz2pdf, wignerpol, wishartpol

        import warnings

        def run_rm():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                info = Lmz2pdf(AplusB(wignerpol(), wishartpol(0.5)), x)
            return np.nan_to_num(np.asarray(info.density, dtype=float))

        t_rm = cpu_median(run_rm, args.repeat)
        err_rm = np.max(np.abs(run_rm() - ref))
        lines.append(f"| rmtool AplusB + Lmz2pdf | {t_rm:.4f} | {t_rm / t_fp:.0f}× slower | {err_rm:.2e} |")
    except Exception as exc:  # pragma: no cover - the peer is optional
        lines.append(f"| rmtool | not run ({type(exc).__name__}: {exc}) | | |")
    lines += ["", f"Load average at the end of the run: {os.getloadavg()[0]:.1f}."]
    print("\n".join(lines[-6:]))
    if not args.no_write:
        (ROOT / "docs" / "benchmarks" / "engine.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
