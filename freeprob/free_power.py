r"""Free convolution powers :math:`\mu^{\boxplus t}`, t ≥ 1.

The law :math:`\mu^{\boxplus t}` has R-transform :math:`t R_\mu` (free cumulants :math:`t\kappa_n`);
it exists for every real t ≥ 1 (Nica–Speicher 1996) and is :math:`\mu\boxplus\cdots\boxplus\mu`
for integer t.

Subordination (Belinschi–Bercovici).  Let :math:`G = G_{\mu^{\boxplus t}}(z)` and :math:`F = 1/G`.
From :math:`z = tR_\mu(G) + F` and :math:`G_\mu(R_\mu(G) + F) = G` we get
:math:`G_{\mu^{\boxplus t}}(z) = G_\mu(\omega(z))` with :math:`\omega = R_\mu(G) + F = (z - F)/t + F`;
since :math:`F = F_\mu(\omega)`,

.. math:: \omega = \frac{z}{t} + \Bigl(1 - \frac1t\Bigr) F_\mu(\omega)
          \iff \omega = z + (t-1)\,h_\mu(\omega),\qquad h_\mu = F_\mu - \mathrm{id}.

As :math:`\operatorname{Im} h_\mu \ge 0`, the right side maps C⁺ into
:math:`\{\operatorname{Im} > \operatorname{Im} z\}`: ω is its Denjoy–Wolff point, solved by the
same guarded Newton iteration and continuation as :mod:`freeprob.convolution`.

Atoms: :math:`\mu^{\boxplus t}(\{ta\}) = \max(0,\ t\mu(\{a\}) - (t-1))`; the support lies in
:math:`[ta, tb]` when μ lives on [a, b] (μ^{⊞t} is t times the compression of a variable with law μ
by a free projection of trace 1/t).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from .combinatorics import free_cumulants_to_moments
from .convolution import POWER, SubordinatedLaw, _h_dh, kernel_of
from .law import Law, check_real

__all__ = ["FreePower", "free_power"]


class FreePower(SubordinatedLaw):
    r"""The free convolution power :math:`\mu^{\boxplus t}` (module docstring)."""

    name = "free_power"

    def __init__(self, mu: Law, t: float):
        if not isinstance(mu, Law):
            raise ValueError(f"mu must be a freeprob Law, got {type(mu).__name__}")
        t = check_real("t", t)
        if t < 1:
            raise ValueError(f"t must lie in [1, inf) (mu^{{boxplus t}} need not exist for t < 1), got {t!r}")
        self.mu, self.t = mu, t
        self._freeze()

    @cached_property
    def _kernel_args(self):
        s = kernel_of(self.mu)
        if s is None:
            return None
        return (POWER, s[0], s[1], s[0], s[1], self.t, (self.t - 1.0) * float(self.mu.mean))

    def _map(self, z, w1):
        h, dh = _h_dh(self.mu, w1)
        return z + (self.t - 1) * h, (self.t - 1) * dh, w1

    def _dT_dz(self, z, w1, w2):
        return np.ones_like(w1)

    def _start(self, z):
        # h_μ(w) → −mean at infinity
        return z - (self.t - 1) * self.mu.mean

    def _g_from_w(self, z, w1):
        return self.mu._cauchy(w1)

    def _dg_from_w(self, z, w1):
        return self.mu._cauchy(w1), np.zeros_like(w1), self.mu._cauchy_derivative(w1)

    def subordination(self, z):
        """``(omega, omega)``: the single subordination function, G(z) = G_μ(ω(z)), returned twice
        so that the result unpacks like that of :func:`~freeprob.boxplus`."""
        return super().subordination(z)

    @property
    def _hull(self):
        a, b = self.mu.support
        return (self.t * a, self.t * b)

    @cached_property
    def atoms(self):
        p, m = self.mu.atoms
        if not len(p):
            return np.empty(0), np.empty(0)
        mass = self.t * m - (self.t - 1)
        keep = mass > 1e-15
        return np.asarray(self.t * p[keep], dtype=float), np.asarray(mass[keep], dtype=float)

    def _moments(self, n):
        return free_cumulants_to_moments(self.t * self.mu.free_cumulants(n))

    def r_transform(self, w):
        return self.t * self.mu.r_transform(w)

    def __repr__(self):
        return f"free_power({self.mu!r}, {self.t:g})"


def free_power(mu: Law, t: float) -> Law:
    r"""The free convolution power :math:`\mu^{\boxplus t}` for real ``t`` ≥ 1.

    Free cumulants :math:`t\kappa_n(\mu)`; solved by the subordination
    :math:`G(z) = G_\mu(\omega)`, :math:`\omega = z + (t-1)h_\mu(\omega)` (see :mod:`freeprob.free_power`).

    Parameters
    ----------
    mu : Law
        Any law.
    t : float
        Power, ``t >= 1``; ``t == 1`` returns ``mu`` itself.

    >>> import freeprob as fp
    >>> rho = fp.free_power(fp.semicircle(var=1.0), 2.5)   # = semicircle(var=2.5)
    >>> abs(float(rho.pdf(0.3)) - float(fp.semicircle(var=2.5).pdf(0.3))) < 1e-9
    True
    """
    t = check_real("t", t)
    if t == 1 and isinstance(mu, Law):
        return mu
    return FreePower(mu, t)
