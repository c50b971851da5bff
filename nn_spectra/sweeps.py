r"""Width × depth × seed sweeps of network measurements, serial or on a Dask cluster, as a pandas table.

Every cell ``(width, depth)`` runs ``seeds`` independent trials through :func:`randmat.ensemble`; the
trial generators are the children of ``SeedSequence(rng, spawn_key=(width, depth))``, so a cell draws
the same random numbers whatever the backend, the number of workers, the order of the cells or the
other cells of the grid: a Dask run reproduces the serial run number for number.

**Running on a cluster.** Local (what the tests do)::

    from dask.distributed import LocalCluster, Client
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        table = sweep(measure, widths=[250, 500, 1000], depths=[10], seeds=4, client=client)

An existing cluster: start ``dask scheduler`` on one machine and ``dask worker tcp://host:8786`` on the
others (with this package installed), then pass the address::

    table = sweep(measure, widths, depths, seeds=8, scheduler="tcp://host:8786")

Without ``client``/``scheduler`` the sweep runs serially in the calling process.
"""
from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = ["sweep", "JacobianLawDistance", "plot_distance_vs_width", "fit_rate"]


def _check_sizes(name, values) -> list[int]:
    vals = list(values) if not isinstance(values, (int, np.integer)) else [values]
    if not vals or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in vals):
        raise ValueError(f"{name} must be a non-empty list of integers >= 1, got {values!r}")
    return [int(v) for v in vals]


def _trial(measure, width, depth, rng):
    out = measure(width, depth, rng)
    if not isinstance(out, dict):
        raise ValueError(f"measure must return a dict of numbers, got {type(out).__name__}")
    return out


def sweep(measure: Callable[[int, int, np.random.Generator], dict], widths: Sequence[int], depths: Sequence[int],
          seeds: int = 3, rng: int = 0, client=None, scheduler: str | None = None, progress: bool = True):
    r"""Run ``measure(width, depth, rng) -> dict`` over a grid and return a :class:`pandas.DataFrame`.

    Parameters
    ----------
    measure : callable
        Draws all its randomness from ``rng``; returns a dict of numbers (one table row). It is pickled
        for the cluster (closures work; :class:`JacobianLawDistance` is a ready-made one).
    widths, depths : sequence of int
    seeds : int
        Trials per cell, ``>= 1``.
    rng : int
        Root seed (non-negative).
    client : dask.distributed.Client, optional
        Run the trials on this cluster.
    scheduler : str, optional
        Address of an existing scheduler, e.g. ``"tcp://10.0.0.5:8786"``; a client is opened and closed.
    progress : bool
        A progress bar per grid cell on stderr, on by default like every long Monte-Carlo call
        (:mod:`freeprob.progress`: off inside ``freeprob verify`` and with ``FREEPROB_PROGRESS=0``).

    Returns
    -------
    pandas.DataFrame
        Columns ``width, depth, seed`` and the keys of ``measure``'s dicts, one row per trial.

    Examples
    --------
    >>> t = sweep(lambda n, L, g: {"x": float(g.standard_normal())}, [2, 4], [1], seeds=2, rng=1, progress=False)
    >>> list(t.columns), len(t)
    (['width', 'depth', 'seed', 'x'], 4)
    """
    import pandas as pd
    import randmat as rm

    if not callable(measure):
        raise ValueError(f"measure must be callable as measure(width, depth, rng), got {measure!r}")
    widths, depths = _check_sizes("widths", widths), _check_sizes("depths", depths)
    seeds = _check_sizes("seeds", seeds)[0]
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral) or rng < 0:
        raise ValueError(f"rng must be a non-negative integer root seed, got {rng!r}")
    if client is not None and scheduler is not None:
        raise ValueError("pass either client or scheduler, not both")

    def run_all():
        rows = []
        for w in widths:
            for d in depths:
                root = np.random.SeedSequence(int(rng), spawn_key=(w, d))
                res = rm.ensemble(functools.partial(_trial, measure, w, d), seeds, rng=root,
                                  n_jobs=1 if parallel is None else -1, progress=progress,
                                  desc=f"width {w}, depth {d}")
                rows += [{"width": w, "depth": d, "seed": k, **r} for k, r in enumerate(res)]
        return pd.DataFrame(rows)

    parallel = None
    if client is None and scheduler is None:
        return run_all()
    import joblib

    own = None
    if scheduler is not None:
        from dask.distributed import Client

        own = client = Client(scheduler)
    try:
        parallel = client
        with joblib.parallel_backend("dask", client=client):
            return run_all()
    finally:
        if own is not None:
            own.close()


