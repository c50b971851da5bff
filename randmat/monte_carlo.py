r"""A reproducible Monte-Carlo runner on top of joblib.

``ensemble(sample_fn, trials)`` calls ``sample_fn(rng_k)`` for ``k = 0..trials-1``, where
``rng_k = numpy.random.default_rng(s_k)`` and :math:`s_0, s_1, \dots` are the children
``SeedSequence(root).spawn(trials)`` of one root seed. Child seed sequences are statistically
independent streams, and trial ``k`` sees the same stream whatever the number of workers, the
backend or the order in which trials finish; so serial, multi-process and Dask runs draw identical
random numbers and, unless a trial's floating-point result depends on the BLAS thread count of
the worker (large matrix products can round differently), return identical results.

The work is dispatched by :class:`joblib.Parallel` without naming a backend, so the active
``joblib.parallel_backend`` context (``"loky"``, ``"threading"``, ``"dask"`` with a
``dask.distributed.Client``, ...) decides where trials run.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from ._validation import check_dimension

__all__ = ["ensemble", "spawn_seeds"]


def spawn_seeds(rng, count: int) -> list[np.random.SeedSequence]:
    """``count`` independent child seed sequences of the root given by ``rng``.

    ``rng`` may be ``None`` (fresh OS entropy), a non-negative int, a ``SeedSequence`` (its
    children are spawned, so repeated calls give new streams) or a ``Generator`` (128 bits are
    drawn from it to seed the root, so the result depends on, and advances, its state).
    """
    count = check_dimension("count", count)
    if isinstance(rng, np.random.SeedSequence):
        root = rng
    elif isinstance(rng, np.random.Generator):
        root = np.random.SeedSequence(rng.integers(0, 2**32, size=4, dtype=np.uint64).tolist())
    elif rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0):
        root = np.random.SeedSequence(None if rng is None else int(rng))
    else:
        raise ValueError(f"rng must be None, a non-negative int seed, a SeedSequence or a numpy Generator, got {rng!r}")
    return root.spawn(count)


def _run_trial(sample_fn: Callable[[np.random.Generator], Any], seed: np.random.SeedSequence):
    return sample_fn(np.random.default_rng(seed))


def ensemble(
    sample_fn: Callable[[np.random.Generator], Any],
    trials: int,
    n_jobs: int | None = None,
    progress: bool = True,
    rng=None,
    desc: str | None = None,
) -> list:
    r"""Run ``trials`` independent Monte-Carlo trials ``sample_fn(rng_k)`` through joblib.

    Parameters
    ----------
    sample_fn : callable
        ``sample_fn(rng) -> result`` with ``rng`` a :class:`numpy.random.Generator`; must draw all
        its randomness from ``rng``. It is pickled (cloudpickle) for process and Dask backends, so
        lambdas and closures work.
    trials : int
        Number of trials, ``>= 1``.
    n_jobs : int or None
        Workers, as in :class:`joblib.Parallel`; ``None`` defers to the active
        ``joblib.parallel_backend`` context (one worker outside any context).
    progress : bool
        Show a tqdm progress bar (on stderr) advancing as trials complete (off inside
        ``freeprob verify`` and when ``FREEPROB_PROGRESS=0``: :mod:`freeprob.progress`).
    rng : None, int, SeedSequence or numpy.random.Generator
        Root of the per-trial seeds (see :func:`spawn_seeds`).
    desc : str, optional
        Label of the progress bar.

    Returns
    -------
    list
        The ``trials`` results, in trial order (independent of scheduling).

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> r1 = rm.ensemble(lambda g: g.standard_normal(), 4, rng=7, progress=False)
    >>> r2 = rm.ensemble(lambda g: g.standard_normal(), 4, rng=7, progress=False, n_jobs=2)
    >>> r1 == r2
    True
    """
    from joblib import Parallel, delayed

    from freeprob.progress import progress_bar

    if not callable(sample_fn):
        raise ValueError(f"sample_fn must be callable as sample_fn(rng), got {sample_fn!r}")
    trials = check_dimension("trials", trials)
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0):
        raise ValueError(f"n_jobs must be None or a nonzero integer (negative counts from the core count), got {n_jobs!r}")
    seeds = spawn_seeds(rng, trials)
    # results come back in submission order, so trial k's output is at index k however the
    # backend schedules the work
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    results = parallel(delayed(_run_trial)(sample_fn, s) for s in seeds)
    out = []
    with progress_bar(total=trials, desc=desc or "trials", progress=progress) as bar:
        for r in results:
            out.append(r)
            bar.update(1)
    return out
