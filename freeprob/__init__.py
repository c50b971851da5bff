"""freeprob: free probability, numerically and symbolically.

Laws (immutable, scipy.stats-like), their Cauchy/R/S transforms, free additive and
multiplicative convolutions by subordination, spectra of polynomials in free variables and a
symbolic layer (:mod:`freeprob.symbolic`).
"""
from .law import Law
from .laws import Atoms, Semicircle, atoms, semicircle

__version__ = "0.1.0"
