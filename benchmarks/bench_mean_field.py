"""Speed of nn_spectra's array mean-field entry points on a 200 × 200 grid, against the old per-point loop.

Run from the repository root (writes docs/benchmarks/mean_field.md unless --no-write)::

    python benchmarks/bench_mean_field.py [--repeat 3] [--acts tanh,sigmoid,hard_tanh,gelu] [--no-write]
    python benchmarks/bench_mean_field.py --repeat 3 --acts gelu --old '' --prev 468bf34 --update

``--update`` replaces only the sections of the given activations in the existing
docs/benchmarks/mean_field.md (the rest of the page is kept).  ``--prev COMMIT`` also times
``c_star, depth_scales, phase_diagram`` of ``nn_spectra/mean_field.py`` at that commit on the full
200 × 200 grid (first call and one more call), for a before/after comparison in the same run.

Every array entry point (``q_map, q_star, chi1, c_map, chi_c, c_star, depth_scales,
trainability_depth``, ``critical_sigma_w2`` on 200 values of σ_b², ``phase_diagram``) on the grid
σ_w² ∈ [0.5, 4] × σ_b² ∈ [0, 0.3], 200 × 200 points.  "cold" is the first call in the process (it
builds the cached tables of Gaussian moments / Hermite coefficients that the grid route uses; numba
kernels already compiled), "warm" the median of ``--repeat`` further calls.

Baseline, in the same run: the previous implementation (``nn_spectra/mean_field.py`` at commit
``BASE``, loaded from git), which evaluated every grid point by pointwise quadrature.  It is timed on
the 20 × 20 grid of issue 14 (36 s for ``depth_scales`` there) and the table gives both its measured
20 × 20 time and that time × 100 (it is linear in the number of points) as the 200 × 200 estimate.
Accuracy: new grid values against the pointwise solvers at 10 random points.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
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
BASE = "f5e43df"  # last commit before the vectorised mean field


def _old_module(commit=BASE):
    src = subprocess.run(["git", "show", f"{commit}:nn_spectra/mean_field.py"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    mod = types.ModuleType("nn_spectra._mean_field_before")
    mod.__package__ = "nn_spectra"
    exec(compile(src, "mean_field_before.py", "exec"), mod.__dict__)
    return mod


def _grid(n):
    w = np.linspace(0.5, 4.0, n)
    b = np.linspace(0.0, 0.3, n)
    W, B = np.meshgrid(w, b)
    return w, b, W, B


def _entries(m, n, act):
    w, b, W, B = _grid(n)
    return {
        "q_map": lambda: m.q_map(act, 1.0, W, B),
        "q_star": lambda: m.q_star(act, W, B),
        "chi1": lambda: m.chi1(act, W, B),
        "c_map": lambda: m.c_map(act, 0.5, W, B),
        "chi_c": lambda: m.chi_c(act, 0.5, W, B),
        "c_star": lambda: m.c_star(act, W, B),
        "depth_scales": lambda: m.depth_scales(act, W, B),
        "trainability_depth": lambda: m.trainability_depth(act, W, B),
        "critical_sigma_w2 (200 values)": lambda: m.critical_sigma_w2(act, b),
        "phase_diagram": lambda: m.phase_diagram(act, (0.5, 4.0), (0.0, 0.3), n=n),
    }


def _call(fn, act=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn()


def _time(fn, act, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        _call(fn, act)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--acts", default="tanh,sigmoid,hard_tanh,gelu")
    ap.add_argument("--old", default="tanh", help="activations timed with the old per-point loop (20 x 20)")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--update", action="store_true", help="replace only these activations' sections")
    ap.add_argument("--prev", default="", help="also time c_star, depth_scales, phase_diagram at this commit")
    args = ap.parse_args()
    acts = args.acts.split(",")
    ns.q_star("tanh", 1.0, 0.1), ns.c_star("tanh", 2.0, 0.1)  # numba kernels compiled / loaded
    lines = ["# nn_spectra: mean-field functions on a 200 × 200 grid", "",
             f"`python benchmarks/bench_mean_field.py --repeat {args.repeat} --acts {args.acts}` on "
             f"{os.cpu_count()} CPUs; load average at the start {os.getloadavg()[0]:.1f} "
             "(the machine was shared with other jobs: times are wall clock and noisy).", "",
             "Grid σ_w² ∈ [0.5, 4] × σ_b² ∈ [0, 0.3]. *cold*: first call in the process, building the "
             "cached tables of the grid route; *warm*: median of further calls. *old*: the implementation "
             f"before this change (commit {BASE}, pointwise quadrature at every point), timed on 20 × 20 "
             "points in the same run; ×100 estimates its 200 × 200 time.", ""]
    old = _old_module() if args.old else None
    prev = _old_module(args.prev) if args.prev else None
    load0 = os.getloadavg()[0]
    for act in acts:
        new_e = _entries(ns, 200, act)
        rows = []
        for name, fn in new_e.items():
            t0 = time.perf_counter()
            _call(fn, act)
            cold = time.perf_counter() - t0
            warm = _time(fn, act, args.repeat)
            o20 = ""
            if old is not None and act in args.old.split(",") and name != "phase_diagram":
                o = _time(_entries(old, 20, act)[name], act, 1)
                scale = 10 if name.startswith("critical") else 100   # a 1-D input: 20 -> 200 values
                o20 = f"{o:.2f} s | {scale * o:.0f} s"
            else:
                o20 = "— | —"
            rows.append(f"| {name} | {cold:.2f} s | {warm:.2f} s | {o20} |")
            print(act, name, f"cold {cold:.2f} warm {warm:.2f} old {o20}", flush=True)
        # accuracy against the pointwise solvers
        _, _, W, B = _grid(200)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = ns.q_star(act, W, B)
            cs = ns.c_star(act, W, B)
            idx = np.random.default_rng(0).choice(W.size, 10, replace=False)
            eq = max(abs(q.flat[i] - ns.q_star(act, W.flat[i], B.flat[i])) / max(1.0, q.flat[i])
                     for i in idx if np.isfinite(q.flat[i]))
            ec = max(abs(cs.flat[i] - ns.c_star(act, W.flat[i], B.flat[i])) for i in idx)
        lines += [f"## {act}", "", f"max error against the pointwise solvers at 10 random points: q* {eq:.1e} "
                  f"(relative), c* {ec:.1e}.", "",
                  "| entry point | cold | warm | old, 20 × 20 | old ×100 (est. 200 × 200) |", "|---|---|---|---|---|"]
        lines += rows + [""]
        if prev is not None:
            pe = _entries(prev, 200, act)
            lines += [f"Before (commit {args.prev}, same run, 200 × 200; first call / one more call):", "",
                      "| entry point | first | second |", "|---|---|---|"]
            for name in ("c_star", "depth_scales", "phase_diagram"):
                t1 = _time(pe[name], act, 1)
                t2 = _time(pe[name], act, 1)
                lines.append(f"| {name} | {t1:.2f} s | {t2:.2f} s |")
                print(act, name, f"before {t1:.2f} {t2:.2f}", flush=True)
            lines += [""]
        lines += [f"(load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after this section)", ""]
        load0 = os.getloadavg()[0]
    lines += [f"Load average at the end: {os.getloadavg()[0]:.1f}.", ""]
    out = ROOT / "docs" / "benchmarks" / "mean_field.md"
    if args.update and not args.no_write:
        # keep the page, swap in the new sections of these activations
        text = out.read_text(encoding="utf-8")
        new = "\n".join(lines)
        for act in acts:
            sec = new[new.index(f"## {act}\n"):]
            sec = sec[:sec.index("\n## ", 1) + 1] if "\n## " in sec[1:] else sec[:sec.index("Load average at the end")]
            sec = sec.replace(f"## {act}\n", f"## {act}\n\n`{shlex.join(['python'] + sys.argv)}` "
                              f"({time.strftime('%H:%M UTC', time.gmtime())})\n", 1)
            start = text.index(f"## {act}\n")
            end = text.find("\n## ", start + 1)
            end = text.index("Load average at the end", start) if end < 0 else end + 1
            text = text[:start] + sec + text[end:]
        out.write_text(text, encoding="utf-8")
        print("updated", out)
    elif not args.no_write:
        out.write_text("\n".join(lines), encoding="utf-8")
        print("wrote", out)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
