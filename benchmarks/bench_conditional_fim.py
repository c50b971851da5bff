"""Conditional Fisher law: the compiled path against the numpy path of the same law, in one run.

Run from the repository root (writes docs/benchmarks/conditional_fim.md unless --no-write)::

    python benchmarks/bench_conditional_fim.py [--repeat 5] [--depths 5 20 50] [--numpy-depths 5 20] [--no-write]

``conditional_fim_law("tanh", sigma_w2*, 1e-4, depth=L)`` on the critical line, L = 5, 20, 50; and the
full task at depth 20 for tanh, relu and hard_tanh (``--acts``, ``--full-depth``).

Common task (both paths, same points, a fresh law each run): the density on 11 points spanning
the support (axis boundary values) and G at 11 points of C+ at height 1% of the support's width
(few points: the numpy path takes minutes per hundred points at depth 20; it is not run at depth
50, where it is slower still).
The numpy path is the same law with the compiled hook switched off (the engine's generic
continuation and axis Newton on the numpy residual); it is timed ``--repeat`` times unless one run
exceeds ``--numpy-cap`` seconds (then once: the table says how many runs).

Full task (compiled path only; the issue's target is < 2 s at depth 20): exact edges
(``intervals``), atoms, the density on 1,001 points over the support and the cdf at 11 points.

Timings are wall clock after compilation (one warm-up run), medians.  The load average of the
machine is printed with the results (shared 2-core machine: timings are noisy).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


#: sigma_b^2 and q_input of each activation (those of the tests: relu on its critical line from |x|^2/N = 1)
CASES = {"tanh": (1e-4, None), "relu": (0.0, 1.0), "hard_tanh": (0.05, None)}


def _law(L: int, compiled: bool, act: str = "tanh"):
    import nn_spectra as ns
    from nn_spectra.conditional_fim import conditional_fim_law

    sb2, q_input = CASES[act]
    sw2 = float(ns.critical_sigma_w2(act, sb2))
    law = conditional_fim_law(act, sw2, sb2, depth=L, q_input=q_input)
    if not compiled:
        law.__dict__["_kernel_data"] = None
    return law


def _median(fn, repeat: int, cap: float | None = None):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
        if cap is not None and ts[-1] > cap:
            break
    return statistics.median(ts), len(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--depths", type=int, nargs="+", default=[5, 20, 50])
    ap.add_argument("--numpy-cap", type=float, default=20.0)
    ap.add_argument("--numpy-depths", type=int, nargs="+", default=[5, 20])
    ap.add_argument("--acts", nargs="+", default=list(CASES), help="activations of the full-task table")
    ap.add_argument("--full-depth", type=int, default=20)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    # full task by activation (compiled): wall and CPU (process) time, medians after a warm-up run
    by_act = []
    for act in args.acts:
        def full_act():
            law = _law(args.full_depth, True, act)
            law.intervals
            law.atoms
            a, b = law.support
            d = law.pdf(np.linspace(a, b, 1001))
            assert np.all(np.isfinite(d))
            return len(law.intervals), len(law.atoms[0])

        full_act()
        walls, cpus = [], []
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            ni, na = full_act()
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        by_act.append((act, statistics.median(walls), statistics.median(cpus), ni, na))
        print(f"{act} depth {args.full_depth}: edges + atoms + pdf on 1,001 points: wall {by_act[-1][1]:.3f} s, "
              f"CPU {by_act[-1][2]:.3f} s ({ni} intervals, {na} atoms)", flush=True)

    rows = []
    for L in args.depths:
        ref = _law(L, True)
        lo, hi = ref.support
        xs = np.linspace(lo, hi, 13)[1:-1]
        zs = xs + 0.01j * (hi - lo)

        def common(compiled: bool):
            law = _law(L, compiled)
            d = law.pdf(xs)
            g = law.cauchy(zs)
            assert np.all(np.isfinite(d)) and np.all(np.isfinite(g))
            return d, g

        dc, gc = common(True)                                    # warm-up (compilation)
        tc, nc = _median(lambda: common(True), args.repeat)
        tn, nn, dd, dg = float("nan"), 0, float("nan"), float("nan")
        if L in args.numpy_depths:
            t0 = time.perf_counter()
            dn, gn = common(False)                               # numpy: first run counts
            ts = [time.perf_counter() - t0]
            while len(ts) < args.repeat and max(ts) <= args.numpy_cap:
                t0 = time.perf_counter()
                common(False)
                ts.append(time.perf_counter() - t0)
            tn, nn = statistics.median(ts), len(ts)
            dd = float(np.max(np.abs(dc - dn)) / np.max(dn))
            dg = float(np.max(np.abs(gc - gn) / np.abs(gn)))

        def full():
            law = _law(L, True)
            law.intervals
            law.atoms
            a, b = law.support
            d = law.pdf(np.linspace(a, b, 1001))
            F = law.cdf(np.linspace(a, b, 11))
            assert np.all(np.isfinite(d)) and np.all(np.isfinite(F))

        full()
        tf, nf = _median(full, args.repeat)
        rows.append((L, tc, nc, tn, nn, dd, dg, tf, nf))
        print(f"L={L}: common compiled {tc:.3f} s ({nc} runs), numpy {tn:.3f} s ({nn} runs), "
              f"ratio {tn / tc:.0f}x, max |pdf diff|/max pdf {dd:.1e}, max rel |G diff| {dg:.1e}; "
              f"full task compiled {tf:.3f} s ({nf} runs)", flush=True)

    load = os.getloadavg()
    cmd = "python benchmarks/bench_conditional_fim.py" + (f" --repeat {args.repeat}" if args.repeat != 5 else "") + \
        (" --depths " + " ".join(map(str, args.depths)) if args.depths != [5, 20, 50] else "") + \
        (" --numpy-depths " + " ".join(map(str, args.numpy_depths)) if args.numpy_depths != [5, 20] else "")
    lines = ["## Conditional Fisher law (compiled path)", "",
             "`conditional_fim_law(\"tanh\", sigma_w2*, 1e-4, depth=L)` on the critical line. **Common task**: density on",
             "11 points over the support and G at 11 points of C+ (height 1% of the width), a fresh law each run,",
             "compiled path (`nn_spectra/conditional_fim_kernel.py`) against the numpy path of the same law",
             "(engine's generic continuation on the numpy residual), in the same run. **Full task** (compiled):",
             "exact edges, atoms, density on 1,001 points, cdf at 11 points. Medians, wall clock, after compilation.",
             "",
             "| depth | common, compiled | common, numpy | ratio | max pdf diff / max pdf | max rel. G diff | full task, compiled |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for L, tc, nc, tn, nn, dd, dg, tf, nf in rows:
        if nn:
            lines.append(f"| {L} | {tc:.3f} s ({nc}) | {tn:.2f} s ({nn}) | {tn / tc:.0f}x | {dd:.1e} | {dg:.1e} | "
                         f"{tf:.3f} s ({nf}) |")
        else:
            lines.append(f"| {L} | {tc:.3f} s ({nc}) | not run | | | | {tf:.3f} s ({nf}) |")
    lines += ["", f"**Full task by activation**, depth {args.full_depth} (issue 12 target: under 2 s after compilation): "
              "exact edges, atoms, density on 1,001 points over the support; medians of "
              f"{args.repeat} runs (sigma_b^2, q_input: tanh 1e-4, relu 0 and |x|^2/N = 1, hard_tanh 0.05).", "",
              "| activation | wall | CPU | intervals | atoms |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {a} | {w:.3f} s | {c:.3f} s | {ni} | {na} |" for a, w, c, ni, na in by_act]
    lines += ["", "(n) = number of runs in the median; the numpy path is run once when a run exceeds "
              f"{args.numpy_cap:g} s.", f"Load average during the run: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} "
              "(2 cores shared with other jobs).", "", f"Command: `{cmd}`", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "benchmarks" / "conditional_fim.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
