"""The cdf of the ResNet laws (issue 12): the engine's contour cdf against the engine-level density table.

Run from the repository root (writes docs/benchmarks/resnet_cdf.md unless --no-write)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_resnet_cdf.py [--contour-points 5] [--no-write]

Laws: ``resnet_pre_jacobian_law("relu", a, 2.0, 0.0, depth=B + 2, weights="orthogonal", paths=256)`` at
B = 8 (a = 0.5, the engine's axis Newton) and B = 50 (a = 0.1, the sweep), and
``resnet_universal_law(tau)`` at tau = 0.6 and 3.  For each: the support (not timed here: both routes need
it), then

* table: :class:`freeprob.density_table.DensityTableCdf` built on the first cdf call, timed with the 101
  equispaced interior points it answers (the pre-activation law's cdf);
* contour: the engine's cdf (:meth:`freeprob.SolvedLaw._cdf`, G on vertical rays, ~300 solves a point)
  on ``--contour-points`` of those points, its per-point cost times 101 (an estimate, labelled so) — the
  universal law's cdf, timed on all 101 points;
* the largest difference of the two routes on the contour points, the table's total mass and
  :meth:`freeprob.SolvedLaw.check_mass` (with its time).

Wall-clock seconds; the machine is shared (the load average is printed).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from freeprob.density_table import DensityTableCdf
from freeprob.solved import SolvedLaw
from nn_spectra.resnet import ResNetUniversalLaw
from nn_spectra.resnet_pre import resnet_pre_jacobian_law

ROOT = Path(__file__).resolve().parents[1]


class _TabledUniversal(DensityTableCdf, ResNetUniversalLaw):
    """The universal law with the table instead of its contour cdf (for the comparison only)."""


def _timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def _row(name, law, table_law, k):
    law.support
    table_law.support
    x = np.linspace(*law.support, 103)[1:-1]
    ct, t_table = _timed(lambda: table_law.cdf(x))
    xe = x[np.linspace(0, x.size - 1, k).round().astype(int)]
    ce, t_c = _timed(lambda: SolvedLaw._cdf(law, xe))
    m, t_m = _timed(law.check_mass)
    return dict(name=name, t_table=t_table, t_contour=t_c / xe.size * x.size, est=xe.size < x.size,
                diff=float(np.max(np.abs(table_law.cdf(xe) - ce))), mass=table_law.total_mass - 1.0,
                check=m - 1.0, t_check=t_m)


def run(k):
    rows = []
    for B, a, fast in ((8, 0.5, False), (50, 0.1, True)):
        law = resnet_pre_jacobian_law("relu", a, 2.0, 0.0, B + 2, weights="orthogonal", paths=256, fast=fast)
        rows.append(_row(f"pre-activation, {B} blocks ({'sweep' if fast else 'axis Newton'})", law, law, k))
        print(rows[-1], flush=True)
    for tau in (0.6, 3.0):
        rows.append(_row(f"universal, tau = {tau:g}", ResNetUniversalLaw(tau), _TabledUniversal(tau), 101))
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--contour-points", type=int, default=5)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    load0 = os.getloadavg()[0]
    rows = run(a.contour_points)
    load1 = os.getloadavg()[0]
    out = ["## cdf of the ResNet laws: contour against the density table (issue 12)", "",
           f"Command: `OPENBLAS_NUM_THREADS=1 python benchmarks/bench_resnet_cdf.py --contour-points "
           f"{a.contour_points}`; load average {load0:.1f} at the start, {load1:.1f} at the end (2 cores, shared).",
           "", "101 equispaced interior points of the support; wall-clock seconds.  Table: built on first use "
           "(included).  Contour: the engine's cdf; (est.) = its per-point cost on "
           f"{a.contour_points} points times 101.", "",
           "| law | table, 101 points | contour, 101 points | max abs(table - contour) | table mass - 1 "
           "| check_mass - 1 (s) |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        est = " (est.)" if r["est"] else ""
        out.append(f"| {r['name']} | {r['t_table']:.1f} | {r['t_contour']:.1f}{est} | {r['diff']:.1e} "
                   f"| {r['mass']:.1e} | {r['check']:.1e} ({r['t_check']:.1f}) |")
    text = "\n".join(out) + "\n"
    print(text)
    if not a.no_write:
        (ROOT / "docs" / "benchmarks" / "resnet_cdf.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
