r"""Theory against simulation: a histogram of eigenvalues with a law's density and atoms overlaid.

Drawn on a :class:`matplotlib.figure.Figure` created without pyplot when no axes are given, so
it works in worker processes and headless runs. Atoms are drawn as stems of height
``mass / bin width``: a histogram spreads an atom of mass :math:`w` over one bin of width
:math:`h`, giving a bar of height :math:`w/h`, so stem and bar can be compared by eye.
"""
from __future__ import annotations

import numpy as np

from .spectra import _as_spectrum, ks_distance

__all__ = ["plot_spectrum"]


def plot_spectrum(eigs, law=None, ax=None, bins="auto", grid: int = 600, title: str | None = None,
                  xscale: str = "linear", yscale: str = "linear"):
    """Histogram of a spectrum with the density and atoms of ``law`` overlaid; KS distance in the legend.

    Parameters
    ----------
    eigs : array_like
        1-D eigenvalues, or a Hermitian matrix whose eigenvalues are used.
    law : freeprob.Law, optional
        The predicted law; its ``pdf`` is drawn on ``grid`` points over the hull of its support
        and the spectrum, its atoms as stems.
    ax : matplotlib Axes, optional
        Where to draw; a new pyplot-free figure otherwise (reach it as ``ax.figure``).
    bins : int, sequence or str
        Passed to ``numpy.histogram_bin_edges``.
    grid : int
        Number of density evaluation points.
    title : str, optional
        Axes title.
    xscale : {"linear", "log"}
        ``"log"`` for spectra spanning decades (Fisher information, products of Wisharts): the bins
        and the density grid are geometric and the axis logarithmic; only the positive eigenvalues
        are drawn (how many were left out is said in the legend), atoms at x <= 0 are not drawn.
    yscale : {"linear", "log"}
        Scale of the density axis.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import freeprob as fp, randmat as rm
    >>> ax = rm.plot_spectrum(rm.eigenvalues(rm.goe(200, rng=0)), fp.semicircle())
    >>> "KS" in ax.get_legend().get_texts()[-1].get_text()
    True
    >>> ax = rm.plot_spectrum(rm.eigenvalues(rm.wishart(200, 220, rng=0)), fp.marchenko_pastur(200 / 220),
    ...                       xscale="log")
    >>> ax.get_xscale()
    'log'
    """
    for name, val in (("xscale", xscale), ("yscale", yscale)):
        if val not in ("linear", "log"):
            raise ValueError(f"{name} must be 'linear' or 'log', got {val!r}")
    x = x_all = _as_spectrum("eigs", eigs)
    dropped = 0
    if xscale == "log":
        keep = x > 0
        dropped = int(x.size - keep.sum())
        x = x[keep]
        if x.size < 2:
            raise ValueError("xscale='log' needs at least two positive eigenvalues")
    if ax is None:
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover
            raise ImportError("plot_spectrum needs matplotlib: pip install 'freeprob[plot]'") from exc
        ax = Figure(figsize=(6, 3.6), layout="constrained").subplots()
    if xscale == "log":
        count = bins if isinstance(bins, (int, np.integer)) else max(10, np.histogram_bin_edges(np.log(x), bins=bins).size - 1)
        edges = np.geomspace(x[0], x[-1], int(count) + 1) if np.ndim(bins) == 0 else np.asarray(bins, float)
    else:
        edges = np.histogram_bin_edges(x, bins=bins)
    note = f", {dropped} at x <= 0 not shown" if dropped else ""
    ax.hist(x, bins=edges, density=True, alpha=0.45, color="C0", label=f"eigenvalues (n={x.size}{note})")
    if law is not None:
        a, b = (float(v) for v in law.support)
        lo = min(x[0], a) if np.isfinite(a) else x[0]
        hi = max(x[-1], b) if np.isfinite(b) else x[-1]
        if xscale == "log":
            lo = max(lo, x[0] / 2)
            xs = np.geomspace(lo / 1.03, hi * 1.03, grid)
        else:
            pad = 0.03 * max(hi - lo, 1e-12)
            xs = np.linspace(lo - pad, hi + pad, grid)
        ks = ks_distance(x_all, law)  # of the whole spectrum, also on a log axis
        ax.plot(xs, law.pdf(xs), "k-", lw=1.5, label=f"{law!r} density")
        pts, mass = law.atoms
        if xscale == "log":
            pts, mass = np.asarray(pts)[np.asarray(pts) > 0], np.asarray(mass)[np.asarray(pts) > 0]
        if len(pts):
            width = float(np.median(np.diff(edges))) if edges.size > 1 else 1.0
            ax.vlines(pts, 0, np.asarray(mass) / width, colors="C3", lw=2)
            ax.plot(pts, np.asarray(mass) / width, "o", color="C3", label="atoms (mass / bin width)")
        # an invisible handle carries the distance into the legend
        ax.plot([], [], " ", label=f"KS distance = {ks:.3g}")
    ax.set_xscale(xscale)
    ax.set_yscale(yscale)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax
