"""Cold ``freeprob verify --quick`` and ``import freeprob``: medians of several fresh processes.

Issue 14's goals: a cold ``freeprob verify --quick`` under 3 minutes on 2 cores, ``import freeprob``
under 0.5 s.  Every measurement is a fresh ``python`` process (nothing cached in memory):

- ``import freeprob``: wall time inside the child around the import (interpreter start-up
  excluded), and the whole ``python -c "import freeprob"`` as seen from outside, ``--runs`` each,
  interleaved with ``import numpy`` as the floor any import of this toolkit pays.
- ``freeprob verify --quick --jobs 1``: *cold* runs start with an empty numba cache
  (``NUMBA_CACHE_DIR`` a new directory: every kernel compiles, as on a fresh install), *warm* runs
  reuse the cache of the cold run before them.  Wall time, the child's CPU time, and the load
  average at start and end (the machine is shared; ``nice`` shifts wall time, not CPU time).

    python benchmarks/bench_verify.py --runs 3              # three cold runs, 10-20 minutes
    python benchmarks/bench_verify.py --runs 5 --no-verify  # the import only

Results go to ``docs/benchmarks/verify.md``; then ``python benchmarks/assemble.py``.
"""
from __future__ import annotations

import argparse
import os
import re
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks" / "verify.md"
_SECONDS = re.compile(r"<= \S+\s+(\d+\.\d+) s")  # a case's line: "... distance <= tolerance   12.34 s"


def _median(v):
    v = sorted(x for x in v if x == x)
    if not v:
        return float("nan")
    m = len(v) // 2
    return v[m] if len(v) % 2 else 0.5 * (v[m - 1] + v[m])


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


IMPORTS = {
    "import freeprob": "import freeprob",
    "import numpy (the floor)": "import numpy",
    "import freeprob; first law: fp.semicircle(1.0).pdf(0.0)": "import freeprob as fp; fp.semicircle(1.0).pdf(0.0)",
    "import randmat": "import randmat",
    "import nn_spectra": "import nn_spectra",
}


def _import_once(code: str) -> tuple[float, float]:
    """(seconds inside the child around ``code``, seconds of the whole process)."""
    prog = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=_env(), cwd=ROOT)
    outside = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(f"{code} failed: {out.stderr.strip()[-400:]}")
    return float(out.stdout.strip().splitlines()[-1]), outside


def _verify_once(cache_dir: str) -> dict:
    rep = tempfile.mkdtemp(prefix="verify-bench-")
    load0 = os.getloadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "freeprob.cli", "verify", "--quick", "--jobs", "1", "--out", rep],
                          capture_output=True, text=True, env=_env(NUMBA_CACHE_DIR=cache_dir), cwd=ROOT)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(rep, ignore_errors=True)
    lines = proc.stdout.strip().splitlines()
    compiled = "compiling numba kernels" in proc.stderr
    return {"wall": wall, "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
            "load": (load0, os.getloadavg()[0]), "status": proc.returncode,
            "last": lines[-1] if lines else proc.stderr.strip()[-200:], "announced": compiled,
            "slowest": sorted((ln for ln in lines if _SECONDS.search(ln) and ln.startswith("[")),
                              key=lambda ln: -float(_SECONDS.search(ln).group(1)))[:4]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--import-runs", type=int, default=7)
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--warm", action="store_true", help="also a warm run after each cold one")
    args = ap.parse_args()
    start = datetime.now(timezone.utc)
    load_start = os.getloadavg()

    imports = {label: [] for label in IMPORTS}
    for _ in range(args.import_runs):  # interleaved, so a change of load hits every row alike
        for label, code in IMPORTS.items():
            imports[label].append(_import_once(code))

    runs = []
    if not args.no_verify:
        for _ in range(args.runs):
            cache = tempfile.mkdtemp(prefix="numba-cold-")
            try:
                runs.append(("cold", _verify_once(cache)))
                print(runs[-1], flush=True)
                if args.warm:
                    runs.append(("warm", _verify_once(cache)))
                    print(runs[-1], flush=True)
            finally:
                shutil.rmtree(cache, ignore_errors=True)

    end = datetime.now(timezone.utc)
    cmd = f"python benchmarks/bench_verify.py --runs {args.runs} --import-runs {args.import_runs}" + \
          (" --no-verify" if args.no_verify else "") + (" --warm" if args.warm else "")
    lines = [
        "# freeprob verify --quick, cold; import freeprob",
        "",
        f"Produced by `{cmd}` (niceness {os.nice(0)}) on {platform.machine()} with {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {start:%d %B %Y}, {start:%H:%M}–{end:%H:%M} UTC. The machine is "
        f"shared with other agents: load average {load_start[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
        "end (per run below). Every figure is a fresh Python process.",
        "",
        "## import freeprob (goal: < 0.5 s)",
        "",
        f"Medians of {args.import_runs} fresh processes each, interleaved:",
        "",
        "| what | inside the process (s) | whole `python -c` (s) |",
        "|---|---|---|",
    ]
    for label, v in imports.items():
        inside, outside = _median([a for a, _ in v]), _median([b for _, b in v])
        bold = "**" if label == "import freeprob" else ""
        lines.append(f"| `{label}` | {bold}{inside:.3f}{bold} | {outside:.3f} |")
    lines += [
        "",
        "`import freeprob` resolves its public names on first use (PEP 562): SymPy, scipy.stats and "
        "numba load only when a law, a polynomial or the symbolic layer needs them "
        "(`tests/freeprob/test_startup.py` checks that none of them is imported).",
    ]
    if runs:
        cold = [r for k, r in runs if k == "cold"]
        warm = [r for k, r in runs if k == "warm"]
        lines += [
            "",
            "## freeprob verify --quick --jobs 1 (goal: cold under 3 minutes on 2 cores)",
            "",
            "Command of each run: `NUMBA_CACHE_DIR=<dir> python -m freeprob.cli verify --quick --jobs 1 --out <tmp>` "
            "(the `freeprob verify` console script is the same entry). *cold*: `<dir>` new and empty, every "
            "numba kernel compiles; *warm*: the same `<dir>` again right after.",
            "",
            "| | median wall (s) | median CPU (s) | runs |",
            "|---|---|---|---|",
            f"| cold | **{_median([r['wall'] for r in cold]):.0f}** | {_median([r['cpu'] for r in cold]):.0f} | {len(cold)} |",
        ] + ([f"| warm | {_median([r['wall'] for r in warm]):.0f} | {_median([r['cpu'] for r in warm]):.0f} | {len(warm)} |"]
             if warm else []) + [
            "",
            "| run | wall (s) | CPU user+sys (s) | load average start → end | compile announced | result |",
            "|---|---|---|---|---|---|",
        ]
        for k, r in runs:
            lines.append(f"| {k} | {r['wall']:.0f} | {r['cpu']:.0f} | {r['load'][0]:.1f} → {r['load'][1]:.1f} | "
                         f"{'yes' if r['announced'] else 'no'} | `{r['last'][:60]}` |")
        lines += ["", "Slowest cases of the last cold run:", ""]
        lines += [f"- `{ln}`" for ln in cold[-1]["slowest"]]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
