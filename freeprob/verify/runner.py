"""Run verification cases: seeding, timing, failure capture, optional parallelism.

Each case gets its own generator from ``SeedSequence([seed, crc32(name)])``, so a case's numbers
depend on ``--seed`` and its name only, not on which other cases run or in which order.
"""
from __future__ import annotations

import math
import os
import sys
import time
import traceback
import zlib
from dataclasses import dataclass

import numpy as np

from ..progress import quiet_progress
from .case import Case, Result, all_cases, get_case

__all__ = ["Outcome", "RunSummary", "case_rng", "run_case", "run_cases", "outcome_line"]


@dataclass
class Outcome:
    """The record of one case in a report (everything the table and the section need)."""

    name: str
    title: str
    how: str
    metric: str
    topic: str
    size: int
    prediction: str
    measurement: str
    distance: float
    tolerance: float
    passed: bool
    seconds: float
    figure: str | None = None  # PNG file name relative to the report directory
    error: str | None = None


@dataclass
class RunSummary:
    """All outcomes of one run, with its settings."""

    outcomes: list
    mode: str
    seed: int
    seconds: float

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def n_failed(self) -> int:
        return sum(not o.passed for o in self.outcomes)

    def to_frame(self):
        """One row per case as a ``pandas.DataFrame`` (the fields of :class:`Outcome`: ``name``,
        ``distance``, ``tolerance``, ``passed``, ``seconds``, ...); ``mode`` and ``seed`` are in
        ``frame.attrs``.  Needs pandas (the ``frame`` extra)."""
        import dataclasses

        import pandas as pd

        cols = [f.name for f in dataclasses.fields(Outcome)]
        df = pd.DataFrame([dataclasses.asdict(o) for o in self.outcomes], columns=cols)
        df.attrs.update(mode=self.mode, seed=self.seed, seconds=self.seconds)
        return df


def case_rng(seed: int, name: str) -> np.random.Generator:
    """The generator a case receives: independent of the other cases run alongside."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]))


def _blas_limit(threads: int | None):
    """A context that caps the BLAS/OpenMP thread pools at ``threads`` (None or 0: leave them)."""
    import contextlib

    if not threads:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with the verify extra
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(threads))


def run_case(case: Case, mode: str = "quick", seed: int = 0, out: str | os.PathLike | None = None,
             blas_threads: int | None = 1) -> Outcome:
    """Run one case; an exception or a non-finite distance is a failure, never a crash.

    The figure (if any) is written to ``out/<name>.png`` when ``out`` is given.  ``blas_threads``
    caps the BLAS thread pool while the case runs (default 1; ``None`` or 0 leaves it alone): the
    cases' matrices are at most a few thousand wide, where a second BLAS thread gains little on an
    idle machine but, on a busy one, spinning threads made a 200 x 200 QR 100 times slower
    (docs/benchmarks/verify.md).
    """
    size = case.size(mode)
    tol = case.tolerance_at(size)
    t0 = time.perf_counter()
    error = None
    try:
        # no progress bars of the toolkit inside a case: the runner prints one line per finished case
        with _blas_limit(blas_threads), quiet_progress():
            res = case.run(size, case_rng(seed, case.name))
        if not isinstance(res, Result):
            raise TypeError(f"run must return a Result, got {type(res).__name__}")
        distance = float(res.distance)
    except Exception as exc:  # a broken case is reported, the others still run
        res = Result("-", "-", math.nan)
        distance = math.nan
        error = f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=4)
    seconds = time.perf_counter() - t0
    fig_name = None
    if res.figure is not None:
        if out is not None:
            fig_name = f"{case.name}.png"
            res.figure.savefig(os.path.join(out, fig_name), dpi=90, bbox_inches="tight")
        res.figure = None
    passed = error is None and math.isfinite(distance) and distance <= tol
    return Outcome(case.name, case.title, case.how, case.metric, case.topic, size, res.prediction,
                   res.measurement, distance, tol, passed, seconds, fig_name, error)


def outcome_line(o: Outcome) -> str:
    """One line per finished case: verdict, name, distance against tolerance, time."""
    flag = "pass" if o.passed else "FAIL"
    line = f"{flag:4s} {o.name:32s} {o.distance:10.3g} <= {o.tolerance:<10.3g} {o.seconds:7.2f} s"
    if o.error:
        line += "  " + o.error.splitlines()[0][:120]
    return line


def _printer(stream):
    def show(o: Outcome, done: int, total: int) -> None:
        print(f"[{done:{len(str(total))}d}/{total}] {outcome_line(o)}", file=stream, flush=True)
    return show


def run_cases(names=None, mode: str = "quick", seed: int = 0, out=None, jobs: int = 1,
              progress: bool = True, on_outcome=None, blas_threads: int | None = 1) -> RunSummary:
    """Run the named cases (all registered ones when ``names`` is None).

    Parameters
    ----------
    names : iterable of str or Case, optional
    mode : {"quick", "full"}
    seed : int
        Master seed (>= 0).
    out : path, optional
        Directory that receives the PNG figures.
    jobs : int
        Worker processes (joblib); 1 runs in this process.
    progress : bool
        Print one line per case on standard output as soon as it finishes (in the order they
        finish when ``jobs > 1``).
    on_outcome : callable, optional
        ``on_outcome(outcome, done, total)``, called as each case finishes (instead of the printing).
    blas_threads : int or None
        BLAS threads per case (:func:`run_case`); default 1.

    Returns
    -------
    RunSummary
        The outcomes in the order of ``names`` (registry order by default).
    """
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    if names is None:
        cases = all_cases()
    else:
        cases = [n if isinstance(n, Case) else get_case(n) for n in names]
    if on_outcome is None and progress:
        on_outcome = _printer(sys.stdout)

    t0 = time.perf_counter()
    outcomes: list[Outcome] = []

    def finished(o: Outcome) -> None:
        outcomes.append(o)
        if on_outcome is not None:
            on_outcome(o, len(outcomes), len(cases))

    if jobs == 1 or len(cases) <= 1:
        for case in cases:
            finished(run_case(case, mode, seed, out, blas_threads))
    else:
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=jobs, return_as="generator_unordered")
        for o in par(delayed(run_case)(c, mode, seed, out, blas_threads) for c in cases):
            finished(o)
        order = {c.name: i for i, c in enumerate(cases)}
        outcomes.sort(key=lambda o: order[o.name])
    return RunSummary(outcomes, mode, int(seed), time.perf_counter() - t0)
