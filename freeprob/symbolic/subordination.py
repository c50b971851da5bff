r"""Subordination equations of ⊞ and ⊠ written out as SymPy equations.

Additive (Biane; Belinschi–Bercovici), with :math:`G = G_{A\boxplus B}(z)`:

.. math:: G = G_A(\omega_1) = G_B(\omega_2),\qquad \omega_1 + \omega_2 = z + 1/G,

i.e. :math:`P_A(G, \omega_1) = 0`, :math:`P_B(G, \omega_2) = 0` on the branches :math:`G\sim1/\omega`.

Multiplicative, with :math:`\eta(z) = \psi(z)/(1+\psi(z)) = 1 - z/G(1/z)` and
:math:`\eta = \eta_{A\boxtimes B}(z)`:

.. math:: \eta = \eta_A(\omega_1) = \eta_B(\omega_2),\qquad \omega_1\omega_2 = z\,\eta,

and :math:`\eta_A(\omega) = \eta` is :math:`P_A(\omega/(1-\eta), 1/\omega) = 0` (numerator).
"""
from __future__ import annotations

import sympy as sp

from .algebraic import G, AlgebraicLaw, z

__all__ = ["SubordinationEquations", "subordination_equations", "omega1", "omega2", "eta"]

omega1, omega2 = sp.symbols("omega_1 omega_2")
#: η-transform value in the ⊠ equations.
eta = sp.Symbol("eta")


class SubordinationEquations(tuple):
    """A tuple of :class:`sympy.Eq` with printing helpers (``latex()``, ``pretty()``)."""

    kind: str = "boxplus"
    unknowns: tuple = ()

    def latex(self) -> str:
        """The system as a LaTeX ``cases`` block."""
        body = r" \\ ".join(sp.latex(e) for e in self)
        return r"\begin{cases} " + body + r" \end{cases}"

    def pretty(self) -> str:
        """The system as a block of SymPy pretty-printed lines."""
        return "\n\n".join(sp.pretty(e) for e in self)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def residuals(self, values: dict) -> list:
        """``|lhs - rhs|`` of each equation at numeric ``values`` (symbol -> complex)."""
        return [abs(complex(sp.N((e.lhs - e.rhs).subs(values)))) for e in self]


def subordination_equations(a: AlgebraicLaw, b: AlgebraicLaw, kind: str = "boxplus") -> SubordinationEquations:
    r"""The equations that :math:`\omega_1, \omega_2` and G (⊞) or η (⊠) satisfy.

    Parameters
    ----------
    a, b : AlgebraicLaw (or numeric algebraic laws)
    kind : {"boxplus", "boxtimes"}

    >>> from freeprob.symbolic import semicircle
    >>> eqs = subordination_equations(semicircle(), semicircle())
    >>> eqs[2]
    Eq(omega_1 + omega_2, z + 1/G)
    """
    from .builtins import algebraic

    a, b = algebraic(a), algebraic(b)
    if kind == "boxplus":
        eqs = (
            sp.Eq(a.polynomial.subs(z, omega1), 0),
            sp.Eq(b.polynomial.subs(z, omega2), 0),
            sp.Eq(omega1 + omega2, z + 1 / G),
        )
        unknowns = (G, omega1, omega2)
    elif kind == "boxtimes":
        def eta_eq(law, om):
            num = sp.numer(sp.together(law.polynomial.subs({G: om / (1 - eta), z: 1 / om}, simultaneous=True)))
            return sp.Eq(sp.collect(sp.expand(num), om), 0)

        eqs = (eta_eq(a, omega1), eta_eq(b, omega2), sp.Eq(omega1 * omega2, z * eta))
        unknowns = (eta, omega1, omega2)
    else:
        raise ValueError(f"kind must be 'boxplus' or 'boxtimes', got {kind!r}")
    out = SubordinationEquations(eqs)
    out.kind = kind
    out.unknowns = unknowns
    return out
