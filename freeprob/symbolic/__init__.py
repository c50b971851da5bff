"""freeprob.symbolic: exact free probability with SymPy (the polynomial method).

An :class:`AlgebraicLaw` is a law whose Cauchy transform solves ``P(G, z) = 0`` (branch
``G ~ 1/z``).  Twins of the built-in laws, exact moments and transforms, ⊞ and ⊠ by resultants,
subordination equations, densities and the bridge to the numeric layer.
"""
from .algebraic import AlgebraicLaw, G, R, S, w, z
from .builtins import (
    algebraic,
    arcsine,
    atoms,
    bernoulli,
    free_poisson,
    fuss_catalan,
    kesten_mckay,
    marchenko_pastur,
    semicircle,
)
from .density import Density, density, support_edges
from .numeric import NumericAlgebraicLaw
from .resultants import boxplus, boxtimes, compression, free_power, inverse, scale, shift, wishart
from .subordination import SubordinationEquations, subordination_equations

__all__ = [
    "AlgebraicLaw", "G", "z", "R", "w", "S",
    "algebraic", "semicircle", "free_poisson", "marchenko_pastur", "arcsine", "atoms", "bernoulli",
    "kesten_mckay", "fuss_catalan",
    "boxplus", "boxtimes", "scale", "shift", "inverse", "compression", "free_power", "wishart",
    "subordination_equations", "SubordinationEquations", "density", "Density", "support_edges",
    "NumericAlgebraicLaw",
]