# ----------------------------------------------------------------------------- a ready-made measure
@dataclass(frozen=True)
class JacobianLawDistance:
    r"""Distance between one real network's Jacobian spectrum (SLQ, matrix-free) and :func:`nn_spectra.jacobian_law`.

    Returns ``moment_error`` = :math:`\max_{p\le n}|\hat m_p/m_p - 1|`; for ``moments >= 2`` the
    ``shape_error`` :math:`\max_{2\le p\le n}|(\hat m_p/\hat m_1^p)/(m_p/m_1^p) - 1|`, which is free of the
    network's overall scale (that fluctuates by :math:`O(\sqrt{L/n})`, see
    :func:`nn_spectra.log_norm_leading_order`); ``ks`` and ``ks_resolution``
    (:meth:`SpectralDensityEstimate.ks_distance`, skipped with ``ks=False``); and ``m1..mn`` with their
    probe standard errors ``se1..sen``.  ``stream_weights=True`` regenerates the Gaussian layers instead of
    storing them (:class:`nn_spectra.StreamedGaussianJacobianGram`): width 10,000 at depth 50 in 0.1 GiB;
    ``store_layers=True`` keeps only the layers of :math:`J` (``weight_dtype`` float64 or float32,
    :class:`nn_spectra.StoredJacobianGram`), the route for orthogonal weights at width 10,000.
    """

    act: str
    sigma_w2: float
    sigma_b2: float
    weights: str = "gaussian"
    steps: int = 40
    probes: int = 10
    moments: int = 2
    ks: bool = True
    stream_weights: bool = False
    store_layers: bool = False
    weight_dtype: str = "float64"

    def __call__(self, width: int, depth: int, rng) -> dict:
        import nn_spectra as ns
        from .matrix_free import slq_jacobian_spectrum

        law = ns.jacobian_law(self.act, self.sigma_w2, self.sigma_b2, depth, weights=self.weights)
        est = slq_jacobian_spectrum(self.act, self.sigma_w2, self.sigma_b2, depth, width, self.weights,
                                    steps=min(self.steps, width), probes=self.probes, rng=rng,
                                    stream_weights=self.stream_weights, store_layers=self.store_layers,
                                    weight_dtype=self.weight_dtype)
        m, se = est.moments(self.moments)
        exact = np.asarray(law.moments(self.moments), dtype=float)
        row = {"moment_error": float(np.max(np.abs(m / exact - 1)))}
        if self.moments >= 2:
            p = np.arange(2, self.moments + 1)
            row["shape_error"] = float(np.max(np.abs((m[1:] / m[0] ** p) / (exact[1:] / exact[0] ** p) - 1)))
        if self.ks:
            c = est.ks_distance(law)
            row.update(ks=c.distance, ks_resolution=c.resolution)
        for p in range(self.moments):
            row[f"m{p + 1}"], row[f"se{p + 1}"] = float(m[p]), float(se[p])
        return row


def fit_rate(table, column: str = "moment_error") -> float:
    r"""Slope :math:`a` of :math:`\log(\text{RMS over seeds of column}) \approx c - a\log(\text{width})`."""
    g = table.groupby("width")[column].apply(lambda s: float(np.sqrt(np.mean(np.square(s)))))
    if len(g) < 2:
        raise ValueError("fit_rate needs at least two widths")
    slope = np.polyfit(np.log(g.index.to_numpy(float)), np.log(g.to_numpy(float)), 1)[0]
    return float(-slope)


def plot_distance_vs_width(table, column: str = "moment_error", ax=None):
    """Log-log plot of ``column`` (RMS over seeds, with the individual seeds) against width, one line per depth."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.5))
    else:
        fig = ax.figure
    for depth, sub in table.groupby("depth"):
        g = sub.groupby("width")[column]
        rms = g.apply(lambda s: float(np.sqrt(np.mean(np.square(s)))))
        ax.plot(sub["width"], sub[column], ".", alpha=0.4)
        line, = ax.plot(rms.index, rms.values, "o-", label=f"depth {depth}")
        if len(rms) >= 2:
            rate = fit_rate(sub, column)
            line.set_label(f"depth {depth}: rate {rate:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width")
    ax.set_ylabel(column.replace("_", " "))
    ax.legend(fontsize="small")
    return fig
