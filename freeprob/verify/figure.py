"""Figures for the report: drawn on ``matplotlib.figure.Figure`` directly, so no GUI backend and no
pyplot global state (cases may run in worker processes)."""
from __future__ import annotations

__all__ = ["new_figure", "hist_with_pdf"]


def new_figure(ncols: int = 1, width: float = 5.0, height: float = 3.4):
    """A figure with ``ncols`` axes side by side; returns ``(fig, axes)`` (axes a list)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover
        raise ImportError("freeprob verify needs matplotlib: pip install 'freeprob[verify]'") from exc
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def hist_with_pdf(ax, samples, law, sample_label: str, law_label: str, *, hi: float | None = None,
                  bins: int = 60, logy: bool = False) -> None:
    """Histogram of ``samples`` (density) with ``law.pdf`` over ``[law.support[0], hi]``.

    ``hi`` defaults to the larger of the law's top edge and the largest sample; samples above an
    explicit ``hi`` are left out of the histogram (heavy-tailed spectra are cut at a quantile)."""
    import numpy as np

    x = np.asarray(samples, dtype=float)
    lo = float(law.support[0])
    top = max(float(law.support[1]), float(x.max())) if hi is None else float(hi)
    lo = min(lo, float(x.min())) if np.isfinite(lo) else float(x.min())
    ax.hist(x[x <= top], bins=np.linspace(lo, top, bins + 1), density=True, alpha=0.5, label=sample_label)
    xs = np.linspace(lo, top, 400)[1:-1]
    ax.plot(xs, law.pdf(xs), "k-", label=law_label)
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize="x-small")
