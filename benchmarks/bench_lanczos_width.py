"""Distance between real deep networks' Jacobian spectra and the freeprob law, width 1,000 -> 10,000, depths 10-50.

Network: Gaussian weights, depth L weight layers of width N (``slq_jacobian_spectrum``'s convention: J spans
the K = L - 1 nonlinear layers), weights regenerated layer by layer from per-layer seeds
(``stream_weights=True``, :class:`nn_spectra.StreamedGaussianJacobianGram`), so depth 50 at width 10,000
(37 GiB if stored) runs in about 0.1 GiB.  SLQ with ``--steps`` Lanczos steps (moments up to 2*steps - 1
are exact per probe) and ``--probes`` Rademacher probes.

Distance (the one of the slow tests): the shape distance max_{p=2,3} |(m_p/m_1^p) / (law_p/law_1^p) - 1|,
free of the network's overall scale, which fluctuates by O(sqrt(K/N)) (checked separately: the z-score
of log m_1 against the law with the predicted spread ``log_norm_leading_order(trace=True)`` plus the
probe error).  Rate = slope of log(RMS over networks) against log(width) (``nn_spectra.fit_rate``).

Runs through ``nn_spectra.sweep`` (serial, reproducible seeds).  Writes docs/benchmarks/lanczos_width_<act>.md
and the figure docs/guide/figures/jacobian_distance_vs_width_<act>.png.

    python benchmarks/bench_lanczos_width.py [--act relu] [--widths 1000 3000 10000] [--depths 10 30 50]
        [--seeds 6] [--seeds-large 2] [--probes 30] [--steps 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

import nn_spectra as ns
from nn_spectra.lanczos import lanczos_memory_bytes
from nn_spectra.matrix_free import streamed_memory_bytes

ROOT = Path(__file__).resolve().parent.parent
POINTS = {"relu": (2.0, 0.0), "tanh": (1.2, 0.05)}


class Timed:
    """The sweep's measure, with its CPU and wall time per network."""

    def __init__(self, measure):
        self.measure = measure

    def __call__(self, width, depth, rng):
        t0, w0 = time.process_time(), time.perf_counter()
        row = self.measure(width, depth, rng)
        row.update(cpu=time.process_time() - t0, wall=time.perf_counter() - w0)
        print(f"  N={width} L={depth}: shape {row['shape_error']:.4f}, m1 {row['m1']:.3f}, "
              f"{row['cpu']:.0f} s CPU / {row['wall']:.0f} s wall", flush=True)
        return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--act", default="relu", choices=sorted(POINTS))
    ap.add_argument("--widths", type=int, nargs="+", default=[1000, 3000, 10000])
    ap.add_argument("--depths", type=int, nargs="+", default=[10, 30, 50])
    ap.add_argument("--seeds", type=int, default=6, help="networks per cell below width 10,000")
    ap.add_argument("--seeds-large", type=int, default=2, help="networks per cell at width >= 10,000")
    ap.add_argument("--probes", type=int, default=30)
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    sw2, sb2 = POINTS[args.act]
    measure = Timed(ns.JacobianLawDistance(args.act, sw2, sb2, steps=args.steps, probes=args.probes, moments=3,
                                           ks=False, stream_weights=True))
    load0 = os.getloadavg()[0]
    tables = []
    with threadpool_limits(1):
        for w in args.widths:
            seeds = args.seeds_large if w >= 10_000 else args.seeds
            print(f"width {w}: {seeds} networks per depth", flush=True)
            tables.append(ns.sweep(measure, [w], args.depths, seeds=seeds, rng=0))
    load1 = os.getloadavg()[0]
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t = pd.concat(tables, ignore_index=True)
    q = float(ns.q_star(args.act, sw2, sb2))
    spread = {(w, d): ns.log_norm_leading_order([w] * d, args.act, sw2, sb2, q_input=(q - sb2) / sw2, trace=True).var
              for w in args.widths for d in args.depths}
    law1 = {d: float(ns.jacobian_law(args.act, sw2, sb2, d, weights="gaussian").moments(1)[0]) for d in args.depths}
    t["scale_z"] = [np.log(r.m1 / law1[r.depth]) / np.sqrt(spread[(r.width, r.depth)] + (r.se1 / r.m1) ** 2)
                    for r in t.itertuples()]
    t.to_csv(Path(os.environ.get("TMPDIR", "/tmp")) / f"lanczos_width_{args.act}.csv", index=False)

    name = f"lanczos_width_{args.act}"
    fig = ns.plot_distance_vs_width(t, "shape_error")
    fig.axes[0].set_title(f"{args.act}: Jacobian spectrum vs jacobian_law (SLQ, {args.probes} probes)", fontsize=9)
    fig.tight_layout()
    fig_path = ROOT / "docs" / "guide" / "figures" / f"jacobian_distance_vs_width_{args.act}.png"
    fig.savefig(fig_path, dpi=110)

    cmd = (f"python benchmarks/bench_lanczos_width.py --act {args.act} --widths {' '.join(map(str, args.widths))} "
           f"--depths {' '.join(map(str, args.depths))} --seeds {args.seeds} --seeds-large {args.seeds_large} "
           f"--probes {args.probes} --steps {args.steps}")
    nmax, dmax = max(args.widths), max(args.depths)
    lines = [f"# nn_spectra: Jacobian law at width {nmax:,}, depths {', '.join(map(str, args.depths))} ({args.act})", "",
             f"`{cmd}` on {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), one BLAS thread, "
             f"nice 10; load average {load0:.1f} at the start and {load1:.1f} at the end (shared machine: timings "
             "are noisy).", "",
             f"{args.act} (σ_w² = {sw2}, σ_b² = {sb2}), Gaussian weights, depth L weight layers of width N (J spans "
             f"K = L − 1 layers, as `jacobian_law(depth=L)`); the weights are **regenerated** from per-layer seeds "
             f"in 64 MiB row blocks at every pass (`slq_jacobian_spectrum(..., stream_weights=True)`), never stored. "
             f"SLQ with {args.steps} Lanczos steps (moments up to {2 * args.steps - 1} exact per probe), "
             f"{args.probes} Rademacher probes.", "",
             "Shape distance = max_{p=2,3} |(m_p/m_1^p)/(law_p/law_1^p) − 1| (scale-free); RMS over the networks of "
             "a cell. Scale z = log(m_1/law_1) / √(predicted Var log m_1 + probe s.e.²), the predicted spread from "
             "`log_norm_leading_order(trace=True)`.", "",
             "| depth L | width N | networks | shape distance (RMS) | per network | max abs(scale z) | CPU per network | wall per network |",
             "|---|---|---|---|---|---|---|---|"]
    for (d, w), sub in t.groupby(["depth", "width"]):
        rms = float(np.sqrt(np.mean(sub.shape_error ** 2)))
        lines.append(f"| {d} | {w:,} | {len(sub)} | {rms:.4f} | {', '.join(f'{x:.3f}' for x in sub.shape_error)} | "
                     f"{np.max(np.abs(sub.scale_z)):.2f} | {sub.cpu.median():.1f} s | {sub.wall.median():.1f} s |")
    lines += ["", "Rate (slope of log RMS shape distance against log width, all widths of the depth):", ""]
    for d, sub in t.groupby("depth"):
        g = sub.groupby("width").shape_error.apply(lambda s: float(np.sqrt(np.mean(s ** 2))))
        lines.append(f"- depth {d}: rate {ns.fit_rate(sub, 'shape_error'):.2f}; width {g.index[0]:,} → {g.index[-1]:,}: "
                     f"{g.iloc[0]:.4f} → {g.iloc[-1]:.4f} (factor {g.iloc[0] / g.iloc[-1]:.1f} for "
                     f"{g.index[-1] / g.index[0]:.0f}× the width; 1/2 predicts {np.sqrt(g.index[-1] / g.index[0]):.1f})")
    lines += ["", f"Memory: peak resident set of the whole process {peak_rss / 2**30:.2f} GiB (Python, numpy, the laws); "
              f"the formula `streamed_memory_bytes(N, L, probes) + lanczos_memory_bytes(N, steps, probes)` gives "
              f"{(streamed_memory_bytes(nmax, dmax, args.probes) + lanczos_memory_bytes(nmax, args.steps, args.probes)) / 2**30:.2f} GiB "
              f"at N = {nmax:,}, L = {dmax}, against {8 * (dmax - 1) * nmax ** 2 / 2**30:.0f} GiB for the stored "
              f"weights. Time: each Lanczos step generates 2K·N² normals (about 1 s per 10⁸ on one core), "
              f"so a network costs about {2 * args.steps}K generations of a layer.", "",
              f"Figure: `docs/guide/figures/jacobian_distance_vs_width_{args.act}.png` (shown in the guide, "
              "docs/guide/finite_width.rst).", ""]
    out = ROOT / "docs" / "benchmarks" / f"{name}.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {out} and {fig_path}")


if __name__ == "__main__":
    main()
