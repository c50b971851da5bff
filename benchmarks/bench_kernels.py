"""Speed and accuracy of nn_spectra's mean-field phase diagrams and infinite-width kernels.

Run from the repository root (writes docs/benchmarks/kernels.md unless --no-write)::

    python benchmarks/bench_kernels.py [--repeat 3] [--no-write] [--prev COMMIT]

Problems (issue 8):

A. A 200 × 200 tanh phase diagram (q*, χ₁, ξ_c on σ_w² ∈ [0.5, 4], σ_b² ∈ [0, 0.3], plus the critical
   line), after compilation; accuracy checked against the pointwise solvers at 20 random grid points.
B. ``nngp_ntk`` on 1,000 inputs (d = 20), depth 10, for relu and erf (closed-form arc-cosine and arcsine
   kernels) and the smooth built-ins tanh, sigmoid, softplus, gelu, silu (Mehler series fused over the
   layers with rigorous truncation bounds, nested Gauss–Legendre where they do not hold), with their
   accuracy against the quadrature recursion on sampled pairs; ``--prev COMMIT`` also times tanh at an
   earlier commit in the same run.
C. Closed form against the quadrature route on the same problem (relu and erf with their closed forms
   removed, so that the Mehler/quadrature path runs), 200 inputs, depth 10: time and agreement.
D. ``neural-tangents`` (analytic erf and relu kernels, ``stax.serial(Dense, Erf|Relu, ...)``, float64,
   jitted) when it is importable (the ``peer`` extra); CPU-time medians in the same run.

Compile time: first call in a fresh interpreter with an empty numba cache (cold) and with the cache
filled (warm), measured in subprocesses.  Times are medians over ``--repeat`` runs (wall clock), on
whatever machine runs the script (the table records its CPU count and load average).
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import nn_spectra as ns

ROOT = Path(__file__).resolve().parents[1]


def _median_time(fn, repeat):
    ts, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def problem_a(repeat):
    ns.phase_diagram("tanh", (0.5, 4.0), (0.0, 0.3), n=10)  # compile
    t, pd = _median_time(lambda: ns.phase_diagram("tanh", (0.5, 4.0), (0.0, 0.3), n=200), repeat)
    rng = np.random.default_rng(0)
    eq, ex = 0.0, 0.0
    for _ in range(20):
        i, j = rng.integers(0, 200, 2)
        w, b = pd.sigma_w2[i, j], pd.sigma_b2[i, j]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            eq = max(eq, abs(pd.q_star[i, j] - ns.q_star("tanh", w, b)) / max(1e-300, ns.q_star("tanh", w, b)))
        xc = ns.depth_scales("tanh", w, b)[1]
        ex = max(ex, abs(pd.xi_c[i, j] - xc) / xc)
    return t, eq, ex


def _median_cpu(fn, repeat):
    """Median CPU time (process_time: this process's CPU seconds on all its threads) and wall time."""
    cpu, wall, out = [], [], None
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall), out


def _nt_kernel_fn(depth, act, sw, sb):
    """neural-tangents' analytic kernel of the same network: depth weight layers (depth - 1 nonlinear
    layers and the linear readout), float64, jitted (the first call, which compiles, is not timed)."""
    import jax  # noqa: PLC0415

    jax.config.update("jax_enable_x64", True)
    from neural_tangents import stax  # noqa: PLC0415

    nl = {"relu": stax.Relu, "erf": stax.Erf}[act]
    layers = []
    for _ in range(depth - 1):
        layers += [stax.Dense(1, W_std=np.sqrt(sw), b_std=np.sqrt(sb)), nl()]
    layers += [stax.Dense(1, W_std=np.sqrt(sw), b_std=np.sqrt(sb))]
    _, _, kernel_fn = stax.serial(*layers)
    kernel_fn = jax.jit(kernel_fn, static_argnames="get")

    def run(X):
        k = kernel_fn(X, None, get=("nngp", "ntk"))
        return np.asarray(k[0]), np.asarray(k[1])

    return run


_SMOOTH = ("tanh", "sigmoid", "softplus", "gelu", "silu")


def _pair_reference(X, pairs, depth, act, sw, sb):
    """NNGP and NTK of the pairs (i, j) by the recursion written out with the nested piecewise
    quadrature (gaussian_integrals.activation_kernel, method='legendre') and the 1-D integrals: every
    pair evolves on its own given the two variances, so 2 x 2 problems suffice."""
    from nn_spectra import gaussian_integrals as gi  # noqa: PLC0415

    d = X.shape[1]
    out = []
    for i, j in pairs:
        x = X[[i, j]]
        q = sw * np.sum(x ** 2, 1) / d + sb
        s = sw * float(x[0] @ x[1]) / d + sb
        t = s
        for _ in range(depth - 1):
            k, kd = gi.activation_kernel(act, q[0], q[1], s, method="legendre")
            s = sw * float(k) + sb
            t = t * sw * float(kd) + s
            q = sw * gi.activation_moments(act, q, method="legendre")[0] + sb
        out.append((s, t))
    return np.array(out)


