"""Speed of the pre-activation ResNet Jacobian law (issue 15): the engine route against the sweep, same run.

Run from the repository root (writes docs/benchmarks/resnet_pre.md unless --no-write)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_resnet_pre.py [--repeat 3] [--paths 256] [--old-points 21]
        [--depths 10,50,100] [--no-write]

Task: ``resnet_pre_jacobian_law("relu", 0.1, 2.0, 0.0, depth=B + 2, weights="orthogonal", paths=256)``
for B = 10, 50, 100 residual blocks: the support (edges), then the density on 1,001 equispaced points of
the support.

Routes (one law object each, same paths, same process):

* engine (``fast=False``, the route of every depth before this change): the engine's continuation, axis
  Newton with the full Jacobian (:math:`O(\\text{paths}\\,B^2)` per step), fold-Newton edges and rounding
  checks.  Its support is timed at B = 10 only (at B = 100 it had not finished after several minutes); its
  density is timed on ``--old-points`` points inside the support and the 1,001-point cost is that per-point
  cost times 1,001 (an estimate, labelled so).
* sweep (``fast=True``, the default from 16 blocks): quasi-Newton (Broyden) sweep along the axis, one
  :math:`O(\\text{paths}\\,B)` residual per step (``ResNetPreJacobianLaw._sweep_axis``).

Times are wall clock (the machine is shared: the load average is printed) and CPU; the sweep's density is the
median of ``--repeat`` runs on the same law (the support search has filled its warm-start memo).  Accuracy:
the largest difference of the two routes' densities on the engine's points, relative to the maximum.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from nn_spectra.resnet_pre import resnet_pre_jacobian_law

ROOT = Path(__file__).resolve().parents[1]
ARGS = dict(act="relu", a=0.1, sigma_w2=2.0, sigma_b2=0.0)


def _timed(f):
    w, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - w, time.process_time() - c


def run(depths, repeat, paths, old_points):
    rows = []
    for B in depths:
        kw = dict(ARGS, depth=B + 2, weights="orthogonal", paths=paths)
        new = resnet_pre_jacobian_law(**kw, fast=True)
        sup, w_sup, c_sup = _timed(lambda: new.support)
        x = np.linspace(*sup, 1001)
        runs = [_timed(lambda: new.pdf(x)) for _ in range(repeat)]
        d_new = runs[0][0]
        w_pdf = statistics.median(r[1] for r in runs)
        c_pdf = statistics.median(r[2] for r in runs)
        old = resnet_pre_jacobian_law(**kw, fast=False)
        if B <= 10:
            sup_old, w_sup_old, _ = _timed(lambda: old.support)
        else:
            sup_old, w_sup_old = None, None
        xo = np.linspace(sup[0], sup[1], old_points + 2)[1:-1]
        d_old, w_old, c_old = _timed(lambda: old.pdf(xo))
        d_fast = new.pdf(xo)
        rows.append(dict(B=B, sup=sup, sup_old=sup_old, w_sup=w_sup, c_sup=c_sup, w_sup_old=w_sup_old,
                         w_pdf=w_pdf, c_pdf=c_pdf, w_old_1001=w_old / old_points * 1001,
                         c_old_1001=c_old / old_points * 1001,
                         diff=float(np.max(np.abs(d_fast - d_old)) / np.max(d_old)),
                         mass=float(np.sum(0.5 * (d_new[1:] + d_new[:-1]) * np.diff(x)))))
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--paths", type=int, default=256)
    p.add_argument("--old-points", type=int, default=21)
    p.add_argument("--depths", default="10,50,100")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    load0 = os.getloadavg()[0]
    rows = run([int(b) for b in a.depths.split(",")], a.repeat, a.paths, a.old_points)
    load1 = os.getloadavg()[0]
    cmd = (f"OPENBLAS_NUM_THREADS=1 python benchmarks/bench_resnet_pre.py --repeat {a.repeat} --paths {a.paths} "
           f"--old-points {a.old_points} --depths {a.depths}")
    out = ["## Pre-activation ResNet Jacobian law (issue 15)", "",
           f"Command: `{cmd}`; load average {load0:.1f} at the start, {load1:.1f} at the end (2 cores, shared).", "",
           "relu, a = 0.1, sigma_w^2 = 2, Haar orthogonal weights, 256 paths.  Engine route = the route of",
           "every depth before the sweep; its 1,001-point density is its per-point cost on "
           f"{a.old_points} points times 1,001 (estimate).  Wall-clock seconds (CPU in brackets); sweep density:",
           f"median of {a.repeat} runs.", "",
           "| blocks | support, sweep | support, engine | 1,001 densities, sweep | 1,001 densities, engine (est.) "
           "| speed-up | max density diff / max | mass (trapezoid on the 1,001 points, steep lower edge) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        so = f"{r['w_sup_old']:.1f}" if r["w_sup_old"] is not None else "not run"
        out.append(f"| {r['B']} | {r['w_sup']:.1f} ({r['c_sup']:.1f}) | {so} | {r['w_pdf']:.1f} ({r['c_pdf']:.1f}) "
                   f"| {r['w_old_1001']:.0f} ({r['c_old_1001']:.0f}) | {r['w_old_1001'] / r['w_pdf']:.1f}x "
                   f"| {r['diff']:.1e} | {r['mass']:.5f} |")
    deep = [r for r in rows if r["B"] == 100]
    if deep:
        met = "met" if deep[0]["w_pdf"] <= 5.0 else "**not met**"
        out += ["", f"Goal (issue brief): 1,001 densities at 100 blocks in a few seconds (<= 5 s): {met} in this run "
                f"({deep[0]['w_pdf']:.1f} s wall); the sweep costs ~3-8 residuals of O(paths B) per point."]
    text = "\n".join(out) + "\n"
    print(text)
    if not a.no_write:
        (ROOT / "docs" / "benchmarks" / "resnet_pre.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
