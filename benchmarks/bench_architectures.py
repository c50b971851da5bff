"""Residual and convolutional networks: speed and agreement against neural-tangents in the same run.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_architectures.py [--repeats 5] [--n-flatten 100]
        [--n-gap 20] [--resnet] [--no-write]

* CNN NNGP/NTK of n images 8x8x1, depth 11 weight layers (ten convolutions + the readout), relu, circular padding,
  k = 3, flatten and global-average-pool readouts: nn_spectra.cnn_nngp_ntk against neural_tangents.stax
  (float64: jax_enable_x64; jitted, the compiling first call reported apart), medians of the CPU time
  (process_time: every thread of the process) and the largest relative differences, the NTK diagonal
  separately (neural-tangents evaluates the arc-cosine kernel at a rounded correlation 1 - O(1e-16) there).
* With --resnet: the ResNet Jacobian law (relu, post blocks, a = 0.03, depth 1000): construction +
  support, and the density on 1,001 points.
Writes docs/benchmarks/architectures.md unless --no-write.  Needs the ``peer`` extra for the comparison.
"""
import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

import nn_spectra as ns

ROOT = Path(__file__).resolve().parents[1]


def _median_cpu(fn, repeats):
    cpu, wall, out = [], [], None
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall), out


# depth = L weight layers, as everywhere in nn_spectra: L - 1 = 10 convolutions + the readout (the network
# timed before depth counted the readout, when it was depth=10)
CNN_DEPTH = 11


def bench_cnn(n, readout, repeats):
    X = np.random.default_rng(0).standard_normal((n, 8, 8, 1))
    f = lambda: ns.cnn_nngp_ntk(X, depth=CNN_DEPTH, act="relu", sigma_w2=2.0, sigma_b2=0.1, kernel_size=3,
                                readout=readout)
    ns.cnn_nngp_ntk(X[:2], depth=CNN_DEPTH, act="relu", sigma_w2=2.0, sigma_b2=0.1, kernel_size=3, readout=readout)
    cpu, wall, (K, T) = _median_cpu(f, repeats)
    row = {"n": n, "readout": readout, "cpu": cpu, "wall": wall}
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        from neural_tangents import stax
    except ImportError:
        return row
    layers = []
    for _ in range(CNN_DEPTH - 1):    # L - 1 (Conv, Relu) blocks, then the readout (pool + Dense)
        layers += [stax.Conv(1, (3, 3), padding="CIRCULAR", W_std=np.sqrt(2.0), b_std=np.sqrt(0.1)), stax.Relu()]
    pool = stax.GlobalAvgPool() if readout == "gap" else stax.Flatten()
    _, _, kfn = stax.serial(*layers, pool, stax.Dense(1, W_std=np.sqrt(2.0), b_std=np.sqrt(0.1)))
    kfn = jax.jit(kfn, static_argnames="get")

    def run():
        r = kfn(X, X, get=("nngp", "ntk"))
        return np.asarray(r[0]), np.asarray(r[1])

    w = time.perf_counter()
    run()
    first = time.perf_counter() - w
    cpu_nt, wall_nt, (Kr, Tr) = _median_cpu(run, repeats)
    off = ~np.eye(n, dtype=bool)
    row.update(nt_cpu=cpu_nt, nt_wall=wall_nt, nt_first=first,
               rel_nngp=float(np.max(np.abs(K - Kr) / np.abs(Kr))),
               rel_ntk_off=float(np.max((np.abs(T - Tr) / np.abs(Tr))[off])),
               rel_ntk_diag=float(np.max(np.abs(np.diag(T) - np.diag(Tr)) / np.diag(Tr))))
    return row


