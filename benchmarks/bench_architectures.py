"""Residual and convolutional networks: speed and agreement against neural-tangents in the same run.

    python benchmarks/bench_architectures.py [--n 100] [--repeats 3]

* CNN NNGP/NTK of n images 8x8x1, depth 10, relu, circular padding, k = 3, both readouts:
  nn_spectra.cnn_nngp_ntk against neural_tangents.stax (float64: jax_enable_x64), CPU time
  (median of --repeats) and max relative difference.
* ResNet Jacobian law (relu, post blocks, a = 0.03, depth 1000): construction (support) and the
  density on 1,001 points.
Needs the ``peer`` extra for the comparison (skipped without it).
"""
import argparse
import os
import time

import numpy as np

import nn_spectra as ns


def _median_time(fn, repeats):
    ts, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def bench_cnn(n, repeats):
    X = np.random.default_rng(0).standard_normal((n, 8, 8, 1))
    rows = []
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        from neural_tangents import stax
    except ImportError:
        stax = None
    for readout in ("flatten", "gap"):
        t_ns, (K, T) = _median_time(lambda: ns.cnn_nngp_ntk(X, depth=10, act="relu", sigma_w2=2.0, sigma_b2=0.1,
                                                             kernel_size=3, readout=readout), repeats)
        row = {"readout": readout, "nn_spectra_s": t_ns}
        if stax is not None:
            layers = []
            for _ in range(10):
                layers += [stax.Conv(1, (3, 3), padding="CIRCULAR", W_std=np.sqrt(2.0), b_std=np.sqrt(0.1)), stax.Relu()]
            pool = stax.GlobalAvgPool() if readout == "gap" else stax.Flatten()
            _, _, kfn = stax.serial(*layers, pool, stax.Dense(1, W_std=np.sqrt(2.0), b_std=np.sqrt(0.1)))
            kfn = jax.jit(kfn, static_argnames="get")

            def run():
                r = kfn(X, X, get=("nngp", "ntk"))
                return np.asarray(r[0]), np.asarray(r[1])

            t_first = time.perf_counter()
            run()
            t_first = time.perf_counter() - t_first
            t_nt, (Kr, Tr) = _median_time(run, repeats)
            row.update(nt_s=t_nt, nt_first_call_s=t_first,
                       max_rel_nngp=float(np.max(np.abs(K - Kr) / np.abs(Kr))),
                       max_rel_ntk=float(np.max(np.abs(T - Tr) / np.abs(Tr))))
        rows.append(row)
    return rows


def bench_resnet():
    t = time.perf_counter()
    law = ns.resnet_jacobian_law("relu", 0.03, 2.0, 0.0, depth=1000)
    a, b = law.support
    t_support = time.perf_counter() - t
    x = np.linspace(a, b, 1001)
    t = time.perf_counter()
    d = law.pdf(x)
    t_pdf = time.perf_counter() - t
    return {"support_s": t_support, "pdf_1001_s": t_pdf, "support": (a, b), "nan": int(np.isnan(d).sum())}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-resnet", action="store_true")
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()}")
    for row in bench_cnn(args.n, args.repeats):
        print("cnn", row, flush=True)
    if not args.skip_resnet:
        print("resnet", bench_resnet(), flush=True)
