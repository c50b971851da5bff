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

This is the one-law case of the n-ary system of :mod:`freeprob.convolution` (multiplicity t), solved
by the same engine (:class:`freeprob.SolvedLaw`).

Atoms: :math:`\mu^{\boxplus t}(\{ta\}) = \max(0,\ t\mu(\{a\}) - (t-1))`; the support lies in
:math:`[ta, tb]` when μ lives on [a, b].
"""
from __future__ import annotations

from .convolution import FreeConvolution
from .law import Law, check_real

__all__ = ["FreePower", "free_power"]


class FreePower(FreeConvolution):
    r"""The free convolution power :math:`\mu^{\boxplus t}` (module docstring)."""

    def __init__(self, mu: Law, t: float):
        if not isinstance(mu, Law):
            raise ValueError(f"mu must be a freeprob Law, got {type(mu).__name__}")
        t = check_real("t", t)
        if t < 1:
            raise ValueError(f"t must lie in [1, inf) (mu^{{boxplus t}} need not exist for t < 1), got {t!r}")
        object.__setattr__(self, "t", t)
        super().__init__([mu], "plus", [t])
        object.__setattr__(self, "name", "free_power")

    def subordination(self, z):
        """``(omega, omega)``: the single subordination function, G(z) = G_μ(ω(z)), returned twice
        so that the result unpacks like that of :func:`~freeprob.boxplus`."""
        (w,) = super().subordination(z)
        return w, w

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
