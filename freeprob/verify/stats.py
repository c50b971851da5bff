r"""Monte-Carlo tolerances of the verification cases: z-scores from standard errors.

A Monte-Carlo case measures a few quantities on independent replicates (networks, matrices, draws)
and compares each replicate mean :math:`\bar x` with its prediction :math:`p`:

.. math:: z = \operatorname{sign}(\bar x - p)\,\frac{\max(|\bar x - p| - b,\ 0)}{\mathrm{SE}},
          \qquad \mathrm{SE} = s/\sqrt{R},

with :math:`s` the sample standard deviation of the :math:`R` replicates.  :math:`b \ge 0` is the
allowance for a *known* finite-size bias of the limit theory (e.g. :math:`c\,L/N\,|p|` for an
:math:`O(1/N)` correction), stated with its rate in the case before it runs; with :math:`b = 0` this
is the plain z-score.  A case passes when :math:`\max|z|` is within the z bound it states (3 or 4),
i.e. :math:`|\bar x - p| \le z\,\mathrm{SE} + b`.  The prediction never sees a measured number.

Normalised traces of random matrices fluctuate by :math:`O(1/N)` while the limit law is off by
:math:`c/N`: their bias does not shrink against the standard error as N grows, and a guessed
constant c either hides real errors or fails correct laws.  :func:`z_test_extrapolated` measures at
N and N/2 and tests the Richardson extrapolation :math:`2\bar x_N - \bar x_{N/2}`, whose bias is
:math:`O(1/N^2)` when the bias is :math:`c/N + O(1/N^2)` (the rate stated in advance, c unknown).

>>> import numpy as np
>>> t = z_test(["m1"], np.array([[0.9], [1.1], [1.0], [1.2]]), [1.0])
>>> round(float(t.z[0]), 3), round(float(t.se[0]), 4)
(0.775, 0.0645)
>>> round(t.worst, 3)
0.775
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["mean_and_se", "z_scores", "z_test", "z_test_extrapolated", "ZTest"]


def mean_and_se(samples, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Replicate mean and its standard error ``std(ddof=1)/sqrt(R)`` along ``axis`` (R >= 2 replicates)."""
    x = np.asarray(samples, dtype=float)
    r = x.shape[axis]
    if r < 2:
        raise ValueError(f"samples needs at least 2 replicates along axis {axis} for a standard error, got {r}")
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / np.sqrt(r)


def z_scores(mean, se, prediction, bias=0.0) -> np.ndarray:
    r"""Signed z-scores :math:`\operatorname{sign}(\bar x-p)\max(|\bar x-p|-b, 0)/\mathrm{SE}` (module docstring).

    A zero standard error with a discrepancy beyond the bias gives ``inf`` (a failing case), never nan.
    """
    mean, se, pred, bias = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (mean, se, prediction, bias)))
    if np.any(bias < 0):
        raise ValueError("bias must be >= 0")
    d = mean - pred
    excess = np.maximum(np.abs(d) - bias, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(excess > 0, np.sign(d) * excess / se, 0.0)
    return np.where(np.isnan(mean) | np.isnan(se), np.inf, z)


@dataclass
class ZTest:
    """Replicate means of named quantities against their predictions, in standard errors."""

    names: list
    mean: np.ndarray
    se: np.ndarray
    prediction: np.ndarray
    bias: np.ndarray
    z: np.ndarray
    replicates: int

    @property
    def worst(self) -> float:
        """:math:`\\max|z|`, the distance a case reports."""
        return float(np.max(np.abs(self.z)))

    def rows(self, fmt: str = ".4g") -> str:
        """``name: mean ± SE vs prediction (z)`` for each quantity, for a report line."""
        out = []
        for n, m, s, p, b, z in zip(self.names, self.mean, self.se, self.prediction, self.bias, self.z):
            extra = f", bias allowance {b:{fmt}}" if b > 0 else ""
            out.append(f"{n}: {m:{fmt}} ± {s:.2g} vs {p:{fmt}} (z = {z:+.2f}{extra})")
        return "; ".join(out) + f" [{self.replicates} replicates]"

    def errorbar(self, ax, z_bound: float, label: str = "Monte Carlo") -> None:
        """Measured/predicted ratio with ``z_bound`` standard errors (and the bias) against 1."""
        x = np.arange(len(self.names))
        scale = np.where(self.prediction != 0, np.abs(self.prediction), 1.0)
        ax.errorbar(x, (self.mean - self.prediction) / scale, yerr=(z_bound * self.se + self.bias) / scale,
                    fmt="o", label=f"{label} ± ({z_bound:g} SE + bias)")
        ax.axhline(0.0, color="k", lw=0.8, label="prediction")
        ax.set_xticks(x, [str(n) for n in self.names], fontsize="x-small")
        ax.set_ylabel("(measured − predicted) / |predicted|")
        ax.legend(fontsize="x-small")


def z_test(names: Sequence[str], samples, prediction, bias=0.0) -> ZTest:
    """Z-test of the replicate means of ``samples`` (shape ``(R, k)``: R replicates of k quantities)
    against ``prediction`` (k values), with the finite-size ``bias`` allowance (scalar or k values)."""
    x = np.asarray(samples, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValueError(f"samples must have shape (replicates, {len(names)}), got {np.shape(samples)}")
    pred = np.broadcast_to(np.asarray(prediction, dtype=float), (x.shape[1],)).copy()
    b = np.broadcast_to(np.asarray(bias, dtype=float), (x.shape[1],)).copy()
    mean, se = mean_and_se(x)
    return ZTest(list(names), mean, se, pred, b, z_scores(mean, se, pred, b), x.shape[0])


def z_test_extrapolated(names: Sequence[str], fine, coarse, prediction, bias=0.0) -> ZTest:
    r"""Z-test of the Richardson extrapolation :math:`2\bar x_N - \bar x_{N/2}` against ``prediction``.

    ``fine`` holds replicates measured at size N, ``coarse`` independent replicates at N/2 (shapes
    ``(R, k)`` and ``(R', k)``); the standard error is :math:`\sqrt{4\,\mathrm{SE}_N^2 + \mathrm{SE}_{N/2}^2}`.
    Removes a bias :math:`c/N` whatever c; ``bias`` allows for what remains (:math:`O(1/N^2)`).

    >>> import numpy as np
    >>> fine = 1 + 0.1 / 100 + np.array([[0.001], [-0.001], [0.0]])    # bias 0.1/N at N = 100
    >>> coarse = 1 + 0.1 / 50 + np.array([[0.002], [-0.002], [0.0]])
    >>> t = z_test_extrapolated(["m"], fine, coarse, [1.0])
    >>> abs(float(t.mean[0]) - 1) < 1e-12, round(t.worst, 6)
    (True, 0.0)
    """
    f = z_test(names, fine, prediction)
    c = z_test(names, coarse, prediction)
    mean = 2.0 * f.mean - c.mean
    se = np.sqrt(4.0 * f.se ** 2 + c.se ** 2)
    b = np.broadcast_to(np.asarray(bias, dtype=float), mean.shape).copy()
    return ZTest(list(names), mean, se, f.prediction, b, z_scores(mean, se, f.prediction, b),
                 f.replicates + c.replicates)