def _prev_cpu(commit, act, n, repeat):
    """Median CPU time of the same call at an earlier commit (git archive into a temporary directory,
    run in a subprocess with its own numba cache; the first call, which compiles, is not timed)."""
    code = ("import time, statistics, numpy as np, nn_spectra as ns\n"
            f"X = np.random.default_rng(1).standard_normal(({n}, 20))\n"
            f"ns.nngp_ntk(X[:20], depth=10, act='{act}', sigma_w2=1.8, sigma_b2=0.1)\n"
            "ts = []\n"
            f"for _ in range({repeat}):\n"
            "    c = time.process_time()\n"
            f"    ns.nngp_ntk(X, depth=10, act='{act}', sigma_w2=1.8, sigma_b2=0.1)\n"
            "    ts.append(time.process_time() - c)\n"
            "print(statistics.median(ts))\n")
    with tempfile.TemporaryDirectory() as d:
        arch = subprocess.run(["git", "archive", commit, "nn_spectra", "randmat", "freeprob"], cwd=ROOT,
                              capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", d], input=arch, check=True)
        env = dict(os.environ, PYTHONPATH=d, NUMBA_CACHE_DIR=os.path.join(d, "numba"))
        res = subprocess.run([sys.executable, "-c", code], cwd=d, env=env, capture_output=True, text=True,
                             check=True)
    return float(res.stdout.split()[-1])


def problem_b_d(repeat, n, prev=None):
    X = np.random.default_rng(1).standard_normal((n, 20))
    rows = []
    relu_cpu = None
    for act in ("relu", "erf") + _SMOOTH:
        ns.nngp_ntk(X[:20], depth=10, act=act, sigma_w2=1.8, sigma_b2=0.1)  # compile / fill the numba cache
        cpu, wall, (K, T) = _median_cpu(lambda: ns.nngp_ntk(X, depth=10, act=act, sigma_w2=1.8, sigma_b2=0.1),
                                        repeat)
        relu_cpu = cpu if act == "relu" else relu_cpu
        nt = "—"
        if act in ("relu", "erf"):
            try:
                run = _nt_kernel_fn(10, act, 1.8, 0.1)
                run(X)
                cpu_nt, wall_nt, (Kn, Tn) = _median_cpu(lambda: run(X), repeat)
                off = ~np.eye(n, dtype=bool)
                err = max(np.max(np.abs(K - Kn)) / np.max(np.abs(K)), np.max(np.abs(T - Tn)[off]) / np.max(np.abs(T)))
                errd = np.max(np.abs(np.diag(T) - np.diag(Tn)) / np.diag(T))
                nt = (f"{cpu_nt:.3f} s CPU ({wall_nt:.3f} s wall); **{cpu_nt / cpu:.1f}×** its CPU time; max rel. "
                      f"diff {err:.1e} (NTK diagonal {errd:.1e})")
            except ImportError:
                nt = "not importable (the `peer` extra: neural-tangents, jax)"
        acc = "—"
        if act in _SMOOTH:
            rng = np.random.default_rng(7)
            pairs = [tuple(rng.choice(n, 2, replace=False)) for _ in range(20)] + [(5, 5)]
            ref = _pair_reference(X, pairs, 10, act, 1.8, 0.1)
            got = np.array([(K[i, j], T[i, j]) for i, j in pairs])
            scale = np.array([(np.sqrt(K[i, i] * K[j, j]), np.sqrt(T[i, i] * T[j, j])) for i, j in pairs])
            acc = f"{np.max(np.abs(got - ref) / scale):.1e}"
        before = "—"
        if prev and act in _SMOOTH[:1]:
            before = f"{_prev_cpu(prev, act, n, repeat):.3f} s at {prev}"
        rows.append((act, cpu, wall, cpu / relu_cpu, bool(np.all(np.isfinite(T))), acc, before, nt))
    return rows


def problem_c(repeat, n):
    X = np.random.default_rng(2).standard_normal((n, 20))
    rows = []
    for name in ("relu", "erf"):
        act = ns.activation(name)
        quad = copy.copy(act)
        quad.kernel_2d = None   # force the Mehler / nested-quadrature route
        tc, (K, T) = _median_time(lambda: ns.nngp_ntk(X, depth=10, act=act, sigma_w2=1.8, sigma_b2=0.1), repeat)
        tq, (Kq, Tq) = _median_time(lambda: ns.nngp_ntk(X, depth=10, act=quad, sigma_w2=1.8, sigma_b2=0.1), 1)
        err = max(np.max(np.abs(K - Kq)) / np.max(np.abs(K)), np.max(np.abs(T - Tq)) / np.max(np.abs(T)))
        rows.append((name, tc, tq, err))
    return rows


def compile_times():
    code = ("import time; t=time.perf_counter(); import nn_spectra as ns, numpy as np; "
            "ns.activation_moments('tanh', np.array([1.0])); ns.activation_kernel('tanh', 1.0, 1.0, 0.5); "
            "ns.hermite_coefficients('tanh', 1.0); print(time.perf_counter()-t)")
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        cold = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout)
        warm = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout)
    return cold, warm


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=int, default=1000, help="inputs of problem B")
    ap.add_argument("--n-quad", type=int, default=200, help="inputs of problem C")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--prev", default=None, help="also time tanh at this earlier commit (same run)")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cold, warm = compile_times()
    ta, eq, ex = problem_a(args.repeat)
    rows_b = problem_b_d(args.repeat, args.n, args.prev)
    rows_c = problem_c(args.repeat, args.n_quad)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# nn_spectra: phase diagrams and infinite-width kernels",
        "",
        f"`OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_kernels.py --repeat {args.repeat}"
        f"{' --prev ' + args.prev if args.prev else ''}` on {os.cpu_count()} "
        f"CPUs, load average {load0:.1f} at the start and {load:.1f} at the end of the run (the machine was shared).",
        "",
        f"Import + first calls of the compiled quadrature kernels: {cold:.1f} s with an empty numba cache, "
        f"{warm:.1f} s with the cache filled.",
        "",
        "## A. 200 × 200 tanh phase diagram (q*, χ₁, ξ_c, critical line)",
        "",
        "| time (after compilation) | max rel. error of q* (20 points) | max rel. error of ξ_c |",
        "|---|---|---|",
        f"| {ta:.2f} s | {eq:.1e} | {ex:.1e} |",
        "",
        f"## B/D. `nngp_ntk`, {args.n} inputs (d = 20), depth 10, σ_w² = 1.8, σ_b² = 0.1, against neural-tangents",
        "",
        "Medians of the CPU time (all threads of the process; neural-tangents/XLA may use both cores) "
        f"over {args.repeat} runs after a warm-up call; the goal of issue 15 is 3× for relu and erf, and "
        "tanh (which neural-tangents lacks) no slower than relu.  neural-tangents evaluates the "
        "arc-cosine kernel at a rounded correlation 1 − O(1e-16) on the diagonal, which moves its relu NTK "
        "diagonal by ~1e-8; ours uses the 1-D integral there (c = 1 exactly).  Smooth activations without "
        "a closed form: Mehler series fused over the layers (see `nn_spectra/kernels.py`); their accuracy "
        "column is the largest error of NNGP and NTK on 21 entries (20 random pairs and one diagonal) "
        "against the recursion written out with the nested piecewise quadrature, relative to "
        "√(K_ii K_jj) (resp. √(Θ_ii Θ_jj)).",
        "",
        "| activation | nn_spectra CPU (wall) | CPU / relu's | finite | accuracy vs quadrature recursion "
        "| same call at an earlier commit | neural-tangents (float64, jit) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {a} | {c:.3f} s ({w:.3f} s) | {r:.2f} | {f} | {acc} | {b} | {nt} |"
              for a, c, w, r, f, acc, b, nt in rows_b]
    r_tanh = next(r for a, c, w, r, *_ in rows_b if a == "tanh")
    r_erf = next(r for a, c, w, r, *_ in rows_b if a == "erf")
    lines += ["", f"tanh / relu CPU time in this run: {r_tanh:.2f} (goal ≤ 1: "
              f"{'met' if r_tanh <= 1.0 else 'not met'}); for scale, erf, whose closed form costs less than "
              f"relu's, measured {r_erf:.2f} in the same run."]
    lines += [
        "",
        f"## C. Closed form against the quadrature route, {args.n_quad} inputs, depth 10",
        "",
        "| activation | closed form | Mehler + quadrature | max rel. difference |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {tc:.3f} s | {tq:.2f} s | {e:.1e} |" for a, tc, tq, e in rows_c]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "benchmarks" / "kernels.md").write_text(text)


if __name__ == "__main__":
    main()
