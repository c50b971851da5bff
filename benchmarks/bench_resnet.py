"""Speed of the ResNet Jacobian law (issue 15), against the previous implementation in the same run.

Run from the repository root (writes docs/benchmarks/resnet.md unless --no-write)::

    python benchmarks/bench_resnet.py [--repeat 5] [--old-repeat 3] [--old-rev 54c2305] [--no-write]

Task (the issue-15 goal: under 1 s): ``resnet_jacobian_law("relu", 0.03, 2.0, 0.0, depth=1000)``
(post blocks, orthogonal weights, tau = 0.9): construction, support (exact edges), then the density on
1,001 equispaced points of the support.  Each run builds a new law (nothing cached between runs except
numba's compiled kernels, which the first run loads from disk: it is reported separately).  Times are
CPU (``time.process_time``) and wall clock; medians over the runs.

Baseline: ``nn_spectra/resnet.py`` at ``--old-rev`` (the last commit before the law moved onto
``freeprob.SolvedLaw``), loaded from git into a module of the same session (``git show``) and timed on the
same task, interleaved with the new runs.

Accuracy rows (independent of both solvers): the density's mass and first two moments by Gauss-Legendre
quadrature over the support, against 1 and the exact block recursion ``resnet_jacobian_moments``
(word expansion, free product); and the largest difference between the two implementations' densities.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np

import nn_spectra as ns

ROOT = Path(__file__).resolve().parents[1]
OLD_REV = "54c2305"
TASK = dict(act="relu", a=0.03, sigma_w2=2.0, sigma_b2=0.0, depth=1000)


def _old_module(rev):
    src = subprocess.run(["git", "show", f"{rev}:nn_spectra/resnet.py"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    mod = types.ModuleType("nn_spectra._resnet_before")
    mod.__package__ = "nn_spectra"
    sys.modules[mod.__name__] = mod          # dataclasses look their module up there
    exec(compile(src, "resnet_before.py", "exec"), mod.__dict__)
    return mod


def _run(mod):
    t = TASK
    c0, w0 = time.process_time(), time.perf_counter()
    law = mod.resnet_jacobian_law(t["act"], t["a"], t["sigma_w2"], t["sigma_b2"], depth=t["depth"])
    lo, hi = law.support
    c1, w1 = time.process_time(), time.perf_counter()
    x = np.linspace(lo, hi, 1001)
    d = law.pdf(x)
    c2, w2 = time.process_time(), time.perf_counter()
    return dict(cpu=c2 - c0, wall=w2 - w0, cpu_support=c1 - c0, cpu_pdf=c2 - c1, law=law, x=x, d=d, edges=(lo, hi))


def _quad_moments(law):
    lo, hi = law.support
    th, w = np.polynomial.legendre.leggauss(600)
    th = 0.5 * np.pi * (th + 1)
    x = 0.5 * (lo + hi) - 0.5 * (hi - lo) * np.cos(th)
    dens = law.pdf(x) * 0.5 * (hi - lo) * np.sin(th) * 0.5 * np.pi * w
    return [float(np.sum(x ** k * dens)) for k in (0, 1, 2)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--old-repeat", type=int, default=3)
    ap.add_argument("--old-rev", default=OLD_REV)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)
    load0 = os.getloadavg()[0]
    old = _old_module(args.old_rev)
    first = _run(ns)
    new_runs, old_runs = [], []
    for i in range(max(args.repeat, args.old_repeat)):
        if i < args.repeat:
            new_runs.append(_run(ns))
        if i < args.old_repeat:
            old_runs.append(_run(old))
        print(f"run {i}: new {new_runs[-1]['cpu']:.3f} s CPU" + (f", old {old_runs[-1]['cpu']:.2f} s CPU" if i < args.old_repeat else ""),
              file=sys.stderr)
    load1 = os.getloadavg()[0]
    med = lambda runs, k: statistics.median(r[k] for r in runs)
    n, o = new_runs[-1], old_runs[-1]
    m1, m2 = ns.resnet_jacobian_moments(TASK["act"], TASK["a"], TASK["sigma_w2"], TASK["sigma_b2"], TASK["depth"])
    qn = _quad_moments(n["law"])
    diff = float(np.nanmax(np.abs(n["d"] - np.interp(n["x"], o["x"], o["d"])) / np.nanmax(n["d"])))
    cmd = "python benchmarks/bench_resnet.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# nn_spectra: ResNet Jacobian law", "",
        f"`{cmd.strip()}` at commit {_head()} on {os.cpu_count()} CPUs; load average {load0:.1f} at the start and "
        f"{load1:.1f} at the end (the machine is shared with other agents: CPU times and the ratio measured in the "
        "same run are the meaningful numbers, wall times are inflated by the load).", "",
        "Task: `resnet_jacobian_law(\"relu\", 0.03, 2.0, 0.0, depth=1000)` (post blocks, orthogonal weights, "
        "τ = 0.9): construction + support (edges), then the density on 1,001 equispaced points of the support. "
        f"Issue-15 goal: under 1 s.  New: {args.repeat} runs; previous implementation (`nn_spectra/resnet.py` at "
        f"{args.old_rev}, loaded from git into the same process): {args.old_repeat} runs, interleaved.", "",
        "| implementation | construction + support CPU | density (1,001 points) CPU | total CPU (median) | total wall (median) |",
        "|---|---|---|---|---|",
        f"| new (`SolvedLaw`, compiled block solver) | {med(new_runs, 'cpu_support'):.3f} s | {med(new_runs, 'cpu_pdf'):.3f} s | "
        f"**{med(new_runs, 'cpu'):.3f} s** | {med(new_runs, 'wall'):.3f} s |",
        f"| previous ({args.old_rev}) | {med(old_runs, 'cpu_support'):.2f} s | {med(old_runs, 'cpu_pdf'):.2f} s | "
        f"{med(old_runs, 'cpu'):.2f} s | {med(old_runs, 'wall'):.2f} s |", "",
        f"Speed-up (median total CPU): **{med(old_runs, 'cpu') / med(new_runs, 'cpu'):.0f}×**.  First new run in the "
        f"process (numba kernels loaded from the on-disk cache): {first['cpu']:.3f} s CPU, {first['wall']:.3f} s wall.  "
        f"Goal < 1 s: **{'met' if med(new_runs, 'cpu') < 1 else 'not met'}** (CPU).", "",
        "Accuracy (independent of both solvers: Gauss–Legendre over the support in θ, x = c − r cos θ, 600 nodes):", "",
        "| quantity | new | previous | exact |", "|---|---|---|---|",
        f"| support | ({n['edges'][0]:.10g}, {n['edges'][1]:.10g}) | ({o['edges'][0]:.6g}, {o['edges'][1]:.6g}) | — |",
    ]
    qo = _quad_moments(o["law"])
    lines += [
        f"| mass ∫ pdf | {qn[0]:.12f} | {qo[0]:.6f} | 1 |",
        f"| mean | {qn[1]:.12f} | {qo[1]:.6f} | {m1:.12f} (block recursion) |",
        f"| second moment | {qn[2]:.10f} | {qo[2]:.6f} | {m2:.10f} (block recursion) |",
        "", f"Largest density difference new − previous on the 1,001 points, relative to the maximum density: {diff:.2g}.", "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "benchmarks" / "resnet.md").write_text(text, encoding="utf-8")


def _head():
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
