"""SLQ (matrix-free) vs the dense route for the Jacobian spectrum of a deep relu network.

Network: relu, Gaussian weights, sigma_w2 = 2, sigma_b2 = 0, depth L = 10 weight layers (widths
[N] * 10 + [1], the convention of ``jacobian_law`` / ``slq_jacobian_spectrum``), spectrum of J^T J at one
input, J = D_9 W_9 ... D_1 W_1 over the K = L - 1 = 9 nonlinear layers (the readout is not part of J).

* SLQ: ``nn_spectra.slq_jacobian_spectrum`` (40 Lanczos steps, 10 probes, full reorthogonalisation):
  time of the Lanczos phase (network construction reported separately), peak traced memory.
* Dense: form J (K = 9 products N x N x N) and ``numpy.linalg.eigvalsh(J^T J)``; measured at small N,
  extrapolated as c N^3 from the largest measured width (memory as 8 N^2 (L + 3) bytes).

Times are CPU seconds (``time.process_time``) with one BLAS thread, repeated (median) for N <= 1000.

Both routes run with one BLAS thread (``threadpoolctl``): on the shared 2-core machine two OpenBLAS
threads were up to 10x slower than one.  Writes docs/benchmarks/lanczos.md.

    python benchmarks/bench_lanczos.py [--widths 1000 2000 4000 10000] [--dense 500 1000 2000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import nn_spectra as ns
from nn_spectra.lanczos import available_memory_bytes, lanczos_memory_bytes
from nn_spectra.matrix_free import JacobianGram, _fixed_point_input, network_memory_bytes

# DEPTH = L weight layers (as jacobian_law's depth); J spans the K = L - 1 nonlinear layers
ACT, SW2, SB2, DEPTH, STEPS, PROBES = "relu", 2.0, 0.0, 10, 40, 10
K = DEPTH - 1
OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "lanczos.md"


def slq_run(width: int, seed: int):
    gen = np.random.default_rng(seed)
    t0 = time.process_time()
    net = ns.MLP([width] * DEPTH + [1], ACT, SW2, SB2, weights="gaussian", rng=gen)
    t_build = time.process_time() - t0
    x = _fixed_point_input(net.act, SW2, SB2, width, gen)
    tracemalloc.start()
    t0, w0 = time.process_time(), time.perf_counter()
    est = ns.stochastic_lanczos_quadrature(JacobianGram(net, x, layer=K), width, steps=STEPS, probes=PROBES,
                                           rng=gen)
    t_slq, wall = time.process_time() - t0, time.perf_counter() - w0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    weights_bytes = sum(w.nbytes + b.nbytes for w, b in zip(net.weights, net.biases))
    del net
    law = ns.jacobian_law(ACT, SW2, SB2, DEPTH, weights="gaussian")
    m, se = est.moments(2)
    err = np.abs(m / np.asarray(law.moments(2)) - 1)
    return dict(build=t_build, slq=t_slq, wall=wall, peak=peak, weights=weights_bytes, m=m, se=se, err=err)


def dense_run(width: int, seed: int):
    gen = np.random.default_rng(seed)
    net = ns.MLP([width] * DEPTH + [1], ACT, SW2, SB2, weights="gaussian", rng=gen)
    x = _fixed_point_input(net.act, SW2, SB2, width, gen)
    t0 = time.process_time()
    _, hs, _ = net.forward(x, return_all=True)
    J = np.eye(width)
    for l in range(K):
        J = net.act.dphi(hs[l][0])[:, None] * (net.weights[l] @ J)
    np.linalg.eigvalsh(J.T @ J)
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[1000, 2000, 10000])
    ap.add_argument("--dense", type=int, nargs="+", default=[500, 1000, 2000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    rows, dense = [], {}
    with threadpool_limits(1):
        for n in args.dense:
            dense[n] = float(np.median([dense_run(n, s) for s in range(args.repeat if n <= 1000 else 1)]))
            print(f"dense N={n}: {dense[n]:.2f} s", flush=True)
        for n in args.widths:
            need = network_memory_bytes([n] * DEPTH + [1]) + lanczos_memory_bytes(n, STEPS, PROBES)
            avail = available_memory_bytes() or 0
            if need > 0.8 * avail:
                print(f"SLQ N={n}: skipped, needs {need / 2**30:.1f} GiB of {avail / 2**30:.1f} GiB available")
                continue
            reps = args.repeat if n <= 1000 else 1
            runs = [slq_run(n, s) for s in range(reps)]
            r = dict(width=n, reps=reps, build=np.median([q["build"] for q in runs]),
                     slq=np.median([q["slq"] for q in runs]), wall=np.median([q["wall"] for q in runs]),
                     peak=max(q["peak"] for q in runs),
                     weights=runs[0]["weights"], err=np.max([q["err"] for q in runs], axis=0),
                     se=runs[0]["se"] / np.asarray(runs[0]["m"]))
            rows.append(r)
            print(f"SLQ N={n}: build {r['build']:.1f} s, Lanczos {r['slq']:.1f} s CPU ({r['wall']:.0f} s wall), "
                  f"peak {r['peak'] / 2**30:.2f} GiB",
                  flush=True)
    load1 = os.getloadavg()[0]
    n_ref = max(dense)
    c = dense[n_ref] / n_ref ** 3
    lines = ["# nn_spectra: stochastic Lanczos quadrature vs the dense route", "",
             f"`python benchmarks/bench_lanczos.py --repeat {args.repeat}` on {os.cpu_count()} CPUs "
             f"({platform.processor() or platform.machine()}), one BLAS thread; load average "
             f"{load0:.1f} at the start and {load1:.1f} at the end (the machine is shared by several jobs: "
             "timings are noisy). **Times are CPU seconds of the process** (`time.process_time`, one BLAS thread), "
             "which the load inflates far less than wall-clock time; the SLQ wall time is listed for reference.", "",
             f"Spectrum of JᵀJ for a relu network (Gaussian weights, σ_w² = 2, σ_b² = 0) of depth L = {DEPTH} weight "
             f"layers (widths [N]·{DEPTH} + [1], the convention of `jacobian_law` and `slq_jacobian_spectrum`), so J "
             f"spans the K = {K} nonlinear layers; SLQ with {STEPS} Lanczos steps and {PROBES} Rademacher probes (full "
             f"reorthogonalisation); dense = form J by {K} N×N×N products + `eigvalsh(JᵀJ)`. Compared with "
             f"`jacobian_law(relu, 2, 0, depth={DEPTH})`.", "",
             "## Dense route (measured; median of the repeats for N <= 1000)", "",
             "| N | time | c = time / N³ |", "|---|---|---|"]
    lines += [f"| {n} | {t:.2f} s | {t / n ** 3:.3g} s |" for n, t in sorted(dense.items())]
    lines += ["", f"Extrapolation uses c from N = {n_ref}: dense time ≈ {c:.3g}·N³ s, dense memory ≈ 8N²(L+3) bytes.",
              "", "## SLQ (measured) vs dense (extrapolated)", "",
              "| N | build network | SLQ (Lanczos), CPU | SLQ wall | peak traced memory (SLQ phase) | weights "
              "| dense time | dense memory | time ratio dense/SLQ | rel. error m1, m2 vs `jacobian_law` | probe s.e. m1, m2 |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n = r["width"]
        td = c * n ** 3
        lines.append(f"| {n:,} | {r['build']:.1f} s | {r['slq']:.1f} s | {r['wall']:.0f} s | {r['peak'] / 2**30:.2f} GiB | "
                     f"{r['weights'] / 2**30:.2f} GiB | {dense.get(n, td):,.3g} s{'' if n in dense else ' (extrap.)'} | "
                     f"{8 * n * n * (DEPTH + 3) / 2**30:.1f} GiB | {dense.get(n, td) / r['slq']:.2g}× | "
                     f"{r['err'][0]:.3f}, {r['err'][1]:.3f} | {r['se'][0]:.3f}, {r['se'][1]:.3f} |")
    big = max(r["width"] for r in rows) if rows else 0
    avail = available_memory_bytes() or 0
    n_fit = int(np.sqrt(0.8 * avail / (8 * K)))
    lines += ["", f"Largest width reached: **{big:,}** (depth {DEPTH}). The memory is dominated by the weights, "
              f"8·(L−1)·N² bytes for the L−1 square layers (the readout adds 8N; the Lanczos basis adds 8·probes·N·(steps+5) bytes); with {avail / 2**30:.0f} GiB "
              f"available the formula allows N ≈ {n_fit:,} at depth {DEPTH}; width 100,000 would need "
              f"{8 * K * 1e10 / 2**30:,.0f} GiB of weights and is rejected before allocation.",
              "", "The relative moment errors mix the probe error (last column), the network-to-network "
              "fluctuation O(√(L/N)) and the finite-width bias; see docs/guide/finite_width.rst.", ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
