r"""Empirical spectral laws: the uniform measure on a sample (e.g. the eigenvalues of a matrix).

.. math:: \mu_N = \frac1N\sum_{i=1}^N \delta_{\lambda_i},\qquad
          G_N(z) = \frac1N\sum_i \frac{1}{z-\lambda_i}.

An empirical law is a discrete law (its ``pdf`` is zero and its ``cdf`` is the step function), so
it plugs into every exact routine; :meth:`Empirical.smoothed_pdf` gives a density for figures by
Stieltjes inversion at a height η that shrinks with N.
"""
from __future__ import annotations

import numpy as np

from .law import as_real_array
from .laws import Atoms

__all__ = ["Empirical", "empirical"]


class Empirical(Atoms):
    """Uniform law on ``samples`` (repeated values become heavier atoms).

    >>> import freeprob as fp
    >>> e = fp.empirical([0.0, 1.0, 1.0, 3.0])
    >>> e.atoms
    (array([0., 1., 3.]), array([0.25, 0.5 , 0.25]))
    >>> float(e.cdf(1.0))
    0.75
    """

    name = "empirical"

    def __init__(self, samples):
        x = as_real_array("samples", samples).ravel()
        if x.size == 0:
            raise ValueError("samples must contain at least one value")
        if not np.all(np.isfinite(x)):
            raise ValueError("samples must be finite")
        object.__setattr__(self, "_n", int(x.size))
        super().__init__(x)

    @property
    def n(self) -> int:
        """Number of samples."""
        return self._n

    def smoothed_pdf(self, x, eta: float | None = None) -> np.ndarray:
        r"""Density estimate :math:`-\operatorname{Im} G_N(x + i\eta)/\pi`.

        The default :math:`\eta = 2\,\mathrm{sd}\,N^{-1/2}` balances the bias (of order η) against
        the fluctuation (of order :math:`1/\sqrt{N\eta}`) of the estimate.
        """
        xx = as_real_array("x", x)
        if eta is None:
            sd = float(np.sqrt(max(self.var, 0.0)))
            eta = 2.0 * max(sd, 1e-12) / np.sqrt(self._n)
        if not eta > 0:
            raise ValueError(f"eta must lie in (0, inf), got {eta!r}")
        g = self._cauchy(np.atleast_1d(xx) + 1j * eta)
        out = -g.imag / np.pi
        return float(out[0]) if xx.ndim == 0 else out

    def __repr__(self):
        return f"empirical(<{self._n} samples>)"


def empirical(samples) -> Empirical:
    """Empirical law of ``samples`` (any array; flattened)."""
    return Empirical(samples)