def bench_resnet():
    c, w = time.process_time(), time.perf_counter()
    law = ns.resnet_jacobian_law("relu", 0.03, 2.0, 0.0, depth=1000 + 2)     # 1,000 blocks (issue 14: depth = L)
    a, b = law.support
    t_support = (time.process_time() - c, time.perf_counter() - w)
    x = np.linspace(a, b, 1001)
    c, w = time.process_time(), time.perf_counter()
    d = law.pdf(x)
    t_pdf = (time.process_time() - c, time.perf_counter() - w)
    return {"support": t_support, "pdf": t_pdf, "edges": (a, b), "nan": int(np.isnan(d).sum())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-flatten", type=int, default=100)
    ap.add_argument("--n-gap", type=int, default=20)
    ap.add_argument("--resnet", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    rows = [bench_cnn(args.n_flatten, "flatten", args.repeats), bench_cnn(args.n_gap, "gap", args.repeats)]
    res = bench_resnet() if args.resnet else None
    load1 = os.getloadavg()[0]
    cmd = (f"OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_architectures.py --repeats {args.repeats} "
           f"--n-flatten {args.n_flatten} --n-gap {args.n_gap}" + (" --resnet" if args.resnet else ""))
    lines = ["# nn_spectra: residual and convolutional networks", "",
             f"`{cmd}` on {os.cpu_count()} CPUs, load average {load0:.1f} at the start and {load1:.1f} at the end "
             "(the machine was shared with other agents: wall times are inflated, CPU times and the ratios "
             "measured in the same run are the meaningful numbers).", "",
             f"## A. CNN NNGP/NTK, images 8×8×1, depth {CNN_DEPTH} weight layers ({CNN_DEPTH - 1} convolutions + "
             "the readout), relu, k = 3, circular padding", "",
             "Medians of the CPU time over the repeats.  Issue-15 goal: at least as fast as neural-tangents "
             "for 100 images, the same numbers to 1e-10.", "",
             "| images | readout | `cnn_nngp_ntk` CPU (wall) | neural-tangents CPU (wall; first call) | "
             "speed-up | max rel. diff NNGP / NTK off-diagonal / NTK diagonal |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "nt_cpu" in r:
            lines.append(f"| {r['n']} | {r['readout']} | {r['cpu']:.3f} s ({r['wall']:.3f} s) | {r['nt_cpu']:.3f} s "
                         f"({r['nt_wall']:.3f} s; {r['nt_first']:.1f} s) | **{r['nt_cpu'] / r['cpu']:.1f}×** | "
                         f"{r['rel_nngp']:.1e} / {r['rel_ntk_off']:.1e} / {r['rel_ntk_diag']:.1e} |")
        else:
            lines.append(f"| {r['n']} | {r['readout']} | {r['cpu']:.3f} s ({r['wall']:.3f} s) | not importable | – | – |")
    lines += ["", "The NTK diagonal differences are neural-tangents' rounding: for an image with itself c = 1 at "
              "every position and the relu recursion is linear; `tests/nn_spectra/test_cnn.py::"
              "test_neural_tangents_peer_float64` checks ours against that exact recursion to 1e-13 (and "
              "mpmath at 40 digits gave 1e-16 for ours, 5e-9 for neural-tangents on three images).  The flatten "
              "readout runs each pair of images through all layers in compiled code (same-position "
              "covariances only); global average pooling keeps the (n, n, P, P) position-pair covariances "
              "(41 M entries per layer at 100 images), so it is timed at fewer images.", ""]
    if res is not None:
        lines += ["## B. ResNet Jacobian law, relu, post blocks, a = 0.03, depth 1,000", "",
                  "| step | CPU | wall |", "|---|---|---|",
                  f"| construction + support {res['edges'][0]:.4g}..{res['edges'][1]:.4g} | {res['support'][0]:.1f} s "
                  f"| {res['support'][1]:.1f} s |",
                  f"| density on 1,001 points ({res['nan']} NaN) | {res['pdf'][0]:.1f} s | {res['pdf'][1]:.1f} s |", "",
                  "Issue-15 goal (< 1 s): **not met**."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "benchmarks" / "architectures.md").write_text(text)


if __name__ == "__main__":
    main()
