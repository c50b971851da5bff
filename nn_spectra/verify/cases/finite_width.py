r"""Finite width: Hanin–Nica's law of :math:`\log\|Ju\|^2` against real deep relu networks with depth = 4 × width."""
from __future__ import annotations

import math

import numpy as np

from nn_spectra.finite_width import log_norm_moments, sample_log_jacobian_norm

from freeprob.verify import Case, Result, register, z_scores, z_test
from freeprob.verify.figure import new_figure

CASE_NAMES: list[str] = []

_WIDTH, _DEPTH = 16, 64


def _run_log_norm(size: int, rng: np.random.Generator) -> Result:
    widths = [_WIDTH] * (_DEPTH + 1)
    pred = log_norm_moments(widths, "relu")
    s = sample_log_jacobian_norm(widths, size, rng=rng)
    s = s[np.isfinite(s)]  # a layer with no active unit (probability 1 - pred.probability) kills the signal
    n = s.size
    z_mean = float(z_test(["mean"], s, pred.mean).z[0])
    # the sample variance's standard error from the spread of the squared deviations
    z_var = float(z_scores(s.var(ddof=1), math.sqrt(np.var((s - s.mean()) ** 2) / n), pred.var))
    fig, (ax,) = new_figure()
    ax.hist(s, bins=40, density=True, alpha=0.5, label=f"{n} relu networks, width {_WIDTH}, depth {_DEPTH}")
    x = np.linspace(s.min(), s.max(), 300)
    sd = math.sqrt(pred.var)
    ax.plot(x, np.exp(-0.5 * ((x - pred.mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi)), "k-",
            label="log-normal, exact finite-width moments")
    sdl = math.sqrt(pred.var_leading)
    ax.plot(x, np.exp(-0.5 * ((x - pred.mean_leading) / sdl) ** 2) / (sdl * math.sqrt(2 * math.pi)), "k--",
            label="Hanin–Nica leading order (β = 5L/n)")
    ax.axvline(0.0, color="grey", lw=2, label="infinite width: log m₁ = 0")
    ax.set_xlabel("log ‖J u‖²")
    ax.legend(fontsize="x-small")
    return Result(prediction=f"mean {pred.mean:.3f}, var {pred.var:.3f} (leading order {pred.mean_leading:.3f}, "
                             f"{pred.var_leading:.3f})",
                  measurement=f"mean {s.mean():.3f}, var {s.var(ddof=1):.3f} over {n} networks",
                  distance=float(max(abs(z_mean), abs(z_var))), figure=fig)


register(Case(
    name="hanin_nica_log_norm",
    title="log‖Ju‖² of deep relu networks (depth = 4 × width) has the exact finite-width mean and variance "
          "(Hanin–Nica χ²_Binomial representation), far from the infinite-width value",
    how="Jacobian-vector products of real zero-bias Gaussian MLPs (numpy), one network per sample",
    metric="max |z| of the sample mean and variance (standard errors)",
    tolerance=4.0,
    run=_run_log_norm, quick_size=300, full_size=3000, topic="deep networks"))
CASE_NAMES.append("hanin_nica_log_norm")
