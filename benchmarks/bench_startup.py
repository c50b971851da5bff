"""Start-up costs: ``import freeprob``, the first law, a cold CLI call and a cold ``freeprob verify --quick``.

Every measurement runs in a fresh Python process (``subprocess``), so nothing is cached in memory;
"cold" means numba's on-disk cache is empty (``NUMBA_CACHE_DIR`` points to a new temporary
directory), "warm" that it was filled by the previous cold run. The baseline of the import is the
eager import of the same modules that ``freeprob/__init__.py`` imported before it became lazy
(measured in the same run, interleaved).

    python benchmarks/bench_startup.py --runs 5            # imports and the CLI (a few minutes)
    python benchmarks/bench_startup.py --runs 5 --verify   # plus one cold verify --quick --jobs 2

Results go to ``docs/benchmarks/startup.md``; then run ``python benchmarks/assemble.py``.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks" / "startup.md"

# the modules the eager freeprob/__init__.py imported (git history, before the lazy exports)
EAGER = ("import freeprob.law, freeprob.laws, freeprob.normal, freeprob.fuss_catalan, freeprob.empirical, "
         "freeprob.pushforward, freeprob.convolution, freeprob.free_power, freeprob.polynomial")

SNIPPETS = {
    "import freeprob (lazy, this version)": "import freeprob",
    "eager import of the same modules (baseline)": EAGER,
    "import freeprob; fp.semicircle(1).pdf(0)": "import freeprob as fp; fp.semicircle(1.0).pdf(0.0)",
    "import freeprob.symbolic": "import freeprob.symbolic",
    "import randmat": "import randmat",
    "import nn_spectra": "import nn_spectra",
}


def _timed(code: str, env=None) -> float:
    """Wall seconds of ``python -c`` measured inside the child (interpreter start-up excluded)."""
    prog = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:  # a package mid-edit in a shared tree: record the failure, keep measuring
        print(f"failed: {code}: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return float("nan")
    return float(out.stdout.strip().splitlines()[-1])


def _cli(argv, env) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "freeprob.cli", *argv], capture_output=True, text=True, env=env,
                         cwd=ROOT)
    return time.perf_counter() - t, out.stderr


def _median(v):
    v = sorted(x for x in v if x == x) or [float("nan")]
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--verify", action="store_true", help="also time one cold `freeprob verify --quick --jobs 2`")
    args = ap.parse_args()
    t_all = time.perf_counter()

    times = {k: [] for k in SNIPPETS}
    for _ in range(args.runs):  # interleaved, so load changes hit every row alike
        for label, code in SNIPPETS.items():
            times[label].append(_timed(code))

    cli_rows = []
    cli = ["density", "boxplus(semicircle(var=1), marchenko_pastur(ratio=0.5))"]
    poly = ["density", "poly(x*y + y*x, x=semicircle(), y=semicircle())", "--grid", "-3:3:41"]
    for label, argv in (("freeprob density (free convolution)", cli), ("freeprob density poly(x*y + y*x)", poly)):
        cache = tempfile.mkdtemp(prefix="numba-cold-")
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold, err = _cli(argv, env)
        warm = _median([_cli(argv, env)[0] for _ in range(max(1, args.runs // 2))])
        announced = "compiling numba kernels" in err
        cli_rows.append((label, cold, warm, announced))
        shutil.rmtree(cache, ignore_errors=True)

    verify_row = None
    if args.verify:
        cache = tempfile.mkdtemp(prefix="numba-cold-")
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        rep = tempfile.mkdtemp(prefix="verify-")
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "freeprob.cli", "verify", "--quick", "--jobs", "2", "--out", rep],
                              capture_output=True, text=True, env=env, cwd=ROOT)
        verify_row = (time.perf_counter() - t, proc.returncode, proc.stdout.strip().splitlines()[-1])
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(rep, ignore_errors=True)

    load = os.getloadavg()[0]
    lazy = _median(times["import freeprob (lazy, this version)"])
    eager = _median(times["eager import of the same modules (baseline)"])
    lines = [
        "# Start-up",
        "",
        f"Produced by `python benchmarks/bench_startup.py --runs {args.runs}{' --verify' if args.verify else ''}` "
        f"on {platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}; load average "
        f"at the end {load:.1f} (the machine is shared: wall times are noisy, the ratios of interleaved runs "
        f"less so). Total time {time.perf_counter() - t_all:.0f} s.",
        "",
        f"- `import freeprob` takes {lazy * 1e3:.0f} ms (median), against {eager:.2f} s for the eager import of "
        f"the same modules: the public names are resolved on first use (PEP 562), so SymPy, scipy.stats and "
        f"numba load only when a law, a polynomial or the symbolic layer needs them. Goal: < 0.5 s.",
        "- numba kernels are compiled on first call and cached on disk; the first compile of a run is announced "
        "on the terminal (`freeprob: compiling numba kernels on first use ...`).",
        "",
        f"### Imports, fresh process each ({args.runs} runs, interleaved; interpreter start-up excluded)",
        "",
        "| what | median (s) | min (s) | max (s) |",
        "|---|---|---|---|",
    ]
    for label, v in times.items():
        ok = [x for x in v if x == x] or [float("nan")]
        lines.append(f"| {label} | {_median(v):.3f} | {min(ok):.3f} | {max(ok):.3f} |")
    lines += ["", "### Command line, cold (empty numba cache) and warm", "",
              "| command | cold (s) | warm, median (s) | compile announced |", "|---|---|---|---|"]
    for label, cold, warm, ann in cli_rows:
        lines.append(f"| {label} | {cold:.1f} | {warm:.1f} | {'yes' if ann else 'no'} |")
    if verify_row:
        secs, code, last = verify_row
        lines += ["", "### `freeprob verify --quick --jobs 2`, cold", "",
                  f"{secs:.0f} s ({secs / 60:.1f} min) wall, exit status {code}; last line: `{last}`. "
                  "Goal: under 3 minutes on 2 cores."]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
