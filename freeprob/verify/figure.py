"""Figures for the report: drawn on ``matplotlib.figure.Figure`` directly, so no GUI backend and no
pyplot global state (cases may run in worker processes)."""
from __future__ import annotations

__all__ = ["new_figure"]


def new_figure(ncols: int = 1, width: float = 5.0, height: float = 3.4):
    """A figure with ``ncols`` axes side by side; returns ``(fig, axes)`` (axes a list)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover
        raise ImportError("freeprob verify needs matplotlib: pip install 'freeprob[verify]'") from exc
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)
